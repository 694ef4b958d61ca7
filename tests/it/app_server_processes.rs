//! A host's own processes over the app-server: `command/exec` on a terminal (typed into,
//! resized), and `process/spawn` with its output, input, size, end and kill, in Codex 0.171's
//! shapes.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::app_server::{Server, logged_in};
use crate::fake_openai::FakeOpenAi;

/// The bytes of every output delta of `id` (named by `field`) among `seen`.
fn streamed(seen: &[Value], method: &str, field: &str, id: &str) -> String {
    let bytes: Vec<u8> = seen
        .iter()
        .filter(|m| m["method"] == method && m["params"][field] == id)
        .flat_map(|m| {
            STANDARD
                .decode(m["params"]["deltaBase64"].as_str().unwrap())
                .unwrap()
        })
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Waits for output of `id` that holds `wanted`, and returns all of it so far.
fn until_streamed(server: &Server, method: &str, field: &str, id: &str, wanted: &str) -> String {
    let mut all = Vec::new();
    loop {
        let seen = server.until(|m| m["method"] == method && m["params"][field] == id);
        all.extend(seen);
        let text = streamed(&all, method, field, id);
        if text.contains(wanted) {
            return text;
        }
    }
}

fn b64(text: &str) -> String {
    STANDARD.encode(text)
}

/// `command/exec` with `tty`: the command is on a terminal (`test -t`), what the host writes
/// is typed into it, a resize is what `stty size` reads next, and its output streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_exec_runs_a_command_on_a_terminal_the_host_resizes() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let script = "test -t 0 && echo on-a-terminal; stty size; read line; echo got:$line; \
                  read again; stty size";
    let id = server.send(
        "command/exec",
        json!({"command": ["sh", "-c", script], "cwd": project.path(), "processId": "t1",
               "tty": true, "size": {"rows": 30, "cols": 90}}),
    );
    let text = until_streamed(
        &server,
        "command/exec/outputDelta",
        "processId",
        "t1",
        "30 90",
    );
    assert!(text.contains("on-a-terminal"), "{text:?}");
    server.result(
        "command/exec/write",
        json!({"processId": "t1", "deltaBase64": b64("hello\n")}),
    );
    until_streamed(
        &server,
        "command/exec/outputDelta",
        "processId",
        "t1",
        "got:hello",
    );
    server.result(
        "command/exec/resize",
        json!({"processId": "t1", "size": {"rows": 50, "cols": 132}}),
    );
    server.result(
        "command/exec/write",
        json!({"processId": "t1", "deltaBase64": b64("\n")}),
    );
    let seen = server.until(|m| m["id"] == id);
    let text = streamed(&seen, "command/exec/outputDelta", "processId", "t1");
    assert!(text.contains("50 132"), "the new size: {text:?}");
    let ended = &seen.last().unwrap()["result"];
    assert_eq!(ended["exitCode"], 0, "{ended}");
    assert_eq!(ended["stdout"], "", "streamed, not buffered: {ended}");

    // A command without a terminal has none to resize; a size needs tty.
    let (no_tty, _) = server.call(
        "command/exec",
        json!({"command": ["true"], "cwd": project.path(), "size": {"rows": 1, "cols": 1}}),
    );
    assert_eq!(no_tty["error"]["code"], -32602, "{no_tty}");
    let id = server.send(
        "command/exec",
        json!({"command": ["sleep", "30"], "cwd": project.path(), "processId": "p1",
               "streamStdin": true}),
    );
    let (refused, _) = server.call(
        "command/exec/resize",
        json!({"processId": "p1", "size": {"rows": 10, "cols": 10}}),
    );
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    server.result("command/exec/terminate", json!({"processId": "p1"}));
    server.until(|m| m["id"] == id);
}

/// `process/spawn` answers once the process has started; its output streams, what the host
/// writes reaches it, and `process/exited` says how it ended; a buffered one's output comes
/// with its end; `process/kill` ends one and Codex's default timeout (10 s) or `null` (none)
/// hold; a size without tty and a handle in use are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_spawn_runs_a_host_process_to_its_end() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let cwd = project.path().to_str().unwrap();

    // Buffered: the answer comes first, the output with the end.
    let answer = server.result(
        "process/spawn",
        json!({"command": ["sh", "-c", "echo out; echo err >&2; exit 3"], "cwd": cwd,
               "processHandle": "b1"}),
    );
    assert_eq!(answer, json!({}));
    let exited = server.notification("process/exited");
    assert_eq!(exited["processHandle"], "b1");
    assert_eq!(
        (
            &exited["exitCode"],
            &exited["stdout"],
            &exited["stderr"],
            &exited["stdoutCapReached"]
        ),
        (&json!(3), &json!("out\n"), &json!("err\n"), &json!(false)),
        "{exited}"
    );

    // Streamed, with stdin: the host types, closes, and the process ends.
    server.result(
        "process/spawn",
        json!({"command": ["sh", "-c", "echo ready; tr a-z A-Z"], "cwd": cwd,
               "processHandle": "s1", "streamStdin": true, "streamStdoutStderr": true}),
    );
    until_streamed(
        &server,
        "process/outputDelta",
        "processHandle",
        "s1",
        "ready",
    );
    let (in_use, _) = server.call(
        "process/spawn",
        json!({"command": ["true"], "cwd": cwd, "processHandle": "s1"}),
    );
    assert_eq!(in_use["error"]["code"], -32600, "{in_use}");
    server.result(
        "process/writeStdin",
        json!({"processHandle": "s1", "deltaBase64": b64("shout\n"), "closeStdin": true}),
    );
    let text = until_streamed(
        &server,
        "process/outputDelta",
        "processHandle",
        "s1",
        "SHOUT",
    );
    assert_eq!(text, "SHOUT\n", "what came after ready: the input, shouted");
    let exited = server.notification("process/exited");
    assert_eq!(
        (
            &exited["processHandle"],
            &exited["exitCode"],
            &exited["stdout"]
        ),
        (&json!("s1"), &json!(0), &json!("")),
        "{exited}"
    );

    // On a terminal of the host's size, resized, then killed.
    server.result(
        "process/spawn",
        json!({"command": ["sh", "-c", "stty size; read x; stty size; sleep 30"], "cwd": cwd,
               "processHandle": "t1", "tty": true, "size": {"rows": 20, "cols": 70},
               "timeoutMs": null}),
    );
    until_streamed(
        &server,
        "process/outputDelta",
        "processHandle",
        "t1",
        "20 70",
    );
    server.result(
        "process/resizePty",
        json!({"processHandle": "t1", "size": {"rows": 40, "cols": 100}}),
    );
    server.result(
        "process/writeStdin",
        json!({"processHandle": "t1", "deltaBase64": b64("\n")}),
    );
    until_streamed(
        &server,
        "process/outputDelta",
        "processHandle",
        "t1",
        "40 100",
    );
    let killed_at = Instant::now();
    server.result("process/kill", json!({"processHandle": "t1"}));
    let exited = server.notification("process/exited");
    assert_eq!(exited["processHandle"], "t1");
    assert_eq!(exited["exitCode"], 137, "killed: {exited}");
    assert!(killed_at.elapsed() < Duration::from_secs(10));
    let (gone, _) = server.call("process/kill", json!({"processHandle": "t1"}));
    assert_eq!(gone["error"]["code"], -32600, "{gone}");

    // The host's time runs out: Codex's 124.
    server.result(
        "process/spawn",
        json!({"command": ["sleep", "30"], "cwd": cwd, "processHandle": "slow",
               "timeoutMs": 300}),
    );
    let exited = server.notification("process/exited");
    assert_eq!(
        (&exited["processHandle"], &exited["exitCode"]),
        (&json!("slow"), &json!(124))
    );

    let (sized, _) = server.call(
        "process/spawn",
        json!({"command": ["true"], "cwd": cwd, "processHandle": "x",
               "size": {"rows": 1, "cols": 1}}),
    );
    assert_eq!(sized["error"]["code"], -32602, "{sized}");
}

/// `process/spawn` runs without the sandbox, as Codex's: it writes where a sandboxed
/// `command/exec` may not (the twin).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawned_process_runs_outside_the_sandbox_that_holds_command_exec() {
    let fake = FakeOpenAi::start().await;
    let (mut server, project) = logged_in(&fake);
    let outside = tempfile::tempdir().unwrap();
    let sandboxed = outside.path().join("from-exec");
    let spawned = outside.path().join("from-spawn");
    let ran = server.result(
        "command/exec",
        json!({"command": ["touch", sandboxed], "cwd": project.path()}),
    );
    assert_ne!(ran["exitCode"], 0, "{ran}");
    assert!(!sandboxed.exists());
    server.result(
        "process/spawn",
        json!({"command": ["touch", spawned], "cwd": project.path(), "processHandle": "w"}),
    );
    let exited = server.notification("process/exited");
    assert_eq!(exited["exitCode"], 0, "{exited}");
    assert!(spawned.exists());
}
