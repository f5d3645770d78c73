//! The two servers of the SPA example: the page server (static files and
//! the page's configuration) and the protected API with CORS in front of
//! it. `main.rs` serves them on fixed ports; `tests/browser.rs` on
//! ephemeral ones.

use std::time::Duration;

use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY,
    WWW_AUTHENTICATE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get};
use oidc_bearer::{Claims, StandardClaims, Validator};
use tower_http::cors::{AllowOrigin, CorsLayer};

const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");

/// What the page needs to know; served as `/config.json`.
pub struct PageConfig {
    /// The provider's issuer; the page reads its discovery document.
    pub issuer: String,
    /// The SPA's (public) client id at the provider.
    pub client_id: String,
    /// What the page asks for, including the API's scope.
    pub scope: String,
    /// RFC 8707 resource indicator, for providers that use one to choose
    /// the token's audience (the local oidc-provider does).
    pub resource: Option<String>,
    /// The API's origin, e.g. `http://127.0.0.1:3000`.
    pub api: String,
}

/// The page server: `/`, `/app.js`, `/config.json`.
pub fn page(config: PageConfig) -> Router {
    let json = serde_json::json!({
        "issuer": config.issuer,
        "clientId": config.client_id,
        "scope": config.scope,
        "resource": config.resource,
        "api": config.api,
    })
    .to_string();
    // The page may talk to itself, the provider and the API, and run no
    // script but its own: an injected script could read the token from
    // memory as easily as from storage.
    let policy = format!(
        "default-src 'self'; connect-src 'self' {} {}; frame-ancestors 'none'",
        origin_of(&config.issuer),
        origin_of(&config.api),
    );
    let policy = HeaderValue::from_str(&policy).expect("origins are valid header text");
    let html = policy.clone();
    let js = policy.clone();
    Router::new()
        .route(
            "/",
            get(move || async move { file("text/html; charset=utf-8", INDEX_HTML, html) }),
        )
        .route(
            "/app.js",
            get(move || async move { file("text/javascript; charset=utf-8", APP_JS, js) }),
        )
        .route(
            "/config.json",
            get(move || async move { file("application/json", json, policy) }),
        )
}

fn file(content_type: &'static str, body: impl Into<String>, policy: HeaderValue) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (CONTENT_SECURITY_POLICY, policy),
            // The provider's redirect puts the code in the page's URL.
            (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        body.into(),
    )
        .into_response()
}

fn origin_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_else(|_| panic!("not a URL: {url}"))
}

async fn me(claims: Claims<StandardClaims>) -> Json<Claims<StandardClaims>> {
    Json(claims)
}

/// The protected API: `GET /me` answers the caller's claims, to pages of
/// `spa_origin` only.
pub fn api(validator: &Validator, spa_origin: &str) -> Router {
    let cors = CorsLayer::new()
        // A list, even of one: an exact origin would be sent to every
        // caller (the browser then compares); a list names the page's
        // origin to the page only, and other origins get no CORS headers.
        .allow_origin(AllowOrigin::list([
            HeaderValue::from_str(spa_origin).expect("an origin such as http://host:port")
        ]))
        .allow_methods([Method::GET])
        .allow_headers([AUTHORIZATION])
        // Without this the page sees the 401 but not why.
        .expose_headers([WWW_AUTHENTICATE])
        .max_age(Duration::from_secs(600));

    // The order matters. The last `.layer` is the outermost, so a request
    // goes through CORS first, then the bearer check, then the handler:
    // - the browser's preflight (`OPTIONS`, never with a token) is answered
    //   by CORS and never reaches the bearer check, which would refuse it;
    // - the bearer check's 401s go back out through CORS and get its
    //   headers, so the page can read their status and `WWW-Authenticate`
    //   instead of a bare network error.
    // Swapping the two lines breaks both.
    Router::new()
        .route("/me", get(me))
        .layer(validator.layer::<StandardClaims>())
        .layer(cors)
}
