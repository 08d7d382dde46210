//! CSR requests from arbitrary names and values: every accepted request must build a CSR
//! that our own reader accepts with the same SAN count.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use stepca::{CsrRequest, Csr, KeyType, PrivateKey, SanKind};

fn key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate(KeyType::EcP256).unwrap())
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut req = CsrRequest::new();
    let mut sans = 0;
    for line in text.lines() {
        let cut = line.chars().next().map_or(0, char::len_utf8);
        let (op, rest) = line.split_at(cut);
        let (a, b) = rest.split_once('=').unwrap_or((rest, ""));
        // Only accepted SANs count; other setters just must not misbehave.
        let ok = match op {
            "d" => req.san(SanKind::Dns, rest).is_ok(),
            "i" => req.san(SanKind::Ip, rest).is_ok(),
            "e" => req.san(SanKind::Email, rest).is_ok(),
            "u" => req.san(SanKind::Uri, rest).is_ok(),
            "s" => req.subject(a, b).is_err() && false,
            "x" => req.ext_key_usage(rest).is_err() && false,
            "k" => req.key_usage(stepca::KeyUsage(rest.len() as u16)).is_err() && false,
            "b" => req.basic_constraints(!a.is_empty(), b.parse().ok()).is_err() && false,
            "p" => req.challenge_password(rest).is_err() && false,
            "o" => req.extension(a, false, b.as_bytes()).is_err() && false,
            _ => false,
        };
        if ok {
            sans += 1;
        }
    }
    if let Ok(csr) = req.build(key()) {
        let (_, info) = Csr::from_pem_or_der(csr.der()).expect("our CSR must read back");
        assert!(info.sans.len() <= sans);
    }
});
