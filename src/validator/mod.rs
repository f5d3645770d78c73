//! [`Validator`]: what `build()` made, and what callers ask of it.
//!
//! No HTTP types here: the same [`Validator`] serves the tower layer, a gRPC
//! interceptor, a WebSocket handshake or a queue consumer.
//!
//! - `pipeline`: one verification step, a token in, one `Outcome` out: size,
//!   verified-token cache, compact JWS split, JOSE header (`alg`, `kid`,
//!   `typ`, `crit`), issuer selection, key by `kid` and `alg`, signature,
//!   then the registered claims (`exp`, `nbf`, `iat`, `iss`, `aud`), the
//!   key's issuer binding, required claims, custom rules and the caller's
//!   `C`.

mod pipeline;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::cache::TokenCache;
use crate::claims::Claims;
use crate::clock::Clock;
use crate::error::Error;
use crate::issuers::IssuerTable;
use crate::jwks::Health;
use crate::keys::KeySet;

pub(crate) use pipeline::{Outcome, UnknownKid, Verdict};

/// Verifies bearer tokens: signature against the provider's keys, then
/// `iss`, `aud`, `exp`, `nbf`, `iat` and any extra rules.
///
/// Cheap to clone (one `Arc`); clones share keys, cache and configuration.
/// Made by [`Validator::builder`] or [`Validator::discover`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), oidc_bearer::Error> {
/// # let provider = oidc_bearer_testkit::TestIssuer::start().await;
/// # let (issuer, jwks_url) = (provider.issuer.clone(), provider.jwks_url.clone());
/// # let token = provider.token("my-api");
/// use oidc_bearer::{Error, StandardClaims, Validator};
///
/// let validator = Validator::builder()
///     .issuer(issuer) // e.g. "https://login.example.com/realms/demo"
///     .audience("my-api")
///     .jwks_url(jwks_url)
///     .build()
///     .await?;
///
/// // Without tower: a gRPC interceptor, a WebSocket handshake, a queue...
/// let claims = validator.verify::<StandardClaims>(&token).await?;
/// assert!(claims.aud.iter().any(|a| a == "my-api"));
///
/// // A tampered token is refused, saying which rule failed.
/// let tampered = format!("{token}x");
/// let error = validator.verify::<StandardClaims>(&tampered).await.unwrap_err();
/// assert!(matches!(error, Error::InvalidSignature | Error::MalformedToken(_)));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Validator {
    inner: Arc<Config>,
}

/// Everything `build()` resolved: issuers, settings, secret and cache.
pub(crate) struct Config {
    /// The trusted issuers with their keys and rules. Dropping their key
    /// stores (with the last validator handle) ends the refresh tasks.
    pub issuers: IssuerTable,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    pub leeway: i64,
    pub max_token_len: usize,
    pub clock: Arc<dyn Clock>,
    pub cache: Option<TokenCache>,
    /// What [`Validator::metrics`] reports.
    pub counters: crate::metrics::Counters,
    /// The RFC 9728 resource this validator protects, if named.
    pub resource: Option<crate::resource::Resource>,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let issuers: Vec<String> = self.issuers().collect();
        f.debug_struct("Validator")
            .field("issuers", &issuers)
            .field("leeway", &self.inner.leeway)
            .finish_non_exhaustive()
    }
}

impl Validator {
    pub(crate) fn from_config(config: Config) -> Self {
        Validator {
            inner: Arc::new(config),
        }
    }

    /// Verifies `token` (the part after `Bearer `) and returns its claims
    /// as `C`.
    ///
    /// A `kid` the current keys do not know triggers a JWKS refetch that
    /// all concurrent misses share (at most one per cooldown); this waits
    /// for it, bounded by the fetch timeout.
    ///
    /// # Errors
    ///
    /// The rule that refused the token ([`ErrorKind::InvalidToken`]), or
    /// [`Error::KeysUnavailable`] when no usable keys are loaded.
    ///
    /// [`ErrorKind::InvalidToken`]: crate::ErrorKind::InvalidToken
    pub async fn verify<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
    ) -> Result<Claims<C>, Error> {
        match self.check(token, UnknownKid::Wait) {
            Outcome::Verified(claims) => Ok(claims),
            Outcome::Rejected(error) => Err(error),
            Outcome::WaitForKeys(wait) => self.verify_after(token, wait).await,
        }
    }

    /// Verifies `token` with the keys held right now, without waiting for
    /// any fetch: for synchronous callers such as a tonic interceptor. An
    /// unknown `kid` still asks the background refresh task for the shared
    /// refetch (cooldown permitting), so a rotated key is picked up by the
    /// next request. Works outside a tokio runtime.
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify); an unknown `kid` is
    /// [`Error::UnknownKey`] at once.
    pub fn try_verify<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
    ) -> Result<Claims<C>, Error> {
        match self.check(token, UnknownKid::Refuse) {
            Outcome::Verified(claims) => Ok(claims),
            Outcome::Rejected(error) => Err(error),
            // Not produced in this mode.
            Outcome::WaitForKeys(_) => Err(Error::UnknownKey),
        }
    }

    /// The key set the first issuer's tokens are verified against right
    /// now (its first key source, when it has several): its `kid`s, and
    /// the keys that were skipped and why.
    pub fn keys(&self) -> Arc<KeySet> {
        self.inner.issuers.first().keys.snapshot()
    }

    /// The state of the key source: last fetch, last error, keys, next
    /// refresh. Cheap; meant for readiness endpoints. With several key
    /// stores (issuers with different JWKS URLs), the least ready one's
    /// state, with the keys and fetches of all; each one is in
    /// [`health_by_issuer`](Self::health_by_issuer).
    pub fn health(&self) -> Health {
        let stores = self.inner.issuers.stores();
        let mut healths = stores.iter().map(|store| store.health());
        let first = healths.next().expect("a validator has an issuer");
        healths.fold(first, Health::merge)
    }

    /// Each trusted issuer (as configured; a multi-tenant one with
    /// `{tenantid}`) with the state of its key store.
    pub fn health_by_issuer(&self) -> Vec<(String, Health)> {
        self.inner
            .issuers
            .iter()
            .map(|entry| (entry.claims.issuer.to_string(), entry.keys.health()))
            .collect()
    }

    /// What this validator (and its clones) did since `build()`: tokens
    /// verified, cache hits, refusals by reason, key fetches and their
    /// failures. Cheap; see [`Metrics`](crate::Metrics).
    pub fn metrics(&self) -> crate::Metrics {
        let stores = self.inner.issuers.stores();
        let fetches = stores
            .iter()
            .map(|s| s.fetch_counts())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        self.inner.counters.snapshot(fetches.0, fetches.1)
    }

    /// Counts a request the layer refused before the validator saw a
    /// token (none, or an unreadable one).
    pub(crate) fn count_rejection(&self, error: &Error) {
        self.inner.counters.rejected(error);
    }

    /// Number of tokens in the verified-token cache.
    pub fn cached_tokens(&self) -> usize {
        self.inner.cache.as_ref().map_or(0, TokenCache::len)
    }

    /// The trusted issuers, as configured (a multi-tenant one with
    /// `{tenantid}`), in order.
    pub fn issuers(&self) -> impl Iterator<Item = String> + '_ {
        self.inner
            .issuers
            .iter()
            .map(|e| e.claims.issuer.to_string())
    }

    /// The trusted issuer at `index` (as `Verdict::issuer` gives it), as
    /// requirements see it.
    #[inline]
    pub(crate) fn grant_issuer(&self, index: usize) -> crate::claims::GrantIssuer<'_> {
        self.inner.issuers.get(index).grant_issuer()
    }

    /// The resource identifier given to
    /// [`ValidatorBuilder::resource`](crate::ValidatorBuilder::resource), as written.
    pub fn resource_uri(&self) -> Option<&str> {
        self.inner.resource.as_ref().map(|r| &*r.uri)
    }

    /// The absolute URL of the resource's RFC 9728 metadata document
    /// (§3.1), which every challenge of the layer names in
    /// `resource_metadata` (§5.1); `None` without a
    /// [`resource`](crate::ValidatorBuilder::resource).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oidc_bearer::Error> {
    /// # let provider = oidc_bearer_testkit::TestIssuer::start().await;
    /// let validator = oidc_bearer::Validator::builder()
    ///     .issuer(&provider.issuer)
    ///     .audience("my-api")
    ///     .jwks_url(&provider.jwks_url)
    ///     .resource("https://api.example.com/mcp")
    ///     .build()
    ///     .await?;
    /// assert_eq!(
    ///     validator.resource_metadata_url(),
    ///     Some("https://api.example.com/.well-known/oauth-protected-resource/mcp")
    /// );
    /// # Ok(()) }
    /// ```
    pub fn resource_metadata_url(&self) -> Option<&str> {
        self.inner.resource.as_ref().map(|r| &*r.metadata_url)
    }

    pub(crate) fn resource(&self) -> Option<&crate::resource::Resource> {
        self.inner.resource.as_ref()
    }

    pub(crate) fn issuer_table(&self) -> &IssuerTable {
        &self.inner.issuers
    }

    /// The clock `exp`, `nbf` and `iat` are checked against.
    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.inner.clock
    }

    /// Now, by the validator's clock.
    pub(crate) fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    /// The leeway on time checks, in seconds.
    pub(crate) fn leeway(&self) -> i64 {
        self.inner.leeway
    }

    /// The longest token accepted, in bytes.
    pub(crate) fn max_token_len(&self) -> usize {
        self.inner.max_token_len
    }
}
