//! Runs the real `kelp` in a pseudo-terminal and reads its screen through a VT100 parser:
//! spawn with an environment, send keys, wait until the screen shows something.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, PtySize, native_pty_system};

/// The row of `screen` where `needle` first shows; the test fails, showing the screen, when it
/// is not there.
pub fn row_of(screen: &str, needle: &str) -> usize {
    screen
        .lines()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} is not on screen:\n{screen}"))
}

/// A running `kelp` on a pseudo-terminal.
pub struct Pty {
    child: Box<dyn Child + Send + Sync>,
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    /// How many reads of output the parser has taken, and a wake-up for each: waits end as
    /// soon as the screen may have changed, not at the next poll.
    reads: Arc<(Mutex<u64>, Condvar)>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

/// Not a variable for the program but for the terminal: the background colour it answers an
/// OSC 11 query with (`rgb:ffff/ffff/ffff`); without it, the query goes unanswered, as many
/// terminals leave it. The device-attributes query (DA1) is always answered, as every
/// terminal does.
pub const BACKGROUND: &str = "PTY_BACKGROUND";

/// Also for the terminal: how many milliseconds it takes to answer a query, as a terminal at the
/// far end of an SSH link does (a round trip); without it, it answers at once.
#[allow(dead_code)]
pub const ANSWER_DELAY_MS: &str = "PTY_ANSWER_DELAY_MS";

/// Lines of history the test terminal keeps above its main screen.
const HISTORY_ROWS: usize = 2000;

impl Pty {
    /// Starts `program` with `args` in a `cols`×`rows` terminal, with a private HOME (also the
    /// working directory) and only the variables in `env` (plus PATH and TERM).
    pub fn spawn(
        program: &Path,
        args: &[&str],
        home: &Path,
        env: &[(&str, &str)],
        cols: u16,
        rows: u16,
    ) -> Self {
        Self::spawn_in(program, args, home, home, env, cols, rows)
    }

    /// [`Pty::spawn`] in the working directory `cwd`.
    pub fn spawn_in(
        program: &Path,
        args: &[&str],
        home: &Path,
        cwd: &Path,
        env: &[(&str, &str)],
        cols: u16,
        rows: u16,
    ) -> Self {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("a pty opens");
        let mut cmd = CommandBuilder::new(program);
        cmd.args(args);
        cmd.env_clear();
        cmd.env("HOME", home);
        cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default());
        cmd.env("TERM", "xterm-256color");
        cmd.env("RUST_LOG", "kelp=debug");
        // Endpoints on a closed loopback port unless the test names its server: no test
        // reaches beyond this machine.
        for (k, v) in [
            ("KELP_AUTH_ISSUER", "http://127.0.0.1:9"),
            (
                "KELP_CODEX_BASE_URL",
                "http://127.0.0.1:9/backend-api/codex",
            ),
            ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
            // The approval mode chosen, as a person who set one in their config: the folder's
            // trust is not asked for unless a test clears it (`KELP_APPROVAL=""`).
            ("KELP_APPROVAL", "ask"),
        ] {
            cmd.env(k, v);
        }
        let mut background = None;
        let mut answer_delay = Duration::ZERO;
        for (k, v) in env {
            if *k == BACKGROUND {
                background = Some(v.to_string());
            } else if *k == ANSWER_DELAY_MS {
                answer_delay = Duration::from_millis(v.parse().expect("a delay in ms"));
            } else {
                cmd.env(k, v);
            }
        }
        cmd.cwd(cwd);
        let child = pair.slave.spawn_command(cmd).expect("kelp starts");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let writer = Arc::new(Mutex::new(pair.master.take_writer().expect("pty writer")));
        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZeroU16::new(rows).expect("rows > 0"),
            std::num::NonZeroU16::new(cols).expect("cols > 0"),
            HISTORY_ROWS,
        )));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let reads = Arc::new((Mutex::new(0u64), Condvar::new()));
        {
            let parser = Arc::clone(&parser);
            let reads = Arc::clone(&reads);
            let raw = Arc::clone(&raw);
            let writer = Arc::clone(&writer);
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = reader.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    // The log and the screen advance together under the parser's lock: a
                    // test that holds it sees a screen and a log of the same bytes (a frame's
                    // end in the log is then on the screen too), and whatever a test sees on
                    // the screen is in the log when it reads the log next.
                    let answers = {
                        let mut parser = parser.lock().unwrap();
                        let answers = {
                            let mut raw = raw.lock().unwrap();
                            let from = raw.len().saturating_sub(8);
                            let new_at = raw.len() - from;
                            raw.extend_from_slice(&buf[..n]);
                            queries_answered(&raw[from..], new_at, background.as_deref())
                        };
                        parser.process(&buf[..n]);
                        answers
                    };
                    *reads.0.lock().unwrap() += 1;
                    reads.1.notify_all();
                    if !answers.is_empty() {
                        let writer = Arc::clone(&writer);
                        let answer = move || {
                            std::thread::sleep(answer_delay);
                            let mut writer = writer.lock().unwrap();
                            let _ = writer.write_all(answers.as_bytes());
                            let _ = writer.flush();
                        };
                        if answer_delay.is_zero() {
                            answer();
                        } else {
                            std::thread::spawn(answer);
                        }
                    }
                }
            });
        }
        Self {
            child,
            writer,
            parser,
            raw,
            reads,
            _master: pair.master,
        }
    }

    /// The process id of the program (the launch benchmark reads its RSS).
    #[allow(dead_code)]
    pub fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }

    /// Sends bytes as if typed.
    pub fn send(&mut self, bytes: &str) {
        let mut writer = self.writer.lock().unwrap();
        writer.write_all(bytes.as_bytes()).expect("pty takes input");
        writer.flush().expect("pty flushes");
    }

    /// Sends text as one bracketed paste.
    pub fn paste(&mut self, text: &str) {
        self.send(&format!("\x1b[200~{text}\x1b[201~"));
    }

    /// The screen as text, one line per row.
    pub fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// The terminal's own history: the lines scrolled off the top of its main screen, oldest
    /// first, one per line.
    #[allow(dead_code)]
    pub fn history(&self) -> String {
        let mut parser = self.parser.lock().unwrap();
        let screen = parser.screen_mut();
        let cols = screen.size().1.get();
        screen.set_scrollback(usize::MAX);
        let kept = screen.scrollback();
        let mut lines = Vec::with_capacity(kept);
        for back in (1..=kept).rev() {
            screen.set_scrollback(back);
            lines.push(screen.rows(0, cols).next().unwrap_or_default());
        }
        screen.set_scrollback(0);
        lines.join("\n")
    }

    /// The QR code on screen as its module matrix (`true` = dark), rebuilt from the half-block
    /// cells drawn on an explicit background: two modules per cell, top and bottom. `None` when
    /// no such cells are on screen.
    #[allow(dead_code)]
    pub fn qr_modules(&self) -> Option<Vec<Vec<bool>>> {
        let parser = self.parser.lock().unwrap();
        let screen = parser.screen();
        let (rows, cols) = screen.size();
        let mut modules = Vec::new();
        for row in 0..rows.get() {
            let mut top = Vec::new();
            let mut bottom = Vec::new();
            for col in 0..cols.get() {
                let Some(cell) = screen.cell(row, col) else {
                    continue;
                };
                if cell.bgcolor() == vt100::Color::Default {
                    continue;
                }
                let (t, b) = match cell.contents() {
                    "█" => (true, true),
                    "▀" => (true, false),
                    "▄" => (false, true),
                    "" | " " => (false, false),
                    _ => continue,
                };
                top.push(t);
                bottom.push(b);
            }
            if !top.is_empty() {
                modules.push(top);
                modules.push(bottom);
            }
        }
        (!modules.is_empty()).then_some(modules)
    }

    /// How many cells on screen have a colour of their own (foreground or background), and how
    /// many are bold.
    #[allow(dead_code)]
    pub fn styled_cells(&self) -> (usize, usize) {
        let parser = self.parser.lock().unwrap();
        let screen = parser.screen();
        let (rows, cols) = screen.size();
        let (mut colored, mut bold) = (0, 0);
        for row in 0..rows.get() {
            for col in 0..cols.get() {
                let Some(cell) = screen.cell(row, col) else {
                    continue;
                };
                if cell.fgcolor() != vt100::Color::Default
                    || cell.bgcolor() != vt100::Color::Default
                {
                    colored += 1;
                }
                if cell.bold() {
                    bold += 1;
                }
            }
        }
        (colored, bold)
    }

    /// The foreground colour of the first cell of `needle` where it first shows on screen.
    #[allow(dead_code)]
    pub fn colour_of(&self, needle: &str) -> Option<vt100::Color> {
        let parser = self.parser.lock().unwrap();
        let screen = parser.screen();
        let (_, cols) = screen.size();
        let (row, line) = screen
            .rows(0, cols.get())
            .enumerate()
            .find(|(_, line)| line.contains(needle))?;
        let col = line[..line.find(needle)?].chars().count();
        Some(
            screen
                .cell(u16::try_from(row).ok()?, u16::try_from(col).ok()?)?
                .fgcolor(),
        )
    }

    /// Whether the alternate screen is active.
    pub fn alternate_screen(&self) -> bool {
        self.parser.lock().unwrap().screen().alternate_screen()
    }

    /// Everything the program wrote so far.
    pub fn output(&self) -> Vec<u8> {
        self.raw.lock().unwrap().clone()
    }

    /// Waits until the screen contains `needle` and returns the screen; panics with the screen
    /// after `timeout`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        self.wait_until(|screen| screen.contains(needle), timeout, needle)
    }

    /// Waits until `done(screen)` holds; panics with the screen after `timeout`.
    pub fn wait_until(&self, done: impl Fn(&str) -> bool, timeout: Duration, what: &str) -> String {
        let start = Instant::now();
        loop {
            let seen = *self.reads.0.lock().unwrap();
            // Mid-frame (a synchronized update begun and not ended) the screen is half drawn,
            // as a terminal that knows the mode never shows it: wait for the frame's end.
            let (screen, mid_frame) = {
                let parser = self.parser.lock().unwrap();
                (parser.screen().contents(), self.mid_frame())
            };
            if !mid_frame && done(&screen) {
                return screen;
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                panic!("timed out waiting for {what:?}; the screen shows:\n{screen}");
            }
            // Until the next output, or a while: `done` may also wait on the world outside.
            let reads = self.reads.0.lock().unwrap();
            let _ = self
                .reads
                .1
                .wait_timeout_while(reads, left.min(Duration::from_millis(50)), |now| {
                    *now == seen
                })
                .unwrap();
        }
    }

    /// Whether the output ends inside a synchronized update (DEC mode 2026).
    fn mid_frame(&self) -> bool {
        let raw = self.raw.lock().unwrap();
        let last = |needle: &[u8]| raw.windows(needle.len()).rposition(|w| w == needle);
        match (last(b"\x1b[?2026h"), last(b"\x1b[?2026l")) {
            (Some(begun), Some(ended)) => begun > ended,
            (Some(_), None) => true,
            _ => false,
        }
    }

    /// Waits for the program to exit; returns whether it exited successfully.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        self.wait_exit_code(timeout) == 0
    }

    /// Waits for the program to exit; returns its exit status.
    pub fn wait_exit_code(&mut self, timeout: Duration) -> u32 {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                // Let the reader take in the last bytes.
                std::thread::sleep(Duration::from_millis(50));
                return status.exit_code();
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                panic!("kelp did not exit; the screen shows:\n{}", self.screen());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
    }
}

/// What a terminal answers to the queries that end in the new bytes of `output` (from `new_at`;
/// a few bytes before them are there so a query split across reads is seen): OSC 11 with
/// `background` when it has one, and DA1.
fn queries_answered(output: &[u8], new_at: usize, background: Option<&str>) -> String {
    let has = |needle: &[u8]| {
        output
            .windows(needle.len())
            .enumerate()
            .any(|(i, w)| w == needle && i + needle.len() > new_at)
    };
    let mut answers = String::new();
    if let Some(background) = background
        && (has(b"\x1b]11;?\x07") || has(b"\x1b]11;?\x1b\\"))
    {
        answers.push_str(&format!("\x1b]11;{background}\x1b\\"));
    }
    if has(b"\x1b[c") || has(b"\x1b[0c") {
        answers.push_str("\x1b[?62;22c");
    }
    answers
}
