//! The layer's request path with DPoP settings: [`dpop::admit`] decides,
//! this turns the decision into the layer's [`ResponseFuture`].

use std::sync::Arc;

use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::{OidcBearer, ResponseFuture, State};
use crate::dpop::{self, Admission, DpopState, Scheme};
use crate::error::Error;
use crate::metadata::with_resource_metadata;
use crate::rejection::RejectionHandler;

impl<S, C, R> OidcBearer<S, C, R> {
    /// The request path of a layer with DPoP settings (`crate::dpop`).
    pub(super) fn call_dpop<ReqBody, ResBody>(
        &mut self,
        mut req: Request<ReqBody>,
        state: Arc<DpopState>,
    ) -> ResponseFuture<S, ReqBody, C, R>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
        C: DeserializeOwned + Send + Sync + 'static,
        R: RejectionHandler<ResBody>,
    {
        let (method, uri, headers) = (req.method(), req.uri(), req.headers());
        let reject = |this: &Self, error: &Error, scheme| {
            // The validator counted what it refused; the rest is the
            // request's or the proof's.
            if error.is_from_request_or_proof() {
                this.validator.count_rejection(error);
            }
            let parts = with_resource_metadata(
                dpop::dpop_rejection_parts(error, this.realm.as_deref(), &state, scheme),
                this.validator.resource_metadata_url(),
            );
            ResponseFuture {
                state: State::Reject {
                    response: Some(this.rejection.rejection(error, parts)),
                },
            }
        };
        match dpop::admit::<C>(&state, &self.validator, &self.sources, method, uri, headers) {
            Admission::Verified(claims, Scheme::Dpop) => {
                req.extensions_mut().insert(claims);
                ResponseFuture {
                    state: super::dpop_admitted(&mut self.inner, req, &state),
                }
            }
            Admission::Verified(claims, Scheme::Bearer) => {
                req.extensions_mut().insert(claims);
                self.forward(req)
            }
            Admission::Anonymous if self.anonymous => {
                self.mark_anonymous(&mut req);
                // So a `Require` inside challenges as this layer does.
                req.extensions_mut().insert(dpop::DpopRequest {
                    state: state.clone(),
                    scheme: None,
                });
                self.forward(req)
            }
            Admission::Anonymous => reject(self, &Error::MissingToken, Scheme::Bearer),
            Admission::Rejected(error, scheme) => reject(self, &error, scheme),
            Admission::Pending(wait, scheme) => self.waiting(wait, req, Some((state, scheme))),
        }
    }
}
