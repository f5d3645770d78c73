//! The wrk target: one contender's axum router on a loopback address.
//!
//! ```text
//! cargo run --release -- <contender> <addr> [--seconds N] [--tokens PATH]
//!                        [--count N] [--alg RS256|ES256]
//! ```
//!
//! `contender` is one of noauth, oidc-bearer, oidc-bearer-nocache,
//! jwt-authorizer, axum-jwt-auth; `addr` must be a 127.0.0.0/8 address.
//! The server starts its own provider (JWKS on 127.0.0.1, fresh key),
//! writes `--count` (10,000) distinct valid tokens to `--tokens`
//! (`target/tokens.txt`), one a line, and one tampered token to
//! `<tokens>.tampered`, checks its own router answers 200/401 for them, then
//! listens and prints `READY <contender> http://<addr>/` on stdout. It exits
//! on SIGINT/SIGTERM or after `--seconds` (300).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use oidc_bearer_compare::{Contender, Fixture, check, router, tamper};
use oidc_bearer_testkit::KeyKind;

struct Args {
    contender: Contender,
    addr: SocketAddr,
    seconds: u64,
    tokens: PathBuf,
    count: usize,
    kind: KeyKind,
}

const USAGE: &str = "usage: oidc-bearer-compare <noauth|oidc-bearer|oidc-bearer-nocache|\
jwt-authorizer|axum-jwt-auth> <127.0.0.1:PORT> [--seconds N] [--tokens PATH] [--count N] \
[--alg RS256|ES256]";

fn parse() -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut seconds = 300;
    let mut tokens = PathBuf::from("target/tokens.txt");
    let mut count = 10_000;
    let mut kind = KeyKind::Rsa2048;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--seconds" => {
                seconds = value("--seconds")?
                    .parse()
                    .map_err(|e| format!("--seconds: {e}"))?;
            }
            "--tokens" => tokens = PathBuf::from(value("--tokens")?),
            "--count" => {
                count = value("--count")?
                    .parse()
                    .map_err(|e| format!("--count: {e}"))?;
            }
            "--alg" => {
                kind = match value("--alg")?.as_str() {
                    "RS256" => KeyKind::Rsa2048,
                    "ES256" => KeyKind::EcP256,
                    other => return Err(format!("--alg {other}: RS256 or ES256")),
                };
            }
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ => positional.push(arg),
        }
    }
    let [contender, addr] = <[String; 2]>::try_from(positional)
        .map_err(|_| "expected a contender and an address".to_string())?;
    let contender = Contender::parse(&contender).ok_or_else(|| {
        format!(
            "unknown contender {contender:?}; one of: {}",
            Contender::ALL.map(Contender::name).join(", ")
        )
    })?;
    let addr: SocketAddr = addr.parse().map_err(|e| format!("address {addr:?}: {e}"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "{addr} is not a loopback address: this server stays on 127.0.0.1"
        ));
    }
    if count == 0 || seconds == 0 {
        return Err("--count and --seconds must be above zero".into());
    }
    Ok(Args {
        contender,
        addr,
        seconds,
        tokens,
        count,
        kind,
    })
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), String> {
    let fixture = Fixture::start(args.kind).await;

    let started = Instant::now();
    let minting = fixture.clone();
    let count = args.count;
    let tokens = tokio::task::spawn_blocking(move || minting.tokens(count))
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "minted {} {} tokens in {:.1} s",
        tokens.len(),
        fixture.alg(),
        started.elapsed().as_secs_f64()
    );
    if let Some(dir) = args.tokens.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut text = tokens.join("\n");
    text.push('\n');
    std::fs::write(&args.tokens, text).map_err(|e| format!("{}: {e}", args.tokens.display()))?;
    let mut tampered_path = args.tokens.clone().into_os_string();
    tampered_path.push(".tampered");
    std::fs::write(&tampered_path, format!("{}\n", tamper(&tokens[0])))
        .map_err(|e| format!("{}: {e}", args.tokens.display()))?;

    let app = router(args.contender, &fixture).await?;
    check(args.contender, &app, &fixture, &tokens[0]).await?;

    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("bind {}: {e}", args.addr))?;
    println!(
        "READY {} http://{}/ tokens={} alg={}",
        args.contender,
        args.addr,
        args.tokens.display(),
        fixture.alg()
    );
    let seconds = args.seconds;
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let why = tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                () = terminate() => "SIGTERM",
                () = tokio::time::sleep(Duration::from_secs(seconds)) => "timeout",
            };
            eprintln!("stopping ({why})");
        })
        .await
        .map_err(|e| e.to_string())?;
    // Keep the provider alive until the server is done.
    drop(fixture);
    Ok(())
}

#[cfg(unix)]
async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending().await
}
