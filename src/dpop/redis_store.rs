//! A [`ReplayStore`] on Redis (feature `redis`): one `SET key 1 NX EX ttl`
//! per accepted proof, so every instance of an API that shares the Redis
//! refuses a proof any of them has seen.
//!
//! It stores proof ids and nothing else: which proof to remember, and for
//! how long, is the caller's.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::replay::{ProofId, ReplayStore, Seen, StoreError, StoreFuture};

/// A DPoP [`ReplayStore`] on Redis, shared by the instances of an API:
/// `SET {prefix}{id} 1 NX EX {ttl}` per proof, which records the proof
/// and says whether it was there, in one atomic command. Keys expire on
/// their own; a key is the prefix plus 32 hex characters.
///
/// The connection is made on first use and re-made after a failure
/// (redis-rs's `ConnectionManager`), so an API starts while Redis is down.
/// A command that fails or takes longer than the
/// timeout of [`with_timeout`](Self::with_timeout) (default 500 ms) is a [`StoreError`]: the
/// layer answers 503 (fail closed) unless
/// [`Dpop::allow_replays_when_store_fails`](crate::Dpop::allow_replays_when_store_fails).
///
/// ```no_run
/// use oidc_bearer::Dpop;
/// use oidc_bearer::dpop::RedisReplayStore;
///
/// # fn doc() -> Result<(), oidc_bearer::Error> {
/// let store = RedisReplayStore::new("redis://127.0.0.1:6379/")?;
/// let dpop = Dpop::allowed().replay_store(store);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisReplayStore {
    connection: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisReplayStore {
    /// A store on the Redis at `url` (`redis://host:port/db`), with a
    /// 500 ms timeout per command; connects on first use.
    ///
    /// # Errors
    ///
    /// [`Error::Config`](crate::Error::Config) when `url` is not a Redis URL.
    pub fn new(url: &str) -> Result<Self, crate::Error> {
        Self::with_timeout(url, Duration::from_millis(500))
    }

    /// As [`new`](Self::new), with this timeout for connecting and for
    /// each command.
    ///
    /// # Errors
    ///
    /// [`Error::Config`](crate::Error::Config) when `url` is not a Redis URL.
    pub fn with_timeout(url: &str, timeout: Duration) -> Result<Self, crate::Error> {
        let config = |e: redis::RedisError| {
            crate::Error::Config(format!("RedisReplayStore: {url:?} is not usable: {e}"))
        };
        let client = redis::Client::open(url).map_err(config)?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let connection = client
            .get_connection_manager_lazy(manager)
            .map_err(config)?;
        Ok(RedisReplayStore {
            connection,
            prefix: "oidc-bearer:dpop:".to_owned(),
        })
    }

    /// The prefix of the keys (default `oidc-bearer:dpop:`).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

impl ReplayStore for RedisReplayStore {
    fn check_and_insert(&self, id: ProofId, _now: i64, ttl_secs: u64) -> StoreFuture {
        let mut connection = self.connection.clone();
        let key = format!("{}{}", self.prefix, id.to_hex());
        StoreFuture::Pending(Box::pin(async move {
            let set: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("NX")
                .arg("EX")
                .arg(ttl_secs.max(1))
                .query_async(&mut connection)
                .await
                .map_err(|e| StoreError(format!("redis: {e}")))?;
            // `OK` when set, nil when the key was there.
            Ok(match set {
                Some(_) => Seen::First,
                None => Seen::Again,
            })
        }))
    }
}
