//! Batch enrollment for a provisioning line: every device of a CSV manifest (see
//! [`manifest`]), `--parallel` in flight, resumable, losing nothing.
//!
//! Per device: its key is written (0600, atomically) before it is enrolled; a device whose
//! NAME.crt holds a chain valid now for its key, up to the client's root, is skipped. Else
//! the journal records `sign` with the name of a new temporary file for its chain (fsynced),
//! that file is created (exclusively), the request is sent, the chain is written, fsynced
//! and renamed into place, and the journal records `done` (see [`journal`]). The renames and
//! `done` records are synced together when the run ends, before the journal is removed: a
//! run stopped before then finds each chain in place or in its temporary file.
//!
//! A run that was killed leaves at most `--parallel` devices pending in the journal (after a
//! power loss, also devices whose `done` had not reached the disk: their chains are found in
//! place or in their temporary files, and they are not named). The
//! next run first puts in place any chain such a device's temporary file holds that is
//! valid for its key (the response had arrived), then removes the temporary files the
//! journal names, and names the devices still pending: their request may have been signed
//! without the chain reaching the disk, so enrolling them again may leave them a second
//! certificate at the CA (`possibly_doubled` in the summary). Only files whose names carry
//! the batch's prefix and that the journal records are removed.
//!
//! One batch per out dir: a second is refused (exit 9). SIGINT and SIGTERM stop new
//! enrollments, let those in flight finish and be written, print the summary and exit 130 or
//! 143; a second signal stops at once (see [`signals`]).
//!
//! The summary: `devices`; `enrolled`; `skipped` (already held a valid certificate, the
//! promoted included); `promoted` (names: chains a killed run had received, put in place);
//! `failed` and `failed_devices`; `possibly_doubled` (names: devices an earlier run left
//! pending that this one enrolled again); `pending` (devices the journal still holds in
//! doubt at the end: a request that failed after it may have reached the CA, or a device no
//! longer in the manifest); `interrupted` (null, or the signal); `not_started`; `out_dir`.

mod journal;
mod manifest;
mod signals;

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{HumanDuration, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use serde_json::json;
use stepca::{CertificateChain, Client, ErrorKind, KeyType, PrivateKey, SignOptions};

use crate::{Failure, build_csr, input};
use journal::{Journal, Record};
use manifest::Device;

enum Outcome {
    Enrolled,
    Skipped,
    Failed(String),
}

struct Ctx<'a> {
    client: &'a Client,
    dir: &'a Path,
    kty: KeyType,
    journal: &'a Journal,
}

/// Whether `chain` (PEM) is valid now, by the client's clock, up to the client's root, with
/// `key`'s public key in its leaf.
fn valid_for(client: &Client, pem: &[u8], key: &PrivateKey) -> bool {
    CertificateChain::from_pem(pem).is_ok_and(|chain| {
        chain
            .verify(&key.spki_der(), client.roots(), client.now())
            .is_ok()
    })
}

/// Whether the file `cert` holds a chain valid for `key` (see [`valid_for`]).
fn holds_chain_for(client: &Client, cert: &Path, key: &PrivateKey) -> bool {
    std::fs::read(cert).is_ok_and(|pem| valid_for(client, &pem, key))
}

fn load_key(path: &Path) -> Result<Option<PrivateKey>, String> {
    match std::fs::read(path) {
        Ok(bytes) => PrivateKey::load(&bytes, None)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Whether a failed sign request certainly issued nothing: refused before it was sent, or
/// by the CA with a 4xx. Anything else (transport, timeout, 5xx, an answer that did not
/// check out) may have left a certificate at the CA.
fn nothing_issued(e: &stepca::Error) -> bool {
    match e.kind() {
        ErrorKind::CaRejected => e.http_status().is_some_and(|s| (400..500).contains(&s)),
        ErrorKind::TokenProvider
        | ErrorKind::NoToken
        | ErrorKind::KeyPassphrase
        | ErrorKind::InvalidArgument
        | ErrorKind::Key
        | ErrorKind::Csr
        | ErrorKind::Signer => true,
        _ => false,
    }
}

fn enroll_one(cx: &Ctx<'_>, d: &Device) -> Outcome {
    let name = d.name.as_str();
    let key_path = cx.dir.join(format!("{name}.key"));
    let cert_path = cx.dir.join(format!("{name}.crt"));
    let key = match load_key(&key_path) {
        Ok(Some(k)) => k,
        Ok(None) => {
            let key = match PrivateKey::generate(cx.kty) {
                Ok(k) => k,
                Err(e) => return Outcome::Failed(e.to_string()),
            };
            // The key is on disk before the CA sees the CSR: a crash cannot orphan a cert.
            let pem = key.to_pkcs8_pem();
            if let Err(e) = journal::write_file(
                cx.journal,
                cx.dir,
                name,
                "key",
                0o600,
                pem.as_bytes(),
                false,
            ) {
                return Outcome::Failed(format!("{}: {e}", key_path.display()));
            }
            key
        }
        Err(e) => return Outcome::Failed(e),
    };
    if holds_chain_for(cx.client, &cert_path, &key) {
        return Outcome::Skipped;
    }
    let csr = match build_csr(&key, name, &d.sans) {
        Ok(c) => c,
        Err(f) => return Outcome::Failed(f.message),
    };
    // `sign` is in the journal, durably, before the temporary file for the chain exists and
    // before the request leaves: a kill from here on leaves the device named.
    let mut temp = match journal::temp_file(
        cx.journal,
        cx.dir,
        name,
        "crt",
        0o644,
        journal::RANDOM,
        true,
    ) {
        Ok(t) => t,
        Err(e) => {
            // Nothing was sent.
            let _ = cx.journal.record(Record::Rejected(name));
            return Outcome::Failed(format!("{}: {e}", cx.dir.display()));
        }
    };
    let chain = match cx.client.sign_csr(&csr, &SignOptions::default()) {
        Ok(c) => c,
        Err(e) => {
            let certain = nothing_issued(&e);
            let record = if certain {
                Record::Rejected(name)
            } else {
                Record::Unsure(name)
            };
            let _ = cx.journal.record(record);
            return Outcome::Failed(if certain {
                e.to_string()
            } else {
                format!(
                    "{e} (the CA may have issued a certificate that did not arrive; the next \
                     run names this device)"
                )
            });
        }
    };
    let pem = chain.to_pem();
    if let Err(e) = temp
        .as_file_mut()
        .write_all(pem.as_bytes())
        .and_then(|()| temp.as_file().sync_all())
    {
        // Written nowhere: say so loudly, with the chain, rather than lose it.
        return Outcome::Failed(format!(
            "{}: {e} (issued chain follows)\n{pem}",
            cert_path.display()
        ));
    }
    if let Err(e) = temp.persist(&cert_path) {
        // The chain is whole in the temporary file: keep it for the next run to put in place.
        let kept = e.file.keep().map(|(_, p)| p);
        return Outcome::Failed(format!(
            "{}: {} (the chain is kept in {}; the next run puts it in place)",
            cert_path.display(),
            e.error,
            kept.map_or_else(|e| format!("nowhere: {e}"), |p| p.display().to_string())
        ));
    }
    if let Err(e) = cx.journal.record(Record::Done(name)) {
        // The chain is in place; the next run sees it and does not name the device.
        eprintln!("stepca: {name}: journal: {e}");
    }
    Outcome::Enrolled
}

/// What the journal of earlier runs led to.
#[derive(Default)]
struct Recovery {
    /// Devices whose chain a killed run had left in a temporary file, now in place.
    promoted: Vec<String>,
    /// Devices still pending: the CA may hold a certificate of theirs that is not on disk.
    /// `true`: the request was in flight when a run stopped; `false`: it failed after it
    /// may have reached the CA.
    doubt: BTreeMap<String, bool>,
    /// Files recorded by the journal but left alone (not regular files).
    left: Vec<PathBuf>,
}

/// Puts in place the valid chains that pending devices' temporary files hold, then
/// removes the temporary files the journal records.
fn recover(client: &Client, dir: &Path, j: &Journal, prev: journal::Previous) -> Recovery {
    let mut r = Recovery::default();
    for (name, p) in prev.pending {
        if manifest::bad_name(&name).is_some() {
            continue;
        }
        let cert_path = dir.join(format!("{name}.crt"));
        let key = load_key(&dir.join(format!("{name}.key"))).ok().flatten();
        if let Some(key) = &key {
            if holds_chain_for(client, &cert_path, key) {
                // Killed after the rename, before `done`.
                let _ = j.record(Record::Done(&name));
                continue;
            }
            if let Some(temp) = p.temp.as_deref().filter(|t| {
                journal::is_temp_name(&name, t) && t.starts_with(&format!(".{name}.crt"))
            }) && promote(client, dir, &dir.join(temp), &cert_path, key)
            {
                let _ = j.record(Record::Done(&name));
                r.promoted.push(name);
                continue;
            }
        }
        r.doubt.insert(name, p.in_flight);
    }
    for (name, temp) in prev.temps {
        if manifest::bad_name(&name).is_some() || !journal::is_temp_name(&name, &temp) {
            continue;
        }
        let path = dir.join(&temp);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => {
                let _ = std::fs::remove_file(&path);
            }
            Ok(_) => r.left.push(path),
            Err(_) => {}
        }
    }
    let _ = journal::sync_dir(dir);
    r
}

/// Renames the temporary file `temp` to `cert` if it holds a chain valid for `key`.
fn promote(client: &Client, dir: &Path, temp: &Path, cert: &Path, key: &PrivateKey) -> bool {
    let Ok((file, pem)) = journal::read_temp(temp) else {
        return false;
    };
    if !valid_for(client, &pem, key) {
        return false;
    }
    use std::os::unix::fs::PermissionsExt;
    let ok = file
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(temp, cert))
        .and_then(|()| journal::sync_dir(dir));
    ok.is_ok()
}

/// Prints on stderr, above the progress bar when there is one.
fn say(bar: &ProgressBar, msg: &str) {
    if bar.is_hidden() {
        eprintln!("{msg}");
    } else {
        bar.println(msg);
    }
}

fn names(v: &[String]) -> String {
    v.join(", ")
}

pub(crate) fn run(
    client: &Client,
    manifest_path: &Path,
    dir: &Path,
    parallel: usize,
    kty: KeyType,
    json_out: bool,
) -> Result<serde_json::Value, Failure> {
    let devices = manifest::parse(manifest_path)?;
    let total = devices.len();
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{bar:20} {pos}/{len} {rate} eta {eta}  {msg}")
        {
            bar.set_style(
                style
                    .with_key("rate", |st: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.1}/s", st.per_sec());
                    })
                    .progress_chars("=> "),
            );
        }
        bar
    } else {
        let bar = ProgressBar::hidden();
        bar.set_length(total as u64);
        bar
    };
    let in_flight = Arc::new(AtomicUsize::new(0));
    // Before any thread of the batch starts: they inherit the blocked signals.
    let stop = {
        let (bar1, bar2, busy) = (bar.clone(), bar.clone(), in_flight.clone());
        signals::watch(
            move |sig| {
                let n = busy.load(Ordering::SeqCst);
                say(
                    &bar1,
                    &format!(
                        "stepca: {}: starting no more devices; finishing the {n} in flight \
                         ({} again stops at once)",
                        signals::name(sig),
                        signals::name(sig)
                    ),
                );
            },
            move |sig| {
                say(
                    &bar2,
                    &format!(
                        "stepca: {} again: stopping now; the devices in flight stay pending \
                         in the journal and the next run names them",
                        signals::name(sig)
                    ),
                );
            },
        )
        .map_err(|e| input(format!("signals: {e}")))?
    };
    std::fs::create_dir_all(dir).map_err(|e| input(format!("{}: {e}", dir.display())))?;
    let _lock = journal::lock(dir)?;
    let (journal, previous) = Journal::open(dir)?;
    let recovery = recover(client, dir, &journal, previous);
    if !recovery.promoted.is_empty() {
        say(
            &bar,
            &format!(
                "stepca: put in place the chains an earlier run had received but not renamed: {}",
                names(&recovery.promoted)
            ),
        );
    }
    for (name, in_flight) in &recovery.doubt {
        let why = if *in_flight {
            "its sign request was in flight when an earlier run stopped"
        } else {
            "its sign request failed in an earlier run after it may have reached the CA"
        };
        say(
            &bar,
            &format!(
                "stepca: {name}: {why}, and no certificate of it reached the disk: it may hold \
                 a second certificate at the CA once enrolled again"
            ),
        );
    }
    for p in &recovery.left {
        say(
            &bar,
            &format!(
                "stepca: {}: left alone: not the regular file the batch wrote",
                p.display()
            ),
        );
    }

    let cx = Ctx {
        client,
        dir,
        kty,
        journal: &journal,
    };
    let next = AtomicUsize::new(0);
    let (enrolled, skipped, started) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    let failures: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    let doubled: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let last_line = Mutex::new(Instant::now());
    let progress = |done: u64| {
        bar.inc(1);
        let (e, s, f) = (
            enrolled.load(Ordering::SeqCst),
            skipped.load(Ordering::SeqCst),
            failures.lock().map_or(0, |f| f.len()),
        );
        if !bar.is_hidden() {
            bar.set_message(format!("enrolled {e} skipped {s} failed {f}"));
            return;
        }
        // Not a terminal: a plain line at most every second.
        let mut last = last_line.lock().unwrap_or_else(|p| p.into_inner());
        if last.elapsed() >= Duration::from_secs(1) && (done as usize) < total {
            *last = Instant::now();
            eprintln!(
                "stepca: batch: {done}/{total} (enrolled {e}, skipped {s}, failed {f}), \
                 {:.1}/s, about {} left",
                bar.per_sec(),
                HumanDuration(bar.eta())
            );
        }
    };
    std::thread::scope(|s| {
        for _ in 0..parallel.min(total.max(1)) {
            s.spawn(|| {
                loop {
                    if stop.load(Ordering::SeqCst) != 0 {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(d) = devices.get(i) else { break };
                    started.fetch_add(1, Ordering::SeqCst);
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    let outcome = enroll_one(&cx, d);
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    match outcome {
                        Outcome::Enrolled => {
                            enrolled.fetch_add(1, Ordering::SeqCst);
                            if recovery.doubt.contains_key(&d.name)
                                && let Ok(mut v) = doubled.lock()
                            {
                                v.push(d.name.clone());
                            }
                        }
                        Outcome::Skipped => {
                            skipped.fetch_add(1, Ordering::SeqCst);
                        }
                        Outcome::Failed(why) => {
                            if let Ok(mut f) = failures.lock() {
                                f.push((d.name.clone(), why));
                            }
                        }
                    }
                    progress(bar.position() + 1);
                }
            });
        }
    });
    bar.finish_and_clear();
    let sig = stop.load(Ordering::SeqCst);
    let pending = journal.pending();
    if let Err(e) = journal.close(dir) {
        // The chains are written; whether they would outlive a power loss now is unknown.
        eprintln!(
            "stepca: {}: syncing the chains and the journal failed ({e}): the journal is kept, \
             and the next run checks every device it names",
            dir.display()
        );
    }
    let mut failures = failures.into_inner().unwrap_or_default();
    failures.sort();
    for (name, why) in &failures {
        eprintln!("stepca: {name}: {why}");
    }
    let mut doubled = doubled.into_inner().unwrap_or_default();
    doubled.sort();
    if !doubled.is_empty() {
        eprintln!(
            "stepca: enrolled again, and so may hold a second certificate at the CA: {}",
            names(&doubled)
        );
    }
    let started = started.load(Ordering::SeqCst);
    let failed_names: Vec<&String> = failures.iter().map(|(n, _)| n).collect();
    let summary = json!({
        "devices": total,
        "enrolled": enrolled.load(Ordering::SeqCst),
        "skipped": skipped.load(Ordering::SeqCst),
        "promoted": recovery.promoted,
        "failed": failures.len(),
        "failed_devices": failed_names,
        "possibly_doubled": doubled,
        "pending": pending,
        "interrupted": if sig == 0 { serde_json::Value::Null } else { json!(signals::name(sig)) },
        "not_started": total - started,
        "out_dir": PathBuf::from(dir),
    });
    if sig != 0 {
        eprintln!(
            "stepca: stopped by {}: {} devices not started (run the batch again to finish)",
            signals::name(sig),
            total - started
        );
        print(&summary, json_out);
        let _ = std::io::stdout().flush();
        std::process::exit(128 + sig);
    }
    Ok(summary)
}

/// The summary as `main` prints a result: JSON, or `key: value` lines.
fn print(v: &serde_json::Value, json_out: bool) {
    if json_out {
        println!("{v}");
    } else if let Some(obj) = v.as_object() {
        for (k, val) in obj {
            println!(
                "{k}: {}",
                val.as_str().map_or_else(|| val.to_string(), str::to_string)
            );
        }
    }
}
