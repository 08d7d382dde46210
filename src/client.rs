//! The step-ca client: configuration ([`ClientBuilder`]) and the sign call.
//!
//! A [`Client`] is immutable once built, `Send + Sync`, and keeps its connections alive
//! across calls: share one between threads rather than building one per request.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use ureq::Agent;
use zeroize::Zeroizing;

use crate::chain::{Anchors, CertificateChain, certs_from_pem};
use crate::clock::{Clock, TimeSource, rfc3339, unix_secs};
use crate::csr::Csr;
use crate::error::{Error, ErrorKind, Result};
use crate::http::{self, RetryPolicy, TransportConfig};
use crate::token::{Token, TokenClaims, TokenProvider, TokenPurpose};

/// Default time allowed to establish a TCP connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time allowed for a whole call (connect, TLS, request and response).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest token accepted from a caller or provider.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

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

/// A parsed CA URL.
#[derive(Debug, Clone)]
pub(crate) struct CaUrl {
    /// The URL without a trailing slash; endpoints are appended to it.
    pub(crate) base: String,
    /// `https://host[:port]`, the origin token audiences are built from.
    pub(crate) origin: String,
}

impl CaUrl {
    fn parse(s: &str, allow_http: bool) -> Result<CaUrl> {
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
    pub(crate) provisioner: Option<String>,
}

/// A step-ca client. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    token_provider: Option<Arc<dyn TokenProvider>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("ca_url", &self.inner.url.base)
            .field("provisioner", &self.inner.provisioner)
            .finish_non_exhaustive()
    }
}

/// Per-call options for [`Client::sign`].
#[derive(Clone, Default)]
pub struct SignOptions {
    /// A token for this call; overrides every provider.
    pub token: Option<Token>,
    /// A token provider for this call; overrides the client's provider.
    pub token_provider: Option<Arc<dyn TokenProvider>>,
    /// Requested notBefore, UNIX seconds.
    pub not_before: Option<i64>,
    /// Requested notAfter, UNIX seconds.
    pub not_after: Option<i64>,
    /// JSON for the provisioner's template (`templateData`).
    pub template_data: Option<String>,
}

impl std::fmt::Debug for SignOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignOptions")
            .field("token", &self.token)
            .field("token_provider", &self.token_provider.is_some())
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("template_data", &self.template_data)
            .finish()
    }
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

#[derive(Deserialize)]
struct SignResponse {
    crt: Option<String>,
    ca: Option<String>,
    #[serde(rename = "certChain")]
    cert_chain: Option<Vec<String>>,
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

    /// When a call starting now must be over.
    pub(crate) fn deadline(&self) -> std::time::Instant {
        std::time::Instant::now() + self.inner.transport.timeout
    }

    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.inner.url.base)
    }

    /// The one request primitive: deadline, retries, the token, status, and what the CA's
    /// `Date` says about the clock. Returns 2xx answers only.
    ///
    /// A token is fetched when the first attempt needs it and kept while attempts fail
    /// without reaching step-ca, so that it is sent again rather than a new one spent; a
    /// request that reached step-ca is retried only when it is idempotent (a GET, which
    /// carries no token).
    pub(crate) fn request(&self, call: &Call<'_>) -> Result<http::Response> {
        let deadline = self.deadline();
        if call.token.is_some() && self.clock().needs_ca_time() {
            // The token's times must be the CA's: measure its clock first.
            self.health()?;
        }
        let url = self.endpoint(call.path);
        let agent = call.agent.unwrap_or(&self.inner.agent);
        let mut kept: Option<Token> = None;
        self.inner
            .transport
            .retry
            .run(call.body.is_none(), deadline, || {
                let token = match (call.token, kept.take()) {
                    (None, _) => None,
                    (Some(_), Some(t)) => Some(t),
                    (Some(fetch), None) => Some(fetch()?),
                };
                let text = token.as_ref().map(|t| t.expose().trim());
                let body = call.body.map(|b| b(text)).transpose()?;
                let req = http::Request {
                    what: call.what,
                    url: &url,
                    body: body.as_deref().map(Vec::as_slice),
                    bearer: if call.bearer { text } else { None },
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
            })
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

    /// Asks the per-call provider, else the client's, for a token, and checks its shape.
    pub(crate) fn provider_token(
        &self,
        subject: String,
        sans: Vec<crate::name::San>,
        purpose: TokenPurpose,
        per_call: Option<&Arc<dyn TokenProvider>>,
    ) -> Result<Token> {
        let provider = per_call.or(self.token_provider.as_ref()).ok_or_else(|| {
            Error::new(
                ErrorKind::NoToken,
                "token: no token was given and the client has no token provider",
            )
        })?;
        let claims = TokenClaims {
            subject,
            sans,
            audience: match purpose {
                TokenPurpose::Sign => self.sign_audience(),
                TokenPurpose::Revoke => self.revoke_audience(),
            },
            provisioner: self.inner.provisioner.clone(),
            purpose,
            now: self.now(),
        };
        let token = provider.token(&claims).map_err(|e| {
            Error::new(
                ErrorKind::TokenProvider,
                format!("token_provider: failed: {e}"),
            )
            .with_source(e)
        })?;
        check_token("token_provider", token.expose().trim())?;
        Ok(token)
    }

    /// The token for a sign or revoke call: the per-call token, else a provider's.
    pub(crate) fn call_token(
        &self,
        token: Option<&Token>,
        per_call: Option<&Arc<dyn TokenProvider>>,
        subject: &str,
        sans: &[crate::name::San],
        purpose: TokenPurpose,
    ) -> Result<Token> {
        match token {
            Some(t) => {
                // Token files end in a newline; that is not part of the token.
                check_token("token", t.expose().trim())?;
                Ok(t.clone())
            }
            None => self.provider_token(subject.to_string(), sans.to_vec(), purpose, per_call),
        }
    }

    /// Exchanges a CSR (PEM or DER) for a certificate chain at `/1.0/sign`.
    ///
    /// The token comes from `opts.token`, else from `opts.token_provider`, else from the
    /// client's provider, asked once per call. Everything local (CSR self-signature,
    /// validity times, template JSON) is checked before the token is fetched, so no token
    /// is spent on a request that could not succeed. The returned chain's leaf carries the
    /// CSR's key and the chain is a valid path to the configured root at the client's time.
    /// A sign request is retried, with the same token, only when it never reached step-ca.
    pub fn sign(&self, csr: &[u8], opts: &SignOptions) -> Result<CertificateChain> {
        let (csr, info) = Csr::from_pem_or_der(csr)?;
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
        let fetch = || {
            self.call_token(
                opts.token.as_ref(),
                opts.token_provider.as_ref(),
                &subject,
                &info.sans,
                TokenPurpose::Sign,
            )
        };
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
        let resp = self.request(&Call {
            what: "sign",
            path: "/1.0/sign",
            body: Some(&body),
            token: Some(&fetch),
            ..Call::default()
        })?;
        // A certificate asked to start later is checked at the time it is meant to start.
        let from = opts
            .not_before
            .filter(|nb| *nb > self.clock().now_secs())
            .map(|nb| SystemTime::UNIX_EPOCH + Duration::from_secs(nb as u64));
        self.issued_chain("sign", &resp, &info.spki, from)
    }

    /// Reads the chain step-ca answered to a sign, renew or rekey request, and checks that
    /// its leaf carries `spki` and that it is a valid path to the configured roots at the
    /// client's time (or at `at`, for a certificate requested to start later). A chain that
    /// fails the check is attached to the error, so an issued certificate is never lost.
    pub(crate) fn issued_chain(
        &self,
        what: &str,
        resp: &http::Response,
        spki: &[u8],
        at: Option<SystemTime>,
    ) -> Result<CertificateChain> {
        let chain = parse_sign_response(&resp.body)?;
        chain
            .verify_anchored(spki, &self.inner.anchors, at.unwrap_or_else(|| self.now()))
            .map_err(|e| {
                let e = Error::new(e.kind(), format!("{what}: {}", e.message()))
                    .with_received(chain.to_pem());
                self.with_skew(e, resp)
            })?;
        Ok(chain)
    }
}

/// The body of a POST, built for each attempt from the token it carries (if any).
pub(crate) type BodyFn<'a> = dyn Fn(Option<&str>) -> Result<Zeroizing<Vec<u8>>> + 'a;

/// One call to step-ca, for [`Client::request`].
#[derive(Default)]
pub(crate) struct Call<'a> {
    /// Names the operation in errors.
    pub(crate) what: &'static str,
    pub(crate) path: &'a str,
    /// A POST's JSON body; `None`: a GET (idempotent, retried after failures and 5xx).
    pub(crate) body: Option<&'a BodyFn<'a>>,
    /// Fetches the call's token (see [`Client::request`]).
    pub(crate) token: Option<&'a dyn Fn() -> Result<Token>>,
    /// The token goes in `Authorization: Bearer` rather than the body.
    pub(crate) bearer: bool,
    /// Another agent, for mutual TLS.
    pub(crate) agent: Option<&'a Agent>,
}

/// Reads a sign/renew/rekey answer: `certChain`, falling back to `crt` + `ca`.
pub(crate) fn parse_sign_response(body: &[u8]) -> Result<CertificateChain> {
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
    CertificateChain::from_der(ders).map_err(|e| e.with_received(received()))
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
