//! The registered-claim rules (RFC 7519 §4.1): `exp` required, `nbf` and
//! `iat` when present, all with the leeway; `iss` exact; `aud` containing a
//! configured audience; and a key's issuer binding.

use super::Registered;
use crate::error::Error;

/// The configured registered-claim rules.
pub(crate) struct ClaimChecks {
    /// The exact `iss`.
    pub issuer: Box<str>,
    /// Accepted audiences; one must appear in `aud`.
    pub audiences: Vec<Box<str>>,
    /// `insecure_skip_audience()`: any `aud`, or none.
    pub skip_audience: bool,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    pub leeway: i64,
}

impl ClaimChecks {
    /// `exp` (required), `nbf`, `iat`, `iss`, `aud`. Returns the issuer.
    pub fn check<'r>(&self, reg: &'r Registered<'_>, now: i64) -> Result<&'r str, Error> {
        let cfg = self;
        let exp = reg.exp.ok_or_else(|| Error::MissingClaim("exp".into()))?;
        if now >= exp.saturating_add(cfg.leeway) {
            return Err(Error::Expired);
        }
        if let Some(nbf) = reg.nbf
            && now.saturating_add(cfg.leeway) < nbf
        {
            return Err(Error::NotYetValid);
        }
        if let Some(iat) = reg.iat
            && iat > now.saturating_add(cfg.leeway)
        {
            return Err(Error::IssuedInFuture);
        }
        let iss = reg
            .iss
            .as_deref()
            .ok_or_else(|| Error::MissingClaim("iss".into()))?;
        if iss != &*cfg.issuer {
            return Err(Error::InvalidIssuer);
        }
        if !cfg.skip_audience {
            match &reg.aud {
                None => return Err(Error::MissingClaim("aud".into())),
                Some(aud) if !aud.contains_any(&cfg.audiences) => {
                    return Err(Error::InvalidAudience);
                }
                Some(_) => {}
            }
        }
        Ok(iss)
    }
}

/// A key bound to an issuer (Entra's JWK `issuer` member) only verifies
/// tokens of that issuer; `{tenantid}` stands for the token's `tid`.
pub(crate) fn issuer_matches(bound: &str, iss: &str, tid: Option<&str>) -> bool {
    match bound.split_once("{tenantid}") {
        None => bound == iss,
        Some((prefix, suffix)) => tid.is_some_and(|tid| {
            iss.len() == prefix.len() + tid.len() + suffix.len()
                && iss.starts_with(prefix)
                && iss.ends_with(suffix)
                && &iss[prefix.len()..prefix.len() + tid.len()] == tid
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_templates() {
        let t = "https://login.microsoftonline.com/{tenantid}/v2.0";
        assert!(issuer_matches(
            t,
            "https://login.microsoftonline.com/abc/v2.0",
            Some("abc")
        ));
        assert!(!issuer_matches(
            t,
            "https://login.microsoftonline.com/abc/v2.0",
            Some("xyz")
        ));
        assert!(!issuer_matches(
            t,
            "https://login.microsoftonline.com/abc/v2.0",
            None
        ));
        assert!(issuer_matches("https://a/", "https://a/", None));
        assert!(!issuer_matches("https://a/", "https://a", None));
    }
}
