//! `stepca_jwk_provisioner`: tokens minted in process from a JWK provisioner's key.

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use super::buffer::hand_out;
use super::client::stepca_client;
use super::error::{FfiError, stepca_error, stepca_status};
use super::{
    bytes, call, free_handle, guard, handle, handle_mut, into_handle, opt_string, out, out_len,
    string,
};
use crate::provisioner::JwkProvisioner;
use crate::token::TokenProvider;

/// A JWK provisioner whose key was decrypted once. Immutable once in use; may be shared
/// by clients and threads.
pub struct stepca_jwk_provisioner {
    inner: Arc<JwkProvisioner>,
}

impl stepca_jwk_provisioner {
    pub(crate) fn shared(&self) -> Arc<dyn TokenProvider> {
        self.inner.clone()
    }
}

fn password<'a>(p: *const c_char) -> super::FfiResult<&'a str> {
    // SAFETY: NUL-terminated string by contract.
    unsafe { string(p, "password") }
}

/// Fetches the JWK provisioner `name` from the CA (all pages of `/provisioners`; `kid` may
/// be NULL unless several share the name) and decrypts its key with `password` (wrong:
/// `STEPCA_ERR_KEY_PASSPHRASE`). Free it with `stepca_jwk_provisioner_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_jwk_provisioner_fetch(
    client: *const stepca_client,
    name: *const c_char,
    kid: *const c_char,
    password_: *const c_char,
    provisioner_out: *mut *mut stepca_jwk_provisioner,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, client, name, kid) = unsafe {
            (
                out(provisioner_out, "provisioner_out")?,
                handle(client, "client")?,
                string(name, "name")?,
                opt_string(kid, "kid")?,
            )
        };
        let p = client
            .client
            .jwk_provisioner(name, kid, password(password_)?.as_bytes())?;
        *slot = into_handle(stepca_jwk_provisioner { inner: Arc::new(p) });
        Ok(())
    })
}

/// Loads a JWK provisioner offline from `data`: a ca.json provisioner entry, or an
/// encrypted JWK (compact JWE, or JWE JSON as `step crypto jwk create` writes it; then
/// `name` is required). `name` may be NULL for a ca.json entry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_jwk_provisioner_load(
    data: *const u8,
    data_len: usize,
    name: *const c_char,
    password_: *const c_char,
    provisioner_out: *mut *mut stepca_jwk_provisioner,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, data, name) = unsafe {
            (
                out(provisioner_out, "provisioner_out")?,
                bytes(data, data_len, "data")?,
                opt_string(name, "name")?,
            )
        };
        let p = JwkProvisioner::from_json(name, data, password(password_)?.as_bytes())?;
        *slot = into_handle(stepca_jwk_provisioner { inner: Arc::new(p) });
        Ok(())
    })
}

/// Sets the lifetime of minted tokens in seconds (10 to 3600; default 300). Refused, naming
/// `provisioner`, while a builder, client or options hold it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_jwk_provisioner_set_lifetime(
    provisioner: *mut stepca_jwk_provisioner,
    seconds: u32,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: NULL or a live provisioner used by one thread.
        let p = unsafe { handle_mut(provisioner, "provisioner")? };
        let inner = Arc::get_mut(&mut p.inner).ok_or_else(|| {
            FfiError::invalid("provisioner", "is already in use by a client or options")
        })?;
        inner.set_lifetime(Duration::from_secs(u64::from(seconds)))?;
        Ok(())
    })
}

/// Mints a sign token for `subject` and `sans` (`sans_len` strings in step's form) with
/// `audience` (e.g. `https://ca:9000/1.0/sign`), into a new buffer (free with `stepca_free`).
/// The token's times come from the system clock; a client given this provisioner
/// (`stepca_client_builder_set_jwk_provisioner`) mints with its own clock instead.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_jwk_provisioner_sign_token(
    provisioner: *const stepca_jwk_provisioner,
    subject: *const c_char,
    sans: *const *const c_char,
    sans_len: usize,
    audience: *const c_char,
    token_out: *mut *mut u8,
    token_len: *mut usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, len, p, subject, audience) = unsafe {
            (
                out(token_out, "token_out")?,
                out_len(token_len, "token_len")?,
                handle(provisioner, "provisioner")?,
                string(subject, "subject")?,
                string(audience, "audience")?,
            )
        };
        if sans.is_null() && sans_len > 0 {
            return Err(FfiError::null("sans"));
        }
        let list = (0..sans_len)
            // SAFETY: `sans` has `sans_len` NUL-terminated strings by contract.
            .map(|i| unsafe { string(*sans.add(i), "sans").map(str::to_string) })
            .collect::<super::FfiResult<Vec<String>>>()?;
        let token = p
            .inner
            .sign_token(subject, &list, audience, std::time::SystemTime::now())?;
        hand_out(token.expose().as_bytes(), slot, len)
    })
}

/// Mints a revoke token (times from the system clock) for the certificate with decimal
/// `serial`, for `audience`
/// (e.g. `https://ca:9000/1.0/revoke`), into a new buffer (free with `stepca_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_jwk_provisioner_revoke_token(
    provisioner: *const stepca_jwk_provisioner,
    serial: *const c_char,
    audience: *const c_char,
    token_out: *mut *mut u8,
    token_len: *mut usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, len, p, serial, audience) = unsafe {
            (
                out(token_out, "token_out")?,
                out_len(token_len, "token_len")?,
                handle(provisioner, "provisioner")?,
                string(serial, "serial")?,
                string(audience, "audience")?,
            )
        };
        let serial = crate::client::normalize_serial(serial)?;
        let token = p
            .inner
            .revoke_token(&serial, audience, std::time::SystemTime::now())?;
        hand_out(token.expose().as_bytes(), slot, len)
    })
}

/// Frees a provisioner (its key is wiped once no client uses it). NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_jwk_provisioner_free(provisioner: *mut stepca_jwk_provisioner) {
    // SAFETY: NULL or a provisioner from this library, freed once.
    guard((), || unsafe { free_handle(provisioner) })
}
