//! Discovery on arbitrary documents, served over HTTP on 127.0.0.1 the way
//! a provider would: `Validator::discover` never panics or hangs, and
//! builds only when the document names the configured issuer.
//!
//! Inputs whose `jwks_uri` would lead off this machine are skipped before
//! the crate sees them (the crate would fetch it), and the README runs the
//! target inside a network namespace with nothing but loopback as well.
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use oidc_bearer::Validator;
use oidc_bearer_testkit::{KeyKind, MockProvider, Reply, TestKey};

/// The public issuer; discovery is fetched from the loopback provider
/// (`provider_url`), and a `jwks_uri` under the issuer moves there too.
const ISS: &str = "https://issuer.fuzz.test/realms/fuzz";
const REALM: &str = "/realms/fuzz";

struct Setup {
    runtime: tokio::runtime::Runtime,
    provider: MockProvider,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let provider = runtime.block_on(MockProvider::start());
    let key = TestKey::generate(KeyKind::EcP256, "ec-1");
    provider.set(&MockProvider::jwks_path(REALM), Reply::jwks(&[&key]));
    Setup { runtime, provider }
});

/// The two members the crate reads, parsed exactly as it parses them.
#[derive(serde::Deserialize)]
struct Document {
    issuer: String,
    jwks_uri: String,
}

/// True when the crate would fetch a `jwks_uri` that is not on the
/// loopback provider: only a document naming the issuer gets that far, and
/// only a `jwks_uri` under the issuer is moved to the provider.
fn leaves_the_machine(data: &[u8]) -> bool {
    // The crate ignores one UTF-8 byte order mark in front of a document.
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let Ok(doc) = serde_json::from_slice::<Document>(data) else {
        return false;
    };
    if doc.issuer != ISS {
        return false;
    }
    match doc.jwks_uri.strip_prefix(ISS) {
        Some(rest) => !(rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')),
        None => true,
    }
}

fuzz_target!(|data: &[u8]| {
    if leaves_the_machine(data) {
        return;
    }
    let setup = &*SETUP;
    setup.provider.set(
        &MockProvider::discovery_path(REALM),
        Reply::raw(200, "application/json", data.to_vec()),
    );
    let built = setup.runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(10),
            Validator::discover(ISS)
                .provider_url(setup.provider.url(REALM))
                .audience("fuzz-api")
                .http_timeout(Duration::from_secs(2))
                .build(),
        )
        .await
        .expect("discovery hung")
    });
    if built.is_ok() {
        let text = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
        let doc: Document = serde_json::from_slice(text).expect("built from a document");
        assert_eq!(
            doc.issuer, ISS,
            "built from a document naming another issuer"
        );
    }
});
