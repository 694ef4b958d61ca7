//! What the person asks of the app, as values: each slash command (with what was typed after
//! it) and each picker choice is a [`Command`] (the bottom pane's), and [`App::perform`] is the one place that
//! carries them out. Key handling and core events stay in `app.rs`; what a command does is here.

use super::app::App;
use super::bottom_pane::picker::{Picker, PickerItem};
use super::bottom_pane::slash::SlashCommand;
use super::bottom_pane::{Command, PickerKind};
use super::history_cell::CellKind;
use super::resume;
use super::status::{approval_detail, approval_name};
use crate::agent::command_rules;
use crate::agent::protocol::{ApprovalMode, Op};
use crate::llm::ReasoningEffort;
use crate::llm::types::TokenUsage;

impl App {
    /// Carries out `command`.
    pub(super) fn perform(&mut self, command: Command) {
        match command {
            Command::Slash(command, argument) => self.run_command(command, &argument),
            Command::Picked { kind, index, label } => self.picked(kind, index, label),
        }
    }

    /// `/diff`'s answer: the working tree's diff in a git repository, else the patches this
    /// conversation applied.
    pub(super) fn show_diff(&mut self, git: Option<String>) {
        let (title, diff) = match git {
            Some(diff) if diff.trim().is_empty() => {
                self.notice("No changes in the working tree (git diff HEAD is empty).");
                return;
            }
            Some(diff) => (
                "Changes in the working tree (git diff HEAD)".to_string(),
                diff,
            ),
            None if self.session.patches.is_empty() => {
                self.notice("Not a git repository, and no patch was applied in this conversation.");
                return;
            }
            None => (
                "Patches applied in this conversation (not a git repository)".to_string(),
                self.session.patches.join("\n"),
            ),
        };
        self.push(CellKind::Diff { title, diff });
        self.chat.transcript.scroll_to_bottom();
    }

    /// `/compact [focus]`: the model summarises the conversation, and requests go on from the
    /// summary.
    fn compact(&mut self, focus: &str) {
        if self.turn.running() {
            self.push_error("an answer is still coming: /compact when it is done".into());
            return;
        }
        let focus = (!focus.is_empty()).then(|| focus.to_string());
        self.notice("Compacting the conversation…");
        self.send(Op::Compact {
            focus,
            turn_id: None,
        });
    }

    /// `!command`: the person's own command, run in the sandbox by the core, shown as a
    /// `shell` call and not sent to the model.
    pub(super) fn run_own_command(&mut self, command: String) {
        if self.turn.running() {
            self.push_error("an answer is still coming: run the command when it is done".into());
            return;
        }
        self.push(CellKind::User(format!("!{command}")));
        self.chat.transcript.scroll_to_bottom();
        self.turn.own_commands += 1;
        self.send(Op::RunCommand(command));
    }

    /// `/review [WHAT]`: a read-only turn of its own that reviews the current changes, a
    /// commit (`commit SHA`), the changes against a branch (`base BRANCH`), or what the person
    /// says.
    fn review(&mut self, what: &str) {
        if self.turn.running() {
            self.push_error("an answer is still coming: /review when it is done".into());
            return;
        }
        let target = match crate::agent::review::ReviewTarget::parse(what) {
            Ok(target) => target,
            Err(why) => return self.push_error(why),
        };
        self.push(CellKind::User(format!("/review {}", target.label())));
        self.chat.transcript.scroll_to_bottom();
        self.session.saved = true;
        self.send(Op::Review {
            target,
            turn_id: None,
        });
    }

    /// `/copy`: the last answer as Markdown; `/copy code`: its last code block.
    fn copy_answer(&mut self, what: &str) {
        let answer = self
            .chat
            .transcript
            .cells_mut()
            .rev()
            .find_map(|cell| match cell.kind() {
                CellKind::Assistant(md) if !md.source().trim().is_empty() => {
                    Some(md.source().to_string())
                }
                _ => None,
            });
        let Some(answer) = answer else {
            self.push_error("there is no answer to copy yet".into());
            return;
        };
        match what {
            "" => self.copy(answer, "last answer"),
            "code" => match super::markdown::last_code_block(&answer) {
                Some(code) => self.copy(code, "last code block"),
                None => self.push_error("the last answer has no code block".into()),
            },
            other => self.push_error(format!(
                "/copy {other}: use /copy for the last answer or /copy code for its last code block"
            )),
        }
    }

    /// Ctrl+R: earlier prompts, this project's earlier sessions included, that contain what
    /// the composer holds; the list follows as the query is typed.
    pub(super) fn search_history(&mut self) {
        let query = self.pane.composer().text().to_string();
        self.history_hits = self.pane.composer().history_matching(&query);
        let items: Vec<PickerItem> = self
            .history_hits
            .iter()
            .map(|text| PickerItem {
                label: text.lines().next().unwrap_or_default().to_string(),
                detail: String::new(),
                current: false,
            })
            .collect();
        match self.pane.picker_mut(PickerKind::History) {
            Some(picker) => {
                picker.set_items(items);
                picker.selected = 0;
            }
            None => {
                let picker = Picker::new(
                    "Earlier prompts (type to search, enter to edit)",
                    items,
                    "no earlier prompt matches",
                );
                self.pane.open_picker(PickerKind::History, picker);
            }
        }
    }

    /// Runs a slash command, with what was typed after it (maybe empty).
    fn run_command(&mut self, command: SlashCommand, argument: &str) {
        match command {
            SlashCommand::Connect => self.open_connect(),
            SlashCommand::Model => {
                self.send(Op::RefreshModels);
                let picker = Picker::new("Model", self.model_items(), "asking for the models…");
                self.pane.open_picker(PickerKind::Model, picker);
            }
            SlashCommand::Approval => {
                let items = [
                    ApprovalMode::Ask,
                    ApprovalMode::AutoEdit,
                    ApprovalMode::FullAuto,
                ]
                .into_iter()
                .map(|mode| PickerItem {
                    label: approval_name(mode).to_string(),
                    detail: approval_detail(mode).to_string(),
                    current: mode == self.status.approval_mode,
                })
                // Then the rules kept for this project, each to forget with Enter.
                .chain(self.status.command_rules.iter().map(|rule| PickerItem {
                    label: format!("`{}`", command_rules::shown(rule)),
                    detail: "runs without asking here · enter forgets it".to_string(),
                    current: false,
                }))
                .collect();
                let picker = Picker::new("Approval mode", items, "");
                self.pane.open_picker(PickerKind::Approval, picker);
            }
            SlashCommand::New => {
                if self.turn.running() {
                    self.send(Op::Interrupt);
                }
                self.send(Op::NewConversation);
                self.clear_conversation();
                self.notice("New conversation.");
            }
            SlashCommand::Resume => {
                self.send(Op::ListSessions);
                self.session.awaiting_list = true;
                let picker = Picker::new(
                    "Resume a conversation",
                    resume::session_items(&self.session.listed, self.now()),
                    "looking for saved conversations…",
                );
                self.pane.open_picker(PickerKind::Resume, picker);
            }
            SlashCommand::Fork => {
                if self.turn.running() {
                    self.push_error("an answer is still coming: /fork when it is done".into());
                } else {
                    self.session.forking = true;
                    self.send(Op::Fork);
                }
            }
            SlashCommand::Rename if argument.trim().is_empty() => {
                self.push_error("/rename NAME: give the name (/rename \"\" clears it)".into());
            }
            SlashCommand::Rename => {
                let name = argument.trim().trim_matches('"').to_string();
                self.send(Op::Rename(name));
            }
            SlashCommand::Copy => self.copy_answer(argument),
            SlashCommand::Compact => self.compact(argument),
            SlashCommand::Diff => self.send(Op::Diff),
            SlashCommand::Init => {
                if self.turn.running() {
                    self.push_error("an answer is still coming: /init when it is done".into());
                } else {
                    self.push(CellKind::User("/init".to_string()));
                    self.session.saved = true;
                    self.send(Op::Init);
                }
            }
            SlashCommand::Review => self.review(argument),
            SlashCommand::Status => {
                let text = self.status.report();
                self.notice(text);
            }
            SlashCommand::Mcp => {
                let text = crate::mcp::report(&self.status.mcp);
                self.notice(text);
            }
            SlashCommand::Skills => self.send(Op::ListSkills),
            SlashCommand::Logout => self.send(Op::Logout),
            SlashCommand::Help => self.notice(super::help::text()),
            SlashCommand::Quit => self.quit(),
        }
    }

    /// Forgets the transcript and everything that points into it.
    pub(super) fn clear_conversation(&mut self) {
        self.session.clear();
        self.chat.clear();
        self.pane.drop_approvals();
        self.status.usage = TokenUsage::default();
    }

    pub(super) fn model_items(&self) -> Vec<PickerItem> {
        self.models
            .iter()
            .map(|m| PickerItem {
                label: m.clone(),
                detail: String::new(),
                current: *m == self.status.model,
            })
            .collect()
    }

    /// Says which model and effort the next turn uses.
    fn model_notice(&mut self) {
        let text = format!(
            "Model: {}, {} reasoning effort",
            self.status.model,
            self.status.effort.as_str()
        );
        self.notice(text);
    }

    fn picked(&mut self, kind: PickerKind, index: usize, label: String) {
        match kind {
            PickerKind::History => {
                if let Some(text) = self.history_hits.get(index).cloned() {
                    self.pane.set_text(&text);
                }
            }
            PickerKind::Model => {
                self.status.model = label.clone();
                self.send(Op::SetModel(label));
                // As Codex's does, the model's effort is asked next (esc keeps the one in use).
                let items = ReasoningEffort::OFFERED
                    .iter()
                    .map(|(effort, what)| PickerItem {
                        label: effort.as_str().to_string(),
                        detail: what.to_string(),
                        current: *effort == self.status.effort,
                    })
                    .collect();
                let title = format!("Reasoning effort for {}", self.status.model);
                self.pane
                    .open_picker(PickerKind::Effort, Picker::new(&title, items, ""));
                self.model_notice();
            }
            PickerKind::Effort => {
                if let Some((effort, _)) = ReasoningEffort::OFFERED.get(index) {
                    self.status.effort = *effort;
                    self.send(Op::SetEffort(*effort));
                    self.model_notice();
                }
            }
            PickerKind::Resume => {
                if let Some(session) = self.session.listed.get(index) {
                    if self.turn.running() {
                        self.send(Op::Interrupt);
                    }
                    self.session.resuming_from = Some(resume::last_active(session));
                    self.send(Op::Resume(session.path.clone()));
                }
            }
            PickerKind::Rewind => self.rewind_to(index),
            PickerKind::UndoFiles => self.undo_picked(index),
            PickerKind::Approval => {
                let modes = [
                    ApprovalMode::Ask,
                    ApprovalMode::AutoEdit,
                    ApprovalMode::FullAuto,
                ];
                let Some(&mode) = modes.get(index) else {
                    let rule = index - modes.len();
                    if let Some(rule) = self.status.command_rules.get(rule).cloned() {
                        self.notice(format!(
                            "`{}` asks again from now on",
                            command_rules::shown(&rule)
                        ));
                        self.send(Op::RemoveCommandRule(rule));
                    }
                    return;
                };
                self.status.approval_mode = mode;
                self.send(Op::SetApprovalMode(mode));
                self.notice(format!(
                    "Approval mode: {} — {}",
                    approval_name(mode),
                    approval_detail(mode)
                ));
            }
        }
    }
}
