//! The whole flow on this machine, with no setup:
//!
//! 1. an embedded OpenID provider (an RSA key generated at start, its
//!    discovery document and JWKS served on 127.0.0.1),
//! 2. an axum API protected by `oidc-bearer`, found through discovery,
//! 3. a client sending a valid token and several bad ones, printing what the
//!    API answered to each.
//!
//! ```text
//! cargo run --example demo
//! ```

use std::time::Duration;

use axum::{Json, Router, routing::get};
use oidc_bearer::{Claims, Validator};
use oidc_bearer_testkit::{TestIssuer, b64url, decode_segment, now};
use serde::{Deserialize, Serialize};

const AUDIENCE: &str = "orders-api";

/// The claims this API wants from a token.
#[derive(Debug, Deserialize, Serialize)]
struct ApiClaims {
    sub: String,
    scope: Option<String>,
    exp: i64,
}

async fn me(claims: Claims<ApiClaims>) -> Json<Claims<ApiClaims>> {
    Json(claims)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. The provider.
    let issuer = TestIssuer::start().await;
    println!("provider: issuer {}", issuer.issuer);
    println!("          discovery {}", issuer.discovery_url());

    // 2. The protected API: ten lines.
    let validator = Validator::discover(&issuer.issuer)
        .audience(AUDIENCE)
        .build()
        .await?;
    let app = Router::new()
        .route("/me", get(me))
        .route_layer(validator.layer::<ApiClaims>().realm("orders"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = format!("http://{}/me", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("api:      GET {api}");
    println!(
        "keys:     {:?} (through discovery, refreshed in the background)\n",
        validator.health().kids
    );

    // 3. The client.
    let valid = issuer
        .builder(AUDIENCE)
        .claim("sub", "alice")
        .sign(&issuer.key);
    let expired = issuer
        .builder(AUDIENCE)
        .claim("iat", now() - 7200)
        .claim("exp", now() - 3600)
        .sign(&issuer.key);
    let other_audience = issuer.token("billing-api");
    let alg_none = issuer.builder(AUDIENCE).unsigned("none");
    let cases: [(&str, Option<String>); 6] = [
        ("valid token", Some(valid.clone())),
        ("expired token", Some(expired)),
        ("tampered token (sub changed)", Some(tamper(&valid))),
        ("token for another audience", Some(other_audience)),
        ("alg: none", Some(alg_none)),
        ("no token", None),
    ];

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let mut summary = Vec::new();
    for (what, token) in cases {
        let mut request = client.get(&api);
        match &token {
            Some(token) => {
                println!("=== {what}: Authorization: Bearer {}", abbreviate(token));
                request = request.bearer_auth(token);
            }
            None => println!("=== {what}: no Authorization header"),
        }
        let response = request.send().await?;
        let status = response.status();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap_or("(not text)").to_owned());
        let body = response.text().await?;
        println!("    status:           {status}");
        println!(
            "    WWW-Authenticate: {}",
            challenge.as_deref().unwrap_or("-")
        );
        println!(
            "    body:             {}\n",
            if body.is_empty() { "-" } else { &body }
        );
        let outcome = challenge
            .as_deref()
            .and_then(|c| c.split("error_description=").nth(1))
            .map(|d| d.trim_matches('"').to_owned())
            .unwrap_or_else(|| {
                if status.is_success() {
                    "claims".into()
                } else {
                    "bare Bearer challenge".into()
                }
            });
        summary.push((what, status.as_u16(), outcome));
    }

    println!("{:<30} {:>6}  answer", "sent", "status");
    for (what, status, outcome) in summary {
        println!("{what:<30} {status:>6}  {outcome}");
    }
    Ok(())
}

/// The same token with `sub` rewritten and the original signature kept.
fn tamper(token: &str) -> String {
    let mut parts = token.split('.');
    let (header, payload, signature) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let mut claims = decode_segment(payload);
    claims["sub"] = "admin".into();
    let payload = b64url(&serde_json::to_vec(&claims).expect("JSON serializes"));
    format!("{header}.{payload}.{signature}")
}

/// Tokens are never printed whole.
fn abbreviate(token: &str) -> String {
    let head: String = token.chars().take(24).collect();
    format!("{head}… ({} bytes)", token.len())
}
