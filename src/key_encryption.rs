//! PEM armour and passphrase protection for private keys.
//!
//! Key PEM is parsed here rather than with the `pem` crate so that every buffer holding
//! decoded key bytes is ours to zeroize. Encrypted PKCS#8 with PBES2, PBKDF2 and AES-CBC
//! (what step and OpenSSL 3 write) is decrypted, and written, with aws-lc-rs; other PBES2
//! schemes (scrypt) with the `pkcs8` crate. Legacy OpenSSL `Proc-Type: 4,ENCRYPTED` PEM,
//! which `step` writes for EC and RSA keys, uses EVP_BytesToKey (MD5) and AES-CBC.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
use md5::{Digest, Md5};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};
use pkcs8::pkcs5;

/// One `-----BEGIN X-----` ... `-----END X-----` block.
pub(crate) struct PemBlock<'a> {
    pub(crate) label: String,
    headers: Vec<(&'a str, &'a str)>,
    body: Vec<&'a str>,
}

impl PemBlock<'_> {
    /// The base64 body, decoded into a zeroizing buffer.
    pub(crate) fn decode(&self) -> Result<Zeroizing<Vec<u8>>> {
        let mut b64 = Zeroizing::new(String::new());
        for line in &self.body {
            b64.push_str(line.trim());
        }
        let mut out = Zeroizing::new(vec![0u8; b64.len() / 4 * 3 + 3]);
        let n = STANDARD
            .decode_slice(b64.as_bytes(), &mut out)
            .map_err(|_| {
                Error::new(
                    ErrorKind::Key,
                    format!("key: invalid base64 in PEM block {}", self.label),
                )
            })?;
        out.truncate(n);
        Ok(out)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The legacy encryption parameters, when the block has `Proc-Type: 4,ENCRYPTED`.
    pub(crate) fn dek_info(&self) -> Result<Option<DekInfo>> {
        match self.header("Proc-Type") {
            None => return Ok(None),
            Some(v) if v.replace(' ', "") == "4,ENCRYPTED" => {}
            Some(v) => {
                return Err(Error::new(
                    ErrorKind::Key,
                    format!("key: unsupported PEM Proc-Type {v:?}"),
                ));
            }
        }
        let dek = self.header("DEK-Info").ok_or_else(|| {
            Error::new(
                ErrorKind::Key,
                "key: encrypted PEM without a DEK-Info header",
            )
        })?;
        let (cipher, iv_hex) = dek
            .split_once(',')
            .ok_or_else(|| Error::new(ErrorKind::Key, "key: malformed DEK-Info header"))?;
        let key_len = match cipher.trim() {
            "AES-128-CBC" => 16,
            "AES-192-CBC" => 24,
            "AES-256-CBC" => 32,
            other => {
                return Err(Error::new(
                    ErrorKind::Key,
                    format!(
                        "key: unsupported PEM encryption {other} (AES-128/192/256-CBC are supported)"
                    ),
                ));
            }
        };
        let iv = decode_hex(iv_hex.trim())
            .filter(|iv| iv.len() == 16)
            .ok_or_else(|| Error::new(ErrorKind::Key, "key: malformed DEK-Info IV"))?;
        Ok(Some(DekInfo { key_len, iv }))
    }
}

/// Legacy PEM encryption parameters.
pub(crate) struct DekInfo {
    key_len: usize,
    iv: Vec<u8>,
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Iterates over the PEM blocks of `text`, in order.
pub(crate) fn pem_blocks(text: &str) -> Result<impl Iterator<Item = Result<PemBlock<'_>>>> {
    let mut lines = text.lines();
    Ok(std::iter::from_fn(move || {
        // Find the next BEGIN line.
        let label = loop {
            let line = lines.next()?.trim();
            if let Some(rest) = line.strip_prefix("-----BEGIN ") {
                match rest.strip_suffix("-----") {
                    Some(label) => break label.to_string(),
                    None => {
                        return Some(Err(Error::new(
                            ErrorKind::Key,
                            "key: malformed PEM BEGIN line",
                        )));
                    }
                }
            }
        };
        let end = format!("-----END {label}-----");
        let mut headers = Vec::new();
        let mut body = Vec::new();
        for line in lines.by_ref() {
            let t = line.trim();
            if t == end {
                return Some(Ok(PemBlock {
                    label,
                    headers,
                    body,
                }));
            }
            if t.starts_with("-----") {
                break;
            }
            match t.split_once(':') {
                Some((k, v)) if body.is_empty() => headers.push((k.trim(), v.trim())),
                _ if t.is_empty() => {}
                _ => body.push(t),
            }
        }
        Some(Err(Error::new(
            ErrorKind::Key,
            format!("key: PEM block {label} has no matching END line (truncated?)"),
        )))
    }))
}

/// Encodes `der` as PEM with `label`, 64 columns, into a zeroizing string.
pub(crate) fn encode_pem(label: &str, der: &[u8]) -> Zeroizing<String> {
    let b64 = Zeroizing::new(STANDARD.encode(der));
    let mut out = Zeroizing::new(String::with_capacity(b64.len() + b64.len() / 64 + 64));
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

fn need_passphrase(passphrase: Option<&[u8]>) -> Result<&[u8]> {
    match passphrase {
        Some(p) if !p.is_empty() => Ok(p),
        _ => Err(Error::new(
            ErrorKind::KeyPassphrase,
            "passphrase: the key is encrypted and no passphrase was given",
        )),
    }
}

fn wrong_passphrase() -> Error {
    Error::new(
        ErrorKind::KeyPassphrase,
        "passphrase: wrong passphrase (or the encrypted key is corrupt)",
    )
}

/// `plain` if it is one whole DER SEQUENCE, as every private key encoding is; otherwise the
/// passphrase was wrong. CBC's padding check alone lets about one wrong passphrase in 256
/// through, whose garbage would otherwise be reported as an unsupported key.
fn decrypted(plain: Zeroizing<Vec<u8>>) -> Result<Zeroizing<Vec<u8>>> {
    use pkcs8::der::{Decode as _, Tagged as _};
    match pkcs8::der::asn1::AnyRef::from_der(&plain) {
        Ok(any) if any.tag() == pkcs8::der::Tag::Sequence => Ok(plain),
        _ => Err(wrong_passphrase()),
    }
}

/// Whether `der` parses as an EncryptedPrivateKeyInfo.
pub(crate) fn is_encrypted_pkcs8(der: &[u8]) -> bool {
    pkcs8::EncryptedPrivateKeyInfoRef::try_from(der).is_ok()
}

/// The AES-CBC cipher of PBES2 parameters, its key length and IV; `None` for other
/// ciphers.
fn aes_cbc(
    scheme: &pkcs5::pbes2::EncryptionScheme,
) -> Option<(&'static aws_lc_rs::cipher::Algorithm, usize, [u8; 16])> {
    use aws_lc_rs::cipher::{AES_128, AES_192, AES_256};
    use pkcs5::pbes2::EncryptionScheme as S;
    match scheme {
        S::Aes128Cbc { iv } => Some((&AES_128, 16, *iv)),
        S::Aes192Cbc { iv } => Some((&AES_192, 24, *iv)),
        S::Aes256Cbc { iv } => Some((&AES_256, 32, *iv)),
        _ => None,
    }
}

/// PBKDF2's PRF in aws-lc-rs; `None` for one it lacks (SHA-224).
fn pbkdf2_prf(prf: pkcs5::pbes2::Pbkdf2Prf) -> Option<aws_lc_rs::pbkdf2::Algorithm> {
    use aws_lc_rs::pbkdf2::{
        PBKDF2_HMAC_SHA1, PBKDF2_HMAC_SHA256, PBKDF2_HMAC_SHA384, PBKDF2_HMAC_SHA512,
    };
    use pkcs5::pbes2::Pbkdf2Prf as P;
    match prf {
        P::HmacWithSha1 => Some(PBKDF2_HMAC_SHA1),
        P::HmacWithSha256 => Some(PBKDF2_HMAC_SHA256),
        P::HmacWithSha384 => Some(PBKDF2_HMAC_SHA384),
        P::HmacWithSha512 => Some(PBKDF2_HMAC_SHA512),
        _ => None,
    }
}

/// PBES2 with PBKDF2 and AES-CBC (what step, OpenSSL 3 and this crate write) decrypted with
/// aws-lc-rs, whose PBKDF2 is fast in every build (the pure-Rust one takes seconds for
/// step's 600,000 iterations in a debug build); `None` for any other scheme, which the
/// pkcs8 crate decrypts.
fn decrypt_pbes2_aes_cbc(
    info: &pkcs8::EncryptedPrivateKeyInfoRef<'_>,
    passphrase: &[u8],
) -> Option<Result<Zeroizing<Vec<u8>>>> {
    let pkcs5::EncryptionScheme::Pbes2(params) = &info.encryption_algorithm else {
        return None;
    };
    let pkcs5::pbes2::Kdf::Pbkdf2(kdf) = &params.kdf else {
        return None;
    };
    let (cipher, key_len, iv) = aes_cbc(&params.encryption)?;
    let prf = pbkdf2_prf(kdf.prf)?;
    let iterations = std::num::NonZeroU32::new(kdf.iteration_count)?;
    if kdf.key_length.is_some_and(|n| usize::from(n) != key_len) {
        return None;
    }
    let mut key = Zeroizing::new(vec![0u8; key_len]);
    aws_lc_rs::pbkdf2::derive(prf, iterations, kdf.salt.as_bytes(), passphrase, &mut key);
    let mut data = Zeroizing::new(info.encrypted_data.as_bytes().to_vec());
    let plain = aws_lc_rs::cipher::UnboundCipherKey::new(cipher, &key)
        .and_then(aws_lc_rs::cipher::PaddedBlockDecryptingKey::cbc_pkcs7)
        .and_then(|k| {
            k.decrypt(
                &mut data,
                aws_lc_rs::cipher::DecryptionContext::Iv128(iv.into()),
            )
            .map(|p| p.len())
        });
    Some(match plain {
        Ok(n) => {
            data.truncate(n);
            Ok(data)
        }
        Err(_) => Err(wrong_passphrase()),
    })
}

/// Encrypts plain PKCS#8 DER into an EncryptedPrivateKeyInfo (DER) as step does: PBES2 with
/// PBKDF2-HMAC-SHA256 (`iterations`, a random 16-byte salt) and AES-256-CBC (a random IV),
/// with aws-lc-rs.
pub(crate) fn encrypt_pkcs8(
    der: &[u8],
    passphrase: &[u8],
    iterations: u32,
) -> Result<Zeroizing<Vec<u8>>> {
    use pkcs8::der::Encode as _;
    let internal =
        |what: &str| Error::new(ErrorKind::Internal, format!("key: cannot encrypt ({what})"));
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt)
        .and_then(|()| aws_lc_rs::rand::fill(&mut iv))
        .map_err(|_| internal("no random bytes"))?;
    let rounds = std::num::NonZeroU32::new(iterations).ok_or_else(|| internal("no iterations"))?;
    let mut key = Zeroizing::new([0u8; 32]);
    aws_lc_rs::pbkdf2::derive(
        aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        &salt,
        passphrase,
        key.as_mut_slice(),
    );
    let mut data = Zeroizing::new(der.to_vec());
    aws_lc_rs::cipher::UnboundCipherKey::new(&aws_lc_rs::cipher::AES_256, key.as_slice())
        .and_then(aws_lc_rs::cipher::PaddedBlockEncryptingKey::cbc_pkcs7)
        .and_then(|k| {
            k.less_safe_encrypt(
                &mut *data,
                aws_lc_rs::cipher::EncryptionContext::Iv128(iv.into()),
            )
        })
        .map_err(|_| internal("AES-256-CBC"))?;
    let params = pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(iterations, &salt, iv)
        .map_err(|e| internal(&e.to_string()))?;
    let encrypted_data = pkcs8::der::asn1::OctetStringRef::new(data.as_slice())
        .map_err(|e| internal(&e.to_string()))?;
    let info = pkcs8::EncryptedPrivateKeyInfoRef {
        encryption_algorithm: params.into(),
        encrypted_data,
    };
    info.to_der()
        .map(Zeroizing::new)
        .map_err(|e| internal(&e.to_string()))
}

/// Decrypts an encrypted PKCS#8 structure into plain PKCS#8 DER.
pub(crate) fn decrypt_pkcs8(der: &[u8], passphrase: Option<&[u8]>) -> Result<Zeroizing<Vec<u8>>> {
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der).map_err(|e| {
        Error::new(
            ErrorKind::Key,
            format!("key: malformed encrypted PKCS#8 ({e})"),
        )
    })?;
    let passphrase = need_passphrase(passphrase)?;
    if let Some(result) = decrypt_pbes2_aes_cbc(&info, passphrase) {
        return decrypted(result?);
    }
    match info.decrypt(passphrase) {
        Ok(doc) => decrypted(Zeroizing::new(doc.as_bytes().to_vec())),
        Err(pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::DecryptFailed)) => {
            Err(wrong_passphrase())
        }
        Err(e) => Err(Error::new(
            ErrorKind::Key,
            format!("key: cannot decrypt PKCS#8 ({e})"),
        )),
    }
}

/// Decrypts a legacy `Proc-Type: 4,ENCRYPTED` PEM block body.
pub(crate) fn decrypt_legacy(
    block: &PemBlock<'_>,
    dek: &DekInfo,
    passphrase: Option<&[u8]>,
) -> Result<Zeroizing<Vec<u8>>> {
    let passphrase = need_passphrase(passphrase)?;
    let mut data = block.decode()?;
    // EVP_BytesToKey(MD5, count 1, salt = first 8 bytes of the IV).
    let mut key = Zeroizing::new(Vec::with_capacity(48));
    let mut prev: Option<Zeroizing<[u8; 16]>> = None;
    while key.len() < dek.key_len {
        let mut h = Md5::new();
        if let Some(p) = &prev {
            h.update(p.as_slice());
        }
        h.update(passphrase);
        h.update(&dek.iv[..8]);
        let d: Zeroizing<[u8; 16]> = Zeroizing::new(h.finalize().into());
        key.extend_from_slice(d.as_slice());
        prev = Some(d);
    }
    key.truncate(dek.key_len);
    let plain_len = match dek.key_len {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(&key, &dek.iv)
            .map_err(|_| wrong_passphrase())?
            .decrypt_padded::<Pkcs7>(&mut data)
            .map(<[u8]>::len),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(&key, &dek.iv)
            .map_err(|_| wrong_passphrase())?
            .decrypt_padded::<Pkcs7>(&mut data)
            .map(<[u8]>::len),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, &dek.iv)
            .map_err(|_| wrong_passphrase())?
            .decrypt_padded::<Pkcs7>(&mut data)
            .map(<[u8]>::len),
    }
    .map_err(|_| wrong_passphrase())?;
    data.truncate(plain_len);
    decrypted(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_skip_parameters_and_keep_headers() {
        let text = "junk\n-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n\
                    -----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,000102030405060708090A0B0C0D0E0F\n\nAAAA\n-----END EC PRIVATE KEY-----\n";
        let blocks: Vec<_> = pem_blocks(text).unwrap().collect::<Result<_>>().unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].label, "EC PARAMETERS");
        assert_eq!(blocks[1].label, "EC PRIVATE KEY");
        let dek = blocks[1].dek_info().unwrap().unwrap();
        assert_eq!(dek.key_len, 32);
        assert_eq!(dek.iv[15], 0x0f);
        assert_eq!(&*blocks[1].decode().unwrap(), &[0u8, 0, 0]);
    }

    #[test]
    fn truncated_pem_is_an_error() {
        let text = "-----BEGIN PRIVATE KEY-----\nAAAA\n";
        let first = pem_blocks(text).unwrap().next().unwrap();
        let err = first.err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Key);
        assert!(err.message().contains("no matching END"), "{err}");
    }

    /// A P-256 key in PKCS#8, generated by the library.
    fn some_pkcs8() -> Zeroizing<Vec<u8>> {
        let key = crate::PrivateKey::generate(crate::KeyType::EcP256).unwrap();
        Zeroizing::new(key.to_pkcs8_der().to_vec())
    }

    // Thousands of wrong passphrases: about one in 256 passes CBC's padding check, so
    // before the DER check some of these came back as "not a supported private key".
    #[test]
    fn every_wrong_passphrase_is_named_as_such_pkcs8() {
        let der = encrypt_pkcs8(&some_pkcs8(), b"right", 1).unwrap();
        assert!(decrypt_pkcs8(&der, Some(b"right")).is_ok());
        for i in 0..3000 {
            let wrong = format!("wrong-{i}");
            let err = decrypt_pkcs8(&der, Some(wrong.as_bytes())).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::KeyPassphrase, "{wrong}: {err}");
        }
    }

    #[test]
    fn every_wrong_passphrase_is_named_as_such_legacy() {
        // A legacy AES-128-CBC block made as OpenSSL makes it: EVP_BytesToKey(MD5, salt = IV[..8]).
        let plain = some_pkcs8();
        let iv = [7u8; 16];
        let mut h = Md5::new();
        h.update(b"right");
        h.update(&iv[..8]);
        let key: [u8; 16] = h.finalize().into();
        let mut body = plain.to_vec();
        aws_lc_rs::cipher::UnboundCipherKey::new(&aws_lc_rs::cipher::AES_128, &key)
            .and_then(aws_lc_rs::cipher::PaddedBlockEncryptingKey::cbc_pkcs7)
            .and_then(|k| {
                k.less_safe_encrypt(
                    &mut body,
                    aws_lc_rs::cipher::EncryptionContext::Iv128(iv.into()),
                )
            })
            .unwrap();
        let iv_hex: String = iv.iter().map(|b| format!("{b:02X}")).collect();
        let b64 = STANDARD.encode(&body);
        let pem = format!(
            "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,{iv_hex}\n\n{b64}\n-----END EC PRIVATE KEY-----\n"
        );
        let block = pem_blocks(&pem).unwrap().next().unwrap().unwrap();
        let dek = block.dek_info().unwrap().unwrap();
        assert_eq!(
            &*decrypt_legacy(&block, &dek, Some(b"right")).unwrap(),
            &*plain
        );
        for i in 0..3000 {
            let wrong = format!("wrong-{i}");
            let err = decrypt_legacy(&block, &dek, Some(wrong.as_bytes())).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::KeyPassphrase, "{wrong}: {err}");
        }
    }

    #[test]
    fn pem_roundtrip_wraps_at_64() {
        let pem = encode_pem("PRIVATE KEY", &[7u8; 100]);
        let lines: Vec<_> = pem.lines().collect();
        assert_eq!(lines[1].len(), 64);
        let block = pem_blocks(&pem).unwrap().next().unwrap().unwrap();
        assert_eq!(&*block.decode().unwrap(), &[7u8; 100]);
    }
}
