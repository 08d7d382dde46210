//! JWK provisioner tokens minted in process: the provisioner's encrypted key is decrypted
//! once (from the CA, from a ca.json entry, or from a JWE file) and every token gets the
//! claims step-ca checks and a fresh `jti`.

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::{DEFAULT_TOKEN_LIFETIME, Mint, check_lifetime};
use crate::error::{Error, ErrorKind, Result};
use crate::jose::{self, JwsKey};
use crate::token::{ProviderError, Token, TokenClaims, TokenProvider, TokenPurpose};

/// A JWK provisioner able to mint sign and revoke tokens. Decrypts its key once; the key
/// is wiped when the provisioner is dropped. Use it as a [`TokenProvider`]: its sign
/// tokens are then bound to the CSR (`cnf`) unless [`bind_to_csr`](Self::bind_to_csr)
/// turns that off.
pub struct JwkProvisioner {
    name: String,
    kid: String,
    key: JwsKey,
    lifetime: Duration,
    root_fingerprint: Option<String>,
    bind_to_csr: bool,
}

impl std::fmt::Debug for JwkProvisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwkProvisioner")
            .field("name", &self.name)
            .field("kid", &self.kid)
            .field("alg", &self.key.alg())
            .finish_non_exhaustive()
    }
}

/// A ca.json / `/provisioners` entry.
#[derive(Deserialize)]
pub(crate) struct ProvisionerEntry {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) key: Option<KeyRef>,
    #[serde(rename = "encryptedKey", default)]
    pub(crate) encrypted_key: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct KeyRef {
    #[serde(default)]
    pub(crate) kid: Option<String>,
}

/// A JWE in JSON serialization, as `step crypto jwk create` writes private keys.
#[derive(Deserialize)]
struct JweJson {
    protected: String,
    encrypted_key: String,
    iv: String,
    ciphertext: String,
    tag: String,
}

impl JwkProvisioner {
    /// From a provisioner's encrypted key (compact JWE) and its password. `kid` defaults to
    /// the decrypted JWK's own `kid`.
    pub fn from_encrypted_key(
        name: &str,
        kid: Option<&str>,
        jwe: &str,
        password: &[u8],
    ) -> Result<Self> {
        if name.is_empty() {
            return Err(Error::invalid("provisioner", "must not be empty"));
        }
        if password.is_empty() {
            return Err(Error::new(
                ErrorKind::KeyPassphrase,
                "provisioner_password: must not be empty",
            ));
        }
        let plain = jose::decrypt_pbes2(jwe, password)?;
        let jwk = jose::parse_private_jwk(&plain)?;
        let kid = match (kid, jwk.kid) {
            (Some(k), _) => k.to_string(),
            (None, Some(k)) => k,
            (None, None) => {
                return Err(Error::invalid(
                    "kid",
                    "the key has no kid; give the provisioner's kid",
                ));
            }
        };
        Ok(JwkProvisioner {
            name: name.to_string(),
            kid,
            key: jwk.key,
            lifetime: DEFAULT_TOKEN_LIFETIME,
            root_fingerprint: None,
            bind_to_csr: true,
        })
    }

    /// Offline, from JSON: a ca.json provisioner entry (`{"type":"JWK","name":...,
    /// "key":{...},"encryptedKey":"..."}`), or an encrypted JWK file (compact JWE, or JWE
    /// JSON as `step crypto jwk create` writes it, in which case `name` is required).
    pub fn from_json(name: Option<&str>, data: &[u8], password: &[u8]) -> Result<Self> {
        let text = std::str::from_utf8(data)
            .map_err(|_| Error::invalid("provisioner_json", "is not UTF-8"))?
            .trim();
        if !text.starts_with('{') {
            let name = name
                .ok_or_else(|| Error::invalid("provisioner", "a name is needed with a bare JWE"))?;
            return Self::from_encrypted_key(name, None, text, password);
        }
        if let Ok(entry) = serde_json::from_str::<ProvisionerEntry>(text) {
            if !entry.kind.eq_ignore_ascii_case("JWK") {
                return Err(Error::invalid(
                    "provisioner_json",
                    format!(
                        "provisioner {:?} is of type {}, not JWK",
                        entry.name, entry.kind
                    ),
                ));
            }
            if let Some(n) = name
                && n != entry.name
            {
                return Err(Error::invalid(
                    "provisioner",
                    format!("the entry is for {:?}, not {n:?}", entry.name),
                ));
            }
            let jwe = entry.encrypted_key.as_deref().ok_or_else(|| {
                Error::invalid("provisioner_json", "the entry has no encryptedKey")
            })?;
            let kid = entry.key.as_ref().and_then(|k| k.kid.as_deref());
            return Self::from_encrypted_key(&entry.name, kid, jwe, password);
        }
        let jwe: JweJson = serde_json::from_str(text).map_err(|_| {
            Error::invalid(
                "provisioner_json",
                "neither a ca.json provisioner entry nor a JWE",
            )
        })?;
        let name =
            name.ok_or_else(|| Error::invalid("provisioner", "a name is needed with a JWE file"))?;
        let compact = format!(
            "{}.{}.{}.{}.{}",
            jwe.protected, jwe.encrypted_key, jwe.iv, jwe.ciphertext, jwe.tag
        );
        Self::from_encrypted_key(name, None, &compact, password)
    }

    /// Sets the lifetime of minted tokens (default 5 minutes; 10 s to 1 h, as step allows).
    pub fn set_lifetime(&mut self, lifetime: Duration) -> Result<()> {
        check_lifetime(lifetime)?;
        self.lifetime = lifetime;
        Ok(())
    }

    /// Whether sign tokens minted as a [`TokenProvider`] carry the CSR's fingerprint in
    /// `cnf`, so that step-ca accepts them for that CSR only (default on).
    pub fn bind_to_csr(&mut self, on: bool) {
        self.bind_to_csr = on;
    }

    /// Sets the root fingerprint put in tokens' `sha` claim, as `step ca token` does
    /// (informational: step-ca does not check it; `ca.Bootstrap` reads it).
    pub fn set_root_fingerprint(&mut self, fingerprint: &str) -> Result<()> {
        self.root_fingerprint = Some(crate::bootstrap::normalize_fingerprint(fingerprint)?);
        Ok(())
    }

    /// The provisioner's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The provisioner key's kid.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    fn mint(&self, mint: Mint<'_>) -> Result<Token> {
        let claims = mint.claims()?;
        let header = json!({"alg": self.key.alg(), "kid": self.kid, "typ": "JWT"});
        let token = Zeroizing::new(jose::sign_compact(
            &jose::sign_with(&self.key),
            &header,
            &claims,
        )?);
        Ok(Token::new(token.as_str()))
    }

    fn base<'a>(&'a self, sub: &'a str, aud: &str, now: SystemTime) -> Mint<'a> {
        Mint {
            iss: &self.name,
            sub,
            aud: aud.to_string(),
            now,
            lifetime: self.lifetime,
            sans: None,
            sha: self.root_fingerprint.as_deref(),
            cnf: None,
        }
    }

    /// A sign token for `subject` and `sans` (step's string forms), for `audience`, valid
    /// from `now` (the client's [`TokenClaims::now`], or `SystemTime::now()`).
    pub fn sign_token(
        &self,
        subject: &str,
        sans: &[String],
        audience: &str,
        now: SystemTime,
    ) -> Result<Token> {
        self.mint(Mint {
            sans: Some(sans),
            ..self.base(subject, audience, now)
        })
    }

    /// A revoke token for the certificate with this decimal `serial`, for `audience`, valid
    /// from `now`.
    pub fn revoke_token(&self, serial: &str, audience: &str, now: SystemTime) -> Result<Token> {
        self.mint(self.base(serial, audience, now))
    }
}

impl TokenProvider for JwkProvisioner {
    fn token(&self, claims: &TokenClaims) -> std::result::Result<Token, ProviderError> {
        let t = match claims.purpose {
            TokenPurpose::Sign => {
                let sans = claims.san_strings();
                self.mint(Mint {
                    sans: Some(&sans),
                    cnf: claims
                        .csr_fingerprint
                        .as_deref()
                        .filter(|_| self.bind_to_csr),
                    ..self.base(&claims.subject, &claims.audience, claims.now)
                })
            }
            TokenPurpose::Revoke => {
                self.revoke_token(&claims.subject, &claims.audience, claims.now)
            }
        };
        t.map_err(Into::into)
    }
}

/// Picks the JWK provisioner named `name` (and `kid`, when given) from a provisioner list.
pub(crate) fn select<'a>(
    entries: &'a [ProvisionerEntry],
    name: &str,
    kid: Option<&str>,
) -> Result<&'a ProvisionerEntry> {
    let found: Vec<&ProvisionerEntry> = entries
        .iter()
        .filter(|p| p.kind.eq_ignore_ascii_case("JWK") && p.name == name)
        .filter(|p| kid.is_none() || p.key.as_ref().and_then(|k| k.kid.as_deref()) == kid)
        .collect();
    match found[..] {
        [one] => Ok(one),
        [] => Err(Error::invalid(
            "provisioner",
            format!(
                "the CA has no JWK provisioner named {name:?}{}",
                kid.map(|k| format!(" with kid {k}")).unwrap_or_default()
            ),
        )),
        _ => Err(Error::invalid(
            "provisioner",
            format!("the CA has several JWK provisioners named {name:?}; give the kid"),
        )),
    }
}
