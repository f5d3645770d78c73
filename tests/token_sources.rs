//! Token sources (issue 13, item 1) over real sockets: an axum server on
//! 127.0.0.1 whose routes each read the token from other places, and
//! reqwest as the client sending it in a header, a cookie or the URL.

use std::sync::{Arc, Mutex};

use axum::{Json, Router, routing::get};
use http::HeaderName;
use oidc_bearer::{Claims, StandardClaims, TokenSource, Validator};
use oidc_bearer_testkit::TestIssuer;
use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;

mod common;
use common::{Api, serve, validator_for};

const AUDIENCE: &str = "sources-api";

async fn sub(claims: Claims<StandardClaims>) -> Json<Option<String>> {
    Json(claims.sub.clone())
}

fn route(validator: &Validator, sources: &[TokenSource]) -> Router {
    let mut layer = validator.layer::<StandardClaims>().realm("sources");
    if !sources.is_empty() {
        layer = layer.token_sources(sources.iter().cloned());
    }
    Router::new().route("/", get(sub)).route_layer(layer)
}

/// One route per configuration, so one server serves every test.
async fn api(issuer: &TestIssuer) -> Api {
    let validator = validator_for(issuer, AUDIENCE).build().await.unwrap();
    let x_token = HeaderName::from_static("x-access-token");
    let app = Router::new()
        .nest("/default", route(&validator, &[]))
        .nest("/cookie", route(&validator, &[TokenSource::cookie("at")]))
        .nest(
            "/header",
            route(&validator, &[TokenSource::header(x_token)]),
        )
        .nest(
            "/query",
            route(&validator, &[TokenSource::insecure_query_parameter()]),
        )
        .nest(
            "/either",
            route(
                &validator,
                &[
                    TokenSource::authorization_header(),
                    TokenSource::cookie("at"),
                ],
            ),
        );
    serve(app).await
}

struct Answer {
    status: StatusCode,
    challenge: String,
    body: String,
}

/// GET `path_and_query` with `headers`.
async fn send(api: &Api, path_and_query: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = api.client.get(format!("{}{path_and_query}", api.base));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("the API answers");
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Answer {
        status: response.status(),
        challenge,
        body: response.text().await.unwrap(),
    }
}

fn assert_ok(answer: &Answer, what: &str) {
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{what}: {}",
        answer.challenge
    );
    assert_eq!(answer.body, r#""user-1""#, "{what}");
}

/// No credentials: 401 with the bare challenge, no `error=`.
fn assert_no_token(answer: &Answer, what: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{what}");
    assert_eq!(answer.challenge, r#"Bearer realm="sources""#, "{what}");
}

fn assert_invalid_request(answer: &Answer, description: &str) {
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{description}");
    assert!(
        answer
            .challenge
            .starts_with(r#"Bearer realm="sources", error="invalid_request""#)
            && answer.challenge.contains(description),
        "{}",
        answer.challenge
    );
}

#[tokio::test]
async fn each_source_alone_is_accepted() {
    let issuer = TestIssuer::start().await;
    let api = api(&issuer).await;
    let token = issuer.token(AUDIENCE);
    let bearer = format!("Bearer {token}");
    let cookie = format!("theme=dark; at={token}; lang=en");

    assert_ok(
        &send(&api, "/default", &[("authorization", &bearer)]).await,
        "header",
    );
    assert_ok(
        &send(&api, "/cookie", &[("cookie", &cookie)]).await,
        "cookie",
    );
    assert_ok(
        &send(&api, "/header", &[("x-access-token", &token)]).await,
        "custom header",
    );
    assert_ok(
        &send(&api, &format!("/query?access_token={token}"), &[]).await,
        "query",
    );
}

#[tokio::test]
async fn the_default_reads_neither_cookies_nor_the_query() {
    let issuer = TestIssuer::start().await;
    let api = api(&issuer).await;
    let token = issuer.token(AUDIENCE);

    let cookie = format!("access_token={token}; at={token}");
    let answer = send(&api, "/default", &[("cookie", &cookie)]).await;
    assert_no_token(&answer, "cookie");
    let answer = send(&api, &format!("/default?access_token={token}"), &[]).await;
    assert_no_token(&answer, "query");
    // Nor does a source that is not the query parameter.
    let answer = send(&api, &format!("/cookie?access_token={token}"), &[]).await;
    assert_no_token(&answer, "query on the cookie route");
    let answer = send(
        &api,
        "/cookie",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_no_token(&answer, "header on the cookie route");
}

#[tokio::test]
async fn an_ordered_list_finds_the_token_in_its_second_source() {
    let issuer = TestIssuer::start().await;
    let api = api(&issuer).await;
    let token = issuer.token(AUDIENCE);

    let cookie = format!("at={token}");
    assert_ok(
        &send(&api, "/either", &[("cookie", &cookie)]).await,
        "cookie",
    );
    // Another scheme in `Authorization` is no bearer token: the cookie is.
    assert_ok(
        &send(
            &api,
            "/either",
            &[("authorization", "Basic dXNlcjpwYXNz"), ("cookie", &cookie)],
        )
        .await,
        "Basic and a cookie",
    );
    assert_no_token(&send(&api, "/either", &[]).await, "nothing");
}

#[tokio::test]
async fn a_token_sent_two_ways_is_a_malformed_request() {
    let issuer = TestIssuer::start().await;
    let api = api(&issuer).await;
    let token = issuer.token(AUDIENCE);

    let answer = send(
        &api,
        "/either",
        &[
            ("authorization", &format!("Bearer {token}")),
            ("cookie", &format!("at={token}")),
        ],
    )
    .await;
    assert_invalid_request(&answer, "sent by more than one method");

    let answer = send(
        &api,
        "/cookie",
        &[("cookie", &format!("at={token}; at={token}"))],
    )
    .await;
    assert_invalid_request(&answer, "more than one cookie");

    let answer = send(
        &api,
        &format!("/query?access_token={token}&access_token={token}"),
        &[],
    )
    .await;
    assert_invalid_request(&answer, "more than one access_token");

    let answer = send(
        &api,
        "/header",
        &[("x-access-token", &format!("Bearer {token}"))],
    )
    .await;
    assert_invalid_request(&answer, "without a scheme");
}

#[tokio::test]
async fn an_oversize_cookie_is_refused_as_too_large() {
    let issuer = TestIssuer::start().await;
    let api = api(&issuer).await;
    // Over the 8 KiB default, and not even token68: the size is checked
    // first.
    let cookie = format!("at={}", "a\\".repeat(5000));

    let answer = send(&api, "/cookie", &[("cookie", &cookie)]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.challenge,
        r#"Bearer realm="sources", error="invalid_token", error_description="token too large""#
    );
    // The server is still there.
    assert_no_token(&send(&api, "/cookie", &[]).await, "after");
}

#[tokio::test]
async fn a_refused_token_from_any_source_gets_the_bearer_challenge() {
    let issuer = TestIssuer::start().await;
    let api = api(&issuer).await;
    let other = issuer.token("another-api");

    for answer in [
        send(&api, "/cookie", &[("cookie", &format!("at={other}"))]).await,
        send(&api, "/header", &[("x-access-token", &other)]).await,
        send(&api, &format!("/query?access_token={other}"), &[]).await,
    ] {
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            answer.challenge,
            r#"Bearer realm="sources", error="invalid_token", error_description="invalid audience""#
        );
        assert!(!answer.body.contains(&other[..20]));
    }
}

#[tokio::test]
async fn a_percent_encoded_query_token_is_decoded() {
    let issuer = TestIssuer::start().await;
    let api = api(&issuer).await;
    let token = issuer.token(AUDIENCE);
    // Every `.`, `-` and `_` encoded, and the name too.
    let encoded = token
        .replace('.', "%2E")
        .replace('-', "%2d")
        .replace('_', "%5F");
    assert_ne!(encoded, token);

    let answer = send(&api, &format!("/query?a=1&access%5Ftoken={encoded}&b"), &[]).await;
    assert_ok(&answer, "percent-encoded");
}

#[tokio::test]
async fn a_quoted_cookie_value_is_taken_without_its_quotes() {
    let issuer = TestIssuer::start().await;
    let api = api(&issuer).await;
    let token = issuer.token(AUDIENCE);

    let answer = send(&api, "/cookie", &[("cookie", &format!("at=\"{token}\""))]).await;
    assert_ok(&answer, "quoted");
    // An emptied cookie (a signed-out browser) is no token, not a bad one.
    assert_no_token(&send(&api, "/cookie", &[("cookie", "at=")]).await, "at=");
    assert_no_token(
        &send(&api, "/cookie", &[("cookie", "at=\"\"")]).await,
        "at=\"\"",
    );
}

/// Counts warnings; only for the synchronous layer construction below.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

struct Message<'a>(&'a mut String);

impl tracing::field::Visit for Message<'_> {
    fn record_debug(&mut self, _: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{value:?}"));
    }
}

impl tracing::Subscriber for Warnings {
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        *meta.level() == tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut message = String::new();
        event.record(&mut Message(&mut message));
        self.0.lock().unwrap().push(message);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn the_query_parameter_is_configured_with_one_warning() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let warnings = Warnings::default();

    let (query, cookie) = tracing::subscriber::with_default(warnings.clone(), || {
        let query = validator.layer::<StandardClaims>().token_sources([
            TokenSource::authorization_header(),
            TokenSource::insecure_query_parameter(),
        ]);
        let cookie = validator
            .layer::<StandardClaims>()
            .token_source(TokenSource::cookie("at"));
        // Applying the layer (axum does it once per route) logs nothing more.
        let _router: Router = Router::new()
            .route("/a", get(sub))
            .route("/b", get(sub))
            .route_layer(query.clone());
        (query, cookie)
    });

    let warnings = warnings.0.lock().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("access_token query parameter"),
        "{}",
        warnings[0]
    );
    assert_eq!(query.bearer_methods(), ["header", "query"]);
    assert!(cookie.bearer_methods().is_empty());
    assert_eq!(
        validator.layer::<StandardClaims>().bearer_methods(),
        ["header"]
    );
}

/// What the `AuthContext` extractor tells a handler: the scheme, the
/// source the token was read from, or that the request came in without
/// credentials.
async fn how(context: oidc_bearer::AuthContext) -> String {
    let source = context
        .token_source()
        .map(|s| format!("{s:?}"))
        .unwrap_or_default();
    format!(
        "scheme={:?} anonymous={} source={source} issuer={:?} sub={:?}",
        context.scheme(),
        context.is_anonymous(),
        context.issuer(),
        context
            .claims::<StandardClaims>()
            .and_then(|c| c.sub.clone()),
    )
}

#[tokio::test]
async fn a_handler_reads_how_its_request_was_admitted() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let layer = validator
        .layer::<StandardClaims>()
        .token_sources([
            TokenSource::authorization_header(),
            TokenSource::cookie("at"),
        ])
        .allow_anonymous();
    let api = serve(Router::new().route("/how", get(how)).route_layer(layer)).await;
    let token = issuer.token(AUDIENCE);
    let header = send(
        &api,
        "/how",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    let issuer_name = &issuer.issuer;
    assert_eq!(
        header.body,
        format!(
            r#"scheme=Some(Bearer) anonymous=false source=TokenSource(AuthorizationHeader) issuer=Some("{issuer_name}") sub=Some("user-1")"#
        )
    );
    // Served from the verified-token cache the second time: the same.
    for _ in 0..2 {
        let cookie = send(&api, "/how", &[("cookie", &format!("at={token}"))]).await;
        assert_eq!(
            cookie.body,
            format!(
                r#"scheme=Some(Bearer) anonymous=false source=TokenSource(Cookie("at")) issuer=Some("{issuer_name}") sub=Some("user-1")"#
            )
        );
    }
    let anonymous = send(&api, "/how", &[]).await;
    assert_eq!(
        anonymous.body,
        "scheme=None anonymous=true source= issuer=None sub=None"
    );
    // A claims type the layer does not verify is no claims.
    let other = |context: oidc_bearer::AuthContext| async move {
        format!("{}", context.claims::<serde_json::Value>().is_some())
    };
    let api = serve(
        Router::new()
            .route("/other", get(other))
            .route_layer(validator.layer::<StandardClaims>()),
    )
    .await;
    let answer = send(
        &api,
        "/other",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(answer.body, "false");
}
