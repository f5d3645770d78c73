//! The public key a JWK, an SPKI or a certificate holds, in one normal
//! form: comparable across sources and screened by one set of rules.

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};

use super::ed25519;
use crate::algorithm::{Algorithm, KeyFamily};

/// A public key's material, before it is parsed for any algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PublicKey {
    /// RSA modulus and public exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed SEC1 point (`04 || x || y`) on P-256 or P-384.
    Ec { family: KeyFamily, point: Vec<u8> },
    /// The 32-byte encoding of RFC 8032 §5.1.2.
    Ed25519([u8; 32]),
}

impl PublicKey {
    /// The key family, which decides the algorithms the key may verify.
    pub fn family(&self) -> KeyFamily {
        match self {
            PublicKey::Rsa { .. } => KeyFamily::Rsa,
            PublicKey::Ec { family, .. } => *family,
            PublicKey::Ed25519(_) => KeyFamily::Ed25519,
        }
    }

    /// Refuses keys that could never verify a token, and keys for which
    /// signatures can be made without the private key. EC points are
    /// checked by aws-lc-rs when the key is parsed.
    pub fn screen(&self) -> Result<(), String> {
        match self {
            PublicKey::Rsa { n, e } => check_rsa_size(n, e),
            PublicKey::Ec { .. } => Ok(()),
            PublicKey::Ed25519(x) => ed25519::screen(x),
        }
    }

    /// Parses the key for `alg`, which must belong to the key's family.
    pub fn parse_for(&self, alg: Algorithm) -> Result<ParsedPublicKey, String> {
        match self {
            PublicKey::Rsa { n, e } => {
                let params = alg.rsa_parameters().ok_or("not an RSA algorithm")?;
                RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(params)
                    .map_err(|e| format!("RSA key rejected: {e}"))
            }
            PublicKey::Ec { point, .. } => {
                ParsedPublicKey::new(alg.verification().ok_or("not an EC algorithm")?, point)
                    .map_err(|e| format!("EC key rejected: {e}"))
            }
            PublicKey::Ed25519(x) => {
                ParsedPublicKey::new(alg.verification().ok_or("not EdDSA")?, x)
                    .map_err(|e| format!("Ed25519 key rejected: {e}"))
            }
        }
    }
}

/// The sizes aws-lc-rs verifies with (2048..=8192-bit modulus, an odd
/// exponent of at most 32 bits), checked here so a key that could never
/// verify a token is skipped with a reason instead of counting as usable.
/// aws-lc-rs does not check them when a key is parsed, only on each
/// verification.
fn check_rsa_size(n: &[u8], e: &[u8]) -> Result<(), String> {
    // `n` and `e` come without leading zeros.
    let bits = match n.first() {
        Some(top) => (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
        None => 0,
    };
    if bits < 2048 {
        return Err(format!("RSA key shorter than 2048 bits ({bits} bits)"));
    }
    if bits > 8192 {
        return Err(format!("RSA key longer than 8192 bits ({bits} bits)"));
    }
    let odd = e.last().is_some_and(|b| b & 1 == 1);
    if e.len() > 4 || !odd || e == [1] {
        return Err("RSA exponent is not an odd number between 3 and 2^32".into());
    }
    Ok(())
}

/// Strips the leading zero bytes of a big-endian unsigned integer.
pub(super) fn trim_zeros(mut b: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = b {
        b = rest;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_leading_zeros() {
        assert_eq!(trim_zeros(&[0, 0, 1, 0]), &[1, 0]);
        assert_eq!(trim_zeros(&[0]), &[] as &[u8]);
        assert_eq!(trim_zeros(&[]), &[] as &[u8]);
    }

    #[test]
    fn rsa_sizes_count_bits_not_bytes() {
        let mut n = vec![0xffu8; 256];
        assert!(check_rsa_size(&n, &[1, 0, 1]).is_ok());
        n[0] = 0x7f; // 2047 bits
        assert!(check_rsa_size(&n, &[1, 0, 1]).unwrap_err().contains("2047"));
        assert!(check_rsa_size(&[0xff; 256], &[3]).is_ok());
        assert!(check_rsa_size(&[0xff; 256], &[1]).is_err());
    }
}
