//! The SPA of `examples/spa` in a real browser: headless Chromium, driven
//! through chromedriver (W3C WebDriver), signs in at the real OpenID
//! provider of `e2e/` through its login and consent forms, and calls the
//! example's API on another origin, through CORS. oidc-provider refuses a
//! public client without PKCE, and knows no method but S256, so the
//! sign-in succeeding is the page's PKCE working.
//!
//! Needs the Debian packages `chromium` and `chromium-driver`
//! (`/usr/bin/chromium`, `chromedriver` on PATH; `CHROMIUM` and
//! `CHROMEDRIVER` override the paths), and Node.js for the provider (see
//! `tests/oidc_provider.rs`). Without them it fails saying what to install.
//!
//! Screenshots of each step: `target/spa-screenshots/`.

#[path = "common/chromium.rs"]
mod chromium;
use chromium::{Driver, loopback_listener, serve_on};
#[path = "../examples/spa/provider.rs"]
mod provider;
#[path = "../examples/spa/servers.rs"]
mod servers;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use oidc_bearer::Validator;
use reqwest::StatusCode;
use reqwest::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD,
    AUTHORIZATION, ORIGIN, WWW_AUTHENTICATE,
};
use serde_json::json;

/// The whole test, browser start to last screenshot.
const TEST_LIMIT: Duration = Duration::from_secs(150);
/// One wait for something on a page.
const STEP_LIMIT: Duration = Duration::from_secs(20);

/// The page, as the test reads it, and where its screenshots go.
struct Page {
    client: Client,
    shots: PathBuf,
}

impl Page {
    async fn text(&self, id: &str) -> String {
        self.client
            .execute(
                "const e = document.getElementById(arguments[0]); return e ? e.textContent : null;",
                vec![json!(id)],
            )
            .await
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the element `id` reads `want`.
    async fn wait_text(&self, id: &str, want: &str) {
        let deadline = Instant::now() + STEP_LIMIT;
        loop {
            let text = self.text(id).await;
            if text == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "#{id} still reads {text:?}, not {want:?}, after {STEP_LIMIT:?}; the page's \
                 error: {:?}",
                self.text("error").await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn click(&self, id: &str) {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("no #{id}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click #{id}: {e}"));
    }

    /// Clicks "Call the API" and waits for the page to show the answer.
    async fn call_api(&self) -> Shown {
        let calls: u32 = self.text("calls").await.parse().unwrap();
        self.click("call-api").await;
        self.wait_text("calls", &(calls + 1).to_string()).await;
        Shown {
            status: self.text("status").await,
            challenge: self.text("challenge").await,
            claims: self.text("claims").await,
        }
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(STEP_LIMIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page within {STEP_LIMIT:?}: {e}"))
    }
}

/// What the page shows of an API call.
#[derive(Debug)]
struct Shown {
    status: String,
    challenge: String,
    claims: String,
}

#[tokio::test]
async fn spa_signs_in_in_chromium_and_calls_the_api_across_origins() {
    let started = Instant::now();
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is target/tmp")
        .to_owned();
    let shots = target.join("spa-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    // Before anything else, so a missing browser is what the failure says.
    let driver = Driver::start(&target, "spa-browser-profile").await;

    let page_listener = loopback_listener();
    let api_listener = loopback_listener();
    let spa_origin = format!("http://{}", page_listener.local_addr().unwrap());
    let api_origin = format!("http://{}", api_listener.local_addr().unwrap());
    let local = provider::start(0, Some(&spa_origin))
        .await
        .unwrap_or_else(|why| panic!("{why}"));
    let validator = Validator::discover(&local.issuer)
        .audience(provider::API_RESOURCE)
        .build()
        .await
        .expect("discovery at the local provider");
    let config = || servers::PageConfig {
        issuer: local.issuer.clone(),
        client_id: provider::CLIENT_ID.into(),
        scope: provider::SCOPE.into(),
        resource: Some(provider::API_RESOURCE.into()),
        api: api_origin.clone(),
    };
    let spa = serve_on(page_listener, servers::page(config()));
    let api = serve_on(api_listener, servers::api(&validator, &spa_origin));
    // The same page from an origin the API does not allow.
    let elsewhere = serve_on(loopback_listener(), servers::page(config()));

    let client = tokio::time::timeout(Duration::from_secs(60), driver.browser())
        .await
        .expect("chromedriver started no Chromium session within 60 s");
    let page = Page {
        client: client.clone(),
        shots: shots.clone(),
    };
    let mut scenario = tokio::spawn({
        let (spa, api, elsewhere) = (
            spa.origin.clone(),
            api.origin.clone(),
            elsewhere.origin.clone(),
        );
        async move { scenario(page, &spa, &api, &elsewhere).await }
    });
    let outcome = tokio::time::timeout(TEST_LIMIT, &mut scenario).await;
    scenario.abort();
    if outcome.as_ref().map_or(true, |joined| joined.is_err()) {
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            if let Ok(png) = client.screenshot().await {
                let _ = std::fs::write(shots.join("failed.png"), png);
            }
        })
        .await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(failed)) => {
            eprintln!("provider log:\n{}", local.log());
            std::panic::resume_unwind(failed.into_panic())
        }
        Err(_) => panic!(
            "the browser test did not finish within {TEST_LIMIT:?}; see {}",
            shots.join("failed.png").display()
        ),
    }

    cors_answers(&api.origin, &spa.origin, &elsewhere.origin).await;

    // Past the test harness's capture, so `cargo test` always shows it.
    let _ = writeln!(
        std::io::stderr(),
        "browser test: {:.1} s (screenshots in {})",
        started.elapsed().as_secs_f64(),
        shots.display()
    );
}

async fn scenario(page: Page, spa: &str, api: &str, elsewhere: &str) {
    let client = &page.client;
    client.goto(&format!("{spa}/")).await.unwrap();
    page.wait_text("session", "signed out").await;
    page.screenshot("1-signed-out").await;

    // The provider's own forms, as a user fills them in.
    page.click("sign-in").await;
    page.wait_for(r#"input[name="login"]"#)
        .await
        .send_keys("alice")
        .await
        .unwrap();
    page.wait_for(r#"input[name="password"]"#)
        .await
        .send_keys("any password")
        .await
        .unwrap();
    page.screenshot("2-provider-login-form").await;
    page.wait_for(r#"button[type="submit"]"#)
        .await
        .click()
        .await
        .unwrap();
    page.wait_for(r#"input[name="prompt"][value="consent"]"#)
        .await;
    page.screenshot("3-provider-consent-form").await;
    page.wait_for(r#"button[type="submit"]"#)
        .await
        .click()
        .await
        .unwrap();

    page.wait_text("session", "signed in (access token in memory)")
        .await;
    page.screenshot("4-signed-in").await;
    let url = client.current_url().await.unwrap();
    assert_eq!(
        url.as_str(),
        format!("{spa}/"),
        "the code left the address bar"
    );
    let stored: serde_json::Value = client
        .execute(
            "return [localStorage.length, sessionStorage.length, document.cookie]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(stored, json!([0, 0, ""]), "the page stored something");

    let ok = page.call_api().await;
    page.screenshot("5-api-200").await;
    assert_eq!(ok.status, "200", "{ok:?}");
    assert_eq!(ok.challenge, "(none)", "{ok:?}");
    let claims: serde_json::Value = serde_json::from_str(&ok.claims).unwrap();
    assert_eq!(claims["sub"], "alice", "{claims}");
    assert_eq!(claims["client_id"], provider::CLIENT_ID, "{claims}");
    assert_eq!(claims["aud"], json!([provider::API_RESOURCE]), "{claims}");
    assert_eq!(claims["scope"], "read", "{claims}");

    page.click("tamper").await;
    let forged = page.call_api().await;
    page.screenshot("6-tampered-token-401").await;
    assert_eq!(forged.status, "401", "{forged:?}");
    assert_eq!(
        forged.challenge,
        r#"Bearer error="invalid_token", error_description="invalid signature""#
    );

    page.click("sign-out").await;
    page.wait_text("session", "signed out").await;
    let anonymous = page.call_api().await;
    page.screenshot("7-signed-out-401").await;
    assert_eq!(anonymous.status, "401", "{anonymous:?}");
    assert_eq!(anonymous.challenge, "Bearer", "{anonymous:?}");

    // The same page served from an origin the API does not allow: the
    // browser gets the API's answer but hands the page nothing of it.
    client.goto(&format!("{elsewhere}/")).await.unwrap();
    page.wait_text("session", "signed out").await;
    let blocked = page.call_api().await;
    page.screenshot("8-other-origin-blocked").await;
    assert!(
        blocked.status.starts_with("request failed"),
        "{api} answered a page of {elsewhere}: {blocked:?}"
    );
}

/// The preflight the browser sent before each call with a token, and a
/// call, from the SPA's origin and from another one.
async fn cors_answers(api: &str, spa: &str, elsewhere: &str) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let preflight = |origin: &str| {
        http.request(reqwest::Method::OPTIONS, format!("{api}/me"))
            .header(ORIGIN, origin)
            .header(ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .send()
    };
    let header = |response: &reqwest::Response, name| {
        response
            .headers()
            .get(name)
            .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
    };

    let allowed = preflight(spa).await.unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(
        header(&allowed, ACCESS_CONTROL_ALLOW_ORIGIN).as_deref(),
        Some(spa)
    );
    assert_eq!(
        header(&allowed, ACCESS_CONTROL_ALLOW_METHODS).as_deref(),
        Some("GET")
    );
    assert_eq!(
        header(&allowed, ACCESS_CONTROL_ALLOW_HEADERS).as_deref(),
        Some("authorization")
    );
    // Answered by CORS, not refused by the bearer check.
    assert_eq!(header(&allowed, WWW_AUTHENTICATE), None);

    // No `Access-Control-Allow-Origin`, so the browser's CORS check fails
    // (tower-http still lists the methods and headers it would allow).
    let other = preflight(elsewhere).await.unwrap();
    assert_eq!(header(&other, ACCESS_CONTROL_ALLOW_ORIGIN), None);
    assert_eq!(header(&other, WWW_AUTHENTICATE), None);

    // A refusal carries the CORS headers too, so the page can read it.
    let refused = http
        .get(format!("{api}/me"))
        .header(ORIGIN, spa)
        .header(AUTHORIZATION, "Bearer not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&refused, ACCESS_CONTROL_ALLOW_ORIGIN).as_deref(),
        Some(spa)
    );
    assert_eq!(
        header(&refused, ACCESS_CONTROL_EXPOSE_HEADERS).as_deref(),
        Some("www-authenticate")
    );
    let foreign = http
        .get(format!("{api}/me"))
        .header(ORIGIN, elsewhere)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&foreign, ACCESS_CONTROL_ALLOW_ORIGIN), None);
}
