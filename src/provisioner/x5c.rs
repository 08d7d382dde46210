//! X5C provisioner tokens minted in process: signed by a device's factory credential (its
//! birth certificate, an IDevID, and the key in memory or held in a secure element or
//! PKCS#11 token), with the factory chain in the `x5c` header. step-ca's X5C provisioner
//! trusts the factory CA and trades such a token for an operational certificate.
//!
//! What step-ca v0.30.2 checks (authority/provisioner/x5c.go): the chain verifies to the
//! provisioner's roots for clientAuth at its time, the leaf has digitalSignature, `iss` is
//! the provisioner's name, `aud` is the sign or revoke URL with `#x5c/<name>`, and the
//! issued certificate ends no later than the leaf.

use std::time::{Duration, SystemTime};

use x509_parser::prelude::*;

use super::{DEFAULT_TOKEN_LIFETIME, Mint, check_lifetime};
use crate::clock::{rfc3339, unix_secs};
use crate::credential::Credential;
use crate::error::{Error, ErrorKind, Result};
use crate::token::{ProviderError, Token, TokenClaims, TokenProvider, TokenPurpose};

/// An X5C provisioner able to mint sign and revoke tokens with a factory credential. Use
/// it as a [`TokenProvider`]: its sign tokens are then bound to the CSR (`cnf`) unless
/// [`bind_to_csr`](Self::bind_to_csr) turns that off.
#[derive(Debug, Clone)]
pub struct X5cProvisioner {
    name: String,
    factory: Credential,
    lifetime: Duration,
    bind_to_csr: bool,
    /// The factory leaf's validity, UNIX seconds.
    not_before: i64,
    not_after: i64,
}

impl X5cProvisioner {
    /// The X5C provisioner `name` at the CA, with `factory`: the device's birth
    /// certificate (leaf first, then the factory intermediates) and its key. A certificate
    /// step-ca would refuse is refused here: one without digitalSignature in its keyUsage,
    /// or whose extendedKeyUsage lacks clientAuth (errors name `factory`).
    pub fn new(name: &str, factory: Credential) -> Result<X5cProvisioner> {
        if name.is_empty() {
            return Err(Error::invalid("name", "must not be empty"));
        }
        let bad = |why: &str| Error::invalid("factory", format!("the certificate {why}"));
        let (_, leaf) = X509Certificate::from_der(factory.chain().leaf())
            .map_err(|_| bad("is not a valid X.509 certificate"))?;
        match leaf.key_usage() {
            Ok(Some(ku)) if ku.value.digital_signature() => {}
            Ok(Some(_)) => {
                return Err(bad(
                    "has a keyUsage without digitalSignature, which step-ca's X5C provisioner \
                     requires",
                ));
            }
            Ok(None) => {
                return Err(bad(
                    "has no keyUsage extension; step-ca's X5C provisioner requires \
                     digitalSignature",
                ));
            }
            Err(_) => return Err(bad("has a malformed keyUsage extension")),
        }
        match leaf.extended_key_usage() {
            // Go's chain verification for clientAuth accepts a leaf without the extension.
            Ok(None) => {}
            Ok(Some(eku)) if eku.value.client_auth || eku.value.any => {}
            Ok(Some(_)) => {
                return Err(bad(
                    "has an extendedKeyUsage without clientAuth, which step-ca's X5C \
                     provisioner requires",
                ));
            }
            Err(_) => return Err(bad("has a malformed extendedKeyUsage extension")),
        }
        let validity = leaf.validity();
        let (not_before, not_after) = (
            validity.not_before.timestamp(),
            validity.not_after.timestamp(),
        );
        Ok(X5cProvisioner {
            name: name.to_string(),
            factory,
            lifetime: DEFAULT_TOKEN_LIFETIME,
            bind_to_csr: true,
            not_before,
            not_after,
        })
    }

    /// Sets the lifetime of minted tokens (default 5 minutes; 10 s to 1 h).
    pub fn set_lifetime(&mut self, lifetime: Duration) -> Result<()> {
        check_lifetime(lifetime)?;
        self.lifetime = lifetime;
        Ok(())
    }

    /// Whether sign tokens minted as a [`TokenProvider`] carry the CSR's fingerprint in
    /// `cnf` (default on).
    pub fn bind_to_csr(&mut self, on: bool) {
        self.bind_to_csr = on;
    }

    /// The provisioner's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The factory credential.
    pub fn factory(&self) -> &Credential {
        &self.factory
    }

    /// Refuses a factory certificate that is not valid at `now`, as step-ca would.
    fn check_time(&self, now: SystemTime) -> Result<()> {
        let t = unix_secs(now);
        if t < self.not_before {
            return Err(Error::new(
                ErrorKind::Clock,
                format!(
                    "factory: the certificate is not valid before {}, and the client's time is \
                     {}: the clock is wrong, or the certificate is not in force yet",
                    rfc3339(self.not_before),
                    rfc3339(t)
                ),
            ));
        }
        if t > self.not_after {
            return Err(Error::invalid(
                "factory",
                format!(
                    "the certificate expired at {} (the client's time is {})",
                    rfc3339(self.not_after),
                    rfc3339(t)
                ),
            ));
        }
        Ok(())
    }

    fn mint(&self, mint: Mint<'_>) -> Result<Token> {
        self.check_time(mint.now)?;
        let token = self.factory.jws("x5c", &mint.claims()?)?;
        Ok(Token::new(token.as_str()))
    }

    fn base<'a>(&'a self, sub: &'a str, audience: &str, now: SystemTime) -> Mint<'a> {
        Mint {
            iss: &self.name,
            sub,
            // step-ca finds an X5C provisioner by the audience's fragment.
            aud: format!("{audience}#x5c/{}", self.name),
            now,
            lifetime: self.lifetime,
            sans: None,
            sha: None,
            cnf: None,
        }
    }

    /// A sign token for `subject` and `sans` (step's string forms), for `audience` (the
    /// CA's `/1.0/sign` URL), valid from `now`, bound to the CSR with `csr_fingerprint`
    /// when given (see [`TokenClaims::csr_fingerprint`]).
    pub fn sign_token(
        &self,
        subject: &str,
        sans: &[String],
        audience: &str,
        now: SystemTime,
        csr_fingerprint: Option<&str>,
    ) -> Result<Token> {
        self.mint(Mint {
            sans: Some(sans),
            cnf: csr_fingerprint,
            ..self.base(subject, audience, now)
        })
    }

    /// A revoke token for the certificate with this decimal `serial`, for `audience` (the
    /// CA's `/1.0/revoke` URL), valid from `now`.
    pub fn revoke_token(&self, serial: &str, audience: &str, now: SystemTime) -> Result<Token> {
        self.mint(self.base(serial, audience, now))
    }
}

impl TokenProvider for X5cProvisioner {
    fn token(&self, claims: &TokenClaims) -> std::result::Result<Token, ProviderError> {
        let t = match claims.purpose {
            TokenPurpose::Sign => {
                if let Some(na) = claims.not_after.map(unix_secs)
                    && na > self.not_after
                {
                    return Err(Error::invalid(
                        "not_after",
                        format!(
                            "{} is after the factory certificate's notAfter {}: step-ca ends a \
                             certificate from an X5C provisioner no later than the certificate \
                             that asked for it",
                            rfc3339(na),
                            rfc3339(self.not_after)
                        ),
                    )
                    .into());
                }
                self.sign_token(
                    &claims.subject,
                    &claims.san_strings(),
                    &claims.audience,
                    claims.now,
                    claims
                        .csr_fingerprint
                        .as_deref()
                        .filter(|_| self.bind_to_csr),
                )
            }
            TokenPurpose::Revoke => {
                self.revoke_token(&claims.subject, &claims.audience, claims.now)
            }
        };
        t.map_err(Into::into)
    }
}
