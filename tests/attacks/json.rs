//! JSON that parsers disagree on: duplicate members (plain and escaped),
//! and nesting deep enough to overflow a recursive parser's stack.

use crate::*;

const BAD_HEADER: &str = "malformed token: header is not a valid JOSE header";
const REPEATED: &str = "invalid claim: a registered claim is repeated or has the wrong type";

#[tokio::test]
async fn duplicate_header_members() {
    let v = validator().await;
    let payload = claims_text();
    for header in [
        r#"{"alg":"RS256","alg":"none","kid":"rsa-1"}"#,
        r#"{"alg":"none","alg":"RS256","kid":"rsa-1"}"#,
        r#"{"alg":"RS256","alg":"RS256","kid":"rsa-1"}"#,
        r#"{"alg":"RS256","kid":"rsa-1","kid":"attacker"}"#,
        r#"{"alg":"RS256","kid":"attacker","kid":"rsa-1"}"#,
        // Escaped names are the same names.
        r#"{"alg":"RS256","\u0061lg":"none","kid":"rsa-1"}"#,
        r#"{"\u0061\u006c\u0067":"none","alg":"RS256","kid":"rsa-1"}"#,
        r#"{"alg":"RS256","kid":"rsa-1","\u006bid":"attacker"}"#,
        r#"{"alg":"RS256","kid":"rsa-1","typ":"JWT","typ":"at+jwt"}"#,
    ] {
        // Signed with the honest key over exactly these bytes.
        refuses(&v, &raw_token(header, &payload, &RSA, "RS256"), BAD_HEADER).await;
    }
    // Two crit members: refused one way or another, never ignored.
    let two_crit = r#"{"alg":"RS256","kid":"rsa-1","crit":["x"],"crit":[]}"#;
    let token = raw_token(two_crit, &payload, &RSA, "RS256");
    assert!(v.try_verify::<User>(&token).is_err());
}

#[tokio::test]
async fn duplicate_registered_claims_even_when_signed_by_the_issuer() {
    let v = validator().await;
    let header = r#"{"alg":"RS256","kid":"rsa-1"}"#;
    let (exp, iat, nbf) = (NOW + 3600, NOW, NOW - 5);
    for payload in [
        format!(r#"{{"iss":"{ISS}","aud":"{AUD}","sub":"u","exp":{exp},"exp":1}}"#),
        format!(r#"{{"iss":"{ISS}","aud":"{AUD}","sub":"u","exp":1,"exp":{exp}}}"#),
        format!(r#"{{"iss":"{ISS}","aud":"{AUD}","sub":"u","exp":{exp},"\u0065xp":1}}"#),
        format!(r#"{{"iss":"{ISS}","aud":"other","aud":"{AUD}","sub":"u","exp":{exp}}}"#),
        format!(r#"{{"iss":"{ISS}","aud":"{AUD}","aud":"other","sub":"u","exp":{exp}}}"#),
        format!(
            r#"{{"iss":"https://evil.test","iss":"{ISS}","aud":"{AUD}","sub":"u","exp":{exp}}}"#
        ),
        format!(
            r#"{{"iss":"{ISS}","\u0069ss":"https://evil.test","aud":"{AUD}","sub":"u","exp":{exp}}}"#
        ),
        format!(
            r#"{{"iss":"{ISS}","aud":"{AUD}","sub":"u","exp":{exp},"nbf":{nbf},"nbf":{}}}"#,
            NOW + 99999
        ),
        format!(
            r#"{{"iss":"{ISS}","aud":"{AUD}","sub":"u","exp":{exp},"iat":{iat},"iat":{}}}"#,
            NOW + 99999
        ),
    ] {
        refuses(&v, &raw_token(header, &payload, &RSA, "RS256"), REPEATED).await;
    }
    // A duplicate the application's claims type reads: refused too.
    let sub_twice =
        format!(r#"{{"iss":"{ISS}","aud":"{AUD}","sub":"alice","sub":"admin","exp":{exp}}}"#);
    refuses(
        &v,
        &raw_token(header, &sub_twice, &RSA, "RS256"),
        "claims do not match the expected shape",
    )
    .await;
}

/// `claims` with member `"x"` holding `nested` (raw JSON), as text.
fn claims_with(nested: &str) -> String {
    claims_text().replacen('{', &format!(r#"{{"x":{nested},"#), 1)
}

#[tokio::test]
async fn deeply_nested_json_in_header_and_claims() {
    // Up to half a million levels, the size limit raised to let them in:
    // far past what a recursive parser survives on a test thread's stack.
    // Each answer comes back, none is a crash.
    let v = builder().max_token_len(4 << 20).build().await.unwrap();
    let honest_header = r#"{"alg":"RS256","kid":"rsa-1"}"#;
    for depth in [2_500, 500_000] {
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let objects = format!("{}0{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        for nested in [&arrays, &objects] {
            let header = format!(r#"{{"alg":"RS256","kid":"rsa-1","x":{nested}}}"#);
            // Signed by an attacker: refused at the signature, whatever the
            // nesting.
            let forged = raw_token(&header, &claims_text(), &ATTACKER, "RS256");
            let forged_claims = raw_token(honest_header, &claims_with(nested), &ATTACKER, "RS256");
            for token in [forged, forged_claims] {
                let error = v.try_verify::<User>(&token).map(|_| ()).unwrap_err();
                assert_eq!(error.description(), "invalid signature", "depth {depth}");
            }
        }
        // Signed by the issuer, a deep unknown header member is skipped
        // (serde_json skips ignored values without recursing) ...
        for nested in [&arrays, &objects] {
            let header = format!(r#"{{"alg":"RS256","kid":"rsa-1","x":{nested}}}"#);
            let token = raw_token(&header, &claims_text(), &RSA, "RS256");
            assert_eq!(
                v.try_verify::<User>(&token).unwrap().sub,
                "user-1",
                "depth {depth}"
            );
        }
        // ... and so is a deep unknown claim, for a claims type that does
        // not read it. One that keeps every member (serde_json::Value) stops
        // at serde_json's depth limit (128), with an error.
        for nested in [&arrays, &objects] {
            let token = raw_token(honest_header, &claims_with(nested), &RSA, "RS256");
            assert_eq!(
                v.try_verify::<User>(&token).unwrap().sub,
                "user-1",
                "depth {depth}"
            );
            let error = v.try_verify::<Value>(&token).map(|_| ()).unwrap_err();
            assert_eq!(
                error.description(),
                "claims do not match the expected shape",
                "depth {depth}"
            );
        }
    }
    // The same through the layer at the default limit: 2 500 levels fit.
    let v = validator().await;
    let arrays = format!("{}{}", "[".repeat(2_500), "]".repeat(2_500));
    let forged = raw_token(honest_header, &claims_with(&arrays), &ATTACKER, "RS256");
    refuses(&v, &forged, "invalid signature").await;
    accepts(
        &v,
        &raw_token(honest_header, &claims_with(&arrays), &RSA, "RS256"),
    )
    .await;
}
