//! Files a C program reads the way `step` does.

use std::ffi::c_char;
use std::path::Path;

use super::buffer::hand_out;
use super::error::{stepca_error, stepca_status};
use super::{call, out, out_len, string};

/// Reads a password or passphrase file as `step` reads its `--password-file`s: the contents
/// without trailing white space (the newline `echo` or an editor leaves), leading white
/// space kept. `*password_out` is a buffer of `*password_len` bytes (NUL-terminated too),
/// freed and wiped with `stepca_free`. Fails with `STEPCA_ERR_IO` naming the path.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_read_password_file(
    path: *const c_char,
    password_out: *mut *mut u8,
    password_len: *mut usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, len, path) = unsafe {
            (
                out(password_out, "password_out")?,
                out_len(password_len, "password_len")?,
                string(path, "path")?,
            )
        };
        let pw = crate::read_password_file(Path::new(path))?;
        hand_out(&pw, slot, len)
    })
}
