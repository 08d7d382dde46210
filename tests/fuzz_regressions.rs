//! Inputs the fuzzers once broke libstepca with (fuzz/regressions/<target>/), replayed
//! with the targets' own checks.

use std::path::Path;

fn inputs(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect()
}

#[test]
fn ca_response_messages_stay_bounded() {
    let found = inputs("ca_response");
    assert!(!found.is_empty(), "the regression corpus is there");
    for data in found {
        let _ = stepca::fuzzing::parse_sign_response(&data);
        let status = data.first().map_or(400, |b| 400 + u16::from(*b) % 200);
        let e = stepca::fuzzing::status_error(status, &data);
        assert!(e.message().len() <= 1300, "{} bytes", e.message().len());
        assert!(e.ca_message().is_none_or(|m| m.chars().count() <= 4097));
    }
}
