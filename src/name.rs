//! Names: subject attributes (RDNs), subject alternative names and object identifiers,
//! with the validation that keeps a bad value from ever reaching step-ca.

use std::fmt;
use std::net::IpAddr;

use crate::error::{Error, Result};

/// An object identifier as its arcs, parsed from dotted form (`1.3.6.1.5.5.7.3.1`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Oid(pub(crate) Vec<u64>);

impl Oid {
    /// Parses a dotted OID, naming `field` in the error.
    pub fn parse(field: &str, s: &str) -> Result<Oid> {
        let bad = || Error::invalid(field, format!("{s:?} is not a valid dotted OID"));
        let arcs = s
            .split('.')
            .map(|a| {
                if a.is_empty()
                    || !a.bytes().all(|b| b.is_ascii_digit())
                    || (a.len() > 1 && a.starts_with('0'))
                {
                    None
                } else {
                    a.parse::<u64>().ok()
                }
            })
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(bad)?;
        if arcs.len() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] >= 40) {
            return Err(bad());
        }
        Ok(Oid(arcs))
    }

    /// The arcs.
    pub fn arcs(&self) -> &[u64] {
        &self.0
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

/// How an attribute's value is encoded in the DN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StringKind {
    Utf8,
    Printable,
    Ia5,
    Country,
}

/// Known subject attributes: short name, long name, OID, string type.
const ATTRIBUTES: &[(&str, &str, &[u64], StringKind)] = &[
    ("CN", "commonName", &[2, 5, 4, 3], StringKind::Utf8),
    ("C", "countryName", &[2, 5, 4, 6], StringKind::Country),
    ("ST", "stateOrProvinceName", &[2, 5, 4, 8], StringKind::Utf8),
    ("L", "localityName", &[2, 5, 4, 7], StringKind::Utf8),
    ("O", "organizationName", &[2, 5, 4, 10], StringKind::Utf8),
    (
        "OU",
        "organizationalUnitName",
        &[2, 5, 4, 11],
        StringKind::Utf8,
    ),
    (
        "emailAddress",
        "emailAddress",
        &[1, 2, 840, 113549, 1, 9, 1],
        StringKind::Ia5,
    ),
    (
        "serialNumber",
        "serialNumber",
        &[2, 5, 4, 5],
        StringKind::Printable,
    ),
    ("street", "streetAddress", &[2, 5, 4, 9], StringKind::Utf8),
    ("title", "title", &[2, 5, 4, 12], StringKind::Utf8),
    ("postalCode", "postalCode", &[2, 5, 4, 17], StringKind::Utf8),
    ("SN", "surname", &[2, 5, 4, 4], StringKind::Utf8),
    ("GN", "givenName", &[2, 5, 4, 42], StringKind::Utf8),
    ("initials", "initials", &[2, 5, 4, 43], StringKind::Utf8),
    (
        "generationQualifier",
        "generationQualifier",
        &[2, 5, 4, 44],
        StringKind::Utf8,
    ),
    (
        "dnQualifier",
        "dnQualifier",
        &[2, 5, 4, 46],
        StringKind::Printable,
    ),
    ("pseudonym", "pseudonym", &[2, 5, 4, 65], StringKind::Utf8),
    (
        "organizationIdentifier",
        "organizationIdentifier",
        &[2, 5, 4, 97],
        StringKind::Utf8,
    ),
    (
        "UID",
        "userId",
        &[0, 9, 2342, 19200300, 100, 1, 1],
        StringKind::Utf8,
    ),
    (
        "DC",
        "domainComponent",
        &[0, 9, 2342, 19200300, 100, 1, 25],
        StringKind::Ia5,
    ),
];

/// Upper bounds on attribute values, in characters: RFC 5280 Appendix A.1 (and X.520 for
/// the street address and postal code, which RFC 5280 does not list).
const UPPER_BOUNDS: &[(&[u64], usize, &str)] = &[
    (&[2, 5, 4, 3], 64, "ub-common-name"),
    (&[2, 5, 4, 4], 32768, "ub-name"),
    (&[2, 5, 4, 5], 64, "ub-serial-number"),
    (&[2, 5, 4, 7], 128, "ub-locality-name"),
    (&[2, 5, 4, 8], 128, "ub-state-name"),
    (&[2, 5, 4, 9], 128, "ub-street-address (X.520)"),
    (&[2, 5, 4, 10], 64, "ub-organization-name"),
    (&[2, 5, 4, 11], 64, "ub-organizational-unit-name"),
    (&[2, 5, 4, 12], 64, "ub-title"),
    (&[2, 5, 4, 17], 40, "ub-postal-code (X.520)"),
    (&[2, 5, 4, 42], 32768, "ub-name"),
    (&[2, 5, 4, 43], 32768, "ub-name"),
    (&[2, 5, 4, 44], 32768, "ub-name"),
    (&[2, 5, 4, 65], 128, "ub-pseudonym"),
    (&[1, 2, 840, 113549, 1, 9, 1], 255, "ub-emailaddress-length"),
];

/// One subject attribute: its OID, its display name and how its value is encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub(crate) oid: Oid,
    pub(crate) name: String,
    pub(crate) kind: StringKind,
}

impl Attribute {
    /// Looks up an attribute by short name (`CN`, `O`, ...), long name (`commonName`), or
    /// dotted OID. Names are matched case-insensitively.
    pub fn lookup(name: &str) -> Result<Attribute> {
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            let oid = Oid::parse("subject", name)?;
            let known = ATTRIBUTES.iter().find(|a| a.2 == oid.0.as_slice());
            return Ok(Attribute {
                name: known.map_or_else(|| oid.to_string(), |a| a.0.to_string()),
                kind: known.map_or(StringKind::Utf8, |a| a.3),
                oid,
            });
        }
        let known = ATTRIBUTES
            .iter()
            .find(|a| a.0.eq_ignore_ascii_case(name) || a.1.eq_ignore_ascii_case(name))
            .or_else(|| {
                // "E" is OpenSSL's alias for emailAddress.
                name.eq_ignore_ascii_case("E").then_some(&ATTRIBUTES[6])
            })
            .ok_or_else(|| {
                Error::invalid(
                    "subject",
                    format!("unknown attribute name {name:?} (use a dotted OID for others)"),
                )
            })?;
        Ok(Attribute {
            oid: Oid(known.2.to_vec()),
            name: known.0.to_string(),
            kind: known.3,
        })
    }

    /// Whether this is the commonName attribute.
    pub fn is_common_name(&self) -> bool {
        self.oid.0 == [2, 5, 4, 3]
    }

    /// Checks that `value` can be encoded for this attribute.
    pub(crate) fn check_value(&self, value: &str) -> Result<()> {
        let field = format!("subject.{}", self.name);
        if value.is_empty() {
            return Err(Error::invalid(&field, "value is empty"));
        }
        if value.contains('\0') {
            return Err(Error::invalid(&field, "value contains a NUL character"));
        }
        if let Some((_, max, bound)) = UPPER_BOUNDS.iter().find(|b| b.0 == self.oid.0.as_slice()) {
            let n = value.chars().count();
            if n > *max {
                return Err(Error::invalid(
                    &field,
                    format!("value is {n} characters; RFC 5280 allows at most {max} ({bound})"),
                ));
            }
        }
        match self.kind {
            StringKind::Utf8 => Ok(()),
            StringKind::Ia5 if value.is_ascii() => Ok(()),
            StringKind::Ia5 => Err(Error::invalid(&field, "value must be ASCII (IA5String)")),
            StringKind::Printable if is_printable(value) => Ok(()),
            StringKind::Printable => Err(Error::invalid(
                &field,
                "value has characters outside PrintableString (A-Z a-z 0-9 '()+,-./:=? space)",
            )),
            StringKind::Country
                if value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic()) =>
            {
                Ok(())
            }
            StringKind::Country => Err(Error::invalid(
                &field,
                format!("{value:?} is not a two-letter ISO 3166 country code"),
            )),
        }
    }
}

pub(crate) fn is_printable(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b))
}

/// The kind of a subject alternative name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SanKind {
    /// dNSName
    Dns,
    /// iPAddress (v4 or v6)
    Ip,
    /// rfc822Name
    Email,
    /// uniformResourceIdentifier
    Uri,
}

impl SanKind {
    /// The lowercase name (`dns`, `ip`, `email`, `uri`), as the Python plugin spells them.
    pub fn name(self) -> &'static str {
        match self {
            SanKind::Dns => "dns",
            SanKind::Ip => "ip",
            SanKind::Email => "email",
            SanKind::Uri => "uri",
        }
    }
}

/// A subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum San {
    /// A DNS name (wildcards allowed).
    Dns(String),
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// An email address.
    Email(String),
    /// A URI with a scheme.
    Uri(String),
}

impl San {
    /// Parses and validates `value` as a SAN of `kind`.
    pub fn new(kind: SanKind, value: &str) -> Result<San> {
        let field = format!("san.{}", kind.name());
        let bad = |why: &str| Error::invalid(&field, format!("{value:?} {why}"));
        if value.is_empty() {
            return Err(Error::invalid(&field, "value is empty"));
        }
        match kind {
            SanKind::Dns => {
                let ok = value.len() <= 253
                    && value.split('.').enumerate().all(|(i, label)| {
                        (label == "*" && i == 0)
                            || (!label.is_empty()
                                && label.len() <= 63
                                && label
                                    .bytes()
                                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
                    });
                if ok {
                    Ok(San::Dns(value.to_string()))
                } else {
                    Err(bad("is not a valid DNS name"))
                }
            }
            SanKind::Ip => value
                .parse::<IpAddr>()
                .map(San::Ip)
                .map_err(|_| bad("is not a valid IPv4 or IPv6 address")),
            SanKind::Email => {
                let ok = value.is_ascii()
                    && !value.contains(|c: char| c.is_ascii_whitespace() || c.is_ascii_control())
                    && matches!(value.rsplit_once('@'), Some((l, d)) if !l.is_empty() && !d.is_empty() && !d.contains('@'));
                if ok {
                    Ok(San::Email(value.to_string()))
                } else {
                    Err(bad("is not a valid email address"))
                }
            }
            SanKind::Uri => {
                let scheme_ok = value.split_once(':').is_some_and(|(s, rest)| {
                    !rest.is_empty()
                        && s.starts_with(|c: char| c.is_ascii_alphabetic())
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                });
                if scheme_ok
                    && value.is_ascii()
                    && !value.contains(|c: char| c.is_ascii_whitespace() || c.is_ascii_control())
                {
                    Ok(San::Uri(value.to_string()))
                } else {
                    Err(bad("is not a valid URI (scheme:rest, ASCII, no spaces)"))
                }
            }
        }
    }

    /// The kind of this SAN.
    pub fn kind(&self) -> SanKind {
        match self {
            San::Dns(_) => SanKind::Dns,
            San::Ip(_) => SanKind::Ip,
            San::Email(_) => SanKind::Email,
            San::Uri(_) => SanKind::Uri,
        }
    }
}

impl fmt::Display for San {
    /// The string form step-ca uses in a token's `sans` claim.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(s) | San::Email(s) | San::Uri(s) => f.write_str(s),
            San::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids() {
        assert_eq!(
            Oid::parse("f", "1.3.6.1.5.5.7.3.1").unwrap().0,
            vec![1, 3, 6, 1, 5, 5, 7, 3, 1]
        );
        for bad in [
            "",
            "1",
            "3.1",
            "1.40",
            "1..2",
            "1.2.",
            "a.b",
            "1.02",
            "1.2.99999999999999999999",
        ] {
            let e = Oid::parse("eku", bad).unwrap_err();
            assert!(e.message().starts_with("eku: "), "{e}");
        }
    }

    #[test]
    fn rfc5280_upper_bounds_name_the_field() {
        let cn = Attribute::lookup("CN").unwrap();
        assert!(cn.check_value(&"a".repeat(64)).is_ok());
        // Characters, not bytes: 64 two-byte characters fit.
        assert!(cn.check_value(&"é".repeat(64)).is_ok());
        let e = cn.check_value(&"a".repeat(10_000)).unwrap_err();
        assert_eq!(
            e.message(),
            "subject.CN: value is 10000 characters; RFC 5280 allows at most 64 (ub-common-name)"
        );
        for (name, max) in [
            ("O", 64),
            ("OU", 64),
            ("L", 128),
            ("ST", 128),
            ("serialNumber", 64),
            ("title", 64),
            ("emailAddress", 255),
            ("pseudonym", 128),
            ("2.5.4.3", 64),
        ] {
            let a = Attribute::lookup(name).unwrap();
            assert!(a.check_value(&"A".repeat(max)).is_ok(), "{name}");
            let e = a.check_value(&"A".repeat(max + 1)).unwrap_err();
            assert!(
                e.message().contains(&format!("at most {max}")),
                "{name}: {e}"
            );
        }
    }

    #[test]
    fn attributes_by_name_and_oid() {
        assert_eq!(Attribute::lookup("cn").unwrap().name, "CN");
        assert_eq!(
            Attribute::lookup("organizationName").unwrap().oid.0,
            vec![2, 5, 4, 10]
        );
        assert_eq!(Attribute::lookup("2.5.4.5").unwrap().name, "serialNumber");
        assert_eq!(Attribute::lookup("1.2.3.4").unwrap().name, "1.2.3.4");
        assert!(Attribute::lookup("nope").is_err());
        let c = Attribute::lookup("C").unwrap();
        assert!(c.check_value("US").is_ok());
        assert!(
            c.check_value("USA")
                .unwrap_err()
                .message()
                .starts_with("subject.C: ")
        );
    }

    #[test]
    fn sans_validate() {
        assert!(San::new(SanKind::Dns, "*.example.com").is_ok());
        assert!(San::new(SanKind::Dns, "a b").is_err());
        assert!(San::new(SanKind::Dns, "foo.*.com").is_err());
        assert_eq!(San::new(SanKind::Ip, "::1").unwrap().to_string(), "::1");
        assert!(San::new(SanKind::Ip, "300.1.1.1").is_err());
        assert!(San::new(SanKind::Email, "a@b").is_ok());
        assert!(San::new(SanKind::Email, "ab").is_err());
        assert!(San::new(SanKind::Uri, "spiffe://x/y").is_ok());
        let e = San::new(SanKind::Uri, "no-scheme").unwrap_err();
        assert!(e.message().starts_with("san.uri: "), "{e}");
    }
}
