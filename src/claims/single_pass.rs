//! The claims parsed once: the registered claims the validator checks and
//! the caller's `C`, from one pass of `serde_json` over the payload.
//!
//! The caller's type drives the parse; the top-level object's members are
//! watched on the way, and the seven registered ones (`iss`, `aud`, `exp`,
//! `nbf`, `iat`, `tid`, `cnf`) are captured and handed to `C` as well. Anything
//! unexpected — a `C` that is not a map or a struct, a registered claim of
//! an odd shape, a duplicate, any error at all — returns `None`, and the
//! caller takes the two-pass path, whose results (and errors) are the
//! reference: this is a shortcut, never a second set of rules.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::capture::{Capture, Captured, Replay};
use super::{Audience, Confirmation, Registered, numeric_date};

/// Both results of the one pass, or `None` for the two-pass path.
pub(crate) fn parse<'p, C: de::DeserializeOwned>(payload: &'p str) -> Option<(Registered<'p>, C)> {
    let mut seen = Seen::default();
    let mut de = serde_json::Deserializer::from_str(payload);
    let claims = C::deserialize(Tee {
        inner: &mut de,
        seen: &mut seen,
    })
    .ok()?;
    de.end().ok()?;
    if !seen.map {
        return None;
    }
    Some((
        Registered {
            iss: seen.iss,
            aud: seen.aud,
            exp: seen.exp,
            nbf: seen.nbf,
            iat: seen.iat,
            tid: seen.tid,
            cnf: seen.cnf,
        },
        claims,
    ))
}

#[derive(Default)]
struct Seen<'de> {
    /// The top-level object was visited through the tee.
    map: bool,
    /// Registered members met so far, one bit each: a second one is a
    /// duplicate, which the derived parse refuses too.
    members: u8,
    iss: Option<Cow<'de, str>>,
    aud: Option<Audience<'de>>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    tid: Option<Cow<'de, str>>,
    cnf: Option<Confirmation<'de>>,
}

const NAMES: [&str; 7] = ["iss", "aud", "exp", "nbf", "iat", "tid", "cnf"];

impl<'de> Seen<'de> {
    fn record<E: de::Error>(&mut self, index: usize, value: &Captured<'de>) -> Result<(), E> {
        let bit = 1u8 << index;
        if self.members & bit != 0 {
            return Err(E::custom("duplicate registered claim"));
        }
        self.members |= bit;
        let text = |value: &Captured<'de>| match value {
            Captured::Null => Ok(None),
            Captured::Str(s) => Ok(Some(s.clone())),
            _ => Err(E::custom("not a string")),
        };
        let date = |value: &Captured<'de>| numeric_date(Replay::<E>::new(value)).map(Some);
        match index {
            0 => self.iss = text(value)?,
            1 => {
                self.aud = match value {
                    Captured::Null => None,
                    other => Some(Audience::deserialize(Replay::<E>::new(other))?),
                }
            }
            2 => self.exp = date(value)?,
            3 => self.nbf = date(value)?,
            4 => self.iat = date(value)?,
            5 => self.tid = text(value)?,
            _ => {
                self.cnf = match value {
                    Captured::Null => None,
                    other => Some(Confirmation::deserialize(Replay::<E>::new(other))?),
                }
            }
        }
        Ok(())
    }
}

/// The deserializer `C` is given: `serde_json`'s, with the top-level
/// object watched.
struct Tee<'s, 'de, D> {
    inner: D,
    seen: &'s mut Seen<'de>,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Tee<'_, 'de, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_any(TeeVisitor {
            inner: visitor,
            seen: self.seen,
        })
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_map(TeeVisitor {
            inner: visitor,
            seen: self.seen,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_struct(
            name,
            fields,
            TeeVisitor {
                inner: visitor,
                seen: self.seen,
            },
        )
    }

    // Other shapes of `C` see an object where they expect something
    // else and fail, which sends the caller to the two-pass path.
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct enum identifier ignored_any
    }
}

struct TeeVisitor<'s, 'de, V> {
    inner: V,
    seen: &'s mut Seen<'de>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for TeeVisitor<'_, 'de, V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.seen.map = true;
        self.inner.visit_map(TeeMap {
            inner: map,
            seen: self.seen,
            current: None,
        })
    }
}

struct TeeMap<'s, 'de, A> {
    inner: A,
    seen: &'s mut Seen<'de>,
    /// The registered claim whose value comes next, if any.
    current: Option<usize>,
}

/// A member name, borrowed from the payload unless it held escapes.
pub(super) struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    #[inline]
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }
    #[inline]
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for TeeMap<'_, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(key) = self.inner.next_key_seed(Key)? else {
            return Ok(None);
        };
        self.current = NAMES.iter().position(|n| *n == key);
        let key = match &key {
            Cow::Borrowed(s) => Captured::Str(Cow::Borrowed(s)),
            Cow::Owned(s) => Captured::Str(Cow::Owned(s.clone())),
        };
        seed.deserialize(Replay::new(&key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        match self.current.take() {
            None => self.inner.next_value_seed(seed),
            Some(index) => {
                let value = self.inner.next_value_seed(Capture)?;
                self.seen.record(index, &value)?;
                seed.deserialize(Replay::new(&value))
            }
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use serde::de::DeserializeOwned;

    use super::*;
    use crate::claims::StandardClaims;
    use crate::error::Error;
    use crate::validator::Validator;

    type View = (
        Option<String>,
        Option<Vec<String>>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<(Option<String>, bool)>,
    );

    fn view(r: &Registered<'_>) -> View {
        use crate::claims::Audience;
        let aud = r.aud.as_ref().map(|a| match a {
            Audience::One(s) => vec![s.to_string()],
            Audience::Many(v) => v.iter().map(|s| s.to_string()).collect(),
        });
        let text = |s: &Option<std::borrow::Cow<'_, str>>| s.as_deref().map(str::to_owned);
        let cnf = r.cnf.as_ref().map(|c| (text(&c.jkt), c.other));
        (text(&r.iss), aud, r.exp, r.nbf, r.iat, text(&r.tid), cnf)
    }

    /// Whether the one pass was taken; when it was, it must agree with the
    /// two-pass reference exactly.
    fn one_pass_agrees<C>(payload: &str) -> bool
    where
        C: DeserializeOwned + PartialEq + fmt::Debug,
    {
        let Some((reg, claims)) = parse::<C>(payload) else {
            return false;
        };
        let reference: Registered<'_> = serde_json::from_str(payload)
            .unwrap_or_else(|e| panic!("one pass accepted what the reference refuses: {e}"));
        let reference_claims: C = serde_json::from_str(payload)
            .unwrap_or_else(|e| panic!("one pass built a C the reference cannot: {e}"));
        assert_eq!(view(&reg), view(&reference), "{payload}");
        assert_eq!(claims, reference_claims, "{payload}");
        true
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct FloatExp {
        exp: f64,
        aud: serde_json::Value,
        #[serde(flatten)]
        rest: std::collections::BTreeMap<String, serde_json::Value>,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Newtype(crate::claims::StandardClaims);

    #[test]
    fn one_pass_matches_the_two_pass_reference() {
        use serde_json::Value;
        let taken = [
            r#"{"iss":"https://i/","aud":"api","exp":1718719921,"nbf":1,"iat":2,"sub":"u","scope":"a b"}"#,
            r#"{"iss":"https:\/\/i\/","aud":["x","api"],"exp":1718719921.5,"tid":"t"}"#,
            r#"{"e\u0078p":5,"iss":"\u00e9","aud":[],"realm_access":{"roles":["r"]},"n":null}"#,
            r#"{"exp":-5,"iat":0,"tid":null}"#,
            r#"{}"#,
            r#"{"iss":"i","cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},"sub":"u"}"#,
            r#"{"cnf":{"x5t#S256":"a","jwk":{"kty":"EC","crv":"P-256"}},"exp":1}"#,
            r#"{"cnf":{"j\u006bt":"abc","jkt2":"x"}}"#,
            r#"{"cnf":null}"#,
        ];
        for payload in taken {
            assert!(one_pass_agrees::<StandardClaims>(payload), "{payload}");
            assert!(one_pass_agrees::<Value>(payload), "{payload}");
            assert!(
                one_pass_agrees::<std::collections::HashMap<String, Value>>(payload),
                "{payload}"
            );
        }
        // `null` registered claims are absent ones, on both paths.
        assert!(one_pass_agrees::<Value>(r#"{"aud":null,"iss":null}"#));
        assert!(one_pass_agrees::<FloatExp>(
            r#"{"exp":1718719921.5,"aud":["a"],"iss":"i","x":1}"#
        ));
        // Shapes the one pass leaves to the reference: duplicates,
        // registered claims of the wrong type, a `C` that is not a map.
        let left = [
            r#"{"exp":1,"exp":99999999999}"#,
            r#"{"exp":null}"#,
            r#"{"exp":"1718719921"}"#,
            r#"{"aud":5}"#,
            r#"{"aud":[["a"]]}"#,
            r#"{"iss":{"a":1}}"#,
            r#"{"exp":1e300}"#,
            r#"{"iat":18446744073709551615}"#,
            r#"{"exp":1} x"#,
            r#"{"cnf":"x"}"#,
            r#"{"cnf":{"jkt":5}}"#,
            r#"{"cnf":{"jkt":"a","jkt":"b"}}"#,
            r#"{"cnf":{},"cnf":{}}"#,
            r#"{"cnf":[]}"#,
            r#"{"cnf":["0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"]}"#,
            r#"{"cnf":["a","b"]}"#,
        ];
        for payload in left {
            assert!(!one_pass_agrees::<Value>(payload), "{payload}");
            assert!(
                serde_json::from_str::<Registered<'_>>(payload).is_err(),
                "{payload}"
            );
        }
        assert!(!one_pass_agrees::<Newtype>(r#"{"iss":"i","exp":1}"#));
    }

    #[tokio::test]
    async fn both_paths_verify_and_refuse_alike() {
        use aws_lc_rs::hmac;
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let secret = [7u8; 32];
        let validator = Validator::builder()
            .issuer("https://i/")
            .audience("api")
            .hmac_secret(secret)
            .token_cache_size(0)
            .build()
            .await
            .expect("validator");
        let sign = |claims: &str| {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
                URL_SAFE_NO_PAD.encode(claims)
            );
            let key = hmac::Key::new(hmac::HMAC_SHA256, &secret);
            let tag = hmac::sign(&key, input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
        };
        let good = sign(r#"{"iss":"https://i/","aud":"api","exp":99999999999,"sub":"u"}"#);
        let one = validator
            .try_verify::<crate::claims::StandardClaims>(&good)
            .expect("one pass");
        let two = validator.try_verify::<Newtype>(&good).expect("two passes");
        assert_eq!(*one, two.0.0);
        assert_eq!(one.sub.as_deref(), Some("u"));
        // A duplicate exp is refused on either path, as before.
        let dup = sign(r#"{"iss":"https://i/","aud":"api","exp":1,"exp":99999999999}"#);
        for result in [
            validator.try_verify::<serde_json::Value>(&dup).map(|_| ()),
            validator.try_verify::<Newtype>(&dup).map(|_| ()),
        ] {
            assert!(matches!(result, Err(Error::InvalidClaim(_))), "{result:?}");
        }
        let expired = sign(r#"{"iss":"https://i/","aud":"api","exp":1}"#);
        assert!(matches!(
            validator.try_verify::<serde_json::Value>(&expired),
            Err(Error::Expired)
        ));
    }
}
