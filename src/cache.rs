//! The verified-token cache: a token the API has already verified is not
//! verified again while it is valid.
//!
//! - Keyed by the whole token: a hash picks the slot, then the stored token
//!   is compared byte for byte, so a hash collision is only ever a miss.
//! - Bounded, with O(1) FIFO eviction, in shards so concurrent requests
//!   rarely meet on one lock (held for a lookup, never across I/O).
//! - Claims are stored behind `Arc`: a hit clones a pointer, not claims.
//! - `exp`, `nbf` and `iat` are checked again on every hit against the
//!   current clock, with the rule a fresh verification applies
//!   ([`TimeClaims::check`]), and an entry whose key left the key set is
//!   dropped. Never a time rule of its own.
//! - Only successes are stored.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, Mutex};

use crate::claims::{Binding, Claims, TimeClaims};
use crate::error::Error;

const SHARDS: usize = 16;
/// Bytes of the token's end that are hashed. They are signature bytes,
/// effectively random, so hashing the whole token buys nothing; the full
/// comparison is what decides a hit.
const HASHED_SUFFIX: usize = 64;

struct Entry {
    token: Box<[u8]>,
    claims: Arc<dyn Any + Send + Sync>,
    times: TimeClaims,
    /// The issuer (its index) and fingerprint of the key that verified
    /// the token (`None`: the HMAC secret, which never changes).
    key: Option<(usize, u64)>,
    /// The issuer that verified the token (its index), for the request
    /// context.
    issuer: usize,
    /// `cnf.jkt`, read when the token was verified, for DPoP.
    binding: Binding,
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
    /// within `exp`/`nbf` (with `leeway`) at `now`, `key_held(issuer, key)`
    /// says its key is still published, and it was stored with the claims
    /// type `C`, with the key the token is bound to. An error of
    /// `key_held` (keys unavailable) is returned.
    #[inline]
    pub fn get<C, F>(
        &self,
        token: &str,
        now: i64,
        leeway: i64,
        key_held: F,
    ) -> Result<Option<(Claims<C>, Binding, usize)>, Error>
    where
        C: Send + Sync + 'static,
        F: FnOnce(usize, u64) -> Result<bool, Error>,
    {
        let digest = (self.digest)(&self.hasher, token.as_bytes());
        let mut shard = self.shard(digest);
        let Some(entry) = shard.map.get(&digest) else {
            return Ok(None);
        };
        if *entry.token != *token.as_bytes() {
            return Ok(None);
        }
        let times = entry.times.check(now, leeway);
        let expired = matches!(times, Err(Error::Expired));
        let key_gone = match entry.key {
            Some((issuer, key)) => !key_held(issuer, key)?,
            None => false,
        };
        if expired || key_gone {
            shard.map.remove(&digest);
            return Ok(None);
        }
        // Not yet valid, or issued in the future after the clock stepped
        // back: a miss, so the fresh verification decides and says why.
        if times.is_err() {
            return Ok(None);
        }
        let (binding, issuer) = (entry.binding, entry.issuer);
        Ok(entry
            .claims
            .clone()
            .downcast::<C>()
            .ok()
            .map(|claims| (Claims(claims), binding, issuer)))
    }

    /// Stores a verified token.
    pub fn insert<C: Send + Sync + 'static>(
        &self,
        token: &str,
        claims: &Claims<C>,
        times: TimeClaims,
        key: Option<(usize, u64)>,
        issuer: usize,
        binding: Binding,
    ) {
        let digest = (self.digest)(&self.hasher, token.as_bytes());
        let mut entry = Entry {
            token: token.as_bytes().into(),
            claims: claims.0.clone(),
            times,
            key,
            issuer,
            binding,
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
mod tests;
