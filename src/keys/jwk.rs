//! JWK (RFC 7517, RFC 7518 §6, RFC 8037) → [`VerifyingKey`].

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::public_key::{PublicKey, trim_zeros};
use super::verifying::VerifyingKey;
use super::x509::{self, CertificateKey};
use crate::algorithm::{Algorithm, KeyFamily};

/// The members of a JWK this crate reads. Unknown members are ignored.
#[derive(Deserialize)]
pub(super) struct Jwk {
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
    #[serde(default, deserialize_with = "certificate_chain")]
    x5c: Option<Vec<String>>,
    /// Read leniently: it only ever selects among keys, and a JWK whose
    /// `x5t` is not a string was usable before this member was read.
    x5t: Option<serde_json::Value>,
    issuer: Option<String>,
}

/// A usable JWK: its key and the certificate thumbprints (`x5t`) a token
/// header may select it by.
pub(super) struct ParsedJwk {
    pub key: VerifyingKey,
    pub thumbprints: Vec<[u8; 20]>,
}

fn b64url(value: &str, what: &str) -> Result<Vec<u8>, String> {
    // Some providers pad their JWK members; tolerate it here (keys come from
    // a trusted source), unlike in tokens.
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| format!("{what} is not base64url"))
}

/// `x5c` as RFC 7517 §4.7 has it, an array of certificates, or as some
/// servers send it, one certificate as a string; `null` is absent. Only
/// the first certificate is read.
fn certificate_chain<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Chain {
        Many(Vec<String>),
        One(String),
    }
    Ok(match Option::<Chain>::deserialize(d)? {
        None => None,
        Some(Chain::Many(chain)) => Some(chain),
        Some(Chain::One(certificate)) => Some(vec![certificate]),
    })
}

/// A certificate's DER from its `x5c` text: base64 (RFC 7517 §4.7), as
/// servers write it: with line breaks every 64 characters (a PEM habit),
/// without padding, or in the URL-safe alphabet. The certificate's key is
/// still checked against the JWK's own members, and the JWKS comes from
/// the configured source only: the leniency is in spelling, not in trust.
fn certificate_der(text: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT)
        .decode(&compact)
        .or_else(|_| GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT).decode(&compact))
        .ok()
}

/// Turns a JWK into a verifying key, or says why it cannot be used.
pub(super) fn parse(jwk: Jwk) -> Result<ParsedJwk, String> {
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
    // The chain's first certificate, when present, must hold the same key
    // as the explicit members; it may also stand in for them.
    let cert = match jwk.x5c.as_deref() {
        Some([first, ..]) => {
            let der = certificate_der(first).ok_or("x5c certificate is not base64")?;
            Some(x509::certificate_key(&der).map_err(|e| format!("x5c {e}"))?)
        }
        _ => None,
    };
    let public = match jwk.kty.as_deref() {
        Some("RSA") => rsa(&jwk, cert.as_ref())?,
        Some("EC") => ec(&jwk, cert.as_ref())?,
        Some("OKP") => okp(&jwk, cert.as_ref())?,
        Some("oct") => return Err("symmetric (oct) keys are never used from a JWKS".into()),
        other => return Err(format!("key type {other:?} is not supported")),
    };
    let kid: Option<Arc<str>> = jwk.kid.as_deref().map(Into::into);
    let issuer: Option<Box<str>> = jwk.issuer.as_deref().map(Into::into);
    let key = VerifyingKey::new(&public, kid, jwk_alg, issuer)?;
    // Both the `x5t` member and the first certificate's own thumbprint:
    // AD FS and Entra publish both, other providers only `x5c`.
    let mut thumbprints: Vec<[u8; 20]> = Vec::new();
    let member = jwk.x5t.as_ref().and_then(|v| v.as_str());
    if let Some(t) = member.and_then(|t| b64url(t, "x5t").ok()?.try_into().ok()) {
        thumbprints.push(t);
    }
    if let Some(cert) = &cert
        && !thumbprints.contains(&cert.thumbprint)
    {
        thumbprints.push(cert.thumbprint);
    }
    Ok(ParsedJwk { key, thumbprints })
}

/// The public key of a JWK's own members (`kty`, `crv`, `n`, `e`, `x`,
/// `y`), without any certificate: for the `jwk` of a DPoP proof, which is
/// a bare key the client made. The same rules as a JWKS key.
pub(super) fn members_key(
    kty: &str,
    crv: Option<&str>,
    members: [Option<&str>; 4],
) -> Result<PublicKey, String> {
    let [n, e, x, y] = members.map(|m| m.map(str::to_owned));
    let jwk = Jwk {
        kty: Some(kty.to_owned()),
        use_: None,
        key_ops: None,
        alg: None,
        kid: None,
        crv: crv.map(str::to_owned),
        n,
        e,
        x,
        y,
        x5c: None,
        x5t: None,
        issuer: None,
    };
    match kty {
        "RSA" => rsa(&jwk, None),
        "EC" => ec(&jwk, None),
        "OKP" => okp(&jwk, None),
        other => Err(format!("key type {other:?} is not supported")),
    }
}

/// Takes the certificate's key when the JWK members are absent (if it is
/// of the JWK's type), and insists the two agree when both are there.
fn with_certificate(
    members: Option<PublicKey>,
    cert: Option<&CertificateKey>,
    fits: impl Fn(&PublicKey) -> bool,
    which: &str,
    missing: &str,
) -> Result<PublicKey, String> {
    match (members, cert) {
        (Some(key), Some(cert)) if key != cert.public_key => {
            Err(format!("x5c certificate and {which} disagree"))
        }
        (Some(key), _) => Ok(key),
        (None, Some(cert)) if fits(&cert.public_key) => Ok(cert.public_key.clone()),
        (None, _) => Err(missing.to_owned()),
    }
}

fn rsa(jwk: &Jwk, cert: Option<&CertificateKey>) -> Result<PublicKey, String> {
    let members = match (&jwk.n, &jwk.e) {
        (Some(n), Some(e)) => Some(PublicKey::Rsa {
            // Big-endian integers: leading zero bytes (sign padding from a
            // DER encoder) change nothing.
            n: trim_zeros(&b64url(n, "n")?).to_vec(),
            e: trim_zeros(&b64url(e, "e")?).to_vec(),
        }),
        (None, None) if cert.is_some() => None,
        (None, None) => return Err("RSA key without n/e or x5c".into()),
        _ => return Err("RSA key needs both n and e".into()),
    };
    let fits = |k: &PublicKey| matches!(k, PublicKey::Rsa { .. });
    with_certificate(
        members,
        cert,
        fits,
        "n/e",
        "x5c certificate does not hold an RSA key",
    )
}

fn ec(jwk: &Jwk, cert: Option<&CertificateKey>) -> Result<PublicKey, String> {
    let (family, len) = match jwk.crv.as_deref() {
        Some("P-256") => (KeyFamily::P256, 32),
        Some("P-384") => (KeyFamily::P384, 48),
        other => return Err(format!("EC curve {other:?} is not supported")),
    };
    let members = match (&jwk.x, &jwk.y) {
        (Some(x), Some(y)) => {
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(4);
            field_element(&b64url(x, "x")?, len, &mut point)?;
            field_element(&b64url(y, "y")?, len, &mut point)?;
            // Whether (x, y) is on the curve is aws-lc-rs's to check.
            Some(PublicKey::Ec { family, point })
        }
        (None, None) => None,
        _ => return Err("EC key needs both x and y".into()),
    };
    let fits = |k: &PublicKey| k.family() == family;
    with_certificate(
        members,
        cert,
        fits,
        "x/y",
        "EC key without x/y or a matching x5c",
    )
}

/// Appends an EC coordinate as the `len`-byte big-endian integer SEC1
/// wants. RFC 7518 §6.2.1.2 fixes the member at that length, but providers'
/// big-integer helpers drop leading zero bytes (Keycloak did, for about 1
/// key in 128) or add a sign byte; the integer is the same either way.
fn field_element(bytes: &[u8], len: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let value = trim_zeros(bytes);
    if value.len() > len {
        return Err(format!(
            "EC coordinates have the wrong length ({} bytes, the curve's field has {len})",
            bytes.len()
        ));
    }
    out.resize(out.len() + len - value.len(), 0);
    out.extend_from_slice(value);
    Ok(())
}

fn okp(jwk: &Jwk, cert: Option<&CertificateKey>) -> Result<PublicKey, String> {
    if jwk.crv.as_deref() != Some("Ed25519") {
        return Err(format!("OKP curve {:?} is not supported", jwk.crv));
    }
    // Not an integer but a fixed-size little-endian encoding (RFC 8032
    // §5.1.2): taken byte for byte.
    let members = match &jwk.x {
        Some(x) => Some(PublicKey::Ed25519(
            b64url(x, "x")?
                .try_into()
                .map_err(|_| "Ed25519 key has the wrong length")?,
        )),
        None => None,
    };
    let fits = |k: &PublicKey| matches!(k, PublicKey::Ed25519(_));
    with_certificate(members, cert, fits, "x", "OKP key without x")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_elements_are_normalised_to_the_field_size() {
        let element = |bytes: &[u8], len: usize| {
            let mut out = Vec::new();
            field_element(bytes, len, &mut out).map(|()| out)
        };
        assert_eq!(element(&[1, 2], 4).unwrap(), [0, 0, 1, 2]);
        assert_eq!(element(&[0, 0, 0, 9, 1, 2], 4).unwrap(), [0, 9, 1, 2]);
        assert_eq!(element(&[], 2).unwrap(), [0, 0]);
        assert!(
            element(&[1, 0, 0, 0, 0], 4)
                .unwrap_err()
                .contains("wrong length")
        );
        assert!(element(&[0, 1, 0, 0, 0, 0], 4).is_err());
    }
}
