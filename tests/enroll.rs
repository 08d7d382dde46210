//! Enrollment against a real step-ca (run under scripts/with-ca.sh). Every certificate is
//! checked with openssl; tokens come from the real `step` CLI.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{Ca, TempDir, openssl_verify_chain, openssl_x509_text};
use stepca::{
    Client, ClientBuilder, CsrRequest, ErrorKind, KeyType, PrivateKey, SanKind, SignOptions, Token,
    TokenClaims,
};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn client(ca: &Ca) -> Client {
    ClientBuilder::new(&ca.url)
        .root_file(&ca.root)
        .unwrap()
        .build()
        .unwrap()
}

/// A client whose token provider mints a token with the step CLI from the claims it is
/// given, counting its calls.
fn minting_client(ca: &Ca, calls: Arc<AtomicUsize>) -> Client {
    let (url, root, prov, pw) = (
        ca.url.clone(),
        ca.root.clone(),
        ca.provisioner.clone(),
        ca.password_file.clone(),
    );
    let provider = move |claims: &TokenClaims| -> Result<Token, stepca::ProviderError> {
        calls.fetch_add(1, Ordering::SeqCst);
        assert_eq!(claims.provisioner.as_deref(), Some("admin"));
        assert_eq!(claims.audience, format!("{url}/1.0/sign"));
        let ca = Ca {
            url: url.clone(),
            root: root.clone(),
            provisioner: prov.clone(),
            password_file: pw.clone(),
        };
        let sans = claims.san_strings();
        let sans: Vec<&str> = sans.iter().map(String::as_str).collect();
        Ok(Token::new(ca.token(&claims.subject, &sans)))
    };
    ClientBuilder::new(&ca.url)
        .root_file(&ca.root)
        .unwrap()
        .provisioner("admin")
        .unwrap()
        .token_provider(Arc::new(provider))
        .build()
        .unwrap()
}

fn csr(key: &PrivateKey, cn: &str, sans: &[(SanKind, &str)]) -> Vec<u8> {
    let mut req = CsrRequest::new();
    req.subject("CN", cn).unwrap();
    for (k, v) in sans {
        req.san(*k, v).unwrap();
    }
    req.build(key).unwrap().der().to_vec()
}

/// The chain's leaf carries `key`, as openssl reads both.
fn assert_leaf_carries(pem: &str, key: &PrivateKey, what: &str) {
    let (ok, cert_pub) =
        common::run_stdin("openssl", &["x509", "-noout", "-pubkey"], pem.as_bytes());
    let (ok2, key_pub) = common::run_stdin(
        "openssl",
        &["pkey", "-pubout"],
        key.to_pkcs8_pem().as_bytes(),
    );
    assert!(ok && ok2, "{what}");
    assert_eq!(cert_pub, key_pub, "{what}");
}

#[test]
fn enrolls_every_key_type_through_the_provider() {
    let ca = Ca::get();
    let calls = Arc::new(AtomicUsize::new(0));
    let client = minting_client(&ca, calls.clone());
    let dir = TempDir::new("enroll-types");
    for (i, kt) in [
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
        KeyType::EcP256,
        KeyType::EcP384,
        KeyType::Ed25519,
    ]
    .into_iter()
    .enumerate()
    {
        let key = PrivateKey::generate(kt).unwrap();
        let cn = format!("type-{i}.example.com");
        let chain = client
            .sign(
                &csr(&key, &cn, &[(SanKind::Dns, &cn)]),
                &SignOptions::default(),
            )
            .unwrap();
        assert_eq!(chain.len(), 2, "leaf + intermediate");
        let pem = chain.to_pem();
        openssl_verify_chain(&ca.root, &pem, &dir);
        let text = openssl_x509_text(&pem);
        assert!(
            text.contains(&format!("Subject: CN={cn}")),
            "{kt:?}: {text}"
        );
        // The leaf's key is ours: openssl's view of the cert key equals the key's.
        assert_leaf_carries(&pem, &key, &format!("{kt:?}"));
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        6,
        "one provider call per enrollment"
    );
}

#[test]
fn all_four_san_types_reach_the_certificate() {
    let ca = Ca::get();
    let client = minting_client(&ca, Arc::new(AtomicUsize::new(0)));
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let sans = [
        (SanKind::Dns, "multi.example.com"),
        (SanKind::Ip, "192.0.2.7"),
        (SanKind::Ip, "2001:db8::7"),
        (SanKind::Email, "multi@example.com"),
        (SanKind::Uri, "spiffe://example.com/multi"),
    ];
    let chain = client
        .sign(
            &csr(&key, "multi.example.com", &sans),
            &SignOptions::default(),
        )
        .unwrap();
    let text = openssl_x509_text(&chain.to_pem());
    for needle in [
        "DNS:multi.example.com",
        "IP Address:192.0.2.7",
        "IP Address:2001:DB8:0:0:0:0:0:7",
        "email:multi@example.com",
        "URI:spiffe://example.com/multi",
    ] {
        assert!(text.contains(needle), "{needle} missing: {text}");
    }
}

#[test]
fn per_call_token_overrides_the_provider_and_validity_is_honoured() {
    let ca = Ca::get();
    let calls = Arc::new(AtomicUsize::new(0));
    let client = minting_client(&ca, calls.clone());
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let cn = "per-call.example.com";
    let (nb, na) = (now() + 60, now() + 2 * 3600);
    let opts = SignOptions {
        token: Some(Token::new(format!("{}\n", ca.token(cn, &[cn]))).into()),
        not_before: Some(nb),
        not_after: Some(na),
        template_data: Some(r#"{"device":"abc"}"#.into()),
    };
    let chain = client
        .sign(&csr(&key, cn, &[(SanKind::Dns, cn)]), &opts)
        .unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the provider must not be called"
    );
    let dir = TempDir::new("validity");
    let leaf = dir.path("leaf.pem");
    std::fs::write(&leaf, chain.to_pem()).unwrap();
    let dates = common::run(
        "openssl",
        &[
            "x509",
            "-in",
            leaf.to_str().unwrap(),
            "-noout",
            "-startdate",
            "-enddate",
            "-dateopt",
            "iso_8601",
        ],
    );
    let fmt = |t: i64| {
        let d = time::OffsetDateTime::from_unix_timestamp(t).unwrap();
        let (h, m, s) = d.to_hms();
        format!(
            "{:04}-{:02}-{:02} {h:02}:{m:02}:{s:02}Z",
            d.year(),
            d.month() as u8,
            d.day()
        )
    };
    assert!(dates.contains(&format!("notBefore={}", fmt(nb))), "{dates}");
    assert!(dates.contains(&format!("notAfter={}", fmt(na))), "{dates}");
}

#[test]
fn san_mismatch_gives_step_cas_403_message() {
    let ca = Ca::get();
    let client = client(&ca);
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let token = ca.token("good.example.com", &["good.example.com"]);
    let opts = SignOptions {
        token: Some(Token::new(token.clone()).into()),
        ..Default::default()
    };
    let e = client
        .sign(
            &csr(
                &key,
                "good.example.com",
                &[(SanKind::Dns, "evil.example.com")],
            ),
            &opts,
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::CaRejected, "{e}");
    assert_eq!(e.http_status(), Some(403));
    let m = e.ca_message().unwrap();
    assert!(
        m.contains("certificate request does not contain the valid DNS names"),
        "{m}"
    );
    assert!(m.contains("evil.example.com"), "{m}");
    assert!(
        !e.to_string().contains(&token),
        "the token must not leak into the message"
    );
}

#[test]
fn a_reused_token_gives_401() {
    let ca = Ca::get();
    let client = client(&ca);
    let cn = "reuse.example.com";
    let token = Token::new(ca.token(cn, &[cn]));
    let opts = SignOptions {
        token: Some(token.into()),
        ..Default::default()
    };
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let req = csr(&key, cn, &[(SanKind::Dns, cn)]);
    client.sign(&req, &opts).unwrap();
    let e = client.sign(&req, &opts).unwrap_err();
    assert_eq!(
        (e.kind(), e.http_status()),
        (ErrorKind::CaRejected, Some(401)),
        "{e}"
    );
}

#[test]
fn validity_outside_the_provisioner_bounds_gives_403() {
    let ca = Ca::get();
    let client = client(&ca);
    let cn = "long.example.com";
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    // The rig's provisioner allows at most 90 days.
    let opts = SignOptions {
        token: Some(Token::new(ca.token(cn, &[cn])).into()),
        not_after: Some(now() + 100 * 24 * 3600),
        ..Default::default()
    };
    let e = client
        .sign(&csr(&key, cn, &[(SanKind::Dns, cn)]), &opts)
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.http_status()),
        (ErrorKind::CaRejected, Some(403)),
        "{e}"
    );
    assert!(
        e.ca_message()
            .unwrap()
            .contains("maximum certificate duration"),
        "{e}"
    );
}

#[test]
fn a_wrong_root_gives_a_tls_error_before_any_token_is_spent() {
    let ca = Ca::get();
    let other = PrivateKey::generate(KeyType::EcP256).unwrap();
    // A self-signed root that did not issue step-ca's certificate.
    let dir = TempDir::new("wrongroot");
    let keyf = dir.path("k.pem");
    std::fs::write(&keyf, other.to_pkcs8_pem().as_bytes()).unwrap();
    let rootf = dir.path("root.pem");
    common::run(
        "openssl",
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            keyf.to_str().unwrap(),
            "-subj",
            "/CN=Other Root",
            "-days",
            "1",
            "-out",
            rootf.to_str().unwrap(),
        ],
    );
    let client = ClientBuilder::new(&ca.url)
        .root_file(&rootf)
        .unwrap()
        .build()
        .unwrap();
    let cn = "wrongroot.example.com";
    let token = ca.token(cn, &[cn]);
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let opts = SignOptions {
        token: Some(Token::new(token.clone()).into()),
        ..Default::default()
    };
    let e = client
        .sign(&csr(&key, cn, &[(SanKind::Dns, cn)]), &opts)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    // The token never reached step-ca, so it still works with the right root.
    client_for_root(&ca)
        .sign(&csr(&key, cn, &[(SanKind::Dns, cn)]), &opts)
        .unwrap();
}

fn client_for_root(ca: &Ca) -> Client {
    ClientBuilder::new(&ca.url)
        .root_pem(&ca.root_pem())
        .unwrap()
        .build()
        .unwrap()
}

#[test]
fn plain_http_is_refused_unless_allowed() {
    let ca = Ca::get();
    let http_url = ca.url.replace("https://", "http://");
    let e = ClientBuilder::new(&http_url)
        .root_file(&ca.root)
        .unwrap()
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().starts_with("ca_url: "), "{e}");
    // Opting in builds; step-ca itself only speaks TLS, so the call then fails in transport.
    let c = ClientBuilder::new(&http_url)
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let opts = SignOptions {
        token: Some(Token::new("x.y.z").into()),
        ..Default::default()
    };
    let e = c.sign(&csr(&key, "h", &[]), &opts).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Transport | ErrorKind::MalformedResponse | ErrorKind::CaRejected
        ),
        "{e:?}"
    );
}

#[test]
fn provider_failures_and_missing_tokens_have_their_own_codes() {
    let ca = Ca::get();
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let req = csr(&key, "p.example.com", &[(SanKind::Dns, "p.example.com")]);

    let failing =
        |_: &TokenClaims| -> Result<Token, stepca::ProviderError> { Err("vault is sealed".into()) };
    let c = ClientBuilder::new(&ca.url)
        .root_file(&ca.root)
        .unwrap()
        .token_provider(Arc::new(failing))
        .build()
        .unwrap();
    let e = c.sign(&req, &SignOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TokenProvider);
    assert!(e.message().contains("vault is sealed"), "{e}");
    assert_eq!(
        std::error::Error::source(&e).unwrap().to_string(),
        "vault is sealed"
    );

    let empty =
        |_: &TokenClaims| -> Result<Token, stepca::ProviderError> { Ok(Token::new("  \n")) };
    let c = ClientBuilder::new(&ca.url)
        .root_file(&ca.root)
        .unwrap()
        .token_provider(Arc::new(empty))
        .build()
        .unwrap();
    assert_eq!(
        c.sign(&req, &SignOptions::default()).unwrap_err().kind(),
        ErrorKind::TokenProvider
    );

    let e = client(&ca).sign(&req, &SignOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoToken, "{e}");
}

#[test]
fn local_checks_run_before_the_provider_is_asked() {
    let ca = Ca::get();
    let calls = Arc::new(AtomicUsize::new(0));
    let client = minting_client(&ca, calls.clone());
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let req = csr(&key, "c.example.com", &[]);
    let bad = [
        SignOptions {
            not_before: Some(now() + 100),
            not_after: Some(now() + 50),
            ..Default::default()
        },
        SignOptions {
            not_after: Some(i64::MAX),
            ..Default::default()
        },
        SignOptions {
            template_data: Some("{not json".into()),
            ..Default::default()
        },
    ];
    for opts in &bad {
        let e = client.sign(&req, opts).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    }
    let e = client
        .sign(
            b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
            &SignOptions::default(),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Csr, "{e}");
    // Well formed, but its self-signature does not verify (the signature's last byte
    // flipped): refused here too, before a token is asked for.
    let mut tampered = req.clone();
    *tampered.last_mut().unwrap() ^= 0x01;
    let e = client.sign(&tampered, &SignOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Csr, "{e}");
    assert!(e.message().contains("self-signature"), "{e}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "no token may be spent on a request that cannot succeed"
    );
    // The untouched request goes through (one token).
    client.sign(&req, &SignOptions::default()).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// `sign_csr` takes a `Csr` the library built (no second verification) and enrolls it as
/// `sign` does: the provider asked once, the chain verified by openssl, the leaf carrying
/// the key; its local checks still run before the provider is asked.
#[test]
fn sign_csr_enrolls_a_csr_built_here() {
    let ca = Ca::get();
    let calls = Arc::new(AtomicUsize::new(0));
    let client = minting_client(&ca, calls.clone());
    let dir = TempDir::new("sign-csr");
    for (i, kt) in [KeyType::EcP256, KeyType::Rsa2048, KeyType::Ed25519]
        .into_iter()
        .enumerate()
    {
        let key = PrivateKey::generate(kt).unwrap();
        let cn = format!("sign-csr-{i}.example.com");
        let mut req = CsrRequest::new();
        req.subject("CN", &cn).unwrap();
        req.san(SanKind::Dns, &cn).unwrap();
        let csr = req.build(&key).unwrap();
        let chain = client.sign_csr(&csr, &SignOptions::default()).unwrap();
        let pem = chain.to_pem();
        openssl_verify_chain(&ca.root, &pem, &dir);
        assert_leaf_carries(&pem, &key, &format!("{kt:?}"));
        assert_eq!(calls.load(Ordering::SeqCst), i + 1);
    }
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let mut req = CsrRequest::new();
    req.subject("CN", "sign-csr-bad.example.com").unwrap();
    let csr = req.build(&key).unwrap();
    let bad = SignOptions {
        template_data: Some("{not json".into()),
        ..Default::default()
    };
    let e = client.sign_csr(&csr, &bad).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}
