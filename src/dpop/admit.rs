//! From a request to a decision, for a layer with DPoP settings: which
//! scheme the token came with, the proof, the token, the binding, the
//! replay check. (The challenges of a refusal: `challenge`.)

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, Method, Uri};
use serde::de::DeserializeOwned;

use super::Dpop;
use super::DpopMode;
use super::proof::{self, CheckedProof, Target};
use super::replay::{Seen, StoreFuture};
use crate::bearer::token68_str;
use crate::claims::{Binding, Claims};
use crate::clock::Clock;
use crate::error::Error;
use crate::token_source::Sources;
use crate::validator::{Outcome, UnknownKid, Validator};

/// The `DPoP` request header (RFC 9449 §4.1).
pub(crate) const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The `DPoP-Nonce` response header (RFC 9449 §8.1).
pub(crate) const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// A layer's DPoP settings and the validator's clock.
pub(crate) struct DpopState {
    pub settings: Dpop,
    pub clock: Arc<dyn Clock>,
}

/// The scheme a request presented its token with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Bearer,
    Dpop,
}

/// A verification that waits: for a key refetch, or a network replay store.
pub(crate) type Pending<C> = Pin<Box<dyn Future<Output = Result<Claims<C>, Error>> + Send>>;

/// What the layer does with a request.
pub(crate) enum Admission<C> {
    /// Verified, presented with this scheme.
    Verified(Claims<C>, Scheme),
    /// No credentials at all.
    Anonymous,
    Rejected(Error, Scheme),
    Pending(Pending<C>, Scheme),
}

/// Decides on a request's credentials.
pub(crate) fn admit<C: DeserializeOwned + Send + Sync + 'static>(
    state: &Arc<DpopState>,
    validator: &Validator,
    sources: &Sources,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Admission<C> {
    let settings = &state.settings;
    let max_len = validator.max_token_len();
    let dpop_token = match settings.mode {
        DpopMode::BearerOnly => Ok(None),
        _ => dpop_token(headers, max_len),
    };
    let dpop_token = match dpop_token {
        Ok(token) => token,
        Err(error) => return Admission::Rejected(error, Scheme::Dpop),
    };
    // Every configured source is read even then: a token sent two ways is
    // a malformed request (RFC 6750 §2).
    let other = match sources.token(headers, uri, max_len) {
        Ok(token) => token,
        Err(error) => return Admission::Rejected(error, Scheme::Bearer),
    };
    match (dpop_token, other) {
        (Some(_), Some(_)) => Admission::Rejected(
            Error::InvalidRequest(
                "malformed request: the token was sent by more than one method (RFC 6750 section 2 \
                 allows one)",
            ),
            Scheme::Dpop,
        ),
        (Some(token), None) => with_proof(state, validator, token, method, uri, headers),
        (None, Some(token)) => as_bearer(state, validator, token),
        (None, None) => Admission::Anonymous,
    }
}

/// A token presented as a bearer token: accepted unless it is bound.
fn as_bearer<C: DeserializeOwned + Send + Sync + 'static>(
    state: &Arc<DpopState>,
    validator: &Validator,
    token: Cow<'_, str>,
) -> Admission<C> {
    if state.settings.mode == DpopMode::DpopRequired {
        return Admission::Rejected(Error::DpopRequired, Scheme::Bearer);
    }
    match validator.check_bound::<C>(&token, UnknownKid::Wait) {
        (Outcome::Verified(claims), binding) => match unbound(binding, claims) {
            Ok(claims) => Admission::Verified(claims, Scheme::Bearer),
            Err(error) => Admission::Rejected(error, Scheme::Bearer),
        },
        (Outcome::Rejected(error), _) => Admission::Rejected(error, Scheme::Bearer),
        (Outcome::WaitForKeys(wait), _) => {
            let (validator, token) = (validator.clone(), token.into_owned());
            let pending = async move {
                let (claims, binding) = validator.verify_after_bound::<C>(&token, wait).await?;
                unbound(binding, claims)
            };
            Admission::Pending(Box::pin(pending), Scheme::Bearer)
        }
    }
}

/// RFC 9449 §7.1: a bound token is never a bearer token; nor is one bound
/// by a method this layer cannot check (RFC 8705's certificate
/// thumbprint), or its binding would be dropped.
fn unbound<C>(binding: Binding, claims: Claims<C>) -> Result<Claims<C>, Error> {
    match binding {
        Binding::Key(_) => Err(Error::DpopBoundToken),
        Binding::Other => Err(Error::UnsupportedConfirmation),
        Binding::Unbound => Ok(claims),
    }
}

/// A token presented with the `DPoP` scheme: the proof first (cheap
/// refusals before the token's signature), then the token, the binding,
/// and the replay check last, so only proofs that pass everything else
/// take a place in the store.
fn with_proof<C: DeserializeOwned + Send + Sync + 'static>(
    state: &Arc<DpopState>,
    validator: &Validator,
    token: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Admission<C> {
    let reject = |error| Admission::Rejected(error, Scheme::Dpop);
    // 1. Exactly one `DPoP` header.
    let mut proofs = headers.get_all(DPOP).iter();
    let (Some(proof), None) = (proofs.next(), proofs.next()) else {
        return reject(Error::InvalidDpopProof(
            "exactly one DPoP header must carry the proof",
        ));
    };
    let Ok(proof) = proof.to_str() else {
        return reject(Error::InvalidDpopProof("the proof is not a compact JWS"));
    };
    let htu = match state.settings.origin.request_uri(uri, headers) {
        Ok(htu) => htu,
        Err(reason) => return reject(Error::InvalidDpopProof(reason)),
    };
    let now = state.clock.now();
    let target = Target {
        method: method.as_str(),
        htu: &htu,
        access_token: token,
    };
    let checked = match proof::check(proof, &target, &state.settings, now) {
        Ok(checked) => checked,
        Err(error) => {
            // The reason and the URI `htu` was compared with (the API's
            // own, normalised): never the proof or the token.
            tracing::debug!(reason = %error, request_uri = %htu, "DPoP proof rejected");
            return reject(error);
        }
    };
    match validator.check_bound::<C>(token, UnknownKid::Wait) {
        (Outcome::Verified(claims), binding) => bound(state, binding, checked, claims, now),
        (Outcome::Rejected(error), _) => reject(error),
        (Outcome::WaitForKeys(wait), _) => {
            let (validator, token, state) = (validator.clone(), token.to_owned(), state.clone());
            let pending = async move {
                let (claims, binding) = validator.verify_after_bound::<C>(&token, wait).await?;
                match bound(&state, binding, checked, claims, now) {
                    Admission::Verified(claims, _) => Ok(claims),
                    Admission::Rejected(error, _) => Err(error),
                    Admission::Pending(pending, _) => pending.await,
                    Admission::Anonymous => Err(Error::MissingToken),
                }
            };
            Admission::Pending(Box::pin(pending), Scheme::Dpop)
        }
    }
}

/// RFC 9449 §4.3 check 12 (the token's `cnf.jkt` is the proof key's
/// thumbprint), then the `jti` replay check.
fn bound<C: Send + Sync + 'static>(
    state: &Arc<DpopState>,
    binding: Binding,
    checked: CheckedProof,
    claims: Claims<C>,
    now: i64,
) -> Admission<C> {
    let reject = |error: Error| {
        tracing::debug!(reason = %error, "DPoP proof rejected");
        Admission::Rejected(error, Scheme::Dpop)
    };
    match binding {
        binding if binding.is(&checked.jkt) => {}
        Binding::Key(_) => {
            return reject(Error::InvalidDpopProof(
                "the proof key is not the key the token is bound to",
            ));
        }
        Binding::Unbound => return reject(Error::TokenNotDpopBound),
        Binding::Other => return reject(Error::UnsupportedConfirmation),
    }
    let settings = &state.settings;
    let id = checked.id;
    let fail_open = settings.fail_open;
    match settings
        .store
        .check_and_insert(id, now, settings.replay_ttl())
    {
        StoreFuture::Ready(seen) => match replay_decision(seen, fail_open) {
            Ok(()) => Admission::Verified(claims, Scheme::Dpop),
            Err(error) => reject(error),
        },
        StoreFuture::Pending(seen) => {
            let pending = async move {
                replay_decision(seen.await, fail_open)?;
                Ok(claims)
            };
            Admission::Pending(Box::pin(pending), Scheme::Dpop)
        }
    }
}

fn replay_decision(seen: Result<Seen, super::StoreError>, fail_open: bool) -> Result<(), Error> {
    match seen {
        Ok(Seen::First) => Ok(()),
        Ok(Seen::Again) => Err(Error::InvalidDpopProof(
            "the proof was used before (its jti was seen)",
        )),
        Err(error) if fail_open => {
            tracing::warn!(%error, "DPoP replay check skipped: the replay store failed");
            Ok(())
        }
        Err(error) => {
            tracing::warn!(%error, "DPoP proof refused: the replay store failed");
            Err(Error::ReplayStoreUnavailable {
                reason: error.to_string(),
            })
        }
    }
}

/// The token of `Authorization: DPoP <token68>` (RFC 9449 §7.1), `None`
/// for another scheme.
fn dpop_token(headers: &HeaderMap, max_len: usize) -> Result<Option<&str>, Error> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        // None, or several: the bearer source says which.
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if bytes.eq_ignore_ascii_case(b"dpop") {
        return Err(Error::InvalidRequest(
            "malformed Authorization header: DPoP scheme without a token",
        ));
    }
    let Some((scheme, rest)) = bytes.split_at_checked(5) else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case(b"dpop ") {
        if scheme.eq_ignore_ascii_case(b"dpop\t") {
            return Err(Error::InvalidRequest(
                "malformed Authorization header: the DPoP scheme and its token must be separated by a \
                 space, not a tab",
            ));
        }
        return Ok(None);
    }
    let token = rest.trim_ascii();
    if token.len() > max_len {
        return Err(Error::TokenTooLarge);
    }
    if token.is_empty() {
        return Err(Error::InvalidRequest(
            "malformed Authorization header: DPoP scheme without a token",
        ));
    }
    token68_str(token).map(Some).ok_or(Error::InvalidRequest(
        "malformed Authorization header: DPoP token is not token68",
    ))
}
