//! Each source alone, then together: what counts as a token, what as
//! absent, what as a malformed request.

use http::HeaderValue;

use super::*;

fn request(headers: &[(&str, &str)], uri: &str) -> (HeaderMap, Uri) {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    (map, uri.parse().unwrap())
}

/// `Ok(Some(token))` as `Ok(token)`, `Ok(None)` as `Ok("")`, errors by
/// their description.
fn token(sources: &[TokenSource], headers: &[(&str, &str)], uri: &str) -> Result<String, String> {
    let (headers, uri) = request(headers, uri);
    match Sources::new(sources.iter().cloned()).read(&headers, &uri, 16, false) {
        Ok(found) => Ok(found.map(|c| c.token.into_owned()).unwrap_or_default()),
        Err((error, _)) => Err(error.to_string()),
    }
}

#[test]
fn cookies() {
    let at = [TokenSource::cookie("at")];
    for (cookie, want) in [
        ("at=abc", "abc"),
        ("at=ab==", "ab=="),
        ("theme=dark; at=a.b-c", "a.b-c"),
        ("theme=dark;at=abc;x=y", "abc"),
        (" at = abc ", "abc"),
        ("at=\"abc\"", "abc"),
        ("AT=abc; at2=abc; xat=abc", ""),
        ("at=", ""),
        ("at=\"\"", ""),
        ("at=; at=abc", "abc"),
        ("at", ""),
        ("x=at=abc", ""),
    ] {
        assert_eq!(
            token(&at, &[("cookie", cookie)], "/"),
            Ok(want.into()),
            "{cookie}"
        );
    }
    // Several fields (HTTP/2) are one list.
    assert_eq!(
        token(&at, &[("cookie", "x=1"), ("cookie", "at=abc")], "/"),
        Ok("abc".into())
    );
    for (cookies, error) in [
        (&[("cookie", "at=a; at=b")][..], "more than one cookie"),
        (
            &[("cookie", "at=a"), ("cookie", "at=a")],
            "more than one cookie",
        ),
        (&[("cookie", "at=a b")], "not token68"),
        (&[("cookie", "at=\"abc")], "not token68"),
        (&[("cookie", "at=abc,def")], "not token68"),
        (&[("cookie", "at=aaaaaaaaaaaaaaaaa")], "too large"),
        // The limit is on the token: quotes are not part of it, and
        // a huge value is refused before it is scanned.
        (&[("cookie", "at=\"aaaaaaaaaaaaaaaa\\\"")], "too large"),
    ] {
        let got = token(&at, cookies, "/").unwrap_err();
        assert!(got.contains(error), "{cookies:?}: {got}");
    }
    assert_eq!(
        token(&at, &[("cookie", "at=\"aaaaaaaaaaaaaaaa\"")], "/"),
        Ok("a".repeat(16))
    );
}

#[test]
fn custom_header() {
    let x = [TokenSource::header(HeaderName::from_static("x-token"))];
    assert_eq!(token(&x, &[("x-token", "abc")], "/"), Ok("abc".into()));
    assert_eq!(token(&x, &[("x-token", "")], "/"), Ok("".into()));
    assert_eq!(
        token(&x, &[("authorization", "Bearer abc")], "/"),
        Ok("".into())
    );
    for (value, error) in [
        ("Bearer abc", "without a scheme"),
        ("aaaaaaaaaaaaaaaaa", "too large"),
    ] {
        let got = token(&x, &[("x-token", value)], "/").unwrap_err();
        assert!(got.contains(error), "{value}: {got}");
    }
    let got = token(&x, &[("x-token", "a"), ("x-token", "a")], "/").unwrap_err();
    assert!(got.contains("more than one token header"), "{got}");
    // `header(AUTHORIZATION)` reads the scheme, as it must.
    let auth = [TokenSource::header(AUTHORIZATION)];
    assert_eq!(auth[0], TokenSource::authorization_header());
}

#[test]
fn query_parameter() {
    let q = [TokenSource::insecure_query_parameter()];
    for (uri, want) in [
        ("/?access_token=abc", "abc"),
        ("/?access_token=ab==", "ab=="),
        ("/p?x=1&access_token=a.b&y=2", "a.b"),
        ("/?access_token=a%2Eb%2Bc%3D", "a.b+c="),
        ("/?access%5Ftoken=abc", "abc"),
        ("/?access_token=", ""),
        ("/?access_token", ""),
        ("/?access_tokenx=abc&xaccess_token=abc", ""),
        ("/", ""),
    ] {
        assert_eq!(token(&q, &[], uri), Ok(want.into()), "{uri}");
    }
    for (uri, error) in [
        (
            "/?access_token=a&access_token=b",
            "more than one access_token",
        ),
        (
            "/?access_token=a&access%5Ftoken=a",
            "more than one access_token",
        ),
        // `+` is a space in a form-urlencoded value.
        ("/?access_token=a+b", "not token68"),
        ("/?access_token=%FF", "not token68"),
        // The limit applies to the encoded value.
        ("/?access_token=%61%61%61%61%61%61", "too large"),
    ] {
        let got = token(&q, &[], uri).unwrap_err();
        assert!(got.contains(error), "{uri}: {got}");
    }
}

#[test]
fn one_method_per_request() {
    let both = [
        TokenSource::authorization_header(),
        TokenSource::cookie("at"),
    ];
    assert_eq!(token(&both, &[("cookie", "at=abc")], "/"), Ok("abc".into()));
    assert_eq!(
        token(&both, &[("authorization", "Bearer abc")], "/"),
        Ok("abc".into())
    );
    // Another scheme is no token: the cookie is the only one.
    assert_eq!(
        token(
            &both,
            &[("authorization", "Basic eDp5"), ("cookie", "at=abc")],
            "/"
        ),
        Ok("abc".into())
    );
    let got = token(
        &both,
        &[("authorization", "Bearer abc"), ("cookie", "at=abc")],
        "/",
    )
    .unwrap_err();
    assert!(got.contains("more than one method"), "{got}");
    let with_query = [
        TokenSource::cookie("at"),
        TokenSource::insecure_query_parameter(),
    ];
    let got = token(&with_query, &[("cookie", "at=abc")], "/?access_token=abc").unwrap_err();
    assert!(got.contains("more than one method"), "{got}");
    // The same source listed twice is read once.
    let twice = [TokenSource::cookie("at"), TokenSource::cookie("at")];
    assert_eq!(
        token(&twice, &[("cookie", "at=abc")], "/"),
        Ok("abc".into())
    );
}

#[test]
fn default_reads_only_the_authorization_header() {
    assert!(matches!(Sources::default(), Sources::AuthorizationHeader));
    assert!(matches!(
        Sources::new([TokenSource::authorization_header()]),
        Sources::AuthorizationHeader
    ));
    let (headers, uri) = request(&[("cookie", "access_token=abc")], "/?access_token=abc");
    assert!(
        Sources::default()
            .read(&headers, &uri, 16, false)
            .unwrap()
            .is_none()
    );
}

#[test]
fn bearer_methods() {
    assert_eq!(Sources::default().bearer_methods(), ["header"]);
    let all = Sources::new([
        TokenSource::cookie("at"),
        TokenSource::insecure_query_parameter(),
        TokenSource::header(HeaderName::from_static("x-token")),
        TokenSource::authorization_header(),
    ]);
    assert_eq!(all.bearer_methods(), ["query", "header"]);
    assert!(
        Sources::new([TokenSource::cookie("at")])
            .bearer_methods()
            .is_empty()
    );
}

#[test]
#[should_panic(expected = "not a valid cookie name")]
fn cookie_names_are_tokens() {
    for good in ["at", "__Host-at", "access_token"] {
        TokenSource::cookie(good);
    }
    TokenSource::cookie("a=b");
}

#[test]
#[should_panic(expected = "at least one TokenSource")]
fn an_empty_list_is_a_mistake() {
    Sources::new([]);
}
