//! [`ClientBuilder`]: a client's configuration, checked when the client is built.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::chain::{Anchors, certs_from_pem};
use crate::clock::{Clock, TimeSource, rfc3339, unix_secs};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{self, RetryPolicy, TransportConfig};
use crate::token::TokenProvider;

use super::{CaUrl, Client, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, Inner};

/// Builds a [`Client`].
pub struct ClientBuilder {
    ca_url: String,
    /// Configured roots and the field they came from (for messages).
    roots: Option<(Vec<Vec<u8>>, &'static str)>,
    verify_tls: bool,
    time_source: Option<Arc<dyn TimeSource>>,
    ca_time: bool,
    allow_http: bool,
    connect_timeout: Duration,
    timeout: Duration,
    provisioner: Option<String>,
    token_provider: Option<Arc<dyn TokenProvider>>,
    proxy: Option<String>,
    root_fingerprint: Option<String>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("ca_url", &self.ca_url)
            .field("provisioner", &self.provisioner)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// A builder for the CA at `ca_url` (`https://host[:port]`).
    pub fn new(ca_url: &str) -> ClientBuilder {
        ClientBuilder {
            ca_url: ca_url.to_string(),
            roots: None,
            verify_tls: true,
            time_source: None,
            ca_time: false,
            allow_http: false,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            provisioner: None,
            token_provider: None,
            proxy: None,
            root_fingerprint: None,
            retry: RetryPolicy::default(),
        }
    }

    /// How failed requests are retried (see [`RetryPolicy`]).
    pub fn retry_policy(&mut self, policy: RetryPolicy) -> Result<&mut Self> {
        if policy.max_attempts == 0 {
            return Err(Error::invalid("max_attempts", "must be at least 1"));
        }
        if policy.max_backoff < policy.initial_backoff {
            return Err(Error::invalid(
                "max_backoff",
                "must not be less than initial_backoff",
            ));
        }
        self.retry = policy;
        Ok(self)
    }

    /// Bootstraps trust: when the client is built, fetches the CA's root by its SHA-256
    /// fingerprint (hex, `:` and `-` allowed) over an unverified connection, checks the
    /// fingerprint and that it is a self-signed CA, and then trusts only that root.
    pub fn root_fingerprint(&mut self, fingerprint: &str) -> Result<&mut Self> {
        self.root_fingerprint = Some(crate::bootstrap::normalize_fingerprint(fingerprint)?);
        Ok(self)
    }

    /// Trusts only the roots in this PEM bundle (replaces any earlier root setting). Roots
    /// not valid at the client's time are refused when the client is built.
    pub fn root_pem(&mut self, pem: &[u8]) -> Result<&mut Self> {
        self.roots = Some((certs_from_pem("root", pem)?, "root"));
        Ok(self)
    }

    /// Trusts only the roots in this PEM file.
    pub fn root_file(&mut self, path: impl AsRef<Path>) -> Result<&mut Self> {
        let path = path.as_ref();
        let pem = std::fs::read(path)
            .map_err(|e| Error::invalid("root_file", format!("{}: {e}", path.display())))?;
        self.roots = Some((certs_from_pem("root_file", &pem)?, "root_file"));
        Ok(self)
    }

    /// Turns TLS server verification off. Only for tests and bootstrap tools: anyone on the
    /// path can then read the token. Issued chains are still checked, against the
    /// configured root when there is one.
    pub fn danger_disable_tls_verification(&mut self) -> &mut Self {
        self.verify_tls = false;
        self
    }

    /// Takes the time from `source` instead of the system clock, everywhere the client
    /// needs it: token times, step-ca's TLS certificate, issued chains, expiry.
    /// `None` goes back to the system clock.
    pub fn time_source(&mut self, source: Option<Arc<dyn TimeSource>>) -> &mut Self {
        self.time_source = source;
        self
    }

    /// CA-time mode: the client measures the CA's clock from the `Date` of its answers
    /// (a `/health` call before the first token is needed) and uses it from then on, so a
    /// device whose clock is off still gets tokens step-ca accepts. The first connection
    /// is verified at the device's own time (or the time source's), so a clock before the
    /// root's notBefore still fails: give a time source then.
    pub fn ca_time(&mut self, on: bool) -> &mut Self {
        self.ca_time = on;
        self
    }

    /// Allows a plain `http://` CA URL (refused otherwise).
    pub fn allow_insecure_http(&mut self, allow: bool) -> &mut Self {
        self.allow_http = allow;
        self
    }

    /// Time allowed to establish a connection (default 10 s).
    pub fn connect_timeout(&mut self, t: Duration) -> Result<&mut Self> {
        if t.is_zero() {
            return Err(Error::invalid(
                "connect_timeout",
                "must be greater than zero",
            ));
        }
        self.connect_timeout = t;
        Ok(self)
    }

    /// Time allowed for a whole call (default 30 s).
    pub fn timeout(&mut self, t: Duration) -> Result<&mut Self> {
        if t.is_zero() {
            return Err(Error::invalid("timeout", "must be greater than zero"));
        }
        self.timeout = t;
        Ok(self)
    }

    /// The provisioner name, handed to the token provider.
    pub fn provisioner(&mut self, name: &str) -> Result<&mut Self> {
        if name.is_empty() {
            return Err(Error::invalid("provisioner", "must not be empty"));
        }
        self.provisioner = Some(name.to_string());
        Ok(self)
    }

    /// The token provider, called once per sign attempt when no token is given per call.
    pub fn token_provider(&mut self, provider: Arc<dyn TokenProvider>) -> &mut Self {
        self.token_provider = Some(provider);
        self
    }

    /// Sends requests through this HTTP proxy (`http://host:port`). The environment's
    /// proxy variables are never read.
    pub fn proxy(&mut self, url: &str) -> &mut Self {
        self.proxy = Some(url.to_string());
        self
    }

    /// Builds the client. The builder stays usable.
    pub fn build(&self) -> Result<Client> {
        let url = CaUrl::parse(&self.ca_url, self.allow_http)?;
        let clock = Arc::new(Clock::new(self.time_source.clone(), self.ca_time));
        let mut transport = TransportConfig {
            tls_roots: None,
            allow_http: self.allow_http,
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
            proxy: self.proxy.clone(),
            retry: self.retry,
            clock: clock.clone(),
        };
        let configured = match &self.root_fingerprint {
            Some(fp) => Some((
                vec![crate::bootstrap::fetch_root(&transport, &url.base, fp)?],
                "fingerprint",
            )),
            None => self.roots.clone(),
        };
        if let Some((roots, field)) = &configured {
            check_roots_valid(roots, field, &clock)?;
        }
        let roots = configured.map(|(r, _)| r).unwrap_or_default();
        // Issued chains are checked against the configured roots, else the system's.
        let anchors = match (roots.is_empty(), self.verify_tls) {
            (false, _) => roots.clone(),
            (true, true) => http::system_roots()?,
            (true, false) => Vec::new(),
        };
        if self.verify_tls {
            transport.tls_roots = Some(anchors.clone());
        }
        let agent = http::agent(&transport, None)?;
        Ok(Client {
            inner: Arc::new(Inner {
                url,
                agent,
                transport,
                roots,
                anchors: Anchors::new(&anchors),
                signatures: Default::default(),
                provisioner: self.provisioner.clone(),
            }),
            token_provider: self.token_provider.clone(),
        })
    }
}

/// Refuses configured roots that are not valid at the client's time. A root not valid
/// yet means the clock is wrong (no CA issues a root dated in the future).
fn check_roots_valid(roots: &[Vec<u8>], field: &str, clock: &Clock) -> Result<()> {
    let now = unix_secs(clock.now());
    for der in roots {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
            continue; // certs_from_pem and bootstrap parsed them already
        };
        let name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map_or_else(|| "the root".to_string(), |cn| format!("root {cn:?}"));
        let (nb, na) = (
            cert.validity().not_before.timestamp(),
            cert.validity().not_after.timestamp(),
        );
        if now < nb {
            return Err(Error::new(
                ErrorKind::Clock,
                format!(
                    "{field}: {name} is not valid before {}, and {} says it is {}: the clock is \
                     wrong (set it, or give the client a time source)",
                    rfc3339(nb),
                    clock.whose(),
                    rfc3339(now)
                ),
            ));
        }
        if now > na {
            return Err(Error::invalid(
                field,
                format!(
                    "{name} expired at {} ({} says it is {})",
                    rfc3339(na),
                    clock.whose(),
                    rfc3339(now)
                ),
            ));
        }
    }
    Ok(())
}
