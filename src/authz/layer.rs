//! [`AuthorizeLayer`] and [`Authorize`]: one layer that applies any
//! [`Requirement`] ([`Require`], [`StepUp`], your own) to a route, after
//! the bearer layer verified the token, and the guards that apply it
//! inside a handler. It never verifies a signature. Its response future,
//! [`AuthorizeFuture`], is in `future`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::{AuthorizeFuture, Require, Requirement, StepUp};
use crate::challenge::Refusal;
use crate::claims::{Grants, StandardClaims};
use crate::context::AuthContext;
use crate::error::Error;
use crate::rejection::{DefaultRejection, RejectionHandler};

/// A tower [`Layer`] that lets a request through only when the claims the
/// [`OidcBearerLayer`](crate::OidcBearerLayer) verified (as `C`) meet a
/// [`Requirement`]; made by [`Require::layer`] and [`StepUp::layer`].
///
/// Put it inside the `OidcBearerLayer` (in axum: `route_layer` on the
/// route, or on the router before the `OidcBearerLayer` is added), with the
/// same claims type. It answers as that layer does: its realm, its
/// [`RejectionHandler`], its RFC 9728 `resource_metadata`, its clock and
/// leeway, and its scheme (a `DPoP` challenge for a request admitted with
/// `DPoP`, RFC 9449 §7.1); [`realm`](Self::realm) and
/// [`on_rejection`](Self::on_rejection) override them for this route. A
/// refusal is counted in the validator's [`Metrics`](crate::Metrics).
///
/// - claims that do not meet the requirement: the requirement's refusal
///   (`403 insufficient_scope` for a [`Require`], `401
///   insufficient_user_authentication` for a [`StepUp`]);
/// - no claims because the `OidcBearerLayer` let the request through
///   anonymously ([`allow_anonymous`](crate::OidcBearerLayer::allow_anonymous)):
///   `401` with the challenges that layer sends for a request without a
///   token;
/// - no `OidcBearerLayer` in front, or one for another claims type: `500`
///   ([`Error::Misplaced`]) with a body saying how to fix the router,
///   logged once. Not a 401: no token the client could send would help.
///
/// The inner service never sees a refused request.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let provider = oidc_bearer_testkit::TestIssuer::start().await;
/// # let (issuer, jwks_url) = (provider.issuer.clone(), provider.jwks_url.clone());
/// # let token = provider.builder("orders-api").claim("scope", "orders.read").sign(&provider.key);
/// use axum::{Router, body::Body, routing::{get, post}};
/// use http::{Request, StatusCode};
/// use oidc_bearer::{Require, StandardClaims, Validator};
/// use tower::ServiceExt;
///
/// let validator = Validator::builder()
///     .issuer(issuer)
///     .audience("orders-api")
///     .jwks_url(jwks_url)
///     .build()
///     .await?;
/// let app = Router::new()
///     .route(
///         "/orders",
///         get(|| async { "the orders" })
///             .route_layer(Require::scope("orders.read").layer::<StandardClaims>()),
///     )
///     .route(
///         "/orders/export",
///         post(|| async { "exported" }).route_layer(
///             Require::scope("orders.export")
///                 .or(Require::client_role("orders-api", "exporter"))
///                 .layer::<StandardClaims>(),
///         ),
///     )
///     // Added last, so it runs first: the requirements find its claims,
///     // and answer with its realm.
///     .route_layer(validator.layer::<StandardClaims>().realm("orders"));
///
/// let send = |method: &str, path: &str| {
///     Request::builder()
///         .method(method)
///         .uri(path)
///         .header("authorization", format!("Bearer {token}"))
///         .body(Body::empty())
///         .unwrap()
/// };
/// let read = app.clone().oneshot(send("GET", "/orders")).await?;
/// assert_eq!(read.status(), StatusCode::OK);
/// let export = app.clone().oneshot(send("POST", "/orders/export")).await?;
/// assert_eq!(export.status(), StatusCode::FORBIDDEN);
/// assert_eq!(
///     export.headers()["www-authenticate"],
///     "Bearer realm=\"orders\", error=\"insufficient_scope\", \
///      error_description=\"insufficient scope: scope orders.export or role exporter of client orders-api required\", \
///      scope=\"orders.export\""
/// );
/// # Ok(()) }
/// ```
pub struct AuthorizeLayer<Q, C = StandardClaims, R = DefaultRejection> {
    shared: Arc<Shared<Q>>,
    /// `None`: the bearer layer's handler.
    rejection: Option<R>,
    _claims: PhantomData<fn() -> C>,
}

/// What every clone of the service shares: cloned per request by axum, so
/// one reference count.
#[derive(Debug)]
struct Shared<Q> {
    requirement: Q,
    /// `None`: the bearer layer's realm.
    realm: Option<Arc<str>>,
    /// A misplaced layer is logged once, not on every request.
    misplaced_logged: AtomicBool,
}

impl<Q: Clone> Clone for Shared<Q> {
    fn clone(&self) -> Self {
        Shared {
            requirement: self.requirement.clone(),
            realm: self.realm.clone(),
            misplaced_logged: AtomicBool::new(self.misplaced_logged.load(Ordering::Relaxed)),
        }
    }
}

impl<Q, C, R: Clone> Clone for AuthorizeLayer<Q, C, R> {
    fn clone(&self) -> Self {
        AuthorizeLayer {
            shared: self.shared.clone(),
            rejection: self.rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<Q: fmt::Debug, C, R: fmt::Debug> fmt::Debug for AuthorizeLayer<Q, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeLayer")
            .field("requirement", &self.shared.requirement)
            .field("realm", &self.shared.realm)
            .field("rejection", &self.rejection)
            .finish()
    }
}

impl<Q: Requirement, C> AuthorizeLayer<Q, C> {
    /// Applies `requirement` to requests whose bearer layer verifies
    /// claims of type `C`; the same as `requirement.layer::<C>()`.
    pub fn new(requirement: Q) -> Self {
        AuthorizeLayer {
            shared: Arc::new(Shared {
                requirement,
                realm: None,
                misplaced_logged: AtomicBool::new(false),
            }),
            rejection: None,
            _claims: PhantomData,
        }
    }
}

impl Require {
    /// This requirement as a layer for routes whose
    /// [`OidcBearerLayer`](crate::OidcBearerLayer) verifies `Claims<C>`.
    pub fn layer<C>(self) -> AuthorizeLayer<Require, C> {
        AuthorizeLayer::new(self)
    }
}

impl StepUp {
    /// This requirement as a layer for routes whose
    /// [`OidcBearerLayer`](crate::OidcBearerLayer) verifies `Claims<C>`,
    /// with that layer's clock and leeway.
    pub fn layer<C>(self) -> AuthorizeLayer<StepUp, C> {
        AuthorizeLayer::new(self)
    }
}

impl<Q: Requirement, C, R> AuthorizeLayer<Q, C, R> {
    /// The `realm` of this route's challenges, instead of the
    /// [`OidcBearerLayer`](crate::OidcBearerLayer)'s.
    pub fn realm(mut self, realm: impl AsRef<str>) -> Self {
        Arc::make_mut(&mut self.shared).realm = Some(realm.as_ref().into());
        self
    }

    /// How this route's refusals are turned into responses, instead of
    /// the handler of the [`OidcBearerLayer`](crate::OidcBearerLayer).
    pub fn on_rejection<R2>(self, rejection: R2) -> AuthorizeLayer<Q, C, R2> {
        AuthorizeLayer {
            shared: self.shared,
            rejection: Some(rejection),
            _claims: PhantomData,
        }
    }

    /// The requirement this layer applies.
    pub fn requirement(&self) -> &Q {
        &self.shared.requirement
    }
}

impl<Q: Requirement, C, R> AuthorizeLayer<Q, C, R> {
    /// The refusal of `error` for a request with `context` (none for the
    /// guard that does not see the request).
    fn refuse<B>(&self, error: &Error, context: Option<&AuthContext>) -> Response<B>
    where
        R: RejectionHandler<B>,
        B: From<String> + 'static,
    {
        let realm = self.shared.realm.as_deref();
        let parts = match context {
            Some(context) => context.refusal(error, realm),
            None => crate::challenge::refusal(error, &Refusal::plain(realm)),
        };
        if let Some(rejection) = &self.rejection {
            return rejection.rejection(error, parts);
        }
        let inherited = match context {
            Some(context) => context.reject_with_handler(error, parts),
            None => Err(parts),
        };
        inherited.unwrap_or_else(|parts| Response::from_parts(parts, B::from(String::new())))
    }

    /// The requirement on `grants` for the request whose `context` is
    /// given, read in the vocabulary of the token's issuer: its refusal is
    /// counted.
    fn decide<G: Grants + ?Sized>(&self, grants: &G, context: &AuthContext) -> Result<(), Error> {
        let time = context.time();
        let result = match context.issued(grants) {
            Some(issued) => self.shared.requirement.evaluate(&issued, time),
            // Claims without a token: nothing is granted.
            None => self.shared.requirement.evaluate(&NoGrants, time),
        };
        if let Err(error) = &result {
            tracing::debug!(%error, "requirement not met");
            context.count(error);
        }
        result
    }

    /// A layer with no bearer layer in front, or one for another claims
    /// type: a 500 whose body says how to fix the router, unless this
    /// layer has a handler of its own, which gets [`Error::Misplaced`].
    #[cold]
    fn misplaced<B>(&self, context: Option<&AuthContext>) -> Response<B>
    where
        R: RejectionHandler<B>,
        B: From<String>,
    {
        let claims = std::any::type_name::<C>();
        let why = match context {
            None => "found no oidc-bearer layer in front of it",
            Some(_) => "sits behind an oidc-bearer layer for another claims type",
        };
        let message = format!(
            "the AuthorizeLayer of this route (claims {claims}) {why}: in axum, the \
             requirement's .route_layer(requirement.layer::<{claims}>()) goes before (inside) \
             the .route_layer(validator.layer::<{claims}>()) added after it, which runs first; \
             both with the same claims type"
        );
        if !self.shared.misplaced_logged.swap(true, Ordering::Relaxed) {
            tracing::error!("{message}");
        }
        let error = Error::Misplaced(message.clone());
        if let Some(context) = context {
            context.count(&error);
        }
        let parts = crate::challenge::refusal(&error, &Refusal::plain(None));
        match &self.rejection {
            Some(rejection) => rejection.rejection(&error, parts),
            None => Response::from_parts(parts, B::from(message)),
        }
    }
}

#[cfg(feature = "axum")]
impl<Q: Requirement, C, R: RejectionHandler<axum::body::Body>> AuthorizeLayer<Q, C, R> {
    /// The guard for a handler that cannot say up front what a route
    /// needs (who may see an order may depend on the order): `Ok` when
    /// `grants` meet the requirement, else the response the layer sends,
    /// for `?` in a handler returning `Result<_, axum::response::Response>`.
    ///
    /// It does not see the request: its challenge is `Bearer` with this
    /// layer's realm, without `resource_metadata`, its body this layer's
    /// handler (or empty), a [`StepUp`] is checked on the system clock
    /// with 60 s of leeway, and the refusal is not counted. Nor does it
    /// know which issuer verified the token: `grants` are read as the
    /// claims type answers them, not in the issuer's
    /// [`GrantKinds`](super::GrantKinds), and a
    /// [`Require::issued_by`] requirement is never met. With several
    /// trusted issuers, use [`authorize_in`](Self::authorize_in), which
    /// answers exactly as the layer.
    ///
    /// ```
    /// use axum::{extract::Path, response::Response};
    /// use oidc_bearer::{Claims, Require, StandardClaims};
    ///
    /// async fn order(
    ///     Path(owner): Path<String>,
    ///     claims: Claims<StandardClaims>,
    /// ) -> Result<String, Response> {
    ///     if claims.sub.as_deref() != Some(owner.as_str()) {
    ///         // In an app: built once, e.g. in a `static LazyLock` or the state.
    ///         let any_order = Require::role("Orders.ReadAll").layer::<StandardClaims>().realm("orders");
    ///         any_order.authorize(&claims)?;
    ///     }
    ///     Ok(format!("orders of {owner}"))
    /// }
    /// # let _ = axum::Router::<()>::new().route("/orders/{owner}", axum::routing::get(order));
    /// ```
    #[allow(
        clippy::result_large_err,
        reason = "axum handlers return `Result<_, Response>`; a refusal is the cold path"
    )]
    pub fn authorize<G: Grants + ?Sized>(
        &self,
        grants: &G,
    ) -> Result<(), axum::response::Response> {
        let time = super::Time::new(&crate::clock::SystemClock, 60);
        self.shared
            .requirement
            .evaluate(grants, time)
            .map_err(|error| {
                tracing::debug!(%error, "requirement not met");
                self.refuse(&error, None)
            })
    }

    /// [`authorize`](Self::authorize) for a handler that has the request's
    /// extensions (axum extracts [`http::Extensions`]): the refusal is the
    /// layer's to the letter (the bearer layer's realm, handler, clock and
    /// leeway, `resource_metadata`, the `DPoP` scheme for a request
    /// admitted with it), and it is counted.
    ///
    /// ```
    /// use axum::{extract::Path, response::Response};
    /// use oidc_bearer::{Claims, Require, StandardClaims};
    ///
    /// async fn order(
    ///     Path(owner): Path<String>,
    ///     extensions: http::Extensions,
    ///     claims: Claims<StandardClaims>,
    /// ) -> Result<String, Response> {
    ///     if claims.sub.as_deref() != Some(owner.as_str()) {
    ///         let any_order = Require::role("Orders.ReadAll").layer::<StandardClaims>();
    ///         any_order.authorize_in(&claims, &extensions)?;
    ///     }
    ///     Ok(format!("orders of {owner}"))
    /// }
    /// # let _ = axum::Router::<()>::new().route("/orders/{owner}", axum::routing::get(order));
    /// ```
    #[allow(
        clippy::result_large_err,
        reason = "axum handlers return `Result<_, Response>`; a refusal is the cold path"
    )]
    pub fn authorize_in<G: Grants + ?Sized>(
        &self,
        grants: &G,
        extensions: &http::Extensions,
    ) -> Result<(), axum::response::Response> {
        let Some(context) = AuthContext::from_extensions(extensions) else {
            return self.authorize(grants);
        };
        self.decide(grants, context)
            .map_err(|error| self.refuse(&error, Some(context)))
    }
}

/// What an anonymous request grants: nothing.
struct NoGrants;

impl Grants for NoGrants {}

impl<S, Q: Clone, C, R: Clone> Layer<S> for AuthorizeLayer<Q, C, R> {
    type Service = Authorize<S, Q, C, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorize {
            inner,
            layer: self.clone(),
        }
    }
}

/// The middleware [`AuthorizeLayer`] applies: calls the inner service only
/// when the request's claims meet the requirement.
pub struct Authorize<S, Q, C = StandardClaims, R = DefaultRejection> {
    inner: S,
    layer: AuthorizeLayer<Q, C, R>,
}

impl<S, Q, C, R> Authorize<S, Q, C, R> {
    inner_service_accessors!();
}

impl<S: Clone, Q, C, R: Clone> Clone for Authorize<S, Q, C, R> {
    fn clone(&self) -> Self {
        Authorize {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, Q: fmt::Debug, C, R: fmt::Debug> fmt::Debug for Authorize<S, Q, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorize")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, Q, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for Authorize<S, Q, C, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    Q: Requirement,
    C: Grants + Send + Sync + 'static,
    R: RejectionHandler<ResBody>,
    ResBody: From<String> + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = AuthorizeFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let layer = &self.layer;
        let context = AuthContext::from_extensions(req.extensions());
        let response = match context {
            Some(context) => match context.claims_ref::<C>() {
                Some(claims) => match layer.decide(claims, context) {
                    Ok(()) => return AuthorizeFuture::inner(self.inner.call(req)),
                    Err(error) => layer.refuse(&error, Some(context)),
                },
                None if context.holds_other_claims::<C>() => layer.misplaced(Some(context)),
                None => layer.refuse(&Error::MissingToken, Some(context)),
            },
            None => layer.misplaced(None),
        };
        AuthorizeFuture::refused(response)
    }
}
