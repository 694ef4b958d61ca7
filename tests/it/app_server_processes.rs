//! A host's own processes over the app-server: `command/exec` on a terminal (typed into,
//! resized), and `process/spawn` with its output, input, size, end and kill, in Codex 0.171's
//! shapes.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::app_server::{Server, logged_in};
use crate::fake_openai::FakeOpenAi;

/// A server whose every message is kept, so output that comes while a request waits for its
/// answer is not lost.
struct Watched {
    server: Server,
    seen: Vec<Value>,
}

impl Watched {
    /// Sends `method` and waits for its answer (the whole message, error or result).
    fn ask(&mut self, method: &str, params: Value) -> Value {
        let id = self.server.send(method, params);
        let got = self.server.until(|m| m["id"] == id);
        let answer = got.last().unwrap().clone();
        self.seen.extend(got);
        answer
    }

    /// [`Watched::ask`]'s result, which must not be an error.
    fn result(&mut self, method: &str, params: Value) -> Value {
        let answer = self.ask(method, params);
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// The bytes of every output delta of `id` so far, from `method` naming it by `field`.
    fn output(&self, method: &str, field: &str, id: &str) -> String {
        let bytes: Vec<u8> = self
            .seen
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

    /// Waits until the output of `id` holds `wanted`; returns all of it.
    fn until_output(&mut self, method: &str, field: &str, id: &str, wanted: &str) -> String {
        loop {
            let text = self.output(method, field, id);
            if text.contains(wanted) {
                return text;
            }
            let got = self
                .server
                .until(|m| m["method"] == method && m["params"][field] == id);
            self.seen.extend(got);
        }
    }

    /// The `process/exited` of `handle`, waited for if it has not come.
    fn exited(&mut self, handle: &str) -> Value {
        let is_it =
            |m: &Value| m["method"] == "process/exited" && m["params"]["processHandle"] == handle;
        if let Some(exited) = self.seen.iter().find(|m| is_it(m)) {
            return exited["params"].clone();
        }
        let got = self.server.until(is_it);
        let exited = got.last().unwrap()["params"].clone();
        self.seen.extend(got);
        exited
    }
}

fn watched(server: Server) -> Watched {
    Watched {
        server,
        seen: Vec::new(),
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
    let (server, project) = logged_in(&fake);
    let mut host = watched(server);
    const DELTA: &str = "command/exec/outputDelta";
    let script = "test -t 0 && echo on-a-terminal; stty size; read line; echo got:$line; \
                  read again; stty size";
    let id = host.server.send(
        "command/exec",
        json!({"command": ["sh", "-c", script], "cwd": project.path(), "processId": "t1",
               "tty": true, "size": {"rows": 30, "cols": 90}}),
    );
    let text = host.until_output(DELTA, "processId", "t1", "30 90");
    assert!(text.contains("on-a-terminal"), "{text:?}");
    host.result(
        "command/exec/write",
        json!({"processId": "t1", "deltaBase64": b64("hello\n")}),
    );
    host.until_output(DELTA, "processId", "t1", "got:hello");
    host.result(
        "command/exec/resize",
        json!({"processId": "t1", "size": {"rows": 50, "cols": 132}}),
    );
    host.result(
        "command/exec/write",
        json!({"processId": "t1", "deltaBase64": b64("\n")}),
    );
    let got = host.server.until(|m| m["id"] == id);
    let ended = got.last().unwrap()["result"].clone();
    host.seen.extend(got);
    assert!(
        host.output(DELTA, "processId", "t1").contains("50 132"),
        "the new size: {:?}",
        host.output(DELTA, "processId", "t1")
    );
    assert_eq!(ended["exitCode"], 0, "{ended}");
    assert_eq!(ended["stdout"], "", "streamed, not buffered: {ended}");

    // A size needs tty; a command without a terminal has none to resize.
    let no_tty = host.ask(
        "command/exec",
        json!({"command": ["true"], "cwd": project.path(), "size": {"rows": 1, "cols": 1}}),
    );
    assert_eq!(no_tty["error"]["code"], -32602, "{no_tty}");
    let id = host.server.send(
        "command/exec",
        json!({"command": ["sleep", "30"], "cwd": project.path(), "processId": "p1",
               "streamStdin": true}),
    );
    let refused = host.ask(
        "command/exec/resize",
        json!({"processId": "p1", "size": {"rows": 10, "cols": 10}}),
    );
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    host.result("command/exec/terminate", json!({"processId": "p1"}));
    host.server.until(|m| m["id"] == id);
}

/// `process/spawn` answers once the process has started; its output streams, what the host
/// writes reaches it, and `process/exited` says how it ended; a buffered one's output comes
/// with its end; `process/kill` ends one, and a timeout (Codex's 124) or `null` (none) holds;
/// a size without tty, a handle in use and a program that cannot start are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_spawn_runs_a_host_process_to_its_end() {
    let fake = FakeOpenAi::start().await;
    let (server, project) = logged_in(&fake);
    let mut host = watched(server);
    const DELTA: &str = "process/outputDelta";
    let cwd = project.path().to_str().unwrap();

    // Buffered: the answer comes first, the output with the end.
    let answer = host.result(
        "process/spawn",
        json!({"command": ["sh", "-c", "echo out; echo err >&2; exit 3"], "cwd": cwd,
               "processHandle": "b1"}),
    );
    assert_eq!(answer, json!({}));
    let exited = host.exited("b1");
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
    let first_exit = host
        .seen
        .iter()
        .position(|m| m["method"] == "process/exited")
        .unwrap();
    let answered = host
        .seen
        .iter()
        .position(|m| m["result"] == json!({}))
        .unwrap();
    assert!(answered < first_exit, "the answer comes before the end");

    // Streamed, with stdin: the host types, closes, and the process ends.
    host.result(
        "process/spawn",
        json!({"command": ["sh", "-c", "echo ready; tr a-z A-Z"], "cwd": cwd,
               "processHandle": "s1", "streamStdin": true, "streamStdoutStderr": true}),
    );
    host.until_output(DELTA, "processHandle", "s1", "ready");
    let in_use = host.ask(
        "process/spawn",
        json!({"command": ["true"], "cwd": cwd, "processHandle": "s1"}),
    );
    assert_eq!(in_use["error"]["code"], -32600, "{in_use}");
    host.result(
        "process/writeStdin",
        json!({"processHandle": "s1", "deltaBase64": b64("shout\n"), "closeStdin": true}),
    );
    let exited = host.exited("s1");
    assert_eq!(
        (&exited["exitCode"], &exited["stdout"]),
        (&json!(0), &json!("")),
        "{exited}"
    );
    assert_eq!(host.output(DELTA, "processHandle", "s1"), "ready\nSHOUT\n");

    // On a terminal of the host's size, resized, then killed.
    host.result(
        "process/spawn",
        json!({"command": ["sh", "-c", "stty size; read x; stty size; sleep 30"], "cwd": cwd,
               "processHandle": "t1", "tty": true, "size": {"rows": 20, "cols": 70},
               "timeoutMs": null}),
    );
    host.until_output(DELTA, "processHandle", "t1", "20 70");
    host.result(
        "process/resizePty",
        json!({"processHandle": "t1", "size": {"rows": 40, "cols": 100}}),
    );
    host.result(
        "process/writeStdin",
        json!({"processHandle": "t1", "deltaBase64": b64("\n")}),
    );
    host.until_output(DELTA, "processHandle", "t1", "40 100");
    let killed_at = Instant::now();
    host.result("process/kill", json!({"processHandle": "t1"}));
    let exited = host.exited("t1");
    assert_eq!(exited["exitCode"], 137, "killed: {exited}");
    assert!(killed_at.elapsed() < Duration::from_secs(10));
    let gone = host.ask("process/kill", json!({"processHandle": "t1"}));
    assert_eq!(gone["error"]["code"], -32600, "{gone}");

    // The host's time runs out: Codex's 124.
    host.result(
        "process/spawn",
        json!({"command": ["sleep", "30"], "cwd": cwd, "processHandle": "slow",
               "timeoutMs": 300}),
    );
    assert_eq!(host.exited("slow")["exitCode"], 124);

    // A program that cannot start is an error, as Codex's.
    let missing = host.ask(
        "process/spawn",
        json!({"command": ["no-such-program-kelp"], "cwd": cwd, "processHandle": "n"}),
    );
    assert_eq!(missing["error"]["code"], -32603, "{missing}");
    let why = missing["error"]["message"].as_str().unwrap();
    assert!(why.starts_with("failed to spawn process: "), "{missing}");
    let sized = host.ask(
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
    let (server, project) = logged_in(&fake);
    let mut host = watched(server);
    let outside = tempfile::tempdir().unwrap();
    let sandboxed = outside.path().join("from-exec");
    let spawned = outside.path().join("from-spawn");
    let ran = host.result(
        "command/exec",
        json!({"command": ["touch", sandboxed], "cwd": project.path()}),
    );
    assert_ne!(ran["exitCode"], 0, "{ran}");
    assert!(!sandboxed.exists());
    host.result(
        "process/spawn",
        json!({"command": ["touch", spawned], "cwd": project.path(), "processHandle": "w"}),
    );
    assert_eq!(host.exited("w")["exitCode"], 0);
    assert!(spawned.exists());
}
