//! `stepca`: the command-line tool for provisioning lines, on the stepca crate.
//!
//! Exit codes: 0 success; 1 other failure; 2 usage; 3 bad input (arguments, keys, CSRs,
//! files); 4 rejected by the CA; 5 network, TLS or timeout; 6 token or provisioner
//! password problem; 7 the issued certificate or chain failed verification; 8 a batch
//! finished with failed devices.

mod batch;
mod files;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use serde_json::json;
use stepca::{
    CertificateChain, Client, ClientBuilder, Credential, CsrRequest, ErrorKind, KeyType,
    PrivateKey, RenewAuth, RevokeOptions, SanKind, SignOptions, Token, TokenSource,
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

/// Where tokens come from.
#[derive(clap::Args, Clone, Default)]
struct TokenArgs {
    /// A one-time token.
    #[arg(long)]
    token: Option<String>,
    /// A file holding the one-time token.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Mint tokens in process with this JWK provisioner (needs --password-file).
    #[arg(long)]
    provisioner: Option<String>,
    /// The provisioner's password.
    #[arg(long)]
    password_file: Option<PathBuf>,
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
        #[arg(long)]
        key: Option<PathBuf>,
        #[arg(long)]
        key_out: Option<PathBuf>,
        #[arg(long, default_value = "ec-p256")]
        kty: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Enroll: key (loaded or generated), CSR, token, certificate; writes chain and key.
    Enroll {
        #[arg(long)]
        cn: String,
        #[arg(long = "san")]
        sans: Vec<String>,
        /// An existing key; otherwise one is generated and written to --key-out.
        #[arg(long)]
        key: Option<PathBuf>,
        #[arg(long)]
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
    /// Renew a certificate; with --loop, keep renewing about two thirds into its life.
    Renew {
        #[arg(long)]
        cert: PathBuf,
        #[arg(long)]
        key: PathBuf,
        /// Authenticate with the certificate-signed token instead of mutual TLS.
        #[arg(long)]
        token_auth: bool,
        #[arg(long = "loop")]
        run_loop: bool,
    },
    /// Revoke by --serial (with a revoke token) or the certificate itself (--cert, --key).
    Revoke {
        #[arg(long)]
        serial: Option<String>,
        #[arg(long)]
        cert: Option<PathBuf>,
        #[arg(long)]
        key: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        reason_code: u8,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        tokens: TokenArgs,
    },
    /// Describe a certificate chain file.
    Inspect {
        #[arg(long)]
        cert: PathBuf,
    },
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
            ErrorKind::InvalidArgument | ErrorKind::Key | ErrorKind::Csr => 3,
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

pub(crate) fn build_csr(key: &PrivateKey, cn: &str, sans: &[String]) -> Result<Vec<u8>> {
    let mut req = CsrRequest::new();
    req.subject("CN", cn)?;
    for s in sans {
        req.san(san_kind(s), s)?;
    }
    Ok(req.build(key)?.der().to_vec())
}

fn read(path: &Path) -> Result<Vec<u8>> {
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
    if let (Some(name), Some(pw)) = (&t.provisioner, &t.password_file) {
        let password = read(pw)?;
        let password = String::from_utf8_lossy(&password);
        let p = client.jwk_provisioner(name, None, password.trim().as_bytes())?;
        return Ok(p.into());
    }
    Err(Failure {
        code: 6,
        message: "a token is needed: --token, --token-file, or --provisioner with --password-file"
            .into(),
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
            files::write_atomic(out, pem.as_bytes(), 0o644)?;
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
            let der = build_csr(&key, cn, sans)?;
            let (csr, _) = stepca::Csr::from_pem_or_der(&der)?;
            files::write_atomic(out, csr.to_pem().as_bytes(), 0o644)?;
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
            let chain = c.sign(&build_csr(&key, cn, sans)?, &opts)?;
            files::write_atomic(cert_out, chain.to_pem().as_bytes(), 0o644)?;
            Ok(describe(&chain))
        }
        Command::Renew {
            cert,
            key,
            token_auth,
            run_loop,
        } => {
            let c = client(cli)?;
            let key = Arc::new(PrivateKey::load(&read(key)?, None)?);
            let auth = if *token_auth {
                RenewAuth::Token
            } else {
                RenewAuth::Auto
            };
            loop {
                let chain = CertificateChain::from_pem(&read(cert)?)?;
                if *run_loop {
                    // Computed once per certificate, then slept towards in bounded steps.
                    let due = stepca::renew_after(&chain)?;
                    while let Ok(wait) = due.duration_since(SystemTime::now()) {
                        std::thread::sleep(wait.min(Duration::from_secs(3600)));
                    }
                }
                let new = c.renew(&Credential::new(chain, key.clone())?, auth)?;
                files::write_atomic(cert, new.to_pem().as_bytes(), 0o644)?;
                if !*run_loop {
                    return Ok(describe(&new));
                }
                eprintln!(
                    "stepca: renewed {} (serial {})",
                    cert.display(),
                    new.serial()
                );
            }
        }
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
                    let key = PrivateKey::load(&read(key)?, None)?;
                    let serial = chain.serial();
                    c.revoke_with_certificate(&Credential::new(chain, key)?, &opts)?;
                    Ok(json!({"revoked": serial}))
                }
                _ => Err(input("revoke needs --serial, or --cert with --key")),
            }
        }
        Command::Inspect { cert } => Ok(describe(&CertificateChain::from_pem(&read(cert)?)?)),
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
                        "batch mints one token per device: use --provisioner and --password-file",
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
    }
}

fn stepca_pem(der: &[u8]) -> String {
    CertificateChain::from_der(vec![der.to_vec()])
        .map(|c| c.to_pem())
        .unwrap_or_default()
}

fn load_or_generate(key: Option<&Path>, key_out: Option<&Path>, kty: &str) -> Result<PrivateKey> {
    match (key, key_out) {
        (Some(k), _) => Ok(PrivateKey::load(&read(k)?, None)?),
        (None, Some(out)) => {
            let key = PrivateKey::generate(key_type(kty)?)?;
            files::write_atomic(out, key.to_pkcs8_pem().as_bytes(), 0o600)?;
            Ok(key)
        }
        (None, None) => Err(input("give --key, or --key-out to generate one")),
    }
}

fn main() {
    let cli = Cli::parse();
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
