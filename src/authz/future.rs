//! [`AuthorizeFuture`], the response future of an
//! [`Authorize`](super::Authorize): the inner service's future, or the
//! refusal the layer already made. It decides nothing: the layer chose
//! before the future exists.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

pin_project! {
    /// The response future of [`Authorize`](super::Authorize): the inner service's future, or
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
    #[inline(always)]
    pub(super) fn inner(future: F) -> Self {
        AuthorizeFuture {
            state: State::Inner { future },
        }
    }

    #[inline(always)]
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
