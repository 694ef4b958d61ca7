//! The application state and everything that changes it: terminal input and core events come
//! in, `Op`s go out, and drawing is a function of the state.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{
    Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind,
};
use ratatui::Frame;
use ratatui::layout::Rect;

use ratatui::text::{Line, Span};
use tokio::sync::mpsc::UnboundedSender;

use super::bottom_pane::file_finder::FileFinder;
use super::bottom_pane::slash::{self, SlashCommand};
use super::bottom_pane::{BottomPane, Command, KeyOutcome, PickerKind};
use super::call_lines::display_path;
use super::chat::Chat;
use super::connect::DialogAction;
use super::history_cell::CellKind;
use super::overlay::Overlay;
use super::session_state::SessionState;
use super::status::Status;
use super::status_command::StatusCommand;
use super::streaming::StreamingMarkdown;
use super::turn_state::TurnState;
use crate::protocol::TokenUsage;
use crate::protocol::{Op, Submission};
use crate::tui::theme;
use crate::tui::wrap::draw_line;

pub use super::initial_state::InitialState;
pub use super::session_state::ExitSummary;

/// How often the spinner moves while a turn runs.
pub(super) const SPINNER_INTERVAL: Duration = Duration::from_millis(100);
pub(super) const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// The whole UI state.
#[derive(Debug)]
pub struct App {
    pub(super) ops: UnboundedSender<Op>,
    /// What the status line and `/status` show.
    pub(super) status: Status,
    /// The transcript and the turn streaming into it.
    pub(super) chat: Chat,
    /// The composer and the views over it.
    pub(super) pane: BottomPane,
    /// What covers the chat and takes the keys (the `/connect` dialog), when open.
    pub(super) overlay: Option<Overlay>,
    pub(super) models: Vec<String>,
    /// The repository's commits and branches, for `/review`'s pickers.
    pub(super) revisions: crate::protocol::Revisions,
    /// Images that go with the next prompt (`kelp -i FILE`).
    pub(super) pending_images: Vec<PathBuf>,
    /// The turn running now, and what waits behind it.
    pub(super) turn: TurnState,
    /// The conversation shown, and the saved ones `/resume` lists.
    pub(super) session: SessionState,
    pub(super) headless: bool,
    pub(super) quit_armed: bool,
    pub(super) should_quit: bool,
    /// The command center's state: the agent shown, the team's Alt slots.
    pub(super) agents: super::agents_center::Agents,
    /// Why the client opens again as it quits: in the worktree `/worktree` made, or with the
    /// project's settings allowed.
    pub(super) reopen: Option<super::session_state::Ended>,
    pub(super) clipboard: Vec<(String, String)>,
    pub(super) redraw: bool,
    pub(super) frozen_time: Option<SystemTime>,
    pub(super) awaiting_highlighter: bool,
    /// The person chose mouse capture (`mouse = true`).
    pub(super) mouse_capture: bool,
    /// Ctrl+Z was pressed: the loop suspends the process.
    pub(super) suspend: bool,
    /// Ctrl+G was pressed: the loop hands the draft to the person's editor.
    pub(super) edit_requested: bool,
    /// The prompts the Ctrl+R search shows, newest first.
    pub(super) history_hits: Vec<String>,
    /// When Esc was last pressed with nothing to cancel (the first of Esc Esc).
    pub(super) esc_at: Option<Instant>,
    /// The person's keymap, and `/keymap`'s changing of it.
    pub(super) keys: super::keymap::Keys,
}

impl App {
    /// A new UI state; opens `/connect` by itself when there is no login.
    pub fn new(ops: UnboundedSender<Op>, initial: InitialState) -> Self {
        let chosen = StatusCommand::new(&initial.surfaces);
        let mut app = Self {
            ops,
            chat: Chat::default(),
            pane: BottomPane::in_project(initial.project_dir.clone()),
            overlay: None,
            status: Status {
                provider: initial.provider,
                server: initial.server,
                settings_from: initial.settings_from,
                auth: initial.auth,
                model: initial.model,
                effort: initial.effort,
                project_dir: initial.project_dir,
                approval_mode: initial.approval_mode,
                sandbox: initial.sandbox,
                usage: TokenUsage::default(),
                rate_limits: None,
                instructions: None,
                instructions_in_history: false,
                mcp: Vec::new(),
                config_file: initial.config_file,
                state_dir: initial.state_dir,
                hint: None,
                context: None,
                command_rules: Vec::new(),
                goal: None,
                mode: Default::default(),
                background_terminals: 0,
                chosen,
                thread: (None, None),
                service_tier: initial.service_tier,
            },
            models: Vec::new(),
            revisions: Default::default(),
            pending_images: initial.images,
            turn: TurnState::default(),
            session: SessionState::default(),
            headless: initial.headless,
            quit_armed: false,
            should_quit: false,
            reopen: None,
            agents: Default::default(),
            clipboard: Vec::new(),
            redraw: true,
            frozen_time: None,
            awaiting_highlighter: false,
            mouse_capture: initial.mouse,
            suspend: false,
            edit_requested: false,
            history_hits: Vec::new(),
            esc_at: None,
            keys: super::keymap::Keys::new(super::keymap::Keymap::new(
                initial.surfaces.keymap.clone().unwrap_or_default(),
            )),
        };
        // Another provider takes no login of kelp's.
        let own_key = app.status.provider.as_ref().is_some_and(|p| p.own_key);
        if app.status.auth.is_none() && !own_key && app.status.server.is_none() {
            app.open_connect();
        }
        if let Some(warning) = initial.warning {
            if let Some(Overlay::Connect(dialog)) = app.overlay.take() {
                app.overlay = Some(Overlay::Connect(dialog.with_problem(&warning)));
            }
            app.push(CellKind::Error(warning));
        }
        app.say_at_start(initial.notice, initial.resuming);
        if initial.open_agents && app.overlay.is_none() {
            app.open_agents(false);
        }
        if initial.pick_session {
            app.session.fork_picked = initial.fork_picked;
            app.perform(Command::Slash(SlashCommand::Resume, String::new()));
        }
        app.say_pending_images();
        let asks_trust = initial.ask_trust.is_some() || !initial.project_waiting.is_empty();
        app.session.came_from = initial.came_from;
        if let Some(root) = initial.ask_trust {
            app.ask_trust(&root);
        } else if !initial.project_waiting.is_empty() {
            app.ask_project_settings(initial.project_waiting);
        }
        if let Some(prompt) = initial.prompt.filter(|p| !p.trim().is_empty()) {
            if app.status.auth.is_some() && !initial.pick_session && !asks_trust {
                app.submit(prompt);
            } else {
                app.pane.set_text(&prompt);
            }
        }
        app
    }

    /// The notice the client opens with: said now, or after the conversation it resumes,
    /// which drawn again would take it off the screen.
    fn say_at_start(&mut self, notice: Option<String>, resuming: bool) {
        match notice {
            Some(notice) if resuming => self.session.start_notice = Some(notice),
            Some(notice) => self.notice(notice),
            None => {}
        }
    }

    /// How to come back to the conversation after leaving, when it was saved.
    pub fn exit_summary(&self) -> Option<ExitSummary> {
        let id = self.session.to_resume()?;
        Some(ExitSummary {
            id,
            usage: self.status.usage,
            server: self.status.server.clone(),
            left_running: self.session.left_running,
        })
    }

    /// Fixes the clock (countdowns, elapsed times) so tests draw the same frame every time.
    pub fn freeze_time(&mut self, now: SystemTime) {
        self.frozen_time = Some(now);
    }

    pub(super) fn now(&self) -> SystemTime {
        self.frozen_time.unwrap_or_else(SystemTime::now)
    }

    /// Whether the app wants to end.
    pub fn should_quit(&self) -> bool {
        self.should_quit
    }

    /// Whether something visible changed since the last frame; clears the flag.
    pub fn take_redraw(&mut self) -> bool {
        std::mem::take(&mut self.redraw)
    }

    /// Asks for a frame.
    pub fn request_redraw(&mut self) {
        self.redraw = true;
    }

    /// Whether Ctrl+Z asked to suspend (once).
    pub fn take_suspend(&mut self) -> bool {
        std::mem::take(&mut self.suspend)
    }

    /// Back from a suspension: the whole screen is drawn again.
    pub fn resumed(&mut self) {
        self.redraw = true;
    }

    /// Texts to put on the clipboard, each with the words that name it.
    pub fn take_clipboard(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.clipboard)
    }

    /// A copy was made: the status line says how, and no more than that.
    pub fn copied(&mut self, label: &str, how: super::clipboard::Copied) {
        self.status.hint = Some(how.message(label));
        self.redraw = true;
    }

    /// Whether mouse reporting should be on: only when the person chose it (`mouse = true`),
    /// and never while the connect dialog shows, so its URL and code can be selected.
    pub fn wants_mouse(&self) -> bool {
        self.mouse_capture && self.overlay.is_none()
    }

    /// Uses `finder` for `@` instead of listing the project's folder (tests, benches).
    pub fn use_file_finder(&mut self, finder: FileFinder) {
        self.pane = std::mem::take(&mut self.pane).with_file_finder(finder);
    }

    /// Whether the `@` file finder shows, so its matcher's results want a frame.
    pub fn finding_files(&self) -> bool {
        self.pane.finding_files()
    }

    /// The file finder has news: draw it.
    pub fn on_files_ready(&mut self) {
        self.redraw = true;
    }

    /// Whether code blocks wait for the highlighter to load.
    pub fn awaiting_highlighter(&self) -> bool {
        self.awaiting_highlighter
    }

    /// The highlighter loaded: draw the code blocks that were drawn plain again, in colour.
    pub fn on_highlighter_ready(&mut self) {
        self.awaiting_highlighter = false;
        self.rerender_answers(StreamingMarkdown::has_plain_code);
    }

    /// The terminal said its background and it is not the one the first frame assumed: the
    /// code blocks coloured for the other one are coloured again.
    pub fn on_background_changed(&mut self) {
        self.rerender_answers(StreamingMarkdown::has_coloured_code);
    }

    /// Renders again the answers `stale` picks.
    fn rerender_answers(&mut self, stale: fn(&StreamingMarkdown) -> bool) {
        for cell in self.chat.transcript.cells_mut() {
            if let CellKind::Assistant(md) = cell.kind()
                && stale(md)
                && let CellKind::Assistant(md) = cell.kind_mut()
            {
                md.rerender();
            }
        }
        self.redraw = true;
    }

    /// When the app next needs waking without input: the spinner while a turn runs, the
    /// countdown while the device code shows; `None` when idle.
    pub fn next_tick(&self, now: Instant) -> Option<Instant> {
        // The command center's list, and an agent shown, move while this turn waits on the
        // person: they are other agents' news.
        let agents = self.agents_tick();
        if let Some(clock) = self.turn.clock {
            // Waiting on the person, only the wait's seconds move.
            if clock.is_paused() {
                let into_second = clock.waited(now).subsec_nanos();
                let wait = Duration::from_secs(1) - Duration::from_nanos(u64::from(into_second));
                return Some(now + wait);
            }
            let elapsed = clock.elapsed(now).as_millis();
            let step = SPINNER_INTERVAL.as_millis();
            let next = (elapsed / step + 1) * step;
            let wait = u64::try_from(next - elapsed).unwrap_or(0);
            return Some(now + Duration::from_millis(wait));
        }
        if self.overlay.as_ref().is_some_and(Overlay::ticks) || agents {
            let since_epoch = self
                .now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            let to_next_second = Duration::from_secs(1)
                .saturating_sub(Duration::from_nanos(u64::from(since_epoch.subsec_nanos())));
            return Some(now + to_next_second);
        }
        None
    }

    /// A timer fired: something animated moved on.
    pub fn on_tick(&mut self) {
        self.redraw = true;
        self.refresh_agents(Instant::now());
    }

    pub(super) fn send(&self, op: Op) {
        // The core ends only after the UI; a closed channel means shutdown is under way.
        let _ = self.ops.send(op);
    }

    pub(super) fn push(&mut self, kind: CellKind) -> usize {
        self.chat.push(kind)
    }

    pub(super) fn notice(&mut self, text: impl Into<String>) {
        self.push(CellKind::Notice(text.into()));
    }

    // ---- terminal input ----

    /// Handles terminal events that arrived together. Without mouse capture the wheel comes as
    /// a burst of arrow keys (alternate scroll): two or more of the same arrow in one read
    /// scroll the transcript, one is a key press.
    pub fn handle_terminal_events(&mut self, events: Vec<TermEvent>) {
        let mut events = events.into_iter().peekable();
        while let Some(event) = events.next() {
            let scrolls = !self.mouse_capture && self.overlay.is_none() && !self.pane.has_view();
            let Some(up) = plain_arrow(&event).filter(|_| scrolls) else {
                self.handle_terminal_event(event);
                continue;
            };
            let mut run = 1;
            while events.next_if(|e| plain_arrow(e) == Some(up)).is_some() {
                run += 1;
            }
            if run == 1 {
                self.handle_terminal_event(event);
            } else if up {
                self.shown_chat().transcript.scroll_up(run);
                self.redraw = true;
            } else {
                self.shown_chat().transcript.scroll_down(run);
                self.redraw = true;
            }
        }
    }

    /// Handles a terminal event.
    pub fn handle_terminal_event(&mut self, event: TermEvent) {
        match event {
            TermEvent::Key(key) if key.kind != KeyEventKind::Release => self.handle_key(key),
            TermEvent::Paste(text) => self.handle_paste(&text),
            TermEvent::Mouse(mouse) => match mouse.kind {
                MouseEventKind::ScrollUp => {
                    self.shown_chat().transcript.scroll_up(3);
                    self.redraw = true;
                }
                MouseEventKind::ScrollDown => {
                    self.shown_chat().transcript.scroll_down(3);
                    self.redraw = true;
                }
                _ => {}
            },
            TermEvent::Resize(..) | TermEvent::FocusGained => self.redraw = true,
            _ => {}
        }
    }

    /// Handles pasted text (a bracketed paste).
    pub fn handle_paste(&mut self, text: &str) {
        self.redraw = true;
        if let Some(overlay) = &mut self.overlay {
            let action = overlay.on_paste(text);
            self.dialog_action(action);
            return;
        }
        if !self.pane.has_view() && self.attach_pasted_image(text) {
            return;
        }
        self.pane.paste(text);
    }

    /// Handles a key press.
    pub fn handle_key(&mut self, key: KeyEvent) {
        self.redraw = true;
        let Some(key) = self.through_keymap(key) else {
            return;
        };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if !(ctrl && key.code == KeyCode::Char('c')) {
            self.quit_armed = false;
        }
        self.status.hint = None;
        match key.code {
            KeyCode::Char('d') if ctrl => return self.quit(),
            KeyCode::Char('c') if ctrl => return self.ctrl_c(),
            _ => {}
        }
        if ctrl && key.code == KeyCode::Char('z') {
            self.suspend = true;
            return;
        }
        if ctrl && key.code == KeyCode::Char('g') && self.overlay.is_none() {
            self.edit_requested = true;
            return;
        }
        if self.agent_key(key) {
            return;
        }
        if let Some(overlay) = &mut self.overlay {
            let action = overlay.handle_key(key);
            self.dialog_action(action);
            return;
        }
        match key.code {
            KeyCode::Char('r') if ctrl => return self.search_history(),
            KeyCode::Char('v') if ctrl && !self.pane.has_view() => {
                return self.paste_clipboard_image();
            }
            _ => {}
        }
        if key.code == KeyCode::Up && key.modifiers.is_empty() && self.pane.is_idle() {
            if let Some(text) = self.turn.queued.pop() {
                self.pane.set_text(&text);
                return;
            }
            // A message waiting on the server comes out of its queue to edit, or to drop.
            if let Some((id, text)) = self.turn.server_queue.pop() {
                self.send(Op::TakeQueued(id));
                self.pane.set_text(&text);
                return;
            }
        }
        self.pane.answer_running = self.turn.running();
        let was_slash = self.pane.composer().text() == "/";
        let outcome = self.pane.handle_key(key);
        // The slash popup opens: a prompt file added since the start is offered too.
        if !was_slash && self.pane.composer().text() == "/" {
            self.send(Op::FindPrompts);
        }
        if self.pane.picker_mut(PickerKind::History).is_some() {
            self.search_history();
        }
        self.search_resume_list();
        // The model's question put away unanswered: the turn goes on without the answers.
        if self.turn.asked.is_some()
            && self.pane.picker_mut(PickerKind::Question).is_none()
            && !matches!(outcome, KeyOutcome::Command(_))
        {
            self.questions_dismissed();
        }
        match outcome {
            KeyOutcome::Consumed => {}
            KeyOutcome::Submit(text) => self.submit(text),
            KeyOutcome::Queue(text) => self.turn.queued.push(text),
            KeyOutcome::Command(command) => self.perform(command),
            KeyOutcome::Decided { id, decision } => {
                self.chat.approval_decided(decision.clone());
                self.send(Op::Approve { id, decision });
                if !self.pane.asking()
                    && let Some(clock) = &mut self.turn.clock
                {
                    clock.resume(Instant::now());
                }
            }
            KeyOutcome::Ignored => self.app_key(key),
        }
    }

    /// Copies `text` (what `label` names); the event loop makes the copy and reports how.
    pub(super) fn copy(&mut self, text: String, label: &str) {
        self.clipboard.push((text, label.to_string()));
    }

    /// Stops the answer; queued prompts go back to the composer rather than out unseen.
    pub(super) fn interrupt(&mut self) {
        self.chat.interrupting = true;
        self.send(Op::Interrupt);
        self.unqueue();
    }

    /// Puts every queued prompt back into the composer, after what is typed there.
    pub(super) fn unqueue(&mut self) {
        if self.turn.queued.is_empty() {
            return;
        }
        let mut parts: Vec<String> = Some(self.pane.composer().text().to_string())
            .filter(|t| !t.trim().is_empty())
            .into_iter()
            .collect();
        parts.append(&mut self.turn.queued);
        self.pane.set_text(&parts.join("\n"));
    }

    pub(super) fn quit(&mut self) {
        self.send(Op::Shutdown);
        self.should_quit = true;
    }

    fn dialog_action(&mut self, action: DialogAction) {
        match action {
            DialogAction::None => {}
            DialogAction::Op(op) => self.send(op),
            DialogAction::Copy { text, label } => self.copy(text, label),
            DialogAction::Close => self.overlay = None,
            DialogAction::Center(action) => self.center_action(action),
        }
    }

    pub(super) fn submit(&mut self, text: String) {
        let trimmed = text.trim();
        if let Some((command, argument)) = SlashCommand::parse_with_argument(trimmed) {
            self.perform(Command::Slash(command, argument.to_string()));
            return;
        }
        // A custom prompt goes as the prompt it makes, its arguments filled in.
        if let Some((prompt, arguments)) = slash::prompt_line(trimmed, &self.pane.prompts) {
            let expanded = prompt.expand(arguments);
            self.submit_prompt(expanded);
            return;
        }
        if trimmed.starts_with('/') && !trimmed.contains(char::is_whitespace) {
            match SlashCommand::parse(trimmed) {
                Some(command) => self.perform(Command::Slash(command, String::new())),
                None => self.unknown_command(trimmed),
            };
            return;
        }
        if let Some(command) = trimmed.strip_prefix('!').filter(|c| !c.trim().is_empty()) {
            let command = command.trim().to_string();
            self.run_own_command(command);
            return;
        }
        self.submit_prompt(text);
    }

    /// Sends `text` to the model: into the running turn when there is one, else as a new one.
    pub(super) fn submit_prompt(&mut self, text: String) {
        if self.side_open() {
            return self.ask_side(text);
        }
        if self.turn.running() {
            // Steering: the model reads it with its next request in this turn (Tab queues
            // a prompt for after it instead).
            self.push(CellKind::User(text.clone()));
            self.chat.transcript.scroll_to_bottom();
            self.send(Op::Steer(Submission::text(text)));
            return;
        }
        self.push(CellKind::User(text.clone()));
        self.chat.transcript.scroll_to_bottom();
        self.session.saved = true;
        self.session.sent_prompt = Some(text.clone());
        let images = std::mem::take(&mut self.pending_images)
            .into_iter()
            .map(crate::protocol::ImageInput::File)
            .collect();
        self.send(Op::Submit(Submission {
            images,
            ..Submission::text(text)
        }));
    }

    pub(super) fn push_error(&mut self, message: String) {
        self.push(CellKind::Error(message));
    }

    // ---- drawing ----

    /// Draws the whole screen.
    pub fn render(&mut self, frame: &mut Frame<'_>) {
        let area = frame.area();
        if area.height < 3 || area.width < 10 {
            return;
        }
        let status_area = Rect::new(area.x, area.y + area.height - 1, area.width, 1);
        let main = Rect::new(area.x, area.y, area.width, area.height - 1);
        let now = self.now();
        self.status.render_line(status_area, frame.buffer_mut());

        if let Some(overlay) = &self.overlay {
            overlay.render(main, frame.buffer_mut(), now);
            return;
        }

        let bottom_rows = self.pane.height(main.width, main.height);
        let activity = u16::from(self.turn.running());
        let queue_rows = Self::queue_rows(self.turn.queued.len() + self.turn.server_queue.len())
            .min(main.height.saturating_sub(bottom_rows + activity + 1));
        let bottom = Rect::new(
            main.x,
            main.y + main.height - bottom_rows,
            main.width,
            bottom_rows,
        );
        let transcript_area = Rect::new(
            main.x,
            main.y,
            main.width,
            main.height
                .saturating_sub(bottom_rows + activity + queue_rows),
        );
        if queue_rows > 0 {
            let area = Rect::new(main.x, bottom.y - queue_rows, main.width, queue_rows);
            self.render_queue(area, frame.buffer_mut());
        }
        if self.chat.transcript.is_empty() && transcript_area.height > 1 {
            let welcome = Line::from(vec![
                Span::styled(" kelp", theme::accent().bold()),
                Span::styled(
                    format!(
                        " · ask about the code in {} · /help for commands and keys",
                        display_path(&self.status.project_dir)
                    ),
                    theme::dim(),
                ),
            ]);
            draw_line(frame.buffer_mut(), main.x, main.y, &welcome, main.width);
        }
        match &mut self.agents.viewing {
            Some(view) => {
                super::agents_center::render_view(view, transcript_area, frame.buffer_mut())
            }
            None => self
                .chat
                .transcript
                .render(transcript_area, frame.buffer_mut()),
        }
        if activity == 1 {
            let row = Rect::new(main.x, bottom.y - queue_rows - 1, main.width, 1);
            self.render_activity(row, frame.buffer_mut());
        }

        if let Some(cursor) = self
            .pane
            .render(bottom, transcript_area.height, frame.buffer_mut())
        {
            frame.set_cursor_position(cursor);
        }
    }
}

/// `Some(true)` for an unmodified Up press, `Some(false)` for Down.
fn plain_arrow(event: &TermEvent) -> Option<bool> {
    match event {
        TermEvent::Key(key) if key.kind == KeyEventKind::Press && key.modifiers.is_empty() => {
            match key.code {
                KeyCode::Up => Some(true),
                KeyCode::Down => Some(false),
                _ => None,
            }
        }
        _ => None,
    }
}
