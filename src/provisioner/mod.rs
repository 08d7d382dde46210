//! Provisioners whose tokens are minted in process, each a [`TokenProvider`]:
//! [`JwkProvisioner`] (a provisioner key decrypted once) and [`X5cProvisioner`] (a device's
//! factory certificate and its key, in memory or held).
//!
//! [`TokenProvider`]: crate::TokenProvider

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::jose;

mod jwk;
mod x5c;

pub use jwk::JwkProvisioner;
pub(crate) use jwk::{ProvisionerEntry, select};
pub use x5c::X5cProvisioner;

/// Default token lifetime (as `step ca token`).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// Token lifetimes step allows: 10 s to 1 h.
fn check_lifetime(lifetime: Duration) -> Result<()> {
    if !(Duration::from_secs(10)..=Duration::from_secs(3600)).contains(&lifetime) {
        return Err(Error::invalid(
            "token_lifetime",
            "must be between 10 s and 1 h",
        ));
    }
    Ok(())
}

/// What a minted token says; the same claims for every provisioner type, as step writes
/// them.
struct Mint<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: String,
    now: SystemTime,
    lifetime: Duration,
    /// A sign token's SANs (step's string forms); `None` for revoke tokens.
    sans: Option<&'a [String]>,
    /// The root's fingerprint (`sha`), informational.
    sha: Option<&'a str>,
    /// The CSR's fingerprint: `cnf` binds the token to that CSR.
    cnf: Option<&'a str>,
}

impl Mint<'_> {
    fn claims(&self) -> Result<Value> {
        if self.sub.is_empty() {
            return Err(Error::invalid("subject", "a token needs a subject"));
        }
        let t = self
            .now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Error::invalid("now", "is before 1970"))?
            .as_secs();
        let mut claims = json!({
            "iss": self.iss,
            "sub": self.sub,
            "aud": self.aud,
            "nbf": t,
            "iat": t,
            "exp": t + self.lifetime.as_secs(),
            "jti": jose::random_hex(32)?,
        });
        if let Some(sha) = self.sha {
            claims["sha"] = json!(sha);
        }
        if let Some(sans) = self.sans {
            // Template data, empty like `step ca token` without --set.
            claims["user"] = json!({});
            // step puts the subject in sans when none are given.
            claims["sans"] = if sans.is_empty() {
                json!([self.sub])
            } else {
                json!(sans)
            };
        }
        if let Some(fp) = self.cnf {
            claims["cnf"] = json!({ "x5rt#S256": fp });
        }
        Ok(claims)
    }
}
