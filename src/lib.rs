//! libstepca: a blocking client for smallstep step-ca's X.509 API, with a C ABI.
//!
//! The Rust API is the core; the C ABI in [`ffi`] is a thin layer over it.
//!
//! ```no_run
//! use std::sync::Arc;
//! use stepca::{ClientBuilder, CsrRequest, PrivateKey, SanKind, SignOptions, Token};
//!
//! let key = PrivateKey::load(&std::fs::read("device.key")?, None)?;
//! let mut req = CsrRequest::new();
//! req.subject("CN", "device-001")?.san(SanKind::Dns, "device-001.example.com")?;
//! let csr = req.build(&key)?;
//!
//! let client = ClientBuilder::new("https://ca.example:9000")
//!     .root_file("root_ca.crt")?
//!     .build()?;
//! let opts = SignOptions {
//!     token: Some(Token::new(std::fs::read_to_string("ott")?).into()),
//!     ..Default::default()
//! };
//! let chain = client.sign(csr.der(), &opts)?;
//! std::fs::write("device.crt", chain.to_pem())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(unsafe_op_in_unsafe_fn)]

mod bootstrap;
pub mod capabilities;
mod chain;
mod client;
mod clock;
mod credential;
mod csr;
mod encoding;
mod error;
pub mod ffi;
mod files;
mod http;
mod jose;
mod key;
mod key_encryption;
pub mod logging;
mod name;
mod pkcs11;
mod provisioner;
mod renewer;
mod signer;
mod tls;
mod token;
pub mod version;

pub use bootstrap::fingerprint;

/// Internals exposed to the fuzz targets (`fuzz/`), behind the `fuzzing` feature. Not a
/// stable API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// Parses a sign/renew/rekey answer body.
    pub fn parse_sign_response(body: &[u8]) -> crate::Result<crate::CertificateChain> {
        crate::client::parse_sign_response(body)
    }

    /// Builds the error for an HTTP error answer.
    pub fn status_error(status: u16, body: &[u8]) -> crate::Error {
        crate::http::status_error(
            "fuzz",
            &crate::http::Response {
                status,
                body: body.to_vec(),
                date: None,
            },
        )
    }

    /// Parses a private JWK.
    pub fn parse_private_jwk(json: &[u8]) -> bool {
        crate::jose::parse_private_jwk(json).is_ok()
    }

    /// Decrypts a JWE with the iteration count capped low, so that the fuzzer explores
    /// the parser rather than PBKDF2.
    pub fn decrypt_jwe_cheap(jwe: &str, password: &[u8]) -> bool {
        crate::jose::decrypt_pbes2_capped(jwe, password, 2000).is_ok()
    }
}
pub use chain::CertificateChain;
pub use client::{
    Client, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, MAX_TOKEN_LEN, RenewAuth,
    RevokeOptions, SignOptions, normalize_serial, renew_after,
};
pub use clock::{CLOCK_LEEWAY, TimeSource};
pub use credential::Credential;
pub use csr::{BasicConstraints, Csr, CsrInfo, CsrRequest, ExtKeyUsage, KeyUsage};
pub use encoding::Format;
pub use error::{Error, ErrorKind, Result};
pub use files::{read_password_file, write_atomic};
pub use http::RetryPolicy;
pub use key::{KeyAlgorithm, KeyType, PrivateKey, SignatureAlgorithm};
pub use name::{Attribute, Oid, San, SanKind};
pub use pkcs11::{Pkcs11Key, Pkcs11KeyRef};
pub use provisioner::{DEFAULT_TOKEN_LIFETIME, JwkProvisioner, X5cProvisioner};
pub use renewer::{KeyGenerator, NewKey, Renewer, RenewerEvent, RenewerOptions, Schedule};
pub use signer::Signer;
pub use token::{ProviderError, Token, TokenClaims, TokenProvider, TokenPurpose, TokenSource};
