//! Byte buffers handed to C, freed with `stepca_free`.
//!
//! Each buffer is one `malloc` block: a 16-byte header (magic and length), the bytes, and
//! a NUL so that PEM output can be used as a C string. `stepca_free` zeroizes the whole
//! block before freeing it, so buffers holding private keys leave nothing behind.

use std::ffi::c_void;

use zeroize::Zeroize;

use super::error::{FfiError, stepca_status};
use super::{FfiResult, guard};

const HEADER: usize = 16;
const MAGIC: u64 = 0x5354_4550_4341_4246; // "STEPCABF"

/// Copies `data` into a new buffer, writing its pointer and length.
pub(crate) fn hand_out(data: &[u8], out: &mut *mut u8, out_len: &mut usize) -> FfiResult<()> {
    let total = data
        .len()
        .checked_add(HEADER + 1)
        .ok_or_else(|| FfiError::new(stepca_status::STEPCA_ERR_INTERNAL, "buffer too large"))?;
    // SAFETY: plain allocation; checked for NULL below.
    let base = unsafe { libc::malloc(total) }.cast::<u8>();
    if base.is_null() {
        return Err(FfiError::new(
            stepca_status::STEPCA_ERR_INTERNAL,
            "out of memory",
        ));
    }
    // SAFETY: `base` points to `total` writable bytes; malloc aligns for u64.
    unsafe {
        base.cast::<u64>().write(MAGIC);
        base.add(8).cast::<u64>().write(data.len() as u64);
        let body = base.add(HEADER);
        std::ptr::copy_nonoverlapping(data.as_ptr(), body, data.len());
        body.add(data.len()).write(0);
        *out = body;
    }
    *out_len = data.len();
    Ok(())
}

/// Frees a buffer returned by libstepca, after zeroizing it. NULL is a no-op.
///
/// Only pass pointers that libstepca returned as buffers (`uint8_t **out` arguments);
/// objects have their own `stepca_<object>_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_free(ptr: *mut c_void) {
    guard((), || {
        if ptr.is_null() {
            return;
        }
        // SAFETY: by contract `ptr` came from hand_out, so the header precedes it.
        unsafe {
            let base = ptr.cast::<u8>().sub(HEADER);
            if base.cast::<u64>().read() != MAGIC {
                // Not ours (or already freed): leaking is safer than corrupting the heap.
                return;
            }
            let len = base.add(8).cast::<u64>().read() as usize;
            std::slice::from_raw_parts_mut(base, HEADER + len + 1).zeroize();
            libc::free(base.cast());
        }
    })
}
