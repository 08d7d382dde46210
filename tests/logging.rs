//! The log sink (`stepca::logging::set_log_sink`, behind `stepca_set_log_callback`) at a
//! real step-ca (run under scripts/with-ca.sh): the library's own records (each request and
//! its answer, a retry and why, a renewer's schedule and renewal), rustls's and ureq's, nothing
//! once it is turned off, and no
//! token, password, key or PIN in any record at the most detailed level, not even as the
//! hex of the bytes on the wire. One test: the sink is process-wide.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Ca, TempDir};
use stepca::logging::{Level, LevelFilter, LogSink, set_log_sink};
use stepca::{
    ClientBuilder, Credential, CsrRequest, KeyType, Pkcs11Key, PrivateKey, RenewAuth, Renewer,
    RenewerOptions, RetryPolicy, SignOptions, Token,
};

type Records = Arc<Mutex<Vec<(Level, String, String)>>>;

fn collect() -> (Records, LogSink) {
    let records: Records = Arc::default();
    let r = records.clone();
    let sink: LogSink = Arc::new(move |rec| {
        r.lock()
            .unwrap()
            .push((rec.level, rec.target.to_string(), rec.message.to_string()))
    });
    (records, sink)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn records_arrive_and_hold_no_secret() {
    let ca = Ca::get();
    let (records, sink) = collect();
    set_log_sink(LevelFilter::Trace, Some(sink)).unwrap();

    // A step token, a provisioner password, a key and a PIN all go through the library.
    let password = String::from_utf8(ca.password()).unwrap();
    let client = ca.minting_client();
    let token = ca.token("log.example.com", &["log.example.com"]);
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let key_pem = key.to_pkcs8_pem().to_string();
    let mut req = CsrRequest::new();
    req.subject("CN", "log.example.com").unwrap();
    let csr = req.build(&key).unwrap();
    let opts = SignOptions {
        token: Some(Token::new(token.clone()).into()),
        ..Default::default()
    };
    let chain = client.sign(csr.der(), &opts).unwrap();
    let minted = client.sign(csr.der(), &SignOptions::default()).unwrap();
    let cred = Credential::new(minted, key).unwrap();
    client.renew(&cred, RenewAuth::MutualTls).unwrap();
    // The x5cInsecure token goes in an Authorization header.
    let renew_token = client.renew_token(&cred).unwrap().to_string();
    client.renew(&cred, RenewAuth::Token).unwrap();

    // A PKCS#11 token with a PIN, and a wrong PIN.
    let dir = TempDir::new("logging");
    let pin = "PIN-8251-never-logged";
    let wrong_pin = "PIN-1234-wrong-guess";
    common::softhsm_token(&dir, "logtoken", pin);
    let module = std::path::Path::new(common::SOFTHSM_MODULE);
    Pkcs11Key::generate(module, "logtoken", pin, "k", KeyType::EcP256).unwrap();
    assert!(Pkcs11Key::generate(module, "logtoken", wrong_pin, "k2", KeyType::EcP256).is_err());

    // A request that never reaches a CA (nothing listens on the port) is retried.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut b = ClientBuilder::new(&format!("https://127.0.0.1:{port}"));
    b.root_file(&ca.root).unwrap();
    b.retry_policy(RetryPolicy {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
    })
    .unwrap();
    assert!(b.build().unwrap().health().is_err());

    // A renewer: its schedule and a renewal asked for now.
    let renewer = Renewer::start(
        client.clone(),
        cred.clone(),
        RenewerOptions::default(),
        |_| {},
    )
    .unwrap();
    renewer.renew_now();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !records
        .lock()
        .unwrap()
        .iter()
        .any(|(_, t, m)| t == "stepca::renewer" && m.starts_with("renewed: serial "))
    {
        assert!(std::time::Instant::now() < deadline, "no renewal record");
        std::thread::sleep(Duration::from_millis(50));
    }
    renewer.stop();

    let got = records.lock().unwrap().clone();
    let has = |target: &str, text: &str| {
        got.iter()
            .any(|(_, t, m)| t.starts_with(target) && m.contains(text))
    };
    let all = || {
        got.iter()
            .map(|(l, t, m)| format!("{l} {t}: {m}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(has("stepca::http", "POST /1.0/sign"), "{}", all());
    assert!(has("stepca::http", "HTTP 201 after "), "{}", all());
    assert!(has("stepca::http", "POST /1.0/renew"), "{}", all());
    assert!(has("stepca::renewer", "renewal due at 20"), "{}", all());
    assert!(
        has("stepca::http", "retry 1 of 1 in ")
            && has("stepca::http", "the request never reached the CA"),
        "{}",
        all()
    );
    assert!(
        got.iter().any(|(_, t, _)| t.starts_with("rustls")),
        "{}",
        all()
    );
    assert!(
        got.iter().any(|(_, t, _)| t.starts_with("ureq")),
        "{}",
        all()
    );
    // Never the wire: ureq-proto's trace records are hex dumps of it.
    assert!(
        !got.iter()
            .any(|(l, t, _)| *l == Level::Trace && t.starts_with("ureq_proto")),
        "{}",
        all()
    );

    let key_body = key_pem.lines().nth(1).unwrap();
    let secrets = [
        token.as_str(),
        &token[token.len() - 40..],
        &renew_token[renew_token.len() - 40..],
        password.trim(),
        key_body,
        pin,
        wrong_pin,
    ];
    for (_, target, message) in &got {
        let squeezed: String = message.split_whitespace().collect();
        for s in secrets {
            assert!(!message.contains(s), "secret in {target}: {message}");
            // Also as hex, 12 bytes at a time (a wire dump's row is 16).
            for part in s.as_bytes().chunks(12).filter(|c| c.len() == 12) {
                assert!(
                    !squeezed.contains(&hex(part)),
                    "secret as hex in {target}: {message}"
                );
            }
        }
    }
    drop(chain);

    // Off: nothing more arrives.
    set_log_sink(LevelFilter::Off, None).unwrap();
    let before = records.lock().unwrap().len();
    client.health().unwrap();
    assert_eq!(records.lock().unwrap().len(), before);
}
