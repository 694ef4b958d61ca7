//! The embedding faces, `kelp app-server` and `kelp acp`: `cargo bench --bench embedding`.
//!
//! For each face:
//! - initialize: from writing the `initialize` line to reading its answer, on a running server
//!   (median of 20 fresh servers), and from spawn to that answer;
//! - deltas: one answer of 65,536 one-character deltas streamed from the fake through the face,
//!   from the prompt to the end of the turn, as notifications per second (median of 5).
//!
//! And for the app-server, `thread/list` over 2,000 saved sessions: the first page, and one
//! folder's (median of 20); `thread/turns/list` paging a saved session of 2,000 turns, 25 a
//! page (median of 40 pages); and the app-server's peak memory paging an 86 MB session of 80
//! turns a turn at a time. A conversation of over 1 GiB reopened: `thread/resume` and
//! `session/load`, time to the answer and peak memory against a fresh thread's (median of 3),
//! and `thread/read` with every turn, its peak against the file's size.
//!
//! The deltas again through `kelp app-server --listen ws://` to a WebSocket client
//! (`cargo bench --bench embedding websocket` runs only that and the app-server's own).
//!
//! These measure; they do not assert timings.

// Test, bench and fixture code: a failed unwrap is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/fake_openai/mod.rs"]
mod fake_openai;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::median;

struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    _home: tempfile::TempDir,
}

impl Server {
    fn start(face: Face, env: &[(&str, String)]) -> Self {
        let home = tempfile::tempdir().expect("a temp home");
        let mut child = Command::new(env!("CARGO_BIN_EXE_kelp"))
            .arg(face.command())
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kelp starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Self {
            child,
            stdin,
            stdout,
            _home: home,
        }
    }

    /// An initialized `kelp app-server` whose saved sessions are those below `state` (its
    /// `XDG_STATE_HOME`).
    fn app_server_over(state: &std::path::Path, env: &[(&str, String)]) -> Self {
        let mut env = env.to_vec();
        env.push(("XDG_STATE_HOME", state.display().to_string()));
        let mut server = Self::start(Face::AppServer, &env);
        server.send(Face::AppServer.initialize());
        server.read();
        server
    }

    /// Request `id`'s answer to `method` with `params`, and how long it took in ms; the
    /// notifications before it are skipped.
    fn timed_call(&mut self, id: u64, method: &str, params: &Value) -> (Value, f64) {
        let sent = Instant::now();
        self.send(json!({"id": id, "method": method, "params": params}));
        loop {
            let message = self.read();
            if message["id"] == id {
                return (message, sent.elapsed().as_secs_f64() * 1e3);
            }
        }
    }

    fn send(&mut self, message: Value) {
        writeln!(self.stdin, "{message}").expect("write");
        self.stdin.flush().expect("flush");
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read");
        serde_json::from_str(&line).expect("a JSON line")
    }

    /// Lines until one that contains `needle`, read without parsing them.
    fn count_until(&mut self, needle: &str) -> usize {
        let mut line = String::new();
        let mut count = 0;
        loop {
            line.clear();
            self.stdout.read_line(&mut line).expect("read");
            count += 1;
            if line.contains(needle) {
                return count;
            }
        }
    }

    fn until(&mut self, stop: impl Fn(&Value) -> bool) -> usize {
        let mut count = 0;
        loop {
            let message = self.read();
            count += 1;
            if stop(&message) {
                return count;
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy)]
enum Face {
    AppServer,
    Acp,
}

impl Face {
    fn command(self) -> &'static str {
        match self {
            Self::AppServer => "app-server",
            Self::Acp => "acp",
        }
    }

    fn initialize(self) -> Value {
        match self {
            Self::AppServer => {
                json!({"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "bench", "version": "1"}}})
            }
            Self::Acp => {
                json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 1, "clientCapabilities": {}}})
            }
        }
    }

    /// Signs in with the fake's key and starts a conversation; the message that starts a turn
    /// of `go`, and the text of the line that ends it.
    fn ready(self, server: &mut Server, api_key: &str) -> (Value, &'static str) {
        match self {
            Self::AppServer => {
                server.send(json!({"id": 2, "method": "account/login/start", "params": {"type": "apiKey", "apiKey": api_key}}));
                server.until(|m| m["method"] == "account/updated");
                server.send(json!({"id": 3, "method": "thread/start", "params": {}}));
                let mut thread_id = Value::Null;
                while thread_id.is_null() {
                    let message = server.read();
                    if message["id"] == 3 {
                        thread_id = message["result"]["thread"]["id"].clone();
                    }
                }
                (
                    json!({"id": 4, "method": "turn/start", "params": {"threadId": thread_id, "input": [{"type": "text", "text": "go"}]}}),
                    "\"turn/completed\"",
                )
            }
            Self::Acp => {
                // The key comes from OPENAI_API_KEY in the environment (see `main`).
                server.send(json!({"jsonrpc": "2.0", "id": 3, "method": "session/new", "params": {"cwd": std::env::temp_dir(), "mcpServers": []}}));
                // Updates (the commands on offer) may come before the answer.
                let answer = loop {
                    let message = server.read();
                    if message["id"] == 3 {
                        break message;
                    }
                };
                let session = answer["result"]["sessionId"].clone();
                assert!(session.is_string(), "a session: {answer}");
                (
                    json!({"jsonrpc": "2.0", "id": 4, "method": "session/prompt", "params": {"sessionId": session, "prompt": [{"type": "text", "text": "go"}]}}),
                    "\"stopReason\"",
                )
            }
        }
    }
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let fake = rt.block_on(fake_openai::FakeOpenAi::start());
    let mut env = fake.env();
    env.push(("OPENAI_API_KEY", fake.api_key()));
    // `cargo bench --bench embedding opening` runs only that one.
    if std::env::args().any(|arg| arg == "opening") {
        bench_opening(&env);
        return;
    }
    // `cargo bench --bench embedding websocket` runs only that one.
    if std::env::args().any(|arg| arg == "websocket") {
        bench(Face::AppServer, &fake, &env);
        bench_websocket_deltas(&fake, &env);
        return;
    }
    for face in [Face::AppServer, Face::Acp] {
        bench(face, &fake, &env);
    }
    bench_websocket_deltas(&fake, &env);
    bench_thread_list(&env);
    bench_turns_list(&env);
    bench_large_thread_pages(&env);
    bench_gigabyte_conversation(&env);
    bench_opening(&env);
}

/// Opening a long conversation (compacted every 100 turns) on each face, 100 MiB and 1 GiB:
/// cold (no index beside it: the file scanned once through) and warm (the index read, and
/// the lines it shows), the median of 3 each, beside the machine's plain read of the file.
fn bench_opening(env: &[(&str, String)]) {
    for turns in [2_400, 24_000] {
        let state = tempfile::tempdir().expect("a temp dir");
        let project = state.path().join("project");
        std::fs::create_dir_all(&project).unwrap();
        let kelp_state = state.path().join("kelp");
        let (id, bytes) = support::long_session(&kelp_state, &project, turns, 100);
        let file = support::long_session_file(&kelp_state, &id);
        let index = kelp::session::index::index_path(&file);
        let mut env = env.to_vec();
        env.push(("XDG_STATE_HOME", state.path().display().to_string()));
        let size = if bytes >= 1 << 30 {
            format!("{:.2} GiB", bytes as f64 / f64::from(1 << 30))
        } else {
            format!("{:.0} MiB", bytes as f64 / f64::from(1 << 20))
        };
        let read = support::plain_read_ms(&file);
        for face in [Face::AppServer, Face::Acp] {
            for warm in [false, true] {
                let mut times = Vec::new();
                for _ in 0..3 {
                    if !warm {
                        let _ = std::fs::remove_file(&index);
                    }
                    times.push(reopen_ms(face, &env, &project, &id));
                }
                println!(
                    "kelp {}: a {size} conversation opened {} in a median {:.0} ms of 3 (a plain read of the file: {read:.0} ms)",
                    face.command(),
                    if warm {
                        "warm (its index kept)"
                    } else {
                        "cold (no index)"
                    },
                    median(times),
                );
            }
        }
    }
}

/// The milliseconds from asking `face` to open conversation `id` to its answer.
fn reopen_ms(face: Face, env: &[(&str, String)], project: &std::path::Path, id: &str) -> f64 {
    let mut server = Server::start(face, env);
    server.send(face.initialize());
    server.read();
    let opened = match face {
        Face::AppServer => json!({"id": 6, "method": "thread/resume", "params": {"threadId": id}}),
        Face::Acp => {
            json!({"jsonrpc": "2.0", "id": 6, "method": "session/load", "params": {"sessionId": id, "cwd": project, "mcpServers": []}})
        }
    };
    let sent = Instant::now();
    server.send(opened);
    loop {
        let message = server.read();
        if message["id"] == 6 {
            assert!(message.get("error").is_none(), "opened: {message}");
            return sent.elapsed().as_secs_f64() * 1e3;
        }
    }
}

/// A conversation past 1 GiB (24,000 turns of a command's 20 KB output, compacted every 100,
/// then never compacted) reopened on each face: the time to the answer and the peak memory,
/// against a fresh thread on the same face; and the app-server's `thread/read` of all the
/// turns of the first.
fn bench_gigabyte_conversation(env: &[(&str, String)]) {
    bench_gigabyte_conversation_compacted(env, 100);
    bench_gigabyte_conversation_compacted(env, 0);
}

fn bench_gigabyte_conversation_compacted(env: &[(&str, String)], compact_every: usize) {
    let state = tempfile::tempdir().expect("a temp dir");
    let project = state.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let (id, bytes) =
        support::long_session(&state.path().join("kelp"), &project, 24_000, compact_every);
    let compacted = if compact_every == 0 {
        "never compacted"
    } else {
        "compacted every 100 turns"
    };
    let mut env = env.to_vec();
    env.push(("XDG_STATE_HOME", state.path().display().to_string()));
    let gib = bytes as f64 / f64::from(1 << 30);
    for face in [Face::AppServer, Face::Acp] {
        let (mut fresh, mut resumed, mut times) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            let mut server = Server::start(face, &env);
            server.send(face.initialize());
            server.read();
            let (open, opened) = match face {
                Face::AppServer => (
                    json!({"id": 5, "method": "thread/start", "params": {"cwd": project}}),
                    json!({"id": 6, "method": "thread/resume", "params": {"threadId": id}}),
                ),
                Face::Acp => (
                    json!({"jsonrpc": "2.0", "id": 5, "method": "session/new", "params": {"cwd": project, "mcpServers": []}}),
                    json!({"jsonrpc": "2.0", "id": 6, "method": "session/load", "params": {"sessionId": id, "cwd": project, "mcpServers": []}}),
                ),
            };
            server.send(open);
            server.until(|m| m["id"] == 5);
            fresh.push(support::status_kb(server.child.id(), "VmHWM"));
            drop(server);
            let mut server = Server::start(face, &env);
            server.send(face.initialize());
            server.read();
            let sent = Instant::now();
            server.send(opened);
            let answer = loop {
                let message = server.read();
                if message["id"] == 6 {
                    break message;
                }
            };
            times.push(sent.elapsed().as_secs_f64() * 1e3);
            assert!(answer.get("error").is_none(), "reopened: {answer}");
            resumed.push(support::status_kb(server.child.id(), "VmHWM"));
        }
        let (fresh, resumed) = (median(fresh), median(resumed));
        println!(
            "kelp {}: a {gib:.2} GiB conversation ({compacted}) reopened in a median {:.0} ms of 3; peak {resumed} kB ({:.2}× a fresh thread's {fresh} kB)",
            face.command(),
            median(times),
            resumed as f64 / fresh as f64
        );
    }
    if compact_every == 0 {
        return;
    }
    // Every turn in one answer: its text is held, the history besides it never.
    let mut server = Server::start(Face::AppServer, &env);
    server.send(Face::AppServer.initialize());
    server.read();
    let sent = Instant::now();
    server.send(
        json!({"id": 7, "method": "thread/read", "params": {"threadId": id, "includeTurns": true}}),
    );
    let mut line = String::new();
    while !line.starts_with(r#"{"id":7,"#) {
        line.clear();
        server.stdout.read_line(&mut line).expect("read");
    }
    println!(
        "kelp app-server: thread/read of every turn of the {gib:.2} GiB conversation: {:.1} s, a {:.0} MB answer, peak {} kB ({:.2}× the file)",
        sent.elapsed().as_secs_f64(),
        line.len() as f64 / 1e6,
        support::status_kb(server.child.id(), "VmHWM"),
        support::status_kb(server.child.id(), "VmHWM") as f64 * 1024.0 / bytes as f64
    );
}

/// The app-server's peak memory paging a large saved session (80 turns, each a prompt and a
/// 1 MB answer) a turn at a time, as a host reloading it would: three pages of
/// `thread/turns/list`, newest first, and a page of `thread/items/list`.
fn bench_large_thread_pages(env: &[(&str, String)]) {
    let state = tempfile::tempdir().expect("a temp dir");
    let kelp_state = state.path().join("kelp");
    let header = kelp::session::SessionHeader::new("/home/dev/src/project", "gpt-5.5");
    let mut writer = kelp::session::SessionWriter::create(&kelp_state, header);
    let long = "a long answer line\n".repeat(55_000);
    for n in 0..80 {
        let item = kelp::llm::types::Item::user_text(format!("question {n}"));
        writer.append(&item).expect("append");
        writer
            .append(&kelp::llm::types::Item::assistant_text(long.as_str()))
            .expect("append");
    }
    let size = std::fs::metadata(writer.path().expect("saved")).map_or(0, |meta| meta.len());
    let thread_id = writer.id().to_string();
    let mut server = Server::app_server_over(state.path(), env);
    let idle = support::status_kb(server.child.id(), "VmRSS");
    let mut cursor = Value::Null;
    for id in 0..3 {
        let params =
            json!({"threadId": thread_id, "limit": 1, "cursor": cursor, "sortDirection": "desc"});
        let (answer, _) = server.timed_call(200 + id, "thread/turns/list", &params);
        cursor = answer["result"]["nextCursor"].clone();
    }
    let params = json!({"threadId": thread_id, "limit": 2});
    server.timed_call(210, "thread/items/list", &params);
    println!(
        "kelp app-server: paging a {:.0} MB session of 80 turns a turn at a time: peak {} kB ({} kB before)",
        size as f64 / 1e6,
        support::status_kb(server.child.id(), "VmHWM"),
        idle
    );
}

/// `thread/turns/list` paging one saved session of 2,000 turns (a prompt and an answer each),
/// as a host replays a thread it reloads.
fn bench_turns_list(env: &[(&str, String)]) {
    const TURNS: usize = 2_000;
    let state = tempfile::tempdir().expect("a temp dir");
    let kelp_state = state.path().join("kelp");
    // Among as many others as the thread/list row has: finding a thread is part of a page.
    save_sessions(&kelp_state, 2_000);
    let header = kelp::session::SessionHeader::new("/home/dev/src/project", "gpt-5.5");
    let mut writer = kelp::session::SessionWriter::create(&kelp_state, header);
    for n in 0..TURNS {
        let item = kelp::llm::types::Item::user_text(format!("Turn {n}: fix the failing test"));
        writer.append(&item).expect("append");
        let answer = format!(
            "Turn {n}: {}",
            "the parser reads the header twice; ".repeat(6)
        );
        writer
            .append(&kelp::llm::types::Item::assistant_text(answer))
            .expect("append");
    }
    let thread_id = writer.id().to_string();
    let mut server = Server::app_server_over(state.path(), env);
    let mut took = Vec::new();
    let mut cursor = Value::Null;
    for id in 0..40 {
        let params = json!({"threadId": thread_id, "limit": 25, "cursor": cursor});
        let (answer, ms) = server.timed_call(100 + id, "thread/turns/list", &params);
        took.push(ms);
        assert_eq!(answer["result"]["data"].as_array().map(Vec::len), Some(25));
        cursor = answer["result"]["nextCursor"].clone();
    }
    println!(
        "kelp app-server: thread/turns/list over a saved session of {TURNS} turns among 2000 others, 25 a page: median {:.2} ms (40 pages)",
        median(took)
    );
}

/// `count` saved sessions of one prompt each, in a dozen folders, a minute apart.
fn save_sessions(kelp_state: &std::path::Path, count: usize) {
    for n in 0..count {
        let mut header = kelp::session::SessionHeader::new(
            format!("/home/dev/src/project-{}", n % 12),
            "gpt-5.5",
        );
        header.started_at -= chrono::Duration::minutes(n as i64);
        let mut writer = kelp::session::SessionWriter::create(kelp_state, header);
        writer
            .append(&kelp::llm::types::Item::user_text(format!(
                "Turn {n}: fix the failing test"
            )))
            .expect("append");
    }
}

/// `thread/list` over 2,000 saved sessions in a dozen folders.
fn bench_thread_list(env: &[(&str, String)]) {
    const SESSIONS: usize = 2_000;
    let state = tempfile::tempdir().expect("a temp dir");
    save_sessions(&state.path().join("kelp"), SESSIONS);
    let mut server = Server::app_server_over(state.path(), env);
    for (label, params) in [
        ("the first page", json!({})),
        (
            "one folder's first page",
            json!({"cwd": "/home/dev/src/project-3"}),
        ),
    ] {
        let mut took = Vec::new();
        for id in 0..20 {
            let (answer, ms) = server.timed_call(100 + id, "thread/list", &params);
            took.push(ms);
            assert_eq!(answer["result"]["data"].as_array().map(Vec::len), Some(25));
        }
        println!(
            "kelp app-server: thread/list over {SESSIONS} saved sessions, {label}: median {:.2} ms (20 calls)",
            median(took)
        );
    }
}

/// The deltas of [`bench`], through `kelp app-server --listen ws://` to a client over a
/// WebSocket on loopback (median of 5).
fn bench_websocket_deltas(fake: &fake_openai::FakeOpenAi, env: &[(&str, String)]) {
    use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest};
    let deltas = 65_536;
    let mut rates = Vec::new();
    for _ in 0..5 {
        let home = tempfile::tempdir().expect("a temp home");
        let mut child = Command::new(env!("CARGO_BIN_EXE_kelp"))
            .args(["app-server", "--listen", "ws://127.0.0.1:0"])
            .env_clear()
            .env("HOME", home.path())
            .env("XDG_RUNTIME_DIR", home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(home.path())
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kelp starts");
        let mut said = BufReader::new(child.stderr.take().expect("stderr"));
        let mut address = String::new();
        while !address.starts_with("ws://") {
            let mut line = String::new();
            assert!(said.read_line(&mut line).expect("stderr") > 0, "it listens");
            if let Some(found) = line.trim().strip_prefix("listening on: ") {
                address = found.to_string();
            }
        }
        let port = address.rsplit(':').next().expect("a port");
        let token =
            std::fs::read_to_string(home.path().join(format!("kelp/app-server-ws-{port}.token")))
                .expect("the token kelp made");
        let mut request = address.as_str().into_client_request().expect("a request");
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {}", token.trim())
                .parse()
                .expect("a header"),
        );
        let stream =
            std::net::TcpStream::connect(address.trim_start_matches("ws://")).expect("the port");
        let (mut socket, _) = tungstenite::client(request, stream).expect("the upgrade");
        let send = |socket: &mut tungstenite::WebSocket<_>, message: Value| {
            socket
                .send(Message::text(message.to_string()))
                .expect("a frame out");
        };
        let until = |socket: &mut tungstenite::WebSocket<std::net::TcpStream>, needle: &str| {
            let mut frames = 0;
            loop {
                let Message::Text(text) = socket.read().expect("a frame in") else {
                    continue;
                };
                frames += 1;
                if text.as_str().contains(needle) {
                    return (frames, text.as_str().to_string());
                }
            }
        };
        send(&mut socket, Face::AppServer.initialize());
        until(&mut socket, "\"userAgent\"");
        send(
            &mut socket,
            json!({"id": 2, "method": "account/login/start", "params": {"type": "apiKey", "apiKey": fake.api_key()}}),
        );
        until(&mut socket, "\"account/updated\"");
        send(
            &mut socket,
            json!({"id": 3, "method": "thread/start", "params": {}}),
        );
        let (_, answer) = until(&mut socket, "\"thread\":{");
        let answer: Value = serde_json::from_str(&answer).expect("JSON");
        let thread_id = answer["result"]["thread"]["id"].clone();
        fake.push_response(fake_openai::Reply::text("x".repeat(deltas)).delta_chars(1));
        let start = Instant::now();
        send(
            &mut socket,
            json!({"id": 4, "method": "turn/start", "params": {"threadId": thread_id, "input": [{"type": "text", "text": "go"}]}}),
        );
        let (frames, _) = until(&mut socket, "\"turn/completed\"");
        let took = start.elapsed().as_secs_f64();
        assert!(frames > deltas, "every delta arrived");
        rates.push(deltas as f64 / took);
        let _ = child.kill();
        let _ = child.wait();
    }
    println!(
        "kelp app-server --listen ws://: {deltas} one-character deltas, fake → SSE → core → WebSocket frames: median {:.0} deltas/s (5 runs)",
        median(rates)
    );
}

fn bench(face: Face, fake: &fake_openai::FakeOpenAi, env: &[(&str, String)]) {
    let name = face.command();
    let (mut answer, mut from_spawn) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        // Settled: the process is surely up before `initialize` is written.
        let mut server = Server::start(face, env);
        std::thread::sleep(Duration::from_millis(50));
        let sent = Instant::now();
        server.send(face.initialize());
        assert!(server.read().get("result").is_some());
        answer.push(sent.elapsed().as_secs_f64() * 1e3);
        // Cold: written right after spawn, as a host does.
        let spawned = Instant::now();
        let mut server = Server::start(face, env);
        server.send(face.initialize());
        assert!(server.read().get("result").is_some());
        from_spawn.push(spawned.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "kelp {name}: initialize → response: median {:.2} ms on a running server, {:.1} ms from spawn (20 servers each)",
        median(answer),
        median(from_spawn)
    );

    let deltas = 65_536;
    let mut rates = Vec::new();
    for _ in 0..5 {
        let mut server = Server::start(face, env);
        server.send(face.initialize());
        server.read();
        let (turn, end) = face.ready(&mut server, &fake.api_key());
        fake.push_response(fake_openai::Reply::text("x".repeat(deltas)).delta_chars(1));
        let start = Instant::now();
        server.send(turn);
        let lines = server.count_until(end);
        let took = start.elapsed().as_secs_f64();
        assert!(lines > deltas, "every delta arrived");
        rates.push(deltas as f64 / took);
    }
    println!(
        "kelp {name}: {deltas} one-character deltas, fake → SSE → core → notifications: median {:.0} deltas/s (5 runs)",
        median(rates)
    );
}
