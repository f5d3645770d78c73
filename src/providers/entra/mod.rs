//! [`EntraId`]: Microsoft Entra ID (Azure AD) as its tokens really are —
//! v1 and v2 issuers, one tenant or many, keys bound to issuers.
//!
//! A preset: it fills in [`Issuer`](crate::Issuer)s through their public
//! methods and verifies nothing itself.

mod clouds;
mod hints;

use std::sync::Arc;

use crate::claims::{TENANT_PLACEHOLDER, is_guid};
use crate::issuers::{IntoIssuers, Issuer, Rule};

use clouds::{CLOUDS, GERMANY, GLOBAL, cloud_of};
pub(crate) use hints::{EntraHints, explain_graph_token};

/// Which access-token versions an [`EntraId`] API accepts. Entra issues
/// the version the API's app registration asks for in its manifest
/// (`accessTokenAcceptedVersion`: `null` or `1` → v1, `2` → v2), whatever
/// endpoint the client used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EntraTokenVersion {
    /// v1: `iss` `https://sts.windows.net/{tid}/` (global cloud; others:
    /// [`EntraId::instance`]), `aud` usually the App ID URI (`api://…`).
    V1,
    /// v2 (the default): `iss` `https://login.microsoftonline.com/{tid}/v2.0`
    /// (global cloud), `aud` the API's client id.
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
/// Those are the global cloud's issuers and keys; another cloud's come
/// with its [`instance`](Self::instance).
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
/// use oidc_bearer::{EntraId, Validator};
/// use oidc_bearer::providers::EntraTokenVersion;
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
    v1_issuer: Option<String>,
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
            .field("v1_issuer", &self.v1_issuer)
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
            v1_issuer: None,
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

    /// The sign-in host (MSAL's "instance") of the cloud the tenant lives
    /// in; default `https://login.microsoftonline.com`. Keys are fetched
    /// from `{instance}/{tenant}/discovery/v2.0/keys`, and the issuers are
    /// the cloud's own, so a token of another cloud is refused:
    ///
    /// | cloud | instance | v2 `iss` | v1 `iss` |
    /// |---|---|---|---|
    /// | global | `https://login.microsoftonline.com` | `https://login.microsoftonline.com/{tid}/v2.0` | `https://sts.windows.net/{tid}/` |
    /// | Azure US Government | `https://login.microsoftonline.us` | `https://login.microsoftonline.us/{tid}/v2.0` | `https://sts.windows.net/{tid}/` |
    /// | Azure China (21Vianet) | `https://login.chinacloudapi.cn` or `https://login.partner.microsoftonline.cn` | `https://login.partner.microsoftonline.cn/{tid}/v2.0` | `https://sts.chinacloudapi.cn/{tid}/` |
    ///
    /// Sources. The instances: Microsoft's national clouds page,
    /// "Microsoft Entra authentication endpoints"
    /// (<https://learn.microsoft.com/entra/identity-platform/authentication-national-cloud>),
    /// which names no issuer. The v2 issuers: MSAL's built-in cloud
    /// metadata (`lib/msal-common/src/authority/AuthorityMetadata.ts` in
    /// AzureAD/microsoft-authentication-library-for-js), which marks
    /// China's issuer host as differing from its sign-in host, as China's
    /// discovery documents and tokens show. The v1 issuers: no Microsoft
    /// reference page lists them; these are the hosts Microsoft's own
    /// tools expect (`sts.chinacloudapi.cn` for China, `sts.windows.net`
    /// for every other cloud). US Government's v1 tokens thus share the
    /// global host: there a global v1 token is refused by its key, not by
    /// its `iss`, each cloud signing with its own keys.
    ///
    /// Azure Germany (`https://login.microsoftonline.de`) closed on
    /// 2021-10-29: `build()` refuses it. For any other instance (a local
    /// test server, a cloud not listed) the v2 issuer is
    /// `{instance}/{tid}/v2.0` and no v1 issuer is guessed: accepting v1
    /// tokens there needs [`v1_issuer`](Self::v1_issuer), or `build()`
    /// says so.
    pub fn instance(mut self, url: impl Into<String>) -> Self {
        self.instance = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The v1 issuer of this cloud, without its tenant: v1 tokens then
    /// carry `{url}/{tid}/`, e.g. `https://sts.windows.net` for
    /// `https://sts.windows.net/{tid}/`. Only needed for an
    /// [`instance`](Self::instance) the table there does not list (and it
    /// replaces the table's value for one it does). v1 tokens are still
    /// verified with the keys bound to the v2 issuer.
    pub fn v1_issuer(mut self, url: impl Into<String>) -> Self {
        self.v1_issuer = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// The v2 issuer and the v1 issuer (if known) before `/{tid}/…`.
    fn issuer_bases(&self) -> (&str, Option<&str>) {
        let cloud = cloud_of(&self.instance);
        let v2 = cloud.map_or(self.instance.as_str(), |cloud| cloud.v2);
        let v1 = self.v1_issuer.as_deref().or(cloud.map(|cloud| cloud.v1));
        (v2, v1)
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
        self.tenant_mistake().or_else(|| self.cloud_mistake())
    }

    fn cloud_mistake(&self) -> Option<String> {
        let instance = &self.instance;
        if instance.eq_ignore_ascii_case(GERMANY) {
            return Some(format!(
                "EntraId::instance({instance:?}) is Azure Germany, which closed on 2021-10-29 \
                 and issues no tokens: its tenants moved to the global cloud, the default \
                 instance (https://login.microsoftonline.com)"
            ));
        }
        if let Some(v1) = &self.v1_issuer {
            let bare = reqwest::Url::parse(v1).is_ok_and(|url| {
                url.scheme() == "https" && url.path() == "/" && url.query().is_none()
            }) && !v1.contains(TENANT_PLACEHOLDER);
            if !bare {
                return Some(format!(
                    "EntraId::v1_issuer({v1:?}) takes the v1 issuer without its tenant, such as \
                     https://sts.windows.net: tokens carry it followed by /<tenant id>/"
                ));
            }
        }
        let wants_v1 = self.version != EntraTokenVersion::V2;
        (wants_v1 && self.issuer_bases().1.is_none()).then(|| {
            let known: Vec<String> = CLOUDS
                .iter()
                .map(|cloud| format!("{} {}", cloud.name, cloud.instances.join(" or ")))
                .collect();
            format!(
                "EntraId::instance({instance:?}) is no cloud whose v1 issuer is known ({}), so \
                 v1 tokens cannot be checked: set it with .v1_issuer(\"https://…\"), the `iss` \
                 of your v1 tokens without /<tenant id>/, or accept v2 tokens only",
                known.join("; ")
            )
        })
    }

    fn tenant_mistake(&self) -> Option<String> {
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
        let (v2_base, v1_base) = self.issuer_bases();
        let v2 = format!("{v2_base}/{tenant}/v2.0");
        // The cloud's v1 tokens are signed with the keys bound to its v2
        // issuer: the alias is set here, so nothing downstream guesses it.
        let v1 = v1_base.map(|base| (format!("{base}/{tenant}/"), Some(v2.clone())));
        let names: Vec<(String, Option<String>)> = match (self.version, v1) {
            (EntraTokenVersion::V1, Some(v1)) => vec![v1],
            (EntraTokenVersion::V1AndV2, Some(v1)) => vec![(v2, None), v1],
            // No v1 issuer known: `mistake()` makes `build()` say so.
            _ => vec![(v2, None)],
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
                .jwks_url(keys_url.clone())
                .label("entra")
                .hints(Arc::new(EntraHints::preset(alias)));
                for audience in &self.audiences {
                    issuer = issuer.audience(audience.clone());
                }
                if let Some(allowed) = &self.allowed {
                    issuer = issuer.allowed_tenants(allowed.iter().cloned());
                }
                for rule in &self.rules {
                    let rule = rule.clone();
                    issuer = issuer.rule(move |claims| rule(claims));
                }
                if let Some(mistake) = &mistake {
                    issuer = issuer.fail_build(mistake.clone());
                }
                issuer
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
