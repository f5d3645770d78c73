//! SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) → [`PublicKey`], decoded with
//! RustCrypto's `spki` and `der`. Signatures are checked by aws-lc-rs,
//! never here.

use x509_cert::der::asn1::UintRef;
use x509_cert::der::{Decode, Reader, SliceReader};
use x509_cert::spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};

use super::public_key::PublicKey;
use crate::algorithm::KeyFamily;

/// rsaEncryption (RFC 8017 Appendix C).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// id-ecPublicKey (RFC 5480 §2.1.1).
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp256r1 (RFC 5480 §2.1.1.1).
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// secp384r1 (RFC 5480 §2.1.1.1).
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// id-Ed25519 (RFC 8410 §3).
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// Decodes a DER SubjectPublicKeyInfo (a `PUBLIC KEY` PEM body).
pub(super) fn from_der(der: &[u8]) -> Result<PublicKey, String> {
    let info = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| format!("public key is not a valid SubjectPublicKeyInfo ({e})"))?;
    public_key(&info)
}

/// The key a decoded SubjectPublicKeyInfo holds, when its type is one a
/// JWS algorithm here can use.
pub(super) fn public_key(info: &SubjectPublicKeyInfoRef<'_>) -> Result<PublicKey, String> {
    let unsupported = || "public key is malformed or of an unsupported type".to_owned();
    let (algorithm, parameters) = info.algorithm.oids().map_err(|_| unsupported())?;
    let key = info.subject_public_key.as_bytes().ok_or_else(unsupported)?;
    match (algorithm, parameters) {
        (RSA_ENCRYPTION, None) => {
            let (n, e) = rsa_public_key(key).map_err(|e| format!("RSA public key: {e}"))?;
            Ok(PublicKey::Rsa { n, e })
        }
        (EC_PUBLIC_KEY, Some(curve)) => {
            let (family, len) = match curve {
                SECP256R1 => (KeyFamily::P256, 65),
                SECP384R1 => (KeyFamily::P384, 97),
                _ => return Err(unsupported()),
            };
            // Compressed points are not used by JOSE and not taken here.
            if key.len() != len || key[0] != 4 {
                return Err(unsupported());
            }
            Ok(PublicKey::Ec {
                family,
                point: key.to_vec(),
            })
        }
        (ED25519, _) => {
            let x = key.try_into().map_err(|_| unsupported())?;
            Ok(PublicKey::Ed25519(x))
        }
        _ => Err(unsupported()),
    }
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`
/// (RFC 8017 Appendix A.1.1), without leading zeros.
fn rsa_public_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), x509_cert::der::Error> {
    let mut reader = SliceReader::new(der)?;
    let (n, e) = reader.sequence(|seq| {
        let n = UintRef::decode(seq)?;
        let e = UintRef::decode(seq)?;
        Ok::<_, x509_cert::der::Error>((n.as_bytes().to_vec(), e.as_bytes().to_vec()))
    })?;
    reader.finish()?;
    Ok((n, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_hostile_input_is_an_error_not_a_panic() {
        let inputs: [&[u8]; 7] = [
            &[],
            &[0x30],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x80],
            &[0x30, 0x03, 0x02, 0x01],
            &[0x1f, 0x01, 0x00],
            // rsaEncryption with an empty key.
            &[
                0x30, 0x11, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
                0x01, 0x05, 0x00, 0x03, 0x01, 0x00,
            ],
        ];
        for input in inputs {
            assert!(from_der(input).is_err(), "{input:02x?}");
        }
    }
}
