//! Header members that point at keys (`jku`, `x5u`, `jwk`, `x5c`), `crit`
//! and its extensions (`b64`), and token shapes that are not a compact JWS
//! (JWE, the JSON serialization, a nested JWT).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use oidc_bearer_testkit::{MockProvider, Reply, TestIssuer};

use crate::*;

/// The attacker's own loopback server, publishing the attacker's key every
/// way a header could point at it, and counting who comes asking.
async fn attacker_server() -> MockProvider {
    let server = MockProvider::start().await;
    server.set("/jwks", Reply::jwks(&[&ATTACKER]));
    server.set(
        "/cert",
        Reply::raw(
            200,
            "application/pkix-cert",
            ATTACKER.self_signed_cert_der(),
        ),
    );
    server.set(
        "/chain",
        Reply::raw(
            200,
            "application/pem-certificate-chain",
            ATTACKER.public_pem(),
        ),
    );
    server
}

/// Tokens signed by the attacker whose header points at the attacker's key.
fn pointing_tokens(server: &MockProvider, kid: &str) -> Vec<(&'static str, String)> {
    let signed = |name: &str, value: Value| {
        token()
            .header("kid", kid)
            .header(name, value)
            .sign_with(&ATTACKER, "RS256")
    };
    let mut out = vec![
        ("jku", signed("jku", json!(server.url("/jwks")))),
        ("x5u", signed("x5u", json!(server.url("/cert")))),
        ("x5u (PEM)", signed("x5u", json!(server.url("/chain")))),
        ("jwk", signed("jwk", ATTACKER.public_jwk())),
        ("x5c", signed("x5c", json!([ATTACKER.x5c()]))),
        (
            "x5c (DER base64)",
            signed("x5c", json!([STANDARD.encode(ATTACKER.spki_der())])),
        ),
    ];
    let all = token()
        .header("kid", kid)
        .header("jku", server.url("/jwks"))
        .header("x5u", server.url("/cert"))
        .header("jwk", ATTACKER.public_jwk())
        .header("x5c", json!([ATTACKER.x5c()]))
        .sign_with(&ATTACKER, "RS256");
    out.push(("all four", all));
    out
}

#[tokio::test]
async fn key_pointers_in_the_header_are_never_followed_or_used() {
    let server = attacker_server().await;
    // A validator with a real remote key source (so it has an HTTP client
    // and refetches on unknown kids), against the honest issuer.
    let issuer = TestIssuer::start().await;
    let v = Validator::builder()
        .issuer(&issuer.issuer)
        .audience(AUD)
        .jwks_url(&issuer.jwks_url)
        .build()
        .await
        .unwrap();
    let retarget = |t: &str| -> String {
        // Same attack, with the honest issuer's `iss`.
        let [header, _, _] = parts(t);
        let header: Value = oidc_bearer_testkit::decode_segment(header);
        let mut builder = TokenBuilder::new()
            .without_kid()
            .claims(claims())
            .claim("iss", issuer.issuer.as_str());
        for (name, value) in header.as_object().unwrap() {
            builder = builder.header(name, value.clone());
        }
        builder.sign_with(&ATTACKER, "RS256")
    };
    // Naming the honest key: the attacker's signature does not verify.
    for (what, forged) in pointing_tokens(&server, issuer.key.kid()) {
        let forged = retarget(&forged);
        assert!(v.try_verify::<User>(&forged).is_err(), "{what}");
        refuses(&v, &forged, "invalid signature").await;
    }
    // Naming the attacker's kid: unknown, whatever the header offers.
    for (what, forged) in pointing_tokens(&server, ATTACKER.kid()) {
        let forged = retarget(&forged);
        assert!(v.try_verify::<User>(&forged).is_err(), "{what}");
        refuses(&v, &forged, "unknown key id").await;
    }
    // No kid at all: the one honest key is tried.
    let kidless = retarget(
        &token()
            .without_kid()
            .header("jwk", ATTACKER.public_jwk())
            .header("jku", server.url("/jwks"))
            .sign_with(&ATTACKER, "RS256"),
    );
    refuses(&v, &kidless, "invalid signature").await;
    // Give a background task every chance to have gone there.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server.total_hits(),
        0,
        "the attacker's server was contacted"
    );
    // The honest provider was asked for its own JWKS only.
    assert_eq!(
        issuer.provider.total_hits(),
        issuer.provider.hits(&issuer.jwks_path())
    );
}

#[tokio::test]
async fn key_pointers_beside_a_static_jwks_change_nothing() {
    let server = attacker_server().await;
    let v = validator().await;
    for (_, forged) in pointing_tokens(&server, "rsa-1") {
        refuses(&v, &forged, "invalid signature").await;
    }
    for (_, forged) in pointing_tokens(&server, ATTACKER.kid()) {
        refuses(&v, &forged, "unknown key id").await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.total_hits(), 0);
}

#[tokio::test]
async fn unknown_crit_and_b64_false() {
    let v = validator().await;
    let payload = claims_text();
    for header in [
        r#"{"alg":"RS256","kid":"rsa-1","crit":["exp"],"exp":1}"#,
        r#"{"alg":"RS256","kid":"rsa-1","crit":["urn:example:unknown"],"urn:example:unknown":true}"#,
        r#"{"alg":"RS256","kid":"rsa-1","crit":["b64"],"b64":false}"#,
        r#"{"alg":"RS256","kid":"rsa-1","crit":[]}"#,
        r#"{"alg":"RS256","kid":"rsa-1","crit":"b64"}"#,
    ] {
        // Signed with the honest key: only the extension is refused.
        refuses(
            &v,
            &raw_token(header, &payload, &RSA, "RS256"),
            "unsupported critical header parameter",
        )
        .await;
    }
    // `null` is an absent member throughout the header (as for `kid` and
    // `typ`): it names no extension, so none is skipped.
    let null_crit = raw_token(
        r#"{"alg":"RS256","kid":"rsa-1","crit":null}"#,
        &payload,
        &RSA,
        "RS256",
    );
    accepts(&v, &null_crit).await;
    // RFC 7797 unencoded payload: the signature covers `header.<raw JSON>`.
    let header = b64(r#"{"alg":"RS256","kid":"rsa-1","crit":["b64"],"b64":false}"#);
    let input = format!("{header}.{payload}");
    let signature = b64url(&RSA.sign("RS256", input.as_bytes()));
    let unencoded = format!("{header}..{signature}");
    refuses(&v, &unencoded, "malformed token: empty header or payload").await;
    // b64 without crit is an unknown member and ignored (RFC 7797 §6): the
    // payload must still be base64url, so an unencoded one is refused, by
    // the layer already for not being token68.
    let header = b64(r#"{"alg":"RS256","kid":"rsa-1","b64":false}"#);
    let raw = r#"{"iss":"x","sub":"admin"}"#;
    let input = format!("{header}.{raw}");
    let unencoded = format!("{input}.{}", b64url(&RSA.sign("RS256", input.as_bytes())));
    layer_refuses(
        v.layer::<User>(),
        format!("Bearer {unencoded}").as_bytes(),
        StatusCode::BAD_REQUEST,
        Some("invalid_request"),
        Some("malformed Authorization header: bearer token is not token68"),
    )
    .await;
    for error in [
        v.verify::<User>(&unencoded).await.map(|_| ()).unwrap_err(),
        v.try_verify::<User>(&unencoded).map(|_| ()).unwrap_err(),
    ] {
        assert_eq!(
            error.description(),
            "malformed token: payload is not base64url"
        );
    }
}

#[tokio::test]
async fn jwe_json_serialization_and_nested_jwt() {
    let v = validator().await;
    let honest = token().sign(&RSA);
    let [h, p, s] = parts(&honest);
    // Five parts: a JWE (RSA-OAEP header, made-up parts).
    let jwe = format!(
        "{}.{}.{}.{}.{}",
        b64(r#"{"alg":"RSA-OAEP","enc":"A256GCM","kid":"rsa-1"}"#),
        b64url(&[1; 256]),
        b64url(&[2; 12]),
        b64url(&[3; 64]),
        b64url(&[4; 16])
    );
    refuses(
        &v,
        &jwe,
        "malformed token: encrypted tokens (JWE) are not accepted",
    )
    .await;
    // The flattened JSON serialization of the honest token, base64url'd so
    // it is token68: it has no dots.
    let json_serialization = json!({"protected": h, "payload": p, "signature": s}).to_string();
    refuses(
        &v,
        &b64(&json_serialization),
        "malformed token: expected three dot-separated parts",
    )
    .await;
    // As is, it is not even token68: 400 from the layer, malformed for
    // verify.
    layer_refuses(
        v.layer::<User>(),
        format!("Bearer {json_serialization}").as_bytes(),
        StatusCode::BAD_REQUEST,
        Some("invalid_request"),
        None,
    )
    .await;
    assert!(v.try_verify::<User>(&json_serialization).is_err());
    // The general JSON serialization with a signatures array.
    let general =
        json!({"payload": p, "signatures": [{"protected": h, "signature": s}]}).to_string();
    refuses(
        &v,
        &b64(&general),
        "malformed token: expected three dot-separated parts",
    )
    .await;

    // A nested JWT (cty: JWT): an attacker wraps the honest token in a JWS
    // of their own. Nothing unwraps it: a payload that is not a JSON object
    // is refused before any key is looked at.
    let wrapped = TokenBuilder::new()
        .header("cty", "JWT")
        .header("kid", "rsa-1");
    let outer_input = format!(
        "{}.{}",
        {
            let mut header = wrapped.header_map().clone();
            header.insert("alg".into(), json!("RS256"));
            b64(&Value::Object(header).to_string())
        },
        b64(&honest)
    );
    let by_attacker = format!(
        "{outer_input}.{}",
        b64url(&ATTACKER.sign("RS256", outer_input.as_bytes()))
    );
    refuses(
        &v,
        &by_attacker,
        "malformed token: claims are not a JSON object",
    )
    .await;
    // Even signed by the honest key, the payload of a nested JWT is a
    // token, not a claim set.
    let by_issuer = format!(
        "{outer_input}.{}",
        b64url(&RSA.sign("RS256", outer_input.as_bytes()))
    );
    refuses(
        &v,
        &by_issuer,
        "malformed token: claims are not a JSON object",
    )
    .await;
}
