//! step-ca answers: sign/renew bodies and error bodies of any status.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = stepca::fuzzing::parse_sign_response(data);
    let status = data.first().map_or(400, |b| 400 + u16::from(*b) % 200);
    let e = stepca::fuzzing::status_error(status, data);
    assert_eq!(e.http_status(), Some(status));
    // Messages stay bounded whatever the peer sends (300 characters of detail, at most
    // 4 bytes each, plus the prefix).
    assert!(e.message().len() <= 1300, "messages stay bounded");
    assert!(e.ca_message().is_none_or(|m| m.chars().count() <= 4097));
});
