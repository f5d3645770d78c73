//! The challenges of a layer with DPoP settings: its own refusals (every
//! accepted scheme, `algs`, a fresh nonce), the refusals made after it
//! ([`Require`](crate::Require), [`StepUp`](crate::StepUp)) of requests
//! it let through, and the `DPoP-Nonce` of its other responses.
//!
//! RFC 9449 §7.1: a resource server answers a DPoP request with a `DPoP`
//! challenge, using the error codes of RFC 6750 §3.1
//! (`insufficient_scope`) and RFC 9470 §3
//! (`insufficient_user_authentication`). The layer knows the scheme; the
//! layers inside it only see the request, so the layer leaves a
//! [`DpopRequest`] marker in its extensions.

use std::sync::Arc;

use http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use http::response::Parts;
use http::{Extensions, HeaderMap, HeaderValue};

use super::admit::{DPOP_NONCE, DpopState, Scheme};
use super::{Dpop, DpopMode};
use crate::error::{Error, ErrorKind, push_realm};
use crate::rejection::rejection_parts;

/// In the extensions of a request a layer with DPoP settings let through
/// with the `DPoP` scheme, or with no credentials at all (`allow_anonymous`):
/// the layer's settings, for `algs` and nonces.
#[derive(Clone)]
pub(crate) struct DpopRequest {
    pub(crate) state: Arc<DpopState>,
    /// `None`: an anonymous request.
    pub(crate) scheme: Option<Scheme>,
}

/// Status and headers for a refusal by a layer with DPoP settings: the
/// challenges of every accepted scheme (one `WWW-Authenticate` field
/// each), the error on the scheme the request used, `algs` on the DPoP
/// one, a fresh `DPoP-Nonce` when nonces are on, `Retry-After` on a 503.
pub(crate) fn dpop_rejection_parts(
    error: &Error,
    realm: Option<&str>,
    state: &DpopState,
    scheme: Scheme,
) -> Parts {
    let settings = &state.settings;
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = error.status();
    let dpop_error = matches!(
        error.kind(),
        ErrorKind::InvalidDpopProof | ErrorKind::UseDpopNonce
    ) || matches!(error, Error::TokenNotDpopBound | Error::DpopRequired);
    let on_dpop = dpop_error || scheme == Scheme::Dpop;
    let described = !matches!(
        error.kind(),
        ErrorKind::MissingToken | ErrorKind::Unavailable
    );
    let bearer = settings.mode != DpopMode::DpopRequired;
    let dpop = settings.mode != DpopMode::BearerOnly;
    if bearer {
        let challenge = match (described && !(on_dpop && dpop), realm) {
            (true, _) => error.www_authenticate(realm),
            (false, realm) => Error::MissingToken.www_authenticate(realm),
        };
        if let Some(challenge) = challenge {
            parts.headers.append(WWW_AUTHENTICATE, challenge);
        }
    }
    if dpop {
        let mut value = dpop_challenge_head(realm, settings);
        if described
            && (on_dpop || !bearer)
            && let Some(params) = error.challenge_params()
        {
            value.push_str(", ");
            value.push_str(&params);
        }
        if let Ok(challenge) = HeaderValue::from_str(&value) {
            parts.headers.append(WWW_AUTHENTICATE, challenge);
        }
        if let Some(nonce) = fresh_nonce(state) {
            parts.headers.insert(DPOP_NONCE, nonce);
        }
    }
    if let Some(seconds) = error.retry_after_secs() {
        parts
            .headers
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    parts
}

/// `DPoP realm="…", algs="…"`: what every DPoP challenge of the layer
/// starts with.
fn dpop_challenge_head(realm: Option<&str>, settings: &Dpop) -> String {
    let mut value = String::from("DPoP");
    let mut sep = " ";
    if let Some(realm) = realm {
        push_realm(&mut value, sep, realm);
        sep = ", ";
    }
    value.push_str(sep);
    value.push_str("algs=\"");
    value.push_str(&settings.algs_value());
    value.push('"');
    value
}

/// Status and headers for `error` refused after the layer: the Bearer
/// challenge of [`rejection_parts`] as always; for a DPoP request, the
/// `DPoP` challenge alone with the same parameters (the token is bound to
/// a key, so offering `Bearer` would invite a request that must fail) and
/// a fresh `DPoP-Nonce` when nonces are on; for an anonymous request to a
/// DPoP layer, the challenges that layer sends for no credentials.
///
/// An error without a challenge (a `500` for a misplaced layer) keeps
/// [`rejection_parts`].
pub(crate) fn refusal_parts(error: &Error, realm: Option<&str>, extensions: &Extensions) -> Parts {
    let Some(marker) = extensions.get::<DpopRequest>() else {
        return rejection_parts(error, realm);
    };
    let state = &marker.state;
    let Some(params) = error.challenge_params() else {
        return rejection_parts(error, realm);
    };
    match marker.scheme {
        None => dpop_rejection_parts(error, realm, state, Scheme::Bearer),
        Some(_) => {
            let mut parts = rejection_parts(error, realm);
            let mut value = dpop_challenge_head(realm, &state.settings);
            if !params.is_empty() {
                value.push_str(", ");
                value.push_str(&params);
            }
            parts.headers.remove(WWW_AUTHENTICATE);
            if let Ok(value) = HeaderValue::from_str(&value) {
                parts.headers.insert(WWW_AUTHENTICATE, value);
            }
            if let Some(nonce) = fresh_nonce(state) {
                parts.headers.insert(DPOP_NONCE, nonce);
            }
            parts
        }
    }
}

/// The `DPoP-Nonce` to send with a response to a DPoP request (RFC 9449
/// §8.2: a server may supply a new nonce in any response), so a client
/// switches before its nonce runs out instead of after a `401
/// use_dpop_nonce`. `None` without nonces.
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
        extensions.insert(DpopRequest {
            state: state.clone(),
            scheme: Some(Scheme::Dpop),
        });
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
