//! The test MCP server behind OAuth, as the MCP authorization spec has it: the MCP endpoint
//! answers 401 with `WWW-Authenticate: Bearer resource_metadata="…"` until it gets a token;
//! protected-resource metadata (RFC 9728) names the authorization server; its metadata
//! (RFC 8414) names the endpoints; dynamic client registration (RFC 7591); the authorization
//! endpoint approves at once and redirects with a code; the token endpoint checks PKCE (S256)
//! and hands out access tokens, and new ones for a refresh token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::mcp_server::TestServer;

/// What the authorization server knows and saw.
#[derive(Default)]
pub struct OAuthState {
    /// The server's own address, `http://127.0.0.1:PORT`.
    pub base: String,
    /// Clients registered: id → redirect URIs.
    pub clients: HashMap<String, Vec<String>>,
    /// Codes handed out: code → (client, redirect URI, PKCE challenge, resource).
    codes: HashMap<String, (String, String, String, Option<String>)>,
    /// Access tokens that work, and how long new ones live.
    pub valid_tokens: Vec<String>,
    pub token_lifetime_secs: u64,
    /// Every refresh grant received.
    pub refreshes: usize,
    /// The bearer tokens the MCP endpoint was sent.
    pub bearers_seen: Vec<String>,
    issued: usize,
}

pub type Shared = Arc<Mutex<OAuthState>>;

/// Starts the server on 127.0.0.1; returns its MCP URL and its state.
pub async fn start(log: Option<std::path::PathBuf>) -> (String, Shared) {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shared: Shared = Arc::new(Mutex::new(OAuthState {
        base: base.clone(),
        token_lifetime_secs: 3600,
        ..OAuthState::default()
    }));
    let service = StreamableHttpService::new(
        move || Ok(TestServer::new(log.clone())),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    );
    let mcp =
        Router::new()
            .nest_service("/mcp", service)
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&shared),
                require_token,
            ));
    let router = Router::new()
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(resource_metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(server_metadata),
        )
        .route("/register", post(register))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(Arc::clone(&shared))
        .merge(mcp);
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("{base}/mcp"), shared)
}

async fn require_token(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let (ok, base) = {
        let mut state = shared.lock().unwrap();
        if let Some(token) = &bearer {
            state.bearers_seen.push(token.clone());
        }
        let ok = bearer
            .as_ref()
            .is_some_and(|token| state.valid_tokens.contains(token));
        (ok, state.base.clone())
    };
    if ok {
        return next.run(request).await;
    }
    let challenge =
        format!("Bearer resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\"");
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, challenge)],
        "a token is needed",
    )
        .into_response()
}

async fn resource_metadata(State(shared): State<Shared>) -> Json<Value> {
    let base = shared.lock().unwrap().base.clone();
    Json(json!({
        "resource": format!("{base}/mcp"),
        "authorization_servers": [base],
        "bearer_methods_supported": ["header"],
    }))
}

async fn server_metadata(State(shared): State<Shared>) -> Json<Value> {
    let base = shared.lock().unwrap().base.clone();
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "registration_endpoint": format!("{base}/register"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
    }))
}

async fn register(State(shared): State<Shared>, Json(asked): Json<Value>) -> Response {
    let uris: Vec<String> = asked["redirect_uris"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|uri| uri.as_str().map(str::to_string))
        .collect();
    if uris.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_redirect_uri"})),
        )
            .into_response();
    }
    let mut state = shared.lock().unwrap();
    let id = format!("client-{}", state.clients.len() + 1);
    state.clients.insert(id.clone(), uris.clone());
    (
        StatusCode::CREATED,
        Json(json!({"client_id": id, "redirect_uris": uris, "token_endpoint_auth_method": "none"})),
    )
        .into_response()
}

async fn authorize(
    State(shared): State<Shared>,
    Query(asked): Query<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| asked.get(name).cloned().unwrap_or_default();
    let (client, redirect) = (field("client_id"), field("redirect_uri"));
    let mut state = shared.lock().unwrap();
    let known = state
        .clients
        .get(&client)
        .is_some_and(|uris| uris.contains(&redirect));
    if !known || field("response_type") != "code" || field("code_challenge_method") != "S256" {
        return (StatusCode::BAD_REQUEST, "invalid_request").into_response();
    }
    state.issued += 1;
    let code = format!("code-{}", state.issued);
    state.codes.insert(
        code.clone(),
        (
            client,
            redirect.clone(),
            field("code_challenge"),
            asked.get("resource").cloned(),
        ),
    );
    let location = format!("{redirect}?code={code}&state={}", field("state"));
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

async fn token(
    State(shared): State<Shared>,
    Form(asked): Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| asked.get(name).cloned().unwrap_or_default();
    let mut state = shared.lock().unwrap();
    let refused =
        |why: &str| (StatusCode::BAD_REQUEST, Json(json!({"error": why}))).into_response();
    match field("grant_type").as_str() {
        "authorization_code" => {
            let Some((client, redirect, challenge, _resource)) = state.codes.remove(&field("code"))
            else {
                return refused("invalid_grant");
            };
            let verifier = field("code_verifier");
            let digest = Sha256::digest(verifier.as_bytes());
            let computed =
                base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, digest);
            if client != field("client_id")
                || redirect != field("redirect_uri")
                || computed != challenge
            {
                return refused("invalid_grant");
            }
        }
        "refresh_token" => {
            if !field("refresh_token").starts_with("refresh-") {
                return refused("invalid_grant");
            }
            state.refreshes += 1;
        }
        _ => return refused("unsupported_grant_type"),
    }
    state.issued += 1;
    let access = format!("access-{}", state.issued);
    state.valid_tokens.push(access.clone());
    Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": state.token_lifetime_secs,
        "refresh_token": format!("refresh-{}", state.issued),
    }))
    .into_response()
}
