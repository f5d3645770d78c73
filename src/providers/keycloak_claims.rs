//! [`KeycloakClaims`]: a Keycloak access token.
//!
//! A claims type and its [`Grants`](crate::authz::Grants) answers: no
//! validation rule lives here.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::claims::KeycloakAccess;
use crate::claims::serde::{
    null_as_default, numeric_date_opt, one_or_many, scope_set, space_separated,
};
use crate::claims::{GrantKinds, Grants};

/// The claims of a Keycloak access token, as Keycloak's Server
/// Administration Guide ("Role scope mappings", "Audience support") and
/// its default client scopes (`roles`, `profile`, `email`, `basic`,
/// `acr`, `web-origins`) put them in.
///
/// - `iss` is `{base}/realms/{realm}` (`{base}/auth/realms/{realm}` before
///   Keycloak 17);
/// - `aud` is often only `"account"` (the default "audience resolve"
///   mapper), holds the API's client id once an Audience mapper adds it,
///   and is absent when nothing maps one;
/// - `azp` is the client that asked (the SPA); `scope` is one
///   space-separated string; `typ` is `"Bearer"`;
/// - realm roles are in `realm_access.roles`, each client's roles in
///   `resource_access.{client}.roles`. They are different roles even when
///   named alike, and stay apart here: a realm role `admin` is not the
///   client role `admin` of `orders-api`, nor of any other client.
///
/// [`Grants`] answers scopes, realm roles and client roles, each from its
/// own claim. App roles ([`Require::role`](crate::Require::role), Entra
/// ID's `roles` claim) are never granted: Keycloak has no such claim, and
/// answering them from realm roles would merge two kinds of role; ask
/// for a realm role with [`Require::realm_role`](crate::Require::realm_role).
///
/// ```
/// use oidc_bearer::Require;
/// use oidc_bearer::providers::KeycloakClaims;
///
/// let claims: KeycloakClaims = serde_json::from_str(r#"{
///     "exp": 1718723521, "iat": 1718719921, "jti": "onrtac:6c0bd6f4",
///     "iss": "https://auth.example.com/realms/shop",
///     "aud": ["orders-api", "account"],
///     "sub": "9d2b4a2e-3c1f-4f55-9a51-2f0c8f1b7e42", "typ": "Bearer",
///     "azp": "shop-spa", "sid": "0f6a1c2d-5e4b-4a39-8c7d-1b2e3f4a5b6c",
///     "realm_access": {"roles": ["offline_access", "uma_authorization", "admin"]},
///     "resource_access": {
///         "orders-api": {"roles": ["viewer"]},
///         "account": {"roles": ["manage-account", "view-profile"]}
///     },
///     "scope": "openid profile email orders.read",
///     "email_verified": true, "name": "Alice Example",
///     "preferred_username": "alice", "email": "alice@example.com"
/// }"#).unwrap();
///
/// assert!(claims.has_scope("orders.read"));
/// assert!(claims.has_realm_role("admin"));
/// assert!(claims.has_client_role("orders-api", "viewer"));
/// assert!(!claims.has_client_role("orders-api", "admin"), "admin is a realm role");
/// assert_eq!(claims.client_roles("account").collect::<Vec<_>>(), ["manage-account", "view-profile"]);
///
/// assert!(Require::client_role("orders-api", "viewer").is_met_by(&claims));
/// assert!(!Require::client_role("orders-api", "admin").is_met_by(&claims));
/// assert!(Require::realm_role("admin").is_met_by(&claims));
/// assert!(!Require::role("admin").is_met_by(&claims), "no app roles in Keycloak");
/// ```
///
/// The type is `#[non_exhaustive]` so claims can be added later; outside
/// this crate, build one from JSON as above, or from [`Default`] and field
/// assignment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct KeycloakClaims {
    /// Issuer: `{base}/realms/{realm}`, following the realm's frontend URL.
    #[serde(default)]
    pub iss: String,
    /// Subject: the user's id in the realm (absent from lightweight tokens,
    /// or without the `basic` client scope, Keycloak 25 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience (string or array in the token; always a list here):
    /// often `["account"]`, empty when absent.
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
    /// Not before, seconds since the epoch (rarely sent).
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
    /// Authentication context class: the realm's level of authentication
    /// (`"1"` for a password, `"0"` for an SSO cookie, or the names mapped
    /// in the realm's "ACR to LoA mapping"), for [`StepUp`](crate::StepUp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// When the user last authenticated, seconds since the epoch.
    #[serde(
        default,
        deserialize_with = "numeric_date_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub auth_time: Option<i64>,
    /// Token type in the body: `"Bearer"` for access tokens (`"ID"` and
    /// `"Refresh"` for the others Keycloak issues).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Authorized party: the client id of the app that asked for the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Keycloak session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Granted scopes, as a set. Keycloak sends one space-separated string;
    /// an array is read too. Split on single spaces and compared exactly
    /// (RFC 6749 §3.3); empty entries are dropped. Serialized back as one
    /// space-separated string, in sorted order.
    #[serde(
        default,
        deserialize_with = "scope_set",
        serialize_with = "space_separated",
        skip_serializing_if = "BTreeSet::is_empty"
    )]
    pub scope: BTreeSet<String>,
    /// Login name (`profile` scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// Full name (`profile` scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E-mail address (`email` scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether Keycloak verified [`email`](Self::email) (`email` scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Realm roles (`realm_access.roles`), never merged with
    /// [`resource_access`](Self::resource_access).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "no_roles"
    )]
    pub realm_access: KeycloakAccess,
    /// Client roles (`resource_access.{client}.roles`), by client id.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub resource_access: BTreeMap<String, KeycloakAccess>,
}

fn no_roles(access: &KeycloakAccess) -> bool {
    access.roles.is_empty()
}

impl KeycloakClaims {
    /// True when [`scope`](Self::scope) grants `scope` (exactly,
    /// case-sensitive).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.contains(scope)
    }

    /// True when the realm role `role` is in `realm_access.roles`; a client
    /// role of that name does not count.
    pub fn has_realm_role(&self, role: &str) -> bool {
        self.realm_access.has_role(role)
    }

    /// True when `role` is a role of `client` in
    /// `resource_access.{client}.roles`; a realm role, or another client's
    /// role, of that name does not count.
    pub fn has_client_role(&self, client: &str, role: &str) -> bool {
        self.resource_access
            .get(client)
            .is_some_and(|access| access.has_role(role))
    }

    /// The realm roles.
    pub fn realm_roles(&self) -> impl Iterator<Item = &str> {
        self.realm_access.roles.iter().map(String::as_str)
    }

    /// The roles of `client` (none when the token has none for it).
    pub fn client_roles<'a>(&'a self, client: &str) -> impl Iterator<Item = &'a str> + use<'a> {
        self.resource_access
            .get(client)
            .into_iter()
            .flat_map(|access| access.roles.iter().map(String::as_str))
    }
}

/// Scopes, realm roles and client roles, each from its own claim; app
/// roles are never granted (see [`KeycloakClaims`]).
impl Grants for KeycloakClaims {
    fn reads(&self) -> GrantKinds {
        GrantKinds::KEYCLOAK
    }

    fn has_scope(&self, scope: &str) -> bool {
        KeycloakClaims::has_scope(self, scope)
    }

    fn has_realm_role(&self, role: &str) -> bool {
        KeycloakClaims::has_realm_role(self, role)
    }

    fn has_client_role(&self, client: &str, role: &str) -> bool {
        KeycloakClaims::has_client_role(self, client, role)
    }

    fn acr(&self) -> Option<&str> {
        self.acr.as_deref()
    }

    fn auth_time(&self) -> Option<i64> {
        self.auth_time
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> KeycloakClaims {
        serde_json::from_str(json).unwrap()
    }

    /// An access token of Keycloak 25 for the SPA `shop-spa`, before an
    /// Audience mapper names the API: `aud` is only `account`.
    const TOKEN: &str = r#"{
        "exp": 1718723521, "iat": 1718719921, "auth_time": 1718719920,
        "jti": "onrtac:6c0bd6f4-8d2c-4c1e-9f3e-2a1b0c9d8e7f",
        "iss": "https://auth.example.com/realms/shop", "aud": "account",
        "sub": "9d2b4a2e-3c1f-4f55-9a51-2f0c8f1b7e42", "typ": "Bearer",
        "azp": "shop-spa", "sid": "0f6a1c2d-5e4b-4a39-8c7d-1b2e3f4a5b6c", "acr": "1",
        "allowed-origins": ["https://shop.example.com"],
        "realm_access": {"roles": ["default-roles-shop", "offline_access", "uma_authorization", "admin"]},
        "resource_access": {
            "orders-api": {"roles": ["viewer", "editor"]},
            "account": {"roles": ["manage-account", "manage-account-links", "view-profile"]}
        },
        "scope": "openid profile email orders.read",
        "email_verified": true, "name": "Alice Example", "preferred_username": "alice",
        "given_name": "Alice", "family_name": "Example", "email": "alice@example.com"
    }"#;

    #[test]
    fn realistic_token() {
        let c = parse(TOKEN);
        assert_eq!(c.aud, ["account"]);
        assert_eq!(c.typ.as_deref(), Some("Bearer"));
        assert_eq!(c.azp.as_deref(), Some("shop-spa"));
        assert_eq!(c.preferred_username.as_deref(), Some("alice"));
        assert_eq!(c.email_verified, Some(true));
        assert_eq!(c.exp, Some(1718723521));
        assert_eq!(
            c.scope.iter().collect::<Vec<_>>(),
            ["email", "openid", "orders.read", "profile"]
        );
        assert_eq!(
            c.realm_roles().collect::<Vec<_>>(),
            [
                "default-roles-shop",
                "offline_access",
                "uma_authorization",
                "admin"
            ]
        );
        assert_eq!(
            c.client_roles("orders-api").collect::<Vec<_>>(),
            ["viewer", "editor"]
        );
        assert_eq!(c.client_roles("billing-api").count(), 0);
        // Without an audience at all.
        assert!(parse(r#"{"azp":"shop-spa"}"#).aud.is_empty());
    }

    /// Realm and client roles of the same name never stand in for each
    /// other, nor for another client's, nor for app roles.
    #[test]
    fn realm_and_client_roles_kept_apart() {
        let realm_admin = parse(r#"{"realm_access":{"roles":["admin"]}}"#);
        assert!(realm_admin.has_realm_role("admin"));
        assert!(!realm_admin.has_client_role("orders-api", "admin"));

        let client_admin = parse(
            r#"{"resource_access":{"orders-api":{"roles":["admin"]},
                                   "billing-api":{"roles":["auditor"]}}}"#,
        );
        assert!(client_admin.has_client_role("orders-api", "admin"));
        assert!(!client_admin.has_realm_role("admin"));
        assert!(!client_admin.has_client_role("billing-api", "admin"));
        assert!(!client_admin.has_client_role("orders-api", "auditor"));
        assert!(!client_admin.has_client_role("", "admin"));

        for c in [&realm_admin, &client_admin, &parse(TOKEN)] {
            assert!(!Grants::has_role(c, "admin"));
            assert!(!Grants::has_scope(c, "admin"));
        }
        let c = parse(TOKEN);
        assert!(Grants::has_realm_role(&c, "admin"));
        assert!(Grants::has_client_role(&c, "orders-api", "editor"));
        assert!(!Grants::has_client_role(&c, "orders-api", "admin"));
        assert!(!Grants::has_realm_role(&c, "editor"));
        assert!(Grants::has_scope(&c, "orders.read"));
        assert!(!Grants::has_realm_role(&c, "orders.read"));
    }

    #[test]
    fn scope_splits_on_spaces_and_never_grants_empty() {
        for json in [
            r#"{}"#,
            r#"{"scope":null}"#,
            r#"{"scope":""}"#,
            r#"{"scope":"  "}"#,
        ] {
            let c = parse(json);
            assert!(c.scope.is_empty() && !c.has_scope(""), "{json}");
        }
        let c = parse(r#"{"scope":" openid  orders.read "}"#);
        assert_eq!(
            c.scope.iter().collect::<Vec<_>>(),
            ["openid", "orders.read"]
        );
        assert!(!c.has_scope("") && !c.has_scope("orders") && !c.has_scope("Orders.Read"));
        let c = parse(r#"{"scope":["openid","orders.read"]}"#);
        assert!(c.has_scope("orders.read"));
    }

    #[test]
    fn null_and_empty_role_parts() {
        let c = parse(r#"{"realm_access":null,"resource_access":null}"#);
        assert!(c.realm_access.roles.is_empty() && c.resource_access.is_empty());
        let c = parse(r#"{"realm_access":{},"resource_access":{"orders-api":{}}}"#);
        assert!(!c.has_realm_role("") && c.client_roles("orders-api").count() == 0);
    }

    #[test]
    fn bad_shapes_are_errors() {
        for bad in [
            r#"{"realm_access":{"roles":5}}"#,
            r#"{"realm_access":["admin"]}"#,
            r#"{"resource_access":{"orders-api":["admin"]}}"#,
            r#"{"resource_access":{"orders-api":{"roles":[1]}}}"#,
            r#"{"resource_access":["orders-api"]}"#,
            r#"{"scope":5}"#,
            r#"{"aud":{"account":true}}"#,
            r#"{"email_verified":"true"}"#,
            r#"{"exp":null}"#,
            r#""Bearer""#,
        ] {
            assert!(
                serde_json::from_str::<KeycloakClaims>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn serializes_as_keycloak_sends() {
        let c = parse(TOKEN);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["scope"], "email openid orders.read profile");
        assert_eq!(json["aud"], serde_json::json!(["account"]));
        assert_eq!(
            json["resource_access"]["orders-api"]["roles"],
            serde_json::json!(["viewer", "editor"])
        );
        assert_eq!(serde_json::from_value::<KeycloakClaims>(json).unwrap(), c);
        let empty = serde_json::to_value(KeycloakClaims::default()).unwrap();
        assert_eq!(empty, serde_json::json!({"iss": ""}));
    }
}
