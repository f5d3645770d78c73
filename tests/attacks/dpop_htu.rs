//! DPoP `htu` (RFC 9449 §4.3 check 9) against a request that names its own
//! scheme or authority: a target in absolute form (`GET http://host/path`),
//! HTTP/2's `:scheme` and `:authority`, a `Host` that disagrees with the
//! target, and ports the `http` crate drops when they do not parse (so
//! `:99999` counted as the default port). The layer's URI comes from its
//! configuration; an authority that does not parse exactly is refused.
//!
//! Each case is a `DPoP`-bound token with a proof of the client's key,
//! valid in every other way, so a refusal is the `htu` comparison's. What
//! every input got is collected before the assertion, so a failure lists
//! all the inputs that were let through.

use std::sync::LazyLock;
use std::time::Duration;

use http::HeaderValue;
use http::header::HOST;
use oidc_bearer::Dpop;
use oidc_bearer::dpop::jwk_thumbprint;
use oidc_bearer_testkit::dpop_proof;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::*;

/// The client's proof key; the token is bound to it.
static CLIENT: LazyLock<TestKey> =
    LazyLock::new(|| TestKey::generate(KeyKind::EcP256, "dpop-client"));

/// A token at `NOW` bound to [`CLIENT`] (`cnf.jkt`), from the issuer.
fn bound_token() -> String {
    let jkt = jwk_thumbprint(&CLIENT.public_jwk().to_string()).unwrap();
    token().claim("cnf", json!({ "jkt": jkt })).sign(&P256)
}

/// A fresh proof of `GET htu` for `token`, at the manual clock's time.
fn proof(htu: &str, token: &str) -> String {
    dpop_proof(&CLIENT, "GET", htu, Some(token))
        .claim("iat", NOW)
        .sign(&CLIENT)
}

/// One request: its target (origin form, or absolute form as hyper hands
/// it on for HTTP/1.1 and builds from `:scheme` and `:authority` for
/// HTTP/2), its `Host` fields and the proof's `htu`.
struct Case<'a> {
    target: &'a str,
    hosts: &'a [&'a str],
    htu: &'a str,
}

impl std::fmt::Display for Case<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GET {} Host: {:?} htu {}",
            self.target, self.hosts, self.htu
        )
    }
}

/// What a client saw, and whether the handler ran.
struct Outcome {
    status: StatusCode,
    challenge: Option<String>,
    handler_ran: bool,
}

impl Outcome {
    /// 401 with the DPoP challenge's `invalid_dpop_proof`, the handler
    /// not run.
    fn is_htu_refusal(&self) -> bool {
        self.status == StatusCode::UNAUTHORIZED
            && self.challenge.as_deref().is_some_and(|c| {
                c.starts_with("DPoP ") && c.contains(r#"error="invalid_dpop_proof""#)
            })
            && !self.handler_ran
    }

    fn is_accepted(&self) -> bool {
        self.status == StatusCode::OK && self.handler_ran
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:?}, handler ran: {}",
            self.status.as_u16(),
            self.challenge,
            self.handler_ran
        )
    }
}

async fn run(dpop: &Dpop, case: &Case<'_>) -> Outcome {
    let v = validator().await;
    let (app, calls) = app(v.layer::<User>().dpop(dpop.clone()));
    let token = bound_token();
    let mut request = Request::builder()
        .uri(case.target)
        .header(AUTHORIZATION, format!("DPoP {token}"))
        .header("dpop", proof(case.htu, &token));
    for host in case.hosts {
        request = request.header(HOST, HeaderValue::from_str(host).unwrap());
    }
    let seen = send_request(&app, request.body(Body::empty()).unwrap()).await;
    Outcome {
        status: seen.status,
        challenge: seen.challenge,
        handler_ran: calls.load(Ordering::SeqCst) > 0,
    }
}

/// Every `refused` case is refused as a bad proof and every `accepted`
/// one accepted; the panic lists each case that was not.
async fn check(dpop: Dpop, refused: &[Case<'_>], accepted: &[Case<'_>]) {
    let mut wrong = Vec::new();
    for case in refused {
        let outcome = run(&dpop, case).await;
        if !outcome.is_htu_refusal() {
            wrong.push(format!("should be refused: {case} -> {outcome}"));
        }
    }
    for case in accepted {
        let outcome = run(&dpop, case).await;
        if !outcome.is_accepted() {
            wrong.push(format!("should be accepted: {case} -> {outcome}"));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

const API: &str = "api.example.com";

#[tokio::test]
async fn the_scheme_is_the_layers_never_the_request_targets() {
    let case = |target, hosts, htu| Case { target, hosts, htu };
    let host: &[&str] = &[API];
    let none: &[&str] = &[];
    // The default: `https://{Host}{path}`. A proof captured from a
    // plaintext request is no proof for the https API, whatever scheme the
    // request target claims.
    check(
        Dpop::required(),
        &[
            // HTTP/1.1, absolute form: the issue's request.
            case(
                "http://api.example.com/me",
                host,
                "http://api.example.com/me",
            ),
            case(
                "HTTP://api.example.com/me",
                host,
                "http://api.example.com/me",
            ),
            // HTTP/2: `:scheme http`, `:authority`, no Host.
            case(
                "http://api.example.com/me",
                none,
                "http://api.example.com/me",
            ),
            case("/me", host, "http://api.example.com/me"),
        ],
        &[
            case(
                "http://api.example.com/me",
                host,
                "https://api.example.com/me",
            ),
            case(
                "http://api.example.com/me",
                none,
                "https://api.example.com/me",
            ),
            case(
                "https://api.example.com/me",
                none,
                "https://api.example.com/me",
            ),
            case("/me", host, "https://api.example.com/me"),
        ],
    )
    .await;
    // `plain_http`: `http` even when the target says `https`.
    check(
        Dpop::required().plain_http(),
        &[
            case(
                "https://api.example.com/me",
                host,
                "https://api.example.com/me",
            ),
            case(
                "https://api.example.com/me",
                none,
                "https://api.example.com/me",
            ),
        ],
        &[
            case(
                "https://api.example.com/me",
                host,
                "http://api.example.com/me",
            ),
            case("/me", host, "http://api.example.com/me"),
        ],
    )
    .await;
    // `external_url`: its scheme and authority, whatever the request says.
    check(
        Dpop::required().external_url("https://api.example.com"),
        &[case(
            "http://evil.example/me",
            &["evil.example"],
            "http://evil.example/me",
        )],
        &[case(
            "http://evil.example/me",
            &["evil.example"],
            "https://api.example.com/me",
        )],
    )
    .await;
}

/// RFC 9112 §3.2.2 has an absolute-form target's authority win over
/// `Host`; a proxy in front may have routed by `Host`, so the layer
/// refuses the request when the two disagree (and when there are two
/// `Host`s, RFC 9112 §3.2) rather than pick one.
#[tokio::test]
async fn a_host_that_disagrees_with_the_target_is_refused() {
    let case = |target, hosts, htu| Case { target, hosts, htu };
    check(
        Dpop::required(),
        &[
            case("https://evil.example/me", &[API], "https://evil.example/me"),
            case(
                "https://evil.example/me",
                &[API],
                "https://api.example.com/me",
            ),
            case(
                "https://api.example.com:8443/me",
                &[API],
                "https://api.example.com:8443/me",
            ),
            case("/me", &[API, "evil.example"], "https://api.example.com/me"),
            case("/me", &["evil.example", API], "https://evil.example/me"),
            case("/me", &[API, API], "https://api.example.com/me"),
        ],
        &[
            case(
                "https://api.example.com/me",
                &[API],
                "https://api.example.com/me",
            ),
            case(
                "https://API.example.com:443/me",
                &["api.EXAMPLE.com"],
                "https://api.example.com/me",
            ),
            case(
                "http://api.example.com:/me",
                &["api.example.com:443"],
                "https://api.example.com/me",
            ),
        ],
    )
    .await;
}

/// Ports the `http` crate's `Authority::port_u16` reads as no port at all,
/// `+` signs `str::parse` takes, and what follows an IPv6 literal.
#[tokio::test]
async fn an_htu_whose_authority_does_not_parse_exactly_is_refused() {
    let htu = |htu| Case {
        target: "/me",
        hosts: &["internal:8080"],
        htu,
    };
    check(
        Dpop::required().external_url("https://api.example.com"),
        &[
            htu("https://api.example.com:99999/me"),
            htu("https://api.example.com:65979/me"),
            htu("https://api.example.com:65536/me"),
            htu("https://api.example.com:18446744073709551616/me"),
            htu("https://api.example.com:99999999999999999999/me"),
            htu("https://api.example.com:+443/me"),
            htu("https://api.example.com:-1/me"),
            htu("https://api.example.com:443a/me"),
            htu("https://api.example.com:0x1bb/me"),
            htu("https://u@api.example.com/me"),
            htu("https://api.example.com:443@api.example.com/me"),
        ],
        &[
            htu("https://api.example.com/me"),
            htu("https://API.example.com:443/me"),
            // RFC 3986 §3.2.3, §6.2.3: an empty port is the default.
            htu("https://api.example.com:/me"),
            htu("https://api.example.com:0443/me"),
        ],
    )
    .await;
    check(
        Dpop::required().external_url("https://api.example.com:8443"),
        &[
            htu("https://api.example.com:+8443/me"),
            htu("https://api.example.com/me"),
        ],
        &[htu("https://api.example.com:8443/me")],
    )
    .await;
    check(
        Dpop::required().external_url("https://[2001:db8::1]"),
        &[
            htu("https://[2001:db8::1]x/me"),
            htu("https://[2001:db8::1]:99999/me"),
            htu("https://[2001:db8::1]:+443/me"),
        ],
        &[
            htu("https://[2001:DB8::1]/me"),
            htu("https://[2001:db8::1]:443/me"),
        ],
    )
    .await;
}

/// The same exact port check on the request's side: a bad port in `Host`
/// or in the target is not the default port.
#[tokio::test]
async fn a_host_or_target_whose_authority_does_not_parse_exactly_is_refused() {
    let host = |host| Case {
        target: "/me",
        hosts: std::slice::from_ref(host),
        htu: "https://api.example.com/me",
    };
    let hosts: Vec<&'static str> = vec![
        "api.example.com:99999",
        "api.example.com:65979",
        "api.example.com:99999999999999999999",
        "api.example.com:+443",
        "api.example.com:-443",
        "api.example.com:443a",
        "api.example.com:443:443",
        "u@api.example.com",
        "api.example.com*",
    ];
    let refused: Vec<Case> = hosts.iter().map(host).collect();
    let case = |target, hosts, htu| Case { target, hosts, htu };
    let mut refused = refused;
    refused.extend([
        case(
            "http://api.example.com:99999/me",
            &[] as &[&str],
            "https://api.example.com/me",
        ),
        case(
            "http://api.example.com:99999/me",
            &[API],
            "https://api.example.com/me",
        ),
        case(
            "http://api.example.com:+443/me",
            &[API],
            "https://api.example.com/me",
        ),
        case(
            "http://u@api.example.com/me",
            &[API],
            "https://api.example.com/me",
        ),
        case("/me", &["[::1]x"], "https://[::1]/me"),
        case("/me", &["[::1]:99999"], "https://[::1]/me"),
    ]);
    check(
        Dpop::required(),
        &refused,
        &[
            case(
                "/me",
                &["api.example.com:443"],
                "https://api.example.com/me",
            ),
            case("/me", &["api.example.com:"], "https://api.example.com/me"),
            case("/me", &["[::1]:8443"], "https://[::1]:8443/me"),
            case("/me", &["[::1]"], "https://[::1]/me"),
            case("/me", &["127.0.0.1:8080"], "https://127.0.0.1:8080/me"),
        ],
    )
    .await;
}

#[test]
fn external_url_with_a_bad_authority_is_a_configuration_error() {
    for (url, says) in [
        (
            "https://api.example.com:99999",
            "the port is not decimal digits",
        ),
        (
            "https://api.example.com:+443",
            "the port is not decimal digits",
        ),
        (
            "https://api.example.com:8443x",
            "the port is not decimal digits",
        ),
        ("https://[::1]x", "the host is not a bracketed IPv6 address"),
        (
            "https://u@api.example.com",
            "an http(s) authority has no userinfo",
        ),
    ] {
        let panic = std::panic::catch_unwind(|| Dpop::required().external_url(url))
            .expect_err(&format!("{url}: accepted as a configuration"));
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            message.starts_with(&format!("Dpop::external_url({url:?}): {says}")),
            "{url}: {message}"
        );
    }
}

/// How the issue was found: a raw HTTP/1.1 request in absolute form on a
/// real socket, to an axum server on 127.0.0.1 with the default
/// `Dpop::required()`.
#[tokio::test]
async fn a_plaintext_absolute_form_request_is_refused_over_a_socket() {
    let v = validator().await;
    let (app, calls) = app(v.layer::<User>().dpop(Dpop::required()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let token = bound_token();
    let raw = |target: &'static str, host: &'static str, htu: &'static str| {
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: DPoP {token}\r\n\
             DPoP: {}\r\nConnection: close\r\n\r\n",
            proof(htu, &token)
        );
        async move {
            let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut answer = String::new();
            tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
                .await
                .expect("the API answers in time")
                .unwrap();
            answer
        }
    };
    let challenge = |answer: &str| {
        answer
            .lines()
            .find_map(|line| line.strip_prefix("www-authenticate: "))
            .map(str::to_owned)
    };
    let mut wrong = Vec::new();
    for (target, host, htu) in [
        (
            "http://api.example.com/me",
            API,
            "http://api.example.com/me",
        ),
        (
            "http://api.example.com:99999/me",
            API,
            "https://api.example.com/me",
        ),
        ("/me", "api.example.com:99999", "https://api.example.com/me"),
        ("/me", "api.example.com:+443", "https://api.example.com/me"),
        ("https://evil.example/me", API, "https://evil.example/me"),
    ] {
        let before = calls.load(Ordering::SeqCst);
        let answer = raw(target, host, htu).await;
        let seen = challenge(&answer);
        let refused = answer.starts_with("HTTP/1.1 401")
            && seen.as_deref().is_some_and(|c| {
                c.starts_with("DPoP ") && c.contains(r#"error="invalid_dpop_proof""#)
            })
            && calls.load(Ordering::SeqCst) == before
            && !answer.contains("user-1");
        if !refused {
            let status = answer.lines().next().unwrap_or_default();
            wrong.push(format!(
                "GET {target} Host: {host} htu {htu} -> {status} {seen:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
    // The right value: the same request with a proof for the https URL.
    let answer = raw(
        "http://api.example.com/me",
        API,
        "https://api.example.com/me",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("user-1"), "{answer}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    server.abort();
}
