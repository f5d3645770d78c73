//! X.509 certificates (`x5c` entries, `CERTIFICATE` PEM), decoded with
//! RustCrypto's `x509-cert`.
//!
//! A certificate is only a container for its public key here: no chain,
//! validity period or signature is checked, because the key set itself
//! comes from the configured provider. That is also why version 1
//! certificates (Keycloak's self-signed realm certificates) are taken.

use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use x509_cert::certificate::{CertificateInner, Raw};
use x509_cert::der::{Decode, referenced::OwnedToRef};

use super::public_key::PublicKey;
use super::spki;

/// The parts of a certificate keys are found and selected by.
pub(super) struct CertificateKey {
    pub public_key: PublicKey,
    /// What a JOSE `x5t` names (RFC 7515 §4.1.7): SHA-1 of the DER.
    pub thumbprint: [u8; 20],
}

/// Decodes a DER certificate and takes its subject public key.
///
/// With the `Raw` profile: RFC 5280's limits on fields this crate does not
/// read (a serial number over 20 bytes, as some vendors' certificates have)
/// would only refuse a key the provider meant. Bytes after the certificate
/// are ignored, as the hand-written decoder this replaced did.
pub(super) fn certificate_key(der: &[u8]) -> Result<CertificateKey, String> {
    let (cert, rest) = CertificateInner::<Raw>::from_der_partial(der)
        .map_err(|e| format!("certificate is not valid X.509 DER ({e})"))?;
    let info = cert
        .tbs_certificate()
        .subject_public_key_info()
        .owned_to_ref();
    let public_key = spki::public_key(&info)?;
    let own = &der[..der.len() - rest.len()];
    let thumbprint = digest(&SHA1_FOR_LEGACY_USE_ONLY, own)
        .as_ref()
        .try_into()
        .expect("SHA-1 is 20 bytes");
    Ok(CertificateKey {
        public_key,
        thumbprint,
    })
}
