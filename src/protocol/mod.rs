//! The contract between a face and the core, as plain values beneath both: the faces (the TUI,
//! `kelp run`/`exec`, the app-server's and ACP's threads, a client on a server) send `Op`s and
//! receive `Event`s and `Reply`s; `values.rs` holds what they carry (images, a patch's changes,
//! review targets, the skills found, the model's questions), `account.rs` the login's values,
//! `model.rs` the model server's, `saved.rs` a saved conversation's, `agents.rs` the command center's rows, `terminals.rs` the background terminals `/ps` lists and the hooks `/hooks` does, `settings.rs` the modes
//! and servers a face sets, `review.rs` auto-review's (who answers approvals, what a review
//! decided), `events.rs` the `Event`s of a turn and what a face that prints
//! lines reads of them. The contract imports no floor above it: those floors import it. What a face does beyond its
//! own protocol goes through the services below it: the account service (`auth::accounts`)
//! for logins, the saved sessions (`session`), a host's files (`agent::files`), a command only
//! through the tools' sandboxed shell; a face never opens auth.json or talks to OpenAI itself.

use std::path::PathBuf;

mod account;
mod agents;
mod events;
mod model;
mod review;
mod saved;
mod settings;
mod terminals;
mod values;

use crate::secret::Secret;
pub use account::*;
pub use agents::*;
pub use events::*;
pub use model::*;
pub use review::*;
pub use saved::*;
pub use settings::*;
pub use terminals::*;
pub use values::*;

/// What the person sends to start a turn.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Submission {
    /// Their words (with any `@path` mentions).
    pub text: String,
    /// Images that go with the words, as image input.
    pub images: Vec<ImageInput>,
    /// A JSON Schema the turn's final answer must follow (structured output), for this turn
    /// only.
    pub output_schema: Option<serde_json::Value>,
    /// The id the face gave the turn (the app-server's `turn/start` answer); the core makes
    /// one when `None`. It is saved with the turn and named in `TurnStarted`.
    pub turn_id: Option<String>,
    /// The words are kelp's, not the person's (a goal's next turn): the model reads them as a
    /// developer message, and no face shows them as a prompt.
    pub from_kelp: bool,
}

impl Submission {
    /// Words alone.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }
}

/// Settings an embedding host chooses for a conversation from its next turn on; `None` keeps
/// what is in force.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    pub model: Option<String>,
    pub approval: Option<ApprovalMode>,
    pub effort: Option<crate::protocol::ReasoningEffort>,
    pub summary: Option<crate::protocol::SummaryStyle>,
    /// How much commands may write, and whether they reach the network.
    pub sandbox: Option<(crate::protocol::SandboxMode, bool)>,
    /// Plan first, or work: Codex's collaboration modes.
    pub mode: Option<CollaborationMode>,
    /// The service tier requests ask for (`Some(None)`: none, the default).
    pub service_tier: Option<Option<crate::protocol::ServiceTier>>,
    /// Who approvals go to first (Codex's `approvalsReviewer`).
    pub reviewer: Option<ApprovalsReviewer>,
}

/// How the agent works with the person (Codex's collaboration modes): it does the work, or it
/// plans it first (read-only commands, no patch offered or run, a plan for an answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CollaborationMode {
    #[default]
    Default,
    Plan,
}

impl CollaborationMode {
    /// Both, in the order Shift+Tab goes through them.
    pub const ALL: [Self; 2] = [Self::Default, Self::Plan];

    /// The wire name (`default`, `plan`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Plan => "plan",
        }
    }

    /// The mode named `name`, with Codex's older names for the default one.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "default" | "code" | "execute" | "pair_programming" | "custom" => Some(Self::Default),
            "plan" => Some(Self::Plan),
            _ => None,
        }
    }

    /// The next one, for Shift+Tab.
    pub fn next(self) -> Self {
        match self {
            Self::Default => Self::Plan,
            Self::Plan => Self::Default,
        }
    }
}

/// A request from the front end to the core.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// The person runs a command themselves (`!cmd`): in the sandbox, its output shown as a
    /// tool call's, not sent to the model. `Interrupt` stops it.
    RunCommand(String),
    /// A host calls an MCP tool itself, outside any turn (`mcpServer/tool/call`): no approval,
    /// the host is the person's app. `McpToolCalled` with the same `id` answers.
    CallMcpTool {
        id: u64,
        server: String,
        tool: String,
        arguments: Option<serde_json::Value>,
    },
    /// Send a prompt; starts a turn.
    Submit(Submission),
    /// Add input to the running turn: it goes with the turn's next request (after the tool
    /// calls in flight), and the turn goes on until the model has answered it. With no turn
    /// running it joins the conversation for the next prompt.
    Steer(Submission),
    /// Stop the running turn at once.
    Interrupt,
    /// Answer an approval request.
    Approve { id: u64, decision: ApprovalDecision },
    /// Let the action auto-review denied last (or the review with this id denied) through
    /// once (`/approve`): the model is told, and when it asks for that action again it runs
    /// as if the person had said yes.
    ApproveDenied(Option<String>),
    /// The reviews of this conversation (`/approvals`): the answer is `Reply::Reviews`.
    ListReviews,
    /// The language servers' diagnostics of the files changed so far (`/diagnostics`): the
    /// answer is `Reply::Diagnostics`.
    ListDiagnostics,
    /// Answer the model's questions (`QuestionsAsked`): each question's id and the answers
    /// given; `None` when the person would not answer.
    AnswerQuestions { id: u64, answers: Option<Answers> },
    /// Start a fresh conversation.
    NewConversation,
    /// Use another model from the next turn on (a running turn keeps its model).
    SetModel(String),
    /// Change the approval mode.
    SetApprovalMode(ApprovalMode),
    /// The person's answer to the trust question for the project (its git repository's root,
    /// or the folder): kept in the config file, and the modes it sets applied from now on.
    TrustProject(bool),
    /// List the skills a new conversation here tells the model of; `Skills` answers.
    ListSkills,
    /// Look in the prompts folders again (a file may have been added since the start);
    /// `CustomPrompts` answers.
    FindPrompts,
    /// Forget a rule of this project's that lets commands with a prefix run, or reach a
    /// host, without asking; `CommandRules` answers with those left.
    RemoveCommandRule(ProjectRule),
    /// Use another reasoning effort from the next request on, saved to the config file as the
    /// model is.
    SetEffort(crate::protocol::ReasoningEffort),
    /// Settings for this conversation from the next turn on, not saved to the config file (an
    /// embedding host's per-turn choice).
    Override(Settings),
    /// Start a ChatGPT login; `name`: what to keep it as beside the other logins (`None`: the
    /// name it had, else its email).
    StartLogin {
        method: LoginMethod,
        name: Option<String>,
    },
    /// Ask for the logins kept (`/account`): the answer is `Reply::Logins`.
    ListLogins,
    /// Put the login kept under this name in use: the next request carries it.
    SwitchLogin(String),
    /// The redirect URL (or bare code) pasted back for a browser login on another machine; it
    /// holds a one-time authorization code, so it is kept out of `Debug`.
    PasteLoginRedirect(Secret),
    /// Cancel a running login, releasing its port or poll loop.
    CancelLogin,
    /// Store an API key as the login: after one request shows the API accepts it, or without
    /// that check when `unchecked` (the person chose to save a key the check could not reach).
    SaveApiKey { key: Secret, unchecked: bool },
    /// Remove the login.
    Logout,
    /// Ask for the models of the current login.
    RefreshModels,
    /// Continue the saved conversation in this file: its transcript is shown and its history is
    /// sent to the model from the next request on.
    Resume(PathBuf),
    /// Ask for this project's saved conversations, newest first (the `/resume` picker).
    ListSessions,
    /// Ask for this project's saved conversations that say this (`/resume`'s search): the
    /// answer is `Reply::SessionsSaying`.
    SearchSessions(String),
    /// Show what the conversation changed: the answer is `Reply::WorkingTreeDiff`.
    Diff,
    /// The repository's recent commits and local branches, for `/review`'s pickers: the
    /// answer is `Reply::Revisions`.
    ListRevisions,
    /// Make a git worktree of the project's repository for a new conversation (`/worktree`):
    /// the answer is `Reply::Worktree`.
    MakeWorktree,
    /// The command center's list: this conversation, the agents it spawned, those the
    /// person's own app-server holds open, and with `saved` the saved conversations of every
    /// project (read from their files, so asked as the list opens, not on each refresh). The
    /// answer is `Reply::Agents`.
    ListAgents { saved: bool },
    /// Ask a question beside the conversation (`/side`): in the side conversation open, or in
    /// a new copy of this one that adds nothing to it. Its events come as `Reply::Side`.
    Side(String),
    /// Close the side conversation (it stays saved).
    CloseSide,
    /// The conversation's background terminals (`/ps`): the answer is `Reply::Terminals`.
    ListTerminals,
    /// End one background terminal, or every one with `None` (`/stop`); the answer is
    /// `Reply::Terminals` with those left.
    StopTerminals(Option<i64>),
    /// The person's hooks (`/hooks`): the answer is `Reply::Hooks`.
    ListHooks,
    /// Trust the hooks of these hashes, so they run from now on; the answer is `Reply::Hooks`.
    TrustHooks(Vec<String>),
    /// Turn the hooks of these hashes on or off; the answer is `Reply::Hooks`.
    EnableHooks { hashes: Vec<String>, enabled: bool },
    /// The newest turns of the saved conversation with this id, to show beside the one in
    /// hand. The answer is `Reply::AgentTranscript`.
    ReadAgent(String),
    /// An op for the agent of this conversation's team whose conversation has this id (a
    /// host's turn on the agent's own thread, or its interrupt); dropped when no such agent
    /// runs.
    ToAgent { conversation: String, op: Box<Op> },
    /// Take a message waiting in the queue of the server's thread out of it, to edit or drop
    /// (a client on a server: `thread/queue/delete`).
    TakeQueued(String),
    /// Ask the model to write an `AGENTS.md` for the project (through the usual patch
    /// approval); refused with an error when one exists.
    Init,
    /// Go back to before a turn: it and the turns after it leave the conversation. Answered
    /// with `Rewound`.
    Rewind(RewindTo),
    /// Continue in a copy of this conversation (a fork); the original stays as it was.
    Fork,
    /// Name this conversation (an empty name clears it): the lists show it.
    Rename(String),
    /// Undo the file changes of the turns the last rewind dropped, where the files are still
    /// as those changes left them. Answered with `FilesUndone`.
    UndoRewound,
    /// Set the conversation's goal, or change it (its status, its budget): the core starts
    /// working toward an active goal at once when no turn runs. `GoalUpdated` answers; a
    /// change that cannot be is an `Error`.
    SetGoal(crate::protocol::GoalChange),
    /// Clear the conversation's goal; `GoalCleared` answers.
    ClearGoal,
    /// Compact the conversation now: the model summarises it (keeping `focus` in particular)
    /// and later requests carry the summary instead of the old items. Runs as a turn.
    Compact {
        focus: Option<String>,
        /// The id the face gave the turn (as `Submission::turn_id`).
        turn_id: Option<String>,
    },
    /// Review `target` in a turn of its own: a reviewer that reads with a read-only sandbox
    /// and none of the conversation's talk, whose findings then join the conversation (see
    /// `turn::run_review`).
    Review {
        target: ReviewTarget,
        /// The id the face gave the turn (as `Submission::turn_id`).
        turn_id: Option<String>,
    },
    /// End the core.
    Shutdown,
}

/// Where a rewind goes back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RewindTo {
    /// To before the turn with this id.
    Turn(String),
    /// To before the last this many turns.
    Last(usize),
}

/// A rewind done: the conversation as it is now, the words of the turn gone back to, and the
/// files the dropped turns changed (as shown to the person), which `UndoRewound` may put back.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewound {
    pub replay: Box<Replay>,
    pub prompt: Option<String>,
    pub files: Vec<String>,
}

/// A person's answer to an approval request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalDecision {
    /// Run it this once (a host: this command may reach it).
    Yes,
    /// Do not run it; the optional reason is passed to the model.
    No { reason: Option<String> },
    /// Run it, and the same command (or any patch) again for the rest of the session (a host:
    /// every command of the session may reach it).
    Always,
    /// Run it, and from now on in this project every plain command that starts as the
    /// request's `always_prefix` does (a host: commands here reach it), kept in `rules.toml`
    /// (a command's or a host's request only).
    AlwaysPrefix,
    /// Do not run it, and from now on in this project commands are refused the request's
    /// host unasked, kept in `rules.toml` (a host's request only; any other is a plain no).
    NeverHere,
}

/// What an approval request asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalSubject {
    /// A shell command, in full, with its directory, and the prefix "always in this
    /// project" would let through (`cargo test`), when it is one plain command.
    Command {
        command: String,
        workdir: PathBuf,
        always_prefix: Option<Vec<String>>,
    },
    /// A patch: the whole diff, and each file's change with its text before and after.
    Patch {
        diff: String,
        changes: Vec<FileChange>,
    },
    /// A read-only tool reaching outside the project: what it does and the outside paths.
    Read {
        summary: String,
        paths: Vec<PathBuf>,
    },
    /// A tool of an MCP server, with its arguments as pretty JSON (empty when none).
    McpTool {
        server: String,
        tool: String,
        arguments: String,
    },
    /// A command to run without the sandbox: one the sandbox stopped, to run once more, or
    /// one the model asks to run outside it (`sandbox_permissions: "require_escalated"`).
    Unsandboxed {
        command: String,
        workdir: PathBuf,
        /// Why: what the output of the stopped run mentions, in words that claim nothing kelp
        /// cannot know (`the output mentions a permission error, and kelp cannot tell whether
        /// the sandbox caused it (…)`), or the model's own question (`justification`).
        blocked: String,
        /// The model asked before any run: `blocked` is its question.
        requested: bool,
        /// The prefix "always in this project" would let run outside the sandbox unasked
        /// (`cargo publish`), when it is one plain command; never a bare interpreter.
        always_prefix: Option<Vec<String>>,
    },
    /// A running command's first contact with a host no list names (`network = "domains"`):
    /// may it reach it?
    Network {
        host: String,
        port: u16,
        via: crate::protocol::Via,
        /// The command, in full, and where it runs.
        command: String,
        workdir: PathBuf,
    },
}

/// The most characters of the model's justification a question shows: four rows at most at
/// 60 columns.
pub const MAX_MODELS_WORDS: usize = 160;

impl ApprovalSubject {
    /// What waits for the person, in one short line for a notification (Codex's words:
    /// `Approval requested: cargo test`).
    pub fn requested_line(&self) -> String {
        const MOST: usize = 30;
        let cut = |text: &str| match text.char_indices().nth(MOST) {
            Some((at, _)) => format!("{}…", &text[..at]),
            None => text.to_string(),
        };
        match self {
            Self::Command { command, .. } | Self::Unsandboxed { command, .. } => {
                format!("Approval requested: {}", cut(command))
            }
            Self::Patch { changes, .. } => match changes.as_slice() {
                [one] => {
                    let name = one.path.file_name().unwrap_or(one.path.as_os_str());
                    format!("kelp wants to edit {}", cut(&name.to_string_lossy()))
                }
                many => format!("kelp wants to edit {} files", many.len()),
            },
            Self::Read { summary, .. } => format!("Approval requested: {}", cut(summary)),
            Self::McpTool { server, .. } => format!("Approval requested by {server}"),
            Self::Network { host, port, .. } => {
                format!(
                    "Approval requested: reach {}",
                    cut(&format!("{host}:{port}"))
                )
            }
        }
    }

    /// The question of an [`ApprovalSubject::Unsandboxed`], as a face that has one line for it
    /// says it.
    pub fn unsandboxed_question(blocked: &str, requested: bool) -> String {
        if requested {
            format!(
                "the model asks to run this outside the sandbox, saying: {}",
                Self::models_words(blocked)
            )
        } else {
            format!("{blocked}; run it again without the sandbox?")
        }
    }

    /// The model's own words about a call (its justification), as a question shows them: on
    /// one line, each run of whitespace one space, at most [`MAX_MODELS_WORDS`] characters,
    /// so they can draw no line of their own (a fake command, a fake "in DIR" under it) and
    /// push nothing off the screen.
    pub fn models_words(text: &str) -> String {
        let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
        match collapsed.char_indices().nth(MAX_MODELS_WORDS) {
            Some((cut, _)) => format!("{}…", &collapsed[..cut]),
            None => collapsed,
        }
    }

    /// The outside paths of an [`ApprovalSubject::Read`], as a face lists them in one line.
    pub fn outside_paths(paths: &[PathBuf]) -> String {
        paths
            .iter()
            .map(|path| path.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a person decided for good in one project, kept in `rules.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProjectRule {
    /// Plain commands whose words start with these (`cargo test`) run.
    Prefix(Vec<String>),
    /// Commands reach this host through kelp's proxy (`network = "domains"`).
    Host(String),
    /// Commands are refused this host unasked.
    RefusedHost(String),
    /// Plain commands whose words start with these (`cargo publish`) run outside the sandbox
    /// without asking, when the model asks to run them there (Codex's "don't ask again for
    /// commands that start with …" on its escalation question).
    Unsandboxed(Vec<String>),
    /// Commands that hold these words (`git push`) ask the person every time, in every mode,
    /// and are never the auto-reviewer's to allow (`[[ask]]`, written by hand).
    AlwaysAsk(Vec<String>),
}

impl ProjectRule {
    /// The rule as a person reads it: `` `cargo test` `` or `example.com`.
    pub fn shown(&self) -> String {
        match self {
            Self::Prefix(words) | Self::Unsandboxed(words) | Self::AlwaysAsk(words) => {
                format!("`{}`", words.join(" "))
            }
            Self::Host(host) | Self::RefusedHost(host) => host.clone(),
        }
    }

    /// What the rule does, after [`ProjectRule::shown`].
    pub fn what(&self) -> &'static str {
        match self {
            Self::Prefix(_) => "runs without asking here",
            Self::Host(_) => "reached by commands here",
            Self::RefusedHost(_) => "refused to commands here",
            Self::Unsandboxed(_) => "runs outside the sandbox without asking here",
            Self::AlwaysAsk(_) => "always asks you here, never the auto-reviewer",
        }
    }
}

/// One step of the model's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanStep {
    pub step: String,
    pub status: PlanStatus,
}

/// The state of a plan step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanStatus {
    Pending,
    InProgress,
    Completed,
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnOutcome {
    /// The model finished.
    Completed,
    /// The user interrupted it.
    Interrupted,
    /// The model stopped before its answer was done; the message says why, in one line.
    Stopped { cause: StopCause, message: String },
    /// It failed: the message is one readable line, the category what a script may act on.
    Failed {
        /// What went wrong, in one line.
        message: String,
        /// Sign in again, wait for a limit, or anything else.
        category: ErrorCategory,
    },
}

/// Why the model stopped an answer early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCause {
    /// It reached its output token limit.
    OutputLimit,
    /// It refused, or the content filter stopped it.
    Refusal,
    /// It kept calling tools until the turn's request limit.
    StepLimit,
}

/// A reopened conversation, turn by turn.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Replay {
    pub turns: Vec<ReplayedTurn>,
    /// The token usage last saved.
    pub usage: TokenUsage,
    /// Tokens the last request took (0 when not saved).
    pub context_used: u64,
    /// Whether the history holds the project's instructions message (AGENTS.md).
    pub has_instructions: bool,
    /// Turns before these that are not shown again (the session file keeps them).
    pub earlier_turns: usize,
    /// The conversation's goal, as last saved.
    pub goal: Option<crate::protocol::Goal>,
}

/// One turn: what the person sent and the events that followed, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayedTurn {
    pub id: String,
    pub entries: Vec<Replayed>,
    /// How the turn ended when it did not finish: an interruption, an early stop or a failure,
    /// with the line that was shown.
    pub ended: Option<(crate::protocol::TurnEnd, Option<String>)>,
}

/// A step of a replayed turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Replayed {
    /// What the person sent: the prompt that began the turn, or steering after it.
    Prompt(SavedPrompt),
    /// What the core reported, as it did live.
    Event(Event),
}

/// The person's input as saved.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedPrompt {
    /// Their words, without the files their `@` mentions attached.
    pub text: String,
    /// The files those mentions attached.
    pub attached: Vec<String>,
    /// The images, as URLs (`data:` or `https:`).
    pub images: Vec<String>,
    /// Added while the turn ran, not the words that began it.
    pub steer: bool,
}

impl ReplayedTurn {
    /// The events of the turn, without the person's input.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.entries.iter().filter_map(|entry| match entry {
            Replayed::Event(event) => Some(event),
            Replayed::Prompt(_) => None,
        })
    }

    /// Whether the turn ended early right after an answer: the answer was cut short (what had
    /// streamed of it is what was saved).
    pub fn ends_in_answer(&self) -> bool {
        self.ended.is_some()
            && matches!(
                self.entries.last(),
                Some(Replayed::Event(Event::MessageDone { .. }))
            )
    }
}

/// Names an item of a turn from its start to its end; shared, so each delta clones a pointer.
pub type ItemId = std::sync::Arc<str>;

/// What an item that streams text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// An answer of the model.
    AgentMessage,
    /// A summary of the model's reasoning.
    Reasoning,
}

/// What a review can be of in the project's repository.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Revisions {
    /// The newest commits first: the short id and the subject.
    pub commits: Vec<(String, String)>,
    /// The local branches but the one checked out.
    pub branches: Vec<String>,
    /// The branch checked out, if any.
    pub current: Option<String>,
}

/// A git worktree kelp made for a conversation: a folder of kelp's beside the repository, on
/// a branch of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worktree {
    /// Its name among kelp's worktrees of the repository.
    pub id: String,
    /// Its top folder.
    pub root: PathBuf,
    /// Where a conversation works in it: the folder below the top the one it was made from was.
    pub project_dir: PathBuf,
    /// Its branch.
    pub branch: String,
}

/// What the core says back to a face's own request: the sessions it asked for, a diff, the
/// steps of a login it started. Not an event of any turn, so a face that never asks for one
/// matches none of them.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The rules of this project that let commands run without asking, by prefix (`cargo
    /// test`), or reach a host: at start, and after one is added or removed.
    CommandRules(Vec<ProjectRule>),
    /// The skills found for this project (`ListSkills`).
    Skills(Found),
    /// The custom prompts found in the prompts folders, for a client to offer as commands.
    CustomPrompts(Vec<crate::protocol::CustomPrompt>),
    /// A step of a running login.
    Login(LoginEvent),
    /// A new API key could not be checked (no network, a server error): the reason, one line.
    /// Nothing was saved; sending the key again `unchecked` saves it.
    ApiKeyUnchecked(String),
    /// The login changed (`None`: logged out). The string describes it for the status line.
    AuthChanged(Option<AuthSummary>),
    /// The logins kept, the one in use first (`ListLogins`).
    Logins(Vec<LoginRow>),
    /// The models of the current login, and the one in use.
    Models {
        available: Vec<String>,
        current: String,
    },
    /// A saved conversation was resumed: its turns as the events they sent live, to be drawn
    /// as the transcript.
    Restored(Box<Replay>),
    /// The answer to `Rewind`: done, or why not in one line.
    Rewound(Result<Rewound, String>),
    /// The answer to `UndoRewound`: the files put back, and those left as they are with why.
    FilesUndone {
        restored: Vec<String>,
        refused: Vec<(String, String)>,
    },
    /// `git diff HEAD` of the project, untracked files listed after it; `None` when the project
    /// is not in a git repository (or git cannot run).
    WorkingTreeDiff(Option<String>),
    /// The project's recent commits and local branches; `None` when the project is not in a
    /// git repository (or git cannot run).
    Revisions(Option<Revisions>),
    /// The worktree `MakeWorktree` made, or why it could not be made.
    Worktree(Result<Worktree, String>),
    /// The messages waiting in the server's queue for this thread (`kelp queue`, another
    /// client's), oldest first: each one's id and its words.
    ServerQueue(Vec<(String, String)>),
    /// The command center's rows, the conversation in hand first; `saved`: the saved
    /// conversations are among them (else the team's and the server's alone, the saved ones as
    /// last listed).
    Agents { rows: Vec<AgentRow>, saved: bool },
    /// The conversation's background terminals, oldest first.
    Terminals(Vec<BackgroundTerminal>),
    /// The person's hooks: asked for (`Op::ListHooks`), trusted, or at the start when some
    /// wait for trust.
    Hooks(Vec<HookRow>),
    /// An event of the side conversation (`Op::Side`).
    Side(Box<Event>),
    /// The newest turns of the conversation `ReadAgent` named, or why it cannot be read.
    AgentTranscript {
        conversation: String,
        shown: Result<Box<Replay>, String>,
    },
    /// Prompts typed in this project's earlier conversations, oldest first, for the
    /// composer's history.
    PromptHistory(Vec<String>),
    /// This project's saved conversations, newest first.
    Sessions(Vec<SessionSummary>),
    /// This project's saved conversations that say `term`, newest first, each with the first
    /// line that says it.
    SessionsSaying {
        term: String,
        found: Vec<(SessionSummary, String)>,
    },
    /// The project instruction files (AGENTS.md) loaded for the conversation, for `/status`.
    Instructions(Vec<InstructionFile>),
    /// The conversation now in use (started or resumed): its session id, which `--resume` and
    /// embedding hosts name it by.
    Conversation { id: String },
    /// The conversation's name (`/rename`), after it is named and as a named one is resumed;
    /// `None` once its name is taken away.
    Named(Option<String>),
    /// The MCP servers and where each is, after any change (`/mcp` lists them).
    McpServers(Vec<crate::protocol::ServerStatus>),
    /// The auto-reviews of this conversation, oldest first (`ListReviews`).
    Reviews(Vec<AutoReview>),
    /// The language servers' diagnostics (`ListDiagnostics`).
    Diagnostics(DiagnosticsReport),
}

impl From<Reply> for Event {
    fn from(reply: Reply) -> Self {
        Event::Reply(reply)
    }
}
