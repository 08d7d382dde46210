//! Faults a real step-ca cannot produce, from a scripted HTTPS server on 127.0.0.1 (tokio,
//! dev-only): refused and reset connections, silence, slow and truncated bodies, non-JSON
//! and JSON error bodies, 5xx, oversized bodies, wrong or unverifiable chains, and bad
//! server certificates. Each maps to a documented error kind, within the timeout, with
//! no token spent twice.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use stepca::{
    Client, ClientBuilder, CsrRequest, ErrorKind, PrivateKey, RetryPolicy, SignOptions, Token,
    TokenClaims,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA of the test's own: root, intermediate, and certificates from them.
struct TestCa {
    root_pem: String,
    inter: CertificateParams,
    inter_key: KeyPair,
    inter_der: Vec<u8>,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let ca_params = |cn: &str| {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.distinguished_name = rcgen::DistinguishedName::new();
            p.distinguished_name.push(DnType::CommonName, cn);
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p
        };
        let root_key = KeyPair::generate().unwrap();
        let root = ca_params(&format!("{name} Root"));
        let root_cert = root.self_signed(&root_key).unwrap();
        let inter_key = KeyPair::generate().unwrap();
        let inter = ca_params(&format!("{name} Intermediate"));
        let inter_cert = inter
            .signed_by(&inter_key, &Issuer::from_params(&root, &root_key))
            .unwrap();
        TestCa {
            root_pem: root_cert.pem(),
            inter_der: inter_cert.der().to_vec(),
            inter,
            inter_key,
        }
    }

    /// A leaf for `key`, issued by the intermediate.
    fn leaf(&self, key: &KeyPair, sans: &[&str], past: bool) -> Vec<u8> {
        let mut p =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        if past {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        p.signed_by(key, &Issuer::from_params(&self.inter, &self.inter_key))
            .unwrap()
            .der()
            .to_vec()
    }

    /// A leaf that names the intermediate as issuer but is signed by another key.
    fn forged_leaf(&self, key: &KeyPair) -> Vec<u8> {
        let impostor = KeyPair::generate().unwrap();
        CertificateParams::new(vec!["x".to_string()])
            .unwrap()
            .signed_by(key, &Issuer::from_params(&self.inter, &impostor))
            .unwrap()
            .der()
            .to_vec()
    }
}

fn pem(der: &[u8]) -> String {
    ::pem::encode(&::pem::Pem::new("CERTIFICATE", der.to_vec()))
}

#[derive(Clone)]
enum Fault {
    /// Accept, then close without a word (the client sees a reset or EOF).
    Close,
    /// Read the request, never answer.
    Silent,
    /// Send headers, then a byte of body every 400 ms.
    SlowBody,
    /// Promise 1000 bytes of body, send 10, close.
    Truncated,
    /// Answer with this status, content type and body.
    Answer(u16, &'static str, String),
    /// Answer 503 to the first `n` requests, then this.
    FailFirst(usize, Box<Fault>),
}

struct FaultServer {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    _rt: tokio::runtime::Runtime,
}

fn server_tls(ca: &TestCa, names: &[&str], past: bool) -> Arc<tokio_rustls::rustls::ServerConfig> {
    let key = KeyPair::generate().unwrap();
    let leaf = ca.leaf(&key, names, past);
    let chain = vec![
        CertificateDer::from(leaf),
        CertificateDer::from(ca.inter_der.clone()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    Arc::new(
        tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
    )
}

async fn read_request<S: AsyncReadExt + Unpin>(s: &mut S) -> Option<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = s.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(());
        }
    }
}

async fn serve<S: AsyncReadExt + AsyncWriteExt + Unpin>(mut s: S, fault: &Fault, hit: usize) {
    if matches!(fault, Fault::Close) {
        return;
    }
    if read_request(&mut s).await.is_none() {
        return;
    }
    let answer = |status: u16, ctype: &str, body: &str| {
        format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    match fault {
        Fault::Close => {}
        Fault::Silent => tokio::time::sleep(Duration::from_secs(30)).await,
        Fault::SlowBody => {
            let _ = s
                .write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 100\r\n\r\n")
                .await;
            for _ in 0..100 {
                if s.write_all(b"{").await.is_err() || s.flush().await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
        }
        Fault::Truncated => {
            let _ = s
                .write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 1000\r\n\r\n{\"crt\":\"--")
                .await;
            let _ = s.flush().await;
        }
        Fault::Answer(status, ctype, body) => {
            let _ = s.write_all(answer(*status, ctype, body).as_bytes()).await;
            let _ = s.flush().await;
        }
        Fault::FailFirst(n, then) => {
            if hit < *n {
                let _ = s
                    .write_all(
                        answer(
                            503,
                            "application/json",
                            r#"{"status":503,"message":"busy"}"#,
                        )
                        .as_bytes(),
                    )
                    .await;
            } else if let Fault::Answer(status, ctype, body) = &**then {
                let _ = s.write_all(answer(*status, ctype, body).as_bytes()).await;
            }
            let _ = s.flush().await;
        }
    }
    let _ = s.shutdown().await;
}

impl FaultServer {
    fn start(tls: Arc<tokio_rustls::rustls::ServerConfig>, fault: Fault) -> FaultServer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let acceptor = TlsAcceptor::from(tls);
        rt.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let hit = h.fetch_add(1, Ordering::SeqCst);
                let (acceptor, fault) = (acceptor.clone(), fault.clone());
                tokio::spawn(async move {
                    if matches!(fault, Fault::Close) {
                        // Linger 0: the close is a reset, as a crashed peer's would be.
                        #[allow(deprecated)] // linger 0 is the point: a reset, not a FIN
                        let _ = tcp.set_linger(Some(Duration::ZERO));
                        drop(tcp);
                        return;
                    }
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        serve(tls, &fault, hit).await;
                    }
                });
            }
        });
        FaultServer {
            addr,
            hits,
            _rt: rt,
        }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn counting_provider(calls: Arc<AtomicUsize>) -> Arc<dyn stepca::TokenProvider> {
    Arc::new(
        move |_: &TokenClaims| -> Result<Token, stepca::ProviderError> {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            Ok(Token::new(format!("token.number.{n}")))
        },
    )
}

fn client_for(url: &str, root_pem: &str, timeout: Duration, calls: Arc<AtomicUsize>) -> Client {
    ClientBuilder::new(url)
        .root_pem(root_pem.as_bytes())
        .unwrap()
        .timeout(timeout)
        .unwrap()
        .connect_timeout(Duration::from_millis(500))
        .unwrap()
        .retry_policy(RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(50),
        })
        .unwrap()
        .token_provider(counting_provider(calls))
        .build()
        .unwrap()
}

/// A key as rcgen and libstepca both see it, and a CSR for it.
fn key_and_csr() -> (KeyPair, Vec<u8>) {
    let kp = KeyPair::generate().unwrap();
    let key = PrivateKey::load(kp.serialize_pem().as_bytes(), None).unwrap();
    let mut req = CsrRequest::new();
    req.subject("CN", "fault.example.com").unwrap();
    (kp, req.build(&key).unwrap().der().to_vec())
}

fn sign_against(fault: Fault, timeout: Duration) -> (stepca::Error, usize, usize, Duration) {
    let ca = TestCa::new("Fault");
    let server = FaultServer::start(server_tls(&ca, &["127.0.0.1"], false), fault);
    let calls = Arc::new(AtomicUsize::new(0));
    let client = client_for(&server.url(), &ca.root_pem, timeout, calls.clone());
    let (_, csr) = key_and_csr();
    let start = Instant::now();
    let e = client.sign(&csr, &SignOptions::default()).unwrap_err();
    (
        e,
        server.hits(),
        calls.load(Ordering::SeqCst),
        start.elapsed(),
    )
}

/// A free port (bound, then released): connections are refused until a test listens on it.
fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn refused_connections_are_retried_with_the_same_token() {
    // A provider holding a single token: a second request for one fails. The token never
    // left the machine, so every attempt sends it, and the error is the real cause.
    let port = unused_port();
    let ca = TestCa::new("Refused");
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let one_token = Arc::new(
        move |_: &TokenClaims| -> Result<Token, stepca::ProviderError> {
            match counted.fetch_add(1, Ordering::SeqCst) {
                0 => Ok(Token::new("the.only.token")),
                _ => Err("no tokens left".into()),
            }
        },
    );
    let client = client_for(
        &format!("https://127.0.0.1:{port}"),
        &ca.root_pem,
        Duration::from_secs(5),
        Arc::new(AtomicUsize::new(0)),
    )
    .with_token_provider(one_token);
    let (_, csr) = key_and_csr();
    let e = client.sign(&csr, &SignOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    assert!(e.message().contains("refused"), "{e}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "one token for all attempts"
    );
}

#[test]
fn a_reset_after_connecting_is_not_retried() {
    let (e, hits, calls, _) = sign_against(Fault::Close, Duration::from_secs(5));
    assert!(
        matches!(e.kind(), ErrorKind::Transport | ErrorKind::Tls),
        "{e:?}"
    );
    assert_eq!(
        (hits, calls),
        (1, 1),
        "the request may have reached the CA: no retry"
    );
}

#[test]
fn silence_times_out_within_the_timeout() {
    let (e, hits, calls, took) = sign_against(Fault::Silent, Duration::from_millis(1500));
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    assert_eq!((hits, calls), (1, 1));
}

#[test]
fn a_slow_body_times_out() {
    let (e, _, _, took) = sign_against(Fault::SlowBody, Duration::from_millis(1500));
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(took < Duration::from_millis(2500), "{took:?}");
}

#[test]
fn a_truncated_body_is_a_transport_error() {
    let (e, hits, _, _) = sign_against(Fault::Truncated, Duration::from_secs(5));
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    assert_eq!(hits, 1);
}

#[test]
fn non_json_and_json_error_bodies() {
    let cases = [
        (
            Fault::Answer(404, "text/plain", "404 page not found\n".into()),
            404,
            None,
            "404 page not found",
        ),
        (
            Fault::Answer(405, "text/plain", String::new()),
            405,
            None,
            "no message",
        ),
        (
            Fault::Answer(
                403,
                "application/json",
                r#"{"status":403,"message":"forbidden by policy"}"#.into(),
            ),
            403,
            Some("forbidden by policy"),
            "forbidden by policy",
        ),
        (
            Fault::Answer(
                401,
                "application/json",
                r#"{"type":"unauthorized","detail":"unauthorized","message":"bad issuer"}"#.into(),
            ),
            401,
            Some("bad issuer"),
            "bad issuer",
        ),
        (
            Fault::Answer(
                500,
                "application/json",
                r#"{"status":500,"message":"boom"}"#.into(),
            ),
            500,
            Some("boom"),
            "boom",
        ),
    ];
    for (fault, status, ca_message, needle) in cases {
        let (e, hits, calls, _) = sign_against(fault, Duration::from_secs(5));
        assert_eq!(
            (e.kind(), e.http_status()),
            (ErrorKind::CaRejected, Some(status)),
            "{e}"
        );
        assert_eq!(e.ca_message(), ca_message);
        assert!(e.message().contains(needle), "{e}");
        assert_eq!(
            (hits, calls),
            (1, 1),
            "a sign answered by the CA is never retried"
        );
    }
}

#[test]
fn gets_are_retried_after_5xx() {
    let ca = TestCa::new("Get");
    let ok = Fault::Answer(200, "application/json", r#"{"status":"ok"}"#.into());
    let server = FaultServer::start(
        server_tls(&ca, &["127.0.0.1"], false),
        Fault::FailFirst(2, Box::new(ok)),
    );
    let client = client_for(
        &server.url(),
        &ca.root_pem,
        Duration::from_secs(5),
        Arc::new(AtomicUsize::new(0)),
    );
    client.health().unwrap();
    assert_eq!(server.hits(), 3);
    let always = FaultServer::start(
        server_tls(&ca, &["127.0.0.1"], false),
        Fault::Answer(
            503,
            "application/json",
            r#"{"status":503,"message":"down"}"#.into(),
        ),
    );
    let client = client_for(
        &always.url(),
        &ca.root_pem,
        Duration::from_secs(5),
        Arc::new(AtomicUsize::new(0)),
    );
    let e = client.version().unwrap_err();
    assert_eq!(
        (e.kind(), e.http_status(), always.hits()),
        (ErrorKind::CaRejected, Some(503), 3)
    );
}

#[test]
fn an_oversized_body_is_refused() {
    let big = format!("{{\"crt\":\"{}\"}}", "A".repeat(2 << 20));
    let (e, _, _, _) = sign_against(
        Fault::Answer(201, "application/json", big),
        Duration::from_secs(10),
    );
    assert_eq!(e.kind(), ErrorKind::MalformedResponse, "{e}");
    assert!(e.message().contains("limit"), "{e}");
}

#[test]
fn wrong_and_unverifiable_chains_keep_what_was_issued() {
    let ca = TestCa::new("Chain");
    let (kp, csr) = key_and_csr();
    let other = KeyPair::generate().unwrap();
    // A sign request to a server that answers `answer` with a 201.
    let sign_answered = |answer: String| {
        let server = FaultServer::start(
            server_tls(&ca, &["127.0.0.1"], false),
            Fault::Answer(201, "application/json", answer),
        );
        client_for(
            &server.url(),
            &ca.root_pem,
            Duration::from_secs(5),
            Arc::new(AtomicUsize::new(0)),
        )
        .sign(&csr, &SignOptions::default())
    };
    let body = |leaf: Vec<u8>| {
        serde_json::json!({"crt": pem(&leaf), "ca": pem(&ca.inter_der), "certChain": [pem(&leaf), pem(&ca.inter_der)]}).to_string()
    };
    let cases = [
        (
            body(ca.leaf(&other, &["x"], false)),
            "does not carry the CSR's public key",
        ),
        (body(ca.forged_leaf(&kp)), "is not signed by"),
    ];
    for (answer, needle) in cases {
        let e = sign_answered(answer).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ChainInvalid, "{e}");
        assert!(e.message().contains(needle), "{e}");
        assert!(
            e.received().unwrap().contains("BEGIN CERTIFICATE"),
            "the issued chain is kept"
        );
    }
    // A correct answer passes, also with only crt + ca (no certChain).
    let good =
        serde_json::json!({"crt": pem(&ca.leaf(&kp, &["x"], false)), "ca": pem(&ca.inter_der)})
            .to_string();
    assert_eq!(sign_answered(good).unwrap().len(), 2);
    // Garbage with a 201 is malformed, and kept too.
    let e = sign_answered("{\"crt\":".into()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MalformedResponse);
    assert_eq!(e.received(), Some("{\"crt\":"));
    // PEM blocks that are not X.509 certificates (the intermediate's position, then the
    // leaf's, a valid certificate with bytes after it): malformed, naming the position,
    // with the whole answer kept.
    let mut trailing = ca.leaf(&kp, &["x"], false);
    trailing.push(0);
    for (chain, index) in [
        (
            [pem(&ca.leaf(&kp, &["x"], false)), pem(b"not a certificate")],
            1,
        ),
        ([pem(&trailing), pem(&ca.inter_der)], 0),
    ] {
        let answer = serde_json::json!({ "certChain": chain }).to_string();
        let e = sign_answered(answer.clone()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MalformedResponse, "{e}");
        assert!(
            e.message()
                .contains(&format!("chain[{index}] is not a valid X.509 certificate")),
            "{e}"
        );
        assert_eq!(e.received(), Some(answer.as_str()));
    }
}

#[test]
fn bad_server_certificates_fail_tls_before_a_token_is_used() {
    let ca = TestCa::new("Server");
    let other = TestCa::new("Other");
    // A good server of the same CA first: the process remembers its chain's signatures
    // (the intermediate's by the root, for one), and the bad ones below share that
    // intermediate. Only the signatures are remembered: dates and names are still checked.
    let good = FaultServer::start(
        server_tls(&ca, &["127.0.0.1"], false),
        Fault::Answer(201, "application/json", "{}".into()),
    );
    let client = client_for(
        &good.url(),
        &ca.root_pem,
        Duration::from_secs(5),
        Arc::new(AtomicUsize::new(0)),
    );
    let (_, csr) = key_and_csr();
    let e = client.sign(&csr, &SignOptions::default()).unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::MalformedResponse,
        "the good server: {e}"
    );
    for (tls, what) in [
        (server_tls(&other, &["127.0.0.1"], false), "another root"),
        (
            server_tls(&ca, &["ca.example.org"], false),
            "another host name",
        ),
        (server_tls(&ca, &["127.0.0.1"], true), "expired"),
    ] {
        let server = FaultServer::start(tls, Fault::Answer(201, "application/json", "{}".into()));
        let calls = Arc::new(AtomicUsize::new(0));
        let client = client_for(
            &server.url(),
            &ca.root_pem,
            Duration::from_secs(5),
            calls.clone(),
        );
        let (_, csr) = key_and_csr();
        let e = client.sign(&csr, &SignOptions::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls, "{what}: {e}");
        assert!(calls.load(Ordering::SeqCst) <= 1, "{what}: not retried");
    }
}

#[test]
fn tls_1_0_only_servers_are_refused() {
    let ca = TestCa::new("Legacy");
    let dir = std::env::temp_dir().join(format!("stepca-tls10-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = KeyPair::generate().unwrap();
    std::fs::write(dir.join("k.pem"), key.serialize_pem()).unwrap();
    std::fs::write(
        dir.join("c.pem"),
        pem(&ca.leaf(&key, &["127.0.0.1"], false)) + &pem(&ca.inter_der),
    )
    .unwrap();
    let port = unused_port();
    let mut server = std::process::Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-tls1",
            "-cipher",
            "DEFAULT@SECLEVEL=0",
            "-accept",
        ])
        .arg(port.to_string())
        .arg("-cert")
        .arg(dir.join("c.pem"))
        .arg("-key")
        .arg(dir.join("k.pem"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the listener.
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let client = client_for(
        &format!("https://127.0.0.1:{port}"),
        &ca.root_pem,
        Duration::from_secs(5),
        Arc::new(AtomicUsize::new(0)),
    );
    let e = client.health().unwrap_err();
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
}

#[test]
fn a_per_call_token_is_reused_only_when_it_never_left() {
    // Refused: the token never reached anyone, so the same per-call token is tried again.
    let port = unused_port();
    let ca = TestCa::new("PerCall");
    let calls = Arc::new(AtomicUsize::new(0));
    let client = client_for(
        &format!("https://127.0.0.1:{port}"),
        &ca.root_pem,
        Duration::from_secs(5),
        calls.clone(),
    );
    let (_, csr) = key_and_csr();
    let opts = SignOptions {
        token: Some(Token::new("a.b.c").into()),
        ..Default::default()
    };
    assert_eq!(
        client.sign(&csr, &opts).unwrap_err().kind(),
        ErrorKind::Transport
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the provider is not asked when a token is given"
    );
}

/// A certificate of the test's own making: params, key, DER.
struct Made {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

/// Makes a certificate for `cn` (a CA unless `tweak` says otherwise), signed by `issuer`
/// (self-signed without one), after `tweak` adjusts its parameters. `key` is the subject
/// key (a new one when None).
fn make(
    cn: &str,
    issuer: Option<&Made>,
    key: Option<KeyPair>,
    tweak: impl FnOnce(&mut CertificateParams),
) -> Made {
    let key = key.unwrap_or_else(|| KeyPair::generate().unwrap());
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    tweak(&mut p);
    let der = match issuer {
        Some(i) => p
            .signed_by(&key, &Issuer::from_params(&i.params, &i.key))
            .unwrap(),
        None => p.self_signed(&key).unwrap(),
    }
    .der()
    .to_vec();
    Made {
        params: p,
        key,
        der,
    }
}

fn leaf_params(p: &mut CertificateParams) {
    p.is_ca = IsCa::ExplicitNoCa;
    p.subject_alt_names = vec![rcgen::SanType::DnsName("leaf.example".try_into().unwrap())];
}

/// Signs `csr` with a server that answers the chain `certs` (leaf first), through a
/// client trusting `root` (TLS verification on unless `tls_off`).
fn sign_answered(
    csr: &[u8],
    certs: &[&[u8]],
    root: &Made,
    tls_off: bool,
) -> stepca::Result<stepca::CertificateChain> {
    // The server's TLS identity comes from a CA of its own: only the answer is under test.
    let server_ca = TestCa::new("TLS");
    let pems: Vec<String> = certs.iter().map(|c| pem(c)).collect();
    let body =
        serde_json::json!({"crt": pems[0], "ca": pems.get(1), "certChain": pems}).to_string();
    let server = FaultServer::start(
        server_tls(&server_ca, &["127.0.0.1"], false),
        Fault::Answer(201, "application/json", body),
    );
    let mut b = ClientBuilder::new(&server.url());
    b.root_pem(pem(&root.der).as_bytes()).unwrap();
    if tls_off {
        b.danger_disable_tls_verification();
    } else {
        // Trust the server's TLS root too, but check the answer against `root`: the
        // answer's chain must lead there.
        b.root_pem(format!("{}{}", pem(&root.der), server_ca.root_pem).as_bytes())
            .unwrap();
    }
    let opts = SignOptions {
        token: Some(Token::new("a.b.c").into()),
        ..Default::default()
    };
    b.build().unwrap().sign(csr, &opts)
}

#[test]
fn issued_chains_are_validated_as_a_pki_would() {
    let device = KeyPair::generate().unwrap();
    let key = PrivateKey::load(device.serialize_pem().as_bytes(), None).unwrap();
    let mut req = CsrRequest::new();
    req.subject("CN", "leaf.example").unwrap();
    let csr = req.build(&key).unwrap().der().to_vec();
    let device_key = || Some(KeyPair::from_pem(&device.serialize_pem()).unwrap());

    let root = make("Root", None, None, |_| {});
    let inter = make("Intermediate", Some(&root), None, |_| {});
    let good = make("leaf.example", Some(&inter), device_key(), leaf_params);
    let chain = sign_answered(&csr, &[&good.der, &inter.der], &root, false).unwrap();
    assert_eq!(chain.len(), 2, "a good chain passes");

    let expired = make("leaf.example", Some(&inter), device_key(), |p| {
        leaf_params(p);
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    });
    let future = make("leaf.example", Some(&inter), device_key(), |p| {
        leaf_params(p);
        p.not_before = rcgen::date_time_ymd(2040, 1, 1);
        p.not_after = rcgen::date_time_ymd(2041, 1, 1);
    });
    let not_ca = make("Not a CA", Some(&root), None, |p| {
        p.is_ca = IsCa::ExplicitNoCa
    });
    let under_not_ca = make("leaf.example", Some(&not_ca), device_key(), leaf_params);
    let no_certsign = make("No keyCertSign", Some(&root), None, |p| {
        p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    });
    let under_no_certsign = make(
        "leaf.example",
        Some(&no_certsign),
        device_key(),
        leaf_params,
    );
    let len0 = make("Path length 0", Some(&root), None, |p| {
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    });
    let below_len0 = make("Below path length 0", Some(&len0), None, |_| {});
    let too_deep = make("leaf.example", Some(&below_len0), device_key(), leaf_params);
    let other_key = make("leaf.example", Some(&inter), None, leaf_params);
    let foreign_root = make("Foreign Root", None, None, |_| {});
    let foreign_inter = make("Foreign Intermediate", Some(&foreign_root), None, |_| {});
    let foreign = make(
        "leaf.example",
        Some(&foreign_inter),
        device_key(),
        leaf_params,
    );
    let expired_inter = make("Expired Intermediate", Some(&root), None, |p| {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    });
    let under_expired = make(
        "leaf.example",
        Some(&expired_inter),
        device_key(),
        leaf_params,
    );

    let cases: Vec<(&str, Vec<&[u8]>, bool, &str)> = vec![
        (
            "expired leaf",
            vec![&expired.der, &inter.der],
            false,
            "the leaf expired at 2021-01-01T00:00:00Z",
        ),
        (
            "leaf not valid yet",
            vec![&future.der, &inter.der],
            false,
            "the leaf is not valid before 2040-01-01T00:00:00Z",
        ),
        (
            "expired intermediate",
            vec![&under_expired.der, &expired_inter.der],
            false,
            "intermediate 1 expired at 2021-01-01",
        ),
        (
            "intermediate without CA basicConstraints",
            vec![&under_not_ca.der, &not_ca.der],
            false,
            "intermediate 1 issues certificates but is not a CA",
        ),
        (
            "intermediate without keyCertSign",
            vec![&under_no_certsign.der, &no_certsign.der],
            false,
            "intermediate 1 has a keyUsage without keyCertSign",
        ),
        (
            "path length exceeded",
            vec![&too_deep.der, &below_len0.der, &len0.der],
            false,
            "intermediate 2 has a path length constraint",
        ),
        (
            "leaf with the wrong key",
            vec![&other_key.der, &inter.der],
            false,
            "does not carry the CSR's public key",
        ),
        (
            "foreign root",
            vec![&foreign.der, &foreign_inter.der],
            false,
            "does not lead to a configured root",
        ),
        (
            "TLS verification off, foreign root",
            vec![&foreign.der, &foreign_inter.der],
            true,
            "does not lead to a configured root",
        ),
        (
            "TLS verification off, expired leaf",
            vec![&expired.der, &inter.der],
            true,
            "the leaf expired at",
        ),
    ];
    for (name, certs, tls_off, needle) in cases {
        let e = sign_answered(&csr, &certs, &root, tls_off).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ChainInvalid, "{name}: {e}");
        assert!(
            e.message().starts_with("sign: certificate: "),
            "{name}: {e}"
        );
        assert!(e.message().contains(needle), "{name}: {e}");
        let kept = e.received().unwrap_or_default();
        assert_eq!(
            kept,
            certs
                .iter()
                .map(|c| pem(c).replace("\r\n", "\n"))
                .collect::<String>(),
            "{name}: the issued chain is kept whole"
        );
    }
    // With TLS verification off, a good chain still passes.
    assert!(sign_answered(&csr, &[&good.der, &inter.der], &root, true).is_ok());
}

#[test]
fn a_ca_certificate_out_of_date_is_named_with_the_clock_that_judged_it() {
    let ca = TestCa::new("Dated");
    let server = FaultServer::start(
        server_tls(&ca, &["127.0.0.1"], true),
        Fault::Answer(201, "application/json", "{}".into()),
    );
    let (_, csr) = key_and_csr();
    let e = client_for(
        &server.url(),
        &ca.root_pem,
        Duration::from_secs(5),
        Arc::new(AtomicUsize::new(0)),
    )
    .sign(&csr, &SignOptions::default())
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(
        e.message().contains(
            "the CA's certificate expired at 2021-01-01T00:00:00Z, and this device's clock says it is 20"
        ) && e.message().ends_with("set it or give the client a time source"),
        "{e}"
    );
    // A time source back in 2020 sees it valid: the handshake is checked at the client's time.
    let mut b = ClientBuilder::new(&server.url());
    b.root_pem(ca.root_pem.as_bytes())
        .unwrap()
        .time_source(Some(Arc::new(|| {
            std::time::UNIX_EPOCH + Duration::from_secs(1_600_000_000)
        })));
    let opts = SignOptions {
        token: Some(Token::new("a.b.c").into()),
        ..Default::default()
    };
    let e = b.build().unwrap().sign(&csr, &opts).unwrap_err();
    assert_ne!(e.kind(), ErrorKind::Tls, "{e}");
}
