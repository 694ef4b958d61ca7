//! `kelp sessions`, `kelp --continue` and `kelp --resume ID`, run as a new user would.

use std::path::{Path, PathBuf};

use kelp::llm::types::Item;
use kelp::session::{SessionHeader, SessionWriter};
use serde_json::Value;

use crate::support::{kelp, shown};

/// Saves a conversation of `project` in `home`'s state dir, started `days_ago`.
fn save(home: &Path, project: &Path, prompt: &str, days_ago: i64) -> (uuid::Uuid, PathBuf) {
    let state = home.join(".local/state/kelp");
    let mut header = SessionHeader::new(project, "gpt-5.5");
    header.started_at -= chrono::Duration::days(days_ago);
    let mut writer = SessionWriter::create(&state, header);
    writer.append(&Item::user_text(prompt)).unwrap();
    writer.append(&Item::assistant_text("done")).unwrap();
    (writer.id(), writer.path().unwrap().to_path_buf())
}

/// Starts the interactive client with `args` and checks it shows the transcript of the session
/// whose first prompt is `prompt` (the client itself needs a terminal).
fn resumes_in_the_tui(home: &Path, args: &[&str], prompt: &str) {
    resumes_in_the_tui_in(home, home, args, prompt);
}

/// [`resumes_in_the_tui`] started in `cwd`.
fn resumes_in_the_tui_in(home: &Path, cwd: &Path, args: &[&str], prompt: &str) {
    let mut pty = crate::pty::Pty::spawn_in(
        Path::new(env!("CARGO_BIN_EXE_kelp")),
        args,
        home,
        cwd,
        &[("OPENAI_API_KEY", "sk-test-0000000000001234")],
        250,
        20,
    );
    let screen = pty.wait_for(&format!("› {prompt}"), std::time::Duration::from_secs(10));
    assert!(
        screen.contains("done"),
        "the answer of the session:\n{screen}"
    );
    pty.send("\x04");
    assert!(pty.wait_exit(std::time::Duration::from_secs(10)));
}

struct World {
    home: tempfile::TempDir,
    project: PathBuf,
    other: PathBuf,
    empty: PathBuf,
}

fn world() -> World {
    let home = tempfile::tempdir().unwrap();
    let base = home.path().canonicalize().unwrap();
    let [project, other, empty] = ["work/app", "work/lib", "work/none"].map(|p| base.join(p));
    for dir in [&project, &other, &empty] {
        std::fs::create_dir_all(dir).unwrap();
    }
    World {
        home,
        project,
        other,
        empty,
    }
}

#[test]
fn sessions_lists_this_directory_as_a_table_and_every_directory_with_all() {
    let w = world();
    let (old, _) = save(w.home.path(), &w.project, "first try\nmore detail", 3);
    let (new, _) = save(w.home.path(), &w.project, "second try", 0);
    let (elsewhere, _) = save(w.home.path(), &w.other, "library work", 1);

    let out = kelp(w.home.path())
        .args(["sessions", "--cd"])
        .arg(&w.project)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", shown(&out));
    let table = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<_> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("ID "), "{table}");
    let prompt_col = lines[0].find("TITLE").unwrap();
    assert!(lines[1].starts_with(&new.to_string()[..8]), "{table}");
    assert_eq!(&lines[1][prompt_col..], "second try", "aligned: {table}");
    assert!(lines[2].starts_with(&old.to_string()[..8]), "{table}");
    assert_eq!(&lines[2][prompt_col..], "first try");
    assert!(lines[2].contains(" 3d "), "{table}");
    assert!(lines[1].contains("~/work/app"), "{table}");
    assert!(!table.contains("library work"));

    let out = kelp(w.home.path())
        .args(["sessions", "--all", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", shown(&out));
    let rows: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<_> = rows
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        [new.to_string(), elsewhere.to_string(), old.to_string()]
    );
    assert_eq!(rows[1]["project_dir"], w.other.display().to_string());
    assert_eq!(rows[1]["first_prompt"], "library work");
    assert_eq!(rows[1]["model"], "gpt-5.5");
    assert!(rows[1]["size"].as_u64().unwrap() > 100);
    assert!(Path::new(rows[1]["path"].as_str().unwrap()).is_file());

    let out = kelp(w.home.path())
        .args(["sessions", "-n", "1", "--json", "--all"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);

    let out = kelp(w.home.path())
        .args(["sessions", "--cd"])
        .arg(&w.empty)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert!(shown(&out).contains("no saved session for this directory"));
}

#[test]
fn continue_and_resume_find_the_session_or_say_why_not() {
    let w = world();
    save(w.home.path(), &w.project, "older", 2);
    save(w.home.path(), &w.project, "newest", 0);
    let (other, _) = save(w.home.path(), &w.other, "elsewhere", 0);

    let project = w.project.display().to_string();
    resumes_in_the_tui(w.home.path(), &["--continue", "--cd", &project], "newest");

    let out = kelp(w.home.path())
        .args(["--continue", "--cd"])
        .arg(&w.empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        shown(&out).trim(),
        format!(
            "kelp: no saved session for this directory ({})",
            w.empty.display()
        )
    );

    // An id (or a prefix of one) finds a session of any directory.
    resumes_in_the_tui(
        w.home.path(),
        &["--resume", &other.to_string()[..13], "--cd", &project],
        "elsewhere",
    );
    // As Codex users type it: `kelp resume ID`, `kelp resume --last`.
    resumes_in_the_tui(
        w.home.path(),
        &["resume", &other.to_string()[..13], "--cd", &project],
        "elsewhere",
    );
    resumes_in_the_tui(
        w.home.path(),
        &["resume", "--last", "--cd", &project],
        "newest",
    );
    let out = kelp(w.home.path())
        .args(["resume", "--last", "--continue"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));

    let out = kelp(w.home.path())
        .args(["--resume", "0000dead"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(shown(&out).trim(), "kelp: no session matches \"0000dead\"");

    // Without an id: the client opens on the picker of the directory's sessions, newest
    // first, and Enter resumes the one chosen.
    let mut pty = crate::pty::Pty::spawn(
        Path::new(env!("CARGO_BIN_EXE_kelp")),
        &["--cd", &project, "--resume"],
        w.home.path(),
        &[("OPENAI_API_KEY", "sk-test-0000000000001234")],
        80,
        24,
    );
    let wait = std::time::Duration::from_secs(10);
    let screen = pty.wait_until(
        |s| s.contains("Resume a conversation") && s.contains("newest") && s.contains("older"),
        wait,
        "the picker with the sessions",
    );
    let (at_newest, at_older) = (
        screen.find("newest").unwrap(),
        screen.find("older").unwrap(),
    );
    assert!(at_newest < at_older, "{screen}");
    assert!(!screen.contains("elsewhere"), "{screen}");
    pty.send("\r");
    pty.wait_until(
        |s| !s.contains("Resume a conversation") && s.contains("› newest") && s.contains("done"),
        wait,
        "the newest session resumed",
    );
    pty.send("\x04");
    assert!(pty.wait_exit(wait));

    let out = kelp(w.home.path())
        .args(["--continue", "--resume", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = kelp(w.home.path())
        .args(["--cd", "/definitely/not/here", "sessions"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        shown(&out).contains("--cd /definitely/not/here"),
        "{}",
        shown(&out)
    );
}

/// Runs `kelp` with `args` in `home`, failing the test if it has not ended within 10 s.
fn within_ten_seconds(home: &Path, cwd: &Path, args: &[&str]) -> std::process::Output {
    fed_within_ten_seconds(home, cwd, args, "")
}

/// [`within_ten_seconds`] with `input` on stdin, which then closes.
fn fed_within_ten_seconds(
    home: &Path,
    cwd: &Path,
    args: &[&str],
    input: &str,
) -> std::process::Output {
    use std::io::Write;
    let mut child = kelp(home)
        .args(args)
        .current_dir(cwd)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("kelp {args:?} hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn fifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo reads a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
}

/// FIFOs where kelp expects its own files (a session file, `config.toml`, `kelp.log`) cost a
/// warning, never a hang: the listing still shows the real conversation.
#[test]
fn fifos_in_place_of_kelps_files_are_named_not_waited_on() {
    let w = world();
    let (id, real) = save(w.home.path(), &w.project, "the real one", 0);
    // Named as a session file is, newer than the real one, so a listing meets it first.
    let name = real.file_name().unwrap().to_string_lossy().into_owned();
    let newer = name
        .replacen(&id.to_string(), &uuid::Uuid::new_v4().to_string(), 1)
        .replacen("20", "29", 1);
    fifo(&real.with_file_name(newer));
    fifo(&w.home.path().join(".config/kelp/config.toml"));
    fifo(&w.home.path().join(".local/state/kelp/kelp.log"));

    let out = within_ten_seconds(w.home.path(), &w.project, &["sessions", "--all"]);
    assert!(out.status.success(), "{}", shown(&out));
    let text = shown(&out);
    assert!(text.contains("the real one"), "{text}");
    assert!(
        text.contains("config.toml is a FIFO (named pipe), not a regular file"),
        "{text}"
    );
    assert!(text.contains("logging is off"), "{text}");

    // The faces list the real conversation too, and `run --continue` goes on with it.
    let hosts = [
        (
            "app-server",
            r#"{"id":1,"method":"initialize","params":{"clientInfo":{"name":"host","version":"1"}}}
{"id":2,"method":"thread/list","params":{}}
"#,
        ),
        (
            "acp",
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":1}}
{"jsonrpc":"2.0","id":2,"method":"session/list","params":{}}
"#,
        ),
    ];
    for (face, input) in hosts {
        let out = fed_within_ten_seconds(w.home.path(), &w.project, &[face], input);
        let listed = String::from_utf8_lossy(&out.stdout);
        assert!(
            listed.contains(&id.to_string()) && listed.contains("\"id\":2"),
            "{face}: {}",
            shown(&out)
        );
    }
    let out = within_ten_seconds(
        w.home.path(),
        &w.project,
        &["run", "--json", "--continue", "more"],
    );
    let first = String::from_utf8_lossy(&out.stdout);
    assert!(
        first.starts_with(&format!(
            r#"{{"type":"thread.started","thread_id":"{id}"}}"#
        )),
        "{}",
        shown(&out)
    );
}

/// A damaged session file read again and again (a host paging it while it grows) is warned
/// about once in kelp.log, not once a read: the log does not fill with the same line.
#[test]
fn a_damaged_session_is_warned_about_once_however_often_it_is_read() {
    use std::io::{BufRead, Write};
    let w = world();
    let (id, path) = save(w.home.path(), &w.project, "damaged", 0);
    let mut child = kelp(w.home.path())
        .arg("app-server")
        .current_dir(&w.project)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut call = |n: u32, method: &str, params: &str| {
        writeln!(
            stdin,
            r#"{{"id":{n},"method":"{method}","params":{params}}}"#
        )
        .unwrap();
        let wanted = format!("\"id\":{n},");
        lines
            .by_ref()
            .map(Result::unwrap)
            .find(|line| line.contains(&wanted))
            .unwrap()
    };
    call(
        0,
        "initialize",
        r#"{"clientInfo":{"name":"host","version":"1"}}"#,
    );
    for n in 1..=20 {
        // The file changes between reads, so each read parses it again.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(format!("{{not json {n}\n").as_bytes())
            .unwrap();
        let read = call(
            n,
            "thread/read",
            &format!(r#"{{"threadId":"{id}","includeTurns":true}}"#),
        );
        assert!(read.contains("damaged"), "{read}");
    }
    // Closing stdin ends the app-server.
    drop(stdin);
    child.wait().unwrap();
    let log = std::fs::read_to_string(w.home.path().join(".local/state/kelp/kelp.log")).unwrap();
    assert_eq!(log.matches("skipped a session line").count(), 1, "{log}");
}

/// A conversation open in one kelp is not continued by a second one, which says so: two
/// writers would interleave two conversations in one file.
#[test]
fn a_conversation_open_elsewhere_is_not_written_by_a_second_kelp() {
    let w = world();
    let (id, path) = save(w.home.path(), &w.project, "held elsewhere", 0);
    let held = SessionWriter::reopen(&path).unwrap();
    let before = std::fs::read(&path).unwrap();
    let out = within_ten_seconds(
        w.home.path(),
        &w.project,
        &["run", "--resume", &id.to_string(), "and more"],
    );
    assert!(!out.status.success(), "{}", shown(&out));
    let text = shown(&out);
    assert!(text.contains("is open in another kelp"), "{text}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing written");
    drop(held);
    assert!(
        SessionWriter::reopen(&path).is_ok(),
        "free once the first lets go"
    );
}

/// A first prompt and a folder name holding escape sequences (OSC 52 setting the clipboard, a
/// screen clear, a title, a hyperlink, and a C1 CSI): `kelp sessions` prints none of them raw,
/// in the table or the JSON, and neither does the line saying a folder has none.
#[test]
fn what_sessions_prints_from_files_and_folders_reaches_no_terminal_raw() {
    let world = world();
    let hostile = world.home.path().join("work/x\x1b]0;owned\x07y\x1b[2J");
    std::fs::create_dir_all(&hostile).unwrap();
    let prompt = "look \x1b]52;c;cm0gLXJmIH4=\x07 here \x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\ \u{9b}31m red";
    save(world.home.path(), &hostile, prompt, 0);
    let raw = |bytes: &[u8]| bytes.contains(&0x1b) || bytes.contains(&0x07);
    let c1 = |text: &str| text.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c));
    for args in [&["sessions", "--all"][..], &["sessions", "--all", "--json"]] {
        let out = kelp(world.home.path())
            .current_dir(&hostile)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", shown(&out));
        assert!(
            !raw(&out.stdout),
            "{args:?}: {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(!c1(&text), "{args:?}: {text:?}");
        assert!(text.contains("look"), "{text}");
    }
    let none = world.home.path().join("work/\x1b]52;c;cm0=\x07none");
    std::fs::create_dir_all(&none).unwrap();
    let out = kelp(world.home.path())
        .current_dir(&none)
        .arg("sessions")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no saved session"),
        "{}",
        shown(&out)
    );
    assert!(
        !raw(&out.stderr),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `kelp fork`, `archive`, `unarchive` and `delete`, by id prefix or by name: a fork opens the
/// client on a new conversation that says where it came from; an archived conversation
/// leaves the list and `--continue` until unarchived, and `--all` shows it marked; delete
/// asks on a terminal, refuses to go unasked elsewhere, and `--yes` is for scripts.
#[test]
fn sessions_are_forked_archived_unarchived_and_deleted_from_the_command_line() {
    let w = world();
    let home = w.home.path();
    let (fix, _) = save(home, &w.project, "fix the parser", 2);
    let (docs, docs_path) = save(home, &w.project, "write the docs", 1);
    let state = home.join(".local/state/kelp");
    kelp::session::shelf::set_name(&state, docs, "docs day").unwrap();
    let run = |args: &[&str]| {
        kelp(home)
            .current_dir(&w.project)
            .args(args)
            .output()
            .unwrap()
    };
    let listed = |args: &[&str]| String::from_utf8_lossy(&run(args).stdout).to_string();

    // A fork by name: the client opens on the copy, a new conversation beside the source.
    resumes_in_the_tui(home, &["fork", "docs day"], "write the docs");
    let all: Vec<Value> = listed(&["sessions", "--json"])
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(docs_path.exists(), "the source stays");

    // Archived by id prefix: gone from the list and from --continue's choice, marked in --all.
    let short = &fix.to_string()[..8];
    let out = run(&["archive", short]);
    assert!(out.status.success(), "{}", shown(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Archived “fix the parser”"),
        "{}",
        shown(&out)
    );
    assert!(!listed(&["sessions"]).contains("fix the parser"));
    let every = listed(&["sessions", "--all"]);
    assert!(every.contains("(archived) fix the parser"), "{every}");
    let out = run(&["archive", short]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "already archived: {}",
        shown(&out)
    );
    let out = run(&["unarchive", short]);
    assert!(out.status.success(), "{}", shown(&out));
    assert!(listed(&["sessions"]).contains("fix the parser"));

    // Delete: not unasked without a terminal; --yes deletes, by name.
    let out = run(&["delete", "docs day"]);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("give --yes"),
        "{}",
        shown(&out)
    );
    assert!(docs_path.exists());
    let out = run(&["delete", "docs day", "--yes"]);
    assert!(out.status.success(), "{}", shown(&out));
    assert!(!docs_path.exists());
    let out = run(&["delete", "no such thing", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no session matches"),
        "{}",
        shown(&out)
    );

    // An archived conversation is deleted as well, without a word about not finding it; by
    // the title the list shows, with Codex's --force.
    let out = run(&["archive", short]);
    assert!(out.status.success(), "{}", shown(&out));
    let out = run(&["delete", "fix the parser", "--force"]);
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{}", shown(&out));
    assert!(!listed(&["sessions", "--all"]).contains("fix the parser"));

    // --last forks this folder's latest: the fork of the docs, the one conversation left.
    resumes_in_the_tui_in(home, &w.project, &["fork", "--last"], "write the docs");
    assert_eq!(listed(&["sessions", "--json"]).lines().count(), 2);
}

/// On a terminal `kelp delete` asks, and anything but yes keeps the conversation.
#[test]
fn delete_asks_on_a_terminal() {
    let w = world();
    let home = w.home.path();
    let (id, path) = save(home, &w.project, "keep me", 0);
    let short = id.to_string()[..8].to_string();
    for (answer, kept) in [("n\r", true), ("y\r", false)] {
        let mut pty = crate::pty::Pty::spawn(
            Path::new(env!("CARGO_BIN_EXE_kelp")),
            &["delete", &short],
            home,
            &[],
            100,
            10,
        );
        pty.wait_for(
            "for good? Its history cannot come back. [y/N]",
            std::time::Duration::from_secs(10),
        );
        pty.send(answer);
        let code = pty.wait_exit_code(std::time::Duration::from_secs(10));
        assert_eq!(path.exists(), kept, "{answer:?}: {}", pty.screen());
        assert_eq!(code, if kept { 1 } else { 0 });
    }
}

/// `kelp fork` with neither an id nor `--last`: the client opens on the picker of this
/// directory's conversations, as Codex's `fork` does, and the one picked is forked.
#[test]
fn fork_alone_picks_the_conversation_to_fork() {
    let w = world();
    let home = w.home.path();
    save(home, &w.project, "fix the parser", 2);
    save(home, &w.project, "write the docs", 1);
    let mut pty = crate::pty::Pty::spawn(
        Path::new(env!("CARGO_BIN_EXE_kelp")),
        &["fork", "--cd", w.project.to_str().unwrap()],
        home,
        &[("OPENAI_API_KEY", "sk-test-0000000000001234")],
        100,
        24,
    );
    pty.wait_for("fix the parser", std::time::Duration::from_secs(10));
    pty.send("\r");
    pty.wait_for("› write the docs", std::time::Duration::from_secs(10));
    let state = home.join(".local/state/kelp");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let forked = loop {
        let all: Vec<_> = kelp::session::list_sessions(&state, None).collect();
        if let Some(copy) = all.iter().find(|s| s.forked_from.is_some()) {
            break copy.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no fork among {all:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(forked.first_prompt.as_deref(), Some("write the docs"));
    pty.send("\x04");
    assert!(pty.wait_exit(std::time::Duration::from_secs(10)));
}

/// `kelp sessions --grep TEXT`: the conversations where it was said, in any case, each with the
/// line that says it; `--all` reaches every folder's and the archived ones.
#[test]
fn sessions_grep_finds_conversations_by_what_was_said_in_them() {
    let w = world();
    let (tls, _) = save(w.home.path(), &w.project, "fix the TLS handshake", 2);
    save(w.home.path(), &w.project, "rename the module", 1);
    let (library, _) = save(w.home.path(), &w.other, "why does tls fail here?", 0);
    let (shelved, _) = save(w.home.path(), &w.other, "old tls notes", 3);
    let out = kelp(w.home.path())
        .args(["archive", &shelved.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", shown(&out));

    let grep = |args: &[&str]| {
        let out = kelp(w.home.path())
            .args(["sessions", "--cd"])
            .arg(&w.project)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", shown(&out));
        (String::from_utf8(out.stdout.clone()).unwrap(), shown(&out))
    };
    let (table, _) = grep(&["--grep", "Tls"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[1].starts_with(&tls.to_string()[..8]), "{table}");
    assert_eq!(lines[2].trim(), "prompt:  fix the TLS handshake", "{table}");

    let (json, _) = grep(&["--grep", "tls", "--all", "--json"]);
    let rows: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [library.to_string(), tls.to_string(), shelved.to_string()]
    );
    assert_eq!(rows[0]["match"]["line"], "why does tls fail here?");
    assert_eq!(rows[0]["match"]["kind"], "prompt");
    assert_eq!(rows[2]["archived"], true);

    let (nothing, said) = grep(&["--grep", "handshake protocol"]);
    assert!(nothing.is_empty());
    assert!(said.contains("No conversation here says"), "{said}");
}
