//! Keys that never leave their device: an external [`Signer`] (a secure element, a TPM, an
//! HSM SDK) signs CSRs and renew tokens; libstepca only ever sees the public key.

use x509_parser::prelude::*;

use crate::error::{Error, ErrorKind, Result};
use crate::key::SignatureAlgorithm;
use crate::token::ProviderError;

/// Signs on libstepca's behalf with a key it never sees.
///
/// `sign` receives the whole message (the signer hashes it) and must return what X.509
/// wants for `algorithm()`: a DER `ECDSA-Sig-Value` for ECDSA, the PKCS#1 v1.5 signature
/// for RSA, the 64-byte signature for Ed25519.
pub trait Signer: Send + Sync {
    /// The DER SubjectPublicKeyInfo of the key.
    fn public_key_spki(&self) -> &[u8];
    /// The signature algorithm the signer uses.
    fn algorithm(&self) -> SignatureAlgorithm;
    /// Signs `msg`.
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, ProviderError>;
}

/// A [`Signer`]'s public key, checked against its algorithm once.
pub(crate) struct ExternalKey<'a> {
    pub(crate) signer: &'a dyn Signer,
    /// The subjectPublicKey bits, what rcgen wants.
    raw: Vec<u8>,
    /// The signer's own error, kept across rcgen (which only says "remote key error").
    last_error: std::sync::Mutex<Option<ProviderError>>,
}

impl<'a> ExternalKey<'a> {
    pub(crate) fn new(signer: &'a dyn Signer) -> Result<ExternalKey<'a>> {
        let bad = |why: &str| Error::invalid("public_key", why);
        let (rest, spki) = SubjectPublicKeyInfo::from_der(signer.public_key_spki())
            .map_err(|_| bad("not a DER SubjectPublicKeyInfo"))?;
        if !rest.is_empty() {
            return Err(bad("trailing bytes after the SubjectPublicKeyInfo"));
        }
        let oid = spki.algorithm.algorithm.to_id_string();
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .map(|o| o.to_id_string());
        let fits = match signer.algorithm() {
            SignatureAlgorithm::RsaPkcs1Sha256
            | SignatureAlgorithm::RsaPkcs1Sha384
            | SignatureAlgorithm::RsaPkcs1Sha512 => oid == "1.2.840.113549.1.1.1",
            SignatureAlgorithm::EcdsaP256Sha256 => {
                oid == "1.2.840.10045.2.1" && curve.as_deref() == Some("1.2.840.10045.3.1.7")
            }
            SignatureAlgorithm::EcdsaP384Sha384 => {
                oid == "1.2.840.10045.2.1" && curve.as_deref() == Some("1.3.132.0.34")
            }
            SignatureAlgorithm::Ed25519 => oid == "1.3.101.112",
        };
        if !fits {
            return Err(Error::invalid(
                "signature_algorithm",
                format!("{} does not fit the public key", signer.algorithm().name()),
            ));
        }
        Ok(ExternalKey {
            signer,
            raw: spki.subject_public_key.data.to_vec(),
            last_error: std::sync::Mutex::new(None),
        })
    }

    /// The error of a failed signature inside rcgen, as [`ErrorKind::Signer`].
    pub(crate) fn take_error(&self) -> Error {
        let e = self.last_error.lock().ok().and_then(|mut l| l.take());
        match e {
            Some(e) => Error::new(ErrorKind::Signer, format!("signer: failed: {e}")).with_source(e),
            None => Error::new(ErrorKind::Signer, "signer: failed"),
        }
    }

    /// Signs, mapping the signer's failure to [`ErrorKind::Signer`].
    pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>> {
        self.signer.sign(msg).map_err(|e| {
            Error::new(ErrorKind::Signer, format!("signer: failed: {e}")).with_source(e)
        })
    }

    /// A JWS signature of `msg`.
    pub(crate) fn sign_jws(&self, msg: &[u8]) -> Result<Vec<u8>> {
        crate::jose::jws_signature(self.signer.algorithm(), self.sign(msg)?)
    }
}

impl rcgen::PublicKeyData for ExternalKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.raw
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.signer.algorithm().rcgen()
    }
}

impl rcgen::SigningKey for ExternalKey<'_> {
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, rcgen::Error> {
        self.signer.sign(msg).map_err(|e| {
            if let Ok(mut l) = self.last_error.lock() {
                *l = Some(e);
            }
            rcgen::Error::RemoteKeyError
        })
    }
}
