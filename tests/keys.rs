//! Key parsing against the shapes real providers publish: JWKS documents
//! (Entra ID, Keycloak, RFC 9068 providers), `x5c` certificates and PEM.
//!
//! Every test builds a [`Validator`] from a key source and verifies real
//! tokens signed with the matching [`TestKey`]: what is accepted, what is
//! refused and with which error, and which keys ended up skipped.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;
use oidc_bearer::{Error, ErrorKind, StandardClaims, Validator};
use oidc_bearer_testkit::{
    KeyKind, MockProvider, Reply, TestKey, TokenBuilder, b64url, b64url_decode, standard_claims,
};
use serde_json::{Value, json};

mod common;

const ISSUER: &str = "https://issuer.test/realms/keys";
const AUDIENCE: &str = "keys-api";

// RSA generation takes tens of milliseconds: share keys between tests.
static RSA_A: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate(KeyKind::Rsa2048, "rsa-a"));
static RSA_B: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate(KeyKind::Rsa2048, "rsa-b"));

fn rsa_a() -> TestKey {
    RSA_A.clone()
}

fn rsa_b() -> TestKey {
    RSA_B.clone()
}

/// Runs `fut` with an upper bound so a hanging test fails instead of
/// blocking the suite.
async fn bounded<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), fut)
        .await
        .expect("test took longer than 60 s")
}

fn doc(keys: Vec<Value>) -> Value {
    json!({ "keys": keys })
}

fn claims_for(issuer: &str) -> TokenBuilder {
    TokenBuilder::new().claims(standard_claims(issuer, AUDIENCE))
}

/// A valid token for [`ISSUER`] signed by `key` with header `alg` = `alg`.
fn token(key: &TestKey, alg: &str) -> String {
    claims_for(ISSUER).sign_with(key, alg)
}

/// A valid token signed by `key` whose header names `kid`.
fn token_naming(key: &TestKey, kid: &str) -> String {
    claims_for(ISSUER)
        .header("kid", kid)
        .sign_with(key, key.default_alg())
}

/// A valid token signed by `key` without a `kid` header.
fn token_without_kid(key: &TestKey) -> String {
    claims_for(ISSUER)
        .without_kid()
        .sign_with(key, key.default_alg())
}

async fn from_jwks(doc: &Value) -> Result<Validator, Error> {
    Validator::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .jwks_json(serde_json::to_vec(doc).unwrap())
        .build()
        .await
}

async fn jwks_validator(doc: &Value) -> Validator {
    from_jwks(doc)
        .await
        .unwrap_or_else(|e| panic!("the JWKS should build: {e}"))
}

async fn from_pem(pem: &str, kid: Option<&str>) -> Result<Validator, Error> {
    Validator::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .pem_key(pem, kid)
        .build()
        .await
}

async fn pem_validator(pem: &str, kid: Option<&str>) -> Validator {
    from_pem(pem, kid)
        .await
        .unwrap_or_else(|e| panic!("the PEM key should build: {e}"))
}

/// Verifies `token` and checks the claims a user would read.
async fn accepts(validator: &Validator, token: &str) {
    let claims = validator
        .verify::<StandardClaims>(token)
        .await
        .unwrap_or_else(|e| panic!("token should verify, got: {e}"));
    assert_eq!(Some(claims.iss.clone()), validator.issuers().next());
    assert_eq!(claims.sub.as_deref(), Some("user-1"));
    assert_eq!(claims.aud, vec![AUDIENCE.to_owned()]);
}

/// Verifies `token`, expects a 401 `invalid_token` rejection and returns it.
async fn refuses(validator: &Validator, token: &str) -> Error {
    let err = validator
        .verify::<Value>(token)
        .await
        .expect_err("token must be refused");
    assert_eq!(err.kind(), ErrorKind::InvalidToken, "{err}");
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED, "{err}");
    let challenge = err.www_authenticate(None).expect("a 401 has a challenge");
    let challenge = challenge.to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
        "{challenge}"
    );
    err
}

/// Expects `build()` to fail with a configuration-kind error and returns
/// its message.
fn build_error(result: Result<Validator, Error>) -> String {
    let err = result.expect_err("build() must fail");
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    err.to_string()
}

fn skipped_reason(validator: &Validator, kid: &str) -> String {
    let keys = validator.keys();
    let found = keys
        .skipped()
        .iter()
        .find(|s| s.kid.as_deref() == Some(kid))
        .unwrap_or_else(|| panic!("{kid} should be skipped; skipped: {:?}", keys.skipped()));
    found.reason.clone()
}

fn with(mut jwk: Value, members: Value) -> Value {
    let obj = jwk.as_object_mut().unwrap();
    for (k, v) in members.as_object().unwrap() {
        obj.insert(k.clone(), v.clone());
    }
    jwk
}

fn without(mut jwk: Value, members: &[&str]) -> Value {
    let obj = jwk.as_object_mut().unwrap();
    for m in members {
        obj.remove(*m);
    }
    jwk
}

// --- minimal DER writer, to build PKCS#1 and short-key SPKI by hand ---

fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

fn der_uint(big_endian: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    if big_endian.first().is_some_and(|b| b & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(big_endian);
    der(0x02, &v)
}

fn pkcs1_rsa_public_key(n: &[u8], e: &[u8]) -> Vec<u8> {
    der(0x30, &[der_uint(n), der_uint(e)].concat())
}

fn rsa_spki(n: &[u8], e: &[u8]) -> Vec<u8> {
    const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let alg_id = der(0x30, &[der(0x06, RSA_ENCRYPTION), der(0x05, &[])].concat());
    let bits = [&[0u8][..], &pkcs1_rsa_public_key(n, e)].concat();
    der(0x30, &[alg_id, der(0x03, &bits)].concat())
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn rsa_n_e(key: &TestKey) -> (Vec<u8>, Vec<u8>) {
    let jwk = key.public_jwk();
    (
        b64url_decode(jwk["n"].as_str().unwrap()),
        b64url_decode(jwk["e"].as_str().unwrap()),
    )
}

/// An RSA modulus of exactly `bits` bits; not a real key, which is enough
/// for a key that must be refused before any use.
fn fake_modulus(bits: usize) -> Vec<u8> {
    let len = bits.div_ceil(8);
    let mut n = vec![0xc5u8; len];
    n[0] = 0xff >> (len * 8 - bits);
    *n.last_mut().unwrap() |= 1;
    n
}

// ===================================================================
// RSA from n/e
// ===================================================================

#[tokio::test]
async fn rsa_n_e_without_jwk_alg_verifies_all_six_rsa_algorithms() {
    let key = rsa_a();
    assert!(key.public_jwk().get("alg").is_none());
    let v = jwks_validator(&doc(vec![key.public_jwk()])).await;
    for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
        accepts(&v, &token(&key, alg)).await;
    }
    // Another RSA key's signature under the same kid is no signature.
    let forged = claims_for(ISSUER)
        .header("kid", key.kid())
        .sign_with(&rsa_b(), "RS256");
    assert!(matches!(
        refuses(&v, &forged).await,
        Error::InvalidSignature
    ));
}

#[tokio::test]
async fn rsa_header_alg_of_another_key_family_is_refused() {
    let key = rsa_a();
    let v = jwks_validator(&doc(vec![key.public_jwk()])).await;
    for alg in ["ES256", "ES384", "EdDSA", "Ed25519"] {
        let t = claims_for(ISSUER)
            .header("alg", alg)
            .sign_with(&key, "RS256");
        assert!(
            matches!(refuses(&v, &t).await, Error::AlgorithmMismatch),
            "{alg}"
        );
    }
    // HMAC with the public key as the secret (the classic confusion).
    let n = key.public_jwk()["n"].as_str().unwrap().to_owned();
    let t = claims_for(ISSUER)
        .header("kid", key.kid())
        .sign_hmac(n.as_bytes(), "HS256");
    assert!(matches!(refuses(&v, &t).await, Error::UnsupportedAlgorithm));
    // Without a kid: the only key does not take ES256.
    let ec = TestKey::generate(KeyKind::EcP256, "ec");
    let t = token_without_kid(&ec);
    assert!(matches!(refuses(&v, &t).await, Error::AlgorithmMismatch));
}

#[tokio::test]
async fn rsa_key_shorter_than_2048_bits_is_skipped() {
    let good = rsa_a();
    let (_, e) = rsa_n_e(&good);
    let short = |kid: &str, bits: usize| {
        json!({"kty": "RSA", "use": "sig", "kid": kid,
               "n": b64url(&fake_modulus(bits)), "e": b64url(&e)})
    };
    let v = jwks_validator(&doc(vec![
        short("rsa-1024", 1024),
        short("rsa-2040", 2040),
        short("rsa-2047", 2047),
        good.public_jwk(),
    ]))
    .await;
    assert_eq!(v.keys().len(), 1);
    for kid in ["rsa-1024", "rsa-2040", "rsa-2047"] {
        assert!(skipped_reason(&v, kid).contains("2048"), "{kid}");
    }
    assert!(!v.keys().contains_kid("rsa-1024"));
    // A token naming the short key finds nothing to verify with.
    let t = token_naming(&good, "rsa-1024");
    assert!(matches!(refuses(&v, &t).await, Error::UnknownKey));
    accepts(&v, &token(&good, "RS256")).await;

    // The same short key as a PEM fails at build with the reason.
    let spki = rsa_spki(&fake_modulus(1024), &e);
    let msg = build_error(from_pem(&pem("PUBLIC KEY", &spki), None).await);
    assert!(msg.contains("2048"), "{msg}");
}

#[tokio::test]
async fn rsa_key_longer_than_8192_bits_or_with_a_bad_exponent_is_skipped() {
    let good = rsa_a();
    let (n, e) = rsa_n_e(&good);
    let rsa = |kid: &str, n: &[u8], e: &[u8]| json!({"kty": "RSA", "use": "sig", "kid": kid, "n": b64url(n), "e": b64url(e)});
    let v = jwks_validator(&doc(vec![
        rsa("rsa-8200", &fake_modulus(8200), &e),
        rsa("rsa-16384", &fake_modulus(16384), &e),
        rsa("e-one", &n, &[1]),
        rsa("e-even", &n, &[1, 0, 0]),
        rsa("e-huge", &n, &[1, 0, 0, 0, 1]),
        rsa("e-empty", &n, &[]),
        good.public_jwk(),
    ]))
    .await;
    assert_eq!(v.keys().kids().collect::<Vec<_>>(), [good.kid()]);
    assert!(skipped_reason(&v, "rsa-8200").contains("8192"));
    assert!(skipped_reason(&v, "rsa-16384").contains("8192"));
    for kid in ["e-one", "e-even", "e-huge", "e-empty"] {
        assert!(skipped_reason(&v, kid).contains("exponent"), "{kid}");
        let t = token_naming(&good, kid);
        assert!(matches!(refuses(&v, &t).await, Error::UnknownKey), "{kid}");
    }
    accepts(&v, &token(&good, "RS256")).await;

    // A JWKS holding only such a key has no usable key at all.
    let only = doc(vec![rsa("rsa-8200", &fake_modulus(8200), &e)]);
    let msg = build_error(from_jwks(&only).await);
    assert!(msg.contains("no usable signing key"), "{msg}");
    // Nor is it usable as a PEM.
    let spki = rsa_spki(&fake_modulus(8200), &e);
    let msg = build_error(from_pem(&pem("PUBLIC KEY", &spki), None).await);
    assert!(msg.contains("8192"), "{msg}");
}

// ===================================================================
// EC and OKP
// ===================================================================

#[tokio::test]
async fn ec_p256_from_x_y_verifies_es256() {
    let key = TestKey::generate(KeyKind::EcP256, "p256");
    let v = jwks_validator(&doc(vec![key.public_jwk()])).await;
    accepts(&v, &token(&key, "ES256")).await;
    let other = TestKey::generate(KeyKind::EcP256, "p256");
    assert!(matches!(
        refuses(&v, &token(&other, "ES256")).await,
        Error::InvalidSignature
    ));
    let t = claims_for(ISSUER)
        .header("alg", "ES384")
        .sign_with(&key, "ES256");
    assert!(matches!(refuses(&v, &t).await, Error::AlgorithmMismatch));
}

#[tokio::test]
async fn ec_p384_from_x_y_verifies_es384() {
    let key = TestKey::generate(KeyKind::EcP384, "p384");
    let v = jwks_validator(&doc(vec![key.public_jwk()])).await;
    accepts(&v, &token(&key, "ES384")).await;
    let t = claims_for(ISSUER)
        .header("alg", "ES256")
        .sign_with(&key, "ES384");
    assert!(matches!(refuses(&v, &t).await, Error::AlgorithmMismatch));
}

#[tokio::test]
async fn ec_key_with_coordinates_of_the_wrong_curve_is_skipped() {
    let p384 = TestKey::generate(KeyKind::EcP384, "claims-p256");
    let good = TestKey::generate(KeyKind::EcP256, "good");
    // P-384 coordinates labelled P-256.
    let lying = with(p384.public_jwk(), json!({"crv": "P-256"}));
    let v = jwks_validator(&doc(vec![lying, good.public_jwk()])).await;
    assert!(skipped_reason(&v, "claims-p256").contains("length"));
    assert!(matches!(
        refuses(&v, &token(&p384, "ES384")).await,
        Error::UnknownKey
    ));
    accepts(&v, &token(&good, "ES256")).await;
}

#[tokio::test]
async fn okp_ed25519_verifies_eddsa_and_the_fully_specified_ed25519_alg() {
    let key = TestKey::generate(KeyKind::Ed25519, "ed");
    let jwk = key.public_jwk();
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    let v = jwks_validator(&doc(vec![jwk])).await;
    accepts(&v, &token(&key, "EdDSA")).await;
    accepts(&v, &token(&key, "Ed25519")).await;
    let other = TestKey::generate(KeyKind::Ed25519, "ed");
    assert!(matches!(
        refuses(&v, &token(&other, "Ed25519")).await,
        Error::InvalidSignature
    ));
}

// ===================================================================
// x5c
// ===================================================================

#[tokio::test]
async fn x5c_only_rsa_key_is_taken_from_the_first_certificate() {
    let first = rsa_a();
    let second = rsa_b();
    let jwk = json!({"kty": "RSA", "use": "sig", "kid": "chain",
                     "x5c": [first.x5c(), second.x5c()]});
    let v = jwks_validator(&doc(vec![jwk])).await;
    assert_eq!(v.keys().kids().collect::<Vec<_>>(), ["chain"]);
    accepts(&v, &token_naming(&first, "chain")).await;
    // The second certificate (the "CA") is not a signing key.
    assert!(matches!(
        refuses(&v, &token_naming(&second, "chain")).await,
        Error::InvalidSignature
    ));
}

#[tokio::test]
async fn x5c_only_ec_and_ed25519_keys_are_taken_from_the_certificate() {
    for kind in [KeyKind::EcP256, KeyKind::EcP384, KeyKind::Ed25519] {
        let key = TestKey::generate(kind, "cert-only");
        let jwk = without(key.public_jwk_with_x5c(), &["x", "y"]);
        let v = jwks_validator(&doc(vec![jwk])).await;
        accepts(&v, &token(&key, key.default_alg())).await;
        let other = TestKey::generate(kind, "cert-only");
        assert!(
            matches!(
                refuses(&v, &token(&other, other.default_alg())).await,
                Error::InvalidSignature
            ),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn x5c_with_matching_n_e_is_accepted() {
    let key = rsa_a();
    let jwk = key.public_jwk_with_x5c();
    assert!(jwk.get("n").is_some() && jwk.get("x5c").is_some());
    let v = jwks_validator(&doc(vec![jwk])).await;
    assert!(v.keys().skipped().is_empty(), "{:?}", v.keys().skipped());
    accepts(&v, &token(&key, "RS256")).await;
    accepts(&v, &token(&key, "PS256")).await;
}

#[tokio::test]
async fn x5c_disagreeing_with_n_e_skips_that_key_and_its_tokens_are_refused() {
    let (a, b) = (rsa_a(), rsa_b());
    let good = TestKey::generate(KeyKind::EcP256, "good");
    // n/e of key A, certificate of key B.
    let mixed = with(a.public_jwk(), json!({"kid": "mixed", "x5c": [b.x5c()]}));
    // Same for EC: x/y of one key, the certificate of another.
    let ec = TestKey::generate(KeyKind::EcP256, "ec-mixed");
    let ec_other = TestKey::generate(KeyKind::EcP256, "x");
    let ec_mixed = with(ec.public_jwk(), json!({"x5c": [ec_other.x5c()]}));
    let v = jwks_validator(&doc(vec![mixed, ec_mixed, good.public_jwk()])).await;
    assert_eq!(v.keys().kids().collect::<Vec<_>>(), ["good"]);
    assert!(skipped_reason(&v, "mixed").contains("disagree"));
    assert!(skipped_reason(&v, "ec-mixed").contains("disagree"));
    for signer in [&a, &b] {
        let t = token_naming(signer, "mixed");
        assert!(matches!(refuses(&v, &t).await, Error::UnknownKey));
    }
    for signer in [&ec, &ec_other] {
        let t = token_naming(signer, "ec-mixed");
        assert!(matches!(refuses(&v, &t).await, Error::UnknownKey));
    }
    accepts(&v, &token(&good, "ES256")).await;
}

#[tokio::test]
async fn garbage_x5c_skips_only_that_key() {
    let good = rsa_a();
    let (n, e) = rsa_n_e(&rsa_b());
    let ne = |kid: &str, x5c: Value| {
        json!({"kty": "RSA", "use": "sig", "kid": kid,
               "n": b64url(&n), "e": b64url(&e), "x5c": x5c})
    };
    let ec_cert = TestKey::generate(KeyKind::EcP256, "ec").x5c();
    let v = jwks_validator(&doc(vec![
        ne("not-base64", json!(["!!!not base64!!!"])),
        ne(
            "not-der",
            json!([STANDARD.encode(b"definitely not a certificate")]),
        ),
        ne("truncated", json!([&rsa_b().x5c()[..200]])),
        json!({"kty": "RSA", "kid": "ec-cert-for-rsa", "x5c": [ec_cert]}),
        json!({"kty": "RSA", "kid": "x5c-number", "x5c": [42]}),
        good.public_jwk(),
    ]))
    .await;
    assert_eq!(v.keys().kids().collect::<Vec<_>>(), [good.kid()]);
    for kid in [
        "not-base64",
        "not-der",
        "truncated",
        "ec-cert-for-rsa",
        "x5c-number",
    ] {
        skipped_reason(&v, kid);
        let t = token_naming(&rsa_b(), kid);
        assert!(matches!(refuses(&v, &t).await, Error::UnknownKey), "{kid}");
    }
    accepts(&v, &token(&good, "RS256")).await;
}

// ===================================================================
// use / key types / alg
// ===================================================================

/// Keycloak's `/protocol/openid-connect/certs`: the `RSA-OAEP` encryption
/// key first, then the RS256 signing key, both with `x5c`, `x5t` and
/// `x5t#S256`.
fn keycloak_jwk(key: &TestKey, use_: &str, alg: &str) -> Value {
    let jwk = key.public_jwk_with_x5c();
    json!({
        "kid": key.kid(),
        "kty": "RSA",
        "alg": alg,
        "use": use_,
        "n": jwk["n"],
        "e": jwk["e"],
        "x5c": jwk["x5c"],
        "x5t": jwk["x5t"],
        "x5t#S256": b64url(&[7u8; 32]),
    })
}

#[tokio::test]
async fn keycloak_enc_key_published_first_is_skipped_and_the_sig_key_verifies() {
    let enc = TestKey::generate(KeyKind::Rsa2048, "kc-enc-Xq3");
    let sig = TestKey::generate(KeyKind::Rsa2048, "kc-sig-7Zt");
    let v = jwks_validator(&doc(vec![
        keycloak_jwk(&enc, "enc", "RSA-OAEP"),
        keycloak_jwk(&sig, "sig", "RS256"),
    ]))
    .await;
    assert_eq!(v.keys().kids().collect::<Vec<_>>(), ["kc-sig-7Zt"]);
    assert!(skipped_reason(&v, "kc-enc-Xq3").contains("enc"));
    accepts(&v, &token(&sig, "RS256")).await;
    // Signed with the encryption key and naming it: never verified with it.
    assert!(matches!(
        refuses(&v, &token(&enc, "RS256")).await,
        Error::UnknownKey
    ));
    // Without a kid, the enc key is not a candidate either.
    assert!(matches!(
        refuses(&v, &token_without_kid(&enc)).await,
        Error::InvalidSignature
    ));
    accepts(&v, &token_without_kid(&sig)).await;
}

#[tokio::test]
async fn kidless_token_with_several_fitting_keys_is_refused_as_ambiguous() {
    // Keycloak after a rotation: the new and the passive key both RS256.
    let (new, old) = (rsa_a(), rsa_b());
    let ec = TestKey::generate(KeyKind::EcP256, "ec");
    let v = jwks_validator(&doc(vec![
        keycloak_jwk(&new, "sig", "RS256"),
        keycloak_jwk(&old, "sig", "RS256"),
        ec.public_jwk(),
    ]))
    .await;
    for signer in [&new, &old] {
        let t = token_without_kid(signer);
        assert!(matches!(refuses(&v, &t).await, Error::AmbiguousKey));
        accepts(&v, &token(signer, "RS256")).await;
    }
    // The only key of its family needs no kid.
    accepts(&v, &token_without_kid(&ec)).await;
}

#[tokio::test]
async fn enc_key_sharing_a_kid_with_the_sig_key_does_not_hide_it() {
    let enc = rsa_b();
    let sig = rsa_a();
    let v = jwks_validator(&doc(vec![
        with(enc.public_jwk(), json!({"kid": "shared", "use": "enc"})),
        with(sig.public_jwk(), json!({"kid": "shared"})),
    ]))
    .await;
    assert_eq!(v.keys().kids().collect::<Vec<_>>(), ["shared"]);
    accepts(&v, &token_naming(&sig, "shared")).await;
    assert!(matches!(
        refuses(&v, &token_naming(&enc, "shared")).await,
        Error::InvalidSignature
    ));
}

#[tokio::test]
async fn key_ops_without_verify_is_skipped() {
    let good = rsa_a();
    let v = jwks_validator(&doc(vec![
        with(
            rsa_b().public_jwk(),
            json!({"use": null, "key_ops": ["encrypt"]}),
        ),
        good.public_jwk(),
    ]))
    .await;
    assert!(skipped_reason(&v, "rsa-b").contains("key_ops"));
    assert!(matches!(
        refuses(&v, &token(&rsa_b(), "RS256")).await,
        Error::UnknownKey
    ));
    accepts(&v, &token(&good, "RS256")).await;
}

#[tokio::test]
async fn unsupported_key_types_are_skipped_without_discarding_the_rest() {
    let good = rsa_a();
    let ed = TestKey::generate(KeyKind::Ed25519, "ed");
    let x = ed.public_jwk()["x"].clone();
    let v = jwks_validator(&doc(vec![
        json!({"kty": "oct", "kid": "hmac", "k": b64url(&[1u8; 32]), "alg": "HS256"}),
        json!({"kty": "OKP", "kid": "x25519", "crv": "X25519", "x": x}),
        json!({"kty": "EC", "kid": "k256", "crv": "secp256k1",
               "x": b64url(&[2u8; 32]), "y": b64url(&[3u8; 32])}),
        json!({"kty": "ML-DSA", "kid": "pq", "pub": b64url(&[4u8; 64])}),
        json!("just a string"),
        json!({"kid": "no-kty", "n": good.public_jwk()["n"], "e": "AQAB"}),
        json!(null),
        json!(17),
        good.public_jwk(),
    ]))
    .await;
    let keys = v.keys();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys.skipped().len(), 8, "{:?}", keys.skipped());
    for kid in ["hmac", "x25519", "k256", "pq", "no-kty"] {
        assert!(!keys.contains_kid(kid));
        skipped_reason(&v, kid);
    }
    accepts(&v, &token(&good, "RS256")).await;
    accepts(&v, &token_without_kid(&good)).await;
    // The oct key is not an HMAC secret.
    let t = claims_for(ISSUER)
        .header("kid", "hmac")
        .sign_hmac(&[1u8; 32], "HS256");
    assert!(matches!(refuses(&v, &t).await, Error::UnsupportedAlgorithm));
}

#[tokio::test]
async fn jwk_alg_restricts_the_token_alg_within_the_key_type() {
    let rsa = rsa_a();
    let ec = TestKey::generate(KeyKind::EcP256, "ec");
    let v = jwks_validator(&doc(vec![
        with(rsa.public_jwk(), json!({"alg": "PS256"})),
        with(ec.public_jwk(), json!({"alg": "ES256"})),
    ]))
    .await;
    accepts(&v, &token(&rsa, "PS256")).await;
    for alg in ["RS256", "RS384", "RS512", "PS384", "PS512"] {
        assert!(
            matches!(
                refuses(&v, &token(&rsa, alg)).await,
                Error::AlgorithmMismatch
            ),
            "{alg}"
        );
    }
    accepts(&v, &token(&ec, "ES256")).await;
}

#[tokio::test]
async fn jwk_alg_that_does_not_fit_the_key_type_skips_the_key() {
    let good = TestKey::generate(KeyKind::Ed25519, "good");
    let v = jwks_validator(&doc(vec![
        with(rsa_a().public_jwk(), json!({"alg": "ES256"})),
        with(rsa_b().public_jwk(), json!({"alg": "HS256"})),
        good.public_jwk(),
    ]))
    .await;
    assert!(skipped_reason(&v, "rsa-a").contains("ES256"));
    assert!(skipped_reason(&v, "rsa-b").contains("HS256"));
    assert!(matches!(
        refuses(&v, &token(&rsa_a(), "RS256")).await,
        Error::UnknownKey
    ));
    accepts(&v, &token(&good, "EdDSA")).await;
}

// ===================================================================
// Document quirks
// ===================================================================

#[tokio::test]
async fn different_keys_under_one_kid_are_each_tried() {
    // RFC 7517 §4.5 only says keys SHOULD have distinct kids: a provider
    // in the middle of a rollover may publish two under one.
    let (first, second) = (rsa_a(), rsa_b());
    let v = jwks_validator(&doc(vec![
        with(first.public_jwk(), json!({"kid": "dup"})),
        with(second.public_jwk(), json!({"kid": "dup"})),
    ]))
    .await;
    assert_eq!(v.keys().len(), 2);
    assert!(v.keys().skipped().is_empty(), "{:?}", v.keys().skipped());
    accepts(&v, &token_naming(&first, "dup")).await;
    accepts(&v, &token_naming(&second, "dup")).await;
    assert_eq!(
        v.try_verify::<StandardClaims>(&token_naming(&second, "dup"))
            .map(|c| c.sub.clone())
            .ok()
            .flatten()
            .as_deref(),
        Some("user-1")
    );
    let stranger = TestKey::generate(KeyKind::Rsa2048, "dup");
    assert!(matches!(
        refuses(&v, &token_naming(&stranger, "dup")).await,
        Error::InvalidSignature
    ));
}

#[tokio::test]
async fn keys_under_one_kid_are_bounded_and_the_rest_reported() {
    // Each key under a kid costs a signature check on a forged token: at
    // most three are tried, and the fourth is reported as skipped.
    let keys: Vec<TestKey> = (0..4)
        .map(|i| TestKey::generate(KeyKind::Rsa2048, format!("k{i}")))
        .collect();
    let v = jwks_validator(&doc(keys
        .iter()
        .map(|k| with(k.public_jwk(), json!({"kid": "dup"})))
        .collect()))
    .await;
    assert_eq!(v.keys().len(), 3);
    let reason = skipped_reason(&v, "dup");
    assert!(reason.contains("more than 3 different keys"), "{reason}");
    for key in &keys[..3] {
        accepts(&v, &token_naming(key, "dup")).await;
    }
    assert!(matches!(
        refuses(&v, &token_naming(&keys[3], "dup")).await,
        Error::InvalidSignature
    ));
    // The same key published twice is one key, reported once.
    let key = rsa_a();
    let v = jwks_validator(&doc(vec![
        with(key.public_jwk(), json!({"kid": "twice"})),
        with(key.public_jwk(), json!({"kid": "twice"})),
    ]))
    .await;
    assert_eq!(v.keys().len(), 1);
    assert!(skipped_reason(&v, "twice").contains("published twice"));
    accepts(&v, &token_naming(&key, "twice")).await;
}

#[tokio::test]
async fn jwks_with_extra_unknown_members_is_accepted() {
    let key = rsa_a();
    let jwk = with(
        key.public_jwk_with_x5c(),
        json!({
            "x5t#S256": b64url(&[9u8; 32]),
            "ext": true,
            "nested": {"deep": [1, 2, {"x": null}]},
            "cloud_instance_name": "microsoftonline.com",
        }),
    );
    let document = json!({
        "keys": [jwk],
        "next_rotation": "2030-01-01T00:00:00Z",
        "metadata": {"provider": "anything", "list": [1, 2, 3]},
    });
    let v = jwks_validator(&document).await;
    assert!(v.keys().skipped().is_empty());
    accepts(&v, &token(&key, "RS256")).await;
}

#[tokio::test]
async fn padded_base64_in_jwk_members_is_accepted() {
    let pad = |v: &Value| {
        let s = v.as_str().unwrap();
        let mut s = s.to_owned();
        while !s.len().is_multiple_of(4) {
            s.push('=');
        }
        Value::String(s)
    };
    let rsa = rsa_a();
    let p256 = TestKey::generate(KeyKind::EcP256, "p256");
    let ed = TestKey::generate(KeyKind::Ed25519, "ed");
    let (r, p, o) = (rsa.public_jwk(), p256.public_jwk(), ed.public_jwk());
    let padded = vec![
        with(r.clone(), json!({"n": pad(&r["n"]), "e": pad(&r["e"])})),
        with(p.clone(), json!({"x": pad(&p["x"]), "y": pad(&p["y"])})),
        with(o.clone(), json!({"x": pad(&o["x"])})),
    ];
    // The members really are padded.
    assert!(padded[0]["n"].as_str().unwrap().ends_with('='));
    assert!(padded[1]["x"].as_str().unwrap().ends_with('='));
    assert!(padded[2]["x"].as_str().unwrap().ends_with('='));
    let v = jwks_validator(&doc(padded)).await;
    assert_eq!(v.keys().len(), 3, "{:?}", v.keys().skipped());
    accepts(&v, &token(&rsa, "RS256")).await;
    accepts(&v, &token(&p256, "ES256")).await;
    accepts(&v, &token(&ed, "EdDSA")).await;
}

#[tokio::test]
async fn leading_zero_byte_on_n_is_accepted() {
    let key = rsa_a();
    let (n, e) = rsa_n_e(&key);
    let zero_n = [&[0u8][..], &n].concat();
    assert_eq!(zero_n.len(), 257);
    let jwk = with(key.public_jwk(), json!({"n": b64url(&zero_n)}));
    let v = jwks_validator(&doc(vec![jwk])).await;
    accepts(&v, &token(&key, "RS256")).await;
    // And on e, as some encoders emit it.
    let zero_e = [&[0u8][..], &e].concat();
    let jwk = with(key.public_jwk(), json!({"e": b64url(&zero_e)}));
    let v = jwks_validator(&doc(vec![jwk])).await;
    accepts(&v, &token(&key, "PS512")).await;
}

// ===================================================================
// Entra ID
// ===================================================================

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
const ENTRA_CLIENT: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";

fn entra_issuer(tid: &str) -> String {
    format!("https://login.microsoftonline.com/{tid}/v2.0")
}

/// A JWK exactly as `/{tenant}/discovery/v2.0/keys` publishes it: `kty`,
/// `use`, `kid`, `x5t`, `n`, `e`, `x5c`, `issuer`, and no `alg`.
fn entra_jwk(key: &TestKey, issuer: &str) -> Value {
    let jwk = key.public_jwk_with_x5c();
    json!({
        "kty": "RSA",
        "use": "sig",
        "kid": key.kid(),
        "x5t": jwk["x5t"],
        "n": jwk["n"],
        "e": jwk["e"],
        "x5c": jwk["x5c"],
        "cloud_instance_name": "microsoftonline.com",
        "issuer": issuer,
    })
}

/// A v2 access token as Entra issues it: header `typ: JWT`, `kid`, `x5t`.
fn entra_token(key: &TestKey, iss: &str, tid: Option<&str>) -> String {
    let mut b = TokenBuilder::new()
        .header("typ", "JWT")
        .header("x5t", key.x5t())
        .claims(standard_claims(iss, ENTRA_CLIENT))
        .claim("ver", "2.0")
        .claim("azp", "0b5c3a1e-0000-4000-8000-000000000001")
        .claim("oid", "00000000-0000-0000-66f3-3332eca7ea81")
        .claim("scp", "access_as_user")
        .claim("uti", "AbCdEf");
    if let Some(tid) = tid {
        b = b.claim("tid", tid);
    }
    b.sign_with(key, "RS256")
}

async fn entra_validator(keys: Vec<Value>) -> Validator {
    Validator::builder()
        .issuer(entra_issuer(TENANT))
        .audience(ENTRA_CLIENT)
        .jwks_json(serde_json::to_vec(&doc(keys)).unwrap())
        .build()
        .await
        .expect("the Entra JWKS builds")
}

async fn entra_accepts(v: &Validator, token: &str) {
    let claims = v
        .verify::<Value>(token)
        .await
        .unwrap_or_else(|e| panic!("Entra token should verify: {e}"));
    assert_eq!(claims["iss"], entra_issuer(TENANT));
    assert_eq!(claims["aud"], ENTRA_CLIENT);
    assert_eq!(claims["scp"], "access_as_user");
}

#[tokio::test]
async fn entra_jwks_shape_with_tenant_issuer_member_verifies() {
    let key = rsa_a();
    let jwk = entra_jwk(&key, &entra_issuer(TENANT));
    assert!(jwk.get("alg").is_none());
    let v = entra_validator(vec![jwk]).await;
    assert!(v.keys().skipped().is_empty());
    entra_accepts(&v, &entra_token(&key, &entra_issuer(TENANT), Some(TENANT))).await;
    // The issuer member is compared exactly: no tid needed.
    entra_accepts(&v, &entra_token(&key, &entra_issuer(TENANT), None)).await;
}

#[tokio::test]
async fn entra_templated_issuer_member_is_filled_with_the_token_tid() {
    let key = rsa_a();
    let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
    let v = entra_validator(vec![entra_jwk(&key, template)]).await;
    entra_accepts(&v, &entra_token(&key, &entra_issuer(TENANT), Some(TENANT))).await;
    // iss names this tenant, but tid names another: the key refuses it.
    let t = entra_token(&key, &entra_issuer(TENANT), Some(OTHER_TENANT));
    assert!(matches!(refuses(&v, &t).await, Error::InvalidIssuer));
    // No tid: the template cannot be filled.
    let t = entra_token(&key, &entra_issuer(TENANT), None);
    assert!(matches!(refuses(&v, &t).await, Error::InvalidIssuer));
}

#[tokio::test]
async fn entra_key_bound_to_another_issuer_refuses_the_token() {
    let (ours, theirs) = (rsa_a(), rsa_b());
    let v = entra_validator(vec![
        entra_jwk(&ours, &entra_issuer(TENANT)),
        entra_jwk(&theirs, &entra_issuer(OTHER_TENANT)),
    ])
    .await;
    entra_accepts(&v, &entra_token(&ours, &entra_issuer(TENANT), Some(TENANT))).await;
    // A key of another tenant must not vouch for our tenant's issuer.
    let t = entra_token(&theirs, &entra_issuer(TENANT), Some(TENANT));
    assert!(matches!(refuses(&v, &t).await, Error::InvalidIssuer));
    // A v1 token of the same tenant is signed by the same keys, which
    // carry the v2 issuer: accepted, as Microsoft's own validator does
    // (issue 9; this asserted a refusal before). Tests/entra.rs has the
    // templated key and the substitution cases.
    let v1 = Validator::builder()
        .issuer(format!("https://sts.windows.net/{TENANT}/"))
        .audience(ENTRA_CLIENT)
        .jwks_json(serde_json::to_vec(&doc(vec![entra_jwk(&ours, &entra_issuer(TENANT))])).unwrap())
        .build()
        .await
        .unwrap();
    let t = entra_token(
        &ours,
        &format!("https://sts.windows.net/{TENANT}/"),
        Some(TENANT),
    );
    let claims = v1.verify::<StandardClaims>(&t).await.unwrap();
    assert_eq!(claims.tid.as_deref(), Some(TENANT));
    // Another tenant's key still vouches for nothing of ours.
    let t = entra_token(
        &theirs,
        &format!("https://sts.windows.net/{TENANT}/"),
        Some(TENANT),
    );
    assert!(matches!(refuses(&v1, &t).await, Error::UnknownKey));
}

// ===================================================================
// PEM
// ===================================================================

#[tokio::test]
async fn pem_spki_rsa_public_key_verifies() {
    let key = rsa_a();
    let pem = key.public_pem();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    let v = pem_validator(&pem, None).await;
    for alg in ["RS256", "PS384", "RS512"] {
        accepts(&v, &token(&key, alg)).await;
    }
    assert!(matches!(
        refuses(&v, &token(&rsa_b(), "RS256")).await,
        Error::InvalidSignature
    ));
}

#[tokio::test]
async fn pem_spki_ec_public_keys_verify() {
    for (kind, alg) in [(KeyKind::EcP256, "ES256"), (KeyKind::EcP384, "ES384")] {
        let key = TestKey::generate(kind, "ec");
        let v = pem_validator(&key.public_pem(), None).await;
        accepts(&v, &token(&key, alg)).await;
        let other = TestKey::generate(kind, "ec");
        assert!(matches!(
            refuses(&v, &token(&other, alg)).await,
            Error::InvalidSignature
        ));
    }
}

#[tokio::test]
async fn pem_spki_ed25519_public_key_verifies() {
    let key = TestKey::generate(KeyKind::Ed25519, "ed");
    let v = pem_validator(&key.public_pem(), None).await;
    accepts(&v, &token(&key, "EdDSA")).await;
    accepts(&v, &token(&key, "Ed25519")).await;
    let t = claims_for(ISSUER)
        .header("alg", "RS256")
        .sign_with(&key, "EdDSA");
    assert!(matches!(refuses(&v, &t).await, Error::AlgorithmMismatch));
}

#[tokio::test]
async fn pem_certificate_verifies_with_its_key() {
    for key in [
        rsa_a(),
        TestKey::generate(KeyKind::EcP256, "ec"),
        TestKey::generate(KeyKind::Ed25519, "ed"),
    ] {
        let cert = pem("CERTIFICATE", &key.self_signed_cert_der());
        let v = pem_validator(&cert, None).await;
        accepts(&v, &token(&key, key.default_alg())).await;
    }
}

#[tokio::test]
async fn pem_with_explanatory_text_before_the_armour_is_accepted() {
    // RFC 7468 §5.2: text before the armour (openssl x509 -text, Bag
    // Attributes of a PKCS#12 export) is ignored.
    let key = rsa_a();
    let cert = format!(
        "Bag Attributes\n    friendlyName: signing\nsubject=CN = rsa-a\n{}",
        pem("CERTIFICATE", &key.self_signed_cert_der())
    );
    let v = pem_validator(&cert, None).await;
    accepts(&v, &token(&key, "RS256")).await;
}

#[tokio::test]
async fn pem_with_the_base64_on_one_line_or_split_by_blank_lines_is_accepted() {
    let key = rsa_a();
    let b64 = STANDARD.encode(key.spki_der());
    let one_line = format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n");
    let v = pem_validator(&one_line, None).await;
    accepts(&v, &token(&key, "RS256")).await;
    let (head, tail) = b64.split_at(100);
    let gapped = format!("-----BEGIN PUBLIC KEY-----\n{head}\n\n{tail}\n-----END PUBLIC KEY-----");
    let v = pem_validator(&gapped, None).await;
    accepts(&v, &token(&key, "RS256")).await;
}

#[tokio::test]
async fn pem_with_crlf_line_endings_is_accepted() {
    let key = TestKey::generate(KeyKind::EcP256, "ec");
    let pem = key.public_pem().replace('\n', "\r\n");
    let v = pem_validator(&pem, None).await;
    accepts(&v, &token(&key, "ES256")).await;
}

#[tokio::test]
async fn bare_base64_spki_as_keycloak_realm_public_key_verifies() {
    // GET {base}/realms/{realm} answers {"realm": ..., "public_key": "<SPKI
    // in base64, one line, no armour>", ...}.
    let key = rsa_a();
    let realm = json!({
        "realm": "keys",
        "public_key": STANDARD.encode(key.spki_der()),
        "token-service": format!("{ISSUER}/protocol/openid-connect"),
    });
    let public_key = realm["public_key"].as_str().unwrap();
    assert!(!public_key.contains("-----"));
    let v = pem_validator(public_key, Some(key.kid())).await;
    accepts(&v, &token(&key, "RS256")).await;
    accepts(&v, &token_without_kid(&key)).await;
}

#[tokio::test]
async fn pem_without_kid_verifies_tokens_with_or_without_kid() {
    let key = TestKey::generate(KeyKind::EcP256, "whatever");
    let v = pem_validator(&key.public_pem(), None).await;
    accepts(&v, &token_without_kid(&key)).await;
    accepts(&v, &token_naming(&key, "any-kid")).await;
    accepts(&v, &token_naming(&key, "another-kid")).await;
    // Still only this key's signatures.
    let other = TestKey::generate(KeyKind::EcP256, "whatever");
    assert!(matches!(
        refuses(&v, &token_without_kid(&other)).await,
        Error::InvalidSignature
    ));
}

#[tokio::test]
async fn pem_with_kid_verifies_only_tokens_naming_it_or_none() {
    let key = TestKey::generate(KeyKind::Ed25519, "k1");
    let v = pem_validator(&key.public_pem(), Some("k1")).await;
    assert!(v.keys().contains_kid("k1"));
    accepts(&v, &token_naming(&key, "k1")).await;
    accepts(&v, &token_without_kid(&key)).await;
    assert!(matches!(
        refuses(&v, &token_naming(&key, "k2")).await,
        Error::UnknownKey
    ));
}

#[tokio::test]
async fn pkcs1_rsa_public_key_pem_fails_build_with_a_clear_message() {
    let (n, e) = rsa_n_e(&rsa_a());
    let pem = pem("RSA PUBLIC KEY", &pkcs1_rsa_public_key(&n, &e));
    let msg = build_error(from_pem(&pem, None).await);
    assert!(msg.contains("PKCS#1"), "{msg}");
    assert!(msg.contains("PUBLIC KEY"), "{msg}");
}

#[tokio::test]
async fn private_key_pem_fails_build_with_a_clear_message() {
    let key = TestKey::generate(KeyKind::EcP256, "ec");
    for label in ["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"] {
        let pem = pem(label, &key.pkcs8_der());
        let msg = build_error(from_pem(&pem, None).await);
        assert!(msg.contains("private key"), "{label}: {msg}");
        assert!(msg.contains("PUBLIC KEY"), "{label}: {msg}");
    }
}

#[tokio::test]
async fn broken_pem_fails_build_without_panicking() {
    let key = rsa_a();
    let good = key.public_pem();
    let cases = [
        String::new(),
        "   \n".to_owned(),
        "-----BEGIN PUBLIC KEY-----\nMIIB".to_owned(),
        good.replace("-----END PUBLIC KEY-----", "-----END CERTIFICATE-----"),
        "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n".to_owned(),
        pem("PUBLIC KEY", b"not der at all"),
        pem("PUBLIC KEY", &key.spki_der()[..100]),
        pem("CERTIFICATE", b"not a certificate"),
        pem("CERTIFICATE", &key.spki_der()),
        "-----BEGIN PUBLIC KEY".to_owned(),
    ];
    for case in cases {
        let msg = build_error(from_pem(&case, None).await);
        assert!(msg.starts_with("invalid key: "), "{case:?}: {msg}");
    }
}

// ===================================================================
// Broken and hostile documents
// ===================================================================

#[tokio::test]
async fn jwks_that_is_not_json_fails_build_saying_so() {
    let err = Validator::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .jwks_json("<html>Service Unavailable</html>")
        .build()
        .await;
    let msg = build_error(err);
    assert!(msg.contains("not a JWK set"), "{msg}");
}

#[tokio::test]
async fn jwks_whose_keys_member_is_not_an_array_fails_build() {
    for document in [
        json!({"keys": "x"}),
        json!({"keys": {"kty": "RSA"}}),
        json!({"keys": null}),
        json!({"nokeys": []}),
        json!([rsa_a().public_jwk()]),
        rsa_a().public_jwk(),
    ] {
        let msg = build_error(from_jwks(&document).await);
        assert!(msg.contains("not a JWK set"), "{document}: {msg}");
    }
}

#[tokio::test]
async fn empty_jwks_fails_build_saying_no_usable_key() {
    let msg = build_error(from_jwks(&json!({"keys": []})).await);
    assert!(msg.contains("no usable signing key"), "{msg}");
}

#[tokio::test]
async fn jwks_with_only_unusable_keys_fails_build_saying_no_usable_key() {
    let enc = with(rsa_a().public_jwk(), json!({"use": "enc"}));
    let document = doc(vec![
        enc,
        json!({"kty": "oct", "k": "c2VjcmV0"}),
        json!("nope"),
    ]);
    let msg = build_error(from_jwks(&document).await);
    assert!(msg.contains("no usable signing key"), "{msg}");
}

#[tokio::test]
async fn deeply_nested_json_does_not_panic() {
    let depth = 100_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let documents = [
        format!(r#"{{"keys":{nested}}}"#),
        format!(r#"{{"keys":[{{"kty":"RSA","kid":"deep","n":{nested}}}]}}"#),
        format!(r#"{{"other":{nested},"keys":[]}}"#),
        "{".repeat(depth),
    ];
    for document in documents {
        let result = Validator::builder()
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .jwks_json(document)
            .build()
            .await;
        build_error(result);
    }
    // Nesting inside an unknown member of one key, with a good key beside
    // it, at a depth serde_json accepts.
    let good = rsa_a();
    let shallow: Value =
        serde_json::from_str(&format!("{}{}", "[".repeat(100), "]".repeat(100))).unwrap();
    let v = jwks_validator(&doc(vec![
        with(rsa_b().public_jwk(), json!({"n": shallow})),
        good.public_jwk(),
    ]))
    .await;
    assert!(skipped_reason(&v, "rsa-b").contains("malformed"));
    accepts(&v, &token(&good, "RS256")).await;
}

#[tokio::test]
async fn one_mib_n_is_skipped_without_panic() {
    let good = rsa_a();
    let huge = vec![0xa5u8; 768 * 1024];
    let huge_n = b64url(&huge);
    assert!(huge_n.len() >= 1024 * 1024);
    let v = jwks_validator(&doc(vec![
        json!({"kty": "RSA", "kid": "huge", "n": huge_n, "e": "AQAB"}),
        json!({"kty": "RSA", "kid": "huge-garbage", "n": "%".repeat(1024 * 1024), "e": "AQAB"}),
        json!({"kty": "RSA", "kid": "huge-e", "n": good.public_jwk()["n"], "e": b64url(&huge)}),
        good.public_jwk(),
    ]))
    .await;
    assert_eq!(v.keys().len(), 1, "{:?}", v.keys());
    assert!(skipped_reason(&v, "huge").contains("8192"));
    assert!(skipped_reason(&v, "huge-garbage").contains("base64url"));
    assert!(skipped_reason(&v, "huge-e").contains("exponent"));
    accepts(&v, &token(&good, "RS256")).await;
}

#[tokio::test]
async fn jwk_members_with_wrong_json_types_are_skipped_without_panic() {
    let good = TestKey::generate(KeyKind::EcP384, "good");
    let v = jwks_validator(&doc(vec![
        json!({"kty": "RSA", "kid": "n-number", "n": 12345, "e": "AQAB"}),
        json!({"kty": "RSA", "kid": "e-array", "n": rsa_a().public_jwk()["n"], "e": [1, 0, 1]}),
        json!({"kty": 7, "kid": "kty-number"}),
        json!({"kty": "EC", "kid": "crv-bool", "crv": true, "x": "AA", "y": "AA"}),
        json!({"kty": "RSA", "kid": "only-n", "n": rsa_a().public_jwk()["n"]}),
        json!({"kty": "EC", "kid": "only-x", "crv": "P-256", "x": b64url(&[1u8; 32])}),
        json!({"kty": "OKP", "kid": "no-x", "crv": "Ed25519"}),
        json!({"kty": "OKP", "kid": "short-x", "crv": "Ed25519", "x": b64url(&[1u8; 31])}),
        json!({"kty": "RSA", "kid": "n-std-b64", "n": "+/+/", "e": "AQAB"}),
        json!({"kty": "RSA", "kid": "empty", "n": "", "e": ""}),
        good.public_jwk(),
    ]))
    .await;
    assert_eq!(v.keys().len(), 1, "{:?}", v.keys());
    assert_eq!(v.keys().skipped().len(), 10, "{:?}", v.keys().skipped());
    accepts(&v, &token(&good, "ES384")).await;
}

// ===================================================================
// Fetched over HTTP (loopback)
// ===================================================================

async fn from_url(url: &str) -> Result<Validator, Error> {
    Validator::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .jwks_url(url)
        .build()
        .await
}

#[tokio::test]
async fn jwks_served_as_application_jwk_set_json_is_accepted() {
    bounded(async {
        let provider = MockProvider::start().await;
        let key = TestKey::generate(KeyKind::EcP256, "rfc9068");
        provider.set("/jwks", Reply::jwks(&[&key]));
        let v = from_url(&provider.url("/jwks")).await.expect("builds");
        assert_eq!(provider.hits("/jwks"), 1);
        let t = claims_for(ISSUER)
            .header("typ", "at+jwt")
            .claim("client_id", "spa")
            .claim("jti", "j-1")
            .sign(&key);
        accepts(&v, &t).await;
        assert_eq!(provider.hits("/jwks"), 1);
    })
    .await;
}

#[tokio::test]
async fn jwks_served_as_text_plain_is_accepted() {
    bounded(async {
        let provider = MockProvider::start().await;
        let key = rsa_a();
        let body = serde_json::to_vec(&doc(vec![key.public_jwk()])).unwrap();
        provider.set("/keys.txt", Reply::raw(200, "text/plain", body.clone()));
        let v = from_url(&provider.url("/keys.txt")).await.expect("builds");
        accepts(&v, &token(&key, "RS256")).await;
        // No Content-Type at all is fine too.
        let mut bare = Reply::status(200);
        bare.body = body;
        provider.set("/bare", bare);
        let v = from_url(&provider.url("/bare")).await.expect("builds");
        accepts(&v, &token(&key, "PS256")).await;
    })
    .await;
}

#[tokio::test]
async fn fetched_jwks_skips_unusable_keys_and_keeps_the_rest() {
    bounded(async {
        let provider = MockProvider::start().await;
        let enc = with(rsa_b().public_jwk(), json!({"use": "enc"}));
        let good = rsa_a();
        let document = doc(vec![
            enc,
            json!({"kty": "oct", "k": "c2VjcmV0"}),
            good.public_jwk(),
        ]);
        provider.set("/certs", Reply::json(&document));
        let v = from_url(&provider.url("/certs")).await.expect("builds");
        assert_eq!(v.keys().len(), 1);
        assert_eq!(v.keys().skipped().len(), 2);
        accepts(&v, &token(&good, "RS256")).await;
    })
    .await;
}

#[tokio::test]
async fn non_loopback_http_jwks_url_fails_build_naming_allow_insecure_http() {
    for url in [
        "http://example.com/keys",
        "http://keycloak:8080/realms/keys/protocol/openid-connect/certs",
        "http://10.0.0.5/keys",
        "http://localhost.example.com/keys",
    ] {
        let result = bounded(from_url(url)).await;
        let msg = build_error(result);
        assert!(msg.contains("allow_insecure_http"), "{url}: {msg}");
    }
}

#[tokio::test]
async fn loopback_http_jwks_urls_are_allowed() {
    bounded(async {
        let provider = MockProvider::start().await;
        let key = TestKey::generate(KeyKind::Ed25519, "loop");
        provider.set("/keys", Reply::jwks(&[&key]));
        let port = provider.addr().port();
        for url in [
            format!("http://127.0.0.1:{port}/keys"),
            format!("http://localhost:{port}/keys"),
        ] {
            let v = from_url(&url)
                .await
                .unwrap_or_else(|e| panic!("{url} should be allowed: {e}"));
            accepts(&v, &token(&key, "EdDSA")).await;
        }
        assert_eq!(provider.hits("/keys"), 2);
    })
    .await;
}

#[tokio::test]
async fn fetched_jwks_with_no_usable_key_fails_build() {
    bounded(async {
        let provider = MockProvider::start().await;
        let enc = with(rsa_a().public_jwk(), json!({"use": "enc"}));
        provider.set("/keys", Reply::json(&doc(vec![enc])));
        let msg = build_error(from_url(&provider.url("/keys")).await);
        assert!(msg.contains("no usable signing key"), "{msg}");
        provider.set(
            "/garbage",
            Reply::raw(200, "application/json", "{\"keys\":"),
        );
        let msg = build_error(from_url(&provider.url("/garbage")).await);
        assert!(msg.contains("not a JWK set"), "{msg}");
    })
    .await;
}

// ===================================================================
// Ed25519 public keys that are small-order points or non-canonical
// ===================================================================

/// The eight points of order 1, 2, 4 and 8 (the torsion subgroup), in
/// their canonical encodings, with the sign-bit twins of those whose x is
/// not zero.
const SMALL_ORDER: [(&str, &str); 8] = [
    (
        "order-1",
        "0100000000000000000000000000000000000000000000000000000000000000",
    ),
    (
        "order-2",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ),
    (
        "order-4",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ),
    (
        "order-4-neg",
        "0000000000000000000000000000000000000000000000000000000000000080",
    ),
    (
        "order-8-a",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    ),
    (
        "order-8-a-neg",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    ),
    (
        "order-8-b",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    ),
    (
        "order-8-b-neg",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    ),
];

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn okp(kid: &str, x: &[u8]) -> Value {
    json!({"kty": "OKP", "use": "sig", "kid": kid, "crv": "Ed25519", "x": b64url(x)})
}

/// A token naming `kid` whose signature is R = the identity point, S = 0:
/// it satisfies the Ed25519 equation [S]B = R + [k]A for A = the identity
/// whatever the claims, with no private key at all.
fn forged_eddsa_token(kid: &str) -> String {
    let mut signature = [0u8; 64];
    signature[0] = 1;
    let header = json!({"alg": "EdDSA", "kid": kid, "typ": "JWT"});
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(standard_claims(ISSUER, AUDIENCE).to_string().as_bytes())
    );
    format!("{input}.{}", b64url(&signature))
}

/// The bytes of y = p + `k` (p = 2^255 - 19), with the sign bit of x.
/// For k < 19 these are aliases of y = k that a decoder reducing mod p
/// accepts.
fn y_at_least_p(k: u8, sign: bool) -> Vec<u8> {
    let mut y = vec![0xff; 32];
    y[0] = 0xed + k;
    y[31] = if sign { 0xff } else { 0x7f };
    y
}

const SMALL_ORDER_REASON: &str = "small order";
const NON_CANONICAL_REASON: &str = "not canonically encoded";

#[tokio::test]
async fn identity_ed25519_key_does_not_verify_a_token_forged_without_a_private_key() {
    let identity = hex(SMALL_ORDER[0].1);
    let good = TestKey::generate(KeyKind::Ed25519, "good");
    let v = jwks_validator(&doc(vec![okp("identity", &identity), good.public_jwk()])).await;
    // Before keys were screened, this token verified: 200 for any claims.
    let forged = forged_eddsa_token("identity");
    assert!(matches!(refuses(&v, &forged).await, Error::UnknownKey));
    assert!(skipped_reason(&v, "identity").contains(SMALL_ORDER_REASON));
    // The same forgery aimed at a real key is just a bad signature.
    let at_good = forged_eddsa_token("good");
    assert!(matches!(
        refuses(&v, &at_good).await,
        Error::InvalidSignature
    ));
    accepts(&v, &token(&good, "EdDSA")).await;
}

#[tokio::test]
async fn forged_token_for_an_identity_key_gets_401_and_the_handler_never_runs() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::{Router, routing::get};

    let good = TestKey::generate(KeyKind::Ed25519, "good");
    let identity = okp("identity", &hex(SMALL_ORDER[0].1));
    let validator = jwks_validator(&doc(vec![identity, good.public_jwk()])).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let app = Router::new()
        .route(
            "/admin",
            get(move || async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "handler ran"
            }),
        )
        .layer(validator.layer::<Value>());

    let forged = forged_eddsa_token("identity");
    let answer = common::fetch_oneshot(&app, "/admin", &[&common::bearer(&forged)]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 0);

    let real = token(&good, "EdDSA");
    let answer = common::fetch_oneshot(&app, "/admin", &[&common::bearer(&real)]).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn every_small_order_ed25519_key_is_skipped() {
    let good = TestKey::generate(KeyKind::Ed25519, "good");
    let mut keys: Vec<Value> = SMALL_ORDER
        .iter()
        .map(|(kid, x)| okp(kid, &hex(x)))
        .collect();
    keys.push(good.public_jwk());
    let v = jwks_validator(&doc(keys)).await;
    assert_eq!(v.keys().kids().collect::<Vec<_>>(), ["good"]);
    for (kid, _) in SMALL_ORDER {
        let reason = skipped_reason(&v, kid);
        assert!(reason.contains(SMALL_ORDER_REASON), "{kid}: {reason}");
        assert!(matches!(
            refuses(&v, &forged_eddsa_token(kid)).await,
            Error::UnknownKey
        ));
    }
    accepts(&v, &token(&good, "EdDSA")).await;

    // Alone in a JWKS, any of them leaves no usable key: build() says so.
    for (kid, x) in SMALL_ORDER {
        let msg = build_error(from_jwks(&doc(vec![okp(kid, &hex(x))])).await);
        assert!(msg.contains("holds no usable signing key"), "{kid}: {msg}");
    }
}

#[tokio::test]
async fn non_canonical_ed25519_encodings_are_skipped() {
    let good = TestKey::generate(KeyKind::Ed25519, "good");
    let mut sign_bit_set_on_x_zero = Vec::new();
    for (name, x) in [
        ("identity", SMALL_ORDER[0].1),
        ("order-2", SMALL_ORDER[1].1),
    ] {
        let mut bytes = hex(x);
        bytes[31] |= 0x80;
        sign_bit_set_on_x_zero.push((format!("{name}-negative-zero"), bytes));
    }
    // y = p + 3: (3, x) is on the curve and not of small order, so only the
    // encoding is wrong.
    let aliases: Vec<(String, Vec<u8>)> = [false, true]
        .into_iter()
        .map(|sign| (format!("p+3-{sign}"), y_at_least_p(3, sign)))
        .collect();
    // y = p and y = p + 1: aliases of the order-4 points and the identity.
    let small_aliases: Vec<(String, Vec<u8>)> = [(0, false), (0, true), (1, false), (1, true)]
        .into_iter()
        .map(|(k, sign)| (format!("p+{k}-{sign}"), y_at_least_p(k, sign)))
        .collect();
    let all: Vec<(String, Vec<u8>)> = [sign_bit_set_on_x_zero, aliases, small_aliases].concat();
    let mut keys: Vec<Value> = all.iter().map(|(kid, x)| okp(kid, x)).collect();
    keys.push(good.public_jwk());
    let v = jwks_validator(&doc(keys)).await;
    assert_eq!(v.keys().kids().collect::<Vec<_>>(), ["good"]);
    for (kid, _) in &all {
        let reason = skipped_reason(&v, kid);
        assert!(reason.contains(NON_CANONICAL_REASON), "{kid}: {reason}");
        assert!(matches!(
            refuses(&v, &forged_eddsa_token(kid)).await,
            Error::UnknownKey
        ));
    }
    accepts(&v, &token(&good, "EdDSA")).await;
}

#[tokio::test]
async fn every_y_at_least_p_is_skipped_whether_or_not_it_is_on_the_curve() {
    let good = TestKey::generate(KeyKind::Ed25519, "good");
    let mut keys = Vec::new();
    for k in 0..19 {
        for sign in [false, true] {
            keys.push(okp(&format!("p+{k}-{sign}"), &y_at_least_p(k, sign)));
        }
    }
    keys.push(good.public_jwk());
    let v = jwks_validator(&doc(keys)).await;
    assert_eq!(v.keys().kids().collect::<Vec<_>>(), ["good"]);
    for skipped in v.keys().skipped() {
        assert!(
            skipped.reason.contains(NON_CANONICAL_REASON)
                || skipped.reason.contains("not a point on the curve"),
            "{skipped:?}"
        );
    }
    assert_eq!(v.keys().skipped().len(), 38);
}

#[tokio::test]
async fn ed25519_key_with_a_small_order_component_is_skipped() {
    use curve25519_dalek::edwards::CompressedEdwardsY;
    let good = TestKey::generate(KeyKind::Ed25519, "good");
    let real =
        CompressedEdwardsY::from_slice(&b64url_decode(good.public_jwk()["x"].as_str().unwrap()))
            .unwrap()
            .decompress()
            .unwrap();
    let torsion = CompressedEdwardsY::from_slice(&hex(SMALL_ORDER[4].1))
        .unwrap()
        .decompress()
        .unwrap();
    let mixed = (real + torsion).compress();
    let v = jwks_validator(&doc(vec![
        okp("mixed", mixed.as_bytes()),
        good.public_jwk(),
    ]))
    .await;
    let reason = skipped_reason(&v, "mixed");
    assert!(reason.contains("small-order component"), "{reason}");
    accepts(&v, &token(&good, "EdDSA")).await;
}

/// An Ed25519 SubjectPublicKeyInfo (RFC 8410) around raw key bytes.
fn ed25519_spki(x: &[u8]) -> Vec<u8> {
    let alg_id = der(0x30, &der(0x06, &[0x2b, 0x65, 0x70]));
    let bits = [&[0u8][..], x].concat();
    der(0x30, &[alg_id, der(0x03, &bits)].concat())
}

/// `key`'s self-signed certificate with its public key bytes replaced by
/// `x`. The signature no longer matches, which nothing here checks: `x5c`
/// certificates are a container for the key, not a trust path.
fn ed25519_cert_holding(key: &TestKey, x: &[u8]) -> Vec<u8> {
    let real = b64url_decode(key.public_jwk()["x"].as_str().unwrap());
    let mut cert = key.self_signed_cert_der();
    let at = cert
        .windows(32)
        .position(|w| w == real.as_slice())
        .expect("the certificate holds the key");
    cert[at..at + 32].copy_from_slice(x);
    cert
}

#[tokio::test]
async fn small_order_and_non_canonical_ed25519_keys_are_refused_from_pem_and_x5c() {
    let good = TestKey::generate(KeyKind::Ed25519, "good");
    let cases = [
        ("identity", hex(SMALL_ORDER[0].1), SMALL_ORDER_REASON),
        ("order-8", hex(SMALL_ORDER[6].1), SMALL_ORDER_REASON),
        ("p+3", y_at_least_p(3, false), NON_CANONICAL_REASON),
    ];
    for (name, x, reason) in &cases {
        let msg = build_error(from_pem(&pem("PUBLIC KEY", &ed25519_spki(x)), None).await);
        assert!(msg.contains(reason), "PEM {name}: {msg}");
        let cert = ed25519_cert_holding(&good, x);
        let msg = build_error(from_pem(&pem("CERTIFICATE", &cert), None).await);
        assert!(msg.contains(reason), "certificate PEM {name}: {msg}");
    }
    let mut keys: Vec<Value> = cases
        .iter()
        .map(|(name, x, _)| {
            json!({"kty": "OKP", "use": "sig", "kid": name, "crv": "Ed25519",
                   "x5c": [STANDARD.encode(ed25519_cert_holding(&good, x))]})
        })
        .collect();
    keys.push(good.public_jwk());
    let v = jwks_validator(&doc(keys)).await;
    for (name, _, reason) in &cases {
        let got = skipped_reason(&v, name);
        assert!(got.contains(reason), "x5c {name}: {got}");
    }
    // The certificate route still takes a real key.
    let cert_only = without(good.public_jwk_with_x5c(), &["x"]);
    let v = jwks_validator(&doc(vec![cert_only])).await;
    accepts(&v, &token(&good, "EdDSA")).await;
    let v = pem_validator(&good.public_pem(), None).await;
    accepts(&v, &token_without_kid(&good)).await;
}

// ===================================================================
// Version 1 certificates (Keycloak's self-signed realm certificates)
// ===================================================================

#[tokio::test]
async fn version_1_certificates_are_taken_in_x5c_and_as_pem() {
    use x509_cert::der::Decode as _;
    for key in [
        rsa_a(),
        TestKey::generate(KeyKind::EcP256, "ec-v1"),
        TestKey::generate(KeyKind::EcP384, "ec384-v1"),
        TestKey::generate(KeyKind::Ed25519, "ed-v1"),
    ] {
        let v1 = key.self_signed_v1_cert_der();
        let parsed = x509_cert::Certificate::from_der(&v1).expect("a certificate");
        assert_eq!(parsed.tbs_certificate().version(), x509_cert::Version::V1);
        assert!(parsed.tbs_certificate().extensions().is_none());

        // Keycloak's JWKS shape: n/e (or x/y) beside the certificate...
        let alg = key.default_alg();
        let beside = with(key.public_jwk(), json!({"x5c": [STANDARD.encode(&v1)]}));
        // ...and the certificate alone.
        let alone = json!({"kty": beside["kty"], "crv": beside["crv"], "kid": "cert-only",
                           "use": "sig", "x5c": [STANDARD.encode(&v1)]});
        let alone = if key.kind() == KeyKind::Rsa2048 {
            without(alone, &["crv"])
        } else {
            alone
        };
        let v = jwks_validator(&doc(vec![beside, alone])).await;
        assert!(v.keys().skipped().is_empty(), "{:?}", v.keys().skipped());
        accepts(&v, &token(&key, alg)).await;
        accepts(&v, &token_naming(&key, "cert-only")).await;

        let v = pem_validator(&pem("CERTIFICATE", &v1), None).await;
        accepts(&v, &token(&key, alg)).await;
        let other = match key.kind() {
            KeyKind::Rsa2048 => rsa_b(),
            kind => TestKey::generate(kind, "other"),
        };
        assert!(matches!(
            refuses(&v, &token(&other, alg)).await,
            Error::InvalidSignature
        ));
    }
}

#[tokio::test]
async fn certificates_outside_rfc_5280_limits_on_fields_not_read_are_taken() {
    let key = rsa_a();
    // 22 octets, as Qualcomm's certificates carry; RFC 5280 says at most 20.
    let serial: Vec<u8> = (1..=22).collect();
    let long_serial = key.self_signed_cert_der_with_serial(&serial);
    // A DER file with a newline after it: the bytes after the certificate
    // are not part of it, nor of its thumbprint.
    let trailing = [key.self_signed_cert_der(), b"\n".to_vec()].concat();
    for (name, cert) in [("long-serial", long_serial), ("trailing", trailing)] {
        let jwk = json!({"kty": "RSA", "use": "sig", "kid": name,
                         "x5c": [STANDARD.encode(&cert)]});
        let v = jwks_validator(&doc(vec![jwk, adfs_jwk(&rsa_b())])).await;
        assert!(
            v.keys().skipped().is_empty(),
            "{name}: {:?}",
            v.keys().skipped()
        );
        accepts(&v, &token_naming(&key, name)).await;
        let v = pem_validator(&pem("CERTIFICATE", &cert), None).await;
        accepts(&v, &token(&key, "RS256")).await;
    }
    // The thumbprint is the certificate's own.
    let trailing = [key.self_signed_cert_der(), b"\n".to_vec()].concat();
    let v = jwks_validator(&doc(vec![
        json!({"kty": "RSA", "use": "sig", "x5c": [STANDARD.encode(&trailing)]}),
        adfs_jwk(&rsa_b()),
    ]))
    .await;
    accepts(&v, &adfs_token(&key, &key.x5t())).await;
}

// ===================================================================
// Big-endian integers with missing or extra leading zero bytes
// ===================================================================

/// A JWK member decoded, changed by `f`, encoded again.
fn remap(mut jwk: Value, member: &str, f: impl Fn(Vec<u8>) -> Vec<u8>) -> Value {
    let bytes = b64url_decode(jwk[member].as_str().unwrap());
    jwk[member] = json!(b64url(&f(bytes)));
    jwk
}

fn drop_first(bytes: Vec<u8>) -> Vec<u8> {
    assert_eq!(bytes[0], 0, "only a leading zero may be dropped");
    bytes[1..].to_vec()
}

fn prepend_zero(bytes: Vec<u8>) -> Vec<u8> {
    [&[0u8][..], &bytes].concat()
}

/// An EC key whose `member` coordinate starts with a zero byte (1 key in
/// 256; 20,000 tries fail to find one with probability e^-78).
fn ec_key_with_leading_zero(kind: KeyKind, member: &'static str) -> TestKey {
    TestKey::generate_until(kind, format!("{member}-short"), 20_000, |key| {
        b64url_decode(key.public_jwk()[member].as_str().unwrap())[0] == 0
    })
}

#[tokio::test]
async fn ec_coordinates_missing_a_leading_zero_byte_verify() {
    for kind in [KeyKind::EcP256, KeyKind::EcP384] {
        for member in ["x", "y"] {
            let key = ec_key_with_leading_zero(kind, member);
            let full = b64url_decode(key.public_jwk()[member].as_str().unwrap()).len();
            // What Keycloak published: 31 (or 47) bytes.
            let short = remap(key.public_jwk(), member, drop_first);
            let short_len = b64url_decode(short[member].as_str().unwrap()).len();
            assert_eq!(short_len, full - 1);
            // Alone in the JWKS, so build() fails if the key is skipped.
            let v = jwks_validator(&doc(vec![short.clone()])).await;
            assert!(v.keys().skipped().is_empty(), "{:?}", v.keys().skipped());
            accepts(&v, &token(&key, key.default_alg())).await;
            // And it still agrees with its certificate.
            let with_cert = with(short, json!({"x5c": [key.x5c()]}));
            let v = jwks_validator(&doc(vec![with_cert])).await;
            accepts(&v, &token(&key, key.default_alg())).await;
        }
    }
}

#[tokio::test]
async fn ec_coordinates_with_an_extra_leading_zero_byte_verify() {
    for kind in [KeyKind::EcP256, KeyKind::EcP384] {
        let key = TestKey::generate(kind, "long");
        // 33 (or 49) bytes: a DER-style sign byte in front of each.
        let long = remap(
            remap(key.public_jwk(), "x", prepend_zero),
            "y",
            prepend_zero,
        );
        let v = jwks_validator(&doc(vec![long])).await;
        accepts(&v, &token(&key, key.default_alg())).await;
    }
}

#[tokio::test]
async fn ec_coordinates_longer_than_the_field_are_skipped() {
    let key = TestKey::generate(KeyKind::EcP256, "too-long");
    let good = TestKey::generate(KeyKind::EcP256, "good");
    let v = jwks_validator(&doc(vec![
        remap(key.public_jwk(), "x", |x| [&[1u8][..], &x].concat()),
        good.public_jwk(),
    ]))
    .await;
    assert!(skipped_reason(&v, "too-long").contains("wrong length"));
    assert!(matches!(
        refuses(&v, &token(&key, "ES256")).await,
        Error::UnknownKey
    ));
}

#[tokio::test]
async fn rsa_n_and_e_with_extra_leading_zero_bytes_verify() {
    let key = rsa_a();
    let padded = remap(key.public_jwk(), "n", prepend_zero);
    let padded = remap(padded, "e", |e| [&[0u8, 0][..], &e].concat());
    assert_eq!(b64url_decode(padded["n"].as_str().unwrap()).len(), 257);
    let v = jwks_validator(&doc(vec![padded.clone()])).await;
    accepts(&v, &token(&key, "RS256")).await;
    accepts(&v, &token(&key, "PS512")).await;
    // The same key beside its certificate: not a disagreement.
    let v = jwks_validator(&doc(vec![with(padded, json!({"x5c": [key.x5c()]}))])).await;
    assert!(v.keys().skipped().is_empty(), "{:?}", v.keys().skipped());
    accepts(&v, &token(&key, "RS256")).await;
}

#[tokio::test]
async fn ed25519_x_is_not_an_integer_and_must_be_exactly_32_bytes() {
    let key = TestKey::generate(KeyKind::Ed25519, "ed");
    let good = TestKey::generate(KeyKind::EcP256, "good");
    let v = jwks_validator(&doc(vec![
        with(
            remap(key.public_jwk(), "x", prepend_zero),
            json!({"kid": "ed-33"}),
        ),
        good.public_jwk(),
    ]))
    .await;
    assert!(skipped_reason(&v, "ed-33").contains("wrong length"));
}

// ===================================================================
// Key selection by kid and alg, and by x5t
// ===================================================================

#[tokio::test]
async fn one_key_published_once_per_alg_under_one_kid_verifies_each_alg() {
    // Keycloak's identity brokering: the same RSA key three times, each
    // entry with its own alg.
    let key = rsa_a();
    let entry = |alg: &str| keycloak_jwk(&key, "sig", alg);
    let v = jwks_validator(&doc(vec![entry("RS256"), entry("RS384"), entry("RS512")])).await;
    assert!(v.keys().skipped().is_empty(), "{:?}", v.keys().skipped());
    assert_eq!(v.keys().kids().collect::<Vec<_>>(), [key.kid()]);
    for alg in ["RS256", "RS384", "RS512"] {
        accepts(&v, &token(&key, alg)).await;
        let kidless = claims_for(ISSUER).without_kid().sign_with(&key, alg);
        accepts(&v, &kidless).await;
    }
    // No entry states PS256.
    assert!(matches!(
        refuses(&v, &token(&key, "PS256")).await,
        Error::AlgorithmMismatch
    ));
    // Another key's signature under that kid is still no signature.
    let t = claims_for(ISSUER)
        .header("kid", key.kid())
        .sign_with(&rsa_b(), "RS512");
    assert!(matches!(refuses(&v, &t).await, Error::InvalidSignature));
}

#[tokio::test]
async fn same_kid_with_overlapping_algs_tries_each_key_that_takes_the_alg() {
    let (first, second) = (rsa_a(), rsa_b());
    let cases = [
        (json!({"alg": "RS256"}), json!({"alg": "RS256"})),
        (json!({"alg": "RS384"}), json!({})),
        (json!({}), json!({"alg": "PS256"})),
    ];
    for (a, b) in cases {
        let v = jwks_validator(&doc(vec![
            with(with(first.public_jwk(), json!({"kid": "dup"})), a.clone()),
            with(with(second.public_jwk(), json!({"kid": "dup"})), b.clone()),
        ]))
        .await;
        assert_eq!(v.keys().len(), 2, "{a} {b}");
        let alg = b["alg"].as_str().unwrap_or("RS256");
        let by_second = claims_for(ISSUER)
            .header("kid", "dup")
            .sign_with(&second, alg);
        v.verify::<StandardClaims>(&by_second)
            .await
            .unwrap_or_else(|e| panic!("{a} {b}: {e}"));
        // A key whose own `alg` is another one is never tried for it.
        if let Some(only) = a["alg"].as_str().filter(|only| *only != alg) {
            let other = if only == "RS384" { "PS384" } else { "RS512" };
            let by_first = claims_for(ISSUER)
                .header("kid", "dup")
                .sign_with(&first, other);
            let err = refuses(&v, &by_first).await;
            assert!(
                matches!(err, Error::InvalidSignature | Error::AlgorithmMismatch),
                "{a} {b}: {err}"
            );
        }
    }
}

#[tokio::test]
async fn same_kid_on_keys_of_different_types_selects_by_alg() {
    let rsa = rsa_a();
    let ec = TestKey::generate(KeyKind::EcP256, "shared");
    let v = jwks_validator(&doc(vec![
        with(rsa.public_jwk(), json!({"kid": "shared"})),
        ec.public_jwk(),
    ]))
    .await;
    assert!(v.keys().skipped().is_empty(), "{:?}", v.keys().skipped());
    accepts(&v, &token_naming(&rsa, "shared")).await;
    accepts(&v, &token_naming(&ec, "shared")).await;
    assert!(matches!(
        refuses(
            &v,
            &claims_for(ISSUER)
                .header("kid", "shared")
                .sign_with(&rsa_b(), "PS256")
        )
        .await,
        Error::InvalidSignature
    ));
}

/// AD FS's JWKS during a certificate rollover: each signing key with `kid`
/// equal to its `x5t`, plus `x5c`.
fn adfs_jwk(key: &TestKey) -> Value {
    with(
        key.public_jwk_with_x5c(),
        json!({"kid": key.x5t(), "alg": "RS256"}),
    )
}

/// An AD FS access token: `x5t`, no `kid`.
fn adfs_token(signer: &TestKey, x5t: &str) -> String {
    claims_for(ISSUER)
        .without_kid()
        .header("x5t", x5t)
        .sign_with(signer, "RS256")
}

#[tokio::test]
async fn kidless_token_with_x5t_selects_among_two_keys_in_a_rollover() {
    let (old, new) = (rsa_a(), rsa_b());
    let v = jwks_validator(&doc(vec![adfs_jwk(&old), adfs_jwk(&new)])).await;
    assert_eq!(v.keys().len(), 2);
    accepts(&v, &adfs_token(&old, &old.x5t())).await;
    accepts(&v, &adfs_token(&new, &new.x5t())).await;
    // Without x5t the two keys are as ambiguous as before.
    assert!(matches!(
        refuses(&v, &token_without_kid(&new)).await,
        Error::AmbiguousKey
    ));
    // x5t chooses the key; the signature must still be that key's.
    assert!(matches!(
        refuses(&v, &adfs_token(&new, &old.x5t())).await,
        Error::InvalidSignature
    ));
    // An x5t no published key has chooses nothing.
    let unknown = b64url(&[9u8; 20]);
    assert!(matches!(
        refuses(&v, &adfs_token(&new, &unknown)).await,
        Error::AmbiguousKey
    ));
}

#[tokio::test]
async fn x5t_matches_the_first_certificate_when_the_jwk_has_no_x5t_member() {
    let (a, b) = (rsa_a(), rsa_b());
    let v = jwks_validator(&doc(vec![
        without(a.public_jwk_with_x5c(), &["x5t"]),
        without(b.public_jwk_with_x5c(), &["x5t"]),
    ]))
    .await;
    accepts(&v, &adfs_token(&a, &a.x5t())).await;
    accepts(&v, &adfs_token(&b, &b.x5t())).await;
    // The JWK's x5t member alone (no certificate) selects too.
    let only_member = |k: &TestKey| with(k.public_jwk(), json!({"x5t": k.x5t()}));
    let v = jwks_validator(&doc(vec![only_member(&a), only_member(&b)])).await;
    accepts(&v, &adfs_token(&a, &a.x5t())).await;
    accepts(&v, &adfs_token(&b, &b.x5t())).await;
}

#[tokio::test]
async fn x5t_is_never_a_key_source() {
    let published = rsa_a();
    let outsider = rsa_b();
    let v = jwks_validator(&doc(vec![adfs_jwk(&published)])).await;
    // Naming and signed by a key that is not published: refused.
    let t = claims_for(ISSUER)
        .without_kid()
        .header("x5t", outsider.x5t())
        .header("x5c", json!([outsider.x5c()]))
        .sign_with(&outsider, "RS256");
    assert!(matches!(refuses(&v, &t).await, Error::InvalidSignature));
    // A stale x5t with the one published key's signature verifies, as it
    // did when x5t was not read at all.
    accepts(&v, &adfs_token(&published, &outsider.x5t())).await;
    // x5t does not override kid.
    let t = claims_for(ISSUER)
        .header("kid", "unknown")
        .header("x5t", published.x5t())
        .sign_with(&published, "RS256");
    assert!(matches!(refuses(&v, &t).await, Error::UnknownKey));
}
