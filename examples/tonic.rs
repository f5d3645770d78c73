//! A gRPC service behind the validator, with a tonic interceptor: the
//! standard gRPC health service (`tonic-health`, generated code shipped in
//! the crate, so no protoc and no build.rs) answers only callers with a
//! valid token that grants `health.read`.
//!
//! An interceptor is synchronous, so it calls `Validator::try_verify`,
//! which checks against the keys held right now and never waits for a
//! fetch (an unknown `kid` is refused at once and asks the background task
//! for a refetch, so the next call with it passes).
//!
//! Runs on its own with an embedded provider on 127.0.0.1, calls the
//! service four times, prints what it answered, and stops:
//!
//! ```text
//! cargo run --example tonic
//! ```

use std::time::Duration;

use oidc_bearer::{Error, ErrorKind, Require, StandardClaims, Validator};
use oidc_bearer_testkit::{TestIssuer, now};
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Server, server::TcpIncoming};
use tonic::{Request, Status};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

const AUDIENCE: &str = "health-api";

/// Verifies the `authorization` metadata of a call and checks its scope;
/// the claims go into the request's extensions for the service.
fn authenticate(
    validator: &Validator,
    required: &Require,
    mut request: Request<()>,
) -> Result<Request<()>, Status> {
    let token = bearer_token(&request).map_err(|e| to_status(&e))?;
    let claims = validator
        .try_verify::<StandardClaims>(token)
        .map_err(|e| to_status(&e))?;
    required.check(&claims).map_err(|e| to_status(&e))?;
    request.extensions_mut().insert(claims);
    Ok(request)
}

/// The token of `authorization: Bearer <token>` (scheme case-insensitive,
/// RFC 6750 §2.1); any other scheme counts as no bearer token.
fn bearer_token<T>(request: &Request<T>) -> Result<&str, Error> {
    let Some(value) = request.metadata().get("authorization") else {
        return Err(Error::MissingToken);
    };
    let value = value.to_str().map_err(|_| {
        Error::InvalidRequest("malformed Authorization header: authorization is not text")
    })?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(token.trim()),
        _ => Err(Error::MissingToken),
    }
}

/// A refusal as a gRPC status: the HTTP status of RFC 6750 has no place
/// in gRPC, so the error's kind picks the code, and its description (which
/// names the failed rule, never the token or key material) is the message.
fn to_status(error: &Error) -> Status {
    let description = error.description();
    match error.kind() {
        ErrorKind::InsufficientScope => Status::permission_denied(description),
        // The token may well be fine: the client may retry later.
        ErrorKind::Unavailable => Status::unavailable(description),
        ErrorKind::Config => Status::internal(description),
        // No token, a malformed request, a refused token, a weak sign-in,
        // and any kind added later: not authenticated (fail closed).
        _ => Status::unauthenticated(description),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The provider, and the validator found through its discovery.
    let issuer = TestIssuer::start().await;
    let validator = Validator::discover(&issuer.issuer)
        .audience(AUDIENCE)
        .build()
        .await?;

    // The gRPC server: the health service behind the interceptor.
    let (_reporter, health) = tonic_health::server::health_reporter();
    let required = Require::scope("health.read");
    let guarded = InterceptedService::new(health, move |request: Request<()>| {
        authenticate(&validator, &required, request)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::builder()
            .timeout(Duration::from_secs(10))
            .add_service(guarded)
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                let _ = stopped.await;
            }),
    );
    println!("grpc:     grpc.health.v1.Health/Check at http://{address}");

    // The client.
    let channel = Channel::from_shared(format!("http://{address}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect()
        .await?;
    let mut client = HealthClient::new(channel);
    let valid = issuer
        .builder(AUDIENCE)
        .claim("scope", "health.read")
        .sign(&issuer.key);
    let expired = issuer
        .builder(AUDIENCE)
        .claim("scope", "health.read")
        .claim("iat", now() - 7200)
        .claim("exp", now() - 3600)
        .sign(&issuer.key);
    let other_scope = issuer
        .builder(AUDIENCE)
        .claim("scope", "orders.read")
        .sign(&issuer.key);
    let cases: [(&str, Option<&str>); 4] = [
        ("no token", None),
        ("expired token", Some(&expired)),
        ("token without health.read", Some(&other_scope)),
        ("valid token", Some(&valid)),
    ];

    println!("\n{:<26} answer", "sent");
    for (what, token) in cases {
        let mut request = Request::new(HealthCheckRequest {
            service: String::new(),
        });
        if let Some(token) = token {
            let value: MetadataValue<_> = format!("Bearer {token}").parse()?;
            request.metadata_mut().insert("authorization", value);
        }
        let answer = match client.check(request).await {
            Ok(response) => {
                let status = ServingStatus::try_from(response.into_inner().status)
                    .map_or("unknown serving status", |s| s.as_str_name());
                format!("OK {status}")
            }
            Err(status) => format!("{:?} \"{}\"", status.code(), status.message()),
        };
        println!("{what:<26} {answer}");
    }

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), server).await???;
    Ok(())
}
