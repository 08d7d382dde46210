//! HTTP transport: one kept-alive ureq agent per client, TLS on rustls through our own
//! connector ([`crate::tls`]) with the aws-lc-rs provider and the client's clock, explicit
//! timeouts, no proxy from the environment, no redirects, bounded bodies, and error
//! mapping to [`ErrorKind`]s.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ureq::unversioned::transport::{ConnectProxyConnector, Connector, TcpConnector};
use ureq::{Agent, Body};

use zeroize::Zeroizing;

use crate::clock::{Clock, rfc3339};
use crate::error::{Error, ErrorKind, Result};
use crate::tls::{Identity, TlsConnector};

/// Largest response body accepted; step-ca's answers are a few KiB.
pub(crate) const MAX_BODY: u64 = 1 << 20;

#[derive(Clone)]
pub(crate) struct TransportConfig {
    /// Roots that step-ca's TLS certificate must lead to; `None`: not verified (opt-in).
    pub(crate) tls_roots: Option<Vec<Vec<u8>>>,
    pub(crate) allow_http: bool,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) proxy: Option<String>,
    pub(crate) retry: RetryPolicy,
    /// The client's clock, for TLS verification and messages.
    pub(crate) clock: Arc<Clock>,
}

/// How failed requests are retried. A request is retried only when it provably never
/// reached the server (so its token was not spent and is sent again), or, for idempotent
/// GETs, after a transport failure or a 5xx. The token provider is asked again only after
/// a token was sent. All attempts together stay within the call's timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, at least 1 (1 = never retry). Default 3.
    pub max_attempts: u32,
    /// Wait before the first retry; doubles each time, with jitter. Default 200 ms.
    pub initial_backoff: Duration,
    /// Upper bound on one wait. Default 2 s.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Whether `e` may be retried.
    pub(crate) fn retryable(e: &Error, idempotent: bool) -> bool {
        e.unsent
            || (idempotent
                && (matches!(e.kind(), ErrorKind::Transport | ErrorKind::Timeout)
                    || (e.kind() == ErrorKind::CaRejected
                        && e.http_status().is_some_and(|s| s >= 500))))
    }

    /// The wait before retry number `retry` (1-based): exponential, jittered.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << (retry - 1).min(16))
            .min(self.max_backoff);
        let mut r = [0u8; 4];
        let _ = aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut r);
        // Between half and all of the base, so retries from many threads spread out.
        base / 2 + base.mul_f64(f64::from(u32::from_le_bytes(r)) / f64::from(u32::MAX) / 2.0)
    }

    /// Runs `attempt` until it succeeds, fails for good, runs out of attempts, or the next
    /// wait would pass `deadline`.
    pub(crate) fn run<T>(
        &self,
        idempotent: bool,
        deadline: Instant,
        mut attempt: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        let mut n = 1;
        loop {
            match attempt() {
                Ok(v) => return Ok(v),
                Err(e) if n < self.max_attempts && Self::retryable(&e, idempotent) => {
                    let wait = self.backoff(n);
                    if Instant::now() + wait >= deadline {
                        log::debug!(target: "stepca::http", "not retried: the call's timeout would pass first: {e}");
                        return Err(e);
                    }
                    log::info!(
                        target: "stepca::http",
                        "retry {n} of {} in {} ms, {}: {e}",
                        self.max_attempts - 1,
                        wait.as_millis(),
                        if e.unsent { "the request never reached the CA" } else { "an idempotent request" },
                    );
                    std::thread::sleep(wait);
                    n += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// An HTTP answer: status, body, and the server's `Date`.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) date: Option<SystemTime>,
}

/// The operating system's roots, read at each call: kept by the client that uses them,
/// never in a process-wide cache.
pub(crate) fn system_roots() -> Result<Vec<Vec<u8>>> {
    let found = rustls_native_certs::load_native_certs();
    let roots: Vec<Vec<u8>> = found.certs.into_iter().map(|c| c.to_vec()).collect();
    if roots.is_empty() {
        return Err(Error::invalid(
            "root",
            "no system root certificates were found; configure a root",
        ));
    }
    Ok(roots)
}

/// Builds an agent that verifies the server with `cfg`'s roots at `cfg`'s clock and, with
/// `identity`, presents it as its TLS client certificate.
pub(crate) fn agent(cfg: &TransportConfig, identity: Option<&Identity>) -> Result<Agent> {
    let tls = crate::tls::client_config(cfg.tls_roots.as_deref(), &cfg.clock, identity)?;
    let proxy = match &cfg.proxy {
        None => None,
        Some(p) => {
            Some(ureq::Proxy::new(p).map_err(|e| Error::invalid("proxy", format!("{p:?}: {e}")))?)
        }
    };
    let builder = Agent::config_builder()
        .https_only(!cfg.allow_http)
        .http_status_as_error(false)
        .proxy(proxy)
        // A redirect could carry a token to another host; step-ca never redirects.
        .max_redirects(0)
        .timeout_connect(Some(cfg.connect_timeout))
        .timeout_global(Some(cfg.timeout))
        // Enough idle connections for many threads sharing one client.
        .max_idle_connections(128)
        .max_idle_connections_per_host(128)
        // step-ca closes idle connections after 15 s; never reuse one it may be closing.
        .max_idle_age(Duration::from_secs(10))
        .user_agent(concat!("libstepca/", env!("CARGO_PKG_VERSION")));
    // ureq's own chain, with our TLS: CONNECT through a proxy, TCP, then TLS.
    let connector =
        ().chain(ConnectProxyConnector::default())
            .chain(TcpConnector::default())
            .chain(TlsConnector(tls));
    Ok(Agent::with_parts(
        builder.build(),
        connector,
        CachingResolver::default(),
    ))
}

/// How long a resolved host name is reused.
const DNS_TTL: Duration = Duration::from_secs(30);

/// ureq resolves the host before every request, on a new thread when a timeout is set
/// (measured: one thread spawn per enrollment). IP literals need no lookup at all, and
/// names are kept for [`DNS_TTL`].
#[derive(Debug, Default)]
struct CachingResolver {
    inner: ureq::unversioned::resolver::DefaultResolver,
    cache: std::sync::Mutex<
        std::collections::HashMap<
            String,
            (Instant, ureq::unversioned::resolver::ResolvedSocketAddrs),
        >,
    >,
}

impl ureq::unversioned::resolver::Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> std::result::Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        if let Some(auth) = uri.authority() {
            let port = auth
                .port_u16()
                .unwrap_or(if uri.scheme_str() == Some("http") {
                    80
                } else {
                    443
                });
            let host = auth.host().trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = host.parse::<std::net::IpAddr>() {
                let mut addrs = self.empty();
                addrs.push(std::net::SocketAddr::new(ip, port));
                return Ok(addrs);
            }
            let key = auth.as_str().to_string();
            if let Ok(cache) = self.cache.lock()
                && let Some((at, addrs)) = cache.get(&key)
                && at.elapsed() < DNS_TTL
            {
                return Ok(addrs.clone());
            }
            let addrs = self.inner.resolve(uri, config, timeout)?;
            if let Ok(mut cache) = self.cache.lock() {
                cache.insert(key, (Instant::now(), addrs.clone()));
            }
            return Ok(addrs);
        }
        self.inner.resolve(uri, config, timeout)
    }
}

fn read_body(what: &str, body: &mut Body, clock: &Clock) -> Result<Vec<u8>> {
    body.with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| map_ureq_error(what, e, clock))
}

fn remaining(what: &str, deadline: Instant) -> Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        let mut e = Error::new(ErrorKind::Timeout, format!("{what}: timed out"));
        e.unsent = true;
        return Err(e);
    }
    Ok(left)
}

/// One HTTP exchange: `body` is POSTed as JSON (`None`: a GET), with an optional
/// `Authorization: Bearer` token. `what` names the operation in errors.
pub(crate) struct Request<'a> {
    pub(crate) what: &'a str,
    pub(crate) url: &'a str,
    pub(crate) body: Option<&'a [u8]>,
    pub(crate) bearer: Option<&'a str>,
}

/// Sends `req`, which must complete before `deadline`. Any status is an answer here.
pub(crate) fn send(
    agent: &Agent,
    clock: &Clock,
    req: &Request<'_>,
    deadline: Instant,
) -> Result<Response> {
    let what = req.what;
    let left = remaining(what, deadline)?;
    let method = if req.body.is_some() { "POST" } else { "GET" };
    let started = Instant::now();
    log::debug!(target: "stepca::http", "{what}: {method} {}", path_of(req.url));
    let auth = req
        .bearer
        .map(|token| Zeroizing::new(format!("Bearer {token}")));
    let result = match req.body {
        Some(body) => {
            let mut r = agent
                .post(req.url)
                .config()
                .timeout_global(Some(left))
                .build()
                .header("Content-Type", "application/json");
            if let Some(a) = &auth {
                r = r.header("Authorization", a.as_str());
            }
            r.send(body)
        }
        None => {
            let mut r = agent
                .get(req.url)
                .config()
                .timeout_global(Some(left))
                .build();
            if let Some(a) = &auth {
                r = r.header("Authorization", a.as_str());
            }
            r.call()
        }
    };
    let mut resp = result.map_err(|e| {
        let e = map_ureq_error(what, e, clock);
        log::debug!(target: "stepca::http", "{what}: failed after {} ms: {e}", started.elapsed().as_millis());
        e
    })?;
    let status = resp.status().as_u16();
    log::debug!(target: "stepca::http", "{what}: HTTP {status} after {} ms", started.elapsed().as_millis());
    let date = resp
        .headers()
        .get("date")
        .and_then(|v| v.to_str().ok())
        .and_then(crate::clock::parse_http_date);
    let body = read_body(what, resp.body_mut(), clock)?;
    Ok(Response { status, body, date })
}

/// A URL's path and query, for logs: never its scheme, host or user information.
fn path_of(url: &str) -> &str {
    let after = url.find("://").map_or(url, |i| &url[i + 3..]);
    after.find('/').map_or("/", |i| &after[i..])
}

fn is_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// A TLS failure about time, in words that point at the clock: step-ca's certificate is
/// not valid yet or no longer, at the time the client used.
fn tls_time_failure(r: &rustls::Error, clock: &Clock) -> Option<String> {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(cert) = r else {
        return None;
    };
    let (what, at, used) = match cert {
        C::NotValidYetContext { time, not_before } => ("is not valid before", not_before, time),
        C::ExpiredContext { time, not_after } => ("expired at", not_after, time),
        _ => return None,
    };
    Some(format!(
        "TLS failure: the CA's certificate {what} {}, and {} says it is {}: if that clock is \
         wrong, set it or give the client a time source",
        rfc3339(at.as_secs() as i64),
        clock.whose(),
        rfc3339(used.as_secs() as i64)
    ))
}

/// Maps a transport failure of operation `what` to our error kinds.
pub(crate) fn map_ureq_error(what: &str, e: ureq::Error, clock: &Clock) -> Error {
    let (kind, detail) = match &e {
        ureq::Error::Timeout(t) => (ErrorKind::Timeout, format!("timed out ({t})")),
        ureq::Error::Rustls(r) => (
            ErrorKind::Tls,
            tls_time_failure(r, clock).unwrap_or_else(|| format!("TLS failure: {r}")),
        ),
        ureq::Error::Tls(t) => (ErrorKind::Tls, format!("TLS failure: {t}")),
        ureq::Error::Io(io) if is_tls(io) => (
            ErrorKind::Tls,
            format!(
                "TLS failure: {}",
                io.get_ref()
                    .map_or_else(|| io.to_string(), |i| i.to_string())
            ),
        ),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            (ErrorKind::Timeout, format!("timed out ({io})"))
        }
        ureq::Error::Io(io) => (ErrorKind::Transport, format!("connection failed: {io}")),
        ureq::Error::HostNotFound => (ErrorKind::Transport, "host not found".to_string()),
        ureq::Error::ConnectionFailed => (ErrorKind::Transport, "connection failed".to_string()),
        ureq::Error::BodyExceedsLimit(n) => (
            ErrorKind::MalformedResponse,
            format!("response body larger than the {n}-byte limit"),
        ),
        ureq::Error::RequireHttpsOnly(u) => {
            return Error::invalid(
                "ca_url",
                format!("{u} is not https and plain http was not allowed"),
            )
            .with_source(e);
        }
        ureq::Error::Protocol(p) => (
            ErrorKind::MalformedResponse,
            format!("HTTP protocol error: {p}"),
        ),
        ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => (
            ErrorKind::MalformedResponse,
            "the CA answered with a redirect, which is not followed".to_string(),
        ),
        other => (ErrorKind::Transport, other.to_string()),
    };
    let mut err = Error::new(kind, format!("{what}: {detail}"));
    err.unsent = is_unsent(&e);
    err.with_source(e)
}

/// Whether the failure happened before any byte of the request could reach the server.
fn is_unsent(e: &ureq::Error) -> bool {
    use ureq::Timeout;
    match e {
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => true,
        ureq::Error::Timeout(Timeout::Connect | Timeout::Resolve) => true,
        ureq::Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::HostUnreachable
                | std::io::ErrorKind::NetworkUnreachable
                | std::io::ErrorKind::AddrNotAvailable
        ),
        _ => false,
    }
}

/// The error for a non-success HTTP status, carrying step-ca's `message` when present
/// (either error shape: `{status,message}` or `{type,detail,message}`).
pub(crate) fn status_error(what: &str, resp: &Response) -> Error {
    // Bounded: an error body is the peer's to choose, and may be huge or binary.
    const MAX_DETAIL: usize = 300;
    const MAX_CA_MESSAGE: usize = 4096;
    let clean = |text: &str, max: usize| -> String {
        let mut out: String = text
            .trim()
            .chars()
            .take(max)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if text.trim().chars().nth(max).is_some() {
            out.push('…');
        }
        out
    };
    let ca_message = serde_json::from_slice::<serde_json::Value>(&resp.body)
        .ok()
        .and_then(|v| {
            ["message", "detail"].iter().find_map(|k| {
                v.get(k)
                    .and_then(|m| m.as_str())
                    .map(|m| clean(m, MAX_CA_MESSAGE))
            })
        });
    let detail = match &ca_message {
        Some(m) => clean(m, MAX_DETAIL),
        None => {
            let text = clean(&String::from_utf8_lossy(&resp.body), MAX_DETAIL);
            if text.is_empty() {
                "no message".to_string()
            } else {
                text
            }
        }
    };
    Error::new(
        ErrorKind::CaRejected,
        format!("{what}: step-ca answered HTTP {}: {detail}", resp.status),
    )
    .with_http(resp.status, ca_message)
}
