//! The OAuth issuer: `/oauth/authorize`, `/oauth/token` and `/oauth/revoke`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::reply::JsonReply;
use super::tokens::RefreshState;
use super::{CLIENT_ID, Shared, json_reply, pkce, request_fields};

/// An authorization code waiting to be exchanged.
pub struct AuthCode {
    pub code_challenge: String,
    pub redirect_uri: String,
}

/// `GET /oauth/authorize`: validates the request and consents at once (302 to the callback).
pub async fn authorize(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let param = |key: &str| {
        params
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
            .unwrap_or_default()
    };
    let redirect_uri = param("redirect_uri");
    let problem = if param("response_type") != "code" {
        Some("response_type must be code")
    } else if param("client_id") != CLIENT_ID {
        Some("unknown client_id")
    } else if !is_loopback_callback(redirect_uri) {
        Some(
            "redirect_uri is not on the allow-list (http://localhost|127.0.0.1:<port>/auth/callback)",
        )
    } else if !is_base64url(param("code_challenge"), 43..=128) {
        Some("code_challenge must be base64url, 43 to 128 characters")
    } else if param("code_challenge_method") != "S256" {
        Some("code_challenge_method must be S256")
    } else if param("state").is_empty() {
        Some("state is required")
    } else {
        None
    };
    if let Some(problem) = problem {
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            format!("<!doctype html><title>Error</title><h1>Invalid authorize request</h1><p>{problem}</p>"),
        )
            .into_response();
    }
    let mut location = url::Url::parse(redirect_uri).expect("checked above");
    let mut state = shared.lock();
    match state.authorize_errors.pop_front() {
        Some((error, description)) => {
            location
                .query_pairs_mut()
                .append_pair("error", &error)
                .append_pair("error_description", &description)
                .append_pair("state", param("state"));
        }
        None => {
            let code = format!("ac_fake_{}", pkce::random_b64(24));
            state.auth_codes.insert(
                code.clone(),
                AuthCode {
                    code_challenge: param("code_challenge").to_string(),
                    redirect_uri: redirect_uri.to_string(),
                },
            );
            location
                .query_pairs_mut()
                .append_pair("code", &code)
                .append_pair("state", param("state"));
        }
    }
    drop(state);
    (
        StatusCode::FOUND,
        [(header::LOCATION, location.to_string())],
    )
        .into_response()
}

/// `POST /oauth/token`: the code exchange (form) and the refresh (JSON or form).
pub async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let fields = request_fields(&headers, &body);
    let field = |key: &str| fields.get(key).map(String::as_str).unwrap_or_default();
    if field("client_id") != CLIENT_ID {
        return oauth_error(401, "invalid_client", "unknown client_id");
    }
    match field("grant_type") {
        "authorization_code" => exchange_code(
            &shared,
            field("code"),
            field("redirect_uri"),
            field("code_verifier"),
        ),
        "refresh_token" => refresh(&shared, field("refresh_token")),
        other => oauth_error(
            400,
            "unsupported_grant_type",
            &format!("unsupported grant_type {other:?}"),
        ),
    }
}

fn exchange_code(shared: &Shared, code: &str, redirect_uri: &str, verifier: &str) -> Response {
    let mut state = shared.lock();
    let Some(pending) = state.auth_codes.get(code) else {
        return oauth_error(
            400,
            "invalid_grant",
            "unknown or already used authorization code",
        );
    };
    if pending.redirect_uri != redirect_uri {
        return oauth_error(
            400,
            "invalid_grant",
            "redirect_uri does not match the authorization request",
        );
    }
    if pkce::s256_challenge(verifier) != pending.code_challenge {
        return oauth_error(
            400,
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        );
    }
    state.auth_codes.remove(code);
    let tokens = state.mint(&shared.issuer);
    drop(state);
    shared.announce("login: authorization code exchanged for tokens");
    json_reply(200, tokens.to_json())
}

fn refresh(shared: &Shared, refresh_token: &str) -> Response {
    let mut state = shared.lock();
    state.refresh_count += 1;
    if let Some(scripted) = state.refresh_script.pop_front() {
        return scripted.into_response();
    }
    match state.tokens.refresh_state(refresh_token) {
        Some(RefreshState::Active) => {
            state.tokens.mark_used(refresh_token);
            let tokens = state.mint(&shared.issuer);
            drop(state);
            shared.announce("login: tokens refreshed");
            json_reply(200, tokens.to_json())
        }
        Some(RefreshState::Used) => JsonReply::refresh_token_reused().into_response(),
        Some(RefreshState::Revoked) | None => {
            JsonReply::refresh_token_invalidated().into_response()
        }
    }
}

/// `POST /oauth/revoke`: forgets a refresh (or access) token.
pub async fn revoke(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = request_fields(&headers, &body);
    if fields.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return oauth_error(401, "invalid_client", "unknown client_id");
    }
    let Some(token) = fields.get("token").filter(|token| !token.is_empty()) else {
        return oauth_error(400, "invalid_request", "token is required");
    };
    shared.lock().tokens.revoke(token);
    shared.announce("logout: token revoked");
    json_reply(200, json!({}))
}

/// `{"error": code, "error_description": description}` with `status`.
fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    json_reply(
        status,
        json!({"error": error, "error_description": description}),
    )
}

fn is_loopback_callback(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|url| {
        url.scheme() == "http"
            && matches!(url.host_str(), Some("localhost" | "127.0.0.1"))
            && url.port().is_some()
            && url.path() == "/auth/callback"
    })
}

fn is_base64url(text: &str, length: std::ops::RangeInclusive<usize>) -> bool {
    length.contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
