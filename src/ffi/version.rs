//! Version and capabilities.

use std::ffi::{CStr, c_char};

use super::guard;
use crate::capabilities;

/// The library's version string, e.g. "0.1.0". Static; never freed.
#[unsafe(no_mangle)]
pub extern "C" fn stepca_version() -> *const c_char {
    guard(c"".as_ptr(), || capabilities::VERSION_C.as_ptr())
}

/// The library's version as `MAJOR * 1000000 + MINOR * 1000 + PATCH`; compare it with
/// `STEPCA_VERSION_NUMBER` from the header to catch a header/library mismatch.
#[unsafe(no_mangle)]
pub extern "C" fn stepca_version_number() -> u32 {
    guard(0, || crate::version::STEPCA_VERSION_NUMBER)
}

/// What this build supports, as a static JSON document:
/// `{"key_algs":[...],"sig_algs":[...],"san_types":[...],"features":[...]}`.
/// Every entry listed works; nothing is listed that does not.
#[unsafe(no_mangle)]
pub extern "C" fn stepca_capabilities() -> *const c_char {
    guard(c"{}".as_ptr(), || capabilities::json_c().as_ptr())
}

/// Whether `name` is listed in any section of `stepca_capabilities()` (for example
/// "EC-P384", "ECDSA-P384-SHA384", "uri" or "sign"). False for NULL or non-UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_supports(name: *const c_char) -> bool {
    guard(false, || {
        if name.is_null() {
            return false;
        }
        // SAFETY: non-NULL, NUL-terminated by contract.
        let name = unsafe { CStr::from_ptr(name) };
        name.to_str().is_ok_and(capabilities::supports)
    })
}
