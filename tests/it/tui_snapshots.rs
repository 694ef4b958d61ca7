//! What each screen shows, drawn on a test backend and kept as snapshots.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use insta::assert_snapshot;
use kelp::llm::types::{Content, Item, ReasoningSummary, Role};
use kelp::protocol::InstructionFile;
use kelp::protocol::LoginEvent;
use kelp::protocol::SessionSummary;
use kelp::protocol::{
    ApprovalSubject, Attachment, AuthSummary, Event, Op, PlanStatus, PlanStep, ProjectRule, Reply,
    Submission, TurnOutcome,
};
use kelp::tui::{App, InitialState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

pub(crate) fn app_with(auth: Option<AuthSummary>, headless: bool) -> (App, UnboundedReceiver<Op>) {
    app_starting(|initial| {
        initial.auth = auth;
        initial.headless = headless;
    })
}

/// An app whose start `change` sets up from the usual one (no login, a project, a sandbox).
fn app_starting(change: impl FnOnce(&mut InitialState)) -> (App, UnboundedReceiver<Op>) {
    let (tx, rx) = unbounded_channel();
    let mut initial = InitialState {
        provider: None,
        settings_from: Vec::new(),
        auth: None,
        model: "gpt-5.5".into(),
        effort: Default::default(),
        service_tier: None,
        project_dir: PathBuf::from("/work/project"),
        approval_mode: Default::default(),
        sandbox: "workspace-write, no network (Landlock ABI 7)".into(),
        headless: false,
        warning: None,
        mouse: false,
        pick_session: false,
        fork_picked: false,
        ask_trust: None,
        prompt: None,
        config_file: PathBuf::from("/home/ana/.config/kelp/config.toml"),
        state_dir: PathBuf::from("/home/ana/.local/state/kelp"),
        images: Vec::new(),
        server: None,
        notice: None,
        resuming: false,
        open_agents: false,
        came_from: None,
        project_waiting: Vec::new(),
        surfaces: Default::default(),
    };
    change(&mut initial);
    let mut app = App::new(tx, initial);
    app.freeze_time(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    (app, rx)
}

pub(crate) fn logged_in() -> (App, UnboundedReceiver<Op>) {
    app_with(
        Some(AuthSummary::ApiKey {
            masked: "sk-…abcd".into(),
        }),
        false,
    )
}

pub(crate) fn draw(app: &mut App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| app.render(f)).unwrap();
    terminal.backend().to_string()
}

fn key(app: &mut App, code: KeyCode) {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
}

/// Waits until an approval question drawn now takes answers: keys in its first half second
/// never answer it.
fn let_the_question_arm() {
    std::thread::sleep(Duration::from_millis(550));
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// A piece of the answer `item`.
fn delta(item: &str, text: &str) -> Event {
    Event::TextDelta {
        item: item.into(),
        delta: text.into(),
    }
}

/// A piece of the reasoning summary `item`.
fn thinking(item: &str, text: &str) -> Event {
    Event::ReasoningDelta {
        item: item.into(),
        delta: text.into(),
    }
}

/// The answer `item`, complete.
fn done(item: &str, text: &str) -> Event {
    Event::MessageDone {
        item: item.into(),
        text: text.into(),
    }
}

/// Retry `attempt` of 5 after `delay_ms`, voiding `voided`.
fn retrying(attempt: u32, delay_ms: u64, voided: &[&str]) -> Event {
    Event::Retrying {
        attempt,
        max: 5,
        delay: Duration::from_millis(delay_ms),
        reason: "stream disconnected before completion".into(),
        voided: voided.iter().map(|item| (*item).into()).collect(),
    }
}

/// What the app sent, but the look for new prompt files each opening of the slash popup sends
/// (`custom_prompts_are_offered_as_commands_and_filled_in` shows what it is for).
fn ops(rx: &mut UnboundedReceiver<Op>) -> Vec<Op> {
    let mut out = Vec::new();
    while let Ok(op) = rx.try_recv() {
        if op != Op::FindPrompts {
            out.push(op);
        }
    }
    out
}

const ANSWER: &str = "## Reading a file\n\nUse `std::fs::read_to_string` — it is **short** and *clear*:\n\n```rust\nuse std::fs;\n\nfn main() -> std::io::Result<()> {\n    let text = fs::read_to_string(\"notes.txt\")?;\n    println!(\"{}\", text.len());\n    Ok(())\n}\n```\n\n- errors come back as `io::Error`\n- see [the docs](https://doc.rust-lang.org/std/fs/)\n\n> Large files: prefer a `BufReader`.\n";

#[test]
fn empty_chat() {
    let (mut app, _rx) = logged_in();
    assert_snapshot!(draw(&mut app, 80, 24));
}

#[test]
fn streamed_markdown_answer_with_code() {
    kelp::tui::highlight::load_now();
    let (mut app, mut rx) = logged_in();
    type_text(&mut app, "How do I read a file?");
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        ops(&mut rx),
        [Op::Submit(Submission::text("How do I read a file?"))]
    );
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    for chunk in ANSWER.as_bytes().chunks(16) {
        app.handle_core_event(delta("msg_a", &String::from_utf8_lossy(chunk)));
    }
    app.handle_core_event(done("msg_a", ANSWER));
    app.handle_core_event(Event::TurnFinished(TurnOutcome::Completed));
    assert_snapshot!(draw(&mut app, 80, 30));
}

#[test]
fn tool_call_and_plan() {
    let (mut app, _rx) = logged_in();
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    app.handle_core_event(Event::PlanUpdated {
        call_id: "c0".into(),
        explanation: Some("Fix the failing test first.".into()),
        steps: vec![
            PlanStep {
                step: "Run the tests".into(),
                status: PlanStatus::Completed,
            },
            PlanStep {
                step: "Fix parse_header".into(),
                status: PlanStatus::InProgress,
            },
            PlanStep {
                step: "Run the tests again".into(),
                status: PlanStatus::Pending,
            },
        ],
    });
    app.handle_core_event(Event::ToolStarted {
        call_id: "c1".into(),
        tool: "shell".into(),
        summary: "cargo test --lib".into(),
        paths: Vec::new(),
        facts: None,
    });
    let output: String = (1..=8).map(|i| format!("test case_{i} ... ok\n")).collect();
    app.handle_core_event(Event::ToolOutput {
        call_id: "c1".into(),
        chunk: output,
    });
    app.handle_core_event(Event::ToolFinished {
        call_id: "c1".into(),
        success: false,
        exit_code: Some(101),
        duration: Duration::from_millis(2340),
    });
    app.handle_core_event(Event::Retrying {
        attempt: 2,
        max: 5,
        delay: Duration::from_millis(400),
        reason: "stream disconnected before completion".into(),
        voided: Vec::new(),
    });
    assert_snapshot!(draw(&mut app, 80, 24));
}

#[test]
fn mcp_approval_and_the_servers() {
    use kelp::protocol::{ServerState, ServerStatus};
    let (mut app, _rx) = logged_in();
    app.handle_core_event(Event::Reply(Reply::McpServers(vec![
        ServerStatus {
            auth: Some("signed in with OAuth (`kelp mcp logout` forgets it)"),
            name: "tracker".into(),
            endpoint: "http: https://mcp.tracker.example/mcp".into(),
            state: ServerState::Ready {
                tools: vec!["search_issues".into(), "get_issue".into()],
            },
            skipped: vec!["bulk_edit: its input schema is of type \"array\", not an object".into()],
        },
        ServerStatus {
            auth: None,
            name: "docs".into(),
            endpoint: "stdio: docs-mcp --stdio".into(),
            state: ServerState::Failed {
                reason: "did not start within 10 s".into(),
            },
            skipped: Vec::new(),
        },
    ])));
    type_text(&mut app, "/mcp");
    key(&mut app, KeyCode::Enter);
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    app.handle_core_event(Event::ApprovalRequested {
        id: 3,
        call_id: "m1".into(),
        subject: ApprovalSubject::McpTool {
            server: "tracker".into(),
            tool: "get_issue".into(),
            arguments: "{\n  \"id\": 4711,\n  \"comments\": true\n}".into(),
        },
        agent: None,
    });
    assert_snapshot!(draw(&mut app, 80, 24));
}

/// An agent of the team asks: the person sees which one before the question, and hears when
/// one finishes.
#[test]
fn an_agent_of_the_team_asks_and_another_finishes() {
    let (mut app, _rx) = logged_in();
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    app.handle_core_event(Event::AgentActivity(kelp::protocol::AgentActivity {
        id: "subagent-completed-1".into(),
        kind: kelp::protocol::AgentActivityKind::Completed,
        path: "/root/reader".into(),
        conversation: "c-reader".into(),
        model: None,
        effort: None,
    }));
    app.handle_core_event(Event::ApprovalRequested {
        id: 9,
        call_id: "b1".into(),
        subject: ApprovalSubject::Command {
            command: "touch team-notes.md".into(),
            workdir: PathBuf::from("/work/project"),
            always_prefix: None,
        },
        agent: Some("/root/builder".into()),
    });
    assert_snapshot!(draw(&mut app, 80, 24));
}

#[test]
fn approval_prompt() {
    let (mut app, mut rx) = logged_in();
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    app.handle_core_event(Event::ApprovalRequested {
        id: 7,
        call_id: "c2".into(),
        subject: ApprovalSubject::Command {
            command: "rm -rf target && cargo build --release".into(),
            workdir: PathBuf::from("/work/project"),
            always_prefix: None,
        },
        agent: None,
    });
    assert_snapshot!("approval_prompt", draw(&mut app, 80, 16));
    let_the_question_arm();
    key(&mut app, KeyCode::Char('n'));
    type_text(&mut app, "not now");
    assert_snapshot!("approval_reason", draw(&mut app, 80, 16));
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        ops(&mut rx),
        [Op::Approve {
            id: 7,
            decision: kelp::protocol::ApprovalDecision::No {
                reason: Some("not now".into())
            }
        }]
    );
}

/// The question to run a command outside the sandbox offers this once, or (`p`) its prefix
/// outside the sandbox from now on in this project, as Codex's does; never "this session".
#[test]
fn the_question_to_run_outside_offers_its_prefix_for_good() {
    let (mut app, mut rx) = logged_in();
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    app.handle_core_event(Event::ApprovalRequested {
        id: 4,
        call_id: "c4".into(),
        subject: ApprovalSubject::Unsandboxed {
            command: "cargo publish --dry-run".into(),
            workdir: PathBuf::from("/work/project"),
            blocked: "Publishing reads the registry's token in ~/.cargo.".into(),
            requested: true,
            always_prefix: Some(vec!["cargo".into(), "publish".into()]),
        },
        agent: None,
    });
    assert_snapshot!(draw(&mut app, 80, 24));
    let_the_question_arm();
    key(&mut app, KeyCode::Char('a'));
    assert_eq!(ops(&mut rx), [], "no session-wide yes outside the sandbox");
    key(&mut app, KeyCode::Char('p'));
    assert_eq!(
        ops(&mut rx),
        [Op::Approve {
            id: 4,
            decision: kelp::protocol::ApprovalDecision::AlwaysPrefix
        }]
    );
    let rule = ProjectRule::Unsandboxed(vec!["cargo".to_string(), "publish".to_string()]);
    app.handle_core_event(Event::Reply(Reply::CommandRules(vec![rule])));
    app.handle_core_event(Event::TurnFinished(TurnOutcome::Completed));
    type_text(&mut app, "/status");
    key(&mut app, KeyCode::Enter);
    let screen = draw(&mut app, 80, 40);
    assert!(
        screen.contains("`cargo publish` run outside the sandbox without asking here"),
        "{screen}"
    );
}

/// A plain command's question offers to let its prefix through in this project (`p`); the
/// answer is kept as a rule that `/status` shows and `/approval` lists and forgets.
#[test]
fn always_for_a_prefix_in_this_project_and_forgetting_it() {
    let (mut app, mut rx) = logged_in();
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    app.handle_core_event(Event::ApprovalRequested {
        id: 3,
        call_id: "c3".into(),
        subject: ApprovalSubject::Command {
            command: "cargo test -p parser".into(),
            workdir: PathBuf::from("/work/project"),
            always_prefix: Some(vec!["cargo".into(), "test".into()]),
        },
        agent: None,
    });
    assert_snapshot!(draw(&mut app, 80, 24));
    let_the_question_arm();
    key(&mut app, KeyCode::Char('p'));
    assert_eq!(
        ops(&mut rx),
        [Op::Approve {
            id: 3,
            decision: kelp::protocol::ApprovalDecision::AlwaysPrefix
        }]
    );
    let rule = ProjectRule::Prefix(vec!["cargo".to_string(), "test".to_string()]);
    app.handle_core_event(Event::Reply(Reply::CommandRules(vec![rule.clone()])));
    app.handle_core_event(Event::TurnFinished(TurnOutcome::Completed));
    let screen = draw(&mut app, 80, 24);
    assert!(
        screen.contains("✓ approved, and `cargo test` runs without asking in this"),
        "{screen}"
    );
    forget_in_approval(&mut app, &mut rx, 0, &rule, "runs without asking here");
}

/// `x` refuses a host a command asks to reach in this project from now on, and says so.
#[test]
fn a_host_refused_here_for_good_says_so() {
    let (mut app, mut rx) = logged_in();
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    let subject = ApprovalSubject::Network {
        host: "tracker.example".into(),
        port: 443,
        via: kelp::protocol::Via::Https,
        command: "curl https://tracker.example/".into(),
        workdir: PathBuf::from("/work/project"),
    };
    app.handle_core_event(Event::ApprovalRequested {
        id: 5,
        call_id: "c5".into(),
        subject,
        agent: None,
    });
    draw(&mut app, 80, 24);
    let_the_question_arm();
    key(&mut app, KeyCode::Char('x'));
    let decision = kelp::protocol::ApprovalDecision::NeverHere;
    assert_eq!(
        ops(&mut rx),
        [Op::Approve {
            id: 5,
            decision: decision.clone()
        }]
    );
    app.handle_core_event(Event::ApprovalAnswered {
        id: 5,
        call_id: "c5".into(),
        decision: Some(decision),
    });
    let screen = draw(&mut app, 80, 24);
    assert!(
        screen.contains("✗ declined, and commands are refused tracker.example in this"),
        "{screen}"
    );
}

/// A question about a host whose command ended first is withdrawn: the view closes, the cell
/// keeps no answer, and a notice says why.
#[test]
fn a_question_about_a_host_is_withdrawn_when_its_command_ends() {
    let (mut app, _rx) = logged_in();
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    app.handle_core_event(Event::ApprovalRequested {
        id: 6,
        call_id: "c6".into(),
        subject: ApprovalSubject::Network {
            host: "slow.example".into(),
            port: 443,
            via: kelp::protocol::Via::Https,
            command: "timeout 2 curl https://slow.example/".into(),
            workdir: PathBuf::from("/work/project"),
        },
        agent: None,
    });
    assert!(draw(&mut app, 80, 24).contains("Reach slow.example?"));
    app.handle_core_event(Event::ApprovalAnswered {
        id: 6,
        call_id: "c6".into(),
        decision: None,
    });
    let screen = draw(&mut app, 80, 24);
    assert!(!screen.contains("Reach slow.example?"), "{screen}");
    assert!(!screen.contains("declined"), "{screen}");
    assert!(
        screen.contains("The command ended before the question about its host was answered."),
        "{screen}"
    );
}

/// `/approval` lists the project's rules after the modes and the two trust choices: the rule
/// at `index` among them shows what it lets through, and Enter forgets it, with a notice.
fn forget_in_approval(
    app: &mut App,
    rx: &mut UnboundedReceiver<Op>,
    index: usize,
    rule: &ProjectRule,
    what: &str,
) {
    type_text(app, "/approval");
    key(app, KeyCode::Enter);
    let screen = draw(app, 80, 24);
    assert!(
        screen.contains(&rule.shown()) && screen.contains(&format!("{what} · enter forgets it")),
        "{screen}"
    );
    for _ in 0..kelp::protocol::ApprovalMode::ALL.len() + 2 + index {
        key(app, KeyCode::Down);
    }
    key(app, KeyCode::Enter);
    assert_eq!(ops(rx), [Op::RemoveCommandRule(rule.clone())]);
    let notice = format!("{} asks again from now on", rule.shown());
    assert!(draw(app, 80, 24).contains(&notice), "the notice");
}

/// A running command's first contact with a host no list names: the question says the host,
/// the port and the command; `y` is this command, `a` the session, `p` the project (`x` never
/// in it), kept as a rule that `/status` shows and `/approval` lists and forgets.
#[test]
fn a_host_a_command_asks_to_reach_is_allowed_here_always_and_forgotten() {
    let (mut app, mut rx) = logged_in();
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    app.handle_core_event(Event::ToolStarted {
        call_id: "c4".into(),
        tool: "shell".into(),
        summary: "npm install left-pad".into(),
        paths: Vec::new(),
        facts: None,
    });
    app.handle_core_event(Event::ApprovalRequested {
        id: 4,
        call_id: "c4".into(),
        subject: ApprovalSubject::Network {
            host: "registry.npmjs.example".into(),
            port: 443,
            via: kelp::protocol::Via::Https,
            command: "npm install left-pad".into(),
            workdir: PathBuf::from("/work/project"),
        },
        agent: None,
    });
    assert_snapshot!(draw(&mut app, 80, 24));
    let_the_question_arm();
    key(&mut app, KeyCode::Char('p'));
    assert_eq!(
        ops(&mut rx),
        [Op::Approve {
            id: 4,
            decision: kelp::protocol::ApprovalDecision::AlwaysPrefix
        }]
    );
    let rule = ProjectRule::Host("registry.npmjs.example".into());
    app.handle_core_event(Event::Reply(Reply::CommandRules(vec![
        ProjectRule::Prefix(vec!["make".into()]),
        rule.clone(),
        ProjectRule::RefusedHost("tracker.example".into()),
    ])));
    app.handle_core_event(Event::TurnFinished(TurnOutcome::Completed));
    let screen = draw(&mut app, 80, 24);
    assert!(
        screen.contains("✓ allowed, and commands reach registry.npmjs.example in this"),
        "{screen}"
    );
    type_text(&mut app, "/status");
    key(&mut app, KeyCode::Enter);
    let screen = draw(&mut app, 100, 40);
    assert!(
        screen.contains(
            "`make` run without asking here; registry.npmjs.example reached by commands here;"
        ) && screen.contains("tracker.example refused to commands here"),
        "{screen}"
    );
    forget_in_approval(&mut app, &mut rx, 1, &rule, "reached by commands here");
}

/// A long change: its header scrolls away, so the question names the file; a wrapped row keeps
/// its `+`/`-` (the snapshot is the text, as `NO_COLOR` shows it).
#[test]
fn patch_approval_names_the_file_and_wrapped_rows_keep_their_marker() {
    use kelp::protocol::ChangeKind;
    use kelp::tools::FileChange;
    let (mut app, _rx) = logged_in();
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    let mut diff =
        String::from("--- a/src/config/loader.rs\n+++ b/src/config/loader.rs\n@@ -1,9 +1,9 @@\n");
    for i in 0..8 {
        diff.push_str(&format!(" let unchanged_{i} = 0;\n"));
    }
    diff.push_str("-    let path = dirs.config_dir().join(\"config.toml\"); // the old place, which nobody reads any more\n");
    diff.push_str("+    let path = project.join(\".kelp\").join(\"config.toml\"); // beside the project, where people look first\n");
    let path = PathBuf::from("/work/project/src/config/loader.rs");
    app.handle_core_event(Event::ApprovalRequested {
        id: 3,
        call_id: "p1".into(),
        subject: ApprovalSubject::Patch {
            diff: diff.clone(),
            changes: vec![FileChange {
                kind: ChangeKind::Update,
                path,
                move_to: None,
                diff,
                old_text: None,
                new_text: None,
            }],
        },
        agent: None,
    });
    let screen = draw(&mut app, 80, 12);
    assert!(
        screen.contains("Change src/config/loader.rs? y yes"),
        "{screen}"
    );
    assert_snapshot!(screen);
}

#[test]
fn connect_method_list_over_ssh() {
    let (mut app, _rx) = app_with(None, true);
    assert_snapshot!(draw(&mut app, 80, 24));
}

#[test]
fn connect_browser_waiting() {
    let (mut app, mut rx) = app_with(None, false);
    key(&mut app, KeyCode::Char('1'));
    assert_eq!(
        ops(&mut rx),
        [Op::StartLogin {
            method: kelp::protocol::LoginMethod::Browser,
            name: None,
        }]
    );
    app.handle_core_event(Event::Reply(Reply::Login(LoginEvent::BrowserWaiting {
        authorize_url: "https://auth.openai.com/oauth/authorize?response_type=code&client_id=app_EMoamEEZ73f0CkXaXp7hrann&redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback&scope=openid%20profile%20email%20offline_access&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=af0ifjsldkj".into(),
        port: 1455,
        opening: true,
    })));
    assert_snapshot!(draw(&mut app, 80, 24));
    // Opening failed: the screen stops promising a browser.
    app.handle_core_event(Event::Reply(Reply::Login(LoginEvent::BrowserNotOpened)));
    let screen = draw(&mut app, 80, 24);
    assert!(
        screen.contains("No browser can open here. Open this URL in a browser on any machine"),
        "{screen}"
    );
    assert!(!screen.contains("should open"), "{screen}");
    key(&mut app, KeyCode::Char('c'));
    assert_eq!(app.take_clipboard().len(), 1);
    key(&mut app, KeyCode::Esc);
    assert_eq!(ops(&mut rx), [Op::CancelLogin]);
}

fn device_app() -> App {
    let (mut app, _rx) = app_with(None, true);
    key(&mut app, KeyCode::Enter);
    app.handle_core_event(Event::Reply(Reply::Login(LoginEvent::DeviceCode {
        verification_url: "https://auth.openai.com/codex/device".into(),
        user_code: "WDJB-27561".into(),
        expires_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + 14 * 60 + 32),
    })));
    app
}

#[test]
fn connect_device_code_80x24() {
    let mut app = device_app();
    let screen = draw(&mut app, 80, 24);
    assert!(screen.contains("WDJB-27561"), "the code as selectable text");
    assert!(screen.contains("https://auth.openai.com/codex/device"));
    assert!(screen.contains("█▀▀▀▀▀█"), "the QR code's finder pattern");
    assert_snapshot!(screen);
}

#[test]
fn connect_device_code_100x30() {
    let mut app = device_app();
    assert_snapshot!(draw(&mut app, 100, 30));
}

/// Too few rows for the QR code beside or under the text: `q` shows it alone.
#[test]
fn connect_device_code_60x20() {
    let mut app = device_app();
    let screen = draw(&mut app, 60, 20);
    assert!(screen.contains("WDJB-27561") && screen.contains("q show QR code"));
    assert_snapshot!(screen);
    key(&mut app, KeyCode::Char('q'));
    assert_snapshot!("connect_device_code_60x20_qr", draw(&mut app, 60, 20));
    key(&mut app, KeyCode::Char('q'));
    assert_eq!(draw(&mut app, 60, 20), screen);
}

#[test]
fn connect_device_code_120x40() {
    let mut app = device_app();
    assert_snapshot!(draw(&mut app, 120, 40));
}

#[test]
fn connect_api_key_masked() {
    let (mut app, mut rx) = app_with(None, false);
    key(&mut app, KeyCode::Char('3'));
    // An Enter right after the choice (as if to confirm it) waits for the key, no error.
    key(&mut app, KeyCode::Enter);
    let screen = draw(&mut app, 80, 24);
    assert!(!screen.contains("empty"), "{screen}");
    assert_eq!(ops(&mut rx), []);
    type_text(&mut app, "sk-proj-typedkey");
    app.handle_terminal_event(TermEvent::Paste("0123456789abcd".into()));
    let screen = draw(&mut app, 80, 24);
    assert!(!screen.contains("typedkey") && !screen.contains("0123"));
    assert_snapshot!(screen);
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        ops(&mut rx),
        [Op::SaveApiKey {
            key: "sk-proj-typedkey0123456789abcd".into(),
            unchecked: false
        }]
    );
    app.handle_core_event(Event::Reply(Reply::AuthChanged(Some(
        AuthSummary::ApiKey {
            masked: "sk-…abcd".into(),
        },
    ))));
    assert_eq!(ops(&mut rx), [Op::RefreshModels]);
    assert_snapshot!("connect_api_key_done", draw(&mut app, 80, 12));
}

#[test]
fn connect_error_offers_other_methods() {
    let (mut app, _rx) = app_with(None, false);
    key(&mut app, KeyCode::Char('2'));
    app.handle_core_event(Event::Reply(Reply::Login(LoginEvent::Failed(
        "device code login is not enabled for this workspace: turn on device code login in ChatGPT settings → Security".into(),
    ))));
    assert_snapshot!(draw(&mut app, 80, 24));
}

#[test]
fn slash_popup_filters_as_you_type() {
    let (mut app, _rx) = logged_in();
    key(&mut app, KeyCode::Char('/'));
    assert_snapshot!("slash_popup_all", draw(&mut app, 80, 20));
    // A window too short for all of them says how many are out of sight.
    let short = draw(&mut app, 80, 12);
    assert!(short.contains("esc close · ↓ 44 more"), "{short}");
    type_text(&mut app, "lo");
    assert_snapshot!("slash_popup_filtered", draw(&mut app, 80, 20));
}

#[test]
fn model_picker() {
    let (mut app, mut rx) = logged_in();
    type_text(&mut app, "/model");
    key(&mut app, KeyCode::Enter);
    assert_eq!(ops(&mut rx), [Op::RefreshModels]);
    app.handle_core_event(Event::Reply(Reply::Models {
        available: vec![
            "gpt-5.5".into(),
            "gpt-5.4".into(),
            "gpt-5.4-mini".into(),
            "gpt-5.3-codex-spark".into(),
        ],
        current: "gpt-5.5".into(),
    }));
    key(&mut app, KeyCode::Down);
    assert_snapshot!(draw(&mut app, 80, 20));
    key(&mut app, KeyCode::Enter);
    assert_eq!(ops(&mut rx), [Op::SetModel("gpt-5.4".into())]);
}

/// `/permissions` in a 60-column window: a detail too long is cut with an ellipsis, and the
/// current choice still says "(current)".
#[test]
fn a_narrow_picker_cuts_details_with_an_ellipsis_and_keeps_current() {
    let (mut app, _rx) = logged_in();
    type_text(&mut app, "/permissions");
    key(&mut app, KeyCode::Enter);
    assert_snapshot!(draw(&mut app, 60, 20));
    let screen = draw(&mut app, 60, 20);
    assert!(screen.contains("(current)"), "{screen}");
    assert!(screen.contains('…'), "{screen}");
}

fn restored_history() -> Vec<Item> {
    vec![
        Item::Message {
            role: Role::User,
            content: vec![Content::InputText {
                text: "# AGENTS.md instructions for /work/project\n\n<INSTRUCTIONS>\nRun cargo fmt.\n</INSTRUCTIONS>".into(),
            }],
        },
        Item::user_text("Why does the parser test fail?"),
        Item::Reasoning {
            summary: vec![ReasoningSummary {
                kind: "summary_text".into(),
                text: "Running the tests first.\nThen reading the parser.".into(),
            }],
            encrypted_content: Some("gAAAA".into()),
        },
        Item::FunctionCall {
            name: "shell".into(),
            arguments: r#"{"command":["cargo","test","parser"]}"#.into(),
            call_id: "c1".into(),
            namespace: None,
        },
        Item::FunctionCallOutput {
            call_id: "c1".into(),
            output: "Exit code: 101\nWall time: 2.34 seconds\nOutput:\ntest parser::header ... FAILED\n".into(),
        },
        Item::FunctionCall {
            name: "read_file".into(),
            arguments: r#"{"path":"src/parser.rs"}"#.into(),
            call_id: "c2".into(),
            namespace: None,
        },
        Item::FunctionCallOutput {
            call_id: "c2".into(),
            output: "L1: fn header() {}".into(),
        },
        Item::assistant_text("`header` skips the **first** line:\n\n- fix the loop bound\n- run the test again"),
    ]
}

#[test]
fn restored_transcript() {
    let (mut app, _rx) = logged_in();
    app.handle_core_event(Event::Notice(
        "an earlier line that resuming replaces".into(),
    ));
    app.handle_core_event(Event::Reply(Reply::Restored(Box::new(
        kelp::agent::replay::replay(
            &restored_history(),
            &[],
            std::path::Path::new("/work/project"),
        ),
    ))));
    let screen = draw(&mut app, 80, 26);
    assert!(!screen.contains("AGENTS.md instructions"), "{screen}");
    assert!(!screen.contains("earlier line"), "{screen}");
    assert_snapshot!(screen);
    type_text(&mut app, "/status");
    key(&mut app, KeyCode::Enter);
    let screen = draw(&mut app, 80, 26);
    assert!(
        screen.contains("AGENTS.md: as loaded when this conversation started"),
        "{screen}"
    );
}

fn session(prompt: Option<&str>, minutes_ago: u64, model: &str) -> SessionSummary {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let modified = now - Duration::from_secs(minutes_ago * 60);
    SessionSummary {
        id: uuid::Uuid::nil(),
        path: PathBuf::from(format!("/state/sessions/{minutes_ago}.jsonl")),
        project_dir: PathBuf::from("/work/project"),
        model: model.into(),
        started_at: chrono::DateTime::<chrono::Utc>::from(modified - Duration::from_secs(600)),
        first_prompt: prompt.map(String::from),
        size: 4096,
        modified: Some(modified),
        name: None,
        forked_from: None,
        agent: None,
        side_of: None,
        last_exchange: None,
    }
}

#[test]
fn resume_picker() {
    let (mut app, mut rx) = logged_in();
    type_text(&mut app, "/resume");
    key(&mut app, KeyCode::Enter);
    assert_eq!(ops(&mut rx), [Op::ListSessions]);
    assert_snapshot!("resume_picker_waiting", draw(&mut app, 80, 16));
    // The selected one shows its last exchange under the list.
    let mut renamed = session(
        Some(
            "Rename the config module to settings and update every import that uses it across the crate",
        ),
        150,
        "gpt-5.4",
    );
    renamed.last_exchange = Some(kelp::protocol::LastExchange {
        prompt: "and the tests?".into(),
        answer: Some("Updated 4 test files; all pass.".into()),
        model: None,
    });
    app.handle_core_event(Event::Reply(Reply::Sessions(vec![
        session(Some("Why does the parser test fail?"), 3, "gpt-5.5"),
        renamed,
        session(None, 3 * 24 * 60, "gpt-5.5"),
    ])));
    key(&mut app, KeyCode::Down);
    assert_snapshot!("resume_picker", draw(&mut app, 80, 16));
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        ops(&mut rx),
        [Op::Resume(PathBuf::from("/state/sessions/150.jsonl"))]
    );
    // The core answers with the history; the notice says when the conversation was.
    app.handle_core_event(Event::Reply(Reply::Restored(Box::new(
        kelp::agent::replay::replay(
            &[
                Item::user_text("Rename the config module"),
                Item::assistant_text("Done."),
            ],
            &[],
            std::path::Path::new("/work/project"),
        ),
    ))));
    let screen = draw(&mut app, 80, 16);
    assert!(screen.contains("› Rename the config module"), "{screen}");
    assert!(
        screen.contains("Resumed the conversation from "),
        "{screen}"
    );

    // Esc closes the picker without resuming.
    type_text(&mut app, "/resume");
    key(&mut app, KeyCode::Enter);
    app.handle_core_event(Event::Reply(Reply::Sessions(Vec::new())));
    assert!(draw(&mut app, 80, 16).contains("no saved conversations in this project yet"));
    key(&mut app, KeyCode::Esc);
    assert_eq!(ops(&mut rx), [Op::ListSessions]);
    assert!(!draw(&mut app, 80, 16).contains("Resume a conversation"));

    // A core that cannot list sessions says so; the picker does not wait forever.
    type_text(&mut app, "/resume");
    key(&mut app, KeyCode::Enter);
    app.handle_core_event(Event::Error("cannot read the sessions folder".into()));
    let screen = draw(&mut app, 80, 16);
    assert!(!screen.contains("Resume a conversation"), "{screen}");
    assert!(
        screen.contains("cannot read the sessions folder"),
        "{screen}"
    );
}

#[test]
fn status_lists_the_agents_files() {
    let (mut app, _rx) = logged_in();
    app.handle_core_event(Event::Reply(Reply::Instructions(vec![
        InstructionFile {
            path: PathBuf::from("/work/AGENTS.md"),
            bytes: 812,
            included: 812,
        },
        InstructionFile {
            path: PathBuf::from("/work/project/AGENTS.md"),
            bytes: 40_960,
            included: 31_955,
        },
    ])));
    type_text(&mut app, "/status");
    key(&mut app, KeyCode::Enter);
    assert_snapshot!(draw(&mut app, 80, 16));
}

/// `/review` alone: Codex's four choices, then the commits git lists, in an 80-column window.
#[test]
fn review_pickers() {
    let (mut app, mut rx) = logged_in();
    type_text(&mut app, "/review");
    key(&mut app, KeyCode::Enter);
    assert_snapshot!("review_choices", draw(&mut app, 80, 12));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert_eq!(ops(&mut rx), [Op::ListRevisions]);
    assert!(draw(&mut app, 80, 12).contains("asking git…"));
    app.handle_core_event(Event::Reply(Reply::Revisions(Some(
        kelp::protocol::Revisions {
            commits: vec![
                ("5d0d4ed".into(), "Parse each header once\x1b[31m".into()),
                ("add3650".into(), "First commit".into()),
            ],
            branches: vec!["main".into()],
            current: Some("feature".into()),
        },
    ))));
    let screen = draw(&mut app, 80, 12);
    assert!(
        !screen.contains('\x1b'),
        "a subject's escapes are not drawn"
    );
    assert_snapshot!("review_commits", screen);
    key(&mut app, KeyCode::Enter);
    let sent = ops(&mut rx);
    assert!(
        matches!(&sent[..], [Op::Review { target: kelp::protocol::ReviewTarget::Commit { sha, .. }, .. }] if sha == "5d0d4ed"),
        "{sent:?}"
    );
}

/// A reasoning summary is Markdown: its bold title reads as a title, never `**Title**`; folded
/// to that title, and whole with Ctrl+O.
#[test]
fn a_reasoning_summary_is_rendered_as_markdown() {
    let (mut app, _rx) = logged_in();
    type_text(&mut app, "Explain the parser");
    key(&mut app, KeyCode::Enter);
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    app.handle_core_event(thinking(
        "rs_1",
        "**Checking the parser**\n\nThe header is read *twice*, in `parse_header`.",
    ));
    let folded = draw(&mut app, 80, 10);
    assert!(folded.contains("✻ Checking the parser …"), "{folded}");
    assert!(
        !folded.contains("**") && !folded.contains("twice"),
        "{folded}"
    );
    app.handle_key(KeyEvent::new(KeyCode::Char('o'), KeyModifiers::CONTROL));
    let whole = draw(&mut app, 80, 10);
    assert!(!whole.contains('*') && !whole.contains('`'), "{whole}");
    assert_snapshot!(whole);
}

#[test]
fn a_retry_keeps_the_partial_answer_until_the_next_attempt_streams() {
    let (mut app, _rx) = logged_in();
    type_text(&mut app, "Explain the parser");
    key(&mut app, KeyCode::Enter);
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    app.handle_core_event(thinking("rs_1", "Looking at the first try"));
    app.handle_core_event(delta("msg_1", "FIRST attempt, cut"));
    app.handle_core_event(delta("msg_1", " in the middle"));
    app.handle_core_event(retrying(1, 200, &["rs_1", "msg_1"]));
    let screen = draw(&mut app, 80, 14);
    assert!(
        screen.contains("FIRST attempt, cut in the middle") && screen.contains("reconnecting 1/5"),
        "what came so far stays while kelp reconnects:\n{screen}"
    );
    app.handle_core_event(thinking("rs_2", "Reading it again"));
    let screen = draw(&mut app, 80, 14);
    assert!(
        !screen.contains("FIRST") && !screen.contains("first try"),
        "the next attempt sends it all again:\n{screen}"
    );
    app.handle_core_event(delta("msg_2", "SECOND attempt"));
    app.handle_core_event(retrying(2, 400, &["rs_2", "msg_2"]));
    app.handle_core_event(thinking("rs_3", "Reading the parser"));
    app.handle_core_event(delta("msg_3", "The parser reads "));
    app.handle_core_event(delta("msg_3", "one header per line."));
    app.handle_core_event(done("msg_3", "The parser reads one header per line."));
    app.handle_core_event(Event::TurnFinished(TurnOutcome::Completed));
    let screen = draw(&mut app, 80, 14);
    assert!(
        !screen.contains("SECOND") && !screen.contains("again"),
        "{screen}"
    );
    assert!(!screen.contains("reconnecting"), "{screen}");
    assert_eq!(screen.matches("retried 2× —").count(), 1, "{screen}");
    assert_snapshot!(screen);
}

#[test]
fn a_retry_keeps_earlier_tool_calls_and_their_indices() {
    let (mut app, _rx) = logged_in();
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    app.handle_core_event(delta("msg_1", "Let me run it."));
    app.handle_core_event(done("msg_1", "Let me run it."));
    app.handle_core_event(Event::ToolStarted {
        call_id: "c1".into(),
        tool: "shell".into(),
        summary: "ls".into(),
        paths: Vec::new(),
        facts: None,
    });
    app.handle_core_event(Event::ToolFinished {
        call_id: "c1".into(),
        success: true,
        exit_code: Some(0),
        duration: Duration::from_millis(20),
    });
    // The second response starts streaming, then is retried: only its text goes.
    app.handle_core_event(delta("msg_2", "PARTIAL"));
    app.handle_core_event(Event::Retrying {
        attempt: 1,
        max: 5,
        delay: Duration::from_millis(200),
        reason: "server error".into(),
        voided: vec!["msg_2".into()],
    });
    app.handle_core_event(Event::ToolStarted {
        call_id: "c2".into(),
        tool: "shell".into(),
        summary: "pwd".into(),
        paths: Vec::new(),
        facts: None,
    });
    app.handle_core_event(Event::ToolOutput {
        call_id: "c2".into(),
        chunk: "/work/project\n".into(),
    });
    let screen = draw(&mut app, 80, 20);
    assert!(screen.contains("Let me run it."), "{screen}");
    assert!(screen.contains("Ran shell ls"), "{screen}");
    assert!(!screen.contains("PARTIAL"), "{screen}");
    assert!(screen.contains("│ /work/project"), "{screen}");
}

/// A ChatGPT login with usage and both limits at 80 columns: the status line keeps the model
/// and labels each limit; a queued prompt shows above the composer with how to take it back;
/// a hint takes the right side before anything that explains less.
#[test]
fn queued_prompt_and_a_full_status_line_at_80_columns() {
    let (mut app, mut rx) = app_with(
        Some(AuthSummary::ChatGpt(kelp::protocol::Account {
            email: Some("ada.lovelace@analytical-engines.example".into()),
            plan: Some("pro".into()),
            account_id: None,
        })),
        false,
    );
    let window = |used_percent, window_minutes| kelp::protocol::RateLimitWindow {
        used_percent,
        window_minutes: Some(window_minutes),
        resets_at: None,
    };
    app.handle_core_event(Event::Usage(kelp::protocol::TokenUsage {
        input_tokens: 3000,
        output_tokens: 300,
        total_tokens: 3300,
        ..Default::default()
    }));
    app.handle_core_event(Event::RateLimits(kelp::protocol::RateLimits {
        primary: Some(window(12.0, 300)),
        secondary: Some(window(40.0, 7 * 24 * 60)),
    }));
    let screen = draw(&mut app, 120, 6);
    assert!(
        screen.contains("3.3k tokens · 5h limit 12% · week limit 40%"),
        "{screen}"
    );
    type_text(&mut app, "Explain the parser");
    key(&mut app, KeyCode::Enter);
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    app.handle_core_event(delta("msg_1", "The parser"));
    type_text(
        &mut app,
        "then fix the failing test in tests/parser.rs, please",
    );
    key(&mut app, KeyCode::Tab);
    let sent: Vec<Op> = ops(&mut rx);
    assert_eq!(
        sent.iter().filter(|op| matches!(op, Op::Submit(_))).count(),
        1,
        "the queued prompt waits: {sent:?}"
    );
    let screen = draw(&mut app, 80, 24);
    assert!(screen.contains("gpt-5.5"), "the model stays:\n{screen}");
    assert!(screen.contains("↳ queued"), "{screen}");
    assert_snapshot!(screen);

    app.handle_core_event(Event::TurnFinished(TurnOutcome::Completed));
    let sent = ops(&mut rx);
    assert!(
        sent.iter()
            .any(|op| matches!(op, Op::Submit(Submission { text, .. })
            if text == "then fix the failing test in tests/parser.rs, please")),
        "sent when the answer ended: {sent:?}"
    );
    key(&mut app, KeyCode::Char('c'));
    app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    let screen = draw(&mut app, 80, 24);
    let status = screen.lines().last().unwrap();
    assert!(status.contains("press ctrl+c again to quit"), "{status}");
    assert!(status.contains("gpt-5.5"), "{status}");
}

#[test]
fn diff_of_the_working_tree() {
    let (mut app, mut rx) = logged_in();
    type_text(&mut app, "/diff");
    key(&mut app, KeyCode::Enter);
    assert!(ops(&mut rx).contains(&Op::Diff));
    app.handle_core_event(Event::Reply(Reply::WorkingTreeDiff(Some(
        "diff --git a/src/main.rs b/src/main.rs\n--- a/src/main.rs\n+++ b/src/main.rs\n@@ -1 +1 @@\n-fn main() {}\n+fn main() { run(); }\n\nUntracked files:\n  src/new.rs\n".into(),
    ))));
    assert_snapshot!(draw(&mut app, 80, 16));
}

/// Draws until two frames in a row are the same: the finder's matcher works on other threads,
/// and a frame waits for it only briefly.
fn draw_settled(app: &mut App, width: u16, height: u16) -> String {
    let mut last = draw(app, width, height);
    for _ in 0..200 {
        std::thread::sleep(Duration::from_millis(5));
        let next = draw(app, width, height);
        if next == last {
            return next;
        }
        last = next;
    }
    last
}

const PROJECT_FILES: [&str; 8] = [
    "Cargo.toml",
    "README.md",
    "src/main.rs",
    "src/tui/app.rs",
    "src/tui/bottom_pane/composer.rs",
    "src/tui/bottom_pane/file_finder.rs",
    "tests/it/tui_snapshots.rs",
    "docs/a/very/long/folder/that/goes/on/and/on/past/the/edge/of/an/ssh/window/composer_notes.md",
];

#[test]
fn file_finder_matches_as_you_type_at_80x24() {
    let (mut app, _rx) = logged_in();
    app.use_file_finder(kelp::tui::FileFinder::with_files(PROJECT_FILES));
    type_text(&mut app, "explain @");
    assert_snapshot!("file_finder_all", draw_settled(&mut app, 80, 24));
    type_text(&mut app, "compo");
    assert_snapshot!("file_finder_compo", draw_settled(&mut app, 80, 24));
    // The selection wraps both ways.
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Tab);
    let screen = draw_settled(&mut app, 80, 24);
    assert!(
        screen.contains("› explain @src/tui/bottom_pane/composer.rs"),
        "{screen}"
    );
    assert!(
        !screen.contains(" Files "),
        "inserting closes the finder:\n{screen}"
    );
    type_text(&mut app, "and @zzq");
    let screen = draw_settled(&mut app, 80, 24);
    assert!(screen.contains("no matching files"), "{screen}");
    key(&mut app, KeyCode::Esc);
    let screen = draw_settled(&mut app, 80, 24);
    assert!(!screen.contains(" Files "), "esc closes it:\n{screen}");
    type_text(&mut app, "x");
    let screen = draw_settled(&mut app, 80, 24);
    assert!(
        !screen.contains(" Files "),
        "and it stays closed for that word:\n{screen}"
    );
    // Cleared and typed again at the same place, the word is a new one: the finder is back.
    app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    type_text(&mut app, "explain @src/tui/bottom_pane/composer.rs and @z");
    let screen = draw_settled(&mut app, 80, 24);
    assert!(screen.contains(" Files "), "{screen}");
}

/// Enter in the `@` finder inserts the highlighted file, as Tab does (and as Codex's Enter
/// does), so a half-typed mention never goes out with nothing attached; with nothing
/// matching, Enter sends the prompt as typed.
#[test]
fn enter_inserts_the_highlighted_file_and_sends_what_matches_nothing() {
    let (mut app, mut rx) = logged_in();
    app.use_file_finder(kelp::tui::FileFinder::with_files(PROJECT_FILES));
    let sent = |rx: &mut _| -> Vec<String> {
        ops(rx)
            .into_iter()
            .filter_map(|op| match op {
                Op::Submit(Submission { text, .. }) => Some(text),
                _ => None,
            })
            .collect()
    };
    type_text(&mut app, "what does @compo");
    let screen = draw_settled(&mut app, 80, 24);
    assert!(
        screen.contains("› src/tui/bottom_pane/composer.rs"),
        "{screen}"
    );
    key(&mut app, KeyCode::Enter);
    assert_eq!(sent(&mut rx), Vec::<String>::new(), "inserted, not sent");
    let screen = draw_settled(&mut app, 80, 24);
    assert!(
        screen.contains("› what does @src/tui/bottom_pane/composer.rs"),
        "{screen}"
    );
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        sent(&mut rx),
        ["what does @src/tui/bottom_pane/composer.rs "]
    );
    // With nothing matching, the keys are the composer's: Enter sends, ↑ brings it back.
    type_text(&mut app, "thanks @zzq");
    let screen = draw_settled(&mut app, 80, 24);
    assert!(screen.contains("no matching files"), "{screen}");
    key(&mut app, KeyCode::Enter);
    assert_eq!(sent(&mut rx), ["thanks @zzq"]);
    key(&mut app, KeyCode::Up);
    let screen = draw_settled(&mut app, 80, 24);
    assert!(screen.contains("› thanks @zzq"), "{screen}");
}

#[test]
fn attached_files_under_the_prompt() {
    let (mut app, _rx) = logged_in();
    type_text(&mut app, "explain @src/main.rs and @../secret");
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Enter);
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    app.handle_core_event(Event::Attached(vec![
        Attachment {
            path: "src/main.rs".into(),
            attached: true,
            detail: "12 lines".into(),
        },
        Attachment {
            path: "../secret".into(),
            attached: false,
            detail: "leads outside the project (to /work/secret)".into(),
        },
    ]));
    app.handle_core_event(done("msg_1", "It starts the UI."));
    app.handle_core_event(Event::TurnFinished(TurnOutcome::Completed));
    assert_snapshot!("attached_files", draw(&mut app, 80, 12));
}

/// A command stopped with Esc reads "interrupted", not "failed"; the turn's timer stood still
/// while the approval waited.
#[test]
fn a_command_stopped_with_esc_reads_interrupted() {
    let (mut app, mut rx) = logged_in();
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    app.handle_core_event(Event::ApprovalRequested {
        id: 1,
        call_id: "c1".into(),
        subject: ApprovalSubject::Command {
            command: "sleep 30".into(),
            workdir: PathBuf::from("/work/project"),
            always_prefix: None,
        },
        agent: None,
    });
    assert!(draw(&mut app, 80, 12).contains("◇ Waiting for you"));
    let_the_question_arm();
    key(&mut app, KeyCode::Char('y'));
    app.handle_core_event(Event::ToolStarted {
        call_id: "c1".into(),
        tool: "shell".into(),
        summary: "sleep 30".into(),
        paths: Vec::new(),
        facts: None,
    });
    assert!(draw(&mut app, 80, 12).contains("Working"));
    key(&mut app, KeyCode::Esc);
    assert!(ops(&mut rx).contains(&Op::Interrupt));
    app.handle_core_event(Event::ToolFinished {
        call_id: "c1".into(),
        success: false,
        exit_code: Some(137),
        duration: Duration::from_millis(1500),
    });
    app.handle_core_event(Event::TurnFinished(TurnOutcome::Interrupted));
    let screen = draw(&mut app, 80, 12);
    assert!(screen.contains("└ ■ interrupted · 1.5s"), "{screen}");
    assert!(!screen.contains("exit 137"), "{screen}");
}

/// The status line keeps only what is true: the limits go with the login that had them, and
/// the context item stays through a compaction, at the summary's size.
#[test]
fn the_status_line_drops_old_limits_and_keeps_the_context_through_compact() {
    let (mut app, _rx) = logged_in();
    app.handle_core_event(Event::RateLimits(kelp::protocol::RateLimits {
        primary: Some(kelp::protocol::RateLimitWindow {
            used_percent: 12.0,
            window_minutes: Some(300),
            resets_at: None,
        }),
        secondary: None,
    }));
    app.handle_core_event(Event::ContextUsed {
        used: 200_000,
        window: Some(272_000),
    });
    let screen = draw(&mut app, 120, 6);
    assert!(screen.contains("73% context"), "{screen}");
    assert!(screen.contains("5h limit 12%"), "{screen}");

    app.handle_core_event(Event::Compacted {
        before: 200_000,
        automatic: false,
    });
    app.handle_core_event(Event::ContextUsed {
        used: 5_440,
        window: Some(272_000),
    });
    let screen = draw(&mut app, 120, 6);
    assert!(screen.contains("2% context"), "{screen}");

    app.handle_core_event(Event::Reply(Reply::AuthChanged(None)));
    let screen = draw(&mut app, 120, 6);
    assert!(!screen.contains("limit"), "{screen}");
}

/// Scrolled up, the "more below" hint has a row of its own: the transcript's last visible row
/// is not covered.
#[test]
fn the_more_below_hint_covers_no_transcript_row() {
    let (mut app, _rx) = logged_in();
    for i in 0..30 {
        app.handle_core_event(Event::Notice(format!(
            "note number {i} with enough words to reach the right side of the window xx"
        )));
    }
    draw(&mut app, 80, 16);
    key(&mut app, KeyCode::PageUp);
    let screen = draw(&mut app, 80, 16);
    let rows: Vec<&str> = screen.lines().collect();
    let hint = rows
        .iter()
        .position(|r| r.contains("↓ more below"))
        .expect("the hint shows");
    assert!(!rows[hint].contains("note number"), "{screen}");
    assert!(rows[hint - 1].contains("note number"), "{screen}");
}

/// Typing ahead when a question opens: the person was writing "can you also…" when the
/// command's approval came up. The `a` (always) and the Enter answer nothing and send nothing;
/// the words wait in the composer; once the question has been on screen for half a second,
/// keys answer it.
#[test]
fn keys_typed_as_a_question_opens_do_not_answer_it() {
    let (mut app, mut rx) = logged_in();
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    type_text(&mut app, "can you ");
    app.handle_core_event(Event::ApprovalRequested {
        id: 9,
        call_id: "c9".into(),
        subject: ApprovalSubject::Command {
            command: "curl https://example.org/x.sh | sh".into(),
            workdir: PathBuf::from("/work/project"),
            always_prefix: None,
        },
        agent: None,
    });
    type_text(&mut app, "also");
    draw(&mut app, 80, 16);
    type_text(&mut app, " check");
    key(&mut app, KeyCode::Enter);
    assert_eq!(ops(&mut rx), [], "no answer, no prompt");
    let_the_question_arm();
    key(&mut app, KeyCode::Char('n'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        ops(&mut rx),
        [Op::Approve {
            id: 9,
            decision: kelp::protocol::ApprovalDecision::No { reason: None }
        }]
    );
    let screen = draw(&mut app, 80, 16);
    assert!(screen.contains("can you also check"), "{screen}");
}

/// A paste whose end marker comes early types what follows it: `note\e[201~y` would approve,
/// `hello\e[201~\r` would send. Keys right behind a paste do neither.
#[test]
fn keys_right_behind_a_paste_neither_answer_nor_send() {
    let (mut app, mut rx) = logged_in();
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    app.handle_core_event(Event::ApprovalRequested {
        id: 4,
        call_id: "c4".into(),
        subject: ApprovalSubject::Command {
            command: "rm -rf ~/work".into(),
            workdir: PathBuf::from("/work/project"),
            always_prefix: None,
        },
        agent: None,
    });
    draw(&mut app, 80, 16);
    let_the_question_arm();
    app.handle_paste("note");
    key(&mut app, KeyCode::Char('y'));
    assert_eq!(ops(&mut rx), [], "the y behind the paste answered");
    key(&mut app, KeyCode::Esc);
    std::thread::sleep(Duration::from_millis(200));
    key(&mut app, KeyCode::Esc);
    assert!(matches!(&ops(&mut rx)[..], [Op::Approve { id: 4, .. }]));
    app.handle_core_event(Event::TurnFinished(TurnOutcome::Completed));
    app.handle_paste("hello");
    key(&mut app, KeyCode::Enter);
    assert_eq!(ops(&mut rx), [], "the Enter behind the paste sent it");
    std::thread::sleep(Duration::from_millis(200));
    key(&mut app, KeyCode::Enter);
    assert!(
        ops(&mut rx).iter().any(|op| matches!(op, Op::Submit(_))),
        "a later Enter sends"
    );
}

/// A long command's approval shows its start and how many lines follow, never a middle with
/// the start scrolled away; Ctrl+O shows it whole, while the question waits.
#[test]
fn a_long_commands_approval_shows_its_start_and_what_follows() {
    let (mut app, _rx) = logged_in();
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    let command: Vec<String> = (1..=25).map(|n| format!("echo step {n}")).collect();
    app.handle_core_event(Event::ApprovalRequested {
        id: 5,
        call_id: "c5".into(),
        subject: ApprovalSubject::Command {
            command: command.join("\n"),
            workdir: PathBuf::from("/work/project"),
            always_prefix: None,
        },
        agent: None,
    });
    assert_snapshot!(draw(&mut app, 80, 24));
    let ctrl_o = KeyEvent::new(KeyCode::Char('o'), KeyModifiers::CONTROL);
    app.handle_key(ctrl_o);
    let whole = draw(&mut app, 80, 24);
    assert!(whole.contains("echo step 25"), "{whole}");
    assert!(!whole.contains("more lines"), "{whole}");
}

/// An auth file that cannot be read is said in the sign-in dialog that opens at start, not
/// hidden behind it until Esc.
#[test]
fn a_broken_auth_file_is_said_in_the_sign_in_dialog() {
    let (mut app, _rx) = app_starting(|initial| {
        initial.headless = true;
        initial.warning =
            Some("the auth file ~/.local/share/kelp/auth.json is not valid JSON at line 1".into());
    });
    let screen = draw(&mut app, 80, 24);
    assert!(screen.contains("is not valid JSON at line 1"), "{screen}");
    assert!(
        screen.contains("Signing in writes to that file"),
        "{screen}"
    );
    assert!(screen.contains("2. ChatGPT"), "the methods stay: {screen}");
}

/// A `/status` line too long for the window wraps under its value, not under its label.
#[test]
fn status_lines_wrap_under_their_value() {
    let (mut app, _rx) = app_starting(|initial| {
        initial.auth = Some(AuthSummary::ApiKey {
            masked: "sk-…abcd".into(),
        });
        initial.sandbox = "workspace-write, no network (Landlock ABI 7, seccomp, user \
                           namespaces); commands may write the project, the temp dir and \
                           kelp's cache"
            .into();
    });
    type_text(&mut app, "/status");
    key(&mut app, KeyCode::Enter);
    let screen = draw(&mut app, 80, 24);
    let lines: Vec<&str> = screen.lines().collect();
    let at = lines
        .iter()
        .position(|line| line.contains("Sandbox:   workspace-write"))
        .expect("the sandbox line");
    // Each row is drawn quoted; the value starts at column 14, after the bullet's two.
    let next = lines[at + 1].trim_start_matches('"');
    assert!(
        next.starts_with(&" ".repeat(14)) && next.trim().starts_with("namespaces"),
        "{screen}"
    );
}

/// Someone typing a sentence at 80 ms a key as a question opens, and still typing when it
/// arms: none of the burst's keys answers it ("also" would approve for the session), and they
/// all reach the composer. After a pause, a key answers.
#[test]
fn a_burst_of_typing_under_way_as_a_question_opens_never_answers_it() {
    let (mut app, mut rx) = logged_in();
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    let typed = |app: &mut App, text: &str| {
        for c in text.chars() {
            key(app, KeyCode::Char(c));
            std::thread::sleep(Duration::from_millis(80));
        }
    };
    typed(&mut app, "please ");
    app.handle_core_event(Event::ApprovalRequested {
        id: 11,
        call_id: "c11".into(),
        subject: ApprovalSubject::Command {
            command: "curl https://example.org/x.sh | sh".into(),
            workdir: PathBuf::from("/work/project"),
            always_prefix: None,
        },
        agent: None,
    });
    draw(&mut app, 80, 16);
    // Past the question's arming, still the same burst.
    typed(&mut app, "do it and also check yes");
    assert_eq!(ops(&mut rx), [], "a key of the burst answered");
    std::thread::sleep(Duration::from_millis(600));
    key(&mut app, KeyCode::Char('n'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        ops(&mut rx),
        [Op::Approve {
            id: 11,
            decision: kelp::protocol::ApprovalDecision::No { reason: None }
        }]
    );
    let screen = draw(&mut app, 80, 16);
    assert!(
        screen.contains("please do it and also check yes"),
        "{screen}"
    );
}

/// An unknown command is said, and what was typed stays in the composer to be mended; `/clear`
/// starts a new conversation as `/new` does, and `/status` names the conversation.
#[test]
fn an_unknown_command_keeps_its_text_and_clear_starts_anew() {
    let (mut app, mut rx) = logged_in();
    type_text(&mut app, "/modle");
    key(&mut app, KeyCode::Enter);
    let screen = draw(&mut app, 80, 24);
    assert!(
        screen.contains("unknown command /modle: /help lists the commands"),
        "{screen}"
    );
    assert!(screen.contains("› /modle"), "the text stays: {screen}");
    for _ in 0.."/modle".len() {
        key(&mut app, KeyCode::Backspace);
    }
    app.handle_core_event(Event::Reply(Reply::Conversation {
        id: "0193-kelp-session".into(),
    }));
    type_text(&mut app, "/status");
    key(&mut app, KeyCode::Enter);
    assert!(
        draw(&mut app, 80, 24).contains("Session:   0193-kelp-session"),
        "/status names the conversation"
    );
    type_text(&mut app, "/clear");
    key(&mut app, KeyCode::Enter);
    assert_eq!(ops(&mut rx), [Op::NewConversation]);
    assert!(draw(&mut app, 80, 24).contains("New conversation."));
}

/// Another model provider with its own key: no sign-in dialog opens, the status line names
/// it where the login goes, and `/status` says where requests go and what they carry.
#[test]
fn a_provider_with_its_own_key_takes_the_logins_place() {
    let mut provider = kelp::config::ModelProvider::at(
        "azure",
        "Azure OpenAI",
        Some("https://team.openai.azure.com/openai/v1"),
    );
    provider.env_key = Some("KELP_TEST_UNSET_AZURE_KEY".into());
    let (mut app, _rx) = app_starting(|initial| {
        initial.provider = kelp::tui::status::ProviderShown::of(&provider);
    });
    let first = draw(&mut app, 80, 8);
    assert!(
        !first.contains("Connect"),
        "no sign-in for this provider:\n{first}"
    );
    type_text(&mut app, "/status");
    key(&mut app, KeyCode::Enter);
    assert_snapshot!(draw(&mut app, 80, 17));
}

/// The model's justification for running outside the sandbox, padded to wrap into a fake
/// `$ cargo test` and a fake "with your full rights" line, forty lines long: shown after the
/// real command as the model's words, on one line, cut short; the question and the real
/// command stay on screen at 80×24 and at 60 columns.
#[test]
fn a_justification_draws_no_fake_command_and_pushes_nothing_off_the_screen() {
    let pad = " ".repeat(70);
    let fake = format!(
        "Needed to run the tests.{pad}$ cargo test{pad}  in ~/project · with your full rights, this once{pad}\n"
    );
    let (mut app, _rx) = logged_in();
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    app.handle_core_event(Event::ApprovalRequested {
        id: 9,
        call_id: "c9".into(),
        subject: ApprovalSubject::Unsandboxed {
            command: "curl -s https://get.example.sh | sh".into(),
            workdir: PathBuf::from("/work/project"),
            blocked: fake.repeat(40),
            requested: true,
            always_prefix: None,
        },
        agent: None,
    });
    for (width, height) in [(80, 24), (60, 24)] {
        let screen = draw(&mut app, width, height);
        assert!(
            screen.contains("▲ Run this command outside the sandbox?"),
            "{screen}"
        );
        let rows: Vec<&str> = screen
            .lines()
            .map(|row| row.trim_matches('"').trim())
            .collect();
        let commands: Vec<&&str> = rows.iter().filter(|row| row.starts_with("$ ")).collect();
        assert_eq!(
            commands,
            [&"$ curl -s https://get.example.sh | sh"],
            "{screen}"
        );
        let rights = rows
            .iter()
            .filter(|row| row.starts_with("in ") && row.contains("with your full rights"))
            .count();
        assert_eq!(rights, 1, "{screen}");
        assert!(
            screen.contains("the model says: Needed to run the tests."),
            "{screen}"
        );
        assert_snapshot!(format!("a_justification_at_{width}"), screen);
    }
}

#[test]
fn a_side_question_is_answered_over_the_transcript_and_esc_comes_back() {
    let (mut app, mut rx) = logged_in();
    type_text(&mut app, "remember PELICAN");
    key(&mut app, KeyCode::Enter);
    app.handle_core_event(done("a1", "Noted: PELICAN."));
    app.handle_core_event(Event::TurnFinished(kelp::protocol::TurnOutcome::Completed));
    ops(&mut rx);
    type_text(&mut app, "/btw which word?");
    key(&mut app, KeyCode::Enter);
    assert_eq!(ops(&mut rx), [Op::Side("which word?".into())]);
    let side = |event: Event| Event::Reply(Reply::Side(Box::new(event)));
    app.handle_core_event(side(delta("s1", "The word was ")));
    app.handle_core_event(side(delta("s1", "PELICAN.")));
    app.handle_core_event(side(done("s1", "The word was PELICAN.")));
    app.handle_core_event(side(Event::TurnFinished(
        kelp::protocol::TurnOutcome::Completed,
    )));
    let shown = draw(&mut app, 80, 24);
    assert_snapshot!("side_conversation_80x24", shown);
    // What is typed while it is open asks it more; Esc closes it and the transcript is back.
    type_text(&mut app, "and why?");
    key(&mut app, KeyCode::Enter);
    assert_eq!(ops(&mut rx), [Op::Side("and why?".into())]);
    key(&mut app, KeyCode::Esc);
    assert_eq!(ops(&mut rx), [Op::CloseSide]);
    let back = draw(&mut app, 80, 24);
    assert!(
        back.contains("Noted: PELICAN.") && !back.contains("Side conversation"),
        "{back}"
    );
}

/// Ctrl+C while a turn runs asks what happens to it (at 80×24): cancelling stops it, a second
/// Ctrl+C cancels too, and with the agent in this kelp "Run in background" says why it cannot
/// outlive kelp and leaves the turn running; "Exit kelp" stops it and quits.
#[test]
fn ctrl_c_while_a_turn_runs_asks_what_happens_to_it() {
    let ctrl_c =
        |app: &mut App| app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    let (mut app, mut rx) = logged_in();
    type_text(&mut app, "refactor the parser");
    key(&mut app, KeyCode::Enter);
    app.handle_core_event(Event::TurnStarted { id: "u1".into() });
    app.handle_core_event(delta("msg_a", "Reading the parser first."));
    ops(&mut rx);
    ctrl_c(&mut app);
    assert_eq!(ops(&mut rx), [], "nothing stops before the person chooses");
    assert_snapshot!(draw(&mut app, 80, 24));

    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert_eq!(ops(&mut rx), [], "the turn goes on here");
    let screen = draw(&mut app, 80, 24);
    assert!(screen.contains("its turn ends when kelp does"), "{screen}");

    ctrl_c(&mut app);
    ctrl_c(&mut app);
    assert_eq!(ops(&mut rx), [Op::Interrupt], "Ctrl+C twice cancels");

    ctrl_c(&mut app);
    key(&mut app, KeyCode::Enter);
    assert_eq!(ops(&mut rx), [Op::Interrupt], "the first choice cancels");

    ctrl_c(&mut app);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert_eq!(ops(&mut rx), [Op::Interrupt, Op::Shutdown]);
    assert!(app.should_quit());
}

/// Hooks that wait for trust at the start open their review (at 80×24): the first row trusts
/// every one that waits; once none waits the picker closes. `/hooks` lists them anyway, each
/// with its state and last result, and turns one off or on.
#[test]
fn hooks_that_wait_for_trust_are_reviewed_in_a_picker() {
    let (mut app, mut rx) = logged_in();
    let row = |hash: &str, event: &str, matcher: Option<&str>, command: &str, trusted: bool| {
        kelp::protocol::HookRow {
            hash: hash.into(),
            event: event.into(),
            matcher: matcher.map(String::from),
            command: command.into(),
            source: PathBuf::from("/home/ana/.config/kelp/hooks.json"),
            trusted,
            enabled: true,
            last: None,
        }
    };
    let rows = vec![
        row("aaa", "PreToolUse", Some("Bash"), "~/bin/guard.sh", false),
        row("bbb", "Stop", None, "~/bin/tests-pass.sh", true),
    ];
    app.handle_core_event(Event::Reply(kelp::protocol::Reply::Hooks(rows.clone())));
    assert_snapshot!(draw(&mut app, 80, 24));
    key(&mut app, KeyCode::Enter);
    assert_eq!(ops(&mut rx), [Op::TrustHooks(vec!["aaa".into()])]);
    let mut trusted = rows;
    trusted[0].trusted = true;
    app.handle_core_event(Event::Reply(kelp::protocol::Reply::Hooks(trusted.clone())));
    let screen = draw(&mut app, 80, 24);
    assert!(!screen.contains("Hooks wait for your trust"), "{screen}");

    type_text(&mut app, "/hooks");
    key(&mut app, KeyCode::Enter);
    assert_eq!(ops(&mut rx), [Op::ListHooks]);
    trusted[0].last = Some("blocked: no rm -rf in this project".into());
    trusted[1].enabled = false;
    app.handle_core_event(Event::Reply(kelp::protocol::Reply::Hooks(trusted)));
    // Each with its state and how it last ran; Enter turns a trusted one off, one off on.
    insta::assert_snapshot!("hooks_listed_with_their_state", draw(&mut app, 80, 24));
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        ops(&mut rx),
        [Op::EnableHooks {
            hashes: vec!["aaa".into()],
            enabled: false
        }]
    );
}

/// A trusted project's settings that wait for the person's allowance are shown as the client
/// opens (at 80×24), with the question: "Not now" leaves them unused and says how to allow
/// them later; "Allow them" ends this client to open again with them.
#[test]
fn a_projects_settings_that_wait_are_shown_and_asked_about_at_the_start() {
    let waiting = || {
        vec![kelp::config::project::Waiting {
            path: PathBuf::from("/work/project/.codex/config.toml"),
            lines: vec![
                "approval_policy = \"never\"".into(),
                "mcp_servers.db = { command = \"npx\", args = [\"-y\", \"db-mcp\"] }".into(),
            ],
            hash: "cafe".into(),
        }]
    };
    let start = |initial: &mut InitialState| {
        initial.auth = Some(kelp::protocol::AuthSummary::ApiKey {
            masked: "sk-…abcd".into(),
        });
        initial.project_waiting = waiting();
        initial.prompt = Some("fix the tests".into());
    };
    let (mut app, mut rx) = app_starting(start);
    let screen = draw(&mut app, 80, 24);
    assert_snapshot!(screen);
    // The prompt given waits in the composer until the question is answered.
    assert!(ops(&mut rx).is_empty());
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    let screen = draw(&mut app, 80, 24);
    assert!(screen.contains("kelp project allow"), "{screen}");
    assert!(!app.should_quit());

    let (mut app, _rx) = app_starting(start);
    key(&mut app, KeyCode::Enter);
    assert!(app.should_quit());
}

/// `/statusline` at 80×24: the items each on or off; Enter turns one on at the end of the
/// line, which follows at once, and the choice is saved in the config file; the first row goes
/// back to kelp's own line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statusline_picks_and_orders_the_items() {
    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("config.toml");
    let file = config_file.clone();
    let (mut app, _rx) = app_starting(move |initial| {
        initial.auth = Some(kelp::protocol::AuthSummary::ApiKey {
            masked: "sk-…abcd".into(),
        });
        initial.config_file = file;
    });
    type_text(&mut app, "/statusline");
    key(&mut app, KeyCode::Enter);
    for _ in 0..4 {
        key(&mut app, KeyCode::Down);
    }
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Enter);
    assert_snapshot!(draw(&mut app, 80, 24));
    let saved = async {
        loop {
            if let Ok(text) = std::fs::read_to_string(&config_file)
                && text.contains("status_line = [\"current-dir\", \"model-with-reasoning\"]")
            {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let text = tokio::time::timeout(Duration::from_secs(10), saved)
        .await
        .unwrap();
    assert!(
        text.contains("status_line = [\"current-dir\", \"model-with-reasoning\"]"),
        "{text}"
    );
    key(&mut app, KeyCode::Up);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Esc);
    let screen = draw(&mut app, 80, 24);
    assert!(screen.contains("API key sk-…abcd · gpt-5.5"), "{screen}");
}

/// An auto-review in the transcript: one cell that says it is looking, then, in place, what it
/// decided and why, with `/approve` offered for a denial; `/approve` and `/approvals` ask the
/// core, and the list comes back in the same words.
#[test]
fn an_auto_review_is_one_cell_and_approve_lets_its_denial_through() {
    use kelp::protocol::{Authorization, AutoReview, ReviewStatus, ReviewedAction, RiskLevel};
    let (mut app, mut rx) = logged_in();
    let mut review = AutoReview {
        id: "r1".into(),
        call_id: Some("c1".into()),
        action: ReviewedAction::Command {
            command: "rm -rf build".into(),
            cwd: "/work/project".into(),
            outside_sandbox: true,
        },
        started_at_ms: 1,
        status: ReviewStatus::InProgress,
        risk: None,
        authorization: None,
        rationale: String::new(),
        completed_at_ms: None,
        overridden: false,
    };
    app.handle_core_event(Event::TurnStarted { id: "t1".into() });
    app.handle_core_event(Event::AutoReview {
        review: review.clone(),
        subject: None,
    });
    let looking = draw(&mut app, 80, 12);
    assert!(
        looking.contains("Auto-review is looking at `rm -rf build` outside the sandbox"),
        "{looking}"
    );
    review.status = ReviewStatus::Denied;
    review.risk = Some(RiskLevel::High);
    review.authorization = Some(Authorization::Low);
    review.rationale = "it deletes a folder nobody asked to delete".into();
    review.completed_at_ms = Some(2);
    app.handle_core_event(Event::AutoReview {
        review: review.clone(),
        subject: None,
    });
    app.handle_core_event(Event::TurnFinished(kelp::protocol::TurnOutcome::Completed));
    assert_snapshot!(draw(&mut app, 80, 12));
    type_text(&mut app, "/approve");
    key(&mut app, KeyCode::Enter);
    type_text(&mut app, "/approvals");
    key(&mut app, KeyCode::Enter);
    assert_eq!(ops(&mut rx), [Op::ApproveDenied(None), Op::ListReviews]);
    review.overridden = true;
    app.handle_core_event(Event::Reply(Reply::Reviews(vec![review])));
    let listed = draw(&mut app, 80, 12);
    assert!(
        listed.contains("Auto-review's decisions in this conversation (1):"),
        "{listed}"
    );
    assert!(listed.contains("(you let it through)"), "{listed}");
}

/// `/diagnostics` asks the core, and lists what the language servers said of the files checked
/// so far, with the servers running.
#[test]
fn diagnostics_lists_the_language_servers_findings() {
    let (mut app, mut rx) = logged_in();
    type_text(&mut app, "/diagnostics");
    key(&mut app, KeyCode::Enter);
    assert_eq!(ops(&mut rx), [Op::ListDiagnostics]);
    app.handle_core_event(Event::Reply(Reply::Diagnostics(
        kelp::protocol::DiagnosticsReport {
            lines: vec![
                "calc.py:2:12: error: Type \"Literal['twice']\" is not assignable to return type \"int\" [reportReturnType]".into(),
            ],
            servers: vec!["pyright".into()],
            off: None,
        },
    )));
    assert_snapshot!(draw(&mut app, 80, 12));
}
