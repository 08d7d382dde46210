//! `step` and `stepca` side by side (run under scripts/with-ca.sh): the same command lines
//! of `step ca bootstrap`, `step ca certificate`, `step ca renew` and `step ca revoke`, run
//! as `step ca ARGS...` and as `stepca ARGS...` against the same step-ca, each tool in a
//! directory and a $STEPPATH of its own that it bootstrapped itself (`bootstrap --ca-url
//! URL --fingerprint FP`, then no --ca-url or --root: both find the CA in defaults.json).
//!
//! The same outcome is: both succeed or both fail; the same files in their directories
//! afterwards; and for certificates the same subject, SANs, key type and validity window
//! (within a minute). Where stepca differs on purpose, the row says so and asserts both
//! sides of the difference.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k}: run under scripts/with-ca.sh"))
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tool {
    Step,
    Stepca,
}

/// One tool's side: its working directory and its $STEPPATH.
struct Side {
    tool: Tool,
    dir: PathBuf,
    steppath: PathBuf,
}

/// What a command did.
#[derive(Debug)]
struct Outcome {
    code: Option<i32>,
    stderr: String,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

impl Side {
    fn new(root: &Path, tool: Tool) -> Side {
        let base = root.join(format!("{tool:?}").to_lowercase());
        let (dir, steppath) = (base.join("work"), base.join("steppath"));
        std::fs::create_dir_all(&dir).unwrap();
        Side {
            tool,
            dir,
            steppath,
        }
    }

    /// `step ca ARGS` or `stepca ARGS`, in this side's directory with its $STEPPATH, no
    /// terminal, and none of with-ca.sh's STEPCA_* variables (the CA comes from
    /// defaults.json).
    fn run(&self, args: &[&str]) -> Outcome {
        let mut c = match self.tool {
            Tool::Step => {
                let mut c = Command::new("step");
                c.arg("ca");
                c
            }
            Tool::Stepca => Command::new(env!("CARGO_BIN_EXE_stepca")),
        };
        let out = c
            .args(args)
            .current_dir(&self.dir)
            .env("STEPPATH", &self.steppath)
            .env_remove("STEPCA_URL")
            .env_remove("STEPCA_ROOT")
            .env_remove("STEPCA_FINGERPRINT")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Outcome {
            code: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn p(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// The files of the working directory, sorted.
    fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

/// The shared CA and the two sides, bootstrapped.
struct Pair {
    tmp: PathBuf,
    step: Side,
    stepca: Side,
    password_file: String,
}

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// The admin provisioner's flags, as step takes them.
fn prov(pw: &str) -> Vec<String> {
    ["--provisioner", "admin", "--provisioner-password-file", pw]
        .map(String::from)
        .to_vec()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

impl Pair {
    /// Two sides in a temporary directory, each bootstrapped into its own $STEPPATH.
    fn new(tag: &str) -> Pair {
        let tmp = std::env::temp_dir().join(format!("stepca-compat-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let pair = Pair {
            step: Side::new(&tmp, Tool::Step),
            stepca: Side::new(&tmp, Tool::Stepca),
            tmp,
            password_file: var("STEPCA_PASSWORD_FILE"),
        };
        let (url, fp) = (var("STEPCA_URL"), var("STEPCA_FINGERPRINT"));
        pair.same(&["bootstrap", "--ca-url", &url, "--fingerprint", &fp]);
        pair
    }

    fn sides(&self) -> [&Side; 2] {
        [&self.step, &self.stepca]
    }

    /// Runs `args(side)` on both sides; asserts both succeed or both fail, with the same
    /// files afterwards. Returns (step, stepca).
    fn same_with(&self, what: &str, args: impl Fn(&Side) -> Vec<String>) -> (Outcome, Outcome) {
        let a = self.step.run(&strs(&args(&self.step)));
        let b = self.stepca.run(&strs(&args(&self.stepca)));
        assert_eq!(
            a.ok(),
            b.ok(),
            "{what}: step {:?} {}\nstepca {:?} {}",
            a.code,
            a.stderr,
            b.code,
            b.stderr
        );
        assert_eq!(self.step.files(), self.stepca.files(), "{what}: files");
        (a, b)
    }

    /// [`Pair::same_with`] with the same arguments on both sides.
    fn same(&self, args: &[&str]) -> (Outcome, Outcome) {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        self.same_with(&args.join(" "), |_| v.clone())
    }

    /// [`Pair::same`] with the admin provisioner's flags after the command's name.
    fn same_prov(&self, args: &[&str]) -> (Outcome, Outcome) {
        let mut v = vec![args[0].to_string()];
        v.extend(prov(&self.password_file));
        v.extend(args[1..].iter().map(|s| s.to_string()));
        self.same(&strs(&v))
    }

    /// Asserts both sides hold the same kind of certificate in `name`.
    fn same_cert(&self, name: &str) -> Cert {
        let (a, b) = (cert(&self.step.p(name)), cert(&self.stepca.p(name)));
        assert_eq!((&a.cn, &a.sans, &a.key), (&b.cn, &b.sans, &b.key), "{name}");
        assert!(
            (a.not_before - b.not_before).abs() <= 60 && (a.not_after - b.not_after).abs() <= 60,
            "{name}: validity step {a:?}, stepca {b:?}"
        );
        b
    }
}

/// What a certificate says, by `step certificate inspect --format json`.
#[derive(Debug)]
struct Cert {
    serial: String,
    cn: String,
    sans: Vec<String>,
    key: String,
    not_before: i64,
    not_after: i64,
}

/// UNIX seconds of `2026-11-26T10:38:50Z`.
fn unix(t: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| t[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
}

fn cert(path: &str) -> Cert {
    let out = Command::new("step")
        .args(["certificate", "inspect", path, "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut sans = Vec::new();
    for (field, kind) in [
        ("dns_names", "dns"),
        ("ip_addresses", "ip"),
        ("email_addresses", "email"),
        ("uniform_resource_identifiers", "uri"),
    ] {
        for s in v["extensions"]["subject_alt_name"][field]
            .as_array()
            .into_iter()
            .flatten()
        {
            sans.push(format!("{kind}:{}", s.as_str().unwrap_or_default()));
        }
    }
    sans.sort();
    let ki = &v["subject_key_info"];
    let key = format!(
        "{} {}{}",
        ki["key_algorithm"]["name"].as_str().unwrap_or_default(),
        ki["ecdsa_public_key"]["curve"].as_str().unwrap_or_default(),
        ki["rsa_public_key"]["length"]
            .as_u64()
            .map(|n| n.to_string())
            .unwrap_or_default(),
    );
    Cert {
        serial: v["serial_number"].as_str().unwrap_or_default().to_string(),
        cn: v["subject"]["common_name"][0]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        sans,
        key,
        not_before: unix(v["validity"]["start"].as_str().unwrap()),
        not_after: unix(v["validity"]["end"].as_str().unwrap()),
    }
}

fn mode(path: &str) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn text(path: &str) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn bootstrap_as_step() {
    let pair = Pair::new("bootstrap");
    let (url, fp) = (var("STEPCA_URL"), var("STEPCA_FINGERPRINT"));
    let ca_root = std::fs::read(var("STEPCA_ROOT")).unwrap();
    for side in pair.sides() {
        let root = side.steppath.join("certs/root_ca.crt");
        assert_eq!(std::fs::read(&root).unwrap(), ca_root, "{:?}", side.tool);
        assert_eq!(mode(root.to_str().unwrap()), 0o600, "{:?}", side.tool);
        let defaults = side.steppath.join("config/defaults.json");
        assert_eq!(mode(defaults.to_str().unwrap()), 0o644, "{:?}", side.tool);
        let v: Value = serde_json::from_slice(&std::fs::read(&defaults).unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"ca-url": url, "fingerprint": fp, "root": root}),
            "{:?}",
            side.tool
        );
    }
    // Once more: both refuse to overwrite without --force (step would ask on a terminal).
    let args = ["bootstrap", "--ca-url", &url, "--fingerprint", &fp];
    let (_, stepca) = pair.same(&args);
    assert!(!stepca.ok());
    assert_eq!(stepca.code, Some(3), "{}", stepca.stderr);
    assert!(
        stepca.stderr.contains("root_ca.crt already exists"),
        "{}",
        stepca.stderr
    );
    let (step, _) = pair.same(&[&args[..], &["--force"]].concat());
    assert!(step.ok());
    // A wrong fingerprint: both fail, stepca with 7.
    let other = "ab".repeat(32);
    let (_, stepca) = pair.same(&["bootstrap", "--ca-url", &url, "--fingerprint", &other, "-f"]);
    assert_eq!(stepca.code, Some(7), "{}", stepca.stderr);
    // No --ca-url: both fail (defaults.json is not for bootstrap).
    let (_, stepca) = pair.same(&["bootstrap", "--fingerprint", &fp, "--force"]);
    assert_eq!(stepca.code, Some(3), "{}", stepca.stderr);
    let (_, stepca) = pair.same(&["bootstrap", "--ca-url", &url, "--force"]);
    assert_eq!(stepca.code, Some(3), "{}", stepca.stderr);
    // From here on the CA comes from defaults.json: `health` (stepca's) works bare.
    assert!(pair.stepca.run(&["health"]).ok());
}

#[test]
fn certificate_as_step() {
    let pair = Pair::new("certificate");
    let pw = pair.password_file.clone();

    // The subject alone: it is also the only SAN, by its form.
    for (name, subject, san) in [
        ("dns", "compat.example.com", "dns:compat.example.com"),
        ("ip", "10.9.8.7", "ip:10.9.8.7"),
        ("email", "device@example.com", "email:device@example.com"),
        (
            "uri",
            "spiffe://example.com/device",
            "uri:spiffe://example.com/device",
        ),
    ] {
        let (crt, key) = (format!("{name}.crt"), format!("{name}.key"));
        pair.same_prov(&["certificate", subject, &crt, &key]);
        let c = pair.same_cert(&crt);
        assert_eq!(
            (c.cn.as_str(), c.sans.as_slice()),
            (subject, &[san.to_string()][..])
        );
        assert_eq!(c.key, "ECDSA P-256");
        for side in pair.sides() {
            let k = side.p(&key);
            assert_eq!(mode(&k), 0o600, "{:?}", side.tool);
            // Unencrypted, as step ca certificate writes it (step: SEC1, stepca: PKCS#8).
            assert!(!text(&k).contains("ENCRYPTED"), "{:?}", side.tool);
        }
    }

    // --san, repeatable: the subject is then only the CN.
    pair.same_prov(&[
        "certificate",
        "--san",
        "a.example.com",
        "--san",
        "10.1.2.3",
        "--san",
        "me@example.com",
        "Device 42",
        "sans.crt",
        "sans.key",
    ]);
    let c = pair.same_cert("sans.crt");
    assert_eq!(c.cn, "Device 42");
    assert_eq!(
        c.sans,
        ["dns:a.example.com", "email:me@example.com", "ip:10.1.2.3"]
    );

    // Validity: durations and times, as step takes them.
    pair.same_prov(&[
        "certificate",
        "--not-after",
        "2h",
        "v1.example.com",
        "v1.crt",
        "v1.key",
    ]);
    let c = pair.same_cert("v1.crt");
    assert!((c.not_after - now() - 7200).abs() <= 60, "{c:?}");
    pair.same_prov(&[
        "certificate",
        "--not-before",
        "10m",
        "--not-after",
        "1h",
        "v2.example.com",
        "v2.crt",
        "v2.key",
    ]);
    let c = pair.same_cert("v2.crt");
    assert!((c.not_before - now() - 600).abs() <= 60, "{c:?}");
    assert!((c.not_after - c.not_before - 3600).abs() <= 60, "{c:?}");
    let at = now() + 3 * 3600;
    let rfc3339 = Command::new("date")
        .args(["-u", "-d", &format!("@{at}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap()
        .stdout;
    let rfc3339 = String::from_utf8(rfc3339).unwrap();
    pair.same_prov(&[
        "certificate",
        "--not-after",
        rfc3339.trim(),
        "v3.example.com",
        "v3.crt",
        "v3.key",
    ]);
    assert_eq!(pair.same_cert("v3.crt").not_after, at);

    // Key types: --kty, --curve (--crv), --size.
    for (name, flags, key) in [
        (
            "p384",
            &["--kty", "EC", "--curve", "P-384"][..],
            "ECDSA P-384",
        ),
        ("okp", &["--kty", "OKP"][..], "Ed25519 "),
        (
            "okp-crv",
            &["--kty", "OKP", "--crv", "Ed25519"][..],
            "Ed25519 ",
        ),
        ("rsa", &["--kty", "RSA"][..], "RSA 2048"),
        (
            "rsa3072",
            &["--kty", "RSA", "--size", "3072"][..],
            "RSA 3072",
        ),
    ] {
        let (subject, crt, k) = (
            format!("{name}.example.com"),
            format!("{name}.crt"),
            format!("{name}.key"),
        );
        pair.same_prov(&[&["certificate"], flags, &[&subject, &crt, &k]].concat());
        assert_eq!(pair.same_cert(&crt).key, key, "{name}");
    }
    // --issuer is --provisioner.
    pair.same(&[
        "certificate",
        "--issuer",
        "admin",
        "--provisioner-password-file",
        &pw,
        "iss.example.com",
        "iss.crt",
        "iss.key",
    ]);
    pair.same_cert("iss.crt");
    // step's fallback: --password-file alone is the provisioner's password; the key is
    // written unencrypted by both.
    pair.same(&[
        "certificate",
        "--provisioner",
        "admin",
        "--password-file",
        &pw,
        "fb.example.com",
        "fb.crt",
        "fb.key",
    ]);
    pair.same_cert("fb.crt");
    for side in pair.sides() {
        assert!(
            !text(&side.p("fb.key")).contains("ENCRYPTED"),
            "{:?}",
            side.tool
        );
    }

    // Existing files: refused without --force (step would ask on a terminal), untouched;
    // --force (-f) overwrites.
    let before: Vec<String> = pair.sides().iter().map(|s| text(&s.p("dns.crt"))).collect();
    let (_, stepca) = pair.same_prov(&["certificate", "compat.example.com", "dns.crt", "new.key"]);
    assert_eq!(stepca.code, Some(3));
    assert!(
        stepca.stderr.contains("dns.crt already exists"),
        "{}",
        stepca.stderr
    );
    // An existing KEY: both fail, but step has written CRT by then (it writes the key
    // last, and asks only then); stepca checks both files first and writes neither.
    let mut args = vec!["certificate".to_string()];
    args.extend(prov(&pw));
    args.extend(["compat.example.com", "n.crt", "dns.key"].map(String::from));
    let (step, stepca) = (pair.step.run(&strs(&args)), pair.stepca.run(&strs(&args)));
    assert!(!step.ok() && Path::new(&pair.step.p("n.crt")).exists());
    assert_eq!(stepca.code, Some(3), "{}", stepca.stderr);
    assert!(
        stepca.stderr.contains("dns.key already exists"),
        "{}",
        stepca.stderr
    );
    assert!(!Path::new(&pair.stepca.p("n.crt")).exists());
    std::fs::remove_file(pair.step.p("n.crt")).unwrap();
    let after: Vec<String> = pair.sides().iter().map(|s| text(&s.p("dns.crt"))).collect();
    assert_eq!(before, after);
    for f in ["--force", "-f"] {
        let (step, _) =
            pair.same_prov(&["certificate", f, "compat.example.com", "dns.crt", "dns.key"]);
        assert!(step.ok());
    }
    pair.same_cert("dns.crt");

    // Bad input: the same refusals, and nothing written.
    let bad_pw = pair.step.dir.join("..").join("bad.pw");
    std::fs::write(&bad_pw, "wrong\n").unwrap();
    let bad_pw = bad_pw.to_string_lossy().into_owned();
    for (args, code) in [
        (
            vec![
                "--provisioner",
                "admin",
                "--provisioner-password-file",
                &bad_pw,
                "x.example.com",
                "x.crt",
                "x.key",
            ],
            6,
        ),
        (prov_args(&pw, &["--kty", "EC", "--size", "2048"]), 2),
        (prov_args(&pw, &["--curve", "P-384"]), 2),
        (prov_args(&pw, &["--kty", "RSA", "--curve", "P-256"]), 2),
        (prov_args(&pw, &["--kty", "OKP", "--curve", "P-256"]), 2),
        (prov_args(&pw, &["--kty", "DSA"]), 2),
        (prov_args(&pw, &["--not-after", "soon"]), 2),
        (
            vec![
                "--provisioner",
                "nobody",
                "--provisioner-password-file",
                &pw,
            ],
            3,
        ),
    ] {
        let mut all = vec!["certificate"];
        all.extend(args.iter().map(|s| &**s));
        if !all.contains(&"x.crt") {
            all.extend(["x.example.com", "x.crt", "x.key"]);
        }
        let (step, stepca) = pair.same(&all);
        assert!(!step.ok(), "{all:?}");
        assert_eq!(stepca.code, Some(code), "{all:?}: {}", stepca.stderr);
        assert!(!Path::new(&pair.stepca.p("x.key")).exists(), "{all:?}");
    }
    // Too few arguments.
    pair.same_prov(&["certificate", "x.example.com", "x.crt"]);

    // Where stepca differs on purpose.
    // 1. A subject that is no valid name, without --san: step issues it as a DNS SAN
    //    ("DNS:my device"), stepca refuses it as --san would (exit 3) and writes nothing.
    let mut args = vec!["certificate".to_string()];
    args.extend(prov(&pw));
    args.extend(["my device", "bad.crt", "bad.key"].map(String::from));
    let step = pair.step.run(&strs(&args));
    assert!(step.ok(), "{}", step.stderr);
    assert_eq!(cert(&pair.step.p("bad.crt")).sans, ["dns:my device"]);
    let stepca = pair.stepca.run(&strs(&args));
    assert_eq!(stepca.code, Some(3), "{}", stepca.stderr);
    assert!(stepca.stderr.contains("--san"), "{}", stepca.stderr);
    assert!(!Path::new(&pair.stepca.p("bad.key")).exists());
    for f in ["bad.crt", "bad.key"] {
        std::fs::remove_file(pair.step.p(f)).unwrap();
    }
    // 2. --password-file with --provisioner-password-file: step ignores it (the key is
    //    written unencrypted); stepca encrypts the new key with it, as step's help says.
    let kp = pair.step.dir.join("..").join("key.pw");
    std::fs::write(&kp, "key secret\n").unwrap();
    let kp = kp.to_string_lossy().into_owned();
    pair.same_prov(&[
        "certificate",
        "--password-file",
        &kp,
        "enc.example.com",
        "enc.crt",
        "enc.key",
    ]);
    pair.same_cert("enc.crt");
    assert!(!text(&pair.step.p("enc.key")).contains("ENCRYPTED"));
    let enc = pair.stepca.p("enc.key");
    assert!(text(&enc).starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    // ... which step reads with the passphrase, and renews with.
    let out = Command::new("step")
        .args(["crypto", "key", "public", &enc, "--password-file", &kp])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The admin provisioner's flags, then `extra`.
fn prov_args<'a>(pw: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--provisioner", "admin", "--provisioner-password-file", pw];
    v.extend_from_slice(extra);
    v
}

#[test]
fn renew_as_step() {
    let pair = Pair::new("renew");
    pair.same_prov(&[
        "certificate",
        "--not-after",
        "1h",
        "r.example.com",
        "r.crt",
        "r.key",
    ]);
    let first = pair.same_cert("r.crt");

    // Over CRT, with --force as step needs it without a terminal.
    pair.same(&["renew", "--force", "r.crt", "r.key"]);
    let renewed = pair.same_cert("r.crt");
    assert_ne!(renewed.serial, first.serial);
    assert!(
        (renewed.not_after - renewed.not_before - 3660).abs() <= 60,
        "{renewed:?}"
    );
    // --out (--output-file) to a new file.
    pair.same(&["renew", "--out", "r2.crt", "r.crt", "r.key"]);
    pair.same_cert("r2.crt");
    pair.same(&["renew", "--output-file", "r3.crt", "r.crt", "r.key"]);
    pair.same_cert("r3.crt");
    // --expires-in: not due (an hour left, more than 30 minutes): nothing renewed.
    let before: Vec<String> = pair
        .sides()
        .iter()
        .map(|s| cert(&s.p("r.crt")).serial)
        .collect();
    let (step, _) = pair.same(&["renew", "--force", "--expires-in", "30m", "r.crt", "r.key"]);
    assert!(step.ok());
    let after: Vec<String> = pair
        .sides()
        .iter()
        .map(|s| cert(&s.p("r.crt")).serial)
        .collect();
    assert_eq!(before, after);
    // An encrypted key (encrypted here with openssl) and --password-file.
    let kp = pair.step.dir.join("..").join("key.pw");
    std::fs::write(&kp, "key secret\n").unwrap();
    let kp = kp.to_string_lossy().into_owned();
    for side in pair.sides() {
        let out = Command::new("openssl")
            .args(["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in"])
            .arg(side.p("r.key"))
            .arg("-out")
            .arg(side.p("enc.key"))
            .args(["-passout", "pass:key secret"])
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    pair.same(&[
        "renew",
        "--force",
        "--password-file",
        &kp,
        "r.crt",
        "enc.key",
    ]);
    pair.same_cert("r.crt");
    // Refusals: no passphrase (step cannot prompt without a terminal), a wrong one, a key
    // that is not the certificate's, a missing file, one argument.
    let (_, stepca) = pair.same(&["renew", "--force", "r.crt", "enc.key"]);
    assert_eq!(stepca.code, Some(6), "{}", stepca.stderr);
    let bad = pair.step.dir.join("..").join("bad.pw");
    std::fs::write(&bad, "nope\n").unwrap();
    let (_, stepca) = pair.same(&[
        "renew",
        "--force",
        "--password-file",
        bad.to_str().unwrap(),
        "r.crt",
        "enc.key",
    ]);
    assert_eq!(stepca.code, Some(6), "{}", stepca.stderr);
    let (_, stepca) = pair.same(&["renew", "--force", "r.crt", "dns.key"]);
    assert_eq!(stepca.code, Some(3), "{}", stepca.stderr);
    pair.same_prov(&["certificate", "o.example.com", "o.crt", "o.key"]);
    let (_, stepca) = pair.same(&["renew", "--force", "r.crt", "o.key"]);
    assert_eq!(stepca.code, Some(3), "{}", stepca.stderr);
    let (_, stepca) = pair.same(&["renew", "--force", "r.crt"]);
    assert_eq!(stepca.code, Some(2), "{}", stepca.stderr);
    let (_, stepca) = pair.same(&["renew", "--force", "--expires-in", "soon", "r.crt", "r.key"]);
    assert_eq!(stepca.code, Some(2), "{}", stepca.stderr);

    // Where stepca differs on purpose: without --force and without a terminal, step fails
    // (it would ask before overwriting CRT); stepca renews in place, its whole point (the
    // daemon and the systemd units rely on it).
    let step = pair.step.run(&["renew", "r.crt", "r.key"]);
    assert!(!step.ok());
    let stepca = pair.stepca.run(&["renew", "r.crt", "r.key"]);
    assert!(stepca.ok(), "{}", stepca.stderr);
}

#[test]
fn revoke_as_step() {
    let pair = Pair::new("revoke");
    let pw = pair.password_file.clone();
    for name in ["t", "m", "bad"] {
        pair.same_prov(&[
            "certificate",
            &format!("{name}.example.com"),
            &format!("{name}.crt"),
            &format!("{name}.key"),
        ]);
    }
    let serial = |side: &Side, name: &str| cert(&side.p(name)).serial;
    // A revoke token from `step ca token --revoke`, for this side's serial.
    let token = |side: &Side, serial: &str| -> String {
        let out = Command::new("step")
            .args(["ca", "token", "--revoke", "--provisioner", "admin"])
            .args(["--provisioner-password-file", &pw])
            .arg(serial)
            .env("STEPPATH", &side.steppath)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };

    // Bad input first (nothing revoked): a reason code out of bounds or unknown, a serial
    // that is no number, a token for another serial.
    type Args = fn(token: String, serial: String) -> Vec<String>;
    let rows: [(&str, i32, Args); 4] = [
        ("reasonCode 77", 2, |t, s| {
            vec!["--reasonCode".into(), "77".into(), "--token".into(), t, s]
        }),
        ("reasonCode lost", 2, |t, s| {
            vec!["--reasonCode".into(), "lost".into(), "--token".into(), t, s]
        }),
        ("not a serial", 3, |t, _| {
            vec!["--token".into(), t, "zz".into()]
        }),
        ("token of another serial", 4, |t, _| {
            vec!["--token".into(), t, "1".into()]
        }),
    ];
    for (name, code, args) in rows {
        let (_, stepca) = pair.same_with(name, |side| {
            let s = serial(side, "t.crt");
            let mut v = vec!["revoke".to_string()];
            v.extend(args(token(side, &s), s));
            v
        });
        assert_eq!(stepca.code, Some(code), "{name}: {}", stepca.stderr);
    }
    // A serial with --cert and --key: step and stepca both refuse, stepca saying why.
    let (_, stepca) = pair.same(&["revoke", "--cert", "m.crt", "--key", "m.key", "1"]);
    assert_eq!(stepca.code, Some(2), "{}", stepca.stderr);
    assert!(stepca.stderr.contains("not both"), "{}", stepca.stderr);
    let (_, stepca) = pair.same(&["revoke", "--cert", "m.crt"]);
    assert_eq!(stepca.code, Some(2), "{}", stepca.stderr);

    // By serial with a token, reason and reasonCode by name; the certificate renews no more.
    pair.same_with("revoke --token", |side| {
        let s = serial(side, "t.crt");
        [
            "revoke",
            "--reason",
            "lost",
            "--reasonCode",
            "Key Compromise",
            "--token",
        ]
        .map(String::from)
        .into_iter()
        .chain([token(side, &s), s])
        .collect()
    });
    let (_, stepca) = pair.same(&["renew", "--force", "t.crt", "t.key"]);
    assert_eq!(stepca.code, Some(4), "{}", stepca.stderr);
    // With the certificate itself over mutual TLS.
    pair.same(&[
        "revoke",
        "--cert",
        "m.crt",
        "--key",
        "m.key",
        "--reasonCode",
        "4",
    ]);
    let (_, stepca) = pair.same(&["renew", "--force", "m.crt", "m.key"]);
    assert_eq!(stepca.code, Some(4), "{}", stepca.stderr);
    // Twice: the CA refuses.
    let (_, stepca) = pair.same(&["revoke", "--cert", "m.crt", "--key", "m.key"]);
    assert!(!stepca.ok());
}
