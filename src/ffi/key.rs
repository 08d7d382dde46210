//! `stepca_key`: private keys.

use std::ffi::c_char;

use super::buffer::hand_out;
use super::error::{FfiError, stepca_error, stepca_status};
use super::{bytes, call, free_handle, guard, handle, into_handle, opt_string, out, out_len};
use crate::key::{KeyAlgorithm, KeyType, PrivateKey};

/// A key type to generate (`stepca_key_generate`).
pub type stepca_key_type = u32;
/// RSA, 2048-bit modulus.
pub const STEPCA_KEY_RSA_2048: stepca_key_type = 1;
/// RSA, 3072-bit modulus.
pub const STEPCA_KEY_RSA_3072: stepca_key_type = 2;
/// RSA, 4096-bit modulus.
pub const STEPCA_KEY_RSA_4096: stepca_key_type = 3;
/// ECDSA on P-256.
pub const STEPCA_KEY_EC_P256: stepca_key_type = 4;
/// ECDSA on P-384.
pub const STEPCA_KEY_EC_P384: stepca_key_type = 5;
/// Ed25519.
pub const STEPCA_KEY_ED25519: stepca_key_type = 6;

/// A loaded key's algorithm family (`stepca_key_algorithm`).
pub type stepca_key_alg = u32;
/// RSA (any size).
pub const STEPCA_KEY_ALG_RSA: stepca_key_alg = 1;
/// ECDSA on P-256.
pub const STEPCA_KEY_ALG_EC_P256: stepca_key_alg = 2;
/// ECDSA on P-384.
pub const STEPCA_KEY_ALG_EC_P384: stepca_key_alg = 3;
/// Ed25519.
pub const STEPCA_KEY_ALG_ED25519: stepca_key_alg = 4;

/// A private key, validated when loaded. Immutable: one key may be used by many threads.
pub struct stepca_key {
    pub(crate) key: std::sync::Arc<PrivateKey>,
}

/// Loads a private key from PEM or DER (sniffed): PKCS#8, encrypted PKCS#8, SEC1 (also
/// after an `EC PARAMETERS` block), PKCS#1, or legacy `Proc-Type: 4,ENCRYPTED` PEM.
/// `passphrase` may be NULL for unencrypted keys. Free the key with `stepca_key_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_key_load(
    data: *const u8,
    data_len: usize,
    passphrase: *const c_char,
    key_out: *mut *mut stepca_key,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts are forwarded from the caller.
        let (slot, data, pass) = unsafe {
            (
                out(key_out, "key_out")?,
                bytes(data, data_len, "data")?,
                opt_string(passphrase, "passphrase")?,
            )
        };
        let key = PrivateKey::load(data, pass.map(str::as_bytes))?;
        *slot = into_handle(stepca_key { key: key.into() });
        Ok(())
    })
}

/// The one conversion of a `STEPCA_KEY_*` value.
pub(crate) fn key_type(value: stepca_key_type) -> super::FfiResult<KeyType> {
    Ok(match value {
        STEPCA_KEY_RSA_2048 => KeyType::Rsa2048,
        STEPCA_KEY_RSA_3072 => KeyType::Rsa3072,
        STEPCA_KEY_RSA_4096 => KeyType::Rsa4096,
        STEPCA_KEY_EC_P256 => KeyType::EcP256,
        STEPCA_KEY_EC_P384 => KeyType::EcP384,
        STEPCA_KEY_ED25519 => KeyType::Ed25519,
        other => {
            return Err(FfiError::invalid(
                "type",
                &format!("{other} is not a STEPCA_KEY_* value"),
            ));
        }
    })
}

/// Generates a new key of `type` (`STEPCA_KEY_*`). Free it with `stepca_key_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_key_generate(
    r#type: stepca_key_type,
    key_out: *mut *mut stepca_key,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contract forwarded from the caller.
        let slot = unsafe { out(key_out, "key_out")? };
        *slot = into_handle(stepca_key {
            key: PrivateKey::generate(key_type(r#type)?)?.into(),
        });
        Ok(())
    })
}

/// Writes the key as unencrypted PKCS#8 PEM into a new buffer (NUL-terminated; free it
/// with `stepca_free`, which wipes it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_key_to_pem(
    key: *const stepca_key,
    pem_out: *mut *mut u8,
    pem_len: *mut usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, len, key) = unsafe {
            (
                out(pem_out, "pem_out")?,
                out_len(pem_len, "pem_len")?,
                handle(key, "key")?,
            )
        };
        hand_out(key.key.to_pkcs8_pem().as_bytes(), slot, len)
    })
}

/// The key's algorithm family (`STEPCA_KEY_ALG_*`), or 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_key_algorithm(key: *const stepca_key) -> stepca_key_alg {
    // SAFETY: NULL or a live key.
    guard(0, || match unsafe { key.as_ref() } {
        None => 0,
        Some(k) => match k.key.algorithm() {
            KeyAlgorithm::Rsa => STEPCA_KEY_ALG_RSA,
            KeyAlgorithm::EcP256 => STEPCA_KEY_ALG_EC_P256,
            KeyAlgorithm::EcP384 => STEPCA_KEY_ALG_EC_P384,
            KeyAlgorithm::Ed25519 => STEPCA_KEY_ALG_ED25519,
        },
    })
}

/// The key size in bits (RSA modulus, EC curve, 256 for Ed25519), or 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_key_bits(key: *const stepca_key) -> usize {
    // SAFETY: NULL or a live key.
    guard(0, || unsafe { key.as_ref() }.map_or(0, |k| k.key.bits()))
}

/// Frees a key, wiping its material. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_key_free(key: *mut stepca_key) {
    // SAFETY: NULL or a key from this library, freed once.
    guard((), || unsafe { free_handle(key) })
}
