//! Key loading and generation, checked against keys written by openssl and the step CLI.

mod common;

use common::{TempDir, openssl_req_text, run, run_stdin};
use stepca::{CsrRequest, ErrorKind, KeyAlgorithm, KeyType, PrivateKey};

const PASS: &str = "correct horse";

/// A CSR from `key`, checked by openssl; returns the public key openssl reads from it.
fn csr_public_key(key: &PrivateKey) -> String {
    let mut req = CsrRequest::new();
    req.subject("CN", "key-test").unwrap();
    let csr = req.build(key).unwrap();
    openssl_req_text(csr.to_pem().as_bytes(), false);
    let (ok, pubkey) = run_stdin(
        "openssl",
        &["req", "-pubkey", "-noout"],
        csr.to_pem().as_bytes(),
    );
    assert!(ok, "{pubkey}");
    pubkey
}

/// The public key openssl derives from a key file.
fn openssl_public_key(path: &str, der: bool, pass: Option<&str>) -> String {
    let mut args = vec!["pkey", "-in", path, "-pubout"];
    if der {
        args.extend(["-inform", "DER"]);
    }
    let passin = pass.map(|p| format!("pass:{p}"));
    if let Some(p) = &passin {
        args.extend(["-passin", p]);
    }
    run("openssl", &args)
}

struct Case {
    name: &'static str,
    /// Shell commands; `$K` is the output file.
    script: String,
    der: bool,
    pass: bool,
    alg: KeyAlgorithm,
    bits: usize,
}

fn case(
    name: &'static str,
    script: &str,
    der: bool,
    pass: bool,
    alg: KeyAlgorithm,
    bits: usize,
) -> Case {
    Case {
        name,
        script: script.to_string(),
        der,
        pass,
        alg,
        bits,
    }
}

#[test]
fn loads_every_openssl_encoding() {
    use KeyAlgorithm::*;
    let p = format!("'pass:{PASS}'");
    let rsa = "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $B";
    let p256 = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $B";
    let p384 = "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out $B";
    let ed = "openssl genpkey -algorithm ED25519 -out $B";
    let cases = vec![
        case(
            "rsa-pkcs8-pem",
            &format!("{rsa} && cp $B $K"),
            false,
            false,
            Rsa,
            2048,
        ),
        case(
            "rsa-pkcs1-pem",
            &format!("{rsa} && openssl rsa -in $B -traditional -out $K"),
            false,
            false,
            Rsa,
            2048,
        ),
        case(
            "rsa-pkcs8-der",
            &format!("{rsa} && openssl pkey -in $B -outform DER -out $K"),
            true,
            false,
            Rsa,
            2048,
        ),
        case(
            "rsa-pkcs1-der",
            &format!("{rsa} && openssl rsa -in $B -traditional -outform DER -out $K"),
            true,
            false,
            Rsa,
            2048,
        ),
        case(
            "rsa-enc-pkcs8",
            &format!("{rsa} && openssl pkcs8 -topk8 -v2 aes-256-cbc -in $B -passout {p} -out $K"),
            false,
            true,
            Rsa,
            2048,
        ),
        case(
            "rsa-enc-pkcs8-der",
            &format!(
                "{rsa} && openssl pkcs8 -topk8 -v2 aes-128-cbc -in $B -passout {p} -outform DER -out $K"
            ),
            true,
            true,
            Rsa,
            2048,
        ),
        case(
            "rsa-legacy-aes256",
            &format!("{rsa} && openssl rsa -in $B -traditional -aes256 -passout {p} -out $K"),
            false,
            true,
            Rsa,
            2048,
        ),
        case(
            "rsa-3072",
            "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out $K",
            false,
            false,
            Rsa,
            3072,
        ),
        case(
            "rsa-4096-pkcs1",
            "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out $B && openssl rsa -in $B -traditional -out $K",
            false,
            false,
            Rsa,
            4096,
        ),
        case(
            "p256-pkcs8-pem",
            &format!("{p256} && cp $B $K"),
            false,
            false,
            EcP256,
            256,
        ),
        case(
            "p256-sec1-with-params",
            "openssl ecparam -name prime256v1 -genkey -out $K",
            false,
            false,
            EcP256,
            256,
        ),
        case(
            "p256-sec1-noout",
            "openssl ecparam -name prime256v1 -genkey -noout -out $K",
            false,
            false,
            EcP256,
            256,
        ),
        case(
            "p256-sec1-der",
            &format!("{p256} && openssl ec -in $B -outform DER -out $K"),
            true,
            false,
            EcP256,
            256,
        ),
        case(
            "p256-pkcs8-der",
            &format!("{p256} && openssl pkcs8 -topk8 -nocrypt -in $B -outform DER -out $K"),
            true,
            false,
            EcP256,
            256,
        ),
        case(
            "p256-no-public",
            &format!("{p256} && openssl ec -in $B -no_public -out $K"),
            false,
            false,
            EcP256,
            256,
        ),
        case(
            "p256-enc-pkcs8-scrypt",
            &format!("{p256} && openssl pkcs8 -topk8 -scrypt -in $B -passout {p} -out $K"),
            false,
            true,
            EcP256,
            256,
        ),
        case(
            "p256-legacy-aes128",
            &format!("{p256} && openssl ec -in $B -aes128 -passout {p} -out $K"),
            false,
            true,
            EcP256,
            256,
        ),
        case(
            "p384-pkcs8-pem",
            &format!("{p384} && cp $B $K"),
            false,
            false,
            EcP384,
            384,
        ),
        case(
            "p384-sec1-with-params",
            "openssl ecparam -name secp384r1 -genkey -out $K",
            false,
            false,
            EcP384,
            384,
        ),
        case(
            "p384-legacy-aes192",
            &format!("{p384} && openssl ec -in $B -aes192 -passout {p} -out $K"),
            false,
            true,
            EcP384,
            384,
        ),
        case(
            "ed25519-pkcs8-pem",
            &format!("{ed} && cp $B $K"),
            false,
            false,
            Ed25519,
            256,
        ),
        case(
            "ed25519-pkcs8-der",
            &format!("{ed} && openssl pkey -in $B -outform DER -out $K"),
            true,
            false,
            Ed25519,
            256,
        ),
        case(
            "ed25519-enc-pkcs8",
            &format!("{ed} && openssl pkcs8 -topk8 -v2 aes-256-cbc -in $B -passout {p} -out $K"),
            false,
            true,
            Ed25519,
            256,
        ),
    ];
    let dir = TempDir::new("keys");
    for c in cases {
        let k = dir.path(&format!("{}.key", c.name));
        let b = dir.path(&format!("{}.base", c.name));
        let script = c
            .script
            .replace("$K", k.to_str().unwrap())
            .replace("$B", b.to_str().unwrap());
        run("sh", &["-c", &format!("{script} 2>/dev/null")]);
        let data = std::fs::read(&k).unwrap();
        let pass = c.pass.then_some(PASS.as_bytes());
        let key = PrivateKey::load(&data, pass).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(key.algorithm(), c.alg, "{}", c.name);
        assert_eq!(key.bits(), c.bits, "{}", c.name);
        let expected = openssl_public_key(k.to_str().unwrap(), c.der, c.pass.then_some(PASS));
        assert_eq!(
            csr_public_key(&key),
            expected,
            "{}: CSR carries another key",
            c.name
        );
        if c.pass {
            let e = PrivateKey::load(&data, None).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::KeyPassphrase, "{}: {e}", c.name);
            let e = PrivateKey::load(&data, Some(b"wrong passphrase")).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::KeyPassphrase, "{}: {e}", c.name);
            assert!(
                !e.message().contains("wrong passphrase")
                    || e.message().starts_with("passphrase: ")
            );
        }
    }
}

#[test]
fn loads_keys_written_by_step() {
    let dir = TempDir::new("stepkeys");
    let pw = dir.path("pw");
    std::fs::write(&pw, format!("{PASS}\n")).unwrap();
    for (kty, extra, alg) in [
        ("EC", vec!["--crv", "P-256"], KeyAlgorithm::EcP256),
        ("EC", vec!["--crv", "P-384"], KeyAlgorithm::EcP384),
        ("RSA", vec!["--size", "2048"], KeyAlgorithm::Rsa),
        ("OKP", vec!["--crv", "Ed25519"], KeyAlgorithm::Ed25519),
    ] {
        for encrypted in [true, false] {
            let name = format!("{kty}-{}-{encrypted}", extra[1]);
            let (pubf, privf) = (
                dir.path(&format!("{name}.pub")),
                dir.path(&format!("{name}.key")),
            );
            let mut args = vec![
                "crypto",
                "keypair",
                pubf.to_str().unwrap(),
                privf.to_str().unwrap(),
                "--kty",
                kty,
            ];
            args.extend(extra.iter().copied());
            if encrypted {
                args.extend(["--password-file", pw.to_str().unwrap()]);
            } else {
                args.extend(["--no-password", "--insecure"]);
            }
            run("step", &args);
            let data = std::fs::read(&privf).unwrap();
            if encrypted {
                assert!(
                    String::from_utf8_lossy(&data).contains("ENCRYPTED"),
                    "{name}"
                );
                let e = PrivateKey::load(&data, None).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::KeyPassphrase);
            }
            let key = PrivateKey::load(&data, encrypted.then_some(PASS.as_bytes()))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(key.algorithm(), alg, "{name}");
            let expected = run(
                "openssl",
                &["pkey", "-pubin", "-in", pubf.to_str().unwrap(), "-pubout"],
            );
            assert_eq!(csr_public_key(&key), expected, "{name}");
        }
    }
}

#[test]
fn generated_keys_are_valid_pkcs8_for_openssl() {
    for (kt, alg, bits) in [
        (KeyType::Rsa2048, KeyAlgorithm::Rsa, 2048),
        (KeyType::Rsa3072, KeyAlgorithm::Rsa, 3072),
        (KeyType::Rsa4096, KeyAlgorithm::Rsa, 4096),
        (KeyType::EcP256, KeyAlgorithm::EcP256, 256),
        (KeyType::EcP384, KeyAlgorithm::EcP384, 384),
        (KeyType::Ed25519, KeyAlgorithm::Ed25519, 256),
    ] {
        let key = PrivateKey::generate(kt).unwrap();
        assert_eq!((key.algorithm(), key.bits()), (alg, bits), "{kt:?}");
        let pem = key.to_pkcs8_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let (ok, text) = run_stdin("openssl", &["pkey", "-check", "-noout"], pem.as_bytes());
        assert!(ok && text.contains("valid"), "{kt:?}: {text}");
        let (ok, openssl_pub) = run_stdin("openssl", &["pkey", "-pubout"], pem.as_bytes());
        assert!(ok);
        let again = PrivateKey::load(pem.as_bytes(), None).unwrap();
        assert_eq!(csr_public_key(&again), openssl_pub, "{kt:?}");
        assert_eq!(csr_public_key(&key), openssl_pub, "{kt:?}");
    }
}

#[test]
fn encrypted_pkcs8_is_read_back_and_by_openssl_and_step() {
    let dir = TempDir::new("encwrite");
    let pw = dir.path("pw");
    std::fs::write(&pw, format!("{PASS}\n")).unwrap();
    for kt in [
        KeyType::EcP256,
        KeyType::EcP384,
        KeyType::Ed25519,
        KeyType::Rsa2048,
    ] {
        let key = PrivateKey::generate(kt).unwrap();
        let pem = key.to_encrypted_pkcs8_pem(PASS.as_bytes()).unwrap();
        assert!(
            pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"),
            "{kt:?}"
        );
        let e = PrivateKey::load(pem.as_bytes(), None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::KeyPassphrase, "{kt:?}");
        // (Each derivation takes a while in a debug build: these once.)
        if kt == KeyType::EcP256 {
            // Salt and IV are random: the same key encrypts differently each time.
            assert_ne!(*pem, *key.to_encrypted_pkcs8_pem(PASS.as_bytes()).unwrap());
            let e = PrivateKey::load(pem.as_bytes(), Some(b"wrong")).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::KeyPassphrase);
        }
        let again = PrivateKey::load(pem.as_bytes(), Some(PASS.as_bytes())).unwrap();
        assert_eq!(again.to_pkcs8_der(), key.to_pkcs8_der(), "{kt:?}");

        let path = dir.path(&format!("{kt:?}.key"));
        std::fs::write(&path, pem.as_bytes()).unwrap();
        let path = path.to_str().unwrap();
        let (ok, openssl_pub) = run_stdin(
            "openssl",
            &["pkey", "-pubout"],
            key.to_pkcs8_pem().as_bytes(),
        );
        assert!(ok);
        assert_eq!(
            openssl_public_key(path, false, Some(PASS)),
            openssl_pub,
            "{kt:?}"
        );
        // step reads it with its --password-file (step crypto key public).
        let step_pub = run(
            "step",
            &[
                "crypto",
                "key",
                "public",
                path,
                "--password-file",
                pw.to_str().unwrap(),
            ],
        );
        assert_eq!(step_pub, openssl_pub, "{kt:?}");
    }
    let e = PrivateKey::generate(KeyType::EcP256)
        .unwrap()
        .to_encrypted_pkcs8_pem(b"")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn bad_keys_give_clear_errors() {
    let dir = TempDir::new("badkeys");
    let small = dir.path("rsa1024.key");
    run(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            small.to_str().unwrap(),
        ],
    );
    let p521 = dir.path("p521.key");
    run(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-521",
            "-out",
            p521.to_str().unwrap(),
        ],
    );
    let good = PrivateKey::generate(KeyType::EcP256)
        .unwrap()
        .to_pkcs8_pem();
    let truncated = &good.as_bytes()[..good.len() / 2];
    let cert_only = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let relabelled = good.replace("PRIVATE KEY", "RSA PRIVATE KEY");
    let cases: Vec<(&str, Vec<u8>, ErrorKind, &str)> = vec![
        ("empty", vec![], ErrorKind::Key, "empty"),
        (
            "garbage DER",
            vec![0x30, 0x03, 0x02, 0x01, 0x00],
            ErrorKind::Key,
            "not a supported",
        ),
        ("truncated PEM", truncated.to_vec(), ErrorKind::Key, "END"),
        (
            "certificate only",
            cert_only.to_vec(),
            ErrorKind::Key,
            "no private key",
        ),
        (
            "wrong label",
            relabelled.into_bytes(),
            ErrorKind::Key,
            "PKCS#1",
        ),
        (
            "RSA 1024",
            std::fs::read(&small).unwrap(),
            ErrorKind::Key,
            "key:",
        ),
        (
            "P-521",
            std::fs::read(&p521).unwrap(),
            ErrorKind::Key,
            "not a supported",
        ),
        (
            "bad base64",
            b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n".to_vec(),
            ErrorKind::Key,
            "base64",
        ),
    ];
    for (name, data, kind, needle) in cases {
        let e = PrivateKey::load(&data, None).unwrap_err();
        assert_eq!(e.kind(), kind, "{name}: {e}");
        assert!(e.message().starts_with("key: "), "{name}: {e}");
        assert!(e.message().contains(needle), "{name}: {e}");
    }
}

#[test]
fn passphrases_never_appear_in_errors() {
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let dir = TempDir::new("passleak");
    let enc = common::openssl_encrypt_pkcs8(&dir, &key.to_pkcs8_pem(), "right-one");
    let secret = "hunter2-super-secret";
    let e = PrivateKey::load(&std::fs::read(&enc).unwrap(), Some(secret.as_bytes())).unwrap_err();
    assert!(!e.to_string().contains(secret));
    assert!(!format!("{e:?}").contains(secret));
    assert!(!format!("{key:?}").contains(&key.to_pkcs8_pem()[30..60]));
}
