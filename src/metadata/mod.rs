//! OAuth 2.0 Protected Resource Metadata (RFC 9728): the resource
//! identifier ([`ValidatorBuilder::resource`](crate::ValidatorBuilder::resource)),
//! the document that describes it ([`ResourceMetadata`]), the service that
//! serves it, and the `resource_metadata` parameter every challenge of the
//! layer carries (RFC 9728 §5.1).
//!
//! An MCP client, or any RFC 9728 client, knows nothing but the resource's
//! URL. It calls it without a token, reads `resource_metadata="…"` from
//! the `401`'s `WWW-Authenticate`, fetches that document, checks that its
//! `resource` is the URL it called (§3.3), and signs in at one of its
//! `authorization_servers`.
//!
//! - `document`: [`ResourceMetadata`] and [`ResourceMetadataService`];
//! - here: the resource identifier, the document's URL (§3.1) and the
//!   challenge parameter.

mod document;

use std::sync::Arc;

use http::header::WWW_AUTHENTICATE;
use http::{HeaderValue, response::Parts};

use crate::claims::IssuerName;
use crate::validator::Validator;

pub use crate::resource::WELL_KNOWN_PATH;
pub use document::{ResourceMetadata, ResourceMetadataService};

/// The issuers a client can sign in at, for RFC 9728's
/// `authorization_servers`: exact issuers as they are, a multi-tenant
/// one once per allowed tenant, none for one open to any tenant (see
/// [`ResourceMetadata`](crate::ResourceMetadata)).
pub(crate) fn authorization_servers(validator: &Validator) -> Vec<String> {
    let mut servers: Vec<String> = Vec::new();
    for entry in validator.issuer_table().iter() {
        let checks = &entry.claims;
        let names: Vec<String> = match (&checks.issuer, &checks.tenants) {
            (IssuerName::Exact(name), _) => vec![name.to_string()],
            (IssuerName::Template { prefix, suffix }, Some(tenants)) => tenants
                .iter()
                .map(|tid| format!("{prefix}{tid}{suffix}"))
                .collect(),
            (IssuerName::Template { .. }, None) => Vec::new(),
        };
        for name in names {
            if !servers.contains(&name) {
                servers.push(name);
            }
        }
    }
    servers
}

/// The request extension the [`OidcBearerLayer`](crate::OidcBearerLayer)
/// adds when a resource is configured, so that layers inside it (a
/// [`Require`](crate::Require)'s 403 or 401) point at the same document.
#[derive(Debug, Clone)]
pub(crate) struct ResourceMetadataUrl(pub(crate) Arc<str>);

/// Adds `resource_metadata="<url>"` (RFC 9728 §5.1) to every
/// `WWW-Authenticate` challenge of `parts`: after the scheme of a bare
/// challenge (`Bearer resource_metadata="…"`), else after its last
/// parameter. Responses without a challenge (400 without one, 503) are
/// left alone.
pub(crate) fn add_resource_metadata(parts: &mut Parts, url: &str) {
    let challenges: Vec<HeaderValue> = parts
        .headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .cloned()
        .collect();
    if challenges.is_empty() {
        return;
    }
    parts.headers.remove(WWW_AUTHENTICATE);
    for challenge in challenges {
        let Ok(text) = challenge.to_str() else {
            parts.headers.append(WWW_AUTHENTICATE, challenge);
            continue;
        };
        let sep = if text.trim_end().contains(' ') {
            ", "
        } else {
            " "
        };
        // The URL came from a checked `Url` serialisation: no quote, no
        // control character, so it fits a quoted-string as it is.
        let value = format!("{}{sep}resource_metadata=\"{url}\"", text.trim_end());
        match HeaderValue::from_str(&value) {
            Ok(value) => parts.headers.append(WWW_AUTHENTICATE, value),
            Err(_) => parts.headers.append(WWW_AUTHENTICATE, challenge),
        };
    }
}

/// [`add_resource_metadata`] when `url` is set.
pub(crate) fn with_resource_metadata(mut parts: Parts, url: Option<&str>) -> Parts {
    if let Some(url) = url {
        add_resource_metadata(&mut parts, url);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::rejection_parts;
    use http::header::WWW_AUTHENTICATE;

    #[test]
    fn every_challenge_gets_the_parameter() {
        let url = "https://api.example.com/.well-known/oauth-protected-resource";
        let bare = with_resource_metadata(rejection_parts(&Error::MissingToken, None), Some(url));
        assert_eq!(
            bare.headers[WWW_AUTHENTICATE],
            format!("Bearer resource_metadata=\"{url}\"")
        );
        let error =
            with_resource_metadata(rejection_parts(&Error::Expired, Some("api")), Some(url));
        assert_eq!(
            error.headers[WWW_AUTHENTICATE],
            format!(
                "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"token expired\", \
                 resource_metadata=\"{url}\""
            )
        );
        let unavailable = Error::KeysUnavailable {
            reason: String::new(),
            retry_after_secs: 1,
        };
        let parts = with_resource_metadata(rejection_parts(&unavailable, None), Some(url));
        assert!(parts.headers.get(WWW_AUTHENTICATE).is_none());
    }
}
