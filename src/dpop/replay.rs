//! The `jti` replay check (RFC 9449 §4.3 check 12, §11.1): the
//! [`ReplayStore`] trait and the default bounded in-process store.
//!
//! A proof is remembered by a [`ProofId`]: SHA-256 of its key's thumbprint
//! and its `jti`, cut to 128 bits. Keyed by the key too, so one client
//! cannot use up another's `jti`s; hashed, so every entry has the same
//! small size whatever the client sent.
//!
//! A store only remembers ids: whether a proof may be remembered (every
//! other check passed) is `bind`'s to decide.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use aws_lc_rs::digest::{self, SHA256};

/// The identity of one proof in a [`ReplayStore`]: 128 bits of
/// SHA-256(jkt ‖ 0 ‖ jti).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProofId([u8; 16]);

impl ProofId {
    pub(crate) fn new(jkt: &[u8; 32], jti: &str) -> ProofId {
        let mut ctx = digest::Context::new(&SHA256);
        ctx.update(jkt);
        ctx.update(&[0]);
        ctx.update(jti.as_bytes());
        let digest = ctx.finish();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest.as_ref()[..16]);
        ProofId(id)
    }

    /// The 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Lower-case hex, 32 characters: a key name for an external store.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What a [`ReplayStore`] knew of a proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First time: now recorded.
    First,
    /// Recorded before, and not yet expired: a replay.
    Again,
}

/// Why a [`ReplayStore`] could not answer (a Redis outage, a full store).
/// The layer then fails closed (503) unless
/// [`Dpop::allow_replays_when_store_fails`](crate::Dpop::allow_replays_when_store_fails).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("replay store unavailable: {0}")]
pub struct StoreError(pub String);

/// A [`ReplayStore`]'s answer: ready now (an in-process store, no
/// allocation) or later (a network store).
pub enum StoreFuture {
    /// The answer, at once.
    Ready(Result<Seen, StoreError>),
    /// The answer, once this future completes.
    Pending(Pin<Box<dyn Future<Output = Result<Seen, StoreError>> + Send>>),
}

impl std::fmt::Debug for StoreFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreFuture::Ready(r) => f.debug_tuple("Ready").field(r).finish(),
            StoreFuture::Pending(_) => f.write_str("Pending"),
        }
    }
}

/// Where the `jti`s of accepted proofs are remembered, for as long as a
/// proof could be accepted again (the acceptance window plus twice the
/// leeway).
///
/// The default is [`MemoryReplayStore`]; with the `redis` feature,
/// `RedisReplayStore` shares the check between instances.
pub trait ReplayStore: Send + Sync + 'static {
    /// Records `id` until `now + ttl_secs`, atomically telling whether it
    /// was already there (and not expired). `now` is the validator's clock.
    fn check_and_insert(&self, id: ProofId, now: i64, ttl_secs: u64) -> StoreFuture;
}

/// The default [`ReplayStore`]: in this process, bounded.
///
/// Holds at most `capacity` proofs (default 100,000), in 16 shards each
/// with its own lock. An entry is 16 bytes of id in a hash set (plus its
/// control byte) and 24 bytes in an expiry queue; with the spare room both
/// keep when they grow, 41 to about 90 bytes per proof: at most about
/// 9 MB at the default capacity, whatever the clients send. Entries leave
/// in order of expiry as later proofs come in. A shard that is full of
/// unexpired proofs answers [`StoreError`] (and the layer fails closed, by
/// default): forgetting a `jti` early would let its proof be replayed.
///
/// Size it for the traffic: a proof is kept for the acceptance window plus
/// twice the leeway (181 s by default), so the default capacity holds
/// about 550 accepted DPoP requests per second, shared by all clients.
///
/// Instances of an API each have their own: a proof replayed to another
/// instance is not caught. Use a shared store (the `redis` feature) there.
pub struct MemoryReplayStore {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
}

const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    ids: HashSet<[u8; 16]>,
    /// `(expires_at, id)` in insertion order; with one TTL for all
    /// entries, also in expiry order.
    order: VecDeque<(i64, [u8; 16])>,
}

impl std::fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("capacity", &(self.per_shard * SHARDS))
            .field("len", &self.len())
            .finish()
    }
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl MemoryReplayStore {
    /// A store for at most `capacity` proofs (rounded up to a multiple of
    /// 16), at most about 90 bytes each.
    pub fn new(capacity: usize) -> Self {
        MemoryReplayStore {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// Proofs remembered now (some possibly expired, not yet dropped).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).ids.len())
            .sum()
    }

    /// True when no proof is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert(&self, id: ProofId, now: i64, ttl_secs: u64) -> Result<Seen, StoreError> {
        let id = id.0;
        let shard = usize::from(id[0]) % SHARDS;
        let mut shard = self.shards[shard].lock().unwrap_or_else(|e| e.into_inner());
        while let Some(&(expires, old)) = shard.order.front() {
            if expires > now {
                break;
            }
            shard.order.pop_front();
            shard.ids.remove(&old);
        }
        if shard.ids.contains(&id) {
            return Ok(Seen::Again);
        }
        if shard.ids.len() >= self.per_shard {
            return Err(StoreError("the in-process replay store is full".into()));
        }
        let ttl = i64::try_from(ttl_secs).unwrap_or(i64::MAX);
        shard.ids.insert(id);
        shard.order.push_back((now.saturating_add(ttl), id));
        Ok(Seen::First)
    }
}

impl ReplayStore for MemoryReplayStore {
    fn check_and_insert(&self, id: ProofId, now: i64, ttl_secs: u64) -> StoreFuture {
        StoreFuture::Ready(self.insert(id, now, ttl_secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> ProofId {
        ProofId::new(&[7; 32], &n.to_string())
    }

    #[test]
    fn remembers_until_the_ttl_then_forgets() {
        let store = MemoryReplayStore::new(64);
        assert_eq!(store.insert(id(1), 100, 10), Ok(Seen::First));
        assert_eq!(store.insert(id(1), 109, 10), Ok(Seen::Again));
        assert_eq!(store.insert(id(2), 109, 10), Ok(Seen::First));
        // Expired at 110: dropped by the next insert into its shard.
        assert_eq!(store.insert(id(1), 110, 10), Ok(Seen::First));
        // Another key, same jti: another proof.
        assert_ne!(ProofId::new(&[8; 32], "1"), id(1));
        assert_eq!(id(1).to_hex().len(), 32);
    }

    #[test]
    fn a_full_shard_refuses_rather_than_forgets() {
        let store = MemoryReplayStore::new(16); // one per shard
        let mut full = None;
        for n in 0..200 {
            if let Err(e) = store.insert(id(n), 0, 60) {
                full = Some(e);
                break;
            }
        }
        assert!(full.is_some(), "a full shard must refuse");
        assert!(store.len() <= 16);
        // Once the entries expire there is room again.
        assert_eq!(store.insert(id(0), 60, 60), Ok(Seen::First));
        assert!(store.len() <= 16);
    }
}
