//! When the key store fetches: refresh intervals from `Cache-Control`,
//! backoff after failures, the unknown-`kid` cooldown, staleness, jitter.
//!
//! It computes times; the refresh task acts on them, and nothing here
//! fetches.

use std::time::{Duration, SystemTime};

// tokio's clock, so a paused test runtime governs cooldowns, staleness and
// the refresh schedule alike.
use tokio::time::Instant;

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

    /// The knobs that must not be zero, with the builder method that sets
    /// each: a zero would make the refresh task fetch in a busy loop.
    pub fn zero_knob(&self) -> Option<&'static str> {
        [
            ("default_refresh_interval()", self.default_interval),
            ("refresh_interval_bounds() minimum", self.min_interval),
            ("retry_backoff() initial delay", self.backoff_initial),
        ]
        .into_iter()
        .find(|(_, value)| value.is_zero())
        .map(|(knob, _)| knob)
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
pub(crate) fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d.min(FAR_FUTURE)).unwrap_or(now)
}

/// The wall-clock time `d` from now, if representable.
pub(crate) fn wall_after(d: Duration) -> Option<SystemTime> {
    SystemTime::now().checked_add(d)
}

/// Whole seconds until `due` (rounded up, at least 1, at most 300): the
/// `Retry-After` of a 503 (RFC 9110 §10.2.3). 10 when nothing is due.
pub(crate) fn retry_after_secs(due: Option<Instant>) -> u64 {
    match due {
        Some(due) => {
            let left = due.saturating_duration_since(Instant::now());
            left.as_millis().div_ceil(1000).clamp(1, 300) as u64
        }
        None => 10,
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

    #[test]
    fn zero_knobs_are_named() {
        assert_eq!(RefreshPolicy::default().zero_knob(), None);
        let p = RefreshPolicy {
            backoff_initial: Duration::ZERO,
            ..RefreshPolicy::default()
        };
        assert_eq!(p.zero_knob(), Some("retry_backoff() initial delay"));
    }

    #[tokio::test]
    async fn retry_after_rounds_up_and_clamps() {
        let now = Instant::now();
        assert_eq!(retry_after_secs(None), 10);
        assert_eq!(retry_after_secs(Some(now)), 1);
        assert_eq!(retry_after_secs(Some(now + Duration::from_millis(2100))), 3);
        assert_eq!(retry_after_secs(Some(now + Duration::from_secs(9999))), 300);
    }
}
