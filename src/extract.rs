//! axum extractors for [`Claims<C>`] and `Option<Claims<C>>`.
//!
//! They read what the layer put into the request extensions; they never
//! verify anything themselves.

use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::claims::Claims;
use crate::error::Error;
use crate::layer::{Anonymous, AnonymousRealm};
use crate::metadata::{ResourceMetadataUrl, with_resource_metadata};
use crate::rejection::rejection_parts;

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
    /// `Some` when the layer let the request through anonymously; holds the
    /// layer's realm, if any.
    anonymous: Option<Option<Arc<str>>>,
    /// The RFC 9728 document the layer names, for the 401.
    resource_metadata: Option<Arc<str>>,
}

impl ClaimsRejection {
    fn for_request<C>(parts: &Parts) -> Self {
        let anonymous = parts.extensions.get::<Anonymous>().map(|_| {
            parts
                .extensions
                .get::<AnonymousRealm>()
                .map(|r| r.0.clone())
        });
        ClaimsRejection {
            claims_type: std::any::type_name::<C>(),
            anonymous,
            resource_metadata: parts
                .extensions
                .get::<ResourceMetadataUrl>()
                .map(|url| url.0.clone()),
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
            Some(realm) => {
                // The route needs a token the client did not send: the
                // client's problem, answered as the layer would.
                tracing::debug!("{self}");
                let parts = with_resource_metadata(
                    rejection_parts(&Error::MissingToken, realm.as_deref()),
                    self.resource_metadata.as_deref(),
                );
                Response::from_parts(parts, axum::body::Body::empty())
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
        parts
            .extensions
            .get::<Claims<C>>()
            .cloned()
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
        if let Some(claims) = parts.extensions.get::<Claims<C>>() {
            Ok(Some(claims.clone()))
        } else if parts.extensions.get::<Anonymous>().is_some() {
            Ok(None)
        } else {
            Err(ClaimsRejection::for_request::<C>(parts))
        }
    }
}
