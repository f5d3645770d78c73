//! axum extractors for [`Claims<C>`] and `Option<Claims<C>>`.
//!
//! They read what the layer put into the request extensions; they never
//! verify anything themselves.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::claims::Claims;
use crate::layer::Anonymous;

/// The route has no oidc-bearer layer for this claims type: a server
/// configuration error, answered with 500.
#[derive(Debug, Clone, Copy)]
pub struct MissingClaimsLayer {
    claims_type: &'static str,
}

impl std::fmt::Display for MissingClaimsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Claims<{}> was extracted on a route the oidc-bearer layer does not cover, \
             or the layer was built for another claims type: add \
             .layer(validator.layer::<{}>()) to the router",
            self.claims_type, self.claims_type
        )
    }
}

impl IntoResponse for MissingClaimsLayer {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

impl<C, S> FromRequestParts<S> for Claims<C>
where
    C: Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = MissingClaimsLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Claims<C>>()
            .cloned()
            .ok_or(MissingClaimsLayer {
                claims_type: std::any::type_name::<C>(),
            })
    }
}

impl<C, S> OptionalFromRequestParts<S> for Claims<C>
where
    C: Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = MissingClaimsLayer;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if let Some(claims) = parts.extensions.get::<Claims<C>>() {
            Ok(Some(claims.clone()))
        } else if parts.extensions.get::<Anonymous>().is_some() {
            Ok(None)
        } else {
            Err(MissingClaimsLayer {
                claims_type: std::any::type_name::<C>(),
            })
        }
    }
}
