//! The token's and the `Authorization` header's syntax: whitespace,
//! padding, the standard base64 alphabet, dots, empty parts, bytes that are
//! not UTF-8, and values of a megabyte and of a hundred.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};

use crate::*;

const NOT_TOKEN68: &str = "malformed Authorization header: bearer token is not token68";
const NOT_ASCII: &str = "malformed Authorization header: Authorization header is not visible ASCII";

async fn bad_request(v: &Validator, value: &[u8], description: &str) {
    layer_refuses(
        v.layer::<User>(),
        value,
        StatusCode::BAD_REQUEST,
        Some("invalid_request"),
        Some(description),
    )
    .await;
}

#[tokio::test]
async fn whitespace_inside_the_token() {
    let v = validator().await;
    let honest = token().sign(&RSA);
    let [h, p, s] = parts(&honest);
    for spaced in [
        format!("{h} .{p}.{s}"),
        format!("{h}. {p}.{s}"),
        format!("{h}.{p}.{} {}", &s[..10], &s[10..]),
        format!("{h}.{p}.{}\t{}", &s[..10], &s[10..]),
    ] {
        bad_request(&v, format!("Bearer {spaced}").as_bytes(), NOT_TOKEN68).await;
        // Without the layer, the same token is malformed.
        let error = v.try_verify::<User>(&spaced).map(|_| ()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidToken, "{error}");
        assert!(
            error.description().starts_with("malformed token"),
            "{error}"
        );
    }
    // Spaces around the token are the header's, not the token's.
    let (app, calls) = app(v.layer::<User>());
    for value in [format!("Bearer   {honest}"), format!("Bearer {honest}   ")] {
        assert_eq!(
            send(&app, Some(value.as_bytes())).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // A newline or CR cannot even be sent in a header value.
    assert!(http::HeaderValue::from_str(&format!("Bearer {h}.{p}\n.{s}")).is_err());
}

#[tokio::test]
async fn padding_and_the_standard_base64_alphabet() {
    let v = validator().await;
    let honest = token().claim("sub", "padded??>>").sign(&RSA);
    let [h, p, s] = parts(&honest);
    let pad = |part: &str| {
        let missing = (4 - part.len() % 4) % 4;
        format!("{part}{}", "=".repeat(missing))
    };
    // Padding on the signature (the last part) is token68, so it reaches
    // the decoder; padding elsewhere is not token68.
    if pad(s) != s {
        refuses(
            &v,
            &format!("{h}.{p}.{}", pad(s)),
            "malformed token: signature is not base64url",
        )
        .await;
    }
    if pad(h) != h {
        bad_request(
            &v,
            format!("Bearer {}.{p}.{s}", pad(h)).as_bytes(),
            NOT_TOKEN68,
        )
        .await;
        let error = v
            .try_verify::<User>(&format!("{}.{p}.{s}", pad(h)))
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            error.description(),
            "malformed token: header is not base64url"
        );
    }
    // The standard alphabet (`+` and `/`) is token68 but not base64url.
    let std_payload = STANDARD_NO_PAD.encode(oidc_bearer_testkit::b64url_decode(p));
    assert!(
        std_payload.contains(['+', '/']),
        "the claims were chosen to need + or /"
    );
    refuses(
        &v,
        &format!("{h}.{std_payload}.{s}"),
        "malformed token: payload is not base64url",
    )
    .await;
    let std_padded = STANDARD.encode(oidc_bearer_testkit::b64url_decode(s));
    refuses(
        &v,
        &format!("{h}.{p}.{std_padded}"),
        "malformed token: signature is not base64url",
    )
    .await;
    let url_padded = URL_SAFE.encode(oidc_bearer_testkit::b64url_decode(s));
    if url_padded.ends_with('=') {
        refuses(
            &v,
            &format!("{h}.{p}.{url_padded}"),
            "malformed token: signature is not base64url",
        )
        .await;
    }
}

#[tokio::test]
async fn extra_dots_and_empty_parts() {
    let v = validator().await;
    let honest = token().sign(&RSA);
    let [h, p, s] = parts(&honest);
    let three = "malformed token: expected three dot-separated parts";
    let empty = "malformed token: empty header or payload";
    for (token, description) in [
        (format!("{h}.{p}.{s}."), three),
        (format!(".{h}.{p}.{s}"), three),
        (format!("{h}..{p}.{s}"), three),
        (format!("{h}.{p}.{s}.{s}.{s}.{s}"), three),
        (format!("{h}.{p}"), three),
        (h.to_owned(), three),
        (
            format!("{h}.{p}.{s}.{s}.{s}"),
            "malformed token: encrypted tokens (JWE) are not accepted",
        ),
        (format!(".{p}.{s}"), empty),
        (format!("{h}..{s}"), empty),
        ("..".to_owned(), empty),
        (
            "....".to_owned(),
            "malformed token: encrypted tokens (JWE) are not accepted",
        ),
        (format!("{h}.{p}."), "invalid signature"),
        (".".to_owned(), three),
    ] {
        refuses(&v, &token, description).await;
    }
}

#[tokio::test]
async fn bytes_that_are_not_utf8() {
    let v = validator().await;
    let honest = token().sign(&RSA);
    let [h, p, s] = parts(&honest);
    // In the header value itself (obs-text): not visible ASCII.
    for value in [
        [
            b"Bearer ".as_slice(),
            h.as_bytes(),
            b".\xff\xfe.",
            s.as_bytes(),
        ]
        .concat(),
        [b"Bearer ".as_slice(), honest.as_bytes(), b"\xc3\xa9"].concat(),
        b"Bearer \x80".to_vec(),
        b"B\xe9arer abc.def.ghi".to_vec(),
    ] {
        bad_request(&v, &value, NOT_ASCII).await;
    }
    // Inside the decoded header and claims.
    let bad_utf8 = |json: &[u8]| b64url(json);
    let header = bad_utf8(b"{\"alg\":\"RS256\",\"kid\":\"rsa-\xff\"}");
    let input = format!("{header}.{p}");
    let token = format!("{input}.{}", b64url(&RSA.sign("RS256", input.as_bytes())));
    refuses(
        &v,
        &token,
        "malformed token: header is not a valid JOSE header",
    )
    .await;
    let header = bad_utf8(b"\xff\xfe{\"alg\":\"RS256\"}");
    refuses(
        &v,
        &format!("{header}.{p}.{s}"),
        "malformed token: header is not a JSON object",
    )
    .await;
    let payload = bad_utf8(
        format!(r#"{{"iss":"{ISS}","aud":"{AUD}","exp":{},"sub":"#, NOW + 60)
            .into_bytes()
            .into_iter()
            .chain(*b"\"\xff\"}")
            .collect::<Vec<u8>>()
            .as_slice(),
    );
    let input = format!("{h}.{payload}");
    let token = format!("{input}.{}", b64url(&RSA.sign("RS256", input.as_bytes())));
    // The registered claims skip `sub` without decoding it; the
    // application's claims type reads it and fails.
    refuses(&v, &token, "claims do not match the expected shape").await;
}

/// Issue 11, item 3: the length is checked before the value is scanned, so
/// a huge header is refused at once, without copying it.
#[tokio::test(flavor = "current_thread")]
async fn values_of_one_and_a_hundred_megabytes_are_refused_fast_in_bounded_memory() {
    let v = validator().await;
    let (app, calls) = app(v.layer::<User>());
    for megabytes in [1, 100] {
        let value = format!("Bearer {}", "a".repeat(megabytes << 20));
        let request = request(Some(value.as_bytes()));
        let started = Instant::now();
        let (seen, bytes) = allocated_during(send_request(&app, request)).await;
        let took = started.elapsed();
        assert_eq!(seen.status, StatusCode::UNAUTHORIZED, "{megabytes} MB");
        assert_eq!(seen.param("error").as_deref(), Some("invalid_token"));
        assert_eq!(
            seen.param("error_description").as_deref(),
            Some("token too large")
        );
        // A hang guard, not a benchmark: the value is never scanned or copied.
        assert!(
            took < Duration::from_secs(5),
            "{megabytes} MB took {took:?}"
        );
        assert!(
            bytes < 256 * 1024,
            "{megabytes} MB: {bytes} bytes allocated"
        );
        // try_verify refuses the bare token the same way.
        let error = v.try_verify::<User>(&value[7..]).map(|_| ()).unwrap_err();
        assert_eq!(error.description(), "token too large");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn large_values_over_http_get_401_below_hypers_limit_and_431_above() {
    let v = validator().await;
    let (router, calls) = app(v.layer::<User>());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    // 16 KiB: past the 8 KiB token limit, well within hyper's header limit.
    let answer = client
        .get(format!("{base}/me"))
        .header("authorization", format!("Bearer {}", "a".repeat(16 << 10)))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let challenge = answer.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(r#"error_description="token too large""#),
        "{challenge}"
    );
    // 1 MiB: hyper refuses the request head itself.
    let answer = client
        .get(format!("{base}/me"))
        .header("authorization", format!("Bearer {}", "a".repeat(1 << 20)))
        .send()
        .await;
    match answer {
        Ok(answer) => assert_eq!(answer.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        // hyper may close the connection while the client is still writing.
        Err(error) => assert!(
            error.is_request() || error.is_body() || error.is_connect(),
            "{error}"
        ),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    server.abort();
}

/// Issue 11, item 4: RFC 7235 §2.1 puts `1*SP` between the scheme and the
/// token; a tab there makes a malformed Bearer credential (400), which is
/// never taken for "no credentials", not even under `allow_anonymous`.
#[tokio::test]
async fn bearer_tab_token_is_a_malformed_credential_with_and_without_anonymous() {
    let v = validator().await;
    let honest = token().sign(&RSA);
    for value in [
        format!("Bearer\t{honest}"),
        format!("Bearer\t {honest}"),
        format!("bearer\t{honest}"),
    ] {
        for layer in [v.layer::<User>(), v.layer::<User>().allow_anonymous()] {
            layer_refuses(
                layer,
                value.as_bytes(),
                StatusCode::BAD_REQUEST,
                Some("invalid_request"),
                None,
            )
            .await;
        }
    }
    // Several spaces are fine.
    let (app, calls) = app(v.layer::<User>());
    assert_eq!(
        send(&app, Some(format!("Bearer  {honest}").as_bytes()))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn malformed_bearer_credentials_are_never_anonymous() {
    let v = validator().await;
    let honest = token().sign(&RSA);
    for value in [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Bearer    ".to_owned(),
        format!("Bearer {honest} {honest}"),
        format!("Bearer {honest},"),
        "Bearer \"quoted\"".to_owned(),
    ] {
        for layer in [v.layer::<User>(), v.layer::<User>().allow_anonymous()] {
            layer_refuses(
                layer,
                value.as_bytes(),
                StatusCode::BAD_REQUEST,
                Some("invalid_request"),
                None,
            )
            .await;
        }
    }
    // A bad token under allow_anonymous is refused, not anonymous.
    let forged = token()
        .claim("sub", "admin")
        .header("kid", "rsa-1")
        .sign_with(&ATTACKER, "RS256");
    let seen = layer_refuses(
        v.layer::<User>().allow_anonymous(),
        format!("Bearer {forged}").as_bytes(),
        StatusCode::UNAUTHORIZED,
        Some("invalid_token"),
        None,
    )
    .await;
    assert_eq!(
        seen.param("error_description").as_deref(),
        Some("invalid signature")
    );
}
