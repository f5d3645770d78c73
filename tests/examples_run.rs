//! The examples run as a user runs them: the built binary. `azure_ad`,
//! `keycloak` and `protected_api` are configured by environment variables,
//! pointed at a key server on loopback shaped like the provider's, and
//! called over HTTP; `prometheus`, `openapi`, `hyper`, `tonic` and
//! `websocket` bring their own provider, run to the end, and their output
//! is checked. `cargo test` builds the examples before the tests, so the
//! binaries are there; with `--test examples_run` alone, run
//! `cargo build --examples` first.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use oidc_bearer_testkit::{KeyKind, MockProvider, Reply, TestKey, TokenBuilder, now};
use serde_json::{Value, json};

mod common;

/// Every wait on a child is bounded by this.
const WAIT: Duration = Duration::from_secs(20);

/// Variables a user's shell could leak into the child.
const VARS: &[&str] = &[
    "AZURE_TENANT_ID",
    "AZURE_MULTI_TENANT",
    "AZURE_ALLOWED_TENANTS",
    "AZURE_CLIENT_ID",
    "AZURE_APP_ID_URI",
    "AZURE_TOKEN_VERSION",
    "AZURE_CLAIMS_MAPPING",
    "AZURE_INSTANCE",
    "AZURE_V1_ISSUER",
    "KEYCLOAK_URL",
    "KEYCLOAK_REALM",
    "KEYCLOAK_INTERNAL_URL",
    "API_AUDIENCE",
    "KEYCLOAK_AZP_CLIENT",
    "LISTEN",
];

/// `target/<profile>/examples/<name>`, next to this test's own binary in
/// `target/<profile>/deps/`.
fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary lives in target/<profile>/deps");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --examples --all-features` first",
        path.display()
    );
    // `cargo test --test examples_run` does not rebuild examples: an old
    // binary would test old code and pass or fail for the wrong reason.
    let built = modified(&path);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut sources = vec![root.join("examples").join(format!("{name}.rs"))];
    collect_rs(&root.join("src"), &mut sources);
    if let Some(newer) = sources.iter().find(|source| modified(source) > built) {
        panic!(
            "{} is older than {}: run `cargo build --examples --all-features` first",
            path.display(),
            newer.display()
        );
    }
    path
}

fn modified(path: &std::path::Path) -> std::time::SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(std::time::SystemTime::UNIX_EPOCH)
}

fn collect_rs(dir: &std::path::Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rs(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

fn command(name: &str, env: &[(&str, String)]) -> Command {
    let mut command = Command::new(example_binary(name));
    for var in VARS {
        command.env_remove(var);
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command
}

/// A running example, killed when dropped, also when an assertion failed.
struct Running {
    child: Child,
    base: String,
    printed: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the example on a port the system picks (`LISTEN=127.0.0.1:0`,
/// so no other test can take it in between) and waits, bounded, for the
/// address it prints.
fn start(name: &str, env: &[(&str, String)]) -> Running {
    let mut child = command(name, env)
        .env("LISTEN", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let stdout = child.stdout.take().expect("stdout is piped");
    let (lines_tx, lines) = mpsc::channel();
    // Both pipes drained to the end so the child never blocks on a full
    // one, nor dies of a closed one: once the address is read, nobody
    // receives the lines, but the example may still print (a `println!`
    // to a closed pipe panics, and the server goes with it).
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let stderr_pipe = child.stderr.take().expect("stderr is piped");
    let stderr = Arc::new(Mutex::new(String::new()));
    let sink = stderr.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
            let mut text = sink.lock().unwrap_or_else(|e| e.into_inner());
            text.push_str(&line);
            text.push('\n');
        }
    });
    let mut running = Running {
        child,
        base: String::new(),
        printed: Vec::new(),
        stderr,
    };
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                let address = line.strip_prefix("listening on ").map(str::to_owned);
                running.printed.push(line);
                if let Some(address) = address {
                    running.base = address;
                    return running;
                }
            }
            Err(_) => {
                let exited = running.child.try_wait().ok().flatten();
                // Give the reader a moment to collect what a dying child said.
                std::thread::sleep(Duration::from_millis(200));
                let stderr = running.stderr.lock().map(|s| s.clone()).unwrap_or_default();
                panic!(
                    "{name} did not print its address within {WAIT:?} (exit: {exited:?})\n\
                     stdout: {:?}\nstderr: {stderr}",
                    running.printed
                );
            }
        }
    }
}

/// The stderr of a child that has exited or was just killed, so reading
/// ends.
fn stderr_of(child: &mut Child) -> String {
    let _ = child.wait();
    let mut text = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
    }
    text
}

/// Runs the example expecting it to stop at once; its exit code and stderr.
fn run_to_exit(name: &str, env: &[(&str, String)]) -> (Option<i32>, String) {
    let mut child = command(name, env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            return (status.code(), stderr_of(&mut child));
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "{name} still running after {WAIT:?}: {}",
                stderr_of(&mut child)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[derive(Debug)]
struct Answer {
    status: u16,
    challenge: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    fn refused(&self, status: u16, challenge_part: &str) {
        assert_eq!(self.status, status, "{self:?}");
        let challenge = self.challenge.as_deref().unwrap_or_default();
        assert!(
            challenge.contains(challenge_part),
            "expected {challenge_part:?} in the challenge: {self:?}"
        );
    }
}

async fn call(method: &str, url: &str, token: Option<&str>) -> Answer {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut request = client.request(method.parse().unwrap(), url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the example answers");
    Answer {
        status: response.status().as_u16(),
        challenge: response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned()),
        body: response.text().await.unwrap(),
    }
}

// ---------------------------------------------------------------- Entra ID

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
const API_CLIENT_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const SPA_CLIENT_ID: &str = "a5d0e0f1-0000-4000-8000-000000000001";
const GRAPH: &str = "00000003-0000-0000-c000-000000000000";

/// Serves Microsoft's keys layout at `{instance}/{tenant}/discovery/v2.0/keys`:
/// `x5c`, `x5t`, no `alg`, and the templated issuer on the key.
fn serve_entra_keys(provider: &MockProvider, tenant: &str, key: &TestKey) {
    let issuer = format!("{}/{{tenantid}}/v2.0", provider.base_url());
    let jwk = common::microsoft_jwk(key, &issuer);
    provider.set(
        &format!("/{tenant}/discovery/v2.0/keys"),
        Reply::json(&json!({ "keys": [jwk] })),
    );
}

/// A v2 delegated token of `tenant` for the API, as Entra sends it.
fn entra_v2(provider: &MockProvider, tenant: &str) -> TokenBuilder {
    let now = now();
    TokenBuilder::new().header("typ", "JWT").claims(json!({
        "aud": API_CLIENT_ID, "iss": format!("{}/{tenant}/v2.0", provider.base_url()),
        "iat": now, "nbf": now, "exp": now + 3600,
        "azp": SPA_CLIENT_ID, "azpacr": "0", "name": "Alice",
        "oid": "00000000-0000-0000-66f3-3332eca7ea81",
        "preferred_username": "alice@contoso.com", "scp": "Orders.Read",
        "sub": "Lz6wXqlNh9qAYfgXa0ZMa0SmQq8dbT9JQqL5ALbd0i0", "tid": tenant,
        "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "2.0"
    }))
}

// The key server runs on this test's runtime while the test thread waits
// for the child: two workers, so the child's key fetch is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_ad_example_serves_claims_scopes_and_app_roles() {
    let provider = MockProvider::start().await;
    let key = TestKey::generate(KeyKind::Rsa2048, "entra-example");
    serve_entra_keys(&provider, TENANT, &key);
    let api = start(
        "azure_ad",
        &[
            ("AZURE_TENANT_ID", TENANT.into()),
            ("AZURE_CLIENT_ID", API_CLIENT_ID.into()),
            ("AZURE_INSTANCE", provider.base_url()),
        ],
    );
    let printed = api.printed.join("\n");
    assert!(
        printed.contains(&format!("{}/{TENANT}/v2.0", provider.base_url()))
            && printed.contains(API_CLIENT_ID),
        "it says what it trusts: {printed}"
    );
    let url = |path: &str| format!("{}{path}", api.base);

    let user = entra_v2(&provider, TENANT).sign(&key);
    let me = call("GET", &url("/me"), Some(&user)).await;
    assert_eq!(me.status, 200, "{me:?}");
    let me = me.json();
    assert_eq!(me["tid"], TENANT);
    assert_eq!(me["oid"], "00000000-0000-0000-66f3-3332eca7ea81");
    assert_eq!(me["name"], "Alice");
    assert_eq!(me["scopes"], json!(["Orders.Read"]));
    assert_eq!(me["roles"], json!([]));
    assert_eq!(me["app_only"], false);
    assert_eq!(call("GET", &url("/orders"), Some(&user)).await.status, 200);

    // A token for the API, but without the scope: 403 naming it.
    let profile_only = entra_v2(&provider, TENANT)
        .claim("scp", "openid profile")
        .sign(&key);
    call("GET", &url("/orders"), Some(&profile_only))
        .await
        .refused(403, r#"error="insufficient_scope""#);
    let answer = call("GET", &url("/orders"), Some(&profile_only)).await;
    answer.refused(403, r#"scope="Orders.Read""#);
    answer.refused(403, r#"realm="orders""#);

    // The admin route wants the app role; a delegated scope is no role.
    call("POST", &url("/admin"), Some(&user))
        .await
        .refused(403, r#"error="insufficient_scope""#);
    let daemon = entra_v2(&provider, TENANT)
        .remove_claim("scp")
        .remove_claim("name")
        .remove_claim("preferred_username")
        .claim("roles", json!(["Orders.Admin"]))
        .claim("idtyp", "app")
        .sign(&key);
    let admin = call("POST", &url("/admin"), Some(&daemon)).await;
    assert_eq!(admin.status, 200, "{admin:?}");
    assert_eq!(admin.json()["done_by"], SPA_CLIENT_ID);
    // An app role does not stand in for the delegated scope either.
    call("GET", &url("/orders"), Some(&daemon))
        .await
        .refused(403, r#"error="insufficient_scope""#);

    // No token, another tenant, another audience, a Graph token.
    call("GET", &url("/me"), None).await.refused(401, "Bearer");
    let other_tenant = entra_v2(&provider, OTHER_TENANT).sign(&key);
    call("GET", &url("/me"), Some(&other_tenant))
        .await
        .refused(401, "invalid issuer");
    let other_api = entra_v2(&provider, TENANT)
        .claim("aud", "api://someone-else")
        .sign(&key);
    call("GET", &url("/me"), Some(&other_api))
        .await
        .refused(401, "invalid audience");
    let graph = entra_v2(&provider, TENANT)
        .claim("aud", GRAPH)
        .claim("scp", "openid profile User.Read")
        .sign(&key);
    call("GET", &url("/me"), Some(&graph))
        .await
        .refused(401, "Microsoft Graph");
    // An unknown path stays 404 behind `route_layer`.
    assert_eq!(call("GET", &url("/nope"), Some(&user)).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_ad_example_multi_tenant_v1_and_v2_with_allow_list() {
    let provider = MockProvider::start().await;
    let key = TestKey::generate(KeyKind::Rsa2048, "entra-common");
    serve_entra_keys(&provider, "common", &key);
    let api = start(
        "azure_ad",
        &[
            ("AZURE_MULTI_TENANT", "1".into()),
            ("AZURE_ALLOWED_TENANTS", format!("{TENANT}, {TENANT}")),
            ("AZURE_CLIENT_ID", API_CLIENT_ID.into()),
            ("AZURE_TOKEN_VERSION", "both".into()),
            ("AZURE_INSTANCE", provider.base_url()),
            // A local instance is no known cloud: its v1 issuer is said.
            ("AZURE_V1_ISSUER", "https://sts.windows.net".into()),
        ],
    );
    let me = format!("{}/me", api.base);

    let v2 = entra_v2(&provider, TENANT).sign(&key);
    assert_eq!(call("GET", &me, Some(&v2)).await.status, 200);
    // v1: the sts.windows.net issuer, the default App ID URI as audience,
    // signed by the key bound to the v2 issuer (as Entra does).
    let v1 = entra_v2(&provider, TENANT)
        .claim("iss", format!("https://sts.windows.net/{TENANT}/"))
        .claim("aud", format!("api://{API_CLIENT_ID}"))
        .claim("ver", "1.0")
        .remove_claim("azp")
        .claim("appid", SPA_CLIENT_ID)
        .sign(&key);
    let answer = call("GET", &me, Some(&v1)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["client_id"], SPA_CLIENT_ID);

    let outsider = entra_v2(&provider, OTHER_TENANT).sign(&key);
    call("GET", &me, Some(&outsider))
        .await
        .refused(401, "tenant not allowed");
}

#[test]
fn azure_ad_example_says_which_variable_is_missing() {
    let (code, stderr) = run_to_exit("azure_ad", &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("AZURE_TENANT_ID"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let (code, stderr) = run_to_exit("azure_ad", &[("AZURE_TENANT_ID", TENANT.into())]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("AZURE_CLIENT_ID"), "{stderr}");

    let (code, stderr) = run_to_exit(
        "azure_ad",
        &[
            ("AZURE_TENANT_ID", TENANT.into()),
            ("AZURE_CLIENT_ID", API_CLIENT_ID.into()),
            ("AZURE_TOKEN_VERSION", "3".into()),
        ],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("AZURE_TOKEN_VERSION"), "{stderr}");

    // A domain where the GUID belongs: refused by `build()`, before any
    // fetch, with the same exit code.
    let (code, stderr) = run_to_exit(
        "azure_ad",
        &[
            ("AZURE_TENANT_ID", "contoso.onmicrosoft.com".into()),
            ("AZURE_CLIENT_ID", API_CLIENT_ID.into()),
            ("AZURE_INSTANCE", "http://127.0.0.1:9".into()),
        ],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("GUID"), "{stderr}");
}

// ---------------------------------------------------------------- Keycloak

const KC_REALM: &str = "shop";

/// A Keycloak access token of realm `shop` at `base`.
fn keycloak_token(base: &str) -> TokenBuilder {
    let now = now();
    TokenBuilder::new().header("typ", "JWT").claims(json!({
        "exp": now + 300, "iat": now, "jti": "onrtac:6c0bd6f4",
        "iss": format!("{base}/realms/{KC_REALM}"), "aud": ["orders-api", "account"],
        "sub": "9d2b4a2e-3c1f-4f55-9a51-2f0c8f1b7e42", "typ": "Bearer",
        "azp": "shop-spa", "sid": "0f6a1c2d-5e4b-4a39-8c7d-1b2e3f4a5b6c",
        "realm_access": {"roles": ["default-roles-shop", "orders-reader"]},
        "resource_access": {"account": {"roles": ["view-profile"]}},
        "scope": "openid profile email", "preferred_username": "alice"
    }))
}

fn serve_keycloak_keys(provider: &MockProvider, key: &TestKey) {
    // Keycloak also publishes an encryption key; it must not disturb.
    let enc = TestKey::generate(KeyKind::Rsa2048, "enc");
    let mut enc_jwk = enc.public_jwk();
    enc_jwk["use"] = json!("enc");
    enc_jwk["alg"] = json!("RSA-OAEP");
    let mut sig = key.public_jwk_with_x5c();
    sig["use"] = json!("sig");
    provider.set(
        &MockProvider::jwks_path(&format!("/realms/{KC_REALM}")),
        Reply::json(&json!({ "keys": [enc_jwk, sig] })),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_example_keeps_realm_and_client_roles_apart() {
    let provider = MockProvider::start().await;
    let key = TestKey::generate(KeyKind::Rsa2048, "kc-example");
    serve_keycloak_keys(&provider, &key);
    let base = provider.base_url();
    let api = start(
        "keycloak",
        &[
            ("KEYCLOAK_URL", base.clone()),
            ("KEYCLOAK_REALM", KC_REALM.into()),
            ("API_AUDIENCE", "orders-api".into()),
        ],
    );
    assert!(
        api.printed
            .join("\n")
            .contains(&format!("{base}/realms/{KC_REALM}")),
        "{:?}",
        api.printed
    );
    let url = |path: &str| format!("{}{path}", api.base);

    // A reader: realm role orders-reader, no client role of orders-api.
    let reader = keycloak_token(&base).sign(&key);
    let me = call("GET", &url("/me"), Some(&reader)).await;
    assert_eq!(me.status, 200, "{me:?}");
    let me = me.json();
    assert_eq!(me["preferred_username"], "alice");
    assert_eq!(
        me["realm_roles"],
        json!(["default-roles-shop", "orders-reader"])
    );
    assert_eq!(me["client_roles"], json!({"account": ["view-profile"]}));
    assert_eq!(
        call("GET", &url("/orders"), Some(&reader)).await.status,
        200
    );
    call("POST", &url("/admin"), Some(&reader))
        .await
        .refused(403, r#"error="insufficient_scope""#);

    // `admin` as a realm role, and `orders-reader` as a client role: each
    // is the wrong kind for its route.
    let swapped = keycloak_token(&base)
        .claim("realm_access", json!({"roles": ["admin"]}))
        .claim(
            "resource_access",
            json!({"orders-api": {"roles": ["orders-reader"]}}),
        )
        .sign(&key);
    call("GET", &url("/orders"), Some(&swapped))
        .await
        .refused(403, r#"error="insufficient_scope""#);
    call("POST", &url("/admin"), Some(&swapped))
        .await
        .refused(403, r#"error="insufficient_scope""#);
    // Another client's `admin` is not orders-api's.
    let other_client = keycloak_token(&base)
        .claim("resource_access", json!({"billing": {"roles": ["admin"]}}))
        .sign(&key);
    call("POST", &url("/admin"), Some(&other_client))
        .await
        .refused(403, r#"error="insufficient_scope""#);

    let admin = keycloak_token(&base)
        .claim(
            "resource_access",
            json!({"orders-api": {"roles": ["admin"]}}),
        )
        .sign(&key);
    let answer = call("POST", &url("/admin"), Some(&admin)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let me = call("GET", &url("/me"), Some(&admin)).await.json();
    assert_eq!(me["client_roles"], json!({"orders-api": ["admin"]}));

    // Without the Audience mapper `aud` is only "account": refused here.
    let unmapped = keycloak_token(&base).claim("aud", "account").sign(&key);
    call("GET", &url("/me"), Some(&unmapped))
        .await
        .refused(401, "invalid audience");
}

/// Tokens name the public address; the keys come from the internal one;
/// no Audience mapper yet, so the SPA's `azp` is accepted instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_example_internal_url_and_azp() {
    let provider = MockProvider::start().await;
    let key = TestKey::generate(KeyKind::Rsa2048, "kc-internal");
    serve_keycloak_keys(&provider, &key);
    let public = "https://auth.example.com";
    let api = start(
        "keycloak",
        &[
            ("KEYCLOAK_URL", public.into()),
            ("KEYCLOAK_REALM", KC_REALM.into()),
            ("KEYCLOAK_INTERNAL_URL", provider.base_url()),
            ("KEYCLOAK_AZP_CLIENT", "shop-spa".into()),
        ],
    );
    let me = format!("{}/me", api.base);

    let spa = keycloak_token(public).claim("aud", "account").sign(&key);
    let answer = call("GET", &me, Some(&spa)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["azp"], "shop-spa");

    let other_client = keycloak_token(public)
        .claim("aud", "account")
        .claim("azp", "someone-else")
        .sign(&key);
    call("GET", &me, Some(&other_client))
        .await
        .refused(401, "invalid_token");
    // The internal address is where keys come from, not an issuer.
    let internal_iss = keycloak_token(&provider.base_url())
        .claim("aud", "account")
        .sign(&key);
    call("GET", &me, Some(&internal_iss))
        .await
        .refused(401, "invalid_token");
}

#[test]
fn keycloak_example_says_which_variable_is_missing() {
    let (code, stderr) = run_to_exit("keycloak", &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("KEYCLOAK_URL"), "{stderr}");

    let url = ("KEYCLOAK_URL", "https://auth.example.com".to_owned());
    let (code, stderr) = run_to_exit("keycloak", std::slice::from_ref(&url));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("KEYCLOAK_REALM"), "{stderr}");

    let (code, stderr) = run_to_exit("keycloak", &[url, ("KEYCLOAK_REALM", "shop".into())]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("API_AUDIENCE") && stderr.contains("KEYCLOAK_AZP_CLIENT"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

// ------------------------------------------------------------------ README

/// The README's API-side snippets are excerpts of the examples, which
/// compile: a block opening with `// examples/<name>.rs` must appear in
/// that file word for word (whitespace aside).
#[test]
fn readme_snippets_are_copied_from_the_examples() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut checked = Vec::new();
    for block in readme.split("```rust,ignore\n").skip(1) {
        let block = block.split("```").next().unwrap_or_default();
        let Some((first, rest)) = block.split_once('\n') else {
            continue;
        };
        let Some(file) = first.strip_prefix("// ") else {
            continue;
        };
        if !file.starts_with("examples/") {
            continue;
        }
        let source = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(
            words(&source).contains(&words(rest)),
            "the README block marked {file} is not in {file} any more: copy it again"
        );
        checked.push(file.to_owned());
    }
    assert_eq!(
        checked,
        ["examples/azure_ad.rs", "examples/keycloak.rs"],
        "README blocks checked"
    );
}

/// Runs an example that stops by itself; its stdout.
fn stdout_of_run(name: &str) -> String {
    let mut command = command(name, &[]);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(command.output());
    });
    let output = rx
        .recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("{name} still running after {WAIT:?}"))
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    assert!(
        output.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

#[test]
fn prometheus_example_counts_what_the_layer_did() {
    let text = stdout_of_run("prometheus");
    // Two requests with one valid token (the second from the cache), one
    // expired token, one without a token.
    for line in [
        "oidc_bearer_verified_total 2\n",
        "oidc_bearer_cache_hits_total 1\n",
        "oidc_bearer_rejected_total{reason=\"expired\"} 1\n",
        "oidc_bearer_rejected_total{reason=\"missing_token\"} 1\n",
        "oidc_bearer_jwks_fetches_total 1\n",
        "oidc_bearer_jwks_fetch_failures_total 0\n",
        "# TYPE oidc_bearer_rejected_total counter\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[test]
fn openapi_example_declares_the_scheme_and_the_scopes_it_enforces() {
    let text = stdout_of_run("openapi");
    let json_start = text.find('{').expect("the document is printed");
    let json_end = text.rfind("\n}\n").expect("the document ends") + 2;
    let doc: Value = serde_json::from_str(&text[json_start..json_end]).expect("JSON document");
    let scheme = &doc["components"]["securitySchemes"]["oidc"];
    assert_eq!(scheme["type"], "openIdConnect");
    assert!(
        scheme["openIdConnectUrl"]
            .as_str()
            .unwrap()
            .ends_with("/.well-known/openid-configuration")
    );
    assert_eq!(
        doc["paths"]["/orders"]["get"]["security"],
        json!([{ "oidc": ["orders.read"] }])
    );
    assert_eq!(
        doc["paths"]["/orders"]["post"]["security"],
        json!([{ "oidc": ["orders.write"] }])
    );
    // And the router enforces what the document says.
    assert!(
        text.contains("GET /orders, scope \"orders.read\" -> 200 OK"),
        "{text}"
    );
    assert!(
        text.contains("GET /orders, scope \"profile\" -> 403 Forbidden")
            && text.contains("scope=\"orders.read\""),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_api_example_serves_your_own_provider() {
    let issuer = oidc_bearer_testkit::TestIssuer::start().await;
    let api = start(
        "protected_api",
        &[
            ("OIDC_ISSUER", issuer.issuer.clone()),
            ("OIDC_AUDIENCE", "my-api".into()),
        ],
    );
    let me = format!("{}/me", api.base);
    let ok = call("GET", &me, Some(&issuer.token("my-api"))).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body.contains("\"sub\":\"user-1\""), "{}", ok.body);
    let other = call("GET", &me, Some(&issuer.token("another-api"))).await;
    assert_eq!(other.status, 401);
    assert!(other.challenge.unwrap().contains("invalid audience"));
    // The readiness endpoint needs no token; an unknown path stays 404.
    let health = call("GET", &format!("{}/healthz", api.base), None).await;
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(
        call("GET", &format!("{}/nope", api.base), None)
            .await
            .status,
        404
    );
}

// ------------------------------------- without axum: hyper, tonic, WebSocket

/// `text` with every run of whitespace made one space, to compare printed
/// table rows without their column padding.
fn squeezed(text: &str) -> String {
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each of `rows` is a line of `text` (whitespace squeezed), and no token
/// was printed (a JWT starts with the base64url of `{"`).
fn assert_rows(text: &str, rows: &[&str]) {
    let printed = squeezed(text);
    for row in rows {
        assert!(
            printed.lines().any(|line| line == *row),
            "missing row {row:?} in:\n{text}"
        );
    }
    assert!(!text.contains("eyJ"), "a token was printed:\n{text}");
}

#[test]
fn hyper_example_puts_the_layer_on_a_plain_hyper_service() {
    let text = stdout_of_run("hyper");
    assert_rows(
        &text,
        &[
            "no token 401 WWW-Authenticate: Bearer",
            "valid token 200 hello alice",
        ],
    );
}

#[test]
fn tonic_example_maps_refusals_to_grpc_codes() {
    let text = stdout_of_run("tonic");
    assert_rows(
        &text,
        &[
            r#"no token Unauthenticated "no bearer token in the request""#,
            r#"expired token Unauthenticated "token expired""#,
            r#"token without health.read PermissionDenied "insufficient scope: scope health.read required""#,
            "valid token OK SERVING",
        ],
    );
}

#[test]
fn websocket_example_verifies_before_the_upgrade_and_before_the_first_message() {
    let text = stdout_of_run("websocket");
    assert_rows(
        &text,
        &[
            // (a) Only `bearer` is echoed; a bad or missing token is the
            // HTTP layer's 401, never a 101.
            r#"valid token 101, protocol "bearer"; server: "hello alice", "echo: ping""#,
            r#"expired token 401 (no upgrade), WWW-Authenticate: Bearer error="invalid_token", error_description="token expired""#,
            "no token 401 (no upgrade), WWW-Authenticate: Bearer",
            // (b) The message sent right after a bad token is never
            // answered: the socket is closed with 1008 first.
            r#"valid token server: "hello alice", "echo: ping""#,
            r#"expired token server: "closed 1008 \"token expired\"", "-""#,
        ],
    );
}
