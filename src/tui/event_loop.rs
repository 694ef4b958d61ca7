//! The one loop: terminal input, core events, frames and timers meet in a single `select!`.

use std::path::PathBuf;
use std::time::Instant;

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;
use tokio::time::sleep_until;

use super::app::App;
use super::attention::Attention;
use super::bottom_pane::file_finder;
use super::frame::FrameScheduler;
use super::highlight::{Background, BackgroundSource};
use super::terminal::{self, Tui};
use super::{background, clipboard, editor, highlight, hyperlink, scrollback};
use crate::protocol::Event;

/// Core events handled before the next look at the keyboard, so a flood of deltas cannot
/// starve input.
const MAX_EVENTS_PER_WAKE: usize = 512;

pub use super::session_state::Ended;

/// What the terminal said while the first frame was up: its background, if it answered, and
/// the bytes typed meanwhile.
type BackgroundAnswer = (Option<Background>, Vec<u8>);

/// Runs the UI until it quits, the core goes away or a signal ends it. With `ask_background`
/// (the state folder where its answer is kept), the terminal is asked its background once the
/// first frame is drawn; the keyboard is read once the answer is in. `first_frame` is told
/// when the first frame is out.
pub async fn run_loop(
    terminal: &mut Tui,
    app: &mut App,
    events: &mut UnboundedReceiver<Event>,
    attention: &mut Attention,
    mut ask_background: Option<PathBuf>,
    mut first_frame: Option<tokio::sync::oneshot::Sender<()>>,
) -> anyhow::Result<Ended> {
    // The input reader would take the terminal's answer for keys: it starts after the answer.
    let mut input = ask_background.is_none().then(EventStream::new);
    let mut asking: Option<JoinHandle<BackgroundAnswer>> = None;
    let mut frames = FrameScheduler::new();
    let mut mouse = app.wants_mouse();
    terminal::set_mouse(mouse)?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let hangup_unsignalled = terminal::HangupWatch::on_stdin();
    let mut status_news = app.status.chosen.take_receiver();
    // Scrollback mode: when lines last went into the terminal's scrollback.
    let mut flushed_at: Option<Instant> = None;

    loop {
        if first_frame.is_none() {
            tell_status_line(app);
        }
        if app.take_redraw() {
            frames.request();
        }
        let now = Instant::now();
        // Before the frame that shows it, so the title and any call back never lag the screen.
        if let Some(bytes) = attention.update(app.activity(), app.window_title(now), now) {
            use std::io::Write;
            let out = terminal.backend_mut();
            out.write_all(bytes.as_bytes())?;
            out.flush()?;
        }
        if let Some(at) = frames.deadline(now)
            && at <= now
        {
            draw_frame(terminal, app, &mut flushed_at, now)?;
            frames.drawn(now);
            if let Some(drawn) = first_frame.take() {
                let _ = drawn.send(());
            }
            if let Some(state_dir) = ask_background.take() {
                asking = ask_after_first_frame(terminal, state_dir);
                if asking.is_none() {
                    input = Some(EventStream::new());
                }
            }
        }
        if app.should_quit() {
            return Ok(app.reopen.take().unwrap_or(Ended::Quit));
        }
        let frame_at = frames.deadline(now);
        let tick_at = app.next_tick(now);
        let wait_highlighter = app.awaiting_highlighter();
        let finding_files = app.finding_files();
        tokio::select! {
            biased;
            event = next_input(&mut input) => match event {
                Some(Ok(event)) => read_together(event, app, attention)?,
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(Ended::Quit),
            },
            answer = background_answer(&mut asking) => {
                asking = None;
                input = Some(EventStream::new());
                on_background_answer(app, answer);
            }
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
                None => return Ok(Ended::Quit),
            },
            _ = sleep_until(frame_at.unwrap_or(now).into()), if frame_at.is_some() => {}
            _ = sleep_until(tick_at.unwrap_or(now).into()), if tick_at.is_some() => app.on_tick(),
            _ = highlight::ready().notified(), if wait_highlighter => app.on_highlighter_ready(),
            Some(news) = next_news(&mut status_news) => app.on_status_news(news),
            _ = file_finder::ready().notified(), if finding_files => app.on_files_ready(),
            _ = term.recv() => return Ok(Ended::Signal(libc::SIGTERM)),
            _ = hangup.recv() => return Ok(Ended::Signal(libc::SIGHUP)),
            _ = terminal_hung_up(&hangup_unsignalled) => return Ok(Ended::Signal(libc::SIGHUP)),
        }
        terminal_requests(terminal, app, &mut mouse)?;
    }
}

/// One frame, on the screen the settings want; in scrollback mode, what this frame (at its size)
/// put above the view goes into the terminal's history, and the frame is drawn again over the
/// blanked screen, in one update.
fn draw_frame(
    terminal: &mut Tui,
    app: &mut App,
    flushed_at: &mut Option<Instant>,
    now: Instant,
) -> anyhow::Result<()> {
    let wanted = app.status.chosen.alternate_screen;
    let moving = !wanted && terminal::on_alternate_screen();
    let switch = |terminal: &mut Tui| {
        if wanted == terminal::on_alternate_screen() {
            return Ok(());
        }
        terminal::switch_screen(terminal, wanted)
    };
    terminal::draw_whole_after(terminal, switch, |frame| draw(app, frame))?;
    if let Some(lines) = lines_for_scrollback(app, flushed_at, now, moving) {
        let write = |terminal: &mut Tui| scrollback::flush(terminal, &lines);
        terminal::draw_whole_after(terminal, write, |frame| draw(app, frame))?;
    }
    Ok(())
}

/// Terminal events that arrived with `event`, read and handled together: a wheel turn in the
/// alternate screen is a burst of arrow keys in one read.
fn read_together(
    event: TermEvent,
    app: &mut App,
    attention: &mut Attention,
) -> std::io::Result<()> {
    // The stream just yielded, so its waiting thread has let go of the reader:
    // these reads return at once. (Polling the stream itself here would leave
    // its thread holding a waker that wakes nobody.)
    let mut batch = vec![event];
    while batch.len() < MAX_EVENTS_PER_WAKE && crossterm::event::poll(std::time::Duration::ZERO)? {
        batch.push(crossterm::event::read()?);
    }
    background::drop_late_answer(&mut batch);
    for event in &batch {
        match event {
            TermEvent::FocusGained => attention.focus(true),
            TermEvent::FocusLost => attention.focus(false),
            _ => {}
        }
    }
    app.handle_terminal_events(batch);
    Ok(())
}

/// The terminal's answer about its background: the code colours follow it, and keys typed
/// while it was awaited are handled.
fn on_background_answer(app: &mut App, answer: BackgroundAnswer) {
    let (shade, typed) = answer;
    if let Some(shade) = shade
        && highlight::set_background(shade, BackgroundSource::Terminal)
    {
        app.on_background_changed();
    }
    let keys = background::typed_keys(&typed);
    if !keys.is_empty() {
        app.handle_terminal_events(keys);
    }
}

/// What the app asked of the terminal while it handled events: to suspend, to edit the draft
/// in `$EDITOR`, to copy, to capture the mouse or let it go.
fn terminal_requests(terminal: &mut Tui, app: &mut App, mouse: &mut bool) -> anyhow::Result<()> {
    if app.take_suspend() {
        terminal::suspend(terminal, *mouse)?;
        app.resumed();
    }
    if let Some(draft) = app.take_edit_request() {
        let edited = editor::edit(terminal, *mouse, &draft);
        app.edited(edited);
    }
    for (text, label) in app.take_clipboard() {
        let how = clipboard::copy(terminal.backend_mut(), &text)?;
        app.copied(&label, how);
    }
    if app.wants_mouse() != *mouse {
        *mouse = app.wants_mouse();
        terminal::set_mouse(*mouse)?;
    }
    Ok(())
}

/// The next terminal event, once the input reader runs.
async fn next_input(input: &mut Option<EventStream>) -> Option<std::io::Result<TermEvent>> {
    match input {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

/// Draws the app's frame, its links marked.
fn draw(app: &mut App, frame: &mut ratatui::Frame) {
    app.render(frame);
    hyperlink::mark(frame.buffer_mut());
}

/// In scrollback mode, the lines that went above the view, to go into the terminal's
/// scrollback now: when the client is idle, and during a turn at most every
/// [`scrollback::FLUSH_EVERY`]; at once when the UI just moved there from the alternate
/// screen. `None`: nothing to write.
fn lines_for_scrollback(
    app: &mut App,
    flushed_at: &mut Option<Instant>,
    now: Instant,
    moved: bool,
) -> Option<Vec<ratatui::text::Line<'static>>> {
    if terminal::on_alternate_screen() {
        return None;
    }
    let due = moved
        || !app.turn.running()
        || flushed_at.is_none_or(|at| now.duration_since(at) >= scrollback::FLUSH_EVERY);
    if !due {
        return None;
    }
    let lines = app.chat.transcript.take_scrolled_off(false);
    if lines.is_empty() {
        return None;
    }
    *flushed_at = Some(now);
    Some(lines)
}

/// The person's status line told what changed since the last wake (once the first frame is
/// out: nothing starts before it); its command runs on a task of its own.
fn tell_status_line(app: &mut App) {
    if app.status.chosen.wants_repository() {
        let facts = app.status.facts(app.session.id.clone());
        app.status.chosen.update(facts);
    }
}

/// The status line's news; never when it has none to give.
async fn next_news(
    news: &mut Option<tokio::sync::mpsc::UnboundedReceiver<super::status_command::StatusNews>>,
) -> Option<super::status_command::StatusNews> {
    match news {
        Some(news) => news.recv().await,
        None => std::future::pending().await,
    }
}

/// The terminal hanging up without a SIGHUP; never when it is not watched.
async fn terminal_hung_up(watch: &Option<terminal::HangupWatch>) {
    match watch {
        Some(watch) => watch.hung_up().await,
        None => std::future::pending().await,
    }
}

/// The terminal's answer, once it is asked.
async fn background_answer(asking: &mut Option<JoinHandle<BackgroundAnswer>>) -> BackgroundAnswer {
    match asking {
        Some(reading) => reading.await.unwrap_or_default(),
        None => std::future::pending().await,
    }
}

/// Sends the background query and reads the answer on a blocking thread, which keeps it in
/// `state_dir` for the next start; `None` when the query could not be sent.
fn ask_after_first_frame(
    terminal: &mut Tui,
    state_dir: PathBuf,
) -> Option<JoinHandle<BackgroundAnswer>> {
    use std::io::Write;
    let out = terminal.backend_mut();
    out.write_all(background::QUERY).ok()?;
    out.flush().ok()?;
    Some(tokio::task::spawn_blocking(move || {
        let read = background::read_answer(terminal::BACKGROUND_QUERY_TIMEOUT);
        let (shade, typed) = background::split(&read);
        if let Some(shade) = shade {
            background::remember(&state_dir, shade);
        }
        (shade, typed)
    }))
}
