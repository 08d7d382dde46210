//! Key arguments (`--key`, `--x5c-key`): a key file, or an RFC 7512 PKCS#11 URI naming a
//! key that stays in its token, in the form step's `--kms` takes:
//! `pkcs11:token=<label>;object=<key label>?module-path=<module>&pin-source=file:<path>`.
//!
//! An encrypted key file is opened with the passphrase of `--password-file`, or one typed at
//! a prompt when stdin is a terminal (as step asks). New keys are generated as step's `--kty`,
//! `--curve` and `--size` say, and written unencrypted (as `step ca certificate` writes them)
//! or encrypted as step encrypts PKCS#8 when a passphrase is given.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use stepca::{
    CertificateChain, Credential, Csr, ErrorKind, KeyType, Pkcs11Key, PrivateKey, Signer,
};

use crate::{Failure, Result, csr_request, read, usage};

/// A password or passphrase file as step reads it (the library's
/// [`stepca::read_password_file`]: trailing white space dropped, leading kept); an
/// unreadable file is exit 3 naming it.
pub(crate) fn read_password(path: &Path) -> Result<Vec<u8>> {
    Ok(stepca::read_password_file(path)?.to_vec())
}

/// Asks for a password on the terminal (`prompt` first), when stdin is one; `None` when it
/// is not (a script, a service) or nothing was typed.
pub(crate) fn prompt(prompt: &str) -> Result<Option<Vec<u8>>> {
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let typed = rpassword::prompt_password(prompt)
        .map_err(|e| crate::input(format!("cannot read the password: {e}")))?;
    let typed = typed.trim();
    Ok((!typed.is_empty()).then(|| typed.as_bytes().to_vec()))
}

/// The key type that step's `--kty`, `--curve` and `--size` name: EC (P-256 by default, or
/// P-384), OKP (Ed25519) or RSA (2048 bits by default, or 3072, 4096); or one of stepca's
/// older names (`ec-p256`, ...), alone. Combinations step refuses are usage errors.
pub(crate) fn new_key_type(
    kty: Option<&str>,
    curve: Option<&str>,
    size: Option<u32>,
) -> Result<KeyType> {
    let no_size = |kty: &str| match size {
        Some(_) => Err(usage(format!(
            "--size is for --kty RSA; the size of a --kty {kty} key is its --curve's"
        ))),
        None => Ok(()),
    };
    match kty.unwrap_or("EC") {
        "EC" => {
            no_size("EC")?;
            match curve.unwrap_or("P-256") {
                "P-256" => Ok(KeyType::EcP256),
                "P-384" => Ok(KeyType::EcP384),
                other => Err(usage(format!(
                    "--curve {other} is not an EC curve: P-256 or P-384 (Ed25519 is --kty OKP)"
                ))),
            }
        }
        "OKP" => {
            no_size("OKP")?;
            match curve.unwrap_or("Ed25519") {
                "Ed25519" => Ok(KeyType::Ed25519),
                other => Err(usage(format!(
                    "--curve {other} is not an OKP curve: Ed25519 (P-256 and P-384 are --kty EC)"
                ))),
            }
        }
        "RSA" => {
            if curve.is_some() {
                return Err(usage("--curve is for --kty EC or OKP, not RSA (--size)"));
            }
            match size.unwrap_or(2048) {
                2048 => Ok(KeyType::Rsa2048),
                3072 => Ok(KeyType::Rsa3072),
                4096 => Ok(KeyType::Rsa4096),
                n => Err(usage(format!(
                    "--size {n}: stepca makes RSA keys of 2048, 3072 or 4096 bits"
                ))),
            }
        }
        old => {
            if curve.is_some() || size.is_some() {
                return Err(usage(format!(
                    "--kty {old} names the curve or size itself: use --kty EC|OKP|RSA with \
                     --curve or --size instead"
                )));
            }
            crate::key_type(old).map_err(|f| usage(f.message))
        }
    }
}

/// Writes a new key to `path` (mode 0600, atomically): encrypted PKCS#8 with `passphrase`
/// (as step encrypts it), or plain PKCS#8 without. The PEM is never copied out of the
/// library's zeroizing buffer.
pub(crate) fn write_new_key(
    path: &Path,
    key: &PrivateKey,
    passphrase: Option<&[u8]>,
) -> Result<()> {
    let pem = match passphrase {
        Some(p) => key.to_encrypted_pkcs8_pem(p)?,
        None => key.to_pkcs8_pem(),
    };
    stepca::write_atomic(path, pem.as_bytes(), 0o600)?;
    Ok(())
}

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

    /// Loads the key argument `arg` of `flag` as [`Key::load`] does; an encrypted key file is
    /// opened with `password_file`'s passphrase or, without one, a passphrase typed at a
    /// prompt when stdin is a terminal (`hint` names the flags that give it, for the error
    /// when neither is there). Also returns the passphrase when the key needed one.
    pub(crate) fn load_protected(
        flag: &str,
        arg: &Path,
        password_file: Option<&Path>,
        hint: &str,
    ) -> Result<(Key, Option<Vec<u8>>)> {
        if is_uri(arg) {
            return Ok((Key::load(flag, arg, None)?, None));
        }
        let data = read(arg)?;
        let err = match PrivateKey::load(&data, None) {
            Ok(key) => return Ok((Key::File(Arc::new(key)), None)),
            Err(e) if e.kind() == ErrorKind::KeyPassphrase => e,
            Err(e) => return Err(at(flag)(e)),
        };
        let passphrase = match password_file {
            Some(f) => Some(read_password(f)?),
            None => prompt(&format!(
                "Please enter the password to decrypt {}: ",
                arg.display()
            ))?,
        };
        let Some(passphrase) = passphrase else {
            let mut f = at(flag)(err);
            f.message.push_str(&format!(" (give it with {hint})"));
            return Err(f);
        };
        let key = PrivateKey::load(&data, Some(&passphrase)).map_err(|e| {
            let mut f = at(flag)(e);
            if password_file.is_some() {
                f.message.push_str(&format!(" (from {hint})"));
            }
            f
        })?;
        Ok((Key::File(Arc::new(key)), Some(passphrase)))
    }

    /// `chain` with this key: in memory, or held by the token.
    pub(crate) fn credential(&self, chain: CertificateChain) -> stepca::Result<Credential> {
        match self {
            Key::File(k) => Credential::new(chain, k.clone()),
            Key::Held(k) => Credential::held(chain, k.clone() as Arc<dyn Signer>),
        }
    }

    /// A CSR for `cn` and `sans`, signed by this key (in the token for a held key).
    pub(crate) fn csr(&self, cn: &str, sans: &[String]) -> Result<Csr> {
        let req = csr_request(cn, sans)?;
        Ok(match self {
            Key::File(k) => req.build(k)?,
            Key::Held(k) => req.build_with_signer(k.as_ref())?,
        })
    }
}
