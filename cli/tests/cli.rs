//! The `stepca` command against a real step-ca (run under scripts/with-ca.sh): every
//! command, exit codes, JSON output, key file modes (the batch's kill and resume: tests/batch.rs); X5C tokens from a birth
//! certificate (--x5c-cert, --x5c-key, --x5c-chain, as step takes them) with the rig's X5C
//! provisioner; keys in a SoftHSM2 token named by PKCS#11 URIs wherever a key is taken;
//! and `renew --daemon` with certificates of seconds (renewals in a row with --exec and
//! --signal after each, a CA outage on a CA of the test's own, a certificate that expired
//! while it was not running, SIGHUP and SIGTERM, rekeys), `renew --expires-in`, and
//! `needs-renewal`'s exit codes (step's).

use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[path = "../../tests/common/mod.rs"]
mod common;

struct Env {
    url: String,
    root: String,
    password_file: String,
    dir: PathBuf,
    /// The SoftHSM2 configuration the commands run with, when the test has a token.
    softhsm: Option<PathBuf>,
}

/// The SoftHSM2 module the PKCS#11 URIs name.
const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k}: run under scripts/with-ca.sh"))
}

/// Runs `c` (a helper program), asserts it succeeded, and returns its stdout.
fn run_ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

impl Env {
    fn new(tag: &str) -> Env {
        Env::for_ca(
            tag,
            &var("STEPCA_URL"),
            &var("STEPCA_ROOT"),
            &var("STEPCA_PASSWORD_FILE"),
        )
    }

    /// An environment for the CA at `url` with `root` and the provisioners' password file.
    fn for_ca(tag: &str, url: &str, root: &str, password_file: &str) -> Env {
        let dir = std::env::temp_dir().join(format!("stepca-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Env {
            url: url.into(),
            root: root.into(),
            password_file: password_file.into(),
            dir,
            softhsm: None,
        }
    }

    fn p(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_stepca"));
        // A step path of the test's own: never the CA's (with-ca.sh exports that one).
        c.env("STEPPATH", self.dir.join("steppath"))
            .args(["--ca-url", &self.url, "--root", &self.root])
            .args(args);
        if let Some(conf) = &self.softhsm {
            c.env("SOFTHSM2_CONF", conf);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Runs the command with `--json`, asserts it exits with `code`, and returns what it
    /// said on stderr (also in the JSON on stdout, but for usage errors, which clap reports).
    fn fails(&self, args: &[&str], code: i32) -> String {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        if code != 2 {
            let err: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(err["exit_code"], code, "{err}");
            assert!(stderr.contains(err["error"].as_str().unwrap()), "{stderr}");
        }
        stderr
    }

    /// The X5C provisioner arguments for the birth certificate `cert` and its key `key` (a
    /// file or a PKCS#11 URI).
    fn x5c(&self, cert: &str, key: &str) -> Vec<String> {
        vec![
            "--provisioner".into(),
            var("STEPCA_X5C_PROVISIONER"),
            "--x5c-cert".into(),
            cert.into(),
            "--x5c-key".into(),
            key.into(),
        ]
    }

    /// A birth certificate for the CSR `csr` from the rig's factory CA (or `issuer`,
    /// certificate and unencrypted key), with `extra` flags for `step certificate sign`,
    /// written to `name`; its path.
    fn birth(&self, csr: &str, name: &str, issuer: Option<(&str, &str)>, extra: &[&str]) -> String {
        let (root, key) = (var("STEPCA_FACTORY_ROOT"), var("STEPCA_FACTORY_KEY"));
        let (crt, key) = issuer.unwrap_or((&root, &key));
        let pem = run_ok(
            Command::new("step")
                .args(["certificate", "sign", csr, crt, key])
                .args(extra),
        );
        std::fs::write(self.p(name), pem).unwrap();
        self.p(name)
    }

    fn prov(&self) -> Vec<String> {
        vec![
            "--provisioner".into(),
            "admin".into(),
            "--provisioner-password-file".into(),
            self.password_file.clone(),
        ]
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn mode(path: &str) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn openssl_verify(root: &str, chain: &str) {
    openssl_verify_args(root, chain, &[]);
}

/// [`openssl_verify`] at `at` (UNIX seconds): for a certificate of seconds that may have
/// expired by the time the check runs.
fn openssl_verify_at(root: &str, chain: &str, at: i64) {
    openssl_verify_args(root, chain, &["-attime", &at.to_string()]);
}

fn openssl_verify_args(root: &str, chain: &str, extra: &[&str]) {
    let out = Command::new("openssl")
        .arg("verify")
        .args(extra)
        .args(["-CAfile", root, "-untrusted", chain, chain])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn bootstrap_health_csr_and_inspect() {
    let e = Env::new("basic");
    let fp = String::from_utf8(
        Command::new("step")
            .args(["certificate", "fingerprint", &e.root])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stepca"))
        .args([
            "--json",
            "--ca-url",
            &e.url,
            "--fingerprint",
            fp.trim(),
            "bootstrap",
            "--out",
            &e.p("root.crt"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(e.p("root.crt")).unwrap(),
        std::fs::read(&e.root).unwrap()
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_stepca"))
        .args([
            "--json",
            "--ca-url",
            &e.url,
            "--fingerprint",
            &"ab".repeat(32),
            "bootstrap",
            "--out",
            &e.p("x"),
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(7));
    let err: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(err["exit_code"], 7);

    assert_eq!(e.ok(&["health"])["status"], "ok");
    e.ok(&[
        "csr",
        "--cn",
        "cli.example.com",
        "--san",
        "cli.example.com",
        "--san",
        "10.9.8.7",
        "--key-out",
        &e.p("k.pem"),
        "--out",
        &e.p("c.csr"),
    ]);
    assert_eq!(mode(&e.p("k.pem")), 0o600, "keys are written 0600");
    let v = Command::new("openssl")
        .args(["req", "-verify", "-noout", "-text", "-in", &e.p("c.csr")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&v.stdout);
    assert!(
        v.status.success() && text.contains("DNS:cli.example.com, IP Address:10.9.8.7"),
        "{text}"
    );
    // Usage errors exit 2; bad input 3.
    assert_eq!(
        Command::new(env!("CARGO_BIN_EXE_stepca"))
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        e.run(&["inspect", "--cert", &e.p("missing.pem")])
            .status
            .code(),
        Some(3)
    );
}

#[test]
fn enroll_renew_inspect_revoke() {
    let e = Env::new("life");
    let mut args = vec![
        "enroll",
        "--cn",
        "cli-life.example.com",
        "--san",
        "cli-life.example.com",
        "--key-out",
        "K",
        "--cert-out",
        "C",
        "--lifetime",
        "3600",
    ];
    let (k, c) = (e.p("life.key"), e.p("life.crt"));
    args[6] = &k;
    args[8] = &c;
    let prov = e.prov();
    let mut full: Vec<&str> = args.clone();
    full.extend(prov.iter().map(String::as_str));
    let enrolled = e.ok(&full);
    assert_eq!(enrolled["subject"], "cli-life.example.com");
    openssl_verify(&e.root, &c);
    assert_eq!(mode(&k), 0o600);
    let inspected = e.ok(&["inspect", "--cert", &c]);
    assert_eq!(inspected["serial"], enrolled["serial"]);
    let renewed = e.ok(&["renew", "--cert", &c, "--key", &k]);
    assert_ne!(renewed["serial"], enrolled["serial"]);
    let by_token = e.ok(&["renew", "--cert", &c, "--key", &k, "--token-auth"]);
    assert_ne!(by_token["serial"], renewed["serial"]);
    openssl_verify(&e.root, &c);

    let serial = by_token["serial"].as_str().unwrap().to_string();
    let mut rev = vec!["revoke", "--serial", serial.as_str(), "--reason-code", "1"];
    rev.extend(prov.iter().map(String::as_str));
    e.ok(&rev);
    let after = e.run(&["renew", "--cert", &c, "--key", &k]);
    assert_eq!(
        after.status.code(),
        Some(4),
        "a revoked certificate is refused by the CA"
    );

    // A bad token: the CA's refusal, exit code 4, message on stderr and in JSON.
    let out = e.run(&[
        "--json",
        "enroll",
        "--cn",
        "x.example.com",
        "--key-out",
        &e.p("x.key"),
        "--cert-out",
        &e.p("x.crt"),
        "--token",
        "a.b.c",
    ]);
    assert_eq!(out.status.code(), Some(4));
    let err: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(err["error"].as_str().unwrap().contains("401"), "{err}");
    // Nothing written: the new key stays in memory until the CA has issued.
    assert!(!Path::new(&e.p("x.crt")).exists());
    assert!(!Path::new(&e.p("x.key")).exists());

    // Revoke with the certificate itself.
    let (k2, c2) = (e.p("two.key"), e.p("two.crt"));
    let mut two = vec![
        "enroll",
        "--cn",
        "cli-two.example.com",
        "--key-out",
        k2.as_str(),
        "--cert-out",
        c2.as_str(),
    ];
    two.extend(prov.iter().map(String::as_str));
    e.ok(&two);
    e.ok(&["revoke", "--cert", &c2, "--key", &k2]);
}

#[test]
fn renew_loop_renews_about_two_thirds_in() {
    let e = Env::new("loop");
    let (k, c) = (e.p("l.key"), e.p("l.crt"));
    let mut args = vec![
        "enroll",
        "--cn",
        "cli-loop.example.com",
        "--key-out",
        k.as_str(),
        "--cert-out",
        c.as_str(),
        "--lifetime",
        "9",
    ];
    let prov = e.prov();
    args.extend(prov.iter().map(String::as_str));
    let enrolled = e.ok(&args);
    let first = enrolled["serial"].as_str().unwrap().to_string();
    let na1 = enrolled["not_after"].as_i64().unwrap();
    let spawned = now_unix();
    let mut child = e
        .cmd(&["renew", "--cert", &c, "--key", &k, "--loop"])
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut renewed = None;
    while start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(200));
        let now = e.ok(&["inspect", "--cert", &c]);
        if now["serial"].as_str().unwrap() != first {
            renewed = Some(now);
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let now = renewed.expect("the loop renewed the certificate");
    // When step-ca signed the renewal: it back-dates notBefore by a minute.
    let (nb2, na2) = (
        now["not_before"].as_i64().unwrap(),
        now["not_after"].as_i64().unwrap(),
    );
    let renewed_at = nb2 + 60;
    // step-ca back-dates a minute, so a 9 s certificate lives 69 s and is past two thirds
    // at issue: the loop, started at `spawned` or later, renews after half of what was left
    // then (whole seconds: one less), not at once, and before the certificate expires.
    assert!(
        renewed_at >= spawned + (na1 - spawned) / 2 - 1 && renewed_at <= na1,
        "renewed at {renewed_at}, spawned {spawned}, expiring {na1}"
    );
    // And the loop does not spin: the renewed certificate, just issued, is not due before
    // half of what it had left when issued (whenever this check runs).
    let due = now["renew_after"].as_i64().unwrap();
    assert!(
        due >= renewed_at + (na2 - renewed_at) / 2 - 1,
        "due {due}, renewed at {renewed_at}, expiring {na2}"
    );
}

/// `a` followed by `b`.
fn with<'a>(a: &[&'a str], b: &'a [String]) -> Vec<&'a str> {
    let mut all = a.to_vec();
    all.extend(b.iter().map(String::as_str));
    all
}

#[test]
fn x5c_enroll_revoke_and_batch_with_a_birth_certificate() {
    let e = Env::new("x5c");
    // The device's birth key and certificate, as a factory would have made them.
    let (bkey, bcsr) = (e.p("idevid.key"), e.p("idevid.csr"));
    e.ok(&[
        "csr",
        "--cn",
        "SN-CLI-0001",
        "--key-out",
        &bkey,
        "--out",
        &bcsr,
    ]);
    let birth = e.birth(&bcsr, "idevid.crt", None, &[]);
    let x5c = e.x5c(&birth, &bkey);

    // The birth key signs the token; the operational key is a new one.
    let (k, c) = (e.p("op.key"), e.p("op.crt"));
    let base = [
        "enroll",
        "--cn",
        "x5c-op.example.com",
        "--san",
        "x5c-op.example.com",
        "--key-out",
        &k,
        "--cert-out",
        &c,
    ];
    let enrolled = e.ok(&with(&base, &x5c));
    assert_eq!(enrolled["subject"], "x5c-op.example.com");
    openssl_verify(&e.root, &c);
    let born = e.ok(&["inspect", "--cert", &birth]);
    assert!(
        enrolled["not_after"].as_i64() <= born["not_after"].as_i64(),
        "step-ca ends it no later than the birth certificate: {enrolled} {born}"
    );
    let renewed = e.ok(&["renew", "--cert", &c, "--key", &k]);

    // Revoke by serial with an X5C revoke token; the certificate renews no more.
    let serial = renewed["serial"].as_str().unwrap().to_string();
    e.ok(&with(&["revoke", "--serial", &serial], &x5c));
    e.fails(&["renew", "--cert", &c, "--key", &k], 4);

    // An encrypted birth key file, opened with --password-file as step does.
    let (enc, pw) = (e.p("idevid-enc.key"), e.p("idevid.pw"));
    run_ok(Command::new("openssl").args([
        "pkcs8",
        "-topk8",
        "-in",
        &bkey,
        "-out",
        &enc,
        "-passout",
        "pass:factory secret",
    ]));
    std::fs::write(&pw, "factory secret\n").unwrap();
    let x5c_enc = e.x5c(&birth, &enc);
    let (k2, c2) = (e.p("op2.key"), e.p("op2.crt"));
    let base = [
        "enroll",
        "--cn",
        "x5c-op2.example.com",
        "--key-out",
        &k2,
        "--cert-out",
        &c2,
    ];
    let mut args = with(&base, &x5c_enc);
    args.extend(["--password-file", pw.as_str()]);
    e.ok(&args);
    openssl_verify(&e.root, &c2);
    // As in step, --password-file stood in for --provisioner-password-file, so the new key
    // was written unencrypted.
    assert!(
        std::fs::read_to_string(&k2)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    let (k3, c3) = (e.p("op3.key"), e.p("op3.crt"));
    let base = [
        "enroll",
        "--cn",
        "x5c-op3.example.com",
        "--key-out",
        &k3,
        "--cert-out",
        &c3,
    ];
    let said = e.fails(&with(&base, &x5c_enc), 6);
    assert!(said.contains("--x5c-key: passphrase"), "{said}");
    assert!(!Path::new(&k3).exists() && !Path::new(&c3).exists());
    // With step's first choice, --provisioner-password-file; a wrong one is named.
    let mut args = with(&base, &x5c_enc);
    args.extend(["--provisioner-password-file", e.password_file.as_str()]);
    let said = e.fails(&args, 6);
    assert!(
        said.contains("--x5c-key: passphrase: wrong passphrase")
            && said.contains("(from --provisioner-password-file)"),
        "{said}"
    );
    let mut args = with(&base, &x5c_enc);
    args.extend(["--provisioner-password-file", pw.as_str()]);
    e.ok(&args);

    // A batch: one X5C token per device, from the same birth certificate.
    let mut manifest = String::from("name,sans\n");
    for i in 0..3 {
        manifest.push_str(&format!("x5c-dev{i},x5c-dev{i}.example.com\n"));
    }
    std::fs::write(e.p("devices.csv"), manifest).unwrap();
    let (manifest, out_dir) = (e.p("devices.csv"), e.p("out"));
    let summary = e.ok(&with(
        &["batch", "--manifest", &manifest, "--out-dir", &out_dir],
        &x5c,
    ));
    assert_eq!(
        (summary["enrolled"].as_u64(), summary["failed"].as_u64()),
        (Some(3), Some(0)),
        "{summary}"
    );
    openssl_verify(&e.root, &format!("{out_dir}/x5c-dev2.crt"));
}

#[test]
fn x5c_chain_carries_the_factory_intermediates() {
    let e = Env::new("x5c-chain");
    // A factory intermediate under the rig's factory root (which allows one), and a birth
    // certificate from it: the CA trusts the root only, so the token must carry it.
    let (root, root_key) = (var("STEPCA_FACTORY_ROOT"), var("STEPCA_FACTORY_KEY"));
    let (int, int_key) = (e.p("factory-int.crt"), e.p("factory-int.key"));
    run_ok(Command::new("step").args([
        "certificate",
        "create",
        "Factory Intermediate CA",
        &int,
        &int_key,
        "--profile",
        "intermediate-ca",
        "--ca",
        &root,
        "--ca-key",
        &root_key,
        "--no-password",
        "--insecure",
    ]));
    let (bkey, bcsr) = (e.p("idevid.key"), e.p("idevid.csr"));
    e.ok(&[
        "csr",
        "--cn",
        "SN-CLI-CHAIN",
        "--key-out",
        &bkey,
        "--out",
        &bcsr,
    ]);
    let birth = e.birth(&bcsr, "idevid.crt", Some((&int, &int_key)), &[]);
    let enroll = |tag: &str, cert: &str, extra: &[&str]| {
        let (k, c) = (e.p(&format!("{tag}.key")), e.p(&format!("{tag}.crt")));
        let cn = format!("x5c-{tag}.example.com");
        let x5c = e.x5c(cert, &bkey);
        let mut args = with(
            &["enroll", "--cn", &cn, "--key-out", &k, "--cert-out", &c],
            &x5c,
        );
        args.extend_from_slice(extra);
        let out = e.run(&args);
        if out.status.success() {
            openssl_verify(&e.root, &c);
        }
        out.status.code()
    };
    // Without the intermediate step-ca cannot build the path to the factory root.
    assert_eq!(enroll("none", &birth, &[]), Some(4));
    // With it, appended after the birth certificate; --x5c-chain repeats (here the root
    // too, as a factory's chain files often have it).
    assert_eq!(enroll("int", &birth, &["--x5c-chain", &int]), Some(0));
    assert_eq!(
        enroll(
            "int-root",
            &birth,
            &["--x5c-chain", &int, "--x5c-chain", &root]
        ),
        Some(0)
    );
    // --x5c-cert may hold the chain itself.
    let bundle = e.p("idevid-bundle.crt");
    let pem: Vec<String> = [&birth, &int]
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    std::fs::write(&bundle, pem.concat()).unwrap();
    assert_eq!(enroll("bundle", &bundle, &[]), Some(0));
    // A chain file that holds no certificate is named.
    let said = e.fails(
        &with(
            &[
                "enroll",
                "--cn",
                "x",
                "--key-out",
                &e.p("x.key"),
                "--cert-out",
                &e.p("x.crt"),
                "--x5c-chain",
                &bkey,
            ],
            &e.x5c(&birth, &bkey),
        ),
        3,
    );
    assert!(said.contains(&format!("--x5c-chain {bkey}: ")), "{said}");
}

#[test]
fn x5c_refusals_bad_uris_and_conflicting_token_flags() {
    let e = Env::new("x5c-errors");
    let key_out = e.p("op.key");
    let cert_out = e.p("op.crt");
    let enroll = |extra: &[String]| -> Vec<String> {
        let mut v: Vec<String> = [
            "enroll",
            "--cn",
            "x5c-refused.example.com",
            "--key-out",
            &key_out,
            "--cert-out",
            &cert_out,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend_from_slice(extra);
        v
    };
    let fails = |args: Vec<String>, code: i32| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        e.fails(&refs, code)
    };

    // A birth certificate without clientAuth: the library's refusal, before any request.
    let (bkey, bcsr) = (e.p("idevid.key"), e.p("idevid.csr"));
    e.ok(&[
        "csr",
        "--cn",
        "SN-CLI-BAD",
        "--key-out",
        &bkey,
        "--out",
        &bcsr,
    ]);
    let tpl = e.p("server-only.tpl");
    std::fs::write(
        &tpl,
        r#"{"subject": {{ toJson .Subject }}, "keyUsage": ["digitalSignature"], "extKeyUsage": ["serverAuth"]}"#,
    )
    .unwrap();
    let server_only = e.birth(&bcsr, "server-only.crt", None, &["--template", &tpl]);
    let said = fails(enroll(&e.x5c(&server_only, &bkey)), 3);
    assert!(
        said.contains(
            "--x5c-cert: factory: the certificate has an extendedKeyUsage without clientAuth"
        ),
        "{said}"
    );
    assert!(!Path::new(&cert_out).exists());

    // A key that is not the birth certificate's.
    let birth = e.birth(&bcsr, "idevid.crt", None, &[]);
    let (other, other_csr) = (e.p("other.key"), e.p("other.csr"));
    e.ok(&[
        "csr",
        "--cn",
        "other",
        "--key-out",
        &other,
        "--out",
        &other_csr,
    ]);
    let said = fails(enroll(&e.x5c(&birth, &other)), 3);
    assert!(
        said.contains("--x5c-key: ") && said.contains("does not match"),
        "{said}"
    );

    // Bad PKCS#11 URIs: the flag and the attribute are named, before any token is opened.
    let said = fails(
        enroll(&e.x5c(
            &birth,
            &format!("pkcs11:object=idevid?module-path={MODULE}&pin-value=1234"),
        )),
        3,
    );
    assert!(said.contains("--x5c-key: uri: needs token="), "{said}");
    let said = e.fails(
        &[
            "renew",
            "--cert",
            &birth,
            "--key",
            "pkcs11:token=t;object=k?pin-value=1234",
        ],
        3,
    );
    assert!(said.contains("--key: uri: needs module-path="), "{said}");
    let both = format!("pkcs11:token=t;object=k?module-path={MODULE}&pin-value=1&pin-source=/p");
    let said = e.fails(
        &["csr", "--cn", "x", "--key", &both, "--out", &e.p("x.csr")],
        3,
    );
    assert!(
        said.contains("--key: uri: has both pin-value and pin-source"),
        "{said}"
    );
    // --key-out is for generated keys: a token's key is never written (a usage error).
    let uri = format!("pkcs11:token=t;object=k?module-path={MODULE}&pin-value=1234");
    let said = e.fails(
        &[
            "enroll",
            "--cn",
            "x",
            "--key",
            &uri,
            "--key-out",
            &e.p("k.pem"),
            "--cert-out",
            &e.p("c.pem"),
            "--token",
            "a.b.c",
        ],
        2,
    );
    assert!(said.contains("--key-out"), "{said}");
    // The PIN of a token key comes from its URI, not a password file.
    let mut args = enroll(&e.x5c(&birth, &uri));
    args.extend([
        "--provisioner-password-file".into(),
        e.password_file.clone(),
    ]);
    let said = fails(args, 3);
    assert!(
        said.contains("--provisioner-password-file: ") && said.contains("--x5c-key"),
        "{said}"
    );

    // Conflicting or incomplete token flags: usage errors naming the flags.
    let x5c = e.x5c(&birth, &bkey);
    for (extra, names) in [
        (
            [vec!["--token".to_string(), "a.b.c".into()], x5c.clone()].concat(),
            vec!["--token", "--x5c-cert"],
        ),
        (
            [vec!["--token-file".to_string(), e.p("t")], e.prov()].concat(),
            vec!["--token-file", "--provisioner"],
        ),
        (
            vec![
                "--token".into(),
                "a.b.c".into(),
                "--token-file".into(),
                e.p("t"),
            ],
            vec!["--token", "--token-file"],
        ),
        (
            vec![
                "--provisioner".into(),
                "factory".into(),
                "--x5c-cert".into(),
                birth.clone(),
            ],
            vec!["--x5c-key"],
        ),
        (vec!["--x5c-key".into(), bkey.clone()], vec!["--x5c-cert"]),
        (
            vec![
                "--x5c-cert".into(),
                birth.clone(),
                "--x5c-key".into(),
                bkey.clone(),
            ],
            vec!["--provisioner"],
        ),
        (
            vec!["--x5c-chain".into(), birth.clone()],
            vec!["--x5c-cert"],
        ),
        (
            vec![
                "--provisioner-password-file".into(),
                e.password_file.clone(),
            ],
            vec!["--provisioner"],
        ),
    ] {
        let said = fails(enroll(&extra), 2);
        for name in names {
            assert!(said.contains(name), "{extra:?}: {said}");
        }
    }
    // Revoking with the certificate itself takes no token.
    let said = e.fails(
        &with(&["revoke", "--cert", &birth, "--key", &bkey], &x5c),
        2,
    );
    assert!(
        said.contains("--cert") && said.contains("--provisioner"),
        "{said}"
    );
    // A provisioner without its credentials: no token (exit 6, as before).
    let said = fails(enroll(&["--provisioner".into(), "factory".into()]), 6);
    assert!(
        said.contains("--x5c-cert") && said.contains("--provisioner-password-file"),
        "{said}"
    );
    // A batch needs a provisioner, JWK or X5C.
    let said = e.fails(
        &[
            "batch",
            "--manifest",
            &e.p("m.csv"),
            "--out-dir",
            &e.p("out"),
            "--token",
            "a.b.c",
        ],
        3,
    );
    assert!(said.contains("--x5c-cert"), "{said}");
}

#[test]
fn keys_in_a_pkcs11_token_by_uri() {
    let mut e = Env::new("pkcs11");
    std::fs::create_dir_all(e.p("tokens")).unwrap();
    let conf = e.dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\n",
            e.p("tokens")
        ),
    )
    .unwrap();
    // Only the child processes see this token: the test process never loads the module,
    // since setting SOFTHSM2_CONF here, while other tests' threads run, would be unsound.
    // So keys go into the token with softhsm2-util --import, not Pkcs11Key::generate.
    e.softhsm = Some(conf.clone());
    let softhsm = |args: &[&str]| {
        run_ok(
            Command::new("softhsm2-util")
                .env("SOFTHSM2_CONF", &conf)
                .args(args),
        )
    };
    softhsm(&[
        "--init-token",
        "--free",
        "--label",
        "stepca-cli",
        "--pin",
        "1234",
        "--so-pin",
        "5678",
    ]);
    let pin = e.p("pin.txt");
    std::fs::write(&pin, "1234\n").unwrap();
    let uri = |label: &str| {
        format!("pkcs11:token=stepca-cli;object={label}?module-path={MODULE}&pin-source=file:{pin}")
    };
    // A key put into the token, its file then deleted: from there on only the token has
    // it. Returns its public key (PEM).
    let import = |label: &str, id: &str| -> String {
        let (k, csr) = (
            e.p(&format!("{label}.tmp.key")),
            e.p(&format!("{label}.tmp.csr")),
        );
        e.ok(&["csr", "--cn", label, "--key-out", &k, "--out", &csr]);
        let public = run_ok(Command::new("openssl").args(["pkey", "-in", &k, "-pubout"]));
        softhsm(&[
            "--import",
            &k,
            "--token",
            "stepca-cli",
            "--label",
            label,
            "--id",
            id,
            "--pin",
            "1234",
        ]);
        std::fs::remove_file(&k).unwrap();
        public
    };
    let cert_public = |cert: &str| {
        run_ok(Command::new("openssl").args(["x509", "-in", cert, "-noout", "-pubkey"]))
    };

    // The birth key in the token: it signs the birth CSR and then the X5C tokens.
    import("idevid", "01");
    let idevid = uri("idevid");
    let bcsr = e.p("idevid.csr");
    e.ok(&[
        "csr",
        "--cn",
        "SN-HSM-0001",
        "--key",
        &idevid,
        "--out",
        &bcsr,
    ]);
    let birth = e.birth(&bcsr, "idevid.crt", None, &[]);
    let x5c = e.x5c(&birth, &idevid);
    let (k, c) = (e.p("op.key"), e.p("op.crt"));
    let enrolled = e.ok(&with(
        &[
            "enroll",
            "--cn",
            "hsm-op.example.com",
            "--key-out",
            &k,
            "--cert-out",
            &c,
        ],
        &x5c,
    ));
    openssl_verify(&e.root, &c);
    // And an X5C revoke token.
    let serial = enrolled["serial"].as_str().unwrap().to_string();
    e.ok(&with(&["revoke", "--serial", &serial], &x5c));
    e.fails(&["renew", "--cert", &c, "--key", &k], 4);

    // The operational key in the token: enroll, renew over mutual TLS and by token,
    // revoke with the certificate, all with --key 'pkcs11:...'.
    let public = import("device", "02");
    let device = uri("device");
    let dc = e.p("device.crt");
    let prov = e.prov();
    let enrolled = e.ok(&with(
        &[
            "enroll",
            "--cn",
            "hsm-device.example.com",
            "--key",
            &device,
            "--cert-out",
            &dc,
        ],
        &prov,
    ));
    assert_eq!(cert_public(&dc), public);
    let renewed = e.ok(&["renew", "--cert", &dc, "--key", &device]);
    assert_ne!(renewed["serial"], enrolled["serial"]);
    let by_token = e.ok(&["renew", "--cert", &dc, "--key", &device, "--token-auth"]);
    assert_ne!(by_token["serial"], renewed["serial"]);
    assert_eq!(cert_public(&dc), public);
    openssl_verify(&e.root, &dc);
    e.ok(&["revoke", "--cert", &dc, "--key", &device]);
    e.fails(&["renew", "--cert", &dc, "--key", &device], 4);

    // The token's refusals: a wrong PIN (exit 6, as a password), a key it does not hold.
    let wrong_pin =
        format!("pkcs11:token=stepca-cli;object=device?module-path={MODULE}&pin-value=9999");
    let said = e.fails(&["renew", "--cert", &dc, "--key", &wrong_pin], 6);
    assert!(said.contains("--key: pin: "), "{said}");
    assert!(!said.contains("9999"), "{said}");
    let said = e.fails(&["renew", "--cert", &dc, "--key", &uri("nope")], 3);
    assert!(said.contains("--key: key: no private key"), "{said}");
    // A token key that is not the certificate's.
    let said = e.fails(&["renew", "--cert", &dc, "--key", &idevid], 3);
    assert!(said.contains("--key: signer: does not match"), "{said}");
}

// --- renew --daemon, renew --expires-in, needs-renewal ---------------------------------

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Checks `cond` every 50 ms until it holds, or panics saying `what` after `limit`.
fn poll(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < end, "no {what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The lines of a file, none if it does not exist (yet).
fn file_lines(path: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

impl Env {
    /// Enrolls `cn` with a new key written to `key`, the chain to `cert`, living `lifetime`
    /// seconds (step-ca back-dates notBefore a minute more); the JSON description.
    fn enroll(&self, cn: &str, key: &str, cert: &str, lifetime: u64) -> serde_json::Value {
        let life = lifetime.to_string();
        let prov = self.prov();
        self.ok(&with(
            &[
                "enroll",
                "--cn",
                cn,
                "--san",
                cn,
                "--key-out",
                key,
                "--cert-out",
                cert,
                "--lifetime",
                &life,
            ],
            &prov,
        ))
    }

    /// The serial and notAfter of the certificate in `cert`.
    fn serial_not_after(&self, cert: &str) -> (String, i64) {
        let v = self.ok(&["inspect", "--cert", cert]);
        (
            v["serial"].as_str().unwrap().to_string(),
            v["not_after"].as_i64().unwrap(),
        )
    }
}

/// A child process killed when the test ends, however it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `stepca renew --daemon ...` in the background, with what it says on stderr, by line.
struct Daemon {
    child: KillOnDrop,
    lines: Arc<(Mutex<Vec<String>>, Condvar)>,
}

impl Daemon {
    fn start(e: &Env, args: &[&str]) -> Daemon {
        let mut child = e
            .cmd(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let seen = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(|l| l.ok())
            {
                seen.0.lock().unwrap().push(line);
                seen.1.notify_all();
            }
        });
        Daemon {
            child: KillOnDrop(child),
            lines,
        }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.0.lock().unwrap().clone()
    }

    /// Waits until `pred` holds of the lines so far and returns them; panics after `limit`
    /// with what the daemon said.
    fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let end = Instant::now() + limit;
        let mut lines = self.lines.0.lock().unwrap();
        while !pred(&lines) {
            let Some(left) = end.checked_duration_since(Instant::now()) else {
                let said = lines.join("\n");
                drop(lines);
                panic!("no {what} within {limit:?}; the daemon said:\n{said}");
            };
            lines = self.lines.1.wait_timeout(lines, left).unwrap().0;
        }
        lines.clone()
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) with plain integers.
        assert_eq!(unsafe { libc::kill(self.child.0.id() as i32, sig) }, 0);
    }

    /// Sends `sig` and waits for the daemon to exit: its status and how long it took.
    fn stop(&mut self, sig: i32) -> (ExitStatus, Duration) {
        let t = Instant::now();
        self.signal(sig);
        loop {
            if let Some(status) = self.child.0.try_wait().unwrap() {
                return (status, t.elapsed());
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the daemon did not stop; it said:\n{}",
                self.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The serials (decimal) of the daemon's `stepca: renewed CERT (serial N, ...)` lines.
fn renewed_serials(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("stepca: renewed "))
        .filter_map(|l| l.split("(serial ").nth(1))
        .map(|l| l.split([',', ')']).next().unwrap().to_string())
        .collect()
}

fn count_starting(lines: &[String], prefix: &str) -> usize {
    lines.iter().filter(|l| l.starts_with(prefix)).count()
}

/// Stops the daemon with `sig` and asserts it exits 0 within a second, saying so.
fn stops_cleanly(d: &mut Daemon, sig: i32) {
    let (status, took) = d.stop(sig);
    let said = d.lines().join("\n");
    assert_eq!(status.code(), Some(0), "{said}");
    assert!(took < Duration::from_secs(1), "stopping took {took:?}");
    assert!(
        said.lines()
            .last()
            .unwrap()
            .starts_with("stepca: stopped (SIG"),
        "{said}"
    );
}

#[test]
fn daemon_renews_in_a_row_running_exec_and_signalling_after_each() {
    let e = Env::new("daemon");
    let (k, c) = (e.p("d.key"), e.p("d.crt"));
    let first = e.enroll("cli-daemon.example.com", &k, &c, 10)["serial"]
        .as_str()
        .unwrap()
        .to_string();
    // The process to signal: a shell noting each SIGHUP, its pid in a file.
    let (hups, ready, pid_file) = (e.p("hups"), e.p("ready"), e.p("helper.pid"));
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(format!(
        "trap 'echo hup >> {hups}' HUP; : > {ready}; while :; do sleep 0.05; done"
    ));
    // A shell cannot trap a signal ignored when it started (POSIX), and a test run under
    // nohup ignores SIGHUP: the helper starts with SIGHUP's default disposition.
    // SAFETY: signal(2) is async-signal-safe, and nothing else runs in the child.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut sh, || {
            libc::signal(libc::SIGHUP, libc::SIG_DFL);
            Ok(())
        });
    }
    let helper = KillOnDrop(sh.spawn().unwrap());
    poll("helper ready", Duration::from_secs(5), || {
        Path::new(&ready).exists()
    });
    std::fs::write(&pid_file, format!("{}\n", helper.0.id())).unwrap();
    // The hook notes the serial of the certificate on disk when it runs.
    let (hook, hooked) = (e.p("hook.sh"), e.p("hooked"));
    std::fs::write(
        &hook,
        "#!/bin/sh\nopenssl x509 -noout -serial -in \"$1\" >> \"$2\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exec = format!("{hook} {c} {hooked}");
    let mut d = Daemon::start(
        &e,
        &[
            "renew",
            "--daemon",
            "--cert",
            &c,
            "--key",
            &k,
            "--exec",
            &exec,
            "--signal",
            "HUP",
            "--pid-file",
            &pid_file,
            "--retry-min",
            "300ms",
            "--retry-max",
            "2s",
        ],
    );
    let lines = d.wait_for("three renewals", Duration::from_secs(60), |l| {
        renewed_serials(l).len() >= 3
    });
    let said = lines.join("\n");
    let renewed: Vec<u128> = renewed_serials(&lines)
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    // The hook ran after each renewal and found that renewal's certificate on disk.
    poll("the third hook", Duration::from_secs(10), || {
        file_lines(&hooked).len() >= 3
    });
    let on_disk: Vec<u128> = file_lines(&hooked)
        .iter()
        .map(|l| u128::from_str_radix(l.strip_prefix("serial=").unwrap(), 16).unwrap())
        .collect();
    assert_eq!(on_disk[..3], renewed[..3], "{said}");
    let mut all = vec![first.parse::<u128>().unwrap()];
    all.extend_from_slice(&renewed[..3]);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 4, "each renewal is a new certificate: {said}");
    // And the helper got a SIGHUP after each.
    poll(
        "three SIGHUPs at the helper",
        Duration::from_secs(10),
        || file_lines(&hups).len() >= 3,
    );
    assert!(
        count_starting(&lines, "stepca: next renewal at ") >= 3,
        "{said}"
    );
    assert!(!said.contains("failed"), "{said}");

    stops_cleanly(&mut d, libc::SIGTERM);
    let last = renewed_serials(&d.lines()).last().unwrap().clone();
    assert_eq!(e.serial_not_after(&c).0, last);
    openssl_verify(&e.root, &c);
    drop(helper);
}

#[test]
fn daemon_survives_a_ca_outage_longer_than_a_renewal_window() {
    let private = common::PrivateCa::start();
    let ca = &private.ca;
    let e = Env::for_ca(
        "outage",
        &ca.url,
        &ca.root.display().to_string(),
        &ca.password_file.display().to_string(),
    );
    let (k, c) = (e.p("o.key"), e.p("o.crt"));
    e.enroll("cli-outage.example.com", &k, &c, 5);
    let mut d = Daemon::start(
        &e,
        &[
            "renew",
            "--daemon",
            "--cert",
            &c,
            "--key",
            &k,
            "--retry-min",
            "300ms",
            "--retry-max",
            "1s",
        ],
    );
    d.wait_for("a first renewal", Duration::from_secs(30), |l| {
        !renewed_serials(l).is_empty()
    });
    // Down from before the next renewal is due until the certificate on disk has expired.
    private.down();
    let before = renewed_serials(&d.lines()).len();
    let (_, not_after) = e.serial_not_after(&c);
    poll("the certificate's expiry", Duration::from_secs(30), || {
        now_unix() > not_after
    });
    let lines = d.wait_for("retries during the outage", Duration::from_secs(10), |l| {
        count_starting(l, "stepca: renewal failed (attempt ") >= 2
    });
    assert_eq!(
        renewed_serials(&lines).len(),
        before,
        "{}",
        lines.join("\n")
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("stepca: renewal failed (attempt 2, retry at ")),
        "{}",
        lines.join("\n")
    );
    private.up();
    // Back: renewed with the certificate-signed token (the certificate has expired, so
    // mutual TLS is out), and the file on disk is valid again.
    let lines = d.wait_for("a renewal after the outage", Duration::from_secs(30), |l| {
        renewed_serials(l).len() > before
    });
    let (serial, not_after) = e.serial_not_after(&c);
    assert_eq!(&serial, renewed_serials(&lines).last().unwrap());
    assert!(not_after > now_unix());
    openssl_verify(&e.root, &c);
    stops_cleanly(&mut d, libc::SIGTERM);
}

#[test]
fn daemon_renews_a_certificate_that_expired_while_it_was_not_running() {
    let e = Env::new("expired");
    let (k, c) = (e.p("x.key"), e.p("x.crt"));
    let not_after = e.enroll("cli-expired.example.com", &k, &c, 5)["not_after"]
        .as_i64()
        .unwrap();
    poll("the certificate's expiry", Duration::from_secs(30), || {
        now_unix() > not_after
    });
    let mut d = Daemon::start(
        &e,
        &[
            "renew",
            "--daemon",
            "--cert",
            &c,
            "--key",
            &k,
            "--retry-min",
            "300ms",
            "--retry-max",
            "1s",
        ],
    );
    let lines = d.wait_for("a renewal", Duration::from_secs(20), |l| {
        !renewed_serials(l).is_empty()
    });
    // With the token, at the first attempt: no failure before it.
    assert!(!lines.join("\n").contains("failed"), "{}", lines.join("\n"));
    let (serial, not_after) = e.serial_not_after(&c);
    assert_eq!(serial, renewed_serials(&lines)[0]);
    assert!(not_after > now_unix());
    openssl_verify(&e.root, &c);
    stops_cleanly(&mut d, libc::SIGINT);
}

/// The time of the last `stepca: next renewal at T` line (RFC 3339, UTC: ordered as text).
fn last_schedule(lines: &[String]) -> Option<String> {
    lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("stepca: next renewal at "))
        .map(str::to_string)
}

#[test]
fn daemon_rereads_its_files_on_sighup_and_stops_on_sigterm_within_a_second() {
    let e = Env::new("hup");
    let (k, c, c2) = (e.p("h.key"), e.p("h.crt"), e.p("h2.crt"));
    e.enroll("cli-hup.example.com", &k, &c, 3600);
    let mut d = Daemon::start(&e, &["renew", "--daemon", "--cert", &c, "--key", &k]);
    let lines = d.wait_for("a schedule", Duration::from_secs(10), |l| {
        last_schedule(l).is_some()
    });
    let first = last_schedule(&lines).unwrap();
    // Another certificate for the same key, living twice as long, put in place of the
    // first; SIGHUP makes the daemon take it and schedule from it.
    let prov = e.prov();
    let second = e.ok(&with(
        &[
            "enroll",
            "--cn",
            "cli-hup.example.com",
            "--key",
            &k,
            "--cert-out",
            &c2,
            "--lifetime",
            "7200",
        ],
        &prov,
    ))["serial"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::rename(&c2, &c).unwrap();
    d.signal(libc::SIGHUP);
    let reloaded = format!("stepca: reloaded {c} (serial {second}, valid until ");
    let lines = d.wait_for(
        "the reload and a new schedule",
        Duration::from_secs(10),
        |l| {
            l.iter()
                .position(|x| x.starts_with(&reloaded))
                .is_some_and(|i| last_schedule(&l[i..]).is_some())
        },
    );
    let rescheduled = last_schedule(&lines).unwrap();
    // Two thirds into 2 h is about 40 min later than two thirds into 1 h.
    assert!(rescheduled > first, "{first} then {rescheduled}");

    // A file that is no certificate: refused, the daemon keeps what it has.
    std::fs::write(&c, "not a certificate").unwrap();
    d.signal(libc::SIGHUP);
    let refused = format!("stepca: SIGHUP: cannot reload, keeping serial {second}: --cert ");
    d.wait_for("the refusal", Duration::from_secs(10), |l| {
        l.iter().any(|x| x.starts_with(&refused))
    });
    assert!(renewed_serials(&d.lines()).is_empty());
    stops_cleanly(&mut d, libc::SIGTERM);
}

#[test]
fn daemon_rekeys_every_n_writing_the_key_and_refuses_a_pkcs11_key() {
    let e = Env::new("rekey");
    let (k, c) = (e.p("r.key"), e.p("r.crt"));
    e.enroll("cli-rekey.example.com", &k, &c, 5);
    let old_key = std::fs::read(&k).unwrap();
    let mut d = Daemon::start(
        &e,
        &[
            "renew",
            "--daemon",
            "--cert",
            &c,
            "--key",
            &k,
            "--rekey-every",
            "1",
        ],
    );
    let written = format!(", new key written to {k})");
    let lines = d.wait_for("a rekey", Duration::from_secs(30), |l| {
        l.iter()
            .any(|x| x.starts_with("stepca: renewed ") && x.ends_with(&written))
    });
    stops_cleanly(&mut d, libc::SIGTERM);
    let (serial, not_after) = e.serial_not_after(&c);
    assert_eq!(&serial, renewed_serials(&lines).last().unwrap());
    assert_ne!(std::fs::read(&k).unwrap(), old_key);
    assert_eq!(mode(&k), 0o600);
    let pubkey = |args: &[&str]| run_ok(Command::new("openssl").args(args));
    assert_eq!(
        pubkey(&["x509", "-in", &c, "-noout", "-pubkey"]),
        pubkey(&["pkey", "-in", &k, "-pubout"]),
        "the key on disk is the new certificate's"
    );
    // A 5 s certificate may have expired by now: verified at its last second.
    openssl_verify_at(&e.root, &c, not_after - 1);

    let uri = format!("pkcs11:token=t;object=o?module-path={MODULE}&pin-value=1234");
    let said = e.fails(
        &[
            "renew",
            "--daemon",
            "--cert",
            &c,
            "--key",
            &uri,
            "--rekey-every",
            "2",
        ],
        3,
    );
    assert!(said.contains("--rekey-every: a pkcs11: --key"), "{said}");
    assert!(!said.contains("1234"), "{said}");
    // Without --daemon there is nothing to rekey every so often.
    e.fails(
        &["renew", "--cert", &c, "--key", &k, "--rekey-every", "2"],
        2,
    );
}

#[test]
fn renew_once_with_expires_in_and_hooks_as_step() {
    let e = Env::new("once");
    let (k, c) = (e.p("o.key"), e.p("o.crt"));
    let first = e.enroll("cli-once.example.com", &k, &c, 3600)["serial"]
        .as_str()
        .unwrap()
        .to_string();
    // An hour left, more than 30 minutes: not renewed, and no hook runs.
    let (hook, ran) = (e.p("hook.sh"), e.p("ran"));
    std::fs::write(&hook, "#!/bin/sh\necho ran >> \"$1\"\n").unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exec = format!("{hook} {ran}");
    let out = e.ok(&[
        "renew",
        "--cert",
        &c,
        "--key",
        &k,
        "--expires-in",
        "30m",
        "--exec",
        &exec,
    ]);
    assert_eq!(out["renewed"], false, "{out}");
    assert!(
        out["expires_in"].as_str().unwrap().starts_with("1h0m"),
        "{out}"
    );
    assert_eq!(e.serial_not_after(&c).0, first);
    assert!(file_lines(&ran).is_empty());
    // Within an hour of expiry: renewed, then the hook runs.
    let out = e.ok(&[
        "renew",
        "--cert",
        &c,
        "--key",
        &k,
        "--expires-in",
        "1h",
        "--exec",
        &exec,
        "--force",
    ]);
    assert_ne!(out["serial"], first.as_str());
    assert_eq!(file_lines(&ran), ["ran"]);
    // A hook that fails after the renewal: exit 1, the certificate written all the same.
    let before = e.serial_not_after(&c).0;
    let out = e.run(&["renew", "--cert", &c, "--key", &k, "--exec", "false"]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("but --exec \"false\": exit status: 1"),
        "{said}"
    );
    assert_ne!(e.serial_not_after(&c).0, before);
    // An empty --exec runs nothing (the systemd units pass an unset EXEC as one).
    e.ok(&["renew", "--cert", &c, "--key", &k, "--exec", ""]);
    // step's checks against the validity period (an hour and the minute step-ca
    // back-dates), and of the flags themselves.
    let said = e.fails(
        &["renew", "--cert", &c, "--key", &k, "--expires-in", "2h"],
        3,
    );
    assert!(
        said.contains("--expires-in 2h0m0s: must be within the certificate's validity period (1h"),
        "{said}"
    );
    let daemon = ["renew", "--daemon", "--cert", &c, "--key", &k];
    let said = e.fails(&[&daemon[..], &["--renew-period", "1h5m"]].concat(), 3);
    assert!(
        said.contains("--renew-period 1h5m0s: must be less than"),
        "{said}"
    );
    e.fails(
        &["renew", "--cert", &c, "--key", &k, "--renew-period", "1h"],
        2,
    );
    e.fails(
        &["renew", "--cert", &c, "--key", &k, "--expires-in", "soon"],
        2,
    );
    e.fails(
        &["renew", "--cert", &c, "--key", &k, "--expires-in", "0s"],
        2,
    );
    e.fails(
        &[&daemon[..], &["--expires-in", "1m", "--renew-period", "1m"]].concat(),
        2,
    );
    e.fails(&["renew", "--cert", &c, "--key", &k, "--signal", "USR1"], 2);
    e.fails(&["renew", "--cert", &c, "--key", &k, "--pid", "0"], 2);
    let said = e.fails(
        &[
            "renew",
            "--cert",
            &c,
            "--key",
            &k,
            "--pid-file",
            &e.p("none"),
        ],
        3,
    );
    assert!(said.contains("--pid-file "), "{said}");
}

#[test]
fn needs_renewal_exit_codes_as_step() {
    let e = Env::new("needs");
    let code = |args: &[&str]| {
        let out = e.run(&[&["needs-renewal"], args].concat());
        out.status.code().unwrap()
    };
    let (fresh, due) = (e.p("fresh.crt"), e.p("due.crt"));
    e.enroll("cli-fresh.example.com", &e.p("fresh.key"), &fresh, 3600);
    // Certificates made by step (needs-renewal asks no CA) with a window of their own.
    let self_signed = |name: &str, crt: &str, key: &str, not_before: &str, not_after: &str| {
        run_ok(Command::new("step").args([
            "certificate",
            "create",
            name,
            crt,
            key,
            "--profile",
            "self-signed",
            "--subtle",
            "--no-password",
            "--insecure",
            &format!("--not-before={not_before}"),
            &format!("--not-after={not_after}"),
            "-f",
        ]));
    };
    // 80 of its 100 minutes used: past two thirds and short of 90 % for ten minutes.
    self_signed("due.example", &due, &e.p("due.key"), "-80m", "20m");
    // And one that expired an hour ago.
    let expired = e.p("expired.crt");
    self_signed(
        "expired.example",
        &expired,
        &e.p("expired.key"),
        "-2h",
        "-1h",
    );

    // A fresh certificate (1 h): not due, unless within --expires-in of its end.
    assert_eq!(code(&[&fresh]), 1);
    assert_eq!(code(&[&fresh, "--expires-in", "2h"]), 0);
    assert_eq!(code(&[&fresh, "--expires-in", "30m"]), 1);
    assert_eq!(code(&[&fresh, "--expires-in", "0s"]), 1);
    assert_eq!(code(&[&fresh, "--expires-in", "0%"]), 0);
    let out = e.run(&["--json", "needs-renewal", &fresh]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["needs_renewal"], false);
    // Past two thirds (80 %): due by default and at 50 %, not at 90 %.
    assert_eq!(code(&[&due]), 0);
    assert_eq!(code(&[&due, "--expires-in", "50%"]), 0);
    assert_eq!(code(&[&due, "--expires-in", "90%"]), 1);
    let out = e.run(&["needs-renewal", "--verbose", &due]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "certificate needs renewal\n"
    );
    // Expired: due, also for --expires-in 0s; but not "expired for two hours".
    assert_eq!(code(&[&expired]), 0);
    assert_eq!(code(&[&expired, "--expires-in", "0s"]), 0);
    assert_eq!(code(&[&expired, "--expires-in", "-2h"]), 1);
    // --bundle checks every certificate: a fresh leaf followed by an expired one.
    let bundle = e.p("bundle.crt");
    let text =
        std::fs::read_to_string(&fresh).unwrap() + &std::fs::read_to_string(&expired).unwrap();
    std::fs::write(&bundle, text).unwrap();
    assert_eq!(code(&[&bundle, "--expires-in", "0s"]), 1);
    assert_eq!(code(&[&bundle, "--expires-in", "0s", "--bundle"]), 0);
    // No such file: 2. Anything else wrong: 255, usage errors included (2 would read as
    // "no such file").
    assert_eq!(code(&[&e.p("missing.crt")]), 2);
    let junk = e.p("junk.crt");
    std::fs::write(&junk, "junk").unwrap();
    assert_eq!(code(&[&junk]), 255);
    assert_eq!(code(&[&fresh, "--expires-in", "150%"]), 255);
    assert_eq!(code(&[&fresh, "--expires-in", "soon"]), 255);
    assert_eq!(code(&[&fresh, "--no-such-flag"]), 255);
    assert_eq!(code(&[]), 255);
}

// --- issue 15: defaults.json and STEP_* variables, keys, refusals -----------------------

/// `stepca ARGS` with only the environment given here (no flags for the CA, none of
/// with-ca.sh's STEPCA_* variables unless set in `env`), $STEPPATH = `steppath`.
fn bare(steppath: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stepca"));
    c.env("STEPPATH", steppath)
        .env_remove("STEPCA_URL")
        .env_remove("STEPCA_ROOT")
        .env_remove("STEPCA_FINGERPRINT")
        .stdin(Stdio::null())
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn the_ca_comes_from_flags_then_stepca_then_step_variables_then_defaults_json() {
    let e = Env::new("defaults");
    let fp = var("STEPCA_FINGERPRINT");
    let sp = e.dir.join("steppath");
    let sp_str = sp.to_string_lossy().into_owned();
    let code = |env: &[(&str, &str)], args: &[&str]| bare(&sp, env, args).status.code();
    // Nothing anywhere: no CA URL (exit 3, saying where it may come from).
    let out = bare(&sp, &[], &["health"]);
    assert_eq!(out.status.code(), Some(3));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("STEP_CA_URL") && said.contains("defaults.json"),
        "{said}"
    );
    // bootstrap writes $STEPPATH/certs/root_ca.crt and config/defaults.json (step's
    // format), taking --ca-url and --fingerprint from the environment too.
    let out = bare(
        &sp,
        &[("STEP_CA_URL", &e.url), ("STEP_FINGERPRINT", &fp)],
        &["--json", "bootstrap"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["defaults"], format!("{sp_str}/config/defaults.json"));
    let defaults: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sp.join("config/defaults.json")).unwrap()).unwrap();
    assert_eq!(
        defaults,
        serde_json::json!({"ca-url": e.url, "fingerprint": fp,
                           "root": format!("{sp_str}/certs/root_ca.crt")})
    );
    // Now every command finds the CA with no flag at all.
    assert_eq!(code(&[], &["health"]), Some(0));
    // The order: --ca-url, then STEPCA_URL, then STEP_CA_URL, then defaults.json. A wrong
    // URL where it wins fails (exit 5: nothing listens there); where it loses, nothing.
    let dead = "https://127.0.0.1:9";
    assert_eq!(code(&[("STEP_CA_URL", dead)], &["health"]), Some(5));
    assert_eq!(
        code(
            &[("STEPCA_URL", &e.url), ("STEP_CA_URL", dead)],
            &["health"]
        ),
        Some(0)
    );
    assert_eq!(
        code(
            &[("STEPCA_URL", dead), ("STEP_CA_URL", &e.url)],
            &["health"]
        ),
        Some(5)
    );
    assert_eq!(
        code(&[("STEPCA_URL", dead)], &["--ca-url", &e.url, "health"]),
        Some(0)
    );
    // The root likewise; a root file and a fingerprint from the same place must agree
    // (exit 7 when they do not), and the more explicit of the two wins.
    let other = e.p("other-root.crt");
    std::fs::copy(var("STEPCA_FACTORY_ROOT"), &other).unwrap();
    assert_eq!(code(&[("STEP_ROOT", &other)], &["health"]), Some(5));
    assert_eq!(
        code(
            &[("STEPCA_ROOT", &e.root), ("STEP_ROOT", &other)],
            &["health"]
        ),
        Some(0)
    );
    let wrong_fp = "ab".repeat(32);
    let out = bare(
        &sp,
        &[("STEPCA_ROOT", &e.root), ("STEPCA_FINGERPRINT", &wrong_fp)],
        &["health"],
    );
    assert_eq!(out.status.code(), Some(7));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("holds no certificate with the fingerprint"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        code(
            &[("STEPCA_FINGERPRINT", &wrong_fp)],
            &["--root", &e.root, "health"]
        ),
        Some(0)
    );
    assert_eq!(
        code(&[("STEP_ROOT", &other)], &["--fingerprint", &fp, "health"]),
        Some(0)
    );
    // A broken defaults.json is named (exit 3) when it is needed.
    std::fs::write(sp.join("config/defaults.json"), "{not json").unwrap();
    let out = bare(&sp, &[], &["health"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("config/defaults.json"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        code(
            &[("STEPCA_URL", &e.url), ("STEPCA_ROOT", &e.root)],
            &["health"]
        ),
        Some(0)
    );
}

#[test]
fn keys_encrypted_with_password_file_and_refusals_of_flags_that_do_not_go_together() {
    let e = Env::new("keys15");
    let prov = e.prov();
    let (kp, bad) = (e.p("key.pw"), e.p("bad.pw"));
    std::fs::write(&kp, "key secret\n").unwrap();
    std::fs::write(&bad, "wrong\n").unwrap();
    let (k, c) = (e.p("enc.key"), e.p("enc.crt"));
    // A new key encrypted with --password-file (the provisioner's password is
    // --provisioner-password-file), as step encrypts PKCS#8.
    let v = e.ok(&with(
        &[
            "certificate",
            "enc15.example.com",
            &c,
            &k,
            "--password-file",
            &kp,
            "--kty",
            "EC",
            "--curve",
            "P-384",
            "--not-after",
            "2h",
        ],
        &prov,
    ));
    assert_eq!(v["key_encrypted"], true);
    assert!(
        (v["not_after"].as_i64().unwrap() - now_unix() - 7200).abs() <= 60,
        "{v}"
    );
    assert!(
        std::fs::read_to_string(&k)
            .unwrap()
            .starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    );
    assert_eq!(mode(&k), 0o600);
    let public = |args: &[&str]| run_ok(Command::new("openssl").args(args));
    assert_eq!(
        public(&["pkey", "-in", &k, "-passin", "pass:key secret", "-pubout"]),
        public(&["x509", "-in", &c, "-noout", "-pubkey"])
    );
    // Read back: renew and revoke with it, enroll again with it as --key.
    let said = e.fails(&["renew", &c, &k], 6);
    assert!(
        said.contains("--key: passphrase: ") && said.contains("--password-file"),
        "{said}"
    );
    let said = e.fails(&["renew", &c, &k, "--password-file", &bad], 6);
    assert!(said.contains("wrong passphrase"), "{said}");
    e.ok(&["renew", &c, &k, "--password-file", &kp]);
    let c2 = e.p("enc2.crt");
    e.ok(&with(
        &[
            "enroll",
            "--cn",
            "enc15.example.com",
            "--key",
            &k,
            "--cert-out",
            &c2,
            "--password-file",
            &kp,
        ],
        &prov,
    ));
    e.fails(
        &[
            "renew",
            "--daemon",
            &c2,
            &k,
            "--password-file",
            &kp,
            "--rekey-every",
            "1",
        ],
        3,
    );
    e.ok(&["revoke", "--cert", &c2, "--key", &k, "--password-file", &kp]);
    // csr takes it too, and writes an encrypted --key-out with it.
    let (ck, csr) = (e.p("csr.key"), e.p("c.csr"));
    e.ok(&[
        "csr",
        "--cn",
        "x",
        "--key-out",
        &ck,
        "--out",
        &csr,
        "--password-file",
        &kp,
    ]);
    assert!(std::fs::read_to_string(&ck).unwrap().contains("ENCRYPTED"));
    e.ok(&[
        "csr",
        "--cn",
        "x",
        "--key",
        &ck,
        "--out",
        &e.p("c2.csr"),
        "--password-file",
        &kp,
    ]);
    // --no-password needs --insecure, and does not go with --password-file.
    let base = [
        "certificate",
        "np.example.com",
        &e.p("np.crt"),
        &e.p("np.key"),
    ];
    e.fails(&with(&[&base[..], &["--no-password"]].concat(), &prov), 2);
    e.fails(
        &with(
            &[
                &base[..],
                &["--no-password", "--insecure", "--password-file", &kp],
            ]
            .concat(),
            &prov,
        ),
        2,
    );
    let v = e.ok(&with(
        &[&base[..], &["--no-password", "--insecure"]].concat(),
        &prov,
    ));
    assert_eq!(v["key_encrypted"], false);

    // Flags that do not go together: usage errors (exit 2), nothing written.
    let (xk, xc) = (e.p("x.key"), e.p("x.crt"));
    for extra in [
        vec!["--key", k.as_str(), "--key-out", xk.as_str()],
        vec!["--key", k.as_str(), xk.as_str()],
        vec!["--key-out", xk.as_str(), xk.as_str()],
        vec!["--lifetime", "60", "--not-after", "1h"],
        vec!["--kty", "ec-p256", "--curve", "P-384"],
        vec!["--size", "2048"],
        vec!["--cn", "y.example.com"],
    ] {
        let args = with(
            &[&["certificate", "x15.example.com", xc.as_str()][..], &extra].concat(),
            &prov,
        );
        e.fails(&args, 2);
        assert!(
            !Path::new(&xk).exists() && !Path::new(&xc).exists(),
            "{extra:?}"
        );
    }
    // A subject that is no valid SAN without --san (exit 3), as --san refuses it.
    let said = e.fails(&with(&["certificate", "x y", &xc, &xk], &prov), 3);
    assert!(said.contains("--san"), "{said}");
    let said = e.fails(
        &with(&["certificate", "x15", &xc, &xk, "--san", "x y"], &prov),
        3,
    );
    assert!(said.contains("not a valid DNS name"), "{said}");
    // A wrong provisioner password: no key left behind.
    let said = e.fails(
        &[
            "certificate",
            "x15.example.com",
            &xc,
            &xk,
            "--provisioner",
            "admin",
            "--provisioner-password-file",
            &bad,
        ],
        6,
    );
    assert!(
        said.contains("--provisioner-password-file: wrong password"),
        "{said}"
    );
    assert!(!Path::new(&xk).exists() && !Path::new(&xc).exists());
    // A certificate that cannot be written (its directory does not exist): exit 3, and the
    // new key is removed again.
    let nowhere = e.p("no-such-dir/x.crt");
    let said = e.fails(
        &with(&["certificate", "x15.example.com", &nowhere, &xk], &prov),
        3,
    );
    assert!(said.contains("no-such-dir/x.crt"), "{said}");
    assert!(!Path::new(&xk).exists());
    // revoke: a serial and the certificate itself is a usage error saying why.
    let said = e.fails(&["revoke", "--serial", "1", "--cert", &c, "--key", &k], 2);
    assert!(said.contains("not both"), "{said}");
    let said = e.fails(&["revoke", "1", "--cert", &c, "--key", &k], 2);
    assert!(said.contains("not both"), "{said}");
    e.fails(&["revoke", "--cert", &c], 2);
    e.fails(&["revoke"], 2);
}
