//! Bearer-token validation for APIs behind an OpenID Connect provider.
//!
//! A single-page app signs its user in at Microsoft Entra ID, Keycloak or
//! any OIDC issuer and calls your API with `Authorization: Bearer <JWT>`.
//! This crate is the API's side: a tower layer (and axum extractor) that
//! verifies the token's signature against the provider's JWKS, checks
//! `iss`, `aud`, `exp`, `nbf` and `iat`, and hands your handler typed claims.
//!
//! # Quickstart
//!
//! ```no_run
//! use axum::{Json, Router, routing::get};
//! use oidc_bearer::{Claims, Validator};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize, Serialize)]
//! struct MyClaims {
//!     sub: String,
//!     scope: Option<String>,
//! }
//!
//! async fn me(claims: Claims<MyClaims>) -> Json<Claims<MyClaims>> {
//!     Json(claims)
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let validator = Validator::builder()
//!         .issuer("https://login.example.com/realms/demo")
//!         .audience("my-api")
//!         .jwks_url("https://login.example.com/realms/demo/protocol/openid-connect/certs")
//!         .build()
//!         .await?;
//!     let app = Router::new()
//!         .route("/me", get(me))
//!         .route_layer(validator.layer::<MyClaims>()); // unknown paths stay 404
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! Requests without a token get `401` with `WWW-Authenticate: Bearer`; a bad
//! token gets `401` with `error="invalid_token"` and a description of the
//! rule that failed (RFC 6750); a malformed `Authorization` header gets
//! `400 invalid_request`. The handler only runs for verified requests.
//!
//! Per route, [`Require`] a scope or a role (app roles, Keycloak realm
//! and client roles, any-of and all-of) with its layer inside this one:
//! `.route_layer(Require::scope("orders.read").layer::<StandardClaims>())`.
//! A token that is valid but not enough gets `403` with
//! `error="insufficient_scope"` and the `scope` to ask for; see [`Require`]
//! and [`AuthorizeLayer`](authz::AuthorizeLayer).
//!
//! A route that needs a stronger or fresher sign-in (RFC 9470) takes a
//! [`StepUp`]: `acr` among given values, `auth_time` within a `max_age`;
//! a token that falls short gets `401` with
//! `error="insufficient_user_authentication"` and the `acr_values` or
//! `max_age` to sign in with.
//!
//! Name the API's URL with [`ValidatorBuilder::resource`] and every
//! challenge carries `resource_metadata="…"` (RFC 9728), pointing at the
//! [`ResourceMetadata`] document that
//! [`OidcBearerLayer::resource_metadata`] makes and serves: how MCP
//! clients find the authorization server (`examples/mcp_server.rs`).
//!
//! # Entra ID, Keycloak, several issuers
//!
//! [`EntraId`] and [`Keycloak`] configure a provider as it really issues
//! tokens (tenants and v1/v2 issuers, realms and internal addresses);
//! [`EntraClaims`](providers::EntraClaims) and
//! [`KeycloakClaims`](providers::KeycloakClaims) read their claims. A validator
//! trusts as many issuers as you [`trust`](ValidatorBuilder::trust), each
//! with its own keys, audiences and rules:
//!
//! ```no_run
//! use oidc_bearer::{EntraId, Keycloak, Validator};
//! use oidc_bearer::providers::EntraTokenVersion;
//!
//! # async fn run() -> Result<(), oidc_bearer::Error> {
//! let validator = Validator::builder()
//!     .trust(
//!         EntraId::tenant("8eaef023-2b34-4da1-9baa-8bc8c9d6a490")
//!             .audience("api://orders")
//!             .token_version(EntraTokenVersion::V1AndV2),
//!     )
//!     .trust(Keycloak::realm("https://auth.example.com", "shop").audience("orders-api"))
//!     .build()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Short guides per task (an axum API, Entra ID, Keycloak, gRPC and other
//! non-axum callers, testing your handlers, running behind a proxy, DPoP)
//! are in [`guide`].
//!
//! Without tower, call [`Validator::verify`] (or the synchronous
//! [`Validator::try_verify`]) with the token.
//!
//! # DPoP
//!
//! Tokens bound to the client's key (RFC 9449, `cnf.jkt`) are checked with
//! their proof on every request once the layer has
//! [`dpop`](OidcBearerLayer::dpop) settings: `Dpop::allowed()` (Bearer or
//! DPoP) or `Dpop::required()`. See [`guide::dpop`] for the checks, the
//! modes and the refusals (`invalid_dpop_proof`, `use_dpop_nonce`), and
//! [`ReplayStore`](dpop::ReplayStore) for where proofs' `jti`s are kept (in memory, or Redis
//! with the `redis` feature).
//!
//! # Secure by default
//!
//! - Algorithms come from the key: RS256/384/512, PS256/384/512, ES256/384
//!   and EdDSA; `none` is always refused, HMAC only with an explicitly
//!   configured secret, and never with a JWKS key.
//! - `jku`, `x5u`, `jwk` and `x5c` in a token header are never used to find
//!   a key; unknown `crit` entries are refused.
//! - `exp` is required; `nbf` and `iat` are checked when present, with 60 s
//!   of leeway. An audience is required unless you call
//!   [`ValidatorBuilder::insecure_skip_audience`].
//! - Key URLs must be `https` (plain `http` only on loopback, or with
//!   [`ValidatorBuilder::allow_insecure_http`]); fetches have a timeout and
//!   a size limit; redirects to other hosts are refused.
//! - Keys are parsed once per fetch and shared through a lock-free
//!   snapshot; requests never take a lock.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

/// `get_ref`, `get_mut` and `into_inner` for a middleware whose inner
/// service is its `inner` field, as tower-http's middlewares have them.
macro_rules! inner_service_accessors {
    () => {
        /// The inner service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// The inner service, mutably.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// The inner service, consuming this one.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}

// Modules in pipeline order, the public ones first in each group: the
// crate root re-exports the types a user starts with; the rest are
// reached through their modules (`dpop::`, `authz::`, `providers::`, ...).

// Foundation.
mod algorithm;
pub mod clock;
mod error;

// JOSE: bytes, keys, claims (no HTTP, no configuration).
pub mod claims;
pub mod keys;
mod token;

// Getting keys (no token verification).
mod discovery;
mod fetch;
pub mod jwks;

// Configuration, turned into runtime tables.
pub mod issuers;
pub mod providers;
mod resource;

// The verification core: no HTTP request or response type above this line.
mod builder;
mod cache;
mod metrics;
mod validator;

// The HTTP edge, the only modules that see requests: credentials (the
// token, its scheme) → layer (one admission path; dpop for the proof and
// binding) → context (what the layers inside read) → authz per route →
// challenge and rejection for a refusal, extract for the handler,
// metadata for RFC 9728's document.
pub mod authz;
mod challenge;
mod context;
pub mod credentials;
pub mod dpop;
#[cfg(feature = "axum")]
pub mod extract;
pub mod layer;
pub mod metadata;
pub mod rejection;

pub mod guide;

// The starting types, shown in the docs as the root's own items.
#[doc(inline)]
pub use authz::{Require, StepUp};
#[doc(inline)]
pub use builder::ValidatorBuilder;
#[doc(inline)]
pub use claims::{Claims, StandardClaims};
#[doc(inline)]
pub use context::AuthContext;
#[doc(inline)]
pub use credentials::TokenSource;
#[doc(inline)]
pub use dpop::Dpop;
#[doc(inline)]
pub use error::{Error, ErrorKind};
#[doc(inline)]
pub use issuers::Issuer;
#[doc(inline)]
pub use jwks::Health;
#[doc(inline)]
pub use layer::OidcBearerLayer;
#[doc(inline)]
pub use metadata::ResourceMetadata;
#[doc(inline)]
pub use metrics::Metrics;
#[doc(inline)]
pub use providers::{EntraId, Keycloak, Okta};
#[doc(inline)]
pub use validator::Validator;

/// The HTTP client crate the validator fetches keys with, for
/// [`ValidatorBuilder::http_client`]: the same version, whatever yours is.
pub use reqwest;
