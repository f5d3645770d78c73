//! The bearer layer on a plain hyper 1 server, no framework: a
//! `service_fn` wrapped with `tower::ServiceBuilder` and the crate's
//! layer, served by hyper's http1 connection through hyper-util's
//! `TowerToHyperService`. The handler reads the verified claims from the
//! request's extensions.
//!
//! Runs on its own with an embedded provider on 127.0.0.1, sends a request
//! without a token and one with, prints the answers, and stops:
//!
//! ```text
//! cargo run --example hyper
//! ```

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use oidc_bearer::{Claims, StandardClaims, Validator};
use oidc_bearer_testkit::TestIssuer;
use tower::ServiceBuilder;
use tower::service_fn;

const AUDIENCE: &str = "orders-api";

/// Runs only for requests the layer let through: the claims are there.
async fn me(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(claims) = Claims::<StandardClaims>::from_extensions(request.extensions()) else {
        // Only reachable if the layer were removed: refuse, never serve.
        let mut response = Response::new(Full::default());
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(response);
    };
    let body = format!("hello {}", claims.sub.as_deref().unwrap_or("(no sub)"));
    Ok(Response::new(Full::new(Bytes::from(body))))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = TestIssuer::start().await;
    let validator = Validator::discover(&issuer.issuer)
        .audience(AUDIENCE)
        .build()
        .await?;

    // The service: a function behind the layer. Rejections get the
    // layer's empty body (`Full::default()`) with the status and the
    // `WWW-Authenticate` challenge.
    let service = ServiceBuilder::new()
        .layer(validator.layer::<StandardClaims>())
        .service(service_fn(me));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                // Out of file descriptors, say: wait a little, not spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let connection = http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service);
                if let Err(error) = connection.await {
                    eprintln!("connection error: {error}");
                }
            });
        }
    });
    let url = format!("http://{address}/me");
    println!("api:      GET {url} (hyper, no axum)");

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let valid = issuer
        .builder(AUDIENCE)
        .claim("sub", "alice")
        .sign(&issuer.key);
    println!("\n{:<12} {:>6}  answer", "sent", "status");
    for (what, token) in [("no token", None), ("valid token", Some(&valid))] {
        let mut request = client.get(&url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let answer = match response.headers().get("www-authenticate") {
            Some(challenge) => format!("WWW-Authenticate: {}", challenge.to_str()?),
            None => response.text().await?,
        };
        println!("{what:<12} {status:>6}  {answer}");
    }
    Ok(())
}
