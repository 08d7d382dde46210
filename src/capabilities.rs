//! What this build really supports, like the Python plugin's `supports()`, but listing only
//! what works (tests exercise every entry).

use std::ffi::{CStr, CString};

use once_cell::sync::Lazy;

use crate::key::SignatureAlgorithm;

/// Key types that can be generated, loaded and used for CSRs.
pub const KEY_ALGS: &[&str] = &[
    "RSA-2048", "RSA-3072", "RSA-4096", "EC-P256", "EC-P384", "Ed25519",
];
/// SAN types a CSR may carry (and the token provider is told about).
pub const SAN_TYPES: &[&str] = &["dns", "ip", "email", "uri"];
/// Features.
pub const FEATURES: &[&str] = &[
    "csr",
    "sign",
    "token_provider",
    "key_load_pkcs8",
    "key_load_sec1",
    "key_load_pkcs1",
    "key_load_encrypted_pkcs8",
    "key_load_legacy_encrypted_pem",
    "key_generate",
    "chain_verify",
    "bootstrap_fingerprint",
    "health",
    "version",
    "roots",
    "federation",
    "intermediates",
    "provisioners",
    "renew_mtls",
    "renew_token",
    "renew_expired",
    "rekey",
    "revoke_token",
    "revoke_mtls",
    "jwk_provisioner_tokens",
    "renewal_timing",
    "external_signer",
    "renew_external_signer",
    "pkcs11",
];

/// The signature algorithm names.
pub fn sig_algs() -> Vec<&'static str> {
    SignatureAlgorithm::ALL.iter().map(|a| a.name()).collect()
}

/// Whether `name` appears in any list.
pub fn supports(name: &str) -> bool {
    KEY_ALGS.contains(&name)
        || SAN_TYPES.contains(&name)
        || FEATURES.contains(&name)
        || sig_algs().contains(&name)
}

/// The capabilities as JSON.
pub fn json() -> String {
    serde_json::json!({
        "key_algs": KEY_ALGS,
        "sig_algs": sig_algs(),
        "san_types": SAN_TYPES,
        "features": FEATURES,
    })
    .to_string()
}

pub(crate) fn json_c() -> &'static CStr {
    static JSON: Lazy<CString> = Lazy::new(|| CString::new(json()).unwrap_or_default());
    &JSON
}

pub(crate) static VERSION_C: Lazy<CString> =
    Lazy::new(|| CString::new(crate::version::VERSION).unwrap_or_default());
