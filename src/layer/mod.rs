//! The bearer layer: [`OidcBearerLayer`] (its settings, said once for the
//! layers inside it too), [`OidcBearer`] (`service`), the one admission
//! path from a request to a decision (`admit`) and the pinned
//! [`ResponseFuture`] (`future`). A thin adapter between HTTP and the
//! validator: no verification logic here.

mod admit;
mod future;
mod service;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use tower_layer::Layer;

use crate::claims::StandardClaims;
use crate::context::Edge;
use crate::credentials::{Sources, TokenSource};
use crate::dpop::Dpop;
use crate::rejection::DefaultRejection;
use crate::validator::Validator;

pub use future::ResponseFuture;
pub use service::OidcBearer;

/// A tower [`Layer`] that verifies the request's bearer token and puts an
/// [`AuthContext`](crate::AuthContext) into the request extensions: the
/// verified claims (the [`Claims<C>`](crate::Claims) extractor reads
/// them) and how they were admitted. Made by [`Validator::layer`].
///
/// Its realm and rejection handler hold for the requirement layers and
/// extractors inside it too: say them once, here.
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
    /// Made once and shared by every service of the layer: axum applies a
    /// layer again whenever it turns a handler into a route, so `layer()`
    /// must cost no more than a reference count.
    edge: Arc<Edge>,
    rejection: R,
    _claims: PhantomData<fn() -> C>,
}

impl<C, R: Clone> Clone for OidcBearerLayer<C, R> {
    fn clone(&self) -> Self {
        OidcBearerLayer {
            edge: self.edge.clone(),
            rejection: self.rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<C, R: fmt::Debug> fmt::Debug for OidcBearerLayer<C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = &self.edge;
        f.debug_struct("OidcBearerLayer")
            .field("validator", &settings.validator)
            .field("sources", &settings.sources)
            .field("realm", &settings.realm)
            .field("anonymous", &settings.anonymous)
            .field("dpop", &settings.dpop)
            .field("rejection", &self.rejection)
            .finish()
    }
}

impl<C> OidcBearerLayer<C> {
    fn new(validator: Validator) -> Self {
        OidcBearerLayer {
            edge: Arc::new(Edge::new(validator, Sources::default())),
            rejection: DefaultRejection,
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
    /// The settings, to change: copied first if a service shares them.
    fn edge_mut(&mut self) -> &mut Edge {
        Arc::make_mut(&mut self.edge)
    }

    /// The `realm` of the `WWW-Authenticate` challenge (RFC 9110 §11.6.1),
    /// for this layer's refusals and those of the layers and extractors
    /// inside it, unless one of them names its own.
    pub fn realm(mut self, realm: impl AsRef<str>) -> Self {
        self.edge_mut().realm = Some(realm.as_ref().into());
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
        self.edge_mut().sources = Sources::new(sources);
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
        self.edge.sources.bearer_methods()
    }

    /// The layer's DPoP settings, if any (for the RFC 9728 document).
    pub(crate) fn dpop_settings(&self) -> Option<&Dpop> {
        self.edge.dpop.as_deref()
    }

    pub(crate) fn validator(&self) -> &Validator {
        &self.edge.validator
    }

    /// Let requests without any credentials through, without claims
    /// (handlers take `Option<Claims<C>>`). A token that is present but bad,
    /// or a malformed request (an unreadable `Authorization` header, a
    /// token sent two ways), is still refused.
    pub fn allow_anonymous(mut self) -> Self {
        self.edge_mut().anonymous = true;
        self
    }

    /// Accept DPoP-bound tokens with proofs (RFC 9449), or require them,
    /// or refuse bound tokens sent as bearer tokens: see [`Dpop`], and
    /// [`guide::dpop`](crate::guide::dpop) for the checks, the modes and
    /// the refusals.
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
        self.edge_mut().dpop = Some(Arc::new(settings));
        self
    }

    /// Replace how rejections are turned into responses, e.g. with
    /// [`ProblemJson`](crate::rejection::ProblemJson) or a closure
    /// `Fn(&Error, Parts) -> Response<B>`: for this layer's refusals and
    /// those of the requirement layers and extractors inside it, unless
    /// one of them names its own.
    pub fn on_rejection<R2>(self, rejection: R2) -> OidcBearerLayer<C, R2> {
        let mut edge = self.edge;
        // The handler the layers inside were handed is the old one.
        Arc::make_mut(&mut edge).forget_handler();
        OidcBearerLayer {
            edge,
            rejection,
            _claims: PhantomData,
        }
    }
}

impl<S, C, R: Clone> Layer<S> for OidcBearerLayer<C, R> {
    type Service = OidcBearer<S, C, R>;

    fn layer(&self, inner: S) -> Self::Service {
        OidcBearer::new(inner, self.edge.clone(), self.rejection.clone())
    }
}
