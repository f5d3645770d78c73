//! Generated signing keys and their public forms (JWK, SPKI, PEM, X.509).

use std::fmt;
use std::sync::{Arc, OnceLock};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaEncoding, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::b64url;

/// The kind of key a [`TestKey`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// RSA, 2048-bit modulus, exponent 65537. Signs RS256/384/512 and PS256/384/512.
    Rsa2048,
    /// ECDSA on P-256. Signs ES256.
    EcP256,
    /// ECDSA on P-384. Signs ES384.
    EcP384,
    /// Ed25519. Signs EdDSA.
    Ed25519,
}

impl KeyKind {
    /// Every kind, for tests that loop over all of them.
    pub const ALL: [KeyKind; 4] = [
        KeyKind::Rsa2048,
        KeyKind::EcP256,
        KeyKind::EcP384,
        KeyKind::Ed25519,
    ];

    /// The JWS algorithm providers use with this kind of key.
    pub fn default_alg(self) -> &'static str {
        match self {
            KeyKind::Rsa2048 => "RS256",
            KeyKind::EcP256 => "ES256",
            KeyKind::EcP384 => "ES384",
            KeyKind::Ed25519 => "EdDSA",
        }
    }
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

struct Inner {
    kid: String,
    kind: KeyKind,
    pair: Pair,
    pkcs8: Vec<u8>,
    cert: OnceLock<Vec<u8>>,
}

/// A freshly generated key pair with a `kid`, able to sign JWS messages and
/// to describe its public half the way providers publish it.
///
/// Cloning is cheap (the key pair is behind an `Arc`); clones are the same key.
///
/// ```
/// use oidc_bearer_testkit::{KeyKind, TestKey};
/// let key = TestKey::generate(KeyKind::EcP256, "k1");
/// assert_eq!(key.default_alg(), "ES256");
/// assert_eq!(key.public_jwk()["crv"], "P-256");
/// ```
#[derive(Clone)]
pub struct TestKey {
    inner: Arc<Inner>,
}

impl fmt::Debug for TestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestKey")
            .field("kid", &self.inner.kid)
            .field("kind", &self.inner.kind)
            .finish_non_exhaustive()
    }
}

impl TestKey {
    /// Generates a new random key of `kind` identified by `kid`.
    ///
    /// RSA generation takes tens of milliseconds; reuse keys where a test
    /// does not need a fresh one.
    pub fn generate(kind: KeyKind, kid: impl Into<String>) -> TestKey {
        let (pair, pkcs8) = match kind {
            KeyKind::Rsa2048 => {
                let kp = RsaKeyPair::generate(KeySize::Rsa2048)
                    .expect("testkit: RSA-2048 key generation failed");
                let der: Pkcs8V1Der<'static> = kp
                    .as_der()
                    .expect("testkit: RSA key PKCS#8 serialization failed");
                let pkcs8 = der.as_ref().to_vec();
                (Pair::Rsa(kp), pkcs8)
            }
            KeyKind::EcP256 | KeyKind::EcP384 => {
                let alg = ecdsa_alg(kind);
                let kp = EcdsaKeyPair::generate(alg).expect("testkit: ECDSA key generation failed");
                let pkcs8 = kp
                    .to_pkcs8v1()
                    .expect("testkit: ECDSA key PKCS#8 serialization failed")
                    .as_ref()
                    .to_vec();
                (Pair::Ec(kp), pkcs8)
            }
            KeyKind::Ed25519 => {
                let kp =
                    Ed25519KeyPair::generate().expect("testkit: Ed25519 key generation failed");
                let pkcs8 = kp
                    .to_pkcs8()
                    .expect("testkit: Ed25519 key PKCS#8 serialization failed")
                    .as_ref()
                    .to_vec();
                (Pair::Ed(kp), pkcs8)
            }
        };
        TestKey {
            inner: Arc::new(Inner {
                kid: kid.into(),
                kind,
                pair,
                pkcs8,
                cert: OnceLock::new(),
            }),
        }
    }

    /// Generates keys of `kind` until one satisfies `wanted`, for shapes
    /// that occur by chance (an EC coordinate with a leading zero byte: 1 key
    /// in 256). Gives up after `max_tries` keys.
    ///
    /// # Panics
    /// When none of `max_tries` keys is `wanted`.
    pub fn generate_until(
        kind: KeyKind,
        kid: impl Into<String>,
        max_tries: usize,
        wanted: impl Fn(&TestKey) -> bool,
    ) -> TestKey {
        let kid = kid.into();
        (0..max_tries)
            .map(|_| TestKey::generate(kind, kid.clone()))
            .find(|key| wanted(key))
            .unwrap_or_else(|| panic!("testkit: no wanted {kind:?} key in {max_tries} tries"))
    }

    /// The key id published in the JWK and put in token headers.
    pub fn kid(&self) -> &str {
        &self.inner.kid
    }

    /// What kind of key this is.
    pub fn kind(&self) -> KeyKind {
        self.inner.kind
    }

    /// `"RS256"`, `"ES256"`, `"ES384"` or `"EdDSA"`, by key kind.
    pub fn default_alg(&self) -> &'static str {
        self.inner.kind.default_alg()
    }

    /// The public JWK as providers publish it, with `use: "sig"` and `kid` but
    /// no `alg` member (Entra ID omits it):
    ///
    /// - RSA: `{kty:"RSA", use, kid, n, e}` (`n` without a leading zero byte)
    /// - EC: `{kty:"EC", use, kid, crv:"P-256"|"P-384", x, y}`
    /// - Ed25519: `{kty:"OKP", use, kid, crv:"Ed25519", x}`
    ///
    /// All binary members are base64url without padding.
    pub fn public_jwk(&self) -> Value {
        let kid = self.kid();
        match &self.inner.pair {
            Pair::Rsa(kp) => {
                let public = kp.public_key();
                json!({
                    "kty": "RSA",
                    "use": "sig",
                    "kid": kid,
                    "n": b64url(public.modulus().big_endian_without_leading_zero()),
                    "e": b64url(public.exponent().big_endian_without_leading_zero()),
                })
            }
            Pair::Ec(kp) => {
                let point = kp.public_key().as_ref();
                let (crv, len) = match self.inner.kind {
                    KeyKind::EcP256 => ("P-256", 32),
                    _ => ("P-384", 48),
                };
                assert!(
                    point.len() == 1 + 2 * len && point[0] == 0x04,
                    "testkit: unexpected EC public point encoding"
                );
                json!({
                    "kty": "EC",
                    "use": "sig",
                    "kid": kid,
                    "crv": crv,
                    "x": b64url(&point[1..1 + len]),
                    "y": b64url(&point[1 + len..]),
                })
            }
            Pair::Ed(kp) => json!({
                "kty": "OKP",
                "use": "sig",
                "kid": kid,
                "crv": "Ed25519",
                "x": b64url(kp.public_key().as_ref()),
            }),
        }
    }

    /// The RFC 7638 SHA-256 thumbprint of [`public_jwk`](Self::public_jwk),
    /// base64url: the `cnf.jkt` of an access token bound to this key for
    /// DPoP (RFC 9449 §6.1). Computed here independently of `oidc-bearer`
    /// (its `jwk_thumbprint` gives the same value), so tests cross-check it.
    ///
    /// ```
    /// use oidc_bearer_testkit::{KeyKind, TestKey};
    /// let key = TestKey::generate(KeyKind::EcP256, "client");
    /// assert_eq!(key.thumbprint().len(), 43);
    /// ```
    pub fn thumbprint(&self) -> String {
        let jwk = self.public_jwk();
        // The required members only, in lexicographic order, no spaces
        // (RFC 7638 §3.2); their values need no escaping.
        let names: &[&str] = match jwk["kty"].as_str() {
            Some("RSA") => &["e", "kty", "n"],
            Some("EC") => &["crv", "kty", "x", "y"],
            _ => &["crv", "kty", "x"],
        };
        let members: Vec<String> = names
            .iter()
            .map(|name| {
                format!(
                    "\"{name}\":\"{}\"",
                    jwk[name].as_str().expect("a string member")
                )
            })
            .collect();
        let canonical = format!("{{{}}}", members.join(","));
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
        b64url(digest.as_ref())
    }

    /// [`public_jwk`](Self::public_jwk) plus the members Entra ID adds:
    /// `x5c` (this key's [self-signed certificate](Self::self_signed_cert_der),
    /// standard base64 with padding) and `x5t` (its SHA-1 thumbprint, base64url).
    pub fn public_jwk_with_x5c(&self) -> Value {
        let mut jwk = self.public_jwk();
        let obj = jwk.as_object_mut().expect("JWK is an object");
        obj.insert("x5t".into(), Value::String(self.x5t()));
        obj.insert("x5c".into(), json!([self.x5c()]));
        jwk
    }

    /// The [self-signed certificate](Self::self_signed_cert_der) as one `x5c`
    /// entry: standard base64 (not base64url) with padding.
    pub fn x5c(&self) -> String {
        STANDARD.encode(self.self_signed_cert_der())
    }

    /// The `x5t` thumbprint: base64url(SHA-1(certificate DER)).
    pub fn x5t(&self) -> String {
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            &self.self_signed_cert_der(),
        );
        b64url(digest.as_ref())
    }

    /// The public key as a DER `SubjectPublicKeyInfo` (RFC 5280).
    pub fn spki_der(&self) -> Vec<u8> {
        let der: PublicKeyX509Der<'static> = match &self.inner.pair {
            Pair::Rsa(kp) => kp.public_key().as_der(),
            Pair::Ec(kp) => kp.public_key().as_der(),
            Pair::Ed(kp) => kp.public_key().as_der(),
        }
        .expect("testkit: SubjectPublicKeyInfo serialization failed");
        der.as_ref().to_vec()
    }

    /// The public key in PEM: `-----BEGIN PUBLIC KEY-----`, the
    /// [SPKI DER](Self::spki_der) in base64 lines of 64 characters,
    /// `-----END PUBLIC KEY-----`, each line ending in `\n`.
    pub fn public_pem(&self) -> String {
        let b64 = STANDARD.encode(self.spki_der());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// A self-signed X.509 certificate (DER) for this same key, subject
    /// `CN=<kid>`, SAN `test`, made with rcgen. Generated once per key and
    /// cached, so every call (and every clone) returns the same certificate.
    pub fn self_signed_cert_der(&self) -> Vec<u8> {
        self.inner
            .cert
            .get_or_init(|| self.rcgen_certificate(None))
            .clone()
    }

    /// Like [`self_signed_cert_der`](Self::self_signed_cert_der), with the
    /// certificate's serial number given as its big-endian bytes: RFC 5280
    /// allows at most 20 octets, which certificates in the field exceed.
    /// Made anew on every call.
    pub fn self_signed_cert_der_with_serial(&self, serial: &[u8]) -> Vec<u8> {
        self.rcgen_certificate(Some(serial))
    }

    fn rcgen_certificate(&self, serial: Option<&[u8]>) -> Vec<u8> {
        let alg = match self.inner.kind {
            KeyKind::Rsa2048 => &rcgen::PKCS_RSA_SHA256,
            KeyKind::EcP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyKind::EcP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyKind::Ed25519 => &rcgen::PKCS_ED25519,
        };
        let kp =
            rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&self.inner.pkcs8.as_slice().into(), alg)
                .expect("testkit: rcgen rejected the key's PKCS#8");
        let mut params = rcgen::CertificateParams::new(vec!["test".to_string()])
            .expect("testkit: invalid certificate parameters");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, self.kid());
        params.serial_number = serial.map(rcgen::SerialNumber::from_slice);
        params
            .self_signed(&kp)
            .expect("testkit: self-signing the certificate failed")
            .der()
            .to_vec()
    }

    /// A self-signed **version 1** X.509 certificate (DER) for this key, as
    /// Keycloak publishes for its realm keys: the
    /// [v3 certificate](Self::self_signed_cert_der) without its version
    /// field and extensions, signed again with this key (SHA-256 for RSA
    /// and EC). Many X.509 verifiers (rustls-webpki) refuse such
    /// certificates; a JWKS consumer must not.
    pub fn self_signed_v1_cert_der(&self) -> Vec<u8> {
        use der::asn1::{AnyRef, BitStringRef, UintRef};
        use der::{Decode, Encode, Sequence, Tagged};

        #[derive(Sequence)]
        struct Certificate<'a> {
            tbs: AnyRef<'a>,
            signature_algorithm: AnyRef<'a>,
            signature: BitStringRef<'a>,
        }

        let v3 = self.self_signed_cert_der();
        let cert = Certificate::from_der(&v3).expect("testkit: rcgen wrote a certificate");
        let fields: Vec<AnyRef<'_>> = cert
            .tbs
            .decode_as()
            .expect("testkit: TBSCertificate is a SEQUENCE");
        // version [0], issuerUniqueID [1], subjectUniqueID [2], extensions [3]:
        // without them the TBSCertificate is a version 1 one (RFC 5280 §4.1).
        let v1_fields: Vec<AnyRef<'_>> = fields
            .into_iter()
            .filter(|f| !f.tag().is_context_specific())
            .collect();
        let tbs = v1_fields.to_der().expect("testkit: TBS re-encodes");
        let signature = match self.inner.kind {
            KeyKind::Rsa2048 => self.sign("RS256", &tbs),
            KeyKind::Ed25519 => self.sign("EdDSA", &tbs),
            KeyKind::EcP256 | KeyKind::EcP384 => {
                // X.509 carries ECDSA-Sig-Value (RFC 3279), not JWS's r || s.
                let fixed = self.sign(self.default_alg(), &tbs);
                let (r, s) = fixed.split_at(fixed.len() / 2);
                let ints = vec![UintRef::new(r).unwrap(), UintRef::new(s).unwrap()];
                ints.to_der().expect("testkit: ECDSA signature encodes")
            }
        };
        Certificate {
            tbs: AnyRef::from_der(&tbs).expect("testkit: TBS decodes"),
            signature_algorithm: cert.signature_algorithm,
            signature: BitStringRef::from_bytes(&signature).expect("testkit: BIT STRING"),
        }
        .to_der()
        .expect("testkit: certificate encodes")
    }

    /// The private key as unencrypted PKCS#8 DER (v1 for RSA and EC, v2 —
    /// with the public key — for Ed25519, as ring and aws-lc-rs produce it).
    pub fn pkcs8_der(&self) -> Vec<u8> {
        self.inner.pkcs8.clone()
    }

    /// Signs `message` with the JWS algorithm `alg` and returns the JWS
    /// signature bytes (ECDSA in the fixed `r || s` form JWS uses).
    ///
    /// - RSA keys: `RS256`/`RS384`/`RS512` (PKCS#1 v1.5), `PS256`/`PS384`/`PS512` (PSS)
    /// - P-256: `ES256`; P-384: `ES384`
    /// - Ed25519: `EdDSA` (also accepted: `Ed25519`, its RFC 9864 name)
    ///
    /// # Panics
    /// When `alg` does not fit this key: a test that wants a mismatched header
    /// sets the header separately (see [`TokenBuilder::sign_with`](crate::TokenBuilder::sign_with)).
    pub fn sign(&self, alg: &str, message: &[u8]) -> Vec<u8> {
        match &self.inner.pair {
            Pair::Rsa(kp) => {
                let padding: &'static dyn RsaEncoding = match alg {
                    "RS256" => &signature::RSA_PKCS1_SHA256,
                    "RS384" => &signature::RSA_PKCS1_SHA384,
                    "RS512" => &signature::RSA_PKCS1_SHA512,
                    "PS256" => &signature::RSA_PSS_SHA256,
                    "PS384" => &signature::RSA_PSS_SHA384,
                    "PS512" => &signature::RSA_PSS_SHA512,
                    _ => self.mismatch(alg),
                };
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(padding, &SystemRandom::new(), message, &mut sig)
                    .expect("testkit: RSA signing failed");
                sig
            }
            Pair::Ec(kp) => {
                let expected = self.default_alg();
                if alg != expected {
                    self.mismatch(alg);
                }
                kp.sign(&SystemRandom::new(), message)
                    .expect("testkit: ECDSA signing failed")
                    .as_ref()
                    .to_vec()
            }
            Pair::Ed(kp) => {
                if alg != "EdDSA" && alg != "Ed25519" {
                    self.mismatch(alg);
                }
                kp.sign(message).as_ref().to_vec()
            }
        }
    }

    fn mismatch(&self, alg: &str) -> ! {
        let fits = match self.inner.kind {
            KeyKind::Rsa2048 => "RS256, RS384, RS512, PS256, PS384, PS512",
            KeyKind::EcP256 => "ES256",
            KeyKind::EcP384 => "ES384",
            KeyKind::Ed25519 => "EdDSA, Ed25519",
        };
        panic!(
            "testkit: TestKey {:?} ({:?}) cannot sign with alg {alg:?}; it signs {fits}. \
             To put a mismatched alg in a token header, set the header and use \
             TokenBuilder::sign_with(key, <an alg the key fits>).",
            self.inner.kid, self.inner.kind
        )
    }
}

fn ecdsa_alg(kind: KeyKind) -> &'static signature::EcdsaSigningAlgorithm {
    match kind {
        KeyKind::EcP256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        KeyKind::EcP384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        _ => unreachable!("not an ECDSA key kind"),
    }
}

/// A JWK Set `{"keys": [public_jwk, ...]}` of the given keys, in order.
pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>() })
}
