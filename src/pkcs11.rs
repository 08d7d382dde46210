//! Keys inside a PKCS#11 token (an HSM, a smart card, SoftHSM2): find or generate a key
//! pair in the token and sign CSRs and renew tokens there. The private key never leaves
//! the token; libstepca only reads the public key.

use std::path::Path;
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType as CkKeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;

use crate::encoding::{der_tlv, der_uint};
use crate::error::{Error, ErrorKind, Result};
use crate::key::{KeyType, SignatureAlgorithm};
use crate::signer::Signer;
use crate::token::ProviderError;

/// Which key in the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pkcs11KeyRef {
    /// By CKA_LABEL.
    Label(String),
    /// By CKA_ID.
    Id(Vec<u8>),
}

impl std::fmt::Display for Pkcs11KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pkcs11KeyRef::Label(l) => write!(f, "label {l:?}"),
            Pkcs11KeyRef::Id(id) => {
                f.write_str("id ")?;
                id.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

/// A key pair held in a PKCS#11 token, used as a [`Signer`]. One logged-in session,
/// serialised by a mutex (PKCS#11 sessions must not be used by two threads at once).
pub struct Pkcs11Key {
    session: Mutex<Session>,
    key: ObjectHandle,
    spki: Vec<u8>,
    alg: SignatureAlgorithm,
}

impl std::fmt::Debug for Pkcs11Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Key")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn ck(what: &str, e: CkError) -> Error {
    match e {
        CkError::Pkcs11(RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange, _) => {
            Error::new(ErrorKind::KeyPassphrase, "pin: the token rejected the PIN")
        }
        CkError::Pkcs11(RvError::PinLocked, _) => {
            Error::new(ErrorKind::KeyPassphrase, "pin: the token's PIN is locked")
        }
        e => Error::new(ErrorKind::Key, format!("pkcs11: {what}: {e}")),
    }
}

const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

fn open_session(module: &Path, token_label: &str, pin: &str) -> Result<(Pkcs11, Session)> {
    let ctx = Pkcs11::new(module).map_err(|e| {
        Error::invalid(
            "module",
            format!("cannot load PKCS#11 module {}: {e}", module.display()),
        )
    })?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(ck("initialize", e)),
    }
    let slot = ctx
        .get_slots_with_token()
        .map_err(|e| ck("slots", e))?
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .is_ok_and(|t| t.label().trim_end() == token_label)
        })
        .ok_or_else(|| Error::invalid("token", format!("no token labelled {token_label:?}")))?;
    let session = ctx
        .open_rw_session(slot)
        .map_err(|e| ck("open session", e))?;
    let pin_hash = pin_digest(module, token_label, pin);
    let auth = AuthPin::new(pin.into());
    match session.login(UserType::User, Some(&auth)) {
        Ok(()) => remember_login(pin_hash),
        // A login is per application, not per session: another open session already logged
        // in, so the token never sees this PIN. Check it against the one that worked, or a
        // wrong PIN would pass whenever a key happens to be open.
        Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {
            if !logged_in_with(&pin_hash) {
                return Err(Error::new(
                    ErrorKind::KeyPassphrase,
                    "pin: the token rejected the PIN",
                ));
            }
        }
        Err(e) => return Err(ck("login", e)),
    }
    Ok((ctx, session))
}

/// SHA-256 over module, token and PIN: all that is remembered of a successful login.
fn pin_digest(module: &Path, token: &str, pin: &str) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in [
        module.as_os_str().as_encoded_bytes(),
        token.as_bytes(),
        pin.as_bytes(),
    ] {
        ctx.update(&(part.len() as u64).to_le_bytes());
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

static LOGINS: Mutex<Vec<[u8; 32]>> = Mutex::new(Vec::new());

fn remember_login(digest: [u8; 32]) {
    if let Ok(mut l) = LOGINS.lock()
        && !l.contains(&digest)
    {
        l.push(digest);
    }
}

fn logged_in_with(digest: &[u8; 32]) -> bool {
    LOGINS.lock().is_ok_and(|l| {
        l.iter()
            .any(|d| aws_lc_rs::constant_time::verify_slices_are_equal(d, digest).is_ok())
    })
}

fn find(session: &Session, class: ObjectClass, key: &Pkcs11KeyRef) -> Result<Option<ObjectHandle>> {
    let id = match key {
        Pkcs11KeyRef::Label(l) => Attribute::Label(l.as_bytes().to_vec()),
        Pkcs11KeyRef::Id(i) => Attribute::Id(i.clone()),
    };
    let found = session
        .find_objects(&[Attribute::Class(class), id])
        .map_err(|e| ck("find", e))?;
    match found[..] {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(Error::invalid(
            "key",
            "several keys match in the token; use a unique label or id",
        )),
    }
}

impl Pkcs11Key {
    /// Opens the key pair `key` in the token labelled `token_label` of `module`, logging in
    /// with `pin`.
    pub fn open(
        module: &Path,
        token_label: &str,
        pin: &str,
        key: &Pkcs11KeyRef,
    ) -> Result<Pkcs11Key> {
        let (_ctx, session) = open_session(module, token_label, pin)?;
        let private = find(&session, ObjectClass::PRIVATE_KEY, key)?.ok_or_else(|| {
            Error::new(
                ErrorKind::Key,
                format!("key: no private key with {key} in the token"),
            )
        })?;
        let public = find(&session, ObjectClass::PUBLIC_KEY, key)?.ok_or_else(|| {
            Error::new(
                ErrorKind::Key,
                format!("key: no public key with {key} in the token"),
            )
        })?;
        Self::from_handles(session, private, public)
    }

    /// Opens the key named by an RFC 7512 PKCS#11 URI, in the form step's `--kms` takes:
    /// `pkcs11:token=<token label>;object=<key label>?module-path=<module>&pin-source=<file>`.
    /// The key is `object` (CKA_LABEL) or `id` (CKA_ID, hex or %-escaped bytes); the PIN is
    /// `pin-value`, or the first line of the file `pin-source` names (`file:` optional).
    /// As in step, attributes may stand before or after the `?`; values are %-decoded.
    /// A malformed URI is refused naming `uri` and the attribute; a module, token, key or
    /// PIN the token refuses gives the same errors as [`open`](Self::open).
    pub fn open_uri(uri: &str) -> Result<Pkcs11Key> {
        let u = Pkcs11Uri::parse(uri)?;
        let pin = match (&u.pin_value, &u.pin_source) {
            (Some(v), None) => v.clone(),
            (None, Some(path)) => {
                let path = path.strip_prefix("file:").unwrap_or(path);
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Error::invalid("uri", format!("pin-source: cannot read {path}: {e}"))
                })?;
                zeroize::Zeroizing::new(text.lines().next().unwrap_or("").trim_end().to_string())
            }
            (None, None) => {
                return Err(Error::invalid("uri", "needs pin-value or pin-source"));
            }
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "uri",
                    "has both pin-value and pin-source; give one",
                ));
            }
        };
        Self::open(Path::new(&u.module), &u.token, &pin, &u.key)
    }

    /// Generates a key pair of `key_type` (EC P-256/P-384, RSA 2048/3072/4096) labelled
    /// `label` inside the token; the private key is sensitive and not extractable.
    pub fn generate(
        module: &Path,
        token_label: &str,
        pin: &str,
        label: &str,
        key_type: KeyType,
    ) -> Result<Pkcs11Key> {
        let (_ctx, session) = open_session(module, token_label, pin)?;
        if find(
            &session,
            ObjectClass::PRIVATE_KEY,
            &Pkcs11KeyRef::Label(label.to_string()),
        )?
        .is_some()
        {
            return Err(Error::invalid(
                "label",
                format!("the token already holds a key labelled {label:?}"),
            ));
        }
        let common = |private: bool| {
            vec![
                Attribute::Token(true),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(label.as_bytes().to_vec()),
                if private {
                    Attribute::Sign(true)
                } else {
                    Attribute::Verify(true)
                },
            ]
        };
        let mut public = common(false);
        let mut private = common(true);
        private.extend([
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
        ]);
        let mech = match key_type {
            KeyType::EcP256 | KeyType::EcP384 => {
                public.push(Attribute::EcParams(
                    if key_type == KeyType::EcP256 {
                        P256
                    } else {
                        P384
                    }
                    .to_vec(),
                ));
                Mechanism::EccKeyPairGen
            }
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => {
                // CK_ULONG is C's unsigned long: 32 bits on 32-bit ARM.
                let bits = match key_type {
                    KeyType::Rsa2048 => 2048,
                    KeyType::Rsa3072 => 3072,
                    _ => 4096,
                };
                public.push(Attribute::ModulusBits(cryptoki::types::Ulong::new(bits)));
                public.push(Attribute::PublicExponent(vec![1, 0, 1]));
                Mechanism::RsaPkcsKeyPairGen
            }
            KeyType::Ed25519 => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "key_type: Ed25519 keys in PKCS#11 tokens are not supported",
                ));
            }
        };
        let (pubh, privh) = session
            .generate_key_pair(&mech, &public, &private)
            .map_err(|e| ck("generate", e))?;
        Self::from_handles(session, privh, pubh)
    }

    fn from_handles(
        session: Session,
        private: ObjectHandle,
        public: ObjectHandle,
    ) -> Result<Pkcs11Key> {
        let attrs = session
            .get_attributes(public, &[AttributeType::KeyType])
            .map_err(|e| ck("key type", e))?;
        let kt = attrs.iter().find_map(|a| match a {
            Attribute::KeyType(k) => Some(*k),
            _ => None,
        });
        let (spki, alg) = if kt == Some(CkKeyType::EC) {
            let a = session
                .get_attributes(public, &[AttributeType::EcParams, AttributeType::EcPoint])
                .map_err(|e| ck("public key", e))?;
            let (mut params, mut point) = (Vec::new(), Vec::new());
            for x in a {
                match x {
                    Attribute::EcParams(p) => params = p,
                    Attribute::EcPoint(p) => point = p,
                    _ => {}
                }
            }
            // CKA_EC_POINT is a DER OCTET STRING around the uncompressed point.
            let point = match point.as_slice() {
                [0x04, len, rest @ ..]
                    if *len as usize == rest.len() && rest.first() == Some(&0x04) =>
                {
                    rest.to_vec()
                }
                [0x04, 0x81, len, rest @ ..] if *len as usize == rest.len() => rest.to_vec(),
                p if p.first() == Some(&0x04) => p.to_vec(),
                _ => {
                    return Err(Error::new(
                        ErrorKind::Key,
                        "pkcs11: unexpected EC point encoding",
                    ));
                }
            };
            let alg = if params == P256 {
                SignatureAlgorithm::EcdsaP256Sha256
            } else if params == P384 {
                SignatureAlgorithm::EcdsaP384Sha384
            } else {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "key: only P-256 and P-384 EC keys are supported",
                ));
            };
            let mut algid = EC_PUBLIC_KEY.to_vec();
            algid.extend_from_slice(&params);
            let mut bits = vec![0u8];
            bits.extend_from_slice(&point);
            let mut body = der_tlv(0x30, &algid);
            body.extend(der_tlv(0x03, &bits));
            (der_tlv(0x30, &body), alg)
        } else if kt == Some(CkKeyType::RSA) {
            let a = session
                .get_attributes(
                    public,
                    &[AttributeType::Modulus, AttributeType::PublicExponent],
                )
                .map_err(|e| ck("public key", e))?;
            let (mut n, mut e) = (Vec::new(), Vec::new());
            for x in a {
                match x {
                    Attribute::Modulus(m) => n = m,
                    Attribute::PublicExponent(p) => e = p,
                    _ => {}
                }
            }
            let mut rsa = der_uint(&n);
            rsa.extend(der_uint(&e));
            let mut bits = vec![0u8];
            bits.extend(der_tlv(0x30, &rsa));
            let mut body = der_tlv(0x30, RSA_ENCRYPTION);
            body.extend(der_tlv(0x03, &bits));
            (der_tlv(0x30, &body), SignatureAlgorithm::RsaPkcs1Sha256)
        } else {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "key: only EC and RSA keys in tokens are supported",
            ));
        };
        Ok(Pkcs11Key {
            session: Mutex::new(session),
            key: private,
            spki,
            alg,
        })
    }
}

impl Signer for Pkcs11Key {
    fn public_key_spki(&self) -> &[u8] {
        &self.spki
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        self.alg
    }

    fn sign(
        &self,
        alg: SignatureAlgorithm,
        msg: &[u8],
    ) -> std::result::Result<Vec<u8>, ProviderError> {
        use cryptoki::mechanism::MechanismType as M;
        use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
        if alg.key_algorithm() != self.alg.key_algorithm() {
            return Err(format!(
                "this token key signs {}, not {}",
                self.alg.name(),
                alg.name()
            )
            .into());
        }
        let pss = |hash_alg, mgf, s_len| PkcsPssParams {
            hash_alg,
            mgf,
            s_len: cryptoki::types::Ulong::new(s_len),
        };
        let mech = match alg {
            SignatureAlgorithm::EcdsaP256Sha256 | SignatureAlgorithm::EcdsaP384Sha384 => {
                return self.sign_ecdsa(msg);
            }
            SignatureAlgorithm::RsaPkcs1Sha256 => Mechanism::Sha256RsaPkcs,
            SignatureAlgorithm::RsaPkcs1Sha384 => Mechanism::Sha384RsaPkcs,
            SignatureAlgorithm::RsaPkcs1Sha512 => Mechanism::Sha512RsaPkcs,
            // Salt as long as the hash: what TLS 1.3 requires.
            SignatureAlgorithm::RsaPssSha256 => {
                Mechanism::Sha256RsaPkcsPss(pss(M::SHA256, PkcsMgfType::MGF1_SHA256, 32))
            }
            SignatureAlgorithm::RsaPssSha384 => {
                Mechanism::Sha384RsaPkcsPss(pss(M::SHA384, PkcsMgfType::MGF1_SHA384, 48))
            }
            SignatureAlgorithm::RsaPssSha512 => {
                Mechanism::Sha512RsaPkcsPss(pss(M::SHA512, PkcsMgfType::MGF1_SHA512, 64))
            }
            SignatureAlgorithm::Ed25519 => return Err("Ed25519 is not supported in tokens".into()),
        };
        let session = self
            .session
            .lock()
            .map_err(|_| "pkcs11 session lock poisoned")?;
        Ok(session.sign(&mech, self.key, msg)?)
    }
}

impl Pkcs11Key {
    /// ECDSA: the token signs a digest (CKM_ECDSA) and returns r||s; X.509 wants DER.
    fn sign_ecdsa(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, ProviderError> {
        let digest_alg = if self.alg == SignatureAlgorithm::EcdsaP256Sha256 {
            &aws_lc_rs::digest::SHA256
        } else {
            &aws_lc_rs::digest::SHA384
        };
        self.sign_ecdsa_digest(aws_lc_rs::digest::digest(digest_alg, msg).as_ref())
    }

    fn sign_ecdsa_digest(&self, digest: &[u8]) -> std::result::Result<Vec<u8>, ProviderError> {
        let size = if self.alg == SignatureAlgorithm::EcdsaP256Sha256 {
            32
        } else {
            48
        };
        let raw = {
            let session = self
                .session
                .lock()
                .map_err(|_| "pkcs11 session lock poisoned")?;
            session.sign(&Mechanism::Ecdsa, self.key, digest)?
        };
        if raw.len() != 2 * size {
            return Err(format!("token returned a {}-byte ECDSA signature", raw.len()).into());
        }
        let mut seq = der_uint(&raw[..size]);
        seq.extend(der_uint(&raw[size..]));
        Ok(der_tlv(0x30, &seq))
    }
}

/// DigestInfo prefixes (RFC 8017 9.2, note 1): what CKM_RSA_PKCS signs before the digest.
const SHA256_INFO: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
const SHA384_INFO: &[u8] = &[
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0x04, 0x30,
];
const SHA512_INFO: &[u8] = &[
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05,
    0x00, 0x04, 0x40,
];

impl Pkcs11Key {
    /// Signs a digest someone else computed (what Go's `crypto.Signer` hands over) with
    /// `alg`, whose hash made it: ECDSA gives DER, RSA PKCS#1 v1.5 or PSS (salt as long as
    /// the hash).
    pub fn sign_digest(&self, alg: SignatureAlgorithm, digest: &[u8]) -> Result<Vec<u8>> {
        use cryptoki::mechanism::MechanismType as M;
        use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
        if alg.key_algorithm() != self.alg.key_algorithm() || alg == SignatureAlgorithm::Ed25519 {
            return Err(Error::invalid(
                "signature_algorithm",
                format!(
                    "this token key signs {}, not {}",
                    self.alg.name(),
                    alg.name()
                ),
            ));
        }
        let want = match alg {
            SignatureAlgorithm::EcdsaP256Sha256 | SignatureAlgorithm::RsaPkcs1Sha256 => 32,
            SignatureAlgorithm::RsaPssSha256 => 32,
            SignatureAlgorithm::EcdsaP384Sha384
            | SignatureAlgorithm::RsaPkcs1Sha384
            | SignatureAlgorithm::RsaPssSha384 => 48,
            _ => 64,
        };
        if digest.len() != want {
            return Err(Error::invalid(
                "digest",
                format!("{} bytes, but {} needs {want}", digest.len(), alg.name()),
            ));
        }
        let failed = |e: ProviderError| {
            Error::new(ErrorKind::Signer, format!("signer: failed: {e}")).with_source(e)
        };
        let pss = |hash_alg, mgf| {
            Mechanism::RsaPkcsPss(PkcsPssParams {
                hash_alg,
                mgf,
                // CK_ULONG: 32 or 64 bits; a digest length fits either.
                s_len: cryptoki::types::Ulong::new(want as _),
            })
        };
        let (mech, input) = match alg {
            SignatureAlgorithm::EcdsaP256Sha256 | SignatureAlgorithm::EcdsaP384Sha384 => {
                return self.sign_ecdsa_digest(digest).map_err(failed);
            }
            SignatureAlgorithm::RsaPkcs1Sha256 => {
                (Mechanism::RsaPkcs, [SHA256_INFO, digest].concat())
            }
            SignatureAlgorithm::RsaPkcs1Sha384 => {
                (Mechanism::RsaPkcs, [SHA384_INFO, digest].concat())
            }
            SignatureAlgorithm::RsaPkcs1Sha512 => {
                (Mechanism::RsaPkcs, [SHA512_INFO, digest].concat())
            }
            SignatureAlgorithm::RsaPssSha256 => {
                (pss(M::SHA256, PkcsMgfType::MGF1_SHA256), digest.to_vec())
            }
            SignatureAlgorithm::RsaPssSha384 => {
                (pss(M::SHA384, PkcsMgfType::MGF1_SHA384), digest.to_vec())
            }
            _ => (pss(M::SHA512, PkcsMgfType::MGF1_SHA512), digest.to_vec()),
        };
        let session = self
            .session
            .lock()
            .map_err(|_| Error::new(ErrorKind::Signer, "signer: pkcs11 session lock poisoned"))?;
        session
            .sign(&mech, self.key, &input)
            .map_err(|e| failed(e.into()))
    }
}

/// The parts of a PKCS#11 URI libstepca uses.
#[derive(Debug, PartialEq, Eq)]
struct Pkcs11Uri {
    module: String,
    token: String,
    key: Pkcs11KeyRef,
    /// Wiped when dropped, like every PIN.
    pin_value: Option<zeroize::Zeroizing<String>>,
    pin_source: Option<String>,
}

impl Pkcs11Uri {
    fn parse(uri: &str) -> Result<Pkcs11Uri> {
        let bad = |why: String| Error::invalid("uri", why);
        let rest = uri
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("pkcs11:"))
            .map(|_| &uri[7..])
            .ok_or_else(|| bad("must start with pkcs11:".into()))?;
        // (name, decoded value, whether it was %-escaped: then an id is bytes, not hex)
        let mut attrs: Vec<(String, Vec<u8>, bool)> = Vec::new();
        for part in rest.split([';', '?', '&']).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                // Not echoed: a misplaced separator could put a PIN here.
                .ok_or_else(|| bad("has an attribute that is not name=value".into()))?;
            if attrs.iter().any(|(n, _, _)| n == name) {
                return Err(bad(format!("{name} is given twice")));
            }
            attrs.push((
                name.to_string(),
                percent_decode(value).map_err(|e| bad(format!("{name}: {e}")))?,
                value.contains('%'),
            ));
        }
        let text = |name: &str| -> Result<Option<String>> {
            attrs
                .iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, v, _)| {
                    String::from_utf8(v.clone()).map_err(|_| bad(format!("{name}: not UTF-8")))
                })
                .transpose()
        };
        for unsupported in ["slot-id", "serial", "pin-prompt"] {
            if text(unsupported)?.is_some() {
                return Err(bad(format!(
                    "{unsupported} is not supported; name the token with token= and the PIN \
                     with pin-value or pin-source"
                )));
            }
        }
        let key = match (text("object")?, attrs.iter().find(|(n, _, _)| n == "id")) {
            (Some(label), None) => Pkcs11KeyRef::Label(label),
            (None, Some((_, id, true))) => Pkcs11KeyRef::Id(id.clone()),
            (None, Some((_, id, false))) => Pkcs11KeyRef::Id(decode_id(id)),
            (Some(_), Some(_)) => return Err(bad("has both object and id; give one".into())),
            (None, None) => return Err(bad("needs object= (the key's label) or id=".into())),
        };
        Ok(Pkcs11Uri {
            module: text("module-path")?
                .ok_or_else(|| bad("needs module-path= (the PKCS#11 module)".into()))?,
            token: text("token")?.ok_or_else(|| bad("needs token= (the token's label)".into()))?,
            key,
            pin_value: text("pin-value")?.map(zeroize::Zeroizing::new),
            pin_source: text("pin-source")?,
        })
    }
}

/// An `id` written without %-escapes: hex when it reads as hex (as step writes it,
/// `id=0a10`), else its own bytes.
fn decode_id(raw: &[u8]) -> Vec<u8> {
    let hex =
        raw.len().is_multiple_of(2) && !raw.is_empty() && raw.iter().all(u8::is_ascii_hexdigit);
    if hex {
        raw.chunks(2)
            .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap_or("00"), 16).unwrap_or(0))
            .collect()
    } else {
        raw.to_vec()
    }
}

/// RFC 3986 percent-decoding.
fn percent_decode(s: &str) -> std::result::Result<Vec<u8>, &'static str> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or("a % without two hex digits")?;
            let text = std::str::from_utf8(hex).map_err(|_| "a % without two hex digits")?;
            out.push(u8::from_str_radix(text, 16).map_err(|_| "a % without two hex digits")?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_as_step_writes_them() {
        let u = Pkcs11Uri::parse(
            "pkcs11:module-path=/usr/lib/softhsm/libsofthsm2.so;token=smallstep;object=ec%20key\
             ?pin-value=password",
        )
        .unwrap();
        assert_eq!(u.module, "/usr/lib/softhsm/libsofthsm2.so");
        assert_eq!(u.token, "smallstep");
        assert_eq!(u.key, Pkcs11KeyRef::Label("ec key".into()));
        assert_eq!(u.pin_value.as_deref().map(String::as_str), Some("password"));
        let u = Pkcs11Uri::parse("pkcs11:token=t;id=0a10?module-path=/m.so&pin-source=file:/p")
            .unwrap();
        assert_eq!(u.key, Pkcs11KeyRef::Id(vec![0x0a, 0x10]));
        assert_eq!(u.pin_source.as_deref(), Some("file:/p"));
        let u = Pkcs11Uri::parse("pkcs11:token=t;id=%01%ff;module-path=/m.so").unwrap();
        assert_eq!(u.key, Pkcs11KeyRef::Id(vec![0x01, 0xff]));
        // %-escaped bytes are bytes, even when they spell hex digits.
        let u = Pkcs11Uri::parse("pkcs11:token=t;id=%62%65%65%66;module-path=/m.so").unwrap();
        assert_eq!(u.key, Pkcs11KeyRef::Id(b"beef".to_vec()));
        let u = Pkcs11Uri::parse("pkcs11:token=t;id=idevid;module-path=/m.so").unwrap();
        assert_eq!(u.key, Pkcs11KeyRef::Id(b"idevid".to_vec()));
        for (bad, says) in [
            ("file:/x", "pkcs11:"),
            ("pkcs11:token=t;module-path=/m", "object="),
            ("pkcs11:object=k;module-path=/m", "token="),
            ("pkcs11:token=t;object=k", "module-path="),
            (
                "pkcs11:token=t;object=k;id=01;module-path=/m",
                "both object and id",
            ),
            ("pkcs11:token=t;token=u;object=k;module-path=/m", "twice"),
            ("pkcs11:slot-id=1;object=k;module-path=/m", "slot-id"),
            ("pkcs11:token=t;object=k%2;module-path=/m", "object: a %"),
            ("pkcs11:token;object=k;module-path=/m", "name=value"),
            (
                "pkcs11:token=t;object=k;module-path=/m;s3cret",
                "name=value",
            ),
        ] {
            let e = Pkcs11Uri::parse(bad).unwrap_err();
            assert!(e.message().starts_with("uri: "), "{bad}: {e}");
            assert!(e.message().contains(says), "{bad}: {e}");
            assert!(!e.message().contains("s3cret"), "{bad}: {e}");
        }
    }
}
