//! The verification pipeline: a token in, one [`Outcome`] out.
//!
//! No HTTP types here: the same [`Validator`] serves the tower layer, a gRPC
//! interceptor, a WebSocket handshake or a queue consumer. The steps, in
//! order: size, verified-token cache, compact JWS split, JOSE header
//! (`alg`, `kid`, `typ`, `crit`), key by `kid` and `alg`, signature, then
//! the registered claims (`exp`, `nbf`, `iat`, `iss`, `aud`), the key's
//! issuer binding, required claims, custom rules and the caller's `C`.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::algorithm::Algorithm;
use crate::builder::ValidatorBuilder;
use crate::cache::TokenCache;
use crate::claims::{self, Claims, Registered, key_accepts};
use crate::clock::Clock;
use crate::error::Error;
use crate::issuers::{IssuerEntry, IssuerTable};
use crate::jwks::{Health, Ticket};
use crate::keys::{HmacKeys, KeySet, VerifyingKey};
use crate::layer::OidcBearerLayer;
use crate::token::{self, Compact, Header, HeaderBuf};

pub(crate) type Rule = Arc<dyn Fn(&serde_json::Value) -> Result<(), String> + Send + Sync>;

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
    pub hmac: Option<HmacKeys>,
    pub cache: Option<TokenCache>,
}

/// What one verification step decided.
pub(crate) enum Outcome<C> {
    /// The token is good: its claims.
    Verified(Claims<C>),
    /// The token is refused, or there are no keys to check it with.
    Rejected(Error),
    /// The token names a `kid` the keys do not hold, and a refetch of the
    /// key set has been asked for: wait for it with
    /// [`Validator::verify_after`], which verifies again.
    WaitForKeys(KeyWait),
}

/// What the wait for an unknown `kid` needs, decoded once: the `kid`, the
/// header's `alg`, the issuer selected, and the place in the queue for the
/// shared refetch.
pub(crate) struct KeyWait {
    kid: Box<str>,
    alg: Algorithm,
    issuer: usize,
    ticket: Ticket,
}

/// Whether a step may answer [`Outcome::WaitForKeys`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnknownKid {
    /// The caller can wait (`verify`, the layer).
    Wait,
    /// The caller cannot (`try_verify`): the refetch is still asked for,
    /// so the next request sees a rotated key, but this one is refused.
    Refuse,
}

/// Why the pipeline stopped, before it is made an [`Outcome`].
enum Failure {
    Rejected(Error),
    UnknownKid {
        kid: Box<str>,
        alg: Algorithm,
        issuer: usize,
    },
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Rejected(error)
    }
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
    /// Starts configuring a validator.
    pub fn builder() -> ValidatorBuilder {
        ValidatorBuilder::default()
    }

    /// Starts configuring a validator for `issuer`, whose keys are found
    /// through OpenID Connect discovery at
    /// `{issuer}/.well-known/openid-configuration` (the default whenever no
    /// other key source is set).
    pub fn discover(issuer: impl Into<String>) -> ValidatorBuilder {
        ValidatorBuilder::default().issuer(issuer)
    }

    pub(crate) fn from_config(config: Config) -> Self {
        Validator {
            inner: Arc::new(config),
        }
    }

    /// A tower layer that verifies bearer tokens with this validator and
    /// hands handlers the claims as `Claims<C>` (see [`OidcBearerLayer`]).
    pub fn layer<C>(&self) -> OidcBearerLayer<C> {
        OidcBearerLayer::new(self.clone())
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
    /// now: its `kid`s, and the keys that were skipped and why.
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

    /// The longest token accepted, in bytes.
    pub(crate) fn max_token_len(&self) -> usize {
        self.inner.max_token_len
    }

    /// The clock `exp`, `nbf` and `iat` are checked against, for DPoP
    /// proofs' `iat` and nonces.
    pub(crate) fn clock(&self) -> Arc<dyn Clock> {
        self.inner.clock.clone()
    }

    /// One verification step with the keys held now. Logs a rejection,
    /// once: no caller has anything left to log.
    pub(crate) fn check<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
        unknown_kid: UnknownKid,
    ) -> Outcome<C> {
        // One span per verification; disabled levels cost a branch.
        let _span = tracing::debug_span!("oidc_bearer.verify").entered();
        let outcome = match self.run(token) {
            Ok(claims) => Outcome::Verified(claims),
            Err(Failure::Rejected(error)) => Outcome::Rejected(error),
            Err(Failure::UnknownKid { kid, alg, issuer }) => {
                let keys = &self.inner.issuers.get(issuer).keys;
                match (keys.request_refetch(&kid), unknown_kid) {
                    (Some(ticket), UnknownKid::Wait) => {
                        return Outcome::WaitForKeys(KeyWait {
                            kid,
                            alg,
                            issuer,
                            ticket,
                        });
                    }
                    _ => Outcome::Rejected(Error::UnknownKey),
                }
            }
        };
        if let Outcome::Rejected(error) = &outcome {
            log_rejection(error);
        }
        outcome
    }

    /// The rest of a step that answered [`Outcome::WaitForKeys`]: waits for
    /// the shared refetch, then verifies with the keys it brought, using
    /// the header decoded before the wait. Logs a rejection, once.
    pub(crate) async fn verify_after<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
        wait: KeyWait,
    ) -> Result<Claims<C>, Error> {
        let entry = self.inner.issuers.get(wait.issuer);
        entry.keys.wait_for(&wait.kid, wait.ticket).await;
        let _span = tracing::debug_span!("oidc_bearer.verify").entered();
        let header = Header {
            alg: wait.alg,
            kid: Some(Cow::Borrowed(&wait.kid)),
            // Neither is needed any more: `typ` was checked before the
            // wait, and `x5t` only selects when there is no `kid`.
            typ: None,
            x5t: None,
            nonce: false,
        };
        let now = self.inner.clock.now();
        let mut payload = PayloadBuf::new();
        let result = token::split(token, self.inner.max_token_len)
            .map_err(Failure::from)
            .and_then(|parts| {
                let claims = payload.decode(parts.payload)?;
                let issuer = Selected {
                    index: wait.issuer,
                    entry,
                };
                self.verify_signed(token, parts, claims, &header, now, issuer)
            })
            .map_err(|failure| match failure {
                Failure::Rejected(error) => error,
                Failure::UnknownKid { .. } => Error::UnknownKey,
            });
        if let Err(error) = &result {
            log_rejection(error);
        }
        result
    }

    /// The pipeline up to the signature: size, cache, split, header,
    /// issuer selection.
    fn run<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
    ) -> Result<Claims<C>, Failure> {
        let cfg = &*self.inner;
        if token.len() > cfg.max_token_len {
            return Err(Error::TokenTooLarge.into());
        }
        let now = cfg.clock.now();
        if let Some(cache) = &cfg.cache {
            // Keys that are unavailable or too old refuse cached tokens
            // too; a key that left its issuer's set takes its tokens along.
            let key_held = |issuer: usize, key: u64| {
                Ok::<_, Error>(cfg.issuers.get(issuer).keys.load()?.holds(key))
            };
            if let Some(hit) = cache.get::<C, _>(token, now, cfg.leeway, key_held)? {
                return Ok(hit);
            }
        }
        let parts = token::split(token, cfg.max_token_len)?;
        let mut header_buf = HeaderBuf::new();
        let header = token::decode_header(parts.header, &mut header_buf)?;
        if header.alg.is_hmac() && cfg.hmac.is_none() {
            return Err(Error::UnsupportedAlgorithm.into());
        }
        let mut payload = PayloadBuf::new();
        let claims = payload.decode(parts.payload)?;
        let index = cfg.issuers.select(claims, header.nonce)?;
        let entry = cfg.issuers.get(index);
        if let Some(expected) = &entry.required_typ {
            match &header.typ {
                Some(actual) if token::typ_matches(actual, expected) => {}
                _ => return Err(Error::InvalidType.into()),
            }
        }
        let issuer = Selected { index, entry };
        self.verify_signed(token, parts, claims, &header, now, issuer)
    }

    /// The signature, then the claims.
    fn verify_signed<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
        parts: Compact<'_>,
        payload: &[u8],
        header: &Header<'_>,
        now: i64,
        issuer: Selected<'_>,
    ) -> Result<Claims<C>, Failure> {
        let cfg = &*self.inner;
        let entry = issuer.entry;
        // The signature decodes into a stack buffer when it fits (it
        // almost always does): no allocation.
        let mut signature_stack = [0u8; SIGNATURE_STACK];
        let mut signature_heap = Vec::new();
        let signature = token::decode_into(
            parts.signature,
            &mut signature_stack,
            &mut signature_heap,
            "signature is not base64url",
        )?;

        // The signature first: nothing in the payload, least of all the
        // application's claims type, is interpreted before the token is
        // known to come from the issuer's key. (Checking the cheap claims
        // first would only spare honest expired tokens the public-key
        // operation; a forger can always make us pay for it.)
        let keys = match header.alg.is_hmac() {
            true => None,
            false => Some(entry.keys.load()?),
        };
        let key = match self.check_signature(
            keys.as_deref().map(Arc::as_ref),
            header,
            parts.signing_input,
            signature,
        ) {
            Ok(key) => key,
            Err(Error::UnknownKey) => return Err(self.unknown_kid(header, issuer.index, payload)),
            // Say why, so nobody chases keys: the client asked for a Graph
            // scope (`User.Read`) instead of one of this API's.
            Err(Error::InvalidSignature) if header.nonce => {
                return Err(Error::MicrosoftGraphToken.into());
            }
            Err(error) => return Err(error.into()),
        };

        // One pass over the verified claims yields both the registered
        // claims and `C`; when it cannot (odd shapes, any error), the
        // two-pass path below decides, and reports errors, exactly as before.
        let once = std::str::from_utf8(payload)
            .ok()
            .and_then(claims::single_pass::parse::<C>);
        let (reg, parsed): (Registered<'_>, Option<C>) = match once {
            Some((reg, claims)) => (reg, Some(claims)),
            None => (
                serde_json::from_slice(payload)
                    .map_err(|_| Error::InvalidClaim(claims::wrong_type_claim(payload)))?,
                None,
            ),
        };
        let iss = entry.claims.check(&reg, payload, now)?;
        if let Some(bound) = key.and_then(|k| k.issuer.as_deref()) {
            let alias = entry.claims.key_issuer_alias.as_deref();
            if !key_accepts(bound, iss, reg.tid.as_deref(), alias) {
                return Err(Error::InvalidIssuer.into());
            }
        }

        if !entry.required_claims.is_empty() {
            let names = claims::claim_names(payload)
                .ok_or(Error::MalformedToken("claims are not a JSON object"))?;
            for required in entry.required_claims.iter() {
                if !names.iter().any(|n| **n == **required) {
                    return Err(Error::MissingClaim(required.to_string()).into());
                }
            }
        }
        if !entry.rules.is_empty() {
            let value: serde_json::Value =
                serde_json::from_slice(payload).map_err(|_| Error::InvalidClaims)?;
            for rule in entry.rules.iter() {
                rule(&value).map_err(Error::Rejected)?;
            }
        }

        let claims = Claims::new(match parsed {
            Some(claims) => claims,
            None => serde_json::from_slice::<C>(payload).map_err(|_| Error::InvalidClaims)?,
        });
        if let (Some(cache), Some(exp)) = (&cfg.cache, reg.exp) {
            // Bound to the key that verified it, so the entry goes when
            // that key leaves the set (or its kid is reused for another).
            let times = crate::cache::Times {
                exp,
                nbf: reg.nbf,
                iat: reg.iat,
            };
            let key = key.map(|k| (issuer.index, k.fingerprint));
            cache.insert(token, &claims, times, key);
        }
        Ok(claims)
    }

    /// No key for the token: worth waiting for a refetch only when the keys
    /// are fetched, the token names a `kid`, and it names the issuer (a
    /// token of another issuer must not cost a fetch).
    #[cold]
    fn unknown_kid(&self, header: &Header<'_>, issuer: usize, payload: &[u8]) -> Failure {
        let issuers = &self.inner.issuers;
        if let Err(error) = issuers.check_named(issuer, payload, header.nonce) {
            return Failure::Rejected(error);
        }
        match &header.kid {
            Some(kid) if issuers.get(issuer).keys.is_remote() => Failure::UnknownKid {
                kid: kid.as_ref().into(),
                alg: header.alg,
                issuer,
            },
            _ => Failure::Rejected(Error::UnknownKey),
        }
    }

    /// Verifies the signature with the HMAC secret or the key `keys` hold
    /// for the token's `kid` and `alg`. Returns that key (`None` for HMAC,
    /// which is bound to the secret, not to a published key).
    fn check_signature<'k>(
        &self,
        keys: Option<&'k KeySet>,
        header: &Header<'_>,
        signing_input: &str,
        signature: &[u8],
    ) -> Result<Option<&'k VerifyingKey>, Error> {
        let Some(keys) = keys else {
            let secret = self
                .inner
                .hmac
                .as_ref()
                .ok_or(Error::UnsupportedAlgorithm)?;
            secret.verify(header.alg, signing_input.as_bytes(), signature)?;
            return Ok(None);
        };
        let key = keys.select(header.kid.as_deref(), header.x5t.as_deref(), header.alg)?;
        key.verifier(header.alg)
            .ok_or(Error::AlgorithmMismatch)?
            .verify_sig(signing_input.as_bytes(), signature)
            .map_err(|_| Error::InvalidSignature)?;
        Ok(Some(key))
    }
}

/// The reason only: never the token, never its unverified claims.
fn log_rejection(error: &Error) {
    tracing::debug!(reason = %error, "bearer token rejected");
}

/// The issuer a token was matched to, by index (for the cache and the
/// wait) and entry.
#[derive(Clone, Copy)]
struct Selected<'a> {
    index: usize,
    entry: &'a IssuerEntry,
}

/// The decoded payload, on the stack when it fits (it almost always
/// does): no allocation.
struct PayloadBuf {
    stack: [u8; PAYLOAD_STACK],
    heap: Vec<u8>,
}

impl PayloadBuf {
    fn new() -> Self {
        PayloadBuf {
            stack: [0; PAYLOAD_STACK],
            heap: Vec::new(),
        }
    }

    /// The claims JSON of a base64url payload part; an object, or an error.
    #[inline]
    fn decode(&mut self, part: &str) -> Result<&[u8], Error> {
        let payload = token::decode_into(
            part,
            &mut self.stack,
            &mut self.heap,
            "payload is not base64url",
        )?;
        if payload.trim_ascii_start().first() != Some(&b'{') {
            return Err(Error::MalformedToken("claims are not a JSON object"));
        }
        Ok(payload)
    }
}

/// Decoded payloads up to this size stay on the stack (a typical access
/// token's claims are well under 1 KiB; Entra's reach about 1.5 KiB).
const PAYLOAD_STACK: usize = 1536;
/// Signatures up to RSA-4096 (512 bytes, plus the decoder's slack).
const SIGNATURE_STACK: usize = 516;
