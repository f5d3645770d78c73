//! WebSocket with a bearer token. A browser's `new WebSocket(url, protocols)`
//! cannot set `Authorization`, so the token travels another way:
//!
//! (a) in `Sec-WebSocket-Protocol`, as `new WebSocket(url, ["bearer",
//!     token])`: the server verifies it before the upgrade, answers a bad
//!     token with the 401 of the HTTP layer (never a 101), and echoes only
//!     `bearer` as the selected protocol, never the token;
//! (b) as the first message after an unauthenticated upgrade: nothing else
//!     is read before it is verified, and a bad (or missing, or late) token
//!     closes the socket with 1008, policy violation.
//!
//! (a) keeps unauthenticated clients off the WebSocket entirely; (b) keeps
//! the token out of handshake headers that proxies may log. Either way the
//! socket can outlive the token's `exp`: an application that cares closes
//! it then, or asks for a fresh token over the socket.
//!
//! Runs on its own with an embedded provider on 127.0.0.1 (axum's `ws`
//! server, a tokio-tungstenite client), prints what happened, and stops:
//!
//! ```text
//! cargo run --example websocket
//! ```

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::extract::ws::{self, CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, Response, header::SEC_WEBSOCKET_PROTOCOL};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use oidc_bearer::rejection::rejection_parts;
use oidc_bearer::{Claims, Error, StandardClaims, Validator};
use oidc_bearer_testkit::{TestIssuer, now};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

const AUDIENCE: &str = "chat-api";
/// The subprotocol that marks the next offered protocol as the token.
const BEARER_PROTOCOL: &str = "bearer";
/// How long a client of (b) has to send its token.
const FIRST_MESSAGE_WAIT: Duration = Duration::from_secs(5);
/// Every wait of the client.
const WAIT: Duration = Duration::from_secs(10);

// ------------------------------------------------------------------ server

/// (a) The token is the protocol offered after `bearer`.
async fn token_in_protocol(
    State(validator): State<Validator>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response<Body> {
    let claims = match protocol_token(&headers) {
        Some(token) => validator.verify::<StandardClaims>(token).await,
        None => Err(Error::MissingToken),
    };
    match claims {
        // `protocols` selects `bearer` from those offered: the only one
        // echoed back in the 101.
        Ok(claims) => upgrade
            .protocols([BEARER_PROTOCOL])
            .on_upgrade(move |socket| greet_and_echo(socket, claims)),
        // The answer the bearer layer gives: status and WWW-Authenticate.
        Err(error) => Response::from_parts(rejection_parts(&error, None), Body::empty()),
    }
}

/// `Sec-WebSocket-Protocol: bearer, <token>` (in one header or several).
fn protocol_token(headers: &HeaderMap) -> Option<&str> {
    let mut offered = headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim);
    offered.find(|p| *p == BEARER_PROTOCOL)?;
    offered.next().filter(|token| !token.is_empty())
}

/// (b) Upgrade first; the first message must be the token.
async fn token_as_first_message(
    State(validator): State<Validator>,
    upgrade: WebSocketUpgrade,
) -> Response<Body> {
    upgrade.on_upgrade(move |mut socket| async move {
        let first = tokio::time::timeout(FIRST_MESSAGE_WAIT, socket.recv()).await;
        let claims = match first {
            Ok(Some(Ok(Message::Text(token)))) => {
                validator.verify::<StandardClaims>(token.as_str()).await
            }
            // Late, closed, binary, or a transport error: no token.
            _ => Err(Error::MissingToken),
        };
        match claims {
            Ok(claims) => greet_and_echo(socket, claims).await,
            Err(error) => {
                // 1008 with the error's description (which rule failed,
                // never the token); a close reason holds at most 123 bytes.
                let mut reason = error.description();
                reason.truncate(123);
                let close = CloseFrame {
                    code: ws::close_code::POLICY,
                    reason: reason.into(),
                };
                if socket.send(Message::Close(Some(close))).await.is_err() {
                    return;
                }
                // The closing handshake: wait (bounded) for the client's
                // Close, discarding whatever it sent meanwhile unread.
                // Dropping the socket at once, with such data unread, could
                // reset the connection before the client reads the 1008.
                let drain = async { while let Some(Ok(_)) = socket.recv().await {} };
                let _ = tokio::time::timeout(FIRST_MESSAGE_WAIT, drain).await;
            }
        }
    })
}

/// An authenticated socket: a greeting, then an echo of each text message.
async fn greet_and_echo(mut socket: WebSocket, claims: Claims<StandardClaims>) {
    let who = claims.sub.clone().unwrap_or_default();
    if socket
        .send(Message::Text(format!("hello {who}").into()))
        .await
        .is_err()
    {
        return;
    }
    while let Some(Ok(message)) = socket.recv().await {
        match message {
            Message::Text(text) => {
                let echo = Message::Text(format!("echo: {}", text.as_str()).into());
                if socket.send(echo).await.is_err() {
                    return;
                }
            }
            Message::Close(_) => return,
            _ => {}
        }
    }
}

// ------------------------------------------------------------------ client

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects to `url` offering `protocols`; the upgrade's answer.
async fn connect(url: &str, protocols: Option<String>) -> Result<(Client, Option<String>), String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    if let Some(protocols) = protocols {
        let value = protocols.parse().map_err(|_| "not a header value")?;
        request.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, value);
    }
    match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request)).await {
        Err(_) => Err(format!("no answer within {WAIT:?}")),
        Ok(Ok((socket, response))) => {
            let selected = response
                .headers()
                .get(SEC_WEBSOCKET_PROTOCOL)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            Ok((socket, selected))
        }
        // The upgrade was refused: the HTTP answer.
        Ok(Err(tungstenite::Error::Http(response))) => {
            let challenge = response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            Err(format!(
                "{} (no upgrade), WWW-Authenticate: {challenge}",
                response.status().as_u16()
            ))
        }
        Ok(Err(error)) => Err(error.to_string()),
    }
}

/// The next text message, or how the socket ended.
async fn next_text(socket: &mut Client) -> String {
    loop {
        match tokio::time::timeout(WAIT, socket.next()).await {
            Err(_) => return format!("nothing within {WAIT:?}"),
            Ok(None) => return "closed without a close frame".into(),
            Ok(Some(Err(error))) => return format!("error: {error}"),
            Ok(Some(Ok(tungstenite::Message::Text(text)))) => return text.as_str().to_owned(),
            Ok(Some(Ok(tungstenite::Message::Close(frame)))) => {
                return match frame {
                    Some(frame) => format!(
                        "closed {} \"{}\"",
                        u16::from(frame.code),
                        frame.reason.as_str()
                    ),
                    None => "closed".into(),
                };
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Sends a text message; a failure ends the example.
async fn send(socket: &mut Client, text: &str) -> Result<(), Box<dyn std::error::Error>> {
    tokio::time::timeout(WAIT, socket.send(tungstenite::Message::Text(text.into()))).await??;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = TestIssuer::start().await;
    let validator = Validator::discover(&issuer.issuer)
        .audience(AUDIENCE)
        .build()
        .await?;
    let app = Router::new()
        .route("/ws/protocol", get(token_in_protocol))
        .route("/ws/message", get(token_as_first_message))
        .with_state(validator);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("ws://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let valid = issuer
        .builder(AUDIENCE)
        .claim("sub", "alice")
        .sign(&issuer.key);
    let expired = issuer
        .builder(AUDIENCE)
        .claim("iat", now() - 7200)
        .claim("exp", now() - 3600)
        .sign(&issuer.key);

    // (a) The token in Sec-WebSocket-Protocol.
    let url = format!("{base}/ws/protocol");
    println!("(a) token in Sec-WebSocket-Protocol: {url}");
    for (what, token) in [
        ("valid token", Some(&valid)),
        ("expired token", Some(&expired)),
        ("no token", None),
    ] {
        let protocols = token.map(|token| format!("{BEARER_PROTOCOL}, {token}"));
        match connect(&url, protocols).await {
            Ok((mut socket, selected)) => {
                let greeting = next_text(&mut socket).await;
                send(&mut socket, "ping").await?;
                let echo = next_text(&mut socket).await;
                let _ = socket.close(None).await;
                let selected = selected.as_deref().unwrap_or("none");
                // Printed only when it is the expected `bearer`, so the
                // token can never reach the output.
                let selected = if selected == BEARER_PROTOCOL {
                    selected
                } else {
                    "something other than bearer"
                };
                println!(
                    "    {what:<14} 101, protocol {selected:?}; server: {greeting:?}, {echo:?}"
                );
            }
            Err(refused) => println!("    {what:<14} {refused}"),
        }
    }

    // (b) The token as the first message.
    let url = format!("{base}/ws/message");
    println!("(b) token as the first message: {url}");
    for (what, token) in [("valid token", &valid), ("expired token", &expired)] {
        let (mut socket, _) = connect(&url, None).await?;
        send(&mut socket, token).await?;
        // Sent at once, before any answer: must not be processed unless
        // the token was good (and may find the socket closed already).
        let _ = tokio::time::timeout(WAIT, socket.send(tungstenite::Message::Text("ping".into())))
            .await;
        let first = next_text(&mut socket).await;
        let second = if first.starts_with("closed") {
            "-".to_owned()
        } else {
            next_text(&mut socket).await
        };
        let _ = tokio::time::timeout(WAIT, socket.close(None)).await;
        println!("    {what:<14} server: {first:?}, {second:?}");
    }
    Ok(())
}
