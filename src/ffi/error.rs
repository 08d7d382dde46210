//! Status codes and per-call error objects.

use std::ffi::{CString, c_char, c_int};

use super::{free_handle, guard, into_handle};
use crate::error::{Error, ErrorKind};

/// Status codes. The numbers are permanent: a code is never renumbered or reused.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum stepca_status {
    /// Success.
    STEPCA_OK = 0,
    /// An argument has an invalid value; the message names it.
    STEPCA_ERR_INVALID_ARGUMENT = 1,
    /// A required pointer argument was NULL; the message names it.
    STEPCA_ERR_NULL_ARGUMENT = 2,
    /// libstepca panicked (a bug); the host process is unharmed.
    STEPCA_ERR_PANIC = 3,
    /// An internal failure (a bug, or out of memory).
    STEPCA_ERR_INTERNAL = 4,
    /// A feature this build or this key does not support.
    STEPCA_ERR_UNSUPPORTED = 5,
    /// The private key cannot be decoded or is of an unsupported type.
    STEPCA_ERR_KEY = 10,
    /// The key is encrypted and the passphrase is missing or wrong.
    STEPCA_ERR_KEY_PASSPHRASE = 11,
    /// A CSR cannot be built, or a CSR passed in is invalid.
    STEPCA_ERR_CSR = 20,
    /// The token provider failed or returned no usable token.
    STEPCA_ERR_TOKEN_PROVIDER = 30,
    /// No token was given and the client has no token provider.
    STEPCA_ERR_NO_TOKEN = 31,
    /// An external signer (callback) failed or returned no signature.
    STEPCA_ERR_SIGNER = 32,
    /// Connecting to the CA failed (refused, reset, host not found...).
    STEPCA_ERR_TRANSPORT = 40,
    /// The TLS handshake failed (untrusted or invalid server certificate...).
    STEPCA_ERR_TLS = 41,
    /// The call did not complete within its timeout.
    STEPCA_ERR_TIMEOUT = 42,
    /// The client's time (the device's clock, or the time source) is before a configured
    /// root's notBefore: the clock is wrong. Set it, or give the client a time source.
    STEPCA_ERR_CLOCK = 43,
    /// step-ca answered with an HTTP error; see the HTTP status and CA message.
    STEPCA_ERR_CA_REJECTED = 50,
    /// step-ca's answer could not be understood.
    STEPCA_ERR_MALFORMED_RESPONSE = 51,
    /// The issued certificate does not carry the CSR's key, or the chain does not verify.
    /// What the CA sent is kept in the error (`stepca_error_received`).
    STEPCA_ERR_CHAIN_INVALID = 52,
    /// Bootstrapping by fingerprint failed: the CA has no such root, or sent another one.
    STEPCA_ERR_FINGERPRINT = 60,
    /// A file could not be written or read; the message names the path.
    STEPCA_ERR_IO = 70,
}

impl stepca_status {
    fn from_kind(kind: ErrorKind) -> stepca_status {
        use stepca_status::*;
        match kind {
            ErrorKind::InvalidArgument => STEPCA_ERR_INVALID_ARGUMENT,
            ErrorKind::Key => STEPCA_ERR_KEY,
            ErrorKind::KeyPassphrase => STEPCA_ERR_KEY_PASSPHRASE,
            ErrorKind::Csr => STEPCA_ERR_CSR,
            ErrorKind::TokenProvider => STEPCA_ERR_TOKEN_PROVIDER,
            ErrorKind::NoToken => STEPCA_ERR_NO_TOKEN,
            ErrorKind::Signer => STEPCA_ERR_SIGNER,
            ErrorKind::Transport => STEPCA_ERR_TRANSPORT,
            ErrorKind::Tls => STEPCA_ERR_TLS,
            ErrorKind::Timeout => STEPCA_ERR_TIMEOUT,
            ErrorKind::Clock => STEPCA_ERR_CLOCK,
            ErrorKind::CaRejected => STEPCA_ERR_CA_REJECTED,
            ErrorKind::MalformedResponse => STEPCA_ERR_MALFORMED_RESPONSE,
            ErrorKind::ChainInvalid => STEPCA_ERR_CHAIN_INVALID,
            ErrorKind::Unsupported => STEPCA_ERR_UNSUPPORTED,
            ErrorKind::Fingerprint => STEPCA_ERR_FINGERPRINT,
            ErrorKind::Io => STEPCA_ERR_IO,
            ErrorKind::Internal => STEPCA_ERR_INTERNAL,
        }
    }

    const ALL: [stepca_status; 21] = {
        use stepca_status::*;
        [
            STEPCA_OK,
            STEPCA_ERR_INVALID_ARGUMENT,
            STEPCA_ERR_NULL_ARGUMENT,
            STEPCA_ERR_PANIC,
            STEPCA_ERR_INTERNAL,
            STEPCA_ERR_UNSUPPORTED,
            STEPCA_ERR_KEY,
            STEPCA_ERR_KEY_PASSPHRASE,
            STEPCA_ERR_CSR,
            STEPCA_ERR_TOKEN_PROVIDER,
            STEPCA_ERR_NO_TOKEN,
            STEPCA_ERR_SIGNER,
            STEPCA_ERR_TRANSPORT,
            STEPCA_ERR_TLS,
            STEPCA_ERR_TIMEOUT,
            STEPCA_ERR_CLOCK,
            STEPCA_ERR_CA_REJECTED,
            STEPCA_ERR_MALFORMED_RESPONSE,
            STEPCA_ERR_CHAIN_INVALID,
            STEPCA_ERR_FINGERPRINT,
            STEPCA_ERR_IO,
        ]
    };

    fn describe(self) -> &'static std::ffi::CStr {
        use stepca_status::*;
        match self {
            STEPCA_OK => c"ok",
            STEPCA_ERR_INVALID_ARGUMENT => c"invalid argument",
            STEPCA_ERR_NULL_ARGUMENT => c"NULL argument",
            STEPCA_ERR_PANIC => c"internal panic",
            STEPCA_ERR_INTERNAL => c"internal error",
            STEPCA_ERR_UNSUPPORTED => c"unsupported",
            STEPCA_ERR_KEY => c"invalid or unsupported private key",
            STEPCA_ERR_KEY_PASSPHRASE => c"missing or wrong key passphrase",
            STEPCA_ERR_CSR => c"invalid certificate signing request",
            STEPCA_ERR_TOKEN_PROVIDER => c"token provider failed",
            STEPCA_ERR_NO_TOKEN => c"no token and no token provider",
            STEPCA_ERR_SIGNER => c"external signer failed",
            STEPCA_ERR_TRANSPORT => c"connection to the CA failed",
            STEPCA_ERR_TLS => c"TLS failure",
            STEPCA_ERR_TIMEOUT => c"timed out",
            STEPCA_ERR_CLOCK => c"the clock is wrong",
            STEPCA_ERR_CA_REJECTED => c"rejected by the CA",
            STEPCA_ERR_MALFORMED_RESPONSE => c"malformed response from the CA",
            STEPCA_ERR_CHAIN_INVALID => c"issued certificate or chain does not verify",
            STEPCA_ERR_FINGERPRINT => c"root fingerprint does not match",
            STEPCA_ERR_IO => c"file could not be written or read",
        }
    }
}

/// A failure as the FFI layer carries it until it becomes a status and an error object.
pub(crate) struct FfiError {
    pub(crate) status: stepca_status,
    message: String,
    http_status: u16,
    ca_message: Option<String>,
    received: Option<String>,
    clock_skew: Option<i64>,
}

impl FfiError {
    pub(crate) fn new(status: stepca_status, message: impl Into<String>) -> FfiError {
        FfiError {
            status,
            message: message.into(),
            http_status: 0,
            ca_message: None,
            received: None,
            clock_skew: None,
        }
    }

    pub(crate) fn null(name: &str) -> FfiError {
        FfiError::new(
            stepca_status::STEPCA_ERR_NULL_ARGUMENT,
            format!("{name}: must not be NULL"),
        )
    }

    pub(crate) fn invalid(name: &str, why: &str) -> FfiError {
        FfiError::new(
            stepca_status::STEPCA_ERR_INVALID_ARGUMENT,
            format!("{name}: {why}"),
        )
    }

    pub(crate) fn panic() -> FfiError {
        FfiError::new(
            stepca_status::STEPCA_ERR_PANIC,
            "libstepca panicked; this is a bug, please report it",
        )
    }

    pub(crate) fn into_raw(self) -> *mut stepca_error {
        // Interior NULs cannot be represented in C strings; they never occur in our
        // messages, but a CA message could carry one.
        let c = |s: String| CString::new(s.replace('\0', "\u{fffd}")).unwrap_or_default();
        into_handle(stepca_error {
            status: self.status,
            message: c(self.message),
            http_status: self.http_status,
            ca_message: self.ca_message.map(c),
            received: self.received.map(c),
            clock_skew: self.clock_skew,
        })
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> FfiError {
        FfiError::from(&e)
    }
}

/// For an error that is only lent (a renewer event's).
impl From<&Error> for FfiError {
    fn from(e: &Error) -> FfiError {
        FfiError {
            status: stepca_status::from_kind(e.kind()),
            message: e.message().to_string(),
            http_status: e.http_status().unwrap_or(0),
            ca_message: e.ca_message().map(str::to_string),
            received: e.received().map(str::to_string),
            clock_skew: e.clock_skew(),
        }
    }
}

/// Details of one failed call. Created by the library, freed with `stepca_error_free`.
pub struct stepca_error {
    status: stepca_status,
    message: CString,
    http_status: u16,
    ca_message: Option<CString>,
    received: Option<CString>,
    clock_skew: Option<i64>,
}

/// A fixed English description of a status code; never NULL, also for unknown codes.
#[unsafe(no_mangle)]
pub extern "C" fn stepca_status_str(status: c_int) -> *const c_char {
    guard(c"unknown status".as_ptr(), || {
        stepca_status::ALL
            .iter()
            .find(|s| **s as c_int == status)
            .map_or(c"unknown status", |s| s.describe())
            .as_ptr()
    })
}

/// The status code of the failure (`STEPCA_ERR_INVALID_ARGUMENT` for a NULL `error`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_error_code(error: *const stepca_error) -> stepca_status {
    // SAFETY: NULL or a live error object.
    guard(stepca_status::STEPCA_ERR_PANIC, || {
        match unsafe { error.as_ref() } {
            Some(e) => e.status,
            None => stepca_status::STEPCA_ERR_INVALID_ARGUMENT,
        }
    })
}

/// The message, naming the offending field or carrying step-ca's message. Never contains
/// keys, passphrases or tokens. Valid until `stepca_error_free`; "" for a NULL `error`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_error_message(error: *const stepca_error) -> *const c_char {
    // SAFETY: NULL or a live error object.
    guard(c"".as_ptr(), || match unsafe { error.as_ref() } {
        Some(e) => e.message.as_ptr(),
        None => c"".as_ptr(),
    })
}

/// The HTTP status step-ca answered with, or 0 when the failure was not an HTTP answer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_error_http_status(error: *const stepca_error) -> c_int {
    // SAFETY: NULL or a live error object.
    guard(0, || {
        unsafe { error.as_ref() }.map_or(0, |e| c_int::from(e.http_status))
    })
}

/// step-ca's own `message`, or NULL when it sent none. Valid until `stepca_error_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_error_ca_message(error: *const stepca_error) -> *const c_char {
    // SAFETY: NULL or a live error object.
    guard(std::ptr::null(), || {
        unsafe { error.as_ref() }
            .and_then(|e| e.ca_message.as_ref())
            .map_or(std::ptr::null(), |m| m.as_ptr())
    })
}

/// What step-ca sent when it answered with success but the answer was rejected here
/// (`STEPCA_ERR_CHAIN_INVALID`, `STEPCA_ERR_MALFORMED_RESPONSE`): the issued certificate
/// chain as PEM, or the raw body. NULL otherwise. Valid until `stepca_error_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_error_received(error: *const stepca_error) -> *const c_char {
    // SAFETY: NULL or a live error object.
    guard(std::ptr::null(), || {
        unsafe { error.as_ref() }
            .and_then(|e| e.received.as_ref())
            .map_or(std::ptr::null(), |m| m.as_ptr())
    })
}

/// How far the client's clock was from the CA's when the call failed, in seconds
/// (positive: the client is ahead), measured from the `Date` of the CA's answer. Returns
/// true and sets `*skew_seconds` when it was measured; false (and leaves it alone) when the
/// failure came without an answer, or for a NULL argument. Beyond step-ca's 60 s leeway the
/// message says so too.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_error_clock_skew(
    error: *const stepca_error,
    skew_seconds: *mut i64,
) -> bool {
    guard(false, || {
        // SAFETY: NULL or a live error object; NULL or a writable i64.
        let (Some(e), Some(out)) = (unsafe { error.as_ref() }, unsafe { skew_seconds.as_mut() })
        else {
            return false;
        };
        match e.clock_skew {
            Some(s) => {
                *out = s;
                true
            }
            None => false,
        }
    })
}

/// Frees an error object. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_error_free(error: *mut stepca_error) {
    // SAFETY: NULL or an error object from this library, freed once.
    guard((), || unsafe { free_handle(error) })
}
