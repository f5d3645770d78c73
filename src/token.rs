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

/// Decodes a base64url part into `stack` when it fits, else onto `heap`.
/// Same engine and rules as [`decode_part`].
pub(crate) fn decode_into<'b>(
    part: &str,
    stack: &'b mut [u8],
    heap: &'b mut Vec<u8>,
    what: &'static str,
) -> Result<&'b [u8], Error> {
    if base64::decoded_len_estimate(part.len()) <= stack.len() {
        let len = URL_SAFE_NO_PAD
            .decode_slice(part, stack)
            .map_err(|_| Error::MalformedToken(what))?;
        Ok(&stack[..len])
    } else {
        *heap = decode_part(part, what)?;
        Ok(heap)
    }
}

/// Decoded JOSE headers up to this size stay on the stack (providers send
/// well under 300 bytes; the largest seen carry `kid`, `x5t` and `nonce`).
const HEADER_STACK: usize = 512;

/// Where [`decode_header`] decodes to; the [`Header`] borrows from it, so
/// `kid` and `typ` are not copied.
pub(crate) struct HeaderBuf {
    stack: [u8; HEADER_STACK],
    heap: Vec<u8>,
}

impl HeaderBuf {
    pub(crate) fn new() -> Self {
        HeaderBuf {
            stack: [0; HEADER_STACK],
            heap: Vec::new(),
        }
    }
}

/// The JOSE header fields the pipeline reads. Fields that would point at a
/// key (`jku`, `x5u`, `jwk`, `x5c`) are deliberately not read: keys only ever
/// come from the configured source.
#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    typ: Option<Cow<'a, str>>,
    /// Only ever a selector among the configured keys (AD FS sends it
    /// without `kid`), never a key source.
    #[serde(borrow, default, deserialize_with = "borrowed_str")]
    x5t: Option<Cow<'a, str>>,
    crit: Option<serde::de::IgnoredAny>,
    nonce: Option<serde::de::IgnoredAny>,
}

/// A string member, borrowed unless it holds escapes. (`Cow`'s own
/// `Deserialize` always copies, `#[serde(borrow)]` notwithstanding, once
/// it sits inside an `Option`.)
pub(crate) fn borrowed_str<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Cow<'de, str>>, D::Error> {
    struct Visit;
    impl<'de> serde::de::Visitor<'de> for Visit {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_owned())))
        }
        // `null` is an absent member, as for any `Option`.
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }
    }
    d.deserialize_option(Visit)
}

/// A decoded, screened JOSE header. `kid` and `typ` borrow from the
/// decoded bytes (owned only when they contain JSON escapes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    pub alg: Algorithm,
    pub kid: Option<Cow<'a, str>>,
    pub typ: Option<Cow<'a, str>>,
    /// The certificate thumbprint the token names its key by.
    pub x5t: Option<Cow<'a, str>>,
    /// The header has a `nonce` member: a neutral fact, handed to the
    /// issuer's hints when a token is refused (a provider may sign over a
    /// hash of it that only it can verify). Never read on a valid token.
    pub nonce: bool,
}

/// Decodes (into `buf`) and screens the JOSE header: `alg` known (never
/// `none`), no `crit` (this crate implements no JWS extension, so every
/// entry is unknown).
pub(crate) fn decode_header<'b>(
    encoded: &str,
    buf: &'b mut HeaderBuf,
) -> Result<Header<'b>, Error> {
    let json = decode_into(
        encoded,
        &mut buf.stack,
        &mut buf.heap,
        "header is not base64url",
    )
    .map_err(|error| {
        // A whole `Authorization` value handed to `verify`: say so.
        match encoded.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => Error::MalformedToken(
                "the token starts with the Bearer scheme: pass only the part after it",
            ),
            _ => error,
        }
    })?;
    let raw: RawHeader<'b> = serde_json::from_slice(json).map_err(|_| {
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
        kid: raw.kid,
        typ: raw.typ,
        x5t: raw.x5t,
        nonce: raw.nonce.is_some(),
    })
}

/// RFC 7515 §4.1.9: `typ` compares case-insensitively and the
/// `application/` prefix may be left out.
pub(crate) fn typ_matches(actual: &str, expected: &str) -> bool {
    // Compared as bytes: `typ` is the sender's, and byte 12 need not be a
    // character boundary (`aaaaaaaaaaaéx`), where slicing a `str` panics.
    fn strip(s: &str) -> &[u8] {
        let bytes = s.as_bytes();
        match bytes.split_at_checked(12) {
            Some((prefix, rest))
                if !rest.is_empty() && prefix.eq_ignore_ascii_case(b"application/") =>
            {
                rest
            }
            _ => bytes,
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
    fn a_whole_authorization_value_is_named_as_such() {
        let token = format!("Bearer {}.{}.c2ln", b64("{}"), b64("{}"));
        let parts = split(&token, 8192).unwrap();
        assert!(matches!(
            decode_header(parts.header, &mut HeaderBuf::new()),
            Err(Error::MalformedToken(m)) if m.contains("Bearer scheme")
        ));
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
        let header = |h: &str| decode_header(h, &mut HeaderBuf::new()).map(|_| ());
        let mut buf = HeaderBuf::new();
        let ok =
            decode_header(&b64(r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#), &mut buf).unwrap();
        assert_eq!(ok.alg, Algorithm::RS256);
        assert_eq!(ok.kid.as_deref(), Some("k1"));
        assert!(matches!(ok.kid, Some(Cow::Borrowed(_))), "kid copied");
        assert_eq!(ok.typ.as_deref(), Some("JWT"));
        assert_eq!(ok.x5t, None);
        let mut buf = HeaderBuf::new();
        let adfs = decode_header(&b64(r#"{"alg":"RS256","x5t":"t1"}"#), &mut buf).unwrap();
        assert_eq!((adfs.kid, adfs.x5t.as_deref()), (None, Some("t1")));
        // Escapes are decoded (and then owned).
        let mut buf = HeaderBuf::new();
        let esc = decode_header(&b64(r#"{"alg":"RS256","kid":"a\/b\u0041"}"#), &mut buf).unwrap();
        assert_eq!(esc.kid.as_deref(), Some("a/bA"));
        // `null` members are absent members; other types are refused.
        let mut buf = HeaderBuf::new();
        let null =
            decode_header(&b64(r#"{"alg":"RS256","kid":null,"typ":null}"#), &mut buf).unwrap();
        assert_eq!((null.kid, null.typ), (None, None));
        for bad in [
            r#"{"alg":"RS256","kid":1}"#,
            r#"{"alg":["RS256"]}"#,
            r#"{"alg":"RS256","typ":{}}"#,
        ] {
            assert!(
                matches!(header(&b64(bad)), Err(Error::MalformedToken(m)) if m.contains("valid JOSE")),
                "{bad}"
            );
        }
        // A header larger than the stack buffer decodes from the heap alike.
        let big_kid = "k".repeat(2 * HEADER_STACK);
        let mut buf = HeaderBuf::new();
        let big = decode_header(
            &b64(&format!(r#"{{"alg":"ES256","kid":"{big_kid}"}}"#)),
            &mut buf,
        )
        .unwrap();
        assert_eq!(
            (big.alg, big.kid.as_deref()),
            (Algorithm::ES256, Some(&*big_kid))
        );
        assert!(matches!(
            header(&format!("{}!", b64(r#"{"alg":"RS256"}"#))),
            Err(Error::MalformedToken(m)) if m.contains("base64url")
        ));
        for alg in ["none", "None", "NONE", "nOnE", "rs256", "XX"] {
            let h = b64(&format!(r#"{{"alg":"{alg}"}}"#));
            assert!(
                matches!(header(&h), Err(Error::UnsupportedAlgorithm)),
                "{alg}"
            );
        }
        let crit = b64(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#);
        assert!(matches!(header(&crit), Err(Error::UnsupportedCritical)));
        let dup = b64(r#"{"alg":"RS256","alg":"none"}"#);
        assert!(header(&dup).is_err());
        assert!(header(&b64("[1,2]")).is_err());
        assert!(header(&b64(r#"{"kid":"x"}"#)).is_err());
    }

    #[test]
    fn typ_comparison() {
        assert!(typ_matches("at+jwt", "at+jwt"));
        assert!(typ_matches("application/AT+JWT", "at+jwt"));
        assert!(!typ_matches("JWT", "at+jwt"));
        // A multi-byte character across byte 12, or the prefix alone: no
        // match, and no panic.
        for typ in [
            "aaaaaaaaaaaéx",
            "aaaaaaaaaaa\u{1F600}",
            "application/",
            "applicatioé/at+jwt",
        ] {
            assert!(!typ_matches(typ, "at+jwt"), "{typ}");
            assert!(!typ_matches("at+jwt", typ), "{typ}");
        }
        assert!(typ_matches("Application/é", "é"));
    }
}
