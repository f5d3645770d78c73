//! Refusals after the layer for DPoP requests, over real HTTP on
//! 127.0.0.1: a `Require` (403 `insufficient_scope`) or `StepUp` (401
//! `insufficient_user_authentication`, RFC 9470) refusing a request the
//! layer admitted with the `DPoP` scheme answers with a `DPoP` challenge
//! (RFC 9449 §7.1), Bearer requests as before; with nonces on, the
//! responses to DPoP requests carry the current `DPoP-Nonce` (§8.2).

use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use axum::{Router, extract::State, routing::get};
use oidc_bearer::authz::AuthorizeLayer;
use oidc_bearer::clock::ManualClock;
use oidc_bearer::dpop::Nonces;
use oidc_bearer::rejection::ProblemJson;
use oidc_bearer::{Dpop, Error, Require, StandardClaims, StepUp, Validator};
use oidc_bearer_testkit::{KeyKind, TestIssuer, TestKey, dpop_proof, now};
use reqwest::StatusCode;

mod common;
#[path = "common/dpop.rs"]
mod support;
use common::{Api, serve, validator_for};
use support::{ALGS, AUDIENCE, Client, Seen, client, echo, send};

const MFA: &str = "urn:test:mfa";
const RESOURCE: &str = "https://api.example.com";
const METADATA: &str = "https://api.example.com/.well-known/oauth-protected-resource";
const WRITE: &str = r#"error="insufficient_scope", error_description="insufficient scope: scope orders.write required", scope="orders.write""#;
const STEP_UP: &str = r#"error="insufficient_user_authentication", error_description="insufficient user authentication: no authentication context class (acr) and no auth_time (max_age 300 s)", acr_values="urn:test:mfa", max_age="300""#;

async fn guarded(
    State(strong): State<AuthorizeLayer<StepUp, StandardClaims>>,
    extensions: http::Extensions,
    claims: oidc_bearer::Claims<StandardClaims>,
) -> Result<&'static str, Response> {
    strong.authorize_in(&claims, &extensions)?;
    Ok("guarded")
}

async fn guarded_blind(
    State(strong): State<AuthorizeLayer<StepUp, StandardClaims>>,
    claims: oidc_bearer::Claims<StandardClaims>,
) -> Result<&'static str, Response> {
    strong.authorize(&claims)?;
    Ok("guarded")
}

async fn write_guard(
    extensions: http::Extensions,
    claims: oidc_bearer::Claims<StandardClaims>,
) -> Result<&'static str, Response> {
    Require::scope("orders.write")
        .layer::<StandardClaims>()
        .realm("orders")
        .authorize_in(&claims, &extensions)?;
    Ok("written")
}

/// Routes behind a layer with DPoP settings and realm `orders`: `/me`
/// open to any token, `/read` (scope `read`, which the test tokens have),
/// `/write` (scope `orders.write`, which they lack), `/problem` (the same
/// with a problem+json body), `/custom` (a closure handler), `/strong`
/// (MFA and a sign-in within 300 s), `/guard` and `/guard-blind` (the
/// step-up guard with and without the request's extensions) and
/// `/write-guard` (the `Require` guard).
async fn app(validator: &Validator, dpop: Dpop) -> Api {
    let write = || Require::scope("orders.write").layer::<StandardClaims>();
    let strong = || {
        StepUp::acr_values([MFA])
            .and(StepUp::max_age(Duration::from_secs(300)))
            .layer::<StandardClaims>()
            .realm("orders")
    };
    let custom = |error: &Error, parts: http::response::Parts| {
        Response::from_parts(
            parts,
            Body::from(format!("custom: {}", error.description())),
        )
    };
    let app = Router::new()
        .route("/me", get(echo))
        .route(
            "/read",
            get(echo).route_layer(Require::scope("read").layer::<StandardClaims>()),
        )
        .route("/write", get(echo).route_layer(write().realm("orders")))
        .route(
            "/problem",
            get(echo).route_layer(write().realm("orders").on_rejection(ProblemJson)),
        )
        .route(
            "/custom",
            get(echo).route_layer(write().realm("orders").on_rejection(custom)),
        )
        .route("/strong", get(echo).route_layer(strong()))
        .route(
            "/strong-problem",
            get(echo).route_layer(strong().on_rejection(ProblemJson)),
        )
        .route("/guard", get(guarded).with_state(strong()))
        .route("/guard-blind", get(guarded_blind).with_state(strong()))
        .route("/write-guard", get(write_guard))
        .route_layer(
            validator
                .layer::<StandardClaims>()
                .realm("orders")
                .dpop(dpop),
        );
    serve(app).await
}

/// `GET path` with the client's token under the `DPoP` scheme and a fresh
/// proof for that path, the proof adjusted by `nonce` when given.
async fn dpop_get(api: &Api, client: &Client, path: &str, nonce: Option<&str>) -> Seen {
    let mut proof = dpop_proof(
        &client.key,
        "GET",
        &format!("{}{path}", api.base),
        Some(&client.token),
    );
    if let Some(nonce) = nonce {
        proof = proof.claim("nonce", nonce);
    }
    let proof = proof.sign(&client.key);
    send(
        api,
        "GET",
        path,
        &[&format!("DPoP {}", client.token)],
        &[&proof],
    )
    .await
}

async fn bearer_get(api: &Api, token: &str, path: &str) -> Seen {
    send(api, "GET", path, &[&format!("Bearer {token}")], &[]).await
}

fn dpop(params: &str) -> String {
    format!(r#"DPoP realm="orders", algs="{ALGS}", {params}"#)
}

#[tokio::test]
async fn a_scope_refusal_of_a_dpop_request_is_a_dpop_challenge() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE)
        .resource(RESOURCE)
        .build()
        .await
        .unwrap();
    let api = app(&validator, Dpop::allowed().plain_http()).await;
    let client = client(&issuer, KeyKind::EcP256);

    // Enough scope: through, and no nonce without nonces.
    let read = dpop_get(&api, &client, "/read", None).await;
    read.ok();
    assert_eq!(read.body, "user-1");
    assert_eq!(read.nonce, None);

    // Short of a scope: 403, the DPoP scheme only (the token is bound),
    // with algs, the error and resource_metadata (RFC 9728).
    let write = dpop_get(&api, &client, "/write", None).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN, "{write:?}");
    assert_eq!(
        write.challenges,
        [dpop(&format!(r#"{WRITE}, resource_metadata="{METADATA}""#))]
    );
    assert_eq!(write.nonce, None);
    assert_eq!(write.body, "", "the handler never ran");

    // The guard with the request's extensions answers as the layer does.
    let guard = dpop_get(&api, &client, "/write-guard", None).await;
    assert_eq!(guard.status, StatusCode::FORBIDDEN, "{guard:?}");
    assert_eq!(guard.challenges, write.challenges);

    // A bearer request through the same layer: the Bearer challenge, as
    // it always was.
    let unbound = issuer.token(AUDIENCE);
    let bearer = bearer_get(&api, &unbound, "/write").await;
    assert_eq!(bearer.status, StatusCode::FORBIDDEN, "{bearer:?}");
    assert_eq!(
        bearer.challenges,
        [format!(
            r#"Bearer realm="orders", {WRITE}, resource_metadata="{METADATA}""#
        )]
    );
    bearer_get(&api, &unbound, "/read").await.ok();

    // DPoP required, no resource: no resource_metadata.
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let api = app(&validator, Dpop::required().plain_http()).await;
    let write = dpop_get(&api, &client, "/write", None).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN, "{write:?}");
    assert_eq!(write.challenges, [dpop(WRITE)]);
}

#[tokio::test]
async fn a_step_up_refusal_of_a_dpop_request_is_a_dpop_challenge() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let api = app(&validator, Dpop::allowed().plain_http()).await;
    let client = client(&issuer, KeyKind::Ed25519);

    let strong = dpop_get(&api, &client, "/strong", None).await;
    assert_eq!(strong.status, StatusCode::UNAUTHORIZED, "{strong:?}");
    assert_eq!(strong.challenges, [dpop(STEP_UP)]);
    assert_eq!(strong.body, "");
    // The guard given the request's extensions: the same.
    let guard = dpop_get(&api, &client, "/guard", None).await;
    assert_eq!(guard.status, StatusCode::UNAUTHORIZED, "{guard:?}");
    assert_eq!(guard.challenges, strong.challenges);
    // The guard without them cannot tell: Bearer, as documented.
    let blind = dpop_get(&api, &client, "/guard-blind", None).await;
    assert_eq!(blind.status, StatusCode::UNAUTHORIZED, "{blind:?}");
    assert_eq!(
        blind.challenges,
        [format!(r#"Bearer realm="orders", {STEP_UP}"#)]
    );

    // A bearer request: Bearer, as before.
    let bearer = bearer_get(&api, &issuer.token(AUDIENCE), "/strong").await;
    assert_eq!(bearer.status, StatusCode::UNAUTHORIZED, "{bearer:?}");
    assert_eq!(
        bearer.challenges,
        [format!(r#"Bearer realm="orders", {STEP_UP}"#)]
    );

    // A strong, fresh sign-in behind a bound token: through.
    let jkt = oidc_bearer::dpop::jwk_thumbprint(&client.key.public_jwk().to_string()).unwrap();
    let strong_token = issuer
        .builder(AUDIENCE)
        .claim("cnf", serde_json::json!({ "jkt": jkt }))
        .claim("acr", MFA)
        .claim("auth_time", now() as i64 - 10)
        .sign(&issuer.key);
    let signed_in = Client {
        key: client.key,
        token: strong_token,
    };
    dpop_get(&api, &signed_in, "/strong", None).await.ok();
    dpop_get(&api, &signed_in, "/guard", None).await.ok();
}

#[tokio::test]
async fn custom_rejection_handlers_get_the_dpop_parts() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let api = app(&validator, Dpop::allowed().plain_http()).await;
    let client = client(&issuer, KeyKind::EcP256);

    let custom = dpop_get(&api, &client, "/custom", None).await;
    assert_eq!(custom.status, StatusCode::FORBIDDEN, "{custom:?}");
    assert_eq!(custom.challenges, [dpop(WRITE)]);
    assert_eq!(
        custom.body,
        "custom: insufficient scope: scope orders.write required"
    );
    let problem = dpop_get(&api, &client, "/problem", None).await;
    assert_eq!(problem.challenges, [dpop(WRITE)]);
    assert!(problem.body.contains(r#""status":403"#), "{problem:?}");
    let strong = dpop_get(&api, &client, "/strong-problem", None).await;
    assert_eq!(strong.status, StatusCode::UNAUTHORIZED, "{strong:?}");
    assert_eq!(strong.challenges, [dpop(STEP_UP)]);
    assert!(strong.body.contains(r#""status":401"#), "{strong:?}");
}

#[tokio::test]
async fn with_nonces_responses_to_dpop_requests_carry_the_current_nonce() {
    let issuer = TestIssuer::start().await;
    let clock = ManualClock::new(now() as i64);
    let validator = validator_for(&issuer, AUDIENCE)
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    let api = app(
        &validator,
        Dpop::allowed()
            .plain_http()
            .nonces(Nonces::new().rotation(Duration::from_secs(60))),
    )
    .await;
    let client = client(&issuer, KeyKind::EcP256);

    let first = dpop_get(&api, &client, "/me", None).await;
    first.dpop_refused(
        "use_dpop_nonce",
        "a DPoP proof with the server's current nonce is required",
    );
    let nonce = first.nonce.clone().expect("a DPoP-Nonce header");
    // A 200 carries the current nonce.
    let ok = dpop_get(&api, &client, "/me", Some(&nonce)).await;
    ok.ok();
    assert_eq!(ok.nonce.as_deref(), Some(nonce.as_str()));
    // One rotation later the old nonce still passes, and the 200 hands
    // out the new one: no 401 round trip at the next rotation.
    clock.advance(60);
    let rotated = dpop_get(&api, &client, "/me", Some(&nonce)).await;
    rotated.ok();
    let fresh = rotated.nonce.clone().expect("a DPoP-Nonce header");
    assert_ne!(fresh, nonce);
    dpop_get(&api, &client, "/me", Some(&fresh)).await.ok();
    // Refusals after the layer carry it too.
    let write = dpop_get(&api, &client, "/write", Some(&fresh)).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN, "{write:?}");
    assert_eq!(write.challenges, [dpop(WRITE)]);
    assert_eq!(write.nonce.as_deref(), Some(fresh.as_str()));
    let strong = dpop_get(&api, &client, "/strong", Some(&fresh)).await;
    assert_eq!(strong.challenges, [dpop(STEP_UP)]);
    assert_eq!(strong.nonce.as_deref(), Some(fresh.as_str()));
    // A bearer request uses no nonces: none on its 200 or its 403.
    let unbound = issuer.token(AUDIENCE);
    let bearer = bearer_get(&api, &unbound, "/me").await;
    bearer.ok();
    assert_eq!(bearer.nonce, None);
    let bearer = bearer_get(&api, &unbound, "/write").await;
    assert_eq!(bearer.nonce, None);
    assert_eq!(
        bearer.challenges,
        [format!(r#"Bearer realm="orders", {WRITE}"#)]
    );
}

#[tokio::test]
async fn without_nonces_a_200_has_no_nonce() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let api = app(&validator, Dpop::required().plain_http()).await;
    let client = client(&issuer, KeyKind::EcP256);
    let ok = dpop_get(&api, &client, "/me", None).await;
    ok.ok();
    assert_eq!(ok.nonce, None);
}

#[tokio::test]
async fn after_a_key_refetch_the_dpop_request_is_marked_too() {
    let mut issuer = TestIssuer::start().await;
    let clock = ManualClock::new(now() as i64);
    let validator = validator_for(&issuer, AUDIENCE)
        .clock(clock.clone())
        .kid_refetch_cooldown(Duration::from_millis(10))
        .build()
        .await
        .unwrap();
    let api = app(
        &validator,
        Dpop::allowed().plain_http().nonces(Nonces::new()),
    )
    .await;
    let key = TestKey::generate(KeyKind::EcP256, "client");
    let nonce = dpop_get(&api, &client(&issuer, KeyKind::EcP256), "/me", None)
        .await
        .nonce
        .expect("a DPoP-Nonce header");

    // The token's kid is new to the validator: the layer's waiting path.
    issuer.rotate(KeyKind::EcP256, "rotated");
    let rotated = Client {
        token: support::bound_token(&issuer, &key),
        key,
    };
    let write = dpop_get(&api, &rotated, "/write", Some(&nonce)).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN, "{write:?}");
    assert_eq!(write.challenges, [dpop(WRITE)]);
    assert_eq!(write.nonce.as_deref(), Some(nonce.as_str()));
    assert!(validator.keys().contains_kid("rotated"));

    tokio::time::sleep(Duration::from_millis(50)).await;
    issuer.rotate(KeyKind::EcP256, "rotated-again");
    let key = TestKey::generate(KeyKind::Ed25519, "client-2");
    let again = Client {
        token: support::bound_token(&issuer, &key),
        key,
    };
    let ok = dpop_get(&api, &again, "/me", Some(&nonce)).await;
    ok.ok();
    assert_eq!(ok.nonce.as_deref(), Some(nonce.as_str()));
    assert!(validator.keys().contains_kid("rotated-again"));
}

/// A layer with DPoP settings and `allow_anonymous`: a `Require` inside
/// refusing a request without credentials challenges exactly as the layer
/// itself does for one — the DPoP challenge with `algs` (and the Bearer
/// one when the layer accepts Bearer too), never a scheme it refuses.
#[tokio::test]
async fn an_anonymous_request_refused_inside_gets_the_layers_challenges() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    for (dpop, expected) in [
        (
            Dpop::required().plain_http(),
            vec![format!(r#"DPoP realm="orders", algs="{ALGS}""#)],
        ),
        (
            Dpop::allowed().plain_http(),
            vec![
                r#"Bearer realm="orders""#.to_owned(),
                format!(r#"DPoP realm="orders", algs="{ALGS}""#),
            ],
        ),
    ] {
        let app = Router::new()
            .route("/write", get(|| async { "written" }))
            .route_layer(Require::scope("orders.write").layer::<StandardClaims>())
            .route_layer(
                validator
                    .layer::<StandardClaims>()
                    .realm("orders")
                    .allow_anonymous()
                    .dpop(dpop),
            );
        let api = serve(app).await;
        let seen = send(&api, "GET", "/write", &[], &[]).await;
        assert_eq!(seen.status, StatusCode::UNAUTHORIZED, "{seen:?}");
        assert_eq!(seen.challenges, expected, "{seen:?}");
    }
}
