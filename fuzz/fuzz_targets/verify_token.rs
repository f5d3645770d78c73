//! Token verification on arbitrary input, with two oracles: nothing the
//! fuzzer signs itself is ever accepted (that would be a forgery), and a
//! validator with the verified-token cache decides every input exactly as
//! one without it.
//!
//! The first byte picks how the rest becomes a token:
//! - 0: the rest, as text, is the token;
//! - 1: `header 0xFF payload 0xFF signature`, each base64url-encoded here,
//!   so the fuzzer works on the decoded JSON and signature bytes;
//! - 2: `key header 0xFF payload`: the header and payload JSON the fuzzer
//!   wrote, signed with a real key (chosen by `key`), to reach the claim
//!   checks; acceptance is legitimate there, so only the cache oracle holds.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use oidc_bearer::{StandardClaims, Validator};
use oidc_bearer::clock::ManualClock;
use oidc_bearer_testkit::{KeyKind, TestKey, b64url, jwks};

const ISS: &str = "https://issuer.fuzz.test/realms/fuzz";
const AUD: &str = "fuzz-api";
const NOW: i64 = 1_718_719_000;

struct Setup {
    keys: Vec<TestKey>,
    cached: Validator,
    fresh: Validator,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let keys = vec![
        TestKey::generate(KeyKind::Rsa2048, "rsa-1"),
        TestKey::generate(KeyKind::EcP256, "ec-256"),
        TestKey::generate(KeyKind::Ed25519, "ed-1"),
    ];
    let refs: Vec<&TestKey> = keys.iter().collect();
    let doc = jwks(&refs).to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let build = |cache: usize| {
        runtime
            .block_on(
                Validator::builder()
                    .issuer(ISS)
                    .audience(AUD)
                    .jwks_json(doc.clone())
                    .clock(ManualClock::new(NOW))
                    .token_cache_size(cache)
                    .build(),
            )
            .unwrap()
    };
    let cached = build(10_000);
    let fresh = build(0);
    Setup {
        keys,
        cached,
        fresh,
    }
});

/// What a verification answered, comparable across validators.
fn outcome(v: &Validator, token: &str) -> Result<Option<String>, String> {
    v.try_verify::<StandardClaims>(token)
        .map(|c| c.sub.clone())
        .map_err(|e| e.description())
}

fn split3(data: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let mut parts = data.splitn(3, |&b| b == 0xff);
    let a = parts.next().unwrap_or_default();
    let b = parts.next().unwrap_or_default();
    let c = parts.next().unwrap_or_default();
    (a, b, c)
}

fuzz_target!(|data: &[u8]| {
    let setup = &*SETUP;
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (token, signed_by_us) = match mode % 3 {
        0 => (String::from_utf8_lossy(rest).into_owned(), false),
        1 => {
            let (header, payload, signature) = split3(rest);
            let token = format!(
                "{}.{}.{}",
                b64url(header),
                b64url(payload),
                b64url(signature)
            );
            (token, false)
        }
        _ => {
            let Some((&which, rest)) = rest.split_first() else {
                return;
            };
            let key = &setup.keys[usize::from(which) % setup.keys.len()];
            let (header, payload, _) = split3(rest);
            let input = format!("{}.{}", b64url(header), b64url(payload));
            let signature = key.sign(key.default_alg(), input.as_bytes());
            (format!("{input}.{}", b64url(&signature)), true)
        }
    };
    let first = outcome(&setup.cached, &token);
    let fresh = outcome(&setup.fresh, &token);
    let again = outcome(&setup.cached, &token);
    assert_eq!(first, fresh, "the cache changed the answer");
    assert_eq!(again, fresh, "a cache hit changed the answer");
    if !signed_by_us {
        assert!(
            fresh.is_err(),
            "a token signed by nobody was accepted: {token}"
        );
    }
});
