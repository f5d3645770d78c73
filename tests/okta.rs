//! The `Okta` preset against a loopback Okta custom authorization server:
//! its keys at `{issuer}/v1/keys`, its tokens shaped as Okta's reference
//! shows them (`scp` an array, `cid`, `uid`), every case through the layer
//! over real HTTP: what the client sees and what the handler receives.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use oidc_bearer::providers::OktaClaims;
use oidc_bearer::{Claims, Error, Okta, Require, Validator};
use oidc_bearer_testkit::{KeyKind, MockProvider, Reply, TestKey, TokenBuilder, now};
use serde_json::json;

mod common;
use common::{Api, assert_refused, bearer, bounded, fetch, serve};

const AUDIENCE: &str = "api://default";

/// A loopback Okta org whose `default` server publishes one key.
struct OktaServer {
    provider: MockProvider,
    key: TestKey,
}

impl OktaServer {
    async fn start() -> OktaServer {
        let provider = MockProvider::start().await;
        let key = TestKey::generate(KeyKind::Rsa2048, "okta-key-1");
        provider.set("/oauth2/default/v1/keys", Reply::jwks(&[&key]));
        OktaServer { provider, key }
    }

    fn issuer(&self) -> String {
        format!("{}/oauth2/default", self.provider.base_url())
    }

    /// An access token as Okta's `default` server issues it.
    fn token(&self, aud: &str) -> String {
        let now = now();
        TokenBuilder::new()
            .header("typ", "JWT")
            .claims(json!({
                "ver": 1, "jti": "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE",
                "iss": self.issuer(), "aud": aud, "iat": now, "exp": now + 3600,
                "cid": "0oa1a2b3c4d5e6f7g8h9", "uid": "00u1a2b3c4d5e6f7g8h9",
                "scp": ["openid", "orders.read"], "auth_time": now - 5,
                "sub": "alice@example.com"
            }))
            .sign(&self.key)
    }
}

/// `/orders` needs scope `orders.read`, `/admin` scope `orders.write`;
/// the handler answers from the `Claims<OktaClaims>` it gets.
async fn api(validator: &Validator) -> Api {
    let handler = get(|claims: Claims<OktaClaims>| async move {
        format!(
            "cid={} uid={}",
            claims.cid.as_deref().unwrap_or("-"),
            claims.uid.as_deref().unwrap_or("-")
        )
    });
    let app = Router::new()
        .route(
            "/orders",
            handler
                .clone()
                .route_layer(Require::scope("orders.read").layer::<OktaClaims>()),
        )
        .route(
            "/admin",
            handler.route_layer(Require::scope("orders.write").layer::<OktaClaims>()),
        )
        .route_layer(validator.layer::<OktaClaims>());
    serve(app).await
}

#[tokio::test]
async fn an_okta_token_is_verified_end_to_end_and_its_scp_array_grants_scopes() {
    bounded(async {
        let okta = OktaServer::start().await;
        let validator = Validator::builder()
            .trust(Okta::default_server(okta.provider.base_url()).audience(AUDIENCE))
            .build()
            .await
            .unwrap();
        let api = api(&validator).await;
        let token = okta.token(AUDIENCE);

        let orders = fetch(&api, "/orders", &[&bearer(&token)]).await;
        assert_eq!(orders.status, StatusCode::OK, "{orders:?}");
        assert_eq!(
            orders.body,
            "cid=0oa1a2b3c4d5e6f7g8h9 uid=00u1a2b3c4d5e6f7g8h9"
        );

        // A scope the array does not hold: 403, naming the scope.
        let admin = fetch(&api, "/admin", &[&bearer(&token)]).await;
        assert_eq!(admin.status, StatusCode::FORBIDDEN, "{admin:?}");
        let challenge = admin.challenge.as_deref().unwrap_or_default();
        assert!(
            challenge.contains(r#"error="insufficient_scope""#),
            "{challenge}"
        );
        assert!(challenge.contains("orders.write"), "{challenge}");
        assert_eq!(okta.provider.hits("/oauth2/default/v1/keys"), 1);
    })
    .await;
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    bounded(async {
        let okta = OktaServer::start().await;
        let validator = Validator::builder()
            .trust(Okta::default_server(okta.provider.base_url()).audience(AUDIENCE))
            .build()
            .await
            .unwrap();
        let api = api(&validator).await;
        let other = fetch(&api, "/orders", &[&bearer(&okta.token("api://billing"))]).await;
        assert_refused(&other, "invalid audience");
        // The org server's issuer in a token: not this server's.
        let org = TokenBuilder::new()
            .claims(json!({
                "iss": okta.provider.base_url(), "aud": AUDIENCE,
                "exp": now() + 3600, "scp": ["orders.read"]
            }))
            .sign(&okta.key);
        assert_refused(
            &fetch(&api, "/orders", &[&bearer(&org)]).await,
            "invalid issuer",
        );
    })
    .await;
}

#[tokio::test]
async fn the_org_authorization_server_is_refused_at_build() {
    bounded(async {
        let okta = OktaServer::start().await;
        let org = Validator::builder()
            .trust(Okta::issuer(okta.provider.base_url()).audience(AUDIENCE))
            .build()
            .await;
        match org {
            Err(Error::Config(message)) => {
                assert!(message.contains("org authorization server"), "{message}");
                assert!(message.contains("Okta::default_server"), "{message}");
            }
            other => panic!("expected a configuration error, got {other:?}"),
        }
        let no_server = Validator::builder()
            .trust(Okta::authorization_server("dev-1.okta.com", "").audience(AUDIENCE))
            .build()
            .await;
        assert!(matches!(no_server, Err(Error::Config(m)) if m.contains("after /oauth2/")));
        // Refused before any fetch.
        assert_eq!(okta.provider.total_hits(), 0);
    })
    .await;
}
