//! [`Keycloak`]: one realm of a Keycloak server, its issuer, its keys, and
//! the internal address a backend often reaches it at.

use crate::issuers::{IntoIssuers, Issuer};

/// A Keycloak realm, for
/// [`ValidatorBuilder::trust`](crate::ValidatorBuilder::trust).
///
/// What it configures: the issuer `{base}/realms/{realm}` (pass a `base`
/// ending in `/auth` for Keycloak before version 17), the keys from
/// `{base}/realms/{realm}/protocol/openid-connect/certs` — or from
/// [`internal_url`](Self::internal_url) while tokens keep the public
/// issuer — and the audiences you give. Keycloak's `RSA-OAEP` encryption
/// key in that set is never used to verify. Realm roles and client roles
/// are read apart by [`KeycloakClaims`](crate::KeycloakClaims) and
/// [`Require`](crate::Require).
///
/// Keycloak puts the API in `aud` only with an Audience mapper on the
/// client (otherwise `aud` is `"account"` or absent); until then,
/// [`allow_azp_as_audience`](Self::allow_azp_as_audience).
///
/// ```
/// use oidc_bearer::{Keycloak, Validator};
///
/// # async fn run() -> Result<(), oidc_bearer::Error> {
/// let validator = Validator::builder()
///     .trust(
///         Keycloak::realm("https://auth.example.com", "shop")
///             .internal_url("http://keycloak:8080") // where this service reaches it
///             .audience("orders-api"),
///     )
///     .allow_insecure_http() // that address is plain http: a trusted network only
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Keycloak {
    issuer: Issuer,
    realm: String,
    /// Where the realm's keys are fetched: the public base, or the
    /// internal one.
    keys_base: String,
}

impl Keycloak {
    /// The realm `realm` of the Keycloak server at `base_url` (its public
    /// address, as in tokens: `https://auth.example.com`, or
    /// `https://auth.example.com/auth` before Keycloak 17).
    pub fn realm(base_url: impl AsRef<str>, realm: impl Into<String>) -> Self {
        let realm = realm.into();
        let base = base_url.as_ref().trim_end_matches('/');
        let mut issuer = Issuer::new(format!("{base}/realms/{realm}"));
        if realm.is_empty() || realm.contains(['/', '?', '#', '%', ' ']) {
            issuer.invalid = Some(format!(
                "Keycloak::realm(.., {realm:?}): give the realm's name as it appears in its \
                 URLs, without slashes, spaces or escapes"
            ));
        } else if base.contains("/realms/") {
            issuer.invalid = Some(format!(
                "Keycloak::realm({base:?}, ..): give the server's base URL, without \
                 /realms/<realm> (e.g. https://auth.example.com, or .../auth before Keycloak 17)"
            ));
        }
        Keycloak {
            issuer,
            realm,
            keys_base: base.to_owned(),
        }
    }

    /// Where this service reaches Keycloak when that is not its public
    /// address (e.g. `http://keycloak:8080` inside the cluster, `/auth`
    /// included for Keycloak before 17): the keys are fetched there, and
    /// tokens are still checked against the public issuer. `http` to a
    /// non-loopback host also needs
    /// [`allow_insecure_http`](crate::ValidatorBuilder::allow_insecure_http).
    pub fn internal_url(mut self, base_url: impl AsRef<str>) -> Self {
        self.keys_base = base_url.as_ref().trim_end_matches('/').to_owned();
        self
    }

    /// An accepted audience (the API's client id, put in `aud` by an
    /// Audience mapper); call again to accept several.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.issuer = self.issuer.audience(audience);
        self
    }

    /// Also accept a token whose `aud` does not name the API (Keycloak's
    /// `"account"`) when its `azp` is `client_id`. A token without `aud` is
    /// still refused, and any other `azp`. See
    /// [`Issuer::allow_azp_as_audience`]; prefer an Audience mapper.
    pub fn allow_azp_as_audience(mut self, client_id: impl Into<String>) -> Self {
        self.issuer = self.issuer.allow_azp_as_audience(client_id);
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

impl IntoIssuers for Keycloak {
    fn into_issuers(self) -> Vec<Issuer> {
        vec![self.issuer.jwks_url(certs(&self.keys_base, &self.realm))]
    }
}

/// The realm's JWKS endpoint under `base`.
fn certs(base: &str, realm: &str) -> String {
    format!("{base}/realms/{realm}/protocol/openid-connect/certs")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issuers::Source;

    fn jwks_url(issuer: &Issuer) -> &str {
        match &issuer.sources[..] {
            [Source::JwksUrl(url)] => url,
            _ => panic!("no JWKS URL"),
        }
    }

    #[test]
    fn issuer_and_keys_with_prefix_and_internal_address() {
        let kc = Keycloak::realm("https://auth.example.com/", "shop").into_issuers();
        assert_eq!(kc[0].name, "https://auth.example.com/realms/shop");
        assert_eq!(
            jwks_url(&kc[0]),
            "https://auth.example.com/realms/shop/protocol/openid-connect/certs"
        );
        let legacy = Keycloak::realm("https://auth.example.com/auth", "shop")
            .internal_url("http://keycloak:8080/auth/")
            .into_issuers();
        assert_eq!(legacy[0].name, "https://auth.example.com/auth/realms/shop");
        assert_eq!(
            jwks_url(&legacy[0]),
            "http://keycloak:8080/auth/realms/shop/protocol/openid-connect/certs"
        );
        for bad in ["", "a/b", "a b"] {
            assert!(
                Keycloak::realm("https://k", bad).into_issuers()[0]
                    .invalid
                    .is_some()
            );
        }
    }
}
