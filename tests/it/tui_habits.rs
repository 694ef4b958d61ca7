//! The commands and keys a Codex 0.171 user types from habit, each in an 80×24 SSH window
//! against the fake server: `/pwd`, `/plan`, `/mention`, `/presets`, `/export`,
//! `/recap`, `/usage`, `/config`, `/warnings` and F2, `/rollout`, `/feedback`, `/archive`,
//! `/delete`, `/cd`, `/keymap`, `/resume` over what was said, `/account`, Alt+, and Alt+., `/title`, `/theme`, `/vim`, `/tui` and `--no-alt-screen`, a
//! pasted image path and Ctrl+V, and Codex's commands kelp does not serve.

use std::path::Path;
use std::time::Duration;

use crate::fake_openai::{FakeOpenAi, Reply};
use crate::tui_e2e::over_ssh;

const WAIT: Duration = Duration::from_secs(15);

/// `screen` for a snapshot: the temporary home folder's path as one of the same length, and
/// no trailing spaces (what an earlier frame left past a row's end).
fn without_home(screen: &str, home: &Path) -> String {
    let home = home.display().to_string();
    let stand_in: String = "/tmp/.tmpHOME"
        .chars()
        .chain(std::iter::repeat('0'))
        .take(home.len())
        .collect();
    screen
        .replace(&home, &stand_in)
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits for the client to be up with the home folder as its project: the composer, and the
/// word on the read-only sandbox that comes from the core a moment later (a screen taken
/// before it would be drawn again with it in between).
fn ready(pty: &mut crate::pty::Pty) {
    pty.wait_for("Ask anything", WAIT);
    pty.wait_for("commands are read-only here", WAIT);
}

/// The conversations on a shelf of kelp's (`sessions` or `archived_sessions`), as files.
fn saved_files(home: &Path, shelf: &str) -> Vec<std::path::PathBuf> {
    fn walk(dir: &Path, into: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, into);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                into.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&home.join(".local/state/kelp").join(shelf), &mut found);
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_small_commands_answer_as_codex_users_expect() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    ready(&mut pty);

    pty.send("/pwd\r");
    let home_shown = std::fs::canonicalize(home.path()).unwrap();
    pty.wait_for(
        &format!("Working directory: {}", home_shown.display()),
        WAIT,
    );

    // One of Codex's that kelp leaves out on purpose says why, not "unknown".
    pty.send("/pets\r");
    let screen = pty.wait_for("kelp does not serve /pets", WAIT);
    assert!(!screen.contains("unknown command"), "{screen}");
    insta::assert_snapshot!(
        "a_codex_command_kelp_does_not_serve",
        without_home(&screen, home.path())
    );

    // F2 lists what went wrong in this run, the refusal above among it.
    pty.send("\x1bOQ");
    let screen = pty.wait_for("Warnings and errors of this run (1):", WAIT);
    assert!(screen.contains("1. kelp does not serve /pets"), "{screen}");

    pty.send("/config\r");
    pty.wait_for("Settings in force, by the file that gave them:", WAIT);
    pty.send("/usage\r");
    pty.wait_for("Tokens:", WAIT);
    pty.send("/rollout\r");
    pty.wait_for("Not saved yet", WAIT);

    // Alt+. and Alt+, step the effort the status line shows.
    pty.send("\x1b.");
    pty.wait_for("reasoning effort: high", WAIT);
    pty.send("\x1b,");
    pty.send("\x1b,");
    pty.wait_for("reasoning effort: low", WAIT);

    // /mention puts @ in the composer, and the file finder opens on the project.
    std::fs::write(home.path().join("notes.md"), "hello\n").unwrap();
    pty.send("/mention\r");
    pty.wait_for("notes.md", WAIT);
    pty.send("\x1b\x15");

    // /plan TEXT: plan mode, and the text asked in it.
    fake.push_response(Reply::text("Here is the plan."));
    pty.send("/plan sketch the change\r");
    pty.wait_for("Here is the plan.", WAIT);
    let sent = fake.requests_to("/responses");
    let request = sent.last().unwrap().json().to_string();
    assert!(request.contains("sketch the change"), "the text is asked");
    assert!(request.to_lowercase().contains("plan mode"), "in plan mode");

    pty.send("/rollout\r");
    let screen = pty.wait_for("The conversation is saved in", WAIT);
    let saved = saved_files(home.path(), "sessions");
    assert_eq!(saved.len(), 1, "{saved:?}");
    let name = saved[0].file_name().unwrap().to_string_lossy().to_string();
    let flat: String = screen.split_whitespace().collect();
    assert!(flat.contains(&name), "{screen}");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_the_conversation_as_markdown_and_never_over_a_file() {
    use base64::Engine;
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_response(Reply::text("The answer is **42**."));
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    ready(&mut pty);
    pty.send("/export\r");
    pty.wait_for("nothing said yet", WAIT);
    pty.send("what is the answer?\r");
    pty.wait_for("The answer is", WAIT);

    pty.send("/export\r");
    let screen = pty.wait_for("Copy to the clipboard", WAIT);
    assert!(screen.contains("Export the conversation"), "{screen}");
    // The file's name is offered in the composer, to edit.
    pty.send("\r");
    pty.wait_for("› /export kelp-", WAIT);
    pty.send("\x15/export talk.md\r");
    pty.wait_for("Exported the conversation to", WAIT);
    let written = std::fs::read_to_string(home.path().join("talk.md")).unwrap();
    assert_eq!(
        written,
        "# what is the answer?\n\n## You\n\nwhat is the answer?\n\nThe answer is **42**.\n"
    );

    // A second export by that name leaves the first as it is.
    pty.send("/export talk.md\r");
    pty.wait_for("talk.md exists; give another name", WAIT);
    assert_eq!(
        std::fs::read_to_string(home.path().join("talk.md")).unwrap(),
        written
    );

    pty.send("/export clipboard\r");
    pty.wait_for("sent the conversation to the terminal's clipboard", WAIT);
    let raw = String::from_utf8_lossy(&pty.output()).to_string();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&written);
    assert!(
        raw.contains(&format!("\x1b]52;c;{encoded}\x07")),
        "the Markdown"
    );
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recap_is_asked_beside_the_conversation_and_adds_nothing_to_it() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_responses([
        Reply::text("Renamed the module."),
        Reply::text("You asked to rename the module; it is done."),
        Reply::text("Next thing done."),
    ]);
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    ready(&mut pty);
    pty.send("/recap\r");
    pty.wait_for("Nothing to recap yet.", WAIT);
    pty.send("rename the module\r");
    pty.wait_for("Renamed the module.", WAIT);
    pty.send("/recap\r");
    pty.wait_for("it is done.", WAIT);
    let recap = fake.requests_to("/responses")[1].json()["input"].to_string();
    assert!(
        recap.contains("Recap this conversation"),
        "the recap is asked"
    );
    assert!(recap.contains("rename the module"), "with the conversation");
    pty.send("\x1b");
    pty.wait_until(
        |screen| !screen.contains("Side conversation"),
        WAIT,
        "back in the conversation",
    );
    pty.send("next thing\r");
    pty.wait_for("Next thing done.", WAIT);
    let next = fake.requests_to("/responses")[2].json()["input"].to_string();
    assert!(
        !next.contains("Recap this conversation"),
        "nothing of the recap is kept"
    );
    assert!(
        next.contains("next thing"),
        "the next prompt goes on the conversation"
    );
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presets_lists_the_saved_prompts_and_feedback_saves_a_report() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let prompts = home.path().join(".config/kelp/prompts");
    std::fs::create_dir_all(&prompts).unwrap();
    std::fs::write(
        prompts.join("explain.md"),
        "---\ndescription: explain a file\n---\nExplain $1.\n",
    )
    .unwrap();
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    ready(&mut pty);
    pty.send("/presets\r");
    let screen = pty.wait_for("explain a file", WAIT);
    assert!(screen.contains("Saved prompts"), "{screen}");
    pty.send("\r");
    pty.wait_for("› /explain ", WAIT);
    pty.send("\x15");

    pty.send("/feedback\r");
    pty.wait_for("Saved a report in", WAIT);
    let dir = home.path().join(".local/state/kelp/feedback");
    let reports: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(reports.len(), 1);
    let path = reports[0].path();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let report = std::fs::read_to_string(&path).unwrap();
    assert!(report.starts_with("kelp feedback report, "), "{report}");
    assert!(report.contains("over SSH: yes"), "{report}");
    assert!(report.contains("--- the end of "), "{report}");
    assert!(!report.contains(&fake.api_key()), "no key in a report");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_and_delete_shelve_the_conversation_as_kelp_leaves() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_responses([Reply::text("Kept."), Reply::text("Gone soon.")]);

    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    ready(&mut pty);
    pty.send("/archive\r");
    pty.wait_for("nothing is saved yet", WAIT);
    pty.send("keep this\r");
    pty.wait_for("Kept.", WAIT);
    pty.send("/archive\r");
    assert_eq!(pty.wait_exit_code(WAIT), 0);
    let screen = pty.screen();
    assert!(screen.contains("Archived"), "{screen}");
    assert!(screen.contains("kelp unarchive"), "{screen}");
    assert!(saved_files(home.path(), "sessions").is_empty());
    assert_eq!(saved_files(home.path(), "archived_sessions").len(), 1);

    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    ready(&mut pty);
    pty.send("drop this\r");
    pty.wait_for("Gone soon.", WAIT);
    pty.send("/delete\r");
    let screen = pty.wait_for("Delete this conversation for good?", WAIT);
    insta::assert_snapshot!("delete_asks_first", without_home(&screen, home.path()));
    // No keeps it; kelp stays.
    pty.send("\x1b[B\r");
    pty.wait_for("Nothing deleted.", WAIT);
    assert_eq!(saved_files(home.path(), "sessions").len(), 1);
    pty.send("/delete\r");
    pty.wait_for("Delete this conversation for good?", WAIT);
    pty.send("\r");
    assert_eq!(pty.wait_exit_code(WAIT), 0);
    assert!(pty.screen().contains("Deleted"), "{}", pty.screen());
    assert!(saved_files(home.path(), "sessions").is_empty());
}

/// A 300-line paste shows as Codex shows it, `[Pasted Content N chars]`; the prompt sent
/// carries it whole, and Ctrl+O puts it in the composer to read and edit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_paste_is_a_placeholder_sent_whole() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_response(Reply::text("Read all of it."));
    let long: String = (1..=300).map(|n| format!("log line {n:03}\n")).collect();
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    ready(&mut pty);
    pty.paste(&long);
    let screen = pty.wait_for("[Pasted Content 3900 chars]", WAIT);
    assert!(!screen.contains("log line 001"), "{screen}");
    // An Enter carried in with a paste sends nothing: the person's own comes after.
    std::thread::sleep(Duration::from_millis(300));
    pty.send("\r");
    pty.wait_for("Read all of it.", WAIT);
    let sent = fake.requests_to("/responses")[0].json()["input"].to_string();
    assert!(
        sent.contains("log line 001") && sent.contains("log line 300"),
        "the paste whole"
    );

    pty.paste(&long);
    pty.wait_for("[Pasted Content 3900 chars]", WAIT);
    pty.send("\x0f");
    pty.wait_until(
        |screen| {
            let composer = screen.rsplit("────").next().unwrap_or_default();
            !screen.contains("[Pasted Content") && composer.contains("log line 300")
        },
        WAIT,
        "the paste in the composer",
    );
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// `/fast` asks for Codex's fast tier (the API's `priority`) from the next request on, the
/// status line says so, and `/fast` again goes back to the default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_mode_asks_for_the_priority_tier_until_turned_off() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_responses([Reply::text("Quick."), Reply::text("Plain.")]);
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    ready(&mut pty);
    pty.send("/fast\r");
    let screen = pty.wait_for("Fast mode is on", WAIT);
    assert!(screen.contains("gpt-5.5 fast"), "{screen}");
    pty.send("hurry\r");
    pty.wait_for("Quick.", WAIT);
    pty.send("/fast\r");
    let screen = pty.wait_for("Fast mode is off", WAIT);
    assert!(!screen.contains("gpt-5.5 fast"), "{screen}");
    pty.send("slowly\r");
    pty.wait_for("Plain.", WAIT);
    let sent = fake.requests_to("/responses");
    assert_eq!(sent[0].json()["service_tier"], "priority");
    assert!(sent[1].json().get("service_tier").is_none());
    pty.send("/fast sometimes\r");
    pty.wait_for("/fast sometimes: /fast alone", WAIT);
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// The text written since byte `from` of what the client wrote.
fn written_since(pty: &crate::pty::Pty, from: usize) -> String {
    String::from_utf8_lossy(&pty.output()[from..]).into_owned()
}

/// Waits until kelp's config file holds `wanted`.
fn wait_for_config(home: &Path, wanted: &str) -> String {
    let file = home.join(".config/kelp/config.toml");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if text.contains(wanted) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{wanted:?} never saved: {text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `/title` picks the window title's items by Codex's names: the title follows at once (OSC
/// 2, the items joined by ` | `), the choice is saved as Codex keeps it (`[tui]
/// terminal_title`) and read at the next start; the first row gives kelp's own title back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn title_picks_what_the_window_title_shows() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    ready(&mut pty);
    let mark = pty.output().len();
    pty.send("/title\r");
    pty.wait_for("Title: enter turns an item on or off", WAIT);
    // app-name, then run-state four rows below it.
    pty.send("\x1b[B\r");
    pty.wait_for("1. kelp's name", WAIT);
    pty.send("\x1b[B\x1b[B\x1b[B\x1b[B\r");
    let screen = pty.wait_for("2. Ready, Working or Waiting", WAIT);
    insta::assert_snapshot!("title_picker", without_home(&screen, home.path()));
    pty.wait_until(
        |_| written_since(&pty, mark).contains("\x1b]2;kelp | Ready\x07"),
        WAIT,
        "the picked title",
    );
    wait_for_config(
        home.path(),
        "[tui]\nterminal_title = [\"app-name\", \"run-state\"]",
    );
    pty.send("\x1b");
    std::thread::sleep(Duration::from_millis(150));
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));

    // The next start shows the title saved, and the first row brings kelp's own back.
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    ready(&mut pty);
    assert!(
        written_since(&pty, 0).contains("\x1b]2;kelp | Ready\x07"),
        "the saved title at the start"
    );
    let mark = pty.output().len();
    pty.send("/title\r");
    pty.wait_for("Title: enter turns an item on or off", WAIT);
    pty.send("\r");
    pty.wait_until(
        |_| written_since(&pty, mark).contains("\x1b]2;kelp · ~\x07"),
        WAIT,
        "kelp's own title again",
    );
    let text = std::fs::read_to_string(home.path().join(".config/kelp/config.toml")).unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    let mut text = text;
    while text.contains("terminal_title") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        text = std::fs::read_to_string(home.path().join(".config/kelp/config.toml")).unwrap();
    }
    assert!(!text.contains("terminal_title"), "{text}");
    pty.send("\x1b");
    std::thread::sleep(Duration::from_millis(150));
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// `/theme` lists the syntax themes with a sample in the colours of the one under the cursor;
/// the code takes them at once, Esc (or Ctrl+C) gives the ones before back, and Enter keeps the theme, saved as Codex keeps it (`[tui] theme`) and named by `/status`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn theme_previews_the_code_as_the_cursor_moves_and_keeps_the_choice() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut pty = over_ssh(&fake, home.path(), &["hello"], &[]);
    let coloured =
        |pty: &crate::pty::Pty| matches!(pty.colour_of("fn main"), Some(vt100::Color::Rgb(..)));
    pty.wait_until(|_| coloured(&pty), WAIT, "the answer's code coloured");
    let before = pty.colour_of("fn main");
    pty.send("/theme\r");
    let screen = pty.wait_for("base16-mocha-dark", WAIT);
    insta::assert_snapshot!("theme_picker", without_home(&screen, home.path()));
    // The sample under the list is in the colours of the row under the cursor: auto (on a
    // dark background, catppuccin-mocha), then ansi, then base16, in the terminal's own
    // palette.
    let sample = pty.colour_of("fn greet");
    assert!(matches!(sample, Some(vt100::Color::Rgb(..))), "{sample:?}");
    pty.send("\x1b[B\x1b[B");
    pty.wait_until(
        |_| {
            pty.colour_of("fn greet")
                .is_some_and(|now| Some(now) != sample)
        },
        WAIT,
        "the sample in the theme under the cursor",
    );
    // Esc: the code on screen in the colours it had.
    pty.send("\x1b");
    pty.wait_until(
        |_| pty.colour_of("fn main") == before,
        WAIT,
        "the colours before, after Esc",
    );
    std::thread::sleep(Duration::from_millis(150));
    // Ctrl+C closes it as Esc does: the colours before come back.
    pty.send("/theme\r");
    pty.wait_for("base16-mocha-dark", WAIT);
    pty.send("\x1b[B\x1b[B");
    pty.wait_until(
        |_| pty.colour_of("fn main") != before,
        WAIT,
        "the code in the theme under the cursor",
    );
    pty.send("\x03");
    pty.wait_until(
        |_| pty.colour_of("fn main") == before,
        WAIT,
        "the colours before, after Ctrl+C",
    );
    pty.send("/theme\r");
    pty.wait_for("base16-mocha-dark", WAIT);
    // Typed, the name narrows the list; the UI around the code takes the theme's colours too.
    pty.send("solarized-l");
    pty.wait_until(
        |screen| !screen.contains("base16-mocha-dark"),
        WAIT,
        "the list narrowed to the name typed",
    );
    pty.send("\r");
    pty.wait_for("Syntax theme: solarized-light.", WAIT);
    assert_ne!(pty.colour_of("fn main"), before);
    // Solarized's comments colour the status line's dim words.
    assert_eq!(
        pty.colour_of("Ask anything"),
        Some(vt100::Color::Rgb(0x93, 0xa1, 0xa1))
    );
    wait_for_config(home.path(), "[tui]\ntheme = \"solarized-light\"");
    pty.send("/status\r");
    pty.wait_for("the solarized-light theme (/theme)", WAIT);
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// Esc alone: a pause after it keeps the next key from reading as Alt with it.
fn esc(pty: &mut crate::pty::Pty) {
    pty.send("\x1b");
    std::thread::sleep(Duration::from_millis(150));
}

/// `/vim` gives the composer Vim's keys (normal mode first, as Codex's), the mode shown on the
/// composer's rule; insert mode types and sends as always; `/vim` again turns it off, and
/// `[tui] vim_mode_default` starts the client in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vim_mode_edits_the_prompt_with_vims_keys() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    ready(&mut pty);
    pty.send("/vim\r");
    pty.wait_for("Vim mode enabled.", WAIT);
    pty.wait_for(" NORMAL ", WAIT);
    pty.send("ihello wide world");
    pty.wait_for(" INSERT ", WAIT);
    esc(&mut pty);
    pty.send("bbcwbig");
    esc(&mut pty);
    let screen = pty.wait_for("› hello big world", WAIT);
    insta::assert_snapshot!("vim_normal_mode", without_home(&screen, home.path()));
    // `dd` empties the line; what is typed in insert mode is sent with Enter.
    pty.send("dd");
    ready(&mut pty);
    pty.send("ithe prompt\r");
    pty.wait_for("You said: the prompt", WAIT);
    esc(&mut pty);
    pty.send("/vim\r");
    pty.wait_for("Vim mode disabled.", WAIT);
    pty.wait_until(|screen| !screen.contains(" NORMAL "), WAIT, "no mode shown");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));

    std::fs::create_dir_all(home.path().join(".config/kelp")).unwrap();
    std::fs::write(
        home.path().join(".config/kelp/config.toml"),
        "[tui]\nvim_mode_default = true\n",
    )
    .unwrap();
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for(" NORMAL ", WAIT);
    pty.send("x\x04");
    assert!(pty.wait_exit(WAIT));
}

/// Scrollback mode (`--no-alt-screen`, as Codex's flag): the client draws on the terminal's
/// own screen and the conversation goes into the terminal's history, where its selection and
/// search reach it; what the shell showed before stays above it. `/tui` moves to the alternate
/// screen and back, and leaving writes the rest of the conversation above the shell's prompt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrollback_mode_puts_the_conversation_in_the_terminals_history() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut pty = over_ssh(&fake, home.path(), &["--no-alt-screen"], &[]);
    ready(&mut pty);
    for n in 1..=3 {
        pty.send(&format!("question {n}\r"));
        pty.wait_for(&format!("println!(\"question {n}\")"), WAIT);
    }
    // Each answer is eleven rows: the first went above the view, into the history, and the
    // view is drawn again below it (the screen is read once the redraw has come too).
    let screen = pty.wait_until(
        |screen| {
            pty.history().contains("You said: question 1")
                && screen.contains("Ask anything")
                && screen.contains("println!(\"question 3\")")
                // The third turn ended: its answer whole, the working line gone.
                && !screen.contains("Working")
        },
        WAIT,
        "the first answer in the terminal's history, the view drawn below it",
    );
    assert!(!screen.contains("You said: question 1"), "{screen}");
    let history = pty.history();
    assert_eq!(
        history.matches("You said: question 1").count(),
        1,
        "written once: {history}"
    );
    insta::assert_snapshot!("scrollback_mode", without_home(&screen, home.path()));

    pty.send("/tui\r");
    pty.wait_for("Fullscreen: the alternate screen", WAIT);
    pty.send("question 4\r");
    pty.wait_for("println!(\"question 4\")", WAIT);
    pty.send("/tui\r");
    pty.wait_for("Scrollback: the conversation goes into", WAIT);
    pty.wait_until(
        |_| pty.history().contains("You said: question 3"),
        WAIT,
        "what was above the view on the alternate screen, in the history",
    );
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
    let all = format!("{}\n{}", pty.history(), pty.screen());
    for n in 1..=4 {
        assert_eq!(
            all.matches(&format!("You said: question {n}")).count(),
            1,
            "question {n} once: {all}"
        );
    }
    assert!(all.contains("To continue it: kelp --resume"), "{all}");
}

/// A file dragged onto the terminal arrives as its pasted path: an image's path attaches the
/// image to the next prompt (quoted or with its blanks escaped, as terminals paste them), and
/// any other text is pasted as text. Ctrl+V over SSH, where the clipboard is the far
/// machine's, says how to attach one instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_image_path_attaches_the_image() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("my shot.png"),
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01",
    )
    .unwrap();
    fake.push_responses([Reply::text("A tiny picture.")]);
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    ready(&mut pty);
    pty.send("\x16");
    pty.wait_for("No image pasted: over SSH the clipboard is your own", WAIT);
    let path = home.path().join("my shot.png").display().to_string();
    pty.paste(&format!("'{path}'"));
    pty.wait_for("With your next prompt: ~/my shot.png", WAIT);
    pty.paste("my\\ notes.txt");
    pty.wait_for("› my\\ notes.txt", WAIT);
    std::thread::sleep(Duration::from_millis(200));
    pty.send("\x15what is this?\r");
    pty.wait_for("A tiny picture.", WAIT);
    let sent = fake.requests_to("/responses");
    let first = sent[0].json().to_string();
    assert!(
        first.contains("input_image") && first.contains("data:image/png;base64,"),
        "{first}"
    );
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// `/cd` as Codex's: the conversation goes on in the folder named, from the working
/// directory; a folder with no trust kept asks, with the way back offered; one that cannot be
/// opened is said in Codex's words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cd_goes_on_with_the_conversation_in_another_folder() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let (first, second) = (home.path().join("first"), home.path().join("second"));
    std::fs::create_dir_all(first.join(".git")).unwrap();
    std::fs::create_dir_all(second.join(".git")).unwrap();
    fake.push_responses([Reply::text("Started here."), Reply::text("Went on there.")]);
    let unset = [("KELP_APPROVAL", "")];
    let mut pty = over_ssh(
        &fake,
        home.path(),
        &["--cd", first.to_str().unwrap()],
        &unset,
    );
    pty.wait_for("Trust the files in ~/first?", WAIT);
    pty.send("\r");
    pty.wait_for("Trusted", WAIT);
    pty.send("start the work\r");
    pty.wait_for("Started here.", WAIT);

    pty.send("/cd ../nowhere\r");
    pty.wait_for(
        "Cannot access directory ~/nowhere: No such file or directory",
        WAIT,
    );

    // No trust is kept for the other folder: asked, and the way back is one choice.
    pty.send("/cd ../second\r");
    pty.wait_for("Keep current directory", WAIT);
    let screen = pty.wait_for("Started here.", WAIT);
    insta::assert_snapshot!(
        "cd_asks_to_trust_the_new_folder",
        without_home(&screen, home.path())
    );
    pty.send("\x1b[B\x1b[B\r");
    let first_shown = first.canonicalize().unwrap();
    pty.wait_for(
        &format!("Working directory changed to: {}", first_shown.display()),
        WAIT,
    );
    pty.send("/cd ../second\r");
    pty.wait_for("Keep current directory", WAIT);
    pty.wait_for("Started here.", WAIT);
    pty.send("\r");
    pty.wait_for("Trusted", WAIT);
    let second_shown = second.canonicalize().unwrap();
    pty.send("/pwd\r");
    let screen = pty.wait_for(
        &format!("Working directory: {}", second_shown.display()),
        WAIT,
    );
    assert!(
        screen.contains("Started here."),
        "the same conversation: {screen}"
    );

    pty.send("go on\r");
    pty.wait_for("Went on there.", WAIT);
    let sent = fake.requests_to("/responses");
    let input = sent.last().unwrap().json()["input"].to_string();
    assert!(
        input.contains("start the work"),
        "the conversation went on: {input}"
    );
    let instructions = sent.last().unwrap().json()["instructions"].to_string();
    assert!(
        instructions.contains(&*second_shown.to_string_lossy()),
        "the model is told where it works now: {instructions}"
    );
    pty.send("\x04");
    assert_eq!(pty.wait_exit_code(WAIT), 0);
    let saved = saved_files(home.path(), "sessions");
    assert_eq!(saved.len(), 1, "one conversation, moved");
    let header = std::fs::read_to_string(&saved[0]).unwrap();
    let header: serde_json::Value = serde_json::from_str(header.lines().next().unwrap()).unwrap();
    assert_eq!(header["project_dir"], second_shown.to_str().unwrap());
}

/// `[tui.keymap]` as Codex reads it, with kelp's leader key: a bound key does its action, the
/// default it left does nothing; `/keymap` lists the actions, takes the next key pressed and
/// saves it; `/keymap debug` names keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keymap_binds_keys_and_keymap_changes_and_saves_them() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join(".config/kelp/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        "[tui.keymap]\nleader = \"ctrl-x\"\n[tui.keymap.global]\ntoggle_vim_mode = \"leader v\"\n\
         [tui.keymap.chat]\nincrease_reasoning_effort = \"f5\"\n",
    )
    .unwrap();
    // Private, as kelp keeps its config: nothing to mend at the start.
    use std::os::unix::fs::PermissionsExt;
    let private = |path: &Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    private(&config, 0o600);
    private(config.parent().unwrap(), 0o700);
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    ready(&mut pty);

    pty.send("\x18");
    pty.wait_for("leader: press the key of the action", WAIT);
    pty.send("v");
    pty.wait_for("Vim mode enabled.", WAIT);
    pty.send("i");
    pty.wait_for("INSERT", WAIT);
    // Alt+. was moved to F5: it does nothing now, and F5 raises the effort.
    pty.send("\x1b.");
    pty.send("\x1b[15~");
    pty.wait_for("reasoning effort: high", WAIT);
    // Both keys are read by now: had Alt+. raised it too, F5 would have made it xhigh.
    pty.send("/pwd\r");
    let screen = pty.wait_for("Working directory:", WAIT);
    assert!(!screen.contains("xhigh"), "alt+. did nothing: {screen}");

    pty.send("/keymap\r");
    let screen = pty.wait_for("Keymap · leader ctrl-x", WAIT);
    insta::assert_snapshot!(
        "keymap_lists_the_actions",
        without_home(&screen, home.path())
    );
    pty.send("less\r");
    pty.wait_for("Less Reasoning: alt-,", WAIT);
    pty.send("\r");
    pty.wait_for("Less Reasoning: press the new key now", WAIT);
    pty.send("\x1b[17~");
    pty.wait_for("Less Reasoning (chat.decrease_reasoning_effort): f6.", WAIT);
    pty.send("\x1b[17~");
    pty.wait_for("reasoning effort: medium", WAIT);
    let saved = std::fs::read_to_string(&config).unwrap();
    assert!(
        saved.contains("decrease_reasoning_effort = \"f6\""),
        "{saved}"
    );
    assert!(saved.contains("toggle_vim_mode = \"leader v\""), "{saved}");

    pty.send("/keymap debug\r");
    pty.wait_for("Keypress inspector", WAIT);
    pty.send("\x18");
    pty.wait_for("ctrl-x → the leader key", WAIT);
    pty.send("\x1b[15~");
    pty.wait_for("f5 → More Reasoning (chat.increase_reasoning_effort)", WAIT);
    pty.send("\x03");
    pty.send("/help\r");
    let screen = pty.wait_for("Your keymap (/keymap changes it)", WAIT);
    assert!(screen.contains("f6"), "{screen}");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// `/resume` searches what the conversations said as the query is typed, not only their
/// titles: a conversation whose later prompt holds the word is offered, the line in its preview.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_finds_a_conversation_by_what_was_said_in_it() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_responses([
        Reply::text("Looked."),
        Reply::text("Zebras are striped."),
        Reply::text("Other."),
    ]);
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    ready(&mut pty);
    pty.send("first question here\r");
    pty.wait_for("Looked.", WAIT);
    pty.send("what about zebras then\r");
    pty.wait_for("Zebras are striped.", WAIT);
    pty.send("/new\r");
    pty.wait_for("New conversation.", WAIT);
    pty.send("another topic\r");
    pty.wait_for("Other.", WAIT);
    pty.send("/resume\r");
    pty.wait_for("Resume a conversation", WAIT);
    pty.send("zebra");
    let screen = pty.wait_for("said:       what about zebras then", WAIT);
    // Only in the transcript: the picker does not offer the conversation that never said it.
    assert_eq!(screen.matches("another topic").count(), 1, "{screen}");
    insta::assert_snapshot!(
        "resume_finds_what_was_said",
        without_home(&screen, home.path())
    );
    pty.send("\r");
    pty.wait_for("Resumed the conversation", WAIT);
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_switches_the_login_the_next_request_carries() {
    use crate::accounts::{entry, sign_in_as};
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let auth = home.path().join(".local/share/kelp/auth.json");
    std::fs::create_dir_all(auth.parent().unwrap()).unwrap();
    let logins = kelp::auth::Logins::beside(&kelp::auth::AuthStore::new(&auth));
    sign_in_as(&fake, "work@example.com", "acct-work");
    let work = fake.mint_tokens();
    logins.adopt(Some("work"), &entry(&work)).unwrap();
    sign_in_as(&fake, "home@example.com", "acct-home");
    logins
        .adopt(Some("home"), &entry(&fake.mint_tokens()))
        .unwrap();
    fake.push_response(Reply::text("Answered on the work login."));

    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    ready(&mut pty);
    pty.send("/account\r");
    let screen = pty.wait_for("Add a login", WAIT);
    insta::assert_snapshot!(
        "account_lists_the_logins_kept",
        without_home(&screen, home.path())
    );
    pty.send("\x1b[B\r");
    pty.wait_for("Now using the login work", WAIT);
    pty.send("which login is this\r");
    pty.wait_for("Answered on the work login.", WAIT);
    let sent = fake.requests_to("/responses");
    let bearer = format!("Bearer {}", work.access_token);
    assert_eq!(
        sent.last().unwrap().header("authorization"),
        Some(bearer.as_str())
    );
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}
