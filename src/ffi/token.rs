//! The C token provider: a function pointer with `void *user_data`, the claims it is
//! given, and the sink it hands the token back through.

use std::ffi::{CString, c_char, c_int, c_void};

use zeroize::Zeroizing;

use super::error::{FfiError, stepca_error, stepca_status};
use super::{bytes, call, handle_mut, string};
use crate::name::SanKind;
use crate::token::{ProviderError, Token, TokenClaims, TokenProvider, TokenPurpose};

/// What the token provider is told. All pointers are valid only during the callback.
///
/// The library creates this struct; never allocate one. Fields may be appended in later
/// versions, never removed or reordered.
#[repr(C)]
pub struct stepca_token_claims {
    /// The CSR's subject commonName ("" when it has none): the token's `sub`.
    pub subject: *const c_char,
    /// The audience the token must carry, e.g. `https://ca:9000/1.0/sign`.
    pub audience: *const c_char,
    /// The provisioner configured on the client, or NULL.
    pub provisioner: *const c_char,
    /// Every SAN of the CSR as a string, in order: the token's `sans`.
    pub sans: *const *const c_char,
    /// Number of entries in `sans`.
    pub sans_len: usize,
    /// The DNS SANs.
    pub dns: *const *const c_char,
    /// Number of entries in `dns`.
    pub dns_len: usize,
    /// The IP SANs, in text form.
    pub ips: *const *const c_char,
    /// Number of entries in `ips`.
    pub ips_len: usize,
    /// The email SANs.
    pub emails: *const *const c_char,
    /// Number of entries in `emails`.
    pub emails_len: usize,
    /// The URI SANs.
    pub uris: *const *const c_char,
    /// Number of entries in `uris`.
    pub uris_len: usize,
    /// What the token is for: `STEPCA_TOKEN_SIGN` or `STEPCA_TOKEN_REVOKE` (then `subject`
    /// is the certificate's serial number in decimal and there are no SANs).
    pub purpose: stepca_token_purpose,
    /// The client's time in UNIX seconds (its time source, or the CA's clock in CA-time
    /// mode): base a minted token's `iat`, `nbf` and `exp` on it, not on the system clock.
    pub now: i64,
    /// For a sign token, the CSR's fingerprint (SHA-256 of its DER, base64url without
    /// padding); NULL for revoke tokens. Put it in the token as
    /// `"cnf":{"x5rt#S256":"<fingerprint>"}` and step-ca accepts the token for this CSR
    /// only.
    pub csr_fingerprint: *const c_char,
    /// The notAfter the call requests, UNIX seconds, or 0 when it requests none.
    pub not_after: i64,
}

/// What a token is for.
pub type stepca_token_purpose = u32;
/// A `/1.0/sign` token.
pub const STEPCA_TOKEN_SIGN: stepca_token_purpose = 1;
/// A `/1.0/revoke` token.
pub const STEPCA_TOKEN_REVOKE: stepca_token_purpose = 2;

/// Where a token provider puts the token. Valid only during the callback.
pub struct stepca_token_sink {
    token: Option<Zeroizing<String>>,
    message: Option<String>,
}

/// A token provider callback. It runs synchronously on the thread that called
/// `stepca_sign_cert`, once per call: a retry of a request that never reached the CA sends
/// the same token again. It hands the token over with
/// `stepca_token_sink_set` and returns 0, or returns non-zero on failure (optionally after
/// `stepca_token_sink_set_error`), which fails the call with `STEPCA_ERR_TOKEN_PROVIDER`.
/// When the client is shared between threads, the callback may run on several at once.
/// It may call other libstepca functions.
pub type stepca_token_provider_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        claims: *const stepca_token_claims,
        sink: *mut stepca_token_sink,
    ) -> c_int,
>;

/// Hands the token to libstepca, which copies it (`len` bytes; no NUL needed). Call it
/// from the token provider; a second call replaces the first token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_token_sink_set(
    sink: *mut stepca_token_sink,
    token: *const c_char,
    len: usize,
    error: *mut *mut stepca_error,
) -> stepca_status {
    call(error, || {
        // SAFETY: the sink is live during the callback; `token` has `len` bytes.
        let (sink, data) = unsafe {
            (
                handle_mut(sink, "sink")?,
                bytes(token.cast(), len, "token")?,
            )
        };
        let text = std::str::from_utf8(data)
            .map_err(|_| FfiError::invalid("token", "is not valid UTF-8"))?;
        sink.token = Some(Zeroizing::new(text.to_string()));
        Ok(())
    })
}

/// Records why the token provider failed; the text appears in the call's error message.
/// Never pass secrets here.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stepca_token_sink_set_error(
    sink: *mut stepca_token_sink,
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

/// Why a C token provider failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallbackError {
    #[error("callback returned {code}{}", .message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Failed {
        code: c_int,
        message: Option<String>,
    },
    #[error("callback returned 0 without setting a token")]
    NoToken,
    #[error("the CSR's {0} contains a NUL character")]
    Nul(&'static str),
}

/// The provider for a C callback and its user_data, or None for a NULL callback.
pub(crate) fn c_provider(
    provider: stepca_token_provider_fn,
    user_data: *mut c_void,
) -> Option<std::sync::Arc<dyn TokenProvider>> {
    provider.map(|func| {
        std::sync::Arc::new(CTokenProvider { func, user_data }) as std::sync::Arc<dyn TokenProvider>
    })
}

/// A C callback adapted to [`TokenProvider`].
pub(crate) struct CTokenProvider {
    pub(crate) func: unsafe extern "C" fn(
        *mut c_void,
        *const stepca_token_claims,
        *mut stepca_token_sink,
    ) -> c_int,
    pub(crate) user_data: *mut c_void,
}

// SAFETY: the C API documents that a provider on a shared client must be callable from
// any thread; the library only passes `user_data` back to it.
unsafe impl Send for CTokenProvider {}
// SAFETY: as above.
unsafe impl Sync for CTokenProvider {}

fn c_strings(values: Vec<String>, what: &'static str) -> Result<Vec<CString>, CallbackError> {
    values
        .into_iter()
        .map(|v| CString::new(v).map_err(|_| CallbackError::Nul(what)))
        .collect()
}

impl TokenProvider for CTokenProvider {
    fn token(&self, claims: &TokenClaims) -> Result<Token, ProviderError> {
        let subject =
            CString::new(claims.subject.as_str()).map_err(|_| CallbackError::Nul("subject"))?;
        let audience =
            CString::new(claims.audience.as_str()).map_err(|_| CallbackError::Nul("audience"))?;
        let provisioner = claims
            .provisioner
            .as_deref()
            .map(CString::new)
            .transpose()
            .map_err(|_| CallbackError::Nul("provisioner"))?;
        let lists = [
            c_strings(claims.san_strings(), "SANs")?,
            c_strings(claims.sans_of(SanKind::Dns), "DNS SANs")?,
            c_strings(claims.sans_of(SanKind::Ip), "IP SANs")?,
            c_strings(claims.sans_of(SanKind::Email), "email SANs")?,
            c_strings(claims.sans_of(SanKind::Uri), "URI SANs")?,
        ];
        // Base64url: never a NUL.
        let fingerprint = claims
            .csr_fingerprint
            .as_deref()
            .map(CString::new)
            .transpose()
            .map_err(|_| CallbackError::Nul("fingerprint"))?;
        let ptrs: Vec<Vec<*const c_char>> = lists
            .iter()
            .map(|l| l.iter().map(|s| s.as_ptr()).collect())
            .collect();
        let c_claims = stepca_token_claims {
            subject: subject.as_ptr(),
            audience: audience.as_ptr(),
            provisioner: provisioner
                .as_ref()
                .map_or(std::ptr::null(), |p| p.as_ptr()),
            sans: ptrs[0].as_ptr(),
            sans_len: ptrs[0].len(),
            dns: ptrs[1].as_ptr(),
            dns_len: ptrs[1].len(),
            ips: ptrs[2].as_ptr(),
            ips_len: ptrs[2].len(),
            emails: ptrs[3].as_ptr(),
            emails_len: ptrs[3].len(),
            uris: ptrs[4].as_ptr(),
            uris_len: ptrs[4].len(),
            purpose: match claims.purpose {
                TokenPurpose::Sign => STEPCA_TOKEN_SIGN,
                TokenPurpose::Revoke => STEPCA_TOKEN_REVOKE,
            },
            now: crate::clock::unix_secs(claims.now),
            csr_fingerprint: fingerprint
                .as_ref()
                .map_or(std::ptr::null(), |f| f.as_ptr()),
            not_after: claims.not_after.map_or(0, crate::clock::unix_secs),
        };
        let mut sink = stepca_token_sink {
            token: None,
            message: None,
        };
        // SAFETY: the callback contract; every pointer outlives the call.
        let code = unsafe { (self.func)(self.user_data, &c_claims, &mut sink) };
        if code != 0 {
            return Err(CallbackError::Failed {
                code,
                message: sink.message,
            }
            .into());
        }
        match sink.token.take() {
            Some(t) => Ok(Token::new(t.as_str())),
            None => Err(CallbackError::NoToken.into()),
        }
    }
}
