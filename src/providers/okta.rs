//! [`Okta`]: one Okta custom authorization server, its issuer and keys,
//! and a refusal of the org authorization server, whose access tokens
//! only Okta itself may verify.
//!
//! A preset: it fills in an [`Issuer`](crate::Issuer) through its public
//! methods and verifies nothing itself.

use std::sync::Arc;

use crate::claims::GrantKinds;
use crate::error::Error;
use crate::issuers::{IntoIssuers, Issuer, IssuerHints, Refusal, RefusedToken};

/// An Okta custom authorization server, for
/// [`ValidatorBuilder::trust`](crate::ValidatorBuilder::trust).
///
/// What it configures, from Okta's documentation:
///
/// - the issuer `https://{yourOktaDomain}/oauth2/{authorizationServerId}`,
///   `default` for the server every org with API Access Management has
///   ("Authorization servers",
///   <https://developer.okta.com/docs/concepts/auth-servers/>);
/// - the keys from `{issuer}/v1/keys`, the `jwks_uri` of the server's
///   metadata at `{issuer}/.well-known/oauth-authorization-server` (and
///   `openid-configuration`) ("Custom Authorization Servers",
///   <https://developer.okta.com/docs/api/openapi/okta-oauth/oauth/tag/CustomAS>);
/// - the audiences you give: the server's "Audience" setting, which is
///   `api://default` for the `default` server until an admin changes it.
///
/// Okta's access tokens carry `scp` as a JSON array, `cid` the client id
/// and `uid` the user id; [`OktaClaims`](crate::providers::OktaClaims) reads them.
///
/// The org authorization server (issuer `https://{yourOktaDomain}`, no
/// `/oauth2/…`) issues access tokens for Okta's own APIs: "Okta is the
/// only app that should consume or validate access tokens from the org
/// authorization server" ("Validate access tokens",
/// <https://developer.okta.com/docs/guides/validate-access-tokens/>), and
/// its keys are not for you to verify them with. `build()` refuses that
/// issuer, saying to use a custom authorization server.
///
/// ```
/// use oidc_bearer::{Okta, Validator};
///
/// # async fn run() -> Result<(), oidc_bearer::Error> {
/// let validator = Validator::builder()
///     .trust(Okta::default_server("dev-123456.okta.com").audience("api://default"))
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Okta {
    issuer: Issuer,
}

impl Okta {
    /// The custom authorization server `server_id` of the Okta org at
    /// `domain` (`dev-123456.okta.com`, a custom domain, or a URL such as
    /// `https://id.example.com`; `http` only for a loopback test server).
    pub fn authorization_server(domain: impl AsRef<str>, server_id: impl AsRef<str>) -> Self {
        let base = base_url(domain.as_ref());
        let server_id = server_id.as_ref();
        let issuer = Okta::issuer(format!("{base}/oauth2/{server_id}"));
        if server_id.is_empty() || server_id.contains(['/', '?', '#', '%', ' ']) {
            return Okta {
                issuer: issuer.issuer.fail_build(format!(
                    "Okta::authorization_server(.., {server_id:?}): give the authorization \
                     server's ID as its issuer URI shows it after /oauth2/ (e.g. default, or \
                     aus1a2b3c4d5e6f7g8h9)"
                )),
            };
        }
        issuer
    }

    /// The custom authorization server named `default`, issuer
    /// `https://{domain}/oauth2/default`.
    pub fn default_server(domain: impl AsRef<str>) -> Self {
        Okta::authorization_server(domain, "default")
    }

    /// The authorization server whose issuer URI is `issuer`, exactly as
    /// its settings page (or its metadata's `issuer`) shows it:
    /// `https://{domain}/oauth2/{authorizationServerId}`. The org
    /// authorization server's `https://{domain}` is refused by `build()`
    /// (see [`Okta`]).
    pub fn issuer(issuer: impl Into<String>) -> Self {
        let name = issuer.into().trim_end_matches('/').to_owned();
        let keys = format!("{name}/v1/keys");
        Okta {
            issuer: Issuer::new(name)
                .jwks_url(keys)
                .label("okta")
                .hints(Arc::new(OktaHints)),
        }
    }

    /// An accepted audience: the authorization server's "Audience"
    /// setting (`api://default` for the `default` server unless changed);
    /// call again to accept several.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.issuer = self.issuer.audience(audience);
        self
    }

    /// A custom check on the verified claims, as [`Issuer::rule`].
    pub fn rule<F>(mut self, rule: F) -> Self
    where
        F: Fn(&serde_json::Value) -> Result<(), String> + Send + Sync + 'static,
    {
        self.issuer = self.issuer.rule(rule);
        self
    }
}

impl IntoIssuers for Okta {
    fn into_issuers(self) -> Vec<Issuer> {
        vec![self.issuer]
    }
}

/// `domain` as a base URL: `https://` unless it names its scheme.
fn base_url(domain: &str) -> String {
    let domain = domain.trim_end_matches('/');
    match domain.contains("://") {
        true => domain.to_owned(),
        false => format!("https://{domain}"),
    }
}

/// What the core asks of an Okta authorization server.
#[derive(Debug)]
struct OktaHints;

impl IssuerHints for OktaHints {
    fn grant_kinds(&self, _: &str) -> Option<GrantKinds> {
        Some(GrantKinds::OKTA)
    }

    fn check(&self, issuer: &Issuer) -> Result<(), String> {
        let name = issuer.name();
        match server_path(name) {
            Shape::Custom => Ok(()),
            Shape::Org => Err(format!(
                "{name:?} is an Okta org authorization server, whose access tokens only Okta \
                 may verify (they are for Okta's own APIs): protect your API with a custom \
                 authorization server, Okta::default_server(..) or \
                 Okta::authorization_server(.., \"<id>\"), issuer https://<domain>/oauth2/<id>"
            )),
            Shape::Other => Err(format!(
                "{name:?} is no Okta authorization server's issuer: those are \
                 https://<domain>/oauth2/<authorization server id>, as the server's settings \
                 show"
            )),
        }
    }

    fn explain(&self, refusal: Refusal, token: &RefusedToken<'_>) -> Option<Error> {
        super::explain_any(refusal, token)
    }
}

enum Shape {
    /// `{base}/oauth2/{id}`.
    Custom,
    /// `{base}` alone: the org authorization server.
    Org,
    Other,
}

fn server_path(issuer: &str) -> Shape {
    let Ok(url) = reqwest::Url::parse(issuer) else {
        return Shape::Other;
    };
    if url.query().is_some() || url.fragment().is_some() {
        return Shape::Other;
    }
    let path = url.path().trim_end_matches('/');
    if path.is_empty() {
        return Shape::Org;
    }
    match path.strip_prefix("/oauth2/") {
        Some(id) if !id.is_empty() && !id.contains('/') => Shape::Custom,
        _ => Shape::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issuers::Source;

    #[test]
    fn issuer_and_keys_of_a_custom_server() {
        for (preset, issuer) in [
            (
                Okta::default_server("dev-1.okta.com"),
                "https://dev-1.okta.com/oauth2/default",
            ),
            (
                Okta::authorization_server("https://id.example.com/", "aus1"),
                "https://id.example.com/oauth2/aus1",
            ),
            (
                Okta::issuer("https://dev-1.okta.com/oauth2/aus1/"),
                "https://dev-1.okta.com/oauth2/aus1",
            ),
        ] {
            let issuers = preset.audience("api://default").into_issuers();
            assert_eq!(issuers[0].name, issuer);
            assert!(matches!(
                &issuers[0].sources[..],
                [Source::JwksUrl(url)] if *url == format!("{issuer}/v1/keys")
            ));
            let hints = issuers[0].hints.as_ref().unwrap();
            assert_eq!(hints.check(&issuers[0]), Ok(()));
            assert!(issuers[0].invalid.is_none());
        }
    }

    #[test]
    fn the_org_server_and_other_shapes_are_refused() {
        for (issuer, says) in [
            ("https://dev-1.okta.com", "org authorization server"),
            ("https://dev-1.okta.com/", "org authorization server"),
            ("https://dev-1.okta.com/oauth2", "no Okta authorization"),
            ("https://dev-1.okta.com/oauth2/a/b", "no Okta authorization"),
            (
                "https://dev-1.okta.com/oauth2/a?x=1",
                "no Okta authorization",
            ),
            ("not a url", "no Okta authorization"),
        ] {
            let okta = Okta::issuer(issuer).into_issuers().remove(0);
            let refused = okta.hints.as_ref().unwrap().check(&okta).unwrap_err();
            assert!(refused.contains(says), "{issuer}: {refused}");
        }
        for id in ["", "a/b", "a b"] {
            let okta = Okta::authorization_server("dev-1.okta.com", id).into_issuers();
            assert!(okta[0].invalid.is_some(), "{id:?}");
        }
    }
}
