//! [`OktaClaims`]: an access token of an Okta custom authorization server.
//!
//! A claims type and its [`Grants`](crate::authz::Grants) answers: no
//! validation rule lives here.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::claims::serde::{numeric_date_opt, one_or_many, scope_set, string_or_list};
use crate::claims::{GrantKinds, Grants};

/// The claims of an access token of an Okta custom authorization server,
/// as Okta's "OpenID Connect & OAuth 2.0 API" reference lists them
/// (<https://developer.okta.com/docs/reference/api/oidc/#access-token-payload>):
///
/// - `iss` is `https://{yourOktaDomain}/oauth2/{authorizationServerId}`;
///   `aud` the server's audience (`api://default` for `default`);
/// - `scp` is a JSON **array** of the granted scopes (read here from a
///   space-separated string too, as other servers send it);
/// - `cid` is the client id, `uid` the user's Okta id (absent for a
///   client-credentials token, whose `sub` is then the client id);
/// - `groups` is not sent by default: an admin adds it as a custom claim,
///   an array of group names.
///
/// [`Grants`] answers scopes from `scp`. Roles are never granted: Okta
/// sends no `roles` claim, and groups are a custom claim of each org's own
/// making (read them from [`groups`](Self::groups)).
///
/// ```
/// use oidc_bearer::Require;
/// use oidc_bearer::providers::OktaClaims;
///
/// let claims: OktaClaims = serde_json::from_str(r#"{
///     "ver": 1, "jti": "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE",
///     "iss": "https://dev-123456.okta.com/oauth2/default",
///     "aud": "api://default", "iat": 1718719921, "exp": 1718723521,
///     "cid": "0oa1a2b3c4d5e6f7g8h9", "uid": "00u1a2b3c4d5e6f7g8h9",
///     "scp": ["openid", "orders.read"], "auth_time": 1718719900,
///     "sub": "alice@example.com"
/// }"#).unwrap();
///
/// assert!(claims.has_scope("orders.read"));
/// assert_eq!(claims.cid.as_deref(), Some("0oa1a2b3c4d5e6f7g8h9"));
/// assert!(Require::scope("orders.read").is_met_by(&claims));
/// assert!(!Require::scope("orders.write").is_met_by(&claims));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OktaClaims {
    /// The authorization server's issuer URI.
    pub iss: Option<String>,
    /// The user's login (or, for a client-credentials token, the client
    /// id).
    pub sub: Option<String>,
    /// The audiences: a string or an array of strings.
    #[serde(default, deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// Expiry, seconds since the epoch (an integer or a float).
    #[serde(default, deserialize_with = "numeric_date_opt")]
    pub exp: Option<i64>,
    /// Issued at, seconds since the epoch.
    #[serde(default, deserialize_with = "numeric_date_opt")]
    pub iat: Option<i64>,
    /// When the user signed in, seconds since the epoch.
    #[serde(default, deserialize_with = "numeric_date_opt")]
    pub auth_time: Option<i64>,
    /// The token's id.
    pub jti: Option<String>,
    /// The client the token was issued to (Okta's client id).
    pub cid: Option<String>,
    /// The user's Okta id; absent for a client-credentials token.
    pub uid: Option<String>,
    /// The granted scopes (`scp`): Okta sends an array.
    #[serde(default, deserialize_with = "scope_set")]
    pub scp: BTreeSet<String>,
    /// Group names, when the server has a `groups` custom claim.
    #[serde(
        default,
        deserialize_with = "string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub groups: Vec<String>,
}

impl OktaClaims {
    /// True when `scp` holds `scope` (compared exactly, RFC 6749 §3.3).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scp.contains(scope)
    }

    /// True when the token was issued to a client alone
    /// (client-credentials grant: no `uid`).
    pub fn is_client_only(&self) -> bool {
        self.uid.is_none()
    }
}

impl Grants for OktaClaims {
    fn reads(&self) -> GrantKinds {
        GrantKinds::OKTA
    }

    fn has_scope(&self, scope: &str) -> bool {
        OktaClaims::has_scope(self, scope)
    }

    fn auth_time(&self) -> Option<i64> {
        self.auth_time
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scp_as_an_array_or_a_string_and_empty_entries_dropped() {
        let array: OktaClaims = serde_json::from_str(r#"{"scp":["a","","b"]}"#).unwrap();
        let string: OktaClaims = serde_json::from_str(r#"{"scp":"b a"}"#).unwrap();
        assert_eq!(array.scp, string.scp);
        assert!(array.has_scope("a") && !array.has_scope(""));
        assert!(array.is_client_only());
        let wrong = serde_json::from_str::<OktaClaims>(r#"{"scp":5}"#);
        assert!(wrong.is_err());
    }
}
