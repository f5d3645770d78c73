//! [`Grants`]: what a claims type grants, asked one name at a time, and
//! [`GrantKinds`]: which kinds of grant an issuer's tokens carry, so a
//! token's grants are read in the vocabulary of the issuer that signed it
//! (`IssuedGrants`).
//!
//! Questions only: whether the answers are enough for a route is the
//! requirement's (`authz`), never decided here.

use std::fmt;
use std::ops::BitOr;

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

    /// True when the token was verified for the trusted issuer `issuer`:
    /// its configured name (the exact `iss`, or a multi-tenant template)
    /// or its [label](crate::Issuer::label). Claims on their own were
    /// verified for no one the requirement can see, so the default, and
    /// every claims type, answers `false`: only the requirement layers and
    /// [`authorize_in`](crate::authz::AuthorizeLayer::authorize_in), which
    /// know the issuer, answer `true`. See [`Require::issued_by`](crate::Require::issued_by).
    fn issued_by(&self, issuer: &str) -> bool {
        let _ = issuer;
        false
    }

    /// The kinds of grant this claims type reads at all, so a refusal can
    /// say when a route asks for a kind the type drops (a Keycloak client
    /// role asked of [`EntraClaims`](crate::providers::EntraClaims));
    /// every kind unless implemented.
    fn reads(&self) -> GrantKinds {
        GrantKinds::ALL
    }

    /// The kinds of grant the token's issuer issues (see [`GrantKinds`]),
    /// when known: only where the issuer is, as for
    /// [`issued_by`](Self::issued_by); `None` by default.
    fn issuer_kinds(&self) -> Option<GrantKinds> {
        None
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

    fn issued_by(&self, issuer: &str) -> bool {
        (**self).issued_by(issuer)
    }

    fn reads(&self) -> GrantKinds {
        (**self).reads()
    }

    fn issuer_kinds(&self) -> Option<GrantKinds> {
        (**self).issuer_kinds()
    }

    fn acr(&self) -> Option<&str> {
        (**self).acr()
    }

    fn auth_time(&self) -> Option<i64> {
        (**self).auth_time()
    }
}

/// Which kinds of grant a trusted issuer's tokens carry: its vocabulary.
/// A token's grants are read only in its own issuer's vocabulary, so a
/// claim that means one thing at one provider is never taken for another
/// provider's grant: a Keycloak token whose role mapper emits `roles`
/// does not carry Entra ID app roles, an Entra ID token carries no
/// Keycloak client roles, whatever claims they hold.
///
/// Each provider preset sets its own (and the crate's default hints give
/// issuers of known shapes theirs); any other issuer gets
/// [`RFC_9068`](Self::RFC_9068). Set one with
/// [`Issuer::grants`](crate::Issuer::grants). Combine with `|`.
///
/// | issuer | kinds |
/// |---|---|
/// | [`EntraId`](crate::EntraId) (`scp`, `roles`) | [`ENTRA_ID`](Self::ENTRA_ID): scopes, app roles |
/// | [`Keycloak`](crate::Keycloak) (`scope`, `realm_access`, `resource_access`) | [`KEYCLOAK`](Self::KEYCLOAK): scopes, realm roles, client roles |
/// | [`Okta`](crate::Okta) (`scp`) | [`OKTA`](Self::OKTA): scopes |
/// | any other | [`RFC_9068`](Self::RFC_9068): scopes, app roles (`roles`, RFC 9068 §2.2.3.1) |
///
/// ```
/// use oidc_bearer::{Issuer, Keycloak};
/// use oidc_bearer::authz::GrantKinds;
///
/// // A Keycloak realm whose role mapper emits app roles as `roles` on
/// // purpose: configured so, they count as app roles.
/// let realm = Issuer::new("https://auth.example.com/realms/shop")
///     .grants(GrantKinds::KEYCLOAK | GrantKinds::APP_ROLES);
/// # let _ = realm;
/// assert!(GrantKinds::ENTRA_ID.contains(GrantKinds::APP_ROLES));
/// assert!(!GrantKinds::KEYCLOAK.contains(GrantKinds::APP_ROLES));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct GrantKinds(u8);

impl GrantKinds {
    /// No grant at all: every requirement but an `acr`/`auth_time` one
    /// fails.
    pub const NONE: GrantKinds = GrantKinds(0);
    /// Scopes (`scope` or `scp`, RFC 6749 §3.3, RFC 9068 §2.2.3).
    pub const SCOPES: GrantKinds = GrantKinds(1);
    /// App roles (the `roles` claim: Entra ID app roles, RFC 9068
    /// §2.2.3.1).
    pub const APP_ROLES: GrantKinds = GrantKinds(2);
    /// Keycloak realm roles (`realm_access.roles`).
    pub const REALM_ROLES: GrantKinds = GrantKinds(4);
    /// Keycloak client roles (`resource_access.{client}.roles`).
    pub const CLIENT_ROLES: GrantKinds = GrantKinds(8);
    /// Every kind.
    pub const ALL: GrantKinds = GrantKinds(15);
    /// The names of the kinds, as refusals say them.
    const NAMES: [(GrantKinds, &'static str, &'static str); 4] = [
        (GrantKinds::SCOPES, "SCOPES", "scopes"),
        (GrantKinds::APP_ROLES, "APP_ROLES", "app roles"),
        (GrantKinds::REALM_ROLES, "REALM_ROLES", "realm roles"),
        (GrantKinds::CLIENT_ROLES, "CLIENT_ROLES", "client roles"),
    ];
    /// An issuer that follows RFC 9068 (JWT access tokens): scopes and
    /// `roles`; the default for an issuer no preset or shape names.
    pub const RFC_9068: GrantKinds = GrantKinds(1 | 2);
    /// Microsoft Entra ID: scopes (`scp`) and app roles (`roles`).
    pub const ENTRA_ID: GrantKinds = GrantKinds(1 | 2);
    /// Keycloak: scopes, realm roles and client roles; not `roles`.
    pub const KEYCLOAK: GrantKinds = GrantKinds(1 | 4 | 8);
    /// Okta custom authorization servers: scopes (`scp`); Okta sends no
    /// roles.
    pub const OKTA: GrantKinds = GrantKinds(1);

    /// True when every kind of `other` is one of these.
    pub const fn contains(self, other: GrantKinds) -> bool {
        self.0 & other.0 == other.0
    }

    /// These kinds and those of `other`.
    pub const fn union(self, other: GrantKinds) -> GrantKinds {
        GrantKinds(self.0 | other.0)
    }

    /// These kinds without those of `other`.
    pub const fn without(self, other: GrantKinds) -> GrantKinds {
        GrantKinds(self.0 & !other.0)
    }

    /// True when there is no kind here.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The kinds in words (`"app roles and client roles"`), for refusals.
    pub(crate) fn words(self) -> String {
        let names: Vec<&str> = GrantKinds::NAMES
            .iter()
            .filter(|(kind, ..)| self.contains(*kind))
            .map(|(_, _, words)| *words)
            .collect();
        names.join(" and ")
    }
}

impl BitOr for GrantKinds {
    type Output = GrantKinds;

    fn bitor(self, other: GrantKinds) -> GrantKinds {
        self.union(other)
    }
}

impl fmt::Debug for GrantKinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut set = f.debug_set();
        for (kind, name, _) in GrantKinds::NAMES {
            if self.contains(kind) {
                set.entry(&format_args!("{name}"));
            }
        }
        set.finish()
    }
}

/// The trusted issuer a token was verified for, as requirements see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GrantIssuer<'a> {
    /// The configured name: the exact `iss` or the template.
    pub name: &'a str,
    pub label: Option<&'a str>,
    pub kinds: GrantKinds,
}

/// Claims read in the vocabulary of the issuer that signed them: a kind
/// of grant the issuer does not issue is never granted, whatever the
/// claims hold, and the issuer is known to [`Grants::issued_by`].
pub(crate) struct IssuedGrants<'a, G: ?Sized> {
    pub grants: &'a G,
    pub issuer: GrantIssuer<'a>,
}

impl<G: Grants + ?Sized> Grants for IssuedGrants<'_, G> {
    #[inline]
    fn has_scope(&self, scope: &str) -> bool {
        self.issuer.kinds.contains(GrantKinds::SCOPES) && self.grants.has_scope(scope)
    }

    #[inline]
    fn has_role(&self, role: &str) -> bool {
        self.issuer.kinds.contains(GrantKinds::APP_ROLES) && self.grants.has_role(role)
    }

    #[inline]
    fn has_realm_role(&self, role: &str) -> bool {
        self.issuer.kinds.contains(GrantKinds::REALM_ROLES) && self.grants.has_realm_role(role)
    }

    #[inline]
    fn has_client_role(&self, client: &str, role: &str) -> bool {
        self.issuer.kinds.contains(GrantKinds::CLIENT_ROLES)
            && self.grants.has_client_role(client, role)
    }

    fn issued_by(&self, issuer: &str) -> bool {
        self.issuer.name == issuer || self.issuer.label == Some(issuer)
    }

    fn reads(&self) -> GrantKinds {
        self.grants.reads()
    }

    fn issuer_kinds(&self) -> Option<GrantKinds> {
        Some(self.issuer.kinds)
    }

    fn acr(&self) -> Option<&str> {
        self.grants.acr()
    }

    fn auth_time(&self) -> Option<i64> {
        self.grants.auth_time()
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
        assert!(!Nothing.issued_by("https://issuer.example"));
    }

    #[test]
    fn an_issuer_grants_only_the_kinds_it_issues() {
        let c = claims(
            r#"{"scope":"orders.read","roles":["Orders.Admin"],
                "realm_access":{"roles":["admin"]},
                "resource_access":{"orders-api":{"roles":["admin"]}}}"#,
        );
        let issued = |kinds| IssuedGrants {
            grants: &c,
            issuer: GrantIssuer {
                name: "https://kc.example/realms/shop",
                label: Some("keycloak"),
                kinds,
            },
        };
        let keycloak = issued(GrantKinds::KEYCLOAK);
        assert!(keycloak.has_scope("orders.read"));
        assert!(
            !keycloak.has_role("Orders.Admin"),
            "roles is not a Keycloak grant"
        );
        assert!(keycloak.has_realm_role("admin"));
        assert!(keycloak.has_client_role("orders-api", "admin"));
        let entra = issued(GrantKinds::ENTRA_ID);
        assert!(entra.has_role("Orders.Admin"));
        assert!(!entra.has_realm_role("admin"));
        assert!(!entra.has_client_role("orders-api", "admin"));
        let configured = issued(GrantKinds::KEYCLOAK | GrantKinds::APP_ROLES);
        assert!(configured.has_role("Orders.Admin"));
        assert!(!issued(GrantKinds::NONE).has_scope("orders.read"));
        assert!(keycloak.issued_by("keycloak"));
        assert!(keycloak.issued_by("https://kc.example/realms/shop"));
        assert!(!keycloak.issued_by("https://kc.example/realms/other"));
        assert!(!keycloak.issued_by(""));
        assert_eq!(
            format!("{:?}", GrantKinds::KEYCLOAK),
            "{SCOPES, REALM_ROLES, CLIENT_ROLES}"
        );
        assert_eq!(
            GrantKinds::ALL.without(GrantKinds::APP_ROLES),
            GrantKinds::KEYCLOAK
        );
    }
}
