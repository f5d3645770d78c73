//! A token's grants are read in the vocabulary of the issuer that signed
//! it, and a requirement can name the issuer it is for: an API trusting a
//! multi-tenant Entra ID app (two tenants, v1 and v2 tokens) and a
//! Keycloak realm through the presets, with `StandardClaims` for both,
//! scopes and roles per route, each provider's tokens trying the other's
//! routes over HTTP on 127.0.0.1.

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use oidc_bearer::authz::GrantKinds;
use oidc_bearer::issuers::IntoIssuers;
use oidc_bearer::providers::{EntraClaims, EntraTokenVersion};
use oidc_bearer::{EntraId, Error, Issuer, Keycloak, Require, StandardClaims, Validator};
use oidc_bearer_testkit::{KeyKind, TestKey, TokenBuilder, jwks, now};
use serde_json::{Value, json};

mod common;
use common::{Answer, Api, bearer, fetch, serve};

const TENANT_A: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const TENANT_B: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
const ENTRA_API: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const KEYCLOAK: &str = "https://auth.example.test";
const KC_API: &str = "orders-api";

struct Providers {
    entra_key: TestKey,
    kc_key: TestKey,
    partners_key: TestKey,
}

impl Providers {
    fn new() -> Providers {
        Providers {
            entra_key: TestKey::generate(KeyKind::Rsa2048, "entra-1"),
            kc_key: TestKey::generate(KeyKind::Rsa2048, "kc-shop-1"),
            partners_key: TestKey::generate(KeyKind::Rsa2048, "kc-partners-1"),
        }
    }

    /// Entra ID (any of the two tenants, v1 and v2 tokens) and the
    /// Keycloak realm `shop`, through their presets, with their keys
    /// served from memory; optionally the realm `partners` labelled so.
    fn issuers(&self, partners: bool) -> Vec<Issuer> {
        let entra_jwks = json!({"keys": [common::microsoft_jwk(
            &self.entra_key,
            "https://login.microsoftonline.com/{tenantid}/v2.0",
        )]});
        let mut issuers = EntraId::multi_tenant()
            .audience(ENTRA_API)
            .audience("api://orders")
            .token_version(EntraTokenVersion::V1AndV2)
            .allowed_tenants([TENANT_A, TENANT_B])
            .each(|issuer| issuer.jwks_json(serde_json::to_vec(&entra_jwks).unwrap()));
        issuers.extend(
            Keycloak::realm(KEYCLOAK, "shop")
                .audience(KC_API)
                .each(|issuer| issuer.jwks_json(jwks_of(&self.kc_key))),
        );
        if partners {
            issuers.extend(
                Keycloak::realm(KEYCLOAK, "partners")
                    .audience(KC_API)
                    .each(|issuer| {
                        issuer
                            .jwks_json(jwks_of(&self.partners_key))
                            .label("partners")
                    }),
            );
        }
        issuers
    }

    async fn validator(&self, partners: bool) -> Validator {
        Validator::builder()
            .trust(self.issuers(partners))
            .build()
            .await
            .unwrap()
    }

    /// An Entra ID v2 token of `tenant` with `extra` claims.
    fn entra_v2(&self, tenant: &str, extra: Value) -> String {
        let now = now();
        TokenBuilder::new()
            .header("x5t", self.entra_key.x5t())
            .claims(json!({
                "aud": ENTRA_API, "iss": format!("https://login.microsoftonline.com/{tenant}/v2.0"),
                "iat": now, "nbf": now, "exp": now + 3600, "tid": tenant, "ver": "2.0",
                "azp": "a5d0e0f1-0000-4000-8000-000000000001",
                "oid": "00000000-0000-0000-66f3-3332eca7ea81", "sub": "entra-user",
            }))
            .claims(extra)
            .sign(&self.entra_key)
    }

    /// An Entra ID v1 token of `tenant` with `extra` claims.
    fn entra_v1(&self, tenant: &str, extra: Value) -> String {
        let now = now();
        TokenBuilder::new()
            .header("x5t", self.entra_key.x5t())
            .claims(json!({
                "aud": "api://orders", "iss": format!("https://sts.windows.net/{tenant}/"),
                "iat": now, "nbf": now, "exp": now + 3600, "tid": tenant, "ver": "1.0",
                "appid": "a5d0e0f1-0000-4000-8000-000000000001", "sub": "entra-user",
            }))
            .claims(extra)
            .sign(&self.entra_key)
    }

    /// A Keycloak access token of `realm` with `extra` claims.
    fn keycloak(&self, realm: &str, extra: Value) -> String {
        let key = match realm {
            "shop" => &self.kc_key,
            _ => &self.partners_key,
        };
        let now = now();
        TokenBuilder::new()
            .claims(json!({
                "aud": KC_API, "iss": format!("{KEYCLOAK}/realms/{realm}"), "typ": "Bearer",
                "azp": "orders-spa", "iat": now, "exp": now + 300, "sub": "kc-user",
                "scope": "openid profile",
            }))
            .claims(extra)
            .sign(key)
    }
}

fn jwks_of(key: &TestKey) -> Vec<u8> {
    serde_json::to_vec(&jwks(&[key])).unwrap()
}

/// The newcomer's routes, with `StandardClaims` for both providers.
async fn api(validator: &Validator) -> Api {
    let route =
        |require: Require| get(|| async { "ran" }).route_layer(require.layer::<StandardClaims>());
    serve(
        Router::new()
            // The issue's route, unscoped: either kind of admin.
            .route(
                "/either-admin",
                route(Require::role("Orders.Admin").or(Require::client_role(KC_API, "admin"))),
            )
            .route(
                "/entra-admin",
                route(Require::role("Orders.Admin").issued_by("entra")),
            )
            .route(
                "/keycloak-admin",
                route(Require::client_role(KC_API, "admin").issued_by("keycloak")),
            )
            .route(
                "/shop-admin",
                route(
                    Require::realm_role("admin")
                        .issued_by(format!("{KEYCLOAK}/realms/shop").as_str()),
                ),
            )
            .route(
                "/partners-admin",
                route(Require::realm_role("admin").issued_by("partners")),
            )
            .route("/read", route(Require::scope("orders.read")))
            .route(
                "/entra-read",
                route(Require::scope("orders.read").issued_by("entra")),
            )
            .route_layer(validator.layer::<StandardClaims>()),
    )
    .await
}

#[track_caller]
fn assert_ok(answer: &Answer, what: &str) {
    assert_eq!(answer.status, StatusCode::OK, "{what}: {answer:?}");
    assert_eq!(answer.body, "ran");
}

#[track_caller]
fn assert_forbidden(answer: &Answer, what: &str, description: &str) {
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{what}: {answer:?}");
    let challenge = answer.challenge.as_deref().unwrap_or_default();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains(&format!(
                "error_description=\"insufficient scope: {description} required\""
            )),
        "{what}: expected {description:?} in {challenge:?}"
    );
}

/// The report: a Keycloak token carrying `roles: ["Orders.Admin"]` (a
/// role mapper can emit that claim) got into the Entra admin route. A
/// Keycloak realm issues no app roles, so `roles` is not read from its
/// tokens, on an unscoped route or one for Entra ID.
#[tokio::test]
async fn a_keycloak_token_with_a_roles_claim_is_no_entra_app_role() {
    let providers = Providers::new();
    let api = api(&providers.validator(false).await).await;
    let forged = bearer(&providers.keycloak("shop", json!({"roles": ["Orders.Admin"]})));
    assert_forbidden(
        &fetch(&api, "/either-admin", &[&forged]).await,
        "a Keycloak `roles` claim, unscoped route",
        "role Orders.Admin or role admin of client orders-api (the token's issuer issues no app roles)",
    );
    assert_forbidden(
        &fetch(&api, "/entra-admin", &[&forged]).await,
        "a Keycloak `roles` claim, Entra route",
        "role Orders.Admin from entra (the token's issuer issues no app roles)",
    );
    // The same claim from Entra ID is its app role, v2 and v1, both tenants.
    for (what, token) in [
        (
            "v2, tenant A",
            providers.entra_v2(TENANT_A, json!({"roles": ["Orders.Admin"]})),
        ),
        (
            "v1, tenant B",
            providers.entra_v1(TENANT_B, json!({"roles": ["Orders.Admin"]})),
        ),
    ] {
        let token = bearer(&token);
        assert_ok(&fetch(&api, "/either-admin", &[&token]).await, what);
        assert_ok(&fetch(&api, "/entra-admin", &[&token]).await, what);
        assert_forbidden(
            &fetch(&api, "/keycloak-admin", &[&token]).await,
            what,
            "role admin of client orders-api from keycloak (the token's issuer issues no client roles)",
        );
    }
}

/// The other way round: an Entra ID token carrying Keycloak's claims
/// grants no Keycloak role, and a Keycloak client-role admin gets into
/// the Keycloak routes only.
#[tokio::test]
async fn keycloak_roles_come_only_from_keycloak_tokens() {
    let providers = Providers::new();
    let api = api(&providers.validator(false).await).await;
    let kc_admin = json!({
        "realm_access": {"roles": ["admin"]},
        "resource_access": {KC_API: {"roles": ["admin"]}},
    });
    let entra = bearer(&providers.entra_v2(TENANT_A, kc_admin.clone()));
    assert_forbidden(
        &fetch(&api, "/keycloak-admin", &[&entra]).await,
        "Entra token with resource_access",
        "role admin of client orders-api from keycloak (the token's issuer issues no client roles)",
    );
    assert_forbidden(
        &fetch(&api, "/either-admin", &[&entra]).await,
        "Entra token with resource_access, unscoped",
        "role Orders.Admin or role admin of client orders-api (the token's issuer issues no client roles)",
    );
    assert_forbidden(
        &fetch(&api, "/shop-admin", &[&entra]).await,
        "Entra token with realm_access",
        "realm role admin from https://auth.example.test/realms/shop (the token's issuer issues no realm roles)",
    );

    let keycloak = bearer(&providers.keycloak("shop", kc_admin));
    for path in ["/keycloak-admin", "/either-admin", "/shop-admin"] {
        assert_ok(&fetch(&api, path, &[&keycloak]).await, path);
    }
    assert_forbidden(
        &fetch(&api, "/entra-admin", &[&keycloak]).await,
        "Keycloak admin on the Entra route",
        "role Orders.Admin from entra (the token's issuer issues no app roles)",
    );
}

/// Scopes are one kind at both providers: an unscoped scope route takes
/// either's, one for Entra ID only Entra's.
#[tokio::test]
async fn a_scope_requirement_can_name_its_issuer() {
    let providers = Providers::new();
    let api = api(&providers.validator(false).await).await;
    let entra = bearer(&providers.entra_v2(TENANT_B, json!({"scp": "orders.read"})));
    let keycloak = bearer(&providers.keycloak("shop", json!({"scope": "openid orders.read"})));
    assert_ok(&fetch(&api, "/read", &[&entra]).await, "Entra scope");
    assert_ok(&fetch(&api, "/read", &[&keycloak]).await, "Keycloak scope");
    assert_ok(&fetch(&api, "/entra-read", &[&entra]).await, "Entra scope");
    let answer = fetch(&api, "/entra-read", &[&keycloak]).await;
    assert_forbidden(&answer, "Keycloak scope", "scope orders.read from entra");
    // Still a scope the client can ask for.
    assert!(
        answer
            .challenge
            .unwrap()
            .ends_with(r#"scope="orders.read""#)
    );
}

/// Two realms of one server: one realm's admin is not the other's, the
/// realms told apart by a label or by the configured issuer.
#[tokio::test]
async fn one_realms_admin_is_not_anothers() {
    let providers = Providers::new();
    let api = api(&providers.validator(true).await).await;
    let admin = json!({"realm_access": {"roles": ["admin"]}});
    let shop = bearer(&providers.keycloak("shop", admin.clone()));
    let partners = bearer(&providers.keycloak("partners", admin));
    assert_ok(&fetch(&api, "/shop-admin", &[&shop]).await, "shop admin");
    assert_ok(
        &fetch(&api, "/partners-admin", &[&partners]).await,
        "partners admin",
    );
    assert_forbidden(
        &fetch(&api, "/shop-admin", &[&partners]).await,
        "partners admin on shop",
        "realm role admin from https://auth.example.test/realms/shop",
    );
    assert_forbidden(
        &fetch(&api, "/partners-admin", &[&shop]).await,
        "shop admin on partners",
        "realm role admin from partners",
    );
    // The partners realm's own label replaced the preset's.
    let partners_client = bearer(&providers.keycloak(
        "partners",
        json!({"resource_access": {KC_API: {"roles": ["admin"]}}}),
    ));
    assert_forbidden(
        &fetch(&api, "/keycloak-admin", &[&partners_client]).await,
        "partners client admin on the route for keycloak",
        "role admin of client orders-api from keycloak",
    );
}

/// A claims type that drops a kind the issuer grants (Entra's type for a
/// Keycloak client role) says so, rather than naming a role the token
/// has as missing.
#[tokio::test]
async fn a_claims_type_that_cannot_read_a_grant_says_so() {
    let providers = Providers::new();
    let validator = providers.validator(false).await;
    let api = serve(
        Router::new()
            .route(
                "/keycloak-admin",
                get(|| async { "ran" }).route_layer(
                    Require::client_role(KC_API, "admin")
                        .issued_by("keycloak")
                        .layer::<EntraClaims>(),
                ),
            )
            .route_layer(validator.layer::<EntraClaims>()),
    )
    .await;
    let admin = bearer(&providers.keycloak(
        "shop",
        json!({"resource_access": {KC_API: {"roles": ["admin"]}}}),
    ));
    assert_forbidden(
        &fetch(&api, "/keycloak-admin", &[&admin]).await,
        "EntraClaims and a Keycloak client role",
        "role admin of client orders-api from keycloak (this API's claims type does not read client roles)",
    );
}

/// Issuers written by hand get the vocabulary of the shape they have,
/// and configuration can widen it; a requirement for an issuer is never
/// met by bare claims, which were verified for no one it can see.
#[tokio::test]
async fn hand_written_issuers_and_their_configured_grants() {
    let key = TestKey::generate(KeyKind::EcP256, "hand-1");
    let realm = format!("{KEYCLOAK}/realms/mapped");
    let generic = "https://id.example.test";
    let validator = |mapped: Option<GrantKinds>| {
        let mut keycloak = Issuer::new(&realm)
            .audience(KC_API)
            .jwks_json(jwks_of(&key));
        if let Some(kinds) = mapped {
            keycloak = keycloak.grants(kinds);
        }
        let generic = Issuer::new(generic)
            .audience(KC_API)
            .jwks_json(jwks_of(&key));
        async move {
            Validator::builder()
                .trust(keycloak)
                .trust(generic)
                .build()
                .await
                .unwrap()
        }
    };
    let token = |iss: &str| {
        let now = now();
        bearer(
            &TokenBuilder::new()
                .claims(json!({
                    "aud": KC_API, "iss": iss, "iat": now, "exp": now + 300,
                    "roles": ["Orders.Admin"], "realm_access": {"roles": ["admin"]},
                }))
                .sign(&key),
        )
    };
    let api_default = api(&validator(None).await).await;
    assert_forbidden(
        &fetch(&api_default, "/entra-admin", &[&token(&realm)]).await,
        "hand-written Keycloak realm",
        "role Orders.Admin from entra (the token's issuer issues no app roles)",
    );
    assert_forbidden(
        &fetch(&api_default, "/either-admin", &[&token(&realm)]).await,
        "hand-written Keycloak realm, unscoped",
        "role Orders.Admin or role admin of client orders-api (the token's issuer issues no app roles)",
    );
    // RFC 9068's `roles` from an issuer of no known shape; no realm roles.
    assert_ok(
        &fetch(&api_default, "/either-admin", &[&token(generic)]).await,
        "generic issuer's roles",
    );
    assert_forbidden(
        &fetch(&api_default, "/shop-admin", &[&token(generic)]).await,
        "generic issuer's realm_access",
        "realm role admin from https://auth.example.test/realms/shop (the token's issuer issues no realm roles)",
    );

    // A realm whose role mapper emits app roles on purpose, configured so.
    let api_mapped =
        api(&validator(Some(GrantKinds::KEYCLOAK | GrantKinds::APP_ROLES)).await).await;
    assert_ok(
        &fetch(&api_mapped, "/either-admin", &[&token(&realm)]).await,
        "configured app roles",
    );
    // Still not Entra's.
    assert_forbidden(
        &fetch(&api_mapped, "/entra-admin", &[&token(&realm)]).await,
        "configured app roles on the Entra route",
        "role Orders.Admin from entra",
    );

    // Bare claims: never issued by anyone a requirement can name.
    let claims: StandardClaims =
        serde_json::from_value(json!({"roles": ["Orders.Admin"]})).unwrap();
    assert!(Require::role("Orders.Admin").is_met_by(&claims));
    assert!(
        !Require::role("Orders.Admin")
            .issued_by("entra")
            .is_met_by(&claims)
    );
}

/// A label must name something and must not be another issuer's name.
#[tokio::test]
async fn labels_that_would_mean_two_things_fail_the_build() {
    let key = TestKey::generate(KeyKind::EcP256, "label-1");
    let issuer = |name: &str| Issuer::new(name).audience(KC_API).jwks_json(jwks_of(&key));
    for (issuers, expected) in [
        (
            vec![issuer("https://a.example.test").label(" ")],
            "has an empty label",
        ),
        (
            vec![
                issuer("https://a.example.test"),
                issuer("https://b.example.test").label("https://a.example.test"),
            ],
            "which is the name of the trusted issuer",
        ),
    ] {
        let error = Validator::builder()
            .trust(issuers)
            .build()
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::Config(message) if message.contains(expected)),
            "{error:?}"
        );
    }
}
