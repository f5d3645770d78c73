//! The registered-claim rules (RFC 7519 §4.1): `exp` required, `nbf` and
//! `iat` when present, all with the leeway; `iss` exact; `aud` containing a
//! configured audience; and a key's issuer binding.

use super::Registered;
use crate::error::Error;

/// Microsoft Graph's audiences: its application id and its URI.
const MICROSOFT_GRAPH: [&str; 2] = [
    "00000003-0000-0000-c000-000000000000",
    "https://graph.microsoft.com",
];

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
                    return Err(if MICROSOFT_GRAPH.iter().any(|graph| aud.contains(graph)) {
                        Error::MicrosoftGraphToken
                    } else {
                        Error::InvalidAudience
                    });
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
    let exact = match bound.split_once("{tenantid}") {
        None => bound == iss,
        Some((prefix, suffix)) => tid.is_some_and(|tid| {
            iss.len() == prefix.len() + tid.len() + suffix.len()
                && iss.starts_with(prefix)
                && iss.ends_with(suffix)
                && &iss[prefix.len()..prefix.len() + tid.len()] == tid
        }),
    };
    exact || entra_v1_token_of_v2_key(bound, iss, tid)
}

/// Entra ID signs v1 and v2 access tokens with one key set, and binds each
/// key to the v2 issuer (`https://login.microsoftonline.com/{tenantid}/v2.0`,
/// templated or for one tenant). A v1 token (`iss`
/// `https://sts.windows.net/{tid}/`) of that same tenant is signed by those
/// keys: Microsoft's own validator accepts it, its v1 metadata attaching
/// no issuer to keys. Only when the v1 `iss` names the token's own `tid`,
/// and that tenant is the key's (or the key is bound to the template).
fn entra_v1_token_of_v2_key(bound: &str, iss: &str, tid: Option<&str>) -> bool {
    let Some(tid) = tid.filter(|tid| !tid.is_empty()) else {
        return false;
    };
    let key_tenant = bound
        .strip_prefix("https://login.microsoftonline.com/")
        .and_then(|rest| rest.strip_suffix("/v2.0"));
    let token_tenant = iss
        .strip_prefix("https://sts.windows.net/")
        .and_then(|rest| rest.strip_suffix('/'));
    matches!(key_tenant, Some(tenant) if tenant == "{tenantid}" || tenant == tid)
        && token_tenant == Some(tid)
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

    #[test]
    fn entra_v1_tokens_are_signed_by_keys_bound_to_the_v2_issuer() {
        let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let tenant_a = "https://login.microsoftonline.com/aaaa/v2.0";
        let v1 = |tid: &str| format!("https://sts.windows.net/{tid}/");
        assert!(issuer_matches(template, &v1("aaaa"), Some("aaaa")));
        assert!(issuer_matches(tenant_a, &v1("aaaa"), Some("aaaa")));
        // Another tenant's v1 token, or an `iss` that disagrees with `tid`.
        assert!(!issuer_matches(tenant_a, &v1("bbbb"), Some("bbbb")));
        assert!(!issuer_matches(template, &v1("aaaa"), Some("bbbb")));
        assert!(!issuer_matches(template, &v1("aaaa"), None));
        assert!(!issuer_matches(template, &v1(""), Some("")));
        // Only the v1 form of that tenant: not a look-alike host or path.
        assert!(!issuer_matches(
            template,
            "https://sts.windows.net/aaaa",
            Some("aaaa")
        ));
        assert!(!issuer_matches(
            template,
            "https://sts.windows.net.evil/aaaa/",
            Some("aaaa")
        ));
        assert!(!issuer_matches(
            "https://login.example.com/{tenantid}/v2.0",
            &v1("aaaa"),
            Some("aaaa")
        ));
    }
}
