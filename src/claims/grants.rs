//! [`Grants`]: what a claims type grants, asked one name at a time.
//!
//! Questions only: whether the answers are enough for a route is the
//! requirement's (`authz`), never decided here.

use crate::claims::{Claims, StandardClaims};

/// What a verified token grants: scopes, app roles, and Keycloak's realm
/// and client roles, each asked for by name so a check allocates nothing.
///
/// [`Require`](crate::Require) asks these questions; implement the trait
/// for your own claims type to use requirements with it. Every method
/// answers `false` unless implemented, so a kind of grant your type does
/// not carry is never granted. The four kinds are separate questions:
/// an implementation must not answer one from another's claim (a realm
/// role `admin` is not the client role `admin`, nor an app role).
///
/// ```
/// use oidc_bearer::Require;
/// use oidc_bearer::authz::Grants;
///
/// #[derive(serde::Deserialize)]
/// struct MyClaims {
///     scope: String,
/// }
///
/// impl Grants for MyClaims {
///     fn has_scope(&self, scope: &str) -> bool {
///         self.scope.split(' ').any(|s| s == scope)
///     }
/// }
///
/// let claims = MyClaims { scope: "orders.read profile".into() };
/// assert!(Require::scope("orders.read").is_met_by(&claims));
/// // Not implemented, so never granted:
/// assert!(!Require::role("admin").is_met_by(&claims));
/// ```
pub trait Grants {
    /// True when the token grants `scope` (`scope` or `scp`; RFC 6749
    /// §3.3: compared exactly, case-sensitive).
    fn has_scope(&self, scope: &str) -> bool {
        let _ = scope;
        false
    }

    /// True when the token carries the app role `role` (the `roles`
    /// claim: Entra ID app roles, RFC 9068 §2.2.3.1).
    fn has_role(&self, role: &str) -> bool {
        let _ = role;
        false
    }

    /// True when the token carries the Keycloak realm role `role`
    /// (`realm_access.roles`).
    fn has_realm_role(&self, role: &str) -> bool {
        let _ = role;
        false
    }

    /// True when the token carries the Keycloak client role `role` of the
    /// client `client` (`resource_access.{client}.roles`).
    fn has_client_role(&self, client: &str, role: &str) -> bool {
        let _ = (client, role);
        false
    }

    /// The `acr` claim (authentication context class reference, OpenID
    /// Connect Core §2), for [`StepUp`](crate::StepUp); `None` unless
    /// implemented, which no `acr` requirement accepts.
    fn acr(&self) -> Option<&str> {
        None
    }

    /// The `auth_time` claim (seconds since the epoch, OpenID Connect Core
    /// §2), for [`StepUp`](crate::StepUp); `None` unless implemented,
    /// which no `max_age` requirement accepts.
    fn auth_time(&self) -> Option<i64> {
        None
    }
}

impl Grants for StandardClaims {
    fn has_scope(&self, scope: &str) -> bool {
        // As `StandardClaims::has_scope`, without its chained, filtered
        // iterator: two plain loops are what keeps a check in tens of ns.
        !scope.is_empty() && (contains(&self.scope, scope) || contains(&self.scp, scope))
    }

    fn has_role(&self, role: &str) -> bool {
        contains(&self.roles, role)
    }

    fn has_realm_role(&self, role: &str) -> bool {
        self.realm_access.has_role(role)
    }

    fn has_client_role(&self, client: &str, role: &str) -> bool {
        self.resource_access
            .get(client)
            .is_some_and(|access| access.has_role(role))
    }

    fn acr(&self) -> Option<&str> {
        self.acr.as_deref()
    }

    fn auth_time(&self) -> Option<i64> {
        self.auth_time
    }
}

fn contains(list: &[String], name: &str) -> bool {
    list.iter().any(|entry| entry == name)
}

/// So a handler can pass its `Claims<C>` as it is.
impl<C: Grants> Grants for Claims<C> {
    fn has_scope(&self, scope: &str) -> bool {
        (**self).has_scope(scope)
    }

    fn has_role(&self, role: &str) -> bool {
        (**self).has_role(role)
    }

    fn has_realm_role(&self, role: &str) -> bool {
        (**self).has_realm_role(role)
    }

    fn has_client_role(&self, client: &str, role: &str) -> bool {
        (**self).has_client_role(client, role)
    }

    fn acr(&self) -> Option<&str> {
        (**self).acr()
    }

    fn auth_time(&self) -> Option<i64> {
        (**self).auth_time()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: &str) -> StandardClaims {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn each_kind_answers_from_its_own_claim() {
        let c = claims(
            r#"{"scp":"orders.read","roles":["app-admin"],
                "realm_access":{"roles":["realm-admin"]},
                "resource_access":{"orders-api":{"roles":["client-admin"]}}}"#,
        );
        assert!(c.has_scope("orders.read"));
        assert!(Grants::has_role(&c, "app-admin"));
        assert!(c.has_realm_role("realm-admin"));
        assert!(c.has_client_role("orders-api", "client-admin"));
        for name in ["orders.read", "app-admin", "realm-admin", "client-admin"] {
            let hits = [
                Grants::has_scope(&c, name),
                Grants::has_role(&c, name),
                c.has_realm_role(name),
                c.has_client_role("orders-api", name),
            ];
            assert_eq!(hits.iter().filter(|h| **h).count(), 1, "{name}");
        }
        assert!(!c.has_client_role("billing-api", "client-admin"));
        assert!(!c.has_client_role("", ""));
        let wrapped = Claims::new(c);
        assert!(wrapped.has_client_role("orders-api", "client-admin"));
    }

    #[test]
    fn unimplemented_kinds_are_never_granted() {
        struct Nothing;
        impl Grants for Nothing {}
        assert!(!Nothing.has_scope("a"));
        assert!(!Nothing.has_role("a"));
        assert!(!Nothing.has_realm_role("a"));
        assert!(!Nothing.has_client_role("c", "a"));
    }
}
