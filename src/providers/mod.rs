//! What is particular to one provider: its preset and the claims types
//! of its access tokens. The core knows nothing of them: a preset only
//! fills in [`Issuer`](crate::Issuer)s.
//!
//! - `entra`: [`EntraId`], Microsoft Entra ID tenants, v1 and v2 tokens;
//! - `keycloak`: [`Keycloak`], a realm, its keys and internal address;
//! - `entra_claims`: [`AzureClaims`], Microsoft Entra ID (Azure AD) v1.0
//!   and v2.0 access tokens: `scp`, app `roles`, `oid`, `tid`, `azp` or
//!   `appid`;
//! - `keycloak_claims`: [`KeycloakClaims`], Keycloak access tokens: `scope`,
//!   realm roles and client roles, kept apart.
//!
//! Both claims types implement [`Grants`](crate::Grants), so
//! [`Require`](crate::Require) works with them, and both read their
//! claims with the helpers of [`claims::serde`](crate::claims::serde), as
//! [`StandardClaims`](crate::StandardClaims) does: a shape one accepts,
//! the others accept.

mod entra;
mod entra_claims;
mod keycloak;
mod keycloak_claims;

pub(crate) use entra::v1_key_alias as entra_v1_key_alias;
pub use entra::{EntraId, EntraTokenVersion};
pub use entra_claims::AzureClaims;
pub use keycloak::Keycloak;
pub use keycloak_claims::KeycloakClaims;
