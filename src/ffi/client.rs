//! `stepca_client_builder`, `stepca_client`, `stepca_sign_cert` and `stepca_enroll`.

use std::ffi::{c_char, c_void};
use std::time::Duration;

use super::chain::stepca_chain;
use super::csr::stepca_csr_request;
use super::error::{FfiError, stepca_error, stepca_status};
use super::external_key::stepca_external_key;
use super::jwk_provisioner::stepca_jwk_provisioner;
use super::key::stepca_key;
use super::sign_options::stepca_sign_options;
use super::time::{CTimeSource, stepca_time_source_fn};
use super::token::stepca_token_provider_fn;
use super::x5c_provisioner::stepca_x5c_provisioner;
use super::{
    FfiResult, bytes, call, free_handle, guard, handle, into_handle, out, string, with_mut,
};
use crate::client::{Client, ClientBuilder, SignOptions};

/// Configuration for a client. Mutable: use from one thread at a time.
pub struct stepca_client_builder {
    builder: ClientBuilder,
}

/// A configured client: immutable, safe to share between threads, keeps connections
/// alive across calls.
pub struct stepca_client {
    pub(crate) client: Client,
}

/// Starts configuring a client for the CA at `ca_url` (`https://host[:port]`). The URL is
/// checked by `stepca_client_builder_build`. Free the builder with
/// `stepca_client_builder_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_builder_new(
    ca_url: *const c_char,
    builder_out: *mut *mut stepca_client_builder,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, url) = unsafe { (out(builder_out, "builder_out")?, string(ca_url, "ca_url")?) };
        *slot = into_handle(stepca_client_builder {
            builder: ClientBuilder::new(url),
        });
        Ok(())
    })
}

fn with_builder(
    builder: *mut stepca_client_builder,
    error: *mut *mut stepca_error,
    f: impl FnOnce(&mut ClientBuilder) -> FfiResult<()>,
) -> stepca_status {
    with_mut(builder, "builder", error, |b| f(&mut b.builder))
}

/// Trusts only the root certificates in this PEM bundle (copied).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_builder_set_root_pem(
    builder: *mut stepca_client_builder,
    pem: *const u8,
    pem_len: usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_builder(builder, error, |b| {
        // SAFETY: `pem` has `pem_len` bytes by contract.
        let pem = unsafe { bytes(pem, pem_len, "root_pem")? };
        b.root_pem(pem)?;
        Ok(())
    })
}

/// Trusts only the root certificates in this PEM file (read now).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_builder_set_root_file(
    builder: *mut stepca_client_builder,
    path: *const c_char,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_builder(builder, error, |b| {
        // SAFETY: NUL-terminated string by contract.
        let path = unsafe { string(path, "root_file")? };
        b.root_file(path)?;
        Ok(())
    })
}

/// Bootstraps trust from the root's SHA-256 fingerprint (hex; `:` and `-` allowed): when
/// the client is built, the root is fetched from the CA without verification, checked
/// against the fingerprint, and becomes the only trusted root. Replaces other trust
/// settings. Fails with `STEPCA_ERR_FINGERPRINT` when the CA has no such root.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_builder_set_root_fingerprint(
    builder: *mut stepca_client_builder,
    fingerprint: *const c_char,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_builder(builder, error, |b| {
        // SAFETY: NUL-terminated string by contract.
        let fp = unsafe { string(fingerprint, "fingerprint")? };
        b.root_fingerprint(fp)?;
        Ok(())
    })
}

/// Allows (`allow` true) a plain `http://` CA URL, which is refused by default.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_builder_allow_insecure_http(
    builder: *mut stepca_client_builder,
    allow: bool,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_builder(builder, error, |b| {
        b.allow_insecure_http(allow);
        Ok(())
    })
}

/// Turns TLS server verification OFF. For tests only: anyone on the network path can then
/// read tokens. Issued chains are still checked, against the configured root when there
/// is one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_builder_dangerous_disable_tls_verification(
    builder: *mut stepca_client_builder,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_builder(builder, error, |b| {
        b.danger_disable_tls_verification();
        Ok(())
    })
}

/// Takes the time from `source` (called with `user_data`) instead of the system clock,
/// everywhere the client needs it: token times, step-ca's TLS certificate, issued chains,
/// expiry. For devices without a trustworthy clock (no RTC, not yet synchronised). NULL
/// goes back to the system clock.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_builder_set_time_source(
    builder: *mut stepca_client_builder,
    source: stepca_time_source_fn,
    user_data: *mut c_void,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_builder(builder, error, |b| {
        b.time_source(source.map(|func| std::sync::Arc::new(CTimeSource { func, user_data }) as _));
        Ok(())
    })
}

/// CA-time mode (`on` true): the client measures the CA's clock from the `Date` of its
/// answers (a `/health` call before the first token is needed) and uses it from then on
/// for token times and checks, so a device whose clock is minutes or hours off still
/// enrolls. The first connection is still verified at the device's time: a clock before
/// the root's notBefore fails with `STEPCA_ERR_CLOCK` unless a time source is set.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_builder_set_ca_time(
    builder: *mut stepca_client_builder,
    on: bool,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_builder(builder, error, |b| {
        b.ca_time(on);
        Ok(())
    })
}

/// Sets the connect timeout (default 10000 ms) and the timeout of a whole call
/// (default 30000 ms). 0 keeps the current value.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_builder_set_timeouts(
    builder: *mut stepca_client_builder,
    connect_timeout_ms: u64,
    call_timeout_ms: u64,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_builder(builder, error, |b| {
        if connect_timeout_ms != 0 {
            b.connect_timeout(Duration::from_millis(connect_timeout_ms))?;
        }
        if call_timeout_ms != 0 {
            b.timeout(Duration::from_millis(call_timeout_ms))?;
        }
        Ok(())
    })
}

/// Sets how failed requests are retried: `max_attempts` in all (1 = never retry; default
/// 3), waiting `initial_backoff_ms` (default 200) doubling up to `max_backoff_ms` (default
/// 2000), with jitter. A request is retried only when it never reached the CA (refused, no
/// route, DNS, connect timeout: its token was not spent and is sent again, the provider is
/// not asked twice) or, for GETs, after a transport failure or a 5xx. All attempts stay
/// within the call timeout.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_builder_set_retries(
    builder: *mut stepca_client_builder,
    max_attempts: u32,
    initial_backoff_ms: u64,
    max_backoff_ms: u64,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_builder(builder, error, |b| {
        b.retry_policy(crate::http::RetryPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(initial_backoff_ms),
            max_backoff: Duration::from_millis(max_backoff_ms),
        })?;
        Ok(())
    })
}

/// Sets the provisioner name handed to the token provider.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_builder_set_provisioner(
    builder: *mut stepca_client_builder,
    name: *const c_char,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_builder(builder, error, |b| {
        // SAFETY: NUL-terminated string by contract.
        let name = unsafe { string(name, "provisioner")? };
        b.provisioner(name)?;
        Ok(())
    })
}

/// Sends requests through this HTTP proxy. Proxy environment variables are never read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_builder_set_proxy(
    builder: *mut stepca_client_builder,
    proxy_url: *const c_char,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_builder(builder, error, |b| {
        // SAFETY: NUL-terminated string by contract.
        let url = unsafe { string(proxy_url, "proxy")? };
        b.proxy(url);
        Ok(())
    })
}

/// Registers the token provider and its `user_data`, passed back on every call.
/// `user_data` must stay valid until every client built with it is freed. The client has
/// one token provider: this replaces a provider or provisioner set before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_builder_set_token_provider(
    builder: *mut stepca_client_builder,
    provider: stepca_token_provider_fn,
    user_data: *mut c_void,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_builder(builder, error, |b| {
        let provider = super::token::c_provider(provider, user_data);
        b.token_provider(provider.ok_or_else(|| FfiError::null("provider"))?);
        Ok(())
    })
}

/// Uses a JWK provisioner (tokens minted in process) as the client's token provider,
/// replacing a provider or provisioner set before. The provisioner is shared, not
/// consumed: free it as usual.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_builder_set_jwk_provisioner(
    builder: *mut stepca_client_builder,
    provisioner: *const stepca_jwk_provisioner,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_builder(builder, error, |b| {
        // SAFETY: NULL or a live provisioner.
        let p = unsafe { handle(provisioner, "provisioner")? };
        b.token_provider(p.shared());
        Ok(())
    })
}

/// Uses an X5C provisioner (tokens signed in process by the device's factory credential)
/// as the client's token provider, replacing a provider or provisioner set before.
/// Shared, not consumed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_builder_set_x5c_provisioner(
    builder: *mut stepca_client_builder,
    provisioner: *const stepca_x5c_provisioner,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_builder(builder, error, |b| {
        // SAFETY: NULL or a live provisioner.
        let p = unsafe { handle(provisioner, "provisioner")? };
        b.token_provider(p.shared());
        Ok(())
    })
}

/// Builds a client. The builder is not consumed: free it with
/// `stepca_client_builder_free`, and the client with `stepca_client_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_builder_build(
    builder: *const stepca_client_builder,
    client_out: *mut *mut stepca_client,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, b) = unsafe { (out(client_out, "client_out")?, handle(builder, "builder")?) };
        *slot = into_handle(stepca_client {
            client: b.builder.build()?,
        });
        Ok(())
    })
}

/// Frees a builder. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_builder_free(builder: *mut stepca_client_builder) {
    // SAFETY: NULL or a builder from this library, freed once.
    guard((), || unsafe { free_handle(builder) })
}

/// Frees a client and closes its connections. NULL is a no-op. No call may be running on
/// the client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_free(client: *mut stepca_client) {
    // SAFETY: NULL or a client from this library, freed once.
    guard((), || unsafe { free_handle(client) })
}

/// Exchanges a CSR (PEM or DER) for a certificate chain at step-ca's `/1.0/sign`.
///
/// `options` may be NULL. The token comes from the options' token source (a token, or a
/// provider or provisioner asked once per call, on this thread), else from the client's
/// token provider. The request is retried (see `stepca_client_builder_set_retries`) only
/// while it never reached step-ca, with the same token. Before returning, the library
/// checks that the leaf carries the CSR's key and that the chain is a valid path to the
/// configured root at the client's time (`STEPCA_ERR_CHAIN_INVALID` otherwise, with the
/// chain in `stepca_error_received`). On success `*chain_out` receives a chain to free with
/// `stepca_chain_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_sign_cert(
    client: *const stepca_client,
    csr: *const u8,
    csr_len: usize,
    options: *const stepca_sign_options,
    chain_out: *mut *mut stepca_chain,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, client, csr) = unsafe {
            (
                out(chain_out, "chain_out")?,
                handle(client, "client")?,
                bytes(csr, csr_len, "csr")?,
            )
        };
        let default = SignOptions::default();
        // SAFETY: NULL or live options.
        let opts = unsafe { options.as_ref() }.map_or(&default, |o| &o.opts);
        let chain = client.client.sign(csr, opts)?;
        *slot = into_handle(stepca_chain { chain });
        Ok(())
    })
}

/// Builds a CSR for `request` with `key` and exchanges it at `/1.0/sign`, in one call:
/// `stepca_create_csr` followed by `stepca_sign_cert`, less the work of reading back and
/// verifying a CSR this library has just signed (about a tenth of an enrollment's CPU).
/// Token, retries, checks of the chain and `*chain_out` as for `stepca_sign_cert`; a CSR
/// that cannot be built fails before any token is asked for. Neither the key nor the
/// request is consumed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_enroll(
    client: *const stepca_client,
    key: *const stepca_key,
    request: *const stepca_csr_request,
    options: *const stepca_sign_options,
    chain_out: *mut *mut stepca_chain,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        unsafe {
            enroll_with(client, key, request, options, chain_out, |k, r| {
                r.build(&k.key)
            })
        }
    })
}

/// The shared part of `stepca_enroll` and `stepca_enroll_external`: checks the pointers,
/// builds the CSR with `build` and exchanges it.
///
/// # Safety
/// The callers' pointer contracts.
unsafe fn enroll_with<K>(
    client: *const stepca_client,
    key: *const K,
    request: *const stepca_csr_request,
    options: *const stepca_sign_options,
    chain_out: *mut *mut stepca_chain,
    build: impl FnOnce(&K, &crate::csr::CsrRequest) -> crate::error::Result<crate::csr::Csr>,
) -> FfiResult<()> {
    // SAFETY: pointer contracts forwarded from the caller.
    let (slot, client, key, request) = unsafe {
        (
            out(chain_out, "chain_out")?,
            handle(client, "client")?,
            handle(key, "key")?,
            handle(request, "request")?,
        )
    };
    let default = SignOptions::default();
    // SAFETY: NULL or live options.
    let opts = unsafe { options.as_ref() }.map_or(&default, |o| &o.opts);
    let csr = build(key, request.request())?;
    let chain = client.client.sign_csr(&csr, opts)?;
    *slot = into_handle(stepca_chain { chain });
    Ok(())
}

/// `stepca_enroll` with an external key (a PKCS#11 key or a signing callback): the CSR is
/// signed through the key, its signature checked once against the public key (as
/// `stepca_create_csr_external` does), and exchanged at `/1.0/sign`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_enroll_external(
    client: *const stepca_client,
    key: *const stepca_external_key,
    request: *const stepca_csr_request,
    options: *const stepca_sign_options,
    chain_out: *mut *mut stepca_chain,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        unsafe {
            enroll_with(client, key, request, options, chain_out, |k, r| {
                r.build_with_signer(k.inner.as_ref())
            })
        }
    })
}

/// Writes the roots the client trusts (configured or bootstrapped) as a PEM bundle into a
/// new buffer (free it with `stepca_free`): save it after bootstrapping by fingerprint.
/// Fails when the client uses the system roots.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_client_trusted_roots_pem(
    client: *const stepca_client,
    pem_out: *mut *mut u8,
    pem_len: *mut usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, len, client) = unsafe {
            (
                out(pem_out, "pem_out")?,
                super::out_len(pem_len, "pem_len")?,
                handle(client, "client")?,
            )
        };
        let roots = client.client.roots();
        if roots.is_empty() {
            return Err(FfiError::invalid(
                "client",
                "uses the system roots (no root was configured)",
            ));
        }
        let pem: String = roots.iter().map(|r| crate::chain::cert_pem(r)).collect();
        super::buffer::hand_out(pem.as_bytes(), slot, len)
    })
}
