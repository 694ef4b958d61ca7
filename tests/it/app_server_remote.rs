//! `kelp app-server --listen unix://… | ws://…`, the real binary, its clients over WebSocket
//! (every message checked against Codex 0.169's schema, as over pipes): what the listener
//! answers before any JSON-RPC, the socket's privacy, clients sharing a thread, a turn that
//! outlives its client, and `kelp app-server proxy`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::app_server::Server;
use crate::fake_openai::{FakeOpenAi, Reply};

const TOKEN: &str = "kelp-test-capability-token-0123456789";

/// `kelp app-server --listen …` with `args`, and where it said it listens.
struct Listening {
    child: Child,
    address: String,
    /// What it said on stderr as it started.
    said: String,
    home: tempfile::TempDir,
    runtime: tempfile::TempDir,
}

impl Listening {
    fn start(fake: &FakeOpenAi, args: &[&str]) -> Self {
        Self::start_configured(fake, args, "")
    }

    /// [`Listening::start`] with `config` as the person's `config.toml` (when not empty).
    fn start_configured(fake: &FakeOpenAi, args: &[&str], config: &str) -> Self {
        let home = tempfile::tempdir().unwrap();
        let runtime = tempfile::tempdir().unwrap();
        if !config.is_empty() {
            let dir = home.path().join(".config/kelp");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("config.toml"), config).unwrap();
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_kelp"))
            .arg("app-server")
            .args(args)
            .env_clear()
            .env("HOME", home.path())
            .env("XDG_RUNTIME_DIR", runtime.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "kelp=debug")
            .envs(fake.env())
            .current_dir(home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut said = String::new();
        let mut address = None;
        // Where it listens, and for a port what to probe it with and how to get in.
        while !said.contains("readyz:") && !said.contains("listening on: unix://") {
            let mut line = String::new();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "it says where it listens: {said}"
            );
            said.push_str(&line);
            if let Some(found) = line.trim().strip_prefix("listening on: ") {
                address = Some(found.to_string());
            }
        }
        let address = address.unwrap();
        assert!(said.starts_with("kelp app-server (WebSockets)\n"), "{said}");
        // The rest of what it says is drained, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        });
        Self {
            child,
            address,
            said,
            home,
            runtime,
        }
    }

    fn port(&self) -> u16 {
        self.address.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// A client over WebSocket with `headers`: its messages checked, or the HTTP status that
    /// refused it, with the body.
    fn client(&self, headers: &[(&str, &str)]) -> Result<Server, (u16, String)> {
        connect(&self.address, headers)
    }

    /// A client that signs in with the fake's API key.
    fn signed_in(&self, fake: &FakeOpenAi, headers: &[(&str, &str)]) -> Server {
        let mut client = self.client(headers).expect("a client connects");
        client.initialize(false);
        client.result(
            "account/login/start",
            json!({"type": "apiKey", "apiKey": fake.api_key()}),
        );
        client
    }

    /// Stops it as a service manager does (SIGTERM), and waits.
    fn stop(mut self) -> std::process::ExitStatus {
        // SAFETY: kill on a child of ours that has not been waited for.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().unwrap()
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects to `address` (`ws://…` or `unix://PATH`) on a thread of its own: the client's lines
/// go out as text frames, and the frames that come are its lines.
fn connect(address: &str, headers: &[(&str, &str)]) -> Result<Server, (u16, String)> {
    let (request_url, unix) = match address.strip_prefix("unix://") {
        Some(path) => ("ws://localhost/".to_string(), Some(PathBuf::from(path))),
        None => (address.to_string(), None),
    };
    let mut request = request_url.into_client_request().unwrap();
    for (name, value) in headers {
        let name =
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap();
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    let (input, mut outgoing) = tokio::sync::mpsc::unbounded_channel::<String>();
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let (opened_tx, opened) = std::sync::mpsc::channel::<Result<(), (u16, String)>>();
    let tcp = address.strip_prefix("ws://").map(str::to_string);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            use tokio_tungstenite::tungstenite::Error;
            let handshake = match (unix, tcp) {
                (Some(path), _) => {
                    let stream = tokio::net::UnixStream::connect(path).await.unwrap();
                    tokio_tungstenite::client_async(request, stream)
                        .await
                        .map(|(socket, _)| socket.split())
                        .map(|(sink, stream)| (sink.left_sink(), stream.left_stream()))
                }
                (None, Some(host)) => {
                    let stream = tokio::net::TcpStream::connect(host.trim_end_matches('/'))
                        .await
                        .unwrap();
                    tokio_tungstenite::client_async(request, stream)
                        .await
                        .map(|(socket, _)| socket.split())
                        .map(|(sink, stream)| (sink.right_sink(), stream.right_stream()))
                }
                (None, None) => unreachable!(),
            };
            let (mut sink, mut frames) = match handshake {
                Ok(split) => split,
                Err(Error::Http(response)) => {
                    let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or(&[]))
                        .into_owned();
                    let _ = opened_tx.send(Err((response.status().as_u16(), body)));
                    return;
                }
                Err(e) => panic!("the WebSocket handshake failed: {e}"),
            };
            let _ = opened_tx.send(Ok(()));
            loop {
                tokio::select! {
                    line = outgoing.recv() => match line {
                        Some(line) => sink.send(Message::text(line)).await.unwrap(),
                        // The test dropped the client: the connection goes, as a killed one.
                        None => return,
                    },
                    frame = frames.next() => match frame {
                        Some(Ok(Message::Text(text))) => {
                            if lines_tx.send(text.as_str().to_string()).is_err() {
                                return;
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => return,
                    },
                }
            }
        });
    });
    opened
        .recv_timeout(Duration::from_secs(10))
        .expect("the handshake ends")?;
    Ok(Server::client(input, lines.into_iter()))
}

/// A plain HTTP/1.1 request to `port` with `extra` header lines: the status and body.
fn http_get(port: u16, path: &str, extra: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

fn token_file(dir: &Path) -> PathBuf {
    let file = dir.join("token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_listener_answers_as_codex_and_lets_in_only_the_token() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(dir.path());
    let server = Listening::start(
        &fake,
        &[
            "--listen",
            "ws://127.0.0.1:0",
            "--ws-auth",
            "capability-token",
            "--ws-token-file",
            file.to_str().unwrap(),
        ],
    );
    let port = server.port();
    assert_eq!(http_get(port, "/readyz", ""), (200, String::new()));
    assert_eq!(http_get(port, "/healthz", ""), (200, String::new()));
    assert_eq!(
        http_get(port, "/", ""),
        (400, "Connection header did not include 'upgrade'".into())
    );
    // A web page (its request carries Origin) reaches nothing, not even the probes.
    let page = "Origin: http://attacker.example\r\n";
    assert_eq!(http_get(port, "/readyz", page), (403, String::new()));

    // Before any JSON-RPC: no token, a wrong one, or a web page's Origin are refused.
    let refused = |status: u16, body: &str| Some((status, body.to_string()));
    assert_eq!(
        server.client(&[]).err(),
        refused(401, "missing websocket bearer token")
    );
    let wrong = format!("Bearer {TOKEN}x");
    assert_eq!(
        server.client(&[("Authorization", &wrong)]).err(),
        refused(401, "invalid websocket bearer token")
    );
    assert_eq!(
        server.client(&[("Authorization", "Basic a2VscA==")]).err(),
        refused(401, "invalid authorization header")
    );
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(
        server
            .client(&[
                ("Authorization", &bearer),
                ("Origin", "http://attacker.example")
            ])
            .err(),
        refused(403, "")
    );

    // The token's holder is a client as over stdio: a turn answers.
    let mut client = server.signed_in(&fake, &[("Authorization", &bearer)]);
    let project = tempfile::tempdir().unwrap();
    let started = client.result("thread/start", json!({"cwd": project.path()}));
    let thread_id = started["thread"]["id"].clone();
    fake.push_responses([Reply::text("Hello over the socket.")]);
    let seen = client.turn(&thread_id, "hi");
    assert!(
        seen.iter().any(|m| m["method"] == "item/completed"
            && m["params"]["item"]["text"] == "Hello over the socket."),
        "{seen:#?}"
    );
    // A second connection initializes on its own.
    let mut second = server.client(&[("Authorization", &bearer)]).unwrap();
    let (early, _) = second.call("account/read", json!({}));
    assert_eq!(early["error"]["message"], "Not initialized");
    second.initialize(false);
    drop((client, second));
    assert_eq!(server.stop().code(), Some(128 + libc::SIGTERM));
}

#[test]
fn a_listener_beyond_loopback_needs_a_token_and_bad_addresses_are_named() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kelp"))
            .arg("app-server")
            .args(args)
            .env("HOME", tempfile::tempdir().unwrap().path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let open = run(&["--listen", "ws://0.0.0.0:0"]);
    assert!(!open.status.success());
    let said = String::from_utf8_lossy(&open.stderr);
    assert!(said.contains("needs --ws-auth capability-token"), "{said}");
    assert_eq!(said.lines().count(), 1, "{said}");

    let bad = run(&["--listen", "tcp://127.0.0.1:1"]);
    assert_eq!(bad.status.code(), Some(2));
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(
        said.contains("kelp serves stdio://, unix://[PATH] or ws://HOST:PORT"),
        "{said}"
    );
    let no_token = run(&[
        "--listen",
        "ws://127.0.0.1:0",
        "--ws-auth",
        "capability-token",
    ]);
    assert_eq!(no_token.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&no_token.stderr).contains("--ws-token-file"),
        "{no_token:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_share_a_thread_and_its_turn_outlives_the_client_that_started_it() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("kelp.sock");
    let server = Listening::start(&fake, &["--listen", &format!("unix://{}", link.display())]);
    assert_eq!(server.address, format!("unix://{}", link.display()));
    // The link leads to a socket only its owner may use, in a folder only its owner may enter.
    let target = std::fs::read_link(&link).expect("the path is a link");
    let socket = std::fs::metadata(&target).unwrap();
    assert!(socket.file_type().is_socket());
    assert_eq!(socket.mode() & 0o777, 0o600);
    assert!(target.starts_with(server.runtime.path().join("kelp")));
    let folder = std::fs::metadata(target.parent().unwrap()).unwrap();
    assert_eq!(folder.mode() & 0o777, 0o700);

    let project = tempfile::tempdir().unwrap();
    let mut first = server.signed_in(&fake, &[]);
    let started = first.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "untrusted"}),
    );
    let thread_id = started["thread"]["id"].clone();
    let mut second = server.signed_in(&fake, &[]);
    second.result("thread/resume", json!({"threadId": thread_id}));
    // A client on no thread hears every thread's status, as in Codex, and nothing of its turns.
    let watcher = server.signed_in(&fake, &[]);

    // The second client's turn: both see it and are asked, as in Codex; the first answer
    // decides.
    fake.push_responses([
        Reply::call_with_id("c1", "shell", json!({"command": "touch asked.txt"})),
        Reply::text("Made it."),
    ]);
    second.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "make it"}]}),
    );
    let asked = second.until(|m| m["method"] == "item/commandExecution/requestApproval");
    let request = asked.last().unwrap().clone();
    let mut seen_by_first = first.until(|m| m["method"] == "item/commandExecution/requestApproval");
    assert_eq!(seen_by_first.last().unwrap()["id"], request["id"]);
    first.send_raw(&json!({"id": request["id"], "result": {"decision": "accept"}}).to_string());
    let mut seen_by_second = asked.clone();
    seen_by_second.extend(second.until(|m| m["method"] == "serverRequest/resolved"));
    // Too late: the first answer decided.
    second.send_raw(&json!({"id": request["id"], "result": {"decision": "decline"}}).to_string());
    seen_by_second.extend(second.until(|m| m["method"] == "turn/completed"));
    seen_by_first.extend(first.until(|m| m["method"] == "turn/completed"));
    for seen in [&seen_by_first, &seen_by_second] {
        assert!(
            seen.iter().any(|m| m["method"] == "turn/started"),
            "{seen:#?}"
        );
        assert!(
            seen.iter()
                .any(|m| m["method"] == "item/completed"
                    && m["params"]["item"]["text"] == "Made it."),
            "{seen:#?}"
        );
    }
    for seen in [&seen_by_first, &seen_by_second] {
        assert!(
            seen.iter().any(|m| m["method"] == "serverRequest/resolved"
                && m["params"]["requestId"] == request["id"]),
            "{seen:#?}"
        );
    }
    assert!(project.path().join("asked.txt").exists());
    let watched = watcher.until(|m| {
        m["method"] == "thread/status/changed" && m["params"]["status"]["type"] == "idle"
    });
    assert!(
        watched
            .iter()
            .any(|m| m["method"] == "thread/status/changed"
                && m["params"]["threadId"] == thread_id
                && m["params"]["status"]["type"] == "active"),
        "{watched:#?}"
    );
    assert!(
        !watched
            .iter()
            .any(|m| m["method"] == "turn/started" || m["method"] == "item/started"),
        "{watched:#?}"
    );
    drop(watcher);

    // A question nobody is there to answer waits for a client that resumes the thread: it is
    // put to that client again, under the same id.
    fake.push_responses([
        Reply::call_with_id("c3", "shell", json!({"command": "touch later.txt"})),
        Reply::text("Made it later."),
    ]);
    second.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "later"}]}),
    );
    let asked = second.until(|m| m["method"] == "item/commandExecution/requestApproval");
    let request_id = asked.last().unwrap()["id"].clone();
    first.until(|m| m["method"] == "item/commandExecution/requestApproval");
    drop((first, second));
    let mut back = server.signed_in(&fake, &[]);
    let (resumed, _) = back.call("thread/resume", json!({"threadId": thread_id}));
    assert!(resumed.get("error").is_none(), "{resumed}");
    let again = back.until(|m| m["method"] == "item/commandExecution/requestApproval");
    assert_eq!(again.last().unwrap()["id"], request_id);
    back.send_raw(&json!({"id": request_id, "result": {"decision": "accept"}}).to_string());
    back.until(|m| m["method"] == "turn/completed");
    assert!(project.path().join("later.txt").exists());
    let mut first = back;

    // The first client starts a long turn and goes away in the middle of it.
    fake.push_responses([
        Reply::call_with_id(
            "c2",
            "shell",
            json!({"command": "sleep 2; touch waited.txt"}),
        ),
        Reply::text("Waited."),
    ]);
    first.result(
        "turn/start",
        json!({"threadId": thread_id, "approvalPolicy": "never",
               "input": [{"type": "text", "text": "wait"}]}),
    );
    first.until(|m| {
        m["method"] == "item/started" && m["params"]["item"]["type"] == "commandExecution"
    });
    drop(first);
    // A new client resumes the thread while the turn runs, and sees it end live.
    let mut third = server.signed_in(&fake, &[]);
    let resumed = third.result("thread/resume", json!({"threadId": thread_id}));
    assert_eq!(resumed["thread"]["id"], thread_id);
    assert_eq!(
        resumed["thread"]["status"]["type"], "active",
        "the turn runs on: {resumed}"
    );
    let seen = third.until(|m| m["method"] == "turn/completed");
    assert_eq!(
        seen.last().unwrap()["params"]["turn"]["status"],
        "completed"
    );
    assert!(
        seen.iter()
            .any(|m| m["method"] == "item/completed" && m["params"]["item"]["text"] == "Waited."),
        "{seen:#?}"
    );
    assert!(project.path().join("waited.txt").exists());
    // It is saved: a read gives both turns.
    let read = third.result(
        "thread/read",
        json!({"threadId": thread_id, "includeTurns": true}),
    );
    assert_eq!(
        read["thread"]["turns"].as_array().unwrap().len(),
        3,
        "{read}"
    );

    // The last client to unsubscribe leaves the thread loaded for a while (Codex's 60 s), so
    // a client that comes back finds it as it was; nobody is told it closed.
    let left = third.result("thread/unsubscribe", json!({"threadId": thread_id}));
    assert_eq!(left["status"], "unsubscribed");
    let loaded = third.result("thread/loaded/list", json!({}));
    assert_eq!(loaded["data"], json!([thread_id]), "{loaded}");
    let again = third.result("thread/unsubscribe", json!({"threadId": thread_id}));
    assert_eq!(again["status"], "notSubscribed");

    // Stopped, it takes its socket and link with it.
    drop(third);
    assert!(!server.stop().success());
    assert!(!link.exists() && std::fs::symlink_metadata(&link).is_err());
    assert!(!target.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_carries_a_hosts_lines_to_the_socket_and_back() {
    let fake = FakeOpenAi::start().await;
    let server = Listening::start(&fake, &["--listen", "unix://"]);
    let socket = server.runtime.path().join("kelp/app-server.sock");
    assert_eq!(server.address, format!("unix://{}", socket.display()));
    // A second server on the same socket is refused, in a line.
    let again = Command::new(env!("CARGO_BIN_EXE_kelp"))
        .args(["app-server", "--listen", "unix://"])
        .env("HOME", server.home.path())
        .env("XDG_RUNTIME_DIR", server.runtime.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already listens there"),
        "{again:?}"
    );

    let mut proxy = Command::new(env!("CARGO_BIN_EXE_kelp"))
        .args(["app-server", "proxy"])
        .env("HOME", server.home.path())
        .env("XDG_RUNTIME_DIR", server.runtime.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = proxy.stdin.take().unwrap();
    let mut stdout = BufReader::new(proxy.stdout.take().unwrap());
    writeln!(
        stdin,
        r#"{{"id":1,"method":"initialize","params":{{"clientInfo":{{"name":"host","version":"1"}}}}}}"#
    )
    .unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let answer: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(answer["id"], 1);
    assert!(
        answer["result"]["userAgent"]
            .as_str()
            .unwrap()
            .contains("(host; 1)"),
        "{answer}"
    );
    // The host closes its input: the proxy ends.
    drop(stdin);
    assert!(proxy.wait().unwrap().success());

    // A host that speaks WebSocket itself, as Codex's proxy carries it: the bytes go as they
    // are, the upgrade and the frames alike.
    let mut proxy = tokio::process::Command::new(env!("CARGO_BIN_EXE_kelp"))
        .args(["app-server", "proxy", "--sock"])
        .arg(&socket)
        .env("HOME", server.home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdio = tokio::io::join(proxy.stdout.take().unwrap(), proxy.stdin.take().unwrap());
    let (mut socket, _) = tokio_tungstenite::client_async("ws://localhost/rpc", stdio)
        .await
        .expect("the upgrade crosses the proxy");
    socket
        .send(Message::text(
            r#"{"id":"initialize","method":"initialize","params":{"clientInfo":{"name":"codex-tui","version":"0.169.0"}}}"#,
        ))
        .await
        .unwrap();
    let answer = loop {
        match socket.next().await.unwrap().unwrap() {
            Message::Text(text) => break serde_json::from_str::<Value>(text.as_str()).unwrap(),
            _ => continue,
        }
    };
    assert_eq!(answer["id"], "initialize");
    assert!(answer["result"]["codexHome"].is_string(), "{answer}");
    socket.close(None).await.unwrap();
    drop(socket);
    let ended = tokio::time::timeout(Duration::from_secs(10), proxy.wait())
        .await
        .expect("the proxy ends with the connection");
    assert!(ended.unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_given_no_token_gets_one_only_its_owner_can_read() {
    use std::os::unix::fs::MetadataExt;
    let fake = FakeOpenAi::start().await;
    let server = Listening::start(&fake, &["--listen", "ws://127.0.0.1:0"]);
    let file = server
        .runtime
        .path()
        .join(format!("kelp/app-server-ws-{}.token", server.port()));
    assert!(
        server.said.contains(&file.display().to_string()),
        "{}",
        server.said
    );
    assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
    let token = std::fs::read_to_string(&file).unwrap();
    assert!(
        !server.said.contains(token.trim()),
        "the token itself is never said"
    );
    assert_eq!(
        server.client(&[]).err(),
        Some((401, "missing websocket bearer token".to_string()))
    );
    let bearer = format!("Bearer {}", token.trim());
    let mut client = server
        .client(&[("Authorization", &bearer)])
        .expect("the token's reader gets in");
    client.initialize(false);
    drop(client);
    server.stop();
    assert!(!file.exists(), "the token goes with the listener");
}

/// A process that opens connection after connection is turned away past 64 clients, in words,
/// and a client gets in again once one has left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_past_the_cap_are_turned_away_until_one_leaves() {
    let fake = FakeOpenAi::start().await;
    let server = Listening::start(&fake, &["--listen", "unix://"]);
    let mut clients: Vec<Server> = (0..64)
        .map(|n| {
            server
                .client(&[])
                .unwrap_or_else(|e| panic!("client {n}: {e:?}"))
        })
        .collect();
    let Err((code, said)) = server.client(&[]) else {
        panic!("a 65th client got in");
    };
    assert_eq!(code, 503);
    assert_eq!(
        said,
        "too many clients are connected: try again when one has left\n"
    );
    // The server still serves the clients it has.
    clients[0].initialize(false);
    drop(clients.pop());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let again = loop {
        match server.client(&[]) {
            Ok(client) => break client,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("no place once a client left: {e:?}"),
        }
    };
    drop((again, clients));
}

/// `kelp --remote ADDR` with `args`, in an 80×24 SSH window working in `project`.
fn remote_client(address: &str, home: &Path, project: &Path, args: &[&str]) -> crate::pty::Pty {
    remote_client_with(address, home, project, args, &[])
}

fn remote_client_with(
    address: &str,
    home: &Path,
    project: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> crate::pty::Pty {
    let mut all = vec!["--remote", address];
    all.extend_from_slice(args);
    let mut env = env.to_vec();
    env.push(("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22"));
    crate::pty::Pty::spawn_in(
        Path::new(env!("CARGO_BIN_EXE_kelp")),
        &all,
        home,
        project,
        &env,
        80,
        24,
    )
}

const WAIT: Duration = Duration::from_secs(20);

/// A server on a unix socket, signed in to the fake, with a project and a home for a client.
fn signed_in_on_a_unix_socket(
    fake: &FakeOpenAi,
) -> (Listening, tempfile::TempDir, tempfile::TempDir) {
    let server = Listening::start(fake, &["--listen", "unix://"]);
    drop(server.signed_in(fake, &[]));
    (
        server,
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    )
}

/// The client on a server over its unix socket: a turn with an approval runs there, in the
/// client's folder; a client killed while the server waits on its approval leaves the turn
/// running, and the next one (`--continue`) is asked again and sees the turn end; leaving names
/// the way back through the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_on_a_server_runs_turns_there_and_comes_back_to_one_its_terminal_left() {
    let fake = FakeOpenAi::start().await;
    let (server, project, home) = signed_in_on_a_unix_socket(&fake);
    fake.push_responses([
        Reply::call_with_id("c1", "shell", json!({"command": "touch remote.txt"})),
        Reply::text("Made it on the server."),
    ]);
    // The person's own custom prompts are the client's to find, as a local client's are.
    let prompts = home.path().join(".config/kelp/prompts");
    std::fs::create_dir_all(&prompts).unwrap();
    std::fs::write(
        prompts.join("explain.md"),
        "---\ndescription: Explain a file briefly\n---\nExplain $1.\n",
    )
    .unwrap();
    let mut client = remote_client(
        &server.address,
        home.path(),
        project.path(),
        &["-a", "untrusted"],
    );
    client.wait_for("Connected: API key kept by the server.", WAIT);
    client.send("/exp");
    client.wait_for("Explain a file briefly", WAIT);
    client.send("\x15");
    client.send("make it\r");
    client.wait_for("Allow it?", WAIT);
    assert!(!project.path().join("remote.txt").exists());
    // Keys in an approval's first moment are not taken as its answer.
    std::thread::sleep(Duration::from_millis(600));
    client.send("y");
    let screen = client.wait_for("Made it on the server.", WAIT);
    assert!(screen.contains("• Ran shell touch remote.txt"), "{screen}");
    assert!(project.path().join("remote.txt").exists());
    client.send("/status\r");
    let screen = client.wait_for("Sandbox:   as the app-server runs its commands", WAIT);
    assert!(screen.contains("• Server:    unix:///"), "{screen}");
    assert!(
        screen.contains("Login:     API key kept by the server"),
        "{screen}"
    );
    assert!(!screen.contains("sk-test"), "no key on screen: {screen}");
    assert!(
        screen.contains("AGENTS.md: as the app-server reads them"),
        "{screen}"
    );

    // Killed while the server waits on its approval: the turn stays there.
    fake.push_responses([
        Reply::call_with_id("c2", "shell", json!({"command": "touch later.txt"})),
        Reply::text("Made it later."),
    ]);
    client.send("again\r");
    client.wait_for("touch later.txt", WAIT);
    client.wait_for("Allow it?", WAIT);
    drop(client);
    let mut back = remote_client(
        &server.address,
        home.path(),
        project.path(),
        &["--continue"],
    );
    back.wait_for("Resumed the saved conversation.", WAIT);
    back.wait_for("Allow it?", WAIT);
    std::thread::sleep(Duration::from_millis(600));
    back.send("y");
    let screen = back.wait_for("Made it later.", WAIT);
    assert!(screen.contains("• Ran shell touch later.txt"), "{screen}");
    assert!(project.path().join("later.txt").exists());
    back.send("/quit\r");
    assert!(back.wait_exit(WAIT));
    let said = String::from_utf8_lossy(&back.output()).into_owned();
    assert!(
        said.contains(&format!(
            "To continue it: kelp --remote {} resume ",
            server.address
        )),
        "{said}"
    );
}

/// Over a port, the token goes as a bearer token: the wrong one is said as refused (401), the
/// right one connects; a token never goes in clear to another machine, and an address kelp
/// cannot reach is said in one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_sends_its_token_only_where_it_stays_private() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(dir.path());
    let server = Listening::start(
        &fake,
        &[
            "--listen",
            "ws://127.0.0.1:0",
            "--ws-auth",
            "capability-token",
            "--ws-token-file",
            file.to_str().unwrap(),
        ],
    );
    drop(server.signed_in(&fake, &[("Authorization", &format!("Bearer {TOKEN}"))]));
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let with_token = ["--remote-auth-token-env", "KELP_TEST_TOKEN"];
    let wrong = remote_client_with(
        &server.address,
        home.path(),
        project.path(),
        &with_token,
        &[("KELP_TEST_TOKEN", "not-the-token")],
    );
    let screen = wrong.wait_for("refused the token (401)", WAIT);
    assert!(!screen.contains("not-the-token"), "{screen}");
    drop(wrong);
    fake.push_responses([Reply::text("Hello through the port.")]);
    let mut right = remote_client_with(
        &server.address,
        home.path(),
        project.path(),
        &with_token,
        &[("KELP_TEST_TOKEN", TOKEN)],
    );
    right.wait_for("Connected: API key kept by the server.", WAIT);
    right.send("hello\r");
    right.wait_for("Hello through the port.", WAIT);
    drop(right);

    let refused = |args: &[&str], env: &[(&str, &str)]| {
        let output = Command::new(env!("CARGO_BIN_EXE_kelp"))
            .args(args)
            .env_clear()
            .env("HOME", home.path())
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2));
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let said = refused(
        &[
            "--remote",
            "ws://192.0.2.7:4500",
            "--remote-auth-token-env",
            "T",
        ],
        &[("T", TOKEN)],
    );
    assert!(said.contains("would cross the network in clear"), "{said}");
    assert!(!said.contains(TOKEN));
    let said = refused(
        &[
            "--remote",
            "ws://127.0.0.1:1",
            "--remote-auth-token-env",
            "T",
        ],
        &[],
    );
    assert!(
        said.contains("--remote-auth-token-env T: the variable is not set"),
        "{said}"
    );
    let said = refused(&["--remote", "http://127.0.0.1:1"], &[]);
    assert!(
        said.contains("give unix:///PATH or ws://HOST:PORT"),
        "{said}"
    );
    let said = refused(&["--remote", "unix:///tmp/x.sock", "exec", "hi"], &[]);
    assert!(said.contains("give no other command with it"), "{said}");
}

/// Ends the processes whose command line names `needle` (a per-user server a test started,
/// which outlives its client by design).
fn end_processes_naming(needle: &str) -> usize {
    let mut ended = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(line) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&line).contains(needle) {
            // SAFETY: kill on a process of this test's own making.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            ended += 1;
        }
    }
    ended
}

/// A person's machine for the per-user server: a home, a runtime folder where the server's
/// socket goes, a project, and the fake's variables with an API key; the server a client
/// starts there is ended with it, however the test ends (it outlives its clients by design).
struct PerUser {
    home: tempfile::TempDir,
    runtime: tempfile::TempDir,
    project: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
}

impl PerUser {
    fn new(fake: &FakeOpenAi) -> Self {
        let runtime = tempfile::tempdir().unwrap();
        let mut env = fake.env();
        env.extend([
            ("OPENAI_API_KEY", fake.api_key()),
            (
                "XDG_RUNTIME_DIR",
                runtime.path().to_str().unwrap().to_string(),
            ),
            ("KELP_APPROVAL", "ask".to_string()),
        ]);
        Self {
            home: tempfile::tempdir().unwrap(),
            runtime,
            project: tempfile::tempdir().unwrap(),
            env,
        }
    }

    fn socket(&self) -> PathBuf {
        self.runtime.path().join("kelp/app-server.sock")
    }

    /// How a process names the server: by its socket.
    fn address(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// The client at 80×24 in the project with `args` and `extra` variables.
    fn client(&self, args: &[&str], extra: &[(&str, &str)]) -> crate::pty::Pty {
        let mut env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend_from_slice(extra);
        crate::pty::Pty::spawn_in(
            Path::new(env!("CARGO_BIN_EXE_kelp")),
            args,
            self.home.path(),
            self.project.path(),
            &env,
            80,
            24,
        )
    }
}

impl Drop for PerUser {
    fn drop(&mut self) {
        end_processes_naming(&self.address());
    }
}

const OVER_SSH: (&str, &str) = ("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22");

/// `server = "over-ssh"`: in an SSH session the client starts a server of the person's own
/// (reused by the next client) whose turn goes on when the terminal goes, and `kelp resume
/// --last` comes back to it; outside SSH the client keeps its own agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_ssh_the_client_runs_on_a_per_user_server_that_outlives_the_terminal() {
    let fake = FakeOpenAi::start().await;
    let world = PerUser::new(&fake);
    let client = |args: &[&str], ssh: bool| {
        let mut extra = vec![("KELP_SERVER", "over-ssh")];
        extra.extend(ssh.then_some(OVER_SSH));
        world.client(args, &extra)
    };
    let (socket, address, project) = (world.socket(), world.address(), world.project.path());

    // Outside SSH: the client's own agent, no server.
    let mut local = client(&[], false);
    local.wait_for("Ask anything", WAIT);
    local.send("/status\r");
    let screen = local.wait_for("Login:", WAIT);
    assert!(!screen.contains("Server:"), "{screen}");
    assert!(!socket.exists());
    drop(local);

    fake.push_responses([
        Reply::call_with_id("c1", "shell", json!({"command": "touch outlived.txt"})),
        Reply::text("Done while you were away."),
    ]);
    let mut first = client(&[], true);
    first.wait_for("Connected: API key kept by the server.", WAIT);
    assert!(socket.exists(), "the client started the per-user server");
    first.send("make it\r");
    first.wait_for("Allow it?", WAIT);
    drop(first);

    let mut back = client(&["resume", "--last"], true);
    back.wait_for("Resumed the saved conversation.", WAIT);
    back.wait_for("Allow it?", WAIT);
    std::thread::sleep(Duration::from_millis(600));
    back.send("y");
    back.wait_for("Done while you were away.", WAIT);
    assert!(project.join("outlived.txt").exists());
    drop(back);
    assert_eq!(
        end_processes_naming(&address),
        1,
        "one server served both clients"
    );
}

/// The command center of a client running on its own core lists what the person's own server
/// holds open, as it stands there: a conversation left waiting on an approval is under Needs
/// you, marked as the server's; Enter opens the client again on that server, on it, and the
/// answer lets its turn go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_center_lists_the_servers_conversations_and_opens_one_there() {
    let fake = FakeOpenAi::start().await;
    let world = PerUser::new(&fake);
    let client = |server: &str| world.client(&[], &[OVER_SSH, ("KELP_SERVER", server)]);
    let (address, project) = (world.address(), world.project.path());

    fake.push_responses([
        Reply::call_with_id("c1", "shell", json!({"command": "touch answered.txt"})),
        Reply::text("Done once you said yes."),
    ]);
    let mut away = client("per-user");
    away.wait_for("Connected: API key kept by the server.", WAIT);
    away.send("make the file\r");
    away.wait_for("Allow it?", WAIT);
    drop(away);

    let mut here = client("none");
    here.wait_for("Ask anything", WAIT);
    here.send("/agents\r");
    let list = here.wait_until(
        |screen| screen.contains("Needs you (1)") && screen.contains("make the file"),
        WAIT,
        "the server's conversation waiting on its approval",
    );
    let lines: Vec<&str> = list.lines().collect();
    let at = |needle: &str| crate::pty::row_of(&list, needle);
    assert!(at("Needs you (1)") < at("make the file"), "{list}");
    assert!(
        lines[at("make the file")].contains("on your server"),
        "{list}"
    );
    assert!(at("make the file") < at("Ready (1)"), "{list}");
    assert!(at("Ready (1)") < at("(here)"), "{list}");
    assert!(
        !list.contains("Inactive"),
        "the server's conversation is listed once, as the server's: {list}"
    );

    here.send("\r");
    here.wait_for("Allow it?", WAIT);
    std::thread::sleep(Duration::from_millis(600));
    here.send("y");
    here.wait_for("Done once you said yes.", WAIT);
    assert!(project.join("answered.txt").exists());
    here.send("/status\r");
    let status = here.wait_for("Server:", WAIT);
    assert!(status.contains("app-server.sock"), "{status}");
    drop(here);
    assert_eq!(end_processes_naming(&address), 1, "one server throughout");
}

/// The person's listener on a port reads its token from a file of theirs (docs' own example):
/// a sandboxed command of another kelp, with the network on, cannot read that file while the
/// listener runs, so it cannot become the listener's client. With the sandbox off it can (the
/// attack is real).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listeners_token_file_is_hidden_from_every_command() {
    let Some(victim) = crate::sandbox_attacks::victim() else {
        return;
    };
    if !crate::sandbox_attacks::namespaces() {
        return;
    }
    let fake = FakeOpenAi::start().await;
    let file = victim.home.join(".kelp-token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let server = Listening::start(
        &fake,
        &[
            "--listen",
            "ws://127.0.0.1:0",
            "--ws-auth",
            "capability-token",
            "--ws-token-file",
            file.to_str().unwrap(),
        ],
    );
    let runtime = server.runtime.path().to_path_buf();
    let script = "cat ~/.kelp-token; echo finished";
    let read = |flags: &'static [&'static str]| {
        let runtime = runtime.clone();
        crate::sandbox_attacks::attack_seen(&victim, script, flags, move |cmd| {
            cmd.env("XDG_RUNTIME_DIR", &runtime);
        })
    };
    let (seen, _) = read(&["--network", "on"]).await;
    assert!(seen.contains("finished"), "{seen}");
    assert!(
        !seen.contains(TOKEN),
        "a command read the listener's token: {seen}"
    );
    let (seen, _) = read(&["--sandbox", "off"]).await;
    assert!(seen.contains(TOKEN), "unsandboxed, it reads it: {seen}");
    drop(server);
}

/// A client over a TCP port, even with the token, cannot have commands run without the
/// sandbox: not in `command/exec`, `thread/start` or `turn/start`, nor by writing the setting;
/// the server started with `--ws-allow-full-access` lets it (the twin).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_a_port_cannot_ask_for_commands_outside_the_sandbox() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(dir.path());
    let bearer = format!("Bearer {TOKEN}");
    let project = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside.txt");
    let exec = json!({"command": ["touch", outside], "cwd": project.path(),
                      "sandboxPolicy": {"type": "dangerFullAccess"}});
    let args = |more: &'static [&'static str]| {
        let mut args = vec![
            "--listen",
            "ws://127.0.0.1:0",
            "--ws-auth",
            "capability-token",
            "--ws-token-file",
            file.to_str().unwrap(),
        ];
        args.extend(more);
        args
    };

    let server = Listening::start(&fake, &args(&[]));
    let mut client = server.signed_in(&fake, &[("Authorization", &bearer)]);
    let refused = |answer: &Value| {
        answer["error"]["message"]
            .as_str()
            .is_some_and(|why| why.contains("--ws-allow-full-access"))
    };
    let (answer, _) = client.call("command/exec", exec.clone());
    assert!(refused(&answer), "{answer}");
    assert!(!outside.exists());
    let spawn = json!({"command": ["touch", outside], "cwd": project.path(),
                       "processHandle": "h"});
    let (answer, _) = client.call("process/spawn", spawn.clone());
    assert!(refused(&answer), "{answer}");
    assert!(!outside.exists());
    let external = json!({"command": ["true"], "cwd": project.path(),
                          "sandboxPolicy": {"type": "externalSandbox", "networkAccess": "enabled"}});
    let (answer, _) = client.call("command/exec", external);
    assert!(refused(&answer), "{answer}");
    let (answer, _) = client.call(
        "thread/start",
        json!({"cwd": project.path(), "sandbox": "danger-full-access"}),
    );
    assert!(refused(&answer), "{answer}");
    let started = client.result("thread/start", json!({"cwd": project.path()}));
    let thread_id = started["thread"]["id"].clone();
    let (answer, _) = client.call(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "hi"}],
               "sandboxPolicy": {"type": "dangerFullAccess"}}),
    );
    assert!(refused(&answer), "{answer}");
    let (answer, _) = client.call(
        "config/value/write",
        json!({"keyPath": "sandbox_mode", "value": "danger-full-access", "mergeStrategy": "replace"}),
    );
    assert!(refused(&answer), "{answer}");
    // Nor an MCP server, whose command runs with the person's rights.
    let (answer, _) = client.call(
        "config/value/write",
        json!({"keyPath": "mcp_servers.x", "value": {"command": "touch", "args": [outside]},
               "mergeStrategy": "upsert"}),
    );
    assert!(refused(&answer), "{answer}");
    // Nor may it say yes when the model asks to run a command outside the sandbox: its yes is
    // taken as a no, and the command does not run.
    says_yes_to_leaving_the_sandbox(&mut client, &fake, &thread_id, &outside);
    assert!(
        !outside.exists(),
        "a port's client let a command out of the sandbox"
    );
    // The person's words are not read for it: a prompt may say the name.
    fake.push_responses([Reply::text("Noted.")]);
    let seen = client.turn(&thread_id, "what is dangerFullAccess?");
    assert!(
        seen.iter().any(|m| m["method"] == "turn/completed"),
        "{seen:#?}"
    );
    // A sandboxed command runs as ever.
    let ran = client.result(
        "command/exec",
        json!({"command": ["true"], "cwd": project.path()}),
    );
    assert_eq!(ran["exitCode"], 0, "{ran}");
    drop((client, server));

    let server = Listening::start(&fake, &args(&["--ws-allow-full-access"]));
    let mut client = server.signed_in(&fake, &[("Authorization", &bearer)]);
    let ran = client.result("command/exec", exec);
    assert_eq!(ran["exitCode"], 0, "{ran}");
    assert!(outside.exists(), "allowed, it runs outside the sandbox");
    // And its yes to the model's ask lets the command out.
    std::fs::remove_file(&outside).unwrap();
    let started = client.result("thread/start", json!({"cwd": project.path()}));
    says_yes_to_leaving_the_sandbox(&mut client, &fake, &started["thread"]["id"], &outside);
    assert!(outside.exists(), "allowed, its yes lets the command out");
    std::fs::remove_file(&outside).unwrap();
    client.result("process/spawn", spawn);
    let exited = client.notification("process/exited");
    assert_eq!(exited["exitCode"], 0, "{exited}");
    assert!(outside.exists(), "allowed, a host's process runs");
}

/// A turn of `thread_id` whose model asks to run `touch OUTSIDE` outside the sandbox, and the
/// client's yes to it.
fn says_yes_to_leaving_the_sandbox(
    client: &mut Server,
    fake: &FakeOpenAi,
    thread_id: &Value,
    outside: &Path,
) {
    fake.push_responses([
        Reply::call(
            "shell",
            json!({"command": format!("touch {}", outside.display()),
                   "sandbox_permissions": "require_escalated", "justification": "needed"}),
        ),
        Reply::text("Done."),
    ]);
    client.send(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "go"}]}),
    );
    let seen = client.until(|m| m["method"] == "item/commandExecution/requestApproval");
    let request = seen.last().unwrap();
    client.send_raw(&json!({"id": request["id"], "result": {"decision": "accept"}}).to_string());
    client.until(|m| m["method"] == "turn/completed");
}

/// With `XDG_RUNTIME_DIR` unset, the runtime folder is one under the person's home that only
/// they can make: another user who made `/tmp/kelp-UID` first stops nothing, and sees nothing.
#[test]
fn without_a_runtime_folder_the_socket_lives_under_the_home() {
    let home = tempfile::tempdir().unwrap();
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let planted = PathBuf::from(format!("/tmp/kelp-{uid}"));
    let made_here = std::fs::create_dir(&planted).is_ok();
    if made_here && uid == 0 {
        // Another user's, as an attacker on the machine would leave it.
        std::os::unix::fs::chown(&planted, Some(65534), Some(65534)).unwrap();
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_kelp"))
        .args(["app-server", "--listen", "unix://"])
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("listening on:") {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        said.push_str(&line);
    }
    let _ = child.kill();
    let _ = child.wait();
    if made_here {
        let _ = std::fs::remove_dir(&planted);
    }
    let folder = home.path().join(".local/state/kelp/run");
    assert!(
        said.contains(&format!("unix://{}/app-server.sock", folder.display())),
        "{said}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&folder).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

/// `kelp queue …` against `server`, from a home of its own: its exit code, stdout and stderr.
fn kelp_queue(server: &Listening, args: &[&str]) -> (Option<i32>, String, String) {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kelp"))
        .arg("queue")
        .args(args)
        .args(["--remote", &server.address])
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `kelp queue` leaves a message for a conversation on a server: it waits while the turn there
/// waits on the person, and goes as the next turn once that one ends; a conversation the server
/// does not hold open is refused with the way out, and `--resume` opens a saved one there and
/// sends the message at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kelp_queue_leaves_a_message_for_the_turn_after_and_opens_a_saved_one() {
    let fake = FakeOpenAi::start().await;
    let server = Listening::start(&fake, &["--listen", "unix://"]);
    let mut client = server.signed_in(&fake, &[]);
    let project = tempfile::tempdir().unwrap();
    let started = client.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "untrusted"}),
    );
    let thread_id = started["thread"]["id"].as_str().unwrap().to_string();
    fake.push_responses([
        Reply::call_with_id("c1", "shell", json!({"command": "touch asked.txt"})),
        Reply::text("Made it."),
        Reply::text("Then did that."),
    ]);
    client.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "make it"}]}),
    );
    let asked = client.until(|m| m["method"] == "item/commandExecution/requestApproval");
    let request_id = asked.last().unwrap()["id"].clone();

    let (code, stdout, stderr) = kelp_queue(
        &server,
        &["--thread", &thread_id, "--message", "then do that"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let queued = stdout
        .strip_prefix("Queued message ")
        .and_then(|rest| rest.strip_suffix(&format!(" for thread {thread_id}.\n")))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(!queued.is_empty());
    let waiting = client.until(|m| m["method"] == "thread/queue/changed");
    assert!(
        !waiting.iter().any(|m| m["method"] == "turn/started"),
        "it waits for the turn: {waiting:#?}"
    );

    client.send_raw(&json!({"id": request_id, "result": {"decision": "accept"}}).to_string());
    let first = client.notification("turn/completed");
    let then = client.until(|m| m["method"] == "turn/completed");
    let next = then
        .iter()
        .find(|m| m["method"] == "turn/started")
        .expect("the queued message's turn");
    assert_ne!(next["params"]["turn"]["id"], first["turn"]["id"]);
    assert!(
        then.iter().any(|m| m["method"] == "item/completed"
            && m["params"]["item"]["type"] == "userMessage"
            && m["params"]["item"]["content"][0]["text"] == "then do that"),
        "{then:#?}"
    );
    let last_asked = fake.requests_to("/responses").pop().unwrap();
    assert!(
        last_asked.json()["input"]
            .to_string()
            .contains("then do that")
    );

    // A saved conversation the server does not hold open.
    let saved = {
        use kelp::llm::types::Item;
        use kelp::session::{SessionHeader, SessionWriter};
        let state = server.home.path().join(".local/state/kelp");
        let mut writer =
            SessionWriter::create(&state, SessionHeader::new(project.path(), "gpt-5.5"));
        writer.append(&Item::user_text("an old question")).unwrap();
        writer
            .append(&Item::assistant_text("an old answer"))
            .unwrap();
        writer.id().to_string()
    };
    let (code, _, stderr) = kelp_queue(&server, &["--thread", &saved, "--message", "and now?"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "kelp: the conversation {saved} is not open on the server: --resume opens it there \
             and sends the message\n"
        )
    );

    fake.push_response(Reply::text("Now this."));
    let (code, stdout, stderr) = kelp_queue(
        &server,
        &["--thread", &saved, "--message", "and now?", "--resume"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.ends_with(&format!(" for thread {saved}.\n")),
        "{stdout}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !fake
        .requests_to("/responses")
        .iter()
        .any(|r| r.json()["input"].to_string().contains("and now?"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the message reached the model"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let asked_with = fake.requests_to("/responses").pop().unwrap().json()["input"].to_string();
    assert!(
        asked_with.contains("an old question"),
        "with its history: {asked_with}"
    );
}

/// The client on a server shows what waits in its thread's queue there (a `kelp queue` from
/// elsewhere), and ↑ takes a waiting message out of the queue into the composer, to edit or to
/// drop: it is not sent on its own any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_shows_the_servers_queue_and_takes_a_message_back_to_edit() {
    let fake = FakeOpenAi::start().await;
    let (server, project, home) = signed_in_on_a_unix_socket(&fake);
    fake.push_responses([Reply::text("Slowly done.").delay(Duration::from_millis(600))]);
    let mut client = remote_client(&server.address, home.path(), project.path(), &[]);
    client.wait_for("Connected: API key kept by the server.", WAIT);
    client.send("take your time\r");
    client.wait_for("› take your time", WAIT);
    // The server saves the thread as its turn starts, a moment after the prompt shows here.
    let state = server.home.path().join(".local/state/kelp");
    let deadline = std::time::Instant::now() + WAIT;
    let thread = loop {
        if let Some(summary) = kelp::session::list_sessions(&state, None).next() {
            break summary.id.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the thread is saved on the server"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let (code, _, stderr) =
        kelp_queue(&server, &["--thread", &thread, "--message", "then tidy up"]);
    assert_eq!(code, Some(0), "{stderr}");
    client.wait_for("↳ queued on the server then tidy up", WAIT);
    client.send("\x1b[A");
    let screen = client.wait_until(
        |screen| screen.contains("› then tidy up") && !screen.contains("queued on the server"),
        WAIT,
        "the message back in the composer, out of the queue",
    );
    assert!(!screen.contains("You said"), "{screen}");
    client.wait_for("Slowly done.", WAIT);
    // The turn ended and nothing waited: no turn of the message ran.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(fake.requests_to("/responses").len(), 1);
    client.send("\x04");
    assert!(client.wait_exit(WAIT));
}

/// The command center of a client on a server lists the server's conversations by how they
/// stand there: another client's running turn under Working. Enter opens it here while its turn
/// goes on, and the client's own conversation stays on the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_center_on_a_server_lists_its_threads_and_opens_one() {
    let fake = FakeOpenAi::start().await;
    let server = Listening::start(&fake, &["--listen", "unix://"]);
    let mut other = server.signed_in(&fake, &[]);
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let started = other.result("thread/start", json!({"cwd": project.path()}));
    let busy = started["thread"]["id"].as_str().unwrap().to_string();
    fake.push_responses([Reply::text("The long job is done.").delay(Duration::from_millis(700))]);
    other.result(
        "turn/start",
        json!({"threadId": busy, "input": [{"type": "text", "text": "a long job"}]}),
    );
    let mut client = remote_client(&server.address, home.path(), project.path(), &[]);
    client.wait_for("Connected: API key kept by the server.", WAIT);
    client.send("/agents");
    std::thread::sleep(Duration::from_millis(300));
    client.send("\r");
    let list = client.wait_for("Working (1)", WAIT);
    assert!(list.contains("a long job"), "{list}");
    assert!(list.contains("(here)"), "{list}");
    // The one that works is listed first: Enter opens it here.
    assert!(list.contains("› a long job"), "{list}");
    client.send("\r");
    client.wait_until(
        |screen| !screen.contains("Working (1)") && screen.contains("› a long job"),
        WAIT,
        "the other conversation opened here",
    );
    client.wait_for("The long job is done.", WAIT);
    client.send("\x04");
    assert!(client.wait_exit(WAIT));
}

/// `/ps` and `/stop` in a client on a server: the thread's background terminals there, listed
/// through `thread/backgroundTerminals/list` and ended through `terminate`, the program gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_on_a_server_lists_and_stops_the_threads_background_terminals() {
    let fake = FakeOpenAi::start().await;
    let (server, project, home) = signed_in_on_a_unix_socket(&fake);
    fake.push_responses([
        Reply::call_with_id(
            "e1",
            "exec_command",
            json!({"cmd": "exec sleep 59.3311", "yield_time_ms": 250}),
        ),
        Reply::text("It runs on."),
    ]);
    let mut client = remote_client(&server.address, home.path(), project.path(), &[]);
    client.wait_for("Connected: API key kept by the server.", WAIT);
    client.send("start it\r");
    client.wait_for("Run this command?", WAIT);
    // The approval arms after a moment, so keys typed ahead do not answer it.
    std::thread::sleep(Duration::from_millis(800));
    client.send("y");
    client.wait_for("It runs on.", WAIT);
    client.send("/ps\r");
    let listed = client.wait_for("Background terminals (1)", WAIT);
    assert!(listed.contains("1  exec sleep 59.3311"), "{listed}");
    let pids = crate::agent_loop::pids_with_argument("59.3311");
    assert_eq!(pids.len(), 1, "{pids:?}");
    client.send("/stop 1\r");
    client.wait_for("No background terminals.", WAIT);
    for _ in 0..100 {
        if !crate::agent_loop::alive(pids[0]) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!crate::agent_loop::alive(pids[0]));
    client.send("\x04");
    assert!(client.wait_exit(WAIT));
}

/// Ctrl+C while a turn runs on the server asks what happens to it; "Run in background" leaves
/// kelp and the turn goes on there to its end (its command runs after the client is gone), and
/// the next client finds it done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_sent_to_the_background_goes_on_at_the_server_after_the_client_leaves() {
    let fake = FakeOpenAi::start().await;
    let (server, project, home) = signed_in_on_a_unix_socket(&fake);
    fake.push_responses([
        Reply::call_with_id(
            "c1",
            "shell",
            json!({"command": "sleep 4 && touch finished.txt"}),
        ),
        Reply::text("Finished in the background."),
    ]);
    let mut client = remote_client(
        &server.address,
        home.path(),
        project.path(),
        &["--full-auto"],
    );
    client.wait_for("Connected: API key kept by the server.", WAIT);
    client.send("take your time\r");
    client.wait_for("sleep 4", WAIT);
    client.send("\x03");
    let screen = client.wait_for("The turn is still running", WAIT);
    assert!(
        screen.contains("leave kelp; the turn goes on at the server"),
        "{screen}"
    );
    client.send("\x1b[B\r");
    assert!(client.wait_exit(WAIT));
    let said = String::from_utf8_lossy(&client.output()).into_owned();
    assert!(
        said.contains(&format!("Its turn goes on at {}.", server.address)),
        "{said}"
    );
    assert!(!project.path().join("finished.txt").exists(), "not yet");
    let deadline = std::time::Instant::now() + WAIT;
    while !project.path().join("finished.txt").exists() {
        assert!(std::time::Instant::now() < deadline, "the turn went on");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut back = remote_client(
        &server.address,
        home.path(),
        project.path(),
        &["--continue"],
    );
    back.wait_for("Finished in the background.", WAIT);
    back.send("/quit\r");
    assert!(back.wait_exit(WAIT));
}

/// Codex's `notify` program on a server: a turn left there tells it when it waits for an
/// approval no client is there to give (`approval-requested`) and when it ends
/// (`agent-turn-complete`, Codex's fields); with a client there to be asked, only the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_persons_notifier_hears_of_a_turn_left_on_the_server() {
    use std::os::unix::fs::PermissionsExt;
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes");
    let notifier = dir.path().join("notify.sh");
    let script = format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> {}\n", notes.display());
    std::fs::write(&notifier, script).unwrap();
    std::fs::set_permissions(&notifier, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = format!("notify = [\"{}\"]\n", notifier.display());
    let server = Listening::start_configured(&fake, &["--listen", "unix://"], &config);
    let told = |count: usize| -> Vec<Value> {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let text = std::fs::read_to_string(&notes).unwrap_or_default();
            let lines: Vec<Value> = text
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect();
            if lines.len() >= count {
                return lines;
            }
            assert!(std::time::Instant::now() < deadline, "told: {lines:#?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let escalated = |path: &Path| {
        json!({"command": format!("touch {}", path.display()),
               "sandbox_permissions": "require_escalated", "justification": "needed"})
    };
    let project = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside.txt");
    let mut client = server.signed_in(&fake, &[]);
    let started = client.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "on-request"}),
    );
    let thread_id = started["thread"]["id"].clone();
    fake.push_responses([
        Reply::call_with_id("c1", "shell", json!({"command": "sleep 2"})),
        Reply::call_with_id("c2", "shell", escalated(&outside)),
        Reply::text("Done in the background."),
    ]);
    client.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "go"}]}),
    );
    client.until(|m| {
        m["method"] == "item/started" && m["params"]["item"]["type"] == "commandExecution"
    });
    drop(client);

    let asked = told(1).remove(0);
    assert_eq!(asked["type"], "approval-requested", "{asked}");
    assert_eq!(asked["thread-id"], thread_id);
    assert_eq!(asked["cwd"], project.path().display().to_string());
    let message = asked["message"].as_str().unwrap();
    assert!(
        message.starts_with("Approval requested: touch "),
        "{message}"
    );
    assert!(!outside.exists(), "it waits for the person");

    let mut back = server.signed_in(&fake, &[]);
    back.result("thread/resume", json!({"threadId": thread_id}));
    let again = back.until(|m| m["method"] == "item/commandExecution/requestApproval");
    let request = again.last().unwrap()["id"].clone();
    back.send_raw(&json!({"id": request, "result": {"decision": "accept"}}).to_string());
    back.until(|m| m["method"] == "turn/completed");
    assert!(outside.exists());
    let done = told(2).remove(1);
    assert_eq!(
        done,
        json!({
            "type": "agent-turn-complete",
            "thread-id": thread_id,
            "turn-id": asked["turn-id"],
            "cwd": project.path().display().to_string(),
            "input-messages": ["go"],
            "last-assistant-message": "Done in the background.",
        })
    );

    // Its twin: asked with a client there, the notifier hears only of the end.
    let second = dir.path().join("second.txt");
    fake.push_responses([
        Reply::call_with_id("c3", "shell", escalated(&second)),
        Reply::text("Again."),
    ]);
    let turn = back.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "again"}]}),
    );
    let asked = back.until(|m| m["method"] == "item/commandExecution/requestApproval");
    // What the person adds while it runs is among their words the notifier hears, as Codex's.
    back.result(
        "turn/steer",
        json!({"threadId": thread_id, "expectedTurnId": turn["turn"]["id"],
               "input": [{"type": "text", "text": "and tidy up"}]}),
    );
    let request = asked.last().unwrap()["id"].clone();
    back.send_raw(&json!({"id": request, "result": {"decision": "accept"}}).to_string());
    back.until(|m| m["method"] == "turn/completed");
    let all = told(3);
    assert_eq!(all.len(), 3, "{all:#?}");
    assert_eq!(all[2]["type"], "agent-turn-complete");
    assert_eq!(all[2]["input-messages"], json!(["again", "and tidy up"]));
    assert_eq!(all[2]["last-assistant-message"], "Again.");
}
