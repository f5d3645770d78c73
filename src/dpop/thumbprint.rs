//! RFC 7638 JWK thumbprints (SHA-256), the `jkt` of RFC 9449 §6.1.
//!
//! The hash only: whether a key is usable is for `keys` to decide.

use aws_lc_rs::digest::{self, SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::Error;
use crate::keys::JwkMembers;

/// The RFC 7638 SHA-256 thumbprint of a public JWK, base64url-encoded:
/// the value an authorization server puts in an access token's
/// `cnf.jkt` when it binds the token to that key (RFC 9449 §6.1).
///
/// Only the required members count (`e`, `kty`, `n` for RSA; `crv`,
/// `kty`, `x`, `y` for EC; `crv`, `kty`, `x` for OKP), in that order,
/// with their values as given.
///
/// ```
/// // RFC 7638 §3.1's example key.
/// let jwk = r#"{"kty":"RSA","e":"AQAB","alg":"RS256","kid":"2011-04-29",
///  "n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}"#;
/// assert_eq!(
///     oidc_bearer::dpop::jwk_thumbprint(jwk).unwrap(),
///     "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
/// );
/// ```
///
/// # Errors
///
/// [`Error::InvalidKey`] when `jwk` is not a JSON object with a supported
/// `kty` and its required members.
pub fn jwk_thumbprint(jwk: &str) -> Result<String, Error> {
    #[derive(serde::Deserialize)]
    struct Members {
        kty: String,
        crv: Option<String>,
        n: Option<String>,
        e: Option<String>,
        x: Option<String>,
        y: Option<String>,
    }
    let m: Members =
        serde_json::from_str(jwk).map_err(|_| Error::InvalidKey("not a JSON JWK".into()))?;
    let members = JwkMembers {
        kty: &m.kty,
        crv: m.crv.as_deref(),
        n: m.n.as_deref(),
        e: m.e.as_deref(),
        x: m.x.as_deref(),
        y: m.y.as_deref(),
    };
    let digest = thumbprint(&members)
        .ok_or_else(|| Error::InvalidKey("the JWK lacks a member its kty requires".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(digest))
}

/// SHA-256 over the canonical JSON of the required members; `None` when
/// one is missing or the `kty` is unknown. The values are base64url or a
/// registered name, so none needs escaping, which is checked.
pub(crate) fn thumbprint(m: &JwkMembers<'_>) -> Option<[u8; 32]> {
    // Hashed as it is written: no buffer for the JSON.
    let mut json = digest::Context::new(&SHA256);
    let mut member = |name: &str, value: &str, first: bool| {
        json.update(if first { b"{\"" } else { b",\"" });
        json.update(name.as_bytes());
        json.update(b"\":\"");
        json.update(value.as_bytes());
        json.update(b"\"");
    };
    let plain = |v: &str| {
        v.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    };
    match m.kty {
        "RSA" => {
            let (e, n) = (m.e?, m.n?);
            if !plain(e) || !plain(n) {
                return None;
            }
            member("e", e, true);
            member("kty", "RSA", false);
            member("n", n, false);
        }
        "EC" => {
            let (crv, x, y) = (m.crv?, m.x?, m.y?);
            if !plain(crv) || !plain(x) || !plain(y) {
                return None;
            }
            member("crv", crv, true);
            member("kty", "EC", false);
            member("x", x, false);
            member("y", y, false);
        }
        "OKP" => {
            let (crv, x) = (m.crv?, m.x?);
            if !plain(crv) || !plain(x) {
                return None;
            }
            member("crv", crv, true);
            member("kty", "OKP", false);
            member("x", x, false);
        }
        _ => return None,
    }
    json.update(b"}");
    json.finish().as_ref().try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_and_okp_members_in_lexicographic_order() {
        // RFC 9449 §4.1's proof key: its thumbprint as RFC 9449 §6.1 gives.
        let jwk = r#"{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}"#;
        assert_eq!(
            jwk_thumbprint(jwk).unwrap(),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
        // Extra members (kid, use, alg) change nothing.
        let with_extras = jwk.replace("{", r#"{"kid":"k","use":"sig","#);
        assert_eq!(
            jwk_thumbprint(&with_extras).unwrap(),
            jwk_thumbprint(jwk).unwrap()
        );
        assert!(jwk_thumbprint(r#"{"kty":"EC","crv":"P-256","x":"a"}"#).is_err());
        assert!(jwk_thumbprint(r#"{"kty":"oct","k":"a"}"#).is_err());
        assert!(jwk_thumbprint(r#"{"kty":"OKP","crv":"Ed25519","x":"a\"b"}"#).is_err());
        let okp =
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        // RFC 8037 §A.3.
        assert_eq!(
            jwk_thumbprint(okp).unwrap(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}
