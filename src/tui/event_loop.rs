//! The one loop: terminal input, core events, frames and timers meet in a single `select!`.

use std::time::Instant;

use crossterm::event::EventStream;
use futures_util::StreamExt;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::sleep_until;

use super::app::App;
use super::frame::FrameScheduler;
use super::terminal::{self, Tui};
use super::{clipboard, highlight};
use crate::agent::protocol::Event;

/// Core events handled before the next look at the keyboard, so a flood of deltas cannot
/// starve input.
const MAX_EVENTS_PER_WAKE: usize = 512;

/// Runs the UI until it quits or the core goes away.
pub async fn run_loop(
    terminal: &mut Tui,
    app: &mut App,
    events: &mut UnboundedReceiver<Event>,
) -> anyhow::Result<()> {
    let mut input = EventStream::new();
    let mut frames = FrameScheduler::new();
    let mut mouse = app.wants_mouse();
    terminal::set_mouse(mouse)?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;

    loop {
        if app.take_redraw() {
            frames.request();
        }
        let now = Instant::now();
        if let Some(at) = frames.deadline(now)
            && at <= now
        {
            terminal.draw(|frame| app.render(frame))?;
            frames.drawn(now);
        }
        if app.should_quit() {
            return Ok(());
        }
        let frame_at = frames.deadline(now);
        let tick_at = app.next_tick(now);
        let wait_highlighter = app.awaiting_highlighter();
        tokio::select! {
            biased;
            event = input.next() => match event {
                Some(Ok(event)) => app.handle_terminal_event(event),
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            event = events.recv() => match event {
                Some(event) => {
                    app.handle_core_event(event);
                    for _ in 0..MAX_EVENTS_PER_WAKE {
                        match events.try_recv() {
                            Ok(event) => app.handle_core_event(event),
                            Err(_) => break,
                        }
                    }
                }
                None => return Ok(()),
            },
            _ = sleep_until(frame_at.unwrap_or(now).into()), if frame_at.is_some() => {}
            _ = sleep_until(tick_at.unwrap_or(now).into()), if tick_at.is_some() => app.on_tick(),
            _ = highlight::ready().notified(), if wait_highlighter => app.on_highlighter_ready(),
            _ = term.recv() => return Ok(()),
            _ = hangup.recv() => return Ok(()),
        }
        for text in app.take_clipboard() {
            clipboard::copy(terminal.backend_mut(), &text)?;
        }
        if app.wants_mouse() != mouse {
            mouse = app.wants_mouse();
            terminal::set_mouse(mouse)?;
        }
    }
}
