//! What Entra ID's issuers and tokens look like, given to the core as
//! [`IssuerHints`]: the endpoints and near misses people write as issuers,
//! the v1 issuer whose keys are bound to the v2 issuer, and Microsoft
//! Graph's tokens, which no API but Graph can verify.

use serde::Deserialize;

use super::clouds::{is_cloud_issuer, v1_key_alias};
use crate::claims::{Audience, GrantKinds, TENANT_PLACEHOLDER};
use crate::error::Error;
use crate::issuers::{Issuer, IssuerHints, Refusal, RefusedToken};

/// Microsoft Graph's audiences: its application id and its URI
/// (<https://learn.microsoft.com/graph/auth/auth-concepts#access-tokens>).
const MICROSOFT_GRAPH: [&str; 2] = [
    "00000003-0000-0000-c000-000000000000",
    "https://graph.microsoft.com",
];

/// The hosts Entra's hand-written issuers are linted on: the global
/// cloud's, where the mistakes below are made.
const V2_HOST: &str = "https://login.microsoftonline.com/";
const V1_HOST: &str = "https://sts.windows.net/";

/// Entra ID's hints for one issuer.
#[derive(Debug, Clone)]
pub(crate) struct EntraHints {
    alias: Alias,
}

#[derive(Debug, Clone)]
enum Alias {
    /// A hand-written issuer: a v1 issuer of a known cloud shares the keys
    /// of that cloud's v2 issuer of the same tenant.
    ByShape,
    /// Set by the preset, which knows its cloud (or was told its v1 issuer).
    Exactly(Option<String>),
}

impl EntraHints {
    /// For an issuer written by hand, known by its shape only.
    pub(crate) fn by_shape() -> Self {
        EntraHints {
            alias: Alias::ByShape,
        }
    }

    /// For an issuer of the preset, whose keys are also those bound to
    /// `alias` (a v1 issuer's v2 counterpart) when given.
    pub(crate) fn preset(alias: Option<String>) -> Self {
        EntraHints {
            alias: Alias::Exactly(alias),
        }
    }
}

impl IssuerHints for EntraHints {
    fn check(&self, issuer: &Issuer) -> Result<(), String> {
        let name = issuer.name();
        if let Some(endpoint) = multi_tenant_endpoint(name) {
            return Err(format!(
                "{name:?} is Entra ID's {endpoint:?} endpoint, not an issuer: each token carries \
                 its own tenant's issuer. Use .trust(EntraId::multi_tenant().audience(..)), \
                 optionally with .allowed_tenants([..]), or EntraId::tenant(\"<tenant id>\") for \
                 one tenant"
            ));
        }
        let entra_host = name.starts_with(V2_HOST) || name.starts_with(V1_HOST);
        if entra_host && name.contains(TENANT_PLACEHOLDER) && !issuer.is_multi_tenant() {
            return Err(format!(
                "the issuer {name:?} contains {TENANT_PLACEHOLDER}, which only a multi-tenant \
                 issuer fills in (with the token's tid): use EntraId::multi_tenant() for Entra \
                 ID, or Issuer::multi_tenant({name:?})"
            ));
        }
        match issuer_shape(name) {
            Some(advice) => Err(format!(
                "{name:?} is no issuer Entra ID puts in tokens: {advice}; or use EntraId::tenant(..)"
            )),
            None => Ok(()),
        }
    }

    fn key_issuer_alias(&self, issuer: &str) -> Option<String> {
        match &self.alias {
            Alias::ByShape => v1_key_alias(issuer),
            Alias::Exactly(alias) => alias.clone(),
        }
    }

    fn grant_kinds(&self, issuer: &str) -> Option<GrantKinds> {
        let entra = match self.alias {
            Alias::ByShape => is_cloud_issuer(issuer),
            Alias::Exactly(_) => true,
        };
        entra.then_some(GrantKinds::ENTRA_ID)
    }

    fn explain(&self, refusal: Refusal, token: &RefusedToken<'_>) -> Option<Error> {
        explain_graph_token(refusal, token)
    }
}

/// [`Error::MicrosoftGraphToken`] for a token the SPA got for Microsoft
/// Graph (`User.Read`) instead of for the API, so nobody chases keys: its
/// header carries a `nonce` whose hash the signature covers, so only Graph
/// can verify it, and its `aud` is Graph's. Which sign tells, by step: the
/// `nonce` for a failed signature (before any refetch: no key of ours will
/// ever verify it), the verified `aud` for a wrong issuer or audience
/// (before `azp` is considered), either for an issuer nobody trusts.
pub(crate) fn explain_graph_token(refusal: Refusal, token: &RefusedToken<'_>) -> Option<Error> {
    let graph = match refusal {
        Refusal::Signature => token.header_has_nonce(),
        Refusal::UnknownIssuer => token.header_has_nonce() || graph_audience(token),
        Refusal::Issuer | Refusal::Audience => graph_audience(token),
    };
    graph.then_some(Error::MicrosoftGraphToken)
}

/// True when the token's `aud` names Microsoft Graph.
fn graph_audience(token: &RefusedToken<'_>) -> bool {
    #[derive(Deserialize)]
    struct Aud<'a> {
        #[serde(borrow)]
        aud: Option<Audience<'a>>,
    }
    serde_json::from_slice::<Aud<'_>>(token.claims_json())
        .ok()
        .and_then(|a| a.aud)
        .is_some_and(|aud| MICROSOFT_GRAPH.iter().any(|graph| aud.contains(graph)))
}

/// `common`, `organizations` or `consumers` when `issuer` is one of Entra
/// ID's multi-tenant endpoints, which no token names as its `iss`.
fn multi_tenant_endpoint(issuer: &str) -> Option<&str> {
    let rest = issuer.strip_prefix(V2_HOST)?;
    let rest = rest.trim_end_matches('/');
    let tenant = rest.strip_suffix("/v2.0").unwrap_or(rest);
    ["common", "organizations", "consumers"]
        .into_iter()
        .find(|endpoint| tenant.eq_ignore_ascii_case(endpoint))
}

/// What is wrong with an Entra ID issuer written by hand, when it is one
/// of the two near misses people write: the v2 issuer without `/v2.0`, or
/// the v1 issuer without its trailing slash.
fn issuer_shape(issuer: &str) -> Option<&'static str> {
    if let Some(rest) = issuer.strip_prefix(V2_HOST) {
        let rest = rest.trim_end_matches('/');
        if !rest.is_empty() && !rest.contains('/') {
            return Some("v2 issuers end in /v2.0 (https://login.microsoftonline.com/<tid>/v2.0)");
        }
    }
    let rest = issuer.strip_prefix(V1_HOST)?;
    (!rest.is_empty() && !rest.contains('/'))
        .then_some("v1 issuers end in a slash (https://sts.windows.net/<tid>/)")
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";

    #[test]
    fn entra_endpoints_are_not_issuers() {
        for endpoint in [
            "https://login.microsoftonline.com/common/v2.0",
            "https://login.microsoftonline.com/organizations/v2.0/",
            "https://login.microsoftonline.com/common",
        ] {
            assert!(multi_tenant_endpoint(endpoint).is_some(), "{endpoint}");
        }
        assert_eq!(
            multi_tenant_endpoint(&format!("https://login.microsoftonline.com/{A}/v2.0")),
            None
        );
        for near_miss in [
            format!("https://login.microsoftonline.com/{A}"),
            format!("https://login.microsoftonline.com/{A}/"),
            format!("https://sts.windows.net/{A}"),
        ] {
            assert!(issuer_shape(&near_miss).is_some(), "{near_miss}");
        }
        for issuer in [
            format!("https://login.microsoftonline.com/{A}/v2.0"),
            format!("https://sts.windows.net/{A}/"),
        ] {
            assert_eq!(issuer_shape(&issuer), None, "{issuer}");
        }
    }

    #[test]
    fn graph_tokens_are_told_by_the_sign_each_step_can_see() {
        let explain = |refusal, nonce, claims: &str| {
            explain_graph_token(refusal, &RefusedToken::new(nonce, claims.as_bytes()))
        };
        let graph = r#"{"aud":"00000003-0000-0000-c000-000000000000"}"#;
        let graph_uri = r#"{"aud":["x","https://graph.microsoft.com"]}"#;
        let other = r#"{"aud":"api://orders"}"#;
        for refusal in [Refusal::Issuer, Refusal::Audience, Refusal::UnknownIssuer] {
            for claims in [graph, graph_uri] {
                let said = explain(refusal, false, claims);
                assert!(
                    matches!(said, Some(Error::MicrosoftGraphToken)),
                    "{refusal:?}"
                );
            }
            assert!(explain(refusal, false, other).is_none(), "{refusal:?}");
        }
        // A bad signature is Graph's only by its nonce: a forged `aud`
        // alone does not make a bad signature someone else's.
        assert!(explain(Refusal::Signature, false, graph).is_none());
        assert!(explain(Refusal::Signature, true, other).is_some());
        assert!(explain(Refusal::UnknownIssuer, true, other).is_some());
        // A verified token's header nonce says nothing of its audience.
        assert!(explain(Refusal::Audience, true, other).is_none());
        assert!(explain(Refusal::UnknownIssuer, false, "not json").is_none());
    }
}
