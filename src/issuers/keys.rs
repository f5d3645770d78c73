//! [`IssuerKeys`]: everything one issuer's tokens may be verified with —
//! the key store of each of its sources and its shared secret — and the
//! signature check with them.
//!
//! Keys belong to the issuer they were configured on: the pipeline asks
//! the keys of the issuer the token's `iss` selected, and no other, so a
//! secret or key set of issuer A never verifies a token naming issuer B.

use std::sync::Arc;

use crate::error::Error;
use crate::jwks::{Health, OpenKeyStore, Ticket};
use crate::keys::{Candidates, HmacKeys, KeySet, VerifyingKey};
use crate::token::Header;

/// One issuer's key stores (one per source; a store fetched from a URL
/// that another issuer names too is shared with it) and its secret.
pub(crate) struct IssuerKeys {
    /// Never empty: an issuer with a secret alone has one empty fixed
    /// store, so asymmetric tokens get "unknown key".
    stores: Box<[Arc<OpenKeyStore>]>,
    secret: Option<HmacKeys>,
}

/// The refetches one unknown `kid` asked of an issuer's fetched stores.
pub(crate) struct Tickets(Vec<(usize, Ticket)>);

impl IssuerKeys {
    pub fn new(stores: Vec<Arc<OpenKeyStore>>, secret: Option<HmacKeys>) -> Self {
        debug_assert!(!stores.is_empty());
        IssuerKeys {
            stores: stores.into(),
            secret,
        }
    }

    pub fn stores(&self) -> &[Arc<OpenKeyStore>] {
        &self.stores
    }

    pub fn has_secret(&self) -> bool {
        self.secret.is_some()
    }

    /// True when at least one store is fetched (an unknown `kid` may yet
    /// appear in it).
    pub fn is_remote(&self) -> bool {
        self.stores.iter().any(|s| s.is_remote())
    }

    /// Checks the signature over `signing_input` with this issuer's secret
    /// (HMAC `alg`) or the keys its stores hold for the header's `kid`,
    /// `x5t` and `alg`. Returns the key that verified (`None` for the
    /// secret, which no published key stands for).
    ///
    /// With several stores, each is asked in the order configured and the
    /// first key that verifies wins. When none does, the most telling
    /// refusal: a store without usable keys (503: the token may be fine),
    /// else a bad signature (a key was found), else the key matching, else
    /// "unknown key".
    #[inline]
    pub fn verify(
        &self,
        header: &Header<'_>,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<Option<Arc<VerifyingKey>>, Error> {
        if header.alg.is_hmac() {
            let secret = self.secret.as_ref().ok_or(Error::UnsupportedAlgorithm)?;
            secret.verify(header.alg, signing_input, signature)?;
            return Ok(None);
        }
        if let [store] = &*self.stores {
            let set = store.load()?;
            return verify_in(&set, header, signing_input, signature).map(Some);
        }
        let mut refusal = Error::UnknownKey;
        for store in self.stores.iter() {
            let error = match store.load() {
                Ok(set) => match verify_in(&set, header, signing_input, signature) {
                    Ok(key) => return Ok(Some(key)),
                    Err(error) => error,
                },
                Err(error) => error,
            };
            if rank(&error) > rank(&refusal) {
                refusal = error;
            }
        }
        Err(refusal)
    }

    /// True when the key with this fingerprint is still published by one
    /// of the stores, for a cached token; an error when it is not and some
    /// store has no usable keys (nothing can be said then).
    pub fn holds(&self, fingerprint: u64) -> Result<bool, Error> {
        if let [store] = &*self.stores {
            return Ok(store.load()?.holds(fingerprint));
        }
        let mut unavailable = None;
        for store in self.stores.iter() {
            match store.load() {
                Ok(set) if set.holds(fingerprint) => return Ok(true),
                Ok(_) => {}
                Err(error) => {
                    unavailable.get_or_insert(error);
                }
            }
        }
        unavailable.map_or(Ok(false), Err)
    }

    /// Asks every fetched store for a refetch for `kid` (each under its
    /// own single flight and cooldown); `None` when none will fetch.
    pub fn request_refetch(&self, kid: &str) -> Option<Tickets> {
        let tickets: Vec<_> = self
            .stores
            .iter()
            .enumerate()
            .filter_map(|(i, store)| store.request_refetch(kid).map(|t| (i, t)))
            .collect();
        (!tickets.is_empty()).then_some(Tickets(tickets))
    }

    /// Waits for the refetches `tickets` stand for (they run in the
    /// stores' refresh tasks at the same time; each wait is bounded).
    pub async fn wait_for(&self, kid: &str, tickets: Tickets) {
        for (index, ticket) in tickets.0 {
            self.stores[index].wait_for(kid, ticket).await;
        }
    }

    /// The first store's key set (what [`Validator::keys`] shows).
    ///
    /// [`Validator::keys`]: crate::Validator::keys
    pub fn snapshot(&self) -> Arc<KeySet> {
        self.stores[0].snapshot()
    }

    /// The least ready store's state, with the keys and fetches of all.
    pub fn health(&self) -> Health {
        let mut healths = self.stores.iter().map(|s| s.health());
        let first = healths.next().expect("an issuer has a key store");
        healths.fold(first, Health::merge)
    }
}

/// The first of `candidates` (usually the only one) whose signature
/// verifies.
#[inline]
fn verify_in(
    set: &KeySet,
    header: &Header<'_>,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<Arc<VerifyingKey>, Error> {
    let candidates: Candidates<'_> =
        set.select(header.kid.as_deref(), header.x5t.as_deref(), header.alg)?;
    for key in candidates {
        let verifier = key.verifier(header.alg).ok_or(Error::AlgorithmMismatch)?;
        if verifier.verify_sig(signing_input, signature).is_ok() {
            return Ok(key.clone());
        }
    }
    Err(Error::InvalidSignature)
}

/// How much a refusal from one of several stores says (see
/// [`IssuerKeys::verify`]).
fn rank(error: &Error) -> u8 {
    match error {
        Error::UnknownKey => 0,
        Error::KeysUnavailable { .. } => 3,
        Error::InvalidSignature => 2,
        _ => 1,
    }
}
