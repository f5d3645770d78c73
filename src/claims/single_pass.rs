//! The claims parsed once: the registered claims the validator checks and
//! the caller's `C`, from one pass of `serde_json` over the payload.
//!
//! The caller's type drives the parse; the top-level object's members are
//! watched on the way, and the registered ones (the members of
//! `registered`'s table) are captured and handed to `C` as well. Anything
//! unexpected — a `C` that is not a map or a struct, a registered claim of
//! an odd shape, a duplicate, any error at all — returns `None`, and the
//! caller takes the two-pass path, whose results (and errors) are the
//! reference: this is a shortcut, never a second set of rules.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::capture::{Capture, Captured, Key, Replay};
use super::registered::{Member, Slot};
use super::serde::numeric_date;
use super::{Audience, Confirmation, Registered};

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
    Some((seen.registered, claims))
}

#[derive(Default)]
struct Seen<'de> {
    /// The top-level object was visited through the tee.
    map: bool,
    /// Registered members met so far, one bit each: a second one is a
    /// duplicate, which the derived parse refuses too.
    members: u32,
    registered: Registered<'de>,
}

// One bit of `Seen::members` per row of the table.
const _: () = assert!(Member::ALL.len() <= u32::BITS as usize);

impl<'de> Seen<'de> {
    fn record<E: de::Error>(&mut self, member: Member, value: &Captured<'de>) -> Result<(), E> {
        let bit = 1u32 << member as u32;
        if self.members & bit != 0 {
            return Err(E::custom("duplicate registered claim"));
        }
        self.members |= bit;
        // Each shape as `Registered`'s derived parse reads it; where the
        // two could differ, the parity tests say so.
        match self.registered.slot(member) {
            Slot::Text(field) => {
                *field = match value {
                    Captured::Null => None,
                    Captured::Str(s) => Some(s.clone()),
                    _ => return Err(E::custom("not a string")),
                }
            }
            Slot::Date(field) => *field = Some(numeric_date(Replay::<E>::new(value))?),
            Slot::Audience(field) => {
                *field = match value {
                    Captured::Null => None,
                    other => Some(Audience::deserialize(Replay::<E>::new(other))?),
                }
            }
            Slot::Confirmation(field) => {
                *field = match value {
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
    current: Option<Member>,
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
        self.current = Member::from_name(&key);
        let key = match &key {
            Cow::Borrowed(s) => Captured::Str(Cow::Borrowed(s)),
            Cow::Owned(s) => Captured::Str(Cow::Owned(s.clone())),
        };
        seed.deserialize(Replay::new(&key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        match self.current.take() {
            None => self.inner.next_value_seed(seed),
            Some(member) => {
                let value = self.inner.next_value_seed(Capture)?;
                self.seen.record(member, &value)?;
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

    /// Every row of the table, with values of every shape: the one pass
    /// takes exactly what the reference accepts, and agrees with it.
    #[test]
    fn one_pass_covers_every_member() {
        use crate::claims::registered::Member;
        for &member in Member::ALL {
            for sample in crate::claims::registered::tests::SAMPLES {
                let payload = format!(r#"{{"{}":{sample},"sub":"u"}}"#, member.name());
                let reference = serde_json::from_str::<Registered<'_>>(&payload).is_ok();
                assert_eq!(
                    one_pass_agrees::<serde_json::Value>(&payload),
                    reference,
                    "{payload}"
                );
            }
        }
    }
}
