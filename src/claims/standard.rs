//! [`StandardClaims`]: the claims most APIs need.

use serde::{Deserialize, Serialize};

use super::registered::{numeric_date_opt, one_or_many};

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
    /// Space-separated scopes (RFC 9068, Keycloak).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Space-separated scopes (Entra ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    /// Roles (Entra ID app roles).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
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
}

impl StandardClaims {
    /// The scopes from `scope` or `scp`, split on spaces.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .iter()
            .chain(self.scp.iter())
            .flat_map(|s| s.split(' '))
            .filter(|s| !s.is_empty())
    }

    /// True when the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
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
}
