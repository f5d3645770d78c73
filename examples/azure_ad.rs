//! An API protected for Microsoft Entra ID (Azure AD), configured by
//! environment variables.
//!
//! ```text
//! AZURE_TENANT_ID=<Directory (tenant) ID, a GUID> \
//! AZURE_CLIENT_ID=<the API's Application (client) ID> \
//! cargo run --example azure_ad
//!
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/me
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/orders
//! curl -X POST -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/admin
//! ```
//!
//! - `AZURE_TENANT_ID`: the tenant's GUID; or leave it unset and set
//!   `AZURE_MULTI_TENANT=1` for a multi-tenant API, optionally with
//!   `AZURE_ALLOWED_TENANTS=<tid>,<tid>`.
//! - `AZURE_CLIENT_ID`: the API's client id (the `aud` of v2 tokens).
//! - `AZURE_APP_ID_URI`: the App ID URI (the `aud` of v1 tokens), e.g.
//!   `api://orders`; default `api://<AZURE_CLIENT_ID>` when v1 is accepted.
//! - `AZURE_TOKEN_VERSION`: `1`, `2` or `both` (default `2`): what the API's
//!   manifest says in `accessTokenAcceptedVersion` (null means 1).
//! - `AZURE_CLAIMS_MAPPING=1`: the app has a claims-mapping policy, so its
//!   keys are fetched with `?appid=<AZURE_CLIENT_ID>`.
//! - `AZURE_INSTANCE`: another cloud's sign-in host (default
//!   `https://login.microsoftonline.com`).
//! - `LISTEN`: address to bind (default `127.0.0.1:3000`).
//!
//! Routes: `GET /me` (any valid token), `GET /orders` (delegated scope
//! `Orders.Read`), `POST /admin` (app role `Orders.Admin`).

use std::process::ExitCode;

use axum::routing::{get, post};
use axum::{Json, Router};
use oidc_bearer::{AzureClaims, Claims, EntraId, EntraTokenVersion, Require, Validator};
use serde::Serialize;

const REALM: &str = "orders";

/// What `/me` shows of the caller.
#[derive(Serialize)]
struct Me {
    oid: Option<String>,
    tid: Option<String>,
    name: Option<String>,
    user: Option<String>,
    client_id: Option<String>,
    app_only: bool,
    scopes: Vec<String>,
    roles: Vec<String>,
}

async fn me(claims: Claims<AzureClaims>) -> Json<Me> {
    Json(Me {
        oid: claims.oid.clone(),
        tid: claims.tid.clone(),
        name: claims.name.clone(),
        user: claims.user_name().map(str::to_owned),
        client_id: claims.client_id().map(str::to_owned),
        app_only: claims.is_app_only(),
        scopes: claims.scp.iter().cloned().collect(),
        roles: claims.roles.clone(),
    })
}

async fn orders(claims: Claims<AzureClaims>) -> Json<serde_json::Value> {
    // Key per-user data by tid + oid: names and e-mail addresses change.
    Json(serde_json::json!({ "owner": [&claims.tid, &claims.oid], "orders": [] }))
}

async fn admin(claims: Claims<AzureClaims>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "done_by": claims.client_id() }))
}

/// The configuration read from the environment.
struct Config {
    entra: EntraId,
    tenants: String,
    audiences: Vec<String>,
    listen: String,
}

/// A setting that is missing or wrong: the message says what to set.
struct Usage(String);

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn config() -> Result<Config, Usage> {
    let multi = var("AZURE_MULTI_TENANT").is_some_and(|v| v == "1");
    let mut entra = match (var("AZURE_TENANT_ID"), multi) {
        (Some(_), true) => {
            return Err(Usage(
                "set either AZURE_TENANT_ID or AZURE_MULTI_TENANT=1, not both".into(),
            ));
        }
        (Some(tenant), false) => EntraId::tenant(tenant.trim()),
        (None, true) => EntraId::multi_tenant(),
        (None, false) => {
            return Err(Usage(
                "set AZURE_TENANT_ID to the Directory (tenant) ID, a GUID \
                 (or AZURE_MULTI_TENANT=1 for a multi-tenant API)"
                    .into(),
            ));
        }
    };
    let allowed: Vec<String> = var("AZURE_ALLOWED_TENANTS")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let tenants = match (multi, allowed.is_empty()) {
        (false, true) => var("AZURE_TENANT_ID").unwrap_or_default(),
        (false, false) => {
            return Err(Usage(
                "AZURE_ALLOWED_TENANTS needs AZURE_MULTI_TENANT=1 (and no AZURE_TENANT_ID)".into(),
            ));
        }
        (true, true) => "any tenant".into(),
        (true, false) => {
            entra = entra.allowed_tenants(allowed.iter().cloned());
            allowed.join(", ")
        }
    };

    let client_id = var("AZURE_CLIENT_ID")
        .ok_or_else(|| Usage("set AZURE_CLIENT_ID to the API's Application (client) ID".into()))?;
    let version = match var("AZURE_TOKEN_VERSION").as_deref() {
        None | Some("2") => EntraTokenVersion::V2,
        Some("1") => EntraTokenVersion::V1,
        Some("both") => EntraTokenVersion::V1AndV2,
        Some(other) => {
            return Err(Usage(format!(
                "AZURE_TOKEN_VERSION is {other:?}: set it to 1, 2 or both"
            )));
        }
    };
    let mut audiences = vec![client_id.clone()];
    match var("AZURE_APP_ID_URI") {
        Some(uri) => audiences.push(uri),
        // Entra's default App ID URI, which v1 tokens carry as `aud`.
        None if version != EntraTokenVersion::V2 => audiences.push(format!("api://{client_id}")),
        None => {}
    }
    for audience in &audiences {
        entra = entra.audience(audience);
    }
    entra = entra.token_version(version);
    if var("AZURE_CLAIMS_MAPPING").is_some_and(|v| v == "1") {
        entra = entra.claims_mapping_app_id(&client_id);
    }
    if let Some(instance) = var("AZURE_INSTANCE") {
        entra = entra.instance(instance);
    }
    Ok(Config {
        entra,
        tenants,
        audiences,
        listen: var("LISTEN").unwrap_or_else(|| "127.0.0.1:3000".into()),
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match config() {
        Ok(config) => config,
        Err(Usage(message)) => {
            eprintln!("azure_ad: {message} (see the top of examples/azure_ad.rs)");
            return ExitCode::from(2);
        }
    };
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("azure_ad: {error}");
            // A setting `build()` refused is a usage error like a missing
            // variable; anything else (provider unreachable, port taken) is not.
            match error.downcast_ref::<oidc_bearer::Error>() {
                Some(oidc_bearer::Error::Config(_)) => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

async fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let validator = Validator::builder().trust(config.entra).build().await?;
    let read = Require::scope("Orders.Read");
    let admin_role = Require::role("Orders.Admin");
    let app = Router::new()
        .route("/me", get(me))
        .route(
            "/orders",
            get(orders).route_layer(read.layer::<AzureClaims>().realm(REALM)),
        )
        .route(
            "/admin",
            post(admin).route_layer(admin_role.layer::<AzureClaims>().realm(REALM)),
        )
        .route_layer(validator.layer::<AzureClaims>().realm(REALM));

    let listener = tokio::net::TcpListener::bind(&config.listen).await?;
    let addr = listener.local_addr()?;
    println!("trusting Microsoft Entra ID tokens:");
    for issuer in validator.issuers() {
        println!("  issuer    {issuer}");
    }
    println!("  audience  {}", config.audiences.join(", "));
    println!("  tenants   {}", config.tenants);
    println!("  keys      {:?}", validator.health().kids);
    println!("listening on http://{addr}");
    println!("  curl -H \"Authorization: Bearer $TOKEN\" http://{addr}/me");
    println!(
        "  curl -H \"Authorization: Bearer $TOKEN\" http://{addr}/orders        # scope Orders.Read"
    );
    println!(
        "  curl -X POST -H \"Authorization: Bearer $TOKEN\" http://{addr}/admin # app role Orders.Admin"
    );
    axum::serve(listener, app).await?;
    Ok(())
}
