//! [`ResponseFuture`], the bearer layer's pinned state machine: the inner
//! service's future (adding a fresh `DPoP-Nonce` to the response of a
//! DPoP request when nonces are on), a ready refusal, or the wait for a
//! key refetch or a networked replay store, the one state that boxes.
//! It decides nothing: every decision comes from the admission.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::admit::Pending;
use super::service::{admitted, refuse};
use crate::challenge::{DPOP_NONCE, fresh_nonce};
use crate::context::Edge;
use crate::credentials::Scheme;
use crate::rejection::RejectionHandler;

/// Whether the response to a request admitted with `scheme` gets a fresh
/// `DPoP-Nonce` (RFC 9449 §8.2): a DPoP request, with nonces on.
#[inline(always)]
pub(super) fn nonced(edge: &Edge, scheme: Scheme) -> bool {
    scheme == Scheme::Dpop && edge.dpop.as_ref().is_some_and(|dpop| dpop.nonces.is_some())
}

pin_project! {
    /// The response future of [`OidcBearer`](super::OidcBearer). Only the
    /// wait for keys (after an unknown `kid`) or for a networked replay
    /// store allocates.
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
        Nonced { #[pin] future: S::Future, edge: Arc<Edge> },
        Refused { response: Option<S::Response> },
        Waiting {
            wait: Pending<C>,
            request: Option<Request<ReqBody>>,
            inner: S,
            edge: Arc<Edge>,
            rejection: R,
            scheme: Scheme,
        },
    }
}

impl<S, ReqBody, C, R> ResponseFuture<S, ReqBody, C, R>
where
    S: Service<Request<ReqBody>>,
{
    /// The inner service's future. `S::Future` is built straight into
    /// its variant (the variant is chosen first), so it is not copied.
    #[inline(always)]
    pub(super) fn inner(future: S::Future) -> Self {
        ResponseFuture {
            state: State::Inner { future },
        }
    }

    /// The inner service's future for a DPoP request when nonces are on:
    /// its response gets a fresh `DPoP-Nonce`.
    #[inline(always)]
    pub(super) fn nonced(future: S::Future, edge: &Arc<Edge>) -> Self {
        ResponseFuture {
            state: State::Nonced {
                future,
                edge: edge.clone(),
            },
        }
    }

    #[inline(always)]
    pub(super) fn refused(response: S::Response) -> Self {
        ResponseFuture {
            state: State::Refused {
                response: Some(response),
            },
        }
    }

    pub(super) fn waiting(
        wait: Pending<C>,
        request: Request<ReqBody>,
        inner: S,
        edge: &Arc<Edge>,
        rejection: &R,
        scheme: Scheme,
    ) -> Self
    where
        R: Clone,
    {
        ResponseFuture {
            state: State::Waiting {
                wait,
                request: Some(request),
                inner,
                edge: edge.clone(),
                rejection: rejection.clone(),
                scheme,
            },
        }
    }
}

impl<S, ReqBody, C, R> State<S, ReqBody, C, R>
where
    S: Service<Request<ReqBody>>,
{
    /// After the wait: the inner service's future, nonced for a DPoP
    /// request when nonces are on (the rare path: a copy is no matter).
    fn admitted(future: S::Future, edge: &Arc<Edge>, scheme: Scheme) -> Self {
        if nonced(edge, scheme) {
            State::Nonced {
                future,
                edge: edge.clone(),
            }
        } else {
            State::Inner { future }
        }
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
                StateProj::Nonced { future, edge } => {
                    let mut response = match std::task::ready!(future.poll(cx)) {
                        Ok(response) => response,
                        Err(error) => return Poll::Ready(Err(error)),
                    };
                    let dpop = edge.dpop.as_deref();
                    if let Some(nonce) = dpop.and_then(|d| fresh_nonce(d, edge.validator.now())) {
                        // Unless the inner service set one itself.
                        response.headers_mut().entry(DPOP_NONCE).or_insert(nonce);
                    }
                    return Poll::Ready(Ok(response));
                }
                StateProj::Refused { response } => {
                    return Poll::Ready(Ok(response
                        .take()
                        .expect("ResponseFuture polled after completion")));
                }
                StateProj::Waiting {
                    wait,
                    request,
                    inner,
                    edge,
                    rejection,
                    scheme,
                } => {
                    let result = std::task::ready!(wait.as_mut().poll(cx));
                    let mut req = request
                        .take()
                        .expect("ResponseFuture polled after completion");
                    match result {
                        Ok((claims, how)) => {
                            admitted(edge, &mut req, claims, how);
                            State::admitted(inner.call(req), edge, *scheme)
                        }
                        Err(error) => State::Refused {
                            response: Some(refuse(edge, rejection, &error, *scheme)),
                        },
                    }
                }
            };
            self.as_mut().project().state.set(next);
        }
    }
}
