//! Signatures taken away, cut, lengthened, moved from another token, and
//! headers and payloads swapped between two valid tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::*;

#[tokio::test]
async fn signature_stripped() {
    let v = validator().await;
    for key in [&*RSA, &*P256, &*P384, &*ED] {
        let honest = token().claim("sub", "admin").sign(key);
        let [header, payload, _] = parts(&honest);
        refuses(&v, &format!("{header}.{payload}."), "invalid signature").await;
        // Without the last dot the token no longer has three parts.
        refuses(
            &v,
            &format!("{header}.{payload}"),
            "malformed token: expected three dot-separated parts",
        )
        .await;
    }
}

#[tokio::test]
async fn signature_truncated_or_extended() {
    let v = validator().await;
    for key in [&*RSA, &*P256, &*P384, &*ED] {
        let honest = token().sign(key);
        let [header, payload, signature] = parts(&honest);
        let with = |s: &str| format!("{header}.{payload}.{s}");
        // Whole groups of four characters off: still a length base64url can
        // have; refused as not canonical base64url when the new last
        // character carries stray bits, as a wrong signature otherwise.
        for cut in [
            &signature[..signature.len() - 4],
            &signature[4..],
            &signature[..4],
        ] {
            refuses(&v, &with(cut), refusal_for(cut)).await;
        }
        for extended in [
            format!("{signature}AAAA"),
            format!("AAAA{signature}"),
            signature.repeat(2),
        ] {
            refuses(&v, &with(&extended), "invalid signature").await;
        }
        // One character off or on: a length base64url cannot have, stray
        // bits, or a signature a byte longer.
        for odd in [
            signature[..signature.len() - 1].to_owned(),
            format!("{signature}A"),
        ] {
            refuses(&v, &with(&odd), refusal_for(&odd)).await;
        }
    }
}

/// How a token whose signature part is `text` is refused: as malformed
/// when `text` is not canonical base64url, else as a wrong signature.
fn refusal_for(text: &str) -> &'static str {
    match URL_SAFE_NO_PAD.decode(text) {
        Ok(_) => "invalid signature",
        Err(_) => "malformed token: signature is not base64url",
    }
}

#[tokio::test]
async fn signature_from_another_token() {
    let v = validator().await;
    for key in [&*RSA, &*P256, &*P384, &*ED] {
        let user = token().sign(key);
        let admin_claims = token().claim("sub", "admin").sign(key);
        let [header, payload, _] = parts(&admin_claims);
        let [_, _, user_signature] = parts(&user);
        refuses(
            &v,
            &format!("{header}.{payload}.{user_signature}"),
            "invalid signature",
        )
        .await;
    }
    // A signature by another key type, under a header naming the victim.
    let ed_signature = parts(&token().sign(&ED))[2].to_owned();
    let rsa = token().claim("sub", "admin").sign(&RSA);
    let [header, payload, _] = parts(&rsa);
    refuses(
        &v,
        &format!("{header}.{payload}.{ed_signature}"),
        "invalid signature",
    )
    .await;
}

#[tokio::test]
async fn headers_and_payloads_swapped_between_two_valid_tokens() {
    let v = validator().await;
    // Two honest tokens of different keys and claims.
    let a = token().claim("sub", "alice").sign(&RSA);
    let b = token().claim("sub", "admin").sign(&P256);
    let [ha, pa, sa] = parts(&a);
    let [hb, pb, sb] = parts(&b);
    for (forged, description) in [
        (format!("{ha}.{pb}.{sa}"), "invalid signature"),
        (format!("{hb}.{pa}.{sb}"), "invalid signature"),
        (format!("{ha}.{pb}.{sb}"), "invalid signature"),
        (format!("{hb}.{pa}.{sa}"), "invalid signature"),
        // The payload in the header's place and the other way round.
        (
            format!("{pa}.{ha}.{sa}"),
            "malformed token: header has no alg",
        ),
    ] {
        refuses(&v, &forged, description).await;
    }
    // The two originals are fine.
    accepts(&v, &a).await;
    accepts(&v, &b).await;
}
