//! Authorization per route, after authentication: what a verified token
//! must carry, as a [`Requirement`] — which scopes and roles ([`Require`]),
//! how strong and how recent the sign-in ([`StepUp`], RFC 9470), or your
//! own — asked of the claims through [`Grants`], and enforced by one tower
//! layer ([`AuthorizeLayer`]) or inside a handler
//! ([`AuthorizeLayer::authorize_in`]).
//!
//! The [`OidcBearerLayer`](crate::OidcBearerLayer) decides who the caller
//! is and puts the verified claims into the request; the
//! [`AuthorizeLayer`] of a route decides whether those claims are enough,
//! and refuses before the handler runs, answering as the bearer layer
//! would (its realm, handler, scheme and `resource_metadata`). Nothing
//! here verifies a signature.
//!
//! - `require`: [`Require`], its checks and the 403 it refuses with;
//! - `step_up`: [`StepUp`], refusing with `401 insufficient_user_authentication`;
//! - `layer`: [`AuthorizeLayer`], [`Authorize`] and the guards;
//! - `future`: [`AuthorizeFuture`], the response future of [`Authorize`].

mod future;
mod layer;
mod require;
mod step_up;

use std::fmt;

pub use crate::claims::{GrantKinds, Grants};
pub use future::AuthorizeFuture;
pub use layer::{Authorize, AuthorizeLayer};
pub use require::Require;
pub use step_up::StepUp;

use crate::clock::Clock;
use crate::error::Error;

/// What a route requires of a verified token, applied by an
/// [`AuthorizeLayer`] (`requirement.layer::<C>()` for the built-in ones,
/// [`AuthorizeLayer::new`] for yours).
///
/// ```
/// use oidc_bearer::authz::{AuthorizeLayer, Grants, Requirement, Time};
/// use oidc_bearer::{Error, StandardClaims};
///
/// /// Tokens issued at most a day before now.
/// #[derive(Debug, Clone)]
/// struct IssuedToday;
///
/// impl Requirement for IssuedToday {
///     fn evaluate<G: Grants + ?Sized>(&self, grants: &G, time: Time<'_>) -> Result<(), Error> {
///         match grants.auth_time() {
///             Some(t) if time.now() - t <= 86_400 + time.leeway() => Ok(()),
///             _ => Err(Error::InsufficientUserAuthentication {
///                 required: "a sign-in today".into(),
///                 acr_values: None,
///                 max_age: Some(86_400),
///             }),
///         }
///     }
/// }
///
/// let layer = AuthorizeLayer::<_, StandardClaims>::new(IssuedToday);
/// # let _ = layer;
/// ```
pub trait Requirement: fmt::Debug + Clone + Send + Sync + 'static {
    /// `Ok` when `grants` meet the requirement at `time` (the bearer
    /// layer's clock and leeway); else the refusal, whose
    /// [`kind`](Error::kind) gives the status and the challenge (`403
    /// insufficient_scope`, `401 insufficient_user_authentication`, …).
    fn evaluate<G: Grants + ?Sized>(&self, grants: &G, time: Time<'_>) -> Result<(), Error>;
}

/// When a requirement is checked: the bearer layer's clock, read only by
/// a requirement that asks (a scope check never does), and its leeway.
#[derive(Clone, Copy)]
pub struct Time<'a> {
    clock: &'a dyn Clock,
    leeway: i64,
}

impl<'a> Time<'a> {
    /// `clock`'s time, with `leeway` seconds of tolerated clock skew.
    pub fn new(clock: &'a dyn Clock, leeway: i64) -> Self {
        Time { clock, leeway }
    }

    /// Now, in seconds since the epoch (a NumericDate, RFC 7519 §2).
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The tolerated clock skew, in seconds.
    pub fn leeway(&self) -> i64 {
        self.leeway
    }
}

impl fmt::Debug for Time<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Time")
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}
