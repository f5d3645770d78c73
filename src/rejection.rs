//! What a refused request gets back: the status, `WWW-Authenticate` and
//! `Retry-After` that RFC 6750 §3 and RFC 9110 fix ([`rejection_parts`],
//! built by the crate's one challenge builder), and a body chosen by a
//! [`RejectionHandler`]: empty ([`DefaultRejection`]), RFC 9457 problem
//! details ([`ProblemJson`]) or your own. No header logic of its own.

use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response};

use crate::challenge::{Refusal, refusal};
use crate::error::Error;

/// Status, `WWW-Authenticate` and `Retry-After` for a rejection: the part
/// of the response RFC 6750 fixes, whoever writes the body.
///
/// - status from [`Error::status`] (400, 401, 403 or 503);
/// - `WWW-Authenticate` from [`Error::www_authenticate`] with the `realm`;
/// - `Retry-After` (seconds) on a 503, from [`Error::retry_after_secs`].
///
/// ```
/// use oidc_bearer::Error;
/// use oidc_bearer::rejection::rejection_parts;
///
/// let parts = rejection_parts(&Error::Expired, Some("orders"));
/// assert_eq!(parts.status, 401);
/// assert_eq!(
///     parts.headers["www-authenticate"],
///     r#"Bearer realm="orders", error="invalid_token", error_description="token expired""#
/// );
/// ```
pub fn rejection_parts(error: &Error, realm: Option<&str>) -> http::response::Parts {
    refusal(error, &Refusal::plain(realm))
}

/// Turns a refused request into a response.
///
/// `parts` already carries the status, `WWW-Authenticate` and (for 503)
/// `Retry-After` that RFC 6750 asks for ([`rejection_parts`]); add a body,
/// or change anything.
///
/// ```
/// use http::{Response, response::Parts};
/// use oidc_bearer::Error;
/// use oidc_bearer::rejection::{RejectionHandler, rejection_parts};
///
/// // A closure works as a handler:
/// let plain_text = |error: &Error, parts: Parts| Response::from_parts(parts, error.description());
///
/// let response = plain_text.rejection(&Error::Expired, rejection_parts(&Error::Expired, None));
/// assert_eq!(response.status(), 401);
/// assert_eq!(response.body(), "token expired");
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
///
/// ```
/// use oidc_bearer::Error;
/// use oidc_bearer::rejection::{ProblemJson, RejectionHandler, rejection_parts};
///
/// let error = Error::InvalidAudience;
/// let response: http::Response<String> =
///     ProblemJson.rejection(&error, rejection_parts(&error, None));
/// assert_eq!(response.headers()["content-type"], "application/problem+json");
/// assert!(response.body().contains(r#""detail":"invalid audience""#));
/// ```
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
