//! Where the layer looks for the access token: the first step of a
//! request's way through the layer, before anything is verified.
//!
//! By default only the `Authorization: Bearer` header (RFC 6750 §2.1) is
//! read. [`OidcBearerLayer::token_sources`](crate::OidcBearerLayer::token_sources)
//! adds a cookie, a custom header or, for clients that cannot do better,
//! the `access_token` query parameter (RFC 6750 §2.3):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let provider = oidc_bearer_testkit::TestIssuer::start().await;
//! # let (issuer, jwks_url) = (provider.issuer.clone(), provider.jwks_url.clone());
//! # let token = provider.token("my-api");
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use oidc_bearer::{StandardClaims, TokenSource, Validator};
//! use tower::ServiceExt;
//!
//! let validator = Validator::builder()
//!     .issuer(issuer)
//!     .audience("my-api")
//!     .jwks_url(jwks_url)
//!     .build()
//!     .await?;
//! let layer = validator
//!     .layer::<StandardClaims>()
//!     // API clients send the header, the browser app its cookie.
//!     .token_sources([TokenSource::authorization_header(), TokenSource::cookie("at")]);
//! assert_eq!(layer.bearer_methods(), ["header"]);
//! let app = Router::new()
//!     .route("/me", get(|| async { "hello" }))
//!     .route_layer(layer);
//!
//! let with_cookie = Request::get("/me")
//!     .header("cookie", format!("theme=dark; at={token}"))
//!     .body(Body::empty())?;
//! assert_eq!(app.clone().oneshot(with_cookie).await?.status(), StatusCode::OK);
//!
//! // One token, two ways: RFC 6750 §2 allows one method per request.
//! let both = Request::get("/me")
//!     .header("authorization", format!("Bearer {token}"))
//!     .header("cookie", format!("at={token}"))
//!     .body(Body::empty())?;
//! assert_eq!(app.oneshot(both).await?.status(), StatusCode::BAD_REQUEST);
//! # Ok(()) }
//! ```
//!
//! Every configured source is read on every request, so that a token sent
//! two ways is refused rather than one of them silently winning; the order
//! of the list only decides which malformed source is reported first. The
//! token length limit
//! ([`max_token_len`](crate::ValidatorBuilder::max_token_len)) applies to
//! what each source holds before any unquoting or percent-decoding is
//! looked at, and the token must be `token68` (RFC 7235 §2.1) whatever the
//! source, as a JWS always is. Whatever the source, the challenge stays
//! `WWW-Authenticate: Bearer`.

use std::borrow::Cow;
use std::sync::Arc;

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderName, Uri};

use crate::bearer::{bearer_token, token68_str};
use crate::error::Error;

/// One place a request may carry its access token; configured with
/// [`OidcBearerLayer::token_source`](crate::OidcBearerLayer::token_source)
/// or [`token_sources`](crate::OidcBearerLayer::token_sources).
///
/// In every source an empty value (`Cookie: at=`, `X-Token:`,
/// `?access_token=`) is no token at all, as if it were not sent: a browser
/// that signed out often keeps an emptied cookie.
///
/// ```
/// use http::HeaderName;
/// use oidc_bearer::TokenSource;
///
/// let sources = [
///     TokenSource::authorization_header(),
///     TokenSource::cookie("access_token"),
///     TokenSource::header(HeaderName::from_static("x-forwarded-access-token")),
/// ];
/// assert_eq!(sources[0].bearer_method(), Some("header"));
/// assert_eq!(sources[1].bearer_method(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenSource(Kind);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Kind {
    AuthorizationHeader,
    Cookie(Box<str>),
    Header(HeaderName),
    QueryParameter,
}

impl TokenSource {
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1), the default: the
    /// scheme is matched case-insensitively, one or more spaces before the
    /// token, a tab there or several `Authorization` headers are a
    /// malformed request, and another scheme (`Basic`, …) is no token.
    pub fn authorization_header() -> Self {
        TokenSource(Kind::AuthorizationHeader)
    }

    /// The cookie `name` of the `Cookie` header(s) (RFC 6265 §4.2.1
    /// `name=value; name2=value2`, names compared case-sensitively). A
    /// value wrapped in double quotes, which RFC 6265's grammar allows, is
    /// taken without them; it is not percent-decoded (a JWS needs no
    /// escaping). Two non-empty cookies of that name are a malformed
    /// request: the client sent two tokens and the API cannot tell which
    /// one it meant.
    ///
    /// A cookie is sent by the browser on its own, so an API reading it
    /// must guard against cross-site request forgery (`SameSite`, an
    /// `Origin` check or a CSRF token); the `Authorization` header needs
    /// none of that.
    ///
    /// # Panics
    ///
    /// When `name` is not a valid cookie name (RFC 6265: a non-empty
    /// `token`, no spaces, `=`, `;`, quotes or other separators): a name
    /// no cookie could have is a configuration mistake.
    pub fn cookie(name: impl Into<String>) -> Self {
        let name = name.into();
        assert!(
            is_cookie_name(name.as_bytes()),
            "TokenSource::cookie({name:?}): not a valid cookie name (RFC 6265 token: \
             visible ASCII without separators such as = ; , space or quotes)"
        );
        TokenSource(Kind::Cookie(name.into_boxed_str()))
    }

    /// A header that holds the token alone, without a scheme (such as
    /// `X-Forwarded-Access-Token` from an authenticating proxy). A value
    /// with a scheme (`Bearer <token>`) is a malformed request rather than
    /// a token to dig out: `Authorization` is the header for schemes, and
    /// `header(AUTHORIZATION)` is [`authorization_header`](Self::authorization_header).
    /// Several headers of that name are a malformed request.
    pub fn header(name: HeaderName) -> Self {
        if name == AUTHORIZATION {
            return TokenSource::authorization_header();
        }
        TokenSource(Kind::Header(name))
    }

    /// The `access_token` query parameter (RFC 6750 §2.3), percent-decoded
    /// as `application/x-www-form-urlencoded`.
    ///
    /// Insecure, hence the name: URLs end up in access logs, proxies,
    /// browser history and `Referer` headers, and the token with them. RFC
    /// 6750 §2.3 keeps it for clients that cannot send a header (an
    /// `EventSource`, a WebSocket handshake from a browser); the layer
    /// logs a warning when it is configured. Clients must percent-encode
    /// the token (`+` means a space here), and the length limit applies to
    /// the encoded value.
    pub fn insecure_query_parameter() -> Self {
        TokenSource(Kind::QueryParameter)
    }

    /// This source's value in RFC 9728's `bearer_methods_supported`:
    /// `"header"` for the `Authorization` header, `"query"` for the query
    /// parameter, and `None` for cookies and custom headers, which are not
    /// RFC 6750 methods and have no value there. (`"body"`, the
    /// form-encoded body of RFC 6750 §2.2, is not a source this crate
    /// reads: the layer never buffers a request body.)
    pub fn bearer_method(&self) -> Option<&'static str> {
        match self.0 {
            Kind::AuthorizationHeader => Some("header"),
            Kind::QueryParameter => Some("query"),
            Kind::Cookie(_) | Kind::Header(_) => None,
        }
    }
}

/// The sources one layer reads. The default is its own variant so the
/// common case stays the single header read it always was: no list, no
/// `Arc` to follow.
#[derive(Debug, Clone, Default)]
pub(crate) enum Sources {
    #[default]
    AuthorizationHeader,
    List(Arc<[TokenSource]>),
}

impl Sources {
    /// # Panics
    ///
    /// On an empty list: no request could ever carry a token.
    pub(crate) fn new(sources: impl IntoIterator<Item = TokenSource>) -> Self {
        let mut list: Vec<TokenSource> = Vec::new();
        for source in sources {
            // A source listed twice would find the same token twice and
            // refuse it as sent by two methods.
            if !list.contains(&source) {
                list.push(source);
            }
        }
        assert!(
            !list.is_empty(),
            "token_sources([]): at least one TokenSource is needed, or no request can carry a token"
        );
        if list.contains(&TokenSource::insecure_query_parameter()) {
            tracing::warn!(
                "oidc-bearer: access tokens are accepted in the access_token query parameter \
                 (RFC 6750 section 2.3); URLs, and the tokens in them, end up in logs, history \
                 and Referer headers"
            );
        }
        if list == [TokenSource::authorization_header()] {
            return Sources::AuthorizationHeader;
        }
        Sources::List(list.into())
    }

    /// See [`TokenSource::bearer_method`]; each value once, in the
    /// configured order.
    pub(crate) fn bearer_methods(&self) -> Vec<&'static str> {
        match self {
            Sources::AuthorizationHeader => vec!["header"],
            Sources::List(list) => {
                let mut methods = Vec::new();
                for method in list.iter().filter_map(TokenSource::bearer_method) {
                    if !methods.contains(&method) {
                        methods.push(method);
                    }
                }
                methods
            }
        }
    }

    /// The request's token: `Ok(None)` when no source holds one, `Err`
    /// for a malformed request (400) or a token over `max_len` (401).
    /// Borrowed from the request, except a percent-decoded query value.
    #[inline]
    pub(crate) fn token<'r>(
        &self,
        headers: &'r HeaderMap,
        uri: &'r Uri,
        max_len: usize,
    ) -> Result<Option<Cow<'r, str>>, Error> {
        match self {
            Sources::AuthorizationHeader => Ok(bearer_token(headers, max_len)?.map(Cow::Borrowed)),
            Sources::List(list) => from_list(list, headers, uri, max_len),
        }
    }
}

fn from_list<'r>(
    list: &[TokenSource],
    headers: &'r HeaderMap,
    uri: &'r Uri,
    max_len: usize,
) -> Result<Option<Cow<'r, str>>, Error> {
    let mut found = None;
    for source in list {
        let token = match &source.0 {
            Kind::AuthorizationHeader => bearer_token(headers, max_len)?.map(Cow::Borrowed),
            Kind::Cookie(name) => cookie_token(headers, name, max_len)?.map(Cow::Borrowed),
            Kind::Header(name) => header_token(headers, name, max_len)?.map(Cow::Borrowed),
            Kind::QueryParameter => query_token(uri.query(), max_len)?,
        };
        if token.is_some() {
            if found.is_some() {
                return Err(Error::InvalidRequest(
                    "malformed request: the token was sent by more than one method (RFC 6750 section 2 \
                     allows one)",
                ));
            }
            found = token;
        }
    }
    Ok(found)
}

fn cookie_token<'r>(
    headers: &'r HeaderMap,
    name: &str,
    max_len: usize,
) -> Result<Option<&'r str>, Error> {
    let mut found = None;
    // HTTP/2 may split the cookies over several `Cookie` fields (RFC 9113
    // §8.2.3): all of them are one list.
    for field in headers.get_all(COOKIE) {
        for pair in field.as_bytes().split(|&b| b == b';') {
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            if trim_ows(&pair[..eq]) != name.as_bytes() {
                continue;
            }
            let value = trim_ows(&pair[eq + 1..]);
            let value = match value {
                [b'"', inner @ .., b'"'] => inner,
                _ => value,
            };
            if value.is_empty() {
                continue;
            }
            if value.len() > max_len {
                return Err(Error::TokenTooLarge);
            }
            if found.is_some() {
                return Err(Error::InvalidRequest(
                    "malformed request: more than one cookie holds a token",
                ));
            }
            found = Some(token68_str(value).ok_or(Error::InvalidRequest(
                "malformed request: the token cookie is not token68",
            ))?);
        }
    }
    Ok(found)
}

fn header_token<'r>(
    headers: &'r HeaderMap,
    name: &HeaderName,
    max_len: usize,
) -> Result<Option<&'r str>, Error> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Error::InvalidRequest(
            "malformed request: more than one token header",
        ));
    }
    let value = trim_ows(value.as_bytes());
    if value.is_empty() {
        return Ok(None);
    }
    if value.len() > max_len {
        return Err(Error::TokenTooLarge);
    }
    token68_str(value).map(Some).ok_or(Error::InvalidRequest(
        "malformed request: the token header must hold a token68 token alone, without a scheme",
    ))
}

/// RFC 6750 §2.3 fixes the name.
const ACCESS_TOKEN: &str = "access_token";

fn query_token(query: Option<&str>, max_len: usize) -> Result<Option<Cow<'_, str>>, Error> {
    let Some(query) = query else {
        return Ok(None);
    };
    let mut found = None;
    // The pairs as form_urlencoded splits them, but the name and the raw
    // value's length are looked at before the value is decoded.
    for pair in query.split('&') {
        let (name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        if raw_value.is_empty() || !is_access_token(name) {
            continue;
        }
        if raw_value.len() > max_len {
            return Err(Error::TokenTooLarge);
        }
        if found.is_some() {
            return Err(Error::InvalidRequest(
                "malformed request: more than one access_token query parameter",
            ));
        }
        let Some((_, value)) = form_urlencoded::parse(pair.as_bytes()).next() else {
            continue;
        };
        if token68_str(value.as_bytes()).is_none() {
            return Err(Error::InvalidRequest(
                "malformed request: the access_token query parameter is not token68 once \
                 percent-decoded",
            ));
        }
        found = Some(value);
    }
    Ok(found)
}

/// Whether a raw (still encoded) query name decodes to `access_token`.
/// Only a name short enough to be it, every byte percent-encoded, is
/// decoded at all.
fn is_access_token(raw: &str) -> bool {
    if raw == ACCESS_TOKEN {
        return true;
    }
    if raw.len() > 3 * ACCESS_TOKEN.len() || !raw.contains('%') {
        return false;
    }
    form_urlencoded::parse(raw.as_bytes())
        .next()
        .is_some_and(|(name, _)| name == ACCESS_TOKEN)
}

/// RFC 6265 §5.2 trims spaces and tabs around names and values.
fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// RFC 6265 `cookie-name = token` (RFC 9110 §5.6.2 `tchar`s).
fn is_cookie_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

// Beside this file, to keep each under 500 lines.
#[cfg(test)]
mod tests;
