//! `stepca inspect` against `step certificate inspect --format json` (subject, issuer, SANs,
//! serial, validity, key, signature algorithm, fingerprint) for a chain issued by a real
//! step-ca (run under scripts/with-ca.sh) and for certificates made by step and openssl
//! (RSA, Ed25519, P-384, a many-attribute subject, expired, DER); its text output, flags
//! and exit codes. Then `stepca completion bash|zsh|fish` (each script passes its shell's
//! syntax check where that shell is installed, offers every command, and bash's and
//! fish's complete a command name) and the hidden `stepca man` (renders with groff or man
//! without warnings, describes every command).

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{Value, json};

fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k}: run under scripts/with-ca.sh"))
}

/// A scratch directory, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("stepca-inspect-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn p(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stepca(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stepca"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `c`, asserts it succeeded, and returns its stdout.
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

fn stepca_ok(args: &[&str]) -> String {
    run_ok(Command::new(env!("CARGO_BIN_EXE_stepca")).args(args))
}

fn stepca_json(args: &[&str]) -> Value {
    serde_json::from_str(&stepca_ok(args)).unwrap()
}

/// `step certificate inspect --format json` of `path` (an array with `bundle`).
fn step_json(path: &str, bundle: bool) -> Value {
    let mut c = Command::new("step");
    c.args(["certificate", "inspect", "--format", "json", path]);
    if bundle {
        c.arg("--bundle");
    }
    serde_json::from_str(&run_ok(&mut c)).unwrap()
}

/// Asserts that our description of a certificate says what step's does.
fn same_as_step(ours: &Value, step: &Value) {
    let ctx = format!("ours: {ours:#}\nstep: {step:#}");
    assert_eq!(ours["version"], step["version"], "{ctx}");
    assert_eq!(ours["subject_dn"], step["subject_dn"], "{ctx}");
    assert_eq!(ours["issuer_dn"], step["issuer_dn"], "{ctx}");
    assert_eq!(ours["serial"], step["serial_number"], "{ctx}");
    for k in ["start", "end", "length"] {
        assert_eq!(ours["validity"][k], step["validity"][k], "{k}: {ctx}");
    }
    let sans = &step["extensions"]["subject_alt_name"];
    for (o, s) in [
        ("dns_names", "dns_names"),
        ("email_addresses", "email_addresses"),
        ("ip_addresses", "ip_addresses"),
        ("uris", "uniform_resource_identifiers"),
    ] {
        let theirs = sans.get(s).cloned().unwrap_or(json!([]));
        assert_eq!(ours["subject_alt_names"][o], theirs, "{o}: {ctx}");
    }
    assert_eq!(
        ours["signature_algorithm"], step["signature_algorithm"],
        "{ctx}"
    );
    assert_eq!(
        ours["fingerprint_sha256"], step["fingerprint_sha256"],
        "{ctx}"
    );
    let ski = &step["subject_key_info"];
    assert_eq!(
        ours["key"]["algorithm"], ski["key_algorithm"]["name"],
        "{ctx}"
    );
    match ours["key"]["algorithm"].as_str().unwrap() {
        "ECDSA" => {
            assert_eq!(
                ours["key"]["curve"], ski["ecdsa_public_key"]["curve"],
                "{ctx}"
            );
            assert_eq!(
                ours["key"]["bits"], ski["ecdsa_public_key"]["length"],
                "{ctx}"
            );
        }
        "RSA" => assert_eq!(
            ours["key"]["bits"], ski["rsa_public_key"]["length"],
            "{ctx}"
        ),
        _ => {}
    }
}

/// The serial in hex as openssl prints it, lower case.
fn openssl_serial(path: &str) -> String {
    let out = run_ok(Command::new("openssl").args(["x509", "-noout", "-serial", "-in", path]));
    out.trim()
        .trim_start_matches("serial=")
        .trim_start_matches("00")
        .to_lowercase()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn a_chain_from_step_ca_reads_as_step_reads_it() {
    let d = Dir::new("ca");
    let (key, crt) = (d.p("dev.key"), d.p("dev.crt"));
    let (url, root, pw) = (
        var("STEPCA_URL"),
        var("STEPCA_ROOT"),
        var("STEPCA_PASSWORD_FILE"),
    );
    let t0 = now();
    stepca_ok(&[
        "--ca-url",
        &url,
        "--root",
        &root,
        "enroll",
        "--cn",
        "inspect.example.com",
        "--san",
        "inspect.example.com",
        "--san",
        "alt.example.com",
        "--san",
        "10.20.30.40",
        "--san",
        "2001:db8::7",
        "--san",
        "ops@example.com",
        "--san",
        "spiffe://example.com/device/7",
        "--key-out",
        &key,
        "--cert-out",
        &crt,
        "--lifetime",
        "7200",
        "--provisioner",
        &var("STEPCA_PROVISIONER"),
        "--password-file",
        &pw,
    ]);
    let t1 = now();

    let ours = stepca_json(&["inspect", &crt, "--format", "json"]);
    let step = step_json(&crt, false);
    same_as_step(&ours, &step);
    assert_eq!(
        ours["subject_alt_names"]["dns_names"],
        json!(["inspect.example.com", "alt.example.com"])
    );
    assert_eq!(
        ours["subject_alt_names"]["ip_addresses"],
        json!(["10.20.30.40", "2001:db8::7"])
    );
    assert_eq!(
        ours["subject_alt_names"]["email_addresses"],
        json!(["ops@example.com"])
    );
    assert_eq!(
        ours["subject_alt_names"]["uris"],
        json!(["spiffe://example.com/device/7"])
    );
    assert_eq!(ours["issuer_dn"], "CN=libstepca Test CA Intermediate CA");
    assert_eq!(ours["serial_hex"], openssl_serial(&crt));
    assert_eq!(
        ours["key"],
        json!({"algorithm": "ECDSA", "curve": "P-256", "bits": 256})
    );
    assert_eq!(ours["certificates"], 2);

    // The former JSON keys keep their meaning: the commonName, the decimal serial, UNIX
    // seconds.
    assert_eq!(ours["subject"], "inspect.example.com");
    let (nb, na) = (
        ours["not_before"].as_i64().unwrap(),
        ours["not_after"].as_i64().unwrap(),
    );
    assert_eq!(ours["validity"]["length"], na - nb);
    // Two hours from the enrollment, step-ca back-dating a minute from when it signed
    // (the two whole seconds may differ by one).
    assert!((t0 + 7200..=t1 + 7200).contains(&na), "{na} {t0} {t1}");
    assert!((t0 - 60..=t1 - 60).contains(&nb), "{nb} {t0} {t1}");
    // Renew-after: two thirds into the validity, the same on every call (no jitter).
    let renew = ours["renew_after"].as_i64().unwrap();
    assert_eq!(renew, na - (na - nb) / 3);
    let again = stepca_json(&["--json", "inspect", "--cert", &crt]);
    assert_eq!(again["renew_after"], renew);
    let left = again["validity"]["remaining"].as_i64().unwrap();
    assert!((na - now() - left).abs() <= 2, "{left}");
    // --json and --format json describe the same; --cert and CRT name the same file.
    let mut a = again.clone();
    let mut b = ours.clone();
    for v in [&mut a, &mut b] {
        v["validity"]["remaining"] = json!(0);
    }
    assert_eq!(a, b);

    // --bundle: the leaf and the intermediate, as step sees them.
    let ours = stepca_json(&["inspect", "--bundle", "--format", "json", &crt]);
    let step = step_json(&crt, true);
    assert_eq!(ours.as_array().unwrap().len(), 2);
    assert_eq!(step.as_array().unwrap().len(), 2);
    for (o, s) in ours
        .as_array()
        .unwrap()
        .iter()
        .zip(step.as_array().unwrap())
    {
        same_as_step(o, s);
    }
    assert_eq!(
        ours[1]["subject_dn"],
        "CN=libstepca Test CA Intermediate CA"
    );
    assert_eq!(ours[1]["issuer_dn"], "CN=libstepca Test CA Root CA");

    // The text: every field, once per certificate with --bundle.
    let text = stepca_ok(&["inspect", &crt]);
    let leaf = &stepca_json(&["--json", "inspect", &crt]);
    for want in [
        "Subject:             CN=inspect.example.com\n".to_string(),
        "Issuer:              CN=libstepca Test CA Intermediate CA\n".into(),
        "SANs:                DNS: inspect.example.com, alt.example.com\n".into(),
        "                     IP: 10.20.30.40, 2001:db8::7\n".into(),
        "                     Email: ops@example.com\n".into(),
        "                     URI: spiffe://example.com/device/7\n".into(),
        format!(
            "Serial:              0x{} ({})\n",
            leaf["serial_hex"].as_str().unwrap(),
            leaf["serial"].as_str().unwrap()
        ),
        format!(
            "Not before:          {}\n",
            leaf["validity"]["start"].as_str().unwrap()
        ),
        format!(
            "Not after:           {} (",
            leaf["validity"]["end"].as_str().unwrap()
        ),
        format!(
            "Renew after:         {} (in 1h ",
            leaf["validity"]["renew_after"].as_str().unwrap()
        ),
        "two thirds into the validity, without renew --daemon's random jitter)\n".into(),
        "Key:                 ECDSA P-256\n".into(),
        "Signature algorithm: ECDSA-SHA256\n".into(),
        format!(
            "SHA-256 fingerprint: {}\n",
            leaf["fingerprint_sha256"].as_str().unwrap()
        ),
        "The file holds 2 certificates; --bundle shows them all.\n".into(),
    ] {
        assert!(text.contains(&want), "no {want:?} in:\n{text}");
    }
    assert!(
        text.contains(" (1h 59m left)\n") || text.contains(" (2h 0m left)\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Not after:           {}", rfc3339_of(na))),
        "{text}"
    );
    let bundle = stepca_ok(&["inspect", "--bundle", "--cert", &crt]);
    assert!(bundle.starts_with("Certificate 1 of 2:\n"), "{bundle}");
    assert!(
        bundle.contains(
            "\n\nCertificate 2 of 2:\nSubject:             CN=libstepca Test CA Intermediate CA\n"
        ),
        "{bundle}"
    );
    assert!(!bundle.contains("--bundle shows"), "{bundle}");
    // The global --json with --format text: the flag of the command wins.
    let text_again = stepca_ok(&["--json", "inspect", &crt, "--format", "text"]);
    assert!(text_again.starts_with("Subject:"), "{text_again}");
}

/// UNIX seconds as RFC 3339, by `date` (an independent check of ours).
fn rfc3339_of(t: i64) -> String {
    run_ok(Command::new("date").args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%dT%H:%M:%SZ"]))
        .trim()
        .to_string()
}

#[test]
fn keys_names_expiry_and_der_read_as_step_reads_them() {
    let d = Dir::new("kinds");
    let create = |name: &str, extra: &[&str]| -> String {
        let (crt, key) = (d.p(&format!("{name}.crt")), d.p(&format!("{name}.key")));
        run_ok(
            Command::new("step")
                .args(["certificate", "create", name, &crt, &key])
                .args([
                    "--profile",
                    "self-signed",
                    "--subtle",
                    "--no-password",
                    "--insecure",
                ])
                .args(["-f"])
                .args(extra),
        );
        crt
    };
    let rsa = create("rsa.example", &["--kty", "RSA", "--size", "3072"]);
    let ed = create("ed.example", &["--kty", "OKP", "--crv", "Ed25519"]);
    let p384 = create("p384.example", &["--kty", "EC", "--crv", "P-384"]);
    let old = create("old.example", &["--not-before=-3h", "--not-after=-1h"]);
    for (crt, key, sig) in [
        (
            &rsa,
            json!({"algorithm": "RSA", "curve": null, "bits": 3072}),
            "SHA256-RSA",
        ),
        (
            &ed,
            json!({"algorithm": "Ed25519", "curve": null, "bits": 256}),
            "Ed25519",
        ),
        (
            &p384,
            json!({"algorithm": "ECDSA", "curve": "P-384", "bits": 384}),
            "ECDSA-SHA384",
        ),
        (
            &old,
            json!({"algorithm": "ECDSA", "curve": "P-256", "bits": 256}),
            "ECDSA-SHA256",
        ),
    ] {
        let ours = stepca_json(&["inspect", crt, "--format", "json"]);
        same_as_step(&ours, &step_json(crt, false));
        assert_eq!(ours["key"], key, "{crt}");
        assert_eq!(ours["signature_algorithm"]["name"], sig, "{crt}");
        assert_eq!(ours["serial_hex"], openssl_serial(crt), "{crt}");
    }
    let text = stepca_ok(&["inspect", &rsa]);
    assert!(
        text.contains("\nKey:                 RSA 3072 bits\n"),
        "{text}"
    );
    assert!(
        text.contains("\nSANs:                DNS: rsa.example\n"),
        "{text}"
    );
    assert!(stepca_ok(&["inspect", &ed]).contains("\nKey:                 Ed25519\n"));

    // Expired: said so, and overdue for renewal.
    let text = stepca_ok(&["inspect", &old]);
    assert!(
        text.contains(" (EXPIRED 1h 0m ago)\n") || text.contains(" (EXPIRED 59m "),
        "{text}"
    );
    assert!(text.contains("(overdue by 1h 4"), "{text}");
    let v = stepca_json(&["--json", "inspect", &old]);
    assert!(v["validity"]["remaining"].as_i64().unwrap() < -3500, "{v}");

    // A subject of many attributes and an issuer of its own, by openssl; no SANs.
    let (ca_key, ca_crt) = (d.p("ca.key"), d.p("ca.crt"));
    run_ok(Command::new("openssl").args([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &ca_key,
        "-out",
        &ca_crt,
        "-days",
        "30",
        "-subj",
        "/C=DE/O=Example Works/OU=Line 4/CN=Example Factory CA",
    ]));
    let (key, csr, crt) = (d.p("m.key"), d.p("m.csr"), d.p("m.crt"));
    run_ok(Command::new("openssl").args([
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-384",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &csr,
        "-subj",
        "/C=US/ST=California/L=San Francisco/O=Example/OU=Devices/CN=device-42/serialNumber=SN42",
    ]));
    run_ok(Command::new("openssl").args([
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca_crt,
        "-CAkey",
        &ca_key,
        "-set_serial",
        "0x00ff00112233445566778899aabbccddeeff0011",
        "-days",
        "3",
        "-sha384",
        "-out",
        &crt,
    ]));
    let ours = stepca_json(&["inspect", &crt, "--format", "json"]);
    same_as_step(&ours, &step_json(&crt, false));
    assert_eq!(
        ours["subject_dn"],
        "C=US, ST=California, L=San Francisco, O=Example, OU=Devices, CN=device-42, serialNumber=SN42"
    );
    assert_eq!(
        ours["issuer_dn"],
        "C=DE, O=Example Works, OU=Line 4, CN=Example Factory CA"
    );
    assert_eq!(ours["serial_hex"], "ff00112233445566778899aabbccddeeff0011");
    assert_eq!(ours["signature_algorithm"]["name"], "SHA384-RSA");
    assert_eq!(ours["subject_alt_names"]["dns_names"], json!([]));
    assert!(stepca_ok(&["inspect", &crt]).contains("\nSANs:                none\n"));

    // DER: the same certificate, the same description.
    let der = d.p("m.der");
    run_ok(Command::new("openssl").args(["x509", "-in", &crt, "-outform", "DER", "-out", &der]));
    let from_der = stepca_json(&["--json", "inspect", &der]);
    assert_eq!(from_der["fingerprint_sha256"], ours["fingerprint_sha256"]);
    assert_eq!(from_der["subject_dn"], ours["subject_dn"]);
    assert_eq!(from_der["certificates"], 1);
}

#[test]
fn inspect_flags_and_exit_codes() {
    let d = Dir::new("flags");
    let crt = d.p("c.crt");
    run_ok(Command::new("step").args([
        "certificate",
        "create",
        "flags.example",
        &crt,
        &d.p("c.key"),
        "--profile",
        "self-signed",
        "--subtle",
        "--no-password",
        "--insecure",
    ]));
    // CRT as step takes it, or --cert: the same output (but for the time left, which a
    // second boundary between the two calls may change).
    let timeless = |mut v: Value| {
        v["validity"]
            .as_object_mut()
            .unwrap()
            .remove("remaining")
            .unwrap();
        v
    };
    assert_eq!(
        timeless(stepca_json(&["inspect", &crt, "--format", "json"])),
        timeless(stepca_json(&[
            "inspect", "--cert", &crt, "--format", "json"
        ]))
    );
    // Neither, or both: usage (2). A missing file, or one with no certificate: bad input (3).
    assert_eq!(stepca(&["inspect"]).status.code(), Some(2));
    assert_eq!(
        stepca(&["inspect", &crt, "--cert", &crt]).status.code(),
        Some(2)
    );
    assert_eq!(
        stepca(&["inspect", &crt, "--format", "yaml"]).status.code(),
        Some(2)
    );
    assert_eq!(
        stepca(&["inspect", &d.p("missing.crt")]).status.code(),
        Some(3)
    );
    let out = stepca(&["--json", "inspect", &d.p("c.key")]);
    assert_eq!(out.status.code(), Some(3));
    let err: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(err["exit_code"], 3);
    assert!(
        err["error"].as_str().unwrap().contains("not a certificate"),
        "{err}"
    );
}

/// The visible commands, as `stepca --help` lists them (without `help`).
fn commands() -> Vec<String> {
    let help = stepca_ok(&["--help"]);
    let list = help
        .split("Commands:\n")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    let names: Vec<String> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_string)
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    assert!(names.contains(&"inspect".to_string()) && names.contains(&"completion".to_string()));
    assert!(
        !names.contains(&"man".to_string()),
        "man is hidden: {names:?}"
    );
    names
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A check that needs a missing tool is skipped, unless STEPCA_REQUIRE_TOOLS=1 (test.sh sets
/// it after install-deps.sh has installed every tool): then it fails.
fn skip(what: &str) {
    assert!(
        std::env::var("STEPCA_REQUIRE_TOOLS").as_deref() != Ok("1"),
        "STEPCA_REQUIRE_TOOLS=1 but cannot run: {what}"
    );
    eprintln!("SKIPPED: {what}");
}

#[test]
fn completion_scripts_parse_and_offer_every_command() {
    let d = Dir::new("completion");
    let commands = commands();
    for shell in ["bash", "zsh", "fish"] {
        let script = stepca_ok(&["completion", shell]);
        let path = d.p(&format!("stepca.{shell}"));
        std::fs::write(&path, &script).unwrap();
        for c in &commands {
            assert!(script.contains(c.as_str()), "{shell}: no {c}");
        }
        assert!(
            !script.contains("stepca,man)") && !script.contains("\"man\""),
            "{shell}: offers the hidden man"
        );
        if have(shell) {
            run_ok(Command::new(shell).args(["-n", &path]));
        } else {
            skip(&format!("{shell} -n (no {shell} here)"));
        }
    }
    // What they complete: a command name from its start.
    let bash = format!(
        "source {}; COMP_WORDS=(stepca insp); COMP_CWORD=1; _stepca stepca insp stepca; \
         echo \"${{COMPREPLY[@]}}\"",
        d.p("stepca.bash")
    );
    assert_eq!(
        run_ok(Command::new("bash").args(["-c", &bash])).trim(),
        "inspect"
    );
    let bash = format!(
        "source {}; COMP_WORDS=(stepca renew --dae); COMP_CWORD=2; _stepca stepca --dae renew; \
         echo \"${{COMPREPLY[@]}}\"",
        d.p("stepca.bash")
    );
    assert_eq!(
        run_ok(Command::new("bash").args(["-c", &bash])).trim(),
        "--daemon"
    );
    if have("fish") {
        let fish = format!("source {}; complete -C 'stepca comp'", d.p("stepca.fish"));
        let out = run_ok(Command::new("fish").args(["-c", &fish]));
        assert!(out.starts_with("completion\t"), "{out}");
    } else {
        skip("fish completion run (no fish here)");
    }
    assert_eq!(stepca(&["completion", "tcsh"]).status.code(), Some(2));
    assert_eq!(stepca(&["completion"]).status.code(), Some(2));
}

#[test]
fn man_page_renders_and_describes_every_command() {
    let d = Dir::new("man");
    let page = stepca_ok(&["man"]);
    assert!(page.contains("\n.TH STEPCA 1 "), "{page}");
    assert_eq!(page.matches(".ds Aq").count(), 2, "roff's Aq defined once");
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "COMMANDS",
        "\"EXIT STATUS\"",
        "ENVIRONMENT",
    ] {
        assert!(
            page.contains(&format!("\n.SH {section}\n")),
            "no section {section}"
        );
    }
    for c in commands() {
        assert!(
            page.contains(&format!("\n.SS \"stepca {c}\"\n")),
            "no command {c}"
        );
    }
    let path = d.p("stepca.1");
    std::fs::write(&path, &page).unwrap();
    let rendered = if have("groff") {
        let out = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-P-cbou", &path])
            .output()
            .unwrap();
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && warnings.is_empty(),
            "groff: {warnings}"
        );
        String::from_utf8(out.stdout).unwrap()
    } else if have("man") {
        run_ok(
            Command::new("man")
                .args(["-l", &path])
                .env("MANPAGER", "cat"),
        )
    } else {
        skip("rendering the man page (no groff or man here)");
        return;
    };
    // man may still mark bold by overstriking: strip it.
    let mut plain: Vec<char> = Vec::new();
    for ch in rendered.chars() {
        if ch == '\u{8}' {
            plain.pop();
        } else {
            plain.push(ch);
        }
    }
    let plain: String = plain.into_iter().collect();
    for want in [
        "STEPCA(1)",
        "EXIT STATUS",
        "stepca inspect",
        "--bundle",
        "STEPCA_URL",
    ] {
        assert!(
            plain.contains(want),
            "no {want:?} in the rendered page:\n{plain}"
        );
    }
}
