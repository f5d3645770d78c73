//! Several trusted issuers in one validator (issue 9): each issuer's keys,
//! audiences and rules are its own, the unverified `iss` only selects
//! them, a token of no trusted issuer costs no fetch, issuers sharing a
//! JWKS URL share one key store, and health is told per issuer. Every case
//! goes through the layer over real HTTP.

use std::time::Duration;

use http::StatusCode;
use oidc_bearer::jwks::HealthStatus;
use oidc_bearer::{Issuer, StandardClaims, Validator};
use oidc_bearer_testkit::{KeyKind, TestIssuer, TestKey, TokenBuilder, standard_claims};

mod common;
use common::{accepted, assert_refused, bounded, call, protected};

const ORDERS: &str = "orders-api";
const BILLING: &str = "api://billing";

/// Two loopback providers, each with its own key (both named `demo-rsa-1`,
/// as two Keycloaks would), trusted for different audiences.
async fn two_issuers() -> (TestIssuer, TestIssuer) {
    (TestIssuer::start().await, TestIssuer::start().await)
}

fn trusting(one: &TestIssuer, two: &TestIssuer) -> oidc_bearer::ValidatorBuilder {
    Validator::builder()
        .trust(
            Issuer::new(&one.issuer)
                .audience(ORDERS)
                .jwks_url(&one.jwks_url),
        )
        .trust(
            Issuer::new(&two.issuer)
                .audience(BILLING)
                .jwks_url(&two.jwks_url),
        )
}

fn jwks_hits(issuers: &[&TestIssuer]) -> Vec<usize> {
    issuers
        .iter()
        .map(|i| i.provider.hits(&i.jwks_path()))
        .collect()
}

#[tokio::test]
async fn each_issuer_keeps_its_own_keys_and_audiences() {
    bounded(async {
        let (one, two) = two_issuers().await;
        assert_ne!(one.issuer, two.issuer);
        assert_eq!(one.key.kid(), two.key.kid());
        let validator = trusting(&one, &two).build().await.unwrap();
        let api = protected::<StandardClaims>(&validator).await;

        assert_eq!(
            accepted(&call(&api, &one.token(ORDERS)).await)["iss"],
            one.issuer
        );
        assert_eq!(
            accepted(&call(&api, &two.token(BILLING)).await)["iss"],
            two.issuer
        );
        // Issuer 2's audience is not issuer 1's.
        assert_refused(&call(&api, &one.token(BILLING)).await, "invalid audience");
        assert_refused(&call(&api, &two.token(ORDERS)).await, "invalid audience");
        // Issuer 2's `iss`, issuer 1's key under the same kid: the iss only
        // chose issuer 2's keys, which do not verify it.
        // Its kid is known, so the named issuer's keys are fetched once
        // more (a provider may put new material under an old kid), and
        // never issuer 1's; within the cooldown, not again.
        let borrowed = two.builder(BILLING).sign(&one.key);
        assert_refused(&call(&api, &borrowed).await, "invalid signature");
        assert_eq!(jwks_hits(&[&one, &two]), [1, 2]);
        assert_refused(&call(&api, &borrowed).await, "invalid signature");
        assert_eq!(jwks_hits(&[&one, &two]), [1, 2]);
    })
    .await;
}

#[tokio::test]
async fn a_key_of_another_issuer_is_an_unknown_key_and_fetches_only_the_named_issuer() {
    bounded(async {
        let (one, two) = two_issuers().await;
        let validator = trusting(&one, &two).build().await.unwrap();
        let api = protected::<StandardClaims>(&validator).await;
        let own_kid = TestKey::generate(KeyKind::EcP256, "only-issuer-1-has-it");
        one.provider.set(
            &one.jwks_path(),
            oidc_bearer_testkit::Reply::jwks(&[&one.key, &own_kid]),
        );
        // Issuer 1 learns the key through one refetch.
        accepted(&call(&api, &one.builder(ORDERS).sign(&own_kid)).await);
        assert_eq!(jwks_hits(&[&one, &two]), [2, 1]);
        // Claiming issuer 2 with that key: issuer 2's keys are asked (one
        // refetch of its own), never issuer 1's.
        let borrowed = two.builder(BILLING).sign(&own_kid);
        assert_refused(&call(&api, &borrowed).await, "unknown key id");
        assert_eq!(jwks_hits(&[&one, &two]), [2, 2]);
    })
    .await;
}

#[tokio::test]
async fn a_token_of_no_trusted_issuer_is_refused_without_any_fetch() {
    bounded(async {
        let (one, two) = two_issuers().await;
        let stranger = TestKey::generate(KeyKind::Rsa2048, "nobody-knows-me");
        let token = TokenBuilder::new()
            .claims(standard_claims(
                "https://elsewhere.example/realms/x",
                ORDERS,
            ))
            .sign(&stranger);

        let several = trusting(&one, &two).build().await.unwrap();
        let api = protected::<StandardClaims>(&several).await;
        let before = jwks_hits(&[&one, &two]);
        for _ in 0..3 {
            assert_refused(&call(&api, &token).await, "invalid issuer");
        }
        assert_eq!(jwks_hits(&[&one, &two]), before);
        assert_eq!(several.health().fetches, 2);

        let single = common::validator_for(&one, ORDERS).build().await.unwrap();
        let api = protected::<StandardClaims>(&single).await;
        let before = jwks_hits(&[&one]);
        for _ in 0..3 {
            assert_refused(&call(&api, &token).await, "invalid issuer");
        }
        assert_eq!(jwks_hits(&[&one]), before);
        assert_eq!(single.health().fetches, 1);
    })
    .await;
}

#[tokio::test]
async fn issuers_sharing_a_jwks_url_share_one_fetch_and_one_refetch() {
    bounded(async {
        let mut provider = TestIssuer::start().await;
        let second = format!("{}-v1", provider.issuer);
        let validator = Validator::builder()
            .trust(
                Issuer::new(&provider.issuer)
                    .audience(ORDERS)
                    .jwks_url(&provider.jwks_url),
            )
            .trust(
                Issuer::new(&second)
                    .audience(BILLING)
                    .jwks_url(&provider.jwks_url),
            )
            .build()
            .await
            .unwrap();
        assert_eq!(provider.provider.hits(&provider.jwks_path()), 1);
        assert_eq!(validator.health().fetches, 1);
        let api = protected::<StandardClaims>(&validator).await;
        let second_token = |key: &TestKey| {
            TokenBuilder::new()
                .claims(standard_claims(&second, BILLING))
                .sign(key)
        };
        accepted(&call(&api, &second_token(&provider.key)).await);

        // A new key: the unknown kid through issuer 1 refetches once...
        provider.rotate(KeyKind::EcP256, "rotated-1");
        accepted(&call(&api, &provider.token(ORDERS)).await);
        assert_eq!(provider.provider.hits(&provider.jwks_path()), 2);
        // ...and issuer 2 already has it.
        accepted(&call(&api, &second_token(&provider.key)).await);
        assert_eq!(provider.provider.hits(&provider.jwks_path()), 2);
        assert_eq!(validator.health().fetches, 2);
        let by_issuer = validator.health_by_issuer();
        assert_eq!(by_issuer.len(), 2);
        for (_, health) in &by_issuer {
            assert!(
                health.kids.iter().any(|k| k == "rotated-1"),
                "{by_issuer:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn rules_and_required_type_belong_to_their_issuer() {
    bounded(async {
        let (one, two) = two_issuers().await;
        let validator = Validator::builder()
            .trust(
                Issuer::new(&one.issuer)
                    .audience(ORDERS)
                    .jwks_url(&one.jwks_url)
                    .require_type("at+jwt")
                    .rule(|claims| match claims["scope"].as_str() {
                        Some(scope) if scope.split(' ').any(|s| s == "orders") => Ok(()),
                        _ => Err("scope orders required".into()),
                    }),
            )
            .trust(
                Issuer::new(&two.issuer)
                    .audience(BILLING)
                    .jwks_url(&two.jwks_url),
            )
            .build()
            .await
            .unwrap();
        let api = protected::<StandardClaims>(&validator).await;

        // Issuer 1: the type first, then the rule.
        assert_refused(&call(&api, &one.token(ORDERS)).await, "invalid token type");
        let typed = one.builder(ORDERS).header("typ", "at+jwt");
        assert_refused(
            &call(&api, &typed.clone().sign(&one.key)).await,
            "token rejected: scope orders required",
        );
        let good = typed.claim("scope", "read orders").sign(&one.key);
        accepted(&call(&api, &good).await);
        // Issuer 2: neither applies (no typ, scope "read write").
        accepted(&call(&api, &two.token(BILLING)).await);
    })
    .await;
}

#[tokio::test]
async fn one_provider_down_at_start_fails_only_its_own_tokens() {
    bounded(async {
        let (one, two) = two_issuers().await;
        two.provider.shutdown().await;
        let validator = trusting(&one, &two)
            .start_without_keys()
            .retry_backoff(Duration::from_secs(60), Duration::from_secs(120))
            .build()
            .await
            .unwrap();

        let health = validator.health();
        assert_eq!(health.status, HealthStatus::NoKeys, "{health:?}");
        assert!(!health.is_ready());
        let by_issuer = validator.health_by_issuer();
        let names: Vec<&str> = by_issuer.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, [one.issuer.as_str(), two.issuer.as_str()]);
        assert_eq!(by_issuer[0].1.status, HealthStatus::Ok);
        assert_eq!(by_issuer[1].1.status, HealthStatus::NoKeys);
        assert!(by_issuer[1].1.last_error.is_some());

        let api = protected::<StandardClaims>(&validator).await;
        accepted(&call(&api, &one.token(ORDERS)).await);
        let answer = call(&api, &two.token(BILLING)).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
        let retry: u64 = answer.retry_after.as_deref().unwrap().parse().unwrap();
        assert!(retry > 0, "{answer:?}");
    })
    .await;
}

#[tokio::test]
async fn a_cached_token_of_one_issuer_goes_when_its_key_rotates_away() {
    bounded(async {
        let (mut one, two) = two_issuers().await;
        let validator = trusting(&one, &two).build().await.unwrap();
        let api = protected::<StandardClaims>(&validator).await;
        let old = one.token(ORDERS);
        let other = two.token(BILLING);
        accepted(&call(&api, &old).await);
        accepted(&call(&api, &other).await);
        assert_eq!(validator.cached_tokens(), 2);

        // An emergency rotation at issuer 1: its old key leaves the set.
        one.rotate(KeyKind::Ed25519, "emergency");
        one.retire_previous_keys();
        accepted(&call(&api, &one.token(ORDERS)).await);
        assert_eq!(jwks_hits(&[&one, &two]), [2, 1]);

        assert_refused(&call(&api, &old).await, "unknown key id");
        // Issuer 2's cached token is untouched, and nothing was refetched.
        accepted(&call(&api, &other).await);
        assert_eq!(jwks_hits(&[&one, &two]), [2, 1]);
    })
    .await;
}

/// A handler reads from `AuthContext` which trusted issuer verified the
/// token, on a fresh verification and from the cache alike.
#[tokio::test]
async fn a_handler_reads_which_issuer_verified_the_token() {
    use axum::{Router, routing::get};
    use oidc_bearer::AuthContext;
    use tower::ServiceExt as _;

    let (one, two) = two_issuers().await;
    let validator = trusting(&one, &two).build().await.unwrap();
    let app = Router::new()
        .route(
            "/",
            get(|context: AuthContext| async move { context.issuer().unwrap_or_default() }),
        )
        .layer(validator.layer::<StandardClaims>());
    let ask = |token: String| {
        let app = app.clone();
        async move {
            let request = http::Request::get("/")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            let response = app.oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            String::from_utf8(body.to_vec()).unwrap()
        }
    };
    let (orders, billing) = (one.token(ORDERS), two.token(BILLING));
    // The second time, from the verified-token cache.
    for _ in 0..2 {
        assert_eq!(ask(orders.clone()).await, one.issuer);
        assert_eq!(ask(billing.clone()).await, two.issuer);
    }
    assert_eq!(validator.metrics().cache_hits, 2);
}
