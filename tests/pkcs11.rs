//! Keys generated inside a SoftHSM2 token: CSRs signed in the token, enrolled and renewed
//! at a real step-ca (run under scripts/with-ca.sh), and the token's errors.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{Ca, TempDir, openssl_req_text};
use stepca::{
    ClientBuilder, CsrRequest, ErrorKind, KeyType, Pkcs11Key, Pkcs11KeyRef, SanKind, SignOptions,
    Signer,
};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

#[test]
fn keys_in_a_softhsm_token_enroll_and_renew() {
    let ca = Ca::get();
    let dir = TempDir::new("softhsm");
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
    // SAFETY: set before any thread of this test binary loads the module; this is the
    // only test in the binary.
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
    common::run(
        "softhsm2-util",
        &[
            "--init-token",
            "--free",
            "--label",
            "libstepca",
            "--pin",
            "1234",
            "--so-pin",
            "5678",
        ],
    );
    let module = Path::new(MODULE);

    let base = ClientBuilder::new(&ca.url)
        .root_file(&ca.root)
        .unwrap()
        .build()
        .unwrap();
    let password = std::fs::read_to_string(&ca.password_file).unwrap();
    let client = base.with_token_provider(Arc::new(
        base.jwk_provisioner("admin", None, password.trim().as_bytes())
            .unwrap(),
    ));

    for (i, kt) in [KeyType::EcP256, KeyType::EcP384, KeyType::Rsa2048]
        .into_iter()
        .enumerate()
    {
        let label = format!("device-key-{i}");
        let key = Pkcs11Key::generate(module, "libstepca", "1234", &label, kt).unwrap();
        let cn = format!("hsm-{i}.example.com");
        let mut req = CsrRequest::new();
        req.subject("CN", &cn)
            .unwrap()
            .san(SanKind::Dns, &cn)
            .unwrap();
        let csr = req.build_with_signer(&key).unwrap();
        openssl_req_text(csr.to_pem().as_bytes(), false);
        let chain = client.sign(csr.der(), &SignOptions::default()).unwrap();
        let renewed = client.renew_with_signer(&chain, &key).unwrap();
        assert_ne!(renewed.serial(), chain.serial(), "{kt:?}");
        // The same key, found again by label in a new session.
        let again = Pkcs11Key::open(
            module,
            "libstepca",
            "1234",
            &Pkcs11KeyRef::Label(label.clone()),
        )
        .unwrap();
        assert_eq!(again.public_key_spki(), key.public_key_spki());
        let by_id = Pkcs11Key::open(
            module,
            "libstepca",
            "1234",
            &Pkcs11KeyRef::Id(label.into_bytes()),
        )
        .unwrap();
        assert_eq!(by_id.public_key_spki(), key.public_key_spki());
    }

    let e = Pkcs11Key::open(
        module,
        "libstepca",
        "9999",
        &Pkcs11KeyRef::Label("device-key-0".into()),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyPassphrase, "{e}");
    assert!(!e.to_string().contains("9999"));
    let e = Pkcs11Key::open(
        module,
        "libstepca",
        "1234",
        &Pkcs11KeyRef::Label("nope".into()),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Key, "{e}");
    let e = Pkcs11Key::open(
        Path::new("/nonexistent/libpkcs11.so"),
        "libstepca",
        "1234",
        &Pkcs11KeyRef::Label("x".into()),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(e.message().starts_with("module: "), "{e}");
    let e = Pkcs11Key::open(
        module,
        "no-such-token",
        "1234",
        &Pkcs11KeyRef::Label("x".into()),
    )
    .unwrap_err();
    assert!(e.message().starts_with("token: "), "{e}");
}
