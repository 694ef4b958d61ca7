//! The commands a Codex user types from habit about the conversation and where it runs:
//! `/plan`, `/pwd`, `/archive`, `/delete`, `/rollout`, `/usage`, `/config`,
//! `/warnings` (F2), `/presets`, `/mention`, `/recap` and `/feedback`. Each is worked out as
//! [`Effect`]s, as every command is; those that leave (`/archive`, `/delete`) end the client
//! with what the command line then does.

use std::path::{Path, PathBuf};

use super::app::App;
use super::bottom_pane::PickerKind;
use super::bottom_pane::picker::{Picker, PickerItem};
use super::commands::Effect;
use super::session_state::Ended;
use crate::protocol::CollaborationMode;

/// What `/recap` asks beside the conversation.
const RECAP: &str = "Recap this conversation for me so far, briefly: what I asked for, what was \
done (files changed, commands run and how they ended), what is still open, and the next step.";

/// `/delete`'s question, in `shelve_picked`'s order.
const DELETE_CHOICES: [(&str, &str); 2] = [
    (
        "Yes, delete it",
        "its history cannot come back; kelp leaves",
    ),
    ("No, keep it", ""),
];

/// How much of the end of kelp's log a `/feedback` report carries.
const LOG_TAIL_BYTES: u64 = 64 * 1024;

/// `path` made absolute: `~/` is the home folder, a relative path is beneath `base`.
pub(super) fn expand_path(path: &str, base: &Path) -> PathBuf {
    let home = || std::env::var_os("HOME").map(PathBuf::from);
    let path = match (path.strip_prefix("~/"), home()) {
        (Some(rest), Some(home)) => home.join(rest),
        (None, Some(home)) if path == "~" => home,
        _ => PathBuf::from(path),
    };
    if path.is_absolute() {
        path
    } else {
        base.join(path)
    }
}

impl App {
    /// `/plan [PROMPT]`: plan mode, and the prompt asked in it when one is given.
    pub(super) fn plan_command(&self, prompt: &str) -> Vec<Effect> {
        let mut effects = vec![Effect::SetMode(CollaborationMode::Plan)];
        if !prompt.trim().is_empty() {
            effects.push(Effect::Submit(prompt.trim().to_string()));
        }
        effects
    }

    /// `/fast [on|off]`: the priority service tier for the requests from now on, or not.
    pub(super) fn fast(&self, argument: &str) -> Vec<Effect> {
        use crate::protocol::ServiceTier;
        let on = match argument.trim() {
            "" => self.status.service_tier != Some(ServiceTier::Fast),
            "on" => true,
            "off" => false,
            other => {
                return vec![Effect::Error(format!(
                    "/fast {other}: /fast alone turns fast mode on or off; /fast on, /fast off"
                ))];
            }
        };
        let tier = on.then_some(ServiceTier::Fast);
        let said = if on {
            "Fast mode is on (requests ask for the priority tier: quicker answers for more of \
             your plan's usage); /fast turns it off."
        } else {
            "Fast mode is off (requests ask for the default tier)."
        };
        vec![
            Effect::SetServiceTier(tier),
            Effect::Notice(said.to_string()),
        ]
    }

    /// `/tui [scrollback|fullscreen]`: the screen the client draws on; with nothing, the
    /// other one.
    pub(super) fn screen_mode(&self, argument: &str) -> Vec<Effect> {
        let now = self.status.chosen.alternate_screen;
        let alternate = match argument.trim() {
            "" => !now,
            // Codex's `/raw on|off`: its copy-friendly scrollback, which scrollback mode is.
            "fullscreen" | "full" | "off" => true,
            "scrollback" | "inline" | "on" => false,
            other => {
                return vec![Effect::Error(format!(
                    "/tui {other}: say scrollback or fullscreen"
                ))];
            }
        };
        let said = if alternate {
            "Fullscreen: the alternate screen, scrolled in the client (PageUp, the wheel)."
        } else {
            "Scrollback: the conversation goes into the terminal's own history, where its \
             selection and search reach it. [tui] alternate_screen = \"never\" keeps it."
        };
        vec![
            Effect::AlternateScreen(alternate),
            Effect::Notice(said.into()),
        ]
    }

    /// `/pwd`.
    pub(super) fn pwd(&self) -> Vec<Effect> {
        vec![Effect::Notice(format!(
            "Working directory: {}",
            self.status.project_dir.display()
        ))]
    }

    /// `/cd DIR`: the conversation goes on in `DIR` (named from the working directory; the
    /// home folder when none is named), as the client opens again there.
    pub(super) fn change_directory(&self, argument: &str) -> Vec<Effect> {
        if let Some(server) = &self.status.server {
            return vec![Effect::Error(format!(
                "/cd: the conversation runs on {server}, in the folder its thread was started in"
            ))];
        }
        let typed = argument.trim();
        let home = std::env::var_os("HOME")
            .filter(|home| !home.is_empty())
            .map(std::path::PathBuf::from);
        let wanted = match (typed, &home) {
            ("" | "~", Some(home)) => home.clone(),
            (typed, Some(home)) if typed.starts_with("~/") => home.join(&typed[2..]),
            ("", None) => return vec![Effect::Error("/cd: no home folder is known".into())],
            // As a shell's `cd`: `..` goes up the path as written.
            (typed, _) => crate::sandbox::paths::resolve(&self.status.project_dir, typed.as_ref()),
        };
        let shown = crate::humanize::home_path(&wanted);
        let folder = match std::fs::canonicalize(&wanted) {
            Ok(folder) if folder.is_dir() => folder,
            Ok(_) => {
                return vec![Effect::Error(format!(
                    "Cannot access directory {shown}: it is not a directory"
                ))];
            }
            Err(e) => {
                return vec![Effect::Error(format!(
                    "Cannot access directory {shown}: {}",
                    crate::humanize::io_error(&e)
                ))];
            }
        };
        if folder == self.status.project_dir {
            return vec![Effect::Notice(format!(
                "Working directory: {} (unchanged)",
                folder.display()
            ))];
        }
        vec![Effect::Reopen(Ended::ChangedDirectory(folder))]
    }

    /// `/archive` and `/delete`: the saved conversation is shelved as kelp leaves; `/delete`
    /// asks first.
    pub(super) fn shelve(&self, delete: bool) -> Vec<Effect> {
        let command = if delete { "/delete" } else { "/archive" };
        if let Some(server) = &self.status.server {
            return vec![Effect::Error(format!(
                "{command}: the conversation is kept on {server}, by the host there"
            ))];
        }
        if self.session.to_resume().is_none() {
            return vec![Effect::Error(format!(
                "{command}: nothing is saved yet; a conversation is saved from its first prompt"
            ))];
        }
        if !delete {
            return vec![Effect::Reopen(Ended::Archive)];
        }
        vec![Effect::OpenPicker(
            PickerKind::ConfirmDelete,
            Picker::new(
                "Delete this conversation for good?",
                PickerItem::choices(&DELETE_CHOICES),
                "",
            ),
        )]
    }

    /// The choice made in a picker of these commands.
    pub(super) fn session_picked(&self, kind: PickerKind, index: usize) -> Vec<Effect> {
        match (kind, index) {
            (PickerKind::Export, _) => self.export_picked(index),
            (PickerKind::Presets, _) => self.preset_picked(index),
            (_, 0) => vec![Effect::Reopen(Ended::Delete)],
            _ => vec![Effect::Notice("Nothing deleted.".into())],
        }
    }

    /// What was typed as a command kelp does not know: why, for one of Codex's it leaves out,
    /// else the text back in the composer, to mend.
    pub(super) fn unknown_command(&mut self, typed: &str) {
        match super::bottom_pane::slash::not_served(&typed[1..]) {
            Some(why) => self.push_error(format!("kelp does not serve {typed}: {why}")),
            None => {
                self.push_error(format!("unknown command {typed}: /help lists the commands"));
                self.pane.set_text(typed);
            }
        }
    }

    /// `/rollout`: the conversation's file.
    pub(super) fn rollout(&self) -> Vec<Effect> {
        if let Some(server) = &self.status.server {
            return vec![Effect::Notice(format!(
                "The conversation is saved on {server}, where the agent runs."
            ))];
        }
        let Some(id) = self.session.to_resume() else {
            return vec![Effect::Notice(
                "Not saved yet: the first prompt starts the conversation's file.".into(),
            )];
        };
        match crate::session::find_whole(&self.status.state_dir, &id) {
            Ok(found) => vec![Effect::Notice(format!(
                "The conversation is saved in {}",
                found.path.display()
            ))],
            Err(e) => vec![Effect::Error(format!("/rollout: {e}"))],
        }
    }

    /// `/usage`: the plan's limits as last reported, and this conversation's tokens.
    pub(super) fn usage(&self) -> Vec<Effect> {
        let mut text = format!(
            "Tokens:    {}",
            super::status::describe_usage(&self.status.usage)
        );
        self.status.push_limits(&mut text);
        vec![Effect::Notice(text)]
    }

    /// `/config`: each config file read, and the settings in force it gave.
    pub(super) fn config_report(&self) -> Vec<Effect> {
        let mut text = String::from("Settings in force, by the file that gave them:");
        if self.status.settings_from.is_empty() {
            text.push_str("\n  none: every setting is kelp's default or the command line's");
        }
        for (path, keys) in &self.status.settings_from {
            text.push_str(&format!("\n  {}: {}", path.display(), keys.join(", ")));
        }
        text.push_str(&format!(
            "\nkelp's own file: {} (kelp config set KEY VALUE writes it)",
            self.status.config_file.display()
        ));
        vec![Effect::Notice(text)]
    }

    /// `/warnings` and F2.
    pub(super) fn warnings_report(&self) -> Vec<Effect> {
        vec![Effect::Notice(self.chat.warnings.report())]
    }

    /// `/presets`: the prompt files are looked for again, then listed.
    pub(super) fn presets(&self) -> Vec<Effect> {
        vec![
            Effect::AwaitPresets,
            Effect::Send(crate::protocol::Op::FindPrompts),
        ]
    }

    /// The saved prompts as found, one to pick into the composer.
    pub(super) fn presets_picker(&self) -> Vec<Effect> {
        if self.pane.prompts.is_empty() {
            return vec![Effect::Notice(
                "No saved prompts: a Markdown file in kelp's prompts/ folder (or Codex's \
                 ~/.codex/prompts/) is one, run as /NAME."
                    .into(),
            )];
        }
        let items = self
            .pane
            .prompts
            .iter()
            .map(|prompt| PickerItem {
                label: format!("/{}", super::bottom_pane::slash::command_for(prompt)),
                detail: prompt.detail(),
                current: false,
            })
            .collect();
        vec![Effect::OpenPicker(
            PickerKind::Presets,
            Picker::new("Saved prompts", items, "").searchable(),
        )]
    }

    /// `/presets`' choice: the prompt's command in the composer, for its arguments.
    pub(super) fn preset_picked(&self, index: usize) -> Vec<Effect> {
        self.pane
            .prompts
            .get(index)
            .map(|prompt| {
                Effect::Draft(format!(
                    "/{} ",
                    super::bottom_pane::slash::command_for(prompt)
                ))
            })
            .into_iter()
            .collect()
    }

    /// `/mention`: `@` in the composer, which opens the file finder.
    pub(super) fn mention(&self) -> Vec<Effect> {
        vec![Effect::Draft("@".to_string())]
    }

    /// `/recap`: the summary is asked beside the conversation, which it leaves as it is.
    pub(super) fn recap(&self) -> Vec<Effect> {
        let said = self
            .chat
            .transcript
            .cells()
            .any(|cell| matches!(cell.kind(), super::history_cell::CellKind::User(_)));
        if !said {
            return vec![Effect::Notice("Nothing to recap yet.".into())];
        }
        vec![Effect::AskSide(RECAP.to_string())]
    }

    /// Alt+. (`up`) or Alt+,: the next effort the model picker offers, for the next request.
    pub(super) fn step_effort(&mut self, up: bool) {
        use crate::protocol::ReasoningEffort;
        let offered = ReasoningEffort::OFFERED;
        let next = match offered.iter().position(|(e, _)| *e == self.status.effort) {
            Some(at) if up => offered.get(at + 1),
            Some(at) => at.checked_sub(1).and_then(|at| offered.get(at)),
            None => offered.iter().find(|(e, _)| *e == ReasoningEffort::Medium),
        };
        match next {
            Some((effort, _)) => {
                self.apply(Effect::SetEffort(*effort));
                self.status.hint = Some(format!("reasoning effort: {}", effort.as_str()));
            }
            None => {
                let end = if up { "highest" } else { "lowest" };
                self.status.hint = Some(format!(
                    "reasoning effort: {} is the {end}",
                    self.status.effort.as_str()
                ));
            }
        }
    }

    /// `/feedback`: a report for a bug, in a new private file of kelp's state folder, said
    /// where; nothing is sent anywhere.
    pub(super) fn feedback(&self) -> Vec<Effect> {
        let stamp = chrono::DateTime::<chrono::Utc>::from(self.now());
        let dir = self.status.state_dir.join("feedback");
        let path = dir.join(format!(
            "kelp-feedback-{}.txt",
            stamp.format("%Y%m%d-%H%M%S")
        ));
        let written = crate::private_file::create_private_dir(&dir).and_then(|()| {
            use std::io::Write;
            let mut file = crate::private_file::private_open_options()
                .write(true)
                .create_new(true)
                .open(&path)?;
            file.write_all(self.feedback_text(&stamp.to_rfc3339()).as_bytes())
        });
        match written {
            Ok(()) => vec![Effect::Notice(format!(
                "Saved a report in {}: versions, settings, this run's warnings and the end of \
                 kelp's log (no login in it). Read it, then attach it to your bug report.",
                path.display()
            ))],
            Err(e) => vec![Effect::Error(format!(
                "/feedback: cannot write {}: {e}",
                path.display()
            ))],
        }
    }

    /// What a `/feedback` report says, made at `when`.
    fn feedback_text(&self, when: &str) -> String {
        let status = &self.status;
        let over_ssh = std::env::var_os("SSH_CONNECTION").is_some();
        let mut text = format!(
            "kelp feedback report, {when}\nkelp {} on {}/{}\nterminal: TERM={}, over SSH: {}\n\
             model: {}, {} effort\napproval: {}\nsandbox: {}\nconversation: {}\n",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::env::var("TERM").unwrap_or_default(),
            if over_ssh { "yes" } else { "no" },
            status.model,
            status.effort.as_str(),
            super::status::approval_name(status.approval_mode),
            status.sandbox.text(),
            self.session.id.as_deref().unwrap_or("none yet"),
        );
        text.push_str("\n--- settings in force\n");
        for (path, keys) in &status.settings_from {
            text.push_str(&format!("{}: {}\n", path.display(), keys.join(", ")));
        }
        text.push_str("\n--- warnings and errors of this run\n");
        text.push_str(&self.chat.warnings.report());
        let log = status.state_dir.join("kelp.log");
        text.push_str(&format!("\n\n--- the end of {}\n", log.display()));
        text.push_str(&log_tail(&log).unwrap_or_else(|e| format!("(not read: {e})\n")));
        text
    }
}

/// The last [`LOG_TAIL_BYTES`] of the log at `path`, from a line's start.
fn log_tail(path: &Path) -> std::io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let (mut file, meta) = crate::private_file::open_without_waiting(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let start = meta.len().saturating_sub(LOG_TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(LOG_TAIL_BYTES).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let text = match (start, text.find('\n')) {
        (0, _) | (_, None) => &text[..],
        (_, Some(newline)) => &text[newline + 1..],
    };
    Ok(text.to_string())
}
