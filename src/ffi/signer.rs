//! `stepca_external_key`: a public key plus a sign callback, for keys that never leave a
//! secure element, TPM or HSM.

use std::ffi::{c_char, c_int, c_void};

use super::buffer::hand_out;
use super::chain::stepca_chain;
use super::client::stepca_client;
use super::csr::{stepca_csr_request, stepca_sig_alg};
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
    sig: Option<Vec<u8>>,
    message: Option<String>,
}

/// A sign callback: signs `data` (`len` bytes; the callback hashes it) and hands the
/// signature over with `stepca_signature_sink_set`, returning 0; non-zero fails the call
/// with `STEPCA_ERR_SIGNER`. Formats: a DER `ECDSA-Sig-Value` for ECDSA (what OpenSSL's
/// EVP_DigestSign and Go's crypto.Signer produce), the PKCS#1 v1.5 signature for RSA, the
/// 64 raw bytes for Ed25519. Called synchronously on the calling thread.
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
    inner: Box<dyn Signer>,
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

impl Signer for stepca_external_key {
    fn public_key_spki(&self) -> &[u8] {
        self.inner.public_key_spki()
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        self.inner.algorithm()
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ProviderError> {
        self.inner.sign(msg)
    }
}

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

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ProviderError> {
        let mut sink = stepca_signature_sink {
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

fn sig_alg(alg: stepca_sig_alg) -> super::FfiResult<SignatureAlgorithm> {
    use super::csr::*;
    Ok(match alg {
        STEPCA_SIG_RSA_PKCS1_SHA256 => SignatureAlgorithm::RsaPkcs1Sha256,
        STEPCA_SIG_RSA_PKCS1_SHA384 => SignatureAlgorithm::RsaPkcs1Sha384,
        STEPCA_SIG_RSA_PKCS1_SHA512 => SignatureAlgorithm::RsaPkcs1Sha512,
        STEPCA_SIG_ECDSA_P256_SHA256 => SignatureAlgorithm::EcdsaP256Sha256,
        STEPCA_SIG_ECDSA_P384_SHA384 => SignatureAlgorithm::EcdsaP384Sha384,
        STEPCA_SIG_ED25519 => SignatureAlgorithm::Ed25519,
        other => {
            return Err(FfiError::invalid(
                "signature_algorithm",
                &format!("{other} is not a STEPCA_SIG_* value for an external key"),
            ));
        }
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
            alg: sig_alg(alg)?,
            func,
            user_data,
        };
        // Checks the public key parses and fits the algorithm, now rather than at first use.
        crate::signer::ExternalKey::new(&signer)?;
        *slot = into_handle(stepca_external_key {
            inner: Box::new(signer),
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
        let csr = request.request().build_with_signer(key)?;
        hand_out(&csr.encode(fmt), slot, len)
    })
}

/// Renews `chain` whose key is held by the external key, with a renew token the callback
/// signs. The new chain goes to `*chain_out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_renew_external(
    client: *const stepca_client,
    chain: *const stepca_chain,
    key: *const stepca_external_key,
    chain_out: *mut *mut stepca_chain,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, client, chain, key) = unsafe {
            (
                out(chain_out, "chain_out")?,
                handle(client, "client")?,
                handle(chain, "chain")?,
                handle(key, "key")?,
            )
        };
        let new = client.client.renew_with_signer(&chain.chain, key)?;
        *slot = into_handle(stepca_chain { chain: new });
        Ok(())
    })
}

/// Opens the key pair labelled `key_label` in the PKCS#11 token labelled `token_label` of
/// `module` (a path to the module, e.g. libsofthsm2.so), logging in with `pin` (wrong PIN:
/// `STEPCA_ERR_KEY_PASSPHRASE`; no such key: `STEPCA_ERR_KEY`). Use it with
/// `stepca_create_csr_external` and `stepca_renew_external`; the private key never leaves
/// the token. Free with `stepca_external_key_free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_pkcs11_key_open(
    module: *const c_char,
    token_label: *const c_char,
    pin: *const c_char,
    key_label: *const c_char,
    key_out: *mut *mut stepca_external_key,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, module, token, pin, label) = unsafe {
            (
                out(key_out, "key_out")?,
                string(module, "module")?,
                string(token_label, "token_label")?,
                string(pin, "pin")?,
                string(key_label, "key_label")?,
            )
        };
        let pin = zeroize::Zeroizing::new(pin.to_string());
        let key = crate::pkcs11::Pkcs11Key::open(
            std::path::Path::new(module),
            token,
            &pin,
            &crate::pkcs11::Pkcs11KeyRef::Label(label.to_string()),
        )?;
        *slot = into_handle(stepca_external_key {
            inner: Box::new(key),
        });
        Ok(())
    })
}

/// Generates a key pair of `type` (`STEPCA_KEY_EC_P256`, `_EC_P384`, `_RSA_2048/3072/4096`)
/// labelled `key_label` inside the PKCS#11 token; the private key is not extractable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_pkcs11_key_generate(
    module: *const c_char,
    token_label: *const c_char,
    pin: *const c_char,
    key_label: *const c_char,
    r#type: super::key::stepca_key_type,
    key_out: *mut *mut stepca_external_key,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: pointer contracts forwarded from the caller.
        let (slot, module, token, pin, label) = unsafe {
            (
                out(key_out, "key_out")?,
                string(module, "module")?,
                string(token_label, "token_label")?,
                string(pin, "pin")?,
                string(key_label, "key_label")?,
            )
        };
        use super::key::*;
        let kt = match r#type {
            STEPCA_KEY_EC_P256 => crate::key::KeyType::EcP256,
            STEPCA_KEY_EC_P384 => crate::key::KeyType::EcP384,
            STEPCA_KEY_RSA_2048 => crate::key::KeyType::Rsa2048,
            STEPCA_KEY_RSA_3072 => crate::key::KeyType::Rsa3072,
            STEPCA_KEY_RSA_4096 => crate::key::KeyType::Rsa4096,
            other => {
                return Err(FfiError::invalid(
                    "type",
                    &format!("{other} is not a key type a token can generate here"),
                ));
            }
        };
        let pin = zeroize::Zeroizing::new(pin.to_string());
        let key = crate::pkcs11::Pkcs11Key::generate(
            std::path::Path::new(module),
            token,
            &pin,
            label,
            kt,
        )?;
        *slot = into_handle(stepca_external_key {
            inner: Box::new(key),
        });
        Ok(())
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
        hand_out(key.public_key_spki(), slot, len)
    })
}
