//! Every parameter's quoting, and every shape a refusal takes: plain,
//! at a layer with DPoP settings, after it, with `resource_metadata`.

use http::header::{RETRY_AFTER, WWW_AUTHENTICATE};

use super::*;
use crate::algorithm::Algorithm;
use crate::dpop::{Dpop, Nonces};

const METADATA: &str = "https://api.example.com/.well-known/oauth-protected-resource";

fn challenges(parts: &Parts) -> Vec<&str> {
    parts
        .headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

fn scope(scope: &str) -> Error {
    Error::InsufficientScope {
        required: format!("scope {scope}"),
        scope: Some(scope.into()),
    }
}

fn step_up(acr_values: Option<&str>, max_age: Option<u64>) -> Error {
    Error::InsufficientUserAuthentication {
        required: "no acr".into(),
        acr_values: acr_values.map(Into::into),
        max_age,
    }
}

fn refuse(error: &Error, realm: Option<&str>, dpop: Option<&Dpop>, presented: Presented) -> Parts {
    refusal(
        error,
        &Refusal {
            realm,
            resource_metadata: None,
            dpop: dpop.map(|d| (d, 1_000)),
            presented,
        },
    )
}

#[test]
fn a_bare_challenge_has_no_parameters_and_no_comma() {
    assert_eq!(
        Challenge::new(Scheme::Bearer).to_header().unwrap(),
        "Bearer"
    );
    assert_eq!(
        Challenge::new(Scheme::Dpop)
            .param("algs", "ES256")
            .to_header()
            .unwrap(),
        r#"DPoP algs="ES256""#
    );
    assert_eq!(
        Challenge::new(Scheme::Bearer)
            .param("realm", "a")
            .param("error", "invalid_token")
            .to_header()
            .unwrap(),
        r#"Bearer realm="a", error="invalid_token""#
    );
}

#[test]
fn every_parameter_drops_what_a_quoted_attribute_may_not_hold() {
    // A quote or a backslash would end the string or escape; controls and
    // non-ASCII are outside RFC 6750's %x20-21 / %x23-5B / %x5D-7E.
    let hostile = "a\"b\\c\u{7f}d\u{1}e\u{e9}f, error=\"x\"";
    let cleaned = "abcdef, error=x";
    for name in [
        "realm",
        "error",
        "error_description",
        "scope",
        "acr_values",
        "max_age",
        "algs",
        "resource_metadata",
    ] {
        let header = Challenge::new(Scheme::Bearer)
            .param(name, hostile)
            .to_header();
        assert_eq!(
            header.unwrap(),
            format!("Bearer {name}=\"{cleaned}\""),
            "{name}"
        );
    }
    // Through a whole refusal: realm, description, scope, acr_values.
    let error = Error::InsufficientScope {
        required: "scope \"x\"".into(),
        scope: Some("a\"b c\\d".into()),
    };
    let parts = refuse(
        &error,
        Some("r\"e\\alm"),
        None,
        Presented::AtTheLayer(Scheme::Bearer),
    );
    assert_eq!(
        challenges(&parts),
        [
            r#"Bearer realm="realm", error="insufficient_scope", error_description="insufficient scope: scope x required", scope="ab cd""#
        ]
    );
    let parts = refuse(
        &step_up(Some("mfa\"x hwk"), Some(60)),
        None,
        None,
        Presented::AtTheLayer(Scheme::Bearer),
    );
    assert_eq!(
        challenges(&parts),
        [
            r#"Bearer error="insufficient_user_authentication", error_description="insufficient user authentication: no acr", acr_values="mfax hwk", max_age="60""#
        ]
    );
}

#[test]
fn plain_refusals_and_the_resource_metadata_parameter() {
    let with_metadata = |error: &Error, realm| {
        refusal(
            error,
            &Refusal {
                realm,
                resource_metadata: Some(METADATA),
                dpop: None,
                presented: Presented::AtTheLayer(Scheme::Bearer),
            },
        )
    };
    let bare = with_metadata(&Error::MissingToken, None);
    assert_eq!(bare.status, 401);
    assert_eq!(
        challenges(&bare),
        [format!("Bearer resource_metadata=\"{METADATA}\"")]
    );
    let expired = with_metadata(&Error::Expired, Some("api"));
    assert_eq!(
        challenges(&expired),
        [format!(
            "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"token expired\", \
             resource_metadata=\"{METADATA}\""
        )]
    );
    // A 503 has no challenge, with or without metadata, and a Retry-After.
    let unavailable = Error::KeysUnavailable {
        reason: String::new(),
        retry_after_secs: 7,
    };
    let parts = with_metadata(&unavailable, None);
    assert_eq!(parts.status, 503);
    assert!(challenges(&parts).is_empty());
    assert_eq!(parts.headers[RETRY_AFTER], "7");
    // A 500 has neither.
    let parts = with_metadata(&Error::Misplaced("x".into()), None);
    assert_eq!(parts.status, 500);
    assert!(challenges(&parts).is_empty());
    assert!(parts.headers.get(RETRY_AFTER).is_none());
    // An empty scope list adds no scope attribute.
    let parts = with_metadata(&scope(""), None);
    assert!(!challenges(&parts)[0].contains("scope=\"\""));
}

#[test]
fn a_proof_error_alone_is_a_bare_dpop_challenge() {
    assert_eq!(
        Error::UseDpopNonce
            .www_authenticate(Some("ignored"))
            .unwrap(),
        r#"DPoP error="use_dpop_nonce", error_description="a DPoP proof with the server's current nonce is required""#
    );
}

#[test]
fn a_dpop_layer_offers_every_scheme_and_names_the_error_on_one() {
    let allowed = Dpop::allowed().algs([Algorithm::ES256]);
    // A bad bearer token: the error on Bearer, DPoP offered bare.
    let parts = refuse(
        &Error::Expired,
        Some("api"),
        Some(&allowed),
        Presented::AtTheLayer(Scheme::Bearer),
    );
    assert_eq!(
        challenges(&parts),
        [
            r#"Bearer realm="api", error="invalid_token", error_description="token expired""#,
            r#"DPoP realm="api", algs="ES256""#,
        ]
    );
    // A bad proof: the error on DPoP, Bearer offered bare.
    let parts = refuse(
        &Error::InvalidDpopProof("the proof is not a compact JWS"),
        Some("api"),
        Some(&allowed),
        Presented::AtTheLayer(Scheme::Dpop),
    );
    assert_eq!(
        challenges(&parts),
        [
            r#"Bearer realm="api""#,
            r#"DPoP realm="api", algs="ES256", error="invalid_dpop_proof", error_description="invalid DPoP proof: the proof is not a compact JWS""#,
        ]
    );
    // DPoP required: no Bearer challenge; a missing token names no error.
    let required = Dpop::required()
        .algs([Algorithm::EdDSA])
        .nonces(Nonces::new());
    let parts = refuse(
        &Error::MissingToken,
        None,
        Some(&required),
        Presented::AtTheLayer(Scheme::Bearer),
    );
    assert_eq!(challenges(&parts), [r#"DPoP algs="EdDSA""#]);
    assert_eq!(
        parts.headers[DPOP_NONCE],
        required.nonces.as_ref().unwrap().current(1_000)
    );
    // Bearer only: no DPoP challenge, no nonce.
    let parts = refuse(
        &Error::DpopBoundToken,
        None,
        Some(&Dpop::bearer_only()),
        Presented::AtTheLayer(Scheme::Bearer),
    );
    assert_eq!(
        challenges(&parts),
        [
            r#"Bearer error="invalid_token", error_description="DPoP-bound token sent with the Bearer scheme""#
        ]
    );
}

#[test]
fn after_the_layer_a_dpop_request_gets_the_dpop_scheme_alone() {
    let dpop = Dpop::allowed().algs([Algorithm::ES256]);
    let error = scope("a");
    let parts = refuse(
        &error,
        Some("orders"),
        Some(&dpop),
        Presented::Admitted(Scheme::Dpop),
    );
    assert_eq!(parts.status, 403);
    assert_eq!(
        challenges(&parts),
        [
            r#"DPoP realm="orders", algs="ES256", error="insufficient_scope", error_description="insufficient scope: scope a required", scope="a""#
        ]
    );
    assert!(parts.headers.get(DPOP_NONCE).is_none());
    // Admitted with Bearer: the Bearer challenge, as without DPoP.
    let parts = refuse(
        &error,
        Some("orders"),
        Some(&dpop),
        Presented::Admitted(Scheme::Bearer),
    );
    assert_eq!(
        challenges(&parts),
        [error.www_authenticate(Some("orders")).unwrap()]
    );
    // Step-up attributes and a nonce.
    let nonced = Dpop::required()
        .algs([Algorithm::EdDSA])
        .nonces(Nonces::new());
    let parts = refuse(
        &step_up(Some("mfa"), Some(60)),
        None,
        Some(&nonced),
        Presented::Admitted(Scheme::Dpop),
    );
    assert_eq!(parts.status, 401);
    assert_eq!(
        challenges(&parts),
        [
            r#"DPoP algs="EdDSA", error="insufficient_user_authentication", error_description="insufficient user authentication: no acr", acr_values="mfa", max_age="60""#
        ]
    );
    let nonce = parts.headers[DPOP_NONCE].to_str().unwrap();
    assert_eq!(nonce, nonced.nonces.as_ref().unwrap().current(1_000));
    assert_eq!(fresh_nonce(&nonced, 1_000).unwrap(), nonce);
    // A misplaced layer's 500 has no challenge, DPoP or not, and no nonce.
    let parts = refuse(
        &Error::Misplaced("x".into()),
        None,
        Some(&nonced),
        Presented::Admitted(Scheme::Dpop),
    );
    assert_eq!(parts.status, 500);
    assert!(challenges(&parts).is_empty());
    assert!(parts.headers.get(DPOP_NONCE).is_none());
}

#[test]
fn resource_metadata_goes_on_every_challenge_of_a_dpop_layer() {
    let dpop = Dpop::allowed().algs([Algorithm::ES256]);
    let parts = refusal(
        &Error::MissingToken,
        &Refusal {
            realm: None,
            resource_metadata: Some(METADATA),
            dpop: Some((&dpop, 0)),
            presented: Presented::AtTheLayer(Scheme::Bearer),
        },
    );
    assert_eq!(
        challenges(&parts),
        [
            format!("Bearer resource_metadata=\"{METADATA}\""),
            format!("DPoP algs=\"ES256\", resource_metadata=\"{METADATA}\""),
        ]
    );
}
