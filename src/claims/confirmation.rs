//! The `cnf` (confirmation) claim of RFC 7800 §3.1, as far as DPoP reads
//! it: `jkt`, the RFC 7638 thumbprint of the key a token is bound to
//! (RFC 9449 §6.1). Read in the validator's one pass over the claims and
//! kept with the token in the cache, so a DPoP request does not parse the
//! payload again to find it.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// `cnf`: a JSON object; only `jkt` is read (other confirmation methods,
/// such as mTLS's `x5t#S256`, are not this crate's to check).
#[derive(Deserialize)]
pub(crate) struct Confirmation<'a> {
    #[serde(borrow, default, deserialize_with = "crate::token::borrowed_str")]
    pub jkt: Option<Cow<'a, str>>,
}

/// The key a verified access token is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binding {
    /// No `cnf.jkt`: a bearer token.
    Unbound,
    /// The thumbprint, or `None` when `cnf.jkt` is not one (not the
    /// base64url of 32 bytes), which no proof key matches.
    Key(Option<[u8; 32]>),
}

impl Binding {
    /// The binding `cnf` states.
    pub(crate) fn of(cnf: Option<&Confirmation<'_>>) -> Binding {
        match cnf.and_then(|c| c.jkt.as_deref()) {
            None => Binding::Unbound,
            Some(jkt) => {
                let mut key = [0u8; 32];
                let decoded = URL_SAFE_NO_PAD.decode_slice(jkt.as_bytes(), &mut key);
                Binding::Key(matches!(decoded, Ok(32)).then_some(key))
            }
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
        assert_eq!(binding(r#"{"x5t#S256":"abc"}"#), Binding::Unbound);
        // Not a SHA-256 thumbprint: bound to no key any proof has.
        for odd in [r#"{"jkt":"abc"}"#, r#"{"jkt":"!!"}"#, r#"{"jkt":""}"#] {
            assert_eq!(binding(odd), Binding::Key(None), "{odd}");
            assert!(!binding(odd).is(&[0; 32]));
        }
    }
}
