//! `stepca inspect CRT`, after `step certificate inspect`: subject, issuer, SANs by type,
//! validity in RFC 3339 with the time left, serial (hex and decimal), key type with its size
//! or curve, signature algorithm, SHA-256 fingerprint, and a deterministic renew-after (two
//! thirds into the validity period, `renew --daemon`'s schedule without its random jitter).
//! `--bundle` shows every certificate of the file, leaf first; `--format json` (or the
//! global `--json`) prints JSON, whose `serial`, `not_before`, `not_after`, `renew_after`
//! (UNIX seconds), `subject` (the commonName) and `certificates` (how many the file holds)
//! keep their former meaning for scripts.
//!
//! The serial, validity, commonName and fingerprint come from the library
//! ([`CertificateChain`], [`stepca::fingerprint`]); names, SANs, the key and the signature
//! algorithm from x509-parser, the parser the library itself uses. Only the printing is
//! ours: step's attribute abbreviations and its `+` between the values of one RDN.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use stepca::CertificateChain;
use x509_parser::der_parser::asn1_rs::{Any, Tag, ToDer};
use x509_parser::prelude::{FromDer, GeneralName, SubjectPublicKeyInfo, X509Certificate, X509Name};
use x509_parser::public_key::PublicKey;

use crate::times::rfc3339_secs;
use crate::{Result, input, read};

/// How `inspect` prints.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Labelled lines, for people.
    Text,
    /// One JSON object (an array of them with --bundle).
    Json,
}

/// `stepca inspect`: step's positional CRT, or the older --cert.
#[derive(clap::Args)]
pub(crate) struct InspectArgs {
    /// The certificate file: PEM (a bundle: the first certificate, or all with --bundle) or
    /// DER.
    #[arg(value_name = "CRT", value_hint = clap::ValueHint::FilePath,
        required_unless_present = "cert", conflicts_with = "cert")]
    crt: Option<PathBuf>,
    /// The certificate file (the same as CRT).
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    cert: Option<PathBuf>,
    /// Show every certificate of the file in turn (leaf first), not only the first.
    #[arg(long)]
    bundle: bool,
    /// text or json (the default is text, or json with --json).
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
}

/// Prints the description and exits 0 (`main`'s `key: value` printing does not suit it);
/// returns only failures, which `main` reports as for any command.
pub(crate) fn run(a: &InspectArgs, json: bool) -> Result<Value> {
    let path = a
        .crt
        .as_deref()
        .or(a.cert.as_deref())
        .expect("clap requires one");
    let certs = certificates(path)?;
    let now = now();
    let shown = if a.bundle { &certs[..] } else { &certs[..1] };
    let infos = shown
        .iter()
        .enumerate()
        .map(|(i, der)| {
            Info::parse(der).ok_or_else(|| {
                input(format!(
                    "{}: certificate {}: unexpected DER structure",
                    path.display(),
                    i + 1
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let out = match a
        .format
        .unwrap_or(if json { Format::Json } else { Format::Text })
    {
        Format::Json => {
            let mut objs: Vec<Value> = infos.iter().map(|c| c.json(now)).collect();
            let v = if a.bundle {
                Value::Array(objs)
            } else {
                let mut v = objs.remove(0);
                v["certificates"] = json!(certs.len());
                v
            };
            // Compact with the global --json, like every command; pretty for --format json.
            if json {
                format!("{v}\n")
            } else {
                format!("{v:#}\n")
            }
        }
        Format::Text => {
            let mut s = String::new();
            for (i, c) in infos.iter().enumerate() {
                if a.bundle {
                    if i > 0 {
                        s.push('\n');
                    }
                    s.push_str(&format!("Certificate {} of {}:\n", i + 1, infos.len()));
                }
                s.push_str(&c.text(now));
            }
            if !a.bundle && certs.len() > 1 {
                s.push_str(&format!(
                    "\nThe file holds {} certificates; --bundle shows them all.\n",
                    certs.len()
                ));
            }
            s
        }
    };
    crate::docs::print_and_exit(out.as_bytes())
}

/// The DER certificates of a PEM file (every CERTIFICATE block) or of a DER certificate.
fn certificates(path: &Path) -> Result<Vec<Vec<u8>>> {
    let bytes = read(path)?;
    let chain = if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        CertificateChain::from_pem(&bytes)
    } else {
        CertificateChain::from_der(vec![bytes])
    };
    chain.map(|c| c.certificates().to_vec()).map_err(|e| {
        input(format!(
            "{}: not a certificate (PEM or DER): {e}",
            path.display()
        ))
    })
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// How long after notBefore a certificate counts as just issued: the library's rule in
/// `stepca::renew_after` (step-ca back-dates a minute).
const FRESH: i64 = 90;

/// When `renew --daemon` renews a certificate valid from `nb` to `na` (UNIX seconds) by
/// default, without its random jitter (which only brings it earlier, by up to a twentieth
/// of the validity period): two thirds into the validity period, except that a certificate
/// issued within the last 90 s is not due before half of what remains of it (a back-dated
/// short-lived certificate can be past two thirds at issue). The bool says whether that
/// exception applied.
fn renew_after(nb: i64, na: i64, now: i64) -> (i64, bool) {
    let at = na - (na - nb).max(0) / 3;
    let remaining = na - now;
    if remaining > 0 && now - nb <= FRESH && now + remaining / 2 > at {
        (now + remaining / 2, true)
    } else {
        (at, false)
    }
}

/// Whole seconds for people: `3d 4h`, `5h 12m`, `4m 10s`, `42s`.
fn human(secs: i64) -> String {
    let s = secs.unsigned_abs();
    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// The SANs of a certificate by type, in the certificate's order.
#[derive(Default)]
struct Sans {
    dns: Vec<String>,
    email: Vec<String>,
    ip: Vec<String>,
    uri: Vec<String>,
    /// otherName, directoryName, registeredID and the rest, as `type:value`.
    other: Vec<String>,
}

/// A public key: algorithm (as step names it: ECDSA, RSA, Ed25519), curve, size in bits.
struct KeyInfo {
    algorithm: String,
    curve: Option<String>,
    bits: Option<usize>,
}

/// What `inspect` says about one certificate.
struct Info {
    version: u64,
    serial: String,
    serial_hex: String,
    signature_oid: String,
    issuer: String,
    subject: String,
    common_name: Option<String>,
    not_before: i64,
    not_after: i64,
    key: KeyInfo,
    sans: Sans,
    fingerprint: String,
}

impl Info {
    fn parse(der: &[u8]) -> Option<Info> {
        // The library: serial, validity, commonName (it parsed the certificate already).
        let lib = CertificateChain::from_der(vec![der.to_vec()]).ok()?;
        let (not_before, not_after) = lib.validity();
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let sans = match cert.subject_alternative_name().ok()? {
            Some(ext) => sans(&ext.value.general_names),
            None => Sans::default(),
        };
        let spki = lib.leaf_public_key();
        let (_, spki) = SubjectPublicKeyInfo::from_der(&spki).ok()?;
        Some(Info {
            version: u64::from(cert.version().0) + 1,
            serial: lib.serial(),
            serial_hex: serial_hex(cert.raw_serial()),
            signature_oid: cert.signature_algorithm.algorithm.to_id_string(),
            issuer: name(cert.issuer()),
            subject: name(cert.subject()),
            common_name: lib.common_name(),
            not_before,
            not_after,
            key: key_info(&spki),
            sans,
            fingerprint: stepca::fingerprint(der),
        })
    }

    fn renew_after(&self, now: i64) -> (i64, bool) {
        renew_after(self.not_before, self.not_after, now)
    }

    fn json(&self, now: i64) -> Value {
        let (renew, _) = self.renew_after(now);
        json!({
            "version": self.version,
            "subject": self.common_name,
            "subject_dn": self.subject,
            "issuer_dn": self.issuer,
            "subject_alt_names": {
                "dns_names": self.sans.dns,
                "email_addresses": self.sans.email,
                "ip_addresses": self.sans.ip,
                "uris": self.sans.uri,
                "other": self.sans.other,
            },
            "serial": self.serial,
            "serial_hex": self.serial_hex,
            "not_before": self.not_before,
            "not_after": self.not_after,
            "renew_after": renew,
            "validity": {
                "start": rfc3339_secs(self.not_before),
                "end": rfc3339_secs(self.not_after),
                "length": self.not_after - self.not_before,
                "remaining": self.not_after - now,
                "renew_after": rfc3339_secs(renew),
            },
            "key": {
                "algorithm": self.key.algorithm,
                "curve": self.key.curve,
                "bits": self.key.bits,
            },
            "signature_algorithm": {
                "name": signature_name(&self.signature_oid),
                "oid": self.signature_oid,
            },
            "fingerprint_sha256": self.fingerprint,
        })
    }

    fn text(&self, now: i64) -> String {
        let mut lines: Vec<(&str, String)> = vec![
            ("Subject", self.subject.clone()),
            ("Issuer", self.issuer.clone()),
        ];
        let sans = [
            ("DNS", &self.sans.dns),
            ("IP", &self.sans.ip),
            ("Email", &self.sans.email),
            ("URI", &self.sans.uri),
            ("Other", &self.sans.other),
        ];
        let mut first = true;
        for (kind, values) in sans.iter().filter(|(_, v)| !v.is_empty()) {
            let label = if first { "SANs" } else { "" };
            lines.push((label, format!("{kind}: {}", values.join(", "))));
            first = false;
        }
        if first {
            lines.push(("SANs", "none".into()));
        }
        lines.push(("Serial", format!("0x{} ({})", self.serial_hex, self.serial)));
        let (nb, na) = (self.not_before, self.not_after);
        let start = if nb > now {
            format!(" (not valid yet: in {})", human(nb - now))
        } else {
            String::new()
        };
        lines.push(("Not before", format!("{}{start}", rfc3339_secs(nb))));
        let left = if na > now {
            format!("{} left", human(na - now))
        } else {
            format!("EXPIRED {} ago", human(now - na))
        };
        lines.push(("Not after", format!("{} ({left})", rfc3339_secs(na))));
        let (renew, fresh) = self.renew_after(now);
        let when = match renew - now {
            d if d > 0 => format!("in {}", human(d)),
            0 => "due now".into(),
            d => format!("overdue by {}", human(d)),
        };
        let rule = if fresh {
            "just issued, already past two thirds: half of what remains, as renew --daemon"
        } else {
            "two thirds into the validity, without renew --daemon's random jitter"
        };
        lines.push((
            "Renew after",
            format!("{} ({when}: {rule})", rfc3339_secs(renew)),
        ));
        let key = match (&self.key.curve, self.key.bits) {
            (Some(curve), _) => format!("{} {curve}", self.key.algorithm),
            (None, Some(bits)) if self.key.algorithm == "RSA" => format!("RSA {bits} bits"),
            _ => self.key.algorithm.clone(),
        };
        lines.push(("Key", key));
        lines.push(("Signature algorithm", signature_name(&self.signature_oid)));
        lines.push(("SHA-256 fingerprint", self.fingerprint.clone()));
        lines.push(("Version", self.version.to_string()));
        let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 2;
        lines
            .iter()
            .map(|(label, value)| {
                let label = if label.is_empty() {
                    String::new()
                } else {
                    format!("{label}:")
                };
                format!("{label:width$}{value}\n")
            })
            .collect()
    }
}

/// The serial's INTEGER content as hex, without the sign-padding zero byte.
fn serial_hex(bytes: &[u8]) -> String {
    let start = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    bytes[start..].iter().map(|b| format!("{b:02x}")).collect()
}

/// GeneralNames (RFC 5280 4.2.1.6) by type.
fn sans(names: &[GeneralName<'_>]) -> Sans {
    let mut s = Sans::default();
    for gn in names {
        match gn {
            GeneralName::RFC822Name(v) => s.email.push(v.to_string()),
            GeneralName::DNSName(v) => s.dns.push(v.to_string()),
            GeneralName::URI(v) => s.uri.push(v.to_string()),
            GeneralName::IPAddress(b) => s.ip.push(match *b {
                [a, b, c, d] => Ipv4Addr::new(*a, *b, *c, *d).to_string(),
                b => <[u8; 16]>::try_from(b).map_or_else(
                    |_| format!("#{}", hex(b)),
                    |a| Ipv6Addr::from(a).to_string(),
                ),
            }),
            GeneralName::OtherName(oid, _) => {
                s.other.push(format!("otherName:{}", oid.to_id_string()))
            }
            GeneralName::DirectoryName(n) => s.other.push(format!("DirName:{}", name(n))),
            GeneralName::RegisteredID(oid) => s.other.push(format!("RID:{}", oid.to_id_string())),
            GeneralName::X400Address(a) => s.other.push(format!("[3]:#{}", hex(a.data))),
            GeneralName::EDIPartyName(a) => s.other.push(format!("[5]:#{}", hex(a.data))),
            GeneralName::Invalid(tag, b) => s.other.push(format!("[{}]:#{}", tag.0, hex(b))),
        }
    }
    s
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The algorithm (as step names it), curve and size of a SubjectPublicKeyInfo.
fn key_info(spki: &SubjectPublicKeyInfo<'_>) -> KeyInfo {
    let known = |algorithm: &str, curve: Option<&str>, bits| KeyInfo {
        algorithm: algorithm.into(),
        curve: curve.map(str::to_string),
        bits,
    };
    let alg = spki.algorithm.algorithm.to_id_string();
    match (alg.as_str(), spki.parsed()) {
        ("1.2.840.10045.2.1", parsed) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            let (name, bits) = match curve.as_str() {
                "1.2.840.10045.3.1.7" => ("P-256", 256),
                "1.3.132.0.34" => ("P-384", 384),
                "1.3.132.0.35" => ("P-521", 521),
                "1.3.132.0.10" => ("secp256k1", 256),
                other => (
                    other,
                    match parsed {
                        Ok(PublicKey::EC(p)) => p.key_size(),
                        _ => 0,
                    },
                ),
            };
            known("ECDSA", Some(name), Some(bits))
        }
        (oid @ ("1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10"), parsed) => {
            let bits = match parsed {
                Ok(PublicKey::RSA(k)) => Some(k.key_size()),
                _ => None,
            };
            let name = if oid.ends_with(".10") {
                "RSA-PSS"
            } else {
                "RSA"
            };
            known(name, None, bits)
        }
        ("1.3.101.112", _) => known("Ed25519", None, Some(256)),
        ("1.3.101.113", _) => known("Ed448", None, Some(456)),
        (other, _) => known(other, None, None),
    }
}

/// A Name as step prints it (`subject_dn`): the RDNs in the certificate's order,
/// `, `-separated, the values of a multi-valued RDN joined with `+` (x509-parser's own
/// Display puts spaces around it and uses other abbreviations).
fn name(n: &X509Name<'_>) -> String {
    n.iter()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let ty = atv.attr_type().to_id_string();
                    format!("{}={}", attribute(&ty), value(atv.attr_value()))
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn attribute(oid: &str) -> String {
    match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.17" => "postalCode",
        "2.5.4.42" => "GN",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "emailAddress",
        other => other,
    }
    .to_string()
}

/// A directory string's text; other values as `#` and the hex of their DER (RFC 4514).
fn value(v: &Any<'_>) -> String {
    match v.tag() {
        Tag::Utf8String
        | Tag::NumericString
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::VisibleString => String::from_utf8_lossy(v.data).into_owned(),
        // TeletexString, read as Latin-1 as most software does
        Tag::T61String => v.data.iter().map(|&b| char::from(b)).collect(),
        Tag::BmpString => {
            let units: Vec<u16> = v
                .data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        Tag::UniversalString => v
            .data
            .chunks_exact(4)
            .map(|c| {
                char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect(),
        _ => format!("#{}", hex(&v.to_der_vec().unwrap_or_default())),
    }
}

/// A signature algorithm as Go (and so step) names it, else its OID.
fn signature_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.4" => "MD5-RSA",
        "1.2.840.113549.1.1.5" => "SHA1-RSA",
        "1.2.840.113549.1.1.11" => "SHA256-RSA",
        "1.2.840.113549.1.1.12" => "SHA384-RSA",
        "1.2.840.113549.1.1.13" => "SHA512-RSA",
        "1.2.840.113549.1.1.10" => "RSA-PSS",
        "1.2.840.10045.4.1" => "ECDSA-SHA1",
        "1.2.840.10045.4.3.2" => "ECDSA-SHA256",
        "1.2.840.10045.4.3.3" => "ECDSA-SHA384",
        "1.2.840.10045.4.3.4" => "ECDSA-SHA512",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        other => other,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renew_after_is_two_thirds_without_jitter() {
        let (nb, na) = (1_000_000, 1_000_000 + 3 * 86_400);
        assert_eq!(renew_after(nb, na, nb + 3600), (nb + 2 * 86_400, false));
        assert_eq!(renew_after(nb, na, na + 10), (nb + 2 * 86_400, false));
        // A back-dated 9 s certificate, a second after issue: half of what remains.
        let (nb, na) = (2_000_000, 2_000_069);
        assert_eq!(renew_after(nb, na, nb + 61), (nb + 61 + 4, true));
        // The same, read two minutes later: the plain rule again.
        assert_eq!(renew_after(nb, na, nb + 181), (na - 23, false));
    }

    #[test]
    fn people_read_durations() {
        assert_eq!(human(42), "42s");
        assert_eq!(human(250), "4m 10s");
        assert_eq!(human(5 * 3600 + 12 * 60 + 7), "5h 12m");
        assert_eq!(human(3 * 86_400 + 4 * 3600 + 59), "3d 4h");
        assert_eq!(human(-90), "1m 30s");
    }

    #[test]
    fn serials_drop_only_the_sign_padding() {
        assert_eq!(serial_hex(&[0x00, 0x8f, 0x01]), "8f01");
        assert_eq!(serial_hex(&[0x00]), "00");
    }

    #[test]
    fn names_keep_the_certificate_order_and_read_every_string_type() {
        // SEQUENCE { SET { C=US (PrintableString) }, SET { O=Ünï (BMPString) + CN=x (UTF8) },
        //            SET { 1.2.3=INTEGER 5 } }
        let der = [
            0x30, 0x36, //
            0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'U', b'S', //
            0x31, 0x1a, //
            0x30, 0x0d, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x1e, 0x06, 0x00, 0xdc, 0x00, b'n', 0x00,
            0xef, //
            0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x02, b'x', b'y', //
            0x31, 0x0b, 0x30, 0x09, 0x06, 0x02, 0x2a, 0x03, 0x02, 0x01, 0x05, 0x00, 0x00,
        ];
        let (rest, n) = X509Name::from_der(&der).unwrap();
        assert!(rest.is_empty());
        assert_eq!(name(&n), "C=US, O=Ünï+CN=xy, 1.2.3=#020105");
    }
}
