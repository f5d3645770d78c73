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
use crate::error::Error;
use crate::validator::Validator;

pub use document::{ResourceMetadata, ResourceMetadataService};

/// The well-known URI suffix of RFC 9728 §3 (registered in §8.3).
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-protected-resource";

/// A checked resource identifier and where its metadata lives.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    /// As configured, byte for byte: the client compares the document's
    /// `resource` with the URL it called (RFC 9728 §3.3), so no
    /// normalisation may change it.
    pub uri: Box<str>,
    /// The document's absolute URL, for the challenge.
    pub metadata_url: Arc<str>,
    /// The document's path on this server, for the route.
    pub metadata_path: Box<str>,
}

impl Resource {
    /// Checks `uri` as RFC 9728 §1.2 defines a resource identifier (a URL,
    /// no fragment; no query, which the RFC discourages and which no route
    /// could match), under the crate's transport policy (`https`, or
    /// `http` on loopback or with `allow_insecure_http`), and derives the
    /// metadata URL of §3.1.
    pub fn parse(uri: &str, allow_insecure_http: bool) -> Result<Resource, Error> {
        let url = crate::fetch::check_url(uri, allow_insecure_http)
            .map_err(|e| Error::Config(format!("resource: {}", strip_config(e))))?;
        if url.fragment().is_some() || uri.contains('#') {
            return Err(Error::Config(format!(
                "resource {uri:?} has a fragment, which RFC 9728 1.2 forbids in a \
                 resource identifier"
            )));
        }
        if url.query().is_some() {
            return Err(Error::Config(format!(
                "resource {uri:?} has a query, which RFC 9728 1.2 advises against: use a \
                 path (https://api.example.com/mcp) instead"
            )));
        }
        if url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
            return Err(Error::Config(format!(
                "resource {uri:?} needs a host and no user information"
            )));
        }
        // Clients compare the document's `resource` with the URL they
        // called byte for byte (§3.3), and the document's route comes from
        // the parsed URL: a spelling the parser would change (case, a
        // default port, dot segments, spaces) could never be matched.
        let canonical = url.as_str();
        let same = canonical == uri || (url.path() == "/" && canonical == format!("{uri}/"));
        if !same {
            return Err(Error::Config(format!(
                "resource {uri:?} is not written as clients will compare it: write \
                 {canonical:?} (RFC 9728 3.3 compares the resource byte for byte)"
            )));
        }
        // Route patterns: a segment axum would read as a parameter or a
        // wildcard cannot be served as a literal path.
        if url
            .path_segments()
            .into_iter()
            .flatten()
            .any(|s| s.starts_with([':', '*']) || s.contains(['{', '}']))
        {
            return Err(Error::Config(format!(
                "resource {uri:?} has a path segment starting with ':' or '*' or holding \
                 braces, which cannot be served as a literal route"
            )));
        }
        // §3.1: the well-known string goes between the host and the path;
        // a path of just "/" is no path (its terminating slash is removed).
        let path = match url.path() {
            "/" => "",
            path => path,
        };
        let metadata_path = format!("{WELL_KNOWN_PATH}{path}");
        let metadata_url = format!("{}{metadata_path}", url.origin().ascii_serialization());
        Ok(Resource {
            uri: uri.into(),
            metadata_url: metadata_url.into(),
            metadata_path: metadata_path.into(),
        })
    }
}

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

fn strip_config(error: Error) -> String {
    match error {
        Error::Config(message) => message,
        other => other.to_string(),
    }
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
    use crate::rejection_parts;

    fn metadata_url(uri: &str) -> String {
        Resource::parse(uri, false)
            .unwrap()
            .metadata_url
            .to_string()
    }

    #[test]
    fn metadata_url_inserts_the_well_known_string_after_the_host() {
        assert_eq!(
            metadata_url("https://api.example.com"),
            "https://api.example.com/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            metadata_url("https://api.example.com/"),
            "https://api.example.com/.well-known/oauth-protected-resource"
        );
        assert_eq!(
            metadata_url("https://api.example.com/mcp"),
            "https://api.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            metadata_url("https://api.example.com:8443/tenants/a/"),
            "https://api.example.com:8443/.well-known/oauth-protected-resource/tenants/a/"
        );
        assert_eq!(
            metadata_url("http://127.0.0.1:3000/mcp"),
            "http://127.0.0.1:3000/.well-known/oauth-protected-resource/mcp"
        );
    }

    #[test]
    fn resource_identifiers_are_checked() {
        for bad in [
            "https://api.example.com/mcp#x",
            "https://api.example.com/mcp?tenant=a",
            "http://api.example.com/mcp",
            "urn:example:api",
            "mcp",
            "https://user@api.example.com/",
        ] {
            assert!(Resource::parse(bad, false).is_err(), "{bad}");
        }
        assert!(Resource::parse("http://api.internal/mcp", true).is_ok());
        // Kept as written: the client compares it with the URL it called.
        assert_eq!(
            &*Resource::parse("https://api.example.com", false)
                .unwrap()
                .uri,
            "https://api.example.com"
        );
    }

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
