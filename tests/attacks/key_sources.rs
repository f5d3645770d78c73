//! Key sources as real providers shape them: one issuer with several key
//! sets (Azure AD B2C: one JWKS per user flow or custom policy), new key
//! material under an old `kid`, and several keys published under one
//! `kid`. What each costs in fetches is counted at the key server.

use std::time::Duration;

use oidc_bearer::clock::ManualClock;
use oidc_bearer::{Error, Issuer, Validator};
use oidc_bearer_testkit::{KeyKind, MockProvider, Reply, TestKey};

use super::*;

/// A B2C tenant's issuer: every policy of the tenant issues it.
const B2C: &str = "https://contoso.b2clogin.com/8eaef023-2b34-4da1-9baa-8bc8c9d6a490/v2.0/";
const FLOW: &str = "/b2c_1_signupsignin/discovery/v2.0/keys";
const POLICY: &str = "/b2c_1a_custom/discovery/v2.0/keys";

fn b2c_token() -> TokenBuilder {
    token().claim("iss", B2C)
}

struct B2c {
    provider: MockProvider,
    flow_key: TestKey,
    policy_key: TestKey,
}

impl B2c {
    async fn start() -> B2c {
        let provider = MockProvider::start().await;
        let flow_key = TestKey::generate(KeyKind::Rsa2048, "flow-1");
        let policy_key = TestKey::generate(KeyKind::EcP256, "policy-1");
        provider.set(FLOW, Reply::jwks(&[&flow_key]));
        provider.set(POLICY, Reply::jwks(&[&policy_key]));
        B2c {
            provider,
            flow_key,
            policy_key,
        }
    }

    fn issuer(&self) -> Issuer {
        Issuer::new(B2C)
            .audience(AUD)
            .jwks_urls([self.provider.url(FLOW), self.provider.url(POLICY)])
    }

    fn hits(&self) -> [usize; 2] {
        [self.provider.hits(FLOW), self.provider.hits(POLICY)]
    }
}

#[tokio::test]
async fn one_issuer_takes_several_key_sets() {
    let b2c = B2c::start().await;
    let other = TestKey::generate(KeyKind::Rsa2048, "other-1");
    let v = Validator::builder()
        .trust(b2c.issuer())
        .trust(
            Issuer::new(ISS)
                .audience(AUD)
                .jwks_json(jwks(&[&other]).to_string()),
        )
        .kid_refetch_cooldown(Duration::from_secs(3600))
        .clock(ManualClock::new(NOW))
        .build()
        .await
        .expect("validator builds");
    assert_eq!(b2c.hits(), [1, 1]);
    // Both policies' tokens, each verified with its own set.
    accepts(&v, &b2c_token().sign(&b2c.flow_key)).await;
    accepts(&v, &b2c_token().sign(&b2c.policy_key)).await;
    // The sets are the B2C issuer's alone, and the other issuer's key is
    // not the B2C issuer's.
    refuses(&v, &token().sign(&b2c.flow_key), "unknown key id").await;
    refuses(&v, &b2c_token().sign(&other), "unknown key id").await;
    // That refusal asked both fetched sets once (the kid could have been
    // either's), and within the cooldown never again.
    assert_eq!(b2c.hits(), [2, 2]);
    refuses(&v, &b2c_token().sign(&other), "unknown key id").await;
    assert_eq!(b2c.hits(), [2, 2]);
    // A health check sees both sets.
    assert_eq!(v.health().key_count, 3);
}

#[tokio::test]
async fn a_key_rotated_into_one_of_the_sets_is_found_by_one_refetch() {
    let b2c = B2c::start().await;
    let v = Validator::builder()
        .trust(b2c.issuer())
        .clock(ManualClock::new(NOW))
        .build()
        .await
        .expect("validator builds");
    let rotated = TestKey::generate(KeyKind::Rsa2048, "policy-2");
    b2c.provider
        .set(POLICY, Reply::jwks(&[&rotated, &b2c.policy_key]));
    accepts(&v, &b2c_token().sign(&rotated)).await;
    assert_eq!(b2c.hits(), [2, 2]);
    accepts(&v, &b2c_token().sign(&b2c.flow_key)).await;
}

#[tokio::test]
async fn one_set_down_leaves_the_others_keys_working() {
    let b2c = B2c::start().await;
    b2c.provider.set(POLICY, Reply::status(503));
    let v = Validator::builder()
        .trust(b2c.issuer())
        .start_without_keys()
        .clock(ManualClock::new(NOW))
        .build()
        .await
        .expect("validator builds");
    accepts(&v, &b2c_token().sign(&b2c.flow_key)).await;
    // The policy's kid may be in the set that is down: 503, not 401.
    let error = v
        .try_verify::<User>(&b2c_token().sign(&b2c.policy_key))
        .unwrap_err();
    assert!(matches!(error, Error::KeysUnavailable { .. }), "{error}");
    assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn several_key_sets_are_a_build_error_when_none_is_listed_or_one_twice() {
    let b2c = B2c::start().await;
    let empty = Validator::builder()
        .trust(
            Issuer::new(B2C)
                .audience(AUD)
                .jwks_urls(Vec::<String>::new()),
        )
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&empty, Error::Config(m) if m.contains("lists no URL")),
        "{empty}"
    );
    let twice = Validator::builder()
        .trust(
            Issuer::new(B2C)
                .audience(AUD)
                .jwks_urls([b2c.provider.url(FLOW), b2c.provider.url(FLOW)]),
        )
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&twice, Error::Config(m) if m.contains("twice")),
        "{twice}"
    );
}

/// A key server at `/keys` publishing `key`, and a validator fetching it
/// with an hour's refetch cooldown.
async fn serving(key: &TestKey) -> (MockProvider, Validator) {
    let provider = MockProvider::start().await;
    provider.set("/keys", Reply::jwks(&[key]));
    let v = Validator::builder()
        .issuer(ISS)
        .audience(AUD)
        .jwks_url(provider.url("/keys"))
        .kid_refetch_cooldown(Duration::from_secs(3600))
        .clock(ManualClock::new(NOW))
        .build()
        .await
        .expect("validator builds");
    (provider, v)
}

#[tokio::test]
async fn new_key_material_under_an_old_kid_is_picked_up_by_one_refetch() {
    let old = TestKey::generate(KeyKind::Rsa2048, "signing");
    let (provider, v) = serving(&old).await;
    accepts(&v, &token().sign(&old)).await;
    // The provider re-keys but keeps the kid.
    let new = TestKey::generate(KeyKind::Rsa2048, "signing");
    provider.set("/keys", Reply::jwks(&[&new]));
    accepts(&v, &token().sign(&new)).await;
    assert_eq!(provider.hits("/keys"), 2, "one refetch found the new key");
    // Bad signatures under the published kid share that refetch's
    // cooldown: a flood of them costs no fetch.
    let forger = TestKey::generate(KeyKind::Rsa2048, "signing");
    for _ in 0..20 {
        refuses(&v, &token().sign(&forger), "invalid signature").await;
    }
    assert_eq!(provider.hits("/keys"), 2);
    accepts(&v, &token().sign(&new)).await;
}

#[tokio::test]
async fn a_forged_signature_under_a_known_kid_refetches_once_per_cooldown() {
    let (provider, v) = serving(&TestKey::generate(KeyKind::Rsa2048, "signing")).await;
    let forger = TestKey::generate(KeyKind::Rsa2048, "signing");
    refuses(&v, &token().sign(&forger), "invalid signature").await;
    assert_eq!(provider.hits("/keys"), 2, "one refetch, then refused");
    // Tokens without kid, and HMAC or fixed keys, are never worth one.
    refuses(
        &v,
        &token().without_kid().sign(&forger),
        "invalid signature",
    )
    .await;
    assert_eq!(provider.hits("/keys"), 2);
}

#[tokio::test]
async fn several_keys_under_one_kid_are_each_tried() {
    // Published under one kid, as during some providers' rollovers; each
    // is tried, the published ones verify, any other is refused.
    let first = TestKey::generate(KeyKind::Rsa2048, "shared");
    let second = TestKey::generate(KeyKind::Rsa2048, "shared");
    let v = builder_for(&[&first, &second])
        .build()
        .await
        .expect("validator builds");
    assert!(v.keys().skipped().is_empty(), "{:?}", v.keys().skipped());
    accepts(&v, &token().sign(&first)).await;
    accepts(&v, &token().sign(&second)).await;
    refuses(&v, &token().sign(&ATTACKER), "unknown key id").await;
    let stranger = TestKey::generate(KeyKind::Rsa2048, "shared");
    refuses(&v, &token().sign(&stranger), "invalid signature").await;
}
