//! What is particular to one provider: its preset and the claims types
//! of its access tokens. The core knows nothing of them: a preset only
//! fills in [`Issuer`](crate::Issuer)s through their public methods, and
//! hands what it knows of its provider to the core through
//! [`IssuerHints`].
//!
//! - `entra`: [`EntraId`], Microsoft Entra ID tenants, v1 and v2 tokens
//!   (`clouds`: the clouds' issuers; `hints`: the lints, the v1 key alias
//!   and Microsoft Graph's tokens);
//! - `keycloak`: [`Keycloak`], a realm, its keys and internal address;
//! - `entra_claims`: [`EntraClaims`], Microsoft Entra ID (Azure AD) v1.0
//!   and v2.0 access tokens: `scp`, app `roles`, `oid`, `tid`, `azp` or
//!   `appid`;
//! - `keycloak_claims`: [`KeycloakClaims`], Keycloak access tokens: `scope`,
//!   realm roles and client roles, kept apart;
//! - `okta`: [`Okta`], a custom authorization server (the org server
//!   refused);
//! - `okta_claims`: [`OktaClaims`], Okta access tokens: `scp` as an array,
//!   `cid`, `uid`.
//!
//! The claims types implement [`Grants`](crate::authz::Grants), so
//! [`Require`](crate::Require) works with them, and all read their
//! claims with the helpers of [`claims::serde`](crate::claims::serde), as
//! [`StandardClaims`](crate::StandardClaims) does: a shape one accepts,
//! the others accept.

mod entra;
mod entra_claims;
mod keycloak;
mod keycloak_claims;
mod okta;
mod okta_claims;

pub use crate::claims::KeycloakAccess;
pub use entra::{EntraId, EntraTokenVersion};
pub use entra_claims::EntraClaims;
pub use keycloak::Keycloak;
pub use keycloak_claims::KeycloakClaims;
pub use okta::Okta;
pub use okta_claims::OktaClaims;

use std::sync::Arc;

use crate::claims::GrantKinds;
use crate::error::Error;
use crate::issuers::{IssuerHints, Refusal, RefusedToken};

/// The hints an issuer configured by hand gets at `build()`: those of the
/// providers known by their issuers' shapes (Entra ID's lints and key
/// alias; Entra ID's and Keycloak's grant kinds), which lint nothing and
/// alias nothing for any other issuer.
pub(crate) fn default_hints() -> Arc<dyn IssuerHints> {
    Arc::new(ByShape(entra::EntraHints::by_shape()))
}

/// The providers an issuer written by hand is known by, from its shape.
#[derive(Debug)]
struct ByShape(entra::EntraHints);

impl IssuerHints for ByShape {
    fn check(&self, issuer: &crate::Issuer) -> Result<(), String> {
        self.0.check(issuer)
    }

    fn key_issuer_alias(&self, issuer: &str) -> Option<String> {
        self.0.key_issuer_alias(issuer)
    }

    // Every method passes through, so a hint Entra ID's hints gain is
    // never dropped for issuers written by hand.
    fn kind_check(&self) -> Option<crate::issuers::KindCheck> {
        self.0.kind_check()
    }

    fn grant_kinds(&self, issuer: &str) -> Option<GrantKinds> {
        self.0
            .grant_kinds(issuer)
            .or_else(|| keycloak::is_realm_issuer(issuer).then_some(GrantKinds::KEYCLOAK))
    }

    fn explain(&self, refusal: Refusal, token: &RefusedToken<'_>) -> Option<Error> {
        self.0.explain(refusal, token)
    }
}

/// The refusals every preset explains, whichever provider it is for: a
/// token issued for another provider's own API (Microsoft Graph's) is
/// sent to many APIs that never trusted its issuer.
fn explain_any(refusal: Refusal, token: &RefusedToken<'_>) -> Option<Error> {
    entra::explain_graph_token(refusal, token)
}
