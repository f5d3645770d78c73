//! One error type for configuration, key loading and token rejection:
//! what failed, its kind, its HTTP status and RFC 6750 error code, and a
//! description safe to show a client.
//!
//! No header is formatted here: the challenges a refusal carries are
//! built in `challenge` from what this type says.

use http::StatusCode;

mod meta;

pub(crate) use meta::Origin;

/// Everything that can go wrong, from `build()` to a refused token.
///
/// Messages name the rule that failed and never contain a token, a claim
/// value from an unverified token, or key material. [`kind`](Self::kind)
/// groups them; [`status`](Self::status), [`error_code`](Self::error_code)
/// and [`www_authenticate`](Self::www_authenticate) give the RFC 6750 §3
/// response the layer sends.
///
/// The variants are grouped: configuration, key loading, the request, the
/// token, authorization (a route's requirement), DPoP.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), oidc_bearer::Error> {
/// # let provider = oidc_bearer_testkit::TestIssuer::start().await;
/// # let (issuer, jwks_url) = (provider.issuer.clone(), provider.jwks_url.clone());
/// # let token_for_another_api = provider.token("another-api");
/// use oidc_bearer::{Error, ErrorKind, StandardClaims, Validator};
///
/// let validator = Validator::builder()
///     .issuer(issuer)
///     .audience("my-api")
///     .jwks_url(jwks_url)
///     .build()
///     .await?;
/// let error = validator
///     .verify::<StandardClaims>(&token_for_another_api)
///     .await
///     .unwrap_err();
/// assert!(matches!(error, Error::InvalidAudience));
/// assert_eq!(error.kind(), ErrorKind::InvalidToken);
/// assert_eq!(error.status(), 401);
/// assert_eq!(
///     error.www_authenticate(Some("my-api")).unwrap(),
///     r#"Bearer realm="my-api", error="invalid_token", error_description="invalid audience""#
/// );
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- Configuration: 500, no challenge ---
    /// The validator is configured in a way that cannot work; the message
    /// says what to change. Reported by `build()` ([`ErrorKind::Config`]).
    #[error("configuration error: {0}")]
    Config(String),
    /// A layer is where it cannot work: a requirement layer
    /// ([`AuthorizeLayer`](crate::authz::AuthorizeLayer) of a
    /// [`Require`](crate::Require) or a [`StepUp`](crate::StepUp)) with no `OidcBearerLayer` in
    /// front, or one for another claims type. Found at request time, so
    /// answered with 500 ([`ErrorKind::Misplaced`]) and no challenge: no
    /// token the client could send would help. The message, for logs,
    /// says where to put the layer.
    #[error("misplaced layer: {0}")]
    Misplaced(String),

    // --- Key loading: 500 (`ErrorKind::Config`), no challenge; 503 without keys ---
    /// Fetching a JWKS or discovery document failed.
    #[error("fetching {url} failed: {reason}")]
    Fetch {
        /// The URL that was fetched.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A key or key set could not be used.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// No signing keys are available yet, or they are too old to trust
    /// (answered with 503 and `Retry-After`: the token may well be fine).
    #[error("signing keys unavailable: {reason}")]
    KeysUnavailable {
        /// Why, for logs (never shown to the client).
        reason: String,
        /// Seconds until the key store tries to fetch again: the 503's
        /// `Retry-After` (RFC 9110 §10.2.3).
        retry_after_secs: u64,
    },

    // --- The request: 401 without credentials, 400 when malformed ---
    /// The request carried no bearer credentials: 401 with a bare
    /// challenge.
    #[error("no bearer token in the request")]
    MissingToken,
    /// The request cannot be understood: 400 `invalid_request`. The
    /// message says what is wrong and is the whole text shown: a broken
    /// `Authorization` header (several headers, broken syntax, non-visible
    /// characters, a token that is not token68), or a token sent in a way
    /// RFC 6750 does not allow or that cannot be read: by more than one
    /// method (RFC 6750 §2), in several cookies, headers or query
    /// parameters of the configured name (see
    /// [`TokenSource`](crate::TokenSource)).
    #[error("{0}")]
    InvalidRequest(&'static str),

    // --- The token: 401 `invalid_token` ---
    /// The token is longer than the configured limit.
    #[error("token too large")]
    TokenTooLarge,
    /// The token is not a compact JWS (three base64url parts, JSON header).
    #[error("malformed token: {0}")]
    MalformedToken(&'static str),
    /// The header `alg` is not accepted (`none`, HMAC without a configured
    /// secret, or an unknown name).
    #[error("unsupported algorithm")]
    UnsupportedAlgorithm,
    /// The header lists a critical extension this crate does not process.
    #[error("unsupported critical header parameter")]
    UnsupportedCritical,
    /// No key in the key set has the token's `kid`.
    #[error("unknown key id")]
    UnknownKey,
    /// The token has no `kid` and more than one key could verify it.
    #[error("token has no key id and several keys match its algorithm")]
    AmbiguousKey,
    /// The header `alg` does not fit the key selected by `kid`.
    #[error("algorithm does not match the key")]
    AlgorithmMismatch,
    /// The signature does not verify.
    #[error("invalid signature")]
    InvalidSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("token issued in the future")]
    IssuedInFuture,
    /// A claim that must be present is missing.
    #[error("missing required claim: {0}")]
    MissingClaim(String),
    /// A registered claim has the wrong JSON type (e.g. `exp` as a
    /// string). Not [`ClaimsType`](Self::ClaimsType), the application's
    /// claims type.
    #[error("invalid claim: {0}")]
    InvalidClaim(&'static str),
    /// `iss` is not the configured issuer.
    #[error("invalid issuer")]
    InvalidIssuer,
    /// The token's tenant (`tid`) is not in the allow-list of a
    /// multi-tenant issuer (see
    /// [`EntraId::allowed_tenants`](crate::EntraId::allowed_tenants)).
    #[error("tenant not allowed")]
    TenantNotAllowed,
    /// `aud` does not contain a configured audience.
    #[error("invalid audience")]
    InvalidAudience,
    /// The header `typ` is not the required one (e.g. `at+jwt`).
    #[error("invalid token type")]
    InvalidType,
    /// The token is signed by a trusted issuer but is not an access token:
    /// a Keycloak ID, refresh or logout token (its `typ` claim, see
    /// [`Keycloak`](crate::Keycloak)). The message names the kind.
    #[error("not an access token: {0}")]
    NotAnAccessToken(&'static str),
    /// The token was issued for Microsoft Graph (a `nonce` in its header,
    /// or Graph's audience), not for this API: only Graph can verify it.
    /// The client must request a scope of this API instead of a Graph
    /// scope such as `User.Read`.
    #[error(
        "token issued for Microsoft Graph, not this API: the client must request a scope of \
         this API (api://<API client id>/<scope>), not a Graph scope such as User.Read"
    )]
    MicrosoftGraphToken,
    /// The claims do not deserialize into the application's claims type
    /// (the `C` of `verify::<C>`). Not [`InvalidClaim`](Self::InvalidClaim),
    /// a registered claim of the wrong JSON type.
    #[error("claims do not match the expected shape")]
    ClaimsType,
    /// A custom rule registered with
    /// [`ValidatorBuilder::rule`](crate::ValidatorBuilder::rule) refused the token.
    #[error("token rejected: {0}")]
    RuleFailed(String),

    // --- Authorization: a route's requirement on a verified token, 403 or 401 ---
    /// The token is valid but lacks a scope or role the route requires
    /// (see [`Require`](crate::Require)): 403 `insufficient_scope`, the one
    /// RFC 6750 code for a token that is fine but not enough, roles
    /// included.
    #[error("insufficient scope: {required} required")]
    InsufficientScope {
        /// What the route requires, for people: `scope orders.read`,
        /// `role admin of client orders-api or realm role admin`, …
        required: String,
        /// The `scope` attribute of the challenge (RFC 6750 §3): the
        /// space-delimited scopes a client should ask for, `None` when
        /// only roles would do (a client cannot ask for a role).
        scope: Option<String>,
    },
    /// The token is valid, but the sign-in behind it is not strong enough
    /// or not recent enough for the route (see
    /// [`StepUp`](crate::StepUp)): 401 with
    /// `error="insufficient_user_authentication"` and the `acr_values`
    /// and/or `max_age` the client should ask the authorization server for
    /// (RFC 9470 §3).
    #[error("insufficient user authentication: {required}")]
    InsufficientUserAuthentication {
        /// What failed, for people: `authentication context class not
        /// accepted`, `authentication too old (max_age 300 s)`, ….
        required: String,
        /// The `acr_values` attribute: the acceptable `acr` values,
        /// space-separated, in order of preference (RFC 9470 §3).
        acr_values: Option<String>,
        /// The `max_age` attribute: the largest acceptable time since the
        /// user last authenticated, in seconds (RFC 9470 §3).
        max_age: Option<u64>,
    },

    // --- DPoP (RFC 9449), see `Dpop`: 401, or 503 when the replay store fails ---
    /// The DPoP proof is missing, malformed or does not match the request
    /// (RFC 9449 §4.3): 401 `invalid_dpop_proof` on the `DPoP` challenge.
    #[error("invalid DPoP proof: {0}")]
    InvalidDpopProof(&'static str),
    /// The proof lacks the server's current nonce (RFC 9449 §9): 401
    /// `use_dpop_nonce` with a fresh `DPoP-Nonce` header.
    #[error("a DPoP proof with the server's current nonce is required")]
    UseDpopNonce,
    /// A token bound to a key (`cnf.jkt`) was sent with the `Bearer`
    /// scheme (RFC 9449 §7.1): 401 `invalid_token`.
    #[error("DPoP-bound token sent with the Bearer scheme")]
    DpopBoundToken,
    /// A token without `cnf.jkt` was sent with the `DPoP` scheme: it is
    /// bound to no key, so no proof can show it is the client's (401
    /// `invalid_token`).
    #[error("the token is not DPoP-bound")]
    TokenNotDpopBound,
    /// A bearer token was sent to a layer that requires DPoP (401
    /// `invalid_token`).
    #[error("this resource requires the DPoP scheme with a proof")]
    DpopRequired,
    /// A layer with DPoP settings got a token bound by a confirmation
    /// method it cannot check (a `cnf` without `jkt`, e.g. the certificate
    /// thumbprint `x5t#S256` of RFC 8705): 401 `invalid_token`, whatever
    /// the scheme; accepting it would drop the binding.
    #[error("the token is bound by a confirmation method this resource cannot check")]
    UnsupportedConfirmation,
    /// The DPoP replay store could not answer; the layer fails closed
    /// (503 with `Retry-After`) unless configured to fail open.
    #[error("DPoP replay check unavailable: {reason}")]
    ReplayStoreUnavailable {
        /// Why, for logs (never shown to the client).
        reason: String,
    },
}

impl Error {
    /// Every [`reason`](Self::reason), in a fixed order; a new label is
    /// added at the end.
    pub const REASONS: &'static [&'static str] = &[
        "missing_token",
        "invalid_request",
        "token_too_large",
        "malformed_token",
        "unsupported_algorithm",
        "unsupported_critical",
        "unknown_key",
        "ambiguous_key",
        "algorithm_mismatch",
        "invalid_signature",
        "expired",
        "not_yet_valid",
        "issued_in_future",
        "missing_claim",
        "invalid_claim",
        "invalid_issuer",
        "tenant_not_allowed",
        "invalid_audience",
        "invalid_type",
        "microsoft_graph_token",
        "claims_type",
        "insufficient_scope",
        "rule_failed",
        "keys_unavailable",
        "fetch",
        "invalid_key",
        "config",
        "insufficient_user_authentication",
        "invalid_dpop_proof",
        "use_dpop_nonce",
        "dpop_bound_token",
        "token_not_dpop_bound",
        "dpop_required",
        "replay_store_unavailable",
        "unsupported_confirmation",
        "not_an_access_token",
        "misplaced",
    ];

    /// A stable snake_case label for this kind of failure (`expired`,
    /// `invalid_signature`, `unknown_key`, …), for metrics and dashboards:
    /// the variant, without its details. See [`Metrics`](crate::Metrics).
    pub fn reason(&self) -> &'static str {
        self.meta().reason
    }

    /// The position of [`reason`](Self::reason) in [`REASONS`](Self::REASONS).
    pub(crate) fn reason_index(&self) -> usize {
        self.meta().index
    }

    /// Who decided that the request fails.
    pub(crate) fn origin(&self) -> Origin {
        self.meta().origin
    }

    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        self.meta().kind
    }
}

/// What kind of failure an [`Error`] is, for `match` without caring about
/// the details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No credentials: 401 with a bare `Bearer` challenge.
    MissingToken,
    /// The request is malformed: 400 `invalid_request`.
    InvalidRequest,
    /// The token is refused: 401 `invalid_token`.
    InvalidToken,
    /// The token lacks a scope or role: 403 `insufficient_scope`.
    InsufficientScope,
    /// Keys are unavailable: 503, the token may well be fine.
    Unavailable,
    /// Configuration or key loading, reported by `build()`: 500.
    Config,
    /// The sign-in is too weak or too old: 401
    /// `insufficient_user_authentication` (RFC 9470).
    InsufficientUserAuthentication,
    /// The DPoP proof is refused: 401 `invalid_dpop_proof`.
    InvalidDpopProof,
    /// The DPoP proof lacks the server's nonce: 401 `use_dpop_nonce`.
    UseDpopNonce,
    /// A layer is where it cannot work, found at request time
    /// ([`Error::Misplaced`]): 500 with no challenge.
    Misplaced,
}

impl Error {
    /// The HTTP status RFC 6750 §3.1 gives this error.
    pub fn status(&self) -> StatusCode {
        match self.kind() {
            ErrorKind::MissingToken
            | ErrorKind::InvalidToken
            | ErrorKind::InsufficientUserAuthentication => StatusCode::UNAUTHORIZED,
            ErrorKind::InvalidDpopProof | ErrorKind::UseDpopNonce => StatusCode::UNAUTHORIZED,
            ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorKind::InsufficientScope => StatusCode::FORBIDDEN,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Config | ErrorKind::Misplaced => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The RFC 6750 `error` code, if this error has one.
    pub fn error_code(&self) -> Option<&'static str> {
        match self.kind() {
            ErrorKind::InvalidRequest => Some("invalid_request"),
            ErrorKind::InvalidToken => Some("invalid_token"),
            ErrorKind::InsufficientScope => Some("insufficient_scope"),
            ErrorKind::InsufficientUserAuthentication => Some("insufficient_user_authentication"),
            ErrorKind::InvalidDpopProof => Some("invalid_dpop_proof"),
            ErrorKind::UseDpopNonce => Some("use_dpop_nonce"),
            _ => None,
        }
    }

    /// A description safe to show to the client: which rule failed, never
    /// internals. Only characters RFC 6750 §3 allows in `error_description`
    /// (%x20-21 / %x23-5B / %x5D-7E) are kept.
    pub fn description(&self) -> String {
        let text = match self {
            // Internal details (URLs, reasons) stay in logs, not in responses.
            Error::KeysUnavailable { .. } => "signing keys are not available".to_owned(),
            Error::ReplayStoreUnavailable { .. } => "DPoP replay check unavailable".to_owned(),
            Error::Fetch { .. } | Error::InvalidKey(_) | Error::Config(_) | Error::Misplaced(_) => {
                "server configuration error".to_owned()
            }
            other => other.to_string(),
        };
        rfc6750_chars(&text).collect()
    }

    /// Seconds after which a client may retry, for the `Retry-After` of a
    /// 503; `None` for every other error.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Error::KeysUnavailable {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            // A store outage is usually short; the client retries soon.
            Error::ReplayStoreUnavailable { .. } => Some(1),
            _ => None,
        }
    }
}

/// The characters RFC 6750 §3 allows in a quoted challenge attribute
/// (`%x20-21 / %x23-5B / %x5D-7E`): no quote, no backslash, no control
/// character, nothing outside ASCII.
pub(crate) fn rfc6750_chars(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars()
        .filter(|c| matches!(*c, ' ' | '!' | '#'..='[' | ']'..='~'))
}

#[cfg(test)]
mod tests;
