//! Revoking a certificate by serial, with a revoke token or over mutual TLS.

use std::sync::Arc;

use serde::Serialize;
use x509_parser::num_bigint::BigUint;

use crate::chain::CertificateChain;
use crate::client::{Client, check_token};
use crate::error::{Error, Result};
use crate::http::{self, ClientIdentity};
use crate::key::PrivateKey;
use crate::token::{Token, TokenProvider, TokenPurpose};

/// Options for a revocation.
#[derive(Clone, Default)]
pub struct RevokeOptions {
    /// The RFC 5280 reason code, 0 to 10 (0 = unspecified; 1 = keyCompromise ...).
    pub reason_code: u8,
    /// A free-text reason.
    pub reason: Option<String>,
    /// A revoke token for this call; overrides every provider.
    pub token: Option<Token>,
    /// A token provider for this call; overrides the client's.
    pub token_provider: Option<Arc<dyn TokenProvider>>,
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
    fn post_revoke(
        &self,
        agent: &ureq::Agent,
        serial: &str,
        ott: Option<&str>,
        opts: &RevokeOptions,
        deadline: std::time::Instant,
    ) -> Result<()> {
        if opts.reason_code > 10 {
            return Err(Error::invalid("reason_code", "must be 0 to 10"));
        }
        let body = zeroize::Zeroizing::new(
            serde_json::to_vec(&RevokeBody {
                serial,
                ott,
                reason_code: opts.reason_code,
                reason: opts.reason.as_deref(),
                passive: true,
            })
            .map_err(|e| Error::new(crate::error::ErrorKind::Internal, e.to_string()))?,
        );
        let resp = http::post_json(
            agent,
            "revoke",
            &self.endpoint("/1.0/revoke"),
            &body,
            deadline,
        )?;
        if !(200..300).contains(&resp.status) {
            return Err(http::status_error("revoke", &resp));
        }
        Ok(())
    }

    /// Revokes the certificate with `serial` (decimal, `0x` hex, or `aa:bb` hex) with a
    /// revoke token: `opts.token`, else one from the per-call or client provider (asked
    /// with [`TokenPurpose::Revoke`], once per attempt). Retried only when the request
    /// never reached step-ca, which spends a token on first use.
    pub fn revoke(&self, serial: &str, opts: &RevokeOptions) -> Result<()> {
        let deadline = self.deadline();
        let serial = normalize_serial(serial)?;
        if opts.reason_code > 10 {
            return Err(Error::invalid("reason_code", "must be 0 to 10"));
        }
        self.inner.transport.retry.run(false, deadline, || {
            let (token, field) = match &opts.token {
                Some(t) => (t.clone(), "token"),
                None => (
                    self.provider_token(
                        serial.clone(),
                        Vec::new(),
                        TokenPurpose::Revoke,
                        opts.token_provider.as_ref(),
                    )?,
                    "token_provider",
                ),
            };
            let token = token.expose().trim();
            check_token(field, token)?;
            self.post_revoke(&self.inner.agent, &serial, Some(token), opts, deadline)
        })
    }

    /// Revokes `chain`'s leaf, authenticating over mutual TLS with it and `key`.
    pub fn revoke_with_certificate(
        &self,
        chain: &CertificateChain,
        key: &PrivateKey,
        opts: &RevokeOptions,
    ) -> Result<()> {
        if chain.leaf_spki() != key.spki_der() {
            return Err(Error::invalid(
                "key",
                "does not match the certificate's public key",
            ));
        }
        let agent = http::agent_with_identity(
            &self.inner.transport,
            Some(ClientIdentity {
                chain: chain.certificates(),
                pkcs8_pem: &key.to_pkcs8_pem(),
            }),
        )?;
        let deadline = self.deadline();
        self.inner.transport.retry.run(false, deadline, || {
            self.post_revoke(&agent, &chain.serial(), None, opts, deadline)
        })
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
