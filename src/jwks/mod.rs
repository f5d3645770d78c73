//! The key store: the published [`KeySet`] snapshot and everything that
//! keeps it fresh, by job:
//!
//! - `source`: where keys come from (fixed JWKS or PEM, URL, discovery)
//!   and one download;
//! - `refresh`: the background task that fetches on a timer or on request,
//!   and the bookkeeping of each fetch;
//! - `refetch`: the unknown-`kid` single flight and its cooldown;
//! - `policy`: intervals, backoff, jitter, staleness;
//! - `health`: what a readiness endpoint sees.
//!
//! Requests only ever do an atomic load of the current snapshot (plus one
//! relaxed atomic read for staleness). Everything that locks or waits —
//! fetching, scheduling, bookkeeping — happens in the refresh task or on a
//! request whose `kid` is unknown, never on the hot path.

mod health;
mod policy;
mod refetch;
mod refresh;
mod source;

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use tokio::time::Instant;

use crate::error::Error;
use crate::fetch::HttpOptions;
use crate::keys::KeySet;

pub use health::{Health, HealthStatus};
pub(crate) use policy::RefreshPolicy;
pub(crate) use refetch::Ticket;
pub(crate) use source::KeySource;
use source::Remote;

/// What the store's one fetch slot is doing. Only one fetch ever runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum FetchState {
    /// No fetch is running or asked for.
    #[default]
    Idle,
    /// An unknown `kid` asked the refresh task for a fetch it has not
    /// started yet.
    Requested,
    /// A fetch is running. `for_kid`: it was started for an unknown `kid`
    /// (not by the timer), so it counts as that kid's refetch.
    Running { for_kid: bool },
    /// The refresh task has ended while the store lives on (its runtime
    /// shut down): nobody will fetch, so nobody may wait for a fetch.
    TaskGone,
}

impl FetchState {
    fn for_kid(self) -> bool {
        matches!(
            self,
            FetchState::Requested | FetchState::Running { for_kid: true }
        )
    }
}

/// The store's bookkeeping, behind one lock that requests never take on
/// the hot path.
#[derive(Default)]
struct State {
    fetch: FetchState,
    etag: Option<String>,
    last_success: Option<(Instant, SystemTime)>,
    last_error: Option<String>,
    failures: u32,
    /// When the refresh task fetches next (wall clock, for [`Health`]).
    next_refresh: Option<SystemTime>,
    /// When the refresh task fetches next.
    next_due: Option<Instant>,
    /// No unknown-`kid` fetch starts before this.
    cooldown_until: Option<Instant>,
    /// Kids still unknown after a fetch, until the cooldown that fetch
    /// started ends.
    unknown_kids: HashMap<Box<str>, Instant>,
}

/// The published key set plus everything needed to keep it fresh.
///
/// Single flight: every fetch after the first runs in the refresh task, so
/// two fetches never overlap and a fetch never belongs to a request that
/// could be cancelled (a client hanging up must not abort the refetch
/// everybody else waits for). A request whose `kid` is unknown asks the
/// task for a fetch and waits on `done`.
pub(crate) struct KeyStore {
    current: ArcSwap<KeySet>,
    remote: Option<Remote>,
    policy: RefreshPolicy,
    /// Set by the refresh bookkeeping when the keys are older than
    /// `max_stale`; read (relaxed) by every request.
    expired: AtomicBool,
    /// Completed fetch attempts, for [`Health::fetches`].
    fetches: AtomicU64,
    /// Of those, the failed ones, for `Metrics`.
    fetch_failures: AtomicU64,
    state: Mutex<State>,
    /// Changes once per finished (or abandoned) fetch, after its keys are
    /// published, under the `state` lock.
    done: tokio::sync::watch::Sender<()>,
    /// Wakes the refresh task: a fetch was requested.
    wake: Arc<tokio::sync::Notify>,
}

/// An open key store and, for a remote source, the refresh task's life:
/// dropping this (with the last validator handle) ends the task.
pub(crate) struct OpenKeyStore {
    store: Arc<KeyStore>,
    _refresh: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Deref for OpenKeyStore {
    type Target = KeyStore;
    fn deref(&self) -> &KeyStore {
        &self.store
    }
}

impl KeyStore {
    /// Opens the store for `source`. A fixed source is parsed now. A remote
    /// one is fetched once — a failure fails the call unless
    /// `start_without_keys` — and then refreshed by a spawned task.
    pub async fn open(
        source: KeySource,
        http: &HttpOptions,
        policy: RefreshPolicy,
        start_without_keys: bool,
    ) -> Result<OpenKeyStore, Error> {
        let Some(remote) = Remote::new(&source, http)? else {
            let store = Self::new(source::fixed_keys(source)?, None, policy);
            return Ok(OpenKeyStore {
                store: Arc::new(store),
                _refresh: None,
            });
        };
        let store = Arc::new(Self::new(KeySet::default(), Some(remote), policy));
        match store.first_fetch().await {
            Ok(()) => {}
            Err(error) if start_without_keys => {
                tracing::warn!(%error, "starting without signing keys; requests get 503 until a fetch succeeds");
            }
            Err(error) => return Err(error),
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        refresh::spawn(&store, rx);
        Ok(OpenKeyStore {
            store,
            _refresh: Some(tx),
        })
    }

    fn new(set: KeySet, remote: Option<Remote>, policy: RefreshPolicy) -> Self {
        KeyStore {
            current: ArcSwap::from_pointee(set),
            remote,
            policy,
            expired: AtomicBool::new(false),
            fetches: AtomicU64::new(0),
            fetch_failures: AtomicU64::new(0),
            state: Mutex::new(State::default()),
            done: tokio::sync::watch::channel(()).0,
            wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves only bookkeeping behind;
        // keep going with it rather than poisoning every later request.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends the fetch in flight (finished or abandoned) and wakes everyone
    /// waiting for it. The one place the fetch slot is freed; a store whose
    /// task is gone stays so.
    fn settle(&self, state: &mut State, next: FetchState) {
        if state.fetch != FetchState::TaskGone {
            state.fetch = next;
        }
        self.done.send_replace(());
    }

    /// The current snapshot, or why there is none to use. Hot path.
    #[inline]
    pub fn load(&self) -> Result<arc_swap::Guard<Arc<KeySet>>, Error> {
        let set = self.current.load();
        if self.remote.is_some() {
            if set.is_empty() {
                return Err(self.unavailable("no signing keys loaded yet"));
            }
            if self.expired.load(Ordering::Relaxed) {
                return Err(self.unavailable("signing keys are older than the allowed maximum"));
            }
        }
        Ok(set)
    }

    /// Keys are unavailable: the error says when the refresh task tries
    /// again, for the 503's `Retry-After`.
    #[cold]
    fn unavailable(&self, reason: &str) -> Error {
        Error::KeysUnavailable {
            reason: reason.into(),
            retry_after_secs: policy::retry_after_secs(self.state().next_due),
        }
    }

    pub fn snapshot(&self) -> Arc<KeySet> {
        self.current.load_full()
    }

    /// Fetch attempts and failed ones so far.
    pub fn fetch_counts(&self) -> (u64, u64) {
        (
            self.fetches.load(Ordering::Relaxed),
            self.fetch_failures.load(Ordering::Relaxed),
        )
    }

    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    pub fn health(&self) -> Health {
        let set = self.current.load();
        let state = self.state();
        let unix = |t: SystemTime| t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs());
        let status = if self.remote.is_none() {
            HealthStatus::Static
        } else if set.is_empty() {
            HealthStatus::NoKeys
        } else if self.expired.load(Ordering::Relaxed) {
            HealthStatus::Expired
        } else if state.last_error.is_some() {
            HealthStatus::Stale
        } else {
            HealthStatus::Ok
        };
        Health {
            status,
            key_count: set.len(),
            kids: set.kids().map(str::to_owned).collect(),
            last_success_unix: state.last_success.and_then(|(_, t)| unix(t)),
            last_error: state.last_error.clone(),
            next_refresh_unix: state.next_refresh.and_then(unix),
            fetches: self.fetches.load(Ordering::Relaxed),
        }
    }
}
