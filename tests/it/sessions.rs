//! Saved conversations: written by one process, read back by another, robust to torn lines.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kelp::llm::types::{Content, Item, ReasoningSummary, Role};
use kelp::session::{
    self, SessionError, SessionHeader, SessionLog, SessionWriter, latest_for, list_sessions,
};

const CHILD_ENV: &str = "KELP_TEST_SESSION_STATE";
const PROJECT: &str = "/work/project";

/// A conversation with every kind of item, including what must survive byte for byte.
fn history() -> Vec<Item> {
    vec![
        Item::user_text(
            "# AGENTS.md instructions for /work/project\n\n<INSTRUCTIONS>\nbe brief\n</INSTRUCTIONS>",
        ),
        Item::user_text("Fix the failing test in parser.rs\nIt fails since yesterday."),
        Item::Reasoning {
            summary: vec![ReasoningSummary {
                kind: "summary_text".into(),
                text: "**Looking** at the parser".into(),
            }],
            encrypted_content: Some("gAAAAABo-opaque+/=\u{0}blob".into()),
        },
        Item::FunctionCall {
            name: "shell".into(),
            arguments: r#"{"command":["cargo","test"],"workdir":"/work/project"}"#.into(),
            call_id: "call_abc123".into(),
            namespace: None,
        },
        Item::FunctionCallOutput {
            call_id: "call_abc123".into(),
            output: "test result: FAILED.\n\t1 failed; \"quoted\" ✓".into(),
        },
        Item::Message {
            role: Role::Assistant,
            content: vec![
                Content::OutputText {
                    text: "Fixed: ".into(),
                },
                Content::OutputText {
                    text: "the lexer\nskipped a byte.".into(),
                },
            ],
        },
        Item::user_text("thanks"),
    ]
}

fn header(project: &str) -> SessionHeader {
    SessionHeader::new(project, "gpt-5.5")
}

fn write_session(state: &Path, project: &str, items: &[Item]) -> SessionWriter {
    let mut writer = SessionWriter::create(state, header(project));
    for item in items {
        writer.append(item).unwrap();
    }
    writer
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The child side: records `history()` and exits.
#[test]
#[ignore = "run as a child process by a_session_written_by_one_process_resumes_in_another"]
fn session_writer_child() {
    let Some(state) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    write_session(Path::new(&state), PROJECT, &history());
}

#[test]
fn a_session_written_by_one_process_resumes_in_another() {
    let state = tempfile::tempdir().unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sessions::session_writer_child",
            "--ignored",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, state.path())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());

    let summary = latest_for(state.path(), Path::new(PROJECT)).expect("the child's session");
    assert_eq!(
        summary.first_prompt.as_deref(),
        Some("Fix the failing test in parser.rs")
    );
    assert_eq!(summary.model, "gpt-5.5");
    let log = SessionLog::load(&summary.path).unwrap();
    assert_eq!(log.items, history(), "item for item");
    assert_eq!(log.skipped_lines, 0);
    assert_eq!(log.header.id, summary.id);
    assert_eq!(log.header.project_dir, PathBuf::from(PROJECT));
    assert_eq!(log.header.kelp_version, env!("CARGO_PKG_VERSION"));

    // Prompts are private: the file and every folder kelp made for it.
    assert_eq!(mode(&summary.path), 0o600);
    let mut dir = summary.path.parent().unwrap();
    while dir != state.path() {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
        dir = dir.parent().unwrap();
    }
}

#[test]
fn a_torn_last_line_and_a_damaged_middle_line_are_skipped_and_counted() {
    let state = tempfile::tempdir().unwrap();
    let items = history();
    let writer = write_session(state.path(), PROJECT, &items);
    let path = writer.path().unwrap().to_path_buf();
    drop(writer);

    // Damage a line in the middle, then leave a torn line as a killed process would.
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(3, "{\"type\":\"function_call\",\"name\":");
    let mut damaged = lines.join("\n");
    damaged.push_str("\n{\"type\":\"message\",\"role\":\"assis");
    std::fs::write(&path, damaged).unwrap();

    let log = SessionLog::load(&path).unwrap();
    assert_eq!(log.items, items);
    assert_eq!(log.skipped_lines, 2);

    // Resuming appends after the torn line without gluing onto it.
    let mut writer = SessionWriter::reopen(&path).unwrap();
    assert_eq!(writer.id(), log.header.id);
    writer.append(&Item::assistant_text("resumed")).unwrap();
    let log = SessionLog::load(&path).unwrap();
    assert_eq!(log.items.len(), items.len() + 1);
    assert_eq!(log.items.last(), Some(&Item::assistant_text("resumed")));
    assert_eq!(log.skipped_lines, 2);
}

#[test]
fn a_file_without_a_header_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.jsonl");
    std::fs::write(&path, "{\"type\":\"message\"}\n").unwrap();
    let err = SessionLog::load(&path).unwrap_err();
    assert!(matches!(err, SessionError::NotASession { .. }));
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[test]
fn nothing_is_written_until_the_first_prompt_and_instructions_come_first() {
    let state = tempfile::tempdir().unwrap();
    let mut writer = SessionWriter::create(state.path(), header(PROJECT));
    writer.append(&history()[0]).unwrap();
    assert!(writer.path().is_none());
    assert!(!session::sessions_dir(state.path()).exists());
    assert_eq!(list_sessions(state.path(), None).count(), 0);

    writer.append(&history()[1]).unwrap();
    let path = writer.path().unwrap().to_path_buf();
    let log = SessionLog::load(&path).unwrap();
    assert_eq!(log.items, history()[..2]);
    assert_eq!(
        log.header.first_prompt.as_deref(),
        Some("Fix the failing test in parser.rs")
    );
}

#[test]
fn listing_is_newest_first_per_directory_and_find_takes_id_prefixes() {
    let state = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for (i, project) in ["/a", "/b", "/a", "/a"].iter().enumerate() {
        let mut h = header(project);
        h.id = uuid::Uuid::parse_str(&format!("abcd0000-0000-4000-8000-00000000000{i}")).unwrap();
        h.started_at += chrono::Duration::days(i as i64 * 40) + chrono::Duration::seconds(i as i64);
        let mut w = SessionWriter::create(state.path(), h);
        w.append(&Item::user_text(format!("prompt {i}"))).unwrap();
        ids.push(w.id());
    }
    // A foreign file and a file with a broken header are passed over.
    let day = session::sessions_dir(state.path()).join("2001/01/01");
    std::fs::create_dir_all(&day).unwrap();
    std::fs::write(day.join("notes.txt"), "x").unwrap();
    std::fs::write(
        day.join(format!(
            "2001-01-01T00-00-00.000Z-{}.jsonl",
            uuid::Uuid::new_v4()
        )),
        "garbage\n",
    )
    .unwrap();
    // A name that starts like the ids but does not end in one is no match for a prefix.
    std::fs::write(
        day.join("2001-01-01T00-00-00.000Z-abcd0000-0000-4000-8000-00000000zzzz.jsonl"),
        "garbage\n",
    )
    .unwrap();

    let all: Vec<_> = list_sessions(state.path(), None).map(|s| s.id).collect();
    assert_eq!(all, [ids[3], ids[2], ids[1], ids[0]]);
    let in_a: Vec<_> = list_sessions(state.path(), Some(Path::new("/a")))
        .map(|s| s.first_prompt.unwrap())
        .collect();
    assert_eq!(in_a, ["prompt 3", "prompt 2", "prompt 0"]);
    assert_eq!(
        latest_for(state.path(), Path::new("/b")).unwrap().id,
        ids[1]
    );
    assert!(latest_for(state.path(), Path::new("/c")).is_none());

    let id = ids[1].to_string();
    assert_eq!(session::find(state.path(), &id).unwrap().id, ids[1]);
    assert_eq!(
        session::find(state.path(), &id.to_uppercase()).unwrap().id,
        ids[1]
    );
    let err = session::find(state.path(), "zzz").unwrap_err();
    assert_eq!(err.to_string(), "no session matches \"zzz\"");
    assert!(matches!(
        session::find(state.path(), "abcd"),
        Err(SessionError::Ambiguous { count: 4, .. })
    ));
}

#[test]
fn appends_are_whole_lines_on_disk_at_once() {
    let state = tempfile::tempdir().unwrap();
    let mut writer = write_session(state.path(), PROJECT, &history()[..2]);
    let path = writer.path().unwrap().to_path_buf();
    // Another handle sees each item as soon as append returns: nothing waits in a buffer.
    for item in &history()[2..] {
        writer.append(item).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n'));
        let last: Item = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(&last, item);
    }
}
