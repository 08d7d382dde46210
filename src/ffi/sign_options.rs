//! `stepca_sign_options`: per-call options for `stepca_sign_cert`.

use std::ffi::{c_char, c_void};

use super::error::{stepca_error, stepca_status};
use super::jwk_provisioner::stepca_jwk_provisioner;
use super::token::stepca_token_provider_fn;
use super::x5c_provisioner::stepca_x5c_provisioner;
use super::{FfiResult, call, free_handle, guard, handle, into_handle, out, with_mut};
use crate::client::SignOptions;
use crate::token::{Token, TokenSource};

/// Per-call options for `stepca_sign_cert`. Mutable: use from one thread at a time.
pub struct stepca_sign_options {
    pub(crate) opts: SignOptions,
}

/// Creates empty sign options. Free them with `stepca_sign_options_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_sign_options_new(
    options_out: *mut *mut stepca_sign_options,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contract forwarded from the caller.
        let slot = unsafe { out(options_out, "options_out")? };
        *slot = into_handle(stepca_sign_options {
            opts: SignOptions::default(),
        });
        Ok(())
    })
}

fn with_options(
    options: *mut stepca_sign_options,
    error: *mut *mut stepca_error,
    f: impl FnOnce(&mut SignOptions) -> FfiResult<()>,
) -> stepca_status {
    with_mut(options, "options", error, |o| f(&mut o.opts))
}

/// Uses this token (copied, wiped on free) instead of calling a token provider. Replaces
/// the options' token source (a token, provider or provisioner set before); NULL clears it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_sign_options_set_token(
    options: *mut stepca_sign_options,
    token: *const c_char,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_options(options, error, |o| {
        // SAFETY: NULL or a NUL-terminated string by contract.
        o.token = unsafe { super::opt_string(token, "token")? }.map(|t| Token::new(t).into());
        Ok(())
    })
}

/// Uses this token provider (and `user_data`) for calls with these options, instead of the
/// client's. Replaces the options' token source; NULL `provider` clears it. `user_data`
/// must stay valid while the options are used.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_sign_options_set_token_provider(
    options: *mut stepca_sign_options,
    provider: stepca_token_provider_fn,
    user_data: *mut c_void,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_options(options, error, |o| {
        o.token = super::token::c_provider(provider, user_data).map(TokenSource::Provider);
        Ok(())
    })
}

/// Uses a JWK provisioner (tokens minted in process) for calls with these options.
/// Replaces the options' token source.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_sign_options_set_jwk_provisioner(
    options: *mut stepca_sign_options,
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

/// Requests a notBefore, in UNIX seconds (sent as RFC 3339).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_sign_options_set_not_before(
    options: *mut stepca_sign_options,
    unix_seconds: i64,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_options(options, error, |o| {
        o.not_before = Some(unix_seconds);
        Ok(())
    })
}

/// Requests a notAfter, in UNIX seconds (sent as RFC 3339).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_sign_options_set_not_after(
    options: *mut stepca_sign_options,
    unix_seconds: i64,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_options(options, error, |o| {
        o.not_after = Some(unix_seconds);
        Ok(())
    })
}

/// Sets `templateData`, a JSON document for the provisioner's template (checked when
/// signing). NULL clears it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_sign_options_set_template_data(
    options: *mut stepca_sign_options,
    json: *const c_char,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_options(options, error, |o| {
        // SAFETY: NULL or a NUL-terminated string by contract.
        o.template_data = unsafe { super::opt_string(json, "template_data")? }.map(str::to_string);
        Ok(())
    })
}

/// Uses an X5C provisioner (tokens signed in process by the device's factory credential)
/// for calls with these options. Replaces the options' token source.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_sign_options_set_x5c_provisioner(
    options: *mut stepca_sign_options,
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

/// Frees sign options, wiping any token. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_sign_options_free(options: *mut stepca_sign_options) {
    // SAFETY: NULL or options from this library, freed once.
    guard((), || unsafe { free_handle(options) })
}
