//! CSR building, checked with `openssl req -verify -text` (an independent parser).

mod common;

use common::openssl_req_text;
use stepca::{
    Csr, CsrRequest, ErrorKind, Format, KeyType, KeyUsage, PrivateKey, SanKind, SignatureAlgorithm,
};

/// Extension and attribute lines openssl prints for a CSR, trimmed.
fn lines(text: &str) -> Vec<String> {
    text.lines().map(|l| l.trim().to_string()).collect()
}

#[test]
fn every_field_shows_exactly_as_requested() {
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let mut req = CsrRequest::new();
    req.subject("C", "US").unwrap();
    req.subject("ST", "California").unwrap();
    req.subject("L", "San Francisco").unwrap();
    req.subject("O", "Example Corp").unwrap();
    req.subject("OU", "Devices").unwrap();
    req.subject("emailAddress", "ops@example.com").unwrap();
    req.subject("serialNumber", "SN-0001").unwrap();
    req.subject("1.3.6.1.4.1.99999.1", "custom-rdn").unwrap();
    req.subject("CN", "device-001.example.com").unwrap();
    req.san(SanKind::Dns, "device-001.example.com").unwrap();
    req.san(SanKind::Ip, "192.0.2.10").unwrap();
    req.san(SanKind::Ip, "2001:db8::10").unwrap();
    req.san(SanKind::Email, "device@example.com").unwrap();
    req.san(SanKind::Uri, "spiffe://example.com/device-001")
        .unwrap();
    req.basic_constraints(true, Some(2)).unwrap();
    req.key_usage(KeyUsage::all()).unwrap();
    for eku in [
        "serverAuth",
        "clientAuth",
        "codeSigning",
        "emailProtection",
        "timeStamping",
        "OCSPSigning",
        "1.3.6.1.4.1.311.20.2.2",
    ] {
        req.ext_key_usage(eku).unwrap();
    }
    // subjectKeyIdentifier, as the plugin's CertExtensionSpec allows: OCTET STRING 01 02 03 04.
    req.extension("2.5.29.14", false, &[0x04, 0x04, 1, 2, 3, 4])
        .unwrap();
    req.challenge_password("s3cret-pass").unwrap();
    let csr = req.build(&key).unwrap();

    for (data, der) in [
        (csr.encode(Format::Pem), false),
        (csr.encode(Format::Der), true),
    ] {
        let text = openssl_req_text(&data, der);
        let l = lines(&text);
        let subject = l.iter().find(|x| x.starts_with("Subject:")).unwrap();
        assert_eq!(
            subject,
            // The custom RDN shows as its DER: a UTF8String (0C) of 10 bytes, "custom-rdn".
            "Subject: CN=device-001.example.com,1.3.6.1.4.1.99999.1=#0C0A637573746F6D2D72646E,serialNumber=SN-0001,\
             emailAddress=ops@example.com,OU=Devices,O=Example Corp,L=San Francisco,ST=California,C=US"
        );
        let after = |h: &str| {
            l[l.iter()
                .position(|x| x.starts_with(h))
                .unwrap_or_else(|| panic!("{h} missing: {text}"))
                + 1]
            .clone()
        };
        assert_eq!(
            after("X509v3 Subject Alternative Name"),
            "DNS:device-001.example.com, IP Address:192.0.2.10, IP Address:2001:DB8:0:0:0:0:0:10, \
             email:device@example.com, URI:spiffe://example.com/device-001"
        );
        assert_eq!(
            after("X509v3 Basic Constraints: critical"),
            "CA:TRUE, pathlen:2"
        );
        assert_eq!(
            after("X509v3 Key Usage: critical"),
            "Digital Signature, Non Repudiation, Key Encipherment, Data Encipherment, Key Agreement, \
             Certificate Sign, CRL Sign, Encipher Only, Decipher Only"
        );
        assert_eq!(
            after("X509v3 Extended Key Usage"),
            "TLS Web Server Authentication, TLS Web Client Authentication, Code Signing, \
             E-mail Protection, Time Stamping, OCSP Signing, Microsoft Smartcard Login"
        );
        assert_eq!(after("X509v3 Subject Key Identifier"), "01:02:03:04");
        assert!(
            l.iter()
                .any(|x| x.starts_with("challengePassword") && x.ends_with(":s3cret-pass")),
            "{text}"
        );
        // Nothing beyond what was asked for.
        let ext_headers: Vec<_> = l.iter().filter(|x| x.starts_with("X509v3 ")).collect();
        assert_eq!(ext_headers.len(), 5, "{ext_headers:?}");
        assert!(text.contains("ecdsa-with-SHA256"));
    }

    // Our own reader agrees.
    let (_, info) = Csr::from_pem_or_der(csr.der()).unwrap();
    assert_eq!(info.common_name.as_deref(), Some("device-001.example.com"));
    assert_eq!(info.sans.len(), 5);
}

#[test]
fn empty_request_has_no_extensions_and_an_empty_subject() {
    let key = PrivateKey::generate(KeyType::Ed25519).unwrap();
    let csr = CsrRequest::new().build(&key).unwrap();
    let text = openssl_req_text(csr.to_pem().as_bytes(), false);
    assert!(!text.contains("X509v3"), "{text}");
    assert!(!text.contains("challengePassword"), "{text}");
    assert!(text.contains("ED25519"), "{text}");
}

#[test]
fn sans_without_subject_are_critical() {
    let key = PrivateKey::generate(KeyType::EcP384).unwrap();
    let mut req = CsrRequest::new();
    req.san(SanKind::Dns, "only-san.example.com").unwrap();
    let text = openssl_req_text(req.build(&key).unwrap().to_pem().as_bytes(), false);
    assert!(
        text.contains("X509v3 Subject Alternative Name: critical"),
        "{text}"
    );
    assert!(text.contains("ecdsa-with-SHA384"), "{text}");
}

#[test]
fn signature_algorithms_follow_the_key_or_the_request() {
    let rsa = PrivateKey::generate(KeyType::Rsa2048).unwrap();
    let p256 = PrivateKey::generate(KeyType::EcP256).unwrap();
    for (key, alg, openssl_name) in [
        (&rsa, None, "sha256WithRSAEncryption"),
        (
            &rsa,
            Some(SignatureAlgorithm::RsaPkcs1Sha384),
            "sha384WithRSAEncryption",
        ),
        (
            &rsa,
            Some(SignatureAlgorithm::RsaPkcs1Sha512),
            "sha512WithRSAEncryption",
        ),
        (
            &p256,
            Some(SignatureAlgorithm::EcdsaP256Sha256),
            "ecdsa-with-SHA256",
        ),
    ] {
        let mut req = CsrRequest::new();
        req.subject("CN", "alg").unwrap().signature_algorithm(alg);
        let text = openssl_req_text(req.build(key).unwrap().to_pem().as_bytes(), false);
        assert!(
            text.contains(&format!("Signature Algorithm: {openssl_name}")),
            "{alg:?}: {text}"
        );
    }
    let mut req = CsrRequest::new();
    req.signature_algorithm(Some(SignatureAlgorithm::Ed25519));
    let e = req.build(&p256).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(
        e.message().starts_with("signature_algorithm: Ed25519"),
        "{e}"
    );
}

#[test]
fn one_key_serves_many_csrs_and_every_key_type_verifies() {
    for kt in [
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::EcP256,
        KeyType::EcP384,
        KeyType::Ed25519,
    ] {
        let key = PrivateKey::generate(kt).unwrap();
        for i in 0..3 {
            let mut req = CsrRequest::new();
            req.subject("CN", &format!("dev-{i}")).unwrap();
            let text = openssl_req_text(req.build(&key).unwrap().to_pem().as_bytes(), false);
            assert!(text.contains(&format!("CN=dev-{i}")), "{kt:?}");
        }
    }
}

#[test]
fn bad_fields_are_named() {
    let mut req = CsrRequest::new();
    type Setter = Box<dyn Fn(&mut CsrRequest) -> stepca::Result<()>>;
    let cases: Vec<(Setter, &str)> = vec![
        (Box::new(|r| r.subject("CN", "").map(drop)), "subject.CN: "),
        (Box::new(|r| r.subject("C", "USA").map(drop)), "subject.C: "),
        (Box::new(|r| r.subject("bogus", "x").map(drop)), "subject: "),
        (Box::new(|r| r.subject("3.1", "x").map(drop)), "subject: "),
        (
            Box::new(|r| r.subject("emailAddress", "é@x").map(drop)),
            "subject.emailAddress: ",
        ),
        (
            Box::new(|r| r.san(SanKind::Ip, "1.2.3").map(drop)),
            "san.ip: ",
        ),
        (
            Box::new(|r| r.san(SanKind::Email, "nobody").map(drop)),
            "san.email: ",
        ),
        (
            Box::new(|r| r.san(SanKind::Uri, "not a uri").map(drop)),
            "san.uri: ",
        ),
        (
            Box::new(|r| r.san(SanKind::Dns, "bad name!").map(drop)),
            "san.dns: ",
        ),
        (
            Box::new(|r| r.ext_key_usage("serverAuthentication").map(drop)),
            "extended_key_usage: ",
        ),
        (
            Box::new(|r| r.ext_key_usage("1.2.x").map(drop)),
            "extended_key_usage: ",
        ),
        (
            Box::new(|r| r.basic_constraints(false, Some(1)).map(drop)),
            "basic_constraints.path_len: ",
        ),
        (
            Box::new(|r| r.challenge_password("").map(drop)),
            "challenge_password: ",
        ),
        (
            Box::new(|r| r.extension("2.5.29.17", false, &[5, 0]).map(drop)),
            "extension.oid: ",
        ),
        (
            Box::new(|r| r.extension("1.2.3.4", false, &[4, 9, 1]).map(drop)),
            "extension.value: ",
        ),
    ];
    for (f, prefix) in cases {
        let e = f(&mut req).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.message().starts_with(prefix), "{prefix}: {e}");
    }
}
