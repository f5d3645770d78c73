//! Authorization per route, after authentication: which scopes and roles
//! a verified token must carry ([`Require`]), asked of the claims through
//! [`Grants`], enforced by a tower layer ([`AuthorizeLayer`]) or inside a
//! handler ([`AuthorizeLayer::authorize`]).
//!
//! The [`OidcBearerLayer`](crate::OidcBearerLayer) decides who the caller
//! is and puts the verified claims into the request; the
//! [`AuthorizeLayer`] of a route decides whether those claims are enough,
//! and refuses with `403 insufficient_scope` (RFC 6750 §3.1) before the
//! handler runs.
//!
//! The example on [`AuthorizeLayer`] puts them on an axum router.
//!
//! - `grants`: [`Grants`], and its implementation for
//!   [`StandardClaims`](crate::StandardClaims) and `Claims<C>`;
//! - `require`: [`Require`], its checks and the 403 it refuses with;
//! - `layer`: [`AuthorizeLayer`], [`Authorize`], [`AuthorizeFuture`];
//! - `step_up`: [`StepUp`] (RFC 9470 `acr` and `auth_time`), its layer
//!   and guard, refusing with `401 insufficient_user_authentication`.

mod layer;
mod require;
mod step_up;

pub use crate::claims::Grants;
pub use layer::{Authorize, AuthorizeFuture, AuthorizeLayer};
pub use require::Require;
pub use step_up::{StepUp, StepUpLayer, StepUpService};
