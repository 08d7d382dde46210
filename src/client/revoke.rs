//! Revoking a certificate by serial, with a revoke token or over mutual TLS.

use serde::Serialize;
use x509_parser::num_bigint::BigUint;

use crate::credential::Credential;
use crate::error::{Error, Result};
use crate::token::{TokenPurpose, TokenSource};

use super::Client;
use super::request::{Ask, Auth, Call};

/// Options for a revocation.
#[derive(Clone, Debug, Default)]
pub struct RevokeOptions {
    /// The RFC 5280 reason code, 0 to 10 (0 = unspecified; 1 = keyCompromise ...).
    pub reason_code: u8,
    /// A free-text reason.
    pub reason: Option<String>,
    /// What authorises a revocation by serial; `None`: the client's token provider.
    /// Unused by [`Client::revoke_with_certificate`].
    pub token: Option<TokenSource>,
}

#[derive(Serialize)]
struct RevokeBody<'a> {
    serial: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ott: Option<&'a str>,
    #[serde(rename = "reasonCode")]
    reason_code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    // step-ca supports passive revocation only (false gives 501).
    passive: bool,
}

/// A serial number in decimal, from decimal, `0x` hex, or colon-separated hex.
pub fn normalize_serial(serial: &str) -> Result<String> {
    let s = serial.trim();
    let bad = || {
        Error::invalid(
            "serial",
            format!("{serial:?} is not a serial number (decimal, 0x-hex or aa:bb hex)"),
        )
    };
    let n = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        BigUint::parse_bytes(hex.as_bytes(), 16)
    } else if s.contains(':') {
        BigUint::parse_bytes(s.replace(':', "").as_bytes(), 16)
    } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        BigUint::parse_bytes(s.as_bytes(), 10)
    } else {
        None
    };
    n.map(|n| n.to_string()).ok_or_else(bad)
}

impl Client {
    /// Posts a revocation authorised by `auth`.
    fn post_revoke(&self, serial: &str, opts: &RevokeOptions, auth: Auth<'_>) -> Result<()> {
        if opts.reason_code > 10 {
            return Err(Error::invalid("reason_code", "must be 0 to 10"));
        }
        let body = |ott: Option<&str>| {
            serde_json::to_vec(&RevokeBody {
                serial,
                ott,
                reason_code: opts.reason_code,
                reason: opts.reason.as_deref(),
                passive: true,
            })
            .map(zeroize::Zeroizing::new)
            .map_err(|e| Error::new(crate::error::ErrorKind::Internal, e.to_string()))
        };
        self.request(&Call {
            what: "revoke",
            path: "/1.0/revoke",
            body: Some(&body),
            auth,
        })?;
        Ok(())
    }

    /// Revokes the certificate with `serial` (decimal, `0x` hex, or `aa:bb` hex) with a
    /// revoke token: from `opts.token`, else the client's provider (asked with
    /// [`TokenPurpose::Revoke`], once per call). Retried, with the same token, only when
    /// the request never reached step-ca.
    pub fn revoke(&self, serial: &str, opts: &RevokeOptions) -> Result<()> {
        let serial = normalize_serial(serial)?;
        let ask = Ask {
            subject: &serial,
            sans: &[],
            purpose: TokenPurpose::Revoke,
            csr_fingerprint: None,
            not_after: None,
        };
        let token = || self.token(opts.token.as_ref(), &ask);
        self.post_revoke(&serial, opts, Auth::Ott(&token))
    }

    /// Revokes the credential's leaf, authenticating over mutual TLS with it (a held key
    /// signs the handshake through its signer). No token is used.
    pub fn revoke_with_certificate(&self, cred: &Credential, opts: &RevokeOptions) -> Result<()> {
        self.post_revoke(&cred.chain().serial(), opts, Auth::MutualTls(cred))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials() {
        assert_eq!(normalize_serial("255").unwrap(), "255");
        assert_eq!(normalize_serial("0xff").unwrap(), "255");
        assert_eq!(normalize_serial("01:00").unwrap(), "256");
        let big = "146103349666685108195655980390445292315";
        assert_eq!(normalize_serial(big).unwrap(), big);
        for bad in ["", "12a", "0xzz", "-1"] {
            assert!(
                normalize_serial(bad)
                    .unwrap_err()
                    .message()
                    .starts_with("serial: "),
                "{bad}"
            );
        }
    }
}
