//! `stepca_external_key`: a key held elsewhere, as a public key plus a sign callback (a
//! secure element, TPM or HSM SDK) or a PKCS#11 token key (`ffi/pkcs11.rs`).

use std::ffi::{c_char, c_int, c_void};

use std::sync::Arc;

use super::buffer::hand_out;
use super::csr::{sig_alg, sig_alg_value, stepca_csr_request, stepca_sig_alg};
use super::error::{FfiError, stepca_error, stepca_status};
use super::{
    bytes, call, format, free_handle, guard, handle, handle_mut, into_handle, out, out_len,
    stepca_format, string,
};
use crate::key::SignatureAlgorithm;
use crate::signer::Signer;
use crate::token::ProviderError;

/// Where a sign callback puts the signature. Valid only during the callback.
pub struct stepca_signature_sink {
    alg: SignatureAlgorithm,
    sig: Option<Vec<u8>>,
    message: Option<String>,
}

/// A sign callback: signs `data` (`len` bytes; the callback hashes it) with the algorithm
/// `stepca_signature_sink_algorithm(sink)` names and hands the signature over with
/// `stepca_signature_sink_set`, returning 0; non-zero fails the call with
/// `STEPCA_ERR_SIGNER`. The algorithm is the key's own for CSRs and tokens; during a
/// mutual-TLS handshake it is the scheme the handshake needs (`STEPCA_SIG_RSA_PSS_SHA256`
/// for an RSA key under TLS 1.3). Formats: a DER `ECDSA-Sig-Value` for ECDSA (what
/// OpenSSL's EVP_DigestSign and Go's crypto.Signer produce), the PKCS#1 v1.5 or PSS
/// signature for RSA, the 64 raw bytes for Ed25519. Every signature is verified with the
/// public key before use; one that does not verify fails the call with
/// `STEPCA_ERR_SIGNER`. Called synchronously on the calling thread.
pub type stepca_sign_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        data: *const u8,
        len: usize,
        sink: *mut stepca_signature_sink,
    ) -> c_int,
>;

/// A key held elsewhere: a public key with a sign callback, or a key in a PKCS#11 token.
/// Immutable; a callback must be thread-safe if the key is used from several threads.
pub struct stepca_external_key {
    pub(crate) inner: Arc<dyn Signer>,
    /// The same key when it is in a PKCS#11 token, which can also sign digests.
    pub(crate) pkcs11: Option<Arc<crate::pkcs11::Pkcs11Key>>,
}

/// A sign callback as a [`Signer`].
struct CallbackSigner {
    spki: Vec<u8>,
    alg: SignatureAlgorithm,
    func: unsafe extern "C" fn(*mut c_void, *const u8, usize, *mut stepca_signature_sink) -> c_int,
    user_data: *mut c_void,
}

// SAFETY: documented: the callback and its user_data must be usable from any thread the
// key is used on; libstepca only passes user_data back.
unsafe impl Send for CallbackSigner {}
// SAFETY: as above.
unsafe impl Sync for CallbackSigner {}

#[derive(Debug, thiserror::Error)]
enum SignError {
    #[error("callback returned {code}{}", .message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Failed {
        code: c_int,
        message: Option<String>,
    },
    #[error("callback returned 0 without a signature")]
    NoSignature,
}

impl Signer for CallbackSigner {
    fn public_key_spki(&self) -> &[u8] {
        &self.spki
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        self.alg
    }

    fn sign(&self, alg: SignatureAlgorithm, msg: &[u8]) -> Result<Vec<u8>, ProviderError> {
        let mut sink = stepca_signature_sink {
            alg,
            sig: None,
            message: None,
        };
        // SAFETY: the callback contract; `msg` and the sink outlive the call.
        let code = unsafe { (self.func)(self.user_data, msg.as_ptr(), msg.len(), &mut sink) };
        if code != 0 {
            return Err(SignError::Failed {
                code,
                message: sink.message,
            }
            .into());
        }
        sink.sig.ok_or_else(|| SignError::NoSignature.into())
    }
}

/// Hands the signature to libstepca, which copies it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_signature_sink_set(
    sink: *mut stepca_signature_sink,
    signature: *const u8,
    len: usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: the sink is live during the callback; `signature` has `len` bytes.
        let (sink, sig) = unsafe {
            (
                handle_mut(sink, "sink")?,
                bytes(signature, len, "signature")?,
            )
        };
        sink.sig = Some(sig.to_vec());
        Ok(())
    })
}

/// The algorithm the callback must sign with (`STEPCA_SIG_*`), or 0 for NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_signature_sink_algorithm(
    sink: *const stepca_signature_sink,
) -> stepca_sig_alg {
    // SAFETY: NULL or the sink passed to a running callback.
    super::guard(0, || {
        unsafe { sink.as_ref() }.map_or(0, |s| sig_alg_value(s.alg))
    })
}

/// Records why the signer failed; the text appears in the call's error message.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_signature_sink_set_error(
    sink: *mut stepca_signature_sink,
    message: *const c_char,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: the sink is live during the callback; `message` is NUL-terminated.
        let (sink, message) = unsafe { (handle_mut(sink, "sink")?, string(message, "message")?) };
        sink.message = Some(message.chars().take(1024).collect());
        Ok(())
    })
}

/// Creates an external key from its public key (SubjectPublicKeyInfo, DER or PEM
/// `PUBLIC KEY`), the signature algorithm it signs with (`STEPCA_SIG_*`, not DEFAULT) and
/// the sign callback with its `user_data`, which must outlive the key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_external_key_new(
    public_key: *const u8,
    public_key_len: usize,
    alg: stepca_sig_alg,
    sign: stepca_sign_fn,
    user_data: *mut c_void,
    key_out: *mut *mut stepca_external_key,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, data) = unsafe {
            (
                out(key_out, "key_out")?,
                bytes(public_key, public_key_len, "public_key")?,
            )
        };
        let func = sign.ok_or_else(|| FfiError::null("sign"))?;
        let spki = if data.trim_ascii_start().starts_with(b"-----BEGIN") {
            match ::pem::parse(data) {
                Ok(p) if p.tag() == "PUBLIC KEY" => p.into_contents(),
                _ => return Err(FfiError::invalid("public_key", "not a PEM PUBLIC KEY")),
            }
        } else {
            data.to_vec()
        };
        let signer = CallbackSigner {
            spki,
            alg: sig_alg(alg)?.ok_or_else(|| {
                FfiError::invalid(
                    "signature_algorithm",
                    "an external key needs its algorithm, not STEPCA_SIG_DEFAULT",
                )
            })?,
            func,
            user_data,
        };
        // Checks the public key parses and fits the algorithm, now rather than at first use.
        crate::signer::ExternalKey::new(&signer, "public_key")?;
        *slot = into_handle(stepca_external_key {
            inner: Arc::new(signer),
            pkcs11: None,
        });
        Ok(())
    })
}

/// Frees an external key (not its user_data). NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_external_key_free(key: *mut stepca_external_key) {
    // SAFETY: NULL or a key from this library, freed once.
    guard((), || unsafe { free_handle(key) })
}

/// Builds a CSR for `request` signed through the external key's callback (libstepca
/// never sees the private key), in `format`, into a new buffer (free with `stepca_free`).
/// The signature is checked against the public key before the CSR is handed out.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_create_csr_external(
    key: *const stepca_external_key,
    request: *const stepca_csr_request,
    format_: stepca_format,
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
        let fmt = format(format_)?;
        let csr = request.request().build_with_signer(key.inner.as_ref())?;
        hand_out(&csr.encode(fmt), slot, len)
    })
}

/// Writes the external key's public key (DER SubjectPublicKeyInfo) into a new buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_external_key_public_key(
    key: *const stepca_external_key,
    spki_out: *mut *mut u8,
    spki_len: *mut usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, len, key) = unsafe {
            (
                out(spki_out, "spki_out")?,
                out_len(spki_len, "spki_len")?,
                handle(key, "key")?,
            )
        };
        hand_out(key.inner.public_key_spki(), slot, len)
    })
}
