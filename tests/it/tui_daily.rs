//! The chat as a daily tool, in an 80×24 SSH window against the fake server: what a person
//! sees when answers fail, are interrupted, are retried, and come back on resume.

use std::time::Duration;

use serde_json::json;

use crate::fake_openai::{FakeOpenAi, Reply};
use crate::support::retry_scenario;
use crate::tui_e2e::over_ssh;

const WAIT: Duration = Duration::from_secs(15);

/// The `N tokens` figure at the end of the status line.
fn tokens_on(screen: &str) -> Option<String> {
    let last = screen.lines().rev().find(|l| !l.trim().is_empty())?;
    let before = last.trim_end().strip_suffix(" tokens")?;
    Some(before.rsplit(' ').next()?.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_answers_stay_marked_on_screen_and_after_resume() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_responses([
        Reply::text("All good.").usage(3000, 0, 300, 0),
        // Cut mid-answer, then a refusal no retry can fix: the turn fails.
        Reply::cut("## Findings\n\nThe parser drops the last line.\n\n- first point"),
        Reply::http(
            400,
            json!({"error": {"message": "Invalid request.", "type": "invalid_request_error"}}),
        ),
        Reply::stall("Working through the second answer"),
    ]);
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("first\r");
    let screen = pty.wait_for("All good.", WAIT);
    let tokens = pty
        .wait_until(|s| tokens_on(s).is_some(), WAIT, "a token count")
        .to_string();
    let tokens = tokens_on(&tokens).unwrap();
    assert!(screen.contains("› first"), "{screen}");

    pty.send("second\r");
    let screen = pty.wait_for("above is incomplete", WAIT);
    assert!(screen.contains("retried 1× —"), "{screen}");
    assert_shows(
        &screen,
        &[
            "Findings",
            "The parser drops the last line.",
            "• first point",
        ],
    );
    assert!(screen.contains("Invalid request"), "{screen}");

    pty.send("third\r");
    pty.wait_for("Working through the second answer", WAIT);
    pty.send("\x1b");
    let screen = pty.wait_for("Interrupted — the answer above is incomplete.", WAIT);
    assert!(
        screen.contains("Working through the second answer"),
        "{screen}"
    );
    pty.send("/quit\r");
    assert!(pty.wait_exit(WAIT));
    drop(pty);

    let mut resumed = over_ssh(&fake, home.path(), &["--continue"], &[]);
    let screen = resumed.wait_for("Resumed the saved conversation.", WAIT);
    assert_shows(
        &screen,
        &[
            "The parser drops the last line.",
            "Invalid request",
            "Working through the second answer",
            "Interrupted — the answer above is incomplete.",
        ],
    );
    // The usage comes with the reopened conversation, a frame after its notice at the latest.
    let shown = resumed
        .wait_until(|s| tokens_on(s).is_some(), WAIT, "the token count")
        .to_string();
    assert_eq!(
        tokens_on(&shown).as_deref(),
        Some(tokens.as_str()),
        "{shown}"
    );

    // The model is told what it had said before each stop.
    fake.push_response(Reply::text("Continuing."));
    resumed.send("go on\r");
    resumed.wait_for("Continuing.", WAIT);
    let input = fake.requests_to("/responses").pop().unwrap().json()["input"].clone();
    let assistant: Vec<String> = input
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["role"] == "assistant")
        .map(|item| {
            item["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(
        assistant,
        [
            "All good.",
            "## Findings\n\nThe parser drops the last line.\n\n- first point",
            "Working through the second answer"
        ]
    );
    resumed.send("\x04");
    assert!(resumed.wait_exit(WAIT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_arrives_after_retries_replaces_the_reconnecting_line() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_responses([
        Reply::cut("Half of the"),
        Reply::server_error(),
        Reply::text("The whole answer, at last."),
    ]);
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("hello\r");
    let screen = pty.wait_for("The whole answer, at last.", WAIT);
    assert!(screen.contains("retried 2× —"), "{screen}");
    assert!(!screen.contains("reconnecting"), "{screen}");
    assert!(
        !screen.contains("Half of the"),
        "the void attempt stays:\n{screen}"
    );
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// The retry rule on screen: the cut attempt's text goes once the retry streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_rule_a_cut_answer_is_replaced_by_the_retried_one() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_responses(retry_scenario::replies());
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("hello\r");
    let screen = pty.wait_for(retry_scenario::WHOLE, WAIT);
    assert!(screen.contains("retried 1× —"), "{screen}");
    assert!(!screen.contains(retry_scenario::CUT), "{screen}");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// The id of the one saved conversation under `home`.
fn saved_session_id(home: &std::path::Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kelp"))
        .args(["sessions", "--all", "--json"])
        .env_clear()
        .env("HOME", home)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let sessions: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(sessions.len(), 1, "{text}");
    sessions[0]["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_prints_the_resume_command_and_the_usage() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_response(Reply::text("Noted.").usage(3000, 1000, 300, 100));
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("remember this\r");
    pty.wait_for("Noted.", WAIT);
    pty.send("/quit\r");
    assert_eq!(pty.wait_exit_code(WAIT), 0);
    assert!(!pty.alternate_screen());
    let id = saved_session_id(home.path());
    let screen = pty.screen();
    // One row of an 80-column window, so the command can be selected whole.
    let hint = format!("To continue it: kelp --resume {id}");
    assert!(hint.chars().count() <= 80, "{hint}");
    assert!(screen.lines().any(|l| l.trim_end() == hint), "{screen}");
    assert!(
        screen
            .contains("Token usage: 3.0k in (1.0k cached) · 300 out (100 reasoning) · 3.3k total"),
        "{screen}"
    );

    // Nothing was said in a conversation that never started: nothing to resume.
    let empty = tempfile::tempdir().unwrap();
    let mut pty = over_ssh(&fake, empty.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("/quit\r");
    assert_eq!(pty.wait_exit_code(WAIT), 0);
    assert!(!pty.screen().contains("kelp --resume"), "{}", pty.screen());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sighup_exit_with_their_statuses_and_the_terminal_restored() {
    let fake = FakeOpenAi::start().await;
    for (signal, status) in [(libc::SIGTERM, 143), (libc::SIGHUP, 129)] {
        let home = tempfile::tempdir().unwrap();
        fake.push_response(Reply::text("Ready."));
        let mut pty = over_ssh(&fake, home.path(), &[], &[]);
        pty.wait_for("Ask anything", WAIT);
        pty.send("hello\r");
        pty.wait_for("Ready.", WAIT);
        let pid = pty.pid().unwrap() as libc::pid_t;
        // SAFETY: kill(2) on the child this test started.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        assert_eq!(pty.wait_exit_code(WAIT), status, "signal {signal}");
        assert!(!pty.alternate_screen(), "signal {signal}");
        let id = saved_session_id(home.path());
        assert!(pty.screen().contains(&id), "{}", pty.screen());
    }
}

/// A terminal that goes away with no SIGHUP for the client (it is not the terminal's session,
/// as under a parent that keeps the hangup to itself) ends the client as a hangup does, with the
/// conversation saved, instead of leaving it spinning on end-of-file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_gone_without_a_hangup_signal_ends_the_client_as_sighup_does() {
    use std::io::{Read, Write};
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;

    let fake = FakeOpenAi::start().await;
    fake.push_response(Reply::text("Ready."));
    let home = tempfile::tempdir().unwrap();
    let (mut master, slave) = {
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty writes two descriptors, which are owned from here on.
        let opened = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(opened, 0);
        for fd in [master, slave] {
            // SAFETY: fcntl(2) on a descriptor just opened. Not inherited: a client holding the
            // terminal's other end would keep the terminal from ever going away.
            assert_eq!(
                unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) },
                0
            );
        }
        // SAFETY: both were just opened and nothing else owns them.
        unsafe {
            (
                std::fs::File::from(OwnedFd::from_raw_fd(master)),
                OwnedFd::from_raw_fd(slave),
            )
        }
    };
    let mut kelp = std::process::Command::new(env!("CARGO_BIN_EXE_kelp"));
    kelp.env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TERM", "xterm-256color")
        .env("KELP_APPROVAL", "ask")
        .env("OPENAI_API_KEY", fake.api_key())
        .env("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22")
        .envs(fake.env())
        .current_dir(home.path())
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave);
    // SAFETY: setsid(2) alone between fork and exec: a session of its own with no controlling
    // terminal, so closing the terminal signals nobody.
    unsafe {
        kelp.pre_exec(|| match libc::setsid() {
            -1 => Err(std::io::Error::last_os_error()),
            _ => Ok(()),
        });
    }
    let mut child = kelp.spawn().unwrap();
    drop(kelp);

    let rows = std::num::NonZeroU16::new(24).unwrap();
    let cols = std::num::NonZeroU16::new(80).unwrap();
    let mut screen = vt100::Parser::new(rows, cols, 0);
    let mut read_until = |master: &mut std::fs::File, text: &str| {
        let deadline = std::time::Instant::now() + WAIT;
        let mut buf = [0u8; 8192];
        while !screen.screen().contents().contains(text) {
            assert!(
                std::time::Instant::now() < deadline,
                "no {text:?} in {}",
                screen.screen().contents()
            );
            let n = master.read(&mut buf).unwrap();
            screen.process(&buf[..n]);
        }
    };
    read_until(&mut master, "Ask anything");
    master.write_all(b"hello\r").unwrap();
    read_until(&mut master, "Ready.");
    drop(master);

    let deadline = std::time::Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the client outlived its terminal");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(129), "{status:?}");
    saved_session_id(home.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tab_while_an_answer_streams_queues_the_prompt_and_sends_it_after() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    // Long enough (some 40 events, 6 s) that the answer still streams through the keys below
    // on a loaded machine: a Tab after it ends sends rather than queues.
    let slow = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen \
                fifteen sixteen seventeen eighteen nineteen twenty twenty-one twenty-two \
                twenty-three twenty-four twenty-five twenty-six twenty-seven twenty-eight";
    fake.push_responses([
        Reply::text(slow).delay(Duration::from_millis(150)),
        Reply::text("Queued one answered."),
    ]);
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("first\r");
    pty.wait_for("one two", WAIT);
    pty.send("and then the tests\t");
    let screen = pty.wait_for("↳ queued and then the tests", WAIT);
    assert!(
        screen.contains("sent when the answer ends · ↑ edits"),
        "{screen}"
    );
    // Up takes it back for editing; Tab queues the edited text again.
    pty.send("\x1b[A");
    pty.wait_until(
        |s| !s.contains("↳ queued") && s.contains("› and then the tests"),
        WAIT,
        "the queued prompt back in the composer",
    );
    pty.send(" too\t");
    pty.wait_for("↳ queued and then the tests too", WAIT);
    let screen = pty.wait_for("Queued one answered.", WAIT);
    assert!(screen.contains("› and then the tests too"), "{screen}");
    assert!(!screen.contains("↳ queued"), "{screen}");
    let sent = fake.requests_to("/responses");
    assert_eq!(sent.len(), 2);
    assert_eq!(
        crate::fake_openai::last_user_text(sent[1].json()),
        "and then the tests too"
    );

    // Esc stops the answer and gives queued prompts back instead of sending them.
    fake.push_response(Reply::stall("Thinking about it"));
    pty.send("third\r");
    pty.wait_for("Thinking about it", WAIT);
    pty.send("never sent\t");
    pty.wait_for("↳ queued never sent", WAIT);
    pty.send("\x1b");
    let screen = pty.wait_for("Interrupted", WAIT);
    assert!(screen.contains("› never sent"), "{screen}");
    assert!(!screen.contains("↳ queued"), "{screen}");
    assert_eq!(fake.requests_to("/responses").len(), 3);
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// Enter while an answer streams steers it, as Codex: the prompt shows at once and the model
/// reads it with its next request in the same turn, which goes on with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enter_while_an_answer_streams_adds_the_prompt_to_its_turn() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    // Long enough (some 40 events, 6 s) that the answer still streams through the keys below
    // on a loaded machine: a Tab after it ends sends rather than queues.
    let slow = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen \
                fifteen sixteen seventeen eighteen nineteen twenty twenty-one twenty-two \
                twenty-three twenty-four twenty-five twenty-six twenty-seven twenty-eight";
    fake.push_responses([
        Reply::text(slow).delay(Duration::from_millis(150)),
        Reply::text("Steered and answered."),
    ]);
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("first\r");
    let screen = pty.wait_for("one two", WAIT);
    assert!(screen.contains("enter adds to it · tab queues"), "{screen}");
    pty.send("look at the tests too\r");
    let screen = pty.wait_for("› look at the tests too", WAIT);
    assert!(!screen.contains("↳ queued"), "{screen}");
    pty.wait_for("Steered and answered.", WAIT);
    let sent = fake.requests_to("/responses");
    assert_eq!(sent.len(), 2, "one turn, two requests");
    assert_eq!(
        crate::fake_openai::last_user_text(sent[1].json()),
        "look at the tests too"
    );
    assert!(
        sent[1].json().to_string().contains("fourteen"),
        "the steered request carries the answer so far"
    );
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// `/review commit SHA` is a turn of its own: the reviewer is told the commit, sees none of the
/// talk before it and runs no patch even in full-auto; the screen shows the request and the
/// findings. A target with no name is refused in words, and `/exit` quits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_runs_apart_and_read_only_and_exit_quits() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let patch = "*** Begin Patch\n*** Add File: reviewed.txt\n+x\n*** End Patch\n";
    fake.push_responses([
        Reply::text("Noted."),
        Reply::call_with_id("p1", "apply_patch", json!({"input": patch})),
        Reply::text("1. src/a.rs:2 is off by one."),
    ]);
    let mut pty = over_ssh(&fake, home.path(), &[], &[("KELP_APPROVAL", "full-auto")]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("remember PELICAN-71\r");
    pty.wait_for("Noted.", WAIT);
    pty.send("/review commit\r");
    pty.wait_for("/review commit needs a commit", WAIT);
    pty.send("/review commit 0123abcd\r");
    let screen = pty.wait_for("src/a.rs:2 is off by one.", WAIT);
    assert!(screen.contains("/review commit 0123abc"), "{screen}");
    assert!(!home.path().join("reviewed.txt").exists(), "{screen}");
    let sent = fake.requests_to("/responses");
    assert_eq!(sent.len(), 3);
    let review = sent[1].json().to_string();
    assert!(review.contains("commit 0123abcd"), "{review}");
    assert!(!review.contains("PELICAN-71"), "{review}");
    assert!(sent[2].json().to_string().contains("this is a review"));
    pty.send("/exit\r");
    assert!(pty.wait_exit(WAIT));
}

/// `kelp -i FILE "PROMPT"`: the image goes with the first prompt, as under `kelp exec -i`; a
/// file that is not there is said before the client starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_given_on_the_command_line_goes_with_the_first_prompt() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("shot.png"),
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01",
    )
    .unwrap();
    fake.push_responses([Reply::text("A tiny picture."), Reply::text("Plain words.")]);
    let mut pty = over_ssh(
        &fake,
        home.path(),
        &["-i", "shot.png", "what is this?"],
        &[],
    );
    pty.wait_for("A tiny picture.", WAIT);
    pty.send("and now?\r");
    pty.wait_for("Plain words.", WAIT);
    let sent = fake.requests_to("/responses");
    let first = sent[0].json().to_string();
    assert!(
        first.contains("input_image") && first.contains("data:image/png;base64,"),
        "{first}"
    );
    let last_user = &sent[1].json()["input"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .to_string();
    assert!(!last_user.contains("input_image"), "once only: {last_user}");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));

    let mut pty = over_ssh(&fake, home.path(), &["-i", "missing.png"], &[]);
    assert_eq!(pty.wait_exit_code(WAIT), 2);
    assert!(
        pty.screen().contains("missing.png: no such file"),
        "{}",
        pty.screen()
    );
}

/// `/review` with nothing after it opens Codex's choices: a commit picked from the log, a base
/// branch picked from the branches, or instructions typed after `/review`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_with_nothing_after_it_picks_what_to_review() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .arg("-C")
            .arg(home.path())
            .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    std::fs::write(home.path().join("a.txt"), "one\n").unwrap();
    git(&["add", "a.txt"]);
    git(&["commit", "-qm", "first commit"]);
    git(&["checkout", "-qb", "feature"]);
    std::fs::write(home.path().join("a.txt"), "two\n").unwrap();
    git(&["commit", "-qam", "the feature itself"]);
    fake.push_responses([
        Reply::text("The commit looks right."),
        Reply::text("The branch looks right."),
    ]);
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("/review\r");
    pty.wait_for("Review uncommitted changes", WAIT);
    pty.send("\x1b[B\r");
    let screen = pty.wait_for("the feature itself", WAIT);
    assert!(screen.contains("first commit"), "{screen}");
    pty.send("\r");
    pty.wait_for("The commit looks right.", WAIT);
    let sent = fake.requests_to("/responses");
    let review = sent.last().unwrap().json().to_string();
    assert!(
        review.contains("introduced by commit") && review.contains("the feature itself"),
        "{review}"
    );

    pty.send("/review\r");
    pty.wait_for("Review against a base branch", WAIT);
    pty.send("\x1b[B\x1b[B\r");
    pty.wait_for("what feature changed since it left main", WAIT);
    pty.send("\r");
    pty.wait_for("The branch looks right.", WAIT);
    let review = fake
        .requests_to("/responses")
        .last()
        .unwrap()
        .json()
        .to_string();
    assert!(review.contains("base branch 'main'"), "{review}");

    // With HEAD detached, the branches are the branches, not git's "(HEAD detached at …)".
    git(&["checkout", "-q", "--detach"]);
    pty.send("/review\r");
    pty.wait_for("Review against a base branch", WAIT);
    pty.send("\x1b[B\x1b[B\r");
    let screen = pty.wait_for(
        "what the checked-out commit changed since it left main",
        WAIT,
    );
    assert!(screen.contains("feature"), "{screen}");
    assert!(!screen.contains("(HEAD"), "{screen}");
    // Esc in the list goes back to /review's choices; Esc there closes them.
    pty.send("\x1b");
    pty.wait_until(
        |screen| !screen.contains("Review against a branch") && screen.contains("What to review"),
        WAIT,
        "back at the choices",
    );
    pty.send("\x1b");
    pty.wait_until(
        |screen| !screen.contains("What to review"),
        WAIT,
        "the picker closed",
    );

    pty.send("/review\r");
    pty.wait_for("Custom review instructions", WAIT);
    pty.send("\x1b[B\x1b[B\x1b[B\r");
    pty.wait_for("› /review ", WAIT);
    pty.send("\x15\x04");
    assert!(pty.wait_exit(WAIT));
}

/// Custom prompts in Codex's format, kelp's folder and Codex's: offered in the slash popup with
/// their description, filled in with what follows the command, and sent as the prompt they
/// make; one named like a command of kelp's is `/prompts:NAME`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_prompts_are_offered_as_commands_and_filled_in() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let kelp_prompts = home.path().join(".config/kelp/prompts");
    let codex_prompts = home.path().join(".codex/prompts");
    std::fs::create_dir_all(&kelp_prompts).unwrap();
    std::fs::create_dir_all(&codex_prompts).unwrap();
    std::fs::write(
        kelp_prompts.join("explain.md"),
        "---\ndescription: Explain a file briefly\nargument-hint: FILE\n---\nExplain $1 in one line.\n",
    )
    .unwrap();
    std::fs::write(codex_prompts.join("status.md"), "Say what is left to do.\n").unwrap();
    fake.push_responses([Reply::text("It parses."), Reply::text("Nothing left.")]);
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("/expl");
    let screen = pty.wait_for("Explain a file briefly FILE", WAIT);
    assert!(screen.contains("/explain"), "{screen}");
    pty.send("\t");
    pty.wait_for("› /explain ", WAIT);
    pty.send("src/lib.rs\r");
    pty.wait_for("It parses.", WAIT);
    pty.send("/prompts:status\r");
    pty.wait_for("Nothing left.", WAIT);
    // A prompt file added while kelp runs is offered the next time the popup opens.
    std::fs::write(
        kelp_prompts.join("fresh.md"),
        "---\ndescription: Added while running\n---\nSay hello.\n",
    )
    .unwrap();
    pty.send("/fre");
    pty.wait_for("Added while running", WAIT);
    pty.send("\x15");
    let sent = fake.requests_to("/responses");
    assert_eq!(
        crate::fake_openai::last_user_text(sent[0].json()),
        "Explain src/lib.rs in one line.\n"
    );
    assert_eq!(
        crate::fake_openai::last_user_text(sent[1].json()),
        "Say what is left to do.\n"
    );
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// Skills in Codex's format, the person's and the project's: the model is told of each (name,
/// what it is for, its file) with the first prompt, and `/skills` lists them, and the
/// `SKILL.md` that is not one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skills_are_told_to_the_model_and_listed() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let path = home.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        ".config/kelp/skills/pdf/SKILL.md",
        "---\nname: pdf\ndescription: Fill PDF forms\n---\nUse pdftk.\n",
    );
    write(
        ".codex/skills/migrate/SKILL.md",
        "---\nname: migrate\ndescription: Write a DB migration\n---\nSteps.\n",
    );
    write(".codex/skills/draft/SKILL.md", "no front matter\n");
    fake.push_response(Reply::text("Noted."));
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("hello\r");
    pty.wait_for("Noted.", WAIT);
    let input = fake.requests_to("/responses")[0].json()["input"].to_string();
    assert!(input.contains("# Skills"), "{input}");
    assert!(input.contains("- pdf: Fill PDF forms (file: "), "{input}");
    assert!(
        input.contains("- migrate: Write a DB migration (file: "),
        "{input}"
    );
    pty.send("/skills\r");
    let screen = pty.wait_for("not a skill", WAIT);
    assert!(
        screen.contains("pdf (user): Fill PDF forms")
            && screen.contains("~/.config/kelp/skills/pdf/SKILL.md")
            && screen.contains("draft/SKILL.md: it has no front matter"),
        "{screen}"
    );
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

fn raw_text(pty: &crate::pty::Pty) -> String {
    String::from_utf8_lossy(&pty.output()).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mouse_is_left_to_the_terminal_and_the_wheel_scrolls_by_arrow_bursts() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let long: String = (1..=60)
        .map(|n| format!("Line {n} of the answer.\n"))
        .collect();
    fake.push_responses([Reply::text("Short one."), Reply::text(long)]);
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    let raw = raw_text(&pty);
    assert!(raw.contains("\x1b[?1007h"), "alternate scroll is on");
    assert!(!raw.contains("\x1b[?1000h"), "the mouse is not captured");
    pty.send("first\r");
    pty.wait_for("Short one.", WAIT);
    pty.send("second\r");
    pty.wait_for("Line 60 of the answer.", WAIT);
    // A wheel turn: a burst of arrows in one read scrolls the transcript.
    pty.send("\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A");
    let screen = pty.wait_for("Line 40 of the answer.", WAIT);
    assert!(!screen.contains("Line 60 of the answer."), "{screen}");
    assert!(
        screen.contains("Ask anything"),
        "the composer is untouched:\n{screen}"
    );
    // One arrow is a key: the last prompt comes back.
    pty.send("\x1b[A");
    pty.wait_for("› second", WAIT);
    pty.send("\x15/quit\r");
    assert!(pty.wait_exit(WAIT));
    assert!(
        raw_text(&pty).contains("\x1b[?1007l"),
        "alternate scroll is off again"
    );

    let mut captured = over_ssh(&fake, home.path(), &[], &[("KELP_MOUSE", "on")]);
    captured.wait_for("Ask anything", WAIT);
    captured.wait_until(
        |_| raw_text(&captured).contains("\x1b[?1000h"),
        WAIT,
        "mouse capture",
    );
    captured.send("\x04");
    assert!(captured.wait_exit(WAIT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_sends_the_answer_or_its_code_and_urls_are_hyperlinks() {
    use base64::Engine;
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let url = "https://example.com/docs/a/very/long/path/that/wraps/across/the/row/of/an/eighty/column/window?x=1";
    let answer = format!("Run this:\n\n```sh\ncargo test --all\n```\n\nDocs: {url}\n");
    fake.push_response(Reply::text(answer.clone()));
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("how do I test?\r");
    pty.wait_for("cargo test --all", WAIT);
    pty.wait_until(
        |_| raw_text(&pty).contains(&format!("\x1b]8;id=kelp0;{url}\x1b\\")),
        WAIT,
        "the wrapped URL as one OSC 8 link",
    );
    let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);

    pty.send("/copy\r");
    let screen = pty.wait_for("sent the last answer to the terminal's clipboard", WAIT);
    assert!(screen.contains("(OSC 52)"), "{screen}");
    let raw = raw_text(&pty);
    assert!(
        raw.contains(&format!("\x1b]52;c;{}\x07", encode(&answer))),
        "the Markdown source"
    );

    pty.send("/copy code\r");
    pty.wait_for("sent the last code block to the terminal's clipboard", WAIT);
    let raw = raw_text(&pty);
    assert!(raw.contains(&format!("\x1b]52;c;{}\x07", encode("cargo test --all\n"))));
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// `/status` names the file whose value is in force: a setting both kelp's file and Codex's set
/// is kelp's, and Codex's file is named only for what it decides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_names_the_file_each_setting_comes_from() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    for (dir, text) in [
        (".config/kelp", "model = \"kelp-model\"\n"),
        (
            ".codex",
            "model = \"codex-model\"\nmodel_reasoning_effort = \"high\"\n",
        ),
    ] {
        std::fs::create_dir_all(home.path().join(dir)).unwrap();
        std::fs::write(home.path().join(dir).join("config.toml"), text).unwrap();
    }
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("/status\r");
    let screen = pty.wait_for("Settings:", WAIT);
    let settings: String = screen
        .split("Settings:")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        settings.starts_with(
            "~/.config/kelp/config.toml (model); ~/.codex/config.toml (model_reasoning_effort)"
        ),
        "{screen}"
    );
    assert!(screen.contains("kelp-model"), "{screen}");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// Over SSH, where `COLORFGBG` does not travel, kelp asks the terminal for its background
/// (OSC 11): a light one gets code colours made for a light background.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_light_background_answered_over_osc_11_picks_light_code_colours() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut pty = over_ssh(
        &fake,
        home.path(),
        &[],
        &[(crate::pty::BACKGROUND, "rgb:ffff/fafa/f0f0")],
    );
    pty.wait_for("Ask anything", WAIT);
    pty.send("/status\r");
    pty.wait_for("for a light background (the terminal's answer)", WAIT);
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));

    // A terminal that does not answer, where none answered before, leaves the dark default,
    // and says how to change it.
    let home = tempfile::tempdir().unwrap();
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("/status\r");
    pty.wait_for("for a dark background (assumed;", WAIT);
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// Over a slow link the first frame does not wait for the terminal's background: it is drawn
/// with the default (or the last answer), keys typed before the answer arrives are kept, and
/// code already on screen takes the colours of the answer when it comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_frame_never_waits_for_the_terminals_background() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let slow_light = [
        (crate::pty::BACKGROUND, "rgb:ffff/ffff/ffff"),
        (crate::pty::ANSWER_DELAY_MS, "1400"),
    ];
    let mut pty = over_ssh(&fake, home.path(), &["hello"], &slow_light);
    // The answer, with a code block, streams and is coloured for the assumed dark background
    // long before the terminal answers.
    let coloured =
        |pty: &crate::pty::Pty| matches!(pty.colour_of("fn main"), Some(vt100::Color::Rgb(..)));
    pty.wait_until(
        |_| coloured(&pty),
        Duration::from_millis(1300),
        "the code block coloured before the terminal answers",
    );
    let dark = pty.colour_of("fn main");
    pty.send("typed early");
    pty.wait_for("typed early", WAIT);
    pty.wait_until(
        |_| coloured(&pty) && pty.colour_of("fn main") != dark,
        WAIT,
        "the code block coloured for a light background",
    );
    pty.send("\x15/status\r");
    pty.wait_for("for a light background (the terminal's answer)", WAIT);
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));

    // The next start in a terminal that says nothing keeps the last answer.
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("/status\r");
    pty.wait_for("for a light background (the terminal's last answer)", WAIT);
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// Inside tmux, whose default setup drops an application's OSC 52, `/copy` goes through tmux
/// itself: the answer lands in tmux's buffer, and the status line says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_tmux_copy_goes_through_tmux() {
    if std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: tmux is not installed");
        return;
    }
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let socket = home.path().join("tmux.sock");
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(
        tmux(&["-f", "/dev/null", "new-session", "-d"])
            .status
            .success()
    );
    let answer = "Use `cargo test` to run them.";
    fake.push_response(Reply::text(answer));
    let inside = format!("{},1,0", socket.display());
    let mut pty = over_ssh(&fake, home.path(), &[], &[("TMUX", &inside)]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("how do I test?\r");
    pty.wait_for("to run them", WAIT);
    pty.send("/copy\r");
    pty.wait_for("copied the last answer into tmux's buffer", WAIT);
    let buffer = tmux(&["show-buffer"]);
    tmux(&["kill-server"]);
    assert_eq!(String::from_utf8_lossy(&buffer.stdout), answer);
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_before_saving_and_advice_points_to_connect() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let auth_file = home.path().join(".local/share/kelp/auth.json");
    // No key anywhere: the dialog opens by itself.
    let mut pty = over_ssh(&fake, home.path(), &[], &[("OPENAI_API_KEY", "")]);
    pty.wait_for("How do you want to sign in?", WAIT);
    pty.send("3");
    pty.wait_for("Paste an OpenAI API key", WAIT);
    pty.paste("sk-wrong-0000000000000000wxyz");
    pty.send("\r");
    let screen = pty.wait_for("OpenAI refused this API key (HTTP 401)", WAIT);
    assert!(!screen.contains("Connected"), "{screen}");
    assert!(!auth_file.exists());
    // The right key is checked, then saved.
    pty.send("\x15");
    pty.paste(&fake.api_key());
    pty.send("\r");
    pty.wait_for("Connected: API key sk-…abcd.", WAIT);
    assert!(
        std::fs::read_to_string(&auth_file)
            .unwrap()
            .contains(&fake.api_key())
    );

    // A key revoked later: the failed turn says where to sign in, in this client's words.
    fake.push_response(Reply::unauthorized());
    pty.send("hello\r");
    let screen = pty.wait_for("sign in again with /connect", WAIT);
    assert!(!screen.contains("kelp login"), "{screen}");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ctrl_c_quit_from_the_connect_dialog() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut pty = over_ssh(&fake, home.path(), &[], &[("OPENAI_API_KEY", "")]);
    pty.wait_for("How do you want to sign in?", WAIT);
    pty.send("\x03");
    pty.wait_for("press ctrl+c again to quit", WAIT);
    pty.send("\x03");
    assert_eq!(pty.wait_exit_code(WAIT), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_ssh_the_browser_login_opens_nothing_and_says_so() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut pty = over_ssh(&fake, home.path(), &[], &[("OPENAI_API_KEY", "")]);
    pty.wait_for("How do you want to sign in?", WAIT);
    pty.send("1");
    // The view is painted in more than one write: wait for its last line as well as its first.
    let screen = pty.wait_until(
        |screen| {
            screen.contains("No browser can open here") && screen.contains("/oauth/authorize?")
        },
        WAIT,
        "the browser login's URL",
    );
    assert!(!screen.contains("should open"), "{screen}");
    pty.send("\x1b");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// A `BROWSER` program is the person's choice (VS Code's remote terminals set one that opens
/// the page on their own machine): over SSH, without a display, it is run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_ssh_a_browser_program_is_run() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let opened = home.path().join("opened-url");
    let browser = crate::support::browser_script(
        home.path(),
        &format!("printf %s \"$1\" > {}", opened.display()),
    );
    let mut pty = over_ssh(
        &fake,
        home.path(),
        &[],
        &[
            ("OPENAI_API_KEY", ""),
            ("DISPLAY", ""),
            ("BROWSER", browser.to_str().unwrap()),
        ],
    );
    pty.wait_for("How do you want to sign in?", WAIT);
    pty.send("1");
    let screen = pty.wait_for("Your browser should open", WAIT);
    assert!(!screen.contains("No browser can open"), "{screen}");
    let deadline = std::time::Instant::now() + WAIT;
    while !opened.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let url = std::fs::read_to_string(&opened).expect("the BROWSER program ran");
    assert!(url.contains("/oauth/authorize?"), "{url}");
    // What a selection of the screen copies: the URL whole, its rows one wrapped line (once
    // the frame after the program's start is drawn).
    pty.wait_until(
        |screen| screen.contains(&url),
        WAIT,
        "the whole URL on screen",
    );
    pty.send("\x1b");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// Ctrl+Z under a shell with job control, as a person meets it: kelp stops and gives the
/// terminal back, `fg` brings it back with the whole screen drawn again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_z_suspends_and_fg_brings_the_screen_back() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_response(Reply::text("Still here after the break."));
    let key = fake.api_key();
    let mut env = fake.env();
    env.push(("OPENAI_API_KEY", key));
    env.push(("SSH_CONNECTION", "10.0.0.1 50000 10.0.0.2 22".into()));
    env.push(("PS1", "shell$ ".into()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut pty = crate::pty::Pty::spawn(
        std::path::Path::new("/bin/bash"),
        &["--norc", "--noprofile", "-i"],
        home.path(),
        &pairs,
        80,
        24,
    );
    pty.wait_for("shell$", WAIT);
    pty.send(&format!("{}\r", env!("CARGO_BIN_EXE_kelp")));
    pty.wait_for("Ask anything", WAIT);
    pty.send("hello\r");
    pty.wait_for("Still here after the break.", WAIT);
    pty.send("\x1a");
    let screen = pty.wait_until(
        |s| s.contains("Stopped") && !s.contains("Ask anything"),
        WAIT,
        "the shell's job control taking over",
    );
    assert!(!pty.alternate_screen(), "{screen}");
    pty.send("fg\r");
    let screen = pty.wait_until(
        |s| s.contains("Still here after the break.") && s.contains("Ask anything"),
        WAIT,
        "the whole screen drawn again",
    );
    assert!(pty.alternate_screen(), "{screen}");
    pty.send("\x04");
    pty.wait_for("To continue it: kelp --resume", WAIT);
    pty.send("exit\r");
    assert!(pty.wait_exit(WAIT));
}

/// `/init`: the model is asked for an AGENTS.md, which is written only through the patch
/// approval; an existing one is never overwritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_writes_agents_md_through_approval_and_never_overwrites_one() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let patch =
        "*** Begin Patch\n*** Add File: AGENTS.md\n+# Agents\n+Run `make test`.\n*** End Patch\n";
    fake.push_responses([
        Reply::call_with_id("i1", "apply_patch", json!({"input": patch})),
        Reply::text("Wrote AGENTS.md."),
    ]);
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("/init\r");
    pty.wait_for("Change AGENTS.md? y yes", WAIT);
    let asked = fake.requests_to("/responses");
    let prompt = crate::fake_openai::last_user_text(asked[0].json());
    assert!(prompt.starts_with("Write an AGENTS.md file"), "{prompt}");
    assert!(
        !home.path().join("AGENTS.md").exists(),
        "not before the approval"
    );
    // A paste whose end marker came early does not answer it, nor keys in its first moment.
    std::thread::sleep(Duration::from_millis(600));
    pty.send("\x1b[200~note\x1b[201~y");
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        !home.path().join("AGENTS.md").exists(),
        "the pasted y approved"
    );
    pty.send("y");
    pty.wait_for("Wrote AGENTS.md.", WAIT);
    // The y behind the paste was kept as typing, in the composer: cleared with Ctrl+C.
    pty.wait_for("› y", WAIT);
    pty.send("\x03");
    assert_eq!(
        std::fs::read_to_string(home.path().join("AGENTS.md")).unwrap(),
        "# Agents\nRun `make test`.\n"
    );

    pty.send("/init\r");
    let screen = pty.wait_for("already exists: /init does not overwrite it", WAIT);
    assert!(screen.contains("AGENTS.md"), "{screen}");
    assert_eq!(fake.requests_to("/responses").len(), 2, "no request for it");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// Up in an empty composer recalls prompts of this project's earlier sessions too, and Ctrl+R
/// searches them, and what their conversations said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn earlier_sessions_prompts_come_back_with_up_and_ctrl_r() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_responses([
        Reply::text("One."),
        Reply::text("Two: run cargo test --features zebra"),
    ]);
    let mut first = over_ssh(&fake, home.path(), &[], &[]);
    first.wait_for("Ask anything", WAIT);
    first.send("alpha: rename the parser\r");
    first.wait_for("One.", WAIT);
    first.send("beta: add a test\r");
    first.wait_for("Two: run cargo", WAIT);
    first.send("/quit\r");
    assert!(first.wait_exit(WAIT));
    drop(first);

    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    // The earlier prompts are read in the background just after start: press Up until they
    // are there, as a person would.
    let started = std::time::Instant::now();
    loop {
        pty.send("\x15\x1b[A");
        std::thread::sleep(Duration::from_millis(100));
        if pty.screen().contains("› beta: add a test") {
            break;
        }
        assert!(started.elapsed() < WAIT, "{}", pty.screen());
    }
    pty.send("\x15");
    pty.send("\x12");
    pty.wait_for("Earlier prompts", WAIT);
    pty.send("alp");
    let screen = pty.wait_until(
        |s| s.contains("alpha: rename the parser") && !s.contains("beta: add a test"),
        WAIT,
        "the search narrowed to the alpha prompt",
    );
    assert!(screen.contains("Earlier prompts"), "{screen}");
    pty.send("\r");
    pty.wait_until(
        |s| s.contains("› alpha: rename the parser") && !s.contains("Earlier prompts"),
        WAIT,
        "the prompt back in the composer",
    );
    // What an answer said is found too, below the prompts, and taken as a prompt is.
    pty.send("\x15\x12");
    pty.wait_for("Earlier prompts", WAIT);
    pty.send("zebra");
    let screen = pty.wait_for("said in “alpha: rename the parser”", WAIT);
    // The bottom of the screen, from the list down (above it, the home folder's random name).
    let bottom: Vec<&str> = screen
        .lines()
        .skip_while(|line| !line.contains("Earlier prompts"))
        .map(str::trim_end)
        .collect();
    insta::assert_snapshot!("ctrl_r_finds_what_was_said", bottom.join("\n"));
    pty.send("\r");
    pty.wait_until(
        |s| s.contains("› Two: run cargo test --features zebra") && !s.contains("Earlier prompts"),
        WAIT,
        "the line in the composer",
    );
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// `/diff`: in a git repository, the working tree's changes, coloured; elsewhere the patches
/// this conversation applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_shows_the_working_tree_or_the_conversations_patches() {
    let fake = FakeOpenAi::start().await;
    let patch = "*** Begin Patch\n*** Add File: notes.txt\n+patched in\n*** End Patch\n";
    fake.push_responses([
        Reply::call_with_id("d1", "apply_patch", json!({"input": patch})),
        Reply::text("Added notes."),
    ]);
    let plain = tempfile::tempdir().unwrap();
    let mut pty = over_ssh(&fake, plain.path(), &[], &[("KELP_APPROVAL", "auto-edit")]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("/diff\r");
    pty.wait_for("no patch was applied in this conversation", WAIT);
    pty.send("add notes\r");
    pty.wait_for("Added notes.", WAIT);
    pty.send("/diff\r");
    let screen = pty.wait_for("Patches applied in this conversation", WAIT);
    assert!(screen.contains("+patched in"), "{screen}");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));

    let repo = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(repo.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    std::fs::write(repo.path().join("main.rs"), "fn main() {}\n").unwrap();
    git(&["init", "-q"]);
    git(&["add", "main.rs"]);
    git(&["commit", "-q", "-m", "start"]);
    std::fs::write(repo.path().join("main.rs"), "fn main() { run(); }\n").unwrap();
    std::fs::write(repo.path().join("new.rs"), "// new\n").unwrap();
    let mut pty = over_ssh(&fake, repo.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("/diff\r");
    let screen = pty.wait_for("Changes in the working tree (git diff HEAD)", WAIT);
    assert_shows(
        &screen,
        &[
            "-fn main() {}",
            "+fn main() { run(); }",
            "Untracked files:",
            "new.rs",
        ],
    );
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// Under `-a on-request` a patch applies without a dialog and shows as Codex shows it, its
/// file's line with the counts and the changed lines, at 80×24 over SSH: live, and the same
/// when the conversation is reopened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applied_patch_shows_its_diff_live_and_reopened() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("calc.py"),
        "def add(a, b):\n    return a - b\n",
    )
    .unwrap();
    std::fs::write(home.path().join("old.txt"), "gone\n").unwrap();
    let patch = "*** Begin Patch\n*** Update File: calc.py\n@@\n def add(a, b):\n-    return a - b\n+    return a + b\n*** Delete File: old.txt\n*** End Patch\n";
    fake.push_responses([
        Reply::call_with_id("p1", "apply_patch", json!({"input": patch})),
        Reply::text("Fixed the sum."),
    ]);
    let shown = [
        " • Edited calc.py (+1 −1)",
        "    def add(a, b):",
        "   -    return a - b",
        "   +    return a + b",
        " • Deleted old.txt (−1)",
        "   -gone",
    ];
    let mut pty = over_ssh(&fake, home.path(), &["-a", "on-request"], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("fix add\r");
    let screen = pty.wait_for("Fixed the sum.", WAIT);
    assert_rows_in_order(&screen, &shown);
    assert!(!screen.contains("Apply this change?"), "{screen}");
    assert!(!screen.contains("✓ done"), "{screen}");
    assert_eq!(
        std::fs::read_to_string(home.path().join("calc.py")).unwrap(),
        "def add(a, b):\n    return a + b\n"
    );
    pty.send("/quit\r");
    assert!(pty.wait_exit(WAIT));
    drop(pty);

    let mut resumed = over_ssh(&fake, home.path(), &["--continue"], &[]);
    let screen = resumed.wait_for("Resumed the saved conversation.", WAIT);
    assert_rows_in_order(&screen, &shown);
    resumed.send("\x04");
    assert!(resumed.wait_exit(WAIT));
}

/// The first start in a git project asks Codex's question once, for the repository's root;
/// once trusted, the model's commands run in the sandbox and its patch applies with no dialog,
/// and the answer is kept in the config as Codex keeps it. `-a untrusted` asks again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trust_question_comes_once_and_a_trusted_folder_runs_unasked() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let repo = home.path().join("proj");
    let sub = repo.join("sub");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(&sub).unwrap();
    let patch = "*** Begin Patch\n*** Add File: notes.txt\n+kept\n*** End Patch\n";
    fake.push_responses([
        Reply::call_with_id("s1", "shell", json!({"command": "touch x && ls"})),
        Reply::call_with_id("p1", "apply_patch", json!({"input": patch})),
        Reply::text("All done."),
    ]);
    let cd = sub.to_str().unwrap();
    let unset = [("KELP_APPROVAL", "")];
    let mut pty = over_ssh(&fake, home.path(), &["--cd", cd], &unset);
    pty.wait_for("Trust the files in ~/proj?", WAIT);
    pty.send("\r");
    pty.wait_for("Trusted — the model's commands", WAIT);
    pty.send("go\r");
    let screen = pty.wait_for("All done.", WAIT);
    assert!(!screen.contains("Run this command?"), "{screen}");
    assert!(!screen.contains("Apply this change?"), "{screen}");
    assert!(screen.contains("• Added notes.txt (+1)"), "{screen}");
    assert!(sub.join("x").exists() && sub.join("notes.txt").exists());
    pty.send("/quit\r");
    assert!(pty.wait_exit(WAIT));
    drop(pty);
    let config = std::fs::read_to_string(home.path().join(".config/kelp/config.toml")).unwrap();
    let root = repo.canonicalize().unwrap();
    assert!(
        config.contains(&format!("[projects.{:?}]\ntrust_level = \"trusted\"", root)),
        "{config}"
    );

    let mut pty = over_ssh(&fake, home.path(), &["--cd", cd], &unset);
    let screen = pty.wait_for("Ask anything", WAIT);
    assert!(!screen.contains("Trust the files"), "asked once: {screen}");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
    drop(pty);

    fake.push_responses([
        Reply::call_with_id("s2", "shell", json!({"command": "touch y"})),
        Reply::text("Asked."),
    ]);
    let mut pty = over_ssh(&fake, home.path(), &["--cd", cd, "-a", "untrusted"], &unset);
    let screen = pty.wait_for("Ask anything", WAIT);
    assert!(!screen.contains("Trust the files"), "{screen}");
    pty.send("again\r");
    pty.wait_for("Run this command?", WAIT);
    assert!(!sub.join("y").exists());
    pty.send("\x04");
}

/// Each of `rows` is a row of `screen` (trailing blanks aside), one after the other.
fn assert_rows_in_order(screen: &str, rows: &[&str]) {
    let on_screen: Vec<&str> = screen.lines().map(str::trim_end).collect();
    let at = on_screen.iter().position(|row| *row == rows[0]);
    let Some(at) = at else {
        panic!("{:?} is not a row of the screen:\n{screen}", rows[0]);
    };
    assert_eq!(
        on_screen.get(at..at + rows.len()),
        Some(rows),
        "the rows after {:?} differ:\n{screen}",
        rows[0]
    );
}

/// Every line of `wanted` is on `screen`.
fn assert_shows(screen: &str, wanted: &[&str]) {
    for line in wanted {
        assert!(
            screen.contains(line),
            "{line:?} is not on the screen:\n{screen}"
        );
    }
}

/// `kelp "prompt"`, as `codex "…"`: the client starts with the prompt sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_on_the_command_line_is_sent_as_the_client_starts() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_response(Reply::text("Three files here."));
    let mut pty = over_ssh(&fake, home.path(), &["what is in this folder?"], &[]);
    let screen = pty.wait_for("Three files here.", WAIT);
    assert!(screen.contains("› what is in this folder?"), "{screen}");
    let sent = fake.requests_to("/responses");
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]
            .json()
            .to_string()
            .contains("what is in this folder?"),
        "the prompt went to the model"
    );
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// The window title says what kelp is doing, and an approval waiting while the person looks
/// elsewhere rings the bell; once the terminal reports focus, a watched one does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_title_follows_the_turn_and_an_unseen_approval_rings() {
    let fake = FakeOpenAi::start().await;
    let patch = "*** Begin Patch\n*** Add File: notes.txt\n+hi\n*** End Patch\n";
    fake.push_responses([
        Reply::call_with_id("p1", "apply_patch", json!({"input": patch})),
        Reply::text("Added notes."),
        Reply::call_with_id(
            "p2",
            "apply_patch",
            json!({"input": patch.replace("notes", "more")}),
        ),
        Reply::text("Added more."),
    ]);
    let home = tempfile::tempdir().unwrap();
    let mut pty = over_ssh(&fake, home.path(), &[], &[("KELP_APPROVAL", "ask")]);
    pty.wait_for("Ask anything", WAIT);
    let title = |rest: &str| format!("\x1b]2;{rest}kelp · ~\x07");
    let since = |pty: &crate::pty::Pty, from: usize| {
        String::from_utf8_lossy(&pty.output()[from..]).into_owned()
    };
    assert!(since(&pty, 0).contains(&title("")), "the idle title");

    // No focus report yet: an approval is taken as unseen.
    let mark = pty.output().len();
    pty.send("add notes\r");
    pty.wait_for("Change notes.txt?", WAIT);
    let written = since(&pty, mark);
    let waiting = title("waiting for you · ");
    let at = written.find(&waiting).expect("the waiting title");
    assert!(
        written[at + waiting.len()..].starts_with('\x07'),
        "{written:?}"
    );
    // Keys in an approval's first moment are not taken as its answer.
    std::thread::sleep(Duration::from_millis(600));
    pty.send("y");
    pty.wait_for("Added notes.", WAIT);
    // The answer shows before the turn ends; the idle title follows with the end.
    let deadline = std::time::Instant::now() + WAIT;
    while !since(&pty, mark).contains(&title("")) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(since(&pty, mark).contains(&title("")), "idle again");

    // Focused (the terminal's report), the next approval changes the title only.
    pty.send("\x1b[I");
    let mark = pty.output().len();
    pty.send("add more\r");
    pty.wait_for("Change more.txt?", WAIT);
    let written = since(&pty, mark);
    let at = written.find(&waiting).expect("the waiting title");
    assert!(
        !written[at + waiting.len()..].starts_with('\x07'),
        "{written:?}"
    );
    // Keys in an approval's first moment are not taken as its answer.
    std::thread::sleep(Duration::from_millis(600));
    pty.send("y");
    pty.wait_for("Added more.", WAIT);
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// Ctrl+G hands the draft to the person's editor and takes back what it saved; an editor
/// that fails leaves the draft as it was, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_g_edits_the_draft_in_the_editor() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let editor = crate::support::browser_script(
        home.path(),
        r#"printf 'edited: %s' "$(cat "$1")" > "$1.new" && mv "$1.new" "$1""#,
    );
    let mut pty = over_ssh(
        &fake,
        home.path(),
        &[],
        &[("EDITOR", editor.to_str().unwrap()), ("VISUAL", "")],
    );
    pty.wait_for("Ask anything", WAIT);
    pty.send("fix the parser");
    pty.wait_for("› fix the parser", WAIT);
    pty.send("\x07");
    pty.wait_for("› edited: fix the parser", WAIT);
    assert!(pty.alternate_screen(), "the client took the terminal back");
    pty.send("\x03");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));

    let mut pty = over_ssh(&fake, home.path(), &[], &[("VISUAL", "false")]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("keep me");
    pty.send("\x07");
    let screen = pty.wait_for("the draft is as it was", WAIT);
    assert!(screen.contains("› keep me"), "{screen}");
    pty.send("\x03");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// `!command` runs the person's own command in the sandbox, shows its output as a shell call,
/// sends nothing to the model, and Esc stops one that runs on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bang_command_runs_in_the_sandbox_and_esc_stops_it() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("!echo own-output-$((6*7))\r");
    // The output may show while the command still runs: its end is what is waited for.
    let screen = pty.wait_for("exit 0", WAIT);
    assert!(
        screen.contains("own-output-42") && screen.contains("Ran shell echo own-output"),
        "{screen}"
    );
    let started = std::time::Instant::now();
    pty.send("!sleep 30\r");
    pty.wait_for("Running shell sleep 30", WAIT);
    std::thread::sleep(Duration::from_millis(300));
    pty.send("\x1b");
    pty.wait_for("failed", WAIT);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped by Esc"
    );
    assert!(
        fake.requests_to("/responses").is_empty(),
        "nothing went to the model"
    );
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// `--search`: the model searches the web live, and the transcript says what it looked for,
/// at 80 columns over SSH.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_search_shows_what_it_looked_for() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_response(
        Reply::web_search("ratatui 0.30 release notes").and_text("It shipped in May."),
    );
    let pty = over_ssh(&fake, home.path(), &["--search", "when did it ship?"], &[]);
    let screen = pty.wait_for("It shipped in May.", WAIT);
    assert!(
        screen.contains("• Searched: ratatui 0.30 release notes"),
        "{screen}"
    );
    let body = fake.requests_to("/responses")[0].json().clone();
    assert!(
        body["tools"]
            .as_array()
            .unwrap()
            .contains(&json!({"type": "web_search", "external_web_access": true})),
        "{body}"
    );
}

/// Codex's verbs kelp does not serve, typed in a terminal: each is said in a line and exits 2,
/// and none reaches the model as a prompt; `kelp -- WORD` still sends the word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_verbs_kelp_lacks_are_refused_never_sent() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    for verb in [
        "apply",
        "cloud",
        "plugin",
        "update",
        "remote-control",
        "exec-server",
        "migrate-rollouts",
        "mcp-server",
        "debug",
        "execpolicy",
        "cloud-tasks",
        "responses-api-proxy",
        "stdio-to-uds",
        "migrate-nfs-db",
    ] {
        let mut pty = over_ssh(&fake, home.path(), &[verb, "--some-flag"], &[]);
        assert_eq!(pty.wait_exit_code(WAIT), 2, "{verb}: {}", pty.screen());
        let screen = pty.screen();
        assert!(
            screen.contains(&format!("`{verb}` is a Codex command kelp does not have")),
            "{screen}"
        );
    }
    assert!(fake.requests_to("/responses").is_empty());
    // Codex's alias says what kelp offers instead, in one line.
    let out = crate::support::kelp(home.path()).arg("a").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "kelp: `a` is a Codex command kelp does not have: kelp applies the model's patches in \
         the project as it works (Esc Esc undoes them); it has no Codex Cloud diffs to apply \
         (`kelp -- a` sends the word as a prompt)\n"
    );
    // A prompt with more words than the verb is a prompt.
    fake.push_response(Reply::text("Which fix?"));
    let pty = over_ssh(&fake, home.path(), &["apply the fix"], &[]);
    pty.wait_for("Which fix?", WAIT);
    assert_eq!(fake.requests_to("/responses").len(), 1);
    fake.push_response(Reply::text("Applying what, exactly?"));
    let pty = over_ssh(&fake, home.path(), &["--", "apply"], &[]);
    pty.wait_for("Applying what, exactly?", WAIT);
    assert_eq!(fake.requests_to("/responses").len(), 2);
}

/// `/goal` with a small budget at 80×24 over SSH: the client works turn after turn without a
/// prompt, the footer counts the budget, and the goal stops when it is spent, saying so; then
/// a new goal is paused by Esc.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_goal_runs_turns_until_its_budget_is_spent_and_esc_pauses_one() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_responses([
        Reply::text("Step one is done.").usage(300, 0, 20, 0),
        Reply::text("Step two is done.").usage(300, 0, 20, 0),
    ]);
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("/goal tidy the parser 600t\r");
    let screen = pty.wait_for("Goal stopped: its budget of 600 tokens is spent", WAIT);
    let at = |text: &str| {
        screen
            .find(text)
            .unwrap_or_else(|| panic!("{text}:\n{screen}"))
    };
    assert!(at("› /goal tidy the parser 600t") < at("Step one is done."));
    assert!(at("Step one is done.") < at("Step two is done."));
    assert!(at("Step two is done.") < at("Goal stopped"));
    assert!(screen.contains("Goal unmet (640 / 600)"), "{screen}");
    assert_eq!(fake.requests_to("/responses").len(), 2);

    fake.push_response(Reply::stall("Reading the docs"));
    pty.send("/goal write the docs\r");
    pty.wait_for("Reading the docs", WAIT);
    pty.wait_for("Pursuing goal", WAIT);
    pty.send("\x1b");
    let screen = pty.wait_for("Goal paused", WAIT);
    assert!(screen.contains("/goal resume"), "{screen}");
    pty.send("/goal\r");
    let screen = pty.wait_for("Goal: write the docs", WAIT);
    assert!(screen.contains("Status: paused"), "{screen}");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// Plan mode at 80×24 over SSH, as Codex has it: Shift+Tab into it (the footer says so), a
/// plan turn offered no patch tool, its plan under a heading, and the offer to implement it,
/// which goes back to the default mode and sends "Implement the plan.".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shift_tab_plans_and_the_plan_is_implemented_in_the_default_mode() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_responses([
        Reply::call(
            "update_plan",
            json!({"plan": [{"step": "Add the greeting", "status": "pending"}]}),
        ),
        Reply::text("<proposed_plan>\n1. Add the greeting to main.rs\n</proposed_plan>"),
        Reply::text("Implementing it now."),
    ]);
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("\x1b[Z");
    pty.wait_for("plan mode (shift+tab)", WAIT);
    pty.send("add a greeting\r");
    let screen = pty.wait_for("Implement this plan?", WAIT);
    assert!(screen.contains("Proposed plan"), "{screen}");
    assert!(!screen.contains("<proposed_plan>"), "{screen}");
    pty.send("\r");
    let screen = pty.wait_for("Implementing it now.", WAIT);
    assert!(!screen.contains("plan mode (shift+tab)"), "{screen}");
    let requests = fake.requests_to("/responses");
    let offers_patch = |i: usize| {
        requests[i].json()["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "apply_patch")
    };
    assert!(!offers_patch(0) && !offers_patch(1));
    assert!(offers_patch(2));
    assert!(
        requests[2]
            .json()
            .to_string()
            .contains("Implement the plan.")
    );
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// The model's question in plan mode at 80×24: a picker of its choices, the one chosen read
/// back by the model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_models_question_is_a_picker_and_its_answer_goes_back() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_responses([
        crate::support::which_database(),
        Reply::text("Then SQLite it is."),
    ]);
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("\x1b[Z");
    pty.wait_for("plan mode (shift+tab)", WAIT);
    pty.send("plan the storage\r");
    let screen = pty.wait_for("Database (1/1): Which database?", WAIT);
    assert!(screen.contains("Postgres (Recommended)"), "{screen}");
    pty.send("\x1b[B");
    pty.send("\r");
    pty.wait_for("Then SQLite it is.", WAIT);
    crate::support::assert_sqlite_was_answered(&fake);
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// Plan mode holds for a new conversation, and a question put away with Esc lets the model go
/// on without the answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_mode_outlives_new_and_an_unanswered_question_lets_the_model_go_on() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    fake.push_responses([
        crate::support::which_database(),
        Reply::text("I will assume Postgres."),
    ]);
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("\x1b[Z");
    pty.wait_for("plan mode (shift+tab)", WAIT);
    pty.send("/new\r");
    pty.wait_for("New conversation.", WAIT);
    pty.send("plan the storage\r");
    pty.wait_for("Database (1/1): Which database?", WAIT);
    pty.send("\x1b");
    let screen = pty.wait_for("I will assume Postgres.", WAIT);
    assert!(screen.contains("Not answered"), "{screen}");
    let requests = fake.requests_to("/responses");
    let first = requests[0].json();
    assert!(
        first["instructions"]
            .as_str()
            .unwrap()
            .contains("# Plan mode"),
        "plan mode after /new"
    );
    assert!(
        requests[1].json().to_string().contains("did not answer"),
        "{}",
        requests[1].json()
    );
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));
}

/// While a question waits for the person, its line counts the wait up ("Waiting for you ·
/// 2s"), at 80×24 over SSH; the patch refused reads "declined" live and after resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wait_for_the_person_counts_up() {
    let fake = FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let patch = "*** Begin Patch\n*** Add File: notes.md\n+hello\n*** End Patch\n";
    fake.push_responses([
        Reply::call_with_id("p1", "apply_patch", json!({"input": patch})),
        Reply::text("Wrote it."),
    ]);
    let mut pty = over_ssh(&fake, home.path(), &[], &[]);
    pty.wait_for("Ask anything", WAIT);
    pty.send("write notes\r");
    pty.wait_for("Waiting for you · 0s", WAIT);
    pty.wait_for("Waiting for you · 2s", WAIT);
    pty.send("n");
    pty.wait_for("Why not?", WAIT);
    pty.send("\r");
    let live = pty.wait_for("Wrote it.", WAIT);
    assert!(live.contains("✗ declined"), "{live}");
    pty.send("\x04");
    assert!(pty.wait_exit(WAIT));

    // Resumed, the refused patch still reads declined, not failed.
    let mut resumed = over_ssh(&fake, home.path(), &["--continue"], &[]);
    let screen = resumed.wait_for("Resumed the saved conversation.", WAIT);
    assert!(screen.contains("✗ declined"), "{screen}");
    assert!(!screen.contains("✗ failed"), "{screen}");
    resumed.send("\x04");
    assert!(resumed.wait_exit(WAIT));
}
