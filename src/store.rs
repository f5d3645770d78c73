//! The key store: the published [`KeySet`], its background refresh, the
//! unknown-`kid` refetch, backoff, stale keys and health.
//!
//! Requests only ever do an atomic load of the current snapshot (plus one
//! relaxed atomic read for staleness). Everything that locks or waits —
//! fetching, scheduling, bookkeeping — happens in the refresh task or on a
//! request whose `kid` is unknown, never on the hot path.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// tokio's clock, so a paused test runtime governs cooldowns, staleness and
// the refresh schedule alike.
use tokio::time::Instant;

use arc_swap::ArcSwap;
use serde::Serialize;

use crate::discovery;
use crate::error::Error;
use crate::jwks::{self, Fetched, HttpOptions};
use crate::keys::KeySet;

/// Timing of refreshes, refetches and staleness.
#[derive(Debug, Clone)]
pub(crate) struct RefreshPolicy {
    /// Lower and upper clamp for the Cache-Control `max-age`.
    pub min_interval: Duration,
    pub max_interval: Duration,
    /// Interval when the server sends no `max-age`.
    pub default_interval: Duration,
    /// At most one unknown-`kid` refetch per cooldown.
    pub kid_cooldown: Duration,
    /// First retry delay after a failure; doubles up to `backoff_max`.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// How long keys keep serving after the last successful fetch.
    pub max_stale: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy {
            min_interval: Duration::from_secs(5 * 60),
            max_interval: Duration::from_secs(24 * 60 * 60),
            default_interval: Duration::from_secs(60 * 60),
            kid_cooldown: Duration::from_secs(30),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(5 * 60),
            max_stale: Duration::from_secs(24 * 60 * 60),
        }
    }
}

impl RefreshPolicy {
    /// Next refresh after a success: `max-age` clamped, else the default.
    pub fn interval(&self, max_age: Option<Duration>) -> Duration {
        max_age
            .map(|a| a.clamp(self.min_interval, self.max_interval))
            .unwrap_or(self.default_interval)
    }

    /// Next retry after `failures` consecutive failures (1, 2, …).
    pub fn backoff(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(20);
        self.backoff_initial
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

/// ±10 % so replicas started together do not refresh in lockstep.
pub(crate) fn jitter(d: Duration) -> Duration {
    let mut bytes = [0u8; 8];
    let r = match aws_lc_rs::rand::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        Err(_) => 0,
    };
    // r in [0, 2^64) → factor in [0.9, 1.1)
    let factor = 0.9 + 0.2 * (r >> 11) as f64 / (1u64 << 53) as f64;
    // Saturating: a `Duration::MAX` knob must not panic the refresh task.
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(Duration::MAX)
}

/// Far enough to mean "never" for a timer, near enough not to overflow.
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);

/// `now + d`, saturating at [`FAR_FUTURE`] instead of panicking.
fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d.min(FAR_FUTURE)).unwrap_or(now)
}

/// The wall-clock time `d` from now, if representable.
fn wall_after(d: Duration) -> Option<SystemTime> {
    SystemTime::now().checked_add(d)
}

/// Why keys cannot be used, as told by [`Health`] and in 503 responses'
/// logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HealthStatus {
    /// Keys are fresh: the last fetch succeeded.
    Ok,
    /// The last fetch failed; the last good keys keep serving.
    Stale,
    /// The last good keys are older than the allowed maximum: requests get
    /// 503 until a fetch succeeds.
    Expired,
    /// No keys were ever loaded: requests get 503.
    NoKeys,
    /// Keys were configured statically and never refresh.
    Static,
}

/// A snapshot of the key store, cheap to take, for readiness endpoints.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Health {
    /// Overall state.
    pub status: HealthStatus,
    /// Number of usable keys.
    pub key_count: usize,
    /// Their `kid`s.
    pub kids: Vec<String>,
    /// Unix time of the last successful fetch.
    pub last_success_unix: Option<u64>,
    /// What went wrong in the last failed fetch, if the last fetch failed.
    pub last_error: Option<String>,
    /// Unix time the next scheduled refresh is due.
    pub next_refresh_unix: Option<u64>,
    /// Fetch attempts so far (timer, startup and unknown-`kid`).
    pub fetches: u64,
}

impl Health {
    /// True when requests can be verified (fresh or stale keys, or static).
    pub fn is_ready(&self) -> bool {
        matches!(
            self.status,
            HealthStatus::Ok | HealthStatus::Stale | HealthStatus::Static
        )
    }
}

/// Where the keys come from: a JWKS URL, known up front or found through
/// discovery on the first successful fetch.
pub(crate) struct Remote {
    pub client: reqwest::Client,
    pub options: HttpOptions,
    pub jwks_url: Mutex<Option<reqwest::Url>>,
    /// `(issuer, fetch_base)` when the JWKS URL comes from discovery.
    pub discovery: Option<(String, String)>,
}

impl Remote {
    /// The JWKS URL, running discovery first when it is not known yet.
    async fn jwks_url(&self) -> Result<reqwest::Url, Error> {
        if let Some(url) = self
            .jwks_url
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Ok(url);
        }
        let (issuer, base) = self
            .discovery
            .as_ref()
            .ok_or_else(|| Error::Config("no JWKS URL and no discovery".into()))?;
        let url = discovery::jwks_uri(&self.client, issuer, base, &self.options).await?;
        tracing::info!(jwks_uri = %url, "discovered the JWKS URL");
        *self.jwks_url.lock().unwrap_or_else(|e| e.into_inner()) = Some(url.clone());
        Ok(url)
    }
}

#[derive(Default)]
struct State {
    etag: Option<String>,
    last_success: Option<(Instant, SystemTime)>,
    last_error: Option<String>,
    failures: u32,
    /// When the refresh task fetches next (wall clock, for [`Health`]).
    next_refresh: Option<SystemTime>,
    /// When the refresh task fetches next.
    next_due: Option<Instant>,
    /// A fetch is running, or has been asked of the refresh task.
    in_flight: bool,
    /// An unknown `kid` asked the refresh task for a fetch now.
    requested: bool,
    /// The fetch in flight was started for an unknown `kid` (not by the
    /// timer), so it counts as that kid's refetch.
    kid_fetch: bool,
    /// The refresh task has ended while the store lives on (its runtime
    /// shut down): nobody will fetch, so nobody may wait for a fetch.
    task_gone: bool,
    cooldown_until: Option<Instant>,
    /// Kids still unknown after a fetch, until the cooldown that fetch
    /// started ends.
    unknown_kids: HashMap<Box<str>, Instant>,
}

const MAX_REMEMBERED_KIDS: usize = 1024;

/// The published key set plus everything needed to keep it fresh.
///
/// Single flight: every fetch after the first runs in the refresh task
/// (spawned by [`spawn_refresh`]), so two fetches never overlap and a fetch
/// never belongs to a request that could be cancelled (a client hanging
/// up must not abort the refetch everybody else waits for). A request
/// whose `kid` is unknown asks the task for a fetch and waits on `done`.
pub(crate) struct KeyStore {
    current: ArcSwap<KeySet>,
    remote: Option<Remote>,
    policy: RefreshPolicy,
    /// Set by the refresh bookkeeping when the keys are older than
    /// `max_stale`; read (relaxed) by every request.
    expired: AtomicBool,
    /// Completed fetch attempts, for [`Health::fetches`].
    fetches: AtomicU64,
    state: Mutex<State>,
    /// Changes once per finished (or abandoned) fetch, after its keys are
    /// published, under the `state` lock.
    done: tokio::sync::watch::Sender<()>,
    /// Wakes the refresh task: a fetch was requested.
    wake: Arc<tokio::sync::Notify>,
}

impl KeyStore {
    pub fn new_static(set: KeySet) -> Self {
        Self::new(set, None, RefreshPolicy::default())
    }

    pub fn new_remote(remote: Remote, policy: RefreshPolicy) -> Self {
        Self::new(KeySet::default(), Some(remote), policy)
    }

    fn new(set: KeySet, remote: Option<Remote>, policy: RefreshPolicy) -> Self {
        KeyStore {
            current: ArcSwap::from_pointee(set),
            remote,
            policy,
            expired: AtomicBool::new(false),
            fetches: AtomicU64::new(0),
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

    /// The current snapshot, or why there is none to use. Hot path.
    #[inline]
    pub fn load(&self) -> Result<arc_swap::Guard<Arc<KeySet>>, Error> {
        let set = self.current.load();
        if self.remote.is_some() {
            if set.is_empty() {
                return Err(Error::KeysUnavailable("no signing keys loaded yet".into()));
            }
            if self.expired.load(Ordering::Relaxed) {
                return Err(Error::KeysUnavailable(
                    "signing keys are older than the allowed maximum".into(),
                ));
            }
        }
        Ok(set)
    }

    pub fn snapshot(&self) -> Arc<KeySet> {
        self.current.load_full()
    }

    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// Downloads and parses the JWKS (running discovery first if needed).
    /// No lock is held and nothing is published here.
    async fn download(
        remote: &Remote,
        etag: Option<String>,
    ) -> Result<
        (
            reqwest::Url,
            Option<KeySet>,
            Option<Duration>,
            Option<String>,
        ),
        Error,
    > {
        let url = remote.jwks_url().await?;
        let fetched = jwks::get(
            &remote.client,
            &url,
            remote.options.max_body,
            etag.as_deref(),
        )
        .await?;
        match fetched {
            Fetched::NotModified { max_age } => Ok((url, None, max_age, etag)),
            Fetched::Body {
                body,
                max_age,
                etag,
            } => {
                let set = KeySet::from_jwks(&body).map_err(|e| Error::Fetch {
                    url: url.to_string(),
                    reason: e.to_string(),
                })?;
                if set.is_empty() {
                    return Err(Error::Fetch {
                        url: url.to_string(),
                        reason: format!(
                            "the JWKS holds no usable signing key ({} skipped)",
                            set.skipped().len()
                        ),
                    });
                }
                Ok((url, Some(set), max_age, etag))
            }
        }
    }

    /// One fetch with all its bookkeeping. The caller has set
    /// `state.in_flight`; this clears it and signals `done` once the result
    /// is published, also when the fetch is cancelled half-way.
    async fn fetch(&self) -> Result<(), Error> {
        let Some(remote) = &self.remote else {
            return Ok(());
        };
        let mut flight = Flight {
            store: self,
            finished: false,
        };
        let etag = self.state().etag.clone();
        let result = Self::download(remote, etag).await;

        let now = Instant::now();
        let mut state = self.state();
        let (outcome, delay) = match result {
            Ok((url, new_set, max_age, etag)) => {
                if let Some(set) = new_set {
                    for skipped in set.skipped() {
                        tracing::debug!(kid = ?skipped.kid, reason = %skipped.reason, "JWK skipped");
                    }
                    let old = self.current.load();
                    let old_kids: Vec<&str> = old.kids().collect();
                    let new_kids: Vec<&str> = set.kids().collect();
                    if old_kids != new_kids {
                        tracing::info!(url = %url, kids = ?new_kids, previous = ?old_kids, "signing keys changed");
                    } else {
                        tracing::debug!(url = %url, "signing keys refreshed, unchanged");
                    }
                    drop(old);
                    self.current.store(Arc::new(set));
                    state.etag = etag;
                } else {
                    tracing::debug!(url = %url, "signing keys not modified");
                }
                state.last_success = Some((now, SystemTime::now()));
                state.last_error = None;
                state.failures = 0;
                self.expired.store(false, Ordering::Relaxed);
                // Fetch again before the keys reach the maximum age.
                let delay = jitter(self.policy.interval(max_age)).min(self.policy.max_stale);
                (Ok(()), delay)
            }
            Err(error) => {
                state.failures = state.failures.saturating_add(1);
                state.last_error = Some(error.to_string());
                let delay = jitter(self.policy.backoff(state.failures));
                tracing::warn!(
                    %error,
                    failures = state.failures,
                    retry_in_ms = delay.as_millis() as u64,
                    "fetching signing keys failed; keeping the last good keys"
                );
                let expired = state
                    .last_success
                    .is_some_and(|(at, _)| now.duration_since(at) >= self.policy.max_stale);
                if expired && !self.expired.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "signing keys are older than the allowed maximum; refusing requests with 503 until a fetch succeeds"
                    );
                }
                // Wake up in time to notice the keys going stale, too.
                let delay = match state.last_success {
                    Some((at, _)) if !self.expired.load(Ordering::Relaxed) => {
                        let left = self.policy.max_stale.saturating_sub(now.duration_since(at));
                        delay.min(left.max(Duration::from_millis(1)))
                    }
                    _ => delay,
                };
                (Err(error), delay)
            }
        };
        state.next_due = Some(after(now, delay));
        state.next_refresh = wall_after(delay);
        flight.finish(&mut state);
        outcome
    }

    /// The first fetch, in `build()`, before the refresh task exists.
    pub async fn first_fetch(&self) -> Result<(), Error> {
        self.state().in_flight = true;
        self.fetch().await
    }

    /// The refresh task's turn: true (and the fetch marked in flight) when
    /// a fetch is due or was requested.
    fn take_turn(&self) -> bool {
        let mut state = self.state();
        let due = state.next_due.is_none_or(|due| Instant::now() >= due);
        if state.requested || (due && !state.in_flight) {
            state.in_flight = true;
            state.requested = false;
            true
        } else {
            false
        }
    }

    /// Whole seconds until the refresh task's next attempt (rounded up, at
    /// least 1, at most 300): the `Retry-After` of a 503. 10 when no
    /// attempt is scheduled.
    pub fn retry_after_secs(&self) -> u64 {
        match self.state().next_due {
            Some(due) => {
                let left = due.saturating_duration_since(Instant::now());
                left.as_millis().div_ceil(1000).clamp(1, 300) as u64
            }
            None => 10,
        }
    }

    fn next_due(&self) -> Instant {
        self.state()
            .next_due
            .unwrap_or_else(|| after(Instant::now(), self.policy.default_interval))
    }

    /// Called when a token names a `kid` that is not in the current set.
    ///
    /// Every concurrent miss shares one fetch; at most one such fetch starts
    /// per cooldown; a miss during the cooldown with no fetch in flight
    /// returns at once. Waiting is bounded by the fetch timeout.
    pub async fn refetch_for(&self, kid: &str) {
        let Some(remote) = &self.remote else { return };
        let wait = remote
            .options
            .timeout
            .saturating_add(Duration::from_millis(500));
        let deadline = after(Instant::now(), wait);
        // Joining a fetch the timer started (perhaps before the new key was
        // published) does not count as this kid's refetch: then one more
        // round may start a fetch of its own, cooldown permitting.
        for _ in 0..2 {
            let Some((mut done, own)) = self.request_refetch(kid) else {
                return;
            };
            if tokio::time::timeout_at(deadline, done.changed())
                .await
                .is_err()
            {
                break;
            }
            if self.current.load().contains_kid(kid) {
                return;
            }
            if own {
                break;
            }
        }
        if !self.current.load().contains_kid(kid) {
            let mut state = self.state();
            let now = Instant::now();
            let until = state
                .cooldown_until
                .filter(|until| *until > now)
                .unwrap_or_else(|| after(now, self.policy.kid_cooldown));
            if state.unknown_kids.len() >= MAX_REMEMBERED_KIDS {
                state.unknown_kids.clear();
            }
            state.unknown_kids.insert(kid.into(), until);
        }
    }

    /// The synchronous half of [`refetch_for`](Self::refetch_for): asks the
    /// refresh task for a fetch unless the cooldown runs (or `kid` is known
    /// to be unknown), without waiting. Returns what to wait on — the end
    /// of the fetch in flight, and whether that fetch was started for an
    /// unknown `kid` — or `None` when there is nothing to wait for.
    pub fn request_refetch(&self, kid: &str) -> Option<(tokio::sync::watch::Receiver<()>, bool)> {
        self.remote.as_ref()?;
        let mut state = self.state();
        let now = Instant::now();
        if state.task_gone {
            return None;
        }
        if let Some(until) = state.unknown_kids.get(kid) {
            if now < *until {
                return None;
            }
            state.unknown_kids.remove(kid);
        }
        if !state.in_flight {
            if state.cooldown_until.is_some_and(|until| now < until) {
                return None;
            }
            state.cooldown_until = Some(after(now, self.policy.kid_cooldown));
            state.in_flight = true;
            state.requested = true;
            state.kid_fetch = true;
            tracing::debug!("unknown key id; refetching the JWKS");
            self.wake.notify_one();
        }
        // Subscribed under the lock that `fetch` publishes under: the end
        // of the fetch in flight cannot be missed.
        Some((self.done.subscribe(), state.kid_fetch))
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

/// The fetch in flight. Finishing it clears `in_flight` and wakes the
/// waiters; dropping it unfinished (the fetch was cancelled) does the same,
/// so nobody waits for a fetch that no longer runs.
struct Flight<'a> {
    store: &'a KeyStore,
    finished: bool,
}

impl Flight<'_> {
    fn finish(&mut self, state: &mut State) {
        self.finished = true;
        state.in_flight = false;
        state.requested = false;
        state.kid_fetch = false;
        self.store.fetches.fetch_add(1, Ordering::Relaxed);
        self.store.done.send_replace(());
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let store = self.store;
            let mut state = store.state();
            state.in_flight = false;
            state.requested = false;
            state.kid_fetch = false;
            store.done.send_replace(());
        }
    }
}

/// Spawns the refresh loop, the one task that fetches for this store. It
/// holds only a weak reference between fetches and ends when `shutdown`'s
/// sender is dropped (the last validator handle goes away), cancelling a
/// fetch in progress.
///
/// It wakes when the next refresh is due (from `Cache-Control`, backoff
/// or staleness, as recorded by the last fetch) or when an unknown `kid`
/// asks for a fetch.
pub(crate) fn spawn_refresh(
    store: &Arc<KeyStore>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let weak: Weak<KeyStore> = Arc::downgrade(store);
    let wake = store.wake.clone();
    // Made here, not inside the task: a task dropped before its first poll
    // must mark the store too.
    let gone = TaskGone(weak.clone());
    tokio::spawn(async move {
        let _gone = gone;
        loop {
            let due = match weak.upgrade() {
                Some(store) => store.next_due(),
                None => return,
            };
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = wake.notified() => {}
                _ = &mut shutdown => return,
            }
            let Some(store) = weak.upgrade() else { return };
            if !store.take_turn() {
                continue;
            }
            tokio::select! {
                _ = store.fetch() => {}
                _ = &mut shutdown => return,
            }
        }
    });
}

/// Marks the store when its refresh task ends (or is dropped with its
/// runtime) while validators still use it, so unknown `kid`s stop waiting
/// for fetches that will never run.
struct TaskGone(Weak<KeyStore>);

impl Drop for TaskGone {
    fn drop(&mut self) {
        let Some(store) = self.0.upgrade() else {
            return;
        };
        let mut state = store.state();
        state.task_gone = true;
        state.in_flight = false;
        state.requested = false;
        state.kid_fetch = false;
        store.done.send_replace(());
        tracing::warn!(
            "the signing-key refresh task ended while the validator is still in use \
             (its tokio runtime shut down?): keys will no longer be refreshed"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_clamps_and_defaults() {
        let p = RefreshPolicy::default();
        assert_eq!(p.interval(None), Duration::from_secs(3600));
        assert_eq!(
            p.interval(Some(Duration::from_secs(10))),
            Duration::from_secs(300)
        );
        assert_eq!(
            p.interval(Some(Duration::from_secs(7200))),
            Duration::from_secs(7200)
        );
        assert_eq!(
            p.interval(Some(Duration::from_secs(10_000_000))),
            Duration::from_secs(86400)
        );
    }

    #[test]
    fn backoff_doubles_to_the_cap() {
        let p = RefreshPolicy::default();
        let got: Vec<u64> = (1..=12).map(|n| p.backoff(n).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(p.backoff(u32::MAX).as_secs(), 300);
    }

    #[test]
    fn jitter_stays_within_ten_percent_and_varies() {
        let base = Duration::from_secs(1000);
        let samples: Vec<Duration> = (0..200).map(|_| jitter(base)).collect();
        assert!(
            samples
                .iter()
                .all(|d| *d >= Duration::from_secs(900) && *d <= Duration::from_secs(1100))
        );
        let min = samples.iter().min().unwrap();
        let max = samples.iter().max().unwrap();
        assert!(
            *max - *min > Duration::from_secs(50),
            "no spread: {min:?}..{max:?}"
        );
    }

    #[test]
    fn huge_durations_saturate_instead_of_panicking() {
        assert!(jitter(Duration::MAX) >= Duration::MAX.mul_f64(0.89));
        let now = Instant::now();
        assert!(after(now, Duration::MAX) > now + Duration::from_secs(365 * 24 * 3600));
        let p = RefreshPolicy {
            backoff_initial: Duration::MAX,
            backoff_max: Duration::MAX,
            ..RefreshPolicy::default()
        };
        assert_eq!(p.backoff(30), Duration::MAX);
    }
}
