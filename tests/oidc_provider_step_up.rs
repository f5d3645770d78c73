//! Step-up authentication (RFC 9470) end to end against panva's
//! `oidc-provider` (see `e2e/provider.mjs`): the user signs in through the
//! provider's login form with an authentication context class (`acr`), the
//! SPA's Authorization Code + PKCE flow gets an access token carrying that
//! `acr` and the sign-in's `auth_time`, and an API route that requires
//! `urn:test:mfa` lets the strong token through and answers the weak one
//! with `401 insufficient_user_authentication`. Needs Node.js, as
//! `tests/oidc_provider.rs`.

use std::collections::HashMap;
use std::time::Duration;

use axum::{Router, routing::get};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oidc_bearer::{StandardClaims, StepUp, Validator};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{StatusCode, Url};

mod common;
#[allow(dead_code)]
#[path = "../examples/spa/provider.rs"]
mod provider;
use common::{bearer, fetch, serve};

const API: &str = "urn:test:api";
const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
const MFA: &str = "urn:test:mfa";
const PASSWORD_ONLY: &str = "urn:test:pwd";

/// The SPA's flow through the provider's forms, signing in with `acr`;
/// returns the access token.
async fn sign_in(issuer: &str, login: &str, acr: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut random = [0u8; 32];
    aws_lc_rs::rand::fill(&mut random).unwrap();
    let verifier = URL_SAFE_NO_PAD.encode(random);
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    let mut url = Url::parse(&format!("{issuer}/auth")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "spa")
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid read")
        .append_pair("resource", API)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut cookies: HashMap<String, String> = HashMap::new();
    let cookie_header = |cookies: &HashMap<String, String>| {
        let pairs: Vec<String> = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();
        pairs.join("; ")
    };
    let store = |cookies: &mut HashMap<String, String>, response: &reqwest::Response| {
        for value in response.headers().get_all(SET_COOKIE) {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            cookies.insert(name.to_owned(), value.to_owned());
        }
    };
    let callback = 'flow: {
        for _ in 0..12 {
            let response = http
                .get(url.clone())
                .header(COOKIE, cookie_header(&cookies))
                .send()
                .await
                .unwrap();
            store(&mut cookies, &response);
            let response = if response.status() == StatusCode::OK {
                let page = response.text().await.unwrap();
                let (target, form) = if page.contains(r#"name="prompt" value="login""#) {
                    // The login page of a provider that knows how the user
                    // authenticated: `?acr=` (see e2e/provider.mjs).
                    let mut target = url.clone();
                    target.query_pairs_mut().append_pair("acr", acr);
                    (target, format!("prompt=login&login={login}&password=x"))
                } else if page.contains(r#"name="prompt" value="consent""#) {
                    (url.clone(), "prompt=consent".to_owned())
                } else {
                    panic!("unexpected page at {url}:\n{page}");
                };
                let response = http
                    .post(target)
                    .header(COOKIE, cookie_header(&cookies))
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form)
                    .send()
                    .await
                    .unwrap();
                store(&mut cookies, &response);
                response
            } else {
                response
            };
            assert!(
                response.status().is_redirection(),
                "{url}: {}",
                response.status()
            );
            let next = url
                .join(response.headers()[LOCATION].to_str().unwrap())
                .unwrap();
            if next.as_str().starts_with(REDIRECT_URI) {
                break 'flow next;
            }
            url = next;
        }
        panic!("the login never finished");
    };
    let params: HashMap<String, String> = callback.query_pairs().into_owned().collect();
    let mut form = Url::parse("http://form.invalid/").unwrap();
    form.query_pairs_mut()
        .append_pair("grant_type", "authorization_code")
        .append_pair("client_id", "spa")
        .append_pair("code", &params["code"])
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("code_verifier", &verifier)
        .append_pair("resource", API);
    let response = http
        .post(format!("{issuer}/token"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form.query().unwrap().to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

fn claims_of(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn a_strong_sign_in_passes_and_a_weak_one_gets_the_step_up_challenge() {
    let local = provider::start(0, None)
        .await
        .unwrap_or_else(|why| panic!("{why}"));
    let issuer = local.issuer.clone();
    let validator = Validator::discover(&issuer)
        .audience(API)
        .build()
        .await
        .unwrap();
    let app = Router::new()
        .route(
            "/transfers",
            get(|| async { "sent" }).route_layer(
                StepUp::acr_values([MFA])
                    .and(StepUp::max_age(Duration::from_secs(600)))
                    .layer::<StandardClaims>(),
            ),
        )
        .route_layer(validator.layer::<StandardClaims>());
    let api = serve(app).await;

    let strong = sign_in(&issuer, "alice", MFA).await;
    let claims = claims_of(&strong);
    assert_eq!(claims["acr"], MFA, "{claims}");
    assert!(claims["auth_time"].is_i64(), "{claims}");
    let answer = fetch(&api, "/transfers", &[&bearer(&strong)]).await;
    assert_eq!(
        (answer.status.as_u16(), answer.body.as_str()),
        (200, "sent"),
        "{answer:?}\n{}",
        local.log()
    );

    let weak = sign_in(&issuer, "bob", PASSWORD_ONLY).await;
    assert_eq!(claims_of(&weak)["acr"], PASSWORD_ONLY);
    let answer = fetch(&api, "/transfers", &[&bearer(&weak)]).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(
            "Bearer error=\"insufficient_user_authentication\", \
             error_description=\"insufficient user authentication: authentication context \
             class (acr) not accepted\", acr_values=\"urn:test:mfa\", max_age=\"600\""
        )
    );
}
