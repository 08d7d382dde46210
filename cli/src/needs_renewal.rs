//! `stepca needs-renewal CRT`, for timer-driven renewal (systemd's `ExecCondition=`), with
//! the exit codes and `--expires-in` of `step certificate needs-renewal`: 0 the certificate
//! needs renewal, 1 it does not, 2 the file does not exist, 255 any other error (unreadable
//! file, no certificate in it, a bad flag). By default a certificate needs renewal once
//! 66 % of its validity period has passed; `--expires-in 75%` moves the threshold, and
//! `--expires-in 8h` asks instead whether it expires within that long. Only the leaf is
//! checked, or with `--bundle` every certificate of the file in turn (any one due is
//! enough).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use stepca::CertificateChain;

use crate::times::parse_go_duration;

/// step's default threshold: 66 % of the validity period used.
const DEFAULT_PERCENT: i64 = 66;

/// The exit code for errors other than a missing file.
pub(crate) const OTHER_ERROR: i32 = 255;

enum Threshold {
    /// Needs renewal once this percentage of the validity period has passed.
    Percent(i64),
    /// Needs renewal once no more than this many nanoseconds are left (may be negative).
    Left(i128),
}

fn threshold(expires_in: Option<&str>) -> Result<Threshold, String> {
    let Some(s) = expires_in else {
        return Ok(Threshold::Percent(DEFAULT_PERCENT));
    };
    if let Some(p) = s.strip_suffix('%') {
        let p: i64 = p
            .parse()
            .map_err(|_| format!("--expires-in {s:?}: not a percentage"))?;
        if !(0..=100).contains(&p) {
            return Err(format!("--expires-in {s:?}: value must be in range 0-100%"));
        }
        return Ok(Threshold::Percent(p));
    }
    parse_go_duration(s)
        .map(Threshold::Left)
        .map_err(|e| format!("--expires-in: {e}"))
}

/// The DER certificates of a PEM bundle, or of a DER certificate.
fn certificates(path: &Path) -> Result<Vec<Vec<u8>>, (i32, String)> {
    let bytes = std::fs::read(path).map_err(|e| {
        let code = if e.kind() == std::io::ErrorKind::NotFound {
            2
        } else {
            OTHER_ERROR
        };
        (code, format!("{}: {e}", path.display()))
    })?;
    let pem = bytes.windows(11).any(|w| w == b"-----BEGIN ");
    let chain = if pem {
        CertificateChain::from_pem(&bytes).map_err(|e| e.to_string())
    } else {
        CertificateChain::from_der(vec![bytes])
            .map_err(|_| "not a certificate (PEM or DER)".to_string())
    };
    chain
        .map(|c| c.certificates().to_vec())
        .map_err(|e| (OTHER_ERROR, format!("{}: {e}", path.display())))
}

/// Whether a certificate valid from `nb` to `na` (UNIX seconds) needs renewal at `now`.
fn due(t: &Threshold, nb: i64, na: i64, now: f64) -> bool {
    let remaining = na as f64 - now;
    match *t {
        Threshold::Percent(p) => {
            let total = (na - nb) as f64;
            if total <= 0.0 {
                return true;
            }
            // As step: the percentage used, truncated to a whole number.
            ((1.0 - remaining / total) * 100.0) as i64 >= p
        }
        Threshold::Left(ns) => ns as f64 / 1e9 >= remaining,
    }
}

/// Runs the command and returns its exit code, having said what it must.
pub(crate) fn run(
    cert: &Path,
    expires_in: Option<&str>,
    bundle: bool,
    verbose: bool,
    json_out: bool,
) -> i32 {
    let fail = |code: i32, message: String| {
        if json_out {
            println!("{}", json!({"error": message, "exit_code": code}));
        }
        eprintln!("stepca: {message}");
        code
    };
    let t = match threshold(expires_in) {
        Ok(t) => t,
        Err(m) => return fail(OTHER_ERROR, m),
    };
    let certs = match certificates(cert) {
        Ok(c) => c,
        Err((code, m)) => return fail(code, m),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut needs = false;
    for der in certs.iter().take(if bundle { usize::MAX } else { 1 }) {
        let (nb, na) = match CertificateChain::from_der(vec![der.clone()]) {
            Ok(c) => c.validity(),
            Err(e) => return fail(OTHER_ERROR, format!("{}: {e}", cert.display())),
        };
        if due(&t, nb, na, now) {
            needs = true;
            break;
        }
    }
    if json_out {
        println!("{}", json!({"needs_renewal": needs}));
    } else if verbose && needs {
        println!("certificate needs renewal");
    } else if verbose {
        eprintln!("certificate does not need renewal");
    }
    if needs { 0 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_as_step_takes_them() {
        assert!(matches!(threshold(None), Ok(Threshold::Percent(66))));
        assert!(matches!(threshold(Some("75%")), Ok(Threshold::Percent(75))));
        assert!(matches!(threshold(Some("0%")), Ok(Threshold::Percent(0))));
        assert!(matches!(
            threshold(Some("1h15m")),
            Ok(Threshold::Left(4_500_000_000_000))
        ));
        assert!(matches!(threshold(Some("0s")), Ok(Threshold::Left(0))));
        for bad in ["101%", "-1%", "x%", "%", "8", "soon"] {
            assert!(threshold(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn due_by_percentage_or_time_left() {
        // Valid from 0 to 100 s.
        let p66 = Threshold::Percent(66);
        assert!(!due(&p66, 0, 100, 65.5));
        assert!(due(&p66, 0, 100, 66.2));
        assert!(due(&p66, 0, 100, 500.0));
        assert!(due(&Threshold::Percent(0), 0, 100, 0.0));
        let ten = Threshold::Left(10_000_000_000);
        assert!(!due(&ten, 0, 100, 89.0));
        assert!(due(&ten, 0, 100, 90.0));
        // 0s: expired or not.
        assert!(!due(&Threshold::Left(0), 0, 100, 99.0));
        assert!(due(&Threshold::Left(0), 0, 100, 100.0));
        // A negative duration: expired for at least that long.
        assert!(!due(&Threshold::Left(-5_000_000_000), 0, 100, 104.0));
        assert!(due(&Threshold::Left(-5_000_000_000), 0, 100, 105.0));
    }
}
