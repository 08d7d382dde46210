//! `stepca batch` against a real step-ca (run under scripts/with-ca.sh): a batch killed with
//! SIGKILL and run again (on a CA of the test's own, whose log counts the sign requests),
//! SIGINT and SIGTERM draining, two batches on one directory, planted symbolic links, and
//! manifests refused before anything is enrolled.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use stepca::{CertificateChain, PrivateKey};

#[path = "../../tests/common/mod.rs"]
mod common;

/// The journal and lock the batch keeps in its out dir.
const JOURNAL: &str = ".stepca-batch.journal";
const LOCK: &str = ".stepca-batch.lock";

fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k}: run under scripts/with-ca.sh"))
}

/// A step-ca: the shared one of scripts/with-ca.sh, or one of the test's own
/// ([`common::PrivateCa`], stopped on drop) whose log holds only the test's requests.
struct Ca {
    url: String,
    root: String,
    password_file: String,
    /// step-ca's log.
    log: PathBuf,
    /// A CA of the test's own, kept until the test ends.
    _own: Option<common::PrivateCa>,
}

impl Ca {
    fn shared() -> Ca {
        Ca {
            url: var("STEPCA_URL"),
            root: var("STEPCA_ROOT"),
            password_file: var("STEPCA_PASSWORD_FILE"),
            log: Path::new(&var("STEPPATH")).join("ca.log"),
            _own: None,
        }
    }

    fn own() -> Ca {
        let own = common::PrivateCa::start();
        Ca {
            url: own.ca.url.clone(),
            root: own.ca.root.display().to_string(),
            password_file: own.ca.password_file.display().to_string(),
            log: own.log.clone(),
            _own: Some(own),
        }
    }

    /// The provisioner flags of every command here (JWK provisioner `admin` and its
    /// password): the one place to change them.
    fn provisioner(&self) -> Vec<String> {
        vec![
            "--provisioner".into(),
            "admin".into(),
            "--provisioner-password-file".into(),
            self.password_file.clone(),
        ]
    }

    /// `stepca --json --ca-url URL --root ROOT ARGS...`.
    fn stepca(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stepca"));
        c.args(["--json", "--ca-url", &self.url, "--root", &self.root])
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// `stepca batch` of `manifest` into `out`, `parallel` in flight.
    fn batch(&self, manifest: &Path, out: &Path, parallel: usize) -> Command {
        let p = parallel.to_string();
        let mut c = self.stepca(&[
            "batch",
            "--manifest",
            manifest.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
            "--parallel",
            &p,
        ]);
        c.args(self.provisioner());
        c
    }

    /// The subject of every certificate the CA issued through /1.0/sign (status 201), in
    /// the order of its log.
    fn signed(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .filter(|l| l.contains(" path=/1.0/sign ") && l.contains(" status=201 "))
            .map(|l| {
                l.split(" subject=")
                    .nth(1)
                    .and_then(|s| s.split(' ').next())
                    .unwrap_or("")
                    .trim_matches('"')
                    .to_string()
            })
            .collect()
    }

    /// [`Ca::signed`] for subjects starting with `prefix`, once the count has held still
    /// for 300 ms (step-ca logs a request as it answers it).
    fn signed_settled(&self, prefix: &str) -> Vec<String> {
        let mut last = Vec::new();
        let mut since = Instant::now();
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let now: Vec<String> = self
                .signed()
                .into_iter()
                .filter(|s| s.starts_with(prefix))
                .collect();
            if now.len() != last.len() {
                last = now;
                since = Instant::now();
            } else if since.elapsed() > Duration::from_millis(300) || Instant::now() > end {
                return last;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn roots(&self) -> Vec<Vec<u8>> {
        CertificateChain::from_pem(&std::fs::read(&self.root).unwrap())
            .unwrap()
            .certificates()
            .to_vec()
    }
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("stepca-batch-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    fn p(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child killed when the test ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The name of device `i` of the manifest with `prefix`.
fn dev(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:04}")
}

/// A manifest of `n` devices named `prefix0000`...; its path.
fn manifest(dir: &Scratch, prefix: &str, n: usize) -> PathBuf {
    let mut m = String::from("name,sans\n");
    for i in 0..n {
        let d = dev(prefix, i);
        m.push_str(&format!(
            "{d},{d}.example.com;10.9.{}.{}\n",
            i / 250,
            i % 250
        ));
    }
    let p = dir.p(&format!("{prefix}.csv"));
    std::fs::write(&p, m).unwrap();
    p
}

/// The device names of the *.crt files in `dir`.
fn certs(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_suffix(".crt"))
                        .filter(|n| !n.starts_with('.'))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The hidden files in `dir` other than the lock and journal: temporary files.
fn temps(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n != JOURNAL && n != LOCK)
        .collect()
}

/// What the journal of `dir` says: the devices pending (a `sign` with no outcome after it)
/// with their temporary files, and every temporary file recorded, by device.
fn journal(dir: &Path) -> (BTreeMap<String, String>, Vec<(String, String)>) {
    let text = std::fs::read_to_string(dir.join(JOURNAL)).unwrap_or_default();
    let (mut pending, mut recorded) = (BTreeMap::new(), Vec::new());
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["sign", n, t] => {
                pending.insert(n.to_string(), t.to_string());
                recorded.push((n.to_string(), t.to_string()));
            }
            ["tmp", n, t] => recorded.push((n.to_string(), t.to_string())),
            ["done" | "rejected" | "unsure", n] => {
                pending.remove(*n);
            }
            _ => {}
        }
    }
    (pending, recorded)
}

/// Whether `pem` holds a chain valid now up to `roots` whose leaf carries `key`.
fn chain_valid_for(pem: &[u8], key: &PrivateKey, roots: &[Vec<u8>]) -> bool {
    CertificateChain::from_pem(pem)
        .is_ok_and(|c| c.verify(&key.spki_der(), roots, SystemTime::now()).is_ok())
}

fn key_of(dir: &Path, name: &str) -> PrivateKey {
    PrivateKey::load(
        &std::fs::read(dir.join(format!("{name}.key"))).unwrap(),
        None,
    )
    .unwrap()
}

fn openssl_verify(root: &str, chain: &Path) {
    let out = Command::new("openssl")
        .args(["verify", "-CAfile", root, "-untrusted"])
        .arg(chain)
        .arg(chain)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until `cond` holds, or panics saying `what` after `limit`.
fn poll(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < end, "no {what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The JSON the command printed, with what it said on stderr for messages.
fn summary(out: &Output) -> (serde_json::Value, String) {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {:?}, stderr {stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (v, stderr)
}

fn strings(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Starts `c` with its stdout and stderr collected (read on threads, so that it never
/// blocks on a full pipe); `finish` waits for it.
fn spawn_collecting(
    c: &mut Command,
) -> (KillOnDrop, impl FnOnce(&mut KillOnDrop) -> Output + use<>) {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut so, mut se) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let t1 = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = so.read_to_end(&mut b);
        b
    });
    let t2 = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = se.read_to_end(&mut b);
        b
    });
    let finish = move |child: &mut KillOnDrop| {
        let status = child.0.wait().unwrap();
        Output {
            status,
            stdout: t1.join().unwrap(),
            stderr: t2.join().unwrap(),
        }
    };
    (KillOnDrop(child), finish)
}

fn signal(child: &KillOnDrop, sig: i32) {
    // SAFETY: kill(2) with plain integers.
    assert_eq!(unsafe { libc::kill(child.0.id() as i32, sig) }, 0);
}

#[test]
fn a_batch_killed_midway_resumes_promoting_what_arrived_and_naming_what_was_in_flight() {
    let ca = Ca::own();
    let s = Scratch::new("kill");
    let (n, parallel) = (400, 8);
    let m = manifest(&s, "dev", n);
    let out = s.p("out");
    let roots = ca.roots();

    // First run: SIGKILL once 100 certificates are on disk and requests are in flight.
    let mut first = KillOnDrop(
        ca.batch(&m, &out, parallel)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    poll(
        "100 certificates with requests in flight",
        Duration::from_secs(60),
        || {
            let waiting = |d: &&String| !out.join(format!("{d}.crt")).exists();
            certs(&out).len() >= 100 && journal(&out).0.keys().filter(waiting).count() >= 2
        },
    );
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let on_disk = certs(&out);
    assert!(
        on_disk.len() >= 100 && on_disk.len() < n,
        "{}",
        on_disk.len()
    );
    let (in_flight, recorded) = journal(&out);
    assert!(
        !in_flight.is_empty() && in_flight.len() <= parallel,
        "in flight at the kill: {in_flight:?}"
    );
    for name in in_flight.keys() {
        assert!(
            out.join(format!("{name}.key")).exists(),
            "{name}: its key is on disk before its request"
        );
    }

    // The temporary chains the kill left that are whole and valid: none may be lost.
    let valid_temps = |in_flight: &BTreeMap<String, String>| -> BTreeMap<String, Vec<u8>> {
        in_flight
            .iter()
            .filter(|(name, _)| !on_disk.contains(*name))
            .filter_map(|(name, temp)| {
                let pem = std::fs::read(out.join(temp)).ok()?;
                chain_valid_for(&pem, &key_of(&out, name), &roots).then(|| (name.clone(), pem))
            })
            .collect()
    };
    // Plant one: the chain of a device in flight arrived and was written to its temporary
    // file, and the kill came before the rename. (A request of its own at the CA.)
    let (x, x_temp) = in_flight
        .iter()
        .find(|(d, _)| !on_disk.contains(*d))
        .expect("a device in flight with no certificate on disk");
    let x_cert = s.p("planted.crt");
    let x_key = out.join(format!("{x}.key"));
    let mut enroll = ca.stepca(&[
        "enroll",
        "--cn",
        x,
        "--san",
        &format!("{x}.example.com"),
        "--key",
        x_key.to_str().unwrap(),
        "--cert-out",
        x_cert.to_str().unwrap(),
    ]);
    let planted = enroll.args(ca.provisioner()).output().unwrap();
    assert!(planted.status.success(), "{planted:?}");
    let planted = std::fs::read(&x_cert).unwrap();
    std::fs::write(out.join(x_temp), &planted).unwrap();
    let promotable = valid_temps(&in_flight);
    assert!(promotable.contains_key(x));

    // Symbolic links at names a temporary file of the batch has or could have, to a file
    // that must stay as it is: a recorded name whose file is gone (a finished device's), the
    // temporary file of another device in flight (if one held no valid chain), and names
    // with the batch's prefix or the old scheme that nothing recorded.
    let bait = s.p("bait");
    std::fs::write(&bait, b"not to be touched\n").unwrap();
    let mut links = Vec::new();
    let gone = recorded
        .iter()
        .find(|(_, t)| !out.join(t).exists())
        .expect("a recorded temporary file that was renamed");
    links.push(gone.1.clone());
    if let Some((_, t)) = in_flight
        .iter()
        .find(|(name, t)| !promotable.contains_key(*name) && out.join(t).exists())
    {
        std::fs::remove_file(out.join(t)).unwrap();
        links.push(t.clone());
    }
    let later = dev("dev", n - 1);
    links.push(format!(".{later}.crt.stepca-batch-AAAAAAAAAA.tmp"));
    links.push(format!(".{later}.key.stepca-batch-BBBBBBBBBB.tmp"));
    links.push(format!(".{later}.crt.tmp-{}", std::process::id()));
    for l in &links {
        symlink(&bait, out.join(l)).unwrap();
    }

    // Second run: finishes.
    let t = Instant::now();
    let second = ca.batch(&m, &out, parallel).output().unwrap();
    let took = t.elapsed();
    let (v, said) = summary(&second);
    assert_eq!(second.status.code(), Some(0), "{v} {said}");
    assert_eq!(
        (v["devices"].as_u64(), v["failed"].as_u64()),
        (Some(n as u64), Some(0)),
        "{v}"
    );
    let doubled = strings(&v["possibly_doubled"]);
    let promoted = strings(&v["promoted"]);
    // Only devices that were in flight are named, and each is named on stderr too.
    assert!(
        doubled.iter().all(|d| in_flight.contains_key(d)),
        "named {doubled:?}, in flight {in_flight:?}"
    );
    for d in &doubled {
        assert!(
            said.contains(&format!("stepca: {d}: its sign request was in flight")),
            "{said}"
        );
    }
    // Every valid temporary chain was put in place as it was, not enrolled again.
    assert_eq!(
        promoted,
        promotable.keys().cloned().collect::<BTreeSet<_>>(),
        "{said}"
    );
    for (name, pem) in &promotable {
        assert_eq!(
            &std::fs::read(out.join(format!("{name}.crt"))).unwrap(),
            pem,
            "{name}"
        );
    }
    assert!(!doubled.contains(x));
    assert_eq!(
        v["skipped"].as_u64().unwrap() as usize,
        on_disk.len() + promotable.len(),
        "{v}"
    );

    // The CA's count: one certificate a device, plus at most one for each device in flight
    // at the kill; any device signed twice is one the rerun named, or the planted one.
    let signed = ca.signed_settled("dev");
    let mut per_device: BTreeMap<&str, usize> = BTreeMap::new();
    for subject in &signed {
        *per_device.entry(subject).or_default() += 1;
    }
    assert!(
        signed.len() <= n + in_flight.len() && in_flight.len() <= parallel,
        "{} sign requests for {n} devices, {} in flight",
        signed.len(),
        in_flight.len()
    );
    assert_eq!(per_device.len(), n);
    for (d, count) in &per_device {
        if *count > 1 {
            assert!(
                doubled.contains(*d) || *d == x,
                "{d} signed {count} times, not named"
            );
        }
    }
    assert!(per_device[x.as_str()] <= 2);

    // All 400 on disk, each a valid chain for its key, with its name and SANs; keys 0600.
    let all = certs(&out);
    assert_eq!(all.len(), n);
    for i in 0..n {
        let name = dev("dev", i);
        let pem = std::fs::read(out.join(format!("{name}.crt"))).unwrap();
        let key = key_of(&out, &name);
        assert!(chain_valid_for(&pem, &key, &roots), "{name}");
        let chain = CertificateChain::from_pem(&pem).unwrap();
        assert_eq!(chain.common_name().as_deref(), Some(name.as_str()));
        let mode = std::fs::metadata(out.join(format!("{name}.key")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}.key");
    }
    for name in [dev("dev", 0), x.clone(), later.clone()] {
        openssl_verify(&ca.root, &out.join(format!("{name}.crt")));
    }

    // No link was followed; those the journal did not record are still there; no temporary
    // file of the batch's is left, and the journal is gone with nothing pending.
    assert_eq!(std::fs::read(&bait).unwrap(), b"not to be touched\n");
    let left = temps(&out);
    assert_eq!(
        left,
        links.iter().cloned().collect::<BTreeSet<_>>(),
        "{said}"
    );
    for l in &links {
        assert!(std::fs::symlink_metadata(out.join(l)).unwrap().is_symlink());
    }
    assert!(!out.join(JOURNAL).exists());

    // Third run: nothing to do, nothing sent.
    let third = ca.batch(&m, &out, parallel).output().unwrap();
    let (v3, said3) = summary(&third);
    assert_eq!(third.status.code(), Some(0), "{said3}");
    assert_eq!(
        (v3["enrolled"].as_u64(), v3["skipped"].as_u64()),
        (Some(0), Some(n as u64))
    );
    assert_eq!(ca.signed_settled("dev").len(), signed.len());
    eprintln!(
        "kill test: {} on disk at the kill, {} in flight, {} promoted, {} named, {} sign \
         requests for {n} devices; the rerun took {took:?}",
        on_disk.len(),
        in_flight.len(),
        promoted.len(),
        doubled.len(),
        signed.len()
    );
}

#[test]
fn sigint_drains_what_is_in_flight_and_summarises() {
    let ca = Ca::shared();
    let s = Scratch::new("sigint");
    let prefix = format!("int{}-", std::process::id());
    let n = 300;
    let m = manifest(&s, &prefix, n);
    let out = s.p("out");
    let (mut child, finish) = spawn_collecting(&mut ca.batch(&m, &out, 4));
    poll("30 certificates", Duration::from_secs(60), || {
        certs(&out).len() >= 30
    });
    signal(&child, libc::SIGINT);
    let t = Instant::now();
    let run = finish(&mut child);
    let drained_in = t.elapsed();
    let (v, said) = summary(&run);
    assert_eq!(run.status.code(), Some(130), "{v} {said}");
    assert_eq!(v["interrupted"], "SIGINT", "{v}");
    assert!(
        said.contains("stepca: SIGINT: starting no more devices"),
        "{said}"
    );
    assert!(said.contains("stepca: stopped by SIGINT"), "{said}");
    assert!(drained_in < Duration::from_secs(5), "{drained_in:?}");
    // Every device it started is written: as many certificates on disk as the CA signed,
    // as it says; nothing pending, no temporary file.
    let enrolled = v["enrolled"].as_u64().unwrap() as usize;
    let not_started = v["not_started"].as_u64().unwrap() as usize;
    let on_disk = certs(&out);
    let signed = ca.signed_settled(&prefix);
    assert_eq!(on_disk.len(), enrolled, "{v}");
    assert_eq!(signed.len(), enrolled, "{v}");
    assert_eq!(
        signed.iter().cloned().collect::<BTreeSet<_>>(),
        on_disk,
        "the devices signed are those on disk"
    );
    assert!(not_started > 0 && enrolled + not_started == n, "{v}");
    assert_eq!(v["failed"], 0);
    assert_eq!(v["pending"], 0);
    assert!(temps(&out).is_empty(), "{:?}", temps(&out));
    assert!(!out.join(JOURNAL).exists());

    // The rest, and not one device twice.
    let rest = ca.batch(&m, &out, 4).output().unwrap();
    let (v2, said2) = summary(&rest);
    assert_eq!(rest.status.code(), Some(0), "{said2}");
    assert_eq!(v2["enrolled"].as_u64().unwrap() as usize, not_started);
    assert!(strings(&v2["possibly_doubled"]).is_empty());
    assert_eq!(ca.signed_settled(&prefix).len(), n);
}

#[test]
fn a_second_batch_on_the_same_directory_is_refused_and_sigterm_drains() {
    let ca = Ca::shared();
    let s = Scratch::new("lock");
    let prefix = format!("lock{}-", std::process::id());
    let n = 200;
    let m = manifest(&s, &prefix, n);
    let out = s.p("out");
    let (mut a, finish) = spawn_collecting(&mut ca.batch(&m, &out, 2));
    poll("the first batch under way", Duration::from_secs(60), || {
        certs(&out).len() >= 5
    });
    let before = certs(&out).len();
    let b = ca.batch(&m, &out, 2).output().unwrap();
    let said = String::from_utf8_lossy(&b.stderr);
    assert_eq!(b.status.code(), Some(9), "{said}");
    assert!(
        said.contains(&format!(
            "another stepca batch (pid {}) is enrolling into this directory",
            a.0.id()
        )),
        "{said}"
    );
    let err: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    assert_eq!(err["exit_code"], 9);

    signal(&a, libc::SIGTERM);
    let run = finish(&mut a);
    let (v, said) = summary(&run);
    assert_eq!(run.status.code(), Some(143), "{said}");
    assert_eq!(v["interrupted"], "SIGTERM");
    assert!(certs(&out).len() >= before);
    assert_eq!(
        ca.signed_settled(&prefix).len(),
        v["enrolled"].as_u64().unwrap() as usize
    );

    // Once it has ended, the directory is free again.
    let again = ca.batch(&m, &out, 4).output().unwrap();
    let (v, said) = summary(&again);
    assert_eq!(again.status.code(), Some(0), "{said}");
    assert_eq!(v["failed"], 0);
    assert_eq!(certs(&out).len(), n);
    assert_eq!(ca.signed_settled(&prefix).len(), n);
}

#[test]
fn planted_symbolic_links_are_not_followed() {
    let ca = Ca::shared();
    let s = Scratch::new("links");
    let prefix = format!("sym{}-", std::process::id());
    let n = 4;
    let m = manifest(&s, &prefix, n);
    let out = s.p("out");
    std::fs::create_dir_all(&out).unwrap();
    let bait = s.p("bait");
    std::fs::write(&bait, b"not to be touched\n").unwrap();
    let untouched = || assert_eq!(std::fs::read(&bait).unwrap(), b"not to be touched\n");

    // The journal and the lock are never opened through a link.
    for own in [JOURNAL, LOCK] {
        // (The refused run with a linked journal had made the lock file.)
        let _ = std::fs::remove_file(out.join(own));
        symlink(&bait, out.join(own)).unwrap();
        let r = ca.batch(&m, &out, 2).output().unwrap();
        let said = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(3), "{said}");
        assert!(said.contains("a symbolic link, not followed"), "{said}");
        untouched();
        std::fs::remove_file(out.join(own)).unwrap();
    }
    assert!(ca.signed_settled(&prefix).is_empty());

    // A journal of a killed run whose recorded temporary files are links now (one as the
    // chain of a device in flight); and links at names with the batch's prefix and the old
    // scheme's that nothing recorded.
    let (d0, d1, d2) = (dev(&prefix, 0), dev(&prefix, 1), dev(&prefix, 2));
    let recorded = [
        format!(".{d0}.key.stepca-batch-PLANTED001.tmp"),
        format!(".{d0}.crt.stepca-batch-PLANTED002.tmp"),
    ];
    std::fs::write(
        out.join(JOURNAL),
        format!(
            "run\t1\t1\ntmp\t{d0}\t{}\nsign\t{d0}\t{}\n",
            recorded[0], recorded[1]
        ),
    )
    .unwrap();
    let mut links: Vec<String> = recorded.to_vec();
    links.push(format!(".{d1}.crt.stepca-batch-PLANTED003.tmp"));
    links.push(format!(".{d1}.key.stepca-batch-PLANTED004.tmp"));
    links.push(format!(".{d2}.crt.tmp-{}", std::process::id()));
    links.push(format!(".{d2}.key.tmp-{}-ThreadId(2)", std::process::id()));
    for l in &links {
        symlink(&bait, out.join(l)).unwrap();
    }
    let r = ca.batch(&m, &out, 2).output().unwrap();
    let (v, said) = summary(&r);
    assert_eq!(r.status.code(), Some(0), "{said}");
    assert_eq!(v["enrolled"], n);
    // d0 was pending with no chain on disk: named.
    assert_eq!(
        strings(&v["possibly_doubled"]),
        BTreeSet::from([d0.clone()])
    );
    for l in &recorded {
        assert!(said.contains(&format!("{l}: left alone")), "{said}");
    }
    untouched();
    assert_eq!(
        temps(&out),
        links.iter().cloned().collect::<BTreeSet<_>>(),
        "every link is still there, and nothing else"
    );
    for i in 0..n {
        openssl_verify(&ca.root, &out.join(format!("{}.crt", dev(&prefix, i))));
    }
}

#[test]
fn duplicates_and_malformed_lines_are_refused_before_anything_is_enrolled() {
    let ca = Ca::shared();
    let s = Scratch::new("manifest");
    let prefix = format!("man{}-", std::process::id());
    let (a, b, c) = (dev(&prefix, 0), dev(&prefix, 1), dev(&prefix, 2));
    let refused = |text: String, expect: &[String]| {
        let m = s.p("m.csv");
        std::fs::write(&m, text).unwrap();
        let out = s.p("out");
        let r = ca.batch(&m, &out, 2).output().unwrap();
        let said = String::from_utf8_lossy(&r.stderr).into_owned();
        assert_eq!(r.status.code(), Some(3), "{said}");
        assert!(said.contains("nothing enrolled"), "{said}");
        for e in expect {
            assert!(said.contains(e.as_str()), "{e:?} in {said}");
        }
        assert!(!out.exists(), "nothing written");
    };
    // A name twice (also in another case), a line with a field too many, a bad name.
    refused(
        format!(
            "name,sans\n{a},{a}.example.com\n{b}\n{a},other.example.com\n{},x\n\
             {c},{c}.example.com,extra\n.{c}\n",
            b.to_uppercase()
        ),
        &[
            format!("line 4: device \"{a}\" is already on line 2"),
            format!(
                "line 5: device \"{}\" is already on line 3",
                b.to_uppercase()
            ),
            "line 6: 3 fields, the header has 2".into(),
            format!("line 7: device name \".{c}\" starts with '.'"),
        ],
    );
    // No header: the first device is not taken for one, even when its name starts with
    // "name".
    refused(
        format!("nameserver-{a},ns.example.com\n{b}\n"),
        &["line 1: the first line must be the header `name,sans`".into()],
    );
    // An unterminated quote swallows the lines after it.
    refused(
        format!("name,sans\n{a}\n\"{b},x\n{c}\n"),
        &["line 3: device name".into(), "control character".into()],
    );
    // A SAN with a space in it (SANs are separated by ';').
    refused(
        format!("name,sans\n{a},{a}.example.com {b}.example.com\n"),
        &[format!(
            "line 2: SAN \"{a}.example.com {b}.example.com\" contains white space"
        )],
    );
    assert!(
        ca.signed_settled(&prefix).is_empty(),
        "the CA signed nothing for these devices"
    );
    assert!(
        ca.signed_settled(&format!("nameserver-{prefix}"))
            .is_empty()
    );

    // What the header allows: a first device called name-something, quoted fields.
    let m = s.p("ok.csv");
    let ns = format!("nameserver-{a}");
    std::fs::write(
        &m,
        format!("name,sans\n{ns},\"{a}.example.com; 10.1.2.3\"\n\"{b}\",\n"),
    )
    .unwrap();
    let out = s.p("ok");
    let r = ca.batch(&m, &out, 2).output().unwrap();
    let (v, said) = summary(&r);
    assert_eq!(r.status.code(), Some(0), "{said}");
    assert_eq!(v["enrolled"], 2);
    let text = String::from_utf8(
        Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in"])
            .arg(out.join(format!("{ns}.crt")))
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        text.contains(&format!("DNS:{a}.example.com")) && text.contains("IP Address:10.1.2.3"),
        "{text}"
    );
}
