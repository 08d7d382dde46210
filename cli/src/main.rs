//! `stepca`: the command-line tool for provisioning lines, on the stepca crate.
//!
//! Exit codes: 0 success; 1 other failure (also a `renew` hook, --exec or --signal, that
//! failed after the renewal was written); 2 usage; 3 bad input (arguments, keys, CSRs,
//! files) or a file that could not be read or written (`ErrorKind::Io`); 4 rejected by the
//! CA; 5 network, TLS or timeout; 6 token or provisioner password problem; 7 the issued
//! certificate or chain failed verification; 8 a batch finished with failed devices.
//! `needs-renewal` has step's codes instead: 0 due, 1 not due, 2 no such file, 255 any
//! other error, usage errors included.
//!
//! `renew --daemon` keeps renewing until SIGTERM or SIGINT (exit 0); see [`renew`].
//!
//! Tokens come as given (`--token`, `--token-file`) or are minted in process by a JWK
//! provisioner (`--provisioner`, `--password-file`) or an X5C one with the device's birth
//! certificate (`--provisioner`, `--x5c-cert`, `--x5c-key`, `--x5c-chain`: step's flags).
//! Every key argument takes a key file or a PKCS#11 URI (see [`keys`]).

mod batch;
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

use clap::{Parser, Subcommand};
use hooks::HookArgs;
use keys::{Key, at};
use serde_json::json;
use stepca::{
    CertificateChain, Client, ClientBuilder, CsrRequest, ErrorKind, KeyType, PrivateKey,
    RevokeOptions, SanKind, SignOptions, Token, TokenSource, X5cProvisioner,
};

#[derive(Parser)]
#[command(
    name = "stepca",
    version,
    about = "Enroll, renew and revoke X.509 certificates at a step-ca"
)]
struct Cli {
    /// The CA URL, e.g. https://ca.example:9000.
    #[arg(long, global = true, env = "STEPCA_URL")]
    ca_url: Option<String>,
    /// Trust only the roots in this PEM file.
    #[arg(long, global = true, env = "STEPCA_ROOT")]
    root: Option<PathBuf>,
    /// Trust the CA's root with this SHA-256 fingerprint (fetched and checked).
    #[arg(long, global = true)]
    fingerprint: Option<String>,
    /// Print results as JSON.
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
            ": a key file (PEM or DER; PKCS#8, SEC1 or PKCS#1), or a PKCS#11 URI for a key \
             that stays in its token, as step's --kms takes it: 'pkcs11:token=<token label>;\
             object=<key label>?module-path=<module .so>&pin-source=file:<PIN file>' \
             (or pin-value=<PIN>; id=<hex> instead of object=)"
        )
    };
}

/// The ids of the token arguments, which revoking with the certificate itself refuses.
const TOKEN_ARGS: [&str; 7] = [
    "token",
    "token_file",
    "provisioner",
    "password_file",
    "x5c_cert",
    "x5c_key",
    "x5c_chain",
];

/// Where tokens come from: one given (--token, --token-file), or minted in process by a
/// JWK provisioner (--provisioner, --password-file) or an X5C provisioner with the device's
/// birth certificate (--provisioner, --x5c-cert, --x5c-key, --x5c-chain).
#[derive(clap::Args, Clone, Default)]
struct TokenArgs {
    /// A one-time token.
    #[arg(long, conflicts_with_all = &TOKEN_ARGS[1..])]
    token: Option<String>,
    /// A file holding the one-time token.
    #[arg(long, conflicts_with_all = &TOKEN_ARGS[2..])]
    token_file: Option<PathBuf>,
    /// Mint tokens in process with this provisioner: a JWK provisioner (with
    /// --password-file), or an X5C provisioner (with --x5c-cert and --x5c-key).
    #[arg(long, value_name = "NAME")]
    provisioner: Option<String>,
    /// The JWK provisioner's password; with --x5c-key, the passphrase of an encrypted key
    /// file (as in step).
    #[arg(long, value_name = "FILE", requires = "provisioner")]
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

#[derive(Subcommand)]
enum Command {
    /// Fetch the root by fingerprint, check it, and save it.
    Bootstrap {
        #[arg(long)]
        out: PathBuf,
    },
    /// Check the CA answers.
    Health,
    /// Write a CSR for a key (generated when --key-out is given instead of --key).
    Csr {
        #[arg(long)]
        cn: String,
        #[arg(long = "san")]
        sans: Vec<String>,
        /// The key (a file, or a PKCS#11 URI: the token signs the CSR).
        #[arg(long, value_name = "FILE|URI", long_help = key_help!("The key that signs the CSR"))]
        key: Option<PathBuf>,
        /// Generate a key of --kty instead and write it here (mode 0600).
        #[arg(long, value_name = "FILE")]
        key_out: Option<PathBuf>,
        #[arg(long, default_value = "ec-p256")]
        kty: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Enroll: key (loaded, in a PKCS#11 token, or generated), CSR, token, certificate;
    /// writes the chain, and a generated key.
    Enroll {
        #[arg(long)]
        cn: String,
        #[arg(long = "san")]
        sans: Vec<String>,
        /// An existing key (a file, or a PKCS#11 URI: it stays in its token); otherwise
        /// one is generated and written to --key-out.
        #[arg(long, value_name = "FILE|URI", long_help = key_help!("An existing key, instead of one generated into --key-out"))]
        key: Option<PathBuf>,
        /// Generate a key of --kty and write it here (mode 0600).
        #[arg(long, value_name = "FILE")]
        key_out: Option<PathBuf>,
        #[arg(long, default_value = "ec-p256")]
        kty: String,
        #[arg(long)]
        cert_out: PathBuf,
        /// Certificate lifetime in seconds (step-ca's default otherwise).
        #[arg(long)]
        lifetime: Option<u64>,
        #[command(flatten)]
        tokens: TokenArgs,
    },
    /// Renew a certificate, writing it over --cert; with --daemon, keep renewing it (by
    /// default about two thirds into its life), as `step ca renew` does.
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
    /// Revoke by --serial (with a revoke token: given, or minted by a JWK or X5C
    /// provisioner) or the certificate itself (--cert, --key).
    Revoke {
        /// The serial number to revoke (decimal, 0x-hex or aa:bb hex).
        #[arg(long)]
        serial: Option<String>,
        /// Revoke this certificate over mutual TLS with its key (no token).
        #[arg(long, conflicts_with_all = TOKEN_ARGS)]
        cert: Option<PathBuf>,
        /// The certificate's key (a file, or a PKCS#11 URI).
        #[arg(long, value_name = "FILE|URI", long_help = key_help!("The certificate's key"))]
        key: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        reason_code: u8,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        tokens: TokenArgs,
    },
    /// Describe a certificate (or with --bundle each of a chain), as `step certificate
    /// inspect` does.
    ///
    /// Subject, issuer, SANs by type, validity (RFC 3339) and the time left, serial (hex and
    /// decimal), key type and size or curve, signature algorithm, SHA-256 fingerprint, and
    /// when it is due for renewal: two thirds into its validity, the schedule of renew
    /// --daemon without its random jitter (which brings it up to a twentieth of the validity
    /// earlier).
    Inspect(inspect::InspectArgs),
    /// Enroll every device of a CSV manifest (name[,san;san...]) into --out-dir.
    Batch {
        #[arg(long)]
        manifest: PathBuf,
        #[arg(long)]
        out_dir: PathBuf,
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

/// `stepca renew`: step's flags (`step ca renew`), with --cert and --key as flags.
#[derive(clap::Args)]
pub(crate) struct RenewArgs {
    /// The certificate (PEM chain), renewed in place.
    #[arg(long)]
    cert: PathBuf,
    /// The certificate's key (a file, or a PKCS#11 URI: the token signs the TLS
    /// handshake or the token).
    #[arg(long, value_name = "FILE|URI", long_help = key_help!("The certificate's key"))]
    key: PathBuf,
    /// Authenticate with the certificate-signed token instead of mutual TLS (step's
    /// --mtls=false). An expired certificate always renews with the token.
    #[arg(long)]
    token_auth: bool,
    /// Keep running and renew the certificate each time it is due (by default about two
    /// thirds into its life, with jitter), retrying through CA outages; SIGTERM or SIGINT
    /// stops it (exit 0), SIGHUP re-reads --cert and --key.
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
    /// Accepted for step's sake: stepca never asks before overwriting --cert.
    #[arg(short = 'f', long)]
    force: bool,
    /// With --daemon: every N-th renewal is a rekey with a new key of the same type, written
    /// over --key (atomically, mode 0600) before the certificate. Not for a pkcs11: --key.
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

type Result<T> = std::result::Result<T, Failure>;

pub(crate) fn key_type(s: &str) -> Result<KeyType> {
    Ok(match s {
        "ec-p256" => KeyType::EcP256,
        "ec-p384" => KeyType::EcP384,
        "ed25519" => KeyType::Ed25519,
        "rsa-2048" => KeyType::Rsa2048,
        "rsa-3072" => KeyType::Rsa3072,
        "rsa-4096" => KeyType::Rsa4096,
        other => return Err(input(format!("--kty: unknown key type {other:?}"))),
    })
}

/// Classifies a SAN string the way step does: IP, URI (has a scheme), email, else DNS.
pub(crate) fn san_kind(s: &str) -> SanKind {
    if s.parse::<std::net::IpAddr>().is_ok() {
        SanKind::Ip
    } else if s.contains("://") || s.starts_with("urn:") {
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

pub(crate) fn build_csr(key: &PrivateKey, cn: &str, sans: &[String]) -> Result<Vec<u8>> {
    Ok(csr_request(cn, sans)?.build(key)?.der().to_vec())
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| input(format!("{}: {e}", path.display())))
}

fn client(cli: &Cli) -> Result<Client> {
    let url = cli
        .ca_url
        .as_deref()
        .ok_or_else(|| input("--ca-url (or STEPCA_URL) is required"))?;
    let mut b = ClientBuilder::new(url);
    if let Some(fp) = &cli.fingerprint {
        b.root_fingerprint(fp)?;
    } else if let Some(root) = &cli.root {
        b.root_file(root)?;
    }
    Ok(b.build()?)
}

/// What authorises the call, from `t`: a token given, or a provisioner minting them.
pub(crate) fn token_source(client: &Client, t: &TokenArgs) -> Result<TokenSource> {
    if let Some(tok) = &t.token {
        return Ok(Token::new(tok.as_str()).into());
    }
    if let Some(f) = &t.token_file {
        let text = String::from_utf8(read(f)?).map_err(|_| input("--token-file: not UTF-8"))?;
        return Ok(Token::new(text.trim()).into());
    }
    if let (Some(name), Some(cert), Some(key)) = (&t.provisioner, &t.x5c_cert, &t.x5c_key) {
        return Ok(
            x5c_provisioner(name, cert, key, &t.x5c_chain, t.password_file.as_deref())?.into(),
        );
    }
    if let (Some(name), Some(pw)) = (&t.provisioner, &t.password_file) {
        let p = client.jwk_provisioner(name, None, &password(pw)?)?;
        return Ok(p.into());
    }
    Err(Failure {
        code: 6,
        message: "a token is needed: --token, --token-file, --provisioner with --password-file \
                  (JWK), or --provisioner with --x5c-cert and --x5c-key (X5C)"
            .into(),
    })
}

/// A password file's text without its surrounding white space.
fn password(path: &Path) -> Result<Vec<u8>> {
    let bytes = read(path)?;
    Ok(String::from_utf8_lossy(&bytes).trim().as_bytes().to_vec())
}

/// The X5C provisioner `name` with the factory credential: the birth certificate of `cert`
/// followed by the certificates of `chain` (in order), and the key `key` (a file, decrypted
/// with `password_file` when given, or a PKCS#11 URI).
fn x5c_provisioner(
    name: &str,
    cert: &Path,
    key: &Path,
    chain: &[PathBuf],
    password_file: Option<&Path>,
) -> Result<X5cProvisioner> {
    let passphrase = match password_file {
        Some(_) if keys::is_uri(key) => {
            return Err(input(
                "--password-file: the PIN of a pkcs11: --x5c-key comes from its URI \
                 (pin-source= or pin-value=), not --password-file",
            ));
        }
        Some(p) => Some(password(p)?),
        None => None,
    };
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
    let factory = Key::load("--x5c-key", key, passphrase.as_deref())
        .map_err(|mut f| {
            if f.code == 6 && password_file.is_none() {
                f.message.push_str(" (its passphrase: --password-file)");
            }
            f
        })?
        .credential(chain)
        .map_err(at("--x5c-key"))?;
    X5cProvisioner::new(name, factory).map_err(|e| {
        // The library names the birth certificate `factory`: that is --x5c-cert here.
        if e.message().starts_with("factory:") {
            at("--x5c-cert")(e)
        } else {
            at("--provisioner")(e)
        }
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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

fn run(cli: &Cli) -> Result<serde_json::Value> {
    match &cli.command {
        Command::Bootstrap { out } => {
            if cli.fingerprint.is_none() {
                return Err(input("bootstrap needs --fingerprint"));
            }
            let c = client(cli)?;
            let pem: String = c.roots().iter().map(|r| stepca_pem(r)).collect();
            stepca::write_atomic(out, pem.as_bytes(), 0o644)?;
            Ok(json!({"root": out, "fingerprint": stepca::fingerprint(&c.roots()[0])}))
        }
        Command::Health => {
            client(cli)?.health()?;
            Ok(json!({"status": "ok"}))
        }
        Command::Csr {
            cn,
            sans,
            key,
            key_out,
            kty,
            out,
        } => {
            let key = load_or_generate(key.as_deref(), key_out.as_deref(), kty)?;
            let der = key.csr(cn, sans)?;
            let (csr, _) = stepca::Csr::from_pem_or_der(&der)?;
            stepca::write_atomic(out, csr.to_pem().as_bytes(), 0o644)?;
            Ok(json!({"csr": out}))
        }
        Command::Enroll {
            cn,
            sans,
            key,
            key_out,
            kty,
            cert_out,
            lifetime,
            tokens,
        } => {
            let key = load_or_generate(key.as_deref(), key_out.as_deref(), kty)?;
            let c = client(cli)?;
            let opts = SignOptions {
                token: Some(token_source(&c, tokens)?),
                not_after: lifetime.map(|s| (now() + s) as i64),
                ..Default::default()
            };
            let chain = c.sign(&key.csr(cn, sans)?, &opts).map_err(|e| {
                // An X5C provisioner refuses a notAfter past the birth certificate's.
                if e.message().starts_with("not_after:") {
                    at("--lifetime")(e)
                } else {
                    Failure::from(e)
                }
            })?;
            stepca::write_atomic(cert_out, chain.to_pem().as_bytes(), 0o644)?;
            Ok(describe(&chain))
        }
        Command::Renew(a) if a.daemon => renew::daemon(cli, a),
        Command::Renew(a) => renew::once(cli, a),
        // Handled in main: it has exit codes of its own.
        Command::NeedsRenewal { .. } => Ok(json!({})),
        Command::Revoke {
            serial,
            cert,
            key,
            reason_code,
            reason,
            tokens,
        } => {
            let c = client(cli)?;
            let mut opts = RevokeOptions {
                reason_code: *reason_code,
                reason: reason.clone(),
                ..Default::default()
            };
            match (serial, cert, key) {
                (Some(serial), None, None) => {
                    opts.token = Some(token_source(&c, tokens)?);
                    c.revoke(serial, &opts)?;
                    Ok(json!({"revoked": stepca::normalize_serial(serial)?}))
                }
                (None, Some(cert), Some(key)) => {
                    let chain = CertificateChain::from_pem(&read(cert)?)?;
                    let key = Key::load("--key", key, None)?;
                    let serial = chain.serial();
                    let cred = key.credential(chain).map_err(at("--key"))?;
                    c.revoke_with_certificate(&cred, &opts)?;
                    Ok(json!({"revoked": serial}))
                }
                _ => Err(input("revoke needs --serial, or --cert with --key")),
            }
        }
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

/// The key of `--key` (a file or a PKCS#11 URI), or one of `kty` generated and written to
/// `--key-out`.
fn load_or_generate(key: Option<&Path>, key_out: Option<&Path>, kty: &str) -> Result<Key> {
    match (key, key_out) {
        (Some(k), Some(_)) if keys::is_uri(k) => Err(input(
            "--key-out: a pkcs11: --key stays in its token and is not written anywhere; \
             --key-out is only for a generated key",
        )),
        (Some(k), _) => Key::load("--key", k, None),
        (None, Some(out)) => {
            let key = PrivateKey::generate(key_type(kty)?)?;
            stepca::write_atomic(out, key.to_pkcs8_pem().as_bytes(), 0o600)?;
            Ok(Key::File(Arc::new(key)))
        }
        (None, None) => Err(input(
            "give --key (a key file or a pkcs11: URI), or --key-out to generate one",
        )),
    }
}

fn main() {
    let cli = match Cli::try_parse() {
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
