//! The agent core: one task owns a conversation, front ends send `Op`s and receive `Event`s.
//!
//! - `core.rs`: the task (`Op`s in, `Event`s out); `core/start.rs` its options, `spawn`,
//!   `core::open` for the faces and `StartFacts` for a first frame; `core/logins.rs` keys,
//!   sign-ins and the model list through the accounts service; `core/sessions.rs` the saved
//!   conversations it lists; `core/history.rs` its work on the history between turns (rewind,
//!   undo, fork, rename); `core/goal.rs` the turns it starts toward a goal and their spending;
//!   `goal_notes.rs` what a turn does for the goal (notes, the budget's wrap-up);
//!   `core/input.rs` input that steers a turn or came after it, and `/init`;
//!   `core/hooks.rs` the person's hooks read as it starts (and Codex's `notify` told of a
//!   finished turn), `hook_points.rs` where a turn
//!   fires them (a prompt, a tool call before and after, the turn's end, the session's start).
//! - `turn.rs`: the tool loop (request, run the calls, request again until a response has none;
//!   step limit 100); `calls.rs`: one step's calls, parsed, judged, asked and run, each
//!   answered once in call order. `turn_context.rs`: what the loop and compaction share (the turn's context,
//!   how it fails, the retry a face sees). `items.rs`: each answer and reasoning summary as an
//!   item with an id when it starts, grows and completes, and the ids a retry voids.
//! - `review.rs`: review mode, a turn that reviews changes (uncommitted, against a branch, a
//!   commit, or the person's words) with its prompt.
//! - `replay.rs`: a saved conversation as the events its turns sent live, turn by turn under
//!   their saved ids; the one reader of saved history every face draws a reopened one from.
//! - `conversation.rs`: history, model, session file, usage; `conversation/rewind.rs` going
//!   back to before a turn. `compact.rs`: a summary replaces
//!   what is sent when the window is nearly full, overflows, or on `/compact`.
//! - `mentions.rs`: `@path` in a prompt, the files going with the message as extra parts
//!   (images through `crate::llm::images`).
//!   `instructions.rs`: `AGENTS.md` from `~/.config/kelp/`, then the git root down to the project.
//! - `approval.rs`: the modes and asking (the tools themselves are `crate::tools`, the floor
//!   beneath); `auto_review/`: a reviewing model that answers approvals first, within hard
//!   limits (`approvals_reviewer = "auto_review"`); `asks.rs`: what a turn puts to the person while a call runs (an approval, a
//!   host a command asks to reach, a run outside the sandbox). `host_asks.rs`: how a face that asks a host (the app-server, ACP) hands the
//!   core the answers. `git.rs`: the git kelp runs itself (`/diff`), confined as a command is
//!   and with the repository's code-running settings off; `worktree.rs`: the git worktrees kelp
//!   makes for a conversation (`--worktree`, `/worktree`, a child agent's own), lists and
//!   removes. `files.rs`: a host's own file operations (`fs/*`), beneath the folders it
//!   opened, through the tools' opener.
//!
//! Its other files:
//! - `command_rules.rs`: commands a person let run without asking in one project, by the words they
//!   start with (`cargo test`, `npm run build`), as Codex's "don't ask again for commands that
//!   start with …".
//! - `read_only.rs`: commands that only read, which run without asking in every mode (`ls`, `cat`,
//!   `rg`, `git status`…).
//! - `skills.rs`: skills, in Codex's format.
//! - `team.rs`: a team of agents (Codex's `multi_agent_v2`): the collaboration tools' calls, the
//!   agents' mailboxes; `team/spawn.rs` a child agent's core started and followed.
pub mod approval;
mod asks;
pub mod auto_review;
pub mod calls;
pub mod command_rules;
pub mod compact;
pub mod conversation;
pub mod core;
pub mod files;
mod git;
pub mod goal_notes;
mod hook_points;
pub mod host_asks;
pub mod instructions;
pub(crate) mod items;
pub mod mentions;
pub mod read_only;
pub mod replay;
pub mod review;
pub mod skills;
pub mod team;
pub mod turn;
pub mod turn_context;
pub mod worktree;
