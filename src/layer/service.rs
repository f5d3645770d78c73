//! [`OidcBearer`], the service [`OidcBearerLayer`](super::OidcBearerLayer)
//! makes: one admission, one match, and the one place that counts what
//! the layer refuses (the validator counts what it decides itself).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::admit::{Admission, admit};
use super::future::{ResponseFuture, nonced};
use crate::challenge::Presented;
use crate::claims::{Claims, StandardClaims};
use crate::context::{self, AuthContext, Edge};
use crate::credentials::Scheme;
use crate::error::{Error, Origin};
use crate::rejection::{DefaultRejection, RejectionHandler};

/// The middleware [`OidcBearerLayer`](super::OidcBearerLayer) applies:
/// verifies the request's token, then calls the inner service with an
/// [`AuthContext`] (the claims, how they were admitted) in the request
/// extensions.
pub struct OidcBearer<S, C = StandardClaims, R = DefaultRejection> {
    inner: S,
    edge: Arc<Edge>,
    rejection: R,
    _claims: PhantomData<fn() -> C>,
}

impl<S, C, R> OidcBearer<S, C, R> {
    pub(super) fn new(inner: S, edge: Arc<Edge>, rejection: R) -> Self {
        OidcBearer {
            inner,
            edge,
            rejection,
            _claims: PhantomData,
        }
    }

    inner_service_accessors!();
}

impl<S: Clone, C, R: Clone> Clone for OidcBearer<S, C, R> {
    fn clone(&self) -> Self {
        OidcBearer::new(
            self.inner.clone(),
            self.edge.clone(),
            self.rejection.clone(),
        )
    }
}

impl<S: fmt::Debug, C, R: fmt::Debug> fmt::Debug for OidcBearer<S, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcBearer")
            .field("inner", &self.inner)
            .field("validator", &self.edge.validator)
            .field("realm", &self.edge.realm)
            .field("rejection", &self.rejection)
            .finish_non_exhaustive()
    }
}

impl<S, C, R, ReqBody, ResBody> Service<Request<ReqBody>> for OidcBearer<S, C, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    C: DeserializeOwned + Send + Sync + 'static,
    R: RejectionHandler<ResBody> + Send + Sync + 'static,
    ResBody: 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, C, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // For the layers inside, which answer with this layer's handler.
        self.edge.keep_handler::<ResBody, R>(&self.rejection);
        match admit::<C>(&self.edge, req.method(), req.uri(), req.headers()) {
            Admission::Verified(claims, how) => {
                let scheme = how.scheme();
                admitted(&self.edge, &mut req, claims, how);
                if nonced(&self.edge, scheme) {
                    ResponseFuture::nonced(self.inner.call(req), &self.edge)
                } else {
                    ResponseFuture::inner(self.inner.call(req))
                }
            }
            Admission::Anonymous if self.edge.anonymous => {
                let context =
                    AuthContext::new(self.edge.clone(), context::Admission::Anonymous, None);
                req.extensions_mut().insert(context);
                ResponseFuture::inner(self.inner.call(req))
            }
            Admission::Anonymous => {
                let error = Error::MissingToken;
                let response = refuse(&self.edge, &self.rejection, &error, Scheme::Bearer);
                ResponseFuture::refused(response)
            }
            Admission::Rejected(error, scheme) => {
                ResponseFuture::refused(refuse(&self.edge, &self.rejection, &error, scheme))
            }
            Admission::Pending(wait, scheme) => {
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::waiting(wait, req, inner, &self.edge, &self.rejection, scheme)
            }
        }
    }
}

/// Puts the verified claims, and how they came, into the request.
#[inline]
pub(super) fn admitted<B, C: Send + Sync + 'static>(
    edge: &Arc<Edge>,
    req: &mut Request<B>,
    claims: Claims<C>,
    how: context::Admission,
) {
    let context = AuthContext::new(edge.clone(), how, Some(claims.0));
    req.extensions_mut().insert(context);
}

/// The layer's refusal of a request that presented `scheme`, and the one
/// place the layer counts a refusal: what the request or the proof got
/// wrong. The validator counts what it decided about the token itself.
pub(super) fn refuse<B, R: RejectionHandler<B>>(
    edge: &Edge,
    rejection: &R,
    error: &Error,
    scheme: Scheme,
) -> Response<B> {
    if matches!(error.origin(), Origin::Request | Origin::Proof) {
        edge.validator.count_rejection(error);
    }
    let parts = edge.refusal(error, None, Presented::AtTheLayer(scheme));
    rejection.rejection(error, parts)
}
