//! Every refusal's status and headers, built here and nowhere else: the
//! `WWW-Authenticate` challenges (RFC 9110 §11.6.1) of the `Bearer`
//! (RFC 6750 §3) and `DPoP` (RFC 9449 §7.1) schemes, with `error`,
//! `error_description`, `scope`, RFC 9470's `acr_values` and `max_age`,
//! `algs`, RFC 9728's `resource_metadata` and the realm; `Retry-After`
//! (RFC 9110 §10.2.3) and `DPoP-Nonce` (RFC 9449 §8.1).
//!
//! A challenge is a scheme and a list of parameters, serialised once
//! ([`Challenge::to_header`]); no code edits a finished header string.
//! Which challenges a refusal carries depends on where it is made
//! ([`Presented`]) and on the layer's DPoP settings. This module decides
//! nothing about tokens; it only says how a decision is answered.

use http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use http::response::Parts;
use http::{HeaderName, HeaderValue, Response};

use crate::credentials::Scheme;
use crate::dpop::{Dpop, DpopMode};
use crate::error::{Error, ErrorKind, rfc6750_chars};

/// The `DPoP-Nonce` response header (RFC 9449 §8.1).
pub(crate) const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// One challenge: a scheme and its auth-params, in the order sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    scheme: Scheme,
    params: Vec<(&'static str, String)>,
}

impl Challenge {
    fn new(scheme: Scheme) -> Self {
        Challenge {
            scheme,
            params: Vec::new(),
        }
    }

    /// Adds `name="value"`. Values are quoted-strings holding only what
    /// RFC 6750 §3 allows in its attributes (`%x20-21 / %x23-5B /
    /// %x5D-7E`): a quote, a backslash, a control character or anything
    /// outside ASCII is dropped, never escaped, so no value can end the
    /// string early or smuggle a parameter in.
    fn param(mut self, name: &'static str, value: &str) -> Self {
        self.params.push((name, rfc6750_chars(value).collect()));
        self
    }

    fn realm(self, realm: Option<&str>) -> Self {
        match realm {
            Some(realm) => self.param("realm", realm),
            None => self,
        }
    }

    /// The header value: `Bearer` alone, or `Bearer a="x", b="y"`.
    pub(crate) fn to_header(&self) -> Option<HeaderValue> {
        let mut value = String::from(match self.scheme {
            Scheme::Bearer => "Bearer",
            Scheme::Dpop => "DPoP",
        });
        for (i, (name, param)) in self.params.iter().enumerate() {
            value.push_str(if i == 0 { " " } else { ", " });
            value.push_str(name);
            value.push_str("=\"");
            value.push_str(param);
            value.push('"');
        }
        HeaderValue::from_str(&value).ok()
    }
}

/// The parameters `error` gives a challenge, whatever the scheme: `error`
/// and `error_description` (RFC 6750 §3), then `scope` (§3), or
/// `acr_values` and `max_age` (RFC 9470 §3). Empty for a missing token (a
/// bare challenge, §3.1); `None` when the error has no challenge (a 503,
/// a 500).
fn error_params(error: &Error) -> Option<Vec<(&'static str, String)>> {
    let mut challenge = Challenge::new(Scheme::Bearer);
    match error.kind() {
        ErrorKind::MissingToken => return Some(challenge.params),
        ErrorKind::Unavailable | ErrorKind::Config => return None,
        _ => {}
    }
    let code = error.error_code()?;
    challenge = challenge
        .param("error", code)
        .param("error_description", &error.description());
    match error {
        Error::InsufficientScope {
            scope: Some(scope), ..
        } if !scope.is_empty() => challenge = challenge.param("scope", scope),
        Error::InsufficientUserAuthentication {
            acr_values,
            max_age,
            ..
        } => {
            if let Some(acr_values) = acr_values.as_deref().filter(|v| !v.is_empty()) {
                challenge = challenge.param("acr_values", acr_values);
            }
            if let Some(max_age) = max_age {
                // Quoted, as RFC 9470's own examples write it.
                challenge = challenge.param("max_age", &max_age.to_string());
            }
        }
        _ => {}
    }
    Some(challenge.params)
}

/// The challenge an error gets on its own: `Bearer` with the realm, or a
/// bare `DPoP` one for a proof error (a layer with DPoP settings adds
/// `algs` and the `Bearer` one, see [`refusal`]).
fn own_challenge(error: &Error, realm: Option<&str>) -> Option<Challenge> {
    let params = error_params(error)?;
    let scheme = match error.kind() {
        ErrorKind::InvalidDpopProof | ErrorKind::UseDpopNonce => Scheme::Dpop,
        _ => Scheme::Bearer,
    };
    let mut challenge = Challenge::new(scheme);
    if scheme == Scheme::Bearer {
        challenge = challenge.realm(realm);
    }
    challenge.params.extend(params);
    Some(challenge)
}

impl Error {
    /// The `WWW-Authenticate` challenge for this error (RFC 6750 §3), or
    /// `None` for errors that are not about credentials (a 503, a 500).
    ///
    /// A request without credentials gets a bare challenge (`Bearer` or
    /// `Bearer realm="…"`) with no `error` attribute, as §3.1 asks. An
    /// [`InsufficientScope`](Self::InsufficientScope) with scopes adds the
    /// `scope` attribute. The layer's own refusals add more (RFC 9728's
    /// `resource_metadata`, the `DPoP` challenge): see
    /// [`rejection_parts`](crate::rejection::rejection_parts).
    ///
    /// ```
    /// use oidc_bearer::Error;
    ///
    /// let error = Error::InsufficientScope {
    ///     required: "scope orders.write".into(),
    ///     scope: Some("orders.write".into()),
    /// };
    /// assert_eq!(
    ///     error.www_authenticate(Some("orders")).unwrap(),
    ///     r#"Bearer realm="orders", error="insufficient_scope", error_description="insufficient scope: scope orders.write required", scope="orders.write""#
    /// );
    /// ```
    pub fn www_authenticate(&self, realm: Option<&str>) -> Option<HeaderValue> {
        own_challenge(self, realm)?.to_header()
    }
}

/// Where a refusal is made, which decides its challenges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presented {
    /// By the bearer layer, for a request that presented its token with
    /// this scheme (or, as `Bearer`, no token at all).
    AtTheLayer(Scheme),
    /// After the bearer layer (a requirement), for a request it admitted
    /// with this scheme.
    Admitted(Scheme),
}

/// What a refusal needs to know of the layer in front.
#[derive(Clone, Copy)]
pub(crate) struct Refusal<'a> {
    pub realm: Option<&'a str>,
    /// RFC 9728 §5.1: added to every challenge.
    pub resource_metadata: Option<&'a str>,
    /// The layer's DPoP settings, and now (for the nonce).
    pub dpop: Option<(&'a Dpop, i64)>,
    pub presented: Presented,
}

impl Refusal<'_> {
    /// A refusal with nothing but a realm: `Bearer` only.
    pub(crate) fn plain(realm: Option<&str>) -> Refusal<'_> {
        Refusal {
            realm,
            resource_metadata: None,
            dpop: None,
            presented: Presented::AtTheLayer(Scheme::Bearer),
        }
    }
}

/// Status and headers for `error`: the status from [`Error::status`],
/// the challenges below, `Retry-After` (seconds) when the error gives
/// one, and `DPoP-Nonce` when the layer's DPoP settings use nonces and a
/// `DPoP` challenge is sent.
///
/// - Without DPoP settings, or for a request admitted with `Bearer`: the
///   error's own challenge.
/// - At a layer with DPoP settings: one challenge per accepted scheme
///   (RFC 9449 §7.1), the error on the scheme the request used (on `DPoP`
///   for a proof error), `algs` on the `DPoP` one.
/// - After such a layer, for a request it admitted with `DPoP`: the
///   `DPoP` challenge alone, with the error's parameters (the token is
///   bound to a key, so offering `Bearer` would invite a request that
///   must fail).
pub(crate) fn refusal(error: &Error, to: &Refusal<'_>) -> Parts {
    let (mut parts, ()) = Response::new(()).into_parts();
    parts.status = error.status();
    let mut challenges: Vec<Challenge> = Vec::with_capacity(2);
    let mut nonce = None;
    match (to.dpop, to.presented) {
        (None, _) | (Some(_), Presented::Admitted(Scheme::Bearer)) => {
            challenges.extend(own_challenge(error, to.realm));
        }
        (Some((dpop, now)), Presented::Admitted(Scheme::Dpop)) => {
            if let Some(params) = error_params(error) {
                let mut challenge = dpop_head(dpop, to.realm);
                challenge.params.extend(params);
                challenges.push(challenge);
                nonce = dpop.nonces.as_ref().map(|n| n.current(now));
            }
        }
        (Some((dpop, now)), Presented::AtTheLayer(scheme)) => {
            at_a_dpop_layer(error, to.realm, dpop, scheme, &mut challenges);
            if dpop.mode != DpopMode::BearerOnly {
                nonce = dpop.nonces.as_ref().map(|n| n.current(now));
            }
        }
    }
    for mut challenge in challenges {
        if let Some(url) = to.resource_metadata {
            challenge = challenge.param("resource_metadata", url);
        }
        if let Some(value) = challenge.to_header() {
            parts.headers.append(WWW_AUTHENTICATE, value);
        }
    }
    if let Some(nonce) = nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
        parts.headers.insert(DPOP_NONCE, nonce);
    }
    if let Some(seconds) = error.retry_after_secs() {
        parts
            .headers
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    parts
}

/// `DPoP realm="…", algs="…"`: what every DPoP challenge of a layer
/// starts with.
fn dpop_head(dpop: &Dpop, realm: Option<&str>) -> Challenge {
    Challenge::new(Scheme::Dpop)
        .realm(realm)
        .param("algs", &dpop.algs_value())
}

/// The challenges of a layer with DPoP settings refusing a request that
/// presented `scheme`: every accepted scheme's, the error on one.
fn at_a_dpop_layer(
    error: &Error,
    realm: Option<&str>,
    dpop: &Dpop,
    scheme: Scheme,
    challenges: &mut Vec<Challenge>,
) {
    let proof_error = matches!(
        error.kind(),
        ErrorKind::InvalidDpopProof | ErrorKind::UseDpopNonce
    ) || matches!(error, Error::TokenNotDpopBound | Error::DpopRequired);
    let on_dpop = proof_error || scheme == Scheme::Dpop;
    // A missing token and a 503 name no error, on either scheme.
    let described = !matches!(
        error.kind(),
        ErrorKind::MissingToken | ErrorKind::Unavailable
    );
    let bearer = dpop.mode != DpopMode::DpopRequired;
    let accepts_dpop = dpop.mode != DpopMode::BearerOnly;
    if bearer {
        let challenge = if described && !(on_dpop && accepts_dpop) {
            own_challenge(error, realm)
        } else {
            own_challenge(&Error::MissingToken, realm)
        };
        challenges.extend(challenge);
    }
    if accepts_dpop {
        let mut challenge = dpop_head(dpop, realm);
        if described
            && (on_dpop || !bearer)
            && let Some(params) = error_params(error)
        {
            challenge.params.extend(params);
        }
        challenges.push(challenge);
    }
}

/// The `DPoP-Nonce` to send with a response to a DPoP request (RFC 9449
/// §8.2: a server may supply a new nonce in any response), so a client
/// switches before its nonce runs out instead of after a `401
/// use_dpop_nonce`. `None` without nonces.
pub(crate) fn fresh_nonce(dpop: &Dpop, now: i64) -> Option<HeaderValue> {
    let nonces = dpop.nonces.as_ref()?;
    HeaderValue::from_str(&nonces.current(now)).ok()
}

// Beside this file: every parameter's quoting, every shape.
#[cfg(test)]
mod tests;
