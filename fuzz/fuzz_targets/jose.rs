//! JOSE: private JWKs, provisioner entries and JWEs (iteration count capped low).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = stepca::fuzzing::parse_private_jwk(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = stepca::fuzzing::decrypt_jwe_cheap(text, b"password");
    }
});
