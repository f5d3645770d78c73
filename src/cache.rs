//! The verified-token cache: a token the API has already verified is not
//! verified again while it is valid.
//!
//! - Keyed by the whole token: a hash picks the slot, then the stored token
//!   is compared byte for byte, so a hash collision is only ever a miss.
//! - Bounded, with O(1) FIFO eviction, in shards so concurrent requests
//!   rarely meet on one lock (held for a lookup, never across I/O).
//! - Claims are stored behind `Arc`: a hit clones a pointer, not claims.
//! - `exp`/`nbf` are checked again on every hit against the current clock,
//!   and an entry whose key left the key set is dropped.
//! - Only successes are stored.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, Mutex};

use crate::claims::Claims;
use crate::keys::KeySet;

const SHARDS: usize = 16;
/// Bytes of the token's end that are hashed. They are signature bytes,
/// effectively random, so hashing the whole token buys nothing; the full
/// comparison is what decides a hit.
const HASHED_SUFFIX: usize = 64;

struct Entry {
    token: Box<[u8]>,
    claims: Arc<dyn Any + Send + Sync>,
    exp: i64,
    nbf: Option<i64>,
    /// Fingerprint of the key that verified the token (`None`: the HMAC
    /// secret, which never changes).
    key: Option<u64>,
    /// Matches the entry to its place in the FIFO order.
    seq: u64,
}

/// The slot map is keyed by an already random digest: no second hash.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[derive(Default)]
struct Shard {
    map: HashMap<u64, Entry, BuildHasherDefault<Identity>>,
    /// Insertion order as `(digest, seq)`. A record whose entry was
    /// dropped on a hit, or replaced since, no longer matches its entry's
    /// `seq` and evicts nothing when it comes up.
    order: VecDeque<(u64, u64)>,
    next_seq: u64,
}

pub(crate) struct TokenCache {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    hasher: RandomState,
    digest: fn(&RandomState, &[u8]) -> u64,
}

fn suffix_digest(hasher: &RandomState, token: &[u8]) -> u64 {
    let suffix = &token[token.len().saturating_sub(HASHED_SUFFIX)..];
    let mut h = hasher.build_hasher();
    h.write(suffix);
    h.write_usize(token.len());
    h.finish()
}

impl TokenCache {
    /// A cache holding at most `capacity` tokens (rounded up to a multiple
    /// of the shard count).
    pub fn new(capacity: usize) -> Self {
        Self::with_digest(capacity, suffix_digest)
    }

    fn with_digest(capacity: usize, digest: fn(&RandomState, &[u8]) -> u64) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        TokenCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard,
            hasher: RandomState::new(),
            digest,
        }
    }

    fn shard(&self, digest: u64) -> std::sync::MutexGuard<'_, Shard> {
        // Middle bits: hashbrown uses the low bits for the bucket and the
        // top seven for its tags, so these leave both fully random.
        let index = (digest >> 32) as usize % SHARDS;
        self.shards[index].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached claims for `token`, if it was verified before, is still
    /// within `exp`/`nbf` (with `leeway`) at `now`, its key is still in
    /// `keys`, and it was stored with the claims type `C`.
    #[inline]
    pub fn get<C: Send + Sync + 'static>(
        &self,
        token: &str,
        now: i64,
        leeway: i64,
        keys: &KeySet,
    ) -> Option<Claims<C>> {
        let digest = (self.digest)(&self.hasher, token.as_bytes());
        let mut shard = self.shard(digest);
        let entry = shard.map.get(&digest)?;
        if *entry.token != *token.as_bytes() {
            return None;
        }
        let expired = now >= entry.exp.saturating_add(leeway);
        let key_gone = entry.key.is_some_and(|key| !keys.holds(key));
        if expired || key_gone {
            shard.map.remove(&digest);
            return None;
        }
        if entry
            .nbf
            .is_some_and(|nbf| now.saturating_add(leeway) < nbf)
        {
            return None;
        }
        let claims = entry.claims.clone().downcast::<C>().ok()?;
        Some(Claims(claims))
    }

    /// Stores a verified token.
    pub fn insert<C: Send + Sync + 'static>(
        &self,
        token: &str,
        claims: &Claims<C>,
        exp: i64,
        nbf: Option<i64>,
        key: Option<u64>,
    ) {
        let digest = (self.digest)(&self.hasher, token.as_bytes());
        let mut entry = Entry {
            token: token.as_bytes().into(),
            claims: claims.0.clone(),
            exp,
            nbf,
            key,
            seq: 0,
        };
        let mut guard = self.shard(digest);
        let shard = &mut *guard;
        let seq = shard.next_seq;
        shard.next_seq += 1;
        entry.seq = seq;
        shard.map.insert(digest, entry);
        // Every insert gets its own record, so each live entry has exactly
        // one that matches it and `order` bounds the map.
        shard.order.push_back((digest, seq));
        while shard.order.len() > self.per_shard {
            if let Some((old, seq)) = shard.order.pop_front()
                && shard.map.get(&old).is_some_and(|e| e.seq == seq)
            {
                shard.map.remove(&old);
            }
        }
    }

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).map.len())
            .sum()
    }

    /// Upper bound on `len()`.
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.per_shard * SHARDS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> KeySet {
        KeySet::default()
    }

    fn token(i: usize) -> String {
        format!("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.signature-{i:08}")
    }

    #[test]
    fn hit_returns_the_same_arc() {
        let cache = TokenCache::new(100);
        let claims = Claims::new(String::from("alice"));
        cache.insert("a.b.c", &claims, 1000, None, None);
        let hit = cache.get::<String>("a.b.c", 500, 0, &keys()).unwrap();
        assert!(Arc::ptr_eq(&hit.0, &claims.0));
        assert!(cache.get::<String>("a.b.d", 500, 0, &keys()).is_none());
    }

    #[test]
    fn expiry_is_checked_on_every_hit() {
        let cache = TokenCache::new(100);
        cache.insert("a.b.c", &Claims::new(1u32), 1000, Some(400), None);
        assert!(cache.get::<u32>("a.b.c", 399, 0, &keys()).is_none(), "nbf");
        assert!(cache.get::<u32>("a.b.c", 999, 0, &keys()).is_some());
        assert!(cache.get::<u32>("a.b.c", 1000, 0, &keys()).is_none(), "exp");
        assert_eq!(cache.len(), 0, "expired entry dropped");
    }

    #[test]
    fn leeway_applies_like_in_verification() {
        let cache = TokenCache::new(100);
        cache.insert("a.b.c", &Claims::new(1u32), 1000, None, None);
        assert!(cache.get::<u32>("a.b.c", 1059, 60, &keys()).is_some());
        assert!(cache.get::<u32>("a.b.c", 1060, 60, &keys()).is_none());
    }

    #[test]
    fn entries_of_a_removed_key_are_dropped() {
        let cache = TokenCache::new(100);
        cache.insert("a.b.c", &Claims::new(1u32), 1000, None, Some(42));
        assert!(cache.get::<u32>("a.b.c", 1, 0, &keys()).is_none());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn other_claims_type_is_a_miss() {
        let cache = TokenCache::new(100);
        cache.insert("a.b.c", &Claims::new(1u32), 1000, None, None);
        assert!(cache.get::<String>("a.b.c", 1, 0, &keys()).is_none());
    }

    #[test]
    fn collisions_never_authenticate_another_token() {
        // Every token gets the same digest.
        let cache = TokenCache::with_digest(100, |_, _| 42);
        cache.insert(
            &token(1),
            &Claims::new(String::from("alice")),
            1000,
            None,
            None,
        );
        assert!(cache.get::<String>(&token(2), 1, 0, &keys()).is_none());
        assert_eq!(
            *cache.get::<String>(&token(1), 1, 0, &keys()).unwrap(),
            "alice"
        );
        // The newer token replaces the older one in the shared slot.
        cache.insert(
            &token(2),
            &Claims::new(String::from("mallory")),
            1000,
            None,
            None,
        );
        assert!(cache.get::<String>(&token(1), 1, 0, &keys()).is_none());
        assert_eq!(
            *cache.get::<String>(&token(2), 1, 0, &keys()).unwrap(),
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
        cache.insert("a.b.c", &claims, 1000, None, Some(7));
        assert!(cache.get::<u8>("a.b.c", 1, 0, &keys()).is_none());
        // Verified again (the key came back), then one more token.
        cache.insert("a.b.c", &claims, 1000, None, None);
        cache.insert("a.b.d", &claims, 1000, None, None);
        // The record of the dropped entry evicts nothing: both are there.
        assert!(cache.get::<u8>("a.b.c", 1, 0, &keys()).is_some());
        assert!(cache.get::<u8>("a.b.d", 1, 0, &keys()).is_some());
        // And the bound still holds as more come in.
        cache.insert("a.b.e", &claims, 1000, None, None);
        assert!(
            cache.get::<u8>("a.b.c", 1, 0, &keys()).is_none(),
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
            cache.insert(&token(i), &claims, i64::MAX, None, None);
        }
        let len = cache.len();
        assert!(len <= cache.capacity(), "{len} entries");
        assert!(len > 9_000, "cache kept only {len}");
        // The newest are there, the oldest are gone.
        assert!(cache.get::<u8>(&token(99_999), 1, 0, &keys()).is_some());
        assert!(cache.get::<u8>(&token(0), 1, 0, &keys()).is_none());
        for shard in cache.shards.iter() {
            let shard = shard.lock().unwrap();
            assert!(shard.order.len() <= cache.per_shard);
        }
    }

    // The same rules through the public API: a `Validator` with its
    // default cache, real keys and real tokens.
    mod through_the_validator {
        use std::sync::Arc;

        use aws_lc_rs::hmac;
        use oidc_bearer_testkit::{
            KeyKind, TestIssuer, TestKey, TokenBuilder, b64url, decode_segment, jwks,
        };
        use serde_json::json;

        use crate::{Error, ManualClock, StandardClaims, Validator};

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
            let bound = 1_000usize.div_ceil(super::SHARDS) * super::SHARDS;
            assert!(most.max(len) <= bound, "{} tokens cached", most.max(len));
            assert!(len > 900, "only {len} tokens cached");
        }
    }
}
