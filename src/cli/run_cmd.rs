//! `kelp run`: one prompt, the agent's turn run to its end, the answer streamed to stdout.
//!
//! Two halves that meet only at [`Event`]: the agent side is the core every face opens
//! ([`core::open`]), with nobody to approve ([`Approver::Unattended`]: what would ask is denied
//! and the model is told how to rerun); and a [`Printer`] turns its events into text (tool
//! activity on stderr, so stdout stays the answer) or JSON lines. The exit code comes from the
//! turn's outcome and the error category it carries.

use std::io::{self, IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use kelp::agent::core::{self, Approver, CoreOptions};
use kelp::agent::protocol::{Event, Op, PlanStatus, Submission, TurnOutcome};
use kelp::config::Config;
use kelp::llm::types::{RateLimitWindow, TokenUsage};
use kelp::llm::{ErrorCategory, ReasoningEffort};
use kelp::terminal_text::{json_without_c1, printable, printable_lines};
use serde_json::{Value, json};

use super::sessions_cmd::{self, ResumeRequest};
use super::{exit, fail};

/// Where a person signs in from the command line, named after a failure that needs it.
const SIGN_IN: &str = "`kelp login`";

/// What `kelp run` was asked to do.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub(super) agent: super::AgentFlags,
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
    let text = match args.prompt.as_deref() {
        Some(text) if text != "-" => text.to_string(),
        _ => {
            let mut text = String::new();
            if let Err(e) = io::stdin().read_to_string(&mut text) {
                return fail(
                    exit::USAGE,
                    &format!("cannot read the prompt from stdin: {e}"),
                );
            }
            text
        }
    };
    if text.trim().is_empty() {
        return fail(
            exit::USAGE,
            "no prompt: pass it as an argument or on standard input",
        );
    }
    // A misspelt effort is a mistake on this command line's behalf: say so rather than guess.
    if let Some(Err(e)) = config
        .reasoning_effort
        .as_deref()
        .map(str::parse::<ReasoningEffort>)
    {
        return fail(exit::USAGE, &e);
    }
    let resume = match args.resume() {
        Some(request) => match sessions_cmd::resolve(config, project_dir, &request) {
            Ok(path) => Some(path),
            Err(code) => return code,
        },
        None => None,
    };
    let resumed = resume.is_some();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(exit::FAILURE, &format!("cannot start: {e}")),
    };
    let mut options = CoreOptions::new(project_dir);
    options.resume = resume;
    options.new_if_resume_fails = false;
    options.approver = Approver::Unattended;
    options.sign_in = Some(SIGN_IN);
    let mut printer: Box<dyn Printer> = if args.json {
        Box::new(JsonPrinter::default())
    } else {
        Box::new(TextPrinter::default())
    };
    let (outcome, printed, session_id) = runtime
        .block_on(async {
            let mut core = match core::open(config.clone(), options).await {
                Ok(core) => core,
                Err(message) => return Err(message),
            };
            for notice in &core.notices {
                eprintln!("kelp: warning: {notice}");
            }
            if let Err(e) = printer.session(&core.id, resumed) {
                return Ok((None, Err(e), core.id));
            }
            // Ctrl-C stops the turn the way the TUI's interrupt does: running commands are
            // killed. So do SIGTERM and SIGHUP (a closed terminal, a job runner's timeout):
            // nothing kelp started outlives it.
            let interrupt = core.ops.clone();
            kelp::task::spawn(async move {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut term), Ok(mut hangup)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::hangup()),
                ) else {
                    return;
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                    _ = hangup.recv() => {}
                }
                let _ = interrupt.send(Op::Interrupt);
            });
            let _ = core.ops.send(Op::Submit(Submission::text(text)));
            let mut printed = Ok(());
            let mut outcome = None;
            while let Some(event) = core.events.recv().await {
                if printed.is_ok() {
                    printed = printer.print(&event);
                }
                if let Event::TurnFinished(ended) = event {
                    outcome = Some(ended);
                    break;
                }
            }
            // The core stops once its last sender is gone, killing what still runs.
            let _ = core.ops.send(Op::Shutdown);
            Ok((outcome, printed, core.id))
        })
        .unwrap_or_else(|message| (Some(failed(message)), Ok(()), String::new()));
    if !args.json && !session_id.is_empty() && io::stderr().is_terminal() {
        eprintln!("kelp: to continue this conversation: kelp run --resume {session_id} PROMPT");
    }
    let outcome =
        outcome.unwrap_or_else(|| failed("the agent stopped before the turn ended".to_string()));
    match (outcome, printed) {
        // A closed stdout (`kelp run … | head`) is the reader's choice, not a failure to report.
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

/// A failure of the run itself (the agent could not start), as a turn's outcome.
fn failed(message: String) -> TurnOutcome {
    TurnOutcome::Failed {
        message,
        category: ErrorCategory::Other,
    }
}

/// The printing side: shows the core's events.
trait Printer {
    /// Says which conversation the run is part of, before anything else.
    fn session(&mut self, id: &str, resumed: bool) -> io::Result<()>;
    /// Shows one event.
    fn print(&mut self, event: &Event) -> io::Result<()>;
}

/// The answer as plain text on stdout, flushed per delta; retries noted on stderr.
#[derive(Default)]
struct TextPrinter {
    /// The message printing now has printed some text, by deltas.
    streamed: bool,
    /// The answers printed since the last retry, which a retry may void.
    printed: Vec<kelp::agent::protocol::ItemId>,
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
    /// The answer is the output: the session is named at the end, on a terminal's stderr.
    fn session(&mut self, _id: &str, _resumed: bool) -> io::Result<()> {
        Ok(())
    }

    fn print(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::TextDelta { item, delta } => {
                if !self.streamed {
                    self.printed.push(item.clone());
                }
                self.streamed = true;
                self.out(delta)
            }
            // Without deltas the finished message is the only place the text is.
            Event::MessageDone { item, text } if !self.streamed => {
                self.printed.push(item.clone());
                self.out(text)?;
                self.end_line()
            }
            Event::MessageDone { .. } => {
                self.streamed = false;
                self.end_line()
            }
            Event::Retrying {
                attempt,
                max,
                reason,
                voided,
                ..
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
                    "kelp: reconnecting {attempt}/{max}… {}{restart}",
                    printable(reason)
                );
                Ok(())
            }
            Event::TurnFinished(_) => self.end_line(),
            Event::ToolStarted { tool, summary, .. } => {
                eprintln!("kelp: ▸ {} {}", printable(tool), printable(summary));
                Ok(())
            }
            Event::ToolFinished {
                success: false,
                exit_code,
                ..
            } => {
                match exit_code {
                    Some(code) => eprintln!("kelp:   failed (exit code {code})"),
                    None => eprintln!("kelp:   failed"),
                }
                Ok(())
            }
            Event::Notice(text) => {
                eprintln!("kelp: note: {}", printable(text));
                Ok(())
            }
            Event::Attached(files) => {
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
                Ok(())
            }
            Event::Compacted { before, .. } => {
                self.end_line()?;
                eprintln!(
                    "kelp: note: compacted the conversation{} onto a summary, to stay inside the context window",
                    kelp::humanize::tokens_aside(*before)
                );
                Ok(())
            }
            Event::Error(text) => {
                eprintln!("kelp: {}", printable(text));
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// One JSON object per line on stdout, for scripts.
#[derive(Default)]
struct JsonPrinter {
    usage: TokenUsage,
}

impl JsonPrinter {
    fn line(&self, value: Value) -> io::Result<()> {
        let line = json_without_c1(value.to_string());
        let mut stdout = io::stdout().lock();
        stdout.write_all(line.as_bytes())?;
        stdout.write_all(b"\n")?;
        stdout.flush()
    }
}

fn window(w: &Option<RateLimitWindow>) -> Value {
    match w {
        Some(w) => {
            json!({"used_percent": w.used_percent, "window_minutes": w.window_minutes, "resets_at": w.resets_at})
        }
        None => Value::Null,
    }
}

impl Printer for JsonPrinter {
    fn session(&mut self, id: &str, resumed: bool) -> io::Result<()> {
        self.line(json!({"type": "session.started", "session_id": id, "resumed": resumed}))
    }

    fn print(&mut self, event: &Event) -> io::Result<()> {
        let value = match event {
            Event::TurnStarted { .. } => json!({"type": "turn.started"}),
            Event::TextDelta { item, delta } => {
                json!({"type": "text.delta", "item_id": item, "delta": delta})
            }
            Event::ReasoningDelta { item, delta } => {
                json!({"type": "reasoning.delta", "item_id": item, "delta": delta})
            }
            Event::MessageDone { item, text } => {
                json!({"type": "item.completed", "item": {"id": item, "type": "agent_message", "text": text}})
            }
            Event::Retrying {
                attempt,
                max,
                delay,
                reason,
                voided,
            } => json!({
                "type": "retrying",
                "attempt": attempt,
                "max": max,
                "delay_ms": delay.as_millis() as u64,
                "reason": reason,
                "voided": voided,
            }),
            Event::RateLimits(limits) => json!({
                "type": "rate_limits",
                "primary": window(&limits.primary),
                "secondary": window(&limits.secondary),
            }),
            Event::Usage(usage) => {
                self.usage = *usage;
                return Ok(());
            }
            Event::TurnFinished(TurnOutcome::Completed) => {
                json!({"type": "turn.completed", "usage": self.usage})
            }
            Event::TurnFinished(
                TurnOutcome::Failed { message, .. } | TurnOutcome::Stopped { message, .. },
            ) => {
                json!({"type": "turn.failed", "error": {"message": message}})
            }
            Event::TurnFinished(TurnOutcome::Interrupted) => json!({"type": "turn.interrupted"}),
            Event::ToolStarted {
                call_id,
                tool,
                summary,
                ..
            } => {
                json!({"type": "tool.started", "call_id": call_id, "tool": tool, "summary": summary})
            }
            Event::ToolOutput { call_id, chunk } => {
                json!({"type": "tool.output", "call_id": call_id, "chunk": chunk})
            }
            Event::ToolFinished {
                call_id,
                success,
                exit_code,
                duration,
            } => json!({
                "type": "tool.finished",
                "call_id": call_id,
                "success": success,
                "exit_code": exit_code,
                "duration_ms": duration.as_millis() as u64,
            }),
            Event::PlanUpdated {
                explanation, steps, ..
            } => json!({
                "type": "plan.updated",
                "explanation": explanation,
                "steps": steps.iter().map(|s| json!({
                    "step": s.step,
                    "status": match s.status {
                        PlanStatus::Pending => "pending",
                        PlanStatus::InProgress => "in_progress",
                        PlanStatus::Completed => "completed",
                    },
                })).collect::<Vec<_>>(),
            }),
            Event::Notice(message) => json!({"type": "notice", "message": message}),
            Event::Attached(files) => json!({
                "type": "attachments",
                "files": files.iter().map(|f| json!({
                    "path": f.path,
                    "attached": f.attached,
                    "detail": f.detail,
                })).collect::<Vec<_>>(),
            }),
            Event::Error(message) => json!({"type": "error", "message": message}),
            Event::ContextUsed { used, window } => {
                json!({"type": "context", "used_tokens": used, "window_tokens": window})
            }
            Event::Compacted { before, automatic } => {
                json!({"type": "compacted", "tokens_before": before, "automatic": automatic})
            }
            _ => return Ok(()),
        };
        self.line(value)
    }
}
