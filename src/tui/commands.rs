//! What the person asks of the app, as values: each slash command (with what was typed after
//! it) and each picker choice is a [`Command`] (the bottom pane's). What a command does is
//! worked out from the app's state without changing it, as a list of [`Effect`]s, and
//! [`App::apply`] is the one place that carries them out: a command can be read, and tested,
//! as what it asks for. Key handling stays in `app.rs`, core events in `core_events.rs`.

use super::app::App;
use super::bottom_pane::picker::{Picker, PickerItem};
use super::bottom_pane::slash::SlashCommand;
use super::bottom_pane::{Command, PickerKind, Surface};
use super::history_cell::CellKind;
use super::resume;
use super::status::{approval_detail, approval_name};
use crate::protocol::ReasoningEffort;
use crate::protocol::TokenUsage;
use crate::protocol::{ApprovalMode, Op};

/// One thing a command asks of the app, carried out in order by [`App::apply`].
#[derive(Debug)]
pub(super) enum Effect {
    /// An operation for the core.
    Send(Op),
    /// A line for the person.
    Notice(String),
    /// What went wrong, said as such.
    Error(String),
    /// The person's own words shown in the transcript (`/review …`), scrolled to the end.
    Echo(String),
    OpenPicker(PickerKind, Picker),
    OpenConnect,
    /// The command center: every conversation, or this one's agents alone.
    OpenAgents {
        only_team: bool,
    },
    /// A new conversation: the transcript and everything pointing into it go.
    ClearConversation,
    /// The conversation has a saved file from now on (a turn of it was asked for).
    MarkSaved,
    /// `/resume` waits for the saved conversations' list.
    AwaitSessions,
    /// `/ps` or `/stop` waits for the background terminals' list, to show it.
    AwaitTerminals,
    /// `/hooks` waits for the hooks' list, to show it.
    AwaitHooks,
    /// `/account` puts the login named so in use: the change is said by that name.
    SwitchLogin(String),
    /// `/presets` waits for the prompt files, to list them.
    AwaitPresets,
    /// `/side QUESTION`: asked beside the conversation, in a view over it.
    AskSide(String),
    /// `/fork` was sent: the conversation that comes back is the copy.
    AwaitFork,
    /// The conversation picked in `/resume` is coming back; it was last active then.
    Resuming(std::time::SystemTime),
    /// Text for the clipboard, and what it is.
    Copy(String, &'static str),
    /// Text into the composer, to edit and send.
    Draft(String),
    SetModel(String),
    SetEffort(ReasoningEffort),
    /// `/fast`: the service tier requests ask for.
    SetServiceTier(Option<crate::protocol::ServiceTier>),
    SetApprovalMode(ApprovalMode),
    /// Plan mode or the default one, said.
    SetMode(crate::protocol::CollaborationMode),
    /// A prompt sent as if typed (`/plan TEXT`).
    Submit(String),
    /// The mode another choice set (the trust question's), for the status to show.
    ShowApprovalMode(ApprovalMode),
    /// Esc Esc's choice: back to the prompt at this index of the picker.
    Rewind(usize),
    /// The choice of the offer to undo a rewound turn's file changes.
    UndoFiles(usize),
    /// The choice of the offer to implement a proposed plan.
    Implement(usize),
    /// The choice for the model's question being asked.
    Answer(String),
    /// Stop the turn; queued prompts come back to the composer.
    Interrupt,
    /// Leaving with the turn still running on the server.
    LeaveRunning,
    Quit,
    /// Quit, for the client to open again as said.
    Reopen(super::session_state::Ended),
    /// `/statusline`, `/title` or `/theme`, with the row picked (an item turned on or off, a
    /// theme chosen), or opened.
    PickSurface(Surface, Option<usize>),
    /// `/theme`'s cursor is on this row (`None`: it closed without a choice).
    PreviewTheme(Option<usize>),
    /// `/vim`: Vim mode in the composer on or off.
    ToggleVim,
    /// `/tui`: the alternate screen (fullscreen) or the terminal's own (scrollback).
    AlternateScreen(bool),
    /// `/keymap`: opened (with what was typed after it), or a row of its pickers chosen.
    Keymap(Option<(PickerKind, usize)>, String),
}

use Effect::{Error, Notice, Send};

/// `/review`'s choices, in `review_picked`'s order, as Codex offers them.
const REVIEW_CHOICES: [(&str, &str); 4] = [
    (
        "Review uncommitted changes",
        "staged, unstaged and untracked files",
    ),
    ("Review a commit", "one from the log"),
    (
        "Review against a base branch",
        "what this branch changed since it left one",
    ),
    ("Custom review instructions", "type what to look at"),
];

impl App {
    /// Carries out `command`.
    pub(super) fn perform(&mut self, command: Command) {
        let effects = match command {
            Command::Slash(command, argument) => self.slash(command, &argument),
            Command::Picked { kind, index, label } => self.picked(kind, index, label),
            Command::Previewed { index, .. } => vec![Effect::PreviewTheme(index)],
        };
        for effect in effects {
            self.apply(effect);
        }
    }

    /// Carries out one effect: the only place a command changes the app.
    pub(super) fn apply(&mut self, effect: Effect) {
        match effect {
            Send(op) => self.send(op),
            Notice(text) => self.notice(text),
            Error(text) => self.push_error(text),
            Effect::Echo(text) => {
                self.push(CellKind::User(text));
                self.chat.transcript.scroll_to_bottom();
            }
            Effect::OpenPicker(kind, picker) => self.pane.open_picker(kind, picker),
            Effect::OpenConnect => self.open_connect(),
            Effect::ClearConversation => self.clear_conversation(),
            Effect::OpenAgents { only_team } => self.open_agents(only_team),
            Effect::MarkSaved => self.session.saved = true,
            Effect::AwaitSessions => {
                self.session.awaiting_list = true;
                self.session.searched.clear();
            }
            Effect::AwaitTerminals => self.session.awaiting_terminals = true,
            Effect::AwaitHooks => self.session.awaiting_hooks = true,
            Effect::SwitchLogin(name) => {
                self.session.switching_to = Some(name.clone());
                self.send(Op::SwitchLogin(name));
            }
            Effect::AwaitPresets => self.session.awaiting_presets = true,
            Effect::AskSide(question) => self.ask_side(question),
            Effect::AwaitFork => self.session.forking = true,
            Effect::Resuming(at) => self.session.resuming_from = Some(at),
            Effect::Copy(text, what) => self.copy(text, what),
            Effect::Draft(text) => self.pane.set_text(&text),
            Effect::SetModel(model) => {
                self.status.model.clone_from(&model);
                self.send(Op::SetModel(model));
            }
            Effect::SetEffort(effort) => {
                self.status.effort = effort;
                self.send(Op::SetEffort(effort));
            }
            Effect::SetServiceTier(tier) => {
                self.status.service_tier = tier;
                self.send(Op::Override(crate::protocol::Settings {
                    service_tier: Some(tier),
                    ..Default::default()
                }));
            }
            Effect::SetApprovalMode(mode) => {
                self.status.approval_mode = mode;
                self.send(Op::SetApprovalMode(mode));
            }
            Effect::ShowApprovalMode(mode) => self.status.approval_mode = mode,
            Effect::SetMode(mode) => self.enter_mode(mode),
            Effect::Submit(text) => self.submit_prompt(text),
            Effect::Rewind(index) => self.rewind_to(index),
            Effect::Interrupt => self.interrupt(),
            Effect::LeaveRunning => self.session.left_running = true,
            Effect::UndoFiles(index) => self.undo_picked(index),
            Effect::Implement(index) => self.plan_picked(index),
            Effect::Answer(label) => self.question_answered(label),
            Effect::Quit => self.quit(),
            Effect::PickSurface(surface, row) => self.pick_surface(surface, row),
            Effect::PreviewTheme(row) => self.preview_theme(row),
            Effect::AlternateScreen(on) => self.status.chosen.alternate_screen = on,
            Effect::ToggleVim => {
                let on = self.pane.toggle_vim();
                self.notice(if on {
                    "Vim mode enabled."
                } else {
                    "Vim mode disabled."
                });
            }
            Effect::Reopen(why) => {
                self.reopen = Some(why);
                self.quit();
            }
            Effect::Keymap(None, argument) => self.open_keymap(&argument),
            Effect::Keymap(Some((kind, index)), _) => self.keymap_picked(kind, index),
        }
    }

    /// `effects`, unless an answer is still coming: then only why `what` must wait.
    fn when_idle(&self, what: &str, effects: Vec<Effect>) -> Vec<Effect> {
        if self.turn.running() {
            vec![Error(format!(
                "an answer is still coming: {what} when it is done"
            ))]
        } else {
            effects
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
    fn compact(&self, focus: &str) -> Vec<Effect> {
        let focus = (!focus.is_empty()).then(|| focus.to_string());
        self.when_idle(
            "/compact",
            vec![
                Notice("Compacting the conversation…".into()),
                Send(Op::Compact {
                    focus,
                    turn_id: None,
                }),
            ],
        )
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
    fn review(&self, what: &str) -> Vec<Effect> {
        self.review_target(crate::protocol::ReviewTarget::parse(what))
    }

    /// A review of `target` as a turn, or why it cannot be.
    fn review_target(&self, target: Result<crate::protocol::ReviewTarget, String>) -> Vec<Effect> {
        let target = match target {
            Ok(target) => target,
            Err(why) => return vec![Error(why)],
        };
        self.when_idle(
            "/review",
            vec![
                Effect::Echo(format!("/review {}", target.label())),
                Effect::MarkSaved,
                Send(Op::Review {
                    target,
                    turn_id: None,
                }),
            ],
        )
    }

    /// `/copy`: the last answer as Markdown; `/copy code`: its last code block.
    fn copy_answer(&self, what: &str) -> Vec<Effect> {
        let answer = self
            .chat
            .transcript
            .cells()
            .rev()
            .find_map(|cell| match cell.kind() {
                CellKind::Assistant(md) if !md.source().trim().is_empty() => {
                    Some(md.source().to_string())
                }
                _ => None,
            });
        let Some(answer) = answer else {
            return vec![Error("there is no answer to copy yet".into())];
        };
        vec![match what {
            "" => Effect::Copy(answer, "last answer"),
            "code" => match super::markdown::last_code_block(&answer) {
                Some(code) => Effect::Copy(code, "last code block"),
                None => Error("the last answer has no code block".into()),
            },
            other => Error(format!(
                "/copy {other}: use /copy for the last answer or /copy code for its last code block"
            )),
        }]
    }

    /// Ctrl+R: earlier prompts, this project's earlier sessions included, that contain what
    /// the composer holds, then the lines of this project's conversations that say it; the
    /// list follows as the query is typed.
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
                    "Earlier prompts and what was said",
                    items,
                    "no earlier prompt matches",
                );
                self.pane.open_picker(PickerKind::History, picker);
                // A search `/resume` made is this list's to make again.
                self.session.searched.clear();
            }
        }
        self.search_said_for_history(&query);
    }

    /// Ctrl+R's choice: the earlier prompt into the composer.
    fn history_picked(&self, index: usize) -> Vec<Effect> {
        self.history_hits
            .get(index)
            .map(|text| Effect::Draft(text.clone()))
            .into_iter()
            .collect()
    }

    /// What slash command `command` asks for, with what was typed after it (maybe empty).
    fn slash(&self, command: SlashCommand, argument: &str) -> Vec<Effect> {
        if !command.spec().during_turn && self.turn.running() {
            return vec![Error(format!(
                "an answer is still coming: /{} when it is done",
                command.name()
            ))];
        }
        match command {
            SlashCommand::Connect => vec![Effect::OpenConnect],
            SlashCommand::Account => self.account_command(argument),
            SlashCommand::Model => vec![
                Send(Op::RefreshModels),
                Effect::OpenPicker(
                    PickerKind::Model,
                    Picker::new("Model", self.model_items(), "asking for the models…"),
                ),
            ],
            SlashCommand::Approval => self.approval_picker(),
            SlashCommand::Approve | SlashCommand::Approvals | SlashCommand::Diagnostics => {
                vec![Send(super::review_lines::checks_op(command))]
            }
            SlashCommand::New | SlashCommand::Clear => {
                let interrupt = self.turn.running().then_some(Send(Op::Interrupt));
                interrupt
                    .into_iter()
                    .chain([
                        Send(Op::NewConversation),
                        Effect::ClearConversation,
                        Notice("New conversation.".into()),
                    ])
                    .collect()
            }
            SlashCommand::Resume => self.resume_picker(),
            SlashCommand::Fork => vec![Effect::AwaitFork, Send(Op::Fork)],
            SlashCommand::Agents => vec![Effect::OpenAgents { only_team: false }],
            SlashCommand::Subagents => vec![Effect::OpenAgents { only_team: true }],
            SlashCommand::Ps => vec![Effect::AwaitTerminals, Send(Op::ListTerminals)],
            SlashCommand::Hooks => vec![Effect::AwaitHooks, Send(Op::ListHooks)],
            SlashCommand::Statusline => vec![Effect::PickSurface(Surface::StatusLine, None)],
            SlashCommand::Title => vec![Effect::PickSurface(Surface::Title, None)],
            SlashCommand::Theme => vec![Effect::PickSurface(Surface::Theme, None)],
            SlashCommand::Vim => vec![Effect::ToggleVim],
            SlashCommand::Keymap => vec![Effect::Keymap(None, argument.to_string())],
            SlashCommand::Tui => self.screen_mode(argument),
            SlashCommand::Side => vec![Effect::AskSide(argument.to_string())],
            SlashCommand::Stop => match super::terminals_view::stop_target(argument) {
                Ok(id) => vec![Effect::AwaitTerminals, Send(Op::StopTerminals(id))],
                Err(why) => vec![Effect::Error(why)],
            },
            SlashCommand::Worktree => vec![
                Notice("Making a git worktree for a new conversation…".into()),
                Send(Op::MakeWorktree),
            ],
            SlashCommand::Rename if argument.trim().is_empty() => self.rename_draft(),
            SlashCommand::Goal => self.goal(argument),
            SlashCommand::Rename => {
                let name = argument.trim().trim_matches('"').to_string();
                vec![Send(Op::Rename(name))]
            }
            SlashCommand::Copy => self.copy_answer(argument),
            SlashCommand::Compact => self.compact(argument),
            SlashCommand::Diff => vec![Send(Op::Diff)],
            SlashCommand::Init => vec![
                Effect::Echo("/init".to_string()),
                Effect::MarkSaved,
                Send(Op::Init),
            ],
            SlashCommand::Review if argument.trim().is_empty() => review_picker(),
            SlashCommand::Review => self.review(argument),
            SlashCommand::Status => vec![Notice(self.status.report(self.session.id.as_deref()))],
            SlashCommand::Mcp => vec![Notice(crate::mcp::report(
                &self.status.mcp,
                &self.status.config_file,
            ))],
            SlashCommand::Skills => vec![Send(Op::ListSkills)],
            SlashCommand::Logout => vec![Send(Op::Logout)],
            SlashCommand::Help => vec![Notice(self.help_text())],
            SlashCommand::Plan => self.plan_command(argument),
            SlashCommand::Fast => self.fast(argument),
            SlashCommand::Recap => self.recap(),
            SlashCommand::Usage => self.usage(),
            SlashCommand::Config => self.config_report(),
            SlashCommand::Warnings => self.warnings_report(),
            SlashCommand::Pwd => self.pwd(),
            SlashCommand::Cd => self.change_directory(argument),
            SlashCommand::Mention => self.mention(),
            SlashCommand::Presets => self.presets(),
            SlashCommand::Export => self.export(argument),
            SlashCommand::Rollout => self.rollout(),
            SlashCommand::Feedback => self.feedback(),
            SlashCommand::Archive => self.shelve(false),
            SlashCommand::Delete => self.shelve(true),
            SlashCommand::Quit => vec![Effect::Quit],
        }
    }

    /// `/approval`: the modes, then the folder's trust, then the rules kept for this project.
    fn approval_picker(&self) -> Vec<Effect> {
        let items = ApprovalMode::ALL
            .into_iter()
            .map(|mode| PickerItem {
                label: approval_name(mode).to_string(),
                detail: approval_detail(mode).to_string(),
                current: mode == self.status.approval_mode,
            })
            // Then the folder's trust, kept in the config as Codex keeps it.
            .chain(PickerItem::choices(&TRUST_CHOICES))
            // Then the rules kept for this project, each to forget with Enter.
            .chain(self.status.command_rules.iter().map(|rule| PickerItem {
                label: rule.shown(),
                detail: format!("{} · enter forgets it", rule.what()),
                current: false,
            }))
            .collect();
        let picker = Picker::new("Approval mode", items, "");
        vec![Effect::OpenPicker(PickerKind::Approval, picker)]
    }

    /// `/resume`: the saved conversations of this project, asked for, in a searchable picker.
    fn resume_picker(&self) -> Vec<Effect> {
        vec![
            Send(Op::ListSessions),
            Effect::AwaitSessions,
            Effect::OpenPicker(
                PickerKind::Resume,
                Picker::new(
                    "Resume a conversation",
                    resume::session_items(&self.session.listed, self.now()),
                    "looking for saved conversations…",
                )
                .searchable(),
            ),
        ]
    }

    /// `/rename` alone: the name to edit in the composer, the first prompt's line, as the lists
    /// show an unnamed conversation.
    fn rename_draft(&self) -> Vec<Effect> {
        let suggested = self
            .session
            .prompts
            .first()
            .and_then(|(_, prompt)| crate::session::title_of(prompt))
            .unwrap_or_default();
        vec![
            Effect::Draft(format!("/rename {suggested}")),
            Notice("Edit the name and press enter (/rename \"\" clears it).".to_string()),
        ]
    }

    /// `/goal`: where the goal stands, or a change to it for the core.
    fn goal(&self, argument: &str) -> Vec<Effect> {
        use super::goal_view::GoalAsk;
        match super::goal_view::command(self.status.goal.as_ref(), argument) {
            GoalAsk::Say(text) => vec![Notice(text)],
            GoalAsk::Refuse(text) => vec![Error(text)],
            GoalAsk::Send { op, echo: None } => vec![Send(op)],
            GoalAsk::Send {
                op,
                echo: Some(echo),
            } => vec![Effect::Echo(echo), Effect::MarkSaved, Send(op)],
        }
    }

    /// Forgets the transcript and everything that points into it.
    pub(super) fn clear_conversation(&mut self) {
        self.session.clear();
        self.chat.clear();
        // The agents the conversation spawned ended with it.
        self.agents = super::agents_center::Agents::default();
        self.pane.drop_approvals();
        self.status.usage = TokenUsage::default();
        self.status.goal = None;
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
    fn model_notice(model: &str, effort: ReasoningEffort) -> Effect {
        Notice(format!(
            "Model: {model}, {} reasoning effort",
            effort.as_str()
        ))
    }

    /// What choosing entry `index` (shown as `label`) of picker `kind` asks for.
    fn picked(&self, kind: PickerKind, index: usize, label: String) -> Vec<Effect> {
        match kind {
            PickerKind::History => self.history_picked(index),
            PickerKind::Model => {
                // As Codex's does, the model's effort is asked next (esc keeps the one in use).
                let items = ReasoningEffort::OFFERED
                    .iter()
                    .map(|(effort, what)| PickerItem {
                        label: effort.as_str().to_string(),
                        detail: what.to_string(),
                        current: *effort == self.status.effort,
                    })
                    .collect();
                let title = format!("Reasoning effort for {label}");
                vec![
                    Effect::SetModel(label.clone()),
                    Effect::OpenPicker(PickerKind::Effort, Picker::new(&title, items, "")),
                    Self::model_notice(&label, self.status.effort),
                ]
            }
            PickerKind::Effort => match ReasoningEffort::OFFERED.get(index) {
                Some((effort, _)) => vec![
                    Effect::SetEffort(*effort),
                    Self::model_notice(&self.status.model, *effort),
                ],
                None => Vec::new(),
            },
            PickerKind::Resume => match self.session.listed.get(index) {
                Some(session) => {
                    let interrupt = self.turn.running().then_some(Send(Op::Interrupt));
                    interrupt
                        .into_iter()
                        .chain([
                            Effect::Resuming(resume::last_active(session)),
                            Send(Op::Resume(session.path.clone())),
                        ])
                        .collect()
                }
                None => Vec::new(),
            },
            PickerKind::Rewind => vec![Effect::Rewind(index)],
            PickerKind::UndoFiles => vec![Effect::UndoFiles(index)],
            PickerKind::ImplementPlan => vec![Effect::Implement(index)],
            PickerKind::Question => vec![Effect::Answer(label)],
            PickerKind::StillRunning => self.still_running_picked(index),
            PickerKind::Hooks => self.hooks_picked(index),
            PickerKind::Accounts => self.account_picked(index),
            PickerKind::Trust => self.trust_picked(index),
            PickerKind::ProjectSettings => self.project_settings_picked(index == 0),
            PickerKind::Surface(surface) => vec![Effect::PickSurface(surface, Some(index))],
            PickerKind::Export | PickerKind::ConfirmDelete | PickerKind::Presets => {
                self.session_picked(kind, index)
            }
            PickerKind::Review => self.review_picked(index),
            PickerKind::Keymap | PickerKind::KeymapEdit | PickerKind::KeymapKey => {
                vec![Effect::Keymap(Some((kind, index)), String::new())]
            }
            PickerKind::ReviewCommit => match self.revisions.commits.get(index) {
                Some((sha, subject)) => self.review_target(crate::protocol::ReviewTarget::commit(
                    sha,
                    Some(subject.clone()),
                )),
                None => Vec::new(),
            },
            PickerKind::ReviewBranch => match self.revisions.branches.get(index) {
                Some(branch) => {
                    self.review_target(crate::protocol::ReviewTarget::base_branch(branch))
                }
                None => Vec::new(),
            },
            PickerKind::Approval => {
                let modes = ApprovalMode::ALL;
                let trust = index.checked_sub(modes.len());
                match modes.get(index) {
                    Some(&mode) => vec![
                        Effect::SetApprovalMode(mode),
                        Notice(format!(
                            "Approval mode: {} — {}",
                            approval_name(mode),
                            approval_detail(mode)
                        )),
                    ],
                    None if trust.is_some_and(|at| at < TRUST_CHOICES.len()) => {
                        self.trusted(trust == Some(0))
                    }
                    None => match self
                        .status
                        .command_rules
                        .get(index - modes.len() - TRUST_CHOICES.len())
                    {
                        Some(rule) => vec![
                            Notice(format!("{} asks again from now on", rule.shown())),
                            Send(Op::RemoveCommandRule(rule.clone())),
                        ],
                        None => Vec::new(),
                    },
                }
            }
        }
    }

    /// `/review`'s first picker: the working tree at once; a commit or a base branch from the
    /// repository (their picker opens while git is asked); or instructions typed after
    /// `/review` in the composer.
    fn review_picked(&self, index: usize) -> Vec<Effect> {
        let (kind, title) = match index {
            0 => return self.review(""),
            1 => (PickerKind::ReviewCommit, "Review a commit"),
            2 => (PickerKind::ReviewBranch, "Review against a branch"),
            _ => return vec![Effect::Draft("/review ".to_string())],
        };
        vec![
            Effect::OpenPicker(
                kind,
                Picker::new(title, Vec::new(), "asking git…").searchable(),
            ),
            Send(Op::ListRevisions),
        ]
    }
}

/// `/permissions`' choices about the folder's trust, after the modes.
const TRUST_CHOICES: [(&str, &str); 2] = [
    ("trust this folder", "full-auto here from now on (kept)"),
    ("do not trust it", "ask; commands only read (kept)"),
];

/// `/review` alone: what to review, picked.
fn review_picker() -> Vec<Effect> {
    let items = PickerItem::choices(&REVIEW_CHOICES);
    vec![Effect::OpenPicker(
        PickerKind::Review,
        Picker::new("What to review", items, ""),
    )]
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Instant;

    use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

    use super::*;
    use crate::protocol::AuthSummary;
    use crate::tui::app::InitialState;

    fn signed_in() -> (App, UnboundedReceiver<Op>) {
        let (ops, sent) = unbounded_channel();
        let initial = InitialState {
            provider: None,
            settings_from: Vec::new(),
            auth: Some(AuthSummary::ApiKey {
                masked: "sk-…abcd".into(),
            }),
            model: "gpt-5.5".into(),
            effort: ReasoningEffort::default(),
            service_tier: None,
            project_dir: PathBuf::from("/work/project"),
            approval_mode: ApprovalMode::default(),
            sandbox: "workspace-write".into(),
            headless: false,
            warning: None,
            mouse: false,
            pick_session: false,
            fork_picked: false,
            ask_trust: None,
            prompt: None,
            config_file: PathBuf::from("/home/ana/.config/kelp/config.toml"),
            state_dir: PathBuf::from("/home/ana/.local/state/kelp"),
            images: Vec::new(),
            server: None,
            notice: None,
            resuming: false,
            open_agents: false,
            came_from: None,
            project_waiting: Vec::new(),
            surfaces: Default::default(),
        };
        (App::new(ops, initial), sent)
    }

    /// A command that must wait for the answer asks for nothing but saying so while a turn
    /// runs, and for its work once the turn is over; working it out changes nothing.
    #[test]
    fn commands_that_wait_for_the_answer_ask_only_to_say_so_while_it_streams() {
        let (mut app, mut sent) = signed_in();
        app.turn.start(Instant::now());
        for (command, name) in [
            (SlashCommand::Compact, "/compact"),
            (SlashCommand::Fork, "/fork"),
            (SlashCommand::Init, "/init"),
            (SlashCommand::Review, "/review"),
        ] {
            let effects = app.slash(command, "");
            assert!(
                matches!(effects.as_slice(), [Error(why)] if why.contains("still coming") && why.contains(name)),
                "{name}: {effects:?}"
            );
        }
        assert!(
            sent.try_recv().is_err(),
            "working a command out sent nothing"
        );
        app.turn.finish(false);
        let effects = app.slash(SlashCommand::Compact, "the parser");
        assert!(
            matches!(
                effects.as_slice(),
                [Notice(_), Send(Op::Compact { focus: Some(focus), turn_id: None })] if focus == "the parser"
            ),
            "{effects:?}"
        );
        let effects = app.slash(SlashCommand::Fork, "");
        assert!(matches!(
            effects.as_slice(),
            [Effect::AwaitFork, Send(Op::Fork)]
        ));
        // Carried out, the fork is sent and awaited.
        app.perform(Command::Slash(SlashCommand::Fork, String::new()));
        assert!(matches!(sent.try_recv(), Ok(Op::Fork)));
        assert!(app.session.forking);
    }

    #[test]
    fn picking_a_model_sets_it_and_then_asks_for_its_effort() {
        let (mut app, mut sent) = signed_in();
        let effects = app.picked(PickerKind::Model, 1, "gpt-5.4-mini".into());
        assert!(
            matches!(
                effects.as_slice(),
                [
                    Effect::SetModel(model),
                    Effect::OpenPicker(PickerKind::Effort, _),
                    Notice(said),
                ] if model == "gpt-5.4-mini" && said.starts_with("Model: gpt-5.4-mini,")
            ),
            "{effects:?}"
        );
        assert_eq!(
            app.status.model, "gpt-5.5",
            "nothing changed before it is carried out"
        );
        for effect in effects {
            app.apply(effect);
        }
        assert_eq!(app.status.model, "gpt-5.4-mini");
        assert!(matches!(sent.try_recv(), Ok(Op::SetModel(model)) if model == "gpt-5.4-mini"));
    }

    #[test]
    fn a_new_conversation_stops_the_turn_first() {
        let (mut app, _sent) = signed_in();
        app.turn.start(Instant::now());
        let effects = app.slash(SlashCommand::New, "");
        assert!(
            matches!(
                effects.as_slice(),
                [
                    Send(Op::Interrupt),
                    Send(Op::NewConversation),
                    Effect::ClearConversation,
                    Notice(_)
                ]
            ),
            "{effects:?}"
        );
    }
}
