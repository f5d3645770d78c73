//! [`Require`]: which scopes and roles a route needs, any-of and all-of.
//!
//! It asks the claims through [`Grants`] and answers with an [`Error`]: it
//! verifies no token and formats no header (the challenge builder does).

use std::fmt;

use crate::claims::{GrantKinds, Grants};
use crate::error::Error;

/// What a route requires of a verified token: scopes, app roles, Keycloak
/// realm roles or client roles, combined with any-of and all-of.
///
/// Built once at startup; checking it against claims ([`is_met_by`],
/// [`check`]) allocates nothing. Apply it with [`layer`](Self::layer)
/// (inside [`OidcBearerLayer`](crate::OidcBearerLayer)), or inside a
/// handler with [`AuthorizeLayer::authorize`](crate::authz::AuthorizeLayer::authorize).
///
/// ```
/// use oidc_bearer::{Require, StandardClaims};
///
/// // Entra ID: a delegated scope, or the app role of a daemon app.
/// let read = Require::scope("Orders.Read").or(Require::role("Orders.Read.All"));
/// // Keycloak: both scopes, and the client role of this API.
/// let write = Require::all_scopes(["orders.read", "orders.write"])
///     .and(Require::client_role("orders-api", "editor"));
///
/// let claims: StandardClaims = serde_json::from_str(
///     r#"{"scope":"orders.read orders.write",
///         "resource_access":{"orders-api":{"roles":["editor"]}}}"#,
/// ).unwrap();
/// assert!(write.is_met_by(&claims));
/// assert!(!read.is_met_by(&claims));
/// assert_eq!(read.to_string(), "scope Orders.Read or role Orders.Read.All");
/// ```
///
/// Method chains combine left to right: `a.or(b).and(c)` is
/// `(a or b) and c`.
///
/// # The 403
///
/// A token that does not meet the requirement gets `403` with
/// `error="insufficient_scope"` (RFC 6750 §3.1, the only code for a token
/// that is valid but not enough, roles included), an `error_description`
/// naming the requirement, and a `scope` attribute with the scopes to ask
/// for (see [`Error::InsufficientScope`]):
///
/// - all-of: every scope named;
/// - any-of: the scopes of the first alternative that names any, so put
///   the least privileged alternative first;
/// - roles: none (a client cannot ask for a role), so a requirement of
///   roles only has no `scope` attribute.
///
/// The challenge's scheme is the one the request used: `Bearer`, or for a
/// request the [`OidcBearerLayer`](crate::OidcBearerLayer) admitted with
/// the `DPoP` scheme (RFC 9449 §7.1) `WWW-Authenticate: DPoP algs="…",
/// error="insufficient_scope", …` with the same attributes, and a fresh
/// `DPoP-Nonce` when the layer's [nonces](crate::Dpop::nonces) are on.
/// That holds for the [layer](Self::layer) and for the guard
/// [`AuthorizeLayer::authorize_in`](crate::authz::AuthorizeLayer::authorize_in),
/// which see the request; [`AuthorizeLayer::authorize`](crate::authz::AuthorizeLayer::authorize)
/// does not, and always answers `Bearer`.
///
/// # Panics
///
/// The constructors panic on a requirement that is a programming error: a
/// scope that is not an RFC 6749 §3.3 `scope-token` (empty, or with a
/// space, `"`, `\` or a character outside printable ASCII: no token could
/// ever grant it), an empty role or client name, or an empty list (any-of
/// nothing is never met, all-of nothing always would be).
///
/// [`is_met_by`]: Self::is_met_by
/// [`check`]: Self::check
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Require {
    node: Node,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Scope(Box<str>),
    Role(Box<str>),
    RealmRole(Box<str>),
    ClientRole { client: Box<str>, role: Box<str> },
    Any(Vec<Node>),
    All(Vec<Node>),
    IssuedBy { issuer: Box<str>, node: Box<Node> },
}

impl Require {
    /// The scope `scope` (from `scope` or `scp`).
    pub fn scope(scope: impl Into<Box<str>>) -> Require {
        Require::leaf(Node::Scope(scope_token(scope.into())))
    }

    /// At least one of `scopes`.
    pub fn any_scope<I: IntoIterator<Item: Into<Box<str>>>>(scopes: I) -> Require {
        Require::any(scopes.into_iter().map(Require::scope))
    }

    /// Every one of `scopes`.
    pub fn all_scopes<I: IntoIterator<Item: Into<Box<str>>>>(scopes: I) -> Require {
        Require::all(scopes.into_iter().map(Require::scope))
    }

    /// The app role `role` (the `roles` claim, as Entra ID sends it).
    pub fn role(role: impl Into<Box<str>>) -> Require {
        Require::leaf(Node::Role(name("role", role.into())))
    }

    /// At least one of the app roles `roles`.
    pub fn any_role<I: IntoIterator<Item: Into<Box<str>>>>(roles: I) -> Require {
        Require::any(roles.into_iter().map(Require::role))
    }

    /// Every one of the app roles `roles`.
    pub fn all_roles<I: IntoIterator<Item: Into<Box<str>>>>(roles: I) -> Require {
        Require::all(roles.into_iter().map(Require::role))
    }

    /// The Keycloak realm role `role` (`realm_access.roles`); a client
    /// role of the same name does not count.
    pub fn realm_role(role: impl Into<Box<str>>) -> Require {
        Require::leaf(Node::RealmRole(name("realm role", role.into())))
    }

    /// At least one of the Keycloak realm roles `roles`.
    pub fn any_realm_role<I: IntoIterator<Item: Into<Box<str>>>>(roles: I) -> Require {
        Require::any(roles.into_iter().map(Require::realm_role))
    }

    /// Every one of the Keycloak realm roles `roles`.
    pub fn all_realm_roles<I: IntoIterator<Item: Into<Box<str>>>>(roles: I) -> Require {
        Require::all(roles.into_iter().map(Require::realm_role))
    }

    /// The Keycloak client role `role` of the client `client`
    /// (`resource_access.{client}.roles`); a realm role, or a role of
    /// another client, of the same name does not count.
    pub fn client_role(client: impl Into<Box<str>>, role: impl Into<Box<str>>) -> Require {
        Require::leaf(Node::ClientRole {
            client: name("client", client.into()),
            role: name("client role", role.into()),
        })
    }

    /// At least one of the client roles `roles` of `client`.
    pub fn any_client_role<I: IntoIterator<Item: Into<Box<str>>>>(
        client: impl Into<Box<str>>,
        roles: I,
    ) -> Require {
        let client = client.into();
        Require::any(
            roles
                .into_iter()
                .map(|r| Require::client_role(client.clone(), r)),
        )
    }

    /// Every one of the client roles `roles` of `client`.
    pub fn all_client_roles<I: IntoIterator<Item: Into<Box<str>>>>(
        client: impl Into<Box<str>>,
        roles: I,
    ) -> Require {
        let client = client.into();
        Require::all(
            roles
                .into_iter()
                .map(|r| Require::client_role(client.clone(), r)),
        )
    }

    /// At least one of `requirements`.
    pub fn any(requirements: impl IntoIterator<Item = Require>) -> Require {
        Require::group(requirements, true)
    }

    /// Every one of `requirements`.
    pub fn all(requirements: impl IntoIterator<Item = Require>) -> Require {
        Require::group(requirements, false)
    }

    /// This requirement, or `other`: met when either is. Nothing is
    /// merged: a chain of `or`s becomes one flat any-of list of every
    /// alternative given.
    pub fn or(self, other: Require) -> Require {
        Require::any([self, other])
    }

    /// This requirement, and `other` too: met only when both are, so never
    /// weaker than either side. Nothing is merged or replaced: `and` keeps
    /// every requirement of both sides (a chain of `and`s becomes one flat
    /// all-of list; an any-of side stays a group of its own, `(a or b) and
    /// c`), and the 403's `scope` attribute names the scopes of both
    /// (RFC 6750 §3).
    pub fn and(self, other: Require) -> Require {
        Require::all([self, other])
    }

    /// This requirement, met only by tokens of the trusted issuer
    /// `issuer`: its configured name (the exact `iss`, or a multi-tenant
    /// template as configured) or its [label](crate::Issuer::label) — the
    /// presets label their issuers `"entra"`, `"keycloak"` and `"okta"`.
    /// A grant from any other issuer never meets it, even one of the same
    /// name and kind: with several trusted issuers, an app role or client
    /// role means what the issuer that signed it says, and one issuer's
    /// admin is not another's.
    ///
    /// Whichever issuer a requirement names, a token's grants are read in
    /// that issuer's vocabulary ([`GrantKinds`](crate::authz::GrantKinds)):
    /// a Keycloak token carries no app roles and an Entra ID token no
    /// client roles, whatever their claims say.
    ///
    /// Only the requirement layers and
    /// [`authorize_in`](crate::authz::AuthorizeLayer::authorize_in) know
    /// the issuer; [`is_met_by`](Self::is_met_by) on bare claims, and
    /// [`authorize`](crate::authz::AuthorizeLayer::authorize), never meet
    /// it.
    ///
    /// ```
    /// use oidc_bearer::Require;
    ///
    /// // Entra ID's app role, or the Keycloak client role: each only from
    /// // the provider it belongs to.
    /// let admin = Require::role("Orders.Admin")
    ///     .issued_by("entra")
    ///     .or(Require::client_role("orders-api", "admin").issued_by("keycloak"));
    /// assert_eq!(
    ///     admin.to_string(),
    ///     "role Orders.Admin from entra or role admin of client orders-api from keycloak"
    /// );
    /// ```
    ///
    /// # Panics
    ///
    /// When `issuer` is empty.
    pub fn issued_by(self, issuer: impl Into<Box<str>>) -> Require {
        Require::leaf(Node::IssuedBy {
            issuer: name("issuer", issuer.into()),
            node: Box::new(self.node),
        })
    }

    /// True when `grants` meet the requirement.
    pub fn is_met_by<G: Grants + ?Sized>(&self, grants: &G) -> bool {
        self.node.is_met_by(grants)
    }

    /// `Ok` when `grants` meet the requirement, else the
    /// [`Error::InsufficientScope`] the layer would refuse with (turn it
    /// into a response with [`rejection_parts`](crate::rejection::rejection_parts)).
    ///
    /// ```
    /// use oidc_bearer::{Error, Require, StandardClaims};
    ///
    /// let claims: StandardClaims = serde_json::from_str(r#"{"scope":"orders.read"}"#).unwrap();
    /// let error = Require::scope("orders.write").check(&claims).unwrap_err();
    /// assert_eq!(error.status(), 403);
    /// assert!(matches!(error, Error::InsufficientScope { scope: Some(s), .. } if s == "orders.write"));
    /// ```
    pub fn check<G: Grants + ?Sized>(&self, grants: &G) -> Result<(), Error> {
        if self.is_met_by(grants) {
            Ok(())
        } else {
            Err(self.insufficient(grants))
        }
    }

    /// The refusal for this requirement, saying why a kind it names could
    /// not be met: the token's issuer does not issue it, or the claims
    /// type does not read it (a server-side mistake the client cannot
    /// fix, logged).
    #[cold]
    fn insufficient<G: Grants + ?Sized>(&self, grants: &G) -> Error {
        let mut scopes = Vec::new();
        self.node.challenge_scopes(&mut scopes);
        let mut required = self.to_string();
        let named = self.node.kinds();
        let issued = grants.issuer_kinds().unwrap_or(GrantKinds::ALL);
        let not_issued = named.without(issued);
        if !not_issued.is_empty() {
            required.push_str(&format!(
                " (the token's issuer issues no {})",
                not_issued.words()
            ));
        }
        let not_read = named.without(not_issued).without(grants.reads());
        if !not_read.is_empty() {
            tracing::warn!(
                kinds = %not_read.words(),
                claims = std::any::type_name::<G>(),
                "a requirement names grants its issuer issues but the claims type does not \
                 read: use a claims type that reads them, e.g. StandardClaims"
            );
            required.push_str(&format!(
                " (this API's claims type does not read {})",
                not_read.words()
            ));
        }
        Error::InsufficientScope {
            required,
            scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
        }
    }

    fn leaf(node: Node) -> Require {
        Require { node }
    }

    /// Any-of or all-of, flattening nested groups of the same kind so a
    /// long `.or()` chain is one flat list.
    fn group(requirements: impl IntoIterator<Item = Require>, any: bool) -> Require {
        let mut nodes = Vec::new();
        for requirement in requirements {
            match (requirement.node, any) {
                (Node::Any(inner), true) | (Node::All(inner), false) => nodes.extend(inner),
                (node, _) => nodes.push(node),
            }
        }
        assert!(
            !nodes.is_empty(),
            "oidc-bearer: a requirement needs at least one scope or role \
             (any-of nothing is never met, all-of nothing always would be)"
        );
        if nodes.len() == 1 {
            return Require::leaf(nodes.remove(0));
        }
        Require::leaf(if any {
            Node::Any(nodes)
        } else {
            Node::All(nodes)
        })
    }
}

impl Node {
    fn is_met_by<G: Grants + ?Sized>(&self, grants: &G) -> bool {
        match self {
            Node::Scope(scope) => grants.has_scope(scope),
            Node::Role(role) => grants.has_role(role),
            Node::RealmRole(role) => grants.has_realm_role(role),
            Node::ClientRole { client, role } => grants.has_client_role(client, role),
            Node::Any(nodes) => nodes.iter().any(|n| n.is_met_by(grants)),
            Node::All(nodes) => nodes.iter().all(|n| n.is_met_by(grants)),
            Node::IssuedBy { issuer, node } => grants.issued_by(issuer) && node.is_met_by(grants),
        }
    }

    /// The kinds of grant this requirement names.
    fn kinds(&self) -> GrantKinds {
        match self {
            Node::Scope(_) => GrantKinds::SCOPES,
            Node::Role(_) => GrantKinds::APP_ROLES,
            Node::RealmRole(_) => GrantKinds::REALM_ROLES,
            Node::ClientRole { .. } => GrantKinds::CLIENT_ROLES,
            Node::Any(nodes) | Node::All(nodes) => nodes
                .iter()
                .fold(GrantKinds::NONE, |kinds, node| kinds | node.kinds()),
            Node::IssuedBy { node, .. } => node.kinds(),
        }
    }

    /// The scopes a client should ask for (see "The 403" on [`Require`]).
    fn challenge_scopes<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Node::Scope(scope) => {
                if !out.contains(&&**scope) {
                    out.push(scope);
                }
            }
            Node::Role(_) | Node::RealmRole(_) | Node::ClientRole { .. } => {}
            Node::All(nodes) => nodes.iter().for_each(|n| n.challenge_scopes(out)),
            Node::IssuedBy { node, .. } => node.challenge_scopes(out),
            Node::Any(nodes) => {
                for node in nodes {
                    let mut alternative = Vec::new();
                    node.challenge_scopes(&mut alternative);
                    if !alternative.is_empty() {
                        for scope in alternative {
                            if !out.contains(&scope) {
                                out.push(scope);
                            }
                        }
                        return;
                    }
                }
            }
        }
    }
}

/// The requirement in words, as `error_description` shows it.
impl fmt::Display for Require {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.node.fmt(f)
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (nodes, joiner) = match self {
            Node::Scope(scope) => return write!(f, "scope {scope}"),
            Node::Role(role) => return write!(f, "role {role}"),
            Node::RealmRole(role) => return write!(f, "realm role {role}"),
            Node::ClientRole { client, role } => {
                return write!(f, "role {role} of client {client}");
            }
            Node::IssuedBy { issuer, node } => {
                return match **node {
                    Node::Any(_) | Node::All(_) => write!(f, "({node}) from {issuer}"),
                    _ => write!(f, "{node} from {issuer}"),
                };
            }
            Node::Any(nodes) => (nodes, " or "),
            Node::All(nodes) => (nodes, " and "),
        };
        for (i, node) in nodes.iter().enumerate() {
            if i > 0 {
                f.write_str(joiner)?;
            }
            match node {
                Node::Any(_) | Node::All(_) => write!(f, "({node})")?,
                _ => write!(f, "{node}")?,
            }
        }
        Ok(())
    }
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn scope_token(scope: Box<str>) -> Box<str> {
    assert!(
        !scope.is_empty()
            && scope
                .bytes()
                .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
        "oidc-bearer: {scope:?} is not a scope (RFC 6749 3.3: printable ASCII \
         without space, quote or backslash), so no token could grant it"
    );
    scope
}

fn name(what: &str, name: Box<str>) -> Box<str> {
    assert!(
        !name.is_empty(),
        "oidc-bearer: a required {what} needs a name"
    );
    name
}

impl super::Requirement for Require {
    /// Scopes and roles: the time is never read.
    fn evaluate<G: Grants + ?Sized>(&self, grants: &G, _: super::Time<'_>) -> Result<(), Error> {
        self.check(grants)
    }
}

#[cfg(test)]
mod tests;
