//! The testkit's own tests: keys, tokens and the mock provider over raw HTTP.

use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::*;

/// Verifies `sig` over `msg` with the key rebuilt from its public JWK, so a
/// wrong `n`/`e`/`x`/`y` fails here.
fn verify_with_jwk(jwk: &Value, alg: &str, msg: &[u8], sig: &[u8]) -> bool {
    let field = |name: &str| b64url_decode(jwk[name].as_str().expect("JWK member"));
    match jwk["kty"].as_str().unwrap() {
        "RSA" => {
            let params = match alg {
                "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
                "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
                "PS512" => &signature::RSA_PSS_2048_8192_SHA512,
                other => panic!("unexpected {other}"),
            };
            RsaPublicKeyComponents {
                n: field("n"),
                e: field("e"),
            }
            .verify(params, msg, sig)
            .is_ok()
        }
        "EC" => {
            let mut point = vec![4u8];
            point.extend(field("x"));
            point.extend(field("y"));
            let algorithm = match alg {
                "ES256" => &signature::ECDSA_P256_SHA256_FIXED,
                "ES384" => &signature::ECDSA_P384_SHA384_FIXED,
                other => panic!("unexpected {other}"),
            };
            UnparsedPublicKey::new(algorithm, point)
                .verify(msg, sig)
                .is_ok()
        }
        "OKP" => UnparsedPublicKey::new(&signature::ED25519, field("x"))
            .verify(msg, sig)
            .is_ok(),
        other => panic!("unexpected kty {other}"),
    }
}

fn split(token: &str) -> (Value, Value, Vec<u8>) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "compact JWS has three parts: {token}");
    (
        decode_segment(parts[0]),
        decode_segment(parts[1]),
        b64url_decode(parts[2]),
    )
}

fn signing_input(token: &str) -> &str {
    &token[..token.rfind('.').unwrap()]
}

#[test]
fn jwk_shapes() {
    for kind in KeyKind::ALL {
        let key = TestKey::generate(kind, format!("kid-{kind:?}"));
        let jwk = key.public_jwk();
        let obj = jwk.as_object().unwrap();
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["kid"], key.kid());
        assert!(!obj.contains_key("alg"), "no alg member: {jwk}");
        for v in obj.values() {
            let s = v.as_str().unwrap();
            assert!(
                !s.contains('=') && !s.contains('+') && !s.contains('/'),
                "{s}"
            );
        }
        match kind {
            KeyKind::Rsa2048 => {
                assert_eq!(jwk["kty"], "RSA");
                let n = b64url_decode(jwk["n"].as_str().unwrap());
                assert_eq!(n.len(), 256, "2048-bit modulus without leading zero");
                assert_ne!(n[0], 0);
                assert_eq!(jwk["e"], "AQAB");
                assert_eq!(obj.len(), 5);
            }
            KeyKind::EcP256 | KeyKind::EcP384 => {
                let (crv, len) = if kind == KeyKind::EcP256 {
                    ("P-256", 32)
                } else {
                    ("P-384", 48)
                };
                assert_eq!(jwk["kty"], "EC");
                assert_eq!(jwk["crv"], crv);
                assert_eq!(b64url_decode(jwk["x"].as_str().unwrap()).len(), len);
                assert_eq!(b64url_decode(jwk["y"].as_str().unwrap()).len(), len);
                assert_eq!(obj.len(), 6);
            }
            KeyKind::Ed25519 => {
                assert_eq!(jwk["kty"], "OKP");
                assert_eq!(jwk["crv"], "Ed25519");
                assert_eq!(b64url_decode(jwk["x"].as_str().unwrap()).len(), 32);
                assert_eq!(obj.len(), 5);
            }
        }
    }
}

#[test]
fn every_supported_alg_signs_and_verifies() {
    let cases = [
        (
            KeyKind::Rsa2048,
            &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"][..],
        ),
        (KeyKind::EcP256, &["ES256"][..]),
        (KeyKind::EcP384, &["ES384"][..]),
        (KeyKind::Ed25519, &["EdDSA"][..]),
    ];
    for (kind, algs) in cases {
        let key = TestKey::generate(kind, "k");
        for alg in algs {
            let sig = key.sign(alg, b"message");
            assert!(
                verify_with_jwk(&key.public_jwk(), alg, b"message", &sig),
                "{alg}"
            );
            assert!(
                !verify_with_jwk(&key.public_jwk(), alg, b"messagf", &sig),
                "{alg}"
            );
        }
        // The key re-parses from its own PKCS#8.
        let pkcs8 = key.pkcs8_der();
        match kind {
            KeyKind::Rsa2048 => {
                signature::RsaKeyPair::from_pkcs8(&pkcs8).unwrap();
            }
            KeyKind::EcP256 => {
                signature::EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &pkcs8,
                )
                .unwrap();
            }
            KeyKind::EcP384 => {
                signature::EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                    &pkcs8,
                )
                .unwrap();
            }
            KeyKind::Ed25519 => {
                signature::Ed25519KeyPair::from_pkcs8(&pkcs8).unwrap();
            }
        }
    }
}

#[test]
#[should_panic(expected = "cannot sign with alg \"RS256\"")]
fn mismatched_alg_panics_clearly() {
    TestKey::generate(KeyKind::EcP256, "k").sign("RS256", b"m");
}

#[test]
fn pem_spki_and_certificate() {
    for kind in KeyKind::ALL {
        let key = TestKey::generate(kind, "pem-key");
        let spki = key.spki_der();
        assert_eq!(spki[0], 0x30, "SPKI is a DER SEQUENCE");

        let pem = key.public_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("\n-----END PUBLIC KEY-----\n"));
        let body: Vec<&str> = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(body.iter().all(|l| l.len() <= 64));
        assert!(body[..body.len() - 1].iter().all(|l| l.len() == 64));
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(body.concat())
            .unwrap();
        assert_eq!(decoded, spki);

        let cert = key.self_signed_cert_der();
        assert_eq!(cert[0], 0x30);
        assert!(
            cert.windows(spki.len()).any(|w| w == spki.as_slice()),
            "{kind:?}: certificate carries this key's SPKI"
        );
        assert_eq!(cert, key.clone().self_signed_cert_der(), "cached");
        let jwk = key.public_jwk_with_x5c();
        assert_eq!(jwk["x5c"][0], key.x5c());
        assert_eq!(jwk["x5t"].as_str().unwrap().len(), 27);
    }
}

#[test]
fn version_1_certificate_is_self_signed_and_has_no_version_or_extensions() {
    use der::asn1::{AnyRef, BitStringRef};
    use der::{Decode, Encode, Tagged};

    for kind in KeyKind::ALL {
        let key = TestKey::generate(kind, "v1");
        let cert = key.self_signed_v1_cert_der();
        let parts: Vec<AnyRef<'_>> = Vec::from_der(&cert).unwrap();
        let [tbs, _alg, signature] = parts.as_slice() else {
            panic!("{kind:?}: a certificate has three parts");
        };
        let fields: Vec<AnyRef<'_>> = tbs.decode_as().unwrap();
        // serial, signature, issuer, validity, subject, SPKI; nothing tagged.
        assert_eq!(fields.len(), 6, "{kind:?}");
        assert!(fields.iter().all(|f| !f.tag().is_context_specific()));
        assert_eq!(fields[5].to_der().unwrap(), key.spki_der(), "{kind:?}");
        let signature: BitStringRef<'_> = signature.decode_as().unwrap();
        let verification: &dyn signature::VerificationAlgorithm = match kind {
            KeyKind::Rsa2048 => &signature::RSA_PKCS1_2048_8192_SHA256,
            KeyKind::EcP256 => &signature::ECDSA_P256_SHA256_ASN1,
            KeyKind::EcP384 => &signature::ECDSA_P384_SHA384_ASN1,
            KeyKind::Ed25519 => &signature::ED25519,
        };
        let spki = key.spki_der();
        let public = signature::ParsedPublicKey::new(verification, &spki).unwrap();
        public
            .verify_sig(&tbs.to_der().unwrap(), signature.as_bytes().unwrap())
            .unwrap_or_else(|_| panic!("{kind:?}: signed by its own key"));
    }
}

#[test]
fn token_round_trip() {
    let key = TestKey::generate(KeyKind::Rsa2048, "rsa-1");
    let token = TokenBuilder::new()
        .header("typ", "at+jwt")
        .claims(standard_claims("https://iss", "api"))
        .claim("exp", 1718719921.5)
        .remove_claim("scope")
        .sign(&key);
    let (header, claims, sig) = split(&token);
    assert_eq!(
        header,
        json!({"alg": "RS256", "kid": "rsa-1", "typ": "at+jwt"})
    );
    assert_eq!(claims["iss"], "https://iss");
    assert_eq!(claims["sub"], "user-1");
    assert_eq!(claims["exp"], 1718719921.5);
    assert!(claims.get("scope").is_none());
    assert!(verify_with_jwk(
        &key.public_jwk(),
        "RS256",
        signing_input(&token).as_bytes(),
        &sig
    ));

    // Header alg decides the signing algorithm.
    let ps = TokenBuilder::new().header("alg", "PS384").sign(&key);
    let (header, _, sig) = split(&ps);
    assert_eq!(header["alg"], "PS384");
    assert!(verify_with_jwk(
        &key.public_jwk(),
        "PS384",
        signing_input(&ps).as_bytes(),
        &sig
    ));
}

#[test]
fn standard_claims_are_current() {
    let c = standard_claims("i", "a");
    let now = now();
    let exp = c["exp"].as_u64().unwrap();
    assert!(exp >= now + 3599 && exp <= now + 3601);
    assert_eq!(c["nbf"].as_u64().unwrap() + 5, c["iat"].as_u64().unwrap());
    assert_eq!(c["scope"], "read write");
    assert_eq!(c["aud"], "a");
}

#[test]
fn hostile_tokens() {
    let ec = TestKey::generate(KeyKind::EcP256, "ec-1");
    let rsa = TestKey::generate(KeyKind::Rsa2048, "rsa-1");

    let no_kid = TokenBuilder::new()
        .claim("sub", "x")
        .without_kid()
        .sign(&ec);
    let (header, _, _) = split(&no_kid);
    assert_eq!(header, json!({"alg": "ES256"}));

    // Header says ES256, signature is RS256 made with the RSA key.
    let confused = TokenBuilder::new()
        .header("alg", "ES256")
        .sign_with(&rsa, "RS256");
    let (header, _, sig) = split(&confused);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], "rsa-1");
    assert!(verify_with_jwk(
        &rsa.public_jwk(),
        "RS256",
        signing_input(&confused).as_bytes(),
        &sig
    ));
    let defaulted = TokenBuilder::new().sign_with(&rsa, "PS256");
    assert_eq!(split(&defaulted).0["alg"], "PS256");

    let none = TokenBuilder::new()
        .header("alg", "RS256")
        .claim("sub", "x")
        .unsigned("NONE");
    assert!(none.ends_with('.'));
    assert_eq!(split(&none).0, json!({"alg": "NONE"}));

    // HMAC keyed with the RSA public key bytes: the classic confusion attack.
    let secret = rsa.public_pem();
    let hs = TokenBuilder::new()
        .header("kid", "rsa-1")
        .sign_hmac(secret.as_bytes(), "HS256");
    let (header, _, sig) = split(&hs);
    assert_eq!(header, json!({"alg": "HS256", "kid": "rsa-1"}));
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hmac::verify(&key, signing_input(&hs).as_bytes(), &sig).unwrap();

    let b = TokenBuilder::new()
        .header("crit", json!(["exp"]))
        .claim("aud", json!(["a", "b"]));
    assert_eq!(
        decode_segment(&b.encoded_header()),
        json!({"crit": ["exp"]})
    );
    assert_eq!(
        decode_segment(&b.encoded_claims()),
        json!({"aud": ["a", "b"]})
    );
    assert_eq!(
        split(&b.clone().remove_header("crit").sign(&ec)).0,
        json!({"alg": "ES256", "kid": "ec-1"})
    );
}

#[test]
fn jwks_lists_keys_in_order() {
    let a = TestKey::generate(KeyKind::Ed25519, "a");
    let b = TestKey::generate(KeyKind::EcP384, "b");
    let set = jwks(&[&a, &b]);
    assert_eq!(set["keys"].as_array().unwrap().len(), 2);
    assert_eq!(set["keys"][0]["kid"], "a");
    assert_eq!(set["keys"][1]["kid"], "b");
}

struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A raw HTTP/1.1 GET with `Connection: close` (no HTTP client in the testkit).
async fn get(url: &str, extra_headers: &[(&str, &str)]) -> std::io::Result<RawResponse> {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(authority).await?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (n, v) in extra_headers {
        request.push_str(&format!("{n}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no complete response head"))?;
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_string(), v.trim().to_string())
        })
        .collect();
    Ok(RawResponse {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

#[tokio::test]
async fn provider_serves_counts_and_404s() {
    let p = MockProvider::start().await;
    assert!(p.base_url().starts_with("http://127.0.0.1:"));
    let key = TestKey::generate(KeyKind::EcP256, "k1");
    p.set(
        "/jwks",
        Reply::jwks(&[&key]).with_cache_control("max-age=300"),
    );

    let r = get(&p.url("/jwks"), &[("x-test", "1")]).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/jwk-set+json"));
    assert_eq!(r.header("cache-control"), Some("max-age=300"));
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body, jwks(&[&key]));

    let r = get(&p.url("/jwks?appid=abc"), &[]).await.unwrap();
    assert_eq!(r.status, 200, "query falls back to the bare path");
    let r = get(&p.url("/nothing"), &[]).await.unwrap();
    assert_eq!(r.status, 404);

    assert_eq!(p.hits("/jwks"), 2);
    assert_eq!(p.hits("/jwks?appid=abc"), 1);
    assert_eq!(p.hits("/nothing"), 1);
    assert_eq!(p.total_hits(), 3);
    let h = p.last_request_headers("/jwks").unwrap();
    assert!(h.get("x-test").is_none(), "latest request had no x-test");
    assert!(p.last_request_headers("/never").is_none());

    p.set(
        "/jwks?appid=abc",
        Reply::raw(200, "application/json", "{not json"),
    );
    let r = get(&p.url("/jwks?appid=abc"), &[("x-test", "2")])
        .await
        .unwrap();
    assert_eq!(r.body, b"{not json");
    assert_eq!(p.last_request_headers("/jwks").unwrap()["x-test"], "2");

    p.reset_hits();
    assert_eq!((p.hits("/jwks"), p.total_hits()), (0, 0));

    p.set("/err", Reply::status(503).with_header("retry-after", "1"));
    let r = get(&p.url("/err"), &[]).await.unwrap();
    assert_eq!((r.status, r.header("retry-after")), (503, Some("1")));
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn provider_answers_304_on_matching_etag() {
    let p = MockProvider::start().await;
    p.set(
        "/jwks",
        Reply::json(&json!({"keys": []})).with_etag("\"v1\""),
    );

    let r = get(&p.url("/jwks"), &[]).await.unwrap();
    assert_eq!((r.status, r.header("etag")), (200, Some("\"v1\"")));
    assert!(!r.body.is_empty());

    let r = get(&p.url("/jwks"), &[("If-None-Match", "\"v1\"")])
        .await
        .unwrap();
    assert_eq!((r.status, r.header("etag")), (304, Some("\"v1\"")));
    assert!(r.body.is_empty());

    let r = get(&p.url("/jwks"), &[("If-None-Match", "\"v0\", W/\"v1\"")])
        .await
        .unwrap();
    assert_eq!(r.status, 304);

    let r = get(&p.url("/jwks"), &[("If-None-Match", "\"v0\"")])
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(p.hits("/jwks"), 4);
}

#[tokio::test]
async fn provider_delay_counts_on_arrival() {
    let p = MockProvider::start().await;
    p.set(
        "/slow",
        Reply::status(200).with_delay(Duration::from_millis(400)),
    );
    let started = Instant::now();
    let url = p.url("/slow");
    let request = tokio::spawn(async move { get(&url, &[]).await.unwrap() });
    let deadline = Instant::now() + Duration::from_secs(5);
    while p.hits("/slow") == 0 {
        assert!(Instant::now() < deadline, "request never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!request.is_finished(), "answer is held back by the delay");
    let r = request.await.unwrap();
    assert_eq!(r.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn provider_queue_shutdown_restart_and_drop() {
    let p = MockProvider::start().await;
    p.set("/jwks", Reply::status(200));
    p.enqueue("/jwks", Reply::status(500));
    p.enqueue("/jwks", Reply::status(502));
    let statuses = [
        get(&p.url("/jwks"), &[]).await.unwrap().status,
        get(&p.url("/jwks"), &[]).await.unwrap().status,
        get(&p.url("/jwks"), &[]).await.unwrap().status,
    ];
    assert_eq!(statuses, [500, 502, 200]);

    // A hanging request is released with 503 when the provider goes down.
    p.set(
        "/hang",
        Reply::status(200).with_delay(Duration::from_secs(3600)),
    );
    let url = p.url("/hang");
    let hanging = tokio::spawn(async move { get(&url, &[]).await });
    while p.hits("/hang") == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    p.shutdown().await;
    assert!(!p.is_running());
    assert!(
        get(&p.url("/jwks"), &[]).await.is_err(),
        "connection refused"
    );
    let released = tokio::time::timeout(Duration::from_secs(5), hanging)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(released.unwrap().status, 503);
    p.shutdown().await;

    p.restart().await;
    assert!(p.is_running());
    assert_eq!(get(&p.url("/jwks"), &[]).await.unwrap().status, 200);
    assert_eq!(p.hits("/jwks"), 4, "counters survive a restart");

    let url = p.url("/jwks");
    let clone = p.clone();
    drop(p);
    assert_eq!(
        get(&url, &[]).await.unwrap().status,
        200,
        "a clone keeps it alive"
    );
    drop(clone);
    let deadline = Instant::now() + Duration::from_secs(5);
    while get(&url, &[]).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "server still up after the last handle dropped"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn issuer_serves_discovery_and_rotates() {
    let mut issuer = TestIssuer::start().await;
    assert_eq!(issuer.issuer, issuer.provider.url("/realms/demo"));
    assert_eq!(
        issuer.jwks_url,
        format!("{}/protocol/openid-connect/certs", issuer.issuer)
    );

    let r = get(&issuer.discovery_url(), &[]).await.unwrap();
    assert_eq!(r.header("content-type"), Some("application/json"));
    let doc: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(doc["issuer"], issuer.issuer.as_str());
    assert_eq!(doc["jwks_uri"], issuer.jwks_url.as_str());
    let algs = doc["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    for alg in ["RS256", "EdDSA", "Ed25519"] {
        assert!(algs.iter().any(|a| a == alg));
    }

    let token = issuer.token("api");
    let (header, claims, sig) = split(&token);
    assert_eq!(header["kid"], "demo-rsa-1");
    assert_eq!(claims["iss"], issuer.issuer.as_str());
    assert_eq!(claims["aud"], "api");
    assert!(verify_with_jwk(
        &issuer.key.public_jwk(),
        "RS256",
        signing_input(&token).as_bytes(),
        &sig
    ));

    let expired = issuer.builder("api").claim("exp", 10).sign(&issuer.key);
    assert_eq!(split(&expired).1["exp"], 10);

    issuer.rotate(KeyKind::Ed25519, "ed-2");
    let r = get(&issuer.jwks_url, &[]).await.unwrap();
    let set: Value = serde_json::from_slice(&r.body).unwrap();
    let kids: Vec<&str> = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["ed-2", "demo-rsa-1"]);
    let (header, _, _) = split(&issuer.token("api"));
    assert_eq!(header, json!({"alg": "EdDSA", "kid": "ed-2"}));
    assert_eq!(issuer.provider.hits(&issuer.jwks_path()), 1);

    issuer.retire_previous_keys();
    let r = get(&issuer.jwks_url, &[]).await.unwrap();
    let set: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(set, jwks(&[&issuer.key]));
}

#[test]
fn thumbprint_matches_oidc_bearer_for_every_key_kind() {
    for kind in KeyKind::ALL {
        let key = TestKey::generate(kind, "k");
        let theirs = oidc_bearer::dpop::jwk_thumbprint(&key.public_jwk().to_string()).unwrap();
        assert_eq!(key.thumbprint(), theirs, "{kind:?}");
        let bound = TokenBuilder::new().bound_to(&key).sign(&key);
        let (_, claims, _) = split(&bound);
        assert_eq!(claims["cnf"]["jkt"], theirs.as_str());
    }
}
