//! Encodings every other module builds on: output formats and the few DER and PEM
//! primitives the library writes itself (parsing is x509-parser's).

/// Output encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// PEM text.
    Pem,
    /// Binary DER.
    Der,
}

/// DER tag-length-value.
pub(crate) fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A DER INTEGER from unsigned big-endian bytes (leading zeros trimmed, a zero added
/// where the top bit would make it negative).
pub(crate) fn der_uint(bytes: &[u8]) -> Vec<u8> {
    let trimmed = &bytes[bytes
        .iter()
        .take_while(|b| **b == 0)
        .count()
        .min(bytes.len().saturating_sub(1))..];
    let mut v = Vec::new();
    if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(trimmed);
    der_tlv(0x02, &v)
}

/// PEM text with `label` and LF line endings.
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    ::pem::encode_config(
        &::pem::Pem::new(label, der.to_vec()),
        ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_integers() {
        assert_eq!(der_tlv(0x04, &[1, 2]), [0x04, 2, 1, 2]);
        let long = der_tlv(0x04, &[0; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(der_uint(&[0, 0, 0x7f]), [0x02, 1, 0x7f]);
        assert_eq!(der_uint(&[0x80]), [0x02, 2, 0, 0x80]);
        assert_eq!(der_uint(&[0, 0]), [0x02, 1, 0]);
    }
}
