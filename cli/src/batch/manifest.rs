//! The manifest: CSV (RFC 4180, read by the `csv` crate) whose first line is the header
//! `name,sans` (or just `name`). Each further line is a device: its name (the certificate's
//! CN and the stem of its files, NAME.key and NAME.crt) and, optionally, its SANs separated
//! by `;` (white space around each is ignored; a field holding a comma is quoted, as CSV
//! quotes anything). Blank lines and lines starting with `#` are skipped.
//!
//! The whole manifest is checked before anything is enrolled: a malformed line, a bad name
//! or SAN, or a name listed twice (also when the two differ only in case: they would share
//! files on a case-insensitive file system) refuses the batch with every problem found,
//! each naming its line.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use crate::{Failure, csr_request, input};

pub(crate) struct Device {
    pub(crate) name: String,
    pub(crate) sans: Vec<String>,
}

/// The longest name, in bytes: NAME.crt's temporary file (`.NAME.crt.stepca-batch-` and
/// ten random characters and `.tmp`) must fit in a file name of 255 bytes.
const MAX_NAME: usize = 200;

/// Problems listed in the error, at most (the count says how many there were).
const MAX_LISTED: usize = 20;

pub(crate) fn parse(path: &Path) -> Result<Vec<Device>, Failure> {
    let file = std::fs::File::open(path).map_err(|e| input(format!("{}: {e}", path.display())))?;
    parse_from(file).map_err(|problems| {
        let mut msg = format!(
            "manifest {}: nothing enrolled, {} problem{}:",
            path.display(),
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        );
        for p in problems.iter().take(MAX_LISTED) {
            msg.push_str("\n  ");
            msg.push_str(p);
        }
        if problems.len() > MAX_LISTED {
            msg.push_str(&format!("\n  ... and {} more", problems.len() - MAX_LISTED));
        }
        input(msg)
    })
}

/// Whether `name` may be a device's name: what is refused, if anything.
pub(crate) fn bad_name(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("empty device name".into())
    } else if name.starts_with('.') {
        Some(format!(
            "device name {name:?} starts with '.' (hidden files are the batch's own)"
        ))
    } else if name.contains('/') {
        Some(format!("device name {name:?} contains '/'"))
    } else if name.chars().any(char::is_control) {
        Some(format!("device name {name:?} contains a control character"))
    } else if name.len() > MAX_NAME {
        Some(format!(
            "device name of {} bytes (at most {MAX_NAME})",
            name.len()
        ))
    } else {
        None
    }
}

/// The devices of a manifest, or every problem found (each starting `line N:`).
pub(crate) fn parse_from(reader: impl Read) -> Result<Vec<Device>, Vec<String>> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(reader);
    let mut problems = Vec::new();
    let mut devices = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut columns = 0;
    for result in rdr.records() {
        let record = match result {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let why = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => "not UTF-8".to_string(),
                    _ => e.to_string(),
                };
                problems.push(format!("line {line}: {why}"));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        if columns == 0 {
            let header: Vec<&str> = record.iter().collect();
            match header.as_slice() {
                ["name"] => columns = 1,
                ["name", "sans"] => columns = 2,
                _ => {
                    problems.push(format!(
                        "line {line}: the first line must be the header `name,sans` (or \
                         `name`), not `{}`",
                        header.join(",")
                    ));
                    // Read on as if it were there, to report the lines' own problems too.
                    columns = 2;
                    if header.first().is_some_and(|n| *n != "name") {
                        check_device(&record, line, 2, &mut seen, &mut devices, &mut problems);
                    }
                }
            }
            continue;
        }
        check_device(
            &record,
            line,
            columns,
            &mut seen,
            &mut devices,
            &mut problems,
        );
    }
    if columns == 0 && problems.is_empty() {
        problems.push("line 1: empty; the first line must be the header `name,sans`".into());
    }
    if problems.is_empty() {
        Ok(devices)
    } else {
        Err(problems)
    }
}

fn check_device(
    record: &csv::StringRecord,
    line: u64,
    columns: usize,
    seen: &mut HashMap<String, u64>,
    devices: &mut Vec<Device>,
    problems: &mut Vec<String>,
) {
    let mut bad = |why: String| problems.push(format!("line {line}: {why}"));
    if record.len() > columns {
        bad(format!(
            "{} fields, the header has {columns} (SANs are separated by ';'; quote a field \
             that holds a comma)",
            record.len()
        ));
        return;
    }
    let name = &record[0];
    if let Some(why) = bad_name(name) {
        bad(why);
        return;
    }
    let mut sans = Vec::new();
    for san in record.get(1).unwrap_or("").split(';').map(str::trim) {
        if san.is_empty() {
            continue;
        }
        if san.chars().any(char::is_whitespace) {
            bad(format!(
                "SAN {san:?} contains white space (SANs are separated by ';')"
            ));
            return;
        }
        sans.push(san.to_string());
    }
    // The CSR's subject and SANs, checked as they will be built.
    if let Err(f) = csr_request(name, &sans) {
        bad(format!("device {name:?}: {}", f.message));
        return;
    }
    match seen.get(&name.to_lowercase()) {
        Some(first) => bad(format!(
            "device {name:?} is already on line {first} (each device once; names are file \
             names, compared regardless of case)"
        )),
        None => {
            seen.insert(name.to_lowercase(), line);
            devices.push(Device {
                name: name.to_string(),
                sans,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<(String, Vec<String>)>, Vec<String>> {
        parse_from(text.as_bytes()).map(|ds| ds.into_iter().map(|d| (d.name, d.sans)).collect())
    }

    fn problems(text: &str) -> Vec<String> {
        parse(text).expect_err("refused")
    }

    #[test]
    fn header_quotes_comments_and_sans() {
        let ds = parse(
            "name,sans\n\
             # a comment\n\
             \n\
             nameserver1,ns1.example.com ; 10.0.0.1;\n\
             \"dev,2\",\"a.example.com;b.example.com\"\n\
             dev3\n\
             dev4,\n",
        )
        .unwrap();
        assert_eq!(
            ds,
            vec![
                (
                    "nameserver1".into(),
                    vec!["ns1.example.com".into(), "10.0.0.1".into()]
                ),
                (
                    "dev,2".into(),
                    vec!["a.example.com".into(), "b.example.com".into()]
                ),
                ("dev3".into(), vec![]),
                ("dev4".into(), vec![]),
            ]
        );
        assert_eq!(parse("name\ndev1\n").unwrap().len(), 1);
        assert_eq!(parse("name,sans\n").unwrap().len(), 0);
        // CRLF line ends.
        assert_eq!(parse("name,sans\r\ndev1,a.example\r\n").unwrap().len(), 1);
    }

    #[test]
    fn refusals_name_their_lines() {
        // No header: the first device is not taken for one, whatever its name.
        let p = problems("nameserver1,ns1.example.com\ndev2\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("line 1: the first line must be the header"),
            "{p:?}"
        );
        assert!(problems("")[0].starts_with("line 1: empty"));

        let p = problems(
            "name,sans\n\
             dev1,a.example.com\n\
             dev2,b.example.com,extra\n\
             .hidden\n\
             a/b\n\
             dev3,bad san\n\
             DEV1\n\
             dev1\n",
        );
        assert_eq!(p.len(), 6, "{p:?}");
        assert!(
            p[0].starts_with("line 3: 3 fields, the header has 2"),
            "{p:?}"
        );
        assert!(p[1].starts_with("line 4: device name \".hidden\" starts with '.'"));
        assert!(p[2].starts_with("line 5: device name \"a/b\" contains '/'"));
        assert!(p[3].starts_with("line 6: SAN \"bad san\" contains white space"));
        assert!(p[4].starts_with("line 7: device \"DEV1\" is already on line 2"));
        assert!(p[5].starts_with("line 8: device \"dev1\" is already on line 2"));

        // An unterminated quote runs to the end: the name holds a line break.
        let p = problems("name,sans\ndev1\n\"dev2,x\ndev3\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("line 3: "), "{p:?}");

        let p = problems("name,sans\ndev\u{1}x\n");
        assert!(p[0].contains("control character"), "{p:?}");
        let p = problems(&format!("name\n{}\n", "x".repeat(201)));
        assert!(p[0].contains("201 bytes"), "{p:?}");
        let p = parse_from(&b"name\ndev\xff\n"[..]).err().unwrap();
        assert_eq!(p, vec!["line 2: not UTF-8".to_string()]);
    }
}
