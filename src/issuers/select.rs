//! Which trusted issuer a token belongs to, chosen by its unverified
//! `iss` before the signature is checked: the choice only decides whose
//! keys, audiences and rules apply, and every one of them is then checked
//! on the verified token.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

use super::hints::{IssuerHints, KindCheck, Refusal, RefusedToken};
use super::issuer::Rule;
use crate::claims::{ClaimChecks, GrantIssuer, GrantKinds};
use crate::error::Error;
use crate::jwks::OpenKeyStore;

use super::keys::IssuerKeys;

/// One trusted issuer as the pipeline uses it.
pub(crate) struct IssuerEntry {
    pub claims: ClaimChecks,
    /// This issuer's key stores and secret (a store fetched from a URL is
    /// shared by every issuer naming that URL).
    pub keys: IssuerKeys,
    pub required_typ: Option<Box<str>>,
    pub required_claims: Box<[Box<str>]>,
    pub rules: Box<[Rule]>,
    /// Resolved from the hints at `build()`, so a valid token pays one
    /// plain call, and only when its provider asked for it.
    pub kind_check: Option<KindCheck>,
    /// Asked on refusals only.
    pub hints: Option<Arc<dyn IssuerHints>>,
    /// The issuer as configured (the exact `iss` or the template), its
    /// label and the kinds of grant its tokens carry, for requirements.
    pub name: Box<str>,
    pub label: Option<Box<str>>,
    pub grants: GrantKinds,
}

impl IssuerEntry {
    /// This issuer as requirements see it.
    #[inline]
    pub fn grant_issuer(&self) -> GrantIssuer<'_> {
        GrantIssuer {
            name: &self.name,
            label: self.label.as_deref(),
            kinds: self.grants,
        }
    }

    /// The error the issuer's hints answer instead of the core's for this
    /// refusal, if they know the token for what it is.
    #[cold]
    pub fn explain(&self, refusal: Refusal, header_nonce: bool, claims: &[u8]) -> Option<Error> {
        let token = RefusedToken::new(header_nonce, claims);
        self.hints.as_ref()?.explain(refusal, &token)
    }
}

/// The trusted issuers and how to find one by `iss` in constant time.
pub(crate) struct IssuerTable {
    entries: Box<[IssuerEntry]>,
    /// Exact issuers by name.
    exact: HashMap<Box<str>, usize>,
    /// Templated (multi-tenant) issuers, tried in order after `exact`.
    templates: Box<[usize]>,
    /// Some issuer has a shared secret: without one, HMAC tokens are
    /// refused before their claims are read.
    any_secret: bool,
}

/// The members selection reads from the unverified claims.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow)]
    iss: Option<Cow<'a, str>>,
    #[serde(borrow)]
    tid: Option<Cow<'a, str>>,
}

impl IssuerTable {
    /// `entries` must be non-empty, with distinct issuers (the builder
    /// sees to both).
    pub fn new(entries: Vec<IssuerEntry>) -> Self {
        let mut exact = HashMap::new();
        let mut templates = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            match &entry.claims.issuer {
                crate::claims::IssuerName::Exact(name) => {
                    exact.insert(name.clone(), index);
                }
                crate::claims::IssuerName::Template { .. } => templates.push(index),
            }
        }
        IssuerTable {
            any_secret: entries.iter().any(|e| e.keys.has_secret()),
            entries: entries.into(),
            exact,
            templates: templates.into(),
        }
    }

    /// The first configured issuer.
    pub fn first(&self) -> &IssuerEntry {
        &self.entries[0]
    }

    pub fn get(&self, index: usize) -> &IssuerEntry {
        &self.entries[index]
    }

    pub fn iter(&self) -> impl Iterator<Item = &IssuerEntry> {
        self.entries.iter()
    }

    /// Every key store once, even when issuers share it.
    pub fn stores(&self) -> Vec<&Arc<OpenKeyStore>> {
        let mut stores: Vec<&Arc<OpenKeyStore>> = Vec::new();
        for store in self.entries.iter().flat_map(|e| e.keys.stores()) {
            if !stores.iter().any(|s| Arc::ptr_eq(s, store)) {
                stores.push(store);
            }
        }
        stores
    }

    /// True when some issuer has a shared secret.
    #[inline]
    pub fn any_secret(&self) -> bool {
        self.any_secret
    }

    /// One exact issuer: its `iss` is checked after the signature, as
    /// always, and selection has nothing to read.
    fn is_single(&self) -> bool {
        self.entries.len() == 1 && self.templates.is_empty()
    }

    /// The issuer whose rules apply to a token with these claims
    /// (`payload`, not yet verified). `header_nonce`: the header carries a
    /// `nonce` member, a fact for the hints. Refuses a token naming no trusted issuer,
    /// and a multi-tenant token of a tenant that is not allowed, before any
    /// key is looked up. A template selects only by its full rule (filled
    /// with the token's own `tid`, a GUID, it equals `iss`): an `iss` that
    /// merely has its shape (`…/common/v2.0`, `…/{tenantid}/v2.0`, a `tid`
    /// that disagrees, a doubled slash) names no trusted issuer, so it
    /// costs no key lookup and no fetch.
    #[inline]
    pub fn select(&self, payload: &[u8], header_nonce: bool) -> Result<usize, Error> {
        if self.is_single() {
            return Ok(0);
        }
        let peek: Peek<'_> = serde_json::from_slice(payload)
            .map_err(|_| Error::InvalidClaim(crate::claims::wrong_type_claim(payload)))?;
        let iss = peek
            .iss
            .as_deref()
            .ok_or_else(|| Error::MissingClaim("iss".into()))?;
        if let Some(&index) = self.exact.get(iss) {
            return Ok(index);
        }
        for &index in self.templates.iter() {
            let claims = &self.entries[index].claims;
            if claims.issuer.matches(iss, peek.tid.as_deref()) {
                claims.check_tenant(peek.tid.as_deref())?;
                return Ok(index);
            }
        }
        if peek.tid.is_none()
            && self
                .templates
                .iter()
                .any(|&i| self.entries[i].claims.issuer.has_shape_of(iss))
        {
            return Err(Error::MissingClaim("tid".into()));
        }
        Err(self.unknown_issuer(payload, header_nonce))
    }

    /// For a single issuer, whose `iss` selection skipped: refuses a token
    /// that does not name it, asked only before fetching keys for an
    /// unknown `kid`, so a token of another issuer never causes a fetch.
    #[cold]
    pub fn check_named(
        &self,
        index: usize,
        payload: &[u8],
        header_nonce: bool,
    ) -> Result<(), Error> {
        let named = serde_json::from_slice::<Peek<'_>>(payload)
            .ok()
            .is_some_and(|peek| {
                peek.iss.as_deref().is_some_and(|iss| {
                    (self.entries[index].claims.issuer).matches(iss, peek.tid.as_deref())
                })
            });
        match named {
            true => Ok(()),
            false => Err(self.unknown_issuer(payload, header_nonce)),
        }
    }

    /// No trusted issuer: the first issuer whose hints know the token for
    /// what it is says so (it may be of an issuer the API never trusts).
    #[cold]
    fn unknown_issuer(&self, payload: &[u8], header_nonce: bool) -> Error {
        self.entries
            .iter()
            .find_map(|entry| entry.explain(Refusal::UnknownIssuer, header_nonce, payload))
            .unwrap_or(Error::InvalidIssuer)
    }
}
