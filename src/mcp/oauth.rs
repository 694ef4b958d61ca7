//! Signing in to an MCP server over streamable HTTP with OAuth, as the MCP authorization spec
//! has it: the server's protected-resource metadata (RFC 9728, found from its 401's
//! `WWW-Authenticate` or the well-known path) names its authorization server, whose metadata
//! (RFC 8414) names the endpoints; kelp registers itself (RFC 7591), sends the person to the
//! authorization page with PKCE (S256) and the server as the `resource` (RFC 8707), takes the
//! code on a loopback callback, and exchanges it. The tokens are kept in `mcp-auth.json`
//! beside `auth.json` (private, atomic, locked), never in `config.toml`, and refreshed before
//! they run out.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::auth::pkce;
use crate::private_file;

/// How long one request to the authorization server may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the person has to sign in.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);
/// A token this close to its end is refreshed before use.
const REFRESH_MARGIN_MS: u64 = 60_000;
/// The largest token file read.
const MAX_STORE_BYTES: u64 = 1024 * 1024;

/// The file the tokens live in, beside kelp's auth file.
pub fn store_path(auth_file: &Path) -> PathBuf {
    private_file::parent_dir(auth_file).join("mcp-auth.json")
}

/// One server's login, as kept.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tokens {
    /// The server's URL: a login is used only for the server it was made for.
    pub url: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub token_endpoint: String,
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// When the access token runs out, in milliseconds since the epoch (none: it does not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
}

// By hand: the tokens are secrets.
impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

/// Where a server's sign-in stands, for `/mcp`, `kelp doctor` and the app-server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthState {
    /// A program kelp starts: it takes no sign-in.
    Unsupported,
    /// Signed in with OAuth.
    OAuth,
    /// A token from a variable (`bearer_token_env_var`).
    BearerToken,
    /// Nothing kept: the server may not need it.
    None,
}

impl AuthState {
    /// Codex's words for it: in `mcp list --json`, in the app-server's `mcpServerStatus/list`,
    /// and in its table.
    pub fn as_codex_says(self) -> AuthWords {
        let (json, app_server, label) = match self {
            Self::Unsupported => ("unsupported", "unsupported", "Unsupported"),
            Self::OAuth => ("o_auth", "oAuth", "OAuth"),
            Self::BearerToken => ("bearer_token", "bearerToken", "Bearer token"),
            Self::None => ("not_logged_in", "notLoggedIn", "Not logged in"),
        };
        AuthWords {
            json,
            app_server,
            label,
        }
    }
}

/// An [`AuthState`] as each of Codex's faces names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthWords {
    /// `codex mcp list --json`'s `auth_status`.
    pub json: &'static str,
    /// The app-server's `authStatus`.
    pub app_server: &'static str,
    /// `codex mcp list`'s table.
    pub label: &'static str,
}

/// How `server` is signed in to, with the logins kept in `store` (none given: none kept).
pub fn auth_state(server: &crate::config::McpServerConfig, store: Option<&Path>) -> AuthState {
    use crate::config::McpTransport;
    match &server.transport {
        McpTransport::Stdio { .. } => AuthState::Unsupported,
        McpTransport::Http {
            bearer_token_env_var: Some(_),
            ..
        } => AuthState::BearerToken,
        McpTransport::Http { url, .. } => {
            match store.and_then(|store| stored(store, &server.name, url)) {
                Some(_) => AuthState::OAuth,
                None => AuthState::None,
            }
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn read_store(path: &Path) -> BTreeMap<String, Tokens> {
    match private_file::read_private(path, MAX_STORE_BYTES) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!(path = %path.display(), error = %e, "the MCP logins are unreadable");
            BTreeMap::new()
        }),
        Err(_) => BTreeMap::new(),
    }
}

/// Changes the store under its lock, written atomically and private.
fn change_store(
    path: &Path,
    change: impl FnOnce(&mut BTreeMap<String, Tokens>),
) -> Result<(), String> {
    let dir = private_file::parent_dir(path);
    private_file::create_private_dir(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let _lock = private_file::lock_beside(path).map_err(|e| e.to_string())?;
    let mut all = read_store(path);
    change(&mut all);
    let text = serde_json::to_vec_pretty(&all).map_err(|e| e.to_string())?;
    private_file::replace(path, &text).map_err(|e| e.to_string())
}

/// The login kept for server `name` at `url`, if any.
pub fn stored(store: &Path, name: &str, url: &str) -> Option<Tokens> {
    read_store(store)
        .remove(name)
        .filter(|tokens| tokens.url == url)
}

/// Forgets server `name`'s login; whether there was one.
pub fn logout(store: &Path, name: &str) -> Result<bool, String> {
    let mut had = false;
    change_store(store, |all| had = all.remove(name).is_some())?;
    Ok(had)
}

/// The access token for server `name` at `url`: the kept one, refreshed first when it runs
/// out within a minute. `None` when there is no login (or its refresh was refused).
pub async fn access_token(
    http: &reqwest::Client,
    store: &Path,
    name: &str,
    url: &str,
) -> Option<String> {
    let tokens = stored(store, name, url)?;
    let fresh = tokens
        .expires_at_ms
        .is_none_or(|at| at > now_ms() + REFRESH_MARGIN_MS);
    if fresh {
        return Some(tokens.access_token);
    }
    let refresh = tokens.refresh_token.clone()?;
    let mut form = vec![
        ("grant_type", "refresh_token".to_string()),
        ("refresh_token", refresh),
        ("client_id", tokens.client_id.clone()),
    ];
    if let Some(secret) = &tokens.client_secret {
        form.push(("client_secret", secret.clone()));
    }
    match token_request(http, &tokens.token_endpoint, &form).await {
        Ok(answer) => {
            let renewed = answer.into_tokens(tokens.clone());
            let access = renewed.access_token.clone();
            let saved = change_store(store, |all| {
                all.insert(name.to_string(), renewed);
            });
            if let Err(e) = saved {
                tracing::warn!(server = name, error = %e, "a refreshed MCP login was not kept");
            }
            Some(access)
        }
        Err(e) => {
            tracing::warn!(server = name, error = %e, "the MCP login could not be refreshed");
            None
        }
    }
}

/// What a token endpoint answers.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenAnswer {
    /// `before` with this answer's tokens (a refresh that brings no new refresh token keeps
    /// the old one).
    fn into_tokens(self, before: Tokens) -> Tokens {
        Tokens {
            access_token: self.access_token,
            refresh_token: self.refresh_token.or(before.refresh_token),
            expires_at_ms: self
                .expires_in
                .map(|secs| now_ms().saturating_add(secs.saturating_mul(1000))),
            ..before
        }
    }
}

async fn token_request(
    http: &reqwest::Client,
    endpoint: &str,
    form: &[(&str, String)],
) -> Result<TokenAnswer, String> {
    let response = http
        .post(endpoint)
        .form(form)
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("the token endpoint did not answer ({})", e.without_url()))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let error = body["error"].as_str().unwrap_or("no reason given");
        return Err(format!(
            "the token endpoint refused (HTTP {}: {error})",
            status.as_u16()
        ));
    }
    serde_json::from_value(body)
        .map_err(|_| "the token endpoint's answer has no access token".to_string())
}

/// The endpoints of a server's authorization server.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub registration: Option<String>,
}

/// The well-known URL of `suffix` for `url`, as RFC 8414 and RFC 9728 build it: the suffix
/// between the host and the path.
fn well_known(url: &url::Url, suffix: &str) -> String {
    let path = url.path().trim_end_matches('/');
    format!(
        "{}/.well-known/{suffix}{path}",
        url.origin().ascii_serialization()
    )
}

async fn get_json(http: &reqwest::Client, url: &str) -> Option<Value> {
    let response = http.get(url).timeout(REQUEST_TIMEOUT).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

/// Finds the authorization server of the MCP server at `server_url`, and its endpoints.
pub async fn discover(http: &reqwest::Client, server_url: &str) -> Result<Endpoints, String> {
    let url = url::Url::parse(server_url).map_err(|e| format!("{server_url}: {e}"))?;
    // The server's own 401 may say where its metadata is.
    let challenged = http
        .post(server_url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body("{}")
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .ok()
        .and_then(|response| {
            let header = response.headers().get("www-authenticate")?.to_str().ok()?;
            let start = header.find("resource_metadata=\"")? + "resource_metadata=\"".len();
            let rest = &header[start..];
            Some(rest[..rest.find('"')?].to_string())
        });
    let mut candidates: Vec<String> = challenged.into_iter().collect();
    candidates.push(well_known(&url, "oauth-protected-resource"));
    candidates.push(format!(
        "{}/.well-known/oauth-protected-resource",
        url.origin().ascii_serialization()
    ));
    let mut issuer = None;
    for candidate in &candidates {
        if let Some(meta) = get_json(http, candidate).await
            && let Some(first) = meta["authorization_servers"][0].as_str()
        {
            issuer = Some(first.to_string());
            break;
        }
    }
    // A server without resource metadata may be its own authorization server.
    let issuer = issuer.unwrap_or_else(|| url.origin().ascii_serialization());
    let issuer_url = url::Url::parse(&issuer).map_err(|e| format!("{issuer}: {e}"))?;
    let mut metadata = None;
    for candidate in [
        well_known(&issuer_url, "oauth-authorization-server"),
        well_known(&issuer_url, "openid-configuration"),
    ] {
        if let Some(meta) = get_json(http, &candidate).await {
            metadata = Some(meta);
            break;
        }
    }
    let metadata = metadata.ok_or_else(|| {
        format!("{issuer} publishes no OAuth metadata: the server may not take OAuth sign-ins")
    })?;
    let field = |name: &str| metadata[name].as_str().map(str::to_string);
    Ok(Endpoints {
        authorization: field("authorization_endpoint")
            .ok_or("the authorization server names no authorization endpoint")?,
        token: field("token_endpoint").ok_or("the authorization server names no token endpoint")?,
        registration: field("registration_endpoint"),
    })
}

/// A login under way: where to send the person, and the rest of it.
pub struct Pending {
    /// The page to open.
    pub authorize_url: String,
    listener: TcpListener,
    redirect_uri: String,
    state: String,
    verifier: String,
    client_id: String,
    client_secret: Option<String>,
    endpoints: Endpoints,
    server_url: String,
}

/// Starts the sign-in to the server at `server_url`, asking for `scopes` (none: the ones the
/// server gives by default): discovers, registers kelp, and opens the loopback callback. Open
/// [`Pending::authorize_url`] and await [`Pending::finish`].
pub async fn begin(
    http: &reqwest::Client,
    server_url: &str,
    scopes: &[String],
) -> Result<Pending, String> {
    let scope = scopes.join(" ");
    let endpoints = discover(http, server_url).await?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| format!("cannot listen for the sign-in's callback: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let registration = endpoints.registration.clone().ok_or(
        "the authorization server takes no registration, and kelp has no client id for it",
    )?;
    let mut metadata = serde_json::json!({
        "client_name": "kelp",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    if !scope.is_empty() {
        metadata["scope"] = scope.clone().into();
    }
    let answer = http
        .post(&registration)
        .json(&metadata)
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .map_err(|e| {
            format!(
                "the registration endpoint did not answer ({})",
                e.without_url()
            )
        })?;
    if !answer.status().is_success() {
        return Err(format!(
            "the authorization server refused to register kelp (HTTP {})",
            answer.status().as_u16()
        ));
    }
    let registered: Value = answer
        .json()
        .await
        .map_err(|_| "the registration's answer is not JSON".to_string())?;
    let client_id = registered["client_id"]
        .as_str()
        .ok_or("the registration's answer has no client id")?
        .to_string();
    let client_secret = registered["client_secret"].as_str().map(str::to_string);
    let pkce = pkce::Pkce::generate().map_err(|e| e.to_string())?;
    let state = pkce::generate_state().map_err(|e| e.to_string())?;
    let mut authorize_url = url::Url::parse(&endpoints.authorization)
        .map_err(|e| format!("{}: {e}", endpoints.authorization))?;
    authorize_url
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", &state)
        .append_pair("resource", server_url);
    if !scope.is_empty() {
        authorize_url.query_pairs_mut().append_pair("scope", &scope);
    }
    Ok(Pending {
        authorize_url: authorize_url.into(),
        listener,
        redirect_uri,
        state,
        verifier: pkce.verifier,
        client_id,
        client_secret,
        endpoints,
        server_url: server_url.to_string(),
    })
}

impl Pending {
    /// Waits for the callback (at most [`LOGIN_TIMEOUT`]), exchanges its code, and keeps the
    /// tokens in `store` under `name`.
    pub async fn finish(
        self,
        http: &reqwest::Client,
        store: &Path,
        name: &str,
    ) -> Result<(), String> {
        let code = tokio::time::timeout(LOGIN_TIMEOUT, callback(&self.listener, &self.state))
            .await
            .map_err(|_| {
                format!(
                    "no sign-in came back within {} minutes",
                    LOGIN_TIMEOUT.as_secs() / 60
                )
            })??;
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code),
            ("redirect_uri", self.redirect_uri.clone()),
            ("client_id", self.client_id.clone()),
            ("code_verifier", self.verifier.clone()),
            ("resource", self.server_url.clone()),
        ];
        if let Some(secret) = &self.client_secret {
            form.push(("client_secret", secret.clone()));
        }
        let answer = token_request(http, &self.endpoints.token, &form).await?;
        let tokens = answer.into_tokens(Tokens {
            url: self.server_url.clone(),
            client_id: self.client_id,
            client_secret: self.client_secret,
            token_endpoint: self.endpoints.token,
            access_token: String::new(),
            refresh_token: None,
            expires_at_ms: None,
        });
        change_store(store, |all| {
            all.insert(name.to_string(), tokens);
        })
    }
}

/// Serves the loopback callback until a request brings the right `state`: its code, or the
/// error the authorization server sent.
async fn callback(listener: &TcpListener, state: &str) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let (mut stream, _) = listener
            .accept()
            .await
            .map_err(|e| format!("the callback could not accept: {e}"))?;
        let mut head = vec![0u8; 8192];
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut head))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(0);
        let head = String::from_utf8_lossy(&head[..read]);
        let target = head
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("GET "))
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or("");
        let query = url::Url::parse(&format!("http://127.0.0.1{target}")).ok();
        let pairs: BTreeMap<String, String> = query
            .as_ref()
            .map(|url| url.query_pairs().into_owned().collect())
            .unwrap_or_default();
        let (reply, outcome) = match (
            query.as_ref().map(url::Url::path),
            pairs.get("state").map(String::as_str) == Some(state),
        ) {
            (Some("/callback"), true) => match (pairs.get("code"), pairs.get("error")) {
                (Some(code), _) => (
                    "Signed in. You can close this tab and go back to kelp.",
                    Some(Ok(code.clone())),
                ),
                (None, Some(error)) => (
                    "The sign-in did not go through; kelp says why.",
                    Some(Err(format!("the authorization server said: {error}"))),
                ),
                (None, None) => ("No code came back.", Some(Err("no code came back".into()))),
            },
            _ => ("Not this sign-in.", None),
        };
        let status = if outcome.is_some() {
            "200 OK"
        } else {
            "400 Bad Request"
        };
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
            reply.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        if let Some(outcome) = outcome {
            return outcome;
        }
    }
}
