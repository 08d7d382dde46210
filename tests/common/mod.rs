//! Helpers shared by the integration tests: the CA under test (started by
//! scripts/with-ca.sh), tokens minted by the real `step` CLI, and independent checks with
//! `openssl`.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The step-ca the tests run against, from the environment scripts/ca-start.sh exports.
pub struct Ca {
    pub url: String,
    pub root: PathBuf,
    pub provisioner: String,
    pub password_file: PathBuf,
}

impl Ca {
    /// The CA, or a panic explaining how to run the test.
    pub fn get() -> Ca {
        let var = |k: &str| {
            std::env::var(k).unwrap_or_else(|_| {
                panic!("{k} is not set: run these tests under scripts/with-ca.sh (see README)")
            })
        };
        Ca {
            url: var("STEPCA_URL"),
            root: var("STEPCA_ROOT").into(),
            provisioner: var("STEPCA_PROVISIONER"),
            password_file: var("STEPCA_PASSWORD_FILE").into(),
        }
    }

    /// A sign token from `step ca token SUBJECT --san ...`.
    pub fn token(&self, subject: &str, sans: &[&str]) -> String {
        self.token_with(subject, sans, &[])
    }

    /// Like [`Ca::token`] with extra `step ca token` flags.
    pub fn token_with(&self, subject: &str, sans: &[&str], extra: &[&str]) -> String {
        let mut cmd = Command::new("step");
        cmd.args(["ca", "token", subject]);
        for s in sans {
            cmd.args(["--san", s]);
        }
        cmd.args(["--provisioner", &self.provisioner])
            .arg("--password-file")
            .arg(&self.password_file)
            .args(["--ca-url", &self.url])
            .arg("--root")
            .arg(&self.root)
            .args(extra);
        let out = cmd.output().expect("run step");
        assert!(
            out.status.success(),
            "step ca token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// The provisioners' password, without the file's newline.
    pub fn password(&self) -> Vec<u8> {
        std::fs::read_to_string(&self.password_file)
            .unwrap()
            .trim()
            .as_bytes()
            .to_vec()
    }

    /// A client trusting the CA's root that mints its own tokens with the `admin`
    /// provisioner, fetched from the CA.
    pub fn minting_client(&self) -> stepca::Client {
        let base = stepca::ClientBuilder::new(&self.url)
            .root_file(&self.root)
            .unwrap()
            .build()
            .unwrap();
        let prov = base
            .jwk_provisioner("admin", None, &self.password())
            .unwrap();
        base.with_token_provider(std::sync::Arc::new(prov))
    }

    pub fn root_pem(&self) -> Vec<u8> {
        std::fs::read(&self.root).unwrap()
    }
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "stepca-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a command, asserting success; returns stdout.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes `key_pem` encrypted by openssl (PKCS#8, PBES2 with AES-256-CBC) under
/// `passphrase` into `dir`, and returns the encrypted file's path.
pub fn openssl_encrypt_pkcs8(dir: &TempDir, key_pem: &str, passphrase: &str) -> PathBuf {
    let plain = dir.path("plain-key.pem");
    std::fs::write(&plain, key_pem).unwrap();
    let enc = dir.path("encrypted-key.pem");
    run(
        "openssl",
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            plain.to_str().unwrap(),
            "-passout",
            &format!("pass:{passphrase}"),
            "-out",
            enc.to_str().unwrap(),
        ],
    );
    enc
}

/// Runs a command with `input` on stdin; returns (success, stdout+stderr).
pub fn run_stdin(program: &str, args: &[&str], input: &[u8]) -> (bool, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// `openssl req -verify -text` on a CSR (PEM or DER); returns the text.
pub fn openssl_req_text(csr: &[u8], der: bool) -> String {
    let inform = if der { "DER" } else { "PEM" };
    let (ok, text) = run_stdin(
        "openssl",
        &[
            "req", "-verify", "-noout", "-text", "-inform", inform, "-nameopt", "RFC2253",
        ],
        csr,
    );
    assert!(ok, "openssl rejected the CSR: {text}");
    assert!(text.contains("verify OK"), "{text}");
    text
}

/// `openssl verify -CAfile root -untrusted chain leaf` on a PEM chain (leaf first).
pub fn openssl_verify_chain(root: &Path, chain_pem: &str, dir: &TempDir) {
    let chain = dir.path("chain.pem");
    std::fs::write(&chain, chain_pem).unwrap();
    let out = run(
        "openssl",
        &[
            "verify",
            "-CAfile",
            root.to_str().unwrap(),
            "-untrusted",
            chain.to_str().unwrap(),
            chain.to_str().unwrap(),
        ],
    );
    assert!(out.contains(": OK"), "{out}");
}

/// `openssl x509 -text` of the first certificate in a PEM.
pub fn openssl_x509_text(pem: &str) -> String {
    let (ok, text) = run_stdin(
        "openssl",
        &["x509", "-noout", "-text", "-nameopt", "RFC2253"],
        pem.as_bytes(),
    );
    assert!(ok, "{text}");
    text
}

/// What a [`Recording`] signer does wrong, if anything.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fault {
    None,
    /// Fails every signature.
    Fail,
    /// Answers a request for RSA-PSS with a PKCS#1 v1.5 signature.
    WrongScheme,
}

/// A signer around another that records every request (algorithm and message), and can
/// misbehave: shows which path a call took and what a bad signer does to it.
pub struct Recording {
    pub inner: std::sync::Arc<dyn stepca::Signer>,
    pub seen: std::sync::Mutex<Vec<(stepca::SignatureAlgorithm, Vec<u8>)>>,
    pub fault: Fault,
}

/// Whether `m` is a JWS signing input: two base64url parts joined by a dot.
pub fn is_jws_input(m: &[u8]) -> bool {
    m.iter().filter(|b| **b == b'.').count() == 1
        && m.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// What TLS 1.3 has a client sign to prove it holds its certificate's key (RFC 8446 4.4.3).
const TLS13_CLIENT_VERIFY: &[u8] = b"TLS 1.3, client CertificateVerify\0";

impl Recording {
    pub fn new(inner: std::sync::Arc<dyn stepca::Signer>, fault: Fault) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Recording {
            inner,
            seen: Default::default(),
            fault,
        })
    }

    /// The algorithms of the TLS 1.3 client CertificateVerify messages signed so far: one
    /// per mutual-TLS handshake the key took part in.
    pub fn handshakes(&self) -> Vec<stepca::SignatureAlgorithm> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, m)| {
                m.len() > 64
                    && m[..64].iter().all(|b| *b == 0x20)
                    && m[64..].starts_with(TLS13_CLIENT_VERIFY)
            })
            .map(|(a, _)| *a)
            .collect()
    }

    /// How many JWS signing inputs (`base64url.base64url`: tokens) were signed.
    pub fn tokens(&self) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, m)| is_jws_input(m))
            .count()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl stepca::Signer for Recording {
    fn public_key_spki(&self) -> &[u8] {
        self.inner.public_key_spki()
    }

    fn algorithm(&self) -> stepca::SignatureAlgorithm {
        self.inner.algorithm()
    }

    fn sign(
        &self,
        alg: stepca::SignatureAlgorithm,
        msg: &[u8],
    ) -> Result<Vec<u8>, stepca::ProviderError> {
        use stepca::SignatureAlgorithm as A;
        self.seen.lock().unwrap().push((alg, msg.to_vec()));
        match (self.fault, alg) {
            (Fault::Fail, _) => Err("the secure element is unplugged".into()),
            (Fault::WrongScheme, A::RsaPssSha256) => self.inner.sign(A::RsaPkcs1Sha256, msg),
            _ => self.inner.sign(alg, msg),
        }
    }
}

/// A device's birth certificate for `csr_pem`, issued by the rig's factory CA with `step
/// certificate sign` (leaf profile: digitalSignature, serverAuth and clientAuth), plus
/// `extra` flags (`--template`, `--not-after`, ...). `issuer` overrides the factory CA
/// (certificate, key) for a device from another factory. Returns the PEM.
pub fn factory_certificate(
    csr_pem: &str,
    dir: &TempDir,
    issuer: Option<(&Path, &Path)>,
    extra: &[&str],
) -> String {
    let var =
        |k: &str| PathBuf::from(std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set")));
    let (root, key) = match issuer {
        Some((c, k)) => (c.to_path_buf(), k.to_path_buf()),
        None => (var("STEPCA_FACTORY_ROOT"), var("STEPCA_FACTORY_KEY")),
    };
    let csr = dir.path("idevid.csr");
    std::fs::write(&csr, csr_pem).unwrap();
    let mut args = vec![
        "certificate",
        "sign",
        csr.to_str().unwrap(),
        root.to_str().unwrap(),
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run("step", &args)
}

/// Another factory's root CA (certificate, unencrypted key) in `dir`.
pub fn other_factory(dir: &TempDir) -> (PathBuf, PathBuf) {
    let (crt, key) = (dir.path("other_root.crt"), dir.path("other_root_key"));
    run(
        "step",
        &[
            "certificate",
            "create",
            "Another Factory Root CA",
            crt.to_str().unwrap(),
            key.to_str().unwrap(),
            "--profile",
            "root-ca",
            "--no-password",
            "--insecure",
            "-f",
        ],
    );
    (crt, key)
}

/// SoftHSM2's PKCS#11 module, as Debian installs it.
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A SoftHSM2 token of the test's own in `dir`, labelled `label` with user PIN `pin`, and
/// SOFTHSM2_CONF pointing at it. Call it before anything in the test binary loads the
/// module, from a binary with one test (it sets a process-wide variable).
pub fn softhsm_token(dir: &TempDir, label: &str, pin: &str) {
    std::fs::create_dir_all(dir.path("tokens")).unwrap();
    let conf = dir.path("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\n",
            dir.path("tokens").display()
        ),
    )
    .unwrap();
    // SAFETY: by this function's contract no other thread of the binary reads the
    // environment yet.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
    run(
        "softhsm2-util",
        &[
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            pin,
            "--so-pin",
            "5678",
        ],
    );
}

/// One of the repository's scripts, from the library's tests or the CLI's (cli/tests/
/// include this file too, with cli/ as their manifest dir).
pub fn script(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = if dir.join("scripts").is_dir() {
        dir
    } else {
        dir.parent().expect("the crate lies in the repository")
    };
    root.join("scripts").join(name)
}

/// A step-ca of one test's own (scripts/ca-start.sh), which the test may take down and
/// bring back up (scripts/ca-ctl.sh) without disturbing the shared one, and whose log holds
/// only the test's requests. Stopped on drop.
pub struct PrivateCa {
    pub ca: Ca,
    /// step-ca's log (`$STEPPATH/ca.log`).
    pub log: PathBuf,
    env_file: PathBuf,
}

impl PrivateCa {
    pub fn start() -> PrivateCa {
        let out = Command::new(script("ca-start.sh")).output().unwrap();
        assert!(
            out.status.success(),
            "ca-start.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let env_file = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        let text = std::fs::read_to_string(&env_file).unwrap();
        let var = |k: &str| -> String {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {k}=")))
                .unwrap_or_else(|| panic!("{k} missing from {}", env_file.display()))
                .trim_matches('\'')
                .to_string()
        };
        PrivateCa {
            ca: Ca {
                url: var("STEPCA_URL"),
                root: var("STEPCA_ROOT").into(),
                provisioner: "admin".into(),
                password_file: var("STEPCA_PASSWORD_FILE").into(),
            },
            log: Path::new(&var("STEPPATH")).join("ca.log"),
            env_file,
        }
    }

    fn ctl(&self, cmd: &str) {
        let out = Command::new(script("ca-ctl.sh"))
            .arg(cmd)
            .arg(&self.env_file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ca-ctl.sh {cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the CA (its port refuses connections until `up`).
    pub fn down(&self) {
        self.ctl("down")
    }

    /// Starts it again with the same configuration, port and database.
    pub fn up(&self) {
        self.ctl("up")
    }
}

impl Drop for PrivateCa {
    fn drop(&mut self) {
        let _ = Command::new(script("ca-stop.sh"))
            .arg(&self.env_file)
            .status();
    }
}
