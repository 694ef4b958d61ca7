//! The device-code login: `/api/accounts/deviceauth/{usercode,token}` and the `/codex/device`
//! page where a person approves a code.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::{Value, json};

use super::issuer::AuthCode;
use super::{CLIENT_ID, Shared, State as FakeState, json_reply, pkce, request_fields};

/// When a pending device code becomes approved without [`super::FakeOpenAi::approve_device`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceApproval {
    /// Only by an explicit approval (the test, or a person opening the device page).
    Manual,
    /// After this many pending polls: the next poll succeeds.
    AfterPolls(usize),
    /// Once this long has passed since the code was issued.
    AfterDelay(Duration),
    /// Never: after this many pending polls the code has expired (400 `expired_token`, as RFC
    /// 8628 servers answer).
    ExpireAfterPolls(usize),
}

/// One issued user code.
pub struct DeviceSession {
    pub device_auth_id: String,
    pub user_code: String,
    issued: Instant,
    polls: usize,
    approved: bool,
    grant: Option<Value>,
}

impl FakeState {
    /// Approves the session of `user_code`; false when there is none.
    pub fn approve_device(&mut self, user_code: &str) -> bool {
        let wanted = normalize(user_code);
        match self
            .devices
            .iter_mut()
            .find(|session| normalize(&session.user_code) == wanted)
        {
            Some(session) => {
                session.approved = true;
                true
            }
            None => false,
        }
    }
}

/// Codes are compared as a person may type them: any case, dash optional.
fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// `ABCD-12345`, the shape of real codes: four letters nobody confuses with digits, then five
/// digits, so every screen that shows one is tested at its real width.
fn fresh_user_code() -> String {
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::rng();
    let mut code: String = (0..4)
        .map(|_| char::from(LETTERS[rng.random_range(0..LETTERS.len())]))
        .collect();
    code.push('-');
    code.extend((0..5).map(|_| char::from(b'0' + rng.random_range(0..10u8))));
    code
}

/// `POST /api/accounts/deviceauth/usercode`: issues a device code (404 when disabled).
pub async fn usercode(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = request_fields(&headers, &body);
    let mut state = shared.lock();
    if !state.config.device_login_enabled {
        return json_reply(404, json!({"detail": "Not Found"}));
    }
    if fields.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return json_reply(
            400,
            json!({"error": {"message": "unknown client_id", "code": "invalid_client"}}),
        );
    }
    let session = DeviceSession {
        device_auth_id: format!("deviceauth_{}", uuid::Uuid::new_v4().simple()),
        user_code: state
            .config
            .device_user_code
            .clone()
            .unwrap_or_else(fresh_user_code),
        issued: Instant::now(),
        polls: 0,
        approved: false,
        grant: None,
    };
    let code_field = if state.config.device_usercode_alias {
        "usercode"
    } else {
        "user_code"
    };
    let mut answer = json!({"device_auth_id": session.device_auth_id});
    answer[code_field] = json!(session.user_code);
    answer["interval"] = state.config.device_interval.clone();
    let how = match state.config.device_approval {
        DeviceApproval::Manual => format!(
            "open {}/codex/device?user_code={} to approve it",
            shared.issuer, session.user_code
        ),
        DeviceApproval::AfterPolls(polls) => format!("approved after {polls} polls"),
        DeviceApproval::AfterDelay(delay) => format!("approved after {delay:?}"),
        DeviceApproval::ExpireAfterPolls(polls) => format!("expires after {polls} polls"),
    };
    let line = format!("device login: code {} issued, {how}", session.user_code);
    state.devices.push(session);
    drop(state);
    shared.announce(&line);
    json_reply(200, answer)
}

/// `POST /api/accounts/deviceauth/token`: 403 while pending, the server-made PKCE pair and an
/// authorization code once approved.
pub async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let fields = request_fields(&headers, &body);
    let field = |key: &str| fields.get(key).map(String::as_str).unwrap_or_default();
    let mut state = shared.lock();
    state.device_polls += 1;
    if let Some(scripted) = state.device_poll_script.pop_front() {
        return scripted.into_response();
    }
    let callback = format!("{}/deviceauth/callback", shared.issuer);
    let FakeState {
        config,
        devices,
        auth_codes,
        ..
    } = &mut *state;
    let Some(session) = devices.iter_mut().find(|session| {
        session.device_auth_id == field("device_auth_id")
            && normalize(&session.user_code) == normalize(field("user_code"))
    }) else {
        return json_reply(404, json!({"error": "deviceauth_not_found"}));
    };
    session.polls += 1;
    let approved = session.approved
        || match config.device_approval {
            DeviceApproval::Manual => false,
            DeviceApproval::AfterPolls(pending) => session.polls > pending,
            DeviceApproval::AfterDelay(delay) => session.issued.elapsed() >= delay,
            DeviceApproval::ExpireAfterPolls(pending) if session.polls > pending => {
                return json_reply(
                    400,
                    json!({"error": "expired_token", "error_description": "The device code has expired."}),
                );
            }
            DeviceApproval::ExpireAfterPolls(_) => false,
        };
    if !approved {
        return json_reply(403, json!({"error": "deviceauth_authorization_pending"}));
    }
    let grant = session.grant.get_or_insert_with(|| {
        let (verifier, challenge) = pkce::pair();
        let code = format!("ac_fake_{}", pkce::random_b64(24));
        auth_codes.insert(
            code.clone(),
            AuthCode {
                code_challenge: challenge.clone(),
                redirect_uri: callback,
            },
        );
        json!({"authorization_code": code, "code_challenge": challenge, "code_verifier": verifier})
    });
    json_reply(200, grant.clone())
}

/// `GET /codex/device`: a form for the user code; with `?user_code=…` it approves that code.
pub async fn page(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let html = |status: StatusCode, body: &str| {
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            format!(
                "<!doctype html><meta charset=utf-8><title>Device login</title>\
                 <body style=\"font-family:sans-serif;max-width:32em;margin:4em auto\">{body}</body>"
            ),
        )
            .into_response()
    };
    let Some(code) = query
        .get("user_code")
        .filter(|code| !code.trim().is_empty())
    else {
        return html(
            StatusCode::OK,
            "<h1>Device login</h1><p>Enter the code your terminal shows.</p>\
             <form><input name=user_code autofocus placeholder=ABCD-12345> <button>Approve</button></form>",
        );
    };
    if !shared.lock().approve_device(code) {
        return html(
            StatusCode::NOT_FOUND,
            "<h1>Unknown code</h1><p>Check the code and <a href=\"/codex/device\">try again</a>.</p>",
        );
    }
    shared.announce(&format!("device login: code {code} approved"));
    html(
        StatusCode::OK,
        "<h1>Approved</h1><p>You can return to your terminal.</p>",
    )
}
