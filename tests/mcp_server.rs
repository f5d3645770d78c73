//! `examples/mcp_server.rs` run on 127.0.0.1 and walked the way an MCP
//! client walks it: `POST /mcp` without a token, `resource_metadata` from
//! the 401, the document (its `resource` must be the server's URL, RFC
//! 9728 §3.3), the authorization server's discovery document, a token, and
//! the call again.

use oidc_bearer::Validator;
use oidc_bearer_testkit::TestIssuer;
use serde_json::{Value, json};

mod common;
#[allow(dead_code)]
#[path = "../examples/mcp_server.rs"]
mod mcp_server;
use common::{Api, get_json};

/// The value of `name="…"` in a challenge.
fn quoted_param<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    let start = challenge.find(&format!("{name}=\""))? + name.len() + 2;
    let len = challenge[start..].find('"')?;
    Some(&challenge[start..start + len])
}

#[tokio::test]
async fn an_mcp_client_walks_from_401_to_a_successful_call() {
    let issuer = TestIssuer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server_url = format!("{base}/mcp");
    let validator = Validator::builder()
        .issuer(&issuer.issuer)
        .jwks_url(&issuer.jwks_url)
        .audience(&server_url)
        .resource(&server_url)
        .build()
        .await
        .unwrap();
    let app = mcp_server::router(&validator);
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let api = Api::from_parts(base.clone(), server);
    let http = &api.client;
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}});

    // 1. Unauthenticated call: 401 and where to read about this resource.
    let first = http
        .post(&server_url)
        .json(&initialize)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 401);
    let challenge = first.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    let metadata_url = quoted_param(challenge, "resource_metadata").expect("resource_metadata");
    assert_eq!(
        metadata_url,
        format!("{base}/.well-known/oauth-protected-resource/mcp")
    );

    // 2. The document, public, about exactly this server.
    let document: Value = get_json(http, metadata_url).await;
    assert_eq!(document["resource"], server_url.as_str());
    assert_eq!(document["scopes_supported"], json!([mcp_server::SCOPE]));
    assert_eq!(document["bearer_methods_supported"], json!(["header"]));
    let authorization_server = document["authorization_servers"][0].as_str().unwrap();
    assert_eq!(authorization_server, issuer.issuer);

    // 3. The authorization server's own metadata: where to sign in.
    let discovery: Value = get_json(
        http,
        format!("{authorization_server}/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(discovery["issuer"], authorization_server);

    // 4. Signed in (a token for the resource, RFC 8707), the call works.
    let token = issuer
        .builder(&server_url)
        .claim("scope", mcp_server::SCOPE)
        .sign(&issuer.key);
    let reply: Value = http
        .post(&server_url)
        .bearer_auth(&token)
        .json(&initialize)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["id"], 1);
    assert_eq!(reply["result"]["serverInfo"]["name"], "oidc-bearer-example");
    let tools: Value = http
        .post(&server_url)
        .bearer_auth(&token)
        .json(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tools["result"]["tools"][0]["name"], "whoami");
}
