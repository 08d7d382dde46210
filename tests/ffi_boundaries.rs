//! A mechanical check (rustls-ffi learned it the hard way): every exported function runs
//! its body behind the panic boundary, through `call` (status-returning functions, which
//! also do the NULL checks and fill `*error`) or `guard` (accessors and free functions),
//! directly or through a helper that does.

use std::path::Path;

const BOUNDARIES: &[&str] = &[
    "call(",
    "guard(",
    "with_builder(",
    "with_request(",
    "with_options(",
    "fetch(",
    "with_renewer(",
];

#[test]
fn every_export_sits_behind_the_panic_boundary() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ffi");
    let mut exports = 0;
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.contains("#[unsafe(no_mangle)]") {
                continue;
            }
            exports += 1;
            // The signature, then the first statement of the body.
            let body_start = (i..lines.len())
                .find(|&j| lines[j].trim_end().ends_with('{'))
                .unwrap();
            let first = lines[body_start + 1..]
                .iter()
                .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with("//"))
                .unwrap();
            let stmt = first.trim_start().trim_start_matches("super::");
            if !BOUNDARIES.iter().any(|b| stmt.starts_with(b)) {
                missing.push(format!(
                    "{}:{}: {}",
                    path.display(),
                    i + 1,
                    lines[i + 1].trim()
                ));
            }
        }
    }
    assert!(exports >= 80, "found only {exports} exports");
    assert!(
        missing.is_empty(),
        "exports without a panic boundary:\n{}",
        missing.join("\n")
    );
}
