//! `stepca_x5c_provisioner`: tokens for step-ca's X5C provisioner, signed in process by a
//! device's factory credential (birth certificate and key, in memory or held).

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use super::credential::stepca_credential;
use super::error::{FfiError, stepca_error, stepca_status};
use super::{call, free_handle, guard, handle, handle_mut, into_handle, out, string};
use crate::provisioner::X5cProvisioner;
use crate::token::TokenProvider;

/// An X5C provisioner with the factory credential that signs its tokens. Immutable once
/// in use; may be shared by clients, options and threads.
pub struct stepca_x5c_provisioner {
    inner: Arc<X5cProvisioner>,
}

impl stepca_x5c_provisioner {
    pub(crate) fn shared(&self) -> Arc<dyn TokenProvider> {
        self.inner.clone()
    }
}

/// An X5C provisioner named `name` at the CA whose tokens `factory` signs: the device's
/// birth certificate chain (leaf first, then the factory intermediates) with its key,
/// which may stay in a secure element or PKCS#11 token. Give it to a client, sign options
/// or revoke options as their token source. A certificate step-ca would refuse is refused
/// here with `STEPCA_ERR_INVALID_ARGUMENT` naming `factory`: no digitalSignature in its
/// keyUsage, or an extendedKeyUsage without clientAuth. When a token is made, a factory
/// certificate expired at the client's time, or a requested notAfter past its notAfter
/// (step-ca caps the lifetime there), fails the call naming `factory` or `not_after`; one
/// not valid yet is `STEPCA_ERR_CLOCK`. Sign tokens carry the CSR's fingerprint (`cnf`).
/// `factory` is shared, not consumed. Free with `stepca_x5c_provisioner_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_x5c_provisioner_new(
    name: *const c_char,
    factory: *const stepca_credential,
    provisioner_out: *mut *mut stepca_x5c_provisioner,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, name, factory) = unsafe {
            (
                out(provisioner_out, "provisioner_out")?,
                string(name, "name")?,
                handle(factory, "factory")?,
            )
        };
        *slot = into_handle(stepca_x5c_provisioner {
            inner: Arc::new(X5cProvisioner::new(name, factory.cred.clone())?),
        });
        Ok(())
    })
}

/// Sets the lifetime of minted tokens in seconds (default 300; 10 to 3600). Refused, naming
/// `provisioner`, while a client or options hold it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_x5c_provisioner_set_lifetime(
    provisioner: *mut stepca_x5c_provisioner,
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

/// Frees a provisioner (clients and options given it keep their share). NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_x5c_provisioner_free(provisioner: *mut stepca_x5c_provisioner) {
    // SAFETY: NULL or a provisioner from this library, freed once.
    guard((), || unsafe { free_handle(provisioner) })
}
