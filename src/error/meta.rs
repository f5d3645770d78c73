//! The table of what each [`Error`] variant is: its reason label, its
//! kind (hence status and code) and who decided, in one `match`.
//!
//! Only the table: the public methods that read it, and the status, code
//! and description they derive, are in `error.rs`.

use super::{Error, ErrorKind};

/// Who decided that a request fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The request: its syntax, or no credentials in it.
    Request,
    /// The validator, verifying the token; it counts what it refuses.
    Token,
    /// The DPoP proof, the token's binding to a key, or the replay check.
    Proof,
    /// A route's requirement (scope, role, step-up) on a verified token.
    Authorization,
    /// The configuration: `build()`, key loading, a misplaced layer.
    Config,
}

/// What [`Error::meta`] says about a variant.
pub(super) struct Meta {
    pub(super) reason: &'static str,
    /// `reason`'s position in [`Error::REASONS`], for the metrics' array.
    pub(super) index: usize,
    pub(super) kind: ErrorKind,
    pub(super) origin: Origin,
}

/// A row of [`Error::meta`]. The index is found at compile time, so a label
/// missing from [`Error::REASONS`] fails the build, and counting a
/// rejection costs no search.
macro_rules! meta {
    ($reason:literal, $kind:ident, $origin:ident) => {
        Meta {
            reason: $reason,
            index: const { reason_position($reason) },
            kind: ErrorKind::$kind,
            origin: Origin::$origin,
        }
    };
}

/// Where `reason` is in [`Error::REASONS`]; only ever evaluated at compile
/// time (see [`meta!`]), where the panic is a build error.
const fn reason_position(reason: &str) -> usize {
    let mut i = 0;
    while i < Error::REASONS.len() {
        if const_str_eq(Error::REASONS[i], reason) {
            return i;
        }
        i += 1;
    }
    panic!("a reason label is missing from Error::REASONS")
}

/// `a == b`, which is not yet usable in a `const fn`.
const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl Error {
    /// The one table of what each variant is: its label, its kind (hence
    /// status and code) and who decided.
    pub(super) fn meta(&self) -> Meta {
        match self {
            Error::Config(_) => meta!("config", Config, Config),
            Error::Misplaced(_) => meta!("misplaced", Misplaced, Config),
            Error::Fetch { .. } => meta!("fetch", Config, Config),
            Error::InvalidKey(_) => meta!("invalid_key", Config, Config),
            // The validator finds out while verifying a token.
            Error::KeysUnavailable { .. } => meta!("keys_unavailable", Unavailable, Token),
            Error::MissingToken => meta!("missing_token", MissingToken, Request),
            Error::InvalidRequest(_) => meta!("invalid_request", InvalidRequest, Request),
            // Also checked on the request's token, before the validator;
            // the validator's own check is the one that decides.
            // A limit on the request, checked before any parse (and again by
            // `verify` for a caller without a request).
            Error::TokenTooLarge => meta!("token_too_large", InvalidToken, Request),
            Error::MalformedToken(_) => meta!("malformed_token", InvalidToken, Token),
            Error::UnsupportedAlgorithm => meta!("unsupported_algorithm", InvalidToken, Token),
            Error::UnsupportedCritical => meta!("unsupported_critical", InvalidToken, Token),
            Error::UnknownKey => meta!("unknown_key", InvalidToken, Token),
            Error::AmbiguousKey => meta!("ambiguous_key", InvalidToken, Token),
            Error::AlgorithmMismatch => meta!("algorithm_mismatch", InvalidToken, Token),
            Error::InvalidSignature => meta!("invalid_signature", InvalidToken, Token),
            Error::Expired => meta!("expired", InvalidToken, Token),
            Error::NotYetValid => meta!("not_yet_valid", InvalidToken, Token),
            Error::IssuedInFuture => meta!("issued_in_future", InvalidToken, Token),
            Error::MissingClaim(_) => meta!("missing_claim", InvalidToken, Token),
            Error::InvalidClaim(_) => meta!("invalid_claim", InvalidToken, Token),
            Error::InvalidIssuer => meta!("invalid_issuer", InvalidToken, Token),
            Error::TenantNotAllowed => meta!("tenant_not_allowed", InvalidToken, Token),
            Error::InvalidAudience => meta!("invalid_audience", InvalidToken, Token),
            Error::InvalidType => meta!("invalid_type", InvalidToken, Token),
            Error::NotAnAccessToken(_) => meta!("not_an_access_token", InvalidToken, Token),
            Error::MicrosoftGraphToken => meta!("microsoft_graph_token", InvalidToken, Token),
            Error::ClaimsType => meta!("claims_type", InvalidToken, Token),
            Error::RuleFailed(_) => meta!("rule_failed", InvalidToken, Token),
            Error::InsufficientScope { .. } => {
                meta!("insufficient_scope", InsufficientScope, Authorization)
            }
            Error::InsufficientUserAuthentication { .. } => meta!(
                "insufficient_user_authentication",
                InsufficientUserAuthentication,
                Authorization
            ),
            Error::InvalidDpopProof(_) => meta!("invalid_dpop_proof", InvalidDpopProof, Proof),
            Error::UseDpopNonce => meta!("use_dpop_nonce", UseDpopNonce, Proof),
            Error::DpopBoundToken => meta!("dpop_bound_token", InvalidToken, Proof),
            Error::TokenNotDpopBound => meta!("token_not_dpop_bound", InvalidToken, Proof),
            Error::DpopRequired => meta!("dpop_required", InvalidToken, Proof),
            Error::UnsupportedConfirmation => {
                meta!("unsupported_confirmation", InvalidToken, Proof)
            }
            Error::ReplayStoreUnavailable { .. } => {
                meta!("replay_store_unavailable", Unavailable, Proof)
            }
        }
    }
}
