//! Private keys: PEM and DER in every encoding, with and without a passphrase.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (pass, key) = match data.split_first() {
        Some((flag, rest)) if flag & 1 == 1 => (Some(&b"fuzz-pass"[..]), rest),
        Some((_, rest)) => (None, rest),
        None => (None, data),
    };
    if let Ok(k) = stepca::PrivateKey::load(key, pass) {
        // A key that loads must export and reload as the same key.
        let pem = k.to_pkcs8_pem();
        let again = stepca::PrivateKey::load(pem.as_bytes(), None).expect("re-load exported key");
        assert_eq!(again.public_key_raw(), k.public_key_raw());
    }
});
