//! Keys that never leave their device: a [`Signer`] (a secure element, a TPM, an HSM SDK,
//! a PKCS#11 token, or a [`PrivateKey`](crate::PrivateKey) in memory) signs CSRs, tokens
//! and TLS handshakes; for a held key libstepca only ever sees the public key.

use x509_parser::prelude::*;

use crate::error::{Error, ErrorKind, Result};
use crate::key::{KeyAlgorithm, SignatureAlgorithm};
use crate::token::ProviderError;

/// Signs on libstepca's behalf with a key it may never see.
///
/// `sign` receives the whole message (the signer hashes it) and the algorithm to sign
/// with: [`algorithm`](Signer::algorithm) for CSRs and tokens; during a mutual-TLS
/// handshake, the scheme the handshake needs (for an RSA key that is RSA-PSS under TLS 1.3).
/// It returns what X.509 wants: a DER `ECDSA-Sig-Value` for ECDSA, the PKCS#1 v1.5 or PSS
/// signature for RSA, the 64-byte signature for Ed25519. Every signature is checked
/// against the public key before it is used.
pub trait Signer: Send + Sync {
    /// The DER SubjectPublicKeyInfo of the key.
    fn public_key_spki(&self) -> &[u8];
    /// The signature algorithm for CSRs and tokens.
    fn algorithm(&self) -> SignatureAlgorithm;
    /// Signs `msg` with `alg`.
    fn sign(
        &self,
        alg: SignatureAlgorithm,
        msg: &[u8],
    ) -> std::result::Result<Vec<u8>, ProviderError>;
}

/// A [`Signer`] whose public key was checked against its algorithm, and whose every
/// signature is verified before use: the signer's output is not ours to trust.
pub(crate) struct ExternalKey<'a> {
    pub(crate) signer: &'a dyn Signer,
    family: KeyAlgorithm,
    /// The subjectPublicKey bits: what rcgen and aws-lc-rs verification take.
    raw: Vec<u8>,
    /// The signer's own error, kept across rcgen (which only says "remote key error").
    last_error: std::sync::Mutex<Option<Error>>,
}

impl<'a> ExternalKey<'a> {
    /// Checks `signer`'s public key; `field` names it in errors.
    pub(crate) fn new(signer: &'a dyn Signer, field: &str) -> Result<ExternalKey<'a>> {
        let bad = |why: String| Error::invalid(field, why);
        let (rest, spki) = SubjectPublicKeyInfo::from_der(signer.public_key_spki())
            .map_err(|_| bad("not a DER SubjectPublicKeyInfo".into()))?;
        if !rest.is_empty() {
            return Err(bad("trailing bytes after the SubjectPublicKeyInfo".into()));
        }
        let oid = spki.algorithm.algorithm.to_id_string();
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .map(|o| o.to_id_string());
        let family = match (oid.as_str(), curve.as_deref()) {
            ("1.2.840.113549.1.1.1", _) => KeyAlgorithm::Rsa,
            ("1.2.840.10045.2.1", Some("1.2.840.10045.3.1.7")) => KeyAlgorithm::EcP256,
            ("1.2.840.10045.2.1", Some("1.3.132.0.34")) => KeyAlgorithm::EcP384,
            ("1.3.101.112", _) => KeyAlgorithm::Ed25519,
            _ => {
                return Err(bad(
                    "not an RSA, EC P-256/P-384 or Ed25519 public key".into()
                ));
            }
        };
        // What signatures are verified with (and step-ca accepts): refused now, not as a
        // signature that "does not verify" later.
        if family == KeyAlgorithm::Rsa {
            let bits = match spki.parsed() {
                Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => rsa.key_size(),
                _ => return Err(bad("not a valid RSA public key".into())),
            };
            if !(2048..=8192).contains(&bits) {
                return Err(bad(format!(
                    "an RSA key of {bits} bits; 2048 to 8192 are supported"
                )));
            }
        }
        if signer.algorithm().key_algorithm() != family || signer.algorithm().rcgen().is_none() {
            return Err(Error::invalid(
                "signature_algorithm",
                format!("{} does not fit the public key", signer.algorithm().name()),
            ));
        }
        Ok(ExternalKey {
            signer,
            family,
            raw: spki.subject_public_key.data.to_vec(),
            last_error: std::sync::Mutex::new(None),
        })
    }

    /// The signer again, from what [`new`](Self::new) found out about it before: no
    /// parsing on every signature.
    pub(crate) fn checked(
        signer: &'a dyn Signer,
        family: KeyAlgorithm,
        raw: Vec<u8>,
    ) -> ExternalKey<'a> {
        ExternalKey {
            signer,
            family,
            raw,
            last_error: std::sync::Mutex::new(None),
        }
    }

    /// The subjectPublicKey bits.
    pub(crate) fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The key's family.
    pub(crate) fn family(&self) -> KeyAlgorithm {
        self.family
    }

    /// The error of a failed signature inside rcgen, as [`ErrorKind::Signer`].
    pub(crate) fn take_error(&self) -> Error {
        let e = self.last_error.lock().ok().and_then(|mut l| l.take());
        e.unwrap_or_else(|| Error::new(ErrorKind::Signer, "signer: failed"))
    }

    /// Signs with `alg` and verifies the result with the public key; failures are
    /// [`ErrorKind::Signer`].
    pub(crate) fn sign(&self, alg: SignatureAlgorithm, msg: &[u8]) -> Result<Vec<u8>> {
        let sig = self.signer.sign(alg, msg).map_err(|e| {
            Error::new(ErrorKind::Signer, format!("signer: failed: {e}")).with_source(e)
        })?;
        aws_lc_rs::signature::UnparsedPublicKey::new(alg.verification(), &self.raw)
            .verify(msg, &sig)
            .map_err(|_| {
                Error::new(
                    ErrorKind::Signer,
                    format!(
                        "signer: returned a signature that does not verify as {} with the \
                         public key (wrong format, scheme or key)",
                        alg.name()
                    ),
                )
            })?;
        Ok(sig)
    }

    /// A JWS signature of `msg` under the signer's algorithm.
    pub(crate) fn sign_jws(&self, msg: &[u8]) -> Result<Vec<u8>> {
        let alg = self.signer.algorithm();
        crate::jose::jws_signature(alg, self.sign(alg, msg)?)
    }
}

impl rcgen::PublicKeyData for ExternalKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.raw
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        // `new` refused algorithms rcgen cannot write.
        self.signer
            .algorithm()
            .rcgen()
            .unwrap_or(&rcgen::PKCS_RSA_SHA256)
    }
}

impl rcgen::SigningKey for ExternalKey<'_> {
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, rcgen::Error> {
        ExternalKey::sign(self, self.signer.algorithm(), msg).map_err(|e| {
            if let Ok(mut l) = self.last_error.lock() {
                *l = Some(e);
            }
            rcgen::Error::RemoteKeyError
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    struct PublicOnly(Vec<u8>);

    impl Signer for PublicOnly {
        fn public_key_spki(&self) -> &[u8] {
            &self.0
        }
        fn algorithm(&self) -> SignatureAlgorithm {
            SignatureAlgorithm::RsaPkcs1Sha256
        }
        fn sign(
            &self,
            _: SignatureAlgorithm,
            _: &[u8],
        ) -> std::result::Result<Vec<u8>, ProviderError> {
            Err("never asked".into())
        }
    }

    #[test]
    fn small_rsa_keys_are_refused_up_front() {
        // A 1024-bit RSA public key (openssl genpkey), which no signature check accepts.
        let spki = base64::engine::general_purpose::STANDARD
            .decode(
                "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC2jcV1FGCRjCtmnNVNbysV8WEx62IjVDu/KV9+igjK3n2y\
                 GdvdPwDZPXQL12dvpgRK7gFypPVacAZBIjsSa8lUaz6MBQULdfAE7SNB7d+wbGlJaoItGdnBCY117FP5ieUh\
                 HnPjCvUbWuS+DrKKcqF05RG51m0Ya9GAmO4qZh9pRwIDAQAB",
            )
            .unwrap();
        let e = ExternalKey::new(&PublicOnly(spki), "public_key")
            .err()
            .unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains("1024 bits"), "{e}");
        assert!(e.message().starts_with("public_key: "), "{e}");
    }
}
