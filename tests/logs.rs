//! Logs (issue 11, item 9): with a subscriber capturing everything down to
//! trace level, no token, no part of one, no unverified claim and no key
//! material (`n`, `x`, `y`, certificates, PEM, HMAC secrets) appears in any
//! event or span at debug level or above, whatever the requests and
//! whatever the provider does.
//!
//! The subscriber is this test binary's global default, so the refresh
//! tasks and the server's tasks are captured too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::{Router, routing::get};
use oidc_bearer::{Claims, StandardClaims, Validator};
use oidc_bearer_testkit::{KeyKind, Reply, TestIssuer, TestKey, TokenBuilder, b64url, now};
use serde_json::json;
use tracing::Level;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};

mod common;
use common::{bearer, fetch_oneshot};

const AUDIENCE: &str = "logs-api";
/// A `sub` that must never show up in a log line: claims of a refused
/// token are unverified input.
const CANARY: &str = "canary-subject-5f3e9a";
const HMAC_SECRET: &[u8] = b"hmac-secret-canary-0123456789abcdef";

/// Everything logged: level, target, message and fields, rendered.
#[derive(Default)]
struct Capture {
    lines: Mutex<Vec<(Level, String)>>,
    next_span: AtomicU64,
    spans: Mutex<Vec<(u64, Level)>>,
}

struct Render(String);

impl Visit for Render {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

#[derive(Clone)]
struct Recorder(Arc<Capture>);

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.0.next_span.fetch_add(1, Ordering::Relaxed) + 1;
        let meta = span.metadata();
        let mut render = Render(format!("span {} {}", meta.target(), meta.name()));
        span.record(&mut render);
        self.0.spans.lock().unwrap().push((id, *meta.level()));
        self.0.lines.lock().unwrap().push((*meta.level(), render.0));
        Id::from_u64(id)
    }
    fn record(&self, id: &Id, values: &Record<'_>) {
        let level = self
            .0
            .spans
            .lock()
            .unwrap()
            .iter()
            .find(|(i, _)| *i == id.into_u64())
            .map_or(Level::ERROR, |(_, l)| *l);
        let mut render = Render(format!("span record {}", id.into_u64()));
        values.record(&mut render);
        self.0.lines.lock().unwrap().push((level, render.0));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let meta = event.metadata();
        let mut render = Render(format!("event {}", meta.target()));
        event.record(&mut render);
        self.0.lines.lock().unwrap().push((*meta.level(), render.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn capture() -> Arc<Capture> {
    static CAPTURE: OnceLock<Arc<Capture>> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let capture = Arc::new(Capture::default());
            tracing::subscriber::set_global_default(Recorder(capture.clone()))
                .expect("the only subscriber of this test binary");
            capture
        })
        .clone()
}

fn app(validator: &Validator) -> Router {
    Router::new()
        .route("/me", get(|_: Claims<StandardClaims>| async {}))
        .layer(validator.layer::<StandardClaims>())
}

/// Secrets to look for: each token, its parts, and key material.
#[derive(Default)]
struct Secrets(Vec<(String, String)>);

impl Secrets {
    fn add(&mut self, what: impl Into<String>, secret: impl Into<String>) {
        let secret = secret.into();
        // Short strings (`AQAB`, `RS256`) are not secrets and would match by chance.
        if secret.len() >= 12 {
            self.0.push((what.into(), secret));
        }
    }

    fn token(&mut self, what: &str, token: &str) {
        self.add(what, token);
        for (i, part) in token.split('.').enumerate() {
            self.add(format!("{what}, part {i}"), part);
        }
    }

    fn key(&mut self, key: &TestKey) {
        let jwk = key.public_jwk();
        for member in ["n", "x", "y"] {
            if let Some(value) = jwk[member].as_str() {
                self.add(format!("{} {member}", key.kid()), value);
                // And its first 16 characters, for a truncated print.
                self.add(format!("{} {member} prefix", key.kid()), &value[..16]);
            }
        }
        self.add(format!("{} x5c", key.kid()), key.x5c());
        self.add(format!("{} x5c prefix", key.kid()), &key.x5c()[..40]);
        for line in key.public_pem().lines().filter(|l| !l.starts_with("-----")) {
            self.add(format!("{} PEM line", key.kid()), line);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_claim_or_key_material_is_logged_at_debug_or_above() {
    let capture = capture();
    let mut secrets = Secrets::default();
    secrets.add("canary sub", CANARY);
    secrets.add("HMAC secret", String::from_utf8_lossy(HMAC_SECRET));
    secrets.add("HMAC secret, base64url", b64url(HMAC_SECRET));

    // A provider found through discovery, with a skipped key beside the
    // real one (its `n` is in the JWKS too).
    let mut issuer = TestIssuer::start().await;
    let enc = TestKey::generate(KeyKind::Rsa2048, "enc-1");
    let mut enc_jwk = enc.public_jwk();
    enc_jwk["use"] = json!("enc");
    let mut broken = issuer.key.public_jwk();
    broken["kid"] = json!("broken");
    broken["n"] = json!(format!("{}x", broken["n"].as_str().unwrap()));
    let publish = |issuer: &TestIssuer, extra: &[serde_json::Value]| {
        let mut doc =
            oidc_bearer_testkit::jwks(&issuer.published_keys().iter().collect::<Vec<_>>());
        doc["keys"]
            .as_array_mut()
            .unwrap()
            .extend(extra.iter().cloned());
        issuer.provider.set(&issuer.jwks_path(), Reply::json(&doc));
    };
    publish(&issuer, &[enc_jwk.clone(), broken.clone()]);
    secrets.key(&issuer.key);
    secrets.key(&enc);
    let validator = Validator::discover(&issuer.issuer)
        .audience(AUDIENCE)
        .kid_refetch_cooldown(Duration::ZERO)
        .http_timeout(Duration::from_millis(300))
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    let app = app(&validator);

    let send = |token: String| {
        let app = app.clone();
        async move { fetch_oneshot(&app, "/me", &[&bearer(&token)]).await.status }
    };
    let with_canary = |b: TokenBuilder| b.claim("sub", CANARY);

    let valid = with_canary(issuer.builder(AUDIENCE)).sign(&issuer.key);
    let expired = with_canary(issuer.builder(AUDIENCE))
        .claim("exp", now() - 3600)
        .claim("iat", now() - 7200)
        .sign(&issuer.key);
    let wrong_audience = with_canary(issuer.builder("other-api")).sign(&issuer.key);
    let mut tampered = valid.split('.').map(str::to_owned).collect::<Vec<_>>();
    tampered[1] = with_canary(issuer.builder(AUDIENCE))
        .claim("admin", true)
        .encoded_claims();
    let tampered = tampered.join(".");
    let stranger = TestKey::generate(KeyKind::EcP256, "stranger");
    let unknown_kid = with_canary(issuer.builder(AUDIENCE)).sign(&stranger);
    let alg_none = with_canary(issuer.builder(AUDIENCE)).unsigned("none");
    let garbage = format!(
        "{}.{}.{}",
        b64url(b"{\"alg\""),
        b64url(CANARY.as_bytes()),
        "x".repeat(40)
    );
    for (what, token) in [
        ("valid", &valid),
        ("expired", &expired),
        ("wrong audience", &wrong_audience),
        ("tampered", &tampered),
        ("unknown kid", &unknown_kid),
        ("alg none", &alg_none),
        ("garbage", &garbage),
    ] {
        secrets.token(what, token);
    }
    assert_eq!(send(valid.clone()).await, 200);
    for token in [
        &expired,
        &wrong_audience,
        &tampered,
        &unknown_kid,
        &alg_none,
        &garbage,
    ] {
        assert_eq!(send(token.clone()).await, 401);
    }
    // The same through verify and try_verify.
    for token in [&valid, &expired, &tampered, &unknown_kid] {
        let _ = validator.verify::<StandardClaims>(token).await;
        let _ = validator.try_verify::<StandardClaims>(token);
    }

    // Rotation to an EC key, then to an Ed25519 key: more key material.
    issuer.rotate(KeyKind::EcP256, "ec-2");
    publish(&issuer, &[enc_jwk.clone(), broken.clone()]);
    secrets.key(&issuer.key);
    let rotated = with_canary(issuer.builder(AUDIENCE)).sign(&issuer.key);
    secrets.token("rotated", &rotated);
    assert_eq!(send(rotated.clone()).await, 200);
    issuer.rotate(KeyKind::Ed25519, "ed-3");
    secrets.key(&issuer.key);
    let ed = with_canary(issuer.builder(AUDIENCE)).sign(&issuer.key);
    secrets.token("ed", &ed);
    assert_eq!(send(ed).await, 200);

    // Fetch failures of every kind, each provoked by an unknown kid.
    let jwks = issuer.jwks_path();
    let failures = [
        Reply::status(500),
        Reply::raw(
            200,
            "application/json",
            format!(
                "{{\"keys\":[{{\"n\":\"{}\"",
                issuer.published_keys()[2].public_jwk()["n"]
                    .as_str()
                    .unwrap()
            ),
        ),
        Reply::json(&json!({"keys": [enc_jwk.clone()]})),
        Reply::raw(200, "text/html", format!("<html>{CANARY}</html>")),
        Reply::jwks(&[&issuer.key]).with_delay(Duration::from_secs(5)),
    ];
    for (i, reply) in failures.into_iter().enumerate() {
        issuer.provider.set(&jwks, reply);
        let unknown = with_canary(issuer.builder(AUDIENCE))
            .header("kid", format!("new-{i}"))
            .sign(&stranger);
        secrets.token("unknown kid during a failure", &unknown);
        assert_eq!(send(unknown).await, 401);
    }
    issuer.provider.shutdown().await;
    let unknown = with_canary(issuer.builder(AUDIENCE))
        .header("kid", "while-down")
        .sign(&stranger);
    secrets.token("unknown kid while down", &unknown);
    assert_eq!(send(unknown).await, 401);

    // HMAC and PEM validators.
    let hmac = Validator::builder()
        .issuer("https://hmac.example.test")
        .audience(AUDIENCE)
        .hmac_secret(HMAC_SECRET.to_vec())
        .build()
        .await
        .unwrap();
    let hs = with_canary(TokenBuilder::new())
        .claims(oidc_bearer_testkit::standard_claims(
            "https://hmac.example.test",
            AUDIENCE,
        ))
        .claim("sub", CANARY)
        .sign_hmac(HMAC_SECRET, "HS256");
    secrets.token("HS256", &hs);
    let app_hmac = self::app(&hmac);
    assert_eq!(
        fetch_oneshot(&app_hmac, "/me", &[&bearer(&hs)])
            .await
            .status,
        200
    );
    let forged_hs = format!("{}x", &hs[..hs.len() - 1]);
    let _ = hmac.try_verify::<StandardClaims>(&forged_hs);
    let pem_key = TestKey::generate(KeyKind::EcP384, "pem");
    secrets.key(&pem_key);
    let pem = Validator::builder()
        .issuer(&issuer.issuer)
        .audience(AUDIENCE)
        .pem_key(pem_key.public_pem(), Some("pem"))
        .build()
        .await
        .unwrap();
    let pem_token = with_canary(issuer.builder(AUDIENCE)).sign(&pem_key);
    secrets.token("PEM-verified", &pem_token);
    let _ = pem.try_verify::<StandardClaims>(&pem_token);
    let _ = pem.try_verify::<StandardClaims>(&tampered);
    // A JWKS given inline with a skipped key.
    let _ = Validator::builder()
        .issuer(&issuer.issuer)
        .audience(AUDIENCE)
        .jwks_json(json!({"keys": [enc_jwk, broken, pem_key.public_jwk()]}).to_string())
        .build()
        .await
        .unwrap();
    drop(validator);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let lines = std::mem::take(&mut *capture.lines.lock().unwrap());
    let visible: Vec<&(Level, String)> = lines.iter().filter(|(l, _)| *l != Level::TRACE).collect();
    for (level, line) in &visible {
        for (what, secret) in &secrets.0 {
            assert!(
                !line.contains(secret.as_str()),
                "{what} logged at {level}: {line}"
            );
        }
    }
    // The capture saw what it should have: rejections at debug, key
    // changes at info, fetch failures as warnings.
    let has =
        |level: Level, text: &str| visible.iter().any(|(l, s)| *l == level && s.contains(text));
    assert!(has(Level::DEBUG, "bearer token rejected"), "{visible:#?}");
    assert!(has(Level::INFO, "signing keys changed"), "{visible:#?}");
    assert!(
        has(Level::WARN, "fetching signing keys failed"),
        "{visible:#?}"
    );
    assert!(has(Level::DEBUG, "JWK skipped"), "{visible:#?}");
    assert!(visible.len() >= 20, "{} lines", visible.len());
    eprintln!(
        "{} lines captured ({} at debug or above), checked against {} secrets",
        lines.len(),
        visible.len(),
        secrets.0.len()
    );
}
