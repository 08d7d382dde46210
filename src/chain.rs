//! Certificate chains returned by step-ca, and the checks made before handing one out:
//! the leaf carries the CSR's key, and every signature in the chain verifies up to a
//! configured root.

use x509_parser::prelude::*;

use crate::csr::Format;
use crate::error::{Error, ErrorKind, Result};

/// A leaf certificate followed by its intermediates, in DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateChain {
    certs: Vec<Vec<u8>>,
}

impl CertificateChain {
    /// A chain from DER certificates, leaf first. Each one must parse.
    pub fn from_der(certs: Vec<Vec<u8>>) -> Result<Self> {
        if certs.is_empty() {
            return Err(Error::new(
                ErrorKind::MalformedResponse,
                "response: no certificate in the chain",
            ));
        }
        for (i, der) in certs.iter().enumerate() {
            parse_cert(der, i)?;
        }
        Ok(CertificateChain { certs })
    }

    /// Reads a PEM chain (leaf first), as written by [`CertificateChain::to_pem`] or step.
    pub fn from_pem(pem: &[u8]) -> Result<Self> {
        let certs = certs_from_pem("chain", pem)?;
        Self::from_der(certs)
    }

    fn leaf_cert(&self) -> X509Certificate<'_> {
        // Every certificate was parsed when the chain was made.
        X509Certificate::from_der(&self.certs[0])
            .map(|(_, c)| c)
            .expect("chain certificates parse")
    }

    /// The leaf's serial number in decimal (what step-ca's revoke API and tokens use).
    pub fn serial(&self) -> String {
        self.leaf_cert().tbs_certificate.serial.to_string()
    }

    /// The leaf's validity as UNIX seconds: (notBefore, notAfter).
    pub fn validity(&self) -> (i64, i64) {
        let v = self.leaf_cert().validity().clone();
        (v.not_before.timestamp(), v.not_after.timestamp())
    }

    /// The leaf's subject commonName, if any.
    pub fn common_name(&self) -> Option<String> {
        self.leaf_cert()
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok().map(str::to_string))
    }

    /// The leaf's DER SubjectPublicKeyInfo.
    pub(crate) fn leaf_spki(&self) -> Vec<u8> {
        self.leaf_cert().tbs_certificate.subject_pki.raw.to_vec()
    }

    /// The number of certificates (leaf included).
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// Always false: a chain holds at least its leaf.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// The leaf certificate, DER.
    pub fn leaf(&self) -> &[u8] {
        &self.certs[0]
    }

    /// All certificates, DER, leaf first.
    pub fn certificates(&self) -> &[Vec<u8>] {
        &self.certs
    }

    /// Certificate `index` in `format`.
    pub fn encode(&self, index: usize, format: Format) -> Option<Vec<u8>> {
        let der = self.certs.get(index)?;
        Some(match format {
            Format::Der => der.clone(),
            Format::Pem => cert_pem(der).into_bytes(),
        })
    }

    /// The whole chain as concatenated PEM, leaf first: what TLS servers and `openssl verify
    /// -untrusted` expect.
    pub fn to_pem(&self) -> String {
        self.certs.iter().map(|c| cert_pem(c)).collect()
    }

    /// Checks that the leaf's public key is `spki` and that each certificate is signed by the
    /// next; the last one must be signed by one of `roots` when roots are given.
    pub fn verify(&self, spki: &[u8], roots: &[Vec<u8>]) -> Result<()> {
        let parsed: Vec<X509Certificate<'_>> = self
            .certs
            .iter()
            .enumerate()
            .map(|(i, der)| parse_cert(der, i))
            .collect::<Result<_>>()?;
        if parsed[0].tbs_certificate.subject_pki.raw != spki {
            return Err(Error::new(
                ErrorKind::ChainInvalid,
                "certificate: the issued leaf does not carry the CSR's public key",
            ));
        }
        for (i, pair) in parsed.windows(2).enumerate() {
            let (child, issuer) = (&pair[0], &pair[1]);
            if child.issuer().as_raw() != issuer.subject().as_raw()
                || !signed_by(&self.certs[i], child, &self.certs[i + 1], issuer, i > 0)
            {
                return Err(Error::new(
                    ErrorKind::ChainInvalid,
                    format!("certificate: chain[{i}] is not signed by chain[{}]", i + 1),
                ));
            }
        }
        if roots.is_empty() {
            return Ok(());
        }
        let top = parsed.last().unwrap_or(&parsed[0]);
        let top_der = &self.certs[self.certs.len() - 1];
        let anchored = roots.iter().any(|root_der| {
            X509Certificate::from_der(root_der).is_ok_and(|(_, root)| {
                root.subject().as_raw() == top.issuer().as_raw()
                    && signed_by(top_der, top, root_der, &root, true)
            })
        });
        if anchored {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::ChainInvalid,
                "certificate: the chain does not lead to a configured root",
            ))
        }
    }
}

/// Whether `child` is signed by `issuer`. With `remember`, pairs that verified before are
/// remembered (by the hash of both DER encodings): the intermediate and root are the same
/// for every enrollment, so only the new leaf's signature costs anything after the first.
fn signed_by(
    child_der: &[u8],
    child: &X509Certificate<'_>,
    issuer_der: &[u8],
    issuer: &X509Certificate<'_>,
    remember: bool,
) -> bool {
    if !remember {
        // A new leaf every time: nothing to gain from remembering it.
        return child.verify_signature(Some(issuer.public_key())).is_ok();
    }
    use std::collections::HashSet;
    use std::sync::Mutex;
    static VERIFIED: once_cell::sync::Lazy<Mutex<HashSet<[u8; 32]>>> =
        once_cell::sync::Lazy::new(|| Mutex::new(HashSet::new()));
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(&(child_der.len() as u64).to_le_bytes());
    ctx.update(child_der);
    ctx.update(issuer_der);
    let mut key = [0u8; 32];
    key.copy_from_slice(ctx.finish().as_ref());
    if VERIFIED.lock().is_ok_and(|v| v.contains(&key)) {
        return true;
    }
    let ok = child.verify_signature(Some(issuer.public_key())).is_ok();
    if ok && let Ok(mut v) = VERIFIED.lock() {
        if v.len() >= 256 {
            v.clear();
        }
        v.insert(key);
    }
    ok
}

fn parse_cert(der: &[u8], index: usize) -> Result<X509Certificate<'_>> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        _ => Err(Error::new(
            ErrorKind::MalformedResponse,
            format!("response: chain[{index}] is not a valid X.509 certificate"),
        )),
    }
}

pub(crate) fn cert_pem(der: &[u8]) -> String {
    ::pem::encode_config(
        &::pem::Pem::new("CERTIFICATE", der.to_vec()),
        ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF),
    )
}

/// Every CERTIFICATE block of a PEM bundle, as DER; `field` names the input in errors.
pub(crate) fn certs_from_pem(field: &str, data: &[u8]) -> Result<Vec<Vec<u8>>> {
    let blocks =
        ::pem::parse_many(data).map_err(|e| Error::invalid(field, format!("invalid PEM ({e})")))?;
    let certs: Vec<Vec<u8>> = blocks
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(::pem::Pem::into_contents)
        .collect();
    if certs.is_empty() {
        return Err(Error::invalid(field, "no CERTIFICATE block found"));
    }
    for (i, der) in certs.iter().enumerate() {
        if !matches!(X509Certificate::from_der(der), Ok((rest, _)) if rest.is_empty()) {
            return Err(Error::invalid(
                field,
                format!("certificate {i} is not a valid X.509 certificate"),
            ));
        }
    }
    Ok(certs)
}
