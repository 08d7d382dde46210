//! Certificates parsed into Python dicts (x509-parser, already in the core's tree).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use stepca::SanKind;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{OidRegistry, format_oid};
use x509_parser::prelude::*;
use x509_parser::public_key::PublicKey;

fn bad() -> PyErr {
    pyo3::exceptions::PyValueError::new_err("not a valid X.509 certificate")
}

fn ip_string(b: &[u8]) -> String {
    match b.len() {
        4 => std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Short names of the usual subject attributes; others by dotted OID.
fn attr_name(oid: &x509_parser::der_parser::oid::Oid<'_>) -> String {
    let s = oid.to_id_string();
    match s.as_str() {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.5" => "serialNumber",
        "2.5.4.9" => "street",
        "2.5.4.17" => "postalCode",
        "2.5.4.12" => "title",
        "2.5.4.42" => "GN",
        "2.5.4.4" => "SN",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.2.840.113549.1.9.1" => "emailAddress",
        _ => return s,
    }
    .to_string()
}

/// RFC 4514 order (most specific first), plus a list of (name, value) in certificate order.
fn name_parts(name: &X509Name<'_>) -> (String, Vec<(String, String)>) {
    let mut pairs = Vec::new();
    for rdn in name.iter() {
        for atv in rdn.iter() {
            let value = atv
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|_| hex(atv.attr_value().data));
            pairs.push((attr_name(atv.attr_type()), value));
        }
    }
    let escape = |v: &str| {
        let mut out = String::new();
        for (i, c) in v.chars().enumerate() {
            if ",+\"\\<>;=".contains(c) || (i == 0 && (c == '#' || c == ' ')) {
                out.push('\\');
            }
            out.push(c);
        }
        out
    };
    let rfc4514 = pairs
        .iter()
        .rev()
        .map(|(k, v)| format!("{k}={}", escape(v)))
        .collect::<Vec<_>>()
        .join(",");
    (rfc4514, pairs)
}

fn eku_names(eku: &x509_parser::extensions::ExtendedKeyUsage<'_>) -> Vec<String> {
    let mut out = Vec::new();
    if eku.any {
        out.push("anyExtendedKeyUsage".to_string());
    }
    for (on, name) in [
        (eku.server_auth, "serverAuth"),
        (eku.client_auth, "clientAuth"),
        (eku.code_signing, "codeSigning"),
        (eku.email_protection, "emailProtection"),
        (eku.time_stamping, "timeStamping"),
        (eku.ocsp_signing, "OCSPSigning"),
    ] {
        if on {
            out.push(name.to_string());
        }
    }
    out.extend(eku.other.iter().map(|o| o.to_id_string()));
    out
}

fn key_usage_names(ku: &x509_parser::extensions::KeyUsage) -> Vec<&'static str> {
    [
        (ku.digital_signature(), "digital_signature"),
        (ku.non_repudiation(), "content_commitment"),
        (ku.key_encipherment(), "key_encipherment"),
        (ku.data_encipherment(), "data_encipherment"),
        (ku.key_agreement(), "key_agreement"),
        (ku.key_cert_sign(), "key_cert_sign"),
        (ku.crl_sign(), "crl_sign"),
        (ku.encipher_only(), "encipher_only"),
        (ku.decipher_only(), "decipher_only"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, n)| n)
    .collect()
}

/// The leaf's SANs as (kind, value) for a rekey CSR.
pub(crate) fn leaf_sans(der: &[u8]) -> Vec<(SanKind, String)> {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for gn in &san.value.general_names {
            match gn {
                GeneralName::DNSName(s) => out.push((SanKind::Dns, s.to_string())),
                GeneralName::IPAddress(b) => out.push((SanKind::Ip, ip_string(b))),
                GeneralName::RFC822Name(s) => out.push((SanKind::Email, s.to_string())),
                GeneralName::URI(s) => out.push((SanKind::Uri, s.to_string())),
                _ => {}
            }
        }
    }
    out
}

/// Parses one DER certificate into a dict with the fields of the swarmauri
/// `ICertService.parse_cert` convention (serial, subject, issuer, not_before, not_after,
/// sig_alg, san, eku, ...).
pub(crate) fn certificate<'py>(
    py: Python<'py>,
    der: &[u8],
    include_extensions: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let cert = match X509Certificate::from_der(der) {
        Ok(([], c)) => c,
        _ => return Err(bad()),
    };
    let d = PyDict::new(py);
    let tbs = &cert.tbs_certificate;
    d.set_item("version", tbs.version.0 + 1)?;
    let int = py.import("builtins")?.getattr("int")?;
    d.set_item("serial", int.call1((tbs.serial.to_string(),))?)?;
    d.set_item("serial_hex", tbs.serial.to_str_radix(16))?;
    let (subject, subject_attrs) = name_parts(cert.subject());
    let (issuer, issuer_attrs) = name_parts(cert.issuer());
    d.set_item("subject", subject)?;
    d.set_item("subject_attrs", subject_attrs)?;
    d.set_item("issuer", issuer)?;
    d.set_item("issuer_attrs", issuer_attrs)?;
    d.set_item("not_before", cert.validity().not_before.timestamp())?;
    d.set_item("not_after", cert.validity().not_after.timestamp())?;
    let registry = OidRegistry::default().with_crypto().with_x509();
    let sig_oid = &cert.signature_algorithm.algorithm;
    let sig_name = format_oid(sig_oid, &registry);
    d.set_item("sig_alg", sig_name)?;
    d.set_item("sig_alg_oid", sig_oid.to_id_string())?;
    let pk = PyDict::new(py);
    match tbs.subject_pki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            pk.set_item("type", "RSA")?;
            pk.set_item("bits", rsa.key_size())?;
        }
        Ok(PublicKey::EC(ec)) => {
            pk.set_item("type", "EC")?;
            let curve = tbs
                .subject_pki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| match o.to_id_string().as_str() {
                    "1.2.840.10045.3.1.7" => "P-256".to_string(),
                    "1.3.132.0.34" => "P-384".to_string(),
                    "1.3.132.0.35" => "P-521".to_string(),
                    other => other.to_string(),
                });
            pk.set_item("curve", curve)?;
            pk.set_item("bits", ec.key_size())?;
        }
        _ => {
            let oid = tbs.subject_pki.algorithm.algorithm.to_id_string();
            pk.set_item(
                "type",
                if oid == "1.3.101.112" {
                    "Ed25519"
                } else {
                    oid.as_str()
                },
            )?;
        }
    }
    d.set_item("public_key", pk)?;
    d.set_item("fingerprint_sha256", stepca::fingerprint(der))?;
    d.set_item("is_ca", cert.is_ca())?;
    if !include_extensions {
        return Ok(d);
    }
    let san = PyDict::new(py);
    let (mut dns, mut ip, mut uri, mut email, mut other) = (vec![], vec![], vec![], vec![], vec![]);
    let exts = PyList::empty(py);
    for ext in cert.extensions() {
        let e = PyDict::new(py);
        e.set_item("oid", ext.oid.to_id_string())?;
        e.set_item("name", format_oid(&ext.oid, &registry))?;
        e.set_item("critical", ext.critical)?;
        exts.append(e)?;
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(s) => {
                for gn in &s.general_names {
                    match gn {
                        GeneralName::DNSName(v) => dns.push(v.to_string()),
                        GeneralName::IPAddress(b) => ip.push(ip_string(b)),
                        GeneralName::URI(v) => uri.push(v.to_string()),
                        GeneralName::RFC822Name(v) => email.push(v.to_string()),
                        g => other.push(format!("{g:?}")),
                    }
                }
            }
            ParsedExtension::ExtendedKeyUsage(eku) => d.set_item("eku", eku_names(eku))?,
            ParsedExtension::KeyUsage(ku) => d.set_item("key_usage", key_usage_names(ku))?,
            ParsedExtension::BasicConstraints(bc) => {
                let b = PyDict::new(py);
                b.set_item("ca", bc.ca)?;
                b.set_item("path_len", bc.path_len_constraint)?;
                d.set_item("basic_constraints", b)?;
            }
            ParsedExtension::SubjectKeyIdentifier(k) => d.set_item("ski", hex(k.0))?,
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                d.set_item("aki", a.key_identifier.as_ref().map(|k| hex(k.0)))?
            }
            _ => {}
        }
    }
    san.set_item("dns", dns)?;
    san.set_item("ip", ip)?;
    san.set_item("uri", uri)?;
    san.set_item("email", email)?;
    if !other.is_empty() {
        san.set_item("other", other)?;
    }
    d.set_item("san", san)?;
    d.set_item("extensions", exts)?;
    Ok(d)
}
