//! The `redis` feature's DPoP replay store against a real `redis-server`
//! started on 127.0.0.1 by the test: a proof accepted by one instance of
//! an API is refused by another that shares the Redis, and an outage fails
//! closed (503 with challenges, never a panic) or open as configured.
//!
//! Needs `redis-server` on PATH (Debian: `apt-get install redis-server`;
//! `.ci/run` installs it); without it these tests fail saying so.
#![cfg(feature = "redis")]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::{Router, routing::get};
use oidc_bearer::dpop::{RedisReplayStore, jwk_thumbprint};
use oidc_bearer::{Claims, Dpop, StandardClaims, Validator};
use oidc_bearer_testkit::{KeyKind, TestIssuer, TestKey, dpop_proof};
use reqwest::StatusCode;

mod common;
use common::{Api, serve, validator_for};

const AUDIENCE: &str = "orders-api";

/// A `redis-server` of this test, on `port`; killed when dropped.
struct Redis {
    port: u16,
    child: Child,
}

impl Redis {
    fn start_on(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start redis-server ({e}): these tests need it on PATH; \
                     on Debian or Ubuntu: apt-get install redis-server"
                )
            });
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not listen on 127.0.0.1:{port} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { port, child }
    }

    fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Redis::start_on(port)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn echo(claims: Claims<StandardClaims>) -> String {
    claims.sub.clone().unwrap_or_default()
}

async fn instance(validator: &Validator, dpop: Dpop) -> Api {
    serve(
        Router::new()
            .route("/me", get(echo))
            .route_layer(validator.layer::<StandardClaims>().dpop(dpop)),
    )
    .await
}

struct Client {
    key: TestKey,
    token: String,
}

impl Client {
    fn new(issuer: &TestIssuer) -> Client {
        let key = TestKey::generate(KeyKind::EcP256, "client");
        let jkt = jwk_thumbprint(&key.public_jwk().to_string()).unwrap();
        let token = issuer
            .builder(AUDIENCE)
            .claim("cnf", serde_json::json!({ "jkt": jkt }))
            .sign(&issuer.key);
        Client { key, token }
    }

    /// A proof for `GET {base}/me`; instances on other ports share an
    /// `external_url`, as behind one load balancer.
    fn proof(&self) -> String {
        dpop_proof(
            &self.key,
            "GET",
            "https://api.example.com/me",
            Some(&self.token),
        )
        .sign(&self.key)
    }

    async fn get(&self, api: &Api, proof: &str) -> (StatusCode, Vec<String>, Option<String>) {
        let response = api
            .client
            .get(format!("{}/me", api.base))
            .header("authorization", format!("DPoP {}", self.token))
            .header("dpop", proof)
            .send()
            .await
            .expect("the API answers");
        let challenges = response
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let retry = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status(), challenges, retry)
    }
}

fn settings(redis: &Redis) -> Dpop {
    Dpop::allowed()
        .external_url("https://api.example.com")
        .replay_store(RedisReplayStore::new(&redis.url()).unwrap())
}

#[tokio::test]
async fn a_proof_accepted_by_one_instance_is_refused_by_another() {
    let redis = Redis::start();
    let issuer = TestIssuer::start().await;
    // Two instances: their own validators (and caches), one Redis.
    let first = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let second = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let a = instance(&first, settings(&redis)).await;
    let b = instance(&second, settings(&redis)).await;
    let client = Client::new(&issuer);

    let proof = client.proof();
    assert_eq!(client.get(&a, &proof).await.0, StatusCode::OK);
    let (status, challenges, _) = client.get(&b, &proof).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenges
            .iter()
            .any(|c| c.contains("the proof was used before")),
        "{challenges:?}"
    );
    // And a fresh proof is fine on either.
    assert_eq!(client.get(&b, &client.proof()).await.0, StatusCode::OK);
    assert_eq!(client.get(&a, &client.proof()).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_redis_outage_fails_closed_or_open_as_configured_and_recovers() {
    let mut redis = Redis::start();
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let closed = instance(&validator, settings(&redis)).await;
    let open = instance(
        &validator,
        settings(&redis).allow_replays_when_store_fails(),
    )
    .await;
    let client = Client::new(&issuer);
    assert_eq!(client.get(&closed, &client.proof()).await.0, StatusCode::OK);

    redis.stop();
    for _ in 0..3 {
        let (status, challenges, retry) = client.get(&closed, &client.proof()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry.as_deref(), Some("1"));
        assert_eq!(challenges.len(), 2, "{challenges:?}");
        assert!(challenges[1].starts_with("DPoP algs="), "{challenges:?}");
    }
    let proof = client.proof();
    assert_eq!(client.get(&open, &proof).await.0, StatusCode::OK);
    // Fail open means exactly that: the replay goes unnoticed.
    assert_eq!(client.get(&open, &proof).await.0, StatusCode::OK);

    // Redis back on the same port: the store reconnects by itself.
    let _redis = Redis::start_on(redis.port);
    let started = Instant::now();
    let proof = loop {
        let proof = client.proof();
        if client.get(&closed, &proof).await.0 == StatusCode::OK {
            break proof;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no reconnection"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        client.get(&closed, &proof).await.0,
        StatusCode::UNAUTHORIZED
    );
}
