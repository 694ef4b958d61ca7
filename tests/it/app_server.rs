//! `kelp app-server`, the real binary over pipes, against the fake server. Every line it writes
//! is checked against the JSON Schema that Codex CLI 0.169.0 generates for the protocol
//! (`tests/fixtures/codex-app-server-schema/0.169.0/`): notifications and server requests
//! against their envelopes, each response against its method's `…Response.json`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fake_openai::{Config as FakeConfig, DeviceApproval, FakeOpenAi, Reply, Scenario};
use crate::support::retry_scenario;

const WAIT: Duration = Duration::from_secs(10);
const SCHEMA_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/codex-app-server-schema/0.169.0"
);

fn load(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The validators, and which response schema each method's answer is checked against.
struct Schema {
    notification: jsonschema::Validator,
    /// The params of notifications newer than 0.169's schema, by method.
    later_notifications: HashMap<String, jsonschema::Validator>,
    request: jsonschema::Validator,
    error: jsonschema::Validator,
    responses: HashMap<String, jsonschema::Validator>,
}

impl Schema {
    fn load() -> Self {
        let dir = Path::new(SCHEMA_DIR);
        let validator = |file: &str| jsonschema::validator_for(&load(&dir.join(file))).unwrap();
        // Each method's response schema is named after its params: `…/<Name>Params` in
        // ClientRequest.json answers with `<Name>Response.json` (in v1/, v2/ or the top).
        let mut responses = HashMap::new();
        for variant in load(&dir.join("ClientRequest.json"))["oneOf"]
            .as_array()
            .unwrap()
        {
            let method = variant["properties"]["method"]["enum"][0].as_str().unwrap();
            let Some(params) = variant["properties"]["params"]["$ref"].as_str() else {
                continue;
            };
            let name = params
                .rsplit('/')
                .next()
                .unwrap()
                .trim_end_matches("Params");
            for sub in ["v2", "v1", "."] {
                let file = dir.join(sub).join(format!("{name}Response.json"));
                if file.exists() {
                    responses.insert(
                        method.to_string(),
                        jsonschema::validator_for(&load(&file)).unwrap(),
                    );
                }
            }
        }
        // Methods whose response is not named after their params.
        for (method, file) in [
            ("account/logout", "v2/LogoutAccountResponse.json"),
            (
                "account/rateLimits/read",
                "v2/GetAccountRateLimitsResponse.json",
            ),
            // Both writes answer with one response type.
            ("config/value/write", "v2/ConfigWriteResponse.json"),
            ("config/batchWrite", "v2/ConfigWriteResponse.json"),
            // Codex 0.171's answer to it is a config write's.
            ("modelProvider/default/set", "v2/ConfigWriteResponse.json"),
            (
                "account/securitySetup/read",
                "v2/GetAccountSecuritySetupResponse.json",
            ),
            (
                "account/workspaceMessages/read",
                "v2/GetWorkspaceMessagesResponse.json",
            ),
            (
                "configRequirements/read",
                "v2/ConfigRequirementsReadResponse.json",
            ),
            (
                "config/mcpServer/reload",
                "v2/McpServerRefreshResponse.json",
            ),
            // Codex's experimental API (`generate-json-schema --experimental`).
            (
                "collaborationMode/list",
                "v2/CollaborationModeListResponse.json",
            ),
            (
                "thread/settings/update",
                "v2/ThreadSettingsUpdateResponse.json",
            ),
            (
                "externalAgentConfig/import/readHistories",
                "v2/ExternalAgentConfigImportHistoriesReadResponse.json",
            ),
            // Codex 0.171's experimental queue.
            (
                "thread/queue/add",
                "../0.171.0/v2/ThreadQueueAddResponse.json",
            ),
            (
                "thread/queue/list",
                "../0.171.0/v2/ThreadQueueListResponse.json",
            ),
            (
                "thread/queue/update",
                "../0.171.0/v2/ThreadQueueUpdateResponse.json",
            ),
            (
                "thread/queue/delete",
                "../0.171.0/v2/ThreadQueueDeleteResponse.json",
            ),
            (
                "thread/queue/reorder",
                "../0.171.0/v2/ThreadQueueReorderResponse.json",
            ),
            (
                "thread/queue/start",
                "../0.171.0/v2/ThreadQueueStartResponse.json",
            ),
            // Codex 0.171's experimental background terminals.
            (
                "thread/backgroundTerminals/list",
                "../0.171.0/v2/ThreadBackgroundTerminalsListResponse.json",
            ),
            (
                "thread/backgroundTerminals/terminate",
                "../0.171.0/v2/ThreadBackgroundTerminalsTerminateResponse.json",
            ),
            (
                "thread/backgroundTerminals/clean",
                "../0.171.0/v2/ThreadBackgroundTerminalsCleanResponse.json",
            ),
            // Codex 0.171's experimental processes.
            ("process/spawn", "../0.171.0/v2/ProcessSpawnResponse.json"),
            ("process/kill", "../0.171.0/v2/ProcessKillResponse.json"),
            (
                "process/writeStdin",
                "../0.171.0/v2/ProcessWriteStdinResponse.json",
            ),
            (
                "process/resizePty",
                "../0.171.0/v2/ProcessResizePtyResponse.json",
            ),
            (
                "command/exec/resize",
                "../0.171.0/v2/CommandExecResizeResponse.json",
            ),
            // Codex 0.171's experimental search.
            ("thread/search", "../0.171.0/v2/ThreadSearchResponse.json"),
            (
                "thread/search/stream",
                "../0.171.0/v2/ThreadSearchResponse.json",
            ),
            (
                "thread/search/cancel",
                "../0.171.0/v2/ThreadSearchCancelResponse.json",
            ),
            (
                "thread/searchOccurrences",
                "../0.171.0/v2/ThreadSearchOccurrencesResponse.json",
            ),
            // Codex 0.171's experimental logins kept.
            (
                "accountSession/list",
                "../0.171.0/v2/AccountSessionsResponse.json",
            ),
            (
                "accountSession/switch",
                "../0.171.0/v2/AccountSessionsSwitchResponse.json",
            ),
            (
                "thread/approveGuardianDeniedAction",
                "../0.171.0/v2/ThreadApproveGuardianDeniedActionResponse.json",
            ),
        ] {
            responses
                .entry(method.to_string())
                .or_insert_with(|| validator(file));
        }
        // Notifications of Codex 0.171's that 0.169's schema has not: their params checked.
        let later_notifications = [
            (
                "thread/search/partial",
                "../0.171.0/v2/ThreadSearchPartialNotification.json",
            ),
            (
                "process/outputDelta",
                "../0.171.0/v2/ProcessOutputDeltaNotification.json",
            ),
            (
                "process/exited",
                "../0.171.0/v2/ProcessExitedNotification.json",
            ),
            // Auto-review's, as 0.171 has them.
            (
                "item/autoApprovalReview/started",
                "../0.171.0/v2/ItemGuardianApprovalReviewStartedNotification.json",
            ),
            (
                "item/autoApprovalReview/completed",
                "../0.171.0/v2/ItemGuardianApprovalReviewCompletedNotification.json",
            ),
            (
                "guardianWarning",
                "../0.171.0/v2/GuardianWarningNotification.json",
            ),
        ]
        .into_iter()
        .map(|(method, file)| (method.to_string(), validator(file)))
        .collect();
        Self {
            later_notifications,
            notification: validator("ServerNotification.json"),
            request: validator("ServerRequest.json"),
            error: validator("JSONRPCError.json"),
            responses,
        }
    }

    /// Panics, naming the message, when `message` does not fit.
    fn check(&self, message: &Value, methods: &HashMap<String, String>) {
        let fail = |what: &str, errors: Vec<String>| {
            panic!("{what} does not fit the schema: {errors:?}\n{message}")
        };
        let errors = |v: &jsonschema::Validator, instance: &Value| -> Vec<String> {
            v.iter_errors(instance).map(|e| e.to_string()).collect()
        };
        assert!(
            message.get("jsonrpc").is_none(),
            "no jsonrpc field: {message}"
        );
        if message.get("method").is_some() {
            let is_request = message.get("id").is_some();
            let v = if is_request {
                &self.request
            } else {
                &self.notification
            };
            if !is_request {
                assert!(message["emittedAtMs"].is_i64(), "emittedAtMs: {message}");
            }
            let later = message["method"]
                .as_str()
                .and_then(|method| self.later_notifications.get(method));
            let found = match later {
                Some(v) => errors(v, &message["params"]),
                None => errors(v, message),
            };
            if !found.is_empty() {
                fail("a server message", found);
            }
        } else if message.get("error").is_some() {
            // An unreadable line has no id to answer: JSON-RPC says null, which the schema's
            // request id does not list; its error object is checked all the same.
            let mut shaped = message.clone();
            if shaped["id"].is_null() {
                shaped["id"] = json!("unreadable");
            }
            let found = errors(&self.error, &shaped);
            if !found.is_empty() {
                fail("an error", found);
            }
        } else {
            let id = message["id"].to_string();
            let method = methods
                .get(&id)
                .unwrap_or_else(|| panic!("an answer to no request: {message}"));
            // Not in 0.169's schema: hosts of earlier releases send it, and it is answered as
            // the method that replaced it is.
            let schema_method = match method.as_str() {
                "thread/rollback" => "thread/revert",
                other => other,
            };
            let v = self
                .responses
                .get(schema_method)
                .unwrap_or_else(|| panic!("no response schema for {method}"));
            let found = errors(v, &message["result"]);
            if !found.is_empty() {
                fail(&format!("the {method} response"), found);
            }
        }
    }
}

/// `kelp app-server` on pipes: every line it writes is parsed and checked before a test sees it.
pub(crate) struct Server {
    /// None for a client of a server the test started apart (a listener).
    child: Option<Child>,
    input: Option<Input>,
    lines: Receiver<Value>,
    methods: Arc<Mutex<HashMap<String, String>>>,
    next_id: i64,
    home: tempfile::TempDir,
    /// The last messages read, shown when one does not come.
    recent: Mutex<Vec<Value>>,
}

impl Server {
    pub(crate) fn start(fake: &FakeOpenAi) -> Self {
        Self::start_in(fake, tempfile::tempdir().unwrap())
    }

    /// The server's process id, for a server the test started.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// [`Server::start`] in a home whose `config.toml` is `config`.
    pub(crate) fn with_config(fake: &FakeOpenAi, config: &str) -> Self {
        let home = tempfile::tempdir().unwrap();
        let config_dir = home.path().join(".config/kelp");
        std::fs::create_dir_all(&config_dir).unwrap();
        std::fs::write(config_dir.join("config.toml"), config).unwrap();
        Self::start_in(fake, home)
    }

    /// A server whose `config.toml` is `config`, initialized (with the experimental API),
    /// signed in with the fake's key, and a thread started in a new project that never asks:
    /// the server, the project and the thread's id.
    pub(crate) fn with_thread(fake: &FakeOpenAi, config: &str) -> (Self, tempfile::TempDir, Value) {
        Self::with_thread_asking(fake, config, "never")
    }

    /// [`Server::with_thread`] under the approval policy `policy`.
    pub(crate) fn with_thread_asking(
        fake: &FakeOpenAi,
        config: &str,
        policy: &str,
    ) -> (Self, tempfile::TempDir, Value) {
        let mut server = Self::with_config(fake, config);
        server.initialize(true);
        server.result(
            "account/login/start",
            json!({"type": "apiKey", "apiKey": fake.api_key()}),
        );
        let project = tempfile::tempdir().unwrap();
        let started = server.result(
            "thread/start",
            json!({"cwd": project.path(), "approvalPolicy": policy}),
        );
        let thread_id = started["thread"]["id"].clone();
        (server, project, thread_id)
    }

    /// [`Server::start`] with `home` prepared by the test (a config file, say).
    pub(crate) fn start_in(fake: &FakeOpenAi, home: tempfile::TempDir) -> Self {
        Self::start_with(fake, home, &["app-server", "--listen", "stdio://"], &[])
    }

    /// [`Server::start_in`] with the command line `args`, and `env` over the fake's endpoints.
    pub(crate) fn start_with(
        fake: &FakeOpenAi,
        home: tempfile::TempDir,
        args: &[&str],
        env: &[(&str, String)],
    ) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kelp"));
        cmd.args(args)
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KELP_CALLBACK_PORT", "0")
            .env("RUST_LOG", "kelp=debug")
            .envs(fake.env())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines = BufReader::new(stdout).lines().map_while(Result::ok);
        let input = Input::Pipe(child.stdin.take().unwrap());
        Self::reading(Some(child), input, lines, home)
    }

    /// A client of a server the test started apart: its messages go to `input`, and come from
    /// `lines`, each checked as a pipe's are.
    pub(crate) fn client(
        input: tokio::sync::mpsc::UnboundedSender<String>,
        lines: impl Iterator<Item = String> + Send + 'static,
    ) -> Self {
        let home = tempfile::tempdir().unwrap();
        Self::reading(None, Input::Frames(input), lines, home)
    }

    fn reading(
        child: Option<Child>,
        input: Input,
        lines: impl Iterator<Item = String> + Send + 'static,
        home: tempfile::TempDir,
    ) -> Self {
        let (tx, received) = channel();
        let methods: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let schema = Schema::load();
        let seen = Arc::clone(&methods);
        std::thread::spawn(move || {
            for line in lines {
                let message: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout carries only JSON lines: {e}: {line}"));
                schema.check(&message, &seen.lock().unwrap());
                if tx.send(message).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            input: Some(input),
            lines: received,
            methods,
            next_id: 0,
            home,
            recent: Mutex::default(),
        }
    }

    pub(crate) fn send_raw(&mut self, line: &str) {
        self.send_bytes(line.as_bytes());
    }

    fn send_bytes(&mut self, line: &[u8]) {
        match self.input.as_mut().unwrap() {
            Input::Pipe(stdin) => {
                stdin.write_all(line).unwrap();
                stdin.write_all(b"\n").unwrap();
                stdin.flush().unwrap();
            }
            Input::Frames(frames) => frames
                .send(String::from_utf8(line.to_vec()).unwrap())
                .unwrap(),
        }
    }

    /// Sends a request; returns its id.
    pub(crate) fn send(&mut self, method: &str, params: Value) -> i64 {
        self.next_id += 1;
        let id = self.next_id;
        self.methods
            .lock()
            .unwrap()
            .insert(id.to_string(), method.to_string());
        self.send_raw(&json!({ "id": id, "method": method, "params": params }).to_string());
        id
    }

    pub(crate) fn next(&self) -> Value {
        match self.lines.recv_timeout(WAIT) {
            Ok(message) => {
                let mut recent = self.recent.lock().unwrap();
                if recent.len() == 20 {
                    recent.remove(0);
                }
                recent.push(message.clone());
                message
            }
            Err(RecvTimeoutError::Timeout) => panic!(
                "no message within {WAIT:?}; the last ones: {:#?}",
                self.recent.lock().unwrap()
            ),
            Err(RecvTimeoutError::Disconnected) => panic!("the server closed its output"),
        }
    }

    /// Messages up to and including the first `stop` accepts.
    pub(crate) fn until(&self, stop: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let message = self.next();
            let done = stop(&message);
            seen.push(message);
            if done {
                return seen;
            }
        }
    }

    /// Sends a request and waits for its answer (`result` or `error`), returning what came
    /// before it too.
    pub(crate) fn call(&mut self, method: &str, params: Value) -> (Value, Vec<Value>) {
        let id = self.send(method, params);
        let mut seen = self.until(|m| m["id"] == id && m.get("method").is_none());
        let answer = seen.pop().unwrap();
        (answer, seen)
    }

    pub(crate) fn result(&mut self, method: &str, params: Value) -> Value {
        let (answer, _) = self.call(method, params);
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// Runs a text turn on `thread_id` and returns what came up to `turn/completed`.
    pub(crate) fn turn(&mut self, thread_id: &Value, text: &str) -> Vec<Value> {
        self.result(
            "turn/start",
            json!({"threadId": thread_id, "input": [{"type": "text", "text": text}]}),
        );
        self.until(|m| m["method"] == "turn/completed")
    }

    pub(crate) fn notification(&self, method: &str) -> Value {
        let seen = self.until(|m| m["method"] == method && m.get("id").is_none());
        seen.last().unwrap()["params"].clone()
    }

    pub(crate) fn initialize(&mut self, experimental: bool) -> Value {
        let result = self.result(
            "initialize",
            json!({
                "clientInfo": { "name": "kelp-tests", "version": "1.0" },
                "capabilities": { "experimentalApi": experimental },
            }),
        );
        self.send_raw(r#"{"method":"initialized"}"#);
        result
    }

    fn auth_file(&self) -> PathBuf {
        self.home.path().join(".local/share/kelp/auth.json")
    }

    /// The server stopped (stdin closed) and a new one started over the same home folder.
    pub(crate) fn restarted(mut self, fake: &FakeOpenAi) -> Self {
        let home = std::mem::replace(&mut self.home, tempfile::tempdir().unwrap());
        let (_, clean) = self.close();
        assert!(clean, "the server exits cleanly");
        Self::start_in(fake, home)
    }

    /// Closes stdin and waits for the exit; returns how long it took and whether it succeeded.
    fn close(mut self) -> (Duration, bool) {
        drop(self.input.take());
        let start = Instant::now();
        let child = self.child.as_mut().expect("a server of the test's own");
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (start.elapsed(), status.success());
            }
            assert!(start.elapsed() < WAIT, "the server did not exit");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Where a test's messages to the server go: the child's stdin, or a connection's frames.
enum Input {
    Pipe(ChildStdin),
    Frames(tokio::sync::mpsc::UnboundedSender<String>),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_errors_and_framing_follow_the_real_server() {
    let fake = FakeOpenAi::start().await;
    let mut server = Server::start(&fake);
    let (early, _) = server.call("account/read", json!({}));
    assert_eq!(early["error"]["code"], -32600);
    assert_eq!(early["error"]["message"], "Not initialized");

    let init = server.initialize(false);
    assert!(
        // A build of its own line (`+kelp`), so Codex's client, comparing releases, does not
        // take kelp for an older Codex.
        init["userAgent"]
            .as_str()
            .unwrap()
            .starts_with(&format!("kelp/{}+kelp (", env!("CARGO_PKG_VERSION"))),
        "{init}"
    );
    assert!(
        init["codexHome"].as_str().unwrap().ends_with("kelp"),
        "{init}"
    );
    let (again, _) = server.call(
        "initialize",
        json!({"clientInfo": {"name": "x", "version": "1"}}),
    );
    assert_eq!(again["error"]["message"], "Already initialized");

    let (unknown, _) = server.call("bogus/method", json!({}));
    assert_eq!(unknown["error"]["code"], -32600);
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid request: unknown variant `bogus/method`"),
        "{unknown}"
    );
    // A malformed line is answered, and the server goes on.
    server.send_raw("{not json");
    let broken = server.next();
    assert_eq!(broken["id"], Value::Null);
    assert_eq!(broken["error"]["code"], -32700);
    // Bad params name the field; unknown fields and `"jsonrpc"` are accepted.
    let (bad, _) = server.call("account/login/start", json!({"type": "apiKey"}));
    assert_eq!(bad["error"]["code"], -32602);
    assert!(
        bad["error"]["message"].as_str().unwrap().contains("apiKey"),
        "{bad}"
    );
    server
        .methods
        .lock()
        .unwrap()
        .insert("\"s1\"".into(), "account/read".into());
    server.send_raw(r#"{"jsonrpc":"2.0","id":"s1","method":"account/read","params":{"refreshToken":false,"futureField":1}}"#);
    let read = server.next();
    assert_eq!(read["id"], "s1");
    assert_eq!(read["result"]["account"], Value::Null);
    assert_eq!(read["result"]["requiresOpenaiAuth"], true);

    let (took, ok) = server.close();
    assert!(ok, "exit 0 when stdin closes");
    assert!(took < Duration::from_secs(1), "exited after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_login_is_saved_read_back_and_logged_out() {
    let fake = FakeOpenAi::start().await;
    let mut server = Server::start(&fake);
    server.initialize(false);
    let (answer, _) = server.call(
        "account/login/start",
        json!({"type": "apiKey", "apiKey": fake.api_key()}),
    );
    assert_eq!(answer["result"], json!({"type": "apiKey"}));
    let completed = server.notification("account/login/completed");
    assert_eq!(
        completed,
        json!({"loginId": null, "success": true, "error": null})
    );
    let updated = server.notification("account/updated");
    assert_eq!(updated, json!({"authMode": "apikey", "planType": null}));
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(server.auth_file()).unwrap()).unwrap();
    assert_eq!(stored["openai"]["key"], fake.api_key());

    let read = server.result("account/read", json!({}));
    assert_eq!(read["account"], json!({"type": "apiKey"}));

    assert_eq!(server.result("account/logout", json!({})), json!({}));
    let updated = server.notification("account/updated");
    assert_eq!(updated, json!({"authMode": null, "planType": null}));
    assert_eq!(
        server.result("account/read", json!({}))["account"],
        Value::Null
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_code_login_completes_and_an_expired_one_fails_without_writing() {
    let fake = FakeOpenAi::start_with(FakeConfig {
        device_interval: json!("1"),
        ..FakeConfig::default()
    })
    .await;
    let mut server = Server::start(&fake);
    server.initialize(false);
    let started = server.result("account/login/start", json!({"type": "chatgptDeviceCode"}));
    assert_eq!(started["type"], "chatgptDeviceCode");
    let code = started["userCode"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 10, "a real-shaped code: {code}");
    assert_eq!(
        started["verificationUrl"],
        format!("{}/codex/device", fake.url())
    );
    fake.approve_device(&code);
    let completed = server.notification("account/login/completed");
    assert_eq!(completed["loginId"], started["loginId"]);
    assert_eq!(completed["success"], true, "{completed}");
    let updated = server.notification("account/updated");
    assert_eq!(updated["authMode"], "chatgpt");
    assert_eq!(updated["planType"], "plus");
    let read = server.result("account/read", json!({}));
    assert_eq!(read["account"]["type"], "chatgpt");
    assert!(server.auth_file().exists());

    // A code the server lets expire.
    let fake = FakeOpenAi::start_with(FakeConfig {
        device_interval: json!("1"),
        device_approval: DeviceApproval::ExpireAfterPolls(1),
        ..FakeConfig::default()
    })
    .await;
    let mut server = Server::start(&fake);
    server.initialize(false);
    let started = server.result("account/login/start", json!({"type": "chatgptDeviceCode"}));
    let completed = server.notification("account/login/completed");
    assert_eq!(completed["loginId"], started["loginId"]);
    assert_eq!(completed["success"], false);
    assert!(
        completed["error"].as_str().unwrap().contains("expired"),
        "{completed}"
    );
    assert!(
        !server.auth_file().exists(),
        "a failed login writes nothing"
    );

    // Refused outright: the error comes back on the request and says what to enable.
    let fake = FakeOpenAi::start_with(FakeConfig {
        device_login_enabled: false,
        ..FakeConfig::default()
    })
    .await;
    let mut server = Server::start(&fake);
    server.initialize(false);
    let (refused, _) = server.call("account/login/start", json!({"type": "chatgptDeviceCode"}));
    assert_eq!(refused["error"]["code"], -32603);
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("failed to request device code: "),
        "{message}"
    );
    assert!(message.contains("Security"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_login_cancels_the_first_and_cancel_frees_the_port() {
    let fake = FakeOpenAi::start().await;
    let mut server = Server::start(&fake);
    server.initialize(false);
    let first = server.result("account/login/start", json!({"type": "chatgpt"}));
    assert_eq!(first["type"], "chatgpt");
    let url = url::Url::parse(first["authUrl"].as_str().unwrap()).unwrap();
    let redirect = url
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.to_string())
        .unwrap();
    let port = url::Url::parse(&redirect).unwrap().port().unwrap();

    let (second, before) = server.call("account/login/start", json!({"type": "chatgpt"}));
    let cancelled = before
        .iter()
        .find(|m| m["method"] == "account/login/completed")
        .expect("the first login completes before the second is answered");
    assert_eq!(cancelled["params"]["loginId"], first["loginId"]);
    assert_eq!(cancelled["params"]["success"], false);
    assert_eq!(
        cancelled["params"]["error"],
        "Login server error: Login cancelled"
    );
    let second = second["result"].clone();
    assert_ne!(second["loginId"], first["loginId"]);

    // Cancel: answered, then completed, and the callback port is free again at once.
    let second_url = url::Url::parse(second["authUrl"].as_str().unwrap()).unwrap();
    let second_redirect = second_url
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.to_string())
        .unwrap();
    let second_port = url::Url::parse(&second_redirect).unwrap().port().unwrap();
    let started = Instant::now();
    let cancel = server.result(
        "account/login/cancel",
        json!({"loginId": second["loginId"]}),
    );
    assert_eq!(cancel, json!({"status": "canceled"}));
    let completed = server.notification("account/login/completed");
    assert_eq!(completed["success"], false);
    assert_eq!(
        completed["error"],
        "Login server error: Login was not completed"
    );
    loop {
        if std::net::TcpListener::bind(("127.0.0.1", second_port)).is_ok() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "the callback port is still taken {:?} after the cancel",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());

    // Unknown and malformed ids.
    let again = server.result(
        "account/login/cancel",
        json!({"loginId": second["loginId"]}),
    );
    assert_eq!(again, json!({"status": "notFound"}));
    let (malformed, _) = server.call("account/login/cancel", json!({"loginId": "not-a-uuid"}));
    assert_eq!(malformed["error"]["code"], -32600);
    assert_eq!(
        malformed["error"]["message"],
        "invalid login id: not-a-uuid"
    );
    // External tokens need the experimental capability.
    let (tokens, _) = server.call(
        "account/login/start",
        json!({"type": "chatgptAuthTokens", "accessToken": "x", "chatgptAccountId": "a"}),
    );
    assert_eq!(
        tokens["error"]["message"],
        "account/login/start.chatgptAuthTokens requires experimentalApi capability"
    );
    assert!(!server.auth_file().exists());
}

/// A thread over a fresh project, logged in with the fake's API key.
/// [`logged_in`], with the test MCP server (`tests`) in the config file.
fn logged_in_with_the_test_mcp_server(fake: &FakeOpenAi) -> (Server, tempfile::TempDir) {
    let mut server = Server::with_config(
        fake,
        &format!(
            "[mcp_servers.tests]\ncommand = {:?}\n",
            crate::mcp::server_binary().display().to_string()
        ),
    );
    server.initialize(false);
    server.result(
        "account/login/start",
        json!({"type": "apiKey", "apiKey": fake.api_key()}),
    );
    (server, tempfile::tempdir().unwrap())
}

pub(crate) fn logged_in(fake: &FakeOpenAi) -> (Server, tempfile::TempDir) {
    let mut server = Server::start(fake);
    server.initialize(false);
    server.result(
        "account/login/start",
        json!({"type": "apiKey", "apiKey": fake.api_key()}),
    );
    let project = tempfile::tempdir().unwrap();
    (server, project)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_streams_items_and_asks_before_running_a_command() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let started = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "untrusted"}),
    );
    let thread_id = started["thread"]["id"].as_str().unwrap().to_string();
    assert!(
        uuid::Uuid::parse_str(&thread_id).is_ok(),
        "a kelp session id"
    );
    assert_eq!(started["approvalPolicy"], "untrusted");
    server.notification("thread/started");

    fake.push_responses([
        Reply::call_with_id("c1", "shell", json!({"command": "touch made.txt"})),
        Reply::text("Made the file."),
    ]);
    let turn = server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "make a file", "text_elements": []}]}),
    );
    let turn_id = turn["turn"]["id"].clone();
    assert_eq!(turn["turn"]["status"], "inProgress");
    let seen = server.until(|m| m["method"] == "item/commandExecution/requestApproval");
    // The person's words are the turn's first item, as in Codex: after `turn/started`, before
    // anything the model does.
    let methods: Vec<String> = seen
        .iter()
        .filter(|m| {
            m.get("id").is_none()
                || m["method"]
                    .as_str()
                    .is_some_and(|m| m.ends_with("Approval"))
        })
        .map(|m| {
            format!(
                "{} {}",
                m["method"].as_str().unwrap_or(""),
                m["params"]["item"]["type"].as_str().unwrap_or("")
            )
        })
        .collect();
    let position = |wanted: &str| methods.iter().position(|m| m.trim_end() == wanted);
    let user_started = position("item/started userMessage").expect("a userMessage item");
    assert!(
        position("turn/started").unwrap() < user_started,
        "{methods:#?}"
    );
    assert!(
        position("item/completed userMessage").unwrap()
            < position("item/started commandExecution").unwrap(),
        "{methods:#?}"
    );
    // No approval for an item the host has not seen: the command is an item before it asks,
    // and, as Codex 0.169 sends it, the thread says it waits just before the item starts.
    let started = position("item/started commandExecution").unwrap();
    assert_eq!(
        (started + 1, &methods[started - 1]),
        (methods.len() - 1, &"thread/status/changed ".to_string()),
        "waiting on approval, the command's item, then the request: {methods:#?}"
    );
    let user = seen
        .iter()
        .find(|m| m["method"] == "item/completed" && m["params"]["item"]["type"] == "userMessage")
        .unwrap();
    assert_eq!(user["params"]["turnId"], turn_id);
    assert_eq!(
        user["params"]["item"]["content"],
        json!([{"type": "text", "text": "make a file", "text_elements": []}])
    );
    let request = seen.last().unwrap();
    assert_eq!(request["params"]["threadId"], thread_id);
    assert_eq!(request["params"]["turnId"], turn_id);
    assert_eq!(request["params"]["itemId"], "c1");
    assert_eq!(request["params"]["command"], "touch made.txt");
    assert!(
        !project.path().join("made.txt").exists(),
        "nothing runs before the answer"
    );
    server.send_raw(&json!({"id": request["id"], "result": {"decision": "accept"}}).to_string());

    let seen = server.until(|m| m["method"] == "turn/completed");
    assert!(
        !seen
            .iter()
            .any(|m| m["method"] == "item/started"
                && m["params"]["item"]["type"] == "commandExecution"),
        "the command's item starts once"
    );
    let completed_command = seen
        .iter()
        .find(|m| {
            m["method"] == "item/completed" && m["params"]["item"]["type"] == "commandExecution"
        })
        .expect("the command's item completes");
    assert_eq!(completed_command["params"]["item"]["status"], "completed");
    assert_eq!(completed_command["params"]["item"]["exitCode"], 0);
    let deltas: String = seen
        .iter()
        .filter(|m| m["method"] == "item/agentMessage/delta")
        .map(|m| m["params"]["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, "Made the file.");
    let message = seen
        .iter()
        .find(|m| m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage")
        .unwrap();
    assert_eq!(message["params"]["item"]["text"], "Made the file.");
    let end = seen.last().unwrap();
    assert_eq!(end["params"]["turn"]["id"], turn_id);
    assert_eq!(end["params"]["turn"]["status"], "completed");
    assert!(project.path().join("made.txt").exists());

    // A patch asks with a fileChange request; accepted, it is applied.
    fake.push_responses([
        Reply::call_with_id(
            "p1",
            "apply_patch",
            json!({"input": "*** Begin Patch\n*** Add File: notes.md\n+hello\n*** End Patch\n"}),
        ),
        Reply::text("Wrote notes."),
    ]);
    server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "write notes"}]}),
    );
    let seen = server.until(|m| m["method"] == "item/fileChange/requestApproval");
    let request = seen.last().unwrap();
    assert_eq!(request["params"]["itemId"], "p1");
    assert!(!project.path().join("notes.md").exists());
    server.send_raw(&json!({"id": request["id"], "result": {"decision": "accept"}}).to_string());
    let seen = server.until(|m| m["method"] == "turn/completed");
    let change = seen
        .iter()
        .find(|m| m["method"] == "item/completed" && m["params"]["item"]["type"] == "fileChange")
        .expect("the file change completes");
    assert_eq!(change["params"]["item"]["status"], "completed");
    let file = &change["params"]["item"]["changes"][0];
    assert_eq!(file["kind"]["type"], "add");
    assert!(
        file["path"].as_str().unwrap().ends_with("notes.md"),
        "{file}"
    );
    assert_eq!(file["diff"], "hello\n", "{file}");
    assert_eq!(
        std::fs::read_to_string(project.path().join("notes.md")).unwrap(),
        "hello\n"
    );

    // Declined: nothing runs, and the turn goes on.
    fake.push_responses([
        Reply::call_with_id("c2", "shell", json!({"command": "touch other.txt"})),
        Reply::text("Left it."),
    ]);
    server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "another"}]}),
    );
    let seen = server.until(|m| m["method"] == "item/commandExecution/requestApproval");
    let request = seen.last().unwrap();
    server.send_raw(&json!({"id": request["id"], "result": {"decision": "decline"}}).to_string());
    let end = server.notification("turn/completed");
    assert_eq!(end["turn"]["status"], "completed");
    assert!(!project.path().join("other.txt").exists());

    // The thread is a kelp session: resumable by its id.
    let resumed = server.result("thread/resume", json!({"threadId": thread_id}));
    assert_eq!(resumed["thread"]["id"], thread_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_stops_the_turn_at_once() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let started = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "never"}),
    );
    let thread_id = started["thread"]["id"].clone();
    fake.push_response(Reply::stall("Thinking about"));
    let turn = server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "go"}]}),
    );
    server.until(|m| m["method"] == "item/agentMessage/delta");
    let asked = Instant::now();
    let answer = server.result(
        "turn/interrupt",
        json!({"threadId": thread_id, "turnId": turn["turn"]["id"]}),
    );
    assert_eq!(answer, json!({}));
    let end = server.notification("turn/completed");
    assert!(
        asked.elapsed() < Duration::from_millis(500),
        "interrupted after {:?}",
        asked.elapsed()
    );
    assert_eq!(end["turn"]["status"], "interrupted");
    assert_eq!(end["turn"]["id"], turn["turn"]["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reasoning_summary_is_an_item_of_its_own() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let started = server.result("thread/start", json!({"cwd": project.path()}));
    let thread_id = started["thread"]["id"].clone();
    fake.push_response(Reply::reasoning("Weighing the options.").and_text("Option B."));
    let seen = server.turn(&thread_id, "pick");
    let reasoning = seen
        .iter()
        .find(|m| m["method"] == "item/completed" && m["params"]["item"]["type"] == "reasoning")
        .expect("a completed reasoning item");
    assert_eq!(
        reasoning["params"]["item"]["summary"],
        json!(["Weighing the options."])
    );
    let order: Vec<&str> = seen
        .iter()
        .filter(|m| m["method"] == "item/started")
        .map(|m| m["params"]["item"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["userMessage", "reasoning", "agentMessage"]);
}

/// What codex-acp and the other hosts call before their first screen, in their order, each
/// answer checked against the schema: initialize → config/read → permissionProfile/list →
/// thread/start → model/list → skills/list → mcpServerStatus/list → turn/start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hosts_start_up_sequence_is_answered_in_codex_words() {
    let fake = FakeOpenAi::start().await;
    let mut server = Server::with_config(
        &fake,
        "# kept\nmodel = \"gpt-5.4\"\napproval = \"full-auto\"\n\n[mcp_servers.docs]\nurl = \"http://127.0.0.1:9/mcp\"\nenabled = false\nhttp_headers = { X-Key = \"s3cret-header\" }\n\n[mcp_servers.tools]\ncommand = \"tools-mcp\"\nenabled = false\nenv = { API_TOKEN = \"s3cret-env\" }\n",
    );
    server.initialize(true);
    let project = tempfile::tempdir().unwrap();

    let plain = server.result("config/read", json!({"includeLayers": false}));
    assert_eq!(plain["config"]["model"], "gpt-5.4");
    assert_eq!(plain["config"]["approval_policy"], "on-request");
    assert_eq!(plain["config"]["sandbox_mode"], "workspace-write");
    assert_eq!(plain["config"]["mcp_servers"]["docs"]["enabled"], false);
    assert_eq!(plain["origins"]["model"]["name"]["type"], "user");
    assert!(plain.get("layers").is_none_or(Value::is_null), "{plain}");

    let profiles = server.result(
        "permissionProfile/list",
        json!({"cwd": project.path(), "cursor": null}),
    );
    let ids: Vec<&str> = profiles["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [":read-only", ":workspace", ":danger-full-access"]);

    let layered = server.result(
        "config/read",
        json!({"includeLayers": true, "cwd": project.path()}),
    );
    let layers = layered["layers"].as_array().unwrap();
    let user = layers
        .iter()
        .find(|l| l["name"]["type"] == "user")
        .expect("the user layer");
    assert!(
        user["name"]["file"]
            .as_str()
            .unwrap()
            .ends_with(".config/kelp/config.toml")
    );
    assert_eq!(user["config"]["approval_policy"], "on-request");
    assert_eq!(user["version"], layered["origins"]["model"]["version"]);
    // The servers' variables and headers are the person's secrets: no layer says their values,
    // and the file's servers are the file's, not a flag's.
    assert_eq!(
        user["config"]["mcp_servers"]["tools"]["command"],
        "tools-mcp"
    );
    assert_eq!(layered["origins"]["mcp_servers"]["name"]["type"], "user");
    assert!(!layered.to_string().contains("s3cret"), "{layered}");

    server.result(
        "account/login/start",
        json!({"type": "apiKey", "apiKey": fake.api_key()}),
    );
    let started = server.result("thread/start", json!({"cwd": project.path()}));
    let thread_id = started["thread"]["id"].clone();
    assert_eq!(started["model"], "gpt-5.4");

    let models = server.result("model/list", json!({"cursor": null, "limit": null}));
    let listed = models["data"].as_array().unwrap();
    assert!(!listed.is_empty(), "{models}");
    assert_eq!(
        listed.iter().filter(|m| m["isDefault"] == true).count(),
        1,
        "{models}"
    );
    assert!(
        listed[0]["supportedReasoningEfforts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["reasoningEffort"] == listed[0]["defaultReasoningEffort"])
    );
    // Paged: one at a time, every model once.
    let mut cursor = Value::Null;
    let mut paged = Vec::new();
    loop {
        let page = server.result("model/list", json!({"cursor": cursor, "limit": 1}));
        paged.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].clone()),
        );
        cursor = page["nextCursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    let all: Vec<Value> = listed.iter().map(|m| m["id"].clone()).collect();
    assert_eq!(paged, all);

    let skills = server.result("skills/list", json!({"cwds": [project.path()]}));
    assert_eq!(
        skills,
        json!({"data": [{"cwd": project.path(), "skills": [], "errors": []}]})
    );
    // The project's skills, in Codex's shape, and a SKILL.md that is not one.
    let skill = project.path().join(".codex/skills/migrate/SKILL.md");
    std::fs::create_dir_all(skill.parent().unwrap()).unwrap();
    std::fs::write(
        &skill,
        "---\nname: migrate\ndescription: Write a DB migration\n---\nSteps.\n",
    )
    .unwrap();
    let broken = project.path().join(".codex/skills/draft/SKILL.md");
    std::fs::create_dir_all(broken.parent().unwrap()).unwrap();
    std::fs::write(&broken, "no front matter").unwrap();
    let skills = server.result("skills/list", json!({"cwds": [project.path()]}));
    let entry = &skills["data"][0];
    assert_eq!(
        entry["skills"],
        json!([{"name": "migrate", "description": "Write a DB migration", "path": skill,
                "scope": "repo", "enabled": true}])
    );
    assert_eq!(entry["errors"][0]["path"], json!(broken));
    let servers = server.result("mcpServerStatus/list", json!({}));
    assert_eq!(servers["data"][0]["name"], "docs");
    assert_eq!(servers["data"][0]["runtimeStatus"], "disabled");

    fake.push_response(Reply::text("Ready."));
    let seen = server.turn(&thread_id, "hi");
    assert_eq!(
        seen.last().unwrap()["params"]["turn"]["status"],
        "completed"
    );
}

/// The VS Code extension's command line: Codex's `-c` settings kelp has are applied (and said
/// to come from the command line), the others and the analytics flag are accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codex_command_line_with_c_overrides_is_taken() {
    let fake = FakeOpenAi::start().await;
    let args = [
        "-c",
        "features.code_mode_host=true",
        "-c",
        "model=\"gpt-5.4-mini\"",
        "-c",
        "sandbox_mode=read-only",
        "app-server",
        "--analytics-default-enabled",
    ];
    let mut server = Server::start_with(&fake, tempfile::tempdir().unwrap(), &args, &[]);
    server.initialize(false);
    let read = server.result("config/read", json!({"includeLayers": true}));
    assert_eq!(read["config"]["model"], "gpt-5.4-mini");
    assert_eq!(read["config"]["sandbox_mode"], "read-only");
    assert_eq!(read["origins"]["model"]["name"]["type"], "sessionFlags");
    assert_eq!(read["layers"][0]["config"]["sandbox_mode"], "read-only");
}

/// Codex 0.171's search: `thread/list`'s `searchTerm` in titles, `thread/search` in what was
/// said (prompts, answers), paged, and its stream's finds sent ahead with the request's id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_are_found_by_what_was_said_in_them() {
    let fake = FakeOpenAi::start().await;
    let (mut server, dir) = logged_in(&fake);
    let mut ids = Vec::new();
    for (prompt, answer) in [
        ("fix the TLS handshake", "The handshake retries now."),
        ("write the docs", "Docs written, handshake section too."),
    ] {
        let started = server.result("thread/start", json!({"cwd": dir.path()}));
        let id = started["thread"]["id"].as_str().unwrap().to_string();
        fake.push_response(Reply::text(answer));
        server.turn(&json!(id), prompt);
        ids.push(id);
    }
    let titled = server.result("thread/list", json!({"searchTerm": "TLS"}));
    assert_eq!(titled["data"].as_array().unwrap().len(), 1, "{titled}");
    assert_eq!(titled["data"][0]["id"], ids[0]);
    let none = server.result("thread/list", json!({"searchTerm": "nowhere said"}));
    assert_eq!(none["data"], json!([]));

    let found = server.result("thread/search", json!({"searchTerm": "HANDSHAKE"}));
    let rows = found["data"].as_array().unwrap();
    let listed: Vec<&str> = rows
        .iter()
        .map(|r| r["thread"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [ids[1].as_str(), ids[0].as_str()],
        "newest first: {found}"
    );
    assert_eq!(rows[1]["snippet"], "fix the TLS handshake");
    assert_eq!(rows[0]["snippet"], "Docs written, handshake section too.");
    let docs = server.result("thread/search", json!({"searchTerm": "docs written"}));
    assert_eq!(docs["data"].as_array().unwrap().len(), 1);

    let (answer, before) = server.call(
        "thread/search/stream",
        json!({"searchTerm": "handshake", "limit": 1}),
    );
    let partials: Vec<&Value> = before
        .iter()
        .filter(|m| m["method"] == "thread/search/partial")
        .collect();
    assert_eq!(partials.len(), 1, "{before:?}");
    assert_eq!(partials[0]["params"]["requestId"], answer["id"]);
    assert_eq!(partials[0]["params"]["data"][0]["thread"]["id"], ids[1]);
    let page = &answer["result"];
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    let rest = server.result(
        "thread/search",
        json!({"searchTerm": "handshake", "cursor": page["nextCursor"]}),
    );
    assert_eq!(rest["data"][0]["thread"]["id"], ids[0]);
    assert!(rest["nextCursor"].is_null());
    let (refused, _) = server.call("thread/search", json!({"searchTerm": "  "}));
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("searchTerm")
    );

    // Within one thread: the prompt and the answer that say it, oldest first, with their
    // items and turn, and where the term is in each line (UTF-16 units).
    let within = server.result(
        "thread/searchOccurrences",
        json!({"threadId": ids[0], "searchTerm": "HANDSHAKE"}),
    );
    let found = within["data"].as_array().unwrap();
    assert_eq!(found.len(), 2, "{within}");
    assert_eq!(found[0]["snippet"], "fix the TLS handshake");
    assert_eq!(
        found[0]["snippetMatchRange"],
        json!({"start": 12, "end": 21})
    );
    assert_eq!(found[1]["snippet"], "The handshake retries now.");
    assert_eq!(found[0]["turnId"], found[1]["turnId"]);
    assert_eq!(found[0]["turnCursor"], "0");
    let read = server.result(
        "thread/read",
        json!({"threadId": ids[0], "includeTurns": true}),
    );
    let items = &read["thread"]["turns"][0]["items"];
    let ids_of: Vec<&Value> = items.as_array().unwrap().iter().map(|i| &i["id"]).collect();
    assert!(ids_of.contains(&&found[0]["itemId"]), "{items}");
    assert!(ids_of.contains(&&found[1]["itemId"]), "{items}");
    assert_eq!(read["thread"]["turns"][0]["id"], found[0]["turnId"]);
}

/// A host's history: kelp's saved sessions as threads, newest first, paged, by folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thread_list_pages_the_saved_sessions_newest_first_by_folder() {
    let fake = FakeOpenAi::start().await;
    let (mut server, first) = logged_in(&fake);
    let second = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for (dir, prompt) in [
        (&first, "fix the parser"),
        (&second, "write the docs\nplease"),
    ] {
        let started = server.result("thread/start", json!({"cwd": dir.path()}));
        let id = started["thread"]["id"].as_str().unwrap().to_string();
        fake.push_response(Reply::text("Done."));
        server.result(
            "turn/start",
            json!({"threadId": id, "input": [{"type": "text", "text": prompt}]}),
        );
        server.until(|m| m["method"] == "turn/completed");
        ids.push(id);
    }
    let all = server.result("thread/list", json!({}));
    let listed: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [ids[1].as_str(), ids[0].as_str()], "{all}");
    assert_eq!(all["data"][0]["preview"], "write the docs");
    assert_eq!(all["data"][1]["cwd"], json!(first.path()));
    assert!(all["nextCursor"].is_null());

    let page = server.result("thread/list", json!({"limit": 1}));
    assert_eq!(page["data"][0]["id"], ids[1]);
    let rest = server.result(
        "thread/list",
        json!({"limit": 1, "cursor": page["nextCursor"]}),
    );
    assert_eq!(rest["data"][0]["id"], ids[0]);
    assert!(rest["nextCursor"].is_null());

    let here = server.result("thread/list", json!({"cwd": first.path()}));
    assert_eq!(here["data"].as_array().unwrap().len(), 1);
    assert_eq!(here["data"][0]["id"], ids[0]);
    let archived = server.result("thread/list", json!({"archived": true}));
    assert_eq!(archived["data"], json!([]));

    // An ephemeral thread (a host's title request) is never saved, so never listed.
    let title = server.result(
        "thread/start",
        json!({"cwd": first.path(), "ephemeral": true}),
    );
    assert_eq!(title["thread"]["ephemeral"], true);
    fake.push_response(Reply::text("Parser fix"));
    server.turn(&title["thread"]["id"], "a title for: fix the parser");
    let listed = server.result("thread/list", json!({}));
    assert_eq!(listed["data"].as_array().unwrap().len(), 2, "{listed}");
    server.result(
        "thread/unsubscribe",
        json!({"threadId": title["thread"]["id"]}),
    );

    // Both are loaded; unsubscribed, one is let go, and can be resumed.
    let mut loaded = server.result("thread/loaded/list", json!({}))["data"].clone();
    loaded
        .as_array_mut()
        .unwrap()
        .sort_by_key(|id| id.to_string());
    let mut both = json!([ids[0], ids[1]]);
    both.as_array_mut()
        .unwrap()
        .sort_by_key(|id| id.to_string());
    assert_eq!(loaded, both);
    let gone = server.result("thread/unsubscribe", json!({"threadId": ids[0]}));
    assert_eq!(gone["status"], "unsubscribed");
    assert_eq!(server.notification("thread/closed")["threadId"], ids[0]);
    let again = server.result("thread/unsubscribe", json!({"threadId": ids[0]}));
    assert_eq!(again["status"], "notLoaded");
    let read = server.result("thread/read", json!({"threadId": ids[0]}));
    assert_eq!(read["thread"]["status"], json!({"type": "notLoaded"}));
    let listed = server.result("thread/list", json!({}));
    let status = |id: &String| {
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|thread| thread["id"] == id.as_str())
            .map(|thread| thread["status"]["type"].clone())
    };
    assert_eq!(status(&ids[0]), Some(json!("notLoaded")), "{listed}");
    assert_eq!(status(&ids[1]), Some(json!("idle")), "{listed}");
    assert_eq!(
        server.result("thread/loaded/list", json!({}))["data"],
        json!([ids[1]])
    );
    let resumed = server.result("thread/resume", json!({"threadId": ids[0]}));
    assert_eq!(resumed["thread"]["id"], ids[0]);
    // Its history comes with it, and thread/read gives the same, loaded or not.
    let turns = &resumed["thread"]["turns"];
    assert_eq!(turns[0]["items"][0]["type"], "userMessage");
    assert_eq!(turns[0]["items"][0]["content"][0]["text"], "fix the parser");
    assert_eq!(turns[0]["items"][1]["text"], "Done.");
    let read = server.result(
        "thread/read",
        json!({"threadId": ids[1], "includeTurns": true}),
    );
    assert_eq!(read["thread"]["preview"], "write the docs");
    assert_eq!(
        read["thread"]["turns"][0]["items"][0]["content"][0]["text"],
        "write the docs\nplease"
    );
    let bare = server.result("thread/read", json!({"threadId": ids[1]}));
    assert_eq!(bare["thread"]["turns"], json!([]));

    // Paged as codex-acp reloads a session: the last turn bare, then the turns whole, then
    // the items.
    let last = server.result(
        "thread/turns/list",
        json!({"threadId": ids[0], "limit": 1, "sortDirection": "desc", "itemsView": "notLoaded"}),
    );
    assert_eq!(last["data"][0]["items"], json!([]));
    assert_eq!(last["data"][0]["itemsView"], "notLoaded");
    let whole = server.result(
        "thread/turns/list",
        json!({"threadId": ids[0], "sortDirection": "asc", "itemsView": "full"}),
    );
    assert_eq!(whole["data"][0]["items"][1]["text"], "Done.");
    let items = server.result("thread/items/list", json!({"threadId": ids[0], "limit": 1}));
    assert_eq!(items["data"][0]["item"]["type"], "userMessage");
    assert_eq!(items["data"][0]["turnId"], whole["data"][0]["id"]);
    let rest = server.result(
        "thread/items/list",
        json!({"threadId": ids[0], "cursor": items["nextCursor"]}),
    );
    assert_eq!(rest["data"][0]["item"]["text"], "Done.");
}

/// A turn as a host shows it: a patch is an item with its changes before it is asked about
/// (so an editor approves a change it can see), a declined one ends declined; a command's
/// output streams as it comes; the plan and the token usage are their own notifications; a
/// failed turn says why with an `error`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_shows_a_patch_before_asking_and_streams_output_plan_and_usage() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let started = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "untrusted"}),
    );
    let thread_id = started["thread"]["id"].clone();
    fake.push_responses([
        Reply::call_with_id(
            "p1",
            "apply_patch",
            json!({"input": "*** Begin Patch\n*** Add File: notes.md\n+hello\n*** End Patch\n"}),
        ),
        Reply::text("Left it.").usage(120, 0, 30, 0),
    ]);
    server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "write notes"}]}),
    );
    let seen = server.until(|m| m["method"] == "item/fileChange/requestApproval");
    let item = seen
        .iter()
        .find(|m| m["method"] == "item/started" && m["params"]["item"]["id"] == "p1")
        .expect("the patch is an item before it is asked about");
    let change = &item["params"]["item"]["changes"][0];
    assert!(
        change["path"].as_str().unwrap().ends_with("notes.md"),
        "{change}"
    );
    // A new file's change carries its text, as Codex's does (a host marks each line added).
    assert_eq!(change["diff"], "hello\n", "{change}");
    let request = seen.last().unwrap();
    server.send_raw(&json!({"id": request["id"], "result": {"decision": "decline"}}).to_string());
    let seen = server.until(|m| m["method"] == "turn/completed");
    let declined = seen
        .iter()
        .find(|m| m["method"] == "item/completed" && m["params"]["item"]["id"] == "p1")
        .expect("the declined patch's item ends");
    assert_eq!(declined["params"]["item"]["status"], "declined");
    assert!(
        !seen.iter().any(|m| m["method"] == "turn/diff/updated"),
        "a declined patch changes nothing"
    );
    let resolved = seen
        .iter()
        .find(|m| m["method"] == "serverRequest/resolved")
        .expect("the answered request is resolved");
    assert_eq!(resolved["params"]["requestId"], request["id"]);
    assert_eq!(
        seen.iter()
            .filter(|m| m["method"] == "item/started" && m["params"]["item"]["id"] == "p1")
            .count(),
        0,
        "started once, before the request"
    );
    let usage = seen
        .iter()
        .rfind(|m| m["method"] == "thread/tokenUsage/updated")
        .expect("the usage");
    assert_eq!(usage["params"]["tokenUsage"]["last"]["inputTokens"], 120);
    assert!(!project.path().join("notes.md").exists());

    // A command's output as it comes, and the plan.
    fake.push_responses([
        Reply::call_with_id(
            "u1",
            "update_plan",
            json!({"plan": [{"step": "Look", "status": "completed"}, {"step": "Fix", "status": "in_progress"}]}),
        ),
        Reply::call_with_id("c1", "shell", json!({"command": "echo one; echo two"})),
        Reply::text("Done."),
    ]);
    let trusted = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "never"}),
    );
    let thread_id = trusted["thread"]["id"].clone();
    let seen = server.turn(&thread_id, "go");
    let plan = seen
        .iter()
        .find(|m| m["method"] == "turn/plan/updated")
        .expect("the plan");
    assert_eq!(
        plan["params"]["plan"],
        json!([{"step": "Look", "status": "completed"}, {"step": "Fix", "status": "inProgress"}])
    );
    let output: String = seen
        .iter()
        .filter(|m| {
            m["method"] == "item/commandExecution/outputDelta" && m["params"]["itemId"] == "c1"
        })
        .map(|m| m["params"]["delta"].as_str().unwrap())
        .collect();
    assert_eq!(output, "one\ntwo\n");

    // A failed turn says why before it ends.
    fake.push_response(Reply::http(
        400,
        json!({"error": {"message": "Invalid request.", "type": "invalid_request_error"}}),
    ));
    let seen = server.turn(&thread_id, "again");
    let error = seen
        .iter()
        .find(|m| m["method"] == "error")
        .expect("an error notification");
    assert_eq!(error["params"]["willRetry"], false);
    assert!(
        error["params"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid request"),
        "{error}"
    );
    assert_eq!(seen.last().unwrap()["params"]["turn"]["status"], "failed");
}

/// A line that is not UTF-8, or a request whose id is an object, is answered with its error and
/// the connection goes on (Codex stops reading at the first, and ignores the second).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_line_is_answered_and_the_connection_goes_on() {
    let fake = FakeOpenAi::start().await;
    let mut server = Server::start(&fake);
    server.initialize(false);
    server.send_bytes(b"{\"id\":5,\"method\":\"account/read\",\"params\":{\"x\":\"\xff\xfe\"}}");
    let error = server.next();
    assert_eq!(error["id"], Value::Null);
    assert_eq!(error["error"]["code"], -32700);
    server.send_raw(r#"{"id":{"a":1},"method":"account/read","params":{}}"#);
    let error = server.next();
    assert_eq!(error["id"], Value::Null);
    assert_eq!(error["error"]["code"], -32600);
    assert_eq!(
        error["error"]["message"],
        "Invalid request: `id` must be a string or an integer"
    );
    let account = server.result("account/read", json!({}));
    assert_eq!(account["account"], Value::Null);
}

/// A request that waits on the network (here a device-code start against an issuer that never
/// answers) does not hold up the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_does_not_hold_up_the_others() {
    let fake = FakeOpenAi::start().await;
    // Takes connections and never answers them.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", silent.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        silent
            .incoming()
            .take(4)
            .filter_map(Result::ok)
            .collect::<Vec<_>>()
    });
    let env = [("KELP_AUTH_ISSUER", issuer)];
    let home = tempfile::tempdir().unwrap();
    let mut server = Server::start_with(&fake, home, &["app-server"], &env);
    server.initialize(false);
    let slow = server.send("account/login/start", json!({"type": "chatgptDeviceCode"}));
    // Served in order, these would wait behind the login (and `result` gives up after WAIT).
    let account = server.result("account/read", json!({}));
    assert_eq!(account["account"], Value::Null);
    let profiles = server.result("permissionProfile/list", json!({}));
    assert_eq!(profiles["data"].as_array().unwrap().len(), 3);
    // The slow one is still waiting: closing the connection stops it.
    assert!(
        server.lines.try_recv().is_err(),
        "no answer to the login start yet ({slow})"
    );
    drop(server);
    drop(held);
}

/// `turn/start`'s model and approval policy hold for that turn and the thread's next ones, and
/// are not written to the config file (they are the host's choice for this thread).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turns_model_and_approval_policy_apply_to_the_thread() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let started = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "untrusted"}),
    );
    let thread_id = started["thread"]["id"].clone();
    fake.push_responses([
        Reply::call_with_id("c1", "shell", json!({"command": "touch made.txt"})),
        Reply::text("Made it."),
    ]);
    server.result(
        "turn/start",
        json!({"threadId": thread_id, "model": "gpt-5.4-mini", "approvalPolicy": "never",
               "input": [{"type": "text", "text": "make it"}]}),
    );
    let seen = server.until(|m| m["method"] == "turn/completed");
    assert!(
        !seen
            .iter()
            .any(|m| m["method"] == "item/commandExecution/requestApproval"),
        "never asks: {seen:#?}"
    );
    assert!(project.path().join("made.txt").exists());
    let request = fake.requests_to("/responses").pop().unwrap().json().clone();
    assert_eq!(request["model"], "gpt-5.4-mini");
    let config = server.home.path().join(".config/kelp/config.toml");
    assert!(!config.exists(), "nothing saved");
    let (bad, _) = server.call(
        "turn/start",
        json!({"threadId": thread_id, "approvalPolicy": "sometimes", "input": [{"type": "text", "text": "x"}]}),
    );
    assert_eq!(bad["error"]["code"], -32602);
}

/// A host's settings screen writes kelp's `config.toml` under Codex's keys, its comments kept;
/// a stale version is refused; what was written is read back and used by the next thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_writes_keep_the_file_and_apply_to_new_threads() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let config_dir = home.path().join(".config/kelp");
    std::fs::create_dir_all(&config_dir).unwrap();
    let file = config_dir.join("config.toml");
    std::fs::write(&file, "# my settings\nmodel = \"gpt-5.5\" # the usual\n").unwrap();
    let mut server = Server::start_in(&fake, home);
    server.initialize(false);
    let version = server.result("config/read", json!({"includeLayers": true}))["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"]["type"] == "user")
        .unwrap()["version"]
        .clone();

    let written = server.result(
        "config/value/write",
        json!({"keyPath": "model", "value": "gpt-5.4", "mergeStrategy": "replace", "expectedVersion": version}),
    );
    assert_eq!(written["status"], "ok");
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text, "# my settings\nmodel = \"gpt-5.4\" # the usual\n");

    // The old version is stale now.
    let (stale, _) = server.call(
        "config/value/write",
        json!({"keyPath": "model", "value": "gpt-5.4-mini", "mergeStrategy": "replace", "expectedVersion": version}),
    );
    assert_eq!(stale["error"]["code"], -32600, "{stale}");

    server.result(
        "config/batchWrite",
        json!({"edits": [
            {"keyPath": "approval_policy", "value": "never", "mergeStrategy": "replace"},
            {"keyPath": "mcp_servers.docs", "value": {"command": "docs-server", "args": ["--quiet"], "enabled": false}, "mergeStrategy": "upsert"},
        ]}),
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("approval = \"never\""), "{text}");
    assert!(text.contains("[mcp_servers.docs]"), "{text}");
    assert!(text.starts_with("# my settings\n"), "{text}");
    let (unknown, _) = server.call(
        "config/value/write",
        json!({"keyPath": "features.web_search", "value": true, "mergeStrategy": "replace"}),
    );
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");

    // A value nested deeper than the reader takes would make a file kelp ignores whole: the
    // write is refused and the file stays as it was.
    let before = std::fs::read_to_string(&file).unwrap();
    let mut deep = json!("x");
    for _ in 0..100 {
        deep = json!([deep]);
    }
    let (refused, _) = server.call(
        "config/value/write",
        json!({"keyPath": "mcp_servers.docs.args", "value": deep, "mergeStrategy": "replace"}),
    );
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("would not load after this change"),
        "{refused}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);

    let read = server.result("config/read", json!({}));
    assert_eq!(read["config"]["model"], "gpt-5.4");
    assert_eq!(read["config"]["approval_policy"], "never");
    assert_eq!(read["origins"]["model"]["name"]["type"], "user");
    assert_eq!(
        read["config"]["mcp_servers"]["docs"]["command"],
        "docs-server"
    );
    let project = tempfile::tempdir().unwrap();
    let started = server.result("thread/start", json!({"cwd": project.path()}));
    assert_eq!(started["model"], "gpt-5.4");
    assert_eq!(started["approvalPolicy"], "never");
}

/// `modelProvider/default/set` (Codex 0.171): one of the configured providers becomes the one
/// new threads use, written as `model_provider` in kelp's file; one not configured is refused
/// in Codex's words and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_provider_is_set_among_the_configured_ones() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let config_dir = home.path().join(".config/kelp");
    std::fs::create_dir_all(&config_dir).unwrap();
    let file = config_dir.join("config.toml");
    let base = format!(
        "# mine\n[model_providers.second]\nname = \"Second\"\nbase_url = \"{}\"\n\
         env_key = \"OPENAI_API_KEY\"\n",
        fake.api_base_url()
    );
    std::fs::write(&file, &base).unwrap();
    let mut server = Server::start_in(&fake, home);
    server.initialize(false);
    let (refused, _) = server.call("modelProvider/default/set", json!({"providerId": "nope"}));
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    assert_eq!(
        refused["error"]["message"],
        "Model provider `nope` is not configured."
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), base);
    let written = server.result("modelProvider/default/set", json!({"providerId": "second"}));
    assert_eq!(written["status"], "ok");
    assert_eq!(written["filePath"], json!(file));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("model_provider = \"second\"\n"), "{text}");
    assert!(
        text.contains("# mine\n[model_providers.second]\n"),
        "{text}"
    );
    let project = tempfile::tempdir().unwrap();
    let started = server.result("thread/start", json!({"cwd": project.path()}));
    assert_eq!(started["modelProvider"], "second", "{started}");
}

/// An approval request the turn's interrupt makes moot is resolved for the host, so its dialog
/// closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_dropped_by_an_interrupt_is_resolved() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let started = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "untrusted"}),
    );
    let thread_id = started["thread"]["id"].clone();
    fake.push_response(Reply::call_with_id(
        "c1",
        "shell",
        json!({"command": "touch x"}),
    ));
    let turn = server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "go"}]}),
    );
    let seen = server.until(|m| m["method"] == "item/commandExecution/requestApproval");
    let request = seen.last().unwrap().clone();
    server.result(
        "turn/interrupt",
        json!({"threadId": thread_id, "turnId": turn["turn"]["id"]}),
    );
    let seen = server.until(|m| m["method"] == "turn/completed");
    let resolved = seen
        .iter()
        .find(|m| m["method"] == "serverRequest/resolved")
        .expect("the dropped request is resolved");
    assert_eq!(resolved["params"]["requestId"], request["id"]);
    assert_eq!(
        seen.last().unwrap()["params"]["turn"]["status"],
        "interrupted"
    );
    assert!(!project.path().join("x").exists());
}

/// `thread/compact/start` compacts as a turn of its own, and says so with a
/// `contextCompaction` item; the next request goes on from the summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_compacts_a_thread() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let started = server.result("thread/start", json!({"cwd": project.path()}));
    let thread_id = started["thread"]["id"].clone();
    fake.push_response(Reply::text("The parser is fixed."));
    server.turn(&thread_id, "fix the parser");
    fake.push_response(Reply::text("We fixed the parser."));
    let answer = server.result("thread/compact/start", json!({"threadId": thread_id}));
    assert_eq!(answer, json!({}));
    let seen = server.until(|m| m["method"] == "turn/completed");
    assert!(seen.iter().any(|m| m["method"] == "turn/started"));
    assert!(
        seen.iter().any(|m| m["method"] == "item/completed"
            && m["params"]["item"]["type"] == "contextCompaction")
    );
    assert!(seen.iter().any(|m| m["method"] == "thread/compacted"));
    assert_eq!(
        seen.last().unwrap()["params"]["turn"]["status"],
        "completed"
    );
    fake.push_response(Reply::text("Next."));
    server.turn(&thread_id, "what next?");
    let input = fake.requests_to("/responses").pop().unwrap().json()["input"].to_string();
    assert!(input.contains("We fixed the parser."), "{input}");
}

/// The retry rule on the wire: the cut attempt's message is never completed, the retry's
/// answer is a new item with a new id, and the host is told of the retry in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_rule_a_cut_message_is_void_and_the_retry_is_a_new_item() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let started = server.result("thread/start", json!({"cwd": project.path()}));
    let thread_id = started["thread"]["id"].clone();
    fake.push_responses(retry_scenario::replies());
    let seen = server.turn(&thread_id, "hi");
    let messages: Vec<&Value> = seen
        .iter()
        .filter(|m| m["method"] == "item/started" && m["params"]["item"]["type"] == "agentMessage")
        .map(|m| &m["params"]["item"]["id"])
        .collect();
    assert_eq!(messages.len(), 2, "{seen:#?}");
    let (cut, whole) = (messages[0], messages[1]);
    assert_ne!(cut, whole);
    let text_of = |id: &Value| -> String {
        seen.iter()
            .filter(|m| m["method"] == "item/agentMessage/delta" && &m["params"]["itemId"] == id)
            .map(|m| m["params"]["delta"].as_str().unwrap())
            .collect()
    };
    assert_eq!(text_of(cut), retry_scenario::CUT);
    assert_eq!(text_of(whole), retry_scenario::WHOLE);
    let at = |wanted: &dyn Fn(&Value) -> bool| seen.iter().position(wanted).unwrap();
    let retry = at(&|m| m["method"] == "error" && m["params"]["willRetry"] == true);
    let second = at(&|m| m["method"] == "item/started" && &m["params"]["item"]["id"] == whole);
    assert!(retry < second, "{seen:#?}");
    let completed: Vec<&Value> = seen
        .iter()
        .filter(|m| {
            m["method"] == "item/completed" && m["params"]["item"]["type"] == "agentMessage"
        })
        .map(|m| &m["params"]["item"])
        .collect();
    assert_eq!(completed.len(), 1, "{seen:#?}");
    assert_eq!(completed[0]["id"], *whole);
    assert_eq!(completed[0]["text"], retry_scenario::WHOLE);
}

/// External tokens mode: a host hands in ChatGPT tokens it owns; they live in memory only, and
/// after a 401 kelp asks the host for new ones and retries once with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_tokens_are_used_in_memory_and_refreshed_by_the_host() {
    let fake = FakeOpenAi::start().await;
    let mut server = Server::start(&fake);
    server.initialize(true);
    let (not_jwt, _) = server.call(
        "account/login/start",
        json!({"type": "chatgptAuthTokens", "accessToken": "x", "chatgptAccountId": "acct"}),
    );
    assert_eq!(not_jwt["error"]["code"], -32602);
    assert!(
        not_jwt["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("failed to set external auth"),
        "{not_jwt}"
    );

    let tokens = fake.mint_tokens();
    let started = server.result(
        "account/login/start",
        json!({
            "type": "chatgptAuthTokens",
            "accessToken": tokens.access_token,
            "chatgptAccountId": tokens.account_id,
        }),
    );
    assert_eq!(started, json!({"type": "chatgptAuthTokens"}));
    let completed = server.notification("account/login/completed");
    assert_eq!(completed["success"], true);
    let updated = server.notification("account/updated");
    assert_eq!(updated["authMode"], "chatgptAuthTokens");
    assert!(
        !server.auth_file().exists(),
        "external tokens never touch auth.json"
    );
    let (refused, _) = server.call("account/login/start", json!({"type": "chatgptDeviceCode"}));
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("External auth is active"),
        "{refused}"
    );

    let project = tempfile::tempdir().unwrap();
    let thread = server.result("thread/start", json!({"cwd": project.path()}));
    let thread_id = thread["thread"]["id"].clone();
    let turn = |server: &mut Server, reply: &str| {
        fake.push_response(Reply::text(reply));
        server.result(
            "turn/start",
            json!({"threadId": thread_id, "input": [{"type": "text", "text": "hi"}]}),
        );
    };
    turn(&mut server, "with the host's tokens");
    assert_eq!(
        server.notification("turn/completed")["turn"]["status"],
        "completed"
    );
    let sent = fake.requests_to("/responses");
    assert!(
        sent.last()
            .unwrap()
            .headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == &format!("Bearer {}", tokens.access_token)),
        "the request carries the host's token"
    );

    // A 401: the host is asked, answers with new tokens, and the request is retried once.
    fake.expire_access_tokens();
    turn(&mut server, "after a refresh");
    let seen = server.until(|m| m["method"] == "account/chatgptAuthTokens/refresh");
    let request = seen.last().unwrap();
    assert_eq!(request["params"]["reason"], "unauthorized");
    assert_eq!(request["params"]["previousAccountId"], tokens.account_id);
    let fresh = fake.mint_tokens();
    server.send_raw(
        &json!({"id": request["id"], "result": {
            "accessToken": fresh.access_token,
            "chatgptAccountId": fresh.account_id,
        }})
        .to_string(),
    );
    let end = server.notification("turn/completed");
    assert_eq!(end["turn"]["status"], "completed", "{end}");

    // The host answers with an error: the turn fails and says why.
    fake.expire_access_tokens();
    turn(&mut server, "never sent");
    let seen = server.until(|m| m["method"] == "account/chatgptAuthTokens/refresh");
    let request = seen.last().unwrap();
    server.send_raw(
        &json!({"id": request["id"], "error": {"code": -32000, "message": "signed out"}})
            .to_string(),
    );
    let end = server.notification("turn/completed");
    assert_eq!(end["turn"]["status"], "failed");
    let message = end["turn"]["error"]["message"].as_str().unwrap();
    assert!(message.contains("signed out"), "{message}");

    // Logout leaves the mode without touching auth.json.
    assert_eq!(server.result("account/logout", json!({})), json!({}));
    let updated = server.notification("account/updated");
    assert_eq!(updated["authMode"], Value::Null);
    assert_eq!(
        server.result("account/read", json!({}))["account"],
        Value::Null
    );
}

/// A turn's images go to the model as image input (a URL as it is, a local file as its data),
/// a mentioned file goes with the prompt, a file that is no image is left out with a warning,
/// and the thread's history shows the images again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turns_images_and_mentions_reach_the_model() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let png: &[u8] = &[
        0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n', 0, 0, 0, 13, b'I', b'H', b'D', b'R',
    ];
    std::fs::write(project.path().join("shot.png"), png).unwrap();
    std::fs::write(project.path().join("notes.txt"), "remember the milk\n").unwrap();
    std::fs::write(project.path().join("fake.png"), "not a picture").unwrap();
    let started = server.result("thread/start", json!({"cwd": project.path()}));
    let thread_id = started["thread"]["id"].clone();
    fake.push_response(Reply::text("Two images."));
    server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [
            {"type": "text", "text": "compare these", "text_elements": []},
            {"type": "image", "url": "https://example.com/a.png"},
            {"type": "localImage", "path": project.path().join("shot.png")},
            {"type": "localImage", "path": project.path().join("fake.png")},
            {"type": "mention", "name": "notes", "path": "notes.txt"},
        ]}),
    );
    let seen = server.until(|m| m["method"] == "turn/completed");
    let user = seen
        .iter()
        .find(|m| m["method"] == "item/started" && m["params"]["item"]["type"] == "userMessage")
        .unwrap();
    let kinds: Vec<&str> = user["params"]["item"]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|input| input["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["text", "image", "localImage", "localImage", "mention"]
    );
    let warning = seen.iter().find(|m| m["method"] == "warning").unwrap();
    let message = warning["params"]["message"].as_str().unwrap();
    assert!(
        message.contains("fake.png") && message.contains("not a PNG"),
        "{message}"
    );
    let parts = fake.last_user_parts();
    assert_eq!(parts[0]["text"], "compare these\n@notes.txt");
    assert!(parts.iter().any(|p| {
        p["text"]
            .as_str()
            .is_some_and(|t| t.contains("remember the milk"))
    }));
    let images: Vec<&str> = parts
        .iter()
        .filter(|p| p["type"] == "input_image")
        .map(|p| p["image_url"].as_str().unwrap())
        .collect();
    assert_eq!(images.len(), 2, "{parts:#?}");
    assert_eq!(images[0], "https://example.com/a.png");
    assert!(images[1].starts_with("data:image/png;base64,iVBORw0KGgo"));

    let read = server.result(
        "thread/read",
        json!({"threadId": thread_id, "includeTurns": true}),
    );
    let content = &read["thread"]["turns"][0]["items"][0]["content"];
    assert_eq!(content[0]["text"], "compare these\n@notes.txt");
    assert_eq!(
        content[1],
        json!({"type": "image", "url": "https://example.com/a.png"})
    );
    let (bad, _) = server.call(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "localAudio", "path": "/tmp/a.wav"}]}),
    );
    assert_eq!(bad["error"]["code"], -32602);
}

/// A turn's effort, summary and output schema reach the request; a read-only sandbox policy
/// keeps the next command from writing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turns_effort_summary_schema_and_sandbox_are_used() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let started = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "never"}),
    );
    let thread_id = started["thread"]["id"].clone();
    let schema = json!({"type": "object", "properties": {"title": {"type": "string"}},
                        "required": ["title"], "additionalProperties": false});
    fake.push_response(Reply::text(r#"{"title":"Fix the parser"}"#));
    server.result(
        "turn/start",
        json!({"threadId": thread_id, "model": "gpt-5.5", "effort": "high", "summary": "concise",
               "serviceTier": "fast",
               "outputSchema": schema, "input": [{"type": "text", "text": "name this"}]}),
    );
    server.until(|m| m["method"] == "turn/completed");
    let request = fake.requests_to("/responses").pop().unwrap().json().clone();
    assert_eq!(
        request["reasoning"],
        json!({"effort": "high", "summary": "concise"})
    );
    assert_eq!(request["text"]["format"]["type"], "json_schema");
    assert_eq!(request["text"]["format"]["strict"], true);
    assert_eq!(request["text"]["format"]["schema"], schema);
    // Codex's fast tier is the API's priority one.
    assert_eq!(request["service_tier"], "priority");

    // The schema was for that turn; the effort and the tier stay for the next.
    fake.push_responses([
        Reply::call_with_id("c1", "shell", json!({"command": "touch made.txt"})),
        Reply::text("Tried."),
    ]);
    server.result(
        "turn/start",
        json!({"threadId": thread_id, "sandboxPolicy": {"type": "readOnly"},
               "input": [{"type": "text", "text": "make it"}]}),
    );
    server.until(|m| m["method"] == "turn/completed");
    let request = fake.requests_to("/responses").pop().unwrap().json().clone();
    assert!(request.get("text").is_none(), "{request:#}");
    assert_eq!(request["reasoning"]["effort"], "high");
    assert_eq!(request["service_tier"], "priority");
    assert!(!project.path().join("made.txt").exists());

    for (field, value) in [
        ("effort", json!("ludicrous")),
        ("summary", json!("long")),
        ("sandboxPolicy", json!({"type": "sometimes"})),
        ("serviceTier", json!("ludicrous")),
    ] {
        let mut params = json!({"threadId": thread_id, "input": [{"type": "text", "text": "x"}]});
        params[field] = value;
        let (bad, _) = server.call("turn/start", params);
        assert_eq!(bad["error"]["code"], -32602, "{field}: {bad}");
    }

    // A thread may start on a tier, for every turn of it.
    let flex = server.result(
        "thread/start",
        json!({"cwd": project.path(), "serviceTier": "flex"}),
    );
    fake.push_response(Reply::text("Slowly."));
    server.result(
        "turn/start",
        json!({"threadId": flex["thread"]["id"], "input": [{"type": "text", "text": "x"}]}),
    );
    server.until(|m| m["method"] == "turn/completed");
    let request = fake.requests_to("/responses").pop().unwrap().json().clone();
    assert_eq!(request["service_tier"], "flex");
    let (bad, _) = server.call(
        "thread/start",
        json!({"cwd": project.path(), "serviceTier": "ludicrous"}),
    );
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
}

/// A host's history screen: a thread is named, forked, archived out of the list and back; a
/// second resume of a loaded thread is answered from its core; the thread's status follows
/// its turns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_are_named_forked_archived_and_resumed_once() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let started = server.result("thread/start", json!({"cwd": project.path()}));
    let thread_id = started["thread"]["id"].clone();
    fake.push_response(Reply::text("Done."));
    let seen = server.turn(&thread_id, "fix the parser");
    // The turn's frame in the order Codex 0.169 sends it: the thread goes active before
    // `turn/started`, and idle before `turn/completed`.
    let frame: Vec<String> = seen
        .iter()
        .filter(|m| m.get("id").is_none())
        .filter_map(|m| {
            let method = m["method"].as_str()?;
            match method {
                "thread/status/changed" => Some(format!(
                    "status {}",
                    m["params"]["status"]["type"].as_str().unwrap_or("")
                )),
                "turn/started" | "turn/completed" => Some(method.to_string()),
                _ => None,
            }
        })
        .collect();
    assert_eq!(
        frame,
        [
            "status active",
            "turn/started",
            "status idle",
            "turn/completed"
        ],
        "{seen:#?}"
    );

    let unnamed = server.result("thread/read", json!({"threadId": thread_id}));
    assert!(unnamed["thread"]["name"].is_null(), "{unnamed}");
    server.result(
        "thread/name/set",
        json!({"threadId": thread_id, "name": "Parser fix"}),
    );
    let named = server.notification("thread/name/updated");
    assert_eq!(
        named,
        json!({"threadId": thread_id, "threadName": "Parser fix"})
    );
    let listed = server.result("thread/list", json!({}));
    assert_eq!(listed["data"][0]["name"], "Parser fix");
    // Read once before the name and once after: the name is not kept with the history.
    let read = server.result("thread/read", json!({"threadId": thread_id}));
    assert_eq!(read["thread"]["name"], "Parser fix");

    // Resumed again while loaded: the same thread, its history, no second core.
    let again = server.result("thread/resume", json!({"threadId": thread_id}));
    assert_eq!(again["thread"]["id"], thread_id);
    assert_eq!(again["thread"]["turns"].as_array().unwrap().len(), 1);
    let loaded = server.result("thread/loaded/list", json!({}));
    assert_eq!(loaded["data"], json!([thread_id]));
    let bare = server.result(
        "thread/resume",
        json!({"threadId": thread_id, "excludeTurns": true}),
    );
    assert_eq!(bare["thread"]["turns"], json!([]));

    let forked = server.result("thread/fork", json!({"threadId": thread_id}));
    let fork_id = forked["thread"]["id"].clone();
    assert_ne!(fork_id, thread_id);
    assert_eq!(forked["thread"]["forkedFromId"], thread_id);
    assert_eq!(forked["thread"]["preview"], "fix the parser");
    assert_eq!(forked["thread"]["turns"].as_array().unwrap().len(), 1);
    // Read once before its next turn: the history read after it is the file's new one.
    let one = server.result(
        "thread/read",
        json!({"threadId": fork_id, "includeTurns": true}),
    );
    assert_eq!(one["thread"]["turns"].as_array().unwrap().len(), 1);
    assert_eq!(
        one["thread"]["forkedFromId"], thread_id,
        "kept with the fork"
    );
    fake.push_response(Reply::text("Differently."));
    server.turn(&fork_id, "now differently");
    let original = server.result(
        "thread/read",
        json!({"threadId": thread_id, "includeTurns": true}),
    );
    assert_eq!(original["thread"]["turns"].as_array().unwrap().len(), 1);

    // A face takes whole ids: a prefix names no thread, for any method.
    let prefix = &thread_id.as_str().unwrap()[..1];
    for method in [
        "thread/archive",
        "thread/read",
        "thread/resume",
        "thread/fork",
    ] {
        let (refused, _) = server.call(method, json!({"threadId": prefix}));
        assert_eq!(refused["error"]["code"], -32600, "{method}: {refused}");
    }
    // A side conversation of the thread (Codex's attached fork): it names its thread, and
    // lists leave it out.
    let side = server.result(
        "thread/fork",
        json!({"threadId": thread_id, "attachToSource": true}),
    );
    assert_eq!(side["thread"]["attachedToThreadId"], thread_id, "{side}");
    assert_eq!(side["thread"]["forkedFromId"], thread_id);
    let (both, _) = server.call(
        "thread/fork",
        json!({"threadId": thread_id, "attachToSource": true, "lastTurnId": "turn-1"}),
    );
    assert_eq!(both["error"]["code"], -32600, "{both}");
    let listed = server.result("thread/list", json!({}));
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        2,
        "nothing archived, the side conversation left out: {listed}"
    );

    server.result("thread/archive", json!({"threadId": thread_id}));
    assert_eq!(
        server.notification("thread/archived"),
        json!({"threadId": thread_id})
    );
    let ids = |list: &Value| -> Vec<Value> {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].clone())
            .collect()
    };
    let listed = server.result("thread/list", json!({}));
    assert_eq!(ids(&listed), std::slice::from_ref(&fork_id));
    let archived = server.result("thread/list", json!({"archived": true}));
    assert_eq!(ids(&archived), std::slice::from_ref(&thread_id));
    let loaded = server.result("thread/loaded/list", json!({}));
    let mut loaded: Vec<Value> = loaded["data"].as_array().unwrap().clone();
    loaded.sort_by_key(|id| id.to_string());
    let mut open = vec![fork_id.clone(), side["thread"]["id"].clone()];
    open.sort_by_key(|id| id.to_string());
    assert_eq!(loaded, open, "the fork and the side conversation");
    let back = server.result("thread/unarchive", json!({"threadId": thread_id}));
    assert_eq!(back["thread"]["name"], "Parser fix");
    let listed = server.result("thread/list", json!({}));
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    server.result("thread/archive", json!({"threadId": fork_id}));
    let (refused, _) = server.call(
        "thread/unarchive",
        json!({"threadId": &fork_id.as_str().unwrap()[..8]}),
    );
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    server.result("thread/unarchive", json!({"threadId": fork_id}));
    let (missing, _) = server.call("thread/unarchive", json!({"threadId": thread_id}));
    assert_eq!(missing["error"]["code"], -32600);

    // A fork through a turn keeps the turns up to it, as thread/read names them.
    let two = server.result(
        "thread/read",
        json!({"threadId": fork_id, "includeTurns": true}),
    );
    // Saved turns keep the ids their live turns had.
    let first_id = two["thread"]["turns"][0]["id"].clone();
    assert!(
        uuid::Uuid::parse_str(first_id.as_str().unwrap()).is_ok(),
        "{two:#}"
    );
    let first_only = server.result(
        "thread/fork",
        json!({"threadId": fork_id, "lastTurnId": first_id, "excludeTurns": false}),
    );
    let turns = first_only["thread"]["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 1, "{first_only:#}");
    let (beyond, _) = server.call(
        "thread/fork",
        json!({"threadId": fork_id, "lastTurnId": "turn-5"}),
    );
    assert_eq!(beyond["error"]["code"], -32600, "{beyond}");
    assert!(
        beyond["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no such turn turn-5: the conversation has 2 turns"),
        "{beyond}"
    );
}

/// Input a host adds while a turn runs goes with the turn's next request, and only to the
/// turn that runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_turn_is_steered() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let started = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "never"}),
    );
    let thread_id = started["thread"]["id"].clone();
    fake.push_responses([
        Reply::call_with_id("c1", "shell", json!({"command": "sleep 1"})),
        Reply::text("Checked the tests too."),
    ]);
    let turn = server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "fix it"}]}),
    );
    let turn_id = turn["turn"]["id"].clone();
    server.until(|m| {
        m["method"] == "item/started" && m["params"]["item"]["type"] == "commandExecution"
    });
    let (wrong, _) = server.call(
        "turn/steer",
        json!({"threadId": thread_id, "expectedTurnId": "other",
               "input": [{"type": "text", "text": "x"}]}),
    );
    assert_eq!(wrong["error"]["code"], -32600);
    let steered = server.result(
        "turn/steer",
        json!({"threadId": thread_id, "expectedTurnId": turn_id,
               "input": [{"type": "text", "text": "also check the tests"}]}),
    );
    assert_eq!(steered["turnId"], turn_id);
    let seen = server.until(|m| m["method"] == "turn/completed");
    let steering: Vec<&Value> = seen
        .iter()
        .filter(|m| m["method"] == "item/completed" && m["params"]["item"]["type"] == "userMessage")
        .map(|m| &m["params"]["item"]["content"][0]["text"])
        .collect();
    assert_eq!(steering, [&json!("also check the tests")]);
    let second = fake.requests_to("/responses").pop().unwrap().json().clone();
    let input = second["input"].as_array().unwrap();
    let last = input.last().unwrap();
    assert_eq!(last["role"], "user", "{second:#}");
    assert_eq!(last["content"][0]["text"], "also check the tests");
    assert_eq!(input[input.len() - 2]["type"], "function_call_output");
    let (idle, _) = server.call(
        "turn/steer",
        json!({"threadId": thread_id, "expectedTurnId": turn_id,
               "input": [{"type": "text", "text": "late"}]}),
    );
    assert_eq!(idle["error"]["code"], -32600);

    // The ids turn/start gave name turns for thread/fork: the steered turn spans two saved
    // turns (its steering is a prompt of the saved history), and keeps both.
    fake.push_response(Reply::text("Done."));
    let last = server.turn(&thread_id, "now commit");
    let last_id = last.last().unwrap()["params"]["turn"]["id"].clone();
    let saved_turns = |forked: &Value| -> Vec<String> {
        forked["thread"]["turns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|turn| {
                // The person's input of each turn: its prompt, then its steering.
                let said: Vec<&str> = turn["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|item| item["type"] == "userMessage")
                    .map(|item| item["content"][0]["text"].as_str().unwrap())
                    .collect();
                said.join(" + ")
            })
            .collect()
    };
    let through_steered = server.result(
        "thread/fork",
        json!({"threadId": thread_id, "lastTurnId": turn_id}),
    );
    assert_eq!(
        saved_turns(&through_steered),
        ["fix it + also check the tests"]
    );
    let through_last = server.result(
        "thread/fork",
        json!({"threadId": thread_id, "lastTurnId": last_id}),
    );
    assert_eq!(
        saved_turns(&through_last),
        ["fix it + also check the tests", "now commit"]
    );
    // Saved under the ids the live turns had.
    assert_eq!(through_last["thread"]["turns"][0]["id"], turn_id);
    assert_eq!(through_last["thread"]["turns"][1]["id"], last_id);
    let (unknown, _) = server.call(
        "thread/fork",
        json!({"threadId": thread_id, "lastTurnId": "7f1c0000-0000-4000-8000-000000000000"}),
    );
    assert_eq!(unknown["error"]["code"], -32600, "{unknown}");
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no such turn"),
        "{unknown}"
    );
}

/// The turn's diff: one unified diff per file over all the turn's patches, sent after each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_turns_diff_follows_its_patches() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    std::fs::write(project.path().join("a.txt"), "one\n").unwrap();
    let started = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "never"}),
    );
    let thread_id = started["thread"]["id"].clone();
    let patch = |from: &str, to: &str| {
        format!("*** Begin Patch\n*** Update File: a.txt\n@@\n-{from}\n+{to}\n*** End Patch\n")
    };
    fake.push_responses([
        Reply::call_with_id("p1", "apply_patch", json!({"input": patch("one", "two")})),
        Reply::call_with_id("p2", "apply_patch", json!({"input": patch("two", "three")})),
        Reply::text("Edited twice."),
    ]);
    let seen = server.turn(&thread_id, "edit it");
    let diffs: Vec<&str> = seen
        .iter()
        .filter(|m| m["method"] == "turn/diff/updated")
        .map(|m| m["params"]["diff"].as_str().unwrap())
        .collect();
    assert_eq!(diffs.len(), 2, "{seen:#?}");
    // Each diff follows its patch's item's end, as Codex 0.169 sends them.
    let order: Vec<String> = seen
        .iter()
        .filter_map(|m| match m["method"].as_str()? {
            "turn/diff/updated" => Some("diff".to_string()),
            "item/completed" if m["params"]["item"]["type"] == "fileChange" => {
                Some(format!("{} done", m["params"]["item"]["id"].as_str()?))
            }
            _ => None,
        })
        .collect();
    assert_eq!(order, ["p1 done", "diff", "p2 done", "diff"], "{seen:#?}");
    assert_eq!(
        diffs[1],
        "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-one\n+three\n"
    );
    assert_eq!(
        std::fs::read_to_string(project.path().join("a.txt")).unwrap(),
        "three\n"
    );
}

/// A host's file picker: the project's files that match, best first, ignored ones left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzy_file_search_finds_the_projects_files() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    std::fs::create_dir_all(project.path().join("src")).unwrap();
    std::fs::create_dir_all(project.path().join("target")).unwrap();
    std::fs::write(project.path().join(".gitignore"), "target/\n").unwrap();
    std::fs::write(project.path().join("src/parser.rs"), "x").unwrap();
    std::fs::write(project.path().join("target/parser.o"), "x").unwrap();
    std::fs::write(project.path().join("notes.md"), "x").unwrap();
    let found = server.result(
        "fuzzyFileSearch",
        json!({"query": "parser", "roots": [project.path()], "cancellationToken": null}),
    );
    let files = found["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{found:#}");
    assert_eq!(files[0]["path"], "src/parser.rs");
    assert_eq!(files[0]["file_name"], "parser.rs");
    assert_eq!(files[0]["match_type"], "file");
    assert_eq!(files[0]["indices"], json!([4, 5, 6, 7, 8, 9]));
}

/// A host runs one command outside any thread: its output and exit code come back, the
/// sandbox holds, and a streamed command is stopped by its process id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_exec_runs_one_command_in_the_sandbox() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let ran = server.result(
        "command/exec",
        json!({"command": ["sh", "-c", "echo out; echo err >&2; exit 3"], "cwd": project.path()}),
    );
    assert_eq!(
        ran,
        json!({"exitCode": 3, "stdout": "out\n", "stderr": "err\n"})
    );

    // The host's env is laid over the command's: a name set, an inherited one unset.
    let with_env = server.result(
        "command/exec",
        json!({"command": ["sh", "-c", "echo $GREETING ${HOME:-no-home}"], "cwd": project.path(),
               "env": {"GREETING": "hi", "HOME": null}}),
    );
    assert_eq!(with_env["stdout"], "hi no-home\n", "{with_env}");
    let (bad, _) = server.call(
        "command/exec",
        json!({"command": ["true"], "cwd": project.path(), "env": {"A": 1}}),
    );
    assert_eq!(bad["error"]["code"], -32602, "{bad}");

    let refused = server.result(
        "command/exec",
        json!({"command": ["touch", "made.txt"], "cwd": project.path(),
               "sandboxPolicy": {"type": "readOnly"}}),
    );
    assert_ne!(refused["exitCode"], 0, "{refused}");
    assert!(!project.path().join("made.txt").exists());

    let id = server.send(
        "command/exec",
        json!({"command": ["sh", "-c", "echo started; sleep 30"], "cwd": project.path(),
               "processId": "p1", "streamStdoutStderr": true}),
    );
    let delta = server.notification("command/exec/outputDelta");
    assert_eq!(delta["processId"], "p1");
    assert_eq!(delta["deltaBase64"], "c3RhcnRlZAo=", "started\\n");
    let started = Instant::now();
    server.result("command/exec/terminate", json!({"processId": "p1"}));
    let seen = server.until(|m| m["id"] == id);
    let ended = &seen.last().unwrap()["result"];
    assert_eq!(ended["exitCode"], 137, "killed: {ended}");
    assert_eq!(ended["stdout"], "", "streamed, not buffered");
    assert!(started.elapsed() < Duration::from_secs(10));
    let (gone, _) = server.call("command/exec/terminate", json!({"processId": "p1"}));
    assert_eq!(gone["error"]["code"], -32600);

    // With streamStdin the host writes the command's input, then closes it.
    let id = server.send(
        "command/exec",
        json!({"command": ["sh", "-c", "tr a-z A-Z; echo done"], "cwd": project.path(),
               "processId": "p2", "streamStdin": true}),
    );
    server.result(
        "command/exec/write",
        json!({"processId": "p2", "deltaBase64": "aGVsbG8K"}),
    );
    server.result(
        "command/exec/write",
        json!({"processId": "p2", "deltaBase64": "d29ybGQK", "closeStdin": true}),
    );
    let seen = server.until(|m| m["id"] == id);
    let ended = &seen.last().unwrap()["result"];
    assert_eq!(
        (ended["exitCode"].clone(), ended["stdout"].clone()),
        (json!(0), json!("HELLO\nWORLD\ndone\n")),
        "{ended}"
    );
    // A command without streamStdin, or one that has ended, takes no input.
    let (closed, _) = server.call(
        "command/exec/write",
        json!({"processId": "p2", "deltaBase64": "eAo="}),
    );
    assert_eq!(closed["error"]["code"], -32600, "{closed}");
}

/// Reads and MCP calls are items a host can show: a read as a command with its `read`
/// action, an MCP call as an `mcpToolCall` with its server, tool and arguments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_mcp_calls_are_items() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in_with_the_test_mcp_server(&fake);
    std::fs::write(project.path().join("notes.txt"), "remember\n").unwrap();
    let started = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "never"}),
    );
    let thread_id = started["thread"]["id"].clone();
    fake.push_responses([
        Reply::call_with_id("r1", "read_file", json!({"path": "notes.txt"})),
        Reply::call_with_id("m1", "tests__lookup", json!({"key": "kelp"})),
        Reply::text("Found it."),
    ]);
    let seen = server.turn(&thread_id, "look it up");
    let item = |id: &str, method: &str| {
        seen.iter()
            .find(|m| m["method"] == method && m["params"]["item"]["id"] == id)
            .unwrap_or_else(|| panic!("{method} {id}: {seen:#?}"))["params"]["item"]
            .clone()
    };
    let read = item("r1", "item/started");
    assert_eq!(read["type"], "commandExecution");
    assert_eq!(read["commandActions"][0]["type"], "read");
    assert_eq!(read["commandActions"][0]["name"], "notes.txt");
    let path = std::fs::canonicalize(project.path())
        .unwrap()
        .join("notes.txt");
    assert_eq!(read["commandActions"][0]["path"], json!(path));
    let call = item("m1", "item/completed");
    assert_eq!(call["type"], "mcpToolCall");
    assert_eq!(call["server"], "tests");
    assert_eq!(call["tool"], "lookup");
    assert_eq!(call["arguments"], json!({"key": "kelp"}));
    assert_eq!(call["status"], "completed");
}

/// A thread reloaded in a new server reads back every item as the live notifications
/// completed it: a read, a search, an MCP call, a failing command with its exit code and a
/// patch with its diff (every message checked against the schema on the way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_thread_reads_back_every_item_as_it_was_live() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in_with_the_test_mcp_server(&fake);
    std::fs::write(project.path().join("notes.txt"), "old line\n").unwrap();
    let started = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "never", "sandbox": "workspace-write"}),
    );
    let thread_id = started["thread"]["id"].clone();
    let patch =
        "*** Begin Patch\n*** Update File: notes.txt\n@@\n-old line\n+new line\n*** End Patch\n";
    fake.push_responses([
        Reply::reasoning("Reading first.")
            .and_call_with_id("r1", "read_file", json!({"path": "notes.txt"}))
            .and_call_with_id("s1", "grep_files", json!({"pattern": "old"})),
        Reply::call_with_id("m1", "tests__lookup", json!({"key": "kelp"})),
        Reply::call_with_id(
            "c1",
            "shell",
            json!({"command": ["sh", "-c", "echo checking; exit 3"]}),
        ),
        Reply::call_with_id("p1", "apply_patch", json!({"input": patch})),
        Reply::text("Fixed the notes."),
    ]);
    let seen = server.turn(&thread_id, "fix the notes");
    let turn_id = seen
        .iter()
        .find(|m| m["method"] == "turn/completed")
        .unwrap()["params"]["turn"]["id"]
        .clone();
    let live = |id: &str| {
        seen.iter()
            .find(|m| m["method"] == "item/completed" && m["params"]["item"]["id"] == id)
            .unwrap_or_else(|| panic!("{id}: {seen:#?}"))["params"]["item"]
            .clone()
    };
    let patch_started = seen
        .iter()
        .find(|m| m["method"] == "item/started" && m["params"]["item"]["id"] == "p1")
        .unwrap();
    assert_eq!(
        patch_started["params"]["item"]["changes"][0]["kind"]["type"], "update",
        "a patch's item starts with its changes: {patch_started}"
    );

    let mut server = server.restarted(&fake);
    server.initialize(false);
    let read = server.result(
        "thread/read",
        json!({"threadId": thread_id, "includeTurns": true}),
    );
    let turns = read["thread"]["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 1, "{read:#}");
    assert_eq!(turns[0]["id"], turn_id, "saved under its live id");
    let items = turns[0]["items"].as_array().unwrap();
    let kinds: Vec<&str> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "userMessage",
            "reasoning",
            "commandExecution",
            "commandExecution",
            "mcpToolCall",
            "commandExecution",
            "fileChange",
            "agentMessage"
        ]
    );
    for id in ["r1", "s1", "m1", "c1", "p1"] {
        let reloaded = items.iter().find(|i| i["id"] == id).unwrap();
        assert_eq!(*reloaded, live(id), "{id}");
    }
    let command = items.iter().find(|i| i["id"] == "c1").unwrap();
    assert_eq!(command["exitCode"], 3);
    assert_eq!(command["status"], "failed");
    assert_eq!(command["aggregatedOutput"], "checking\n");
    let search = items.iter().find(|i| i["id"] == "s1").unwrap();
    assert_eq!(search["commandActions"][0]["type"], "search");
    assert_eq!(items[1]["summary"][0], "Reading first.");
    assert_eq!(items[7]["text"], "Fixed the notes.");
    let listed = server.result(
        "thread/items/list",
        json!({"threadId": thread_id, "turnId": turn_id}),
    );
    assert_eq!(listed["data"].as_array().unwrap().len(), items.len());
}

/// `thread/revert` takes a loaded thread back to before a turn: the turn and those after it
/// leave its history (a reload too) and the next request; the files stay, as in Codex.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_reverts_to_before_a_turn() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let started = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "never"}),
    );
    let thread_id = started["thread"]["id"].clone();
    let turn_id = |seen: &[Value]| {
        seen.iter()
            .find(|m| m["method"] == "turn/completed")
            .unwrap()["params"]["turn"]["id"]
            .clone()
    };
    fake.push_response(Reply::text("First answer."));
    let first = turn_id(&server.turn(&thread_id, "first question"));
    let patch = "*** Begin Patch\n*** Add File: made.txt\n+made\n*** End Patch\n";
    fake.push_responses([
        Reply::call_with_id("p1", "apply_patch", json!({"input": patch})),
        Reply::text("Second answer."),
    ]);
    let second = turn_id(&server.turn(&thread_id, "second question"));

    let (unknown, _) = server.call(
        "thread/revert",
        json!({"threadId": thread_id, "beforeTurnId": "not-a-turn"}),
    );
    assert_eq!(unknown["error"]["code"], -32600, "{unknown}");
    let reverted = server.result(
        "thread/revert",
        json!({"threadId": thread_id, "beforeTurnId": second}),
    );
    assert_eq!(reverted["thread"]["id"], thread_id);
    assert_eq!(reverted["thread"]["turns"], json!([]));
    assert_eq!(
        server.notification("thread/reverted")["threadId"],
        thread_id
    );
    assert!(project.path().join("made.txt").exists(), "files stay");
    let read = server.result(
        "thread/read",
        json!({"threadId": thread_id, "includeTurns": true}),
    );
    let turns = read["thread"]["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 1, "{read:#}");
    assert_eq!(turns[0]["id"], first);

    fake.push_response(Reply::text("Third answer."));
    server.turn(&thread_id, "another question");
    let input = fake.requests_to("/responses").pop().unwrap().json()["input"].to_string();
    assert!(input.contains("First answer."), "{input}");
    assert!(!input.contains("second question"), "{input}");
    assert!(!input.contains("Second answer."), "{input}");

    // A host written for an earlier Codex drops the last turns by count: the same rewind.
    fake.push_response(Reply::text("Fourth answer."));
    server.turn(&thread_id, "one more");
    let (zero, _) = server.call(
        "thread/rollback",
        json!({"threadId": thread_id, "numTurns": 0}),
    );
    assert_eq!(zero["error"]["code"], -32600, "{zero}");
    let rolled = server.result(
        "thread/rollback",
        json!({"threadId": thread_id, "numTurns": 1}),
    );
    assert_eq!(rolled["thread"]["id"], thread_id);
    server.notification("thread/reverted");

    // A reload reads the same history.
    let mut server = server.restarted(&fake);
    server.initialize(false);
    let read = server.result(
        "thread/read",
        json!({"threadId": thread_id, "includeTurns": true}),
    );
    let said: Vec<&str> = read["thread"]["turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|turn| turn["items"][0]["content"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(said, ["first question", "another question"]);
}

/// A host that pages a reloaded thread's history backwards from the resume's cursor gets the
/// newest item first, and the page's cursor back to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_history_pages_backwards_from_its_cursor() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let started = server.result("thread/start", json!({"cwd": project.path()}));
    assert!(
        started.get("itemsBackwardsCursor").is_none(),
        "no history yet"
    );
    let thread_id = started["thread"]["id"].clone();
    fake.push_responses([Reply::text("First."), Reply::text("Second.")]);
    server.turn(&thread_id, "one");
    server.turn(&thread_id, "two");
    server.result("thread/unsubscribe", json!({"threadId": thread_id}));
    let resumed = server.result(
        "thread/resume",
        json!({"threadId": thread_id, "excludeTurns": true}),
    );
    assert_eq!(resumed["thread"]["historyMode"], "legacy");
    assert_eq!(resumed["thread"]["turns"], json!([]));
    let cursor = resumed["itemsBackwardsCursor"].clone();
    let page = server.result(
        "thread/items/list",
        json!({"threadId": thread_id, "cursor": cursor, "sortDirection": "desc", "limit": 1}),
    );
    assert_eq!(page["data"][0]["item"]["text"], "Second.");
    let back = server.result(
        "thread/items/list",
        json!({"threadId": thread_id, "cursor": page["backwardsCursor"], "sortDirection": "asc"}),
    );
    let items = back["data"].as_array().unwrap();
    assert_eq!(items.len(), 1, "the anchor again, and nothing after it");
    assert_eq!(items[0]["item"]["text"], "Second.");
    let turns = server.result(
        "thread/turns/list",
        json!({"threadId": thread_id, "cursor": resumed["turnsBackwardsCursor"], "limit": 1}),
    );
    assert_eq!(turns["data"][0]["items"][0]["content"][0]["text"], "two");
}

/// A host's usage screen: with a ChatGPT login the plan's windows are asked of the backend;
/// with none, the last snapshot (empty) answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_asked_of_the_backend_for_a_chatgpt_login() {
    let fake = FakeOpenAi::start().await;
    let mut server = Server::start(&fake);
    server.initialize(true);
    let before = server.result("account/rateLimits/read", json!({}));
    assert_eq!(before["rateLimits"]["primary"], Value::Null, "{before}");
    let tokens = fake.mint_tokens();
    server.result(
        "account/login/start",
        json!({
            "type": "chatgptAuthTokens",
            "accessToken": tokens.access_token,
            "chatgptAccountId": tokens.account_id,
        }),
    );
    let read = server.result("account/rateLimits/read", json!({}));
    let limits = &read["rateLimits"];
    assert_eq!(limits["primary"]["usedPercent"], 12, "{read}");
    assert_eq!(limits["primary"]["windowDurationMins"], 300);
    assert_eq!(limits["secondary"]["usedPercent"], 40);
    assert_eq!(limits["secondary"]["windowDurationMins"], 10_080);
    assert_eq!(fake.requests_to("/wham/usage").len(), 1);
}

/// A conversation that cannot be saved (here its sessions folder is a file) is said to the
/// host as a warning on the turn, which goes on; nothing is lost in silence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_that_cannot_be_saved_is_a_warning_the_host_sees() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let state = server.home.path().join(".local/state/kelp");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("sessions"), "not a folder").unwrap();
    let started = server.result("thread/start", json!({"cwd": project.path()}));
    let thread_id = started["thread"]["id"].clone();
    fake.push_response(Reply::text("Still answered."));
    let seen = server.turn(&thread_id, "hello");
    let warning = seen
        .iter()
        .find(|m| m["method"] == "warning")
        .unwrap_or_else(|| panic!("no warning: {seen:#?}"));
    let message = warning["params"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("the conversation is not being saved:"),
        "{message}"
    );
    assert_eq!(warning["params"]["threadId"], thread_id);
    assert_eq!(
        seen.last().unwrap()["params"]["turn"]["status"],
        "completed"
    );
}

/// What a host writes must be what kelp reads back: a key of 1 MiB would make auth.json
/// unreadable (every login in it lost), a name of megabytes would stop the names being read.
/// Both are refused in words the host sees, and what was saved stays usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_past_what_kelp_reads_back_are_refused() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let huge_key = format!("sk-{}", "a".repeat(1024 * 1024));
    let (refused, _) = server.call(
        "account/login/start",
        json!({"type": "apiKey", "apiKey": huge_key}),
    );
    assert!(
        refused.get("error").is_some(),
        "{}",
        &refused.to_string()[..200]
    );
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(server.auth_file()).unwrap()).unwrap();
    assert_eq!(saved["openai"]["key"], fake.api_key().as_str());

    let started = server.result("thread/start", json!({"cwd": project.path()}));
    let thread_id = started["thread"]["id"].clone();
    let (refused, _) = server.call(
        "thread/name/set",
        json!({"threadId": thread_id, "name": "n".repeat(9 * 1024 * 1024)}),
    );
    assert_eq!(refused["error"]["code"], -32602);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("a session's name takes at most 256"),
        "{refused}"
    );
    server.result(
        "thread/name/set",
        json!({"threadId": thread_id, "name": "Parser fix"}),
    );
}

/// A host that sends requests and stops reading the answers: kelp stops reading its input once
/// 8 MiB of output wait, so its memory stays under 64 MiB (300,000 unread answers grew it by
/// 305 MiB before), and when the host reads again every answer is there.
#[test]
fn a_host_that_stops_reading_leaves_kelp_small_and_loses_nothing() {
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kelp"))
        .args(["app-server"])
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(crate::support::NOWHERE)
        .current_dir(home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let requests = 300_000u64;
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut text = String::from(
            "{\"id\":0,\"method\":\"initialize\",\"params\":{\"clientInfo\":{\"name\":\"slow\",\"version\":\"1\"}}}\n",
        );
        for id in 1..=requests {
            text.push_str(&format!(
                "{{\"id\":{id},\"method\":\"permissionProfile/list\",\"params\":{{}}}}\n"
            ));
        }
        stdin.write_all(text.as_bytes()).unwrap();
        stdin
    });
    // The host reads nothing for a while: kelp fills what it may, then waits.
    let kib = |field: &str| crate::support::status_kb(pid, field);
    let mut last = 0;
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(100));
        let now = kib("VmRSS");
        if now == last {
            break;
        }
        last = now;
    }
    assert!(
        !writer.is_finished(),
        "kelp read every request while nobody read its answers"
    );
    let mut answered = 0u64;
    let stdout = BufReader::new(child.stdout.take().unwrap());
    for line in stdout.lines() {
        let line = line.unwrap();
        let message: Value = serde_json::from_str(&line).unwrap();
        if message["id"].as_u64().is_some_and(|id| id >= 1) {
            assert!(message["result"].is_object(), "{line}");
            answered += 1;
            if answered == requests {
                break;
            }
        }
    }
    assert_eq!(answered, requests, "every answer came");
    let peak = kib("VmHWM");
    drop(writer.join().unwrap());
    let _ = child.wait();
    assert!(peak < 64 * 1024, "kelp peaked at {peak} KiB");
}

/// A saved thread of more turns than are read at a time (some begun at a note with the id they
/// ran with, one steered, an older stretch numbered by place, a rewind dropping the last
/// turns), paged every way a host pages it: the pages put together are `thread/read`'s turns,
/// and its items, in order and reversed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_of_a_long_thread_put_together_are_the_whole_thread() {
    use kelp::llm::types::Item;
    use kelp::session::{Note, SessionHeader, SessionWriter};
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let state = server.home.path().join(".local/state/kelp");
    let mut writer = SessionWriter::create(&state, SessionHeader::new(project.path(), "gpt-5.5"));
    for turn in 0..150 {
        if turn >= 40 {
            let id = format!("live-{turn}");
            writer.append_note(&Note::turn(id)).unwrap();
        }
        writer
            .append(&Item::user_text(format!("question {turn}")))
            .unwrap();
        if turn == 70 {
            writer
                .append(&Item::user_text("and the tests too"))
                .unwrap();
        }
        writer
            .append(&Item::assistant_text(format!("answer {turn}")))
            .unwrap();
    }
    // Back to before turn 140: the turns after are gone from every read.
    let items_before = 40 * 2 + 100 * 2 + 1;
    let notes_before = 100;
    writer
        .append_note(&Note::Rewound {
            items: items_before,
            notes: notes_before,
        })
        .unwrap();
    let id = writer.id().to_string();
    drop(writer);

    let whole = server.result("thread/read", json!({"threadId": id, "includeTurns": true}));
    let turns = whole["thread"]["turns"].as_array().unwrap().clone();
    assert_eq!(turns.len(), 140, "{}", turns.len());
    assert_eq!(turns[0]["id"], "turn-0");
    assert_eq!(turns[40]["id"], "live-40");
    assert_eq!(turns[139]["id"], "live-139");
    assert_eq!(
        turns[70]["items"].as_array().unwrap().len(),
        3,
        "steered in its turn"
    );

    let page_through = |server: &mut Server, method: &str, extra: Value| {
        let mut got = Vec::new();
        let mut cursor = Value::Null;
        loop {
            let mut asked = json!({"threadId": id, "limit": 7, "cursor": cursor});
            asked
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let page = server.result(method, asked);
            got.extend(page["data"].as_array().unwrap().iter().cloned());
            cursor = page["nextCursor"].clone();
            if cursor.is_null() {
                return got;
            }
        }
    };
    let strip = |turn: &Value| {
        let mut turn = turn.clone();
        turn.as_object_mut().unwrap().remove("itemsView");
        turn
    };
    let ascending = page_through(
        &mut server,
        "thread/turns/list",
        json!({"sortDirection": "asc"}),
    );
    assert_eq!(ascending.iter().map(strip).collect::<Vec<_>>(), turns);
    let mut descending = page_through(
        &mut server,
        "thread/turns/list",
        json!({"sortDirection": "desc"}),
    );
    descending.reverse();
    assert_eq!(descending.iter().map(strip).collect::<Vec<_>>(), turns);

    let items: Vec<Value> = turns
        .iter()
        .flat_map(|turn| {
            let turn_id = turn["id"].clone();
            turn["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |item| json!({"item": item, "turnId": turn_id}))
        })
        .collect();
    assert_eq!(
        page_through(&mut server, "thread/items/list", json!({})),
        items
    );
    let mut newest_first = page_through(
        &mut server,
        "thread/items/list",
        json!({"sortDirection": "desc"}),
    );
    newest_first.reverse();
    assert_eq!(newest_first, items);
    let one_turn = server.result(
        "thread/items/list",
        json!({"threadId": id, "turnId": "live-70"}),
    );
    assert_eq!(one_turn["data"].as_array().unwrap().len(), 3);
    assert_eq!(
        one_turn["data"][1]["item"]["content"][0]["text"],
        "and the tests too"
    );
}

/// A saved thread of `server`'s of 80 turns in `project`, each a question and an answer of
/// `lines` lines (about 19 bytes each): its id and its file.
fn save_long_thread(server: &Server, project: &Path, lines: usize) -> (String, PathBuf) {
    use kelp::llm::types::Item;
    use kelp::session::{SessionHeader, SessionWriter};
    let state = server.home.path().join(".local/state/kelp");
    let mut writer = SessionWriter::create(&state, SessionHeader::new(project, "gpt-5.5"));
    let long = "a long answer line\n".repeat(lines);
    for turn in 0..80 {
        writer
            .append(&Item::user_text(format!("question {turn}")))
            .unwrap();
        writer.append(&Item::assistant_text(&long)).unwrap();
    }
    let file = writer.path().unwrap().to_path_buf();
    (writer.id().to_string(), file)
}

/// A host paging an 80 MB thread a turn at a time costs kelp what the page holds, not what
/// the file holds: its peak stays well under the file's size (reading the file whole took
/// several times it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_a_large_thread_costs_the_page_not_the_file() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let (id, file) = save_long_thread(&server, project.path(), 55_000);
    let size_kib = std::fs::metadata(&file).unwrap().len() / 1024;
    assert!(size_kib > 80 * 1024, "{size_kib} KiB");
    let mut cursor = Value::Null;
    for _ in 0..3 {
        let page = server.result(
            "thread/turns/list",
            json!({"threadId": id, "limit": 1, "cursor": cursor, "sortDirection": "desc"}),
        );
        assert_eq!(page["data"].as_array().unwrap().len(), 1);
        cursor = page["nextCursor"].clone();
    }
    let items = server.result("thread/items/list", json!({"threadId": id, "limit": 2}));
    assert_eq!(items["data"][0]["item"]["content"][0]["text"], "question 0");
    let peak = crate::support::status_kb(server.child.as_ref().unwrap().id(), "VmHWM");
    // The peak moves with how the pages' reads fall on the allocator's threads (36–45 MiB
    // here); a read of the whole file cannot stay under the file's own size.
    assert!(
        peak < size_kib * 3 / 4,
        "kelp peaked at {peak} KiB paging a {size_kib} KiB thread"
    );
}

/// A host reading every turn of a large thread at once costs kelp the answer's text, never
/// the history besides it: the turns are read a run at a time while the answer is written, and
/// the answer goes out from where it was made (a tree of values and its copies took 3.6 times
/// the file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_every_turn_of_a_large_thread_holds_the_answer_not_the_history() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let (id, file) = save_long_thread(&server, project.path(), 20_000);
    let size_kib = std::fs::metadata(&file).unwrap().len() / 1024;
    let before = crate::support::status_kb(server.child.as_ref().unwrap().id(), "VmHWM");
    let read = server.result("thread/read", json!({"threadId": id, "includeTurns": true}));
    let turns = read["thread"]["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 80);
    let last = &turns[79]["items"];
    assert_eq!(last[0]["content"][0]["text"], "question 79");
    assert_eq!(
        last[1]["text"].as_str().map(str::len),
        Some("a long answer line\n".len() * 20_000)
    );
    let peak = crate::support::status_kb(server.child.as_ref().unwrap().id(), "VmHWM");
    assert!(
        peak - before < size_kib * 5 / 4,
        "kelp peaked at {peak} KiB ({before} KiB before) answering every turn of a {size_kib} KiB thread"
    );
}

/// Reading a large saved thread is off the protocol loop: a request sent after it is answered
/// while it is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_large_thread_holds_up_no_other_request() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let (id, _) = save_long_thread(&server, project.path(), 50_000);
    let read = server.send("thread/read", json!({"threadId": id, "includeTurns": true}));
    let quick = server.send("permissionProfile/list", json!({}));
    let answered: Vec<i64> = server
        .until(|m| m["id"] == read)
        .iter()
        .filter_map(|m| m["id"].as_i64())
        .collect();
    assert_eq!(
        answered,
        [quick, read],
        "the quick request waited for the read"
    );
}

/// The smallest value `schema` accepts that this walk can make: each required field, the
/// first of each choice, empty arrays; `definitions` resolves references.
fn example(schema: &Value, definitions: &Value) -> Value {
    if let Some(name) = schema["$ref"].as_str() {
        return example(&definitions[name.rsplit('/').next().unwrap()], definitions);
    }
    if let Some(first) = schema["allOf"].as_array().and_then(|all| all.first()) {
        return example(first, definitions);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(choices) = schema[key].as_array() {
            let pick = choices
                .iter()
                .find(|choice| choice["type"] != "null")
                .unwrap_or(&choices[0]);
            return example(pick, definitions);
        }
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    let kind = match &schema["type"] {
        Value::String(kind) => kind.as_str(),
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|kind| *kind != "null")
            .unwrap_or("null"),
        _ if schema["properties"].is_object() => "object",
        _ => "null",
    };
    match kind {
        "object" => {
            let mut object = serde_json::Map::new();
            for field in schema["required"].as_array().into_iter().flatten() {
                let field = field.as_str().unwrap();
                object.insert(
                    field.to_string(),
                    example(&schema["properties"][field], definitions),
                );
            }
            Value::Object(object)
        }
        "array" => json!([]),
        "string" => json!("x"),
        "integer" | "number" => json!(1),
        "boolean" => json!(false),
        _ => Value::Null,
    }
}

/// Every method of the schema's client requests, sent with params it accepts: none is an
/// unknown variant, and each answer (a result or an error) fits the schema, which the reader
/// checks line by line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_of_the_schema_is_recognised_and_answered_in_its_shape() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    server.result("thread/start", json!({ "cwd": project.path() }));
    let requests = load(&Path::new(SCHEMA_DIR).join("ClientRequest.json"));
    let definitions = &requests["definitions"];
    let mut recognised = 0;
    for variant in requests["oneOf"].as_array().unwrap() {
        let method = variant["properties"]["method"]["enum"][0].as_str().unwrap();
        // The login would be replaced by the walk's key, and a second initialize refused:
        // both are driven for real elsewhere.
        if ["initialize", "account/login/start", "account/logout"].contains(&method) {
            continue;
        }
        let params = match variant["properties"].get("params") {
            Some(params) => example(params, definitions),
            None => Value::Null,
        };
        let (answer, _) = server.call(method, params.clone());
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(
            !message.contains("unknown variant"),
            "{method} {params}: {answer}"
        );
        recognised += 1;
    }
    assert!(recognised >= 105, "{recognised} methods");
}

/// `fs/*` works beneath the folders the host's threads opened, and nowhere else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_reads_and_writes_files_beneath_its_threads_folders() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let root = project.path().canonicalize().unwrap();
    let file = root.join("src/lib.rs");
    // Before any thread, no folder is open to the host.
    let (refused, _) = server.call("fs/readFile", json!({ "path": file }));
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not beneath a folder"),
        "{refused}"
    );
    server.result("thread/start", json!({ "cwd": root }));
    let data = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "fn main() {}\n");
    server.result("fs/writeFile", json!({ "path": file, "dataBase64": data }));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "fn main() {}\n");
    let read = server.result("fs/readFile", json!({ "path": file }));
    assert_eq!(read["dataBase64"], data);
    let meta = server.result("fs/getMetadata", json!({ "path": file }));
    assert_eq!(
        (meta["isFile"].clone(), meta["isSymlink"].clone()),
        (json!(true), json!(false))
    );
    server.result("fs/createDirectory", json!({ "path": root.join("docs") }));
    server.result(
        "fs/copy",
        json!({ "sourcePath": root.join("src"), "destinationPath": root.join("old"), "recursive": true }),
    );
    let listed = server.result("fs/readDirectory", json!({ "path": root }));
    assert_eq!(
        listed["entries"],
        json!([
            { "fileName": "docs", "isDirectory": true, "isFile": false },
            { "fileName": "old", "isDirectory": true, "isFile": false },
            { "fileName": "src", "isDirectory": true, "isFile": false },
        ])
    );
    server.result("fs/remove", json!({ "path": root.join("old") }));
    assert!(!root.join("old").exists());
    // Out of the folder, by a path or by a link, nothing is reached.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "s").unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("link")).unwrap();
    for path in [outside.path().join("secret"), root.join("link/secret")] {
        let (answer, _) = server.call("fs/readFile", json!({ "path": path }));
        assert!(answer["error"].is_object(), "{answer}");
    }
    let (answer, _) = server.call(
        "fs/writeFile",
        json!({ "path": root.join("link/planted"), "dataBase64": data }),
    );
    assert!(answer["error"].is_object(), "{answer}");
    assert!(!outside.path().join("planted").exists());
}

/// `thread/delete`: the session file goes, the thread leaves the lists, and a second delete
/// says there is no such thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_thread_is_gone_from_disk_and_lists() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let started = server.result("thread/start", json!({"cwd": project.path()}));
    let thread_id = started["thread"]["id"].clone();
    fake.push_response(Reply::text("Done."));
    server.turn(&thread_id, "remember this");
    let state_dir = server.home.path().join(".local/state/kelp");
    let path = kelp::session::list_sessions(&state_dir, None)
        .next()
        .map(|session| session.path)
        .unwrap();
    assert!(path.to_string_lossy().contains(thread_id.as_str().unwrap()));
    let (answer, seen) = server.call("thread/delete", json!({"threadId": thread_id}));
    assert_eq!(answer["result"], json!({}), "{answer}");
    let deleted = server.notification("thread/deleted");
    assert_eq!(deleted["threadId"], thread_id, "{seen:?}");
    assert!(!path.exists());
    let listed = server.result("thread/list", json!({}));
    assert_eq!(listed["data"], json!([]));
    let (again, _) = server.call("thread/delete", json!({"threadId": thread_id}));
    assert!(
        again["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("no thread"),
        "{again}"
    );
}

/// `mcpServer/tool/call`: a host calls a thread's MCP tool itself, outside any turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_calls_a_threads_mcp_tool() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in_with_the_test_mcp_server(&fake);
    let started = server.result("thread/start", json!({"cwd": project.path()}));
    let thread_id = started["thread"]["id"].clone();
    let called = server.result(
        "mcpServer/tool/call",
        json!({"threadId": thread_id, "server": "tests", "tool": "echo", "arguments": {"text": "hi"}}),
    );
    assert_eq!(
        called,
        json!({"content": [{"type": "text", "text": "echo: hi"}], "isError": false})
    );
    let failed = server.result(
        "mcpServer/tool/call",
        json!({"threadId": thread_id, "server": "tests", "tool": "crash"}),
    );
    assert_eq!(failed["isError"], true, "{failed}");
    for (params, said) in [
        (
            json!({"threadId": thread_id, "server": "tests", "tool": "nope"}),
            "has no tool `nope`",
        ),
        (
            json!({"threadId": thread_id, "server": "elsewhere", "tool": "echo"}),
            "has no tool",
        ),
        (
            json!({"threadId": "not-loaded", "server": "tests", "tool": "echo"}),
            "not-loaded",
        ),
    ] {
        let (answer, _) = server.call("mcpServer/tool/call", params);
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(said), "{answer}");
    }
    // No model request was made for any of it.
    assert!(fake.requests_to("/responses").is_empty());
}

/// `review/start`: a review turn, entered and left as items around what the model found.
/// A review is a turn apart, as Codex runs one: the reviewer sees none of the thread's talk,
/// is offered no `apply_patch` and runs none (even in full-auto), and its commands run
/// read-only; the thread then keeps the request and the findings, so the next turn can act on
/// them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_reads_apart_from_the_talk_and_changes_nothing() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let started = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "never"}),
    );
    let thread_id = started["thread"]["id"].clone();
    fake.push_response(Reply::text("Noted."));
    server.turn(&thread_id, "remember the word PELICAN-71");

    let patch = "*** Begin Patch\n*** Add File: patched.txt\n+x\n*** End Patch\n";
    fake.push_responses([
        Reply::call_with_id("p1", "apply_patch", json!({"input": patch})),
        Reply::call_with_id(
            "s1",
            "shell",
            json!({"command": "touch touched.txt; echo ran"}),
        ),
        Reply::text("1. notes.txt:1 says 41, not 42."),
    ]);
    server.result(
        "review/start",
        json!({"threadId": thread_id, "target": {"type": "custom", "instructions": "check notes.txt"}}),
    );
    let seen = server.until(|m| m["method"] == "turn/completed");
    assert_eq!(
        seen.last().unwrap()["params"]["turn"]["status"],
        "completed",
        "{seen:#?}"
    );
    assert!(
        !project.path().join("patched.txt").exists(),
        "a reviewer's patch ran"
    );
    let sandboxed =
        kelp::sandbox::support().landlock.is_ok() || kelp::sandbox::support().namespaces.is_ok();
    if sandboxed {
        assert!(
            !project.path().join("touched.txt").exists(),
            "a reviewer's command wrote"
        );
    }
    let requests = fake.requests_to("/responses");
    let review = requests[1].json();
    let review_text = review.to_string();
    assert!(review_text.contains("check notes.txt"), "{review_text}");
    assert!(
        !review_text.contains("PELICAN-71"),
        "the reviewer saw the talk"
    );
    let tools: Vec<&str> = review["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|tool| tool["name"].as_str())
        .collect();
    assert!(
        !tools.contains(&"apply_patch") && tools.contains(&"exec_command"),
        "{tools:?}"
    );
    let after_patch = requests[2].json().to_string();
    assert!(after_patch.contains("this is a review"), "{after_patch}");

    fake.push_response(Reply::text("Fixed."));
    server.turn(&thread_id, "fix what the review found");
    let next = fake.requests_to("/responses")[4].json().to_string();
    for kept in [
        "PELICAN-71",
        "/review check notes.txt",
        "notes.txt:1 says 41, not 42.",
    ] {
        assert!(next.contains(kept), "{kept}: {next}");
    }
    assert!(
        !next.contains("touch touched.txt"),
        "the reviewer's calls stay its own"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_is_a_turn_between_review_mode_items() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let started = server.result("thread/start", json!({"cwd": project.path()}));
    let thread_id = started["thread"]["id"].clone();
    fake.push_response(Reply::text(
        "1. src/lib.rs:3 divides by zero when the list is empty.",
    ));
    let (answer, _) = server.call(
        "review/start",
        json!({"threadId": thread_id, "target": {"type": "baseBranch", "branch": "main"}}),
    );
    assert_eq!(answer["result"]["reviewThreadId"], thread_id, "{answer}");
    let seen = server.until(|m| m["method"] == "turn/completed");
    let kinds: Vec<String> = seen
        .iter()
        .filter(|m| m["method"] == "item/completed" || m["method"] == "turn/started")
        .map(|m| match m["params"]["item"]["type"].as_str() {
            Some(kind) => kind.to_string(),
            None => m["method"].as_str().unwrap().to_string(),
        })
        .collect();
    // The findings are the `exitedReviewMode` item's alone, as in Codex: no `agentMessage`
    // (nor its deltas) says them first.
    assert_eq!(
        kinds,
        ["turn/started", "enteredReviewMode", "exitedReviewMode"],
        "{seen:#?}"
    );
    assert!(
        !seen
            .iter()
            .any(|m| m["method"] == "item/agentMessage/delta"),
        "{seen:#?}"
    );
    let item = |kind: &str| {
        seen.iter()
            .find(|m| m["method"] == "item/completed" && m["params"]["item"]["type"] == kind)
            .unwrap()["params"]["item"]
            .clone()
    };
    assert_eq!(
        item("enteredReviewMode")["review"],
        "changes against 'main'"
    );
    assert_eq!(
        item("exitedReviewMode")["review"],
        "1. src/lib.rs:3 divides by zero when the list is empty."
    );
    let sent = fake.requests_to("/responses")[0].json().to_string();
    assert!(sent.contains("git merge-base HEAD main"), "{sent}");

    // A branch git would take for an option is refused before anything runs.
    let (refused, _) = server.call(
        "review/start",
        json!({"threadId": thread_id, "target": {"type": "baseBranch", "branch": "--output=/tmp/x"}}),
    );
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    // So is one a shell would expand, a valid ref name though it is, in the prompt the model is
    // told to run.
    let (refused, _) = server.call(
        "review/start",
        json!({"threadId": thread_id, "target": {"type": "baseBranch", "branch": "main$(touch${IFS}PWNED)"}}),
    );
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    assert_eq!(fake.requests_to("/responses").len(), 1);
}

/// A chain of `depth` folders named `d` beneath `dir`, made a step at a time from the one
/// before (a path that deep is far past what one system call takes).
fn deep_chain(dir: &Path, depth: usize) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let mut at = std::fs::File::open(dir).unwrap();
    for _ in 0..depth {
        // SAFETY: mkdirat and openat on a held descriptor and a static name.
        let next = unsafe {
            assert_eq!(libc::mkdirat(at.as_raw_fd(), c"d".as_ptr(), 0o755), 0);
            let fd = libc::openat(
                at.as_raw_fd(),
                c"d".as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            );
            assert!(fd >= 0);
            OwnedFd::from_raw_fd(fd)
        };
        at = std::fs::File::from(next);
    }
}

/// Walks over depth a host or a command chose: a folder copied into itself and a chain 5,000
/// deep copied are refused in words, one 15,000 deep is removed, and the server answers the
/// next request: nothing aborts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_folders_are_refused_in_words_and_the_server_lives() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let root = project.path().canonicalize().unwrap();
    server.result("thread/start", json!({ "cwd": root }));
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    let refused = |answer: &Value, words: &str| {
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{answer}");
    };
    let (answer, _) = server.call(
        "fs/copy",
        json!({ "sourcePath": root.join("a"), "destinationPath": root.join("a/b/c"), "recursive": true }),
    );
    refused(&answer, "cannot be copied into itself");
    assert!(!root.join("a/b/c").exists());

    deep_chain(&root.join("a"), 5_000);
    let (answer, _) = server.call(
        "fs/copy",
        json!({ "sourcePath": root.join("a"), "destinationPath": root.join("copy"), "recursive": true }),
    );
    refused(&answer, "folders deep");
    std::fs::create_dir(root.join("deep")).unwrap();
    deep_chain(&root.join("deep"), 15_000);
    server.result("fs/remove", json!({ "path": root.join("deep") }));
    assert!(!root.join("deep").exists(), "removed, however deep");

    server.result("fs/remove", json!({ "path": root.join("a") }));
    let listed = server.result("fs/readDirectory", json!({ "path": root }));
    assert!(
        listed["entries"].is_array(),
        "the server still answers: {listed}"
    );
}

/// `command/exec`'s output as Codex gives it: all of `seq 1 100000` (589 kB), the host's cap
/// where it asks for one, `capReached` on the delta it cut, a last line without a newline left
/// without one, and nothing in the command's streams that it did not write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_exec_gives_the_output_whole_up_to_the_hosts_cap() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let expected: String = (1..=100_000).map(|n| format!("{n}\n")).collect();
    let all = server.result(
        "command/exec",
        json!({"command": ["seq", "1", "100000"], "cwd": project.path()}),
    );
    assert_eq!(all["stdout"].as_str().unwrap().len(), expected.len());
    assert_eq!(all["stdout"], expected);
    assert_eq!(all["stderr"], "", "nothing invented: {}", all["stderr"]);

    let capped = server.result(
        "command/exec",
        json!({"command": ["sh", "-c", "seq 1 100000; printf end"], "cwd": project.path(),
               "outputBytesCap": 1000}),
    );
    assert_eq!(capped["stdout"], expected[..1000]);
    let whole = server.result(
        "command/exec",
        json!({"command": ["sh", "-c", "seq 1 100000; printf end"], "cwd": project.path(),
               "disableOutputCap": true}),
    );
    assert_eq!(whole["stdout"], format!("{expected}end"));

    let id = server.send(
        "command/exec",
        json!({"command": ["seq", "1", "100000"], "cwd": project.path(),
               "processId": "s1", "streamStdoutStderr": true, "outputBytesCap": 200000}),
    );
    let seen = server.until(|m| m["id"] == id);
    let deltas: Vec<&Value> = seen
        .iter()
        .filter(|m| m["method"] == "command/exec/outputDelta")
        .map(|m| &m["params"])
        .collect();
    let streamed: Vec<u8> = deltas
        .iter()
        .flat_map(|d| {
            base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                d["deltaBase64"].as_str().unwrap(),
            )
            .unwrap()
        })
        .collect();
    assert_eq!(streamed, expected.as_bytes()[..200_000]);
    assert_eq!(deltas.last().unwrap()["capReached"], true);
    assert!(
        deltas[..deltas.len() - 1]
            .iter()
            .all(|d| d["capReached"] == false)
    );
}

/// The model's web search is Codex's `webSearch` item, live and read back; the providers of
/// the config are listed with the one in use, and what it can do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_search_is_an_item_and_the_providers_are_listed() {
    let fake = FakeOpenAi::start().await;
    fake.set_scenario(Scenario::Search);
    let args = [
        "--search",
        "-c",
        "model_providers.gateway={ name = \"Gateway\", base_url = \"http://127.0.0.1:9/v1\", env_key = \"GATEWAY_KEY\" }",
        "app-server",
    ];
    let mut server = Server::start_with(&fake, tempfile::tempdir().unwrap(), &args, &[]);
    server.initialize(false);
    server.result(
        "account/login/start",
        json!({"type": "apiKey", "apiKey": fake.api_key()}),
    );
    let project = tempfile::tempdir().unwrap();
    let started = server.result("thread/start", json!({"cwd": project.path()}));
    assert_eq!(started["modelProvider"], "openai");
    let thread_id = started["thread"]["id"].clone();
    let seen = server.turn(&thread_id, "rust 2024 edition");
    let items = |method: &str| -> Vec<Value> {
        seen.iter()
            .filter(|m| m["method"] == method && m["params"]["item"]["type"] == "webSearch")
            .map(|m| m["params"]["item"].clone())
            .collect()
    };
    let begun = items("item/started");
    assert_eq!(begun.len(), 1, "{seen:?}");
    assert_eq!(begun[0]["query"], "");
    let done = items("item/completed");
    assert_eq!(done[0]["id"], begun[0]["id"]);
    assert_eq!(done[0]["query"], "rust 2024 edition");
    assert_eq!(
        done[0]["action"],
        json!({"type": "search", "query": "rust 2024 edition", "queries": null})
    );
    let order: Vec<&str> = seen
        .iter()
        .filter(|m| m["method"] == "item/started")
        .map(|m| m["params"]["item"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["userMessage", "webSearch", "agentMessage"]);
    // --search: live, as the request said.
    let body = fake.requests_to("/responses").pop().unwrap().json().clone();
    assert!(
        body["tools"]
            .as_array()
            .unwrap()
            .contains(&json!({"type": "web_search", "external_web_access": true})),
        "{body}"
    );
    // Read back, the search is where it was.
    let read = server.result(
        "thread/read",
        json!({"threadId": thread_id, "includeTurns": true}),
    );
    let kinds: Vec<&str> = read["thread"]["turns"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["userMessage", "webSearch", "agentMessage"]);
    assert_eq!(
        read["thread"]["turns"][0]["items"][1]["query"],
        "rust 2024 edition"
    );

    let providers = server.result("modelProvider/list", json!({}));
    assert_eq!(providers["defaultProviderId"], "openai");
    let gateway = providers["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "gateway")
        .expect("the config's provider");
    assert_eq!(gateway["name"], "Gateway");
    assert_eq!(
        gateway["settings"],
        json!({"type": "customGateway", "auth": {"mode": "environmentVariable", "envKey": "GATEWAY_KEY"}})
    );
    let capabilities = server.result("modelProvider/capabilities/read", json!({}));
    assert_eq!(capabilities["webSearch"], true);
}

/// A host of a server on a provider with its own key (another fake, its own variable) is
/// asked for no sign-in, as Codex's `account/read` says; the provider is the one listed as in
/// use, and a turn goes to it with its key while kelp's stored login reaches nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_on_a_provider_with_its_own_key_is_asked_for_no_sign_in_and_turns_go_to_it() {
    let openai = FakeOpenAi::start().await;
    let provider_key = "sk-provider-only-0000000000000000wxyz";
    let provider = FakeOpenAi::start_with(crate::fake_openai::Config {
        api_key: provider_key.into(),
        ..crate::fake_openai::Config::default()
    })
    .await;
    provider.push_response(Reply::text("From the gateway."));
    let inline = format!(
        "model_providers.gateway={{ name = \"Gateway\", base_url = \"{}\", env_key = \"GATEWAY_KEY\" }}",
        provider.api_base_url()
    );
    let args = [
        "-c",
        "model_provider=\"gateway\"",
        "-c",
        inline.as_str(),
        "app-server",
    ];
    let env = [
        ("GATEWAY_KEY", provider_key.to_string()),
        ("OPENAI_API_KEY", openai.api_key()),
    ];
    let mut server = Server::start_with(&openai, tempfile::tempdir().unwrap(), &args, &env);
    server.initialize(false);
    let account = server.result("account/read", json!({"refreshToken": false}));
    assert_eq!(
        account,
        json!({"account": null, "requiresOpenaiAuth": false}),
        "{account}"
    );
    let providers = server.result("modelProvider/list", json!({}));
    assert_eq!(providers["defaultProviderId"], "gateway", "{providers}");
    let project = tempfile::tempdir().unwrap();
    let started = server.result("thread/start", json!({"cwd": project.path()}));
    assert_eq!(started["modelProvider"], "gateway");
    let seen = server.turn(&started["thread"]["id"], "hello");
    assert!(
        seen.iter()
            .any(|m| m["params"]["item"]["text"] == "From the gateway."),
        "{seen:?}"
    );
    let sent = provider.requests_to("/responses");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {provider_key}").as_str())
    );
    assert!(openai.requests_to("/responses").is_empty());
}

/// The small answers hosts read: `hooks/list` one entry per folder asked, each with the
/// person's hooks in Codex's shape and their trust; skills
/// turned off and on with `skills/config/write` (kept in kelp's config file as Codex keeps
/// them, and left out of what a new thread tells the model), and more skill folders with
/// `skills/extraRoots/set`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_are_listed_per_folder_and_skills_turned_off_and_found_in_more_folders() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let other = tempfile::tempdir().unwrap();
    let hooks = server.result(
        "hooks/list",
        json!({"cwds": [project.path(), other.path()]}),
    );
    assert_eq!(hooks["data"].as_array().unwrap().len(), 2);
    assert_eq!(hooks["data"][1]["cwd"], json!(other.path()));
    assert_eq!(hooks["data"][0]["hooks"], json!([]));
    let config_dir = server.home.path().join(".config/kelp");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("hooks.json"),
        r#"{"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./guard.sh", "timeout": 5}]}]}}"#,
    )
    .unwrap();
    let hooks = server.result("hooks/list", json!({"cwds": [project.path()]}));
    let hook = &hooks["data"][0]["hooks"][0];
    assert_eq!(
        (
            &hook["eventName"],
            &hook["matcher"],
            &hook["command"],
            &hook["timeoutSec"],
            &hook["trustStatus"],
            &hook["source"]
        ),
        (
            &json!("preToolUse"),
            &json!("Bash"),
            &json!("./guard.sh"),
            &json!(5),
            &json!("untrusted"),
            &json!("user")
        ),
        "{hooks}"
    );
    assert_eq!(hook["sourcePath"], json!(config_dir.join("hooks.json")));

    // A host trusts it as Codex's do, by writing `hooks.state."KEY".trusted_hash` with the hash
    // the list gave, and turns it off with `enabled = false`: nothing of it lands in the file.
    let key = hook["key"].as_str().unwrap().to_string();
    let hash = hook["currentHash"].clone();
    server.result(
        "config/batchWrite",
        json!({"edits": [{
            "keyPath": format!("hooks.state.\"{key}\".trusted_hash"),
            "value": hash,
            "mergeStrategy": "replace"
        }]}),
    );
    let hooks = server.result("hooks/list", json!({"cwds": [project.path()]}));
    let hook = &hooks["data"][0]["hooks"][0];
    assert_eq!(
        (&hook["trustStatus"], &hook["enabled"]),
        (&json!("trusted"), &json!(true))
    );
    server.result(
        "config/value/write",
        json!({
            "keyPath": format!("hooks.state.{key}.enabled"),
            "value": false,
            "mergeStrategy": "upsert"
        }),
    );
    let hooks = server.result("hooks/list", json!({"cwds": [project.path()]}));
    assert_eq!(hooks["data"][0]["hooks"][0]["enabled"], json!(false));
    assert!(
        !config_dir.join("config.toml").exists(),
        "a hook's state is not the config file's: it is not written"
    );
    let (refused, _) = server.call(
        "config/value/write",
        json!({
            "keyPath": format!("hooks.state.{key}.enabled"),
            "value": "yes",
            "mergeStrategy": "upsert"
        }),
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("enabled (true or false)")),
        "{refused}"
    );
    // A hash that is not one (a second line smuggled in) trusts nothing.
    let (refused, _) = server.call(
        "config/value/write",
        json!({
            "keyPath": format!("hooks.state.\"{key}\".trusted_hash"),
            "value": format!("{key}\n{}", "0".repeat(64)),
            "mergeStrategy": "replace"
        }),
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not a hook's key and hash")),
        "{refused}"
    );

    let skill = |dir: &Path, name: &str, what: &str| {
        let folder = dir.join(name);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join("SKILL.md"),
            format!("---\nname: {name}\ndescription: {what}\n---\nSteps.\n"),
        )
        .unwrap();
        folder.join("SKILL.md")
    };
    let release = skill(
        &project.path().join(".agents/skills"),
        "release",
        "Cut a release",
    );
    let listed = |server: &mut Server| -> Vec<(String, bool)> {
        let list = server.result("skills/list", json!({"cwds": [project.path()]}));
        list["data"][0]["skills"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_string(),
                    s["enabled"] == true,
                )
            })
            .collect()
    };
    assert_eq!(listed(&mut server), [("release".to_string(), true)]);
    server.result(
        "skills/config/write",
        json!({"path": release, "enabled": false}),
    );
    assert_eq!(listed(&mut server), [("release".to_string(), false)]);
    let file =
        std::fs::read_to_string(server.home.path().join(".config/kelp/config.toml")).unwrap();
    assert!(
        file.contains("[[skills.config]]") && file.contains("enabled = false"),
        "{file}"
    );
    let started = server.result("thread/start", json!({"cwd": project.path()}));
    fake.push_response(Reply::text("ok"));
    server.turn(&started["thread"]["id"], "hi");
    let body = fake.requests_to("/responses").pop().unwrap().body;
    assert!(
        !body.contains("Cut a release"),
        "a skill turned off is not told"
    );
    server.result(
        "skills/config/write",
        json!({"path": release, "enabled": true}),
    );
    assert_eq!(listed(&mut server), [("release".to_string(), true)]);

    let extra = tempfile::tempdir().unwrap();
    skill(extra.path(), "deploy", "Ship it");
    server.result(
        "skills/extraRoots/set",
        json!({"extraRoots": [extra.path()]}),
    );
    let names: Vec<String> = listed(&mut server).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["deploy", "release"]);
    let (refused, _) = server.call("skills/extraRoots/set", json!({"extraRoots": ["relative"]}));
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("absolute"),
        "{refused}"
    );
}

/// A host signs in to an MCP server behind OAuth: `mcpServer/oauth/login` answers with the
/// page to open, `mcpServer/oauthLogin/completed` says it went through, and
/// `mcpServerStatus/list` says `oAuth` where it said `notLoggedIn`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_signs_in_to_an_mcp_server_with_oauth() {
    let fake = FakeOpenAi::start().await;
    let (url, _oauth) = crate::mcp_oauth::start(None).await;
    let mut server =
        Server::with_config(&fake, &format!("[mcp_servers.secure]\nurl = \"{url}\"\n"));
    server.initialize(false);
    let auth = |server: &mut Server| {
        let list = server.result("mcpServerStatus/list", json!({}));
        list["data"][0]["authStatus"].as_str().unwrap().to_string()
    };
    assert_eq!(auth(&mut server), "notLoggedIn");
    let started = server.result(
        "mcpServer/oauth/login",
        json!({"name": "secure", "scopes": ["tools", "files"]}),
    );
    let page = started["authorizationUrl"].as_str().unwrap().to_string();
    assert!(page.contains("&scope=tools+files"), "{page}");
    let browser = kelp::llm::client::http_client().unwrap();
    let approved = browser.get(&page).send().await.unwrap();
    let callback = approved.headers()["location"].to_str().unwrap().to_string();
    assert!(
        browser
            .get(&callback)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let done = server.notification("mcpServer/oauthLogin/completed");
    assert_eq!(done["name"], "secure");
    assert_eq!(done["success"], true, "{done}");
    assert_eq!(done["loginId"], started["loginId"]);
    assert_eq!(auth(&mut server), "oAuth");
    let (refused, _) = server.call("mcpServer/oauth/login", json!({"name": "nowhere"}));
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no MCP server")
    );
}

/// With `network = "domains"`, a command's first contact with a host no list names is asked as
/// Codex asks it: a command approval on the command's item with `networkApprovalContext` and
/// the rules to allow or deny the host; the rule to allow it is kept for the project.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_asks_to_reach_a_host_as_codex_asks_it() {
    if !matches!(kelp::sandbox::support().landlock, Ok(abi) if abi >= 4)
        || kelp::sandbox::support().namespaces.is_err()
        || !Path::new("/usr/bin/curl").exists()
    {
        return;
    }
    let fake = FakeOpenAi::start().await;
    let mut server = Server::with_config(
        &fake,
        "sandbox = \"workspace-write\"\nnetwork = \"domains\"\nallowed_domains = []\n",
    );
    server.initialize(false);
    server.result(
        "account/login/start",
        json!({"type": "apiKey", "apiKey": fake.api_key()}),
    );
    let project = crate::support::dir_outside_the_sandbox().unwrap();
    let started = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "on-request"}),
    );
    let thread_id = started["thread"]["id"].as_str().unwrap().to_string();
    fake.push_responses([
        Reply::call_with_id(
            "c1",
            "shell",
            json!({"command": ["curl", "-sf", "http://kept.example/index"]}),
        ),
        Reply::text("It could not be reached."),
    ]);
    server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "fetch it"}]}),
    );
    let seen = server.until(|m| m["method"] == "item/commandExecution/requestApproval");
    assert!(
        seen.iter().any(|m| m["method"] == "item/started"
            && m["params"]["item"]["id"] == "c1"
            && m["params"]["item"]["type"] == "commandExecution"),
        "the command runs before it asks"
    );
    let request = seen.last().unwrap();
    let params = &request["params"];
    assert_eq!(params["itemId"], "c1");
    assert_eq!(params["command"], "network-access http://kept.example:80");
    assert_eq!(params["reason"], "kept.example is not on allowed_domains");
    assert_eq!(
        params["networkApprovalContext"],
        json!({"host": "kept.example", "protocol": "http"})
    );
    assert_eq!(
        params["proposedNetworkPolicyAmendments"],
        json!([
            {"host": "kept.example", "action": "allow"},
            {"host": "kept.example", "action": "deny"}
        ])
    );
    server.send_raw(
        &json!({"id": request["id"], "result": {"decision": {"applyNetworkPolicyAmendment": {
            "network_policy_amendment": {"host": "kept.example", "action": "allow"}
        }}}})
        .to_string(),
    );
    // Allowed, the name does not resolve here: the proxy's refusal offers a run outside the
    // sandbox, declined.
    let seen = server.until(|m| {
        m["method"] == "item/commandExecution/requestApproval" || m["method"] == "turn/completed"
    });
    let last = seen.last().unwrap();
    if last["method"] == "item/commandExecution/requestApproval" {
        assert!(
            last["params"].get("networkApprovalContext").is_none(),
            "{last}"
        );
        server.send_raw(&json!({"id": last["id"], "result": {"decision": "decline"}}).to_string());
        server.notification("turn/completed");
    }
    let rules =
        std::fs::read_to_string(server.home.path().join(".config/kelp/rules.toml")).unwrap();
    assert!(rules.contains("host = \"kept.example\""), "{rules}");
    let sent = fake.requests_to("/responses");
    let output = sent.last().unwrap().json()["input"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "function_call_output" && i["call_id"] == "c1")
        .map(|i| i["output"].as_str().unwrap().to_string())
        .unwrap();
    assert!(
        output.contains("kept.example could not be resolved"),
        "{output}"
    );

    // The rule to deny a host is kept too: the next command is refused it unasked.
    let output_of = |call: &str| {
        let sent = fake.requests_to("/responses");
        sent.last().unwrap().json()["input"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["type"] == "function_call_output" && i["call_id"] == call)
            .map(|i| i["output"].as_str().unwrap().to_string())
            .unwrap()
    };
    let curl = |call: &str| {
        Reply::call_with_id(
            call,
            "shell",
            json!({"command": ["curl", "-sf", "https://tracker.example/"]}),
        )
    };
    fake.push_responses([curl("c2"), curl("c3"), Reply::text("Refused.")]);
    server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "track it"}]}),
    );
    let seen = server.until(|m| m["method"] == "item/commandExecution/requestApproval");
    let request = seen.last().unwrap();
    assert_eq!(request["params"]["itemId"], "c2");
    server.send_raw(
        &json!({"id": request["id"], "result": {"decision": {"applyNetworkPolicyAmendment": {
            "network_policy_amendment": {"host": "tracker.example", "action": "deny"}
        }}}})
        .to_string(),
    );
    let seen = server.until(|m| m["method"] == "turn/completed");
    assert!(
        !seen
            .iter()
            .any(|m| m["method"] == "item/commandExecution/requestApproval"),
        "refused unasked, and no run outside the sandbox offered"
    );
    let rules =
        std::fs::read_to_string(server.home.path().join(".config/kelp/rules.toml")).unwrap();
    assert!(
        rules.contains("[[refuse]]") && rules.contains("host = \"tracker.example\""),
        "{rules}"
    );
    assert!(
        output_of("c3").contains(
            "tracker.example is not on allowed_domains, and the person did not allow it: it is refused in this project"
        ),
        "{}",
        output_of("c3")
    );
}

/// The text of each message a `thread/queue/list` page lists, in sending order.
fn queued_texts(listed: &Value) -> Vec<&str> {
    listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["input"][0]["text"].as_str().unwrap())
        .collect()
}

/// The input of each request the fake was sent, as text, oldest first.
fn prompts(fake: &FakeOpenAi) -> Vec<String> {
    fake.requests_to("/responses")
        .iter()
        .map(|r| r.json()["input"].to_string())
        .collect()
}

/// Messages queued from outside (Codex 0.171's experimental `thread/queue/*`): on an idle
/// thread one is sent at once; while a turn runs they wait and each goes as a turn of its own
/// when the one before ends; the host lists, edits, drops and reorders them; an interrupt holds
/// them until `thread/queue/start`; a client that did not ask for the experimental API is
/// refused as Codex refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_messages_wait_for_the_turn_and_go_one_turn_each() {
    let fake = FakeOpenAi::start().await;
    let (mut server, _project, thread_id) = Server::with_thread(&fake, "");
    let add = |text: &str, id: &str| json!({"threadId": thread_id, "input": [{"type": "text", "text": text}], "clientUserMessageId": id});
    let asked = prompts;

    // Idle: the message is its own turn at once.
    fake.push_response(Reply::text("one done"));
    let added = server.result("thread/queue/add", add("one", "m1"));
    assert_eq!(added["queuedSubmission"]["clientUserMessageId"], "m1");
    let seen = server.until(|m| m["method"] == "turn/completed");
    let said = seen
        .iter()
        .find(|m| m["method"] == "item/completed" && m["params"]["item"]["type"] == "userMessage")
        .expect("the queued message as the person's");
    assert_eq!(said["params"]["item"]["content"][0]["text"], "one");
    assert!(asked(&fake).last().unwrap().contains("one"));

    // Busy: they wait, in the order the host gives them, as the host edits them.
    fake.push_response(Reply::stall("Thinking about"));
    let turn = server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "go"}]}),
    );
    server.until(|m| m["method"] == "item/agentMessage/delta");
    let two = server.result("thread/queue/add", add("two", "m2"))["queuedSubmission"]["id"].clone();
    let three =
        server.result("thread/queue/add", add("three", "m3"))["queuedSubmission"]["id"].clone();
    server.result(
        "thread/queue/reorder",
        json!({"threadId": thread_id, "queuedSubmissionIds": [three, two]}),
    );
    let (refused, _) = server.call(
        "thread/queue/reorder",
        json!({"threadId": thread_id, "queuedSubmissionIds": [three]}),
    );
    assert_eq!(
        refused["error"]["message"],
        "queue reorder must include every queued submission exactly once"
    );
    let edited = server.result(
        "thread/queue/update",
        json!({"threadId": thread_id, "queuedSubmissionId": two, "input": [{"type": "text", "text": "two, edited"}]}),
    );
    assert_eq!(
        edited["queuedSubmission"]["input"][0]["text"],
        "two, edited"
    );
    let dropped = server.result(
        "thread/queue/delete",
        json!({"threadId": thread_id, "queuedSubmissionId": "never-queued"}),
    );
    assert_eq!(dropped, json!({"deleted": false}));
    let listed = server.result("thread/queue/list", json!({"threadId": thread_id}));
    assert_eq!(queued_texts(&listed), ["three", "two, edited"]);

    // An interrupt holds them.
    server.result(
        "turn/interrupt",
        json!({"threadId": thread_id, "turnId": turn["turn"]["id"]}),
    );
    let end = server.notification("turn/completed");
    assert_eq!(end["turn"]["status"], "interrupted");
    let listed = server.result("thread/queue/list", json!({"threadId": thread_id}));
    assert_eq!(listed["data"].as_array().unwrap().len(), 2, "{listed}");

    // Started again: each goes as a turn of its own, in order.
    fake.push_response(Reply::text("three done"));
    fake.push_response(Reply::text("two done"));
    let first = server.result("thread/queue/start", json!({"threadId": thread_id}));
    assert_eq!(first["turn"]["status"], "inProgress");
    let ended = server.notification("turn/completed");
    assert_eq!(ended["turn"]["id"], first["turn"]["id"]);
    let next = server.notification("turn/started");
    assert_ne!(next["turn"]["id"], first["turn"]["id"]);
    let ended = server.notification("turn/completed");
    assert_eq!(ended["turn"]["id"], next["turn"]["id"]);
    let prompts = asked(&fake);
    assert!(prompts[prompts.len() - 2].contains("three"), "{prompts:?}");
    assert!(
        prompts[prompts.len() - 1].contains("two, edited"),
        "{prompts:?}"
    );
    let (empty, _) = server.call("thread/queue/start", json!({"threadId": thread_id}));
    assert_eq!(empty["error"]["message"], "queue is empty");

    // An interrupt with nothing waiting holds nothing: the next message goes at once.
    fake.push_response(Reply::stall("Thinking about"));
    let turn = server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "again"}]}),
    );
    server.until(|m| m["method"] == "item/agentMessage/delta");
    server.result(
        "turn/interrupt",
        json!({"threadId": thread_id, "turnId": turn["turn"]["id"]}),
    );
    server.notification("turn/completed");
    fake.push_response(Reply::text("after the stop, done"));
    server.result("thread/queue/add", add("after the stop", "m4"));
    let ran = server.until(|m| m["method"] == "turn/completed");
    assert!(
        ran.iter().any(|m| m["method"] == "turn/started"),
        "sent at once: {ran:#?}"
    );
    assert!(asked(&fake).last().unwrap().contains("after the stop"));

    // Only for a client that asked for the experimental API.
    let mut plain = Server::start(&fake);
    plain.initialize(false);
    let (refused, _) = plain.call("thread/queue/list", json!({"threadId": thread_id}));
    assert_eq!(
        refused["error"]["message"],
        "thread/queue/list requires experimentalApi capability"
    );
}

/// What waits in a thread's queue outlives the server, as Codex's queue lives in its state
/// database: kept on disk as it changes, held when the thread opens again (the turn it waited
/// for was cut), sent in order once started, and the file gone once the queue is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_messages_outlive_a_server_that_stops() {
    let fake = FakeOpenAi::start().await;
    let (mut server, _project, thread_id) = Server::with_thread(&fake, "");
    let add = |text: &str, id: &str| json!({"threadId": thread_id, "input": [{"type": "text", "text": text}], "clientUserMessageId": id});
    fake.push_response(Reply::stall("Thinking about"));
    server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "go"}]}),
    );
    server.until(|m| m["method"] == "item/agentMessage/delta");
    server.result("thread/queue/add", add("two", "m2"));
    server.result("thread/queue/add", add("three", "m3"));
    let kept = server
        .home
        .path()
        .join(".local/state/kelp/queues")
        .join(format!("{}.json", thread_id.as_str().unwrap()));
    let deadline = Instant::now() + WAIT;
    while !std::fs::read_to_string(&kept).is_ok_and(|text| text.contains("three")) {
        assert!(Instant::now() < deadline, "the queue is kept on disk");
        std::thread::sleep(Duration::from_millis(10));
    }

    let mut server = server.restarted(&fake);
    server.initialize(true);
    server.result("thread/resume", json!({"threadId": thread_id}));
    let listed = server.result("thread/queue/list", json!({"threadId": thread_id}));
    assert_eq!(queued_texts(&listed), ["two", "three"], "{listed}");
    assert_eq!(listed["data"][0]["clientUserMessageId"], "m2");

    // Held until started; then each goes as a turn of its own, in order.
    fake.push_responses([Reply::text("two done"), Reply::text("three done")]);
    server.result("thread/queue/start", json!({"threadId": thread_id}));
    server.notification("turn/completed");
    server.notification("turn/completed");
    let prompts = prompts(&fake);
    assert!(prompts[prompts.len() - 2].contains("two"), "{prompts:?}");
    assert!(prompts[prompts.len() - 1].contains("three"), "{prompts:?}");
    let deadline = Instant::now() + WAIT;
    while kept.exists() {
        assert!(Instant::now() < deadline, "an empty queue leaves no file");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What the model types into a background terminal is said of the command's item, as Codex
/// says it: `item/commandExecution/terminalInteraction` with the command's item and session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_into_a_background_terminal_is_a_terminal_interaction_of_its_command() {
    let fake = FakeOpenAi::start().await;
    let (mut server, _project, thread_id) = Server::with_thread(&fake, "");
    fake.push_responses([
        Reply::call_with_id(
            "e1",
            "exec_command",
            json!({"cmd": "cat", "tty": true, "yield_time_ms": 300}),
        ),
        Reply::call_with_id(
            "w1",
            "write_stdin",
            json!({"session_id": 1, "chars": "hello\n", "yield_time_ms": 300}),
        ),
        Reply::text("typed"),
    ]);
    server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "type into cat"}]}),
    );
    let seen = server.until(|m| m["method"] == "turn/completed");
    let typed: Vec<&Value> = seen
        .iter()
        .filter(|m| m["method"] == "item/commandExecution/terminalInteraction")
        .collect();
    assert_eq!(typed.len(), 1, "{seen:#?}");
    assert_eq!(
        typed[0]["params"],
        json!({"threadId": thread_id, "turnId": typed[0]["params"]["turnId"],
               "itemId": "e1", "processId": "1", "stdin": "hello\n"})
    );
    assert!(
        !seen
            .iter()
            .any(|m| m["method"] == "item/started" && m["params"]["item"]["id"] == "w1"),
        "typing is no item of its own"
    );
    let answer = fake.requests_to("/responses").last().unwrap().body.clone();
    assert!(answer.contains("hello"), "cat echoed it: {answer}");
}

/// A command the model left running is the thread's background terminal: listed in Codex
/// 0.171's shape with its process, ended by `terminate` (its process gone), the rest by
/// `clean`; for a client that did not ask for the experimental API too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threads_background_terminals_are_listed_terminated_and_cleaned() {
    let fake = FakeOpenAi::start().await;
    let (mut server, _project, thread_id) = Server::with_thread(&fake, "");
    fake.push_responses([
        Reply::call_with_id(
            "e1",
            "exec_command",
            json!({"cmd": "echo up; exec sleep 60.9101", "yield_time_ms": 300}),
        )
        .and_call_with_id(
            "e2",
            "exec_command",
            json!({"cmd": "exec sleep 60.9102", "yield_time_ms": 250}),
        ),
        Reply::text("both running"),
    ]);
    server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "start two"}]}),
    );
    server.until(|m| m["method"] == "turn/completed");
    let listed = server.result(
        "thread/backgroundTerminals/list",
        json!({"threadId": thread_id}),
    );
    let data = listed["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{listed}");
    assert_eq!(data[0]["itemId"], "e1");
    assert!(
        data[0]["command"]
            .as_str()
            .unwrap()
            .contains("sleep 60.9101")
    );
    let pid = data[0]["osPid"].as_u64().unwrap();
    assert!(crate::agent_loop::alive(i32::try_from(pid).unwrap()));
    let first = crate::agent_loop::pids_with_argument("60.9101");
    let terminated = server.result(
        "thread/backgroundTerminals/terminate",
        json!({"threadId": thread_id, "processId": data[0]["processId"]}),
    );
    assert_eq!(terminated, json!({"terminated": true}));
    for _ in 0..100 {
        if first.iter().all(|pid| !crate::agent_loop::alive(*pid)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(first.iter().all(|pid| !crate::agent_loop::alive(*pid)));
    let again = server.result(
        "thread/backgroundTerminals/terminate",
        json!({"threadId": thread_id, "processId": data[0]["processId"]}),
    );
    assert_eq!(again, json!({"terminated": false}));
    server.result(
        "thread/backgroundTerminals/clean",
        json!({"threadId": thread_id}),
    );
    let listed = server.result(
        "thread/backgroundTerminals/list",
        json!({"threadId": thread_id}),
    );
    assert_eq!(listed["data"], json!([]));

    // Hosts send it without asking for the experimental API: they are answered too.
    let mut plain = Server::start(&fake);
    plain.initialize(false);
    plain.result(
        "account/login/start",
        json!({"type": "apiKey", "apiKey": fake.api_key()}),
    );
    let project = tempfile::tempdir().unwrap();
    let started = plain.result("thread/start", json!({"cwd": project.path()}));
    let listed = plain.result(
        "thread/backgroundTerminals/list",
        json!({"threadId": started["thread"]["id"]}),
    );
    assert_eq!(listed["data"], json!([]));
}

/// `view_image` reaches a host as Codex's `imageView` item, naming the file by its full path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewed_image_is_an_image_view_item() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project, thread_id) = Server::with_thread(&fake, "");
    std::fs::write(
        project.path().join("plot.png"),
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
    )
    .unwrap();
    fake.push_responses([
        Reply::call_with_id("v1", "view_image", json!({"path": "plot.png"})),
        Reply::text("A plot."),
    ]);
    server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "look"}]}),
    );
    let seen = server.until(|m| m["method"] == "turn/completed");
    let viewed: Vec<&Value> = seen
        .iter()
        .filter(|m| m["params"]["item"]["type"] == "imageView")
        .collect();
    let methods: Vec<&str> = viewed
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["item/started", "item/completed"], "{seen:#?}");
    let path = project.path().join("plot.png");
    assert_eq!(
        viewed[1]["params"]["item"]["path"],
        path.display().to_string()
    );
}
