//! Syntax highlighting of code blocks with syntect. The syntax set takes tens of milliseconds to
//! load, so it is loaded on a background thread the first time a code block needs it; until
//! then code renders plain and the UI is told when to re-render.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::tui::theme;
use ratatui::text::{Line, Span};
use syntect::easy::HighlightLines;
use syntect::highlighting::{Theme, ThemeSet};
use syntect::parsing::SyntaxSet;
use tokio::sync::Notify;

/// Blocks longer than this render plain: highlighting must stay bounded on the UI task.
const MAX_HIGHLIGHT_BYTES: usize = 32 * 1024;

struct Highlighter {
    syntaxes: SyntaxSet,
    theme: Theme,
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

fn load() -> Highlighter {
    let syntaxes = SyntaxSet::load_defaults_newlines();
    let mut themes = ThemeSet::load_defaults();
    let theme = themes
        .themes
        .remove("base16-ocean.dark")
        .unwrap_or_default();
    Highlighter { syntaxes, theme }
}

/// Highlights `code` as `lang`. `None` when the highlighter is not loaded yet (loading starts),
/// the language is unknown, or the block is too large to highlight on the UI task.
pub fn highlight(lang: &str, code: &str) -> Option<Vec<Line<'static>>> {
    if code.len() > MAX_HIGHLIGHT_BYTES {
        return None;
    }
    let Some(h) = HIGHLIGHTER.get() else {
        start_loading();
        return None;
    };
    let token = lang.split([',', ' ']).next().unwrap_or_default();
    let syntax = h.syntaxes.find_syntax_by_token(token)?;
    let mut lines = HighlightLines::new(syntax, &h.theme);
    let mut out = Vec::new();
    for source_line in syntect::util::LinesWithEndings::from(code) {
        let ranges = lines.highlight_line(source_line, &h.syntaxes).ok()?;
        let spans: Vec<Span<'static>> = ranges
            .into_iter()
            .map(|(style, text)| {
                let fg = style.foreground;
                Span::styled(
                    text.trim_end_matches(['\n', '\r']).to_string(),
                    theme::rgb(fg.r, fg.g, fg.b),
                )
            })
            .filter(|s| !s.content.is_empty())
            .collect();
        out.push(Line::from(spans));
    }
    Some(out)
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
}
