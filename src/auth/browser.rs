//! The browser login (PROTOCOL.md §2): PKCE, a callback server on 127.0.0.1, the code exchange.
//!
//! The code can arrive two ways: the browser's redirect to the callback server, or the person
//! pasting that redirect URL when the browser runs on another machine (over SSH the redirect to
//! `localhost` reaches the wrong computer). Both end in the same exchange.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::flow::{Flow, LoginError, LoginOptions, Pasted};

use super::oauth;
use super::pkce::Pkce;
use crate::config::{CLIENT_ID, ORIGINATOR};
use crate::humanize;
use crate::protocol::{Account, LoginEvent};

/// The page the browser lands on after a successful login.
const SUCCESS_PAGE: &str = include_str!("../../assets/success.html");
/// How long the server keeps serving the success page after the login is saved.
const SUCCESS_LINGER: Duration = Duration::from_secs(5);
/// How often a busy port is tried again while its old server exits.
const BIND_RETRY: Duration = Duration::from_millis(100);

/// The path the issuer redirects to.
pub const CALLBACK_PATH: &str = "/auth/callback";

/// `http://localhost:<port>/auth/callback`, the redirect URI on the issuer's allow-list.
pub fn redirect_uri(port: u16) -> String {
    format!("http://localhost:{port}{CALLBACK_PATH}")
}

/// The authorize URL of PROTOCOL.md §2.3.
pub fn authorize_url(issuer: &str, redirect_uri: &str, challenge: &str, state: &str) -> String {
    let params = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect_uri),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("state", state),
        ("scope", "openid profile email offline_access"),
        ("id_token_add_organizations", "true"),
        ("codex_cli_simplified_flow", "true"),
        ("originator", ORIGINATOR),
    ];
    let query: Vec<String> = params
        .iter()
        .map(|(key, value)| format!("{key}={}", encode(value)))
        .collect();
    format!("{issuer}/oauth/authorize?{}", query.join("&"))
}

/// Percent-encodes a query value with `%20` for spaces, as the issuer's examples do.
fn encode(value: &str) -> String {
    // byte_serialize turns a literal '+' into %2B, so every '+' left is a space.
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Runs the browser flow until the code is exchanged and saved, or it fails, times out or is
/// cancelled. The callback server is gone (or, after success, lingering for the success page
/// only) when this returns.
pub(crate) async fn run(
    flow: &Flow,
    pkce: Pkce,
    state: String,
    pastes: &mut mpsc::UnboundedReceiver<Pasted>,
    cancel: &CancellationToken,
) -> Result<Account, LoginError> {
    let listeners = tokio::select! {
        () = cancel.cancelled() => return Err(LoginError::Cancelled),
        bound = bind(&flow.options) => bound?,
    };
    let (server, mut callbacks) = CallbackServer::start(listeners, state.clone())?;
    let port = server.port;
    let redirect = redirect_uri(port);
    let url = authorize_url(&flow.options.issuer, &redirect, &pkce.challenge, &state);
    let opening = flow.options.open_browser && opens_here();
    flow.emit(LoginEvent::BrowserWaiting {
        authorize_url: url.clone(),
        port,
        opening,
    });
    if opening {
        open_browser(url, flow.events.clone());
    }

    let timeout = flow.options.browser_timeout;
    let waited = tokio::select! {
        () = cancel.cancelled() => Err(LoginError::Cancelled),
        () = tokio::time::sleep(timeout) => Err(LoginError::TimedOut(humanize::duration_words(timeout))),
        result = wait_for_code(flow, &pkce, &redirect, &mut callbacks, pastes) => result,
    };
    match waited {
        Ok(account) => {
            server.linger(flow.busy.clone());
            Ok(account)
        }
        Err(error) => {
            server.stop().await;
            Err(error)
        }
    }
}

/// Waits for the first callback or paste; each of them ends the login one way or another.
async fn wait_for_code(
    flow: &Flow,
    pkce: &Pkce,
    redirect: &str,
    callbacks: &mut mpsc::UnboundedReceiver<Callback>,
    pastes: &mut mpsc::UnboundedReceiver<Pasted>,
) -> Result<Account, LoginError> {
    tokio::select! {
        callback = callbacks.recv() => match callback {
            Some(Callback::Code { code, reply }) => {
                let result = exchange_and_save(flow, pkce, redirect, &code).await;
                let _ = reply.send(result.as_ref().map(|_| ()).map_err(ToString::to_string));
                result
            }
            Some(Callback::Error { error, description }) => {
                Err(provider_error(&error, description.as_deref()))
            }
            Some(Callback::MissingCode) => Err(LoginError::MissingCode),
            Some(Callback::Cancel) | None => Err(LoginError::Cancelled),
        },
        Some(pasted) = pastes.recv() => match pasted {
            Pasted::Code(code) => exchange_and_save(flow, pkce, redirect, &code).await,
            Pasted::Error { error, description } => {
                Err(provider_error(&error, description.as_deref()))
            }
        },
    }
}

async fn exchange_and_save(
    flow: &Flow,
    pkce: &Pkce,
    redirect: &str,
    code: &str,
) -> Result<Account, LoginError> {
    flow.emit(LoginEvent::Exchanging);
    let tokens = oauth::exchange_code(
        &flow.http,
        &flow.options.issuer,
        code,
        redirect,
        &pkce.verifier,
    )
    .await?;
    let entry = oauth::entry_from_tokens(&tokens, None)?;
    let account = oauth::account_from_tokens(&tokens, &entry);
    super::logins::save_login(&flow.store, flow.options.name.clone(), entry).await?;
    Ok(account)
}

/// The `error=` of a redirect as a login error (PROTOCOL.md §2.4).
fn provider_error(error: &str, description: Option<&str>) -> LoginError {
    let description = description.map(oauth::one_line);
    if description
        .as_deref()
        .is_some_and(|d| d.contains("missing_codex_entitlement"))
        || error == "missing_codex_entitlement"
    {
        return LoginError::NoCodexEntitlement;
    }
    LoginError::Denied(match description {
        Some(description) => format!("{description} ({error})"),
        None => oauth::one_line(error),
    })
}

/// Opens the URL in the system browser off the async threads; a failure only means the person
/// uses the printed URL.
fn open_browser(url: String, events: mpsc::UnboundedSender<LoginEvent>) {
    crate::task::spawn_blocking(move || {
        if let Err(error) = webbrowser::open(&url) {
            tracing::info!(%error, "could not open a browser; the URL is shown instead");
            let _ = events.send(LoginEvent::BrowserNotOpened);
        }
    });
}

/// Browsers that run in the terminal: started under a UI or a stdio protocol they would read
/// its input and draw over its output.
const TEXT_BROWSERS: &[&str] = &["w3m", "lynx", "links", "elinks", "browsh", "www-browser"];

/// What `BROWSER` names: nothing, a browser that runs in the terminal, or a program the
/// person chose (VS Code's remote terminals set one that opens the URL on their own machine
/// and forwards the callback port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BrowserVar {
    Unset,
    InTerminal,
    Program,
}

fn browser_var() -> BrowserVar {
    let Some(browser) = std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty())
    else {
        return BrowserVar::Unset;
    };
    let in_terminal = browser.split(':').any(|b| {
        let program = b.split_whitespace().next().unwrap_or_default();
        let name = std::path::Path::new(program)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        TEXT_BROWSERS.contains(&name)
    });
    if in_terminal {
        BrowserVar::InTerminal
    } else {
        BrowserVar::Program
    }
}

/// Whether `BROWSER` names a browser that runs in the terminal.
pub fn text_browser_set() -> bool {
    browser_var() == BrowserVar::InTerminal
}

/// Whether `BROWSER` names a program of the person's choosing (not a terminal browser).
pub fn browser_program_set() -> bool {
    browser_var() == BrowserVar::Program
}

/// Whether a browser can open in front of the person, the one rule for the TUI, `kelp login`
/// and ACP: never with `NO_BROWSER` or a terminal browser; always with a `BROWSER` program,
/// display or not (it is the person's choice); else where there is a display (always on
/// macOS; X11 or Wayland elsewhere, forwarded over SSH included).
pub fn opens_here() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("NO_BROWSER") {
        return false;
    }
    match browser_var() {
        BrowserVar::InTerminal => false,
        BrowserVar::Program => true,
        BrowserVar::Unset => cfg!(target_os = "macos") || set("DISPLAY") || set("WAYLAND_DISPLAY"),
    }
}

/// Binds the callback port on every loopback address `localhost` may name (127.0.0.1, and
/// ::1 where the machine has IPv6): the preferred port, else (after asking an older login
/// server there to exit) the fallback. A browser that tries ::1 first must find kelp there,
/// not whatever else took that address's port.
async fn bind(options: &LoginOptions) -> Result<Vec<TcpListener>, LoginError> {
    let primary = options.callback_port;
    let listen_error = |port: u16, e: std::io::Error| LoginError::Listen {
        port,
        reason: e.to_string(),
    };
    match bind_loopback(primary).await {
        Ok(listeners) => return Ok(listeners),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && primary != 0 => {}
        Err(e) => return Err(listen_error(primary, e)),
    }
    tracing::info!(
        port = primary,
        "callback port busy; asking its server to exit"
    );
    ask_to_cancel(primary);
    let deadline = tokio::time::Instant::now() + options.busy_port_wait;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(BIND_RETRY).await;
        match bind_loopback(primary).await {
            Ok(listeners) => return Ok(listeners),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {}
            Err(e) => return Err(listen_error(primary, e)),
        }
    }
    let Some(fallback) = options.fallback_port else {
        return Err(listen_error(
            primary,
            std::io::Error::from(std::io::ErrorKind::AddrInUse),
        ));
    };
    match bind_loopback(fallback).await {
        Ok(listeners) => Ok(listeners),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            Err(LoginError::PortsBusy { primary, fallback })
        }
        Err(e) => Err(listen_error(fallback, e)),
    }
}

/// `port` on 127.0.0.1 and on ::1 (port 0: one free port, the same on both). A ::1 port held
/// by someone else counts as the port being busy; a machine without IPv6 gets 127.0.0.1 alone.
async fn bind_loopback(port: u16) -> std::io::Result<Vec<TcpListener>> {
    let mut tries = if port == 0 { 5 } else { 1 };
    loop {
        let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let bound = v4.local_addr()?.port();
        match TcpListener::bind((Ipv6Addr::LOCALHOST, bound)).await {
            Ok(v6) => return Ok(vec![v4, v6]),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                tries -= 1;
                if tries == 0 {
                    return Err(e);
                }
            }
            Err(e) => {
                tracing::info!(error = %e, "no IPv6 loopback for the callback");
                return Ok(vec![v4]);
            }
        }
    }
}

/// Sends `GET /cancel` to whatever holds `port`, as Codex does, so an abandoned kelp (or Codex)
/// login there lets go. Fire and forget: the bind retries are what count.
fn ask_to_cancel(port: u16) {
    crate::task::spawn(async move {
        let client = crate::http::builder()
            .no_proxy()
            .timeout(Duration::from_secs(1))
            .build();
        if let Ok(client) = client {
            let _ = client
                .get(format!("http://127.0.0.1:{port}/cancel"))
                .send()
                .await;
        }
    });
}

/// What the callback server passes to the flow.
enum Callback {
    /// A code with the right state; the reply says whether the exchange worked.
    Code {
        code: String,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// The issuer redirected with `error=`.
    Error {
        error: String,
        description: Option<String>,
    },
    /// The right state but no code and no error.
    MissingCode,
    /// `GET /cancel`.
    Cancel,
}

struct ServerState {
    state: String,
    /// The port in the redirect, which every request's `Host` must name.
    port: u16,
    callbacks: mpsc::UnboundedSender<Callback>,
    success_served: Notify,
}

/// The local server the browser is redirected to.
struct CallbackServer {
    port: u16,
    tasks: Vec<JoinHandle<()>>,
    shared: Arc<ServerState>,
}

impl CallbackServer {
    fn start(
        listeners: Vec<TcpListener>,
        state: String,
    ) -> Result<(Self, mpsc::UnboundedReceiver<Callback>), LoginError> {
        let port = listeners
            .first()
            .map(TcpListener::local_addr)
            .transpose()
            .map_err(|e| LoginError::Listen {
                port: 0,
                reason: e.to_string(),
            })?
            .map_or(0, |addr| addr.port());
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(ServerState {
            state,
            port,
            callbacks: tx,
            success_served: Notify::new(),
        });
        let tasks = listeners
            .into_iter()
            .map(|listener| crate::task::spawn(serve(listener, Arc::clone(&shared))))
            .collect();
        Ok((
            Self {
                port,
                tasks,
                shared,
            },
            rx,
        ))
    }

    /// Closes the listening sockets now. Aborting drops the listeners, so the port is free when
    /// this returns; connections already accepted finish on their own.
    async fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Stops once the browser has fetched the success page, or after a short while.
    /// `busy` is dropped once the server is gone.
    fn linger(self, busy: watch::Sender<()>) {
        crate::task::spawn(async move {
            let served = self.shared.success_served.notified();
            let _ = tokio::time::timeout(SUCCESS_LINGER, served).await;
            self.stop().await;
            drop(busy);
        });
    }
}

/// Accepts connections on one of the server's addresses, each served on a task of its own.
async fn serve(listener: TcpListener, server: Arc<ServerState>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "the login callback server could not accept");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let server = Arc::clone(&server);
        let service = hyper::service::service_fn(move |request| {
            let server = Arc::clone(&server);
            async move { Ok::<_, std::convert::Infallible>(route(&server, request).await) }
        });
        crate::task::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::info!(%error, "a login callback connection ended");
            }
        });
    }
}

type Response = hyper::Response<Full<Bytes>>;

/// A response with a status, a content type and a body.
fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response {
    let mut response = hyper::Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn text(status: StatusCode, body: &'static str) -> Response {
    reply(status, "text/plain; charset=utf-8", body)
}

async fn route(server: &ServerState, request: Request<Incoming>) -> Response {
    if request.method() != hyper::Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    }
    // A page whose name was rebound to 127.0.0.1 reaches this port with its own name as the
    // host: only the redirect's host (or the loopback address itself) is served.
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|host| host.to_str().ok());
    if !host.is_some_and(|host| is_own_host(host, server.port)) {
        return text(StatusCode::MISDIRECTED_REQUEST, "Not this server");
    }
    let query = request.uri().query().unwrap_or("").as_bytes();
    let params: HashMap<String, String> = url::form_urlencoded::parse(query).into_owned().collect();
    match request.uri().path() {
        CALLBACK_PATH => callback(server, params).await,
        "/success" => success(server),
        "/cancel" => cancel(server, &params),
        _ => text(StatusCode::NOT_FOUND, "Not found"),
    }
}

/// Whether `host` names this server: `localhost`, `127.0.0.1` or `[::1]` with its port.
fn is_own_host(host: &str, port: u16) -> bool {
    ["localhost", "127.0.0.1", "[::1]"]
        .iter()
        .any(|name| host.eq_ignore_ascii_case(&format!("{name}:{port}")))
}

async fn callback(server: &ServerState, params: HashMap<String, String>) -> Response {
    // Anything on this machine can reach the port, so a wrong state is answered and ignored.
    if params.get("state") != Some(&server.state) {
        return text(StatusCode::BAD_REQUEST, "State mismatch");
    }
    let over = || {
        page(
            StatusCode::GONE,
            "This login is over",
            "Go back to the terminal.",
        )
    };
    if let Some(error) = params.get("error") {
        let description = params.get("error_description").cloned();
        let message = provider_error(error, description.as_deref()).to_string();
        let sent = server.callbacks.send(Callback::Error {
            error: error.clone(),
            description,
        });
        if sent.is_err() {
            return over();
        }
        return page(StatusCode::OK, "Sign-in failed", &message);
    }
    let Some(code) = params.get("code").filter(|c| !c.is_empty()) else {
        let _ = server.callbacks.send(Callback::MissingCode);
        let message = LoginError::MissingCode.to_string();
        return page(StatusCode::BAD_REQUEST, "Sign-in failed", &message);
    };
    let (reply, result) = oneshot::channel();
    let sent = server.callbacks.send(Callback::Code {
        code: code.clone(),
        reply,
    });
    if sent.is_err() {
        return over();
    }
    match result.await {
        Ok(Ok(())) => {
            let mut found = text(StatusCode::FOUND, "");
            found
                .headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static("/success"));
            found
        }
        Ok(Err(message)) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Sign-in failed",
            &message,
        ),
        Err(_) => over(),
    }
}

fn success(server: &ServerState) -> Response {
    server.success_served.notify_one();
    reply(StatusCode::OK, "text/html; charset=utf-8", SUCCESS_PAGE)
}

/// `GET /cancel?state=…`: only the login's own state ends it, so a page that points an image
/// at this port cannot.
fn cancel(server: &ServerState, params: &HashMap<String, String>) -> Response {
    if params.get("state") != Some(&server.state) {
        return text(StatusCode::BAD_REQUEST, "State mismatch");
    }
    let _ = server.callbacks.send(Callback::Cancel);
    text(StatusCode::OK, "Login cancelled")
}

/// A minimal HTML page; the message is escaped because parts of it come from the query.
fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>kelp: {title}</title>\
         <body style=\"font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto\">\
         <h1>{title}</h1><p>{}</p></body>",
        escape_html(message)
    );
    reply(status, "text/html; charset=utf-8", body)
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorize_url_carries_every_parameter_encoded() {
        let url = authorize_url("http://127.0.0.1:9", &redirect_uri(1455), "chal", "st");
        assert!(url.starts_with("http://127.0.0.1:9/oauth/authorize?response_type=code&"));
        assert!(url.contains("&client_id=app_EMoamEEZ73f0CkXaXp7hrann&"));
        assert!(url.contains("&redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback&"));
        assert!(url.contains("&code_challenge=chal&code_challenge_method=S256&state=st&"));
        assert!(url.contains("&scope=openid%20profile%20email%20offline_access&"));
        assert!(url.ends_with(
            "&id_token_add_organizations=true&codex_cli_simplified_flow=true&originator=kelp"
        ));
    }

    #[test]
    fn provider_errors_read_well() {
        assert!(matches!(
            provider_error("access_denied", Some("missing_codex_entitlement")),
            LoginError::NoCodexEntitlement
        ));
        assert_eq!(
            provider_error("access_denied", Some("The user said\nno")).to_string(),
            "sign-in refused: The user said no (access_denied). Start the login again if that \
             was a mistake"
        );
        assert!(
            provider_error("access_denied", None)
                .to_string()
                .contains("access_denied")
        );
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<a href='x'>&</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_success_page_says_it_worked() {
        assert!(SUCCESS_PAGE.contains("signed in"));
        assert!(SUCCESS_PAGE.contains("close this tab"));
    }
}
