//! Renewing and rekeying a certificate, and when to renew.
//!
//! Renewal authenticates with the current certificate: over mutual TLS, or with an
//! `x5cInsecure` bearer token signed by the certificate's own key, which works for an
//! expired certificate (where the provisioner allows it) and behind layer-7 proxies.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde_json::json;
use zeroize::Zeroizing;

use crate::chain::CertificateChain;
use crate::client::{Call, Client};
use crate::csr::Csr;
use crate::error::{Error, ErrorKind, Result};
use crate::http;
use crate::jose;
use crate::key::PrivateKey;
use crate::tls::Identity;
use crate::token::Token;

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

/// Checks that `key` is the private key of `chain`'s leaf (ureq would panic otherwise).
fn check_identity(chain: &CertificateChain, key: &PrivateKey) -> Result<()> {
    if chain.leaf_spki() != key.spki_der() {
        return Err(Error::invalid(
            "key",
            "does not match the certificate's public key",
        ));
    }
    Ok(())
}

impl Client {
    fn identity_agent(&self, chain: &CertificateChain, key: &PrivateKey) -> Result<ureq::Agent> {
        http::agent(
            &self.inner.transport,
            Some(Identity {
                chain: chain.certificates(),
                pkcs8_der: key.to_pkcs8_der(),
            }),
        )
    }

    /// The `x5cInsecure` renew token: signed by the certificate's key, carrying the chain,
    /// timed by the client's clock.
    pub fn renew_token(
        &self,
        chain: &CertificateChain,
        key: &PrivateKey,
    ) -> Result<Zeroizing<String>> {
        check_identity(chain, key)?;
        self.renew_token_with(
            chain,
            jose::jws_alg(key.default_signature_algorithm()),
            &|msg| key.sign_jws(msg),
        )
    }

    /// The renew token, signed by `sign` (which returns JWS-form signatures) under `alg`.
    fn renew_token_with(
        &self,
        chain: &CertificateChain,
        alg: &'static str,
        sign: &dyn Fn(&[u8]) -> Result<Vec<u8>>,
    ) -> Result<Zeroizing<String>> {
        let t = self.clock().now_secs();
        let x5c: Vec<String> = chain
            .certificates()
            .iter()
            .map(|c| jose::b64std(c))
            .collect();
        let claims = json!({
            "iss": "step-ca-client/1.0",
            "sub": chain.common_name().unwrap_or_default(),
            "aud": format!("{}/1.0/renew", self.inner.url.origin),
            "nbf": t, "iat": t, "exp": t + 300,
            "jti": jose::random_hex(32)?,
        });
        let header = json!({"alg": alg, "typ": "JWT", "x5cInsecure": x5c});
        Ok(Zeroizing::new(jose::sign_compact(sign, &header, &claims)?))
    }

    /// Renews `chain` whose key is held by an external `signer`, with the `x5cInsecure`
    /// token the signer signs (the private key never reaches libstepca).
    pub fn renew_with_signer(
        &self,
        chain: &CertificateChain,
        signer: &dyn crate::signer::Signer,
    ) -> Result<CertificateChain> {
        let key = crate::signer::ExternalKey::new(signer)?;
        if chain.leaf_spki() != signer.public_key_spki() {
            return Err(Error::invalid(
                "signer",
                "its public key is not the certificate's",
            ));
        }
        let resp = self.renew_with_token(&|| {
            self.renew_token_with(chain, jose::jws_alg(signer.algorithm()), &|msg| {
                key.sign_jws(msg)
            })
        })?;
        self.issued_chain("renew", &resp, signer.public_key_spki(), None)
    }

    /// Posts to `/1.0/renew` with a bearer token from `token` (made when the first attempt
    /// needs it, sent again only while no attempt reached step-ca).
    fn renew_with_token(
        &self,
        token: &dyn Fn() -> Result<Zeroizing<String>>,
    ) -> Result<http::Response> {
        let fetch = || token().map(|t| Token::new(t.as_str()));
        self.request(&Call {
            what: "renew",
            path: "/1.0/renew",
            body: Some(&|_| Ok(Zeroizing::new(Vec::new()))),
            token: Some(&fetch),
            bearer: true,
            ..Call::default()
        })
    }

    /// Renews `chain` (leaf first) held with `key` at `/1.0/renew`. The new certificate has
    /// the same subject, SANs and lifetime, and the same key. `RenewAuth::Auto` uses the
    /// token once the leaf has expired by the client's clock.
    pub fn renew(
        &self,
        chain: &CertificateChain,
        key: &PrivateKey,
        auth: RenewAuth,
    ) -> Result<CertificateChain> {
        check_identity(chain, key)?;
        let expired = chain.validity().1 <= self.clock().now_secs();
        let use_token = match auth {
            RenewAuth::Auto => expired,
            RenewAuth::MutualTls => false,
            RenewAuth::Token => true,
        };
        let resp = if use_token {
            self.renew_with_token(&|| self.renew_token(chain, key))?
        } else {
            // A new connection carries the client certificate; pooled ones do not.
            let agent = self.identity_agent(chain, key)?;
            self.request(&Call {
                what: "renew",
                path: "/1.0/renew",
                body: Some(&|_| Ok(Zeroizing::new(Vec::new()))),
                agent: Some(&agent),
                ..Call::default()
            })?
        };
        self.issued_chain("renew", &resp, &key.spki_der(), None)
    }

    /// Rekeys: authenticates over mutual TLS with `chain` and `key`, and gets a certificate
    /// for the new key in `new_csr` (PEM or DER).
    pub fn rekey(
        &self,
        chain: &CertificateChain,
        key: &PrivateKey,
        new_csr: &[u8],
    ) -> Result<CertificateChain> {
        check_identity(chain, key)?;
        let (csr, info) = Csr::from_pem_or_der(new_csr)?;
        let body = serde_json::to_vec(&json!({"csr": csr.to_pem()}))
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
        let agent = self.identity_agent(chain, key)?;
        let resp = self.request(&Call {
            what: "rekey",
            path: "/1.0/rekey",
            body: Some(&|_| Ok(Zeroizing::new(body.clone()))),
            agent: Some(&agent),
            ..Call::default()
        })?;
        self.issued_chain("rekey", &resp, &info.spki, None)
    }
}

/// When to renew a certificate: about two thirds into its life, minus a random jitter of
/// up to a twentieth of it, as step does. A time in the past means "now". The "just
/// issued" rule below reads the system clock: compare the result with the same clock.
///
/// step-ca back-dates certificates (one minute by default), so a short-lived certificate
/// can be past two thirds of its life the moment it is issued; step's renew daemon once
/// looped on exactly that. A certificate issued within the last 90 seconds is therefore
/// never due before half of its remaining life has passed.
pub fn renew_after(chain: &CertificateChain) -> Result<SystemTime> {
    let (nb, na) = chain.validity();
    let period = na - nb;
    if period <= 0 {
        return Err(Error::invalid(
            "certificate",
            "has no positive validity period",
        ));
    }
    let now = now_secs();
    let mut r = [0u8; 8];
    SystemRandom::new()
        .fill(&mut r)
        .map_err(|_| Error::new(ErrorKind::Internal, "random number generator failed"))?;
    let jitter = (u64::from_le_bytes(r) % ((period as u64 / 20).max(1))) as i64;
    let mut at = na - period / 3 - jitter;
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

/// How long after notBefore a certificate counts as just issued (step-ca's default
/// back-dating is 60 s).
const FRESH: i64 = 90;
