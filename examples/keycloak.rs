//! An API protected for one Keycloak realm, configured by environment
//! variables.
//!
//! ```text
//! KEYCLOAK_URL=https://auth.example.com \
//! KEYCLOAK_REALM=shop \
//! API_AUDIENCE=orders-api \
//! cargo run --example keycloak
//!
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/me
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/orders
//! curl -X POST -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/admin
//! ```
//!
//! - `KEYCLOAK_URL`: Keycloak's public address, as in the tokens' `iss`
//!   (`https://auth.example.com`, or `https://auth.example.com/auth`
//!   before Keycloak 17).
//! - `KEYCLOAK_REALM`: the realm's name.
//! - `KEYCLOAK_INTERNAL_URL`: where this service reaches Keycloak, when
//!   not at its public address (e.g. `http://keycloak:8080`); keys are
//!   fetched there, tokens still checked against the public issuer. A
//!   plain-`http` address turns on `allow_insecure_http()`: only for a
//!   trusted network path such as a cluster's.
//! - `API_AUDIENCE`: the API's client id, which an Audience mapper puts in
//!   `aud`; or, until there is one, `KEYCLOAK_AZP_CLIENT`: the client
//!   (`azp`) whose tokens are accepted whatever their `aud`.
//! - `LISTEN`: address to bind (default `127.0.0.1:3000`).
//!
//! Routes: `GET /me` (any valid token), `GET /orders` (realm role
//! `orders-reader`), `POST /admin` (client role `admin` of `orders-api`).

use std::collections::BTreeMap;
use std::process::ExitCode;

use axum::routing::{get, post};
use axum::{Json, Router};
use oidc_bearer::providers::KeycloakClaims;
use oidc_bearer::{Claims, Keycloak, Require, Validator};
use serde::Serialize;

const REALM: &str = "orders";
/// The client whose roles `/admin` asks for.
const API_CLIENT: &str = "orders-api";

/// What `/me` shows of the caller: realm roles and client roles apart,
/// as Keycloak issues them.
#[derive(Serialize)]
struct Me {
    sub: Option<String>,
    preferred_username: Option<String>,
    azp: Option<String>,
    scopes: Vec<String>,
    realm_roles: Vec<String>,
    client_roles: BTreeMap<String, Vec<String>>,
}

async fn me(claims: Claims<KeycloakClaims>) -> Json<Me> {
    Json(Me {
        sub: claims.sub.clone(),
        preferred_username: claims.preferred_username.clone(),
        azp: claims.azp.clone(),
        scopes: claims.scope.iter().cloned().collect(),
        realm_roles: claims.realm_roles().map(str::to_owned).collect(),
        client_roles: claims
            .resource_access
            .iter()
            .map(|(client, access)| (client.clone(), access.roles.clone()))
            .collect(),
    })
}

async fn orders(claims: Claims<KeycloakClaims>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "owner": claims.sub, "orders": [] }))
}

async fn admin(claims: Claims<KeycloakClaims>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "done_by": claims.preferred_username }))
}

/// The configuration read from the environment.
struct Config {
    url: String,
    realm: String,
    internal_url: Option<String>,
    audience: Option<String>,
    azp_client: Option<String>,
    listen: String,
}

/// A setting that is missing or wrong: the message says what to set.
struct Usage(String);

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn config() -> Result<Config, Usage> {
    let url = var("KEYCLOAK_URL").ok_or_else(|| {
        Usage(
            "set KEYCLOAK_URL to Keycloak's public address as in the tokens' iss, e.g. \
             https://auth.example.com (https://auth.example.com/auth before Keycloak 17)"
                .into(),
        )
    })?;
    let realm = var("KEYCLOAK_REALM")
        .ok_or_else(|| Usage("set KEYCLOAK_REALM to the realm's name".into()))?;
    let audience = var("API_AUDIENCE");
    let azp_client = var("KEYCLOAK_AZP_CLIENT");
    if audience.is_none() && azp_client.is_none() {
        return Err(Usage(
            "set API_AUDIENCE to the API's client id (put in aud by an Audience mapper), \
             or KEYCLOAK_AZP_CLIENT to the client whose tokens to accept without one"
                .into(),
        ));
    }
    Ok(Config {
        url,
        realm,
        internal_url: var("KEYCLOAK_INTERNAL_URL"),
        audience,
        azp_client,
        listen: var("LISTEN").unwrap_or_else(|| "127.0.0.1:3000".into()),
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match config() {
        Ok(config) => config,
        Err(Usage(message)) => {
            eprintln!("keycloak: {message} (see the top of examples/keycloak.rs)");
            return ExitCode::from(2);
        }
    };
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("keycloak: {error}");
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
        url,
        realm,
        internal_url,
        audience,
        azp_client,
        listen,
    } = config;

    let mut keycloak = Keycloak::realm(&url, &realm);
    if let Some(internal) = &internal_url {
        keycloak = keycloak.internal_url(internal); // keys from here; tokens still name `url`
    }
    if let Some(audience) = &audience {
        keycloak = keycloak.audience(audience); // put in `aud` by an Audience mapper
    }
    if let Some(client) = &azp_client {
        keycloak = keycloak.allow_azp_as_audience(client); // until there is such a mapper
    }
    let mut builder = Validator::builder().trust(keycloak);
    let plain_http = internal_url
        .as_deref()
        .is_some_and(|u| u.starts_with("http://"));
    if plain_http {
        builder = builder.allow_insecure_http(); // a plain-http address inside the cluster
    }
    let validator = builder.build().await?;
    let reader = Require::realm_role("orders-reader");
    let admin_role = Require::client_role(API_CLIENT, "admin");
    let app = Router::new()
        .route("/me", get(me))
        .route(
            "/orders",
            get(orders).route_layer(reader.layer::<KeycloakClaims>()),
        )
        .route(
            "/admin",
            post(admin).route_layer(admin_role.layer::<KeycloakClaims>()),
        )
        .route_layer(validator.layer::<KeycloakClaims>().realm(REALM));

    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let addr = listener.local_addr()?;
    println!("trusting Keycloak tokens:");
    for issuer in validator.issuers() {
        println!("  issuer    {issuer}");
    }
    let mut accepted = Vec::new();
    if let Some(audience) = &audience {
        accepted.push(format!("aud contains {audience}"));
    }
    if let Some(client) = &azp_client {
        accepted.push(format!("azp is {client} (with an aud)"));
    }
    println!("  accepted  {}", accepted.join(", or "));
    let keys_from = internal_url.as_deref().unwrap_or(&url);
    println!(
        "  keys      {:?} (from {keys_from})",
        validator.health().kids
    );
    println!("listening on http://{addr}");
    println!("  curl -H \"Authorization: Bearer $TOKEN\" http://{addr}/me");
    println!(
        "  curl -H \"Authorization: Bearer $TOKEN\" http://{addr}/orders        # realm role orders-reader"
    );
    println!(
        "  curl -X POST -H \"Authorization: Bearer $TOKEN\" http://{addr}/admin # client role admin of {API_CLIENT}"
    );
    axum::serve(listener, app).await?;
    Ok(())
}
