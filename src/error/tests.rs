//! The table of [`Error::meta`] against `REASONS`, and the mappings that
//! derive from it.

use std::collections::BTreeSet;

use super::*;

/// One value of each variant, in the order of [`Error::REASONS`]. Each
/// arm names the variant that comes next and the match has no
/// wildcard, so a new variant does not compile until it has a place in
/// the chain.
fn every_variant() -> Vec<Error> {
    let mut all = vec![Error::MissingToken];
    // A chain that loops would otherwise never end.
    while all.len() <= Error::REASONS.len() {
        let next = match all.last().expect("the chain starts with one") {
            Error::MissingToken => Error::InvalidRequest("malformed request: x"),
            Error::InvalidRequest(_) => Error::TokenTooLarge,
            Error::TokenTooLarge => Error::MalformedToken("x"),
            Error::MalformedToken(_) => Error::UnsupportedAlgorithm,
            Error::UnsupportedAlgorithm => Error::UnsupportedCritical,
            Error::UnsupportedCritical => Error::UnknownKey,
            Error::UnknownKey => Error::AmbiguousKey,
            Error::AmbiguousKey => Error::AlgorithmMismatch,
            Error::AlgorithmMismatch => Error::InvalidSignature,
            Error::InvalidSignature => Error::Expired,
            Error::Expired => Error::NotYetValid,
            Error::NotYetValid => Error::IssuedInFuture,
            Error::IssuedInFuture => Error::MissingClaim("exp".into()),
            Error::MissingClaim(_) => Error::InvalidClaim("exp"),
            Error::InvalidClaim(_) => Error::InvalidIssuer,
            Error::InvalidIssuer => Error::TenantNotAllowed,
            Error::TenantNotAllowed => Error::InvalidAudience,
            Error::InvalidAudience => Error::InvalidType,
            Error::InvalidType => Error::MicrosoftGraphToken,
            Error::MicrosoftGraphToken => Error::ClaimsType,
            Error::ClaimsType => Error::InsufficientScope {
                required: "scope a".into(),
                scope: Some("a".into()),
            },
            Error::InsufficientScope { .. } => Error::RuleFailed("x".into()),
            Error::RuleFailed(_) => Error::KeysUnavailable {
                reason: "x".into(),
                retry_after_secs: 1,
            },
            Error::KeysUnavailable { .. } => Error::Fetch {
                url: "https://idp.example/certs".into(),
                reason: "x".into(),
            },
            Error::Fetch { .. } => Error::InvalidKey("x".into()),
            Error::InvalidKey(_) => Error::Config("x".into()),
            Error::Config(_) => Error::InsufficientUserAuthentication {
                required: "x".into(),
                acr_values: Some("gold".into()),
                max_age: Some(300),
            },
            Error::InsufficientUserAuthentication { .. } => Error::InvalidDpopProof("x"),
            Error::InvalidDpopProof(_) => Error::UseDpopNonce,
            Error::UseDpopNonce => Error::DpopBoundToken,
            Error::DpopBoundToken => Error::TokenNotDpopBound,
            Error::TokenNotDpopBound => Error::DpopRequired,
            Error::DpopRequired => Error::ReplayStoreUnavailable { reason: "x".into() },
            Error::ReplayStoreUnavailable { .. } => Error::UnsupportedConfirmation,
            Error::UnsupportedConfirmation => Error::NotAnAccessToken("x"),
            Error::NotAnAccessToken(_) => Error::Misplaced("x".into()),
            Error::Misplaced(_) => return all,
        };
        all.push(next);
    }
    panic!("the chain of every_variant loops")
}

#[test]
fn reasons_are_the_labels_of_every_variant_in_order() {
    let labels: Vec<&str> = every_variant().iter().map(Error::reason).collect();
    assert_eq!(labels, Error::REASONS);
}

#[test]
fn every_variant_has_a_label_of_its_own() {
    let all = every_variant();
    let labels: BTreeSet<&str> = all.iter().map(Error::reason).collect();
    assert_eq!(labels.len(), all.len());
    let variants: std::collections::HashSet<_> = all.iter().map(std::mem::discriminant).collect();
    assert_eq!(variants.len(), all.len(), "the chain lists a variant twice");
}

#[test]
fn the_metrics_index_is_the_position_of_the_label() {
    for error in every_variant() {
        assert_eq!(Error::REASONS[error.reason_index()], error.reason());
    }
}

#[test]
fn only_request_and_proof_errors_are_left_for_the_layer_to_count() {
    let left: BTreeSet<&str> = every_variant()
        .iter()
        .filter(|e| matches!(e.origin(), Origin::Request | Origin::Proof))
        .map(Error::reason)
        .collect();
    let expected = BTreeSet::from([
        "missing_token",
        "invalid_request",
        "token_too_large",
        "invalid_dpop_proof",
        "use_dpop_nonce",
        "dpop_bound_token",
        "token_not_dpop_bound",
        "dpop_required",
        "unsupported_confirmation",
        "replay_store_unavailable",
    ]);
    assert_eq!(left, expected);
}

#[test]
fn configuration_errors_are_500s_without_a_challenge_or_their_message() {
    let config: Vec<Error> = every_variant()
        .into_iter()
        .filter(|e| e.origin() == Origin::Config)
        .collect();
    let labels: Vec<&str> = config.iter().map(Error::reason).collect();
    assert_eq!(labels, ["fetch", "invalid_key", "config", "misplaced"]);
    for error in &config {
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR, "{error}");
        assert_eq!(error.error_code(), None, "{error}");
        assert_eq!(error.www_authenticate(Some("api")), None, "{error}");
        assert_eq!(error.description(), "server configuration error");
    }
}

#[test]
fn misplaced_is_its_own_kind() {
    let error = Error::Misplaced("AuthorizeLayer found no Claims<User>".into());
    assert_eq!(error.kind(), ErrorKind::Misplaced);
    assert_eq!(error.reason(), "misplaced");
    assert_eq!(
        error.to_string(),
        "misplaced layer: AuthorizeLayer found no Claims<User>"
    );
    assert_eq!(Error::Config("x".into()).kind(), ErrorKind::Config);
}

#[test]
fn an_invalid_request_shows_its_message_alone() {
    let error = Error::InvalidRequest("malformed request: more than one token header");
    assert_eq!(
        error.description(),
        "malformed request: more than one token header"
    );
    assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error.error_code(), Some("invalid_request"));
}
