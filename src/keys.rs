//! JWK → verifying key, and the immutable [`KeySet`] requests look keys up in.
//!
//! Every key is parsed once, when a key set is built, into aws-lc-rs
//! `ParsedPublicKey`s (one per algorithm the key may verify), so a request
//! pays for the signature check and nothing else. Nothing here fetches.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;

mod hmac;

use crate::algorithm::{ASYMMETRIC, Algorithm, KeyFamily};
use crate::der::{self, SpkiKey};
use crate::error::Error;

pub(crate) use hmac::HmacKeys;

/// One usable public key, parsed for every algorithm it may verify.
pub(crate) struct VerifyingKey {
    pub kid: Option<Arc<str>>,
    /// Identifies this exact key: its public key, `kid`, JWK `alg` and
    /// `issuer`. Equal across refreshes while the provider publishes the
    /// same key the same way; a cached token is only served while the set
    /// still holds the fingerprint of the key that verified it.
    pub fingerprint: u64,
    pub family: KeyFamily,
    /// The issuer a JWK is bound to (Entra's `issuer` member), possibly a
    /// `{tenantid}` template.
    pub issuer: Option<Box<str>>,
    /// Indexed by `Algorithm::index`; `None` where the key may not be used
    /// with that algorithm (wrong family, or the JWK's `alg` says otherwise).
    verifiers: [Option<ParsedPublicKey>; ASYMMETRIC.len()],
}

impl VerifyingKey {
    /// The parsed key for `alg`, or `None` when `alg` does not fit this key.
    pub fn verifier(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        self.verifiers[alg.index()?].as_ref()
    }

    fn supports(&self, alg: Algorithm) -> bool {
        self.verifier(alg).is_some()
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algs: Vec<&str> = ASYMMETRIC
            .iter()
            .filter(|a| self.supports(**a))
            .map(|a| a.name())
            .collect();
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("family", &self.family)
            .field("algorithms", &algs)
            .finish()
    }
}

/// Why a JWK was left out of a key set. The rest of the set stays usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// The key's `kid`, when it had one.
    pub kid: Option<String>,
    /// Why it was skipped.
    pub reason: String,
}

/// An immutable set of verifying keys, looked up by `kid`.
///
/// Built once per fetch and shared by every request through an `ArcSwap`;
/// lookups take no lock and allocate nothing.
#[derive(Default)]
pub struct KeySet {
    by_kid: HashMap<Box<str>, Arc<VerifyingKey>>,
    all: Vec<Arc<VerifyingKey>>,
    fingerprints: HashSet<u64>,
    skipped: Vec<SkippedKey>,
    /// A single configured key without `kid` (PEM): it verifies tokens
    /// whatever `kid` they name.
    any_kid: bool,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("keys", &self.all)
            .field("skipped", &self.skipped)
            .finish()
    }
}

/// The members of a JWK this crate reads. Unknown members are ignored.
#[derive(Deserialize)]
struct Jwk {
    kty: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    kid: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
    x5c: Option<Vec<String>>,
    issuer: Option<String>,
}

#[derive(Deserialize)]
struct JwkSetDoc {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Parses a JWKS document (`{"keys":[…]}`).
    ///
    /// Keys that cannot be used (encryption keys, unsupported types, broken
    /// members) are skipped and listed in [`skipped`](Self::skipped); only a
    /// document that is not a JWKS at all is an error. An empty result is
    /// not an error here: the caller decides whether it may replace keys.
    pub fn from_jwks(json: &[u8]) -> Result<KeySet, Error> {
        let doc: JwkSetDoc = serde_json::from_slice(json)
            .map_err(|e| Error::InvalidKey(format!("not a JWK set: {e}")))?;
        let mut set = KeySet::default();
        for value in doc.keys {
            let kid_hint = value.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
            let parsed = serde_json::from_value::<Jwk>(value)
                .map_err(|e| format!("malformed JWK: {e}"))
                .and_then(parse_jwk);
            match parsed {
                Ok(key) => set.insert(key),
                Err(reason) => set.skipped.push(SkippedKey {
                    kid: kid_hint,
                    reason,
                }),
            }
        }
        Ok(set)
    }

    /// Builds a key set holding one PEM public key (`-----BEGIN PUBLIC
    /// KEY-----`, a `CERTIFICATE`, or bare base64 SPKI as Keycloak's realm
    /// endpoint publishes it). With `kid` the key only verifies tokens
    /// naming that `kid`; without it, tokens without `kid` too.
    pub fn from_pem(pem: &str, kid: Option<&str>) -> Result<KeySet, Error> {
        let der = match der::decode_pem(pem).map_err(|e| Error::InvalidKey(e.to_owned()))? {
            der::PemKind::Spki(der) => der,
            der::PemKind::Certificate(cert) => der::certificate_spki(&cert)
                .ok_or_else(|| Error::InvalidKey("certificate is not valid DER".into()))?
                .to_vec(),
        };
        let key =
            key_from_spki(&der, None, kid.map(Into::into), None).map_err(Error::InvalidKey)?;
        let mut set = KeySet {
            any_kid: kid.is_none(),
            ..KeySet::default()
        };
        set.insert(key);
        Ok(set)
    }

    fn insert(&mut self, key: VerifyingKey) {
        let key = Arc::new(key);
        if let Some(kid) = &key.kid {
            if self.by_kid.contains_key(&**kid) {
                // Two keys with one kid: a token naming it is ambiguous, so
                // the first wins and the second is reported.
                self.skipped.push(SkippedKey {
                    kid: Some(kid.to_string()),
                    reason: "duplicate kid".into(),
                });
                return;
            }
            self.by_kid.insert(kid.as_ref().into(), key.clone());
        }
        self.fingerprints.insert(key.fingerprint);
        self.all.push(key);
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// True when no key is usable.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// The `kid`s of the usable keys.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.all.iter().filter_map(|k| k.kid.as_deref())
    }

    /// The keys that were left out, and why.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// True when a key with this `kid` is in the set.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// True when the key with this [`VerifyingKey::fingerprint`] is still
    /// in the set, published the same way.
    pub(crate) fn holds(&self, fingerprint: u64) -> bool {
        self.fingerprints.contains(&fingerprint)
    }

    /// Selects the key for a token: by `kid` when the token names one,
    /// otherwise the only key that can verify `alg` (several → ambiguous).
    pub(crate) fn select(&self, kid: Option<&str>, alg: Algorithm) -> Result<&VerifyingKey, Error> {
        match kid {
            Some(kid) if !self.any_kid => {
                self.by_kid.get(kid).map(|k| &**k).ok_or(Error::UnknownKey)
            }
            _ => {
                let mut fitting = self.all.iter().filter(|k| k.supports(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Ok(key),
                    // Keys exist but none takes this alg: say so, rather
                    // than blame a kid the token may not even carry.
                    (None, _) if !self.all.is_empty() => Err(Error::AlgorithmMismatch),
                    (None, _) => Err(Error::UnknownKey),
                    (Some(_), Some(_)) => Err(Error::AmbiguousKey),
                }
            }
        }
    }
}

fn b64url(value: &str, what: &str) -> Result<Vec<u8>, String> {
    // Some providers pad their JWK members; tolerate it here (keys come from
    // a trusted source), unlike in tokens.
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| format!("{what} is not base64url"))
}

fn parse_jwk(jwk: Jwk) -> Result<VerifyingKey, String> {
    if let Some(u) = &jwk.use_
        && u != "sig"
    {
        return Err(format!("use is {u:?}, not \"sig\""));
    }
    if let Some(ops) = &jwk.key_ops
        && !ops.iter().any(|o| o == "verify")
    {
        return Err("key_ops does not include \"verify\"".into());
    }
    let jwk_alg = match jwk.alg.as_deref() {
        None => None,
        Some(name) => match Algorithm::from_name(name) {
            Some(a) if !a.is_hmac() => Some(a),
            _ => {
                return Err(format!(
                    "alg {name:?} is not a supported signature algorithm"
                ));
            }
        },
    };
    let kid: Option<Arc<str>> = jwk.kid.as_deref().map(Into::into);
    let issuer: Option<Box<str>> = jwk.issuer.as_deref().map(Into::into);

    // The certificate chain's first certificate, when present, must hold the
    // same key as the explicit members.
    let cert_spki = match jwk.x5c.as_deref() {
        Some([first, ..]) => {
            let cert = STANDARD
                .decode(first)
                .map_err(|_| "x5c certificate is not base64".to_owned())?;
            let spki = der::certificate_spki(&cert)
                .ok_or_else(|| "x5c certificate is not valid DER".to_owned())?
                .to_vec();
            Some(spki)
        }
        _ => None,
    };
    let cert_key = match &cert_spki {
        Some(spki) => Some(
            der::parse_spki(spki)
                .ok_or_else(|| "x5c certificate key type is not supported".to_owned())?,
        ),
        None => None,
    };

    match jwk.kty.as_deref() {
        Some("RSA") => {
            let (n, e) = match (&jwk.n, &jwk.e) {
                (Some(n), Some(e)) => (b64url(n, "n")?, b64url(e, "e")?),
                (None, None) => match cert_key {
                    Some(SpkiKey::Rsa { n, e }) => (n.to_vec(), e.to_vec()),
                    Some(_) => return Err("x5c certificate does not hold an RSA key".into()),
                    None => return Err("RSA key without n/e or x5c".into()),
                },
                _ => return Err("RSA key needs both n and e".into()),
            };
            let (n, e) = (der::trim_zeros(&n), der::trim_zeros(&e));
            if let Some(cert) = &cert_key
                && *cert != (SpkiKey::Rsa { n, e })
            {
                return Err("x5c certificate and n/e disagree".into());
            }
            check_rsa_size(n, e)?;
            build(kid, KeyFamily::Rsa, jwk_alg, issuer, |alg| {
                let params = alg.rsa_parameters().expect("an RSA algorithm");
                RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(params)
                    .map_err(|e| format!("RSA key rejected: {e}"))
            })
        }
        Some("EC") => {
            let (family, len) = match jwk.crv.as_deref() {
                Some("P-256") => (KeyFamily::P256, 32),
                Some("P-384") => (KeyFamily::P384, 48),
                other => return Err(format!("EC curve {other:?} is not supported")),
            };
            let point = match (&jwk.x, &jwk.y) {
                (Some(x), Some(y)) => {
                    let (x, y) = (b64url(x, "x")?, b64url(y, "y")?);
                    if x.len() != len || y.len() != len {
                        return Err("EC coordinates have the wrong length".into());
                    }
                    let mut point = Vec::with_capacity(1 + 2 * len);
                    point.push(4);
                    point.extend_from_slice(&x);
                    point.extend_from_slice(&y);
                    point
                }
                (None, None) => match cert_key {
                    Some(SpkiKey::P256(p) | SpkiKey::P384(p)) => p.to_vec(),
                    _ => return Err("EC key without x/y or a matching x5c".into()),
                },
                _ => return Err("EC key needs both x and y".into()),
            };
            if let Some(cert) = &cert_key {
                let same = match cert {
                    SpkiKey::P256(p) => family == KeyFamily::P256 && *p == point.as_slice(),
                    SpkiKey::P384(p) => family == KeyFamily::P384 && *p == point.as_slice(),
                    _ => false,
                };
                if !same {
                    return Err("x5c certificate and x/y disagree".into());
                }
            }
            build(kid, family, jwk_alg, issuer, |alg| {
                ParsedPublicKey::new(alg.verification().expect("asymmetric"), &point)
                    .map_err(|e| format!("EC key rejected: {e}"))
            })
        }
        Some("OKP") => {
            if jwk.crv.as_deref() != Some("Ed25519") {
                return Err(format!("OKP curve {:?} is not supported", jwk.crv));
            }
            let x = match &jwk.x {
                Some(x) => b64url(x, "x")?,
                None => match cert_key {
                    Some(SpkiKey::Ed25519(x)) => x.to_vec(),
                    _ => return Err("OKP key without x".into()),
                },
            };
            if let Some(cert) = &cert_key
                && *cert != SpkiKey::Ed25519(&x)
            {
                return Err("x5c certificate and x disagree".into());
            }
            if x.len() != 32 {
                return Err("Ed25519 key has the wrong length".into());
            }
            build(kid, KeyFamily::Ed25519, jwk_alg, issuer, |alg| {
                ParsedPublicKey::new(alg.verification().expect("asymmetric"), &x)
                    .map_err(|e| format!("Ed25519 key rejected: {e}"))
            })
        }
        Some("oct") => Err("symmetric (oct) keys are never used from a JWKS".into()),
        other => Err(format!("key type {other:?} is not supported")),
    }
}

/// The sizes aws-lc-rs verifies with (2048..=8192-bit modulus, an odd
/// exponent of at most 32 bits), checked here so a key that could never
/// verify a token is skipped with a reason instead of counting as usable.
/// aws-lc-rs does not check them when a key is parsed, only on each
/// verification.
fn check_rsa_size(n: &[u8], e: &[u8]) -> Result<(), String> {
    // `n` and `e` come without leading zeros.
    let bits = match n.first() {
        Some(top) => (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
        None => 0,
    };
    if bits < 2048 {
        return Err(format!("RSA key shorter than 2048 bits ({bits} bits)"));
    }
    if bits > 8192 {
        return Err(format!("RSA key longer than 8192 bits ({bits} bits)"));
    }
    let odd = e.last().is_some_and(|b| b & 1 == 1);
    if e.len() > 4 || !odd || e == [1] {
        return Err("RSA exponent is not an odd number between 3 and 2^32".into());
    }
    Ok(())
}

/// Parses `key` once for each algorithm its family allows (only the JWK's
/// own `alg`, when it states one).
fn build(
    kid: Option<Arc<str>>,
    family: KeyFamily,
    jwk_alg: Option<Algorithm>,
    issuer: Option<Box<str>>,
    parse: impl Fn(Algorithm) -> Result<ParsedPublicKey, String>,
) -> Result<VerifyingKey, String> {
    if let Some(a) = jwk_alg
        && a.family() != Some(family)
    {
        return Err(format!("alg {a} does not fit the key type"));
    }
    let mut verifiers: [Option<ParsedPublicKey>; ASYMMETRIC.len()] = Default::default();
    // SipHash with fixed keys: the same key hashes the same after every
    // refresh. Keys come from the configured provider, not from tokens.
    let mut fingerprint = std::collections::hash_map::DefaultHasher::new();
    (&kid, &issuer, jwk_alg.map(Algorithm::name)).hash(&mut fingerprint);
    for &alg in family.algorithms() {
        if jwk_alg.is_none_or(|a| a == alg) {
            let index = alg.index().expect("asymmetric");
            let parsed = parse(alg)?;
            parsed.as_ref().hash(&mut fingerprint);
            verifiers[index] = Some(parsed);
        }
    }
    Ok(VerifyingKey {
        kid,
        fingerprint: fingerprint.finish(),
        family,
        issuer,
        verifiers,
    })
}

/// Builds a key from a SubjectPublicKeyInfo (PEM, certificate).
fn key_from_spki(
    spki: &[u8],
    jwk_alg: Option<Algorithm>,
    kid: Option<Arc<str>>,
    issuer: Option<Box<str>>,
) -> Result<VerifyingKey, String> {
    let family = match der::parse_spki(spki) {
        Some(SpkiKey::Rsa { n, e }) => {
            check_rsa_size(n, e)?;
            KeyFamily::Rsa
        }
        Some(SpkiKey::P256(_)) => KeyFamily::P256,
        Some(SpkiKey::P384(_)) => KeyFamily::P384,
        Some(SpkiKey::Ed25519(_)) => KeyFamily::Ed25519,
        None => return Err("public key is malformed or of an unsupported type".into()),
    };
    build(kid, family, jwk_alg, issuer, |alg| {
        ParsedPublicKey::new(alg.verification().expect("asymmetric"), spki)
            .map_err(|e| format!("key rejected: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_across_parses_and_tell_keys_apart() {
        let doc = |n: &str| {
            format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"{n}"}}]}}"#)
        };
        let a = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        let b = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        let b = URL_SAFE_NO_PAD.encode(
            (0..32)
                .map(|i| u8::from_str_radix(&b[2 * i..2 * i + 2], 16).unwrap() ^ 1)
                .collect::<Vec<u8>>(),
        );
        let first = KeySet::from_jwks(doc(a).as_bytes()).unwrap();
        let again = KeySet::from_jwks(doc(a).as_bytes()).unwrap();
        let other = KeySet::from_jwks(doc(&b).as_bytes()).unwrap();
        let fingerprint = first.all[0].fingerprint;
        assert!(again.holds(fingerprint), "same key, same fingerprint");
        assert!(!other.holds(fingerprint), "same kid, other key");
    }

    #[test]
    fn broken_documents_are_errors_and_broken_keys_are_skipped() {
        assert!(KeySet::from_jwks(b"not json").is_err());
        assert!(KeySet::from_jwks(b"{\"nokeys\":[]}").is_err());
        let set = KeySet::from_jwks(
            br#"{"keys":[
                {"kty":"RSA","kid":"short","n":"AQAB","e":"AQAB"},
                {"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"},
                {"kty":"oct","kid":"hmac","k":"c2VjcmV0"},
                {"kty":"EC","kid":"badcrv","crv":"secp256k1","x":"AA","y":"AA"},
                {"kty":"RSA","kid":"alg","alg":"RSA-OAEP","n":"AQAB","e":"AQAB"},
                {"kty":"OKP","kid":"x25519","crv":"X25519","x":"AA"},
                {"kid":"nokty"},
                "not an object",
                {"kty":"RSA","kid":"x5c","x5c":["!!!"]}
            ]}"#,
        )
        .unwrap();
        assert!(set.is_empty());
        assert_eq!(set.skipped().len(), 9);
        assert!(set.skipped().iter().any(|s| s.reason.contains("2048")));
    }
}
