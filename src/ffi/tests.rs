//! Unit tests of the FFI plumbing that Miri can run (`cargo +nightly miri test --lib
//! ffi::tests`): they stay clear of aws-lc, whose C code Miri cannot execute.

use std::ffi::{CStr, c_char};
use std::ptr;

use super::buffer::{hand_out, stepca_free};
use super::client::*;
use super::csr::*;
use super::error::*;
use super::key::*;
use super::sign_options::*;

fn msg(e: *const stepca_error) -> String {
    // SAFETY: a live error object from the library.
    unsafe { CStr::from_ptr(stepca_error_message(e)) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn buffers_round_trip_and_free_null() {
    let mut p: *mut u8 = ptr::null_mut();
    let mut n = 0usize;
    assert!(hand_out(b"hello", &mut p, &mut n).is_ok());
    assert_eq!(n, 5);
    // SAFETY: p has n + 1 bytes, the last a NUL.
    unsafe {
        assert_eq!(std::slice::from_raw_parts(p, n), b"hello");
        assert_eq!(*p.add(n), 0);
        stepca_free(p.cast());
        stepca_free(ptr::null_mut());
    }
    let mut empty: *mut u8 = ptr::null_mut();
    assert!(hand_out(b"", &mut empty, &mut n).is_ok());
    assert_eq!(n, 0);
    // SAFETY: from hand_out.
    unsafe { stepca_free(empty.cast()) };
}

#[test]
fn null_arguments_give_errors_naming_them() {
    let mut err: *mut stepca_error = ptr::null_mut();
    let mut key: *mut stepca_key = ptr::dangling_mut();
    // SAFETY: testing the NULL checks themselves.
    let st = unsafe { stepca_key_load(ptr::null(), 1, ptr::null(), &mut key, &mut err) };
    assert_eq!(st, stepca_status::STEPCA_ERR_NULL_ARGUMENT);
    assert!(key.is_null(), "out-pointer cleared");
    assert_eq!(msg(err), "data: must not be NULL");
    // SAFETY: accessors on a live error, then freed once.
    unsafe {
        assert_eq!(
            stepca_error_code(err),
            stepca_status::STEPCA_ERR_NULL_ARGUMENT
        );
        assert_eq!(stepca_error_http_status(err), 0);
        assert!(stepca_error_ca_message(err).is_null());
        stepca_error_free(err);
        stepca_error_free(ptr::null_mut());
        assert_eq!(
            stepca_key_load(
                ptr::null(),
                0,
                ptr::null(),
                ptr::null_mut(),
                ptr::null_mut()
            ),
            stepca_status::STEPCA_ERR_NULL_ARGUMENT
        );
    }
}

#[test]
fn csr_requests_and_builders_validate_without_crypto() {
    let mut err: *mut stepca_error = ptr::null_mut();
    let mut req: *mut stepca_csr_request = ptr::null_mut();
    // SAFETY: handles created, used and freed here.
    unsafe {
        assert_eq!(
            stepca_csr_request_new(&mut req, &mut err),
            stepca_status::STEPCA_OK
        );
        assert!(err.is_null());
        let cn = c"CN".as_ptr();
        assert_eq!(
            stepca_csr_request_add_subject(req, cn, c"dev".as_ptr(), &mut err),
            stepca_status::STEPCA_OK
        );
        let bad = [0xc3u8, 0x28, 0].as_ptr().cast::<c_char>();
        assert_eq!(
            stepca_csr_request_add_subject(req, c"O".as_ptr(), bad, &mut err),
            stepca_status::STEPCA_ERR_INVALID_ARGUMENT
        );
        assert_eq!(msg(err), "value: is not valid UTF-8");
        stepca_error_free(err);
        assert_eq!(
            stepca_csr_request_add_san(req, 99, c"x".as_ptr(), &mut err),
            stepca_status::STEPCA_ERR_INVALID_ARGUMENT
        );
        stepca_error_free(err);
        assert_eq!(
            stepca_csr_request_add_san(req, STEPCA_SAN_IP, c"::1".as_ptr(), &mut err),
            stepca_status::STEPCA_OK
        );
        stepca_csr_request_free(req);

        let mut b: *mut stepca_client_builder = ptr::null_mut();
        assert_eq!(
            stepca_client_builder_new(c"https://ca:9000".as_ptr(), &mut b, &mut err),
            stepca_status::STEPCA_OK
        );
        assert_eq!(
            stepca_client_builder_set_provisioner(b, c"".as_ptr(), &mut err),
            stepca_status::STEPCA_ERR_INVALID_ARGUMENT
        );
        stepca_error_free(err);
        assert_eq!(
            stepca_client_builder_set_timeouts(b, 10, 20, &mut err),
            stepca_status::STEPCA_OK
        );
        stepca_client_builder_free(b);

        let mut o: *mut stepca_sign_options = ptr::null_mut();
        assert_eq!(
            stepca_sign_options_new(&mut o, &mut err),
            stepca_status::STEPCA_OK
        );
        assert_eq!(
            stepca_sign_options_set_token(o, c"a.b.c".as_ptr(), &mut err),
            stepca_status::STEPCA_OK
        );
        assert_eq!(
            stepca_sign_options_set_token(o, ptr::null(), &mut err),
            stepca_status::STEPCA_OK
        );
        stepca_sign_options_free(o);
    }
}

#[test]
fn status_strings_are_static_and_total() {
    for code in [-1, 0, 1, 2, 3, 10, 52, 60, 61, 9999] {
        // SAFETY: always a static NUL-terminated string.
        let s = unsafe { CStr::from_ptr(stepca_status_str(code)) };
        assert!(!s.to_bytes().is_empty());
    }
}
