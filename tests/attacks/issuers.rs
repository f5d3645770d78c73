//! Issuer confusion: a token signed with issuer A's key material (shared
//! secret, JWKS keys of every type, PEM) that names issuer B is refused,
//! whatever the key kind, because the `iss` only ever selects B's own keys;
//! and an `iss` that merely has a multi-tenant template's shape selects no
//! issuer at all, so it costs no key lookup and no fetch.

use oidc_bearer::clock::ManualClock;
use oidc_bearer::issuers::IntoIssuers;
use oidc_bearer::providers::EntraTokenVersion;
use oidc_bearer::{EntraId, Error, Issuer, Validator};
use oidc_bearer_testkit::{KeyKind, MockProvider, Reply, TestKey, jwks};
use serde_json::json;

use super::*;

/// Issuer A: the application's own services (secret, JWKS, PEM).
const A: &str = "https://internal.service.test";
/// Issuer B: the identity provider users sign in at.
const B: &str = "https://login.example.test/realms/users";
const SECRET_A: &[u8] = b"internal-services-secret-32-bytes!!";

/// B's one signing key: under the same `kid` as A's RSA key, so a lookup
/// by `kid` alone would find it.
static B_RSA: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate(KeyKind::Rsa2048, "rsa-1"));

fn naming(iss: &str) -> TokenBuilder {
    token().claim("iss", iss).claim("roles", json!(["Admin"]))
}

/// Everything A can sign with, as tokens naming `iss`: each HMAC
/// algorithm with A's secret, and each public-key algorithm with A's
/// JWKS keys, with and without `kid`.
fn signed_by_a(iss: &str) -> Vec<(String, String)> {
    let mut tokens = Vec::new();
    for alg in ["HS256", "HS384", "HS512"] {
        tokens.push((alg.to_owned(), naming(iss).sign_hmac(SECRET_A, alg)));
    }
    for (key, alg) in [
        (&*RSA, "RS256"),
        (&*RSA, "RS512"),
        (&*RSA, "PS256"),
        (&*P256, "ES256"),
        (&*P384, "ES384"),
        (&*ED, "EdDSA"),
    ] {
        tokens.push((format!("{alg} kid"), naming(iss).sign_with(key, alg)));
        let no_kid = naming(iss).without_kid().sign_with(key, alg);
        tokens.push((format!("{alg} no kid"), no_kid));
    }
    tokens
}

/// What B's validator answers a token A signed: B has no secret, and its
/// keys are not A's.
fn refusal_of(what: &str) -> &'static str {
    match what {
        w if w.starts_with("HS") => "unsupported algorithm",
        // B publishes one RSA key, under A's RSA kid.
        w if w.starts_with("RS") || w.starts_with("PS") => "invalid signature",
        w if w.ends_with("no kid") => "algorithm does not match the key",
        _ => "unknown key id",
    }
}

fn issuer_b() -> Issuer {
    Issuer::new(B)
        .audience(AUD)
        .jwks_json(jwks(&[&B_RSA]).to_string())
}

#[tokio::test]
async fn the_builders_secret_and_keys_never_verify_a_token_naming_a_trusted_issuer() {
    let v = Validator::builder()
        .issuer(A)
        .audience(AUD)
        .jwks_json(jwks(&[&RSA, &P256, &P384, &ED]).to_string())
        .hmac_secret(SECRET_A.to_vec())
        .trust(issuer_b())
        .clock(ManualClock::new(NOW))
        .build()
        .await
        .expect("validator builds");
    for (what, forged) in signed_by_a(B) {
        let expected = refusal_of(&what);
        refuses(&v, &forged, expected).await;
    }
    // The right values: A's material signs for A, B's key for B.
    for (_, own) in signed_by_a(A) {
        accepts(&v, &own).await;
    }
    accepts(&v, &naming(B).sign(&B_RSA)).await;
}

#[tokio::test]
async fn a_secret_set_on_one_trusted_issuer_signs_for_that_issuer_only() {
    // Entra ID's tenant issuers as the issuer the secret must not reach.
    let tenant = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
    let entra: Vec<Issuer> = EntraId::tenant(tenant)
        .audience(AUD)
        .token_version(EntraTokenVersion::V1AndV2)
        .into_issuers()
        .into_iter()
        .map(|issuer| issuer.jwks_json(jwks(&[&B_RSA]).to_string()))
        .collect();
    let v = Validator::builder()
        .trust(Issuer::new(A).audience(AUD).hmac_secret(SECRET_A.to_vec()))
        .trust(issuer_b())
        .trust(entra)
        .clock(ManualClock::new(NOW))
        .build()
        .await
        .expect("validator builds");
    let entra_v2 = format!("https://login.microsoftonline.com/{tenant}/v2.0");
    let entra_v1 = format!("https://sts.windows.net/{tenant}/");
    for iss in [B, &entra_v2, &entra_v1] {
        for alg in ["HS256", "HS384", "HS512"] {
            let forged = naming(iss).claim("tid", tenant).sign_hmac(SECRET_A, alg);
            refuses(&v, &forged, "unsupported algorithm").await;
        }
    }
    accepts(&v, &naming(A).sign_hmac(SECRET_A, "HS256")).await;
    accepts(&v, &naming(B).sign(&B_RSA)).await;
    // A has no published keys: its name on an RSA token finds none.
    refuses(&v, &naming(A).sign(&RSA), "unknown key id").await;
}

#[tokio::test]
async fn a_pem_key_verifies_its_own_issuers_tokens_only() {
    // A PEM key without kid verifies every token of its issuer, whatever
    // kid it names: still never one naming another issuer.
    let v = Validator::builder()
        .trust(Issuer::new(A).audience(AUD).pem_key(RSA.public_pem(), None))
        .trust(issuer_b())
        .clock(ManualClock::new(NOW))
        .build()
        .await
        .expect("validator builds");
    for alg in ["RS256", "RS384", "PS512"] {
        refuses(&v, &naming(B).sign_with(&RSA, alg), "invalid signature").await;
        let other_kid = naming(B).header("kid", "pem").sign_with(&RSA, alg);
        refuses(&v, &other_kid, "unknown key id").await;
        accepts(&v, &naming(A).sign_with(&RSA, alg)).await;
    }
}

#[tokio::test]
async fn a_key_source_on_the_builder_without_its_issuer_is_a_build_error() {
    let without_issuer = [
        Validator::builder().hmac_secret(SECRET_A.to_vec()),
        Validator::builder().jwks_json(jwks(&[&RSA]).to_string()),
        Validator::builder().pem_key(RSA.public_pem(), None),
    ];
    for builder in without_issuer {
        let error = builder.trust(issuer_b()).build().await.unwrap_err();
        let Error::Config(message) = error else {
            panic!("not a configuration error: {error}");
        };
        assert!(
            message.contains("belongs to exactly one issuer"),
            "{message}"
        );
    }
    // A secret too short for HS256 (RFC 7518 §3.2) is refused on an issuer
    // as on the builder.
    let short = Validator::builder()
        .trust(Issuer::new(A).audience(AUD).hmac_secret(b"short".to_vec()))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(short, Error::Config(m) if m.contains("32 bytes")));
}

#[tokio::test]
async fn an_iss_with_only_the_multi_tenant_shape_costs_no_fetch() {
    let provider = MockProvider::start().await;
    let signer = TestKey::generate(KeyKind::Rsa2048, "published");
    provider.set("/keys", Reply::jwks(&[&signer]));
    let keys = provider.url("/keys");
    let entra: Vec<Issuer> = EntraId::multi_tenant()
        .audience(AUD)
        .token_version(EntraTokenVersion::V1AndV2)
        .into_issuers()
        .into_iter()
        .map(|issuer| issuer.jwks_url(&keys))
        .collect();
    let v = Validator::builder()
        .trust(entra)
        .clock(ManualClock::new(NOW))
        .build()
        .await
        .expect("validator builds");
    assert_eq!(provider.hits("/keys"), 1, "the first fetch");

    let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let other = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
    let v2 = |t: &str| format!("https://login.microsoftonline.com/{t}/v2.0");
    let v1 = |t: &str| format!("https://sts.windows.net/{t}/");
    // Each is signed by a key under a kid nobody publishes: were the issuer
    // selected, that kid would cost a JWKS fetch.
    let unknown = TestKey::generate(KeyKind::Rsa2048, "unknown-kid");
    let shaped = [
        (v2("evil"), Some("evil")),
        (v2("common"), Some("common")),
        (v2("consumers"), Some("consumers")),
        (v2("organizations"), Some(tid)),
        (v2("{tenantid}"), Some("{tenantid}")),
        (v2(tid), Some(other)),
        (v2(&tid.to_uppercase()), Some(tid)),
        (format!("{}/", v2(tid)), Some(tid)),
        (format!("https://sts.windows.net/{tid}//"), Some(tid)),
        (format!("https://sts.windows.net//{tid}/"), Some(tid)),
        (v1("{tenantid}"), Some("{tenantid}")),
        (v1(other), Some(tid)),
        (format!("https://sts.windows.net/{tid}/x/"), Some(tid)),
    ];
    for (iss, tid) in &shaped {
        let mut token = token().claim("iss", iss.as_str());
        if let Some(tid) = tid {
            token = token.claim("tid", *tid);
        }
        refuses(&v, &token.sign(&unknown), "invalid issuer").await;
    }
    let no_tid = token().claim("iss", v2(tid)).sign(&unknown);
    refuses(&v, &no_tid, "missing required claim: tid").await;
    assert_eq!(
        provider.hits("/keys"),
        1,
        "an iss naming no trusted issuer fetched keys"
    );
    // The right value: the issuer's own iss and tid, an unknown kid: one
    // refetch, so the count above would have seen any.
    let named = token().claim("iss", v2(tid)).claim("tid", tid);
    refuses(&v, &named.clone().sign(&unknown), "unknown key id").await;
    assert_eq!(provider.hits("/keys"), 2);
    accepts(&v, &named.sign(&signer)).await;
}
