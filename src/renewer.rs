//! Unattended renewal: a [`Renewer`] keeps a credential's certificate fresh on one
//! background thread for as long as it runs.
//!
//! It renews when the [`Schedule`] says (by default about two thirds into the
//! certificate's life, with jitter), over mutual TLS while the certificate is valid and with
//! the certificate-signed token once it has expired (when the CA allows it), optionally
//! rekeying every N renewals. Failures are retried with a capped, jittered backoff for as
//! long as it runs: a CA outage only delays renewal. Each new chain (and a new key in
//! memory) can be written atomically; a failed write keeps the credential in memory, in
//! use, and is retried, so an issued certificate is never dropped.

use std::cell::Cell;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use crate::client::{Client, RenewAuth, random_below, renew_after_at};
use crate::credential::Credential;
use crate::csr::CsrRequest;
use crate::error::{Error, ErrorKind, Result};
use crate::files::write_atomic;
use crate::key::PrivateKey;
use crate::signer::Signer;

/// When a [`Renewer`] renews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schedule {
    /// About two thirds into the certificate's life, minus a jitter of up to a twentieth
    /// of it (see [`renew_after`](crate::renew_after)); step's default.
    #[default]
    TwoThirds,
    /// When no more than this is left before the certificate expires, minus a jitter of
    /// up to a tenth of it (step's `--expires-in`).
    ExpiresIn(Duration),
    /// This long after the last renewal, or after the first certificate's notBefore
    /// (step's `--renew-period`).
    Period(Duration),
}

/// A new key for a rekey.
pub enum NewKey {
    /// A key in memory (written to [`RenewerOptions::key_file`] when set).
    Memory(PrivateKey),
    /// A key held elsewhere (a new key pair in the same PKCS#11 token, ...).
    Held(Arc<dyn Signer>),
}

/// Makes the new key for each rekey.
pub type KeyGenerator = Arc<dyn Fn() -> Result<NewKey> + Send + Sync>;

/// How a [`Renewer`] works. `Default` renews at two thirds of the life, over mutual TLS
/// (the token once expired), never rekeys, writes nothing, and retries after 5 s doubling
/// up to 5 min.
#[derive(Clone)]
pub struct RenewerOptions {
    /// When to renew.
    pub schedule: Schedule,
    /// How to authenticate renewals. `Auto`: mutual TLS while the certificate is valid by
    /// the client's clock, else the token, and after a failed attempt the other one.
    /// Rekeys always use mutual TLS, so an expired certificate is renewed, not rekeyed, and
    /// so is a retry by token after a failed rekey (the rekey comes with the next renewal).
    pub auth: RenewAuth,
    /// Rekey instead of renewing every this many renewals (0: never).
    pub rekey_every: u32,
    /// Makes new keys for rekeys; when `None`, a key in memory is replaced by a new one of
    /// the same type. A held key needs one.
    pub new_key: Option<KeyGenerator>,
    /// Where to write each new chain (PEM, mode 0644), atomically.
    pub cert_file: Option<PathBuf>,
    /// Where to write each new key in memory after a rekey (PKCS#8 PEM, mode 0600),
    /// atomically and before the chain.
    pub key_file: Option<PathBuf>,
    /// The first retry delay after a failure; each further failure doubles it.
    pub retry_min: Duration,
    /// The most a retry waits.
    pub retry_max: Duration,
}

impl Default for RenewerOptions {
    fn default() -> Self {
        RenewerOptions {
            schedule: Schedule::TwoThirds,
            auth: RenewAuth::Auto,
            rekey_every: 0,
            new_key: None,
            cert_file: None,
            key_file: None,
            retry_min: Duration::from_secs(5),
            retry_max: Duration::from_secs(300),
        }
    }
}

impl std::fmt::Debug for RenewerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenewerOptions")
            .field("schedule", &self.schedule)
            .field("auth", &self.auth)
            .field("rekey_every", &self.rekey_every)
            .field("new_key", &self.new_key.is_some())
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("retry_min", &self.retry_min)
            .field("retry_max", &self.retry_max)
            .finish()
    }
}

/// What a [`Renewer`] reports, on its own thread, one event at a time.
#[derive(Debug)]
#[non_exhaustive]
pub enum RenewerEvent<'a> {
    /// The next renewal is due at `at` (the client's time).
    Scheduled {
        /// When.
        at: SystemTime,
    },
    /// A renewal (or rekey) succeeded and its files, if any, are written. The credential
    /// is already the renewer's current one.
    Renewed {
        /// The new credential.
        credential: &'a Credential,
        /// Whether the key is new.
        rekeyed: bool,
    },
    /// A renewal failed; it is retried at `retry_at`.
    Failed {
        /// Why.
        error: &'a Error,
        /// Failures in a row, this one included.
        attempt: u32,
        /// When the next attempt is made.
        retry_at: SystemTime,
    },
    /// Writing a renewed credential failed. It is in use in memory all the same, and the
    /// write is retried at `retry_at`; `Renewed` follows once it succeeds.
    WriteFailed {
        /// Why (`ErrorKind::Io`, naming the path).
        error: &'a Error,
        /// The renewed credential that is not yet written.
        credential: &'a Credential,
        /// Failed writes in a row, this one included.
        attempt: u32,
        /// When the write is tried again.
        retry_at: SystemTime,
    },
}

/// Renews a credential on a background thread until stopped (or dropped).
///
/// `stop` returns within a second while the renewer waits, which is all the time but
/// during a request to the CA; a request on the wire is let finish, bounded by the
/// client's timeout, because dropping it could lose a certificate the CA issued.
pub struct Renewer {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

thread_local! {
    /// On a renewer's thread, its `Shared` (as an address): stop() from that thread must
    /// not join itself. A plain const cell, because `thread::current()` would allocate a
    /// handle on a caller's thread that is never freed when that thread is a C main.
    static RENEWER_THREAD: Cell<usize> = const { Cell::new(0) };
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

struct State {
    current: Credential,
    stop: bool,
    replaced: bool,
    now: bool,
    /// A renewed credential is not yet written.
    unsaved: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing the lock guards can be left half-updated; a panic elsewhere must not
        // make stop() panic too.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for Renewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renewer")
            .field("current", &self.shared.lock().current)
            .finish_non_exhaustive()
    }
}

impl Renewer {
    /// Starts renewing `credential` with `client`, reporting through `on_event` (called
    /// on the renewer's thread; it may call [`Renewer::stop`]). Options that cannot work
    /// are refused here, naming the field.
    pub fn start(
        client: Client,
        credential: Credential,
        options: RenewerOptions,
        on_event: impl FnMut(&RenewerEvent<'_>) + Send + 'static,
    ) -> Result<Renewer> {
        check(&credential, &options)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                current: credential,
                stop: false,
                replaced: false,
                now: false,
                unsaved: false,
            }),
            wake: Condvar::new(),
        });
        let worker = Worker {
            client,
            options,
            shared: shared.clone(),
            on_event: Box::new(on_event),
        };
        let thread = std::thread::Builder::new()
            .name("stepca-renewer".into())
            .spawn(move || worker.run())
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("cannot start the renewer thread: {e}"),
                )
            })?;
        Ok(Renewer {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The current credential: the newest renewed one (written or not).
    pub fn credential(&self) -> Credential {
        self.shared.lock().current.clone()
    }

    /// Renews now instead of at the scheduled time (also cuts a retry wait short).
    pub fn renew_now(&self) {
        self.shared.lock().now = true;
        self.shared.wake.notify_all();
    }

    /// Replaces the credential (its files were changed by someone else) and schedules
    /// from it. Refused while a renewed credential is not yet written, which would be
    /// lost.
    pub fn replace(&self, credential: Credential) -> Result<()> {
        let mut st = self.shared.lock();
        if st.unsaved {
            return Err(Error::new(
                ErrorKind::Io,
                "a renewed certificate is not written yet; it is kept instead",
            ));
        }
        st.current = credential;
        st.replaced = true;
        drop(st);
        self.shared.wake.notify_all();
        Ok(())
    }

    /// Whether the caller is this renewer's own thread (its event callback), where
    /// [`Renewer::stop`] only asks.
    pub(crate) fn on_its_thread(&self) -> bool {
        RENEWER_THREAD.with(Cell::get) == Arc::as_ptr(&self.shared) as usize
    }

    /// Stops the renewer and waits for its thread, which ends at once unless a request is
    /// on the wire (see the type's documentation). No event is reported after it returns.
    /// Idempotent; from an event callback it only asks, and the thread ends after the
    /// callback returns.
    pub fn stop(&self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        if self.on_its_thread() {
            return;
        }
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread {
            // A panicking event callback ends the thread; there is nothing left to stop.
            let _ = t.join();
        }
    }
}

impl Drop for Renewer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn check(cred: &Credential, o: &RenewerOptions) -> Result<()> {
    if o.retry_min.is_zero() {
        return Err(Error::invalid("retry_min", "must be more than zero"));
    }
    if o.retry_max < o.retry_min {
        return Err(Error::invalid(
            "retry_max",
            "must not be less than retry_min",
        ));
    }
    match o.schedule {
        Schedule::ExpiresIn(d) if d.is_zero() => {
            return Err(Error::invalid("expires_in", "must be more than zero"));
        }
        Schedule::Period(d) if d.is_zero() => {
            return Err(Error::invalid("renew_period", "must be more than zero"));
        }
        _ => {}
    }
    if o.rekey_every == 0 || o.new_key.is_some() {
        return Ok(());
    }
    match cred.private_key() {
        None => Err(Error::invalid(
            "new_key",
            "a held key is rekeyed only with a generator of new held keys",
        )),
        Some(k) if k.key_type().is_none() => Err(Error::invalid(
            "rekey_every",
            format!(
                "a new {}-bit RSA key cannot be generated; give new_key",
                k.bits()
            ),
        )),
        Some(_) if o.cert_file.is_some() && o.key_file.is_none() => Err(Error::invalid(
            "key_file",
            "needed to rekey a key in memory while writing cert_file, or the certificate on \
             disk would not match the key",
        )),
        Some(_) => Ok(()),
    }
}

enum Wake {
    Due,
    Stop,
    Replaced,
}

/// A renewed credential and what is still to be written of it.
struct Renewal {
    credential: Credential,
    key_pem: Option<Zeroizing<String>>,
    rekeyed: bool,
}

struct Worker {
    client: Client,
    options: RenewerOptions,
    shared: Arc<Shared>,
    on_event: Box<dyn FnMut(&RenewerEvent<'_>) + Send>,
}

impl Worker {
    fn run(mut self) {
        RENEWER_THREAD.with(|c| c.set(Arc::as_ptr(&self.shared) as usize));
        let mut failures = 0u32;
        let mut write_failures = 0u32;
        let mut retry_at: Option<SystemTime> = None;
        let mut since_rekey = 0u32;
        let mut last_renewal: Option<SystemTime> = None;
        let mut unsaved: Option<Renewal> = None;
        let mut token_next = false;
        loop {
            if let Some(r) = &unsaved {
                match self.save(r) {
                    Ok(()) => {
                        write_failures = 0;
                        self.shared.lock().unsaved = false;
                        self.emit(&RenewerEvent::Renewed {
                            credential: &r.credential,
                            rekeyed: r.rekeyed,
                        });
                        unsaved = None;
                    }
                    Err(e) => {
                        write_failures += 1;
                        let at = self.client.now() + self.backoff(write_failures);
                        self.emit(&RenewerEvent::WriteFailed {
                            error: &e,
                            credential: &r.credential,
                            attempt: write_failures,
                            retry_at: at,
                        });
                        match self.wait_until(at) {
                            Wake::Stop => return,
                            Wake::Due | Wake::Replaced => continue,
                        }
                    }
                }
            }
            let cred = self.shared.lock().current.clone();
            let due = match retry_at {
                Some(at) => at,
                None => match self.due(&cred, last_renewal) {
                    Ok(at) => {
                        self.emit(&RenewerEvent::Scheduled { at });
                        at
                    }
                    Err(e) => {
                        failures += 1;
                        let at = self.client.now() + self.backoff(failures);
                        self.emit(&RenewerEvent::Failed {
                            error: &e,
                            attempt: failures,
                            retry_at: at,
                        });
                        at
                    }
                },
            };
            match self.wait_until(due) {
                Wake::Stop => return,
                Wake::Replaced => {
                    (failures, retry_at, since_rekey, last_renewal) = (0, None, 0, None);
                    token_next = false;
                    continue;
                }
                Wake::Due => {}
            }
            match self.renew_once(&cred, since_rekey, token_next) {
                Ok(r) => {
                    (failures, retry_at, token_next) = (0, None, false);
                    last_renewal = Some(self.client.now());
                    since_rekey = if r.rekeyed { 0 } else { since_rekey + 1 };
                    let mut st = self.shared.lock();
                    st.current = r.credential.clone();
                    st.unsaved = true;
                    // A replacement that raced with this renewal is older than its result.
                    st.replaced = false;
                    drop(st);
                    unsaved = Some(r);
                }
                Err(e) => {
                    failures += 1;
                    // After a failed mutual-TLS attempt the token is tried, and the other
                    // way round: each gets every other retry.
                    token_next = self.options.auth == RenewAuth::Auto && !token_next;
                    let at = self.client.now() + self.backoff(failures);
                    retry_at = Some(at);
                    self.emit(&RenewerEvent::Failed {
                        error: &e,
                        attempt: failures,
                        retry_at: at,
                    });
                }
            }
        }
    }

    fn emit(&mut self, event: &RenewerEvent<'_>) {
        log_event(event);
        // Nothing is reported once stop was asked: the caller may be tearing down what the
        // callback uses.
        if !self.shared.lock().stop {
            (self.on_event)(event);
        }
    }

    /// Sleeps until `due` by the client's clock, waking at least once a minute to read the
    /// clock again (a suspend or a clock step must not make it oversleep).
    fn wait_until(&self, due: SystemTime) -> Wake {
        let mut st = self.shared.lock();
        loop {
            if st.stop {
                return Wake::Stop;
            }
            if st.replaced {
                st.replaced = false;
                return Wake::Replaced;
            }
            if st.now {
                st.now = false;
                return Wake::Due;
            }
            let left = match due.duration_since(self.client.now()) {
                Ok(d) if !d.is_zero() => d,
                _ => return Wake::Due,
            };
            st = self
                .shared
                .wake
                .wait_timeout(st, left.min(Duration::from_secs(60)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn due(&self, cred: &Credential, last_renewal: Option<SystemTime>) -> Result<SystemTime> {
        let now = self.client.clock().now_secs();
        match self.options.schedule {
            Schedule::TwoThirds => renew_after_at(cred.chain(), now, None),
            Schedule::ExpiresIn(d) => renew_after_at(cred.chain(), now, Some(d)),
            Schedule::Period(p) => {
                let nb = cred.chain().validity().0.max(0) as u64;
                Ok(last_renewal.unwrap_or(UNIX_EPOCH + Duration::from_secs(nb)) + p)
            }
        }
    }

    /// The delay before retry `n` (from 1): retry_min doubled each time up to retry_max,
    /// less up to a quarter at random so that a fleet does not return in step after an
    /// outage.
    fn backoff(&self, n: u32) -> Duration {
        let (min, max) = (self.options.retry_min, self.options.retry_max);
        let d = min
            .saturating_mul(1 << n.saturating_sub(1).min(20))
            .min(max);
        let cut = random_below((d.as_millis() / 4) as i64).unwrap_or(0);
        d - Duration::from_millis(cut as u64)
    }

    /// One renewal (or rekey). With `RenewAuth::Auto`, `token` asks for the token even while
    /// the certificate looks valid: the last mutual-TLS attempt failed, which is what a CA
    /// whose clock is ahead of the device's (it sees the certificate expired) or a proxy
    /// that ends TLS does to it.
    fn renew_once(&self, cred: &Credential, since_rekey: u32, token: bool) -> Result<Renewal> {
        let expired = cred.chain().validity().1 <= self.client.clock().now_secs();
        let every = self.options.rekey_every;
        if every > 0 && since_rekey + 1 >= every && !expired && !token {
            return self.rekey(cred);
        }
        let auth = match self.options.auth {
            RenewAuth::Auto if token => RenewAuth::Token,
            auth => auth,
        };
        let chain = self.client.renew(cred, auth)?;
        Ok(Renewal {
            credential: cred.with_chain(chain)?,
            key_pem: None,
            rekeyed: false,
        })
    }

    fn rekey(&self, cred: &Credential) -> Result<Renewal> {
        let key = match &self.options.new_key {
            Some(make) => make()?,
            None => {
                let kind = cred
                    .private_key()
                    .and_then(|k| k.key_type())
                    .ok_or_else(|| Error::invalid("new_key", "needed to rekey this key"))?;
                NewKey::Memory(PrivateKey::generate(kind)?)
            }
        };
        // step-ca keeps the old certificate's subject and SANs; the CSR proves the key.
        let mut req = CsrRequest::new();
        if let Some(cn) = cred.chain().common_name() {
            req.subject("CN", &cn)?;
        }
        Ok(match key {
            NewKey::Memory(key) => {
                if self.options.cert_file.is_some() && self.options.key_file.is_none() {
                    return Err(Error::invalid(
                        "key_file",
                        "the new key is in memory and must be written with the certificate",
                    ));
                }
                let chain = self.client.rekey_csr(cred, &req.build(&key)?)?;
                let key_pem = Some(key.to_pkcs8_pem());
                Renewal {
                    credential: Credential::new(chain, key)?,
                    key_pem,
                    rekeyed: true,
                }
            }
            NewKey::Held(signer) => {
                let chain = self
                    .client
                    .rekey_csr(cred, &req.build_with_signer(signer.as_ref())?)?;
                Renewal {
                    credential: Credential::held(chain, signer)?,
                    key_pem: None,
                    rekeyed: true,
                }
            }
        })
    }

    /// Writes the key (if new and in memory), then the chain, each atomically.
    fn save(&self, r: &Renewal) -> Result<()> {
        if let (Some(path), Some(pem)) = (&self.options.key_file, &r.key_pem) {
            write_atomic(path, pem.as_bytes(), 0o600)?;
        }
        if let Some(path) = &self.options.cert_file {
            write_atomic(path, r.credential.chain().to_pem().as_bytes(), 0o644)?;
        }
        Ok(())
    }
}

/// The `stepca::renewer` log record of an event (the callback gets the event itself).
fn log_event(event: &RenewerEvent<'_>) {
    let at = |t: SystemTime| {
        crate::clock::rfc3339(
            t.duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        )
    };
    const T: &str = "stepca::renewer";
    match event {
        RenewerEvent::Scheduled { at: due } => log::info!(target: T, "renewal due at {}", at(*due)),
        RenewerEvent::Renewed {
            credential,
            rekeyed,
        } => {
            let chain = credential.chain();
            log::info!(
                target: T,
                "renewed{}: serial {}, valid until {}",
                if *rekeyed { " with a new key" } else { "" },
                chain.serial(),
                crate::clock::rfc3339(chain.validity().1)
            )
        }
        RenewerEvent::Failed {
            error,
            attempt,
            retry_at,
        } => log::warn!(
            target: T,
            "renewal failed (attempt {attempt}), retry at {}: {error}",
            at(*retry_at)
        ),
        RenewerEvent::WriteFailed {
            error,
            attempt,
            retry_at,
            ..
        } => log::warn!(
            target: T,
            "writing the renewed certificate failed (attempt {attempt}), retry at {}: {error}",
            at(*retry_at)
        ),
    }
}
