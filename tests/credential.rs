//! A credential whose key is held by a signer (here a recording wrapper around a key the
//! test owns, as a secure element's SDK would be) for its whole life at a real step-ca
//! (run under scripts/with-ca.sh): enroll, renew over mutual TLS and with the token, rekey,
//! revoke; and what a failing or wrong signer does to a handshake.

mod common;

use std::sync::Arc;

use common::{Ca, Fault, Recording, TempDir, openssl_verify_chain};
use stepca::{
    CertificateChain, Client, Credential, CsrRequest, ErrorKind, KeyType, PrivateKey, RenewAuth,
    RevokeOptions, SanKind, SignOptions, SignatureAlgorithm, Signer,
};

fn request(cn: &str) -> CsrRequest {
    let mut req = CsrRequest::new();
    req.subject("CN", cn)
        .unwrap()
        .san(SanKind::Dns, cn)
        .unwrap();
    req
}

/// Enrolls `signer`'s key under `cn`.
fn enroll(client: &Client, cn: &str, signer: &dyn Signer) -> CertificateChain {
    let csr = request(cn).build_with_signer(signer).unwrap();
    client.sign(csr.der(), &SignOptions::default()).unwrap()
}

fn held(kt: KeyType, fault: Fault) -> Arc<Recording> {
    Recording::new(Arc::new(PrivateKey::generate(kt).unwrap()), fault)
}

#[test]
fn held_keys_of_every_type_serve_their_whole_life() {
    let ca = Ca::get();
    let client = ca.minting_client();
    let dir = TempDir::new("credential");
    for (kt, scheme) in [
        (KeyType::EcP256, SignatureAlgorithm::EcdsaP256Sha256),
        (KeyType::EcP384, SignatureAlgorithm::EcdsaP384Sha384),
        (KeyType::Rsa2048, SignatureAlgorithm::RsaPssSha256),
        (KeyType::Ed25519, SignatureAlgorithm::Ed25519),
    ] {
        let cn = format!("held-{kt:?}.example.com").to_lowercase();
        let signer = held(kt, Fault::None);
        let chain = enroll(&client, &cn, signer.as_ref());
        let cred = Credential::held(chain.clone(), signer.clone()).unwrap();
        assert!(cred.is_held());

        // Mutual TLS: the held key signs exactly one TLS 1.3 CertificateVerify, in the
        // scheme the handshake needs (RSA-PSS for RSA), and nothing else.
        let before = signer.count();
        let renewed = client.renew(&cred, RenewAuth::MutualTls).unwrap();
        assert_eq!(signer.handshakes(), [scheme], "{kt:?}");
        assert_eq!(signer.count(), before + 1, "{kt:?}");
        assert_ne!(renewed.serial(), chain.serial());
        assert_eq!(renewed.leaf_public_key(), signer.public_key_spki());
        openssl_verify_chain(&ca.root, &renewed.to_pem(), &dir);

        // The token: signed by the held key, no handshake.
        let cred = cred.with_chain(renewed).unwrap();
        let renewed = client.renew(&cred, RenewAuth::Token).unwrap();
        assert_eq!(signer.handshakes().len(), 1, "{kt:?}: no second handshake");
        let (_, last) = signer.seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!(
            last.iter().filter(|b| **b == b'.').count(),
            1,
            "a JWS signing input"
        );

        // Rekey to a new held key, then revoke with it: it can renew no more.
        let next = held(kt, Fault::None);
        let cred = cred.with_chain(renewed).unwrap();
        let rekeyed = client
            .rekey(
                &cred,
                request(&cn).build_with_signer(next.as_ref()).unwrap().der(),
            )
            .unwrap();
        assert_eq!(rekeyed.leaf_public_key(), next.public_key_spki(), "{kt:?}");
        assert_eq!(rekeyed.common_name().as_deref(), Some(cn.as_str()));
        assert_eq!(
            next.handshakes().len(),
            0,
            "the new key only signed its CSR"
        );
        let next = Credential::held(rekeyed, next).unwrap();
        client
            .revoke_with_certificate(&next, &RevokeOptions::default())
            .unwrap();
        let e = client.renew(&next, RenewAuth::MutualTls).unwrap_err();
        assert_eq!(
            (e.kind(), e.http_status()),
            (ErrorKind::CaRejected, Some(401)),
            "{kt:?}: {e}"
        );
    }
}

#[test]
fn a_key_in_memory_does_the_same_over_tls13() {
    let ca = Ca::get();
    let client = ca.minting_client();
    let key = Arc::new(PrivateKey::generate(KeyType::Rsa2048).unwrap());
    let chain = enroll(&client, "memory-rsa.example.com", key.as_ref());
    let cred = Credential::new(chain, key.clone()).unwrap();
    assert!(!cred.is_held());
    let renewed = client.renew(&cred, RenewAuth::MutualTls).unwrap();
    assert_eq!(renewed.leaf_public_key(), key.spki_der());
}

#[test]
fn a_signer_that_fails_or_answers_in_the_wrong_scheme_is_a_signer_error() {
    let ca = Ca::get();
    let client = ca.minting_client();
    for (kt, fault, says) in [
        (
            KeyType::EcP256,
            Fault::Fail,
            "the secure element is unplugged",
        ),
        (
            KeyType::Rsa2048,
            Fault::Fail,
            "the secure element is unplugged",
        ),
        (
            KeyType::Rsa2048,
            Fault::WrongScheme,
            "does not verify as RSA-PSS-SHA256",
        ),
    ] {
        // Enrolled with a sound signer, then the same key misbehaves.
        let sound = held(kt, Fault::None);
        let chain = enroll(&client, "faulty.example.com", sound.as_ref());
        let bad = Recording::new(sound.inner.clone(), fault);
        let cred = Credential::held(chain, bad.clone()).unwrap();
        for auth in [RenewAuth::MutualTls, RenewAuth::Token] {
            let result = client.renew(&cred, auth);
            if fault == Fault::WrongScheme && auth == RenewAuth::Token {
                // The token asks for the key's own algorithm, which this signer gets right.
                result.unwrap();
                continue;
            }
            let e = result.unwrap_err();
            assert_eq!(
                e.kind(),
                ErrorKind::Signer,
                "{kt:?} {fault:?} {auth:?}: {e}"
            );
            assert!(e.message().starts_with("signer: "), "{e}");
            assert!(e.message().contains(says), "{e}");
        }
        let e = client
            .revoke_with_certificate(&cred, &RevokeOptions::default())
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Signer, "{e}");
    }
}

#[test]
fn a_credential_refuses_a_key_that_is_not_the_leafs() {
    let ca = Ca::get();
    let client = ca.minting_client();
    let signer = held(KeyType::EcP256, Fault::None);
    let chain = enroll(&client, "mismatch.example.com", signer.as_ref());
    let other = held(KeyType::EcP256, Fault::None);
    let e = Credential::held(chain.clone(), other).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().starts_with("signer: "), "{e}");
    let e = Credential::new(chain, PrivateKey::generate(KeyType::EcP256).unwrap()).unwrap_err();
    assert!(e.message().starts_with("key: "), "{e}");
}
