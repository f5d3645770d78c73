//! The transport policy for discovery and JWKS fetches: redirects stay on
//! the host they started on, plain http only on loopback (or when allowed
//! by name), and the rules hold for URLs found through discovery too.
//! Every server here is a `MockProvider` on 127.0.0.1.

use oidc_bearer::{Error, StandardClaims, Validator};
use oidc_bearer_testkit::{KeyKind, MockProvider, Reply, TestKey, TokenBuilder};

const AUDIENCE: &str = "transport-api";

fn redirect(to: &str) -> Reply {
    Reply::status(302).with_header("location", to)
}

/// A provider serving `key`'s JWKS at `/keys`.
async fn keys_at(key: &TestKey) -> MockProvider {
    let provider = MockProvider::start().await;
    provider.set("/keys", Reply::jwks(&[key]));
    provider
}

fn token(issuer: &str, key: &TestKey) -> String {
    TokenBuilder::new()
        .claims(oidc_bearer_testkit::standard_claims(issuer, AUDIENCE))
        .sign(key)
}

async fn build_with_jwks_url(issuer: &str, url: &str) -> Result<Validator, Error> {
    Validator::builder()
        .issuer(issuer)
        .audience(AUDIENCE)
        .jwks_url(url)
        .build()
        .await
}

#[tokio::test]
async fn a_redirect_on_the_same_host_is_followed() {
    let key = TestKey::generate(KeyKind::EcP256, "k1");
    let provider = keys_at(&key).await;
    provider.set("/old-keys", redirect(&provider.url("/keys")));

    let validator = build_with_jwks_url("https://issuer.test", &provider.url("/old-keys"))
        .await
        .expect("a same-host redirect is followed");

    assert_eq!(provider.hits("/keys"), 1);
    let claims = validator
        .verify::<StandardClaims>(&token("https://issuer.test", &key))
        .await
        .unwrap();
    assert_eq!(claims.sub.as_deref(), Some("user-1"));
}

#[tokio::test]
async fn a_redirect_to_another_port_is_refused() {
    let key = TestKey::generate(KeyKind::EcP256, "k1");
    let attacker = keys_at(&key).await;
    let provider = MockProvider::start().await;
    provider.set("/keys", redirect(&attacker.url("/keys")));

    let error = build_with_jwks_url("https://issuer.test", &provider.url("/keys"))
        .await
        .expect_err("a redirect to another origin must not supply keys");

    assert!(error.to_string().contains("redirect"), "{error}");
    assert_eq!(attacker.total_hits(), 0, "the other origin was contacted");
}

#[tokio::test]
async fn a_redirect_to_another_host_name_is_refused() {
    let key = TestKey::generate(KeyKind::EcP256, "k1");
    let provider = keys_at(&key).await;
    // Same socket, other host name: still another host.
    let elsewhere = format!("http://localhost:{}/keys", provider.addr().port());
    provider.set("/moved", redirect(&elsewhere));

    let error = build_with_jwks_url("https://issuer.test", &provider.url("/moved"))
        .await
        .expect_err("a redirect to another host must not be followed");

    assert!(error.to_string().contains("redirect"), "{error}");
    assert_eq!(provider.hits("/keys"), 0);
}

#[tokio::test]
async fn a_jwks_uri_off_loopback_over_http_found_by_discovery_is_refused() {
    let provider = MockProvider::start().await;
    let issuer = provider.url("/realms/demo");
    provider.set(
        "/realms/demo/.well-known/openid-configuration",
        Reply::json(&serde_json::json!({
            "issuer": issuer,
            "jwks_uri": "http://keys.example.com/certs",
        })),
    );

    let error = Validator::discover(&issuer)
        .audience(AUDIENCE)
        .build()
        .await
        .expect_err("discovery must not lead to plain http off loopback");

    assert!(error.to_string().contains("allow_insecure_http"), "{error}");
}

#[tokio::test]
async fn a_discovery_url_off_loopback_over_http_fails_at_build_without_fetching() {
    let error = Validator::discover("http://keycloak:8080/realms/demo")
        .audience(AUDIENCE)
        .build()
        .await
        .expect_err("plain http off loopback needs allow_insecure_http()");

    assert!(matches!(error, Error::Config(_)), "{error:?}");
    assert!(error.to_string().contains("allow_insecure_http"), "{error}");
}

// ------------------------------------------- the application's own client

/// A validator fetching `url` with `client` instead of the crate's.
async fn build_with_client(url: &str, client: reqwest::Client) -> Result<Validator, Error> {
    Validator::builder()
        .issuer("https://issuer.test")
        .audience(AUDIENCE)
        .jwks_url(url)
        .http_client(client)
        .http_timeout(std::time::Duration::from_millis(500))
        .build()
        .await
}

#[tokio::test]
async fn an_application_client_fetches_the_keys_and_sends_its_own_headers() {
    let key = TestKey::generate(KeyKind::EcP256, "k1");
    let provider = keys_at(&key).await;
    let client = oidc_bearer::reqwest::Client::builder()
        .user_agent("corp-proxy-client/1.0")
        .build()
        .unwrap();

    let validator = build_with_client(&provider.url("/keys"), client)
        .await
        .expect("keys fetched with the application's client");

    let headers = provider.last_request_headers("/keys").unwrap();
    assert_eq!(headers["user-agent"], "corp-proxy-client/1.0");
    let claims = validator
        .verify::<StandardClaims>(&token("https://issuer.test", &key))
        .await
        .unwrap();
    assert_eq!(claims.sub.as_deref(), Some("user-1"));
}

#[tokio::test]
async fn an_application_client_that_follows_any_redirect_still_gets_no_foreign_keys() {
    let key = TestKey::generate(KeyKind::EcP256, "k1");
    let attacker = keys_at(&key).await;
    let provider = MockProvider::start().await;
    provider.set("/keys", redirect(&attacker.url("/keys")));
    // reqwest's default policy follows redirects to any host.
    let client = oidc_bearer::reqwest::Client::new();

    let error = build_with_client(&provider.url("/keys"), client)
        .await
        .expect_err("keys from another origin must be refused");

    assert!(error.to_string().contains("redirect"), "{error}");
}

#[tokio::test]
async fn an_application_client_without_a_timeout_still_gets_the_crates_timeout() {
    let key = TestKey::generate(KeyKind::EcP256, "k1");
    let provider = MockProvider::start().await;
    provider.set(
        "/keys",
        Reply::jwks(&[&key]).with_delay(std::time::Duration::from_secs(30)),
    );
    let client = oidc_bearer::reqwest::Client::new(); // no timeout of its own

    let started = std::time::Instant::now();
    let error = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        build_with_client(&provider.url("/keys"), client),
    )
    .await
    .expect("the crate's 500 ms timeout applies, not the client's none")
    .expect_err("a hanging JWKS endpoint fails the build");

    assert!(error.to_string().contains("timed out"), "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
