//! `stepca renew`: once, or as a daemon (`--daemon`) on the library's [`Renewer`], with
//! `step ca renew`'s form (`stepca renew CRT KEY`), flags and meanings: `--expires-in`,
//! `--renew-period`, `--exec`, `--signal` with `--pid` or `--pid-file`, `--out`,
//! `--password-file` for an encrypted KEY, `--force`.
//!
//! The daemon logs one line per event on stderr (`stepca: next renewal at ...`, `stepca:
//! renewed CERT (serial N, valid until ...)`, `stepca: renewal failed (attempt N, retry at
//! ...): why`), survives CA outages (the renewer retries with a capped backoff, and renews
//! by token once the certificate has expired), stops cleanly on SIGTERM or SIGINT, and
//! re-reads CRT and KEY on SIGHUP. Signals are taken synchronously: they are blocked
//! before the renewer's thread starts (which inherits the mask) and the main thread waits
//! for them with sigwait(3).

use std::hash::BuildHasher;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use stepca::{
    CertificateChain, Credential, RenewAuth, Renewer, RenewerEvent, RenewerOptions, Schedule,
};

use crate::hooks::{Hooks, signal_name};
use crate::keys::{Key, at};
use crate::times::{go_duration, rfc3339, rfc3339_secs};
use crate::{Cli, Failure, RenewArgs, Result, client, describe, input, read};

/// One line on stderr, `stepca: ` first. A closed stderr is not worth dying for.
fn log(message: &str) {
    let one_line = message.replace('\n', " ");
    let _ = writeln!(std::io::stderr().lock(), "stepca: {one_line}");
}

fn read_chain(path: &Path) -> Result<CertificateChain> {
    CertificateChain::from_pem(&read(path)?).map_err(|e| {
        let mut f = Failure::from(e);
        f.message = format!("--cert {}: {}", path.display(), f.message);
        f.code = 3;
        f
    })
}

/// The leaf's serial and notAfter (RFC 3339), for messages.
fn serial_until(chain: &CertificateChain) -> (String, String) {
    (chain.serial(), rfc3339_secs(chain.validity().1))
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// step's checks of --expires-in and --renew-period against the certificate's validity
/// period (notAfter - notBefore).
fn check_durations(chain: &CertificateChain, a: &RenewArgs) -> Result<()> {
    let (nb, na) = chain.validity();
    let period = Duration::from_secs((na - nb).max(0) as u64);
    let life = go_duration(na - nb);
    if let Some(d) = a.expires_in.filter(|d| *d > period) {
        return Err(input(format!(
            "--expires-in {}: must be within the certificate's validity period ({life})",
            go_duration(d.as_secs() as i64)
        )));
    }
    if let Some(d) = a.renew_period.filter(|d| *d >= period) {
        return Err(input(format!(
            "--renew-period {}: must be less than the certificate's validity period ({life})",
            go_duration(d.as_secs() as i64)
        )));
    }
    Ok(())
}

fn auth(a: &RenewArgs) -> RenewAuth {
    if a.token_auth {
        RenewAuth::Token
    } else {
        RenewAuth::Auto
    }
}

/// A random duration below `d`, for step's jitter (not for anything secret).
fn jitter_below(d: Duration) -> Duration {
    let n = d.as_nanos() as u64;
    let r = std::collections::hash_map::RandomState::new().hash_one(SystemTime::now());
    Duration::from_nanos(if n == 0 { 0 } else { r % n })
}

/// Renews once; with --expires-in, only when no more than that (plus a jitter of up to a
/// twentieth of it, as step) is left. The hooks run after a renewal.
pub(crate) fn once(cli: &Cli, a: &RenewArgs) -> Result<Value> {
    let hooks = Hooks::new(&a.hooks)?;
    let c = client(cli)?;
    let (key, _) = Key::load_protected(
        "--key",
        &a.key,
        a.password_file.as_deref(),
        "--password-file",
    )?;
    let chain = read_chain(&a.cert)?;
    check_durations(&chain, a)?;
    if let Some(d) = a.expires_in {
        let left = chain.validity().1 - now_secs();
        if left > 0 && Duration::from_secs(left as u64) > d + jitter_below(d / 20) {
            return Ok(json!({
                "renewed": false,
                "expires_in": go_duration(left),
                "serial": chain.serial(),
                "not_after": chain.validity().1,
            }));
        }
    }
    let cred = key.credential(chain).map_err(at("--key"))?;
    let new = c.renew(&cred, auth(a))?;
    stepca::write_atomic(a.out(), new.to_pem().as_bytes(), 0o644)?;
    hooks.run().map_err(|mut f| {
        f.message = format!(
            "renewed {} (serial {}), but {}",
            a.out().display(),
            new.serial(),
            f.message
        );
        f
    })?;
    Ok(describe(&new))
}

/// The signals the daemon takes, blocked on the calling thread (and so on every thread it
/// starts afterwards) and waited for with sigwait(3).
struct Signals(libc::sigset_t);

impl Signals {
    fn block(signals: &[i32]) -> Result<Signals> {
        // SAFETY: sigemptyset initialises the set before anything reads it; the set lives
        // on this stack frame for every call, and pthread_sigmask changes only this
        // thread's mask.
        unsafe {
            let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigemptyset(set.as_mut_ptr());
            let mut set = set.assume_init();
            for s in signals {
                libc::sigaddset(&mut set, *s);
            }
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(Failure {
                    code: 1,
                    message: format!(
                        "cannot block signals: {}",
                        std::io::Error::from_raw_os_error(rc)
                    ),
                });
            }
            Ok(Signals(set))
        }
    }

    /// Waits for one of the signals and returns it.
    fn wait(&self) -> i32 {
        loop {
            let mut sig = 0;
            // SAFETY: the set was initialised in `block`; sig is a valid out pointer.
            if unsafe { libc::sigwait(&self.0, &mut sig) } == 0 {
                return sig;
            }
        }
    }
}

/// A renewer error naming an option's field, with the flag's name instead.
fn option_error(e: stepca::Error) -> Failure {
    let mut f = Failure::from(e);
    for (field, flag) in [
        ("retry_min:", "--retry-min:"),
        ("retry_max:", "--retry-max:"),
        ("expires_in:", "--expires-in:"),
        ("renew_period:", "--renew-period:"),
        ("rekey_every:", "--rekey-every:"),
        ("new_key:", "--rekey-every:"),
        ("key_file:", "--key:"),
    ] {
        if let Some(rest) = f.message.strip_prefix(field) {
            f.message = format!("{flag}{rest}");
            break;
        }
    }
    f
}

/// Held while a reload replaces the credential and says so, and while the renewer's thread
/// says what happened: the schedule that follows a reload is logged after it.
static LOG_ORDER: Mutex<()> = Mutex::new(());

fn log_order() -> MutexGuard<'static, ()> {
    LOG_ORDER.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the daemon says about one renewer event, then the hooks after a renewal.
fn on_event(cert: &str, key: &str, hooks: &Hooks, event: &RenewerEvent<'_>) {
    let order = log_order();
    match event {
        RenewerEvent::Scheduled { at } => {
            // An expired certificate is due at once (the schedule says so with a past time).
            log(&format!(
                "next renewal at {}",
                rfc3339((*at).max(SystemTime::now()))
            ));
        }
        RenewerEvent::Renewed {
            credential,
            rekeyed,
        } => {
            let (serial, until) = serial_until(credential.chain());
            let new_key = if *rekeyed {
                format!(", new key written to {key}")
            } else {
                String::new()
            };
            log(&format!(
                "renewed {cert} (serial {serial}, valid until {until}{new_key})"
            ));
            // A reload need not wait for the hooks.
            drop(order);
            if let Err(f) = hooks.run() {
                log(&f.message);
            }
        }
        RenewerEvent::Failed {
            error,
            attempt,
            retry_at,
        } => log(&format!(
            "renewal failed (attempt {attempt}, retry at {}): {error}",
            rfc3339(*retry_at)
        )),
        RenewerEvent::WriteFailed {
            error,
            credential,
            attempt,
            retry_at,
        } => {
            let (serial, until) = serial_until(credential.chain());
            log(&format!(
                "cannot write the renewed certificate (serial {serial}, valid until {until}; \
                 in use meanwhile, attempt {attempt}, retry at {}): {error}",
                rfc3339(*retry_at)
            ));
        }
        _ => {}
    }
}

/// CRT (or the --out file, once written) and KEY as they are on disk now (KEY opened with
/// the passphrase it had at start).
fn load(a: &RenewArgs, passphrase: Option<&[u8]>) -> Result<Credential> {
    let cert = if a.out().exists() { a.out() } else { &a.cert };
    let chain = read_chain(cert)?;
    let key = Key::load("--key", &a.key, passphrase)?;
    key.credential(chain).map_err(at("--key"))
}

/// SIGHUP: CRT and KEY again from disk, replacing the renewer's credential.
fn reload(renewer: &Renewer, a: &RenewArgs, passphrase: Option<&[u8]>) {
    let current = renewer.credential().chain().serial();
    match load(a, passphrase) {
        Err(f) => log(&format!(
            "SIGHUP: cannot reload, keeping serial {current}: {}",
            f.message
        )),
        Ok(cred) => {
            let (serial, until) = serial_until(cred.chain());
            let _order = log_order();
            match renewer.replace(cred) {
                Ok(()) => log(&format!(
                    "reloaded {} (serial {serial}, valid until {until})",
                    a.cert.display()
                )),
                Err(e) => log(&format!(
                    "SIGHUP: reload refused, keeping serial {current}: {e}"
                )),
            }
        }
    }
}

/// Runs until SIGTERM or SIGINT, renewing on the schedule.
pub(crate) fn daemon(cli: &Cli, a: &RenewArgs) -> Result<Value> {
    // First of all, before any thread exists: every thread started later inherits the mask,
    // so the signals reach only the sigwait below.
    let signals = Signals::block(&[libc::SIGTERM, libc::SIGINT, libc::SIGHUP])?;
    let hooks = Hooks::new(&a.hooks)?;
    if a.rekey_every > 0 && crate::keys::is_uri(&a.key) {
        return Err(input(
            "--rekey-every: a pkcs11: --key stays in its token, where this command cannot \
             make a new key; rekey it with the library (RenewerOptions::new_key) or renew \
             without --rekey-every",
        ));
    }
    let c = client(cli)?;
    let (key, passphrase) = Key::load_protected(
        "--key",
        &a.key,
        a.password_file.as_deref(),
        "--password-file",
    )?;
    if a.rekey_every > 0 && passphrase.is_some() {
        return Err(input(
            "--rekey-every: KEY is encrypted, and the renewer writes new keys unencrypted; \
             renew without --rekey-every, or with an unencrypted KEY",
        ));
    }
    let chain = read_chain(&a.cert)?;
    check_durations(&chain, a)?;
    let cred = key.credential(chain).map_err(at("--key"))?;
    let defaults = RenewerOptions::default();
    let (schedule, how) = match (a.expires_in, a.renew_period) {
        (Some(d), _) => (
            Schedule::ExpiresIn(d),
            format!("when {} are left", go_duration(d.as_secs() as i64)),
        ),
        (None, Some(p)) => (
            Schedule::Period(p),
            format!("every {}", go_duration(p.as_secs() as i64)),
        ),
        (None, None) => (Schedule::TwoThirds, "two thirds into its life".to_string()),
    };
    let options = RenewerOptions {
        schedule,
        auth: auth(a),
        rekey_every: a.rekey_every,
        new_key: None,
        cert_file: Some(a.out().to_path_buf()),
        key_file: (a.rekey_every > 0).then(|| a.key.clone()),
        retry_min: a.retry_min.unwrap_or(defaults.retry_min),
        retry_max: a.retry_max.unwrap_or(defaults.retry_max),
    };
    let (serial, until) = serial_until(cred.chain());
    log(&format!(
        "renewing {} {how} (serial {serial}, valid until {until})",
        a.cert.display()
    ));
    let (cert_name, key_name) = (a.out().display().to_string(), a.key.display().to_string());
    let renewer = Renewer::start(c, cred, options, move |event| {
        on_event(&cert_name, &key_name, &hooks, event)
    })
    .map_err(option_error)?;
    loop {
        match signals.wait() {
            libc::SIGHUP => reload(&renewer, a, passphrase.as_deref()),
            sig => {
                renewer.stop();
                let name = signal_name(sig);
                let serial = renewer.credential().chain().serial();
                log(&format!("stopped ({name}; serial {serial})"));
                return Ok(json!({"stopped": name, "serial": serial}));
            }
        }
    }
}
