//! [`AuthContext`]: the one request extension the bearer layer inserts.
//! It says how the request was admitted (with which [`Scheme`] and
//! [`TokenSource`], or anonymously) and holds the verified claims, and it
//! carries what the layers and extractors inside need to answer as the
//! bearer layer would: its realm, rejection handler, RFC 9728 metadata
//! URL, DPoP settings, the validator's clock, leeway and counters.
//!
//! It decides nothing: the bearer layer writes it, requirement layers,
//! guards and extractors read it.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};

use http::response::Parts;
use http::{Extensions, Response};

use crate::authz::Time;
use crate::challenge::{Presented, Refusal, refusal};
use crate::claims::{Claims, Grants, IssuedGrants};
use crate::credentials::{Scheme, Sources, TokenSource};
use crate::dpop::Dpop;
use crate::error::Error;
use crate::rejection::RejectionHandler;
use crate::validator::Validator;

/// How a request got past the bearer layer, and what the layers inside
/// need to answer as it would. Read it in a handler to know which source
/// and scheme admitted the token:
///
/// ```
/// use axum::routing::get;
/// use oidc_bearer::{AuthContext, Claims, StandardClaims, credentials::Scheme};
///
/// async fn me(context: AuthContext) -> String {
///     let claims = context.claims::<StandardClaims>().expect("the layer's claims type");
///     match context.scheme() {
///         Some(Scheme::Dpop) => format!("{:?}, with a DPoP proof", claims.sub),
///         _ => format!("{:?}", claims.sub),
///     }
/// }
/// # let _ = axum::Router::<()>::new().route("/me", get(me));
/// ```
///
/// Cheap to clone: a reference count and the claims' `Arc`.
#[derive(Clone)]
pub struct AuthContext {
    edge: Arc<Edge>,
    admission: Admission,
    claims: Option<Arc<dyn Any + Send + Sync>>,
}

/// How the request was admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Without credentials (`allow_anonymous`).
    Anonymous,
    /// With a verified token, presented with `scheme`, found at the
    /// layer's `source` (an index into its token sources), verified by
    /// `issuer` (an index into the validator's issuers).
    Token {
        scheme: Scheme,
        source: usize,
        issuer: usize,
    },
}

/// The bearer layer's settings, shared by every request it admits.
pub(crate) struct Edge {
    pub validator: Validator,
    pub sources: Sources,
    pub realm: Option<Arc<str>>,
    pub anonymous: bool,
    pub dpop: Option<Arc<Dpop>>,
    /// The layer's rejection handler for its response body type, once the
    /// first request told which that is (a `Box<dyn Handler<B>>`).
    handler: OnceLock<Box<dyn Any + Send + Sync>>,
}

/// A rejection handler without its type, for one body type.
trait Handler<B>: Send + Sync {
    fn rejection(&self, error: &Error, parts: Parts) -> Response<B>;
}

impl<B, R: RejectionHandler<B> + Send + Sync> Handler<B> for R {
    fn rejection(&self, error: &Error, parts: Parts) -> Response<B> {
        RejectionHandler::rejection(self, error, parts)
    }
}

/// A copy starts without a handler: it may get another one.
impl Clone for Edge {
    fn clone(&self) -> Self {
        Edge {
            validator: self.validator.clone(),
            sources: self.sources.clone(),
            realm: self.realm.clone(),
            anonymous: self.anonymous,
            dpop: self.dpop.clone(),
            handler: OnceLock::new(),
        }
    }
}

impl Admission {
    /// The scheme a token came with (`Bearer` for none).
    #[inline]
    pub(crate) fn scheme(&self) -> Scheme {
        match self {
            Admission::Anonymous => Scheme::Bearer,
            Admission::Token { scheme, .. } => *scheme,
        }
    }
}

impl Edge {
    pub(crate) fn new(validator: Validator, sources: Sources) -> Self {
        Edge {
            validator,
            sources,
            realm: None,
            anonymous: false,
            dpop: None,
            handler: OnceLock::new(),
        }
    }

    /// Drops the handler kept so far, for a layer given a new one.
    pub(crate) fn forget_handler(&mut self) {
        self.handler = OnceLock::new();
    }

    /// Keeps `rejection` for the layers inside, as the handler for `B`.
    /// After the first request this is one atomic load.
    #[inline]
    pub(crate) fn keep_handler<B: 'static, R>(&self, rejection: &R)
    where
        R: RejectionHandler<B> + Send + Sync + 'static,
    {
        self.handler.get_or_init(|| {
            let handler: Box<dyn Handler<B>> = Box::new(rejection.clone());
            Box::new(handler)
        });
    }

    /// The refusal of this layer (or of a layer inside it) for a request
    /// `presented` so.
    pub(crate) fn refusal(
        &self,
        error: &Error,
        realm: Option<&str>,
        presented: Presented,
    ) -> Parts {
        let now = self.validator.now();
        refusal(
            error,
            &Refusal {
                realm: realm.or(self.realm.as_deref()),
                resource_metadata: self.validator.resource_metadata_url(),
                dpop: self.dpop.as_deref().map(|dpop| (dpop, now)),
                presented,
            },
        )
    }
}

impl AuthContext {
    #[inline]
    pub(crate) fn new(
        edge: Arc<Edge>,
        admission: Admission,
        claims: Option<Arc<dyn Any + Send + Sync>>,
    ) -> Self {
        AuthContext {
            edge,
            admission,
            claims,
        }
    }

    /// The context the bearer layer put into these extensions, if any.
    #[inline]
    pub fn from_extensions(extensions: &Extensions) -> Option<&AuthContext> {
        extensions.get::<AuthContext>()
    }

    /// The verified claims as `C`: `None` for an anonymous request, or
    /// when the layer was built for another claims type.
    #[inline]
    pub fn claims<C: Send + Sync + 'static>(&self) -> Option<Claims<C>> {
        let claims = self.claims.as_ref()?.clone();
        claims.downcast::<C>().ok().map(Claims)
    }

    /// [`claims`](Self::claims), borrowed.
    pub(crate) fn claims_ref<C: Send + Sync + 'static>(&self) -> Option<&C> {
        self.claims.as_deref()?.downcast_ref::<C>()
    }

    /// `grants` (the claims of this request, or a handler's copy of them)
    /// read in the vocabulary of the issuer that verified the token; `None`
    /// for an anonymous request.
    #[inline]
    pub(crate) fn issued<'a, G: Grants + ?Sized>(
        &'a self,
        grants: &'a G,
    ) -> Option<IssuedGrants<'a, G>> {
        match self.admission {
            Admission::Anonymous => None,
            Admission::Token { issuer, .. } => Some(IssuedGrants {
                grants,
                issuer: self.edge.validator.grant_issuer(issuer),
            }),
        }
    }

    /// Whether the layer holds claims of another type than `C`.
    pub(crate) fn holds_other_claims<C: 'static>(&self) -> bool {
        self.claims
            .as_deref()
            .is_some_and(|claims| !claims.is::<C>())
    }

    /// The scheme the token came with; `None` for an anonymous request.
    pub fn scheme(&self) -> Option<Scheme> {
        match self.admission {
            Admission::Anonymous => None,
            Admission::Token { scheme, .. } => Some(scheme),
        }
    }

    /// The source the token was read from; `None` for an anonymous
    /// request. A DPoP token always comes from the `Authorization` header.
    pub fn token_source(&self) -> Option<&TokenSource> {
        match self.admission {
            Admission::Anonymous => None,
            Admission::Token { source, .. } => Some(self.edge.sources.get(source)),
        }
    }

    /// The trusted issuer that verified the token, as configured and as
    /// [`Validator::issuers`] lists it (a multi-tenant issuer with
    /// `{tenantid}`: the token's own `iss` is in its claims); `None` for
    /// an anonymous request.
    pub fn issuer(&self) -> Option<String> {
        match self.admission {
            Admission::Anonymous => None,
            Admission::Token { issuer, .. } => self.edge.validator.issuers().nth(issuer),
        }
    }

    /// True when the layer let the request through without credentials
    /// ([`allow_anonymous`](crate::OidcBearerLayer::allow_anonymous)).
    pub fn is_anonymous(&self) -> bool {
        self.admission == Admission::Anonymous
    }

    /// The bearer layer's realm, if it has one.
    pub fn realm(&self) -> Option<&str> {
        self.edge.realm.as_deref()
    }

    /// The RFC 9728 metadata URL every challenge names
    /// ([`ValidatorBuilder::resource`](crate::ValidatorBuilder::resource)).
    pub fn resource_metadata_url(&self) -> Option<&str> {
        self.edge.validator.resource_metadata_url()
    }

    /// The validator that verified the token (its metrics, health, clock).
    pub fn validator(&self) -> &Validator {
        &self.edge.validator
    }

    /// The validator's clock (read only when asked) and leeway, for a
    /// requirement.
    pub(crate) fn time(&self) -> Time<'_> {
        Time::new(self.edge.validator.clock(), self.edge.validator.leeway())
    }

    /// Counts a refusal made inside the layer.
    pub(crate) fn count(&self, error: &Error) {
        self.edge.validator.count_rejection(error);
    }

    /// How a refusal inside the layer is presented: as the layer refuses
    /// a request without credentials, for an anonymous one.
    fn presented(&self) -> Presented {
        match self.admission {
            Admission::Anonymous => Presented::AtTheLayer(Scheme::Bearer),
            Admission::Token { scheme, .. } => Presented::Admitted(scheme),
        }
    }

    /// Status and headers of `error` refused inside the layer, with
    /// `realm` (an inner layer's own) or the layer's.
    pub(crate) fn refusal(&self, error: &Error, realm: Option<&str>) -> Parts {
        self.edge.refusal(error, realm, self.presented())
    }

    /// The bearer layer's rejection handler applied to `error`, when it
    /// answers bodies of type `B`.
    pub(crate) fn reject_with_handler<B: 'static>(
        &self,
        error: &Error,
        parts: Parts,
    ) -> Result<Response<B>, Parts> {
        let handler = self
            .edge
            .handler
            .get()
            .and_then(|handler| handler.downcast_ref::<Box<dyn Handler<B>>>());
        match handler {
            Some(handler) => Ok(handler.rejection(error, parts)),
            None => Err(parts),
        }
    }
}

impl fmt::Debug for AuthContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthContext")
            .field("scheme", &self.scheme())
            .field("token_source", &self.token_source())
            .field("realm", &self.realm())
            .finish_non_exhaustive()
    }
}

impl<C: Send + Sync + 'static> Claims<C> {
    /// The claims the bearer layer verified, from a request's extensions
    /// (for a plain tower or hyper service; axum handlers take `Claims<C>`
    /// as an extractor). `None` without a layer in front, for an
    /// anonymous request, or for a layer of another claims type.
    ///
    /// ```
    /// use oidc_bearer::{Claims, StandardClaims};
    ///
    /// fn handle(request: &http::Request<()>) -> Option<String> {
    ///     let claims = Claims::<StandardClaims>::from_extensions(request.extensions())?;
    ///     claims.sub.clone()
    /// }
    /// assert_eq!(handle(&http::Request::new(())), None);
    /// ```
    #[inline]
    pub fn from_extensions(extensions: &Extensions) -> Option<Claims<C>> {
        AuthContext::from_extensions(extensions)?.claims::<C>()
    }
}
