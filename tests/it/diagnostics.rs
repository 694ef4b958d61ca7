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
    let parent = |pid: u32| -> Option<u32> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("PPid:"))?
            .trim()
            .parse()
            .ok()
    };
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            if !String::from_utf8_lossy(&cmdline).contains(name) {
                return None;
            }
            let mut up = pid;
            while let Some(next) = parent(up).filter(|next| *next > 1) {
                if next == ancestor {
                    return Some(pid);
                }
                up = next;
            }
            None
        })
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
