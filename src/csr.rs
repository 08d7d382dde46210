//! PKCS#10 certificate signing requests (RFC 2986): building them from a [`CsrRequest`]
//! and reading the ones callers hand us.

use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SanType,
};
use x509_parser::prelude::*;
use zeroize::Zeroizing;

use crate::encoding::{Format, der_tlv};
use crate::error::{Error, ErrorKind, Result};
use crate::key::{CsrSigner, PrivateKey, SignatureAlgorithm};
use crate::name::{Attribute, Oid, San, SanKind, StringKind, is_printable};

/// keyUsage bits (RFC 5280 §4.2.1.3); combine with `|`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct KeyUsage(pub u16);

impl KeyUsage {
    /// digitalSignature
    pub const DIGITAL_SIGNATURE: KeyUsage = KeyUsage(1 << 0);
    /// contentCommitment (nonRepudiation)
    pub const CONTENT_COMMITMENT: KeyUsage = KeyUsage(1 << 1);
    /// keyEncipherment
    pub const KEY_ENCIPHERMENT: KeyUsage = KeyUsage(1 << 2);
    /// dataEncipherment
    pub const DATA_ENCIPHERMENT: KeyUsage = KeyUsage(1 << 3);
    /// keyAgreement
    pub const KEY_AGREEMENT: KeyUsage = KeyUsage(1 << 4);
    /// keyCertSign
    pub const KEY_CERT_SIGN: KeyUsage = KeyUsage(1 << 5);
    /// cRLSign
    pub const CRL_SIGN: KeyUsage = KeyUsage(1 << 6);
    /// encipherOnly
    pub const ENCIPHER_ONLY: KeyUsage = KeyUsage(1 << 7);
    /// decipherOnly
    pub const DECIPHER_ONLY: KeyUsage = KeyUsage(1 << 8);
    const ALL: u16 = 0x1ff;

    /// All nine bits.
    pub fn all() -> KeyUsage {
        KeyUsage(Self::ALL)
    }

    fn purposes(self) -> Vec<KeyUsagePurpose> {
        use KeyUsagePurpose::*;
        [
            DigitalSignature,
            ContentCommitment,
            KeyEncipherment,
            DataEncipherment,
            KeyAgreement,
            KeyCertSign,
            CrlSign,
            EncipherOnly,
            DecipherOnly,
        ]
        .into_iter()
        .enumerate()
        .filter(|(i, _)| self.0 & (1 << i) != 0)
        .map(|(_, p)| p)
        .collect()
    }
}

impl std::ops::BitOr for KeyUsage {
    type Output = KeyUsage;
    fn bitor(self, rhs: KeyUsage) -> KeyUsage {
        KeyUsage(self.0 | rhs.0)
    }
}

/// An extendedKeyUsage purpose.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExtKeyUsage {
    /// id-kp-serverAuth
    ServerAuth,
    /// id-kp-clientAuth
    ClientAuth,
    /// id-kp-codeSigning
    CodeSigning,
    /// id-kp-emailProtection
    EmailProtection,
    /// id-kp-timeStamping
    TimeStamping,
    /// id-kp-OCSPSigning
    OcspSigning,
    /// Any other purpose, by OID.
    Other(Oid),
}

impl ExtKeyUsage {
    /// Parses a purpose by name (`serverAuth`, `clientAuth`, `codeSigning`,
    /// `emailProtection`, `timeStamping`, `OCSPSigning`; case-insensitive) or dotted OID.
    pub fn parse(s: &str) -> Result<ExtKeyUsage> {
        const NAMES: [(&str, ExtKeyUsage); 6] = [
            ("serverAuth", ExtKeyUsage::ServerAuth),
            ("clientAuth", ExtKeyUsage::ClientAuth),
            ("codeSigning", ExtKeyUsage::CodeSigning),
            ("emailProtection", ExtKeyUsage::EmailProtection),
            ("timeStamping", ExtKeyUsage::TimeStamping),
            ("OCSPSigning", ExtKeyUsage::OcspSigning),
        ];
        if let Some((_, eku)) = NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
            return Ok(eku.clone());
        }
        if s.starts_with(|c: char| c.is_ascii_digit()) {
            return Oid::parse("extended_key_usage", s).map(ExtKeyUsage::Other);
        }
        Err(Error::invalid(
            "extended_key_usage",
            format!(
                "unknown purpose {s:?} (use serverAuth, clientAuth, codeSigning, \
                 emailProtection, timeStamping, OCSPSigning or a dotted OID)"
            ),
        ))
    }

    fn rcgen(&self) -> ExtendedKeyUsagePurpose {
        match self {
            ExtKeyUsage::ServerAuth => ExtendedKeyUsagePurpose::ServerAuth,
            ExtKeyUsage::ClientAuth => ExtendedKeyUsagePurpose::ClientAuth,
            ExtKeyUsage::CodeSigning => ExtendedKeyUsagePurpose::CodeSigning,
            ExtKeyUsage::EmailProtection => ExtendedKeyUsagePurpose::EmailProtection,
            ExtKeyUsage::TimeStamping => ExtendedKeyUsagePurpose::TimeStamping,
            ExtKeyUsage::OcspSigning => ExtendedKeyUsagePurpose::OcspSigning,
            ExtKeyUsage::Other(oid) => ExtendedKeyUsagePurpose::Other(oid.0.clone()),
        }
    }
}

/// basicConstraints to request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasicConstraints {
    /// cA
    pub ca: bool,
    /// pathLenConstraint (only meaningful with `ca`).
    pub path_len: Option<u8>,
}

#[derive(Debug, Clone)]
struct RawExtension {
    oid: Oid,
    critical: bool,
    value: Vec<u8>,
}

/// Everything a CSR should say. Mirrors the Python plugin's `SubjectSpec`, `AltNameSpec` and
/// `CertExtensionSpec` one to one, with validation at each step.
#[derive(Debug, Clone, Default)]
pub struct CsrRequest {
    subject: Vec<(Attribute, String)>,
    sans: Vec<San>,
    basic_constraints: Option<BasicConstraints>,
    key_usage: KeyUsage,
    ext_key_usage: Vec<ExtKeyUsage>,
    extensions: Vec<RawExtension>,
    challenge_password: Option<Zeroizing<String>>,
    signature_algorithm: Option<SignatureAlgorithm>,
}

/// The challengePassword attribute (PKCS#9).
const CHALLENGE_PASSWORD: &[u64] = &[1, 2, 840, 113549, 1, 9, 7];
/// Bound on a CSR given to us; real ones are a few KiB.
const MAX_CSR_INPUT: usize = 1 << 20;

impl CsrRequest {
    /// An empty request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a subject attribute by name (`CN`, `C`, `ST`, `L`, `O`, `OU`, `emailAddress`,
    /// other common names) or dotted OID. Attributes are written in the order given; each
    /// attribute type may appear once.
    pub fn subject(&mut self, name: &str, value: &str) -> Result<&mut Self> {
        let attr = Attribute::lookup(name)?;
        attr.check_value(value)?;
        if self.subject.iter().any(|(a, _)| a.oid == attr.oid) {
            return Err(Error::invalid(
                &format!("subject.{}", attr.name),
                "attribute given twice (each attribute type may appear once)",
            ));
        }
        self.subject.push((attr, value.to_string()));
        Ok(self)
    }

    /// Appends a subject alternative name.
    pub fn san(&mut self, kind: SanKind, value: &str) -> Result<&mut Self> {
        let san = San::new(kind, value)?;
        if !self.sans.contains(&san) {
            self.sans.push(san);
        }
        Ok(self)
    }

    /// Requests basicConstraints.
    pub fn basic_constraints(&mut self, ca: bool, path_len: Option<u8>) -> Result<&mut Self> {
        if path_len.is_some() && !ca {
            return Err(Error::invalid(
                "basic_constraints.path_len",
                "a path length needs ca = true",
            ));
        }
        self.basic_constraints = Some(BasicConstraints { ca, path_len });
        Ok(self)
    }

    /// Requests keyUsage with these bits (see [`KeyUsage`]).
    pub fn key_usage(&mut self, bits: KeyUsage) -> Result<&mut Self> {
        if bits.0 & !KeyUsage::ALL != 0 {
            return Err(Error::invalid(
                "key_usage",
                format!("unknown bits 0x{:x}", bits.0 & !KeyUsage::ALL),
            ));
        }
        self.key_usage = bits;
        Ok(self)
    }

    /// Appends an extendedKeyUsage purpose by name or dotted OID.
    pub fn ext_key_usage(&mut self, purpose: &str) -> Result<&mut Self> {
        let eku = ExtKeyUsage::parse(purpose)?;
        if !self.ext_key_usage.contains(&eku) {
            self.ext_key_usage.push(eku);
        }
        Ok(self)
    }

    /// Adds any other extension: its OID, criticality and DER-encoded value.
    pub fn extension(&mut self, oid: &str, critical: bool, der_value: &[u8]) -> Result<&mut Self> {
        let oid = Oid::parse("extension.oid", oid)?;
        const HANDLED: [&[u64]; 4] = [
            &[2, 5, 29, 15],
            &[2, 5, 29, 17],
            &[2, 5, 29, 19],
            &[2, 5, 29, 37],
        ];
        if HANDLED.contains(&oid.0.as_slice()) {
            return Err(Error::invalid(
                "extension.oid",
                format!("{oid} has its own setter (key usage, SAN, basic constraints, EKU)"),
            ));
        }
        if self.extensions.iter().any(|e| e.oid == oid) {
            return Err(Error::invalid(
                "extension.oid",
                format!("{oid} given twice"),
            ));
        }
        match x509_parser::der_parser::der::parse_der(der_value) {
            Ok(([], _)) => {}
            _ => {
                return Err(Error::invalid(
                    "extension.value",
                    "not a single well-formed DER value",
                ));
            }
        }
        self.extensions.push(RawExtension {
            oid,
            critical,
            value: der_value.to_vec(),
        });
        Ok(self)
    }

    /// Sets the PKCS#9 challengePassword attribute.
    pub fn challenge_password(&mut self, password: &str) -> Result<&mut Self> {
        if password.is_empty() || password.chars().count() > 255 {
            return Err(Error::invalid(
                "challenge_password",
                "must be 1 to 255 characters",
            ));
        }
        self.challenge_password = Some(Zeroizing::new(password.to_string()));
        Ok(self)
    }

    /// Chooses the signature algorithm; `None` (the default) follows the key.
    pub fn signature_algorithm(&mut self, alg: Option<SignatureAlgorithm>) -> &mut Self {
        self.signature_algorithm = alg;
        self
    }

    /// Builds and signs the CSR with `key`.
    pub fn build(&self, key: &PrivateKey) -> Result<Csr> {
        let alg = self
            .signature_algorithm
            .unwrap_or_else(|| key.default_signature_algorithm());
        key.check_algorithm(alg)?;
        alg.for_csr("signature_algorithm")?;
        let (params, attributes) = self.params()?;
        let signer = CsrSigner { key, alg };
        let csr = params
            .serialize_request_with_attributes(&signer, attributes)
            .map_err(|e| Error::new(ErrorKind::Csr, format!("csr: cannot build the CSR ({e})")))?;
        Ok(Csr {
            der: csr.der().to_vec(),
        })
    }

    /// Builds the CSR with an external signer: libstepca sees only the public key.
    pub fn build_with_signer(&self, signer: &dyn crate::signer::Signer) -> Result<Csr> {
        if let Some(alg) = self.signature_algorithm
            && alg != signer.algorithm()
        {
            return Err(Error::invalid(
                "signature_algorithm",
                format!(
                    "the signer uses {}, not {}",
                    signer.algorithm().name(),
                    alg.name()
                ),
            ));
        }
        let key = crate::signer::ExternalKey::new(signer, "public_key")?;
        let (params, attributes) = self.params()?;
        let csr = params
            .serialize_request_with_attributes(&key, attributes)
            .map_err(|e| match e {
                rcgen::Error::RemoteKeyError => key.take_error(),
                e => Error::new(ErrorKind::Csr, format!("csr: cannot build the CSR ({e})")),
            })?;
        // The signer's output is not ours: check the self-signature before anyone trusts it.
        let (csr, _) = Csr::from_pem_or_der(csr.der()).map_err(|_| {
            Error::new(
                ErrorKind::Signer,
                "signer: the signature does not verify with the public key (wrong format or key?)",
            )
        })?;
        Ok(csr)
    }

    /// rcgen parameters and attributes for this request.
    fn params(&self) -> Result<(CertificateParams, Vec<rcgen::Attribute>)> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        for (attr, value) in &self.subject {
            let ty = DnType::from_oid(&attr.oid.0);
            let v = match attr.kind {
                StringKind::Utf8 => DnValue::Utf8String(value.clone()),
                StringKind::Ia5 => {
                    DnValue::Ia5String(value.as_str().try_into().map_err(|_| {
                        Error::invalid(&format!("subject.{}", attr.name), "not ASCII")
                    })?)
                }
                StringKind::Printable | StringKind::Country => {
                    DnValue::PrintableString(value.as_str().try_into().map_err(|_| {
                        Error::invalid(&format!("subject.{}", attr.name), "not printable")
                    })?)
                }
            };
            dn.push(ty, v);
        }
        params.distinguished_name = dn;
        params.subject_alt_names = self
            .sans
            .iter()
            .map(|san| {
                let ia5 = |s: &str| {
                    s.try_into().map_err(|_| {
                        Error::invalid(&format!("san.{}", san.kind().name()), "not ASCII")
                    })
                };
                Ok(match san {
                    San::Dns(s) => SanType::DnsName(ia5(s)?),
                    San::Ip(ip) => SanType::IpAddress(*ip),
                    San::Email(s) => SanType::Rfc822Name(ia5(s)?),
                    San::Uri(s) => SanType::URI(ia5(s)?),
                })
            })
            .collect::<Result<_>>()?;
        params.is_ca = match self.basic_constraints {
            None => IsCa::NoCa,
            Some(BasicConstraints { ca: false, .. }) => IsCa::ExplicitNoCa,
            Some(BasicConstraints { ca: true, path_len }) => IsCa::Ca(match path_len {
                Some(n) => rcgen::BasicConstraints::Constrained(n),
                None => rcgen::BasicConstraints::Unconstrained,
            }),
        };
        params.key_usages = self.key_usage.purposes();
        params.extended_key_usages = self.ext_key_usage.iter().map(ExtKeyUsage::rcgen).collect();
        params.custom_extensions = self
            .extensions
            .iter()
            .map(|e| {
                let mut ext = CustomExtension::from_oid_content(&e.oid.0, e.value.clone());
                ext.set_criticality(e.critical);
                ext
            })
            .collect();

        let mut attributes = Vec::new();
        if let Some(pw) = &self.challenge_password {
            // DirectoryString: PrintableString when it fits, UTF8String otherwise.
            let tag = if is_printable(pw) { 0x13 } else { 0x0c };
            let value = der_tlv(tag, pw.as_bytes());
            attributes.push(rcgen::Attribute {
                oid: CHALLENGE_PASSWORD,
                values: der_tlv(0x31, &value),
            });
        }
        Ok((params, attributes))
    }
}

/// A DER-encoded CSR whose self-signature is known to verify: a `Csr` is only made by
/// [`Csr::from_pem_or_der`] (which verifies it), by [`CsrRequest::build`] (signed here with
/// a key this library holds) or by [`CsrRequest::build_with_signer`] (verified after the
/// external signer answered). [`crate::Client::sign_csr`] relies on this to skip a second
/// verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csr {
    der: Vec<u8>,
}

/// What the sign flow needs to know about a CSR.
#[derive(Debug, Clone)]
pub struct CsrInfo {
    /// The subject's commonName, if any.
    pub common_name: Option<String>,
    /// Every SAN the CSR requests, in order.
    pub sans: Vec<San>,
    /// The DER SubjectPublicKeyInfo.
    pub spki: Vec<u8>,
}

impl Csr {
    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM text (`CERTIFICATE REQUEST`).
    pub fn to_pem(&self) -> String {
        crate::encoding::pem("CERTIFICATE REQUEST", &self.der)
    }

    /// The SHA-256 of the DER, base64url without padding: what step-ca compares with a
    /// token's `cnf` (`x5rt#S256`) claim to bind the token to this CSR.
    pub fn fingerprint(&self) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.der);
        crate::jose::b64url(digest.as_ref())
    }

    /// What the CSR asks for (commonName, SANs, public key), read from its DER. The
    /// self-signature is not verified again (see [`Csr`]).
    pub fn info(&self) -> Result<CsrInfo> {
        let (_, req) = X509CertificationRequest::from_der(&self.der).map_err(|e| {
            Error::new(
                ErrorKind::Csr,
                format!("csr: not a valid PKCS#10 request ({e})"),
            )
        })?;
        csr_info(&req)
    }

    /// The CSR in `format`.
    pub fn encode(&self, format: Format) -> Vec<u8> {
        match format {
            Format::Pem => self.to_pem().into_bytes(),
            Format::Der => self.der.clone(),
        }
    }

    /// Reads a CSR given as PEM or DER, checking its structure and self-signature so that
    /// a broken CSR is caught here instead of burning a one-time token at step-ca.
    pub fn from_pem_or_der(data: &[u8]) -> Result<(Csr, CsrInfo)> {
        if data.is_empty() {
            return Err(Error::new(ErrorKind::Csr, "csr: input is empty"));
        }
        if data.len() > MAX_CSR_INPUT {
            return Err(Error::new(
                ErrorKind::Csr,
                "csr: input is larger than 1 MiB",
            ));
        }
        let der = if data.trim_ascii_start().starts_with(b"-----BEGIN") {
            let block = ::pem::parse(data)
                .map_err(|e| Error::new(ErrorKind::Csr, format!("csr: invalid PEM ({e})")))?;
            if block.tag() != "CERTIFICATE REQUEST" && block.tag() != "NEW CERTIFICATE REQUEST" {
                return Err(Error::new(
                    ErrorKind::Csr,
                    format!(
                        "csr: PEM block is {:?}, expected CERTIFICATE REQUEST",
                        block.tag()
                    ),
                ));
            }
            block.into_contents()
        } else {
            data.to_vec()
        };
        let info = {
            let (rest, req) = X509CertificationRequest::from_der(&der).map_err(|e| {
                Error::new(
                    ErrorKind::Csr,
                    format!("csr: not a valid PKCS#10 request ({e})"),
                )
            })?;
            if !rest.is_empty() {
                return Err(Error::new(
                    ErrorKind::Csr,
                    "csr: trailing bytes after the request",
                ));
            }
            req.verify_signature().map_err(|_| {
                Error::new(
                    ErrorKind::Csr,
                    "csr: the self-signature does not verify (or its algorithm is unsupported)",
                )
            })?;
            csr_info(&req)?
        };
        Ok((Csr { der }, info))
    }
}

fn csr_info(req: &X509CertificationRequest<'_>) -> Result<CsrInfo> {
    let cri = &req.certification_request_info;
    let common_name = match cri.subject.iter_common_name().next() {
        None => None,
        Some(cn) => Some(
            cn.as_str()
                .map_err(|_| Error::new(ErrorKind::Csr, "csr: commonName is not a string"))?
                .to_string(),
        ),
    };
    let mut sans = Vec::new();
    if let Some(exts) = req.requested_extensions() {
        for ext in exts {
            if let ParsedExtension::SubjectAlternativeName(san) = ext {
                for name in &san.general_names {
                    let parsed = match name {
                        GeneralName::DNSName(s) => San::new(SanKind::Dns, s),
                        GeneralName::RFC822Name(s) => San::new(SanKind::Email, s),
                        GeneralName::URI(s) => San::new(SanKind::Uri, s),
                        GeneralName::IPAddress(b) => match b.len() {
                            4 => Ok(San::Ip(<[u8; 4]>::try_from(*b).unwrap_or_default().into())),
                            16 => Ok(San::Ip(<[u8; 16]>::try_from(*b).unwrap_or_default().into())),
                            _ => Err(Error::new(ErrorKind::Csr, "csr: malformed IP SAN")),
                        },
                        // Other name forms are carried by the CSR but not part of step's token SANs.
                        _ => continue,
                    };
                    sans.push(parsed.map_err(|e| {
                        Error::new(ErrorKind::Csr, format!("csr: {}", e.message()))
                    })?);
                }
            }
        }
    }
    Ok(CsrInfo {
        common_name,
        sans,
        spki: cri.subject_pki.raw.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeyType;

    #[test]
    fn build_and_read_back() {
        let key = PrivateKey::generate(KeyType::EcP256).unwrap();
        let mut req = CsrRequest::new();
        req.subject("C", "US").unwrap();
        req.subject("CN", "dev-1").unwrap();
        req.san(SanKind::Dns, "dev-1.example.com").unwrap();
        req.san(SanKind::Ip, "10.0.0.1").unwrap();
        req.san(SanKind::Ip, "fe80::1").unwrap();
        req.san(SanKind::Email, "ops@example.com").unwrap();
        req.san(SanKind::Uri, "spiffe://example.com/dev-1").unwrap();
        req.ext_key_usage("serverAuth").unwrap();
        req.challenge_password("s3cret").unwrap();
        let csr = req.build(&key).unwrap();
        let (again, info) = Csr::from_pem_or_der(csr.to_pem().as_bytes()).unwrap();
        assert_eq!(again, csr);
        assert_eq!(info.common_name.as_deref(), Some("dev-1"));
        assert_eq!(info.sans.len(), 5);
        assert_eq!(info.sans[2].to_string(), "fe80::1");
    }

    /// What `Client::sign_csr` relies on: a CSR built here with any key and any algorithm
    /// the key allows verifies, and `info` reads what the verifying reader reads.
    #[test]
    fn every_csr_built_here_verifies() {
        use crate::key::SignatureAlgorithm;
        let types = [
            KeyType::Rsa2048,
            KeyType::EcP256,
            KeyType::EcP384,
            KeyType::Ed25519,
        ];
        let mut built = 0;
        for t in types {
            let key = PrivateKey::generate(t).unwrap();
            for alg in SignatureAlgorithm::ALL {
                let mut req = CsrRequest::new();
                req.subject("CN", "dev-1").unwrap();
                req.san(SanKind::Dns, "dev-1.example.com").unwrap();
                req.san(SanKind::Ip, "10.0.0.1").unwrap();
                req.signature_algorithm(Some(alg));
                let Ok(csr) = req.build(&key) else {
                    assert!(key.check_algorithm(alg).is_err(), "{t:?} {alg:?}");
                    continue;
                };
                let (again, checked) = Csr::from_pem_or_der(csr.der())
                    .unwrap_or_else(|e| panic!("{t:?} {alg:?}: {e}"));
                assert_eq!(again, csr);
                let info = csr.info().unwrap();
                assert_eq!(info.common_name, checked.common_name);
                assert_eq!(info.sans, checked.sans);
                assert_eq!(info.spki, checked.spki);
                assert_eq!(info.spki, key.spki_der());
                built += 1;
            }
        }
        // RSA: three PKCS#1 digests; each EC curve and Ed25519: its own algorithm.
        assert_eq!(built, 6);
    }

    #[test]
    fn tampered_csr_is_rejected() {
        let key = PrivateKey::generate(KeyType::EcP256).unwrap();
        let mut req = CsrRequest::new();
        req.subject("CN", "abc").unwrap();
        let mut der = req.build(&key).unwrap().der().to_vec();
        let pos = der.windows(3).position(|w| w == b"abc").unwrap();
        der[pos] = b'x';
        let err = Csr::from_pem_or_der(&der).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Csr);
        assert!(err.message().contains("self-signature"), "{err}");
    }

    #[test]
    fn duplicate_subject_and_bad_eku() {
        let mut req = CsrRequest::new();
        req.subject("O", "a").unwrap();
        assert!(req.subject("organizationName", "b").is_err());
        let e = req.ext_key_usage("serverauthx").unwrap_err();
        assert!(e.message().starts_with("extended_key_usage: "));
        assert!(req.key_usage(KeyUsage(0x200)).is_err());
    }
}
