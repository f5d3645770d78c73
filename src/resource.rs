//! The RFC 9728 resource identifier this API answers for: parsed and
//! checked once at `build()`, with the URL and path of its metadata
//! document (§3.1).
//!
//! Holds no HTTP types and knows nothing of the validator: the validator
//! keeps a [`Resource`], the challenge builder names its URL, and
//! `metadata` serves the document at its path.

use std::sync::Arc;

use crate::error::Error;

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

fn strip_config(error: Error) -> String {
    match error {
        Error::Config(message) => message,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
