//! The registered-claim rules (RFC 7519 §4.1): the time rule (applied
//! here, written once in `TimeClaims::check`); `iss` exact or templated,
//! with the tenant allow-list; `aud` containing a configured audience, or
//! the explicit `azp` alternative.
//!
//! No time arithmetic of its own and no key: the time rule is
//! `TimeClaims::check`'s, the signature the validator's.

use std::borrow::Cow;

use serde::Deserialize;

use super::Registered;
use super::issuer::IssuerName;
use crate::error::Error;

/// One issuer's registered-claim rules.
pub(crate) struct ClaimChecks {
    /// The `iss` rule.
    pub issuer: IssuerName,
    /// Multi-tenant issuers only: the accepted `tid`s (`None`: any).
    pub tenants: Option<Box<[Box<str>]>>,
    /// The issuer this one's keys are bound to as well (e.g. one token
    /// version's issuer naming the other's keys), exact or templated.
    pub key_issuer_alias: Option<Box<str>>,
    /// Accepted audiences; one must appear in `aud`.
    pub audiences: Box<[Box<str>]>,
    /// `insecure_skip_audience()`: any `aud`, or none.
    pub skip_audience: bool,
    /// `allow_azp_as_audience()`: when `aud` names none of `audiences`,
    /// `azp` equal to this client id is accepted instead.
    pub azp_audience: Option<Box<str>>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    pub leeway: i64,
}

impl ClaimChecks {
    /// `exp` (required), `nbf`, `iat`, `iss` (with `tid`), `aud`, on the
    /// verified `payload` parsed into `reg`. Returns the issuer.
    /// `explain`: the provider's answer instead of `InvalidIssuer` or
    /// `InvalidAudience` (given the one it would replace), asked on those
    /// refusals only, the audience's before `azp` may stand in.
    pub fn check<'r>(
        &self,
        reg: &'r Registered<'_>,
        payload: &[u8],
        now: i64,
        explain: impl Fn(&Error) -> Option<Error>,
    ) -> Result<&'r str, Error> {
        reg.times()?.check(now, self.leeway)?;
        let iss = reg
            .iss
            .as_deref()
            .ok_or_else(|| Error::MissingClaim("iss".into()))?;
        let tid = reg.tid.as_deref();
        if self.issuer.is_template() {
            self.check_tenant(tid)?;
        }
        if !self.issuer.matches(iss, tid) {
            return Err(explain(&Error::InvalidIssuer).unwrap_or(Error::InvalidIssuer));
        }
        if !self.skip_audience {
            // The one audience rule, for `audience()` and the `azp`
            // alternative alike: `aud` identifies the recipients (RFC 7519
            // §4.1.3; OpenID Connect Core §2: it must contain one), so an
            // `aud` naming no one is none, and `[]` cannot step aside
            // for `azp`.
            match reg.aud.as_ref().filter(|aud| !aud.names_no_one()) {
                None => return Err(Error::MissingClaim("aud".into())),
                Some(aud) if aud.contains_any(&self.audiences) => {}
                Some(_) => {
                    // A token the provider knows to be someone else's is
                    // never let in through `azp`.
                    if let Some(error) = explain(&Error::InvalidAudience) {
                        return Err(error);
                    }
                    if !self.azp_names_this_api(payload) {
                        return Err(Error::InvalidAudience);
                    }
                }
            }
        }
        Ok(iss)
    }

    /// The tenant rules of a multi-tenant issuer, the allow-list first:
    /// a tenant that is not allowed is refused as such, whatever else
    /// about it is wrong. Also run on the unverified `tid` when the
    /// issuer is selected, so such a token costs no key lookup.
    pub fn check_tenant(&self, tid: Option<&str>) -> Result<(), Error> {
        let tid = tid.ok_or_else(|| Error::MissingClaim("tid".into()))?;
        if let Some(allowed) = &self.tenants
            && !allowed.iter().any(|t| t.eq_ignore_ascii_case(tid))
        {
            return Err(Error::TenantNotAllowed);
        }
        Ok(())
    }

    /// `azp` equal to the configured client id; only read when `aud`
    /// failed and the option is on, so other tokens never pay for it.
    #[cold]
    fn azp_names_this_api(&self, payload: &[u8]) -> bool {
        #[derive(Deserialize)]
        struct Azp<'a> {
            #[serde(borrow)]
            azp: Option<Cow<'a, str>>,
        }
        let Some(client_id) = &self.azp_audience else {
            return false;
        };
        serde_json::from_slice::<Azp<'_>>(payload)
            .ok()
            .and_then(|a| a.azp)
            .is_some_and(|azp| *azp == **client_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
    const B: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn checks(issuer: &str) -> ClaimChecks {
        ClaimChecks {
            issuer: IssuerName::parse(issuer),
            tenants: None,
            key_issuer_alias: None,
            audiences: vec!["api".into()].into(),
            skip_audience: false,
            azp_audience: None,
            leeway: 0,
        }
    }

    fn run(checks: &ClaimChecks, json: &str) -> Result<(), Error> {
        let reg: Registered<'_> = serde_json::from_str(json).unwrap();
        checks.check(&reg, json.as_bytes(), 0, |_| None).map(|_| ())
    }

    #[test]
    fn multi_tenant_allow_list_comes_first() {
        let mut c = checks("https://login.microsoftonline.com/{tenantid}/v2.0");
        let token = |iss_tid: &str, tid: &str| {
            format!(
                r#"{{"exp":9,"aud":"api","tid":"{tid}","iss":"https://login.microsoftonline.com/{iss_tid}/v2.0"}}"#
            )
        };
        assert!(run(&c, &token(A, A)).is_ok());
        assert!(matches!(run(&c, &token(A, B)), Err(Error::InvalidIssuer)));
        c.tenants = Some(vec![B.into()].into());
        assert!(matches!(
            run(&c, &token(A, A)),
            Err(Error::TenantNotAllowed)
        ));
        assert!(run(&c, &token(B, B)).is_ok());
        // The allow-list speaks first: tenant A's `tid` with B's `iss`.
        assert!(matches!(
            run(&c, &token(B, A)),
            Err(Error::TenantNotAllowed)
        ));
        let no_tid = r#"{"exp":9,"aud":"api","iss":"x"}"#;
        assert!(matches!(run(&c, no_tid), Err(Error::MissingClaim(m)) if m == "tid"));
    }

    #[test]
    fn azp_stands_in_for_aud_only_when_asked_and_only_if_aud_is_present() {
        let mut c = checks("https://kc/realms/r");
        let kc = |aud: &str, azp: &str| {
            format!(r#"{{"exp":9,"iss":"https://kc/realms/r"{aud},"azp":"{azp}"}}"#)
        };
        let account = kc(r#","aud":"account""#, "my-api");
        assert!(matches!(run(&c, &account), Err(Error::InvalidAudience)));
        c.azp_audience = Some("my-api".into());
        assert!(run(&c, &account).is_ok());
        assert!(matches!(
            run(&c, &kc(r#","aud":"account""#, "other-client")),
            Err(Error::InvalidAudience)
        ));
        assert!(matches!(
            run(&c, &kc("", "my-api")),
            Err(Error::MissingClaim(m)) if m == "aud"
        ));
        assert!(run(&c, &kc(r#","aud":["account","api"]"#, "x")).is_ok());
        // An `aud` naming no one is no `aud`, for `azp` and `audience()`.
        for empty in [
            r#","aud":[]"#,
            r#","aud":"""#,
            r#","aud":[""]"#,
            r#","aud":["",""]"#,
            r#","aud":null"#,
        ] {
            assert!(
                matches!(run(&c, &kc(empty, "my-api")), Err(Error::MissingClaim(m)) if m == "aud"),
                "{empty}"
            );
        }
        c.audiences = vec!["".into()].into();
        assert!(matches!(
            run(&c, &kc(r#","aud":"""#, "x")),
            Err(Error::MissingClaim(m)) if m == "aud"
        ));
        // One empty member beside a real one: the real one decides.
        c.audiences = vec!["api".into()].into();
        assert!(run(&c, &kc(r#","aud":["","api"]"#, "x")).is_ok());
        assert!(run(&c, &kc(r#","aud":["","account"]"#, "my-api")).is_ok());
    }
}
