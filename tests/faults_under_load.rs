//! Faults under load (issue 11, item 8): a steady stream of requests with
//! valid tokens through the layer, over HTTP on 127.0.0.1, while the JWKS
//! server rotates keys, goes down, answers garbage, hangs and comes back.
//!
//! Expected and asserted: no valid token refused, no 5xx (keys were loaded
//! at start), every hostile token refused, and the number of JWKS fetches
//! within what the refresh interval, the retry backoff and the unknown-kid
//! cooldown allow. Bounded: about 11 s of load, 60 s at most in all.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::{Router, routing::get};
use oidc_bearer::{Claims, StandardClaims};
use oidc_bearer_testkit::{KeyKind, Reply, TestIssuer, TestKey, now};
use reqwest::StatusCode;

mod common;
use common::{bearer, serve, validator_for};

const AUDIENCE: &str = "load-api";
const CLIENTS: usize = 4;
/// Pause between two requests of one client: about 1 500 requests a second
/// in all, on a machine shared with other work.
const PAUSE: Duration = Duration::from_millis(2);
const REFRESH: Duration = Duration::from_millis(400);
const BACKOFF: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_millis(400);
const TIMEOUT: Duration = Duration::from_millis(500);
const COOLDOWN: Duration = Duration::from_secs(1);
const PHASE: Duration = Duration::from_millis(1500);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Valid,
    Hostile,
}

#[derive(Debug)]
struct Sent {
    kind: Kind,
    status: StatusCode,
    challenge: Option<String>,
    phase: &'static str,
}

/// Tokens the clients draw from; valid ones are added as keys are published.
#[derive(Default)]
struct Pool {
    valid: RwLock<Vec<String>>,
    hostile: Vec<String>,
    phase: RwLock<&'static str>,
}

fn tokens(issuer: &TestIssuer, key: &TestKey, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            issuer
                .builder(AUDIENCE)
                .claim("sub", format!("{}-{i}", key.kid()))
                .sign(key)
        })
        .collect()
}

async fn client(id: usize, base: String, pool: Arc<Pool>, stop: Arc<AtomicBool>) -> Vec<Sent> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut sent = Vec::new();
    let mut n = id;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        // One request in eight is hostile.
        let (kind, token) = if n.is_multiple_of(8) {
            (
                Kind::Hostile,
                pool.hostile[n / 8 % pool.hostile.len()].clone(),
            )
        } else {
            let valid = pool.valid.read().unwrap();
            (Kind::Valid, valid[n % valid.len()].clone())
        };
        let phase = *pool.phase.read().unwrap();
        let response = http
            .get(format!("{base}/me"))
            .header("authorization", bearer(&token))
            .send()
            .await
            .expect("the API answers");
        sent.push(Sent {
            kind,
            status: response.status(),
            challenge: response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned()),
            phase,
        });
        tokio::time::sleep(PAUSE).await;
    }
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_tokens_keep_working_while_the_jwks_server_misbehaves() {
    tokio::time::timeout(Duration::from_secs(60), scenario())
        .await
        .expect("the load test finished within 60 s");
}

async fn scenario() {
    let mut issuer = TestIssuer::start().await;
    let started = Instant::now();
    let validator = validator_for(&issuer, AUDIENCE)
        .default_refresh_interval(REFRESH)
        .refresh_interval_bounds(Duration::from_millis(10), Duration::from_secs(60))
        .retry_backoff(BACKOFF, BACKOFF_MAX)
        .http_timeout(TIMEOUT)
        .kid_refetch_cooldown(COOLDOWN)
        // Every request verifies against the key snapshot of the moment.
        .token_cache_size(0)
        .build()
        .await
        .expect("keys load at start");
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = Router::new()
        .route(
            "/me",
            get(move |_: Claims<StandardClaims>| async move {
                counter.fetch_add(1, Ordering::Relaxed);
            }),
        )
        .layer(validator.layer::<StandardClaims>());
    let api = serve(app).await;

    let stranger = TestKey::generate(KeyKind::EcP256, "stranger");
    let mut hostile = vec![
        // Expired, signed by the real key.
        issuer
            .builder(AUDIENCE)
            .claim("exp", now() - 3600)
            .claim("iat", now() - 7200)
            .sign(&issuer.key),
        // Another audience.
        issuer.token("another-api"),
    ];
    // Signed by a stranger under the real kid: no refetch, bad signature.
    hostile.push(
        issuer
            .builder(AUDIENCE)
            .header("kid", issuer.key.kid())
            .header("alg", "ES256")
            .sign(&stranger),
    );
    let pool = Arc::new(Pool {
        valid: RwLock::new(tokens(&issuer, &issuer.key, 20)),
        hostile,
        phase: RwLock::new("steady"),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| tokio::spawn(client(id, api.base.clone(), pool.clone(), stop.clone())))
        .collect();
    let jwks = issuer.jwks_path();
    let set_phase = |name: &'static str| *pool.phase.write().unwrap() = name;

    tokio::time::sleep(PHASE).await;
    // Rotation: a new key signs; the first requests with it miss and share
    // one refetch.
    set_phase("rotated");
    issuer.rotate(KeyKind::EcP256, "k2");
    let before_rotation = issuer.provider.hits(&jwks);
    pool.valid
        .write()
        .unwrap()
        .extend(tokens(&issuer, &issuer.key, 20));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rotation_fetches = issuer.provider.hits(&jwks) - before_rotation;
    tokio::time::sleep(PHASE - Duration::from_millis(300)).await;

    set_phase("down");
    issuer.provider.shutdown().await;
    tokio::time::sleep(PHASE).await;

    set_phase("garbage");
    issuer.provider.enqueue(&jwks, Reply::status(500));
    issuer
        .provider
        .enqueue(&jwks, Reply::json(&serde_json::json!({"keys": []})));
    issuer.provider.enqueue(
        &jwks,
        Reply::raw(200, "application/json", r#"{"keys":[{"kty""#),
    );
    issuer.provider.set(
        &jwks,
        Reply::raw(200, "text/html", "<html>maintenance</html>"),
    );
    issuer.provider.restart().await;
    tokio::time::sleep(PHASE).await;

    set_phase("hanging");
    let keys = issuer.published_keys();
    let refs: Vec<&TestKey> = keys.iter().collect();
    issuer.provider.set(
        &jwks,
        Reply::jwks(&refs).with_delay(Duration::from_secs(30)),
    );
    tokio::time::sleep(PHASE).await;

    set_phase("back");
    issuer.provider.set(&jwks, Reply::jwks(&refs));
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // Another rotation once the provider is back.
    set_phase("rotated again");
    issuer.rotate(KeyKind::Ed25519, "k3");
    pool.valid
        .write()
        .unwrap()
        .extend(tokens(&issuer, &issuer.key, 20));
    tokio::time::sleep(PHASE).await;

    stop.store(true, Ordering::Relaxed);
    let mut sent = Vec::new();
    for client in clients {
        sent.extend(client.await.unwrap());
    }
    let elapsed = started.elapsed();
    let fetches = issuer.provider.hits(&jwks);

    let valid: Vec<&Sent> = sent.iter().filter(|s| s.kind == Kind::Valid).collect();
    let hostile: Vec<&Sent> = sent.iter().filter(|s| s.kind == Kind::Hostile).collect();
    let refused: Vec<&&Sent> = valid
        .iter()
        .filter(|s| s.status != StatusCode::OK)
        .collect();
    assert!(
        refused.is_empty(),
        "{} of {} valid requests refused, first: {:?}",
        refused.len(),
        valid.len(),
        refused.first()
    );
    let server_errors: Vec<&Sent> = sent.iter().filter(|s| s.status.is_server_error()).collect();
    assert!(server_errors.is_empty(), "5xx: {:?}", server_errors.first());
    for s in &hostile {
        assert_eq!(s.status, StatusCode::UNAUTHORIZED, "{s:?}");
        assert!(
            s.challenge
                .as_deref()
                .is_some_and(|c| c.contains(r#"error="invalid_token""#)),
            "{s:?}"
        );
    }
    assert_eq!(
        calls.load(Ordering::Relaxed),
        valid.len(),
        "the handler ran once per valid request"
    );
    // Every phase saw traffic.
    for phase in [
        "steady",
        "rotated",
        "down",
        "garbage",
        "hanging",
        "back",
        "rotated again",
    ] {
        let n = valid.iter().filter(|s| s.phase == phase).count();
        assert!(n >= 50, "only {n} valid requests while {phase}");
    }

    // The rotation's kid misses, from every client at once, shared one
    // refetch (plus at most one timer refresh in the same 300 ms).
    assert!(
        rotation_fetches <= 2,
        "{rotation_fetches} fetches in the 300 ms after the rotation"
    );
    // Fetch bound. After a success the next refresh waits at least 90 % of
    // REFRESH (jitter); failures come in one streak (down, garbage,
    // hanging: 3 phases plus a fetch timeout), whose retries wait at least
    // 90 % of 100, 200, 400, 400, ... ms (allowing for the streak to break
    // once); unknown-kid refetches come at most once per COOLDOWN; plus the
    // first fetch. Attempts are counted twice: the provider counts the
    // requests it received (none while down), the validator the fetches it
    // finished.
    let secs = elapsed.as_secs_f64();
    let after_success = (secs / (0.9 * REFRESH.as_secs_f64())).ceil() + 1.0;
    let streak = 3.0 * PHASE.as_secs_f64() + TIMEOUT.as_secs_f64();
    let after_failure = 2.0 * 3.0 + (streak / (0.9 * BACKOFF_MAX.as_secs_f64())).ceil();
    let kid_misses = (secs / COOLDOWN.as_secs_f64()).ceil() + 1.0;
    let bound = 1.0 + after_success + after_failure + kid_misses;
    let attempts = validator.health().fetches.max(fetches as u64);
    assert!(
        (attempts as f64) <= bound,
        "{attempts} JWKS fetches in {secs:.1} s, bound {bound}"
    );
    eprintln!(
        "{} requests ({} valid, {} hostile) in {secs:.1} s; {fetches} JWKS requests received, \
         {} fetches finished (bound {bound:.0}); {rotation_fetches} in the 300 ms after the rotation",
        sent.len(),
        valid.len(),
        hostile.len(),
        validator.health().fetches
    );
}

/// The cost of the unknown-kid cooldown, measured: a flood of random kids
/// just before a rotation takes the one refetch the cooldown allows, so the
/// rotated key's first tokens are refused ("unknown key id", not 5xx) until
/// the cooldown ends — and from then on accepted, with one fetch more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_random_kid_flood_delays_a_rotated_key_by_at_most_the_cooldown() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let mut issuer = TestIssuer::start().await;
        let validator = validator_for(&issuer, AUDIENCE)
            .kid_refetch_cooldown(COOLDOWN)
            .build()
            .await
            .unwrap();
        let app = Router::new()
            .route("/me", get(|_: Claims<StandardClaims>| async {}))
            .layer(validator.layer::<StandardClaims>());
        let api = serve(app).await;
        let http = reqwest::Client::new();
        let get = |token: String| {
            let request = http
                .get(format!("{}/me", api.base))
                .header("authorization", bearer(&token));
            async move {
                let response = request.send().await.unwrap();
                let challenge = response
                    .headers()
                    .get("www-authenticate")
                    .map(|v| v.to_str().unwrap().to_owned());
                (response.status(), challenge)
            }
        };
        let jwks = issuer.jwks_path();
        let fetches_before = issuer.provider.hits(&jwks);

        let stranger = TestKey::generate(KeyKind::EcP256, "stranger");
        let flood_started = Instant::now();
        for i in 0..200 {
            let flood = issuer
                .builder(AUDIENCE)
                .header("kid", format!("random-{i}"))
                .sign(&stranger);
            let (status, _) = get(flood).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let flood_done = Instant::now();
        issuer.rotate(KeyKind::EcP256, "k2");
        let rotated = tokens(&issuer, &issuer.key, 1).remove(0);
        let (status, challenge) = get(rotated.clone()).await;
        if flood_started.elapsed() < COOLDOWN {
            // Sent and answered while the flood's refetch holds the cooldown.
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        if status == StatusCode::UNAUTHORIZED {
            assert!(
                challenge
                    .as_deref()
                    .is_some_and(|c| c.contains("unknown key id")),
                "{challenge:?}"
            );
            // Picked up as soon as the cooldown allows the next refetch.
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let (status, _) = get(rotated.clone()).await;
                if status == StatusCode::OK {
                    break;
                }
                assert_eq!(status, StatusCode::UNAUTHORIZED);
                assert!(
                    flood_done.elapsed() < COOLDOWN + Duration::from_secs(2),
                    "the rotated key was still refused {:?} after the flood",
                    flood_done.elapsed()
                );
            }
        }
        // 200 random kids and the rotation: two fetches at most.
        let fetches = issuer.provider.hits(&jwks) - fetches_before;
        assert!(fetches <= 2, "{fetches} fetches");
    })
    .await
    .expect("finished within 30 s");
}
