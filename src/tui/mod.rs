//! The terminal UI: one event loop, the core reached only through `Op`/`Event` channels,
//! frames requested and coalesced, and the transcript kept as cached cells.

pub mod app;
pub mod clipboard;
pub mod composer;
pub mod connect;
mod event_loop;
pub mod frame;
pub mod highlight;
pub mod history_cell;
pub mod markdown;
pub mod picker;
pub mod qr_view;
pub mod resume;
pub mod slash;
pub mod streaming;
pub mod terminal;
pub mod transcript;
pub mod wrap;

use std::path::PathBuf;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

pub use app::{App, InitialState};

use crate::agent::protocol::{AuthSummary, Event, Op};
use crate::agent::tools::SandboxPolicy;
use crate::auth::{AuthStore, LoginMethod, OpenAiEntry, StoredLogin, detect_method, mask_key};
use crate::config::Config;
use crate::llm::models::choose_model;

/// Runs the interactive client until the person quits. The terminal is restored on every way
/// out, a panic included.
pub async fn run(
    _config: &Config,
    ops: UnboundedSender<Op>,
    mut events: UnboundedReceiver<Event>,
    initial: InitialState,
) -> anyhow::Result<()> {
    let (mut terminal, guard) = terminal::enter()?;
    let mut app = App::new(ops.clone(), initial);
    let result = event_loop::run_loop(&mut terminal, &mut app, &mut events).await;
    drop(guard);
    let _ = ops.send(Op::Shutdown);
    result
}

impl InitialState {
    /// Reads what the first frame shows from local files and the environment; no network.
    pub fn from_local(config: &Config, project_dir: PathBuf, env_api_key: Option<String>) -> Self {
        let env_key = env_api_key.filter(|k| !k.trim().is_empty());
        let (auth, warning) = match AuthStore::new(&config.auth_file).load() {
            Ok(file) => {
                let summary = match file.openai() {
                    Some(OpenAiEntry::Api { key }) => Some(AuthSummary::ApiKey {
                        masked: mask_key(&key),
                    }),
                    Some(OpenAiEntry::OAuth(entry)) => Some(AuthSummary::ChatGpt(
                        StoredLogin::from_entry(&entry).account,
                    )),
                    None => env_key.map(|key| AuthSummary::ApiKey {
                        masked: mask_key(&key),
                    }),
                };
                (summary, None)
            }
            Err(e) => (None, Some(e.to_string())),
        };
        Self {
            auth,
            // The same choice the core makes, so the status line names the model in use.
            model: choose_model(config.model.as_deref()),
            project_dir,
            approval_mode: config.approval,
            sandbox: SandboxPolicy::new(config.sandbox, config.network).describe(),
            headless: detect_method() == LoginMethod::Device,
            warning,
        }
    }
}
