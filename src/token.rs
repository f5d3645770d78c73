//! The compact JWS: splitting, size limit, base64url, JOSE header.
//!
//! Nothing here knows about keys or HTTP. Everything is checked before a
//! single byte of the token is trusted, and no input panics.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::algorithm::Algorithm;
use crate::error::Error;

/// A compact JWS split into its three parts, still encoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Compact<'a> {
    pub header: &'a str,
    pub payload: &'a str,
    pub signature: &'a str,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
}

/// Splits a compact JWS after checking its length.
///
/// The length limit is checked first so a megabyte of garbage costs one
/// comparison, not a scan. The alphabet (base64url, no padding, no
/// whitespace) is enforced when each part is decoded.
pub(crate) fn split(token: &str, max_len: usize) -> Result<Compact<'_>, Error> {
    if token.len() > max_len {
        return Err(Error::TokenTooLarge);
    }
    let Some((header, rest)) = token.split_once('.') else {
        return Err(Error::MalformedToken("expected three dot-separated parts"));
    };
    let Some((payload, signature)) = rest.split_once('.') else {
        return Err(Error::MalformedToken("expected three dot-separated parts"));
    };
    if signature.contains('.') {
        return Err(if signature.matches('.').count() == 2 {
            Error::MalformedToken("encrypted tokens (JWE) are not accepted")
        } else {
            Error::MalformedToken("expected three dot-separated parts")
        });
    }
    if header.is_empty() || payload.is_empty() {
        return Err(Error::MalformedToken("empty header or payload"));
    }
    Ok(Compact {
        header,
        payload,
        signature,
        signing_input: &token[..header.len() + 1 + payload.len()],
    })
}

/// Decodes one base64url part (no padding, canonical trailing bits).
pub(crate) fn decode_part(part: &str, what: &'static str) -> Result<Vec<u8>, Error> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Error::MalformedToken(what))
}

/// The JOSE header fields the pipeline reads. Fields that would point at a
/// key (`jku`, `x5u`, `jwk`, `x5c`) are deliberately not read: keys only ever
/// come from the configured source.
#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow)]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    typ: Option<Cow<'a, str>>,
    crit: Option<serde::de::IgnoredAny>,
}

/// A decoded, screened JOSE header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub alg: Algorithm,
    pub kid: Option<Box<str>>,
    pub typ: Option<Box<str>>,
}

/// Decodes and screens the JOSE header: `alg` known (never `none`), no
/// `crit` (this crate implements no JWS extension, so every entry is unknown).
pub(crate) fn decode_header(encoded: &str) -> Result<Header, Error> {
    let json = decode_part(encoded, "header is not base64url")?;
    let raw: RawHeader<'_> = serde_json::from_slice(&json).map_err(|_| {
        // Say which: a wrongly typed or repeated member, or not an object.
        if json.trim_ascii_start().first() == Some(&b'{') {
            Error::MalformedToken("header is not a valid JOSE header")
        } else {
            Error::MalformedToken("header is not a JSON object")
        }
    })?;
    let alg = raw.alg.ok_or(Error::MalformedToken("header has no alg"))?;
    let alg = Algorithm::from_name(&alg).ok_or(Error::UnsupportedAlgorithm)?;
    if raw.crit.is_some() {
        return Err(Error::UnsupportedCritical);
    }
    Ok(Header {
        alg,
        kid: raw.kid.map(|k| k.into()),
        typ: raw.typ.map(|t| t.into()),
    })
}

/// RFC 7515 §4.1.9: `typ` compares case-insensitively and the
/// `application/` prefix may be left out.
pub(crate) fn typ_matches(actual: &str, expected: &str) -> bool {
    fn strip(s: &str) -> &str {
        if s.len() > 12 && s[..12].eq_ignore_ascii_case("application/") {
            &s[12..]
        } else {
            s
        }
    }
    strip(actual).eq_ignore_ascii_case(strip(expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn splits_three_parts() {
        let t = format!("{}.{}.c2ln", b64("{}"), b64("{}"));
        let c = split(&t, 8192).unwrap();
        assert_eq!(c.signature, "c2ln");
        assert_eq!(c.signing_input, &t[..t.len() - 5]);
    }

    #[test]
    fn rejects_bad_shapes() {
        for t in ["", "a.b", "a.b.c.d", "a..c", ".b.c"] {
            assert!(split(t, 8192).is_err(), "{t:?} accepted");
        }
        // The alphabet is enforced by the decoder.
        for part in ["c=", "c\n", "é", "a b", "a+b", "a/b"] {
            assert!(decode_part(part, "x").is_err(), "{part:?} decoded");
        }
        assert!(matches!(
            split("a.b.c.d.e", 8192),
            Err(Error::MalformedToken(m)) if m.contains("JWE")
        ));
        assert!(matches!(split("a.b.c", 4), Err(Error::TokenTooLarge)));
    }

    #[test]
    fn header_screening() {
        let ok = decode_header(&b64(r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#)).unwrap();
        assert_eq!(ok.alg, Algorithm::RS256);
        assert_eq!(ok.kid.as_deref(), Some("k1"));
        for alg in ["none", "None", "NONE", "nOnE", "rs256", "XX"] {
            let h = b64(&format!(r#"{{"alg":"{alg}"}}"#));
            assert!(
                matches!(decode_header(&h), Err(Error::UnsupportedAlgorithm)),
                "{alg}"
            );
        }
        let crit = b64(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#);
        assert!(matches!(
            decode_header(&crit),
            Err(Error::UnsupportedCritical)
        ));
        let dup = b64(r#"{"alg":"RS256","alg":"none"}"#);
        assert!(decode_header(&dup).is_err());
        assert!(decode_header(&b64("[1,2]")).is_err());
        assert!(decode_header(&b64(r#"{"kid":"x"}"#)).is_err());
    }

    #[test]
    fn typ_comparison() {
        assert!(typ_matches("at+jwt", "at+jwt"));
        assert!(typ_matches("application/AT+JWT", "at+jwt"));
        assert!(!typ_matches("JWT", "at+jwt"));
    }
}
