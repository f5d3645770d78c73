//! [`AuthorizeLayer`], [`Authorize`] and [`AuthorizeFuture`]: a
//! [`Require`] applied to a route, after the token was verified.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Extensions, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{Grants, Require};
use crate::claims::{Claims, StandardClaims};
use crate::dpop;
use crate::error::Error;
use crate::layer::{Anonymous, AnonymousRealm};
use crate::metadata::{ResourceMetadataUrl, with_resource_metadata};
use crate::rejection::{DefaultRejection, RejectionHandler, rejection_parts};

/// A tower [`Layer`] that lets a request through only when the
/// [`Claims<C>`] the [`OidcBearerLayer`](crate::OidcBearerLayer) verified
/// meet a [`Require`]; made by [`Require::layer`].
///
/// Put it inside the `OidcBearerLayer` (in axum: `route_layer` on the
/// route, or on the router before the `OidcBearerLayer` is added), with the
/// same claims type, realm and [`RejectionHandler`], so a refusal looks
/// like any other:
///
/// - claims that do not meet the requirement: `403` with
///   `error="insufficient_scope"` (see [`Require`]), under the `DPoP`
///   scheme for a request admitted with it (RFC 9449 §7.1), else `Bearer`;
/// - no claims because the `OidcBearerLayer` let the request through
///   anonymously ([`allow_anonymous`](crate::OidcBearerLayer::allow_anonymous)):
///   `401` with the challenges that layer sends for a request without a
///   token (a bare `Bearer` one; with DPoP settings, its `DPoP` one too);
/// - no claims and no `OidcBearerLayer` in front (or one for another
///   claims type): `500` ([`Error::Misplaced`]) and an error log saying what to
///   change. Not a 401: no token the client could send would help, and a
///   401 would pass a server bug off as a client one.
///
/// The inner service never sees a refused request.
///
/// Give every `AuthorizeLayer` the realm and handler of the
/// `OidcBearerLayer`, so a 403 carries the same realm and body as a 401:
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
///             .route_layer(Require::scope("orders.read").layer::<StandardClaims>().realm("orders")),
///     )
///     .route(
///         "/orders/export",
///         post(|| async { "exported" }).route_layer(
///             Require::scope("orders.export")
///                 .or(Require::client_role("orders-api", "exporter"))
///                 .layer::<StandardClaims>()
///                 .realm("orders"),
///         ),
///     )
///     // Added last, so it runs first: the requirements find its claims.
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
pub struct AuthorizeLayer<C = StandardClaims, R = DefaultRejection> {
    shared: Arc<Shared>,
    rejection: R,
    _claims: PhantomData<fn() -> C>,
}

/// What every clone of the service shares: cloned per request by axum, so
/// one reference count.
#[derive(Debug, Clone)]
struct Shared {
    require: Require,
    /// Built once: a refusal only clones it.
    insufficient: Error,
    realm: Option<Arc<str>>,
}

impl<C, R: Clone> Clone for AuthorizeLayer<C, R> {
    fn clone(&self) -> Self {
        AuthorizeLayer {
            shared: self.shared.clone(),
            rejection: self.rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<C> AuthorizeLayer<C> {
    /// Applies `require` to requests carrying `Claims<C>`; the same as
    /// [`Require::layer`].
    pub fn new(require: Require) -> Self {
        AuthorizeLayer {
            shared: Arc::new(Shared {
                insufficient: require.insufficient(),
                require,
                realm: None,
            }),
            rejection: DefaultRejection,
            _claims: PhantomData,
        }
    }
}

impl Require {
    /// This requirement as a layer for routes whose
    /// [`OidcBearerLayer`](crate::OidcBearerLayer) verifies `Claims<C>`.
    pub fn layer<C>(self) -> AuthorizeLayer<C> {
        AuthorizeLayer::new(self)
    }
}

impl<C, R> AuthorizeLayer<C, R> {
    /// The `realm` of the `WWW-Authenticate` challenge: the one given to
    /// the [`OidcBearerLayer`](crate::OidcBearerLayer).
    pub fn realm(mut self, realm: impl AsRef<str>) -> Self {
        Arc::make_mut(&mut self.shared).realm = Some(realm.as_ref().into());
        self
    }

    /// Replace how refusals are turned into responses: the handler given
    /// to [`OidcBearerLayer::on_rejection`](crate::OidcBearerLayer::on_rejection).
    pub fn on_rejection<R2>(self, rejection: R2) -> AuthorizeLayer<C, R2> {
        AuthorizeLayer {
            shared: self.shared,
            rejection,
            _claims: PhantomData,
        }
    }

    /// The requirement this layer applies.
    pub fn requirement(&self) -> &Require {
        &self.shared.require
    }
}

#[cfg(feature = "axum")]
impl<C, R: RejectionHandler<axum::body::Body>> AuthorizeLayer<C, R> {
    /// The guard for a handler: `Ok` when `grants` meet the requirement,
    /// else the same response the layer sends (`403`, this realm, this
    /// rejection handler's body), for `?` in a handler that returns
    /// `Result<_, axum::response::Response>`.
    ///
    /// For a decision the route cannot make up front: who may see an
    /// order may depend on the order.
    ///
    /// It does not see the request, so its challenge is always `Bearer`,
    /// without `resource_metadata`; [`authorize_in`](Self::authorize_in)
    /// answers a DPoP request with the `DPoP` scheme.
    ///
    /// ```
    /// use axum::{extract::Path, response::Response};
    /// use oidc_bearer::{AuthorizeLayer, Claims, Require, StandardClaims};
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
        // No extensions: no DPoP marker and no resource, so a plain Bearer
        // refusal.
        self.authorize_in(grants, &Extensions::new())
    }

    /// [`authorize`](Self::authorize) for a handler that has the request's
    /// extensions (axum extracts [`http::Extensions`]), so the refusal is
    /// the layer's to the letter: `resource_metadata` (RFC 9728) when the
    /// [`OidcBearerLayer`](crate::OidcBearerLayer) names a resource, and
    /// the `DPoP` scheme for a request it admitted with that scheme (RFC
    /// 9449 §7.1), where `authorize` always answers `Bearer` without
    /// `resource_metadata`.
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
        extensions: &Extensions,
    ) -> Result<(), axum::response::Response> {
        if self.shared.require.is_met_by(grants) {
            return Ok(());
        }
        tracing::debug!(required = %self.shared.require, "insufficient scope");
        Err(refuse_with(
            &self.rejection,
            &self.shared.insufficient,
            self.shared.realm.as_deref(),
            extensions,
        ))
    }
}

impl<S, C, R: Clone> Layer<S> for AuthorizeLayer<C, R> {
    type Service = Authorize<S, C, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorize {
            inner,
            shared: self.shared.clone(),
            rejection: self.rejection.clone(),
            _claims: PhantomData,
        }
    }
}

/// The middleware [`AuthorizeLayer`] applies: calls the inner service only
/// when the request's `Claims<C>` meet the requirement.
pub struct Authorize<S, C = StandardClaims, R = DefaultRejection> {
    inner: S,
    shared: Arc<Shared>,
    rejection: R,
    _claims: PhantomData<fn() -> C>,
}

impl<S: Clone, C, R: Clone> Clone for Authorize<S, C, R> {
    fn clone(&self) -> Self {
        Authorize {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
            rejection: self.rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for Authorize<S, C, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    C: Grants + Send + Sync + 'static,
    R: RejectionHandler<ResBody>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = AuthorizeFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let realm = self.shared.realm.as_deref();
        let response = match req.extensions().get::<Claims<C>>() {
            Some(claims) if self.shared.require.is_met_by(&**claims) => {
                return AuthorizeFuture {
                    state: State::Inner {
                        future: self.inner.call(req),
                    },
                };
            }
            Some(_) => {
                tracing::debug!(required = %self.shared.require, "insufficient scope");
                refuse_with(
                    &self.rejection,
                    &self.shared.insufficient,
                    realm,
                    req.extensions(),
                )
            }
            None => self.without_claims(req.extensions()),
        };
        AuthorizeFuture {
            state: State::Refused {
                response: Some(response),
            },
        }
    }
}

impl<S, C, R> Authorize<S, C, R> {
    #[cold]
    fn without_claims<B>(&self, extensions: &Extensions) -> Response<B>
    where
        R: RejectionHandler<B>,
    {
        if extensions.get::<Anonymous>().is_some() {
            let realm = self.shared.realm.clone().or_else(|| {
                extensions
                    .get::<AnonymousRealm>()
                    .map(|realm| realm.0.clone())
            });
            return refuse_with(
                &self.rejection,
                &Error::MissingToken,
                realm.as_deref(),
                extensions,
            );
        }
        let claims = std::any::type_name::<C>();
        let message = format!(
            "AuthorizeLayer found no Claims<{claims}> in the request: put it inside \
             the OidcBearerLayer (in axum, .route_layer(require.layer::<{claims}>()) \
             before .route_layer(validator.layer::<{claims}>())), with the same claims type"
        );
        tracing::error!("{message}");
        refuse(&self.rejection, &Error::Misplaced(message), None)
    }
}

fn refuse<B, R: RejectionHandler<B>>(
    rejection: &R,
    error: &Error,
    realm: Option<&str>,
) -> Response<B> {
    rejection.rejection(error, rejection_parts(error, realm))
}

/// [`refuse`] for the request whose `extensions` are given: with
/// `resource_metadata` (RFC 9728 §5.1) when the `OidcBearerLayer` in
/// front names a resource, and the `DPoP` scheme when it admitted the
/// request with that scheme (RFC 9449 §7.1).
fn refuse_with<B, R: RejectionHandler<B>>(
    rejection: &R,
    error: &Error,
    realm: Option<&str>,
    extensions: &Extensions,
) -> Response<B> {
    let metadata = extensions.get::<ResourceMetadataUrl>().map(|url| &*url.0);
    let parts = with_resource_metadata(dpop::refusal_parts(error, realm, extensions), metadata);
    rejection.rejection(error, parts)
}

pin_project! {
    /// The response future of [`Authorize`]: the inner service's future, or
    /// the refusal, ready. Nothing is boxed.
    pub struct AuthorizeFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Inner { #[pin] future: F },
        Refused { response: Option<Response<B>> },
    }
}

impl<F, B> AuthorizeFuture<F, B> {
    /// The inner service's future: the request was let through.
    pub(super) fn inner(future: F) -> Self {
        AuthorizeFuture {
            state: State::Inner { future },
        }
    }

    /// A refusal, ready.
    pub(super) fn refused(response: Response<B>) -> Self {
        AuthorizeFuture {
            state: State::Refused {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> Future for AuthorizeFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => future.poll(cx),
            StateProj::Refused { response } => Poll::Ready(Ok(response
                .take()
                .expect("AuthorizeFuture polled after completion"))),
        }
    }
}
