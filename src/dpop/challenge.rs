//! Challenges for refusals made after the layer ([`Require`](crate::Require),
//! [`StepUp`](crate::StepUp)) of a request the layer admitted with the
//! `DPoP` scheme, and the `DPoP-Nonce` of its other responses.
//!
//! RFC 9449 §7.1: a resource server answers a DPoP request with a `DPoP`
//! challenge, using the error codes of RFC 6750 §3.1
//! (`insufficient_scope`) and RFC 9470 §3
//! (`insufficient_user_authentication`). The layer knows the scheme; the
//! layers inside it only see the request, so the layer leaves a
//! [`DpopRequest`] marker in its extensions.

use std::sync::Arc;

use http::header::WWW_AUTHENTICATE;
use http::response::Parts;
use http::{Extensions, HeaderMap, HeaderValue};

use super::admit::{DPOP_NONCE, DpopState, Scheme, dpop_rejection_parts};
use crate::error::Error;
use crate::rejection::rejection_parts;

/// In the extensions of a request the layer admitted with the `DPoP`
/// scheme: the layer's settings, for `algs` and nonces.
#[derive(Clone)]
pub(crate) struct DpopRequest(pub(crate) Arc<DpopState>);

/// Status and headers for `error` refused after the layer: the Bearer
/// challenge of [`rejection_parts`] as today, or for a DPoP request the
/// same parameters under the `DPoP` scheme (see [`dpop_parts`]).
pub(crate) fn refusal_parts(error: &Error, realm: Option<&str>, extensions: &Extensions) -> Parts {
    match extensions.get::<DpopRequest>() {
        Some(DpopRequest(state)) => dpop_parts(error, realm, state),
        None => rejection_parts(error, realm),
    }
}

/// The DPoP challenge for an error of a DPoP request: `DPoP realm, algs`
/// as the layer's own refusals write them, then the error's parameters as
/// the Bearer challenge has them (`error`, `error_description`, and
/// `scope` or `acr_values` and `max_age`), plus a fresh `DPoP-Nonce` when
/// nonces are on. Only the `DPoP` challenge: the token is bound to a key,
/// so offering `Bearer` would invite a request that must fail.
///
/// An error without a challenge (a `500` for a misplaced layer) keeps
/// [`rejection_parts`].
fn dpop_parts(error: &Error, realm: Option<&str>, state: &DpopState) -> Parts {
    let mut parts = rejection_parts(error, realm);
    // The error's parameters without scheme and realm; every value in it
    // is already filtered to what a quoted-string may hold.
    let Some(bearer) = error.www_authenticate(None) else {
        return parts;
    };
    let params = bearer
        .to_str()
        .ok()
        .and_then(|challenge| challenge.split_once(' '))
        .map(|(_scheme, params)| params);
    // `realm`, `algs` and the nonce exactly as the layer's refusals have
    // them: from the layer's own bare DPoP challenge.
    let base = dpop_rejection_parts(&Error::MissingToken, realm, state, Scheme::Dpop);
    let Some(dpop) = dpop_challenge(&base.headers) else {
        return parts;
    };
    let value = match params {
        Some(params) => format!("{dpop}, {params}"),
        None => dpop.to_owned(),
    };
    let Ok(value) = HeaderValue::from_str(&value) else {
        return parts;
    };
    parts.headers.insert(WWW_AUTHENTICATE, value);
    if let Some(nonce) = base.headers.get(DPOP_NONCE) {
        parts.headers.insert(DPOP_NONCE, nonce.clone());
    }
    parts
}

fn dpop_challenge(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("DPoP"))
}

/// The `DPoP-Nonce` to send with a response of the inner service to a
/// DPoP request (RFC 9449 §8.2: a server may supply a new nonce in any
/// response), so a client switches before its nonce runs out instead of
/// after a `401 use_dpop_nonce`. `None` without nonces.
pub(crate) fn fresh_nonce(state: &DpopState) -> Option<HeaderValue> {
    let nonces = state.settings.nonces.as_ref()?;
    HeaderValue::from_str(&nonces.current(state.clock.now())).ok()
}

/// Adds [`fresh_nonce`] to `headers` unless the inner service set one.
pub(crate) fn add_nonce(headers: &mut HeaderMap, nonce: HeaderValue) {
    headers.entry(DPOP_NONCE).or_insert(nonce);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::dpop::{Dpop, Nonces};

    struct Fixed;
    impl Clock for Fixed {
        fn now(&self) -> i64 {
            1_000
        }
    }

    fn state(settings: Dpop) -> Arc<DpopState> {
        Arc::new(DpopState {
            settings,
            clock: Arc::new(Fixed),
        })
    }

    fn marked(state: &Arc<DpopState>) -> Extensions {
        let mut extensions = Extensions::new();
        extensions.insert(DpopRequest(state.clone()));
        extensions
    }

    fn challenges(parts: &Parts) -> Vec<&str> {
        parts
            .headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn a_dpop_request_gets_the_dpop_scheme_with_the_same_parameters() {
        let state = state(Dpop::allowed().algs([crate::Algorithm::ES256]));
        let error = Error::InsufficientScope {
            required: "scope a".into(),
            scope: Some("a".into()),
        };
        let parts = refusal_parts(&error, Some("orders"), &marked(&state));
        assert_eq!(parts.status, 403);
        assert_eq!(
            challenges(&parts),
            [
                r#"DPoP realm="orders", algs="ES256", error="insufficient_scope", error_description="insufficient scope: scope a required", scope="a""#
            ]
        );
        assert!(parts.headers.get(DPOP_NONCE).is_none());
        // Without the marker: the Bearer challenge, as it always was.
        let parts = refusal_parts(&error, Some("orders"), &Extensions::new());
        assert_eq!(
            challenges(&parts),
            [error.www_authenticate(Some("orders")).unwrap()]
        );
    }

    #[test]
    fn step_up_attributes_nonces_and_errors_without_a_challenge() {
        let state = state(
            Dpop::required()
                .algs([crate::Algorithm::EdDSA])
                .nonces(Nonces::new()),
        );
        let error = Error::InsufficientUserAuthentication {
            required: "no auth_time (max_age 60 s)".into(),
            acr_values: Some("mfa".into()),
            max_age: Some(60),
        };
        let parts = refusal_parts(&error, None, &marked(&state));
        assert_eq!(parts.status, 401);
        assert_eq!(
            challenges(&parts),
            [
                r#"DPoP algs="EdDSA", error="insufficient_user_authentication", error_description="insufficient user authentication: no auth_time (max_age 60 s)", acr_values="mfa", max_age="60""#
            ]
        );
        let nonce = parts.headers[DPOP_NONCE].to_str().unwrap();
        assert_eq!(
            nonce,
            state.settings.nonces.as_ref().unwrap().current(1_000)
        );
        assert_eq!(fresh_nonce(&state).unwrap(), nonce);
        // A misplaced layer's 500 has no challenge, DPoP or not.
        let parts = refusal_parts(&Error::Config("x".into()), None, &marked(&state));
        assert_eq!(parts.status, 500);
        assert!(challenges(&parts).is_empty());
    }
}
