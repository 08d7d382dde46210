//! Wrong clocks against a real step-ca: a time source that is off, and the whole process
//! under libfaketime (+10 min, +2 h, 2000-01-01), with tokens from `step` and tokens
//! minted in process, with and without CA-time mode and a time source. Run under
//! scripts/with-ca.sh; the faketime cases need Debian's `faketime`.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Ca, TempDir, openssl_verify_chain};
use stepca::{
    CertificateChain, ClientBuilder, CsrRequest, ErrorKind, KeyType, PrivateKey, SanKind,
    SignOptions, TimeSource, Token,
};

fn csr(cn: &str) -> Vec<u8> {
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let mut req = CsrRequest::new();
    req.subject("CN", cn)
        .unwrap()
        .san(SanKind::Dns, cn)
        .unwrap();
    req.build(&key).unwrap().der().to_vec()
}

/// How a scenario gets its token and its time.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// A token from `step ca token`, minted on a machine with the right time.
    StepToken,
    /// Tokens minted in process by the JWK provisioner.
    Jwk,
    /// In process, in CA-time mode.
    JwkCaTime,
    /// In process, with a time source that knows the right time.
    JwkTimeSource,
}

/// Enrolls `cn` at the rig's CA. `source` replaces the client's clock; `real_now` is the
/// right time (for the time source of [`Mode::JwkTimeSource`]).
fn enroll(
    ca: &Ca,
    mode: Mode,
    source: Option<Arc<dyn TimeSource>>,
    step_token: Option<String>,
    cn: &str,
) -> stepca::Result<CertificateChain> {
    let mut b = ClientBuilder::new(&ca.url);
    b.root_file(&ca.root)?.time_source(source);
    if matches!(mode, Mode::JwkCaTime) {
        b.ca_time(true);
    }
    let client = b.build()?;
    let client = match mode {
        Mode::StepToken => client,
        _ => {
            let prov = client.jwk_provisioner("admin", None, &ca.password())?;
            client.with_token_provider(Arc::new(prov))
        }
    };
    let opts = SignOptions {
        token: step_token.map(|t| Token::new(t).into()),
        ..Default::default()
    };
    client.sign(&csr(cn), &opts)
}

fn shifted(by: i64) -> Arc<dyn TimeSource> {
    Arc::new(move || {
        if by >= 0 {
            SystemTime::now() + Duration::from_secs(by as u64)
        } else {
            SystemTime::now() - Duration::from_secs(by.unsigned_abs())
        }
    })
}

fn y2000() -> Arc<dyn TimeSource> {
    Arc::new(|| UNIX_EPOCH + Duration::from_secs(946_684_800))
}

#[test]
fn a_clock_ahead_gets_in_process_tokens_refused_and_is_named_with_its_offset() {
    let ca = Ca::get();
    for ahead in [600, 7200] {
        let e = enroll(&ca, Mode::Jwk, Some(shifted(ahead)), None, "ahead.example").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CaRejected, "{e}");
        assert_eq!(e.http_status(), Some(401), "{e}");
        let skew = e.clock_skew().expect("the CA's Date was read");
        assert!((skew - ahead).abs() <= 3, "skew {skew} for {ahead}");
        assert!(
            e.message()
                .contains(&format!("the time source is {} s ahead of the CA's", skew)),
            "{e}"
        );
    }
    // Within the leeway nothing is said, but the offset is still measured.
    let e = enroll(
        &ca,
        Mode::StepToken,
        None,
        Some("not.a.token".into()),
        "x.example",
    )
    .unwrap_err();
    assert!(e.clock_skew().is_some_and(|s| s.abs() <= 2), "{e:?}");
    assert!(!e.message().contains("ahead of"), "{e}");
}

#[test]
fn ca_time_mode_enrolls_a_device_whose_clock_is_off() {
    let ca = Ca::get();
    let dir = TempDir::new("clock");
    for ahead in [600, 7200] {
        let chain = enroll(
            &ca,
            Mode::JwkCaTime,
            Some(shifted(ahead)),
            None,
            "catime.example",
        )
        .unwrap_or_else(|e| panic!("{ahead}: {e}"));
        openssl_verify_chain(&ca.root, &chain.to_pem(), &dir);
    }
}

#[test]
fn a_clock_before_the_root_fails_closed_unless_a_time_source_is_right() {
    let ca = Ca::get();
    for mode in [Mode::Jwk, Mode::JwkCaTime] {
        let e = enroll(&ca, mode, Some(y2000()), None, "y2k.example").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Clock, "{mode:?}: {e}");
        assert!(
            e.message().starts_with("root_file: root ")
                && e.message().contains("is not valid before")
                && e.message().contains(
                    "the time source says it is 2000-01-01T00:00:00Z: the clock is wrong"
                ),
            "{mode:?}: {e}"
        );
    }
}

#[test]
fn tokens_are_timed_by_the_clients_clock() {
    let ca = Ca::get();
    let client = ClientBuilder::new(&ca.url)
        .root_file(&ca.root)
        .unwrap()
        .time_source(Some(shifted(3600)))
        .build()
        .unwrap();
    let seen = Arc::new(std::sync::Mutex::new(None));
    let s = seen.clone();
    let client = client.with_token_provider(Arc::new(
        move |c: &stepca::TokenClaims| -> Result<Token, stepca::ProviderError> {
            *s.lock().unwrap() = Some(c.now);
            Err("only looking".into())
        },
    ));
    let _ = client.sign(&csr("now.example"), &SignOptions::default());
    let told = seen.lock().unwrap().expect("the provider was asked");
    let expected = SystemTime::now() + Duration::from_secs(3600);
    let off = expected
        .duration_since(told)
        .unwrap_or_else(|e| e.duration());
    assert!(off < Duration::from_secs(5), "claims.now is off by {off:?}");
}

/// One scenario inside a process whose clock libfaketime moves. Run by
/// `clocks_under_faketime` with the scenario in the environment; prints one JSON line.
#[test]
#[ignore = "run by clocks_under_faketime inside faketime"]
fn faketime_child() {
    let ca = Ca::get();
    let mode = match std::env::var("CLOCK_MODE").unwrap().as_str() {
        "step" => Mode::StepToken,
        "jwk" => Mode::Jwk,
        "jwk-ca-time" => Mode::JwkCaTime,
        "jwk-time-source" => Mode::JwkTimeSource,
        m => panic!("unknown mode {m}"),
    };
    let source: Option<Arc<dyn TimeSource>> = match mode {
        Mode::JwkTimeSource => {
            // The right time, from the parent, carried on the monotonic clock (which the
            // parent tells libfaketime to leave alone).
            let real: u64 = std::env::var("REAL_NOW").unwrap().parse().unwrap();
            let start = Instant::now();
            Some(Arc::new(move || {
                UNIX_EPOCH + Duration::from_secs(real) + start.elapsed()
            }))
        }
        _ => None,
    };
    let token = std::env::var("STEP_TOKEN").ok();
    let out = match enroll(&ca, mode, source, token, "faketime.example") {
        Ok(chain) => serde_json::json!({"ok": true, "pem": chain.to_pem()}),
        Err(e) => serde_json::json!({
            "ok": false,
            "kind": format!("{:?}", e.kind()),
            "message": e.message(),
            "skew": e.clock_skew(),
        }),
    };
    println!("RESULT {out}");
}

#[test]
fn clocks_under_faketime() {
    let ca = Ca::get();
    if Command::new("faketime").arg("--version").output().is_err() {
        panic!("faketime is not installed (Debian package faketime; scripts/install-deps.sh)");
    }
    let dir = TempDir::new("faketime");
    let me = std::env::current_exe().unwrap();
    let run = |fake: &str, mode: &str| -> serde_json::Value {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut cmd = Command::new("faketime");
        cmd.args(["-f", fake])
            .arg(&me)
            .args(["--ignored", "--exact", "faketime_child", "--nocapture"])
            .env("CLOCK_MODE", mode)
            .env("REAL_NOW", real.to_string())
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        if mode == "step" {
            cmd.env(
                "STEP_TOKEN",
                ca.token("faketime.example", &["faketime.example"]),
            );
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .unwrap_or_else(|| {
                panic!(
                    "{fake} {mode}: no result\n{text}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        serde_json::from_str(line).unwrap()
    };
    let ok = |fake: &str, mode: &str| {
        let r = run(fake, mode);
        assert_eq!(r["ok"], true, "{fake} {mode}: {r}");
        openssl_verify_chain(&ca.root, r["pem"].as_str().unwrap(), &dir);
    };
    for (fake, ahead) in [("+10m", 600), ("+2h", 7200)] {
        ok(fake, "step");
        ok(fake, "jwk-ca-time");
        ok(fake, "jwk-time-source");
        let r = run(fake, "jwk");
        assert_eq!(r["ok"], false, "{fake} jwk: {r}");
        assert_eq!(r["kind"], "CaRejected", "{fake}: {r}");
        let skew = r["skew"].as_i64().unwrap();
        assert!((skew - ahead).abs() <= 3, "{fake}: skew {skew}");
        assert!(
            r["message"].as_str().unwrap().contains(&format!(
                "this device's clock is {skew} s ahead of the CA's"
            )),
            "{fake}: {r}"
        );
    }
    let y2k = "@2000-01-01 00:00:00";
    for mode in ["step", "jwk", "jwk-ca-time"] {
        let r = run(y2k, mode);
        assert_eq!(r["kind"], "Clock", "{mode}: {r}");
        let m = r["message"].as_str().unwrap();
        assert!(
            m.contains("this device's clock says it is 2000-01-01T00:00")
                && m.contains("the clock is wrong"),
            "{mode}: {m}"
        );
    }
    ok(y2k, "jwk-time-source");
}

#[test]
fn roots_not_valid_at_the_clients_time_are_refused_when_the_client_is_built() {
    let ca = Ca::get();
    // The rig's root is valid for ten years: in 2200 it has expired.
    let y2200: Arc<dyn TimeSource> = Arc::new(|| UNIX_EPOCH + Duration::from_secs(7_258_118_400));
    let e = ClientBuilder::new(&ca.url)
        .root_pem(&ca.root_pem())
        .unwrap()
        .time_source(Some(y2200))
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(
        e.message().starts_with("root: root ")
            && e.message().contains(" expired at ")
            && e.message()
                .contains("the time source says it is 2200-01-01T00:00:00Z"),
        "{e}"
    );
    // Bootstrapped by fingerprint, the fetched root is checked the same way.
    let fp = std::env::var("STEPCA_FINGERPRINT").unwrap();
    let e = ClientBuilder::new(&ca.url)
        .root_fingerprint(&fp)
        .unwrap()
        .time_source(Some(y2000()))
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Clock, "{e}");
    assert!(e.message().starts_with("fingerprint: root "), "{e}");
}
