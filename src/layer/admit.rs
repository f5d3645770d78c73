//! From a request to a decision, one path for every layer: the
//! credentials (any scheme the layer accepts), the token, and, for a layer
//! with DPoP settings, the proof, the binding and the replay check. A
//! layer without `.dpop()` takes the same path with no DPoP settings.
//! It decides and never answers: no response, no header, no counting.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::{HeaderMap, Method, Uri};
use serde::de::DeserializeOwned;

use crate::claims::Claims;
use crate::context::{self, Edge};
use crate::credentials::{Credentials, Scheme};
use crate::dpop::{self, Dpop, DpopMode, Replay};
use crate::error::{Error, Origin};
use crate::validator::{Outcome, UnknownKid, Verdict};

/// A decision that waits: for a key refetch, or a networked replay store.
/// The one boxed future of the layer, on its rare path.
pub(crate) type Pending<C> = Pin<Box<dyn Future<Output = Result<(Claims<C>, How), Error>> + Send>>;

/// How a verified token came in, for the request context.
pub(crate) type How = context::Admission;

/// What the layer does with a request; `Scheme`: how the token was
/// presented.
pub(crate) enum Admission<C> {
    Verified(Claims<C>, How),
    /// No credentials at all.
    Anonymous,
    Rejected(Error, Scheme),
    Pending(Pending<C>, Scheme),
}

fn how(scheme: Scheme, source: usize, verdict: Verdict) -> How {
    How::Token {
        scheme,
        source,
        issuer: verdict.issuer,
    }
}

/// Decides on a request's credentials.
#[inline]
pub(crate) fn admit<C: DeserializeOwned + Send + Sync + 'static>(
    edge: &Edge,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Admission<C> {
    let dpop = edge.dpop.as_deref();
    let accepts_dpop = dpop.is_some_and(|dpop| dpop.mode != DpopMode::BearerOnly);
    let max_len = edge.validator.max_token_len();
    let credentials = match edge.sources.read(headers, uri, max_len, accepts_dpop) {
        Ok(Some(credentials)) => credentials,
        Ok(None) => return Admission::Anonymous,
        Err((error, scheme)) => return refused(error, scheme),
    };
    match (credentials.scheme, &edge.dpop) {
        (Scheme::Dpop, Some(dpop)) => with_proof(edge, dpop, credentials, method, uri, headers),
        _ => as_bearer(edge, dpop, credentials),
    }
}

/// A refusal the validator did not make: the request's, the proof's,
/// the binding's (the layer counts these, by their origin).
fn refused<C>(error: Error, scheme: Scheme) -> Admission<C> {
    debug_assert!(
        matches!(error.origin(), Origin::Request | Origin::Proof),
        "{error:?} would not be counted"
    );
    Admission::Rejected(error, scheme)
}

/// A token presented as a bearer token: accepted, unless the layer has
/// DPoP settings and the token is bound (or DPoP is required).
#[inline]
fn as_bearer<C: DeserializeOwned + Send + Sync + 'static>(
    edge: &Edge,
    dpop: Option<&Dpop>,
    credentials: Credentials<'_>,
) -> Admission<C> {
    let Credentials { token, source, .. } = credentials;
    if dpop.is_some_and(|dpop| dpop.mode == DpopMode::DpopRequired) {
        return refused(Error::DpopRequired, Scheme::Bearer);
    }
    // Without DPoP settings the layer does not look at a binding.
    let checks_binding = dpop.is_some();
    let validator = &edge.validator;
    match validator.check_bound::<C>(&token, UnknownKid::Wait) {
        (Outcome::Verified(claims), verdict) => {
            match checks_binding.then(|| dpop::as_bearer(verdict.binding)) {
                Some(Err(error)) => refused(error, Scheme::Bearer),
                _ => Admission::Verified(claims, how(Scheme::Bearer, source, verdict)),
            }
        }
        (Outcome::Rejected(error), _) => Admission::Rejected(error, Scheme::Bearer),
        (Outcome::WaitForKeys(wait), _) => {
            let (validator, token) = (validator.clone(), Cow::into_owned(token));
            let pending = async move {
                let (claims, verdict) = validator.verify_after_bound::<C>(&token, wait).await?;
                if checks_binding {
                    dpop::as_bearer(verdict.binding)?;
                }
                Ok((claims, how(Scheme::Bearer, source, verdict)))
            };
            Admission::Pending(Box::pin(pending), Scheme::Bearer)
        }
    }
}

/// A token presented with the `DPoP` scheme: the proof first (cheap
/// refusals before the token's signature), then the token, the binding
/// and the replay check (`dpop::bind`).
fn with_proof<C: DeserializeOwned + Send + Sync + 'static>(
    edge: &Edge,
    dpop: &Arc<Dpop>,
    credentials: Credentials<'_>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Admission<C> {
    let Credentials { token, source, .. } = credentials;
    let reject = |error| refused(error, Scheme::Dpop);
    let validator = &edge.validator;
    let now = validator.now();
    let checked = match dpop::check_proof(dpop, method, uri, headers, &token, now) {
        Ok(checked) => checked,
        Err(error) => return reject(error),
    };
    match validator.check_bound::<C>(&token, UnknownKid::Wait) {
        (Outcome::Verified(claims), verdict) => {
            let how = how(Scheme::Dpop, source, verdict);
            match dpop::bind(dpop, verdict.binding, checked, now) {
                Replay::Ready(Ok(())) => Admission::Verified(claims, how),
                Replay::Ready(Err(error)) => reject(error),
                Replay::Pending(replay) => {
                    let pending = async move {
                        replay.await?;
                        Ok((claims, how))
                    };
                    Admission::Pending(Box::pin(pending), Scheme::Dpop)
                }
            }
        }
        (Outcome::Rejected(error), _) => Admission::Rejected(error, Scheme::Dpop),
        (Outcome::WaitForKeys(wait), _) => {
            let (validator, token) = (validator.clone(), Cow::into_owned(token));
            let dpop = dpop.clone();
            let pending = async move {
                let (claims, verdict) = validator.verify_after_bound::<C>(&token, wait).await?;
                match dpop::bind(&dpop, verdict.binding, checked, now) {
                    Replay::Ready(result) => result?,
                    Replay::Pending(replay) => replay.await?,
                }
                Ok((claims, how(Scheme::Dpop, source, verdict)))
            };
            Admission::Pending(Box::pin(pending), Scheme::Dpop)
        }
    }
}
