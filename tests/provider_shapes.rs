//! Documents and claims as real providers send them (issue 10, items 3 and
//! 4): what servers put around their JSON, and claims that come as a
//! string from one provider and as an array from another. Each shape is
//! served or signed for real and sent through the layer over HTTP.
//!
//! Key shapes (integer encodings, key selection) are in tests/keys.rs.

use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use oidc_bearer::{Claims, StandardClaims, Validator};
use oidc_bearer_testkit::{
    KeyKind, MockProvider, Reply, TestKey, TokenBuilder, discovery_document, jwks, standard_claims,
};
use serde_json::json;

mod common;
use common::{Answer, bearer, fetch, serve};

const REALM: &str = "/realms/shapes";
const AUDIENCE: &str = "orders-api";
const BOM: &[u8] = b"\xEF\xBB\xBF";

async fn me(claims: Claims<StandardClaims>) -> Json<serde_json::Value> {
    Json(json!({
        "sub": claims.sub,
        "scopes": claims.scopes().collect::<Vec<_>>(),
        "may_read_users": claims.has_scope("read:users"),
        "roles": claims.roles,
        "groups": claims.groups,
    }))
}

/// The API, protected by `validator`, served on 127.0.0.1.
async fn api(validator: &Validator) -> common::Api {
    serve(
        Router::new()
            .route("/me", get(me))
            .route_layer(validator.layer::<StandardClaims>()),
    )
    .await
}

fn body(answer: &Answer) -> serde_json::Value {
    serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("not JSON ({e}): {answer:?}"))
}

fn with_bom(json: &serde_json::Value) -> Vec<u8> {
    [BOM, serde_json::to_vec(json).unwrap().as_slice()].concat()
}

/// A JWKS as servers send it: each body and content type must load, be
/// used for a token, and be refreshed like any other.
#[tokio::test]
async fn jwks_documents_load_whatever_is_around_the_json() {
    let key = TestKey::generate(KeyKind::Rsa2048, "rsa-1");
    let document = jwks(&[&key]);
    let text = serde_json::to_string_pretty(&document).unwrap();
    let shapes: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "a UTF-8 byte order mark",
            "application/jwk-set+json",
            with_bom(&document),
        ),
        (
            "application/jwk-set+json",
            "application/jwk-set+json",
            text.clone().into(),
        ),
        (
            "a charset parameter",
            "application/json; charset=utf-8",
            text.clone().into(),
        ),
        ("text/plain", "text/plain", text.clone().into()),
        ("no content type", "", text.clone().into()),
        (
            "surrounding whitespace",
            "application/json",
            format!("\r\n\t {text} \n\n").into(),
        ),
        (
            "BOM and whitespace",
            "application/json",
            [BOM, b"\n ", text.as_bytes(), b"\n"].concat(),
        ),
    ];
    for (shape, content_type, body) in shapes {
        let provider = MockProvider::start().await;
        let path = "/keys";
        provider.set(path, Reply::raw(200, content_type, body));
        let issuer = provider.url(REALM);
        let validator = Validator::builder()
            .issuer(&issuer)
            .audience(AUDIENCE)
            .jwks_url(provider.url(path))
            .build()
            .await
            .unwrap_or_else(|e| panic!("{shape}: {e}"));
        assert_eq!(validator.keys().len(), 1, "{shape}");
        let api = api(&validator).await;
        let token = TokenBuilder::new()
            .claims(standard_claims(&issuer, AUDIENCE))
            .sign(&key);
        let answer = fetch(&api, "/me", &[&bearer(&token)]).await;
        assert_eq!(answer.status, StatusCode::OK, "{shape}: {answer:?}");
    }
}

/// Discovery documents go through the same path: a BOM or an odd content
/// type never stops keys from loading.
#[tokio::test]
async fn discovery_documents_with_a_bom_or_odd_content_type_are_understood() {
    let key = TestKey::generate(KeyKind::EcP256, "ec-1");
    for (shape, content_type, with_mark) in [
        ("BOM, application/json", "application/json", true),
        ("text/plain", "text/plain; charset=utf-8", false),
    ] {
        let provider = MockProvider::start().await;
        let issuer = provider.url(REALM);
        let discovery = discovery_document(&issuer);
        let body = if with_mark {
            with_bom(&discovery)
        } else {
            serde_json::to_vec(&discovery).unwrap()
        };
        provider.set(
            &MockProvider::discovery_path(REALM),
            Reply::raw(200, content_type, body),
        );
        provider.set(
            &MockProvider::jwks_path(REALM),
            Reply::raw(200, "application/jwk-set+json", with_bom(&jwks(&[&key]))),
        );
        let validator = Validator::discover(&issuer)
            .audience(AUDIENCE)
            .build()
            .await
            .unwrap_or_else(|e| panic!("{shape}: {e}"));
        let api = api(&validator).await;
        let token = TokenBuilder::new()
            .claims(standard_claims(&issuer, AUDIENCE))
            .sign(&key);
        let answer = fetch(&api, "/me", &[&bearer(&token)]).await;
        assert_eq!(answer.status, StatusCode::OK, "{shape}: {answer:?}");
    }
}

/// `jwks_json()` takes the document as it was copied, BOM and all.
#[tokio::test]
async fn a_fixed_jwks_with_a_bom_loads() {
    let key = TestKey::generate(KeyKind::Ed25519, "ed-1");
    let validator = Validator::builder()
        .issuer("https://issuer.test")
        .audience(AUDIENCE)
        .jwks_json(with_bom(&jwks(&[&key])))
        .build()
        .await
        .unwrap();
    let token = TokenBuilder::new()
        .claims(standard_claims("https://issuer.test", AUDIENCE))
        .sign(&key);
    assert!(validator.try_verify::<StandardClaims>(&token).is_ok());
}

/// What stays exact: a token is not a document. A BOM (or whitespace)
/// inside its header or claims still makes it malformed.
#[tokio::test]
async fn tokens_get_no_such_tolerance() {
    let key = TestKey::generate(KeyKind::Ed25519, "ed-1");
    let validator = Validator::builder()
        .issuer("https://issuer.test")
        .audience(AUDIENCE)
        .jwks_json(serde_json::to_vec(&jwks(&[&key])).unwrap())
        .build()
        .await
        .unwrap();
    let api = api(&validator).await;
    let good = TokenBuilder::new()
        .claims(standard_claims("https://issuer.test", AUDIENCE))
        .sign(&key);
    let (header, rest) = good.split_once('.').unwrap();
    let mut header_json = BOM.to_vec();
    header_json.extend(oidc_bearer_testkit::b64url_decode(header));
    let with_bom = format!("{}.{rest}", oidc_bearer_testkit::b64url(&header_json));
    let answer = fetch(&api, "/me", &[&bearer(&with_bom)]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert!(
        answer
            .challenge
            .as_deref()
            .is_some_and(|c| c.contains("error=\"invalid_token\"") && c.contains("header")),
        "{answer:?}"
    );
}

/// `scope`, `scp`, `roles` and `groups` as a string from one provider and
/// an array from another: the default claims type takes both and its
/// scope helpers answer alike.
#[tokio::test]
async fn claims_sent_as_a_string_or_an_array_answer_alike() {
    let key = TestKey::generate(KeyKind::Rsa2048, "rsa-1");
    let issuer = "https://issuer.test/oauth2/default";
    let validator = Validator::builder()
        .issuer(issuer)
        .audience(AUDIENCE)
        .jwks_json(serde_json::to_vec(&jwks(&[&key])).unwrap())
        .build()
        .await
        .unwrap();
    let api = api(&validator).await;
    let call = |extra: serde_json::Value| {
        let mut claims = standard_claims(issuer, AUDIENCE);
        claims.as_object_mut().unwrap().remove("scope");
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let token = TokenBuilder::new().claims(claims).sign(&key);
        let api = &api;
        async move { fetch(api, "/me", &[&bearer(&token)]).await }
    };

    // Okta: `scp` as an array (the shape of the report: 401 before).
    let okta =
        call(json!({"scp": ["openid", "read:users"], "groups": ["Everyone", "Admins"]})).await;
    assert_eq!(okta.status, StatusCode::OK, "{okta:?}");
    // Entra ID: `scp` as a space-separated string, `roles` as an array.
    let entra = call(json!({"scp": "openid read:users", "roles": ["Orders.Admin"]})).await;
    assert_eq!(entra.status, StatusCode::OK, "{entra:?}");
    // Duende IdentityServer: `scope` as an array; one role as a string.
    let duende = call(json!({"scope": ["openid", "read:users"], "roles": "Orders Admin"})).await;
    assert_eq!(duende.status, StatusCode::OK, "{duende:?}");
    // RFC 9068 / Keycloak: `scope` as a space-separated string.
    let keycloak = call(json!({"scope": "openid read:users"})).await;
    assert_eq!(keycloak.status, StatusCode::OK, "{keycloak:?}");

    for answer in [&okta, &entra, &duende, &keycloak] {
        let seen = body(answer);
        assert_eq!(seen["scopes"], json!(["openid", "read:users"]), "{seen}");
        assert_eq!(seen["may_read_users"], true, "{seen}");
    }
    assert_eq!(body(&okta)["groups"], json!(["Everyone", "Admins"]));
    assert_eq!(body(&entra)["roles"], json!(["Orders.Admin"]));
    // A role name given as a string is one role, never split in two.
    assert_eq!(body(&duende)["roles"], json!(["Orders Admin"]));

    // What is not a string or an array of strings is still refused.
    for bad in [
        json!({"scp": ["openid", 5]}),
        json!({"scope": {"a": 1}}),
        json!({"roles": 7}),
    ] {
        let answer = call(bad.clone()).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{bad}: {answer:?}");
        assert!(
            answer
                .challenge
                .as_deref()
                .is_some_and(|c| c.contains("claims do not match the expected shape")),
            "{bad}: {answer:?}"
        );
    }
}
