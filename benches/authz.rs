//! What a per-route requirement costs on a hit (issue 9, item 4: at most
//! 100 ns), next to what the request costs without it.
//!
//! - `authz/check/*`: `Require::is_met_by` on `StandardClaims` carrying
//!   10 scopes, 10 app roles, 5 realm roles and 3 clients of 4 roles
//!   each, the granted name last in its list (the longest hit).
//! - `authz/router/*`: one request with a cached token through an axum
//!   router with the `OidcBearerLayer`, without and with an
//!   `AuthorizeLayer` on the route, and with a `route_layer` that does
//!   nothing (`Identity`: what axum's boxing of a layered route costs by
//!   itself); requirement minus identity is the `AuthorizeLayer`'s cost.
//! - `authz/verify-cached`: `Validator::try_verify` of the same cached token,
//!   the reference the check is compared to.
//!
//! ```text
//! cargo bench --bench authz
//! ```
//!
//! With `OIDC_BEARER_CALLGRIND=N` in the environment criterion is not used:
//! each case runs N times inside `callgrind_region`, for instruction counts
//! that other processes on a shared machine do not disturb:
//!
//! ```text
//! OIDC_BEARER_CALLGRIND=2000 valgrind --tool=callgrind \
//!   --toggle-collect='*callgrind_region*' --dump-after='authz::callgrind_region' \
//!   --callgrind-out-file=target/callgrind-authz.out target/release/deps/authz-<hash> --bench
//! ```
//!
//! (dumps `.1`, `.2`, … in the order of the `CALLGRIND_CASE` lines on
//! stderr; each dump's `totals` divided by N is instructions per run).
//!
//! Every case is checked to pass (200, or `true`) before it is timed, so a
//! misconfigured bench fails instead of looking fast.

use std::hint::black_box;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::routing::get;
use criterion::Criterion;
use criterion::measurement::WallTime;
use oidc_bearer::{Claims, Require, StandardClaims, Validator};
use oidc_bearer_testkit::{KeyKind, TestKey, TokenBuilder, jwks, standard_claims};
use serde_json::json;
use tower::ServiceExt as _;

const ISSUER: &str = "https://login.example.test/realms/bench";
const AUDIENCE: &str = "orders-api";

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}.{i:02}")).collect()
}

/// Claims with ~10 of everything; the names the requirements ask for are
/// the last of their lists.
fn grants_json() -> serde_json::Value {
    let mut scopes = names("orders.extra", 9);
    scopes.push("orders.read".into());
    let mut roles = names("Orders.Role", 9);
    roles.push("Orders.Admin".into());
    json!({
        "scope": scopes.join(" "),
        "roles": roles,
        "realm_access": {"roles": ["offline_access", "uma_authorization", "default-roles-bench", "auditor", "admin"]},
        "resource_access": {
            "account": {"roles": ["manage-account", "view-profile", "manage-account-links", "delete-account"]},
            "billing-api": {"roles": ["viewer", "editor", "exporter", "admin"]},
            AUDIENCE: {"roles": ["viewer", "editor", "exporter", "admin"]},
        },
    })
}

/// Where cases are measured: by criterion, or N times for callgrind.
enum Ctx {
    Criterion(Box<Criterion>),
    Callgrind(u64),
}

/// Everything callgrind counts happens under this function.
#[inline(never)]
fn callgrind_region(run: &mut dyn FnMut()) {
    run();
}

impl Ctx {
    fn run(&mut self, group: &str, id: &str, mut f: impl FnMut()) {
        match self {
            Ctx::Criterion(c) => {
                let mut g: criterion::BenchmarkGroup<'_, WallTime> = c.benchmark_group(group);
                g.bench_function(id, |b| b.iter(&mut f));
                g.finish();
            }
            Ctx::Callgrind(n) => {
                (0..3).for_each(|_| f());
                eprintln!("CALLGRIND_CASE {group}/{id}");
                let n = *n;
                callgrind_region(&mut || (0..n).for_each(|_| f()));
            }
        }
    }
}

fn check(c: &mut Ctx) {
    let claims: StandardClaims = serde_json::from_value(grants_json()).expect("claims");
    let cases = [
        ("scope", Require::scope("orders.read")),
        (
            "all-of-3-scopes",
            Require::all_scopes(["orders.extra.00", "orders.extra.08", "orders.read"]),
        ),
        (
            "scope-or-role(role)",
            Require::scope("orders.write").or(Require::role("Orders.Admin")),
        ),
        ("realm-role", Require::realm_role("admin")),
        ("client-role", Require::client_role(AUDIENCE, "admin")),
    ];
    for (name, require) in &cases {
        assert!(require.is_met_by(&claims), "{name} is a hit");
        c.run("authz/check", name, || {
            black_box(black_box(require).is_met_by(black_box(&claims)));
        });
    }
}

fn router(c: &mut Ctx) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let key = TestKey::generate(KeyKind::Ed25519, "bench-ed25519");
    let validator = rt
        .block_on(
            Validator::builder()
                .issuer(ISSUER)
                .audience(AUDIENCE)
                .jwks_json(serde_json::to_vec(&jwks(&[&key])).expect("jwks"))
                .build(),
        )
        .expect("validator");
    let token = TokenBuilder::new()
        .claims(standard_claims(ISSUER, AUDIENCE))
        .claims(grants_json())
        .sign(&key);
    let header = HeaderValue::from_str(&format!("Bearer {token}")).expect("header");

    async fn handler(claims: Claims<StandardClaims>) -> &'static str {
        black_box(&claims.sub);
        "ok"
    }
    let require = Require::all_scopes(["orders.extra.00", "orders.read"])
        .and(Require::client_role(AUDIENCE, "admin"));
    let without = Router::new()
        .route("/", get(handler))
        .route_layer(validator.layer::<StandardClaims>());
    // What axum's `route_layer` itself costs (it boxes the route again),
    // with a layer that does nothing.
    let identity = Router::new()
        .route(
            "/",
            get(handler).route_layer(tower::layer::util::Identity::new()),
        )
        .route_layer(validator.layer::<StandardClaims>());
    let with = Router::new()
        .route(
            "/",
            get(handler).route_layer(require.layer::<StandardClaims>()),
        )
        .route_layer(validator.layer::<StandardClaims>());
    let request = || {
        Request::get("/")
            .header(AUTHORIZATION, header.clone())
            .body(Body::empty())
            .expect("request")
    };

    for (name, app) in [
        ("router/no-requirement", &without),
        ("router/identity-route-layer", &identity),
        ("router/requirement", &with),
    ] {
        let response = rt
            .block_on(app.clone().oneshot(request()))
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        // One request per run, each in its own `block_on` (a current-thread
        // runtime enters in nanoseconds; the same for every case).
        c.run("authz", name, || {
            let response = rt
                .block_on(app.clone().oneshot(request()))
                .expect("response");
            black_box(response);
        });
    }
    assert!(validator.cached_tokens() > 0, "the token is cached");
    c.run("authz", "verify-cached", || {
        let claims = validator
            .try_verify::<StandardClaims>(black_box(&token))
            .expect("valid");
        black_box(claims);
    });
}

fn main() {
    let mut ctx = match std::env::var("OIDC_BEARER_CALLGRIND") {
        Ok(n) => Ctx::Callgrind(n.parse().expect("OIDC_BEARER_CALLGRIND: a run count")),
        Err(_) => Ctx::Criterion(Box::new(
            Criterion::default()
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(3))
                .sample_size(50)
                .configure_from_args(),
        )),
    };
    check(&mut ctx);
    router(&mut ctx);
    if let Ctx::Criterion(criterion) = &mut ctx {
        criterion.final_summary();
    }
}
