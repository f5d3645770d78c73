//! The cache's own rules, on `TokenCache` directly: bounds, eviction,
//! collisions, and the time rule on every hit. The same rules through the
//! public API are in tests/cache.rs.

use super::*;

fn until(exp: i64, nbf: Option<i64>) -> TimeClaims {
    TimeClaims {
        exp,
        nbf,
        iat: None,
    }
}

/// As an empty key set answers: no key is published.
fn none_held(_issuer: usize, _key: u64) -> Result<bool, Error> {
    Ok(false)
}

fn token(i: usize) -> String {
    format!("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.signature-{i:08}")
}

#[test]
fn hit_returns_the_same_arc() {
    let cache = TokenCache::new(100);
    let claims = Claims::new(String::from("alice"));
    cache.insert(
        "a.b.c",
        &claims,
        until(1000, None),
        None,
        0,
        Binding::Unbound,
    );
    let hit = cache
        .get::<String, _>("a.b.c", 500, 0, none_held)
        .unwrap()
        .unwrap();
    assert!(Arc::ptr_eq(&hit.0.0, &claims.0));
    assert_eq!(hit.1, Binding::Unbound);
    // A DPoP-bound token's key comes back with it.
    let bound = Binding::Key(Some([7; 32]));
    cache.insert("a.b.e", &claims, until(1000, None), None, 0, bound);
    let hit = cache.get::<String, _>("a.b.e", 500, 0, none_held).unwrap();
    assert_eq!(hit.map(|h| h.1), Some(bound));
    assert!(
        cache
            .get::<String, _>("a.b.d", 500, 0, none_held)
            .unwrap()
            .is_none()
    );
}

#[test]
fn expiry_is_checked_on_every_hit() {
    let cache = TokenCache::new(100);
    cache.insert(
        "a.b.c",
        &Claims::new(1u32),
        until(1000, Some(400)),
        None,
        0,
        Binding::Unbound,
    );
    assert!(
        cache
            .get::<u32, _>("a.b.c", 399, 0, none_held)
            .unwrap()
            .is_none(),
        "nbf"
    );
    assert!(
        cache
            .get::<u32, _>("a.b.c", 999, 0, none_held)
            .unwrap()
            .is_some()
    );
    assert!(
        cache
            .get::<u32, _>("a.b.c", 1000, 0, none_held)
            .unwrap()
            .is_none(),
        "exp"
    );
    assert_eq!(cache.len(), 0, "expired entry dropped");
}

#[test]
fn leeway_applies_like_in_verification() {
    let cache = TokenCache::new(100);
    cache.insert(
        "a.b.c",
        &Claims::new(1u32),
        until(1000, None),
        None,
        0,
        Binding::Unbound,
    );
    assert!(
        cache
            .get::<u32, _>("a.b.c", 1059, 60, none_held)
            .unwrap()
            .is_some()
    );
    assert!(
        cache
            .get::<u32, _>("a.b.c", 1060, 60, none_held)
            .unwrap()
            .is_none()
    );
}

#[test]
fn entries_of_a_removed_key_are_dropped() {
    let cache = TokenCache::new(100);
    cache.insert(
        "a.b.c",
        &Claims::new(1u32),
        until(1000, None),
        Some((0, 42)),
        0,
        Binding::Unbound,
    );
    assert!(
        cache
            .get::<u32, _>("a.b.c", 1, 0, none_held)
            .unwrap()
            .is_none()
    );
    assert_eq!(cache.len(), 0);
}

#[test]
fn other_claims_type_is_a_miss() {
    let cache = TokenCache::new(100);
    cache.insert(
        "a.b.c",
        &Claims::new(1u32),
        until(1000, None),
        None,
        0,
        Binding::Unbound,
    );
    assert!(
        cache
            .get::<String, _>("a.b.c", 1, 0, none_held)
            .unwrap()
            .is_none()
    );
}

#[test]
fn collisions_never_authenticate_another_token() {
    // Every token gets the same digest.
    let cache = TokenCache::with_digest(100, |_, _| 42);
    cache.insert(
        &token(1),
        &Claims::new(String::from("alice")),
        until(1000, None),
        None,
        0,
        Binding::Unbound,
    );
    assert!(
        cache
            .get::<String, _>(&token(2), 1, 0, none_held)
            .unwrap()
            .is_none()
    );
    assert_eq!(
        *cache
            .get::<String, _>(&token(1), 1, 0, none_held)
            .unwrap()
            .unwrap()
            .0,
        "alice"
    );
    // The newer token replaces the older one in the shared slot.
    cache.insert(
        &token(2),
        &Claims::new(String::from("mallory")),
        until(1000, None),
        None,
        0,
        Binding::Unbound,
    );
    assert!(
        cache
            .get::<String, _>(&token(1), 1, 0, none_held)
            .unwrap()
            .is_none()
    );
    assert_eq!(
        *cache
            .get::<String, _>(&token(2), 1, 0, none_held)
            .unwrap()
            .unwrap()
            .0,
        "mallory"
    );
}

#[test]
fn a_token_cached_again_after_its_entry_was_dropped_is_not_evicted_early() {
    // Two places per shard; the digest is the token's last byte, and
    // every token lands in the same shard.
    let cache = TokenCache::with_digest(2 * SHARDS, |_, t| u64::from(t[t.len() - 1]));
    let claims = Claims::new(0u8);
    // Cached under a key that then leaves the set: dropped on the hit.
    cache.insert(
        "a.b.c",
        &claims,
        until(1000, None),
        Some((0, 7)),
        0,
        Binding::Unbound,
    );
    assert!(
        cache
            .get::<u8, _>("a.b.c", 1, 0, none_held)
            .unwrap()
            .is_none()
    );
    // Verified again (the key came back), then one more token.
    cache.insert(
        "a.b.c",
        &claims,
        until(1000, None),
        None,
        0,
        Binding::Unbound,
    );
    cache.insert(
        "a.b.d",
        &claims,
        until(1000, None),
        None,
        0,
        Binding::Unbound,
    );
    // The record of the dropped entry evicts nothing: both are there.
    assert!(
        cache
            .get::<u8, _>("a.b.c", 1, 0, none_held)
            .unwrap()
            .is_some()
    );
    assert!(
        cache
            .get::<u8, _>("a.b.d", 1, 0, none_held)
            .unwrap()
            .is_some()
    );
    // And the bound still holds as more come in.
    cache.insert(
        "a.b.e",
        &claims,
        until(1000, None),
        None,
        0,
        Binding::Unbound,
    );
    assert!(
        cache
            .get::<u8, _>("a.b.c", 1, 0, none_held)
            .unwrap()
            .is_none(),
        "oldest out"
    );
    assert_eq!(cache.len(), 2);
}

#[test]
fn bound_holds_under_100k_distinct_tokens() {
    let cache = TokenCache::new(10_000);
    assert!(cache.capacity() >= 10_000 && cache.capacity() < 10_000 + SHARDS);
    let claims = Claims::new(0u8);
    for i in 0..100_000 {
        cache.insert(
            &token(i),
            &claims,
            until(i64::MAX, None),
            None,
            0,
            Binding::Unbound,
        );
    }
    let len = cache.len();
    assert!(len <= cache.capacity(), "{len} entries");
    assert!(len > 9_000, "cache kept only {len}");
    // The newest are there, the oldest are gone.
    assert!(
        cache
            .get::<u8, _>(&token(99_999), 1, 0, none_held)
            .unwrap()
            .is_some()
    );
    assert!(
        cache
            .get::<u8, _>(&token(0), 1, 0, none_held)
            .unwrap()
            .is_none()
    );
    for shard in cache.shards.iter() {
        let shard = shard.lock().unwrap();
        assert!(shard.order.len() <= cache.per_shard);
    }
}

#[test]
fn iat_is_checked_on_every_hit_like_nbf() {
    let cache = TokenCache::new(10);
    let times = TimeClaims {
        exp: 1000,
        nbf: None,
        iat: Some(500),
    };
    cache.insert(
        "a.b.c",
        &Claims::new(1u32),
        times,
        None,
        0,
        Binding::Unbound,
    );
    assert!(
        cache
            .get::<u32, _>("a.b.c", 450, 60, none_held)
            .unwrap()
            .is_some()
    );
    // The clock stepped back past the leeway: a miss, so the fresh
    // verification decides ("issued in the future").
    assert!(
        cache
            .get::<u32, _>("a.b.c", 439, 60, none_held)
            .unwrap()
            .is_none()
    );
    // ...and the entry stays for when the clock is right again.
    assert!(
        cache
            .get::<u32, _>("a.b.c", 440, 60, none_held)
            .unwrap()
            .is_some()
    );
}
