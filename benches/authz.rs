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
//! - `authz/verify-cached`: `Validator::verify` of the same cached token,
//!   the reference the check is compared to.
//!
//! ```text
//! cargo bench --bench authz
//! ```
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

fn check(c: &mut Criterion) {
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
    let mut group = c.benchmark_group("authz/check");
    for (name, require) in &cases {
        assert!(require.is_met_by(&claims), "{name} is a hit");
        group.bench_function(*name, |b| {
            b.iter(|| black_box(require).is_met_by(black_box(&claims)))
        });
    }
    group.finish();
}

fn router(c: &mut Criterion) {
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

    let mut group = c.benchmark_group("authz");
    for (name, app) in [
        ("router/no-requirement", &without),
        ("router/identity-route-layer", &identity),
        ("router/requirement", &with),
    ] {
        let response = rt
            .block_on(app.clone().oneshot(request()))
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = std::time::Instant::now();
                    for _ in 0..iters {
                        let response = app.clone().oneshot(request()).await.expect("response");
                        black_box(response);
                    }
                    start.elapsed()
                })
            })
        });
    }
    assert!(validator.cached_tokens() > 0, "the token is cached");
    group.bench_function("verify-cached", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = std::time::Instant::now();
                for _ in 0..iters {
                    let claims = validator
                        .verify::<StandardClaims>(black_box(&token))
                        .await
                        .expect("valid");
                    black_box(claims);
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .configure_from_args();
    check(&mut criterion);
    router(&mut criterion);
    criterion.final_summary();
}
