//! DPoP end to end with a real authorization server: panva's
//! `oidc-provider` (see `tests/oidc_provider.rs` and `e2e/provider.mjs`)
//! on 127.0.0.1 issues DPoP-bound access tokens (`cnf.jkt`) to a client
//! that sends proofs signed with its own key, by client credentials and by
//! Authorization Code + PKCE; the client then calls an API protected by
//! the layer with `Authorization: DPoP` and fresh proofs.
//!
//! Needs Node.js >= 20.19 and npm, as `tests/oidc_provider.rs`.

use std::collections::HashMap;
use std::time::Duration;

use axum::{Json, Router, routing::get};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oidc_bearer::dpop::jwk_thumbprint;
use oidc_bearer::{Claims, Dpop, Validator};
use oidc_bearer_testkit::{KeyKind, TestKey, dpop_proof, now};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{StatusCode, Url};

mod common;
#[allow(dead_code)]
#[path = "../examples/spa/provider.rs"]
mod provider;
use common::{Api, serve};

const API: &str = "urn:test:api";
const SPA_REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

async fn whoami(claims: Claims<serde_json::Value>) -> Json<serde_json::Value> {
    Json((*claims).clone())
}

struct Provider {
    issuer: String,
    http: reqwest::Client,
    local: provider::LocalProvider,
}

/// The provider's token response.
struct Issued {
    token_type: String,
    access_token: String,
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut url = Url::parse("http://form.invalid/").unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

fn payload(token: &str) -> serde_json::Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

impl Provider {
    async fn start() -> Provider {
        let local = provider::start(0, None)
            .await
            .unwrap_or_else(|why| panic!("{why}"));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Provider {
            issuer: local.issuer.clone(),
            http,
            local,
        }
    }

    /// POST /token with a DPoP proof signed by `key` (none when `None`).
    async fn token(
        &self,
        request: reqwest::RequestBuilder,
        key: Option<&TestKey>,
        pairs: &[(&str, &str)],
    ) -> Result<Issued, (StatusCode, serde_json::Value)> {
        let mut request = request
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form(pairs));
        if let Some(key) = key {
            let htu = format!("{}/token", self.issuer);
            request = request.header("dpop", dpop_proof(key, "POST", &htu, None).sign(key));
        }
        let response = request.send().await.expect("the token endpoint answers");
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        if status != StatusCode::OK {
            return Err((status, body));
        }
        Ok(Issued {
            token_type: body["token_type"].as_str().unwrap().to_owned(),
            access_token: body["access_token"].as_str().unwrap().to_owned(),
        })
    }

    async fn client_credentials(
        &self,
        key: Option<&TestKey>,
    ) -> Result<Issued, (StatusCode, serde_json::Value)> {
        let request = self
            .http
            .post(format!("{}/token", self.issuer))
            .basic_auth("svc-dpop", Some("svc-dpop-secret"));
        let pairs = [
            ("grant_type", "client_credentials"),
            ("resource", API),
            ("scope", "read"),
        ];
        self.token(request, key, &pairs).await
    }

    /// The `spa` client's flow (see `tests/oidc_provider.rs`), with a DPoP
    /// proof on the code exchange.
    async fn authorization_code(&self, key: &TestKey) -> Issued {
        let verifier = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            verifier.as_bytes(),
        ));
        let mut url = Url::parse(&format!("{}/auth", self.issuer)).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", "spa")
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", SPA_REDIRECT_URI)
            .append_pair("scope", "openid read")
            .append_pair("resource", API)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let mut cookies: HashMap<String, String> = HashMap::new();
        let jar = |cookies: &HashMap<String, String>| {
            cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let keep = |cookies: &mut HashMap<String, String>, response: &reqwest::Response| {
            for value in response.headers().get_all(SET_COOKIE) {
                let pair = value.to_str().unwrap().split(';').next().unwrap();
                let (name, value) = pair.split_once('=').unwrap();
                cookies.insert(name.to_owned(), value.to_owned());
            }
        };
        let callback = loop {
            let response = self
                .http
                .get(url.clone())
                .header(COOKIE, jar(&cookies))
                .send()
                .await
                .unwrap();
            keep(&mut cookies, &response);
            let response = if response.status() == StatusCode::OK {
                let page = response.text().await.unwrap();
                let body = if page.contains(r#"name="prompt" value="login""#) {
                    form(&[("prompt", "login"), ("login", "alice"), ("password", "x")])
                } else {
                    form(&[("prompt", "consent")])
                };
                let response = self
                    .http
                    .post(url.clone())
                    .header(COOKIE, jar(&cookies))
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                keep(&mut cookies, &response);
                response
            } else {
                response
            };
            assert!(response.status().is_redirection(), "{}", self.local.log());
            let next = url
                .join(response.headers()[LOCATION].to_str().unwrap())
                .unwrap();
            if next.as_str().starts_with(SPA_REDIRECT_URI) {
                break next;
            }
            url = next;
        };
        let params: HashMap<String, String> = callback.query_pairs().into_owned().collect();
        let pairs = [
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", params["code"].as_str()),
            ("redirect_uri", SPA_REDIRECT_URI),
            ("code_verifier", verifier.as_str()),
            ("resource", API),
        ];
        let request = self.http.post(format!("{}/token", self.issuer));
        self.token(request, Some(key), &pairs)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
    }
}

/// What the API answered: status and the challenges.
async fn call(api: &Api, method: &str, auth: &str, proof: Option<&str>) -> (StatusCode, String) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = api
        .client
        .request(method, format!("{}/whoami", api.base))
        .header("authorization", auth);
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    let response = request.send().await.unwrap();
    let challenges: Vec<String> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let status = response.status();
    let body = response.text().await.unwrap();
    (
        status,
        if status == StatusCode::OK {
            body
        } else {
            challenges.join(" | ")
        },
    )
}

async fn protected_api(provider: &Provider) -> Api {
    let validator = Validator::discover(&provider.issuer)
        .audience(API)
        .require_type("at+jwt")
        .build()
        .await
        .expect("discovery against oidc-provider works");
    serve(
        Router::new()
            .route("/whoami", get(whoami).post(whoami))
            .route_layer(
                validator
                    .layer::<serde_json::Value>()
                    .dpop(Dpop::allowed().plain_http()),
            ),
    )
    .await
}

/// Accepted with a fresh proof; every kind of misuse refused, each for
/// its own reason.
async fn exercise(api: &Api, key: &TestKey, token: &str) {
    let url = format!("{}/whoami", api.base);
    let auth = format!("DPoP {token}");
    let proof = |method: &str, url: &str| dpop_proof(key, method, url, Some(token)).sign(key);
    let good = proof("GET", &url);
    let (status, body) = call(api, "GET", &auth, Some(&good)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refused = |(status, challenges): (StatusCode, String), why: &str| {
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {challenges}");
        assert!(challenges.contains(why), "{why}: {challenges}");
    };
    refused(
        call(api, "GET", &auth, Some(&good)).await,
        "the proof was used before",
    );
    refused(
        call(
            api,
            "GET",
            &auth,
            Some(&proof("GET", &format!("{}/other", api.base))),
        )
        .await,
        "the proof htu is not the request URI",
    );
    refused(
        call(api, "POST", &auth, Some(&proof("GET", &url))).await,
        "the proof htm is not the request method",
    );
    let thief = TestKey::generate(key.kind(), "thief");
    refused(
        call(
            api,
            "GET",
            &auth,
            Some(&dpop_proof(&thief, "GET", &url, Some(token)).sign(&thief)),
        )
        .await,
        "the proof key is not the key the token is bound to",
    );
    refused(
        call(api, "GET", &format!("Bearer {token}"), None).await,
        r#"error="invalid_token", error_description="DPoP-bound token sent with the Bearer scheme""#,
    );
    let stale = dpop_proof(key, "GET", &url, Some(token))
        .claim("iat", now() - 600)
        .sign(key);
    refused(
        call(api, "GET", &auth, Some(&stale)).await,
        "the proof iat is outside the acceptance window",
    );
    // And the proper request still works after all that.
    let (status, body) = call(api, "GET", &auth, Some(&proof("GET", &url))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn client_credentials_dpop_bound_tokens_work_and_misuse_is_refused() {
    let provider = Provider::start().await;
    let api = protected_api(&provider).await;
    for kind in [KeyKind::EcP256, KeyKind::Ed25519] {
        let key = TestKey::generate(kind, "client");
        let issued = provider
            .client_credentials(Some(&key))
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(issued.token_type, "DPoP");
        let claims = payload(&issued.access_token);
        let jkt = jwk_thumbprint(&key.public_jwk().to_string()).unwrap();
        assert_eq!(claims["cnf"]["jkt"], jkt.as_str(), "{claims}");
        exercise(&api, &key, &issued.access_token).await;
    }
    // This client's tokens are always bound: no proof, no token.
    let (status, body) = provider
        .client_credentials(None)
        .await
        .err()
        .expect("refused");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn authorization_code_with_pkce_dpop_bound_token_works_and_misuse_is_refused() {
    let provider = Provider::start().await;
    let api = protected_api(&provider).await;
    let key = TestKey::generate(KeyKind::EcP256, "browser");
    let issued = provider.authorization_code(&key).await;
    assert_eq!(issued.token_type, "DPoP");
    let claims = payload(&issued.access_token);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(
        claims["cnf"]["jkt"],
        jwk_thumbprint(&key.public_jwk().to_string())
            .unwrap()
            .as_str()
    );
    exercise(&api, &key, &issued.access_token).await;
}
