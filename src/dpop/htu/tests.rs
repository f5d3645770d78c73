//! The `htu` rules on the private functions directly: normal forms, the
//! request URI the layer rebuilds, and authorities split exactly or refused.

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
