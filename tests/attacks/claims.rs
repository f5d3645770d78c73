//! Registered claims of the wrong type or of absurd values, issuers that
//! almost match, and the verified-token cache deciding like a fresh check.

use crate::*;

/// A token signed by the honest key with claim `name` set to the raw JSON
/// `value` (so numbers `serde_json` would not write, such as `1e309`).
fn with_raw_claim(name: &str, value: &str) -> String {
    let mut claims = claims();
    claims[name] = json!("@@");
    let payload = claims.to_string().replace(r#""@@""#, value);
    raw_token(r#"{"alg":"RS256","kid":"rsa-1"}"#, &payload, &RSA, "RS256")
}

#[tokio::test]
async fn time_claims_of_the_wrong_type_or_out_of_range() {
    let v = validator().await;
    let not_json = "invalid claim: claims are not valid JSON";
    for name in ["exp", "nbf", "iat"] {
        let wrong = format!("invalid claim: {name} is not a NumericDate");
        for value in [
            format!(r#""{}""#, NOW + 3600),
            "\"now\"".to_owned(),
            "true".to_owned(),
            format!("[{}]", NOW + 3600),
            format!(r#"{{"$date":{}}}"#, NOW + 3600),
            // Beyond i64, and floats no clock reaches.
            "18446744073709551615".to_owned(),
            "1e300".to_owned(),
            "-1e300".to_owned(),
            "1e17".to_owned(),
        ] {
            refuses(&v, &with_raw_claim(name, &value), &wrong).await;
        }
        // Not JSON numbers at all (serde_json refuses to round 1e309 to
        // infinity): the claim set is not JSON.
        for value in ["1e309", "-1e309", "NaN", "Infinity", "-Infinity"] {
            refuses(&v, &with_raw_claim(name, value), not_json).await;
        }
        // An integer beyond u64 reads as a float, out of range.
        refuses(
            &v,
            &with_raw_claim(name, "99999999999999999999999999"),
            &wrong,
        )
        .await;
    }
    // `null` is not a date either; for `exp` it is the missing claim.
    refuses(
        &v,
        &with_raw_claim("exp", "null"),
        "invalid claim: exp is not a NumericDate",
    )
    .await;
}

#[tokio::test]
async fn time_claims_negative_fractional_and_beyond_year_9999() {
    let v = validator().await;
    let year_10000 = 253_402_300_800_i64;
    for (name, value, description) in [
        ("exp", "-1".to_owned(), "token expired"),
        ("exp", i64::MIN.to_string(), "token expired"),
        ("exp", "0".to_owned(), "token expired"),
        ("exp", format!("{}.999", NOW - 61), "token expired"),
        ("nbf", year_10000.to_string(), "token not yet valid"),
        ("nbf", i64::MAX.to_string(), "token not yet valid"),
        ("nbf", format!("{}.5", NOW + 61), "token not yet valid"),
        ("iat", year_10000.to_string(), "token issued in the future"),
        ("iat", i64::MAX.to_string(), "token issued in the future"),
        ("iat", "9.2e16".to_owned(), "token issued in the future"),
    ] {
        refuses(&v, &with_raw_claim(name, &value), description).await;
    }
    // A far `exp` does not wrap around into the past when the leeway is
    // added: the issuer signed it, so it is the issuer's call. Negative and
    // fractional `nbf` / `iat` are in the past, and fine.
    for (name, value) in [
        ("exp", year_10000.to_string()),
        ("exp", i64::MAX.to_string()),
        ("exp", format!("{}.5", NOW + 30)),
        ("nbf", "-1".to_owned()),
        ("nbf", i64::MIN.to_string()),
        ("iat", "-1.5".to_owned()),
    ] {
        let token = with_raw_claim(name, &value);
        accepts(&v, &token).await;
    }
}

#[tokio::test]
async fn aud_of_the_wrong_shape() {
    let v = validator().await;
    let shape = "invalid claim: aud is not a string or an array of strings";
    for value in [
        json!(1),
        json!(true),
        json!({"aud": AUD}),
        json!([1, AUD]),
        json!([AUD, null]),
        json!([[AUD]]),
        json!([{"0": AUD}]),
    ] {
        refuses(&v, &token().claim("aud", value).sign(&RSA), shape).await;
    }
    for (value, description) in [
        // Naming no one is no audience (see token_kinds.rs).
        (json!([]), "missing required claim: aud"),
        (json!(""), "missing required claim: aud"),
        (
            json!([format!("{AUD} "), AUD.to_uppercase()]),
            "invalid audience",
        ),
        (json!(format!("{AUD},other")), "invalid audience"),
        (json!(null), "missing required claim: aud"),
    ] {
        refuses(&v, &token().claim("aud", value).sign(&RSA), description).await;
    }
}

#[tokio::test]
async fn iss_that_almost_matches() {
    let v = validator().await;
    for iss in [
        json!(format!("{ISS}/")),
        json!(ISS.trim_end_matches("/attacks")),
        json!(ISS.to_uppercase()),
        json!(ISS.replace("https", "HTTPS")),
        json!(ISS.replace("login", "LOGIN")),
        json!(ISS.replace("https://", "http://")),
        json!(ISS.replace("example", "ex\u{0430}mple")), // Cyrillic a
        json!(ISS.replace("login.", "login\u{3002}")),   // ideographic full stop
        json!(format!("{ISS}\u{0000}")),
        json!(format!(" {ISS}")),
        json!(format!("{ISS}#")),
        json!(format!("{ISS}?")),
        json!(ISS.replace("https://", "https://user@")),
        json!(ISS.replace(".test", ".test:443")),
        json!(""),
    ] {
        refuses(&v, &token().claim("iss", iss).sign(&RSA), "invalid issuer").await;
    }
    for iss in [json!([ISS]), json!({"iss": ISS}), json!(1)] {
        refuses(
            &v,
            &token().claim("iss", iss).sign(&RSA),
            "invalid claim: iss is not a string",
        )
        .await;
    }
    refuses(
        &v,
        &token().remove_claim("iss").sign(&RSA),
        "missing required claim: iss",
    )
    .await;
}

/// Issue 11, item 2: a cached token is decided as a fresh one would be,
/// for every time claim, whichever way the clock moves.
#[tokio::test]
async fn a_cache_hit_decides_every_time_claim_like_a_fresh_verification() {
    let leeway = 60;
    for (claim, moves) in [
        ("exp", [3600 + leeway + 1, 3600 + leeway - 1]),
        ("nbf", [-(5 + leeway) - 100, -(5 + leeway)]),
        ("iat", [-(leeway + 1), -leeway]),
    ] {
        for seconds in moves {
            let clock = ManualClock::new(NOW);
            let cached = builder_for(&[&RSA])
                .clock(clock.clone())
                .build()
                .await
                .unwrap();
            let fresh = builder_for(&[&RSA])
                .clock(clock.clone())
                .token_cache_size(0)
                .build()
                .await
                .unwrap();
            // `nbf` needs a token that becomes valid later: one issued with
            // nbf = NOW + 5 is accepted within the leeway at NOW.
            let honest = match claim {
                "nbf" => token().claim("nbf", NOW + 5).sign(&RSA),
                _ => token().sign(&RSA),
            };
            accepts(&cached, &honest).await;
            assert_eq!(cached.cached_tokens(), 1, "the token is cached");
            clock.advance(seconds);
            let from_cache = cached.try_verify::<User>(&honest).map(|c| c.sub.clone());
            let from_scratch = fresh.try_verify::<User>(&honest).map(|c| c.sub.clone());
            assert_eq!(
                from_cache.as_ref().map_err(|e| e.description()),
                from_scratch.as_ref().map_err(|e| e.description()),
                "{claim}, clock moved by {seconds} s: cache and fresh check disagree"
            );
            // And through the layer.
            let (app_cached, calls_cached) = app(cached.layer::<User>());
            let (app_fresh, calls_fresh) = app(fresh.layer::<User>());
            let value = format!("Bearer {honest}");
            let a = send(&app_cached, Some(value.as_bytes())).await;
            let b = send(&app_fresh, Some(value.as_bytes())).await;
            assert_eq!(a.status, b.status, "{claim} {seconds}");
            assert_eq!(a.challenge, b.challenge, "{claim} {seconds}");
            assert_eq!(
                calls_cached.load(Ordering::SeqCst),
                calls_fresh.load(Ordering::SeqCst),
                "{claim} {seconds}"
            );
        }
    }
}
