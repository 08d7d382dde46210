//! Batch enrollment for a provisioning line: every device of a CSV manifest, N in flight,
//! resumable. A device's key is written (0600) before it is enrolled and its chain the
//! moment it arrives, so a crash loses nothing; a device whose certificate is on disk,
//! valid and matching its key is skipped on the next run.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use stepca::{CertificateChain, Client, KeyType, PrivateKey, SignOptions};

use crate::{Failure, build_csr, input};

struct Device {
    name: String,
    sans: Vec<String>,
}

fn parse_manifest(path: &Path) -> Result<Vec<Device>, Failure> {
    let text =
        std::fs::read_to_string(path).map_err(|e| input(format!("{}: {e}", path.display())))?;
    let mut devices = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (i == 0 && line.starts_with("name")) {
            continue;
        }
        let (name, sans) = line.split_once(',').unwrap_or((line, ""));
        let name = name.trim();
        if name.is_empty() || name.contains(['/', '\0']) || name.starts_with('.') {
            return Err(input(format!(
                "manifest line {}: bad device name {name:?}",
                i + 1
            )));
        }
        let sans = sans
            .split([';', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        devices.push(Device {
            name: name.to_string(),
            sans,
        });
    }
    Ok(devices)
}

enum Outcome {
    Enrolled,
    Skipped,
    Failed(String),
}

/// Whether `dir/name.crt` holds a valid, unexpired certificate for `key`.
/// Whether `cert` holds a chain for `key` that is valid now, by the client's clock, up to
/// the client's root.
fn already_done(client: &Client, cert: &Path, key: &PrivateKey) -> bool {
    let Ok(pem) = std::fs::read(cert) else {
        return false;
    };
    let Ok(chain) = CertificateChain::from_pem(&pem) else {
        return false;
    };
    chain
        .verify(&key.spki_der(), client.roots(), client.now())
        .is_ok()
}

fn enroll_one(client: &Client, dir: &Path, kty: KeyType, d: &Device) -> Outcome {
    let key_path = dir.join(format!("{}.key", d.name));
    let cert_path = dir.join(format!("{}.crt", d.name));
    let key = match std::fs::read(&key_path) {
        Ok(bytes) => match PrivateKey::load(&bytes, None) {
            Ok(k) => k,
            Err(e) => return Outcome::Failed(format!("{}: {e}", key_path.display())),
        },
        Err(_) => {
            let key = match PrivateKey::generate(kty) {
                Ok(k) => k,
                Err(e) => return Outcome::Failed(e.to_string()),
            };
            // The key is on disk before the CA sees the CSR: a crash cannot orphan a cert.
            if let Err(e) = stepca::write_atomic(&key_path, key.to_pkcs8_pem().as_bytes(), 0o600) {
                return Outcome::Failed(e.to_string());
            }
            key
        }
    };
    if already_done(client, &cert_path, &key) {
        return Outcome::Skipped;
    }
    let result = build_csr(&key, &d.name, &d.sans)
        .map_err(|f| f.message)
        .and_then(|csr| {
            client
                .sign(&csr, &SignOptions::default())
                .map_err(|e| e.to_string())
        });
    match result {
        Ok(chain) => match stepca::write_atomic(&cert_path, chain.to_pem().as_bytes(), 0o644) {
            Ok(()) => Outcome::Enrolled,
            // Written nowhere: say so loudly, with the chain, rather than lose it.
            Err(e) => Outcome::Failed(format!("{e} (issued chain follows)\n{}", chain.to_pem())),
        },
        Err(e) => Outcome::Failed(e),
    }
}

pub(crate) fn run(
    client: &Client,
    manifest: &Path,
    dir: &Path,
    parallel: usize,
    kty: KeyType,
    json_out: bool,
) -> Result<serde_json::Value, Failure> {
    let devices = parse_manifest(manifest)?;
    std::fs::create_dir_all(dir).map_err(|e| input(format!("{}: {e}", dir.display())))?;
    // Temporary files of a run that was killed mid-write: never a finished file.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.contains(".tmp-") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let next = AtomicUsize::new(0);
    let (enrolled, skipped) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let failures: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    let tty = std::io::stderr().is_terminal() && !json_out;
    let total = devices.len();
    let progress = |done: usize| {
        if tty {
            let width = 30;
            let filled = (done * width).checked_div(total).unwrap_or(width);
            eprint!(
                "\r[{}{}] {done}/{total}  enrolled {}  skipped {}  failed {}",
                "=".repeat(filled),
                " ".repeat(width - filled),
                enrolled.load(Ordering::Relaxed),
                skipped.load(Ordering::Relaxed),
                failures.lock().map_or(0, |f| f.len())
            );
        }
    };
    let done = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..parallel.min(total.max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(d) = devices.get(i) else { break };
                    match enroll_one(client, dir, kty, d) {
                        Outcome::Enrolled => {
                            enrolled.fetch_add(1, Ordering::SeqCst);
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
                    progress(done.fetch_add(1, Ordering::SeqCst) + 1);
                }
            });
        }
    });
    if tty {
        eprintln!();
    }
    let failures = failures.into_inner().unwrap_or_default();
    for (name, why) in &failures {
        eprintln!("stepca: {name}: {why}");
    }
    let failed_names: Vec<&String> = failures.iter().map(|(n, _)| n).collect();
    Ok(json!({
        "devices": total,
        "enrolled": enrolled.load(Ordering::SeqCst),
        "skipped": skipped.load(Ordering::SeqCst),
        "failed": failures.len(),
        "failed_devices": failed_names,
        "out_dir": PathBuf::from(dir),
    }))
}
