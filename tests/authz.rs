//! Authorization per route (issue 9, item 4) as a client sees it: real
//! signed tokens in the shapes providers send, through the
//! `OidcBearerLayer` and an `AuthorizeLayer` (or the handler guard) of an
//! axum app served on 127.0.0.1. Every refusal is checked for its status,
//! its exact `WWW-Authenticate` header, and that the handler never ran.
//!
//! `Require` itself (combinators, the `scope` attribute it computes, the
//! constructors that panic) is unit-tested in `src/authz/require.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::response::Response;
use axum::routing::get;
use http::StatusCode;
use oidc_bearer::authz::{GrantKinds, Grants};
use oidc_bearer::rejection::{ProblemJson, rejection_parts};
use oidc_bearer::{Claims, Error, Issuer, Require, StandardClaims, Validator};
use oidc_bearer_testkit::{KeyKind, TestKey, TokenBuilder, jwks, standard_claims};
use serde_json::{Value, json};

mod common;
use common::{Answer, bearer, fetch, serve};

/// Configured to grant every kind, so this file can try `Require`'s
/// combinators across kinds on one issuer; what each provider's tokens
/// grant is `tests/grants_by_issuer.rs`'s.
const ISSUER: &str = "https://login.example.test/shop";
const AUDIENCE: &str = "orders-api";
const REALM: &str = "orders";

struct Fixture {
    key: TestKey,
    validator: Validator,
}

impl Fixture {
    async fn new() -> Fixture {
        let key = TestKey::generate(KeyKind::EcP256, "authz-1");
        let validator = Validator::builder()
            .trust(
                Issuer::new(ISSUER)
                    .audience(AUDIENCE)
                    .jwks_json(serde_json::to_vec(&jwks(&[&key])).unwrap())
                    .grants(GrantKinds::ALL),
            )
            .build()
            .await
            .unwrap();
        Fixture { key, validator }
    }

    /// A valid token with no scope but `extra`'s claims.
    fn token(&self, extra: Value) -> String {
        TokenBuilder::new()
            .claims(standard_claims(ISSUER, AUDIENCE))
            .remove_claim("scope")
            .claims(extra)
            .sign(&self.key)
    }
}

/// How often the handlers ran.
#[derive(Clone, Default)]
struct Runs(Arc<AtomicUsize>);

impl Runs {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// A handler that counts its runs.
    fn handler(&self) -> axum::routing::MethodRouter {
        let runs = self.clone();
        get(move || async move {
            runs.0.fetch_add(1, Ordering::SeqCst);
            "ran"
        })
    }
}

/// One route per `(path, requirement)`, plus `/open` without one, behind
/// the `OidcBearerLayer`; all with realm `orders` and empty bodies.
fn app(fx: &Fixture, routes: &[(&str, Require)], runs: &Runs) -> Router {
    let mut router = Router::new().route("/open", runs.handler());
    for (path, require) in routes {
        router = router.route(
            path,
            runs.handler()
                .route_layer(require.clone().layer::<StandardClaims>().realm(REALM)),
        );
    }
    router.route_layer(fx.validator.layer::<StandardClaims>().realm(REALM))
}

/// The challenge of a 403 for `required` asking for `scope`.
fn insufficient(required: &str, scope: Option<&str>) -> String {
    let mut challenge = format!(
        r#"Bearer realm="{REALM}", error="insufficient_scope", error_description="insufficient scope: {required} required""#
    );
    if let Some(scope) = scope {
        challenge.push_str(&format!(r#", scope="{scope}""#));
    }
    challenge
}

#[track_caller]
fn assert_ok(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body, "ran");
}

#[track_caller]
fn assert_forbidden(answer: &Answer, required: &str, scope: Option<&str>) {
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{answer:?}");
    assert_eq!(
        answer.challenge.as_deref(),
        Some(insufficient(required, scope).as_str())
    );
    assert_eq!(answer.body, "", "the default rejection has no body");
}

/// `scope` (Keycloak, RFC 9068) and `scp` (Entra ID) as space-separated
/// strings, `scp` (Okta) and `scope` as arrays: one answer whatever the
/// shape. Scopes are compared exactly.
#[tokio::test]
async fn scopes_count_whichever_claim_and_shape_the_provider_uses() {
    let fx = Fixture::new().await;
    let runs = Runs::default();
    let api = serve(app(
        &fx,
        &[("/orders", Require::scope("orders.read"))],
        &runs,
    ))
    .await;
    let granting = [
        (
            "Keycloak scope string",
            json!({"scope": "openid orders.read email"}),
        ),
        ("Entra scp string", json!({"scp": "orders.read User.Read"})),
        ("Okta scp array", json!({"scp": ["openid", "orders.read"]})),
        ("scope array", json!({"scope": ["orders.read"]})),
        (
            "both claims",
            json!({"scope": "openid", "scp": "orders.read"}),
        ),
    ];
    let granted = granting.len();
    for (shape, claims) in granting {
        let answer = fetch(&api, "/orders", &[&bearer(&fx.token(claims))]).await;
        assert_eq!(answer.status, StatusCode::OK, "{shape}: {answer:?}");
    }
    assert_eq!(runs.count(), granted);
    let refusing = [
        ("no scope at all", json!({})),
        ("another scope", json!({"scope": "orders.write"})),
        ("a prefix", json!({"scp": "orders"})),
        ("a longer scope", json!({"scp": ["orders.readonly"]})),
        ("another case", json!({"scope": "Orders.Read"})),
        (
            "an array entry holding two",
            json!({"scp": ["orders.read orders.write"]}),
        ),
        (
            "the app role of that name",
            json!({"roles": ["orders.read"]}),
        ),
        (
            "the Keycloak role of that name",
            json!({"realm_access": {"roles": ["orders.read"]},
                   "resource_access": {AUDIENCE: {"roles": ["orders.read"]}}}),
        ),
    ];
    for (shape, claims) in refusing {
        let answer = fetch(&api, "/orders", &[&bearer(&fx.token(claims))]).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{shape}");
        assert_forbidden(&answer, "scope orders.read", Some("orders.read"));
    }
    assert_eq!(runs.count(), granted, "no refused request ran");
}

#[tokio::test]
async fn any_of_and_all_of() {
    let fx = Fixture::new().await;
    let runs = Runs::default();
    let api = serve(app(
        &fx,
        &[
            ("/any", Require::any_scope(["orders.read", "orders.admin"])),
            ("/all", Require::all_scopes(["orders.read", "orders.write"])),
            (
                "/roles",
                Require::all_roles(["Orders.Reader", "Orders.Auditor"]),
            ),
        ],
        &runs,
    ))
    .await;
    let read = bearer(&fx.token(json!({"scp": "orders.read"})));
    let admin = bearer(&fx.token(json!({"scp": "orders.admin"})));
    let both = bearer(&fx.token(json!({"scope": "orders.write orders.read"})));
    assert_ok(&fetch(&api, "/any", &[&read]).await);
    assert_ok(&fetch(&api, "/any", &[&admin]).await);
    assert_ok(&fetch(&api, "/all", &[&both]).await);
    assert_ok(&fetch(&api, "/any", &[&both]).await);
    assert_eq!(runs.count(), 4);

    // All-of: every scope to ask for; any-of: the first alternative only,
    // so a client is not told to ask for `orders.admin` to read.
    assert_forbidden(
        &fetch(&api, "/all", &[&read]).await,
        "scope orders.read and scope orders.write",
        Some("orders.read orders.write"),
    );
    let none = bearer(&fx.token(json!({"scope": "profile"})));
    assert_forbidden(
        &fetch(&api, "/any", &[&none]).await,
        "scope orders.read or scope orders.admin",
        Some("orders.read"),
    );

    let one_role = bearer(&fx.token(json!({"roles": ["Orders.Reader"]})));
    let two_roles = bearer(&fx.token(json!({"roles": ["Orders.Auditor", "Orders.Reader"]})));
    assert_ok(&fetch(&api, "/roles", &[&two_roles]).await);
    // Roles only: nothing a client could ask for, so no `scope`.
    assert_forbidden(
        &fetch(&api, "/roles", &[&one_role]).await,
        "role Orders.Reader and role Orders.Auditor",
        None,
    );
    assert_eq!(runs.count(), 5);
}

/// Entra ID: a user's delegated `scp`, or a daemon app's app role (no
/// `scp`, `roles` as an array; one role as a string is read too).
#[tokio::test]
async fn delegated_scope_or_app_role() {
    let fx = Fixture::new().await;
    let runs = Runs::default();
    let require = Require::scope("Orders.Read").or(Require::role("Orders.Read.All"));
    let api = serve(app(&fx, &[("/orders", require)], &runs)).await;
    for claims in [
        json!({"scp": "Orders.Read"}),
        json!({"roles": ["Orders.Read.All"], "idtyp": "app"}),
        json!({"roles": "Orders.Read.All"}),
    ] {
        assert_ok(&fetch(&api, "/orders", &[&bearer(&fx.token(claims))]).await);
    }
    let app_only = bearer(&fx.token(json!({"roles": ["Orders.Write.All"], "idtyp": "app"})));
    assert_forbidden(
        &fetch(&api, "/orders", &[&app_only]).await,
        "scope Orders.Read or role Orders.Read.All",
        Some("Orders.Read"),
    );
    assert_eq!(runs.count(), 3);
}

/// Keycloak: realm roles and client roles are different things. A realm
/// role `admin` is not the client role `admin` and the other way round;
/// another client's `admin` is neither; an app role `admin` is neither.
#[tokio::test]
async fn keycloak_realm_and_client_roles_are_kept_apart() {
    let fx = Fixture::new().await;
    let runs = Runs::default();
    let api = serve(app(
        &fx,
        &[
            ("/realm", Require::realm_role("admin")),
            ("/client", Require::client_role(AUDIENCE, "admin")),
            ("/app", Require::role("admin")),
        ],
        &runs,
    ))
    .await;
    let tokens = [
        (
            "realm role",
            json!({"realm_access": {"roles": ["offline_access", "admin"]},
                   "resource_access": {"account": {"roles": ["manage-account"]}}}),
        ),
        (
            "client role",
            json!({"realm_access": {"roles": ["offline_access"]},
                   "resource_access": {AUDIENCE: {"roles": ["admin"]}}}),
        ),
        (
            "another client's role",
            json!({"resource_access": {"billing-api": {"roles": ["admin"]}}}),
        ),
        ("app role", json!({"roles": ["admin"]})),
    ];
    let grants = |token: &str, path: &str| {
        matches!(
            (token, path),
            ("realm role", "/realm") | ("client role", "/client") | ("app role", "/app")
        )
    };
    let mut expected_runs = 0;
    for (name, claims) in &tokens {
        let token = bearer(&fx.token(claims.clone()));
        for (path, required) in [
            ("/realm", "realm role admin"),
            ("/client", "role admin of client orders-api"),
            ("/app", "role admin"),
        ] {
            let answer = fetch(&api, path, &[&token]).await;
            if grants(name, path) {
                assert_eq!(answer.status, StatusCode::OK, "{name} on {path}");
                expected_runs += 1;
            } else {
                assert_eq!(answer.status, StatusCode::FORBIDDEN, "{name} on {path}");
                assert_forbidden(&answer, required, None);
            }
        }
    }
    assert_eq!(runs.count(), expected_runs);
    assert_eq!(expected_runs, 3);

    // Any-of across the two: either kind will do, each still read from
    // its own claim.
    let runs = Runs::default();
    let either = Require::realm_role("admin").or(Require::client_role(AUDIENCE, "admin"));
    let api = serve(app(&fx, &[("/either", either)], &runs)).await;
    for (name, claims) in &tokens {
        let answer = fetch(&api, "/either", &[&bearer(&fx.token(claims.clone()))]).await;
        let granted = *name == "realm role" || *name == "client role";
        assert_eq!(
            answer.status == StatusCode::OK,
            granted,
            "{name}: {answer:?}"
        );
    }
    assert_eq!(runs.count(), 2);
}

/// Authentication comes first: no token or a bad token is a 401 from the
/// `OidcBearerLayer` on a route with a requirement too, and a route
/// without a requirement serves a token that has no scope at all.
#[tokio::test]
async fn routes_without_a_requirement_and_unauthenticated_requests() {
    let fx = Fixture::new().await;
    let runs = Runs::default();
    let api = serve(app(
        &fx,
        &[("/orders", Require::scope("orders.read"))],
        &runs,
    ))
    .await;
    let no_scope = bearer(&fx.token(json!({})));
    assert_ok(&fetch(&api, "/open", &[&no_scope]).await);

    let anonymous = fetch(&api, "/orders", &[]).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.challenge.as_deref(),
        Some(r#"Bearer realm="orders""#)
    );
    let expired = fx.token(json!({"scope": "orders.read", "exp": 1_000_000}));
    let answer = fetch(&api, "/orders", &[&bearer(&expired)]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(r#"Bearer realm="orders", error="invalid_token", error_description="token expired""#)
    );
    assert_eq!(fetch(&api, "/nowhere", &[&no_scope]).await.status, 404);
    assert_eq!(runs.count(), 1);
}

/// The rejection handler given to the layers writes the 403's body too;
/// status and challenge stay RFC 6750's.
#[tokio::test]
async fn a_custom_rejection_body_applies_to_the_403() {
    let fx = Fixture::new().await;
    let runs = Runs::default();
    let require = Require::all_scopes(["orders.read", "orders.write"]);
    let problem = Router::new()
        .route(
            "/orders",
            runs.handler().route_layer(
                require
                    .clone()
                    .layer::<StandardClaims>()
                    .realm(REALM)
                    .on_rejection(ProblemJson),
            ),
        )
        .route_layer(
            fx.validator
                .layer::<StandardClaims>()
                .realm(REALM)
                .on_rejection(ProblemJson),
        );
    let plain = |error: &Error, parts: http::response::Parts| {
        Response::from_parts(parts, format!("refused: {}", error.description()).into())
    };
    let closure = Router::new()
        .route(
            "/orders",
            runs.handler().route_layer(
                require
                    .layer::<StandardClaims>()
                    .realm(REALM)
                    .on_rejection(plain),
            ),
        )
        .route_layer(
            fx.validator
                .layer::<StandardClaims>()
                .realm(REALM)
                .on_rejection(plain),
        );
    let token = bearer(&fx.token(json!({"scope": "orders.read"})));
    let required = "scope orders.read and scope orders.write";

    let api = serve(problem).await;
    let response = api
        .client
        .get(format!("{}/orders", api.base))
        .header("authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.headers()["www-authenticate"],
        insufficient(required, Some("orders.read orders.write")).as_str()
    );
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "type": "about:blank",
            "title": "Forbidden",
            "status": 403,
            "detail": format!("insufficient scope: {required} required"),
        })
    );

    let api = serve(closure).await;
    let answer = fetch(&api, "/orders", &[&token]).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(insufficient(required, Some("orders.read orders.write")).as_str())
    );
    assert_eq!(
        answer.body,
        format!("refused: insufficient scope: {required} required")
    );
    assert_eq!(runs.count(), 0);
}

/// A request that reaches the requirement without claims never passes:
/// anonymous (the layer allows it) is a 401 like a missing token; no
/// `OidcBearerLayer` in front, or one for another claims type, is a 500.
#[tokio::test]
async fn a_request_without_claims_never_passes() {
    let fx = Fixture::new().await;
    let runs = Runs::default();
    let require = || {
        Require::scope("orders.read")
            .layer::<StandardClaims>()
            .realm(REALM)
    };
    let anonymous_allowed = Router::new()
        .route("/orders", runs.handler().route_layer(require()))
        .route("/open", runs.handler())
        .route_layer(fx.validator.layer::<StandardClaims>().allow_anonymous());
    let api = serve(anonymous_allowed).await;
    assert_ok(&fetch(&api, "/open", &[]).await);
    let answer = fetch(&api, "/orders", &[]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(r#"Bearer realm="orders""#)
    );
    let token = bearer(&fx.token(json!({"scope": "orders.read"})));
    assert_ok(&fetch(&api, "/orders", &[&token]).await);
    assert_eq!(runs.count(), 2);

    #[derive(serde::Deserialize)]
    struct Other {}
    let forgotten = Router::new().route("/orders", runs.handler().route_layer(require()));
    // In the wrong order, the requirement runs before the claims exist.
    let wrong_order = Router::new()
        .route("/orders", runs.handler())
        .route_layer(fx.validator.layer::<StandardClaims>())
        .route_layer(require());
    let other_claims = Router::new()
        .route("/orders", runs.handler().route_layer(require()))
        .route_layer(fx.validator.layer::<Other>());
    for (name, router, why) in [
        (
            "no layer",
            forgotten,
            "found no oidc-bearer layer in front of it",
        ),
        (
            "wrong order",
            wrong_order,
            "found no oidc-bearer layer in front of it",
        ),
        (
            "other claims type",
            other_claims,
            "sits behind an oidc-bearer layer for another claims type",
        ),
    ] {
        let api = serve(router).await;
        let answer = fetch(&api, "/orders", &[&token]).await;
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR, "{name}");
        assert_eq!(answer.challenge, None, "{name}");
        // A server bug, explained to whoever wires the router: what is
        // wrong and the order that fixes it; nothing of the token.
        assert!(answer.body.contains(why), "{name}: {}", answer.body);
        assert!(
            answer.body.contains(".route_layer(validator.layer::<"),
            "{name}: {}",
            answer.body
        );
        assert!(!answer.body.contains(&token[7..]), "{name}");
    }
    // A custom body tells the misplaced layer from a `build()` error.
    let kind = |error: &Error, parts: http::response::Parts| {
        let body = format!("{:?} {}", error.kind(), error.reason());
        Response::from_parts(parts, body.into())
    };
    let forgotten = Router::new().route(
        "/orders",
        runs.handler().route_layer(require().on_rejection(kind)),
    );
    let answer = fetch(&serve(forgotten).await, "/orders", &[&token]).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.body, "Misplaced misplaced");
    assert_eq!(runs.count(), 2);
}

/// The guard in a handler answers exactly as the layer would, and
/// `Require::check` gives the same error for code outside axum.
#[tokio::test]
async fn the_handler_guard_answers_as_the_layer_does() {
    let fx = Fixture::new().await;
    let guard = Require::client_role(AUDIENCE, "editor")
        .or(Require::scope("orders.write"))
        .layer::<StandardClaims>()
        .realm(REALM)
        .on_rejection(ProblemJson);
    let runs = Runs::default();
    let (guarded, counter) = (guard.clone(), runs.clone());
    let app = Router::new()
        .route(
            "/orders/{id}",
            get(move |claims: Claims<StandardClaims>| async move {
                guarded.authorize(&claims)?;
                counter.0.fetch_add(1, Ordering::SeqCst);
                Ok::<_, Response>("ran")
            }),
        )
        .route("/layer", runs.handler().route_layer(guard.clone()))
        .route_layer(
            fx.validator
                .layer::<StandardClaims>()
                .realm(REALM)
                .on_rejection(ProblemJson),
        );
    let api = serve(app).await;
    let editor = bearer(&fx.token(json!({"resource_access": {AUDIENCE: {"roles": ["editor"]}}})));
    let reader =
        bearer(&fx.token(json!({"scope": "orders.read", "realm_access": {"roles": ["editor"]}})));
    assert_ok(&fetch(&api, "/orders/7", &[&editor]).await);
    let from_guard = fetch(&api, "/orders/7", &[&reader]).await;
    let from_layer = fetch(&api, "/layer", &[&reader]).await;
    assert_eq!(from_guard.status, StatusCode::FORBIDDEN);
    assert_eq!(
        from_guard.challenge.as_deref(),
        Some(
            insufficient(
                "role editor of client orders-api or scope orders.write",
                Some("orders.write")
            )
            .as_str()
        )
    );
    assert_eq!(
        (from_guard.status, &from_guard.challenge, &from_guard.body),
        (from_layer.status, &from_layer.challenge, &from_layer.body)
    );
    assert!(from_guard.body.contains(r#""status":403"#));
    assert_eq!(runs.count(), 1, "only the editor's request ran");

    let claims = fx
        .validator
        .verify::<StandardClaims>(&fx.token(json!({"scope": "orders.read"})))
        .await
        .unwrap();
    let error = guard.requirement().check(&claims).unwrap_err();
    let parts = rejection_parts(&error, Some(REALM));
    assert_eq!(parts.status, StatusCode::FORBIDDEN);
    assert_eq!(
        parts.headers["www-authenticate"],
        from_guard.challenge.unwrap().as_str()
    );
}

/// An application's own claims type takes part by implementing `Grants`.
#[tokio::test]
async fn custom_claims_types_implement_grants() {
    #[derive(serde::Deserialize)]
    struct Mine {
        permissions: Vec<String>,
    }
    impl Grants for Mine {
        // Auth0 puts RBAC permissions in `permissions`: scopes by another name.
        fn has_scope(&self, scope: &str) -> bool {
            self.permissions.iter().any(|p| p == scope)
        }
    }
    let fx = Fixture::new().await;
    let runs = Runs::default();
    let app = Router::new()
        .route(
            "/orders",
            runs.handler().route_layer(
                Require::scope("read:orders")
                    .or(Require::role("admin"))
                    .layer::<Mine>()
                    .realm(REALM),
            ),
        )
        .route_layer(fx.validator.layer::<Mine>().realm(REALM));
    let api = serve(app).await;
    let granted = bearer(&fx.token(json!({"permissions": ["read:orders"]})));
    assert_ok(&fetch(&api, "/orders", &[&granted]).await);
    // `Mine` has no roles: `roles` in the token is not asked for.
    let role = bearer(&fx.token(json!({"permissions": [], "roles": ["admin"]})));
    assert_forbidden(
        &fetch(&api, "/orders", &[&role]).await,
        "scope read:orders or role admin",
        Some("read:orders"),
    );
    assert_eq!(runs.count(), 1);
}

/// The realm and the rejection handler are said once, on the bearer
/// layer: `Require`, `StepUp`, the guard `authorize_in` and the `Claims`
/// extractor answer with them; a requirement's own `.realm(..)` or
/// `.on_rejection(..)` wins for its route.
#[tokio::test]
async fn realm_and_handler_are_said_once_on_the_bearer_layer() {
    let fx = Fixture::new().await;
    let runs = Runs::default();
    let write = || Require::scope("orders.write").layer::<StandardClaims>();
    let plain = |_: &Error, parts: http::response::Parts| Response::from_parts(parts, "own".into());
    let guarded = move |extensions: http::Extensions, claims: Claims<StandardClaims>| async move {
        write().authorize_in(&claims, &extensions)?;
        Ok::<_, Response>("ran")
    };
    let app = Router::new()
        .route("/inherits", runs.handler().route_layer(write()))
        .route(
            "/step-up",
            runs.handler().route_layer(
                oidc_bearer::StepUp::acr_values(["urn:test:mfa"]).layer::<StandardClaims>(),
            ),
        )
        .route("/guard", get(guarded))
        .route(
            "/own",
            runs.handler()
                .route_layer(write().realm("own-realm").on_rejection(plain)),
        )
        .route_layer(
            fx.validator
                .layer::<StandardClaims>()
                .realm(REALM)
                .on_rejection(ProblemJson),
        );
    let api = serve(app).await;
    let reader = bearer(&fx.token(json!({"scope": "orders.read"})));
    for path in ["/inherits", "/guard"] {
        let answer = fetch(&api, path, &[&reader]).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            answer.challenge.as_deref(),
            Some(insufficient("scope orders.write", Some("orders.write")).as_str()),
            "{path}"
        );
        let body: Value = serde_json::from_str(&answer.body).expect("problem+json");
        assert_eq!(body["status"], 403, "{path}");
    }
    let step_up = fetch(&api, "/step-up", &[&reader]).await;
    assert_eq!(step_up.status, StatusCode::UNAUTHORIZED);
    assert!(
        step_up.challenge.as_deref().unwrap().starts_with(&format!(
            "Bearer realm=\"{REALM}\", error=\"insufficient_user_authentication\""
        )),
        "{step_up:?}"
    );
    let body: Value = serde_json::from_str(&step_up.body).expect("problem+json");
    assert_eq!(body["status"], 401);
    let own = fetch(&api, "/own", &[&reader]).await;
    assert_eq!(own.status, StatusCode::FORBIDDEN);
    assert!(
        own.challenge
            .as_deref()
            .unwrap()
            .starts_with(r#"Bearer realm="own-realm", error="insufficient_scope""#),
        "{own:?}"
    );
    assert_eq!(own.body, "own");
    assert_eq!(runs.count(), 0);
}

/// Every refusal is counted once in the validator's metrics, by its
/// reason, wherever it is decided: the request's (no token, a malformed
/// header, a token over the size limit), the token's (the validator), the
/// route's (`Require`'s 403, a `StepUp`'s 401) and a misplaced layer's.
#[tokio::test]
async fn every_refusal_is_counted_once_by_its_reason() {
    let fx = Fixture::new().await;
    let runs = Runs::default();
    let strong = oidc_bearer::StepUp::acr_values(["urn:test:mfa"]);
    let app = Router::new()
        .route(
            "/orders",
            runs.handler()
                .route_layer(Require::scope("orders.read").layer::<StandardClaims>()),
        )
        .route(
            "/strong",
            runs.handler().route_layer(strong.layer::<StandardClaims>()),
        )
        .route_layer(fx.validator.layer::<StandardClaims>())
        .route(
            "/misplaced",
            runs.handler()
                .route_layer(Require::scope("orders.read").layer::<StandardClaims>()),
        );
    let api = serve(app).await;
    let huge = format!("Bearer {}", "a".repeat(20_000));
    let expired = bearer(&fx.token(json!({"exp": 1_000, "scope": "orders.read"})));
    let reader = bearer(&fx.token(json!({"scope": "orders.read"})));
    let nobody = bearer(&fx.token(json!({})));
    for (path, authorization, status) in [
        ("/orders", vec![], 401),
        ("/orders", vec!["Bearer a b"], 400),
        ("/orders", vec![huge.as_str()], 401),
        ("/orders", vec![expired.as_str()], 401),
        ("/orders", vec![nobody.as_str()], 403),
        ("/strong", vec![reader.as_str()], 401),
        ("/misplaced", vec![reader.as_str()], 500),
        ("/orders", vec![reader.as_str()], 200),
    ] {
        let answer = fetch(&api, path, &authorization).await;
        assert_eq!(answer.status, status, "{path} {authorization:?}");
    }
    let metrics = fx.validator.metrics();
    let rejected: Vec<(&str, u64)> = metrics.rejected.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(
        rejected,
        [
            ("expired", 1),
            ("insufficient_scope", 1),
            ("insufficient_user_authentication", 1),
            ("invalid_request", 1),
            ("missing_token", 1),
            ("token_too_large", 1),
        ],
        "the misplaced layer has no validator to count with"
    );
    assert_eq!(runs.count(), 1);
}

/// A hit allocates nothing: neither the check nor the layer around a
/// service (the requirement is built once, at startup): a request through
/// the bearer layer and the requirement allocates what one through the
/// bearer layer alone does.
#[tokio::test]
async fn a_hit_allocates_nothing() {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    use tower::{Layer, Service};

    fn ready<F: Future>(future: F) -> F::Output {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the inner service is always ready"),
        }
    }

    let grants = json!({
        "scope": "openid profile orders.read orders.write",
        "roles": ["a", "b", "c"],
        "resource_access": {"account": {"roles": ["x"]}, AUDIENCE: {"roles": ["viewer", "admin"]}},
    });
    let claims: StandardClaims = serde_json::from_value(grants.clone()).unwrap();
    let require = Require::all_scopes(["orders.read", "orders.write"])
        .and(Require::client_role(AUDIENCE, "admin").or(Require::realm_role("admin")));
    let (met, allocations) = allocations::count(|| require.is_met_by(&claims));
    assert!(met);
    assert_eq!(allocations, 0);

    let fx = Fixture::new().await;
    let token = fx.token(grants);
    let inner = tower::service_fn(|_: http::Request<()>| {
        std::future::ready(Ok::<_, std::convert::Infallible>(http::Response::new(
            String::new(),
        )))
    });
    let bearer = fx.validator.layer::<StandardClaims>();
    let mut alone = bearer.layer(inner);
    let mut required = bearer.layer(require.layer::<StandardClaims>().layer(inner));
    let request = || {
        http::Request::get("/")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap()
    };
    // Settle the token cache and per-thread state.
    for _ in 0..2 {
        ready(alone.call(request())).unwrap();
        ready(required.call(request())).unwrap();
    }
    let (request_a, request_b) = (request(), request());
    let (response, alone_allocations) = allocations::count(|| ready(alone.call(request_a)));
    assert_eq!(response.unwrap().status(), StatusCode::OK);
    let (response, required_allocations) = allocations::count(|| ready(required.call(request_b)));
    assert_eq!(response.unwrap().status(), StatusCode::OK);
    assert_eq!(required_allocations, alone_allocations);
}

/// Heap allocations on this thread, counted by the global allocator.
#[path = "common/alloc_meter.rs"]
mod alloc_meter;

mod allocations {
    /// `f`'s result and how many allocations it made.
    pub fn count<T>(f: impl FnOnce() -> T) -> (T, u64) {
        let (out, allocs) = super::alloc_meter::measure(f);
        (out, allocs.count)
    }
}
