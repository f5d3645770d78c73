//! A single-page app that signs in at an OpenID provider with
//! Authorization Code + PKCE and calls an API protected by oidc-bearer on
//! another origin, with CORS in between.
//!
//! ```text
//! cargo run --example spa
//! # then open http://127.0.0.1:5173/ and sign in with any login and password
//! ```
//!
//! Starts, on 127.0.0.1:
//! - the OpenID provider of the end-to-end tests (`node e2e/provider.mjs`,
//!   needs Node.js >= 20.19; its packages are installed with `npm ci` the
//!   first time) on port 9000, with the page's origin registered as a
//!   redirect URI of its public client `spa`;
//! - the page server (`index.html`, `app.js`, `/config.json`) on port 5173;
//! - the API (`GET /me`, bearer token required, CORS for the page's origin
//!   only) on port 3000.
//!
//! Ports: `SPA_PORT`, `API_PORT`, `PROVIDER_PORT`. `SPA_ORIGIN` (default
//! `http://127.0.0.1:$SPA_PORT`) is the origin the browser uses for the
//! page, e.g. `http://localhost:5173` where a provider only accepts
//! `localhost` redirect URIs.
//!
//! Your own provider instead of the local one (see the README for Entra ID
//! and Keycloak):
//! - `OIDC_ISSUER`: the issuer; the page and the API read its discovery
//!   document;
//! - `SPA_CLIENT_ID`: the SPA's public client, with `$SPA_ORIGIN/` as a
//!   redirect URI;
//! - `SPA_SCOPE`: what the page asks for, including the API's scope;
//! - `API_AUDIENCE`: the `aud` of the API's access tokens;
//! - `SPA_RESOURCE` (optional): an RFC 8707 resource indicator to send.

mod provider;
mod servers;

use std::error::Error;

use oidc_bearer::Validator;
use tokio::net::TcpListener;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn required(name: &str) -> Result<String, String> {
    var(name).ok_or_else(|| {
        format!("OIDC_ISSUER is set, so {name} must be too (see the top of examples/spa/main.rs)")
    })
}

fn port(name: &str, default: u16) -> Result<u16, String> {
    var(name).map_or(Ok(default), |v| {
        v.parse()
            .map_err(|_| format!("{name}={v} is not a port number"))
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let spa_port = port("SPA_PORT", 5173)?;
    let api_port = port("API_PORT", 3000)?;
    let spa_origin = var("SPA_ORIGIN").unwrap_or_else(|| format!("http://127.0.0.1:{spa_port}"));
    let api_origin = format!("http://127.0.0.1:{api_port}");
    let pages = TcpListener::bind(("127.0.0.1", spa_port)).await?;
    let api = TcpListener::bind(("127.0.0.1", api_port)).await?;

    let (local, page) = match var("OIDC_ISSUER") {
        Some(issuer) => {
            let page = servers::PageConfig {
                issuer,
                client_id: required("SPA_CLIENT_ID")?,
                scope: required("SPA_SCOPE")?,
                resource: var("SPA_RESOURCE"),
                api: api_origin.clone(),
            };
            (None, page)
        }
        None => {
            let local = provider::start(port("PROVIDER_PORT", 9000)?, Some(&spa_origin)).await?;
            let page = servers::PageConfig {
                issuer: local.issuer.clone(),
                client_id: provider::CLIENT_ID.into(),
                scope: provider::SCOPE.into(),
                resource: Some(provider::API_RESOURCE.into()),
                api: api_origin.clone(),
            };
            (Some(local), page)
        }
    };
    let audience = match local {
        Some(_) => provider::API_RESOURCE.to_owned(),
        None => required("API_AUDIENCE")?,
    };
    let validator = match Validator::discover(&page.issuer)
        .audience(audience)
        .build()
        .await
    {
        Ok(validator) => validator,
        Err(error) => {
            if let Some(local) = &local {
                eprintln!("the provider's log:\n{}", local.log());
            }
            return Err(error.into());
        }
    };

    println!("provider  {}", page.issuer);
    println!("API       {api_origin}/me  (CORS for {spa_origin} only)");
    println!("page      {spa_origin}/");
    if local.is_some() {
        println!("\nopen {spa_origin}/ and sign in with any login and password; Ctrl-C stops");
    }
    let page_server = axum::serve(pages, servers::page(page));
    let api_server = axum::serve(api, servers::api(&validator, &spa_origin));
    tokio::select! {
        served = page_server => served?,
        served = api_server => served?,
        _ = tokio::signal::ctrl_c() => {}
    }
    // `local` (the provider process) is dropped, and killed, here.
    drop(local);
    Ok(())
}
