//! `alg` games: `none` in any spelling, a missing or mistyped `alg`, and
//! HMAC keyed with the issuer's public key (algorithm confusion).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use oidc_bearer_testkit::{TestKey, b64url_decode};

use crate::*;

#[tokio::test]
async fn alg_none_in_any_spelling_with_or_without_a_signature() {
    let v = validator().await;
    let honest = token().sign(&RSA);
    let [_, _, signature] = parts(&honest);
    for alg in ["none", "None", "NONE", "nOnE"] {
        let unsigned = token().header("kid", "rsa-1").unsigned(alg);
        refuses(&v, &unsigned, "unsupported algorithm").await;
        // The same with an honest RSA signature glued on.
        let glued = format!("{}{signature}", unsigned);
        refuses(&v, &glued, "unsupported algorithm").await;
        // And with no kid at all.
        refuses(&v, &token().unsigned(alg), "unsupported algorithm").await;
    }
}

#[tokio::test]
async fn alg_missing_null_number_or_array() {
    let v = validator().await;
    let payload = claims_text();
    for (header, description) in [
        (r#"{"kid":"rsa-1"}"#, "malformed token: header has no alg"),
        (
            r#"{"alg":null,"kid":"rsa-1"}"#,
            "malformed token: header has no alg",
        ),
        (
            r#"{"alg":256,"kid":"rsa-1"}"#,
            "malformed token: header is not a valid JOSE header",
        ),
        (
            r#"{"alg":["RS256"],"kid":"rsa-1"}"#,
            "malformed token: header is not a valid JOSE header",
        ),
        (
            r#"{"alg":{"name":"RS256"},"kid":"rsa-1"}"#,
            "malformed token: header is not a valid JOSE header",
        ),
        (r#"{"alg":"","kid":"rsa-1"}"#, "unsupported algorithm"),
        (r#"{"alg":"RS256 ","kid":"rsa-1"}"#, "unsupported algorithm"),
        (r#"{"alg":"rs256","kid":"rsa-1"}"#, "unsupported algorithm"),
    ] {
        // Signed with the honest key over exactly this header.
        refuses(&v, &raw_token(header, &payload, &RSA, "RS256"), description).await;
    }
}

/// What an attacker may take for the "secret" of an HMAC token when the
/// issuer's public key is all they have.
fn public_key_as_secret(key: &TestKey) -> Vec<(&'static str, Vec<u8>)> {
    let jwk = key.public_jwk();
    let mut secrets = vec![
        ("PEM text", key.public_pem().into_bytes()),
        (
            "PEM text without the final newline",
            key.public_pem().trim_end().as_bytes().to_vec(),
        ),
        ("SPKI DER", key.spki_der()),
        (
            "SPKI DER in base64",
            STANDARD.encode(key.spki_der()).into_bytes(),
        ),
        ("JWK JSON", jwk.to_string().into_bytes()),
        ("JWK JSON, pretty", serde_json::to_vec_pretty(&jwk).unwrap()),
    ];
    if let Some(n) = jwk["n"].as_str() {
        secrets.push(("raw modulus", b64url_decode(n)));
        secrets.push(("modulus as base64url text", n.as_bytes().to_vec()));
    }
    if let (Some(x), Some(y)) = (jwk["x"].as_str(), jwk["y"].as_str()) {
        let mut point = vec![4];
        point.extend(b64url_decode(x));
        point.extend(b64url_decode(y));
        secrets.push(("raw EC point", point));
    }
    secrets
}

#[tokio::test]
async fn hmac_keyed_with_the_public_key_is_refused_without_a_configured_secret() {
    let v = validator().await;
    for key in [&*RSA, &*P256] {
        for (what, secret) in public_key_as_secret(key) {
            for alg in ["HS256", "HS384", "HS512"] {
                let forged = token().header("kid", key.kid()).sign_hmac(&secret, alg);
                // Without a configured secret HMAC is not an algorithm at all.
                let error = v.try_verify::<User>(&forged).expect_err(what);
                assert_eq!(error.description(), "unsupported algorithm", "{what} {alg}");
                refuses(&v, &forged, "unsupported algorithm").await;
            }
        }
    }
}

#[tokio::test]
async fn hmac_keyed_with_the_public_key_never_verifies_beside_a_configured_secret() {
    // An application that also accepts HMAC tokens from its own services:
    // the JWKS key must still never serve as the HMAC secret.
    let v = builder()
        .hmac_secret(b"a-32-byte-secret-only-we-know!!!".to_vec())
        .build()
        .await
        .unwrap();
    for key in [&*RSA, &*P256] {
        for (what, secret) in public_key_as_secret(key) {
            for alg in ["HS256", "HS384", "HS512"] {
                let forged = token().header("kid", key.kid()).sign_hmac(&secret, alg);
                assert!(v.try_verify::<User>(&forged).is_err(), "{what} {alg}");
                refuses(&v, &forged, "invalid signature").await;
            }
        }
    }
    // The configured secret itself works, so the refusals above are the
    // secret's doing, not a broken HMAC path.
    let own = token().sign_hmac(b"a-32-byte-secret-only-we-know!!!", "HS256");
    accepts(&v, &own).await;
}
