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
mod tests;
