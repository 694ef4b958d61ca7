//! The bottom of the screen: the composer, always there, and a stack of views over it (an
//! approval, a picker). A key goes to the top view; with none, to the slash-command popup when
//! the composer holds a command; then the app's own keys; then the composer. So the precedence
//! is written here once, for keys and for drawing alike. (The `/connect` dialog covers the
//! whole screen and comes before all of this, in the app.)
//!
//! Its other files:
//! - `approval.rs`: the approval view.
//! - `composer.rs`: the prompt editor, and `composer/`: its Vim mode.
//! - `file_finder.rs`: the `@` file finder.
//! - `picker.rs`: a list to pick from, drawn above the composer.
//! - `slash.rs`: slash commands and the completion list shown while one is typed.

pub mod approval;
pub mod composer;
pub mod file_finder;
pub mod picker;
pub mod slash;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};

use super::theme;
use crate::protocol::ApprovalDecision;
use crate::tui::wrap::draw_line;
use approval::{ApprovalView, TYPING_PAUSE};
use composer::{Composer, ComposerAction};
use file_finder::FileFinder;
use picker::{Picker, PickerAction};
use slash::SlashCommand;

/// The composer grows up to this many rows, then scrolls.
const MAX_COMPOSER_ROWS: u16 = 8;
// Ctrl+J works in every terminal and in tmux, where Shift+Enter arrives as a plain Enter.
const PLACEHOLDER: &str = "Ask anything · / for commands · ctrl+j for a new line";

/// A surface of the client the person sets up in a picker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `/statusline`: the status line's items, each on or off.
    StatusLine,
    /// `/title`: the window title's items, each on or off.
    Title,
    /// `/theme`: the syntax theme, previewed as the cursor moves.
    Theme,
}

impl PickerKind {
    /// Whether the row under the cursor is shown live, before Enter (`/theme`).
    pub fn previews(self) -> bool {
        self == Self::Surface(Surface::Theme)
    }
}

/// What a picker picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickerKind {
    Model,
    /// The reasoning effort, offered once a model is chosen.
    Effort,
    Approval,
    Resume,
    /// Ctrl+R: earlier prompts matching what is typed in the composer.
    History,
    /// Esc Esc: the prompts sent, to go back to before one.
    Rewind,
    /// After going back: undo the file changes made from there on, or keep them.
    UndoFiles,
    /// The first start in a folder: trust it or not.
    Trust,
    /// `/review` with nothing after it: what to review.
    Review,
    /// `/review`'s commit, from the log.
    ReviewCommit,
    /// `/review`'s base branch.
    ReviewBranch,
    /// A plan turn proposed a plan: implement it, or go on planning.
    ImplementPlan,
    /// One of the model's questions (`request_user_input`).
    Question,
    /// Ctrl+C while a turn runs: cancel it, leave it running, or stop it and leave.
    StillRunning,
    /// `/hooks`, or hooks that wait for trust at the start.
    Hooks,
    /// A trusted project's settings that wait for the person's allowance, at the start.
    ProjectSettings,
    /// `/statusline`, `/title`, `/theme`: what one of the client's surfaces shows.
    Surface(Surface),
    /// `/export`: to a file or the clipboard.
    Export,
    /// `/delete`: for good, or not.
    ConfirmDelete,
    /// `/presets`: the saved prompts.
    Presets,
    /// `/account`: the logins kept, to switch which one requests use.
    Accounts,
    /// `/keymap`: the actions and their keys.
    Keymap,
    /// `/keymap`: what to do with the action chosen.
    KeymapEdit,
    /// `/keymap`: waiting for a key press (or naming each, `/keymap debug`).
    KeymapKey,
}

/// A view over the composer.
#[derive(Debug)]
enum View {
    Approval(ApprovalView),
    Picker(PickerKind, Picker),
}

/// A request of the person's, as a value: a slash command and what was typed after it, or a
/// picker's choice. The app carries each out in one place (`tui/commands.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A slash command and what was typed after it (maybe empty).
    Slash(SlashCommand, String),
    /// A choice in a picker: which picker, and the index and label chosen.
    Picked {
        kind: PickerKind,
        index: usize,
        label: String,
    },
    /// The cursor of a picker that shows its rows live (`/theme`) is on this row; `None`: the
    /// picker closed without a choice.
    Previewed {
        kind: PickerKind,
        index: Option<usize>,
    },
}

/// What a key did in the bottom pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOutcome {
    /// Used, nothing more to do.
    Consumed,
    /// Not the pane's: the app's own keys (esc interrupts, scrolling, details).
    Ignored,
    /// The composer sent a prompt (or a command line, for the app to read).
    Submit(String),
    /// A command chosen in the slash popup, or a picker's choice.
    Command(Command),
    /// The answer to an approval request.
    Decided { id: u64, decision: ApprovalDecision },
    /// Tab while an answer runs: the composer's text, to send when the answer ends.
    Queue(String),
}

/// The composer and the views stacked over it.
#[derive(Debug)]
pub struct BottomPane {
    composer: Composer,
    views: Vec<View>,
    /// The highlighted row of the slash popup.
    slash_selected: usize,
    /// The custom prompts the slash popup offers beside kelp's commands.
    pub prompts: Vec<crate::protocol::CustomPrompt>,
    /// Whether an answer runs, so Tab queues the composer's text behind it.
    pub answer_running: bool,
    /// The `@` file finder, made when a mention is first typed.
    files: Option<FileFinder>,
    /// Where the finder's files are listed from.
    project_dir: Option<std::path::PathBuf>,
    /// The start of the mention whose finder Esc closed: it stays closed for that word.
    mention_dismissed: Option<usize>,
    /// The mention the finder last followed: where its `@` is, and its query.
    followed: Option<(usize, String)>,
    /// When text was last pasted: keys right behind a paste (an early end-of-paste marker lets
    /// a paste type them) neither answer a question nor send the prompt.
    pasted_at: Option<std::time::Instant>,
    /// When the keys typed without a pause of [`TYPING_PAUSE`] began, and when the last came:
    /// a burst under way as a question opens is meant for the composer.
    burst: Option<(std::time::Instant, std::time::Instant)>,
}

/// How long after a paste keys are held to be part of it.
const AFTER_PASTE: std::time::Duration = std::time::Duration::from_millis(150);

impl Default for BottomPane {
    fn default() -> Self {
        Self {
            composer: Composer::new(),
            views: Vec::new(),
            slash_selected: 0,
            prompts: Vec::new(),
            answer_running: false,
            files: None,
            project_dir: None,
            mention_dismissed: None,
            followed: None,
            pasted_at: None,
            burst: None,
        }
    }
}

impl BottomPane {
    /// The pane of a client working in `project_dir`: `@` finds its files.
    pub fn in_project(project_dir: std::path::PathBuf) -> Self {
        Self {
            project_dir: Some(project_dir),
            ..Self::default()
        }
    }

    /// Uses `finder` for `@` instead of listing a folder (for tests and benches).
    pub fn with_file_finder(mut self, finder: FileFinder) -> Self {
        self.files = Some(finder);
        self
    }

    /// The mention being typed, when its finder is showing: where its `@` is, and the query.
    fn mention(&self) -> Option<(usize, &str)> {
        if !self.views.is_empty() {
            return None;
        }
        let (start, query) = self.composer.mention_at_cursor()?;
        (self.mention_dismissed != Some(start)).then_some((start, query))
    }

    /// Whether the file finder is in view, so its results are worth a frame.
    pub fn finding_files(&self) -> bool {
        self.files.is_some() && self.mention().is_some()
    }

    /// The finder follows the mention at the composer's cursor after every edit (see
    /// [`Self::edit`]); nothing is done while the mention stays the same.
    fn follow_mention(&mut self) {
        let current = self
            .composer
            .mention_at_cursor()
            .map(|(start, query)| (start, query.to_string()));
        if current == self.followed {
            return;
        }
        let previous = std::mem::replace(&mut self.followed, current.clone());
        let Some((start, query)) = current else {
            self.mention_dismissed = None;
            return;
        };
        if self.mention_dismissed.is_some_and(|at| at != start) {
            self.mention_dismissed = None;
        }
        if self.mention_dismissed.is_some() {
            return;
        }
        let created = self.files.is_none();
        if created {
            let Some(root) = self.project_dir.clone() else {
                return;
            };
            self.files = Some(FileFinder::new(root));
        }
        if let Some(files) = &mut self.files {
            // A new `@` word lists the files again, for those made since.
            if created || previous.is_none_or(|(at, _)| at != start) {
                files.open();
            }
            files.set_query(&query);
        }
    }

    /// The finder's keys while it shows: ↑↓ choose, Tab or Enter inserts the highlighted path
    /// (as Codex's), Esc closes it. With no files matching, the keys are the composer's, so
    /// "thanks @alice⏎" is sent as typed when no file matches `alice`.
    fn mention_key(&mut self, key: KeyEvent) -> Option<KeyOutcome> {
        let (start, _) = self.mention()?;
        let files = self.files.as_mut()?;
        let path = files.selected_path();
        match key.code {
            KeyCode::Up | KeyCode::Down if path.is_some() => {
                files.move_selection(key.code == KeyCode::Down);
            }
            KeyCode::Tab | KeyCode::Enter if key.modifiers.is_empty() => {
                let path = path?;
                self.edit(|composer| composer.complete_mention(start, &path));
            }
            KeyCode::Esc => self.mention_dismissed = Some(start),
            _ => return None,
        }
        Some(KeyOutcome::Consumed)
    }
    /// The composer, for the app to read.
    pub fn composer(&self) -> &Composer {
        &self.composer
    }

    /// Replaces the composer's text (a history pick, prompts taken back from the queue).
    pub fn set_text(&mut self, text: &str) {
        self.edit(|composer| composer.set_text(text));
    }

    /// Puts `older` prompts (oldest first) before the ones sent in this session.
    pub fn add_older_history(&mut self, older: Vec<String>) {
        self.composer.add_older_history(older);
    }

    /// `/vim`: Vim mode on (in normal mode) or off; whether it is on now.
    pub fn toggle_vim(&mut self) -> bool {
        self.composer.toggle_vim()
    }

    /// Vim mode on or off, as the config says the composer starts.
    pub fn set_vim(&mut self, on: bool) {
        self.composer.set_vim(on);
    }

    /// Every change to the composer's text goes through here, so the `@` finder follows it.
    fn edit<R>(&mut self, change: impl FnOnce(&mut Composer) -> R) -> R {
        let result = change(&mut self.composer);
        self.follow_mention();
        result
    }

    /// Whether a picker or an approval is open over the composer.
    pub fn has_view(&self) -> bool {
        !self.views.is_empty()
    }

    /// Whether nothing is open over an empty composer.
    pub fn is_idle(&self) -> bool {
        self.views.is_empty() && self.composer.is_empty()
    }

    /// Opens a picker over whatever is there.
    pub fn open_picker(&mut self, kind: PickerKind, picker: Picker) {
        self.close_picker(kind);
        self.views.push(View::Picker(kind, picker));
    }

    /// The open picker of `kind`, to update its rows.
    pub fn picker_mut(&mut self, kind: PickerKind) -> Option<&mut Picker> {
        self.views.iter_mut().find_map(|view| match view {
            View::Picker(k, picker) if *k == kind => Some(picker),
            _ => None,
        })
    }

    /// Closes the picker of `kind`; `true` if one was open.
    pub fn close_picker(&mut self, kind: PickerKind) -> bool {
        let before = self.views.len();
        self.views
            .retain(|view| !matches!(view, View::Picker(k, _) if *k == kind));
        self.views.len() != before
    }

    /// Asks about approval request `id` for `subject`, over everything else.
    pub fn ask(&mut self, id: u64, subject: &crate::protocol::ApprovalSubject) {
        let view = ApprovalView::new(id, subject, self.project_dir.as_deref());
        self.views.push(View::Approval(view));
    }

    /// Whether the picker of `kind` is the top view, the one keys go to.
    pub fn on_top(&self, kind: PickerKind) -> bool {
        matches!(self.views.last(), Some(View::Picker(k, _)) if *k == kind)
    }

    /// The contexts of the person's keymap the keys go to now: the top view's, or the
    /// composer's.
    pub fn key_contexts(&self) -> &'static [&'static str] {
        use super::keymap::{APPROVING, COMPOSING, IN_LIST, TYPING};
        match self.views.last() {
            None => COMPOSING,
            Some(View::Approval(view)) if view.typing_reason() => TYPING,
            Some(View::Approval(_)) => APPROVING,
            Some(View::Picker(PickerKind::KeymapKey, _)) => TYPING,
            Some(View::Picker(..)) => IN_LIST,
        }
    }

    /// Whether an approval request waits for an answer.
    pub fn asking(&self) -> bool {
        self.views
            .iter()
            .any(|view| matches!(view, View::Approval(_)))
    }

    /// Drops the approval request `id`, withdrawn (what it asked about is gone); whether it
    /// asked about a host a command wanted to reach.
    pub fn drop_approval(&mut self, id: u64) -> bool {
        let host = self.views.iter().any(
            |view| matches!(view, View::Approval(asked) if asked.id() == id && asked.is_host()),
        );
        self.views
            .retain(|view| !matches!(view, View::Approval(asked) if asked.id() == id));
        host
    }

    /// Drops an approval request nobody will answer any more (its turn ended).
    pub fn drop_approvals(&mut self) {
        self.views.retain(|view| !matches!(view, View::Approval(_)));
    }

    /// `ctrl+c` in the pane: closes the top picker (a previewing one says it closed without a
    /// choice, as Esc does), else clears the composer; `Ignored` when there was nothing to do.
    pub fn cancel(&mut self) -> KeyOutcome {
        if let Some(View::Picker(kind, _)) = self.views.last() {
            let kind = *kind;
            self.views.pop();
            if kind.previews() {
                return KeyOutcome::Command(Command::Previewed { kind, index: None });
            }
            return KeyOutcome::Consumed;
        }
        if !self.composer.is_empty() {
            self.edit(Composer::discard);
            return KeyOutcome::Consumed;
        }
        KeyOutcome::Ignored
    }

    /// Pasted text: into an approval's reason field, else the composer.
    pub fn paste(&mut self, text: &str) {
        self.pasted_at = Some(std::time::Instant::now());
        match self.views.last_mut() {
            Some(View::Approval(approval)) => approval.paste(text),
            Some(View::Picker(..)) => {}
            None => self.edit(|composer| composer.paste(text)),
        }
    }

    /// Routes a key by the precedence in the module docs.
    pub fn handle_key(&mut self, key: KeyEvent) -> KeyOutcome {
        let after_paste = self.pasted_at.is_some_and(|at| at.elapsed() < AFTER_PASTE);
        // Only keys that could answer or send are held back; scrolling and Ctrl+O still work.
        let answers = matches!(key.code, KeyCode::Char(_) | KeyCode::Enter | KeyCode::Esc)
            && !key.modifiers.contains(KeyModifiers::CONTROL);
        let now = std::time::Instant::now();
        if answers {
            let began = match self.burst {
                Some((began, last)) if now.duration_since(last) < TYPING_PAUSE => began,
                _ => now,
            };
            self.burst = Some((began, now));
        }
        // A question takes no answer until it has been on screen a while, nor from a burst of
        // typing that was under way when it opened: someone typing a sentence at 80 ms a key
        // is still typing long after it arms, and the `a` of "also" would approve.
        let typed_ahead = |approval: &ApprovalView| {
            self.burst
                .zip(approval.drawn_at())
                .is_some_and(|((began, _), drawn)| began < drawn)
        };
        let unarmed = matches!(
            self.views.last(),
            Some(View::Approval(a)) if !a.armed() || (answers && typed_ahead(a))
        );
        if (after_paste || unarmed) && answers {
            // Typed ahead of the question, or carried in by a paste: meant for the composer,
            // never an answer. Enter sends nothing then either.
            if key.code == KeyCode::Enter {
                return KeyOutcome::Consumed;
            }
            if unarmed || matches!(self.views.last(), Some(View::Approval(_))) {
                self.edit(|composer| composer.handle_key(key));
                return KeyOutcome::Consumed;
            }
        }
        if let Some(outcome) = self.view_key(key) {
            return outcome;
        }
        // In Vim's insert mode, or with an operator pending, Esc is an edit, not a cancel.
        if key.code == KeyCode::Esc && self.composer.vim_takes_esc() {
            self.edit(|composer| composer.handle_key(key));
            return KeyOutcome::Consumed;
        }
        if let Some(outcome) = self.slash_key(key) {
            return outcome;
        }
        if let Some(outcome) = self.mention_key(key) {
            return outcome;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc | KeyCode::PageUp | KeyCode::PageDown | KeyCode::Home | KeyCode::End => {
                return KeyOutcome::Ignored;
            }
            // As Codex: Enter adds to the running answer, Tab queues for after it.
            KeyCode::Tab if key.modifiers.is_empty() && self.answer_running => {
                return match self.edit(Composer::take_sent) {
                    Some(text) => KeyOutcome::Queue(text),
                    None => KeyOutcome::Consumed,
                };
            }
            // Ctrl+O shows a long paste whole; with none, the transcript's details.
            KeyCode::Char('o') if ctrl => {
                return match self.edit(Composer::expand_pastes) {
                    true => KeyOutcome::Consumed,
                    false => KeyOutcome::Ignored,
                };
            }
            _ => {}
        }
        let before = self.composer.text().len();
        match self.edit(|composer| composer.handle_key(key)) {
            ComposerAction::Submit(text) => KeyOutcome::Submit(text),
            ComposerAction::Changed => {
                if self.composer.text().len() != before {
                    self.slash_selected = 0;
                }
                KeyOutcome::Consumed
            }
            ComposerAction::Ignored => KeyOutcome::Ignored,
        }
    }

    /// The key for the view open over the composer (a question, a picker), if one is.
    fn view_key(&mut self, key: KeyEvent) -> Option<KeyOutcome> {
        let view = self.views.last_mut()?;
        let (outcome, close) = match view {
            View::Approval(approval) => {
                let outcome = approval.handle_key(key);
                let close = matches!(outcome, KeyOutcome::Decided { .. });
                (outcome, close)
            }
            View::Picker(kind, picker) => match picker.handle_key(key) {
                action @ (PickerAction::Closed | PickerAction::Moved) if kind.previews() => {
                    let closed = matches!(action, PickerAction::Closed);
                    // The row among all of them: a search may show a few.
                    let index = (!closed).then(|| picker.selected_row()).flatten();
                    let previewed = Command::Previewed { kind: *kind, index };
                    (KeyOutcome::Command(previewed), closed)
                }
                PickerAction::Chosen(index) => match picker.row(index) {
                    Some(item) => (
                        KeyOutcome::Command(Command::Picked {
                            kind: *kind,
                            index,
                            label: item.label.clone(),
                        }),
                        true,
                    ),
                    None => (KeyOutcome::Consumed, true),
                },
                // Esc in a list /review opened goes back to /review's choices.
                PickerAction::Closed
                    if matches!(kind, PickerKind::ReviewCommit | PickerKind::ReviewBranch) =>
                {
                    let back = Command::Slash(slash::SlashCommand::Review, String::new());
                    (KeyOutcome::Command(back), true)
                }
                PickerAction::Closed => (KeyOutcome::Consumed, true),
                // Typing while searching the history edits the query in the composer.
                PickerAction::Ignored if *kind == PickerKind::History => {
                    self.edit(|composer| composer.handle_key(key));
                    (KeyOutcome::Consumed, false)
                }
                PickerAction::Moved | PickerAction::Ignored => (KeyOutcome::Consumed, false),
            },
        };
        if close {
            self.views.pop();
        }
        Some(outcome)
    }

    /// The slash popup's keys, while the composer holds the start of a command.
    fn slash_key(&mut self, key: KeyEvent) -> Option<KeyOutcome> {
        let entries =
            slash::entries(self.composer.text(), &self.prompts).filter(|c| !c.is_empty())?;
        let n = entries.len();
        let selected = self.slash_selected.min(n - 1);
        let prompt = match entries[selected] {
            slash::Entry::Prompt(index) => self.prompts.get(index),
            slash::Entry::Command(_) => None,
        };
        match (key.code, entries[selected]) {
            (KeyCode::Up, _) => self.slash_selected = (selected + n - 1) % n,
            (KeyCode::Down, _) => self.slash_selected = (selected + 1) % n,
            (KeyCode::Tab, slash::Entry::Command(command)) => {
                let command = format!("/{}", command.name());
                self.edit(|composer| composer.set_text(&command));
            }
            (KeyCode::Enter, slash::Entry::Command(command)) if key.modifiers.is_empty() => {
                self.edit(Composer::clear);
                self.slash_selected = 0;
                return Some(KeyOutcome::Command(Command::Slash(command, String::new())));
            }
            // A prompt that takes arguments waits for them; one that takes none is sent.
            (KeyCode::Tab | KeyCode::Enter, slash::Entry::Prompt(_)) => {
                let prompt = prompt?;
                let line = format!("/{}", slash::command_for(prompt));
                self.slash_selected = 0;
                if key.code == KeyCode::Enter && !prompt.takes_arguments() {
                    self.edit(Composer::clear);
                    return Some(KeyOutcome::Submit(line));
                }
                self.edit(|composer| composer.set_text(&format!("{line} ")));
            }
            (KeyCode::Esc, _) => self.edit(Composer::clear),
            _ => return None,
        }
        Some(KeyOutcome::Consumed)
    }

    /// Rows the pane needs at `width`, a rule above it included, within `height`.
    pub fn height(&mut self, width: u16, height: u16) -> u16 {
        let inner = match self.views.last() {
            Some(View::Approval(approval)) => approval.height(),
            _ => {
                let max = MAX_COMPOSER_ROWS.min(height / 3).max(1);
                self.composer.desired_height(width.saturating_sub(2), max)
            }
        };
        (inner + 1).min(height.saturating_sub(1).max(1))
    }

    /// Draws the pane in `area` (its rule on the first row) and a picker or the slash popup
    /// just above it, no higher than `room` rows; returns where the cursor goes.
    pub fn render(&mut self, area: Rect, room: u16, buf: &mut Buffer) -> Option<Position> {
        let rule = ratatui::text::Line::styled("─".repeat(usize::from(area.width)), theme::dim());
        draw_line(buf, area.x, area.y, &rule, area.width);
        // Vim mode says which of its modes the keys are in, on the rule's right.
        if let Some(label) = self.composer.vim_label() {
            let tag = format!(" {label} ");
            let width = u16::try_from(tag.len()).unwrap_or(0).min(area.width);
            let x = area.x + area.width.saturating_sub(width + 2);
            let tag = ratatui::text::Line::styled(tag, theme::accent().bold());
            draw_line(buf, x, area.y, &tag, width);
        }
        let pane = Rect::new(
            area.x + 1,
            area.y + 1,
            area.width.saturating_sub(2),
            area.height.saturating_sub(1),
        );
        if let Some(View::Approval(approval)) = self.views.last() {
            approval.render(pane, buf);
            return None;
        }
        let cursor = self.composer.render(pane, buf, PLACEHOLDER);
        if self.views.is_empty()
            && self.mention().is_some()
            && let Some(files) = &mut self.files
        {
            // Still at work: the matcher wakes the loop for another frame when it is done.
            let _ = files.tick();
            files.render(popup_above(area, files.height(), room), buf);
            return Some(cursor);
        }
        let slash_popup;
        let popup = match self.views.last() {
            Some(View::Picker(_, picker)) => Some(picker),
            _ => {
                slash_popup = slash::entries(self.composer.text(), &self.prompts)
                    .filter(|c| !c.is_empty())
                    .map(|entries| {
                        let items = slash::items(&entries, &self.prompts);
                        let mut p = Picker::new("Commands", items, "");
                        p.selected = self.slash_selected.min(entries.len() - 1);
                        p
                    });
                slash_popup.as_ref()
            }
        };
        if let Some(picker) = popup {
            picker.render(popup_above(area, picker.height(), room), buf);
        }
        Some(cursor)
    }
}

/// Where a popup of `height` rows goes: just above the pane's `area`, no higher than `room`.
fn popup_above(area: Rect, height: u16, room: u16) -> Rect {
    let height = height.min(room);
    Rect::new(
        area.x + 1,
        area.y - height,
        area.width.saturating_sub(2),
        height,
    )
}
