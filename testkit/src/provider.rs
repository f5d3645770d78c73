//! A scripted OpenID provider served over real HTTP on loopback.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::TestKey;

/// One scripted HTTP answer of a [`MockProvider`].
///
/// ```
/// use std::time::Duration;
/// use oidc_bearer_testkit::Reply;
/// let reply = Reply::json(&serde_json::json!({"keys": []}))
///     .with_cache_control("max-age=300")
///     .with_etag("\"v1\"")
///     .with_delay(Duration::from_millis(50));
/// assert_eq!(reply.status, 200);
/// ```
#[derive(Clone, Debug)]
pub struct Reply {
    /// HTTP status code (100..=999; anything unusable is sent as 500).
    pub status: u16,
    /// Response headers, sent in order. Header names are case-insensitive.
    pub headers: Vec<(String, String)>,
    /// Response body, sent as is (no `Content-Type` is implied by it).
    pub body: Vec<u8>,
    /// How long the server waits before answering: a slow or hanging provider.
    /// The request is counted on arrival, before the wait. A wait still
    /// running when the provider shuts down ends with a 503.
    pub delay: Option<Duration>,
    /// Sent as the `ETag` header. A request whose `If-None-Match` matches it
    /// (weak comparison, or `*`) gets `304 Not Modified` with no body.
    pub etag: Option<String>,
}

impl Reply {
    /// `200` with `value` as the body and `Content-Type: application/json`.
    pub fn json(value: &Value) -> Reply {
        let body = serde_json::to_vec(value).expect("a JSON value always serializes");
        Reply::raw(200, "application/json", body)
    }

    /// `200` with the JWK Set of `keys` and `Content-Type:
    /// application/jwk-set+json`, as RFC 9068 providers send it.
    pub fn jwks(keys: &[&TestKey]) -> Reply {
        let body = serde_json::to_vec(&crate::jwks(keys)).expect("a JWKS always serializes");
        Reply::raw(200, "application/jwk-set+json", body)
    }

    /// `code` with an empty body and no headers.
    pub fn status(code: u16) -> Reply {
        Reply {
            status: code,
            headers: Vec::new(),
            body: Vec::new(),
            delay: None,
            etag: None,
        }
    }

    /// `status` with `body` as is and the given `Content-Type`: for garbage,
    /// truncated JSON, HTML error pages and the like.
    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            body: body.into(),
            ..Reply::status(status)
        }
        .with_header("content-type", content_type)
    }

    /// Sets header `name` to `value`, replacing earlier values of that header
    /// (push onto [`headers`](Self::headers) to repeat a header).
    ///
    /// # Panics
    /// When `name` or `value` cannot be sent in an HTTP header.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        assert!(
            HeaderName::from_bytes(name.as_bytes()).is_ok(),
            "testkit: {name:?} is not a valid HTTP header name"
        );
        assert!(
            HeaderValue::from_str(value).is_ok(),
            "testkit: {value:?} is not a valid HTTP header value"
        );
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Waits `d` before answering (a slow or hanging provider).
    pub fn with_delay(mut self, d: Duration) -> Reply {
        self.delay = Some(d);
        self
    }

    /// Sends `ETag: <etag>` (as given: include the quotes, e.g. `"\"v1\""`)
    /// and answers `304` with no body when `If-None-Match` matches it.
    pub fn with_etag(mut self, etag: &str) -> Reply {
        assert!(
            HeaderValue::from_str(etag).is_ok(),
            "testkit: {etag:?} is not a valid ETag header value"
        );
        self.etag = Some(etag.to_string());
        self
    }

    /// Sets `Cache-Control: <v>`.
    pub fn with_cache_control(self, v: &str) -> Reply {
        self.with_header("cache-control", v)
    }
}

#[derive(Default)]
struct Route {
    standing: Option<Reply>,
    queued: VecDeque<Reply>,
}

#[derive(Default)]
struct Book {
    routes: HashMap<String, Route>,
    hits: HashMap<String, usize>,
    total: usize,
    last_headers: HashMap<String, HeaderMap>,
}

#[derive(Default)]
struct Shared {
    book: Mutex<Book>,
}

impl Shared {
    fn book(&self) -> MutexGuard<'_, Book> {
        // A panicking test thread must not turn every later call into a panic.
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Server {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Mutex<Option<Server>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let server = self.server.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(server) = server.take() {
            server.stop.send_replace(true);
        }
    }
}

#[derive(Clone)]
struct ServerState {
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
}

/// A real HTTP/1.1 server on `127.0.0.1` playing the OpenID provider.
///
/// Each path answers with a scripted [`Reply`] (unknown paths get `404`);
/// requests are counted per path; replies can be changed at any time, queued
/// one-shot, delayed, garbage, or carry ETags. [`shutdown`](Self::shutdown)
/// and [`restart`](Self::restart) take the whole provider down and back up on
/// the same port.
///
/// The handle is cheap to clone; the server stops when the last clone is
/// dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use oidc_bearer_testkit::{KeyKind, MockProvider, Reply, TestKey};
/// let provider = MockProvider::start().await;
/// let key = TestKey::generate(KeyKind::EcP256, "k1");
/// let issuer = provider.serve_issuer("/realms/demo", &[&key]);
/// assert_eq!(issuer, provider.url("/realms/demo"));
/// provider.set("/keys", Reply::status(500));
/// assert_eq!(provider.hits("/keys"), 0);
/// # }
/// ```
#[derive(Clone)]
pub struct MockProvider {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MockProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockProvider")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

impl MockProvider {
    /// Binds `127.0.0.1:0` and starts serving (on the current tokio runtime).
    ///
    /// # Panics
    /// When no loopback port can be bound or there is no tokio runtime.
    pub async fn start() -> MockProvider {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("testkit: cannot bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("testkit: bound listener has no local address");
        let shared = Arc::new(Shared::default());
        let server = spawn_server(listener, shared.clone());
        MockProvider {
            inner: Arc::new(Inner {
                shared,
                addr,
                server: Mutex::new(Some(server)),
            }),
        }
    }

    /// The socket address the server listens on (always `127.0.0.1`).
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// [`base_url`](Self::base_url) + `path` (`path` should start with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// Answers every request for `path` with `reply` from now on (after any
    /// [queued](Self::enqueue) replies for it are used up).
    ///
    /// `path` is matched against the request path without the query, unless
    /// it contains `?`: then it only matches that exact path and query, and
    /// takes precedence over the bare path.
    pub fn set(&self, path: &str, reply: Reply) {
        let mut book = self.inner.shared.book();
        book.routes.entry(path.to_string()).or_default().standing = Some(reply);
    }

    /// Queues a one-shot `reply` for `path`: queued replies are used first,
    /// in order, each for one request, before the reply given to
    /// [`set`](Self::set). For "fail once, then recover" scripts without races.
    pub fn enqueue(&self, path: &str, reply: Reply) {
        let mut book = self.inner.shared.book();
        book.routes
            .entry(path.to_string())
            .or_default()
            .queued
            .push_back(reply);
    }

    /// Forgets the replies for `path` (it answers `404` again).
    pub fn remove(&self, path: &str) {
        self.inner.shared.book().routes.remove(path);
    }

    /// Requests received for `path` so far, counted on arrival (before any
    /// delay), whatever was answered. A `path` with `?` counts only requests
    /// with exactly that path and query.
    pub fn hits(&self, path: &str) -> usize {
        self.inner
            .shared
            .book()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Requests received for any path, including unknown ones.
    pub fn total_hits(&self) -> usize {
        self.inner.shared.book().total
    }

    /// Sets every request counter back to zero.
    pub fn reset_hits(&self) {
        let mut book = self.inner.shared.book();
        book.hits.clear();
        book.total = 0;
    }

    /// The headers of the latest request for `path` (matched as in
    /// [`hits`](Self::hits)), if any arrived.
    pub fn last_request_headers(&self, path: &str) -> Option<HeaderMap> {
        self.inner.shared.book().last_headers.get(path).cloned()
    }

    /// Serves a Keycloak-like provider for issuer `base_url + realm_path`
    /// (e.g. `"/realms/demo"`): the [discovery document](discovery_document)
    /// at `{issuer}/.well-known/openid-configuration` and the JWKS of `keys`
    /// (`application/jwk-set+json`) at its `jwks_uri`,
    /// `{issuer}/protocol/openid-connect/certs`. Returns the issuer.
    pub fn serve_issuer(&self, realm_path: &str, keys: &[&TestKey]) -> String {
        let issuer = self.url(realm_path);
        self.set(
            &Self::discovery_path(realm_path),
            Reply::json(&discovery_document(&issuer)),
        );
        self.set(&Self::jwks_path(realm_path), Reply::jwks(keys));
        issuer
    }

    /// The JWKS path [`serve_issuer`](Self::serve_issuer) uses for `realm_path`:
    /// `{realm_path}/protocol/openid-connect/certs`.
    pub fn jwks_path(realm_path: &str) -> String {
        format!(
            "{}/protocol/openid-connect/certs",
            realm_path.trim_end_matches('/')
        )
    }

    /// The discovery path [`serve_issuer`](Self::serve_issuer) uses for
    /// `realm_path`: `{realm_path}/.well-known/openid-configuration`.
    pub fn discovery_path(realm_path: &str) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            realm_path.trim_end_matches('/')
        )
    }

    /// Whether the server is accepting connections (not shut down).
    pub fn is_running(&self) -> bool {
        self.server().is_some()
    }

    /// Takes the provider down: the port stops accepting connections, open
    /// keep-alive connections are closed and delayed replies in progress end
    /// with `503`. Returns once the listener is closed. Scripts and counters
    /// are kept for [`restart`](Self::restart). Calling it twice is harmless.
    pub async fn shutdown(&self) {
        let server = self.server().take();
        if let Some(server) = server {
            server.stop.send_replace(true);
            let abort = server.task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), server.task)
                .await
                .is_err()
            {
                // A client is holding a connection open mid-request; the
                // listener must close regardless.
                abort.abort();
            }
        }
    }

    /// Brings the provider back on the same address with the same scripts
    /// and counters (shutting it down first if it is running): a provider
    /// blip.
    ///
    /// # Panics
    /// When the port was taken by someone else in the meantime.
    pub async fn restart(&self) {
        self.shutdown().await;
        let listener = TcpListener::bind(self.inner.addr)
            .await
            .unwrap_or_else(|e| panic!("testkit: cannot rebind {}: {e}", self.inner.addr));
        let server = spawn_server(listener, self.inner.shared.clone());
        *self.server() = Some(server);
    }

    fn server(&self) -> MutexGuard<'_, Option<Server>> {
        self.inner.server.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The discovery document [`MockProvider::serve_issuer`] serves for `issuer`
/// (Keycloak's endpoint layout; `jwks_uri` = `{issuer}/protocol/openid-connect/certs`).
/// The algorithm list includes `Ed25519` beside `EdDSA`, as newer providers
/// publish it.
pub fn discovery_document(issuer: &str) -> Value {
    let oidc = format!("{}/protocol/openid-connect", issuer.trim_end_matches('/'));
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{oidc}/auth"),
        "token_endpoint": format!("{oidc}/token"),
        "userinfo_endpoint": format!("{oidc}/userinfo"),
        "end_session_endpoint": format!("{oidc}/logout"),
        "jwks_uri": format!("{oidc}/certs"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": [
            "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
            "ES256", "ES384", "EdDSA", "Ed25519"
        ],
        "scopes_supported": ["openid", "profile", "email"],
    })
}

fn spawn_server(listener: TcpListener, shared: Arc<Shared>) -> Server {
    let (stop, stop_rx) = watch::channel(false);
    let state = ServerState {
        shared,
        stop: stop_rx.clone(),
    };
    let app = Router::new().fallback(handle).with_state(state);
    let mut signal = stop_rx;
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            // Also resolves when the sender is gone.
            let _ = signal.wait_for(|stopped| *stopped).await;
        });
        if let Err(e) = serve.await {
            eprintln!("testkit: mock provider server error: {e}");
        }
    });
    Server { stop, task }
}

async fn handle(State(state): State<ServerState>, req: Request) -> Response {
    let (parts, _body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let with_query = parts.uri.query().map(|q| format!("{path}?{q}"));

    let reply = {
        let mut book = state.shared.book();
        book.total += 1;
        let mut keys = vec![path.clone()];
        keys.extend(with_query.clone());
        for key in &keys {
            *book.hits.entry(key.clone()).or_default() += 1;
            book.last_headers.insert(key.clone(), parts.headers.clone());
        }
        // The exact path-and-query script wins over the bare path.
        keys.reverse();
        keys.iter().find_map(|key| {
            let route = book.routes.get_mut(key)?;
            route.queued.pop_front().or_else(|| route.standing.clone())
        })
    };

    let Some(reply) = reply else {
        return plain(StatusCode::NOT_FOUND);
    };

    if let Some(delay) = reply.delay {
        let mut stop = state.stop.clone();
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|stopped| *stopped) => return plain(StatusCode::SERVICE_UNAVAILABLE),
        }
    }

    let not_modified = match (&reply.etag, parts.headers.get(http::header::IF_NONE_MATCH)) {
        (Some(etag), Some(inm)) => inm.to_str().is_ok_and(|inm| etag_matches(inm, etag)),
        _ => false,
    };

    let status = if not_modified {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    };
    let mut response = Response::new(if not_modified {
        Body::empty()
    } else {
        Body::from(reply.body)
    });
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in &reply.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            eprintln!("testkit: skipping unsendable header {name:?}: {value:?}");
            continue;
        };
        if not_modified && name == http::header::CONTENT_TYPE {
            continue;
        }
        headers.append(name, value);
    }
    if let Some(etag) = &reply.etag
        && let Ok(value) = HeaderValue::from_str(etag)
    {
        headers.insert(http::header::ETAG, value);
    }
    response
}

fn plain(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// Weak comparison (RFC 9110 §13.1.2): `W/` prefixes are ignored.
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let strip = |t: &str| {
        let t = t.trim();
        t.strip_prefix("W/").unwrap_or(t).to_string()
    };
    let etag = strip(etag);
    if_none_match
        .split(',')
        .any(|candidate| candidate.trim() == "*" || strip(candidate) == etag)
}
