//! `stepca_renewer`: a credential renewed on a background thread (see [`crate::Renewer`]),
//! reporting through a C callback.

use std::ffi::{c_char, c_int, c_void};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, UNIX_EPOCH};

use super::client::stepca_client;
use super::credential::{renew_auth, stepca_credential, stepca_renew_auth};
use super::error::{FfiError, stepca_error, stepca_status};
use super::external_key::stepca_external_key;
use super::{FfiResult, call, free_handle, guard, handle, into_handle, opt_string, out};
use crate::client::Client;
use crate::error::{Error, ErrorKind};
use crate::renewer::{NewKey, Renewer, RenewerEvent, RenewerOptions, Schedule};

/// What a renewer event reports.
pub type stepca_renewer_event_kind = u32;
/// The next renewal is scheduled for `at`.
pub const STEPCA_RENEWER_SCHEDULED: stepca_renewer_event_kind = 0;
/// A renewal (or rekey: `rekeyed`) succeeded and its files are written; `credential` is the
/// new one.
pub const STEPCA_RENEWER_RENEWED: stepca_renewer_event_kind = 1;
/// A renewal failed (`error`, `attempt` failures in a row); retried at `at`.
pub const STEPCA_RENEWER_FAILED: stepca_renewer_event_kind = 2;
/// Writing the renewed `credential` failed (`error`: `STEPCA_ERR_IO` naming the path). It
/// is in use all the same and written again at `at`; `STEPCA_RENEWER_RENEWED` follows.
pub const STEPCA_RENEWER_WRITE_FAILED: stepca_renewer_event_kind = 3;

/// One event. Everything it points to is borrowed for the duration of the callback: copy
/// what you keep (`stepca_credential_chain`, `stepca_renewer_credential`, ...). Fields may
/// be added at the end; never allocate one yourself.
#[repr(C)]
pub struct stepca_renewer_event {
    /// `STEPCA_RENEWER_*`.
    pub kind: stepca_renewer_event_kind,
    /// Failures in a row, this one included (`FAILED`, `WRITE_FAILED`), else 0.
    pub attempt: u32,
    /// UNIX seconds: when the renewal is due (`SCHEDULED`), or when it is retried
    /// (`FAILED`, `WRITE_FAILED`); else 0.
    pub at: i64,
    /// Whether the key is new (`RENEWED`).
    pub rekeyed: bool,
    /// The new credential (`RENEWED`, `WRITE_FAILED`), else NULL.
    pub credential: *const stepca_credential,
    /// Why (`FAILED`, `WRITE_FAILED`), else NULL.
    pub error: *const stepca_error,
}

/// Receives the renewer's events, on the renewer's thread, one at a time. It may call
/// `stepca_renewer_stop` (which then only asks; the thread ends after the callback).
pub type stepca_renewer_event_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const stepca_renewer_event)>;

/// Makes the new key of a rekey for a held credential (for example
/// `stepca_pkcs11_key_generate` in the same token): returns 0 and sets `*key_out`, whose
/// ownership passes to libstepca, or a nonzero code (the rekey fails with
/// `STEPCA_ERR_SIGNER` naming it, and is retried).
pub type stepca_new_key_fn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, key_out: *mut *mut stepca_external_key) -> c_int,
>;

/// When a renewer renews.
pub type stepca_schedule = u32;
/// About two thirds into the certificate's life, with jitter (step's default).
pub const STEPCA_SCHEDULE_TWO_THIRDS: stepca_schedule = 0;
/// When no more than `seconds` are left (step's `--expires-in`), with jitter.
pub const STEPCA_SCHEDULE_EXPIRES_IN: stepca_schedule = 1;
/// Every `seconds` (step's `--renew-period`).
pub const STEPCA_SCHEDULE_PERIOD: stepca_schedule = 2;

/// A C callback and its user_data, called from the renewer's thread.
#[derive(Clone, Copy)]
struct Callback<F> {
    func: F,
    user_data: *mut c_void,
}

// SAFETY: documented: callbacks and their user_data must be usable from the renewer's
// thread; libstepca only passes user_data back.
unsafe impl<F> Send for Callback<F> {}
// SAFETY: as above; the new-key callback may be called from the renewer's thread only.
unsafe impl<F> Sync for Callback<F> {}

/// A credential kept fresh on one background thread: configure, start, stop (from any
/// thread), start again. Thread-safe.
pub struct stepca_renewer {
    inner: Mutex<Inner>,
}

struct Inner {
    client: Client,
    credential: crate::Credential,
    options: RenewerOptions,
    on_event: Callback<unsafe extern "C" fn(*mut c_void, *const stepca_renewer_event)>,
    running: Option<Arc<Renewer>>,
    /// One stopped from its own callback: its thread ends after the callback and is
    /// joined by the next stop, start or free, so that nothing of it outlives those.
    stopping: Option<Arc<Renewer>>,
}

impl stepca_renewer {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    /// Options change only while stopped.
    fn stopped(&mut self) -> FfiResult<&mut RenewerOptions> {
        if self.running.is_some() {
            return Err(FfiError::invalid(
                "renewer",
                "is running; stop it before changing its settings",
            ));
        }
        Ok(&mut self.options)
    }
}

fn secs(t: std::time::SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs `f` on the renewer behind the panic boundary and its NULL check.
fn with_renewer(
    renewer: *const stepca_renewer,
    error: *mut *mut stepca_error,
    f: impl FnOnce(&stepca_renewer) -> FfiResult<()>,
) -> stepca_status {
    call(error, || {
        // SAFETY: NULL or a live renewer, by contract.
        let r = unsafe { handle(renewer, "renewer")? };
        f(r)
    })
}

/// A renewer (not started) for `credential` at `client`'s CA, reporting to `on_event`
/// with `user_data`, which must stay usable until the renewer is stopped. Defaults: the
/// two-thirds schedule, `STEPCA_RENEW_AUTO`, no rekey, no files, retries after 5 s doubling
/// up to 300 s. Client and credential are shared, not consumed. Free with
/// `stepca_renewer_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_renewer_new(
    client: *const stepca_client,
    credential: *const stepca_credential,
    on_event: stepca_renewer_event_fn,
    user_data: *mut c_void,
    renewer_out: *mut *mut stepca_renewer,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, client, cred) = unsafe {
            (
                out(renewer_out, "renewer_out")?,
                handle(client, "client")?,
                handle(credential, "credential")?,
            )
        };
        let func = on_event.ok_or_else(|| FfiError::null("on_event"))?;
        *slot = into_handle(stepca_renewer {
            inner: Mutex::new(Inner {
                client: client.client.clone(),
                credential: cred.cred.clone(),
                options: RenewerOptions::default(),
                on_event: Callback { func, user_data },
                running: None,
                stopping: None,
            }),
        });
        Ok(())
    })
}

/// Sets when to renew: `STEPCA_SCHEDULE_TWO_THIRDS` (`seconds` ignored),
/// `STEPCA_SCHEDULE_EXPIRES_IN` or `STEPCA_SCHEDULE_PERIOD` (`seconds` more than 0).
/// Only while stopped.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_renewer_set_schedule(
    renewer: *mut stepca_renewer,
    schedule: stepca_schedule,
    seconds: u64,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_renewer(renewer, error, |r| {
        let d = Duration::from_secs(seconds);
        let s = match schedule {
            STEPCA_SCHEDULE_TWO_THIRDS => Schedule::TwoThirds,
            STEPCA_SCHEDULE_EXPIRES_IN if seconds > 0 => Schedule::ExpiresIn(d),
            STEPCA_SCHEDULE_PERIOD if seconds > 0 => Schedule::Period(d),
            STEPCA_SCHEDULE_EXPIRES_IN | STEPCA_SCHEDULE_PERIOD => {
                return Err(FfiError::invalid("seconds", "must be more than 0"));
            }
            other => {
                return Err(FfiError::invalid(
                    "schedule",
                    &format!("{other} is not a STEPCA_SCHEDULE_* value"),
                ));
            }
        };
        r.lock().stopped()?.schedule = s;
        Ok(())
    })
}

/// Sets how renewals authenticate (`STEPCA_RENEW_*`). Only while stopped.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_renewer_set_auth(
    renewer: *mut stepca_renewer,
    auth: stepca_renew_auth,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_renewer(renewer, error, |r| {
        let auth = renew_auth(auth)?;
        r.lock().stopped()?.auth = auth;
        Ok(())
    })
}

/// Writes each renewed chain to `cert_path` (PEM, 0644) and, after a rekey of a key in
/// memory, the new key to `key_path` (PKCS#8 PEM, 0600; NULL for none), each atomically,
/// key first. NULL `cert_path` writes nothing. Only while stopped.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_renewer_set_files(
    renewer: *mut stepca_renewer,
    cert_path: *const c_char,
    key_path: *const c_char,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_renewer(renewer, error, |r| {
        // SAFETY: pointer contracts forwarded from the caller.
        let (cert, key) = unsafe {
            (
                opt_string(cert_path, "cert_path")?,
                opt_string(key_path, "key_path")?,
            )
        };
        let mut inner = r.lock();
        let o = inner.stopped()?;
        o.cert_file = cert.map(Into::into);
        o.key_file = key.map(Into::into);
        Ok(())
    })
}

/// Sets the retry delays after a failure: `min_ms`, doubling up to `max_ms`. Only while
/// stopped.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_renewer_set_retry(
    renewer: *mut stepca_renewer,
    min_ms: u64,
    max_ms: u64,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_renewer(renewer, error, |r| {
        let mut inner = r.lock();
        let o = inner.stopped()?;
        o.retry_min = Duration::from_millis(min_ms);
        o.retry_max = Duration::from_millis(max_ms);
        Ok(())
    })
}

/// Rekeys instead of renewing every `every` renewals (0: never). A key in memory is
/// replaced by a new one of the same type (set a key file with `stepca_renewer_set_files`
/// when writing the chain); a held key needs `new_key` (NULL otherwise), called with
/// `user_data` on the renewer's thread. Only while stopped.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_renewer_set_rekey(
    renewer: *mut stepca_renewer,
    every: u32,
    new_key: stepca_new_key_fn,
    user_data: *mut c_void,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_renewer(renewer, error, |r| {
        let mut inner = r.lock();
        let o = inner.stopped()?;
        o.rekey_every = every;
        o.new_key = new_key.map(|func| {
            let cb = Callback { func, user_data };
            Arc::new(move || make_key(&cb)) as crate::renewer::KeyGenerator
        });
        Ok(())
    })
}

fn make_key(
    cb: &Callback<unsafe extern "C" fn(*mut c_void, *mut *mut stepca_external_key) -> c_int>,
) -> crate::Result<NewKey> {
    let mut key: *mut stepca_external_key = std::ptr::null_mut();
    // SAFETY: the callback contract: it sets *key_out to a key from this library or leaves it.
    let code = unsafe { (cb.func)(cb.user_data, &mut key) };
    let owned = (!key.is_null()).then(|| {
        // SAFETY: a key handed over by the callback, owned from here on.
        unsafe { Box::from_raw(key) }
    });
    match (code, owned) {
        (0, Some(k)) => Ok(NewKey::Held(k.inner.clone())),
        (0, None) => Err(Error::new(
            ErrorKind::Signer,
            "new_key: the callback returned 0 without a key",
        )),
        (code, _) => Err(Error::new(
            ErrorKind::Signer,
            format!("new_key: the callback returned {code}"),
        )),
    }
}

/// Starts renewing on a background thread (from the current credential, after a stop).
/// Settings that cannot work fail here naming the field (`STEPCA_ERR_INVALID_ARGUMENT`: a
/// held key rekeyed without `new_key`, a key in memory rekeyed while writing the chain but
/// not the key, `retry_max` below `retry_min`, ...); an already running renewer too.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_renewer_start(
    renewer: *mut stepca_renewer,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_renewer(renewer, error, |r| {
        if r.lock().running.is_some() {
            return Err(FfiError::invalid("renewer", "is already running"));
        }
        join_stopped(r);
        let mut inner = r.lock();
        let cb = inner.on_event;
        let running = Renewer::start(
            inner.client.clone(),
            inner.credential.clone(),
            inner.options.clone(),
            move |e| report(&cb, e),
        )?;
        inner.running = Some(Arc::new(running));
        Ok(())
    })
}

fn report(
    cb: &Callback<unsafe extern "C" fn(*mut c_void, *const stepca_renewer_event)>,
    event: &RenewerEvent<'_>,
) {
    let mut ev = stepca_renewer_event {
        kind: 0,
        attempt: 0,
        at: 0,
        rekeyed: false,
        credential: std::ptr::null(),
        error: std::ptr::null(),
    };
    let (cred, err) = match event {
        RenewerEvent::Scheduled { at } => {
            ev.kind = STEPCA_RENEWER_SCHEDULED;
            ev.at = secs(*at);
            (None, None)
        }
        RenewerEvent::Renewed {
            credential,
            rekeyed,
        } => {
            ev.kind = STEPCA_RENEWER_RENEWED;
            ev.rekeyed = *rekeyed;
            (Some(credential), None)
        }
        RenewerEvent::Failed {
            error,
            attempt,
            retry_at,
        } => {
            ev.kind = STEPCA_RENEWER_FAILED;
            ev.attempt = *attempt;
            ev.at = secs(*retry_at);
            (None, Some(error))
        }
        RenewerEvent::WriteFailed {
            error,
            credential,
            attempt,
            retry_at,
        } => {
            ev.kind = STEPCA_RENEWER_WRITE_FAILED;
            ev.attempt = *attempt;
            ev.at = secs(*retry_at);
            (Some(credential), Some(error))
        }
    };
    let cred = cred.map(|c| stepca_credential { cred: (*c).clone() });
    if let Some(c) = &cred {
        ev.credential = c;
    }
    let err = err.map(|e| FfiError::from(*e).into_raw());
    if let Some(e) = err {
        ev.error = e;
    }
    // SAFETY: the callback contract; everything `ev` points to lives until it returns.
    unsafe { (cb.func)(cb.user_data, &ev) };
    if let Some(e) = err {
        // SAFETY: made by into_raw above, borrowed by the callback only until it returned.
        unsafe { free_handle(e) };
    }
}

/// Stops the renewer and waits for its thread: at once while it waits, or when a request
/// on the wire ends (bounded by the client's timeout), so that a certificate the CA issued
/// is not dropped. No event is reported after it returns. From any thread; from the event
/// callback it only asks. Stopped or NULL: a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_renewer_stop(renewer: *const stepca_renewer) {
    guard((), || {
        // SAFETY: NULL or a live renewer, by contract.
        let Some(r) = (unsafe { renewer.as_ref() }) else {
            return;
        };
        let running = r.lock().running.take();
        if let Some(running) = running {
            // Not under the lock: the callback may ask for the credential meanwhile.
            running.stop();
            let mut inner = r.lock();
            inner.credential = running.credential();
            if running.on_its_thread() {
                inner.stopping = Some(running);
                return;
            }
        }
        join_stopped(r);
    })
}

/// Joins a renewer that was stopped from its own callback (not from that thread itself).
fn join_stopped(r: &stepca_renewer) {
    let stopping = r.lock().stopping.take();
    if let Some(s) = stopping {
        if s.on_its_thread() {
            r.lock().stopping = Some(s);
        } else {
            s.stop();
        }
    }
}

/// Renews now rather than at the scheduled time (a retry wait is cut short too). A no-op
/// while stopped.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_renewer_renew_now(
    renewer: *const stepca_renewer,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_renewer(renewer, error, |r| {
        if let Some(running) = &r.lock().running {
            running.renew_now();
        }
        Ok(())
    })
}

/// The current credential (the newest renewed one, even before it is written), as a new
/// credential object (free with `stepca_credential_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_renewer_credential(
    renewer: *const stepca_renewer,
    credential_out: *mut *mut stepca_credential,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, r) = unsafe {
            (
                out(credential_out, "credential_out")?,
                handle(renewer, "renewer")?,
            )
        };
        let inner = r.lock();
        let cred = match &inner.running {
            Some(running) => running.credential(),
            None => inner.credential.clone(),
        };
        *slot = into_handle(stepca_credential { cred });
        Ok(())
    })
}

/// Replaces the credential (its files were changed elsewhere) and schedules from it.
/// Refused with `STEPCA_ERR_IO` while a renewed credential is not yet written (it would
/// be lost).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_renewer_replace(
    renewer: *const stepca_renewer,
    credential: *const stepca_credential,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (r, cred) = unsafe {
            (
                handle(renewer, "renewer")?,
                handle(credential, "credential")?,
            )
        };
        let mut inner = r.lock();
        match &inner.running {
            Some(running) => running.replace(cred.cred.clone())?,
            None => inner.credential = cred.cred.clone(),
        }
        Ok(())
    })
}

/// Stops the renewer (as `stepca_renewer_stop`) and frees it. NULL is a no-op. Not from its
/// own event callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_renewer_free(renewer: *mut stepca_renewer) {
    guard((), || {
        // SAFETY: NULL or a renewer from this library, freed once.
        unsafe {
            stepca_renewer_stop(renewer);
            free_handle(renewer)
        }
    })
}
