//! The read-only GETs: health, version, roots, federation, intermediates and
//! provisioners. Idempotent, and safe to retry.

use serde::Deserialize;

use crate::chain::certs_from_pem;
use crate::error::{Error, ErrorKind, Result};
use crate::provisioner::{self, JwkProvisioner, ProvisionerEntry};

use super::Client;
use super::request::Call;

/// Largest number of `/provisioners` pages followed (100 per page).
const MAX_PAGES: usize = 100;

#[derive(Deserialize)]
struct Certs {
    crts: Vec<String>,
}

#[derive(Deserialize)]
struct Page {
    provisioners: Vec<serde_json::Value>,
    #[serde(rename = "nextCursor", default)]
    next_cursor: String,
}

fn malformed(what: &str) -> Error {
    Error::new(
        ErrorKind::MalformedResponse,
        format!("{what}: unexpected answer from step-ca"),
    )
}

impl Client {
    /// A GET, retried after transport failures and 5xx answers (it is idempotent).
    fn get_ok(&self, what: &'static str, path: &str) -> Result<Vec<u8>> {
        let resp = self.request(&Call {
            what,
            path,
            ..Call::default()
        })?;
        Ok(resp.body)
    }

    /// `GET /health`: Ok when step-ca answers `{"status":"ok"}`.
    pub fn health(&self) -> Result<()> {
        let body: serde_json::Value = serde_json::from_slice(&self.get_ok("health", "/health")?)
            .map_err(|_| malformed("health"))?;
        match body.get("status").and_then(|s| s.as_str()) {
            Some("ok") => Ok(()),
            other => Err(Error::new(
                ErrorKind::CaRejected,
                format!("health: step-ca reports status {other:?}"),
            )),
        }
    }

    /// `GET /version`: step-ca's version string (`N/A` for builds without version info).
    pub fn version(&self) -> Result<String> {
        let body: serde_json::Value = serde_json::from_slice(&self.get_ok("version", "/version")?)
            .map_err(|_| malformed("version"))?;
        body.get("version")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| malformed("version"))
    }

    fn cert_list(&self, what: &'static str, path: &str) -> Result<Vec<Vec<u8>>> {
        let certs: Certs =
            serde_json::from_slice(&self.get_ok(what, path)?).map_err(|_| malformed(what))?;
        certs
            .crts
            .iter()
            .map(|pem| certs_from_pem(what, pem.as_bytes()).map(|mut v| v.remove(0)))
            .collect::<Result<_>>()
            .map_err(|_| malformed(what))
    }

    /// `GET /roots`: the CA's roots (DER).
    pub fn ca_roots(&self) -> Result<Vec<Vec<u8>>> {
        self.cert_list("roots", "/roots")
    }

    /// `GET /federation`: the roots and federated roots (DER).
    pub fn federation(&self) -> Result<Vec<Vec<u8>>> {
        self.cert_list("federation", "/federation")
    }

    /// `GET /intermediates`: the CA's intermediates (DER).
    pub fn intermediates(&self) -> Result<Vec<Vec<u8>>> {
        self.cert_list("intermediates", "/intermediates")
    }

    /// `GET /provisioners`, every page: the provisioner objects as step-ca sends them.
    pub fn provisioners(&self) -> Result<Vec<serde_json::Value>> {
        let mut all = Vec::new();
        let mut cursor = String::new();
        for _ in 0..MAX_PAGES {
            let path = if cursor.is_empty() {
                "/provisioners?limit=100".to_string()
            } else {
                format!("/provisioners?limit=100&cursor={cursor}")
            };
            let page: Page = serde_json::from_slice(&self.get_ok("provisioners", &path)?)
                .map_err(|_| malformed("provisioners"))?;
            all.extend(page.provisioners);
            if page.next_cursor.is_empty() {
                return Ok(all);
            }
            if !page.next_cursor.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(malformed("provisioners"));
            }
            cursor = page.next_cursor;
        }
        Err(Error::new(
            ErrorKind::MalformedResponse,
            format!("provisioners: more than {MAX_PAGES} pages"),
        ))
    }

    /// Fetches the JWK provisioner `name` (and `kid`, when several share the name) and
    /// decrypts its key with `password`, once. Use the result as a token provider.
    pub fn jwk_provisioner(
        &self,
        name: &str,
        kid: Option<&str>,
        password: &[u8],
    ) -> Result<JwkProvisioner> {
        let entries: Vec<ProvisionerEntry> = self
            .provisioners()?
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect();
        let entry = provisioner::select(&entries, name, kid)?;
        let jwe = entry.encrypted_key.as_deref().ok_or_else(|| {
            Error::invalid(
                "provisioner",
                format!("{name:?} has no encrypted key at the CA"),
            )
        })?;
        let kid = entry.key.as_ref().and_then(|k| k.kid.as_deref()).or(kid);
        let mut p = JwkProvisioner::from_encrypted_key(name, kid, jwe, password)?;
        if let [root] = self.roots() {
            p.set_root_fingerprint(&crate::bootstrap::fingerprint(root))?;
        }
        Ok(p)
    }
}
