//! The verification pipeline as a plain function: `&str` → `Claims<C>`.
//!
//! No HTTP types here: the same [`Validator`] serves the tower layer, a gRPC
//! interceptor, a WebSocket handshake or a queue consumer.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use serde::de::DeserializeOwned;

use crate::algorithm::Algorithm;
use crate::cache::TokenCache;
use crate::claims::{self, Claims, Registered};
use crate::clock::{Clock, SystemClock};
use crate::discovery;
use crate::error::Error;
use crate::jwks::{self, HttpOptions};
use crate::keys::KeySet;
use crate::store::{self, Health, KeyStore, RefreshPolicy, Remote};
use crate::token;

type Rule = Arc<dyn Fn(&serde_json::Value) -> Result<(), String> + Send + Sync>;

/// Verifies bearer tokens: signature against the provider's keys, then
/// `iss`, `aud`, `exp`, `nbf`, `iat` and any extra rules.
///
/// Cheap to clone (one `Arc`); clones share keys and configuration.
///
/// ```no_run
/// # async fn run() -> Result<(), oidc_bearer::Error> {
/// use oidc_bearer::{StandardClaims, Validator};
///
/// let validator = Validator::builder()
///     .issuer("https://login.example.com/realms/demo")
///     .audience("my-api")
///     .jwks_url("https://login.example.com/realms/demo/protocol/openid-connect/certs")
///     .build()
///     .await?;
///
/// // Without tower: a gRPC interceptor, a WebSocket handshake, ...
/// # let token = "";
/// let claims = validator.verify::<StandardClaims>(token).await?;
/// println!("hello {:?}", claims.sub);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: Box<str>,
    audiences: Vec<Box<str>>,
    skip_audience: bool,
    leeway: i64,
    required_typ: Option<Box<str>>,
    required_claims: Vec<Box<str>>,
    rules: Vec<Rule>,
    max_token_len: usize,
    clock: Arc<dyn Clock>,
    keys: Arc<KeyStore>,
    hmac: Option<HmacKeys>,
    cache: Option<TokenCache>,
    /// Dropping it (with the last validator handle) ends the refresh task.
    _shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

struct HmacKeys {
    hs256: hmac::Key,
    hs384: hmac::Key,
    hs512: hmac::Key,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("issuer", &self.inner.issuer)
            .field("audiences", &self.inner.audiences)
            .field("leeway", &self.inner.leeway)
            .field("keys", &self.inner.keys.snapshot().len())
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

    /// Verifies `token` (the part after `Bearer `) and returns its claims
    /// as `C`.
    ///
    /// A `kid` the current keys do not know triggers a JWKS refetch that
    /// all concurrent misses share (at most one per cooldown); this waits
    /// for it, bounded by the fetch timeout.
    pub async fn verify<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
    ) -> Result<Claims<C>, Error> {
        match self.verify_inner(token) {
            Err(Error::UnknownKey) => {
                if let Some(kid) = self.refetch_kid(token) {
                    self.inner.keys.refetch_for(&kid).await;
                }
                self.finish(self.verify_inner(token))
            }
            other => self.finish(other),
        }
    }

    /// Verifies `token` with the keys held right now, without waiting for
    /// any fetch: for synchronous callers such as a tonic interceptor. An
    /// unknown `kid` still starts the shared refetch in the background (when
    /// called inside a tokio runtime), so a rotated key is picked up.
    pub fn try_verify<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
    ) -> Result<Claims<C>, Error> {
        let result = self.verify_inner(token);
        if matches!(result, Err(Error::UnknownKey))
            && let (Some(kid), Ok(runtime)) = (
                self.refetch_kid(token),
                tokio::runtime::Handle::try_current(),
            )
        {
            let keys = self.inner.keys.clone();
            runtime.spawn(async move { keys.refetch_for(&kid).await });
        }
        self.finish(result)
    }

    pub(crate) fn finish<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        if let Err(e) = &result {
            // The reason only: never the token, never its unverified claims.
            tracing::debug!(reason = %e, "bearer token rejected");
        }
        result
    }

    /// The `kid` whose absence is worth a refetch: only for remote key
    /// sources and tokens that name one.
    pub(crate) fn refetch_kid(&self, token: &str) -> Option<String> {
        if !self.inner.keys.is_remote() {
            return None;
        }
        let parts = token::split(token, self.inner.max_token_len).ok()?;
        let header = token::decode_header(parts.header).ok()?;
        header.kid.map(String::from)
    }

    /// The first verification step alone, without refetch or logging: the
    /// layer uses it to decide whether to take the slow path.
    pub(crate) fn verify_now<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
    ) -> Result<Claims<C>, Error> {
        self.verify_inner(token)
    }

    /// The slow path after an unknown `kid`: wait for the shared refetch,
    /// then verify again.
    pub(crate) async fn verify_after_refetch<C: DeserializeOwned + Send + Sync + 'static>(
        self,
        token: String,
        kid: String,
    ) -> Result<Claims<C>, Error> {
        self.inner.keys.refetch_for(&kid).await;
        self.finish(self.verify_inner(&token))
    }

    /// The key set requests are verified against right now.
    pub fn keys(&self) -> Arc<KeySet> {
        self.inner.keys.snapshot()
    }

    /// The state of the key source: last fetch, last error, keys, next
    /// refresh. Cheap; meant for readiness endpoints.
    pub fn health(&self) -> Health {
        self.inner.keys.health()
    }

    /// Number of tokens in the verified-token cache.
    pub fn cached_tokens(&self) -> usize {
        self.inner.cache.as_ref().map_or(0, TokenCache::len)
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    fn verify_inner<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
    ) -> Result<Claims<C>, Error> {
        let cfg = &*self.inner;
        // One span per verification; disabled levels cost a branch.
        let _span = tracing::debug_span!("oidc_bearer.verify").entered();
        if token.len() > cfg.max_token_len {
            return Err(Error::TokenTooLarge);
        }
        let now = cfg.clock.now();
        if let Some(cache) = &cfg.cache {
            // Keys that are unavailable or too old refuse cached tokens too.
            let keys = cfg.keys.load()?;
            if let Some(hit) = cache.get::<C>(token, now, cfg.leeway, &keys) {
                return Ok(hit);
            }
        }
        let parts = token::split(token, cfg.max_token_len)?;
        let header = token::decode_header(parts.header)?;
        if header.alg.is_hmac() && cfg.hmac.is_none() {
            return Err(Error::UnsupportedAlgorithm);
        }
        if let Some(expected) = &cfg.required_typ {
            match &header.typ {
                Some(actual) if token::typ_matches(actual, expected) => {}
                _ => return Err(Error::InvalidType),
            }
        }

        let payload = token::decode_part(parts.payload, "payload is not base64url")?;
        if payload.trim_ascii_start().first() != Some(&b'{') {
            return Err(Error::MalformedToken("claims are not a JSON object"));
        }
        let reg: Registered<'_> = serde_json::from_slice(&payload)
            .map_err(|_| Error::InvalidClaim(claims::wrong_type_claim(&payload)))?;

        // The registered claims are checked before the signature: they are
        // cheap, so an expired or misdirected token is refused without
        // paying for the public-key operation. A token is accepted only when
        // every check passes, so the order does not loosen anything.
        let iss = self.check_registered(&reg, now)?;

        let signature = token::decode_part(parts.signature, "signature is not base64url")?;
        let verified_by = self.check_signature(
            &header,
            iss,
            reg.tid.as_deref(),
            parts.signing_input,
            &signature,
        )?;

        if !cfg.required_claims.is_empty() {
            let names = claims::claim_names(&payload)
                .ok_or(Error::MalformedToken("claims are not a JSON object"))?;
            for required in &cfg.required_claims {
                if !names.iter().any(|n| **n == **required) {
                    return Err(Error::MissingClaim(required.to_string()));
                }
            }
        }
        if !cfg.rules.is_empty() {
            let value: serde_json::Value =
                serde_json::from_slice(&payload).map_err(|_| Error::InvalidClaims)?;
            for rule in &cfg.rules {
                rule(&value).map_err(Error::Rejected)?;
            }
        }

        let claims =
            Claims::new(serde_json::from_slice::<C>(&payload).map_err(|_| Error::InvalidClaims)?);
        if let (Some(cache), Some(exp)) = (&cfg.cache, reg.exp) {
            cache.insert(token, &claims, exp, reg.nbf, verified_by);
        }
        Ok(claims)
    }

    /// `exp` (required), `nbf`, `iat`, `iss`, `aud`. Returns the issuer.
    fn check_registered<'r>(&self, reg: &'r Registered<'_>, now: i64) -> Result<&'r str, Error> {
        let cfg = &*self.inner;
        let exp = reg.exp.ok_or_else(|| Error::MissingClaim("exp".into()))?;
        if now >= exp.saturating_add(cfg.leeway) {
            return Err(Error::Expired);
        }
        if let Some(nbf) = reg.nbf
            && now.saturating_add(cfg.leeway) < nbf
        {
            return Err(Error::NotYetValid);
        }
        if let Some(iat) = reg.iat
            && iat > now.saturating_add(cfg.leeway)
        {
            return Err(Error::IssuedInFuture);
        }
        let iss = reg
            .iss
            .as_deref()
            .ok_or_else(|| Error::MissingClaim("iss".into()))?;
        if iss != &*cfg.issuer {
            return Err(Error::InvalidIssuer);
        }
        if !cfg.skip_audience {
            match &reg.aud {
                None => return Err(Error::MissingClaim("aud".into())),
                Some(aud) if !aud.contains_any(&cfg.audiences) => {
                    return Err(Error::InvalidAudience);
                }
                Some(_) => {}
            }
        }
        Ok(iss)
    }

    fn check_signature(
        &self,
        header: &token::Header,
        iss: &str,
        tid: Option<&str>,
        signing_input: &str,
        signature: &[u8],
    ) -> Result<Option<Arc<str>>, Error> {
        let cfg = &*self.inner;
        if header.alg.is_hmac() {
            let keys = cfg.hmac.as_ref().ok_or(Error::UnsupportedAlgorithm)?;
            let key = match header.alg {
                Algorithm::HS256 => &keys.hs256,
                Algorithm::HS384 => &keys.hs384,
                _ => &keys.hs512,
            };
            hmac::verify(key, signing_input.as_bytes(), signature)
                .map_err(|_| Error::InvalidSignature)?;
            // HMAC tokens are bound to the secret, not to a published key.
            return Ok(None);
        }
        let set = cfg.keys.load()?;
        let key = set.select(header.kid.as_deref(), header.alg)?;
        let verifier = key.verifier(header.alg).ok_or(Error::AlgorithmMismatch)?;
        if let Some(bound) = &key.issuer
            && !issuer_matches(bound, iss, tid)
        {
            return Err(Error::InvalidIssuer);
        }
        verifier
            .verify_sig(signing_input.as_bytes(), signature)
            .map_err(|_| Error::InvalidSignature)?;
        // The kid of the key that verified, so cached results can be
        // dropped when that key leaves the set.
        Ok(key.kid.clone())
    }
}

/// A key bound to an issuer (Entra's JWK `issuer` member) only verifies
/// tokens of that issuer; `{tenantid}` stands for the token's `tid`.
fn issuer_matches(bound: &str, iss: &str, tid: Option<&str>) -> bool {
    match bound.split_once("{tenantid}") {
        None => bound == iss,
        Some((prefix, suffix)) => tid.is_some_and(|tid| {
            iss.len() == prefix.len() + tid.len() + suffix.len()
                && iss.starts_with(prefix)
                && iss.ends_with(suffix)
                && &iss[prefix.len()..prefix.len() + tid.len()] == tid
        }),
    }
}

enum KeySource {
    Discovery,
    JwksUrl(String),
    JwksJson(Vec<u8>),
    Pem { pem: String, kid: Option<String> },
}

/// Configures a [`Validator`]. Mistakes are reported by
/// [`build`](Self::build), with a message that says what to change.
pub struct ValidatorBuilder {
    issuer: Option<String>,
    audiences: Vec<String>,
    skip_audience: bool,
    source: Option<KeySource>,
    hmac_secret: Option<Vec<u8>>,
    leeway: Duration,
    required_typ: Option<String>,
    required_claims: Vec<String>,
    rules: Vec<Rule>,
    max_token_len: usize,
    clock: Arc<dyn Clock>,
    http: HttpOptions,
    policy: RefreshPolicy,
    provider_url: Option<String>,
    start_without_keys: bool,
    cache_size: usize,
}

impl Default for ValidatorBuilder {
    fn default() -> Self {
        ValidatorBuilder {
            issuer: None,
            audiences: Vec::new(),
            skip_audience: false,
            source: None,
            hmac_secret: None,
            leeway: Duration::from_secs(60),
            required_typ: None,
            required_claims: Vec::new(),
            rules: Vec::new(),
            max_token_len: 8 * 1024,
            clock: Arc::new(SystemClock),
            http: HttpOptions::default(),
            policy: RefreshPolicy::default(),
            provider_url: None,
            start_without_keys: false,
            cache_size: 10_000,
        }
    }
}

impl fmt::Debug for ValidatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatorBuilder")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

impl ValidatorBuilder {
    /// The exact `iss` the provider puts in tokens (required). Compared
    /// byte for byte: `https://sts.windows.net/{tid}/` keeps its slash.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// An accepted audience; call again to accept several. A token passes
    /// when its `aud` (string or array) contains one of them.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Accept tokens whatever their `aud`. Only for APIs that check the
    /// audience some other way (e.g. Keycloak's `azp`): any token the
    /// issuer signed for any client is otherwise accepted.
    pub fn insecure_skip_audience(mut self) -> Self {
        self.skip_audience = true;
        self
    }

    /// Find the keys through OpenID Connect discovery (the default when no
    /// other key source is set): `{issuer}/.well-known/openid-configuration`
    /// must name the configured issuer exactly, and its `jwks_uri` is used.
    /// Replaces any earlier key source.
    pub fn discovery(mut self) -> Self {
        self.source = Some(KeySource::Discovery);
        self
    }

    /// Where this service reaches the provider, when that differs from the
    /// issuer in tokens — e.g. Keycloak at `http://keycloak:8080/realms/x`
    /// inside the cluster while tokens say `https://auth.example.com/realms/x`.
    ///
    /// Discovery is fetched from `{url}/.well-known/openid-configuration`,
    /// its `issuer` must still equal [`issuer`](Self::issuer), and a
    /// `jwks_uri` under the public issuer is fetched from `url` instead.
    /// Tokens are checked against the configured issuer, unchanged.
    /// (`http` to a non-loopback host also needs
    /// [`allow_insecure_http`](Self::allow_insecure_http).)
    pub fn provider_url(mut self, url: impl Into<String>) -> Self {
        self.provider_url = Some(url.into());
        self
    }

    /// Fetch the signing keys from this JWKS URL. Replaces any earlier key
    /// source. Must be `https`, or `http` on a loopback host.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.source = Some(KeySource::JwksUrl(url.into()));
        self
    }

    /// Use this JWKS document (`{"keys":[…]}`) as a fixed key set.
    /// Replaces any earlier key source.
    pub fn jwks_json(mut self, json: impl Into<Vec<u8>>) -> Self {
        self.source = Some(KeySource::JwksJson(json.into()));
        self
    }

    /// Use one PEM public key (`PUBLIC KEY`, `CERTIFICATE`, or the bare
    /// base64 Keycloak's realm endpoint shows). With `kid`, only tokens
    /// naming that `kid` (or none) are verified with it; without, it is the
    /// one key for every token. Replaces any earlier key source.
    pub fn pem_key(mut self, pem: impl Into<String>, kid: Option<&str>) -> Self {
        self.source = Some(KeySource::Pem {
            pem: pem.into(),
            kid: kid.map(str::to_owned),
        });
        self
    }

    /// Also accept HS256/HS384/HS512 tokens signed with this shared secret.
    /// HMAC is never used with keys from a JWKS.
    pub fn hmac_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.hmac_secret = Some(secret.into());
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Require this header `typ`, e.g. `"at+jwt"` for RFC 9068 access
    /// tokens (compared case-insensitively, `application/` optional).
    pub fn require_type(mut self, typ: impl Into<String>) -> Self {
        self.required_typ = Some(typ.into());
        self
    }

    /// Require these claims to be present (any value).
    pub fn require_claims<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.required_claims
            .extend(names.into_iter().map(Into::into));
        self
    }

    /// A custom check on the verified claims; `Err(reason)` refuses the
    /// token with 401 and the reason as `error_description`. Runs after the
    /// signature and registered claims passed; parses the claims into a
    /// `serde_json::Value` once per token when any rule is set.
    pub fn rule<F>(mut self, rule: F) -> Self
    where
        F: Fn(&serde_json::Value) -> Result<(), String> + Send + Sync + 'static,
    {
        self.rules.push(Arc::new(rule));
        self
    }

    /// Longest token accepted, in bytes (default 8 KiB), checked before
    /// any decoding.
    pub fn max_token_len(mut self, bytes: usize) -> Self {
        self.max_token_len = bytes;
        self
    }

    /// The clock `exp`, `nbf` and `iat` are checked against.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Timeout for each discovery or JWKS request (default 5 s).
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http.timeout = timeout;
        self
    }

    /// Largest discovery or JWKS document accepted (default 1 MiB).
    pub fn max_document_size(mut self, bytes: usize) -> Self {
        self.http.max_body = bytes;
        self
    }

    /// Allow plain `http` URLs on non-loopback hosts. Keys fetched over
    /// http can be swapped by anyone on the network path.
    pub fn allow_insecure_http(mut self) -> Self {
        self.http.allow_insecure_http = true;
        self
    }

    /// Start even when the first key fetch fails: requests then get 503
    /// with `Retry-After` (not 401: their tokens may be fine) while the
    /// refresh task keeps retrying with backoff.
    pub fn start_without_keys(mut self) -> Self {
        self.start_without_keys = true;
        self
    }

    /// At most one JWKS refetch for unknown `kid`s per this period
    /// (default 30 s). Misses during the cooldown fail at once.
    pub fn kid_refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.policy.kid_cooldown = cooldown;
        self
    }

    /// Clamp for the refresh interval taken from `Cache-Control: max-age`
    /// (default 5 min to 24 h).
    pub fn refresh_interval_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.policy.min_interval = min;
        self.policy.max_interval = max.max(min);
        self
    }

    /// Refresh interval when the JWKS response has no `max-age`
    /// (default 1 h). Jittered by ±10 %.
    pub fn default_refresh_interval(mut self, interval: Duration) -> Self {
        self.policy.default_interval = interval;
        self
    }

    /// Retry delays after failed fetches: `initial`, doubling up to `max`
    /// (default 1 s to 5 min), jittered by ±10 %.
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.policy.backoff_initial = initial;
        self.policy.backoff_max = max.max(initial);
        self
    }

    /// How long the last good keys keep verifying while the provider is
    /// unreachable (default 24 h since the last successful fetch). Past it,
    /// requests get 503.
    pub fn max_key_age(mut self, age: Duration) -> Self {
        self.policy.max_stale = age;
        self
    }

    /// How many verified tokens to remember (default 10,000; 0 turns the
    /// cache off). A remembered token skips the signature check while its
    /// `exp`/`nbf` still hold and its key is still published.
    pub fn token_cache_size(mut self, tokens: usize) -> Self {
        self.cache_size = tokens;
        self
    }

    /// Checks the configuration, loads the keys and returns the validator.
    ///
    /// Fails when the issuer or the audience is missing, a URL breaks the
    /// transport policy, or the first key fetch fails.
    pub async fn build(self) -> Result<Validator, Error> {
        let issuer = self.issuer.ok_or_else(|| {
            Error::Config(
                "no issuer: call .issuer(...) with the exact `iss` your provider puts in tokens"
                    .into(),
            )
        })?;
        if issuer.is_empty() {
            return Err(Error::Config("the issuer is empty".into()));
        }
        if self.audiences.is_empty() && !self.skip_audience {
            return Err(Error::Config(
                "no audience: call .audience(...) with your API's identifier (client id or \
                 App ID URI), or .insecure_skip_audience() to accept any audience"
                    .into(),
            ));
        }
        if self.max_token_len == 0 {
            return Err(Error::Config("max_token_len must be above zero".into()));
        }
        if self.provider_url.is_some() && !matches!(self.source, None | Some(KeySource::Discovery))
        {
            return Err(Error::Config(
                "provider_url() only changes where discovery is fetched from, but the keys \
                 come from jwks_url(), jwks_json() or pem_key(): remove one of the two"
                    .into(),
            ));
        }
        let mut shutdown = None;
        let remote = |jwks_url: Option<reqwest::Url>, discovery: Option<(String, String)>| {
            Ok::<_, Error>(Remote {
                client: jwks::client(&self.http)?,
                options: self.http.clone(),
                jwks_url: std::sync::Mutex::new(jwks_url),
                discovery,
            })
        };
        let remote = match self.source {
            Some(KeySource::JwksJson(json)) => {
                let set = KeySet::from_jwks(&json)?;
                if set.is_empty() {
                    return Err(Error::InvalidKey(
                        "the JWKS given to jwks_json() holds no usable signing key".into(),
                    ));
                }
                Err(KeyStore::new_static(set))
            }
            Some(KeySource::Pem { pem, kid }) => Err(KeyStore::new_static(KeySet::from_pem(
                &pem,
                kid.as_deref(),
            )?)),
            None if self.hmac_secret.is_some() => Err(KeyStore::new_static(KeySet::default())),
            Some(KeySource::JwksUrl(url)) => Ok(remote(
                Some(jwks::check_url(&url, self.http.allow_insecure_http)?),
                None,
            )?),
            Some(KeySource::Discovery) | None => {
                let base = self.provider_url.clone().unwrap_or_else(|| issuer.clone());
                // Check the policy now so a bad URL fails here, not later.
                jwks::check_url(
                    &discovery::discovery_url(&base),
                    self.http.allow_insecure_http,
                )?;
                Ok(remote(None, Some((issuer.clone(), base)))?)
            }
        };
        let keys = match remote {
            Err(static_store) => Arc::new(static_store),
            Ok(remote) => {
                let store = Arc::new(KeyStore::new_remote(remote, self.policy));
                match store.refresh().await {
                    Ok(_) => {}
                    Err((error, _)) if self.start_without_keys => {
                        tracing::warn!(%error, "starting without signing keys; requests get 503 until a fetch succeeds");
                    }
                    Err((error, _)) => return Err(error),
                }
                let (tx, rx) = tokio::sync::oneshot::channel();
                store::spawn_refresh(&store, rx);
                shutdown = Some(tx);
                store
            }
        };
        let hmac = match self.hmac_secret {
            Some(secret) if secret.len() < 32 => {
                return Err(Error::Config(
                    "the HMAC secret must be at least 32 bytes".into(),
                ));
            }
            Some(secret) => Some(HmacKeys {
                hs256: hmac::Key::new(hmac::HMAC_SHA256, &secret),
                hs384: hmac::Key::new(hmac::HMAC_SHA384, &secret),
                hs512: hmac::Key::new(hmac::HMAC_SHA512, &secret),
            }),
            None => None,
        };
        Ok(Validator {
            inner: Arc::new(Inner {
                issuer: issuer.into(),
                audiences: self.audiences.into_iter().map(Into::into).collect(),
                skip_audience: self.skip_audience,
                leeway: i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX),
                required_typ: self.required_typ.map(Into::into),
                required_claims: self.required_claims.into_iter().map(Into::into).collect(),
                rules: self.rules,
                max_token_len: self.max_token_len,
                clock: self.clock,
                keys,
                hmac,
                cache: (self.cache_size > 0).then(|| TokenCache::new(self.cache_size)),
                _shutdown: shutdown,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_templates() {
        let t = "https://login.microsoftonline.com/{tenantid}/v2.0";
        assert!(issuer_matches(
            t,
            "https://login.microsoftonline.com/abc/v2.0",
            Some("abc")
        ));
        assert!(!issuer_matches(
            t,
            "https://login.microsoftonline.com/abc/v2.0",
            Some("xyz")
        ));
        assert!(!issuer_matches(
            t,
            "https://login.microsoftonline.com/abc/v2.0",
            None
        ));
        assert!(issuer_matches("https://a/", "https://a/", None));
        assert!(!issuer_matches("https://a/", "https://a", None));
    }
}
