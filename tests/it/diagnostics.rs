//! The language servers' diagnostics after an edit, with real servers (pyright and
//! typescript-language-server, installed by `npm ci --prefix tests/lsp`, as `.ci/run` does) and
//! the fake model: a patch that introduces a type error gets it back in the patch's output, a
//! patch that fixes one gets nothing new, and the server runs in the sandbox and is gone when
//! its conversation ends.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::app_server::Server;
use crate::fake_openai::{FakeOpenAi, Reply};
use crate::llm_stream::{Login, write_login};
use crate::support::{kelp, shown, tool_outputs};

/// Where the test servers are installed: `tests/lsp` (`npm ci` run there the first time, as
/// `.ci/run` does first, one test process at a time), or, where the checkout lies in a folder the
/// sandbox keeps from its commands (`/tmp`: a language server runs in the sandbox and must see
/// its own program), a copy installed beside the home folder's other test folders.
fn servers_bin() -> PathBuf {
    use std::os::fd::AsRawFd;
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lsp");
    let hidden = |dir: &Path| {
        let real = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        real.starts_with("/tmp") || real.starts_with(std::env::temp_dir())
    };
    let dir = match std::env::var_os("HOME").map(PathBuf::from) {
        Some(home) if hidden(&checkout) && !hidden(&home) => {
            let lock = std::fs::read(checkout.join("package-lock.json")).unwrap();
            let tag: String = sha2_hex(&lock).chars().take(12).collect();
            let dir = home.join(format!(".kelp-test-lsp-{tag}"));
            std::fs::create_dir_all(&dir).unwrap();
            for file in ["package.json", "package-lock.json"] {
                std::fs::copy(checkout.join(file), dir.join(file)).unwrap();
            }
            dir
        }
        _ => checkout,
    };
    let bin = dir.join("node_modules/.bin");
    let lock =
        std::fs::File::create(Path::new(env!("CARGO_TARGET_TMPDIR")).join("lsp-install.lock"))
            .unwrap();
    // SAFETY: locking a descriptor this function holds open until it returns.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    if !bin.join("typescript-language-server").exists() {
        let out = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .expect("npm is installed (the diagnostics tests need node and npm)");
        assert!(
            out.status.success(),
            "npm ci in {}: {}",
            dir.display(),
            shown(&out)
        );
    }
    bin
}

/// The SHA-256 of `bytes`, in hex.
fn sha2_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The config of runs that check: a server's first check can take seconds on a loaded
/// machine, and these tests judge what it says, not how soon.
const PATIENT: &str = "[lsp]\ntimeout_ms = 60000\n";

/// `PATH` with the test servers first.
fn path_with_servers() -> String {
    format!(
        "{}:{}",
        servers_bin().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn update(file: &str, from: &str, to: &str) -> String {
    format!("*** Begin Patch\n*** Update File: {file}\n@@\n-{from}\n+{to}\n*** End Patch\n")
}

/// `kelp run` in `project`, in `full-auto`, with `config` as kelp's `config.toml`, against
/// `fake` playing `replies`; what the model read of each call.
async fn run(
    project: &Path,
    fake: &FakeOpenAi,
    replies: Vec<Reply>,
    config: &str,
) -> Vec<(String, String)> {
    let home = tempfile::tempdir().unwrap();
    let config_dir = home.path().join(".config/kelp");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(config_dir.join("config.toml"), config).unwrap();
    fake.push_responses(replies);
    let auth_file = home.path().join(".local/share/kelp/auth.json");
    std::fs::create_dir_all(auth_file.parent().unwrap()).unwrap();
    write_login(&auth_file, fake, Login::ApiKey);
    let mut cmd = kelp(home.path());
    cmd.envs(fake.env())
        .env("PATH", path_with_servers())
        .args(["--cd"])
        .arg(project)
        .args(["--approval", "full-auto", "run", "go"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", shown(&out));
    tool_outputs(fake)
}

fn output<'a>(outputs: &'a [(String, String)], id: &str) -> &'a str {
    outputs
        .iter()
        .find_map(|(call, text)| (call == id).then_some(text.as_str()))
        .unwrap_or_else(|| panic!("no output of {id}: {outputs:#?}"))
}

#[tokio::test]
async fn a_python_type_error_a_patch_makes_reaches_the_model_and_its_fix_says_nothing() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("calc.py"),
        "def double(x: int) -> int:\n    return x * 2\n",
    )
    .unwrap();
    let fake = FakeOpenAi::start().await;
    let outputs = run(
        project.path(),
        &fake,
        vec![
            Reply::call_with_id(
                "break",
                "apply_patch",
                json!({"input": update("calc.py", "    return x * 2", "    return \"twice\"")}),
            ),
            Reply::call_with_id(
                "fix",
                "apply_patch",
                json!({"input": update("calc.py", "    return \"twice\"", "    return x * 2")}),
            ),
            Reply::call_with_id(
                "append",
                "shell",
                json!({"command": "printf 'total: int = double(\"2\")\\n' >> calc.py"}),
            ),
            Reply::text("done"),
        ],
        PATIENT,
    )
    .await;
    let broke = output(&outputs, "break");
    assert!(
        broke.contains("The language server (pyright) reports what this change introduced:"),
        "{broke}"
    );
    assert!(broke.contains("calc.py:2:12: error:"), "{broke}");
    assert!(broke.contains("'twice'"), "{broke}");
    let fixed = output(&outputs, "fix");
    assert!(!fixed.contains("introduced"), "{fixed}");
    // A command's change is checked too.
    let appended = output(&outputs, "append");
    assert!(
        appended.contains("reports what the command's changes introduced"),
        "{appended}"
    );
    assert!(appended.contains("calc.py:3:"), "{appended}");
    // `lsp = false` turns it off: the same break says nothing.
    let fake = FakeOpenAi::start().await;
    let outputs = run(
        project.path(),
        &fake,
        vec![
            Reply::call_with_id(
                "break",
                "apply_patch",
                json!({"input": update("calc.py", "    return x * 2", "    return \"twice\"")}),
            ),
            Reply::text("done"),
        ],
        "lsp = false\n",
    )
    .await;
    assert!(!output(&outputs, "break").contains("introduced"));
}

#[tokio::test]
async fn a_typescript_type_error_reaches_the_model() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("tsconfig.json"),
        r#"{"compilerOptions": {"strict": true, "noEmit": true}}"#,
    )
    .unwrap();
    std::fs::write(
        project.path().join("main.ts"),
        "export const total: number = 1 + 2;\n",
    )
    .unwrap();
    let fake = FakeOpenAi::start().await;
    let outputs = run(
        project.path(),
        &fake,
        vec![
            Reply::call_with_id(
                "break",
                "apply_patch",
                json!({"input": update("main.ts", "export const total: number = 1 + 2;", "export const total: number = \"three\";")}),
            ),
            Reply::text("done"),
        ],
        PATIENT,
    )
    .await;
    let broke = output(&outputs, "break");
    assert!(
        broke.contains("The language server (typescript) reports what this change introduced:"),
        "{broke}"
    );
    assert!(broke.contains("main.ts:1:14: error:"), "{broke}");
    assert!(broke.contains("[2322]"), "{broke}");
}

/// A process of `ancestor`'s whose command holds `name`.
fn process_under(ancestor: u32, name: &str) -> Option<u32> {
    processes_under(ancestor, name, |_| true).into_iter().next()
}

/// The server a thread started runs in namespaces of its own (the sandbox's), and is gone once
/// the thread is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_in_the_sandbox_and_ends_with_its_conversation() {
    if !crate::sandbox_attacks::namespaces() {
        return;
    }
    let fake = FakeOpenAi::start().await;
    let args = ["app-server", "--listen", "stdio://"];
    let home = tempfile::tempdir().unwrap();
    let mut server = Server::start_with(&fake, home, &args, &[("PATH", path_with_servers())]);
    server.initialize(false);
    server.result(
        "account/login/start",
        json!({"type": "apiKey", "apiKey": fake.api_key()}),
    );
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("calc.py"), "x: int = 1\n").unwrap();
    let started = server.result(
        "thread/start",
        json!({"cwd": project.path(), "approvalPolicy": "never", "sandbox": "workspace-write"}),
    );
    let thread_id = started["thread"]["id"].as_str().unwrap().to_string();
    fake.push_responses([
        Reply::call_with_id(
            "p1",
            "apply_patch",
            json!({"input": update("calc.py", "x: int = 1", "x: int = \"one\"")}),
        ),
        Reply::text("done"),
    ]);
    server.result(
        "turn/start",
        json!({"threadId": thread_id, "input": [{"type": "text", "text": "go", "text_elements": []}]}),
    );
    server.until(|m| m["method"] == "turn/completed");
    let pid = process_under(server.pid().unwrap(), "pyright-langserver")
        .expect("a pyright server of the thread's");
    let ns = |pid: &str, kind: &str| std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap();
    for kind in ["mnt", "net", "user"] {
        assert_ne!(ns(&pid.to_string(), kind), ns("self", kind), "{kind}");
    }
    let answer = server.result("thread/unsubscribe", json!({"threadId": thread_id}));
    assert_eq!(answer["status"], "unsubscribed");
    let gone = async {
        while Path::new(&format!("/proc/{pid}")).exists() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), gone)
        .await
        .expect("the server outlived its conversation");
}

/// The servers (node processes) of `ancestor`'s whose command holds `name`: not a wrapper that
/// names it in its arguments.
fn servers_under(ancestor: u32, name: &str) -> Vec<u32> {
    processes_under(ancestor, name, |pid| {
        read_proc(pid, "comm").trim() == "node"
    })
}

fn read_proc(pid: u32, what: &str) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/{what}")).unwrap_or_default())
        .into_owned()
}

/// The processes of `ancestor`'s (at any depth) whose command holds `name` and that `keep`.
fn processes_under(ancestor: u32, name: &str, keep: impl Fn(u32) -> bool) -> Vec<u32> {
    let parent = |pid: u32| -> Option<u32> {
        read_proc(pid, "status")
            .lines()
            .find_map(|line| line.strip_prefix("PPid:"))?
            .trim()
            .parse()
            .ok()
    };
    let under = |pid: u32| {
        let mut up = pid;
        while let Some(next) = parent(up).filter(|next| *next > 1) {
            if next == ancestor {
                return true;
            }
            up = next;
        }
        false
    };
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| read_proc(pid, "cmdline").contains(name) && under(pid) && keep(pid))
        .collect()
}

/// The agents of a team that work in one folder check their edits with one server per
/// language, not one each: a child's type error reaches it through its parent's pyright.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teams_agents_in_one_folder_share_their_language_server() {
    if !crate::sandbox_attacks::namespaces() {
        return;
    }
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("calc.py"), "x: int = 1\ny: int = 2\n").unwrap();
    let fake = FakeOpenAi::start().await;
    fake.set_fallback(|request| {
        let input = request["input"].to_string();
        let outputs = input.matches("function_call_output").count();
        if input.contains("Message Type: NEW_TASK\\nTask name: /root/beta") {
            return match outputs {
                0 => Reply::call_with_id(
                    "child-break",
                    "apply_patch",
                    json!({"input": update("calc.py", "y: int = 2", "y: int = \"two\"")}),
                ),
                _ => Reply::text("beta broke it"),
            };
        }
        match outputs {
            0 => Reply::call_with_id(
                "parent-edit",
                "apply_patch",
                json!({"input": update("calc.py", "x: int = 1", "x: int = 3")}),
            ),
            1 => Reply::call(
                "spawn_agent",
                json!({"task_name": "beta", "message": "break y", "fork_turns": "none"}),
            ),
            _ if !input.contains("Message Type: FINAL_ANSWER") => {
                Reply::call("wait_agent", json!({"timeout_ms": 60000}))
            }
            // Long enough to count the servers while both agents are alive.
            _ => Reply::text("done").delay(Duration::from_secs(4)),
        }
    });
    let home = tempfile::tempdir().unwrap();
    let config_dir = home.path().join(".config/kelp");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.toml"),
        format!("{PATIENT}[features]\nmulti_agent_v2 = true\n"),
    )
    .unwrap();
    let auth_file = home.path().join(".local/share/kelp/auth.json");
    std::fs::create_dir_all(auth_file.parent().unwrap()).unwrap();
    write_login(&auth_file, &fake, Login::ApiKey);
    let mut cmd = kelp(home.path());
    cmd.envs(fake.env())
        .env("PATH", path_with_servers())
        .arg("--cd")
        .arg(project.path())
        .args(["--approval", "full-auto", "run", "go"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let final_asked = || {
        fake.requests_to("/responses").iter().any(|request| {
            let input = request.json()["input"].to_string();
            input.contains("Message Type: FINAL_ANSWER")
                && !input.contains("Message Type: NEW_TASK")
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !final_asked() {
        assert!(
            std::time::Instant::now() < deadline,
            "the child never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let servers = servers_under(pid, "pyright-langserver");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", shown(&out));
    // The child's own request after its patch, which its parent's last one does not hold.
    let broke = fake
        .requests_to("/responses")
        .iter()
        .flat_map(|request| {
            request.json()["input"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .find(|item| item["call_id"] == "child-break" && item["type"] == "function_call_output")
        .map(|item| item["output"].to_string())
        .expect("the child's patch was answered");
    assert!(broke.contains("calc.py:2:10: error:"), "{broke}");
    assert_eq!(servers.len(), 1, "one pyright for both agents: {servers:?}");
}

/// A server slow to start costs the change it missed, not the conversation: it is waited for
/// again at the next change, whose type error then reaches the model.
#[tokio::test]
async fn a_server_slow_to_start_checks_the_next_change() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("calc.py"), "x: int = 1\ny: int = 2\n").unwrap();
    // pyright, seven seconds late: the first change's check (five seconds) misses its start.
    let slow = project.path().join("slow-pyright.sh");
    std::fs::write(&slow, "sleep 7\nexec pyright-langserver \"$@\"\n").unwrap();
    let fake = FakeOpenAi::start().await;
    let outputs = run(
        project.path(),
        &fake,
        vec![
            Reply::call_with_id(
                "first",
                "apply_patch",
                json!({"input": update("calc.py", "x: int = 1", "x: int = \"one\"")}),
            ),
            // Long enough for the server to have come up meanwhile.
            Reply::call_with_id("pause", "shell", json!({"command": "sleep 8"})),
            Reply::call_with_id(
                "second",
                "apply_patch",
                json!({"input": update("calc.py", "y: int = 2", "y: int = \"two\"")}),
            ),
            // A loaded machine may make the server's first check slow too: one more change.
            Reply::call_with_id(
                "third",
                "apply_patch",
                json!({"input": update("calc.py", "y: int = \"two\"", "y: int = 2.5")}),
            ),
            Reply::text("done"),
        ],
        &format!(
            "[lsp]\ntimeout_ms = 5000\n[lsp.pyright]\ncommand = [\"sh\", {:?}, \"--stdio\"]\n\
             extensions = [\".py\"]\n",
            slow.display().to_string()
        ),
    )
    .await;
    let first = output(&outputs, "first");
    // Missed: the server was still starting (the person is told so, the model is not).
    assert!(!first.contains("introduced"), "{first}");
    let (second, third) = (output(&outputs, "second"), output(&outputs, "third"));
    assert!(
        second.contains("calc.py:2:10: error:") || third.contains("calc.py:2:10: error:"),
        "{second}\n{third}"
    );
}
