//! `kelp acp`: the real binary on pipes, driven with the `agent-client-protocol` crate's client
//! side, against the fake OpenAI server.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agent_client_protocol::schema::ProtocolVersion;
use agent_client_protocol::v1::ConnectionTo;
use agent_client_protocol::v1::schema::{
    AuthCapabilities, AuthMethod, AuthenticateRequest, CancelNotification, ClientCapabilities,
    CloseSessionRequest, CompleteElicitationNotification, ContentBlock, CreateElicitationRequest,
    CreateElicitationResponse, DeleteSessionRequest, Diff, ElicitationAcceptAction,
    ElicitationAction, ElicitationCapabilities, ElicitationMode, ElicitationScope,
    ElicitationUrlCapabilities, FileSystemCapabilities, ForkSessionRequest, ImageContent,
    InitializeRequest, InitializeResponse, ListSessionsRequest, LoadSessionRequest,
    NewSessionRequest, PromptRequest, PromptResponse, ReadTextFileRequest, ReadTextFileResponse,
    RequestPermissionOutcome, RequestPermissionRequest, RequestPermissionResponse,
    ResumeSessionRequest, SelectedPermissionOutcome, SessionId, SessionNotification, SessionUpdate,
    SetSessionConfigOptionRequest, SetSessionModeRequest, StopReason, TextContent, ToolCallContent,
    ToolCallStatus, ToolKind, WriteTextFileRequest, WriteTextFileResponse,
};
use agent_client_protocol::{Agent, ByteStreams, Client, Error, UntypedMessage};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};

use crate::fake_openai::{Config as FakeConfig, DeviceApproval, FakeOpenAi, Reply};
use crate::support::retry_scenario;

/// How the test's client answers the agent's requests.
#[derive(Clone, Copy)]
enum Elicit {
    Accept,
    Decline,
}

/// What the client saw, and how it answers.
struct Seen {
    updates: Mutex<Vec<SessionUpdate>>,
    elicitations: Mutex<Vec<CreateElicitationRequest>>,
    /// The ids of the elicitations the agent said are complete (their dialogs closed).
    completed: Mutex<Vec<String>>,
    permissions: Mutex<Vec<RequestPermissionRequest>>,
    /// The option chosen for each permission request, in turn; `None` answers `cancelled`.
    choices: Mutex<Vec<Option<&'static str>>>,
    elicit: Elicit,
    /// The editor's open buffers, by path: what `fs/read_text_file` answers.
    buffers: Mutex<std::collections::HashMap<PathBuf, String>>,
    /// Permission requests left open (a `None` choice), to answer late.
    held: Mutex<Vec<agent_client_protocol::v1::Responder<RequestPermissionResponse>>>,
    /// Every `fs/write_text_file`, in order.
    writes: Mutex<Vec<(PathBuf, String)>>,
    /// Each elicitation's message goes here, for the test to act on the code in it.
    messages: mpsc::UnboundedSender<String>,
    permission_asked: mpsc::UnboundedSender<()>,
}

impl Seen {
    fn updates(&self) -> Vec<SessionUpdate> {
        std::mem::take(&mut *self.updates.lock().unwrap())
    }
}

/// `kelp acp` with a home of its own (or one a test keeps across agents).
struct Kelp {
    child: Child,
    home: PathBuf,
    _owned: Option<tempfile::TempDir>,
}

impl Kelp {
    fn start(fake: &FakeOpenAi, extra_env: &[(&str, &str)]) -> Self {
        let home = tempfile::tempdir().unwrap();
        let mut kelp = Self::start_at(fake, home.path(), extra_env);
        kelp._owned = Some(home);
        kelp
    }

    fn start_at(fake: &FakeOpenAi, home: &Path, extra_env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kelp"));
        cmd.arg("acp")
            .env_clear()
            .env("HOME", home)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KELP_CALLBACK_PORT", "0")
            .env("RUST_LOG", "kelp=debug")
            // Over SSH: the device code leads and no browser is offered.
            .env("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22")
            .envs(fake.env())
            .envs(extra_env.iter().copied())
            .current_dir(home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let child = cmd.spawn().unwrap();
        Self {
            child,
            home: home.to_path_buf(),
            _owned: None,
        }
    }

    fn auth_file(&self) -> PathBuf {
        self.home.join(".local/share/kelp/auth.json")
    }

    /// Runs `body` as an ACP client of this agent; the client answers elicitations with
    /// `elicit` and permission requests with `choices`, in turn.
    async fn client<R>(
        &mut self,
        elicit: Elicit,
        choices: Vec<Option<&'static str>>,
        body: impl AsyncFnOnce(ConnectionTo<Agent>, Arc<Seen>, Channels) -> Result<R, Error>,
    ) -> R {
        let stdin = self.child.stdin.take().unwrap();
        let stdout = self.child.stdout.take().unwrap();
        let transport = ByteStreams::new(stdin.compat_write(), stdout.compat());
        let (messages, message_rx) = mpsc::unbounded_channel();
        let (permission_asked, asked_rx) = mpsc::unbounded_channel();
        let seen = Arc::new(Seen {
            updates: Mutex::default(),
            elicitations: Mutex::default(),
            completed: Mutex::default(),
            permissions: Mutex::default(),
            choices: Mutex::new(choices),
            elicit,
            buffers: Mutex::default(),
            held: Mutex::default(),
            writes: Mutex::default(),
            messages,
            permission_asked,
        });
        let channels = Channels {
            messages: message_rx,
            asked: asked_rx,
        };
        let result = Client
            .v1()
            .name("kelp-test")
            .on_receive_notification(
                {
                    let seen = Arc::clone(&seen);
                    async move |n: SessionNotification, _cx| {
                        seen.updates.lock().unwrap().push(n.update);
                        Ok(())
                    }
                },
                agent_client_protocol::on_receive_notification!(),
            )
            .on_receive_notification(
                {
                    let seen = Arc::clone(&seen);
                    async move |n: CompleteElicitationNotification, _cx| {
                        seen.completed
                            .lock()
                            .unwrap()
                            .push(n.elicitation_id.to_string());
                        Ok(())
                    }
                },
                agent_client_protocol::on_receive_notification!(),
            )
            .on_receive_request(
                {
                    let seen = Arc::clone(&seen);
                    async move |r: CreateElicitationRequest, responder, _cx| {
                        let _ = seen.messages.send(r.message.clone());
                        seen.elicitations.lock().unwrap().push(r);
                        let action = match seen.elicit {
                            Elicit::Accept => {
                                ElicitationAction::Accept(ElicitationAcceptAction::new())
                            }
                            Elicit::Decline => ElicitationAction::Decline,
                        };
                        responder.respond(CreateElicitationResponse::new(action))
                    }
                },
                agent_client_protocol::on_receive_request!(),
            )
            .on_receive_request(
                {
                    let seen = Arc::clone(&seen);
                    async move |r: RequestPermissionRequest, responder, _cx| {
                        seen.permissions.lock().unwrap().push(r);
                        let _ = seen.permission_asked.send(());
                        let choice = {
                            let mut choices = seen.choices.lock().unwrap();
                            if choices.is_empty() {
                                None
                            } else {
                                choices.remove(0)
                            }
                        };
                        let Some(option) = choice else {
                            // Left open: the test cancels the turn, and may answer late.
                            seen.held.lock().unwrap().push(responder);
                            return Ok(());
                        };
                        responder.respond(RequestPermissionResponse::new(
                            RequestPermissionOutcome::Selected(SelectedPermissionOutcome::new(
                                option.to_string(),
                            )),
                        ))
                    }
                },
                agent_client_protocol::on_receive_request!(),
            )
            .on_receive_request(
                {
                    let seen = Arc::clone(&seen);
                    async move |r: ReadTextFileRequest, responder, _cx| {
                        let text = seen.buffers.lock().unwrap().get(&r.path).cloned();
                        match text {
                            Some(text) => responder.respond(ReadTextFileResponse::new(text)),
                            None => responder.respond_with_error(Error::new(
                                -32002,
                                format!("no such file: {}", r.path.display()),
                            )),
                        }
                    }
                },
                agent_client_protocol::on_receive_request!(),
            )
            .on_receive_request(
                {
                    let seen = Arc::clone(&seen);
                    async move |r: WriteTextFileRequest, responder, _cx| {
                        // The editor refuses some files, to show what a failed write leaves.
                        let refused = r
                            .path
                            .file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("readonly-"));
                        if refused {
                            return responder
                                .respond_with_error(Error::new(-32603, "read-only buffer"));
                        }
                        seen.buffers
                            .lock()
                            .unwrap()
                            .insert(r.path.clone(), r.content.clone());
                        seen.writes.lock().unwrap().push((r.path, r.content));
                        responder.respond(WriteTextFileResponse::new())
                    }
                },
                agent_client_protocol::on_receive_request!(),
            )
            .connect_with(transport, {
                let seen = Arc::clone(&seen);
                async move |cx| body(cx, seen, channels).await
            })
            .await;
        let result = result.unwrap();
        // The client is gone (stdin closed): kelp stops and exits cleanly.
        let status = tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .expect("kelp exits once stdin closes")
            .unwrap();
        assert!(status.success(), "{status}");
        result
    }
}

/// What the test body waits on.
struct Channels {
    messages: mpsc::UnboundedReceiver<String>,
    asked: mpsc::UnboundedReceiver<()>,
}

fn url_elicitation() -> ClientCapabilities {
    ClientCapabilities::new()
        .elicitation(ElicitationCapabilities::new().url(ElicitationUrlCapabilities::new()))
}

/// `initialize`, as raw JSON: the API-key method is a kind the crate's types drop.
async fn initialize(cx: &ConnectionTo<Agent>, capabilities: ClientCapabilities) -> Value {
    let request = InitializeRequest::new(ProtocolVersion::V1).client_capabilities(capabilities);
    let raw = UntypedMessage::new("initialize", request).unwrap();
    let response: Value = cx.send_request(raw).block_task().await.unwrap();
    // The typed view of the same answer.
    let typed: InitializeResponse = serde_json::from_value(response.clone()).unwrap();
    assert!(typed.agent_capabilities.load_session);
    assert!(typed.agent_capabilities.auth.logout.is_some());
    assert_eq!(response["protocolVersion"], 1);
    response
}

fn method_ids(methods: &[AuthMethod]) -> Vec<String> {
    methods.iter().map(|m| m.id().0.to_string()).collect()
}

/// The user code in an elicitation message: `ABCD-12345`.
fn code_in(message: &str) -> String {
    message
        .split_whitespace()
        .find(|w| w.len() == 10 && w.as_bytes()[4] == b'-')
        .unwrap_or_else(|| panic!("no code in {message:?}"))
        .to_string()
}

/// The diff a permission request shows first.
fn first_diff(request: &RequestPermissionRequest) -> Diff {
    match request
        .tool_call
        .fields
        .content
        .as_ref()
        .and_then(|c| c.first())
    {
        Some(ToolCallContent::Diff(diff)) => diff.clone(),
        other => panic!("a diff: {other:?}"),
    }
}

/// Signs in with `method`.
async fn authenticate(cx: &ConnectionTo<Agent>, method: &str) -> Result<(), Error> {
    cx.send_request(AuthenticateRequest::new(method.to_string()))
        .block_task()
        .await
        .map(drop)
}

/// A new session in `dir`.
async fn new_session(cx: &ConnectionTo<Agent>, dir: &Path) -> Result<SessionId, Error> {
    let response = cx
        .send_request(NewSessionRequest::new(dir))
        .block_task()
        .await?;
    Ok(response.session_id)
}

/// Sends a text prompt and waits for its answer.
async fn prompt(
    cx: &ConnectionTo<Agent>,
    session: &SessionId,
    text: &str,
) -> Result<PromptResponse, Error> {
    cx.send_request(text_prompt(&session.0, text))
        .block_task()
        .await
}

fn text_prompt(session: &str, text: &str) -> PromptRequest {
    PromptRequest::new(
        session.to_string(),
        vec![ContentBlock::Text(TextContent::new(text.to_string()))],
    )
}

fn message_text(updates: &[SessionUpdate]) -> String {
    updates
        .iter()
        .filter_map(|u| match u {
            SessionUpdate::AgentMessageChunk(chunk) => match &chunk.content {
                ContentBlock::Text(t) => Some(t.text.as_str()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// A fake server whose device codes are polled every second.
async fn polled_every_second() -> FakeOpenAi {
    FakeOpenAi::start_with(FakeConfig {
        device_interval: json!("1"),
        ..FakeConfig::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_code_login_goes_through_url_elicitation() {
    let fake = polled_every_second().await;
    let mut kelp = Kelp::start(&fake, &[]);
    let auth_file = kelp.auth_file();
    kelp.client(Elicit::Accept, vec![], async |cx, seen, mut ch| {
        let init = initialize(&cx, url_elicitation()).await;
        let methods = init["authMethods"].as_array().unwrap();
        let ids: Vec<_> = methods.iter().map(|m| m["id"].as_str().unwrap()).collect();
        // Over SSH: the device code first, no browser; the key as an env_var method.
        assert_eq!(ids, ["chatgpt-device-code", "openai-api-key"]);
        assert_eq!(methods[1]["type"], "env_var");
        assert_eq!(methods[1]["vars"][0]["name"], "OPENAI_API_KEY");
        assert!(
            methods
                .iter()
                .all(|m| m["description"].as_str().is_some_and(|d| !d.is_empty()))
        );

        // Before a login, sessions are refused as ACP agents refuse them.
        let refused = cx
            .send_request(NewSessionRequest::new(std::env::temp_dir()))
            .block_task()
            .await
            .unwrap_err();
        assert_eq!(i32::from(refused.code), -32000);
        assert_eq!(refused.message, "Authentication required");
        // With words that say how to sign in, not that the agent is missing: an object with
        // the reason and the details, as clients read it.
        let data = refused.data.unwrap();
        assert_eq!(data["reason"], "not signed in", "{data}");
        assert!(
            data["details"]
                .as_str()
                .is_some_and(|d| d.contains("kelp login")),
            "{data}"
        );

        let login = cx.send_request(AuthenticateRequest::new("chatgpt-device-code"));
        let request_id = serde_json::to_value(login.id()).unwrap();
        let message = ch.messages.recv().await.unwrap();
        let code = code_in(&message);
        assert!(!auth_file.exists(), "nothing is saved before the approval");
        fake.approve_device(&code);
        login.block_task().await.unwrap();

        let elicitation = seen.elicitations.lock().unwrap()[0].clone();
        let ElicitationMode::Url(url) = &elicitation.mode else {
            panic!("a URL elicitation: {elicitation:?}");
        };
        assert_eq!(url.url, format!("{}/codex/device", fake.url()));
        let ElicitationScope::Request(scope) = &url.scope else {
            panic!("request scope: {:?}", url.scope);
        };
        assert_eq!(serde_json::to_value(&scope.request_id).unwrap(), request_id);
        assert!(message.contains(&url.url), "{message}");
        // The dialog is closed for the editor once the login is done.
        assert_eq!(
            *seen.completed.lock().unwrap(),
            [url.elicitation_id.to_string()]
        );
        Ok(())
    })
    .await;
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&auth_file).unwrap()).unwrap();
    assert_eq!(
        saved["openai"]["type"], "oauth",
        "the opencode shape: {saved}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_or_expired_device_code_fails_in_plain_words() {
    let fake_with = |config: FakeConfig| FakeOpenAi::start_with(config);
    let (declined, shown, saved) =
        failed_device_login(polled_every_second().await, Elicit::Decline).await;
    assert_eq!(declined, "the sign-in was declined");
    assert_eq!(shown, 1);
    assert!(!saved, "a declined login writes nothing");

    let (expired, _, saved) = failed_device_login(
        fake_with(FakeConfig {
            device_interval: json!("1"),
            device_approval: DeviceApproval::ExpireAfterPolls(1),
            ..FakeConfig::default()
        })
        .await,
        Elicit::Accept,
    )
    .await;
    assert!(expired.contains("expired"), "{expired}");
    assert!(!saved);

    // Refused by the account: the message says where to enable it, and no link is shown.
    let (refused, shown, _) = failed_device_login(
        fake_with(FakeConfig {
            device_login_enabled: false,
            ..FakeConfig::default()
        })
        .await,
        Elicit::Accept,
    )
    .await;
    assert!(refused.contains("Security"), "{refused}");
    assert_eq!(shown, 0);
}

/// A device-code sign-in that fails: its error message, how many links the client was asked to
/// show, and whether anything was saved.
async fn failed_device_login(fake: FakeOpenAi, elicit: Elicit) -> (String, usize, bool) {
    let mut kelp = Kelp::start(&fake, &[]);
    let auth_file = kelp.auth_file();
    let (message, shown) = kelp
        .client(elicit, vec![], async |cx, seen, _ch| {
            initialize(&cx, url_elicitation()).await;
            let error = authenticate(&cx, "chatgpt-device-code").await.unwrap_err();
            assert_eq!(i32::from(error.code), -32000);
            let shown = seen.elicitations.lock().unwrap().len();
            // Every dialog shown is completed when its login ends, a declined one too.
            let completed = seen.completed.lock().unwrap().len();
            assert_eq!(completed, shown, "{}", error.message);
            Ok((error.message, shown))
        })
        .await;
    (message, shown, auth_file.exists())
}

/// A second sign-in replaces the first: the first's dialog is closed and its request fails;
/// the second's succeeds and is closed too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_device_login_closes_its_dialog() {
    let fake = polled_every_second().await;
    let mut kelp = Kelp::start(&fake, &[]);
    kelp.client(Elicit::Accept, vec![], async |cx, seen, mut ch| {
        initialize(&cx, url_elicitation()).await;
        let first = cx.send_request(AuthenticateRequest::new("chatgpt-device-code"));
        ch.messages.recv().await.unwrap();
        let second = cx.send_request(AuthenticateRequest::new("chatgpt-device-code"));
        let code = code_in(&ch.messages.recv().await.unwrap());
        let replaced = first.block_task().await.unwrap_err();
        assert!(
            replaced.message.contains("cancelled"),
            "{}",
            replaced.message
        );
        let ids: Vec<String> = seen
            .elicitations
            .lock()
            .unwrap()
            .iter()
            .map(|e| match &e.mode {
                ElicitationMode::Url(url) => url.elicitation_id.to_string(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(*seen.completed.lock().unwrap(), [ids[0].clone()]);
        fake.approve_device(&code);
        second.block_task().await?;
        assert_eq!(*seen.completed.lock().unwrap(), ids);
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_url_elicitation_gets_a_terminal_method_or_none() {
    let fake = FakeOpenAi::start_with(FakeConfig {
        device_interval: json!("1"),
        device_approval: DeviceApproval::AfterPolls(1),
        ..FakeConfig::default()
    })
    .await;
    let terminal = ClientCapabilities::new().auth(AuthCapabilities::new().terminal(true));
    let mut kelp = Kelp::start(&fake, &[]);
    let auth_file = kelp.auth_file();
    let home = kelp.home.clone();
    let args = kelp
        .client(Elicit::Accept, vec![], async |cx, _seen, _ch| {
            let response: InitializeResponse = cx
                .send_request(
                    InitializeRequest::new(ProtocolVersion::V1)
                        .client_capabilities(terminal.clone()),
                )
                .block_task()
                .await?;
            assert_eq!(method_ids(&response.auth_methods)[0], "chatgpt-device-code");
            let AuthMethod::Terminal(method) = &response.auth_methods[0] else {
                panic!("a terminal method: {:?}", response.auth_methods[0]);
            };
            let args = method.args.clone();
            // Asked anyway, the agent says what to run instead of hanging.
            let error = authenticate(&cx, "chatgpt-device-code").await.unwrap_err();
            assert_eq!(i32::from(error.code), -32600, "as codex-acp answers it");
            assert!(
                error.message.contains("kelp login --device"),
                "{}",
                error.message
            );
            let unknown = authenticate(&cx, "carrier-pigeon").await.unwrap_err();
            assert_eq!(i32::from(unknown.code), -32602);
            Ok(args)
        })
        .await;

    // The client runs `kelp acp` with the method's arguments in a terminal: a device login.
    let mut login = std::process::Command::new(env!("CARGO_BIN_EXE_kelp"));
    login
        .arg("acp")
        .args(&args)
        .env_clear()
        .env("HOME", &home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(fake.env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = tokio::task::spawn_blocking(move || login.output())
        .await
        .unwrap()
        .unwrap();
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{shown}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        shown.contains("/codex/device"),
        "the link is shown: {shown}"
    );
    assert!(auth_file.exists(), "the terminal sign-in saved the login");

    let mut kelp = Kelp::start(&fake, &[]);
    kelp.client(Elicit::Accept, vec![], async |cx, _seen, _ch| {
        let init = initialize(&cx, ClientCapabilities::new()).await;
        let ids: Vec<_> = init["authMethods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            ids,
            ["openai-api-key"],
            "no way to show a device code: not offered"
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_login_takes_openai_api_key_and_a_prompt_streams() {
    let fake = FakeOpenAi::start().await;
    let project = tempfile::tempdir().unwrap();
    // No key anywhere: the error says how to give one.
    let mut kelp = Kelp::start(&fake, &[]);
    kelp.client(Elicit::Accept, vec![], async |cx, _seen, _ch| {
        initialize(&cx, ClientCapabilities::new()).await;
        let error = authenticate(&cx, "openai-api-key").await.unwrap_err();
        assert!(
            error.message.contains("OPENAI_API_KEY"),
            "{}",
            error.message
        );
        Ok(())
    })
    .await;

    let key = fake.api_key();
    let mut kelp = Kelp::start(&fake, &[("OPENAI_API_KEY", key.as_str())]);
    let auth_file = kelp.auth_file();
    fake.push_response(Reply::text("Hello from kelp."));
    kelp.client(Elicit::Accept, vec![], async |cx, seen, _ch| {
        initialize(&cx, ClientCapabilities::new()).await;
        authenticate(&cx, "openai-api-key").await?;
        let session = new_session(&cx, project.path()).await?;
        assert!(
            uuid::Uuid::parse_str(&session.0).is_ok(),
            "a kelp session id: {session:?}"
        );
        let answer = prompt(&cx, &session, "hi").await?;
        assert_eq!(answer.stop_reason, StopReason::EndTurn);
        // Every update of the turn came before its answer.
        assert_eq!(message_text(&seen.updates()), "Hello from kelp.");
        // Closed, the session is gone from this connection.
        cx.send_request(CloseSessionRequest::new(session.clone()))
            .block_task()
            .await?;
        let gone = prompt(&cx, &session, "again").await.unwrap_err();
        assert_eq!(gone.data, Some(json!(format!("no session {}", session.0))));
        Ok(())
    })
    .await;
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&auth_file).unwrap()).unwrap();
    assert_eq!(saved["openai"], json!({"type": "api", "key": key}));
}

/// The retry rule in an editor: the retry's answer is a new message (a new `messageId`), not
/// more of the cut one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_rule_the_retried_answer_is_a_new_message() {
    let fake = FakeOpenAi::start().await;
    let (mut kelp, project) = logged_in(&fake).await;
    fake.push_responses(retry_scenario::replies());
    kelp.client(Elicit::Accept, vec![], async |cx, seen, _ch| {
        initialize(&cx, ClientCapabilities::new()).await;
        let session = new_session(&cx, project.path()).await?;
        let answer = prompt(&cx, &session, "hi").await?;
        assert_eq!(answer.stop_reason, StopReason::EndTurn);
        // Each message's id and its text, in the order they came.
        let mut messages: Vec<(String, String)> = Vec::new();
        for update in seen.updates() {
            let SessionUpdate::AgentMessageChunk(chunk) = update else {
                continue;
            };
            let ContentBlock::Text(text) = &chunk.content else {
                continue;
            };
            let id = chunk
                .message_id
                .as_ref()
                .expect("a message id")
                .0
                .to_string();
            match messages.last_mut() {
                Some((last, body)) if *last == id => body.push_str(&text.text),
                _ => messages.push((id, text.text.clone())),
            }
        }
        let texts: Vec<&str> = messages.iter().map(|(_, text)| text.as_str()).collect();
        assert_eq!(texts, [retry_scenario::CUT, retry_scenario::WHOLE]);
        assert_ne!(messages[0].0, messages[1].0);
        Ok(())
    })
    .await;
}

/// A home with an API key saved.
fn home_with_a_key(fake: &FakeOpenAi) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let auth = home.path().join(".local/share/kelp");
    std::fs::create_dir_all(&auth).unwrap();
    std::fs::write(
        auth.join("auth.json"),
        json!({"openai": {"type": "api", "key": fake.api_key()}}).to_string(),
    )
    .unwrap();
    home
}

/// An agent with an API key saved, and a project folder.
async fn logged_in(fake: &FakeOpenAi) -> (Kelp, tempfile::TempDir) {
    let home = home_with_a_key(fake);
    let mut kelp = Kelp::start_at(fake, home.path(), &[]);
    kelp._owned = Some(home);
    (kelp, tempfile::tempdir().unwrap())
}

fn tool_updates(updates: &[SessionUpdate], id: &str) -> Vec<SessionUpdate> {
    updates
        .iter()
        .filter(|u| match u {
            SessionUpdate::ToolCall(call) => call.tool_call_id.0.as_ref() == id,
            SessionUpdate::ToolCallUpdate(update) => update.tool_call_id.0.as_ref() == id,
            _ => false,
        })
        .cloned()
        .collect()
}

fn final_status(updates: &[SessionUpdate]) -> Option<ToolCallStatus> {
    updates.iter().rev().find_map(|u| match u {
        SessionUpdate::ToolCallUpdate(update) => update.fields.status,
        SessionUpdate::ToolCall(call) => Some(call.status),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_ask_permission_and_stream_their_content() {
    let fake = FakeOpenAi::start().await;
    let (mut kelp, project) = logged_in(&fake).await;
    let dir = std::fs::canonicalize(project.path()).unwrap();
    fake.push_responses([
        Reply::call_with_id("c1", "shell", json!({"command": "echo made > made.txt; echo done"})),
        Reply::call_with_id(
            "p1",
            "apply_patch",
            json!({"input": "*** Begin Patch\n*** Add File: notes.md\n+hello\n*** End Patch\n"}),
        ),
        Reply::call_with_id(
            "u1",
            "update_plan",
            json!({"plan": [{"step": "write notes", "status": "completed"}, {"step": "check", "status": "in_progress"}]}),
        ),
        Reply::call_with_id("c2", "shell", json!({"command": "touch other.txt"})),
        Reply::text("All done."),
    ]);
    kelp.client(
        Elicit::Accept,
        vec![Some("allow_once"), Some("allow_once"), Some("reject")],
        async |cx, seen, _ch| {
            initialize(&cx, ClientCapabilities::new()).await;
            let session = new_session(&cx, project.path()).await?;
            let answer = prompt(&cx, &session, "work").await?;
            assert_eq!(answer.stop_reason, StopReason::EndTurn);
            let updates = seen.updates();

            // The command: announced, asked about, run, its output shown.
            let permissions = seen.permissions.lock().unwrap().clone();
            assert_eq!(permissions.len(), 3);
            let first = &permissions[0];
            assert_eq!(first.tool_call.tool_call_id.0.as_ref(), "c1");
            assert_eq!(first.tool_call.fields.kind, Some(ToolKind::Execute));
            let kinds: Vec<_> = first
                .options
                .iter()
                .map(|o| o.option_id.0.to_string())
                .collect();
            assert_eq!(kinds, ["allow_once", "allow_always", "reject"]);
            let c1 = tool_updates(&updates, "c1");
            assert!(matches!(&c1[0], SessionUpdate::ToolCall(call)
                if call.status == ToolCallStatus::Pending && call.title.contains("echo made")));
            assert_eq!(final_status(&c1), Some(ToolCallStatus::Completed));
            let output = c1.iter().rev().find_map(|u| match u {
                SessionUpdate::ToolCallUpdate(update) => update.fields.content.clone(),
                _ => None,
            });
            let shown = serde_json::to_string(&output).unwrap();
            assert!(shown.contains("done"), "{shown}");
            assert_eq!(
                std::fs::read_to_string(dir.join("made.txt")).unwrap(),
                "made\n"
            );

            // The patch: asked with a diff of the whole file, then applied.
            let patch = &permissions[1];
            assert_eq!(patch.tool_call.fields.kind, Some(ToolKind::Edit));
            let diff = first_diff(patch);
            assert_eq!(diff.path, dir.join("notes.md"));
            assert_eq!(diff.old_text, None);
            assert_eq!(diff.new_text, "hello\n");
            assert_eq!(
                final_status(&tool_updates(&updates, "p1")),
                Some(ToolCallStatus::Completed)
            );
            assert_eq!(
                std::fs::read_to_string(dir.join("notes.md")).unwrap(),
                "hello\n"
            );

            // The plan is a plan, not a tool call.
            assert!(tool_updates(&updates, "u1").is_empty());
            let plan = updates.iter().find_map(|u| match u {
                SessionUpdate::Plan(plan) => Some(plan.clone()),
                _ => None,
            });
            let plan = serde_json::to_value(plan.expect("a plan update")).unwrap();
            assert_eq!(plan["entries"][0]["content"], "write notes");
            assert_eq!(plan["entries"][1]["status"], "in_progress");

            // Rejected: nothing runs, the model is told, the turn goes on; the call fails
            // once, not again when the turn ends.
            assert_eq!(
                final_status(&tool_updates(&updates, "c2")),
                Some(ToolCallStatus::Failed)
            );
            let failed = tool_updates(&updates, "c2")
                .iter()
                .filter(|update| {
                    matches!(update, SessionUpdate::ToolCallUpdate(update)
                        if update.fields.status == Some(ToolCallStatus::Failed))
                })
                .count();
            assert_eq!(failed, 1, "{:?}", tool_updates(&updates, "c2"));
            assert!(!dir.join("other.txt").exists());
            assert!(message_text(&updates).ends_with("All done."));
            Ok(())
        },
    )
    .await;
    let last = fake.requests_to("/responses").last().unwrap().body.clone();
    assert!(last.contains("denied by the user"), "{last}");
}

/// With `network = "domains"`, a running command's first contact with a host no list names
/// asks on the command's own call: this command, this session, always in this project, or
/// reject; the project's choice is kept in `rules.toml`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_a_command_asks_to_reach_is_asked_on_its_call() {
    if !matches!(kelp::sandbox::support().landlock, Ok(abi) if abi >= 4)
        || kelp::sandbox::support().namespaces.is_err()
        || !Path::new("/usr/bin/curl").exists()
    {
        return;
    }
    let fake = FakeOpenAi::start().await;
    let home = home_with_a_key(&fake);
    let mut kelp = Kelp::start_at(
        &fake,
        home.path(),
        &[
            ("KELP_NETWORK", "domains"),
            ("KELP_SANDBOX", "workspace-write"),
            ("KELP_APPROVAL", "full-auto"),
        ],
    );
    let project = crate::support::dir_outside_the_sandbox().unwrap();
    fake.push_responses([
        Reply::call_with_id(
            "c1",
            "shell",
            json!({"command": ["curl", "-sf", "http://kept.example/"]}),
        ),
        Reply::text("It could not be reached."),
    ]);
    // Kept for the project; then the proxy's own refusal (the name does not resolve here)
    // offers a run outside the sandbox, rejected.
    kelp.client(
        Elicit::Accept,
        vec![Some("allow_in_project"), Some("reject")],
        async |cx, seen, _ch| {
            initialize(&cx, ClientCapabilities::new()).await;
            let session = new_session(&cx, project.path()).await?;
            prompt(&cx, &session, "fetch it").await?;
            let permissions = seen.permissions.lock().unwrap().clone();
            assert_eq!(permissions.len(), 2, "{permissions:#?}");
            let asked = &permissions[0];
            assert_eq!(asked.tool_call.tool_call_id.0.as_ref(), "c1");
            let options: Vec<(String, String)> = asked
                .options
                .iter()
                .map(|o| (o.option_id.0.to_string(), o.name.clone()))
                .collect();
            assert_eq!(
                options,
                [
                    ("allow_once", "Allow it for this command"),
                    ("allow_always", "Allow it for this session"),
                    (
                        "allow_in_project",
                        "Always allow kept.example in this project"
                    ),
                    ("reject", "Reject"),
                    (
                        "reject_in_project",
                        "Never allow kept.example in this project",
                    ),
                ]
                .map(|(id, name)| (id.to_string(), name.to_string()))
            );
            let shown = serde_json::to_string(&asked.tool_call).unwrap();
            assert!(
                shown.contains("Let commands reach kept.example on ports 80 and 443 (this one asks for 80)? It is not on allowed_domains"),
                "{shown}"
            );
            Ok(())
        },
    )
    .await;
    let rules = std::fs::read_to_string(home.path().join(".config/kelp/rules.toml")).unwrap();
    assert!(rules.contains("host = \"kept.example\""), "{rules}");
}

/// Waits until the client has seen an update that `wanted` picks, and returns all seen.
async fn until(seen: &Seen, wanted: impl Fn(&SessionUpdate) -> bool) -> Vec<SessionUpdate> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        {
            let updates = seen.updates.lock().unwrap();
            if updates.iter().any(&wanted) {
                return updates.clone();
            }
        }
        assert!(Instant::now() < deadline, "the update never came");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_ends_the_turn_its_command_and_an_open_permission_request() {
    let fake = FakeOpenAi::start().await;
    let (mut kelp, project) = logged_in(&fake).await;
    fake.push_responses([Reply::call_with_id(
        "c1",
        "shell",
        json!({"command": "touch never.txt"}),
    )]);
    let choices = vec![None, Some("allow_once")];
    kelp.client(Elicit::Accept, choices, async |cx, seen, mut ch| {
        initialize(&cx, ClientCapabilities::new()).await;
        let session = new_session(&cx, project.path()).await?;
        // A permission request left open: cancel answers the prompt, nothing runs.
        let prompt = cx.send_request(text_prompt(&session.0, "go"));
        ch.asked.recv().await.unwrap();
        cx.send_notification(CancelNotification::new(session.clone()))?;
        assert_eq!(
            prompt.block_task().await?.stop_reason,
            StopReason::Cancelled
        );
        // An answer that comes after the cancel runs nothing.
        let late = seen.held.lock().unwrap().pop().expect("the open request");
        late.respond(RequestPermissionResponse::new(
            RequestPermissionOutcome::Selected(SelectedPermissionOutcome::new("allow_once")),
        ))?;

        // A running command: killed, and the prompt answered at once.
        fake.push_responses([Reply::call_with_id(
            "c2",
            "shell",
            json!({"command": "sleep 1; touch late.txt"}),
        )]);
        let prompt = cx.send_request(text_prompt(&session.0, "wait"));
        until(&seen, |u| {
            matches!(u, SessionUpdate::ToolCallUpdate(update)
                if update.tool_call_id.0.as_ref() == "c2"
                    && update.fields.status == Some(ToolCallStatus::InProgress))
        })
        .await;
        let asked = Instant::now();
        cx.send_notification(CancelNotification::new(session.clone()))?;
        assert_eq!(
            prompt.block_task().await?.stop_reason,
            StopReason::Cancelled
        );
        assert!(
            asked.elapsed() < Duration::from_millis(500),
            "cancelled after {:?}",
            asked.elapsed()
        );
        let updates = seen.updates();
        assert_eq!(
            final_status(&tool_updates(&updates, "c2")),
            Some(ToolCallStatus::Failed)
        );
        assert!(!project.path().join("never.txt").exists());
        // Had it lived, the command would have made the file by now.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            !project.path().join("late.txt").exists(),
            "the command was killed"
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loaded_session_replays_its_conversation() {
    let fake = FakeOpenAi::start().await;
    let home = home_with_a_key(&fake);
    let project = tempfile::tempdir().unwrap();
    let mut kelp = Kelp::start_at(&fake, home.path(), &[]);
    let patch = "*** Begin Patch\n*** Add File: answer.txt\n+42\n*** End Patch\n";
    fake.push_responses([
        Reply::call_with_id("r1", "read_file", json!({"path": "notes.txt"})),
        Reply::call_with_id("p1", "apply_patch", json!({"input": patch})),
        Reply::text("The notes say 42.").usage(3000, 0, 20, 0),
    ]);
    std::fs::write(project.path().join("notes.txt"), "42\n").unwrap();
    let session = kelp
        .client(
            Elicit::Accept,
            vec![Some("allow_once")],
            async |cx, _seen, _ch| {
                initialize(&cx, ClientCapabilities::new()).await;
                let session = new_session(&cx, project.path()).await?;
                prompt(&cx, &session, "what do the notes say?").await?;
                // The mode chosen is the session's: a later load finds it.
                cx.send_request(SetSessionModeRequest::new(session.clone(), "full-auto"))
                    .block_task()
                    .await?;
                Ok(session)
            },
        )
        .await;
    drop(kelp);

    // A new agent process, the same home: the session comes back, updates first.
    let mut kelp = Kelp::start_at(&fake, home.path(), &[]);
    fake.push_responses([
        Reply::call_with_id("t1", "shell", json!({"command": "touch made.txt"})),
        Reply::text("Still 42."),
    ]);
    kelp.client(Elicit::Accept, vec![], async |cx, seen, _ch| {
        initialize(&cx, ClientCapabilities::new()).await;
        // Named by part of its id, or from another folder: refused, with the reason.
        let prefix = session.0[..8].to_string();
        let refused = cx
            .send_request(LoadSessionRequest::new(prefix.clone(), project.path()))
            .block_task()
            .await
            .unwrap_err();
        assert_eq!(refused.data, Some(json!(format!("no session {prefix}"))));
        let elsewhere = tempfile::tempdir().unwrap();
        let refused = cx
            .send_request(LoadSessionRequest::new(session.clone(), elsewhere.path()))
            .block_task()
            .await
            .unwrap_err();
        assert!(
            refused
                .data
                .as_ref()
                .and_then(Value::as_str)
                .is_some_and(|d| d.contains("belongs to")),
            "{refused:?}"
        );
        assert!(
            seen.updates().is_empty(),
            "nothing replayed for a refused load"
        );
        let loaded = cx
            .send_request(LoadSessionRequest::new(session.clone(), project.path()))
            .block_task()
            .await?;
        assert_eq!(
            loaded
                .modes
                .map(|modes| modes.current_mode_id.0.to_string()),
            Some("full-auto".to_string()),
            "the mode chosen before the load"
        );
        let replayed = seen.updates();
        let user: String = replayed
            .iter()
            .filter_map(|u| match u {
                SessionUpdate::UserMessageChunk(chunk) => match &chunk.content {
                    ContentBlock::Text(t) => Some(t.text.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        assert_eq!(user, "what do the notes say?");
        assert!(
            matches!(&tool_updates(&replayed, "r1")[0], SessionUpdate::ToolCall(call)
            if call.kind == ToolKind::Read && call.title == "Read notes.txt")
        );
        assert_eq!(message_text(&replayed), "The notes say 42.");
        // The patch comes back with its diff.
        let diff = tool_updates(&replayed, "p1")
            .iter()
            .find_map(|u| match u {
                SessionUpdate::ToolCallUpdate(update) => {
                    update.fields.content.as_ref().and_then(|content| {
                        content.iter().find_map(|c| match c {
                            ToolCallContent::Diff(diff) => Some(diff.clone()),
                            _ => None,
                        })
                    })
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("no diff replayed: {replayed:#?}"));
        assert!(diff.path.ends_with("answer.txt"), "{diff:?}");
        assert_eq!(diff.new_text, "42\n");
        assert_eq!(diff.old_text, None);
        // How full the window was comes at once, without a new prompt.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut later = replayed.clone();
        while !later
            .iter()
            .any(|u| matches!(u, SessionUpdate::UsageUpdate(usage) if usage.used == 3020))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "no usage after the load"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
            later.extend(seen.updates());
        }
        // And it goes on: the next request carries the history, and in full-auto the
        // model's command runs in the sandbox without asking.
        let answer = prompt(&cx, &session, "still?").await?;
        assert_eq!(answer.stop_reason, StopReason::EndTurn);
        assert!(seen.permissions.lock().unwrap().is_empty(), "nothing asked");
        assert!(project.path().join("made.txt").exists());
        Ok(())
    })
    .await;
    let last = fake.requests_to("/responses").last().unwrap().body.clone();
    assert!(last.contains("The notes say 42."), "{last}");
}

/// Each agent message's id, in order, with its text: notes must not run on with the answer
/// before them.
fn messages(updates: &[SessionUpdate]) -> Vec<(Option<String>, String)> {
    let mut messages: Vec<(Option<String>, String)> = Vec::new();
    for update in updates {
        if let SessionUpdate::AgentMessageChunk(chunk) = update
            && let ContentBlock::Text(t) = &chunk.content
        {
            let id = chunk.message_id.as_ref().map(|id| id.0.to_string());
            match messages.last_mut() {
                Some((last, text)) if *last == id && id.is_some() => text.push_str(&t.text),
                _ => messages.push((id, t.text.clone())),
            }
        }
    }
    messages
}

/// A turn the backend refuses, and a prompt after `/logout`, end as turns with the reason as a
/// message of its own (a JSON-RPC error reads in an editor as the agent failing to start);
/// `/logout` says what it did; a reloaded session shows the failure as its own message again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_turn_and_a_logout_are_said_as_messages_and_come_back_on_load() {
    let fake = FakeOpenAi::start().await;
    let home = home_with_a_key(&fake);
    let project = tempfile::tempdir().unwrap();
    let mut kelp = Kelp::start_at(&fake, home.path(), &[]);
    fake.push_responses([
        Reply::text("Hello."),
        Reply::http(
            400,
            json!({"error": {"message": "The prompt is not allowed.", "type": "invalid_request_error", "code": null}}),
        ),
    ]);
    let session = kelp
        .client(Elicit::Accept, vec![], async |cx, seen, _ch| {
            initialize(&cx, ClientCapabilities::new()).await;
            let session = new_session(&cx, project.path()).await?;
            prompt(&cx, &session, "hi").await?;
            let answer = prompt(&cx, &session, "something refused").await?;
            assert_eq!(answer.stop_reason, StopReason::EndTurn);
            let said = messages(&seen.updates());
            assert_eq!(
                said.len(),
                2,
                "the answer, then the failure apart: {said:?}"
            );
            assert_eq!(said[0].1, "Hello.");
            assert!(
                said[1].1.starts_with("⚠ ") && said[1].1.contains("The prompt is not allowed."),
                "{said:?}"
            );

            let answer = prompt(&cx, &session, "/logout").await?;
            assert_eq!(answer.stop_reason, StopReason::EndTurn);
            let said = message_text(&seen.updates());
            assert!(
                said.contains(
                    "Signed out: the login is removed from ~/.local/share/kelp/auth.json."
                ) && said.contains("kelp login"),
                "{said}"
            );
            // Signed out, a prompt is a turn that says how to sign in again.
            let requests = fake.requests_to("/responses").len();
            let answer = prompt(&cx, &session, "still there?").await?;
            assert_eq!(answer.stop_reason, StopReason::EndTurn);
            let said = message_text(&seen.updates());
            assert!(
                said.starts_with("⚠ ") && said.contains("kelp login"),
                "{said}"
            );
            assert_eq!(
                fake.requests_to("/responses").len(),
                requests,
                "nothing sent"
            );
            Ok(session)
        })
        .await;
    drop(kelp);

    // The next agent, signed in again: the refused turn comes back as its own message.
    let home_again = home_with_a_key(&fake);
    std::fs::copy(
        home_again.path().join(".local/share/kelp/auth.json"),
        home.path().join(".local/share/kelp/auth.json"),
    )
    .unwrap();
    let mut kelp = Kelp::start_at(&fake, home.path(), &[]);
    kelp.client(Elicit::Accept, vec![], async |cx, seen, _ch| {
        initialize(&cx, ClientCapabilities::new()).await;
        cx.send_request(LoadSessionRequest::new(session.clone(), project.path()))
            .block_task()
            .await?;
        let said = messages(&seen.updates());
        let failure = said
            .iter()
            .position(|(_, text)| text.contains("The prompt is not allowed."))
            .unwrap_or_else(|| panic!("the failure replayed: {said:?}"));
        assert!(failure > 0 && said[failure - 1].1 == "Hello.", "{said:?}");
        assert!(said[failure].1.starts_with("⚠ "), "{said:?}");
        Ok(())
    })
    .await;
}

/// `session/fork`: a copy under a new id that goes on separately; the original's file stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_forked_and_goes_on_separately() {
    let fake = FakeOpenAi::start().await;
    let home = home_with_a_key(&fake);
    let project = tempfile::tempdir().unwrap();
    let mut kelp = Kelp::start_at(&fake, home.path(), &[]);
    fake.push_responses([
        Reply::text("The first answer."),
        Reply::text("In the fork."),
    ]);
    kelp.client(Elicit::Accept, vec![], async |cx, _seen, _ch| {
        let init = initialize(&cx, ClientCapabilities::new()).await;
        assert!(
            init["agentCapabilities"]["sessionCapabilities"]["fork"].is_object(),
            "fork is advertised: {init}"
        );
        let session = new_session(&cx, project.path()).await?;
        prompt(&cx, &session, "first question").await?;
        let original = kelp::session::list_sessions(&home.path().join(".local/state/kelp"), None)
            .next()
            .unwrap();
        let before = std::fs::read(&original.path).unwrap();
        let fork = |dir: &Path| {
            UntypedMessage::new(
                "session/fork",
                ForkSessionRequest::new(session.clone(), dir),
            )
            .unwrap()
        };
        let forked: Value = cx.send_request(fork(project.path())).block_task().await?;
        let forked = SessionId::new(forked["sessionId"].as_str().unwrap().to_string());
        assert_ne!(forked, session);
        prompt(&cx, &forked, "go on in the fork").await?;
        assert_eq!(std::fs::read(&original.path).unwrap(), before);
        // With `_meta.side` the copy is a side conversation of the original.
        let mut side =
            serde_json::to_value(ForkSessionRequest::new(session.clone(), project.path())).unwrap();
        side["_meta"] = json!({"side": true});
        let side: Value = cx
            .send_request(UntypedMessage::new("session/fork", side).unwrap())
            .block_task()
            .await?;
        let side = kelp::session::find_whole(
            &home.path().join(".local/state/kelp"),
            side["sessionId"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(side.side_of, Some(original.id));
        let elsewhere = tempfile::tempdir().unwrap();
        let refused = cx
            .send_request(fork(elsewhere.path()))
            .block_task()
            .await
            .unwrap_err();
        assert!(
            refused
                .data
                .as_ref()
                .and_then(Value::as_str)
                .is_some_and(|d| d.contains("cannot fork")),
            "{refused:?}"
        );
        Ok(())
    })
    .await;
    let last = fake.requests_to("/responses").last().unwrap().body.clone();
    assert!(
        last.contains("The first answer."),
        "the fork carries the history: {last}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_fs_capabilities_files_are_read_and_written_through_the_editor() {
    let fake = FakeOpenAi::start().await;
    let (mut kelp, project) = logged_in(&fake).await;
    let dir = std::fs::canonicalize(project.path()).unwrap();
    std::fs::write(dir.join("notes.txt"), "saved on disk\n").unwrap();
    fake.push_responses([
        Reply::call_with_id("r1", "read_file", json!({"path": "notes.txt"})),
        Reply::call_with_id(
            "p1",
            "apply_patch",
            json!({"input": "*** Begin Patch\n*** Update File: notes.txt\n@@\n-unsaved in the editor\n+edited by kelp\n*** End Patch\n"}),
        ),
        Reply::text("Edited."),
    ]);
    let fs = ClientCapabilities::new().fs(FileSystemCapabilities::new()
        .read_text_file(true)
        .write_text_file(true));
    kelp.client(
        Elicit::Accept,
        vec![Some("allow_once")],
        async |cx, seen, _ch| {
            initialize(&cx, fs.clone()).await;
            seen.buffers
                .lock()
                .unwrap()
                .insert(dir.join("notes.txt"), "unsaved in the editor\n".to_string());
            let session = new_session(&cx, project.path()).await?;
            let answer = prompt(&cx, &session, "edit").await?;
            assert_eq!(answer.stop_reason, StopReason::EndTurn);
            // The person approved the change to the text they have open.
            let permission = seen.permissions.lock().unwrap()[0].clone();
            let diff = first_diff(&permission);
            assert_eq!(diff.old_text.as_deref(), Some("unsaved in the editor\n"));
            assert_eq!(diff.new_text, "edited by kelp\n");
            assert_eq!(
                *seen.writes.lock().unwrap(),
                [(dir.join("notes.txt"), "edited by kelp\n".to_string())]
            );
            Ok(())
        },
    )
    .await;
    // The model read the buffer, and the disk was left to the editor.
    let second = fake.requests_to("/responses")[1].body.clone();
    assert!(second.contains("unsaved in the editor"), "{second}");
    assert!(!second.contains("saved on disk"), "{second}");
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "saved on disk\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_through_the_editor_removes_the_old_file_only_once_the_new_one_is_written() {
    let fake = FakeOpenAi::start().await;
    let home = home_with_a_key(&fake);
    let project = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(project.path()).unwrap();
    std::fs::write(dir.join("a.txt"), "alpha\n").unwrap();
    std::fs::write(dir.join("b.txt"), "beta\n").unwrap();
    let mut kelp = Kelp::start_at(&fake, home.path(), &[("KELP_APPROVAL", "full-auto")]);
    let moving = |from: &str, to: &str| json!({"input": format!("*** Begin Patch\n*** Update File: {from}\n*** Move to: {to}\n@@\n-{0}\n+{0}!\n*** End Patch\n", if from == "a.txt" { "alpha" } else { "beta" })});
    fake.push_responses([
        Reply::call_with_id("m1", "apply_patch", moving("a.txt", "readonly-a.txt")),
        Reply::text("That failed."),
        Reply::call_with_id("m2", "apply_patch", moving("b.txt", "c.txt")),
        Reply::text("Moved."),
    ]);
    let fs = ClientCapabilities::new().fs(FileSystemCapabilities::new()
        .read_text_file(true)
        .write_text_file(true));
    kelp.client(Elicit::Accept, vec![], async |cx, seen, _ch| {
        initialize(&cx, fs.clone()).await;
        let session = new_session(&cx, project.path()).await?;
        prompt(&cx, &session, "move a").await?;
        // The new copy was refused: the old file stays where it was.
        assert_eq!(
            std::fs::read_to_string(dir.join("a.txt")).unwrap(),
            "alpha\n"
        );
        prompt(&cx, &session, "move b").await?;
        assert_eq!(
            *seen.writes.lock().unwrap(),
            [(dir.join("c.txt"), "beta!\n".to_string())]
        );
        assert!(!dir.join("b.txt").exists(), "moved: the old file is gone");
        Ok(())
    })
    .await;
    let second = fake.requests_to("/responses")[1].body.clone();
    assert!(
        second.contains("failed to write readonly-a.txt in the editor"),
        "{second}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mcp_servers_a_session_is_given_offer_their_tools() {
    use agent_client_protocol::v1::schema::{EnvVariable, McpServer, McpServerStdio};
    let fake = FakeOpenAi::start().await;
    let (mut kelp, project) = logged_in(&fake).await;
    let log = project.path().join("mcp.log");
    let server = crate::mcp::server_binary();
    fake.push_responses([
        Reply::call_with_id("m1", "editor__echo", json!({"text": "via acp"})),
        Reply::text("Echoed."),
    ]);
    kelp.client(
        Elicit::Accept,
        vec![Some("allow_once")],
        async |cx, seen, _ch| {
            let init = initialize(&cx, ClientCapabilities::new()).await;
            assert_eq!(init["agentCapabilities"]["mcpCapabilities"]["http"], true);
            let stdio = McpServerStdio::new("editor", server.clone()).env(vec![EnvVariable::new(
                "KELP_TEST_MCP_LOG",
                log.display().to_string(),
            )]);
            let session = cx
                .send_request(
                    NewSessionRequest::new(project.path())
                        .mcp_servers(vec![McpServer::Stdio(stdio)]),
                )
                .block_task()
                .await?
                .session_id;
            let answer = prompt(&cx, &session, "echo").await?;
            assert_eq!(answer.stop_reason, StopReason::EndTurn);
            let permissions = seen.permissions.lock().unwrap().clone();
            assert_eq!(permissions.len(), 1, "an MCP tool asks in ask mode");
            assert_eq!(
                permissions[0].tool_call.fields.title.as_deref(),
                Some("editor: echo")
            );
            Ok(())
        },
    )
    .await;
    let sent = fake.requests_to("/responses");
    let input = sent[1].json()["input"].as_array().unwrap().clone();
    assert_eq!(crate::agent_loop::output_for(&input, "m1"), "echo: via acp");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "called echo\n");
}

/// The agent's lines as JSON, one at a time.
struct Lines(tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>);

impl Lines {
    /// The next message that is not a `session/update`, within five seconds.
    async fn next(&mut self) -> Value {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(5), self.0.next_line())
                .await
                .expect("a line from the agent in time")
                .unwrap()
                .expect("the agent is still there");
            let message: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(message["jsonrpc"], "2.0", "{line}");
            if message["method"] != "session/update" {
                return message;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lines_unknown_methods_and_a_taken_back_sign_in_get_json_rpc_answers() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let fake = polled_every_second().await;
    let mut kelp = Kelp::start(&fake, &[]);
    let auth_file = kelp.auth_file();
    let mut stdin = kelp.child.stdin.take().unwrap();
    let mut lines = Lines(tokio::io::BufReader::new(kelp.child.stdout.take().unwrap()).lines());
    let mut send = async |message: &str| {
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    };

    send("{not json").await;
    let answer = lines.next().await;
    assert_eq!(
        (&answer["id"], &answer["error"]["code"]),
        (&Value::Null, &json!(-32700))
    );

    send(r#"{"jsonrpc":"2.0","id":1,"method":"session/teleport","params":{}}"#).await;
    let answer = lines.next().await;
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["error"]["code"], -32601, "{answer}");
    assert_eq!(answer["error"]["data"], "session/teleport");

    // Parameters that do not fit name the field at fault.
    send(r#"{"jsonrpc":"2.0","id":2,"method":"session/prompt","params":{"prompt":[]}}"#).await;
    let answer = lines.next().await;
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    assert!(
        answer["error"]["data"]
            .as_str()
            .unwrap()
            .contains("sessionId"),
        "{answer}"
    );

    let capabilities = serde_json::to_value(url_elicitation()).unwrap();
    send(
        &json!({"jsonrpc":"2.0","id":3,"method":"initialize",
        "params":{"protocolVersion":1,"clientCapabilities":capabilities}})
        .to_string(),
    )
    .await;
    assert_eq!(lines.next().await["result"]["protocolVersion"], 1);

    // A device sign-in shows its link; the client takes the request back before approving.
    send(r#"{"jsonrpc":"2.0","id":"login","method":"authenticate","params":{"methodId":"chatgpt-device-code"}}"#).await;
    let elicitation = lines.next().await;
    assert_eq!(elicitation["method"], "elicitation/create", "{elicitation}");
    assert_eq!(elicitation["params"]["requestId"], "login");
    send(r#"{"jsonrpc":"2.0","method":"$/cancel_request","params":{"requestId":"login"}}"#).await;
    // Its dialog is closed for the editor, then the request answered.
    let closed = lines.next().await;
    assert_eq!(closed["method"], "elicitation/complete", "{closed}");
    assert_eq!(
        closed["params"]["elicitationId"],
        elicitation["params"]["elicitationId"]
    );
    let answer = lines.next().await;
    assert_eq!(answer["id"], "login");
    assert_eq!(answer["error"]["code"], -32800, "{answer}");
    // The login stopped with it: no more polls, nothing saved, even once approved.
    let polls = fake.device_poll_count();
    let code = fake.device_user_codes().pop().unwrap();
    fake.approve_device(&code);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(fake.device_poll_count(), polls, "polling stopped");
    assert!(!auth_file.exists());

    // The answer to kelp's own request, late, is taken quietly; the agent still answers.
    send(&json!({"jsonrpc":"2.0","id":elicitation["id"],"result":{"action":"accept"}}).to_string())
        .await;
    send(r#"{"jsonrpc":"2.0","id":4,"method":"logout","params":{}}"#).await;
    assert_eq!(
        lines.next().await,
        json!({"jsonrpc":"2.0","id":4,"result":{}})
    );
}

/// An image an editor pastes goes to the model as image input, with the words beside it; the
/// agent says it takes images.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_in_a_prompt_reaches_the_model() {
    let fake = FakeOpenAi::start().await;
    let (mut kelp, project) = logged_in(&fake).await;
    fake.push_response(Reply::text("A red square."));
    let png = base64_png();
    kelp.client(Elicit::Accept, vec![], async |cx, _seen, _ch| {
        let agent = initialize(&cx, ClientCapabilities::new()).await;
        assert_eq!(
            agent["agentCapabilities"]["promptCapabilities"]["image"],
            true
        );
        let session = new_session(&cx, project.path()).await?;
        let request = PromptRequest::new(
            session.0.to_string(),
            vec![
                ContentBlock::Text(TextContent::new("what is this?".to_string())),
                ContentBlock::Image(ImageContent::new(png.clone(), "image/png")),
            ],
        );
        let answer = cx.send_request(request).block_task().await?;
        assert_eq!(answer.stop_reason, StopReason::EndTurn);
        Ok(())
    })
    .await;
    let parts = fake.last_user_parts();
    assert_eq!(parts[0]["text"], "what is this?");
    let image = parts.iter().find(|p| p["type"] == "input_image").unwrap();
    assert_eq!(
        image["image_url"],
        format!("data:image/png;base64,{png}"),
        "{parts:#?}"
    );
}

/// A 1×1 PNG, base64.
fn base64_png() -> String {
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
        .to_string()
}

/// An editor's session life: modes listed and switched (the switch used on the next call),
/// a title and the context's use as updates, the session listed, resumed without a replay, and
/// deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modes_titles_usage_and_the_session_list() {
    let fake = FakeOpenAi::start().await;
    let (mut kelp, project) = logged_in(&fake).await;
    fake.push_responses([
        Reply::call_with_id("c1", "shell", json!({"command": "touch made.txt"})),
        Reply::text("Made it."),
    ]);
    let dir = std::fs::canonicalize(project.path()).unwrap();
    kelp.client(Elicit::Accept, vec![], async |cx, seen, _ch| {
        initialize(&cx, ClientCapabilities::new()).await;
        let created = cx
            .send_request(NewSessionRequest::new(project.path()))
            .block_task()
            .await?;
        let session = created.session_id.clone();
        let modes = created.modes.expect("modes listed");
        assert_eq!(modes.current_mode_id.0.as_ref(), "ask");
        let ids: Vec<&str> = modes.available_modes.iter().map(|m| m.id.0.as_ref()).collect();
        assert_eq!(
            ids,
            ["read-only", "ask", "auto-edit", "full-auto", "auto-review", "plan"]
        );
        cx.send_request(SetSessionModeRequest::new(session.clone(), "full-auto"))
            .block_task()
            .await?;
        let bad = cx
            .send_request(SetSessionModeRequest::new(session.clone(), "yolo"))
            .block_task()
            .await
            .unwrap_err();
        assert!(bad.data.unwrap().to_string().contains("full-auto"));
        // Full auto: the command runs without asking (no permission answer is queued).
        let answer = prompt(&cx, &session, "make a file\nplease").await?;
        assert_eq!(answer.stop_reason, StopReason::EndTurn);
        assert!(dir.join("made.txt").exists());
        let updates = seen.updates();
        assert!(updates.iter().any(|u| matches!(u,
            SessionUpdate::CurrentModeUpdate(m) if m.current_mode_id.0.as_ref() == "full-auto")));
        // Plan mode, as codex-acp offers it: no patch tool, the model told to plan.
        cx.send_request(SetSessionModeRequest::new(session.clone(), "plan"))
            .block_task()
            .await?;
        fake.push_response(Reply::text("<proposed_plan>\n1. Write it\n</proposed_plan>"));
        prompt(&cx, &session, "plan the notes").await?;
        let planned = fake.requests_to("/responses").pop().unwrap();
        let offered: Vec<&str> = planned.json()["tools"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        assert!(!offered.contains(&"apply_patch"), "{offered:?}");
        assert!(planned.json()["instructions"].as_str().unwrap().contains("# Plan mode"));
        let titles: Vec<_> = updates
            .iter()
            .filter_map(|u| match u {
                SessionUpdate::SessionInfoUpdate(info) => Some(format!("{:?}", info.title)),
                _ => None,
            })
            .collect();
        assert_eq!(titles.len(), 1, "{titles:?}");
        assert!(titles[0].contains("make a file"), "{titles:?}");
        assert!(
            updates.iter().any(|u| matches!(u, SessionUpdate::UsageUpdate(usage) if usage.used > 0 && usage.size > usage.used)),
            "{updates:#?}"
        );

        let listed = cx
            .send_request(ListSessionsRequest::new().cwd(project.path().to_path_buf()))
            .block_task()
            .await?;
        assert_eq!(listed.sessions.len(), 1);
        assert_eq!(listed.sessions[0].session_id, session);
        assert_eq!(listed.sessions[0].title.as_deref(), Some("make a file"));
        cx.send_request(ResumeSessionRequest::new(session.clone(), project.path()))
            .block_task()
            .await?;
        assert!(
            !seen.updates().iter().any(|u| matches!(u, SessionUpdate::UserMessageChunk(_))),
            "resumed without a replay"
        );
        cx.send_request(DeleteSessionRequest::new(session.clone()))
            .block_task()
            .await?;
        let listed = cx
            .send_request(ListSessionsRequest::new())
            .block_task()
            .await?;
        assert!(listed.sessions.is_empty());
        let gone = cx
            .send_request(LoadSessionRequest::new(session.clone(), project.path()))
            .block_task()
            .await;
        assert!(gone.is_err());
        Ok(())
    })
    .await;
}

/// A client that floods the agent with requests before signing in gets every answer, and the
/// agent's memory stays where it was: what waits, waits in the pipe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_requests_before_sign_in_leaves_memory_where_it_was() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    const REQUESTS: usize = 20_000;
    let fake = FakeOpenAi::start().await;
    let mut kelp = Kelp::start(&fake, &[]);
    let pid = kelp.child.id().unwrap();
    let mut stdin = kelp.child.stdin.take().unwrap();
    let mut lines = Lines(tokio::io::BufReader::new(kelp.child.stdout.take().unwrap()).lines());
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":1}}\n")
        .await
        .unwrap();
    lines.next().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = crate::support::status_kb(pid, "VmRSS");
    let flood: String = (1..=REQUESTS)
        .map(|id| {
            format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"session/new\",\"params\":{{\"cwd\":\"/tmp\",\"mcpServers\":[]}}}}\n"
            )
        })
        .collect();
    let writer = tokio::spawn(async move {
        stdin.write_all(flood.as_bytes()).await.unwrap();
        stdin
    });
    for _ in 0..REQUESTS {
        let answer = lines.next().await;
        assert_eq!(answer["error"]["code"], -32000, "{answer}");
    }
    let _stdin = writer.await.unwrap();
    let after = crate::support::status_kb(pid, "VmRSS");
    assert!(
        after < before + 8 * 1024,
        "{REQUESTS} refused requests took the agent from {before} kB to {after} kB"
    );
}

/// The model and effort pickers: listed with the session, changed, used on the next request
/// and saved as `/model` saves them; the mode is one of the options too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_and_effort_are_config_options_used_and_saved() {
    let fake = FakeOpenAi::start().await;
    let (mut kelp, project) = logged_in(&fake).await;
    fake.push_response(Reply::text("Thinking hard."));
    let config_file = kelp.home.join(".config/kelp/config.toml");
    kelp.client(Elicit::Accept, vec![], async |cx, seen, _ch| {
        initialize(&cx, ClientCapabilities::new()).await;
        let created = cx
            .send_request(NewSessionRequest::new(project.path()))
            .block_task()
            .await?;
        let options = serde_json::to_value(created.config_options.expect("options")).unwrap();
        let ids: Vec<&str> = options
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["mode", "model", "reasoning_effort"]);
        let model = &options[1];
        let other = model["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["value"].as_str().unwrap())
            .find(|value| *value != model["currentValue"])
            .unwrap()
            .to_string();
        let session = created.session_id;
        let changed = cx
            .send_request(SetSessionConfigOptionRequest::new(
                session.clone(),
                "model",
                other.as_str(),
            ))
            .block_task()
            .await?;
        let changed = serde_json::to_value(changed.config_options).unwrap();
        assert_eq!(changed[1]["currentValue"], other.as_str());
        cx.send_request(SetSessionConfigOptionRequest::new(
            session.clone(),
            "reasoning_effort",
            "high",
        ))
        .block_task()
        .await?;
        let bad = cx
            .send_request(SetSessionConfigOptionRequest::new(
                session.clone(),
                "reasoning_effort",
                "ludicrous",
            ))
            .block_task()
            .await
            .unwrap_err();
        assert_eq!(i32::from(bad.code), -32602);
        prompt(&cx, &session, "think").await?;
        let updates = seen.updates();
        assert!(
            updates
                .iter()
                .any(|u| matches!(u, SessionUpdate::ConfigOptionUpdate(_))),
            "{updates:#?}"
        );
        let request = fake.requests_to("/responses").pop().unwrap().json().clone();
        assert_eq!(request["model"], other.as_str());
        if request.get("reasoning").is_some() {
            assert_eq!(request["reasoning"]["effort"], "high");
        }
        Ok(())
    })
    .await;
    // Saved in the background, as `/model` saves.
    let saved = (0..100)
        .find_map(|_| {
            let text = std::fs::read_to_string(&config_file).unwrap_or_default();
            if text.contains("reasoning_effort") {
                Some(text)
            } else {
                std::thread::sleep(Duration::from_millis(20));
                None
            }
        })
        .expect("the choices saved");
    assert!(saved.contains("reasoning_effort = \"high\""), "{saved}");
}

/// The slash commands an editor offers: listed with the session, and each run when a prompt
/// starts with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_commands_are_offered_and_run() {
    let fake = FakeOpenAi::start().await;
    let (mut kelp, project) = logged_in(&fake).await;
    fake.push_responses([
        Reply::text("Hello."),
        Reply::text("The conversation so far: a greeting."),
    ]);
    kelp.client(Elicit::Accept, vec![], async |cx, seen, _ch| {
        initialize(&cx, ClientCapabilities::new()).await;
        let session = new_session(&cx, project.path()).await?;
        prompt(&cx, &session, "hi").await?;
        let updates = seen.updates();
        let offered: Vec<String> = updates
            .iter()
            .find_map(|u| match u {
                SessionUpdate::AvailableCommandsUpdate(update) => Some(
                    update
                        .available_commands
                        .iter()
                        .map(|c| c.name.clone())
                        .collect(),
                ),
                _ => None,
            })
            .expect("the commands offered");
        assert_eq!(
            offered,
            [
                "compact", "init", "review", "diff", "goal", "status", "mcp", "logout"
            ]
        );

        let answer = prompt(&cx, &session, "/status").await?;
        assert_eq!(answer.stop_reason, StopReason::EndTurn);
        let text = message_text(&seen.updates());
        // A Markdown list: a client renders one line each, never one run-on paragraph.
        assert!(text.contains("- **Signed in:** API key sk-"), "{text}");
        assert!(text.contains("\n- **Mode:** ask\n"), "{text}");

        let requests = fake.requests_to("/responses").len();
        let answer = prompt(&cx, &session, "/compact the greeting").await?;
        assert_eq!(answer.stop_reason, StopReason::EndTurn);
        let sent = fake.requests_to("/responses");
        assert_eq!(sent.len(), requests + 1, "one summary request");
        let body = sent.last().unwrap().json().to_string();
        assert!(body.contains("the greeting"), "the focus goes with it");
        let updates = seen.updates();
        let used = updates
            .iter()
            .find_map(|u| match u {
                SessionUpdate::UsageUpdate(usage) => Some(usage.used),
                _ => None,
            })
            .expect("the context's use after the compaction");
        assert!(used > 0, "the summary's size, not nothing");
        let text = message_text(&updates);
        assert!(
            text.contains("Compacted the conversation") && text.contains("as asked"),
            "the compaction is said: {text}"
        );

        prompt(&cx, &session, "/diff").await?;
        let text = message_text(&seen.updates());
        assert!(text.contains("not a git repository"), "{text}");

        // `/review` is a review turn, as the client's `/review` in the TUI.
        fake.push_response(Reply::text("No problems found."));
        let answer = prompt(&cx, &session, "/review").await?;
        assert_eq!(answer.stop_reason, StopReason::EndTurn);
        let sent = fake
            .requests_to("/responses")
            .last()
            .unwrap()
            .json()
            .to_string();
        assert!(sent.contains("Review the current code changes"), "{sent}");
        assert!(message_text(&seen.updates()).contains("No problems found."));
        Ok(())
    })
    .await;
}

/// A conversation that cannot be saved (its sessions folder is a file) is said in the
/// conversation the editor shows, and the prompt still ends normally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_that_cannot_be_saved_is_said_in_the_editor() {
    let fake = FakeOpenAi::start().await;
    let home = home_with_a_key(&fake);
    let state = home.path().join(".local/state/kelp");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("sessions"), "not a folder").unwrap();
    let mut kelp = Kelp::start_at(&fake, home.path(), &[]);
    let project = tempfile::tempdir().unwrap();
    fake.push_response(Reply::text("Still answered."));
    kelp.client(Elicit::Accept, vec![], async |cx, seen, _ch| {
        initialize(&cx, ClientCapabilities::new()).await;
        let session = new_session(&cx, project.path()).await?;
        let answer = prompt(&cx, &session, "hello").await?;
        assert_eq!(answer.stop_reason, StopReason::EndTurn);
        let text = message_text(&seen.updates());
        assert!(
            text.contains("⚠ the conversation is not being saved:"),
            "{text}"
        );
        assert!(text.contains("Still answered."), "{text}");
        Ok(())
    })
    .await;
}

/// The model's web search is a fetch tool call the editor shows, started then completed with
/// what it looked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_search_is_a_fetch_tool_call() {
    let fake = FakeOpenAi::start().await;
    let (mut kelp, project) = logged_in(&fake).await;
    fake.push_response(Reply::web_search("zed acp spec").and_text("Found it."));
    kelp.client(Elicit::Accept, vec![], async |cx, seen, _ch| {
        initialize(&cx, ClientCapabilities::new()).await;
        let session = new_session(&cx, project.path()).await?;
        let answer = prompt(&cx, &session, "look it up").await?;
        assert_eq!(answer.stop_reason, StopReason::EndTurn);
        let updates = seen.updates();
        let started = updates
            .iter()
            .find_map(|u| match u {
                SessionUpdate::ToolCall(call) => Some(call.clone()),
                _ => None,
            })
            .expect("a tool call");
        assert_eq!(started.kind, ToolKind::Fetch);
        assert_eq!(started.title, "Searching the web");
        let id = started.tool_call_id.0.to_string();
        let calls = tool_updates(&updates, &id);
        assert_eq!(final_status(&calls), Some(ToolCallStatus::Completed));
        let SessionUpdate::ToolCallUpdate(done) = calls.last().unwrap() else {
            panic!("an update: {calls:?}");
        };
        assert_eq!(done.fields.title.as_deref(), Some("Searched: zed acp spec"));
        assert_eq!(
            done.fields.raw_input.as_ref().unwrap()["query"],
            "zed acp spec"
        );
        assert_eq!(message_text(&updates), "Found it.");
        Ok(())
    })
    .await;
}

/// `/goal` in an editor: offered as a command, its prompt answered when the goal stops (here
/// at its budget, after turns the agent began itself), and read back with a bare `/goal`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_goal_prompt_is_answered_when_the_goal_stops() {
    let fake = FakeOpenAi::start().await;
    let (mut kelp, project) = logged_in(&fake).await;
    fake.push_responses([
        Reply::text("Step one is done.").usage(300, 0, 20, 0),
        Reply::text("Step two is done.").usage(300, 0, 20, 0),
    ]);
    kelp.client(Elicit::Accept, vec![], async |cx, seen, _ch| {
        initialize(&cx, ClientCapabilities::new()).await;
        let session = new_session(&cx, project.path()).await?;
        let offered = until(&seen, |u| {
            matches!(u, SessionUpdate::AvailableCommandsUpdate(_))
        })
        .await;
        let Some(SessionUpdate::AvailableCommandsUpdate(commands)) = offered.last() else {
            unreachable!()
        };
        assert!(commands.available_commands.iter().any(|c| c.name == "goal"));
        let answer = prompt(&cx, &session, "/goal tidy the parser 600t").await?;
        assert_eq!(answer.stop_reason, StopReason::EndTurn);
        let text = message_text(&seen.updates());
        let at = |part: &str| text.find(part).unwrap_or_else(|| panic!("{part}: {text}"));
        assert!(at("Step one is done.") < at("Step two is done."));
        assert!(at("Step two is done.") < at("Goal unmet (640 / 600)"));
        assert_eq!(fake.requests_to("/responses").len(), 2);
        prompt(&cx, &session, "/goal").await?;
        let text = message_text(&seen.updates());
        assert!(text.contains("**Goal:** tidy the parser"), "{text}");
        Ok(())
    })
    .await;
}

/// The model's question in plan mode, in an editor: a permission request whose options are its
/// choices; the one picked is what the model reads back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_models_question_is_asked_as_a_permission_request() {
    let fake = FakeOpenAi::start().await;
    let (mut kelp, project) = logged_in(&fake).await;
    fake.push_responses([
        crate::support::which_database(),
        Reply::text("Then SQLite it is."),
    ]);
    kelp.client(Elicit::Accept, vec![Some("1")], async |cx, seen, _ch| {
        initialize(&cx, ClientCapabilities::new()).await;
        let session = new_session(&cx, project.path()).await?;
        cx.send_request(SetSessionModeRequest::new(session.clone(), "plan"))
            .block_task()
            .await?;
        let answer = prompt(&cx, &session, "plan the storage").await?;
        assert_eq!(answer.stop_reason, StopReason::EndTurn);
        let asked = seen.permissions.lock().unwrap().clone();
        assert_eq!(asked.len(), 1);
        let title = asked[0].tool_call.fields.title.clone().unwrap_or_default();
        assert_eq!(title, "Database: Which database?");
        let names: Vec<&str> = asked[0].options.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Postgres (Recommended) — what prod runs",
                "SQLite — one file"
            ]
        );
        assert!(message_text(&seen.updates()).contains("Then SQLite it is."));
        Ok(())
    })
    .await;
    crate::support::assert_sqlite_was_answered(&fake);
}

/// A team of agents in an editor: the permission a spawned agent asks names it, and its work
/// goes on once allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawned_agents_permission_names_it() {
    let fake = FakeOpenAi::start().await;
    fake.set_fallback(|request| {
        let input = request["input"].to_string();
        let outputs = input.matches("function_call_output").count();
        if input.contains("Message Type: NEW_TASK\\nTask name: /root/beta") {
            return match outputs {
                0 => Reply::call("shell", json!({"command": "touch beta.txt"})),
                _ => Reply::text("beta made it"),
            };
        }
        match outputs {
            0 => Reply::call(
                "spawn_agent",
                json!({"task_name": "beta", "message": "make a file", "fork_turns": "none"}),
            ),
            _ if !input.contains("Message Type: FINAL_ANSWER") => {
                Reply::call("wait_agent", json!({"timeout_ms": 20000}))
            }
            _ => Reply::text("beta answered"),
        }
    });
    let home = home_with_a_key(&fake);
    let config = home.path().join(".config/kelp");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        "[features]\nmulti_agent_v2 = true\n",
    )
    .unwrap();
    let mut kelp = Kelp::start_at(&fake, home.path(), &[]);
    let project = tempfile::tempdir().unwrap();
    kelp.client(
        Elicit::Accept,
        vec![Some("allow_once")],
        async |cx, seen, _ch| {
            initialize(&cx, ClientCapabilities::new()).await;
            let session = new_session(&cx, project.path()).await?;
            let answer = prompt(&cx, &session, "go team").await?;
            assert_eq!(answer.stop_reason, StopReason::EndTurn);
            let permissions = seen.permissions.lock().unwrap().clone();
            assert_eq!(permissions.len(), 1, "{permissions:?}");
            let title = permissions[0]
                .tool_call
                .fields
                .title
                .clone()
                .unwrap_or_default();
            assert!(title.starts_with("/root/beta: "), "{title}");
            assert!(title.contains("touch beta.txt"), "{title}");
            assert!(project.path().join("beta.txt").exists());
            let updates = seen.updates();
            assert!(message_text(&updates).contains("beta answered"));
            let shown = format!("{updates:?}");
            assert!(
                shown.contains("The agent /root/beta finished"),
                "a child that finished is a done tool call: {shown}"
            );
            Ok(())
        },
    )
    .await;
    drop(home);
}
