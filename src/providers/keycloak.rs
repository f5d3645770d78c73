//! [`Keycloak`]: one realm of a Keycloak server, its issuer, its keys, and
//! the internal address a backend often reaches it at.
//!
//! A preset: it fills in an [`Issuer`](crate::Issuer) through its public
//! methods and verifies nothing itself.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;

use crate::claims::GrantKinds;
use crate::error::Error;
use crate::issuers::{IntoIssuers, Issuer, IssuerHints, KindCheck, Refusal, RefusedToken};

/// A Keycloak realm, for
/// [`ValidatorBuilder::trust`](crate::ValidatorBuilder::trust).
///
/// What it configures: the issuer `{base}/realms/{realm}` (pass a `base`
/// ending in `/auth` for Keycloak before version 17), the keys from
/// `{base}/realms/{realm}/protocol/openid-connect/certs` — or from
/// [`internal_url`](Self::internal_url) while tokens keep the public
/// issuer — and the audiences you give. Keycloak's `RSA-OAEP` encryption
/// key in that set is never used to verify. Realm roles and client roles
/// are read apart by [`KeycloakClaims`](crate::providers::KeycloakClaims) and
/// [`Require`](crate::Require).
///
/// Keycloak puts the API in `aud` only with an Audience mapper on the
/// client (otherwise `aud` is `"account"` or absent); until then,
/// [`allow_azp_as_audience`](Self::allow_azp_as_audience). A token whose
/// `aud` is absent, `null`, `""`, `[]` or holds only empty strings has no
/// audience (OpenID Connect Core §2, RFC 7519 §4.1.3: the audiences are
/// the recipients it is meant for) and is refused whatever the options.
///
/// Only access tokens pass. The realm signs its ID tokens (and logout
/// tokens) with the same keys, and an ID token's `aud` and `azp` are the
/// client's, so with `allow_azp_as_audience` it would otherwise pass for
/// an access token. Keycloak marks each token's kind in its `typ` claim
/// (not the JOSE header's `typ`, which is `JWT`): the preset accepts
/// exactly `Bearer`, and `DPoP` for a token bound to a DPoP key (the two
/// its own `TokenVerifier` takes for access tokens; the binding is then
/// checked through `cnf`, as for any token). `ID`, `Refresh`, `Offline`,
/// `Logout`, any other spelling (`bearer` too: Keycloak writes `Bearer`),
/// a `typ` that is not a string, and a token without `typ` (every access
/// token Keycloak issues has one) get 401 `invalid_token` with an
/// `error_description` naming the kind, e.g. `not an access token: a
/// Keycloak ID token (typ claim ID)`. Whatever the audience options, and
/// before them: the client must send its access token instead.
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
        let mut issuer = Issuer::new(format!("{base}/realms/{realm}"))
            .label("keycloak")
            .hints(Arc::new(KeycloakHints));
        if realm.is_empty() || realm.contains(['/', '?', '#', '%', ' ']) {
            issuer = issuer.fail_build(format!(
                "Keycloak::realm(.., {realm:?}): give the realm's name as it appears in its \
                 URLs, without slashes, spaces or escapes"
            ));
        } else if base.contains("/realms/") {
            issuer = issuer.fail_build(format!(
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
    /// `"account"`) when its `azp` is `client_id`. A token without `aud`
    /// (or with an empty one: `""`, `[]`, `[""]`) is still refused, and
    /// any other `azp`, and any token whose `typ` claim is not `Bearer` or
    /// `DPoP` (an ID token's `aud` and `azp` both name the client). See
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

/// What the core asks of a Keycloak realm: the kind of each token.
#[derive(Debug)]
struct KeycloakHints;

impl IssuerHints for KeycloakHints {
    fn kind_check(&self) -> Option<KindCheck> {
        Some(access_tokens_only)
    }

    fn grant_kinds(&self, _: &str) -> Option<GrantKinds> {
        Some(GrantKinds::KEYCLOAK)
    }

    fn explain(&self, refusal: Refusal, token: &RefusedToken<'_>) -> Option<Error> {
        super::explain_any(refusal, token)
    }
}

/// The preset's kind check: Keycloak's `typ` claim must say access
/// token (see [`Keycloak`]). One borrowed scan of
/// the verified payload; the refusals name the kind without echoing
/// anything but Keycloak's own names.
fn access_tokens_only(payload: &[u8]) -> Result<(), Error> {
    #[derive(Deserialize)]
    struct Kind<'a> {
        #[serde(borrow)]
        typ: Option<Cow<'a, str>>,
    }
    let typ = match serde_json::from_slice::<Kind<'_>>(payload) {
        Ok(Kind { typ: Some(typ) }) => typ,
        Ok(Kind { typ: None }) => {
            return Err(Error::NotAnAccessToken(
                "no Keycloak typ claim (Bearer or DPoP)",
            ));
        }
        // A number, an array, an object, or `typ` twice: which kind the
        // token is cannot be told, so it is no access token.
        Err(_) => {
            return Err(Error::NotAnAccessToken(
                "the Keycloak typ claim is not one string",
            ));
        }
    };
    Err(Error::NotAnAccessToken(match &*typ {
        "Bearer" | "DPoP" => return Ok(()),
        "ID" => "a Keycloak ID token (typ claim ID)",
        "Refresh" => "a Keycloak refresh token (typ claim Refresh)",
        "Offline" => "a Keycloak offline token (typ claim Offline)",
        "Logout" => "a Keycloak logout token (typ claim Logout)",
        _ => "the Keycloak typ claim is not Bearer or DPoP",
    }))
}

/// The realm's JWKS endpoint under `base`.
/// True when `issuer` has the shape of a Keycloak realm's issuer,
/// `{base}/realms/{realm}`, as one written by hand would.
pub(super) fn is_realm_issuer(issuer: &str) -> bool {
    issuer.rsplit_once("/realms/").is_some_and(|(base, realm)| {
        base.contains("://") && !realm.is_empty() && !realm.contains('/')
    })
}

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

    #[test]
    fn only_keycloak_access_tokens_are_of_the_right_kind() {
        for ok in [
            r#"{"typ":"Bearer"}"#,
            r#"{"typ":"DPoP"}"#,
            r#"{"typ":"Bear\u0065r"}"#,
        ] {
            assert!(access_tokens_only(ok.as_bytes()).is_ok(), "{ok}");
        }
        for (payload, says) in [
            (r#"{"typ":"ID"}"#, "ID token"),
            (r#"{"typ":"Refresh"}"#, "refresh token"),
            (r#"{"typ":"Offline"}"#, "offline token"),
            (r#"{"typ":"Logout"}"#, "logout token"),
            (r#"{"typ":"bearer"}"#, "not Bearer or DPoP"),
            (r#"{"typ":"Bearer "}"#, "not Bearer or DPoP"),
            (r#"{"typ":""}"#, "not Bearer or DPoP"),
            (r#"{"typ":7}"#, "not one string"),
            (r#"{"typ":["Bearer"]}"#, "not one string"),
            (r#"{"typ":{"Bearer":true}}"#, "not one string"),
            (r#"{"typ":"Bearer","typ":"ID"}"#, "not one string"),
            (r#"{"typ":null}"#, "no Keycloak typ claim"),
            ("{}", "no Keycloak typ claim"),
        ] {
            let error = access_tokens_only(payload.as_bytes()).unwrap_err();
            assert!(matches!(error, Error::NotAnAccessToken(_)), "{payload}");
            assert!(error.to_string().contains(says), "{payload}: {error}");
            assert_eq!(error.status(), 401);
        }
    }
}
