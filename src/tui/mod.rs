//! The terminal UI: one event loop, the core reached only through `Op`/`Event` channels,
//! frames requested and coalesced, and the transcript kept as cached cells.

pub mod app;
pub mod bottom_pane;
pub mod chat;
pub mod clipboard;
pub mod commands;
pub mod connect;
mod event_loop;
pub mod frame;
pub mod help;
pub mod highlight;
pub mod history_cell;
pub mod hyperlink;
pub mod markdown;
pub mod overlay;
pub mod qr_view;
pub mod resume;
pub mod status;
pub mod streaming;
pub mod terminal;
pub mod theme;
pub mod transcript;
pub mod wrap;

use std::path::PathBuf;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

pub use app::{App, ExitSummary, InitialState};
pub use bottom_pane::file_finder::FileFinder;
pub use event_loop::Ended;

use crate::agent::core::StartFacts;
use crate::agent::protocol::{Event, Op};
use crate::agent::tools::SandboxPolicy;
use crate::auth::{LoginMethod, detect_method};
use crate::config::Config;

/// Runs the interactive client until the person quits. The terminal is restored on every way
/// out, a panic included. Returns why it ended and how to come back to the conversation.
pub async fn run(
    config: &Config,
    ops: UnboundedSender<Op>,
    mut events: UnboundedReceiver<Event>,
    initial: InitialState,
) -> anyhow::Result<(Ended, Option<ExitSummary>)> {
    let colorfgbg = std::env::var("COLORFGBG").ok();
    highlight::set_background(highlight::background_for(
        config.theme,
        colorfgbg.as_deref(),
    ));
    let (mut terminal, guard) = terminal::enter()?;
    let mut app = App::new(ops.clone(), initial);
    let result = event_loop::run_loop(&mut terminal, &mut app, &mut events).await;
    drop(guard);
    let _ = ops.send(Op::Shutdown);
    Ok((result?, app.exit_summary()))
}

impl InitialState {
    /// What the first frame shows, known before any network call: the stored login and the
    /// model (both from the agent's side), the sandbox, and whether this machine is headless.
    pub fn from_local(config: &Config, project_dir: PathBuf, env_api_key: Option<String>) -> Self {
        let facts = StartFacts::read(config, env_api_key);
        Self {
            auth: facts.auth,
            model: facts.model,
            project_dir,
            approval_mode: config.approval,
            sandbox: SandboxPolicy::new(config.sandbox, config.network).describe(),
            headless: detect_method() == LoginMethod::Device,
            warning: facts.warning,
            mouse: config.mouse,
        }
    }
}
