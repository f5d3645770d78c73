//! Accept/reject counters served as Prometheus text, next to a readiness
//! endpoint, with no metrics dependency: `Validator::metrics()` is a
//! snapshot; `to_prometheus()` writes the text format.
//!
//! Runs on its own with an embedded provider on 127.0.0.1, sends a few
//! requests, prints what `GET /metrics` answers, and stops:
//!
//! ```text
//! cargo run --example prometheus
//! ```

use axum::http::StatusCode;
use axum::{Router, routing::get};
use oidc_bearer::{StandardClaims, Validator};
use oidc_bearer_testkit::{TestIssuer, now};

const AUDIENCE: &str = "orders-api";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = TestIssuer::start().await;
    let validator = Validator::discover(&issuer.issuer)
        .audience(AUDIENCE)
        .build()
        .await?;

    // The counters and the readiness endpoint stay outside the bearer
    // layer: scrapers and probes carry no token.
    let metrics = validator.clone();
    let health = validator.clone();
    let app = Router::new()
        .route("/orders", get(|| async { "orders" }))
        .route_layer(validator.layer::<StandardClaims>())
        .route(
            "/metrics",
            get(move || async move {
                (
                    [("content-type", "text/plain; version=0.0.4")],
                    metrics.metrics().to_prometheus(),
                )
            }),
        )
        .route(
            "/ready",
            get(move || async move {
                match health.health().is_ready() {
                    true => StatusCode::OK,
                    false => StatusCode::SERVICE_UNAVAILABLE,
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = reqwest::Client::new();
    let valid = issuer.token(AUDIENCE);
    let expired = issuer
        .builder(AUDIENCE)
        .claim("exp", now() - 3600)
        .sign(&issuer.key);
    for token in [Some(&valid), Some(&valid), Some(&expired), None] {
        let mut request = client.get(format!("{base}/orders"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await?;
    }
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    println!("GET /metrics\n\n{text}");
    Ok(())
}
