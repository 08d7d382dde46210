//! The step-ca client: one room for every endpoint.
//!
//! - [`builder`]: [`ClientBuilder`], the configuration checked once at build;
//! - [`request`]: the one request primitive every endpoint goes through (deadline,
//!   retries, authorisation, status, errors, issued-chain checks);
//! - one file per endpoint group: [`sign`], [`renew`] (renew, rekey), [`revoke`],
//!   [`info`] (health, version, roots, provisioners).
//!
//! A [`Client`] is immutable once built, `Send + Sync`, and keeps its connections alive
//! across calls: share one between threads rather than building one per request.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ureq::Agent;

use crate::chain::{Anchors, SignatureMemo};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::http::TransportConfig;
use crate::token::TokenProvider;

mod builder;
mod info;
mod renew;
mod request;
mod revoke;
mod sign;

pub use builder::ClientBuilder;
pub use renew::{RenewAuth, renew_after};
pub(crate) use renew::{random_below, renew_after_at};
#[cfg(feature = "fuzzing")]
pub(crate) use request::parse_sign_response;
pub use revoke::{RevokeOptions, normalize_serial};
pub use sign::SignOptions;

/// Default time allowed to establish a TCP connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time allowed for a whole call (connect, TLS, request and response).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest token accepted from a caller or provider.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// A parsed CA URL.
#[derive(Debug, Clone)]
pub(crate) struct CaUrl {
    /// The URL without a trailing slash; endpoints are appended to it.
    pub(crate) base: String,
    /// `https://host[:port]`, the origin token audiences are built from.
    pub(crate) origin: String,
}

impl CaUrl {
    pub(crate) fn parse(s: &str, allow_http: bool) -> Result<CaUrl> {
        let uri: ureq::http::Uri = s
            .parse()
            .map_err(|e| Error::invalid("ca_url", format!("{s:?} is not a valid URL ({e})")))?;
        let scheme = uri.scheme_str().unwrap_or("");
        match scheme {
            "https" => {}
            "http" if allow_http => {}
            "http" => {
                return Err(Error::invalid(
                    "ca_url",
                    "plain http is refused; opt in explicitly to allow it",
                ));
            }
            _ => {
                return Err(Error::invalid(
                    "ca_url",
                    format!("{s:?} must start with https://"),
                ));
            }
        }
        let authority = uri
            .authority()
            .filter(|a| !a.host().is_empty())
            .ok_or_else(|| Error::invalid("ca_url", format!("{s:?} has no host")))?;
        if authority.as_str().contains('@') {
            return Err(Error::invalid(
                "ca_url",
                "credentials in the URL are not supported",
            ));
        }
        if uri.query().is_some() || s.contains('#') {
            return Err(Error::invalid(
                "ca_url",
                "must not have a query or fragment",
            ));
        }
        let base = format!("{scheme}://{authority}{}", uri.path().trim_end_matches('/'));
        Ok(CaUrl {
            base,
            origin: format!("https://{authority}"),
        })
    }
}

pub(crate) struct Inner {
    pub(crate) url: CaUrl,
    pub(crate) agent: Agent,
    pub(crate) transport: TransportConfig,
    /// The configured roots (DER); empty with system roots.
    pub(crate) roots: Vec<Vec<u8>>,
    /// What issued chains must lead to: the configured roots, else the system's (empty
    /// only with TLS verification off and no root).
    pub(crate) anchors: Anchors,
    /// Signatures of issued chains that verified (the intermediate's, above all).
    pub(crate) signatures: SignatureMemo,
    pub(crate) provisioner: Option<String>,
}

/// A step-ca client. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    pub(crate) token_provider: Option<Arc<dyn TokenProvider>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("ca_url", &self.inner.url.base)
            .field("provisioner", &self.inner.provisioner)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The CA URL, as used for requests (no trailing slash).
    pub fn ca_url(&self) -> &str {
        &self.inner.url.base
    }

    /// The audience a sign token must carry.
    pub fn sign_audience(&self) -> String {
        format!("{}/1.0/sign", self.inner.url.origin)
    }

    /// The audience a revoke token must carry.
    pub fn revoke_audience(&self) -> String {
        format!("{}/1.0/revoke", self.inner.url.origin)
    }

    /// The same client (sharing its connections) with another token provider.
    pub fn with_token_provider(&self, provider: Arc<dyn TokenProvider>) -> Client {
        Client {
            inner: self.inner.clone(),
            token_provider: Some(provider),
        }
    }

    /// The roots this client trusts, as DER (empty when it uses the system roots).
    pub fn roots(&self) -> &[Vec<u8>] {
        &self.inner.roots
    }

    /// The client's time: its time source or the system clock, or the CA's clock once
    /// measured in CA-time mode.
    pub fn now(&self) -> SystemTime {
        self.clock().now()
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.inner.transport.clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = CaUrl::parse("https://127.0.0.1:9000/", false).unwrap();
        assert_eq!(u.base, "https://127.0.0.1:9000");
        assert_eq!(u.origin, "https://127.0.0.1:9000");
        let u = CaUrl::parse("https://ca.example/step", false).unwrap();
        assert_eq!(u.base, "https://ca.example/step");
        assert_eq!(u.origin, "https://ca.example");
        let e = CaUrl::parse("http://127.0.0.1:9000", false).unwrap_err();
        assert!(e.message().starts_with("ca_url: "), "{e}");
        assert!(CaUrl::parse("http://127.0.0.1:9000", true).is_ok());
        for bad in [
            "",
            "ftp://x",
            "https://",
            "127.0.0.1:9000",
            "https://a/?q=1",
            "https://u:p@a/",
        ] {
            assert!(CaUrl::parse(bad, true).is_err(), "{bad}");
        }
    }
}
