//! The C ABI: thin wrappers over the Rust API.
//!
//! Every exported function
//! - runs inside a panic boundary (`call` or `guard`): a panic becomes
//!   `STEPCA_ERR_PANIC` (or a neutral value), never an unwind into C;
//! - checks each pointer for NULL and each string for UTF-8, naming the argument;
//! - clears `*error` and every out-pointer on entry, and writes outputs only on success;
//! - hands out only owned objects: byte buffers freed with `stepca_free`, handles freed
//!   with their own `stepca_<object>_free`. All free functions accept NULL.
//!
//! No FFI type appears in the Rust core.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

pub mod buffer;
pub mod ca_info;
pub mod chain;
pub mod client;
pub mod credential;
pub mod csr;
pub mod error;
pub mod external_key;
pub mod files;
pub mod jwk_provisioner;
pub mod key;
pub mod logging;
pub mod pkcs11;
pub mod renewer;
pub mod revoke_options;
pub mod sign_options;
pub mod time;
pub mod token;
pub mod version;
pub mod x5c_provisioner;

#[cfg(test)]
mod tests;

use self::error::{FfiError, stepca_error, stepca_status};

pub(crate) type FfiResult<T> = std::result::Result<T, FfiError>;

/// Runs `f` behind the panic boundary, converting its outcome to a status and, when
/// `error` is not NULL, an error object.
pub(crate) fn call(
    error: *mut *mut stepca_error,
    f: impl FnOnce() -> FfiResult<()>,
) -> stepca_status {
    if !error.is_null() {
        // SAFETY: the caller passes NULL or a valid pointer to a pointer.
        unsafe { *error = std::ptr::null_mut() };
    }
    let outcome = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => return stepca_status::STEPCA_OK,
        Ok(Err(e)) => e,
        Err(_) => FfiError::panic(),
    };
    let status = outcome.status;
    if !error.is_null() {
        // SAFETY: checked non-NULL above.
        unsafe { *error = outcome.into_raw() };
    }
    status
}

/// Runs an infallible accessor behind the panic boundary, returning `fallback` on panic.
pub(crate) fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// A required out-pointer: checked, and cleared so that it is NULL on failure.
pub(crate) unsafe fn out<'a, T>(ptr: *mut *mut T, name: &str) -> FfiResult<&'a mut *mut T> {
    if ptr.is_null() {
        return Err(FfiError::null(name));
    }
    // SAFETY: non-NULL; the caller promises it points to writable storage.
    let slot = unsafe { &mut *ptr };
    *slot = std::ptr::null_mut();
    Ok(slot)
}

/// An optional length out-pointer: cleared when given.
pub(crate) unsafe fn out_len<'a>(ptr: *mut usize, name: &str) -> FfiResult<&'a mut usize> {
    if ptr.is_null() {
        return Err(FfiError::null(name));
    }
    // SAFETY: non-NULL; the caller promises it points to writable storage.
    let slot = unsafe { &mut *ptr };
    *slot = 0;
    Ok(slot)
}

/// A borrowed handle.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, name: &str) -> FfiResult<&'a T> {
    // SAFETY: the caller passes NULL or a live handle created by this library.
    unsafe { ptr.as_ref() }.ok_or_else(|| FfiError::null(name))
}

/// A mutably borrowed handle.
pub(crate) unsafe fn handle_mut<'a, T>(ptr: *mut T, name: &str) -> FfiResult<&'a mut T> {
    // SAFETY: the caller passes NULL or a live handle not used concurrently.
    unsafe { ptr.as_mut() }.ok_or_else(|| FfiError::null(name))
}

/// Runs `f` on a mutable handle behind the panic boundary and its NULL check: the shape of
/// every setter on builders, requests and options.
pub(crate) fn with_mut<T>(
    ptr: *mut T,
    name: &str,
    error: *mut *mut stepca_error,
    f: impl FnOnce(&mut T) -> FfiResult<()>,
) -> stepca_status {
    call(error, || {
        // SAFETY: NULL or a live handle used by one thread, by contract.
        let h = unsafe { handle_mut(ptr, name)? };
        f(h)
    })
}

/// A required NUL-terminated UTF-8 string.
pub(crate) unsafe fn string<'a>(ptr: *const c_char, name: &str) -> FfiResult<&'a str> {
    if ptr.is_null() {
        return Err(FfiError::null(name));
    }
    // SAFETY: non-NULL and NUL-terminated by contract.
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .map_err(|_| FfiError::invalid(name, "is not valid UTF-8"))
}

/// An optional NUL-terminated UTF-8 string (NULL means absent).
pub(crate) unsafe fn opt_string<'a>(ptr: *const c_char, name: &str) -> FfiResult<Option<&'a str>> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { string(ptr, name) }.map(Some)
    }
}

/// A required byte range; `len` 0 is an error naming the argument.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, name: &str) -> FfiResult<&'a [u8]> {
    if ptr.is_null() {
        return Err(FfiError::null(name));
    }
    if len == 0 {
        return Err(FfiError::invalid(name, "is empty (length 0)"));
    }
    if len > isize::MAX as usize {
        return Err(FfiError::invalid(name, "length is out of range"));
    }
    // SAFETY: non-NULL, and the caller promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Moves a Rust value into a new handle.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Frees a handle made by [`into_handle`]; NULL is a no-op.
pub(crate) unsafe fn free_handle<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: made by into_handle and not freed before, by contract.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// An encoding for certificates and CSRs.
pub type stepca_format = u32;
/// PEM text (NUL-terminated in returned buffers).
pub const STEPCA_FORMAT_PEM: stepca_format = 0;
/// Binary DER.
pub const STEPCA_FORMAT_DER: stepca_format = 1;

pub(crate) fn format(value: stepca_format) -> FfiResult<crate::encoding::Format> {
    match value {
        STEPCA_FORMAT_PEM => Ok(crate::encoding::Format::Pem),
        STEPCA_FORMAT_DER => Ok(crate::encoding::Format::Der),
        other => Err(FfiError::invalid(
            "format",
            &format!("{other} is not STEPCA_FORMAT_PEM or STEPCA_FORMAT_DER"),
        )),
    }
}
