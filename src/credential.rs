//! A credential: a certificate chain and the key its leaf certifies, in memory or held
//! (a callback signer, a PKCS#11 token). One type for every call that authenticates with
//! a certificate: mutual-TLS renewal, rekey, revocation, and certificate-signed tokens.

use std::sync::Arc;

use serde_json::Value;
use zeroize::Zeroizing;

use crate::chain::CertificateChain;
use crate::error::{Error, Result};
use crate::key::{KeyAlgorithm, PrivateKey, SignatureAlgorithm};
use crate::signer::{ExternalKey, Signer};

/// A certificate chain (leaf first) with the key of its leaf. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Credential {
    chain: CertificateChain,
    key: Arc<dyn Signer>,
    /// The same key when it is in memory, for what needs it as such (rekeying to a key of
    /// the same type, writing it out).
    memory: Option<Arc<PrivateKey>>,
    held: bool,
    /// What checking the key at construction found: kept so that signing does not parse
    /// the public key again.
    family: KeyAlgorithm,
    raw: Arc<[u8]>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("subject", &self.chain.common_name())
            .field("serial", &self.chain.serial())
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// `chain` with its key in memory. Fails (naming `key`) when the key is not the leaf's.
    pub fn new(chain: CertificateChain, key: impl Into<Arc<PrivateKey>>) -> Result<Credential> {
        let key: Arc<PrivateKey> = key.into();
        Self::make(chain, key.clone(), Some(key), "key")
    }

    /// `chain` with its key held by `signer` (a [`Pkcs11Key`](crate::Pkcs11Key), a secure
    /// element's SDK, ...), which never hands the private key over. Fails (naming `signer`)
    /// when the signer's key is not the leaf's.
    pub fn held(chain: CertificateChain, signer: Arc<dyn Signer>) -> Result<Credential> {
        Self::make(chain, signer, None, "signer")
    }

    fn make(
        chain: CertificateChain,
        key: Arc<dyn Signer>,
        memory: Option<Arc<PrivateKey>>,
        field: &str,
    ) -> Result<Credential> {
        let checked = ExternalKey::new(key.as_ref(), field)?;
        let (family, raw) = (checked.family(), Arc::from(checked.raw()));
        if chain.leaf_public_key() != key.public_key_spki() {
            return Err(Error::invalid(
                field,
                "does not match the certificate's public key",
            ));
        }
        Ok(Credential {
            chain,
            key,
            held: memory.is_none(),
            memory,
            family,
            raw,
        })
    }

    /// The same key with a new chain (after a renewal); fails when the chain certifies
    /// another key.
    pub fn with_chain(&self, chain: CertificateChain) -> Result<Credential> {
        let field = if self.held { "signer" } else { "key" };
        Self::make(chain, self.key.clone(), self.memory.clone(), field)
    }

    /// The chain, leaf first.
    pub fn chain(&self) -> &CertificateChain {
        &self.chain
    }

    /// The key, as the signer every operation goes through.
    pub fn signer(&self) -> &Arc<dyn Signer> {
        &self.key
    }

    /// The key when it is in memory; `None` for a held key.
    pub fn private_key(&self) -> Option<&Arc<PrivateKey>> {
        self.memory.as_ref()
    }

    /// Whether the key is held elsewhere (not a [`PrivateKey`] in memory).
    pub fn is_held(&self) -> bool {
        self.held
    }

    /// The key wrapped for signing, from the check made at construction.
    pub(crate) fn key(&self) -> ExternalKey<'_> {
        ExternalKey::checked(self.key.as_ref(), self.family, self.raw.to_vec())
    }

    /// Signs `msg` with `alg`, verified against the public key (see [`ExternalKey::sign`]).
    pub(crate) fn sign(&self, alg: SignatureAlgorithm, msg: &[u8]) -> Result<Vec<u8>> {
        self.key().sign(alg, msg)
    }

    /// A compact JWS over `claims`, signed by the key, whose header carries the chain
    /// under `chain_header` (`x5c`, or `x5cInsecure` for renewal) and `alg`.
    pub(crate) fn jws(&self, chain_header: &str, claims: &Value) -> Result<Zeroizing<String>> {
        let key = self.key();
        let x5c: Vec<String> = self
            .chain
            .certificates()
            .iter()
            .map(|c| crate::jose::b64std(c))
            .collect();
        let mut header = serde_json::json!({
            "alg": crate::jose::jws_alg(self.key.algorithm()),
            "typ": "JWT",
        });
        header[chain_header] = serde_json::json!(x5c);
        Ok(Zeroizing::new(crate::jose::sign_compact(
            &|msg| key.sign_jws(msg),
            &header,
            claims,
        )?))
    }
}
