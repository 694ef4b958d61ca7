//! The status line the person chose: the items they picked, or what their command prints
//! (`status_line = { type = "command", command = "…" }`, as Claude Code runs one). The command
//! runs with Claude Code's JSON on stdin when what it is told changes, never on the UI task and
//! one run at a time (the newest facts wait for the run before them); its first line is drawn
//! with its colours (SGR kept; every other escape and control character dropped). A command
//! that fails or is slow leaves kelp's own line in place and never holds up typing. The git
//! branch (for the command and the `git-branch` item) is read on a task of its own too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ratatui::text::{Line, Span};
use serde_json::json;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::config::status_line::{StatusLine, TitleItem};
use crate::config::surfaces::Surfaces;

/// How long a command may take before it is stopped (a first `npx` run fetches a package).
const TIMEOUT: Duration = Duration::from_secs(10);

/// What comes back from the tasks: a command's run, or the repository read.
#[derive(Debug)]
pub enum StatusNews {
    Ran(crate::hooks::Ran),
    /// The git branch, and the project's name (its repository's folder).
    Repository {
        branch: Option<String>,
        project: Option<String>,
    },
    /// `/statusline`'s choice was saved in the config file, or why not.
    Saved(Result<(), String>),
}

/// What the command is told, as Claude Code tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusFacts {
    pub session_id: Option<String>,
    pub model: String,
    pub effort: String,
    pub project_dir: PathBuf,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub context: Option<(u64, Option<u64>)>,
    /// The plan's windows, as the backend last said them.
    pub rate_limits: Option<crate::protocol::RateLimits>,
}

impl StatusFacts {
    /// Claude Code's status JSON (with `git_branch` beside it), as ccstatusline reads it;
    /// `open_for` is how long the client has been open.
    fn json(&self, branch: Option<&str>, open_for: Duration) -> String {
        let dir = self.project_dir.display().to_string();
        let window = self
            .context
            .and_then(|(_, window)| window.filter(|w| *w > 0));
        let used_percentage = self
            .context
            .zip(window)
            .map(|((used, _), window)| (used * 100 / window).min(100));
        let limit = |window: Option<crate::protocol::RateLimitWindow>| {
            window.map(|w| json!({"used_percentage": w.used_percent, "resets_at": w.resets_at}))
        };
        let limits = self.rate_limits.as_ref();
        json!({
            "hook_event_name": "Status",
            "session_id": self.session_id,
            "cwd": dir,
            "model": {"id": self.model, "display_name": self.model},
            "reasoning_effort": self.effort,
            "effort": {"level": self.effort},
            "workspace": {"current_dir": dir, "project_dir": dir},
            "version": env!("CARGO_PKG_VERSION"),
            "output_style": {"name": "default"},
            "cost": {
                "total_cost_usd": 0.0,
                "total_duration_ms": u64::try_from(open_for.as_millis()).unwrap_or(u64::MAX),
                "total_lines_added": 0,
                "total_lines_removed": 0,
            },
            "rate_limits": limits.map(|l| json!({
                "five_hour": limit(l.primary),
                "seven_day": limit(l.secondary),
            })),
            "exceeds_200k_tokens": self.context.is_some_and(|(used, _)| used > 200_000),
            "context_window": {
                "total_input_tokens": self.input_tokens,
                "total_output_tokens": self.output_tokens,
                "context_window_size": window,
                "used_percentage": used_percentage,
                "remaining_percentage": used_percentage.map(|used| 100 - used),
                "current_usage": self.context.map(|(used, _)| json!({"input_tokens": used})),
            },
            "git_branch": branch,
        })
        .to_string()
    }
}

/// The chosen status line and what it last showed, and the window title's items.
#[derive(Debug)]
pub struct StatusCommand {
    pub chosen: StatusLine,
    /// The window title's items (`/title`); `None`: kelp's own title.
    pub title: Option<Vec<TitleItem>>,
    /// The syntax theme as saved (`/theme`), which a preview left without a choice goes back
    /// to; `None`: the background's.
    pub theme_saved: Option<String>,
    /// Whether the UI wants the alternate screen (`false`: scrollback mode, `/tui`); the
    /// event loop moves the terminal over when it differs.
    pub alternate_screen: bool,
    news: UnboundedSender<StatusNews>,
    /// Taken by the event loop, which waits on it.
    receiver: Option<UnboundedReceiver<StatusNews>>,
    running: bool,
    /// Facts that changed while a run was under way: the next run's.
    waiting: Option<StatusFacts>,
    /// The facts of the run last started.
    told: Option<StatusFacts>,
    pub branch: Option<String>,
    pub project: Option<String>,
    /// The command's last line, as drawn.
    pub line: Option<Line<'static>>,
    /// Why the last run showed nothing, for `/status`.
    pub failure: Option<String>,
    /// Told once already: the repository has been read.
    started: bool,
    /// When the client opened: the JSON's `cost.total_duration_ms` counts from it.
    pub opened: std::time::Instant,
    /// Choices on their way to the config file, in order.
    saves: Option<UnboundedSender<crate::config::Setting>>,
}

impl StatusCommand {
    pub fn new(surfaces: &Surfaces) -> Self {
        let (news, receiver) = unbounded_channel();
        Self {
            chosen: surfaces.status_line.clone().unwrap_or_default(),
            title: surfaces.terminal_title.clone(),
            theme_saved: surfaces.theme.clone(),
            alternate_screen: surfaces.alternate_screen.unwrap_or(true),
            news,
            receiver: Some(receiver),
            running: false,
            waiting: None,
            told: None,
            branch: None,
            project: None,
            line: None,
            failure: None,
            started: false,
            opened: std::time::Instant::now(),
            saves: None,
        }
    }

    /// The news the event loop waits on (once).
    pub fn take_receiver(&mut self) -> Option<UnboundedReceiver<StatusNews>> {
        self.receiver.take()
    }

    /// Reads the git branch of `project_dir` and the project's name on a blocking task (at
    /// the start, after a turn).
    pub fn read_branch(&self, project_dir: &Path) {
        let (news, dir) = (self.news.clone(), project_dir.to_path_buf());
        crate::task::spawn(async move {
            let read = crate::task::spawn_blocking(move || {
                let project = crate::config::trust_root(&dir).file_name().map(|name| {
                    crate::terminal_text::printable(&name.to_string_lossy()).into_owned()
                });
                (git_branch(&dir), project)
            });
            if let Ok((branch, project)) = read.await {
                let _ = news.send(StatusNews::Repository { branch, project });
            }
        });
    }

    /// Saves `setting` (`/statusline`'s, `/title`'s, `/theme`'s, `/vim`'s) in `config_dir`'s
    /// file, off the UI task, one save after another in the order chosen (the last choice is
    /// the one kept).
    pub fn save(&mut self, config_dir: &Path, setting: crate::config::Setting) {
        let (news, dir) = (self.news.clone(), config_dir.to_path_buf());
        let saves = self.saves.get_or_insert_with(|| {
            let (saves, mut chosen) = unbounded_channel::<crate::config::Setting>();
            crate::task::spawn(async move {
                while let Some(setting) = chosen.recv().await {
                    let dir = dir.clone();
                    let saved = crate::task::spawn_blocking(move || {
                        crate::config::save_setting(&dir, &setting).map_err(|e| e.to_string())
                    })
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()));
                    let _ = news.send(StatusNews::Saved(saved));
                }
            });
            saves
        });
        let _ = saves.send(setting);
    }

    /// Whether it shows more than kelp's own line: the repository's branch or name, which a
    /// turn may change, or a command's line.
    pub fn wants_repository(&self) -> bool {
        !matches!(self.chosen, StatusLine::Builtin)
            || self.title.as_ref().is_some_and(|items| !items.is_empty())
    }

    /// What the command is told now: run again when it changed (later, when a run is under
    /// way). The first time, the repository is read. Called once the first frame is out: the
    /// client starts nothing before it.
    pub fn update(&mut self, facts: StatusFacts) {
        if !std::mem::replace(&mut self.started, true) {
            self.read_branch(&facts.project_dir);
        }
        if !matches!(self.chosen, StatusLine::Command(_)) {
            return;
        }
        if self.told.as_ref() == Some(&facts) && self.waiting.is_none() {
            return;
        }
        if self.running {
            self.waiting = Some(facts);
        } else {
            self.run(facts);
        }
    }

    fn run(&mut self, facts: StatusFacts) {
        let StatusLine::Command(command) = &self.chosen else {
            return;
        };
        let (command, news) = (command.clone(), self.news.clone());
        let input = facts.json(self.branch.as_deref(), self.opened.elapsed());
        let dir = facts.project_dir.clone();
        self.running = true;
        self.told = Some(facts);
        crate::task::spawn(async move {
            let ran = crate::hooks::shell(&command, TIMEOUT, &dir, &input).await;
            let _ = news.send(StatusNews::Ran(ran));
        });
    }

    /// News from a task; whether the line changed.
    pub fn on_news(&mut self, news: StatusNews) -> bool {
        match news {
            StatusNews::Repository { branch, project } => {
                let changed = self.branch != branch || self.project != project;
                self.branch = branch;
                self.project = project;
                // The command is told the branch too.
                if changed && let Some(told) = self.told.clone() {
                    self.told = None;
                    self.update(told);
                }
                changed
            }
            StatusNews::Saved(_) => false,
            StatusNews::Ran(ran) => {
                self.running = false;
                match (ran.exit, ran.failure) {
                    (Some(0), None) => {
                        self.line = first_line(&ran.stdout);
                        self.failure = None;
                    }
                    (exit, failure) => {
                        let why = failure.unwrap_or_else(|| {
                            format!(
                                "exited with {}: {}",
                                exit.unwrap_or(-1),
                                ran.stderr.lines().next().unwrap_or("")
                            )
                        });
                        self.failure = Some(crate::terminal_text::printable(&why).into_owned());
                        self.line = None;
                    }
                }
                if let Some(facts) = self.waiting.take() {
                    self.run(facts);
                }
                true
            }
        }
    }
}

/// The first line of `output` with its colours, every other escape dropped; `None` when it is
/// empty.
pub fn first_line(output: &str) -> Option<Line<'static>> {
    use ansi_to_tui::IntoText;
    let first = output
        .lines()
        .next()
        .filter(|line| !line.trim().is_empty())?;
    let text = first.as_bytes().into_text().ok()?;
    let line = text.lines.into_iter().next()?;
    let spans: Vec<Span<'static>> = line
        .spans
        .into_iter()
        .map(|span| {
            // What the parser let through (a cursor move, a title) reaches no terminal.
            let content = crate::terminal_text::printable(&span.content).replace('\u{FFFD}', "");
            Span::styled(content, span.style)
        })
        .filter(|span| !span.content.is_empty())
        .collect();
    (!spans.is_empty()).then(|| Line::from(spans))
}

/// The branch checked out in the repository `project_dir` is in, from its `HEAD`; `None`
/// outside one or on a detached head.
fn git_branch(project_dir: &Path) -> Option<String> {
    let dot_git = project_dir
        .ancestors()
        .map(|dir| dir.join(".git"))
        .find(|git| git.symlink_metadata().is_ok())?;
    let git_dir = if dot_git.is_file() {
        // A worktree's `.git` names its git folder.
        let text = crate::private_file::read_regular(&dot_git, 4096).ok()?;
        let text = String::from_utf8(text).ok()?;
        let named = text.trim().strip_prefix("gitdir: ")?;
        dot_git.parent()?.join(named)
    } else {
        dot_git
    };
    let head = crate::private_file::read_regular(&git_dir.join("HEAD"), 4096).ok()?;
    let head = String::from_utf8(head).ok()?;
    head.trim()
        .strip_prefix("ref: refs/heads/")
        .map(|branch| crate::terminal_text::printable(branch).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::{Color, Modifier};

    /// The JSON carries what ccstatusline's widgets read of Claude Code's: the context's
    /// share used and left, the plan's windows, the effort, how long the client is open.
    #[test]
    fn the_json_says_the_context_share_the_limits_and_the_time_open() {
        let window = |used_percent, resets_at| crate::protocol::RateLimitWindow {
            used_percent,
            window_minutes: None,
            resets_at: Some(resets_at),
        };
        let facts = StatusFacts {
            session_id: Some("s-1".into()),
            model: "gpt-5.5".into(),
            effort: "high".into(),
            project_dir: PathBuf::from("/work/shop"),
            input_tokens: 1200,
            output_tokens: 300,
            context: Some((50_000, Some(200_000))),
            rate_limits: Some(crate::protocol::RateLimits {
                primary: Some(window(12.5, 1_800_000_000)),
                secondary: Some(window(40.0, 1_800_500_000)),
            }),
        };
        let json: serde_json::Value =
            serde_json::from_str(&facts.json(Some("main"), Duration::from_millis(4200))).unwrap();
        assert_eq!(json["context_window"]["used_percentage"], 25);
        assert_eq!(json["context_window"]["remaining_percentage"], 75);
        assert_eq!(json["rate_limits"]["five_hour"]["used_percentage"], 12.5);
        assert_eq!(json["rate_limits"]["seven_day"]["resets_at"], 1_800_500_000);
        assert_eq!(json["effort"]["level"], "high");
        assert_eq!(json["cost"]["total_duration_ms"], 4200);
        assert_eq!(json["git_branch"], "main");
        let unknown = StatusFacts {
            context: None,
            rate_limits: None,
            ..facts
        };
        let json: serde_json::Value =
            serde_json::from_str(&unknown.json(None, Duration::ZERO)).unwrap();
        assert!(
            json["context_window"]["used_percentage"].is_null(),
            "{json}"
        );
        assert!(json["rate_limits"].is_null(), "{json}");
    }

    /// Colours and bold are kept; a title, a cursor move, a bell and a second line are not.
    #[test]
    fn the_first_line_keeps_its_colours_and_nothing_else() {
        let line = first_line(
            "\x1b[1;32mmain\x1b[0m \x1b]0;owned\x07\x1b[2J\x1b[Hok\x07 \x1b[38;5;208m42%\x1b[0m\nsecond",
        )
        .unwrap();
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "main ok 42%");
        assert!(!text.chars().any(char::is_control), "{text:?}");
        let main = &line.spans[0];
        assert_eq!(main.style.fg, Some(Color::Green));
        assert!(main.style.add_modifier.contains(Modifier::BOLD));
        let last = line.spans.last().unwrap();
        assert_eq!(last.style.fg, Some(Color::Indexed(208)));
        assert!(first_line("\n").is_none());
    }

    /// The branch of a repository, of a worktree through its `.git` file, none when detached.
    #[test]
    fn the_branch_is_read_from_head() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path().join(".git");
        std::fs::create_dir(&git).unwrap();
        std::fs::write(git.join("HEAD"), "ref: refs/heads/fix/login\n").unwrap();
        let sub = dir.path().join("src");
        std::fs::create_dir(&sub).unwrap();
        assert_eq!(git_branch(&sub).as_deref(), Some("fix/login"));
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(git.join("worktrees/tree")).unwrap();
        std::fs::write(git.join("worktrees/tree/HEAD"), "ref: refs/heads/side\n").unwrap();
        std::fs::create_dir(&tree).unwrap();
        std::fs::write(
            tree.join(".git"),
            format!("gitdir: {}\n", git.join("worktrees/tree").display()),
        )
        .unwrap();
        assert_eq!(git_branch(&tree).as_deref(), Some("side"));
        std::fs::write(git.join("HEAD"), "0123abcd\n").unwrap();
        assert_eq!(git_branch(&sub), None);
    }
}
