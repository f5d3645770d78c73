//! What a DPoP request costs (issue 15, item 7): the layer's auth work for
//! an RS256 access token bound to the client's P-256 key, with an ES256
//! proof, replay check included, against the sum of the two bare
//! signature checks (aws-lc-rs `ParsedPublicKey`s parsed once).
//!
//! - `floor/token-RS256`, `floor/proof-ES256`: the bare checks, of the
//!   token and of the same 4,096 distinct proofs the requests carry.
//!   (One proof verified over and over is some 7 % faster: the branch
//!   predictor learns its data-dependent branches, which no stream of
//!   real proofs allows; `floor/proof-ES256-repeated` shows it.)
//! - `layer/no-auth`: the same request through the router without the
//!   layer (headers included): subtracted to get the auth work.
//! - `layer/bearer-RS256`: today's uncached bearer request, for contrast.
//! - `layer/dpop-RS256+ES256`: token cache off: every request verifies
//!   the token and the proof.
//! - `layer/dpop-cached`: token cache on: the token is a cache hit, the
//!   proof is still checked (and its `jti` recorded) on every request.
//!
//! Every request carries a proof never seen before: proofs are signed
//! beforehand (4,096 of them), and each pass over them gets a router with
//! a fresh replay store, made outside the timed loop.
//!
//! ```text
//! cargo bench --bench dpop -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::routing::get;
use criterion::Criterion;
use oidc_bearer::dpop::{MemoryReplayStore, jwk_thumbprint};
use oidc_bearer::{Dpop, StandardClaims, Validator};
use oidc_bearer_testkit::{
    KeyKind, MockProvider, TestKey, TokenBuilder, b64url_decode, dpop_proof, standard_claims,
};
use tokio::runtime::Runtime;
use tower::ServiceExt as _;

const AUDIENCE: &str = "bench-api";
const REALM: &str = "/realms/bench";
const HTU: &str = "https://api.example.com/orders";
const PROOFS: usize = 4096;

struct Fixture {
    _provider: MockProvider,
    issuer: String,
    jwks_url: String,
    rsa: TestKey,
    client: TestKey,
    token: String,
    proofs: Vec<HeaderValue>,
    /// Each proof's signing input and decoded signature, for the floor.
    signed: Vec<(String, Vec<u8>)>,
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

impl Fixture {
    fn start(rt: &Runtime) -> Fixture {
        let provider = rt.block_on(MockProvider::start());
        let rsa = TestKey::generate(KeyKind::Rsa2048, "bench-rsa");
        let issuer = provider.serve_issuer(REALM, &[&rsa]);
        let jwks_url = provider.url(&MockProvider::jwks_path(REALM));
        let client = TestKey::generate(KeyKind::EcP256, "client");
        let jkt = jwk_thumbprint(&client.public_jwk().to_string()).expect("thumbprint");
        let token = TokenBuilder::new()
            .header("typ", "at+jwt")
            .claims(standard_claims(&issuer, AUDIENCE))
            .claim("cnf", serde_json::json!({ "jkt": jkt }))
            .sign(&rsa);
        let proofs = (0..PROOFS)
            .map(|_| {
                let proof = dpop_proof(&client, "GET", HTU, Some(&token)).sign(&client);
                HeaderValue::from_str(&proof).expect("header value")
            })
            .collect::<Vec<HeaderValue>>();
        let signed = proofs
            .iter()
            .map(|proof| {
                let proof = proof.to_str().expect("ascii");
                let (input, signature) = proof.rsplit_once('.').expect("JWS");
                (input.to_owned(), b64url_decode(signature))
            })
            .collect();
        Fixture {
            _provider: provider,
            issuer,
            jwks_url,
            rsa,
            client,
            token,
            proofs,
            signed,
        }
    }

    /// The bare checks' keys, parsed once, and the token's signing input
    /// and decoded signature.
    fn bare(&self) -> Bare {
        let member =
            |jwk: &serde_json::Value, m: &str| b64url_decode(jwk[m].as_str().expect("member"));
        let jwk = self.rsa.public_jwk();
        let rsa = RsaPublicKeyComponents {
            n: member(&jwk, "n"),
            e: member(&jwk, "e"),
        }
        .to_parsed_public_key(&sig::RSA_PKCS1_2048_8192_SHA256)
        .expect("RSA key");
        let (message, signature) = self.token.rsplit_once('.').expect("JWS");
        let client = self.client.public_jwk();
        let mut point = vec![4u8];
        point.extend(member(&client, "x"));
        point.extend(member(&client, "y"));
        Bare {
            rsa,
            message: message.to_owned(),
            signature: b64url_decode(signature),
            ec: ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, &point).expect("EC key"),
        }
    }

    fn validator(&self, rt: &Runtime, cache: usize) -> Validator {
        rt.block_on(
            Validator::builder()
                .issuer(&self.issuer)
                .audience(AUDIENCE)
                .jwks_url(&self.jwks_url)
                .token_cache_size(cache)
                .build(),
        )
        .expect("validator")
    }
}

/// The token's issuer key and the client's proof key, for the bare checks.
struct Bare {
    rsa: ParsedPublicKey,
    message: String,
    signature: Vec<u8>,
    ec: ParsedPublicKey,
}

async fn ok() -> &'static str {
    "ok"
}

/// A router with a layer whose replay store is new.
fn dpop_router(validator: &Validator) -> Router {
    let dpop = Dpop::allowed()
        .external_url("https://api.example.com")
        // Long enough that no proof signed before the run goes stale.
        .acceptance_window(Duration::from_secs(3600))
        .replay_store(MemoryReplayStore::new(PROOFS));
    Router::new()
        .route("/orders", get(ok))
        .layer(validator.layer::<StandardClaims>().dpop(dpop))
}

fn request(authorization: &HeaderValue, proof: &HeaderValue) -> Request<Body> {
    Request::get("/orders")
        .header("authorization", authorization.clone())
        .header("dpop", proof.clone())
        .body(Body::empty())
        .expect("request")
}

/// `iters` requests, each with a proof of `proofs` never sent to the
/// router it goes to (a new router per pass over the proofs).
fn time_requests(
    rt: &Runtime,
    iters: u64,
    make: &dyn Fn() -> Router,
    authorization: &HeaderValue,
    proofs: &[HeaderValue],
) -> Duration {
    let mut left = iters as usize;
    let mut total = Duration::ZERO;
    while left > 0 {
        let router = make();
        let n = left.min(proofs.len());
        total += rt.block_on(async {
            let start = Instant::now();
            for proof in &proofs[..n] {
                let response = router
                    .clone()
                    .oneshot(request(authorization, proof))
                    .await
                    .expect("infallible");
                debug_assert_eq!(response.status(), StatusCode::OK);
                black_box(response);
            }
            start.elapsed()
        });
        left -= n;
    }
    total
}

/// Everything callgrind counts happens under this function (see
/// `callgrind` below).
#[inline(never)]
fn callgrind_region(run: &mut dyn FnMut()) {
    run();
}

/// With `OIDC_BEARER_CALLGRIND=N`: each case N times inside
/// [`callgrind_region`], one dump per case, in this order: token floor,
/// proof floor, no-auth, bearer, dpop uncached, dpop cached. Run as
/// `valgrind --tool=callgrind --toggle-collect='*callgrind_region*'
/// --dump-after='dpop::callgrind_region' target/release/deps/dpop-* --bench`.
/// One case of the callgrind mode: its name and one run of it.
type Case<'a> = (&'static str, Box<dyn FnMut() + 'a>);

fn callgrind(n: usize, rt: &Runtime, cases: &mut [Case<'_>]) {
    for (name, case) in cases.iter_mut() {
        case();
        eprintln!("CALLGRIND_CASE {name}");
        callgrind_region(&mut || (0..n).for_each(|_| case()));
    }
    let _ = rt;
}

/// With `OIDC_BEARER_DPOP_PROFILE=PASSES`: only DPoP requests with the
/// token cached (`OIDC_BEARER_DPOP_CACHE=0`: not cached), PASSES times
/// over the proofs, for `perf record`.
fn profile(passes: usize) {
    let rt = runtime();
    let fx = Fixture::start(&rt);
    let cache = std::env::var("OIDC_BEARER_DPOP_CACHE")
        .map_or(10_000, |n| n.parse().expect("a token cache size"));
    let cached = fx.validator(&rt, cache);
    let auth = HeaderValue::from_str(&format!("DPoP {}", fx.token)).expect("header");
    for _ in 0..passes {
        let n = fx.proofs.len() as u64;
        black_box(time_requests(
            &rt,
            n,
            &|| dpop_router(&cached),
            &auth,
            &fx.proofs,
        ));
    }
}

fn main() {
    if let Ok(passes) = std::env::var("OIDC_BEARER_DPOP_PROFILE") {
        return profile(passes.parse().expect("a pass count"));
    }
    if let Some(n) = std::env::var("OIDC_BEARER_CALLGRIND")
        .ok()
        .map(|n| n.parse::<usize>().expect("a run count"))
    {
        return callgrind_main(n.min(PROOFS - 1));
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .configure_from_args();
    let rt = runtime();
    let fx = Fixture::start(&rt);

    let mut floor = c.benchmark_group("dpop-floor");
    let Bare {
        rsa,
        message,
        signature,
        ec,
    } = fx.bare();
    rsa.verify_sig(message.as_bytes(), &signature)
        .expect("valid");
    floor.bench_function("token-RS256", |b| {
        b.iter(|| rsa.verify_sig(black_box(message.as_bytes()), black_box(&signature)))
    });
    for (input, signature) in &fx.signed {
        ec.verify_sig(input.as_bytes(), signature).expect("valid");
    }
    let mut next = fx.signed.iter().cycle();
    floor.bench_function("proof-ES256", |b| {
        b.iter(|| {
            let (input, signature) = next.next().expect("endless");
            ec.verify_sig(black_box(input.as_bytes()), black_box(signature))
        })
    });
    let (pmessage, psignature) = &fx.signed[0];
    floor.bench_function("proof-ES256-repeated", |b| {
        b.iter(|| ec.verify_sig(black_box(pmessage.as_bytes()), black_box(psignature)))
    });
    floor.finish();

    let uncached = fx.validator(&rt, 0);
    let cached = fx.validator(&rt, 10_000);
    let dpop_auth = HeaderValue::from_str(&format!("DPoP {}", fx.token)).expect("header");
    let plain = fx.validator(&rt, 0);
    let unbound = TokenBuilder::new()
        .header("typ", "at+jwt")
        .claims(standard_claims(&fx.issuer, AUDIENCE))
        .sign(&fx.rsa);
    let bearer_auth = HeaderValue::from_str(&format!("Bearer {unbound}")).expect("header");
    let bare = || Router::new().route("/orders", get(ok));
    let bearer = || {
        Router::new()
            .route("/orders", get(ok))
            .layer(plain.layer::<StandardClaims>())
    };
    // Each setup answers 200 before it is timed.
    for (name, make, auth) in [
        ("no-auth", &bare as &dyn Fn() -> Router, &dpop_auth),
        ("bearer", &bearer, &bearer_auth),
        ("dpop-uncached", &|| dpop_router(&uncached), &dpop_auth),
        ("dpop-cached", &|| dpop_router(&cached), &dpop_auth),
    ] {
        let response = rt
            .block_on(make().oneshot(request(auth, &fx.proofs[0])))
            .expect("infallible");
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{name}: {:?}",
            response.headers()
        );
    }
    let mut layer = c.benchmark_group("dpop-layer");
    layer.bench_function("no-auth", |b| {
        b.iter_custom(|iters| time_requests(&rt, iters, &bare, &dpop_auth, &fx.proofs))
    });
    layer.bench_function("bearer-RS256", |b| {
        b.iter_custom(|iters| time_requests(&rt, iters, &bearer, &bearer_auth, &fx.proofs))
    });
    layer.bench_function("dpop-RS256+ES256", |b| {
        b.iter_custom(|iters| {
            time_requests(
                &rt,
                iters,
                &|| dpop_router(&uncached),
                &dpop_auth,
                &fx.proofs,
            )
        })
    });
    layer.bench_function("dpop-cached", |b| {
        b.iter_custom(|iters| {
            time_requests(&rt, iters, &|| dpop_router(&cached), &dpop_auth, &fx.proofs)
        })
    });
    layer.finish();
    c.final_summary();
    paired(&rt, &fx, (&rsa, &message, &signature), &ec);
}

/// The ratios measured in alternation, so that a shared machine's load,
/// which moves between criterion's groups, weighs on both sides alike.
/// Each round takes the next 25 proofs and times: the bare checks of the
/// token and of those proofs, the proofs' checks alone, the token's alone,
/// 25 requests without the layer, 25 DPoP requests with those proofs
/// (token cache off, then on), 25 bearer requests (the control); the
/// median of the per-round ratios is printed. Short rounds pair the two
/// sides closely in time. A last line shows what the floor would be with
/// one proof verified 25 times instead.
fn paired(
    rt: &Runtime,
    fx: &Fixture,
    token: (&ParsedPublicKey, &str, &[u8]),
    ec: &ParsedPublicKey,
) {
    // Every proof is sent once to each router: ROUNDS * N <= PROOFS.
    const ROUNDS: usize = 161;
    const N: usize = 25;
    // One router each for the whole run, as an API has (its proof-key
    // cache and replay store warm); no proof is sent to one twice.
    let uncached = dpop_router(&fx.validator(rt, 0));
    let cached = dpop_router(&fx.validator(rt, 10_000));
    let auth = HeaderValue::from_str(&format!("DPoP {}", fx.token)).expect("header");
    let bare = || Router::new().route("/orders", get(ok));
    // The control: today's bearer request, against the token's bare check.
    let plain = fx.validator(rt, 0);
    let unbound = TokenBuilder::new()
        .header("typ", "at+jwt")
        .claims(standard_claims(&fx.issuer, AUDIENCE))
        .sign(&fx.rsa);
    let bearer_auth = HeaderValue::from_str(&format!("Bearer {unbound}")).expect("header");
    let bearer = || {
        Router::new()
            .route("/orders", get(ok))
            .layer(plain.layer::<StandardClaims>())
    };
    let check_token = || {
        token
            .0
            .verify_sig(black_box(token.1.as_bytes()), black_box(token.2))
            .expect("valid")
    };
    let check_proof = |(input, signature): &(String, Vec<u8>)| {
        ec.verify_sig(black_box(input.as_bytes()), black_box(signature))
            .expect("valid")
    };
    let timed = |run: &mut dyn FnMut()| {
        let start = Instant::now();
        run();
        start.elapsed().as_secs_f64()
    };
    let (mut work, mut hit, mut control, mut repeated) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let first = round * N;
        let (proofs, signed) = (&fx.proofs[first..][..N], &fx.signed[first..][..N]);
        let floor = timed(&mut || {
            for proof in signed {
                check_token();
                check_proof(proof);
            }
        });
        let proof_floor = timed(&mut || signed.iter().for_each(check_proof));
        let one_proof = timed(&mut || (0..N).for_each(|_| check_proof(&signed[0])));
        let token_floor = timed(&mut || (0..N).for_each(|_| check_token()));
        let plain = time_requests(rt, N as u64, &bearer, &bearer_auth, proofs).as_secs_f64();
        let none = time_requests(rt, N as u64, &bare, &auth, proofs).as_secs_f64();
        let dpop = time_requests(rt, N as u64, &|| uncached.clone(), &auth, proofs);
        let dpop_hit = time_requests(rt, N as u64, &|| cached.clone(), &auth, proofs);
        work.push((dpop.as_secs_f64() - none) / floor);
        hit.push((dpop_hit.as_secs_f64() - none) / proof_floor);
        control.push((plain - none) / token_floor);
        repeated.push(one_proof / proof_floor);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "paired, median of {ROUNDS} rounds: DPoP auth work (cache off) = {:.3} x (token + proof bare checks); \
         with the token cached = {:.3} x (proof bare check); control: bearer auth work (cache \
         off) = {:.3} x (token bare check)",
        median(&mut work),
        median(&mut hit),
        median(&mut control)
    );
    println!(
        "floor check: one proof verified {N} times takes {:.3} x the time of {N} distinct proofs",
        median(&mut repeated)
    );
}

fn callgrind_main(n: usize) {
    let rt = runtime();
    let fx = Fixture::start(&rt);
    let Bare {
        rsa,
        message,
        signature,
        ec,
    } = fx.bare();
    let uncached = fx.validator(&rt, 0);
    let cached = fx.validator(&rt, 10_000);
    let dpop_auth = HeaderValue::from_str(&format!("DPoP {}", fx.token)).expect("header");
    let one = |router: &Router, proof: &HeaderValue| {
        let response = rt
            .block_on(router.clone().oneshot(request(&dpop_auth, proof)))
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
    };
    let bare = Router::new().route("/orders", get(ok));
    let (mut a, mut b, mut d, mut p) = (0usize, 0usize, 0usize, 0usize);
    let (ru, rc) = (dpop_router(&uncached), dpop_router(&cached));
    let mut cases: Vec<Case<'_>> = vec![
        (
            "floor/token-RS256",
            Box::new(|| {
                rsa.verify_sig(message.as_bytes(), &signature)
                    .expect("valid")
            }),
        ),
        (
            "floor/proof-ES256",
            Box::new(|| {
                // The proofs the requests carry, in the same order.
                p += 1;
                let (input, signature) = &fx.signed[p];
                ec.verify_sig(input.as_bytes(), signature).expect("valid")
            }),
        ),
        (
            "layer/no-auth",
            Box::new(|| {
                a += 1;
                one(&bare, &fx.proofs[a]);
            }),
        ),
        (
            "layer/dpop-uncached",
            Box::new(|| {
                b += 1;
                one(&ru, &fx.proofs[b]);
            }),
        ),
        (
            "layer/dpop-cached",
            Box::new(|| {
                d += 1;
                one(&rc, &fx.proofs[d]);
            }),
        ),
    ];
    callgrind(n, &rt, &mut cases);
}
