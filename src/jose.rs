//! The small part of JOSE step-ca needs: compact JWS signing (ES256/ES384/EdDSA/RS256),
//! JWK private keys, and JWE decryption with PBES2-HS256+A128KW and A128GCM/A256GCM (how
//! step encrypts provisioner keys). Written here on aws-lc-rs primitives: the JOSE crates
//! either lack PBES2 or need OpenSSL.

use std::num::NonZeroU32;

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::key_wrap::{AES_128, AesKek, KeyWrap};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

/// Bounds on the PBES2 iteration count read from a JWE header (a DoS guard; go-jose
/// rejects more than 1,000,000 too).
const MIN_P2C: u64 = 1000;
const MAX_P2C: u64 = 1_000_000;

pub(crate) fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

pub(crate) fn b64std(data: &[u8]) -> String {
    STANDARD.encode(data)
}

fn b64url_decode(field: &str, s: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| Error::new(ErrorKind::Key, format!("{field}: invalid base64url")))
}

/// Random bytes as lowercase hex (token ids).
pub(crate) fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| Error::new(ErrorKind::Internal, "random number generator failed"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A signing key for JWS.
pub(crate) enum JwsKey {
    Es256(EcdsaKeyPair),
    Es384(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

impl JwsKey {
    pub(crate) fn alg(&self) -> &'static str {
        match self {
            JwsKey::Es256(_) => "ES256",
            JwsKey::Es384(_) => "ES384",
            JwsKey::EdDsa(_) => "EdDSA",
        }
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>> {
        let fail = |_| Error::new(ErrorKind::Internal, "signing the token failed");
        let rng = SystemRandom::new();
        Ok(match self {
            JwsKey::Es256(k) | JwsKey::Es384(k) => {
                k.sign(&rng, msg).map_err(fail)?.as_ref().to_vec()
            }
            JwsKey::EdDsa(k) => k.sign(msg).as_ref().to_vec(),
        })
    }
}

/// Signs a compact JWS with `header` (alg is filled in) and `claims`.
pub(crate) fn sign_compact(
    key: &dyn Fn(&[u8]) -> Result<Vec<u8>>,
    header: &serde_json::Value,
    claims: &serde_json::Value,
) -> Result<String> {
    let h = b64url(header.to_string().as_bytes());
    let c = b64url(claims.to_string().as_bytes());
    let input = format!("{h}.{c}");
    let sig = key(input.as_bytes())?;
    Ok(format!("{input}.{}", b64url(&sig)))
}

/// Signs with a [`JwsKey`].
pub(crate) fn sign_with(key: &JwsKey) -> impl Fn(&[u8]) -> Result<Vec<u8>> + '_ {
    move |msg| key.sign(msg)
}

/// The JWS `alg` for a signature algorithm.
pub(crate) fn jws_alg(alg: crate::key::SignatureAlgorithm) -> &'static str {
    use crate::key::SignatureAlgorithm::*;
    match alg {
        RsaPkcs1Sha256 => "RS256",
        RsaPkcs1Sha384 => "RS384",
        RsaPkcs1Sha512 => "RS512",
        EcdsaP256Sha256 => "ES256",
        EcdsaP384Sha384 => "ES384",
        Ed25519 => "EdDSA",
        RsaPssSha256 => "PS256",
        RsaPssSha384 => "PS384",
        RsaPssSha512 => "PS512",
    }
}

/// An X.509-form signature (DER for ECDSA) in the form JWS wants (r||s for ECDSA).
pub(crate) fn jws_signature(alg: crate::key::SignatureAlgorithm, sig: Vec<u8>) -> Result<Vec<u8>> {
    use crate::key::SignatureAlgorithm::*;
    match alg {
        EcdsaP256Sha256 => ecdsa_der_to_fixed(&sig, 32),
        EcdsaP384Sha384 => ecdsa_der_to_fixed(&sig, 48),
        _ => Ok(sig),
    }
}

/// Converts a DER ECDSA signature to the fixed r||s form JWS wants.
pub(crate) fn ecdsa_der_to_fixed(der: &[u8], size: usize) -> Result<Vec<u8>> {
    let bad = || Error::new(ErrorKind::Internal, "malformed ECDSA signature");
    // SEQUENCE { INTEGER r, INTEGER s }, lengths below 128 for P-256/P-384.
    let body = match der {
        [0x30, len, rest @ ..] if *len as usize == rest.len() => rest,
        [0x30, 0x81, len, rest @ ..] if *len as usize == rest.len() => rest,
        _ => return Err(bad()),
    };
    let mut out = Vec::with_capacity(size * 2);
    let mut rest = body;
    for _ in 0..2 {
        let (len, tail) = match rest {
            [0x02, len, tail @ ..] if (*len as usize) <= tail.len() => (*len as usize, tail),
            _ => return Err(bad()),
        };
        let int = &tail[..len];
        let int = &int[int.iter().take_while(|b| **b == 0).count()..];
        if int.len() > size {
            return Err(bad());
        }
        out.extend(std::iter::repeat_n(0u8, size - int.len()));
        out.extend_from_slice(int);
        rest = &tail[len..];
    }
    Ok(out)
}

/// A private JWK as step writes it.
#[derive(Deserialize)]
struct JwkJson {
    kty: String,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    d: Option<String>,
}

impl Drop for JwkJson {
    fn drop(&mut self) {
        if let Some(d) = &mut self.d {
            zeroize::Zeroize::zeroize(d);
        }
    }
}

/// A decoded private JWK: its signing key and kid.
pub(crate) struct PrivateJwk {
    pub(crate) key: JwsKey,
    pub(crate) kid: Option<String>,
}

/// Parses a private JWK (EC P-256/P-384 or OKP Ed25519).
pub(crate) fn parse_private_jwk(json: &[u8]) -> Result<PrivateJwk> {
    let bad = |why: &str| Error::new(ErrorKind::Key, format!("provisioner key: {why}"));
    let jwk: JwkJson = serde_json::from_slice(json).map_err(|_| bad("not a JSON Web Key"))?;
    let d = jwk
        .d
        .as_ref()
        .ok_or_else(|| bad("the JWK has no private part (d)"))?;
    let d = Zeroizing::new(b64url_decode("provisioner key d", d)?);
    let x = b64url_decode("provisioner key x", jwk.x.as_deref().unwrap_or(""))?;
    let key = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("EC", Some(crv @ ("P-256" | "P-384"))) => {
            let y = b64url_decode("provisioner key y", jwk.y.as_deref().unwrap_or(""))?;
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            let (alg, wrap): (_, fn(EcdsaKeyPair) -> JwsKey) = if crv == "P-256" {
                (&signature::ECDSA_P256_SHA256_FIXED_SIGNING, JwsKey::Es256)
            } else {
                (&signature::ECDSA_P384_SHA384_FIXED_SIGNING, JwsKey::Es384)
            };
            wrap(
                EcdsaKeyPair::from_private_key_and_public_key(alg, &d, &point)
                    .map_err(|_| bad("invalid EC key"))?,
            )
        }
        ("OKP", Some("Ed25519")) => JwsKey::EdDsa(
            Ed25519KeyPair::from_seed_and_public_key(&d, &x)
                .map_err(|_| bad("invalid Ed25519 key"))?,
        ),
        (kty, crv) => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "provisioner key: {kty} {} keys are not supported (EC P-256/P-384 and Ed25519 are)",
                    crv.unwrap_or("")
                ),
            ));
        }
    };
    Ok(PrivateJwk {
        key,
        kid: jwk.kid.clone(),
    })
}

#[derive(Deserialize)]
struct JweHeader {
    alg: String,
    enc: String,
    p2c: u64,
    p2s: String,
}

/// Decrypts a compact JWE made with a password (PBES2-HS256+A128KW, A128GCM or A256GCM).
pub(crate) fn decrypt_pbes2(jwe: &str, password: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    decrypt_pbes2_capped(jwe, password, MAX_P2C)
}

/// [`decrypt_pbes2`] with the iteration count bounded by `max_p2c`.
pub(crate) fn decrypt_pbes2_capped(
    jwe: &str,
    password: &[u8],
    max_p2c: u64,
) -> Result<Zeroizing<Vec<u8>>> {
    let bad = |why: &str| Error::new(ErrorKind::Key, format!("provisioner key: {why}"));
    let parts: Vec<&str> = jwe.trim().split('.').collect();
    let [h64, ek64, iv64, ct64, tag64] = parts[..] else {
        return Err(bad("not a compact JWE (five parts)"));
    };
    let header: JweHeader = serde_json::from_slice(&b64url_decode("JWE header", h64)?)
        .map_err(|_| bad("unreadable JWE header"))?;
    if header.alg != "PBES2-HS256+A128KW" {
        return Err(bad(&format!("unsupported JWE alg {}", header.alg)));
    }
    let (aead, cek_len) = match header.enc.as_str() {
        "A128GCM" => (&AES_128_GCM, 16),
        "A256GCM" => (&AES_256_GCM, 32),
        other => return Err(bad(&format!("unsupported JWE enc {other}"))),
    };
    if !(MIN_P2C..=max_p2c).contains(&header.p2c) {
        return Err(bad(&format!(
            "PBES2 iteration count {} is outside {MIN_P2C}..={max_p2c}",
            header.p2c
        )));
    }
    let p2s = b64url_decode("JWE p2s", &header.p2s)?;
    let mut salt = b"PBES2-HS256+A128KW".to_vec();
    salt.push(0);
    salt.extend_from_slice(&p2s);
    let mut kek = Zeroizing::new([0u8; 16]);
    let iterations = NonZeroU32::new(header.p2c as u32).ok_or_else(|| bad("p2c is zero"))?;
    // aws-lc's derive only fails on allocation failure; keep even that from unwinding.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        aws_lc_rs::pbkdf2::derive(
            aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &salt,
            password,
            kek.as_mut_slice(),
        )
    }))
    .map_err(|_| Error::new(ErrorKind::Internal, "PBKDF2 failed"))?;
    let wrapped = b64url_decode("JWE encrypted key", ek64)?;
    let mut cek = Zeroizing::new(vec![0u8; wrapped.len()]);
    let wrong = || {
        Error::new(
            ErrorKind::KeyPassphrase,
            "provisioner_password: wrong password (the provisioner key does not decrypt)",
        )
    };
    let n = AesKek::new(&AES_128, kek.as_slice())
        .map_err(|_| bad("bad key-encryption key"))?
        .unwrap(&wrapped, &mut cek)
        .map_err(|_| wrong())?
        .len();
    if n != cek_len {
        return Err(bad("content key has the wrong size"));
    }
    cek.truncate(n);
    let key = LessSafeKey::new(UnboundKey::new(aead, &cek).map_err(|_| bad("bad content key"))?);
    let iv = b64url_decode("JWE iv", iv64)?;
    let nonce = Nonce::try_assume_unique_for_key(&iv).map_err(|_| bad("bad JWE iv"))?;
    let mut data = Zeroizing::new(b64url_decode("JWE ciphertext", ct64)?);
    data.extend_from_slice(&b64url_decode("JWE tag", tag64)?);
    let plain_len = key
        .open_in_place(nonce, Aad::from(h64.as_bytes()), &mut data)
        .map_err(|_| bad("the JWE does not authenticate"))?
        .len();
    data.truncate(plain_len);
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_to_fixed() {
        // r = 0x01, s = 0x00ff (leading zero for the sign bit).
        let der = [0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0xff];
        let fixed = ecdsa_der_to_fixed(&der, 32).unwrap();
        assert_eq!(fixed.len(), 64);
        assert_eq!(fixed[31], 1);
        assert_eq!(fixed[63], 0xff);
        assert!(ecdsa_der_to_fixed(&[0x30, 0x01, 0x00], 32).is_err());
    }

    #[test]
    fn p2c_is_bounded() {
        let header =
            b64url(br#"{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":100000000,"p2s":"AAAA"}"#);
        let e = decrypt_pbes2(&format!("{header}.a.b.c.d"), b"pw")
            .err()
            .unwrap();
        assert!(e.message().contains("iteration count"), "{e}");
        assert!(decrypt_pbes2("a.b", b"pw").is_err());
    }
}
