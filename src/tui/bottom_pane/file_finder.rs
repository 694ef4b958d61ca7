//! The `@` file finder. While the word at the composer's cursor starts with `@`, the project's
//! files are matched fuzzily against the rest of the word and drawn above the composer.
//!
//! Nothing here waits on the disk or on a large repository: the files are listed on a
//! background thread (with the ignore rules of [`crate::agent::mentions`]) and matched on
//! nucleo's worker threads. A frame waits for the matcher at most [`MATCH_WAIT_MS`]; results
//! that take longer are drawn when the matcher wakes the event loop through [`ready`].

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use nucleo::pattern::{CaseMatching, Normalization};
use nucleo::{Config, Matcher, Nucleo, Utf32String};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};
use tokio::sync::Notify;
use unicode_width::UnicodeWidthChar;

use crate::agent::mentions;
use crate::humanize;
use crate::tui::theme;
use crate::tui::wrap::draw_line;

/// How long drawing a frame waits for the matcher: long enough that a keystroke's results are
/// usually in its own frame, short enough to keep that frame within 16 ms.
pub const MATCH_WAIT_MS: u64 = 8;
/// Rows of files shown at most.
const MAX_ROWS: usize = 8;
/// Opening the finder again lists the files again (adding new ones) after this long.
const RELIST_AFTER: Duration = Duration::from_secs(5);

static READY: Notify = Notify::const_new();

/// Woken when the matcher has new results or a listing finished.
pub fn ready() -> &'static Notify {
    &READY
}

/// The project's files as far as they are listed, matched against a query.
pub struct FileFinder {
    matcher: Nucleo<Arc<str>>,
    /// Finds the matched characters of the rows drawn.
    highlighter: Matcher,
    query: String,
    selected: usize,
    root: Option<PathBuf>,
    listing: Arc<Listing>,
    listed_at: Option<Instant>,
}

/// What the background listing shares with the finder.
#[derive(Default)]
struct Listing {
    /// Every path handed to the matcher, so listing again adds only new files.
    known: Mutex<HashSet<Arc<str>>>,
    running: AtomicBool,
}

impl std::fmt::Debug for FileFinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileFinder")
            .field("query", &self.query)
            .field("selected", &self.selected)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl FileFinder {
    /// A finder over the files under `root`, listed when it is first [opened](Self::open).
    pub fn new(root: PathBuf) -> Self {
        let mut finder = Self::empty();
        finder.root = Some(root);
        finder
    }

    /// A finder over these paths only, in this order, never listing a folder.
    pub fn with_files<S: AsRef<str>>(files: impl IntoIterator<Item = S>) -> Self {
        let finder = Self::empty();
        let injector = finder.matcher.injector();
        let mut known = finder
            .listing
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for path in files {
            add(&injector, &mut known, path.as_ref().into());
        }
        drop(known);
        finder
    }

    fn empty() -> Self {
        let notify = Arc::new(|| READY.notify_one());
        Self {
            matcher: Nucleo::new(Config::DEFAULT.match_paths(), notify, None, 1),
            highlighter: Matcher::new(Config::DEFAULT.match_paths()),
            query: String::new(),
            selected: 0,
            root: None,
            listing: Arc::default(),
            listed_at: None,
        }
    }

    /// The finder comes into view: the files are listed in the background, the first time and
    /// again after a while (new files are added; the rows already there stay meanwhile).
    pub fn open(&mut self) {
        let Some(root) = self.root.clone() else {
            return;
        };
        let fresh = self.listed_at.is_some_and(|at| at.elapsed() < RELIST_AFTER);
        if fresh || self.listing.running.swap(true, Ordering::SeqCst) {
            return;
        }
        self.listed_at = Some(Instant::now());
        let injector = self.matcher.injector();
        let listing = self.listing.clone();
        let spawned = std::thread::Builder::new()
            .name("kelp-files".into())
            .spawn(move || {
                let found = Mutex::new(Vec::new());
                mentions::list_project_files(&root, &|path| {
                    found
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(path);
                });
                let mut found = found.into_inner().unwrap_or_else(PoisonError::into_inner);
                // Shallow files first, then by name: what an empty query shows, and how ties
                // between equal matches fall.
                found.sort_by(|a, b| (depth(a), a).cmp(&(depth(b), b)));
                let mut known = listing.known.lock().unwrap_or_else(PoisonError::into_inner);
                for path in found {
                    add(&injector, &mut known, path.into());
                }
                drop(known);
                listing.running.store(false, Ordering::SeqCst);
                READY.notify_one();
            });
        if spawned.is_err() {
            self.listing.running.store(false, Ordering::SeqCst);
        }
    }

    /// Matches against `query` (the text after the `@`) from now on.
    pub fn set_query(&mut self, query: &str) {
        if query == self.query {
            return;
        }
        let narrower = query.starts_with(self.query.as_str());
        self.matcher.pattern.reparse(
            0,
            query,
            CaseMatching::Smart,
            Normalization::Smart,
            narrower,
        );
        self.query = query.to_string();
        self.selected = 0;
    }

    /// Takes in what the matcher has done, waiting for it at most [`MATCH_WAIT_MS`]; `true`
    /// while it is still at work.
    pub fn tick(&mut self) -> bool {
        self.tick_within(MATCH_WAIT_MS)
    }

    /// [`tick`](Self::tick), waiting at most `wait_ms`.
    pub fn tick_within(&mut self, wait_ms: u64) -> bool {
        let status = self.matcher.tick(wait_ms);
        self.selected = self.selected.min(self.matches().saturating_sub(1));
        status.running
    }

    /// Whether the files are still being listed.
    pub fn is_listing(&self) -> bool {
        self.listing.running.load(Ordering::SeqCst)
    }

    fn matches(&self) -> usize {
        self.matcher.snapshot().matched_item_count() as usize
    }

    /// Moves the selection one row down (or up), wrapping around.
    pub fn move_selection(&mut self, down: bool) {
        let n = self.matches();
        if n > 0 {
            self.selected = if down {
                (self.selected + 1) % n
            } else {
                (self.selected + n - 1) % n
            };
        }
    }

    /// The path on the selected row.
    pub fn selected_path(&self) -> Option<String> {
        let index = u32::try_from(self.selected).ok()?;
        let item = self.matcher.snapshot().get_matched_item(index)?;
        Some(item.data.to_string())
    }

    /// Rows the finder needs: its title and up to [`MAX_ROWS`] files (one row when none).
    pub fn height(&self) -> u16 {
        let rows = self.matches().clamp(1, MAX_ROWS);
        u16::try_from(rows + 1).unwrap_or(2)
    }

    /// Draws the finder into `area`.
    pub fn render(&mut self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 {
            return;
        }
        Clear.render(area, buf);
        let dim = theme::dim();
        let snapshot = self.matcher.snapshot();
        let total = snapshot.item_count();
        let matched = snapshot.matched_item_count();
        let count = if self.is_listing() {
            format!("listing… {}", humanize::count(u64::from(total)))
        } else if self.query.is_empty() {
            format!("{} files", humanize::count(u64::from(total)))
        } else {
            format!(
                "{} {} of {} files",
                humanize::count(u64::from(matched)),
                if matched == 1 { "match" } else { "matches" },
                humanize::count(u64::from(total))
            )
        };
        let title = Line::from(vec![
            Span::styled(" Files ", Style::new().bold()),
            Span::styled("↑↓ move · tab insert · esc close  ", dim),
            Span::styled(count, dim),
        ]);
        draw_line(buf, area.x, area.y, &title, area.width);
        if area.height < 2 {
            return;
        }
        if matched == 0 {
            let empty = if self.is_listing() {
                "listing the project's files…"
            } else {
                "no matching files"
            };
            let line = Line::styled(format!("   {empty}"), dim);
            draw_line(buf, area.x, area.y + 1, &line, area.width);
            return;
        }
        let visible = usize::from(area.height.saturating_sub(1));
        let first = (self.selected + 1).saturating_sub(visible);
        let width = usize::from(area.width.saturating_sub(3));
        let mut indices = Vec::new();
        let pattern = snapshot.pattern().column_pattern(0);
        let end = u32::try_from(first + visible)
            .unwrap_or(u32::MAX)
            .min(matched);
        let start = u32::try_from(first).unwrap_or(0).min(end);
        for (row, item) in snapshot.matched_items(start..end).enumerate() {
            indices.clear();
            pattern.indices(
                item.matcher_columns[0].slice(..),
                &mut self.highlighter,
                &mut indices,
            );
            indices.sort_unstable();
            indices.dedup();
            let selected = first + row == self.selected;
            let line = path_line(item.data, &indices, width, selected);
            let y = area.y + 1 + u16::try_from(row).unwrap_or(0);
            draw_line(buf, area.x, y, &line, area.width);
        }
    }
}

/// Hands a path to the matcher unless it is there already.
fn add(injector: &nucleo::Injector<Arc<str>>, known: &mut HashSet<Arc<str>>, path: Arc<str>) {
    // Listing again adds files; the bound holds for all of them together.
    if known.len() < mentions::MAX_LISTED_FILES && known.insert(path.clone()) {
        injector.push(path, |path, columns| {
            columns[0] = Utf32String::from(path.as_ref());
        });
    }
}

fn depth(path: &str) -> usize {
    path.bytes().filter(|&b| b == b'/').count()
}

/// One row: the path, its matched characters marked, cut at the start when too wide so the
/// file's name stays in view.
fn path_line(path: &str, matched: &[u32], width: usize, selected: bool) -> Line<'static> {
    let chars: Vec<char> = path.chars().collect();
    let widths: Vec<usize> = chars.iter().map(|c| c.width().unwrap_or(0)).collect();
    let mut skip = 0;
    let mut total: usize = widths.iter().sum();
    if total > width {
        // Room for the "…" that marks the cut.
        while skip < chars.len() && total + 1 > width {
            total -= widths[skip];
            skip += 1;
        }
    }
    let base = if selected {
        theme::accent().bold()
    } else {
        Style::new()
    };
    let hit = base.patch(theme::accent()).bold();
    let mut spans = vec![Span::styled(if selected { " › " } else { "   " }, base)];
    if skip > 0 {
        spans.push(Span::styled("…", theme::dim()));
    }
    let mut run = String::new();
    let mut run_hit = false;
    for (i, c) in chars.iter().enumerate().skip(skip) {
        let is_hit = u32::try_from(i).is_ok_and(|i| matched.binary_search(&i).is_ok());
        if is_hit != run_hit && !run.is_empty() {
            let style = if run_hit { hit } else { base };
            spans.push(Span::styled(std::mem::take(&mut run), style));
        }
        run_hit = is_hit;
        run.push(*c);
    }
    if !run.is_empty() {
        spans.push(Span::styled(run, if run_hit { hit } else { base }));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settled(finder: &mut FileFinder) {
        while finder.tick() {}
    }

    #[test]
    fn matches_rank_the_closest_path_first() {
        let mut finder = FileFinder::with_files([
            "README.md",
            "src/main.rs",
            "src/tui/mod.rs",
            "src/tui/bottom_pane/composer.rs",
        ]);
        finder.set_query("comp");
        settled(&mut finder);
        assert_eq!(
            finder.selected_path().as_deref(),
            Some("src/tui/bottom_pane/composer.rs")
        );
        finder.set_query("srcmain");
        settled(&mut finder);
        assert_eq!(finder.selected_path().as_deref(), Some("src/main.rs"));
        assert_eq!(finder.matches(), 1);
        finder.set_query("zzz");
        settled(&mut finder);
        assert_eq!(finder.selected_path(), None);
    }

    #[test]
    fn a_long_path_keeps_its_file_name_in_view() {
        let line = path_line("a/very/long/folder/name.rs", &[19, 20], 12, false);
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "   …der/name.rs");
    }
}
