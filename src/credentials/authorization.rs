//! The `Authorization` header (RFC 9110 §11.6.2), read once for both
//! schemes this crate serves: `Bearer <token68>` (RFC 6750 §2.1) and
//! `DPoP <token68>` (RFC 9449 §7.1), with the token's syntax (RFC 7235
//! §2.1 `token68`) and size.
//!
//! Nothing here verifies anything. A value of another scheme (`Basic`, or
//! `DPoP` on a layer without DPoP settings) is no credentials; a value of
//! one of ours that cannot be read is a malformed request.

use http::HeaderMap;
use http::header::AUTHORIZATION;

use super::Scheme;
use crate::error::Error;

/// A refusal while reading credentials, with the scheme it concerns (the
/// challenge names the error on that scheme's challenge).
pub(crate) type Refused = (Error, Scheme);

/// Which schemes a layer reads from `Authorization`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schemes {
    /// `Bearer`: the `Authorization` header is one of the token sources.
    pub bearer: bool,
    /// `DPoP`: the layer has DPoP settings that accept proofs.
    pub dpop: bool,
}

/// The token of the request's `Authorization` header and its scheme.
///
/// `Ok(None)`: no credentials of an accepted scheme. `Err`: the request is
/// malformed (400 `invalid_request`), or the token is longer than
/// `max_len` bytes (401 `invalid_token`), which is checked before the
/// token is scanned at all.
#[inline]
pub(crate) fn authorization(
    headers: &HeaderMap,
    max_len: usize,
    schemes: Schemes,
) -> Result<Option<(Scheme, &str)>, Refused> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        if !schemes.bearer {
            return Ok(None);
        }
        return Err((
            Error::InvalidRequest(
                "malformed Authorization header: more than one Authorization header",
            ),
            Scheme::Bearer,
        ));
    }
    let bytes = value.as_bytes();
    if schemes.bearer
        && let Some(rest) = bytes
            .split_at_checked(BEARER.len())
            .and_then(|(scheme, rest)| scheme.eq_ignore_ascii_case(BEARER).then_some(rest))
    {
        // The size limit before any scan of the token, so a huge value
        // costs as little as `try_verify` makes it cost.
        let token = trim_spaces(rest);
        if token.len() > max_len {
            return Err((Error::TokenTooLarge, Scheme::Bearer));
        }
        // The common case, `Bearer <token68>`, in one pass over the bytes:
        // token68 characters are visible ASCII, so the token68 check also
        // proves what `HeaderValue::to_str` would check. Anything else
        // takes the general path below, which picks the error message.
        if let Some(token) = token68_str(token) {
            return Ok(Some((Scheme::Bearer, token)));
        }
    }
    if schemes.dpop
        && let Some(dpop) = dpop_token(bytes, max_len)
    {
        return dpop
            .map(|token| Some((Scheme::Dpop, token)))
            .map_err(|error| (error, Scheme::Dpop));
    }
    if !schemes.bearer {
        return Ok(None);
    }
    bearer_slow(value.to_str(), max_len)
        .map(|token| token.map(|token| (Scheme::Bearer, token)))
        .map_err(|error| (error, Scheme::Bearer))
}

/// `Bearer` when the one-pass check above did not take it: which error,
/// or another scheme.
#[cold]
fn bearer_slow<E>(value: Result<&str, E>, max_len: usize) -> Result<Option<&str>, Error> {
    let value = value.map_err(|_| {
        Error::InvalidRequest(
            "malformed Authorization header: Authorization header is not visible ASCII",
        )
    })?;
    let (scheme, rest) = value
        .find([' ', '\t'])
        .map_or((value, ""), |at| value.split_at(at));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Another scheme (Basic, or DPoP for a layer without DPoP
        // settings): no bearer credentials.
        return Ok(None);
    }
    // RFC 7235 §2.1: `auth-scheme [ 1*SP token68 ]`. A tab there makes the
    // credentials malformed, not absent: never served as anonymous.
    if rest.starts_with('\t') {
        return Err(Error::InvalidRequest(
            "malformed Authorization header: the Bearer scheme and its token must be separated by a space, not a tab",
        ));
    }
    let token = rest.trim_matches(' ');
    if token.len() > max_len {
        return Err(Error::TokenTooLarge);
    }
    if token.is_empty() {
        return Err(Error::InvalidRequest(
            "malformed Authorization header: Bearer scheme without a token",
        ));
    }
    if !is_token68(token.as_bytes()) {
        return Err(Error::InvalidRequest(
            "malformed Authorization header: bearer token is not token68",
        ));
    }
    Ok(Some(token))
}

/// The token of `DPoP <token68>` (RFC 9449 §7.1), read on the bytes;
/// `None` for another scheme.
fn dpop_token(bytes: &[u8], max_len: usize) -> Option<Result<&str, Error>> {
    if bytes.eq_ignore_ascii_case(b"dpop") {
        return Some(Err(Error::InvalidRequest(
            "malformed Authorization header: DPoP scheme without a token",
        )));
    }
    let (scheme, rest) = bytes.split_at_checked(5)?;
    if !scheme.eq_ignore_ascii_case(b"dpop ") {
        if scheme.eq_ignore_ascii_case(b"dpop\t") {
            return Some(Err(Error::InvalidRequest(
                "malformed Authorization header: the DPoP scheme and its token must be separated by a space, not a tab",
            )));
        }
        return None;
    }
    let token = rest.trim_ascii();
    if token.len() > max_len {
        return Some(Err(Error::TokenTooLarge));
    }
    if token.is_empty() {
        return Some(Err(Error::InvalidRequest(
            "malformed Authorization header: DPoP scheme without a token",
        )));
    }
    Some(token68_str(token).ok_or(Error::InvalidRequest(
        "malformed Authorization header: DPoP token is not token68",
    )))
}

/// The scheme and the space that ends it, compared case-insensitively.
const BEARER: &[u8] = b"bearer ";

/// Without the spaces around it (RFC 7235's `1*SP` before the token; the
/// HTTP parser strips those after it, a `oneshot` request may not).
#[inline(always)]
fn trim_spaces(value: &[u8]) -> &[u8] {
    let start = value.iter().position(|&b| b != b' ').unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |i| i + 1);
    &value[start..end.max(start)]
}

/// `token` as a `&str` when it is token68, else `None`.
#[inline(always)]
pub(crate) fn token68_str(token: &[u8]) -> Option<&str> {
    if !is_token68(token) {
        return None;
    }
    std::str::from_utf8(token).ok()
}

/// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
fn is_token68(s: &[u8]) -> bool {
    let body_len = s.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    let body = &s[..body_len];
    if body.is_empty() {
        return false;
    }
    // Branch-free per byte over fixed 32-byte blocks, so the compiler
    // checks them with vector compares; the tail is one more block ending
    // at the last byte (overlapping the one before), unless the whole body
    // is shorter than a block.
    const BLOCK: usize = 32;
    fn block_ok(block: &[u8; BLOCK]) -> bool {
        let mut bad = 0u8;
        for &b in block {
            bad |= u8::from(!token68_body_byte(b));
        }
        bad == 0
    }
    let Some(last) = body.last_chunk::<BLOCK>() else {
        return body.iter().all(|&b| token68_body_byte(b));
    };
    body.as_chunks::<BLOCK>().0.iter().all(block_ok) && block_ok(last)
}

#[inline(always)]
fn token68_body_byte(b: u8) -> bool {
    // ALPHA: folding case maps exactly `A-Z` and `a-z` onto `a-z`.
    let alpha = (b | 0x20).wrapping_sub(b'a') < 26;
    // `-`, `.`, `/` and DIGIT are the contiguous range 0x2D..=0x39.
    let dash_to_digit = b.wrapping_sub(b'-') < 13;
    alpha | dash_to_digit | (b == b'+') | (b == b'_') | (b == b'~')
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    /// The reader of a layer without DPoP settings.
    fn bearer_token(headers: &HeaderMap, max_len: usize) -> Result<Option<&str>, Error> {
        let schemes = Schemes {
            bearer: true,
            dpop: false,
        };
        authorization(headers, max_len, schemes)
            .map(|found| found.map(|(_, token)| token))
            .map_err(|(error, _)| error)
    }

    fn bearer_token_8k(headers: &HeaderMap) -> Result<Option<&str>, Error> {
        bearer_token(headers, 8192)
    }

    /// With DPoP accepted: the scheme and the token, or the error's
    /// description and its scheme.
    fn both(value: &[u8]) -> Result<Option<(Scheme, String)>, (String, Scheme)> {
        let headers = headers(&[value]);
        let schemes = Schemes {
            bearer: true,
            dpop: true,
        };
        match authorization(&headers, 16, schemes) {
            Ok(found) => Ok(found.map(|(scheme, token)| (scheme, token.to_owned()))),
            Err((error, scheme)) => Err((error.to_string(), scheme)),
        }
    }

    #[test]
    fn one_parser_reads_both_schemes() {
        let found = |scheme, token: &str| Ok(Some((scheme, token.to_owned())));
        assert_eq!(both(b"Bearer abc"), found(Scheme::Bearer, "abc"));
        assert_eq!(both(b"DPoP abc"), found(Scheme::Dpop, "abc"));
        assert_eq!(both(b"dpop   abc  "), found(Scheme::Dpop, "abc"));
        assert_eq!(both(b"Basic abc"), Ok(None));
        let dpop_error = |message: &str| Err((message.to_owned(), Scheme::Dpop));
        assert_eq!(
            both(b"DPoP"),
            dpop_error("malformed Authorization header: DPoP scheme without a token")
        );
        assert_eq!(
            both(b"DPoP\tabc"),
            dpop_error(
                "malformed Authorization header: the DPoP scheme and its token must be \
                 separated by a space, not a tab"
            )
        );
        assert_eq!(
            both(b"DPoP a,b"),
            dpop_error("malformed Authorization header: DPoP token is not token68")
        );
        assert_eq!(
            both(b"DPoP 01234567890123456"),
            dpop_error("token too large")
        );
        // Without DPoP settings a DPoP value is another scheme: no token.
        assert_eq!(bearer_token_8k(&headers(&[b"DPoP abc"])).unwrap(), None);
        // A layer that reads DPoP only (no Authorization source) ignores
        // Bearer values, and several headers.
        let dpop_only = Schemes {
            bearer: false,
            dpop: true,
        };
        let read = |values: &[&[u8]]| {
            authorization(&headers(values), 16, dpop_only)
                .map(|found| found.map(|(scheme, token)| (scheme, token.to_owned())))
                .map_err(|(error, scheme)| (error.to_string(), scheme))
        };
        assert_eq!(read(&[b"Bearer abc"]), Ok(None));
        assert_eq!(read(&[b"DPoP a", b"DPoP b"]), Ok(None));
        assert_eq!(
            read(&[b"DPoP abc"]),
            Ok(Some((Scheme::Dpop, "abc".to_owned())))
        );
    }

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn header_parsing() {
        assert_eq!(bearer_token_8k(&headers(&[])).unwrap(), None);
        assert_eq!(
            bearer_token_8k(&headers(&[b"Bearer abc.def.ghi"])).unwrap(),
            Some("abc.def.ghi")
        );
        assert_eq!(
            bearer_token_8k(&headers(&[b"bEaReR abc"])).unwrap(),
            Some("abc")
        );
        assert_eq!(
            bearer_token_8k(&headers(&[b"Basic dXNlcjpwYXNz"])).unwrap(),
            None
        );
        assert_eq!(
            bearer_token_8k(&headers(&[b"Bearer a+b/c=="])).unwrap(),
            Some("a+b/c==")
        );
        for bad in [
            &b"Bearer"[..],
            b"Bearer ",
            b"Bearer a b",
            b"Bearer a=b",
            b"Bearer ===",
            b"Bearer a\"b",
            b"Bearer \xff",
        ] {
            assert!(
                matches!(
                    bearer_token_8k(&headers(&[bad])),
                    Err(Error::InvalidRequest(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            bearer_token_8k(&headers(&[b"Bearer a", b"Bearer b"])),
            Err(Error::InvalidRequest(_))
        ));
    }

    /// The header check as plainly as it can be written: the reference the
    /// fast path must agree with, error message included.
    fn reference(value: &[u8]) -> Result<Option<&str>, Error> {
        let value = HeaderValue::from_bytes(value).unwrap();
        let value = value.to_str().map_err(|_| {
            Error::InvalidRequest(
                "malformed Authorization header: Authorization header is not visible ASCII",
            )
        })?;
        let (scheme, rest) = value
            .find([' ', '\t'])
            .map_or((value, ""), |at| value.split_at(at));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Ok(None);
        }
        if rest.starts_with('\t') {
            return Err(Error::InvalidRequest(
                "malformed Authorization header: the Bearer scheme and its token must be separated by a space, not a tab",
            ));
        }
        let token = rest.trim_matches(' ');
        if token.is_empty() {
            return Err(Error::InvalidRequest(
                "malformed Authorization header: Bearer scheme without a token",
            ));
        }
        let body = token.trim_end_matches('=');
        if body.is_empty()
            || !body.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
            })
        {
            return Err(Error::InvalidRequest(
                "malformed Authorization header: bearer token is not token68",
            ));
        }
        Ok(Some("token"))
    }

    fn outcome(r: Result<Option<&str>, Error>) -> String {
        match r {
            Ok(Some(_)) => "token".into(),
            Ok(None) => "none".into(),
            Err(e) => format!("{e:?}"),
        }
    }

    #[test]
    fn fast_path_agrees_with_the_reference() {
        // 83 bytes: two whole 32-byte blocks and a tail.
        let token =
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl_c2lnbmF0dXJl-c2lnbmF0dXJlc2lnbmF0";
        let mut values: Vec<Vec<u8>> = Vec::new();
        for prefix in [
            "Bearer ", "bearer ", "BEARER  ", "Bearer\t", "Bearerx ", "Basic ", "",
        ] {
            for suffix in ["", "=", "==", " ", "  ", "\t", "= ", "=a"] {
                // Every byte a header value may hold, at the start, inside
                // (in and after the first 16-byte chunk) and at the end.
                for b in (0u8..=255).filter(|&b| b != b'\r' && b != b'\n' && b != 0) {
                    for at in [0, 1, 15, 16, 17, 30, 31, 32, 33, 40, 63, 64, 65, 81, 82, 83] {
                        let mut v = format!("{prefix}{token}").into_bytes();
                        v.insert(prefix.len() + at, b);
                        v.extend_from_slice(suffix.as_bytes());
                        values.push(v);
                    }
                }
                values.push(format!("{prefix}{token}{suffix}").into_bytes());
                values.push(format!("{prefix}{suffix}").into_bytes());
                values.push(format!("{prefix}a{suffix}").into_bytes());
            }
        }
        for v in &values {
            let Ok(_) = HeaderValue::from_bytes(v) else {
                continue;
            };
            let got = outcome(bearer_token_8k(&headers(&[v])));
            let want = outcome(reference(v));
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(v));
            if got == "token" {
                // The token handed on is the value minus scheme and spaces.
                let h = headers(&[v]);
                let t = bearer_token_8k(&h).unwrap().unwrap();
                let s = std::str::from_utf8(v).unwrap();
                assert_eq!(s[7..].trim_matches(' '), t);
            }
        }
    }

    #[test]
    fn tab_after_the_scheme_is_a_malformed_request() {
        for value in [&b"Bearer\tabc"[..], b"bearer\t abc", b"Bearer\t"] {
            assert!(
                matches!(
                    bearer_token_8k(&headers(&[value])),
                    Err(Error::InvalidRequest(m)) if m.contains("tab")
                ),
                "{value:?}"
            );
        }
        // Several spaces are `1*SP`, still fine; another scheme with a tab
        // is still no bearer credentials.
        assert_eq!(
            bearer_token_8k(&headers(&[b"Bearer   abc"])).unwrap(),
            Some("abc")
        );
        assert_eq!(bearer_token_8k(&headers(&[b"Basic\tabc"])).unwrap(), None);
    }

    #[test]
    fn the_size_limit_comes_before_the_token68_scan() {
        let limit = 16;
        let at_limit = format!("Bearer {}", "a".repeat(limit));
        assert_eq!(
            bearer_token(&headers(&[at_limit.as_bytes()]), limit).unwrap(),
            Some(&at_limit[7..])
        );
        // Too long is refused as too long, whatever the bytes: a value the
        // token68 scan would refuse as malformed never gets that far.
        for filler in ["a", "\"", " a"] {
            let long = format!("Bearer {}", filler.repeat(limit + 1));
            assert!(
                matches!(
                    bearer_token(&headers(&[long.as_bytes()]), limit),
                    Err(Error::TokenTooLarge)
                ),
                "{filler:?}"
            );
        }
        // Spaces around the token do not count against it.
        let padded = format!("Bearer   {}   ", "a".repeat(limit));
        assert!(bearer_token(&headers(&[padded.as_bytes()]), limit).is_ok());
    }
}
