//! JWKS parsing on arbitrary documents: `KeySet::from_jwks` and a
//! validator built from the document never panic, and tokens forged
//! without any private key — `alg: none`, an ECDSA signature of zeros, an
//! Ed25519 signature with R = identity and S = 0 (which small-order keys
//! would accept), an RSA signature of 1 — are refused whatever keys the
//! document holds.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use oidc_bearer::{StandardClaims, Validator};
use oidc_bearer::keys::KeySet;
use oidc_bearer::clock::ManualClock;
use oidc_bearer_testkit::b64url;

const ISS: &str = "https://issuer.fuzz.test/realms/fuzz";
const AUD: &str = "fuzz-api";
const NOW: i64 = 1_718_719_000;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
});

/// Tokens anyone can make, for each kid a fuzzed document is likely to use.
static FORGERIES: LazyLock<Vec<String>> = LazyLock::new(|| {
    let claims = serde_json::json!({"iss": ISS, "aud": AUD, "sub": "forged", "exp": NOW + 3600});
    let payload = b64url(claims.to_string().as_bytes());
    let mut identity = vec![0u8; 64];
    identity[0] = 1;
    let mut one = vec![0u8; 256];
    one[255] = 1;
    let mut out = Vec::new();
    for kid in [None, Some("k"), Some("1"), Some("")] {
        for (alg, signature) in [
            ("none", Vec::new()),
            ("EdDSA", identity.clone()),
            ("Ed25519", identity.clone()),
            ("ES256", vec![0; 64]),
            ("ES384", vec![0; 96]),
            ("RS256", one.clone()),
            ("PS256", one.clone()),
        ] {
            let mut header = serde_json::json!({"alg": alg});
            if let Some(kid) = kid {
                header["kid"] = kid.into();
            }
            let header = b64url(header.to_string().as_bytes());
            out.push(format!("{header}.{payload}.{}", b64url(&signature)));
        }
    }
    out
});

fuzz_target!(|data: &[u8]| {
    let _ = KeySet::from_jwks(data);
    let built = RUNTIME.block_on(
        Validator::builder()
            .issuer(ISS)
            .audience(AUD)
            .jwks_json(data.to_vec())
            .clock(ManualClock::new(NOW))
            .build(),
    );
    let Ok(validator) = built else {
        return;
    };
    for forged in FORGERIES.iter() {
        assert!(
            validator.try_verify::<StandardClaims>(forged).is_err(),
            "a keyless forgery verified: {forged} against {}",
            String::from_utf8_lossy(data)
        );
    }
});
