//! The `htu` comparison (RFC 9449 §4.3 check 9): the proof's URI and the
//! request's, both without query and fragment, compared after the RFC 3986
//! §6.2.2 and §6.2.3 normalisations: scheme and host in lower case, the
//! default port dropped, an empty path as `/`, percent-encodings in upper
//! case and unreserved characters decoded.
//!
//! Dot segments are not removed: a client signs the URI it requests, and
//! HTTP clients send paths without them.

use std::borrow::Cow;

use http::Uri;
use http::header::HOST;

/// Where the API is reached from outside, for rebuilding a request's URI:
/// a fixed origin (plus path prefix), or the request's own `Host`.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    /// `https://api.example.com` or `https://example.com/api` (normalised,
    /// without a trailing slash): behind a proxy, what clients see.
    Fixed(String),
    /// The request's `Host` (or absolute URI), with this scheme.
    FromRequest { scheme: &'static str },
}

/// A request's URI in normal form (see the module doc), in two parts so
/// that the usual case, a fixed origin and a path without
/// percent-encodings, borrows both and allocates nothing.
#[derive(Debug)]
pub(crate) struct RequestUri<'a> {
    prefix: Cow<'a, str>,
    path: Cow<'a, str>,
}

impl RequestUri<'_> {
    /// True when `uri` (already without query and fragment) is this URI.
    pub(crate) fn is(&self, uri: &str) -> bool {
        uri.len() == self.prefix.len() + self.path.len()
            && uri.starts_with(&*self.prefix)
            && uri.ends_with(&*self.path)
    }
}

impl std::fmt::Display for RequestUri<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.prefix, self.path)
    }
}

impl Origin {
    /// The normalised URI of `request`'s target, as a client outside
    /// would have written it; `None` when the request names no host.
    pub(crate) fn request_uri<'a>(
        &'a self,
        uri: &'a Uri,
        headers: &http::HeaderMap,
    ) -> Option<RequestUri<'a>> {
        let path = uri.path();
        match self {
            // Already normal: only the path is left to normalise.
            Origin::Fixed(base) => {
                let path = if path.contains('%') {
                    let mut out = String::with_capacity(path.len());
                    percent_normalize(path, &mut out);
                    Cow::Owned(out)
                } else {
                    Cow::Borrowed(path)
                };
                Some(RequestUri {
                    prefix: Cow::Borrowed(base),
                    path,
                })
            }
            Origin::FromRequest { scheme } => {
                // `Host` is the client's to write: only an authority, so a
                // `/`, `?` or `#` in it cannot move the path the proof is
                // compared with (`Host: api.example.com/admin?`).
                let parsed;
                let host = match uri.authority() {
                    Some(authority) => authority,
                    None => {
                        parsed = headers
                            .get(HOST)?
                            .to_str()
                            .ok()?
                            .parse::<http::uri::Authority>()
                            .ok()?;
                        &parsed
                    }
                };
                let scheme = uri.scheme_str().unwrap_or(scheme);
                Some(RequestUri {
                    prefix: Cow::Owned(normalize(&format!("{scheme}://{host}{path}"))?),
                    path: Cow::Borrowed(""),
                })
            }
        }
    }
}

/// `uri` in normal form without query and fragment, or `None` when it is
/// not an absolute `http`/`https` URI.
pub(crate) fn normalize(uri: &str) -> Option<String> {
    let end = uri.find(['?', '#']).unwrap_or(uri.len());
    let parsed: Uri = uri[..end].parse().ok()?;
    let scheme = parsed.scheme_str()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let authority = parsed.authority()?;
    if authority.as_str().contains('@') {
        // RFC 9110 §4.2.4: no userinfo in http(s) URIs.
        return None;
    }
    let mut out = String::with_capacity(end + 8);
    out.push_str(&scheme);
    out.push_str("://");
    out.push_str(&authority.host().to_ascii_lowercase());
    if let Some(port) = authority.port_u16()
        && port != default_port
    {
        out.push(':');
        out.push_str(&port.to_string());
    }
    let path = parsed.path();
    if path.is_empty() {
        out.push('/');
    } else {
        percent_normalize(path, &mut out);
    }
    Some(out)
}

/// Upper-case hex in percent-encodings, and unreserved characters
/// (`ALPHA DIGIT - . _ ~`) decoded (RFC 3986 §6.2.2.1, §6.2.2.2).
/// Everything else is copied as it is (a path may hold UTF-8, which must
/// stay the same characters), so normalising twice changes nothing.
fn percent_normalize(path: &str, out: &mut String) {
    let bytes = path.as_bytes();
    let (mut i, mut copied) = (0, 0);
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2)))
        {
            // `%` and hex digits are ASCII: `i` and `i + 3` are character
            // boundaries.
            out.push_str(&path[copied..i]);
            let byte = h * 16 + l;
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(byte));
            } else {
                out.push('%');
                out.push(char::from(bytes[i + 1].to_ascii_uppercase()));
                out.push(char::from(bytes[i + 2].to_ascii_uppercase()));
            }
            i += 3;
            copied = i;
            continue;
        }
        i += 1;
    }
    out.push_str(&path[copied..]);
}

fn hex(b: Option<&u8>) -> Option<u8> {
    char::from(*b?).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_forms() {
        let n = |s| normalize(s);
        assert_eq!(
            n("https://API.Example.COM/a").unwrap(),
            "https://api.example.com/a"
        );
        assert_eq!(
            n("HTTPS://example.com:443/a").unwrap(),
            "https://example.com/a"
        );
        assert_eq!(n("http://example.com:80").unwrap(), "http://example.com/");
        assert_eq!(
            n("http://example.com:8080/").unwrap(),
            "http://example.com:8080/"
        );
        assert_eq!(
            n("https://example.com:80/").unwrap(),
            "https://example.com:80/"
        );
        assert_eq!(n("https://e.com/a?b=c#d").unwrap(), "https://e.com/a");
        assert_eq!(n("https://e.com/a#d").unwrap(), "https://e.com/a");
        assert_eq!(
            n("https://e.com/%7euser/%2f%41").unwrap(),
            "https://e.com/~user/%2FA"
        );
        // The path keeps its case.
        assert_eq!(n("https://e.com/A").unwrap(), "https://e.com/A");
        assert_eq!(n("https://[::1]:443/x").unwrap(), "https://[::1]/x");
        for bad in [
            "/relative",
            "ftp://e.com/",
            "https://u:p@e.com/",
            "",
            "https://",
        ] {
            assert_eq!(n(bad), None, "{bad}");
        }
    }

    #[test]
    fn request_uris() {
        let mut headers = http::HeaderMap::new();
        headers.insert(HOST, "API.example.com:443".parse().unwrap());
        let uri: Uri = "/orders/1?x=2".parse().unwrap();
        let from = Origin::FromRequest { scheme: "https" };
        assert_eq!(
            from.request_uri(&uri, &headers).unwrap().to_string(),
            "https://api.example.com/orders/1"
        );
        let fixed = Origin::Fixed("https://example.com/api".into());
        assert_eq!(
            fixed
                .request_uri(&uri, &http::HeaderMap::new())
                .unwrap()
                .to_string(),
            "https://example.com/api/orders/1"
        );
        assert!(from.request_uri(&uri, &http::HeaderMap::new()).is_none());
        // A Host that is not an authority is no host at all.
        for bad in [
            "api.example.com/admin?",
            "api.example.com/a",
            "h#x",
            "u@h",
            "a b",
        ] {
            let mut headers = http::HeaderMap::new();
            headers.insert(HOST, bad.parse().unwrap());
            assert!(from.request_uri(&uri, &headers).is_none(), "{bad}");
        }
        // UTF-8 in a path stays the same characters, on either origin.
        let utf8: Uri = "/caf%C3%A9/é".parse().unwrap();
        let target = fixed.request_uri(&utf8, &http::HeaderMap::new()).unwrap();
        assert_eq!(target.to_string(), "https://example.com/api/caf%C3%A9/é");
        assert_eq!(
            normalize("https://example.com/api/caf%c3%a9/é").as_deref(),
            Some("https://example.com/api/caf%C3%A9/é")
        );
        assert!(!target.is("https://example.com/api/caf%C3%A9/Ã©"));
        let from_target = from.request_uri(&utf8, &headers).unwrap();
        assert_eq!(
            from_target.to_string(),
            "https://api.example.com/caf%C3%A9/é"
        );
        // A path with percent-encodings is normalised; one without is
        // compared as it is.
        let encoded: Uri = "/a%7eb/%2f".parse().unwrap();
        let target = fixed
            .request_uri(&encoded, &http::HeaderMap::new())
            .unwrap();
        assert!(target.is("https://example.com/api/a~b/%2F"));
        assert!(!target.is("https://example.com/api/a%7eb/%2f"));
        let target = fixed.request_uri(&uri, &http::HeaderMap::new()).unwrap();
        assert!(target.is("https://example.com/api/orders/1"));
        for other in [
            "https://example.com/api/orders/",
            "https://example.com/api/orders/12",
            "https://example.com/apX/orders/1",
            "https://example.com/orders/1",
        ] {
            assert!(!target.is(other), "{other}");
        }
    }
}
