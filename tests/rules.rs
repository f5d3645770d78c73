//! Every token and request rule of the foundation issue, proven through the
//! tower layer (an axum `Router` driven with `oneshot`), and through
//! `Validator::verify` / `try_verify` for the same outcomes without tower.
//!
//! Keys come from a static JWKS (`jwks_json`) and time from a `ManualClock`,
//! so nothing here sleeps or depends on the wall clock. The same rules over
//! real sockets live in `tests/http_server.rs`.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::{Json, Router, routing::get};
use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, StatusCode};
use oidc_bearer::clock::ManualClock;
use oidc_bearer::rejection::ProblemJson;
use oidc_bearer::{Claims, Error, ErrorKind, OidcBearerLayer, Validator, ValidatorBuilder};
use oidc_bearer_testkit::{KeyKind, MockProvider, Reply, TestKey, TokenBuilder, jwks};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::{Layer as _, ServiceExt as _};

mod common;
use common::bearer;

const ISS: &str = "https://login.example.test/realms/rules";
const AUD: &str = "rules-api";
/// The manual clock's time; `1718719921.5` (a float `exp` some providers
/// send) lies 921.5 s after it.
const NOW: i64 = 1_718_719_000;

// RSA generation costs tens of milliseconds: one key per role, shared.
static RSA: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate(KeyKind::Rsa2048, "rsa-1"));
static RSA2: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate(KeyKind::Rsa2048, "rsa-2"));
static P256: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate(KeyKind::EcP256, "ec-256"));
static P384: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate(KeyKind::EcP384, "ec-384"));
static ED: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate(KeyKind::Ed25519, "ed-1"));
static ATTACKER: LazyLock<TestKey> =
    LazyLock::new(|| TestKey::generate(KeyKind::Rsa2048, "attacker"));

/// The claims type most tests hand to the layer.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct User {
    sub: String,
    #[serde(default)]
    scope: Option<String>,
}

/// A claims type valid tokens do not fit (no `tenant_number`).
#[derive(Debug, Clone, Deserialize, Serialize)]
struct Strict {
    sub: String,
    tenant_number: u64,
}

// ---------------------------------------------------------------- helpers

/// A valid claim set at `NOW` for `ISS` / `AUD`.
fn claims() -> Value {
    json!({
        "iss": ISS,
        "sub": "user-1",
        "aud": AUD,
        "exp": NOW + 3600,
        "iat": NOW,
        "nbf": NOW - 5,
        "scope": "read write",
    })
}

/// A token builder prefilled with [`claims`].
fn token() -> TokenBuilder {
    TokenBuilder::new().claims(claims())
}

/// A [`token`] with claim `name` set to `value`, signed with `RSA`.
fn with_claim(name: &str, value: impl Into<Value>) -> String {
    token().claim(name, value).sign(&RSA)
}

fn builder(keys: &[&TestKey]) -> ValidatorBuilder {
    Validator::builder()
        .issuer(ISS)
        .audience(AUD)
        .jwks_json(jwks(keys).to_string())
        .clock(ManualClock::new(NOW))
}

async fn validator(keys: &[&TestKey]) -> Validator {
    builder(keys)
        .build()
        .await
        .expect("validator builds from a static JWKS")
}

/// A router whose `/me` handler echoes `Claims<C>` and counts its calls.
fn app_with<C>(layer: OidcBearerLayer<C>) -> (Router, Arc<AtomicUsize>)
where
    C: DeserializeOwned + Serialize + Send + Sync + 'static,
{
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = Router::new()
        .route(
            "/me",
            get(move |claims: Claims<C>| async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Json(claims)
            }),
        )
        .layer(layer);
    (app, calls)
}

/// What a client sees.
#[derive(Debug)]
struct Seen {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Seen {
    fn challenge(&self) -> Option<&str> {
        self.headers
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().expect("WWW-Authenticate is visible ASCII"))
    }

    fn param(&self, name: &str) -> Option<String> {
        params(self.challenge()?)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
}

async fn send(app: &Router, authorization: &[&str]) -> Seen {
    let mut request = Request::builder().uri("/me");
    for value in authorization {
        request = request.header(AUTHORIZATION, *value);
    }
    send_request(app, request.body(Body::empty()).unwrap()).await
}

async fn send_request(app: &Router, request: Request) -> Seen {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    Seen {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8(bytes.to_vec()).expect("UTF-8 body"),
    }
}

/// The auth-params of a `Bearer` challenge. Values are quoted strings
/// without escapes (RFC 6750 forbids `"` and `\` in them).
fn params(challenge: &str) -> Vec<(String, String)> {
    let rest = challenge
        .strip_prefix("Bearer")
        .unwrap_or_else(|| panic!("not a Bearer challenge: {challenge}"));
    assert!(
        rest.is_empty() || rest.starts_with(' '),
        "scheme not followed by a space: {challenge}"
    );
    let mut out = Vec::new();
    let mut s = rest.trim_start();
    while !s.is_empty() {
        let (name, after) = s
            .split_once("=\"")
            .unwrap_or_else(|| panic!("auth-param without a quoted value: {challenge}"));
        let (value, after) = after
            .split_once('"')
            .unwrap_or_else(|| panic!("unterminated quoted value: {challenge}"));
        out.push((name.to_owned(), value.to_owned()));
        s = after.strip_prefix(", ").unwrap_or(after);
        assert!(
            s.is_empty() || !s.starts_with(['"', ' ', ',']),
            "junk after a parameter: {challenge}"
        );
    }
    out
}

/// RFC 6750 §3: `error_description` is `%x20-21 / %x23-5B / %x5D-7E`.
#[track_caller]
fn assert_rfc6750_chars(description: &str) {
    for c in description.chars() {
        assert!(
            matches!(c, ' ' | '!' | '#'..='[' | ']'..='~'),
            "{c:?} is not allowed in error_description: {description:?}"
        );
    }
}

/// Status, `error=` and an `error_description` naming `rule`.
#[track_caller]
fn assert_refused(seen: &Seen, status: StatusCode, code: &str, rule: &str) {
    assert_eq!(seen.status, status, "challenge: {:?}", seen.challenge());
    let challenge = seen.challenge().expect("a WWW-Authenticate challenge");
    assert_eq!(seen.param("error").as_deref(), Some(code), "{challenge}");
    let description = seen
        .param("error_description")
        .unwrap_or_else(|| panic!("no error_description: {challenge}"));
    assert!(
        description.contains(rule),
        "error_description {description:?} does not name the rule {rule:?}"
    );
    assert_rfc6750_chars(&description);
}

/// The token is refused with 401 `invalid_token` naming `rule`, by the layer
/// (the handler never runs), by `verify` and by `try_verify`, and no part of
/// the token shows up in the answer.
async fn rejects(v: &Validator, token: &str, rule: &str) {
    rejects_as::<User>(v, token, rule).await;
}

async fn rejects_as<C>(v: &Validator, token: &str, rule: &str)
where
    C: DeserializeOwned + Serialize + std::fmt::Debug + Send + Sync + 'static,
{
    let (app, calls) = app_with(v.layer::<C>());
    let seen = send(&app, &[&bearer(token)]).await;
    assert_refused(&seen, StatusCode::UNAUTHORIZED, "invalid_token", rule);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the handler ran for a token refused with {rule:?}"
    );
    let challenge = seen.challenge().unwrap();
    for part in token.split('.').filter(|p| p.len() >= 16) {
        assert!(
            !challenge.contains(&part[..16]),
            "the challenge echoes the token: {challenge}"
        );
    }

    let error = v
        .verify::<C>(token)
        .await
        .expect_err("verify accepted a token the layer refused");
    assert_eq!(error.kind(), ErrorKind::InvalidToken, "{error}");
    assert!(
        error.description().contains(rule),
        "verify: {error} does not name {rule:?}"
    );
    let error = v
        .try_verify::<C>(token)
        .expect_err("try_verify accepted a token the layer refused");
    assert_eq!(error.kind(), ErrorKind::InvalidToken, "{error}");
    assert!(
        error.description().contains(rule),
        "try_verify: {error} does not name {rule:?}"
    );
}

/// The token is accepted by the layer (the handler runs once), by `verify`
/// and by `try_verify`; returns the claims the handler saw.
async fn accepts(v: &Validator, token: &str) -> Value {
    let (app, calls) = app_with(v.layer::<User>());
    let seen = send(&app, &[&bearer(token)]).await;
    assert_eq!(
        seen.status,
        StatusCode::OK,
        "refused: {:?}",
        seen.challenge()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let verified = v.verify::<User>(token).await.expect("verify");
    let sync = v.try_verify::<User>(token).expect("try_verify");
    assert_eq!(verified.sub, sync.sub);
    let seen: Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(seen["sub"], verified.sub.as_str());
    seen
}

fn split3(token: &str) -> (&str, &str, &str) {
    let mut parts = token.splitn(3, '.');
    (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    )
}

// ------------------------------------------------- 1. token syntax

#[tokio::test]
async fn syntax_length_limit_defaults_to_8_kib_and_is_checked_before_decoding() {
    let v = validator(&[&ED]).await;

    // Garbage that would fail decoding is reported as too large: the
    // length is checked first.
    rejects(&v, &"a".repeat(9000), "token too large").await;
    rejects(
        &v,
        &format!(
            "{}.{}.{}",
            "a".repeat(3000),
            "b".repeat(3000),
            "c".repeat(3000)
        ),
        "token too large",
    )
    .await;

    // A valid token of exactly 8192 bytes passes; one byte more does not.
    // (base64url lengths skip some values, so a header member helps.)
    let sized = |extra: usize, pad: usize| {
        token()
            .header("x", "y".repeat(extra))
            .claim("pad", "x".repeat(pad))
            .sign(&ED)
    };
    let estimate = (8192 - sized(0, 0).len()) * 3 / 4;
    let of_len = |len: usize| {
        (0..4)
            .flat_map(|extra| (estimate - 8..estimate + 8).map(move |pad| (extra, pad)))
            .map(|(extra, pad)| sized(extra, pad))
            .find(|t| t.len() == len)
            .unwrap_or_else(|| panic!("no token of {len} bytes"))
    };
    accepts(&v, &of_len(8192)).await;
    rejects(&v, &of_len(8193), "token too large").await;
}

#[tokio::test]
async fn syntax_length_limit_is_configurable() {
    let t = token().sign(&ED);
    let tight = builder(&[&ED])
        .max_token_len(t.len() - 1)
        .build()
        .await
        .unwrap();
    rejects(&tight, &t, "token too large").await;
    let exact = builder(&[&ED])
        .max_token_len(t.len())
        .build()
        .await
        .unwrap();
    accepts(&exact, &t).await;
    // A larger limit lets tokens above 8 KiB through.
    let big = token().claim("pad", "x".repeat(7000)).sign(&ED);
    assert!(big.len() > 8192);
    let roomy = builder(&[&ED])
        .max_token_len(16 * 1024)
        .build()
        .await
        .unwrap();
    accepts(&roomy, &big).await;
    rejects(&validator(&[&ED]).await, &big, "token too large").await;
}

#[tokio::test]
async fn syntax_only_compact_jws_with_three_parts() {
    let v = validator(&[&RSA]).await;
    let valid = token().sign(&RSA);
    let (h, p, s) = split3(&valid);
    accepts(&v, &valid).await;

    // Five parts: a JWE (encrypted token) is refused by name.
    let jwe_header = oidc_bearer_testkit::b64url(br#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#);
    rejects(&v, &format!("{jwe_header}.a2V5.aXY.Y2lwaGVy.dGFn"), "JWE").await;
    rejects(&v, &format!("{h}.{p}.{s}.{s}.{s}"), "JWE").await;
    // Any other number of parts, or empty parts.
    for bad in [
        format!("{h}.{p}"),
        format!("{h}{p}{s}"),
        format!("{h}.{p}.{s}.{s}"),
        format!("{h}.{p}.{s}.{s}.{s}.{s}"),
        format!(".{p}.{s}"),
        format!("{h}..{s}"),
    ] {
        rejects(&v, &bad, "malformed token").await;
    }
}

#[tokio::test]
async fn syntax_parts_are_base64url_without_padding_or_whitespace() {
    let v = validator(&[&RSA]).await;
    let valid = token().sign(&RSA);
    let (h, p, s) = split3(&valid);

    // Through the layer: padding at the end is token68, so it reaches the
    // decoder, which refuses it; so does the standard alphabet (`+`, `/`).
    rejects(&v, &format!("{valid}="), "signature is not base64url").await;
    rejects(&v, &format!("{valid}=="), "signature is not base64url").await;
    rejects(
        &v,
        &format!("{h}.{p}.+{}", &s[1..]),
        "signature is not base64url",
    )
    .await;
    rejects(
        &v,
        &format!("{h}.{p}./{}", &s[1..]),
        "signature is not base64url",
    )
    .await;
    let plus_payload = format!("{h}.{}+.{s}", &p[..p.len() - 1]);
    rejects(&v, &plus_payload, "payload is not base64url").await;

    // Without tower (a header would refuse these as not token68 first).
    for (bad, rule) in [
        (format!("{h}=.{p}.{s}"), "header is not base64url"),
        (format!("{h}.{p}=.{s}"), "payload is not base64url"),
        (format!("{h} .{p}.{s}"), "header is not base64url"),
        (format!("{h}.{p}\n.{s}"), "payload is not base64url"),
        (format!("{h}.{p}.{s} "), "signature is not base64url"),
        (format!(" {valid}"), "header is not base64url"),
        (
            format!("{h}.{p}.{}\t{}", &s[..10], &s[10..]),
            "signature is not base64url",
        ),
    ] {
        for result in [v.verify::<User>(&bad).await, v.try_verify::<User>(&bad)] {
            let error = result.expect_err("a token with padding or whitespace was accepted");
            assert!(
                matches!(error, Error::MalformedToken(_)),
                "{bad:?}: {error}"
            );
            assert!(error.description().contains(rule), "{bad:?}: {error}");
        }
    }
}

#[tokio::test]
async fn syntax_header_and_payload_must_be_json_objects() {
    let v = validator(&[&RSA]).await;
    let valid = token().sign(&RSA);
    let (h, p, s) = split3(&valid);
    let b64 = |json: &str| oidc_bearer_testkit::b64url(json.as_bytes());
    for (header, rule) in [
        (b64("not json"), "header is not a JSON object"),
        (b64(r#"["RS256"]"#), "header is not a JSON object"),
        (b64(r#"{"alg":5}"#), "header is not a valid JOSE header"),
        (
            b64(r#"{"alg":"RS256","kid":["rsa-1"]}"#),
            "header is not a valid JOSE header",
        ),
        (
            b64(r#"{"alg":"RS256","alg":"none"}"#),
            "header is not a valid JOSE header",
        ),
        (b64(r#"{"kid":"rsa-1"}"#), "header has no alg"),
        (
            b64(r#"{"alg":"RS256"}garbage"#),
            "header is not a valid JOSE header",
        ),
    ] {
        rejects(&v, &format!("{header}.{p}.{s}"), rule).await;
    }
    for (payload, rule) in [
        (b64("not json"), "claims are not a JSON object"),
        (b64(r#"["sub"]"#), "claims are not a JSON object"),
        (b64("42"), "claims are not a JSON object"),
    ] {
        rejects(&v, &format!("{h}.{payload}.{s}"), rule).await;
    }
}

// ------------------------------------------------- 2. JOSE header

#[tokio::test]
async fn header_every_supported_algorithm_verifies_with_a_matching_key() {
    let v = validator(&[&RSA, &P256, &P384, &ED]).await;
    for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
        let t = token().claim("sub", alg).sign_with(&RSA, alg);
        assert_eq!(accepts(&v, &t).await["sub"], alg);
    }
    for (key, alg) in [
        (&*P256, "ES256"),
        (&*P384, "ES384"),
        (&*ED, "EdDSA"),
        (&*ED, "Ed25519"),
    ] {
        let t = token().claim("sub", alg).sign_with(key, alg);
        assert_eq!(accepts(&v, &t).await["sub"], alg);
    }
}

#[tokio::test]
async fn header_alg_none_is_refused_in_any_casing() {
    let v = validator(&[&RSA]).await;
    for alg in ["none", "None", "NONE", "nOnE"] {
        // Empty signature, with and without the kid of a real key.
        rejects(&v, &token().unsigned(alg), "unsupported algorithm").await;
        let with_kid = token().header("kid", RSA.kid()).unsigned(alg);
        rejects(&v, &with_kid, "unsupported algorithm").await;
        // A real signature under a `none` header changes nothing.
        let signed = token().header("alg", alg).sign_with(&RSA, "RS256");
        rejects(&v, &signed, "unsupported algorithm").await;
    }
}

#[tokio::test]
async fn header_hmac_is_refused_unless_a_secret_is_configured() {
    let secret = b"0123456789abcdef0123456789abcdef-shared";
    let v = validator(&[&RSA]).await;
    for alg in ["HS256", "HS384", "HS512"] {
        rejects(&v, &token().sign_hmac(secret, alg), "unsupported algorithm").await;
    }

    let with_secret = builder(&[&RSA])
        .hmac_secret(&secret[..])
        .build()
        .await
        .unwrap();
    for alg in ["HS256", "HS384", "HS512"] {
        let t = token().claim("sub", alg).sign_hmac(secret, alg);
        assert_eq!(accepts(&with_secret, &t).await["sub"], alg);
        let wrong = token().sign_hmac(b"another-secret-another-secret-0000", alg);
        rejects(&with_secret, &wrong, "invalid signature").await;
    }
    // JWKS keys keep working beside the secret.
    accepts(&with_secret, &token().sign(&RSA)).await;
}

#[tokio::test]
async fn header_hs256_signed_with_the_rsa_public_key_never_verifies() {
    let secret = b"0123456789abcdef0123456789abcdef-shared";
    let without = validator(&[&RSA]).await;
    let with = builder(&[&RSA])
        .hmac_secret(&secret[..])
        .build()
        .await
        .unwrap();
    let jwk = RSA.public_jwk();
    let public_forms: [Vec<u8>; 4] = [
        RSA.public_pem().into_bytes(),
        RSA.spki_der(),
        jwk.to_string().into_bytes(),
        oidc_bearer_testkit::b64url_decode(jwk["n"].as_str().unwrap()),
    ];
    for public in &public_forms {
        for alg in ["HS256", "HS384", "HS512"] {
            let confused = token().header("kid", RSA.kid()).sign_hmac(public, alg);
            rejects(&without, &confused, "unsupported algorithm").await;
            rejects(&with, &confused, "invalid signature").await;
        }
    }
}

#[tokio::test]
async fn header_alg_must_fit_the_key_type() {
    let v = validator(&[&RSA, &P256, &P384, &ED]).await;
    // RS256 header naming an EC key (signed with the RSA key).
    let t = token().header("kid", P256.kid()).sign_with(&RSA, "RS256");
    rejects(&v, &t, "algorithm does not match the key").await;
    // ES384 header on a P-256 key (signed by that key with ES256).
    let t = token().header("alg", "ES384").sign_with(&P256, "ES256");
    rejects(&v, &t, "algorithm does not match the key").await;
    // ES256 on P-384, EdDSA on RSA, PS256 on Ed25519.
    let t = token().header("alg", "ES256").sign_with(&P384, "ES384");
    rejects(&v, &t, "algorithm does not match the key").await;
    let t = token().header("kid", RSA.kid()).sign_with(&ED, "EdDSA");
    rejects(&v, &t, "algorithm does not match the key").await;
    let t = token().header("alg", "PS256").sign_with(&ED, "EdDSA");
    rejects(&v, &t, "algorithm does not match the key").await;
}

#[tokio::test]
async fn header_alg_must_fit_the_jwk_alg_when_stated() {
    let mut jwk = RSA.public_jwk();
    jwk["alg"] = json!("RS256");
    let v = Validator::builder()
        .issuer(ISS)
        .audience(AUD)
        .jwks_json(json!({ "keys": [jwk] }).to_string())
        .clock(ManualClock::new(NOW))
        .build()
        .await
        .unwrap();
    accepts(&v, &token().sign_with(&RSA, "RS256")).await;
    for alg in ["PS256", "RS384", "RS512", "PS512"] {
        // Correctly signed by the key, but with an algorithm its JWK rules out.
        let t = token().sign_with(&RSA, alg);
        rejects(&v, &t, "algorithm does not match the key").await;
    }
}

#[tokio::test]
async fn header_kid_selects_the_key() {
    let v = validator(&[&RSA, &RSA2]).await;
    accepts(&v, &with_claim("sub", "one")).await;
    accepts(&v, &token().claim("sub", "two").sign(&RSA2)).await;
    // Signed by rsa-2, naming rsa-1: the named key decides, and refuses.
    let t = token().header("kid", RSA.kid()).sign(&RSA2);
    rejects(&v, &t, "invalid signature").await;
    let t = token().header("kid", "nobody").sign(&RSA);
    rejects(&v, &t, "unknown key id").await;
}

#[tokio::test]
async fn header_without_kid_needs_exactly_one_usable_key_for_its_alg() {
    // Two RSA keys: a kid-less RS256 token is ambiguous, whoever signed it.
    let two_rsa = validator(&[&RSA, &RSA2]).await;
    let t = token().without_kid().sign(&RSA);
    rejects(&two_rsa, &t, "several keys").await;

    // One RSA and one EC key: each algorithm has exactly one candidate.
    let mixed = validator(&[&RSA, &P256]).await;
    let es = token().claim("sub", "ec").without_kid().sign(&P256);
    assert_eq!(accepts(&mixed, &es).await["sub"], "ec");
    let rs = token().claim("sub", "rsa").without_kid().sign(&RSA);
    assert_eq!(accepts(&mixed, &rs).await["sub"], "rsa");
    // No key for the algorithm at all.
    let ed = token().without_kid().sign(&ED);
    rejects(&mixed, &ed, "algorithm does not match the key").await;
}

#[tokio::test]
async fn header_key_pointers_are_never_used_as_key_source() {
    // The attacker serves their own JWKS; a validator that followed `jku`
    // or `x5u` would fetch it.
    let attacker_site = MockProvider::start().await;
    attacker_site.set("/jwks", Reply::jwks(&[&ATTACKER]));
    attacker_site.set(
        "/cert",
        Reply::raw(
            200,
            "application/pkix-cert",
            ATTACKER.self_signed_cert_der(),
        ),
    );
    let jku = attacker_site.url("/jwks");
    let x5u = attacker_site.url("/cert");

    let v = validator(&[&RSA]).await;
    let hostile = || {
        token()
            .header("jwk", ATTACKER.public_jwk())
            .header("x5c", json!([ATTACKER.x5c()]))
            .header("jku", jku.as_str())
            .header("x5u", x5u.as_str())
    };
    let cases = [
        // The attacker's own kid: not in the configured key set.
        (hostile().sign(&ATTACKER), "unknown key id"),
        // The trusted key's kid: its signature check fails.
        (
            hostile().header("kid", RSA.kid()).sign(&ATTACKER),
            "invalid signature",
        ),
        // No kid: the one configured key is used, and refuses.
        (hostile().without_kid().sign(&ATTACKER), "invalid signature"),
        // Each pointer alone.
        (
            token()
                .header("jwk", ATTACKER.public_jwk())
                .without_kid()
                .sign(&ATTACKER),
            "invalid signature",
        ),
        (
            token()
                .header("x5c", json!([ATTACKER.x5c()]))
                .without_kid()
                .sign(&ATTACKER),
            "invalid signature",
        ),
        (
            token()
                .header("jku", jku.as_str())
                .header("kid", RSA.kid())
                .sign(&ATTACKER),
            "invalid signature",
        ),
        (
            token()
                .header("x5u", x5u.as_str())
                .header("kid", RSA.kid())
                .sign(&ATTACKER),
            "invalid signature",
        ),
    ];
    for (t, rule) in &cases {
        rejects(&v, t, rule).await;
    }
    assert_eq!(attacker_site.total_hits(), 0, "a header URL was fetched");
    assert_eq!(v.keys().len(), 1);
    assert!(!v.keys().contains_kid(ATTACKER.kid()));
    // The same pointers on a token the trusted key signed change nothing.
    let t = hostile().sign(&RSA);
    accepts(&v, &t).await;
    assert_eq!(attacker_site.total_hits(), 0, "a header URL was fetched");
}

#[tokio::test]
async fn header_unknown_crit_is_refused() {
    let v = validator(&[&RSA]).await;
    for crit in [
        json!(["exp"]),
        json!(["urn:example:unknown"]),
        json!(["b64"]),
    ] {
        let t = token()
            .header("crit", crit)
            .header("exp", NOW + 60)
            .header("urn:example:unknown", true)
            .header("b64", true)
            .sign(&RSA);
        rejects(&v, &t, "unsupported critical header parameter").await;
    }
}

// ------------------------------------------------- 3. claims

#[tokio::test]
async fn claims_iss_must_match_exactly() {
    let v = validator(&[&RSA]).await;
    for bad in [
        format!("{ISS}/"),
        ISS.to_uppercase(),
        ISS.replace("https", "http"),
        format!(" {ISS}"),
    ] {
        rejects(&v, &with_claim("iss", bad), "invalid issuer").await;
    }
    rejects(
        &v,
        &token().remove_claim("iss").sign(&RSA),
        "missing required claim: iss",
    )
    .await;

    // Entra v1 issuers end in a slash, and keep it.
    let v1 = "https://sts.windows.net/8eaef023-2b34-4da1-9baa-8bc8c9d6a490/";
    let entra = Validator::builder()
        .issuer(v1)
        .audience(AUD)
        .jwks_json(jwks(&[&RSA]).to_string())
        .clock(ManualClock::new(NOW))
        .build()
        .await
        .unwrap();
    accepts(&entra, &with_claim("iss", v1)).await;
    let no_slash = with_claim("iss", v1.trim_end_matches('/'));
    rejects(&entra, &no_slash, "invalid issuer").await;
}

#[tokio::test]
async fn claims_aud_string_or_array_containing_a_configured_audience() {
    let v = Validator::builder()
        .issuer(ISS)
        .audience("api://orders")
        .audience("6f1c2a9e-client-id")
        .jwks_json(jwks(&[&RSA]).to_string())
        .clock(ManualClock::new(NOW))
        .build()
        .await
        .unwrap();
    for aud in [
        json!("api://orders"),
        json!("6f1c2a9e-client-id"),
        json!(["account", "6f1c2a9e-client-id"]),
        json!(["api://orders"]),
    ] {
        accepts(&v, &with_claim("aud", aud)).await;
    }
    for aud in [
        json!("account"),
        json!(["account", "broker"]),
        json!("api://orders/"),
        json!("API://ORDERS"),
    ] {
        rejects(&v, &with_claim("aud", aud), "invalid audience").await;
    }
    // Missing while an audience is configured; naming no one is the same.
    let t = token().remove_claim("aud").sign(&RSA);
    rejects(&v, &t, "missing required claim: aud").await;
    rejects(
        &v,
        &with_claim("aud", json!([])),
        "missing required claim: aud",
    )
    .await;
}

#[tokio::test]
async fn claims_insecure_skip_audience_accepts_any_or_no_aud() {
    let v = Validator::builder()
        .issuer(ISS)
        .insecure_skip_audience()
        .jwks_json(jwks(&[&RSA]).to_string())
        .clock(ManualClock::new(NOW))
        .build()
        .await
        .unwrap();
    accepts(&v, &token().remove_claim("aud").sign(&RSA)).await;
    accepts(&v, &with_claim("aud", "account")).await;
    accepts(&v, &with_claim("aud", json!(["x", "y"]))).await;
    // The other rules still apply.
    rejects(&v, &with_claim("exp", NOW - 3600), "token expired").await;

    // Without it, no audience is a configuration error at build().
    let error = Validator::builder()
        .issuer(ISS)
        .jwks_json(jwks(&[&RSA]).to_string())
        .build()
        .await
        .expect_err("built without an audience");
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(
        error.to_string().contains("insecure_skip_audience"),
        "{error}"
    );
}

#[tokio::test]
async fn claims_exp_is_required() {
    let v = validator(&[&RSA]).await;
    rejects(
        &v,
        &token().remove_claim("exp").sign(&RSA),
        "missing required claim: exp",
    )
    .await;
}

#[tokio::test]
async fn claims_exp_beyond_the_leeway_is_refused_within_it_accepted() {
    let clock = ManualClock::new(NOW);
    let v = builder(&[&RSA]).clock(clock.clone()).build().await.unwrap();
    let t = with_claim("exp", NOW + 10);
    accepts(&v, &t).await;
    // Past exp, inside the default 60 s leeway (also served from the cache).
    clock.set(NOW + 10 + 59);
    accepts(&v, &t).await;
    // Beyond the leeway: refused, even though the token was cached.
    clock.set(NOW + 10 + 61);
    rejects(&v, &t, "token expired").await;
    clock.set(NOW + 10 + 3600);
    rejects(&v, &t, "token expired").await;
    // A token that arrives already expired.
    clock.set(NOW);
    rejects(&v, &with_claim("exp", NOW - 61), "token expired").await;
    accepts(&v, &with_claim("exp", NOW - 59)).await;
}

#[tokio::test]
async fn claims_nbf_in_the_future_beyond_the_leeway_is_refused() {
    let clock = ManualClock::new(NOW);
    let v = builder(&[&RSA]).clock(clock.clone()).build().await.unwrap();
    accepts(&v, &with_claim("nbf", NOW + 59)).await;
    let later = with_claim("nbf", NOW + 120);
    rejects(&v, &later, "token not yet valid").await;
    // It becomes valid when the time comes.
    clock.set(NOW + 61);
    accepts(&v, &later).await;
}

#[tokio::test]
async fn claims_iat_in_the_future_beyond_the_leeway_is_refused() {
    let v = validator(&[&RSA]).await;
    accepts(&v, &with_claim("iat", NOW + 59)).await;
    rejects(
        &v,
        &with_claim("iat", NOW + 61),
        "token issued in the future",
    )
    .await;
    rejects(
        &v,
        &with_claim("iat", NOW + 86_400),
        "token issued in the future",
    )
    .await;
    // iat is optional.
    accepts(&v, &token().remove_claim("iat").sign(&RSA)).await;
}

#[tokio::test]
async fn claims_leeway_is_configurable() {
    let strict = builder(&[&RSA])
        .leeway(Duration::ZERO)
        .build()
        .await
        .unwrap();
    rejects(&strict, &with_claim("exp", NOW), "token expired").await;
    accepts(&strict, &with_claim("exp", NOW + 1)).await;
    rejects(&strict, &with_claim("nbf", NOW + 1), "token not yet valid").await;
    rejects(
        &strict,
        &with_claim("iat", NOW + 1),
        "token issued in the future",
    )
    .await;

    let lenient = builder(&[&RSA])
        .leeway(Duration::from_secs(300))
        .build()
        .await
        .unwrap();
    accepts(&lenient, &with_claim("exp", NOW - 250)).await;
    accepts(&lenient, &with_claim("nbf", NOW + 250)).await;
    accepts(&lenient, &with_claim("iat", NOW + 250)).await;
    rejects(&lenient, &with_claim("exp", NOW - 301), "token expired").await;
}

#[tokio::test]
async fn claims_float_numeric_dates_are_accepted() {
    let clock = ManualClock::new(NOW);
    let v = builder(&[&RSA]).clock(clock.clone()).build().await.unwrap();
    let t = token()
        .claim("exp", 1718719921.5)
        .claim("iat", (NOW as f64) + 0.25)
        .claim("nbf", (NOW as f64) - 4.75)
        .sign(&RSA);
    accepts(&v, &t).await;
    // The float exp is still enforced.
    clock.set(1718719921 + 61);
    rejects(&v, &t, "token expired").await;
}

#[tokio::test]
async fn claims_numeric_dates_of_the_wrong_type_are_refused() {
    let v = validator(&[&RSA]).await;
    for (claim, value) in [
        ("exp", json!((NOW + 3600).to_string())),
        ("exp", json!(null)),
        ("exp", json!(true)),
        ("exp", json!(1e300)),
        ("nbf", json!("yesterday")),
        ("iat", json!([NOW])),
    ] {
        let t = token().claim(claim, value).sign(&RSA);
        // The description names the claim, never its value.
        rejects(&v, &t, &format!("invalid claim: {claim}")).await;
    }
    let t = with_claim("aud", 5);
    rejects(&v, &t, "invalid claim: aud").await;
    let t = with_claim("iss", json!({"x": 1}));
    rejects(&v, &t, "invalid claim: iss").await;
}

#[tokio::test]
async fn claims_require_type_at_jwt() {
    let v = builder(&[&RSA])
        .require_type("at+jwt")
        .build()
        .await
        .unwrap();
    for typ in [
        "at+jwt",
        "application/at+jwt",
        "AT+JWT",
        "Application/At+Jwt",
    ] {
        accepts(&v, &token().header("typ", typ).sign(&RSA)).await;
    }
    for typ in ["JWT", "jwt", "at+jwt2", "application/jwt"] {
        rejects(
            &v,
            &token().header("typ", typ).sign(&RSA),
            "invalid token type",
        )
        .await;
    }
    rejects(
        &v,
        &token().remove_header("typ").sign(&RSA),
        "invalid token type",
    )
    .await;
    // Without the requirement, Entra's `typ: JWT` passes.
    accepts(
        &validator(&[&RSA]).await,
        &token().header("typ", "JWT").sign(&RSA),
    )
    .await;
}

#[tokio::test]
async fn claims_required_claims_must_be_present() {
    let v = builder(&[&RSA])
        .require_claims(["sub", "client_id", "jti"])
        .build()
        .await
        .unwrap();
    let complete = token().claim("client_id", "spa").claim("jti", "j-1");
    accepts(&v, &complete.clone().sign(&RSA)).await;
    // Any value counts as present.
    accepts(&v, &complete.clone().claim("jti", json!(null)).sign(&RSA)).await;
    rejects(
        &v,
        &complete.clone().remove_claim("client_id").sign(&RSA),
        "missing required claim: client_id",
    )
    .await;
    rejects(
        &v,
        &complete.clone().remove_claim("jti").sign(&RSA),
        "missing required claim: jti",
    )
    .await;
}

#[tokio::test]
async fn claims_custom_rule_refuses_with_its_reason() {
    let seen_by_rule = Arc::new(AtomicUsize::new(0));
    let counter = seen_by_rule.clone();
    let v = builder(&[&RSA])
        .rule(move |claims| {
            counter.fetch_add(1, Ordering::SeqCst);
            match claims["tid"].as_str() {
                Some("tenant-a") | Some("tenant-b") => Ok(()),
                _ => Err("tenant not allowed".to_owned()),
            }
        })
        .rule(|claims| {
            let scopes = claims["scope"].as_str().unwrap_or_default();
            if scopes.split(' ').any(|s| s == "read") {
                Ok(())
            } else {
                Err("scope read required".to_owned())
            }
        })
        .build()
        .await
        .unwrap();
    accepts(&v, &with_claim("tid", "tenant-a")).await;
    let t = with_claim("tid", "tenant-x");
    rejects(&v, &t, "token rejected: tenant not allowed").await;
    rejects(&v, &token().sign(&RSA), "tenant not allowed").await;
    let t = token()
        .claim("tid", "tenant-b")
        .claim("scope", "write")
        .sign(&RSA);
    rejects(&v, &t, "token rejected: scope read required").await;

    // Rules only ever see verified tokens: forged, expired or misdirected
    // tokens are refused before any rule runs.
    let before = seen_by_rule.load(Ordering::SeqCst);
    let forged = token()
        .claim("tid", "tenant-a")
        .header("kid", RSA.kid())
        .sign(&ATTACKER);
    rejects(&v, &forged, "invalid signature").await;
    let expired = token()
        .claim("tid", "tenant-a")
        .claim("exp", NOW - 3600)
        .sign(&RSA);
    rejects(&v, &expired, "token expired").await;
    assert_eq!(seen_by_rule.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn claims_that_do_not_fit_the_user_type_are_refused_clearly() {
    let v = validator(&[&RSA]).await;
    // Valid for `User`, but `Strict` needs `tenant_number`.
    let t = token().sign(&RSA);
    accepts(&v, &t).await;
    rejects_as::<Strict>(&v, &t, "claims do not match the expected shape").await;
    // Wrong type for a field.
    let t = with_claim("tenant_number", "seven");
    rejects_as::<Strict>(&v, &t, "claims do not match the expected shape").await;
    let t = with_claim("sub", 42);
    rejects(&v, &t, "claims do not match the expected shape").await;
    // And it fits once the token has the claim.
    let t = with_claim("tenant_number", 7);
    let claims = v.verify::<Strict>(&t).await.unwrap();
    assert_eq!(claims.tenant_number, 7);
}

// ------------------------------------------------- 6. layer

#[tokio::test]
async fn layer_exactly_one_authorization_header() {
    let v = validator(&[&RSA]).await;
    let (app, calls) = app_with(v.layer::<User>());
    let good = bearer(&token().sign(&RSA));
    let seen = send(&app, &[&good, &good]).await;
    assert_refused(
        &seen,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "more than one Authorization header",
    );
    let seen = send(&app, &[&good, "Basic dXNlcjpwYXNz"]).await;
    assert_refused(
        &seen,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "more than one Authorization header",
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(send(&app, &[&good]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn layer_bearer_scheme_is_case_insensitive() {
    let v = validator(&[&RSA]).await;
    let (app, calls) = app_with(v.layer::<User>());
    let t = token().sign(&RSA);
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let seen = send(&app, &[&format!("{scheme} {t}")]).await;
        assert_eq!(
            seen.status,
            StatusCode::OK,
            "{scheme}: {:?}",
            seen.challenge()
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn layer_token_must_be_token68() {
    let v = validator(&[&RSA]).await;
    let (app, calls) = app_with(v.layer::<User>());
    let t = token().sign(&RSA);
    let (h, p, s) = split3(&t);
    for value in [
        format!("Bearer {h}.{p} .{s}"),
        format!("Bearer {h} {p}.{s}"),
        format!("Bearer {h}.{p}.{s}\"x"),
        format!("Bearer {h}.{p}.{s},x"),
        format!("Bearer {h}=.{p}.{s}"),
        format!("Bearer {h}.{p}.{s}==x"),
        format!("Bearer {h}.{p}.{s};"),
        "Bearer ===".to_owned(),
    ] {
        let seen = send(&app, &[&value]).await;
        assert_refused(&seen, StatusCode::BAD_REQUEST, "invalid_request", "token68");
    }
    for value in ["Bearer", "Bearer "] {
        let seen = send(&app, &[value]).await;
        assert_refused(
            &seen,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "without a token",
        );
    }
    // Bytes outside visible ASCII.
    let mut request = Request::builder().uri("/me").body(Body::empty()).unwrap();
    request.headers_mut().insert(
        AUTHORIZATION,
        HeaderValue::from_bytes(b"Bearer \xffabc").unwrap(),
    );
    let seen = send_request(&app, request).await;
    assert_refused(
        &seen,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "visible ASCII",
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn layer_other_schemes_get_a_bare_challenge() {
    let v = validator(&[&RSA]).await;
    let (app, calls) = app_with(v.layer::<User>());
    for value in [
        "Basic dXNlcjpwYXNz",
        "Digest username=\"x\"",
        "DPoP abc.def.ghi",
        "Bearertoken",
    ] {
        let seen = send(&app, &[value]).await;
        assert_eq!(seen.status, StatusCode::UNAUTHORIZED, "{value}");
        assert_eq!(seen.challenge(), Some("Bearer"), "{value}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn layer_no_credentials_gets_a_bare_challenge_without_error() {
    let v = validator(&[&RSA]).await;
    let (app, calls) = app_with(v.layer::<User>());
    let seen = send(&app, &[]).await;
    assert_eq!(seen.status, StatusCode::UNAUTHORIZED);
    assert_eq!(seen.challenge(), Some("Bearer"));
    assert_eq!(seen.param("error"), None);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn layer_realm_appears_in_every_challenge() {
    let v = validator(&[&RSA]).await;
    let (app, _calls) = app_with(v.layer::<User>().realm("orders"));
    assert_eq!(
        send(&app, &[]).await.challenge(),
        Some(r#"Bearer realm="orders""#)
    );
    assert_eq!(
        send(&app, &["Basic dXNlcjpwYXNz"]).await.challenge(),
        Some(r#"Bearer realm="orders""#)
    );
    let expired = with_claim("exp", NOW - 3600);
    let seen = send(&app, &[&bearer(&expired)]).await;
    assert_eq!(
        seen.challenge(),
        Some(r#"Bearer realm="orders", error="invalid_token", error_description="token expired""#)
    );
    let seen = send(&app, &["Bearer a b"]).await;
    assert_eq!(seen.param("realm").as_deref(), Some("orders"));
    assert_eq!(seen.param("error").as_deref(), Some("invalid_request"));
    // A realm with characters a quoted-string cannot hold is cleaned.
    let (app, _calls) = app_with(v.layer::<User>().realm("my \"api\" \\ ü"));
    let seen = send(&app, &[]).await;
    let realm = seen.param("realm").unwrap();
    assert!(realm.starts_with("my api"), "{realm:?}");
    assert_rfc6750_chars(&realm);
}

#[tokio::test]
async fn layer_error_description_only_uses_rfc6750_characters() {
    let v = builder(&[&RSA])
        .rule(|_| Err("tenant \"evil\" \\ not allowed – ünïcødé\r\nX-Injected: 1".to_owned()))
        .build()
        .await
        .unwrap();
    let (app, calls) = app_with(v.layer::<User>().realm("orders"));
    let seen = send(&app, &[&bearer(&token().sign(&RSA))]).await;
    assert_refused(
        &seen,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "token rejected: tenant evil",
    );
    let description = seen.param("error_description").unwrap();
    assert!(description.contains("not allowed"), "{description:?}");
    assert!(
        !description.contains(['"', '\\', '\r', '\n']),
        "{description:?}"
    );
    assert!(description.is_ascii(), "{description:?}");
    assert_eq!(seen.headers.get_all(WWW_AUTHENTICATE).iter().count(), 1);
    assert!(seen.headers.get("x-injected").is_none());
    // The whole challenge still parses as three parameters.
    assert_eq!(params(seen.challenge().unwrap()).len(), 3);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn layer_rejected_requests_never_reach_the_inner_service() {
    let v = validator(&[&RSA]).await;
    let (app, calls) = app_with(v.layer::<User>());
    let good = bearer(&token().sign(&RSA));
    let refused: Vec<Vec<String>> = vec![
        vec![],
        vec!["Basic dXNlcjpwYXNz".into()],
        vec!["Bearer".into()],
        vec!["Bearer a b".into()],
        vec![good.clone(), good.clone()],
        vec![bearer("abc.def.ghi")],
        vec![bearer(&with_claim("exp", NOW - 3600))],
        vec![bearer(&token().sign(&ATTACKER))],
        vec![bearer(&token().unsigned("none"))],
    ];
    for headers in &refused {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        let seen = send(&app, &headers).await;
        assert!(
            seen.status.is_client_error(),
            "{headers:?}: {}",
            seen.status
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(send(&app, &[&good]).await.status, StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn layer_rejection_body_is_replaceable_and_keeps_status_and_headers() {
    let v = validator(&[&RSA]).await;
    let expired = bearer(&with_claim("exp", NOW - 3600));
    let handler = get(|claims: Claims<User>| async move { claims.sub.clone() });

    // ProblemJson.
    let app = Router::new()
        .route("/me", handler.clone())
        .layer(v.layer::<User>().realm("orders").on_rejection(ProblemJson));
    let seen = send(&app, &[&expired]).await;
    assert_eq!(
        seen.challenge(),
        Some(r#"Bearer realm="orders", error="invalid_token", error_description="token expired""#)
    );
    assert_eq!(seen.headers[CONTENT_TYPE], "application/problem+json");
    let body: Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(body["status"], 401);
    assert_eq!(body["title"], "Unauthorized");
    assert_eq!(body["detail"], "token expired");
    let seen = send(&app, &["Bearer a b"]).await;
    assert_eq!(seen.status, StatusCode::BAD_REQUEST);
    assert_eq!(seen.param("error").as_deref(), Some("invalid_request"));
    assert_eq!(
        serde_json::from_str::<Value>(&seen.body).unwrap()["status"],
        400
    );
    let seen = send(&app, &[]).await;
    assert_eq!(seen.challenge(), Some(r#"Bearer realm="orders""#));

    // A closure.
    let app =
        Router::new()
            .route("/me", handler)
            .layer(v.layer::<User>().realm("orders").on_rejection(
                |error: &Error, parts: http::response::Parts| {
                    Response::from_parts(
                        parts,
                        Body::from(format!(
                            "refused ({:?}): {}",
                            error.kind(),
                            error.description()
                        )),
                    )
                },
            ));
    let seen = send(&app, &[&expired]).await;
    assert_refused(
        &seen,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "token expired",
    );
    assert_eq!(seen.body, "refused (InvalidToken): token expired");
    let seen = send(&app, &[&bearer("a"), &bearer("b")]).await;
    assert_refused(
        &seen,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "more than one",
    );
    assert!(
        seen.body.starts_with("refused (InvalidRequest)"),
        "{}",
        seen.body
    );
    let seen = send(&app, &[]).await;
    assert_eq!(seen.status, StatusCode::UNAUTHORIZED);
    assert_eq!(seen.challenge(), Some(r#"Bearer realm="orders""#));
    assert_eq!(
        seen.body,
        "refused (MissingToken): no bearer token in the request"
    );
    let ok = send(&app, &[&bearer(&token().sign(&RSA))]).await;
    assert_eq!((ok.status, ok.body.as_str()), (StatusCode::OK, "user-1"));
}

#[tokio::test]
async fn layer_allow_anonymous_lets_requests_without_credentials_through() {
    let v = validator(&[&RSA]).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = Router::new()
        .route(
            "/me",
            get(move |claims: Option<Claims<User>>| async move {
                counter.fetch_add(1, Ordering::SeqCst);
                match claims {
                    Some(claims) => format!("user {}", claims.sub),
                    None => "anonymous".to_owned(),
                }
            }),
        )
        .layer(v.layer::<User>().allow_anonymous());

    let seen = send(&app, &[]).await;
    assert_eq!(
        (seen.status, seen.body.as_str()),
        (StatusCode::OK, "anonymous")
    );
    let seen = send(&app, &[&bearer(&with_claim("sub", "alice"))]).await;
    assert_eq!(
        (seen.status, seen.body.as_str()),
        (StatusCode::OK, "user alice")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // A token that is present but bad is still refused.
    let seen = send(&app, &[&bearer(&with_claim("exp", NOW - 3600))]).await;
    assert_refused(
        &seen,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "token expired",
    );
    let seen = send(&app, &[&bearer(&token().sign(&ATTACKER))]).await;
    assert_refused(
        &seen,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "unknown key id",
    );
    let seen = send(&app, &["Bearer a b"]).await;
    assert_refused(&seen, StatusCode::BAD_REQUEST, "invalid_request", "token68");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn layer_is_generic_over_bodies_plain_tower_service() {
    let v = validator(&[&RSA]).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let inner = tower::service_fn(move |request: http::Request<String>| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let claims = Claims::<User>::from_extensions(request.extensions())
                .expect("the layer put the claims into the extensions");
            Ok::<_, Infallible>(http::Response::new(format!(
                "{} says {}",
                claims.sub,
                request.body()
            )))
        }
    });
    let service = v.layer::<User>().layer(inner);
    let request = |authorization: Option<String>| {
        let mut r = http::Request::builder().uri("/echo");
        if let Some(a) = authorization {
            r = r.header(AUTHORIZATION, a);
        }
        r.body("hello".to_owned()).unwrap()
    };

    let ok = service
        .clone()
        .oneshot(request(Some(bearer(&with_claim("sub", "bob")))))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.body(), "bob says hello");

    let refused = service
        .clone()
        .oneshot(request(Some(bearer(&with_claim("aud", "other")))))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.headers()[WWW_AUTHENTICATE],
        r#"Bearer error="invalid_token", error_description="invalid audience""#
    );
    assert_eq!(refused.body(), "");
    let missing = service.clone().oneshot(request(None)).await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(missing.headers()[WWW_AUTHENTICATE], "Bearer");
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // ProblemJson works with any body that is `From<String>`.
    let problem = v
        .layer::<User>()
        .on_rejection(ProblemJson)
        .layer(tower::service_fn(|_: http::Request<String>| async {
            Ok::<_, Infallible>(http::Response::new(String::new()))
        }));
    let refused = problem.oneshot(request(None)).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        serde_json::from_str::<Value>(refused.body()).unwrap()["status"],
        401
    );
}

#[tokio::test]
async fn layer_puts_the_claims_into_request_extensions() {
    let v = validator(&[&RSA]).await;
    let app = Router::new()
        .route(
            "/me",
            get(|request: Request| async move {
                let claims = Claims::<User>::from_extensions(request.extensions());
                let other = Claims::<Strict>::from_extensions(request.extensions());
                format!(
                    "{:?} {:?}",
                    claims.map(|c| c.sub.clone()),
                    other.map(|c| c.tenant_number)
                )
            }),
        )
        .layer(v.layer::<User>());
    let seen = send(&app, &[&bearer(&with_claim("sub", "carol"))]).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(seen.body, r#"Some("carol") None"#);
}

// ------------------------------------------------- 7. axum extractors

#[tokio::test]
async fn extract_claims_and_optional_claims() {
    let v = validator(&[&RSA]).await;
    let app = Router::new()
        .route(
            "/me",
            get(|claims: Claims<User>| async move { claims.sub.clone() }),
        )
        .route(
            "/maybe",
            get(|claims: Option<Claims<User>>| async move {
                claims.map_or("none".to_owned(), |c| format!("some {}", c.sub))
            }),
        )
        .layer(v.layer::<User>());
    let t = bearer(&with_claim("sub", "dave"));
    let seen = send(&app, &[&t]).await;
    assert_eq!((seen.status, seen.body.as_str()), (StatusCode::OK, "dave"));
    let request = Request::builder()
        .uri("/maybe")
        .header(AUTHORIZATION, &t)
        .body(Body::empty())
        .unwrap();
    let seen = send_request(&app, request).await;
    assert_eq!(
        (seen.status, seen.body.as_str()),
        (StatusCode::OK, "some dave")
    );
    // Without allow_anonymous, the layer refuses before the extractor runs.
    let request = Request::builder()
        .uri("/maybe")
        .body(Body::empty())
        .unwrap();
    let seen = send_request(&app, request).await;
    assert_eq!(seen.status, StatusCode::UNAUTHORIZED);
    assert_eq!(seen.challenge(), Some("Bearer"));
}

#[tokio::test]
async fn extract_claims_without_the_layer_is_500_saying_to_add_it() {
    let app = Router::new()
        .route(
            "/me",
            get(|claims: Claims<User>| async move { claims.sub.clone() }),
        )
        .route(
            "/maybe",
            get(|claims: Option<Claims<User>>| async move { format!("{}", claims.is_some()) }),
        );
    let t = bearer(&token().sign(&RSA));
    let seen = send(&app, &[&t]).await;
    assert_eq!(seen.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        seen.body.contains("add .route_layer(validator.layer::<"),
        "{}",
        seen.body
    );
    assert!(seen.body.contains("User"), "{}", seen.body);
    let request = Request::builder()
        .uri("/maybe")
        .header(AUTHORIZATION, &t)
        .body(Body::empty())
        .unwrap();
    let seen = send_request(&app, request).await;
    assert_eq!(seen.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(seen.body.contains("oidc-bearer layer"), "{}", seen.body);
}

#[tokio::test]
async fn extract_required_claims_on_an_anonymous_request_is_401() {
    let v = validator(&[&RSA]).await;
    let app = Router::new()
        .route(
            "/me",
            get(|claims: Claims<User>| async move { claims.sub.clone() }),
        )
        .route(
            "/maybe",
            get(|claims: Option<Claims<User>>| async move { format!("{}", claims.is_some()) }),
        )
        .layer(v.layer::<User>().realm("orders").allow_anonymous());
    // An anonymous request on a route that needs claims: the client must
    // authenticate (401 and the layer's challenge), not a server error.
    let seen = send(&app, &[]).await;
    assert_eq!(seen.status, StatusCode::UNAUTHORIZED, "{}", seen.body);
    assert_eq!(seen.challenge(), Some(r#"Bearer realm="orders""#));
    let request = Request::builder()
        .uri("/maybe")
        .body(Body::empty())
        .unwrap();
    let seen = send_request(&app, request).await;
    assert_eq!((seen.status, seen.body.as_str()), (StatusCode::OK, "false"));
    let seen = send(&app, &[&bearer(&token().sign(&RSA))]).await;
    assert_eq!(
        (seen.status, seen.body.as_str()),
        (StatusCode::OK, "user-1")
    );
}

#[tokio::test]
async fn extract_claims_of_another_type_than_the_layer_is_500() {
    let v = validator(&[&RSA]).await;
    let app = Router::new()
        .route(
            "/me",
            get(|claims: Claims<Strict>| async move { claims.tenant_number.to_string() }),
        )
        .layer(v.layer::<User>());
    let seen = send(&app, &[&bearer(&with_claim("tenant_number", 3))]).await;
    assert_eq!(seen.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(seen.body.contains("Strict"), "{}", seen.body);
    assert!(seen.body.contains("another claims type"), "{}", seen.body);
}

// ------------------------------------------------- 8. errors

#[test]
fn errors_kind_status_and_challenge_mapping() {
    let fetch = Error::Fetch {
        url: "https://idp.internal:8443/certs".into(),
        reason: "connection refused".into(),
    };
    let cases: Vec<(Error, ErrorKind, u16, Option<&str>)> = vec![
        (Error::MissingToken, ErrorKind::MissingToken, 401, None),
        (
            Error::InvalidRequest("malformed Authorization header: bearer token is not token68"),
            ErrorKind::InvalidRequest,
            400,
            Some("invalid_request"),
        ),
        (
            Error::TokenTooLarge,
            ErrorKind::InvalidToken,
            401,
            Some("invalid_token"),
        ),
        (
            Error::MalformedToken("x"),
            ErrorKind::InvalidToken,
            401,
            Some("invalid_token"),
        ),
        (
            Error::UnsupportedAlgorithm,
            ErrorKind::InvalidToken,
            401,
            Some("invalid_token"),
        ),
        (
            Error::UnknownKey,
            ErrorKind::InvalidToken,
            401,
            Some("invalid_token"),
        ),
        (
            Error::InvalidSignature,
            ErrorKind::InvalidToken,
            401,
            Some("invalid_token"),
        ),
        (
            Error::Expired,
            ErrorKind::InvalidToken,
            401,
            Some("invalid_token"),
        ),
        (
            Error::InvalidAudience,
            ErrorKind::InvalidToken,
            401,
            Some("invalid_token"),
        ),
        (
            Error::MissingClaim("exp".into()),
            ErrorKind::InvalidToken,
            401,
            Some("invalid_token"),
        ),
        (
            Error::ClaimsType,
            ErrorKind::InvalidToken,
            401,
            Some("invalid_token"),
        ),
        (
            Error::RuleFailed("no".into()),
            ErrorKind::InvalidToken,
            401,
            Some("invalid_token"),
        ),
        (
            // Roles only: no `scope` attribute, so the generic shape below.
            Error::InsufficientScope {
                required: "role admin".into(),
                scope: None,
            },
            ErrorKind::InsufficientScope,
            403,
            Some("insufficient_scope"),
        ),
        (
            Error::KeysUnavailable {
                reason: "fetching https://idp.internal/certs failed".into(),
                retry_after_secs: 10,
            },
            ErrorKind::Unavailable,
            503,
            None,
        ),
        (fetch, ErrorKind::Config, 500, None),
        (
            Error::InvalidKey("n is not base64url".into()),
            ErrorKind::Config,
            500,
            None,
        ),
        (
            Error::Config("no issuer".into()),
            ErrorKind::Config,
            500,
            None,
        ),
        (
            Error::Misplaced("AuthorizeLayer found no Claims<User>".into()),
            ErrorKind::Misplaced,
            500,
            None,
        ),
    ];
    for (error, kind, status, code) in &cases {
        assert_eq!(error.kind(), *kind, "{error}");
        assert_eq!(error.status().as_u16(), *status, "{error}");
        assert_eq!(error.error_code(), *code, "{error}");
        let challenge = error.www_authenticate(None);
        let with_realm = error.www_authenticate(Some("api"));
        match kind {
            ErrorKind::MissingToken => {
                assert_eq!(challenge.unwrap(), "Bearer");
                assert_eq!(with_realm.unwrap(), r#"Bearer realm="api""#);
            }
            ErrorKind::Unavailable | ErrorKind::Config | ErrorKind::Misplaced => {
                assert!(challenge.is_none() && with_realm.is_none(), "{error}");
            }
            _ => {
                let expected = format!(
                    r#"error="{}", error_description="{}""#,
                    code.unwrap(),
                    error.description()
                );
                assert_eq!(challenge.unwrap(), format!("Bearer {expected}").as_str());
                assert_eq!(
                    with_realm.unwrap(),
                    format!(r#"Bearer realm="api", {expected}"#).as_str()
                );
            }
        }
    }
    assert_eq!(
        Error::InsufficientScope {
            required: "scope orders.write".into(),
            scope: Some("orders.write".into()),
        }
        .www_authenticate(None)
        .unwrap(),
        r#"Bearer error="insufficient_scope", error_description="insufficient scope: scope orders.write required", scope="orders.write""#
    );
    assert_eq!(Error::Expired.description(), "token expired");
}

#[tokio::test]
async fn errors_from_real_operations_have_the_right_kind() {
    let v = validator(&[&RSA]).await;
    let expired = v
        .verify::<User>(&with_claim("exp", NOW - 3600))
        .await
        .unwrap_err();
    assert!(matches!(expired, Error::Expired), "{expired:?}");
    assert_eq!(expired.kind(), ErrorKind::InvalidToken);
    let unknown = v.try_verify::<User>(&token().sign(&ATTACKER)).unwrap_err();
    assert!(matches!(unknown, Error::UnknownKey), "{unknown:?}");
    let garbage = v.try_verify::<User>("not a token").unwrap_err();
    assert!(matches!(garbage, Error::MalformedToken(_)), "{garbage:?}");

    let no_issuer = Validator::builder()
        .audience(AUD)
        .jwks_json(jwks(&[&RSA]).to_string())
        .build()
        .await
        .unwrap_err();
    assert_eq!(no_issuer.kind(), ErrorKind::Config);
    assert!(no_issuer.to_string().contains(".issuer("), "{no_issuer}");
    let not_https = Validator::builder()
        .issuer(ISS)
        .audience(AUD)
        .jwks_url("http://idp.example.com/certs")
        .build()
        .await
        .unwrap_err();
    assert_eq!(not_https.kind(), ErrorKind::Config, "{not_https}");
}

fn assert_retry_after_within(seen: &Seen, range: std::ops::RangeInclusive<u64>) {
    let value = seen.headers[RETRY_AFTER].to_str().unwrap();
    let seconds: u64 = value.parse().expect("Retry-After in delay-seconds");
    assert!(range.contains(&seconds), "Retry-After: {value}");
}

#[tokio::test]
async fn errors_keys_unavailable_is_503_with_retry_after() {
    let provider = MockProvider::start().await;
    provider.set("/certs", Reply::status(500));

    // Without start_without_keys, build() fails and says so.
    let error = Validator::builder()
        .issuer(ISS)
        .audience(AUD)
        .jwks_url(provider.url("/certs"))
        .build()
        .await
        .expect_err("built without keys");
    assert_eq!(error.kind(), ErrorKind::Config, "{error}");

    let v = Validator::builder()
        .issuer(ISS)
        .audience(AUD)
        .jwks_url(provider.url("/certs"))
        .clock(ManualClock::new(NOW))
        .retry_backoff(Duration::from_secs(5), Duration::from_secs(30))
        .start_without_keys()
        .build()
        .await
        .expect("start_without_keys starts while the provider fails");
    assert!(provider.hits("/certs") >= 2);
    let t = token().sign(&RSA);

    let (app, calls) = app_with(v.layer::<User>().realm("orders"));
    let seen = send(&app, &[&bearer(&t)]).await;
    assert_eq!(seen.status, StatusCode::SERVICE_UNAVAILABLE);
    // When the refresh task tries again: the 5 s (±10 %) backoff, rounded up.
    assert_retry_after_within(&seen, 1..=6);
    assert!(
        seen.challenge().is_none(),
        "503 is not a credentials problem"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // Requests without a token still get the normal challenge.
    assert_eq!(
        send(&app, &[]).await.challenge(),
        Some(r#"Bearer realm="orders""#)
    );

    let error = v.verify::<User>(&t).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        !error.description().contains("127.0.0.1"),
        "{}",
        error.description()
    );
    assert_eq!(
        v.try_verify::<User>(&t).unwrap_err().kind(),
        ErrorKind::Unavailable
    );

    // ProblemJson keeps Retry-After.
    let app = Router::new()
        .route("/me", get(|c: Claims<User>| async move { c.sub.clone() }))
        .layer(v.layer::<User>().on_rejection(ProblemJson));
    let seen = send(&app, &[&bearer(&t)]).await;
    assert_eq!(seen.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_retry_after_within(&seen, 1..=6);
    let body: Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(body["detail"], "signing keys are not available");
}

#[tokio::test]
async fn errors_descriptions_never_contain_the_token_or_key_material() {
    let v = builder(&[&RSA])
        .require_type("at+jwt")
        .build()
        .await
        .unwrap();
    let secret_sub = "sub-value-that-must-not-leak";
    let base = || token().claim("sub", secret_sub).header("typ", "at+jwt");
    let valid = base().sign(&RSA);
    let (h, p, s) = split3(&valid);
    let tokens = [
        base().claim("exp", NOW - 3600).sign(&RSA),
        base()
            .claim("aud", "aud-value-that-must-not-leak")
            .sign(&RSA),
        base()
            .claim("iss", "iss-value-that-must-not-leak")
            .sign(&RSA),
        base()
            .claim("exp", "exp-value-that-must-not-leak")
            .sign(&RSA),
        base()
            .header("typ", "typ-value-that-must-not-leak")
            .sign(&RSA),
        base()
            .header("kid", "kid-value-that-must-not-leak")
            .sign(&RSA),
        base()
            .header("alg", "alg-value-that-must-not-leak")
            .sign_with(&RSA, "RS256"),
        format!("{h}.{p}.{}", &s[..s.len() - 4]),
        format!("{h}.{}.{s}", base().claim("sub", "x").encoded_claims()),
        format!("{h}.{p}.{s}.{s}.{s}"),
        base().sign(&ATTACKER),
    ];
    let n = RSA.public_jwk()["n"].as_str().unwrap().to_owned();
    let pem_line = RSA.public_pem().lines().nth(1).unwrap().to_owned();
    for t in &tokens {
        let (app, _) = app_with(v.layer::<User>());
        let seen = send(&app, &[&bearer(t)]).await;
        let problem = Router::new()
            .route("/me", get(|c: Claims<User>| async move { c.sub.clone() }))
            .layer(v.layer::<User>().on_rejection(ProblemJson));
        let problem = send(&problem, &[&bearer(t)]).await;
        let error = v.verify::<User>(t).await.unwrap_err();
        for shown in [
            seen.challenge().unwrap().to_owned(),
            problem.body.clone(),
            error.description(),
            error.to_string(),
        ] {
            assert!(
                !shown.contains("must-not-leak"),
                "leaks a token value: {shown}"
            );
            assert!(!shown.contains(secret_sub), "leaks a claim: {shown}");
            for part in t.split('.').filter(|p| p.len() >= 12) {
                assert!(!shown.contains(&part[..12]), "leaks the token: {shown}");
            }
            assert!(!shown.contains(&n[..16]), "leaks the key: {shown}");
            assert!(!shown.contains(&pem_line[..16]), "leaks the key: {shown}");
        }
    }
    // Internal details of key loading stay out of responses.
    for error in [
        Error::KeysUnavailable {
            reason: "fetching https://idp.internal/certs failed: 500".into(),
            retry_after_secs: 10,
        },
        Error::Fetch {
            url: "https://idp.internal/certs".into(),
            reason: "tls".into(),
        },
        Error::InvalidKey(format!("RSA key {n} rejected")),
    ] {
        let d = error.description();
        assert!(!d.contains("idp.internal") && !d.contains(&n[..16]), "{d}");
    }
}

// ------------------------------------------------- without tower

#[tokio::test]
async fn verify_works_without_tower() {
    let v = validator(&[&RSA, &ED]).await;
    let claims = v
        .verify::<User>(&token().claim("sub", "eve").sign(&ED))
        .await
        .unwrap();
    assert_eq!(claims.sub, "eve");
    let standard = v
        .verify::<oidc_bearer::StandardClaims>(&with_claim("exp", 1718719921.5))
        .await
        .unwrap();
    assert_eq!(standard.exp, Some(1718719921));
    assert_eq!(standard.aud, vec![AUD.to_owned()]);
    assert!(standard.has_scope("write"));
    let error = v
        .verify::<User>(&with_claim("aud", "other"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidAudience), "{error:?}");
}

#[test]
fn try_verify_works_outside_any_runtime() {
    let v = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(validator(&[&RSA]));
    assert!(tokio::runtime::Handle::try_current().is_err());
    let claims = v.try_verify::<User>(&with_claim("sub", "frank")).unwrap();
    assert_eq!(claims.sub, "frank");
    let expired = v
        .try_verify::<User>(&with_claim("exp", NOW - 3600))
        .unwrap_err();
    assert!(matches!(expired, Error::Expired), "{expired:?}");
    let unknown = v.try_verify::<User>(&token().sign(&ATTACKER)).unwrap_err();
    assert!(matches!(unknown, Error::UnknownKey), "{unknown:?}");
}

/// Counts how often the application's claims type is deserialized.
static WATCHED_BUILT: AtomicUsize = AtomicUsize::new(0);

/// A claims type whose construction is observable.
#[derive(Debug, Serialize)]
struct Watched {
    sub: String,
}

impl<'de> Deserialize<'de> for Watched {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            sub: String,
        }
        WATCHED_BUILT.fetch_add(1, Ordering::SeqCst);
        Raw::deserialize(d).map(|raw| Watched { sub: raw.sub })
    }
}

#[tokio::test]
async fn claims_type_is_never_built_from_an_unverified_payload() {
    let v = builder(&[&RSA]).token_cache_size(0).build().await.unwrap();
    let forged = token()
        .claim("sub", "mallory")
        .sign_with(&ATTACKER, "RS256");
    let forged = {
        // The attacker's signature under the real key's kid.
        let (h, p, s) = split3(&forged);
        let header = oidc_bearer_testkit::decode_segment(h);
        let mut header = header.as_object().unwrap().clone();
        header.insert("kid".into(), RSA.kid().into());
        let h = oidc_bearer_testkit::b64url(&serde_json::to_vec(&header).unwrap());
        format!("{h}.{p}.{s}")
    };
    let expired_forged = {
        let t = token().claim("exp", NOW - 3600).sign(&ATTACKER);
        let (_, p, s) = split3(&t);
        let (h, _, _) = split3(&forged);
        format!("{h}.{p}.{s}")
    };

    for token in [&forged, &expired_forged] {
        let refused = v.verify::<Watched>(token).await;
        assert!(
            matches!(refused, Err(oidc_bearer::Error::InvalidSignature)),
            "{refused:?}"
        );
    }
    assert_eq!(
        WATCHED_BUILT.load(Ordering::SeqCst),
        0,
        "the claims type ran on a payload whose signature did not verify"
    );

    let valid = with_claim("sub", "alice");
    let claims = v.verify::<Watched>(&valid).await.unwrap();
    assert_eq!(claims.sub, "alice");
    assert!(WATCHED_BUILT.load(Ordering::SeqCst) >= 1);
}
