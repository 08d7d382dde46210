//! Keys generated inside a SoftHSM2 token for their whole life at a real step-ca (run
//! under scripts/with-ca.sh): enroll with a CSR signed in the token, renew by token and
//! over mutual TLS, rekey to a key made in the same token, revoke with the certificate;
//! and the token's errors.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{
    Ca, Fault, Recording, TempDir, factory_certificate, openssl_req_text, openssl_verify_chain,
};
use stepca::{
    CertificateChain, ClientBuilder, Credential, CsrRequest, ErrorKind, KeyType, Pkcs11Key,
    Pkcs11KeyRef, PrivateKey, RenewAuth, RevokeOptions, SanKind, SignOptions, SignatureAlgorithm,
    Signer, X5cProvisioner,
};

const MODULE: &str = common::SOFTHSM_MODULE;

#[test]
fn keys_in_a_softhsm_token_serve_their_whole_life() {
    let ca = Ca::get();
    let dir = TempDir::new("softhsm");
    // The only test in this binary, so the token can be set up here.
    common::softhsm_token(&dir, "libstepca", "1234");
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
        let key: Arc<dyn Signer> =
            Arc::new(Pkcs11Key::generate(module, "libstepca", "1234", &label, kt).unwrap());
        let cn = format!("hsm-{i}.example.com");
        let mut req = CsrRequest::new();
        req.subject("CN", &cn)
            .unwrap()
            .san(SanKind::Dns, &cn)
            .unwrap();
        let csr = req.build_with_signer(key.as_ref()).unwrap();
        openssl_req_text(csr.to_pem().as_bytes(), false);
        let chain = client.sign(csr.der(), &SignOptions::default()).unwrap();

        // Renew with the token the token's key signs.
        let recording = Recording::new(key.clone(), Fault::None);
        let cred = Credential::held(chain.clone(), recording.clone()).unwrap();
        let renewed = client.renew(&cred, RenewAuth::Token).unwrap();
        assert_ne!(renewed.serial(), chain.serial(), "{kt:?}");
        assert!(recording.handshakes().is_empty(), "{kt:?}");

        // Renew over mutual TLS: the token's key signs the TLS 1.3 handshake (RSA-PSS for
        // RSA), and no token is made.
        let cred = cred.with_chain(renewed).unwrap();
        let before = recording.count();
        let renewed = client.renew(&cred, RenewAuth::MutualTls).unwrap();
        let want = match kt {
            KeyType::EcP256 => SignatureAlgorithm::EcdsaP256Sha256,
            KeyType::EcP384 => SignatureAlgorithm::EcdsaP384Sha384,
            _ => SignatureAlgorithm::RsaPssSha256,
        };
        assert_eq!(recording.handshakes(), [want], "{kt:?}");
        assert_eq!(
            recording.count(),
            before + 1,
            "only the handshake was signed"
        );
        assert_eq!(renewed.leaf_public_key(), key.public_key_spki());

        // Rekey to a new key made in the same token: it never leaves the token.
        let new_key: Arc<dyn Signer> = Arc::new(
            Pkcs11Key::generate(module, "libstepca", "1234", &format!("{label}-next"), kt).unwrap(),
        );
        let cred = cred.with_chain(renewed).unwrap();
        let rekeyed = client
            .rekey(
                &cred,
                req.build_with_signer(new_key.as_ref()).unwrap().der(),
            )
            .unwrap();
        assert_eq!(
            rekeyed.leaf_public_key(),
            new_key.public_key_spki(),
            "{kt:?}"
        );
        assert_eq!(rekeyed.common_name().as_deref(), Some(cn.as_str()));
        let dir = TempDir::new("pkcs11-chain");
        openssl_verify_chain(&ca.root, &rekeyed.to_pem(), &dir);

        // Revoke with the new certificate over mutual TLS; it can renew no more.
        let next = Credential::held(rekeyed, new_key.clone()).unwrap();
        client
            .revoke_with_certificate(&next, &RevokeOptions::default())
            .unwrap();
        let e = client.renew(&next, RenewAuth::MutualTls).unwrap_err();
        assert_eq!(
            (e.kind(), e.http_status()),
            (ErrorKind::CaRejected, Some(401)),
            "{kt:?}: {e}"
        );

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

    // Factory identity: the birth certificate's key lives in the token, named by a
    // PKCS#11 URI as step's --kms takes it, and signs the X5C token there.
    let generated =
        Pkcs11Key::generate(module, "libstepca", "1234", "idevid", KeyType::EcP256).unwrap();
    let pin = dir.path("pin.txt");
    std::fs::write(&pin, "1234\n").unwrap();
    let uri = format!(
        "pkcs11:token=libstepca;object=idevid?module-path={MODULE}&pin-source=file:{}",
        pin.display()
    );
    let idevid: Arc<dyn Signer> = Arc::new(Pkcs11Key::open_uri(&uri).unwrap());
    assert_eq!(idevid.public_key_spki(), generated.public_key_spki());
    let mut birth = CsrRequest::new();
    birth.subject("CN", "SN-0001").unwrap();
    let pem = factory_certificate(
        &birth.build_with_signer(idevid.as_ref()).unwrap().to_pem(),
        &dir,
        None,
        &[],
    );
    let factory =
        Credential::held(CertificateChain::from_pem(pem.as_bytes()).unwrap(), idevid).unwrap();
    let op = PrivateKey::generate(KeyType::EcP256).unwrap();
    let mut req = CsrRequest::new();
    req.subject("CN", "operational.example.com").unwrap();
    let opts = SignOptions {
        token: Some(X5cProvisioner::new("factory", factory).unwrap().into()),
        ..Default::default()
    };
    let chain = client.sign(req.build(&op).unwrap().der(), &opts).unwrap();
    assert_eq!(chain.leaf_public_key(), op.spki_der());
    let e = Pkcs11Key::open_uri(&format!(
        "pkcs11:token=libstepca;object=idevid?module-path={MODULE}&pin-value=9999"
    ))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyPassphrase, "{e}");

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
