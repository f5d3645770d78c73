//! Tower middleware that verifies the request's bearer token and puts the
//! verified [`Claims<C>`] into the request extensions.
//!
//! ```no_run
//! use axum::{Json, Router, routing::get};
//! use oidc_bearer::{Claims, StandardClaims, Validator};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let validator = Validator::builder()
//!     .issuer("https://login.example.com/realms/demo")
//!     .audience("my-api")
//!     .jwks_url("https://login.example.com/realms/demo/protocol/openid-connect/certs")
//!     .build()
//!     .await?;
//!
//! async fn me(claims: Claims<StandardClaims>) -> Json<Claims<StandardClaims>> {
//!     Json(claims)
//! }
//!
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     .layer(validator.layer::<StandardClaims>().realm("my-api"));
//! # Ok(()) }
//! ```
//!
//! The layer is generic over request and response bodies, so it wraps any
//! `Service<http::Request<B>>`: axum routers, hyper services, tonic.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use serde::de::DeserializeOwned;
use tower_layer::Layer;
use tower_service::Service;

use crate::claims::{Claims, StandardClaims};
use crate::error::{Error, ErrorKind};
use crate::validator::Validator;

/// Marks a request the layer let through without credentials
/// ([`OidcBearerLayer::allow_anonymous`]), so `Option<Claims<C>>` can tell
/// "anonymous" from "the layer is missing".
#[derive(Debug, Clone, Copy)]
pub struct Anonymous;

/// The layer's realm, beside [`Anonymous`], so a `Claims<C>` extractor
/// refusing an anonymous request can send the same challenge as the layer.
#[derive(Debug, Clone)]
pub(crate) struct AnonymousRealm(pub(crate) Arc<str>);

/// Applies [`OidcBearer`] to a service. Made by [`Validator::layer`].
pub struct OidcBearerLayer<C = StandardClaims, R = DefaultRejection> {
    validator: Validator,
    realm: Option<Arc<str>>,
    anonymous: bool,
    rejection: R,
    _claims: PhantomData<fn() -> C>,
}

impl<C, R: Clone> Clone for OidcBearerLayer<C, R> {
    fn clone(&self) -> Self {
        OidcBearerLayer {
            validator: self.validator.clone(),
            realm: self.realm.clone(),
            anonymous: self.anonymous,
            rejection: self.rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl Validator {
    /// A tower layer that verifies bearer tokens with this validator and
    /// hands handlers the claims as `Claims<C>`.
    pub fn layer<C>(&self) -> OidcBearerLayer<C> {
        OidcBearerLayer {
            validator: self.clone(),
            realm: None,
            anonymous: false,
            rejection: DefaultRejection,
            _claims: PhantomData,
        }
    }
}

impl<C, R> OidcBearerLayer<C, R> {
    /// The `realm` of the `WWW-Authenticate` challenge.
    pub fn realm(mut self, realm: impl AsRef<str>) -> Self {
        self.realm = Some(realm.as_ref().into());
        self
    }

    /// Let requests without any `Authorization` header through, without
    /// claims (handlers take `Option<Claims<C>>`). A token that is present
    /// but bad is still refused.
    pub fn allow_anonymous(mut self) -> Self {
        self.anonymous = true;
        self
    }

    /// Replace how rejections are turned into responses, e.g. with
    /// [`ProblemJson`] or a closure `Fn(&Error, Parts) -> Response<B>`.
    pub fn on_rejection<R2>(self, rejection: R2) -> OidcBearerLayer<C, R2> {
        OidcBearerLayer {
            validator: self.validator,
            realm: self.realm,
            anonymous: self.anonymous,
            rejection,
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
            realm: self.realm.clone(),
            anonymous: self.anonymous,
            rejection: self.rejection.clone(),
            _claims: PhantomData,
        }
    }
}

/// The middleware: verifies the bearer token, then calls the inner service
/// with `Claims<C>` in the request extensions. A refused request never
/// reaches the inner service.
pub struct OidcBearer<S, C = StandardClaims, R = DefaultRejection> {
    inner: S,
    validator: Validator,
    realm: Option<Arc<str>>,
    anonymous: bool,
    rejection: R,
    _claims: PhantomData<fn() -> C>,
}

impl<S: Clone, C, R: Clone> Clone for OidcBearer<S, C, R> {
    fn clone(&self) -> Self {
        OidcBearer {
            inner: self.inner.clone(),
            validator: self.validator.clone(),
            realm: self.realm.clone(),
            anonymous: self.anonymous,
            rejection: self.rejection.clone(),
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
        let outcome = match bearer_token(req.headers()) {
            Ok(Some(token)) => match self.validator.verify_inner::<C>(token) {
                Err(Error::UnknownKey) => match self.validator.refetch_kid(token) {
                    Some(kid) => {
                        // Rare slow path (rotation, or a forged kid): the one
                        // place a future is boxed.
                        let wait = Box::pin(
                            self.validator
                                .clone()
                                .verify_after_refetch::<C>(token.to_owned(), kid),
                        );
                        let clone = self.inner.clone();
                        let inner = std::mem::replace(&mut self.inner, clone);
                        return ResponseFuture {
                            state: State::Waiting {
                                wait,
                                request: Some(req),
                                inner,
                                rejection: self.rejection.clone(),
                                realm: self.realm.clone(),
                                validator: self.validator.clone(),
                            },
                        };
                    }
                    None => self.validator.finish(Err(Error::UnknownKey)),
                },
                other => self.validator.finish(other).map(Some),
            },
            Ok(None) if self.anonymous => Ok(None),
            Ok(None) => Err(Error::MissingToken),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(Some(claims)) => {
                req.extensions_mut().insert(claims);
            }
            Ok(None) => {
                req.extensions_mut().insert(Anonymous);
                if let Some(realm) = &self.realm {
                    req.extensions_mut().insert(AnonymousRealm(realm.clone()));
                }
            }
            Err(error) => {
                let parts = layer_rejection_parts(&self.validator, &error, self.realm.as_deref());
                return ResponseFuture {
                    state: State::Reject {
                        response: Some(self.rejection.rejection(&error, parts)),
                    },
                };
            }
        }
        ResponseFuture {
            state: State::Inner {
                future: self.inner.call(req),
            },
        }
    }
}

type Wait<C> = Pin<Box<dyn Future<Output = Result<Claims<C>, Error>> + Send>>;

pin_project! {
    /// The response future of [`OidcBearer`]: the inner service's future,
    /// a ready rejection, or (after an unknown `kid`) the wait for the
    /// shared key refetch. Only that last, rare state allocates.
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
        Reject { response: Option<S::Response> },
        Waiting {
            wait: Wait<C>,
            request: Option<Request<ReqBody>>,
            inner: S,
            rejection: R,
            realm: Option<Arc<str>>,
            validator: Validator,
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
                    validator,
                } => {
                    let result = std::task::ready!(wait.as_mut().poll(cx));
                    let mut req = request
                        .take()
                        .expect("ResponseFuture polled after completion");
                    match result {
                        Ok(claims) => {
                            req.extensions_mut().insert(claims);
                            State::Inner {
                                future: inner.call(req),
                            }
                        }
                        Err(error) => {
                            let parts = layer_rejection_parts(validator, &error, realm.as_deref());
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

/// Takes the bearer token from the request (RFC 6750 §2.1).
///
/// `Ok(None)`: no credentials for this scheme. `Err`: the request is
/// malformed (400 `invalid_request`).
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, Error> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Error::InvalidRequest("more than one Authorization header"));
    }
    // The common case, `Bearer <token68>`, in one pass over the bytes:
    // token68 characters are visible ASCII, so the token68 check also
    // proves what `HeaderValue::to_str` would check, and the UTF-8 check
    // of pure ASCII is a word-at-a-time formality. Anything else (another
    // scheme, a malformed value) takes the general path below, which
    // decides exactly as before and picks the error message.
    if let Some(token) = well_formed_bearer(value.as_bytes()) {
        return Ok(Some(token));
    }
    let value = value
        .to_str()
        .map_err(|_| Error::InvalidRequest("Authorization header is not visible ASCII"))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Another scheme (Basic, DPoP, ...): no bearer credentials.
        return Ok(None);
    }
    let token = rest.trim_matches(' ');
    if token.is_empty() {
        return Err(Error::InvalidRequest("Bearer scheme without a token"));
    }
    if !is_token68(token.as_bytes()) {
        return Err(Error::InvalidRequest("bearer token is not token68"));
    }
    Ok(Some(token))
}

/// The token of `Bearer <token68>` (scheme in any case, spaces around the
/// token), or `None` for anything the general path has to look at.
fn well_formed_bearer(value: &[u8]) -> Option<&str> {
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    // Spaces only, as the general path trims: a tab is not token68 there.
    let start = rest.iter().position(|&b| b != b' ')?;
    let end = rest.iter().rposition(|&b| b != b' ')? + 1;
    let token = &rest[start..end];
    if !is_token68(token) {
        return None;
    }
    std::str::from_utf8(token).ok()
}

/// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
fn is_token68(s: &[u8]) -> bool {
    let body_len = s.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    let body = &s[..body_len];
    if body.is_empty() {
        return false;
    }
    // Branch-free per byte over fixed 32-byte blocks, so the compiler
    // checks them with vector compares; the tail is one more block ending
    // at the last byte (overlapping the one before), unless the whole body
    // is shorter than a block.
    const BLOCK: usize = 32;
    fn block_ok(block: &[u8; BLOCK]) -> bool {
        let mut bad = 0u8;
        for &b in block {
            bad |= u8::from(!token68_body_byte(b));
        }
        bad == 0
    }
    let Some(last) = body.last_chunk::<BLOCK>() else {
        return body.iter().all(|&b| token68_body_byte(b));
    };
    body.as_chunks::<BLOCK>().0.iter().all(block_ok) && block_ok(last)
}

#[inline(always)]
fn token68_body_byte(b: u8) -> bool {
    // ALPHA: folding case maps exactly `A-Z` and `a-z` onto `a-z`.
    let alpha = (b | 0x20).wrapping_sub(b'a') < 26;
    // `-`, `.`, `/` and DIGIT are the contiguous range 0x2D..=0x39.
    let dash_to_digit = b.wrapping_sub(b'-') < 13;
    alpha | dash_to_digit | (b == b'+') | (b == b'_') | (b == b'~')
}

/// [`rejection_parts`] with `Retry-After` set to when the validator will
/// next try to fetch keys.
fn layer_rejection_parts(
    validator: &Validator,
    error: &Error,
    realm: Option<&str>,
) -> http::response::Parts {
    let mut parts = rejection_parts(error, realm);
    if error.kind() == ErrorKind::Unavailable {
        parts
            .headers
            .insert(RETRY_AFTER, HeaderValue::from(validator.retry_after_secs()));
    }
    parts
}

/// Status, `WWW-Authenticate` and `Retry-After` for a rejection: the part
/// of the response RFC 6750 fixes, whoever writes the body.
pub fn rejection_parts(error: &Error, realm: Option<&str>) -> http::response::Parts {
    let (mut parts, ()) = Response::new(()).into_parts();
    parts.status = error.status();
    if let Some(challenge) = error.www_authenticate(realm) {
        parts.headers.insert(WWW_AUTHENTICATE, challenge);
    }
    if error.kind() == ErrorKind::Unavailable {
        parts
            .headers
            .insert(RETRY_AFTER, HeaderValue::from_static("10"));
    }
    parts
}

/// Turns a refused request into a response.
///
/// `parts` already carries the status, `WWW-Authenticate` and (for 503)
/// `Retry-After` that RFC 6750 asks for; add a body, or change anything.
///
/// ```
/// use http::{Response, response::Parts};
/// use oidc_bearer::Error;
///
/// // A closure works as a handler:
/// let plain_text = |error: &Error, parts: Parts| {
///     Response::from_parts(parts, error.description())
/// };
/// # let _ = plain_text;
/// ```
pub trait RejectionHandler<B>: Clone {
    /// Builds the response for `error`.
    fn rejection(&self, error: &Error, parts: http::response::Parts) -> Response<B>;
}

/// Status and headers with an empty body.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultRejection;

impl<B: Default> RejectionHandler<B> for DefaultRejection {
    fn rejection(&self, _error: &Error, parts: http::response::Parts) -> Response<B> {
        Response::from_parts(parts, B::default())
    }
}

/// An RFC 9457 `application/problem+json` body beside the RFC 6750
/// headers: `{"type":"about:blank","title":…,"status":…,"detail":…}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProblemJson;

impl<B: From<String>> RejectionHandler<B> for ProblemJson {
    fn rejection(&self, error: &Error, mut parts: http::response::Parts) -> Response<B> {
        let body = serde_json::json!({
            "type": "about:blank",
            "title": parts.status.canonical_reason().unwrap_or("Error"),
            "status": parts.status.as_u16(),
            "detail": error.description(),
        });
        parts.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        Response::from_parts(parts, B::from(body.to_string()))
    }
}

impl<B, F> RejectionHandler<B> for F
where
    F: Fn(&Error, http::response::Parts) -> Response<B> + Clone,
{
    fn rejection(&self, error: &Error, parts: http::response::Parts) -> Response<B> {
        self(error, parts)
    }
}

impl<C> Claims<C> {
    /// The claims the layer put into these request extensions, if any.
    pub fn from_extensions(extensions: &http::Extensions) -> Option<Self>
    where
        C: Send + Sync + 'static,
    {
        extensions.get::<Claims<C>>().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn header_parsing() {
        assert_eq!(bearer_token(&headers(&[])).unwrap(), None);
        assert_eq!(
            bearer_token(&headers(&[b"Bearer abc.def.ghi"])).unwrap(),
            Some("abc.def.ghi")
        );
        assert_eq!(
            bearer_token(&headers(&[b"bEaReR abc"])).unwrap(),
            Some("abc")
        );
        assert_eq!(
            bearer_token(&headers(&[b"Basic dXNlcjpwYXNz"])).unwrap(),
            None
        );
        assert_eq!(
            bearer_token(&headers(&[b"Bearer a+b/c=="])).unwrap(),
            Some("a+b/c==")
        );
        for bad in [
            &b"Bearer"[..],
            b"Bearer ",
            b"Bearer a b",
            b"Bearer a=b",
            b"Bearer ===",
            b"Bearer a\"b",
            b"Bearer \xff",
        ] {
            assert!(
                matches!(
                    bearer_token(&headers(&[bad])),
                    Err(Error::InvalidRequest(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            bearer_token(&headers(&[b"Bearer a", b"Bearer b"])),
            Err(Error::InvalidRequest(_))
        ));
    }

    /// The header check as it was before the one-pass fast path: the
    /// reference the fast path must agree with, error message included.
    fn reference(value: &[u8]) -> Result<Option<&str>, Error> {
        let value = HeaderValue::from_bytes(value).unwrap();
        let value = value
            .to_str()
            .map_err(|_| Error::InvalidRequest("Authorization header is not visible ASCII"))?;
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Ok(None);
        }
        let token = rest.trim_matches(' ');
        if token.is_empty() {
            return Err(Error::InvalidRequest("Bearer scheme without a token"));
        }
        let body = token.trim_end_matches('=');
        if body.is_empty()
            || !body.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
            })
        {
            return Err(Error::InvalidRequest("bearer token is not token68"));
        }
        Ok(Some("token"))
    }

    fn outcome(r: Result<Option<&str>, Error>) -> String {
        match r {
            Ok(Some(_)) => "token".into(),
            Ok(None) => "none".into(),
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn fast_path_agrees_with_the_reference() {
        // 83 bytes: two whole 32-byte blocks and a tail.
        let token =
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl_c2lnbmF0dXJl-c2lnbmF0dXJlc2lnbmF0";
        let mut values: Vec<Vec<u8>> = Vec::new();
        for prefix in [
            "Bearer ", "bearer ", "BEARER  ", "Bearer\t", "Bearerx ", "Basic ", "",
        ] {
            for suffix in ["", "=", "==", " ", "  ", "\t", "= ", "=a"] {
                // Every byte a header value may hold, at the start, inside
                // (in and after the first 16-byte chunk) and at the end.
                for b in (0u8..=255).filter(|&b| b != b'\r' && b != b'\n' && b != 0) {
                    for at in [0, 1, 15, 16, 17, 30, 31, 32, 33, 40, 63, 64, 65, 81, 82, 83] {
                        let mut v = format!("{prefix}{token}").into_bytes();
                        v.insert(prefix.len() + at, b);
                        v.extend_from_slice(suffix.as_bytes());
                        values.push(v);
                    }
                }
                values.push(format!("{prefix}{token}{suffix}").into_bytes());
                values.push(format!("{prefix}{suffix}").into_bytes());
                values.push(format!("{prefix}a{suffix}").into_bytes());
            }
        }
        for v in &values {
            let Ok(_) = HeaderValue::from_bytes(v) else {
                continue;
            };
            let got = outcome(bearer_token(&headers(&[v])));
            let want = outcome(reference(v));
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(v));
            if got == "token" {
                // The token handed on is the value minus scheme and spaces.
                let h = headers(&[v]);
                let t = bearer_token(&h).unwrap().unwrap();
                let s = std::str::from_utf8(v).unwrap();
                assert_eq!(s[7..].trim_matches(' '), t);
            }
        }
    }
}
