//! [`StepUp`]: how strong and how recent the user's sign-in must be for a
//! route (RFC 9470), a [`Requirement`] refused with `401
//! insufficient_user_authentication`. Applied by the one
//! [`AuthorizeLayer`](super::AuthorizeLayer); no layer of its own.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Requirement, Time};
use crate::claims::Grants;
use crate::error::Error;

/// What a route requires of the sign-in behind a token (RFC 9470
/// "step-up authentication"): an `acr` among accepted values, an
/// `auth_time` no older than a maximum age, or both.
///
/// - [`acr_values`](Self::acr_values): the token's `acr` must equal one of
///   the values (exactly; a missing `acr` is refused);
/// - [`max_age`](Self::max_age): `now - auth_time` must be at most the
///   maximum age plus the validator's
///   [`leeway`](crate::ValidatorBuilder::leeway); a missing `auth_time`
///   counts as too old (RFC 9470 §3 cannot be met without it);
/// - [`and`](Self::and): both, and never weaker than either side: the
///   smaller `max_age`, the `acr` values both sides accept.
///
/// A token that falls short gets `401` (not 403: the client can fix it by
/// signing the user in again) with
/// `WWW-Authenticate: Bearer error="insufficient_user_authentication"`
/// (`DPoP algs="…", error="insufficient_user_authentication"` and a fresh
/// `DPoP-Nonce` when nonces are on, for a request the
/// [`OidcBearerLayer`](crate::OidcBearerLayer) admitted with the `DPoP`
/// scheme, RFC 9449 §7.1; the guard [`AuthorizeLayer::authorize`](super::AuthorizeLayer::authorize) does not
/// see the request and always answers `Bearer`),
/// an `error_description` saying what failed, and every configured
/// requirement as the RFC 9470 §3 attributes `acr_values="…"` and
/// `max_age="…"`, since the new sign-in must meet all of them. The client
/// passes them to the authorization server's `acr_values` and `max_age`
/// request parameters (OpenID Connect Core §3.1.2.1).
///
/// Apply it with [`layer`](Self::layer) inside the
/// [`OidcBearerLayer`](crate::OidcBearerLayer), or in a handler with
/// [`AuthorizeLayer::authorize_in`](super::AuthorizeLayer::authorize_in).
///
/// ```
/// use std::time::Duration;
/// use oidc_bearer::{StandardClaims, StepUp};
///
/// let step_up = StepUp::acr_values(["urn:example:mfa", "urn:example:hwk"])
///     .and(StepUp::max_age(Duration::from_secs(300)));
/// let claims: StandardClaims =
///     serde_json::from_str(r#"{"acr":"urn:example:mfa","auth_time":1000}"#).unwrap();
/// // 250 s after sign-in, with 60 s of leeway: fine.
/// assert!(step_up.check(&claims, 1_250, 60).is_ok());
/// // 400 s after: too old, and the 401 says how to fix it.
/// let error = step_up.check(&claims, 1_400, 60).unwrap_err();
/// assert_eq!(error.status(), 401);
/// assert_eq!(
///     error.www_authenticate(None).unwrap(),
///     "Bearer error=\"insufficient_user_authentication\", \
///      error_description=\"insufficient user authentication: authentication too old (max_age 300 s)\", \
///      acr_values=\"urn:example:mfa urn:example:hwk\", max_age=\"300\""
/// );
/// ```
///
/// # Panics
///
/// [`acr_values`](Self::acr_values) panics on an empty list or a value
/// that is empty or holds a space, `"`, `\` or a non-printable character:
/// no `acr_values` attribute could carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUp {
    /// Empty only after [`and`](Self::and) met lists with no value in
    /// common: then no `acr` is accepted.
    acr_values: Option<Box<[Box<str>]>>,
    /// The lists `and` found disjoint, as the refusal names them.
    acr_conflict: Option<Box<str>>,
    max_age: Option<u64>,
}

impl StepUp {
    /// The token's `acr` must be one of `values`, listed in order of
    /// preference (the challenge's `acr_values` keeps that order).
    pub fn acr_values<I: IntoIterator<Item: Into<Box<str>>>>(values: I) -> StepUp {
        let values: Box<[Box<str>]> = values.into_iter().map(Into::into).collect();
        assert!(
            !values.is_empty(),
            "oidc-bearer: StepUp::acr_values needs at least one value"
        );
        for value in &values {
            assert!(
                !value.is_empty()
                    && value
                        .bytes()
                        .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
                "oidc-bearer: {value:?} cannot be an acr value (printable ASCII without \
                 space, quote or backslash)"
            );
        }
        StepUp {
            acr_values: Some(values),
            acr_conflict: None,
            max_age: None,
        }
    }

    /// The user must have authenticated (`auth_time`) at most `max_age`
    /// ago, whole seconds (RFC 9470 `max_age`).
    pub fn max_age(max_age: Duration) -> StepUp {
        StepUp {
            acr_values: None,
            acr_conflict: None,
            max_age: Some(max_age.as_secs()),
        }
    }

    /// Both requirements, as strict as each side (a token meets the result
    /// only if it meets `self` and `other`):
    ///
    /// - `max_age`: the smaller of the two;
    /// - `acr_values`: the values both lists hold, in `self`'s order of
    ///   preference, since the `acr` must be in both sets.
    ///
    /// The challenge then names what a new sign-in must meet for both
    /// (RFC 9470 §3: `acr_values` are the acceptable values, `max_age` the
    /// largest acceptable age).
    ///
    /// Lists with no value in common make a requirement no token can
    /// meet. That is kept, not a panic (the lists may come from data): every
    /// token is refused with 401 `insufficient_user_authentication`, an
    /// `error_description` naming both lists, and no `acr_values`
    /// attribute, since no value would do.
    ///
    /// ```
    /// use std::time::Duration;
    /// use oidc_bearer::{StandardClaims, StepUp};
    ///
    /// let route = StepUp::max_age(Duration::from_secs(60))
    ///     .and(StepUp::max_age(Duration::from_secs(3600)))
    ///     .and(StepUp::acr_values(["mfa", "hwk"]))
    ///     .and(StepUp::acr_values(["hwk", "pwd"]));
    /// let claims: StandardClaims =
    ///     serde_json::from_str(r#"{"acr":"hwk","auth_time":1000}"#).unwrap();
    /// assert!(route.check(&claims, 1_060, 0).is_ok());
    /// // 600 s after sign-in: too old for the 60 s side.
    /// let error = route.check(&claims, 1_600, 0).unwrap_err();
    /// assert!(error.www_authenticate(None).unwrap().to_str().unwrap()
    ///     .ends_with(r#"acr_values="hwk", max_age="60""#));
    /// ```
    pub fn and(self, other: StepUp) -> StepUp {
        let max_age = match (self.max_age, other.max_age) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let (acr_values, acr_conflict) = match (self.acr_values, other.acr_values) {
            (Some(ours), Some(theirs)) => {
                let common: Box<[Box<str>]> = ours
                    .iter()
                    .filter(|v| theirs.contains(v))
                    .cloned()
                    .collect();
                // Once disjoint, the first pair found stays the one named.
                let conflict = self.acr_conflict.or(other.acr_conflict).or_else(|| {
                    common
                        .is_empty()
                        .then(|| format!("[{}] and [{}]", ours.join(" "), theirs.join(" ")).into())
                });
                (Some(common), conflict)
            }
            (Some(one), None) => (Some(one), self.acr_conflict),
            (None, Some(one)) => (Some(one), other.acr_conflict),
            (None, None) => (None, None),
        };
        StepUp {
            acr_values,
            acr_conflict,
            max_age,
        }
    }

    /// `Ok` when `grants` meet the requirement at `now` (seconds since the
    /// epoch) with `leeway` seconds of clock skew, else the
    /// [`Error::InsufficientUserAuthentication`] the layer refuses with.
    /// The layer and the guard pass the validator's clock and leeway.
    pub fn check<G: Grants + ?Sized>(
        &self,
        grants: &G,
        now: i64,
        leeway: i64,
    ) -> Result<(), Error> {
        let acr = grants.acr();
        let acr_ok = self
            .acr_values
            .as_deref()
            .is_none_or(|values| acr.is_some_and(|acr| values.iter().any(|v| **v == *acr)));
        let auth_time = grants.auth_time();
        // A sign-in in the future (beyond the leeway) is no sign-in to
        // count from: as stale as none.
        let fresh = self.max_age.is_none_or(|max_age| {
            let max_age = i64::try_from(max_age).unwrap_or(i64::MAX);
            auth_time.is_some_and(|t| {
                now.saturating_sub(t) <= max_age.saturating_add(leeway)
                    && t <= now.saturating_add(leeway)
            })
        });
        if acr_ok && fresh {
            return Ok(());
        }
        let mut required = String::new();
        if !acr_ok {
            match (&self.acr_conflict, acr) {
                (Some(lists), _) => {
                    let _ = write!(
                        required,
                        "no authentication context class (acr) meets this route: acr_values \
                         {lists} have no value in common"
                    );
                }
                (None, None) => required.push_str("no authentication context class (acr)"),
                (None, Some(_)) => {
                    required.push_str("authentication context class (acr) not accepted")
                }
            }
        }
        if !fresh {
            if !required.is_empty() {
                required.push_str(" and ");
            }
            let max_age = self.max_age.unwrap_or_default();
            let _ = match auth_time {
                None => write!(required, "no auth_time (max_age {max_age} s)"),
                Some(t) if t > now.saturating_add(leeway) => {
                    write!(required, "auth_time in the future (max_age {max_age} s)")
                }
                Some(_) => write!(required, "authentication too old (max_age {max_age} s)"),
            };
        }
        Err(Error::InsufficientUserAuthentication {
            required,
            acr_values: self
                .acr_values
                .as_ref()
                .filter(|v| !v.is_empty())
                .map(|v| v.join(" ")),
            max_age: self.max_age,
        })
    }
}

impl Requirement for StepUp {
    fn evaluate<G: Grants + ?Sized>(&self, grants: &G, time: Time<'_>) -> Result<(), Error> {
        self.check(grants, time.now(), time.leeway())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::StandardClaims;

    fn claims(json: &str) -> StandardClaims {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn acr_is_compared_exactly_and_required() {
        let step_up = StepUp::acr_values(["mfa", "hwk"]);
        assert!(step_up.check(&claims(r#"{"acr":"hwk"}"#), 0, 0).is_ok());
        for refused in [r#"{"acr":"MFA"}"#, r#"{"acr":""}"#, r#"{}"#] {
            let error = step_up.check(&claims(refused), 0, 0).unwrap_err();
            assert!(
                matches!(&error, Error::InsufficientUserAuthentication { acr_values: Some(v), max_age: None, .. } if v == "mfa hwk"),
                "{refused}: {error:?}"
            );
        }
    }

    #[test]
    fn max_age_counts_the_leeway_and_needs_auth_time() {
        let step_up = StepUp::max_age(Duration::from_secs(100));
        let signed_in = claims(r#"{"auth_time":1000}"#);
        assert!(step_up.check(&signed_in, 1_100, 0).is_ok());
        assert!(step_up.check(&signed_in, 1_101, 0).is_err());
        assert!(step_up.check(&signed_in, 1_160, 60).is_ok());
        assert!(step_up.check(&signed_in, 1_161, 60).is_err());
        assert!(step_up.check(&claims("{}"), 0, 60).is_err());
        // A sign-in in the future counts only within the leeway.
        assert!(step_up.check(&signed_in, 940, 60).is_ok());
        let future = step_up.check(&signed_in, 939, 60).unwrap_err();
        assert!(
            future.to_string().contains("auth_time in the future"),
            "{future}"
        );
        let missing = step_up.check(&claims("{}"), 0, 60).unwrap_err();
        assert!(missing.to_string().contains("no auth_time"), "{missing}");
        // A float NumericDate, as some providers send.
        assert!(
            step_up
                .check(&claims(r#"{"auth_time":1000.7}"#), 1_100, 0)
                .is_ok()
        );
    }

    #[test]
    fn and_keeps_both_and_the_challenge_names_both() {
        let step_up = StepUp::acr_values(["mfa"]).and(StepUp::max_age(Duration::from_secs(60)));
        let error = step_up
            .check(&claims(r#"{"acr":"pwd","auth_time":0}"#), 0, 0)
            .unwrap_err();
        assert_eq!(error.status(), 401);
        assert_eq!(error.error_code(), Some("insufficient_user_authentication"));
        let challenge = error.www_authenticate(Some("r")).unwrap();
        assert!(
            challenge
                .to_str()
                .unwrap()
                .ends_with(r#"acr_values="mfa", max_age="60""#)
        );
    }

    fn attrs(error: &Error) -> (Option<&str>, Option<u64>) {
        match error {
            Error::InsufficientUserAuthentication {
                acr_values,
                max_age,
                ..
            } => (acr_values.as_deref(), *max_age),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn and_is_as_strict_as_each_side() {
        let minute = Duration::from_secs(60);
        let hour = Duration::from_secs(3600);
        // The smaller max_age, in either order.
        for step_up in [
            StepUp::max_age(minute).and(StepUp::max_age(hour)),
            StepUp::max_age(hour).and(StepUp::max_age(minute)),
        ] {
            let signed_in = claims(r#"{"auth_time":1000}"#);
            assert!(step_up.check(&signed_in, 1_060, 0).is_ok());
            let error = step_up.check(&signed_in, 1_600, 0).unwrap_err();
            assert_eq!(attrs(&error), (None, Some(60)));
        }
        // The acr values both sides accept, in the left side's order.
        let step_up = StepUp::acr_values(["mfa", "hwk", "otp"])
            .and(StepUp::acr_values(["otp", "pwd", "hwk"]));
        for ok in ["hwk", "otp"] {
            let c = claims(&format!(r#"{{"acr":"{ok}"}}"#));
            assert!(step_up.check(&c, 0, 0).is_ok(), "{ok}");
        }
        for refused in ["mfa", "pwd"] {
            let c = claims(&format!(r#"{{"acr":"{refused}"}}"#));
            let error = step_up.check(&c, 0, 0).unwrap_err();
            assert_eq!(attrs(&error), (Some("hwk otp"), None), "{refused}");
        }
        // Each kind joins the other's: nothing is replaced.
        let step_up = StepUp::acr_values(["mfa"])
            .and(StepUp::max_age(minute))
            .and(StepUp::acr_values(["mfa", "pwd"]))
            .and(StepUp::max_age(hour));
        let error = step_up
            .check(&claims(r#"{"acr":"pwd","auth_time":1000}"#), 1_030, 0)
            .unwrap_err();
        assert_eq!(attrs(&error), (Some("mfa"), Some(60)));
        assert!(
            step_up
                .check(&claims(r#"{"acr":"mfa","auth_time":1000}"#), 1_030, 0)
                .is_ok()
        );
    }

    #[test]
    fn disjoint_acr_lists_refuse_every_token_and_say_why() {
        let step_up = StepUp::acr_values(["mfa"])
            .and(StepUp::acr_values(["pwd"]))
            .and(StepUp::max_age(Duration::from_secs(60)));
        for acr in [
            r#"{"acr":"mfa","auth_time":0}"#,
            r#"{"acr":"pwd","auth_time":0}"#,
            r#"{"auth_time":0}"#,
        ] {
            let error = step_up.check(&claims(acr), 0, 0).unwrap_err();
            assert_eq!(attrs(&error), (None, Some(60)), "{acr}");
            assert_eq!(
                error.www_authenticate(None).unwrap(),
                "Bearer error=\"insufficient_user_authentication\", \
                 error_description=\"insufficient user authentication: no authentication \
                 context class (acr) meets this route: acr_values [mfa] and [pwd] have no value \
                 in common\", max_age=\"60\"",
                "{acr}"
            );
        }
        // Further lists keep it unmeetable, and the first pair named.
        let more = step_up.and(StepUp::acr_values(["mfa", "pwd"]));
        let error = more.check(&claims(r#"{"acr":"mfa"}"#), 0, 0).unwrap_err();
        assert!(error.to_string().contains("[mfa] and [pwd]"), "{error}");
    }

    #[test]
    #[should_panic(expected = "cannot be an acr value")]
    fn an_acr_value_with_a_quote_is_refused() {
        let _ = StepUp::acr_values(["a\"b"]);
    }
}
