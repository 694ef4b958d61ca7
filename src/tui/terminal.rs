//! Taking over the terminal and always giving it back: on exit, on error and on panic.

use std::io::{self, Stdout, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::thread::ThreadId;

use crossterm::event::{
    DisableBracketedPaste, DisableFocusChange, EnableBracketedPaste, EnableFocusChange,
    KeyboardEnhancementFlags, PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The terminal type the UI draws on.
pub type Tui = Terminal<CrosstermBackend<Stdout>>;

// Button presses (the wheel among them) in SGR encoding; no motion tracking, which would wake
// the UI on every mouse move. Only when the person asked for it (`mouse = true`): a captured
// mouse cannot select text, and over SSH selecting is how most people copy.
const MOUSE_ON: &str = "\x1b[?1000h\x1b[?1006h";
const MOUSE_OFF: &str = "\x1b[?1006l\x1b[?1000l";
// Alternate scroll: with the mouse left to the terminal, the wheel in the alternate screen
// arrives as arrow keys, which the UI tells from typed ones by their bursts.
const ALTERNATE_SCROLL_ON: &str = "\x1b[?1007h";
const ALTERNATE_SCROLL_OFF: &str = "\x1b[?1007l";
/// xterm's title stack (XTWINOPS 22 and 23): the shell's title saved, and put back.
pub(super) const TITLE_PUSH: &str = "\x1b[22;0t";
pub(super) const TITLE_POP: &str = "\x1b[23;0t";

/// Whether the UI is on the alternate screen (the default) or on the terminal's own, its
/// transcript going into the scrollback (scrollback mode).
static ALTERNATE: AtomicBool = AtomicBool::new(true);

/// Chooses the screen [`enter`] and later take-overs use; `false`: scrollback mode.
pub fn use_alternate_screen(on: bool) {
    ALTERNATE.store(on, Ordering::SeqCst);
}

/// Whether the UI is on the alternate screen.
pub fn on_alternate_screen() -> bool {
    ALTERNATE.load(Ordering::SeqCst)
}

// The thread that draws the UI. A panic elsewhere (a background task, which tokio catches)
// leaves the UI running, so only a panic on this thread may take the terminal back.
static UI_THREAD: Mutex<Option<ThreadId>> = Mutex::new(None);

/// Restores the terminal when dropped.
#[derive(Debug)]
pub struct TerminalGuard {
    _private: (),
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// How long to wait for the terminal to say its background, the first frame already up. A
/// terminal that cannot answer is told apart at once (see `background`), so only one that
/// answers nothing at all costs this; over a slow SSH link an answer takes a round trip.
pub const BACKGROUND_QUERY_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1500);

/// Raw mode, the alternate screen, bracketed paste, disambiguated keys (Shift+Enter) and the
/// wheel as arrow keys; the panic hook that undoes it is installed first.
pub fn enter() -> io::Result<(Tui, TerminalGuard)> {
    install_panic_hook();
    if let Ok(mut ui) = UI_THREAD.lock() {
        *ui = Some(std::thread::current().id());
    }
    let guard = TerminalGuard { _private: () };
    take_over()?;
    let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    Ok((terminal, guard))
}

/// The terminal modes the UI runs in (see [`enter`]).
fn take_over() -> io::Result<()> {
    enable_raw_mode()?;
    let mut out = io::stdout();
    if on_alternate_screen() {
        execute!(out, EnterAlternateScreen)?;
    } else {
        // What the terminal showed goes into its scrollback, kept, and the UI has the screen.
        let (_, rows) = crossterm::terminal::size()?;
        push_screen_up(&mut out, rows)?;
    }
    execute!(
        out,
        EnableBracketedPaste,
        EnableFocusChange,
        PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES)
    )?;
    out.write_all(ALTERNATE_SCROLL_ON.as_bytes())?;
    // The title kelp sets is pushed over the shell's, which comes back when it leaves.
    out.write_all(TITLE_PUSH.as_bytes())?;
    out.flush()
}

/// Ctrl+Z: gives the terminal back, stops the process as the shell's job control expects,
/// and takes the terminal over again when `fg` continues it, the whole screen redrawn.
pub fn suspend(terminal: &mut Tui, mouse: bool) -> io::Result<()> {
    hand_over(terminal, mouse, || {
        // Raw mode turned off the terminal's own Ctrl+Z; this is the stop it would have sent.
        // SAFETY: raise(3) with a valid signal number; the default action stops the process.
        unsafe {
            libc::raise(libc::SIGTSTP);
        }
    })
}

/// Gives the terminal back while `work` runs (a stop, an editor), then takes it over again,
/// the whole screen redrawn.
pub fn hand_over<T>(terminal: &mut Tui, mouse: bool, work: impl FnOnce() -> T) -> io::Result<T> {
    if !on_alternate_screen() {
        // On the terminal's own screen the UI would stay behind the shell or the editor.
        terminal.draw(|frame| frame.buffer_mut().reset())?;
        execute!(terminal.backend_mut(), crossterm::cursor::MoveTo(0, 0))?;
    }
    restore();
    let done = work();
    take_over()?;
    set_mouse(mouse)?;
    // The alternate screen comes back blank: a blank frame makes ratatui's idea of the screen
    // match, so the next frame draws every cell. (`Terminal::clear` would ask the terminal for
    // the cursor position, an answer the input reader takes first.)
    draw_whole(terminal, |frame| frame.buffer_mut().reset())?;
    Ok(done)
}

/// Draws a frame as one synchronized update (DEC mode 2026): a terminal that knows it shows
/// the frame whole, never half of it, which a slow SSH link would otherwise let it show; one
/// that does not ignores the mode.
pub fn draw_whole(terminal: &mut Tui, render: impl FnOnce(&mut ratatui::Frame)) -> io::Result<()> {
    draw_whole_after(terminal, |_| Ok(()), render)
}

/// [`draw_whole`] with `before` done to the terminal in the same synchronized update (what
/// scrollback mode writes into the scrollback).
pub fn draw_whole_after(
    terminal: &mut Tui,
    before: impl FnOnce(&mut Tui) -> io::Result<()>,
    render: impl FnOnce(&mut ratatui::Frame),
) -> io::Result<()> {
    use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
    crossterm::queue!(terminal.backend_mut(), BeginSynchronizedUpdate)?;
    before(terminal)?;
    terminal.draw(render)?;
    execute!(terminal.backend_mut(), EndSynchronizedUpdate)
}

/// Moves the UI to the alternate screen or off it (`/tui`), the screen it leaves blanked
/// through ratatui and the one it comes to blank, as ratatui then takes it to be. Onto the
/// terminal's own screen, what the shell left there goes into the scrollback first.
pub fn switch_screen(terminal: &mut Tui, alternate: bool) -> io::Result<()> {
    terminal.draw(|frame| frame.buffer_mut().reset())?;
    if alternate {
        // Home first: the cursor the alternate screen saves is where the shell's screen is
        // taken up from when the UI comes back.
        execute!(
            terminal.backend_mut(),
            crossterm::cursor::MoveTo(0, 0),
            EnterAlternateScreen
        )?;
    } else {
        execute!(terminal.backend_mut(), LeaveAlternateScreen)?;
        let rows = terminal.size()?.height;
        push_screen_up(terminal.backend_mut(), rows)?;
    }
    use_alternate_screen(alternate);
    Ok(())
}

/// Turns mouse reporting on or off.
pub fn set_mouse(on: bool) -> io::Result<()> {
    let mut out = io::stdout();
    out.write_all(if on { MOUSE_ON } else { MOUSE_OFF }.as_bytes())?;
    out.flush()
}

/// Scrolls what the screen shows down to the cursor's line into the terminal's scrollback, the
/// screen left blank and the cursor at its top left: a screen-high run of line feeds from the
/// cursor scrolls exactly the lines above it and its own (no need to ask the terminal where the
/// cursor is).
pub fn push_screen_up(out: &mut impl Write, rows: u16) -> io::Result<()> {
    out.write_all("\n".repeat(usize::from(rows)).as_bytes())?;
    crossterm::queue!(out, crossterm::cursor::MoveTo(0, 0))?;
    out.flush()
}

/// Gives the terminal back; safe to call more than once.
pub fn restore() {
    let mut out = io::stdout();
    let _ = out.write_all(MOUSE_OFF.as_bytes());
    let _ = out.write_all(ALTERNATE_SCROLL_OFF.as_bytes());
    let _ = out.write_all(TITLE_POP.as_bytes());
    let _ = execute!(
        out,
        PopKeyboardEnhancementFlags,
        DisableFocusChange,
        DisableBracketedPaste,
        crossterm::cursor::Show
    );
    // Leaving a screen never entered would put the cursor back where an older save left it.
    if on_alternate_screen() {
        let _ = execute!(out, LeaveAlternateScreen);
    }
    let _ = disable_raw_mode();
}

/// Notices the terminal going away when no SIGHUP says so (a parent that keeps the hangup to
/// itself, such as a tracer, or a client that is not the terminal's session). crossterm's reader
/// then reads end-of-file over and over and never reports it, so the client would spin; the
/// watch asks the kernel instead. It wakes only when the terminal has input or hangs up: an idle
/// client pays nothing.
pub struct HangupWatch(tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>);

impl HangupWatch {
    /// Watches standard input when it is the terminal; `None` when it is not.
    pub fn on_stdin() -> Option<Self> {
        use std::os::fd::AsFd;
        let stdin = io::stdin();
        if !crossterm::tty::IsTty::is_tty(&stdin) {
            return None;
        }
        let fd = stdin.as_fd().try_clone_to_owned().ok()?;
        // SAFETY: an `OwnedFd` is open and keeps its one descriptor until it is dropped.
        unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)
        }
        .ok()
        .map(Self)
    }

    /// Returns once the terminal has hung up.
    pub async fn hung_up(&self) {
        loop {
            let Ok(mut ready) = self.0.readable().await else {
                return std::future::pending().await;
            };
            if is_hung_up(self.0.get_ref()) {
                return;
            }
            // Keys to read, which are crossterm's: wait for the next change.
            ready.clear_ready();
        }
    }
}

/// Whether the terminal on standard input has hung up: an error of the UI's (a read or a
/// write refused) is then the terminal going away, not a failure.
pub fn stdin_hung_up() -> bool {
    use std::os::fd::AsFd;
    io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .is_ok_and(|fd| is_or_was_terminal(&fd) && is_hung_up(&fd))
}

/// Whether `fd` is a terminal, or one that hung up: the kernel answers a hung-up terminal's
/// ioctls with EIO, so `isatty` says no once the terminal is gone (a file or a pipe says
/// ENOTTY).
fn is_or_was_terminal(fd: &std::os::fd::OwnedFd) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: isatty(3) on a descriptor this function borrows.
    let terminal = unsafe { libc::isatty(fd.as_raw_fd()) } == 1;
    terminal || io::Error::last_os_error().raw_os_error() == Some(libc::EIO)
}

/// Whether the terminal behind `fd` has hung up, asked without reading from it.
fn is_hung_up(fd: &std::os::fd::OwnedFd) -> bool {
    use std::os::fd::AsRawFd;
    let mut poll = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: 0,
        revents: 0,
    };
    // SAFETY: one pollfd that outlives the call, and a zero timeout.
    let found = unsafe { libc::poll(&mut poll, 1, 0) };
    found == 1 && poll.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let ui = UI_THREAD.lock().ok().and_then(|ui| *ui);
            if restores_on_panic(ui, std::thread::current().id()) {
                restore();
            }
            previous(info);
        }));
    });
}

/// Whether a panic on `current` must give the terminal back: only when it is the UI thread, or
/// when no UI thread is known (restoring is harmless then).
fn restores_on_panic(ui: Option<ThreadId>, current: ThreadId) -> bool {
    ui.is_none_or(|ui| ui == current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_panic_on_the_ui_thread_gives_the_terminal_back() {
        let ui = std::thread::current().id();
        let worker = std::thread::spawn(|| std::thread::current().id())
            .join()
            .unwrap();
        assert!(restores_on_panic(Some(ui), ui));
        assert!(!restores_on_panic(Some(ui), worker));
    }

    #[tokio::test]
    async fn a_terminal_whose_other_end_closed_is_still_known_as_a_terminal_that_hung_up() {
        let (master, slave) = crate::tools::pty::open(crate::tools::pty::Size::default()).unwrap();
        assert!(is_or_was_terminal(&slave));
        assert!(!is_hung_up(&slave));
        drop(master);
        // SAFETY: isatty(3) on a descriptor owned here.
        assert_eq!(
            unsafe { libc::isatty(std::os::fd::AsRawFd::as_raw_fd(&slave)) },
            0
        );
        assert!(is_or_was_terminal(&slave));
        assert!(is_hung_up(&slave));

        let file = std::os::fd::OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
        assert!(!is_or_was_terminal(&file));
    }
}
