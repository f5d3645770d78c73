//! The checks of RFC 9449 §4.3 on one DPoP proof, in the RFC's order,
//! except the two that need the verified access token (the `cnf.jkt`
//! binding and the `jti` replay check), which `admit` makes after it.
//!
//! The proof's `jwk` verifies the proof and nothing else: the access
//! token is only ever verified with the issuer's keys.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::ParsedPublicKey;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::Dpop;
use super::htu::RequestUri;
use super::replay::ProofId;
use super::thumbprint::thumbprint;
use crate::algorithm::Algorithm;
use crate::error::Error;
use crate::keys::{JwkMembers, proof_key};
use crate::token;

/// What the request says, to compare the proof with.
pub(crate) struct Target<'a> {
    /// The request method, as sent (`GET`).
    pub method: &'a str,
    /// The request's URI, normalised (see `htu`).
    pub htu: &'a RequestUri<'a>,
    /// The access token presented with the proof.
    pub access_token: &'a str,
}

/// A proof that passed every check that does not need the token's claims.
#[derive(Debug)]
pub(crate) struct CheckedProof {
    /// RFC 7638 SHA-256 thumbprint of the proof's `jwk`.
    pub jkt: [u8; 32],
    /// The proof's identity in the replay store (`jkt` and `jti`).
    pub id: ProofId,
}

/// Proof headers that passed their checks, by their base64url segment as
/// sent, so a client's header is checked once, not on every proof. An
/// entry may only hold what the header's bytes and the `alg` allow-list
/// decide, and clones of the settings share the map, so `algs` is applied
/// again on every hit. Why, and what is kept: [the DPoP
/// guide](crate::guide::dpop), "What is remembered between proofs".
pub(crate) struct ProofHeaders {
    headers: Mutex<HashMap<Box<str>, Arc<CheckedHeader>>>,
}

/// What a proof header that passed its checks settles.
struct CheckedHeader {
    alg: Algorithm,
    /// RFC 7638 SHA-256 thumbprint of the header's `jwk`.
    jkt: [u8; 32],
    key: ParsedPublicKey,
}

/// Headers remembered at most.
const PROOF_HEADERS: usize = 1024;

/// Longest header remembered, in base64url characters: an EC or Ed25519
/// key's header is ~250, an RSA 4096 key's ~1,000. Longer ones (padded
/// with members nobody reads) are checked every time, so the map holds at
/// most 1,024 × (1.5 KB + one parsed key) whatever clients send.
const MAX_REMEMBERED_HEADER: usize = 1536;

impl ProofHeaders {
    pub(crate) fn new() -> Self {
        ProofHeaders {
            headers: Mutex::new(HashMap::new()),
        }
    }

    /// `algs` is the one setting the header checks read; the map is
    /// keyed by the header alone, so nothing else may be passed in (the
    /// caller applies `algs` again on a hit).
    fn get_or_check(&self, header: &str, algs: &[Algorithm]) -> Result<Arc<CheckedHeader>, Error> {
        if header.len() > MAX_REMEMBERED_HEADER {
            return check_header(header, algs).map(Arc::new);
        }
        let lock = || self.headers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(checked) = lock().get(header) {
            return Ok(checked.clone());
        }
        let checked = Arc::new(check_header(header, algs)?);
        let mut headers = lock();
        if headers.len() >= PROOF_HEADERS {
            headers.clear();
        }
        headers.insert(header.into(), checked.clone());
        Ok(checked)
    }
}

/// RFC 9449 §4.3 checks 4 to 6 on the protected header, the `jwk`'s
/// thumbprint, and its key parsed for the header's `alg`.
fn check_header(segment: &str, algs: &[Algorithm]) -> Result<CheckedHeader, Error> {
    // Decoded on the stack when it fits (it does, but for RSA keys of
    // more than 2048 bits): no allocation.
    let (mut header_stack, mut header_heap) = ([0u8; 512], Vec::new());
    let header = token::decode_into(segment, &mut header_stack, &mut header_heap, "header")
        .map_err(|_| invalid("the proof header is not base64url"))?;
    let header: ProofHeader = serde_json::from_slice(header)
        .map_err(|_| invalid("the proof header is not a valid JOSE header"))?;
    // 4. `typ` is `dpop+jwt`.
    match header.typ.as_deref() {
        Some(typ) if token::typ_matches(typ, "dpop+jwt") => {}
        _ => return Err(invalid("the proof typ is not dpop+jwt")),
    }
    if header.crit.is_some() {
        return Err(invalid("the proof has a critical header parameter"));
    }
    // 5. An asymmetric algorithm of the allow-list (`none` and HMAC are
    // never in it).
    let alg = header
        .alg
        .as_deref()
        .and_then(Algorithm::from_name)
        .filter(|alg| algs.contains(alg))
        .ok_or_else(not_accepted_alg)?;
    // 6. A public key in `jwk`, nothing private.
    let jwk = header.jwk.ok_or(invalid("the proof header has no jwk"))?;
    if jwk.has_private_members() {
        return Err(invalid("the proof jwk holds private key members"));
    }
    let members = jwk.members();
    let unusable = || invalid("the proof jwk is not a usable key for its alg");
    let jkt = thumbprint(&members).ok_or_else(unusable)?;
    let key = proof_key(&members, alg).map_err(|_| unusable())?;
    Ok(CheckedHeader { alg, jkt, key })
}

/// Strings borrow from the decoded JSON unless they hold escapes.
#[derive(Deserialize)]
struct ProofHeader<'a> {
    #[serde(borrow, default, deserialize_with = "token::borrowed_str")]
    typ: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "token::borrowed_str")]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow)]
    jwk: Option<ProofJwk<'a>>,
    crit: Option<IgnoredAny>,
}

/// The members of the proof's `jwk` that are read, and the private ones
/// that must not be there (RFC 9449 §4.3 check 6: a public key only).
#[derive(Deserialize)]
struct ProofJwk<'a> {
    #[serde(borrow, default, deserialize_with = "token::borrowed_str")]
    kty: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "token::borrowed_str")]
    crv: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "token::borrowed_str")]
    n: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "token::borrowed_str")]
    e: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "token::borrowed_str")]
    x: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "token::borrowed_str")]
    y: Option<Cow<'a, str>>,
    d: Option<IgnoredAny>,
    p: Option<IgnoredAny>,
    q: Option<IgnoredAny>,
    dp: Option<IgnoredAny>,
    dq: Option<IgnoredAny>,
    qi: Option<IgnoredAny>,
    oth: Option<IgnoredAny>,
    k: Option<IgnoredAny>,
}

impl ProofJwk<'_> {
    fn has_private_members(&self) -> bool {
        self.d.is_some()
            || self.p.is_some()
            || self.q.is_some()
            || self.dp.is_some()
            || self.dq.is_some()
            || self.qi.is_some()
            || self.oth.is_some()
            || self.k.is_some()
    }

    fn members(&self) -> JwkMembers<'_> {
        JwkMembers {
            kty: self.kty.as_deref().unwrap_or_default(),
            crv: self.crv.as_deref(),
            n: self.n.as_deref(),
            e: self.e.as_deref(),
            x: self.x.as_deref(),
            y: self.y.as_deref(),
        }
    }
}

#[derive(Deserialize)]
struct ProofClaims<'a> {
    #[serde(borrow, default, deserialize_with = "token::borrowed_str")]
    jti: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "token::borrowed_str")]
    htm: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "token::borrowed_str")]
    htu: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "crate::claims::numeric_date_opt")]
    iat: Option<i64>,
    #[serde(borrow, default, deserialize_with = "token::borrowed_str")]
    ath: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "token::borrowed_str")]
    nonce: Option<Cow<'a, str>>,
}

const fn not_accepted_alg() -> Error {
    invalid("the proof alg is not one of the accepted algs")
}

const fn invalid(why: &'static str) -> Error {
    Error::InvalidDpopProof(why)
}

/// Longest `jti` accepted: RFC 9449 asks for 96 bits of randomness; a
/// UUID is 36 characters.
const MAX_JTI: usize = 256;

/// Checks `proof` against `target` at `now` (RFC 9449 §4.3 checks 2 to
/// 11, and the nonce of §9).
pub(crate) fn check(
    proof: &str,
    target: &Target<'_>,
    settings: &Dpop,
    now: i64,
) -> Result<CheckedProof, Error> {
    // 2. A well-formed compact JWS.
    let parts = token::split(proof, settings.max_proof_len)
        .map_err(|_| invalid("the proof is not a compact JWS"))?;
    // 4 to 6, and the key: once per client's header.
    let header = settings
        .proof_headers
        .get_or_check(parts.header, &settings.algs)?;
    // Settings cloned before `.algs(..)` share the map: a header checked
    // under another allow-list must pass this one's too.
    if !settings.algs.contains(&header.alg) {
        return Err(not_accepted_alg());
    }
    // 7. The signature, with that key.
    let (mut signature_stack, mut signature_heap) = ([0u8; 516], Vec::new());
    let signature = token::decode_into(
        parts.signature,
        &mut signature_stack,
        &mut signature_heap,
        "signature",
    )
    .map_err(|_| invalid("the proof signature is not base64url"))?;
    header
        .key
        .verify_sig(parts.signing_input.as_bytes(), signature)
        .map_err(|_| invalid("the proof signature does not verify with its jwk"))?;
    // 3. The required claims.
    let (mut claims_stack, mut claims_heap) = ([0u8; 512], Vec::new());
    let claims = token::decode_into(
        parts.payload,
        &mut claims_stack,
        &mut claims_heap,
        "payload",
    )
    .map_err(|_| invalid("the proof payload is not base64url"))?;
    let claims: ProofClaims = serde_json::from_slice(claims)
        .map_err(|_| invalid("the proof claims are not a JSON object of the right types"))?;
    let (Some(jti), Some(htm), Some(htu), Some(iat)) =
        (claims.jti, claims.htm, claims.htu, claims.iat)
    else {
        return Err(invalid("the proof lacks one of jti, htm, htu and iat"));
    };
    if jti.is_empty() || jti.len() > MAX_JTI {
        return Err(invalid("the proof jti is empty or too long"));
    }
    // 8. `htm`: methods are case-sensitive (RFC 9110 §9.1).
    if htm != target.method {
        return Err(invalid("the proof htm is not the request method"));
    }
    // 9. `htu`, normalised, without query and fragment.
    // Clients send what they requested, usually already in normal form.
    let plain = &htu[..htu.find(['?', '#']).unwrap_or(htu.len())];
    if !target.htu.is(plain) && !super::htu::normalize(&htu).is_some_and(|n| target.htu.is(&n)) {
        return Err(invalid("the proof htu is not the request URI"));
    }
    // 11. `ath`: the hash of the token presented with the proof.
    let ath = digest(&SHA256, target.access_token.as_bytes());
    // Decoded on the stack: a SHA-256 hash is 32 bytes, 43 characters of
    // base64url.
    let Some(ath_claim) = claims.ath.as_deref() else {
        return Err(invalid("the proof has no ath (the access token's hash)"));
    };
    let mut claimed = [0u8; 32];
    let ath_matches = ath_claim.len() == 43
        && URL_SAFE_NO_PAD.decode_slice(ath_claim, &mut claimed) == Ok(32)
        && claimed == *ath.as_ref();
    if !ath_matches {
        return Err(invalid("the proof ath is not the hash of the access token"));
    }
    // 10. The nonce, when the server issues them, else `iat` in the window.
    if let Some(nonces) = &settings.nonces
        && !claims
            .nonce
            .as_deref()
            .is_some_and(|n| nonces.accepts(n, now))
    {
        return Err(Error::UseDpopNonce);
    }
    let (window, leeway) = (settings.window_secs(), settings.leeway_secs());
    if iat > now.saturating_add(leeway) || iat < now.saturating_sub(window).saturating_sub(leeway) {
        return Err(invalid("the proof iat is outside the acceptance window"));
    }
    let id = ProofId::new(&header.jkt, &jti);
    Ok(CheckedProof {
        jkt: header.jkt,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A proof header with the P-256 key of RFC 7515 Appendix A.3 and
    /// `pad` filler, as base64url.
    fn header(pad: &str) -> String {
        let json = serde_json::json!({
            "typ": "dpop+jwt",
            "alg": "ES256",
            "jwk": {
                "kty": "EC",
                "crv": "P-256",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
            },
            "pad": pad,
        });
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    fn remembered(headers: &ProofHeaders) -> usize {
        headers.headers.lock().unwrap().len()
    }

    const ES256: &[Algorithm] = &[Algorithm::ES256];

    #[test]
    fn a_header_that_passed_is_remembered_and_reused() {
        let headers = ProofHeaders::new();
        let first = headers.get_or_check(&header("a"), ES256).unwrap();
        let again = headers.get_or_check(&header("a"), ES256).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(remembered(&headers), 1);
        assert_eq!(first.alg, Algorithm::ES256);
    }

    #[test]
    fn a_refused_or_long_header_is_not_remembered() {
        let headers = ProofHeaders::new();
        let refused = headers.get_or_check(&header("a"), &[Algorithm::EdDSA]);
        assert_eq!(
            refused.err().map(|e| e.to_string()),
            Some(not_accepted_alg().to_string())
        );
        let long = header(&"p".repeat(MAX_REMEMBERED_HEADER));
        assert!(long.len() > MAX_REMEMBERED_HEADER);
        let first = headers.get_or_check(&long, ES256).unwrap();
        let again = headers.get_or_check(&long, ES256).unwrap();
        assert!(!Arc::ptr_eq(&first, &again), "checked each time");
        assert_eq!(first.jkt, again.jkt);
        assert_eq!(remembered(&headers), 0);
    }

    #[test]
    fn the_map_is_emptied_when_full() {
        let headers = ProofHeaders::new();
        for n in 0..PROOF_HEADERS {
            headers
                .get_or_check(&header(&n.to_string()), ES256)
                .unwrap();
        }
        assert_eq!(remembered(&headers), PROOF_HEADERS);
        headers.get_or_check(&header("one more"), ES256).unwrap();
        assert_eq!(remembered(&headers), 1);
    }
}
