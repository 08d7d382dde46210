//! `stepca_csr_request` and `stepca_create_csr`: building CSRs without writing JSON.

use std::ffi::c_char;

use super::buffer::hand_out;
use super::error::{FfiError, stepca_error, stepca_status};
use super::key::stepca_key;
use super::{
    FfiResult, bytes, call, format, free_handle, handle, into_handle, out, out_len, stepca_format,
    string,
};
use crate::csr::{CsrRequest, KeyUsage};
use crate::key::SignatureAlgorithm;
use crate::name::SanKind;

/// A subject alternative name type.
pub type stepca_san_type = u32;
/// dNSName
pub const STEPCA_SAN_DNS: stepca_san_type = 1;
/// iPAddress (IPv4 or IPv6 text form)
pub const STEPCA_SAN_IP: stepca_san_type = 2;
/// rfc822Name (email)
pub const STEPCA_SAN_EMAIL: stepca_san_type = 3;
/// uniformResourceIdentifier
pub const STEPCA_SAN_URI: stepca_san_type = 4;

/// keyUsage bits for `stepca_csr_request_set_key_usage`; combine with `|`.
pub const STEPCA_KU_DIGITAL_SIGNATURE: u32 = 1 << 0;
/// contentCommitment (nonRepudiation)
pub const STEPCA_KU_CONTENT_COMMITMENT: u32 = 1 << 1;
/// keyEncipherment
pub const STEPCA_KU_KEY_ENCIPHERMENT: u32 = 1 << 2;
/// dataEncipherment
pub const STEPCA_KU_DATA_ENCIPHERMENT: u32 = 1 << 3;
/// keyAgreement
pub const STEPCA_KU_KEY_AGREEMENT: u32 = 1 << 4;
/// keyCertSign
pub const STEPCA_KU_KEY_CERT_SIGN: u32 = 1 << 5;
/// cRLSign
pub const STEPCA_KU_CRL_SIGN: u32 = 1 << 6;
/// encipherOnly
pub const STEPCA_KU_ENCIPHER_ONLY: u32 = 1 << 7;
/// decipherOnly
pub const STEPCA_KU_DECIPHER_ONLY: u32 = 1 << 8;

/// A CSR signature algorithm.
pub type stepca_sig_alg = u32;
/// Follow the key (RSA: PKCS#1 v1.5 SHA-256; P-256: SHA-256; P-384: SHA-384; Ed25519).
pub const STEPCA_SIG_DEFAULT: stepca_sig_alg = 0;
/// RSASSA-PKCS1-v1_5 with SHA-256.
pub const STEPCA_SIG_RSA_PKCS1_SHA256: stepca_sig_alg = 1;
/// RSASSA-PKCS1-v1_5 with SHA-384.
pub const STEPCA_SIG_RSA_PKCS1_SHA384: stepca_sig_alg = 2;
/// RSASSA-PKCS1-v1_5 with SHA-512.
pub const STEPCA_SIG_RSA_PKCS1_SHA512: stepca_sig_alg = 3;
/// ECDSA P-256 with SHA-256.
pub const STEPCA_SIG_ECDSA_P256_SHA256: stepca_sig_alg = 4;
/// ECDSA P-384 with SHA-384.
pub const STEPCA_SIG_ECDSA_P384_SHA384: stepca_sig_alg = 5;
/// Ed25519.
pub const STEPCA_SIG_ED25519: stepca_sig_alg = 6;
/// RSASSA-PSS with SHA-256 (MGF1-SHA-256, 32-byte salt). Never for CSRs: a sign callback
/// is asked for it during a TLS 1.3 handshake with an RSA key (see
/// `stepca_signature_sink_algorithm`).
pub const STEPCA_SIG_RSA_PSS_SHA256: stepca_sig_alg = 7;
/// RSASSA-PSS with SHA-384 (48-byte salt); TLS handshakes only.
pub const STEPCA_SIG_RSA_PSS_SHA384: stepca_sig_alg = 8;
/// RSASSA-PSS with SHA-512 (64-byte salt); TLS handshakes only.
pub const STEPCA_SIG_RSA_PSS_SHA512: stepca_sig_alg = 9;

/// What a CSR should contain. Mutable: use from one thread at a time.
pub struct stepca_csr_request {
    req: CsrRequest,
}

impl stepca_csr_request {
    pub(crate) fn request(&self) -> &CsrRequest {
        &self.req
    }
}

/// Creates an empty CSR request. Free it with `stepca_csr_request_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_csr_request_new(
    request_out: *mut *mut stepca_csr_request,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contract forwarded from the caller.
        let slot = unsafe { out(request_out, "request_out")? };
        *slot = into_handle(stepca_csr_request {
            req: CsrRequest::new(),
        });
        Ok(())
    })
}

/// Runs `f` on a request handle behind the usual checks.
fn with_request(
    request: *mut stepca_csr_request,
    error: *mut *mut stepca_error,
    f: impl FnOnce(&mut stepca_csr_request) -> FfiResult<()>,
) -> stepca_status {
    super::with_mut(request, "request", error, f)
}

/// Appends a subject attribute. `name` is `CN`, `C`, `ST`, `L`, `O`, `OU`,
/// `emailAddress`, another common attribute name (`serialNumber`, `title`, `DC`, ...), or
/// a dotted OID. Attributes appear in the DN in the order they are added; each attribute
/// type may appear once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_csr_request_add_subject(
    request: *mut stepca_csr_request,
    name: *const c_char,
    value: *const c_char,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_request(request, error, |r| {
        // SAFETY: NUL-terminated strings by contract.
        let (name, value) = unsafe { (string(name, "name")?, string(value, "value")?) };
        r.req.subject(name, value)?;
        Ok(())
    })
}

/// Appends a subject alternative name of `type` (`STEPCA_SAN_*`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_csr_request_add_san(
    request: *mut stepca_csr_request,
    r#type: stepca_san_type,
    value: *const c_char,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_request(request, error, |r| {
        // SAFETY: NUL-terminated string by contract.
        let value = unsafe { string(value, "value")? };
        let kind = match r#type {
            STEPCA_SAN_DNS => SanKind::Dns,
            STEPCA_SAN_IP => SanKind::Ip,
            STEPCA_SAN_EMAIL => SanKind::Email,
            STEPCA_SAN_URI => SanKind::Uri,
            other => {
                return Err(FfiError::invalid(
                    "type",
                    &format!("{other} is not a STEPCA_SAN_* value"),
                ));
            }
        };
        r.req.san(kind, value)?;
        Ok(())
    })
}

/// Requests basicConstraints. `path_len` < 0 means no path length constraint; a path
/// length needs `ca`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_csr_request_set_basic_constraints(
    request: *mut stepca_csr_request,
    ca: bool,
    path_len: i32,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_request(request, error, |r| {
        let path_len = match path_len {
            n if n < 0 => None,
            n => Some(u8::try_from(n).map_err(|_| {
                FfiError::invalid(
                    "path_len",
                    "must be between 0 and 255 (or negative for none)",
                )
            })?),
        };
        r.req.basic_constraints(ca, path_len)?;
        Ok(())
    })
}

/// Requests keyUsage with these `STEPCA_KU_*` bits (0 removes the extension).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_csr_request_set_key_usage(
    request: *mut stepca_csr_request,
    bits: u32,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_request(request, error, |r| {
        let bits = u16::try_from(bits)
            .map_err(|_| FfiError::invalid("key_usage", &format!("unknown bits 0x{bits:x}")))?;
        r.req.key_usage(KeyUsage(bits))?;
        Ok(())
    })
}

/// Appends an extendedKeyUsage purpose: `serverAuth`, `clientAuth`, `codeSigning`,
/// `emailProtection`, `timeStamping`, `OCSPSigning`, or a dotted OID.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_csr_request_add_ext_key_usage(
    request: *mut stepca_csr_request,
    purpose: *const c_char,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_request(request, error, |r| {
        // SAFETY: NUL-terminated string by contract.
        let purpose = unsafe { string(purpose, "purpose")? };
        r.req.ext_key_usage(purpose)?;
        Ok(())
    })
}

/// Adds any other extension by dotted OID, criticality and DER-encoded value (for example
/// subjectKeyIdentifier or nameConstraints).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_csr_request_add_extension(
    request: *mut stepca_csr_request,
    oid: *const c_char,
    critical: bool,
    der_value: *const u8,
    der_value_len: usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_request(request, error, |r| {
        // SAFETY: pointer contracts forwarded from the caller.
        let (oid, value) = unsafe {
            (
                string(oid, "oid")?,
                bytes(der_value, der_value_len, "der_value")?,
            )
        };
        r.req.extension(oid, critical, value)?;
        Ok(())
    })
}

/// Sets the PKCS#9 challengePassword attribute (wiped when the request is freed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_csr_request_set_challenge_password(
    request: *mut stepca_csr_request,
    password: *const c_char,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_request(request, error, |r| {
        // SAFETY: NUL-terminated string by contract.
        let password = unsafe { string(password, "challenge_password")? };
        r.req.challenge_password(password)?;
        Ok(())
    })
}

/// Chooses the signature algorithm (`STEPCA_SIG_*`); it must fit the key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_csr_request_set_signature_algorithm(
    request: *mut stepca_csr_request,
    alg: stepca_sig_alg,
    error: *mut *mut stepca_error,
) -> stepca_status {
    with_request(request, error, |r| {
        let alg = sig_alg(alg)?;
        if let Some(alg) = alg {
            alg.for_csr("signature_algorithm")?;
        }
        r.req.signature_algorithm(alg);
        Ok(())
    })
}

/// The one conversion of a `STEPCA_SIG_*` value: `None` for `STEPCA_SIG_DEFAULT`.
pub(crate) fn sig_alg(value: stepca_sig_alg) -> FfiResult<Option<SignatureAlgorithm>> {
    Ok(Some(match value {
        STEPCA_SIG_DEFAULT => return Ok(None),
        STEPCA_SIG_RSA_PKCS1_SHA256 => SignatureAlgorithm::RsaPkcs1Sha256,
        STEPCA_SIG_RSA_PKCS1_SHA384 => SignatureAlgorithm::RsaPkcs1Sha384,
        STEPCA_SIG_RSA_PKCS1_SHA512 => SignatureAlgorithm::RsaPkcs1Sha512,
        STEPCA_SIG_ECDSA_P256_SHA256 => SignatureAlgorithm::EcdsaP256Sha256,
        STEPCA_SIG_ECDSA_P384_SHA384 => SignatureAlgorithm::EcdsaP384Sha384,
        STEPCA_SIG_ED25519 => SignatureAlgorithm::Ed25519,
        STEPCA_SIG_RSA_PSS_SHA256 => SignatureAlgorithm::RsaPssSha256,
        STEPCA_SIG_RSA_PSS_SHA384 => SignatureAlgorithm::RsaPssSha384,
        STEPCA_SIG_RSA_PSS_SHA512 => SignatureAlgorithm::RsaPssSha512,
        other => {
            return Err(FfiError::invalid(
                "signature_algorithm",
                &format!("{other} is not a STEPCA_SIG_* value"),
            ));
        }
    }))
}

/// The `STEPCA_SIG_*` value of an algorithm.
pub(crate) fn sig_alg_value(alg: SignatureAlgorithm) -> stepca_sig_alg {
    match alg {
        SignatureAlgorithm::RsaPkcs1Sha256 => STEPCA_SIG_RSA_PKCS1_SHA256,
        SignatureAlgorithm::RsaPkcs1Sha384 => STEPCA_SIG_RSA_PKCS1_SHA384,
        SignatureAlgorithm::RsaPkcs1Sha512 => STEPCA_SIG_RSA_PKCS1_SHA512,
        SignatureAlgorithm::EcdsaP256Sha256 => STEPCA_SIG_ECDSA_P256_SHA256,
        SignatureAlgorithm::EcdsaP384Sha384 => STEPCA_SIG_ECDSA_P384_SHA384,
        SignatureAlgorithm::Ed25519 => STEPCA_SIG_ED25519,
        SignatureAlgorithm::RsaPssSha256 => STEPCA_SIG_RSA_PSS_SHA256,
        SignatureAlgorithm::RsaPssSha384 => STEPCA_SIG_RSA_PSS_SHA384,
        SignatureAlgorithm::RsaPssSha512 => STEPCA_SIG_RSA_PSS_SHA512,
    }
}

/// Frees a CSR request. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_csr_request_free(request: *mut stepca_csr_request) {
    // SAFETY: NULL or a request from this library, freed once.
    super::guard((), || unsafe { free_handle(request) })
}

/// Builds and signs a PKCS#10 CSR for `request` with `key`, in `format`
/// (`STEPCA_FORMAT_PEM` or `STEPCA_FORMAT_DER`). The CSR is written to a new buffer
/// (free it with `stepca_free`). Neither the key nor the request is consumed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_create_csr(
    key: *const stepca_key,
    request: *const stepca_csr_request,
    format: stepca_format,
    csr_out: *mut *mut u8,
    csr_len: *mut usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, len, key, request) = unsafe {
            (
                out(csr_out, "csr_out")?,
                out_len(csr_len, "csr_len")?,
                handle(key, "key")?,
                handle(request, "request")?,
            )
        };
        let fmt = self::format(format)?;
        let csr = request.req.build(&key.key)?;
        hand_out(&csr.encode(fmt), slot, len)
    })
}
