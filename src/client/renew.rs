//! `POST /1.0/renew` and `/1.0/rekey`, and when to renew.
//!
//! Both authenticate with a [`Credential`]: over mutual TLS, or (renew only) with an
//! `x5cInsecure` bearer token signed by the certificate's own key, which works for an
//! expired certificate (where the provisioner allows it) and behind layer-7 proxies.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde_json::json;
use zeroize::Zeroizing;

use crate::chain::CertificateChain;
use crate::credential::Credential;
use crate::csr::{Csr, CsrInfo};
use crate::error::{Error, ErrorKind, Result};
use crate::jose;
use crate::token::Token;

use super::Client;
use super::request::{Auth, Call};

/// How to authenticate a renewal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RenewAuth {
    /// Mutual TLS, unless the certificate has expired, then the bearer token.
    #[default]
    Auto,
    /// Always mutual TLS.
    MutualTls,
    /// Always the `x5cInsecure` bearer token.
    Token,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// An empty POST body (renew carries nothing but its authorisation).
fn empty(_: Option<&str>) -> Result<Zeroizing<Vec<u8>>> {
    Ok(Zeroizing::new(Vec::new()))
}

impl Client {
    /// The `x5cInsecure` renew token: signed by the credential's key (in memory or held),
    /// carrying its chain, timed by the client's clock.
    pub fn renew_token(&self, cred: &Credential) -> Result<Zeroizing<String>> {
        let t = self.clock().now_secs();
        let claims = json!({
            "iss": "step-ca-client/1.0",
            "sub": cred.chain().common_name().unwrap_or_default(),
            "aud": format!("{}/1.0/renew", self.inner.url.origin),
            "nbf": t, "iat": t, "exp": t + 300,
            "jti": jose::random_hex(32)?,
        });
        cred.jws("x5cInsecure", &claims)
    }

    /// Renews the credential's certificate at `/1.0/renew`. The new certificate has the
    /// same subject, SANs and lifetime, and the same key. Over mutual TLS the key signs the
    /// handshake (a held key through its signer); `RenewAuth::Auto` uses the token instead
    /// once the leaf has expired by the client's clock.
    pub fn renew(&self, cred: &Credential, auth: RenewAuth) -> Result<CertificateChain> {
        let expired = cred.chain().validity().1 <= self.clock().now_secs();
        let use_token = match auth {
            RenewAuth::Auto => expired,
            RenewAuth::MutualTls => false,
            RenewAuth::Token => true,
        };
        let token = || self.renew_token(cred).map(|t| Token::new(t.as_str()));
        self.issue(
            &Call {
                what: "renew",
                path: "/1.0/renew",
                body: Some(&empty),
                auth: if use_token {
                    Auth::Bearer(&token)
                } else {
                    Auth::MutualTls(cred)
                },
            },
            cred.signer().public_key_spki(),
            None,
        )
    }

    /// Rekeys: authenticates over mutual TLS with the credential and gets a certificate
    /// for the key in `new_csr` (PEM or DER), which may be held too (a key generated in the
    /// same token never leaves it).
    pub fn rekey(&self, cred: &Credential, new_csr: &[u8]) -> Result<CertificateChain> {
        let (csr, info) = Csr::from_pem_or_der(new_csr)?;
        self.rekey_parsed(cred, &csr, &info)
    }

    /// [`Self::rekey`] for a [`Csr`] this library built or already read: its
    /// self-signature is not verified a second time (see [`Self::sign_csr`]).
    pub fn rekey_csr(&self, cred: &Credential, new_csr: &Csr) -> Result<CertificateChain> {
        let info = new_csr.info()?;
        self.rekey_parsed(cred, new_csr, &info)
    }

    fn rekey_parsed(
        &self,
        cred: &Credential,
        csr: &Csr,
        info: &CsrInfo,
    ) -> Result<CertificateChain> {
        let body = serde_json::to_vec(&json!({"csr": csr.to_pem()}))
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
        self.issue(
            &Call {
                what: "rekey",
                path: "/1.0/rekey",
                body: Some(&|_| Ok(Zeroizing::new(body.clone()))),
                auth: Auth::MutualTls(cred),
            },
            &info.spki,
            None,
        )
    }
}

/// When to renew a certificate: about two thirds into its life, minus a random jitter of
/// up to a twentieth of it, as step does. A time in the past means "now". The "just
/// issued" rule below reads the system clock: compare the result with the same clock
/// ([`crate::Renewer`] uses the client's clock instead).
///
/// step-ca back-dates certificates (one minute by default), so a short-lived certificate
/// can be past two thirds of its life the moment it is issued; step's renew daemon once
/// looped on exactly that. A certificate issued within the last 90 seconds is therefore
/// never due before half of its remaining life has passed.
pub fn renew_after(chain: &CertificateChain) -> Result<SystemTime> {
    renew_after_at(chain, now_secs(), None)
}

/// [`renew_after`] at `now` (UNIX seconds), or, given `expires_in`, when no more than that
/// is left (minus a jitter of up to a tenth of it, as step's `--expires-in`). Either way a
/// certificate issued within the last 90 seconds is not due before half of its remaining
/// life, so an `expires_in` longer than the certificate's life cannot renew in a loop.
pub(crate) fn renew_after_at(
    chain: &CertificateChain,
    now: i64,
    expires_in: Option<Duration>,
) -> Result<SystemTime> {
    let (nb, na) = chain.validity();
    let period = na - nb;
    if period <= 0 {
        return Err(Error::invalid(
            "certificate",
            "has no positive validity period",
        ));
    }
    let mut at = match expires_in {
        None => na - period / 3 - random_below(period / 20)?,
        Some(d) => {
            let d = d.as_secs() as i64;
            na - d - random_below(d / 10)?
        }
    };
    let remaining = na - now;
    if remaining > 0 && now - nb <= FRESH {
        at = at.max(now + remaining / 2);
    }
    Ok(if at <= 0 {
        UNIX_EPOCH
    } else {
        UNIX_EPOCH + Duration::from_secs(at as u64)
    })
}

/// A uniformly random number in `0..n` (0 when `n` is 0 or less).
pub(crate) fn random_below(n: i64) -> Result<i64> {
    if n <= 0 {
        return Ok(0);
    }
    let mut r = [0u8; 8];
    SystemRandom::new()
        .fill(&mut r)
        .map_err(|_| Error::new(ErrorKind::Internal, "random number generator failed"))?;
    Ok((u64::from_le_bytes(r) % n as u64) as i64)
}

/// How long after notBefore a certificate counts as just issued (step-ca's default
/// back-dating is 60 s).
const FRESH: i64 = 90;
