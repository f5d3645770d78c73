//! The token sources besides `Authorization`: a cookie (RFC 6265), a
//! header holding the token alone, the `access_token` query parameter
//! (RFC 6750 §2.3). Each reads one request and says whether it holds a
//! token, none, or something malformed; nothing here verifies anything.

use std::borrow::Cow;

use http::header::COOKIE;
use http::{HeaderMap, HeaderName};

use super::token68_str;
use crate::error::Error;

pub(super) fn cookie_token<'r>(
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

pub(super) fn header_token<'r>(
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

pub(super) fn query_token(
    query: Option<&str>,
    max_len: usize,
) -> Result<Option<Cow<'_, str>>, Error> {
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
                "malformed request: the access_token query parameter is not token68 once percent-decoded",
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
pub(super) fn is_cookie_name(name: &[u8]) -> bool {
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
