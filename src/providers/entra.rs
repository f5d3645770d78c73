//! [`EntraId`]: Microsoft Entra ID (Azure AD) as its tokens really are —
//! v1 and v2 issuers, one tenant or many, keys bound to issuers.

use std::sync::Arc;

use crate::claims::{TENANT_PLACEHOLDER, is_guid};
use crate::issuers::{IntoIssuers, Issuer};
use crate::validator::Rule;

/// The global cloud's sign-in host (the MSAL "instance").
const GLOBAL: &str = "https://login.microsoftonline.com";

/// Which access-token versions an [`EntraId`] API accepts. Entra issues
/// the version the API's app registration asks for in its manifest
/// (`accessTokenAcceptedVersion`: `null` or `1` → v1, `2` → v2), whatever
/// endpoint the client used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EntraTokenVersion {
    /// v1: `iss` `https://sts.windows.net/{tid}/`, `aud` usually the App ID
    /// URI (`api://…`).
    V1,
    /// v2 (the default): `iss` `https://login.microsoftonline.com/{tid}/v2.0`,
    /// `aud` the API's client id.
    #[default]
    V2,
    /// Both, e.g. while the manifest changes: two issuers sharing one key
    /// set.
    V1AndV2,
}

/// Which tenants' tokens are accepted.
#[derive(Debug, Clone)]
enum Tenants {
    One(String),
    /// `common` / `organizations`: the token's own `tid`.
    Any,
}

/// A Microsoft Entra ID (Azure AD) API, for
/// [`ValidatorBuilder::trust`](crate::ValidatorBuilder::trust).
///
/// What it configures:
///
/// | | single tenant ([`tenant`](Self::tenant)) | multi-tenant ([`multi_tenant`](Self::multi_tenant)) |
/// |---|---|---|
/// | v2 `iss` | `https://login.microsoftonline.com/{tid}/v2.0` | the same with `{tenantid}` = the token's `tid` (a GUID) |
/// | v1 `iss` | `https://sts.windows.net/{tid}/` | the same with `{tenantid}` |
/// | keys | `…/{tid}/discovery/v2.0/keys` | `…/common/discovery/v2.0/keys` |
/// | tenants | the one | any, or [`allowed_tenants`](Self::allowed_tenants), checked first |
///
/// Both: the audiences you give (client id and/or App ID URI); keys bound
/// to issuers through their JWK `issuer` member, a v1 token accepted with
/// the v2-bound key of its own tenant (as Microsoft's validator does);
/// `?appid=` on the keys URL with
/// [`claims_mapping_app_id`](Self::claims_mapping_app_id); tokens for
/// Microsoft Graph refused with a message that says to request a scope of
/// this API. Entra access tokens are `typ: JWT`, not `at+jwt`: no type is
/// required.
///
/// ```
/// use oidc_bearer::{EntraId, EntraTokenVersion, Validator};
///
/// # async fn run() -> Result<(), oidc_bearer::Error> {
/// let validator = Validator::builder()
///     .trust(
///         EntraId::tenant("8eaef023-2b34-4da1-9baa-8bc8c9d6a490")
///             .audience("6e74172b-be56-4843-9ff4-e66a39bb12e3") // v2: client id
///             .audience("api://orders")                        // v1: App ID URI
///             .token_version(EntraTokenVersion::V1AndV2),
///     )
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct EntraId {
    tenants: Tenants,
    allowed: Option<Vec<String>>,
    instance: String,
    version: EntraTokenVersion,
    audiences: Vec<String>,
    app_id: Option<String>,
    rules: Vec<Rule>,
}

impl std::fmt::Debug for EntraId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntraId")
            .field("tenants", &self.tenants)
            .field("allowed", &self.allowed)
            .field("instance", &self.instance)
            .field("version", &self.version)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

impl EntraId {
    /// One tenant's API: `tenant_id` is the Directory (tenant) ID, a GUID
    /// (not a domain such as `contoso.onmicrosoft.com`: tokens carry the
    /// GUID). v2 tokens unless [`token_version`](Self::token_version).
    pub fn tenant(tenant_id: impl Into<String>) -> Self {
        // Tokens carry the GUID in lower case, in `tid` and in `iss`.
        Self::with(Tenants::One(tenant_id.into().to_ascii_lowercase()))
    }

    /// A multi-tenant API (sign-in through `common` or `organizations`):
    /// tokens of any tenant whose `iss` is Entra's issuer for the token's
    /// own `tid`. Restrict it with [`allowed_tenants`](Self::allowed_tenants).
    pub fn multi_tenant() -> Self {
        Self::with(Tenants::Any)
    }

    fn with(tenants: Tenants) -> Self {
        EntraId {
            tenants,
            allowed: None,
            instance: GLOBAL.into(),
            version: EntraTokenVersion::V2,
            audiences: Vec::new(),
            app_id: None,
            rules: Vec::new(),
        }
    }

    /// An accepted audience: the API's client id (a GUID, what v2 tokens
    /// carry) or its App ID URI (`api://…`, what v1 tokens usually carry).
    /// Call again to accept several.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Which token versions to accept (default v2).
    pub fn token_version(mut self, version: EntraTokenVersion) -> Self {
        self.version = version;
        self
    }

    /// Multi-tenant only: accept tokens of these tenant ids (`tid`) only,
    /// checked before anything else about the tenant. Call again to add.
    pub fn allowed_tenants<I, S>(mut self, tenant_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed
            .get_or_insert_with(Vec::new)
            .extend(tenant_ids.into_iter().map(Into::into));
        self
    }

    /// For an app with a claims-mapping policy, whose tokens are signed
    /// with keys that only appear in metadata fetched with
    /// `?appid={client_id}`: fetch the keys so. Without it, such tokens'
    /// `kid` is never found.
    pub fn claims_mapping_app_id(mut self, client_id: impl Into<String>) -> Self {
        self.app_id = Some(client_id.into());
        self
    }

    /// The sign-in host of another cloud, e.g. `https://login.microsoftonline.us`
    /// (default `https://login.microsoftonline.com`): the v2 issuer and the
    /// keys URL use it. v1 issuers stay `https://sts.windows.net/…`.
    pub fn instance(mut self, url: impl Into<String>) -> Self {
        self.instance = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// A custom check on the verified claims of this API's tokens, as
    /// [`Issuer::rule`].
    pub fn rule<F>(mut self, rule: F) -> Self
    where
        F: Fn(&serde_json::Value) -> Result<(), String> + Send + Sync + 'static,
    {
        self.rules.push(Arc::new(rule));
        self
    }

    /// The mistake `build()` reports, if any.
    fn mistake(&self) -> Option<String> {
        let Tenants::One(tenant) = &self.tenants else {
            return None;
        };
        if ["common", "organizations", "consumers"].contains(&tenant.to_ascii_lowercase().as_str())
        {
            return Some(format!(
                "EntraId::tenant({tenant:?}) names a multi-tenant endpoint: use \
                 EntraId::multi_tenant(), optionally with .allowed_tenants([..])"
            ));
        }
        (!is_guid(tenant)).then(|| {
            format!(
                "EntraId::tenant({tenant:?}) needs the Directory (tenant) ID, a GUID such as \
                 8eaef023-2b34-4da1-9baa-8bc8c9d6a490: tokens carry the GUID, not a domain"
            )
        })
    }

    /// The keys URL: the tenant's (or `common`'s), with `?appid=`.
    fn keys_url(&self) -> String {
        let tenant = match &self.tenants {
            Tenants::One(tenant) => tenant.as_str(),
            Tenants::Any => "common",
        };
        let url = format!("{}/{tenant}/discovery/v2.0/keys", self.instance);
        match (&self.app_id, reqwest::Url::parse(&url)) {
            (Some(app_id), Ok(mut parsed)) => {
                parsed.query_pairs_mut().append_pair("appid", app_id);
                parsed.into()
            }
            _ => url,
        }
    }
}

impl IntoIssuers for EntraId {
    fn into_issuers(self) -> Vec<Issuer> {
        let tenant = match &self.tenants {
            Tenants::One(tenant) => tenant.clone(),
            Tenants::Any => TENANT_PLACEHOLDER.to_owned(),
        };
        let v2 = format!("{}/{tenant}/v2.0", self.instance);
        let v1 = format!("https://sts.windows.net/{tenant}/");
        let names: Vec<(String, Option<String>)> = match self.version {
            EntraTokenVersion::V1 => vec![(v1, Some(v2))],
            EntraTokenVersion::V2 => vec![(v2, None)],
            EntraTokenVersion::V1AndV2 => vec![(v2.clone(), None), (v1, Some(v2))],
        };
        let keys_url = self.keys_url();
        let mistake = self.mistake();
        names
            .into_iter()
            .map(|(name, alias)| {
                let mut issuer = match self.tenants {
                    Tenants::One(_) => Issuer::new(name),
                    Tenants::Any => Issuer::multi_tenant(name),
                }
                .jwks_url(keys_url.clone());
                issuer.audiences = self.audiences.clone();
                issuer.tenants = self.allowed.clone();
                issuer.key_issuer_alias = alias;
                issuer.rules = self.rules.clone();
                issuer.invalid = mistake.clone();
                issuer
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";

    #[test]
    fn issuers_and_keys_per_version_and_tenancy() {
        let both = EntraId::tenant(T)
            .audience("api://x")
            .token_version(EntraTokenVersion::V1AndV2)
            .claims_mapping_app_id("6e74172b-be56-4843-9ff4-e66a39bb12e3")
            .into_issuers();
        let names: Vec<&str> = both.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            [
                format!("https://login.microsoftonline.com/{T}/v2.0"),
                format!("https://sts.windows.net/{T}/"),
            ]
        );
        assert_eq!(
            both[1].key_issuer_alias.as_deref(),
            Some(names[0]),
            "v1 tokens are signed by keys bound to the v2 issuer"
        );
        for issuer in &both {
            assert!(matches!(
                &issuer.sources[..],
                [crate::issuers::Source::JwksUrl(url)] if *url == format!(
                    "https://login.microsoftonline.com/{T}/discovery/v2.0/keys?appid=6e74172b-be56-4843-9ff4-e66a39bb12e3"
                )
            ));
            assert!(issuer.invalid.is_none());
        }
        let multi = EntraId::multi_tenant()
            .audience("x")
            .allowed_tenants([T])
            .into_issuers();
        assert_eq!(
            multi[0].name,
            "https://login.microsoftonline.com/{tenantid}/v2.0"
        );
        assert!(multi[0].multi_tenant);
        assert_eq!(multi[0].tenants.as_deref(), Some(&[T.to_owned()][..]));
    }

    #[test]
    fn a_domain_or_an_endpoint_is_not_a_tenant_id() {
        let upper = EntraId::tenant(T.to_uppercase())
            .audience("x")
            .into_issuers();
        assert_eq!(
            upper[0].name,
            format!("https://login.microsoftonline.com/{T}/v2.0")
        );
        for tenant in ["contoso.onmicrosoft.com", "common", "Organizations", ""] {
            let issuers = EntraId::tenant(tenant).audience("x").into_issuers();
            assert!(issuers[0].invalid.is_some(), "{tenant}");
        }
    }
}
