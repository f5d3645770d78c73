//! Microsoft Entra ID as it really signs and sends tokens (issue 9):
//! a JWKS shaped like Microsoft's (`x5c`, `x5t`, a per-key `issuer`, no
//! `alg`), v1 and v2 access tokens, and Graph tokens sent to the wrong API.
//! Every case goes through the layer over real HTTP.

use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use oidc_bearer::{Claims, StandardClaims, Validator};
use oidc_bearer_testkit::{KeyKind, TestKey, TokenBuilder, now};
use serde_json::{Value, json};

mod common;
use common::{Answer, bearer, fetch, serve};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
const API_CLIENT_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const APP_ID_URI: &str = "api://orders";
const GRAPH: &str = "00000003-0000-0000-c000-000000000000";

fn v1_issuer(tenant: &str) -> String {
    format!("https://sts.windows.net/{tenant}/")
}

fn v2_issuer(tenant: &str) -> String {
    format!("https://login.microsoftonline.com/{tenant}/v2.0")
}

/// The tenant's JWKS as Microsoft publishes it: RSA with `x5c` and `x5t`,
/// no `alg`, and the templated v2 issuer on every key.
fn entra_jwks(key: &TestKey) -> Vec<u8> {
    let jwk = common::microsoft_jwk(key, "https://login.microsoftonline.com/{tenantid}/v2.0");
    serde_json::to_vec(&json!({ "keys": [jwk] })).unwrap()
}

/// A v1 access token's claims, as Entra documents them.
fn v1_claims(iss: &str, tid: &str) -> Value {
    let now = now();
    json!({
        "aud": APP_ID_URI, "iss": iss, "iat": now, "nbf": now, "exp": now + 3600,
        "appid": "a5d0e0f1-0000-4000-8000-000000000001", "appidacr": "0",
        "oid": "00000000-0000-0000-66f3-3332eca7ea81", "scp": "Orders.Read",
        "sub": "Lz6wXqlNh9qAYfgXa0ZMa0SmQq8dbT9JQqL5ALbd0i0", "tid": tid,
        "unique_name": "alice@contoso.com", "upn": "alice@contoso.com",
        "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "1.0"
    })
}

/// A v2 access token's claims.
fn v2_claims(iss: &str, tid: &str) -> Value {
    let now = now();
    json!({
        "aud": API_CLIENT_ID, "iss": iss, "iat": now, "nbf": now, "exp": now + 3600,
        "azp": "a5d0e0f1-0000-4000-8000-000000000001", "azpacr": "0",
        "name": "Alice", "oid": "00000000-0000-0000-66f3-3332eca7ea81",
        "preferred_username": "alice@contoso.com", "scp": "Orders.Read",
        "sub": "Lz6wXqlNh9qAYfgXa0ZMa0SmQq8dbT9JQqL5ALbd0i0", "tid": tid,
        "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "2.0"
    })
}

/// A validator for `issuer` and `audience` over the tenant's JWKS.
async fn entra_validator(issuer: String, audience: &str, key: &TestKey) -> Validator {
    Validator::builder()
        .issuer(issuer)
        .audience(audience)
        .jwks_json(entra_jwks(key))
        .build()
        .await
        .unwrap()
}

async fn me(claims: Claims<StandardClaims>) -> Json<Value> {
    Json(json!({ "sub": claims.sub, "tid": claims.tid }))
}

async fn call(validator: &Validator, token: &str) -> Answer {
    let api = serve(
        Router::new()
            .route("/me", get(me))
            .route_layer(validator.layer::<StandardClaims>()),
    )
    .await;
    fetch(&api, "/me", &[&bearer(token)]).await
}

fn refused_with(answer: &Answer, description: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    let challenge = answer.challenge.as_deref().unwrap_or_default();
    assert!(
        challenge.contains("error=\"invalid_token\"") && challenge.contains(description),
        "expected {description:?}: {answer:?}"
    );
}

/// The report: a real v1 token, configured exactly so, was refused as
/// "invalid issuer" because its key carries the v2 issuer.
#[tokio::test]
async fn v1_token_signed_by_a_key_bound_to_the_v2_issuer_is_accepted() {
    let key = TestKey::generate(KeyKind::Rsa2048, "nOo3ZDrODXEK1jKWhXslHR_KXEg");
    let validator = entra_validator(v1_issuer(TENANT), APP_ID_URI, &key).await;
    let token = TokenBuilder::new()
        .header("typ", "JWT")
        .header("x5t", key.x5t())
        .claims(v1_claims(&v1_issuer(TENANT), TENANT))
        .sign(&key);
    let answer = call(&validator, &token).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert!(answer.body.contains(TENANT), "{answer:?}");

    // Another tenant's token with that key: refused.
    let other = TokenBuilder::new()
        .claims(v1_claims(&v1_issuer(OTHER_TENANT), OTHER_TENANT))
        .sign(&key);
    refused_with(&call(&validator, &other).await, "invalid issuer");
    // An `iss` of this tenant with the `tid` of another: the key's binding
    // refuses it even though `iss` is the configured one.
    let mixed = TokenBuilder::new()
        .claims(v1_claims(&v1_issuer(TENANT), OTHER_TENANT))
        .sign(&key);
    refused_with(&call(&validator, &mixed).await, "invalid issuer");
}

/// v2 tokens keep working with the same key set, and the key's binding
/// still refuses a `tid` that disagrees with `iss`.
#[tokio::test]
async fn v2_token_with_the_same_keys_is_accepted_and_a_substituted_tid_refused() {
    let key = TestKey::generate(KeyKind::Rsa2048, "entra-v2");
    let validator = entra_validator(v2_issuer(TENANT), API_CLIENT_ID, &key).await;
    let token = TokenBuilder::new()
        .claims(v2_claims(&v2_issuer(TENANT), TENANT))
        .sign(&key);
    assert_eq!(call(&validator, &token).await.status, StatusCode::OK);
    let substituted = TokenBuilder::new()
        .claims(v2_claims(&v2_issuer(TENANT), OTHER_TENANT))
        .sign(&key);
    refused_with(&call(&validator, &substituted).await, "invalid issuer");
}

/// A token the SPA got for Microsoft Graph (`User.Read`) instead of for
/// the API: the answer says so, instead of "invalid signature".
#[tokio::test]
async fn microsoft_graph_tokens_are_refused_saying_what_to_change() {
    let key = TestKey::generate(KeyKind::Rsa2048, "entra-graph");
    let validator = entra_validator(v2_issuer(TENANT), API_CLIENT_ID, &key).await;
    let graph_claims = || {
        let mut claims = v1_claims(&v2_issuer(TENANT), TENANT);
        claims["aud"] = json!(GRAPH);
        claims["scp"] = json!("openid profile User.Read email");
        claims
    };
    // Graph's own shape: a `nonce` in the header, which makes the
    // signature unverifiable for anyone but Graph.
    let signed = TokenBuilder::new()
        .header("nonce", "Ve4lDlvhcP_5fJ-8m9-aTxCGAFyD7eXkGGDY6hcmJ0M")
        .claims(graph_claims())
        .sign(&key);
    let (head, rest) = signed.split_once('.').unwrap();
    let (payload, _) = rest.split_once('.').unwrap();
    let with_graph_signature = format!("{head}.{payload}.{}", "A".repeat(342));
    let described = "token issued for Microsoft Graph, not this API";
    refused_with(&call(&validator, &with_graph_signature).await, described);
    // Verifiable but for Graph's audience (either spelling): said the same.
    for aud in [GRAPH, "https://graph.microsoft.com"] {
        let mut claims = graph_claims();
        claims["aud"] = json!(aud);
        let token = TokenBuilder::new().claims(claims).sign(&key);
        refused_with(&call(&validator, &token).await, described);
    }
    // Any other wrong audience is still just that.
    let mut claims = graph_claims();
    claims["aud"] = json!("api://someone-else");
    let token = TokenBuilder::new().claims(claims).sign(&key);
    refused_with(&call(&validator, &token).await, "invalid audience");
}
