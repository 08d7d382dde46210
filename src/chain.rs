//! Certificate chains returned by step-ca, and the checks made before handing one out:
//! the leaf carries the CSR's key, and the chain is a valid path to a configured root at
//! the client's time (path validation by rustls-webpki).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm,
    TrustAnchor, UnixTime,
};
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
        let chain = Self::unparsed(certs)?;
        chain.parse()?;
        Ok(chain)
    }

    /// A chain whose certificates are not parsed yet: only for a caller that goes on to
    /// [`Self::parse`] it (and keeps the result), so that each certificate is parsed once.
    pub(crate) fn unparsed(certs: Vec<Vec<u8>>) -> Result<Self> {
        if certs.is_empty() {
            return Err(Error::new(
                ErrorKind::MalformedResponse,
                "response: no certificate in the chain",
            ));
        }
        Ok(CertificateChain { certs })
    }

    /// Every certificate parsed, leaf first; a certificate that does not parse (or has
    /// bytes after it) is [`ErrorKind::MalformedResponse`] naming its index.
    pub(crate) fn parse(&self) -> Result<ParsedChain<'_>> {
        let certs = self
            .certs
            .iter()
            .enumerate()
            .map(|(i, der)| parse_cert(der, i))
            .collect::<Result<_>>()?;
        Ok(ParsedChain { chain: self, certs })
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
        self.verify_anchored(spki, &Anchors::new(roots), now, None)
    }

    /// [`Self::verify`] with the roots already made into trust anchors (a client makes
    /// them once, not per certificate), and signatures that verified before remembered in
    /// `memo` (see [`SignatureMemo`]).
    pub(crate) fn verify_anchored(
        &self,
        spki: &[u8],
        roots: &Anchors,
        now: SystemTime,
        memo: Option<&SignatureMemo>,
    ) -> Result<()> {
        self.parse()?.verify(spki, roots, now, memo)
    }

    fn verify_parsed(
        &self,
        parsed: &[X509Certificate<'_>],
        spki: &[u8],
        roots: &Anchors,
        now: SystemTime,
        memo: Option<&SignatureMemo>,
    ) -> Result<()> {
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
        let memoized: Vec<Memoized<'_>>;
        let algs: Vec<&dyn SignatureVerificationAlgorithm>;
        let algs: &[&dyn SignatureVerificationAlgorithm] = match memo {
            Some(memo) => {
                memoized = webpki::ALL_VERIFICATION_ALGS
                    .iter()
                    .enumerate()
                    .map(|(index, inner)| Memoized {
                        index,
                        inner: *inner,
                        memo,
                    })
                    .collect();
                algs = memoized
                    .iter()
                    .map(|m| m as &dyn SignatureVerificationAlgorithm)
                    .collect();
                &algs
            }
            None => webpki::ALL_VERIFICATION_ALGS,
        };
        let path = leaf
            .verify_for_usage(
                algs,
                anchors,
                &intermediates,
                at,
                purpose(&parsed[0]),
                None,
                None,
            )
            .map_err(|e| invalid(format!("certificate: {}", explain(parsed, &e, now))))?;
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

/// A chain with its certificates parsed (by [`CertificateChain::parse`]), so that a caller
/// that checks the parse and then the chain parses each certificate once.
pub(crate) struct ParsedChain<'a> {
    chain: &'a CertificateChain,
    certs: Vec<X509Certificate<'a>>,
}

impl ParsedChain<'_> {
    /// [`CertificateChain::verify_anchored`] on the certificates parsed already.
    pub(crate) fn verify(
        &self,
        spki: &[u8],
        roots: &Anchors,
        now: SystemTime,
        memo: Option<&SignatureMemo>,
    ) -> Result<()> {
        self.chain
            .verify_parsed(&self.certs, spki, roots, now, memo)
    }
}

/// Signatures that verified, remembered so that a client checking chain after chain under
/// the same intermediate verifies the intermediate's signature (by the root) once, not per
/// certificate: it was about 80 µs of a 630 µs enrollment. Only the result of a pure
/// function is reused, verify(algorithm, public key, message, signature), for exactly the
/// same bytes (compared whole, not by a hash); the path validation around it (dates at the
/// time asked for, basicConstraints, path length, names, extendedKeyUsage) is webpki's,
/// every time. A failure is never remembered. Holds [`Self::SIZE`]; when full, the least
/// recently used entry that was never reused goes first (a leaf's signature, checked once),
/// so that leaves verified by many threads at once do not push out the intermediate's.
#[derive(Debug, Default)]
pub(crate) struct SignatureMemo {
    verified: Mutex<VecDeque<Verified>>,
}

#[derive(Debug)]
struct Verified {
    /// The algorithm's index in its list (`webpki::ALL_VERIFICATION_ALGS` or rustls's).
    alg: usize,
    public_key: Vec<u8>,
    message: Vec<u8>,
    signature: Vec<u8>,
    /// Whether it was found here again since it was remembered.
    reused: bool,
}

impl Verified {
    fn is(&self, alg: usize, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        self.alg == alg
            && self.signature == signature
            && self.public_key == public_key
            && self.message == message
    }
}

impl SignatureMemo {
    /// Enough for a CA's intermediates and the leaves between them.
    pub(crate) const SIZE: usize = 8;

    const fn new() -> SignatureMemo {
        SignatureMemo {
            verified: Mutex::new(VecDeque::new()),
        }
    }

    /// Whether this exact verification succeeded before (it becomes the most recent).
    fn seen(&self, alg: usize, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        let mut v = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        let found = v
            .iter()
            .position(|e| e.is(alg, public_key, message, signature));
        if let Some(mut e) = found.and_then(|i| v.remove(i)) {
            e.reused = true;
            v.push_front(e);
            return true;
        }
        false
    }

    fn remember(&self, e: Verified) {
        let mut v = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if v.iter()
            .any(|o| o.is(e.alg, &e.public_key, &e.message, &e.signature))
        {
            return;
        }
        if v.len() >= Self::SIZE {
            // The oldest never reused, else the oldest.
            let evict = v.iter().rposition(|o| !o.reused).unwrap_or(v.len() - 1);
            v.remove(evict);
        }
        v.push_front(e);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.verified.lock().map_or(0, |v| v.len())
    }
}

/// Signatures of CA servers' TLS certificate chains that verified, for the whole process:
/// rustls verifies the server's chain on each new connection (each mutual-TLS renewal opens
/// one), and it is the same chain every time.
static TLS_SIGNATURES: SignatureMemo = SignatureMemo::new();

/// rustls's algorithms for certificate chains (aws-lc-rs), each asked only for what
/// [`TLS_SIGNATURES`] has not seen verify; what TLS handshakes sign is verified as before.
pub(crate) fn tls_chain_algorithms() -> &'static [&'static dyn SignatureVerificationAlgorithm] {
    static ALGS: once_cell::sync::Lazy<&'static [&'static dyn SignatureVerificationAlgorithm]> =
        once_cell::sync::Lazy::new(|| {
            let algs: Vec<&'static dyn SignatureVerificationAlgorithm> =
                rustls::crypto::aws_lc_rs::default_provider()
                    .signature_verification_algorithms
                    .all
                    .iter()
                    .enumerate()
                    .map(|(index, inner)| {
                        // Made once per process and kept for its life.
                        &*Box::leak(Box::new(Memoized {
                            index,
                            inner: *inner,
                            memo: &TLS_SIGNATURES,
                        })) as &'static dyn SignatureVerificationAlgorithm
                    })
                    .collect();
            Box::leak(algs.into_boxed_slice())
        });
    &ALGS
}

/// One of webpki's algorithms, asked only for what `memo` has not seen verify.
#[derive(Debug)]
struct Memoized<'a> {
    index: usize,
    inner: &'static dyn SignatureVerificationAlgorithm,
    memo: &'a SignatureMemo,
}

impl SignatureVerificationAlgorithm for Memoized<'_> {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> std::result::Result<(), InvalidSignature> {
        if self.memo.seen(self.index, public_key, message, signature) {
            return Ok(());
        }
        self.inner
            .verify_signature(public_key, message, signature)?;
        self.memo.remember(Verified {
            alg: self.index,
            public_key: public_key.to_vec(),
            message: message.to_vec(),
            signature: signature.to_vec(),
            reused: false,
        });
        Ok(())
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.inner.public_key_alg_id()
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.inner.signature_alg_id()
    }

    fn fips_status(&self) -> rustls::pki_types::FipsStatus {
        self.inner.fips_status()
    }

    fn fips(&self) -> bool {
        self.inner.fips()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Accepts the signature "good" only, counting its calls.
    #[derive(Debug, Default)]
    struct Counting(AtomicUsize);

    impl SignatureVerificationAlgorithm for Counting {
        fn verify_signature(
            &self,
            _: &[u8],
            _: &[u8],
            signature: &[u8],
        ) -> std::result::Result<(), InvalidSignature> {
            self.0.fetch_add(1, Ordering::SeqCst);
            if signature == b"good" {
                Ok(())
            } else {
                Err(InvalidSignature)
            }
        }
        fn public_key_alg_id(&self) -> AlgorithmIdentifier {
            webpki::ALL_VERIFICATION_ALGS[0].public_key_alg_id()
        }
        fn signature_alg_id(&self) -> AlgorithmIdentifier {
            webpki::ALL_VERIFICATION_ALGS[0].signature_alg_id()
        }
    }

    #[test]
    fn tls_algorithms_are_rustls_own_wrapped() {
        let own = rustls::crypto::aws_lc_rs::default_provider()
            .signature_verification_algorithms
            .all;
        let wrapped = tls_chain_algorithms();
        assert_eq!(wrapped.len(), own.len());
        for (w, o) in wrapped.iter().zip(own) {
            assert_eq!(w.public_key_alg_id(), o.public_key_alg_id());
            assert_eq!(w.signature_alg_id(), o.signature_alg_id());
        }
        assert!(std::ptr::eq(wrapped, tls_chain_algorithms()), "made once");
    }

    #[test]
    fn the_memo_reuses_successes_for_the_same_bytes_only() {
        static INNER: Counting = Counting(AtomicUsize::new(0));
        let calls = || INNER.0.load(Ordering::SeqCst);
        let memo = SignatureMemo::default();
        let alg = |index| Memoized {
            index,
            inner: &INNER,
            memo: &memo,
        };
        assert!(alg(0).verify_signature(b"k", b"m", b"good").is_ok());
        assert!(alg(0).verify_signature(b"k", b"m", b"good").is_ok());
        assert_eq!(calls(), 1, "the same verification again is remembered");
        // Any other byte, or another algorithm, is verified afresh.
        for (i, (k, m)) in [(&b"K"[..], &b"m"[..]), (b"k", b"M")]
            .into_iter()
            .enumerate()
        {
            assert!(alg(0).verify_signature(k, m, b"good").is_ok());
            assert_eq!(calls(), 2 + i);
        }
        assert!(alg(1).verify_signature(b"k", b"m", b"good").is_ok());
        assert_eq!(calls(), 4);
        // A failure is never remembered: each attempt asks the algorithm again.
        for n in 1..=3 {
            assert!(alg(0).verify_signature(b"k", b"m", b"bad").is_err());
            assert_eq!(calls(), 4 + n);
        }
        // Bounded: the least recently used entry goes first.
        let memo = SignatureMemo::default();
        let alg = Memoized {
            index: 0,
            inner: &INNER,
            memo: &memo,
        };
        let before = calls();
        for i in 0..=SignatureMemo::SIZE {
            alg.verify_signature(&[i as u8], b"m", b"good").unwrap();
            // Entry 0 kept in use: never evicted.
            alg.verify_signature(&[0], b"m", b"good").unwrap();
        }
        assert_eq!(memo.len(), SignatureMemo::SIZE);
        assert_eq!(calls() - before, SignatureMemo::SIZE + 1);
        alg.verify_signature(&[1], b"m", b"good").unwrap();
        assert_eq!(
            calls() - before,
            SignatureMemo::SIZE + 2,
            "entry 1 was evicted"
        );
        alg.verify_signature(&[0], b"m", b"good").unwrap();
        assert_eq!(
            calls() - before,
            SignatureMemo::SIZE + 2,
            "entry 0 was kept"
        );

        // Many threads verifying leaves at once: one reused entry (the intermediate's) stays
        // however many new ones (leaves) come between its uses.
        let memo = SignatureMemo::default();
        let alg = Memoized {
            index: 0,
            inner: &INNER,
            memo: &memo,
        };
        alg.verify_signature(b"intermediate", b"m", b"good")
            .unwrap();
        alg.verify_signature(b"intermediate", b"m", b"good")
            .unwrap();
        let before = calls();
        for round in 0..5u8 {
            for leaf in 0..(3 * SignatureMemo::SIZE as u8) {
                alg.verify_signature(&[round, leaf], b"m", b"good").unwrap();
            }
            alg.verify_signature(b"intermediate", b"m", b"good")
                .unwrap();
        }
        assert_eq!(
            calls() - before,
            5 * 3 * SignatureMemo::SIZE,
            "the intermediate was never verified again"
        );
    }

    struct Made {
        der: Vec<u8>,
        params: rcgen::CertificateParams,
        key: rcgen::KeyPair,
    }

    fn make(
        cn: &str,
        issuer: Option<&Made>,
        edit: impl FnOnce(&mut rcgen::CertificateParams),
    ) -> Made {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2035, 1, 1);
        if issuer.is_none() || cn.contains("Intermediate") {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        }
        edit(&mut params);
        let cert = match issuer {
            None => params.self_signed(&key).unwrap(),
            Some(i) => {
                let issuer = rcgen::Issuer::from_params(&i.params, &i.key);
                params.signed_by(&key, &issuer).unwrap()
            }
        };
        Made {
            der: cert.der().to_vec(),
            params,
            key,
        }
    }

    fn spki_of(der: &[u8]) -> Vec<u8> {
        let (_, c) = X509Certificate::from_der(der).unwrap();
        c.tbs_certificate.subject_pki.raw.to_vec()
    }

    fn at(y: i32) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(((y - 1970) as u64) * 365 * 86400 + 86400 * 20)
    }

    /// With the intermediate's signature remembered, every other check still runs: a date
    /// past the intermediate's notAfter, a leaf whose signature was altered, and an
    /// intermediate of the same name with another key are all refused by the same memo.
    #[test]
    fn a_remembered_signature_skips_no_other_check() {
        let root = make("Root", None, |_| {});
        let inter = make("Intermediate", Some(&root), |p| {
            p.not_after = rcgen::date_time_ymd(2030, 1, 1);
        });
        let leaf = make("leaf.example", Some(&inter), |_| {});
        let spki = spki_of(&leaf.der);
        let anchors = Anchors::new(std::slice::from_ref(&root.der));
        let memo = SignatureMemo::default();
        let chain = CertificateChain::from_der(vec![leaf.der.clone(), inter.der.clone()]).unwrap();
        chain
            .verify_anchored(&spki, &anchors, at(2026), Some(&memo))
            .unwrap();
        assert_eq!(
            memo.len(),
            2,
            "the leaf's and the intermediate's signatures"
        );

        let e = chain
            .verify_anchored(&spki, &anchors, at(2031), Some(&memo))
            .unwrap_err();
        assert!(e.message().contains("intermediate 1 expired"), "{e}");

        let mut altered = leaf.der.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        let bad = CertificateChain::from_der(vec![altered, inter.der.clone()]).unwrap();
        assert!(
            bad.verify_anchored(&spki, &anchors, at(2026), Some(&memo))
                .is_err()
        );

        let other_root = make("Root", None, |_| {});
        let impostor = make("Intermediate", Some(&other_root), |_| {});
        let under = make("leaf.example", Some(&impostor), |_| {});
        let forged =
            CertificateChain::from_der(vec![under.der.clone(), impostor.der.clone()]).unwrap();
        let e = forged
            .verify_anchored(&spki_of(&under.der), &anchors, at(2026), Some(&memo))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ChainInvalid, "{e}");

        // A second leaf under the same intermediate: verified, and the memo holds it too.
        let leaf2 = make("leaf2.example", Some(&inter), |_| {});
        CertificateChain::from_der(vec![leaf2.der.clone(), inter.der.clone()])
            .unwrap()
            .verify_anchored(&spki_of(&leaf2.der), &anchors, at(2026), Some(&memo))
            .unwrap();
        assert_eq!(memo.len(), 3);
    }
}
