//! The README's DPoP snippet ("the SPA side in a few lines") run as it is
//! in headless Chromium, driven through chromedriver (W3C WebDriver), against
//! the layer with `Dpop::allowed()` on another origin, through CORS.
//!
//! The test reads the ```js block of the README's DPoP section at run time,
//! so the README cannot drift from what is tested. The page keeps the
//! snippet's WebCrypto key; the test only ever sees its public JWK, mints
//! a token bound to that key (`cnf.jkt`) and has the page call the API.
//!
//! Needs the Debian packages `chromium` and `chromium-driver`
//! (`/usr/bin/chromium`, `chromedriver` on PATH; `CHROMIUM` and
//! `CHROMEDRIVER` override the paths); without them it fails saying what
//! to install.

#[path = "common/chromium.rs"]
mod chromium;
use chromium::{Driver, serve};

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::routing::get;
use fantoccini::Client;
use oidc_bearer::dpop::{Nonces, jwk_thumbprint};
use oidc_bearer::{Claims, Dpop, StandardClaims, Validator};
use oidc_bearer_testkit::{
    KeyKind, MockProvider, TestKey, TokenBuilder, b64url_decode, standard_claims,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// chromedriver starting a Chromium session.
const SESSION_LIMIT: Duration = Duration::from_secs(40);
/// Everything the page does, first load to last call.
const SCENARIO_LIMIT: Duration = Duration::from_secs(60);
/// One wait for the page.
const STEP_LIMIT: Duration = Duration::from_secs(20);

const README_SECTION: &str = "## DPoP (sender-constrained tokens, RFC 9449)";
const AUDIENCE: &str = "orders-api";
const REALM: &str = "/realms/shop";
const SUB: &str = "browser-user";

/// The ```js block of the README's DPoP section.
fn readme_snippet() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let start = readme
        .find(README_SECTION)
        .unwrap_or_else(|| panic!("README.md has no section {README_SECTION:?}"));
    let section = &readme[start + README_SECTION.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let block = section.split("\n```js\n").nth(1).unwrap_or_else(|| {
        panic!("README.md's section {README_SECTION:?} has no ```js block: the SPA snippet")
    });
    let end = block
        .find("\n```")
        .unwrap_or_else(|| panic!("the ```js block of {README_SECTION:?} is not closed"));
    block[..end + 1].to_owned()
}

/// The page's script: the README's snippet between a `fetch` that keeps
/// what each request sent (for the replay) and the handles the test uses.
/// A module, as the snippet awaits at top level.
fn page_script(snippet: &str) -> String {
    format!(
        r#"// Every request the page sends, headers included.
window.sent = [];
const realFetch = window.fetch;
window.fetch = (url, init = {{}}) => {{
  window.sent.push({{ url: String(url), method: init.method || "GET", headers: init.headers || {{}} }});
  return realFetch(url, init);
}};

// ---- README.md, the DPoP section's js block ----
{snippet}// ---- end of the README's block ----

window.seen = async (r) => ({{
  status: r.status,
  body: await r.text(),
  challenge: r.headers.get("WWW-Authenticate"),
  nonce: r.headers.get("DPoP-Nonce"),
}});
window.dpop = {{ keys, jwk: {{ kty, crv, x, y }}, dpopFetch }};
"#
    )
}

const PAGE_HTML: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>DPoP from the README</title>
<script>
  window.pageError = null;
  addEventListener("error", (e) => { window.pageError = String(e.message); });
  addEventListener("unhandledrejection", (e) => { window.pageError = String(e.reason); });
</script>
<script type="module" src="/page.js"></script>
</head><body>DPoP snippet of the README</body></html>
"#;

/// The page server: `/` and `/page.js`.
fn page(snippet: &str) -> Router {
    let script = page_script(snippet);
    Router::new()
        .route(
            "/",
            get(|| async { ([(CONTENT_TYPE, "text/html; charset=utf-8")], PAGE_HTML) }),
        )
        .route(
            "/page.js",
            get(
                move || async move { ([(CONTENT_TYPE, "text/javascript; charset=utf-8")], script) },
            ),
        )
}

async fn me(claims: Claims<StandardClaims>) -> String {
    claims.sub.clone().unwrap_or_default()
}

/// The protected API: `GET /me` answers the caller's `sub`, to pages of
/// `page_origin` only. CORS outermost, so the preflight never meets the
/// token check and the layer's 401s carry CORS headers.
fn api(validator: &Validator, dpop: Dpop, page_origin: &str) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list([
            HeaderValue::from_str(page_origin).unwrap()
        ]))
        .allow_methods([Method::GET])
        // The snippet's two request headers.
        .allow_headers([AUTHORIZATION, HeaderName::from_static("dpop")])
        // Without these the page sees a 401 but neither why nor the nonce.
        .expose_headers([WWW_AUTHENTICATE, HeaderName::from_static("dpop-nonce")]);
    Router::new()
        .route("/me", get(me))
        .layer(validator.layer::<StandardClaims>().dpop(dpop))
        .layer(cors)
}

// ---- the page, as the test drives it ----

/// What the page saw of an answer.
#[derive(Debug, Deserialize)]
struct Seen {
    status: u16,
    body: String,
    challenge: Option<String>,
    nonce: Option<String>,
}

/// A request as the page sent it (the `fetch` wrapper's record).
#[derive(Debug, Deserialize)]
struct Sent {
    url: String,
    method: String,
    headers: serde_json::Map<String, Value>,
}

impl Sent {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("the page sent no {name} header: {self:?}"))
    }

    /// The claims of the DPoP proof the page sent.
    fn proof_claims(&self) -> Value {
        let proof = self.header("DPoP");
        let payload = proof.split('.').nth(1).expect("a compact JWS");
        serde_json::from_slice(&b64url_decode(payload)).expect("JSON claims")
    }
}

struct Page {
    client: Client,
}

impl Page {
    /// Runs `body` as an async function of `args` in the page and returns
    /// its value; a rejection fails the test with the page's message.
    async fn run(&self, body: &str, args: Vec<Value>) -> Value {
        let script = format!(
            "return (async (args) => {{ {body} }})(Array.from(arguments)).then(\
               (value) => ({{ value }}),\
               (e) => ({{ thrown: String(e && e.stack || e) }}));"
        );
        let out = self
            .client
            .execute(&script, args)
            .await
            .unwrap_or_else(|e| panic!("WebDriver could not run {body:?}: {e}"));
        if let Some(thrown) = out.get("thrown") {
            panic!(
                "the page threw running {body:?}: {}",
                thrown.as_str().unwrap_or_default()
            );
        }
        out.get("value").cloned().unwrap_or(Value::Null)
    }

    /// Waits until the page's module (README snippet included) has run.
    async fn wait_ready(&self) {
        let deadline = Instant::now() + STEP_LIMIT;
        loop {
            let state = self
                .run(
                    "return [window.dpop !== undefined, window.pageError];",
                    vec![],
                )
                .await;
            if state[0] == true {
                return;
            }
            assert!(
                state[1].is_null(),
                "the README's snippet failed in Chromium: {}",
                state[1]
            );
            assert!(
                Instant::now() < deadline,
                "the page's script did not finish within {STEP_LIMIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn dpop_fetch(&self, url: &str, token: &str) -> Seen {
        let seen = self
            .run(
                r#"return seen(await dpop.dpopFetch("GET", args[0], args[1]));"#,
                vec![json!(url), json!(token)],
            )
            .await;
        serde_json::from_value(seen).unwrap()
    }

    async fn sent(&self) -> Vec<Sent> {
        serde_json::from_value(self.run("return window.sent;", vec![]).await).unwrap()
    }
}

#[tokio::test]
async fn the_readme_dpop_snippet_calls_the_api_from_chromium() {
    let started = Instant::now();
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is target/tmp")
        .to_owned();
    let snippet = readme_snippet();
    // Before anything else, so a missing browser is what the failure says.
    let driver = Driver::start(&target, "dpop-browser-profile").await;

    let provider = MockProvider::start().await;
    let signer = TestKey::generate(KeyKind::Rsa2048, "issuer-key");
    let issuer = provider.serve_issuer(REALM, &[&signer]);
    let validator = Validator::builder()
        .issuer(&issuer)
        .audience(AUDIENCE)
        .jwks_url(provider.url(&MockProvider::jwks_path(REALM)))
        .build()
        .await
        .expect("a validator for the mock provider");

    let page_server = serve(page(&snippet));
    // The snippet signs `htu` = origin + path as the browser sees them:
    // `http://127.0.0.1:<port>/me`, which the layer rebuilds from `Host`
    // with `plain_http()` (its default is https; behind a proxy,
    // `external_url`).
    let api_server = serve(api(
        &validator,
        Dpop::allowed().plain_http(),
        &page_server.origin,
    ));
    let nonce_server = serve(api(
        &validator,
        Dpop::allowed().plain_http().nonces(Nonces::new()),
        &page_server.origin,
    ));

    let client = tokio::time::timeout(SESSION_LIMIT, driver.browser())
        .await
        .unwrap_or_else(|_| {
            panic!("chromedriver started no Chromium session within {SESSION_LIMIT:?}")
        });
    let mut run = tokio::spawn({
        let page = Page {
            client: client.clone(),
        };
        let (page_origin, api, nonce_api) = (
            page_server.origin.clone(),
            format!("{}/me", api_server.origin),
            format!("{}/me", nonce_server.origin),
        );
        async move {
            scenario(&page, &page_origin, &api, &nonce_api, |jwk| {
                bound_token(&issuer, &signer, jwk)
            })
            .await
        }
    });
    let outcome = tokio::time::timeout(SCENARIO_LIMIT, &mut run).await;
    run.abort();
    let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(failed)) => std::panic::resume_unwind(failed.into_panic()),
        Err(_) => panic!("the page did not finish within {SCENARIO_LIMIT:?}"),
    }
    drop(driver);

    // Past the test harness's capture, so `cargo test` always shows it.
    let _ = writeln!(
        std::io::stderr(),
        "DPoP browser test: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// An access token for `SUB`, bound to the page's public key.
fn bound_token(issuer: &str, signer: &TestKey, jwk: &Value) -> String {
    let jkt = jwk_thumbprint(&jwk.to_string()).expect("the page's JWK has a thumbprint");
    TokenBuilder::new()
        .header("typ", "at+jwt")
        .claims(standard_claims(issuer, AUDIENCE))
        .claim("sub", SUB)
        .claim("cnf", json!({ "jkt": jkt }))
        .sign(signer)
}

async fn scenario(
    page: &Page,
    page_origin: &str,
    api: &str,
    nonce_api: &str,
    mint: impl Fn(&Value) -> String,
) {
    page.client.goto(&format!("{page_origin}/")).await.unwrap();
    page.wait_ready().await;

    let jwk = page.run("return dpop.jwk;", vec![]).await;
    assert_eq!(jwk["kty"], "EC", "{jwk}");
    assert_eq!(jwk["crv"], "P-256", "{jwk}");
    let token = mint(&jwk);

    // (a) The snippet's call: the handler sees the token's subject.
    let first = page.dpop_fetch(api, &token).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body, SUB, "{first:?}");
    // (b) Again: a fresh proof, accepted too.
    let second = page.dpop_fetch(api, &token).await;
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(second.body, SUB, "{second:?}");

    let sent = page.sent().await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    for request in &sent {
        assert_eq!(request.url, api);
        assert_eq!(request.method, "GET");
        assert_eq!(request.header("Authorization"), format!("DPoP {token}"));
        let claims = request.proof_claims();
        assert_eq!(claims["htu"], api, "{claims}");
        assert_eq!(claims["htm"], "GET", "{claims}");
        assert_eq!(
            claims.get("nonce"),
            None,
            "a nonce nobody asked for: {claims}"
        );
    }
    assert_ne!(
        sent[0].proof_claims()["jti"],
        sent[1].proof_claims()["jti"],
        "the page signed the same proof twice"
    );

    // (c) The private key stays in WebCrypto.
    let export = page
        .run(
            "try { await crypto.subtle.exportKey('jwk', dpop.keys.privateKey); return 'exported'; } \
             catch (e) { return e.name; }",
            vec![],
        )
        .await;
    assert_eq!(
        export, "InvalidAccessError",
        "the private key was exportable"
    );

    // (d) A proof the page sent, replayed from outside the browser.
    let replayed = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .get(api)
        .header("Authorization", sent[0].header("Authorization"))
        .header("DPoP", sent[0].header("DPoP"))
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 401);
    let challenges: Vec<&str> = replayed
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let dpop = challenges
        .iter()
        .find(|c| c.starts_with("DPoP"))
        .unwrap_or_else(|| panic!("no DPoP challenge: {challenges:?}"));
    assert!(
        dpop.contains(r#"error="invalid_dpop_proof""#) && dpop.contains("used before"),
        "{challenges:?}"
    );

    // (e) The bound token as a bearer token (RFC 9449 §7.1).
    let as_bearer: Seen = serde_json::from_value(
        page.run(
            r#"return seen(await fetch(args[0], { headers: { Authorization: `Bearer ${args[1]}` } }));"#,
            vec![json!(api), json!(token)],
        )
        .await,
    )
    .unwrap();
    assert_eq!(as_bearer.status, 401, "{as_bearer:?}");
    let challenge = as_bearer.challenge.clone().unwrap_or_default();
    assert!(
        challenge.contains(
            r#"Bearer error="invalid_token", error_description="DPoP-bound token sent with the Bearer scheme""#
        ),
        "{as_bearer:?}"
    );

    // (f) With server nonces: the first call is refused with a nonce, the
    // page retries once with it, as the README says.
    let nonced = page
        .run(
            r#"const first = await dpop.dpopFetch("GET", args[0], args[1]);
               const nonce = first.status === 401 && first.headers.get("DPoP-Nonce");
               const retry = nonce ? await dpop.dpopFetch("GET", args[0], args[1], nonce) : null;
               return { first: await seen(first), retry: retry && await seen(retry) };"#,
            vec![json!(nonce_api), json!(token)],
        )
        .await;
    let first: Seen = serde_json::from_value(nonced["first"].clone()).unwrap();
    assert_eq!(first.status, 401, "{first:?}");
    let challenge = first.challenge.clone().unwrap_or_default();
    assert!(challenge.contains(r#"error="use_dpop_nonce""#), "{first:?}");
    let nonce = first
        .nonce
        .clone()
        .unwrap_or_else(|| panic!("the page could not read DPoP-Nonce: {first:?}"));
    let retry: Option<Seen> = serde_json::from_value(nonced["retry"].clone()).unwrap();
    let retry = retry.expect("the page retried");
    assert_eq!(retry.status, 200, "{retry:?}");
    assert_eq!(retry.body, SUB, "{retry:?}");
    let sent = page.sent().await;
    let last = sent.last().unwrap();
    assert_eq!(last.proof_claims()["nonce"], nonce.as_str(), "{last:?}");
}
