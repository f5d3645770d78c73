//! The hot path, one criterion group per question (see `BENCHMARKS.md`):
//!
//! - `floor`: the bare signature check with the crate's own backend
//!   (aws-lc-rs `ParsedPublicKey`, key parsed once): the denominator of
//!   every ratio.
//! - `verify`: `Validator::verify` on a token it has not seen (cache off).
//! - `layer`: one request through an axum `Router` with the layer (cache
//!   off) via `oneshot`, and the same router without the layer.
//! - `cached`: the same token again, through the layer and through
//!   `Validator::verify` (default cache).
//! - `keyset`: key lookup with 1, 10, 100 and 1,000 keys in the set.
//! - `issuers`: an RS256 token of one issuer verified by a validator
//!   trusting 1, 2 and 100 issuers (cache off): selection by `iss`.
//! - `contention`: verification from 1 and 2 threads at once while the
//!   validator refreshes its JWKS from a loopback provider every ~5 ms.
//! - `reject`: garbage, an expired token, an unknown `kid` during the
//!   refetch cooldown (and, for contrast, a bad signature).
//!
//! Every token is checked to verify (or to be refused, for `reject`) before
//! it is timed, so a misconfigured bench fails instead of looking fast.
//!
//! ```text
//! cargo bench --bench hot_path -- --warm-up-time 1 --measurement-time 3
//! python3 benches/ratios.py            # the ratios of that run
//! benches/callgrind.sh                 # the same cases in instructions
//! ```
//!
//! With `OIDC_BEARER_CALLGRIND=N` in the environment criterion is not used:
//! every case (but `contention`, which is about threads) runs N times
//! inside [`callgrind_region`], once per case, after a few runs outside it.
//! `benches/callgrind.sh` runs that under `valgrind --tool=callgrind` and
//! turns the dumps into instructions per run: a count that other processes
//! on a shared machine do not disturb.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
use axum::Router;
use axum::body::Body;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::routing::get;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use oidc_bearer::keys::KeySet;
use oidc_bearer::{Claims, Error, ErrorKind, Issuer, Validator};
use oidc_bearer_testkit::{
    KeyKind, MockProvider, Reply, TestKey, TokenBuilder, b64url_decode, jwks, now, standard_claims,
};
use serde::Deserialize;
use tokio::runtime::Runtime;
use tower::ServiceExt as _;

const AUDIENCE: &str = "bench-api";
const REALM: &str = "/realms/bench";

/// What a typical API declares: the registered claims plus a few strings.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // read through black_box only
struct ApiClaims {
    sub: String,
    scope: Option<String>,
    azp: Option<String>,
    exp: i64,
}

/// One signing algorithm under test: its key, a valid token, and the raw
/// parts the floor needs.
struct Case {
    alg: &'static str,
    key: TestKey,
    token: String,
}

struct Fixture {
    provider: MockProvider,
    issuer: String,
    jwks_url: String,
    cases: Vec<Case>,
}

impl Fixture {
    /// A loopback provider publishing an RSA-2048, a P-256 and an Ed25519
    /// key; a token per algorithm (PS256 with the RSA key: the JWK has no
    /// `alg`, so the key verifies both, as Entra's do).
    fn start(rt: &Runtime) -> Fixture {
        let provider = rt.block_on(MockProvider::start());
        let rsa = TestKey::generate(KeyKind::Rsa2048, "bench-rsa");
        let ec = TestKey::generate(KeyKind::EcP256, "bench-p256");
        let ed = TestKey::generate(KeyKind::Ed25519, "bench-ed25519");
        let issuer = provider.serve_issuer(REALM, &[&rsa, &ec, &ed]);
        let jwks_url = provider.url(&MockProvider::jwks_path(REALM));
        let claims = |n: u32| {
            TokenBuilder::new()
                .header("typ", "JWT")
                .claims(standard_claims(&issuer, AUDIENCE))
                .claim("azp", "bench-spa")
                .claim("jti", format!("bench-{n}"))
        };
        let cases = [
            ("RS256", &rsa),
            ("PS256", &rsa),
            ("ES256", &ec),
            ("EdDSA", &ed),
        ]
        .into_iter()
        .enumerate()
        .map(|(n, (alg, key))| Case {
            alg,
            key: key.clone(),
            token: claims(n as u32).sign_with(key, alg),
        })
        .collect();
        Fixture {
            provider,
            issuer,
            jwks_url,
            cases,
        }
    }

    fn builder(&self) -> oidc_bearer::ValidatorBuilder {
        Validator::builder()
            .issuer(&self.issuer)
            .audience(AUDIENCE)
            .jwks_url(&self.jwks_url)
    }

    fn validator(&self, rt: &Runtime, cache: usize) -> Validator {
        rt.block_on(self.builder().token_cache_size(cache).build())
            .expect("validator builds against the loopback provider")
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Times `iters` runs of `f` inside one `block_on`, so the runtime's entry
/// cost is not part of each iteration.
fn time_async<F, Fut>(rt: &Runtime, iters: u64, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            f().await;
        }
        start.elapsed()
    })
}

/// Where a case is measured: by criterion, or N times for callgrind.
struct Ctx {
    criterion: Option<Criterion>,
    callgrind: Option<u64>,
}

/// One group of cases, in either mode.
struct Group<'a> {
    name: &'static str,
    criterion: Option<BenchmarkGroup<'a, WallTime>>,
    callgrind: Option<u64>,
}

/// Runs outside the measured region first, so one-time work (lazy
/// statics, thread-local slots, the first cache insert) is not counted.
const CALLGRIND_WARMUP: usize = 3;

/// Everything callgrind counts happens under this function: the script
/// toggles collection on entering it and dumps the counts on leaving it.
#[inline(never)]
fn callgrind_region(run: &mut dyn FnMut()) {
    run();
}

impl Ctx {
    fn group(&mut self, name: &'static str) -> Group<'_> {
        Group {
            name,
            criterion: self.criterion.as_mut().map(|c| c.benchmark_group(name)),
            callgrind: self.callgrind,
        }
    }
}

impl Group<'_> {
    fn announce(&self, id: &str) {
        eprintln!("CALLGRIND_CASE {}/{id}", self.name);
    }

    /// A synchronous case.
    fn run(&mut self, id: impl Into<String>, mut f: impl FnMut()) {
        let id = id.into();
        match (&mut self.criterion, self.callgrind) {
            (Some(group), _) => {
                group.bench_function(id, |b| b.iter(&mut f));
            }
            (None, Some(n)) => {
                (0..CALLGRIND_WARMUP).for_each(|_| f());
                self.announce(&id);
                callgrind_region(&mut || (0..n).for_each(|_| f()));
            }
            (None, None) => unreachable!("one mode is always set"),
        }
    }

    /// An async case: all runs inside one `block_on`, so entering the
    /// runtime is not part of each run.
    fn run_async<Fut>(&mut self, id: impl Into<String>, rt: &Runtime, mut f: impl FnMut() -> Fut)
    where
        Fut: std::future::Future<Output = ()>,
    {
        let id = id.into();
        match (&mut self.criterion, self.callgrind) {
            (Some(group), _) => {
                group.bench_function(id, |b| b.iter_custom(|iters| time_async(rt, iters, &mut f)));
            }
            (None, Some(n)) => {
                (0..CALLGRIND_WARMUP).for_each(|_| rt.block_on(f()));
                self.announce(&id);
                callgrind_region(&mut || {
                    rt.block_on(async {
                        for _ in 0..n {
                            f().await;
                        }
                    })
                });
            }
            (None, None) => unreachable!("one mode is always set"),
        }
    }

    fn finish(self) {
        if let Some(group) = self.criterion {
            group.finish();
        }
    }
}

fn floor(c: &mut Ctx, fx: &Fixture) {
    let mut group = c.group("floor");
    for case in &fx.cases {
        let jwk = case.key.public_jwk();
        let member = |m: &str| b64url_decode(jwk[m].as_str().expect("JWK member"));
        // The same constructions `keys.rs` uses, parsed once.
        let key = match case.alg {
            "RS256" | "PS256" => {
                let params = if case.alg == "RS256" {
                    &sig::RSA_PKCS1_2048_8192_SHA256
                } else {
                    &sig::RSA_PSS_2048_8192_SHA256
                };
                RsaPublicKeyComponents {
                    n: member("n"),
                    e: member("e"),
                }
                .to_parsed_public_key(params)
                .expect("RSA key")
            }
            "ES256" => {
                let mut point = vec![4u8];
                point.extend(member("x"));
                point.extend(member("y"));
                ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, &point).expect("EC key")
            }
            _ => ParsedPublicKey::new(&sig::ED25519, member("x")).expect("Ed25519 key"),
        };
        let (message, signature) = case.token.rsplit_once('.').expect("compact JWS");
        let signature = b64url_decode(signature);
        key.verify_sig(message.as_bytes(), &signature)
            .expect("floor: the token's signature verifies");
        group.run(case.alg, || {
            key.verify_sig(black_box(message.as_bytes()), black_box(&signature))
                .expect("valid")
        });
    }
    group.finish();
}

fn verify(c: &mut Ctx, rt: &Runtime, fx: &Fixture) {
    let validator = fx.validator(rt, 0);
    // 2,048 tokens in rotation against 512 places: with FIFO eviction
    // every lookup misses, so this is the miss plus the insert.
    let ed = fx.cases.iter().find(|c| c.alg == "EdDSA").expect("EdDSA");
    let tokens: Vec<String> = (0..2048)
        .map(|n| {
            TokenBuilder::new()
                .claims(standard_claims(&fx.issuer, AUDIENCE))
                .claim("jti", format!("distinct-{n}"))
                .sign(&ed.key)
        })
        .collect();
    let cached = fx.validator(rt, 512);
    let mut group = c.group("verify");
    for case in &fx.cases {
        rt.block_on(validator.verify::<ApiClaims>(&case.token))
            .unwrap_or_else(|e| panic!("verify {}: {e}", case.alg));
        group.run_async(case.alg, rt, || async {
            let claims = validator
                .verify::<ApiClaims>(black_box(&case.token))
                .await
                .expect("valid");
            black_box(claims);
        });
    }
    let mut next = 0usize;
    group.run("EdDSA-new-token-cache-on", || {
        next = (next + 1) % tokens.len();
        black_box(
            cached
                .try_verify::<ApiClaims>(&tokens[next])
                .expect("valid"),
        );
    });
    group.finish();
}

/// The issuer selection: the same token (of issuer `t42`) verified by
/// validators trusting only it, it and one other, and 100 issuers, all
/// sharing the fixture's JWKS URL (one key store). Cache off.
fn issuers(c: &mut Ctx, rt: &Runtime, fx: &Fixture) {
    let name = |n: usize| format!("{}/t{n}", fx.issuer);
    let rsa = fx.cases.iter().find(|c| c.alg == "RS256").expect("RS256");
    let token = TokenBuilder::new()
        .header("typ", "JWT")
        .claims(standard_claims(&name(42), AUDIENCE))
        .claim("azp", "bench-spa")
        .sign_with(&rsa.key, "RS256");
    let trusting = |names: Vec<String>| {
        let builder = names.into_iter().fold(Validator::builder(), |b, n| {
            b.trust(Issuer::new(n).audience(AUDIENCE).jwks_url(&fx.jwks_url))
        });
        rt.block_on(builder.token_cache_size(0).build())
            .expect("validator builds")
    };
    let validators = [
        ("1", trusting(vec![name(42)])),
        ("2", trusting(vec![name(7), name(42)])),
        ("100", trusting((0..100).map(name).collect())),
    ];
    let mut group = c.group("issuers");
    for (count, validator) in &validators {
        rt.block_on(validator.verify::<ApiClaims>(&token))
            .unwrap_or_else(|e| panic!("{count} issuers: {e}"));
        group.run_async(format!("RS256/{count}"), rt, || async {
            let claims = validator
                .verify::<ApiClaims>(black_box(&token))
                .await
                .expect("valid");
            black_box(claims);
        });
    }
    group.finish();
}

async fn no_auth() -> &'static str {
    "ok"
}

async fn with_claims(claims: Claims<ApiClaims>) -> &'static str {
    black_box(&claims.sub);
    "ok"
}

fn request(header: &HeaderValue) -> Request<Body> {
    Request::builder()
        .uri("/")
        .header(AUTHORIZATION, header.clone())
        .body(Body::empty())
        .expect("request")
}

fn bearer(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer {token}")).expect("header value")
}

/// Times `GET /` through `router` with `header`, after checking the 200.
fn bench_router(
    group: &mut Group<'_>,
    rt: &Runtime,
    (name, alg): (&str, &str),
    router: &Router,
    header: &HeaderValue,
) {
    let response = rt
        .block_on(router.clone().oneshot(request(header)))
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK, "{name}/{alg}");
    group.run_async(format!("{name}/{alg}"), rt, || async {
        let response = router
            .clone()
            .oneshot(request(header))
            .await
            .expect("infallible");
        debug_assert_eq!(response.status(), StatusCode::OK);
        black_box(response);
    });
}

fn layer(c: &mut Ctx, rt: &Runtime, fx: &Fixture) {
    let uncached = fx.validator(rt, 0);
    let bare = Router::new().route("/", get(no_auth));
    let protected = Router::new()
        .route("/", get(with_claims))
        .layer(uncached.layer::<ApiClaims>());
    let mut group = c.group("layer");
    for case in &fx.cases {
        let header = bearer(&case.token);
        bench_router(&mut group, rt, ("no-auth", case.alg), &bare, &header);
        bench_router(
            &mut group,
            rt,
            ("oidc-bearer", case.alg),
            &protected,
            &header,
        );
    }
    group.finish();
}

fn cached(c: &mut Ctx, rt: &Runtime, fx: &Fixture) {
    let validator = fx.validator(rt, 10_000);
    let bare = Router::new().route("/", get(no_auth));
    let protected = Router::new()
        .route("/", get(with_claims))
        .layer(validator.layer::<ApiClaims>());
    let mut group = c.group("cached");
    // The algorithm does not matter to a hit; RS256 and EdDSA show it.
    for case in fx
        .cases
        .iter()
        .filter(|c| c.alg == "RS256" || c.alg == "EdDSA")
    {
        let header = bearer(&case.token);
        bench_router(&mut group, rt, ("no-auth", case.alg), &bare, &header);
        bench_router(&mut group, rt, ("layer", case.alg), &protected, &header);
        assert!(validator.cached_tokens() > 0, "the token was cached");
        group.run_async(format!("verify/{}", case.alg), rt, || async {
            let claims = validator
                .verify::<ApiClaims>(black_box(&case.token))
                .await
                .expect("valid");
            black_box(claims);
        });
    }
    group.finish();
}

fn keyset(c: &mut Ctx, rt: &Runtime, fx: &Fixture) {
    // EdDSA signs the token; the other keys are cheap-to-make P-256 keys.
    // The signer is published last, so nothing favours it.
    let signer = TestKey::generate(KeyKind::Ed25519, "signer");
    let filler: Vec<TestKey> = (0..999)
        .map(|n| TestKey::generate(KeyKind::EcP256, format!("key-{n:04}")))
        .collect();
    let token = TokenBuilder::new()
        .claims(standard_claims(&fx.issuer, AUDIENCE))
        .sign(&signer);
    let mut group = c.group("keyset");
    for size in [1usize, 10, 100, 1000] {
        let mut keys: Vec<&TestKey> = filler[..size - 1].iter().collect();
        keys.push(&signer);
        let document = serde_json::to_vec(&jwks(&keys)).expect("JWKS");
        let set = KeySet::from_jwks(&document).expect("JWKS parses");
        assert_eq!(set.len(), size);
        group.run(format!("lookup/{size}"), || {
            assert!(set.contains_kid(black_box("signer")))
        });
        let validator = rt
            .block_on(
                Validator::builder()
                    .issuer(&fx.issuer)
                    .audience(AUDIENCE)
                    .jwks_json(document)
                    .token_cache_size(0)
                    .build(),
            )
            .expect("validator");
        validator
            .try_verify::<ApiClaims>(&token)
            .expect("the signer's token verifies");
        group.run(format!("verify-EdDSA/{size}"), || {
            black_box(
                validator
                    .try_verify::<ApiClaims>(black_box(&token))
                    .expect("valid"),
            );
        });
    }
    group.finish();
}

/// Runs `threads` threads that each call `work` `per_thread` times, all
/// started together; returns the wall time until the last one is done.
fn parallel(threads: usize, per_thread: u64, work: &(dyn Fn(usize) + Sync)) -> Duration {
    let barrier = std::sync::Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for t in 0..threads {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                for _ in 0..per_thread {
                    work(t);
                }
            });
        }
        barrier.wait();
        // The scope joins every thread before returning.
        Instant::now()
    })
    .elapsed()
}

fn contention(c: &mut Criterion) {
    // The provider and the validator's refresh task live on their own
    // runtime thread, as in a server; the verifying threads are plain
    // threads calling `try_verify`.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let fx = Fixture::start(&rt);
    let path = MockProvider::jwks_path(REALM);
    let keys: Vec<&TestKey> = fx.cases.iter().map(|c| &c.key).collect();
    // No max-age: the validator's default interval (5 ms) applies.
    fx.provider
        .set(&path, Reply::jwks(&[keys[0], keys[2], keys[3]]));
    let builder = |cache: usize| {
        fx.builder()
            .refresh_interval_bounds(Duration::from_millis(1), Duration::from_millis(10))
            .default_refresh_interval(Duration::from_millis(5))
            .token_cache_size(cache)
    };
    let uncached = rt.block_on(builder(0).build()).expect("validator");
    let cached = rt.block_on(builder(10_000).build()).expect("validator");
    let rsa = &fx.cases[0];
    // One token per thread for the cached runs: a hit path that never
    // shares a token (the common case with many users).
    let tokens: Vec<String> = (0..2)
        .map(|t| {
            TokenBuilder::new()
                .claims(standard_claims(&fx.issuer, AUDIENCE))
                .claim("sub", format!("user-{t}"))
                .sign(&rsa.key)
        })
        .collect();
    for t in &tokens {
        cached.try_verify::<ApiClaims>(t).expect("valid");
    }
    // What the machine itself allows: the bare signature check.
    let (message, signature) = rsa.token.rsplit_once('.').expect("compact JWS");
    let signature = b64url_decode(signature);
    let jwk = rsa.key.public_jwk();
    let member = |m: &str| b64url_decode(jwk[m].as_str().expect("JWK member"));
    let floor_key = RsaPublicKeyComponents {
        n: member("n"),
        e: member("e"),
    }
    .to_parsed_public_key(&sig::RSA_PKCS1_2048_8192_SHA256)
    .expect("RSA key");

    let before = fx.provider.hits(&path);
    std::thread::sleep(Duration::from_millis(100));
    let refreshes = fx.provider.hits(&path) - before;
    assert!(
        refreshes >= 5,
        "the refresh should run every ~5 ms, saw {refreshes} fetches in 100 ms"
    );

    let failed = AtomicBool::new(false);
    let mut group = c.benchmark_group("contention");
    for threads in [1usize, 2] {
        group.throughput(Throughput::Elements(threads as u64));
        let work = |_: usize| {
            if floor_key
                .verify_sig(message.as_bytes(), &signature)
                .is_err()
            {
                failed.store(true, Ordering::Relaxed);
            }
        };
        group.bench_function(BenchmarkId::new("floor-RS256", threads), |b| {
            b.iter_custom(|iters| parallel(threads, iters, &work))
        });
        let work = |_: usize| {
            if uncached.try_verify::<ApiClaims>(&rsa.token).is_err() {
                failed.store(true, Ordering::Relaxed);
            }
        };
        group.bench_function(BenchmarkId::new("uncached-RS256", threads), |b| {
            b.iter_custom(|iters| parallel(threads, iters, &work))
        });
        let work = |t: usize| {
            if cached.try_verify::<ApiClaims>(&tokens[t]).is_err() {
                failed.store(true, Ordering::Relaxed);
            }
        };
        group.bench_function(BenchmarkId::new("cached", threads), |b| {
            b.iter_custom(|iters| parallel(threads, iters, &work))
        });
    }
    group.finish();
    assert!(
        !failed.load(Ordering::Relaxed),
        "a verification failed while the keys were being swapped"
    );
    eprintln!(
        "contention: {} JWKS refreshes (each a new key set) during the group",
        fx.provider.hits(&path) - before
    );
}

fn reject(c: &mut Ctx, rt: &Runtime, fx: &Fixture) {
    // Default configuration (cache on, 30 s cooldown): what a server runs.
    let validator = fx.validator(rt, 10_000);
    let rsa = &fx.cases[0];
    let builder = || {
        TokenBuilder::new()
            .header("typ", "JWT")
            .claims(standard_claims(&fx.issuer, AUDIENCE))
    };
    // Three parts of base64url that decode to no JSON header.
    let garbage = "bm90IGEgaGVhZGVy.bm90IGNsYWltcw.c2lnbmF0dXJl".to_owned();
    let expired = builder().claim("exp", now() - 3600).sign(&rsa.key);
    let unknown = TestKey::generate(KeyKind::EcP256, "not-published");
    let unknown_kid = builder().sign(&unknown);
    // One signature character changed (away from the end, whose trailing
    // bits must stay zero): well-formed, bad signature.
    let mut tampered = rsa.token.clone().into_bytes();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ASCII");
    let path = MockProvider::jwks_path(REALM);

    type Expect = fn(&Error) -> bool;
    let cases: [(&str, String, Expect); 4] = [
        ("garbage", garbage, |e| {
            matches!(e, Error::MalformedToken(_))
        }),
        ("expired", expired, |e| matches!(e, Error::Expired)),
        ("unknown-kid-cooldown", unknown_kid, |e| {
            matches!(e, Error::UnknownKey)
        }),
        ("bad-signature", tampered, |e| {
            matches!(e, Error::InvalidSignature)
        }),
    ];
    let mut group = c.group("reject");
    for (name, token, expected) in &cases {
        let error = rt
            .block_on(validator.verify::<ApiClaims>(token))
            .expect_err(name);
        assert!(expected(&error), "{name}: refused with {error:?}");
        assert_eq!(error.kind(), ErrorKind::InvalidToken, "{name}: {error}");
        let fetches = fx.provider.hits(&path);
        group.run_async(*name, rt, || async {
            let error = validator
                .verify::<ApiClaims>(black_box(token))
                .await
                .expect_err("refused");
            black_box(error);
        });
        // The cooldown held: refusals did not turn into fetches.
        assert_eq!(fx.provider.hits(&path), fetches, "{name} fetched keys");
    }
    group.finish();
}

fn main() {
    let callgrind = std::env::var("OIDC_BEARER_CALLGRIND").ok().map(|n| {
        n.parse::<u64>()
            .expect("OIDC_BEARER_CALLGRIND: a run count")
    });
    let criterion = callgrind.is_none().then(|| {
        Criterion::default()
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .sample_size(50)
            .configure_from_args()
    });
    let mut ctx = Ctx {
        criterion,
        callgrind,
    };
    let rt = runtime();
    let fx = Fixture::start(&rt);
    floor(&mut ctx, &fx);
    verify(&mut ctx, &rt, &fx);
    layer(&mut ctx, &rt, &fx);
    cached(&mut ctx, &rt, &fx);
    keyset(&mut ctx, &rt, &fx);
    issuers(&mut ctx, &rt, &fx);
    reject(&mut ctx, &rt, &fx);
    drop(fx);
    if let Some(criterion) = &mut ctx.criterion {
        // Threads and wall time: meaningless under callgrind.
        contention(criterion);
        criterion.final_summary();
    }
}
