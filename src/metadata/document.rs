//! [`ResourceMetadata`]: the RFC 9728 §2 document, and
//! [`ResourceMetadataService`], which serves it (§3.2).
//!
//! It serves the document the builder configured: no challenge is built
//! and no token read here.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ALLOW,
    CONTENT_TYPE,
};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use serde::Serialize;
use tower_service::Service;

use crate::error::Error;
use crate::layer::OidcBearerLayer;
use crate::resource::Resource;

/// The Protected Resource Metadata document of RFC 9728 §2, as served at
/// `/.well-known/oauth-protected-resource` (plus the resource's path).
///
/// Made from a layer with [`OidcBearerLayer::resource_metadata`], which
/// fills what the configuration already knows:
///
/// | member | from |
/// |---|---|
/// | `resource` | [`ValidatorBuilder::resource`](crate::ValidatorBuilder::resource), as written |
/// | `authorization_servers` | the trusted issuers, in order (see below) |
/// | `bearer_methods_supported` | the layer's token sources ([`OidcBearerLayer::bearer_methods`]) |
///
/// and the rest is added here: [`scopes_supported`](Self::scopes_supported),
/// [`resource_name`](Self::resource_name),
/// [`resource_documentation`](Self::resource_documentation), and more
/// [`authorization_server`](Self::authorization_server)s.
///
/// `authorization_servers` lists issuer identifiers, each of which a client
/// turns into `{issuer}/.well-known/openid-configuration` or RFC 8414
/// metadata. A multi-tenant issuer (Entra ID's
/// `https://login.microsoftonline.com/{tenantid}/v2.0`) is no issuer a
/// client can use as it stands, so it is listed once per allowed tenant
/// ([`Issuer::allowed_tenants`](crate::Issuer::allowed_tenants)) and left
/// out when any tenant is allowed: add the issuer your clients should sign
/// in at with [`authorization_server`](Self::authorization_server).
///
/// Members that are empty or unset are left out, except
/// `bearer_methods_supported`: an empty list there says "no RFC 6750
/// method" (§2), which is the truth for a cookie-only layer.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), oidc_bearer::Error> {
/// # let provider = oidc_bearer_testkit::TestIssuer::start().await;
/// use oidc_bearer::{StandardClaims, Validator};
///
/// let validator = Validator::builder()
///     .issuer(&provider.issuer)
///     .audience("https://api.example.com/mcp")
///     .jwks_url(&provider.jwks_url)
///     .resource("https://api.example.com/mcp")
///     .build()
///     .await?;
/// let layer = validator.layer::<StandardClaims>();
/// let metadata = layer
///     .resource_metadata()
///     .scopes_supported(["mcp:tools"])
///     .resource_name("Example MCP server");
/// assert_eq!(metadata.well_known_path(), "/.well-known/oauth-protected-resource/mcp");
/// let json = serde_json::to_value(&metadata).unwrap();
/// assert_eq!(json["resource"], "https://api.example.com/mcp");
/// assert_eq!(json["authorization_servers"][0], provider.issuer.as_str());
/// assert_eq!(json["bearer_methods_supported"], serde_json::json!(["header"]));
/// assert_eq!(json["scopes_supported"], serde_json::json!(["mcp:tools"]));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct ResourceMetadata {
    resource: Box<str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authorization_servers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    scopes_supported: Vec<String>,
    bearer_methods_supported: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_documentation: Option<String>,
    // DPoP (RFC 9728 §2, RFC 9449): filled by the DPoP configuration of
    // the layer, never by hand, so the document cannot promise proofs the
    // layer does not check.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) dpop_signing_alg_values_supported: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) dpop_bound_access_tokens_required: bool,
    #[serde(skip)]
    location: Resource,
}

impl<C, R> OidcBearerLayer<C, R> {
    /// The RFC 9728 document of this layer's resource, filled from the
    /// validator (`resource`, `authorization_servers`) and this layer
    /// (`bearer_methods_supported`); see [`ResourceMetadata`].
    ///
    /// # Panics
    ///
    /// When the validator has no
    /// [`resource`](crate::ValidatorBuilder::resource): there is nothing
    /// to describe. Called at startup, like the rest of the routing.
    pub fn resource_metadata(&self) -> ResourceMetadata {
        let resource = self.validator().resource().expect(
            "oidc-bearer: resource_metadata() needs the resource's URL: call \
             .resource(\"https://api.example.com/mcp\") on the ValidatorBuilder",
        );
        ResourceMetadata {
            resource: resource.uri.clone(),
            authorization_servers: super::authorization_servers(self.validator()),
            scopes_supported: Vec::new(),
            bearer_methods_supported: self.bearer_methods(),
            resource_name: None,
            resource_documentation: None,
            // RFC 9728 §2: the proof algorithms the layer accepts, and
            // whether it refuses bearer tokens (DPoP required).
            dpop_signing_alg_values_supported: self.dpop_settings().map_or_else(Vec::new, |d| {
                d.algs.iter().map(|alg| alg.name().to_owned()).collect()
            }),
            dpop_bound_access_tokens_required: self
                .dpop_settings()
                .is_some_and(|d| d.mode == crate::dpop::DpopMode::DpopRequired),
            location: resource.clone(),
        }
    }
}

impl ResourceMetadata {
    /// A document for `resource` alone, for a server that does not use
    /// the layer: `bearer_methods_supported` is `["header"]`, nothing else
    /// is filled.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `resource` is not a resource identifier
    /// (RFC 9728 §1.2: a URL without fragment; here also without query)
    /// or is plain `http` on a host that is not loopback.
    ///
    /// ```
    /// use oidc_bearer::ResourceMetadata;
    ///
    /// let metadata = ResourceMetadata::new("https://api.example.com/mcp")?
    ///     .authorization_server("https://login.example.com");
    /// assert_eq!(
    ///     metadata.metadata_url(),
    ///     "https://api.example.com/.well-known/oauth-protected-resource/mcp"
    /// );
    /// # Ok::<(), oidc_bearer::Error>(())
    /// ```
    pub fn new(resource: impl AsRef<str>) -> Result<ResourceMetadata, Error> {
        let location = Resource::parse(resource.as_ref(), false).map_err(|e| match e {
            // This document has no `allow_insecure_http()` of its own.
            Error::Config(message) => Error::Config(message.replace(
                "call allow_insecure_http() if the network path is trusted",
                "configure it with ValidatorBuilder::resource() and allow_insecure_http() \
                 for a trusted network path",
            )),
            other => other,
        })?;
        Ok(ResourceMetadata {
            resource: location.uri.clone(),
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            bearer_methods_supported: vec!["header"],
            resource_name: None,
            resource_documentation: None,
            dpop_signing_alg_values_supported: Vec::new(),
            dpop_bound_access_tokens_required: false,
            location,
        })
    }

    /// Adds an issuer to `authorization_servers` (once).
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        if !self.authorization_servers.contains(&issuer) {
            self.authorization_servers.push(issuer);
        }
        self
    }

    /// `scopes_supported`: the scopes a client may request for this
    /// resource (RFC 9728 §2, RECOMMENDED).
    pub fn scopes_supported<I: IntoIterator<Item: Into<String>>>(mut self, scopes: I) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// `resource_name`: a name for people (RFC 9728 §2).
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// `resource_documentation`: a URL of documentation for developers
    /// (RFC 9728 §2).
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// The `resource` member: the resource identifier, as configured.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The `authorization_servers` member.
    pub fn authorization_servers(&self) -> &[String] {
        &self.authorization_servers
    }

    /// Where the document lives (RFC 9728 §3.1), as the challenge's
    /// `resource_metadata` names it.
    pub fn metadata_url(&self) -> &str {
        &self.location.metadata_url
    }

    /// The path to serve the document at:
    /// `/.well-known/oauth-protected-resource` followed by the resource's
    /// path (RFC 9728 §3.1).
    pub fn well_known_path(&self) -> &str {
        &self.location.metadata_path
    }

    /// A tower service that answers `GET` and `HEAD` with this document
    /// (`200`, `application/json`, RFC 9728 §3.2), a CORS preflight
    /// (`OPTIONS`) with `204`, and other methods with `405`; mount it at [`well_known_path`](Self::well_known_path),
    /// outside the bearer layer (the document is public). It adds
    /// `Access-Control-Allow-Origin: *` so browser-based clients can read
    /// it: the document holds nothing secret and no credentials are sent.
    pub fn service(&self) -> ResourceMetadataService {
        let json = serde_json::to_string(self).expect("the document serializes");
        ResourceMetadataService {
            json: Arc::from(json),
        }
    }

    /// An axum router serving the document at
    /// [`well_known_path`](Self::well_known_path); merge it into the app
    /// beside, not under, the bearer layer.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use axum::{Router, body::Body, routing::post};
    /// use http::{Request, StatusCode};
    /// use oidc_bearer::ResourceMetadata;
    /// use tower::ServiceExt;
    ///
    /// let metadata = ResourceMetadata::new("https://api.example.com/mcp")?
    ///     .authorization_server("https://login.example.com");
    /// let app = Router::new()
    ///     .route("/mcp", post(|| async { "{}" }))
    ///     .merge(metadata.router());
    /// let response = app
    ///     .oneshot(Request::get("/.well-known/oauth-protected-resource/mcp").body(Body::empty())?)
    ///     .await?;
    /// assert_eq!(response.status(), StatusCode::OK);
    /// assert_eq!(response.headers()["content-type"], "application/json");
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "axum")]
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        axum::Router::new().route_service(self.well_known_path(), self.service())
    }
}

/// Serves a [`ResourceMetadata`] document; made by
/// [`ResourceMetadata::service`]. The JSON is written once, when the
/// service is made; a request only clones it.
#[derive(Debug, Clone)]
pub struct ResourceMetadataService {
    json: Arc<str>,
}

impl<B> Service<Request<B>> for ResourceMetadataService {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let mut response = if request.method() == Method::GET || request.method() == Method::HEAD {
            let mut response = Response::new(if request.method() == Method::HEAD {
                String::new()
            } else {
                self.json.to_string()
            });
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        } else if request.method() == Method::OPTIONS {
            // A CORS preflight: browser clients that send headers of their
            // own (an MCP client's `MCP-Protocol-Version`) ask first.
            let mut response = Response::new(String::new());
            *response.status_mut() = StatusCode::NO_CONTENT;
            let headers = response.headers_mut();
            headers.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, HEAD"),
            );
            headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("*"));
            headers.insert(ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
            response
        } else {
            let mut response = Response::new(String::new());
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            response
        };
        response
            .headers_mut()
            .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        std::future::ready(Ok(response))
    }
}
