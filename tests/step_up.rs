//! RFC 9470 step-up authentication through the layer, over HTTP on
//! 127.0.0.1: `acr` among accepted values, `auth_time` within `max_age`
//! (plus the validator's leeway), refused with `401
//! insufficient_user_authentication` and `acr_values` / `max_age`.

use std::time::Duration;

use axum::{Router, extract::State, response::Response, routing::get};
use oidc_bearer::authz::AuthorizeLayer;
use oidc_bearer::rejection::ProblemJson;
use oidc_bearer::{Claims, StandardClaims, StepUp, Validator};
use oidc_bearer_testkit::{TestIssuer, now};

mod common;
use common::{Api, bearer, fetch, serve, validator_for};

const API: &str = "bank-api";
const MFA: &str = "urn:test:mfa";

async fn strong_transfers(
    State(strong): State<AuthorizeLayer<StepUp, StandardClaims>>,
    claims: Claims<StandardClaims>,
) -> Result<&'static str, Response> {
    strong.authorize(&claims)?;
    Ok("guarded")
}

/// `/acr` needs MFA, `/fresh` a sign-in at most 300 s old, `/both` both
/// (with a problem+json body), `/guard` checks in the handler.
async fn api(validator: &Validator) -> Api {
    let five_minutes = Duration::from_secs(300);
    let both = StepUp::acr_values([MFA, "urn:test:hwk"]).and(StepUp::max_age(five_minutes));
    let app = Router::new()
        .route(
            "/acr",
            get(|| async { "acr" }).route_layer(
                StepUp::acr_values([MFA])
                    .layer::<StandardClaims>()
                    .realm("bank"),
            ),
        )
        .route(
            "/fresh",
            get(|| async { "fresh" }).route_layer(
                StepUp::max_age(five_minutes)
                    .layer::<StandardClaims>()
                    .realm("bank"),
            ),
        )
        .route(
            "/both",
            get(|| async { "both" }).route_layer(
                both.clone()
                    .layer::<StandardClaims>()
                    .realm("bank")
                    .on_rejection(ProblemJson),
            ),
        )
        .route(
            "/guard",
            get(strong_transfers).with_state(both.layer::<StandardClaims>().realm("bank")),
        )
        .route_layer(validator.layer::<StandardClaims>().realm("bank"));
    serve(app).await
}

/// `auth_age`: seconds since the sign-in (negative: a sign-in in the future).
fn token(issuer: &TestIssuer, acr: Option<&str>, auth_age: Option<i64>) -> String {
    let mut builder = issuer.builder(API);
    if let Some(acr) = acr {
        builder = builder.claim("acr", acr);
    }
    if let Some(age) = auth_age {
        builder = builder.claim("auth_time", now() as i64 - age);
    }
    builder.sign(&issuer.key)
}

const ACR_DESCRIPTION: &str =
    "insufficient user authentication: authentication context class (acr) not accepted";
const NO_ACR_DESCRIPTION: &str =
    "insufficient user authentication: no authentication context class (acr)";

#[tokio::test]
async fn acr_must_be_one_of_the_values() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, API).build().await.unwrap();
    let api = api(&validator).await;
    let ok = fetch(&api, "/acr", &[&bearer(&token(&issuer, Some(MFA), None))]).await;
    assert_eq!((ok.status.as_u16(), ok.body.as_str()), (200, "acr"));
    for weak in [Some("urn:test:pwd"), Some("URN:TEST:MFA"), None] {
        let answer = fetch(&api, "/acr", &[&bearer(&token(&issuer, weak, Some(0)))]).await;
        assert_eq!(answer.status, 401, "{weak:?}");
        let description = match weak {
            Some(_) => ACR_DESCRIPTION,
            None => NO_ACR_DESCRIPTION,
        };
        assert_eq!(
            answer.challenge.unwrap(),
            format!(
                "Bearer realm=\"bank\", error=\"insufficient_user_authentication\", \
                 error_description=\"{description}\", acr_values=\"{MFA}\""
            )
        );
    }
    // Counted in the validator's metrics, by their reason.
    assert_eq!(
        validator
            .metrics()
            .rejected
            .get("insufficient_user_authentication"),
        Some(&3)
    );
}

/// A `StepUpLayer` with no `OidcBearerLayer` in front can never pass: a
/// 500 without a challenge (no token would help) and without the log
/// message, seen by a custom body as a misplaced layer.
#[tokio::test]
async fn a_step_up_layer_without_the_bearer_layer_is_a_500() {
    let issuer = TestIssuer::start().await;
    let kind = |error: &oidc_bearer::Error, parts: http::response::Parts| {
        let body = format!(
            "{:?} {}: {}",
            error.kind(),
            error.reason(),
            error.description()
        );
        Response::from_parts(parts, body.into())
    };
    let app = Router::new().route(
        "/acr",
        get(|| async { "acr" }).route_layer(
            StepUp::acr_values([MFA])
                .layer::<StandardClaims>()
                .on_rejection(kind),
        ),
    );
    let api = serve(app).await;
    let answer = fetch(
        &api,
        "/acr",
        &[&bearer(&token(&issuer, Some(MFA), Some(0)))],
    )
    .await;
    assert_eq!(answer.status, 500);
    assert_eq!(answer.challenge, None);
    assert_eq!(
        answer.body,
        "Misplaced misplaced: server configuration error"
    );
}

#[tokio::test]
async fn auth_time_must_be_within_max_age_plus_leeway() {
    let issuer = TestIssuer::start().await;
    // 60 s of leeway: 300 s of max_age accept a sign-in up to 360 s old.
    let validator = validator_for(&issuer, API)
        .leeway(Duration::from_secs(60))
        .build()
        .await
        .unwrap();
    let api = api(&validator).await;
    for age in [0, 299, 340] {
        let answer = fetch(&api, "/fresh", &[&bearer(&token(&issuer, None, Some(age)))]).await;
        assert_eq!(answer.status, 200, "signed in {age} s ago");
    }
    let challenge = |why: &str| {
        format!(
            "Bearer realm=\"bank\", error=\"insufficient_user_authentication\", \
             error_description=\"insufficient user authentication: {why} (max_age 300 s)\", \
             max_age=\"300\""
        )
    };
    for age in [Some(380), Some(86_400), None, Some(-3_600)] {
        let answer = fetch(&api, "/fresh", &[&bearer(&token(&issuer, Some(MFA), age))]).await;
        assert_eq!(answer.status, 401, "auth_time {age:?}");
        let why = match age {
            None => "no auth_time",
            Some(age) if age < 0 => "auth_time in the future",
            Some(_) => "authentication too old",
        };
        assert_eq!(answer.challenge, Some(challenge(why)), "{age:?}");
    }
}

#[tokio::test]
async fn both_requirements_name_both_and_the_custom_body_applies() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, API).build().await.unwrap();
    let api = api(&validator).await;
    let ok = fetch(
        &api,
        "/both",
        &[&bearer(&token(&issuer, Some("urn:test:hwk"), Some(5)))],
    )
    .await;
    assert_eq!(ok.status, 200);
    let answer = fetch(
        &api,
        "/both",
        &[&bearer(&token(&issuer, Some("urn:test:pwd"), None))],
    )
    .await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.challenge.unwrap(),
        "Bearer realm=\"bank\", error=\"insufficient_user_authentication\", \
         error_description=\"insufficient user authentication: authentication context class \
         (acr) not accepted and no auth_time (max_age 300 s)\", \
         acr_values=\"urn:test:mfa urn:test:hwk\", max_age=\"300\""
    );
    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["status"], 401);
    assert!(body["detail"].as_str().unwrap().contains("acr"));
    // Only the age fails: the challenge still asks for everything the
    // new sign-in must meet.
    let old = fetch(
        &api,
        "/both",
        &[&bearer(&token(&issuer, Some(MFA), Some(4000)))],
    )
    .await;
    let challenge = old.challenge.unwrap();
    assert!(
        challenge.contains(
            "error_description=\"insufficient user authentication: authentication too old"
        )
    );
    assert!(challenge.ends_with("acr_values=\"urn:test:mfa urn:test:hwk\", max_age=\"300\""));
}

#[tokio::test]
async fn the_guard_answers_as_the_layer() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, API).build().await.unwrap();
    let api = api(&validator).await;
    let ok = fetch(
        &api,
        "/guard",
        &[&bearer(&token(&issuer, Some(MFA), Some(1)))],
    )
    .await;
    assert_eq!((ok.status.as_u16(), ok.body.as_str()), (200, "guarded"));
    let weak = fetch(
        &api,
        "/guard",
        &[&bearer(&token(&issuer, Some("urn:test:pwd"), Some(1)))],
    )
    .await;
    assert_eq!(weak.status, 401);
    assert!(
        weak.challenge
            .unwrap()
            .contains("error=\"insufficient_user_authentication\"")
    );
    // Tokens the outer layer refuses never reach the step-up check.
    let none = fetch(&api, "/guard", &[]).await;
    assert_eq!(none.challenge.as_deref(), Some("Bearer realm=\"bank\""));
}

#[tokio::test]
async fn anonymous_requests_get_a_bare_challenge() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, API).build().await.unwrap();
    let app = Router::new()
        .route(
            "/acr",
            get(|| async { "acr" })
                .route_layer(StepUp::acr_values([MFA]).layer::<StandardClaims>()),
        )
        .route_layer(
            validator
                .layer::<StandardClaims>()
                .realm("bank")
                .allow_anonymous(),
        );
    let api = serve(app).await;
    let answer = fetch(&api, "/acr", &[]).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.challenge.as_deref(), Some("Bearer realm=\"bank\""));
}

const HWK: &str = "urn:test:hwk";
const PWD: &str = "urn:test:pwd";

/// One route per `and`: `/age` (60 s and 3600 s), `/age_rev` (the same,
/// the other way round), `/acr` (`[mfa hwk]` and `[hwk pwd]`), `/disjoint`
/// (`[mfa]` and `[pwd]`) and `/mixed` (max_age 60 s and `[mfa hwk]` and
/// 3600 s and `[mfa]`).
async fn and_api(validator: &Validator) -> Api {
    let minute = Duration::from_secs(60);
    let hour = Duration::from_secs(3600);
    let routes = [
        ("/age", StepUp::max_age(minute).and(StepUp::max_age(hour))),
        (
            "/age_rev",
            StepUp::max_age(hour).and(StepUp::max_age(minute)),
        ),
        (
            "/acr",
            StepUp::acr_values([MFA, HWK]).and(StepUp::acr_values([HWK, PWD])),
        ),
        (
            "/disjoint",
            StepUp::acr_values([MFA]).and(StepUp::acr_values([PWD])),
        ),
        (
            "/mixed",
            StepUp::max_age(minute)
                .and(StepUp::acr_values([MFA, HWK]))
                .and(StepUp::max_age(hour))
                .and(StepUp::acr_values([MFA])),
        ),
    ];
    let mut app = Router::new();
    for (path, step_up) in routes {
        app = app.route(
            path,
            get(|| async { "ok" }).route_layer(step_up.layer::<StandardClaims>().realm("bank")),
        );
    }
    serve(app.route_layer(validator.layer::<StandardClaims>().realm("bank"))).await
}

/// The step-up challenge of `realm="bank"`.
fn step_up_challenge(description: &str, attrs: &str) -> String {
    format!(
        "Bearer realm=\"bank\", error=\"insufficient_user_authentication\", \
         error_description=\"insufficient user authentication: {description}\"{attrs}"
    )
}

#[tokio::test]
async fn and_of_two_max_ages_keeps_the_smaller() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, API).build().await.unwrap();
    let api = and_api(&validator).await;
    for path in ["/age", "/age_rev"] {
        let fresh = fetch(&api, path, &[&bearer(&token(&issuer, None, Some(30)))]).await;
        assert_eq!(fresh.status, 200, "{path}");
        // Within 3600 s, not within 60: the sign-in of the issue.
        let old = fetch(&api, path, &[&bearer(&token(&issuer, None, Some(600)))]).await;
        assert_eq!(old.status, 401, "{path}");
        assert_eq!(
            old.challenge.unwrap(),
            step_up_challenge("authentication too old (max_age 60 s)", ", max_age=\"60\""),
            "{path}"
        );
    }
}

#[tokio::test]
async fn and_of_two_acr_lists_accepts_only_values_in_both() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, API).build().await.unwrap();
    let api = and_api(&validator).await;
    let ok = fetch(&api, "/acr", &[&bearer(&token(&issuer, Some(HWK), None))]).await;
    assert_eq!(ok.status, 200);
    for one_side_only in [MFA, PWD] {
        let answer = fetch(
            &api,
            "/acr",
            &[&bearer(&token(&issuer, Some(one_side_only), None))],
        )
        .await;
        assert_eq!(answer.status, 401, "{one_side_only}");
        assert_eq!(
            answer.challenge.unwrap(),
            step_up_challenge(
                "authentication context class (acr) not accepted",
                &format!(", acr_values=\"{HWK}\"")
            ),
            "{one_side_only}"
        );
    }
}

#[tokio::test]
async fn and_of_disjoint_acr_lists_refuses_every_token_and_names_both() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, API).build().await.unwrap();
    let api = and_api(&validator).await;
    for acr in [Some(MFA), Some(PWD), None] {
        let answer = fetch(&api, "/disjoint", &[&bearer(&token(&issuer, acr, Some(0)))]).await;
        assert_eq!(answer.status, 401, "{acr:?}");
        // No `acr_values`: no value would do.
        assert_eq!(
            answer.challenge.unwrap(),
            step_up_challenge(
                &format!(
                    "no authentication context class (acr) meets this route: acr_values \
                     [{MFA}] and [{PWD}] have no value in common"
                ),
                ""
            ),
            "{acr:?}"
        );
    }
}

#[tokio::test]
async fn and_of_max_age_and_acr_keeps_the_strictest_of_each() {
    let issuer = TestIssuer::start().await;
    let validator = validator_for(&issuer, API).build().await.unwrap();
    let api = and_api(&validator).await;
    let ok = fetch(
        &api,
        "/mixed",
        &[&bearer(&token(&issuer, Some(MFA), Some(30)))],
    )
    .await;
    assert_eq!(ok.status, 200);
    let attrs = format!(", acr_values=\"{MFA}\", max_age=\"60\"");
    for (acr, age, description) in [
        (
            HWK,
            30,
            "authentication context class (acr) not accepted".to_owned(),
        ),
        (MFA, 600, "authentication too old (max_age 60 s)".to_owned()),
        (
            HWK,
            600,
            "authentication context class (acr) not accepted and authentication too old \
             (max_age 60 s)"
                .to_owned(),
        ),
    ] {
        let answer = fetch(
            &api,
            "/mixed",
            &[&bearer(&token(&issuer, Some(acr), Some(age)))],
        )
        .await;
        assert_eq!(answer.status, 401, "{acr} {age}");
        assert_eq!(
            answer.challenge.unwrap(),
            step_up_challenge(&description, &attrs),
            "{acr} {age}"
        );
    }
}
