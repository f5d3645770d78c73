//! [`Metrics`]: what the validator did since it was built — tokens
//! verified, served from the cache, refused by reason, key fetches and
//! their failures — as a snapshot next to [`Validator::health`], without
//! a metrics dependency. Serve it in the format your stack reads
//! ([`Metrics::to_prometheus`] for Prometheus' text format). It counts
//! what others decided and decides nothing itself.
//!
//! Counting costs one relaxed atomic add per verification, on a counter
//! of the calling thread's shard: threads verifying at once do not fight
//! over one cache line.
//!
//! [`Validator::health`]: crate::Validator::health

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;

use crate::error::Error;

/// Counters of one validator (and its clones) since `build()`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), oidc_bearer::Error> {
/// # let provider = oidc_bearer_testkit::TestIssuer::start().await;
/// use oidc_bearer::{StandardClaims, Validator};
///
/// let validator = Validator::builder()
///     .issuer(&provider.issuer)
///     .audience("my-api")
///     .build()
///     .await?;
/// let token = provider.token("my-api");
/// validator.verify::<StandardClaims>(&token).await?;
/// validator.verify::<StandardClaims>(&token).await?; // from the cache
/// let _ = validator.verify::<StandardClaims>("not.a.token").await;
///
/// let metrics = validator.metrics();
/// assert_eq!((metrics.verified, metrics.cache_hits), (2, 1));
/// assert_eq!(metrics.rejected["malformed_token"], 1);
/// assert!(metrics.to_prometheus().contains("oidc_bearer_verified_total 2"));
/// # Ok(()) }
/// ```
/// # Tracing (for dashboards next to these counters)
///
/// Field and span names are stable, to build dashboards on:
///
/// | what | level | name and fields |
/// |---|---|---|
/// | every verification | debug | span `oidc_bearer.verify` |
/// | a refused token | debug | event "bearer token rejected", `reason` (the [`Error`](crate::Error)'s message, e.g. "token expired"; not the metric label `Error::reason()`, e.g. `expired`; never the token or its claims) |
/// | a refused DPoP proof | debug | event "DPoP proof rejected", `reason` |
/// | a replay store that failed | warn | event "DPoP proof refused: the replay store failed" (or "…check skipped…" when failing open), `error` |
/// | a route's requirement not met (scope, role, step-up) | debug | event "requirement not met", `error` |
/// | the query-parameter token source configured | warn | event at layer construction (never a value) |
/// | a failed key fetch | warn | event "fetching signing keys failed; keeping the last good keys", `error`, `failures` (in a row), `retry_in_ms` |
/// | a found JWKS URL | info | event "discovered the JWKS URL", `jwks_uri` |
///
/// | keys older than `max_key_age` | warn | event "signing keys are older than the allowed maximum…" |
/// | started without keys | warn | event "starting without signing keys; requests get 503 until a fetch succeeds", `error` |
///
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Metrics {
    /// Tokens accepted, cache hits included.
    pub verified: u64,
    /// Tokens accepted from the verified-token cache.
    pub cache_hits: u64,
    /// Tokens (and requests) refused, by [`Error::reason`], each once where
    /// it was decided: by the validator, the bearer layer (no token, a
    /// malformed request, a DPoP proof) or a requirement layer inside it
    /// ([`Require`](crate::Require)'s 403s, [`StepUp`](crate::StepUp)'s
    /// 401s, and the guard `authorize_in`); only reasons seen so far are
    /// present. The guard `authorize`, which sees no request, and a
    /// requirement layer with no bearer layer in front have no validator
    /// to count with.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Key fetches attempted (start-up, timer and unknown `kid`), over all
    /// key stores.
    pub jwks_fetches: u64,
    /// Key fetches that failed.
    pub jwks_fetch_failures: u64,
}

impl Metrics {
    /// The counters in Prometheus' text exposition format, as
    /// `oidc_bearer_verified_total`, `oidc_bearer_cache_hits_total`,
    /// `oidc_bearer_rejected_total{reason="…"}`,
    /// `oidc_bearer_jwks_fetches_total` and
    /// `oidc_bearer_jwks_fetch_failures_total`.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, samples: &[(Option<&str>, u64)]| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
            for (reason, value) in samples {
                match reason {
                    Some(reason) => {
                        out.push_str(&format!("{name}{{reason=\"{reason}\"}} {value}\n"))
                    }
                    None => out.push_str(&format!("{name} {value}\n")),
                }
            }
        };
        counter(
            "oidc_bearer_verified_total",
            "Bearer tokens accepted, cache hits included.",
            &[(None, self.verified)],
        );
        counter(
            "oidc_bearer_cache_hits_total",
            "Bearer tokens accepted from the verified-token cache.",
            &[(None, self.cache_hits)],
        );
        let rejected: Vec<(Option<&str>, u64)> = self
            .rejected
            .iter()
            .map(|(reason, n)| (Some(*reason), *n))
            .collect();
        counter(
            "oidc_bearer_rejected_total",
            "Bearer tokens and requests refused, by reason.",
            &rejected,
        );
        counter(
            "oidc_bearer_jwks_fetches_total",
            "Signing-key fetches attempted.",
            &[(None, self.jwks_fetches)],
        );
        counter(
            "oidc_bearer_jwks_fetch_failures_total",
            "Signing-key fetches that failed.",
            &[(None, self.jwks_fetch_failures)],
        );
        out
    }
}

/// Shards of counters; a thread keeps to one.
const SHARDS: usize = 8;

/// One shard, on cache lines of its own.
#[repr(align(128))]
struct Shard {
    verified: AtomicU64,
    cache_hits: AtomicU64,
    rejected: [AtomicU64; Error::REASONS.len()],
}

impl Default for Shard {
    fn default() -> Self {
        Shard {
            verified: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            rejected: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// The live counters behind [`Metrics`].
pub(crate) struct Counters {
    shards: Box<[Shard]>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }
}

fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    INDEX.with(|i| *i)
}

impl Counters {
    fn shard(&self) -> &Shard {
        &self.shards[shard_index()]
    }

    #[inline]
    pub fn verified(&self) {
        self.shard().verified.fetch_add(1, Ordering::Relaxed);
    }

    #[inline]
    pub fn cache_hit(&self) {
        self.shard().cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rejected(&self, error: &Error) {
        self.shard().rejected[error.reason_index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The sums, with the key stores' fetch counts.
    pub fn snapshot(&self, jwks_fetches: u64, jwks_fetch_failures: u64) -> Metrics {
        let sum = |f: &dyn Fn(&Shard) -> u64| self.shards.iter().map(f).sum::<u64>();
        let mut rejected = BTreeMap::new();
        for (index, reason) in Error::REASONS.iter().enumerate() {
            let n = sum(&|s| s.rejected[index].load(Ordering::Relaxed));
            if n > 0 {
                rejected.insert(*reason, n);
            }
        }
        Metrics {
            verified: sum(&|s| s.verified.load(Ordering::Relaxed)),
            cache_hits: sum(&|s| s.cache_hits.load(Ordering::Relaxed)),
            rejected,
            jwks_fetches,
            jwks_fetch_failures,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_distinct_and_each_error_has_its_own() {
        let mut seen = std::collections::BTreeSet::new();
        assert!(Error::REASONS.iter().all(|r| seen.insert(*r)));
        assert_eq!(Error::Expired.reason(), "expired");
        assert_eq!(Error::MissingClaim("aud".into()).reason(), "missing_claim");
        assert_eq!(Error::RuleFailed("x".into()).reason(), "rule_failed");
    }

    #[test]
    fn shards_sum_up_across_threads() {
        let counters = std::sync::Arc::new(Counters::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counters = counters.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        counters.verified();
                    }
                    counters.rejected(&Error::Expired);
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let metrics = counters.snapshot(3, 1);
        assert_eq!(metrics.verified, 4000);
        assert_eq!(metrics.rejected.get("expired"), Some(&4));
        assert_eq!((metrics.jwks_fetches, metrics.jwks_fetch_failures), (3, 1));
        let text = metrics.to_prometheus();
        assert!(
            text.contains("oidc_bearer_rejected_total{reason=\"expired\"} 4\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE oidc_bearer_verified_total counter\n"));
    }
}
