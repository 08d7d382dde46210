//! `POST /1.0/sign`: a CSR and a one-time token for a certificate chain.

use serde::Serialize;
use serde_json::value::RawValue;
use zeroize::Zeroizing;

use crate::chain::CertificateChain;
use crate::csr::{Csr, CsrInfo};
use crate::error::{Error, ErrorKind, Result};
use crate::token::{TokenPurpose, TokenSource};

use super::Client;
use super::request::{Ask, Auth, Call};

/// Per-call options for [`Client::sign`].
#[derive(Clone, Debug, Default)]
pub struct SignOptions {
    /// What authorises this call; `None`: the client's token provider.
    pub token: Option<TokenSource>,
    /// Requested notBefore, UNIX seconds.
    pub not_before: Option<i64>,
    /// Requested notAfter, UNIX seconds.
    pub not_after: Option<i64>,
    /// JSON for the provisioner's template (`templateData`).
    pub template_data: Option<String>,
}

#[derive(Serialize)]
struct SignBody<'a> {
    csr: &'a str,
    ott: &'a str,
    #[serde(rename = "notBefore", skip_serializing_if = "Option::is_none")]
    not_before: Option<String>,
    #[serde(rename = "notAfter", skip_serializing_if = "Option::is_none")]
    not_after: Option<String>,
    #[serde(rename = "templateData", skip_serializing_if = "Option::is_none")]
    template_data: Option<&'a RawValue>,
}

fn rfc3339_field(field: &str, secs: i64) -> Result<String> {
    // RFC 3339 needs a four-digit year.
    const MIN: i64 = -62_135_596_800; // 0001-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    if !(MIN..=MAX).contains(&secs) {
        return Err(Error::invalid(
            field,
            format!("{secs} is outside years 0001 to 9999"),
        ));
    }
    let t = time::OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|e| Error::invalid(field, e.to_string()))?;
    t.format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| Error::invalid(field, e.to_string()))
}

impl Client {
    /// Exchanges a CSR (PEM or DER) for a certificate chain at `/1.0/sign`.
    ///
    /// The token comes from `opts.token` (a token, or a provider asked once per call),
    /// else from the client's provider; a provider is told the CSR's fingerprint, and the
    /// in-process provisioners bind their tokens to it (`cnf`). Everything local (CSR
    /// self-signature, validity times, template JSON) is checked before the token is made,
    /// so no token is spent on a request that could not succeed. The returned chain's leaf
    /// carries the CSR's key and the chain is a valid path to the configured root at the
    /// client's time. A sign request is retried, with the same token, only when it never
    /// reached step-ca.
    pub fn sign(&self, csr: &[u8], opts: &SignOptions) -> Result<CertificateChain> {
        let (csr, info) = Csr::from_pem_or_der(csr)?;
        self.sign_parsed(&csr, &info, opts)
    }

    /// [`Self::sign`] for a [`Csr`] this library built or already read: its
    /// self-signature was verified then (or it was signed here with a key this library
    /// holds), so it is not verified a second time. Building with [`crate::CsrRequest`]
    /// and signing with this method is the cheapest enrollment.
    pub fn sign_csr(&self, csr: &Csr, opts: &SignOptions) -> Result<CertificateChain> {
        let info = csr.info()?;
        self.sign_parsed(csr, &info, opts)
    }

    fn sign_parsed(
        &self,
        csr: &Csr,
        info: &CsrInfo,
        opts: &SignOptions,
    ) -> Result<CertificateChain> {
        let not_before = opts
            .not_before
            .map(|t| rfc3339_field("not_before", t))
            .transpose()?;
        let not_after = opts
            .not_after
            .map(|t| rfc3339_field("not_after", t))
            .transpose()?;
        if let (Some(nb), Some(na)) = (opts.not_before, opts.not_after)
            && na <= nb
        {
            return Err(Error::invalid("not_after", "must be later than not_before"));
        }
        // Borrowed: the JSON is validated here and embedded as is.
        let template_data: Option<&RawValue> = opts
            .template_data
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| Error::invalid("template_data", format!("not valid JSON ({e})")))?;
        let csr_pem = csr.to_pem();
        let subject = info.common_name.clone().unwrap_or_default();
        let ask = Ask {
            subject: &subject,
            sans: &info.sans,
            purpose: TokenPurpose::Sign,
            csr_fingerprint: Some(csr.fingerprint()),
            not_after: opts.not_after,
        };
        let token = || self.token(opts.token.as_ref(), &ask);
        let body = |ott: Option<&str>| {
            let body = serde_json::to_vec(&SignBody {
                csr: &csr_pem,
                ott: ott.unwrap_or_default(),
                not_before: not_before.clone(),
                not_after: not_after.clone(),
                template_data,
            })
            .map_err(|e| Error::new(ErrorKind::Internal, format!("encoding the request: {e}")))?;
            Ok(Zeroizing::new(body))
        };
        self.issue(
            &Call {
                what: "sign",
                path: "/1.0/sign",
                body: Some(&body),
                auth: Auth::Ott(&token),
            },
            &info.spki,
            opts.not_before,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339_field("t", 0).unwrap(), "1970-01-01T00:00:00Z");
        assert!(
            rfc3339_field("not_after", i64::MAX)
                .unwrap_err()
                .message()
                .starts_with("not_after: ")
        );
    }
}
