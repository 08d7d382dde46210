//! Bootstrapping trust from a root fingerprint: fetch `/root/{sha256}` without verifying
//! the server, check the SHA-256 of the DER and that it is a self-signed CA, then trust
//! only that root.

use serde::Deserialize;
use x509_parser::prelude::*;

use crate::error::{Error, ErrorKind, Result};
use crate::http::{self, TransportConfig};

/// Lowercase hex without separators; accepts `:`, `-` and spaces between digits.
pub(crate) fn normalize_fingerprint(fp: &str) -> Result<String> {
    let hex: String = fp
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | ' '))
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::invalid(
            "fingerprint",
            "must be a SHA-256 fingerprint: 64 hex digits (':' or '-' separators allowed)",
        ));
    }
    Ok(hex)
}

/// The SHA-256 fingerprint of a DER certificate, lowercase hex.
pub fn fingerprint(der: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Deserialize)]
struct RootResponse {
    ca: String,
}

/// Fetches and checks the root with fingerprint `fp` (normalised) from `base`.
pub(crate) fn fetch_root(cfg: &TransportConfig, base: &str, fp: &str) -> Result<Vec<u8>> {
    let mut insecure = cfg.clone();
    insecure.tls_roots = None;
    let agent = http::agent(&insecure, None)?;
    let deadline = std::time::Instant::now() + cfg.timeout;
    let url = format!("{base}/root/{fp}");
    let req = http::Request {
        what: "bootstrap",
        url: &url,
        body: None,
        bearer: None,
    };
    let resp = cfg.retry.run(true, deadline, || {
        let resp = http::send(&agent, &cfg.clock, &req, deadline)?;
        if resp.status >= 500 {
            return Err(http::status_error("bootstrap", &resp));
        }
        Ok(resp)
    })?;
    if resp.status == 404 {
        return Err(Error::new(
            ErrorKind::Fingerprint,
            format!("fingerprint: the CA has no root with fingerprint {fp}"),
        )
        .with_http(404, None));
    }
    if !(200..300).contains(&resp.status) {
        return Err(http::status_error("bootstrap", &resp));
    }
    let body: RootResponse = serde_json::from_slice(&resp.body).map_err(|_| {
        Error::new(
            ErrorKind::MalformedResponse,
            "bootstrap: unexpected /root answer",
        )
    })?;
    let der = match ::pem::parse(&body.ca) {
        Ok(p) if p.tag() == "CERTIFICATE" => p.into_contents(),
        _ => {
            return Err(Error::new(
                ErrorKind::MalformedResponse,
                "bootstrap: the /root answer holds no certificate",
            ));
        }
    };
    let got = fingerprint(&der);
    if got != fp {
        return Err(Error::new(
            ErrorKind::Fingerprint,
            format!("fingerprint: the CA sent a root with fingerprint {got}, not {fp}"),
        ));
    }
    let (_, cert) = X509Certificate::from_der(&der).map_err(|_| {
        Error::new(
            ErrorKind::MalformedResponse,
            "bootstrap: the root does not parse",
        )
    })?;
    if !cert.is_ca() || cert.verify_signature(None).is_err() {
        return Err(Error::new(
            ErrorKind::Fingerprint,
            "fingerprint: the certificate with that fingerprint is not a self-signed CA",
        ));
    }
    Ok(der)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_normalise() {
        let hex = "ab".repeat(32);
        let colons = hex
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap().to_uppercase())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(normalize_fingerprint(&colons).unwrap(), hex);
        assert_eq!(
            normalize_fingerprint(&hex.replace("abab", "ab-ab")).unwrap(),
            hex
        );
        assert!(normalize_fingerprint("abc").is_err());
        assert!(normalize_fingerprint(&"zz".repeat(32)).is_err());
    }
}
