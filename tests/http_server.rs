//! The whole path over real sockets: a provider serving its JWKS on
//! 127.0.0.1, a protected axum server on 127.0.0.1, and reqwest as the
//! client. What a browser or SPA would see.

use std::time::Duration;

use axum::{Json, Router, routing::get};
use oidc_bearer::{Claims, ProblemJson, Validator};
use oidc_bearer_testkit::{KeyKind, TestIssuer, TestKey, TokenBuilder, now};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use serde::{Deserialize, Serialize};

const AUDIENCE: &str = "orders-api";

#[derive(Debug, Deserialize, Serialize)]
struct OrderClaims {
    sub: String,
    scope: Option<String>,
}

struct Api {
    base: String,
    client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn me(claims: Claims<OrderClaims>) -> Json<Claims<OrderClaims>> {
    Json(claims)
}

async fn serve(app: Router) -> Api {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    Api {
        base,
        client,
        server,
    }
}

async fn protected_api(issuer: &TestIssuer) -> (Api, Validator) {
    let validator = Validator::builder()
        .issuer(&issuer.issuer)
        .audience(AUDIENCE)
        .jwks_url(&issuer.jwks_url)
        .build()
        .await
        .expect("validator builds against the loopback provider");
    let app = Router::new()
        .route("/me", get(me))
        .layer(validator.layer::<OrderClaims>().realm("orders"));
    (serve(app).await, validator)
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    body: String,
}

async fn get_me(api: &Api, authorization: &[&str]) -> Answer {
    let mut request = api.client.get(format!("{}/me", api.base));
    for value in authorization {
        request = request.header(AUTHORIZATION, *value);
    }
    let response = request.send().await.expect("the API answers");
    Answer {
        status: response.status(),
        challenge: response
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned()),
        body: response.text().await.unwrap(),
    }
}

#[tokio::test]
async fn valid_token_reaches_the_handler_with_its_claims() {
    let issuer = TestIssuer::start().await;
    let (api, _validator) = protected_api(&issuer).await;
    let token = issuer
        .builder(AUDIENCE)
        .claim("sub", "alice")
        .sign(&issuer.key);

    let answer = get_me(&api, &[&format!("Bearer {token}")]).await;

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
        let answer = get_me(&api, &[&format!("Bearer {token}")]).await;
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
    let bearer = format!("Bearer {token}");

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
    let answer = get_me(&api, &[&format!("Bearer {}", issuer.token(AUDIENCE))]).await;

    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.challenge);
    assert_eq!(issuer.provider.hits(&issuer.jwks_path()), jwks_hits + 1);
    assert!(validator.keys().contains_kid("ec-2"));
}

#[tokio::test]
async fn problem_json_bodies_keep_the_rfc6750_headers() {
    let issuer = TestIssuer::start().await;
    let validator = Validator::builder()
        .issuer(&issuer.issuer)
        .audience(AUDIENCE)
        .jwks_url(&issuer.jwks_url)
        .build()
        .await
        .unwrap();
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
    let validator = Validator::builder()
        .issuer(&issuer.issuer)
        .audience(AUDIENCE)
        .jwks_url(&issuer.jwks_url)
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

    let response = api
        .client
        .get(format!("{}/me", api.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));

    issuer.provider.restart().await;
    let recovered = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let status = get_me(&api, &[&format!("Bearer {token}")]).await.status;
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

    let answer = get_me(&api, &[&format!("Bearer {confused}")]).await;

    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(
        answer
            .challenge
            .unwrap()
            .contains(r#"error_description="unsupported algorithm""#)
    );
}
