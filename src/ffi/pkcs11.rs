//! PKCS#11 token keys through the C ABI: opened or generated in the token, handed out as
//! `stepca_external_key`s.

use std::ffi::c_char;
use std::sync::Arc;

use super::buffer::hand_out;
use super::csr::{sig_alg, stepca_sig_alg};
use super::error::{FfiError, stepca_error, stepca_status};
use super::external_key::stepca_external_key;
use super::{bytes, call, handle, into_handle, out, out_len, string};

/// Opens the key pair labelled `key_label` in the PKCS#11 token labelled `token_label` of
/// `module` (a path to the module, e.g. libsofthsm2.so), logging in with `pin` (wrong PIN:
/// `STEPCA_ERR_KEY_PASSPHRASE`; no such key: `STEPCA_ERR_KEY`). Use it wherever an external
/// key goes (CSRs, `stepca_credential_new_external` for mutual-TLS renewal, rekey and
/// revocation); the private key never leaves the token. Free with
/// `stepca_external_key_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_pkcs11_key_open(
    module: *const c_char,
    token_label: *const c_char,
    pin: *const c_char,
    key_label: *const c_char,
    key_out: *mut *mut stepca_external_key,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, module, token, pin, label) = unsafe {
            (
                out(key_out, "key_out")?,
                string(module, "module")?,
                string(token_label, "token_label")?,
                string(pin, "pin")?,
                string(key_label, "key_label")?,
            )
        };
        let pin = zeroize::Zeroizing::new(pin.to_string());
        let key = crate::pkcs11::Pkcs11Key::open(
            std::path::Path::new(module),
            token,
            &pin,
            &crate::pkcs11::Pkcs11KeyRef::Label(label.to_string()),
        )?;
        let key = Arc::new(key);
        *slot = into_handle(stepca_external_key {
            inner: key.clone(),
            pkcs11: Some(key),
        });
        Ok(())
    })
}

/// Opens the key named by an RFC 7512 PKCS#11 URI, as step's `--kms` takes it:
/// `pkcs11:token=<token label>;object=<key label>?module-path=<module>&pin-source=<file>`
/// (`id=` instead of `object=`; `pin-value=` instead of `pin-source=`). A malformed URI is
/// refused naming `uri` and the attribute; a module, token or key the URI names but that
/// is not there fails as `stepca_pkcs11_key_open` does (a wrong PIN:
/// `STEPCA_ERR_KEY_PASSPHRASE`). Free the key with
/// `stepca_external_key_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_pkcs11_key_open_uri(
    uri: *const c_char,
    key_out: *mut *mut stepca_external_key,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, uri) = unsafe { (out(key_out, "key_out")?, string(uri, "uri")?) };
        let key = Arc::new(crate::pkcs11::Pkcs11Key::open_uri(uri)?);
        *slot = into_handle(stepca_external_key {
            inner: key.clone(),
            pkcs11: Some(key),
        });
        Ok(())
    })
}

/// Generates a key pair of `type` (`STEPCA_KEY_EC_P256`, `_EC_P384`, `_RSA_2048/3072/4096`)
/// labelled `key_label` inside the PKCS#11 token; the private key is not extractable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_pkcs11_key_generate(
    module: *const c_char,
    token_label: *const c_char,
    pin: *const c_char,
    key_label: *const c_char,
    r#type: super::key::stepca_key_type,
    key_out: *mut *mut stepca_external_key,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, module, token, pin, label) = unsafe {
            (
                out(key_out, "key_out")?,
                string(module, "module")?,
                string(token_label, "token_label")?,
                string(pin, "pin")?,
                string(key_label, "key_label")?,
            )
        };
        let kt = super::key::key_type(r#type)?;
        if kt == crate::key::KeyType::Ed25519 {
            return Err(FfiError::invalid(
                "type",
                "Ed25519 is not a key type a token can generate here",
            ));
        }
        let pin = zeroize::Zeroizing::new(pin.to_string());
        let key = crate::pkcs11::Pkcs11Key::generate(
            std::path::Path::new(module),
            token,
            &pin,
            label,
            kt,
        )?;
        let key = Arc::new(key);
        *slot = into_handle(stepca_external_key {
            inner: key.clone(),
            pkcs11: Some(key),
        });
        Ok(())
    })
}

/// Signs a digest computed by the caller with a PKCS#11 key (`alg` names the scheme and
/// the hash that made the digest: ECDSA gives a DER signature; RSA PKCS#1 v1.5, or PSS
/// with a salt as long as the hash). For bindings whose signer interface hands over
/// digests (Go's `crypto.Signer`). The signature goes to a new buffer (free with
/// `stepca_free`). A callback key fails with `STEPCA_ERR_INVALID_ARGUMENT` naming `key`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_pkcs11_key_sign_digest(
    key: *const stepca_external_key,
    alg: stepca_sig_alg,
    digest: *const u8,
    digest_len: usize,
    sig_out: *mut *mut u8,
    sig_len: *mut usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, len, key, digest) = unsafe {
            (
                out(sig_out, "sig_out")?,
                out_len(sig_len, "sig_len")?,
                handle(key, "key")?,
                bytes(digest, digest_len, "digest")?,
            )
        };
        let token_key = key
            .pkcs11
            .as_ref()
            .ok_or_else(|| FfiError::invalid("key", "is not a PKCS#11 key"))?;
        let alg = sig_alg(alg)?.ok_or_else(|| {
            FfiError::invalid(
                "alg",
                "STEPCA_SIG_DEFAULT names no hash; give the algorithm",
            )
        })?;
        hand_out(&token_key.sign_digest(alg, digest)?, slot, len)
    })
}
