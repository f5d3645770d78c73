//! [`VerifyingKey`]: one usable key, parsed once for every algorithm it may
//! verify, and its fingerprint.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use aws_lc_rs::signature::ParsedPublicKey;

use super::public_key::PublicKey;
use crate::algorithm::{ASYMMETRIC, Algorithm, KeyFamily};

/// One usable public key, parsed for every algorithm it may verify.
pub(crate) struct VerifyingKey {
    pub kid: Option<Arc<str>>,
    /// Identifies this exact key: its public key, `kid`, JWK `alg` and
    /// `issuer`. Equal across refreshes while the provider publishes the
    /// same key the same way; a cached token is only served while the set
    /// still holds the fingerprint of the key that verified it.
    pub fingerprint: u64,
    pub family: KeyFamily,
    /// The issuer a JWK is bound to (Entra's `issuer` member), possibly a
    /// `{tenantid}` template.
    pub issuer: Option<Box<str>>,
    /// Indexed by `Algorithm::index`; `None` where the key may not be used
    /// with that algorithm (wrong family, or the JWK's `alg` says otherwise).
    verifiers: [Option<ParsedPublicKey>; ASYMMETRIC.len()],
}

impl VerifyingKey {
    /// Screens `public` and parses it once for each algorithm its family
    /// allows (only the JWK's own `alg`, when it states one).
    pub(super) fn new(
        public: &PublicKey,
        kid: Option<Arc<str>>,
        jwk_alg: Option<Algorithm>,
        issuer: Option<Box<str>>,
    ) -> Result<VerifyingKey, String> {
        let family = public.family();
        if let Some(a) = jwk_alg
            && a.family() != Some(family)
        {
            return Err(format!("alg {a} does not fit the key type"));
        }
        public.screen()?;
        let mut verifiers: [Option<ParsedPublicKey>; ASYMMETRIC.len()] = Default::default();
        // SipHash with fixed keys: the same key hashes the same after every
        // refresh. Keys come from the configured provider, not from tokens.
        let mut fingerprint = std::collections::hash_map::DefaultHasher::new();
        (&kid, &issuer, jwk_alg.map(Algorithm::name)).hash(&mut fingerprint);
        for &alg in family.algorithms() {
            if jwk_alg.is_none_or(|a| a == alg) {
                let index = alg.index().expect("asymmetric");
                let parsed = public.parse_for(alg)?;
                parsed.as_ref().hash(&mut fingerprint);
                verifiers[index] = Some(parsed);
            }
        }
        Ok(VerifyingKey {
            kid,
            fingerprint: fingerprint.finish(),
            family,
            issuer,
            verifiers,
        })
    }

    /// The parsed key for `alg`, or `None` when `alg` does not fit this key.
    pub fn verifier(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        self.verifiers[alg.index()?].as_ref()
    }

    pub(super) fn supports(&self, alg: Algorithm) -> bool {
        self.verifier(alg).is_some()
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algs: Vec<&str> = ASYMMETRIC
            .iter()
            .filter(|a| self.supports(**a))
            .map(|a| a.name())
            .collect();
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("family", &self.family)
            .field("algorithms", &algs)
            .finish()
    }
}
