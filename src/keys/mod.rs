//! Public keys from JWKS documents, PEM and `x5c` certificates, the
//! immutable [`KeySet`] requests look keys up in, and the HMAC secret.
//!
//! Every key is parsed once, when a key set is built, into aws-lc-rs
//! `ParsedPublicKey`s (one per algorithm the key may verify), so a request
//! pays for the signature check and nothing else. Nothing here fetches.
//!
//! Each source is reduced to one `PublicKey` form
//! first, so an `x5c` certificate can be compared with the JWK members
//! beside it and every key is screened by the same rules whatever it came
//! from.

mod ed25519;
mod hmac;
mod jwk;
mod pem;
mod proof_key;
mod public_key;
mod set;
mod spki;
mod verifying;
mod x509;

pub use crate::algorithm::Algorithm;
pub(crate) use hmac::HmacKeys;
pub(crate) use proof_key::{JwkMembers, proof_key};
pub(crate) use set::Candidates;
pub use set::{KeySet, SkippedKey};
pub(crate) use verifying::VerifyingKey;
