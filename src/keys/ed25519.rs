//! Screening of Ed25519 public keys (RFC 8032 §5.1.3 decoding, plus the
//! subgroup checks RFC 8032 leaves out).

use curve25519_dalek::edwards::CompressedEdwardsY;

/// Refuses Ed25519 public keys no private key stands behind. For a point A
/// of small order, `[k]A` takes at most 8 values, so a signature with R = the
/// identity and S = 0 verifies for every message whose k sends A there (for
/// the identity itself: every message), and aws-lc-rs does not check this.
/// Honest keys are `[a]B` for the base point B: canonically encoded, and in
/// the prime-order subgroup, so refusing anything else loses no real key.
pub(super) fn screen(x: &[u8; 32]) -> Result<(), String> {
    let encoded = CompressedEdwardsY(*x);
    let point = encoded
        .decompress()
        .ok_or("Ed25519 key is not a point on the curve")?;
    // `decompress` reduces y mod p and keeps the sign bit of x = 0 as
    // given: only re-encoding tells the one canonical form from its aliases.
    if point.compress() != encoded {
        return Err(
            "Ed25519 key is not canonically encoded (y >= p, or a sign bit on x = 0)".into(),
        );
    }
    if point.is_small_order() {
        return Err(
            "Ed25519 key is a point of small order (signatures for it can be forged)".into(),
        );
    }
    if !point.is_torsion_free() {
        return Err(
            "Ed25519 key has a small-order component (not in the prime-order subgroup)".into(),
        );
    }
    Ok(())
}
