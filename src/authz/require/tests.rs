//! [`Require`]'s own rules on claims directly: any-of and all-of, the
//! challenge's `scope` attribute, and the 403 it refuses with.

use super::*;
use crate::StandardClaims;

fn claims(json: &str) -> StandardClaims {
    serde_json::from_str(json).unwrap()
}

fn scope_attr(require: &Require) -> Option<String> {
    match require.insufficient(&StandardClaims::default()) {
        Error::InsufficientScope { scope, .. } => scope,
        other => panic!("{other:?}"),
    }
}

#[test]
fn any_of_and_all_of() {
    let c = claims(r#"{"scope":"a b","roles":["r1"]}"#);
    assert!(Require::any_scope(["x", "b"]).is_met_by(&c));
    assert!(!Require::any_scope(["x", "y"]).is_met_by(&c));
    assert!(Require::all_scopes(["a", "b"]).is_met_by(&c));
    assert!(!Require::all_scopes(["a", "b", "x"]).is_met_by(&c));
    assert!(Require::scope("x").or(Require::role("r1")).is_met_by(&c));
    assert!(!Require::scope("a").and(Require::role("r2")).is_met_by(&c));
    assert!(Require::any_role(["r2", "r1"]).is_met_by(&c));
    assert!(!Require::all_roles(["r2", "r1"]).is_met_by(&c));
    // A scope is not a role and a role is not a scope.
    assert!(!Require::role("a").is_met_by(&c) && !Require::scope("r1").is_met_by(&c));
}

#[test]
fn chains_flatten_and_read_left_to_right() {
    let chain = Require::scope("a")
        .or(Require::scope("b"))
        .or(Require::role("c"));
    assert_eq!(
        chain,
        Require::any([Require::any_scope(["a", "b"]), Require::role("c")])
    );
    assert_eq!(chain.to_string(), "scope a or scope b or role c");
    let mixed = Require::scope("a")
        .or(Require::realm_role("r"))
        .and(Require::client_role("api", "w"));
    assert_eq!(
        mixed.to_string(),
        "(scope a or realm role r) and role w of client api"
    );
    assert_eq!(Require::any([Require::scope("a")]), Require::scope("a"));
}

#[test]
fn scope_attribute_names_what_to_ask_for() {
    let attr = |r: &Require| scope_attr(r);
    assert_eq!(attr(&Require::scope("a")).as_deref(), Some("a"));
    assert_eq!(
        attr(&Require::all_scopes(["a", "b", "a"])).as_deref(),
        Some("a b")
    );
    // Any-of: the first alternative that names scopes, not all of them.
    assert_eq!(
        attr(&Require::any_scope(["read", "admin"])).as_deref(),
        Some("read")
    );
    assert_eq!(
        attr(&Require::role("r").or(Require::scope("s"))).as_deref(),
        Some("s")
    );
    assert_eq!(
        attr(&Require::scope("a").and(Require::any_scope(["b", "c"]))).as_deref(),
        Some("a b")
    );
    assert_eq!(
        attr(&Require::scope("a").and(Require::role("r"))).as_deref(),
        Some("a")
    );
    // Roles only: nothing a client could ask for.
    assert_eq!(attr(&Require::all_roles(["r", "s"])), None);
    assert_eq!(
        attr(&Require::client_role("api", "r").or(Require::realm_role("r"))),
        None
    );
}

#[test]
fn check_refuses_with_403_insufficient_scope() {
    let c = claims(r#"{"scope":"a"}"#);
    assert!(Require::scope("a").check(&c).is_ok());
    let error = Require::realm_role("admin").check(&c).unwrap_err();
    assert_eq!(error.status(), 403);
    assert_eq!(
        error.description(),
        "insufficient scope: realm role admin required"
    );
    assert_eq!(
        error.www_authenticate(None).unwrap(),
        r#"Bearer error="insufficient_scope", error_description="insufficient scope: realm role admin required""#
    );
}

#[test]
fn role_names_outside_rfc_6750_are_filtered_from_the_header_only() {
    let require = Require::role("Bestellungen \"Prüfer\"");
    let c = claims(r#"{"roles":["Bestellungen \"Prüfer\""]}"#);
    assert!(require.is_met_by(&c));
    let error = require.check(&claims("{}")).unwrap_err();
    assert_eq!(
        error.www_authenticate(None).unwrap(),
        r#"Bearer error="insufficient_scope", error_description="insufficient scope: role Bestellungen Prfer required""#
    );
}

/// `and` is as strict as each side, `or` as lenient as each: no chain
/// or nesting drops or replaces a side.
#[test]
fn and_is_as_strict_as_each_side_and_or_as_lenient() {
    let sides = [
        Require::scope("a"),
        Require::any_scope(["a", "b"]),
        Require::all_scopes(["a", "b"]),
        Require::role("r").or(Require::scope("b")),
        Require::realm_role("r"),
        Require::client_role("api", "r"),
        Require::scope("a").and(Require::realm_role("r")),
    ];
    let grants = [
        "{}",
        r#"{"scope":"a"}"#,
        r#"{"scope":"b"}"#,
        r#"{"scope":"a b"}"#,
        r#"{"roles":["r"]}"#,
        r#"{"scope":"a","realm_access":{"roles":["r"]}}"#,
        r#"{"scope":"a b","resource_access":{"api":{"roles":["r"]}}}"#,
    ]
    .map(claims);
    for x in &sides {
        for y in &sides {
            let both = x.clone().and(y.clone());
            let either = x.clone().or(y.clone());
            for c in &grants {
                let (mx, my) = (x.is_met_by(c), y.is_met_by(c));
                assert_eq!(both.is_met_by(c), mx && my, "{both}");
                assert_eq!(either.is_met_by(c), mx || my, "{either}");
            }
        }
    }
    // The challenge of `and` asks for the scopes of both sides.
    let both = Require::any_scope(["a", "x"]).and(Require::scope("b"));
    assert_eq!(scope_attr(&both).as_deref(), Some("a b"));
}

#[test]
fn impossible_requirements_panic_at_construction() {
    for make in [
        (|| Require::scope("")) as fn() -> Require,
        || Require::scope("a b"),
        || Require::scope("a\"b"),
        || Require::scope("é"),
        || Require::role(""),
        || Require::client_role("", "r"),
        || Require::any_scope(Vec::<String>::new()),
        || Require::all(Vec::new()),
    ] {
        assert!(std::panic::catch_unwind(make).is_err());
    }
}
