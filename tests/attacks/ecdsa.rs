//! ECDSA signatures no signer produces: zero (CVE-2022-21449, the
//! "psychic signature"), values at or above the group order, the wrong
//! length, DER instead of JWS's fixed `r || s`, and curves swapped.

use oidc_bearer_testkit::b64url_decode;

use crate::*;

/// The order of the P-256 group, big-endian.
const P256_ORDER: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
/// The order of the P-384 group, big-endian.
const P384_ORDER: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `r || s`, each left-padded to `len` bytes.
fn rs(r: &[u8], s: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0; 2 * len];
    out[len - r.len()..len].copy_from_slice(r);
    out[2 * len - s.len()..].copy_from_slice(s);
    out
}

/// `token`'s header and payload with `signature` in place of its own.
fn with_signature(token: &str, signature: &[u8]) -> String {
    let [header, payload, _] = parts(token);
    format!("{header}.{payload}.{}", b64url(signature))
}

/// ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }` of a raw `r || s`.
fn der(raw: &[u8]) -> Vec<u8> {
    let int = |v: &[u8]| {
        let v = &v[v.iter().position(|&b| b != 0).unwrap_or(v.len() - 1)..];
        let mut out = vec![0x02];
        let pad = v[0] & 0x80 != 0;
        out.push((v.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(v);
        out
    };
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [int(r), int(s)].concat();
    let mut out = vec![0x30];
    if body.len() >= 0x80 {
        out.push(0x81);
    }
    out.push(body.len() as u8);
    out.extend(body);
    out
}

#[tokio::test]
async fn zero_signatures_cve_2022_21449() {
    let v = validator().await;
    for (key, len) in [(&*P256, 32), (&*P384, 48)] {
        let honest = token().sign(key);
        refuses(
            &v,
            &with_signature(&honest, &vec![0; 2 * len]),
            "invalid signature",
        )
        .await;
        // r = 0 with a real s, and a real r with s = 0.
        let real = b64url_decode(parts(&honest)[2]);
        let (r, s) = real.split_at(len);
        refuses(
            &v,
            &with_signature(&honest, &rs(&[0], s, len)),
            "invalid signature",
        )
        .await;
        refuses(
            &v,
            &with_signature(&honest, &rs(r, &[0], len)),
            "invalid signature",
        )
        .await;
    }
}

#[tokio::test]
async fn r_or_s_at_or_above_the_group_order() {
    let v = validator().await;
    for (key, order, len) in [(&*P256, hex(P256_ORDER), 32), (&*P384, hex(P384_ORDER), 48)] {
        let honest = token().sign(key);
        let real = b64url_decode(parts(&honest)[2]);
        let (r, s) = real.split_at(len);
        let max = vec![0xff; len];
        let mut order_plus_one = order.clone();
        *order_plus_one.last_mut().unwrap() += 1;
        for (what, forged) in [
            ("r = s = n", rs(&order, &order, len)),
            ("r = n, s = 1", rs(&order, &[1], len)),
            ("r = 1, s = n", rs(&[1], &order, len)),
            ("r = n, real s", rs(&order, s, len)),
            ("real r, s = n", rs(r, &order, len)),
            ("real r, s = n + 1", rs(r, &order_plus_one, len)),
            ("r = s = 2^k - 1", rs(&max, &max, len)),
            ("real r, s = 2^k - 1", rs(r, &max, len)),
        ] {
            assert!(
                v.try_verify::<User>(&with_signature(&honest, &forged))
                    .is_err(),
                "{what}"
            );
            refuses(&v, &with_signature(&honest, &forged), "invalid signature").await;
        }
    }
}

#[tokio::test]
async fn signatures_of_the_wrong_length() {
    let v = validator().await;
    for (key, len) in [(&*P256, 32), (&*P384, 48)] {
        let honest = token().sign(key);
        let real = b64url_decode(parts(&honest)[2]);
        let mut longer = real.clone();
        longer.push(0);
        let mut leading_zero = vec![0];
        leading_zero.extend(&real);
        for forged in [
            Vec::new(),
            vec![0],
            real[..2 * len - 1].to_vec(),
            real[1..].to_vec(),
            longer,
            leading_zero,
            [real.as_slice(), real.as_slice()].concat(),
            real[..len].to_vec(),
        ] {
            refuses(&v, &with_signature(&honest, &forged), "invalid signature").await;
        }
    }
}

#[tokio::test]
async fn der_encoded_signatures_are_not_jws_signatures() {
    let v = validator().await;
    for key in [&*P256, &*P384] {
        let honest = token().sign(key);
        let real = b64url_decode(parts(&honest)[2]);
        refuses(
            &v,
            &with_signature(&honest, &der(&real)),
            "invalid signature",
        )
        .await;
    }
}

#[tokio::test]
async fn curves_swapped_between_token_and_key() {
    let v = validator().await;
    // An ES256 header naming the P-384 key, and the other way round.
    let es256_at_p384 = token().header("kid", "ec-384").sign(&P256);
    refuses(&v, &es256_at_p384, "algorithm does not match the key").await;
    let es384_at_p256 = token().header("kid", "ec-256").sign(&P384);
    refuses(&v, &es384_at_p256, "algorithm does not match the key").await;
    // The header says ES384 and names the P-384 key; the signature is a
    // P-256 one.
    let p256_signature = b64url_decode(parts(&token().sign(&P256))[2]);
    let relabelled = with_signature(
        &token()
            .header("alg", "ES384")
            .header("kid", "ec-384")
            .sign(&P384),
        &p256_signature,
    );
    refuses(&v, &relabelled, "invalid signature").await;
    // ES256 over an RSA or Ed25519 key.
    let at_rsa = token().header("kid", "rsa-1").sign(&P256);
    refuses(&v, &at_rsa, "algorithm does not match the key").await;
    let at_ed = token().header("kid", "ed-1").sign(&P256);
    refuses(&v, &at_ed, "algorithm does not match the key").await;
}
