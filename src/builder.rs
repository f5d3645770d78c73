//! [`ValidatorBuilder`]: the settings, their secure defaults, and the
//! checks `build()` makes so a mistake fails at start-up with a message
//! that says what to change, never at the first request.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::cache::TokenCache;
use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::fetch::HttpOptions;
use crate::issuers::{IntoIssuers, Issuer, Shared};
use crate::jwks::RefreshPolicy;
use crate::validator::{Config, Validator};

/// Configures a [`Validator`]. Mistakes are reported by
/// [`build`](Self::build), with a message that says what to change.
///
/// Only the issuer and the audience are required; everything else has a
/// secure default (keys through discovery, 60 s leeway, 8 KiB tokens,
/// `https` only off loopback, 5 s fetch timeout, 1 MiB documents, a
/// 10,000-token cache). Settings that loosen security say so in their
/// names (`insecure_…`, `allow_…`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), oidc_bearer::Error> {
/// # let provider = oidc_bearer_testkit::TestIssuer::start().await;
/// # let (issuer, jwks_url) = (provider.issuer.clone(), provider.jwks_url.clone());
/// use std::time::Duration;
/// use oidc_bearer::{Error, Validator};
///
/// // Forgetting the audience is a build error that says what to do.
/// let error = Validator::builder().issuer(&issuer).jwks_url(&jwks_url).build().await;
/// assert!(matches!(error, Err(Error::Config(m)) if m.contains(".audience(")));
///
/// let validator = Validator::builder()
///     .issuer(&issuer)               // the exact `iss` of your tokens
///     .audience("my-api")            // your API's client id or App ID URI
///     .audience("api://my-api")      // several are fine
///     .jwks_url(&jwks_url)           // or discovery, the default
///     .leeway(Duration::from_secs(30))
///     .require_type("at+jwt")        // RFC 9068 access tokens only
///     .build()
///     .await?;
/// assert!(validator.health().is_ready());
/// # Ok(()) }
/// ```
pub struct ValidatorBuilder {
    /// The builder's own issuer: set by `issuer()` and the per-issuer
    /// setters below.
    base: Issuer,
    /// `issuer()` was called twice with these values.
    issuer_twice: Option<(String, String)>,
    trusted: Vec<Issuer>,
    leeway: Duration,
    max_token_len: usize,
    clock: Arc<dyn Clock>,
    http: HttpOptions,
    policy: RefreshPolicy,
    start_without_keys: bool,
    cache_size: usize,
    resource: Option<String>,
}

// Defined beside what they make, so the validator never names its builder.
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
}

impl Default for ValidatorBuilder {
    fn default() -> Self {
        ValidatorBuilder {
            base: Issuer::new(""),
            issuer_twice: None,
            trusted: Vec::new(),
            leeway: Duration::from_secs(60),
            max_token_len: 8 * 1024,
            clock: Arc::new(SystemClock),
            http: HttpOptions::default(),
            policy: RefreshPolicy::default(),
            start_without_keys: false,
            cache_size: 10_000,
            resource: None,
        }
    }
}

impl fmt::Debug for ValidatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatorBuilder")
            .field("issuer", &self.base.name)
            .field("audiences", &self.base.audiences)
            .field("trusted", &self.trusted)
            .finish_non_exhaustive()
    }
}

impl ValidatorBuilder {
    /// The exact `iss` the provider puts in tokens. Compared byte for
    /// byte: `https://sts.windows.net/{tid}/` keeps its slash. This and the
    /// setters up to [`rule`](Self::rule) configure the builder's own
    /// issuer; to trust several, add each with [`trust`](Self::trust)
    /// (calling `issuer()` twice is a build error, not a second issuer).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        if !self.base.name.is_empty() && self.issuer_twice.is_none() {
            self.issuer_twice = Some((self.base.name.clone(), issuer.clone()));
        }
        self.base.name = issuer;
        self
    }

    /// Also trust this issuer (or a provider preset such as
    /// [`EntraId`](crate::EntraId) or [`Keycloak`](crate::Keycloak)), with
    /// its own keys, audiences and rules; see [`Issuer`].
    pub fn trust(mut self, issuers: impl IntoIssuers) -> Self {
        self.trusted.extend(issuers.into_issuers());
        self
    }

    /// An accepted audience; call again to accept several. A token passes
    /// when its `aud` (string or array) contains one of them. An `aud`
    /// that names no one (`""`, `[]`, `[""]`, `null`) is no `aud`:
    /// `missing required claim: aud` (OpenID Connect Core §2, RFC 7519
    /// §4.1.3), on every audience path. An empty audience here is a
    /// `build()` error.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.base = self.base.audience(audience);
        self
    }

    /// Also accept a token whose `aud` names none of the audiences when
    /// its `azp` is `client_id`; a token without `aud`, or whose `aud`
    /// names no one (`[]`, `""`, `[""]`), is still refused.
    /// See [`Issuer::allow_azp_as_audience`].
    pub fn allow_azp_as_audience(mut self, client_id: impl Into<String>) -> Self {
        self.base = self.base.allow_azp_as_audience(client_id);
        self
    }

    /// Accept tokens whatever their `aud`, even none. Only for APIs that
    /// check the audience some other way: any token the issuer signed for
    /// any client is otherwise accepted.
    pub fn insecure_skip_audience(mut self) -> Self {
        self.base = self.base.insecure_skip_audience();
        self
    }

    /// Find the keys through OpenID Connect discovery (the default when no
    /// other key source is set): `{issuer}/.well-known/openid-configuration`
    /// must name the configured issuer exactly, and its `jwks_uri` is used.
    /// Replaces any earlier key source.
    pub fn discovery(mut self) -> Self {
        self.base = self.base.discovery();
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
        self.base = self.base.provider_url(url);
        self
    }

    /// Fetch the signing keys from this JWKS URL. Replaces any earlier key
    /// source. Must be `https`, or `http` on a loopback host. For several
    /// key sets of one issuer (Azure AD B2C policies), see
    /// [`Issuer::jwks_urls`].
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.base = self.base.jwks_url(url);
        self
    }

    /// Use this JWKS document (`{"keys":[…]}`) as a fixed key set.
    /// Replaces any earlier key source.
    pub fn jwks_json(mut self, json: impl Into<Vec<u8>>) -> Self {
        self.base = self.base.jwks_json(json);
        self
    }

    /// Use one PEM public key (`PUBLIC KEY`, `CERTIFICATE`, or the bare
    /// base64 Keycloak's realm endpoint shows). With `kid`, only tokens
    /// naming that `kid` (or none) are verified with it; without, it is the
    /// one key for every token. Replaces any earlier key source.
    pub fn pem_key(mut self, pem: impl Into<String>, kid: Option<&str>) -> Self {
        self.base = self.base.pem_key(pem, kid);
        self
    }

    /// Require this header `typ`, e.g. `"at+jwt"` for RFC 9068 access
    /// tokens (compared case-insensitively, `application/` optional).
    pub fn require_type(mut self, typ: impl Into<String>) -> Self {
        self.base = self.base.require_type(typ);
        self
    }

    /// Require these claims to be present (any value).
    pub fn require_claims<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.base = self.base.require_claims(names);
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
        self.base = self.base.rule(rule);
        self
    }

    /// Also accept HS256/HS384/HS512 tokens of the builder's own
    /// [`issuer`](Self::issuer) signed with this shared secret (at least 32
    /// bytes). The secret belongs to that issuer alone: an HMAC token
    /// naming an issuer added with [`trust`](Self::trust) is refused
    /// whatever its signature (give such an issuer its own
    /// [`Issuer::hmac_secret`]). Without [`issuer`](Self::issuer), `build()`
    /// refuses it. HMAC is never used with keys from a JWKS.
    pub fn hmac_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.base = self.base.hmac_secret(secret);
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
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

    /// Fetch discovery and JWKS documents with this client: a corporate
    /// proxy, a private CA, another TLS backend. The crate's limits still
    /// apply to every request: the [`http_timeout`](Self::http_timeout)
    /// (per request), the [`max_document_size`](Self::max_document_size),
    /// the `https` policy, and redirects — a response that arrives from
    /// another host or over plain `http` after the client followed a
    /// redirect is refused (build the client with
    /// `redirect::Policy::none()` to not follow any). It is the same
    /// `reqwest` as [`oidc_bearer::reqwest`](crate::reqwest).
    ///
    /// ```
    /// use oidc_bearer::{Validator, reqwest};
    ///
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = reqwest::Client::builder()
    ///     .proxy(reqwest::Proxy::https("http://proxy.internal:3128")?)
    ///     .build()?;
    /// let builder = Validator::builder()
    ///     .issuer("https://login.example.com/realms/demo")
    ///     .audience("my-api")
    ///     .http_client(client);
    /// # Ok(()) }
    /// ```
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http.client = Some(client);
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
    /// `exp`, `nbf` and `iat` still hold and its key is still published.
    pub fn token_cache_size(mut self, tokens: usize) -> Self {
        self.cache_size = tokens;
        self
    }

    /// The resource identifier of the API this validator protects (RFC
    /// 9728 §1.2: a URL, usually the API's own, such as
    /// `https://api.example.com/mcp`). With it, every challenge of the
    /// layer carries `resource_metadata="…"` (RFC 9728 §5.1), pointing at
    /// `https://api.example.com/.well-known/oauth-protected-resource/mcp`
    /// (§3.1), and [`OidcBearerLayer::resource_metadata`](crate::OidcBearerLayer::resource_metadata)
    /// makes the document to serve there.
    ///
    /// Kept byte for byte: a client checks that the document's `resource`
    /// equals the URL it called (§3.3). `build()` refuses a fragment, a
    /// query, user information and plain `http` on a host that is not
    /// loopback (unless [`allow_insecure_http`](Self::allow_insecure_http)).
    /// It is not an audience: add it with [`audience`](Self::audience) too
    /// when the authorization server puts it in `aud` (RFC 8707).
    pub fn resource(mut self, uri: impl Into<String>) -> Self {
        self.resource = Some(uri.into());
        self
    }

    /// Checks the configuration, loads the keys and returns the validator.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the issuer or the audience is missing, a URL
    /// breaks the transport policy or a setting cannot work (the message
    /// says what to change); [`Error::InvalidKey`] when a fixed key set
    /// holds no usable key; [`Error::Fetch`] when the first key fetch fails
    /// (unless [`start_without_keys`](Self::start_without_keys)).
    pub async fn build(self) -> Result<Validator, Error> {
        if let Some((first, second)) = &self.issuer_twice {
            return Err(Error::Config(format!(
                "issuer() was called twice ({first:?}, then {second:?}); a validator trusts \
                 several issuers through .trust(Issuer::new(..)), each with its own \
                 audiences and keys"
            )));
        }
        let mut issuers = Vec::with_capacity(1 + self.trusted.len());
        if !self.base.name.is_empty() {
            issuers.push(self.base);
        } else if self.trusted.is_empty() {
            return Err(Error::Config(
                "no issuer: call .issuer(...) with the exact `iss` your provider puts in \
                 tokens, or .trust(...) with an Issuer, EntraId or Keycloak"
                    .into(),
            ));
        } else if !self.base.audiences.is_empty()
            || !self.base.sources.is_empty()
            || self.base.secret.is_some()
            || self.base.provider_url.is_some()
            || !self.base.rules.is_empty()
        {
            return Err(Error::Config(
                "audience(), the key sources (jwks_url(), jwks_json(), pem_key(), \
                 hmac_secret()), provider_url() and rule() on the builder configure its own \
                 issuer(), which is not set: a key source belongs to exactly one issuer, so \
                 set them on the Issuer given to .trust(...) instead"
                    .into(),
            ));
        }
        issuers.extend(self.trusted);
        // An issuer given no hints gets those of the providers the crate
        // knows by their issuers' shapes: a hand-written issuer is linted,
        // and a refusal explained, as a preset's would be.
        for issuer in &mut issuers {
            if issuer.hints.is_none() {
                issuer.hints = Some(crate::providers::default_hints());
            }
        }
        if self.max_token_len == 0 {
            return Err(Error::Config("max_token_len must be above zero".into()));
        }
        if let Some(knob) = self.policy.zero_knob() {
            return Err(Error::Config(format!(
                "{knob} is zero: the refresh task would fetch the JWKS in a busy loop"
            )));
        }
        // Before any fetch: a configuration mistake is reported as such.
        let resource = self
            .resource
            .as_deref()
            .map(|uri| crate::resource::Resource::parse(uri, self.http.allow_insecure_http))
            .transpose()?;
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
        let shared = Shared {
            http: &self.http,
            policy: self.policy,
            start_without_keys: self.start_without_keys,
            leeway,
        };
        let issuers = crate::issuers::open(issuers, &shared).await?;
        Ok(Validator::from_config(Config {
            issuers,
            leeway,
            max_token_len: self.max_token_len,
            clock: self.clock,
            cache: (self.cache_size > 0).then(|| TokenCache::new(self.cache_size)),
            counters: Default::default(),
            resource,
        }))
    }
}
