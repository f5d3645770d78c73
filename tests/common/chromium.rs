//! Headless Chromium through chromedriver (W3C WebDriver), for the browser
//! tests (`tests/browser.rs`, `tests/browser_dpop.rs`), and the loopback
//! servers their pages talk to.
//!
//! Needs the Debian packages `chromium` and `chromium-driver`
//! (`/usr/bin/chromium`, `chromedriver` on PATH; `CHROMIUM` and
//! `CHROMEDRIVER` override the paths). Without them a test fails with
//! [`INSTALL`], never skips.
#![allow(dead_code)]

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

pub const INSTALL: &str = "the browser test needs Chromium and its WebDriver: on Debian, \
     `apt-get update && apt-get install -y chromium chromium-driver` \
     (or set CHROMIUM and CHROMEDRIVER to their paths)";

/// chromedriver answering its status page.
pub const DRIVER_LIMIT: Duration = Duration::from_secs(20);

/// A router served on 127.0.0.1 until dropped.
pub struct Served {
    pub origin: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on `listener` (bound to 127.0.0.1) until dropped.
pub fn serve_on(listener: StdListener, router: Router) -> Served {
    listener.set_nonblocking(true).unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let task = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Served { origin, task }
}

/// Serves `router` on a free loopback port until dropped.
pub fn serve(router: Router) -> Served {
    serve_on(loopback_listener(), router)
}

pub fn loopback_listener() -> StdListener {
    StdListener::bind("127.0.0.1:0").unwrap()
}

fn program(env: &str, default: &str) -> PathBuf {
    let path = PathBuf::from(std::env::var_os(env).unwrap_or_else(|| default.into()));
    let found = if path.components().count() > 1 {
        path.is_file()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|dirs| std::env::split_paths(&dirs).any(|d| d.join(&path).is_file()))
    };
    assert!(found, "{} not found: {INSTALL}", path.display());
    path
}

/// chromedriver on a free loopback port, in its own process group so that
/// the Chromium it starts goes down with it even when the test panics.
pub struct Driver {
    url: String,
    chromium: PathBuf,
    child: Child,
    profile: PathBuf,
}

impl Driver {
    /// chromedriver, ready; Chromium's profile goes to
    /// `target/<profile>-<pid>` and is removed on drop.
    pub async fn start(target: &Path, profile: &str) -> Driver {
        let chromium = program("CHROMIUM", "/usr/bin/chromium");
        let chromedriver = program("CHROMEDRIVER", "chromedriver");
        let port = loopback_listener().local_addr().unwrap().port();
        let mut child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {} ({e}): {INSTALL}", chromedriver.display()));
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        let http = reqwest::Client::new();
        let ready = tokio::time::timeout(DRIVER_LIMIT, async {
            loop {
                if let Ok(response) = http.get(&status).send().await {
                    let body: Value = response.json().await.unwrap_or_default();
                    if body["value"]["ready"] == true {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        if ready.is_err() {
            let _ = child.start_kill();
            panic!("chromedriver did not answer on {status} within {DRIVER_LIMIT:?}: {INSTALL}");
        }
        let profile = target.join(format!("{profile}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        Driver {
            url,
            chromium,
            child,
            profile,
        }
    }

    /// A headless Chromium session that resolves nothing but 127.0.0.1
    /// (a page's web fonts and the like fail at once rather than wait for
    /// a network that is not there).
    pub async fn browser(&self) -> Client {
        let chromium = &self.chromium;
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                    "--window-size=1000,1000",
                    format!("--user-data-dir={}", self.profile.display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver could not start {}: {e}\n{INSTALL}",
                    chromium.display()
                )
            })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every Chromium process under it.
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
