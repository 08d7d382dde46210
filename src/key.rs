//! Private keys: loading (PEM or DER; PKCS#8, SEC1, PKCS#1; encrypted or not), generation,
//! export as PKCS#8 (encrypted or not), and signing for CSRs.
//!
//! A key is parsed and validated once, when it is loaded; every later CSR reuses it.
//! The PKCS#8 bytes we keep, and every buffer that held plaintext key material while
//! decoding, are zeroized when dropped.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};
use crate::key_encryption;

/// Key types libstepca can generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// RSA with a 2048-bit modulus.
    Rsa2048,
    /// RSA with a 3072-bit modulus.
    Rsa3072,
    /// RSA with a 4096-bit modulus.
    Rsa4096,
    /// ECDSA on NIST P-256.
    EcP256,
    /// ECDSA on NIST P-384.
    EcP384,
    /// Ed25519.
    Ed25519,
}

/// The algorithm family of a loaded key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// RSA (any modulus size from 2048 to 8192 bits).
    Rsa,
    /// ECDSA on NIST P-256.
    EcP256,
    /// ECDSA on NIST P-384.
    EcP384,
    /// Ed25519.
    Ed25519,
}

/// Signature algorithms for CSRs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RsaPkcs1Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RsaPkcs1Sha384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RsaPkcs1Sha512,
    /// ECDSA P-256 with SHA-256.
    EcdsaP256Sha256,
    /// ECDSA P-384 with SHA-384.
    EcdsaP384Sha384,
    /// Ed25519 (PureEdDSA).
    Ed25519,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt: what TLS 1.3 needs from
    /// an RSA key, so a held RSA key is asked for it during mutual TLS. Not for CSRs.
    RsaPssSha256,
    /// RSASSA-PSS with SHA-384 (salt 48 bytes). TLS only.
    RsaPssSha384,
    /// RSASSA-PSS with SHA-512 (salt 64 bytes). TLS only.
    RsaPssSha512,
}

impl SignatureAlgorithm {
    /// Every algorithm a CSR or token can be signed with (the RSA-PSS ones sign TLS
    /// handshakes only).
    pub const ALL: [SignatureAlgorithm; 6] = [
        SignatureAlgorithm::RsaPkcs1Sha256,
        SignatureAlgorithm::RsaPkcs1Sha384,
        SignatureAlgorithm::RsaPkcs1Sha512,
        SignatureAlgorithm::EcdsaP256Sha256,
        SignatureAlgorithm::EcdsaP384Sha384,
        SignatureAlgorithm::Ed25519,
    ];

    /// The name used in capabilities and messages (`RSA-PKCS1-SHA256`, `ECDSA-P256-SHA256`, ...).
    pub fn name(self) -> &'static str {
        match self {
            SignatureAlgorithm::RsaPkcs1Sha256 => "RSA-PKCS1-SHA256",
            SignatureAlgorithm::RsaPkcs1Sha384 => "RSA-PKCS1-SHA384",
            SignatureAlgorithm::RsaPkcs1Sha512 => "RSA-PKCS1-SHA512",
            SignatureAlgorithm::EcdsaP256Sha256 => "ECDSA-P256-SHA256",
            SignatureAlgorithm::EcdsaP384Sha384 => "ECDSA-P384-SHA384",
            SignatureAlgorithm::Ed25519 => "Ed25519",
            SignatureAlgorithm::RsaPssSha256 => "RSA-PSS-SHA256",
            SignatureAlgorithm::RsaPssSha384 => "RSA-PSS-SHA384",
            SignatureAlgorithm::RsaPssSha512 => "RSA-PSS-SHA512",
        }
    }

    pub(crate) fn key_algorithm(self) -> KeyAlgorithm {
        match self {
            SignatureAlgorithm::RsaPkcs1Sha256
            | SignatureAlgorithm::RsaPkcs1Sha384
            | SignatureAlgorithm::RsaPkcs1Sha512
            | SignatureAlgorithm::RsaPssSha256
            | SignatureAlgorithm::RsaPssSha384
            | SignatureAlgorithm::RsaPssSha512 => KeyAlgorithm::Rsa,
            SignatureAlgorithm::EcdsaP256Sha256 => KeyAlgorithm::EcP256,
            SignatureAlgorithm::EcdsaP384Sha384 => KeyAlgorithm::EcP384,
            SignatureAlgorithm::Ed25519 => KeyAlgorithm::Ed25519,
        }
    }

    /// rcgen's algorithm, for CSRs; `None` for RSA-PSS (rcgen cannot write it).
    pub(crate) fn rcgen(self) -> Option<&'static rcgen::SignatureAlgorithm> {
        Some(match self {
            SignatureAlgorithm::RsaPkcs1Sha256 => &rcgen::PKCS_RSA_SHA256,
            SignatureAlgorithm::RsaPkcs1Sha384 => &rcgen::PKCS_RSA_SHA384,
            SignatureAlgorithm::RsaPkcs1Sha512 => &rcgen::PKCS_RSA_SHA512,
            SignatureAlgorithm::EcdsaP256Sha256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            SignatureAlgorithm::EcdsaP384Sha384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            SignatureAlgorithm::Ed25519 => &rcgen::PKCS_ED25519,
            SignatureAlgorithm::RsaPssSha256
            | SignatureAlgorithm::RsaPssSha384
            | SignatureAlgorithm::RsaPssSha512 => return None,
        })
    }

    /// The rcgen algorithm for a CSR signed with `self`, or an error naming `field`.
    pub(crate) fn for_csr(self, field: &str) -> Result<&'static rcgen::SignatureAlgorithm> {
        self.rcgen().ok_or_else(|| {
            Error::invalid(
                field,
                format!(
                    "{} signs TLS handshakes only; a CSR takes RSA-PKCS1, ECDSA or Ed25519",
                    self.name()
                ),
            )
        })
    }

    /// The aws-lc-rs verification algorithm for signatures in X.509 form.
    pub(crate) fn verification(self) -> &'static dyn signature::VerificationAlgorithm {
        match self {
            SignatureAlgorithm::RsaPkcs1Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            SignatureAlgorithm::RsaPkcs1Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            SignatureAlgorithm::RsaPkcs1Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            SignatureAlgorithm::RsaPssSha256 => &signature::RSA_PSS_2048_8192_SHA256,
            SignatureAlgorithm::RsaPssSha384 => &signature::RSA_PSS_2048_8192_SHA384,
            SignatureAlgorithm::RsaPssSha512 => &signature::RSA_PSS_2048_8192_SHA512,
            SignatureAlgorithm::EcdsaP256Sha256 => &signature::ECDSA_P256_SHA256_ASN1,
            SignatureAlgorithm::EcdsaP384Sha384 => &signature::ECDSA_P384_SHA384_ASN1,
            SignatureAlgorithm::Ed25519 => &signature::ED25519,
        }
    }
}

enum KeyInner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private key, validated once at load time and reusable for any number of CSRs.
///
/// `PrivateKey` is `Send + Sync`: one key may sign CSRs on many threads at once.
pub struct PrivateKey {
    inner: KeyInner,
    algorithm: KeyAlgorithm,
    pkcs8: Zeroizing<Vec<u8>>,
    spki: Vec<u8>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm)
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

/// Upper bound on key input; real keys are a few KiB at most.
const MAX_KEY_INPUT: usize = 1 << 20;

impl PrivateKey {
    /// Loads a key from PEM or DER bytes (sniffed), in PKCS#8, encrypted PKCS#8, SEC1
    /// (also after an `EC PARAMETERS` block), PKCS#1, or legacy `Proc-Type: 4,ENCRYPTED` PEM.
    /// `passphrase` is needed only for encrypted keys.
    pub fn load(data: &[u8], passphrase: Option<&[u8]>) -> Result<Self> {
        if data.is_empty() {
            return Err(Error::new(ErrorKind::Key, "key: input is empty"));
        }
        if data.len() > MAX_KEY_INPUT {
            return Err(Error::new(
                ErrorKind::Key,
                format!("key: input of {} bytes is larger than 1 MiB", data.len()),
            ));
        }
        if looks_like_pem(data) {
            Self::from_pem(data, passphrase)
        } else {
            Self::from_der(data, passphrase)
        }
    }

    /// Loads a PEM key (see [`PrivateKey::load`]).
    pub fn from_pem(data: &[u8], passphrase: Option<&[u8]>) -> Result<Self> {
        let text = std::str::from_utf8(data)
            .map_err(|_| Error::new(ErrorKind::Key, "key: PEM input is not valid UTF-8"))?;
        let mut seen = Vec::new();
        for block in key_encryption::pem_blocks(text)? {
            let block = block?;
            match block.label.as_str() {
                "PRIVATE KEY" => return Self::from_pkcs8(block.decode()?),
                "ENCRYPTED PRIVATE KEY" => {
                    let der = block.decode()?;
                    return Self::from_pkcs8(key_encryption::decrypt_pkcs8(&der, passphrase)?);
                }
                "EC PRIVATE KEY" | "RSA PRIVATE KEY" => {
                    let der = match block.dek_info()? {
                        Some(dek) => key_encryption::decrypt_legacy(&block, &dek, passphrase)?,
                        None => block.decode()?,
                    };
                    return if block.label == "EC PRIVATE KEY" {
                        Self::from_sec1(&der)
                    } else {
                        Self::from_pkcs1(&der)
                    };
                }
                "OPENSSH PRIVATE KEY" => {
                    return Err(Error::new(
                        ErrorKind::Key,
                        "key: OpenSSH private key format is not supported; convert it to PKCS#8",
                    ));
                }
                other => seen.push(other.to_string()),
            }
        }
        Err(Error::new(
            ErrorKind::Key,
            if seen.is_empty() {
                "key: no PEM block found".to_string()
            } else {
                format!("key: no private key in PEM (found: {})", seen.join(", "))
            },
        ))
    }

    /// Loads a DER key (see [`PrivateKey::load`]); the encoding is sniffed.
    pub fn from_der(der: &[u8], passphrase: Option<&[u8]>) -> Result<Self> {
        if let Ok(key) = Self::from_pkcs8(Zeroizing::new(der.to_vec())) {
            return Ok(key);
        }
        if key_encryption::is_encrypted_pkcs8(der) {
            return Self::from_pkcs8(key_encryption::decrypt_pkcs8(der, passphrase)?);
        }
        if let Ok(key) = Self::from_sec1(der) {
            return Ok(key);
        }
        if let Ok(key) = Self::from_pkcs1(der) {
            return Ok(key);
        }
        Err(unsupported_key())
    }

    fn from_pkcs8(pkcs8: Zeroizing<Vec<u8>>) -> Result<Self> {
        if let Ok(kp) = RsaKeyPair::from_pkcs8(&pkcs8) {
            return Self::rsa(kp, pkcs8);
        }
        if let Ok(kp) = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8)
        {
            return Ok(Self::ec(kp, KeyAlgorithm::EcP256, pkcs8));
        }
        if let Ok(kp) = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_ASN1_SIGNING, &pkcs8)
        {
            return Ok(Self::ec(kp, KeyAlgorithm::EcP384, pkcs8));
        }
        // OpenSSL writes PKCS#8 v1 Ed25519 keys without the public key, and OpenSSL 3.0
        // cannot read v2, so v1 is what we keep and hand back.
        if let Ok(kp) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8) {
            let pkcs8 = Zeroizing::new(
                kp.to_pkcs8v1()
                    .map_err(|_| Error::new(ErrorKind::Key, "key: cannot re-encode Ed25519 key"))?
                    .as_ref()
                    .to_vec(),
            );
            return Ok(Self::finish(KeyInner::Ed(kp), KeyAlgorithm::Ed25519, pkcs8));
        }
        Err(unsupported_key())
    }

    fn from_sec1(der: &[u8]) -> Result<Self> {
        for (alg, ka) in [
            (
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                KeyAlgorithm::EcP256,
            ),
            (
                &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                KeyAlgorithm::EcP384,
            ),
        ] {
            if let Ok(kp) = EcdsaKeyPair::from_private_key_der(alg, der) {
                let pkcs8 = kp
                    .to_pkcs8v1()
                    .map_err(|_| Error::new(ErrorKind::Key, "key: cannot re-encode EC key"))?;
                let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
                return Ok(Self::ec(kp, ka, pkcs8));
            }
        }
        Err(Error::new(
            ErrorKind::Key,
            "key: not a valid SEC1 EC key on P-256 or P-384",
        ))
    }

    fn from_pkcs1(der: &[u8]) -> Result<Self> {
        let kp = RsaKeyPair::from_der(der).map_err(|e| {
            Error::new(
                ErrorKind::Key,
                format!("key: not a valid PKCS#1 RSA key of 2048 to 8192 bits ({e})"),
            )
        })?;
        let pkcs8 = kp
            .as_der()
            .map_err(|_| Error::new(ErrorKind::Key, "key: cannot re-encode RSA key"))?;
        let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        Self::rsa(kp, pkcs8)
    }

    fn rsa(kp: RsaKeyPair, pkcs8: Zeroizing<Vec<u8>>) -> Result<Self> {
        let bits = kp.public_modulus_len() * 8;
        if bits < 2048 {
            return Err(Error::new(
                ErrorKind::Key,
                format!("key: RSA key of {bits} bits is too small (step-ca requires 2048 or more)"),
            ));
        }
        Ok(Self::finish(KeyInner::Rsa(kp), KeyAlgorithm::Rsa, pkcs8))
    }

    fn ec(kp: EcdsaKeyPair, algorithm: KeyAlgorithm, pkcs8: Zeroizing<Vec<u8>>) -> Self {
        Self::finish(KeyInner::Ec(kp), algorithm, pkcs8)
    }

    fn finish(inner: KeyInner, algorithm: KeyAlgorithm, pkcs8: Zeroizing<Vec<u8>>) -> Self {
        let mut key = PrivateKey {
            inner,
            algorithm,
            pkcs8,
            spki: Vec::new(),
        };
        key.spki = {
            use rcgen::PublicKeyData as _;
            CsrSigner {
                key: &key,
                alg: key.default_signature_algorithm(),
            }
            .subject_public_key_info()
        };
        key
    }

    /// Generates a new key of `key_type`.
    pub fn generate(key_type: KeyType) -> Result<Self> {
        let fail = |_| Error::new(ErrorKind::Internal, "key generation failed");
        // The pair aws-lc made is kept as it is: reading its PKCS#8 back would check the
        // public key against the private one again (for P-256 a second scalar
        // multiplication, a third of the generation's time).
        let ec = |alg, ka| -> Result<Self> {
            let kp = EcdsaKeyPair::generate(alg).map_err(fail)?;
            let der = Zeroizing::new(kp.to_pkcs8v1().map_err(fail)?.as_ref().to_vec());
            Ok(Self::ec(kp, ka, der))
        };
        match key_type {
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => {
                let size = match key_type {
                    KeyType::Rsa2048 => KeySize::Rsa2048,
                    KeyType::Rsa3072 => KeySize::Rsa3072,
                    _ => KeySize::Rsa4096,
                };
                let kp = RsaKeyPair::generate(size).map_err(fail)?;
                let der = Zeroizing::new(kp.as_der().map_err(fail)?.as_ref().to_vec());
                Self::rsa(kp, der)
            }
            KeyType::EcP256 => ec(
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                KeyAlgorithm::EcP256,
            ),
            KeyType::EcP384 => ec(
                &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                KeyAlgorithm::EcP384,
            ),
            KeyType::Ed25519 => {
                let kp = Ed25519KeyPair::generate().map_err(fail)?;
                let der = Zeroizing::new(kp.to_pkcs8v1().map_err(fail)?.as_ref().to_vec());
                Ok(Self::finish(KeyInner::Ed(kp), KeyAlgorithm::Ed25519, der))
            }
        }
    }

    /// The key's algorithm family.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The type to generate a key like this one (a rekey to the same kind of key); `None`
    /// for an RSA size [`PrivateKey::generate`] does not make.
    pub fn key_type(&self) -> Option<KeyType> {
        Some(match (self.algorithm, self.bits()) {
            (KeyAlgorithm::Rsa, 2048) => KeyType::Rsa2048,
            (KeyAlgorithm::Rsa, 3072) => KeyType::Rsa3072,
            (KeyAlgorithm::Rsa, 4096) => KeyType::Rsa4096,
            (KeyAlgorithm::Rsa, _) => return None,
            (KeyAlgorithm::EcP256, _) => KeyType::EcP256,
            (KeyAlgorithm::EcP384, _) => KeyType::EcP384,
            (KeyAlgorithm::Ed25519, _) => KeyType::Ed25519,
        })
    }

    /// The key size in bits (the modulus for RSA, the curve size for EC, 256 for Ed25519).
    pub fn bits(&self) -> usize {
        match &self.inner {
            KeyInner::Rsa(kp) => kp.public_modulus_len() * 8,
            KeyInner::Ec(_) if self.algorithm == KeyAlgorithm::EcP384 => 384,
            KeyInner::Ec(_) | KeyInner::Ed(_) => 256,
        }
    }

    /// The signature algorithm used when none is asked for.
    pub fn default_signature_algorithm(&self) -> SignatureAlgorithm {
        match self.algorithm {
            KeyAlgorithm::Rsa => SignatureAlgorithm::RsaPkcs1Sha256,
            KeyAlgorithm::EcP256 => SignatureAlgorithm::EcdsaP256Sha256,
            KeyAlgorithm::EcP384 => SignatureAlgorithm::EcdsaP384Sha384,
            KeyAlgorithm::Ed25519 => SignatureAlgorithm::Ed25519,
        }
    }

    /// Whether this key can sign with `alg`.
    pub fn supports(&self, alg: SignatureAlgorithm) -> bool {
        alg.key_algorithm() == self.algorithm
    }

    /// The key as unencrypted PKCS#8 DER.
    pub fn to_pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The key as unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        key_encryption::encode_pem("PRIVATE KEY", &self.pkcs8)
    }

    /// The key as encrypted PKCS#8 PEM (`-----BEGIN ENCRYPTED PRIVATE KEY-----`), as `step`
    /// writes encrypted keys with PKCS#8: PBES2 with PBKDF2-HMAC-SHA256 (600,000 iterations,
    /// a random 16-byte salt) and AES-256-CBC (a random IV). [`PrivateKey::load`] reads it
    /// back with the same `passphrase`, as do step and OpenSSL. An empty passphrase is
    /// refused ([`ErrorKind::InvalidArgument`]).
    pub fn to_encrypted_pkcs8_pem(&self, passphrase: &[u8]) -> Result<Zeroizing<String>> {
        /// The iteration count of step's pemutil (go.step.sm/crypto), OWASP's figure.
        const PBKDF2_ITERATIONS: u32 = 600_000;
        if passphrase.is_empty() {
            return Err(Error::invalid("passphrase", "is empty"));
        }
        let der = key_encryption::encrypt_pkcs8(&self.pkcs8, passphrase, PBKDF2_ITERATIONS)?;
        Ok(key_encryption::encode_pem("ENCRYPTED PRIVATE KEY", &der))
    }

    /// The raw public key bits (EC point, RSAPublicKey DER, or 32 Ed25519 bytes).
    pub fn public_key_raw(&self) -> &[u8] {
        match &self.inner {
            KeyInner::Rsa(kp) => kp.public_key().as_ref(),
            KeyInner::Ec(kp) => kp.public_key().as_ref(),
            KeyInner::Ed(kp) => kp.public_key().as_ref(),
        }
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    /// Signs `msg` with `alg`; ECDSA signatures are DER, as X.509 wants.
    pub(crate) fn sign_as(&self, alg: SignatureAlgorithm, msg: &[u8]) -> Result<Vec<u8>> {
        let fail = |_| Error::new(ErrorKind::Internal, "signing failed");
        match (&self.inner, alg) {
            (KeyInner::Rsa(kp), _) => {
                let padding: &'static dyn signature::RsaEncoding = match alg {
                    SignatureAlgorithm::RsaPkcs1Sha256 => &signature::RSA_PKCS1_SHA256,
                    SignatureAlgorithm::RsaPkcs1Sha384 => &signature::RSA_PKCS1_SHA384,
                    SignatureAlgorithm::RsaPkcs1Sha512 => &signature::RSA_PKCS1_SHA512,
                    SignatureAlgorithm::RsaPssSha256 => &signature::RSA_PSS_SHA256,
                    SignatureAlgorithm::RsaPssSha384 => &signature::RSA_PSS_SHA384,
                    SignatureAlgorithm::RsaPssSha512 => &signature::RSA_PSS_SHA512,
                    _ => return Err(mismatch(self.algorithm, alg)),
                };
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(padding, &SystemRandom::new(), msg, &mut sig)
                    .map_err(fail)?;
                Ok(sig)
            }
            (KeyInner::Ec(kp), _) if self.supports(alg) => Ok(kp
                .sign(&SystemRandom::new(), msg)
                .map_err(fail)?
                .as_ref()
                .to_vec()),
            (KeyInner::Ed(kp), SignatureAlgorithm::Ed25519) => Ok(kp.sign(msg).as_ref().to_vec()),
            _ => Err(mismatch(self.algorithm, alg)),
        }
    }

    /// Checks that `alg` fits this key, naming the field in the error.
    pub(crate) fn check_algorithm(&self, alg: SignatureAlgorithm) -> Result<()> {
        if self.supports(alg) {
            Ok(())
        } else {
            Err(mismatch(self.algorithm, alg))
        }
    }
}

fn mismatch(key: KeyAlgorithm, alg: SignatureAlgorithm) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!(
            "signature_algorithm: {} cannot be used with a {key:?} key",
            alg.name()
        ),
    )
}

fn unsupported_key() -> Error {
    Error::new(
        ErrorKind::Key,
        "key: not a supported private key (expected RSA 2048-8192, EC P-256/P-384 or Ed25519 \
         in PKCS#8, SEC1 or PKCS#1)",
    )
}

fn looks_like_pem(data: &[u8]) -> bool {
    let trimmed = data.trim_ascii_start();
    trimmed.starts_with(b"-----BEGIN ")
        || data
            .windows(11)
            .take(64 * 1024)
            .any(|w| w == b"-----BEGIN ")
}

/// The signer rcgen uses to sign a CSR with a [`PrivateKey`] under a chosen algorithm.
pub(crate) struct CsrSigner<'a> {
    pub(crate) key: &'a PrivateKey,
    pub(crate) alg: SignatureAlgorithm,
}

impl rcgen::PublicKeyData for CsrSigner<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.key.public_key_raw()
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        // Callers checked `for_csr`; the SPKI only needs the key's family.
        self.alg.rcgen().unwrap_or(&rcgen::PKCS_RSA_SHA256)
    }
}

impl rcgen::SigningKey for CsrSigner<'_> {
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, rcgen::Error> {
        self.key
            .sign_as(self.alg, msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// A key in memory is a [`Signer`](crate::Signer) like any held key, so a credential
/// treats both alike.
impl crate::signer::Signer for PrivateKey {
    fn public_key_spki(&self) -> &[u8] {
        &self.spki
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        self.default_signature_algorithm()
    }

    fn sign(
        &self,
        alg: SignatureAlgorithm,
        msg: &[u8],
    ) -> std::result::Result<Vec<u8>, crate::token::ProviderError> {
        Ok(self.sign_as(alg, msg)?)
    }
}
