//! The key of a DPoP proof (RFC 9449 §4.2 `jwk` header): parsed for the
//! proof's one algorithm, per request, by the same rules as a JWKS key.
//! Never put in a [`KeySet`](super::KeySet): it verifies the proof only.

use aws_lc_rs::signature::ParsedPublicKey;

use super::jwk::members_key;
use crate::algorithm::Algorithm;

/// The public members of a JWK, as the proof header spells them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct JwkMembers<'a> {
    pub kty: &'a str,
    pub crv: Option<&'a str>,
    pub n: Option<&'a str>,
    pub e: Option<&'a str>,
    pub x: Option<&'a str>,
    pub y: Option<&'a str>,
}

/// The key of `members`, parsed for `alg` alone; an error says why it
/// cannot verify `alg` (wrong family, bad point, short RSA modulus, a
/// small-order Ed25519 point, ...).
pub(crate) fn proof_key(
    members: &JwkMembers<'_>,
    alg: Algorithm,
) -> Result<ParsedPublicKey, String> {
    let public = members_key(
        members.kty,
        members.crv,
        [members.n, members.e, members.x, members.y],
    )?;
    if alg.family() != Some(public.family()) {
        return Err(format!("alg {alg} does not fit the jwk"));
    }
    public.screen()?;
    public.parse_for(alg)
}
