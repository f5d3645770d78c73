//! DPoP (RFC 9449) through the layer over real HTTP on 127.0.0.1: tokens
//! bound to a client key (`cnf.jkt`) from the test issuer, proofs signed
//! by the client's own key: accepted once, and every proof check refusing.
//! (Schemes, challenges, nonces, `htu` and the store: `tests/dpop_schemes.rs`.)

use std::time::Duration;

use oidc_bearer::Dpop;
use oidc_bearer::clock::ManualClock;
use oidc_bearer::keys::Algorithm;
use oidc_bearer_testkit::{KeyKind, TestIssuer, TestKey, dpop_proof, now};

mod common;
#[path = "common/dpop.rs"]
mod support;
use common::validator_for;
use support::{AUDIENCE, api, client, get_with_proof, send};

#[tokio::test]
async fn a_bound_token_with_its_proof_is_accepted_and_the_proof_only_once() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let api = api(&validator, Dpop::allowed().plain_http()).await;
    for kind in KeyKind::ALL {
        let client = client(&issuer, kind);
        let proof = client.proof(&api, "GET").sign(&client.key);
        let answer = client.get(&api, &proof).await;
        answer.ok();
        assert_eq!(answer.body, "user-1");
        // The same proof again: a replay.
        client.get(&api, &proof).await.dpop_refused(
            "invalid_dpop_proof",
            "invalid DPoP proof: the proof was used before",
        );
        // A fresh proof for the same (now cached) token: fine.
        let fresh = client.proof(&api, "GET").sign(&client.key);
        client.get(&api, &fresh).await.ok();
    }
    assert_eq!(validator.cached_tokens(), 4);
}

#[tokio::test]
async fn every_proof_check_refuses_with_invalid_dpop_proof() {
    let issuer = TestIssuer::start().await;
    let clock = ManualClock::new(now() as i64);
    let validator = validator_for(&issuer, AUDIENCE)
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    let api = api(
        &validator,
        Dpop::allowed()
            .plain_http()
            .acceptance_window(Duration::from_secs(30))
            .leeway(Duration::from_secs(5)),
    )
    .await;
    let client = client(&issuer, KeyKind::EcP256);
    let other_key = TestKey::generate(KeyKind::EcP256, "thief");
    let base = client.proof(&api, "GET");
    let t = now();
    let mut jwk_with_d = client.key.public_jwk();
    jwk_with_d["d"] = "c2VjcmV0".into();
    let unsigned = base.clone().claim("jti", "unsigned").unsigned("none");
    let mut tampered = base.clone().sign(&client.key);
    tampered.push('A');
    let cases: Vec<(&str, String)> = vec![
        (
            "the proof htm is not the request method",
            client.proof(&api, "POST").sign(&client.key),
        ),
        (
            "the proof htu is not the request URI",
            dpop_proof(
                &client.key,
                "GET",
                &format!("{}/other", api.base),
                Some(&client.token),
            )
            .sign(&client.key),
        ),
        (
            "the proof key is not the key the token is bound to",
            dpop_proof(
                &other_key,
                "GET",
                &format!("{}/me", api.base),
                Some(&client.token),
            )
            .sign(&other_key),
        ),
        (
            "the proof iat is outside the acceptance window",
            base.clone().claim("iat", t - 40).sign(&client.key),
        ),
        (
            "the proof iat is outside the acceptance window",
            base.clone().claim("iat", t + 10).sign(&client.key),
        ),
        (
            "the proof ath is not the hash",
            base.clone().claim("ath", "AAAA").sign(&client.key),
        ),
        (
            "the proof has no ath",
            base.clone().remove_claim("ath").sign(&client.key),
        ),
        (
            // The hash of the token, with a byte more: not 32 bytes.
            "the proof ath is not the hash",
            base.clone()
                .claim(
                    "ath",
                    format!("{}AA", oidc_bearer_testkit::ath(&client.token)),
                )
                .sign(&client.key),
        ),
        (
            "the proof lacks one of jti",
            base.clone().remove_claim("jti").sign(&client.key),
        ),
        (
            "the proof typ is not dpop+jwt",
            base.clone().header("typ", "JWT").sign(&client.key),
        ),
        (
            // A multi-byte character across byte 12 (the length of
            // "application/"): compared, not sliced.
            "the proof typ is not dpop+jwt",
            base.clone()
                .header("typ", "aaaaaaaaaaaéx")
                .sign(&client.key),
        ),
        (
            "the proof alg is not one of",
            base.clone().sign_hmac(b"secret", "HS256"),
        ),
        ("the proof alg is not one of", unsigned),
        (
            "the proof header has no jwk",
            base.clone().remove_header("jwk").sign(&client.key),
        ),
        (
            "the proof jwk holds private key members",
            base.clone().header("jwk", jwk_with_d).sign(&client.key),
        ),
        (
            "the proof jwk is not a usable key",
            base.clone()
                .header("jwk", other_key.public_jwk())
                .header("alg", "RS256")
                .sign_with(&client.key, "ES256"),
        ),
        ("the proof signature does not verify", tampered),
        ("the proof is not a compact JWS", "not-a-jws".to_owned()),
    ];
    for (description, proof) in &cases {
        client.get(&api, proof).await.dpop_refused(
            "invalid_dpop_proof",
            &format!("invalid DPoP proof: {description}"),
        );
    }
    // No DPoP header, or two.
    let good = base.clone().sign(&client.key);
    let auth = format!("DPoP {}", client.token);
    for proofs in [vec![], vec![good.as_str(), good.as_str()]] {
        send(&api, "GET", "/me", &[&auth], &proofs)
            .await
            .dpop_refused(
                "invalid_dpop_proof",
                "invalid DPoP proof: exactly one DPoP header",
            );
    }
    // Within the window and the leeway either way: accepted.
    for iat in [t - 34, t + 4] {
        client
            .get(
                &api,
                &base
                    .clone()
                    .claim("jti", format!("j{iat}"))
                    .claim("iat", iat)
                    .sign(&client.key),
            )
            .await
            .ok();
    }
    // The validator's clock decides: 40 s later the proof of now is stale.
    clock.advance(40);
    client
        .get(&api, &client.proof(&api, "GET").sign(&client.key))
        .await
        .dpop_refused(
            "invalid_dpop_proof",
            "invalid DPoP proof: the proof iat is outside",
        );
    // The method is compared as sent.
    let post = client
        .proof(&api, "POST")
        .claim("iat", t + 40)
        .sign(&client.key);
    send(&api, "POST", "/me", &[&auth], &[&post]).await.ok();
}

#[tokio::test]
async fn a_token_of_a_rotated_key_waits_for_the_refetch_then_its_proof_is_checked() {
    let mut issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE)
        .kid_refetch_cooldown(Duration::from_millis(10))
        .build()
        .await
        .unwrap();
    let api = api(&validator, Dpop::allowed().plain_http()).await;
    issuer.rotate(KeyKind::EcP256, "rotated");
    // The token's kid is new to the validator: the layer's slow path.
    let client = client(&issuer, KeyKind::Ed25519);
    let proof = client.proof(&api, "GET").sign(&client.key);
    let answer = client.get(&api, &proof).await;
    answer.ok();
    assert!(validator.keys().contains_kid("rotated"));
    client.get(&api, &proof).await.dpop_refused(
        "invalid_dpop_proof",
        "invalid DPoP proof: the proof was used before",
    );
    // The same path refuses a proof of another key after the wait.
    tokio::time::sleep(Duration::from_millis(50)).await;
    issuer.rotate(KeyKind::EcP256, "rotated-again");
    let token = support::bound_token(&issuer, &client.key);
    let thief = TestKey::generate(KeyKind::Ed25519, "thief");
    let stolen = dpop_proof(&thief, "GET", &format!("{}/me", api.base), Some(&token)).sign(&thief);
    send(&api, "GET", "/me", &[&format!("DPoP {token}")], &[&stolen])
        .await
        .dpop_refused(
            "invalid_dpop_proof",
            "invalid DPoP proof: the proof key is not the key the token is bound to",
        );
}

/// The key a token is bound to is read once, when the token is verified,
/// and kept with it in the verified-token cache: a cached token is held to
/// its binding exactly as a fresh one, whichever scheme comes next.
#[tokio::test]
async fn a_cached_token_keeps_its_binding() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let api = api(&validator, Dpop::allowed().plain_http()).await;
    let client = client(&issuer, KeyKind::EcP256);
    let proof = client.proof(&api, "GET").sign(&client.key);
    client.get(&api, &proof).await.ok();
    assert_eq!(validator.cached_tokens(), 1);
    // Cached, and still a bound token: not a bearer token.
    let as_bearer = send(
        &api,
        "GET",
        "/me",
        &[&format!("Bearer {}", client.token)],
        &[],
    )
    .await;
    assert_eq!(as_bearer.status, 401, "{as_bearer:?}");
    assert!(
        as_bearer.challenges[0].contains("DPoP-bound token sent with the Bearer scheme"),
        "{as_bearer:?}"
    );
    // Cached, and still bound to the client's key only.
    let thief = TestKey::generate(KeyKind::EcP256, "thief");
    let stolen = dpop_proof(
        &thief,
        "GET",
        &format!("{}/me", api.base),
        Some(&client.token),
    )
    .sign(&thief);
    client.get(&api, &stolen).await.dpop_refused(
        "invalid_dpop_proof",
        "invalid DPoP proof: the proof key is not the key the token is bound to",
    );
    // An unbound token, cached by a Bearer request, stays unbound.
    let unbound = issuer.builder(AUDIENCE).sign(&issuer.key);
    let bearer = send(&api, "GET", "/me", &[&format!("Bearer {unbound}")], &[]).await;
    bearer.ok();
    assert_eq!(validator.cached_tokens(), 2);
    get_with_proof(&api, &client.key, &unbound)
        .await
        .dpop_refused("invalid_token", "the token is not DPoP-bound");
    // The token is still served from the cache, bound, after all that.
    let fresh = client.proof(&api, "GET").sign(&client.key);
    client.get(&api, &fresh).await.ok();
    assert_eq!(validator.cached_tokens(), 2);
}

/// `cnf` is a JSON object (RFC 7800 §3.1); a token whose `cnf` is not
/// one, or whose `jkt` is not a string, is refused by every layer, with
/// or without DPoP. A `jkt` that is no SHA-256 thumbprint binds the token
/// to no key a proof can have.
#[tokio::test]
async fn a_malformed_cnf_is_refused_and_an_odd_jkt_matches_no_key() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let dpop = api(&validator, Dpop::allowed().plain_http()).await;
    let plain = support::plain_api(&validator).await;
    let jkt = jwk_thumbprint_of(&TestKey::generate(KeyKind::EcP256, "k"));
    for cnf in [
        serde_json::json!("x"),
        serde_json::json!({ "jkt": 5 }),
        serde_json::json!([jkt]),
        serde_json::json!([]),
    ] {
        let token = issuer.builder(AUDIENCE).claim("cnf", cnf).sign(&issuer.key);
        for api in [&dpop, &plain] {
            let seen = send(api, "GET", "/me", &[&format!("Bearer {token}")], &[]).await;
            assert_eq!(seen.status, 401, "{seen:?}");
            assert!(
                seen.challenges[0]
                    .contains("error_description=\"invalid claim: cnf is not a JSON object"),
                "{seen:?}"
            );
        }
    }
    let client = client(&issuer, KeyKind::EcP256);
    let odd = issuer
        .builder(AUDIENCE)
        .claim("cnf", serde_json::json!({ "jkt": "not-a-thumbprint" }))
        .sign(&issuer.key);
    let proof =
        dpop_proof(&client.key, "GET", &format!("{}/me", dpop.base), Some(&odd)).sign(&client.key);
    send(&dpop, "GET", "/me", &[&format!("DPoP {odd}")], &[&proof])
        .await
        .dpop_refused(
            "invalid_dpop_proof",
            "invalid DPoP proof: the proof key is not the key the token is bound to",
        );
    let as_bearer = send(&dpop, "GET", "/me", &[&format!("Bearer {odd}")], &[]).await;
    assert_eq!(as_bearer.status, 401, "{as_bearer:?}");
}

fn jwk_thumbprint_of(key: &TestKey) -> String {
    oidc_bearer::dpop::jwk_thumbprint(&key.public_jwk().to_string()).unwrap()
}

/// A token bound by a confirmation method the layer cannot check (RFC
/// 8705's certificate thumbprint) is refused by a layer with DPoP
/// settings in either scheme: accepting it would drop the binding. A
/// layer without DPoP settings does not look at `cnf`, as documented.
#[tokio::test]
async fn a_token_bound_another_way_is_refused_by_a_dpop_layer() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let dpop = api(&validator, Dpop::allowed().plain_http()).await;
    let plain = support::plain_api(&validator).await;
    let cert_bound = issuer
        .builder(AUDIENCE)
        .claim(
            "cnf",
            serde_json::json!({ "x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2" }),
        )
        .sign(&issuer.key);
    let description = "the token is bound by a confirmation method this resource cannot check";
    let as_bearer = send(&dpop, "GET", "/me", &[&format!("Bearer {cert_bound}")], &[]).await;
    assert_eq!(as_bearer.status, 401, "{as_bearer:?}");
    assert!(
        as_bearer.challenges[0].contains(&format!(
            r#"error="invalid_token", error_description="{description}""#
        )),
        "{as_bearer:?}"
    );
    let client = client(&issuer, KeyKind::EcP256);
    get_with_proof(&dpop, &client.key, &cert_bound)
        .await
        .dpop_refused("invalid_token", description);
    send(
        &plain,
        "GET",
        "/me",
        &[&format!("Bearer {cert_bound}")],
        &[],
    )
    .await
    .ok();
    // An empty `cnf` names no method: a bearer token.
    let empty = issuer
        .builder(AUDIENCE)
        .claim("cnf", serde_json::json!({}))
        .sign(&issuer.key);
    send(&dpop, "GET", "/me", &[&format!("Bearer {empty}")], &[])
        .await
        .ok();
}

/// A client's proofs share one protected header, whose checks the layer
/// makes once; what depends on the proof (its signature, its claims) is
/// still checked on every proof, and a layer whose settings were cloned
/// before `.algs(..)` narrowed them still applies its own allow-list to a
/// header another layer accepted.
#[tokio::test]
async fn a_header_seen_before_still_has_its_signature_and_alg_checked() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let shared = Dpop::allowed().plain_http();
    let wide = api(&validator, shared.clone()).await;
    let narrow = api(&validator, shared.clone().algs([Algorithm::RS256])).await;
    let client = client(&issuer, KeyKind::EcP256);
    get_with_proof(&wide, &client.key, &client.token).await.ok();
    // The same header, another proof: refused by the layer that does not
    // accept ES256, first and again.
    for _ in 0..2 {
        let refused = get_with_proof(&narrow, &client.key, &client.token).await;
        refused.dpop_refused(
            "invalid_dpop_proof",
            "invalid DPoP proof: the proof alg is not one of the accepted algs",
        );
        assert!(
            refused.dpop_challenge().contains(r#"algs="RS256""#),
            "{refused:?}"
        );
    }
    // Accepted where it is accepted, still.
    get_with_proof(&wide, &client.key, &client.token).await.ok();
    // The header the layer knows, with another key's signature: refused.
    let thief = TestKey::generate(KeyKind::EcP256, "thief");
    let forged = client.proof(&wide, "GET").sign_with(&thief, "ES256");
    assert_eq!(
        forged.split('.').next(),
        client
            .proof(&wide, "GET")
            .sign(&client.key)
            .split('.')
            .next(),
        "the forged proof carries the client's header"
    );
    client.get(&wide, &forged).await.dpop_refused(
        "invalid_dpop_proof",
        "invalid DPoP proof: the proof signature does not verify with its jwk",
    );
    // And its claims: a proof for POST, sent with GET.
    let post = client.proof(&wide, "POST").sign(&client.key);
    client.get(&wide, &post).await.dpop_refused(
        "invalid_dpop_proof",
        "invalid DPoP proof: the proof htm is not the request method",
    );
    // A header too long to be remembered (padded with a member nobody
    // reads) is checked on each proof: accepted, and refused for `typ`.
    let padded = || client.proof(&wide, "GET").header("pad", "p".repeat(2000));
    for _ in 0..2 {
        client.get(&wide, &padded().sign(&client.key)).await.ok();
    }
    let wrong_typ = padded().header("typ", "JWT").sign(&client.key);
    client.get(&wide, &wrong_typ).await.dpop_refused(
        "invalid_dpop_proof",
        "invalid DPoP proof: the proof typ is not dpop+jwt",
    );
}

/// A handler reads from `AuthContext` that a request came with the `DPoP`
/// scheme (and an unbound token with `Bearer`), through the same layer.
#[tokio::test]
async fn a_handler_sees_which_scheme_admitted_the_token() {
    use axum::{Router, routing::get};
    use oidc_bearer::{AuthContext, StandardClaims, credentials::Scheme};

    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, AUDIENCE).build().await.unwrap();
    let scheme = |context: AuthContext| async move {
        match context.scheme() {
            Some(Scheme::Dpop) => "dpop",
            Some(Scheme::Bearer) => "bearer",
            _ => "other",
        }
    };
    let app = Router::new().route("/me", get(scheme)).route_layer(
        validator
            .layer::<StandardClaims>()
            .dpop(Dpop::allowed().plain_http()),
    );
    let api = common::serve(app).await;
    let client = client(&issuer, KeyKind::EcP256);
    let proof = client.proof(&api, "GET").sign(&client.key);
    let answer = client.get(&api, &proof).await;
    answer.ok();
    assert_eq!(answer.body, "dpop");
    let unbound = issuer.token(AUDIENCE);
    let answer = send(&api, "GET", "/me", &[&format!("Bearer {unbound}")], &[]).await;
    answer.ok();
    assert_eq!(answer.body, "bearer");
}
