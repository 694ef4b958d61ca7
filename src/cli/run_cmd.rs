//! `kelp run`: one prompt, the agent's turn run to its end, the answer streamed to stdout.
//!
//! Two halves that meet only at [`Event`]: the agent side is the core every face opens
//! ([`core::open`]), with nobody to approve ([`Approver::Unattended`]: what would ask is denied
//! and the model is told how to rerun); and a [`Printer`] turns its events into text (tool
//! activity on stderr, so stdout stays the answer) or JSON lines. The exit code comes from the
//! turn's outcome and the error category it carries.

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kelp::agent::core::start::{self as core, Approver, CoreOptions};
use kelp::app_server::exec_events::{ExecEvent, ExecEvents};
use kelp::config::Config;
use kelp::protocol::{ErrorCategory, ReasoningEffort};
use kelp::protocol::{Event, Line, Op, Submission, TurnOutcome};
use kelp::terminal_text::{json_without_c1, printable, printable_lines};

use super::common::{exit, fail};
use super::sessions_cmd::{self, ResumeRequest};

/// Where a person signs in from the command line, named after a failure that needs it.
const SIGN_IN: &str = "`kelp login`";

/// What `kelp run` was asked to do.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub(super) agent: super::flags::AgentFlags,
    /// Print one JSON event per line instead of the answer's text.
    #[arg(long)]
    json: bool,
    /// Continue the saved conversation with ID (or an id prefix; `kelp sessions` lists them),
    /// in its own project directory.
    #[arg(long, value_name = "ID", conflicts_with = "continue_")]
    resume: Option<String>,
    /// Continue the newest saved conversation of this directory.
    #[arg(long = "continue")]
    continue_: bool,
    /// The prompt; read from standard input when absent or `-`.
    prompt: Option<String>,
}

impl RunArgs {
    /// The saved conversation to continue, if any.
    fn resume(&self) -> Option<ResumeRequest> {
        match (&self.resume, self.continue_) {
            (Some(id), _) => Some(ResumeRequest::Id(id.clone())),
            (None, true) => Some(ResumeRequest::Latest),
            (None, false) => None,
        }
    }
}

/// Runs `kelp run` for the project in `project_dir`.
pub fn run(config: &Config, project_dir: &Path, args: RunArgs) -> ExitCode {
    let text = match read_prompt(args.prompt.as_deref(), false) {
        Ok(text) => text,
        Err(code) => return code,
    };
    if let Err(code) = check_effort(config) {
        return code;
    }
    let resume = match args.resume() {
        Some(request) => match sessions_cmd::resolve(config, project_dir, &request) {
            Ok(path) => Some(path),
            Err(code) => return code,
        },
        None => None,
    };
    let resumed = resume.is_some();
    let mut options = CoreOptions::new(project_dir);
    options.resume = resume;
    let mut printer: Box<dyn Printer> = if args.json {
        Box::new(JsonLines::new(project_dir, true))
    } else {
        Box::new(TextPrinter::default())
    };
    let driven = drive(
        config,
        options,
        Op::Submit(Submission::text(text)),
        resumed,
        printer.as_mut(),
    );
    if !args.json && !driven.session_id.is_empty() && io::stderr().is_terminal() {
        eprintln!(
            "kelp: to continue this conversation: kelp run --resume {} PROMPT",
            driven.session_id
        );
    }
    driven.exit_code()
}

/// The prompt given as `arg`, or read from standard input when it is absent or `-`; `as_codex`:
/// say on stderr that it is read from there, and refuse to wait for a terminal, as Codex's
/// exec does.
pub(super) fn read_prompt(arg: Option<&str>, as_codex: bool) -> Result<String, ExitCode> {
    let text = match arg {
        Some(text) if text != "-" => text.to_string(),
        _ => {
            if as_codex && io::stdin().is_terminal() {
                return Err(fail(
                    exit::USAGE,
                    "no prompt: pass it as an argument or pipe it into standard input",
                ));
            }
            if as_codex {
                eprintln!("Reading prompt from stdin...");
            }
            let mut text = String::new();
            if let Err(e) = io::stdin().read_to_string(&mut text) {
                return Err(fail(
                    exit::USAGE,
                    &format!("cannot read the prompt from stdin: {e}"),
                ));
            }
            text
        }
    };
    if text.trim().is_empty() {
        return Err(fail(
            exit::USAGE,
            "no prompt: pass it as an argument or on standard input",
        ));
    }
    Ok(text)
}

/// A misspelt effort is a mistake on this command line's behalf: say so rather than guess.
pub(super) fn check_effort(config: &Config) -> Result<(), ExitCode> {
    match config
        .reasoning_effort
        .as_deref()
        .map(str::parse::<ReasoningEffort>)
    {
        Some(Err(e)) => Err(fail(exit::USAGE, &e)),
        _ => Ok(()),
    }
}

/// How a run ended: the turn's outcome, whether its events could be written, and the
/// conversation it was part of.
pub(super) struct Driven {
    pub outcome: TurnOutcome,
    pub printed: io::Result<()>,
    pub session_id: String,
}

impl Driven {
    /// The exit code scripts rely on, with the reason on stderr.
    pub fn exit_code(self) -> ExitCode {
        match (self.outcome, self.printed) {
            // A closed stdout (`kelp run … | head`) is the reader's choice, not a failure.
            (_, Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            (_, Err(e)) => fail(exit::FAILURE, &format!("cannot write the answer: {e}")),
            (TurnOutcome::Completed, Ok(())) => ExitCode::SUCCESS,
            (TurnOutcome::Interrupted, _) => fail(exit::CANCELLED, "interrupted"),
            (TurnOutcome::Stopped { message, .. }, _) => fail(exit::FAILURE, &message),
            (TurnOutcome::Failed { message, category }, _) => {
                let code = match category {
                    ErrorCategory::Auth => exit::AUTH,
                    ErrorCategory::Limit => exit::LIMIT,
                    ErrorCategory::Other => exit::FAILURE,
                };
                fail(code, &message)
            }
        }
    }
}

/// What `kelp review` was asked to review.
#[derive(Debug, clap::Args)]
pub struct ReviewArgs {
    #[command(flatten)]
    pub(super) agent: super::flags::AgentFlags,
    /// Print exec's JSON events, one per line, instead of the findings' text.
    #[arg(long)]
    json: bool,
    /// The working tree's changes: staged, unstaged and untracked (the default).
    #[arg(long, conflicts_with_all = ["base", "commit"])]
    uncommitted: bool,
    /// The current branch's changes against BRANCH.
    #[arg(long, value_name = "BRANCH", conflicts_with = "commit")]
    base: Option<String>,
    /// One commit's changes.
    #[arg(long, value_name = "SHA")]
    commit: Option<String>,
    /// The reviewer's own instructions instead of a target (`kelp review "check the locking"`).
    #[arg(value_name = "INSTRUCTIONS", conflicts_with_all = ["uncommitted", "base", "commit"])]
    instructions: Option<String>,
}

/// Runs `kelp review`: the review turn without the client, its findings on stdout.
pub fn review(config: &Config, project_dir: &Path, args: ReviewArgs) -> ExitCode {
    use kelp::protocol::ReviewTarget;
    let target = match (&args.base, &args.commit, &args.instructions) {
        (Some(branch), _, _) => ReviewTarget::base_branch(branch),
        (_, Some(sha), _) => ReviewTarget::commit(sha, None),
        (_, _, Some(words)) if !words.trim().is_empty() => {
            Ok(ReviewTarget::Custom(words.trim().to_string()))
        }
        _ => Ok(ReviewTarget::Uncommitted),
    };
    let target = match target {
        Ok(target) => target,
        Err(why) => return fail(exit::USAGE, &why),
    };
    let mut printer: Box<dyn Printer> = if args.json {
        Box::new(JsonLines::new(project_dir, false))
    } else {
        Box::new(TextPrinter::default())
    };
    let first = Op::Review {
        target,
        turn_id: None,
    };
    drive(
        config,
        CoreOptions::new(project_dir),
        first,
        false,
        printer.as_mut(),
    )
    .exit_code()
}

/// Runs one turn of `first` (a prompt, a review) on the core `options` open (nobody there to approve: what
/// would ask is denied, and the model told how to rerun), showing its events with `printer`.
pub(super) fn drive(
    config: &Config,
    mut options: CoreOptions,
    first: Op,
    resumed: bool,
    printer: &mut dyn Printer,
) -> Driven {
    options.new_if_resume_fails = false;
    options.approver = Approver::Unattended;
    options.sign_in = Some(SIGN_IN);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return Driven {
                outcome: failed(format!("cannot start: {e}")),
                printed: Ok(()),
                session_id: String::new(),
            };
        }
    };
    let (outcome, printed, session_id) = runtime
        .block_on(async {
            let mut core = core::open(config.clone(), options).await?;
            for notice in &core.notices {
                super::common::say_err(&format!("kelp: warning: {notice}"));
            }
            if let Err(e) = printer.session(&core.id, resumed) {
                return Ok((None, Err(e), core.id));
            }
            // Ctrl-C stops the turn the way the TUI's interrupt does: running commands are
            // killed. So do SIGTERM and SIGHUP (a closed terminal, a job runner's timeout, a
            // host's abort): nothing kelp started outlives it.
            let interrupt = core.ops.clone();
            kelp::task::spawn(async move {
                kelp::task::stop_requested().await;
                let _ = interrupt.send(Op::Interrupt);
            });
            let _ = core.ops.send(first);
            let mut printed = Ok(());
            let mut outcome = None;
            while let Some(event) = core.events.recv().await {
                let ended = if let Event::TurnFinished(ended) = &event {
                    Some(ended.clone())
                } else {
                    None
                };
                if printed.is_ok() {
                    printed = printer.print(event);
                    // Nobody reads the turn any more: stop it as Ctrl-C would (its commands
                    // killed, the conversation saved) rather than run the model's commands
                    // for no one.
                    if printed.is_err() {
                        let _ = core.ops.send(Op::Interrupt);
                    }
                }
                if ended.is_some() {
                    outcome = ended;
                    break;
                }
            }
            // The core stops once its last sender is gone, killing what still runs.
            let _ = core.ops.send(Op::Shutdown);
            kelp::task::let_end(kelp::task::LET_END_BOUND).await;
            Ok::<_, String>((outcome, printed, core.id))
        })
        .unwrap_or_else(|message| (Some(failed(message)), Ok(()), String::new()));
    Driven {
        outcome: outcome
            .unwrap_or_else(|| failed("the agent stopped before the turn ended".to_string())),
        printed,
        session_id,
    }
}

/// A failure of the run itself (the agent could not start), as a turn's outcome.
fn failed(message: String) -> TurnOutcome {
    TurnOutcome::Failed {
        message,
        category: ErrorCategory::Other,
    }
}

/// The printing side: shows the core's events.
pub(super) trait Printer {
    /// Says which conversation the run is part of, before anything else.
    fn session(&mut self, id: &str, resumed: bool) -> io::Result<()>;
    /// Shows one event.
    fn print(&mut self, event: Event) -> io::Result<()>;
    /// The turn's last answer, once it is done.
    fn last_message(&self) -> Option<&str>;
}

/// The answer as plain text on stdout, flushed per delta; retries noted on stderr.
#[derive(Default)]
pub(super) struct TextPrinter {
    /// The last answer finished.
    last_message: Option<String>,
    /// The message printing now has printed some text, by deltas.
    streamed: bool,
    /// The answers printed since the last retry, which a retry may void.
    printed: Vec<kelp::protocol::ItemId>,
    /// Whether stdout's last byte was not a newline.
    mid_line: bool,
}

impl TextPrinter {
    fn out(&mut self, text: &str) -> io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        // The model's text reaches a terminal only through the TUI's filter; `--json` keeps
        // it exact for scripts.
        let text = printable_lines(text);
        let mut stdout = io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()?;
        self.mid_line = !text.ends_with('\n');
        Ok(())
    }

    fn end_line(&mut self) -> io::Result<()> {
        if self.mid_line {
            self.out("\n")?;
        }
        Ok(())
    }
}

impl Printer for TextPrinter {
    /// The answer is the output: `kelp run` names the session at the end, on a terminal's
    /// stderr.
    fn session(&mut self, _id: &str, _resumed: bool) -> io::Result<()> {
        Ok(())
    }

    fn last_message(&self) -> Option<&str> {
        self.last_message.as_deref()
    }

    fn print(&mut self, event: Event) -> io::Result<()> {
        let Some(line) = event.line() else {
            return Ok(());
        };
        if let Line::MessageDone { text, .. } = line {
            self.last_message = Some(text.to_string());
        }
        match line {
            Line::Text { item, delta } => {
                if !self.streamed {
                    self.printed.push(item.clone());
                }
                self.streamed = true;
                self.out(delta)
            }
            // Without deltas the finished message is the only place the text is.
            Line::MessageDone { item, text } if !self.streamed => {
                self.printed.push(item.clone());
                self.out(text)?;
                self.end_line()
            }
            Line::MessageDone { .. } => {
                self.streamed = false;
                self.end_line()
            }
            Line::Retrying {
                attempt,
                max,
                reason,
                voided,
            } => {
                // What was printed cannot be taken back: a voided answer is said to restart.
                let restart = if self.printed.iter().any(|item| voided.contains(item)) {
                    " (the answer starts over)"
                } else {
                    ""
                };
                self.streamed = false;
                self.printed.clear();
                self.end_line()?;
                eprintln!(
                    "kelp: reconnecting {}… {}{restart}",
                    kelp::protocol::retry_count(attempt, max),
                    printable(reason)
                );
                Ok(())
            }
            Line::TurnFinished(_) => self.end_line(),
            Line::ToolStarted { .. }
            | Line::WebSearchDone { .. }
            | Line::ToolFinished { success: false, .. }
            | Line::Notice(_)
            | Line::Reviewed(_)
            | Line::RunsLater(_)
            | Line::Attached(_)
            | Line::Error(_) => {
                say_aside(line);
                Ok(())
            }
            Line::Compacted { before, .. } => {
                self.end_line()?;
                eprintln!(
                    "kelp: note: compacted the conversation{} onto a summary, to stay inside the context window",
                    kelp::humanize::tokens_aside(before)
                );
                Ok(())
            }
            // Not shown: the reasoning, a tool's output and success, the usage.
            Line::ToolFinished { .. }
            | Line::TurnStarted { .. }
            | Line::Reasoning { .. }
            | Line::ToolOutput { .. }
            | Line::Usage(_) => Ok(()),
        }
    }
}

/// Codex's exec events on stdout, one JSON object per line; with `deltas` (`kelp run --json`)
/// also kelp's streaming pieces.
pub(super) struct JsonLines {
    cwd: PathBuf,
    deltas: bool,
    events: Option<ExecEvents>,
    lines: Vec<ExecEvent>,
}

impl JsonLines {
    pub(super) fn new(cwd: &Path, deltas: bool) -> Self {
        Self {
            cwd: cwd.to_path_buf(),
            deltas,
            events: None,
            lines: Vec::new(),
        }
    }

    fn write(&mut self) -> io::Result<()> {
        let mut stdout = io::stdout().lock();
        for event in self.lines.drain(..) {
            let line = json_without_c1(serde_json::to_string(&event).map_err(io::Error::other)?);
            stdout.write_all(line.as_bytes())?;
            stdout.write_all(b"\n")?;
        }
        stdout.flush()
    }
}

impl Printer for JsonLines {
    fn session(&mut self, id: &str, _resumed: bool) -> io::Result<()> {
        let events = ExecEvents::new(id, self.cwd.clone(), self.deltas);
        self.lines.push(events.thread_started());
        self.events = Some(events);
        self.write()
    }

    fn print(&mut self, event: Event) -> io::Result<()> {
        if let Some(events) = &mut self.events {
            events.on_event(event, &mut self.lines);
        }
        self.write()
    }

    fn last_message(&self) -> Option<&str> {
        self.events.as_ref()?.last_message()
    }
}

/// What stderr says of an event beside the answer: a tool starting, a command failing, a
/// note, a warning, an attachment, an error.
fn say_aside(line: Line<'_>) {
    match line {
        Line::ToolStarted { tool, summary } => {
            eprintln!("kelp: ▸ {} {}", printable(tool), printable(summary));
        }
        Line::WebSearchDone { action } => {
            eprintln!("kelp: ▸ web search {}", printable(&action.detail()));
        }
        Line::ToolFinished {
            success: false,
            exit_code,
        } => match exit_code {
            Some(code) => eprintln!("kelp:   failed (exit code {code})"),
            None => eprintln!("kelp:   failed"),
        },
        Line::Notice(text) => {
            eprintln!("kelp: note: {}", printable(text));
        }
        Line::Reviewed(review) => eprintln!("kelp: {}", review.line()),
        Line::RunsLater(text) => {
            eprintln!("kelp: warning: {}", printable(text));
        }
        Line::Attached(files) => {
            for file in files {
                if file.attached {
                    eprintln!(
                        "kelp: attached {} ({})",
                        printable(&file.path),
                        printable(&file.detail)
                    );
                } else {
                    eprintln!(
                        "kelp: note: @{} not attached: {}",
                        printable(&file.path),
                        printable(&file.detail)
                    );
                }
            }
        }
        Line::Error(text) => {
            eprintln!("kelp: {}", printable(text));
        }
        _ => {}
    }
}
