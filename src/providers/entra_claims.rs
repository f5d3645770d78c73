//! [`EntraClaims`]: a Microsoft Entra ID (Azure AD) access token.
//!
//! A claims type and its [`Grants`](crate::authz::Grants) answers: no
//! validation rule lives here.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::claims::serde::{
    numeric_date_opt, one_or_many, scope_set, space_separated, string_or_list,
};
use crate::claims::{GrantKinds, Grants};

/// The claims of a Microsoft Entra ID (Azure AD) access token, v1.0 and
/// v2.0, as the Microsoft identity platform's "access token claims
/// reference" lists them.
///
/// Which version arrives is set by the API's app registration
/// (`accessTokenAcceptedVersion`), not by the endpoint the client called,
/// so both have to be read:
///
/// | | v1.0 | v2.0 |
/// |---|---|---|
/// | `iss` | `https://sts.windows.net/{tid}/` | `https://login.microsoftonline.com/{tid}/v2.0` |
/// | `aud` | App ID URI, `api://{clientId}` | the API's client id |
/// | client | `appid` | `azp` |
/// | user name | `upn`, `unique_name` | `preferred_username` |
///
/// Delegated (user) tokens carry the granted scopes in `scp`, one
/// space-separated string; app-only (client credentials) tokens carry no
/// `scp`, their application permissions in `roles`, and `idtyp: "app"`
/// when that optional claim is configured. Claims Entra ID adds or that
/// are opaque (`aio`, `uti`, `rh`, `xms_*`, …) are dropped.
///
/// [`Grants`] answers scopes from `scp` and app roles from `roles` only:
/// Entra ID has no realm or client roles, so those are never granted.
///
/// ```
/// use oidc_bearer::Require;
/// use oidc_bearer::providers::EntraClaims;
///
/// // A v2.0 delegated token, as in Microsoft's reference.
/// let claims: EntraClaims = serde_json::from_str(r#"{
///     "aud": "6e74172b-be56-4843-9ff4-e66a39bb12e3",
///     "iss": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
///     "iat": 1537231048, "nbf": 1537231048, "exp": 1537234948,
///     "azp": "6e74172b-be56-4843-9ff4-e66a39bb12e3", "azpacr": "0",
///     "name": "Abe Lincoln",
///     "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
///     "preferred_username": "abeli@microsoft.com",
///     "roles": ["Orders.Auditor"],
///     "scp": "access_as_user orders.read",
///     "sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
///     "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47",
///     "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "2.0"
/// }"#).unwrap();
///
/// assert!(claims.has_scope("orders.read"));
/// assert!(!claims.has_scope("Orders.Read"), "scopes are case-sensitive");
/// assert!(claims.has_role("Orders.Auditor"));
/// assert_eq!(claims.client_id(), Some("6e74172b-be56-4843-9ff4-e66a39bb12e3"));
/// assert_eq!(claims.user_name(), Some("abeli@microsoft.com"));
/// assert!(!claims.is_app_only());
///
/// assert!(Require::scope("orders.read").is_met_by(&claims));
/// assert!(!Require::scope("Orders.Auditor").is_met_by(&claims), "a role is no scope");
/// ```
///
/// The type is `#[non_exhaustive]` so claims can be added later; outside
/// this crate, build one from JSON as above, or from [`Default`] and field
/// assignment (`let mut c = EntraClaims::default(); c.tid = Some(..);`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct EntraClaims {
    /// Issuer: `https://sts.windows.net/{tid}/` (v1.0) or
    /// `https://login.microsoftonline.com/{tid}/v2.0` (v2.0).
    #[serde(default)]
    pub iss: String,
    /// Subject: pairwise, different for the same user in each app; use
    /// [`oid`](Self::oid) to recognise a user across apps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience (string or array in the token; always a list here): the
    /// API's App ID URI (v1.0, often `api://{clientId}`) or client id
    /// (v2.0).
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
    /// Object id of the user, or of the service principal for an app-only
    /// token: with [`tid`](Self::tid), the stable key for a caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
    /// Tenant id (a GUID) the caller signed in to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<String>,
    /// Display name of the user (delegated tokens, `profile` scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Sign-in name of the user (v2.0; often an e-mail address, mutable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// User principal name (v1.0; mutable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// Human-readable user name (v1.0; mutable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_name: Option<String>,
    /// Delegated scopes granted to the client, as a set. Entra ID sends one
    /// space-separated string; an array (as Okta sends `scp`) is read too.
    /// Split on single spaces and compared exactly (RFC 6749 §3.3); empty
    /// entries are dropped. Absent from app-only tokens. Serialized back
    /// as one space-separated string, in sorted order.
    #[serde(
        default,
        deserialize_with = "scope_set",
        serialize_with = "space_separated",
        skip_serializing_if = "BTreeSet::is_empty"
    )]
    pub scp: BTreeSet<String>,
    /// App roles: the roles assigned to the user (delegated tokens) or the
    /// application permissions granted to the client (app-only tokens).
    /// An array; one role as a string is read too, never split.
    #[serde(
        default,
        deserialize_with = "string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub roles: Vec<String>,
    /// Group object ids, when the app registration asks for them. Absent
    /// (not empty) when the user has too many groups for a token (the
    /// "groups overage": `_claim_names` points at Microsoft Graph), so a
    /// missing group is not proof of non-membership.
    #[serde(
        default,
        deserialize_with = "string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub groups: Vec<String>,
    /// Client id of the app that asked for the token (v2.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Client id of the app that asked for the token (v1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// Token version: `"1.0"` or `"2.0"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<String>,
    /// Kind of caller: `"app"` for app-only tokens, `"user"` for delegated
    /// ones. An optional claim: absent unless the app registration adds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idtyp: Option<String>,
}

impl EntraClaims {
    /// True when [`scp`](Self::scp) grants `scope` (exactly,
    /// case-sensitive). Never answered from [`roles`](Self::roles).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scp.contains(scope)
    }

    /// True when [`roles`](Self::roles) holds `role` (exactly). Never
    /// answered from [`scp`](Self::scp).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The client (application) id of the app that asked for the token:
    /// [`azp`](Self::azp) (v2.0), else [`appid`](Self::appid) (v1.0).
    pub fn client_id(&self) -> Option<&str> {
        self.azp.as_deref().or(self.appid.as_deref())
    }

    /// True for an app-only token (client credentials: a daemon or a
    /// service, no user).
    ///
    /// When the token carries [`idtyp`](Self::idtyp), it decides:
    /// `"app"` is app-only, anything else is not. Without it, the rule
    /// Microsoft documents as the fallback: no [`scp`](Self::scp) (Entra ID
    /// puts scopes in delegated tokens only) and at least one role. A
    /// token with neither scopes nor roles grants nothing and is not called
    /// app-only.
    pub fn is_app_only(&self) -> bool {
        match self.idtyp.as_deref() {
            Some(idtyp) => idtyp == "app",
            None => self.scp.is_empty() && !self.roles.is_empty(),
        }
    }

    /// A name to show for the user: [`preferred_username`](Self::preferred_username)
    /// (v2.0), else [`upn`](Self::upn), else
    /// [`unique_name`](Self::unique_name) (v1.0); `None` for app-only
    /// tokens. For display and logs only: these are mutable and may be
    /// reassigned, so key data by [`oid`](Self::oid) and
    /// [`tid`](Self::tid), and authorize by scopes and roles.
    pub fn user_name(&self) -> Option<&str> {
        self.preferred_username
            .as_deref()
            .or(self.upn.as_deref())
            .or(self.unique_name.as_deref())
    }
}

/// Scopes from `scp`, app roles from `roles`; realm and client roles are
/// Keycloak's and never granted.
impl Grants for EntraClaims {
    fn reads(&self) -> GrantKinds {
        GrantKinds::ENTRA_ID
    }

    fn has_scope(&self, scope: &str) -> bool {
        EntraClaims::has_scope(self, scope)
    }

    fn has_role(&self, role: &str) -> bool {
        EntraClaims::has_role(self, role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> EntraClaims {
        serde_json::from_str(json).unwrap()
    }

    /// A v1.0 delegated token as in Microsoft's claims reference.
    const V1: &str = r#"{
        "aud": "api://6e74172b-be56-4843-9ff4-e66a39bb12e3",
        "iss": "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
        "iat": 1537231048, "nbf": 1537231048, "exp": 1537234948,
        "acr": "1", "aio": "AXQAi/8IAAAAtAaZLo3ChMif6KOnttRB7eBq4/DccQzjcJGxPYy/C3jDaNGxXd6wNIIVGRghNRnwJ1lOcAnNZcjvkoyrFxCttv33140RioOFJ4bCCGVuoCag1uOTT22222gHwLPYQ/uf79QX+0KIijdrmp69RctzmQ==",
        "amr": ["wia"], "appid": "75dbe77f-10a3-4e59-85fd-8c127544f17c", "appidacr": "0",
        "family_name": "Lincoln", "given_name": "Abe", "ipaddr": "192.0.2.10",
        "name": "Abe Lincoln", "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
        "scp": "user_impersonation", "sub": "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA",
        "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "unique_name": "abeli@microsoft.com", "upn": "abeli@microsoft.com",
        "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "1.0"
    }"#;

    /// A v2.0 delegated token.
    const V2: &str = r#"{
        "aud": "6e74172b-be56-4843-9ff4-e66a39bb12e3",
        "iss": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
        "iat": 1537231048, "nbf": 1537231048, "exp": 1537234948,
        "aio": "AXQAi/8IAAAA", "azp": "75dbe77f-10a3-4e59-85fd-8c127544f17c", "azpacr": "0",
        "name": "Abe Lincoln", "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
        "preferred_username": "abeli@microsoft.com", "rh": "I",
        "scp": "access_as_user orders.read", "sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
        "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "uti": "fqiBqXLPj0eQa82S-IYFAA",
        "ver": "2.0"
    }"#;

    /// A v2.0 app-only (client credentials) token with `idtyp`.
    const APP_ONLY: &str = r#"{
        "aud": "6e74172b-be56-4843-9ff4-e66a39bb12e3",
        "iss": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
        "iat": 1612310376, "nbf": 1612310376, "exp": 1612314276.5,
        "aio": "E2ZgYJg", "azp": "0c4d8e3a-9b6f-4d2a-8e1f-3f5d9a7b2c11", "azpacr": "1",
        "idtyp": "app", "oid": "b1f2c3d4-0000-4000-8000-00000000000a", "rh": "0.A",
        "roles": ["Orders.Admin", "Orders.Read.All"],
        "sub": "b1f2c3d4-0000-4000-8000-00000000000a",
        "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "uti": "Rj4", "ver": "2.0"
    }"#;

    #[test]
    fn v1_token() {
        let c = parse(V1);
        assert_eq!(c.ver.as_deref(), Some("1.0"));
        assert_eq!(c.aud, ["api://6e74172b-be56-4843-9ff4-e66a39bb12e3"]);
        assert_eq!(c.client_id(), Some("75dbe77f-10a3-4e59-85fd-8c127544f17c"));
        assert_eq!(c.user_name(), Some("abeli@microsoft.com"));
        assert_eq!(c.upn, c.unique_name);
        assert_eq!(c.preferred_username, None);
        assert_eq!(c.exp, Some(1537234948));
        assert!(c.has_scope("user_impersonation"));
        assert!(!c.is_app_only());
        assert!(c.roles.is_empty() && c.groups.is_empty());
    }

    #[test]
    fn v2_token() {
        let c = parse(V2);
        assert_eq!(c.ver.as_deref(), Some("2.0"));
        assert_eq!(c.client_id(), c.azp.as_deref());
        assert_eq!(c.appid, None);
        assert_eq!(c.user_name(), Some("abeli@microsoft.com"));
        assert_eq!(
            c.tid.as_deref(),
            Some("72f988bf-86f1-41af-91ab-2d7cd011db47")
        );
        assert_eq!(
            c.scp.iter().collect::<Vec<_>>(),
            ["access_as_user", "orders.read"]
        );
        assert!(c.has_scope("orders.read") && !c.has_scope("orders"));
        assert!(!c.is_app_only());
    }

    #[test]
    fn app_only_token() {
        let c = parse(APP_ONLY);
        assert!(c.is_app_only());
        assert!(c.scp.is_empty());
        assert!(c.has_role("Orders.Admin") && !c.has_role("orders.admin"));
        assert_eq!(c.user_name(), None);
        assert_eq!(c.client_id(), Some("0c4d8e3a-9b6f-4d2a-8e1f-3f5d9a7b2c11"));
        assert_eq!(c.exp, Some(1612314276));
    }

    #[test]
    fn app_only_rule() {
        let app = |json: &str| parse(json).is_app_only();
        // Without idtyp: no scp and some role.
        assert!(app(r#"{"roles":["Orders.Admin"]}"#));
        assert!(!app(r#"{"roles":["Orders.Admin"],"scp":"orders.read"}"#));
        assert!(!app(r#"{}"#));
        assert!(!app(r#"{"scp":""}"#));
        // idtyp, when present, decides.
        assert!(app(r#"{"idtyp":"app"}"#));
        assert!(!app(r#"{"idtyp":"user","roles":["Orders.Admin"]}"#));
    }

    /// RFC 6749 §3.3: scope-tokens separated by single spaces, compared
    /// exactly; odd spacing never grants the empty scope.
    #[test]
    fn scp_splits_on_spaces_and_never_grants_empty() {
        for json in [
            r#"{}"#,
            r#"{"scp":null}"#,
            r#"{"scp":""}"#,
            r#"{"scp":"   "}"#,
            r#"{"scp":[]}"#,
            r#"{"scp":[""]}"#,
        ] {
            let c = parse(json);
            assert!(c.scp.is_empty(), "{json}");
            assert!(!c.has_scope("") && !Grants::has_scope(&c, ""), "{json}");
        }
        for json in [
            r#"{"scp":"a  b"}"#,
            r#"{"scp":" a b "}"#,
            r#"{"scp":["b","","a"]}"#,
        ] {
            let c = parse(json);
            assert_eq!(c.scp.iter().collect::<Vec<_>>(), ["a", "b"], "{json}");
            assert!(!c.has_scope("") && !c.has_scope("a b"), "{json}");
        }
        // Only the space separates; an array entry is one scope.
        let c = parse(r#"{"scp":"a\tb"}"#);
        assert!(!c.has_scope("a") && !c.has_scope("b"));
        let c = parse(r#"{"scp":["a b"]}"#);
        assert!(!c.has_scope("a") && !c.has_scope("b"));
        assert!(!parse(r#"{"scp":"Orders.Read"}"#).has_scope("orders.read"));
    }

    #[test]
    fn grants_each_kind_from_its_own_claim() {
        let c = parse(
            r#"{"scp":"orders.read","roles":["Orders.Admin"],
                "realm_access":{"roles":["admin"]},
                "resource_access":{"orders-api":{"roles":["admin"]}}}"#,
        );
        assert!(Grants::has_scope(&c, "orders.read"));
        assert!(!Grants::has_scope(&c, "Orders.Admin"));
        assert!(Grants::has_role(&c, "Orders.Admin"));
        assert!(!Grants::has_role(&c, "orders.read"));
        for role in ["admin", "Orders.Admin", "orders.read"] {
            assert!(!c.has_realm_role(role));
            assert!(!c.has_client_role("orders-api", role));
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        for bad in [
            r#"{"roles":5}"#,
            r#"{"roles":["a",1]}"#,
            r#"{"scp":5}"#,
            r#"{"scp":{"a":1}}"#,
            r#"{"groups":{"a":1}}"#,
            r#"{"aud":5}"#,
            r#"{"exp":"1537234948"}"#,
            r#"{"oid":5}"#,
            r#"{"idtyp":["app"]}"#,
            r#"5"#,
        ] {
            assert!(serde_json::from_str::<EntraClaims>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serializes_as_entra_sends() {
        let c = parse(V2);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["scp"], "access_as_user orders.read");
        assert_eq!(
            json["aud"],
            serde_json::json!(["6e74172b-be56-4843-9ff4-e66a39bb12e3"])
        );
        assert!(json.get("roles").is_none() && json.get("upn").is_none());
        assert_eq!(serde_json::from_value::<EntraClaims>(json).unwrap(), c);
        let app = parse(APP_ONLY);
        let json = serde_json::to_value(&app).unwrap();
        assert_eq!(
            json["roles"],
            serde_json::json!(["Orders.Admin", "Orders.Read.All"])
        );
        assert!(json.get("scp").is_none());
    }

    #[test]
    fn default_then_fields() {
        let mut c = EntraClaims::default();
        assert!(!c.has_scope("a") && !c.is_app_only() && c.client_id().is_none());
        c.appid = Some("v1-client".into());
        c.scp.insert("orders.read".into());
        assert_eq!(c.client_id(), Some("v1-client"));
        assert!(c.has_scope("orders.read"));
    }
}
