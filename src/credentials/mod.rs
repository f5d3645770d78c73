//! The request's credentials: where the layer looks for the access token
//! ([`TokenSource`]), which scheme it came with ([`Scheme`]), and the one
//! `Authorization` parser for `Bearer` and `DPoP` (`authorization`). The
//! first step of a request's way through the layer; nothing here verifies
//! anything.
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

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, Uri};

use crate::error::Error;

mod authorization;

pub(crate) use authorization::Refused;
pub(crate) use authorization::token68_str;
use authorization::{Schemes, authorization};

mod other;

use other::{cookie_token, header_token, is_cookie_name, query_token};

/// The scheme a request presented its token with: `Bearer` (RFC 6750) for
/// every [`TokenSource`], or `DPoP` (RFC 9449 §7.1) in the `Authorization`
/// header of a layer with [DPoP settings](crate::OidcBearerLayer::dpop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `Authorization: Bearer`, or any other [`TokenSource`].
    Bearer,
    /// `Authorization: DPoP`, with a proof in the `DPoP` header.
    Dpop,
}

/// A token as the request presented it.
pub(crate) struct Credentials<'r> {
    pub scheme: Scheme,
    /// Borrowed from the request, except a percent-decoded query value.
    pub token: Cow<'r, str>,
    /// The source, as an index into the layer's list; [`AUTHORIZATION_HEADER`]
    /// for the header when it is not in the list (a DPoP token).
    pub source: usize,
}

/// [`Credentials::source`] of the `Authorization` header outside the
/// layer's list of sources.
pub(crate) const AUTHORIZATION_HEADER: usize = usize::MAX;

static THE_AUTHORIZATION_HEADER: TokenSource = TokenSource(Kind::AuthorizationHeader);

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

    /// The request's credentials: `Ok(None)` when no source holds a
    /// token, `Err` for a malformed request (400) or a token over
    /// `max_len` (401), with the scheme it concerns. `dpop`: the
    /// `Authorization` header may carry the `DPoP` scheme, whether or not
    /// it is one of the sources (RFC 9449 §7.1 fixes it).
    #[inline]
    pub(crate) fn read<'r>(
        &self,
        headers: &'r HeaderMap,
        uri: &'r Uri,
        max_len: usize,
        dpop: bool,
    ) -> Result<Option<Credentials<'r>>, Refused> {
        match self {
            Sources::AuthorizationHeader => {
                let schemes = Schemes { bearer: true, dpop };
                let found = authorization(headers, max_len, schemes)?;
                Ok(found.map(|(scheme, token)| Credentials {
                    scheme,
                    token: Cow::Borrowed(token),
                    source: 0,
                }))
            }
            Sources::List(list) => from_list(list, headers, uri, max_len, dpop),
        }
    }

    /// The source at `index` of a [`Credentials`].
    pub(crate) fn get(&self, index: usize) -> &TokenSource {
        match (self, index) {
            (Sources::List(list), index) if index < list.len() => &list[index],
            _ => &THE_AUTHORIZATION_HEADER,
        }
    }
}

fn from_list<'r>(
    list: &[TokenSource],
    headers: &'r HeaderMap,
    uri: &'r Uri,
    max_len: usize,
    dpop: bool,
) -> Result<Option<Credentials<'r>>, Refused> {
    let bearer = |error| (error, Scheme::Bearer);
    let listed = list.contains(&THE_AUTHORIZATION_HEADER);
    // The header is parsed once, before the other sources when it may
    // carry DPoP: a broken DPoP credential is reported first, on the DPoP
    // challenge.
    let mut header = (listed || dpop).then(|| {
        let schemes = Schemes {
            bearer: listed,
            dpop,
        };
        authorization(headers, max_len, schemes)
    });
    if let Some(Err((_, Scheme::Dpop))) = &header {
        return header.take().expect("just matched").map(|_| None);
    }
    let mut found: Option<Credentials<'r>> = None;
    let mut take = |credentials: Credentials<'r>| match &found {
        Some(first) => {
            let scheme = match (first.scheme, credentials.scheme) {
                (Scheme::Bearer, Scheme::Bearer) => Scheme::Bearer,
                _ => Scheme::Dpop,
            };
            Err((
                Error::InvalidRequest(
                    "malformed request: the token was sent by more than one method (RFC 6750 section 2 allows one)",
                ),
                scheme,
            ))
        }
        None => {
            found = Some(credentials);
            Ok(())
        }
    };
    let borrowed = |token: Option<&'r str>, source| {
        token.map(|token| Credentials {
            scheme: Scheme::Bearer,
            token: Cow::Borrowed(token),
            source,
        })
    };
    for (index, source) in list.iter().enumerate() {
        let credentials = match &source.0 {
            Kind::AuthorizationHeader => match header.take() {
                Some(read) => read?.map(|(scheme, token)| Credentials {
                    scheme,
                    token: Cow::Borrowed(token),
                    source: index,
                }),
                None => None,
            },
            Kind::Cookie(name) => {
                borrowed(cookie_token(headers, name, max_len).map_err(bearer)?, index)
            }
            Kind::Header(name) => {
                borrowed(header_token(headers, name, max_len).map_err(bearer)?, index)
            }
            Kind::QueryParameter => {
                query_token(uri.query(), max_len)
                    .map_err(bearer)?
                    .map(|token| Credentials {
                        scheme: Scheme::Bearer,
                        token,
                        source: index,
                    })
            }
        };
        if let Some(credentials) = credentials {
            take(credentials)?;
        }
    }
    // A DPoP token in a header the list does not name.
    if let Some(read) = header
        && let Some((scheme, token)) = read?
    {
        take(Credentials {
            scheme,
            token: Cow::Borrowed(token),
            source: AUTHORIZATION_HEADER,
        })?;
    }
    Ok(found)
}

// Beside this file, to keep each under 500 lines.
#[cfg(test)]
mod tests;
