//! Certificate chains returned by step-ca, and the checks made before handing one out:
//! the leaf carries the CSR's key, and the chain is a valid path to a configured root at
//! the client's time (path validation by rustls-webpki).

use std::time::{SystemTime, UNIX_EPOCH};

use rustls::pki_types::{CertificateDer, TrustAnchor, UnixTime};
use x509_parser::prelude::*;

use crate::clock::{rfc3339, unix_secs};

use crate::encoding::Format;
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
    pub fn leaf_public_key(&self) -> Vec<u8> {
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

    /// Checks the chain as a PKI would, at time `now`: the leaf carries `spki`, and
    /// rustls-webpki builds a path from it through the intermediates to one of `roots`
    /// (validity of every certificate at `now`, basicConstraints and path length, name
    /// chaining, signatures with supported algorithms, extendedKeyUsage nesting); then every
    /// issuer on the path that has a keyUsage extension must allow keyCertSign (webpki
    /// leaves keyUsage aside). With no `roots`, the chain's own last certificate is the
    /// anchor: everything below it is still checked, nothing vouches for it.
    pub fn verify(&self, spki: &[u8], roots: &[Vec<u8>], now: SystemTime) -> Result<()> {
        self.verify_anchored(spki, &Anchors::new(roots), now)
    }

    /// [`Self::verify`] with the roots already made into trust anchors (a client makes
    /// them once, not per certificate).
    pub(crate) fn verify_anchored(
        &self,
        spki: &[u8],
        roots: &Anchors,
        now: SystemTime,
    ) -> Result<()> {
        let parsed: Vec<X509Certificate<'_>> = self
            .certs
            .iter()
            .enumerate()
            .map(|(i, der)| parse_cert(der, i))
            .collect::<Result<_>>()?;
        if parsed[0].tbs_certificate.subject_pki.raw != spki {
            return Err(invalid(
                "certificate: the issued leaf does not carry the CSR's public key",
            ));
        }
        let n = self.certs.len();
        let own_top;
        let (anchors, pool): (&[TrustAnchor<'_>], &[Vec<u8>]) = if !roots.0.is_empty() {
            (&roots.0, &self.certs[1..])
        } else if n > 1 {
            own_top = Anchors::new(&self.certs[n - 1..]);
            (&own_top.0, &self.certs[1..n - 1])
        } else {
            return Err(invalid(
                "certificate: a lone leaf cannot be checked without a configured root",
            ));
        };
        if anchors.is_empty() {
            return Err(invalid(
                "certificate: no usable root to check the chain against",
            ));
        }
        let intermediates: Vec<CertificateDer<'_>> = pool
            .iter()
            .map(|d| CertificateDer::from(d.as_slice()))
            .collect();
        let leaf_der = CertificateDer::from(self.certs[0].as_slice());
        let leaf = webpki::EndEntityCert::try_from(&leaf_der)
            .map_err(|e| invalid(format!("certificate: the leaf is not usable ({e})")))?;
        let at = UnixTime::since_unix_epoch(now.duration_since(UNIX_EPOCH).unwrap_or_default());
        let path = leaf
            .verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                anchors,
                &intermediates,
                at,
                purpose(&parsed[0]),
                None,
                None,
            )
            .map_err(|e| invalid(format!("certificate: {}", explain(&parsed, &e, now))))?;
        for issuer in path.intermediate_certificates() {
            let index = self
                .certs
                .iter()
                .position(|c| c.as_slice() == issuer.der().as_ref())
                .unwrap_or(0);
            let signs_certs = parsed.get(index).and_then(|c| {
                c.key_usage()
                    .ok()
                    .flatten()
                    .map(|ku| ku.value.key_cert_sign())
            });
            if signs_certs == Some(false) {
                return Err(invalid(format!(
                    "certificate: {} has a keyUsage without keyCertSign, so it may not issue certificates",
                    position_name(index)
                )));
            }
        }
        Ok(())
    }
}

/// Roots as webpki trust anchors, owned. Certificates webpki cannot use as an anchor are
/// left out.
#[derive(Debug, Clone, Default)]
pub(crate) struct Anchors(Vec<TrustAnchor<'static>>);

impl Anchors {
    pub(crate) fn new(roots: &[Vec<u8>]) -> Anchors {
        Anchors(
            roots
                .iter()
                .filter_map(|d| {
                    webpki::anchor_from_trusted_cert(&CertificateDer::from(d.as_slice()))
                        .ok()
                        .map(|a| a.to_owned())
                })
                .collect(),
        )
    }
}

/// What webpki's verdict means for this chain, naming the certificate it concerns (found
/// by the dates or constraints the verdict is about).
fn explain(parsed: &[X509Certificate<'_>], e: &webpki::Error, now: SystemTime) -> String {
    use webpki::Error as W;
    let at = rfc3339(unix_secs(now));
    let first = |f: &dyn Fn(usize, &X509Certificate<'_>) -> bool| {
        parsed
            .iter()
            .enumerate()
            .position(|(i, c)| f(i, c))
            .unwrap_or(0)
    };
    match e {
        W::CertExpired { not_after, .. } => {
            let t = not_after.as_secs() as i64;
            let i = first(&|_, c| c.validity().not_after.timestamp() == t);
            format!(
                "{} expired at {} (checked at {at})",
                position_name(i),
                rfc3339(t)
            )
        }
        W::CertNotValidYet { not_before, .. } => {
            let t = not_before.as_secs() as i64;
            let i = first(&|_, c| c.validity().not_before.timestamp() == t);
            format!(
                "{} is not valid before {} (checked at {at})",
                position_name(i),
                rfc3339(t)
            )
        }
        W::CaUsedAsEndEntity => "the leaf is a CA certificate (basicConstraints cA)".into(),
        W::EndEntityUsedAsCa => {
            let i = first(&|i, c| i > 0 && !c.is_ca());
            format!(
                "{} issues certificates but is not a CA (no basicConstraints cA)",
                position_name(i)
            )
        }
        W::PathLenConstraintViolated => {
            // Certificate i has i - 1 CA certificates below it (the leaf is not counted).
            let i = first(&|i, c| {
                i > 1
                    && c.basic_constraints().ok().flatten().is_some_and(|bc| {
                        bc.value
                            .path_len_constraint
                            .is_some_and(|max| (i - 1) as u64 > u64::from(max))
                    })
            });
            format!(
                "{} has a path length constraint the chain exceeds",
                position_name(i)
            )
        }
        W::InvalidSignatureForPublicKey => {
            let i = first(&|i, c| {
                parsed
                    .get(i + 1)
                    .is_some_and(|issuer| c.verify_signature(Some(issuer.public_key())).is_err())
            });
            format!(
                "{} is not signed by {} (signature check failed)",
                position_name(i),
                position_name(i + 1)
            )
        }
        W::UnknownIssuer => "the chain does not lead to a configured root".into(),
        W::RequiredEkuNotFoundContext(_) => {
            "an issuer's extendedKeyUsage does not allow the leaf's purpose".into()
        }
        W::UnsupportedSignatureAlgorithmContext(_)
        | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            "a certificate is signed with an unsupported signature algorithm".into()
        }
        other => format!("the chain does not verify ({other})"),
    }
}

/// "the leaf" or "intermediate N" (N counted from 1 after the leaf).
fn position_name(index: usize) -> String {
    if index == 0 {
        "the leaf".to_string()
    } else {
        format!("intermediate {index}")
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::ChainInvalid, message)
}

/// The purpose the path must allow: clientAuth when the leaf has it or has no
/// extendedKeyUsage (a device identity), serverAuth for a server-only leaf. For other
/// purposes the issuers' extendedKeyUsage is not checked.
fn purpose(leaf: &X509Certificate<'_>) -> Purpose {
    match leaf.extended_key_usage().ok().flatten() {
        Some(eku) if !eku.value.client_auth && eku.value.server_auth => {
            Purpose::Usage(webpki::KeyUsage::server_auth())
        }
        Some(eku) if !eku.value.client_auth => Purpose::Any,
        _ => Purpose::Usage(webpki::KeyUsage::client_auth()),
    }
}

enum Purpose {
    Usage(webpki::KeyUsage),
    Any,
}

impl webpki::ExtendedKeyUsageValidator for Purpose {
    fn validate(
        &self,
        iter: webpki::KeyPurposeIdIter<'_, '_>,
    ) -> std::result::Result<(), webpki::Error> {
        match self {
            Purpose::Usage(u) => u.validate(iter),
            Purpose::Any => Ok(()),
        }
    }
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
    crate::encoding::pem("CERTIFICATE", der)
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
