//! The registered claims the validator reads (RFC 7519 §4.1, with `tid`
//! and RFC 7800's `cnf`), listed once: the table below gives
//! [`Registered`], the member lookup of the one pass and the wrong-type
//! diagnosis. Also the time rule ([`TimeClaims::check`]) that verification
//! and the cache share. No issuer or audience rule lives here (`checks`).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};

use super::Confirmation;
use super::serde::{numeric_date, numeric_date_opt};
use crate::error::Error;

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

/// THE list of the members the validator reads. Each row is a field of
/// [`Registered`] (its serde attributes are the reference parse) and the
/// shape its value must have; the one pass (`single_pass`) and the
/// wrong-type diagnosis ([`wrong_type_claim`]) are derived from it, so a
/// new claim is one row here. The order is the order in which
/// [`wrong_type_claim`] names a bad claim: the time claims first.
macro_rules! registered_claims {
    (@wrong $name:ident Text) => {
        concat!(stringify!($name), " is not a string")
    };
    (@wrong $name:ident Date) => {
        concat!(stringify!($name), " is not a NumericDate")
    };
    (@wrong $name:ident Audience) => {
        concat!(stringify!($name), " is not a string or an array of strings")
    };
    (@wrong $name:ident Confirmation) => {
        concat!(stringify!($name), " is not a JSON object with a string jkt")
    };
    ($($(#[$attr:meta])* $name:ident: $ty:ty => $shape:ident,)*) => {
        /// The registered claims the validator checks, borrowed from the
        /// decoded payload. Other members are skipped without being built.
        #[derive(Default, Deserialize)]
        pub(crate) struct Registered<'a> {
            $($(#[$attr])* pub $name: $ty,)*
        }

        /// One member of [`Registered`], named as in the token.
        // Lower case: a variant is the claim's name as written in the
        // token, so the table needs no second spelling of it.
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Member {
            $($name,)*
        }

        impl Member {
            /// Every member, in the table's order.
            pub(crate) const ALL: &'static [Member] = &[$(Member::$name,)*];

            /// The member named `name` (exactly: the names are
            /// case-sensitive), if it is one.
            #[inline]
            pub(crate) fn from_name(name: &str) -> Option<Member> {
                match name {
                    $(stringify!($name) => Some(Member::$name),)*
                    _ => None,
                }
            }

            /// The member's name in the token.
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Member::$name => stringify!($name),)*
                }
            }

            /// The shape its value must have.
            pub(crate) fn shape(self) -> Shape {
                match self {
                    $(Member::$name => Shape::$shape,)*
                }
            }

            /// What [`wrong_type_claim`] says when its value has another
            /// shape (never the value: it is unverified input).
            fn wrong_type(self) -> &'static str {
                match self {
                    $(Member::$name => registered_claims!(@wrong $name $shape),)*
                }
            }
        }

        impl<'a> Registered<'a> {
            /// The field `member` is read into, typed by its shape.
            #[inline]
            pub(crate) fn slot(&mut self, member: Member) -> Slot<'_, 'a> {
                match member {
                    $(Member::$name => Slot::$shape(&mut self.$name),)*
                }
            }
        }
    };
}

registered_claims! {
    /// Expiry: required.
    #[serde(default, deserialize_with = "numeric_date_opt")]
    exp: Option<i64> => Date,
    /// Not before.
    #[serde(default, deserialize_with = "numeric_date_opt")]
    nbf: Option<i64> => Date,
    /// Issued at.
    #[serde(default, deserialize_with = "numeric_date_opt")]
    iat: Option<i64> => Date,
    #[serde(borrow)]
    iss: Option<Cow<'a, str>> => Text,
    #[serde(borrow)]
    aud: Option<Audience<'a>> => Audience,
    /// Entra ID's tenant, for `{tenantid}` issuers.
    #[serde(borrow)]
    tid: Option<Cow<'a, str>> => Text,
    /// RFC 7800 §3.1: a JSON object (of which DPoP reads `jkt`).
    #[serde(borrow)]
    cnf: Option<Confirmation<'a>> => Confirmation,
}

/// The shapes a registered claim's value may have. `null` is always
/// accepted as absent, except for the dates (as `numeric_date` rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A string.
    Text,
    /// A `NumericDate`.
    Date,
    /// `aud`: a string or an array of strings.
    Audience,
    /// `cnf`: an object whose `jkt`, if any, is a string.
    Confirmation,
}

impl Shape {
    /// Whether `value` has this shape, as [`Registered`]'s parse decides;
    /// only for naming the claim that failed it.
    fn accepts(self, value: &serde_json::Value) -> bool {
        use serde_json::Value;
        match self {
            Shape::Text => value.is_null() || value.is_string(),
            Shape::Date => numeric_date(value).is_ok(),
            Shape::Audience => {
                value.is_null()
                    || value.is_string()
                    || value
                        .as_array()
                        .is_some_and(|a| a.iter().all(Value::is_string))
            }
            Shape::Confirmation => {
                value.is_null()
                    || value
                        .as_object()
                        .is_some_and(|c| c.get("jkt").is_none_or(|j| j.is_null() || j.is_string()))
            }
        }
    }
}

/// A field of [`Registered`], by shape: what the one pass writes a
/// captured value into.
pub(crate) enum Slot<'r, 'a> {
    Text(&'r mut Option<Cow<'a, str>>),
    Date(&'r mut Option<i64>),
    Audience(&'r mut Option<Audience<'a>>),
    Confirmation(&'r mut Option<Confirmation<'a>>),
}

impl Registered<'_> {
    /// The time claims, for [`TimeClaims::check`]: `exp` is required.
    pub(crate) fn times(&self) -> Result<TimeClaims, Error> {
        let exp = self.exp.ok_or_else(|| Error::MissingClaim("exp".into()))?;
        Ok(TimeClaims {
            exp,
            nbf: self.nbf,
            iat: self.iat,
        })
    }
}

/// A token's `exp`, `nbf` and `iat`, and THE time rule: checked when the
/// token is verified and again on every cache hit, so a hit and a miss
/// decide alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeClaims {
    pub exp: i64,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
}

impl TimeClaims {
    /// Whether the token is valid at `now`, with `leeway` seconds of clock
    /// skew either way: not after `exp`, not before `nbf`, and not issued
    /// after `now`. Saturating, so no claim value can overflow the sums.
    #[inline]
    pub(crate) fn check(&self, now: i64, leeway: i64) -> Result<(), Error> {
        if now >= self.exp.saturating_add(leeway) {
            return Err(Error::Expired);
        }
        let skewed = now.saturating_add(leeway);
        if self.nbf.is_some_and(|nbf| skewed < nbf) {
            return Err(Error::NotYetValid);
        }
        if self.iat.is_some_and(|iat| iat > skewed) {
            return Err(Error::IssuedInFuture);
        }
        Ok(())
    }
}

/// Which registered claim made [`Registered`] fail to parse, named for the
/// error description (never with its value, which is unverified input).
/// Only called on that failure path.
pub(crate) fn wrong_type_claim(payload: &[u8]) -> &'static str {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(payload) else {
        return "claims are not valid JSON";
    };
    Member::ALL
        .iter()
        .find(|m| map.get(m.name()).is_some_and(|v| !m.shape().accepts(v)))
        .map_or(
            "a registered claim is repeated or has the wrong type",
            |m| m.wrong_type(),
        )
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
pub(super) mod tests {
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

    /// JSON values of every shape, and of none.
    pub(crate) const SAMPLES: [&str; 16] = [
        "null",
        "true",
        r#""s""#,
        r#""1718719921""#,
        "5",
        "-1",
        "5.5",
        "1e300",
        "18446744073709551615",
        "[]",
        r#"["a"]"#,
        r#"["a",1]"#,
        "{}",
        r#"{"jkt":"x"}"#,
        r#"{"jkt":null,"jwk":{}}"#,
        r#"{"jkt":5}"#,
    ];

    /// Each row's shape is the one its `Registered` field parses, so the
    /// diagnosis names exactly the claims the reference parse refuses.
    #[test]
    fn the_table_agrees_with_the_reference_parse() {
        for &member in Member::ALL {
            assert_eq!(Member::from_name(member.name()), Some(member));
            assert!(member.wrong_type().starts_with(member.name()));
            let mut reg = Registered::default();
            let slot_shape = match reg.slot(member) {
                Slot::Text(_) => Shape::Text,
                Slot::Date(_) => Shape::Date,
                Slot::Audience(_) => Shape::Audience,
                Slot::Confirmation(_) => Shape::Confirmation,
            };
            assert_eq!(slot_shape, member.shape(), "{member:?}");
            for sample in SAMPLES {
                let payload = format!(r#"{{"{}":{sample}}}"#, member.name());
                let parsed = serde_json::from_str::<Registered>(&payload).is_ok();
                let value: serde_json::Value = serde_json::from_str(sample).unwrap();
                assert_eq!(parsed, member.shape().accepts(&value), "{payload}");
                if !parsed {
                    assert_eq!(wrong_type_claim(payload.as_bytes()), member.wrong_type());
                }
            }
        }
        assert_eq!(Member::from_name("EXP"), None);
        assert_eq!(Member::from_name("sub"), None);
    }

    #[test]
    fn time_rule_with_leeway() {
        let t = |exp, nbf, iat| TimeClaims { exp, nbf, iat };
        let ok = |t: TimeClaims, now| t.check(now, 60).is_ok();
        assert!(ok(t(1000, None, None), 1059));
        assert!(matches!(
            t(1000, None, None).check(1060, 60),
            Err(Error::Expired)
        ));
        assert!(ok(t(1000, Some(500), None), 440));
        assert!(matches!(
            t(1000, Some(500), None).check(439, 60),
            Err(Error::NotYetValid)
        ));
        assert!(ok(t(1000, None, Some(500)), 440));
        assert!(matches!(
            t(1000, None, Some(500)).check(439, 60),
            Err(Error::IssuedInFuture)
        ));
        // Expiry speaks first, and no claim value overflows the sums.
        assert!(matches!(
            t(1000, Some(i64::MAX), Some(i64::MAX)).check(2000, 60),
            Err(Error::Expired)
        ));
        assert!(ok(
            t(i64::MAX, Some(i64::MIN), Some(i64::MIN)),
            i64::MAX - 1
        ));
        assert!(t(i64::MIN, None, None).check(i64::MIN, i64::MAX).is_ok());
        let reg: Registered = serde_json::from_str(r#"{"nbf":1}"#).unwrap();
        assert!(matches!(reg.times(), Err(Error::MissingClaim(m)) if m == "exp"));
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
