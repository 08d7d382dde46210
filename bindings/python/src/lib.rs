//! `stepca._stepca`: the Python extension over the libstepca Rust core (PyO3, abi3).
//!
//! Every object wraps a core object that is `Send + Sync` where the core's is, so the
//! Python classes are usable from any thread; the GIL is released during network calls
//! and key operations (`Python::detach`), and re-taken only to call a Python token
//! provider or renewer callback.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

mod parse;

use stepca::{ErrorKind, SanKind};

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// A Python token provider's own exception, carried through the core unchanged and set
/// as the `__cause__` of the `TokenError` the call raises.
#[derive(Debug)]
struct ProviderFailure(PyErr);

impl std::fmt::Display for ProviderFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Python::attach(|py| {
            let v = self.0.value(py);
            let name = v
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| "Exception".into());
            match v.str() {
                Ok(s) if !s.to_string().is_empty() => write!(f, "{name}: {s}"),
                _ => f.write_str(&name),
            }
        })
    }
}

impl std::error::Error for ProviderFailure {}

/// The Python class name and the permanent numeric code (the C `stepca_status`) of a kind.
fn class_of(kind: ErrorKind) -> (&'static str, i32, &'static str) {
    match kind {
        ErrorKind::InvalidArgument => ("InvalidArgument", 1, "invalid_argument"),
        ErrorKind::Internal => ("StepCaError", 4, "internal"),
        ErrorKind::Unsupported => ("UnsupportedError", 5, "unsupported"),
        ErrorKind::Key => ("KeyFormatError", 10, "key"),
        ErrorKind::KeyPassphrase => ("KeyPassphraseError", 11, "key_passphrase"),
        ErrorKind::Csr => ("CsrError", 20, "csr"),
        ErrorKind::TokenProvider => ("TokenError", 30, "token_provider"),
        ErrorKind::NoToken => ("NoTokenError", 31, "no_token"),
        ErrorKind::Signer => ("SignerError", 32, "signer"),
        ErrorKind::Transport => ("TransportError", 40, "transport"),
        ErrorKind::Tls => ("TlsError", 41, "tls"),
        ErrorKind::Timeout => ("CaTimeoutError", 42, "timeout"),
        ErrorKind::Clock => ("ClockError", 43, "clock"),
        ErrorKind::CaRejected => ("CaRejected", 50, "ca_rejected"),
        ErrorKind::MalformedResponse => ("MalformedResponse", 51, "malformed_response"),
        ErrorKind::ChainInvalid => ("ChainInvalid", 52, "chain_invalid"),
        ErrorKind::Fingerprint => ("FingerprintError", 60, "fingerprint"),
        ErrorKind::Io => ("StepCaIOError", 70, "io"),
        _ => ("StepCaError", 4, "internal"),
    }
}

fn make_err(py: Python<'_>, e: stepca::Error) -> PyErr {
    let (class, code, kind) = class_of(e.kind());
    let build = || -> PyResult<PyErr> {
        let module = py.import("stepca.errors")?;
        let inst = module.getattr(class)?.call1((e.message(),))?;
        inst.setattr("code", code)?;
        inst.setattr("kind", kind)?;
        inst.setattr("message", e.message())?;
        inst.setattr("http_status", e.http_status())?;
        inst.setattr("ca_message", e.ca_message())?;
        inst.setattr("received", e.received())?;
        inst.setattr("clock_skew", e.clock_skew())?;
        Ok(PyErr::from_value(inst))
    };
    let err = match build() {
        Ok(err) => err,
        Err(failed) => return failed,
    };
    if let Some(source) = e.into_source()
        && let Ok(failure) = source.downcast::<ProviderFailure>()
    {
        err.set_cause(py, Some(failure.0));
    }
    err
}

/// Converts a core error, taking the GIL (callers may hold it already).
fn to_py(e: stepca::Error) -> PyErr {
    Python::attach(|py| make_err(py, e))
}

trait OrPy<T> {
    fn py_err(self) -> PyResult<T>;
}

impl<T> OrPy<T> for stepca::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

fn invalid(field: &str, why: impl std::fmt::Display) -> PyErr {
    to_py(stepca::Error::invalid(field, why))
}

// ---------------------------------------------------------------------------------------
// Argument helpers
// ---------------------------------------------------------------------------------------

/// bytes, bytearray, memoryview or str (UTF-8) as bytes.
fn bytes_arg(obj: &Bound<'_, PyAny>, field: &str) -> PyResult<Vec<u8>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.extract::<String>()?.into_bytes());
    }
    if let Ok(csr) = obj.cast::<Csr>() {
        return Ok(csr.get().inner.der().to_vec());
    }
    let py = obj.py();
    let builtins = py.import("builtins")?;
    match builtins.getattr("bytes")?.call1((obj,)) {
        Ok(b) => Ok(b.cast::<PyBytes>()?.as_bytes().to_vec()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{field}: expected bytes or str, got {}",
            obj.get_type().name()?
        ))),
    }
}

/// A CSR argument: a `Csr` object goes to the library as it is (its self-signature was
/// verified when it was made), bytes or text are read and verified by the library.
enum CsrArg {
    Made(stepca::Csr),
    Bytes(Vec<u8>),
}

fn csr_arg(obj: &Bound<'_, PyAny>, field: &str) -> PyResult<CsrArg> {
    if let Ok(csr) = obj.cast::<Csr>() {
        return Ok(CsrArg::Made(csr.get().inner.clone()));
    }
    bytes_arg(obj, field).map(CsrArg::Bytes)
}

fn opt_bytes(obj: Option<&Bound<'_, PyAny>>, field: &str) -> PyResult<Option<Vec<u8>>> {
    obj.filter(|o| !o.is_none())
        .map(|o| bytes_arg(o, field))
        .transpose()
}

fn secs(d: f64, field: &str) -> PyResult<Duration> {
    if !(d.is_finite() && d > 0.0) {
        return Err(invalid(field, "must be a positive number of seconds"));
    }
    Ok(Duration::from_secs_f64(d))
}

fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

fn from_unix(t: i64) -> SystemTime {
    if t >= 0 {
        UNIX_EPOCH + Duration::from_secs(t as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(t.unsigned_abs())
    }
}

/// A JSON text from a str, bytes, or any object `json.dumps` takes.
fn json_arg(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = obj.cast::<PyString>() {
        return s.extract::<String>();
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return String::from_utf8(b.as_bytes().to_vec())
            .map_err(|_| invalid("template_data", "is not UTF-8"));
    }
    let json = obj.py().import("json")?;
    json.getattr("dumps")?.call1((obj,))?.extract()
}

fn san_kind(name: &str) -> PyResult<SanKind> {
    match name.to_ascii_lowercase().as_str() {
        "dns" => Ok(SanKind::Dns),
        "ip" => Ok(SanKind::Ip),
        "email" | "rfc822" => Ok(SanKind::Email),
        "uri" | "url" => Ok(SanKind::Uri),
        _ => Err(invalid(
            "san",
            format!("unknown SAN type {name:?} (use dns, ip, email or uri)"),
        )),
    }
}

fn key_type(name: &str) -> PyResult<stepca::KeyType> {
    use stepca::KeyType::*;
    let n = name.to_ascii_uppercase().replace(['_', ' '], "-");
    Ok(match n.as_str() {
        "EC-P256" | "P256" | "P-256" | "EC" | "ECDSA-P256" => EcP256,
        "EC-P384" | "P384" | "P-384" | "ECDSA-P384" => EcP384,
        "ED25519" | "OKP" => Ed25519,
        "RSA-2048" | "RSA" | "RSA2048" => Rsa2048,
        "RSA-3072" | "RSA3072" => Rsa3072,
        "RSA-4096" | "RSA4096" => Rsa4096,
        _ => {
            return Err(invalid(
                "key_type",
                format!(
                    "unknown key type {name:?} (use EC-P256, EC-P384, Ed25519, RSA-2048, RSA-3072 or RSA-4096)"
                ),
            ));
        }
    })
}

fn algorithm_name(a: stepca::KeyAlgorithm) -> &'static str {
    match a {
        stepca::KeyAlgorithm::Rsa => "RSA",
        stepca::KeyAlgorithm::EcP256 => "EC-P256",
        stepca::KeyAlgorithm::EcP384 => "EC-P384",
        stepca::KeyAlgorithm::Ed25519 => "Ed25519",
    }
}

fn sig_alg(name: &str) -> PyResult<stepca::SignatureAlgorithm> {
    use stepca::SignatureAlgorithm as S;
    let n = name.to_ascii_uppercase().replace('_', "-");
    Ok(match n.as_str() {
        "RSA-PKCS1-SHA256" | "RSA-SHA256" | "SHA256WITHRSA" | "RS256" => S::RsaPkcs1Sha256,
        "RSA-PKCS1-SHA384" | "RSA-SHA384" | "SHA384WITHRSA" | "RS384" => S::RsaPkcs1Sha384,
        "RSA-PKCS1-SHA512" | "RSA-SHA512" | "SHA512WITHRSA" | "RS512" => S::RsaPkcs1Sha512,
        "ECDSA-P256-SHA256" | "ECDSA-SHA256" | "ES256" => S::EcdsaP256Sha256,
        "ECDSA-P384-SHA384" | "ECDSA-SHA384" | "ES384" => S::EcdsaP384Sha384,
        "ED25519" | "EDDSA" => S::Ed25519,
        _ if n.starts_with("RSA-PSS") || n.starts_with("PS") => {
            return Err(to_py(stepca::Error::new(
                ErrorKind::Unsupported,
                format!(
                    "sig_alg: {name:?}: RSA-PSS CSR signatures are not supported; use RSA-PKCS1-SHA256/384/512"
                ),
            )));
        }
        _ => {
            return Err(invalid(
                "sig_alg",
                format!(
                    "unknown signature algorithm {name:?} (use RSA-PKCS1-SHA256/384/512, ECDSA-P256-SHA256, ECDSA-P384-SHA384 or Ed25519)"
                ),
            ));
        }
    })
}

fn key_usage_bit(name: &str) -> PyResult<stepca::KeyUsage> {
    use stepca::KeyUsage as K;
    let n: String = name
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    Ok(match n.as_str() {
        "digitalsignature" => K::DIGITAL_SIGNATURE,
        "contentcommitment" | "nonrepudiation" => K::CONTENT_COMMITMENT,
        "keyencipherment" => K::KEY_ENCIPHERMENT,
        "dataencipherment" => K::DATA_ENCIPHERMENT,
        "keyagreement" => K::KEY_AGREEMENT,
        "keycertsign" => K::KEY_CERT_SIGN,
        "crlsign" => K::CRL_SIGN,
        "encipheronly" => K::ENCIPHER_ONLY,
        "decipheronly" => K::DECIPHER_ONLY,
        _ => return Err(invalid("key_usage", format!("unknown key usage {name:?}"))),
    })
}

// ---------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------

/// A private key in memory: loaded (PEM or DER; PKCS#8, SEC1, PKCS#1; encrypted or not)
/// or generated. Validated once; immutable and shareable between threads.
#[pyclass(frozen, module = "stepca")]
struct PrivateKey {
    inner: Arc<stepca::PrivateKey>,
}

#[pymethods]
impl PrivateKey {
    /// Generates a key: "EC-P256" (default), "EC-P384", "Ed25519", "RSA-2048", "RSA-3072"
    /// or "RSA-4096". The GIL is released meanwhile.
    #[staticmethod]
    #[pyo3(signature = (key_type = "EC-P256"))]
    fn generate(py: Python<'_>, key_type: &str) -> PyResult<PrivateKey> {
        let kt = self::key_type(key_type)?;
        let key = py.detach(|| stepca::PrivateKey::generate(kt)).py_err()?;
        Ok(PrivateKey {
            inner: Arc::new(key),
        })
    }

    /// Loads a key from PEM or DER (bytes or str); `passphrase` opens an encrypted one.
    #[staticmethod]
    #[pyo3(signature = (data, passphrase = None))]
    fn load(
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        passphrase: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PrivateKey> {
        let data = bytes_arg(data, "key")?;
        let pw = opt_bytes(passphrase, "passphrase")?;
        let key = py
            .detach(|| stepca::PrivateKey::load(&data, pw.as_deref()))
            .py_err()?;
        Ok(PrivateKey {
            inner: Arc::new(key),
        })
    }

    /// The key as PKCS#8 PEM, encrypted (PBES2) when a passphrase is given.
    #[pyo3(signature = (passphrase = None))]
    fn to_pem(&self, passphrase: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        match opt_bytes(passphrase, "passphrase")? {
            None => Ok(self.inner.to_pkcs8_pem().to_string()),
            Some(pw) => Ok(self.inner.to_encrypted_pkcs8_pem(&pw).py_err()?.to_string()),
        }
    }

    /// The key as PKCS#8 DER.
    fn to_der<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.to_pkcs8_der())
    }

    /// "RSA", "EC-P256", "EC-P384" or "Ed25519".
    #[getter]
    fn algorithm(&self) -> &'static str {
        algorithm_name(self.inner.algorithm())
    }

    /// The key size in bits.
    #[getter]
    fn bits(&self) -> usize {
        self.inner.bits()
    }

    /// The DER SubjectPublicKeyInfo.
    #[getter]
    fn public_key_der<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.spki_der())
    }

    /// The raw public key (the SubjectPublicKeyInfo's BIT STRING contents).
    #[getter]
    fn public_key_raw<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.public_key_raw())
    }

    fn __repr__(&self) -> String {
        format!(
            "<stepca.PrivateKey {} {} bits>",
            self.algorithm(),
            self.inner.bits()
        )
    }
}

// ---------------------------------------------------------------------------------------
// CSRs
// ---------------------------------------------------------------------------------------

/// What a CSR says: subject, SANs, extensions, challengePassword, signature algorithm.
/// Every value is checked when it is added, and the error names the field.
#[pyclass(module = "stepca")]
struct CsrRequest {
    inner: stepca::CsrRequest,
}

#[pymethods]
impl CsrRequest {
    #[new]
    #[pyo3(signature = (subject = None, *, dns = None, ip = None, email = None, uri = None,
                        key_usage = None, ext_key_usage = None, is_ca = None, path_len = None,
                        challenge_password = None, sig_alg = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        subject: Option<&Bound<'_, PyAny>>,
        dns: Option<Vec<String>>,
        ip: Option<Vec<String>>,
        email: Option<Vec<String>>,
        uri: Option<Vec<String>>,
        key_usage: Option<Vec<String>>,
        ext_key_usage: Option<Vec<String>>,
        is_ca: Option<bool>,
        path_len: Option<u8>,
        challenge_password: Option<String>,
        sig_alg: Option<String>,
    ) -> PyResult<CsrRequest> {
        let mut r = CsrRequest {
            inner: stepca::CsrRequest::new(),
        };
        if let Some(subject) = subject.filter(|s| !s.is_none()) {
            let pairs: Vec<(String, String)> = if let Ok(d) = subject.cast::<PyDict>() {
                d.items().extract()?
            } else {
                subject.extract()?
            };
            for (k, v) in pairs {
                r.add_subject(&k, &v)?;
            }
        }
        for (kind, values) in [
            (SanKind::Dns, dns),
            (SanKind::Ip, ip),
            (SanKind::Email, email),
            (SanKind::Uri, uri),
        ] {
            for v in values.unwrap_or_default() {
                r.inner.san(kind, &v).py_err()?;
            }
        }
        if let Some(ku) = key_usage {
            r.set_key_usage(ku)?;
        }
        for p in ext_key_usage.unwrap_or_default() {
            r.inner.ext_key_usage(&p).py_err()?;
        }
        if let Some(ca) = is_ca {
            r.inner.basic_constraints(ca, path_len).py_err()?;
        } else if path_len.is_some() {
            return Err(invalid("path_len", "needs is_ca"));
        }
        if let Some(pw) = challenge_password {
            r.inner.challenge_password(&pw).py_err()?;
        }
        if let Some(alg) = sig_alg {
            r.inner.signature_algorithm(Some(self::sig_alg(&alg)?));
        }
        Ok(r)
    }

    /// Appends a subject attribute by name (CN, O, OU, C, ST, L, emailAddress, ...) or
    /// dotted OID, in order.
    fn add_subject(&mut self, name: &str, value: &str) -> PyResult<()> {
        self.inner.subject(name, value).py_err()?;
        Ok(())
    }

    /// Appends a SAN: kind is "dns", "ip", "email" or "uri".
    fn add_san(&mut self, kind: &str, value: &str) -> PyResult<()> {
        self.inner.san(san_kind(kind)?, value).py_err()?;
        Ok(())
    }

    /// Sets keyUsage from names (digital_signature, key_encipherment, ...).
    fn set_key_usage(&mut self, names: Vec<String>) -> PyResult<()> {
        let mut bits = stepca::KeyUsage::default();
        for n in &names {
            bits = bits | key_usage_bit(n)?;
        }
        self.inner.key_usage(bits).py_err()?;
        Ok(())
    }

    /// Appends an extendedKeyUsage purpose by name (serverAuth, clientAuth, ...) or OID.
    fn add_ext_key_usage(&mut self, purpose: &str) -> PyResult<()> {
        self.inner.ext_key_usage(purpose).py_err()?;
        Ok(())
    }

    /// Sets basicConstraints.
    #[pyo3(signature = (ca, path_len = None))]
    fn set_basic_constraints(&mut self, ca: bool, path_len: Option<u8>) -> PyResult<()> {
        self.inner.basic_constraints(ca, path_len).py_err()?;
        Ok(())
    }

    /// Adds any other extension: its dotted OID and its DER value (extnValue contents).
    #[pyo3(signature = (oid, der_value, critical = false))]
    fn add_extension(
        &mut self,
        oid: &str,
        der_value: &Bound<'_, PyAny>,
        critical: bool,
    ) -> PyResult<()> {
        let der = bytes_arg(der_value, "extension")?;
        self.inner.extension(oid, critical, &der).py_err()?;
        Ok(())
    }

    /// Sets the PKCS#9 challengePassword attribute.
    fn set_challenge_password(&mut self, password: &str) -> PyResult<()> {
        self.inner.challenge_password(password).py_err()?;
        Ok(())
    }

    /// Chooses the signature algorithm (None: the key's default).
    #[pyo3(signature = (name = None))]
    fn set_signature_algorithm(&mut self, name: Option<&str>) -> PyResult<()> {
        let alg = name.map(sig_alg).transpose()?;
        self.inner.signature_algorithm(alg);
        Ok(())
    }

    /// Builds and signs the CSR with `key` (the GIL is released meanwhile).
    fn build(&self, py: Python<'_>, key: &PrivateKey) -> PyResult<Csr> {
        let req = self.inner.clone();
        let key = key.inner.clone();
        let csr = py.detach(move || req.build(&key)).py_err()?;
        Ok(Csr { inner: csr })
    }
}

/// A PKCS#10 CSR.
#[pyclass(frozen, module = "stepca")]
struct Csr {
    inner: stepca::Csr,
}

#[pymethods]
impl Csr {
    /// Reads a CSR (PEM or DER), checking its structure and self-signature.
    #[staticmethod]
    fn load(data: &Bound<'_, PyAny>) -> PyResult<Csr> {
        let data = bytes_arg(data, "csr")?;
        let (csr, _) = stepca::Csr::from_pem_or_der(&data).py_err()?;
        Ok(Csr { inner: csr })
    }

    /// DER bytes.
    #[getter]
    fn der<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.der())
    }

    /// PEM text.
    #[getter]
    fn pem(&self) -> String {
        self.inner.to_pem()
    }

    /// SHA-256 of the DER, base64url (what a token's `cnf` binds to).
    #[getter]
    fn fingerprint(&self) -> String {
        self.inner.fingerprint()
    }

    /// {"common_name": str | None, "sans": [(kind, value), ...]}.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (_, info) = stepca::Csr::from_pem_or_der(self.inner.der()).py_err()?;
        let d = PyDict::new(py);
        d.set_item("common_name", info.common_name)?;
        let sans: Vec<(&str, String)> = info
            .sans
            .iter()
            .map(|s| (s.kind().name(), s.to_string()))
            .collect();
        d.set_item("sans", sans)?;
        Ok(d)
    }
}

// ---------------------------------------------------------------------------------------
// Chains and credentials
// ---------------------------------------------------------------------------------------

/// A leaf certificate and its intermediates, as step-ca issued them.
#[pyclass(frozen, module = "stepca")]
struct Chain {
    inner: stepca::CertificateChain,
}

fn chain_from(data: &Bound<'_, PyAny>) -> PyResult<stepca::CertificateChain> {
    if let Ok(c) = data.cast::<Chain>() {
        return Ok(c.get().inner.clone());
    }
    if let Ok(list) = data.cast::<PyList>() {
        let mut ders = Vec::new();
        for item in list.iter() {
            ders.extend(certs_from(&item)?);
        }
        return stepca::CertificateChain::from_der(ders).py_err();
    }
    stepca::CertificateChain::from_der(certs_from(data)?).py_err()
}

/// Every certificate in PEM (a bundle) or one DER certificate.
fn certs_from(data: &Bound<'_, PyAny>) -> PyResult<Vec<Vec<u8>>> {
    let bytes = bytes_arg(data, "certificate")?;
    if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        let chain = stepca::CertificateChain::from_pem(&bytes).py_err()?;
        Ok(chain.certificates().to_vec())
    } else {
        Ok(vec![bytes])
    }
}

#[pymethods]
impl Chain {
    /// A chain from PEM (a bundle, leaf first), one DER certificate, or a list of
    /// certificates (PEM or DER), leaf first.
    #[new]
    fn new(data: &Bound<'_, PyAny>) -> PyResult<Chain> {
        Ok(Chain {
            inner: chain_from(data)?,
        })
    }

    /// The whole chain as PEM, leaf first.
    #[getter]
    fn pem(&self) -> String {
        self.inner.to_pem()
    }

    /// Every certificate, DER, leaf first.
    #[getter]
    fn der<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.inner
            .certificates()
            .iter()
            .map(|c| PyBytes::new(py, c))
            .collect()
    }

    /// Every certificate as its own PEM string, leaf first.
    #[getter]
    fn pems(&self) -> Vec<String> {
        (0..self.inner.len())
            .filter_map(|i| self.inner.encode(i, stepca::Format::Pem))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect()
    }

    /// The leaf, DER.
    #[getter]
    fn leaf_der<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.leaf())
    }

    /// The leaf, PEM.
    #[getter]
    fn leaf_pem(&self) -> String {
        self.pems().swap_remove(0)
    }

    /// The intermediates, PEM (leaf excluded).
    #[getter]
    fn intermediates_pem(&self) -> Vec<String> {
        self.pems().split_off(1)
    }

    /// The leaf's serial number, decimal.
    #[getter]
    fn serial(&self) -> String {
        self.inner.serial()
    }

    /// The leaf's notBefore, UNIX seconds.
    #[getter]
    fn not_before(&self) -> i64 {
        self.inner.validity().0
    }

    /// The leaf's notAfter, UNIX seconds.
    #[getter]
    fn not_after(&self) -> i64 {
        self.inner.validity().1
    }

    /// The leaf's subject commonName.
    #[getter]
    fn common_name(&self) -> Option<String> {
        self.inner.common_name()
    }

    /// When to renew (UNIX seconds): about two thirds into the leaf's life, with jitter.
    fn renew_after(&self) -> PyResult<i64> {
        Ok(unix(stepca::renew_after(&self.inner).py_err()?))
    }

    /// Certificate `index` (0: the leaf) parsed into a dict (see `parse_certificate`).
    #[pyo3(signature = (index = 0, include_extensions = true))]
    fn parse<'py>(
        &self,
        py: Python<'py>,
        index: usize,
        include_extensions: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let der = self.inner.certificates().get(index).ok_or_else(|| {
            invalid(
                "index",
                format!("the chain has {} certificates", self.inner.len()),
            )
        })?;
        parse::certificate(py, der, include_extensions)
    }

    /// Path-validates the chain at `at` (UNIX seconds; default now) up to one of `roots`
    /// (PEM bundles or DER certificates); raises ChainInvalid. Without roots the chain's
    /// own last certificate is the anchor.
    #[pyo3(signature = (roots = None, at = None))]
    fn verify(
        &self,
        py: Python<'_>,
        roots: Option<Vec<Bound<'_, PyAny>>>,
        at: Option<i64>,
    ) -> PyResult<()> {
        let mut anchors = Vec::new();
        for r in roots.unwrap_or_default() {
            anchors.extend(certs_from(&r)?);
        }
        let now = at.map_or_else(SystemTime::now, from_unix);
        let chain = &self.inner;
        let spki = chain.leaf_public_key();
        py.detach(|| chain.verify(&spki, &anchors, now)).py_err()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "<stepca.Chain {} certificates, CN={:?}, serial {}>",
            self.inner.len(),
            self.inner.common_name().unwrap_or_default(),
            self.inner.serial()
        )
    }
}

/// A chain and the private key of its leaf: what renew, rekey and revoke authenticate with.
#[pyclass(frozen, module = "stepca")]
struct Credential {
    inner: stepca::Credential,
    key: Py<PrivateKey>,
}

#[pymethods]
impl Credential {
    /// A credential from a chain (Chain, PEM or DER) and its key (PrivateKey, or PEM/DER
    /// with `passphrase`). The key must match the leaf.
    #[new]
    #[pyo3(signature = (chain, key, passphrase = None))]
    fn new(
        py: Python<'_>,
        chain: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
        passphrase: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Credential> {
        let chain = chain_from(chain)?;
        let key: Py<PrivateKey> = match key.cast::<PrivateKey>() {
            Ok(k) => k.clone().unbind(),
            Err(_) => Py::new(py, PrivateKey::load(py, key, passphrase)?)?,
        };
        let inner = stepca::Credential::new(chain, key.get().inner.clone()).py_err()?;
        Ok(Credential { inner, key })
    }

    /// The chain.
    #[getter]
    fn chain(&self) -> Chain {
        Chain {
            inner: self.inner.chain().clone(),
        }
    }

    /// The key.
    #[getter]
    fn key(&self, py: Python<'_>) -> Py<PrivateKey> {
        self.key.clone_ref(py)
    }

    fn __repr__(&self) -> String {
        format!(
            "<stepca.Credential CN={:?} serial {}>",
            self.inner.chain().common_name().unwrap_or_default(),
            self.inner.chain().serial()
        )
    }
}

fn credential_py(py: Python<'_>, c: stepca::Credential) -> PyResult<Credential> {
    let key = match c.private_key() {
        Some(k) => Py::new(py, PrivateKey { inner: k.clone() })?,
        None => return Err(invalid("credential", "holds no key in memory")),
    };
    Ok(Credential { inner: c, key })
}

// ---------------------------------------------------------------------------------------
// Token providers
// ---------------------------------------------------------------------------------------

/// A Python callable as the core's token provider: called (with the GIL) with a dict of
/// claims, returns the token as str.
struct PyTokenProvider(Py<PyAny>);

fn claims_dict<'py>(py: Python<'py>, c: &stepca::TokenClaims) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let sans = c.san_strings();
    d.set_item("sub", &c.subject)?;
    d.set_item("subject", &c.subject)?;
    d.set_item("sans", &sans)?;
    let by_type = PyDict::new(py);
    for kind in [SanKind::Dns, SanKind::Ip, SanKind::Email, SanKind::Uri] {
        by_type.set_item(kind.name(), c.sans_of(kind))?;
    }
    d.set_item("sans_by_type", by_type)?;
    d.set_item("aud", &c.audience)?;
    d.set_item("audience", &c.audience)?;
    d.set_item("provisioner", &c.provisioner)?;
    d.set_item(
        "purpose",
        match c.purpose {
            stepca::TokenPurpose::Sign => "sign",
            stepca::TokenPurpose::Revoke => "revoke",
        },
    )?;
    d.set_item("now", unix(c.now))?;
    d.set_item("csr_fingerprint", &c.csr_fingerprint)?;
    d.set_item("not_after", c.not_after.map(unix))?;
    Ok(d)
}

impl stepca::TokenProvider for PyTokenProvider {
    fn token(&self, claims: &stepca::TokenClaims) -> Result<stepca::Token, stepca::ProviderError> {
        Python::attach(|py| {
            let run = || -> PyResult<String> {
                let d = claims_dict(py, claims)?;
                let out = self.0.bind(py).call1((d,))?;
                if out.hasattr("__await__")? {
                    return Err(PyTypeError::new_err(
                        "the token provider returned an awaitable: stepca.Client takes a \
                         synchronous callable (the swarmauri drop-in takes async ones)",
                    ));
                }
                if let Ok(b) = out.cast::<PyBytes>() {
                    return String::from_utf8(b.as_bytes().to_vec())
                        .map_err(|_| PyValueError::new_err("the token is not UTF-8"));
                }
                out.extract::<String>()
                    .map_err(|_| PyTypeError::new_err("the token provider must return a str"))
            };
            run()
                .map(|t| stepca::Token::new(t.trim().to_string()))
                .map_err(|e| Box::new(ProviderFailure(e)) as stepca::ProviderError)
        })
    }
}

fn provider(obj: &Bound<'_, PyAny>) -> PyResult<Arc<dyn stepca::TokenProvider>> {
    if !obj.is_callable() {
        return Err(PyTypeError::new_err("token_provider must be callable"));
    }
    Ok(Arc::new(PyTokenProvider(obj.clone().unbind())))
}

/// A per-call token: a str, or a callable asked once for this call.
fn token_source(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<stepca::TokenSource>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Some(
            stepca::Token::new(s.extract::<String>()?.trim().to_string()).into(),
        ));
    }
    Ok(Some(stepca::TokenSource::Provider(provider(obj)?)))
}

// ---------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------

/// A step-ca client. Immutable; share one between threads: it keeps its TLS connections
/// alive and shares them. Network calls release the GIL.
#[pyclass(frozen, module = "stepca")]
struct Client {
    inner: stepca::Client,
}

fn renew_auth(name: &str) -> PyResult<stepca::RenewAuth> {
    match name.to_ascii_lowercase().as_str() {
        "auto" => Ok(stepca::RenewAuth::Auto),
        "mtls" | "mutual_tls" => Ok(stepca::RenewAuth::MutualTls),
        "token" => Ok(stepca::RenewAuth::Token),
        _ => Err(invalid(
            "auth",
            format!("{name:?}: use auto, mtls or token"),
        )),
    }
}

#[pymethods]
impl Client {
    /// A client for the CA at `url`.
    ///
    /// Trust: `root` (a file path), `root_pem` (PEM/DER bytes), `fingerprint` (bootstrap:
    /// fetch the root whose SHA-256 is this, then trust only it), else the system roots;
    /// `verify_tls=False` turns verification off (dangerous). `token_provider` is a
    /// callable(claims: dict) -> str asked once per sign or revoke.
    #[new]
    #[pyo3(signature = (url, *, root = None, root_pem = None, fingerprint = None,
                        provisioner = None, token_provider = None, timeout = None,
                        connect_timeout = None, verify_tls = true, allow_insecure_http = false,
                        ca_time = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        url: &str,
        root: Option<std::path::PathBuf>,
        root_pem: Option<&Bound<'_, PyAny>>,
        fingerprint: Option<&str>,
        provisioner: Option<&str>,
        token_provider: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
        connect_timeout: Option<f64>,
        verify_tls: bool,
        allow_insecure_http: bool,
        ca_time: bool,
    ) -> PyResult<Client> {
        let mut b = stepca::ClientBuilder::new(url);
        if let Some(root) = root {
            b.root_file(root).py_err()?;
        }
        if let Some(pem) = opt_bytes(root_pem, "root_pem")? {
            b.root_pem(&pem).py_err()?;
        }
        if let Some(fp) = fingerprint {
            b.root_fingerprint(fp).py_err()?;
        }
        if let Some(p) = provisioner {
            b.provisioner(p).py_err()?;
        }
        if let Some(tp) = token_provider.filter(|t| !t.is_none()) {
            b.token_provider(provider(tp)?);
        }
        if let Some(t) = timeout {
            b.timeout(secs(t, "timeout")?).py_err()?;
        }
        if let Some(t) = connect_timeout {
            b.connect_timeout(secs(t, "connect_timeout")?).py_err()?;
        }
        if !verify_tls {
            b.danger_disable_tls_verification();
        }
        b.allow_insecure_http(allow_insecure_http);
        b.ca_time(ca_time);
        let inner = py.detach(|| b.build()).py_err()?;
        Ok(Client { inner })
    }

    /// The CA URL (no trailing slash).
    #[getter]
    fn url(&self) -> &str {
        self.inner.ca_url()
    }

    /// The roots this client trusts, DER (empty with the system roots).
    #[getter]
    fn roots<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.inner
            .roots()
            .iter()
            .map(|r| PyBytes::new(py, r))
            .collect()
    }

    /// The client's time, UNIX seconds.
    fn now(&self) -> i64 {
        unix(self.inner.now())
    }

    /// The audience of sign tokens.
    #[getter]
    fn sign_audience(&self) -> String {
        self.inner.sign_audience()
    }

    /// The same client (sharing connections) with another token provider.
    fn with_token_provider(&self, token_provider: &Bound<'_, PyAny>) -> PyResult<Client> {
        Ok(Client {
            inner: self.inner.with_token_provider(provider(token_provider)?),
        })
    }

    /// The same client with tokens minted in process by the JWK provisioner `name`, whose
    /// encrypted key is fetched from the CA and decrypted with `password` once.
    #[pyo3(signature = (name, password, kid = None))]
    fn with_jwk_provisioner(
        &self,
        py: Python<'_>,
        name: &str,
        password: &Bound<'_, PyAny>,
        kid: Option<&str>,
    ) -> PyResult<Client> {
        let pw = bytes_arg(password, "password")?;
        let inner = &self.inner;
        let prov = py
            .detach(|| inner.jwk_provisioner(name, kid, &pw))
            .py_err()?;
        Ok(Client {
            inner: self.inner.with_token_provider(Arc::new(prov)),
        })
    }

    /// Exchanges a CSR (Csr, PEM or DER) for a Chain at /1.0/sign; a Csr made by this package
    /// is not read back and verified again, bytes are. `token`: a token str or
    /// a callable for this call (default: the client's provider). `not_before`/`not_after`:
    /// UNIX seconds. `template_data`: a dict or JSON text.
    #[pyo3(signature = (csr, *, token = None, not_before = None, not_after = None, template_data = None))]
    fn sign(
        &self,
        py: Python<'_>,
        csr: &Bound<'_, PyAny>,
        token: Option<&Bound<'_, PyAny>>,
        not_before: Option<i64>,
        not_after: Option<i64>,
        template_data: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Chain> {
        let csr = csr_arg(csr, "csr")?;
        let opts = stepca::SignOptions {
            token: token_source(token)?,
            not_before,
            not_after,
            template_data: template_data
                .filter(|t| !t.is_none())
                .map(json_arg)
                .transpose()?,
        };
        let inner = &self.inner;
        let chain = py
            .detach(|| match &csr {
                CsrArg::Made(c) => inner.sign_csr(c, &opts),
                CsrArg::Bytes(b) => inner.sign(b, &opts),
            })
            .py_err()?;
        Ok(Chain { inner: chain })
    }

    /// Renews the credential's certificate (auth: "auto", "mtls" or "token"); returns the
    /// renewed Credential (same key).
    #[pyo3(signature = (credential, auth = "auto"))]
    fn renew(&self, py: Python<'_>, credential: &Credential, auth: &str) -> PyResult<Credential> {
        let auth = renew_auth(auth)?;
        let (inner, cred) = (&self.inner, &credential.inner);
        let chain = py.detach(|| inner.renew(cred, auth)).py_err()?;
        Ok(Credential {
            inner: credential.inner.with_chain(chain).py_err()?,
            key: credential.key.clone_ref(py),
        })
    }

    /// Rekeys: a certificate for `new_key` (a new Credential), authenticated over mutual
    /// TLS with `credential`. The CSR is built from the current leaf's subject and SANs
    /// unless `csr` is given.
    #[pyo3(signature = (credential, new_key, csr = None))]
    fn rekey(
        &self,
        py: Python<'_>,
        credential: &Credential,
        new_key: &PrivateKey,
        csr: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Credential> {
        let csr = match csr.filter(|c| !c.is_none()) {
            Some(c) => csr_arg(c, "csr")?,
            None => {
                let mut req = stepca::CsrRequest::new();
                let chain = credential.inner.chain();
                if let Some(cn) = chain.common_name() {
                    req.subject("CN", &cn).py_err()?;
                }
                for (kind, value) in parse::leaf_sans(chain.leaf()) {
                    req.san(kind, &value).py_err()?;
                }
                let key = new_key.inner.clone();
                CsrArg::Made(py.detach(move || req.build(&key)).py_err()?)
            }
        };
        let (inner, cred) = (&self.inner, &credential.inner);
        let chain = py
            .detach(|| match &csr {
                CsrArg::Made(c) => inner.rekey_csr(cred, c),
                CsrArg::Bytes(b) => inner.rekey(cred, b),
            })
            .py_err()?;
        let cred = stepca::Credential::new(chain, new_key.inner.clone()).py_err()?;
        Ok(Credential {
            inner: cred,
            key: Py::new(
                py,
                PrivateKey {
                    inner: new_key.inner.clone(),
                },
            )?,
        })
    }

    /// Revokes by serial (decimal, 0x hex or colon hex) with a revoke token (`token`: str or
    /// callable; default the client's provider).
    #[pyo3(signature = (serial, *, reason_code = 0, reason = None, token = None))]
    fn revoke(
        &self,
        py: Python<'_>,
        serial: &Bound<'_, PyAny>,
        reason_code: u8,
        reason: Option<String>,
        token: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let serial: String = if let Ok(s) = serial.cast::<PyString>() {
            s.extract::<String>()?
        } else {
            serial.str()?.to_string()
        };
        let opts = stepca::RevokeOptions {
            reason_code,
            reason,
            token: token_source(token)?,
        };
        let inner = &self.inner;
        py.detach(|| inner.revoke(&serial, &opts)).py_err()
    }

    /// Revokes the credential's certificate, authenticated over mutual TLS with it.
    #[pyo3(signature = (credential, *, reason_code = 0, reason = None))]
    fn revoke_certificate(
        &self,
        py: Python<'_>,
        credential: &Credential,
        reason_code: u8,
        reason: Option<String>,
    ) -> PyResult<()> {
        let opts = stepca::RevokeOptions {
            reason_code,
            reason,
            token: None,
        };
        let (inner, cred) = (&self.inner, &credential.inner);
        py.detach(|| inner.revoke_with_certificate(cred, &opts))
            .py_err()
    }

    /// GET /health; raises unless the CA says ok.
    fn health(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        py.detach(|| inner.health()).py_err()
    }

    /// The CA's version.
    fn version(&self, py: Python<'_>) -> PyResult<String> {
        let inner = &self.inner;
        py.detach(|| inner.version()).py_err()
    }

    /// The CA's roots (GET /roots), DER.
    fn ca_roots<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let inner = &self.inner;
        let roots = py.detach(|| inner.ca_roots()).py_err()?;
        Ok(roots.iter().map(|r| PyBytes::new(py, r)).collect())
    }

    fn __repr__(&self) -> String {
        format!("<stepca.Client {}>", self.inner.ca_url())
    }
}

// ---------------------------------------------------------------------------------------
// Renewer
// ---------------------------------------------------------------------------------------

/// Keeps a credential renewed on a background thread; events go to a Python callback
/// (called on that thread, with the GIL, one at a time).
#[pyclass(frozen, module = "stepca")]
struct Renewer {
    inner: Arc<stepca::Renewer>,
}

/// Every running renewer, so that `atexit` stops them before the interpreter finalizes (a
/// renewer thread must not call into a finalizing interpreter).
static RENEWERS: std::sync::Mutex<Vec<std::sync::Weak<stepca::Renewer>>> =
    std::sync::Mutex::new(Vec::new());

/// Stops every renewer still running (registered with `atexit` by the package).
#[pyfunction]
fn _stop_all_renewers(py: Python<'_>) {
    let all: Vec<_> = {
        let mut list = RENEWERS.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *list)
    };
    py.detach(|| {
        for r in all.iter().filter_map(std::sync::Weak::upgrade) {
            r.stop();
        }
    });
}

fn event_dict<'py>(py: Python<'py>, ev: &stepca::RenewerEvent<'_>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match ev {
        stepca::RenewerEvent::Scheduled { at } => {
            d.set_item("kind", "scheduled")?;
            d.set_item("at", unix(*at))?;
        }
        stepca::RenewerEvent::Renewed {
            credential,
            rekeyed,
        } => {
            d.set_item("kind", "renewed")?;
            d.set_item("rekeyed", *rekeyed)?;
            d.set_item("credential", credential_py(py, (*credential).clone())?)?;
        }
        stepca::RenewerEvent::Failed {
            error,
            attempt,
            retry_at,
        } => {
            d.set_item("kind", "failed")?;
            d.set_item("error", error_value(py, error))?;
            d.set_item("attempt", *attempt)?;
            d.set_item("retry_at", unix(*retry_at))?;
        }
        stepca::RenewerEvent::WriteFailed {
            error,
            credential,
            attempt,
            retry_at,
        } => {
            d.set_item("kind", "write_failed")?;
            d.set_item("error", error_value(py, error))?;
            d.set_item("credential", credential_py(py, (*credential).clone())?)?;
            d.set_item("attempt", *attempt)?;
            d.set_item("retry_at", unix(*retry_at))?;
        }
        _ => {
            d.set_item("kind", "other")?;
        }
    }
    Ok(d)
}

/// The exception object for a core error seen in an event (not raised).
fn error_value(py: Python<'_>, e: &stepca::Error) -> Py<PyAny> {
    let copy = stepca::Error::new(e.kind(), e.message());
    let err = make_err(py, copy);
    let v = err.value(py);
    let _ = v.setattr("http_status", e.http_status());
    let _ = v.setattr("ca_message", e.ca_message());
    let _ = v.setattr("received", e.received());
    let _ = v.setattr("clock_skew", e.clock_skew());
    v.clone().into_any().unbind()
}

#[pymethods]
impl Renewer {
    /// Starts renewing `credential` with `client`. `on_event(event: dict)` hears of each
    /// event ("scheduled", "renewed", "failed", "write_failed"). Schedule: two thirds of
    /// the life by default, or `expires_in` / `period` seconds (step's flags).
    #[new]
    #[pyo3(signature = (client, credential, on_event = None, *, cert_file = None, key_file = None,
                        expires_in = None, period = None, auth = "auto", rekey_every = 0,
                        retry_min = 5.0, retry_max = 300.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        client: &Client,
        credential: &Credential,
        on_event: Option<Py<PyAny>>,
        cert_file: Option<std::path::PathBuf>,
        key_file: Option<std::path::PathBuf>,
        expires_in: Option<f64>,
        period: Option<f64>,
        auth: &str,
        rekey_every: u32,
        retry_min: f64,
        retry_max: f64,
    ) -> PyResult<Renewer> {
        let schedule = match (expires_in, period) {
            (Some(_), Some(_)) => {
                return Err(invalid("expires_in", "give expires_in or period, not both"));
            }
            (Some(e), None) => stepca::Schedule::ExpiresIn(secs(e, "expires_in")?),
            (None, Some(p)) => stepca::Schedule::Period(secs(p, "period")?),
            (None, None) => stepca::Schedule::TwoThirds,
        };
        let options = stepca::RenewerOptions {
            schedule,
            auth: renew_auth(auth)?,
            rekey_every,
            new_key: None,
            cert_file,
            key_file,
            retry_min: secs(retry_min, "retry_min")?,
            retry_max: secs(retry_max, "retry_max")?,
        };
        let callback = move |ev: &stepca::RenewerEvent<'_>| {
            let Some(cb) = on_event.as_ref() else {
                return;
            };
            Python::attach(|py| {
                let result = event_dict(py, ev).and_then(|d| cb.bind(py).call1((d,)).map(|_| ()));
                if let Err(e) = result {
                    // Like an exception in a thread: reported, never fatal to the renewer.
                    e.write_unraisable(py, Some(cb.bind(py)));
                }
            });
        };
        let inner = stepca::Renewer::start(
            client.inner.clone(),
            credential.inner.clone(),
            options,
            callback,
        )
        .py_err()?;
        let inner = Arc::new(inner);
        let mut list = RENEWERS.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(&inner));
        Ok(Renewer { inner })
    }

    /// The current credential (the newest renewed one).
    #[getter]
    fn credential(&self, py: Python<'_>) -> PyResult<Credential> {
        credential_py(py, self.inner.credential())
    }

    /// Renews now instead of at the scheduled time.
    fn renew_now(&self) {
        self.inner.renew_now();
    }

    /// Stops the renewer and waits for its thread (a request on the wire is let finish).
    /// No event comes after it returns. Idempotent.
    fn stop(&self, py: Python<'_>) {
        let inner = &self.inner;
        py.detach(|| inner.stop());
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _a: Option<&Bound<'_, PyAny>>,
        _b: Option<&Bound<'_, PyAny>>,
        _c: Option<&Bound<'_, PyAny>>,
    ) {
        self.stop(py);
    }
}

impl Drop for Renewer {
    fn drop(&mut self) {
        // The core's Drop joins the thread, which may be waiting for the GIL in a callback.
        let inner = &self.inner;
        Python::attach(|py| py.detach(|| inner.stop()));
    }
}

// ---------------------------------------------------------------------------------------
// Module functions
// ---------------------------------------------------------------------------------------

/// Parses a certificate (PEM: the first one; or DER) into a dict.
#[pyfunction]
#[pyo3(signature = (data, include_extensions = true))]
fn parse_certificate<'py>(
    py: Python<'py>,
    data: &Bound<'_, PyAny>,
    include_extensions: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let certs = certs_from(data)?;
    parse::certificate(py, &certs[0], include_extensions)
}

/// Parses every certificate of a PEM bundle (or one DER certificate) into DER bytes.
#[pyfunction]
fn load_certificates<'py>(
    py: Python<'py>,
    data: &Bound<'_, PyAny>,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    Ok(certs_from(data)?
        .iter()
        .map(|c| PyBytes::new(py, c))
        .collect())
}

/// The SHA-256 fingerprint (hex) of a certificate, as `step certificate fingerprint`.
#[pyfunction]
fn fingerprint(data: &Bound<'_, PyAny>) -> PyResult<String> {
    let certs = certs_from(data)?;
    Ok(stepca::fingerprint(&certs[0]))
}

/// The library's version.
#[pyfunction]
fn version() -> &'static str {
    stepca::version::VERSION
}

/// The key types, signature algorithms, SAN types and features this build supports (JSON).
#[pyfunction]
fn capabilities() -> String {
    stepca::capabilities::json()
}

#[pymodule]
fn _stepca(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PrivateKey>()?;
    m.add_class::<CsrRequest>()?;
    m.add_class::<Csr>()?;
    m.add_class::<Chain>()?;
    m.add_class::<Credential>()?;
    m.add_class::<Client>()?;
    m.add_class::<Renewer>()?;
    m.add_function(wrap_pyfunction!(parse_certificate, m)?)?;
    m.add_function(wrap_pyfunction!(load_certificates, m)?)?;
    m.add_function(wrap_pyfunction!(fingerprint, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(capabilities, m)?)?;
    m.add_function(wrap_pyfunction!(_stop_all_renewers, m)?)?;
    Ok(())
}
