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
//! - here: the issuers the document lists.
//!
//! The resource identifier itself is parsed in `resource`, and the
//! challenge parameter is added by the crate's one challenge builder:
//! this module builds no challenge.

mod document;

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
