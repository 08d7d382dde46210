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
//! ([`CertificateChain`], [`stepca::fingerprint`]); the rest is read from the DER by the
//! small reader in [`der`], the CLI crate not depending on x509-parser itself.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use stepca::CertificateChain;

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
        let (cert, _) = der::tlv(der)?;
        let parts = der::children(cert.body)?;
        let tbs = der::children(parts.first()?.body)?;
        let (version, rest) = match tbs.first()? {
            v if v.tag == 0xa0 => (der::uint(der::tlv(v.body)?.0.body)? + 1, &tbs[1..]),
            _ => (1, &tbs[..]),
        };
        // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, then
        // the optional issuerUniqueID [1], subjectUniqueID [2] and extensions [3].
        let [serial, _, issuer, _, subject, _, optional @ ..] = rest else {
            return None;
        };
        let mut sans = Sans::default();
        if let Some(exts) = optional.iter().find(|t| t.tag == 0xa3) {
            for ext in der::children(der::tlv(exts.body)?.0.body)? {
                let fields = der::children(ext.body)?;
                if der::oid(fields.first()?.body) == "2.5.29.17" {
                    let value = fields.last()?;
                    sans = parse_sans(der::tlv(value.body)?.0.body)?;
                }
            }
        }
        let alg = der::children(parts.get(1)?.body)?;
        Some(Info {
            version,
            serial: lib.serial(),
            serial_hex: serial_hex(serial.body),
            signature_oid: der::oid(alg.first()?.body),
            issuer: der::name(issuer.body)?,
            subject: der::name(subject.body)?,
            common_name: lib.common_name(),
            not_before,
            not_after,
            key: key_info(&lib.leaf_public_key())?,
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
fn parse_sans(body: &[u8]) -> Option<Sans> {
    let mut s = Sans::default();
    for gn in der::children(body)? {
        let text = || String::from_utf8_lossy(gn.body).into_owned();
        match gn.tag {
            0x81 => s.email.push(text()),
            0x82 => s.dns.push(text()),
            0x86 => s.uri.push(text()),
            0x87 => s.ip.push(match gn.body.len() {
                4 => Ipv4Addr::from(<[u8; 4]>::try_from(gn.body).ok()?).to_string(),
                16 => Ipv6Addr::from(<[u8; 16]>::try_from(gn.body).ok()?).to_string(),
                _ => format!("#{}", hex(gn.body)),
            }),
            0xa0 => {
                let oid = der::tlv(gn.body).map(|(t, _)| der::oid(t.body));
                s.other
                    .push(format!("otherName:{}", oid.unwrap_or_default()));
            }
            0xa4 => s.other.push(format!(
                "DirName:{}",
                der::name(der::tlv(gn.body)?.0.body).unwrap_or_default()
            )),
            0x88 => s.other.push(format!("RID:{}", der::oid(gn.body))),
            t => s.other.push(format!("[{}]:#{}", t & 0x1f, hex(gn.body))),
        }
    }
    Some(s)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The algorithm, curve and size of a SubjectPublicKeyInfo.
fn key_info(spki: &[u8]) -> Option<KeyInfo> {
    let (seq, _) = der::tlv(spki)?;
    let fields = der::children(seq.body)?;
    let alg = der::children(fields.first()?.body)?;
    let key = fields.get(1)?.body.get(1..)?; // the BIT STRING's content after its unused-bits byte
    let known = |algorithm: &str, curve: Option<&str>, bits| KeyInfo {
        algorithm: algorithm.into(),
        curve: curve.map(str::to_string),
        bits,
    };
    Some(match der::oid(alg.first()?.body).as_str() {
        "1.2.840.10045.2.1" => {
            let curve = alg.get(1).map(|p| der::oid(p.body)).unwrap_or_default();
            let (name, bits) = match curve.as_str() {
                "1.2.840.10045.3.1.7" => ("P-256", 256),
                "1.3.132.0.34" => ("P-384", 384),
                "1.3.132.0.35" => ("P-521", 521),
                "1.3.132.0.10" => ("secp256k1", 256),
                other => (other, key.len().saturating_sub(1) / 2 * 8),
            };
            known("ECDSA", Some(name), Some(bits))
        }
        oid @ ("1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10") => {
            let rsa = der::children(der::tlv(key)?.0.body)?;
            let n = rsa.first()?.body;
            let n = &n[n.iter().position(|&b| b != 0).unwrap_or(n.len())..];
            let bits = n
                .first()
                .map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize);
            let name = if oid.ends_with(".10") {
                "RSA-PSS"
            } else {
                "RSA"
            };
            known(name, None, Some(bits))
        }
        "1.3.101.112" => known("Ed25519", None, Some(256)),
        "1.3.101.113" => known("Ed448", None, Some(456)),
        other => known(other, None, None),
    })
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

/// Just enough DER for the parts of a certificate the library does not expose: TLVs with
/// low tag numbers and definite lengths, OIDs, small integers, and Names as text.
mod der {
    pub(super) struct Tlv<'a> {
        pub(super) tag: u8,
        pub(super) body: &'a [u8],
        /// The whole encoding, tag and length included.
        pub(super) raw: &'a [u8],
    }

    /// The first TLV of `input`, and what follows it.
    pub(super) fn tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
        let (&tag, rest) = input.split_first()?;
        if tag & 0x1f == 0x1f {
            return None;
        }
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | usize::from(b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        let header = input.len() - rest.len();
        Some((
            Tlv {
                tag,
                body: &rest[..len],
                raw: &input[..header + len],
            },
            &rest[len..],
        ))
    }

    /// The TLVs that make up `body` (a SEQUENCE's or SET's content).
    pub(super) fn children(mut body: &[u8]) -> Option<Vec<Tlv<'_>>> {
        let mut out = Vec::new();
        while !body.is_empty() {
            let (t, rest) = tlv(body)?;
            out.push(t);
            body = rest;
        }
        Some(out)
    }

    /// A non-negative INTEGER that fits in a u64.
    pub(super) fn uint(body: &[u8]) -> Option<u64> {
        if body.is_empty() || body.len() > 9 || body[0] & 0x80 != 0 {
            return None;
        }
        Some(body.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b)))
    }

    /// An OBJECT IDENTIFIER's content in dotted form.
    pub(super) fn oid(body: &[u8]) -> String {
        let mut arcs: Vec<u128> = Vec::new();
        let mut v: u128 = 0;
        for &b in body {
            v = (v << 7) | u128::from(b & 0x7f);
            if b & 0x80 == 0 {
                arcs.push(v);
                v = 0;
            }
        }
        let Some((&first, rest)) = arcs.split_first() else {
            return String::new();
        };
        let (a, b) = match first {
            0..40 => (0, first),
            40..80 => (1, first - 40),
            _ => (2, first - 80),
        };
        [a, b]
            .iter()
            .chain(rest)
            .map(u128::to_string)
            .collect::<Vec<_>>()
            .join(".")
    }

    /// A Name as step prints it (`subject_dn`): the RDNs in the certificate's order,
    /// `, `-separated, the values of a multi-valued RDN joined with `+`.
    pub(super) fn name(body: &[u8]) -> Option<String> {
        let mut rdns = Vec::new();
        for set in children(body)? {
            let mut atvs = Vec::new();
            for atv in children(set.body)? {
                let f = children(atv.body)?;
                let (ty, value) = (f.first()?, f.get(1)?);
                atvs.push(format!("{}={}", attribute(&oid(ty.body)), string(value)));
            }
            rdns.push(atvs.join("+"));
        }
        Some(rdns.join(", "))
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
    fn string(t: &Tlv<'_>) -> String {
        match t.tag {
            // UTF8String, NumericString, PrintableString, IA5String, VisibleString
            0x0c | 0x12 | 0x13 | 0x16 | 0x1a => String::from_utf8_lossy(t.body).into_owned(),
            // TeletexString, read as Latin-1 as most software does
            0x14 => t.body.iter().map(|&b| char::from(b)).collect(),
            // BMPString
            0x1e => {
                let units: Vec<u16> = t
                    .body
                    .chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect();
                String::from_utf16_lossy(&units)
            }
            // UniversalString
            0x1c => t
                .body
                .chunks_exact(4)
                .map(|c| {
                    char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                        .unwrap_or(char::REPLACEMENT_CHARACTER)
                })
                .collect(),
            _ => format!("#{}", super::hex(t.raw)),
        }
    }
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
    fn oids_and_serials() {
        assert_eq!(
            der::oid(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
            "1.2.840.10045.2.1"
        );
        assert_eq!(der::oid(&[0x55, 0x1d, 0x11]), "2.5.29.17");
        assert_eq!(der::oid(&[0x88, 0x37, 0x01]), "2.999.1");
        assert_eq!(serial_hex(&[0x00, 0x8f, 0x01]), "8f01");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(der::uint(&[0x02]), Some(2));
    }

    #[test]
    fn names_keep_the_certificate_order_and_read_every_string_type() {
        // SEQUENCE { SET { C=US (PrintableString) }, SET { O=Ünï (BMPString) + CN=x (UTF8) } }
        let name = [
            0x30, 0x29, //
            0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'U', b'S', //
            0x31, 0x1a, //
            0x30, 0x0d, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x1e, 0x06, 0x00, 0xdc, 0x00, b'n', 0x00,
            0xef, //
            0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x02, b'x', b'y',
        ];
        let (seq, rest) = der::tlv(&name).unwrap();
        assert!(rest.is_empty());
        assert_eq!(der::name(seq.body).unwrap(), "C=US, O=Ünï+CN=xy");
    }
}
