//! Compact JWS minting, including tokens no honest issuer would produce.

use aws_lc_rs::hmac;
use serde_json::{Map, Value};

use crate::{TestKey, b64url, now};

/// Builds compact JWS tokens (`header.payload.signature`).
///
/// Header and claims are plain JSON maps, so a test can put anything in them:
/// hostile headers (`jku`, `crit`, `alg: "none"`), float `NumericDate`s,
/// arrays where strings are expected. Nothing is validated.
///
/// `alg` and `kid` are filled in at signing time from the key unless the
/// header already has them (and `kid` is left out after
/// [`without_kid`](Self::without_kid)).
///
/// ```
/// use oidc_bearer_testkit::{KeyKind, TestKey, TokenBuilder, standard_claims};
/// let key = TestKey::generate(KeyKind::Ed25519, "k1");
/// let token = TokenBuilder::new()
///     .header("typ", "at+jwt")
///     .claims(standard_claims("https://issuer.test", "api"))
///     .claim("exp", 1718719921.5)
///     .sign(&key);
/// assert_eq!(token.split('.').count(), 3);
/// ```
#[derive(Clone, Debug, Default)]
pub struct TokenBuilder {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    without_kid: bool,
}

impl TokenBuilder {
    /// An empty header and an empty claim set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets header member `name` to `value` (replacing any previous value).
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.to_string(), value.into());
        self
    }

    /// Removes header member `name`. Note that signing adds `alg` (and `kid`,
    /// unless [`without_kid`](Self::without_kid)) back when they are missing.
    pub fn remove_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }

    /// Sets claim `name` to `value` (replacing any previous value).
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_string(), value.into());
        self
    }

    /// Binds the token to `key` for DPoP: `cnf: {"jkt": <its RFC 7638
    /// thumbprint>}` (RFC 9449 §6.1). Send it as `Authorization: DPoP
    /// <token>` with a [`dpop_proof`] signed by `key`.
    ///
    /// ```
    /// use oidc_bearer_testkit::{KeyKind, TestKey, TokenBuilder};
    /// let client = TestKey::generate(KeyKind::EcP256, "client");
    /// let issuer_key = TestKey::generate(KeyKind::Rsa2048, "issuer");
    /// let token = TokenBuilder::new().bound_to(&client).sign(&issuer_key);
    /// # assert_eq!(token.split('.').count(), 3);
    /// ```
    pub fn bound_to(self, key: &TestKey) -> Self {
        self.claim("cnf", serde_json::json!({ "jkt": key.thumbprint() }))
    }

    /// Removes claim `name`.
    pub fn remove_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Merges the members of a JSON object into the claims (later wins).
    ///
    /// # Panics
    /// When `obj` is not a JSON object.
    pub fn claims(mut self, obj: Value) -> Self {
        match obj {
            Value::Object(map) => self.claims.extend(map),
            other => panic!("testkit: TokenBuilder::claims expects a JSON object, got {other}"),
        }
        self
    }

    /// Leaves `kid` out of the header when signing with a key (unless the
    /// header was given a `kid` explicitly).
    pub fn without_kid(mut self) -> Self {
        self.without_kid = true;
        self
    }

    /// The header as set so far (without the `alg`/`kid` signing fills in).
    pub fn header_map(&self) -> &Map<String, Value> {
        &self.header
    }

    /// The claims as set so far.
    pub fn claims_map(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// base64url(JSON of the header as set so far). Signing methods may add
    /// `alg`/`kid` to their own copy; this returns the header without them.
    pub fn encoded_header(&self) -> String {
        encode_json(&self.header)
    }

    /// base64url(JSON of the claims).
    pub fn encoded_claims(&self) -> String {
        encode_json(&self.claims)
    }

    /// Signs with `key`: header `alg` defaults to `key.default_alg()` and `kid`
    /// to `key.kid()`; the signature uses the header's `alg`.
    ///
    /// # Panics
    /// When the header's `alg` is not a string the key can sign with (use
    /// [`sign_with`](Self::sign_with) for a header that lies about the algorithm).
    pub fn sign(&self, key: &TestKey) -> String {
        let header = self.key_header(key, key.default_alg());
        let alg = match header.get("alg") {
            Some(Value::String(alg)) => alg.clone(),
            other => panic!(
                "testkit: TokenBuilder::sign needs a string header alg, found {other:?}; \
                 use sign_with(key, alg) to sign a token whose header alg is not usable"
            ),
        };
        assemble(&header, &self.claims, |input| key.sign(&alg, input))
    }

    /// Signs with `key` using `alg` whatever the header says; header `alg`
    /// is set to `alg` only when the header has none. For alg-confusion tests:
    /// `.header("alg", "ES256").sign_with(&rsa_key, "RS256")`.
    pub fn sign_with(&self, key: &TestKey, alg: &str) -> String {
        let header = self.key_header(key, alg);
        assemble(&header, &self.claims, |input| key.sign(alg, input))
    }

    /// HMAC-signs with `secret`: `alg` is `HS256`, `HS384` or `HS512`; header
    /// `alg` defaults to it. No `kid` is added.
    ///
    /// # Panics
    /// When `alg` is not an HMAC algorithm.
    pub fn sign_hmac(&self, secret: &[u8], alg: &str) -> String {
        let algorithm = match alg {
            "HS256" => hmac::HMAC_SHA256,
            "HS384" => hmac::HMAC_SHA384,
            "HS512" => hmac::HMAC_SHA512,
            other => panic!("testkit: sign_hmac supports HS256, HS384, HS512, not {other:?}"),
        };
        let mut header = self.header.clone();
        header
            .entry("alg")
            .or_insert_with(|| Value::String(alg.to_string()));
        let key = hmac::Key::new(algorithm, secret);
        assemble(&header, &self.claims, |input| {
            hmac::sign(&key, input).as_ref().to_vec()
        })
    }

    /// `header.payload.` with an empty signature; header `alg` is set to
    /// `alg` (replacing any `alg` already set), e.g. `"none"` or `"NONE"`.
    /// No `kid` is added.
    pub fn unsigned(&self, alg: &str) -> String {
        let mut header = self.header.clone();
        header.insert("alg".into(), Value::String(alg.to_string()));
        assemble(&header, &self.claims, |_| Vec::new())
    }

    fn key_header(&self, key: &TestKey, alg: &str) -> Map<String, Value> {
        let mut header = self.header.clone();
        header
            .entry("alg")
            .or_insert_with(|| Value::String(alg.to_string()));
        if !self.without_kid {
            header
                .entry("kid")
                .or_insert_with(|| Value::String(key.kid().to_string()));
        }
        header
    }
}

fn encode_json(map: &Map<String, Value>) -> String {
    b64url(&serde_json::to_vec(map).expect("a JSON map always serializes"))
}

fn assemble(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    sign: impl FnOnce(&[u8]) -> Vec<u8>,
) -> String {
    let signing_input = format!("{}.{}", encode_json(header), encode_json(claims));
    let signature = sign(signing_input.as_bytes());
    format!("{signing_input}.{}", b64url(&signature))
}

/// A valid claim set: `iss`, `sub: "user-1"`, `aud`, `exp` = now + 3600,
/// `iat` = now, `nbf` = now − 5 and `scope: "read write"`.
pub fn standard_claims(issuer: &str, audience: &str) -> Value {
    let now = now();
    serde_json::json!({
        "iss": issuer,
        "sub": "user-1",
        "aud": audience,
        "exp": now + 3600,
        "iat": now,
        "nbf": now - 5,
        "scope": "read write",
    })
}

/// A DPoP proof (RFC 9449 §4.2) for `htm` and `htu`, to sign with `key`:
/// header `typ: dpop+jwt` and `jwk` (the key's public JWK without `kid`
/// and `use`), no `kid`; claims `jti` (random), `htm`, `htu`, `iat` (now)
/// and, for an access token, `ath` (base64url SHA-256 of it). Change any
/// of them with [`TokenBuilder::claim`] or [`TokenBuilder::header`], then
/// [`sign`](TokenBuilder::sign) with the same key.
///
/// ```
/// use oidc_bearer_testkit::{KeyKind, TestKey, dpop_proof};
/// let key = TestKey::generate(KeyKind::EcP256, "client");
/// let proof = dpop_proof(&key, "GET", "https://api.example.com/me", Some("token")).sign(&key);
/// assert_eq!(proof.split('.').count(), 3);
/// ```
pub fn dpop_proof(key: &TestKey, htm: &str, htu: &str, access_token: Option<&str>) -> TokenBuilder {
    let mut jwk = key.public_jwk();
    if let Some(members) = jwk.as_object_mut() {
        members.remove("kid");
        members.remove("use");
    }
    let mut jti = [0u8; 16];
    aws_lc_rs::rand::fill(&mut jti).expect("system random");
    let mut proof = TokenBuilder::new()
        .header("typ", "dpop+jwt")
        .header("jwk", jwk)
        .without_kid()
        .claim("jti", crate::b64url(&jti))
        .claim("htm", htm)
        .claim("htu", htu)
        .claim("iat", crate::now());
    if let Some(token) = access_token {
        proof = proof.claim("ath", ath(token));
    }
    proof
}

/// base64url(SHA-256(`access_token`)): a proof's `ath` (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    crate::b64url(digest.as_ref())
}
