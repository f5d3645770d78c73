//! What the criterion bench and the wrk server share: one provider, one key,
//! the same tokens, and one axum router per contender, each configured to
//! check the same things (signature, `iss`, `aud`, `exp`, `nbf`).
//!
//! Every contender gets its keys from the same [`MockProvider`] JWKS URL on
//! 127.0.0.1 (no local-key shortcut): oidc-bearer with `.jwks_url`,
//! jwt-authorizer with `JwtAuthorizer::from_jwks_url`, axum-jwt-auth with
//! `RemoteJwksDecoder`.

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jwt_authorizer::IntoLayer as _;
use oidc_bearer_testkit::{KeyKind, MockProvider, TestKey, TokenBuilder, standard_claims};
use serde::{Deserialize, Serialize};
use tower::ServiceExt as _;

/// The `aud` every token carries and every contender requires.
pub const AUDIENCE: &str = "bench-api";
/// Where the provider serves the issuer (`{base}/realms/bench`).
pub const REALM: &str = "/realms/bench";

/// One side of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Contender {
    /// axum without any auth: the floor.
    NoAuth,
    /// oidc-bearer layer with its default verified-token cache (10,000).
    OidcBearer,
    /// oidc-bearer layer with `.token_cache_size(0)`: every request verified.
    OidcBearerNoCache,
    /// jwt-authorizer 0.15 layer.
    JwtAuthorizer,
    /// axum-jwt-auth 0.7 `Claims<T>` extractor.
    AxumJwtAuth,
}

impl Contender {
    /// Every contender, in the order tables list them.
    pub const ALL: [Contender; 5] = [
        Contender::NoAuth,
        Contender::OidcBearer,
        Contender::OidcBearerNoCache,
        Contender::JwtAuthorizer,
        Contender::AxumJwtAuth,
    ];

    /// The name used on the command line, in criterion ids and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Contender::NoAuth => "noauth",
            Contender::OidcBearer => "oidc-bearer",
            Contender::OidcBearerNoCache => "oidc-bearer-nocache",
            Contender::JwtAuthorizer => "jwt-authorizer",
            Contender::AxumJwtAuth => "axum-jwt-auth",
        }
    }

    /// The contender called `name`, if any.
    pub fn parse(name: &str) -> Option<Contender> {
        Contender::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for Contender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The claims every handler extracts: the same struct for every contender.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct BenchClaims {
    /// Issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
    /// Audience (a string in these tokens).
    pub aud: String,
    /// Expiry.
    pub exp: i64,
    /// Not before.
    pub nbf: i64,
    /// Issued at.
    pub iat: i64,
    /// Token id.
    #[serde(default)]
    pub jti: Option<String>,
    /// Scopes.
    #[serde(default)]
    pub scope: Option<String>,
}

/// The response body of every handler.
pub const BODY: &str = "ok";

/// A provider on 127.0.0.1 serving one freshly generated key as a JWKS.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// The HTTP server (kept alive as long as the fixture).
    pub provider: MockProvider,
    /// The one signing key.
    pub key: TestKey,
    /// `http://127.0.0.1:PORT/realms/bench`.
    pub issuer: String,
    /// `{issuer}/protocol/openid-connect/certs`.
    pub jwks_url: String,
}

impl Fixture {
    /// Starts the provider with a new key of `kind` (RSA-2048 or P-256).
    pub async fn start(kind: KeyKind) -> Fixture {
        let provider = MockProvider::start().await;
        let key = TestKey::generate(kind, format!("bench-{}", kind.default_alg().to_lowercase()));
        let issuer = provider.serve_issuer(REALM, &[&key]);
        let jwks_url = provider.url(&MockProvider::jwks_path(REALM));
        Fixture {
            provider,
            key,
            issuer,
            jwks_url,
        }
    }

    /// `"RS256"` or `"ES256"`.
    pub fn alg(&self) -> &'static str {
        self.key.default_alg()
    }

    /// Claims of a valid token (exp = now + 1 h, nbf, iat), before signing.
    pub fn builder(&self) -> TokenBuilder {
        TokenBuilder::new()
            .header("typ", "JWT")
            .claims(standard_claims(&self.issuer, AUDIENCE))
    }

    /// Valid token number `n`: its own `sub` and `jti`.
    pub fn token(&self, n: usize) -> String {
        self.builder()
            .claim("sub", format!("user-{n}"))
            .claim("jti", format!("bench-{n:06}"))
            .sign(&self.key)
    }

    /// `count` distinct valid tokens, signed on every core.
    pub fn tokens(&self, count: usize) -> Vec<String> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = count.div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..count)
                .step_by(chunk)
                .map(|start| {
                    let end = (start + chunk).min(count);
                    s.spawn(move || (start..end).map(|n| self.token(n)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("token minting thread panicked"))
                .collect()
        })
    }

    /// Tokens every contender must refuse with 401, with what is wrong.
    pub fn bad_tokens(&self, valid: &str) -> Vec<(&'static str, String)> {
        let wrong_key = TestKey::generate(self.key.kind(), self.key.kid());
        vec![
            ("tampered payload", tamper(valid)),
            (
                "wrong audience",
                self.builder().claim("aud", "other-api").sign(&self.key),
            ),
            (
                "wrong issuer",
                self.builder()
                    .claim("iss", "http://127.0.0.1:1/realms/other")
                    .sign(&self.key),
            ),
            (
                "expired",
                self.builder()
                    .claim("exp", oidc_bearer_testkit::now() - 3600)
                    .sign(&self.key),
            ),
            (
                "not yet valid",
                self.builder()
                    .claim("nbf", oidc_bearer_testkit::now() + 3600)
                    .sign(&self.key),
            ),
            (
                "signed by another key with the same kid",
                self.builder().sign(&wrong_key),
            ),
        ]
    }
}

/// `token` with `sub` changed to `"admin"` in the payload and the original
/// signature kept: well-formed JSON, valid base64url, bad signature.
pub fn tamper(token: &str) -> String {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature)) = (parts.next(), parts.next(), parts.next())
    else {
        panic!("not a compact JWS: {token:?}");
    };
    let mut claims = oidc_bearer_testkit::decode_segment(payload);
    claims["sub"] = serde_json::Value::from("admin");
    let payload = oidc_bearer_testkit::b64url(&serde_json::to_vec(&claims).expect("JSON"));
    format!("{header}.{payload}.{signature}")
}

async fn noauth() -> &'static str {
    BODY
}

async fn with_oidc_bearer(claims: oidc_bearer::Claims<BenchClaims>) -> &'static str {
    std::hint::black_box(&claims.sub);
    BODY
}

async fn with_jwt_authorizer(JaClaims(claims): JaClaims<BenchClaims>) -> &'static str {
    std::hint::black_box(&claims.sub);
    BODY
}

async fn with_axum_jwt_auth(claims: axum_jwt_auth::Claims<BenchClaims>) -> &'static str {
    std::hint::black_box(&claims.claims.sub);
    BODY
}

/// jwt-authorizer's own `JwtClaims<T>` extractor, for axum 0.8: the crate's
/// is written against axum 0.7's `FromRequestParts`. Same work: look up the
/// `TokenData<T>` the layer stored and clone the claims out of it.
pub struct JaClaims<T>(pub T);

impl<T, S> FromRequestParts<S> for JaClaims<T>
where
    T: Clone + Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<jsonwebtoken9::TokenData<T>>()
            .map(|data| JaClaims(data.claims.clone()))
            .ok_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// The response type jwt-authorizer's layer sees from the router below it.
///
/// The layer needs `Response: From<jwt_authorizer::AuthError>`, which it
/// implements for axum 0.7's response only. This local newtype (no
/// allocation, no body conversion on the success path) carries axum 0.8's
/// response through the layer; a rejection is converted once, on the error
/// path only.
pub struct JaResponse(pub Response);

impl From<jwt_authorizer::AuthError> for JaResponse {
    fn from(error: jwt_authorizer::AuthError) -> Self {
        let response: axum07::response::Response = error.into();
        JaResponse(response.map(Body::new))
    }
}

impl IntoResponse for JaResponse {
    fn into_response(self) -> Response {
        self.0
    }
}

/// The router for `contender`: `GET /` answering [`BODY`] after the
/// contender verified the bearer token and the handler extracted the claims.
///
/// # Errors
/// When the contender cannot be built (first JWKS fetch failed, ...).
pub async fn router(contender: Contender, fixture: &Fixture) -> Result<Router, String> {
    match contender {
        Contender::NoAuth => Ok(Router::new().route("/", get(noauth))),
        Contender::OidcBearer | Contender::OidcBearerNoCache => {
            let mut builder = oidc_bearer::Validator::builder()
                .issuer(&fixture.issuer)
                .audience(AUDIENCE)
                .jwks_url(&fixture.jwks_url);
            if contender == Contender::OidcBearerNoCache {
                builder = builder.token_cache_size(0);
            }
            let validator = builder.build().await.map_err(|e| e.to_string())?;
            Ok(Router::new()
                .route("/", get(with_oidc_bearer))
                .layer(validator.layer::<BenchClaims>()))
        }
        Contender::JwtAuthorizer => {
            // Its defaults check exp (leeway 60 s) but not nbf; nbf is turned
            // on to match the others. Algorithms come from the JWK.
            let validation = jwt_authorizer::Validation::new()
                .iss(&[fixture.issuer.as_str()])
                .aud(&[AUDIENCE])
                .nbf(true)
                .leeway(60);
            let authorizer: jwt_authorizer::Authorizer<BenchClaims> =
                jwt_authorizer::JwtAuthorizer::from_jwks_url(&fixture.jwks_url)
                    .validation(validation)
                    .build()
                    .await
                    .map_err(|e| e.to_string())?;
            let layer = tower::ServiceBuilder::new()
                .layer(authorizer.into_layer())
                .map_response(JaResponse);
            Ok(Router::new()
                .route("/", get(with_jwt_authorizer))
                .layer(layer))
        }
        Contender::AxumJwtAuth => {
            let alg = match fixture.alg() {
                "RS256" => jsonwebtoken10::Algorithm::RS256,
                "ES256" => jsonwebtoken10::Algorithm::ES256,
                other => return Err(format!("no axum-jwt-auth setup for {other}")),
            };
            // jsonwebtoken 10 defaults: exp required and checked, leeway
            // 60 s, nbf not checked (turned on here to match the others).
            let mut validation = jsonwebtoken10::Validation::new(alg);
            validation.set_audience(&[AUDIENCE]);
            validation.set_issuer(&[fixture.issuer.as_str()]);
            validation.validate_nbf = true;
            validation.leeway = 60;
            let decoder = axum_jwt_auth::RemoteJwksDecoder::builder()
                .jwks_url(fixture.jwks_url.clone())
                .validation(validation)
                .build()
                .map_err(|e| e.to_string())?;
            let decoder = Arc::new(decoder);
            // Fetches the JWKS now and starts its refresh task (hourly).
            let _stop_refresh = decoder.initialize().await.map_err(|e| e.to_string())?;
            let decoder: axum_jwt_auth::Decoder<BenchClaims> = decoder;
            Ok(Router::new()
                .route("/", get(with_axum_jwt_auth))
                .with_state(decoder))
        }
    }
}

/// `GET /` with `Authorization: Bearer <token>` (or none).
pub fn request(authorization: Option<&HeaderValue>) -> Request<Body> {
    let mut builder = Request::builder().uri("/");
    if let Some(value) = authorization {
        builder = builder.header(AUTHORIZATION, value.clone());
    }
    builder.body(Body::empty()).expect("valid request")
}

/// `Bearer <token>` as a header value.
pub fn bearer(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer {token}")).expect("a JWS is a valid header value")
}

/// The status (and body, when 200) `router` answers for `token`.
pub async fn call(router: &Router, token: Option<&str>) -> (StatusCode, String) {
    let header = token.map(bearer);
    let response = router
        .clone()
        .oneshot(request(header.as_ref()))
        .await
        .expect("axum routers are infallible");
    let status = response.status();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    (status, body)
}

/// Checks that `router` accepts `valid` with 200 and [`BODY`], and (unless
/// it is the no-auth baseline) refuses every [`Fixture::bad_tokens`] and a
/// request without a token with 401: a misconfigured contender must not get
/// to look fast.
///
/// # Errors
/// What went wrong, for the first deviation.
pub async fn check(
    contender: Contender,
    router: &Router,
    fixture: &Fixture,
    valid: &str,
) -> Result<(), String> {
    let (status, body) = call(router, Some(valid)).await;
    if status != StatusCode::OK || body != BODY {
        return Err(format!(
            "{contender}: valid {} token answered {status} {body:?}, expected 200 {BODY:?}",
            fixture.alg()
        ));
    }
    if contender == Contender::NoAuth {
        return Ok(());
    }
    let mut bad = fixture.bad_tokens(valid);
    bad.push(("missing", String::new()));
    for (what, token) in bad {
        let token = (!token.is_empty()).then_some(token.as_str());
        let (status, _) = call(router, token).await;
        if status != StatusCode::UNAUTHORIZED {
            return Err(format!(
                "{contender}: {what} {} token answered {status}, expected 401",
                fixture.alg()
            ));
        }
    }
    // The valid token again: refusals must not have broken anything (a
    // refetch cooldown, a poisoned cache, ...).
    let (status, _) = call(router, Some(valid)).await;
    if status != StatusCode::OK {
        return Err(format!(
            "{contender}: valid token answered {status} after the refusals"
        ));
    }
    Ok(())
}
