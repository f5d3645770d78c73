//! A protected API to point at your own provider.
//!
//! ```text
//! OIDC_ISSUER=https://login.microsoftonline.com/<tenant>/v2.0 \
//! OIDC_AUDIENCE=<api client id> \
//! cargo run --example protected_api
//!
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/me
//! curl http://127.0.0.1:3000/healthz
//! ```
//!
//! - `OIDC_ISSUER`: the exact `iss` of your tokens; keys are found through
//!   `{OIDC_ISSUER}/.well-known/openid-configuration`.
//! - `OIDC_AUDIENCE`: your API's audience (client id or App ID URI).
//! - `LISTEN`: address to bind (default `127.0.0.1:3000`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router, routing::get};
use oidc_bearer::{Claims, Health, StandardClaims, Validator};

async fn me(claims: Claims<StandardClaims>) -> Json<Claims<StandardClaims>> {
    Json(claims)
}

async fn healthz(State(validator): State<Validator>) -> (StatusCode, Json<Health>) {
    let health = validator.health();
    let status = if health.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(health))
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name)
        .map_err(|_| format!("set {name} (see the top of examples/protected_api.rs)"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = env("OIDC_ISSUER")?;
    let audience = env("OIDC_AUDIENCE")?;
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());

    let validator = Validator::discover(issuer)
        .audience(audience)
        .build()
        .await?;

    let app = Router::new()
        .route("/me", get(me))
        // Only the routes above need a token; /healthz below does not,
        // and an unknown path stays 404.
        .route_layer(validator.layer::<StandardClaims>())
        .route("/healthz", get(healthz))
        .with_state(validator);

    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    println!("GET /me with a bearer token; GET /healthz without one");
    axum::serve(listener, app).await?;
    Ok(())
}
