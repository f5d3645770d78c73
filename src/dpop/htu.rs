//! The `htu` comparison (RFC 9449 §4.3 check 9): the proof's URI and the
//! request's, both without query and fragment, compared after the RFC 3986
//! §6.2.2 and §6.2.3 normalisations: scheme and host in lower case, the
//! default port dropped, an empty path as `/`, percent-encodings in upper
//! case and unreserved characters decoded.
//!
//! Dot segments are not removed: a client signs the URI it requests, and
//! HTTP clients send paths without them.
//!
//! The request's side is the layer's to build, never the client's: its
//! scheme is the configured one (a request target in absolute form, or
//! HTTP/2's `:scheme`, says what the client claims, not what it used), and
//! an authority — in a proof's `htu`, in `Host`, in the request target —
//! is split exactly or refused (`Authority::parse`), so no malformed part
//! of it can disappear and leave another, valid authority behind.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::Ipv6Addr;

use http::Uri;
use http::header::HOST;

/// Where the API is reached from outside, for rebuilding a request's URI:
/// a fixed origin (plus path prefix), or the request's own `Host`.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    /// `https://api.example.com` or `https://example.com/api` (normalised,
    /// without a trailing slash): behind a proxy, what clients see.
    Fixed(String),
    /// The request's authority (its `Host`, or the target's in absolute
    /// form, which must then agree) with this scheme, `http` or `https`.
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

/// Why a request gives no URI to compare `htu` with: the client's
/// `error_description`.
pub(crate) const NO_HOST: &str = "the request has no Host to compare htu with";
const BAD_HOST: &str = "the request's Host is not a host with an optional port of 0 to 65535";
const BAD_TARGET: &str =
    "the request target's authority is not a host with an optional port of 0 to 65535";
const TWO_HOSTS: &str = "the request has more than one Host";
const HOSTS_DISAGREE: &str = "the request's Host and its target name different authorities";

impl Origin {
    /// The normalised URI of `request`'s target, as a client outside
    /// would have written it, or why there is none.
    pub(crate) fn request_uri<'a>(
        &'a self,
        uri: &'a Uri,
        headers: &http::HeaderMap,
    ) -> Result<RequestUri<'a>, &'static str> {
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
                Ok(RequestUri {
                    prefix: Cow::Borrowed(base),
                    path,
                })
            }
            Origin::FromRequest { scheme } => {
                let default_port = default_port(scheme).unwrap_or(443);
                // RFC 9112 §3.2: more than one Host is a bad request; which
                // one a proxy in front routed by is anyone's guess.
                let mut hosts = headers.get_all(HOST).iter();
                let host = match (hosts.next(), hosts.next()) {
                    (_, Some(_)) => return Err(TWO_HOSTS),
                    (Some(value), None) => Some(
                        value
                            .to_str()
                            .ok()
                            .and_then(|value| Authority::parse(value).ok())
                            .ok_or(BAD_HOST)?,
                    ),
                    (None, None) => None,
                };
                // Present in absolute form (HTTP/1.1) and from `:authority`
                // (HTTP/2). RFC 9112 §3.2.2 has it override `Host`; a proxy
                // in front may have routed by `Host` all the same, so two
                // different authorities are refused rather than one picked.
                let target = match uri.authority() {
                    Some(authority) => {
                        Some(Authority::parse(authority.as_str()).map_err(|_| BAD_TARGET)?)
                    }
                    None => None,
                };
                let authority = match (host, target) {
                    (Some(host), Some(target)) if !host.same(&target, default_port) => {
                        return Err(HOSTS_DISAGREE);
                    }
                    (Some(authority), _) | (None, Some(authority)) => authority,
                    (None, None) => return Err(NO_HOST),
                };
                // The target's own scheme is never read: see the module doc.
                let mut out = String::with_capacity(scheme.len() + 3 + 32 + path.len());
                out.push_str(scheme);
                out.push_str("://");
                authority.write(default_port, &mut out);
                if path.is_empty() {
                    out.push('/');
                } else {
                    percent_normalize(path, &mut out);
                }
                Ok(RequestUri {
                    prefix: Cow::Owned(out),
                    path: Cow::Borrowed(""),
                })
            }
        }
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    }
}

/// An `http(s)` authority split exactly: `host [ ":" port ]`.
#[derive(Debug, Clone, Copy)]
struct Authority<'a> {
    /// As written (compared and written in lower case).
    host: &'a str,
    /// `None` when absent or empty.
    port: Option<u16>,
}

impl<'a> Authority<'a> {
    /// Refuses what `http::uri::Authority` lets through and then drops:
    /// its `port()` is `None` for a port that is not a `u16` (`:99999`,
    /// `:-1`), indistinguishable from no port, takes `+443` for 443, and
    /// `host()` ignores what follows a `]`. Here the host is a bracketed
    /// IPv6 address or a name of unreserved characters (RFC 3986 §3.2.2:
    /// IPv4 addresses included; no zone identifiers, `IPvFuture`,
    /// percent-encodings or sub-delimiters, which no DNS name holds), and
    /// the port ASCII digits for a number up to 65535 (RFC 3986 §3.2.3),
    /// or empty, which RFC 3986 §6.2.3 makes the default port. No userinfo
    /// (RFC 9110 §4.2.4).
    fn parse(authority: &'a str) -> Result<Self, &'static str> {
        if authority.contains('@') {
            return Err("an http(s) authority has no userinfo (RFC 9110 section 4.2.4)");
        }
        let (host, port) = if let Some(literal) = authority.strip_prefix('[') {
            let close = literal.find(']').ok_or(BAD_IPV6)?;
            if literal[..close].parse::<Ipv6Addr>().is_err() {
                return Err(BAD_IPV6);
            }
            let (host, rest) = authority.split_at(close + 2);
            let port = match rest.strip_prefix(':') {
                Some(port) => Some(port),
                None if rest.is_empty() => None,
                None => return Err(BAD_IPV6),
            };
            (host, port)
        } else {
            let (host, port) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            let name_char =
                |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
            if host.is_empty() || !host.bytes().all(name_char) {
                return Err(BAD_NAME);
            }
            (host, port)
        };
        let port = match port {
            None => None,
            Some(port) => parse_port(port)?,
        };
        Ok(Authority { host, port })
    }

    /// The port, `None` when it is `default_port`'s.
    fn effective_port(&self, default_port: u16) -> Option<u16> {
        self.port.filter(|&port| port != default_port)
    }

    fn same(&self, other: &Authority<'_>, default_port: u16) -> bool {
        self.host.eq_ignore_ascii_case(other.host)
            && self.effective_port(default_port) == other.effective_port(default_port)
    }

    /// In normal form: the host in lower case, the default port dropped.
    fn write(&self, default_port: u16, out: &mut String) {
        out.extend(self.host.chars().map(|c| c.to_ascii_lowercase()));
        if let Some(port) = self.effective_port(default_port) {
            // Writing to a `String` cannot fail.
            let _ = write!(out, ":{port}");
        }
    }
}

const BAD_IPV6: &str = "the host is not a bracketed IPv6 address (RFC 3986 section 3.2.2)";
const BAD_NAME: &str = "the host is not a name or an IPv4 address (RFC 3986 section 3.2.2)";
const BAD_PORT: &str =
    "the port is not decimal digits for a number from 0 to 65535 (RFC 3986 section 3.2.3)";

/// The one port check, for `htu`, `Host` and the request target alike:
/// ASCII digits only (`str::parse` also takes a leading `+`), at most
/// 65535; empty is no port (RFC 3986 §3.2.3, §6.2.3). Leading zeros are
/// the same number.
fn parse_port(port: &str) -> Result<Option<u16>, &'static str> {
    if port.is_empty() {
        return Ok(None);
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BAD_PORT);
    }
    port.parse::<u16>().map(Some).map_err(|_| BAD_PORT)
}

/// `uri` in normal form without query and fragment, or `None` when it is
/// not an absolute `http`/`https` URI with an exact authority.
pub(crate) fn normalize(uri: &str) -> Option<String> {
    parse_absolute(uri).ok()
}

/// [`normalize`], saying what is wrong: for a configuration-time message.
pub(crate) fn parse_absolute(uri: &str) -> Result<String, &'static str> {
    const NOT_ABSOLUTE: &str = "not an absolute http or https URL";
    let end = uri.find(['?', '#']).unwrap_or(uri.len());
    let parsed: Uri = uri[..end].parse().map_err(|_| NOT_ABSOLUTE)?;
    let scheme = parsed
        .scheme_str()
        .ok_or(NOT_ABSOLUTE)?
        .to_ascii_lowercase();
    let default_port = default_port(&scheme).ok_or(NOT_ABSOLUTE)?;
    let authority = Authority::parse(parsed.authority().ok_or(NOT_ABSOLUTE)?.as_str())?;
    let mut out = String::with_capacity(end + 8);
    out.push_str(&scheme);
    out.push_str("://");
    authority.write(default_port, &mut out);
    let path = parsed.path();
    if path.is_empty() {
        out.push('/');
    } else {
        percent_normalize(path, &mut out);
    }
    Ok(out)
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
        assert_eq!(
            from.request_uri(&uri, &http::HeaderMap::new()).unwrap_err(),
            NO_HOST
        );
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
            assert!(from.request_uri(&uri, &headers).is_err(), "{bad}");
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

    /// Authorities refused wherever they appear: in `htu`, in `Host` and
    /// in the request target.
    const REFUSED: &[&str] = &[
        // Ports that are not a u16 in ASCII digits: `http` drops them.
        "api.example.com:99999",
        "api.example.com:65979",
        "api.example.com:65536",
        "api.example.com:99999999999999999999",
        "api.example.com:18446744073709551616",
        "api.example.com:+443",
        "api.example.com:+8443",
        "api.example.com:-443",
        "api.example.com:-1",
        "api.example.com:0x1bb",
        "api.example.com:443a",
        "api.example.com:4_43",
        "api.example.com:١٢٣",
        "api.example.com: 443",
        "api.example.com:443 ",
        "api.example.com :443",
        " api.example.com",
        "api.example.com:443:443",
        "api.example.com::443",
        // Userinfo.
        "u@api.example.com",
        "u:p@api.example.com",
        "@api.example.com",
        "api.example.com@evil.example",
        // Hosts that are not a name, an IPv4 or a bracketed IPv6 address.
        "",
        ":443",
        "api.example.com*",
        "api.exa$mple.com",
        "api.example.com%2e",
        "é.example.com",
        "a b",
        "[::1]x",
        "[::1]x:443",
        "[::1]]",
        "[::1]:99999",
        "[::1]:+443",
        "[::1]443",
        "[::1",
        "::1",
        "[not-ip]",
        "[v1.x]",
        "[fe80::1%25eth0]",
        "[]",
    ];

    #[test]
    fn ports_are_ascii_digits_up_to_65535() {
        assert_eq!(parse_port(""), Ok(None));
        assert_eq!(parse_port("0"), Ok(Some(0)));
        assert_eq!(parse_port("443"), Ok(Some(443)));
        assert_eq!(parse_port("0443"), Ok(Some(443)));
        assert_eq!(parse_port("65535"), Ok(Some(65535)));
        for bad in [
            "65536",
            "99999",
            "65979",
            "99999999999999999999",
            "+443",
            "-1",
            " 443",
            "443 ",
            "44 3",
            "0x1bb",
            "١٢٣",
            "443:",
        ] {
            assert_eq!(parse_port(bad), Err(BAD_PORT), "{bad:?}");
        }
    }

    #[test]
    fn authorities_are_split_exactly_or_refused() {
        let split = |a| Authority::parse(a).map(|a| (a.host, a.port));
        assert_eq!(split("API.example.com"), Ok(("API.example.com", None)));
        assert_eq!(split("api.example.com:"), Ok(("api.example.com", None)));
        assert_eq!(
            split("api.example.com:8443"),
            Ok(("api.example.com", Some(8443)))
        );
        assert_eq!(split("127.0.0.1:80"), Ok(("127.0.0.1", Some(80))));
        assert_eq!(split("[::1]"), Ok(("[::1]", None)));
        assert_eq!(split("[::1]:"), Ok(("[::1]", None)));
        assert_eq!(
            split("[2001:DB8::1]:8443"),
            Ok(("[2001:DB8::1]", Some(8443)))
        );
        assert_eq!(
            split("[::ffff:127.0.0.1]:1"),
            Ok(("[::ffff:127.0.0.1]", Some(1)))
        );
        for bad in REFUSED {
            assert!(Authority::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_htu_with_a_refused_authority_is_no_uri() {
        for bad in REFUSED {
            for scheme in ["https", "http"] {
                let htu = format!("{scheme}://{bad}/me");
                assert_eq!(normalize(&htu), None, "{htu:?}");
            }
        }
        // The accepted forms, each in its one normal form.
        for (htu, normal) in [
            ("https://api.example.com:/me", "https://api.example.com/me"),
            (
                "https://api.example.com:0443/me",
                "https://api.example.com/me",
            ),
            (
                "https://api.example.com:00000000000000000443/me",
                "https://api.example.com/me",
            ),
            (
                "https://api.example.com:0/me",
                "https://api.example.com:0/me",
            ),
            (
                "https://api.example.com:65535/me",
                "https://api.example.com:65535/me",
            ),
            (
                "http://api.example.com:443/me",
                "http://api.example.com:443/me",
            ),
            ("https://[2001:DB8::1]:443/me", "https://[2001:db8::1]/me"),
            (
                "https://[2001:db8::1]:8443/me",
                "https://[2001:db8::1]:8443/me",
            ),
            ("HTTPS://127.0.0.1:08443", "https://127.0.0.1:8443/"),
        ] {
            assert_eq!(normalize(htu).as_deref(), Some(normal), "{htu:?}");
        }
    }

    #[test]
    fn external_url_reasons_name_the_fault() {
        assert_eq!(
            parse_absolute("https://api.example.com:99999"),
            Err(BAD_PORT)
        );
        assert_eq!(parse_absolute("https://[::1]x"), Err(BAD_IPV6));
        assert_eq!(parse_absolute("https://a*b"), Err(BAD_NAME));
        assert_eq!(
            parse_absolute("ftp://api.example.com"),
            Err("not an absolute http or https URL")
        );
    }

    fn host(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(HOST, http::HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_scheme_is_the_configured_one_whatever_the_target_says() {
        let https = Origin::FromRequest { scheme: "https" };
        let http = Origin::FromRequest { scheme: "http" };
        for target in [
            "http://api.example.com/me",
            "https://api.example.com/me",
            "ws://api.example.com/me",
            "/me",
        ] {
            let uri: Uri = target.parse().unwrap();
            let headers = host("api.example.com");
            assert_eq!(
                https.request_uri(&uri, &headers).unwrap().to_string(),
                "https://api.example.com/me",
                "{target}"
            );
            assert_eq!(
                http.request_uri(&uri, &headers).unwrap().to_string(),
                "http://api.example.com/me",
                "{target}"
            );
        }
        // HTTP/2: `:authority` and `:scheme` in the URI, no `Host`.
        let h2: Uri = "http://API.example.com:443/me".parse().unwrap();
        assert_eq!(
            https
                .request_uri(&h2, &http::HeaderMap::new())
                .unwrap()
                .to_string(),
            "https://api.example.com/me"
        );
    }

    #[test]
    fn host_and_target_authorities_must_agree() {
        let https = Origin::FromRequest { scheme: "https" };
        let absolute: Uri = "http://api.example.com/me".parse().unwrap();
        for same in ["api.example.com", "API.example.com:443", "api.example.com:"] {
            let uri = https.request_uri(&absolute, &host(same)).unwrap();
            assert_eq!(uri.to_string(), "https://api.example.com/me", "{same}");
        }
        for other in [
            "evil.example",
            "api.example.com:8443",
            "api.example.com.",
            "api.example.com:80",
        ] {
            assert_eq!(
                https.request_uri(&absolute, &host(other)).unwrap_err(),
                HOSTS_DISAGREE,
                "{other}"
            );
        }
        let mut two = host("api.example.com");
        two.append(HOST, "api.example.com".parse().unwrap());
        let origin_form: Uri = "/me".parse().unwrap();
        assert_eq!(
            https.request_uri(&origin_form, &two).unwrap_err(),
            TWO_HOSTS
        );
        for bad in REFUSED.iter().filter(|b| !b.is_empty()) {
            assert_eq!(
                https.request_uri(&origin_form, &host(bad)).unwrap_err(),
                BAD_HOST,
                "Host: {bad:?}"
            );
            assert_eq!(
                https.request_uri(&absolute, &host(bad)).unwrap_err(),
                BAD_HOST,
                "Host: {bad:?}"
            );
            // A target the `http` crate parses gets the same check.
            if let Ok(uri) = format!("http://{bad}/me").parse::<Uri>() {
                assert_eq!(
                    https
                        .request_uri(&uri, &host("api.example.com"))
                        .unwrap_err(),
                    BAD_TARGET,
                    "target {bad:?}"
                );
            }
        }
        let bytes = http::HeaderValue::from_bytes(b"api.example.com\xff").unwrap();
        let mut obs = http::HeaderMap::new();
        obs.insert(HOST, bytes);
        assert_eq!(https.request_uri(&origin_form, &obs).unwrap_err(), BAD_HOST);
        // The fixed origin never reads either, and borrows what it returns.
        let fixed = Origin::Fixed("https://api.example.com".into());
        let target = fixed
            .request_uri(&absolute, &host("evil.example:99999"))
            .unwrap();
        assert!(matches!(
            target,
            RequestUri {
                prefix: Cow::Borrowed(_),
                path: Cow::Borrowed(_)
            }
        ));
        assert!(target.is("https://api.example.com/me"));
    }
}
