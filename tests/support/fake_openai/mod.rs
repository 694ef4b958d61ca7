//! A fake OpenAI on 127.0.0.1: the OAuth issuer, the Codex backend and the OpenAI API on one
//! origin, speaking the wire protocol of `PROTOCOL.md` over real sockets.
//!
//! ```ignore
//! let fake = FakeOpenAi::start().await;               // binds 127.0.0.1:0
//! fake.url();                                          // issuer: http://127.0.0.1:PORT
//! fake.codex_base_url();                               // …/backend-api/codex
//! fake.api_base_url();                                 // …/v1
//! fake.push_response(Reply::text("Hello world"));      // one per POST …/responses, FIFO
//! fake.push_response(Reply::reasoning("plan").and_text("done"));
//! fake.push_response(Reply::call("read_file", json!({"path": "a.rs"})));
//! fake.push_response(Reply::rate_limited(1));          // 429 + Retry-After: 1
//! let tokens = fake.mint_tokens();                     // for a pre-written auth.json
//! // … run kelp against it …
//! let sent = fake.requests_to("/responses");           // Vec<Recorded>, in order
//! assert_eq!(sent[0].json()["model"], "gpt-5.5");
//! ```
//!
//! Endpoints (all on the one origin):
//! - issuer: `GET /oauth/authorize` (validates, then 302 to `redirect_uri?code=…&state=…`),
//!   `POST /oauth/token` (code exchange with S256 check; refresh with rotation and reuse
//!   detection, JSON or form), `POST /oauth/revoke`, `POST /api/accounts/deviceauth/usercode`,
//!   `POST /api/accounts/deviceauth/token` (403 while pending), `GET /codex/device` (an HTML page;
//!   `?user_code=…` approves that code).
//! - Codex backend: `GET /backend-api/wham/usage` (the plan's usage windows),
//!   `POST /backend-api/codex/responses` (needs a live access token of this fake
//!   and a matching `chatgpt-account-id`; checks `instructions`, `store:false`, `stream:true`),
//!   `GET /backend-api/codex/models` → `{"models":[{"slug","display_name","description",
//!   "context_window","default_reasoning_level","supported_reasoning_levels","visibility",
//!   "priority"}]}`.
//! - API: `POST /v1/responses` (needs `Bearer <Config::api_key>`), `GET /v1/models` →
//!   `{"object":"list","data":[{"id","object":"model","created","owned_by"}]}`.
//!
//! With no reply queued, `/responses` answers with the configured [`Scenario`] (default: a
//! Markdown echo of the last user message), or with [`FakeOpenAi::set_fallback`]'s closure.
//! Every request, including unknown paths, is recorded before it is answered.

// Each includer (the test crate, the example) uses a different part of the API.
#![allow(dead_code)]

mod backend;
mod device;
mod issuer;
mod jwt;
mod pkce;
mod record;
mod reply;
mod respond;
mod scenario;
mod tokens;

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[allow(unused_imports)]
pub use {
    device::DeviceApproval,
    jwt::decode_claims,
    pkce::s256_challenge,
    record::Recorded,
    reply::{JsonReply, Reply, Usage, echo_markdown, encrypted_content_for},
    scenario::{Scenario, last_user_text},
    tokens::Tokens,
};

/// The public OAuth client id of Codex CLI and opencode.
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";
/// The API key `/v1` accepts unless configured otherwise.
pub const DEFAULT_API_KEY: &str = "sk-test-kelp-0000000000000000abcd";

/// How a fake behaves; change it while running with [`FakeOpenAi::configure`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Port to bind on 127.0.0.1 (0 = any free port). Only read at start.
    pub port: u16,
    pub email: String,
    /// `chatgpt_plan_type`.
    pub plan: String,
    /// `chatgpt_account_id`.
    pub account_id: String,
    /// `chatgpt_user_id`.
    pub user_id: String,
    /// Lifetime of newly minted access tokens (kelp refreshes when under 5 minutes are left).
    pub access_token_lifetime: Duration,
    /// The one key `/v1` accepts.
    pub api_key: String,
    /// `/v1` answers whatever key is sent, or none, as a local server does.
    pub open_api: bool,
    /// `interval` of the usercode answer, sent as given: `json!("5")` (the real shape) or `json!(5)`.
    pub device_interval: Value,
    /// false: `/deviceauth/usercode` answers 404.
    pub device_login_enabled: bool,
    /// Send the user code as `usercode` instead of `user_code`.
    pub device_usercode_alias: bool,
    /// The user code to issue instead of a fresh one (a hostile issuer's).
    pub device_user_code: Option<String>,
    pub device_approval: DeviceApproval,
    /// Slugs listed by `/backend-api/codex/models`.
    pub codex_models: Vec<String>,
    /// Ids listed by `/v1/models`.
    pub api_models: Vec<String>,
    /// Reject Codex requests without `instructions`, `store:false` and `stream:true` (400).
    pub check_codex_body: bool,
    /// Print a line to stderr on notable events (logins, device codes, replies).
    pub verbose: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            port: 0,
            email: "dev@example.com".into(),
            plan: "plus".into(),
            account_id: "acct_fake_123".into(),
            user_id: "user_fake_123".into(),
            access_token_lifetime: Duration::from_secs(3600),
            api_key: DEFAULT_API_KEY.into(),
            open_api: false,
            device_interval: json!("5"),
            device_login_enabled: true,
            device_usercode_alias: false,
            device_user_code: None,
            device_approval: DeviceApproval::Manual,
            codex_models: ["gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "gpt-5.3-codex-spark"]
                .map(String::from)
                .to_vec(),
            api_models: [
                "gpt-5.5",
                "gpt-5.4",
                "gpt-5.4-mini",
                "gpt-5.3-codex-spark",
                "gpt-4.1",
                "text-embedding-3-small",
                "whisper-1",
                "tts-1",
                "dall-e-3",
                "omni-moderation-latest",
            ]
            .map(String::from)
            .to_vec(),
            check_codex_body: true,
            verbose: false,
        }
    }
}

type Fallback = Arc<dyn Fn(&Value) -> Reply + Send + Sync>;

/// Everything the handlers share.
struct Shared {
    issuer: String,
    state: Mutex<State>,
    /// Woken on every recorded request.
    recorded: Notify,
    /// Cancelled when the server stops (for good, or for an outage): open streams end.
    shutdown: Mutex<CancellationToken>,
    clock: Arc<respond::StreamClock>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stopping(&self) -> CancellationToken {
        self.shutdown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn record(&self, request: Recorded) {
        self.lock().requests.push(request);
        self.recorded.notify_waiters();
    }

    fn announce(&self, line: &str) {
        if self.lock().config.verbose {
            eprintln!("[fake-openai] {line}");
        }
    }
}

struct State {
    config: Config,
    requests: Vec<Recorded>,
    replies: VecDeque<Reply>,
    fallback: Fallback,
    tokens: tokens::Registry,
    auth_codes: HashMap<String, issuer::AuthCode>,
    authorize_errors: VecDeque<(String, String)>,
    refresh_script: VecDeque<JsonReply>,
    refresh_count: usize,
    devices: Vec<device::DeviceSession>,
    device_poll_script: VecDeque<JsonReply>,
    device_polls: usize,
}

impl State {
    /// Mints tokens for the configured identity and lifetime.
    fn mint(&mut self, issuer: &str) -> Tokens {
        let lifetime = i64::try_from(self.config.access_token_lifetime.as_secs())
            .expect("a lifetime under 292 billion years");
        self.tokens.mint(&self.config, issuer, lifetime)
    }
}

/// A running fake; it stops when dropped (or on [`FakeOpenAi::shutdown`]).
pub struct FakeOpenAi {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Option<JoinHandle<()>>,
}

impl FakeOpenAi {
    /// Starts a fake with the default [`Config`] on a free port.
    pub async fn start() -> Self {
        Self::start_with(Config::default()).await
    }

    /// Starts a fake with `config`; panics when it cannot bind.
    pub async fn start_with(config: Config) -> Self {
        Self::try_start_with(config)
            .await
            .expect("bind the fake OpenAI server on 127.0.0.1")
    }

    /// Starts a fake with `config`.
    pub async fn try_start_with(config: Config) -> io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            issuer: format!("http://{addr}"),
            state: Mutex::new(State {
                config,
                requests: Vec::new(),
                replies: VecDeque::new(),
                fallback: scenario_fallback(Scenario::Echo),
                tokens: tokens::Registry::default(),
                auth_codes: HashMap::new(),
                authorize_errors: VecDeque::new(),
                refresh_script: VecDeque::new(),
                refresh_count: 0,
                devices: Vec::new(),
                device_poll_script: VecDeque::new(),
                device_polls: 0,
            }),
            recorded: Notify::new(),
            shutdown: Mutex::new(CancellationToken::new()),
            clock: Arc::default(),
        });
        let server = serve(listener, Arc::clone(&shared));
        Ok(Self {
            shared,
            addr,
            server: Some(server),
        })
    }

    /// Stops serving: open streams end, the port is released. Also done on drop.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    async fn stop(&mut self) {
        self.shared.stopping().cancel();
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        }
    }

    /// Goes away as a lost network does, for `outage`: open streams end and connections are
    /// refused (the port held, not listened on, so nobody else takes it); then it serves
    /// again on the same port, with what it had recorded and was told.
    pub async fn go_away_for(&mut self, outage: Duration) {
        self.stop().await;
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket.bind(self.addr).expect("hold the fake's port");
        tokio::time::sleep(outage).await;
        *self
            .shared
            .shutdown
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = CancellationToken::new();
        let listener = socket
            .listen(1024)
            .expect("listen again on the fake's port");
        self.server = Some(serve(listener, Arc::clone(&self.shared)));
    }

    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The issuer origin, `http://127.0.0.1:PORT` (`KELP_AUTH_ISSUER`).
    pub fn url(&self) -> String {
        self.shared.issuer.clone()
    }

    /// `{url}/backend-api/codex` (`KELP_CODEX_BASE_URL`).
    pub fn codex_base_url(&self) -> String {
        format!("{}/backend-api/codex", self.shared.issuer)
    }

    /// `{url}/v1` (`OPENAI_BASE_URL`).
    pub fn api_base_url(&self) -> String {
        format!("{}/v1", self.shared.issuer)
    }

    /// The environment that points kelp at this fake.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("KELP_AUTH_ISSUER", self.url()),
            ("KELP_CODEX_BASE_URL", self.codex_base_url()),
            ("OPENAI_BASE_URL", self.api_base_url()),
        ]
    }

    /// A copy of the current configuration.
    pub fn config(&self) -> Config {
        self.shared.lock().config.clone()
    }

    /// Changes the configuration of the running fake.
    pub fn configure(&self, change: impl FnOnce(&mut Config)) {
        change(&mut self.shared.lock().config);
    }

    /// The API key `/v1` accepts.
    pub fn api_key(&self) -> String {
        self.shared.lock().config.api_key.clone()
    }

    // ---- /responses script ----

    /// Queues the answer to a future `POST …/responses` (either backend), first in first out.
    pub fn push_response(&self, reply: Reply) {
        self.shared.lock().replies.push_back(reply);
    }

    /// Queues several answers.
    pub fn push_responses(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.lock().replies.extend(replies);
    }

    /// How many queued replies are still unused.
    pub fn pending_responses(&self) -> usize {
        self.shared.lock().replies.len()
    }

    /// What to answer when the queue is empty (the request body is passed in).
    pub fn set_fallback(&self, answer: impl Fn(&Value) -> Reply + Send + Sync + 'static) {
        self.shared.lock().fallback = Arc::new(answer);
    }

    /// Answers unscripted requests with a canned [`Scenario`].
    pub fn set_scenario(&self, scenario: Scenario) {
        self.shared.lock().fallback = scenario_fallback(scenario);
    }

    // ---- issuer script ----

    /// The next `/oauth/authorize` redirects with `error` and `error_description` instead of a
    /// code, e.g. `("access_denied", "missing_codex_entitlement")`.
    pub fn push_authorize_error(&self, error: &str, description: &str) {
        self.shared
            .lock()
            .authorize_errors
            .push_back((error.into(), description.into()));
    }

    /// The next refresh request gets `reply` (e.g. [`JsonReply::refresh_token_expired`],
    /// [`JsonReply::server_error`]) and rotates nothing.
    pub fn push_refresh_reply(&self, reply: JsonReply) {
        self.shared.lock().refresh_script.push_back(reply);
    }

    /// How many `grant_type=refresh_token` requests arrived.
    pub fn refresh_count(&self) -> usize {
        self.shared.lock().refresh_count
    }

    /// Every token sent to `/oauth/revoke`, in order.
    pub fn revoked_tokens(&self) -> Vec<String> {
        self.shared.lock().tokens.revoked().to_vec()
    }

    /// The next device poll gets `reply` (e.g. a fatal 500, or 404 which clients treat as pending).
    pub fn push_device_poll_reply(&self, reply: JsonReply) {
        self.shared.lock().device_poll_script.push_back(reply);
    }

    /// Approves a pending device code, as the person would in the browser; panics when no such
    /// code was issued.
    pub fn approve_device(&self, user_code: &str) {
        assert!(
            self.shared.lock().approve_device(user_code),
            "no device code {user_code:?} was issued"
        );
    }

    /// The user codes issued so far, oldest first.
    pub fn device_user_codes(&self) -> Vec<String> {
        let state = self.shared.lock();
        state
            .devices
            .iter()
            .map(|session| session.user_code.clone())
            .collect()
    }

    /// How many `/deviceauth/token` polls arrived.
    pub fn device_poll_count(&self) -> usize {
        self.shared.lock().device_polls
    }

    // ---- tokens ----

    /// A fresh login valid on this fake (configured identity and lifetime).
    pub fn mint_tokens(&self) -> Tokens {
        self.shared.lock().mint(&self.shared.issuer)
    }

    /// A fresh login whose access token lives `seconds` (negative: already expired); its refresh
    /// token works.
    pub fn mint_tokens_with_lifetime(&self, seconds: i64) -> Tokens {
        let mut guard = self.shared.lock();
        let state = &mut *guard;
        state
            .tokens
            .mint(&state.config, &self.shared.issuer, seconds)
    }

    /// Expires every access token issued so far (the next use gets 401 `token_expired`).
    pub fn expire_access_tokens(&self) {
        self.shared.lock().tokens.expire_all();
    }

    // ---- stream timing ----

    /// The instant a streamed reply last handed a chunk with a text delta to the HTTP server.
    pub fn last_delta_written(&self) -> Option<Instant> {
        self.shared.clock.last_delta()
    }

    /// The instant a streamed reply last handed its final chunk to the HTTP server.
    pub fn last_stream_end(&self) -> Option<Instant> {
        self.shared.clock.last_end()
    }

    // ---- recorded requests ----

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// The requests whose path ends with `suffix` (`"/responses"` matches both backends).
    pub fn requests_to(&self, suffix: &str) -> Vec<Recorded> {
        let state = self.shared.lock();
        state
            .requests
            .iter()
            .filter(|request| request.path.ends_with(suffix))
            .cloned()
            .collect()
    }

    /// The parts of the last user message of the last `/responses` request.
    pub fn last_user_parts(&self) -> Vec<Value> {
        let body = self
            .requests_to("/responses")
            .pop()
            .expect("a request")
            .json()
            .clone();
        body["input"]
            .as_array()
            .and_then(|input| input.iter().rfind(|item| item["role"] == "user"))
            .and_then(|user| user["content"].as_array().cloned())
            .expect("a user message")
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Waits until at least `count` requests to `suffix` arrived (panics after 10 s).
    pub async fn wait_for_requests_to(&self, suffix: &str, count: usize) -> Vec<Recorded> {
        let wait = async {
            loop {
                let recorded = self.shared.recorded.notified();
                tokio::pin!(recorded);
                recorded.as_mut().enable();
                let seen = self.requests_to(suffix);
                if seen.len() >= count {
                    return seen;
                }
                recorded.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .unwrap_or_else(|_| panic!("fewer than {count} requests to {suffix} within 10 s"))
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.shared.stopping().cancel();
    }
}

/// Serves `shared`'s routes on `listener` until its shutdown token is cancelled.
fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) -> JoinHandle<()> {
    let stop = shared.stopping();
    let app = router(shared);
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(error) = served {
            eprintln!("fake OpenAI server stopped: {error}");
        }
    })
}

fn scenario_fallback(scenario: Scenario) -> Fallback {
    Arc::new(move |request: &Value| scenario.reply(request))
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/oauth/authorize", get(issuer::authorize))
        .route("/oauth/token", post(issuer::token))
        .route("/oauth/revoke", post(issuer::revoke))
        .route("/api/accounts/deviceauth/usercode", post(device::usercode))
        .route("/api/accounts/deviceauth/token", post(device::token))
        .route("/codex/device", get(device::page))
        .route(
            "/backend-api/codex/responses",
            post(backend::codex_responses),
        )
        .route("/backend-api/codex/models", get(backend::codex_models))
        .route("/backend-api/wham/usage", get(backend::wham_usage))
        .route("/v1/responses", post(backend::api_responses))
        .route("/v1/models", get(backend::api_models))
        .fallback(|| async { json_reply(404, json!({"error": {"message": "Not found"}})) })
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            record::record,
        ))
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

/// Wall-clock time in epoch milliseconds.
fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970");
    i64::try_from(since.as_millis()).expect("a clock before year 292 million")
}

/// `status` with a JSON body.
fn json_reply(status: u16, body: Value) -> Response {
    let mut response = Response::new(axum::body::Body::from(body.to_string()));
    *response.status_mut() = axum::http::StatusCode::from_u16(status).expect("a valid HTTP status");
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
}

/// The fields of a JSON object or form-encoded body (by `Content-Type`); strings as they are,
/// other JSON values as JSON text.
fn request_fields(headers: &HeaderMap, body: &[u8]) -> HashMap<String, String> {
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("json"));
    if !is_json {
        return url::form_urlencoded::parse(body).into_owned().collect();
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => fields
            .into_iter()
            .map(|(key, value)| match value {
                Value::String(text) => (key, text),
                other => (key, other.to_string()),
            })
            .collect(),
        _ => HashMap::new(),
    }
}
