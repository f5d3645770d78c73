//! The verification pipeline as a plain function: `&str` → `Claims<C>`.
//!
//! No HTTP types here: the same [`Validator`] serves the tower layer, a gRPC
//! interceptor, a WebSocket handshake or a queue consumer.

use std::borrow::Cow;
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
use crate::keys::{KeySet, VerifyingKey};
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
    /// unknown `kid` still asks the background refresh task for the shared
    /// refetch (cooldown permitting), so a rotated key is picked up by the
    /// next request.
    pub fn try_verify<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
    ) -> Result<Claims<C>, Error> {
        let result = self.verify_inner(token);
        if matches!(result, Err(Error::UnknownKey))
            && let Some(kid) = self.refetch_kid(token)
        {
            // Only asks the refresh task; nothing is spawned or awaited, so
            // a flood of unknown kids costs one fetch per cooldown and no
            // task per request.
            let _ = self.inner.keys.request_refetch(&kid);
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
        let mut buf = token::HeaderBuf::new();
        let header = token::decode_header(parts.header, &mut buf).ok()?;
        header.kid.map(Cow::into_owned)
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

    /// `Retry-After` for a 503: seconds until the next key fetch attempt.
    pub(crate) fn retry_after_secs(&self) -> u64 {
        self.inner.keys.retry_after_secs()
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

    /// One verification with the keys held now, without refetch or
    /// logging: the layer uses it to decide whether to take the slow path.
    pub(crate) fn verify_inner<C: DeserializeOwned + Send + Sync + 'static>(
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
        let mut keys = None;
        if let Some(cache) = &cfg.cache {
            // Keys that are unavailable or too old refuse cached tokens too.
            let loaded = cfg.keys.load()?;
            if let Some(hit) = cache.get::<C>(token, now, cfg.leeway, &loaded) {
                return Ok(hit);
            }
            keys = Some(loaded);
        }
        let parts = token::split(token, cfg.max_token_len)?;
        let mut header_buf = token::HeaderBuf::new();
        let header = token::decode_header(parts.header, &mut header_buf)?;
        if header.alg.is_hmac() && cfg.hmac.is_none() {
            return Err(Error::UnsupportedAlgorithm);
        }
        if let Some(expected) = &cfg.required_typ {
            match &header.typ {
                Some(actual) if token::typ_matches(actual, expected) => {}
                _ => return Err(Error::InvalidType),
            }
        }

        // Payload and signature decode into stack buffers when they fit
        // (they almost always do): no allocation for either.
        let mut payload_stack = [0u8; PAYLOAD_STACK];
        let mut payload_heap = Vec::new();
        let payload = token::decode_into(
            parts.payload,
            &mut payload_stack,
            &mut payload_heap,
            "payload is not base64url",
        )?;
        if payload.trim_ascii_start().first() != Some(&b'{') {
            return Err(Error::MalformedToken("claims are not a JSON object"));
        }
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
        let keys = match (header.alg.is_hmac(), keys) {
            (true, _) => None,
            (false, Some(keys)) => Some(keys),
            (false, None) => Some(cfg.keys.load()?),
        };
        let key = self.check_signature(
            keys.as_deref().map(Arc::as_ref),
            &header,
            parts.signing_input,
            signature,
        )?;

        // One pass over the verified claims yields both the registered
        // claims and `C`; when it cannot (odd shapes, any error), the
        // two-pass path below decides, and reports errors, exactly as before.
        let once = std::str::from_utf8(payload)
            .ok()
            .and_then(single_pass::parse::<C>);
        let (reg, parsed): (Registered<'_>, Option<C>) = match once {
            Some((reg, claims)) => (reg, Some(claims)),
            None => (
                serde_json::from_slice(payload)
                    .map_err(|_| Error::InvalidClaim(claims::wrong_type_claim(payload)))?,
                None,
            ),
        };
        let iss = self.check_registered(&reg, now)?;
        if let Some(bound) = key.and_then(|k| k.issuer.as_deref())
            && !issuer_matches(bound, iss, reg.tid.as_deref())
        {
            return Err(Error::InvalidIssuer);
        }

        if !cfg.required_claims.is_empty() {
            let names = claims::claim_names(payload)
                .ok_or(Error::MalformedToken("claims are not a JSON object"))?;
            for required in &cfg.required_claims {
                if !names.iter().any(|n| **n == **required) {
                    return Err(Error::MissingClaim(required.to_string()));
                }
            }
        }
        if !cfg.rules.is_empty() {
            let value: serde_json::Value =
                serde_json::from_slice(payload).map_err(|_| Error::InvalidClaims)?;
            for rule in &cfg.rules {
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
            cache.insert(token, &claims, exp, reg.nbf, key.map(|k| k.fingerprint));
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

    /// Verifies the signature with the HMAC secret or the key `keys` hold
    /// for the token's `kid` and `alg`. Returns that key (`None` for HMAC,
    /// which is bound to the secret, not to a published key).
    fn check_signature<'k>(
        &self,
        keys: Option<&'k KeySet>,
        header: &token::Header<'_>,
        signing_input: &str,
        signature: &[u8],
    ) -> Result<Option<&'k VerifyingKey>, Error> {
        let Some(keys) = keys else {
            let secrets = self
                .inner
                .hmac
                .as_ref()
                .ok_or(Error::UnsupportedAlgorithm)?;
            let secret = match header.alg {
                Algorithm::HS256 => &secrets.hs256,
                Algorithm::HS384 => &secrets.hs384,
                Algorithm::HS512 => &secrets.hs512,
                _ => return Err(Error::UnsupportedAlgorithm),
            };
            hmac::verify(secret, signing_input.as_bytes(), signature)
                .map_err(|_| Error::InvalidSignature)?;
            return Ok(None);
        };
        let key = keys.select_with_x5t(header.kid.as_deref(), header.x5t.as_deref(), header.alg)?;
        key.verifier(header.alg)
            .ok_or(Error::AlgorithmMismatch)?
            .verify_sig(signing_input.as_bytes(), signature)
            .map_err(|_| Error::InvalidSignature)?;
        Ok(Some(key))
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

/// Decoded payloads up to this size stay on the stack (a typical access
/// token's claims are well under 1 KiB; Entra's reach about 1.5 KiB).
const PAYLOAD_STACK: usize = 1536;
/// Signatures up to RSA-4096 (512 bytes, plus the decoder's slack).
const SIGNATURE_STACK: usize = 516;

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
        for (knob, value) in [
            ("default_refresh_interval()", self.policy.default_interval),
            (
                "refresh_interval_bounds() minimum",
                self.policy.min_interval,
            ),
            ("retry_backoff() initial delay", self.policy.backoff_initial),
        ] {
            if value.is_zero() {
                return Err(Error::Config(format!(
                    "{knob} is zero: the refresh task would fetch the JWKS in a busy loop"
                )));
            }
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
                match store.first_fetch().await {
                    Ok(()) => {}
                    Err(error) if self.start_without_keys => {
                        tracing::warn!(%error, "starting without signing keys; requests get 503 until a fetch succeeds");
                    }
                    Err(error) => return Err(error),
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

/// The claims parsed once: the registered claims the validator checks and
/// the caller's `C`, from one pass of `serde_json` over the payload.
///
/// The caller's type drives the parse; the top-level object's members are
/// watched on the way, and the six registered ones (`iss`, `aud`, `exp`,
/// `nbf`, `iat`, `tid`) are captured and handed to `C` as well. Anything
/// unexpected — a `C` that is not a map or a struct, a registered claim of
/// an odd shape, a duplicate, any error at all — returns `None`, and the
/// caller takes the two-pass path, whose results (and errors) are the
/// reference: this is a shortcut, never a second set of rules.
mod single_pass {
    use std::borrow::Cow;
    use std::fmt;
    use std::marker::PhantomData;

    use serde::Deserialize;
    use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

    use crate::claims::{Audience, Registered, numeric_date};

    /// Both results of the one pass, or `None` for the two-pass path.
    pub(super) fn parse<'p, C: de::DeserializeOwned>(
        payload: &'p str,
    ) -> Option<(Registered<'p>, C)> {
        let mut seen = Seen::default();
        let mut de = serde_json::Deserializer::from_str(payload);
        let claims = C::deserialize(Tee {
            inner: &mut de,
            seen: &mut seen,
        })
        .ok()?;
        de.end().ok()?;
        if !seen.map {
            return None;
        }
        Some((
            Registered {
                iss: seen.iss,
                aud: seen.aud,
                exp: seen.exp,
                nbf: seen.nbf,
                iat: seen.iat,
                tid: seen.tid,
            },
            claims,
        ))
    }

    #[derive(Default)]
    struct Seen<'de> {
        /// The top-level object was visited through the tee.
        map: bool,
        /// Registered members met so far, one bit each: a second one is a
        /// duplicate, which the derived parse refuses too.
        members: u8,
        iss: Option<Cow<'de, str>>,
        aud: Option<Audience<'de>>,
        exp: Option<i64>,
        nbf: Option<i64>,
        iat: Option<i64>,
        tid: Option<Cow<'de, str>>,
    }

    const NAMES: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "tid"];

    impl<'de> Seen<'de> {
        fn record<E: de::Error>(&mut self, index: usize, value: &Captured<'de>) -> Result<(), E> {
            let bit = 1u8 << index;
            if self.members & bit != 0 {
                return Err(E::custom("duplicate registered claim"));
            }
            self.members |= bit;
            let text = |value: &Captured<'de>| match value {
                Captured::Null => Ok(None),
                Captured::Str(s) => Ok(Some(s.clone())),
                _ => Err(E::custom("not a string")),
            };
            let date = |value: &Captured<'de>| numeric_date(Replay::<E>::new(value)).map(Some);
            match index {
                0 => self.iss = text(value)?,
                1 => {
                    self.aud = match value {
                        Captured::Null => None,
                        other => Some(Audience::deserialize(Replay::<E>::new(other))?),
                    }
                }
                2 => self.exp = date(value)?,
                3 => self.nbf = date(value)?,
                4 => self.iat = date(value)?,
                _ => self.tid = text(value)?,
            }
            Ok(())
        }
    }

    /// A registered claim's value as `serde_json` reported it, so it can be
    /// replayed to `C` call for call. Only the shapes registered claims
    /// have; anything else fails the capture (and the one pass).
    enum Captured<'de> {
        Null,
        Bool(bool),
        U64(u64),
        I64(i64),
        F64(f64),
        /// Borrowed from the payload unless it held escapes.
        Str(Cow<'de, str>),
        Strs(Vec<Cow<'de, str>>),
    }

    struct Capture;

    impl<'de> DeserializeSeed<'de> for Capture {
        type Value = Captured<'de>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Captured<'de>, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Capture {
        type Value = Captured<'de>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string, a number, null or an array of strings")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Captured<'de>, E> {
            Ok(Captured::Null)
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Captured<'de>, E> {
            Ok(Captured::Bool(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Captured<'de>, E> {
            Ok(Captured::U64(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Captured<'de>, E> {
            Ok(Captured::I64(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Captured<'de>, E> {
            Ok(Captured::F64(v))
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Captured<'de>, E> {
            Ok(Captured::Str(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Captured<'de>, E> {
            Ok(Captured::Str(Cow::Owned(v.to_owned())))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Captured<'de>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element_seed(Capture)? {
                match item {
                    Captured::Str(s) => out.push(s),
                    _ => return Err(de::Error::custom("not an array of strings")),
                }
            }
            Ok(Captured::Strs(out))
        }
    }

    /// Replays a captured value: the visitor gets the calls `serde_json`
    /// would have made for it.
    struct Replay<'c, 'de, E> {
        value: &'c Captured<'de>,
        error: PhantomData<E>,
    }

    impl<'c, 'de, E> Replay<'c, 'de, E> {
        fn new(value: &'c Captured<'de>) -> Self {
            Replay {
                value,
                error: PhantomData,
            }
        }
    }

    impl<'de, E: de::Error> Deserializer<'de> for Replay<'_, 'de, E> {
        type Error = E;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
            match self.value {
                Captured::Null => visitor.visit_unit(),
                Captured::Bool(v) => visitor.visit_bool(*v),
                Captured::U64(v) => visitor.visit_u64(*v),
                Captured::I64(v) => visitor.visit_i64(*v),
                Captured::F64(v) => visitor.visit_f64(*v),
                Captured::Str(Cow::Borrowed(s)) => visitor.visit_borrowed_str(s),
                Captured::Str(Cow::Owned(s)) => visitor.visit_str(s),
                Captured::Strs(items) => visitor.visit_seq(ReplaySeq {
                    items: items.iter(),
                    error: PhantomData,
                }),
            }
        }

        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
            match self.value {
                Captured::Null => visitor.visit_none(),
                _ => visitor.visit_some(self),
            }
        }

        fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
            visitor.visit_unit()
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            visitor: V,
        ) -> Result<V::Value, E> {
            // serde_json's RawValue asks for the source text, which a
            // captured value no longer has.
            if name.starts_with("$serde_json") {
                return Err(E::custom("raw value"));
            }
            visitor.visit_newtype_struct(self)
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, E> {
            Err(E::custom("enum"))
        }

        fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
            match self.value {
                Captured::Str(Cow::Borrowed(s)) => visitor.visit_borrowed_bytes(s.as_bytes()),
                Captured::Str(Cow::Owned(s)) => visitor.visit_bytes(s.as_bytes()),
                _ => self.deserialize_any(visitor),
            }
        }

        fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
            self.deserialize_bytes(visitor)
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            unit unit_struct seq tuple tuple_struct map struct identifier
        }
    }

    struct ReplaySeq<'c, 'de, E> {
        items: std::slice::Iter<'c, Cow<'de, str>>,
        error: PhantomData<E>,
    }

    impl<'de, E: de::Error> SeqAccess<'de> for ReplaySeq<'_, 'de, E> {
        type Error = E;
        fn next_element_seed<T: DeserializeSeed<'de>>(
            &mut self,
            seed: T,
        ) -> Result<Option<T::Value>, E> {
            let Some(item) = self.items.next() else {
                return Ok(None);
            };
            let value = Captured::Str(item.clone());
            seed.deserialize(Replay::new(&value)).map(Some)
        }
        fn size_hint(&self) -> Option<usize> {
            Some(self.items.len())
        }
    }

    /// The deserializer `C` is given: `serde_json`'s, with the top-level
    /// object watched.
    struct Tee<'s, 'de, D> {
        inner: D,
        seen: &'s mut Seen<'de>,
    }

    impl<'de, D: Deserializer<'de>> Deserializer<'de> for Tee<'_, 'de, D> {
        type Error = D::Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.inner.deserialize_any(TeeVisitor {
                inner: visitor,
                seen: self.seen,
            })
        }

        fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.inner.deserialize_map(TeeVisitor {
                inner: visitor,
                seen: self.seen,
            })
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            self.inner.deserialize_struct(
                name,
                fields,
                TeeVisitor {
                    inner: visitor,
                    seen: self.seen,
                },
            )
        }

        // Other shapes of `C` see an object where they expect something
        // else and fail, which sends the caller to the two-pass path.
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct enum identifier ignored_any
        }
    }

    struct TeeVisitor<'s, 'de, V> {
        inner: V,
        seen: &'s mut Seen<'de>,
    }

    impl<'de, V: Visitor<'de>> Visitor<'de> for TeeVisitor<'_, 'de, V> {
        type Value = V::Value;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.inner.expecting(f)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
            self.seen.map = true;
            self.inner.visit_map(TeeMap {
                inner: map,
                seen: self.seen,
                current: None,
            })
        }
    }

    struct TeeMap<'s, 'de, A> {
        inner: A,
        seen: &'s mut Seen<'de>,
        /// The registered claim whose value comes next, if any.
        current: Option<usize>,
    }

    /// A member name, borrowed from the payload unless it held escapes.
    struct Key;

    impl<'de> DeserializeSeed<'de> for Key {
        type Value = Cow<'de, str>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for Key {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a member name")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Cow<'de, str>, E> {
            Ok(Cow::Owned(v.to_owned()))
        }
    }

    impl<'de, A: MapAccess<'de>> MapAccess<'de> for TeeMap<'_, 'de, A> {
        type Error = A::Error;

        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, A::Error> {
            let Some(key) = self.inner.next_key_seed(Key)? else {
                return Ok(None);
            };
            self.current = NAMES.iter().position(|n| *n == key);
            let key = match &key {
                Cow::Borrowed(s) => Captured::Str(Cow::Borrowed(s)),
                Cow::Owned(s) => Captured::Str(Cow::Owned(s.clone())),
            };
            seed.deserialize(Replay::new(&key)).map(Some)
        }

        fn next_value_seed<V: DeserializeSeed<'de>>(
            &mut self,
            seed: V,
        ) -> Result<V::Value, A::Error> {
            match self.current.take() {
                None => self.inner.next_value_seed(seed),
                Some(index) => {
                    let value = self.inner.next_value_seed(Capture)?;
                    self.seen.record(index, &value)?;
                    seed.deserialize(Replay::new(&value))
                }
            }
        }

        fn size_hint(&self) -> Option<usize> {
            self.inner.size_hint()
        }
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

    type View = (
        Option<String>,
        Option<Vec<String>>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<String>,
    );

    fn view(r: &Registered<'_>) -> View {
        use crate::claims::Audience;
        let aud = r.aud.as_ref().map(|a| match a {
            Audience::One(s) => vec![s.to_string()],
            Audience::Many(v) => v.iter().map(|s| s.to_string()).collect(),
        });
        let text = |s: &Option<std::borrow::Cow<'_, str>>| s.as_deref().map(str::to_owned);
        (text(&r.iss), aud, r.exp, r.nbf, r.iat, text(&r.tid))
    }

    /// Whether the one pass was taken; when it was, it must agree with the
    /// two-pass reference exactly.
    fn one_pass_agrees<C>(payload: &str) -> bool
    where
        C: DeserializeOwned + PartialEq + fmt::Debug,
    {
        let Some((reg, claims)) = single_pass::parse::<C>(payload) else {
            return false;
        };
        let reference: Registered<'_> = serde_json::from_str(payload)
            .unwrap_or_else(|e| panic!("one pass accepted what the reference refuses: {e}"));
        let reference_claims: C = serde_json::from_str(payload)
            .unwrap_or_else(|e| panic!("one pass built a C the reference cannot: {e}"));
        assert_eq!(view(&reg), view(&reference), "{payload}");
        assert_eq!(claims, reference_claims, "{payload}");
        true
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct FloatExp {
        exp: f64,
        aud: serde_json::Value,
        #[serde(flatten)]
        rest: std::collections::BTreeMap<String, serde_json::Value>,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Newtype(crate::claims::StandardClaims);

    #[test]
    fn one_pass_matches_the_two_pass_reference() {
        use crate::claims::StandardClaims;
        use serde_json::Value;
        let taken = [
            r#"{"iss":"https://i/","aud":"api","exp":1718719921,"nbf":1,"iat":2,"sub":"u","scope":"a b"}"#,
            r#"{"iss":"https:\/\/i\/","aud":["x","api"],"exp":1718719921.5,"tid":"t"}"#,
            r#"{"e\u0078p":5,"iss":"\u00e9","aud":[],"realm_access":{"roles":["r"]},"n":null}"#,
            r#"{"exp":-5,"iat":0,"tid":null}"#,
            r#"{}"#,
        ];
        for payload in taken {
            assert!(one_pass_agrees::<StandardClaims>(payload), "{payload}");
            assert!(one_pass_agrees::<Value>(payload), "{payload}");
            assert!(
                one_pass_agrees::<std::collections::HashMap<String, Value>>(payload),
                "{payload}"
            );
        }
        // `null` registered claims are absent ones, on both paths.
        assert!(one_pass_agrees::<Value>(r#"{"aud":null,"iss":null}"#));
        assert!(one_pass_agrees::<FloatExp>(
            r#"{"exp":1718719921.5,"aud":["a"],"iss":"i","x":1}"#
        ));
        // Shapes the one pass leaves to the reference: duplicates,
        // registered claims of the wrong type, a `C` that is not a map.
        let left = [
            r#"{"exp":1,"exp":99999999999}"#,
            r#"{"exp":null}"#,
            r#"{"exp":"1718719921"}"#,
            r#"{"aud":5}"#,
            r#"{"aud":[["a"]]}"#,
            r#"{"iss":{"a":1}}"#,
            r#"{"exp":1e300}"#,
            r#"{"iat":18446744073709551615}"#,
            r#"{"exp":1} x"#,
        ];
        for payload in left {
            assert!(!one_pass_agrees::<Value>(payload), "{payload}");
            assert!(
                serde_json::from_str::<Registered<'_>>(payload).is_err(),
                "{payload}"
            );
        }
        assert!(!one_pass_agrees::<Newtype>(r#"{"iss":"i","exp":1}"#));
    }

    #[tokio::test]
    async fn both_paths_verify_and_refuse_alike() {
        use aws_lc_rs::hmac;
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let secret = [7u8; 32];
        let validator = Validator::builder()
            .issuer("https://i/")
            .audience("api")
            .hmac_secret(secret)
            .token_cache_size(0)
            .build()
            .await
            .expect("validator");
        let sign = |claims: &str| {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
                URL_SAFE_NO_PAD.encode(claims)
            );
            let key = hmac::Key::new(hmac::HMAC_SHA256, &secret);
            let tag = hmac::sign(&key, input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
        };
        let good = sign(r#"{"iss":"https://i/","aud":"api","exp":99999999999,"sub":"u"}"#);
        let one = validator
            .try_verify::<crate::claims::StandardClaims>(&good)
            .expect("one pass");
        let two = validator.try_verify::<Newtype>(&good).expect("two passes");
        assert_eq!(*one, two.0.0);
        assert_eq!(one.sub.as_deref(), Some("u"));
        // A duplicate exp is refused on either path, as before.
        let dup = sign(r#"{"iss":"https://i/","aud":"api","exp":1,"exp":99999999999}"#);
        for result in [
            validator.try_verify::<serde_json::Value>(&dup).map(|_| ()),
            validator.try_verify::<Newtype>(&dup).map(|_| ()),
        ] {
            assert!(matches!(result, Err(Error::InvalidClaim(_))), "{result:?}");
        }
        let expired = sign(r#"{"iss":"https://i/","aud":"api","exp":1}"#);
        assert!(matches!(
            validator.try_verify::<serde_json::Value>(&expired),
            Err(Error::Expired)
        ));
    }
}
