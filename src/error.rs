//! Errors of the Rust API.
//!
//! Every failure carries an [`ErrorKind`] (mapped one to one onto the C status codes), a
//! human-readable message that names the offending field, and, for answers from step-ca,
//! the HTTP status and step-ca's own `message`. Messages never contain key material,
//! passphrases or tokens.

use std::fmt;

/// What went wrong, coarsely. Each kind maps to one stable C status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A parameter had an invalid value (the message names it).
    InvalidArgument,
    /// The private key could not be decoded, or is of an unsupported type.
    Key,
    /// The key is encrypted and the passphrase is missing or wrong.
    KeyPassphrase,
    /// A CSR could not be built, or a CSR given to us is invalid.
    Csr,
    /// The token provider reported a failure or returned no usable token.
    TokenProvider,
    /// Neither a per-call token nor a token provider was available.
    NoToken,
    /// An external signer failed.
    Signer,
    /// Connecting or talking to the CA failed below TLS (refused, reset, DNS...).
    Transport,
    /// The TLS handshake failed (untrusted or invalid server certificate, protocol).
    Tls,
    /// The call did not complete within its timeout.
    Timeout,
    /// The client's time (the device's clock or its time source) is outside what the
    /// configured roots allow: the clock is wrong.
    Clock,
    /// The CA answered with an HTTP error status.
    CaRejected,
    /// The CA's answer could not be understood.
    MalformedResponse,
    /// The issued certificate does not match the CSR key, or the chain does not verify.
    ChainInvalid,
    /// A feature that this build or this key does not support.
    Unsupported,
    /// Bootstrapping by fingerprint failed: no such root, or the root sent does not match.
    Fingerprint,
    /// A file could not be written or read (the message names the path); what was being
    /// written is not lost (see [`crate::Renewer`]).
    Io,
    /// A bug in libstepca.
    Internal,
}

/// The error type of every fallible call in this crate.
pub struct Error {
    kind: ErrorKind,
    message: String,
    http_status: Option<u16>,
    ca_message: Option<String>,
    received: Option<String>,
    clock_skew: Option<i64>,
    /// The request provably never reached the server (refused, no route, DNS, connect
    /// timeout): retrying it cannot spend a token twice.
    pub(crate) unsent: bool,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A new error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            http_status: None,
            ca_message: None,
            received: None,
            clock_skew: None,
            unsent: false,
            source: None,
        }
    }

    /// An [`ErrorKind::InvalidArgument`] error naming `field`.
    pub fn invalid(field: &str, why: impl fmt::Display) -> Self {
        Error::new(ErrorKind::InvalidArgument, format!("{field}: {why}"))
    }

    pub(crate) fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    pub(crate) fn with_http(mut self, status: u16, ca_message: Option<String>) -> Self {
        self.http_status = Some(status);
        self.ca_message = ca_message;
        self
    }

    pub(crate) fn with_received(mut self, received: String) -> Self {
        self.received = Some(received);
        self
    }

    /// Records the measured offset of the client's clock from the CA's, and says it in
    /// the message when `note` is given (the offset passes step-ca's leeway).
    pub(crate) fn with_clock_skew(mut self, skew: i64, note: Option<String>) -> Self {
        self.clock_skew = Some(skew);
        if let Some(note) = note {
            self.message = format!("{}; {note}", self.message);
        }
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The full message (also what `Display` prints).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status the CA answered with, when the failure came from an HTTP answer.
    pub fn http_status(&self) -> Option<u16> {
        self.http_status
    }

    /// step-ca's own `message` field, when it sent one.
    pub fn ca_message(&self) -> Option<&str> {
        self.ca_message.as_deref()
    }

    /// What the CA sent when it answered with success but the answer was rejected here
    /// (for example a chain that does not verify): an issued certificate is never dropped
    /// silently. PEM or the raw body.
    pub fn received(&self) -> Option<&str> {
        self.received.as_deref()
    }

    /// How far the client's clock was from the CA's when the call failed, in seconds
    /// (positive: ahead), measured from the `Date` of the CA's answer. `None` when the
    /// failure came without an answer.
    pub fn clock_skew(&self) -> Option<i64> {
        self.clock_skew
    }

    /// Takes the underlying cause out (for example the error a token provider returned).
    pub fn into_source(self) -> Option<Box<dyn std::error::Error + Send + Sync + 'static>> {
        self.source
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("http_status", &self.http_status)
            .field("ca_message", &self.ca_message)
            .field("clock_skew", &self.clock_skew)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
