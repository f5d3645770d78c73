//! Hostile `kid` values: path traversal, SQL, huge, the wrong JSON type,
//! look-alikes of a real kid. A kid is only ever a map key here, so each is
//! an unknown key (or a malformed header), never a file, a query or a fetch.

use crate::*;

/// A token signed by `ATTACKER` and naming `kid` (a JSON value).
fn naming(kid: Value) -> String {
    token().header("kid", kid).sign_with(&ATTACKER, "RS256")
}

#[tokio::test]
async fn kid_strings_that_are_attacks_elsewhere() {
    let v = validator().await;
    for kid in [
        "../../../../../../etc/passwd",
        "..\\..\\..\\windows\\win.ini",
        "/dev/null",
        "file:///etc/passwd",
        "http://127.0.0.1:1/keys",
        "' OR '1'='1",
        "rsa-1' --",
        "rsa-1\"; DROP TABLE keys; --",
        "${jndi:ldap://127.0.0.1:1/a}",
        "{{7*7}}",
        "%00",
        "",
        " ",
    ] {
        refuses(&v, &naming(json!(kid)), "unknown key id").await;
    }
}

#[tokio::test]
async fn kid_look_alikes_of_the_real_kid() {
    let v = validator().await;
    for kid in [
        "rsa\u{2010}1", // hyphen, not hyphen-minus
        "rsa\u{2011}1", // non-breaking hyphen
        "r\u{0455}a-1", // Cyrillic dze for `s`
        "rs\u{0430}-1", // Cyrillic a
        "RSA-1",
        "rsa-1 ",
        " rsa-1",
        "rsa-1\u{0000}",
        "rsa-1\u{200b}", // zero-width space
        "rsa-1\n",
        "rsa-\u{ff11}", // fullwidth digit one
    ] {
        // Signed with the real key: only the kid is off.
        let token = token().header("kid", kid).sign_with(&RSA, "RS256");
        refuses(&v, &token, "unknown key id").await;
    }
}

#[tokio::test]
async fn kid_of_ten_kilobytes() {
    let kid = "k".repeat(10 * 1024);
    // Over the default 8 KiB token limit: refused before decoding.
    let v = validator().await;
    refuses(&v, &naming(json!(kid)), "token too large").await;
    // With room for it, a 10 KB kid is just an unknown kid.
    let v = builder().max_token_len(64 * 1024).build().await.unwrap();
    refuses(&v, &naming(json!(kid)), "unknown key id").await;
}

#[tokio::test]
async fn kid_of_the_wrong_json_type() {
    let v = validator().await;
    for kid in [
        json!(1),
        json!(1.5),
        json!(true),
        json!({"kid": "rsa-1"}),
        json!(["rsa-1"]),
    ] {
        refuses(
            &v,
            &naming(kid),
            "malformed token: header is not a valid JOSE header",
        )
        .await;
    }
    // `null` is an absent kid: the only RSA key is tried, and the attacker's
    // signature does not verify with it.
    refuses(&v, &naming(Value::Null), "invalid signature").await;
}
