//! PEM text (RFC 7468) → [`PublicKey`]: `PUBLIC KEY`, `CERTIFICATE`, or
//! bare base64 SPKI as Keycloak's realm endpoint publishes it.
//!
//! The armour is read here rather than by a PEM crate: `pem-rfc7468`
//! refuses base64 lines longer than 64 characters, which users paste (the
//! one-line key of Keycloak's admin console put between armour lines), and
//! the `pem` crate reads a blank line inside the body as RFC 1421 headers
//! and fails. What is inside the armour goes to the X.509 / SPKI decoders.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::public_key::PublicKey;
use super::{spki, x509};

/// The public key in a PEM block (or bare base64 SPKI).
pub(super) fn public_key(text: &str) -> Result<PublicKey, String> {
    match decode(text)? {
        Pem::Spki(der) => spki::from_der(&der),
        Pem::Certificate(der) => Ok(x509::certificate_key(&der)?.public_key),
    }
}

/// What a PEM block held.
enum Pem {
    /// `PUBLIC KEY`, or bare base64 without armour.
    Spki(Vec<u8>),
    /// `CERTIFICATE`.
    Certificate(Vec<u8>),
}

/// Decodes the first PEM block (or bare base64 without armour).
fn decode(text: &str) -> Result<Pem, &'static str> {
    let text = text.trim();
    // RFC 7468 §5.2: text before the armour (`openssl x509 -text` output,
    // the Bag Attributes of a PKCS#12 export) is ignored.
    let (label, body) = if let Some(start) = text.find("-----BEGIN ") {
        let rest = &text[start + "-----BEGIN ".len()..];
        let (label, rest) = rest.split_once("-----").ok_or("broken PEM armour")?;
        let end = format!("-----END {label}-----");
        let (body, _) = rest.split_once(&end).ok_or("PEM block is not closed")?;
        (label, body)
    } else {
        ("PUBLIC KEY", text)
    };
    // The label first: a private key is refused before its body is read.
    let certificate = match label {
        "PUBLIC KEY" => false,
        "CERTIFICATE" => true,
        "RSA PUBLIC KEY" => {
            return Err("PKCS#1 RSA PUBLIC KEY is not supported; use a PUBLIC KEY (SPKI) PEM");
        }
        label if label.ends_with("PRIVATE KEY") => {
            return Err(
                "this PEM holds a private key; give the PUBLIC KEY PEM or the CERTIFICATE \
                 instead (a token verifier never needs the private key)",
            );
        }
        _ => return Err("unsupported PEM label; expected PUBLIC KEY or CERTIFICATE"),
    };
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = STANDARD
        .decode(compact)
        .map_err(|_| "PEM body is not base64")?;
    Ok(if certificate {
        Pem::Certificate(der)
    } else {
        Pem::Spki(der)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_errors_are_clear() {
        let err = |text: &str| decode(text).err().unwrap();
        assert_eq!(
            err("-----BEGIN PUBLIC KEY-----\nAAAA"),
            "PEM block is not closed"
        );
        assert!(
            err("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .contains("private key")
        );
        assert!(
            err("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----")
                .contains("unsupported PEM label")
        );
        assert!(matches!(decode("AAAA"), Ok(Pem::Spki(_))));
    }
}
