//! `stepca_revoke_options` and `stepca_revoke` (by serial, with a token).

use std::ffi::{c_char, c_void};

use super::client::stepca_client;
use super::error::{FfiError, stepca_error, stepca_status};
use super::jwk_provisioner::stepca_jwk_provisioner;
use super::token::stepca_token_provider_fn;
use super::x5c_provisioner::stepca_x5c_provisioner;
use super::{FfiResult, call, free_handle, guard, handle, into_handle, opt_string, out, string};
use crate::client::RevokeOptions;
use crate::token::{Token, TokenSource};

/// Options for a revocation. Mutable: use from one thread at a time.
pub struct stepca_revoke_options {
    pub(crate) opts: RevokeOptions,
}

/// Creates revocation options (reason code 0, no token). Free with
/// `stepca_revoke_options_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_revoke_options_new(
    options_out: *mut *mut stepca_revoke_options,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contract forwarded from the caller.
        let slot = unsafe { out(options_out, "options_out")? };
        *slot = into_handle(stepca_revoke_options {
            opts: RevokeOptions::default(),
        });
        Ok(())
    })
}

fn with_options(
    options: *mut stepca_revoke_options,
    error: *mut *mut stepca_error,
    f: impl FnOnce(&mut RevokeOptions) -> FfiResult<()>,
) -> stepca_status {
    super::with_mut(options, "options", error, |o| f(&mut o.opts))
}

/// Sets the RFC 5280 reason code (0 to 10) and an optional free-text reason (may be NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_revoke_options_set_reason(
    options: *mut stepca_revoke_options,
    reason_code: u32,
    reason: *const c_char,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_options(options, error, |o| {
        o.reason_code = u8::try_from(reason_code)
            .ok()
            .filter(|c| *c <= 10)
            .ok_or_else(|| FfiError::invalid("reason_code", "must be 0 to 10"))?;
        // SAFETY: NULL or a NUL-terminated string by contract.
        o.reason = unsafe { opt_string(reason, "reason")? }.map(str::to_string);
        Ok(())
    })
}

/// Uses this revoke token (copied, wiped on free). Replaces the options' token source (a
/// token, provider or provisioner set before); NULL clears it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_revoke_options_set_token(
    options: *mut stepca_revoke_options,
    token: *const c_char,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_options(options, error, |o| {
        // SAFETY: NULL or a NUL-terminated string by contract.
        o.token = unsafe { opt_string(token, "token")? }.map(|t| Token::new(t).into());
        Ok(())
    })
}

/// Uses this token provider (asked with purpose `STEPCA_TOKEN_REVOKE`) instead of the
/// client's. Replaces the options' token source; NULL clears it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_revoke_options_set_token_provider(
    options: *mut stepca_revoke_options,
    provider: stepca_token_provider_fn,
    user_data: *mut c_void,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_options(options, error, |o| {
        o.token = super::token::c_provider(provider, user_data).map(TokenSource::Provider);
        Ok(())
    })
}

/// Uses a JWK provisioner to mint the revoke token. Replaces the options' token source.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_revoke_options_set_jwk_provisioner(
    options: *mut stepca_revoke_options,
    provisioner: *const stepca_jwk_provisioner,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_options(options, error, |o| {
        // SAFETY: NULL or a live provisioner.
        let p = unsafe { handle(provisioner, "provisioner")? };
        o.token = Some(TokenSource::Provider(p.shared()));
        Ok(())
    })
}

/// Uses an X5C provisioner (tokens signed in process by the device's factory credential)
/// for calls with these options. Replaces the options' token source.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_revoke_options_set_x5c_provisioner(
    options: *mut stepca_revoke_options,
    provisioner: *const stepca_x5c_provisioner,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_options(options, error, |o| {
        // SAFETY: NULL or a live provisioner.
        let p = unsafe { handle(provisioner, "provisioner")? };
        o.token = Some(TokenSource::Provider(p.shared()));
        Ok(())
    })
}

/// Frees revocation options, wiping any token. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_revoke_options_free(options: *mut stepca_revoke_options) {
    // SAFETY: NULL or options from this library, freed once.
    guard((), || unsafe { free_handle(options) })
}

/// Revokes the certificate with `serial` (decimal, `0x` hex or `aa:bb` hex) with a revoke
/// token: from the options' token source, else the client's provider (asked once).
/// Retried, with the same token, only while the request never reached step-ca. `options`
/// may be NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_revoke(
    client: *const stepca_client,
    serial: *const c_char,
    options: *const stepca_revoke_options,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (client, serial) = unsafe { (handle(client, "client")?, string(serial, "serial")?) };
        let default = RevokeOptions::default();
        // SAFETY: NULL or live options.
        let opts = unsafe { options.as_ref() }.map_or(&default, |o| &o.opts);
        Ok(client.client.revoke(serial, opts)?)
    })
}
