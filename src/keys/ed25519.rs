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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_key_passes_and_each_kind_of_bad_key_says_why() {
        // RFC 8032 §7.1 TEST 1.
        let mut real = [0u8; 32];
        let hex = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        for (i, byte) in real.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        assert_eq!(screen(&real), Ok(()));
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(screen(&identity).unwrap_err().contains("small order"));
        let mut negative_zero = identity;
        negative_zero[31] = 0x80;
        assert!(screen(&negative_zero).unwrap_err().contains("canonically"));
        // y = 2 has no x on the curve.
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        assert!(screen(&off_curve).unwrap_err().contains("not a point"));
    }
}
