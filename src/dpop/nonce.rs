//! Server-issued DPoP nonces (RFC 9449 §8, §9): stateless, rotating.
//!
//! A nonce is the number of the current rotation period and a MAC of it
//! under a secret: `base64url(period ‖ HMAC-SHA256(secret, period)[..16])`.
//! The nonce of the current period and of the one before are accepted, so
//! a client that just got a nonce keeps it usable for at least one whole
//! period. Nothing is stored; instances that share the secret
//! ([`Nonces::shared_secret`]) accept each other's nonces.

use std::time::Duration;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Server-issued nonces for DPoP proofs (RFC 9449 §9): configure with
/// [`Dpop::nonces`](crate::Dpop::nonces). A proof without the current
/// nonce is refused with `401`, `error="use_dpop_nonce"` and a fresh
/// `DPoP-Nonce` header, which the client puts in its next proof. Every
/// other response to a DPoP request carries the current nonce too (RFC
/// 9449 §8.2).
///
/// ```
/// use std::time::Duration;
/// use oidc_bearer::Dpop;
/// use oidc_bearer::dpop::Nonces;
///
/// let dpop = Dpop::allowed().nonces(
///     Nonces::new()
///         .rotation(Duration::from_secs(300))
///         // Several instances behind one load balancer: one secret.
///         .shared_secret(b"32 bytes or more of a real secret!!"),
/// );
/// ```
#[derive(Clone)]
pub struct Nonces {
    key: hmac::Key,
    period: u64,
}

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nonces")
            .field("rotation_secs", &self.period)
            .finish_non_exhaustive()
    }
}

impl Default for Nonces {
    fn default() -> Self {
        Self::new()
    }
}

/// Bytes of the MAC kept in a nonce: 128 bits.
const MAC_LEN: usize = 16;

impl Nonces {
    /// Nonces under a random secret of this process, rotating every 5
    /// minutes.
    pub fn new() -> Self {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .expect("the system random generator works");
        Nonces { key, period: 300 }
    }

    /// How long a nonce is current (default 5 minutes); one stays
    /// accepted for one more period after that. At least 1 second.
    pub fn rotation(mut self, period: Duration) -> Self {
        self.period = period.as_secs().max(1);
        self
    }

    /// Use this secret instead of a random one, so instances that share
    /// it accept each other's nonces. Keep it as secret as a signing key:
    /// whoever knows it can mint nonces (which only lets them skip the
    /// freshness a nonce adds; proofs are still checked).
    pub fn shared_secret(mut self, secret: &[u8]) -> Self {
        self.key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        self
    }

    /// The nonce to hand out at `now` (seconds since the epoch).
    pub(crate) fn current(&self, now: i64) -> String {
        self.nonce_for(self.period_of(now))
    }

    /// True when `nonce` is the nonce of the current period or of the one
    /// before.
    pub(crate) fn accepts(&self, nonce: &str, now: i64) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(nonce) else {
            return false;
        };
        let Some((period, mac)) = bytes.split_first_chunk::<8>() else {
            return false;
        };
        let period = u64::from_be_bytes(*period);
        let current = self.period_of(now);
        if period != current && period.checked_add(1) != Some(current) {
            return false;
        }
        let tag = hmac::sign(&self.key, &period.to_be_bytes());
        mac.len() == MAC_LEN
            && aws_lc_rs::constant_time::verify_slices_are_equal(mac, &tag.as_ref()[..MAC_LEN])
                .is_ok()
    }

    fn period_of(&self, now: i64) -> u64 {
        u64::try_from(now).unwrap_or(0) / self.period
    }

    fn nonce_for(&self, period: u64) -> String {
        let tag = hmac::sign(&self.key, &period.to_be_bytes());
        let mut bytes = [0u8; 8 + MAC_LEN];
        bytes[..8].copy_from_slice(&period.to_be_bytes());
        bytes[8..].copy_from_slice(&tag.as_ref()[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_lives_for_its_period_and_the_next() {
        let nonces = Nonces::new().rotation(Duration::from_secs(100));
        let nonce = nonces.current(1_000);
        assert_eq!(nonce, nonces.current(1_099));
        assert!(nonces.accepts(&nonce, 1_000));
        assert!(nonces.accepts(&nonce, 1_199));
        assert!(!nonces.accepts(&nonce, 1_200));
        assert!(!nonces.accepts(&nonce, 999));
        assert_ne!(nonce, nonces.current(1_100));
        // Another secret, a tampered MAC, garbage: refused.
        assert!(!Nonces::new().accepts(&nonce, 1_000));
        let mut bytes = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        bytes[12] ^= 1;
        assert!(!nonces.accepts(&URL_SAFE_NO_PAD.encode(bytes), 1_000));
        assert!(!nonces.accepts("", 1_000));
        assert!(!nonces.accepts("!!", 1_000));
        // A shared secret: both sides agree.
        let a = Nonces::new().shared_secret(b"s");
        let b = Nonces::new().shared_secret(b"s");
        assert!(b.accepts(&a.current(5), 5));
    }
}
