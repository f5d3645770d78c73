//! The tower middleware: a thin adapter from an HTTP request to the
//! validator's [`Outcome`] and back to a response.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use serde::de::DeserializeOwned;
use tower_layer::Layer;
use tower_service::Service;

use crate::claims::{Claims, StandardClaims};
use crate::dpop::{self, Dpop, DpopState, Scheme};
use crate::error::Error;
use crate::metadata::{ResourceMetadataUrl, with_resource_metadata};
use crate::rejection::{DefaultRejection, RejectionHandler, rejection_parts};
use crate::token_source::{Sources, TokenSource};
use crate::validator::{Outcome, UnknownKid, Validator};

// The request path of a layer with DPoP settings.
mod dpop_path;

/// Marks a request the layer let through without credentials
/// ([`OidcBearerLayer::allow_anonymous`]), so `Option<Claims<C>>` can tell
/// "anonymous" from "the layer is missing".
#[derive(Debug, Clone, Copy)]
pub struct Anonymous;

/// The layer's realm, beside [`Anonymous`], so a `Claims<C>` extractor
/// refusing an anonymous request can send the same challenge as the layer.
#[cfg_attr(not(feature = "axum"), allow(dead_code))]
#[derive(Debug, Clone)]
pub(crate) struct AnonymousRealm(pub(crate) Arc<str>);

/// A tower [`Layer`] that verifies the request's bearer token and puts the
/// verified [`Claims<C>`] into the request extensions. Made by
/// [`Validator::layer`].
///
/// The token comes from `Authorization: Bearer` unless
/// [`token_sources`](Self::token_sources) says otherwise (a cookie, a
/// custom header, the query parameter). A request without a token gets
/// `401` with a bare `WWW-Authenticate: Bearer` challenge, a refused token
/// `401` with `error="invalid_token"` and the rule that failed, a
/// malformed `Authorization` header or a token sent two ways `400
/// invalid_request` (RFC 6750 §3.1), and `503` with `Retry-After` while no
/// signing keys can be loaded. A refused request never reaches the inner
/// service.
///
/// Generic over request and response bodies, so it wraps any
/// `Service<http::Request<B>>`: axum routers, hyper services, tonic.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let provider = oidc_bearer_testkit::TestIssuer::start().await;
/// # let (issuer, jwks_url) = (provider.issuer.clone(), provider.jwks_url.clone());
/// # let token = provider.token("my-api");
/// use axum::{Json, Router, body::Body, routing::get};
/// use http::{Request, StatusCode};
/// use oidc_bearer::{Claims, StandardClaims, Validator};
/// use tower::ServiceExt;
///
/// async fn me(claims: Claims<StandardClaims>) -> Json<Claims<StandardClaims>> {
///     Json(claims)
/// }
///
/// let validator = Validator::builder()
///     .issuer(issuer)
///     .audience("my-api")
///     .jwks_url(jwks_url)
///     .build()
///     .await?;
/// let app = Router::new()
///     .route("/me", get(me))
///     // `route_layer`: only matched routes need a token, so an unknown
///     // path is still 404.
///     .route_layer(validator.layer::<StandardClaims>().realm("my-api"));
///
/// let request = |auth: Option<&str>| {
///     let mut request = Request::get("/me");
///     if let Some(auth) = auth {
///         request = request.header("authorization", auth);
///     }
///     request.body(Body::empty()).unwrap()
/// };
/// let ok = app.clone().oneshot(request(Some(&format!("Bearer {token}")))).await?;
/// assert_eq!(ok.status(), StatusCode::OK);
/// let anonymous = app.clone().oneshot(request(None)).await?;
/// assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(anonymous.headers()["www-authenticate"], r#"Bearer realm="my-api""#);
/// # Ok(()) }
/// ```
pub struct OidcBearerLayer<C = StandardClaims, R = DefaultRejection> {
    validator: Validator,
    sources: Sources,
    realm: Option<Arc<str>>,
    anonymous: bool,
    rejection: R,
    dpop: Option<Arc<DpopState>>,
    _claims: PhantomData<fn() -> C>,
}

impl<C, R: Clone> Clone for OidcBearerLayer<C, R> {
    fn clone(&self) -> Self {
        OidcBearerLayer {
            validator: self.validator.clone(),
            sources: self.sources.clone(),
            realm: self.realm.clone(),
            anonymous: self.anonymous,
            rejection: self.rejection.clone(),
            dpop: self.dpop.clone(),
            _claims: PhantomData,
        }
    }
}

impl<C> OidcBearerLayer<C> {
    pub(crate) fn new(validator: Validator) -> Self {
        OidcBearerLayer {
            validator,
            sources: Sources::default(),
            realm: None,
            anonymous: false,
            rejection: DefaultRejection,
            dpop: None,
            _claims: PhantomData,
        }
    }
}

// Defined beside what it makes, so the validator never names the HTTP edge.
impl Validator {
    /// A tower layer that verifies bearer tokens with this validator and
    /// hands handlers the claims as `Claims<C>` (see [`OidcBearerLayer`]).
    pub fn layer<C>(&self) -> OidcBearerLayer<C> {
        OidcBearerLayer::new(self.clone())
    }
}

impl<C, R> OidcBearerLayer<C, R> {
    /// The `realm` of the `WWW-Authenticate` challenge.
    pub fn realm(mut self, realm: impl AsRef<str>) -> Self {
        self.realm = Some(realm.as_ref().into());
        self
    }

    /// Where to read the token: this one source instead of the default
    /// `Authorization: Bearer` header. See [`TokenSource`].
    ///
    /// ```
    /// # async fn doc(validator: oidc_bearer::Validator) {
    /// use oidc_bearer::{StandardClaims, TokenSource};
    ///
    /// let layer = validator
    ///     .layer::<StandardClaims>()
    ///     .token_source(TokenSource::cookie("access_token"));
    /// # }
    /// ```
    pub fn token_source(self, source: TokenSource) -> Self {
        self.token_sources([source])
    }

    /// Where to read the token: every source of the list, on every
    /// request. A token found in two of them is refused with `400
    /// invalid_request` (RFC 6750 §2: one method per request); the order
    /// decides which source's error is reported first. Listing
    /// [`TokenSource::insecure_query_parameter`] logs a warning here, once.
    /// See [`TokenSource`].
    ///
    /// ```
    /// # async fn doc(validator: oidc_bearer::Validator) {
    /// use oidc_bearer::{StandardClaims, TokenSource};
    ///
    /// let layer = validator
    ///     .layer::<StandardClaims>()
    ///     .token_sources([TokenSource::authorization_header(), TokenSource::cookie("at")]);
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// On an empty list: no request could carry a token.
    pub fn token_sources(mut self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        self.sources = Sources::new(sources);
        self
    }

    /// The RFC 9728 `bearer_methods_supported` values of the configured
    /// sources, each once in the configured order: `"header"` for the
    /// `Authorization` header, `"query"` for the query parameter. Cookies
    /// and custom headers are no RFC 6750 method and add nothing, so a
    /// cookie-only layer returns an empty list, which RFC 9728 reads as "no
    /// bearer method" (right: a client cannot be told to use a cookie).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oidc_bearer::Error> {
    /// # let provider = oidc_bearer_testkit::TestIssuer::start().await;
    /// # let validator = oidc_bearer::Validator::builder()
    /// #     .issuer(&provider.issuer).audience("my-api").jwks_url(&provider.jwks_url)
    /// #     .build().await?;
    /// use oidc_bearer::{StandardClaims, TokenSource};
    ///
    /// let layer = validator.layer::<StandardClaims>();
    /// assert_eq!(layer.bearer_methods(), ["header"]);
    /// let layer = layer.token_sources([
    ///     TokenSource::cookie("at"),
    ///     TokenSource::insecure_query_parameter(),
    /// ]);
    /// assert_eq!(layer.bearer_methods(), ["query"]);
    /// # Ok(()) }
    /// ```
    pub fn bearer_methods(&self) -> Vec<&'static str> {
        self.sources.bearer_methods()
    }

    /// The layer's DPoP settings, if any (for the RFC 9728 document).
    pub(crate) fn dpop_settings(&self) -> Option<&Dpop> {
        self.dpop.as_deref().map(|state| &state.settings)
    }

    pub(crate) fn validator(&self) -> &Validator {
        &self.validator
    }

    /// Let requests without any credentials through, without claims
    /// (handlers take `Option<Claims<C>>`). A token that is present but bad,
    /// or a malformed request (an unreadable `Authorization` header, a
    /// token sent two ways), is still refused.
    pub fn allow_anonymous(mut self) -> Self {
        self.anonymous = true;
        self
    }

    /// Accept DPoP-bound tokens with proofs (RFC 9449), or require them,
    /// or refuse bound tokens sent as bearer tokens: see [`Dpop`], whose
    /// documentation lists the checks, the modes and the refusals.
    ///
    /// A request admitted with the `DPoP` scheme is marked as such, so the
    /// refusals of a [`Require`](crate::Require) or [`StepUp`](crate::StepUp)
    /// inside this layer carry a `DPoP` challenge (RFC 9449 §7.1). With
    /// [nonces](Dpop::nonces), every response of the inner service to such
    /// a request carries the current `DPoP-Nonce` (RFC 9449 §8.2), so
    /// clients pick up a new nonce without a `401` first.
    ///
    /// ```
    /// # async fn doc(validator: oidc_bearer::Validator) {
    /// use oidc_bearer::{Dpop, StandardClaims};
    ///
    /// let layer = validator
    ///     .layer::<StandardClaims>()
    ///     .dpop(Dpop::required().external_url("https://api.example.com"));
    /// # }
    /// ```
    pub fn dpop(mut self, settings: Dpop) -> Self {
        self.dpop = Some(Arc::new(DpopState {
            settings,
            clock: self.validator.clock(),
        }));
        self
    }

    /// Replace how rejections are turned into responses, e.g. with
    /// [`ProblemJson`](crate::ProblemJson) or a closure
    /// `Fn(&Error, Parts) -> Response<B>`.
    pub fn on_rejection<R2>(self, rejection: R2) -> OidcBearerLayer<C, R2> {
        OidcBearerLayer {
            validator: self.validator,
            sources: self.sources,
            realm: self.realm,
            anonymous: self.anonymous,
            rejection,
            dpop: self.dpop,
            _claims: PhantomData,
        }
    }
}

impl<S, C, R: Clone> Layer<S> for OidcBearerLayer<C, R> {
    type Service = OidcBearer<S, C, R>;

    fn layer(&self, inner: S) -> Self::Service {
        OidcBearer {
            inner,
            validator: self.validator.clone(),
            sources: self.sources.clone(),
            realm: self.realm.clone(),
            anonymous: self.anonymous,
            rejection: self.rejection.clone(),
            dpop: self.dpop.clone(),
            _claims: PhantomData,
        }
    }
}

/// The middleware [`OidcBearerLayer`] applies: verifies the bearer token,
/// then calls the inner service with `Claims<C>` in the request
/// extensions.
pub struct OidcBearer<S, C = StandardClaims, R = DefaultRejection> {
    inner: S,
    validator: Validator,
    sources: Sources,
    realm: Option<Arc<str>>,
    anonymous: bool,
    rejection: R,
    dpop: Option<Arc<DpopState>>,
    _claims: PhantomData<fn() -> C>,
}

impl<S: Clone, C, R: Clone> Clone for OidcBearer<S, C, R> {
    fn clone(&self) -> Self {
        OidcBearer {
            inner: self.inner.clone(),
            validator: self.validator.clone(),
            sources: self.sources.clone(),
            realm: self.realm.clone(),
            anonymous: self.anonymous,
            rejection: self.rejection.clone(),
            dpop: self.dpop.clone(),
            _claims: PhantomData,
        }
    }
}

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for OidcBearer<S, C, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    C: DeserializeOwned + Send + Sync + 'static,
    R: RejectionHandler<ResBody>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, C, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // For the layers inside (a `Require`'s refusal names the same
        // document); only when a resource is configured.
        if let Some(resource) = self.validator.resource() {
            req.extensions_mut()
                .insert(ResourceMetadataUrl(resource.metadata_url.clone()));
        }
        if let Some(state) = self.dpop.clone() {
            return self.call_dpop(req, state);
        }
        let max_len = self.validator.max_token_len();
        let token = match self.sources.token(req.headers(), req.uri(), max_len) {
            Ok(Some(token)) => token,
            Ok(None) if self.anonymous => {
                self.mark_anonymous(&mut req);
                return self.forward(req);
            }
            Ok(None) => {
                self.validator.count_rejection(&Error::MissingToken);
                return self.reject(&Error::MissingToken);
            }
            Err(error) => {
                self.validator.count_rejection(&error);
                return self.reject(&error);
            }
        };
        match self.validator.check::<C>(&token, UnknownKid::Wait) {
            Outcome::Verified(claims) => {
                req.extensions_mut().insert(claims);
                self.forward(req)
            }
            Outcome::Rejected(error) => self.reject(&error),
            Outcome::WaitForKeys(wait) => {
                // Rare slow path (rotation, or a forged kid): the one place
                // a future is boxed.
                let validator = self.validator.clone();
                let token = token.into_owned();
                let wait = Box::pin(async move { validator.verify_after(&token, wait).await });
                self.waiting(wait, req, None)
            }
        }
    }
}

impl<S, C, R> OidcBearer<S, C, R> {
    fn forward<ReqBody, ResBody>(
        &mut self,
        req: Request<ReqBody>,
    ) -> ResponseFuture<S, ReqBody, C, R>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    {
        ResponseFuture {
            state: State::Inner {
                future: self.inner.call(req),
            },
        }
    }

    /// Lets a request without credentials through (`allow_anonymous`),
    /// marked so extractors and `Require` can tell, with the realm for
    /// their challenges.
    fn mark_anonymous<ReqBody>(&self, req: &mut Request<ReqBody>) {
        req.extensions_mut().insert(Anonymous);
        if let Some(realm) = &self.realm {
            req.extensions_mut().insert(AnonymousRealm(realm.clone()));
        }
    }

    /// The response future that waits for `wait` (a key refetch, a network
    /// replay store), then calls the inner service or refuses.
    fn waiting<ReqBody>(
        &mut self,
        wait: Wait<C>,
        req: Request<ReqBody>,
        dpop: Option<(Arc<DpopState>, Scheme)>,
    ) -> ResponseFuture<S, ReqBody, C, R>
    where
        S: Service<Request<ReqBody>> + Clone,
        R: Clone,
    {
        let clone = self.inner.clone();
        ResponseFuture {
            state: State::Waiting {
                wait,
                request: Some(req),
                inner: std::mem::replace(&mut self.inner, clone),
                rejection: self.rejection.clone(),
                realm: self.realm.clone(),
                resource_metadata: self.validator.resource().map(|r| r.metadata_url.clone()),
                dpop,
            },
        }
    }

    fn reject<ReqBody, ResBody>(&self, error: &Error) -> ResponseFuture<S, ReqBody, C, R>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
        R: RejectionHandler<ResBody>,
    {
        let parts = with_resource_metadata(
            rejection_parts(error, self.realm.as_deref()),
            self.validator.resource_metadata_url(),
        );
        ResponseFuture {
            state: State::Reject {
                response: Some(self.rejection.rejection(error, parts)),
            },
        }
    }
}

/// The state for a request admitted with the `DPoP` scheme, whose claims
/// are in its extensions: marked for the refusals of `Require` and
/// `StepUp` inside (a DPoP challenge, RFC 9449 §7.1), and, with nonces,
/// answered with a fresh `DPoP-Nonce`.
fn dpop_admitted<S, ReqBody, C, R>(
    inner: &mut S,
    mut req: Request<ReqBody>,
    state: &Arc<DpopState>,
) -> State<S, ReqBody, C, R>
where
    S: Service<Request<ReqBody>>,
{
    req.extensions_mut().insert(dpop::DpopRequest {
        state: state.clone(),
        scheme: Some(Scheme::Dpop),
    });
    let future = inner.call(req);
    match state.settings.nonces {
        Some(_) => State::Nonced {
            future,
            state: state.clone(),
        },
        None => State::Inner { future },
    }
}

type Wait<C> = Pin<Box<dyn Future<Output = Result<Claims<C>, Error>> + Send>>;

pin_project! {
    /// The response future of [`OidcBearer`]: the inner service's future
    /// (for a DPoP request with nonces on, one that adds `DPoP-Nonce` to
    /// its response), a ready rejection, or (after an unknown `kid`) the
    /// wait for the shared key refetch. Only that last, rare state
    /// allocates.
    pub struct ResponseFuture<S, ReqBody, C, R>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody, C, R>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody, C, R>
    where
        S: Service<Request<ReqBody>>,
    {
        Inner { #[pin] future: S::Future },
        Nonced { #[pin] future: S::Future, state: Arc<DpopState> },
        Reject { response: Option<S::Response> },
        Waiting {
            wait: Wait<C>,
            request: Option<Request<ReqBody>>,
            inner: S,
            rejection: R,
            realm: Option<Arc<str>>,
            resource_metadata: Option<Arc<str>>,
            dpop: Option<(Arc<DpopState>, Scheme)>,
        },
    }
}

impl<S, ReqBody, ResBody, C, R> Future for ResponseFuture<S, ReqBody, C, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    C: Send + Sync + 'static,
    R: RejectionHandler<ResBody>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().state.project() {
                StateProj::Inner { future } => return future.poll(cx),
                StateProj::Nonced { future, state } => {
                    let mut response = match std::task::ready!(future.poll(cx)) {
                        Ok(response) => response,
                        Err(error) => return Poll::Ready(Err(error)),
                    };
                    if let Some(nonce) = dpop::fresh_nonce(state) {
                        dpop::add_nonce(response.headers_mut(), nonce);
                    }
                    return Poll::Ready(Ok(response));
                }
                StateProj::Reject { response } => {
                    return Poll::Ready(Ok(response
                        .take()
                        .expect("ResponseFuture polled after completion")));
                }
                StateProj::Waiting {
                    wait,
                    request,
                    inner,
                    rejection,
                    realm,
                    resource_metadata,
                    dpop,
                } => {
                    let result = std::task::ready!(wait.as_mut().poll(cx));
                    let mut req = request
                        .take()
                        .expect("ResponseFuture polled after completion");
                    match result {
                        Ok(claims) => {
                            req.extensions_mut().insert(claims);
                            match dpop {
                                Some((state, Scheme::Dpop)) => dpop_admitted(inner, req, state),
                                _ => State::Inner {
                                    future: inner.call(req),
                                },
                            }
                        }
                        Err(error) => {
                            let parts = match dpop {
                                Some((state, scheme)) => dpop::dpop_rejection_parts(
                                    &error,
                                    realm.as_deref(),
                                    state,
                                    *scheme,
                                ),
                                None => rejection_parts(&error, realm.as_deref()),
                            };
                            let parts = with_resource_metadata(parts, resource_metadata.as_deref());
                            State::Reject {
                                response: Some(rejection.rejection(&error, parts)),
                            }
                        }
                    }
                }
            };
            self.as_mut().project().state.set(next);
        }
    }
}
