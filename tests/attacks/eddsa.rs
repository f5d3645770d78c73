//! Ed25519: `S` not reduced below the group order `L` (malleability),
//! non-canonical `R`, and small-order public keys, with which R = identity,
//! S = 0 "verifies" any message (issue 11, item 1: refused at key load).

use oidc_bearer_testkit::b64url_decode;

use crate::*;

/// The group order L = 2^252 + 27742317777372353535851937790883648493,
/// little-endian as Ed25519 encodes scalars.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// Little-endian `a + b` (no overflow for the values used here).
fn add_le(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut carry = 0u16;
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let sum = u16::from(*x) + u16::from(*y) + carry;
            carry = sum >> 8;
            sum as u8
        })
        .collect()
}

fn with_signature(token: &str, signature: &[u8]) -> String {
    let [header, payload, _] = parts(token);
    format!("{header}.{payload}.{}", b64url(signature))
}

/// Every encoding of a point of small order (the eight torsion points):
/// canonical ones, the non-canonical y >= p ones, and both values of the
/// sign bit (x = 0 with the sign bit set is itself non-canonical).
fn small_order_encodings() -> Vec<(&'static str, [u8; 32])> {
    let mut out = Vec::new();
    for (name, low) in [
        // (0, 1), order 1: the identity.
        (
            "identity",
            "0100000000000000000000000000000000000000000000000000000000000000",
        ),
        // (0, -1), order 2.
        (
            "order 2",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ),
        // (±sqrt(-1), 0), order 4.
        (
            "order 4",
            "0000000000000000000000000000000000000000000000000000000000000000",
        ),
        // The two y of the order-8 points.
        (
            "order 8 (a)",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        ),
        (
            "order 8 (b)",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        ),
        // y = p (that is, 0) and y = p + 1 (that is, 1): non-canonical.
        (
            "order 4, y = p",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ),
        (
            "identity, y = p + 1",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ),
    ] {
        let point = hex32(low);
        out.push((name, point));
        let mut signed = point;
        signed[31] |= 0x80;
        out.push((name, signed));
    }
    out
}

/// R = identity, S = 0: the signature that "verifies" any message under a
/// small-order key whenever [k]A is the identity.
fn identity_signature() -> Vec<u8> {
    let mut signature = vec![0; 64];
    signature[0] = 1;
    signature
}

#[tokio::test]
async fn s_at_or_above_the_group_order_is_refused() {
    let v = validator().await;
    let honest = token().sign(&ED);
    let real = b64url_decode(parts(&honest)[2]);
    let (r, s) = real.split_at(32);
    // S + L: the same scalar mod L, which a verifier that reduces S accepts.
    let s_plus_l = add_le(s, &L);
    refuses(
        &v,
        &with_signature(&honest, &[r, &s_plus_l].concat()),
        "invalid signature",
    )
    .await;
    refuses(
        &v,
        &with_signature(&honest, &[r, &L[..]].concat()),
        "invalid signature",
    )
    .await;
    refuses(
        &v,
        &with_signature(&honest, &[r, &[0xff; 32][..]].concat()),
        "invalid signature",
    )
    .await;
    refuses(&v, &with_signature(&honest, &[0; 64]), "invalid signature").await;
    // The honest signature itself verifies: the refusals are about S.
    accepts(&v, &honest).await;
}

#[tokio::test]
async fn non_canonical_r_is_refused() {
    let v = validator().await;
    let honest = token().sign(&ED);
    let real = b64url_decode(parts(&honest)[2]);
    let s = &real[32..];
    let mut flipped = real[..32].to_vec();
    flipped[31] ^= 0x80;
    for r in [
        flipped,
        hex32("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f").to_vec(),
        hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff").to_vec(),
        vec![0xff; 32],
    ] {
        refuses(
            &v,
            &with_signature(&honest, &[&r[..], s].concat()),
            "invalid signature",
        )
        .await;
    }
    // A wrong length is no better.
    refuses(
        &v,
        &with_signature(&honest, &real[..63]),
        "invalid signature",
    )
    .await;
    refuses(
        &v,
        &with_signature(&honest, &[&real[..], &[0]].concat()),
        "invalid signature",
    )
    .await;
}

#[tokio::test]
async fn small_order_keys_in_a_jwks_are_skipped_and_their_forgeries_refused() {
    for (i, (name, x)) in small_order_encodings().into_iter().enumerate() {
        let kid = format!("small-{i}");
        let mut doc = jwks(&[&ED]);
        doc["keys"].as_array_mut().unwrap().push(json!({
            "kty": "OKP", "crv": "Ed25519", "use": "sig", "kid": kid, "x": b64url(&x),
        }));
        let v = Validator::builder()
            .issuer(ISS)
            .audience(AUD)
            .jwks_json(doc.to_string())
            .clock(ManualClock::new(NOW))
            .build()
            .await
            .unwrap_or_else(|e| panic!("{name}: the honest key still builds: {e}"));
        let keys = v.keys();
        assert!(
            !keys.contains_kid(&kid),
            "{name} ({}) is usable",
            b64url(&x)
        );
        assert!(
            keys.skipped()
                .iter()
                .any(|s| s.kid.as_deref() == Some(kid.as_str())),
            "{name}: not listed as skipped: {:?}",
            keys.skipped()
        );
        // Any claims at all, "signed" with R = identity, S = 0.
        let header = format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#);
        for payload in [
            claims_text(),
            json!({"iss": ISS, "aud": AUD, "sub": "admin", "exp": NOW + 60}).to_string(),
        ] {
            let forged = format!(
                "{}.{}.{}",
                b64(&header),
                b64(&payload),
                b64url(&identity_signature())
            );
            refuses(&v, &forged, "unknown key id").await;
        }
        accepts(&v, &token().sign(&ED)).await;
    }
}

/// RFC 8032 §7.1 TEST 1's public key plus a point of order 8: on the
/// curve and canonically encoded, but outside the prime-order subgroup, so
/// no private key stands behind it (computed with the curve's addition
/// law; adding the same point seven more times gives TEST 1's key back).
const MIXED_ORDER_X: &str = "3b5b475c4b82dd1572799fc546f4c6c03e478c6654aa4c7f945b347ea32af60d";

#[tokio::test]
async fn a_key_with_a_small_order_component_is_skipped() {
    let mut doc = jwks(&[&ED]);
    doc["keys"].as_array_mut().unwrap().push(json!({
        "kty": "OKP", "crv": "Ed25519", "kid": "mixed", "x": b64url(&hex32(MIXED_ORDER_X)),
    }));
    let v = builder_for(&[&ED])
        .jwks_json(doc.to_string())
        .build()
        .await
        .unwrap();
    assert!(!v.keys().contains_kid("mixed"), "{:?}", v.keys());
    let header = r#"{"alg":"EdDSA","kid":"mixed"}"#;
    let forged = format!(
        "{}.{}.{}",
        b64(header),
        b64(&claims_text()),
        b64url(&identity_signature())
    );
    refuses(&v, &forged, "unknown key id").await;
    accepts(&v, &token().sign(&ED)).await;
}

#[tokio::test]
async fn a_jwks_holding_only_a_small_order_key_does_not_build() {
    for (name, x) in small_order_encodings() {
        let doc =
            json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "small", "x": b64url(&x)}]});
        let error = Validator::builder()
            .issuer(ISS)
            .audience(AUD)
            .jwks_json(doc.to_string())
            .build()
            .await
            .map(|_| ())
            .expect_err(name);
        assert!(
            error.to_string().contains("no usable signing key"),
            "{name}: {error}"
        );
    }
}

#[tokio::test]
async fn a_small_order_key_given_as_pem_does_not_build() {
    // SubjectPublicKeyInfo for Ed25519: the fixed 12-byte prefix, then x.
    let prefix = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    for (name, x) in small_order_encodings() {
        let der = [&prefix[..], &x].concat();
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &der)
        );
        let built = Validator::builder()
            .issuer(ISS)
            .audience(AUD)
            .pem_key(pem, Some("small"))
            .clock(ManualClock::new(NOW))
            .build()
            .await;
        if let Ok(v) = built {
            let header = r#"{"alg":"EdDSA","kid":"small"}"#;
            let forged = format!(
                "{}.{}.{}",
                b64(header),
                b64(&claims_text()),
                b64url(&identity_signature())
            );
            panic!(
                "{name}: a small-order PEM key was loaded; the forgery gets {:?}",
                v.try_verify::<User>(&forged).map(|c| c.sub.clone())
            );
        }
    }
}
