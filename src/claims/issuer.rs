//! The `iss` rule: an exact issuer, or a multi-tenant template such as
//! `https://login.example.com/{tenantid}/v2.0`, where `{tenantid}` stands
//! for the token's own `tid`; and the binding of a key to an issuer (a JWK
//! `issuer` member, as multi-tenant providers publish).
//!
//! String rules only: no key is fetched or parsed here, and the issuer's
//! settings are `issuers`'.

/// The placeholder multi-tenant discovery documents put in `issuer`.
pub(crate) const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// A configured issuer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum IssuerName {
    /// Compared byte for byte with `iss`.
    Exact(Box<str>),
    /// `{prefix}{tid}{suffix}`, with the token's `tid`, a GUID.
    Template { prefix: Box<str>, suffix: Box<str> },
}

impl IssuerName {
    /// Reads `{tenantid}` (once) as a template; anything else is exact.
    pub fn parse(issuer: &str) -> Self {
        match issuer.split_once(TENANT_PLACEHOLDER) {
            Some((prefix, suffix)) if !suffix.contains(TENANT_PLACEHOLDER) => {
                IssuerName::Template {
                    prefix: prefix.into(),
                    suffix: suffix.into(),
                }
            }
            _ => IssuerName::Exact(issuer.into()),
        }
    }

    /// True when `iss` is this issuer for a token whose tenant is `tid`.
    pub fn matches(&self, iss: &str, tid: Option<&str>) -> bool {
        match self {
            IssuerName::Exact(exact) => **exact == *iss,
            IssuerName::Template { prefix, suffix } => {
                tid.is_some_and(|tid| is_guid(tid) && fill(prefix, suffix, tid, iss))
            }
        }
    }

    /// True when `iss` has this template's shape, whatever stands for the
    /// tenant: never enough to select an issuer (that takes
    /// [`matches`](Self::matches)), only to say that a token without
    /// `tid` is missing it.
    pub fn has_shape_of(&self, iss: &str) -> bool {
        match self {
            IssuerName::Exact(_) => false,
            IssuerName::Template { prefix, suffix } => {
                iss.len() > prefix.len() + suffix.len()
                    && iss.starts_with(&**prefix)
                    && iss.ends_with(&**suffix)
            }
        }
    }

    pub fn is_template(&self) -> bool {
        matches!(self, IssuerName::Template { .. })
    }
}

impl std::fmt::Display for IssuerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IssuerName::Exact(exact) => f.write_str(exact),
            IssuerName::Template { prefix, suffix } => {
                write!(f, "{prefix}{TENANT_PLACEHOLDER}{suffix}")
            }
        }
    }
}

/// `value == prefix + tid + suffix`, without building the string.
fn fill(prefix: &str, suffix: &str, tid: &str, value: &str) -> bool {
    value.len() == prefix.len() + tid.len() + suffix.len()
        && value.starts_with(prefix)
        && value.ends_with(suffix)
        && &value[prefix.len()..prefix.len() + tid.len()] == tid
}

/// A tenant id as multi-tenant issuers fill it in: a GUID, `8-4-4-4-12`
/// hex digits.
/// Anything else in `tid` could smuggle a path into a templated issuer
/// (`x/v2.0/..`), so it never fills one.
pub(crate) fn is_guid(tid: &str) -> bool {
    let bytes = tid.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// A key bound to an issuer (`bound`, the JWK's `issuer` member, exact
/// or templated) verifies a token of issuer `iss` and tenant `tid` when
/// `bound`, filled with `tid`, is that issuer — or is `alias`, the issuer
/// the token's issuer shares its keys with (e.g. another token version's
/// issuer of the same tenant), filled the same way.
pub(crate) fn key_accepts(bound: &str, iss: &str, tid: Option<&str>, alias: Option<&str>) -> bool {
    let tenant = tid.filter(|tid| is_guid(tid));
    let filled_is = |value: &str| match (bound.split_once(TENANT_PLACEHOLDER), tenant) {
        (None, _) => bound == value,
        (Some((prefix, suffix)), Some(tid)) => fill(prefix, suffix, tid, value),
        (Some(_), None) => false,
    };
    if filled_is(iss) {
        return true;
    }
    // The alias names the same tenant as the token only once filled.
    let Some(alias) = alias else { return false };
    match (alias.split_once(TENANT_PLACEHOLDER), tenant) {
        (None, _) => filled_is(alias),
        (Some((prefix, suffix)), Some(tid)) => filled_is(&format!("{prefix}{tid}{suffix}")),
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
    const B: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    #[test]
    fn templates_take_the_tokens_own_guid_tenant() {
        let t = IssuerName::parse("https://login.example.com/{tenantid}/v2.0");
        let iss = |tid: &str| format!("https://login.example.com/{tid}/v2.0");
        assert!(t.is_template());
        assert!(t.matches(&iss(A), Some(A)));
        assert!(!t.matches(&iss(A), Some(B)), "iss of A, tid of B");
        assert!(!t.matches(&iss(A), None));
        assert!(!t.matches(&iss("common"), Some("common")), "not a GUID");
        let smuggled = "x/v2.0/../8eaef023";
        assert!(!t.matches(&iss(smuggled), Some(smuggled)));
        for shaped in [
            format!("https://login.example.com/{A}/v2.0/"),
            format!("https://login.example.com/{A}//v2.0"),
            "https://login.example.com/{tenantid}/v2.0".to_owned(),
        ] {
            assert!(!t.matches(&shaped, Some(A)), "{shaped}");
        }
        assert!(!t.matches(&iss("{tenantid}"), Some("{tenantid}")));
        assert_eq!(t.to_string(), "https://login.example.com/{tenantid}/v2.0");
        let exact = IssuerName::parse("https://a/");
        assert!(exact.matches("https://a/", None));
        assert!(!exact.matches("https://a", None));
    }

    #[test]
    fn guids() {
        assert!(is_guid(A));
        assert!(is_guid(&A.to_uppercase()));
        assert!(!is_guid("8eaef0232b344da19baa8bc8c9d6a490"));
        assert!(!is_guid(&A.replace('-', "/")));
        assert!(!is_guid(""));
    }

    #[test]
    fn tokens_of_an_aliased_issuer_are_signed_by_keys_bound_to_the_alias() {
        let template = "https://login.example.com/{tenantid}/v2.0";
        let tenant_a = format!("https://login.example.com/{A}/v2.0");
        let v1 = |tid: &str| format!("https://sts.example.com/{tid}/");
        // The alias a preset gives a v1 issuer: its v2 counterpart.
        let alias = |tid: &str| format!("https://login.example.com/{tid}/v2.0");
        let accepts = |bound: &str, tid: &str, token_tid: Option<&str>| {
            key_accepts(bound, &v1(tid), token_tid, Some(&alias(tid)))
        };
        assert!(accepts(template, A, Some(A)));
        assert!(accepts(&tenant_a, A, Some(A)));
        // Another tenant's token, or a `tid` that disagrees with `iss`.
        assert!(!accepts(&tenant_a, B, Some(B)));
        assert!(!accepts(template, A, Some(B)));
        assert!(!accepts(template, A, None));
        // A templated v1 issuer's alias is the v2 template.
        let multi_alias = alias(TENANT_PLACEHOLDER);
        assert_eq!(multi_alias, template);
        assert!(key_accepts(template, &v1(A), Some(A), Some(&multi_alias)));
        assert!(key_accepts(&tenant_a, &v1(A), Some(A), Some(&multi_alias)));
        assert!(!key_accepts(&tenant_a, &v1(B), Some(B), Some(&multi_alias)));
        // A key bound to another issuer (another cloud's) is another key.
        assert!(!key_accepts(
            "https://login.other.example/{tenantid}/v2.0",
            &v1(A),
            Some(A),
            Some(&alias(A))
        ));
        // No alias: the key's issuer alone decides.
        assert!(!key_accepts(template, &v1(A), Some(A), None));
        assert!(key_accepts(template, &tenant_a, Some(A), None));
    }
}
