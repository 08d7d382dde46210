//! The process-wide log callback: libstepca's own records (requests, retries, renewals)
//! and those of rustls, ureq and cryptoki, handed to one C function.

use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;

use super::call;
use super::error::{FfiError, stepca_error, stepca_status};
use crate::logging::{self, Level, LevelFilter, LogRecord};

/// How severe a record is; as a maximum, the most detailed records passed on.
pub type stepca_log_level = u32;
/// No records (as a maximum: logging off).
pub const STEPCA_LOG_OFF: stepca_log_level = 0;
/// Failures.
pub const STEPCA_LOG_ERROR: stepca_log_level = 1;
/// Failures the library recovers from, such as a renewal to be retried.
pub const STEPCA_LOG_WARN: stepca_log_level = 2;
/// Events: a retry and why, a renewal due or done.
pub const STEPCA_LOG_INFO: stepca_log_level = 3;
/// Each request and its answer; TLS and connection steps.
pub const STEPCA_LOG_DEBUG: stepca_log_level = 4;
/// Everything the dependencies say, but never the bytes on the wire.
pub const STEPCA_LOG_TRACE: stepca_log_level = 5;

/// Receives one record: `target` says where it comes from (`stepca::http`,
/// `stepca::renewer`, `rustls::...`, `ureq::...`, `cryptoki::...`), `message` is text
/// (rustls's trace records span several lines). Both strings are valid only during the call. Called on whichever thread logs,
/// possibly on several at once; it must not call `stepca_set_log_callback`. No record holds
/// a token, key, password or PIN.
pub type stepca_log_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        level: stepca_log_level,
        target: *const c_char,
        message: *const c_char,
    ),
>;

struct CLog {
    func: unsafe extern "C" fn(*mut c_void, stepca_log_level, *const c_char, *const c_char),
    user_data: *mut c_void,
}

// SAFETY: the callback contract says it may be called from any thread; libstepca only
// passes user_data back to it.
unsafe impl Send for CLog {}
// SAFETY: as above.
unsafe impl Sync for CLog {}

fn c_string(s: &str) -> CString {
    // A NUL inside a message would cut it short: shown as U+2400 instead.
    CString::new(s.replace('\0', "\u{2400}")).unwrap_or_default()
}

impl CLog {
    fn log(&self, r: &LogRecord<'_>) {
        let level = match r.level {
            Level::Error => STEPCA_LOG_ERROR,
            Level::Warn => STEPCA_LOG_WARN,
            Level::Info => STEPCA_LOG_INFO,
            Level::Debug => STEPCA_LOG_DEBUG,
            Level::Trace => STEPCA_LOG_TRACE,
        };
        let (target, message) = (c_string(r.target), c_string(r.message));
        // SAFETY: the callback contract; both strings live until it returns.
        unsafe { (self.func)(self.user_data, level, target.as_ptr(), message.as_ptr()) }
    }
}

/// Sends log records up to `max_level` to `callback`, from now on, for the whole process;
/// a NULL callback or `STEPCA_LOG_OFF` stops logging. May be called again to change
/// either; `user_data` must stay valid until then. Fails with
/// `STEPCA_ERR_INVALID_ARGUMENT` naming `max_level` when it is not a `STEPCA_LOG_*`, or
/// naming `log` when a Rust program in the same process installed a logger of its own.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_set_log_callback(
    max_level: stepca_log_level,
    callback: stepca_log_fn,
    user_data: *mut c_void,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        let max = match max_level {
            STEPCA_LOG_OFF => LevelFilter::Off,
            STEPCA_LOG_ERROR => LevelFilter::Error,
            STEPCA_LOG_WARN => LevelFilter::Warn,
            STEPCA_LOG_INFO => LevelFilter::Info,
            STEPCA_LOG_DEBUG => LevelFilter::Debug,
            STEPCA_LOG_TRACE => LevelFilter::Trace,
            _ => {
                return Err(FfiError::invalid(
                    "max_level",
                    "is not a STEPCA_LOG_* level (0 to 5)",
                ));
            }
        };
        let sink = match callback {
            Some(func) if max != LevelFilter::Off => {
                let c = CLog { func, user_data };
                Some(Arc::new(move |r: &LogRecord<'_>| c.log(r)) as logging::LogSink)
            }
            _ => None,
        };
        logging::set_log_sink(max, sink)?;
        Ok(())
    })
}
