//! X.509 certificates (`x5c` entries, `CERTIFICATE` PEM), decoded with
//! RustCrypto's `x509-cert`.
//!
//! A certificate is only a container for its public key here: no chain,
//! validity period or signature is checked, because the key set itself
//! comes from the configured provider. That is also why version 1
//! certificates (Keycloak's self-signed realm certificates) are taken.

use x509_cert::Certificate;
use x509_cert::der::{Decode, referenced::OwnedToRef};

use super::public_key::PublicKey;
use super::spki;

/// The parts of a certificate keys are found and selected by.
pub(super) struct CertificateKey {
    pub public_key: PublicKey,
}

/// Decodes a DER certificate and takes its subject public key.
pub(super) fn certificate_key(der: &[u8]) -> Result<CertificateKey, String> {
    let cert = Certificate::from_der(der)
        .map_err(|e| format!("certificate is not valid X.509 DER ({e})"))?;
    let info = cert
        .tbs_certificate()
        .subject_public_key_info()
        .owned_to_ref();
    let public_key = spki::public_key(&info)?;
    Ok(CertificateKey { public_key })
}
