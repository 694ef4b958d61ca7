//! Streams one response: credential, request, SSE, retries, and the 401 refresh.
//!
//! [`LlmClient::stream`] starts a task that owns the HTTP exchange and hands typed events to a
//! [`ResponseStream`] through a small bounded channel, so a slow reader slows the socket instead
//! of filling memory. Dropping the stream aborts the task and closes the connection at once.

use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use reqwest::header::HeaderMap;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::error::{
    LlmError, RequestContext, Verdict, classify_status, classify_stream_error, network_words,
    refused_certificate,
};
use super::models::{ModelCache, ModelList};
use super::request::{self, Prompt};
use super::sse::{self, SseEvent, StreamError};
use super::types::ResponseEvent;
use crate::auth::{AuthManager, Credential};
use crate::config::Config;
use crate::protocol::{RateLimitWindow, RateLimits};

/// Timing and retry limits of streaming; the defaults are what a person wants, tests shorten them.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSettings {
    /// How long the stream may stay silent before the attempt counts as cut (Codex: 300 s).
    pub idle_timeout: Duration,
    /// Retries after transient failures of the stream once it began, per response.
    pub max_retries: u32,
    /// Retries of a request the server refused for a while (5xx, 429) or never answered.
    pub max_request_retries: u32,
    /// The first backoff; each retry doubles it, ±10 % jitter.
    pub base_backoff: Duration,
    /// The longest wait kelp sits through by itself for a rate limit; longer is an error.
    pub max_rate_limit_wait: Duration,
    /// How long kelp waits for an unreachable server to come back once the retries are spent,
    /// trying again every [`NETWORK_PROBE_MAX`] at most.
    pub network_wait: Duration,
}

impl StreamSettings {
    /// These limits with the model provider's own laid over them.
    pub fn for_provider(mut self, provider: &crate::config::ModelProvider) -> Self {
        if let Some(ms) = provider.stream_idle_timeout_ms {
            self.idle_timeout = Duration::from_millis(ms);
        }
        self.max_retries = provider.stream_retries().unwrap_or(self.max_retries);
        self.max_request_retries = provider
            .request_retries()
            .unwrap_or(self.max_request_retries);
        self
    }
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(300),
            max_retries: 5,
            max_request_retries: 5,
            base_backoff: Duration::from_millis(200),
            max_rate_limit_wait: Duration::from_secs(120),
            network_wait: Duration::from_secs(15 * 60),
        }
    }
}

/// The longest pause between two tries while waiting for the network: a network back is
/// noticed within it.
pub const NETWORK_PROBE_MAX: Duration = Duration::from_secs(5);

/// How long to wait for a TCP + TLS connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// An error body longer than this is cut; no server explains itself in more.
const MAX_ERROR_BODY: usize = 64 * 1024;

static HTTP: OnceLock<reqwest::Client> = OnceLock::new();

/// The process's one HTTP client, so every request reuses its connections (HTTP/2 where the
/// server offers it, rustls, proxies from the environment).
pub fn http_client() -> Result<reqwest::Client, LlmError> {
    if let Some(client) = HTTP.get() {
        return Ok(client.clone());
    }
    let client = crate::http::builder()
        .user_agent(request::user_agent())
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_keepalive(Duration::from_secs(30))
        .build()
        .map_err(|e| LlmError::Setup(e.to_string()))?;
    Ok(HTTP.get_or_init(|| client).clone())
}

/// Sends requests to the Responses API; cheap to clone and share between tasks.
#[derive(Debug, Clone)]
pub struct LlmClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    config: Config,
    auth: AuthManager,
    settings: StreamSettings,
    models: Mutex<ModelCache>,
}

impl LlmClient {
    /// A client for the configured endpoints, with credentials from `auth`.
    pub fn new(config: Config, auth: AuthManager) -> Result<Self, LlmError> {
        Self::with_settings(config, auth, StreamSettings::default())
    }

    /// A client with other timing and retry limits.
    pub fn with_settings(
        config: Config,
        auth: AuthManager,
        settings: StreamSettings,
    ) -> Result<Self, LlmError> {
        let settings = settings.for_provider(&config.model_provider);
        Ok(Self {
            inner: Arc::new(Inner {
                http: http_client()?,
                config,
                auth,
                settings,
                models: Mutex::default(),
            }),
        })
    }

    /// Checks a new API key with one cheap authenticated request.
    pub async fn check_api_key(&self, key: &str) -> super::models::KeyCheck {
        super::models::check_api_key(&self.inner.http, &self.inner.config, key).await
    }

    /// The configuration the client uses.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The credentials the client uses.
    pub fn auth(&self) -> &AuthManager {
        &self.inner.auth
    }

    /// What requests to the model provider in use are sent with: kelp's login for a provider
    /// that takes it (the built-in `openai`), else the provider's own key, or none. Never
    /// kelp's login for any other provider.
    pub async fn credential(&self) -> Result<Credential, LlmError> {
        let provider = &self.inner.config.model_provider;
        if provider.requires_openai_auth {
            return Ok(self.auth().credential().await?);
        }
        request::provider_credential(provider, |name| std::env::var(name).ok())
    }

    /// The models the current login can use (see [`ModelCache::list`]).
    pub async fn models(&self) -> Result<ModelList, LlmError> {
        let credential = self.credential().await?;
        let inner = &self.inner;
        Ok(ModelCache::list(&inner.models, &inner.http, &inner.config, &credential).await)
    }

    /// The ChatGPT plan's usage windows now, asked of the backend; `None` for an API key or
    /// when it does not say.
    pub async fn rate_limits(&self) -> Option<crate::protocol::RateLimits> {
        let credential = self.credential().await.ok()?;
        super::limits::fetch(&self.inner.http, &self.inner.config, &credential).await
    }

    /// Starts streaming the response to `prompt`. Events arrive in order and end after
    /// [`ResponseEvent::Completed`] or one error; see [`ResponseEvent`] for what a
    /// `Retrying` event means for events already received. Must be called inside a tokio runtime.
    pub fn stream(&self, prompt: &Prompt) -> ResponseStream {
        let (tx, rx) = mpsc::channel(64);
        let task = match request::body(prompt) {
            Ok(body) => {
                let exchange = Exchange {
                    client: self.clone(),
                    body: bytes::Bytes::from(body),
                    model: prompt.model.clone(),
                    conversation_id: prompt.conversation_id,
                    tx,
                };
                Some(crate::task::spawn(exchange.run()))
            }
            Err(e) => {
                let _ = tx.try_send(Err(LlmError::Setup(format!(
                    "cannot encode the request: {e}"
                ))));
                None
            }
        };
        ResponseStream { rx, task }
    }
}

/// The events of one response. Ends after `Completed` or an error; dropping it cancels the
/// request.
#[derive(Debug)]
pub struct ResponseStream {
    rx: mpsc::Receiver<Result<ResponseEvent, LlmError>>,
    task: Option<JoinHandle<()>>,
}

impl ResponseStream {
    /// The next event, or `None` once the response is over.
    pub async fn next_event(&mut self) -> Option<Result<ResponseEvent, LlmError>> {
        self.rx.recv().await
    }
}

impl Stream for ResponseStream {
    type Item = Result<ResponseEvent, LlmError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for ResponseStream {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// How one attempt ended, short of success.
enum AttemptEnd {
    /// What to do, and whether the request or its stream failed.
    Verdict(Verdict, Phase),
    /// Nobody listens any more.
    Gone,
}

/// Where an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the stream began: no answer, or a refusal.
    Request,
    /// After the stream began.
    Stream,
}

impl Verdict {
    fn at(self, phase: Phase) -> AttemptEnd {
        AttemptEnd::Verdict(self, phase)
    }
}

/// The retries made of one response: of refused requests and of cut streams, counted apart
/// as a provider may limit them apart.
#[derive(Default)]
struct Retries {
    request: u32,
    stream: u32,
}

impl Retries {
    fn of(&self, phase: Phase) -> u32 {
        match phase {
            Phase::Request => self.request,
            Phase::Stream => self.stream,
        }
    }

    fn max(phase: Phase, client: &LlmClient) -> u32 {
        let settings = &client.inner.settings;
        match phase {
            Phase::Request => settings.max_request_retries,
            Phase::Stream => settings.max_retries,
        }
    }

    fn spent(&self, phase: Phase, client: &LlmClient) -> bool {
        self.of(phase) >= Self::max(phase, client)
    }

    fn count(&mut self, phase: Phase) {
        match phase {
            Phase::Request => self.request += 1,
            Phase::Stream => self.stream += 1,
        }
    }

    fn total(&self) -> u32 {
        self.request + self.stream
    }
}

/// One response's request, with everything its retries need.
struct Exchange {
    client: LlmClient,
    body: bytes::Bytes,
    model: String,
    conversation_id: uuid::Uuid,
    tx: mpsc::Sender<Result<ResponseEvent, LlmError>>,
}

impl Exchange {
    async fn run(self) {
        if let Err(error) = self.attempts().await {
            tracing::info!(error = %error, "response failed");
            let _ = self.tx.send(Err(error)).await;
        }
    }

    /// Runs attempts until one completes, one fails for good, or the retries run out (an
    /// unreachable server is then waited for).
    async fn attempts(&self) -> Result<(), LlmError> {
        let auth = &self.client.inner.auth;
        let mut credential = self.client.credential().await?;
        let provider = &self.client.inner.config.model_provider;
        let mut refreshed = false;
        let mut retries = Retries::default();
        // Since when the server has been unreachable with the retries spent.
        let mut offline: Option<tokio::time::Instant> = None;
        loop {
            let ctx = RequestContext {
                model: self.model.clone(),
                login: request::login_kind(&credential),
                provider: provider.id.clone(),
                provider_key_fix: request::provider_key_fix(provider),
            };
            let (verdict, phase) = match self.attempt(&credential, &ctx).await {
                Ok(()) | Err(AttemptEnd::Gone) => return Ok(()),
                Err(AttemptEnd::Verdict(verdict, phase)) => (verdict, phase),
            };
            if !matches!(verdict, Verdict::Unreachable { .. }) {
                offline = None;
            }
            let listened = match verdict {
                Verdict::Fatal(error) => return Err(error),
                Verdict::Unauthorized if refreshed => return Err(LlmError::LoginExpired),
                Verdict::Unauthorized => {
                    refreshed = true;
                    tracing::info!("the server refused the ChatGPT token; refreshing it once");
                    credential = auth.refresh_after_unauthorized(&credential).await?;
                    true
                }
                Verdict::Unreachable { reason } if retries.spent(phase, &self.client) => {
                    let first = offline.is_none();
                    let since = *offline.get_or_insert_with(tokio::time::Instant::now);
                    self.wait_for_network(since, first, retries.total(), reason)
                        .await?
                }
                Verdict::Unreachable { reason } => {
                    let error = LlmError::Transient {
                        reason: reason.clone(),
                        retries: 0,
                    };
                    self.retry(&mut retries, phase, None, reason, error).await?
                }
                Verdict::Retry {
                    delay,
                    reason,
                    error,
                } => {
                    self.retry(&mut retries, phase, delay, reason, error)
                        .await?
                }
            };
            if !listened {
                return Ok(());
            }
        }
    }

    /// Another try after a transient failure at `phase`, after `delay` (or the backoff), said
    /// to the caller; `error` (with the retries made) once they are spent or the wait asked
    /// is too long. `Ok(false)`: nobody listens any more.
    async fn retry(
        &self,
        retries: &mut Retries,
        phase: Phase,
        delay: Option<Duration>,
        reason: String,
        error: LlmError,
    ) -> Result<bool, LlmError> {
        let settings = &self.client.inner.settings;
        let done = retries.of(phase);
        let give_up = |error| match error {
            LlmError::Transient { reason, .. } => LlmError::Transient {
                reason,
                retries: done,
            },
            other => other,
        };
        if retries.spent(phase, &self.client) {
            return Err(give_up(error));
        }
        let delay = match delay {
            Some(asked) if asked > settings.max_rate_limit_wait => return Err(give_up(error)),
            Some(asked) => asked,
            None => crate::random::backoff(settings.base_backoff, done + 1),
        };
        retries.count(phase);
        // The person is told how many times in all.
        let attempt = retries.total();
        tracing::info!(attempt, ?delay, %reason, "retrying the response");
        let event = ResponseEvent::Retrying {
            attempt,
            max: Retries::max(phase, &self.client),
            delay,
            reason,
        };
        if self.tx.send(Ok(event)).await.is_err() {
            return Ok(false);
        }
        tokio::time::sleep(delay).await;
        Ok(true)
    }

    /// One pause while the server stays unreachable, `since` then: said to the caller as it
    /// begins (`first`: a `Retrying` with no count), then tried again quietly, ever more slowly up to
    /// [`NETWORK_PROBE_MAX`]. `Ok(false)`: nobody listens any more; an error once
    /// [`StreamSettings::network_wait`] has passed.
    async fn wait_for_network(
        &self,
        since: tokio::time::Instant,
        first: bool,
        attempt: u32,
        reason: String,
    ) -> Result<bool, LlmError> {
        let waited = since.elapsed();
        let limit = self.client.inner.settings.network_wait;
        if waited >= limit {
            return Err(LlmError::Transient {
                reason: format!(
                    "{reason}; the network stayed unreachable for {}",
                    crate::humanize::duration_words(limit)
                ),
                retries: attempt,
            });
        }
        let pause = Duration::from_secs(1)
            .saturating_mul(1 << (waited.as_secs() / 4).min(3))
            .min(NETWORK_PROBE_MAX);
        if first {
            tracing::info!(%reason, "the server is unreachable; waiting for the network");
            // `max` 0: no count, kelp waits (`protocol::reconnecting`).
            let event = ResponseEvent::Retrying {
                attempt,
                max: 0,
                delay: pause,
                reason,
            };
            if self.tx.send(Ok(event)).await.is_err() {
                return Ok(false);
            }
        }
        tokio::time::sleep(pause).await;
        Ok(!self.tx.is_closed())
    }

    /// One HTTP exchange, streamed to the caller until `response.completed`.
    async fn attempt(
        &self,
        credential: &Credential,
        ctx: &RequestContext,
    ) -> Result<(), AttemptEnd> {
        let inner = &self.client.inner;
        let idle = inner.settings.idle_timeout;
        let request = inner
            .http
            .post(request::responses_url(&inner.config, credential))
            .headers(request::stream_headers(
                &inner.config,
                credential,
                self.conversation_id,
            ))
            .body(self.body.clone());
        let response = match tokio::time::timeout(idle, request.send()).await {
            Err(_) => return Err(idle_verdict(idle).at(Phase::Request)),
            Ok(Err(e)) => return Err(network_verdict(e).at(Phase::Request)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if let Some(limits) = rate_limits(response.headers()) {
            self.emit(ResponseEvent::RateLimits(limits)).await?;
        }
        if !status.is_success() {
            let headers = response.headers().clone();
            let body = read_error_body(response, idle).await;
            tracing::info!(status = status.as_u16(), "the server refused the request");
            return Err(classify_status(status.as_u16(), &headers, &body, ctx).at(Phase::Request));
        }

        let mut events = std::pin::pin!(sse::events(response.bytes_stream()));
        loop {
            let event = match tokio::time::timeout(idle, events.next()).await {
                Err(_) => return Err(idle_verdict(idle).at(Phase::Stream)),
                Ok(None) => return Err(cut_verdict().at(Phase::Stream)),
                Ok(Some(Err(StreamError::Transport(e)))) => {
                    return Err(network_verdict(e).at(Phase::Stream));
                }
                Ok(Some(Err(StreamError::Malformed))) => {
                    return Err(transient("the server sent a malformed event stream".into())
                        .at(Phase::Stream));
                }
                Ok(Some(Ok(event))) => event,
            };
            let event = match event {
                SseEvent::Response(ResponseEvent::Completed { response_id, usage }) => {
                    // Done: the socket may stay open, the answer does not wait for it.
                    self.emit(ResponseEvent::Completed { response_id, usage })
                        .await?;
                    return Ok(());
                }
                SseEvent::Response(event) => event,
                SseEvent::Failed(error) | SseEvent::Error(error) => {
                    return Err(classify_stream_error(&error, ctx).at(Phase::Stream));
                }
                SseEvent::Incomplete { reason } => {
                    return Err(Verdict::Fatal(LlmError::Incomplete { reason }).at(Phase::Stream));
                }
            };
            self.emit(event).await?;
        }
    }

    async fn emit(&self, event: ResponseEvent) -> Result<(), AttemptEnd> {
        self.tx.send(Ok(event)).await.map_err(|_| AttemptEnd::Gone)
    }
}

fn transient(reason: String) -> Verdict {
    Verdict::Retry {
        delay: None,
        reason: reason.clone(),
        error: LlmError::Transient { reason, retries: 0 },
    }
}

fn idle_verdict(idle: Duration) -> Verdict {
    transient(format!(
        "the server sent nothing for {} s",
        idle.as_secs_f64().round()
    ))
}

fn cut_verdict() -> Verdict {
    transient("stream disconnected before completion".to_string())
}

fn network_verdict(e: reqwest::Error) -> Verdict {
    if let Some(why) = refused_certificate(&e) {
        tracing::debug!(error = %e.without_url(), "TLS certificate refused");
        return Verdict::Fatal(LlmError::UntrustedCertificate(why));
    }
    let what = network_words(&e);
    let unreachable = e.is_connect();
    tracing::debug!(error = %e.without_url(), "{what}");
    if unreachable {
        return Verdict::Unreachable {
            reason: what.to_string(),
        };
    }
    transient(what.to_string())
}

async fn read_error_body(mut response: reqwest::Response, idle: Duration) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY {
        match tokio::time::timeout(idle, response.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(MAX_ERROR_BODY);
    String::from_utf8_lossy(&body).into_owned()
}

/// The `x-codex-{primary,secondary}-*` headers, when the backend sent any.
pub fn rate_limits(headers: &HeaderMap) -> Option<RateLimits> {
    let window = |which: &str| {
        let get = |field: &str| {
            headers
                .get(format!("x-codex-{which}-{field}"))
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        Some(RateLimitWindow {
            used_percent: get("used-percent")?.parse().ok()?,
            window_minutes: get("window-minutes").and_then(|v| v.parse().ok()),
            resets_at: get("reset-at").and_then(|v| v.parse().ok()),
        })
    };
    let limits = RateLimits {
        primary: window("primary"),
        secondary: window("secondary"),
    };
    (limits.primary.is_some() || limits.secondary.is_some()).then_some(limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn rate_limit_headers_become_windows() {
        let mut headers = HeaderMap::new();
        assert_eq!(rate_limits(&headers), None);
        for (k, v) in [
            ("x-codex-primary-used-percent", "42.5"),
            ("x-codex-primary-window-minutes", "300"),
            ("x-codex-primary-reset-at", "1700000000"),
            ("x-codex-secondary-used-percent", "7"),
        ] {
            headers.insert(k, HeaderValue::from_static(v));
        }
        let limits = rate_limits(&headers).unwrap();
        assert_eq!(
            limits.primary,
            Some(RateLimitWindow {
                used_percent: 42.5,
                window_minutes: Some(300),
                resets_at: Some(1_700_000_000)
            })
        );
        assert_eq!(limits.secondary.unwrap().window_minutes, None);
    }
}
