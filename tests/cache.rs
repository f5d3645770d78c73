//! The verified-token cache through the validator: what a user sees when
//! a cached token expires, its key rotates out, a forged token collides,
//! or the clock moves. (The cache's own bookkeeping is unit-tested in
//! `src/cache.rs`.)

use std::sync::Arc;

use aws_lc_rs::hmac;
use oidc_bearer_testkit::{
    KeyKind, TestIssuer, TestKey, TokenBuilder, b64url, decode_segment, jwks,
};
use serde_json::json;

use oidc_bearer::clock::ManualClock;
use oidc_bearer::{Error, StandardClaims, Validator};

const ISSUER: &str = "https://issuer.test/realms/cache";

#[tokio::test]
async fn a_token_that_expires_while_cached_is_refused() {
    let key = TestKey::generate(KeyKind::Ed25519, "k1");
    let now = 1_700_000_000;
    let clock = ManualClock::new(now);
    let validator = Validator::builder()
        .issuer(ISSUER)
        .audience("api")
        .jwks_json(serde_json::to_vec(&jwks(&[&key])).unwrap())
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    let token = TokenBuilder::new()
        .claims(json!({"iss": ISSUER, "aud": "api", "exp": now + 100, "sub": "u"}))
        .sign(&key);
    let first = validator.try_verify::<StandardClaims>(&token).unwrap();
    assert_eq!(validator.cached_tokens(), 1);
    let hit = validator.try_verify::<StandardClaims>(&token).unwrap();
    assert!(Arc::ptr_eq(first.as_arc(), hit.as_arc()), "a cache hit");
    // Within the 60 s leeway it is still served...
    clock.set(now + 159);
    assert!(validator.try_verify::<StandardClaims>(&token).is_ok());
    // ...and not a second later, although it is still cached.
    clock.set(now + 160);
    assert!(matches!(
        validator.try_verify::<StandardClaims>(&token),
        Err(Error::Expired)
    ));
    assert_eq!(validator.cached_tokens(), 0, "the expired entry is dropped");
}

#[tokio::test]
async fn entries_of_a_rotated_out_key_are_dropped() {
    let mut issuer = TestIssuer::start().await;
    let validator = Validator::builder()
        .issuer(&issuer.issuer)
        .audience("api")
        .jwks_url(&issuer.jwks_url)
        .build()
        .await
        .unwrap();
    let old = issuer.token("api");
    validator.verify::<StandardClaims>(&old).await.unwrap();
    assert_eq!(validator.cached_tokens(), 1);

    // An emergency rotation: the old key is gone from the JWKS.
    issuer.rotate(KeyKind::Ed25519, "emergency");
    issuer.retire_previous_keys();
    let new = issuer.token("api");
    // Its unknown kid makes the validator refetch the JWKS.
    validator.verify::<StandardClaims>(&new).await.unwrap();
    assert_eq!(issuer.provider.hits(&issuer.jwks_path()), 2);

    // The old token is still in the cache, but its key is not in
    // the set any more: refused, and its entry dropped.
    assert!(matches!(
        validator.verify::<StandardClaims>(&old).await,
        Err(Error::UnknownKey)
    ));
    assert_eq!(validator.cached_tokens(), 1, "only the new token is left");
    assert_eq!(
        issuer.provider.hits(&issuer.jwks_path()),
        2,
        "no refetch during the cooldown"
    );
}

#[tokio::test]
async fn a_forged_token_colliding_with_a_cached_one_is_verified() {
    let key = TestKey::generate(KeyKind::Ed25519, "k1");
    let validator = Validator::builder()
        .issuer(ISSUER)
        .audience("api")
        .jwks_json(serde_json::to_vec(&jwks(&[&key])).unwrap())
        .build()
        .await
        .unwrap();
    let builder = TokenBuilder::new().claims(json!({
        "iss": ISSUER, "aud": "api", "exp": oidc_bearer_testkit::now() + 600, "sub": "user-1"
    }));
    let token = builder.sign(&key);
    let first = validator.try_verify::<StandardClaims>(&token).unwrap();
    // Same length and same signature as the cached token, so the
    // same slot (the digest covers the token's tail and length);
    // only the claims differ.
    let mut parts = token.split('.');
    let (header, payload, signature) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let mut claims = decode_segment(payload);
    claims["sub"] = json!("user-2");
    let forged = format!(
        "{header}.{}.{signature}",
        b64url(&serde_json::to_vec(&claims).unwrap())
    );
    assert_eq!(forged.len(), token.len());
    assert_ne!(forged, token);
    assert!(matches!(
        validator.try_verify::<StandardClaims>(&forged),
        Err(Error::InvalidSignature)
    ));
    // The genuine entry is untouched.
    let hit = validator.try_verify::<StandardClaims>(&token).unwrap();
    assert!(Arc::ptr_eq(first.as_arc(), hit.as_arc()));
    assert_eq!(hit.sub.as_deref(), Some("user-1"));
}

#[tokio::test]
async fn the_bound_holds_under_100k_distinct_tokens() {
    let secret = [42u8; 32];
    let validator = Validator::builder()
        .issuer(ISSUER)
        .audience("api")
        .hmac_secret(secret)
        .token_cache_size(1_000)
        .build()
        .await
        .unwrap();
    let key = hmac::Key::new(hmac::HMAC_SHA256, &secret);
    let header = b64url(br#"{"alg":"HS256"}"#);
    let exp = oidc_bearer_testkit::now() + 600;
    let token = |n: u32| {
        let claims = format!(r#"{{"iss":"{ISSUER}","aud":"api","exp":{exp},"jti":"{n}"}}"#);
        let input = format!("{header}.{}", b64url(claims.as_bytes()));
        let tag = hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", b64url(tag.as_ref()))
    };
    let mut most = 0;
    for n in 0..100_000 {
        validator.try_verify::<StandardClaims>(&token(n)).unwrap();
        if n % 1_000 == 0 {
            most = most.max(validator.cached_tokens());
        }
    }
    let len = validator.cached_tokens();
    // The capacity is rounded up to a multiple of the cache's 16 shards.
    let bound = 1_000usize.div_ceil(16) * 16;
    assert!(most.max(len) <= bound, "{} tokens cached", most.max(len));
    assert!(len > 900, "only {len} tokens cached");
}

/// A cache hit and a fresh verification decide alike, for every time
/// claim, whichever way the clock moves after the token was cached.
#[tokio::test]
async fn a_hit_and_a_miss_decide_alike_for_every_time_claim() {
    let key = TestKey::generate(KeyKind::Ed25519, "k1");
    let start = 1_700_000_000;
    let document = serde_json::to_vec(&jwks(&[&key])).unwrap();
    let validator = |cache: usize, clock: &ManualClock| {
        Validator::builder()
            .issuer(ISSUER)
            .audience("api")
            .jwks_json(document.clone())
            .token_cache_size(cache)
            .clock(clock.clone())
            .build()
    };
    let outcome = |result: Result<oidc_bearer::Claims<StandardClaims>, Error>| match result {
        Ok(_) => "accepted".to_owned(),
        Err(e) => e.to_string(),
    };
    // (time claims, clock when cached, clock when asked again, expected)
    let cases = [
        (json!({"exp": start + 100}), start, start + 159, "accepted"),
        (
            json!({"exp": start + 100}),
            start,
            start + 160,
            "token expired",
        ),
        (
            json!({"exp": start + 1000, "nbf": start}),
            start,
            start - 60,
            "accepted",
        ),
        (
            json!({"exp": start + 1000, "nbf": start}),
            start,
            start - 61,
            "token not yet valid",
        ),
        (
            json!({"exp": start + 1000, "iat": start}),
            start,
            start - 60,
            "accepted",
        ),
        (
            json!({"exp": start + 1000, "iat": start}),
            start,
            start - 61,
            "token issued in the future",
        ),
        (
            json!({"exp": start + 1000, "iat": start}),
            start,
            start + 500,
            "accepted",
        ),
    ];
    for (times, cached_at, asked_at, expected) in cases {
        let mut claims = json!({"iss": ISSUER, "aud": "api", "sub": "u"});
        claims
            .as_object_mut()
            .unwrap()
            .extend(times.as_object().unwrap().clone());
        let token = TokenBuilder::new().claims(claims).sign(&key);

        let clock = ManualClock::new(cached_at);
        let cached = validator(10_000, &clock).await.unwrap();
        cached.try_verify::<StandardClaims>(&token).unwrap();
        assert_eq!(cached.cached_tokens(), 1);
        clock.set(asked_at);
        let from_cache = outcome(cached.try_verify::<StandardClaims>(&token));

        let fresh_clock = ManualClock::new(asked_at);
        let uncached = validator(0, &fresh_clock).await.unwrap();
        let fresh = outcome(uncached.try_verify::<StandardClaims>(&token));

        assert_eq!(
            from_cache, fresh,
            "{times} cached at {cached_at}, asked at {asked_at}"
        );
        assert_eq!(fresh, expected, "{times} asked at {asked_at}");
    }
}
