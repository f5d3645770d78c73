//! The unknown-`kid` refetch: every concurrent miss shares one fetch, at
//! most one such fetch starts per cooldown, and a `kid` still unknown after
//! a fetch is refused at once until that cooldown ends.

use std::time::Duration;

use tokio::time::Instant;

use super::policy::after;
use super::{FetchState, KeyStore};

/// Kids remembered as unknown; past this the memory is cleared rather than
/// grown by a flood of random kids.
const MAX_REMEMBERED_KIDS: usize = 1024;

/// A place in the queue for the fetch in flight: what a request with an
/// unknown `kid` waits on.
pub(crate) struct Ticket {
    done: tokio::sync::watch::Receiver<()>,
    /// The fetch was started for an unknown `kid` (not by the timer), so
    /// it counts as this kid's refetch.
    for_kid: bool,
}

impl KeyStore {
    /// Asks the refresh task for a fetch for `kid`, unless the cooldown
    /// runs or `kid` is known to be unknown, without waiting. Returns what
    /// to wait on, or `None` when there is nothing to wait for.
    pub fn request_refetch(&self, kid: &str) -> Option<Ticket> {
        self.remote.as_ref()?;
        let mut state = self.state();
        let now = Instant::now();
        if state.fetch == FetchState::TaskGone {
            return None;
        }
        if let Some(until) = state.unknown_kids.get(kid) {
            if now < *until {
                return None;
            }
            state.unknown_kids.remove(kid);
        }
        if state.fetch == FetchState::Idle {
            if state.cooldown_until.is_some_and(|until| now < until) {
                return None;
            }
            state.cooldown_until = Some(after(now, self.policy.kid_cooldown));
            state.fetch = FetchState::Requested;
            tracing::debug!("unknown key id; refetching the JWKS");
            self.wake.notify_one();
        }
        // Subscribed under the lock that a fetch publishes under: the end
        // of the fetch in flight cannot be missed.
        Some(Ticket {
            done: self.done.subscribe(),
            for_kid: state.fetch.for_kid(),
        })
    }

    /// Waits, bounded by the fetch timeout, until the fetch `ticket` stands
    /// for has published its keys. A fetch the timer started (perhaps
    /// before the new key was published) does not count as this kid's
    /// refetch: then one more fetch may start, cooldown permitting. A `kid`
    /// still unknown afterwards is remembered until the cooldown ends.
    pub async fn wait_for(&self, kid: &str, mut ticket: Ticket) {
        let Some(remote) = &self.remote else { return };
        let wait = remote
            .options
            .timeout
            .saturating_add(Duration::from_millis(500));
        let deadline = after(Instant::now(), wait);
        for round in 0..2 {
            if round > 0 {
                match self.request_refetch(kid) {
                    Some(next) => ticket = next,
                    None => return,
                }
            }
            if tokio::time::timeout_at(deadline, ticket.done.changed())
                .await
                .is_err()
            {
                break;
            }
            if self.current.load().contains_kid(kid) {
                return;
            }
            if ticket.for_kid {
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
}
