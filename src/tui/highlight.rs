//! Syntax highlighting of code blocks with syntect. The syntax set takes tens of milliseconds to
//! load, so it is loaded on a background thread the first time a code block needs it; until
//! then code renders plain and the UI is told when to re-render.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::tui::theme;
use ratatui::text::{Line, Span};
use syntect::highlighting::{
    HighlightIterator, HighlightState, Highlighter as Styler, Theme, ThemeSet,
};
use syntect::parsing::{ParseState, ScopeStack, SyntaxSet};
use tokio::sync::Notify;

/// Blocks longer than this render plain: highlighting must stay bounded on the UI task.
const MAX_HIGHLIGHT_BYTES: usize = 32 * 1024;

struct Highlighter {
    syntaxes: SyntaxSet,
    /// The theme's scope selectors, built once: building them for every code block was most of
    /// what starting to colour a block cost (1.3% of the 1 MiB stream bench).
    styler: Styler<'static>,
}

static HIGHLIGHTER: OnceLock<Highlighter> = OnceLock::new();
static LOADING: AtomicBool = AtomicBool::new(false);
static READY: Notify = Notify::const_new();

/// Woken once when the highlighter has finished loading in the background.
pub fn ready() -> &'static Notify {
    &READY
}

/// Whether the highlighter is loaded.
pub fn is_loaded() -> bool {
    HIGHLIGHTER.get().is_some()
}

/// Starts loading the highlighter in the background, once.
pub fn start_loading() {
    if is_loaded() || LOADING.swap(true, Ordering::SeqCst) {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("kelp-syntect".into())
        .spawn(|| {
            let _ = HIGHLIGHTER.get_or_init(load);
            READY.notify_one();
        });
    if spawned.is_err() {
        LOADING.store(false, Ordering::SeqCst);
    }
}

/// Loads the highlighter on this thread (tests and benches want deterministic output).
pub fn load_now() {
    let _ = HIGHLIGHTER.get_or_init(load);
}

/// The terminal's background, which the highlighting colours must read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Background {
    Dark,
    Light,
}

/// Where the background was learnt, for `/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackgroundSource {
    /// The `theme` setting named it.
    Setting,
    /// The terminal answered an OSC 11 query.
    Terminal,
    /// `COLORFGBG` said it.
    Colorfgbg,
    /// Nothing said: dark, the commoner.
    Assumed,
}

static BACKGROUND: OnceLock<(Background, BackgroundSource)> = OnceLock::new();

/// Sets the background before the highlighter loads (later calls change nothing).
pub fn set_background(background: Background, source: BackgroundSource) {
    let _ = BACKGROUND.set((background, source));
}

/// The background the code colours were chosen for, and how it was learnt.
pub fn background() -> Option<(Background, BackgroundSource)> {
    BACKGROUND.get().copied()
}

/// The background a `theme` setting names. `auto` asks the terminal (`ask_terminal`, OSC 11:
/// `COLORFGBG` is not forwarded over SSH), then reads `COLORFGBG` (`fg;bg`, set by many
/// terminals: background colours 7 and 9–15 are light), else assumes dark.
pub fn background_for(
    theme: crate::config::modes::Theme,
    ask_terminal: impl FnOnce() -> Option<Background>,
    colorfgbg: Option<&str>,
) -> (Background, BackgroundSource) {
    use crate::config::modes::Theme;
    match theme {
        Theme::Dark => (Background::Dark, BackgroundSource::Setting),
        Theme::Light => (Background::Light, BackgroundSource::Setting),
        Theme::Auto => {
            if let Some(answered) = ask_terminal() {
                return (answered, BackgroundSource::Terminal);
            }
            let bg = colorfgbg
                .and_then(|v| v.rsplit(';').next())
                .and_then(|bg| bg.trim().parse::<u8>().ok());
            match bg {
                Some(7 | 9..=15) => (Background::Light, BackgroundSource::Colorfgbg),
                Some(_) => (Background::Dark, BackgroundSource::Colorfgbg),
                None => (Background::Dark, BackgroundSource::Assumed),
            }
        }
    }
}

fn load() -> Highlighter {
    let syntaxes = SyntaxSet::load_defaults_newlines();
    let mut themes = ThemeSet::load_defaults();
    let name = match background() {
        Some((Background::Light, _)) => "InspiredGitHub",
        _ => "base16-ocean.dark",
    };
    // The styler borrows the theme for the life of the process, like the highlighter.
    static THEME: OnceLock<Theme> = OnceLock::new();
    let theme = THEME.get_or_init(|| themes.themes.remove(name).unwrap_or_default());
    Highlighter {
        syntaxes,
        styler: Styler::new(theme),
    }
}

/// Highlights `code` as `lang`. `None` when the highlighter is not loaded yet (loading starts),
/// the language is unknown, or the block is too large to highlight on the UI task.
pub fn highlight(lang: &str, code: &str) -> Option<Vec<Line<'static>>> {
    if code.len() > MAX_HIGHLIGHT_BYTES {
        return None;
    }
    if let Some(lines) = take_streamed(lang, code) {
        return Some(lines);
    }
    let mut lines = LineHighlighter::new(lang)?;
    syntect::util::LinesWithEndings::from(code)
        .map(|line| lines.line(line))
        .collect()
}

/// Highlights a code block line by line as its lines arrive, keeping the parser's state
/// between them: what a streaming answer's open code block uses.
pub struct LineHighlighter {
    parse: ParseState,
    style: HighlightState,
    loaded: &'static Highlighter,
    /// Bytes highlighted so far; past [`MAX_HIGHLIGHT_BYTES`] lines stay plain.
    bytes: usize,
    /// The block so far and its coloured lines, handed to [`highlight`] when the block closes
    /// so the finished block is not coloured a second time.
    lang: String,
    text: String,
    done: Vec<Line<'static>>,
}

thread_local! {
    /// The last code block a [`LineHighlighter`] finished: its language, text and lines.
    static STREAMED: std::cell::RefCell<Option<(String, String, Vec<Line<'static>>)>> =
        const { std::cell::RefCell::new(None) };
}

/// The lines of a block the streaming highlighter already coloured, when `code` is that block.
fn take_streamed(lang: &str, code: &str) -> Option<Vec<Line<'static>>> {
    STREAMED.with(|slot| {
        let mut slot = slot.borrow_mut();
        let same = slot.as_ref().is_some_and(|(l, text, _)| {
            l == lang && text.strip_suffix('\n').unwrap_or(text) == code
        });
        if same {
            slot.take().map(|(_, _, lines)| lines)
        } else {
            None
        }
    })
}

impl std::fmt::Debug for LineHighlighter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineHighlighter")
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

impl LineHighlighter {
    /// A highlighter for `lang` (a fence's info string); `None` when the highlighter is not
    /// loaded yet (loading starts) or the language is unknown.
    pub fn new(lang: &str) -> Option<Self> {
        let Some(h) = HIGHLIGHTER.get() else {
            start_loading();
            return None;
        };
        let token = lang.split([',', ' ']).next().unwrap_or_default();
        let syntax = h.syntaxes.find_syntax_by_token(token)?;
        Some(Self {
            parse: ParseState::new(syntax),
            style: HighlightState::new(&h.styler, ScopeStack::new()),
            loaded: h,
            bytes: 0,
            lang: lang.to_string(),
            text: String::new(),
            done: Vec::new(),
        })
    }

    /// The block closed: its coloured lines wait for the render of the finished block.
    pub fn finish(self) {
        if self.bytes > MAX_HIGHLIGHT_BYTES {
            return;
        }
        STREAMED.with(|slot| *slot.borrow_mut() = Some((self.lang, self.text, self.done)));
    }

    /// The next line of the block (with its newline), coloured; `None` past the size bound or
    /// when syntect fails on it.
    pub fn line(&mut self, source_line: &str) -> Option<Line<'static>> {
        self.bytes += source_line.len();
        if self.bytes > MAX_HIGHLIGHT_BYTES {
            return None;
        }
        let ops = self
            .parse
            .parse_line(source_line, &self.loaded.syntaxes)
            .ok()?;
        self.text.push_str(source_line);
        let ranges =
            HighlightIterator::new(&mut self.style, &ops, source_line, &self.loaded.styler);
        let spans: Vec<Span<'static>> = ranges
            .map(|(style, text)| {
                let fg = style.foreground;
                Span::styled(
                    text.trim_end_matches(['\n', '\r']).to_string(),
                    theme::rgb(fg.r, fg.g, fg.b),
                )
            })
            .filter(|s| !s.content.is_empty())
            .collect();
        let line = Line::from(spans);
        self.done.push(line.clone());
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_code_gets_colours_and_keeps_its_text() {
        load_now();
        let lines = highlight("rust", "fn main() {\n    let x = 1;\n}\n").unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1].to_string(), "    let x = 1;");
        assert!(lines[0].spans.iter().any(|s| s.style.fg.is_some()));
        assert!(highlight("no-such-language", "x").is_none());
    }

    #[test]
    fn a_block_coloured_while_it_streamed_is_not_coloured_again_and_looks_the_same() {
        load_now();
        let code = "fn main() {\n    let x = \"a\";\n}";
        let fresh = highlight("rust", code).unwrap();
        let mut streaming = LineHighlighter::new("rust").unwrap();
        for line in syntect::util::LinesWithEndings::from("fn main() {\n    let x = \"a\";\n}\n") {
            streaming.line(line).unwrap();
        }
        streaming.finish();
        assert!(STREAMED.with(|slot| slot.borrow().is_some()));
        assert_eq!(highlight("rust", code).unwrap(), fresh);
        assert!(
            STREAMED.with(|slot| slot.borrow().is_none()),
            "handed over once"
        );
    }

    #[test]
    fn the_background_comes_from_the_setting_then_the_terminal_then_colorfgbg() {
        use crate::config::modes::Theme;
        use BackgroundSource::*;
        let silent = || None;
        let light = || Some(Background::Light);
        let asked = std::cell::Cell::new(false);
        let noted = || {
            asked.set(true);
            Some(Background::Dark)
        };
        assert_eq!(
            background_for(Theme::Light, silent, None),
            (Background::Light, Setting)
        );
        assert_eq!(
            background_for(Theme::Dark, noted, Some("0;15")),
            (Background::Dark, Setting)
        );
        assert!(!asked.get(), "a set theme asks nothing of the terminal");
        assert_eq!(
            background_for(Theme::Auto, light, Some("15;0")),
            (Background::Light, Terminal)
        );
        assert_eq!(
            background_for(Theme::Auto, silent, Some("0;15")),
            (Background::Light, Colorfgbg)
        );
        assert_eq!(
            background_for(Theme::Auto, silent, Some("0;default;7")),
            (Background::Light, Colorfgbg)
        );
        assert_eq!(
            background_for(Theme::Auto, silent, Some("15;0")),
            (Background::Dark, Colorfgbg)
        );
        assert_eq!(
            background_for(Theme::Auto, silent, None),
            (Background::Dark, Assumed)
        );
    }
}
