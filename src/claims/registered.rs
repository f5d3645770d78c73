//! The registered claims the validator checks (RFC 7519 §4.1), read
//! straight from the decoded payload, and the `NumericDate` rule.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};

use super::Confirmation;

/// Deserializes a `NumericDate` (RFC 7519 §2): seconds since the Unix
/// epoch as an integer or a float (some providers send `1718719921.5`),
/// truncated toward negative infinity. Strings, non-finite and out-of-range
/// numbers are errors. For date claims of your own claims type:
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct MyClaims {
///     #[serde(deserialize_with = "oidc_bearer::numeric_date")]
///     auth_time: i64,
/// }
///
/// let claims: MyClaims = serde_json::from_str(r#"{"auth_time": 1718719921.5}"#).unwrap();
/// assert_eq!(claims.auth_time, 1718719921);
/// assert!(serde_json::from_str::<MyClaims>(r#"{"auth_time": "1718719921"}"#).is_err());
/// ```
pub fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(NumericDateVisitor)
}

pub(crate) fn numeric_date_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    numeric_date(d).map(Some)
}

struct NumericDateVisitor;

impl Visitor<'_> for NumericDateVisitor {
    type Value = i64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a NumericDate (seconds since the epoch)")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom("NumericDate out of range"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        if v.is_finite() && v.abs() < 1e17 {
            Ok(v.floor() as i64)
        } else {
            Err(E::custom("NumericDate out of range"))
        }
    }
}

pub(crate) fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Audience::deserialize(d)? {
        Audience::One(a) => vec![a.into_owned()],
        Audience::Many(v) => v.into_iter().map(Cow::into_owned).collect(),
    })
}

/// `aud`: one string or an array of strings.
pub(crate) enum Audience<'a> {
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

impl Audience<'_> {
    /// No recipient named: `""`, `[]`, or only empty strings. An empty
    /// string names no one (RFC 7519 §4.1.3: each is a recipient's
    /// identifier), so such an `aud` is no audience at all.
    pub fn names_no_one(&self) -> bool {
        match self {
            Audience::One(a) => a.is_empty(),
            Audience::Many(v) => v.iter().all(|a| a.is_empty()),
        }
    }

    pub fn contains(&self, wanted: &str) -> bool {
        match self {
            Audience::One(a) => **a == *wanted,
            Audience::Many(v) => v.iter().any(|a| **a == *wanted),
        }
    }

    pub fn contains_any(&self, wanted: &[Box<str>]) -> bool {
        match self {
            Audience::One(a) => wanted.iter().any(|w| **w == **a),
            Audience::Many(v) => v.iter().any(|a| wanted.iter().any(|w| **w == **a)),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Audience<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Audience<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Audience::One(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Audience::One(Cow::Owned(v.to_owned())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(16));
                while let Some(s) = seq.next_element::<Cow<'de, str>>()? {
                    out.push(s);
                }
                Ok(Audience::Many(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// The registered claims the validator checks, borrowed from the decoded
/// payload. Other members are skipped without being built.
#[derive(Deserialize)]
pub(crate) struct Registered<'a> {
    #[serde(borrow)]
    pub iss: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub aud: Option<Audience<'a>>,
    #[serde(default, deserialize_with = "numeric_date_opt")]
    pub exp: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date_opt")]
    pub nbf: Option<i64>,
    #[serde(default, deserialize_with = "numeric_date_opt")]
    pub iat: Option<i64>,
    #[serde(borrow)]
    pub tid: Option<Cow<'a, str>>,
    /// RFC 7800 §3.1: a JSON object (of which DPoP reads `jkt`).
    #[serde(borrow)]
    pub cnf: Option<Confirmation<'a>>,
}

/// Which registered claim made [`Registered`] fail to parse, named for the
/// error description (never with its value, which is unverified input).
/// Only called on that failure path.
pub(crate) fn wrong_type_claim(payload: &[u8]) -> &'static str {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(payload) else {
        return "claims are not valid JSON";
    };
    let bad =
        |name: &str, ok: fn(&serde_json::Value) -> bool| map.get(name).is_some_and(|v| !ok(v));
    let date = |v: &serde_json::Value| numeric_date(v).is_ok();
    let text = |v: &serde_json::Value| v.is_null() || v.is_string();
    let audience = |v: &serde_json::Value| {
        v.is_null()
            || v.is_string()
            || v.as_array()
                .is_some_and(|a| a.iter().all(serde_json::Value::is_string))
    };
    let confirmation = |v: &serde_json::Value| {
        v.is_null()
            || v.as_object()
                .is_some_and(|c| c.get("jkt").is_none_or(|j| j.is_null() || j.is_string()))
    };
    if bad("exp", date) {
        "exp is not a NumericDate"
    } else if bad("nbf", date) {
        "nbf is not a NumericDate"
    } else if bad("iat", date) {
        "iat is not a NumericDate"
    } else if bad("iss", text) {
        "iss is not a string"
    } else if bad("aud", audience) {
        "aud is not a string or an array of strings"
    } else if bad("tid", text) {
        "tid is not a string"
    } else if bad("cnf", confirmation) {
        "cnf is not a JSON object with a string jkt"
    } else {
        "a registered claim is repeated or has the wrong type"
    }
}

/// The names of the top-level members of a claims object, for the
/// required-claims check; values are skipped.
pub(crate) fn claim_names(payload: &[u8]) -> Option<Vec<Cow<'_, str>>> {
    struct Names<'a>(Vec<Cow<'a, str>>);
    impl<'de> Deserialize<'de> for Names<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Names<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Names<'de>, A::Error> {
                    let mut names = Vec::new();
                    while let Some(k) = map.next_key::<Cow<'de, str>>()? {
                        map.next_value::<IgnoredAny>()?;
                        names.push(k);
                    }
                    Ok(Names(names))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_slice::<Names<'_>>(payload)
        .ok()
        .map(|n| n.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_dates_accept_floats_and_reject_strings() {
        let r: Registered =
            serde_json::from_str(r#"{"exp":1718719921.5,"iat":1718719921}"#).unwrap();
        assert_eq!(r.exp, Some(1718719921));
        assert_eq!(r.iat, Some(1718719921));
        assert!(serde_json::from_str::<Registered>(r#"{"exp":"1718719921"}"#).is_err());
        assert!(serde_json::from_str::<Registered>(r#"{"exp":1e300}"#).is_err());
    }

    #[test]
    fn wrong_type_names_the_claim() {
        for (payload, named) in [
            (r#"{"exp":"1718719921"}"#, "exp"),
            (r#"{"exp":1,"nbf":null}"#, "nbf"),
            (r#"{"exp":1,"iat":[1]}"#, "iat"),
            (r#"{"exp":1,"iss":5}"#, "iss"),
            (r#"{"exp":1,"aud":["a",1]}"#, "aud"),
            (r#"{"exp":1,"tid":{}}"#, "tid"),
            (r#"{"exp":1,"cnf":"x"}"#, "cnf"),
            (r#"{"exp":1,"cnf":{"jkt":5}}"#, "cnf"),
            (r#"{"exp":1,"exp":2}"#, "repeated"),
        ] {
            assert!(
                serde_json::from_str::<Registered>(payload).is_err(),
                "{payload}"
            );
            let message = wrong_type_claim(payload.as_bytes());
            assert!(message.contains(named), "{payload}: {message}");
            assert!(!message.contains("1718719921"));
        }
    }

    #[test]
    fn audience_string_or_array() {
        let want: Vec<Box<str>> = vec!["api".into()];
        let r: Registered = serde_json::from_str(r#"{"aud":"api"}"#).unwrap();
        assert!(r.aud.unwrap().contains_any(&want));
        let r: Registered = serde_json::from_str(r#"{"aud":["x","api"]}"#).unwrap();
        assert!(r.aud.unwrap().contains_any(&want));
        let r: Registered = serde_json::from_str(r#"{"aud":["x"]}"#).unwrap();
        assert!(!r.aud.unwrap().contains_any(&want));
        assert!(serde_json::from_str::<Registered>(r#"{"aud":5}"#).is_err());
    }
}
