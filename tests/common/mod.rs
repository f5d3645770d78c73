//! Plumbing the integration tests share: a validator for a `TestIssuer`,
//! an axum app served on 127.0.0.1 with a reqwest client, a request with `Authorization` headers sent over
//! that socket or through `oneshot`, and what came back.
//!
//! Each test binary includes this module with `mod common;` and uses only
//! part of it.
#![allow(dead_code)]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderName, Request, StatusCode};
use http_body_util::BodyExt;
use oidc_bearer::{Validator, ValidatorBuilder};
use oidc_bearer_testkit::TestIssuer;
use tower::ServiceExt;

/// A validator for `issuer`'s JWKS URL and `audience`, left to configure.
pub fn validator_for(issuer: &TestIssuer, audience: &str) -> ValidatorBuilder {
    Validator::builder()
        .issuer(&issuer.issuer)
        .audience(audience)
        .jwks_url(&issuer.jwks_url)
}

/// An app served on 127.0.0.1 and a client for it; dropping it stops the
/// server.
pub struct Api {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A client whose requests time out after 10 s.
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Api {
    /// An `Api` for a server the test started itself at `base` (when the
    /// app must know its own address, e.g. an RFC 9728 resource URL).
    pub fn from_parts(base: String, server: tokio::task::JoinHandle<()>) -> Api {
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
}

/// Serves `app` on a free port of 127.0.0.1.
pub async fn serve(app: Router) -> Api {
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

/// What a client sees of an answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// `WWW-Authenticate`.
    pub challenge: Option<String>,
    /// `Retry-After`.
    pub retry_after: Option<String>,
    pub body: String,
}

impl Answer {
    fn new(status: StatusCode, headers: &HeaderMap, body: String) -> Answer {
        Answer {
            status,
            challenge: header(headers, WWW_AUTHENTICATE),
            retry_after: header(headers, RETRY_AFTER),
            body,
        }
    }
}

fn header(headers: &HeaderMap, name: HeaderName) -> Option<String> {
    headers.get(name).map(|v| v.to_str().unwrap().to_owned())
}

/// `Bearer <token>`, the `Authorization` value for `token`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// GET `path` over the socket with one `Authorization` header per
/// `authorization` value (none for an empty slice).
pub async fn fetch(api: &Api, path: &str, authorization: &[&str]) -> Answer {
    let mut request = api.client.get(format!("{}{path}", api.base));
    for value in authorization {
        request = request.header(AUTHORIZATION, *value);
    }
    let response = request.send().await.expect("the API answers");
    let (status, headers) = (response.status(), response.headers().clone());
    Answer::new(status, &headers, response.text().await.unwrap())
}

/// GET `path` through `app` with `oneshot`, with one `Authorization`
/// header per `authorization` value.
pub async fn fetch_oneshot(app: &Router, path: &str, authorization: &[&str]) -> Answer {
    let mut request = Request::get(path);
    for value in authorization {
        request = request.header(AUTHORIZATION, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer::new(
        parts.status,
        &parts.headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

// ---------------------------------------------------------------------------
// Provider presets and several issuers (tests/presets.rs, tests/multi_issuer.rs)
// ---------------------------------------------------------------------------

/// Runs a test body under a 30 s bound: a hung fetch or server fails the
/// test instead of stalling the run.
pub async fn bounded<F: std::future::Future>(body: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), body)
        .await
        .expect("the test finished within 30 s")
}

/// Serves `GET /me` behind `validator`'s layer with claims type `C`; the
/// handler answers the claims it received, as JSON.
pub async fn protected<C>(validator: &Validator) -> Api
where
    C: serde::Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
{
    async fn echo<C: serde::Serialize + Send + Sync + 'static>(
        claims: oidc_bearer::Claims<C>,
    ) -> axum::Json<serde_json::Value> {
        axum::Json(serde_json::to_value(&*claims).unwrap())
    }
    serve(
        Router::new()
            .route("/me", axum::routing::get(echo::<C>))
            .route_layer(validator.layer::<C>()),
    )
    .await
}

/// `GET /me` with `token` as the bearer credential.
pub async fn call(api: &Api, token: &str) -> Answer {
    fetch(api, "/me", &[&bearer(token)]).await
}

/// The JSON body of a 200 answer.
pub fn accepted(answer: &Answer) -> serde_json::Value {
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    serde_json::from_str(&answer.body).unwrap()
}

/// Asserts a 401 `invalid_token` whose `error_description` contains
/// `description`.
pub fn assert_refused(answer: &Answer, description: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    let challenge = answer.challenge.as_deref().unwrap_or_default();
    assert!(
        challenge.contains("error=\"invalid_token\"")
            && challenge.contains(&format!("error_description=\"{description}")),
        "expected {description:?}: {answer:?}"
    );
}

/// One key as Microsoft publishes it: RSA with `x5c` and `x5t`, `use:
/// sig`, no `alg`, bound to `issuer` (exact or with `{tenantid}`).
pub fn microsoft_jwk(key: &oidc_bearer_testkit::TestKey, issuer: &str) -> serde_json::Value {
    let mut jwk = key.public_jwk_with_x5c();
    let members = jwk.as_object_mut().unwrap();
    members.remove("alg");
    members.insert("use".into(), "sig".into());
    members.insert("x5t".into(), key.x5t().into());
    members.insert("issuer".into(), issuer.into());
    jwk
}

/// Keycloak's `certs`: an `RSA-OAEP` encryption key first, then the RS256
/// signing key.
pub fn keycloak_certs(
    sig: &oidc_bearer_testkit::TestKey,
    enc: &oidc_bearer_testkit::TestKey,
) -> serde_json::Value {
    let jwk = |key: &oidc_bearer_testkit::TestKey, use_: &str, alg: &str| {
        let mut jwk = key.public_jwk_with_x5c();
        let members = jwk.as_object_mut().unwrap();
        members.insert("use".into(), use_.into());
        members.insert("alg".into(), alg.into());
        jwk
    };
    serde_json::json!({ "keys": [jwk(enc, "enc", "RSA-OAEP"), jwk(sig, "sig", "RS256")] })
}

/// GETs `url` and reads the answer as JSON (a discovery or metadata
/// document); panics, saying which URL, on any failure.
pub async fn get_json(client: &reqwest::Client, url: impl AsRef<str>) -> serde_json::Value {
    let url = url.as_ref();
    let response = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    response
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}
