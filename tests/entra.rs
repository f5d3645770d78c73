//! Microsoft Entra ID as it really signs and sends tokens (issue 9):
//! a JWKS shaped like Microsoft's (`x5c`, `x5t`, a per-key `issuer`, no
//! `alg`), v1 and v2 access tokens, and Graph tokens sent to the wrong API.
//! Every case goes through the layer over real HTTP. The national clouds
//! (issue: Azure China v1 tokens) each have their issuers and their own
//! keys, served on 127.0.0.1 in place of the cloud's keys URL.

use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use oidc_bearer::issuers::IntoIssuers;
use oidc_bearer::providers::EntraTokenVersion;
use oidc_bearer::{Claims, EntraId, Error, Issuer, StandardClaims, Validator};
use oidc_bearer_testkit::{KeyKind, MockProvider, Reply, TestKey, TokenBuilder, now};
use serde_json::{Value, json};

mod common;
use common::{Answer, bearer, fetch, serve};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
const API_CLIENT_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const APP_ID_URI: &str = "api://orders";
const GRAPH: &str = "00000003-0000-0000-c000-000000000000";

fn v1_issuer(tenant: &str) -> String {
    format!("https://sts.windows.net/{tenant}/")
}

fn v2_issuer(tenant: &str) -> String {
    format!("https://login.microsoftonline.com/{tenant}/v2.0")
}

/// The tenant's JWKS as Microsoft publishes it: RSA with `x5c` and `x5t`,
/// no `alg`, and the templated v2 issuer on every key.
fn entra_jwks(key: &TestKey) -> Vec<u8> {
    let jwk = common::microsoft_jwk(key, "https://login.microsoftonline.com/{tenantid}/v2.0");
    serde_json::to_vec(&json!({ "keys": [jwk] })).unwrap()
}

/// A v1 access token's claims, as Entra documents them.
fn v1_claims(iss: &str, tid: &str) -> Value {
    let now = now();
    json!({
        "aud": APP_ID_URI, "iss": iss, "iat": now, "nbf": now, "exp": now + 3600,
        "appid": "a5d0e0f1-0000-4000-8000-000000000001", "appidacr": "0",
        "oid": "00000000-0000-0000-66f3-3332eca7ea81", "scp": "Orders.Read",
        "sub": "Lz6wXqlNh9qAYfgXa0ZMa0SmQq8dbT9JQqL5ALbd0i0", "tid": tid,
        "unique_name": "alice@contoso.com", "upn": "alice@contoso.com",
        "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "1.0"
    })
}

/// A v2 access token's claims.
fn v2_claims(iss: &str, tid: &str) -> Value {
    let now = now();
    json!({
        "aud": API_CLIENT_ID, "iss": iss, "iat": now, "nbf": now, "exp": now + 3600,
        "azp": "a5d0e0f1-0000-4000-8000-000000000001", "azpacr": "0",
        "name": "Alice", "oid": "00000000-0000-0000-66f3-3332eca7ea81",
        "preferred_username": "alice@contoso.com", "scp": "Orders.Read",
        "sub": "Lz6wXqlNh9qAYfgXa0ZMa0SmQq8dbT9JQqL5ALbd0i0", "tid": tid,
        "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "2.0"
    })
}

/// A validator for `issuer` and `audience` over the tenant's JWKS.
async fn entra_validator(issuer: String, audience: &str, key: &TestKey) -> Validator {
    Validator::builder()
        .issuer(issuer)
        .audience(audience)
        .jwks_json(entra_jwks(key))
        .build()
        .await
        .unwrap()
}

async fn me(claims: Claims<StandardClaims>) -> Json<Value> {
    Json(json!({ "sub": claims.sub, "tid": claims.tid }))
}

async fn call(validator: &Validator, token: &str) -> Answer {
    let api = serve(
        Router::new()
            .route("/me", get(me))
            .route_layer(validator.layer::<StandardClaims>()),
    )
    .await;
    fetch(&api, "/me", &[&bearer(token)]).await
}

fn refused_with(answer: &Answer, description: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    let challenge = answer.challenge.as_deref().unwrap_or_default();
    assert!(
        challenge.contains("error=\"invalid_token\"") && challenge.contains(description),
        "expected {description:?}: {answer:?}"
    );
}

/// The report: a real v1 token, configured exactly so, was refused as
/// "invalid issuer" because its key carries the v2 issuer.
#[tokio::test]
async fn v1_token_signed_by_a_key_bound_to_the_v2_issuer_is_accepted() {
    let key = TestKey::generate(KeyKind::Rsa2048, "nOo3ZDrODXEK1jKWhXslHR_KXEg");
    let validator = entra_validator(v1_issuer(TENANT), APP_ID_URI, &key).await;
    let token = TokenBuilder::new()
        .header("typ", "JWT")
        .header("x5t", key.x5t())
        .claims(v1_claims(&v1_issuer(TENANT), TENANT))
        .sign(&key);
    let answer = call(&validator, &token).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert!(answer.body.contains(TENANT), "{answer:?}");

    // Another tenant's token with that key: refused.
    let other = TokenBuilder::new()
        .claims(v1_claims(&v1_issuer(OTHER_TENANT), OTHER_TENANT))
        .sign(&key);
    refused_with(&call(&validator, &other).await, "invalid issuer");
    // An `iss` of this tenant with the `tid` of another: the key's binding
    // refuses it even though `iss` is the configured one.
    let mixed = TokenBuilder::new()
        .claims(v1_claims(&v1_issuer(TENANT), OTHER_TENANT))
        .sign(&key);
    refused_with(&call(&validator, &mixed).await, "invalid issuer");
}

/// v2 tokens keep working with the same key set, and the key's binding
/// still refuses a `tid` that disagrees with `iss`.
#[tokio::test]
async fn v2_token_with_the_same_keys_is_accepted_and_a_substituted_tid_refused() {
    let key = TestKey::generate(KeyKind::Rsa2048, "entra-v2");
    let validator = entra_validator(v2_issuer(TENANT), API_CLIENT_ID, &key).await;
    let token = TokenBuilder::new()
        .claims(v2_claims(&v2_issuer(TENANT), TENANT))
        .sign(&key);
    assert_eq!(call(&validator, &token).await.status, StatusCode::OK);
    let substituted = TokenBuilder::new()
        .claims(v2_claims(&v2_issuer(TENANT), OTHER_TENANT))
        .sign(&key);
    refused_with(&call(&validator, &substituted).await, "invalid issuer");
}

/// A token the SPA got for Microsoft Graph (`User.Read`) instead of for
/// the API: the answer says so, instead of "invalid signature".
#[tokio::test]
async fn microsoft_graph_tokens_are_refused_saying_what_to_change() {
    let key = TestKey::generate(KeyKind::Rsa2048, "entra-graph");
    let validator = entra_validator(v2_issuer(TENANT), API_CLIENT_ID, &key).await;
    let graph_claims = || {
        let mut claims = v1_claims(&v2_issuer(TENANT), TENANT);
        claims["aud"] = json!(GRAPH);
        claims["scp"] = json!("openid profile User.Read email");
        claims
    };
    // Graph's own shape: a `nonce` in the header, which makes the
    // signature unverifiable for anyone but Graph.
    let signed = TokenBuilder::new()
        .header("nonce", "Ve4lDlvhcP_5fJ-8m9-aTxCGAFyD7eXkGGDY6hcmJ0M")
        .claims(graph_claims())
        .sign(&key);
    let (head, rest) = signed.split_once('.').unwrap();
    let (payload, _) = rest.split_once('.').unwrap();
    let with_graph_signature = format!("{head}.{payload}.{}", "A".repeat(342));
    let described = "token issued for Microsoft Graph, not this API";
    refused_with(&call(&validator, &with_graph_signature).await, described);
    // Verifiable but for Graph's audience (either spelling): said the same.
    for aud in [GRAPH, "https://graph.microsoft.com"] {
        let mut claims = graph_claims();
        claims["aud"] = json!(aud);
        let token = TokenBuilder::new().claims(claims).sign(&key);
        refused_with(&call(&validator, &token).await, described);
    }
    // Any other wrong audience is still just that.
    let mut claims = graph_claims();
    claims["aud"] = json!("api://someone-else");
    let token = TokenBuilder::new().claims(claims).sign(&key);
    refused_with(&call(&validator, &token).await, "invalid audience");
}

/// A cloud as its tokens and keys show it (the values `EntraId::instance`
/// documents, with their sources): sign-in host, v2 and v1 issuers before
/// `/{tid}/…`.
struct Cloud {
    name: &'static str,
    instance: &'static str,
    v2: &'static str,
    v1: &'static str,
}

const CLOUDS: [Cloud; 3] = [
    Cloud {
        name: "global",
        instance: "https://login.microsoftonline.com",
        v2: "https://login.microsoftonline.com",
        v1: "https://sts.windows.net",
    },
    Cloud {
        name: "us-gov",
        instance: "https://login.microsoftonline.us",
        v2: "https://login.microsoftonline.us",
        v1: "https://sts.windows.net",
    },
    Cloud {
        name: "china",
        instance: "https://login.chinacloudapi.cn",
        v2: "https://login.partner.microsoftonline.cn",
        v1: "https://sts.chinacloudapi.cn",
    },
];

/// Each cloud's own signing key, published (at `/{cloud}/{tenant}/…`) as
/// Entra does: bound to the cloud's templated v2 issuer.
struct Clouds {
    provider: MockProvider,
    keys: Vec<TestKey>,
}

impl Clouds {
    async fn start() -> Clouds {
        let provider = MockProvider::start().await;
        let keys: Vec<TestKey> = CLOUDS
            .iter()
            .map(|cloud| TestKey::generate(KeyKind::Rsa2048, format!("{}-key", cloud.name)))
            .collect();
        for (cloud, key) in CLOUDS.iter().zip(&keys) {
            let jwk = common::microsoft_jwk(key, &format!("{}/{{tenantid}}/v2.0", cloud.v2));
            let jwks = Reply::json(&json!({ "keys": [jwk] }));
            for tenant in [TENANT, "common"] {
                provider.set(&Self::keys_path(cloud, tenant), jwks.clone());
            }
        }
        Clouds { provider, keys }
    }

    fn keys_path(cloud: &Cloud, tenant: &str) -> String {
        format!("/{}/{tenant}/discovery/v2.0/keys", cloud.name)
    }

    /// The preset for `cloud`, v1 and v2, with its keys fetched from here
    /// instead of `{instance}/{tenant}/discovery/v2.0/keys`.
    async fn validator(&self, cloud: &Cloud, multi_tenant: bool) -> Validator {
        let (preset, tenant) = if multi_tenant {
            (EntraId::multi_tenant(), "common")
        } else {
            (EntraId::tenant(TENANT), TENANT)
        };
        let issuers = preset
            .instance(cloud.instance)
            .audience(API_CLIENT_ID)
            .audience(APP_ID_URI)
            .token_version(EntraTokenVersion::V1AndV2)
            .into_issuers();
        let keys = self.provider.url(&Self::keys_path(cloud, tenant));
        let mut builder = Validator::builder();
        for issuer in issuers {
            builder = builder.trust(issuer.jwks_url(&keys));
        }
        builder.build().await.unwrap()
    }

    /// `cloud`'s v1 or v2 token for `TENANT`, signed with its key.
    fn token(&self, cloud: usize, v1: bool) -> String {
        let claims = if v1 {
            v1_claims(&format!("{}/{TENANT}/", CLOUDS[cloud].v1), TENANT)
        } else {
            v2_claims(&format!("{}/{TENANT}/v2.0", CLOUDS[cloud].v2), TENANT)
        };
        TokenBuilder::new()
            .header("typ", "JWT")
            .claims(claims)
            .sign(&self.keys[cloud])
    }
}

/// What a validator of one cloud answers for a token of another: the
/// issuer rule when the `iss` is another cloud's, the key when it is the
/// same (`sts.windows.net`, global and US Government) but the signature
/// is another cloud's.
fn expected_refusal(validator: &Cloud, token: &Cloud, v1: bool) -> &'static str {
    let same_iss = if v1 {
        validator.v1 == token.v1
    } else {
        validator.v2 == token.v2
    };
    if same_iss {
        "unknown key id"
    } else {
        "invalid issuer"
    }
}

/// The issue: a validator for Azure China trusted the global v1 issuer
/// and refused China's. Every cloud's v1 and v2 tokens pass its own
/// validator, single- and multi-tenant, and every other cloud's are
/// refused, over HTTP and through `verify`/`try_verify`.
#[tokio::test]
async fn each_cloud_accepts_its_own_v1_and_v2_tokens_and_refuses_the_other_clouds() {
    let clouds = Clouds::start().await;
    let mut seen = Vec::new();
    let mut wrong = Vec::new();
    for multi_tenant in [false, true] {
        for (at, cloud) in CLOUDS.iter().enumerate() {
            let validator = clouds.validator(cloud, multi_tenant).await;
            let api = serve(
                Router::new()
                    .route("/me", get(me))
                    .route_layer(validator.layer::<StandardClaims>()),
            )
            .await;
            for (from, token_cloud) in CLOUDS.iter().enumerate() {
                for v1 in [true, false] {
                    let token = clouds.token(from, v1);
                    let iss = if v1 {
                        format!("{}/{TENANT}/", token_cloud.v1)
                    } else {
                        format!("{}/{TENANT}/v2.0", token_cloud.v2)
                    };
                    let answer = fetch(&api, "/me", &[&bearer(&token)]).await;
                    let expected = (from != at).then(|| expected_refusal(cloud, token_cloud, v1));
                    let challenge = answer.challenge.clone().unwrap_or_default();
                    let right = match expected {
                        None => answer.status == StatusCode::OK && answer.body.contains(TENANT),
                        Some(description) => {
                            answer.status == StatusCode::UNAUTHORIZED
                                && challenge.contains("error=\"invalid_token\"")
                                && challenge
                                    .contains(&format!("error_description=\"{description}\""))
                        }
                    };
                    let verified = validator.verify::<StandardClaims>(&token).await;
                    let tried = validator.try_verify::<StandardClaims>(&token);
                    let direct_right =
                        [&verified, &tried]
                            .iter()
                            .all(|result| match (expected, result) {
                                (None, Ok(claims)) => claims.iss == iss,
                                (Some("invalid issuer"), Err(Error::InvalidIssuer)) => true,
                                (Some("unknown key id"), Err(Error::UnknownKey)) => true,
                                _ => false,
                            });
                    let line = format!(
                        "{} validator{}, {} v{} token: {} {challenge} / verify {:?} / \
                         try_verify {:?}",
                        cloud.name,
                        if multi_tenant { " (multi-tenant)" } else { "" },
                        token_cloud.name,
                        if v1 { 1 } else { 2 },
                        answer.status.as_u16(),
                        verified.as_ref().err(),
                        tried.as_ref().err(),
                    );
                    if !(right && direct_right) {
                        wrong.push(format!("{line}; expected {}", expected.unwrap_or("200")));
                    }
                    seen.push(line);
                }
            }
        }
    }
    println!("{}", seen.join("\n"));
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// An `Issuer` written by hand with China's v1 issuer shares the keys of
/// China's v2 issuer, as the preset's does; the global v1 issuer still
/// those of the global v2 issuer.
#[tokio::test]
async fn a_hand_written_v1_issuer_uses_the_keys_of_its_own_clouds_v2_issuer() {
    let clouds = Clouds::start().await;
    for (at, cloud) in CLOUDS
        .iter()
        .enumerate()
        .filter(|(_, c)| c.name != "us-gov")
    {
        let validator = Validator::builder()
            .trust(
                Issuer::new(format!("{}/{TENANT}/", cloud.v1))
                    .audience(APP_ID_URI)
                    .jwks_url(clouds.provider.url(&Clouds::keys_path(cloud, TENANT))),
            )
            .build()
            .await
            .unwrap();
        let answer = call(&validator, &clouds.token(at, true)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}: {answer:?}", cloud.name);
    }
}

/// A cloud whose v1 issuer is not known gets none guessed: `build()` says
/// how to set it, and a local server (as tests use) works once it is set.
#[tokio::test]
async fn an_unknown_instance_needs_its_v1_issuer_said_and_azure_germany_is_refused() {
    let clouds = Clouds::start().await;
    let local = format!("{}/global", clouds.provider.base_url());
    let v1_preset = || {
        EntraId::tenant(TENANT)
            .instance(&local)
            .audience(APP_ID_URI)
            .token_version(EntraTokenVersion::V1)
    };
    let error = Validator::builder()
        .trust(v1_preset())
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Config(message) if message.contains(&local)
            && message.contains(".v1_issuer(")),
        "{error}"
    );
    // Said explicitly: the global v1 token passes with the key bound to
    // this instance's v2 issuer.
    let key = &clouds.keys[0];
    clouds.provider.set(
        &Clouds::keys_path(&CLOUDS[0], TENANT),
        Reply::json(
            &json!({ "keys": [common::microsoft_jwk(key, &format!("{local}/{{tenantid}}/v2.0"))] }),
        ),
    );
    let validator = Validator::builder()
        .trust(v1_preset().v1_issuer("https://sts.windows.net"))
        .build()
        .await
        .unwrap();
    let answer = call(&validator, &clouds.token(0, true)).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    refused_with(
        &call(&validator, &clouds.token(2, true)).await,
        "invalid issuer",
    );

    let error = Validator::builder()
        .trust(
            EntraId::tenant(TENANT)
                .instance("https://login.microsoftonline.de")
                .audience(API_CLIENT_ID),
        )
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Config(message) if message.contains("Azure Germany")
            && message.contains("closed")),
        "{error}"
    );
}
