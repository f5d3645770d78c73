//! Validator-level tests of what `claims` decides (the one pass and its
//! two-pass reference, through `try_verify`). Here rather than in `claims`,
//! which never imports the validator.

use crate::claims::StandardClaims;
use crate::error::Error;
use crate::validator::Validator;

/// A `C` the one pass leaves to the two-pass reference.
#[derive(Debug, PartialEq, serde::Deserialize)]
struct Newtype(StandardClaims);

/// The one pass (`StandardClaims`, `Value`) and the two-pass reference
/// (`Newtype`) verify the same token to the same claims, and refuse alike.
#[tokio::test]
async fn both_paths_verify_and_refuse_alike() {
    use aws_lc_rs::hmac;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let secret = [7u8; 32];
    let validator = Validator::builder()
        .issuer("https://i/")
        .audience("api")
        .hmac_secret(secret)
        .token_cache_size(0)
        .build()
        .await
        .expect("validator");
    let sign = |claims: &str| {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let key = hmac::Key::new(hmac::HMAC_SHA256, &secret);
        let tag = hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    };
    let good = sign(r#"{"iss":"https://i/","aud":"api","exp":99999999999,"sub":"u"}"#);
    let one = validator
        .try_verify::<StandardClaims>(&good)
        .expect("one pass");
    let two = validator.try_verify::<Newtype>(&good).expect("two passes");
    assert_eq!(*one, two.0.0);
    assert_eq!(one.sub.as_deref(), Some("u"));
    // A duplicate exp is refused on either path, as before.
    let dup = sign(r#"{"iss":"https://i/","aud":"api","exp":1,"exp":99999999999}"#);
    for result in [
        validator.try_verify::<serde_json::Value>(&dup).map(|_| ()),
        validator.try_verify::<Newtype>(&dup).map(|_| ()),
    ] {
        assert!(matches!(result, Err(Error::InvalidClaim(_))), "{result:?}");
    }
    let expired = sign(r#"{"iss":"https://i/","aud":"api","exp":1}"#);
    assert!(matches!(
        validator.try_verify::<serde_json::Value>(&expired),
        Err(Error::Expired)
    ));
}
