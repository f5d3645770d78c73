//! End to end against a real OpenID provider: panva's `oidc-provider` (the
//! npm package, certified OpenID Connect implementation) runs as a child
//! process on 127.0.0.1, an axum API protected by this crate finds its keys
//! through discovery, and every token the API sees was issued by the
//! provider: client credentials for services, Authorization Code + PKCE
//! through the provider's login and consent forms for the SPA case.
//!
//! Needs Node.js >= 20.19 and npm. The provider's packages are installed
//! with `npm ci --prefix e2e` the first time (see `e2e/provider.mjs`), so
//! `cargo test --all-features` is the whole set-up; without Node.js these
//! tests fail with a message that says what to install.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::{Json, Router, routing::get};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oidc_bearer::clock::ManualClock;
use oidc_bearer::{Claims, Validator};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

mod common;
// The SPA example's launcher: one way to start the provider.
#[allow(dead_code)]
#[path = "../examples/spa/provider.rs"]
mod provider;
use common::{Answer, Api, bearer, fetch, serve};

/// The resource indicator (and so the `aud`) of the protected API.
const API: &str = "urn:test:api";
/// Another resource server of the same provider.
const OTHER_API: &str = "urn:test:other-api";
/// A resource whose tokens the provider issues for one second.
const SHORT_LIVED_API: &str = "urn:test:short-lived";
/// Registered for the `spa` client in `e2e/provider.mjs`; never contacted.
const SPA_REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// The claims RFC 9068 puts in every access token, as the handler sees them.
#[derive(Debug, Deserialize, Serialize)]
struct AccessClaims {
    iss: String,
    sub: String,
    client_id: String,
    aud: serde_json::Value,
    scope: Option<String>,
    jti: String,
    iat: i64,
    exp: i64,
}

async fn whoami(claims: Claims<AccessClaims>) -> Json<Claims<AccessClaims>> {
    Json(claims)
}

/// `node e2e/provider.mjs` (started as the SPA example starts it), killed
/// when dropped, with a client for its endpoints.
struct OidcProvider {
    issuer: String,
    http: reqwest::Client,
    local: provider::LocalProvider,
}

/// What the provider's token endpoint returned.
struct Tokens {
    access_token: String,
    id_token: Option<String>,
}

impl OidcProvider {
    async fn start() -> OidcProvider {
        let local = provider::start(0, None)
            .await
            .unwrap_or_else(|why| panic!("{why}"));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        OidcProvider {
            issuer: local.issuer.clone(),
            http,
            local,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// POSTs a form to the token endpoint and returns its tokens; panics
    /// with the provider's answer (and its log) when it refuses.
    async fn token_request(
        &self,
        request: reqwest::RequestBuilder,
        form: &[(&str, &str)],
    ) -> Tokens {
        let response = request
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form_urlencoded(form))
            .send()
            .await
            .expect("the token endpoint answers");
        let status = response.status();
        let body: serde_json::Value = response.json().await.expect("a JSON token response");
        assert_eq!(
            status,
            StatusCode::OK,
            "token endpoint refused {form:?}: {body}\nprovider log:\n{}",
            self.local.log()
        );
        Tokens {
            access_token: body["access_token"].as_str().unwrap().to_owned(),
            id_token: body["id_token"].as_str().map(str::to_owned),
        }
    }

    /// An access token from the client credentials grant (a service
    /// calling the API), for `resource` with `scope`.
    async fn client_credentials(&self, client_id: &str, resource: &str, scope: &str) -> String {
        let request = self
            .http
            .post(self.url("/token"))
            .basic_auth(client_id, Some(format!("{client_id}-secret")));
        let form = [
            ("grant_type", "client_credentials"),
            ("resource", resource),
            ("scope", scope),
        ];
        self.token_request(request, &form).await.access_token
    }

    /// The SPA's flow, over HTTP the way a browser drives it: GET /auth
    /// with a PKCE challenge, the provider's login form, its consent form,
    /// the redirect back with a code, and the code exchanged together with
    /// the verifier at the token endpoint.
    async fn authorization_code_with_pkce(&self, login: &str, scope: &str) -> Tokens {
        let mut random = [0u8; 32];
        aws_lc_rs::rand::fill(&mut random).unwrap();
        let verifier = URL_SAFE_NO_PAD.encode(random);
        let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            verifier.as_bytes(),
        ));
        let state = URL_SAFE_NO_PAD.encode(&random[..8]);
        let mut authorize = Url::parse(&self.url("/auth")).unwrap();
        authorize
            .query_pairs_mut()
            .append_pair("client_id", "spa")
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", SPA_REDIRECT_URI)
            .append_pair("scope", scope)
            .append_pair("resource", API)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", &state);

        let mut cookies = CookieJar::default();
        let mut url = authorize;
        let mut seen = Vec::new();
        let callback = loop {
            assert!(seen.len() < 12, "the login never finished: {seen:#?}");
            seen.push(url.to_string());
            let response = self
                .http
                .get(url.clone())
                .header(COOKIE, cookies.header())
                .send()
                .await
                .expect("the provider answers");
            cookies.store(&response);
            let response = if response.status() == StatusCode::OK {
                // One of the provider's forms: sign in as `login` with any
                // password, or grant the requested scopes.
                let page = response.text().await.unwrap();
                let form = if page.contains(r#"name="prompt" value="login""#) {
                    form_urlencoded(&[
                        ("prompt", "login"),
                        ("login", login),
                        ("password", "any password"),
                    ])
                } else if page.contains(r#"name="prompt" value="consent""#) {
                    form_urlencoded(&[("prompt", "consent")])
                } else {
                    panic!("unexpected page at {url}:\n{page}");
                };
                let response = self
                    .http
                    .post(url.clone())
                    .header(COOKIE, cookies.header())
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form)
                    .send()
                    .await
                    .expect("the provider answers the form");
                cookies.store(&response);
                response
            } else {
                response
            };
            assert!(
                response.status().is_redirection(),
                "{url} answered {}: {}\nprovider log:\n{}",
                response.status(),
                response.text().await.unwrap_or_default(),
                self.local.log()
            );
            let location = response.headers()[LOCATION].to_str().unwrap();
            let next = url.join(location).unwrap();
            if next.as_str().starts_with(SPA_REDIRECT_URI) {
                break next;
            }
            url = next;
        };

        let params: HashMap<String, String> = callback.query_pairs().into_owned().collect();
        assert_eq!(params.get("state"), Some(&state), "{callback}");
        assert_eq!(params.get("iss"), Some(&self.issuer), "{callback}");
        let code = params
            .get("code")
            .unwrap_or_else(|| panic!("no code in {callback}"));
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", code.as_str()),
            ("redirect_uri", SPA_REDIRECT_URI),
            ("code_verifier", verifier.as_str()),
            ("resource", API),
        ];
        self.token_request(self.http.post(self.url("/token")), &form)
            .await
    }

    /// Replaces the provider's key set (new kids); with `keep_old`, the old
    /// public keys stay published after the new ones. Same port, same
    /// issuer, the API is not told.
    async fn rotate(&self, keep_old: bool) -> Vec<String> {
        let query = if keep_old { "?keep=1" } else { "" };
        let response: serde_json::Value = self
            .http
            .post(self.url(&format!("/__test/rotate{query}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        serde_json::from_value(response["kids"].clone()).unwrap()
    }

    /// How many requests the provider has answered on `path`.
    async fn hits(&self, path: &str) -> u64 {
        let mut url = Url::parse(&self.url("/__test/hits")).unwrap();
        url.query_pairs_mut().append_pair("path", path);
        let response: serde_json::Value = self
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        response["hits"].as_u64().unwrap()
    }
}

/// Enough of a cookie jar for one login: the provider's cookies are scoped
/// to paths of the flow that is being walked through, one step at a time.
#[derive(Default)]
struct CookieJar(HashMap<String, String>);

impl CookieJar {
    fn store(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let value = value.to_str().unwrap();
            let pair = value.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// `application/x-www-form-urlencoded`, without pulling reqwest's `form`
/// feature into the crate's dev-dependencies.
fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    let mut url = Url::parse("http://form.invalid/").unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

/// A JWT part (header or payload) as JSON, as anyone can read it.
fn jwt_part(token: &str, index: usize) -> serde_json::Value {
    let part = token.split('.').nth(index).expect("a compact JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The protected API on 127.0.0.1.
async fn protect(validator: &Validator) -> Api {
    let app = Router::new()
        .route("/whoami", get(whoami))
        .layer(validator.layer::<AccessClaims>());
    serve(app).await
}

/// What the API answered, read as this file's tests read it.
impl Answer {
    fn claims(&self) -> serde_json::Value {
        assert_eq!(self.status, StatusCode::OK, "{self:?}");
        serde_json::from_str(&self.body).unwrap()
    }

    /// Asserts a 401 `invalid_token` whose description names `rule`.
    fn assert_refused(&self, rule: &str) {
        assert_eq!(self.status, StatusCode::UNAUTHORIZED, "{self:?}");
        assert_eq!(
            self.challenge.as_deref(),
            Some(format!(r#"Bearer error="invalid_token", error_description="{rule}""#).as_str()),
            "{self:?}"
        );
    }
}

async fn call(api: &Api, token: &str) -> Answer {
    fetch(api, "/whoami", &[&bearer(token)]).await
}

/// The validator an API of `audience` would configure: discovery at the
/// provider's issuer, RFC 9068 `at+jwt` required.
async fn discovered(provider: &OidcProvider, audience: &str) -> Validator {
    Validator::discover(&provider.issuer)
        .audience(audience)
        .require_type("at+jwt")
        .build()
        .await
        .expect("discovery against oidc-provider works")
}

#[tokio::test]
async fn client_credentials_token_reaches_the_handler_with_its_claims() {
    let provider = OidcProvider::start().await;
    let api = protect(&discovered(&provider, API).await).await;

    let token = provider.client_credentials("svc", API, "read write").await;

    let header = jwt_part(&token, 0);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    let claims = call(&api, &token).await.claims();
    assert_eq!(claims["iss"], provider.issuer.as_str());
    assert_eq!(claims["sub"], "svc");
    assert_eq!(claims["client_id"], "svc");
    assert_eq!(claims["scope"], "read write");
    assert_eq!(claims["aud"], API);
    assert_eq!(claims["jti"], jwt_part(&token, 1)["jti"]);
}

#[tokio::test]
async fn spa_authorization_code_with_pkce_token_is_accepted_and_its_id_token_is_not() {
    let provider = OidcProvider::start().await;
    let validator = discovered(&provider, API).await;
    let api = protect(&validator).await;

    let tokens = provider
        .authorization_code_with_pkce("alice", "openid read")
        .await;

    let claims = call(&api, &tokens.access_token).await.claims();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["client_id"], "spa");
    assert_eq!(claims["scope"], "read");
    assert_eq!(claims["aud"], API);
    // The classic SPA mistake: sending the ID token to the API. It is
    // signed by the same key, but it is not an access token (`typ`), and
    // it is not for this API (`aud` is the SPA's client id).
    let id_token = tokens.id_token.expect("the provider issued an ID token");
    assert_eq!(jwt_part(&id_token, 1)["aud"], "spa");
    call(&api, &id_token)
        .await
        .assert_refused("invalid token type");
    let without_typ_check = Validator::discover(&provider.issuer)
        .audience(API)
        .build()
        .await
        .unwrap();
    let lenient_api = protect(&without_typ_check).await;
    call(&lenient_api, &id_token)
        .await
        .assert_refused("invalid audience");
    assert_eq!(
        call(&lenient_api, &tokens.access_token).await.claims()["sub"],
        "alice"
    );
}

#[tokio::test]
async fn tokens_signed_with_each_key_type_of_the_provider_are_accepted() {
    let provider = OidcProvider::start().await;
    let api = protect(&discovered(&provider, API).await).await;

    for (client, alg, kid) in [
        ("svc", "RS256", "rsa-1"),
        ("svc-ps256", "PS256", "rsa-1"),
        ("svc-es256", "ES256", "p256-1"),
        ("svc-es384", "ES384", "p384-1"),
        ("svc-eddsa", "EdDSA", "ed25519-1"),
        // RFC 9864's fully specified name for the same algorithm.
        ("svc-ed25519", "Ed25519", "ed25519-1"),
    ] {
        let token = provider.client_credentials(client, API, "read").await;
        let header = jwt_part(&token, 0);
        assert_eq!((&header["alg"], &header["kid"]), (&alg.into(), &kid.into()));
        let answer = call(&api, &token).await;
        assert_eq!(answer.status, StatusCode::OK, "{alg}: {answer:?}");
        assert_eq!(answer.claims()["client_id"], client);
    }

    // ES512 (P-521) is not among the crate's algorithms: a clean 401, and
    // the other keys keep working.
    let es512 = provider.client_credentials("svc-es512", API, "read").await;
    assert_eq!(jwt_part(&es512, 0)["alg"], "ES512");
    call(&api, &es512)
        .await
        .assert_refused("unsupported algorithm");
    let rs256 = provider.client_credentials("svc", API, "read").await;
    assert_eq!(call(&api, &rs256).await.status, StatusCode::OK);
}

#[tokio::test]
async fn oidc_providers_discovery_document_and_jwk_set_media_type_are_understood() {
    let provider = OidcProvider::start().await;

    // What oidc-provider really serves, so this test cannot pass vacuously.
    let discovery: serde_json::Value = provider
        .http
        .get(provider.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let algs = discovery["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    for unknown_to_the_crate in ["Ed25519", "ES512"] {
        assert!(algs.contains(&unknown_to_the_crate.into()), "{algs:?}");
    }
    assert!(discovery["id_token_encryption_alg_values_supported"].is_array());
    let jwks_url = discovery["jwks_uri"].as_str().unwrap();
    let jwks = provider.http.get(jwks_url).send().await.unwrap();
    assert!(
        jwks.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/jwk-set+json"),
        "{:?}",
        jwks.headers()
    );
    let jwks: serde_json::Value = jwks.json().await.unwrap();
    let published: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(
        published,
        [
            "rsa-1",
            "p256-1",
            "p384-1",
            "p521-1",
            "ed25519-1",
            "rsa-enc-1"
        ]
    );

    let validator = discovered(&provider, API).await;

    assert!(validator.health().is_ready(), "{:?}", validator.health());
    let keys = validator.keys();
    let mut usable: Vec<&str> = keys.kids().collect();
    usable.sort_unstable();
    assert_eq!(usable, ["ed25519-1", "p256-1", "p384-1", "rsa-1"]);
    let mut skipped: Vec<_> = keys
        .skipped()
        .iter()
        .filter_map(|k| k.kid.as_deref())
        .collect();
    skipped.sort_unstable();
    assert_eq!(skipped, ["p521-1", "rsa-enc-1"], "{:?}", keys.skipped());
    let api = protect(&validator).await;
    let token = provider.client_credentials("svc-es256", API, "read").await;
    assert_eq!(call(&api, &token).await.claims()["sub"], "svc-es256");
    // The encryption key is published beside the signing keys but never
    // verifies anything: nothing is fetched again for it either.
    assert_eq!(provider.hits("/jwks").await, 2);
}

#[tokio::test]
async fn token_for_another_resource_is_refused_naming_the_audience() {
    let provider = OidcProvider::start().await;
    let api = protect(&discovered(&provider, API).await).await;

    let token = provider.client_credentials("svc", OTHER_API, "read").await;

    assert_eq!(jwt_part(&token, 1)["aud"], OTHER_API);
    call(&api, &token).await.assert_refused("invalid audience");
    // The same token is fine for an API that accepts that audience too:
    // the refusal above was about the audience, nothing else.
    let both = Validator::discover(&provider.issuer)
        .audience(API)
        .audience(OTHER_API)
        .require_type("at+jwt")
        .build()
        .await
        .unwrap();
    let api_of_both = protect(&both).await;
    assert_eq!(call(&api_of_both, &token).await.claims()["aud"], OTHER_API);
}

#[tokio::test]
async fn tampered_tokens_are_refused() {
    let provider = OidcProvider::start().await;
    let api = protect(&discovered(&provider, API).await).await;
    let token = provider.client_credentials("svc", API, "read").await;
    assert_eq!(call(&api, &token).await.status, StatusCode::OK);
    let parts: Vec<&str> = token.split('.').collect();

    // One bit of one byte of the payload: a letter of `jti` changes case,
    // so the claims still parse and only the signature can tell.
    let mut payload = URL_SAFE_NO_PAD.decode(parts[1]).unwrap();
    let jti = jwt_part(&token, 1)["jti"].as_str().unwrap().to_owned();
    let letter = jti.find(|c: char| c.is_ascii_alphabetic()).unwrap();
    let at = String::from_utf8_lossy(&payload).find(&jti).unwrap() + letter;
    payload[at] ^= 0x20;
    let tampered_payload = [parts[0], &URL_SAFE_NO_PAD.encode(&payload), parts[2]].join(".");
    assert_ne!(jwt_part(&tampered_payload, 1)["jti"], jti.as_str());

    // A scope the provider never granted.
    let mut claims = jwt_part(&token, 1);
    claims["scope"] = "read write admin".into();
    let escalated = [
        parts[0],
        &URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2],
    ]
    .join(".");

    // One byte of the signature.
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[10] ^= 0x01;
    let tampered_signature = [parts[0], parts[1], &URL_SAFE_NO_PAD.encode(&signature)].join(".");

    for forged in [tampered_payload, escalated, tampered_signature] {
        let answer = call(&api, &forged).await;
        answer.assert_refused("invalid signature");
        assert!(
            !answer.body.contains(&forged[..40]),
            "the body echoes the token"
        );
    }
}

#[tokio::test]
async fn expired_token_is_refused_once_the_clock_passes_exp_and_leeway() {
    let provider = OidcProvider::start().await;
    let clock = ManualClock::new(unix_now());
    let validator = Validator::discover(&provider.issuer)
        .audience(API)
        .require_type("at+jwt")
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    let api = protect(&validator).await;
    let token = provider.client_credentials("svc", API, "read").await;
    let exp = jwt_part(&token, 1)["exp"].as_i64().unwrap();

    assert_eq!(call(&api, &token).await.status, StatusCode::OK);
    // Within the 60 s leeway: still accepted (and now remembered).
    clock.set(exp + 59);
    assert_eq!(call(&api, &token).await.status, StatusCode::OK);
    // Past it: refused, although the token was verified before.
    clock.set(exp + 60);
    call(&api, &token).await.assert_refused("token expired");
}

#[tokio::test]
async fn short_lived_token_expires_on_the_real_clock() {
    let provider = OidcProvider::start().await;
    let validator = Validator::discover(&provider.issuer)
        .audience(SHORT_LIVED_API)
        .require_type("at+jwt")
        .leeway(Duration::ZERO)
        .build()
        .await
        .unwrap();
    let api = protect(&validator).await;

    let token = provider
        .client_credentials("svc", SHORT_LIVED_API, "read")
        .await;

    let claims = jwt_part(&token, 1);
    let exp = claims["exp"].as_i64().unwrap();
    assert_eq!(exp - claims["iat"].as_i64().unwrap(), 1, "{claims}");
    // The validator checks whole seconds: wait until `exp` is in the past.
    tokio::time::timeout(Duration::from_secs(5), async {
        while unix_now() <= exp {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("a one-second token expires within five seconds");
    call(&api, &token).await.assert_refused("token expired");
}

#[tokio::test]
async fn planned_rotation_new_key_accepted_on_first_use_old_tokens_still_valid() {
    let provider = OidcProvider::start().await;
    let validator = discovered(&provider, API).await;
    let api = protect(&validator).await;
    let before = provider.client_credentials("svc", API, "read").await;
    assert_eq!(call(&api, &before).await.status, StatusCode::OK);
    let fetches = provider.hits("/jwks").await;
    assert_eq!(fetches, 1);

    let kids = provider.rotate(true).await;
    assert_eq!(kids[0], "rsa-2");
    assert!(kids.contains(&"rsa-1".to_owned()), "{kids:?}");
    let after = provider.client_credentials("svc", API, "read").await;
    assert_eq!(jwt_part(&after, 0)["kid"], "rsa-2");

    let answer = call(&api, &after).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(provider.hits("/jwks").await, fetches + 1);
    // The one refetch brought the whole new set: another new key needs
    // no further fetch, and the old key, still published, still verifies.
    let es256 = provider.client_credentials("svc-es256", API, "read").await;
    assert_eq!(jwt_part(&es256, 0)["kid"], "p256-2");
    assert_eq!(call(&api, &es256).await.status, StatusCode::OK);
    assert_eq!(call(&api, &before).await.status, StatusCode::OK);
    assert_eq!(provider.hits("/jwks").await, fetches + 1);
    assert!(validator.keys().contains_kid("rsa-1"));
}

#[tokio::test]
async fn emergency_rotation_new_key_accepted_on_first_use_withdrawn_key_refused() {
    let provider = OidcProvider::start().await;
    let validator = discovered(&provider, API).await;
    let api = protect(&validator).await;
    let before = provider.client_credentials("svc", API, "read").await;
    assert_eq!(call(&api, &before).await.status, StatusCode::OK);
    let fetches = provider.hits("/jwks").await;

    let kids = provider.rotate(false).await;
    assert!(!kids.contains(&"rsa-1".to_owned()), "{kids:?}");
    let after = provider.client_credentials("svc", API, "read").await;

    let answer = call(&api, &after).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.claims()["sub"], "svc");
    assert_eq!(provider.hits("/jwks").await, fetches + 1);
    // The token verified (and remembered) before the rotation was signed
    // by a key the provider no longer publishes.
    call(&api, &before).await.assert_refused("unknown key id");
    assert!(!validator.keys().contains_kid("rsa-1"));
}
