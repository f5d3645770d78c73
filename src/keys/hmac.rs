//! The HMAC secret (HS256/384/512): only ever an explicitly configured
//! shared secret, never a key from a JWKS.

use aws_lc_rs::hmac;

use crate::algorithm::Algorithm;
use crate::error::Error;

/// Shorter secrets are refused at build: RFC 7518 §3.2 requires a key of
/// at least the hash size, and 256 bits is the least of the three.
const MIN_SECRET_LEN: usize = 32;

/// The configured secret, keyed once for each HMAC algorithm.
pub(crate) struct HmacKeys {
    hs256: hmac::Key,
    hs384: hmac::Key,
    hs512: hmac::Key,
}

impl HmacKeys {
    /// Keys for `secret`, which must be at least 32 bytes.
    pub fn new(secret: &[u8]) -> Result<Self, Error> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(Error::Config(
                "the HMAC secret must be at least 32 bytes".into(),
            ));
        }
        Ok(HmacKeys {
            hs256: hmac::Key::new(hmac::HMAC_SHA256, secret),
            hs384: hmac::Key::new(hmac::HMAC_SHA384, secret),
            hs512: hmac::Key::new(hmac::HMAC_SHA512, secret),
        })
    }

    /// Checks `signature` over `signing_input` with the secret, for an
    /// HMAC `alg` (anything else is an unsupported algorithm here).
    pub fn verify(
        &self,
        alg: Algorithm,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), Error> {
        let key = match alg {
            Algorithm::HS256 => &self.hs256,
            Algorithm::HS384 => &self.hs384,
            Algorithm::HS512 => &self.hs512,
            _ => return Err(Error::UnsupportedAlgorithm),
        };
        // Constant time (aws-lc-rs compares the tags with CRYPTO_memcmp).
        hmac::verify(key, signing_input, signature).map_err(|_| Error::InvalidSignature)
    }
}
