//! The device lifecycle against a real step-ca: bootstrap by fingerprint, read-only calls,
//! tokens minted in process, renew (mTLS and token, also after expiry), rekey, revoke,
//! and renewal timing. Run under scripts/with-ca.sh.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Ca, TempDir, openssl_verify_chain, run};
use stepca::{
    CertificateChain, Client, ClientBuilder, Credential, CsrRequest, ErrorKind, JwkProvisioner,
    KeyType, PrivateKey, RenewAuth, RevokeOptions, SanKind, SignOptions, Token, renew_after,
};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn fingerprint(ca: &Ca) -> String {
    run(
        "step",
        &["certificate", "fingerprint", ca.root.to_str().unwrap()],
    )
    .trim()
    .to_string()
}

fn enroll(client: &Client, cn: &str, validity: Option<i64>) -> (Arc<PrivateKey>, CertificateChain) {
    let key = Arc::new(PrivateKey::generate(KeyType::EcP256).unwrap());
    let mut req = CsrRequest::new();
    req.subject("CN", cn)
        .unwrap()
        .san(SanKind::Dns, cn)
        .unwrap();
    let opts = SignOptions {
        not_after: validity.map(|s| now() + s),
        ..Default::default()
    };
    let chain = client.sign(req.build(&key).unwrap().der(), &opts).unwrap();
    (key, chain)
}

fn cred(key: &Arc<PrivateKey>, chain: &CertificateChain) -> Credential {
    Credential::new(chain.clone(), key.clone()).unwrap()
}

#[test]
fn bootstrap_by_fingerprint_in_any_spelling() {
    let ca = Ca::get();
    let fp = fingerprint(&ca);
    let colons = fp
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap().to_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    for spelling in [fp.clone(), colons, fp.to_uppercase()] {
        let client = ClientBuilder::new(&ca.url)
            .root_fingerprint(&spelling)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            client.roots(),
            &[ca_root_der(&ca)],
            "only the fetched root is trusted"
        );
        client.health().unwrap();
    }
    let wrong = "00".repeat(32);
    let e = ClientBuilder::new(&ca.url)
        .root_fingerprint(&wrong)
        .unwrap()
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Fingerprint, "{e}");
    assert!(e.message().starts_with("fingerprint: "), "{e}");
    // The fingerprint of the intermediate: step-ca does not serve it as a root.
    let e = ClientBuilder::new(&ca.url)
        .root_fingerprint("not hex")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

fn ca_root_der(ca: &Ca) -> Vec<u8> {
    ::pem::parse(ca.root_pem()).unwrap().into_contents()
}

#[test]
fn read_only_calls() {
    let ca = Ca::get();
    let client = ClientBuilder::new(&ca.url)
        .root_file(&ca.root)
        .unwrap()
        .build()
        .unwrap();
    client.health().unwrap();
    // A `go install` build reports no version of its own (pinned: step-ca says "N/A").
    assert_eq!(client.version().unwrap(), "N/A");
    assert_eq!(client.ca_roots().unwrap(), vec![ca_root_der(&ca)]);
    assert!(client.federation().unwrap().contains(&ca_root_der(&ca)));
    let inter = client.intermediates().unwrap();
    assert_eq!(inter.len(), 1);
    let (_, chain) = enroll(&ca.minting_client(), "ro.example.com", None);
    assert_eq!(chain.certificates()[1], inter[0]);
    let names: Vec<String> = client
        .provisioners()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["admin", "strict", "factory"]);
}

#[test]
fn minted_tokens_are_accepted_and_interchangeable_with_steps() {
    let ca = Ca::get();
    let client = ClientBuilder::new(&ca.url)
        .root_file(&ca.root)
        .unwrap()
        .build()
        .unwrap();
    let prov = client
        .jwk_provisioner("admin", None, &ca.password())
        .unwrap();
    let sans = vec!["mint.example.com".to_string(), "10.1.2.3".to_string()];
    let ours = prov
        .sign_token(
            "mint.example.com",
            &sans,
            &client.sign_audience(),
            SystemTime::now(),
        )
        .unwrap();
    let steps = ca.token("mint.example.com", &["mint.example.com", "10.1.2.3"]);
    let decode = |t: &str| -> (serde_json::Value, serde_json::Value) {
        let out = common::run_stdin(
            "step",
            &["crypto", "jwt", "inspect", "--insecure"],
            t.as_bytes(),
        );
        assert!(out.0, "{}", out.1);
        let v: serde_json::Value = serde_json::from_str(&out.1).unwrap();
        (v["header"].clone(), v["payload"].clone())
    };
    let (oh, op) = decode(ours.expose());
    let (sh, sp) = decode(&steps);
    for k in ["alg", "kid", "typ"] {
        assert_eq!(oh[k], sh[k], "header {k}");
    }
    for k in ["iss", "sub", "aud", "sans", "sha"] {
        assert_eq!(op[k], sp[k], "claim {k}");
    }
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&op), keys(&sp), "the same claims");
    assert_eq!(op["jti"].as_str().unwrap().len(), 64);
    assert_eq!(
        op["exp"].as_i64().unwrap() - op["iat"].as_i64().unwrap(),
        300
    );

    // step itself verifies our signature with the provisioner's public key.
    let dir = TempDir::new("jwk");
    let cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(std::env::var("STEPCA_CONFIG").unwrap()).unwrap(),
    )
    .unwrap();
    let entry = cfg["authority"]["provisioners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "admin")
        .unwrap()
        .clone();
    let pubf = dir.path("pub.json");
    std::fs::write(&pubf, entry["key"].to_string()).unwrap();
    let (ok, out) = common::run_stdin(
        "step",
        &[
            "crypto",
            "jwt",
            "verify",
            "--key",
            pubf.to_str().unwrap(),
            "--iss",
            "admin",
            "--aud",
            &client.sign_audience(),
        ],
        ours.expose().as_bytes(),
    );
    assert!(ok, "step rejects our token: {out}");

    // step-ca accepts both; a fresh jti every time.
    let key = PrivateKey::generate(KeyType::Ed25519).unwrap();
    let mut req = CsrRequest::new();
    req.subject("CN", "mint.example.com")
        .unwrap()
        .san(SanKind::Dns, "mint.example.com")
        .unwrap()
        .san(SanKind::Ip, "10.1.2.3")
        .unwrap();
    let csr = req.build(&key).unwrap();
    for token in [ours, Token::new(steps)] {
        client
            .sign(
                csr.der(),
                &SignOptions {
                    token: Some(token.into()),
                    ..Default::default()
                },
            )
            .unwrap();
    }
    let c = client.with_token_provider(Arc::new(prov));
    for _ in 0..3 {
        c.sign(csr.der(), &SignOptions::default()).unwrap();
    }

    // Offline, from the ca.json entry; a wrong password is its own error.
    let offline =
        JwkProvisioner::from_json(None, entry.to_string().as_bytes(), &ca.password()).unwrap();
    assert_eq!(offline.name(), "admin");
    client
        .with_token_provider(Arc::new(offline))
        .sign(csr.der(), &SignOptions::default())
        .unwrap();
    let e = JwkProvisioner::from_json(None, entry.to_string().as_bytes(), b"not the password")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyPassphrase, "{e}");
    assert!(!e.to_string().contains("not the password"));
    let e = client.jwk_provisioner("admin", None, b"wrong").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyPassphrase, "{e}");
    let e = client.jwk_provisioner("nobody", None, b"x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
}

#[test]
fn renew_over_mtls_and_with_the_token() {
    let ca = Ca::get();
    let client = ca.minting_client();
    let (key, chain) = enroll(&client, "renew.example.com", Some(3600));
    let dir = TempDir::new("renew");
    for auth in [RenewAuth::MutualTls, RenewAuth::Token, RenewAuth::Auto] {
        let new = client.renew(&cred(&key, &chain), auth).unwrap();
        assert_ne!(new.serial(), chain.serial(), "{auth:?}");
        assert_eq!(new.common_name().as_deref(), Some("renew.example.com"));
        let (nb, na) = new.validity();
        assert!((na - nb - 3600).abs() <= 61, "same lifetime: {}", na - nb);
        openssl_verify_chain(&ca.root, &new.to_pem(), &dir);
        // The renewed certificate is not due for renewal again at once.
        let due = renew_after(&new)
            .unwrap()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(
            due >= nb + (na - nb) * 6 / 10,
            "due {} s after issue",
            due - nb
        );
        assert!(due > now() + 60 * 30, "due in {} s", due - now());
    }
    // A key that is not the certificate's is refused before anything is sent.
    let other = PrivateKey::generate(KeyType::EcP256).unwrap();
    assert_eq!(
        Credential::new(chain.clone(), other).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn expired_certificates_renew_with_the_token_where_allowed() {
    let ca = Ca::get();
    let client = ca.minting_client();
    let (key, chain) = enroll(&client, "expired.example.com", Some(6));
    // The "strict" provisioner does not allow renewal after expiry.
    let base = ClientBuilder::new(&ca.url)
        .root_file(&ca.root)
        .unwrap()
        .build()
        .unwrap();
    let strict = base.with_token_provider(Arc::new(
        base.jwk_provisioner("strict", None, &ca.password())
            .unwrap(),
    ));
    let (skey, schain) = enroll(&strict, "strict.example.com", Some(6));
    std::thread::sleep(Duration::from_secs(8));
    assert!(chain.validity().1 < now());
    let new = client.renew(&cred(&key, &chain), RenewAuth::Auto).unwrap();
    assert!(new.validity().1 > now());
    let e = strict
        .renew(&cred(&skey, &schain), RenewAuth::Auto)
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.http_status()),
        (ErrorKind::CaRejected, Some(401)),
        "{e}"
    );
    assert!(
        e.ca_message().unwrap().contains("certificate expired on"),
        "{e}"
    );
}

#[test]
fn rekey_gets_a_certificate_for_the_new_key() {
    let ca = Ca::get();
    let client = ca.minting_client();
    let (key, chain) = enroll(&client, "rekey.example.com", Some(3600));
    let new_key = Arc::new(PrivateKey::generate(KeyType::EcP384).unwrap());
    let mut req = CsrRequest::new();
    req.subject("CN", "rekey.example.com").unwrap();
    let new = client
        .rekey(&cred(&key, &chain), req.build(&new_key).unwrap().der())
        .unwrap();
    assert_eq!(new.common_name().as_deref(), Some("rekey.example.com"));
    assert_ne!(new.serial(), chain.serial());
    // The new certificate renews with the new key, not the old one.
    client
        .renew(&cred(&new_key, &new), RenewAuth::MutualTls)
        .unwrap();
    assert_eq!(
        Credential::new(new.clone(), key).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn revoke_by_token_and_over_mtls_then_renewal_fails() {
    let ca = Ca::get();
    let client = ca.minting_client();

    let (key, chain) = enroll(&client, "revoke1.example.com", Some(3600));
    let serial_hex = format!("0x{}", x509_serial_hex(&chain));
    client
        .revoke(
            &serial_hex,
            &RevokeOptions {
                reason_code: 1,
                reason: Some("key compromise".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let e = client
        .renew(&cred(&key, &chain), RenewAuth::MutualTls)
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.http_status()),
        (ErrorKind::CaRejected, Some(401)),
        "revoked cannot renew: {e}"
    );
    let e = client
        .revoke(&chain.serial(), &RevokeOptions::default())
        .unwrap_err();
    assert_eq!(e.http_status(), Some(400), "already revoked: {e}");

    let (key2, chain2) = enroll(&client, "revoke2.example.com", Some(3600));
    client
        .revoke_with_certificate(&cred(&key2, &chain2), &RevokeOptions::default())
        .unwrap();
    assert_eq!(
        client
            .renew(&cred(&key2, &chain2), RenewAuth::Token)
            .unwrap_err()
            .http_status(),
        Some(401)
    );

    // A revoke token from the step CLI works too.
    let (_, chain3) = enroll(&client, "revoke3.example.com", Some(3600));
    let token = ca.token_with(&chain3.serial(), &[], &["--revoke"]);
    let plain = ClientBuilder::new(&ca.url)
        .root_file(&ca.root)
        .unwrap()
        .build()
        .unwrap();
    plain
        .revoke(
            &chain3.serial(),
            &RevokeOptions {
                token: Some(Token::new(token).into()),
                ..Default::default()
            },
        )
        .unwrap();
    let e = plain
        .revoke(
            "12",
            &RevokeOptions {
                reason_code: 11,
                token: Some(Token::new("a.b.c").into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(e.message().starts_with("reason_code: "), "{e}");
}

fn x509_serial_hex(chain: &CertificateChain) -> String {
    let dir = TempDir::new("serial");
    let f = dir.path("c.pem");
    std::fs::write(&f, chain.to_pem()).unwrap();
    run(
        "openssl",
        &["x509", "-in", f.to_str().unwrap(), "-noout", "-serial"],
    )
    .trim()
    .trim_start_matches("serial=")
    .to_string()
}

#[test]
fn renewal_timing_has_jitter_and_never_loops() {
    let ca = Ca::get();
    let client = ca.minting_client();
    let (_, chain) = enroll(&client, "timing.example.com", Some(24 * 3600));
    let (nb, na) = chain.validity();
    let period = na - nb;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let t = renew_after(&chain)
            .unwrap()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(
            t <= na - period / 3 && t > na - period / 3 - period / 20,
            "{t}"
        );
        seen.insert(t);
    }
    assert!(
        seen.len() > 100,
        "jitter spreads renewals: {} distinct",
        seen.len()
    );
}

#[test]
fn jwk_files_written_by_step_load_and_sign_verifiable_tokens() {
    let dir = TempDir::new("jwkfile");
    let pw = dir.path("pw");
    std::fs::write(&pw, "a-long-password\n").unwrap();
    let (pubf, privf) = (dir.path("pub.json"), dir.path("priv.json"));
    run(
        "step",
        &[
            "crypto",
            "jwk",
            "create",
            pubf.to_str().unwrap(),
            privf.to_str().unwrap(),
            "--password-file",
            pw.to_str().unwrap(),
        ],
    );
    let data = std::fs::read(&privf).unwrap();
    let prov = JwkProvisioner::from_json(Some("adhoc"), &data, b"a-long-password").unwrap();
    let token = prov
        .sign_token(
            "x.example.com",
            &[],
            "https://ca.example/1.0/sign",
            SystemTime::now(),
        )
        .unwrap();
    let (ok, out) = common::run_stdin(
        "step",
        &[
            "crypto",
            "jwt",
            "verify",
            "--key",
            pubf.to_str().unwrap(),
            "--iss",
            "adhoc",
            "--aud",
            "https://ca.example/1.0/sign",
        ],
        token.expose().as_bytes(),
    );
    assert!(ok, "{out}");
    assert!(out.contains("\"sans\""), "{out}");
    let e = JwkProvisioner::from_json(Some("adhoc"), &data, b"wrong").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyPassphrase);
    assert!(
        JwkProvisioner::from_json(None, &data, b"a-long-password").is_err(),
        "a name is required"
    );
}
