//! HTTP GET for discovery and JWKS documents: the transport policy
//! (`https`, or `http` on loopback), the client (timeouts, redirects kept on
//! their host), the size limit, `Cache-Control` and `ETag`. What to fetch
//! and when is the key store's business (`jwks`).

use std::net::IpAddr;
use std::time::Duration;

use http::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH};

use crate::error::Error;

/// Limits and policy for every document the validator fetches.
#[derive(Debug, Clone)]
pub(crate) struct HttpOptions {
    pub timeout: Duration,
    pub max_body: usize,
    pub allow_insecure_http: bool,
    /// The application's own client (proxy, private roots, its TLS), used
    /// instead of the crate's; the limits above still apply per request.
    pub client: Option<reqwest::Client>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(5),
            max_body: 1024 * 1024,
            allow_insecure_http: false,
            client: None,
        }
    }
}

/// True for `localhost`, `127.0.0.0/8` and `[::1]`.
fn is_loopback(url: &reqwest::Url) -> bool {
    url.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

/// Parses a discovery or JWKS URL and applies the transport policy: `https`,
/// or `http` on a loopback host, or `http` anywhere with
/// `allow_insecure_http`.
pub(crate) fn check_url(url: &str, allow_insecure_http: bool) -> Result<reqwest::Url, Error> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| Error::Config(format!("{url:?} is not a valid URL: {e}")))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if allow_insecure_http || is_loopback(&parsed) => Ok(parsed),
        "http" => Err(Error::Config(format!(
            "{url} uses plain http on a non-loopback host; use https, or call \
             allow_insecure_http() if the network path is trusted"
        ))),
        other => Err(Error::Config(format!(
            "{url} has scheme {other:?}; only https (or http on loopback) is supported"
        ))),
    }
}

/// The HTTP client: the application's, or one with the timeout and no
/// redirects to another host or to plain http.
pub(crate) fn client(options: &HttpOptions) -> Result<reqwest::Client, Error> {
    if let Some(client) = &options.client {
        return Ok(client.clone());
    }
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let first = &attempt.previous()[0];
        let next = attempt.url();
        if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else if let Some(reason) = redirect_refused(first, next) {
            attempt.error(reason)
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.timeout)
        .redirect(policy)
        .user_agent(concat!("oidc-bearer/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))
}

/// A successful GET.
pub(crate) enum Fetched {
    /// 304: the document has not changed since the given `ETag`.
    NotModified { max_age: Option<Duration> },
    /// A new body.
    Body {
        body: bytes::Bytes,
        max_age: Option<Duration>,
        etag: Option<String>,
    },
}

/// GETs `url` with the timeout and size limit, optionally conditional on
/// `etag`.
pub(crate) async fn get(
    client: &reqwest::Client,
    url: &reqwest::Url,
    options: &HttpOptions,
    etag: Option<&str>,
) -> Result<Fetched, Error> {
    let max_body = options.max_body;
    let fail = |reason: String| Error::Fetch {
        url: url.to_string(),
        reason,
    };
    // Per request as well as on the crate's client: an application's
    // client may have no timeout at all.
    let mut request = client.get(url.clone()).timeout(options.timeout);
    if let Some(etag) = etag {
        request = request.header(IF_NONE_MATCH, etag);
    }
    let mut response = request.send().await.map_err(|e| fail(describe(&e)))?;
    // The crate's client refuses these redirects before following them;
    // an application's client follows its own policy, so its answer is
    // refused here instead.
    if let Some(reason) = redirect_refused(url, response.url()) {
        return Err(fail(reason.into()));
    }
    let max_age = response
        .headers()
        .get(CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_max_age);
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED && etag.is_some() {
        return Ok(Fetched::NotModified { max_age });
    }
    if !status.is_success() {
        return Err(fail(format!("HTTP status {status}")));
    }
    let new_etag = response
        .headers()
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if response
        .content_length()
        .is_some_and(|n| n > max_body as u64)
    {
        return Err(fail(format!("body larger than {max_body} bytes")));
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| fail(describe(&e)))? {
        if body.len() + chunk.len() > max_body {
            return Err(fail(format!("body larger than {max_body} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched::Body {
        body: body.freeze(),
        max_age,
        etag: new_etag,
    })
}

/// Why a response that ended at `last` (after redirects) must not be used
/// for a request of `first`: another host or port, or https downgraded.
fn redirect_refused(first: &reqwest::Url, last: &reqwest::Url) -> Option<&'static str> {
    if last.host_str() != first.host_str()
        || last.port_or_known_default() != first.port_or_known_default()
    {
        Some("redirect to another host refused")
    } else if first.scheme() == "https" && last.scheme() != "https" {
        Some("redirect from https to http refused")
    } else {
        None
    }
}

/// The JSON text of a document as servers really send it: without the
/// UTF-8 byte order mark some put in front (RFC 8259 §8.1: a parser MAY
/// ignore it). Whitespace around the text is JSON's own business; the
/// `Content-Type` is never looked at (`application/json`,
/// `application/jwk-set+json`, `text/plain` and others are all seen).
pub(crate) fn json_text(document: &[u8]) -> &[u8] {
    document.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(document)
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_redirect() {
        "redirect refused".into()
    } else {
        // reqwest's Display includes the URL, which the caller adds
        // already; its source chain says what happened (DNS, refused, a
        // certificate the roots do not trust), which an operator needs.
        let mut text = String::from(if e.is_connect() {
            "connection failed"
        } else {
            "request failed"
        });
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }
}

/// `max-age` from a Cache-Control value (`no-cache`/`no-store` count as 0).
pub(crate) fn parse_max_age(value: &str) -> Option<Duration> {
    let mut max_age = None;
    for directive in value.split(',') {
        let directive = directive.trim();
        if directive.eq_ignore_ascii_case("no-cache") || directive.eq_ignore_ascii_case("no-store")
        {
            return Some(Duration::ZERO);
        }
        if let Some((name, v)) = directive.split_once('=')
            && name.trim().eq_ignore_ascii_case("max-age")
        {
            max_age = v
                .trim()
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_policy() {
        assert!(check_url("https://login.example.com/keys", false).is_ok());
        for ok in [
            "http://localhost:8080/x",
            "http://127.0.0.1/x",
            "http://127.9.9.9/x",
            "http://[::1]:80/x",
        ] {
            assert!(check_url(ok, false).is_ok(), "{ok}");
        }
        let err = check_url("http://keycloak:8080/realms/x", false).unwrap_err();
        assert!(err.to_string().contains("allow_insecure_http"));
        assert!(check_url("http://keycloak:8080/realms/x", true).is_ok());
        assert!(check_url("ftp://example.com/x", true).is_err());
        assert!(check_url("not a url", false).is_err());
        assert!(check_url("http://localhost.evil.com/x", false).is_err());
    }

    #[test]
    fn byte_order_mark_is_dropped_and_nothing_else() {
        assert_eq!(json_text(b"\xEF\xBB\xBF{}"), b"{}");
        assert_eq!(json_text(b" {} "), b" {} ");
        assert_eq!(json_text(b"\xEF\xBB{}"), b"\xEF\xBB{}");
        assert_eq!(json_text(b""), b"");
    }

    #[test]
    fn max_age() {
        assert_eq!(
            parse_max_age("public, max-age=3600"),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(parse_max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(parse_max_age("public"), None);
        assert_eq!(parse_max_age("max-age=abc"), None);
    }
}
