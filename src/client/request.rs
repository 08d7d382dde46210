//! The one request primitive every endpoint goes through: deadline, retries, how the call
//! is authorised (a token in the body or header, or mutual TLS with a credential), status,
//! errors with what the CA's clock says, and the checks on an issued chain.

use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::chain::CertificateChain;
use crate::credential::Credential;
use crate::error::{Error, ErrorKind, Result};
use crate::http;
use crate::name::San;
use crate::tls::Identity;
use crate::token::{Token, TokenClaims, TokenProvider, TokenPurpose, TokenSource};

use super::{Client, MAX_TOKEN_LEN};

/// The body of a POST, built for each attempt from the token it carries (if any).
pub(crate) type BodyFn<'a> = dyn Fn(Option<&str>) -> Result<Zeroizing<Vec<u8>>> + 'a;

/// Makes a call's token: called when the first attempt needs it.
pub(crate) type TokenFn<'a> = dyn Fn() -> Result<Token> + 'a;

/// How a call is authorised.
#[derive(Clone, Copy, Default)]
pub(crate) enum Auth<'a> {
    /// Not at all (the public GETs).
    #[default]
    None,
    /// A one-time token in the body's `ott`.
    Ott(&'a TokenFn<'a>),
    /// A token in `Authorization: Bearer`.
    Bearer(&'a TokenFn<'a>),
    /// Mutual TLS with the credential, on a connection of its own (pooled connections
    /// carry no client certificate).
    MutualTls(&'a Credential),
}

/// What a token is asked for, for [`Client::token`].
pub(crate) struct Ask<'a> {
    /// The CSR's CN, or the serial (decimal) for revocation.
    pub(crate) subject: &'a str,
    pub(crate) sans: &'a [San],
    pub(crate) purpose: TokenPurpose,
    /// The CSR's [`fingerprint`](crate::Csr::fingerprint), for a sign token.
    pub(crate) csr_fingerprint: Option<String>,
    /// The notAfter the call requests, UNIX seconds.
    pub(crate) not_after: Option<i64>,
}

/// One call to step-ca, for [`Client::request`].
#[derive(Default)]
pub(crate) struct Call<'a> {
    /// Names the operation in errors.
    pub(crate) what: &'static str,
    pub(crate) path: &'a str,
    /// A POST's JSON body; `None`: a GET, idempotent, so retried after failures and 5xx.
    /// A POST is retried only while it never reached step-ca.
    pub(crate) body: Option<&'a BodyFn<'a>>,
    pub(crate) auth: Auth<'a>,
}

impl Client {
    /// The one request primitive. Returns 2xx answers only.
    ///
    /// A token is made when the first attempt needs it and kept while attempts fail
    /// without reaching step-ca, so that it is sent again rather than a new one spent. In
    /// CA-time mode the CA's clock is measured before a token is made. A held key's
    /// failure during a mutual-TLS handshake is reported as [`ErrorKind::Signer`] ("signer:
    /// ..."), with the signer's own words, not as a TLS error.
    pub(crate) fn request(&self, call: &Call<'_>) -> Result<http::Response> {
        let deadline = Instant::now() + self.inner.transport.timeout;
        let token_fn = match call.auth {
            Auth::Ott(f) | Auth::Bearer(f) => Some(f),
            Auth::None | Auth::MutualTls(_) => None,
        };
        if token_fn.is_some() && self.clock().needs_ca_time() {
            // The token's times must be the CA's: measure its clock first.
            self.health()?;
        }
        let identity = match call.auth {
            Auth::MutualTls(cred) => Some(Identity::new(cred)?),
            _ => None,
        };
        let own_agent = identity
            .as_ref()
            .map(|id| http::agent(&self.inner.transport, Some(id)))
            .transpose()?;
        let agent = own_agent.as_ref().unwrap_or(&self.inner.agent);
        let url = format!("{}{}", self.inner.url.base, call.path);
        let mut kept: Option<Token> = None;
        let result = self
            .inner
            .transport
            .retry
            .run(call.body.is_none(), deadline, || {
                let token = match (token_fn, kept.take()) {
                    (None, _) => None,
                    (Some(_), Some(t)) => Some(t),
                    (Some(make), None) => Some(make()?),
                };
                let text = token.as_ref().map(|t| t.expose().trim());
                let body = call.body.map(|b| b(text)).transpose()?;
                let req = http::Request {
                    what: call.what,
                    url: &url,
                    body: body.as_deref().map(Vec::as_slice),
                    bearer: if matches!(call.auth, Auth::Bearer(_)) {
                        text
                    } else {
                        None
                    },
                };
                let resp = match http::send(agent, self.clock(), &req, deadline) {
                    Ok(r) => r,
                    Err(e) => {
                        if e.unsent {
                            kept = token;
                        }
                        return Err(e);
                    }
                };
                if let Some(date) = resp.date {
                    self.clock().observe(date);
                }
                if !(200..300).contains(&resp.status) {
                    return Err(self.with_skew(http::status_error(call.what, &resp), &resp));
                }
                Ok(resp)
            });
        match (result, identity.and_then(|id| id.take_failure())) {
            (Err(_), Some(signer)) => Err(signer),
            (result, _) => result,
        }
    }

    /// A request whose answer is an issued chain: reads it and checks that its leaf
    /// carries `spki` and that it is a valid path to the configured roots at the client's
    /// time, or at `not_before` when the certificate was asked to start later. A chain
    /// that fails the check is attached to the error, so an issued certificate is never
    /// lost.
    pub(crate) fn issue(
        &self,
        call: &Call<'_>,
        spki: &[u8],
        not_before: Option<i64>,
    ) -> Result<CertificateChain> {
        let resp = self.request(call)?;
        // Each certificate is parsed once, for both the malformed-response check and the
        // chain check (parsing twice was about 7% of an enrollment's client CPU).
        let chain = read_sign_response(&resp.body)?;
        let parsed = chain
            .parse()
            .map_err(|e| e.with_received(String::from_utf8_lossy(&resp.body).into_owned()))?;
        // Read after the request: in CA-time mode it may have set the clock.
        let at = not_before
            .filter(|nb| *nb > self.clock().now_secs())
            .map_or_else(
                || self.now(),
                |nb| UNIX_EPOCH + Duration::from_secs(nb as u64),
            );
        parsed
            .verify(spki, &self.inner.anchors, at, Some(&self.inner.signatures))
            .map_err(|e| {
                let e = Error::new(e.kind(), format!("{}: {}", call.what, e.message()))
                    .with_received(chain.to_pem());
                self.with_skew(e, &resp)
            })?;
        drop(parsed); // it borrows `chain`
        Ok(chain)
    }

    /// Adds to `e` how far the client's clock is from the `Date` of `resp`.
    fn with_skew(&self, e: Error, resp: &http::Response) -> Error {
        match resp.date {
            Some(date) => {
                let skew = self.clock().skew_from(date);
                e.with_clock_skew(skew, self.clock().describe_skew(skew))
            }
            None => e,
        }
    }

    /// The token for a sign or revoke call from `source`, else from the client's
    /// provider, checked for shape. A provider is told the call's claims.
    ///
    /// An in-process provisioner's own error (a [`crate::Error`]) is passed on as it is,
    /// so its kind and field survive (a factory certificate past its date, a held key that
    /// failed); any other provider error is [`ErrorKind::TokenProvider`].
    pub(crate) fn token(&self, source: Option<&TokenSource>, ask: &Ask<'_>) -> Result<Token> {
        let provider: &Arc<dyn TokenProvider> = match source {
            Some(TokenSource::Token(t)) => {
                // Token files end in a newline; that is not part of the token.
                check_token("token", t.expose().trim())?;
                return Ok(t.clone());
            }
            Some(TokenSource::Provider(p)) => p,
            None => self.token_provider.as_ref().ok_or_else(|| {
                Error::new(
                    ErrorKind::NoToken,
                    "token: no token was given and the client has no token provider",
                )
            })?,
        };
        let claims = TokenClaims {
            subject: ask.subject.to_string(),
            sans: ask.sans.to_vec(),
            audience: match ask.purpose {
                TokenPurpose::Sign => self.sign_audience(),
                TokenPurpose::Revoke => self.revoke_audience(),
            },
            provisioner: self.inner.provisioner.clone(),
            purpose: ask.purpose,
            now: self.now(),
            csr_fingerprint: ask.csr_fingerprint.clone(),
            not_after: ask
                .not_after
                .map(|t| UNIX_EPOCH + Duration::from_secs(t.max(0) as u64)),
        };
        let token = provider
            .token(&claims)
            .map_err(|e| match e.downcast::<Error>() {
                Ok(own) => *own,
                Err(e) => Error::new(
                    ErrorKind::TokenProvider,
                    format!("token_provider: failed: {e}"),
                )
                .with_source(e),
            })?;
        check_token("token_provider", token.expose().trim())?;
        Ok(token)
    }
}

/// Checks a token's shape: JWS compact serialisation is printable ASCII without spaces.
pub(crate) fn check_token(field: &str, token: &str) -> Result<()> {
    let (kind, bad) = if field == "token" {
        (ErrorKind::InvalidArgument, "")
    } else {
        (ErrorKind::TokenProvider, "the token provider returned ")
    };
    if token.is_empty() {
        return Err(Error::new(kind, format!("{field}: {bad}an empty token")));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(Error::new(
            kind,
            format!(
                "{field}: {bad}a token of {} bytes (the limit is {MAX_TOKEN_LEN})",
                token.len()
            ),
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::new(
            kind,
            format!("{field}: {bad}a token with spaces, control or non-ASCII characters"),
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
struct SignResponse {
    crt: Option<String>,
    ca: Option<String>,
    #[serde(rename = "certChain")]
    cert_chain: Option<Vec<String>>,
}

/// Reads a sign/renew/rekey answer as [`Client::issue`] does: [`read_sign_response`], then
/// every certificate parsed.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn parse_sign_response(body: &[u8]) -> Result<CertificateChain> {
    let chain = read_sign_response(body)?;
    chain
        .parse()
        .map_err(|e| e.with_received(String::from_utf8_lossy(body).into_owned()))?;
    Ok(chain)
}

/// Reads a sign/renew/rekey answer: `certChain`, falling back to `crt` + `ca`, each a PEM
/// certificate; the certificates are not parsed as X.509 yet (the caller does, once).
fn read_sign_response(body: &[u8]) -> Result<CertificateChain> {
    let received = || String::from_utf8_lossy(body).into_owned();
    let resp: SignResponse = serde_json::from_slice(body).map_err(|e| {
        Error::new(
            ErrorKind::MalformedResponse,
            format!("response: not the JSON step-ca sends ({e})"),
        )
        .with_received(received())
    })?;
    let pems: Vec<String> = match resp.cert_chain {
        Some(chain) if !chain.is_empty() => chain,
        _ => resp.crt.into_iter().chain(resp.ca).collect(),
    };
    let ders = pems
        .iter()
        .enumerate()
        .map(|(i, p)| match ::pem::parse(p) {
            Ok(block) if block.tag() == "CERTIFICATE" => Ok(block.into_contents()),
            _ => Err(Error::new(
                ErrorKind::MalformedResponse,
                format!("response: chain[{i}] is not a PEM certificate"),
            )),
        })
        .collect::<Result<Vec<_>>>()
        .map_err(|e| e.with_received(received()))?;
    CertificateChain::unparsed(ders).map_err(|e| e.with_received(received()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert!(check_token("token", "a.b.c").is_ok());
        assert_eq!(
            check_token("token", "").unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        let e = check_token("token_provider", "a b").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TokenProvider);
        assert!(!e.message().contains("a b"));
    }

    #[test]
    fn responses() {
        assert_eq!(
            parse_sign_response(b"{}").unwrap_err().kind(),
            ErrorKind::MalformedResponse
        );
        let e = parse_sign_response(b"not json").unwrap_err();
        assert_eq!(e.received(), Some("not json"));
    }
}
