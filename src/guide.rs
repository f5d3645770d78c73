//! Short guides, one per task, each with code that compiles. Nothing here
//! is an API: the modules only hold documentation.

/// # Protect an axum API
///
/// The validator finds the provider's keys through discovery, keeps them
/// fresh in the background, and the layer puts the verified claims into
/// each request. Use `route_layer`, so a path no route matches stays a
/// 404 instead of a 401.
///
/// ```no_run
/// use std::time::Duration;
///
/// use axum::{Router, routing::{get, post}};
/// use oidc_bearer::credentials::Scheme;
/// use oidc_bearer::rejection::ProblemJson;
/// use oidc_bearer::{AuthContext, Claims, Require, StandardClaims, StepUp, Validator};
///
/// async fn orders(claims: Claims<StandardClaims>) -> String {
///     format!("orders of {}", claims.sub.as_deref().unwrap_or("?"))
/// }
///
/// async fn refund(context: AuthContext) -> &'static str {
///     match context.scheme() {
///         Some(Scheme::Dpop) => "refunded, the token bound to the client's key",
///         _ => "refunded",
///     }
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let validator = Validator::discover("https://auth.example.com/realms/shop")
///     .audience("orders-api")
///     .build()
///     .await?;
/// let app: Router = Router::new()
///     .route(
///         "/orders",
///         get(orders).route_layer(Require::scope("orders.read").layer::<StandardClaims>()),
///     )
///     .route(
///         "/refunds",
///         post(refund).route_layer(
///             StepUp::max_age(Duration::from_secs(300)).layer::<StandardClaims>(),
///         ),
///     )
///     // Realm and rejection handler once, here: the requirement layers
///     // inside answer with them.
///     .route_layer(
///         validator
///             .layer::<StandardClaims>()
///             .realm("orders")
///             .on_rejection(ProblemJson),
///     );
/// # Ok(()) }
/// ```
///
/// A request without a token gets `401` with `WWW-Authenticate: Bearer`, a
/// bad token `401 invalid_token` with the rule that failed, a token
/// without the scope `403 insufficient_scope` (RFC 6750 §3.1), a sign-in
/// older than five minutes `401 insufficient_user_authentication` (RFC
/// 9470). Every refusal has the bearer layer's realm and handler, here an
/// RFC 9457 problem body: a requirement layer's own
/// [`realm`](crate::authz::AuthorizeLayer::realm) or
/// [`on_rejection`](crate::authz::AuthorizeLayer::on_rejection) only
/// overrides them for its route.
///
/// A handler that needs to know how the request got in takes
/// [`AuthContext`](crate::AuthContext): the
/// [`Scheme`](crate::credentials::Scheme) and
/// [`TokenSource`](crate::TokenSource) of the token, or that the request
/// is anonymous ([`allow_anonymous`](crate::OidcBearerLayer::allow_anonymous)).
pub mod axum_api {}

/// # Microsoft Entra ID
///
/// [`EntraId`](crate::EntraId) knows Entra's issuers (v1 and v2), keys URL
/// and key binding; give it the tenant and the API's audiences. Handlers
/// read [`EntraClaims`](crate::providers::EntraClaims).
///
/// ```no_run
/// use oidc_bearer::{EntraId, Require, Validator};
/// use oidc_bearer::providers::{EntraClaims, EntraTokenVersion};
///
/// # async fn run() -> Result<(), oidc_bearer::Error> {
/// let validator = Validator::builder()
///     .trust(
///         EntraId::tenant("8eaef023-2b34-4da1-9baa-8bc8c9d6a490")
///             .audience("6e74172b-be56-4843-9ff4-e66a39bb12e3") // client id (v2)
///             .audience("api://orders") // App ID URI (v1)
///             .token_version(EntraTokenVersion::V1AndV2),
///     )
///     .build()
///     .await?;
/// let layer = validator.layer::<EntraClaims>();
/// let admins_only = Require::role("Orders.Admin").layer::<EntraClaims>();
/// # Ok(()) }
/// ```
///
/// Multi-tenant: `EntraId::multi_tenant().allowed_tenants([..])`; without
/// the allow-list, any organisation's token for your API passes. A token
/// for Microsoft Graph is refused with a description that says to request
/// a scope of this API.
pub mod entra_id {}

/// # Keycloak
///
/// [`Keycloak`](crate::Keycloak) builds the realm's issuer and keys URL,
/// and fetches the keys from an internal address when the service reaches
/// Keycloak by another name than the browser. Realm roles and client
/// roles stay apart in [`KeycloakClaims`](crate::providers::KeycloakClaims).
///
/// ```no_run
/// use oidc_bearer::{Keycloak, Require, Validator};
/// use oidc_bearer::providers::KeycloakClaims;
///
/// # async fn run() -> Result<(), oidc_bearer::Error> {
/// let validator = Validator::builder()
///     .trust(
///         Keycloak::realm("https://auth.example.com", "shop")
///             .internal_url("http://keycloak:8080")
///             .audience("orders-api"), // put in `aud` by an Audience mapper
///     )
///     // Plain http to the internal address; this lifts the https rule
///     // for every fetch of this validator: a trusted network path only.
///     .allow_insecure_http()
///     .build()
///     .await?;
/// let layer = validator.layer::<KeycloakClaims>();
/// let readers = Require::realm_role("orders-reader").layer::<KeycloakClaims>();
/// let admins = Require::client_role("orders-api", "admin").layer::<KeycloakClaims>();
/// # Ok(()) }
/// ```
pub mod keycloak {}

/// # A gRPC service, a queue consumer, anything without axum
///
/// The validator needs no HTTP types: [`Validator::verify`](crate::Validator::verify)
/// (async, waits for a rotated key) or
/// [`Validator::try_verify`](crate::Validator::try_verify) (synchronous,
/// for a tonic interceptor). Map the error by its kind: the token is bad
/// (`Unauthenticated`), not enough (`PermissionDenied`), or the keys are
/// unavailable (`Unavailable`, retry later).
///
/// ```no_run
/// use oidc_bearer::{ErrorKind, Require, StandardClaims, Validator};
///
/// /// What a gRPC interceptor answers, without the gRPC crate.
/// enum Code { Unauthenticated, PermissionDenied, Unavailable }
///
/// fn authenticate(
///     validator: &Validator,
///     required: &Require,
///     authorization: Option<&str>, // the `authorization` metadata
/// ) -> Result<StandardClaims, (Code, String)> {
///     // The scheme is case-insensitive (RFC 6750 §2.1).
///     let token = authorization
///         .and_then(|value| value.split_once(' '))
///         .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
///         .map(|(_, token)| token)
///         .ok_or((Code::Unauthenticated, "no bearer token".to_owned()))?;
///     let refuse = |error: oidc_bearer::Error| {
///         let code = match error.kind() {
///             ErrorKind::Unavailable => Code::Unavailable,
///             ErrorKind::InsufficientScope => Code::PermissionDenied,
///             _ => Code::Unauthenticated,
///         };
///         // What a client may see: the rule that failed, never the token
///         // nor a key-fetch reason (those are for logs).
///         (code, error.description())
///     };
///     let claims = validator.try_verify::<StandardClaims>(token).map_err(refuse)?;
///     required.check(&*claims).map_err(refuse)?; // a scope or role: 403's analogue
///     Ok((*claims).clone())
/// }
/// ```
///
/// `examples/tonic.rs` does this in a tonic interceptor.
///
/// Behind the layer in a plain tower or hyper service, the request's
/// extensions hold what the layer verified:
/// [`Claims::from_extensions`](crate::Claims::from_extensions) and
/// [`AuthContext::from_extensions`](crate::AuthContext::from_extensions),
/// what axum's extractors read (`examples/hyper.rs`).
///
/// ```
/// use oidc_bearer::{AuthContext, Claims, StandardClaims};
///
/// fn who<B>(request: &http::Request<B>) -> String {
///     let extensions = request.extensions();
///     if let Some(claims) = Claims::<StandardClaims>::from_extensions(extensions) {
///         return format!("{:?}", claims.sub);
///     }
///     match AuthContext::from_extensions(extensions) {
///         Some(context) if context.is_anonymous() => "anonymous".to_owned(),
///         _ => "no oidc-bearer layer for StandardClaims in front".to_owned(),
///     }
/// }
/// let request = http::Request::new(());
/// assert_eq!(who(&request), "no oidc-bearer layer for StandardClaims in front");
/// ```
pub mod without_axum {}

/// # DPoP: tokens bound to the client's key
///
/// An authorization server that supports DPoP (RFC 9449) binds a token to
/// a key of the client (`cnf.jkt`, the key's RFC 7638 thumbprint), and the
/// client proves it holds the key with a fresh proof per request, signed
/// for that method and URL. [`Dpop`](crate::Dpop) holds a layer's
/// settings; [`OidcBearerLayer::dpop`](crate::OidcBearerLayer::dpop) turns
/// them on.
///
/// ```no_run
/// use oidc_bearer::dpop::{MemoryReplayStore, Nonces};
/// use oidc_bearer::{Dpop, StandardClaims, Validator};
///
/// # async fn run() -> Result<(), oidc_bearer::Error> {
/// let validator = Validator::discover("https://auth.example.com/realms/shop")
///     .audience("orders-api")
///     .build()
///     .await?;
/// let layer = validator.layer::<StandardClaims>().dpop(
///     // Bearer tokens still pass while clients move to DPoP.
///     Dpop::allowed()
///         // Behind a proxy: the URL clients call, which `htu` names.
///         .external_url("https://api.example.com")
///         .replay_store(MemoryReplayStore::new(10_000))
///         .nonces(Nonces::new()),
/// );
/// # let _ = layer;
/// # Ok(()) }
/// ```
///
/// ## Modes
///
/// | [`DpopMode`](crate::dpop::DpopMode) | `Bearer` token | `Bearer` token with `cnf.jkt` | `DPoP` token + proof |
/// |---|---|---|---|
/// | [`BearerOnly`](crate::dpop::DpopMode::BearerOnly) | accepted | refused | no credentials (another scheme) |
/// | [`BearerOrDpop`](crate::dpop::DpopMode::BearerOrDpop) | accepted | refused | checked |
/// | [`DpopRequired`](crate::dpop::DpopMode::DpopRequired) | refused | refused | checked |
///
/// A layer without `.dpop(...)` is today's layer: Bearer only, and it does
/// not look for `cnf` at all (RFC 9449 §7.2 describes such a DPoP-unaware
/// resource, which would accept a bound token as a bearer token). Say
/// [`Dpop::bearer_only`](crate::Dpop::bearer_only) to refuse bound tokens
/// there too.
///
/// A token *without* `cnf.jkt` sent with the `DPoP` scheme is refused
/// (`invalid_token`, "the token is not DPoP-bound"): RFC 9449 §4.3 check
/// 12 has the resource confirm that the proof's key is the key the token is
/// bound to, and an unbound token is bound to no key, so that check cannot
/// pass. Accepting it would also hide from the client that its
/// authorization server did not bind the token, which is the whole point
/// of DPoP.
///
/// ## What is checked
///
/// Every check of RFC 9449 §4.3: one `DPoP` header; a compact JWS; `typ`
/// `dpop+jwt`; `alg` from [`algs`](crate::Dpop::algs) (asymmetric only); a
/// `jwk` with public members only; its signature with that `jwk`; `htm`
/// equal to the method; `htu` equal to the request URI without query and
/// fragment, after RFC 3986 normalisation (see
/// [`external_url`](crate::Dpop::external_url)); `iat` within the
/// [acceptance window](crate::Dpop::acceptance_window) and the
/// [leeway](crate::Dpop::leeway); `ath` equal to
/// base64url(SHA-256(token)); the token's `cnf.jkt` equal to the
/// thumbprint of the proof's `jwk`; and the `jti` not seen before within
/// the window ([`ReplayStore`](crate::dpop::ReplayStore)). With
/// [`nonces`](crate::Dpop::nonces), a proof must also carry the server's
/// current nonce (RFC 9449 §9).
///
/// The proof's key verifies the proof and nothing else; the token is
/// verified with the issuer's keys as always, and may come from the
/// verified-token cache. The proof is checked on every request.
///
/// ## What is remembered between proofs
///
/// A client signs every proof with the same key and sends the same
/// protected header with each (only the claims change, RFC 9449 §4.2). So
/// the header's checks (`typ`, `crit`, `alg`, a `jwk` with public members
/// only), its key's thumbprint and the key's parse (an EC point's curve
/// check, an Ed25519 key's subgroup check) are made once per client rather
/// than once per proof: a header that passed is remembered by its exact
/// bytes as sent, by these settings and their clones. Each of those
/// results depends on the header's bytes and the `alg` allow-list alone;
/// clones share what is remembered and may have another allow-list, so the
/// allow-list is applied again on every proof, and a remembered header
/// stands for exactly the checks it skips. Only headers that passed are
/// kept: at most 1,024, of up to 1,536 characters, with their parsed keys
/// (a longer header is checked every time). When full, all are forgotten,
/// which only costs the next requests the checks again. The claims —
/// `htm`, `htu`, `iat`, `ath`, `jti` — and the signature are checked on
/// every proof.
///
/// ## Refusals
///
/// `401` with `WWW-Authenticate: DPoP algs="ES256 …", error="invalid_dpop_proof",
/// error_description="…"` for a bad proof, `error="use_dpop_nonce"` and a
/// `DPoP-Nonce` header for a missing or old nonce. With
/// [`DpopMode::BearerOrDpop`](crate::dpop::DpopMode::BearerOrDpop) both
/// challenges are sent, one `WWW-Authenticate` field per scheme, the error
/// on the scheme the request used. A replay store that cannot answer gives
/// `503` with `Retry-After` and the challenges (fail closed), unless
/// [`allow_replays_when_store_fails`](crate::Dpop::allow_replays_when_store_fails).
///
/// Refusals after the layer of a request it admitted with the `DPoP`
/// scheme — [`Require`](crate::Require)'s `403 insufficient_scope`,
/// [`StepUp`](crate::StepUp)'s `401 insufficient_user_authentication` —
/// carry the `DPoP` challenge alone (RFC 9449 §7.1), with `algs`. With
/// nonces, every response to a DPoP request, successful or not, carries
/// the current `DPoP-Nonce` (§8.2), so clients move to a new nonce before
/// the old one runs out.
///
/// A token's `cnf` must be a JSON object (RFC 7800 §3.1): one that is not
/// is refused as an invalid claim by every layer, with DPoP or without. A
/// token bound by a confirmation method other than `jkt` (RFC 8705's
/// `x5t#S256`, ...) is refused by a layer with DPoP settings in either
/// scheme ([`Error::UnsupportedConfirmation`](crate::Error::UnsupportedConfirmation)):
/// it cannot check that binding, and accepting the token would drop it.
pub mod dpop {}

/// # Testing your handlers
///
/// The `oidc-bearer-testkit` crate runs an OpenID provider in your test:
/// keys generated, discovery and JWKS on 127.0.0.1, tokens minted with any
/// claims, keys rotated, faults on demand. Test your real router, layer
/// included.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use axum::{Router, body::Body, http::Request, routing::get};
/// use oidc_bearer::{Require, StandardClaims, Validator};
/// use oidc_bearer_testkit::TestIssuer;
/// use tower::ServiceExt as _;
///
/// let issuer = TestIssuer::start().await;
/// let validator = Validator::discover(&issuer.issuer)
///     .audience("orders-api")
///     .build()
///     .await
///     .unwrap();
/// let app = Router::new()
///     .route(
///         "/orders",
///         get(|| async { "[]" })
///             .route_layer(Require::scope("orders.read").layer::<StandardClaims>()),
///     )
///     .route_layer(validator.layer::<StandardClaims>());
///
/// let token = issuer
///     .builder("orders-api")
///     .claim("scope", "profile")
///     .sign(&issuer.key);
/// let request = Request::get("/orders")
///     .header("authorization", format!("Bearer {token}"))
///     .body(Body::empty())
///     .unwrap();
/// let response = app.oneshot(request).await.unwrap();
/// assert_eq!(response.status(), 403); // valid, but not enough
/// # }
/// ```
///
/// Behind a DPoP layer, bind the token to a client key and sign a fresh
/// proof per request: `issuer.builder("orders-api").bound_to(&key)` and
/// `oidc_bearer_testkit::dpop_proof(&key, "GET", url, Some(&token))`, with
/// `url` the URL the layer compares `htu` with (its
/// [`Dpop::external_url`](crate::Dpop::external_url), or
/// `http://{Host}{path}` with [`Dpop::plain_http`](crate::Dpop::plain_http));
/// the testkit's crate docs walk through one.
pub mod testing {}

/// # Running behind a proxy
///
/// Outbound (the service reaches the provider through a corporate proxy,
/// or trusts a private CA): give the validator your own `reqwest` client;
/// the crate's timeout, size limit, `https` policy and redirect rules
/// still apply.
///
/// ```no_run
/// use oidc_bearer::{Validator, reqwest};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// // Add a private CA with reqwest's TLS settings of your version.
/// let client = reqwest::Client::builder()
///     .proxy(reqwest::Proxy::https("http://proxy.internal:3128")?)
///     .build()?;
/// let validator = Validator::discover("https://auth.example.com/realms/shop")
///     .audience("orders-api")
///     .http_client(client)
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
///
/// Inbound (the API sits behind a reverse proxy): nothing to do for bearer
/// tokens. DPoP proofs name the URL the client called: give it with
/// `Dpop::external_url(..)`. Advertise the public URL as the resource
/// ([`ValidatorBuilder::resource`](crate::ValidatorBuilder::resource)), so
/// the RFC 9728 document and challenges name it, not the internal address.
pub mod behind_a_proxy {}
