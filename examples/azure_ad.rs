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
//!   `api://orders`; default `api://<AZURE_CLIENT_ID>`.
//! - `AZURE_TOKEN_VERSION`: `1`, `2` or `both` (default `2`): what the API's
//!   manifest says in `accessTokenAcceptedVersion` (null means 1).
//! - `AZURE_CLAIMS_MAPPING=1`: the app has a claims-mapping policy, so its
//!   keys are fetched with `?appid=<AZURE_CLIENT_ID>`.
//! - `AZURE_INSTANCE`: another cloud's sign-in host (default
//!   `https://login.microsoftonline.com`; US Government
//!   `https://login.microsoftonline.us`, China `https://login.chinacloudapi.cn`).
//! - `AZURE_V1_ISSUER`: for v1 tokens from an instance none of those, the
//!   `iss` of v1 tokens without `/<tid>/`, e.g. `https://sts.windows.net`.
//! - `LISTEN`: address to bind (default `127.0.0.1:3000`).
//!
//! Routes: `GET /me` (any valid token), `GET /orders` (delegated scope
//! `Orders.Read`), `POST /admin` (app role `Orders.Admin`).

use std::process::ExitCode;

use axum::routing::{get, post};
use axum::{Json, Router};
use oidc_bearer::providers::{EntraClaims, EntraTokenVersion};
use oidc_bearer::{Claims, EntraId, Require, Validator};
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

async fn me(claims: Claims<EntraClaims>) -> Json<Me> {
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

async fn orders(claims: Claims<EntraClaims>) -> Json<serde_json::Value> {
    // Key per-user data by tid + oid: names and e-mail addresses change.
    Json(serde_json::json!({ "owner": [&claims.tid, &claims.oid], "orders": [] }))
}

async fn admin(claims: Claims<EntraClaims>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "done_by": claims.client_id() }))
}

/// Which tenants' tokens the API takes.
enum Tenancy {
    One(String),
    /// Multi-tenant, with the allow-list (empty: any tenant).
    Any(Vec<String>),
}

/// The configuration read from the environment.
struct Config {
    tenancy: Tenancy,
    client_id: String,
    app_id_uri: String,
    version: EntraTokenVersion,
    claims_mapping: bool,
    instance: Option<String>,
    v1_issuer: Option<String>,
    listen: String,
}

/// A setting that is missing or wrong: the message says what to set.
struct Usage(String);

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn config() -> Result<Config, Usage> {
    let multi = var("AZURE_MULTI_TENANT").is_some_and(|v| v == "1");
    let allowed: Vec<String> = var("AZURE_ALLOWED_TENANTS")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let tenancy = match (var("AZURE_TENANT_ID"), multi) {
        (Some(_), true) => {
            return Err(Usage(
                "set either AZURE_TENANT_ID or AZURE_MULTI_TENANT=1, not both".into(),
            ));
        }
        (Some(_), false) if !allowed.is_empty() => {
            return Err(Usage(
                "AZURE_ALLOWED_TENANTS needs AZURE_MULTI_TENANT=1 instead of AZURE_TENANT_ID"
                    .into(),
            ));
        }
        (Some(tenant), false) => Tenancy::One(tenant.trim().to_owned()),
        (None, true) => Tenancy::Any(allowed),
        (None, false) => {
            return Err(Usage(
                "set AZURE_TENANT_ID to the Directory (tenant) ID, a GUID \
                 (or AZURE_MULTI_TENANT=1 for a multi-tenant API)"
                    .into(),
            ));
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
    Ok(Config {
        tenancy,
        // Entra's default App ID URI; v1 tokens carry it as `aud`.
        app_id_uri: var("AZURE_APP_ID_URI").unwrap_or_else(|| format!("api://{client_id}")),
        client_id,
        version,
        claims_mapping: var("AZURE_CLAIMS_MAPPING").is_some_and(|v| v == "1"),
        instance: var("AZURE_INSTANCE"),
        v1_issuer: var("AZURE_V1_ISSUER"),
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
    let Config {
        tenancy,
        client_id,
        app_id_uri,
        version,
        ..
    } = config;
    let tenants = match &tenancy {
        Tenancy::One(tenant_id) => tenant_id.clone(),
        Tenancy::Any(allowed) if allowed.is_empty() => "any".into(),
        Tenancy::Any(allowed) => allowed.join(", "),
    };
    let mut entra = match tenancy {
        Tenancy::One(tenant_id) => EntraId::tenant(tenant_id),
        Tenancy::Any(allowed) if allowed.is_empty() => EntraId::multi_tenant(),
        Tenancy::Any(allowed) => EntraId::multi_tenant().allowed_tenants(allowed),
    };
    if config.claims_mapping {
        entra = entra.claims_mapping_app_id(&client_id);
    }
    if let Some(instance) = &config.instance {
        entra = entra.instance(instance);
    }
    if let Some(v1_issuer) = &config.v1_issuer {
        entra = entra.v1_issuer(v1_issuer);
    }

    let validator = Validator::builder()
        .trust(
            entra
                .audience(&client_id) // v2 tokens carry the client id
                .audience(&app_id_uri) // v1 tokens, the App ID URI
                .token_version(version),
        )
        .build()
        .await?;
    let read = Require::scope("Orders.Read");
    let admin_role = Require::role("Orders.Admin");
    let app = Router::new()
        .route("/me", get(me))
        .route(
            "/orders",
            get(orders).route_layer(read.layer::<EntraClaims>()),
        )
        .route(
            "/admin",
            post(admin).route_layer(admin_role.layer::<EntraClaims>()),
        )
        .route_layer(validator.layer::<EntraClaims>().realm(REALM));

    let listener = tokio::net::TcpListener::bind(&config.listen).await?;
    let addr = listener.local_addr()?;
    println!("trusting Microsoft Entra ID tokens:");
    for issuer in validator.issuers() {
        println!("  issuer    {issuer}");
    }
    println!("  audience  {client_id}, {app_id_uri}");
    println!("  tenants   {tenants}");
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
