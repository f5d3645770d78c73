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
use crate::claims::{self, Claims, Registered};
use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::jwks::{self, HttpOptions, KeyStore};
use crate::keys::KeySet;
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
            .field("keys", &self.inner.keys.current.load().len())
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// Starts configuring a validator.
    pub fn builder() -> ValidatorBuilder {
        ValidatorBuilder::default()
    }

    /// Verifies `token` (the part after `Bearer `) and returns its claims
    /// as `C`.
    pub async fn verify<C: DeserializeOwned>(&self, token: &str) -> Result<Claims<C>, Error> {
        self.try_verify(token)
    }

    /// Verifies `token` with the keys held right now, without waiting for
    /// any fetch: for synchronous callers such as a tonic interceptor.
    pub fn try_verify<C: DeserializeOwned>(&self, token: &str) -> Result<Claims<C>, Error> {
        let result = self.verify_inner(token);
        if let Err(e) = &result {
            // The reason only: never the token, never its unverified claims.
            tracing::debug!(reason = %e, "bearer token rejected");
        }
        result
    }

    /// The key set requests are verified against right now.
    pub fn keys(&self) -> Arc<KeySet> {
        self.inner.keys.current.load_full()
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    fn verify_inner<C: DeserializeOwned>(&self, token: &str) -> Result<Claims<C>, Error> {
        let cfg = &*self.inner;
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
            .map_err(|_| Error::InvalidClaim("a registered claim has the wrong type"))?;

        // The registered claims are checked before the signature: they are
        // cheap, so an expired or misdirected token is refused without
        // paying for the public-key operation. A token is accepted only when
        // every check passes, so the order does not loosen anything.
        let iss = self.check_registered(&reg)?;

        let signature = token::decode_part(parts.signature, "signature is not base64url")?;
        self.check_signature(&header, iss, reg.tid.as_deref(), parts.signing_input, &signature)?;

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

        let claims: C = serde_json::from_slice(&payload).map_err(|_| Error::InvalidClaims)?;
        Ok(Claims::new(claims))
    }

    /// `exp` (required), `nbf`, `iat`, `iss`, `aud`. Returns the issuer.
    fn check_registered<'r>(&self, reg: &'r Registered<'_>) -> Result<&'r str, Error> {
        let cfg = &*self.inner;
        let now = cfg.clock.now();
        let exp = reg.exp.ok_or_else(|| Error::MissingClaim("exp".into()))?;
        if now >= exp.saturating_add(cfg.leeway) {
            return Err(Error::Expired);
        }
        if let Some(nbf) = reg.nbf {
            if now.saturating_add(cfg.leeway) < nbf {
                return Err(Error::NotYetValid);
            }
        }
        if let Some(iat) = reg.iat {
            if iat > now.saturating_add(cfg.leeway) {
                return Err(Error::IssuedInFuture);
            }
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
    ) -> Result<(), Error> {
        let cfg = &*self.inner;
        if header.alg.is_hmac() {
            let keys = cfg.hmac.as_ref().ok_or(Error::UnsupportedAlgorithm)?;
            let key = match header.alg {
                Algorithm::HS256 => &keys.hs256,
                Algorithm::HS384 => &keys.hs384,
                _ => &keys.hs512,
            };
            return hmac::verify(key, signing_input.as_bytes(), signature)
                .map_err(|_| Error::InvalidSignature);
        }
        let set = cfg.keys.current.load();
        let key = set.select(header.kid.as_deref(), header.alg)?;
        let verifier = key.verifier(header.alg).ok_or(Error::AlgorithmMismatch)?;
        if let Some(bound) = &key.issuer {
            if !issuer_matches(bound, iss, tid) {
                return Err(Error::InvalidIssuer);
            }
        }
        verifier
            .verify_sig(signing_input.as_bytes(), signature)
            .map_err(|_| Error::InvalidSignature)
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
        self.required_claims.extend(names.into_iter().map(Into::into));
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

    /// Checks the configuration, loads the keys and returns the validator.
    ///
    /// Fails when the issuer or the audience is missing, a URL breaks the
    /// transport policy, or the first key fetch fails.
    pub async fn build(self) -> Result<Validator, Error> {
        let issuer = self.issuer.ok_or_else(|| {
            Error::Config(
                "no issuer: call .issuer(...) with the exact `iss` your provider puts in tokens".into(),
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
        let keys = match self.source {
            Some(KeySource::JwksUrl(url)) => {
                let url = jwks::check_url(&url, self.http.allow_insecure_http)?;
                let store = KeyStore::new_remote(url, self.http)?;
                store.fetch().await?;
                store
            }
            Some(KeySource::JwksJson(json)) => {
                let set = KeySet::from_jwks(&json)?;
                if set.is_empty() {
                    return Err(Error::InvalidKey(
                        "the JWKS given to jwks_json() holds no usable signing key".into(),
                    ));
                }
                KeyStore::new_static(set)
            }
            Some(KeySource::Pem { pem, kid }) => {
                KeyStore::new_static(KeySet::from_pem(&pem, kid.as_deref())?)
            }
            None if self.hmac_secret.is_some() => KeyStore::new_static(KeySet::default()),
            None => {
                return Err(Error::Config(
                    "no key source: call .jwks_url(...), .jwks_json(...), .pem_key(...) or \
                     .hmac_secret(...)"
                        .into(),
                ));
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
                keys: Arc::new(keys),
                hmac,
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
        assert!(issuer_matches(t, "https://login.microsoftonline.com/abc/v2.0", Some("abc")));
        assert!(!issuer_matches(t, "https://login.microsoftonline.com/abc/v2.0", Some("xyz")));
        assert!(!issuer_matches(t, "https://login.microsoftonline.com/abc/v2.0", None));
        assert!(issuer_matches("https://a/", "https://a/", None));
        assert!(!issuer_matches("https://a/", "https://a", None));
    }
}
