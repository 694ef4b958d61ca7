//! A child agent started: its role's settings laid over its parent's, its core spawned with a
//! seat in the team, its task sent, and its events followed: its status, its final answer
//! mailed to its parent, the approvals it asks passed to the person's face with its name; and
//! the later tasks an agent is given (`followup_task`, a host's turn on its thread).

use std::sync::Arc;

use tokio::sync::mpsc::UnboundedReceiver;

use super::{Member, Ops, ROOT, Seat, Status, Team, envelope, parent_of};
use crate::agent::conversation::Conversation;
use crate::config::agents::RoleSettings;
use crate::protocol::{
    AgentActivity, AgentActivityKind, Event, OfAgent, Op, SandboxMode, Submission, TurnOutcome,
};
use crate::tools::collab::SpawnArgs;

/// What the failed turn of a child tells its parent, as Codex says it.
const TURN_FAILED: &str = "This agent's turn failed. If you still need this agent, use the available collaboration tools to give it another task.";

/// The narrower of two sandboxes: a role may confine its agents more than their parent, never
/// less.
fn narrower(parent: SandboxMode, role: SandboxMode) -> SandboxMode {
    let rank = |mode| match mode {
        SandboxMode::ReadOnly => 0,
        SandboxMode::WorkspaceWrite => 1,
        SandboxMode::Off => 2,
    };
    if rank(role) < rank(parent) {
        role
    } else {
        parent
    }
}

/// The settings of role `name`: a configured one (as read when the team started), else a
/// built-in one.
fn role_settings(seat: &Seat, name: &str) -> Result<RoleSettings, String> {
    let roles = &seat.team.0.roles;
    match roles.iter().find(|(role, _)| role.name == name) {
        Some((_, settings)) => settings.clone(),
        None if name == "default" => Ok(RoleSettings::default()),
        None if name == "explorer" => Ok(RoleSettings {
            sandbox: Some(SandboxMode::ReadOnly),
            ..RoleSettings::default()
        }),
        None => {
            let mut known: Vec<&str> = roles.iter().map(|(role, _)| role.name.as_str()).collect();
            known.extend(["default", "explorer"]);
            Err(format!(
                "unknown agent_type `{name}`: the roles are {}",
                known.join(", ")
            ))
        }
    }
}

/// How many of kelp's worktrees a repository may hold before agents may make no more.
const MAX_AGENT_WORKTREES: usize = 16;

/// A new worktree for a child agent, made off the async threads.
pub(super) async fn own_worktree(
    project_dir: &std::path::Path,
) -> Result<crate::protocol::Worktree, String> {
    let project_dir = project_dir.to_path_buf();
    crate::task::spawn_blocking(move || {
        // A model that spawns in a loop does not fill the disk with checkouts.
        let kept = crate::agent::worktree::list(&project_dir).map_or(0, |kept| kept.len());
        if kept >= MAX_AGENT_WORKTREES {
            return Err(format!(
                "the repository has {kept} worktrees of kelp's already, the most agents may \
                 make: the person removes them with `kelp worktree remove`"
            ));
        }
        crate::agent::worktree::create(&project_dir)
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()))
    .map_err(|why| format!("no worktree for the agent: {why}"))
}

/// Starts the child at `path` on `task`; its start, as the faces are told it, given to
/// `announce` before the child's own events are followed.
pub(super) fn start_child(
    seat: &Seat,
    (path, args): (&str, &SpawnArgs),
    conversation: &Conversation,
    task: String,
    worktree: Option<&crate::protocol::Worktree>,
    announce: &(dyn Fn(AgentActivity) + Sync),
) -> Result<AgentActivity, String> {
    let team = &seat.team;
    let agent_type = args.agent_type.as_deref().unwrap_or("default");
    let role = role_settings(seat, agent_type)?;
    let mut config = team.0.config.clone();
    // The role's model and effort are the role's to set; the call's come next, then the
    // parent's own.
    config.model = Some(
        role.model
            .clone()
            .or_else(|| args.model.clone())
            .unwrap_or_else(|| conversation.model().to_string()),
    );
    config.reasoning_effort = role
        .reasoning_effort
        .clone()
        .or_else(|| args.reasoning_effort.clone())
        .or_else(|| Some(conversation.reasoning_effort().as_str().to_string()));
    // The parent's sandbox as it is now (the person may have changed it since the start), or
    // a narrower one; its network as it is now too.
    let parent = &conversation.tool_context().sandbox;
    config.sandbox = role
        .sandbox
        .map_or(parent.mode, |mode| narrower(parent.mode, mode));
    config.network = parent.network;
    config.network_domains = parent.domains.is_some();
    config.sandbox_chosen = true;
    config.trust_decides = false;
    let started = AgentActivity {
        id: String::new(),
        kind: AgentActivityKind::Started,
        path: path.to_string(),
        conversation: uuid::Uuid::new_v4().to_string(),
        model: config.model.clone(),
        effort: config.reasoning_effort.clone(),
    };
    let inherited = if args.forks_history() {
        conversation.forked_history()
    } else {
        Vec::new()
    };
    let child = Seat {
        team: team.clone(),
        path: path.to_string(),
        depth: seat.depth + 1,
        inherited: Arc::from(inherited),
        role: role.developer_instructions.map(Arc::from),
        parent: Some(conversation.id()),
        id: uuid::Uuid::parse_str(&started.conversation).ok(),
        project_dir: Some(worktree.map_or_else(
            || conversation.project_dir().to_path_buf(),
            |made| made.project_dir.clone(),
        )),
        agent_type: Arc::from(agent_type),
        parent_transcript: conversation.session_path().map(Arc::from),
        session: seat.session.or(Some(conversation.id())),
        lsp: worktree
            .is_none()
            .then(|| conversation.tool_context().lsp.clone()),
    };
    let (ops, events) = (team.0.spawner)(config, child);
    {
        let mut roster = team.roster();
        roster.retain(|member| member.path != path);
        roster.push(Member {
            path: path.to_string(),
            id: started.conversation.clone(),
            status: Status::PendingInit,
            ops: Ops::Child(ops.clone()),
            mailbox: Vec::new(),
            noted: Vec::new(),
            next_task: None,
            seen: Some(super::seen::Seen::new(
                &args.message,
                worktree.map_or_else(
                    || conversation.project_dir().to_path_buf(),
                    |made| made.project_dir.clone(),
                ),
            )),
        });
    }
    team.tell_news();
    let _ = ops.send(Op::Submit(Submission::text(task)));
    announce(started.clone());
    crate::task::spawn(follow(
        team.clone(),
        path.to_string(),
        started.conversation.clone(),
        events,
    ));
    Ok(started)
}

/// Follows a child's events until its core ends: its status and answer kept, and each event
/// passed to the person's face as the child's own (`Event::OfAgent`).
async fn follow(
    team: Team,
    path: String,
    conversation: String,
    mut events: UnboundedReceiver<Event>,
) {
    let face = team.0.shared.face.clone();
    let mut last_answer: Option<String> = None;
    while let Some(event) = events.recv().await {
        team.note(&path, &event);
        let ended = match &event {
            Event::TurnStarted { .. } => {
                last_answer = None;
                team.set_status(&path, Status::Running);
                None
            }
            Event::MessageDone { text, .. } => {
                last_answer = Some(text.clone());
                None
            }
            Event::TurnFinished(outcome) => Some(outcome.clone()),
            // What answers the child's own face's requests is no one else's.
            Event::Reply(_) => continue,
            _ => None,
        };
        let _ = face.send(Event::OfAgent(Box::new(OfAgent {
            path: path.clone(),
            conversation: conversation.clone(),
            event,
        })));
        // Its turn's end goes out before what it tells its parent.
        if let Some(outcome) = ended {
            turn_ended(&team, &path, &outcome, last_answer.take());
        }
    }
    let mut roster = team.roster();
    if let Some(member) = roster.iter_mut().find(|m| m.path == path)
        && !member.status.is_final()
    {
        member.status = Status::Shutdown;
    }
    drop(roster);
    team.tell_news();
}

/// A child's turn ended: its status, its final answer to its parent, and a task that came
/// meanwhile started.
fn turn_ended(team: &Team, path: &str, outcome: &TurnOutcome, last_answer: Option<String>) {
    let (status, final_words) = match outcome {
        TurnOutcome::Completed => (
            Status::Completed(last_answer.clone()),
            Some(last_answer.unwrap_or_default()),
        ),
        TurnOutcome::Stopped { message, .. } => (
            Status::Completed(last_answer.clone()),
            Some(last_answer.unwrap_or_else(|| message.clone())),
        ),
        TurnOutcome::Interrupted => (Status::Interrupted, None),
        TurnOutcome::Failed { message, .. } => (
            Status::Errored(message.clone()),
            Some(format!("{TURN_FAILED}\n\n{message}")),
        ),
    };
    let next_task = {
        let mut roster = team.roster();
        let Some(member) = roster.iter_mut().find(|m| m.path == path) else {
            return;
        };
        if member.status == Status::Shutdown {
            return;
        }
        member.status = status;
        let next = member.next_task.take();
        if let Some(task) = &next {
            member.status = Status::Running;
            member.ops.send(Op::Submit(Submission::text(task.clone())));
        }
        next
    };
    if final_words.is_some() {
        finished(team, path);
    }
    if let Some(words) = final_words {
        let parent = parent_of(path);
        team.mail(parent, envelope("FINAL_ANSWER", parent, path, &words));
    } else if next_task.is_none() {
        team.tell_news();
    }
}

impl Seat {
    /// Passes `op` to the agent of the team whose conversation is `conversation` (a turn a host
    /// starts on its thread marks it running, as a follow-up task does).
    pub fn send_to(&self, conversation: &str, op: Op) {
        let mut roster = self.team.roster();
        let Some(member) = roster.iter_mut().find(|m| m.id == conversation) else {
            return;
        };
        if let Op::Submit(_) = &op {
            member.status = Status::Running;
        }
        member.ops.send(op);
        drop(roster);
        self.team.tell_news();
    }

    /// `followup_task`: a new task for the agent `target`, started now, or once its running
    /// turn ends (at once when `interrupt` stops it first).
    pub(super) fn followup(
        &self,
        target: &str,
        message: &str,
        interrupt: bool,
    ) -> Result<String, String> {
        let path = self.resolve(target)?;
        if path == ROOT {
            return Err("Follow-up tasks can't target the root agent".into());
        }
        let task = envelope("NEW_TASK", &path, &self.path, message);
        let mut roster = self.team.roster();
        let Some(member) = roster.iter_mut().find(|m| m.path == path) else {
            return Err(format!("live agent path `{path}` not found"));
        };
        match member.status {
            Status::Shutdown => return Err(format!("agent `{path}` was closed")),
            // Started once the running turn ends (at once, when it is stopped first).
            Status::Running | Status::PendingInit => {
                member.next_task = Some(task);
                if interrupt {
                    member.ops.send(Op::Interrupt);
                }
            }
            _ => {
                member.status = Status::Running;
                member
                    .ops
                    .send(Op::Submit(crate::protocol::Submission::text(task)));
            }
        }
        drop(roster);
        self.team.tell_news();
        Ok(String::new())
    }
}

/// The child at `path` finished its task: its parent's face is told, as Codex tells it (the
/// first agent's face directly, another agent's as that agent's own event), and its parent's
/// conversation notes it.
fn finished(team: &Team, path: &str) {
    let parent = parent_of(path);
    let (conversation, parent_conversation) = {
        let roster = team.roster();
        let id_of = |wanted: &str| {
            roster
                .iter()
                .find(|m| m.path == wanted)
                .map(|m| m.id.clone())
                .unwrap_or_default()
        };
        (id_of(path), id_of(parent))
    };
    let completed = AgentActivity {
        id: format!("subagent-completed-{}", uuid::Uuid::new_v4()),
        kind: AgentActivityKind::Completed,
        path: path.to_string(),
        conversation,
        model: None,
        effort: None,
    };
    team.note_activity(parent, completed.clone());
    let event = Event::AgentActivity(completed);
    let _ = team.0.shared.face.send(if parent == ROOT {
        event
    } else {
        Event::OfAgent(Box::new(OfAgent {
            path: parent.to_string(),
            conversation: parent_conversation,
            event,
        }))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_narrows_its_parents_sandbox_and_never_widens_it() {
        use SandboxMode::*;
        assert_eq!(narrower(WorkspaceWrite, ReadOnly), ReadOnly);
        assert_eq!(narrower(ReadOnly, Off), ReadOnly);
        assert_eq!(narrower(Off, WorkspaceWrite), WorkspaceWrite);
        assert_eq!(narrower(WorkspaceWrite, Off), WorkspaceWrite);
    }
}
