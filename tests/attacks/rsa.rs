//! RSA: signatures shorter or longer than the modulus, values at or above
//! it, and keys with the public exponent 3 (kept: see
//! `e3_keys_are_kept_and_a_bleichenbacher_06_forgery_is_refused`).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use num_bigint::BigUint;
use oidc_bearer_testkit::b64url_decode;

use crate::*;

fn with_signature(token: &str, signature: &[u8]) -> String {
    let [header, payload, _] = parts(token);
    format!("{header}.{payload}.{}", b64url(signature))
}

/// `value` big-endian, left-padded to `len` bytes.
fn padded(value: &BigUint, len: usize) -> Vec<u8> {
    let bytes = value.to_bytes_be();
    assert!(bytes.len() <= len);
    [vec![0; len - bytes.len()], bytes].concat()
}

#[tokio::test]
async fn signatures_shorter_or_longer_than_the_modulus() {
    let v = validator().await;
    for alg in ["RS256", "PS256"] {
        let honest = token().header("alg", alg).sign(&RSA);
        let real = b64url_decode(parts(&honest)[2]);
        assert_eq!(real.len(), 256);
        for forged in [
            Vec::new(),
            vec![1],
            real[1..].to_vec(),
            real[..255].to_vec(),
            [&[0][..], &real].concat(),
            [&real[..], &[0]].concat(),
            [real.as_slice(), real.as_slice()].concat(),
            vec![0; 512],
        ] {
            refuses(&v, &with_signature(&honest, &forged), "invalid signature").await;
        }
    }
}

#[tokio::test]
async fn signature_values_zero_one_minus_one_and_at_or_above_the_modulus() {
    let v = validator().await;
    let n = BigUint::from_bytes_be(&b64url_decode(RSA.public_jwk()["n"].as_str().unwrap()));
    let honest = token().sign(&RSA);
    let one = BigUint::from(1u8);
    for (what, value) in [
        ("0", BigUint::from(0u8)),
        ("1", one.clone()),
        ("n - 1", &n - &one),
        ("n", n.clone()),
        ("n + 1", &n + &one),
        ("2^2048 - 1", (BigUint::from(1u8) << 2048u32) - &one),
    ] {
        let forged = with_signature(&honest, &padded(&value, 256));
        assert!(v.try_verify::<User>(&forged).is_err(), "{what}");
        refuses(&v, &forged, "invalid signature").await;
    }
}

/// The RSA-2048 test key with e = 3 (`openssl genpkey -algorithm RSA
/// -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_pubexp:3`): no key
/// generator at hand makes one, and generating one per run would be slow.
const E3_KEY_PEM: &str = include_str!("rsa_e3_test_key.pem");

fn e3_key_pair() -> RsaKeyPair {
    let body: String = E3_KEY_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    RsaKeyPair::from_pkcs8(&STANDARD.decode(body).unwrap()).expect("the e = 3 test key loads")
}

/// Keeping e = 3 keys is safe because the PKCS#1 v1.5 check is strict
/// (the whole encoded message is compared, not parsed): the classic
/// forgery for e = 3 — a cube root of `00 01 FF.. 00 DigestInfo hash`
/// followed by garbage — fails. Refusing such keys would buy nothing
/// against that, and would lock out a provider that uses them.
#[tokio::test]
async fn e3_keys_are_kept_and_a_bleichenbacher_06_forgery_is_refused() {
    let pair = e3_key_pair();
    let public = pair.public_key();
    let n_bytes = public.modulus().big_endian_without_leading_zero();
    assert_eq!(public.exponent().big_endian_without_leading_zero(), [3]);
    let jwk = json!({"kty": "RSA", "use": "sig", "kid": "rsa-e3", "n": b64url(n_bytes), "e": "Aw"});
    let v = Validator::builder()
        .issuer(ISS)
        .audience(AUD)
        .jwks_json(json!({"keys": [jwk]}).to_string())
        .clock(ManualClock::new(NOW))
        .build()
        .await
        .expect("an e = 3 key is usable");

    // An honest token from the e = 3 key verifies.
    let input = format!(
        "{}.{}",
        b64(r#"{"alg":"RS256","kid":"rsa-e3"}"#),
        b64(&claims_text())
    );
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    accepts(&v, &format!("{input}.{}", b64url(&signature))).await;

    // The forgery, over other claims: a cube root, no private key.
    let forged_input = format!(
        "{}.{}",
        b64(r#"{"alg":"RS256","kid":"rsa-e3"}"#),
        b64(&json!({"iss": ISS, "aud": AUD, "sub": "admin", "exp": NOW + 3600}).to_string())
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, forged_input.as_bytes());
    let mut prefix = vec![0x00, 0x01];
    prefix.extend([0xff; 8]);
    prefix.push(0x00);
    // DigestInfo for SHA-256 (RFC 8017 §9.2, note 1).
    prefix.extend([
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ]);
    prefix.extend(digest.as_ref());
    let k = n_bytes.len();
    let ceiling = BigUint::from_bytes_be(&[prefix.clone(), vec![0xff; k - prefix.len()]].concat());
    let s = ceiling.cbrt();
    let cube = padded(&s.pow(3u32), k);
    // What a verifier that parses the padding and ignores trailing bytes
    // would see: the right hash.
    assert_eq!(
        &cube[..prefix.len()],
        prefix.as_slice(),
        "the forgery is well built"
    );
    assert!(s.pow(3u32) < BigUint::from_bytes_be(n_bytes));
    let forged = format!("{forged_input}.{}", b64url(&padded(&s, k)));
    refuses(&v, &forged, "invalid signature").await;
}
