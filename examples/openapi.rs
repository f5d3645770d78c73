//! An OpenAPI document (utoipa) that declares the layer's security: an
//! `openIdConnect` security scheme pointing at the provider's discovery
//! document, and per route the scopes its `Require` asks for — from the
//! same constants, so the document and the checks cannot drift apart.
//!
//! Runs on its own with an embedded provider on 127.0.0.1: prints the
//! document, then shows that the route refuses a token without the scope
//! the document names.
//!
//! ```text
//! cargo run --example openapi
//! ```

use axum::handler::Handler as _;
use axum::{Router, routing::get};
use oidc_bearer::{Require, StandardClaims, Validator};
use oidc_bearer_testkit::TestIssuer;
use utoipa::openapi::security::{OpenIdConnect, SecurityRequirement, SecurityScheme};
use utoipa::{Modify, OpenApi};

const AUDIENCE: &str = "orders-api";
/// The security scheme's name in the document.
const SCHEME: &str = "oidc";
const ORDERS_READ: &str = "orders.read";
const ORDERS_WRITE: &str = "orders.write";

/// Lists the orders.
#[utoipa::path(
    get,
    path = "/orders",
    responses(
        (status = 200, description = "The orders"),
        (status = 401, description = "No token, or a token that is not valid (RFC 6750)"),
        (status = 403, description = "A valid token without the scope orders.read"),
    )
)]
async fn orders() -> &'static str {
    "[]"
}

/// Places an order.
#[utoipa::path(
    post,
    path = "/orders",
    responses(
        (status = 200, description = "Placed"),
        (status = 401, description = "No token, or a token that is not valid (RFC 6750)"),
        (status = 403, description = "A valid token without the scope orders.write"),
    )
)]
async fn place_order() -> &'static str {
    "placed"
}

#[derive(OpenApi)]
#[openapi(paths(orders, place_order))]
struct ApiDoc;

/// Which scope each operation requires: the one table both the router's
/// `Require`s and the document are built from.
const SCOPES: [(&str, &str, &str); 2] = [
    ("/orders", "get", ORDERS_READ),
    ("/orders", "post", ORDERS_WRITE),
];

fn required_scope(path: &str, method: &str) -> &'static str {
    SCOPES
        .iter()
        .find(|(p, m, _)| *p == path && *m == method)
        .map(|(_, _, scope)| *scope)
        .expect("every protected route is in SCOPES")
}

/// The security scheme (where clients find the provider) and each
/// operation's required scope.
struct OpenIdConnectScheme {
    discovery_url: String,
}

impl Modify for OpenIdConnectScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SCHEME,
            SecurityScheme::OpenIdConnect(OpenIdConnect::new(self.discovery_url.clone())),
        );
        for (path, method, scope) in SCOPES {
            let Some(item) = openapi.paths.paths.get_mut(path) else {
                continue;
            };
            let operation = match method {
                "get" => item.get.as_mut(),
                "post" => item.post.as_mut(),
                _ => None,
            };
            if let Some(operation) = operation {
                operation.security = Some(vec![SecurityRequirement::new(SCHEME, [scope])]);
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = TestIssuer::start().await;
    let validator = Validator::discover(&issuer.issuer)
        .audience(AUDIENCE)
        .build()
        .await?;

    let mut doc = ApiDoc::openapi();
    OpenIdConnectScheme {
        discovery_url: issuer.discovery_url(),
    }
    .modify(&mut doc);
    let json = doc.to_pretty_json()?;
    let served = json.clone();

    let app = Router::new()
        .route(
            "/orders",
            get(orders)
                .route_layer(
                    Require::scope(required_scope("/orders", "get")).layer::<StandardClaims>(),
                )
                .post(place_order.layer(
                    Require::scope(required_scope("/orders", "post")).layer::<StandardClaims>(),
                )),
        )
        .route_layer(validator.layer::<StandardClaims>())
        .route("/openapi.json", get(move || async move { served }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = reqwest::Client::new();
    let document = client.get(format!("{base}/openapi.json")).send().await?;
    println!(
        "GET /openapi.json -> {}\n{}\n",
        document.status(),
        document.text().await?
    );
    for scope in [ORDERS_READ, "profile"] {
        let token = issuer
            .builder(AUDIENCE)
            .claim("scope", scope)
            .sign(&issuer.key);
        let answer = client
            .get(format!("{base}/orders"))
            .bearer_auth(token)
            .send()
            .await?;
        let challenge = answer
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        println!(
            "GET /orders, scope {scope:?} -> {} {challenge}",
            answer.status()
        );
    }
    Ok(())
}
