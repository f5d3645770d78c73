//! OpenID Connect discovery: `{issuer}/.well-known/openid-configuration`.
//!
//! Only the document's `issuer` and `jwks_uri` are read, and only through
//! `fetch`: no transport policy of its own.

use serde::Deserialize;

use crate::error::Error;
use crate::fetch::{self, Fetched, HttpOptions};

/// The members of a discovery document this crate uses. Everything else,
/// including algorithm names it does not know, is ignored.
#[derive(Deserialize)]
struct Document {
    issuer: String,
    jwks_uri: String,
}

/// `{base}/.well-known/openid-configuration`, without a doubled slash.
pub(crate) fn discovery_url(base: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        base.trim_end_matches('/')
    )
}

/// Fetches the discovery document from `fetch_base` (the issuer, or where
/// this service reaches the provider) and returns the JWKS URL.
///
/// The document's `issuer` must equal `issuer` exactly (OpenID Connect
/// Discovery §4.3). When `fetch_base` differs from the issuer, a `jwks_uri`
/// under the issuer is moved onto `fetch_base`, so the keys are fetched
/// from the same internal address.
pub(crate) async fn jwks_uri(
    client: &reqwest::Client,
    issuer: &str,
    fetch_base: &str,
    options: &HttpOptions,
) -> Result<reqwest::Url, Error> {
    let url = fetch::check_url(&discovery_url(fetch_base), options.allow_insecure_http)?;
    let fail = |reason: String| Error::Fetch {
        url: url.to_string(),
        reason,
    };
    let Fetched::Body { body, .. } = fetch::get(client, &url, options, None).await? else {
        return Err(fail("unexpected 304".into()));
    };
    let doc: Document = serde_json::from_slice(fetch::json_text(&body))
        .map_err(|e| fail(format!("not an OpenID Connect discovery document: {e}")))?;
    if doc.issuer != issuer {
        return Err(Error::Config(format!(
            "the discovery document at {url} names issuer {:?}, but the validator expects \
             {issuer:?}; they must be equal (OpenID Connect Discovery 4.3). Configure the \
             issuer exactly as tokens carry it in `iss`",
            doc.issuer
        )));
    }
    let jwks = internal_jwks_uri(issuer, fetch_base, &doc.jwks_uri);
    fetch::check_url(&jwks, options.allow_insecure_http)
}

/// The JWKS URL to fetch: `jwks_uri` moved from under the public `issuer`
/// onto `fetch_base` when the two differ. Only a whole path prefix counts:
/// issuer `https://auth.example.com` does not cover
/// `https://auth.example.com.evil.org/keys`, nor `/realms/x` cover
/// `/realms/xyz/...`.
fn internal_jwks_uri(issuer: &str, fetch_base: &str, jwks_uri: &str) -> String {
    let public = issuer.trim_end_matches('/');
    let internal = fetch_base.trim_end_matches('/');
    match jwks_uri.strip_prefix(public) {
        Some(rest)
            if internal != public
                && (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')) =>
        {
            format!("{internal}{rest}")
        }
        _ => jwks_uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_url_joins_once() {
        assert_eq!(
            discovery_url("https://a/realms/x/"),
            "https://a/realms/x/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://login.microsoftonline.com/t/v2.0"),
            "https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration"
        );
    }

    #[test]
    fn jwks_uri_moves_to_the_internal_url_only_under_the_issuer() {
        let public = "https://auth.example.com/realms/x";
        let internal = "http://keycloak:8080/realms/x";
        assert_eq!(
            internal_jwks_uri(
                public,
                internal,
                &format!("{public}/protocol/openid-connect/certs")
            ),
            "http://keycloak:8080/realms/x/protocol/openid-connect/certs"
        );
        assert_eq!(
            internal_jwks_uri(
                &format!("{public}/"),
                &format!("{internal}/"),
                &format!("{public}/certs")
            ),
            "http://keycloak:8080/realms/x/certs"
        );
        // Not under the issuer's path or host: fetched where it says.
        for elsewhere in [
            "https://auth.example.com/realms/xyz/certs",
            "https://auth.example.com/realms/x.evil/certs",
            "https://keys.example.com/realms/x/certs",
        ] {
            assert_eq!(internal_jwks_uri(public, internal, elsewhere), elsewhere);
        }
        assert_eq!(
            internal_jwks_uri(
                "https://auth.example.com",
                "http://kc",
                "https://auth.example.com.evil.org/keys"
            ),
            "https://auth.example.com.evil.org/keys"
        );
        // Without a provider URL nothing moves.
        let same = format!("{public}/certs");
        assert_eq!(internal_jwks_uri(public, public, &same), same);
    }
}
