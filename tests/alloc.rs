//! Heap allocations per verified request, counted by a global allocator.
//!
//! Counting is per thread and only inside `measure`, so the provider, the
//! refresh task and the test harness do not show up in the figures. Run
//! with `--nocapture` to see them:
//!
//! ```text
//! cargo test --all-features --test alloc -- --nocapture
//! ```

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::header::AUTHORIZATION;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use oidc_bearer::{Claims, Validator};
use oidc_bearer_testkit::{TestIssuer, b64url_decode};
use serde::Deserialize;
use tower::ServiceExt as _;

#[path = "common/alloc_meter.rs"]
mod alloc_meter;
use alloc_meter::{Allocs, measure};

/// Polls a future that must complete without waiting (a verification
/// whose key is known never does), inside the measured region.
fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("the verification waited for something"),
    }
}

/// Claims that allocate nothing to build: numbers and a bool only. What the
/// cached path costs beyond the claims type is then exactly what is counted.
#[derive(Debug, Deserialize, PartialEq)]
struct Numeric {
    exp: i64,
    iat: i64,
    nbf: i64,
}

/// A usual claims type: two owned strings.
#[derive(Debug, Deserialize)]
struct Typical {
    sub: String,
    scope: Option<String>,
}

const AUDIENCE: &str = "alloc-api";

async fn build_validator(issuer: &TestIssuer, cache: usize) -> Validator {
    Validator::builder()
        .issuer(&issuer.issuer)
        .audience(AUDIENCE)
        .jwks_url(&issuer.jwks_url)
        .token_cache_size(cache)
        .build()
        .await
        .expect("validator")
}

async fn setup(cache: usize) -> (TestIssuer, Validator, String) {
    let issuer = TestIssuer::start().await;
    let validator = build_validator(&issuer, cache).await;
    let token = issuer.token(AUDIENCE);
    (issuer, validator, token)
}

/// What building `C` from the token's claims costs by itself: the part of
/// a verification that belongs to the claims type, not to this crate.
fn claims_type_cost<C: serde::de::DeserializeOwned>(token: &str) -> Allocs {
    let payload = b64url_decode(token.split('.').nth(1).expect("payload"));
    let (claims, allocs) = measure(|| Claims::new(serde_json::from_slice::<C>(&payload)));
    claims.0.as_ref().as_ref().expect("claims parse");
    allocs
}

#[tokio::test(flavor = "current_thread")]
async fn cache_hit_allocates_nothing() {
    let (_issuer, validator, token) = setup(10_000).await;
    // First use: verifies, caches, and lets per-thread state settle.
    let first = validator.try_verify::<Numeric>(&token).expect("valid");
    assert_eq!(validator.cached_tokens(), 1);
    let _ = validator.try_verify::<Numeric>(&token).expect("valid");

    let (hit, sync) = measure(|| validator.try_verify::<Numeric>(&token));
    let hit = hit.expect("valid");
    assert!(
        Arc::ptr_eq(hit.as_arc(), first.as_arc()),
        "served from the cache"
    );
    let (hit, asynch) = measure(|| ready(validator.verify::<Numeric>(&token)));
    assert!(Arc::ptr_eq(hit.expect("valid").as_arc(), first.as_arc()));
    println!("cache hit, try_verify: {sync:?}; verify: {asynch:?}");
    assert_eq!(sync, Allocs { count: 0, bytes: 0 }, "try_verify hit");
    assert_eq!(asynch, Allocs { count: 0, bytes: 0 }, "verify hit");

    // A claims type that owns strings costs nothing more on a hit either:
    // the claims are shared behind the Arc, never rebuilt.
    validator.try_verify::<Typical>(&token).expect("valid");
    let (hit, typical) = measure(|| validator.try_verify::<Typical>(&token));
    assert_eq!(hit.expect("valid").sub, "user-1");
    assert_eq!(typical.count, 0, "hit with owned strings: {typical:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn uncached_verification_allocates_little_beyond_the_claims() {
    let (_issuer, validator, token) = setup(0).await;
    validator.try_verify::<Typical>(&token).expect("valid");
    let (claims, numeric) = measure(|| validator.try_verify::<Numeric>(&token));
    claims.expect("valid");
    let (claims, typical) = measure(|| validator.try_verify::<Typical>(&token));
    assert_eq!(claims.expect("valid").scope.as_deref(), Some("read write"));
    let own_numeric = claims_type_cost::<Numeric>(&token);
    let own_typical = claims_type_cost::<Typical>(&token);
    println!(
        "uncached verify: Numeric {numeric:?} (claims type alone {own_numeric:?}); \
         Typical {typical:?} (claims type alone {own_typical:?}); token {} bytes",
        token.len()
    );
    // The claims type's own allocations differ; the crate's share does not.
    assert_eq!(
        numeric.count - own_numeric.count,
        typical.count - own_typical.count,
        "the crate's own allocations depend on the claims type"
    );
    // The crate's share: nothing. The JOSE header, payload and signature
    // are decoded on the stack, `kid` and `typ` borrowed, the claims
    // parsed once. A regression (a second JSON tree, a per-request key
    // parse, a copied token or header) shows up here.
    let crate_share = numeric.count - own_numeric.count;
    assert_eq!(
        crate_share, 0,
        "uncached verification allocates {crate_share} times beyond the claims type"
    );
    // Nothing near the size of the token, a parsed key or a JSON tree.
    // (`own_numeric` wraps a `Result`, so its `Arc` may even be larger.)
    assert!(
        numeric.bytes < own_numeric.bytes + token.len() as u64 / 2,
        "{numeric:?} for a {}-byte token",
        token.len()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn cache_miss_then_insert_is_counted_once() {
    let (issuer, validator, _) = setup(10_000).await;
    let token = issuer
        .builder(AUDIENCE)
        .claim("jti", "miss")
        .sign(&issuer.key);
    let own = claims_type_cost::<Numeric>(&token);
    let (claims, miss) = measure(|| validator.try_verify::<Numeric>(&token));
    claims.expect("valid");
    let (claims, hit) = measure(|| validator.try_verify::<Numeric>(&token));
    claims.expect("valid");
    println!("cache on: first sight {miss:?} (claims type alone {own:?}), then {hit:?}");
    assert_eq!(hit.count, 0);
    // The insert keeps one copy of the token, so the miss allocates at
    // least its length more than the claims need.
    assert!(miss.bytes >= own.bytes + token.len() as u64, "{miss:?}");
}

async fn plain() -> &'static str {
    "ok"
}

async fn protected(claims: Claims<Numeric>) -> &'static str {
    assert!(claims.exp > 0);
    "ok"
}

/// One request through `router`, counted; the response must be 200.
fn through(router: &Router, token: &str) -> Allocs {
    let request = Request::builder()
        .uri("/")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    let router = router.clone();
    let (response, allocs) = measure(|| ready(router.oneshot(request)));
    assert_eq!(response.expect("infallible").status(), StatusCode::OK);
    allocs
}

#[tokio::test(flavor = "current_thread")]
async fn through_the_layer() {
    let (issuer, validator, token) = setup(10_000).await;
    let uncached_validator = build_validator(&issuer, 0).await;
    // axum boxes every layered route again; a layer that does nothing
    // shows that share, so what is left is the bearer layer's own.
    let bare = Router::new()
        .route("/", get(plain))
        .layer(tower::layer::util::Identity::new());
    let cached = Router::new()
        .route("/", get(protected))
        .layer(validator.layer::<Numeric>());
    let uncached = Router::new()
        .route("/", get(protected))
        .layer(uncached_validator.layer::<Numeric>());
    // Settle per-thread state and the cache.
    for router in [&bare, &cached, &uncached] {
        through(router, &token);
        through(router, &token);
    }
    let base = through(&bare, &token);
    let hit = through(&cached, &token);
    let miss = through(&uncached, &token);
    // Handing claims to the handler means one `Extensions::insert`.
    let claims = validator.try_verify::<Numeric>(&token).expect("valid");
    let mut extensions = axum::http::Extensions::new();
    let ((), insert) = measure(|| {
        extensions.insert(claims.clone());
    });
    println!(
        "request through a do-nothing layer: {base:?}; bearer layer, cache hit: {hit:?} \
         (+{} allocs, +{} bytes); cache off: {miss:?} (+{} allocs, +{} bytes); \
         of which Extensions::insert of the claims: {insert:?}",
        hit.count - base.count,
        hit.bytes - base.bytes,
        miss.count - base.count,
        miss.bytes - base.bytes,
    );
    // A hit costs what putting the claims into the request costs, and
    // nothing for the verification itself.
    assert_eq!(
        hit.count - base.count,
        insert.count,
        "the layer allocates beyond Extensions::insert on a cache hit"
    );
    // Without the cache, a request costs one allocation more: the claims'
    // `Arc`. The verification itself allocates nothing.
    assert_eq!(
        miss.count - hit.count,
        1,
        "the layer allocates beyond the claims' Arc when the cache is off"
    );
}

/// One DPoP request through `router`, counted; the response must be 200.
fn dpop_through(router: &Router, token: &str, proof: &str) -> Allocs {
    let request = Request::builder()
        .uri("https://api.example.com/")
        .header(AUTHORIZATION, format!("DPoP {token}"))
        .header("dpop", proof)
        .body(Body::empty())
        .expect("request");
    let router = router.clone();
    let (response, allocs) = measure(|| ready(router.oneshot(request)));
    let response = response.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK, "{response:?}");
    allocs
}

/// What a DPoP request allocates beyond a bearer request with the same
/// claims (RFC 9449 §4.3's checks and the replay check). The proof is
/// decoded on the stack and borrowed, its key parsed once per client key,
/// its thumbprint hashed as it is written, `htu` compared in place, `ath`
/// decoded on the stack, the `jti` kept as a fixed-size digest. What is
/// left: the marker `Require` and `StepUp` read to answer with a DPoP
/// challenge and, when the token is not cached, the bound token's `cnf`
/// object captured in the one pass over its claims. (The replay store's
/// shards allocate when they grow, amortised: the fewest of several
/// requests is taken.)
#[tokio::test(flavor = "current_thread")]
async fn a_dpop_request_allocates_little_beyond_a_bearer_one() {
    use oidc_bearer::Dpop;
    use oidc_bearer::dpop::{MemoryReplayStore, jwk_thumbprint};
    use oidc_bearer_testkit::{KeyKind, TestKey, dpop_proof};
    let issuer = TestIssuer::start().await;
    let client = TestKey::generate(KeyKind::EcP256, "client");
    let jkt = jwk_thumbprint(&client.public_jwk().to_string()).expect("thumbprint");
    let token = issuer
        .builder(AUDIENCE)
        .claim("cnf", serde_json::json!({ "jkt": jkt }))
        .sign(&issuer.key);
    let unbound = issuer.token(AUDIENCE);
    let proofs: Vec<String> = (0..64)
        .map(|_| dpop_proof(&client, "GET", "https://api.example.com/", Some(&token)).sign(&client))
        .collect();
    let mut extra = Vec::new();
    for (cache, allowed) in [(10_000, 1), (0, 2)] {
        let validator = build_validator(&issuer, cache).await;
        let bearer = Router::new()
            .route("/", get(protected))
            .layer(validator.layer::<Numeric>());
        let dpop = Router::new().route("/", get(protected)).layer(
            validator.layer::<Numeric>().dpop(
                Dpop::allowed()
                    .external_url("https://api.example.com")
                    .replay_store(MemoryReplayStore::new(1024)),
            ),
        );
        // Settle per-thread state, the cache and the proof key.
        for proof in &proofs[..8] {
            through(&bearer, &unbound);
            dpop_through(&dpop, &token, proof);
        }
        let bearer_allocs = through(&bearer, &unbound);
        let dpop_allocs = proofs[8..]
            .iter()
            .map(|proof| dpop_through(&dpop, &token, proof))
            .min_by_key(|a| a.count)
            .expect("measured");
        let more = dpop_allocs.count as i64 - bearer_allocs.count as i64;
        println!(
            "token cache {cache}: bearer request {bearer_allocs:?}; DPoP request {dpop_allocs:?} \
             (+{more} allocs, +{} bytes)",
            dpop_allocs.bytes as i64 - bearer_allocs.bytes as i64,
        );
        extra.push((cache, more, allowed));
    }
    for (cache, more, allowed) in extra {
        assert!(
            more <= allowed,
            "token cache {cache}: a DPoP request allocates {more} times more than a bearer one"
        );
    }
}
