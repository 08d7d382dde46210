//! Secrets never appear in an error message or a Debug string: tokens, key passphrases,
//! provisioner passwords and private keys. Every error produced here is searched.
//! Run under scripts/with-ca.sh.

mod common;

use std::sync::Arc;

use common::Ca;
use stepca::{
    ClientBuilder, CsrRequest, JwkProvisioner, KeyType, PrivateKey, RevokeOptions, SanKind,
    SignOptions, Token,
};

#[test]
fn no_secret_in_any_error_or_debug_output() {
    let ca = Ca::get();
    let password = std::fs::read_to_string(&ca.password_file)
        .unwrap()
        .trim()
        .to_string();
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let key_pem = key.to_pkcs8_pem().to_string();
    let key_body: String = key_pem.lines().nth(1).unwrap().to_string();
    let passphrase = "Pa55phrase-that-must-not-leak";
    let wrong_password = "Provisioner-password-guess-42";

    let mut texts: Vec<String> = Vec::new();
    fn describe(e: stepca::Error) -> Vec<String> {
        let mut v = vec![e.to_string(), format!("{e:?}")];
        v.extend(e.ca_message().map(str::to_string));
        v
    }

    // A key encrypted with the passphrase, loaded with a wrong one.
    let dir = common::TempDir::new("secrets");
    let enc = common::openssl_encrypt_pkcs8(&dir, &key_pem, passphrase);
    // The plain key also serves the self-signed root of the TLS case below.
    let plain = dir.path("k.pem");
    std::fs::write(&plain, &key_pem).unwrap();
    texts.extend(describe(
        PrivateKey::load(&std::fs::read(&enc).unwrap(), Some(b"nope")).unwrap_err(),
    ));

    // Provisioner passwords, wrong and right.
    let client = ClientBuilder::new(&ca.url)
        .root_file(&ca.root)
        .unwrap()
        .build()
        .unwrap();
    texts.extend(describe(
        client
            .jwk_provisioner("admin", None, wrong_password.as_bytes())
            .unwrap_err(),
    ));
    let prov = client
        .jwk_provisioner("admin", None, password.as_bytes())
        .unwrap();
    texts.push(format!("{prov:?}"));

    // Tokens that step-ca refuses: wrong SANs (403), reused (401), for the wrong purpose.
    let token = ca.token("secret.example.com", &["secret.example.com"]);
    let mut req = CsrRequest::new();
    req.subject("CN", "secret.example.com")
        .unwrap()
        .san(SanKind::Dns, "other.example.com")
        .unwrap();
    let opts = SignOptions {
        token: Some(Token::new(token.clone()).into()),
        ..Default::default()
    };
    texts.push(format!("{opts:?}"));
    texts.extend(describe(
        client
            .sign(req.build(&key).unwrap().der(), &opts)
            .unwrap_err(),
    ));
    texts.extend(describe(
        client
            .sign(req.build(&key).unwrap().der(), &opts)
            .unwrap_err(),
    ));
    let revoke_with = RevokeOptions {
        token: Some(Token::new(token.clone()).into()),
        ..Default::default()
    };
    texts.extend(describe(client.revoke("1234", &revoke_with).unwrap_err()));

    // A token sent towards a server that fails TLS.
    let other = ClientBuilder::new(&ca.url)
        .root_pem(
            common::run(
                "openssl",
                &[
                    "req",
                    "-x509",
                    "-key",
                    plain.to_str().unwrap(),
                    "-subj",
                    "/CN=x",
                    "-days",
                    "1",
                ],
            )
            .as_bytes(),
        )
        .unwrap()
        .build()
        .unwrap();
    texts.extend(describe(
        other
            .sign(req.build(&key).unwrap().der(), &opts)
            .unwrap_err(),
    ));

    // A provisioner-minted token through a client, refused for its SANs.
    let minted = client.with_token_provider(Arc::new(prov));
    let good = {
        let mut r = CsrRequest::new();
        r.subject("CN", "ok.example.com").unwrap();
        r.build(&key).unwrap()
    };
    minted.sign(good.der(), &SignOptions::default()).unwrap();
    texts.push(format!("{minted:?}"));
    texts.push(format!("{key:?}"));
    texts.push(format!("{:?}", Token::new(token.clone())));
    let offline_entry = r#"{"type":"JWK","name":"x","encryptedKey":"a.b.c.d.e"}"#;
    texts.extend(describe(
        JwkProvisioner::from_json(None, offline_entry.as_bytes(), wrong_password.as_bytes())
            .unwrap_err(),
    ));

    assert!(texts.len() >= 15, "{} texts", texts.len());
    let secrets = [
        token.as_str(),
        &token[token.len() - 40..],
        &password,
        passphrase,
        wrong_password,
        &key_body,
    ];
    for text in &texts {
        for secret in secrets {
            assert!(!text.contains(secret), "secret leaked into: {text}");
        }
    }
}
