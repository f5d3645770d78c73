//! The `cnf` (confirmation) claim of RFC 7800 §3.1, as far as DPoP reads
//! it: `jkt`, the RFC 7638 thumbprint of the key a token is bound to
//! (RFC 9449 §6.1). Read in the validator's one pass over the claims and
//! kept with the token in the cache, so a DPoP request does not parse the
//! payload again to find it.
//!
//! It reads the binding and nothing more: the proof that must match it is
//! checked in `dpop`, never here.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

/// `cnf`: a JSON object (and nothing else); `jkt` is read, and whether
/// it names other confirmation methods (mTLS's `x5t#S256`, a `jwk`, ...),
/// which this crate cannot check.
pub(crate) struct Confirmation<'a> {
    pub jkt: Option<Cow<'a, str>>,
    /// A member other than `jkt`.
    pub other: bool,
}

impl<'de: 'a, 'a> Deserialize<'de> for Confirmation<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `deserialize_map` and only `visit_map`: a derived struct would
        // take an array too (`"cnf": ["<jkt>"]`).
        d.deserialize_map(ConfirmationVisitor)
    }
}

struct ConfirmationVisitor;

impl<'de> Visitor<'de> for ConfirmationVisitor {
    type Value = Confirmation<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object (RFC 7800 section 3.1)")
    }
    #[inline]
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Confirmation<'de>, A::Error> {
        let mut cnf = Confirmation {
            jkt: None,
            other: false,
        };
        let mut seen_jkt = false;
        while let Some(name) = map.next_key_seed(super::capture::Key)? {
            if name == "jkt" {
                if seen_jkt {
                    return Err(de::Error::duplicate_field("jkt"));
                }
                seen_jkt = true;
                cnf.jkt = map.next_value::<Jkt<'de>>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
                cnf.other = true;
            }
        }
        Ok(cnf)
    }
}

/// `jkt`'s value: a string, borrowed unless it held escapes, or `null`.
struct Jkt<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Jkt<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::token::borrowed_str(d).map(Jkt)
    }
}

/// The key a verified access token is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binding {
    /// No `cnf`, or one naming no confirmation method: a bearer token.
    Unbound,
    /// `cnf.jkt`: the thumbprint, or `None` when it is not one (not the
    /// base64url of 32 bytes), which no proof key matches.
    Key(Option<[u8; 32]>),
    /// Bound by another confirmation method (a `cnf` without `jkt`).
    Other,
}

impl Binding {
    /// The binding `cnf` states.
    pub(crate) fn of(cnf: Option<&Confirmation<'_>>) -> Binding {
        let Some(cnf) = cnf else {
            return Binding::Unbound;
        };
        match cnf.jkt.as_deref() {
            Some(jkt) => {
                let mut key = [0u8; 32];
                let decoded = URL_SAFE_NO_PAD.decode_slice(jkt.as_bytes(), &mut key);
                Binding::Key(matches!(decoded, Ok(32)).then_some(key))
            }
            None if cnf.other => Binding::Other,
            None => Binding::Unbound,
        }
    }

    /// True when the token is bound to the key of thumbprint `jkt`.
    pub(crate) fn is(&self, jkt: &[u8; 32]) -> bool {
        matches!(self, Binding::Key(Some(bound)) if bound == jkt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(cnf: &str) -> Binding {
        let cnf: Option<Confirmation<'_>> = serde_json::from_str(cnf).unwrap();
        Binding::of(cnf.as_ref())
    }

    #[test]
    fn jkt_is_the_binding() {
        // RFC 9449 §6.1's example thumbprint.
        let jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
        let mut expected = [0u8; 32];
        URL_SAFE_NO_PAD.decode_slice(jkt, &mut expected).unwrap();
        let bound = binding(&format!(r#"{{"jkt":"{jkt}"}}"#));
        assert_eq!(bound, Binding::Key(Some(expected)));
        assert!(bound.is(&expected));
        assert!(!bound.is(&[0; 32]));
        assert_eq!(binding("null"), Binding::Unbound);
        assert_eq!(binding("{}"), Binding::Unbound);
        // Another confirmation method: bound, but not to a DPoP key.
        assert_eq!(binding(r#"{"x5t#S256":"abc"}"#), Binding::Other);
        assert_eq!(
            binding(&format!(r#"{{"x5t#S256":"abc","jkt":"{jkt}"}}"#)),
            Binding::Key(Some(expected))
        );
        assert_eq!(binding(r#"{"jkt":null}"#), Binding::Unbound);
        // Only an object is a `cnf`.
        for odd in [
            r#"["abc"]"#,
            "[]",
            r#""abc""#,
            "5",
            r#"{"jkt":5}"#,
            r#"{"jkt":"a","jkt":"b"}"#,
        ] {
            assert!(
                serde_json::from_str::<Option<Confirmation<'_>>>(odd).is_err(),
                "{odd}"
            );
        }
        // Not a SHA-256 thumbprint: bound to no key any proof has.
        for odd in [r#"{"jkt":"abc"}"#, r#"{"jkt":"!!"}"#, r#"{"jkt":""}"#] {
            assert_eq!(binding(odd), Binding::Key(None), "{odd}");
            assert!(!binding(odd).is(&[0; 32]));
        }
    }
}
