//! `stepca`: the command-line tool for provisioning lines, on the stepca crate.
//!
//! Exit codes: [`EXIT_STATUS`], the one list (the man page prints it; a test holds the
//! README's list to it). `needs-renewal` has step's codes instead.
//!
//! The commands take step's forms and flag names (`stepca certificate SUBJECT CRT KEY`,
//! `stepca renew CRT KEY`, `stepca revoke SERIAL`, `stepca bootstrap`), and find the CA as
//! step does (see [`config`]): flags, environment, then `$STEPPATH/config/defaults.json`.
//!
//! `renew --daemon` keeps renewing until SIGTERM or SIGINT (exit 0); see [`renew`].
//!
//! Tokens come as given (`--token`, `--token-file`) or are minted in process by a JWK
//! provisioner (`--provisioner`, `--provisioner-password-file`) or an X5C one with the
//! device's birth certificate (`--provisioner`, `--x5c-cert`, `--x5c-key`, `--x5c-chain`:
//! step's flags). `--password-file` is the key's passphrase, as in step. Every key argument
//! takes a key file or a PKCS#11 URI (see [`keys`]).

mod batch;
mod config;
mod docs;
mod hooks;
mod inspect;
mod keys;
mod needs_renewal;
mod renew;
mod times;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Parser, Subcommand};
use hooks::HookArgs;
use keys::{Key, at, read_password};
use serde_json::json;
use stepca::{
    CertificateChain, Client, CsrRequest, ErrorKind, KeyType, PrivateKey, RevokeOptions, San,
    SanKind, SignOptions, Token, TokenSource, X5cProvisioner,
};
use times::TimeOrDuration;

#[derive(Parser)]
#[command(
    name = "stepca",
    version,
    about = "Enroll, renew and revoke X.509 certificates at a step-ca",
    long_about = "Enroll, renew and revoke X.509 certificates at a step-ca, with step's \
                  command forms and flag names (stepca certificate SUBJECT CRT KEY, stepca \
                  renew CRT KEY, stepca revoke SERIAL, stepca bootstrap).\n\n\
                  The CA's URL and root come from the flags, else STEPCA_URL, STEPCA_ROOT, \
                  STEPCA_FINGERPRINT, else step's STEP_CA_URL, STEP_ROOT, STEP_FINGERPRINT, \
                  else $STEPPATH/config/defaults.json (written by `stepca bootstrap` or `step \
                  ca bootstrap`; $STEPPATH is ~/.step by default), in that order."
)]
struct Cli {
    /// The CA's URL, e.g. https://ca.example:9000 [env: STEPCA_URL, STEP_CA_URL; default:
    /// "ca-url" of $STEPPATH/config/defaults.json].
    #[arg(long, global = true, value_name = "URI")]
    ca_url: Option<String>,
    /// Trust only the roots in this PEM file [env: STEPCA_ROOT, STEP_ROOT; default: "root" of
    /// $STEPPATH/config/defaults.json].
    #[arg(long, global = true, value_name = "FILE")]
    root: Option<PathBuf>,
    /// Trust the CA's root with this SHA-256 fingerprint, fetched from the CA and checked
    /// [env: STEPCA_FINGERPRINT, STEP_FINGERPRINT; default: "fingerprint" of
    /// $STEPPATH/config/defaults.json]. Given as --root is (both flags, or both from the same
    /// place), the root file is used and must hold it; otherwise the more explicit one wins.
    #[arg(long, global = true, value_name = "SHA256")]
    fingerprint: Option<String>,
    /// Print results (and errors, with their exit code) as JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// The long help of a key argument (`--key`, `--x5c-key`): `$what`, then what it takes.
macro_rules! key_help {
    ($what:literal) => {
        concat!(
            $what,
            ": a key file (PEM or DER; PKCS#8, SEC1 or PKCS#1; an encrypted one is opened \
             with the passphrase of a password file, or one typed at a prompt on a terminal), \
             or a PKCS#11 \
             URI for a key that stays in its token, as step's --kms takes it: \
             'pkcs11:token=<token label>;object=<key label>?module-path=<module .so>&\
             pin-source=file:<PIN file>' (or pin-value=<PIN>; id=<hex> instead of object=)"
        )
    };
}

/// The ids of the token arguments, which revoking with the certificate itself refuses.
const TOKEN_ARGS: [&str; 7] = [
    "token",
    "token_file",
    "provisioner",
    "provisioner_password_file",
    "x5c_cert",
    "x5c_key",
    "x5c_chain",
];

/// Where tokens come from: one given (--token, --token-file), or minted in process by a
/// JWK provisioner (--provisioner, --provisioner-password-file) or an X5C provisioner with
/// the device's birth certificate (--provisioner, --x5c-cert, --x5c-key, --x5c-chain).
#[derive(clap::Args, Clone, Default)]
struct TokenArgs {
    /// The one-time token that authorises the request (from `step ca token`, or your own
    /// token service).
    #[arg(long, conflicts_with_all = &TOKEN_ARGS[1..])]
    token: Option<String>,
    /// A file holding the one-time token.
    #[arg(long, value_name = "FILE", conflicts_with_all = &TOKEN_ARGS[2..])]
    token_file: Option<PathBuf>,
    /// Mint tokens in process with this provisioner: a JWK provisioner (its password from
    /// --provisioner-password-file, or a prompt on a terminal), or an X5C provisioner (with
    /// --x5c-cert and --x5c-key).
    #[arg(long, visible_alias = "issuer", value_name = "NAME")]
    provisioner: Option<String>,
    /// The file holding the JWK provisioner's password (the password that decrypts its
    /// token-signing key), or with --x5c-key the passphrase of an encrypted key file, as in
    /// step.
    #[arg(long, value_name = "FILE", requires = "provisioner")]
    provisioner_password_file: Option<PathBuf>,
    /// The file holding the key's passphrase (step's meaning; before, stepca took the
    /// provisioner's password here): it decrypts an encrypted --key and encrypts the key
    /// generated into KEY (--key-out), which is otherwise written unencrypted, as `step ca
    /// certificate` writes it. As step does, it stands in for a missing
    /// --provisioner-password-file (the JWK provisioner's password, or an encrypted
    /// --x5c-key's passphrase); the new key is then written unencrypted.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// X5C: the birth certificate (IDevID) whose key signs the tokens, PEM; it may hold the
    /// factory intermediates after it.
    #[arg(long, value_name = "FILE", requires_all = ["x5c_key", "provisioner"])]
    x5c_cert: Option<PathBuf>,
    /// X5C: the birth certificate's key.
    #[arg(long, value_name = "FILE|URI", requires = "x5c_cert",
        long_help = key_help!("X5C: the birth certificate's key"))]
    x5c_key: Option<PathBuf>,
    /// X5C: a factory intermediate certificate file (PEM), appended after --x5c-cert's
    /// certificates; repeatable.
    #[arg(long, value_name = "FILE", requires = "x5c_cert")]
    x5c_chain: Vec<PathBuf>,
}

/// `--kty`'s values: step's, then stepca's older ones.
fn kty_values() -> PossibleValuesParser {
    PossibleValuesParser::new([
        PossibleValue::new("EC").help("elliptic curve: P-256 (default) or P-384, see --curve"),
        PossibleValue::new("OKP").help("Ed25519"),
        PossibleValue::new("RSA").help("RSA: 2048 bits (default), 3072 or 4096, see --size"),
        PossibleValue::new("ec-p256").help("older form of EC with P-256"),
        PossibleValue::new("ec-p384").help("older form of EC with P-384"),
        PossibleValue::new("ed25519").help("older form of OKP"),
        PossibleValue::new("rsa-2048").help("older form of RSA with 2048 bits"),
        PossibleValue::new("rsa-3072").help("older form of RSA with 3072 bits"),
        PossibleValue::new("rsa-4096").help("older form of RSA with 4096 bits"),
    ])
}

/// How a new key is made and written: step's --kty, --curve, --size, and --no-password
/// with --insecure.
#[derive(clap::Args, Clone, Default)]
struct NewKeyArgs {
    /// The type of key to generate (case-sensitive, as in step) [default: EC].
    #[arg(long, value_name = "KTY", value_parser = kty_values())]
    kty: Option<String>,
    /// The curve of an EC or OKP key [default: P-256 for EC, Ed25519 for OKP].
    #[arg(long, visible_alias = "crv", value_name = "CURVE", requires = "kty",
        value_parser = PossibleValuesParser::new([
            PossibleValue::new("P-256").help("NIST P-256 (EC)"),
            PossibleValue::new("P-384").help("NIST P-384 (EC)"),
            PossibleValue::new("Ed25519").help("Ed25519 (OKP)"),
        ]))]
    curve: Option<String>,
    /// The size of an RSA key in bits: 2048, 3072 or 4096 [default: 2048].
    #[arg(long, value_name = "BITS", requires = "kty")]
    size: Option<u32>,
    /// Write the new key unencrypted even though --password-file is given (step's flag;
    /// needs --insecure). New keys are unencrypted without --password-file anyway, as `step
    /// ca certificate` writes them, so that a service can renew with them unattended.
    #[arg(long, requires = "insecure", conflicts_with = "password_file")]
    no_password: bool,
    /// Allow --no-password (as in step).
    #[arg(long)]
    insecure: bool,
}

impl NewKeyArgs {
    /// The key type these flags name.
    fn key_type(&self) -> Result<KeyType> {
        keys::new_key_type(self.kty.as_deref(), self.curve.as_deref(), self.size)
    }

    /// Whether any of --kty, --curve, --size was given.
    fn given(&self) -> bool {
        self.kty.is_some() || self.curve.is_some() || self.size.is_some()
    }
}

/// The validity period asked for: step's --not-before and --not-after, or --lifetime.
#[derive(clap::Args, Clone, Default)]
struct ValidityArgs {
    /// When the certificate's validity starts: a time (RFC 3339, 2025-11-26T09:40:00Z) or a
    /// duration from now (5m, -1h: Go's syntax, as step) [default: now, back-dated a minute
    /// by step-ca].
    #[arg(long, value_name = "TIME|DURATION", allow_hyphen_values = true,
        value_parser = times::time_or_duration)]
    not_before: Option<TimeOrDuration>,
    /// When the certificate's validity ends: a time (RFC 3339) or a duration (24h, 30m,
    /// 1h30m) from --not-before, or from now without it [default: the provisioner's default
    /// certificate lifetime].
    #[arg(long, value_name = "TIME|DURATION", allow_hyphen_values = true,
        value_parser = times::time_or_duration, conflicts_with = "lifetime")]
    not_after: Option<TimeOrDuration>,
    /// Older form of --not-after: the lifetime in seconds from now (--lifetime 3600 is
    /// --not-after 1h).
    #[arg(long, value_name = "SECONDS")]
    lifetime: Option<u64>,
}

impl ValidityArgs {
    /// notBefore and notAfter, UNIX seconds, for `now`.
    fn resolve(&self, now: i64) -> (Option<i64>, Option<i64>) {
        let nb = self.not_before.map(|t| t.resolve(now));
        let na = match (self.not_after, self.lifetime) {
            (Some(t), _) => Some(t.resolve(nb.unwrap_or(now))),
            (None, Some(s)) => Some(now + s as i64),
            (None, None) => None,
        };
        (nb, na)
    }

    /// The flag that set notAfter, for messages.
    fn not_after_flag(&self) -> &'static str {
        if self.lifetime.is_some() {
            "--lifetime"
        } else {
            "--not-after"
        }
    }
}

/// `stepca enroll`, also `stepca certificate`: step's `step ca certificate SUBJECT CRT KEY`,
/// or the older flags (--cn, --cert-out, --key-out).
#[derive(clap::Args)]
struct EnrollArgs {
    /// The subject: the certificate's Common Name and, without --san, its only SAN as step
    /// makes it (an IP address, URI, email address or DNS name by its form; a subject that is
    /// none of these, like "my device", must come with --san). Same as --cn.
    #[arg(value_name = "SUBJECT", conflicts_with = "cn")]
    subject: Option<String>,
    /// Where the certificate chain goes (PEM). Same as --cert-out.
    #[arg(value_name = "CRT", conflicts_with = "cert_out")]
    crt: Option<PathBuf>,
    /// Where the new key goes (PEM, mode 0600). Same as --key-out.
    #[arg(value_name = "KEY", conflicts_with_all = ["key_out", "key"])]
    key_file: Option<PathBuf>,
    /// Older form of SUBJECT.
    #[arg(long, value_name = "NAME")]
    cn: Option<String>,
    /// A Subject Alternative Name (DNS name, IP address, email address or URI, told apart
    /// as step does); repeatable. Without it the subject is the only SAN.
    #[arg(long = "san", value_name = "SAN")]
    sans: Vec<String>,
    /// An existing key (a file, or a PKCS#11 URI: it stays in its token), instead of a new
    /// one in KEY (--key-out).
    #[arg(long, value_name = "FILE|URI", conflicts_with = "key_out",
        long_help = key_help!("An existing key, instead of a new one in KEY (--key-out)"))]
    key: Option<PathBuf>,
    /// Older form of KEY: generate a key (--kty) and write it here once the certificate is
    /// issued.
    #[arg(long, value_name = "FILE")]
    key_out: Option<PathBuf>,
    /// Older form of CRT.
    #[arg(long, value_name = "FILE")]
    cert_out: Option<PathBuf>,
    #[command(flatten)]
    new_key: NewKeyArgs,
    #[command(flatten)]
    validity: ValidityArgs,
    /// Overwrite CRT and KEY if they exist (otherwise that is an error, exit 3).
    #[arg(short = 'f', long)]
    force: bool,
    #[command(flatten)]
    tokens: TokenArgs,
}

/// `stepca csr`: a CSR for a key, loaded or generated.
#[derive(clap::Args)]
struct CsrArgs {
    /// The subject's Common Name.
    #[arg(long, value_name = "NAME")]
    cn: String,
    /// A Subject Alternative Name (DNS name, IP address, email address or URI); repeatable.
    #[arg(long = "san", value_name = "SAN")]
    sans: Vec<String>,
    /// The key (a file, or a PKCS#11 URI: the token signs the CSR).
    #[arg(long, value_name = "FILE|URI", conflicts_with = "key_out",
        long_help = key_help!("The key that signs the CSR"))]
    key: Option<PathBuf>,
    /// Generate a key of --kty instead and write it here (mode 0600).
    #[arg(long, value_name = "FILE", required_unless_present = "key")]
    key_out: Option<PathBuf>,
    #[command(flatten)]
    new_key: NewKeyArgs,
    /// The file holding the key's passphrase: decrypts an encrypted --key, encrypts the key
    /// written to --key-out (unencrypted without it).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Where the CSR goes (PEM).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Overwrite --out and --key-out if they exist (otherwise that is an error, exit 3).
    #[arg(short = 'f', long)]
    force: bool,
}

/// `stepca revoke`: step's `step ca revoke SERIAL`, or with the certificate itself.
#[derive(clap::Args)]
struct RevokeArgs {
    /// The serial number to revoke (decimal, 0x-hex or aa:bb hex), with a token (given, or
    /// minted by a JWK or X5C provisioner). Same as --serial.
    #[arg(value_name = "SERIAL", conflicts_with = "serial_flag")]
    serial: Option<String>,
    /// Older form of SERIAL.
    #[arg(long = "serial", id = "serial_flag", value_name = "SERIAL")]
    serial_flag: Option<String>,
    /// Revoke this certificate over mutual TLS with its key (no token, no SERIAL).
    #[arg(long, value_name = "FILE", conflicts_with_all = TOKEN_ARGS)]
    cert: Option<PathBuf>,
    /// The certificate's key (a file, or a PKCS#11 URI), with --cert.
    #[arg(long, value_name = "FILE|URI", long_help = key_help!("The certificate's key, with --cert"))]
    key: Option<PathBuf>,
    /// Why (RFC 5280 reason code): a number from 0 to 10 or a name, case and spaces
    /// ignored, as step takes it: Unspecified (0, default), KeyCompromise (1), CACompromise
    /// (2), AffiliationChanged (3), Superseded (4), CessationOfOperation (5),
    /// CertificateHold (6), RemoveFromCRL (8), PrivilegeWithdrawn (9), AACompromise (10).
    #[arg(long = "reasonCode", visible_alias = "reason-code", value_name = "CODE",
        value_parser = reason_code)]
    reason_code: Option<u8>,
    /// A free-text reason for the revocation.
    #[arg(long, value_name = "STRING")]
    reason: Option<String>,
    #[command(flatten)]
    tokens: TokenArgs,
}

/// step's reason codes by name (lower case, no spaces).
const REASONS: [(&str, u8); 10] = [
    ("unspecified", 0),
    ("keycompromise", 1),
    ("cacompromise", 2),
    ("affiliationchanged", 3),
    ("superseded", 4),
    ("cessationofoperation", 5),
    ("certificatehold", 6),
    ("removefromcrl", 8),
    ("privilegewithdrawn", 9),
    ("aacompromise", 10),
];

/// A reason code as step takes it: 0 to 10, or a name (case and spaces ignored).
fn reason_code(s: &str) -> std::result::Result<u8, String> {
    if let Ok(n) = s.parse::<i64>() {
        return u8::try_from(n)
            .ok()
            .filter(|n| *n <= 10)
            .ok_or_else(|| format!("{n} is out of bounds: a reason code is 0 to 10"));
    }
    let name = s.replace(' ', "").to_ascii_lowercase();
    REASONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
        .ok_or_else(|| {
            format!(
                "{s:?} is not a reason code (0 to 10, or a name: KeyCompromise, Superseded, ...)"
            )
        })
}

#[derive(Subcommand)]
enum Command {
    /// Fetch the CA's root by its fingerprint, check it, and save it with the CA's URL as
    /// `step ca bootstrap` does: $STEPPATH/certs/root_ca.crt and
    /// $STEPPATH/config/defaults.json, which every later command reads; or only the root, to
    /// --out.
    Bootstrap {
        /// Write only the root, to this file, instead of into $STEPPATH.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Overwrite the root and defaults.json if they exist (otherwise an error, exit 3).
        #[arg(short = 'f', long)]
        force: bool,
    },
    /// Check the CA answers.
    Health,
    /// Write a CSR for a key (generated when --key-out is given instead of --key).
    Csr(CsrArgs),
    /// Get a certificate, as `step ca certificate SUBJECT CRT KEY`: a new key (or --key),
    /// its CSR, a token, and the certificate; writes KEY and CRT only once the CA has issued
    /// it.
    #[command(visible_alias = "certificate")]
    Enroll(Box<EnrollArgs>),
    /// Renew a certificate, as `step ca renew CRT KEY`, writing it over CRT (or --out); with
    /// --daemon, keep renewing it (by default about two thirds into its life).
    Renew(RenewArgs),
    /// Exit 0 if the certificate needs renewal, 1 if not, 2 if the file does not exist, 255
    /// on any other error (`step certificate needs-renewal`'s codes, for systemd's
    /// ExecCondition=).
    NeedsRenewal {
        /// The certificate file (PEM bundle or DER).
        #[arg(value_name = "CRT")]
        cert: PathBuf,
        /// Due once this percentage of the validity period has passed ('75%'; default
        /// 66%), or when it expires within this long (a duration: 8h, 30m, 1h15m, 0s).
        #[arg(long, value_name = "PERCENT|DURATION", allow_hyphen_values = true)]
        expires_in: Option<String>,
        /// Check every certificate of the file in turn, not only the leaf.
        #[arg(long)]
        bundle: bool,
        /// Say whether it needs renewal.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Revoke a certificate, as `step ca revoke SERIAL` (with a revoke token: given, or
    /// minted by a JWK or X5C provisioner), or with the certificate itself (--cert, --key).
    Revoke(RevokeArgs),
    /// Describe a certificate (or with --bundle each of a chain), as `step certificate
    /// inspect` does.
    ///
    /// Subject, issuer, SANs by type, validity (RFC 3339) and the time left, serial (hex and
    /// decimal), key type and size or curve, signature algorithm, SHA-256 fingerprint, and
    /// when it is due for renewal: two thirds into its validity, the schedule of renew
    /// --daemon without its random jitter (which brings it up to a twentieth of the validity
    /// earlier).
    Inspect(inspect::InspectArgs),
    /// Enroll every device of a CSV manifest into --out-dir (NAME.key, NAME.crt),
    /// resumably.
    ///
    /// The manifest's first line is the header `name,sans`; then one device a line: its
    /// name (CN and file name) and its SANs separated by ';' (CSV quoting works). Bad lines
    /// and duplicate names refuse the batch before anything is enrolled. A journal in
    /// --out-dir names, on the next run, the devices whose request was in flight when a run
    /// was killed. Exit codes besides the usual: 8 devices failed, 9 another batch holds
    /// --out-dir, 130/143 stopped by SIGINT/SIGTERM (after those in flight were written).
    Batch {
        #[arg(long)]
        manifest: PathBuf,
        #[arg(long)]
        out_dir: PathBuf,
        /// Devices in flight at once (a kill leaves at most this many in doubt).
        #[arg(long, default_value_t = 4)]
        parallel: usize,
        #[arg(long, default_value = "ec-p256")]
        kty: String,
        #[command(flatten)]
        tokens: TokenArgs,
    },
    /// Print the completion script for a shell, as `step completion SHELL` does.
    ///
    /// For example `stepca completion bash >
    /// ~/.local/share/bash-completion/completions/stepca`; `make install` installs the
    /// bash, zsh and fish ones.
    Completion {
        /// bash, zsh or fish (or elvish, powershell).
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff; `make install` installs it as stepca.1).
    #[command(hide = true)]
    Man,
}

/// `stepca renew`: step's form and flags (`step ca renew CRT KEY`), or --cert and --key.
#[derive(clap::Args)]
pub(crate) struct RenewArgs {
    /// The certificate (PEM chain), renewed in place (or into --out). Same as --cert.
    #[arg(
        value_name = "CRT",
        conflicts_with = "cert_flag",
        required_unless_present = "cert_flag"
    )]
    crt: Option<PathBuf>,
    /// The certificate's key (a file, or a PKCS#11 URI). Same as --key.
    #[arg(value_name = "KEY", conflicts_with = "key_flag", required_unless_present = "key_flag",
        long_help = key_help!("The certificate's key. Same as --key"))]
    key_file: Option<PathBuf>,
    /// Older form of CRT.
    #[arg(long = "cert", id = "cert_flag", value_name = "FILE")]
    cert_flag: Option<PathBuf>,
    /// Older form of KEY.
    #[arg(long = "key", id = "key_flag", value_name = "FILE|URI")]
    key_flag: Option<PathBuf>,
    /// CRT, resolved from the positional argument or --cert.
    #[arg(skip)]
    cert: PathBuf,
    /// KEY, resolved from the positional argument or --key.
    #[arg(skip)]
    key: PathBuf,
    /// The file holding the passphrase of an encrypted key (as in step; a prompt asks on a
    /// terminal otherwise).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Write the renewed certificate here instead of over CRT (as step's --out).
    #[arg(long, visible_alias = "output-file", value_name = "FILE")]
    out: Option<PathBuf>,
    /// Authenticate with the certificate-signed token instead of mutual TLS (step's
    /// --mtls=false). An expired certificate always renews with the token.
    #[arg(long)]
    token_auth: bool,
    /// Keep running and renew the certificate each time it is due (by default about two
    /// thirds into its life, with jitter), retrying through CA outages; SIGTERM or SIGINT
    /// stops it (exit 0), SIGHUP re-reads CRT and KEY.
    #[arg(long, alias = "loop")]
    daemon: bool,
    /// Renew when no more than this is left before the certificate expires (a duration as
    /// step takes it: 8h, 30m, 1h30m, 10s), with jitter. Without --daemon: renew only then,
    /// else say 'not renewed' and exit 0.
    #[arg(long, value_name = "DURATION", value_parser = times::positive_duration)]
    expires_in: Option<Duration>,
    /// With --daemon: renew this long after each renewal instead (a duration).
    #[arg(long, value_name = "DURATION", value_parser = times::positive_duration,
        requires = "daemon", conflicts_with = "expires_in")]
    renew_period: Option<Duration>,
    /// Accepted for step's sake: stepca renew writes over CRT without asking (step asks on a
    /// terminal, and fails without one unless --force is given).
    #[arg(short = 'f', long)]
    force: bool,
    /// With --daemon: every N-th renewal is a rekey with a new key of the same type, written
    /// over KEY (atomically, mode 0600, unencrypted) before the certificate. Not for a
    /// pkcs11: or an encrypted KEY.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "daemon")]
    rekey_every: u32,
    /// With --daemon: the first retry delay after a failure (doubling up to --retry-max).
    #[arg(long, value_name = "DURATION", value_parser = times::positive_duration,
        requires = "daemon", hide = true)]
    retry_min: Option<Duration>,
    /// With --daemon: the longest retry delay.
    #[arg(long, value_name = "DURATION", value_parser = times::positive_duration,
        requires = "daemon", hide = true)]
    retry_max: Option<Duration>,
    #[command(flatten)]
    hooks: HookArgs,
}

impl RenewArgs {
    /// Fills `cert` and `key` from the positional arguments or the flags.
    fn resolve(&mut self) {
        self.cert = self
            .crt
            .take()
            .or(self.cert_flag.take())
            .unwrap_or_default();
        self.key = self
            .key_file
            .take()
            .or(self.key_flag.take())
            .unwrap_or_default();
    }

    /// Where the renewed certificate goes: --out, or over CRT.
    pub(crate) fn out(&self) -> &Path {
        self.out.as_deref().unwrap_or(&self.cert)
    }
}

/// Every exit status and what it means: the man page's EXIT STATUS section, and the list
/// the README's must match (a test below). `needs-renewal` has step's codes instead.
pub(crate) const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "success"),
    (
        "1",
        "other failure (also a renew hook, --exec or --signal that failed after the renewal \
         was written)",
    ),
    ("2", "usage"),
    (
        "3",
        "bad input (arguments, keys, CSRs, files), a file that could not be read or written, \
         or one that would be overwritten without --force",
    ),
    ("4", "rejected by the CA"),
    ("5", "network, TLS or timeout"),
    ("6", "token, provisioner password or key passphrase problem"),
    (
        "7",
        "the issued certificate, chain or root failed verification",
    ),
    ("8", "a batch finished with failed devices"),
    ("9", "another batch holds the directory"),
    ("130", "a batch stopped by SIGINT"),
    ("143", "a batch stopped by SIGTERM"),
];

/// A failure with its exit code.
pub(crate) struct Failure {
    code: i32,
    message: String,
}

impl From<stepca::Error> for Failure {
    fn from(e: stepca::Error) -> Failure {
        let code = match e.kind() {
            ErrorKind::CaRejected => 4,
            ErrorKind::Transport | ErrorKind::Tls | ErrorKind::Timeout => 5,
            ErrorKind::TokenProvider | ErrorKind::NoToken | ErrorKind::KeyPassphrase => 6,
            ErrorKind::ChainInvalid | ErrorKind::MalformedResponse | ErrorKind::Fingerprint => 7,
            ErrorKind::InvalidArgument
            | ErrorKind::Key
            | ErrorKind::Csr
            | ErrorKind::Signer
            | ErrorKind::Io => 3,
            _ => 1,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

pub(crate) fn input(message: impl Into<String>) -> Failure {
    Failure {
        code: 3,
        message: message.into(),
    }
}

/// A usage error (exit 2) that clap cannot see: flags that do not go together.
pub(crate) fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: message.into(),
    }
}

type Result<T> = std::result::Result<T, Failure>;

pub(crate) fn key_type(s: &str) -> Result<KeyType> {
    Ok(match s {
        "ec-p256" | "EC" => KeyType::EcP256,
        "ec-p384" => KeyType::EcP384,
        "ed25519" | "OKP" => KeyType::Ed25519,
        "rsa-2048" | "RSA" => KeyType::Rsa2048,
        "rsa-3072" => KeyType::Rsa3072,
        "rsa-4096" => KeyType::Rsa4096,
        other => return Err(input(format!("--kty: unknown key type {other:?}"))),
    })
}

/// Classifies a SAN string the way step does (x509util.SplitSANs): an IP address; else a
/// URI if it has a scheme (`letter[letter|digit|+|-|.]*:`, so `urn:x` and `host:8080` too);
/// else an email address if it has an `@`; else a DNS name.
pub(crate) fn san_kind(s: &str) -> SanKind {
    let has_scheme = s.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    });
    if s.parse::<std::net::IpAddr>().is_ok() {
        SanKind::Ip
    } else if has_scheme {
        SanKind::Uri
    } else if s.contains('@') {
        SanKind::Email
    } else {
        SanKind::Dns
    }
}

pub(crate) fn csr_request(cn: &str, sans: &[String]) -> Result<CsrRequest> {
    let mut req = CsrRequest::new();
    req.subject("CN", cn)?;
    for s in sans {
        req.san(san_kind(s), s)?;
    }
    Ok(req)
}

pub(crate) fn build_csr(key: &PrivateKey, cn: &str, sans: &[String]) -> Result<stepca::Csr> {
    Ok(csr_request(cn, sans)?.build(key)?)
}

/// The SANs to request: those given, or else the subject alone, as step adds it (as an IP
/// address, URI, email address or DNS name by its form); a subject that is no valid one of
/// these (step would still make it a DNS name) is refused, as `--san` would refuse it.
fn sans_or_subject(subject: &str, sans: &[String]) -> Result<Vec<String>> {
    if !sans.is_empty() {
        return Ok(sans.to_vec());
    }
    let kind = san_kind(subject);
    match San::new(kind, subject) {
        Ok(_) => Ok(vec![subject.to_string()]),
        Err(e) => Err(input(format!(
            "the subject {subject:?} would be the certificate's only SAN (step adds the \
             subject when no --san is given), but it is not a valid {} ({}); give the \
             certificate's names with --san",
            match kind {
                SanKind::Ip => "IP address",
                SanKind::Uri => "URI",
                SanKind::Email => "email address",
                _ => "DNS name, IP address, email address or URI",
            },
            e.message()
        ))),
    }
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| input(format!("{}: {e}", path.display())))
}

/// Refuses to go on when `path` exists and --force was not given (exit 3, naming it).
fn refuse_existing(path: &Path, force: bool) -> Result<()> {
    if !force && std::fs::symlink_metadata(path).is_ok() {
        return Err(input(format!(
            "{} already exists: not overwritten without --force (-f)",
            path.display()
        )));
    }
    Ok(())
}

fn client(cli: &Cli) -> Result<Client> {
    config::Ca::of(cli)?.client()
}

/// What authorises the call, from `t`: a token given, or a provisioner minting them.
pub(crate) fn token_source(client: &Client, t: &TokenArgs) -> Result<TokenSource> {
    Ok(token_source_for(client, t)?.0)
}

/// [`token_source`], and whether --password-file went to the provisioner (step's fallback
/// for a missing --provisioner-password-file) rather than being left for the key.
fn token_source_for(client: &Client, t: &TokenArgs) -> Result<(TokenSource, bool)> {
    if let Some(tok) = &t.token {
        return Ok((Token::new(tok.as_str()).into(), false));
    }
    if let Some(f) = &t.token_file {
        let text = String::from_utf8(read(f)?).map_err(|_| input("--token-file: not UTF-8"))?;
        return Ok((Token::new(text.trim()).into(), false));
    }
    if let (Some(name), Some(cert), Some(key)) = (&t.provisioner, &t.x5c_cert, &t.x5c_key) {
        let (p, used) = x5c_provisioner(name, cert, key, &t.x5c_chain, t)?;
        return Ok((p.into(), used));
    }
    if let Some(name) = &t.provisioner {
        let (password, flag) = match (&t.provisioner_password_file, &t.password_file) {
            (Some(f), _) => (Some(read_password(f)?), Some("--provisioner-password-file")),
            (None, Some(f)) => (Some(read_password(f)?), Some("--password-file")),
            (None, None) => (
                keys::prompt(&format!(
                    "Please enter the password to decrypt the provisioner key of {name}: "
                ))?,
                None,
            ),
        };
        if let Some(password) = password {
            let p = client.jwk_provisioner(name, None, &password).map_err(|e| {
                let mut f = Failure::from(e);
                // The library names the password `provisioner_password`.
                if let (Some(flag), Some(rest)) =
                    (flag, f.message.strip_prefix("provisioner_password:"))
                {
                    f.message = format!("{flag}:{rest}");
                }
                f
            })?;
            return Ok((p.into(), flag == Some("--password-file")));
        }
    }
    Err(Failure {
        code: 6,
        message: "a token is needed: --token, --token-file, --provisioner with \
                  --provisioner-password-file (JWK), or --provisioner with --x5c-cert and \
                  --x5c-key (X5C)"
            .into(),
    })
}

/// The X5C provisioner `name` with the factory credential: the birth certificate of `cert`
/// followed by the certificates of `chain` (in order), and the key `key` (a file, decrypted
/// with --provisioner-password-file, else --password-file as step does, or a PKCS#11 URI).
/// Also says whether --password-file was needed.
fn x5c_provisioner(
    name: &str,
    cert: &Path,
    key: &Path,
    chain: &[PathBuf],
    t: &TokenArgs,
) -> Result<(X5cProvisioner, bool)> {
    if keys::is_uri(key) && t.provisioner_password_file.is_some() {
        return Err(input(
            "--provisioner-password-file: the PIN of a pkcs11: --x5c-key comes from its URI \
             (pin-source= or pin-value=), not a password file",
        ));
    }
    let mut certs = CertificateChain::from_pem(&read(cert)?)
        .map_err(at("--x5c-cert"))?
        .certificates()
        .to_vec();
    for f in chain {
        let flag = format!("--x5c-chain {}", f.display());
        certs.extend_from_slice(
            CertificateChain::from_pem(&read(f)?)
                .map_err(at(&flag))?
                .certificates(),
        );
    }
    let chain = CertificateChain::from_der(certs).map_err(at("--x5c-cert"))?;
    let password_file = t
        .provisioner_password_file
        .as_deref()
        .or(t.password_file.as_deref());
    let hint = match (&t.provisioner_password_file, &t.password_file) {
        (Some(_), _) => "--provisioner-password-file",
        (None, Some(_)) => "--password-file",
        (None, None) => "--provisioner-password-file or --password-file",
    };
    let (key, passphrase) = Key::load_protected("--x5c-key", key, password_file, hint)?;
    let used = passphrase.is_some() && t.provisioner_password_file.is_none();
    let factory = key.credential(chain).map_err(at("--x5c-key"))?;
    let p = X5cProvisioner::new(name, factory).map_err(|e| {
        // The library names the birth certificate `factory`: that is --x5c-cert here.
        if e.message().starts_with("factory:") {
            at("--x5c-cert")(e)
        } else {
            at("--provisioner")(e)
        }
    })?;
    Ok((p, used && t.password_file.is_some()))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn describe(chain: &CertificateChain) -> serde_json::Value {
    let (nb, na) = chain.validity();
    let due = stepca::renew_after(chain)
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    json!({
        "subject": chain.common_name(),
        "serial": chain.serial(),
        "not_before": nb,
        "not_after": na,
        "renew_after": due,
        "certificates": chain.len(),
    })
}

/// `stepca bootstrap`: the root into $STEPPATH with defaults.json, or only the root to
/// `out`.
fn bootstrap(cli: &Cli, out: Option<&Path>, force: bool) -> Result<serde_json::Value> {
    let ca = config::Ca::explicit(cli)?;
    let (url, fp) = (ca.url()?, ca.fingerprint()?);
    let (root, defaults) = match out {
        Some(out) => (out.to_path_buf(), None),
        None => {
            let root = std::path::absolute(config::root_file())
                .map_err(|e| input(format!("$STEPPATH: {e}")))?;
            (root, Some(config::defaults_file()))
        }
    };
    refuse_existing(&root, force)?;
    if let Some(d) = &defaults {
        refuse_existing(d, force)?;
    }
    let c = ca.bootstrap_client()?;
    let pem: String = c.roots().iter().map(|r| stepca_pem(r)).collect();
    match &defaults {
        None => stepca::write_atomic(&root, pem.as_bytes(), 0o644)?,
        Some(d) => {
            for dir in [root.parent(), d.parent()].into_iter().flatten() {
                config::create_dir(dir)?;
            }
            // As step: the root 0600, defaults.json 0644.
            stepca::write_atomic(&root, pem.as_bytes(), 0o600)?;
            config::write_defaults(d, &url, &fp, &root)?;
        }
    }
    Ok(json!({
        "root": root,
        "fingerprint": stepca::fingerprint(&c.roots()[0]),
        "defaults": defaults,
    }))
}

/// `stepca csr`.
fn csr(a: &CsrArgs) -> Result<serde_json::Value> {
    refuse_existing(&a.out, a.force)?;
    if let Some(k) = &a.key_out {
        refuse_existing(k, a.force)?;
    }
    let (key, new_key) = match &a.key {
        Some(k) => {
            if a.new_key.given() {
                return Err(usage(
                    "--kty, --curve and --size are for a new key, not --key",
                ));
            }
            (
                Key::load_protected("--key", k, a.password_file.as_deref(), "--password-file")?.0,
                None,
            )
        }
        None => {
            let key = Arc::new(PrivateKey::generate(a.new_key.key_type()?)?);
            (Key::File(key.clone()), Some(key))
        }
    };
    let passphrase = match (&a.password_file, a.new_key.no_password) {
        (Some(f), false) if new_key.is_some() => Some(read_password(f)?),
        _ => None,
    };
    let csr = key.csr(&a.cn, &a.sans)?;
    if let (Some(key), Some(out)) = (&new_key, &a.key_out) {
        keys::write_new_key(out, key, passphrase.as_deref())?;
    }
    stepca::write_atomic(&a.out, csr.to_pem().as_bytes(), 0o644)?;
    Ok(json!({"csr": a.out, "key": a.key_out}))
}

/// `stepca enroll` / `stepca certificate`.
fn enroll(cli: &Cli, a: &EnrollArgs) -> Result<serde_json::Value> {
    let subject = a
        .subject
        .as_deref()
        .or(a.cn.as_deref())
        .ok_or_else(|| usage("give the SUBJECT (or --cn)"))?;
    let crt = a
        .crt
        .as_deref()
        .or(a.cert_out.as_deref())
        .ok_or_else(|| usage("give CRT, the file the certificate goes to (or --cert-out)"))?;
    let key_out = a.key_file.as_deref().or(a.key_out.as_deref());
    if a.key.is_none() && key_out.is_none() {
        return Err(usage(
            "give KEY (or --key-out), the file the new key goes to, or --key with an \
             existing key (a key file or a pkcs11: URI)",
        ));
    }
    if a.key.is_some() && a.new_key.given() {
        return Err(usage(
            "--kty, --curve and --size are for a new key, not --key",
        ));
    }
    refuse_existing(crt, a.force)?;
    if let Some(k) = key_out {
        refuse_existing(k, a.force)?;
    }
    let sans = sans_or_subject(subject, &a.sans)?;
    // The new key stays in memory until the CA has issued its certificate.
    let (key, new_key) = match &a.key {
        Some(k) => {
            let (key, _) = Key::load_protected(
                "--key",
                k,
                a.tokens.password_file.as_deref(),
                "--password-file",
            )?;
            (key, None)
        }
        None => {
            let key = Arc::new(PrivateKey::generate(a.new_key.key_type()?)?);
            (Key::File(key.clone()), Some(key))
        }
    };
    let c = client(cli)?;
    let (token, password_file_was_provisioners) = token_source_for(&c, &a.tokens)?;
    let passphrase = match &a.tokens.password_file {
        Some(f) if new_key.is_some() && !a.new_key.no_password => {
            if password_file_was_provisioners {
                eprintln!(
                    "stepca: --password-file is the provisioner's password here (no \
                     --provisioner-password-file, as step takes it), so the new key is \
                     written unencrypted"
                );
                None
            } else {
                let p = read_password(f)?;
                if p.is_empty() {
                    return Err(input("--password-file: the passphrase is empty"));
                }
                Some(p)
            }
        }
        _ => None,
    };
    let (not_before, not_after) = a.validity.resolve(now());
    let opts = SignOptions {
        token: Some(token),
        not_before,
        not_after,
        ..Default::default()
    };
    let chain = c.sign_csr(&key.csr(subject, &sans)?, &opts).map_err(|e| {
        // An X5C provisioner refuses a notAfter past the birth certificate's.
        if e.message().starts_with("not_after:") {
            at(a.validity.not_after_flag())(e)
        } else if e.message().starts_with("not_before:") {
            at("--not-before")(e)
        } else {
            Failure::from(e)
        }
    })?;
    // The key first: a certificate on disk always has its key beside it.
    let new_key_out = new_key.as_ref().zip(key_out);
    let existed = key_out.is_some_and(|k| k.exists());
    if let Some((key, out)) = new_key_out {
        keys::write_new_key(out, key, passphrase.as_deref())?;
    }
    if let Err(e) = stepca::write_atomic(crt, chain.to_pem().as_bytes(), 0o644) {
        // No new key without its certificate (one overwritten with --force is gone anyway).
        if let Some((_, out)) = new_key_out.filter(|_| !existed) {
            let _ = std::fs::remove_file(out);
        }
        return Err(e.into());
    }
    let mut v = describe(&chain);
    v["certificate"] = json!(crt);
    if let Some(k) = key_out {
        v["key"] = json!(k);
        v["key_encrypted"] = json!(passphrase.is_some());
    }
    Ok(v)
}

/// `stepca revoke`.
fn revoke(cli: &Cli, a: &RevokeArgs) -> Result<serde_json::Value> {
    let serial = a.serial.as_ref().or(a.serial_flag.as_ref());
    let opts = |token| RevokeOptions {
        reason_code: a.reason_code.unwrap_or(0),
        reason: a.reason.clone(),
        token,
    };
    match (serial, &a.cert, &a.key) {
        (Some(serial), None, None) => {
            let c = client(cli)?;
            let token = token_source(&c, &a.tokens)?;
            c.revoke(serial, &opts(Some(token)))?;
            Ok(json!({"revoked": stepca::normalize_serial(serial)?}))
        }
        (None, Some(cert), Some(key)) => {
            let chain = CertificateChain::from_pem(&read(cert)?).map_err(at("--cert"))?;
            let (key, _) = Key::load_protected(
                "--key",
                key,
                a.tokens.password_file.as_deref(),
                "--password-file",
            )?;
            let serial = chain.serial();
            let cred = key.credential(chain).map_err(at("--key"))?;
            client(cli)?.revoke_with_certificate(&cred, &opts(None))?;
            Ok(json!({"revoked": serial}))
        }
        (Some(serial), _, _) => Err(usage(format!(
            "revoke takes the serial number ({serial}) or the certificate itself (--cert with \
             --key), not both: a SERIAL revokes by serial with a token (or --provisioner); \
             --cert and --key revoke that certificate over mutual TLS, its serial read from \
             it. Drop one of them."
        ))),
        (None, Some(_), None) => Err(usage(
            "--cert needs --key, the certificate's key, to revoke it over mutual TLS",
        )),
        (None, None, Some(_)) => Err(usage(
            "--key needs --cert, the certificate to revoke over mutual TLS with that key",
        )),
        (None, None, None) => Err(usage(
            "revoke needs the SERIAL number to revoke (with a token or --provisioner), or \
             --cert with --key",
        )),
    }
}

fn run(cli: &Cli) -> Result<serde_json::Value> {
    match &cli.command {
        Command::Bootstrap { out, force } => bootstrap(cli, out.as_deref(), *force),
        Command::Health => {
            client(cli)?.health()?;
            Ok(json!({"status": "ok"}))
        }
        Command::Csr(a) => csr(a),
        Command::Enroll(a) => enroll(cli, a),
        Command::Renew(a) if a.daemon => renew::daemon(cli, a),
        Command::Renew(a) => renew::once(cli, a),
        // Handled in main: it has exit codes of its own.
        Command::NeedsRenewal { .. } => Ok(json!({})),
        Command::Revoke(a) => revoke(cli, a),
        Command::Inspect(a) => inspect::run(a, cli.json),
        Command::Batch {
            manifest,
            out_dir,
            parallel,
            kty,
            tokens,
        } => {
            let c = client(cli)?;
            let c = match token_source(&c, tokens)? {
                TokenSource::Provider(p) => c.with_token_provider(p),
                TokenSource::Token(_) => {
                    return Err(input(
                        "batch mints one token per device: use --provisioner with \
                         --password-file (JWK) or with --x5c-cert and --x5c-key (X5C)",
                    ));
                }
            };
            batch::run(
                &c,
                manifest,
                out_dir,
                (*parallel).max(1),
                key_type(kty)?,
                cli.json,
            )
        }
        Command::Completion { shell } => {
            docs::completion(*shell, <Cli as clap::CommandFactory>::command())
        }
        Command::Man => docs::man(<Cli as clap::CommandFactory>::command()),
    }
}

fn stepca_pem(der: &[u8]) -> String {
    CertificateChain::from_der(vec![der.to_vec()])
        .map(|c| c.to_pem())
        .unwrap_or_default()
}

fn main() {
    let mut cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // needs-renewal's 2 means "no such file": its usage errors are 255, as in step.
            let needs_renewal = std::env::args().any(|a| a == "needs-renewal");
            let code = if e.use_stderr() && needs_renewal {
                needs_renewal::OTHER_ERROR
            } else {
                e.exit_code()
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if let Command::Renew(a) = &mut cli.command {
        a.resolve();
    }
    if let Command::NeedsRenewal {
        cert,
        expires_in,
        bundle,
        verbose,
    } = &cli.command
    {
        let code = needs_renewal::run(cert, expires_in.as_deref(), *bundle, *verbose, cli.json);
        std::process::exit(code);
    }
    match run(&cli) {
        Ok(v) => {
            if cli.json {
                println!("{v}");
            } else if let Some(obj) = v.as_object() {
                for (k, val) in obj {
                    if val.is_null() {
                        continue;
                    }
                    println!(
                        "{k}: {}",
                        val.as_str().map_or_else(|| val.to_string(), str::to_string)
                    );
                }
            }
            let failed = v.get("failed").and_then(|f| f.as_u64()).unwrap_or(0);
            std::process::exit(if failed > 0 { 8 } else { 0 });
        }
        Err(f) => {
            if cli.json {
                println!("{}", json!({"error": f.message, "exit_code": f.code}));
            }
            eprintln!("stepca: {}", f.message);
            std::process::exit(f.code);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's exit-code paragraph names exactly the codes of [`EXIT_STATUS`].
    #[test]
    fn readme_lists_the_exit_codes() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("\nExit codes: ")
            .expect("README has an Exit codes paragraph");
        let para = &readme[start + 1..];
        let para = &para[..para.find("\n\n").unwrap_or(para.len())];
        let mut named: Vec<&str> = para
            .split(|c: char| !c.is_ascii_digit())
            .filter(|w| !w.is_empty())
            .collect();
        named.dedup();
        let ours: Vec<&str> = EXIT_STATUS.iter().map(|(c, _)| *c).collect();
        assert_eq!(named, ours, "{para}");
    }

    #[test]
    fn sans_are_told_apart_as_step_does() {
        for (s, kind) in [
            ("10.1.2.3", SanKind::Ip),
            ("::1", SanKind::Ip),
            ("spiffe://td/w", SanKind::Uri),
            ("urn:uuid:1234", SanKind::Uri),
            ("host:8080", SanKind::Uri),
            ("me@example.com", SanKind::Email),
            ("a.example.com", SanKind::Dns),
            ("x y", SanKind::Dns),
            ("1host:8080", SanKind::Dns),
        ] {
            assert_eq!(san_kind(s), kind, "{s}");
        }
        assert_eq!(
            sans_or_subject("a.example.com", &[]).ok(),
            Some(vec!["a.example.com".into()])
        );
        assert_eq!(
            sans_or_subject("10.0.0.1", &[]).ok(),
            Some(vec!["10.0.0.1".into()])
        );
        let given = vec!["b.example.com".to_string()];
        assert_eq!(sans_or_subject("x y", &given).ok(), Some(given));
        let err = sans_or_subject("x y", &[]).err().unwrap();
        assert_eq!(err.code, 3);
        assert!(err.message.contains("--san"), "{}", err.message);
    }

    #[test]
    fn every_option_has_help() {
        use clap::CommandFactory;
        let cmd = Cli::command();
        for a in cmd.get_arguments() {
            assert!(a.get_help().is_some(), "--{}", a.get_id());
        }
        // batch and inspect are described where they are made.
        for sub in cmd
            .get_subcommands()
            .filter(|s| !["batch", "inspect"].contains(&s.get_name()))
        {
            assert!(sub.get_about().is_some(), "{}", sub.get_name());
            for a in sub.get_arguments() {
                assert!(
                    a.get_help().is_some() || a.get_long_help().is_some(),
                    "{} {}",
                    sub.get_name(),
                    a.get_id()
                );
            }
        }
    }

    #[test]
    fn reason_codes_as_step() {
        assert_eq!(reason_code("0"), Ok(0));
        assert_eq!(reason_code("10"), Ok(10));
        assert_eq!(reason_code("key compromise"), Ok(1));
        assert_eq!(reason_code("KeyCompromise"), Ok(1));
        assert_eq!(reason_code("CACompromise"), Ok(2));
        assert_eq!(reason_code("removeFromCRL"), Ok(8));
        assert!(reason_code("11").is_err());
        assert!(reason_code("-1").is_err());
        assert!(reason_code("lost").is_err());
    }

    #[test]
    fn key_types_as_step() {
        let t = |kty, crv, size| keys::new_key_type(kty, crv, size).map_err(|f| f.code);
        assert_eq!(t(None, None, None), Ok(KeyType::EcP256));
        assert_eq!(t(Some("EC"), Some("P-384"), None), Ok(KeyType::EcP384));
        assert_eq!(t(Some("OKP"), None, None), Ok(KeyType::Ed25519));
        assert_eq!(t(Some("RSA"), None, None), Ok(KeyType::Rsa2048));
        assert_eq!(t(Some("RSA"), None, Some(4096)), Ok(KeyType::Rsa4096));
        assert_eq!(t(Some("ec-p384"), None, None), Ok(KeyType::EcP384));
        assert_eq!(t(Some("EC"), Some("Ed25519"), None), Err(2));
        assert_eq!(t(Some("OKP"), Some("P-256"), None), Err(2));
        assert_eq!(t(Some("EC"), None, Some(2048)), Err(2));
        assert_eq!(t(Some("RSA"), Some("P-256"), None), Err(2));
        assert_eq!(t(Some("RSA"), None, Some(1024)), Err(2));
        assert_eq!(t(Some("ec-p256"), Some("P-384"), None), Err(2));
    }
}
