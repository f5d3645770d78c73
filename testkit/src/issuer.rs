//! The embedded issuer the demo, integration tests and benches start.

use crate::{KeyKind, MockProvider, Reply, TestKey, TokenBuilder, standard_claims};

/// The realm path [`TestIssuer`] serves under.
pub const DEMO_REALM_PATH: &str = "/realms/demo";

/// A ready-made provider: a [`MockProvider`] serving issuer
/// `http://127.0.0.1:PORT/realms/demo` (Keycloak layout: discovery document
/// and JWKS) with one RSA key, plus helpers to mint tokens for it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use oidc_bearer_testkit::TestIssuer;
/// let issuer = TestIssuer::start().await;
/// let token = issuer.token("my-api");
/// let expired = issuer.builder("my-api").claim("exp", 1).sign(&issuer.key);
/// assert_ne!(token, expired);
/// assert!(issuer.issuer.ends_with("/realms/demo"));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct TestIssuer {
    /// The HTTP server; script faults on it (`set`, `enqueue`, `shutdown`, ...).
    pub provider: MockProvider,
    /// `http://127.0.0.1:PORT/realms/demo`.
    pub issuer: String,
    /// The current signing key (`kid` `"demo-rsa-1"` at start).
    pub key: TestKey,
    /// `{issuer}/protocol/openid-connect/certs`.
    pub jwks_url: String,
    previous: Vec<TestKey>,
}

impl TestIssuer {
    /// Starts the provider with a fresh RSA-2048 key, kid `"demo-rsa-1"`.
    pub async fn start() -> TestIssuer {
        let provider = MockProvider::start().await;
        let key = TestKey::generate(KeyKind::Rsa2048, "demo-rsa-1");
        let issuer = provider.serve_issuer(DEMO_REALM_PATH, &[&key]);
        let jwks_url = provider.url(&MockProvider::jwks_path(DEMO_REALM_PATH));
        TestIssuer {
            provider,
            issuer,
            key,
            jwks_url,
            previous: Vec::new(),
        }
    }

    /// `{issuer}/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        self.provider
            .url(&MockProvider::discovery_path(DEMO_REALM_PATH))
    }

    /// The JWKS path on the provider (for `hits`, `set`, `enqueue`).
    pub fn jwks_path(&self) -> String {
        MockProvider::jwks_path(DEMO_REALM_PATH)
    }

    /// The discovery path on the provider (for `hits`, `set`, `enqueue`).
    pub fn discovery_path(&self) -> String {
        MockProvider::discovery_path(DEMO_REALM_PATH)
    }

    /// A valid token for `audience`: [`standard_claims`] signed with
    /// [`key`](Self::key) (header `alg` and `kid` from the key).
    pub fn token(&self, audience: &str) -> String {
        self.builder(audience).sign(&self.key)
    }

    /// A [`TokenBuilder`] prefilled with [`standard_claims`] for this issuer
    /// and `audience`, to adjust and then `.sign(&issuer.key)`.
    pub fn builder(&self, audience: &str) -> TokenBuilder {
        TokenBuilder::new().claims(standard_claims(&self.issuer, audience))
    }

    /// Key rotation as Keycloak does it: a new key of `kind` with `kid`
    /// becomes the signer, and the JWKS publishes it first, followed by every
    /// earlier key (still published, no longer signing).
    pub fn rotate(&mut self, kind: KeyKind, kid: &str) {
        let new = TestKey::generate(kind, kid);
        let old = std::mem::replace(&mut self.key, new);
        self.previous.insert(0, old);
        self.publish();
    }

    /// Stops publishing the keys replaced by [`rotate`](Self::rotate): the
    /// JWKS holds only the current key again.
    pub fn retire_previous_keys(&mut self) {
        self.previous.clear();
        self.publish();
    }

    /// The keys the JWKS currently publishes, current signer first.
    pub fn published_keys(&self) -> Vec<TestKey> {
        std::iter::once(self.key.clone())
            .chain(self.previous.iter().cloned())
            .collect()
    }

    fn publish(&self) {
        let keys = self.published_keys();
        let refs: Vec<&TestKey> = keys.iter().collect();
        self.provider.set(&self.jwks_path(), Reply::jwks(&refs));
    }
}
