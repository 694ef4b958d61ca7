//! `kelp exec`'s words for a person, as Codex's exec prints them: on stderr a header (workdir,
//! model, provider, approval, sandbox, reasoning, session id), the prompt, each answer, each
//! command with its exit and output, each patch with its files and the turn's diff, the plan,
//! warnings, and the tokens used; on stdout only the last answer (unless both are the same
//! terminal, where stderr already shows it). Made from the app-server's items, as Codex makes
//! its own from its app-server's notifications, so a command reads the same on every face.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use kelp::app_server::items::Translator;
use kelp::app_server::shapes::Outgoing;
use kelp::protocol::{Event, Line, TokenUsage, TurnOutcome};
use kelp::terminal_text::{printable, printable_lines};
use kelp::wire::{ItemStatus, PlanStepStatus, ServerNotification, ThreadItem, TurnNote};

use super::run_cmd::Printer;

/// The facts the header lists, in Codex's order.
pub(super) struct Header {
    pub workdir: PathBuf,
    pub model: String,
    pub provider: String,
    pub approval: String,
    pub sandbox: String,
    pub effort: String,
    pub summaries: String,
    /// The prompt, shown under `user`.
    pub prompt: String,
}

/// ANSI styles, or none (`--color never`, a file, `NO_COLOR`).
#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn paint(self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
    fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
    /// Who speaks (`codex`, `exec`): italic magenta, as Codex's.
    fn speaker(self, text: &str) -> String {
        self.paint("3;35", text)
    }
    fn green(self, text: &str) -> String {
        self.paint("32", text)
    }
    fn red(self, text: &str) -> String {
        self.paint("31", text)
    }
    fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }
    fn cyan(self, text: &str) -> String {
        self.paint("36", text)
    }
}

/// Whether `--color WHEN` paints stderr: `always`, `never`, else (`auto`) when stderr is a
/// terminal and `NO_COLOR` is unset.
pub(super) fn paints(when: Option<&str>) -> bool {
    match when {
        Some("always") => true,
        Some("never") => false,
        _ => io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// Prints a turn for a person, as Codex's exec does.
pub(super) struct HumanPrinter {
    header: Header,
    paint: Paint,
    translator: Option<Translator>,
    turn_id: String,
    /// The conversation's usage as last said.
    usage: Option<TokenUsage>,
    /// The last answer completed.
    last_message: Option<String>,
}

impl HumanPrinter {
    pub(super) fn new(header: Header, color: bool) -> Self {
        Self {
            header,
            paint: Paint(color),
            translator: None,
            turn_id: String::new(),
            usage: None,
            last_message: None,
        }
    }

    fn say(&self, text: &str) -> io::Result<()> {
        let mut err = io::stderr().lock();
        writeln!(err, "{text}")
    }

    fn warning(&self, text: &str) -> io::Result<()> {
        let label = self.paint.yellow(&self.paint.bold("warning:"));
        self.say(&format!("{label} {}", printable(text)))
    }

    /// Lines of kelp's own events the items leave out; `false` when the translator is not to
    /// see the event.
    fn own_line(&mut self, line: Line<'_>) -> io::Result<bool> {
        match line {
            Line::TurnStarted { id } => self.turn_id = id.to_string(),
            Line::Usage(total) => self.usage = Some(*total),
            // The answer shows whole once done, as Codex's.
            Line::Text { .. } => return Ok(false),
            Line::Retrying {
                attempt,
                max,
                reason,
                ..
            } => {
                let retry = kelp::protocol::reconnecting(attempt, max);
                self.warning(&format!("{retry} ({reason})"))?;
                return Ok(false);
            }
            Line::Notice(text) | Line::RunsLater(text) => self.warning(text)?,
            Line::Reviewed(review) => self.warning(&review.line())?,
            Line::Attached(files) => {
                for file in files {
                    let how = if file.attached {
                        "attached"
                    } else {
                        "not attached"
                    };
                    self.say(&format!(
                        "{} {} ({})",
                        self.paint.dim(how),
                        printable(&file.path),
                        printable(&file.detail)
                    ))?;
                }
            }
            Line::Error(text) => {
                let label = self.paint.red(&self.paint.bold("ERROR:"));
                self.say(&format!("{label} {}", printable(text)))?;
            }
            _ => {}
        }
        Ok(true)
    }

    fn started(&self, item: &ThreadItem) -> io::Result<()> {
        let paint = self.paint;
        match item {
            ThreadItem::CommandExecution { command, cwd, .. } => self.say(&format!(
                "{}\n{} in {}",
                paint.speaker("exec"),
                paint.bold(&printable(command)),
                cwd.display()
            )),
            ThreadItem::McpToolCall { server, tool, .. } => self.say(&format!(
                "{} {} {}",
                paint.bold("mcp:"),
                paint.cyan(&printable(&format!("{server}/{tool}"))),
                paint.dim("started")
            )),
            ThreadItem::FileChange { .. } => self.say(&paint.bold("apply patch")),
            _ => Ok(()),
        }
    }

    fn completed(&mut self, item: ThreadItem) -> io::Result<()> {
        let paint = self.paint;
        match item {
            ThreadItem::AgentMessage { text, .. } => {
                self.say(&format!(
                    "{}\n{}",
                    paint.speaker("codex"),
                    printable_lines(text.trim_end())
                ))?;
                self.last_message = Some(text);
                Ok(())
            }
            ThreadItem::Reasoning { summary, .. } if !summary.is_empty() => {
                let text = summary.join("\n");
                if text.trim().is_empty() {
                    return Ok(());
                }
                self.say(&paint.dim(&printable_lines(&text)))
            }
            ThreadItem::CommandExecution {
                aggregated_output,
                exit_code,
                status,
                duration_ms,
                ..
            } => {
                let took = duration_ms
                    .map(|ms| format!(" in {ms}ms"))
                    .unwrap_or_default();
                self.say(&match status {
                    ItemStatus::Completed => paint.green(&format!(" succeeded{took}:")),
                    ItemStatus::Declined => paint.yellow(&format!(" declined{took}:")),
                    ItemStatus::InProgress => paint.dim(&format!(" in progress{took}:")),
                    ItemStatus::Failed | ItemStatus::Unknown => {
                        paint.red(&format!(" exited {}{took}:", exit_code.unwrap_or(1)))
                    }
                })?;
                match aggregated_output {
                    Some(output) if !output.trim().is_empty() => {
                        self.say(&printable_lines(&output))
                    }
                    _ => Ok(()),
                }
            }
            ThreadItem::FileChange {
                changes, status, ..
            } => {
                let how = match status {
                    ItemStatus::Completed => "completed",
                    ItemStatus::Declined => "declined",
                    ItemStatus::InProgress => "in_progress",
                    ItemStatus::Failed | ItemStatus::Unknown => "failed",
                };
                self.say(&format!("{} {how}", paint.bold("patch:")))?;
                for change in changes {
                    let path = absolute(&self.header.workdir, &change.path);
                    self.say(&paint.dim(&printable(&path.display().to_string())))?;
                }
                Ok(())
            }
            ThreadItem::McpToolCall {
                server,
                tool,
                status,
                error,
                ..
            } => {
                let how = match status {
                    ItemStatus::Completed => paint.green("completed"),
                    ItemStatus::InProgress => paint.dim("in_progress"),
                    _ => paint.red("failed"),
                };
                self.say(&format!(
                    "{} {} {}",
                    paint.bold("mcp:"),
                    paint.cyan(&printable(&format!("{server}/{tool}"))),
                    paint.dim(&format!("({how})"))
                ))?;
                match error {
                    Some(error) => self.say(&paint.red(&printable(&error.message))),
                    None => Ok(()),
                }
            }
            ThreadItem::WebSearch { query, .. } => self.say(&format!(
                "{} {}",
                paint.bold("web search:"),
                printable(&query)
            )),
            ThreadItem::ContextCompaction { .. } => self.say(&paint.dim("context compacted")),
            _ => Ok(()),
        }
    }

    fn notified(&self, notification: ServerNotification) -> io::Result<()> {
        let paint = self.paint;
        match notification {
            ServerNotification::Turn(TurnNote::TurnDiffUpdated(diff))
                if !diff.diff.trim().is_empty() =>
            {
                self.say(&printable_lines(&diff.diff))
            }
            ServerNotification::Turn(TurnNote::TurnPlanUpdated(plan)) => {
                if let Some(explanation) = plan.explanation {
                    self.say(&paint.paint("3", &printable(&explanation)))?;
                }
                for step in plan.plan {
                    let text = printable(&step.step);
                    self.say(&match step.status {
                        PlanStepStatus::Completed => format!("  {} {text}", paint.green("✓")),
                        PlanStepStatus::InProgress => format!("  {} {text}", paint.cyan("→")),
                        _ => format!("  {} {}", paint.dim("•"), paint.dim(&text)),
                    })?;
                }
                Ok(())
            }
            ServerNotification::Said(said) => self.warning(said.words()),
            _ => Ok(()),
        }
    }

    /// The turn's end: how it ended, the tokens used, and the last answer on stdout.
    fn finish(&mut self, outcome: &TurnOutcome) -> io::Result<()> {
        match outcome {
            TurnOutcome::Completed => {}
            TurnOutcome::Interrupted => {
                self.last_message = None;
                self.say(&self.paint.dim("turn interrupted"))?;
            }
            // The failure was said as an error as it happened.
            TurnOutcome::Stopped { .. } | TurnOutcome::Failed { .. } => self.last_message = None,
        }
        if let Some(usage) = self.usage {
            // Codex's blended total: input not read from the cache, and output.
            let blended =
                usage.input_tokens.saturating_sub(usage.cached_input_tokens) + usage.output_tokens;
            self.say(&format!(
                "{}\n{}",
                self.paint.dim("tokens used"),
                kelp::humanize::thousands(blended)
            ))?;
        }
        // On one terminal the answer is on screen already; anywhere else stdout carries it.
        let one_terminal = io::stdout().is_terminal() && io::stderr().is_terminal();
        if let Some(message) = &self.last_message
            && !one_terminal
        {
            let mut out = io::stdout().lock();
            writeln!(out, "{}", printable_lines(message.trim_end()))?;
            out.flush()?;
        }
        Ok(())
    }
}

/// `path` under `workdir` when relative, as Codex names a patched file.
fn absolute(workdir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        workdir.join(path)
    }
}

impl Printer for HumanPrinter {
    fn session(&mut self, id: &str, _resumed: bool) -> io::Result<()> {
        let paint = self.paint;
        let header = &self.header;
        let mut lines = vec![format!("kelp v{}\n--------", env!("CARGO_PKG_VERSION"))];
        let workdir = header.workdir.display().to_string();
        for (key, value) in [
            ("workdir", workdir.as_str()),
            ("model", &header.model),
            ("provider", &header.provider),
            ("approval", &header.approval),
            ("sandbox", &header.sandbox),
            ("reasoning effort", &header.effort),
            ("reasoning summaries", &header.summaries),
            ("session id", id),
        ] {
            lines.push(format!("{} {}", paint.bold(&format!("{key}:")), value));
        }
        lines.push("--------".to_string());
        lines.push(format!(
            "{}\n{}",
            paint.cyan("user"),
            printable_lines(header.prompt.trim_end())
        ));
        self.translator = Some(Translator::new(id.to_string(), header.workdir.clone()));
        self.say(&lines.join("\n"))
    }

    fn print(&mut self, event: Event) -> io::Result<()> {
        if let Some(line) = event.line()
            && !self.own_line(line)?
        {
            return Ok(());
        }
        // Said once the translator has ended the turn's items.
        let ended = match &event {
            Event::TurnFinished(outcome) => Some(outcome.clone()),
            _ => None,
        };
        let Some(translator) = &mut self.translator else {
            return Ok(());
        };
        let mut notes = Vec::new();
        translator.on_event(&self.turn_id, event, 0, &mut notes);
        for note in notes {
            match note {
                Outgoing::Started(started) => self.started(&started.item)?,
                Outgoing::Completed(completed) => self.completed(completed.item)?,
                Outgoing::Notify(notification) => self.notified(notification)?,
                Outgoing::Line(_) => {}
            }
        }
        match ended {
            Some(outcome) => self.finish(&outcome),
            None => Ok(()),
        }
    }

    fn last_message(&self) -> Option<&str> {
        self.last_message.as_deref()
    }
}
