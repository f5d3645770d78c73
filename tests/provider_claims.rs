//! The provider claims types (`EntraClaims`, `KeycloakClaims`) as users
//! put them to work: tokens in the providers' shapes, signed by a
//! `TestIssuer` whose JWKS is fetched over HTTP, sent over 127.0.0.1 to an
//! axum app with the `OidcBearerLayer` and per-route `Require` layers for
//! that claims type. Parsing details are unit-tested in
//! `src/providers/`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::{MethodRouter, get};
use http::StatusCode;
use oidc_bearer::authz::{GrantKinds, Grants};
use oidc_bearer::providers::{EntraClaims, KeycloakClaims};
use oidc_bearer::{Claims, Issuer, Require, Validator};
use oidc_bearer_testkit::TestIssuer;
use serde_json::{Value, json};

mod common;
use common::{Answer, Api, bearer, fetch, serve, validator_for};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const USER_OID: &str = "690222be-ff1a-4d56-abd1-7e4f7d38e474";
const API: &str = "orders-api";

/// How often the handlers ran.
#[derive(Clone, Default)]
struct Runs(Arc<AtomicUsize>);

impl Runs {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    fn ran(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct Setup {
    issuer: TestIssuer,
    validator: Validator,
}

impl Setup {
    /// The testkit's issuer, a Keycloak realm by its shape.
    async fn start() -> Setup {
        let issuer = TestIssuer::start().await;
        let validator = validator_for(&issuer, API).build().await.unwrap();
        Setup { issuer, validator }
    }

    /// The testkit's issuer taken for an Entra ID tenant: the grants of
    /// Entra ID's tokens (scopes and app roles).
    async fn entra() -> Setup {
        let issuer = TestIssuer::start().await;
        let validator = Validator::builder()
            .trust(
                Issuer::new(&issuer.issuer)
                    .audience(API)
                    .jwks_url(&issuer.jwks_url)
                    .grants(GrantKinds::ENTRA_ID),
            )
            .build()
            .await
            .unwrap();
        Setup { issuer, validator }
    }

    /// A valid token: the issuer's `iss`, `aud`, `exp`, `iat`, `nbf` and
    /// `claims`, without the testkit's default `scope` and `sub`.
    fn token(&self, claims: Value) -> String {
        self.issuer
            .builder(API)
            .remove_claim("scope")
            .remove_claim("sub")
            .claims(claims)
            .sign(&self.issuer.key)
    }
}

/// The claims of a v2.0 Entra ID access token (the issuer is the test's:
/// the claims type does not read it).
fn entra(extra: Value) -> Value {
    let mut claims = json!({
        "aio": "AXQAi/8IAAAA", "azp": "75dbe77f-10a3-4e59-85fd-8c127544f17c", "azpacr": "0",
        "name": "Abe Lincoln", "oid": USER_OID, "preferred_username": "abeli@microsoft.com",
        "rh": "I", "sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ", "tid": TENANT,
        "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "2.0"
    });
    claims
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    claims
}

/// The claims of a Keycloak access token for the SPA `shop-spa`, with
/// `orders-api` added by an Audience mapper.
fn keycloak(extra: Value) -> Value {
    let mut claims = json!({
        "aud": [API, "account"], "jti": "onrtac:6c0bd6f4", "typ": "Bearer",
        "sub": "9d2b4a2e-3c1f-4f55-9a51-2f0c8f1b7e42", "azp": "shop-spa",
        "sid": "0f6a1c2d-5e4b-4a39-8c7d-1b2e3f4a5b6c",
        "scope": "openid profile email orders.read",
        "email_verified": true, "preferred_username": "alice", "email": "alice@example.com"
    });
    claims
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    claims
}

/// `/orders` needs scope `orders.read`, `/admin` the app role
/// `Orders.Admin`; handlers answer from the `Claims<EntraClaims>` they get.
fn entra_app(validator: &Validator, runs: &Runs) -> Router {
    let handler = |runs: &Runs| -> MethodRouter {
        let runs = runs.clone();
        get(move |claims: Claims<EntraClaims>| async move {
            runs.ran();
            format!(
                "tid={} oid={} client={} user={} app_only={}",
                claims.tid.as_deref().unwrap_or("-"),
                claims.oid.as_deref().unwrap_or("-"),
                claims.client_id().unwrap_or("-"),
                claims.user_name().unwrap_or("-"),
                claims.is_app_only(),
            )
        })
    };
    Router::new()
        .route(
            "/orders",
            handler(runs).route_layer(Require::scope("orders.read").layer::<EntraClaims>()),
        )
        .route(
            "/admin",
            handler(runs).route_layer(Require::role("Orders.Admin").layer::<EntraClaims>()),
        )
        .route_layer(validator.layer::<EntraClaims>())
}

#[track_caller]
fn assert_forbidden(answer: &Answer, required: &str) {
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{answer:?}");
    let challenge = answer.challenge.as_deref().unwrap_or_default();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(&format!("insufficient scope: {required} required")),
        "{challenge}"
    );
}

async fn get_with(api: &Api, path: &str, token: &str) -> Answer {
    fetch(api, path, &[&bearer(token)]).await
}

#[tokio::test]
async fn entra_delegated_token_with_scp_reaches_the_handler() {
    let setup = Setup::entra().await;
    let runs = Runs::default();
    let api = serve(entra_app(&setup.validator, &runs)).await;
    let token = setup.token(entra(json!({"scp": "orders.read profile"})));
    let answer = get_with(&api, "/orders", &token).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(
        answer.body,
        format!(
            "tid={TENANT} oid={USER_OID} client=75dbe77f-10a3-4e59-85fd-8c127544f17c \
             user=abeli@microsoft.com app_only=false"
        )
    );
    // A scope is not an app role.
    assert_forbidden(&get_with(&api, "/admin", &token).await, "role Orders.Admin");
    assert_eq!(runs.count(), 1);
}

#[tokio::test]
async fn entra_app_only_token_has_roles_but_no_scope() {
    let setup = Setup::entra().await;
    let runs = Runs::default();
    let api = serve(entra_app(&setup.validator, &runs)).await;
    let token = setup.token(json!({
        "azp": "0c4d8e3a-9b6f-4d2a-8e1f-3f5d9a7b2c11", "azpacr": "1", "idtyp": "app",
        "oid": "b1f2c3d4-0000-4000-8000-00000000000a", "roles": ["Orders.Admin"],
        "sub": "b1f2c3d4-0000-4000-8000-00000000000a", "tid": TENANT, "ver": "2.0"
    }));
    let refused = get_with(&api, "/orders", &token).await;
    assert_forbidden(&refused, "scope orders.read");
    assert!(
        refused
            .challenge
            .as_deref()
            .unwrap()
            .contains(r#"scope="orders.read""#)
    );
    assert_eq!(runs.count(), 0, "the handler never ran for a refusal");

    let answer = get_with(&api, "/admin", &token).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(
        answer.body,
        format!(
            "tid={TENANT} oid=b1f2c3d4-0000-4000-8000-00000000000a \
             client=0c4d8e3a-9b6f-4d2a-8e1f-3f5d9a7b2c11 user=- app_only=true"
        )
    );
    // A role named like the scope is still no scope.
    let role_named_like_scope = setup.token(entra(json!({"roles": ["orders.read"]})));
    assert_forbidden(
        &get_with(&api, "/orders", &role_named_like_scope).await,
        "scope orders.read",
    );
    assert_eq!(runs.count(), 1);
}

/// A claim of the wrong shape is a refused token (401), never a panic or a
/// 500: the claims type's serde error is an invalid token.
#[tokio::test]
async fn entra_claims_of_the_wrong_shape_are_an_invalid_token() {
    let setup = Setup::entra().await;
    let runs = Runs::default();
    let api = serve(entra_app(&setup.validator, &runs)).await;
    for bad in [json!({"roles": 5}), json!({"scp": {"orders.read": true}})] {
        let token = setup.token(entra(bad.clone()));
        let answer = get_with(&api, "/orders", &token).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{bad}: {answer:?}");
        assert_eq!(
            answer.challenge.as_deref(),
            Some(
                r#"Bearer error="invalid_token", error_description="claims do not match the expected shape""#
            ),
            "{bad}"
        );
    }
    assert_eq!(runs.count(), 0);
}

/// `/orders` needs scope `orders.read`, `/edit` the client role `editor`
/// of `orders-api`, `/realm-admin` the realm role `admin`; handlers
/// answer from the `Claims<KeycloakClaims>` they get.
fn keycloak_app(validator: &Validator, runs: &Runs) -> Router {
    let handler = |runs: &Runs| -> MethodRouter {
        let runs = runs.clone();
        get(move |claims: Claims<KeycloakClaims>| async move {
            runs.ran();
            format!(
                "user={} roles={}",
                claims.preferred_username.as_deref().unwrap_or("-"),
                claims.client_roles(API).collect::<Vec<_>>().join(",")
            )
        })
    };
    Router::new()
        .route(
            "/orders",
            handler(runs).route_layer(Require::scope("orders.read").layer::<KeycloakClaims>()),
        )
        .route(
            "/edit",
            handler(runs)
                .route_layer(Require::client_role(API, "editor").layer::<KeycloakClaims>()),
        )
        .route(
            "/realm-admin",
            handler(runs).route_layer(Require::realm_role("admin").layer::<KeycloakClaims>()),
        )
        .route_layer(validator.layer::<KeycloakClaims>())
}

#[tokio::test]
async fn keycloak_scope_and_client_role_reach_the_handler() {
    let setup = Setup::start().await;
    let runs = Runs::default();
    let api = serve(keycloak_app(&setup.validator, &runs)).await;
    let token = setup.token(keycloak(json!({
        "realm_access": {"roles": ["offline_access", "uma_authorization"]},
        "resource_access": {
            API: {"roles": ["viewer", "editor"]},
            "account": {"roles": ["manage-account", "view-profile"]}
        }
    })));
    for path in ["/orders", "/edit"] {
        let answer = get_with(&api, path, &token).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {answer:?}");
        assert_eq!(answer.body, "user=alice roles=viewer,editor");
    }
    assert_forbidden(
        &get_with(&api, "/realm-admin", &token).await,
        "realm role admin",
    );
    assert_eq!(runs.count(), 2);
}

/// A realm role never passes for the client role of the same name, a
/// client role never for the realm role, and another client's role never
/// for this client's.
#[tokio::test]
async fn keycloak_realm_and_client_roles_of_one_name_stay_apart() {
    let setup = Setup::start().await;
    let runs = Runs::default();
    let api = serve(keycloak_app(&setup.validator, &runs)).await;
    let realm_editor = setup.token(keycloak(json!({
        "realm_access": {"roles": ["editor", "admin"]}
    })));
    let client_admin = setup.token(keycloak(json!({
        "resource_access": {API: {"roles": ["admin"]}}
    })));
    let other_client_editor = setup.token(keycloak(json!({
        "resource_access": {"billing-api": {"roles": ["editor"]}}
    })));
    let role_edit = "role editor of client orders-api";
    assert_forbidden(&get_with(&api, "/edit", &realm_editor).await, role_edit);
    assert_forbidden(
        &get_with(&api, "/edit", &other_client_editor).await,
        role_edit,
    );
    assert_forbidden(
        &get_with(&api, "/realm-admin", &client_admin).await,
        "realm role admin",
    );
    assert_eq!(runs.count(), 0);
    let answer = get_with(&api, "/realm-admin", &realm_editor).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body, "user=alice roles=");
    assert_eq!(runs.count(), 1);
}

/// Both types are `#[non_exhaustive]`; outside the crate they are still
/// built from `Default` and field assignment (for handler unit tests).
#[test]
fn built_from_default_outside_the_crate() {
    let mut entra = EntraClaims::default();
    entra.tid = Some(TENANT.into());
    entra.scp.insert("orders.read".into());
    entra.roles.push("Orders.Admin".into());
    assert!(Require::scope("orders.read").is_met_by(&entra));
    assert!(Require::role("Orders.Admin").is_met_by(&entra));
    assert!(!entra.has_realm_role("Orders.Admin"));

    let mut kc = KeycloakClaims::default();
    kc.scope.insert("orders.read".into());
    kc.realm_access.roles.push("admin".into());
    assert!(Require::realm_role("admin").is_met_by(&kc));
    assert!(!Require::client_role(API, "admin").is_met_by(&kc));
    assert!(!Require::role("admin").is_met_by(&kc));
    let claims = Claims::new(kc);
    assert!(claims.has_scope("orders.read"));
}
