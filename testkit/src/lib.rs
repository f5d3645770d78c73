//! An in-process OpenID provider for testing APIs protected by
//! `oidc-bearer` — your handlers, your requirements, your failure modes —
//! without a real identity provider. The crate's own tests, demo and
//! benches use it too.
//!
//! - [`TestKey`]: generated RSA-2048 / P-256 / P-384 / Ed25519 keys with their
//!   public JWK, SPKI, PEM and a self-signed certificate (for `x5c`).
//! - [`TokenBuilder`]: compact JWS tokens, valid or hostile (`alg: none`,
//!   mismatched `alg`, HMAC with a public key, float dates, ...).
//! - [`MockProvider`]: a real HTTP server on `127.0.0.1` serving scripted
//!   discovery / JWKS replies with faults the test controls (status codes,
//!   garbage, delays, ETags, shutdown and restart), counting requests.
//! - [`dpop_proof`], [`TokenBuilder::bound_to`], [`TestKey::thumbprint`]:
//!   DPoP proofs (RFC 9449) and tokens bound to a client key.
//! - [`TestIssuer`]: all of the above wired up as issuer
//!   `http://127.0.0.1:PORT/realms/demo`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use oidc_bearer_testkit::{KeyKind, TestIssuer};
//! let mut issuer = TestIssuer::start().await;
//! let token = issuer.token("my-api");
//! issuer.rotate(KeyKind::Ed25519, "ed-2");
//! let rotated = issuer.token("my-api");
//! assert_ne!(token, rotated);
//! # }
//! ```
//!
//! # Testing your handler behind the layer
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use axum::{Router, body::Body, http::Request, routing::get};
//! use oidc_bearer::{Claims, StandardClaims, Validator};
//! use oidc_bearer_testkit::{TestIssuer, now};
//! use tower::ServiceExt as _;
//!
//! async fn me(claims: Claims<StandardClaims>) -> String {
//!     claims.sub.clone().unwrap_or_default()
//! }
//!
//! // Keys generated, discovery and JWKS served on 127.0.0.1.
//! let issuer = TestIssuer::start().await;
//! let validator = Validator::builder()
//!     .issuer(&issuer.issuer)
//!     .audience("my-api")
//!     .build() // through discovery, as in production
//!     .await
//!     .unwrap();
//! let app = Router::new()
//!     .route("/me", get(me))
//!     .route_layer(validator.layer::<StandardClaims>());
//! let call = |token: String| {
//!     let request = Request::get("/me")
//!         .header("authorization", format!("Bearer {token}"))
//!         .body(Body::empty())
//!         .unwrap();
//!     app.clone().oneshot(request)
//! };
//!
//! // A valid token, then one expired an hour ago: any claims, any `exp`.
//! assert_eq!(call(issuer.token("my-api")).await.unwrap().status(), 200);
//! let expired = issuer
//!     .builder("my-api")
//!     .claim("exp", now() - 3600)
//!     .sign(&issuer.key);
//! assert_eq!(call(expired).await.unwrap().status(), 401);
//! // A token for another API.
//! assert_eq!(call(issuer.token("other-api")).await.unwrap().status(), 401);
//! # }
//! ```
//!
//! # Testing a handler behind a DPoP layer
//!
//! A client key, a token bound to it ([`TokenBuilder::bound_to`]), a fresh
//! proof per request ([`dpop_proof`]) for the URL the layer compares
//! `htu` with (here its `external_url`):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use axum::{Router, body::Body, http::Request, routing::get};
//! use oidc_bearer::{Claims, Dpop, StandardClaims, Validator};
//! use oidc_bearer_testkit::{KeyKind, TestIssuer, TestKey, dpop_proof};
//! use tower::ServiceExt as _;
//!
//! async fn me(claims: Claims<StandardClaims>) -> String {
//!     claims.sub.clone().unwrap_or_default()
//! }
//!
//! let issuer = TestIssuer::start().await;
//! let validator = Validator::builder()
//!     .issuer(&issuer.issuer)
//!     .audience("my-api")
//!     .build()
//!     .await
//!     .unwrap();
//! let app = Router::new().route("/me", get(me)).route_layer(
//!     validator
//!         .layer::<StandardClaims>()
//!         .dpop(Dpop::required().external_url("https://api.example.com")),
//! );
//! let client = TestKey::generate(KeyKind::EcP256, "client");
//! let token = issuer.builder("my-api").bound_to(&client).sign(&issuer.key);
//! let call = |proof: String| {
//!     let request = Request::get("/me")
//!         .header("authorization", format!("DPoP {token}"))
//!         .header("dpop", proof)
//!         .body(Body::empty())
//!         .unwrap();
//!     app.clone().oneshot(request)
//! };
//! let url = "https://api.example.com/me";
//! let proof = dpop_proof(&client, "GET", url, Some(&token)).sign(&client);
//! assert_eq!(call(proof.clone()).await.unwrap().status(), 200);
//! // The same proof again is a replay; one signed by another key is not
//! // the client's.
//! assert_eq!(call(proof).await.unwrap().status(), 401);
//! let thief = TestKey::generate(KeyKind::EcP256, "thief");
//! let stolen = dpop_proof(&thief, "GET", url, Some(&token)).sign(&thief);
//! assert_eq!(call(stolen).await.unwrap().status(), 401);
//! # }
//! ```
//!
//! Everything listens on loopback only. Helpers panic with a message on
//! misuse rather than returning errors: this crate only runs in tests.

#![warn(missing_docs)]

mod issuer;
mod key;
mod provider;
mod token;

#[cfg(test)]
mod tests;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub use issuer::{DEMO_REALM_PATH, TestIssuer};
pub use key::{KeyKind, TestKey, jwks};
pub use provider::{MockProvider, Reply, discovery_document};
pub use token::{TokenBuilder, ath, dpop_proof, standard_claims};

/// base64url without padding (RFC 7515 §2), as used in JWS and JWK.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
///
/// # Panics
/// When `s` is not valid unpadded base64url.
pub fn b64url_decode(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(s)
        .unwrap_or_else(|e| panic!("testkit: {s:?} is not unpadded base64url: {e}"))
}

/// Decodes one segment of a compact JWS (header or payload) as JSON.
///
/// # Panics
/// When the segment is not base64url-encoded JSON.
pub fn decode_segment(segment: &str) -> serde_json::Value {
    serde_json::from_slice(&b64url_decode(segment))
        .unwrap_or_else(|e| panic!("testkit: JWS segment is not JSON: {e}"))
}

/// Seconds since the Unix epoch, now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("system clock is before 1970")
        .as_secs()
}
