//! The attack suite: one test per hostile input, each sent through the
//! tower layer (an axum `Router` driven with `oneshot`), `Validator::verify`
//! and `Validator::try_verify`, asserting what a client sees (status,
//! `error`, `error_description`), that all three decide alike and that the
//! protected handler never ran.
//!
//! Keys come from a static JWKS and time from a `ManualClock` unless a test
//! needs a provider on 127.0.0.1 (key pointers in headers, small-order keys
//! published by a provider). Single rules are also covered, less
//! adversarially, in `tests/rules.rs` and `tests/keys.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::extract::Request;
use axum::{Json, Router, routing::get};
use http::StatusCode;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use oidc_bearer::clock::ManualClock;
use oidc_bearer::{Claims, ErrorKind, OidcBearerLayer, Validator, ValidatorBuilder};
use oidc_bearer_testkit::{KeyKind, TestKey, TokenBuilder, b64url, jwks};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::ServiceExt as _;

mod algorithms;
mod claims;
mod dpop_htu;
mod ecdsa;
mod eddsa;
mod header_members;
mod issuers;
mod json;
mod key_sources;
mod kid;
mod rsa;
mod signature;
mod syntax;
mod token_kinds;

pub const ISS: &str = "https://login.example.test/realms/attacks";
pub const AUD: &str = "attacks-api";
/// The manual clock's time.
pub const NOW: i64 = 1_718_719_000;

// RSA generation costs tens of milliseconds: one key per role, shared.
pub static RSA: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate(KeyKind::Rsa2048, "rsa-1"));
pub static P256: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate(KeyKind::EcP256, "ec-256"));
pub static P384: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate(KeyKind::EcP384, "ec-384"));
pub static ED: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate(KeyKind::Ed25519, "ed-1"));
/// Never published: what an attacker signs with.
pub static ATTACKER: LazyLock<TestKey> =
    LazyLock::new(|| TestKey::generate(KeyKind::Rsa2048, "attacker"));

/// The claims type the protected handler takes.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct User {
    pub sub: String,
}

// ------------------------------------------------------ allocation meter

#[path = "../common/alloc_meter.rs"]
mod alloc_meter;

/// Bytes allocated on this thread while `f` runs (on this thread: use a
/// current-thread runtime), so a test can show that refusing a huge
/// header costs bounded memory.
pub async fn allocated_during<T>(f: impl std::future::Future<Output = T>) -> (T, u64) {
    let (out, allocs) = alloc_meter::measure_async(f).await;
    (out, allocs.bytes)
}

// ---------------------------------------------------------------- helpers

/// A valid claim set at `NOW`.
pub fn claims() -> Value {
    json!({
        "iss": ISS,
        "sub": "user-1",
        "aud": AUD,
        "exp": NOW + 3600,
        "iat": NOW,
        "nbf": NOW - 5,
    })
}

/// A token builder prefilled with [`claims`].
pub fn token() -> TokenBuilder {
    TokenBuilder::new().claims(claims())
}

/// base64url (no padding) of a string.
pub fn b64(s: &str) -> String {
    b64url(s.as_bytes())
}

/// `header.payload.signature` from raw JSON texts, signed by `key` with
/// `alg` over exactly those bytes: for headers and claims `serde_json`
/// would never write (duplicate members, escapes, odd numbers).
pub fn raw_token(header: &str, payload: &str, key: &TestKey, alg: &str) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = key.sign(alg, input.as_bytes());
    format!("{input}.{}", b64url(&signature))
}

/// The claims of [`claims`] as JSON text.
pub fn claims_text() -> String {
    claims().to_string()
}

/// A builder for a validator trusting `RSA`, `P256`, `P384` and `ED` from a
/// static JWKS, at `NOW`.
pub fn builder() -> ValidatorBuilder {
    builder_for(&[&RSA, &P256, &P384, &ED])
}

pub fn builder_for(keys: &[&TestKey]) -> ValidatorBuilder {
    Validator::builder()
        .issuer(ISS)
        .audience(AUD)
        .jwks_json(jwks(keys).to_string())
        .clock(ManualClock::new(NOW))
}

pub async fn validator() -> Validator {
    builder().build().await.expect("validator builds")
}

/// A router whose `/me` handler takes `Claims<User>` and counts its calls.
pub fn app(layer: OidcBearerLayer<User>) -> (Router, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = Router::new()
        .route(
            "/me",
            get(move |claims: Claims<User>| async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Json(claims)
            }),
        )
        .layer(layer);
    (app, calls)
}

/// What a client sees of an answer.
#[derive(Debug)]
pub struct Seen {
    pub status: StatusCode,
    pub challenge: Option<String>,
}

impl Seen {
    /// The value of auth-param `name` in the `Bearer` challenge.
    pub fn param(&self, name: &str) -> Option<String> {
        let challenge = self.challenge.as_deref()?;
        let start = challenge.find(&format!("{name}=\""))? + name.len() + 2;
        let len = challenge[start..].find('"')?;
        Some(challenge[start..start + len].to_owned())
    }
}

/// A GET of `/me` with `authorization` (raw bytes: some attacks are not
/// valid UTF-8) as the `Authorization` header.
pub fn request(authorization: Option<&[u8]>) -> Request {
    let mut request = Request::builder().uri("/me");
    if let Some(value) = authorization {
        let value = http::HeaderValue::from_bytes(value).expect("a sendable header value");
        request = request.header(AUTHORIZATION, value);
    }
    request.body(Body::empty()).unwrap()
}

/// GETs `/me` through `app` with `oneshot`, with `authorization` as the
/// `Authorization` header.
pub async fn send(app: &Router, authorization: Option<&[u8]>) -> Seen {
    send_request(app, request(authorization)).await
}

/// Sends `request` through `app` with `oneshot`.
pub async fn send_request(app: &Router, request: Request) -> Seen {
    let response = app.clone().oneshot(request).await.expect("infallible");
    Seen {
        status: response.status(),
        challenge: response
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().expect("challenge is visible ASCII").to_owned()),
    }
}

/// The token is refused by the layer with 401 `invalid_token` and exactly
/// `description` (the handler never runs, the challenge does not echo the
/// token), and by `verify` and `try_verify` with the same description.
#[track_caller]
pub fn refuses<'a>(
    v: &'a Validator,
    token: &'a str,
    description: &'a str,
) -> impl std::future::Future<Output = ()> + 'a {
    let caller = std::panic::Location::caller();
    async move {
        let (app, calls) = app(v.layer::<User>());
        let seen = send(&app, Some(format!("Bearer {token}").as_bytes())).await;
        assert_eq!(
            seen.status,
            StatusCode::UNAUTHORIZED,
            "{caller}: {:?}",
            seen.challenge
        );
        assert_eq!(
            seen.param("error").as_deref(),
            Some("invalid_token"),
            "{caller}: {:?}",
            seen.challenge
        );
        assert_eq!(
            seen.param("error_description").as_deref(),
            Some(description),
            "{caller}: layer"
        );
        assert_eq!(
            calls.load(Ordering::SeqCst),
            0,
            "{caller}: the handler ran for a refused token"
        );
        let challenge = seen.challenge.unwrap();
        for part in token.split('.').filter(|p| p.len() >= 16) {
            assert!(
                !challenge.contains(&part[..16]),
                "{caller}: the challenge echoes the token"
            );
        }
        let error = v
            .verify::<User>(token)
            .await
            .expect_err("verify accepted a token the layer refused");
        assert_eq!(error.kind(), ErrorKind::InvalidToken, "{caller}: {error}");
        assert_eq!(error.description(), description, "{caller}: verify");
        let error = v
            .try_verify::<User>(token)
            .expect_err("try_verify accepted a token the layer refused");
        assert_eq!(error.kind(), ErrorKind::InvalidToken, "{caller}: {error}");
        assert_eq!(error.description(), description, "{caller}: try_verify");
    }
}

/// The `Authorization` value is refused by the layer with `status`, `error`
/// `code` (none for a bare challenge) and `description`, and the handler
/// never runs.
#[track_caller]
pub fn layer_refuses<'a>(
    layer: OidcBearerLayer<User>,
    authorization: &'a [u8],
    status: StatusCode,
    code: Option<&'a str>,
    description: Option<&'a str>,
) -> impl std::future::Future<Output = Seen> + 'a {
    let caller = std::panic::Location::caller();
    async move {
        let (app, calls) = app(layer);
        let seen = send(&app, Some(authorization)).await;
        assert_eq!(seen.status, status, "{caller}: {:?}", seen.challenge);
        assert_eq!(
            seen.param("error").as_deref(),
            code,
            "{caller}: {:?}",
            seen.challenge
        );
        if description.is_some() {
            assert_eq!(
                seen.param("error_description").as_deref(),
                description,
                "{caller}"
            );
        }
        assert_eq!(calls.load(Ordering::SeqCst), 0, "{caller}: the handler ran");
        seen
    }
}

/// The token is accepted by the layer (the handler runs once), `verify`
/// and `try_verify`.
#[track_caller]
pub fn accepts<'a>(v: &'a Validator, token: &'a str) -> impl std::future::Future<Output = ()> + 'a {
    let caller = std::panic::Location::caller();
    async move {
        let (app, calls) = app(v.layer::<User>());
        let seen = send(&app, Some(format!("Bearer {token}").as_bytes())).await;
        assert_eq!(
            seen.status,
            StatusCode::OK,
            "{caller}: {:?}",
            seen.challenge
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{caller}");
        v.verify::<User>(token).await.expect("verify");
        v.try_verify::<User>(token).expect("try_verify");
    }
}

/// The three parts of a compact token.
pub fn parts(token: &str) -> [&str; 3] {
    let mut it = token.split('.');
    let out = [it.next().unwrap(), it.next().unwrap(), it.next().unwrap()];
    assert!(it.next().is_none(), "not three parts: {token}");
    out
}

#[tokio::test]
async fn the_honest_tokens_the_attacks_start_from_are_accepted() {
    let v = validator().await;
    for key in [&*RSA, &*P256, &*P384, &*ED] {
        accepts(&v, &token().sign(key)).await;
        accepts(
            &v,
            &raw_token(
                &format!(r#"{{"alg":"{}","kid":"{}"}}"#, key.default_alg(), key.kid()),
                &claims_text(),
                key,
                key.default_alg(),
            ),
        )
        .await;
    }
}
