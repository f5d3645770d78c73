//! DPoP through the layer over real HTTP: the schemes each mode accepts
//! and the challenges of its refusals, server nonces, `htu` normalisation
//! and `external_url`, and a replay store that cannot answer.

use std::time::Duration;

use axum::{Router, routing::get};
use oidc_bearer::clock::{Clock as _, ManualClock};
use oidc_bearer::dpop::{MemoryReplayStore, Nonces, jwk_thumbprint};
use oidc_bearer::rejection::ProblemJson;
use oidc_bearer::{Dpop, StandardClaims, Validator};
use oidc_bearer_testkit::{KeyKind, TestIssuer, TestKey, dpop_proof, now};
use reqwest::StatusCode;

mod common;
#[path = "common/dpop.rs"]
mod support;
use common::{Api, serve, validator_for};
use support::{ALGS, AUDIENCE, api, client, echo, get_with_proof, send};

#[tokio::test]
async fn schemes_per_mode_and_their_challenges() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let client = client(&issuer, KeyKind::EcP256);
    let unbound = issuer.token(AUDIENCE);

    // Bearer or DPoP: both challenges, the error on the scheme used.
    let both = api(&validator, Dpop::allowed().plain_http()).await;
    send(&both, "GET", "/me", &[&format!("Bearer {unbound}")], &[])
        .await
        .ok();
    let anonymous = send(&both, "GET", "/me", &[], &[]).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.challenges,
        [
            r#"Bearer realm="orders""#.to_owned(),
            format!(r#"DPoP realm="orders", algs="{ALGS}""#)
        ]
    );
    let as_bearer = send(
        &both,
        "GET",
        "/me",
        &[&format!("Bearer {}", client.token)],
        &[],
    )
    .await;
    assert_eq!(
        as_bearer.challenges,
        [
            r#"Bearer realm="orders", error="invalid_token", error_description="DPoP-bound token sent with the Bearer scheme""#.to_owned(),
            format!(r#"DPoP realm="orders", algs="{ALGS}""#),
        ]
    );
    // Even with a proof beside it: the scheme says Bearer.
    let proof = client.proof(&both, "GET").sign(&client.key);
    let with_proof = send(
        &both,
        "GET",
        "/me",
        &[&format!("Bearer {}", client.token)],
        &[&proof],
    )
    .await;
    assert_eq!(with_proof.status, StatusCode::UNAUTHORIZED);
    // An unbound token with the DPoP scheme, with a valid proof for it.
    let stranger = TestKey::generate(KeyKind::EcP256, "stranger");
    let proof = dpop_proof(
        &stranger,
        "GET",
        &format!("{}/me", both.base),
        Some(&unbound),
    )
    .sign(&stranger);
    let answer = send(
        &both,
        "GET",
        "/me",
        &[&format!("DPoP {unbound}")],
        &[&proof],
    )
    .await;
    answer.dpop_refused("invalid_token", "the token is not DPoP-bound");
    assert_eq!(answer.challenges[0], r#"Bearer realm="orders""#);
    // A bad token with the DPoP scheme: invalid_token on the DPoP challenge.
    let expired = issuer
        .builder(AUDIENCE)
        .claim("exp", now() - 7200)
        .claim("cnf", serde_json::json!({ "jkt": jwk_thumbprint(&client.key.public_jwk().to_string()).unwrap() }))
        .sign(&issuer.key);
    get_with_proof(&both, &client.key, &expired)
        .await
        .dpop_refused("invalid_token", "token expired");
    // A malformed DPoP credential: 400 on the DPoP challenge.
    for value in ["DPoP a b", "DPoP", "dpop\tabc", "DPoP  "] {
        let malformed = send(&both, "GET", "/me", &[value], &[]).await;
        assert_eq!(
            malformed.status,
            StatusCode::BAD_REQUEST,
            "{value:?}: {malformed:?}"
        );
        assert!(
            malformed
                .dpop_challenge()
                .contains(r#"error="invalid_request""#)
        );
    }

    // DPoP required: one challenge, and bearer tokens refused.
    let required = api(&validator, Dpop::required().plain_http()).await;
    let answer = send(
        &required,
        "GET",
        "/me",
        &[&format!("Bearer {unbound}")],
        &[],
    )
    .await;
    assert_eq!(
        answer.challenges,
        [format!(
            r#"DPoP realm="orders", algs="{ALGS}", error="invalid_token", error_description="this resource requires the DPoP scheme with a proof""#
        )]
    );
    let proof = client.proof(&required, "GET").sign(&client.key);
    client.get(&required, &proof).await.ok();

    // Bearer only: bound tokens refused, the DPoP scheme is no credentials.
    let bearer_only = api(
        &validator,
        Dpop::bearer_only().algs([oidc_bearer::keys::Algorithm::ES256]),
    )
    .await;
    send(
        &bearer_only,
        "GET",
        "/me",
        &[&format!("Bearer {unbound}")],
        &[],
    )
    .await
    .ok();
    let answer = send(
        &bearer_only,
        "GET",
        "/me",
        &[&format!("Bearer {}", client.token)],
        &[],
    )
    .await;
    assert_eq!(
        answer.challenges,
        [
            r#"Bearer realm="orders", error="invalid_token", error_description="DPoP-bound token sent with the Bearer scheme""#
        ]
    );
    let answer = send(
        &bearer_only,
        "GET",
        "/me",
        &[&format!("DPoP {}", client.token)],
        &[&proof],
    )
    .await;
    assert_eq!(answer.challenges, [r#"Bearer realm="orders""#]);

    // A custom body keeps the challenges.
    let app = Router::new().route("/me", get(echo)).route_layer(
        validator
            .layer::<StandardClaims>()
            .dpop(
                Dpop::required()
                    .plain_http()
                    .algs([oidc_bearer::keys::Algorithm::ES256]),
            )
            .on_rejection(ProblemJson),
    );
    let problem = serve(app).await;
    let answer = send(
        &problem,
        "GET",
        "/me",
        &[&format!("DPoP {}", client.token)],
        &[],
    )
    .await;
    assert_eq!(
        answer.challenges,
        [
            r#"DPoP algs="ES256", error="invalid_dpop_proof", error_description="invalid DPoP proof: exactly one DPoP header must carry the proof""#
        ]
    );
    assert!(answer.body.contains(r#""status":401"#), "{answer:?}");
}

#[tokio::test]
async fn nonces_are_issued_required_and_rotated() {
    let issuer = TestIssuer::start().await;
    let clock = ManualClock::new(now() as i64);
    let validator = validator_for(&issuer, AUDIENCE)
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    let api = api(
        &validator,
        Dpop::required()
            .plain_http()
            .nonces(Nonces::new().rotation(Duration::from_secs(60))),
    )
    .await;
    let client = client(&issuer, KeyKind::EcP256);

    let first = client
        .get(&api, &client.proof(&api, "GET").sign(&client.key))
        .await;
    first.dpop_refused(
        "use_dpop_nonce",
        "a DPoP proof with the server's current nonce is required",
    );
    let nonce = first.nonce.clone().expect("a DPoP-Nonce header");
    let with_nonce = |nonce: &str, iat: i64| {
        client
            .proof(&api, "GET")
            .claim("nonce", nonce)
            .claim("iat", iat)
            .sign(&client.key)
    };
    client
        .get(&api, &with_nonce(&nonce, clock.now()))
        .await
        .ok();
    client
        .get(&api, &with_nonce("not-our-nonce", clock.now()))
        .await
        .dpop_refused("use_dpop_nonce", "a DPoP proof");
    // Two rotations later the nonce is too old: a new one comes back.
    clock.advance(120);
    let stale = client.get(&api, &with_nonce(&nonce, clock.now())).await;
    stale.dpop_refused("use_dpop_nonce", "a DPoP proof");
    let fresh = stale.nonce.clone().unwrap();
    assert_ne!(fresh, nonce);
    client
        .get(&api, &with_nonce(&fresh, clock.now()))
        .await
        .ok();
}

#[tokio::test]
async fn htu_is_compared_after_normalisation_and_behind_a_proxy() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let client = client(&issuer, KeyKind::Ed25519);
    let api = api(&validator, Dpop::allowed().plain_http()).await;
    let port = api.base.rsplit(':').next().unwrap().to_owned();
    // A fresh proof of the client for `GET htu`.
    let proof_for =
        |htu: &str| dpop_proof(&client.key, "GET", htu, Some(&client.token)).sign(&client.key);
    for htu in [
        format!("HTTP://127.0.0.1:{port}/me?page=2#top"),
        format!("http://127.0.0.1:{port}/%6De"),
    ] {
        let proof = proof_for(&htu);
        client.get(&api, &proof).await.ok();
    }
    // Behind a proxy: the URL clients use, whatever the Host.
    let proxied = api_with(
        &validator,
        Dpop::allowed().external_url("https://API.example.com:443/orders/"),
    )
    .await;
    let proof = proof_for("https://api.example.com/orders/me");
    client.get(&proxied, &proof).await.ok();
    let direct = proof_for(&format!("{}/me", proxied.base));
    client
        .get(&proxied, &direct)
        .await
        .dpop_refused("invalid_dpop_proof", "invalid DPoP proof: the proof htu");
    // `plain_http` after `external_url` keeps the external URL, whose
    // scheme is its own; a path the proxy added still counts.
    let both = api_with(
        &validator,
        Dpop::allowed()
            .external_url("https://api.example.com/orders")
            .plain_http(),
    )
    .await;
    let proof = proof_for("https://api.example.com/orders/me");
    client.get(&both, &proof).await.ok();
    for wrong in [
        "https://api.example.com/ordersme",
        "https://api.example.com/orders/me/",
        "https://api.example.com/me",
        "https://api.example.com/orders/mex",
    ] {
        let proof = proof_for(wrong);
        client
            .get(&both, &proof)
            .await
            .dpop_refused("invalid_dpop_proof", "invalid DPoP proof: the proof htu");
    }
}

async fn api_with(validator: &Validator, dpop: Dpop) -> Api {
    api(validator, dpop).await
}

#[tokio::test]
async fn a_full_replay_store_fails_closed_by_default_and_open_when_allowed() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let client = client(&issuer, KeyKind::EcP256);
    // 16 places, one per shard: full after at most 17 proofs.
    let closed = api(
        &validator,
        Dpop::allowed()
            .plain_http()
            .replay_store(MemoryReplayStore::new(1)),
    )
    .await;
    let mut refused = None;
    for _ in 0..64 {
        let answer = client
            .get(&closed, &client.proof(&closed, "GET").sign(&client.key))
            .await;
        if answer.status != StatusCode::OK {
            refused = Some(answer);
            break;
        }
    }
    let refused = refused.expect("a full store refuses");
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{refused:?}"
    );
    assert_eq!(refused.retry_after.as_deref(), Some("1"));
    assert_eq!(refused.challenges.len(), 2, "{refused:?}");
    let open = api(
        &validator,
        Dpop::allowed()
            .plain_http()
            .replay_store(MemoryReplayStore::new(1))
            .allow_replays_when_store_fails(),
    )
    .await;
    for _ in 0..64 {
        client
            .get(&open, &client.proof(&open, "GET").sign(&client.key))
            .await
            .ok();
    }
}

/// `Host` is the client's to write: without `external_url`, the layer
/// rebuilds the request URI from it, so a `Host` that is not a plain
/// authority (`127.0.0.1:PORT/admin?`) must not move the path a proof is
/// compared with. Sent over a raw socket: HTTP clients refuse such a
/// header.
#[tokio::test]
async fn a_host_header_cannot_move_the_path_htu_is_compared_with() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let client = client(&issuer, KeyKind::EcP256);
    let api = api(&validator, Dpop::allowed().plain_http()).await;
    let authority = api.base.trim_start_matches("http://").to_owned();
    let raw = |host: String, proof: String, token: String| {
        let authority = authority.clone();
        async move {
            let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
            let request = format!(
                "GET /me HTTP/1.1\r\nHost: {host}\r\nAuthorization: DPoP {token}\r\n\
                 DPoP: {proof}\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut answer = String::new();
            tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
                .await
                .expect("the API answers in time")
                .unwrap();
            answer
        }
    };
    // The same request with its own Host is accepted.
    let proof = client.proof(&api, "GET").sign(&client.key);
    let answer = raw(authority.clone(), proof, client.token.clone()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // A proof signed for /admin, replayed at /me with a Host that would
    // rebuild the request URI as `http://HOST/admin?/me`.
    for host in [format!("{authority}/admin?"), format!("{authority}/admin#")] {
        let for_admin = dpop_proof(
            &client.key,
            "GET",
            &format!("http://{authority}/admin"),
            Some(&client.token),
        )
        .sign(&client.key);
        let answer = raw(host.clone(), for_admin, client.token.clone()).await;
        assert!(
            answer.starts_with("HTTP/1.1 401") || answer.starts_with("HTTP/1.1 400"),
            "{host}: {answer}"
        );
        assert!(!answer.contains("user-1"), "{host}: {answer}");
    }
}
