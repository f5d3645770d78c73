//! The DPoP checks of one request around its token's verification (RFC
//! 9449 §4.3, §7.1): the proof before the token (cheap refusals before a
//! signature), then the binding of the verified token to the proof's key,
//! then the replay check last, so only proofs that pass everything else
//! take a place in the store.
//!
//! No validator and no token sources here: the bearer layer's admission
//! reads the credentials, verifies the token and calls these in order.

use std::future::Future;

use http::{HeaderMap, HeaderName, Method, Uri};

use super::Dpop;
use super::proof::{self, CheckedProof, Target};
use super::replay::{Seen, StoreError, StoreFuture};
use crate::claims::Binding;
use crate::error::Error;

/// The `DPoP` request header (RFC 9449 §4.1).
pub(crate) const DPOP: HeaderName = HeaderName::from_static("dpop");

/// RFC 9449 §4.3 checks 1 to 11 on the request's one `DPoP` header, for
/// `token` sent to `method` `uri`.
pub(crate) fn check_proof(
    dpop: &Dpop,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    token: &str,
    now: i64,
) -> Result<CheckedProof, Error> {
    // 1. Exactly one `DPoP` header.
    let mut proofs = headers.get_all(DPOP).iter();
    let (Some(proof), None) = (proofs.next(), proofs.next()) else {
        return Err(Error::InvalidDpopProof(
            "exactly one DPoP header must carry the proof",
        ));
    };
    let Ok(proof) = proof.to_str() else {
        return Err(Error::InvalidDpopProof("the proof is not a compact JWS"));
    };
    let htu = dpop
        .origin
        .request_uri(uri, headers)
        .map_err(Error::InvalidDpopProof)?;
    let target = Target {
        method: method.as_str(),
        htu: &htu,
        access_token: token,
    };
    proof::check(proof, &target, dpop, now).inspect_err(|error| {
        // The reason and the URI `htu` was compared with (the API's own,
        // normalised): never the proof or the token.
        tracing::debug!(reason = %error, request_uri = %htu, "DPoP proof rejected");
    })
}

/// RFC 9449 §7.1: a bound token is never a bearer token; nor is one bound
/// by a method a layer with DPoP settings cannot check (RFC 8705's
/// certificate thumbprint), or its binding would be dropped.
pub(crate) fn as_bearer(binding: Binding) -> Result<(), Error> {
    match binding {
        Binding::Key(_) => Err(Error::DpopBoundToken),
        Binding::Other => Err(Error::UnsupportedConfirmation),
        Binding::Unbound => Ok(()),
    }
}

/// The replay check, ready or waiting for a networked store.
pub(crate) enum Replay {
    Ready(Result<(), Error>),
    Pending(std::pin::Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>),
}

/// RFC 9449 §4.3 check 12 (the token's `cnf.jkt` is the proof key's
/// thumbprint), then the `jti` replay check.
pub(crate) fn bind(dpop: &Dpop, binding: Binding, checked: CheckedProof, now: i64) -> Replay {
    let refuse = |error: Error| {
        tracing::debug!(reason = %error, "DPoP proof rejected");
        Replay::Ready(Err(error))
    };
    match binding {
        binding if binding.is(&checked.jkt) => {}
        Binding::Key(_) => {
            return refuse(Error::InvalidDpopProof(
                "the proof key is not the key the token is bound to",
            ));
        }
        Binding::Unbound => return refuse(Error::TokenNotDpopBound),
        Binding::Other => return refuse(Error::UnsupportedConfirmation),
    }
    let fail_open = dpop.fail_open;
    match dpop
        .store
        .check_and_insert(checked.id, now, dpop.replay_ttl())
    {
        StoreFuture::Ready(seen) => match replay_decision(seen, fail_open) {
            Ok(()) => Replay::Ready(Ok(())),
            Err(error) => refuse(error),
        },
        StoreFuture::Pending(seen) => {
            Replay::Pending(Box::pin(
                async move { replay_decision(seen.await, fail_open) },
            ))
        }
    }
}

fn replay_decision(seen: Result<Seen, StoreError>, fail_open: bool) -> Result<(), Error> {
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
