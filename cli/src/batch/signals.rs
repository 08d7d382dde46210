//! SIGINT and SIGTERM during a batch: blocked in every thread (the mask is set before any
//! thread of the batch starts, and threads inherit it), and taken by a thread of their own
//! with sigwait(2), so nothing runs in a signal handler. The first one sets the stop flag
//! (workers start no new device; those in flight finish and are written); a second one ends
//! the process at once (exit 128 + signal), leaving the devices in flight pending in the
//! journal for the next run to name.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

pub(crate) fn name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

/// Blocks SIGINT and SIGTERM in the calling thread (and so in every thread it starts from
/// now on), and starts the thread that waits for them. The flag it returns is 0 until the
/// first arrives, then that signal's number; `on_first` runs (on the waiting thread) with
/// it; `on_second` runs before the process exits on a second one.
pub(crate) fn watch(
    on_first: impl Fn(i32) + Send + 'static,
    on_second: impl Fn(i32) + Send + 'static,
) -> std::io::Result<Arc<AtomicI32>> {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before use; the calls take
    // pointers to it that live through them.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        set
    };
    let stop = Arc::new(AtomicI32::new(0));
    let flag = stop.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            loop {
                let mut sig = 0;
                // SAFETY: `set` and `sig` outlive the call.
                if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                    continue;
                }
                if flag
                    .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    on_first(sig);
                } else {
                    on_second(sig);
                    std::process::exit(128 + sig);
                }
            }
        })?;
    Ok(stop)
}
