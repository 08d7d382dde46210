//! `stepca_credential`: a certificate chain with its key, in memory (`stepca_key`) or held
//! (`stepca_external_key`: a sign callback or a PKCS#11 token), and the calls that
//! authenticate with it: renew, rekey, revoke.

use super::chain::stepca_chain;
use super::client::stepca_client;
use super::error::{FfiError, stepca_error, stepca_status};
use super::external_key::stepca_external_key;
use super::key::stepca_key;
use super::revoke_options::stepca_revoke_options;
use super::{FfiResult, bytes, call, free_handle, guard, handle, into_handle, out};
use crate::client::{RenewAuth, RevokeOptions};
use crate::credential::Credential;

/// A certificate chain with the key of its leaf. Immutable; may be used from any number
/// of threads at once (a sign callback must then be thread-safe).
pub struct stepca_credential {
    pub(crate) cred: Credential,
}

/// How a renewal authenticates.
pub type stepca_renew_auth = u32;
/// Mutual TLS, or the bearer token once the certificate has expired.
pub const STEPCA_RENEW_AUTO: stepca_renew_auth = 0;
/// Always mutual TLS.
pub const STEPCA_RENEW_MTLS: stepca_renew_auth = 1;
/// Always the `x5cInsecure` bearer token signed by the certificate's key (for expired
/// certificates, and behind proxies that end TLS).
pub const STEPCA_RENEW_TOKEN: stepca_renew_auth = 2;

pub(crate) fn renew_auth(auth: stepca_renew_auth) -> FfiResult<RenewAuth> {
    Ok(match auth {
        STEPCA_RENEW_AUTO => RenewAuth::Auto,
        STEPCA_RENEW_MTLS => RenewAuth::MutualTls,
        STEPCA_RENEW_TOKEN => RenewAuth::Token,
        other => {
            return Err(FfiError::invalid(
                "auth",
                &format!("{other} is not a STEPCA_RENEW_* value"),
            ));
        }
    })
}

/// A credential from `chain` and its key in memory. Both are shared, not consumed: free
/// them as usual. Fails with `STEPCA_ERR_INVALID_ARGUMENT` naming `key` when the key is
/// not the leaf's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_credential_new(
    chain: *const stepca_chain,
    key: *const stepca_key,
    credential_out: *mut *mut stepca_credential,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, chain, key) = unsafe {
            (
                out(credential_out, "credential_out")?,
                handle(chain, "chain")?,
                handle(key, "key")?,
            )
        };
        *slot = into_handle(stepca_credential {
            cred: Credential::new(chain.chain.clone(), key.key.clone())?,
        });
        Ok(())
    })
}

/// A credential from `chain` and a held key (sign callback or PKCS#11): the private key
/// never leaves its device and signs every handshake and token through `key`. Both are
/// shared, not consumed; a callback's `user_data` must outlive the credential. Fails
/// naming `signer` when the key is not the leaf's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_credential_new_external(
    chain: *const stepca_chain,
    key: *const stepca_external_key,
    credential_out: *mut *mut stepca_credential,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, chain, key) = unsafe {
            (
                out(credential_out, "credential_out")?,
                handle(chain, "chain")?,
                handle(key, "key")?,
            )
        };
        *slot = into_handle(stepca_credential {
            cred: Credential::held(chain.chain.clone(), key.inner.clone())?,
        });
        Ok(())
    })
}

/// The credential's chain, as a new chain object (free with `stepca_chain_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_credential_chain(
    credential: *const stepca_credential,
    chain_out: *mut *mut stepca_chain,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, cred) = unsafe {
            (
                out(chain_out, "chain_out")?,
                handle(credential, "credential")?,
            )
        };
        *slot = into_handle(stepca_chain {
            chain: cred.cred.chain().clone(),
        });
        Ok(())
    })
}

/// A new reference to the same credential (chain and key, shared: nothing is copied), for
/// keeping one that was only lent, as a renewer event's. Free it with
/// `stepca_credential_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_credential_clone(
    credential: *const stepca_credential,
    credential_out: *mut *mut stepca_credential,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, cred) = unsafe {
            (
                out(credential_out, "credential_out")?,
                handle(credential, "credential")?,
            )
        };
        *slot = into_handle(stepca_credential {
            cred: cred.cred.clone(),
        });
        Ok(())
    })
}

/// The credential's key when it is in memory (after a renewer's rekey, the new one), as a
/// new key object (free with `stepca_key_free`). A held key never leaves its device:
/// `STEPCA_ERR_INVALID_ARGUMENT` naming `credential`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_credential_key(
    credential: *const stepca_credential,
    key_out: *mut *mut stepca_key,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, cred) = unsafe { (out(key_out, "key_out")?, handle(credential, "credential")?) };
        let key = cred
            .cred
            .private_key()
            .ok_or_else(|| FfiError::invalid("credential", "its key is held, not in memory"))?;
        *slot = into_handle(stepca_key { key: key.clone() });
        Ok(())
    })
}

/// Frees a credential (not the key's callback `user_data`). NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_credential_free(credential: *mut stepca_credential) {
    // SAFETY: NULL or a credential from this library, freed once.
    guard((), || unsafe { free_handle(credential) })
}

/// Renews the credential's certificate at `/1.0/renew`. The new chain (same subject, SANs,
/// lifetime and key) goes to `*chain_out`; free it with `stepca_chain_free`. Over mutual
/// TLS a held key signs the handshake through its callback or token; a callback that
/// fails or returns a signature that does not verify gives `STEPCA_ERR_SIGNER`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_credential_renew(
    client: *const stepca_client,
    credential: *const stepca_credential,
    auth: stepca_renew_auth,
    chain_out: *mut *mut stepca_chain,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, client, cred) = unsafe {
            (
                out(chain_out, "chain_out")?,
                handle(client, "client")?,
                handle(credential, "credential")?,
            )
        };
        let new = client.client.renew(&cred.cred, renew_auth(auth)?)?;
        *slot = into_handle(stepca_chain { chain: new });
        Ok(())
    })
}

/// Rekeys: authenticates over mutual TLS with the credential and gets a certificate for
/// the key in `new_csr` (PEM or DER) at `/1.0/rekey`. The new key may be held too: a key
/// generated in the same token (`stepca_pkcs11_key_generate`) and its CSR
/// (`stepca_create_csr_external`) rotate the key without it ever leaving the token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_credential_rekey(
    client: *const stepca_client,
    credential: *const stepca_credential,
    new_csr: *const u8,
    new_csr_len: usize,
    chain_out: *mut *mut stepca_chain,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, client, cred, csr) = unsafe {
            (
                out(chain_out, "chain_out")?,
                handle(client, "client")?,
                handle(credential, "credential")?,
                bytes(new_csr, new_csr_len, "new_csr")?,
            )
        };
        let new = client.client.rekey(&cred.cred, csr)?;
        *slot = into_handle(stepca_chain { chain: new });
        Ok(())
    })
}

/// Revokes the credential's leaf, authenticating over mutual TLS with it (no token; the
/// options' token source is not used). `options` may be NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_credential_revoke(
    client: *const stepca_client,
    credential: *const stepca_credential,
    options: *const stepca_revoke_options,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (client, cred) =
            unsafe { (handle(client, "client")?, handle(credential, "credential")?) };
        let default = RevokeOptions::default();
        // SAFETY: NULL or live options.
        let opts = unsafe { options.as_ref() }.map_or(&default, |o| &o.opts);
        Ok(client.client.revoke_with_certificate(&cred.cred, opts)?)
    })
}

/// Shorthand for `stepca_credential_new` + `stepca_credential_renew`.
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
        let cred = Credential::new(chain.chain.clone(), key.key.clone())?;
        let new = client.client.renew(&cred, renew_auth(auth)?)?;
        *slot = into_handle(stepca_chain { chain: new });
        Ok(())
    })
}

/// Shorthand for `stepca_credential_new_external` + `stepca_credential_renew` with
/// `STEPCA_RENEW_TOKEN` (the callback signs the renew token).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_renew_external(
    client: *const stepca_client,
    chain: *const stepca_chain,
    key: *const stepca_external_key,
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
        let cred = Credential::held(chain.chain.clone(), key.inner.clone())?;
        let new = client.client.renew(&cred, RenewAuth::Token)?;
        *slot = into_handle(stepca_chain { chain: new });
        Ok(())
    })
}

/// Shorthand for `stepca_credential_new` + `stepca_credential_rekey`.
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
        let cred = Credential::new(chain.chain.clone(), key.key.clone())?;
        let new = client.client.rekey(&cred, csr)?;
        *slot = into_handle(stepca_chain { chain: new });
        Ok(())
    })
}

/// Shorthand for `stepca_credential_new` + `stepca_credential_revoke`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_revoke_with_certificate(
    client: *const stepca_client,
    chain: *const stepca_chain,
    key: *const stepca_key,
    options: *const stepca_revoke_options,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (client, chain, key) = unsafe {
            (
                handle(client, "client")?,
                handle(chain, "chain")?,
                handle(key, "key")?,
            )
        };
        let default = RevokeOptions::default();
        // SAFETY: NULL or live options.
        let opts = unsafe { options.as_ref() }.map_or(&default, |o| &o.opts);
        let cred = Credential::new(chain.chain.clone(), key.key.clone())?;
        Ok(client.client.revoke_with_certificate(&cred, opts)?)
    })
}
