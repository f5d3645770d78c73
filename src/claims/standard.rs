//! [`StandardClaims`]: the claims most APIs need.
//!
//! A claims type like one of yours: the validator reads `exp`, `aud`, …
//! itself (`registered`), never through it.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use super::serde::{
    null_as_default, numeric_date_opt, one_or_many, scope_list, space_separated, string_or_list,
};

/// The claims most APIs need, for when you do not declare your own type.
///
/// Covers RFC 7519, RFC 9068, Entra ID and Keycloak names; everything else
/// is dropped. Declare your own `#[derive(Deserialize)]` struct for more.
///
/// ```
/// use oidc_bearer::StandardClaims;
///
/// let claims: StandardClaims = serde_json::from_str(
///     r#"{"iss":"https://login.example.com","sub":"alice","aud":"my-api","exp":1718719921.5,"scope":"orders.read profile"}"#,
/// ).unwrap();
/// assert_eq!(claims.aud, ["my-api"]);
/// assert_eq!(claims.exp, Some(1718719921));
/// assert!(claims.has_scope("orders.read"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct StandardClaims {
    /// Issuer.
    #[serde(default)]
    pub iss: String,
    /// Subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience (string or array in the token; always a list here).
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aud: Vec<String>,
    /// Expiry, seconds since the epoch.
    #[serde(
        default,
        deserialize_with = "numeric_date_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub exp: Option<i64>,
    /// Not before, seconds since the epoch.
    #[serde(
        default,
        deserialize_with = "numeric_date_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub nbf: Option<i64>,
    /// Issued at, seconds since the epoch.
    #[serde(
        default,
        deserialize_with = "numeric_date_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub iat: Option<i64>,
    /// JWT ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// OAuth client (RFC 9068).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Authorized party (Entra v2, Keycloak).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Scopes (RFC 9068 §2.2.3, Keycloak, Duende IdentityServer): sent as
    /// a space-separated string or as an array of strings; one entry per
    /// scope either way. Serialized back as a space-separated string.
    #[serde(
        default,
        deserialize_with = "scope_list",
        serialize_with = "space_separated",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub scope: Vec<String>,
    /// Scopes (Entra ID as a space-separated string, Okta as an array);
    /// as [`scope`](Self::scope).
    #[serde(
        default,
        deserialize_with = "scope_list",
        serialize_with = "space_separated",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub scp: Vec<String>,
    /// Roles (Entra ID app roles): an array, or one role as a string.
    #[serde(
        default,
        deserialize_with = "string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub roles: Vec<String>,
    /// Groups (Entra ID object ids, Keycloak group paths, Okta names): an
    /// array, or one group as a string.
    #[serde(
        default,
        deserialize_with = "string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub groups: Vec<String>,
    /// Keycloak realm roles (`realm_access.roles`): roles of the whole
    /// realm, never merged with [`resource_access`](Self::resource_access)
    /// nor with [`roles`](Self::roles).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "KeycloakAccess::is_empty"
    )]
    pub realm_access: KeycloakAccess,
    /// Keycloak client roles (`resource_access.{client}.roles`), by client
    /// id: a role `admin` of `orders-api` is not the realm role `admin`,
    /// nor the `admin` of another client.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub resource_access: BTreeMap<String, KeycloakAccess>,
    /// Tenant id (Entra ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<String>,
    /// Display name, when the provider sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Login name (Entra v2, Keycloak).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// E-mail address, when the provider sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Authentication context class reference (OpenID Connect Core §2,
    /// RFC 9470 §4): how strongly the user signed in, as the provider
    /// names it (`urn:example:mfa`, Keycloak's `"1"`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// When the user last actively authenticated, seconds since the epoch
    /// (OpenID Connect Core §2, RFC 9470 §4).
    #[serde(
        default,
        deserialize_with = "numeric_date_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub auth_time: Option<i64>,
}

impl StandardClaims {
    /// The scopes from `scope` and `scp`, whichever form the token used.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .iter()
            .chain(&self.scp)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// True when the token grants `scope` (compared exactly, RFC 6749
    /// §3.3: scopes are case-sensitive).
    pub fn has_scope(&self, scope: &str) -> bool {
        grants_scope(scope, &[&self.scope, &self.scp])
    }
}

/// THE scope rule, for every claims type that keeps its scopes in lists:
/// `wanted` is one of them, compared exactly (RFC 6749 §3.3: scopes are
/// case-sensitive), and `""` is no scope, so it is never granted. Plain
/// loops over slices, as `Grants for StandardClaims` has them for speed,
/// rather than [`StandardClaims::scopes`]'s chained, filtered iterator.
pub(crate) fn grants_scope(wanted: &str, lists: &[&[String]]) -> bool {
    !wanted.is_empty() && lists.iter().any(|list| list.iter().any(|s| s == wanted))
}

/// Keycloak's `{"roles": [...]}` object, the shape of `realm_access` and
/// of each client in `resource_access`.
///
/// ```
/// use oidc_bearer::StandardClaims;
///
/// let claims: StandardClaims = serde_json::from_str(
///     r#"{"realm_access":{"roles":["offline_access"]},
///         "resource_access":{"orders-api":{"roles":["admin"]}}}"#,
/// ).unwrap();
/// assert_eq!(claims.realm_access.roles, ["offline_access"]);
/// assert_eq!(claims.resource_access["orders-api"].roles, ["admin"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct KeycloakAccess {
    /// Role names: an array, or one role as a string.
    pub roles: Vec<String>,
}

/// Only as an object: serde's derive would also take `["admin"]` as
/// `{"roles":"admin"}`, reading a shape Keycloak never sends as roles.
impl<'de> Deserialize<'de> for KeycloakAccess {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Object {
            #[serde(default, deserialize_with = "string_or_list")]
            roles: Vec<String>,
        }
        struct ObjectOnly;
        impl<'de> Visitor<'de> for ObjectOnly {
            type Value = KeycloakAccess;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"an object {"roles": [...]}"#)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<KeycloakAccess, A::Error> {
                let object = Object::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(KeycloakAccess {
                    roles: object.roles,
                })
            }
        }
        d.deserialize_map(ObjectOnly)
    }
}

impl KeycloakAccess {
    /// True when `role` is one of [`roles`](Self::roles) (compared exactly).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_claims_scopes() {
        let c: StandardClaims =
            serde_json::from_str(r#"{"iss":"i","scope":"read  write","aud":"a","exp":5.5}"#)
                .unwrap();
        assert!(c.has_scope("write"));
        assert!(!c.has_scope(""));
        assert_eq!(c.aud, vec!["a".to_owned()]);
        assert_eq!(c.exp, Some(5));
    }

    /// Okta (`scp` array), Duende IdentityServer (`scope` array), Entra and
    /// Keycloak (space-separated strings): the same answers either way.
    #[test]
    fn string_or_array_claims_answer_alike() {
        let as_string: StandardClaims = serde_json::from_str(
            r#"{"scope":"openid read:users","scp":"User.Read","roles":"admin","groups":"g 1"}"#,
        )
        .unwrap();
        let as_array: StandardClaims = serde_json::from_str(
            r#"{"scope":["openid","read:users"],"scp":["User.Read"],"roles":["admin"],"groups":["g 1"]}"#,
        )
        .unwrap();
        assert_eq!(as_string, as_array);
        for claims in [&as_string, &as_array] {
            assert_eq!(
                claims.scopes().collect::<Vec<_>>(),
                ["openid", "read:users", "User.Read"]
            );
            assert!(claims.has_scope("read:users") && !claims.has_scope("read"));
            // A role or group string is one name, never split.
            assert_eq!(claims.roles, ["admin"]);
            assert_eq!(claims.groups, ["g 1"]);
        }
        // Serialized in the RFC 9068 form whatever came in.
        let json = serde_json::to_value(&as_array).unwrap();
        assert_eq!(json["scope"], "openid read:users");
        assert_eq!(json["roles"], serde_json::json!(["admin"]));
        // An array entry with a space stays one (invalid) scope: it grants
        // neither half.
        let odd: StandardClaims = serde_json::from_str(r#"{"scope":["read write"]}"#).unwrap();
        assert!(!odd.has_scope("read") && !odd.has_scope("write"));
        // Null is absent; non-strings refuse the claims.
        let none: StandardClaims = serde_json::from_str(r#"{"scope":null,"roles":null}"#).unwrap();
        assert!(none.scope.is_empty() && none.roles.is_empty());
        for bad in [
            r#"{"scope":5}"#,
            r#"{"scp":["a",1]}"#,
            r#"{"roles":{"a":1}}"#,
        ] {
            assert!(
                serde_json::from_str::<StandardClaims>(bad).is_err(),
                "{bad}"
            );
        }
    }

    /// Realm roles and each client's roles stay where Keycloak put them.
    #[test]
    fn keycloak_roles_kept_apart() {
        let c: StandardClaims = serde_json::from_str(
            r#"{"roles":["app"],"realm_access":{"roles":["admin","offline_access"]},
                "resource_access":{"orders-api":{"roles":["viewer"]},"account":{"roles":"manage-account"}}}"#,
        )
        .unwrap();
        assert_eq!(c.roles, ["app"]);
        assert_eq!(c.realm_access.roles, ["admin", "offline_access"]);
        assert!(c.resource_access["orders-api"].has_role("viewer"));
        assert!(!c.resource_access["orders-api"].has_role("admin"));
        assert_eq!(c.resource_access["account"].roles, ["manage-account"]);
        // Round trip keeps the shape; empty parts are left out.
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(
            json["resource_access"]["orders-api"]["roles"],
            serde_json::json!(["viewer"])
        );
        let none = serde_json::to_value(StandardClaims::default()).unwrap();
        assert!(none.get("realm_access").is_none() && none.get("resource_access").is_none());
        // Null or missing parts are empty; other shapes refuse the claims.
        let empty: StandardClaims =
            serde_json::from_str(r#"{"realm_access":null,"resource_access":{"x":{}}}"#).unwrap();
        assert!(empty.realm_access.roles.is_empty() && empty.resource_access["x"].roles.is_empty());
        for bad in [
            r#"{"realm_access":["admin"]}"#,
            r#"{"resource_access":{"x":["admin"]}}"#,
            r#"{"resource_access":{"x":{"roles":[1]}}}"#,
        ] {
            assert!(
                serde_json::from_str::<StandardClaims>(bad).is_err(),
                "{bad}"
            );
        }
    }
}
