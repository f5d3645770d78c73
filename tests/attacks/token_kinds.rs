//! Tokens of the wrong kind: Keycloak ID, refresh and logout tokens signed
//! with the realm's keys and sent as access tokens, and `aud` values that
//! name no one, which must never let the `azp` alternative stand in.

use oidc_bearer::issuers::IntoIssuers;
use oidc_bearer::{Error, Issuer, Keycloak};

use crate::*;

/// The SPA whose tokens these are; with an ID token, also its `aud`.
const SPA: &str = "shop-spa";

/// The realm of [`ISS`] at its server, `https://login.example.test`.
fn realm() -> Keycloak {
    Keycloak::realm("https://login.example.test", "attacks")
}

/// The preset as configured, its keys the static JWKS of [`RSA`] (the
/// preset's own `certs` URL is not served here).
async fn keycloak(preset: Keycloak) -> Validator {
    let mut issuers = preset.into_issuers();
    assert_eq!(issuers.len(), 1);
    let issuer: Issuer = issuers.remove(0).jwks_json(jwks(&[&RSA]).to_string());
    Validator::builder()
        .trust(issuer)
        .clock(ManualClock::new(NOW))
        .build()
        .await
        .expect("validator builds")
}

/// The audience options an API may have, each with the client id that a
/// token needs in `aud` and `azp` to get past it: the SPA through `azp`,
/// the API's own client id (a backend that signs users in with its own
/// client gets ID tokens for exactly that audience), and both.
async fn configurations() -> Vec<(&'static str, Validator, &'static str)> {
    vec![
        (
            "allow_azp_as_audience(spa)",
            keycloak(realm().allow_azp_as_audience(SPA)).await,
            SPA,
        ),
        ("audience(api)", keycloak(realm().audience(AUD)).await, AUD),
        (
            "audience(api) + allow_azp_as_audience(api)",
            keycloak(realm().audience(AUD).allow_azp_as_audience(AUD)).await,
            AUD,
        ),
    ]
}

/// Keycloak's claims for a token of the client `client` (`aud` and `azp`),
/// with the claim `typ` set to the raw JSON `typ` (`None`: no `typ`).
fn keycloak_token(client: &str, typ: Option<&str>) -> String {
    let mut claims = claims();
    claims["aud"] = json!(client);
    claims["azp"] = json!(client);
    claims["auth_time"] = json!(NOW - 30);
    claims["sid"] = json!("3f1e");
    let mut payload = claims.to_string();
    if let Some(typ) = typ {
        payload = format!(r#"{},"typ":{typ}}}"#, payload.trim_end_matches('}'));
    }
    raw_token(
        r#"{"alg":"RS256","typ":"JWT","kid":"rsa-1"}"#,
        &payload,
        &RSA,
        "RS256",
    )
}

#[tokio::test]
async fn keycloak_tokens_that_are_not_access_tokens_are_refused_whatever_the_audience_option() {
    let id_token = "not an access token: a Keycloak ID token (typ claim ID)";
    let not_bearer = "not an access token: the Keycloak typ claim is not Bearer or DPoP";
    let not_string = "not an access token: the Keycloak typ claim is not one string";
    let missing = "not an access token: no Keycloak typ claim (Bearer or DPoP)";
    let kinds: &[(&str, &str)] = &[
        (r#""ID""#, id_token),
        (
            r#""Refresh""#,
            "not an access token: a Keycloak refresh token (typ claim Refresh)",
        ),
        (
            r#""Offline""#,
            "not an access token: a Keycloak offline token (typ claim Offline)",
        ),
        (
            r#""Logout""#,
            "not an access token: a Keycloak logout token (typ claim Logout)",
        ),
        // Keycloak writes `Bearer`; other spellings are compared exactly.
        (r#""bearer""#, not_bearer),
        (r#""BEARER""#, not_bearer),
        (r#"" Bearer""#, not_bearer),
        (r#""Bearer\u0000""#, not_bearer),
        (r#""Serialized-ID""#, not_bearer),
        (r#""""#, not_bearer),
        (r#"7"#, not_string),
        (r#"true"#, not_string),
        (r#"["Bearer"]"#, not_string),
        (r#"{"Bearer":true}"#, not_string),
        // Twice: which kind it is cannot be told.
        (r#""Bearer","typ":"ID""#, not_string),
        (r#""ID","typ":"Bearer""#, not_string),
        (r#"null"#, missing),
    ];
    for (name, v, client) in configurations().await {
        for (typ, description) in kinds {
            let token = keycloak_token(client, Some(typ));
            eprintln!("{name}: typ {typ}");
            refuses(&v, &token, description).await;
        }
        // Every access token Keycloak issues has a `typ`.
        refuses(&v, &keycloak_token(client, None), missing).await;
    }
    // Before the audience: an ID token for another client is refused as
    // what it is, not as "invalid audience".
    let strict = keycloak(realm().audience(AUD)).await;
    refuses(&strict, &keycloak_token(SPA, Some(r#""ID""#)), id_token).await;
}

#[tokio::test]
async fn keycloak_access_tokens_still_pass() {
    for (name, v, client) in configurations().await {
        eprintln!("{name}");
        accepts(&v, &keycloak_token(client, Some(r#""Bearer""#))).await;
        // A DPoP-bound access token: the kind passes, the binding is
        // `cnf`'s business (tests/dpop.rs), and this one has none.
        accepts(&v, &keycloak_token(client, Some(r#""DPoP""#))).await;
        // An escaped spelling is the same string.
        accepts(&v, &keycloak_token(client, Some(r#""Bear\u0065r""#))).await;
    }
    // Keycloak's default: `aud` "account", the SPA only in `azp`.
    let azp = keycloak(realm().allow_azp_as_audience(SPA)).await;
    let mut account = claims();
    account["aud"] = json!("account");
    account["azp"] = json!(SPA);
    account["typ"] = json!("Bearer");
    accepts(&azp, &TokenBuilder::new().claims(account).sign(&RSA)).await;
    // The `typ` claim is Keycloak's convention: an issuer configured by
    // hand does not read it.
    accepts(
        &validator().await,
        &TokenBuilder::new()
            .claims(claims())
            .claim("typ", "ID")
            .sign(&RSA),
    )
    .await;
}

/// A token of [`claims`] with `aud` the raw JSON `aud` (`None`: no `aud`)
/// and `azp` the SPA, of Keycloak's access-token kind.
fn with_aud(aud: Option<&str>) -> String {
    let mut claims = claims();
    claims["azp"] = json!(SPA);
    claims["typ"] = json!("Bearer");
    claims["aud"] = json!("@@");
    let mut payload = claims.to_string();
    payload = match aud {
        Some(aud) => payload.replace(r#""@@""#, aud),
        None => payload
            .replace(r#","aud":"@@""#, "")
            .replace(r#""aud":"@@","#, ""),
    };
    assert!(!payload.contains("@@"), "{payload}");
    raw_token(r#"{"alg":"RS256","kid":"rsa-1"}"#, &payload, &RSA, "RS256")
}

#[tokio::test]
async fn an_aud_that_names_no_one_is_no_aud_on_every_audience_path() {
    let missing = "missing required claim: aud";
    let validators = [
        ("issuer, audience(api)", validator().await),
        (
            "issuer, audience(api) + allow_azp_as_audience(spa)",
            builder().allow_azp_as_audience(SPA).build().await.unwrap(),
        ),
        (
            "Keycloak, allow_azp_as_audience(spa)",
            keycloak(realm().allow_azp_as_audience(SPA)).await,
        ),
        (
            "Keycloak, audience(api) + allow_azp_as_audience(spa)",
            keycloak(realm().audience(AUD).allow_azp_as_audience(SPA)).await,
        ),
    ];
    for (name, v) in &validators {
        for aud in [
            None,
            Some("null"),
            Some("[]"),
            Some(r#""""#),
            Some(r#"[""]"#),
            Some(r#"["",""]"#),
        ] {
            eprintln!("{name}: aud {aud:?}");
            refuses(v, &with_aud(aud), missing).await;
        }
        // An empty member beside a real one: the real one decides.
        accepts(v, &with_aud(Some(&format!(r#"["","{AUD}"]"#)))).await;
    }
    // Through `azp`, an `aud` that names someone, even not the API.
    let (_, azp) = &validators[2];
    accepts(azp, &with_aud(Some(r#"["","account"]"#))).await;
    refuses(
        &validators[0].1,
        &with_aud(Some(r#"["","account"]"#)),
        "invalid audience",
    )
    .await;
}

#[tokio::test]
async fn an_empty_audience_or_azp_client_is_a_build_error() {
    for (preset, says) in [
        (realm().audience(""), "an empty audience"),
        (
            realm().audience(AUD).allow_azp_as_audience(""),
            "allow_azp_as_audience(\"\")",
        ),
    ] {
        let issuer = preset.into_issuers().remove(0);
        let error = Validator::builder()
            .trust(issuer.jwks_json(jwks(&[&RSA]).to_string()))
            .build()
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::Config(m) if m.contains(says)),
            "{error}"
        );
    }
}
