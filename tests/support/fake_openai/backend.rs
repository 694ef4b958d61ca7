//! The model endpoints: the Codex backend (`/backend-api/codex/…`, ChatGPT tokens) and the
//! OpenAI API (`/v1/…`, API keys). Both answer `POST …/responses` from the one reply queue.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::reply::JsonReply;
use super::tokens::AccessDenied;
use super::{Shared, json_reply, respond};

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// Checks a ChatGPT access token; `Err` is the 401 to answer.
fn check_chatgpt(shared: &Shared, headers: &HeaderMap) -> Result<String, JsonReply> {
    let state = shared.lock();
    let denied = match bearer(headers).map(|token| state.tokens.check_access(token)) {
        Some(Ok(account_id)) => return Ok(account_id.to_string()),
        Some(Err(AccessDenied::Expired)) => {
            "Provided authentication token is expired. Please try signing in again."
        }
        Some(Err(AccessDenied::Revoked)) => {
            "Provided authentication token has been revoked. Please try signing in again."
        }
        Some(Err(AccessDenied::Unknown)) => {
            "Could not parse your authentication token. Please try signing in again."
        }
        None => "Missing bearer authentication in header",
    };
    Err(JsonReply::new(
        401,
        json!({"error": {"message": denied, "type": null, "param": null, "code": "token_expired"}}),
    ))
}

/// Checks an API key; `Err` is the 401 to answer.
fn check_api_key(shared: &Shared, headers: &HeaderMap) -> Result<(), JsonReply> {
    let config = shared.lock().config.clone();
    let message = match bearer(headers) {
        _ if config.open_api => return Ok(()),
        Some(key) if key == config.api_key => return Ok(()),
        Some(_) => "Incorrect API key provided",
        None => "You didn't provide an API key.",
    };
    Err(JsonReply::new(
        401,
        json!({"error": {
            "message": message, "type": "invalid_request_error", "param": null,
            "code": "invalid_api_key"
        }}),
    ))
}

/// `POST /backend-api/codex/responses`.
pub async fn codex_responses(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let account_id = match check_chatgpt(&shared, &headers) {
        Ok(account_id) => account_id,
        Err(denied) => return denied.into_response(),
    };
    match headers
        .get("chatgpt-account-id")
        .and_then(|value| value.to_str().ok())
    {
        None => {
            return json_reply(400, json!({"detail": "Missing chatgpt-account-id header"}));
        }
        Some(sent) if sent != account_id => {
            return json_reply(
                403,
                json!({"detail": "chatgpt-account-id does not match the authenticated account"}),
            );
        }
        Some(_) => {}
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return json_reply(400, json!({"detail": "Request body must be JSON"}));
    };
    if shared.lock().config.check_codex_body {
        let problem = if request["instructions"].as_str().is_none_or(str::is_empty) {
            Some("Instructions are required")
        } else if request["store"] != json!(false) {
            Some("Store must be set to false")
        } else if request["stream"] != json!(true) {
            Some("Stream must be set to true")
        } else {
            None
        };
        if let Some(problem) = problem {
            return json_reply(400, json!({"detail": problem}));
        }
    }
    answer(&shared, &request)
}

/// `POST /v1/responses`.
pub async fn api_responses(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(denied) = check_api_key(&shared, &headers) {
        return denied.into_response();
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return json_reply(
            400,
            json!({"error": {
                "message": "We could not parse the JSON body of your request.",
                "type": "invalid_request_error", "param": null, "code": null
            }}),
        );
    };
    answer(&shared, &request)
}

/// Pops the next scripted reply (or asks the fallback) and streams it.
fn answer(shared: &Shared, request: &Value) -> Response {
    let (reply, fallback) = {
        let mut state = shared.lock();
        (state.replies.pop_front(), Arc::clone(&state.fallback))
    };
    let reply = reply.unwrap_or_else(|| fallback(request));
    let model = request["model"].as_str().unwrap_or("gpt-5.5");
    let tools: Vec<&str> = request["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|tool| tool["name"].as_str().or(tool["type"].as_str()))
                .collect()
        })
        .unwrap_or_default();
    shared.announce(&format!(
        "responses: answering a request for {model} (tools: {})",
        tools.join(", ")
    ));
    respond::respond(
        reply,
        model,
        shared.stopping().child_token(),
        Arc::clone(&shared.clock),
    )
}

/// `GET /backend-api/codex/models`: `{"models": [{"slug", "display_name", …}]}`.
pub async fn codex_models(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(denied) = check_chatgpt(&shared, &headers) {
        return denied.into_response();
    }
    let slugs = shared.lock().config.codex_models.clone();
    let models: Vec<Value> = slugs
        .iter()
        .enumerate()
        .map(|(priority, slug)| {
            json!({
                "slug": slug,
                "display_name": slug,
                "description": format!("{slug} (fake)"),
                "context_window": 272_000,
                "default_reasoning_level": "medium",
                "supported_reasoning_levels": ["low", "medium", "high"],
                "visibility": "list",
                "priority": priority,
            })
        })
        .collect();
    json_reply(200, json!({ "models": models }))
}

/// `GET /backend-api/wham/usage`: the ChatGPT plan's usage windows, as the Codex backend
/// reports them outside a response (5 hours at 12%, a week at 40%).
pub async fn wham_usage(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(denied) = check_chatgpt(&shared, &headers) {
        return denied.into_response();
    }
    let in_an_hour = super::now_ms() / 1000 + 3600;
    json_reply(
        200,
        json!({
            "plan_type": "plus",
            "rate_limit": {
                "allowed": true,
                "limit_reached": false,
                "primary_window": {"used_percent": 12, "limit_window_seconds": 18_000, "reset_at": in_an_hour},
                "secondary_window": {"used_percent": 40, "limit_window_seconds": 604_800, "reset_at": in_an_hour + 86_400},
            },
            "credits": {"has_credits": false, "unlimited": false, "balance": "0"},
        }),
    )
}

/// `GET /v1/models`: `{"object": "list", "data": [{"id", "object": "model", …}]}`.
pub async fn api_models(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(denied) = check_api_key(&shared, &headers) {
        return denied.into_response();
    }
    let ids = shared.lock().config.api_models.clone();
    let data: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "openai"}))
        .collect();
    json_reply(200, json!({"object": "list", "data": data}))
}
