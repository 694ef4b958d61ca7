//! The terminal UI: one event loop, the core reached only through `Op`/`Event` channels,
//! frames requested and coalesced, and the transcript kept as cached cells.
//!
//! - `event_loop.rs`: one `select!` over input, core events, frames, timers; input that arrived
//!   together is one batch (how a wheel turn is told from a typed arrow); Ctrl+Z suspends here.
//! - `app.rs`: routing: terminal input in, `Op`s out, the layout; `app_keys.rs`: the keys
//!   the app reads itself, once the views and the composer passed them by. `core_events.rs`: the core's
//!   events into the app's state.
//!   `turn_state.rs`: the turn running now (its clock, the prompts queued behind it).
//!   `session_state.rs`: the conversation shown (its saved id, the prompts Esc Esc goes back
//!   to, its patches) and the saved ones `/resume` lists. `commands.rs`: every slash command and picker choice, as a
//!   `Command` value, carried out in one place. `overlay.rs`: the one slot that covers the chat
//!   and takes the keys (the `/connect` dialog, drawn by `connect/`).
//! - `bottom_pane/`: the composer and a stack of views over it (`approval.rs`, `picker.rs`,
//!   `slash.rs` with its popup, `file_finder.rs` matching with `nucleo` off the UI thread); a key
//!   goes to the top view, then the slash popup, then the `@` finder, then the app, then the
//!   composer.
//! - `chat.rs`: the transcript and the turn streaming into it; a retry's voided items go when the
//!   retry streams, and an answer cut short stays, marked. `transcript.rs` + `history_cell.rs`:
//!   cells with cached wrapped lines, only visible ones drawn; `call_lines.rs`: a tool call and
//!   an approval question as lines. `streaming.rs` + `markdown.rs`:
//!   Markdown re-parsed only for the open block. `highlight.rs`: syntect, loaded in the
//!   background.
//! - `terminals_view.rs` (`/ps` and `/stop`: the background terminals), `side.rs` (`/side`:
//!   a question beside the conversation, in a view over it), `hooks_view.rs` (`/hooks`: the person's hooks, and their trust),
//!   `still_running.rs` (Ctrl+C
//!   while a turn runs: cancel it, leave it running on a server, or stop it and leave),
//!   `status.rs` (the status line and `/status`), `help.rs`, `frame.rs` (60 fps cap),
//!   `hyperlink.rs` (URLs as OSC 8 links), `resume.rs` (the `/resume` picker, how an early end is
//!   told), `resume_search.rs` (`/resume` searching what the conversations said), `reopen.rs` (a reopened conversation drawn through the live path), `review_lines.rs` (an
//!   auto-review's cell, `/approvals`' list),
//!   `rewind.rs` (Esc Esc: back to an earlier prompt, then the offer to undo its file changes), `theme.rs` (every colour by role, `NO_COLOR`), `background.rs` (the terminal's background
//!   over OSC 11), `clipboard.rs` (OSC 52, tmux, the display's
//!   tool), `qr_view.rs`, `turn_clock.rs` (a turn's time, approvals left out),
//!   `editor.rs` (Ctrl+G: the draft in `$VISUAL`/`$EDITOR`), `pasted_image.rs` (a pasted image path or Ctrl+V: an image attached), `attention.rs` (the window title, and the bell or notification when a turn ends or waits
//!   while the person looks elsewhere), `goal_view.rs` (`/goal`), `plan_mode.rs` (Shift+Tab,
//!   the offer to implement a plan, the model's questions as pickers), `project_settings.rs`
//!   (a trusted project's settings that wait for the person's allowance, asked about at the start), `status_command.rs` (the
//!   status line the person chose: the items picked, or what their command prints),
//!   `status_line_view.rs` (`/statusline`), `title.rs` (the window title and `/title`), `theme_view.rs` (`/theme`), `syntax_themes.rs` (the themes offered, and the UI's colours a chosen one gives), `scrollback.rs` (scrollback mode: the transcript in the terminal's own history), `session_commands.rs` (the commands of Codex's
//!   about the conversation and where it runs: `/plan`, `/pwd`, `/archive`, `/warnings`, …),
//!   `export.rs` (`/export`: the conversation as Markdown), `keymap.rs` (the person's
//!   `[tui.keymap]` read before the client's own handling of keys) and `keymap_view.rs`
//!   (`/keymap`: the actions, their keys changed and saved, the key inspector),
//!   `account_view.rs` (`/account`: the logins kept, and which one requests use).
//!
//! - `agents_center.rs`: the command center's list (`/agents`, `/subagents`), grouped as Needs
//!   you, Working, Ready and Inactive; `agents.rs`: the center in the app, another agent's
//!   conversation shown in place of this one's, Alt+0..9.
//!
//! Its other files:
//! - `initial_state.rs`: what the first frame shows, read before any network call.
//! - `terminal.rs`: taking over the terminal and always giving it back.
//! - `turn_rows.rs`: the rows between the transcript and the composer while a turn runs.
//! - `wrap.rs`: word wrapping of styled lines to a width, with a hanging prefix for continuation
//!   lines.

mod account_view;
mod agents;
pub mod agents_center;
pub mod app;
mod app_keys;
pub mod attention;
pub mod background;
pub mod bottom_pane;
pub mod call_lines;
pub mod chat;
pub mod clipboard;
pub mod commands;
pub mod connect;
mod core_events;
mod editor;
mod event_loop;
mod export;
pub mod frame;
mod goal_view;
pub mod help;
pub mod highlight;
pub mod history_cell;
mod hooks_view;
pub mod hyperlink;
pub mod initial_state;
pub mod keymap;
mod keymap_view;
pub mod markdown;
pub mod overlay;
mod pasted_image;
mod plan_mode;
mod project_settings;
pub mod qr_view;
mod reopen;
pub mod resume;
mod resume_search;
mod review_lines;
mod rewind;
mod scrollback;
mod session_commands;
mod session_state;
mod side;
pub mod status;
pub mod status_command;
mod status_line_view;
mod still_running;
pub mod streaming;
mod syntax_themes;
pub mod terminal;
mod terminals_view;
pub mod theme;
mod theme_view;
mod title;
pub mod transcript;
pub mod turn_clock;
mod turn_rows;
mod turn_state;
pub mod wrap;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

pub use app::{App, ExitSummary, InitialState};
pub use bottom_pane::file_finder::FileFinder;
pub use event_loop::Ended;

use crate::config::Config;
use crate::protocol::{Event, Op};

/// Runs the interactive client until the person quits. The terminal is restored on every way
/// out, a panic included. Returns why it ended and how to come back to the conversation.
pub async fn run(
    config: &Config,
    ops: UnboundedSender<Op>,
    mut events: UnboundedReceiver<Event>,
    initial: InitialState,
    first_frame: Option<tokio::sync::oneshot::Sender<()>>,
) -> anyhow::Result<(Ended, Option<ExitSummary>)> {
    let colorfgbg = std::env::var("COLORFGBG").ok();
    let auto = config.theme == crate::config::modes::Theme::Auto;
    let remembered = auto
        .then(|| background::remembered(&config.state_dir))
        .flatten();
    let (shade, source) = highlight::background_for(config.theme, remembered, colorfgbg.as_deref());
    highlight::set_background(shade, source);
    let unknown_theme = config
        .surfaces
        .theme
        .as_deref()
        .and_then(|name| highlight::choose_theme(Some(name)).err());
    // Asked once the first frame is up, never before it.
    let ask_background =
        (auto && theme::colors() && background::can_ask()).then(|| config.state_dir.clone());
    terminal::use_alternate_screen(config.surfaces.alternate_screen.unwrap_or(true));
    let (mut terminal, guard) = terminal::enter()?;
    let project = call_lines::display_path(&initial.project_dir);
    let tmux = std::env::var_os("TMUX").is_some_and(|value| !value.is_empty());
    let mut attention = attention::Attention::new(config.notifications, project, tmux);
    let mut app = App::new(ops.clone(), initial);
    app.pane
        .set_vim(config.surfaces.vim_mode_default.unwrap_or(false));
    if let Some(why) = unknown_theme {
        app.notice(format!(
            "[tui] theme: {why}; the background chooses instead."
        ));
    }
    let result = event_loop::run_loop(
        &mut terminal,
        &mut app,
        &mut events,
        &mut attention,
        ask_background,
        first_frame,
    )
    .await;
    // Scrollback mode leaves the conversation where the UI was, above the shell's prompt.
    if !terminal::on_alternate_screen() {
        let rest = app.chat.transcript.take_scrolled_off(true);
        let _ = scrollback::leave(&mut terminal, &rest);
    }
    drop(guard);
    let _ = ops.send(Op::Shutdown);
    // The terminal closing can fail a read or a draw before its hangup is seen: it ends the
    // client as the hangup does.
    let result = match result {
        Err(_) if terminal::stdin_hung_up() => Ok(Ended::Signal(libc::SIGHUP)),
        other => other,
    };
    Ok((result?, app.exit_summary()))
}
