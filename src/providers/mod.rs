//! What is particular to one provider: its preset and the claims types
//! of its access tokens. The core knows nothing of them: a preset only
//! fills in [`Issuer`](crate::Issuer)s through their public methods, and
//! hands what it knows of its provider to the core through
//! [`IssuerHints`](crate::IssuerHints).
//!
//! - `entra`: [`EntraId`], Microsoft Entra ID tenants, v1 and v2 tokens
//!   (`clouds`: the clouds' issuers; `hints`: the lints, the v1 key alias
//!   and Microsoft Graph's tokens);
//! - `keycloak`: [`Keycloak`], a realm, its keys and internal address;
//! - `entra_claims`: [`AzureClaims`], Microsoft Entra ID (Azure AD) v1.0
//!   and v2.0 access tokens: `scp`, app `roles`, `oid`, `tid`, `azp` or
//!   `appid`;
//! - `keycloak_claims`: [`KeycloakClaims`], Keycloak access tokens: `scope`,
//!   realm roles and client roles, kept apart;
//! - `okta`: [`Okta`], a custom authorization server (the org server
//!   refused);
//! - `okta_claims`: [`OktaClaims`], Okta access tokens: `scp` as an array,
//!   `cid`, `uid`.
//!
//! The claims types implement [`Grants`](crate::Grants), so
//! [`Require`](crate::Require) works with them, and all read their
//! string-or-array claims with the rules of
//! [`StandardClaims`](crate::StandardClaims): a shape one accepts, the
//! others accept.

mod entra;
mod entra_claims;
mod keycloak;
mod keycloak_claims;
mod okta;
mod okta_claims;

pub use entra::{EntraId, EntraTokenVersion};
pub use entra_claims::AzureClaims;
pub use keycloak::Keycloak;
pub use keycloak_claims::KeycloakClaims;
pub use okta::Okta;
pub use okta_claims::OktaClaims;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserializer, Serializer};

use crate::claims::{self, KeycloakAccess};
use crate::error::Error;
use crate::issuers::{IssuerHints, Refusal, RefusedToken};

/// The hints an issuer configured by hand gets at `build()`: those of the
/// providers known by their issuers' shapes (Entra ID's), which lint
/// nothing and alias nothing for any other issuer.
pub(crate) fn default_hints() -> Arc<dyn IssuerHints> {
    Arc::new(entra::EntraHints::by_shape())
}

/// The refusals every preset explains, whichever provider it is for: a
/// token issued for another provider's own API (Microsoft Graph's) is
/// sent to many APIs that never trusted its issuer.
fn explain_any(refusal: Refusal, token: &RefusedToken<'_>) -> Option<Error> {
    entra::explain_graph_token(refusal, token)
}

/// A space-separated scope string (or an array of scopes) as a set.
/// Empty entries are dropped: `""` is no `scope-token` (RFC 6749 §3.3), and
/// a set holding it would grant a requirement nobody could write.
fn scope_set<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<String>, D::Error> {
    Ok(claims::scope_list(d)?
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect())
}

/// A list of names (roles, groups): an array, or one name as a string.
fn name_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    claims::value_list(d)
}

/// `aud`: a string or an array of strings.
fn audience<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    claims::one_or_many(d)
}

/// A `NumericDate`, integer or float.
fn date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    claims::numeric_date_opt(d)
}

/// Keycloak's `realm_access`; `null` is no roles.
fn realm_access<'de, D: Deserializer<'de>>(d: D) -> Result<KeycloakAccess, D::Error> {
    claims::null_as_default(d)
}

/// Keycloak's `resource_access`; `null` is no clients.
fn resource_access<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, KeycloakAccess>, D::Error> {
    claims::null_as_default(d)
}

/// Back into the form the providers send: one space-separated string.
fn space_separated<S: Serializer>(set: &BTreeSet<String>, s: S) -> Result<S::Ok, S::Error> {
    let mut joined = String::new();
    for (i, scope) in set.iter().enumerate() {
        if i > 0 {
            joined.push(' ');
        }
        joined.push_str(scope);
    }
    s.serialize_str(&joined)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "scope_set")]
        scope: BTreeSet<String>,
        #[serde(default, deserialize_with = "name_list")]
        roles: Vec<String>,
    }

    /// These read as `StandardClaims` reads, errors included, and an
    /// error still points into the document.
    #[test]
    fn reads_as_standard_claims_reads() {
        let p: Probe = serde_json::from_str(r#"{"scope":" b  a ","roles":"x y"}"#).unwrap();
        assert_eq!(p.scope.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(p.roles, ["x y"]);
        let error = serde_json::from_str::<Probe>("{\n\"roles\": 5}").unwrap_err();
        assert_eq!(error.line(), 2, "{error}");
        assert!(
            error
                .to_string()
                .contains("a string or an array of strings")
        );
    }
}
