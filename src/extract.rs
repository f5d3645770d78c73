//! axum extractors for [`Claims<C>`], `Option<Claims<C>>` and
//! [`AuthContext`].
//!
//! They read the [`AuthContext`] the layer put into the request
//! extensions; they never verify anything themselves.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::claims::Claims;
use crate::context::AuthContext;
use crate::error::Error;

/// Why `Claims<C>` could not be extracted: the rejection of the
/// [`Claims<C>`] extractor.
///
/// Either the route has no oidc-bearer layer for this claims type (a server
/// configuration error, answered with 500 and a message saying what to
/// add), or the layer let the request through without credentials
/// ([`allow_anonymous`](crate::OidcBearerLayer::allow_anonymous)) and the
/// handler requires claims: answered like a request without a token, 401
/// with a bare `Bearer` challenge.
#[derive(Debug, Clone)]
pub struct ClaimsRejection {
    claims_type: &'static str,
    /// `Some` when the layer let the request through anonymously: its
    /// context, to answer as it would.
    anonymous: Option<AuthContext>,
}

impl ClaimsRejection {
    fn for_request<C>(parts: &Parts) -> Self {
        let anonymous = AuthContext::from_extensions(&parts.extensions)
            .filter(|context| context.is_anonymous())
            .cloned();
        ClaimsRejection {
            claims_type: std::any::type_name::<C>(),
            anonymous,
        }
    }
}

impl std::fmt::Display for ClaimsRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.anonymous.is_some() {
            return write!(
                f,
                "Claims<{}> was extracted from a request the oidc-bearer layer let through \
                 without credentials (allow_anonymous): take Option<Claims<{}>> to serve \
                 anonymous requests",
                self.claims_type, self.claims_type
            );
        }
        write!(
            f,
            "Claims<{}> was extracted on a route the oidc-bearer layer does not cover, \
             or the layer was built for another claims type: add \
             .route_layer(validator.layer::<{}>()) to the router",
            self.claims_type, self.claims_type
        )
    }
}

impl IntoResponse for ClaimsRejection {
    fn into_response(self) -> Response {
        match &self.anonymous {
            Some(context) => {
                // The route needs a token the client did not send: the
                // client's problem, answered as the layer would.
                tracing::debug!("{self}");
                let error = Error::MissingToken;
                let parts = context.refusal(&error, None);
                context
                    .reject_with_handler(&error, parts)
                    .unwrap_or_else(|parts| Response::from_parts(parts, axum::body::Body::empty()))
            }
            None => {
                tracing::error!("{self}");
                (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
            }
        }
    }
}

impl<C, S> FromRequestParts<S> for Claims<C>
where
    C: Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Claims::from_extensions(&parts.extensions)
            .ok_or_else(|| ClaimsRejection::for_request::<C>(parts))
    }
}

impl<C, S> OptionalFromRequestParts<S> for Claims<C>
where
    C: Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match AuthContext::from_extensions(&parts.extensions) {
            Some(context) if context.is_anonymous() => Ok(None),
            Some(context) => match context.claims::<C>() {
                Some(claims) => Ok(Some(claims)),
                None => Err(ClaimsRejection::for_request::<C>(parts)),
            },
            None => Err(ClaimsRejection::for_request::<C>(parts)),
        }
    }
}

/// The bearer layer's [`AuthContext`]: how the request was admitted. A
/// route without the layer is a server configuration error, answered
/// `500` with a message saying what to add.
impl<S: Send + Sync> FromRequestParts<S> for AuthContext {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        AuthContext::from_extensions(&parts.extensions)
            .cloned()
            .ok_or_else(|| {
                let message = "AuthContext was extracted on a route the oidc-bearer layer does \
                               not cover: add .route_layer(validator.layer::<C>()) to the router";
                tracing::error!("{message}");
                (StatusCode::INTERNAL_SERVER_ERROR, message)
            })
    }
}
