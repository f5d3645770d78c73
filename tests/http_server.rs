//! The whole path over real sockets: a provider serving its JWKS on
//! 127.0.0.1, a protected axum server on 127.0.0.1, and reqwest as the
//! client. What a browser or SPA would see.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::{Json, Router, routing::get};
use oidc_bearer::rejection::ProblemJson;
use oidc_bearer::{Claims, Error, Validator, ValidatorBuilder};
use oidc_bearer_testkit::{KeyKind, MockProvider, Reply, TestIssuer, TestKey, TokenBuilder, now};
use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use serde::{Deserialize, Serialize};

mod common;
use common::{Answer, Api, bearer, fetch, serve, validator_for};

const AUDIENCE: &str = "orders-api";

#[derive(Debug, Deserialize, Serialize)]
struct OrderClaims {
    sub: String,
    scope: Option<String>,
}

async fn me(claims: Claims<OrderClaims>) -> Json<Claims<OrderClaims>> {
    Json(claims)
}

async fn protected_api(issuer: &TestIssuer) -> (Api, Validator) {
    let validator = validator_for(issuer, AUDIENCE)
        .build()
        .await
        .expect("validator builds against the loopback provider");
    let app = Router::new()
        .route("/me", get(me))
        .layer(validator.layer::<OrderClaims>().realm("orders"));
    (serve(app).await, validator)
}

async fn get_me(api: &Api, authorization: &[&str]) -> Answer {
    fetch(api, "/me", authorization).await
}

#[tokio::test]
async fn valid_token_reaches_the_handler_with_its_claims() {
    let issuer = TestIssuer::start().await;
    let (api, _validator) = protected_api(&issuer).await;
    let token = issuer
        .builder(AUDIENCE)
        .claim("sub", "alice")
        .sign(&issuer.key);

    let answer = get_me(&api, &[&bearer(&token)]).await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let claims: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["scope"], "read write");
}

#[tokio::test]
async fn no_token_gets_a_bare_challenge() {
    let issuer = TestIssuer::start().await;
    let (api, _validator) = protected_api(&issuer).await;

    let answer = get_me(&api, &[]).await;

    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(r#"Bearer realm="orders""#)
    );
}

#[tokio::test]
async fn refused_tokens_get_invalid_token_with_the_rule_that_failed() {
    let issuer = TestIssuer::start().await;
    let (api, _validator) = protected_api(&issuer).await;
    let expired = issuer
        .builder(AUDIENCE)
        .claim("exp", now() - 7200)
        .claim("iat", now() - 10800)
        .sign(&issuer.key);
    let other_audience = issuer.token("someone-elses-api");
    let valid = issuer.token(AUDIENCE);
    let mut parts: Vec<&str> = valid.split('.').collect();
    let forged_payload = issuer
        .builder(AUDIENCE)
        .claim("sub", "admin")
        .encoded_claims();
    parts[1] = &forged_payload;
    let tampered = parts.join(".");
    let stranger = TestKey::generate(KeyKind::Rsa2048, "not-published");
    let unknown_key = issuer.builder(AUDIENCE).sign(&stranger);

    for (token, description) in [
        (expired, "token expired"),
        (other_audience, "invalid audience"),
        (tampered, "invalid signature"),
        (unknown_key, "unknown key id"),
    ] {
        let answer = get_me(&api, &[&bearer(&token)]).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{description}");
        assert_eq!(
            answer.challenge.as_deref(),
            Some(
                format!(
                    r#"Bearer realm="orders", error="invalid_token", error_description="{description}""#
                )
                .as_str()
            )
        );
        assert!(!answer.body.contains(&token[..20]), "body echoes the token");
    }
}

#[tokio::test]
async fn malformed_requests_get_invalid_request() {
    let issuer = TestIssuer::start().await;
    let (api, _validator) = protected_api(&issuer).await;
    let token = issuer.token(AUDIENCE);
    let bearer = bearer(&token);

    for headers in [
        vec![bearer.as_str(), bearer.as_str()],
        vec!["Bearer"],
        vec!["Bearer a b"],
    ] {
        let answer = get_me(&api, &headers).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{headers:?}");
        let challenge = answer.challenge.unwrap();
        assert!(
            challenge.starts_with(r#"Bearer realm="orders", error="invalid_request""#),
            "{challenge}"
        );
    }
}

#[tokio::test]
async fn rotated_key_is_accepted_on_first_use() {
    let mut issuer = TestIssuer::start().await;
    let (api, validator) = protected_api(&issuer).await;
    let jwks_hits = issuer.provider.hits(&issuer.jwks_path());

    issuer.rotate(KeyKind::EcP256, "ec-2");
    let answer = get_me(&api, &[&bearer(&issuer.token(AUDIENCE))]).await;

    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.challenge);
    assert_eq!(issuer.provider.hits(&issuer.jwks_path()), jwks_hits + 1);
    assert!(validator.keys().contains_kid("ec-2"));
}

#[tokio::test]
async fn problem_json_bodies_keep_the_rfc6750_headers() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let app = Router::new()
        .route("/me", get(me))
        .layer(validator.layer::<OrderClaims>().on_rejection(ProblemJson));
    let api = serve(app).await;
    let expired = issuer
        .builder(AUDIENCE)
        .claim("exp", now() - 7200)
        .sign(&issuer.key);

    let response = api
        .client
        .get(format!("{}/me", api.base))
        .bearer_auth(expired)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert!(
        response.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], 401);
    assert_eq!(body["detail"], "token expired");
}

#[tokio::test]
async fn provider_down_at_start_means_503_then_recovery() {
    let issuer = TestIssuer::start().await;
    issuer.provider.shutdown().await;
    let validator = validator_for(&issuer, AUDIENCE)
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(200))
        .start_without_keys()
        .build()
        .await
        .expect("start_without_keys starts while the provider is down");
    let app = Router::new()
        .route("/me", get(me))
        .layer(validator.layer::<OrderClaims>());
    let api = serve(app).await;
    let token = issuer.token(AUDIENCE);

    let answer = get_me(&api, &[&bearer(&token)]).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.retry_after.is_some());

    issuer.provider.restart().await;
    let recovered = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let status = get_me(&api, &[&bearer(&token)]).await.status;
            if status == StatusCode::OK {
                return;
            }
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        recovered.is_ok(),
        "keys never arrived after the provider came back"
    );
}

#[tokio::test]
async fn hmac_needs_an_explicit_secret_and_never_uses_jwks_keys() {
    let issuer = TestIssuer::start().await;
    let (api, _validator) = protected_api(&issuer).await;
    // Classic confusion: HS256 keyed with the RSA public key.
    let confused = TokenBuilder::new()
        .claims(oidc_bearer_testkit::standard_claims(
            &issuer.issuer,
            AUDIENCE,
        ))
        .header("kid", issuer.key.kid())
        .sign_hmac(issuer.key.public_pem().as_bytes(), "HS256");

    let answer = get_me(&api, &[&bearer(&confused)]).await;

    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(
        answer
            .challenge
            .unwrap()
            .contains(r#"error_description="unsupported algorithm""#)
    );
}

// ------------------------------------------------------------------
// The issue's rules as a client over a real socket sees them.

/// A validator for `issuer`, adjusted by `configure`, protecting `/me`
/// (which counts its calls) with realm "orders".
async fn counted_api(
    issuer: &TestIssuer,
    configure: impl FnOnce(ValidatorBuilder) -> ValidatorBuilder,
) -> (Api, Arc<AtomicUsize>) {
    let validator = configure(validator_for(issuer, AUDIENCE))
        .build()
        .await
        .expect("validator builds against the loopback provider");
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = Router::new()
        .route(
            "/me",
            get(move |claims: Claims<OrderClaims>| async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Json(claims)
            }),
        )
        .layer(validator.layer::<OrderClaims>().realm("orders"));
    (serve(app).await, calls)
}

/// 401, `error="invalid_token"`, and an `error_description` that names
/// `rule` in the characters RFC 6750 allows.
#[track_caller]
fn assert_invalid_token(answer: &Answer, rule: &str) {
    assert_eq!(
        answer.status,
        StatusCode::UNAUTHORIZED,
        "{rule}: {:?}",
        answer.challenge
    );
    let challenge = answer
        .challenge
        .as_deref()
        .expect("a WWW-Authenticate challenge");
    let prefix = r#"Bearer realm="orders", error="invalid_token", error_description=""#;
    let description = challenge
        .strip_prefix(prefix)
        .and_then(|d| d.strip_suffix('"'))
        .unwrap_or_else(|| panic!("unexpected challenge: {challenge}"));
    assert!(
        description.contains(rule),
        "{description:?} does not name {rule:?}"
    );
    assert!(
        description
            .chars()
            .all(|c| matches!(c, ' ' | '!' | '#'..='[' | ']'..='~')),
        "{description:?}"
    );
}

#[tokio::test]
async fn bearer_scheme_is_case_insensitive_and_other_schemes_get_a_bare_challenge() {
    let issuer = TestIssuer::start().await;
    let (api, calls) = counted_api(&issuer, |b| b).await;
    let token = issuer.token(AUDIENCE);

    for scheme in ["Bearer", "bearer", "BEARER"] {
        let answer = get_me(&api, &[&format!("{scheme} {token}")]).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{scheme}: {:?}",
            answer.challenge
        );
    }
    for other in ["Basic dXNlcjpwYXNz", "DPoP abc"] {
        let answer = get_me(&api, &[other]).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{other}");
        assert_eq!(
            answer.challenge.as_deref(),
            Some(r#"Bearer realm="orders""#)
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn token_syntax_rules_over_http() {
    let issuer = TestIssuer::start().await;
    let (api, calls) = counted_api(&issuer, |b| b).await;
    let valid = issuer.token(AUDIENCE);
    let (signing_input, signature) = valid.rsplit_once('.').unwrap();
    let huge = issuer
        .builder(AUDIENCE)
        .claim("pad", "x".repeat(9000))
        .sign(&issuer.key);

    for (token, rule) in [
        (huge, "token too large"),
        ("a".repeat(8193), "token too large"),
        (format!("{valid}.{signature}.{signature}"), "JWE"),
        (signing_input.to_owned(), "malformed token"),
        (format!("{valid}="), "signature is not base64url"),
        (
            format!("{signing_input}.+{}", &signature[1..]),
            "signature is not base64url",
        ),
    ] {
        let answer = get_me(&api, &[&bearer(&token)]).await;
        assert_invalid_token(&answer, rule);
    }
    // Whitespace inside the token breaks the header syntax itself.
    let answer = get_me(&api, &[&format!("Bearer {signing_input} .{signature}")]).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // Larger tokens pass when the limit is raised.
    let (roomy, _) = counted_api(&issuer, |b| b.max_token_len(32 * 1024)).await;
    let big = issuer
        .builder(AUDIENCE)
        .claim("pad", "x".repeat(9000))
        .sign(&issuer.key);
    assert_eq!(
        get_me(&roomy, &[&bearer(&big)]).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn header_rules_over_http() {
    let issuer = TestIssuer::start().await;
    let (api, calls) = counted_api(&issuer, |b| b).await;
    let attacker = TestKey::generate(KeyKind::Rsa2048, "attacker");
    let attacker_site = MockProvider::start().await;
    attacker_site.set("/jwks", Reply::jwks(&[&attacker]));
    let forged = || issuer.builder(AUDIENCE).claim("sub", "admin");

    for (token, rule) in [
        (forged().unsigned("none"), "unsupported algorithm"),
        (forged().unsigned("NONE"), "unsupported algorithm"),
        (
            forged()
                .header("kid", issuer.key.kid())
                .sign_hmac(issuer.key.public_pem().as_bytes(), "HS256"),
            "unsupported algorithm",
        ),
        (
            forged()
                .header("crit", serde_json::json!(["exp"]))
                .header("exp", 1)
                .sign(&issuer.key),
            "unsupported critical header parameter",
        ),
        (
            forged()
                .header("alg", "ES256")
                .sign_with(&issuer.key, "RS256"),
            "algorithm does not match the key",
        ),
        (
            forged()
                .header("jwk", attacker.public_jwk())
                .header("x5c", serde_json::json!([attacker.x5c()]))
                .header("kid", issuer.key.kid())
                .sign(&attacker),
            "invalid signature",
        ),
        (
            forged()
                .header("jku", attacker_site.url("/jwks"))
                .sign(&attacker),
            "unknown key id",
        ),
    ] {
        let answer = get_me(&api, &[&bearer(&token)]).await;
        assert_invalid_token(&answer, rule);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(attacker_site.total_hits(), 0, "a header URL was fetched");
}

#[tokio::test]
async fn claim_rules_over_http() {
    let issuer = TestIssuer::start().await;
    let (api, calls) = counted_api(&issuer, |b| b).await;
    let now = now();
    let token = || issuer.builder(AUDIENCE);

    for (token, rule) in [
        (
            token().claim("iss", format!("{}/", issuer.issuer)),
            "invalid issuer",
        ),
        (token().remove_claim("aud"), "missing required claim: aud"),
        (
            token().claim("aud", serde_json::json!(["a", "b"])),
            "invalid audience",
        ),
        (token().remove_claim("exp"), "missing required claim: exp"),
        (token().claim("exp", now - 120), "token expired"),
        (token().claim("nbf", now + 600), "token not yet valid"),
        (
            token().claim("iat", now + 600),
            "token issued in the future",
        ),
        (
            token().claim("exp", (now + 3600).to_string()),
            "invalid claim: exp",
        ),
        (
            token().claim("sub", 42),
            "claims do not match the expected shape",
        ),
    ] {
        let answer = get_me(&api, &[&bearer(&token.sign(&issuer.key))]).await;
        assert_invalid_token(&answer, rule);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    // Float NumericDates and an audience array with one match pass.
    let floats = token()
        .claim("exp", now as f64 + 3600.5)
        .claim("iat", now as f64 - 0.5)
        .claim("nbf", now as f64 - 5.25)
        .claim("aud", serde_json::json!(["account", AUDIENCE]))
        .sign(&issuer.key);
    let answer = get_me(&api, &[&bearer(&floats)]).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.challenge);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn optional_claim_rules_over_http() {
    let issuer = TestIssuer::start().await;
    let (api, calls) = counted_api(&issuer, |b| {
        b.require_type("at+jwt")
            .require_claims(["client_id"])
            .rule(|claims| match claims["client_id"].as_str() {
                Some("spa") => Ok(()),
                _ => Err("client \"x\\y\" is not allowed – ünïcødé".into()),
            })
    })
    .await;
    let token = || {
        issuer
            .builder(AUDIENCE)
            .header("typ", "at+jwt")
            .claim("client_id", "spa")
    };

    let answer = get_me(&api, &[&bearer(&token().sign(&issuer.key))]).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.challenge);
    let typed = token()
        .header("typ", "application/at+jwt")
        .sign(&issuer.key);
    assert_eq!(
        get_me(&api, &[&bearer(&typed)]).await.status,
        StatusCode::OK
    );

    for (token, rule) in [
        (token().header("typ", "JWT"), "invalid token type"),
        // A multi-byte character across the length of "application/":
        // refused like any other type, not a dropped connection.
        (token().header("typ", "aaaaaaaaaaaéx"), "invalid token type"),
        (
            token().remove_claim("client_id"),
            "missing required claim: client_id",
        ),
        (
            token().claim("client_id", "other"),
            "token rejected: client xy is not allowed",
        ),
    ] {
        let answer = get_me(&api, &[&bearer(&token.sign(&issuer.key))]).await;
        assert_invalid_token(&answer, rule);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn anonymous_requests_over_http() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let app = Router::new()
        .route(
            "/me",
            get(|claims: Option<Claims<OrderClaims>>| async move {
                match claims {
                    Some(claims) => format!("hello {}", claims.sub),
                    None => "hello stranger".to_owned(),
                }
            }),
        )
        .layer(validator.layer::<OrderClaims>().allow_anonymous());
    let api = serve(app).await;

    let answer = get_me(&api, &[]).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "hello stranger")
    );
    let alice = issuer
        .builder(AUDIENCE)
        .claim("sub", "alice")
        .sign(&issuer.key);
    let answer = get_me(&api, &[&bearer(&alice)]).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "hello alice")
    );
    let expired = issuer
        .builder(AUDIENCE)
        .claim("exp", now() - 3600)
        .sign(&issuer.key);
    let answer = get_me(&api, &[&bearer(&expired)]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(
        answer
            .challenge
            .unwrap()
            .contains(r#"error_description="token expired""#)
    );
}

#[tokio::test]
async fn claims_extractor_without_the_layer_is_a_500_saying_what_to_add() {
    let issuer = TestIssuer::start().await;
    let (_protected, validator) = protected_api(&issuer).await;
    #[derive(Deserialize, Serialize)]
    struct Other {
        sub: String,
    }
    let app = Router::new().route("/me", get(me)).route(
        "/other",
        get(|c: Claims<Other>| async move { c.sub.clone() })
            .layer(validator.layer::<OrderClaims>()),
    );
    let api = serve(app).await;
    let token = issuer.token(AUDIENCE);

    let answer = get_me(&api, &[&bearer(&token)]).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        answer.body.contains(".route_layer(validator.layer::<"),
        "{}",
        answer.body
    );
    let answer = fetch(&api, "/other", &[&bearer(&token)]).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(answer.body.contains("another claims type"));
}

#[tokio::test]
async fn closure_rejections_keep_the_status_and_challenge() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let app = Router::new().route("/me", get(me)).layer(
        validator
            .layer::<OrderClaims>()
            .realm("orders")
            .on_rejection(|error: &Error, parts: http::response::Parts| {
                axum::response::Response::from_parts(
                    parts,
                    axum::body::Body::from(format!("no entry: {}", error.description())),
                )
            }),
    );
    let api = serve(app).await;
    let other = issuer.token("someone-elses-api");

    let answer = get_me(&api, &[&bearer(&other)]).await;
    assert_invalid_token(&answer, "invalid audience");
    assert_eq!(answer.body, "no entry: invalid audience");
    let answer = get_me(&api, &[]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(r#"Bearer realm="orders""#)
    );
    let answer = get_me(&api, &["Bearer a b"]).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer
            .body
            .starts_with("no entry: malformed Authorization header"),
        "{}",
        answer.body
    );
}
