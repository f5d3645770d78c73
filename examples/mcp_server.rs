//! A minimal MCP-style resource server: JSON-RPC at `POST /mcp` behind the
//! bearer layer, and its RFC 9728 metadata at
//! `/.well-known/oauth-protected-resource/mcp`, so an MCP client that only
//! knows `http://127.0.0.1:3000/mcp` finds where to sign in.
//!
//! ```text
//! cargo run --example mcp_server          # with an embedded test issuer
//! OIDC_ISSUER=https://login.example.com/realms/mcp cargo run --example mcp_server
//!
//! curl -i -X POST http://127.0.0.1:3000/mcp       # 401 + resource_metadata
//! curl http://127.0.0.1:3000/.well-known/oauth-protected-resource/mcp
//! ```
//!
//! - `OIDC_ISSUER`: the authorization server (keys through discovery);
//!   unset, an embedded issuer on 127.0.0.1 is started and a token printed.
//! - `MCP_RESOURCE`: this server's URL, the resource identifier and the
//!   expected audience (RFC 8707); default `http://127.0.0.1:3000/mcp`.

use axum::{Json, Router, routing::post};
use oidc_bearer::{Claims, StandardClaims, Validator};
use serde_json::{Value, json};

/// The scope a client asks for to use the tools.
pub const SCOPE: &str = "mcp:tools";

/// `/mcp` behind `validator`'s layer (which must name its
/// [`resource`](oidc_bearer::ValidatorBuilder::resource)), and the metadata
/// document beside it, public.
pub fn router(validator: &Validator) -> Router {
    let layer = validator.layer::<StandardClaims>();
    let metadata = layer
        .resource_metadata()
        .scopes_supported([SCOPE])
        .resource_name("oidc-bearer MCP example");
    Router::new()
        .route("/mcp", post(mcp))
        .route_layer(layer)
        .merge(metadata.router())
}

/// Just enough JSON-RPC to show who is calling: `initialize` and
/// `tools/list`; anything else is "method not found".
async fn mcp(claims: Claims<StandardClaims>, Json(request): Json<Value>) -> Json<Value> {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let reply = match request.get("method").and_then(Value::as_str) {
        Some("initialize") => json!({"result": {
            "protocolVersion": "2025-06-18",
            "serverInfo": {"name": "oidc-bearer-example", "version": "0.1.0"},
            "capabilities": {"tools": {}},
            "instructions": format!("signed in as {}", claims.sub.as_deref().unwrap_or("?")),
        }}),
        Some("tools/list") => json!({"result": {"tools": [{
            "name": "whoami",
            "description": "Who the access token says you are",
            "inputSchema": {"type": "object"},
        }]}}),
        _ => json!({"error": {"code": -32601, "message": "method not found"}}),
    };
    let mut reply = reply;
    reply["jsonrpc"] = json!("2.0");
    reply["id"] = id;
    Json(reply)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let resource =
        std::env::var("MCP_RESOURCE").unwrap_or_else(|_| "http://127.0.0.1:3000/mcp".into());
    let listen = reqwest::Url::parse(&resource)?
        .socket_addrs(|| None)?
        .first()
        .copied()
        .ok_or("MCP_RESOURCE has no address")?;
    let mut _embedded = None;
    let builder = match std::env::var("OIDC_ISSUER") {
        Ok(issuer) => Validator::discover(issuer),
        Err(_) => {
            let issuer = oidc_bearer_testkit::TestIssuer::start().await;
            let token = issuer
                .builder(&resource)
                .claim("scope", SCOPE)
                .sign(&issuer.key);
            println!("embedded issuer {}\ntoken: {token}", issuer.issuer);
            let builder = Validator::builder()
                .issuer(&issuer.issuer)
                .jwks_url(&issuer.jwks_url);
            _embedded = Some(issuer);
            builder
        }
    };
    let validator = builder
        .audience(&resource)
        .resource(&resource)
        .build()
        .await?;
    println!(
        "MCP server at {resource}; metadata at {}",
        validator.resource_metadata_url().unwrap_or_default()
    );
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, router(&validator)).await?;
    Ok(())
}
