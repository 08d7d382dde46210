//! Renewing and rekeying through the C ABI.

use super::chain::stepca_chain;
use super::client::stepca_client;
use super::error::{FfiError, stepca_error, stepca_status};
use super::key::stepca_key;
use super::{bytes, call, handle, into_handle, out};
use crate::renew::RenewAuth;

/// How `stepca_renew` authenticates.
pub type stepca_renew_auth = u32;
/// Mutual TLS, or the bearer token once the certificate has expired.
pub const STEPCA_RENEW_AUTO: stepca_renew_auth = 0;
/// Always mutual TLS.
pub const STEPCA_RENEW_MTLS: stepca_renew_auth = 1;
/// Always the `x5cInsecure` bearer token signed by the certificate's key (for expired
/// certificates, and behind proxies that end TLS).
pub const STEPCA_RENEW_TOKEN: stepca_renew_auth = 2;

/// Renews `chain`'s leaf, held with `key`, at `/1.0/renew`. The new chain (same subject,
/// SANs, lifetime and key) goes to `*chain_out`; free it with `stepca_chain_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_renew(
    client: *const stepca_client,
    chain: *const stepca_chain,
    key: *const stepca_key,
    auth: stepca_renew_auth,
    chain_out: *mut *mut stepca_chain,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, client, chain, key) = unsafe {
            (
                out(chain_out, "chain_out")?,
                handle(client, "client")?,
                handle(chain, "chain")?,
                handle(key, "key")?,
            )
        };
        let auth = match auth {
            STEPCA_RENEW_AUTO => RenewAuth::Auto,
            STEPCA_RENEW_MTLS => RenewAuth::MutualTls,
            STEPCA_RENEW_TOKEN => RenewAuth::Token,
            other => {
                return Err(FfiError::invalid(
                    "auth",
                    &format!("{other} is not a STEPCA_RENEW_* value"),
                ));
            }
        };
        let new = client.client.renew(&chain.chain, &key.key, auth)?;
        *slot = into_handle(stepca_chain { chain: new });
        Ok(())
    })
}

/// Rekeys: authenticates over mutual TLS with `chain` and `key` and gets a certificate for
/// the key in `new_csr` (PEM or DER) at `/1.0/rekey`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_rekey(
    client: *const stepca_client,
    chain: *const stepca_chain,
    key: *const stepca_key,
    new_csr: *const u8,
    new_csr_len: usize,
    chain_out: *mut *mut stepca_chain,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, client, chain, key, csr) = unsafe {
            (
                out(chain_out, "chain_out")?,
                handle(client, "client")?,
                handle(chain, "chain")?,
                handle(key, "key")?,
                bytes(new_csr, new_csr_len, "new_csr")?,
            )
        };
        let new = client.client.rekey(&chain.chain, &key.key, csr)?;
        *slot = into_handle(stepca_chain { chain: new });
        Ok(())
    })
}
