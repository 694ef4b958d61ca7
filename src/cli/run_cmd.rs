//! `kelp run`: one prompt, the answer streamed to stdout, no UI.
//!
//! Two halves that meet only at [`Event`]: the request side turns a prompt into the core's
//! events (today one request; the agent's tool loop slots in here), and a [`Printer`] turns
//! events into text or JSON lines.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use kelp::agent::protocol::{Event, TurnOutcome};
use kelp::auth::AuthManager;
use kelp::config::Config;
use kelp::llm::types::{Item, RateLimitWindow, ResponseEvent, TokenUsage};
use kelp::llm::{ErrorCategory, LlmClient, LlmError, Prompt, models};
use serde_json::{Value, json};

use super::{exit, fail};

/// What `kelp run` was asked to do.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Print one JSON event per line instead of the answer's text.
    #[arg(long)]
    json: bool,
    /// The prompt; read from standard input when absent or `-`.
    prompt: Option<String>,
}

/// Why a run stopped early.
enum RunError {
    Llm(LlmError),
    Output(io::Error),
}

/// Runs `kelp run`.
pub fn run(config: &Config, cwd: &std::path::Path, args: RunArgs) -> ExitCode {
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
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(exit::FAILURE, &format!("cannot start: {e}")),
    };
    let auth = AuthManager::new(config, std::env::var("OPENAI_API_KEY").ok());
    let client = match LlmClient::new(config.clone(), auth) {
        Ok(client) => client,
        Err(e) => return fail(exit::FAILURE, &e.to_string()),
    };
    let mut prompt = Prompt::new(models::choose_model(config.model.as_deref(), None), cwd);
    prompt.input.push(Item::user_text(text));

    let mut printer: Box<dyn Printer> = if args.json {
        Box::new(JsonPrinter::default())
    } else {
        Box::new(TextPrinter::default())
    };
    let result = runtime.block_on(answer(&client, &prompt, &mut |event| printer.print(&event)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(RunError::Llm(e)) => {
            let message = e.to_string();
            let _ = printer.print(&Event::TurnFinished(TurnOutcome::Failed(message.clone())));
            let code = match e.category() {
                ErrorCategory::Auth => exit::AUTH,
                ErrorCategory::Limit => exit::LIMIT,
                ErrorCategory::Other => exit::FAILURE,
            };
            fail(code, &message)
        }
        // A closed stdout (`kelp run … | head`) is the reader's choice, not a failure to report.
        Err(RunError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(RunError::Output(e)) => fail(exit::FAILURE, &format!("cannot write the answer: {e}")),
    }
}

/// The request side: one request, its stream turned into the core's events.
async fn answer(
    client: &LlmClient,
    prompt: &Prompt,
    emit: &mut dyn FnMut(Event) -> io::Result<()>,
) -> Result<(), RunError> {
    let mut emit = |event| emit(event).map_err(RunError::Output);
    emit(Event::TurnStarted)?;
    let mut stream = client.stream(prompt);
    while let Some(event) = stream.next_event().await {
        let event = match event.map_err(RunError::Llm)? {
            ResponseEvent::TextDelta(delta) => Event::TextDelta(delta),
            ResponseEvent::ReasoningSummaryDelta(delta) => Event::ReasoningDelta(delta),
            ResponseEvent::OutputItemDone(item @ Item::Message { .. }) => {
                Event::MessageDone(item.text())
            }
            ResponseEvent::RateLimits(limits) => Event::RateLimits(limits),
            ResponseEvent::Retrying {
                attempt,
                max,
                delay,
                reason,
            } => Event::Retrying {
                attempt,
                max,
                delay,
                reason,
            },
            ResponseEvent::Completed { usage, .. } => {
                emit(Event::Usage(usage.unwrap_or_default()))?;
                emit(Event::TurnFinished(TurnOutcome::Completed))?;
                return Ok(());
            }
            ResponseEvent::Created
            | ResponseEvent::OutputItemAdded(_)
            | ResponseEvent::OutputItemDone(_) => continue,
        };
        emit(event)?;
    }
    // The stream ends only after Completed or an error, unless its task died.
    Err(RunError::Llm(LlmError::Transient {
        reason: "the response ended without an answer".to_string(),
        retries: 0,
    }))
}

/// The printing side: shows the core's events.
trait Printer {
    /// Shows one event.
    fn print(&mut self, event: &Event) -> io::Result<()>;
}

/// The answer as plain text on stdout, flushed per delta; retries noted on stderr.
#[derive(Default)]
struct TextPrinter {
    /// Text of the current message printed so far, by deltas.
    streamed: bool,
    /// Whether stdout's last byte was not a newline.
    mid_line: bool,
}

impl TextPrinter {
    fn out(&mut self, text: &str) -> io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
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
    fn print(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::TextDelta(delta) => {
                self.streamed = true;
                self.out(delta)
            }
            // Without deltas the finished message is the only place the text is.
            Event::MessageDone(text) if !self.streamed => {
                self.out(text)?;
                self.end_line()
            }
            Event::MessageDone(_) => {
                self.streamed = false;
                self.end_line()
            }
            Event::Retrying {
                attempt,
                max,
                reason,
                ..
            } => {
                let restart = if self.streamed {
                    " (the answer starts over)"
                } else {
                    ""
                };
                self.streamed = false;
                self.end_line()?;
                eprintln!("kelp: reconnecting {attempt}/{max}… {reason}{restart}");
                Ok(())
            }
            Event::TurnFinished(_) => self.end_line(),
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
        let mut stdout = io::stdout().lock();
        serde_json::to_writer(&mut stdout, &value)?;
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
    fn print(&mut self, event: &Event) -> io::Result<()> {
        let value = match event {
            Event::TurnStarted => json!({"type": "turn.started"}),
            Event::TextDelta(delta) => json!({"type": "text.delta", "delta": delta}),
            Event::ReasoningDelta(delta) => json!({"type": "reasoning.delta", "delta": delta}),
            Event::MessageDone(text) => {
                json!({"type": "item.completed", "item": {"type": "agent_message", "text": text}})
            }
            Event::Retrying {
                attempt,
                max,
                delay,
                reason,
            } => json!({
                "type": "retrying",
                "attempt": attempt,
                "max": max,
                "delay_ms": delay.as_millis() as u64,
                "reason": reason,
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
            Event::TurnFinished(TurnOutcome::Failed(message)) => {
                json!({"type": "turn.failed", "error": {"message": message}})
            }
            Event::TurnFinished(TurnOutcome::Interrupted) => json!({"type": "turn.interrupted"}),
            _ => return Ok(()),
        };
        self.line(value)
    }
}
