//! One criterion run, one group per algorithm (RS256, ES256), five contenders
//! per group on the same key, the same JWKS URL and the same token:
//!
//! - `noauth`: axum without auth (the floor),
//! - `oidc-bearer`: the layer with its default token cache, repeated token,
//! - `oidc-bearer-nocache`: the layer with `.token_cache_size(0)`,
//! - `jwt-authorizer`: jwt-authorizer 0.15's layer,
//! - `axum-jwt-auth`: axum-jwt-auth 0.7's extractor.
//!
//! Each iteration sends `GET /` with `Authorization: Bearer <token>` through
//! the contender's axum router with `tower::ServiceExt::oneshot` on a
//! current-thread tokio runtime, and asserts the 200. Before measuring,
//! every contender must answer 200 for the token and 401 for a tampered,
//! wrong-audience, wrong-issuer, expired, not-yet-valid, wrongly signed and
//! missing token.
//!
//! A second group per algorithm (`RS256-verify-only`, `ES256-verify-only`)
//! takes HTTP away and times what sits underneath: each library's verify
//! function on the same token (oidc-bearer `try_verify` without cache,
//! jsonwebtoken 9 `decode` as jwt-authorizer calls it, jsonwebtoken 10
//! `decode` with `rust_crypto` as axum-jwt-auth calls it) and the bare
//! signature check of each crypto backend (aws-lc-rs with a key parsed once,
//! ring with the key components handed over per call, as jsonwebtoken 9
//! does). It shows how much of each contender's time is the signature and
//! so how far any layer can pull ahead.
//!
//! `cargo bench --bench compare -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use axum::http::StatusCode;
use criterion::{Criterion, criterion_group, criterion_main};
use oidc_bearer_compare::{
    AUDIENCE, BenchClaims, Contender, Fixture, bearer, check, request, router,
};
use oidc_bearer_testkit::KeyKind;
use tokio::runtime::Runtime;
use tower::ServiceExt as _;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn group(c: &mut Criterion, rt: &Runtime, kind: KeyKind) {
    let fixture = rt.block_on(Fixture::start(kind));
    let token = fixture.token(0);
    let routers: Vec<_> = Contender::ALL
        .into_iter()
        .map(|contender| {
            let router = rt
                .block_on(router(contender, &fixture))
                .unwrap_or_else(|e| panic!("{contender} ({}): {e}", fixture.alg()));
            rt.block_on(check(contender, &router, &fixture, &token))
                .unwrap_or_else(|e| panic!("{e}"));
            (contender, router)
        })
        .collect();
    eprintln!(
        "{}: all {} contenders answer 200 for the token and 401 for bad ones",
        fixture.alg(),
        routers.len()
    );

    let header = bearer(&token);
    let mut group = c.benchmark_group(fixture.alg());
    for (contender, router) in &routers {
        group.bench_function(contender.name(), |b| {
            b.to_async(rt).iter(|| {
                let call = router.clone().oneshot(request(Some(&header)));
                async move {
                    let response = call.await.expect("infallible");
                    assert_eq!(response.status(), StatusCode::OK);
                    black_box(response)
                }
            });
        });
    }
    group.finish();
}

/// `(message, signature) -> valid`.
type SignatureCheck = dyn Fn(&[u8], &[u8]) -> bool;

/// The bare verify functions and signature checks beneath the contenders.
fn verify_only(c: &mut Criterion, rt: &Runtime, kind: KeyKind) {
    let fixture = rt.block_on(Fixture::start(kind));
    let token = fixture.token(0);
    let alg = fixture.alg();
    let jwk = fixture.key.public_jwk();
    let (signing_input, signature) = token.rsplit_once('.').expect("compact JWS");
    let signature = oidc_bearer_testkit::b64url_decode(signature);

    let validator = rt
        .block_on(
            oidc_bearer::Validator::builder()
                .issuer(&fixture.issuer)
                .audience(AUDIENCE)
                .jwks_url(&fixture.jwks_url)
                .token_cache_size(0)
                .build(),
        )
        .expect("oidc-bearer validator");
    validator
        .try_verify::<BenchClaims>(&token)
        .expect("oidc-bearer verifies the token");

    let (jwt9_key, jwt9_validation) = {
        let jwk: jsonwebtoken9::jwk::Jwk = serde_json::from_value(jwk.clone()).expect("JWK");
        let alg = match alg {
            "RS256" => jsonwebtoken9::Algorithm::RS256,
            _ => jsonwebtoken9::Algorithm::ES256,
        };
        let mut validation = jsonwebtoken9::Validation::new(alg);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[fixture.issuer.as_str()]);
        validation.validate_nbf = true;
        let key = jsonwebtoken9::DecodingKey::from_jwk(&jwk).expect("jsonwebtoken 9 key");
        (key, validation)
    };
    jsonwebtoken9::decode::<BenchClaims>(&token, &jwt9_key, &jwt9_validation)
        .expect("jsonwebtoken 9 verifies the token");

    let (jwt10_key, jwt10_validation) = {
        let jwk: jsonwebtoken10::jwk::Jwk = serde_json::from_value(jwk.clone()).expect("JWK");
        let alg = match alg {
            "RS256" => jsonwebtoken10::Algorithm::RS256,
            _ => jsonwebtoken10::Algorithm::ES256,
        };
        let mut validation = jsonwebtoken10::Validation::new(alg);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[fixture.issuer.as_str()]);
        validation.validate_nbf = true;
        let key = jsonwebtoken10::DecodingKey::from_jwk(&jwk).expect("jsonwebtoken 10 key");
        (key, validation)
    };
    jsonwebtoken10::decode::<BenchClaims>(&token, &jwt10_key, &jwt10_validation)
        .expect("jsonwebtoken 10 verifies the token");

    // Raw signature checks. RSA: aws-lc-rs with the key parsed once (what
    // oidc-bearer keeps per key) and ring with (n, e) per call (what
    // jsonwebtoken 9 does). EC: the uncompressed point, parsed once
    // (aws-lc-rs) or per call (ring's UnparsedPublicKey).
    let b64 = |member: &str| {
        oidc_bearer_testkit::b64url_decode(jwk[member].as_str().expect("JWK member"))
    };
    let (lc_key, ring_check): (_, Box<SignatureCheck>) = if alg == "RS256" {
        let (n, e) = (b64("n"), b64("e"));
        let lc_key = aws_lc_rs::signature::ParsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            fixture.key.spki_der(),
        )
        .expect("aws-lc-rs parses the RSA key");
        let ring_check = move |msg: &[u8], sig: &[u8]| {
            ring::signature::RsaPublicKeyComponents { n: &n, e: &e }
                .verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
                .is_ok()
        };
        (lc_key, Box::new(ring_check))
    } else {
        let mut point = vec![4u8];
        point.extend(b64("x"));
        point.extend(b64("y"));
        let lc_key = aws_lc_rs::signature::ParsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            &point,
        )
        .expect("aws-lc-rs parses the EC point");
        let ring_check = move |msg: &[u8], sig: &[u8]| {
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                &point,
            )
            .verify(msg, sig)
            .is_ok()
        };
        (lc_key, Box::new(ring_check))
    };
    let message = signing_input.as_bytes();
    assert!(lc_key.verify_sig(message, &signature).is_ok());
    assert!(ring_check(message, &signature));

    let mut group = c.benchmark_group(format!("{alg}-verify-only"));
    group.bench_function("oidc-bearer try_verify (no cache)", |b| {
        b.iter(|| {
            black_box(
                validator
                    .try_verify::<BenchClaims>(black_box(&token))
                    .expect("valid"),
            )
        });
    });
    group.bench_function("jsonwebtoken 9 decode (ring)", |b| {
        b.iter(|| {
            black_box(
                jsonwebtoken9::decode::<BenchClaims>(
                    black_box(&token),
                    &jwt9_key,
                    &jwt9_validation,
                )
                .expect("valid"),
            )
        });
    });
    group.bench_function("jsonwebtoken 10 decode (rust_crypto)", |b| {
        b.iter(|| {
            black_box(
                jsonwebtoken10::decode::<BenchClaims>(
                    black_box(&token),
                    &jwt10_key,
                    &jwt10_validation,
                )
                .expect("valid"),
            )
        });
    });
    group.bench_function("aws-lc-rs signature, key parsed once", |b| {
        b.iter(|| {
            lc_key
                .verify_sig(black_box(message), black_box(&signature))
                .expect("valid");
        });
    });
    group.bench_function("ring signature, key per call", |b| {
        b.iter(|| assert!(ring_check(black_box(message), black_box(&signature))));
    });
    group.finish();
}

fn compare(c: &mut Criterion) {
    let rt = runtime();
    group(c, &rt, KeyKind::Rsa2048);
    group(c, &rt, KeyKind::EcP256);
    verify_only(c, &rt, KeyKind::Rsa2048);
    verify_only(c, &rt, KeyKind::EcP256);
}

criterion_group!(benches, compare);
criterion_main!(benches);
