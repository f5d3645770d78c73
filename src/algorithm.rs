//! JWS algorithms this crate verifies, and which keys fit them.
//!
//! Names, key families and aws-lc-rs parameters only: no key is parsed
//! and no signature checked here.

use aws_lc_rs::signature::{self, VerificationAlgorithm};

/// A JWS signature algorithm (RFC 7518 §3, RFC 8037).
///
/// `none` is not representable: it is refused while the header is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519 (`EdDSA`, or the fully specified `Ed25519`).
    EdDSA,
    /// HMAC with SHA-256; only with an explicitly configured secret.
    HS256,
    /// HMAC with SHA-384; only with an explicitly configured secret.
    HS384,
    /// HMAC with SHA-512; only with an explicitly configured secret.
    HS512,
}

/// The asymmetric algorithms, in the order of `Algorithm::index`.
pub(crate) const ASYMMETRIC: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The key family an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyFamily {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl Algorithm {
    /// Parses a header or JWK `alg` value. Case-sensitive, as RFC 7515 says.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Some(match name {
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "PS256" => Algorithm::PS256,
            "PS384" => Algorithm::PS384,
            "PS512" => Algorithm::PS512,
            "ES256" => Algorithm::ES256,
            "ES384" => Algorithm::ES384,
            "EdDSA" | "Ed25519" => Algorithm::EdDSA,
            "HS256" => Algorithm::HS256,
            "HS384" => Algorithm::HS384,
            "HS512" => Algorithm::HS512,
            _ => return None,
        })
    }

    /// The registered name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
        }
    }

    /// True for the HMAC algorithms.
    pub fn is_hmac(self) -> bool {
        matches!(self, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
    }

    /// Position in [`ASYMMETRIC`], `None` for HMAC.
    pub(crate) fn index(self) -> Option<usize> {
        ASYMMETRIC.iter().position(|a| *a == self)
    }

    pub(crate) fn family(self) -> Option<KeyFamily> {
        match self {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => Some(KeyFamily::Rsa),
            Algorithm::ES256 => Some(KeyFamily::P256),
            Algorithm::ES384 => Some(KeyFamily::P384),
            Algorithm::EdDSA => Some(KeyFamily::Ed25519),
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => None,
        }
    }

    /// The aws-lc-rs verification parameters. RSA keys below 2048 bits are
    /// refused by these parameters.
    pub(crate) fn verification(self) -> Option<&'static dyn VerificationAlgorithm> {
        if let Some(rsa) = self.rsa_parameters() {
            return Some(rsa);
        }
        Some(match self {
            Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
            Algorithm::EdDSA => &signature::ED25519,
            _ => return None,
        })
    }

    /// The RSA parameters of an RS*/PS* algorithm (2048 to 8192 bits).
    pub(crate) fn rsa_parameters(self) -> Option<&'static signature::RsaParameters> {
        Some(match self {
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }
}

impl KeyFamily {
    /// The algorithms a key of this family can verify.
    pub(crate) fn algorithms(self) -> &'static [Algorithm] {
        match self {
            KeyFamily::Rsa => &ASYMMETRIC[..6],
            KeyFamily::P256 => &ASYMMETRIC[6..7],
            KeyFamily::P384 => &ASYMMETRIC[7..8],
            KeyFamily::Ed25519 => &ASYMMETRIC[8..9],
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
