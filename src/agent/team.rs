//! A team of agents (Codex 0.171's `multi_agent_v2`): the first agent's model spawns agents
//! with the collaboration tools, each a core of its own running its own conversation in this
//! process, on the same login, HTTP client, MCP servers and approvals. Agents are named by
//! their task path (`/root`, `/root/alpha`, `/root/alpha/tests`); what one tells another waits
//! in the other's mailbox as Codex's envelope (`Message Type: NEW_TASK | MESSAGE |
//! FINAL_ANSWER`) and joins its conversation before its next request. A child's final answer is
//! mailed to its parent; `wait_agent` returns once mail waits. Interrupting an agent interrupts
//! those below it; when the first agent's core ends, every other one ends.
//!
//! `team/spawn.rs` starts a child's core and follows its events: its status, its final
//! answer, and the approvals it asks, which reach the person's face naming the child;
//! `team/words.rs` is what the agents are told, in Codex's words; `team/seen.rs` what the
//! command center shows of each; `team/roles.rs` the roles offered, a trusted project's too.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedSender, WeakUnboundedSender};

use super::approval::Approvals;
use super::conversation::Conversation;
use crate::auth::Accounts;
use crate::config::Config;
use crate::config::agents::AgentSettings;
use crate::llm::LlmClient;
use crate::mcp::McpManager;
use crate::protocol::{AgentActivity, AgentActivityKind, Event, Op};
use crate::tools::ToolOutput;
use crate::tools::collab::{CollabCall, SpawnArgs};

mod roles;
mod seen;
mod spawn;
mod words;

use words::Status;
use words::{CHILD_INSTRUCTIONS, FORKED, envelope, root_instructions, spec_of};

/// The first agent's task path.
pub const ROOT: &str = "/root";

/// `wait_agent`'s bounds and default, as Codex's.
const MIN_WAIT_MS: u64 = 10_000;
const MAX_WAIT_MS: u64 = 3_600_000;
const DEFAULT_WAIT_MS: u64 = 30_000;

/// What every agent of a team uses of the first one's: its login and HTTP client, its MCP
/// servers, its approvals (a child's question is answered where the person answers the first
/// agent's), and the face the person sees.
#[derive(Clone)]
pub struct Shared {
    pub client: LlmClient,
    pub accounts: Arc<Accounts>,
    pub mcp: Option<McpManager>,
    pub approvals: Approvals,
    pub face: UnboundedSender<Event>,
}

/// An agent's place in a team: the team, and its own path and depth. Cheap to clone.
#[derive(Clone)]
pub struct Seat {
    team: Team,
    path: String,
    depth: usize,
    /// What a new child's conversation starts with: its parent's history, when forked.
    inherited: Arc<[crate::llm::types::Item]>,
    /// Its role's instructions.
    role: Option<Arc<str>>,
    /// The conversation of the agent that spawned it.
    parent: Option<uuid::Uuid>,
    /// Its own conversation's id, given before it starts so the team can name it at once.
    id: Option<uuid::Uuid>,
    /// The folder it works in when not its parent's: a worktree of its own.
    project_dir: Option<std::path::PathBuf>,
    /// Its role's name, `default` when the call named none: what its hooks are told.
    agent_type: Arc<str>,
    /// Its parent's saved conversation, the `transcript_path` of its `SubagentStop` hooks.
    parent_transcript: Option<Arc<std::path::Path>>,
    /// The first agent's conversation, the session every agent of the tree shares (its hooks'
    /// `session_id`, as Codex's).
    session: Option<uuid::Uuid>,
    /// Its parent's language servers, when it works in its parent's folder: one server per
    /// language for the agents of a folder, not one each.
    lsp: Option<crate::tools::lsp::LanguageServers>,
}

/// What a child's hooks are told of it, as Codex's payloads name it.
pub struct AsChild<'a> {
    /// Its own conversation's id.
    pub agent_id: String,
    /// Its role.
    pub agent_type: &'a str,
    /// The first agent's conversation's id: the tree's session.
    pub session_id: String,
    /// Its parent's saved conversation.
    pub parent_transcript: Option<&'a std::path::Path>,
}

impl std::fmt::Debug for Seat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seat").field("path", &self.path).finish()
    }
}

/// The agents of one tree. Cheap to clone.
#[derive(Clone)]
pub struct Team(Arc<Inner>);

struct Inner {
    roster: Mutex<Vec<Member>>,
    /// Bumped whenever mail is delivered or a status changes: what `wait_agent` waits on.
    news: tokio::sync::watch::Sender<u64>,
    settings: AgentSettings,
    /// Each configured role with what its file sets (or why it cannot be read), read once as
    /// the team starts: every request offers them, every spawn uses one.
    roles: Vec<(
        crate::config::agents::AgentRole,
        Result<crate::config::agents::RoleSettings, String>,
    )>,
    /// The `collaboration` namespace as every request of the team offers it.
    spec: Value,
    /// The first agent's configuration, which a child's starts from.
    config: Config,
    /// Starts a child's core on its configuration and seat (the core's own `spawn`, with the
    /// first agent's options).
    spawner: Spawner,
    shared: Shared,
}

/// Starts an agent's core: where its ops go, where its events come from.
pub type Spawner = Arc<
    dyn Fn(
            Config,
            Seat,
        ) -> (
            UnboundedSender<Op>,
            tokio::sync::mpsc::UnboundedReceiver<Event>,
        ) + Send
        + Sync,
>;

/// One agent of the team.
struct Member {
    path: String,
    /// Its conversation's id, the older tool set's agent id.
    id: String,
    status: Status,
    /// Where its core takes ops: weakly for the first agent (its face owns it).
    ops: Ops,
    /// Envelopes waiting for its next request.
    mailbox: Vec<String>,
    /// What happened to the agents it spawned, waiting to be noted in its conversation.
    noted: Vec<AgentActivity>,
    /// A task that came as its turn was ending, to start once it has.
    next_task: Option<String>,
    /// What the command center shows of it; `None` for the first agent, which its face shows.
    seen: Option<seen::Seen>,
}

enum Ops {
    Root(WeakUnboundedSender<Op>),
    Child(UnboundedSender<Op>),
}

impl Ops {
    fn send(&self, op: Op) {
        match self {
            Self::Root(weak) => {
                if let Some(ops) = weak.upgrade() {
                    let _ = ops.send(op);
                }
            }
            Self::Child(ops) => {
                let _ = ops.send(op);
            }
        }
    }
}

impl Team {
    /// A team whose first agent's core is reached through `root_ops`; `None` when the
    /// configuration has the collaboration tools off.
    pub fn start(
        config: &Config,
        project_dir: &std::path::Path,
        spawner: Spawner,
        shared: Shared,
        root_ops: WeakUnboundedSender<Op>,
    ) -> Option<Seat> {
        if !config.agents.enabled {
            return None;
        }
        // A project's own roles only once the person trusts it.
        let trusted_root = (config.trust_of(project_dir) == Some(true))
            .then(|| crate::config::trust_root(project_dir));
        let roles = roles::roles(&config.agents.roles, trusted_root.as_deref());
        let spec = spec_of(&roles);
        let team = Self(Arc::new(Inner {
            roster: Mutex::new(vec![Member {
                path: ROOT.to_string(),
                id: ROOT.to_string(),
                status: Status::Running,
                ops: Ops::Root(root_ops),
                mailbox: Vec::new(),
                noted: Vec::new(),
                next_task: None,
                seen: None,
            }]),
            news: tokio::sync::watch::channel(0).0,
            settings: config.agents.clone(),
            roles,
            spec,
            config: config.clone(),
            spawner,
            shared,
        }));
        Some(Seat {
            team,
            path: ROOT.to_string(),
            depth: 0,
            inherited: Arc::from(Vec::new()),
            role: None,
            parent: None,
            id: None,
            project_dir: None,
            agent_type: Arc::from("default"),
            parent_transcript: None,
            session: None,
            lsp: None,
        })
    }

    fn roster(&self) -> std::sync::MutexGuard<'_, Vec<Member>> {
        self.0.roster.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn tell_news(&self) {
        self.0.news.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Keeps what happened to an agent `path`'s agent spawned, to be noted in its
    /// conversation.
    fn note_activity(&self, path: &str, activity: AgentActivity) {
        if let Some(member) = self.roster().iter_mut().find(|m| m.path == path) {
            member.noted.push(activity);
        }
    }

    /// Tells the face of `path`'s agent (`events`) what happened to an agent it spawned, and
    /// keeps it to be noted in its conversation.
    fn tell_activity(&self, path: &str, activity: AgentActivity, events: &UnboundedSender<Event>) {
        self.note_activity(path, activity.clone());
        let _ = events.send(Event::AgentActivity(activity));
    }

    /// Puts `envelope` in `path`'s mailbox.
    fn mail(&self, path: &str, envelope: String) {
        if let Some(member) = self.roster().iter_mut().find(|m| m.path == path) {
            member.mailbox.push(envelope);
        }
        self.tell_news();
    }

    fn set_status(&self, path: &str, status: Status) {
        if let Some(member) = self.roster().iter_mut().find(|m| m.path == path) {
            member.status = status;
        }
        self.tell_news();
    }

    /// Ends every agent but the first, and forgets them and what they sent it.
    fn shutdown(&self) {
        let mut roster = self.roster();
        for member in roster.iter_mut() {
            if let Ops::Child(ops) = &member.ops {
                let _ = ops.send(Op::Shutdown);
            }
        }
        roster.retain(|member| matches!(member.ops, Ops::Root(_)));
        for first in roster.iter_mut() {
            first.mailbox.clear();
            first.noted.clear();
            first.next_task = None;
        }
        drop(roster);
        self.tell_news();
    }
}

/// Parent path of `path` (`/root/a/b` → `/root/a`).
fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or(ROOT, |(parent, _)| parent)
}

impl Seat {
    /// This agent's task path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The folder a child works in: its parent's, or a worktree of its own.
    pub fn project_dir(&self) -> Option<&std::path::Path> {
        self.project_dir.as_deref()
    }

    /// The language servers a child shares with its parent (both in one folder).
    pub fn language_servers(&self) -> Option<crate::tools::lsp::LanguageServers> {
        self.lsp.clone()
    }

    /// Which agent of the team this is, for its saved conversation, and the id its
    /// conversation takes; `None` for the first.
    pub fn origin(&self) -> Option<(crate::protocol::AgentOrigin, uuid::Uuid)> {
        let origin = crate::protocol::AgentOrigin {
            path: self.path.clone(),
            parent: self.parent?,
        };
        Some((origin, self.id?))
    }

    /// What a child's hooks are told of it; `None` for the first agent, whose hooks are the
    /// session's own.
    pub fn as_child(&self) -> Option<AsChild<'_>> {
        Some(AsChild {
            agent_id: self.id?.to_string(),
            agent_type: &self.agent_type,
            session_id: self.session.or(self.parent)?.to_string(),
            parent_transcript: self.parent_transcript.as_deref(),
        })
    }

    /// What the team's agents share of the first one's.
    pub fn shared(&self) -> Shared {
        self.team.0.shared.clone()
    }

    /// What this agent's new conversation starts with after its instructions: the history it
    /// inherited, and what it is told about its team.
    pub fn opening(&self) -> Vec<crate::llm::types::Item> {
        use crate::llm::types::Item;
        let mut items: Vec<Item> = self.inherited.to_vec();
        if !items.is_empty() {
            items.push(Item::developer_text(FORKED));
        }
        if let Some(text) = &self.role {
            items.push(Item::developer_text(text.as_ref()));
        }
        items.push(Item::developer_text(if self.depth == 0 {
            root_instructions(self.team.0.settings.max_threads)
        } else {
            CHILD_INSTRUCTIONS.to_string()
        }));
        items
    }

    /// What happened to the agents this one spawned since it last asked, to note in its
    /// conversation.
    pub fn take_activities(&self) -> Vec<AgentActivity> {
        self.take_own(|member| &mut member.noted)
    }

    /// The envelopes waiting for this agent, oldest first; the mailbox is left empty.
    pub fn take_mail(&self) -> Vec<String> {
        self.take_own(|member| &mut member.mailbox)
    }

    /// What waits in this agent's `list` of the roster, taken out.
    fn take_own<T>(&self, list: impl FnOnce(&mut Member) -> &mut Vec<T>) -> Vec<T> {
        self.team
            .roster()
            .iter_mut()
            .find(|m| m.path == self.path)
            .map(|m| std::mem::take(list(m)))
            .unwrap_or_default()
    }

    /// The `collaboration` namespace as this team offers it, its roles listed.
    pub fn spec(&self) -> Value {
        self.team.0.spec.clone()
    }

    /// Interrupts the turns of every agent below this one.
    pub fn interrupt_below(&self) {
        let below = format!("{}/", self.path);
        for member in self.team.roster().iter() {
            if member.path.starts_with(&below) {
                member.ops.send(Op::Interrupt);
            }
        }
    }

    /// Ends the team, when this is its first agent: as its core ends, and as its conversation
    /// gives way to another (a new one, a resumed one, a fork), whose model never spawned them.
    pub fn leave(&self) {
        if self.depth == 0 {
            self.team.shutdown();
        }
    }

    /// The agent `target` names, from this one: a task path, a name below this agent, or an
    /// agent id.
    fn resolve(&self, target: &str) -> Result<String, String> {
        let target = target.trim();
        let roster = self.team.roster();
        let wanted = if target.starts_with('/') {
            target.to_string()
        } else if let Some(member) = roster.iter().find(|m| m.id == target) {
            member.path.clone()
        } else {
            format!("{}/{target}", self.path)
        };
        if roster.iter().any(|m| m.path == wanted) {
            Ok(wanted)
        } else {
            Err(format!("live agent path `{wanted}` not found"))
        }
    }

    /// Runs a collaboration call for this agent; `conversation` is its own, which a forked
    /// child inherits.
    pub async fn run(
        &self,
        (call, call_id): (&CollabCall, &str),
        conversation: &Conversation,
        cancel: &tokio_util::sync::CancellationToken,
        events: &UnboundedSender<Event>,
    ) -> ToolOutput {
        let started = Instant::now();
        let activity = |kind, path: &str| {
            self.team
                .tell_activity(&self.path, self.activity(call_id, kind, path), events);
        };
        let result = match call {
            CollabCall::Spawn(args) => {
                let announce = |started| {
                    let started = AgentActivity {
                        id: call_id.to_string(),
                        ..started
                    };
                    self.team.tell_activity(&self.path, started, events);
                };
                self.spawn(args, conversation, &announce).await
            }
            CollabCall::Followup {
                target,
                message,
                interrupt,
            } => self.followup(target, message, *interrupt).inspect(|_| {
                if let Ok(path) = self.resolve(target) {
                    activity(AgentActivityKind::Interacted, &path);
                }
            }),
            CollabCall::Message { target, message } => {
                self.message(target, message).inspect(|_| {
                    if let Ok(path) = self.resolve(target) {
                        activity(AgentActivityKind::Interacted, &path);
                    }
                })
            }
            CollabCall::Wait {
                targets,
                timeout_ms,
            } => self.wait(targets, *timeout_ms, cancel).await,
            CollabCall::Interrupt { target } => self.interrupt(target).inspect(|_| {
                if let Ok(path) = self.resolve(target) {
                    activity(AgentActivityKind::Interrupted, &path);
                }
            }),
            CollabCall::List { path_prefix } => Ok(self.list(path_prefix.as_deref())),
            CollabCall::Resume { target } => self
                .resolve(target)
                .map(|path| json!({ "status": self.status_of(&path).to_json() }).to_string()),
            CollabCall::Close { target } => self.close(target),
        };
        match result {
            Ok(text) => ToolOutput::ok(text, started.elapsed()),
            Err(why) => ToolOutput::failure(why, started.elapsed()),
        }
    }

    /// An activity of the agent at `path`, as the call `id` did it.
    fn activity(&self, id: &str, kind: AgentActivityKind, path: &str) -> AgentActivity {
        let conversation = self
            .team
            .roster()
            .iter()
            .find(|m| m.path == path)
            .map(|m| m.id.clone())
            .unwrap_or_default();
        AgentActivity {
            id: id.to_string(),
            kind,
            path: path.to_string(),
            conversation,
            model: None,
            effort: None,
        }
    }

    fn status_of(&self, path: &str) -> Status {
        self.team
            .roster()
            .iter()
            .find(|m| m.path == path)
            .map_or(Status::Shutdown, |m| m.status.clone())
    }

    /// Spawns an agent: what the model is told. Its start (its call's id left to `announce`)
    /// is announced before anything of its own work is.
    async fn spawn(
        &self,
        args: &SpawnArgs,
        conversation: &Conversation,
        announce: &(dyn Fn(AgentActivity) + Sync),
    ) -> Result<String, String> {
        let older = args.task_name.is_none();
        let name = match &args.task_name {
            Some(name) => name.trim().to_string(),
            None => {
                let taken = self.team.roster().len();
                format!("agent_{taken}")
            }
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(
                "agent_name must use only lowercase letters, digits, and underscores".into(),
            );
        }
        let settings = &self.team.0.settings;
        if self.depth + 1 > settings.max_depth {
            return Err(format!(
                "agent depth limit reached: agents may spawn agents {} deep ([agents] max_depth)",
                settings.max_depth
            ));
        }
        let path = format!("{}/{name}", self.path);
        {
            let roster = self.team.roster();
            if roster
                .iter()
                .any(|m| m.path == path && m.status != Status::Shutdown)
            {
                return Err(format!(
                    "agent `{path}` already exists: give it a follow-up task, or choose another task_name"
                ));
            }
            let active = roster.iter().filter(|m| !m.status.is_final()).count();
            if active >= settings.max_threads {
                return Err(format!(
                    "agent thread limit reached: {} agents may be active at once ([agents] max_threads); wait for one to finish",
                    settings.max_threads
                ));
            }
        }
        let worktree = match args.worktree {
            Some(true) => Some(spawn::own_worktree(conversation.project_dir()).await?),
            _ => None,
        };
        let task = envelope("NEW_TASK", &path, &self.path, &args.message);
        let started = spawn::start_child(
            self,
            (&path, args),
            conversation,
            task,
            worktree.as_ref(),
            announce,
        )?;
        let mut answer = if older {
            json!({ "agent_id": started.conversation, "nickname": name })
        } else {
            json!({ "task_name": path })
        };
        if let Some(made) = worktree {
            answer["worktree"] = json!({ "path": made.project_dir, "branch": made.branch });
        }
        Ok(answer.to_string())
    }

    fn message(&self, target: &str, message: &str) -> Result<String, String> {
        let path = self.resolve(target)?;
        self.team
            .mail(&path, envelope("MESSAGE", &path, &self.path, message));
        Ok(String::new())
    }

    fn interrupt(&self, target: &str) -> Result<String, String> {
        let path = self.resolve(target)?;
        let previous = self.status_of(&path);
        let below = format!("{path}/");
        for member in self.team.roster().iter() {
            if member.path == path || member.path.starts_with(&below) {
                member.ops.send(Op::Interrupt);
            }
        }
        Ok(json!({ "previous_status": previous.to_json() }).to_string())
    }

    fn close(&self, target: &str) -> Result<String, String> {
        let path = self.resolve(target)?;
        if path == ROOT {
            return Err("the root agent cannot be closed".into());
        }
        let previous = self.status_of(&path);
        let below = format!("{path}/");
        for member in self.team.roster().iter_mut() {
            if member.path == path || member.path.starts_with(&below) {
                member.ops.send(Op::Shutdown);
                member.status = Status::Shutdown;
            }
        }
        self.team.tell_news();
        Ok(json!({ "previous_status": previous.to_json() }).to_string())
    }

    fn list(&self, prefix: Option<&str>) -> String {
        let agents: Vec<Value> = self
            .team
            .roster()
            .iter()
            .filter(|m| m.status != Status::Shutdown)
            .filter(|m| prefix.is_none_or(|prefix| m.path.starts_with(prefix)))
            .map(|m| json!({ "agent_name": m.path, "agent_status": m.status.to_json() }))
            .collect();
        json!({ "agents": agents }).to_string()
    }

    /// Waits for mail for this agent (`targets` empty) or for one of `targets` to finish.
    async fn wait(
        &self,
        targets: &[String],
        timeout_ms: Option<u64>,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<String, String> {
        let asked = timeout_ms.unwrap_or(DEFAULT_WAIT_MS);
        let (timeout, clamped) = if asked < MIN_WAIT_MS {
            (
                MIN_WAIT_MS,
                Some(format!(
                    "Requested timeout of {asked}ms was clamped to the minimum of {MIN_WAIT_MS}ms."
                )),
            )
        } else if asked > MAX_WAIT_MS {
            (
                MAX_WAIT_MS,
                Some(format!(
                    "Requested timeout of {asked}ms was clamped to the maximum of {MAX_WAIT_MS}ms."
                )),
            )
        } else {
            (asked, None)
        };
        let paths = targets
            .iter()
            .map(|target| self.resolve(target))
            .collect::<Result<Vec<_>, _>>()?;
        let mut news = self.team.0.news.subscribe();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(timeout);
        let done = loop {
            news.borrow_and_update();
            let finished: Vec<(String, Status)> = {
                let roster = self.team.roster();
                if paths.is_empty() {
                    let has_mail = roster
                        .iter()
                        .any(|m| m.path == self.path && !m.mailbox.is_empty());
                    if has_mail {
                        break true;
                    }
                    Vec::new()
                } else {
                    roster
                        .iter()
                        .filter(|m| paths.contains(&m.path) && m.status.is_final())
                        .map(|m| (m.id.clone(), m.status.clone()))
                        .collect()
                }
            };
            if !finished.is_empty() {
                let status: serde_json::Map<String, Value> = finished
                    .into_iter()
                    .map(|(id, status)| (id, status.to_json()))
                    .collect();
                return Ok(json!({ "status": status, "timed_out": false }).to_string());
            }
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Err("aborted".into()),
                () = tokio::time::sleep_until(deadline) => break false,
                changed = news.changed() => if changed.is_err() { break false },
            }
        };
        if !paths.is_empty() {
            return Ok(json!({ "status": {}, "timed_out": true }).to_string());
        }
        let mut message = if done {
            "Wait completed."
        } else {
            "Wait timed out."
        }
        .to_string();
        if let Some(note) = clamped {
            message.push_str("\n\n");
            message.push_str(&note);
        }
        Ok(json!({ "message": message, "timed_out": !done }).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_and_statuses_read_as_codexs() {
        assert_eq!(
            envelope("FINAL_ANSWER", "/root", "/root/alpha", "done"),
            "Message Type: FINAL_ANSWER\nTask name: /root\nSender: /root/alpha\nPayload:\ndone"
        );
        assert_eq!(Status::Running.to_json(), json!("running"));
        assert_eq!(
            Status::Completed(Some("done".into())).to_json(),
            json!({"completed": "done"})
        );
        assert!(Status::Interrupted.is_final() && !Status::PendingInit.is_final());
        assert_eq!(parent_of("/root/a/b"), "/root/a");
        assert_eq!(parent_of("/root/a"), "/root");
    }
}
