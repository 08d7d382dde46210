//! Key arguments (`--key`, `--x5c-key`): a key file, or an RFC 7512 PKCS#11 URI naming a
//! key that stays in its token, in the form step's `--kms` takes:
//! `pkcs11:token=<label>;object=<key label>?module-path=<module>&pin-source=file:<path>`.

use std::path::Path;
use std::sync::Arc;

use stepca::{CertificateChain, Credential, Pkcs11Key, PrivateKey, Signer};

use crate::{Failure, Result, csr_request, read};

/// The key a key argument names.
pub(crate) enum Key {
    /// Read from a file; in memory.
    File(Arc<PrivateKey>),
    /// In a PKCS#11 token; it signs there and never leaves it.
    Held(Arc<Pkcs11Key>),
}

/// Whether a key argument is a PKCS#11 URI rather than a file name (a file whose name
/// starts with `pkcs11:` is given as `./pkcs11:...`).
pub(crate) fn is_uri(arg: &Path) -> bool {
    arg.to_str()
        .and_then(|s| s.get(..7))
        .is_some_and(|p| p.eq_ignore_ascii_case("pkcs11:"))
}

/// Puts `flag` in front of a library error's message, keeping its exit code.
pub(crate) fn at(flag: &str) -> impl Fn(stepca::Error) -> Failure + '_ {
    move |e| {
        let mut f = Failure::from(e);
        f.message = format!("{flag}: {}", f.message);
        f
    }
}

impl Key {
    /// Loads the key argument `arg` of `flag`: opens the token key a URI names, or reads a
    /// key file (decrypted with `passphrase` when it is encrypted). Errors name `flag`.
    pub(crate) fn load(flag: &str, arg: &Path, passphrase: Option<&[u8]>) -> Result<Key> {
        if is_uri(arg) {
            let uri = arg.to_str().unwrap_or_default();
            let key = Pkcs11Key::open_uri(uri).map_err(at(flag))?;
            return Ok(Key::Held(Arc::new(key)));
        }
        let key = PrivateKey::load(&read(arg)?, passphrase).map_err(at(flag))?;
        Ok(Key::File(Arc::new(key)))
    }

    /// `chain` with this key: in memory, or held by the token.
    pub(crate) fn credential(&self, chain: CertificateChain) -> stepca::Result<Credential> {
        match self {
            Key::File(k) => Credential::new(chain, k.clone()),
            Key::Held(k) => Credential::held(chain, k.clone() as Arc<dyn Signer>),
        }
    }

    /// A CSR (DER) for `cn` and `sans`, signed by this key (in the token for a held key).
    pub(crate) fn csr(&self, cn: &str, sans: &[String]) -> Result<Vec<u8>> {
        let req = csr_request(cn, sans)?;
        let csr = match self {
            Key::File(k) => req.build(k)?,
            Key::Held(k) => req.build_with_signer(k.as_ref())?,
        };
        Ok(csr.der().to_vec())
    }
}
