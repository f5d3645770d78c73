//! The refresh task, the one task that fetches for a store, and the
//! bookkeeping of each fetch: publish, schedule the next, back off,
//! notice staleness.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::policy::{after, jitter, wall_after};
use super::{FetchState, KeyStore, State};
use crate::error::Error;

impl KeyStore {
    /// One fetch with all its bookkeeping. The caller has marked the fetch
    /// running; this frees the slot and signals `done` once the result is
    /// published, also when the fetch is cancelled half-way.
    async fn fetch(&self) -> Result<(), Error> {
        let Some(remote) = &self.remote else {
            return Ok(());
        };
        let mut flight = Flight {
            store: self,
            finished: false,
        };
        let etag = self.state().etag.clone();
        let result = remote.download(etag).await;

        let now = Instant::now();
        let mut state = self.state();
        let (outcome, delay) = match result {
            Ok(downloaded) => {
                if let Some(set) = downloaded.keys {
                    for skipped in set.skipped() {
                        tracing::debug!(kid = ?skipped.kid, reason = %skipped.reason, "JWK skipped");
                    }
                    let old = self.current.load();
                    let old_kids: Vec<&str> = old.kids().collect();
                    let new_kids: Vec<&str> = set.kids().collect();
                    if old_kids != new_kids {
                        tracing::info!(url = %downloaded.url, kids = ?new_kids, previous = ?old_kids, "signing keys changed");
                    } else {
                        tracing::debug!(url = %downloaded.url, "signing keys refreshed, unchanged");
                    }
                    drop(old);
                    self.current.store(Arc::new(set));
                    state.etag = downloaded.etag;
                } else {
                    tracing::debug!(url = %downloaded.url, "signing keys not modified");
                }
                state.last_success = Some((now, SystemTime::now()));
                state.last_error = None;
                state.failures = 0;
                self.expired.store(false, Ordering::Relaxed);
                // Fetch again before the keys reach the maximum age.
                let delay =
                    jitter(self.policy.interval(downloaded.max_age)).min(self.policy.max_stale);
                (Ok(()), delay)
            }
            Err(error) => {
                let delay = self.failed(&mut state, &error, now);
                (Err(error), delay)
            }
        };
        state.next_due = Some(after(now, delay));
        state.next_refresh = wall_after(delay);
        flight.finish(&mut state);
        outcome
    }

    /// Records a failed fetch and returns the delay until the next try:
    /// backoff, but early enough to notice the keys going stale.
    fn failed(&self, state: &mut State, error: &Error, now: Instant) -> Duration {
        state.failures = state.failures.saturating_add(1);
        self.fetch_failures.fetch_add(1, Ordering::Relaxed);
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
        match state.last_success {
            Some((at, _)) if !self.expired.load(Ordering::Relaxed) => {
                let left = self.policy.max_stale.saturating_sub(now.duration_since(at));
                delay.min(left.max(Duration::from_millis(1)))
            }
            _ => delay,
        }
    }

    /// The first fetch, in `build()`, before the refresh task exists.
    pub(super) async fn first_fetch(&self) -> Result<(), Error> {
        self.state().fetch = FetchState::Running { for_kid: false };
        self.fetch().await
    }

    /// The refresh task's turn: true (and the fetch marked running) when a
    /// fetch was requested or is due.
    fn take_turn(&self) -> bool {
        let mut state = self.state();
        let due = state.next_due.is_none_or(|due| Instant::now() >= due);
        let next = match state.fetch {
            FetchState::Requested => FetchState::Running { for_kid: true },
            FetchState::Idle if due => FetchState::Running { for_kid: false },
            _ => return false,
        };
        state.fetch = next;
        true
    }

    fn next_due(&self) -> Instant {
        self.state()
            .next_due
            .unwrap_or_else(|| after(Instant::now(), self.policy.default_interval))
    }
}

/// The fetch in flight. Finishing it frees the slot and wakes the waiters;
/// dropping it unfinished (the fetch was cancelled) does the same, so
/// nobody waits for a fetch that no longer runs.
struct Flight<'a> {
    store: &'a KeyStore,
    finished: bool,
}

impl Flight<'_> {
    fn finish(&mut self, state: &mut State) {
        self.finished = true;
        self.store.fetches.fetch_add(1, Ordering::Relaxed);
        self.store.settle(state, FetchState::Idle);
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let store = self.store;
            store.settle(&mut store.state(), FetchState::Idle);
        }
    }
}

/// Spawns the refresh loop. It holds only a weak reference between
/// fetches and ends when `shutdown`'s sender is dropped (the last validator
/// handle goes away), cancelling a fetch in progress.
///
/// It wakes when the next refresh is due (from `Cache-Control`, backoff
/// or staleness, as recorded by the last fetch) or when an unknown `kid`
/// asks for a fetch.
pub(super) fn spawn(store: &Arc<KeyStore>, mut shutdown: tokio::sync::oneshot::Receiver<()>) {
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
        store.settle(&mut state, FetchState::TaskGone);
        // Said where it matters, in `health()` (a validator that outlives
        // its runtime is stale from now on), rather than as a warning at
        // every ordinary shutdown, when tasks are dropped in no order.
        state.last_error = Some(
            "the signing-key refresh task ended (its tokio runtime shut down?): keys are \
             no longer refreshed"
                .into(),
        );
        drop(state);
        tracing::debug!("the signing-key refresh task ended while the validator is still in use");
    }
}
