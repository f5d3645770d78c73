//! The claims a verified token carries: [`Claims<C>`] as handlers receive
//! them, [`StandardClaims`] for when you declare no type of your own, and
//! the registered claims (RFC 7519 §4.1) the validator checks. Never
//! imports the validator, not even in tests.
//!
//! Public: [`Claims`], [`StandardClaims`] and [`KeycloakAccess`] (also at
//! the crate root), and [`serde`], the serde helpers for claims types of
//! your own. Everything else here is the validator's, crate-internal.
//!
//! - `capture`: a registered claim's value captured once and replayed;
//! - `checks`: the registered-claim rules the validator applies;
//! - `confirmation`: `cnf.jkt`, the key a DPoP-bound token is bound to;
//! - `issuer`: exact and `{tenantid}` issuers, and a key's issuer binding;
//! - `registered`: THE table of the members the validator reads (`exp`,
//!   `nbf`, `iat`, `iss`, `aud`, `tid`, `cnf`), and the time rule;
//! - [`serde`]: `NumericDate`, string-or-list, scopes, `null` as absent;
//! - `single_pass`: one `serde_json` pass that yields both those and `C`;
//! - `standard`: [`StandardClaims`].

mod capture;
mod checks;
mod confirmation;
mod grants;
mod issuer;
mod registered;
pub mod serde;
pub(crate) mod single_pass;
mod standard;

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use ::serde::Serialize;

pub(crate) use self::serde::numeric_date_opt;
pub(crate) use checks::ClaimChecks;
pub(crate) use confirmation::{Binding, Confirmation};
pub(crate) use grants::{GrantIssuer, IssuedGrants};
pub use grants::{GrantKinds, Grants};
pub(crate) use issuer::{IssuerName, TENANT_PLACEHOLDER, is_guid, key_accepts};
pub(crate) use registered::{Audience, Registered, TimeClaims, claim_names, wrong_type_claim};
pub use standard::{KeycloakAccess, StandardClaims};

/// Verified claims of type `C`, shared behind an `Arc` so handing them to
/// a handler (or serving them from a cache) copies nothing.
///
/// Dereferences to `C`; serializes exactly as `C`, so `Json(claims)` works.
/// In axum it is also the extractor for the claims the layer verified
/// (`Option<Claims<C>>` for routes that allow anonymous requests).
///
/// ```
/// use oidc_bearer::Claims;
///
/// #[derive(serde::Deserialize, serde::Serialize)]
/// struct MyClaims {
///     sub: String,
///     scope: String,
/// }
///
/// // In an axum handler: `async fn orders(claims: Claims<MyClaims>)`.
/// fn may_read(claims: &Claims<MyClaims>) -> bool {
///     claims.scope.split(' ').any(|s| s == "orders.read")
/// }
///
/// let claims = Claims::new(MyClaims { sub: "alice".into(), scope: "orders.read".into() });
/// assert!(may_read(&claims));
/// assert_eq!(claims.sub, "alice");
/// assert_eq!(
///     serde_json::to_string(&claims).unwrap(),
///     r#"{"sub":"alice","scope":"orders.read"}"#
/// );
/// ```
pub struct Claims<C = StandardClaims>(pub Arc<C>);

impl<C> Claims<C> {
    /// Wraps claims that were verified elsewhere.
    pub fn new(claims: C) -> Self {
        Claims(Arc::new(claims))
    }

    /// The shared claims.
    pub fn as_arc(&self) -> &Arc<C> {
        &self.0
    }

    /// The claims by value: moved out when this is the only handle,
    /// cloned otherwise.
    pub fn into_inner(self) -> C
    where
        C: Clone,
    {
        Arc::unwrap_or_clone(self.0)
    }
}

impl<C> Clone for Claims<C> {
    fn clone(&self) -> Self {
        Claims(self.0.clone())
    }
}

impl<C> Deref for Claims<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.0
    }
}

impl<C: fmt::Debug> fmt::Debug for Claims<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Claims").field(&self.0).finish()
    }
}

impl<C: Serialize> Serialize for Claims<C> {
    fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}
