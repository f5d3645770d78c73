//! RFC 9728 over HTTP on 127.0.0.1: the Protected Resource Metadata
//! document, the `resource_metadata` parameter of every challenge, and the
//! discovery walk an MCP client does from a bare 401 to the authorization
//! server's discovery document.

use axum::{Router, routing::get};
use oidc_bearer::rejection::ProblemJson;
use oidc_bearer::{Issuer, Require, StandardClaims, StepUp, TokenSource, Validator};
use oidc_bearer_testkit::{TestIssuer, now};
use serde_json::{Value, json};

mod common;
use common::{Api, bearer, fetch, get_json};

/// A listener bound first, so the resource URL can name its port.
async fn bind() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (listener, base)
}

fn start(listener: tokio::net::TcpListener, app: Router) -> Api {
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Api::from_parts(base, server)
}

async fn validator(issuer: &TestIssuer, resource: &str) -> Validator {
    Validator::builder()
        .issuer(&issuer.issuer)
        .audience(resource)
        .jwks_url(&issuer.jwks_url)
        .resource(resource)
        .build()
        .await
        .unwrap()
}

/// `/mcp` behind the layer (plus a scope-protected and a step-up route),
/// and the metadata document beside it.
async fn mcp_api(issuer: &TestIssuer) -> (Api, String) {
    let (listener, base) = bind().await;
    let resource = format!("{base}/mcp");
    let validator = validator(issuer, &resource).await;
    let layer = validator.layer::<StandardClaims>();
    let metadata = layer
        .resource_metadata()
        .scopes_supported(["mcp:tools", "mcp:admin"])
        .resource_name("Test MCP server")
        .resource_documentation(format!("{base}/docs"));
    let app = Router::new()
        .route("/mcp", get(|| async { "mcp" }))
        .route(
            "/mcp/admin",
            get(|| async { "admin" })
                .route_layer(Require::scope("mcp:admin").layer::<StandardClaims>()),
        )
        .route(
            "/mcp/strong",
            get(|| async { "strong" })
                .route_layer(StepUp::acr_values(["urn:test:mfa"]).layer::<StandardClaims>()),
        )
        .route_layer(layer)
        .merge(metadata.router());
    (start(listener, app), resource)
}

/// The auth-params of a `Bearer` challenge, as a client parses them:
/// `name="quoted"` or `name=token`, comma-separated.
fn challenge_params(challenge: &str) -> Vec<(String, String)> {
    let rest = challenge
        .strip_prefix("Bearer")
        .expect("a Bearer challenge");
    let mut params = Vec::new();
    let mut rest = rest.trim_start();
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=').expect("name=value");
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').expect("closing quote");
            (&quoted[..end], &quoted[end + 1..])
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        params.push((name.trim().to_owned(), value.to_owned()));
        rest = after.trim_start().trim_start_matches(',').trim_start();
    }
    params
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn the_document_is_served_with_its_members() {
    let issuer = TestIssuer::start().await;
    let (api, resource) = mcp_api(&issuer).await;
    let url = format!("{}/.well-known/oauth-protected-resource/mcp", api.base);
    let response = api.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let document: Value = response.json().await.unwrap();
    assert_eq!(
        document,
        json!({
            "resource": resource,
            "authorization_servers": [issuer.issuer],
            "scopes_supported": ["mcp:tools", "mcp:admin"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Test MCP server",
            "resource_documentation": format!("{}/docs", api.base),
        })
    );
    // Only GET and HEAD; never behind the bearer layer.
    let post = api.client.post(&url).send().await.unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
    // A browser's CORS preflight, as an MCP client sending its own
    // headers makes one.
    let preflight = api
        .client
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://client.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "mcp-protocol-version")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        preflight.headers()["access-control-allow-methods"],
        "GET, HEAD"
    );
    assert_eq!(preflight.headers()["access-control-allow-headers"], "*");
    // The path-less form belongs to a resource without a path, not this one.
    let bare = format!("{}/.well-known/oauth-protected-resource", api.base);
    assert_eq!(api.client.get(&bare).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn a_resource_without_a_path_is_described_at_the_bare_well_known_path() {
    let issuer = TestIssuer::start().await;
    let (listener, base) = bind().await;
    let validator = validator(&issuer, &base).await;
    let layer = validator
        .layer::<StandardClaims>()
        .token_sources([TokenSource::cookie("at")]);
    let metadata = layer.resource_metadata();
    assert_eq!(
        metadata.well_known_path(),
        "/.well-known/oauth-protected-resource"
    );
    let app = Router::new()
        .route("/me", get(|| async { "me" }))
        .route_layer(layer)
        .merge(metadata.router());
    let api = start(listener, app);
    let document: Value = get_json(
        &api.client,
        format!("{base}/.well-known/oauth-protected-resource"),
    )
    .await;
    // §3.3: byte for byte the resource as configured (no slash added).
    assert_eq!(document["resource"], base);
    // A cookie is no RFC 6750 method: an empty list, not a missing member.
    assert_eq!(document["bearer_methods_supported"], json!([]));
    let challenge = fetch(&api, "/me", &[]).await.challenge.unwrap();
    assert_eq!(
        challenge,
        format!("Bearer resource_metadata=\"{base}/.well-known/oauth-protected-resource\"")
    );
}

#[tokio::test]
async fn every_401_and_403_names_the_document() {
    let issuer = TestIssuer::start().await;
    let (api, resource) = mcp_api(&issuer).await;
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/mcp", api.base);
    let expired = issuer
        .builder(&resource)
        .claim("exp", now() - 7200)
        .sign(&issuer.key);
    let tampered = format!("{}x", issuer.token(&resource));
    let wrong_audience = issuer.token("another-api");
    let weak = issuer
        .builder(&resource)
        .claim("acr", "urn:test:pwd")
        .sign(&issuer.key);
    let cases: [(&str, Option<String>, u16, Option<&str>); 6] = [
        ("/mcp", None, 401, None),
        ("/mcp", Some(tampered), 401, Some("invalid_token")),
        ("/mcp", Some(expired), 401, Some("invalid_token")),
        ("/mcp", Some(wrong_audience), 401, Some("invalid_token")),
        (
            "/mcp/admin",
            Some(issuer.token(&resource)),
            403,
            Some("insufficient_scope"),
        ),
        (
            "/mcp/strong",
            Some(weak),
            401,
            Some("insufficient_user_authentication"),
        ),
    ];
    for (path, token, status, error) in cases {
        let auth: Vec<String> = token.iter().map(|t| bearer(t)).collect();
        let auth: Vec<&str> = auth.iter().map(String::as_str).collect();
        let answer = fetch(&api, path, &auth).await;
        assert_eq!(answer.status, status, "{path} {error:?}");
        let challenge = answer.challenge.expect("a challenge");
        let params = challenge_params(&challenge);
        assert_eq!(param(&params, "error"), error, "{challenge}");
        assert_eq!(
            param(&params, "resource_metadata"),
            Some(metadata_url.as_str()),
            "{challenge}"
        );
    }
    let expired_answer = fetch(
        &api,
        "/mcp",
        &[&bearer(
            &issuer
                .builder(&resource)
                .claim("exp", now() - 7200)
                .sign(&issuer.key),
        )],
    )
    .await;
    assert!(expired_answer.challenge.unwrap().contains("token expired"));
}

#[tokio::test]
async fn a_custom_rejection_handler_keeps_the_parameter() {
    let issuer = TestIssuer::start().await;
    let (listener, base) = bind().await;
    let resource = format!("{base}/api");
    let validator = validator(&issuer, &resource).await;
    let app = Router::new()
        .route("/api", get(|| async { "api" }))
        .route_layer(
            validator
                .layer::<StandardClaims>()
                .realm("api")
                .on_rejection(ProblemJson),
        );
    let api = start(listener, app);
    let answer = fetch(&api, "/api", &["Bearer not.a.jwt"]).await;
    assert_eq!(answer.status, 401);
    assert!(answer.body.contains("\"status\":401"), "{}", answer.body);
    let challenge = answer.challenge.unwrap();
    assert!(challenge.starts_with("Bearer realm=\"api\", error=\"invalid_token\""));
    assert!(challenge.ends_with(&format!(
        ", resource_metadata=\"{base}/.well-known/oauth-protected-resource/api\""
    )));
}

/// What an MCP client does (MCP authorization, RFC 9728 §5 and §3.3):
/// call the server, follow `resource_metadata`, check `resource`, pick an
/// authorization server, read its discovery document; then call again
/// with a token from that server.
#[tokio::test]
async fn an_mcp_client_finds_the_authorization_server_from_a_bare_401() {
    let issuer = TestIssuer::start().await;
    let (api, _) = mcp_api(&issuer).await;
    let client = &api.client;
    let server_url = format!("{}/mcp", api.base);

    let first = client.get(&server_url).send().await.unwrap();
    assert_eq!(first.status(), 401);
    let challenge = first.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    let params = challenge_params(&challenge);
    let metadata_url = param(&params, "resource_metadata").expect("resource_metadata");

    let document: Value = get_json(client, metadata_url).await;
    // §3.3: the document must be about the resource the client called;
    // a client refuses any other.
    assert_eq!(document["resource"], server_url.as_str());
    let authorization_server = document["authorization_servers"][0].as_str().unwrap();

    let discovery: Value = get_json(
        client,
        format!("{authorization_server}/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(discovery["issuer"], authorization_server);
    assert!(discovery["jwks_uri"].is_string());

    // Signed in there, with the resource as audience (RFC 8707).
    let token = issuer.token(&server_url);
    let second = client
        .get(&server_url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200);
    assert_eq!(second.text().await.unwrap(), "mcp");
}

#[tokio::test]
async fn multi_tenant_issuers_are_listed_per_allowed_tenant() {
    let issuer = TestIssuer::start().await;
    let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
    let tenant = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
    let validator = Validator::builder()
        .trust(
            Issuer::new(&issuer.issuer)
                .audience("api")
                .jwks_url(&issuer.jwks_url),
        )
        .trust(
            Issuer::multi_tenant(template)
                .allowed_tenants([tenant])
                .audience("api")
                .jwks_url(&issuer.jwks_url),
        )
        .resource("https://api.example.com")
        .build()
        .await
        .unwrap();
    let metadata = validator.layer::<StandardClaims>().resource_metadata();
    assert_eq!(
        metadata.authorization_servers(),
        [
            issuer.issuer.clone(),
            format!("https://login.microsoftonline.com/{tenant}/v2.0")
        ]
    );
    // Open to any tenant: no usable issuer to list; name one by hand.
    let open = Validator::builder()
        .trust(
            Issuer::multi_tenant(template)
                .audience("api")
                .jwks_url(&issuer.jwks_url),
        )
        .resource("https://api.example.com")
        .build()
        .await
        .unwrap();
    let metadata = open.layer::<StandardClaims>().resource_metadata();
    assert!(metadata.authorization_servers().is_empty());
    let metadata =
        metadata.authorization_server("https://login.microsoftonline.com/organizations/v2.0");
    assert_eq!(metadata.authorization_servers().len(), 1);
}

#[tokio::test]
async fn bad_resources_fail_at_build() {
    let issuer = TestIssuer::start().await;
    for bad in [
        "http://api.example.com/mcp",
        "https://api.example.com/mcp#top",
        "not a url",
        // Spellings a client's byte-for-byte comparison (RFC 9728 3.3)
        // would never match, and paths no literal route can serve.
        " https://api.example.com/mcp",
        "HTTPS://API.EXAMPLE.COM/mcp",
        "https://api.example.com:443/mcp",
        "https://api.example.com/a/../mcp",
        "https://api.example.com/m cp",
        "https://api.example.com/:tenant/mcp",
        "https://api.example.com/mcp/*rest",
    ] {
        let error = Validator::builder()
            .issuer(&issuer.issuer)
            .audience("api")
            .jwks_url(&issuer.jwks_url)
            .resource(bad)
            .build()
            .await
            .unwrap_err();
        assert!(error.to_string().contains("resource"), "{bad}: {error}");
    }
    // The message gives the spelling to use.
    let error = Validator::builder()
        .issuer(&issuer.issuer)
        .audience("api")
        .jwks_url(&issuer.jwks_url)
        .resource("HTTPS://API.EXAMPLE.COM:443/mcp")
        .build()
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("\"https://api.example.com/mcp\""),
        "{error}"
    );
    // Both spellings of a resource without a path are one identifier.
    for fine in ["https://api.example.com", "https://api.example.com/"] {
        Validator::builder()
            .issuer(&issuer.issuer)
            .audience("api")
            .jwks_url(&issuer.jwks_url)
            .resource(fine)
            .build()
            .await
            .unwrap_or_else(|e| panic!("{fine}: {e}"));
    }
}

#[tokio::test]
async fn anonymous_refusals_inside_the_layer_name_the_document_too() {
    let issuer = TestIssuer::start().await;
    let (listener, base) = bind().await;
    let validator = validator(&issuer, &base).await;
    async fn needs_claims(_: oidc_bearer::Claims<StandardClaims>) -> &'static str {
        "claims"
    }
    let app = Router::new()
        .route("/extractor", get(needs_claims))
        .route(
            "/require",
            get(|| async { "scoped" })
                .route_layer(Require::scope("read").layer::<StandardClaims>()),
        )
        .route_layer(validator.layer::<StandardClaims>().allow_anonymous());
    let api = start(listener, app);
    let expected =
        format!("Bearer resource_metadata=\"{base}/.well-known/oauth-protected-resource\"");
    for path in ["/extractor", "/require"] {
        let answer = fetch(&api, path, &[]).await;
        assert_eq!(answer.status, 401, "{path}");
        assert_eq!(
            answer.challenge.as_deref(),
            Some(expected.as_str()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_document_names_the_layers_dpop_settings() {
    use oidc_bearer::Dpop;
    use oidc_bearer::keys::Algorithm;
    let issuer = TestIssuer::start().await;
    let validator = validator(&issuer, "https://api.example.com/mcp").await;
    let document = |layer: oidc_bearer::OidcBearerLayer<StandardClaims>| {
        serde_json::to_value(layer.resource_metadata()).unwrap()
    };

    // Without DPoP the members are absent (RFC 9728 §2: optional).
    let plain = document(validator.layer::<StandardClaims>());
    assert!(
        plain.get("dpop_signing_alg_values_supported").is_none(),
        "{plain}"
    );
    assert!(
        plain.get("dpop_bound_access_tokens_required").is_none(),
        "{plain}"
    );

    let required = document(
        validator
            .layer::<StandardClaims>()
            .dpop(Dpop::required().algs([Algorithm::ES256, Algorithm::EdDSA])),
    );
    assert_eq!(
        required["dpop_signing_alg_values_supported"],
        json!(["ES256", "EdDSA"])
    );
    assert_eq!(required["dpop_bound_access_tokens_required"], true);

    let allowed = document(validator.layer::<StandardClaims>().dpop(Dpop::allowed()));
    assert!(
        allowed["dpop_signing_alg_values_supported"]
            .as_array()
            .is_some_and(|algs| algs.iter().any(|a| a == "ES256")),
        "{allowed}"
    );
    assert!(
        allowed.get("dpop_bound_access_tokens_required").is_none(),
        "{allowed}"
    );
}

#[tokio::test]
async fn dpop_challenges_name_the_document_too() {
    use oidc_bearer::Dpop;
    let issuer = TestIssuer::start().await;
    let (listener, base) = bind().await;
    let resource = format!("{base}/mcp");
    let validator = validator(&issuer, &resource).await;
    let layer = validator
        .layer::<StandardClaims>()
        .dpop(Dpop::allowed().external_url(&base));
    let metadata = layer.resource_metadata();
    let app = Router::new()
        .route("/mcp", get(|| async { "mcp" }))
        .route_layer(layer)
        .merge(metadata.router());
    let api = start(listener, app);

    // A DPoP token without a proof: both schemes' challenges, each with
    // the document's URL.
    let answer = api
        .client
        .get(format!("{base}/mcp"))
        .header("authorization", format!("DPoP {}", issuer.token(&resource)))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    let challenges: Vec<&str> = answer
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    let expected = format!("resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\"");
    for challenge in &challenges {
        assert!(challenge.contains(&expected), "{challenge}");
    }
    assert!(
        challenges.iter().any(|c| c.starts_with("DPoP ")),
        "{challenges:?}"
    );
    assert!(
        challenges.iter().any(|c| c.starts_with("Bearer ")),
        "{challenges:?}"
    );
}
