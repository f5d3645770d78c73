//! Keys that never cause an outage: discovery, background refresh,
//! unknown-`kid` refetch storms, provider failures, stale and expired keys,
//! startup without keys, and the refresh task's lifetime.
//!
//! Everything runs against a provider on 127.0.0.1 that the test controls
//! (the testkit's `MockProvider`, plus a tiny raw HTTP server for chunked
//! and trickling bodies), and requests go through the real tower layer on an
//! axum `Router` with `oneshot`, so the tests see what users see. Refresh
//! intervals, backoff and timeouts are shrunk to milliseconds through the
//! builder's knobs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::IF_NONE_MATCH;
use axum::{Json, Router, routing::get};
use oidc_bearer::jwks::HealthStatus;
use oidc_bearer::{Claims, ErrorKind, Health, StandardClaims, Validator, ValidatorBuilder};
use oidc_bearer_testkit::{
    KeyKind, MockProvider, Reply, TestIssuer, TestKey, TokenBuilder, discovery_document, jwks, now,
    standard_claims,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;
use common::{Answer, bearer, fetch_oneshot, validator_for};

const AUDIENCE: &str = "orders-api";
const STORM: usize = 1000;

// ---------------------------------------------------------------- helpers

async fn me(claims: Claims<StandardClaims>) -> String {
    claims.sub.clone().unwrap_or_default()
}

fn app(validator: &Validator) -> Router {
    Router::new()
        .route("/me", get(me))
        .layer(validator.layer::<StandardClaims>())
}

impl Answer {
    fn is_invalid_token(&self) -> bool {
        self.status == StatusCode::UNAUTHORIZED
            && self
                .challenge
                .as_deref()
                .is_some_and(|c| c.contains(r#"error="invalid_token""#))
    }
}

async fn call(app: &Router, token: &str) -> Answer {
    fetch_oneshot(app, "/me", &[&bearer(token)]).await
}

/// Sends every token at once, each request on its own task, and returns
/// the answers with the longest time any one request took.
async fn storm(app: &Router, tokens: Vec<String>) -> (Vec<Answer>, Duration) {
    let mut set = tokio::task::JoinSet::new();
    for token in tokens {
        let app = app.clone();
        set.spawn(async move {
            let started = Instant::now();
            let answer = call(&app, &token).await;
            (answer, started.elapsed())
        });
    }
    let mut answers = Vec::new();
    let mut slowest = Duration::ZERO;
    while let Some(joined) = set.join_next().await {
        let (answer, took) = joined.unwrap();
        slowest = slowest.max(took);
        answers.push(answer);
    }
    (answers, slowest)
}

/// Polls `check` every 20 ms until it holds; panics with `what` after
/// `limit`.
async fn wait_for<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (at most 5 s) until `path` has been fetched `at_least` times.
async fn wait_for_hits(issuer: &TestIssuer, path: &str, at_least: usize, what: &str) {
    wait_for(Duration::from_secs(5), what, || {
        let hits = issuer.provider.hits(path);
        async move { hits >= at_least }
    })
    .await;
}

/// After a drop: lets a fetch already under way land, then asserts that
/// `path` is fetched no more.
async fn assert_no_fetch_after_drop(issuer: &TestIssuer, path: &str, message: &str) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after_drop = issuer.provider.hits(path);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(issuer.provider.hits(path), after_drop, "{message}");
}

/// A token from `issuer` for `AUDIENCE`, signed with `key`, with its own
/// `sub` so it never hits the verified-token cache of another.
fn token_for(issuer: &TestIssuer, key: &TestKey, sub: &str) -> String {
    issuer.builder(AUDIENCE).claim("sub", sub).sign(key)
}

/// A validator for `issuer`'s JWKS URL with every timer shrunk: refresh
/// every ~`interval`, retries from 50 ms, 1 s fetch timeout.
fn fast(issuer: &TestIssuer, interval: Duration) -> ValidatorBuilder {
    validator_for(issuer, AUDIENCE)
        .default_refresh_interval(interval)
        .refresh_interval_bounds(Duration::from_millis(10), Duration::from_secs(60))
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(200))
        .http_timeout(Duration::from_secs(1))
}

/// Publishes `issuer`'s current keys again, with `reply` adjusted.
fn republish(issuer: &TestIssuer, adjust: impl FnOnce(Reply) -> Reply) {
    let keys = issuer.published_keys();
    let refs: Vec<&TestKey> = keys.iter().collect();
    issuer
        .provider
        .set(&issuer.jwks_path(), adjust(Reply::jwks(&refs)));
}

fn kids(health: &Health) -> Vec<String> {
    let mut kids = health.kids.clone();
    kids.sort();
    kids
}

// ------------------------------------------------- rotation and kid misses

#[tokio::test]
async fn rotated_key_is_picked_up_through_the_kid_miss_without_restart() {
    let mut issuer = TestIssuer::start().await;
    // Timer refresh far away: only the kid miss can bring the new key.
    let validator = fast(&issuer, Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    let old = token_for(&issuer, &issuer.key, "before");
    assert_eq!(call(&app, &old).await.status, StatusCode::OK);
    assert_eq!(issuer.provider.hits(&issuer.jwks_path()), 1);

    issuer.rotate(KeyKind::EcP256, "demo-ec-2");
    let new = token_for(&issuer, &issuer.key, "after");
    let answer = call(&app, &new).await;

    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body, "after");
    assert_eq!(issuer.provider.hits(&issuer.jwks_path()), 2);
    assert_eq!(kids(&validator.health()), ["demo-ec-2", "demo-rsa-1"]);
    // The previous key is still published: its tokens still verify.
    let old_again = token_for(&issuer, &issuer.published_keys()[1], "before-2");
    assert_eq!(call(&app, &old_again).await.status, StatusCode::OK);
    assert_eq!(issuer.provider.hits(&issuer.jwks_path()), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_requests_with_a_new_kid_cause_exactly_one_fetch() {
    let mut issuer = TestIssuer::start().await;
    let validator = fast(&issuer, Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    issuer.rotate(KeyKind::EcP256, "demo-ec-2");
    // A slow answer keeps the one refetch in flight while the storm arrives.
    republish(&issuer, |r| r.with_delay(Duration::from_millis(400)));
    let before = issuer.provider.hits(&issuer.jwks_path());
    let tokens = (0..STORM)
        .map(|i| token_for(&issuer, &issuer.key, &format!("user-{i}")))
        .collect();

    let (answers, _) = storm(&app, tokens).await;

    let fetches = issuer.provider.hits(&issuer.jwks_path()) - before;
    eprintln!("new-kid storm: {STORM} concurrent requests -> {fetches} JWKS fetch(es)");
    let ok = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    assert_eq!(
        ok, STORM,
        "every request carrying the rotated kid is accepted"
    );
    assert_eq!(fetches, 1, "the storm shares one fetch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_random_unknown_kids_within_one_cooldown_cause_at_most_one_fetch() {
    let issuer = TestIssuer::start().await;
    let cooldown = Duration::from_secs(30);
    let validator = fast(&issuer, Duration::from_secs(3600))
        .kid_refetch_cooldown(cooldown)
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    let stranger = TestKey::generate(KeyKind::EcP256, "unused");
    let random_kids = |wave: &str| -> Vec<String> {
        (0..STORM)
            .map(|i| {
                issuer
                    .builder(AUDIENCE)
                    .header("kid", format!("forged-{wave}-{i}-{}", now()))
                    .sign(&stranger)
            })
            .collect()
    };
    let before = issuer.provider.hits(&issuer.jwks_path());
    let started = Instant::now();

    let (answers, slowest) = storm(&app, random_kids("a")).await;

    let fetches = issuer.provider.hits(&issuer.jwks_path()) - before;
    eprintln!(
        "random-kid storm: {STORM} requests -> {fetches} JWKS fetch(es), slowest answer {slowest:?}"
    );
    assert!(fetches <= 1, "{fetches} fetches for one cooldown");
    for answer in &answers {
        assert!(answer.is_invalid_token(), "{answer:?}");
        assert!(
            answer
                .challenge
                .as_deref()
                .unwrap()
                .contains("unknown key id"),
            "{answer:?}"
        );
    }
    // Nobody queued behind the rate limiter: the cooldown is 30 s, the
    // fetch timeout 1 s.
    assert!(
        slowest < Duration::from_secs(10),
        "a miss waited {slowest:?}"
    );

    // A second wave of new random kids, and the same kids again: still in
    // the cooldown, so no fetch at all, and refused at once.
    let (answers, slowest) = storm(&app, random_kids("b")).await;
    let again: Vec<String> = (0..100)
        .map(|i| {
            issuer
                .builder(AUDIENCE)
                .header("kid", format!("forged-b-{i}-{}", now()))
                .sign(&stranger)
        })
        .collect();
    let (repeated, _) = storm(&app, again).await;
    let fetches = issuer.provider.hits(&issuer.jwks_path()) - before;
    eprintln!("random-kid storm, second wave + repeats: total {fetches} JWKS fetch(es)");
    assert!(fetches <= 1, "{fetches} fetches for one cooldown");
    assert!(
        answers
            .iter()
            .chain(&repeated)
            .all(Answer::is_invalid_token)
    );
    assert!(
        slowest < Duration::from_secs(10),
        "a miss waited {slowest:?}"
    );
    assert!(started.elapsed() < cooldown);
    // Valid tokens are unaffected by the flood.
    let good = token_for(&issuer, &issuer.key, "still-fine");
    assert_eq!(call(&app, &good).await.status, StatusCode::OK);
}

#[tokio::test]
async fn after_the_cooldown_unknown_kids_may_cost_one_more_fetch() {
    let issuer = TestIssuer::start().await;
    let validator = fast(&issuer, Duration::from_secs(3600))
        .kid_refetch_cooldown(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    let stranger = TestKey::generate(KeyKind::EcP256, "unused");
    let forged = |n: usize| {
        issuer
            .builder(AUDIENCE)
            .header("kid", format!("forged-{n}"))
            .sign(&stranger)
    };
    let before = issuer.provider.hits(&issuer.jwks_path());

    for n in 0..20 {
        assert!(call(&app, &forged(n)).await.is_invalid_token());
    }
    assert_eq!(issuer.provider.hits(&issuer.jwks_path()) - before, 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    for n in 0..20 {
        assert!(call(&app, &forged(n)).await.is_invalid_token());
    }
    assert_eq!(issuer.provider.hits(&issuer.jwks_path()) - before, 2);
}

#[tokio::test]
async fn a_kid_miss_waits_no_longer_than_the_fetch_timeout_when_the_provider_hangs() {
    let mut issuer = TestIssuer::start().await;
    let validator = fast(&issuer, Duration::from_secs(3600))
        .http_timeout(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    issuer.rotate(KeyKind::EcP256, "demo-ec-2");
    republish(&issuer, |r| r.with_delay(Duration::from_secs(30)));
    let new = token_for(&issuer, &issuer.key, "after");
    let old = token_for(&issuer, &issuer.published_keys()[1], "before");

    let started = Instant::now();
    let answer = call(&app, &new).await;
    let took = started.elapsed();

    assert!(answer.is_invalid_token(), "{answer:?}");
    assert!(took < Duration::from_secs(5), "waited {took:?}");
    assert_eq!(call(&app, &old).await.status, StatusCode::OK);
    assert_eq!(kids(&validator.health()), ["demo-rsa-1"]);
    assert!(validator.health().last_error.unwrap().contains("timed out"));
}

#[tokio::test]
async fn a_caller_that_gives_up_does_not_cancel_the_shared_refetch() {
    let mut issuer = TestIssuer::start().await;
    let validator = fast(&issuer, Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    issuer.rotate(KeyKind::EcP256, "demo-ec-2");
    republish(&issuer, |r| r.with_delay(Duration::from_millis(300)));
    let new = token_for(&issuer, &issuer.key, "impatient");

    // The client disconnects while the refetch it started is in flight:
    // hyper drops the response future.
    let gave_up = tokio::time::timeout(Duration::from_millis(50), call(&app, &new)).await;
    assert!(gave_up.is_err(), "the refetch should still be running");
    tokio::time::sleep(Duration::from_millis(700)).await;

    let patient = token_for(&issuer, &issuer.key, "patient");
    let answer = call(&app, &patient).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(issuer.provider.hits(&issuer.jwks_path()), 2);
}

#[tokio::test]
async fn a_failed_kid_miss_refetch_is_retried_with_backoff() {
    let mut issuer = TestIssuer::start().await;
    // Timer refresh an hour away and the default 30 s cooldown: only the
    // retry backoff can bring the rotated key in time.
    let validator = fast(&issuer, Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    issuer.rotate(KeyKind::EcP256, "demo-ec-2");
    issuer
        .provider
        .enqueue(&issuer.jwks_path(), Reply::status(502));
    let new = token_for(&issuer, &issuer.key, "after");

    assert!(call(&app, &new).await.is_invalid_token());
    let health = validator.health();
    assert!(
        health.last_error.as_deref().unwrap().contains("502"),
        "{health:?}"
    );
    assert!(
        health.next_refresh_unix.unwrap() <= now() + 2,
        "a failure schedules a retry soon: {health:?}"
    );

    wait_for(
        Duration::from_secs(5),
        "the retry to load the rotated key",
        || {
            let app = app.clone();
            let token = token_for(&issuer, &issuer.key, "after-retry");
            async move { call(&app, &token).await.status == StatusCode::OK }
        },
    )
    .await;
    assert_eq!(validator.health().status, HealthStatus::Ok);
}

#[tokio::test]
async fn keys_removed_from_a_fetched_jwks_stop_verifying() {
    let mut issuer = TestIssuer::start().await;
    let validator = fast(&issuer, Duration::from_millis(100))
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    let old = token_for(&issuer, &issuer.key, "old");
    assert_eq!(call(&app, &old).await.status, StatusCode::OK); // now cached too

    issuer.rotate(KeyKind::EcP256, "demo-ec-2");
    issuer.retire_previous_keys();
    wait_for(
        Duration::from_secs(5),
        "the refresh to drop the old key",
        || {
            let kids = kids(&validator.health());
            async move { kids == ["demo-ec-2"] }
        },
    )
    .await;

    let answer = call(&app, &old).await;
    assert!(answer.is_invalid_token(), "{answer:?}");
    let fresh_old = token_for(&issuer, &issuer.published_keys()[0], "new");
    assert_eq!(call(&app, &fresh_old).await.status, StatusCode::OK);
}

// ------------------------------------------------------- provider failures

#[tokio::test]
async fn provider_down_for_several_cycles_keeps_old_keys_then_uses_new_ones() {
    let mut issuer = TestIssuer::start().await;
    let validator = fast(&issuer, Duration::from_millis(100))
        .http_timeout(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    let old_key = issuer.key.clone();

    issuer.provider.shutdown().await;
    let down_at = validator.health().fetches;
    wait_for(
        Duration::from_secs(8),
        "several failed refresh cycles",
        || {
            let h = validator.health();
            async move { h.fetches >= down_at + 4 && h.last_error.is_some() }
        },
    )
    .await;
    let health = validator.health();
    assert_eq!(health.status, HealthStatus::Stale, "{health:?}");
    assert!(health.is_ready());
    assert!(
        health
            .last_error
            .as_deref()
            .unwrap()
            .contains("connection failed"),
        "{health:?}"
    );
    assert_eq!(kids(&health), ["demo-rsa-1"]);
    for i in 0..3 {
        let token = token_for(&issuer, &old_key, &format!("during-{i}"));
        assert_eq!(call(&app, &token).await.status, StatusCode::OK);
    }

    // Back up with a rotated key: picked up by the retry loop.
    issuer.rotate(KeyKind::Ed25519, "demo-ed-2");
    issuer.provider.restart().await;
    wait_for(Duration::from_secs(5), "recovery", || {
        let h = validator.health();
        async move { h.status == HealthStatus::Ok && h.kids.iter().any(|k| k == "demo-ed-2") }
    })
    .await;
    assert!(validator.health().last_error.is_none());
    let new = token_for(&issuer, &issuer.key, "after");
    assert_eq!(call(&app, &new).await.status, StatusCode::OK);
    let old = token_for(&issuer, &old_key, "old-after");
    assert_eq!(call(&app, &old).await.status, StatusCode::OK);
}

/// Points the JWKS at `fault`, waits for a failed fetch of it, and checks
/// the old keys still verify.
async fn assert_fault_keeps_keys(
    issuer: &TestIssuer,
    validator: &Validator,
    app: &Router,
    name: &str,
    fault: Reply,
    expected_error: &str,
) {
    issuer.provider.set(&issuer.jwks_path(), fault);
    let start = validator.health().fetches;
    wait_for(Duration::from_secs(8), name, || {
        let h = validator.health();
        async move { h.fetches >= start + 2 && h.last_error.is_some() }
    })
    .await;
    let health = validator.health();
    let error = health.last_error.clone().unwrap();
    assert!(error.contains(expected_error), "{name}: {error}");
    assert_eq!(health.status, HealthStatus::Stale, "{name}");
    assert_eq!(kids(&health), ["demo-rsa-1"], "{name}");
    let token = token_for(issuer, &issuer.key, name);
    let answer = call(app, &token).await;
    assert_eq!(answer.status, StatusCode::OK, "{name}: {answer:?}");

    // And the provider's recovery is noticed.
    republish(issuer, |r| r);
    wait_for(Duration::from_secs(5), "recovery", || {
        let h = validator.health();
        async move { h.status == HealthStatus::Ok }
    })
    .await;
}

#[tokio::test]
async fn broken_documents_never_replace_good_keys() {
    let issuer = TestIssuer::start().await;
    let validator = fast(&issuer, Duration::from_millis(50))
        .max_document_size(64 * 1024)
        .http_timeout(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    let huge = {
        let mut doc = jwks(&[&issuer.key]);
        doc["padding"] = "x".repeat(100 * 1024).into();
        doc
    };
    let enc_only = serde_json::json!({"keys": [{
        "kty": "RSA", "use": "enc", "alg": "RSA-OAEP", "kid": "enc-1",
        "n": issuer.key.public_jwk()["n"], "e": "AQAB"
    }]});

    let faults = [
        ("server error", Reply::status(500), "500"),
        ("not found", Reply::status(404), "404"),
        (
            "html error page",
            Reply::raw(200, "text/html", "<html>Bad gateway</html>"),
            "",
        ),
        (
            "truncated json",
            Reply::raw(200, "application/json", r#"{"keys":[{"kty":"RSA","#),
            "",
        ),
        (
            "empty set",
            Reply::json(&serde_json::json!({"keys": []})),
            "no usable signing key",
        ),
        (
            "only an encryption key",
            Reply::json(&enc_only),
            "no usable signing key",
        ),
        ("huge body", Reply::json(&huge), "larger than"),
        (
            "slow",
            Reply::jwks(&[&issuer.key]).with_delay(Duration::from_secs(5)),
            "timed out",
        ),
    ];
    for (name, fault, expected) in faults {
        assert_fault_keeps_keys(&issuer, &validator, &app, name, fault, expected).await;
    }
}

/// A provider that answers every request with raw bytes the test writes,
/// for what the testkit's server cannot send: chunked bodies without a
/// `Content-Length`, and bodies that trickle in forever.
struct RawProvider {
    url: String,
    hits: Arc<AtomicUsize>,
    mode: Arc<Mutex<RawMode>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
enum RawMode {
    Json(Vec<u8>),
    /// `Transfer-Encoding: chunked`, this many bytes of padding in 8 KiB
    /// chunks.
    ChunkedHuge(usize),
    /// Headers at once, then one body byte every 100 ms.
    Trickle,
}

impl Drop for RawProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawProvider {
    async fn start(mode: RawMode) -> RawProvider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/keys", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let mode = Arc::new(Mutex::new(mode));
        let (h, m) = (hits.clone(), mode.clone());
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (h, m) = (h.clone(), m.clone());
                connections.spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    h.fetch_add(1, Ordering::SeqCst);
                    let mode = m.lock().unwrap().clone();
                    let _ = Self::answer(&mut socket, mode).await;
                });
            }
        });
        RawProvider {
            url,
            hits,
            mode,
            task,
        }
    }

    async fn answer(socket: &mut tokio::net::TcpStream, mode: RawMode) -> std::io::Result<()> {
        const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
            transfer-encoding: chunked\r\nconnection: close\r\n\r\n";
        match mode {
            RawMode::Json(body) => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                socket.write_all(head.as_bytes()).await?;
                socket.write_all(&body).await?;
            }
            RawMode::ChunkedHuge(total) => {
                socket.write_all(CHUNKED).await?;
                let chunk = vec![b' '; 8192];
                let mut sent = 0;
                while sent < total {
                    socket.write_all(b"2000\r\n").await?;
                    socket.write_all(&chunk).await?;
                    socket.write_all(b"\r\n").await?;
                    sent += chunk.len();
                }
                socket.write_all(b"0\r\n\r\n").await?;
            }
            RawMode::Trickle => {
                socket.write_all(CHUNKED).await?;
                for _ in 0..100 {
                    socket.write_all(b"1\r\n \r\n").await?;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        socket.flush().await
    }

    fn set(&self, mode: RawMode) {
        *self.mode.lock().unwrap() = mode;
    }
}

#[tokio::test]
async fn chunked_oversized_and_trickling_bodies_keep_the_old_keys() {
    let key = TestKey::generate(KeyKind::EcP256, "raw-1");
    let good = serde_json::to_vec(&jwks(&[&key])).unwrap();
    let raw = RawProvider::start(RawMode::Json(good.clone())).await;
    let issuer_url = "https://issuer.example.test/realms/raw";
    let validator = Validator::builder()
        .issuer(issuer_url)
        .audience(AUDIENCE)
        .jwks_url(&raw.url)
        .default_refresh_interval(Duration::from_millis(50))
        .refresh_interval_bounds(Duration::from_millis(10), Duration::from_secs(60))
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(100))
        .http_timeout(Duration::from_millis(400))
        .max_document_size(64 * 1024)
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    let token = |sub: &str| {
        TokenBuilder::new()
            .claims(standard_claims(issuer_url, AUDIENCE))
            .claim("sub", sub)
            .sign(&key)
    };

    for (name, mode, expected) in [
        (
            "chunked, no length",
            RawMode::ChunkedHuge(1024 * 1024),
            "larger than",
        ),
        ("trickling", RawMode::Trickle, "timed out"),
    ] {
        raw.set(mode);
        let start = validator.health().fetches;
        wait_for(Duration::from_secs(8), name, || {
            let h = validator.health();
            async move { h.fetches >= start + 2 && h.last_error.is_some() }
        })
        .await;
        let health = validator.health();
        assert!(
            health.last_error.as_deref().unwrap().contains(expected),
            "{name}: {health:?}"
        );
        assert_eq!(kids(&health), ["raw-1"], "{name}");
        assert_eq!(
            call(&app, &token(name)).await.status,
            StatusCode::OK,
            "{name}"
        );

        raw.set(RawMode::Json(good.clone()));
        wait_for(Duration::from_secs(5), "recovery", || {
            let h = validator.health();
            async move { h.status == HealthStatus::Ok }
        })
        .await;
    }
    assert!(raw.hits.load(Ordering::SeqCst) >= 5);
}

// ------------------------------------------------------ Cache-Control, ETag

#[tokio::test]
async fn etag_is_sent_and_304_keeps_the_keys() {
    let mut issuer = TestIssuer::start().await;
    republish(&issuer, |r| {
        r.with_etag("\"v1\"").with_cache_control("max-age=0")
    });
    let validator = fast(&issuer, Duration::from_secs(3600))
        .refresh_interval_bounds(Duration::from_millis(100), Duration::from_secs(60))
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    let path = issuer.jwks_path();
    assert!(
        issuer
            .provider
            .last_request_headers(&path)
            .unwrap()
            .get(IF_NONE_MATCH)
            .is_none(),
        "nothing to revalidate on the first fetch"
    );

    wait_for_hits(&issuer, &path, 3, "two conditional refreshes").await;
    let sent = issuer.provider.last_request_headers(&path).unwrap();
    assert_eq!(sent.get(IF_NONE_MATCH).unwrap(), "\"v1\"");
    let health = validator.health();
    assert_eq!(
        health.status,
        HealthStatus::Ok,
        "a 304 is a success: {health:?}"
    );
    assert!(health.last_error.is_none());
    assert_eq!(kids(&health), ["demo-rsa-1"]);
    let token = token_for(&issuer, &issuer.key, "after-304");
    assert_eq!(call(&app, &token).await.status, StatusCode::OK);

    // A changed document (new ETag) replaces the keys, and the new ETag is
    // used from then on.
    issuer.rotate(KeyKind::EcP256, "demo-ec-2");
    issuer.retire_previous_keys();
    republish(&issuer, |r| {
        r.with_etag("\"v2\"").with_cache_control("max-age=0")
    });
    wait_for(Duration::from_secs(5), "the v2 document", || {
        let kids = kids(&validator.health());
        async move { kids == ["demo-ec-2"] }
    })
    .await;
    let at_v2 = issuer.provider.hits(&path);
    wait_for(Duration::from_secs(5), "a revalidation of v2", || {
        let hits = issuer.provider.hits(&path);
        async move { hits > at_v2 }
    })
    .await;
    let sent = issuer.provider.last_request_headers(&path).unwrap();
    assert_eq!(sent.get(IF_NONE_MATCH).unwrap(), "\"v2\"");
    assert_eq!(kids(&validator.health()), ["demo-ec-2"]);
    let token = token_for(&issuer, &issuer.key, "v2");
    assert_eq!(call(&app, &token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn max_age_drives_the_next_refresh_within_clamp_and_jitter() {
    let issuer = TestIssuer::start().await;
    // (Cache-Control, expected interval before jitter) with the default
    // bounds of 5 min .. 24 h and 1 h without max-age.
    let cases = [
        (Some("public, max-age=7200"), 7200u64),
        (Some("max-age=60"), 300),
        (Some("max-age=999999999"), 86_400),
        (Some("no-cache"), 300),
        (None, 3600),
    ];
    for (cache_control, expected) in cases {
        republish(&issuer, |r| match cache_control {
            Some(cc) => r.with_cache_control(cc),
            None => r,
        });
        let before = now();
        let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
        let after = now();
        let next = validator.health().next_refresh_unix.unwrap();
        let low = before + expected * 9 / 10 - 1;
        let high = after + expected * 11 / 10 + 1;
        assert!(
            (low..=high).contains(&next),
            "{cache_control:?}: next refresh in {}s, expected {expected}s +-10%",
            next as i64 - before as i64
        );
    }
}

// ------------------------------------------------ stale keys and max age

#[tokio::test]
async fn keys_past_the_max_age_get_503_with_retry_after_then_recover() {
    let issuer = TestIssuer::start().await;
    let validator = fast(&issuer, Duration::from_millis(100))
        .http_timeout(Duration::from_millis(200))
        .max_key_age(Duration::from_secs(2))
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    let cached = token_for(&issuer, &issuer.key, "cached");
    assert_eq!(call(&app, &cached).await.status, StatusCode::OK);

    issuer.provider.shutdown().await;
    // Stale but within the max age: still served.
    wait_for(Duration::from_secs(3), "a failed refresh", || {
        let h = validator.health();
        async move { h.last_error.is_some() }
    })
    .await;
    assert_eq!(validator.health().status, HealthStatus::Stale);
    let token = token_for(&issuer, &issuer.key, "stale");
    assert_eq!(call(&app, &token).await.status, StatusCode::OK);

    wait_for(Duration::from_secs(6), "the keys to expire", || {
        let h = validator.health();
        async move { h.status == HealthStatus::Expired }
    })
    .await;
    let health = validator.health();
    assert!(!health.is_ready());
    assert!(health.last_error.is_some());
    for token in [cached.clone(), token_for(&issuer, &issuer.key, "expired")] {
        let answer = call(&app, &token).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
        assert!(answer.retry_after.is_some(), "{answer:?}");
        assert!(
            !answer.is_invalid_token(),
            "the token is not at fault: {answer:?}"
        );
    }

    issuer.provider.restart().await;
    wait_for(Duration::from_secs(5), "recovery", || {
        let h = validator.health();
        async move { h.status == HealthStatus::Ok }
    })
    .await;
    assert!(validator.health().is_ready());
    assert_eq!(call(&app, &cached).await.status, StatusCode::OK);
}

// ---------------------------------------------------------------- startup

#[tokio::test]
async fn startup_fails_clearly_when_the_first_fetch_fails() {
    let issuer = TestIssuer::start().await;
    issuer.provider.set(&issuer.jwks_path(), Reply::status(503));
    let error = fast(&issuer, Duration::from_secs(3600))
        .build()
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&issuer.jwks_url), "{message}");
    assert!(message.contains("503"), "{message}");

    issuer.provider.shutdown().await;
    let error = fast(&issuer, Duration::from_secs(3600))
        .build()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("connection failed"), "{error}");
    assert_eq!(error.kind(), ErrorKind::Config);
}

#[tokio::test]
async fn start_without_keys_answers_503_until_keys_arrive() {
    let issuer = TestIssuer::start().await;
    issuer.provider.set(&issuer.jwks_path(), Reply::status(503));
    let validator = fast(&issuer, Duration::from_secs(3600))
        .start_without_keys()
        .build()
        .await
        .expect("starts anyway");
    let app = app(&validator);
    let token = token_for(&issuer, &issuer.key, "early");

    let health = validator.health();
    assert_eq!(health.status, HealthStatus::NoKeys);
    assert!(!health.is_ready());
    assert!(health.last_error.as_deref().unwrap().contains("503"));
    let answer = call(&app, &token).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
    assert!(answer.retry_after.is_some());
    assert!(!answer.is_invalid_token());

    // The task keeps retrying with backoff.
    wait_for(Duration::from_secs(3), "several retries", || {
        let hits = issuer.provider.hits(&issuer.jwks_path());
        async move { hits >= 3 }
    })
    .await;
    assert_eq!(
        call(&app, &token).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    republish(&issuer, |r| r);
    wait_for(Duration::from_secs(5), "keys to arrive", || {
        let app = app.clone();
        let token = token.clone();
        async move { call(&app, &token).await.status == StatusCode::OK }
    })
    .await;
    assert_eq!(validator.health().status, HealthStatus::Ok);
}

// -------------------------------------------------------------- discovery

#[tokio::test]
async fn discovery_finds_the_jwks_and_rotation_works_through_it() {
    let mut issuer = TestIssuer::start().await;
    let validator = Validator::discover(&issuer.issuer)
        .audience(AUDIENCE)
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    assert_eq!(issuer.provider.hits(&issuer.discovery_path()), 1);
    assert_eq!(issuer.provider.hits(&issuer.jwks_path()), 1);

    issuer.rotate(KeyKind::Rsa2048, "demo-rsa-2");
    let token = token_for(&issuer, &issuer.key, "rotated");
    assert_eq!(call(&app, &token).await.status, StatusCode::OK);
    assert_eq!(issuer.provider.hits(&issuer.jwks_path()), 2);
    // The discovered JWKS URL is remembered.
    assert_eq!(issuer.provider.hits(&issuer.discovery_path()), 1);
}

#[tokio::test]
async fn discovery_issuer_mismatch_is_a_build_error_naming_both_issuers() {
    let issuer = TestIssuer::start().await;
    let impostor = "https://impostor.example.test/realms/demo";
    let mut doc = discovery_document(&issuer.issuer);
    doc["issuer"] = impostor.into();
    issuer
        .provider
        .set(&issuer.discovery_path(), Reply::json(&doc));

    let error = Validator::discover(&issuer.issuer)
        .audience(AUDIENCE)
        .build()
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains(impostor), "{message}");
    assert!(message.contains(&issuer.issuer), "{message}");
    assert_eq!(issuer.provider.hits(&issuer.jwks_path()), 0);

    // A trailing slash is a different issuer too.
    issuer.provider.set(
        &issuer.discovery_path(),
        Reply::json(&discovery_document(&issuer.issuer)),
    );
    let with_slash = format!("{}/", issuer.issuer);
    let error = Validator::discover(&with_slash)
        .audience(AUDIENCE)
        .build()
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&format!("{with_slash:?}")), "{message}");
    assert!(
        message.contains(&format!("{:?}", issuer.issuer)),
        "{message}"
    );
}

#[tokio::test]
async fn provider_url_fetches_internally_but_iss_stays_the_public_issuer() {
    let provider = MockProvider::start().await;
    let public = "https://auth.example.test/realms/demo";
    let internal = provider.url("/realms/demo");
    let key = TestKey::generate(KeyKind::EcP256, "kc-1");
    // What Keycloak with a frontend URL serves on its internal address.
    provider.set(
        &MockProvider::discovery_path("/realms/demo"),
        Reply::json(&discovery_document(public)),
    );
    provider.set(
        &MockProvider::jwks_path("/realms/demo"),
        Reply::jwks(&[&key]),
    );

    let validator = Validator::discover(public)
        .provider_url(&internal)
        .audience(AUDIENCE)
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    assert_eq!(validator.issuers().collect::<Vec<_>>(), [public.to_owned()]);
    assert_eq!(
        provider.hits(&MockProvider::discovery_path("/realms/demo")),
        1
    );
    assert_eq!(provider.hits(&MockProvider::jwks_path("/realms/demo")), 1);

    let good = TokenBuilder::new()
        .claims(standard_claims(public, AUDIENCE))
        .sign(&key);
    assert_eq!(call(&app, &good).await.status, StatusCode::OK);
    let internal_iss = TokenBuilder::new()
        .claims(standard_claims(&internal, AUDIENCE))
        .sign(&key);
    let answer = call(&app, &internal_iss).await;
    assert!(answer.is_invalid_token(), "{answer:?}");
    assert!(answer.challenge.unwrap().contains("invalid issuer"));
    // Still the public issuer that the discovery document must name.
    provider.set(
        &MockProvider::discovery_path("/realms/demo"),
        Reply::json(&discovery_document(&internal)),
    );
    let error = Validator::discover(public)
        .provider_url(&internal)
        .audience(AUDIENCE)
        .build()
        .await
        .unwrap_err();
    assert!(error.to_string().contains(public), "{error}");
}

// ------------------------------------------------------ task lifetime

#[tokio::test]
async fn no_refresh_task_survives_dropping_the_validator() {
    let issuer = TestIssuer::start().await;
    let validator = fast(&issuer, Duration::from_millis(30))
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    let token = token_for(&issuer, &issuer.key, "x");
    assert_eq!(call(&app, &token).await.status, StatusCode::OK);
    let path = issuer.jwks_path();
    wait_for_hits(&issuer, &path, 4, "the timer to refresh").await;

    drop(app);
    drop(validator);
    assert_no_fetch_after_drop(&issuer, &path, "refreshes continued after drop").await;
}

#[tokio::test]
async fn no_retry_task_survives_dropping_a_validator_started_without_keys() {
    let issuer = TestIssuer::start().await;
    issuer.provider.set(&issuer.jwks_path(), Reply::status(500));
    let validator = fast(&issuer, Duration::from_millis(30))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(20))
        .start_without_keys()
        .build()
        .await
        .unwrap();
    let path = issuer.jwks_path();
    wait_for_hits(&issuer, &path, 4, "the retries").await;

    drop(validator);
    assert_no_fetch_after_drop(&issuer, &path, "retries continued after drop").await;
}

// ------------------------------------------------ examples/protected_api.rs

async fn healthz(State(validator): State<Validator>) -> (StatusCode, Json<Health>) {
    let health = validator.health();
    let status = if health.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(health))
}

/// The app `examples/protected_api.rs` builds, against a loopback issuer.
#[tokio::test]
async fn the_protected_api_example_works_against_a_test_issuer() {
    let issuer = TestIssuer::start().await;
    let validator = Validator::discover(issuer.issuer.clone())
        .audience(AUDIENCE.to_string())
        .build()
        .await
        .unwrap();
    let app: Router = Router::new()
        .route("/me", get(me))
        .route_layer(validator.layer::<StandardClaims>())
        .route("/healthz", get(healthz))
        .with_state(validator);

    let token = token_for(&issuer, &issuer.key, "alice");
    let answer = call(&app, &token).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "alice")
    );
    let answer = fetch_oneshot(&app, "/healthz", &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    let health: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["kids"], serde_json::json!(["demo-rsa-1"]));
    assert_eq!(health["key_count"], 1);
    let no_token = fetch_oneshot(&app, "/me", &[]).await;
    assert_eq!(no_token.status, StatusCode::UNAUTHORIZED);
}

// ------------------------------------------------------------ odd knobs

#[tokio::test]
async fn huge_timer_knobs_do_not_panic() {
    let mut issuer = TestIssuer::start().await;
    republish(&issuer, |r| {
        r.with_cache_control("max-age=18446744073709551615")
    });
    let validator = validator_for(&issuer, AUDIENCE)
        .default_refresh_interval(Duration::MAX)
        .refresh_interval_bounds(Duration::MAX, Duration::MAX)
        .retry_backoff(Duration::MAX, Duration::MAX)
        .kid_refetch_cooldown(Duration::MAX)
        .max_key_age(Duration::MAX)
        .http_timeout(Duration::MAX)
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    let health = validator.health();
    assert_eq!(health.status, HealthStatus::Ok);
    issuer.rotate(KeyKind::EcP256, "demo-ec-2");
    let rotated = token_for(&issuer, &issuer.key, "rotated");
    assert_eq!(call(&app, &rotated).await.status, StatusCode::OK);
    let stranger = TestKey::generate(KeyKind::EcP256, "stranger");
    let forged = token_for(&issuer, &stranger, "forged");
    assert!(call(&app, &forged).await.is_invalid_token());
    let old = token_for(&issuer, &issuer.published_keys()[1], "old");
    assert_eq!(call(&app, &old).await.status, StatusCode::OK);
}

// ---------------------------------------------------------------- tracing

/// Records this crate's events (level and rendered fields) on the thread
/// it is the default for; a current-thread runtime keeps every task there.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(tracing::Level, String)>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let meta = event.metadata();
        if meta.target().starts_with("oidc_bearer") {
            let mut fields = Fields(String::new());
            event.record(&mut fields);
            self.0.lock().unwrap().push((*meta.level(), fields.0));
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

impl Recorder {
    fn take(&self) -> Vec<(tracing::Level, String)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn refreshes_log_info_when_kids_change_and_warn_on_failure() {
    let recorder = Recorder::default();
    // tracing computes a callsite's interest with the registering thread's
    // default subscriber while only one subscriber exists, so a callsite
    // first hit by another test's thread would be cached as "never". A
    // second, idle subscriber makes it ask every registered one instead.
    let _idle = tracing::Dispatch::new(Recorder::default());
    let _guard = tracing::subscriber::set_default(recorder.clone());
    tracing::callsite::rebuild_interest_cache();
    let mut issuer = TestIssuer::start().await;
    let validator = fast(&issuer, Duration::from_secs(3600))
        // Every unknown kid may refetch: the forged one below shows a failure.
        .kid_refetch_cooldown(Duration::ZERO)
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    let events = recorder.take();
    assert!(
        events
            .iter()
            .any(|(l, f)| *l == tracing::Level::INFO && f.contains("demo-rsa-1")),
        "first keys logged at info: {events:?}"
    );

    issuer.rotate(KeyKind::EcP256, "demo-ec-2");
    let rotated = token_for(&issuer, &issuer.key, "rotated");
    assert_eq!(call(&app, &rotated).await.status, StatusCode::OK);
    let events = recorder.take();
    let changed: Vec<_> = events
        .iter()
        .filter(|(l, f)| *l == tracing::Level::INFO && f.contains("demo-ec-2"))
        .collect();
    assert_eq!(changed.len(), 1, "{events:?}");
    assert!(
        changed[0].1.contains("demo-rsa-1"),
        "previous kids too: {changed:?}"
    );

    issuer.provider.set(&issuer.jwks_path(), Reply::status(500));
    let stranger = TestKey::generate(KeyKind::EcP256, "stranger");
    let forged = token_for(&issuer, &stranger, "forged");
    assert!(call(&app, &forged).await.is_invalid_token());
    let events = recorder.take();
    let warned: Vec<_> = events
        .iter()
        .filter(|(l, _)| *l == tracing::Level::WARN)
        .collect();
    assert_eq!(warned.len(), 1, "{events:?}");
    assert!(warned[0].1.contains("500"), "{warned:?}");
    // Nothing logged carries a token or its claims.
    for token in [&rotated, &forged] {
        for part in token.split('.') {
            assert!(events.iter().all(|(_, f)| !f.contains(part)), "{events:?}");
        }
    }
}

#[tokio::test]
async fn provider_url_with_another_key_source_is_a_build_error() {
    let issuer = TestIssuer::start().await;
    let error = validator_for(&issuer, AUDIENCE)
        .provider_url(issuer.provider.url("/realms/demo"))
        .build()
        .await
        .expect_err("provider_url() next to jwks_url() is ambiguous");
    assert!(
        error.to_string().contains("provider_url()") && error.to_string().contains("jwks_url()"),
        "{error}"
    );
    assert_eq!(
        issuer.provider.total_hits(),
        0,
        "nothing is fetched before the configuration is known to be sound"
    );
}

#[tokio::test]
async fn a_kid_miss_that_joins_a_timer_refresh_of_the_old_keys_fetches_once_more() {
    let mut issuer = TestIssuer::start().await;
    // Every JWKS answer takes 600 ms, so the timer's refresh is still in
    // flight when the provider starts publishing a new key.
    republish(&issuer, |r| r.with_delay(Duration::from_millis(600)));
    let validator = fast(&issuer, Duration::from_millis(800))
        .http_timeout(Duration::from_secs(3))
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    let path = issuer.jwks_path();
    wait_for_hits(&issuer, &path, 2, "the timer refresh to start").await;
    // The timer's request has arrived and will be answered with the old
    // set; the new key is published (without delay) only now.
    issuer.rotate(KeyKind::EcP256, "demo-ec-2");
    let rotated = token_for(&issuer, &issuer.key, "rotated");

    let answer = call(&app, &rotated).await;

    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.challenge);
    assert_eq!(
        issuer.provider.hits(&path),
        3,
        "the timer refresh, then the kid's own refetch"
    );
}

#[test]
fn unknown_kids_do_not_wait_once_the_refresh_task_is_gone() {
    // A validator built on a runtime that has since shut down (e.g. one
    // shared through a static across `#[tokio::test]`s): its refresh task
    // is gone, so a miss must not wait for a fetch nobody will run.
    let built = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (issuer, validator) = built.block_on(async {
        let issuer = TestIssuer::start().await;
        let validator = fast(&issuer, Duration::from_secs(60))
            .http_timeout(Duration::from_secs(3))
            .build()
            .await
            .unwrap();
        (issuer, validator)
    });
    let stranger = TestKey::generate(KeyKind::EcP256, "stranger");
    let forged = token_for(&issuer, &stranger, "forged");
    let valid = token_for(&issuer, &issuer.key, "alice");
    assert_eq!(validator.health().last_error, None);
    drop(built);
    // Said in `health()`, for readiness endpoints, not as a warning at
    // every ordinary shutdown.
    let health = validator.health();
    assert!(
        health
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("refresh task ended")),
        "{health:?}"
    );

    let other = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    other.block_on(async {
        let started = Instant::now();
        let refused = validator.verify::<StandardClaims>(&forged).await;
        assert!(
            matches!(refused, Err(oidc_bearer::Error::UnknownKey)),
            "{refused:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the miss waited {:?} for a fetch that cannot happen",
            started.elapsed()
        );
        assert!(validator.verify::<StandardClaims>(&valid).await.is_ok());
    });
}

#[tokio::test]
async fn zero_refresh_knobs_are_build_errors() {
    let issuer = TestIssuer::start().await;
    let zero = Duration::ZERO;
    for (builder, knob) in [
        (fast(&issuer, zero), "default_refresh_interval()"),
        (
            fast(&issuer, Duration::from_secs(1)).refresh_interval_bounds(zero, zero),
            "refresh_interval_bounds()",
        ),
        (
            fast(&issuer, Duration::from_secs(1)).retry_backoff(zero, zero),
            "retry_backoff()",
        ),
    ] {
        let error = builder.build().await.expect_err(knob);
        assert!(error.to_string().contains(knob), "{error}");
    }
    assert_eq!(issuer.provider.total_hits(), 0);
}

/// Serves `jwks` on `issuer`'s JWKS path and waits until the validator has
/// fetched it (its next timer refresh).
async fn publish_and_wait(issuer: &TestIssuer, validator: &Validator, jwks: serde_json::Value) {
    let before = validator.health().fetches;
    issuer.provider.set(&issuer.jwks_path(), Reply::json(&jwks));
    wait_for(Duration::from_secs(5), "the next refresh", || {
        let fetches = validator.health().fetches;
        async move { fetches >= before + 2 }
    })
    .await;
}

#[tokio::test]
async fn a_cached_token_is_refused_once_its_kidless_key_is_replaced() {
    let issuer = TestIssuer::start().await;
    let old = TestKey::generate(KeyKind::EcP256, "unused");
    let new = TestKey::generate(KeyKind::EcP256, "unused");
    let kidless = |key: &TestKey| {
        let mut jwk = key.public_jwk();
        jwk.as_object_mut().unwrap().remove("kid");
        serde_json::json!({ "keys": [jwk] })
    };
    issuer
        .provider
        .set(&issuer.jwks_path(), Reply::json(&kidless(&old)));
    let validator = fast(&issuer, Duration::from_millis(50))
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    let token = issuer
        .builder(AUDIENCE)
        .claim("sub", "alice")
        .without_kid()
        .sign(&old);
    assert_eq!(call(&app, &token).await.status, StatusCode::OK);
    assert_eq!(validator.cached_tokens(), 1);

    publish_and_wait(&issuer, &validator, kidless(&new)).await;

    let answer = call(&app, &token).await;
    assert!(answer.is_invalid_token(), "{answer:?}");
}

#[tokio::test]
async fn a_cached_token_is_refused_once_its_kid_names_another_key() {
    let issuer = TestIssuer::start().await;
    let old = TestKey::generate(KeyKind::EcP256, "k1");
    let reused = TestKey::generate(KeyKind::EcP256, "k1");
    issuer
        .provider
        .set(&issuer.jwks_path(), Reply::jwks(&[&old]));
    let validator = fast(&issuer, Duration::from_millis(50))
        .build()
        .await
        .unwrap();
    let app = app(&validator);
    let token = token_for(&issuer, &old, "alice");
    assert_eq!(call(&app, &token).await.status, StatusCode::OK);
    assert_eq!(validator.cached_tokens(), 1);

    publish_and_wait(&issuer, &validator, jwks(&[&reused])).await;

    let answer = call(&app, &token).await;
    assert!(answer.is_invalid_token(), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_verify_asks_for_the_refetch_without_waiting_and_floods_cost_one_fetch() {
    let mut issuer = TestIssuer::start().await;
    let validator = fast(&issuer, Duration::from_secs(60))
        .build()
        .await
        .unwrap();
    let path = issuer.jwks_path();
    issuer.rotate(KeyKind::EcP256, "demo-ec-2");
    let rotated = token_for(&issuer, &issuer.key, "rotated");

    // From a plain thread, as a synchronous interceptor would call it.
    let sync = validator.clone();
    let token = rotated.clone();
    let first = std::thread::spawn(move || sync.try_verify::<StandardClaims>(&token))
        .join()
        .unwrap();
    assert!(
        matches!(first, Err(oidc_bearer::Error::UnknownKey)),
        "{first:?}"
    );
    wait_for(Duration::from_secs(5), "the requested refetch", || {
        let kids = kids(&validator.health());
        async move { kids.iter().any(|k| k == "demo-ec-2") }
    })
    .await;
    assert_eq!(issuer.provider.hits(&path), 2, "startup, then one refetch");
    assert!(validator.try_verify::<StandardClaims>(&rotated).is_ok());

    // Within the cooldown that refetch started, random kids cost nothing.
    for i in 0..STORM {
        let stranger = TokenBuilder::new()
            .header("kid", format!("random-{i}"))
            .claims(oidc_bearer_testkit::standard_claims(
                &issuer.issuer,
                AUDIENCE,
            ))
            .sign_with(&issuer.key, "ES256");
        assert!(matches!(
            validator.try_verify::<StandardClaims>(&stranger),
            Err(oidc_bearer::Error::UnknownKey)
        ));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    eprintln!(
        "try_verify storm: {} JWKS fetches in all",
        issuer.provider.hits(&path)
    );
    assert_eq!(issuer.provider.hits(&path), 2);
}
