//! The serde helpers the crate's claims types and yours share: dates
//! (`NumericDate`), claims sent as a string or as an array of strings,
//! space-separated scopes, `null` read as absent. Functions only, for
//! `#[serde(deserialize_with = …)]` and `#[serde(serialize_with = …)]`: no
//! types, and no rule of the validator (which reads `exp`, `aud`, … itself,
//! with the same readers).
//!
//! Using them, your claims type reads a token as
//! [`StandardClaims`](crate::StandardClaims) reads it: a shape one accepts,
//! the other accepts, and a shape one refuses, the other refuses.
//!
//! ```
//! use oidc_bearer::claims::serde::{
//!     null_as_default, numeric_date, numeric_date_opt, scope_list, space_separated,
//!     string_or_list,
//! };
//!
//! #[derive(serde::Deserialize, serde::Serialize)]
//! struct MyClaims {
//!     #[serde(deserialize_with = "numeric_date")]
//!     exp: i64,
//!     #[serde(default, deserialize_with = "numeric_date_opt")]
//!     auth_time: Option<i64>,
//!     #[serde(
//!         default,
//!         deserialize_with = "scope_list",
//!         serialize_with = "space_separated"
//!     )]
//!     scope: Vec<String>,
//!     #[serde(default, deserialize_with = "string_or_list")]
//!     roles: Vec<String>,
//!     #[serde(default, deserialize_with = "null_as_default")]
//!     tenant: String,
//! }
//!
//! let claims: MyClaims = serde_json::from_str(
//!     r#"{"exp":1718719921.5,"scope":"orders.read profile","roles":"admin","tenant":null}"#,
//! )
//! .unwrap();
//! assert_eq!(claims.exp, 1718719921);
//! assert_eq!(claims.auth_time, None);
//! assert_eq!(claims.scope, ["orders.read", "profile"]);
//! assert_eq!(claims.roles, ["admin"]);
//! assert_eq!(claims.tenant, "");
//! let json = serde_json::to_value(&claims).unwrap();
//! assert_eq!(json["scope"], "orders.read profile");
//! // What none of them accepts refuses the claims, rather than half reading them.
//! assert!(serde_json::from_str::<MyClaims>(r#"{"exp":"1718719921"}"#).is_err());
//! assert!(serde_json::from_str::<MyClaims>(r#"{"exp":1,"roles":[1]}"#).is_err());
//! ```
//!
//! Each is a function rather than a module of `serialize` and
//! `deserialize`, so `#[serde(with = …)]` does not apply: name the
//! direction (`deserialize_with`, `serialize_with`) instead.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;

use super::Audience;

/// Deserializes a `NumericDate` (RFC 7519 §2): seconds since the Unix
/// epoch as an integer or a float (some providers send `1718719921.5`),
/// truncated toward negative infinity. Strings, `null`, non-finite and
/// out-of-range numbers are errors. For date claims of your own claims
/// type:
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct MyClaims {
///     #[serde(deserialize_with = "oidc_bearer::claims::serde::numeric_date")]
///     auth_time: i64,
/// }
///
/// let claims: MyClaims = serde_json::from_str(r#"{"auth_time": 1718719921.5}"#).unwrap();
/// assert_eq!(claims.auth_time, 1718719921);
/// assert!(serde_json::from_str::<MyClaims>(r#"{"auth_time": "1718719921"}"#).is_err());
/// ```
///
/// Also at the crate root, as `oidc_bearer::claims::serde::numeric_date`.
pub fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(NumericDateVisitor)
}

/// [`numeric_date`] for an `Option<i64>` field: with `#[serde(default)]`,
/// an absent claim is `None`. `null` is an error, as for `exp`, `nbf` and
/// `iat` in the validator.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct MyClaims {
///     #[serde(default, deserialize_with = "oidc_bearer::claims::serde::numeric_date_opt")]
///     auth_time: Option<i64>,
/// }
///
/// let claims: MyClaims = serde_json::from_str("{}").unwrap();
/// assert_eq!(claims.auth_time, None);
/// assert!(serde_json::from_str::<MyClaims>(r#"{"auth_time": null}"#).is_err());
/// ```
pub fn numeric_date_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
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

/// `aud` as a list, read exactly as the validator reads it (a string or an
/// array of strings; `null` is an error here, where the validator reads it
/// as absent).
pub(crate) fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Audience::deserialize(d)? {
        Audience::One(a) => vec![a.into_owned()],
        Audience::Many(v) => v.into_iter().map(Cow::into_owned).collect(),
    })
}

/// `null` read as absent: the field's default. For claims some providers
/// send as `null` when empty (Keycloak's `realm_access`, for one).
///
/// ```
/// use std::collections::BTreeMap;
///
/// #[derive(serde::Deserialize)]
/// struct MyClaims {
///     #[serde(default, deserialize_with = "oidc_bearer::claims::serde::null_as_default")]
///     resource_access: BTreeMap<String, serde_json::Value>,
/// }
///
/// let claims: MyClaims = serde_json::from_str(r#"{"resource_access": null}"#).unwrap();
/// assert!(claims.resource_access.is_empty());
/// ```
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Scopes sent as a space-separated string (RFC 6749 §3.3, RFC 9068
/// §2.2.3: Entra ID, Keycloak) or as an array of strings (Okta, Duende
/// IdentityServer), one entry per scope either way. Runs of spaces make no
/// empty scope; an array entry is taken whole, spaces included, so it can
/// never grant a scope it only contains. Anything but strings is an error;
/// `null` is an empty list.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct MyClaims {
///     #[serde(default, deserialize_with = "oidc_bearer::claims::serde::scope_list")]
///     scp: Vec<String>,
/// }
///
/// let s: MyClaims = serde_json::from_str(r#"{"scp": "read  write"}"#).unwrap();
/// let a: MyClaims = serde_json::from_str(r#"{"scp": ["read", "write"]}"#).unwrap();
/// assert_eq!(s.scp, a.scp);
/// assert!(serde_json::from_str::<MyClaims>(r#"{"scp": 5}"#).is_err());
/// ```
pub fn scope_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    d.deserialize_any(StringList { split: true })
}

/// Names (roles, groups) sent as an array of strings, or one name as a
/// string. A string is one name, never split: a role or group name may
/// hold spaces, and splitting one must never make another. Anything but
/// strings is an error; `null` is an empty list.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct MyClaims {
///     #[serde(default, deserialize_with = "oidc_bearer::claims::serde::string_or_list")]
///     groups: Vec<String>,
/// }
///
/// let c: MyClaims = serde_json::from_str(r#"{"groups": "Sales EMEA"}"#).unwrap();
/// assert_eq!(c.groups, ["Sales EMEA"]);
/// ```
pub fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    d.deserialize_any(StringList { split: false })
}

/// [`scope_list`] as a set. Empty entries are dropped: `""` is no
/// `scope-token` (RFC 6749 §3.3), and a set holding it would grant a
/// requirement nobody could write.
pub(crate) fn scope_set<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<String>, D::Error> {
    Ok(scope_list(d)?
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect())
}

/// Scopes back into the form RFC 9068 gives them: one space-separated
/// string, whatever the token sent. For a `Vec<String>`, a `BTreeSet<String>`
/// or any collection whose references iterate over strings.
///
/// ```
/// use std::collections::BTreeSet;
///
/// #[derive(serde::Serialize)]
/// struct MyClaims {
///     #[serde(serialize_with = "oidc_bearer::claims::serde::space_separated")]
///     scope: BTreeSet<String>,
/// }
///
/// let claims = MyClaims { scope: ["write".to_owned(), "read".to_owned()].into() };
/// assert_eq!(serde_json::to_string(&claims).unwrap(), r#"{"scope":"read write"}"#);
/// ```
pub fn space_separated<'a, L, S>(list: &'a L, s: S) -> Result<S::Ok, S::Error>
where
    L: ?Sized,
    &'a L: IntoIterator,
    <&'a L as IntoIterator>::Item: AsRef<str>,
    S: Serializer,
{
    let mut joined = String::new();
    for (i, scope) in list.into_iter().enumerate() {
        if i > 0 {
            joined.push(' ');
        }
        joined.push_str(scope.as_ref());
    }
    s.serialize_str(&joined)
}

/// A claim sent as a string or as an array of strings, as a list.
/// `split`: a string is a space-separated list ([`scope_list`]); otherwise
/// it is one value ([`string_or_list`]).
struct StringList {
    split: bool,
}

impl<'de> Visitor<'de> for StringList {
    type Value = Vec<String>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
        Ok(if self.split {
            v.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        } else {
            vec![v.to_owned()]
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element::<String>()? {
            out.push(item);
        }
        Ok(out)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Vec<String>, E> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[derive(Debug, serde::Deserialize, serde::Serialize)]
    struct Probe {
        #[serde(
            default,
            deserialize_with = "scope_set",
            serialize_with = "space_separated"
        )]
        scope: BTreeSet<String>,
        #[serde(
            default,
            deserialize_with = "scope_list",
            serialize_with = "space_separated"
        )]
        scp: Vec<String>,
        #[serde(default, deserialize_with = "string_or_list")]
        roles: Vec<String>,
    }

    /// The set and the list read alike, errors included, and an error
    /// still points into the document.
    #[test]
    fn sets_and_lists_read_alike() {
        let p: Probe =
            serde_json::from_str(r#"{"scope":" b  a ","scp":["b","a"],"roles":"x y"}"#).unwrap();
        assert_eq!(p.scope.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(p.scp, ["b", "a"]);
        assert_eq!(p.roles, ["x y"]);
        // `""` in an array is no scope in a set; a list keeps what it was sent.
        let p: Probe = serde_json::from_str(r#"{"scope":["","a"],"scp":["","a"]}"#).unwrap();
        assert_eq!(p.scope.iter().collect::<Vec<_>>(), ["a"]);
        assert_eq!(p.scp, ["", "a"]);
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["scope"], "a");
        assert_eq!(json["scp"], " a");
        let error = serde_json::from_str::<Probe>("{\n\"roles\": 5}").unwrap_err();
        assert_eq!(error.line(), 2, "{error}");
        assert!(
            error
                .to_string()
                .contains("a string or an array of strings")
        );
    }
}
