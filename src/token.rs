//! One-time tokens: the [`Token`] secret and the [`TokenProvider`] that supplies one per
//! sign attempt, with the [`TokenClaims`] it needs to pick or mint it.

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::name::{San, SanKind};

/// A bearer secret (a step-ca one-time token). Zeroized on drop; never printed.
#[derive(Clone)]
pub struct Token(Zeroizing<String>);

impl Token {
    /// Wraps a token string.
    pub fn new(token: impl Into<String>) -> Token {
        Token(Zeroizing::new(token.into()))
    }

    /// The token text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl From<String> for Token {
    fn from(s: String) -> Token {
        Token::new(s)
    }
}

impl From<&str> for Token {
    fn from(s: &str) -> Token {
        Token::new(s)
    }
}

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    /// `/1.0/sign`: `subject` is the CSR's CN, `sans` its SANs.
    Sign,
    /// `/1.0/revoke`: `subject` is the certificate's serial number in decimal; no SANs.
    Revoke,
}

/// What a token provider is told about the request it must authorise.
///
/// step-ca requires the token's `sub` to equal the CSR's CN (or a SAN) and the token's
/// `sans` to equal the CSR's SANs, per type; everything needed to mint one is here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// The CSR's subject commonName ("" when it has none).
    pub subject: String,
    /// Every SAN of the CSR, in order.
    pub sans: Vec<San>,
    /// The audience the token must carry (`https://host:port/1.0/sign`).
    pub audience: String,
    /// The provisioner configured on the client, if any.
    pub provisioner: Option<String>,
    /// What the token is for.
    pub purpose: TokenPurpose,
    /// The client's time (its time source, or the CA's clock in CA-time mode): what a
    /// minted token's `iat`/`nbf`/`exp` must be based on, rather than the system clock.
    pub now: std::time::SystemTime,
    /// For a sign token: the SHA-256 of the CSR's DER, base64url without padding, which
    /// step-ca compares with a token's `cnf` `x5rt#S256` claim. A token carrying it is good
    /// for this CSR only. `None` for revoke tokens.
    pub csr_fingerprint: Option<String>,
    /// For a sign token: the notAfter the call requests, if any (an X5C provisioner refuses
    /// one past its factory certificate's notAfter).
    pub not_after: Option<std::time::SystemTime>,
}

impl TokenClaims {
    /// The SANs of one kind, as strings.
    pub fn sans_of(&self, kind: SanKind) -> Vec<String> {
        self.sans
            .iter()
            .filter(|s| s.kind() == kind)
            .map(ToString::to_string)
            .collect()
    }

    /// Every SAN as the strings a step token's `sans` claim holds.
    pub fn san_strings(&self) -> Vec<String> {
        self.sans.iter().map(ToString::to_string).collect()
    }
}

/// The error type token providers return.
pub type ProviderError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Supplies one-time tokens. Called synchronously on the caller's thread, once per sign
/// attempt; a client shared between threads may call it from several threads at once.
pub trait TokenProvider: Send + Sync {
    /// Returns a token for `claims`.
    fn token(&self, claims: &TokenClaims) -> Result<Token, ProviderError>;
}

impl<F> TokenProvider for F
where
    F: Fn(&TokenClaims) -> Result<Token, ProviderError> + Send + Sync,
{
    fn token(&self, claims: &TokenClaims) -> Result<Token, ProviderError> {
        self(claims)
    }
}

/// What authorises a sign or revoke call: a token, or something that makes one for it.
/// Sign and revoke options hold one; without it the client's provider is asked.
#[derive(Clone)]
pub enum TokenSource {
    /// A one-time token made elsewhere (`step ca token`); the call spends it.
    Token(Token),
    /// Asked once per call with the call's [`TokenClaims`]: a callback, or an in-process
    /// provisioner such as a [`JwkProvisioner`](crate::JwkProvisioner).
    Provider(Arc<dyn TokenProvider>),
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Token(_) => f.write_str("TokenSource::Token(<redacted>)"),
            TokenSource::Provider(_) => f.write_str("TokenSource::Provider(..)"),
        }
    }
}

impl From<Token> for TokenSource {
    fn from(t: Token) -> TokenSource {
        TokenSource::Token(t)
    }
}

impl From<Arc<dyn TokenProvider>> for TokenSource {
    fn from(p: Arc<dyn TokenProvider>) -> TokenSource {
        TokenSource::Provider(p)
    }
}

impl From<crate::JwkProvisioner> for TokenSource {
    fn from(p: crate::JwkProvisioner) -> TokenSource {
        TokenSource::Provider(Arc::new(p))
    }
}

impl From<crate::X5cProvisioner> for TokenSource {
    fn from(p: crate::X5cProvisioner) -> TokenSource {
        TokenSource::Provider(Arc::new(p))
    }
}
