//! [`KeySet`]: the usable keys of one source, and key selection for a token.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::jwk::{self, Jwk};
use super::pem;
use super::verifying::VerifyingKey;
use crate::algorithm::{ASYMMETRIC, Algorithm};
use crate::error::Error;

/// Why a JWK was left out of a key set. The rest of the set stays usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// The key's `kid`, when it had one.
    pub kid: Option<String>,
    /// Why it was skipped.
    pub reason: String,
}

/// An immutable set of verifying keys, looked up by `kid` and `alg` (and
/// by `x5t` for tokens without `kid`).
///
/// Built once per fetch and shared by every request through an `ArcSwap`;
/// lookups take no lock and allocate nothing. [`Validator::keys`] shows the
/// set in use; [`from_jwks`](Self::from_jwks) reads a document the same
/// way, to see which keys a provider's JWKS yields and why others are
/// skipped:
///
/// ```
/// use oidc_bearer::keys::KeySet;
///
/// // Keycloak's realm keys: a signing key and an encryption key.
/// let jwks = br#"{"keys":[
///   {"kid":"sig-1","kty":"OKP","crv":"Ed25519","use":"sig",
///    "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
///   {"kid":"enc-1","kty":"RSA","use":"enc","alg":"RSA-OAEP","n":"AQAB","e":"AQAB"}
/// ]}"#;
/// let keys = KeySet::from_jwks(jwks)?;
/// assert_eq!(keys.kids().collect::<Vec<_>>(), ["sig-1"]);
/// assert_eq!(keys.skipped()[0].kid.as_deref(), Some("enc-1"));
/// assert!(keys.skipped()[0].reason.contains("use"));
/// # Ok::<(), oidc_bearer::Error>(())
/// ```
///
/// [`Validator::keys`]: crate::Validator::keys
#[derive(Default)]
pub struct KeySet {
    /// The keys published under each `kid`, in document order. Usually
    /// one, or one per `alg`; a provider may publish different keys that
    /// verify the same algorithm under one `kid` (RFC 7517 §4.5 only says
    /// they SHOULD differ): up to [`MAX_KEYS_PER_KID`] of those are kept
    /// and a token naming that `kid` is tried with each.
    by_kid: HashMap<Box<str>, Vec<Arc<VerifyingKey>>>,
    /// Certificate thumbprints (JWK `x5t`, or SHA-1 of the first `x5c`).
    by_x5t: HashMap<[u8; 20], Vec<Arc<VerifyingKey>>>,
    /// Indexed by `Algorithm::index`: the keys that verify that algorithm,
    /// for tokens that name no key.
    by_alg: [Fitting; ASYMMETRIC.len()],
    all: Vec<Arc<VerifyingKey>>,
    fingerprints: HashSet<u64>,
    skipped: Vec<SkippedKey>,
    /// A single configured key without `kid` (PEM): it verifies tokens
    /// whatever `kid` they name.
    any_kid: bool,
}

/// How many keys of a set verify one algorithm.
#[derive(Default)]
enum Fitting {
    #[default]
    None,
    One(Arc<VerifyingKey>),
    Several,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("keys", &self.all)
            .field("skipped", &self.skipped)
            .finish()
    }
}

/// How many different keys under one `kid` may verify the same algorithm:
/// each is tried on a token naming that `kid`, so this bounds what a
/// forged signature costs.
pub(crate) const MAX_KEYS_PER_KID: usize = 3;

#[derive(Deserialize)]
struct JwkSetDoc {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Parses a JWKS document (`{"keys":[…]}`).
    ///
    /// Keys that cannot be used (encryption keys, unsupported types, broken
    /// members) are skipped and listed in [`skipped`](Self::skipped); only a
    /// document that is not a JWKS at all is an error. An empty result is
    /// not an error here: the caller decides whether it may replace keys.
    pub fn from_jwks(json: &[u8]) -> Result<KeySet, Error> {
        let doc: JwkSetDoc = serde_json::from_slice(json)
            .map_err(|e| Error::InvalidKey(format!("not a JWK set: {e}")))?;
        let mut set = KeySet::default();
        for value in doc.keys {
            let kid_hint = value.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
            let parsed = serde_json::from_value::<Jwk>(value)
                .map_err(|e| format!("malformed JWK: {e}"))
                .and_then(jwk::parse);
            match parsed {
                Ok(parsed) => set.insert(parsed.key, &parsed.thumbprints),
                Err(reason) => set.skipped.push(SkippedKey {
                    kid: kid_hint,
                    reason,
                }),
            }
        }
        Ok(set)
    }

    /// Builds a key set holding one PEM public key (`-----BEGIN PUBLIC
    /// KEY-----`, a `CERTIFICATE`, or bare base64 SPKI as Keycloak's realm
    /// endpoint publishes it). With `kid` the key only verifies tokens
    /// naming that `kid`; without it, tokens without `kid` too.
    pub fn from_pem(pem: &str, kid: Option<&str>) -> Result<KeySet, Error> {
        let public = pem::public_key(pem).map_err(Error::InvalidKey)?;
        let key = VerifyingKey::new(&public, kid.map(Into::into), None, None)
            .map_err(Error::InvalidKey)?;
        let mut set = KeySet {
            any_kid: kid.is_none(),
            ..KeySet::default()
        };
        set.insert(key, &[]);
        Ok(set)
    }

    fn insert(&mut self, key: VerifyingKey, thumbprints: &[[u8; 20]]) {
        let key = Arc::new(key);
        if let Some(kid) = &key.kid {
            let same_kid = self.by_kid.entry(kid.as_ref().into()).or_default();
            let reason = if same_kid.iter().any(|k| k.fingerprint == key.fingerprint) {
                Some(format!(
                    "the same key is published twice under kid {kid:?}: the first is used"
                ))
            } else if same_kid
                .iter()
                .filter(|k| shares_an_algorithm(k, &key))
                .count()
                >= MAX_KEYS_PER_KID
            {
                Some(format!(
                    "more than {MAX_KEYS_PER_KID} different keys under kid {kid:?} verify the \
                     same algorithm: the first {MAX_KEYS_PER_KID} are tried, this one is not"
                ))
            } else {
                None
            };
            if let Some(reason) = reason {
                self.skipped.push(SkippedKey {
                    kid: Some(kid.to_string()),
                    reason,
                });
                return;
            }
            same_kid.push(key.clone());
        }
        for thumbprint in thumbprints {
            self.by_x5t
                .entry(*thumbprint)
                .or_default()
                .push(key.clone());
        }
        for (alg, fitting) in ASYMMETRIC.iter().zip(&mut self.by_alg) {
            if key.supports(*alg) {
                *fitting = match fitting {
                    Fitting::None => Fitting::One(key.clone()),
                    _ => Fitting::Several,
                };
            }
        }
        self.fingerprints.insert(key.fingerprint);
        self.all.push(key);
    }

    /// Number of usable keys (a key published once per `alg` counts once
    /// per entry).
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// True when no key is usable.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// The `kid`s of the usable keys, each once.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.all.iter().filter_map(|key| {
            let kid = key.kid.as_deref()?;
            let first = self.by_kid.get(kid)?.first()?;
            Arc::ptr_eq(first, key).then_some(kid)
        })
    }

    /// The keys that were left out, and why.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// True when a key with this `kid` is in the set.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// True when the key with this [`VerifyingKey::fingerprint`] is still
    /// in the set, published the same way.
    pub(crate) fn holds(&self, fingerprint: u64) -> bool {
        self.fingerprints.contains(&fingerprint)
    }

    /// Selects the keys to try for a token: those under its `kid` that
    /// verify `alg` when the token names a `kid` (one, unless the provider
    /// published several under it); without one, by certificate thumbprint
    /// (`x5t`, as AD FS sends) among the published keys, or else the only
    /// key that can verify `alg` (several → ambiguous). The thumbprint only
    /// ever chooses among published keys; one that matches none leaves the
    /// choice to `alg` alone. Never empty.
    pub(crate) fn select(
        &self,
        kid: Option<&str>,
        x5t: Option<&str>,
        alg: Algorithm,
    ) -> Result<Candidates<'_>, Error> {
        if let Some(kid) = kid
            && !self.any_kid
        {
            let same_kid = self.by_kid.get(kid).ok_or(Error::UnknownKey)?;
            return Candidates::of(same_kid, alg);
        }
        if let Some(same_cert) = x5t.and_then(thumbprint).and_then(|t| self.by_x5t.get(&t)) {
            return Candidates::of(same_cert, alg);
        }
        match alg.index().map(|i| &self.by_alg[i]) {
            Some(Fitting::One(key)) => Candidates::of(std::slice::from_ref(key), alg),
            Some(Fitting::Several) => Err(Error::AmbiguousKey),
            // Keys exist but none takes this alg: say so, rather than
            // blame a kid the token may not even carry.
            _ if !self.all.is_empty() => Err(Error::AlgorithmMismatch),
            _ => Err(Error::UnknownKey),
        }
    }
}

/// The keys of one `kid` or one certificate that verify the token's
/// `alg`, in the order published: at most [`MAX_KEYS_PER_KID`].
pub(crate) struct Candidates<'a> {
    keys: &'a [Arc<VerifyingKey>],
    alg: Algorithm,
}

impl<'a> Candidates<'a> {
    /// The keys among `keys` that verify `alg`; none is an algorithm
    /// mismatch.
    fn of(keys: &'a [Arc<VerifyingKey>], alg: Algorithm) -> Result<Self, Error> {
        if !keys.iter().any(|k| k.supports(alg)) {
            return Err(Error::AlgorithmMismatch);
        }
        Ok(Candidates { keys, alg })
    }
}

impl<'a> Iterator for Candidates<'a> {
    type Item = &'a Arc<VerifyingKey>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        while let Some((first, rest)) = self.keys.split_first() {
            self.keys = rest;
            if first.supports(self.alg) {
                return Some(first);
            }
        }
        None
    }
}

fn shares_an_algorithm(a: &VerifyingKey, b: &VerifyingKey) -> bool {
    ASYMMETRIC
        .iter()
        .any(|alg| a.supports(*alg) && b.supports(*alg))
}

/// Decodes a header `x5t` (base64url SHA-1, 27 characters) on the stack.
fn thumbprint(x5t: &str) -> Option<[u8; 20]> {
    let x5t = x5t.trim_end_matches('=');
    if x5t.len() != 27 {
        return None;
    }
    let mut bytes = [0u8; 24];
    let len = URL_SAFE_NO_PAD.decode_slice(x5t, &mut bytes).ok()?;
    bytes[..len].try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_across_parses_and_tell_keys_apart() {
        let doc = |n: &str| {
            format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"{n}"}}]}}"#)
        };
        // RFC 8032 §7.1, the public keys of TEST 1 and TEST 2.
        let a = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        let b = URL_SAFE_NO_PAD.encode([
            0x3d, 0x40, 0x17, 0xc3, 0xe8, 0x43, 0x89, 0x5a, 0x92, 0xb7, 0x0a, 0xa7, 0x4d, 0x1b,
            0x7e, 0xbc, 0x9c, 0x98, 0x2c, 0xcf, 0x2e, 0xc4, 0x96, 0x8c, 0xc0, 0xcd, 0x55, 0xf1,
            0x2a, 0xf4, 0x66, 0x0c,
        ]);
        let first = KeySet::from_jwks(doc(a).as_bytes()).unwrap();
        let again = KeySet::from_jwks(doc(a).as_bytes()).unwrap();
        let other = KeySet::from_jwks(doc(&b).as_bytes()).unwrap();
        assert_eq!((first.len(), other.len()), (1, 1), "{:?}", other.skipped());
        let fingerprint = first.all[0].fingerprint;
        assert!(again.holds(fingerprint), "same key, same fingerprint");
        assert!(!other.holds(fingerprint), "same kid, other key");
    }

    #[test]
    fn header_thumbprints_decode_on_the_stack_or_not_at_all() {
        let sha1 = [0xabu8; 20];
        let x5t = URL_SAFE_NO_PAD.encode(sha1);
        assert_eq!(thumbprint(&x5t), Some(sha1));
        assert_eq!(thumbprint(&format!("{x5t}=")), Some(sha1));
        assert_eq!(thumbprint(&x5t[..26]), None);
        assert_eq!(thumbprint(&URL_SAFE_NO_PAD.encode([1u8; 32])), None);
        assert_eq!(thumbprint(&"!".repeat(27)), None);
        assert_eq!(thumbprint(""), None);
    }

    #[test]
    fn broken_documents_are_errors_and_broken_keys_are_skipped() {
        assert!(KeySet::from_jwks(b"not json").is_err());
        assert!(KeySet::from_jwks(b"{\"nokeys\":[]}").is_err());
        let set = KeySet::from_jwks(
            br#"{"keys":[
                {"kty":"RSA","kid":"short","n":"AQAB","e":"AQAB"},
                {"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"},
                {"kty":"oct","kid":"hmac","k":"c2VjcmV0"},
                {"kty":"EC","kid":"badcrv","crv":"secp256k1","x":"AA","y":"AA"},
                {"kty":"RSA","kid":"alg","alg":"RSA-OAEP","n":"AQAB","e":"AQAB"},
                {"kty":"OKP","kid":"x25519","crv":"X25519","x":"AA"},
                {"kid":"nokty"},
                "not an object",
                {"kty":"RSA","kid":"x5c","x5c":["!!!"]}
            ]}"#,
        )
        .unwrap();
        assert!(set.is_empty());
        assert_eq!(set.skipped().len(), 9);
        assert!(set.skipped().iter().any(|s| s.reason.contains("2048")));
    }
}
