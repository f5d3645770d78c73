//! Just enough DER to find a public key: the SubjectPublicKeyInfo inside an
//! X.509 certificate (for `x5c`) or a PEM file, its algorithm, and RSA's
//! modulus and exponent. Signatures are checked by aws-lc-rs, never here.

/// One TLV: the tag, its contents and the whole encoding.
struct Tlv<'a> {
    tag: u8,
    contents: &'a [u8],
    whole: &'a [u8],
}

/// Reads one TLV from the front of `input`, returning it and the rest.
fn read(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let tag = *input.first()?;
    if tag & 0x1f == 0x1f {
        return None; // multi-byte tags never occur in what we read
    }
    let first = *input.get(1)? as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *input.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    if end > input.len() {
        return None;
    }
    Some((
        Tlv {
            tag,
            contents: &input[header..end],
            whole: &input[..end],
        },
        &input[end..],
    ))
}

fn expect(input: &[u8], tag: u8) -> Option<(Tlv<'_>, &[u8])> {
    let (tlv, rest) = read(input)?;
    (tlv.tag == tag).then_some((tlv, rest))
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// The public key inside a SubjectPublicKeyInfo.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SpkiKey<'a> {
    /// Modulus and exponent, big-endian without leading zeros.
    Rsa { n: &'a [u8], e: &'a [u8] },
    /// Uncompressed SEC1 point.
    P256(&'a [u8]),
    /// Uncompressed SEC1 point.
    P384(&'a [u8]),
    /// Raw 32-byte key.
    Ed25519(&'a [u8]),
}

/// Strips the sign-padding zeros of a DER INTEGER or a JWK value.
pub(crate) fn trim_zeros(mut b: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = b {
        b = rest;
    }
    b
}

/// Parses a DER SubjectPublicKeyInfo. `None` for anything malformed or of
/// an unsupported type.
pub(crate) fn parse_spki(spki: &[u8]) -> Option<SpkiKey<'_>> {
    let (outer, trailing) = expect(spki, SEQUENCE)?;
    if !trailing.is_empty() {
        return None;
    }
    let (alg_id, rest) = expect(outer.contents, SEQUENCE)?;
    let (bits, _) = expect(rest, BIT_STRING)?;
    let (&unused, key) = bits.contents.split_first()?;
    if unused != 0 {
        return None;
    }
    let (oid, params) = expect(alg_id.contents, OID)?;
    match oid.contents {
        OID_RSA => {
            let (seq, _) = expect(key, SEQUENCE)?;
            let (n, rest) = expect(seq.contents, INTEGER)?;
            let (e, _) = expect(rest, INTEGER)?;
            Some(SpkiKey::Rsa {
                n: trim_zeros(n.contents),
                e: trim_zeros(e.contents),
            })
        }
        OID_EC => {
            let (curve, _) = expect(params, OID)?;
            match curve.contents {
                OID_P256 if key.len() == 65 && key[0] == 4 => Some(SpkiKey::P256(key)),
                OID_P384 if key.len() == 97 && key[0] == 4 => Some(SpkiKey::P384(key)),
                _ => None,
            }
        }
        OID_ED25519 if key.len() == 32 => Some(SpkiKey::Ed25519(key)),
        _ => None,
    }
}

/// Finds the SubjectPublicKeyInfo (whole DER encoding) in an X.509
/// certificate.
pub(crate) fn certificate_spki(cert: &[u8]) -> Option<&[u8]> {
    let (certificate, _) = expect(cert, SEQUENCE)?;
    let (tbs, _) = expect(certificate.contents, SEQUENCE)?;
    let mut rest = tbs.contents;
    // version [0] EXPLICIT, optional
    if rest.first() == Some(&0xa0) {
        rest = read(rest)?.1;
    }
    // serialNumber, signature, issuer, validity, subject
    rest = expect(rest, INTEGER)?.1;
    for _ in 0..4 {
        rest = expect(rest, SEQUENCE)?.1;
    }
    let (spki, _) = expect(rest, SEQUENCE)?;
    Some(spki.whole)
}

/// What a PEM block held.
pub(crate) enum PemKind {
    /// `PUBLIC KEY`, or bare base64 as Keycloak's realm endpoint sends it.
    Spki(Vec<u8>),
    /// `CERTIFICATE`.
    Certificate(Vec<u8>),
}

/// Decodes the first PEM block (or bare base64 without armour).
pub(crate) fn decode_pem(text: &str) -> Result<PemKind, &'static str> {
    use base64::Engine as _;
    let text = text.trim();
    // RFC 7468 §5.2: text before the armour (`openssl x509 -text` output,
    // the Bag Attributes of a PKCS#12 export) is ignored.
    let (label, body) = if let Some(start) = text.find("-----BEGIN ") {
        let rest = &text[start + "-----BEGIN ".len()..];
        let (label, rest) = rest.split_once("-----").ok_or("broken PEM armour")?;
        let end = format!("-----END {label}-----");
        let body = rest
            .split(end.as_str())
            .next()
            .filter(|_| rest.contains(&end));
        (label, body.ok_or("PEM block is not closed")?)
    } else {
        ("PUBLIC KEY", text)
    };
    // The label first: a private key is refused before its body is read.
    let certificate = match label {
        "PUBLIC KEY" => false,
        "CERTIFICATE" => true,
        "RSA PUBLIC KEY" => {
            return Err("PKCS#1 RSA PUBLIC KEY is not supported; use a PUBLIC KEY (SPKI) PEM");
        }
        label if label.ends_with("PRIVATE KEY") => {
            return Err(
                "this PEM holds a private key; give the PUBLIC KEY PEM or the CERTIFICATE \
                 instead (a token verifier never needs the private key)",
            );
        }
        _ => return Err("unsupported PEM label; expected PUBLIC KEY or CERTIFICATE"),
    };
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| "PEM body is not base64")?;
    Ok(if certificate {
        PemKind::Certificate(der)
    } else {
        PemKind::Spki(der)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_hostile_input_never_panics() {
        let inputs: [&[u8]; 6] = [
            &[],
            &[0x30],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x80],
            &[0x30, 0x03, 0x02, 0x01],
            &[0x1f, 0x01, 0x00],
        ];
        for i in inputs {
            assert!(parse_spki(i).is_none());
            assert!(certificate_spki(i).is_none());
        }
    }

    #[test]
    fn trims_leading_zeros() {
        assert_eq!(trim_zeros(&[0, 0, 1, 0]), &[1, 0]);
        assert_eq!(trim_zeros(&[]), &[] as &[u8]);
    }

    #[test]
    fn pem_errors_are_clear() {
        assert!(decode_pem("-----BEGIN PUBLIC KEY-----\nAAAA").is_err());
        assert!(
            decode_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_err()
        );
        assert!(matches!(decode_pem("AAAA"), Ok(PemKind::Spki(_))));
    }
}
