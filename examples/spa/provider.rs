//! The local OpenID provider of the SPA example: `node e2e/provider.mjs`
//! (panva's oidc-provider, the same set-up `tests/oidc_provider.rs` uses),
//! with the page's origin registered as a redirect URI of its public `spa`
//! client. Shared with `tests/browser.rs` and `tests/oidc_provider.rs`.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

/// The provider's client for the page (public, Authorization Code + PKCE).
pub const CLIENT_ID: &str = "spa";
/// The resource indicator of the API, and so the `aud` of its tokens.
pub const API_RESOURCE: &str = "urn:test:api";
/// `read` is one of the API's scopes at the provider.
pub const SCOPE: &str = "openid read";

pub const SETUP: &str = "the local OpenID provider needs Node.js >= 20.19 and npm on PATH (or \
     node in $NODE); its packages are installed with `npm ci --prefix e2e` from the repository \
     root";

const READY_PREFIX: &str = "OIDC_PROVIDER_ISSUER=";

/// The running provider. Dropping it kills the process; the script also
/// exits when its stdin (held here) closes, so it never outlives us.
pub struct LocalProvider {
    pub issuer: String,
    log: Arc<Mutex<String>>,
    _stdin: ChildStdin,
    _child: Child,
}

impl LocalProvider {
    /// What the provider wrote on stderr so far, for failure messages.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

/// Installs the provider's locked packages when they are missing, with the
/// ordinary client (`npm ci`) from `e2e/package-lock.json`; once per
/// process, so tests that start providers in parallel do not race.
fn ensure_installed(e2e: &Path) -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            if e2e
                .join("node_modules/oidc-provider/package.json")
                .is_file()
            {
                return Ok(());
            }
            eprintln!("installing the provider's packages: npm ci --prefix e2e");
            let output = std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--prefix"])
                .arg(e2e)
                .output()
                .map_err(|e| format!("cannot run npm ({e}): {SETUP}"))?;
            if output.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "`npm ci --prefix e2e` failed ({}): {}\n{SETUP}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                ))
            }
        })
        .clone()
}

/// Starts the provider on 127.0.0.1:`port` (0: any free port) and waits
/// (at most 30 s) until it serves. `spa_origin`, when given, is registered
/// as a redirect URI of the `spa` client.
pub async fn start(port: u16, spa_origin: Option<&str>) -> Result<LocalProvider, String> {
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e");
    ensure_installed(&e2e)?;
    let node = std::env::var_os("NODE").unwrap_or_else(|| "node".into());
    let mut child = Command::new(&node)
        .arg(e2e.join("provider.mjs"))
        .current_dir(&e2e)
        .env("PORT", port.to_string())
        .envs(spa_origin.map(|origin| ("SPA_ORIGIN", origin)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {node:?} ({e}): {SETUP}"))?;

    let log = Arc::new(Mutex::new(String::new()));
    let mut stderr = child.stderr.take().unwrap();
    let sink = log.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stderr.read(&mut buf).await {
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });

    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(issuer) = line.strip_prefix(READY_PREFIX) {
                return Some(issuer.to_owned());
            }
        }
        None
    })
    .await;
    let Ok(Some(issuer)) = ready else {
        let _ = child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
        // Give the stderr reader a moment to collect the last words.
        tokio::time::sleep(Duration::from_millis(200)).await;
        return Err(format!(
            "the OpenID provider did not start (no issuer on its stdout within 30 s).\n\
             {SETUP}.\nits stderr:\n{}",
            log.lock().unwrap()
        ));
    };
    // oidc-provider logs notices on stdout; keep the pipe from filling.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    Ok(LocalProvider {
        issuer,
        log,
        _stdin: child.stdin.take().unwrap(),
        _child: child,
    })
}
