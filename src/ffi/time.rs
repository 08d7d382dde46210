//! The C time source: a function pointer with `void *user_data` that tells the client what
//! time it is, for devices whose system clock cannot be trusted.

use std::ffi::c_void;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::clock::TimeSource;

/// A time source callback: returns the current time in UNIX seconds. Called on the thread
/// of whichever libstepca call needs the time, possibly on several threads at once when
/// the client is shared; it must be cheap and must not call back into libstepca.
pub type stepca_time_source_fn = Option<unsafe extern "C" fn(user_data: *mut c_void) -> i64>;

/// A C callback adapted to [`TimeSource`].
pub(crate) struct CTimeSource {
    pub(crate) func: unsafe extern "C" fn(*mut c_void) -> i64,
    pub(crate) user_data: *mut c_void,
}

// SAFETY: the C API documents that the callback must be callable from any thread; the
// library only passes `user_data` back to it.
unsafe impl Send for CTimeSource {}
// SAFETY: as above.
unsafe impl Sync for CTimeSource {}

impl TimeSource for CTimeSource {
    fn now(&self) -> SystemTime {
        // SAFETY: the callback contract.
        let secs = unsafe { (self.func)(self.user_data) };
        if secs >= 0 {
            UNIX_EPOCH + Duration::from_secs(secs as u64)
        } else {
            UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
        }
    }
}
