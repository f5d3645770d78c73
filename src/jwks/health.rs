//! [`Health`]: what the key store can tell a readiness endpoint.
//!
//! It reports what the store knows; it never triggers a fetch.

use serde::Serialize;

/// Whether requests can be verified, as told by [`Health`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HealthStatus {
    /// Keys are fresh: the last fetch succeeded.
    Ok,
    /// The last fetch failed; the last good keys keep serving.
    Stale,
    /// The last good keys are older than the allowed maximum
    /// ([`max_key_age`](crate::ValidatorBuilder::max_key_age)): requests get
    /// 503 until a fetch succeeds.
    Expired,
    /// No keys were ever loaded: requests get 503.
    NoKeys,
    /// Keys were configured statically and never refresh.
    Static,
}

/// A snapshot of the key store, cheap to take, for readiness endpoints.
///
/// Serializes to JSON as it reads, with `status` in snake case:
///
/// ```no_run
/// # async fn run(validator: oidc_bearer::Validator) {
/// let health = validator.health();
/// if !health.is_ready() {
///     eprintln!("not ready: {:?}, last error {:?}", health.status, health.last_error);
/// }
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Health {
    /// Overall state.
    pub status: HealthStatus,
    /// Number of usable keys.
    pub key_count: usize,
    /// Their `kid`s.
    pub kids: Vec<String>,
    /// Unix time (seconds) of the last successful fetch.
    pub last_success_unix: Option<u64>,
    /// What went wrong in the last failed fetch, if the last fetch failed.
    pub last_error: Option<String>,
    /// Unix time (seconds) the next scheduled refresh is due.
    pub next_refresh_unix: Option<u64>,
    /// Fetch attempts so far (timer, startup and unknown-`kid`).
    pub fetches: u64,
}

impl Health {
    /// Two key stores as one: the less ready state (with its error and
    /// next refresh), the keys and fetches of both, the older success.
    pub(crate) fn merge(self, other: Health) -> Health {
        let rank = |s: HealthStatus| match s {
            HealthStatus::NoKeys => 0,
            HealthStatus::Expired => 1,
            HealthStatus::Stale => 2,
            HealthStatus::Ok => 3,
            HealthStatus::Static => 4,
        };
        let (worse, better) = if rank(other.status) < rank(self.status) {
            (other, self)
        } else {
            (self, other)
        };
        let mut kids = worse.kids;
        for kid in better.kids {
            if !kids.contains(&kid) {
                kids.push(kid);
            }
        }
        Health {
            status: worse.status,
            key_count: worse.key_count + better.key_count,
            kids,
            last_success_unix: match (worse.last_success_unix, better.last_success_unix) {
                (Some(a), Some(b)) => Some(a.min(b)),
                _ => None,
            },
            last_error: worse.last_error.or(better.last_error),
            next_refresh_unix: worse.next_refresh_unix.or(better.next_refresh_unix),
            fetches: worse.fetches + better.fetches,
        }
    }

    /// True when requests can be verified (fresh or stale keys, or static).
    pub fn is_ready(&self) -> bool {
        matches!(
            self.status,
            HealthStatus::Ok | HealthStatus::Stale | HealthStatus::Static
        )
    }
}
