//! [`Issuer`]: one trusted issuer and the rules for its tokens.
//!
//! Configuration only: nothing is fetched or checked until `build()`
//! (`open`).

use std::fmt;
use std::sync::Arc;

use super::hints::IssuerHints;
use crate::claims::GrantKinds;

/// A custom check on verified claims, as [`Issuer::rule`] takes it; kept
/// here, at the lowest configuration layer, so the presets and the
/// pipeline share it without importing each other.
pub(crate) type Rule = Arc<dyn Fn(&serde_json::Value) -> Result<(), String> + Send + Sync>;

/// Where an issuer's keys come from, as configured: each belongs to the
/// one [`Issuer`] it was set on.
#[derive(Clone)]
pub(crate) enum Source {
    Discovery,
    JwksUrl(String),
    JwksJson(Vec<u8>),
    Pem { pem: String, kid: Option<String> },
}

/// One issuer whose tokens a [`Validator`](crate::Validator) accepts, with
/// its own keys, audiences and rules; add it with
/// [`ValidatorBuilder::trust`](crate::ValidatorBuilder::trust).
///
/// A validator can trust several issuers: one provider's two token
/// versions, two realms, two providers during a migration. The token's
/// unverified `iss` only selects which issuer's keys, audiences and rules
/// apply; its signature must then verify with that issuer's keys, and every
/// rule of that issuer must hold. A token naming no trusted issuer is
/// refused before any key lookup, so it never causes a fetch. Issuers
/// whose keys come from the same JWKS URL share one key store (one fetch,
/// one refresh task).
///
/// A provider preset fills these in through the same public methods, and
/// gives what it knows of its provider through [`hints`](Self::hints).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), oidc_bearer::Error> {
/// # let old = oidc_bearer_testkit::TestIssuer::start().await;
/// # let new = oidc_bearer_testkit::TestIssuer::start().await;
/// use oidc_bearer::{Issuer, StandardClaims, Validator};
///
/// let validator = Validator::builder()
///     .trust(Issuer::new(&old.issuer).audience("orders-api").jwks_url(&old.jwks_url))
///     .trust(Issuer::new(&new.issuer).audience("api://orders").jwks_url(&new.jwks_url))
///     .build()
///     .await?;
/// validator.verify::<StandardClaims>(&old.token("orders-api")).await?;
/// validator.verify::<StandardClaims>(&new.token("api://orders")).await?;
/// // Each issuer's audiences are its own.
/// assert!(validator.verify::<StandardClaims>(&new.token("orders-api")).await.is_err());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Issuer {
    pub(crate) name: String,
    pub(crate) multi_tenant: bool,
    pub(crate) tenants: Option<Vec<String>>,
    pub(crate) audiences: Vec<String>,
    pub(crate) skip_audience: bool,
    pub(crate) azp_audience: Option<String>,
    /// The issuer's published-key sources, in the order set; none means
    /// discovery (unless it has a secret).
    pub(crate) sources: Vec<Source>,
    /// The issuer's HMAC shared secret (HS256/384/512).
    pub(crate) secret: Option<Vec<u8>>,
    pub(crate) provider_url: Option<String>,
    pub(crate) required_typ: Option<String>,
    pub(crate) required_claims: Vec<String>,
    pub(crate) rules: Vec<Rule>,
    /// The kinds of grant its tokens carry; `None`: its hints', else
    /// RFC 9068's.
    pub(crate) grants: Option<GrantKinds>,
    /// A short name requirements can name it by.
    pub(crate) label: Option<String>,
    /// What a provider knows of its issuers; `None` until `build()` gives
    /// the crate's default.
    pub(crate) hints: Option<Arc<dyn IssuerHints>>,
    /// A mistake found while configuring, reported by `build()`.
    pub(crate) invalid: Option<String>,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("issuer", &self.name)
            .field("audiences", &self.audiences)
            .field("tenants", &self.tenants)
            .field("label", &self.label)
            .field("grants", &self.grants)
            .field("hints", &self.hints)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// An issuer whose tokens carry exactly this `iss` (compared byte for
    /// byte: an issuer ending in `/` keeps its slash). Keys come
    /// through OpenID Connect discovery unless another source is set.
    ///
    /// An issuer containing `{tenantid}` is refused by `build()`: use
    /// [`multi_tenant`](Self::multi_tenant), which says how the tenant is
    /// checked.
    pub fn new(issuer: impl Into<String>) -> Self {
        Issuer {
            name: issuer.into(),
            multi_tenant: false,
            tenants: None,
            audiences: Vec::new(),
            skip_audience: false,
            azp_audience: None,
            sources: Vec::new(),
            secret: None,
            provider_url: None,
            required_typ: None,
            required_claims: Vec::new(),
            rules: Vec::new(),
            grants: None,
            label: None,
            hints: None,
            invalid: None,
        }
    }

    /// A multi-tenant issuer, e.g. `https://login.example.com/{tenantid}/v2.0`
    /// (the form multi-tenant discovery documents publish): a token's `iss`
    /// must equal the template with `{tenantid}` replaced by the token's
    /// own `tid`, which must be a GUID; a key bound to an issuer (JWK
    /// `issuer` member) must agree the same way. Restrict the tenants with
    /// [`allowed_tenants`](Self::allowed_tenants). Its keys need
    /// [`jwks_url`](Self::jwks_url) or [`provider_url`](Self::provider_url)
    /// (the template itself cannot be fetched).
    pub fn multi_tenant(template: impl Into<String>) -> Self {
        Issuer {
            multi_tenant: true,
            ..Issuer::new(template)
        }
    }

    /// Multi-tenant issuers only: accept tokens of these tenants (`tid`)
    /// only, checked before anything else about the tenant (a tenant not
    /// listed gets "tenant not allowed"). Call again to add more.
    pub fn allowed_tenants<I, S>(mut self, tenant_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tenants
            .get_or_insert_with(Vec::new)
            .extend(tenant_ids.into_iter().map(Into::into));
        self
    }

    /// An accepted audience; call again to accept several. A token passes
    /// when its `aud` (string or array) contains one of them. An `aud`
    /// that names no one (`""`, `[]`, `[""]`, `null`) is no `aud`:
    /// `missing required claim: aud` (OpenID Connect Core §2, RFC 7519
    /// §4.1.3), on every audience path. An empty audience here is a
    /// `build()` error.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Also accept a token whose `aud` names none of the audiences when
    /// its `azp` (authorized party, OpenID Connect Core §2) is `client_id`
    /// — some providers, until configured to put the API in `aud`, issue
    /// another audience and name the client only in `azp`. A token
    /// without `aud`, or whose `aud` names no one (`[]`, `""`, `[""]`), is
    /// still refused, and any other `azp` too. This trusts
    /// every token the client obtained, for whatever audience: prefer
    /// configuring the provider to put the API in `aud`.
    pub fn allow_azp_as_audience(mut self, client_id: impl Into<String>) -> Self {
        self.azp_audience = Some(client_id.into());
        self
    }

    /// Accept tokens whatever their `aud`, even none. Only for APIs that
    /// check the audience some other way: any token the issuer signed for
    /// any client is otherwise accepted.
    pub fn insecure_skip_audience(mut self) -> Self {
        self.skip_audience = true;
        self
    }

    /// Find the keys through OpenID Connect discovery (the default when no
    /// other key source is set): `{issuer}/.well-known/openid-configuration`
    /// must name the issuer exactly, and its `jwks_uri` is used. Replaces
    /// any earlier key source.
    pub fn discovery(mut self) -> Self {
        self.sources = vec![Source::Discovery];
        self
    }

    /// Where this service reaches the provider, when that differs from the
    /// issuer in tokens — e.g. `http://idp:8080/realms/x` inside the
    /// cluster while tokens say `https://auth.example.com/realms/x`.
    /// Discovery is fetched from `{url}/.well-known/openid-configuration`,
    /// its `issuer` must still equal the configured issuer, and a
    /// `jwks_uri` under the public issuer is fetched from `url` instead.
    pub fn provider_url(mut self, url: impl Into<String>) -> Self {
        self.provider_url = Some(url.into());
        self
    }

    /// Fetch the signing keys from this JWKS URL (`https`, or `http` on a
    /// loopback host). Replaces any earlier key source; for several key
    /// sets, [`jwks_urls`](Self::jwks_urls).
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.sources = vec![Source::JwksUrl(url.into())];
        self
    }

    /// Fetch the signing keys from several JWKS URLs, all for this one
    /// issuer — Azure AD B2C publishes one JWKS per user flow or custom
    /// policy, and every one of them issues the same `iss`. Replaces any
    /// earlier key source; an empty list is a `build()` error.
    ///
    /// Each URL is a key store of its own, fetched and refreshed on its
    /// own; a token's `kid` is looked up in all of them (the first key that
    /// verifies wins), and an unknown `kid` refetches each under its own
    /// single flight and cooldown. The sets belong to this issuer only: a
    /// token naming another issuer is never verified with them (two
    /// issuers naming the same URL share one download of it, each trusting
    /// what it named itself).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), oidc_bearer::Error> {
    /// # let sign_in = oidc_bearer_testkit::TestIssuer::start().await;
    /// # let mut custom = oidc_bearer_testkit::TestIssuer::start().await;
    /// # custom.issuer = sign_in.issuer.clone();
    /// # let (issuer, user_flow_jwks, policy_jwks) =
    /// #     (sign_in.issuer.clone(), sign_in.jwks_url.clone(), custom.jwks_url.clone());
    /// use oidc_bearer::{Issuer, StandardClaims, Validator};
    ///
    /// // One B2C tenant: a user flow and a custom policy, one issuer,
    /// // two key sets.
    /// let validator = Validator::builder()
    ///     .trust(Issuer::new(&issuer).audience("api").jwks_urls([&user_flow_jwks, &policy_jwks]))
    ///     .build()
    ///     .await?;
    /// validator.verify::<StandardClaims>(&sign_in.token("api")).await?;
    /// validator.verify::<StandardClaims>(&custom.token("api")).await?;
    /// # Ok(()) }
    /// ```
    pub fn jwks_urls<I, S>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.sources = urls
            .into_iter()
            .map(|url| Source::JwksUrl(url.into()))
            .collect();
        if self.sources.is_empty() && self.invalid.is_none() {
            self.invalid = Some(format!(
                "jwks_urls() on {:?} lists no URL: give the issuer at least one key set",
                self.name
            ));
        }
        self
    }

    /// Use this JWKS document (`{"keys":[…]}`) as a fixed key set.
    /// Replaces any earlier key source.
    pub fn jwks_json(mut self, json: impl Into<Vec<u8>>) -> Self {
        self.sources = vec![Source::JwksJson(json.into())];
        self
    }

    /// Use one PEM public key (`PUBLIC KEY`, `CERTIFICATE`, or the bare
    /// base64 some providers' admin pages show), for tokens naming `kid`
    /// (or none) when given, else for every token. Replaces any earlier
    /// key source.
    pub fn pem_key(mut self, pem: impl Into<String>, kid: Option<&str>) -> Self {
        self.sources = vec![Source::Pem {
            pem: pem.into(),
            kid: kid.map(str::to_owned),
        }];
        self
    }

    /// Also accept HS256/HS384/HS512 tokens of this issuer signed with this
    /// shared secret (at least 32 bytes, RFC 7518 §3.2). The secret
    /// verifies tokens whose `iss` is this issuer and no other: with
    /// several trusted issuers, an HMAC token naming another one is
    /// refused ("unsupported algorithm") whatever its signature. HMAC is
    /// never used with keys from a JWKS. Replaces an earlier secret. With a
    /// secret and no key source the issuer has no published keys: nothing
    /// is discovered or fetched.
    pub fn hmac_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.secret = Some(secret.into());
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

    /// A custom check on this issuer's verified claims; `Err(reason)`
    /// refuses the token with 401 and the reason as `error_description`.
    pub fn rule<F>(mut self, rule: F) -> Self
    where
        F: Fn(&serde_json::Value) -> Result<(), String> + Send + Sync + 'static,
    {
        self.rules.push(Arc::new(rule));
        self
    }

    /// The kinds of grant this issuer's tokens carry (its vocabulary):
    /// requirements read a token's scopes and roles only of these kinds,
    /// so a claim meaning one thing at this provider is never taken for
    /// another provider's grant (see [`GrantKinds`]). Replaces the
    /// preset's or the issuer shape's kinds; without either,
    /// [`GrantKinds::RFC_9068`].
    pub fn grants(mut self, kinds: GrantKinds) -> Self {
        self.grants = Some(kinds);
        self
    }

    /// A short name for this issuer, which a requirement can name it by
    /// ([`Require::issued_by`](crate::Require::issued_by)) as well as by
    /// its configured issuer. Several issuers may share one (the presets
    /// label theirs `"entra"`, `"keycloak"`, `"okta"`: one name for a
    /// provider's issuers); give each realm or tenant its own to tell them
    /// apart. Replaces the preset's label; an empty label, or one that is
    /// another trusted issuer's name, is a `build()` error.
    ///
    /// ```
    /// use oidc_bearer::Keycloak;
    /// use oidc_bearer::issuers::IntoIssuers;
    ///
    /// // Two realms of one server, told apart in requirements.
    /// let partners = Keycloak::realm("https://auth.example.com", "partners")
    ///     .audience("orders-api")
    ///     .each(|issuer| issuer.label("partners"));
    /// # let _ = partners;
    /// ```
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// The label given with [`label`](Self::label), if any.
    pub fn label_name(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// What a provider knows of this issuer — its configuration mistakes,
    /// keys bound to another issuer, token kinds, and refusals it can
    /// explain — handed to the core through [`IssuerHints`]. Replaces the
    /// hints set before, and the crate's default (see [`IssuerHints`]).
    pub fn hints(mut self, hints: Arc<dyn IssuerHints>) -> Self {
        self.hints = Some(hints);
        self
    }

    /// Makes `build()` fail with [`Error::Config`](crate::Error::Config)
    /// and this message: for a preset that found a mistake in what it was
    /// given, so the mistake is reported where every configuration mistake
    /// is (the builder's promise: at start-up, never at the first
    /// request). The first mistake reported is kept.
    pub fn fail_build(mut self, mistake: impl Into<String>) -> Self {
        if self.invalid.is_none() {
            self.invalid = Some(mistake.into());
        }
        self
    }

    /// The issuer as configured: the exact `iss`, or the template of a
    /// [`multi_tenant`](Self::multi_tenant) one.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True for an issuer made by [`multi_tenant`](Self::multi_tenant).
    pub fn is_multi_tenant(&self) -> bool {
        self.multi_tenant
    }
}

/// What [`ValidatorBuilder::trust`](crate::ValidatorBuilder::trust) takes:
/// one [`Issuer`], or a provider preset that stands for one or more (an
/// issuer per token version a provider issues, sharing one key set).
pub trait IntoIssuers {
    /// The issuers, in the order they were configured.
    fn into_issuers(self) -> Vec<Issuer>;

    /// The issuers, each passed through `configure`: any [`Issuer`]
    /// setting applied to every issuer of a preset, with no copy of the
    /// setter on the preset.
    ///
    /// ```
    /// use oidc_bearer::{EntraId, Validator};
    /// use oidc_bearer::issuers::IntoIssuers;
    ///
    /// // Both of the tenant's issuers (v1 and v2 tokens), one label.
    /// let issuers = EntraId::tenant("6babcaad-604b-40ac-a9d7-9fd97c0b779f")
    ///     .audience("api://orders")
    ///     .each(|issuer| issuer.label("staff"));
    /// assert!(issuers.iter().all(|issuer| issuer.label_name() == Some("staff")));
    /// let builder = Validator::builder().trust(issuers);
    /// # let _ = builder;
    /// ```
    fn each(self, configure: impl FnMut(Issuer) -> Issuer) -> Vec<Issuer>
    where
        Self: Sized,
    {
        self.into_issuers().into_iter().map(configure).collect()
    }
}

impl IntoIssuers for Issuer {
    fn into_issuers(self) -> Vec<Issuer> {
        vec![self]
    }
}

/// Issuers taken from a preset and adjusted, e.g. each given its own key
/// source, trusted together.
impl IntoIssuers for Vec<Issuer> {
    fn into_issuers(self) -> Vec<Issuer> {
        self
    }
}
