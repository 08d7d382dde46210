//! `stepca_chain`: an issued certificate and its intermediates.

use super::buffer::hand_out;
use super::error::{FfiError, stepca_error, stepca_status};
use super::{call, format, free_handle, guard, handle, out, out_len, stepca_format};
use crate::chain::CertificateChain;

/// A leaf certificate followed by its intermediates (the root is not included).
/// Immutable: may be read from several threads.
pub struct stepca_chain {
    pub(crate) chain: CertificateChain,
}

/// The number of certificates, leaf included (0 for NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_chain_count(chain: *const stepca_chain) -> usize {
    // SAFETY: NULL or a live chain.
    guard(0, || unsafe { chain.as_ref() }.map_or(0, |c| c.chain.len()))
}

/// Writes certificate `index` (0 is the leaf) in `format` into a new buffer (free it with
/// `stepca_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_chain_get(
    chain: *const stepca_chain,
    index: usize,
    format: stepca_format,
    cert_out: *mut *mut u8,
    cert_len: *mut usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, len, chain) = unsafe {
            (
                out(cert_out, "cert_out")?,
                out_len(cert_len, "cert_len")?,
                handle(chain, "chain")?,
            )
        };
        let fmt = self::format(format)?;
        let count = chain.chain.len();
        let data = chain.chain.encode(index, fmt).ok_or_else(|| {
            FfiError::invalid(
                "index",
                &format!("{index} is out of range (the chain has {count})"),
            )
        })?;
        hand_out(&data, slot, len)
    })
}

/// Writes the whole chain as PEM, leaf first, into a new NUL-terminated buffer (free it
/// with `stepca_free`): the file TLS servers and `openssl verify -untrusted` expect.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_chain_pem(
    chain: *const stepca_chain,
    pem_out: *mut *mut u8,
    pem_len: *mut usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, len, chain) = unsafe {
            (
                out(pem_out, "pem_out")?,
                out_len(pem_len, "pem_len")?,
                handle(chain, "chain")?,
            )
        };
        hand_out(chain.chain.to_pem().as_bytes(), slot, len)
    })
}

/// Frees a chain. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_chain_free(chain: *mut stepca_chain) {
    // SAFETY: NULL or a chain from this library, freed once.
    guard((), || unsafe { free_handle(chain) })
}

/// Reads a PEM chain (leaf first, as `stepca_chain_pem` or step write it). Free it with
/// `stepca_chain_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_chain_load(
    pem: *const u8,
    pem_len: usize,
    chain_out: *mut *mut stepca_chain,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, pem) = unsafe {
            (
                out(chain_out, "chain_out")?,
                super::bytes(pem, pem_len, "pem")?,
            )
        };
        *slot = super::into_handle(stepca_chain {
            chain: CertificateChain::from_pem(pem)?,
        });
        Ok(())
    })
}

/// Writes the leaf's serial number in decimal (NUL-terminated) into a new buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_chain_serial(
    chain: *const stepca_chain,
    serial_out: *mut *mut u8,
    serial_len: *mut usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, len, chain) = unsafe {
            (
                out(serial_out, "serial_out")?,
                out_len(serial_len, "serial_len")?,
                handle(chain, "chain")?,
            )
        };
        hand_out(chain.chain.serial().as_bytes(), slot, len)
    })
}

/// The leaf's validity in UNIX seconds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_chain_validity(
    chain: *const stepca_chain,
    not_before: *mut i64,
    not_after: *mut i64,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let chain = unsafe { handle(chain, "chain")? };
        if not_before.is_null() {
            return Err(FfiError::null("not_before"));
        }
        if not_after.is_null() {
            return Err(FfiError::null("not_after"));
        }
        let (nb, na) = chain.chain.validity();
        // SAFETY: checked non-NULL above.
        unsafe {
            *not_before = nb;
            *not_after = na;
        }
        Ok(())
    })
}

/// When to renew the leaf, in UNIX seconds: about two thirds into its life minus a random
/// jitter of up to a twentieth of it, as step does. A time in the past means now. Reads
/// the system clock (not a client's time source): compare the result with that clock.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_chain_renew_after(
    chain: *const stepca_chain,
    unix_seconds: *mut i64,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let chain = unsafe { handle(chain, "chain")? };
        if unix_seconds.is_null() {
            return Err(FfiError::null("unix_seconds"));
        }
        let at = crate::client::renew_after(&chain.chain)?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        // SAFETY: checked non-NULL above.
        unsafe { *unix_seconds = at };
        Ok(())
    })
}
