//! Shared by the DPoP tests (`tests/dpop.rs`, `tests/dpop_schemes.rs`):
//! an API behind a layer with DPoP settings, a client with its key and
//! bound token, and what came back, every challenge included.
#![allow(dead_code)]

use axum::{Router, routing::get};
use oidc_bearer::dpop::jwk_thumbprint;
use oidc_bearer::{Claims, Dpop, StandardClaims, Validator};
use oidc_bearer_testkit::{KeyKind, TestIssuer, TestKey, TokenBuilder, dpop_proof};
use reqwest::StatusCode;

use super::common::{Api, serve};

pub const AUDIENCE: &str = "orders-api";

/// Everything a client sees of an answer, every challenge included.
#[derive(Debug)]
pub struct Seen {
    pub status: StatusCode,
    pub challenges: Vec<String>,
    pub nonce: Option<String>,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Seen {
    pub fn ok(&self) {
        assert_eq!(self.status, StatusCode::OK, "{self:?}");
    }

    /// A 401 whose DPoP challenge has `error` and a description starting
    /// with `description`.
    pub fn dpop_refused(&self, error: &str, description: &str) {
        assert_eq!(self.status, StatusCode::UNAUTHORIZED, "{self:?}");
        let dpop = self.dpop_challenge();
        assert!(
            dpop.contains(&format!(
                r#"error="{error}", error_description="{description}"#
            )),
            "expected {error} / {description:?}: {self:?}"
        );
    }

    pub fn dpop_challenge(&self) -> &str {
        self.challenges
            .iter()
            .find(|c| c.starts_with("DPoP"))
            .unwrap_or_else(|| panic!("no DPoP challenge: {self:?}"))
    }
}

/// A client of the API: its DPoP key and a token bound to it.
pub struct Client {
    pub key: TestKey,
    pub token: String,
}

pub fn bound_token(issuer: &TestIssuer, key: &TestKey) -> String {
    let jkt = jwk_thumbprint(&key.public_jwk().to_string()).unwrap();
    issuer
        .builder(AUDIENCE)
        .claim("cnf", serde_json::json!({ "jkt": jkt }))
        .sign(&issuer.key)
}

pub fn client(issuer: &TestIssuer, kind: KeyKind) -> Client {
    let key = TestKey::generate(kind, "client");
    let token = bound_token(issuer, &key);
    Client { key, token }
}

pub async fn echo(claims: Claims<StandardClaims>) -> String {
    claims.sub.clone().unwrap_or_default()
}

pub async fn api(validator: &Validator, dpop: Dpop) -> Api {
    let app = Router::new()
        .route("/me", get(echo).post(echo))
        .route_layer(
            validator
                .layer::<StandardClaims>()
                .realm("orders")
                .dpop(dpop),
        );
    serve(app).await
}

/// The same route behind a layer without DPoP settings.
pub async fn plain_api(validator: &Validator) -> Api {
    let app = Router::new()
        .route("/me", get(echo))
        .route_layer(validator.layer::<StandardClaims>());
    serve(app).await
}

/// `GET /me` with `Authorization: DPoP <token>` and a fresh proof of
/// `key` for it.
pub async fn get_with_proof(api: &Api, key: &TestKey, token: &str) -> Seen {
    let proof = dpop_proof(key, "GET", &format!("{}/me", api.base), Some(token)).sign(key);
    send(api, "GET", "/me", &[&format!("DPoP {token}")], &[&proof]).await
}

/// `method /me` with these `Authorization` and `DPoP` headers.
pub async fn send(api: &Api, method: &str, path: &str, auth: &[&str], proofs: &[&str]) -> Seen {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = api.client.request(method, format!("{}{path}", api.base));
    for value in auth {
        request = request.header("authorization", *value);
    }
    for proof in proofs {
        request = request.header("dpop", *proof);
    }
    let response = request.send().await.expect("the API answers");
    let headers = response.headers().clone();
    let text = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    Seen {
        status: response.status(),
        challenges: headers
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect(),
        nonce: text("dpop-nonce"),
        retry_after: text("retry-after"),
        body: response.text().await.unwrap(),
    }
}

impl Client {
    pub fn proof(&self, api: &Api, method: &str) -> TokenBuilder {
        dpop_proof(
            &self.key,
            method,
            &format!("{}/me", api.base),
            Some(&self.token),
        )
    }

    pub async fn get(&self, api: &Api, proof: &str) -> Seen {
        send(
            api,
            "GET",
            "/me",
            &[&format!("DPoP {}", self.token)],
            &[proof],
        )
        .await
    }
}

pub const ALGS: &str = "ES256 ES384 EdDSA PS256 PS384 PS512 RS256 RS384 RS512";
