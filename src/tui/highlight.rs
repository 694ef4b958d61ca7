//! Syntax highlighting of code blocks with syntect. The syntax set takes tens of milliseconds to
//! load, so it is loaded on a background thread the first time a code block needs it; until
//! then code renders plain and the UI is told when to re-render. The colours are the theme
//! chosen (`/theme`, `[tui] theme`: one of `syntax_themes.rs`', read only when chosen, which
//! colours the UI's roles too), else a dark or light one for the terminal's background.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::tui::syntax_themes::{self, BY_BACKGROUND, THEMES, terminal_colour};
use crate::tui::theme;
use ratatui::text::{Line, Span};
use syntect::highlighting::{HighlightIterator, HighlightState, Highlighter as Styler, Theme};
use syntect::parsing::{ParseState, ScopeStack, SyntaxSet};
use tokio::sync::Notify;

/// Blocks longer than this render plain: highlighting must stay bounded on the UI task.
const MAX_HIGHLIGHT_BYTES: usize = 32 * 1024;

struct Highlighter {
    syntaxes: SyntaxSet,
    /// The two themes a background can ask for, dark then light.
    themes: [&'static Theme; 2],
    /// Each theme's scope selectors, built once when first used: building them for every code
    /// block was most of what starting to colour a block cost (1.3% of the 1 MiB stream bench).
    stylers: [OnceLock<Styler<'static>>; 2],
}

impl Highlighter {
    /// The styler of the theme chosen, else the one for the background as it is now known.
    fn styler(&'static self) -> &'static Styler<'static> {
        if let Some(at) = chosen_index() {
            return named_styler(at);
        }
        let at = match background() {
            Some((Background::Light, _)) => 1,
            _ => 0,
        };
        self.stylers[at].get_or_init(|| Styler::new(self.themes[at]))
    }
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

pub use crate::tui::theme::Background;

/// Where the background was learnt, for `/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackgroundSource {
    /// The `theme` setting named it.
    Setting,
    /// The terminal answered an OSC 11 query.
    Terminal,
    /// `COLORFGBG` said it.
    Colorfgbg,
    /// The terminal's answer the last time kelp asked, until it answers again.
    Remembered,
    /// Nothing said: dark, the commoner.
    Assumed,
}

static BACKGROUND: std::sync::Mutex<Option<(Background, BackgroundSource)>> =
    std::sync::Mutex::new(None);

/// Sets the background the code colours are chosen for; a later answer (the terminal's) may
/// change it. Returns whether the shade changed, when blocks coloured for the other one must
/// be coloured again.
pub fn set_background(background: Background, source: BackgroundSource) -> bool {
    let mut known = BACKGROUND
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let changed = known.is_some_and(|(was, _)| was != background);
    *known = Some((background, source));
    changed
}

/// The background the code colours are chosen for, and how it was learnt.
pub fn background() -> Option<(Background, BackgroundSource)> {
    *BACKGROUND
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The background to draw the first frame with, known without asking anything: what a `theme`
/// setting names; for `auto`, `COLORFGBG` (`fg;bg`, set by many terminals, not forwarded over
/// SSH: background colours 7 and 9–15 are light), then the terminal's last answer, else dark.
/// The terminal is asked once the frame is up (OSC 11), and its answer wins.
pub fn background_for(
    theme: crate::config::modes::Theme,
    remembered: Option<Background>,
    colorfgbg: Option<&str>,
) -> (Background, BackgroundSource) {
    use crate::config::modes::Theme;
    match theme {
        Theme::Dark => (Background::Dark, BackgroundSource::Setting),
        Theme::Light => (Background::Light, BackgroundSource::Setting),
        Theme::Auto => {
            let bg = colorfgbg
                .and_then(|v| v.rsplit(';').next())
                .and_then(|bg| bg.trim().parse::<u8>().ok());
            match (bg, remembered) {
                (Some(7 | 9..=15), _) => (Background::Light, BackgroundSource::Colorfgbg),
                (Some(_), _) => (Background::Dark, BackgroundSource::Colorfgbg),
                (None, Some(last)) => (last, BackgroundSource::Remembered),
                (None, None) => (Background::Dark, BackgroundSource::Assumed),
            }
        }
    }
}

/// The stylers of the themes chosen or shown so far, by their place in [`THEMES`].
static NAMED: OnceLock<Vec<OnceLock<Styler<'static>>>> = OnceLock::new();
/// The theme chosen, by its place in [`THEMES`]; `None`: the background's.
static CHOSEN: std::sync::Mutex<Option<usize>> = std::sync::Mutex::new(None);

fn named_styler(at: usize) -> &'static Styler<'static> {
    let named = NAMED.get_or_init(|| THEMES.iter().map(|_| OnceLock::new()).collect());
    named[at].get_or_init(|| Styler::new(syntax_themes::theme(at)))
}

fn chosen_index() -> Option<usize> {
    *CHOSEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Chooses the theme called `name` (`None`: the one for the background); whether the colours
/// change. An unknown name is refused in words that list the known ones.
pub fn choose_theme(name: Option<&str>) -> Result<bool, String> {
    let at = match name {
        None => None,
        Some(name) => Some(syntax_themes::theme_index(name).ok_or_else(|| {
            let known: Vec<&str> = THEMES.iter().map(|(kebab, _, _)| *kebab).collect();
            format!("kelp has no theme {name:?}: {}", known.join(", "))
        })?),
    };
    let mut chosen = CHOSEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let changed = std::mem::replace(&mut *chosen, at) != at;
    if changed {
        syntax_themes::colour_the_ui(at.map(named_styler));
    }
    Ok(changed)
}

/// The name of the theme chosen; `None`: the background's.
pub fn chosen_theme() -> Option<&'static str> {
    chosen_index().map(|at| THEMES[at].0)
}

/// A short piece of Rust coloured by the theme at `at` in [`THEMES`]: `/theme`'s preview.
/// Loads the highlighter on this thread when it is not yet.
pub fn sample(at: usize) -> Vec<Line<'static>> {
    const SAMPLE: &str = "fn greet(name: &str) -> String { // say hello\n    \
                          format!(\"hi {name}, {}\", 42)\n";
    load_now();
    let Some(h) = HIGHLIGHTER.get() else {
        return Vec::new();
    };
    let Some(mut lines) = LineHighlighter::with_styler(h, "rust", named_styler(at)) else {
        return Vec::new();
    };
    syntect::util::LinesWithEndings::from(SAMPLE)
        .filter_map(|line| lines.line(line))
        .collect()
}

fn load() -> Highlighter {
    Highlighter {
        syntaxes: SyntaxSet::load_defaults_newlines(),
        themes: BY_BACKGROUND.map(syntax_themes::theme),
        stylers: [OnceLock::new(), OnceLock::new()],
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
    syntaxes: &'static SyntaxSet,
    /// The styler the block began with: a block keeps its colours if the background changes.
    styler: &'static Styler<'static>,
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
        Self::with_styler(h, lang, h.styler())
    }

    fn with_styler(
        h: &'static Highlighter,
        lang: &str,
        styler: &'static Styler<'static>,
    ) -> Option<Self> {
        let token = lang.split([',', ' ']).next().unwrap_or_default();
        let syntax = h.syntaxes.find_syntax_by_token(token)?;
        Some(Self {
            parse: ParseState::new(syntax),
            style: HighlightState::new(styler, ScopeStack::new()),
            syntaxes: &h.syntaxes,
            styler,
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
        let ops = self.parse.parse_line(source_line, self.syntaxes).ok()?;
        self.text.push_str(source_line);
        let ranges = HighlightIterator::new(&mut self.style, &ops, source_line, self.styler);
        let spans: Vec<Span<'static>> = ranges
            .map(|(style, text)| {
                Span::styled(
                    text.trim_end_matches(['\n', '\r']).to_string(),
                    theme::code(terminal_colour(style.foreground)),
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
    fn the_first_background_comes_from_the_setting_then_colorfgbg_then_the_last_answer() {
        use crate::config::modes::Theme;
        use BackgroundSource::*;
        let light = Some(Background::Light);
        assert_eq!(
            background_for(Theme::Light, None, None),
            (Background::Light, Setting)
        );
        assert_eq!(
            background_for(Theme::Dark, light, Some("0;15")),
            (Background::Dark, Setting)
        );
        assert_eq!(
            background_for(Theme::Auto, light, Some("15;0")),
            (Background::Dark, Colorfgbg)
        );
        assert_eq!(
            background_for(Theme::Auto, None, Some("0;15")),
            (Background::Light, Colorfgbg)
        );
        assert_eq!(
            background_for(Theme::Auto, None, Some("0;default;7")),
            (Background::Light, Colorfgbg)
        );
        assert_eq!(
            background_for(Theme::Auto, light, None),
            (Background::Light, Remembered)
        );
        assert_eq!(
            background_for(Theme::Auto, None, None),
            (Background::Dark, Assumed)
        );
    }

    #[test]
    fn a_block_begun_for_one_background_keeps_its_colours_and_the_next_takes_the_new_ones() {
        load_now();
        set_background(Background::Dark, BackgroundSource::Assumed);
        let code = "fn main() { let x = 1; }";
        let dark = highlight("rust", code).unwrap();
        let mut open = LineHighlighter::new("rust").unwrap();
        assert!(set_background(
            Background::Light,
            BackgroundSource::Terminal
        ));
        let light = highlight("rust", code).unwrap();
        assert_ne!(dark, light, "a light background gets other colours");
        assert_eq!(open.line("fn main() { let x = 1; }\n").unwrap(), dark[0]);
        assert!(!set_background(
            Background::Light,
            BackgroundSource::Terminal
        ));
        set_background(Background::Dark, BackgroundSource::Assumed);
    }
}
