//! `thread/*`: each thread is one agent core (the one the TUI drives), reached through its
//! `Op`/`Event` channels. A thread's id is its kelp session id, so `thread/resume` takes what
//! `kelp sessions` lists; the saved sessions are a host's history. Turns are `turns.rs`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Deserialize;
use serde_json::Value;

use super::history::history_turns;
use super::history::{Saved, listed_thread};
use super::turn_path::Running;
use super::turns::{
    Reported, Thread, Where, approval_mode, begin_turn, pump, reviewer_or, turn_answer,
};
use super::wire::{Answer, Caller, Out, Page, RpcError, notify as wire_notify, params};
use crate::agent::core::start::{CoreOptions, Opened, open};
use crate::auth::ExternalAuth;
use crate::config::Config;
use crate::jsonrpc::{Audience, Dialect, Requests};
use crate::protocol::SandboxMode;
use crate::protocol::ServerStatus;
use crate::protocol::{Op, RewindTo};
use crate::wire::requests::{
    ThreadCompactStartParams, ThreadResumeParams, ThreadSetNameParams, ThreadStartParams,
};
use crate::wire::{
    self as wire, Empty, ListPage, RateLimitSnapshot, SandboxPolicy, ThreadOpened, ThreadResponse,
    ThreadRevertResponse, Unsubscribed,
};

/// How long `thread/revert` waits for the thread's agent: it only cuts its history.
const REVERT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Every thread the server holds a core for, shared by its clients.
pub struct Threads {
    config: Config,
    pub(super) threads: HashMap<String, Thread>,
    /// The last rate limits any thread's responses reported, as a protocol snapshot.
    rate_limits: Arc<Mutex<RateLimitSnapshot>>,
    /// The MCP servers as the last thread to report them found them.
    mcp_servers: Arc<Mutex<Vec<ServerStatus>>>,
    /// The connection's external tokens, used by every thread's core while set.
    external: ExternalAuth,
    /// The saved threads, read for a host off the protocol loop.
    pub(super) saved: Saved,
    /// The server's requests, which the threads' audiences put to their clients.
    requests: Requests,
    /// Every client: a thread's start and close concern them all, as in Codex.
    everyone: Out,
    /// Whether a sweeper unloads the threads no client hears ([`Threads::sweep`]): then the
    /// last client's `thread/unsubscribe` leaves the thread to it, as Codex waits its 60 s for
    /// a client to come back; without one (stdio: the one client) the thread stops at once.
    swept: bool,
}

fn sandbox_mode(name: Option<&str>, default: SandboxMode) -> Result<SandboxMode, RpcError> {
    match name {
        None => Ok(default),
        Some(name) => SandboxMode::from_codex(name).ok_or_else(|| {
            RpcError::invalid_params(format!("Invalid params: sandbox: unknown mode {name:?}"))
        }),
    }
}

fn sandbox_policy(config: &Config, cwd: &std::path::Path) -> SandboxPolicy {
    policy_of(config.sandbox, config.network, cwd)
}

/// kelp's sandbox mode and network switch as the protocol's policy for a thread in `cwd`.
pub(super) fn policy_of(mode: SandboxMode, network: bool, cwd: &std::path::Path) -> SandboxPolicy {
    match mode {
        SandboxMode::Off => SandboxPolicy::DangerFullAccess,
        SandboxMode::ReadOnly => SandboxPolicy::ReadOnly {
            network_access: network,
        },
        SandboxMode::WorkspaceWrite => SandboxPolicy::WorkspaceWrite {
            writable_roots: vec![cwd.to_path_buf()],
            network_access: network,
            exclude_tmpdir_env_var: false,
            exclude_slash_tmp: false,
        },
    }
}

/// A request that names only its thread.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThreadOnly {
    thread_id: String,
}

impl Threads {
    /// No threads yet.
    pub fn new(config: Config, external: ExternalAuth, everyone: &Audience) -> Self {
        Self {
            requests: everyone.requests().clone(),
            everyone: everyone.out(Dialect::Codex),
            saved: Saved::new(&config),
            config,
            threads: HashMap::new(),
            rate_limits: Arc::default(),
            mcp_servers: Arc::default(),
            external,
            swept: false,
        }
    }

    /// The settings threads started from now on use.
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
    }

    /// The saved threads, for the reads a host's requests make: cheap to clone, and served on
    /// tasks of their own.
    pub fn saved(&self) -> Saved {
        self.saved.clone()
    }

    /// The MCP servers as the last thread to report them found them.
    pub fn mcp_servers(&self) -> Vec<ServerStatus> {
        self.mcp_servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The folders of the threads open now: where a host's `fs/*` may reach.
    pub fn roots(&self) -> Vec<PathBuf> {
        self.threads
            .values()
            .map(|thread| thread.cwd.clone())
            .collect()
    }

    /// The last rate limits any thread's responses reported, shared.
    pub fn last_limits(&self) -> Arc<Mutex<RateLimitSnapshot>> {
        Arc::clone(&self.rate_limits)
    }

    /// `thread/start`: a new conversation, saved as a kelp session; `caller` hears its events.
    pub async fn start(&mut self, caller: Caller, raw: Value) -> Result<Answer, RpcError> {
        let p: ThreadStartParams = params(raw)?;
        let cwd = match p.cwd {
            Some(dir) => std::fs::canonicalize(&dir).map_err(|e| {
                RpcError::invalid_params(format!("Invalid params: cwd: {}: {e}", dir.display()))
            })?,
            None => std::env::current_dir().map_err(|e| RpcError::internal(e.to_string()))?,
        };
        let (mut config, said) = super::project_config::settings_in(&self.config, &cwd).await;
        config.model = p.model.or(config.model);
        config.approval = approval_mode(p.approval_policy.as_ref(), config.approval)?;
        config.approvals_reviewer = reviewer_or(&p.approvals_reviewer, config.approvals_reviewer)?;
        config.sandbox = sandbox_mode(p.sandbox.as_deref(), config.sandbox)?;
        if let Some(tier) = p.service_tier.as_deref() {
            config.service_tier = crate::protocol::ServiceTier::parse(tier)
                .map_err(|why| RpcError::invalid_params(format!("Invalid params: {why}")))?;
        }
        let mut options = CoreOptions::new(&cwd);
        options.external = Some(self.external.clone());
        options.ephemeral = p.ephemeral.unwrap_or(false);
        let now = chrono::Utc::now().timestamp();
        let mut shown = wire::Thread::new("", &cwd, "", now, now);
        shown.ephemeral = options.ephemeral;
        let answer = self.open(caller, config, options, shown, false).await?;
        Ok(super::project_config::with_warnings(answer, said))
    }

    /// `thread/resume`: a saved kelp session, by its whole id; `caller` hears its events. A
    /// thread the server holds already (another client's, or one whose turn outlived its
    /// client) is answered from its core, never two cores on one file, and a turn running on
    /// it goes on live.
    pub async fn resume(&mut self, caller: Caller, raw: Value) -> Result<Answer, RpcError> {
        let p: ThreadResumeParams = params(raw)?;
        if let Some(thread) = self.threads.get(&p.thread_id) {
            let mut answer = thread.opened.clone();
            let audience = thread.audience.clone();
            // A turn another client started, or one that outlived its client, runs on.
            if thread.running_turn().is_some() {
                answer.thread.status = wire::ThreadStatus::Active {
                    active_flags: Vec::new(),
                };
            }
            if !p.exclude_turns {
                let turns = self
                    .saved
                    .history(&p.thread_id)
                    .await
                    .map(|(_, turns)| turns);
                answer.thread.turns = turns.unwrap_or_default();
            }
            // It hears from after the answer on: the requests still waiting come then too.
            return Ok(Answer::of_read(answer)
                .await?
                .after(move || audience.join(&caller.out)));
        }
        let summary = self.find(&p.thread_id).await?;
        if let Some((team, status)) = self.team_of(&p.thread_id) {
            return self.join_agent(caller, &p, &summary, (team, status)).await;
        }
        self.open_saved(caller, p, summary, None).await
    }

    /// Where the saved sessions are.
    pub(super) fn state_dir(&self) -> PathBuf {
        self.config.state_dir.clone()
    }

    /// The saved session whose id is `id`, whole.
    pub(super) async fn find(&self, id: &str) -> Result<crate::protocol::SessionSummary, RpcError> {
        let state_dir = self.config.state_dir.clone();
        let wanted = id.to_string();
        crate::task::spawn_blocking(move || crate::session::find_whole(&state_dir, &wanted))
            .await
            .map_err(|e| RpcError::internal(e.to_string()))?
            .map_err(|e| RpcError::invalid_request(format!("no thread {id}: {e}")))
    }

    /// Opens the saved session `summary` as a thread with `p`'s settings.
    pub(super) async fn open_saved(
        &mut self,
        caller: Caller,
        p: ThreadResumeParams,
        summary: crate::protocol::SessionSummary,
        forked_from: Option<String>,
    ) -> Result<Answer, RpcError> {
        let (mut config, said) =
            super::project_config::settings_in(&self.config, &summary.project_dir).await;
        config.model = p.model.or(config.model);
        config.approval = approval_mode(p.approval_policy.as_ref(), config.approval)?;
        config.approvals_reviewer = reviewer_or(&p.approvals_reviewer, config.approvals_reviewer)?;
        config.sandbox = sandbox_mode(p.sandbox.as_deref(), config.sandbox)?;
        let mut options = CoreOptions::new(&summary.project_dir);
        options.resume = Some(summary.path.clone());
        options.new_if_resume_fails = false;
        options.external = Some(self.external.clone());
        let names = self.saved.names().await;
        let mut shown = listed_thread(&summary, &names);
        shown.forked_from_id = Some(forked_from);
        let answer = self
            .open(caller, config, options, shown, p.exclude_turns)
            .await?;
        Ok(super::project_config::with_warnings(answer, said))
    }

    /// Opens a core for a thread shown as `thread` (its id filled in here); the answer carries
    /// the history unless `exclude_turns`.
    async fn open(
        &mut self,
        caller: Caller,
        config: Config,
        mut options: CoreOptions,
        mut thread: wire::Thread,
        exclude_turns: bool,
    ) -> Result<Answer, RpcError> {
        let cwd = options.project_dir.clone();
        let options_ephemeral = options.ephemeral;
        let terminals = super::terminals::for_thread(&config);
        options.terminals = Some(terminals.clone());
        let Opened {
            ops,
            events,
            id,
            restored,
            ..
        } = open(config.clone(), options)
            .await
            .map_err(RpcError::internal)?;
        let model = config.model_in_use();
        thread.id.clone_from(&id);
        thread.session_id.clone_from(&id);
        thread.model_provider.clone_from(&config.model_provider.id);
        let opened = ThreadOpened {
            thread: thread.clone(),
            model,
            model_provider: config.model_provider.id.clone(),
            cwd: cwd.clone(),
            approval_policy: config.approval.codex_name().into(),
            approvals_reviewer: config.approvals_reviewer.as_str().into(),
            sandbox: sandbox_policy(&config, &cwd),
            items_backwards_cursor: None,
            turns_backwards_cursor: None,
        };
        // A resumed thread's answer carries its history, for the host to show again.
        let mut answered = opened.clone();
        // The history whole in `turns` (Codex's legacy mode), and cursors from its newest
        // entry for a host that pages it backwards instead.
        answered.thread.history_mode = Some("legacy".into());
        let restored = restored.unwrap_or_default();
        if !exclude_turns {
            answered.thread.turns = history_turns(&restored, &id, &cwd).into();
        }
        if !restored.turns.is_empty() {
            answered.items_backwards_cursor = Some("0".to_string());
            answered.turns_backwards_cursor = Some("0".to_string());
        }
        // What waited in its queue when a server last held it, kept from now on.
        let queue = if options_ephemeral {
            super::queued::Queue::default()
        } else {
            let kept = super::queue_file::path_of(&config.state_dir, &id);
            super::queued::Queue::restored(
                super::queue_file::restore(&kept),
                Some(super::queue_file::keeper(kept)),
            )
        };
        let running = Arc::new(Mutex::new(Running {
            goal: restored.goal.clone(),
            queue,
            ..Running::default()
        }));
        let audience = Audience::new(&self.requests);
        audience.join(&caller.out);
        crate::task::spawn(pump(
            events,
            ops.clone(),
            audience.out(Dialect::Codex),
            Where {
                thread_id: id.clone(),
                cwd: cwd.clone(),
                everyone: self.everyone.clone(),
                notify: config.notify.clone(),
            },
            Arc::clone(&running),
            Reported {
                limits: Arc::clone(&self.rate_limits),
                servers: Arc::clone(&self.mcp_servers),
            },
        ));
        self.threads.insert(
            id,
            Thread {
                ops,
                cwd: cwd.clone(),
                running,
                opened,
                audience,
                unheard_since: None,
                everyone: self.everyone.clone(),
                terminals,
            },
        );
        Ok(Answer::of(&answered)?
            .notify(wire::ThreadStarted { thread })
            .every_client(self.everyone.clone()))
    }

    /// `thread/name/set`: names a thread (loaded, saved, or not yet saved); an empty name
    /// clears it. `thread/name/updated` follows.
    pub async fn set_name(&self, raw: Value) -> Result<Answer, RpcError> {
        let asked: ThreadSetNameParams = params(raw)?;
        let id = match self.threads.contains_key(&asked.thread_id) {
            true => asked.thread_id.parse().ok(),
            false => Some(self.find(&asked.thread_id).await?.id),
        }
        .ok_or_else(|| RpcError::invalid_request(format!("no thread {}", asked.thread_id)))?;
        let state_dir = self.config.state_dir.clone();
        let name = asked.name.trim().to_string();
        let written = name.clone();
        crate::task::spawn_blocking(move || {
            crate::session::shelf::set_name(&state_dir, id, &written)
        })
        .await
        .map_err(|e| RpcError::internal(e.to_string()))?
        .map_err(|e| match e {
            crate::session::SessionError::NameTooLong { .. } => {
                RpcError::invalid_params(e.to_string())
            }
            other => RpcError::internal(other.to_string()),
        })?;
        let shown = (!name.is_empty()).then_some(name);
        Ok(Answer::of(&Empty {})?.notify(wire::ThreadNameUpdated {
            thread_id: id.to_string(),
            thread_name: shown,
        }))
    }

    /// `thread/archive`: the saved session leaves the lists (a loaded thread is let go
    /// first); `thread/archived` follows.
    pub async fn archive(&mut self, raw: Value) -> Result<Answer, RpcError> {
        let asked: ThreadOnly = params(raw)?;
        let summary = self.find(&asked.thread_id).await?;
        let id = summary.id.to_string();
        if let Some(thread) = self.threads.remove(&id) {
            thread.stop();
        }
        let state_dir = self.config.state_dir.clone();
        crate::task::spawn_blocking(move || crate::session::shelf::archive(&state_dir, &summary))
            .await
            .map_err(|e| RpcError::internal(e.to_string()))?
            .map_err(|e| RpcError::internal(e.to_string()))?;
        Ok(Answer::of(&Empty {})?.notify(wire::ThreadArchived {
            thread_id: id.to_string(),
        }))
    }

    /// `thread/delete`: a saved or archived session deleted, its core stopped first;
    /// `thread/deleted` follows.
    pub async fn delete(&mut self, raw: Value) -> Result<Answer, RpcError> {
        let asked: ThreadOnly = params(raw)?;
        let id = asked.thread_id.trim().to_string();
        if let Some(thread) = self.threads.remove(&id) {
            thread.stop();
        }
        let state_dir = self.config.state_dir.clone();
        let wanted = id.clone();
        crate::task::spawn_blocking(move || {
            crate::session::shelf::delete(&state_dir, &wanted)?;
            // What waited in its queue goes with it.
            let _ = std::fs::remove_file(super::queue_file::path_of(&state_dir, &wanted));
            Ok::<_, crate::session::SessionError>(())
        })
        .await
        .map_err(|e| RpcError::internal(e.to_string()))?
        .map_err(|e| RpcError::invalid_request(format!("no thread {id}: {e}")))?;
        Ok(Answer::of(&Empty {})?.notify(wire::ThreadDeleted {
            thread_id: id.to_string(),
        }))
    }

    /// `thread/unarchive`: an archived session back among the saved ones;
    /// `thread/unarchived` follows.
    pub async fn unarchive(&self, raw: Value) -> Result<Answer, RpcError> {
        let asked: ThreadOnly = params(raw)?;
        let state_dir = self.config.state_dir.clone();
        let wanted = asked.thread_id.clone();
        let (summary, names) = crate::task::spawn_blocking(move || {
            let summary = crate::session::shelf::unarchive(&state_dir, &wanted)?;
            Ok::<_, crate::session::SessionError>((
                summary,
                crate::session::shelf::names(&state_dir),
            ))
        })
        .await
        .map_err(|e| RpcError::internal(e.to_string()))?
        .map_err(|e| RpcError::invalid_request(format!("no thread {}: {e}", asked.thread_id)))?;
        let thread = listed_thread(&summary, &names);
        let id = summary.id.to_string();
        Ok(
            Answer::of(&ThreadResponse { thread })?
                .notify(wire::ThreadUnarchived { thread_id: id }),
        )
    }

    /// `thread/loaded/list`: the threads the server holds a core for, by id.
    pub fn loaded(&self, raw: Value) -> Result<Answer, RpcError> {
        let asked: crate::wire::requests::ThreadLoadedListParams = if raw.is_null() {
            Default::default()
        } else {
            params(raw)?
        };
        let live = self.live();
        let mut ids: Vec<&String> = live.keys().collect();
        ids.sort();
        let page = Page::read(asked.cursor.as_deref(), asked.limit, usize::MAX)?;
        let data: Vec<&String> = ids
            .iter()
            .skip(page.skip)
            .take(page.size)
            .copied()
            .collect();
        let next = page.next(page.skip.saturating_add(page.size) < ids.len());
        Answer::of(&ListPage {
            data,
            next_cursor: next,
            backwards_cursor: None,
        })
    }

    /// `thread/unsubscribe`: the client hears no more of the thread. When it was the last,
    /// the thread's core stops (a running turn is interrupted), and the session stays saved
    /// for `thread/resume`.
    pub fn unsubscribe(&mut self, caller: &Caller, raw: Value) -> Result<Answer, RpcError> {
        let asked: ThreadOnly = params(raw)?;
        let Some(thread) = self.threads.get(&asked.thread_id) else {
            return Answer::of(&Unsubscribed {
                status: "notLoaded",
            });
        };
        if !thread.audience.leave(caller.id) {
            return Answer::of(&Unsubscribed {
                status: "notSubscribed",
            });
        }
        let answer = Answer::of(&Unsubscribed {
            status: "unsubscribed",
        })?;
        // Another client hears it, or its turn runs on, or the sweep unloads it in its time.
        if !thread.unheard() || self.swept {
            return Ok(answer);
        }
        if let Some(thread) = self.threads.remove(&asked.thread_id) {
            thread.stop();
        }
        Ok(answer
            .notify(wire::ThreadClosed {
                thread_id: asked.thread_id,
            })
            .every_client(self.everyone.clone()))
    }

    /// Client `client` is gone: it hears no thread. A turn it started runs to its end, saved;
    /// a thread no client hears stays loaded a while for one to come back ([`Threads::sweep`]).
    pub fn leave(&mut self, client: u64) {
        for thread in self.threads.values() {
            thread.audience.leave(client);
        }
    }

    /// From now on a thread no client hears is left to [`Threads::sweep`].
    pub fn leave_unheard_to_the_sweep(&mut self) {
        self.swept = true;
    }

    /// Stops the cores of the threads no client has heard for `after` with no turn running,
    /// as Codex unloads them, and tells every client (`everyone`) they are closed.
    pub fn sweep(&mut self, after: std::time::Duration) {
        let everyone = &self.everyone;
        let now = std::time::Instant::now();
        self.threads.retain(|id, thread| {
            if !thread.unheard() {
                thread.unheard_since = None;
                return true;
            }
            let since = *thread.unheard_since.get_or_insert(now);
            if now.duration_since(since) < after {
                return true;
            }
            tracing::info!(thread = %id, "no client heard the thread a while: its core stops");
            thread.stop();
            let thread_id = id.clone();
            wire_notify(
                everyone,
                wire::ThreadStatusChanged {
                    thread_id: thread_id.clone(),
                    status: wire::ThreadStatus::NotLoaded,
                },
            );
            wire_notify(everyone, wire::ThreadClosed { thread_id });
            false
        });
    }

    /// Stops every thread's core, interrupting its turn.
    pub fn shut_down(&mut self) {
        for (_, thread) in self.threads.drain() {
            thread.stop();
        }
    }

    /// The loaded thread a request names (`threadId`), as it was opened, without its turns.
    pub fn opened(&self, raw: &Value) -> Option<wire::Thread> {
        let id = raw.get("threadId")?.as_str()?;
        let mut thread = self.threads.get(id)?.opened.thread.clone();
        thread.turns = wire::Turns::default();
        Some(thread)
    }

    /// The thread `id` of this connection, for a turn's request.
    pub fn thread(&self, id: &str) -> Result<&Thread, RpcError> {
        self.threads.get(id).ok_or_else(|| {
            RpcError::invalid_request(format!("no thread {id}: start or resume it first"))
        })
    }

    /// [`Threads::thread`], to change what its answers say.
    pub fn thread_mut(&mut self, id: &str) -> Result<&mut Thread, RpcError> {
        self.threads.get_mut(id).ok_or_else(|| {
            RpcError::invalid_request(format!("no thread {id}: start or resume it first"))
        })
    }

    /// `thread/compact/start`: the conversation is compacted onto a summary, as a turn of its
    /// own; a `contextCompaction` item (and the older `thread/compacted`) says it happened.
    /// `thread/revert`: the loaded thread goes back to before `beforeTurnId`, between turns;
    /// the files stay as they are (as in Codex). `thread/reverted` follows the answer.
    pub async fn revert(&mut self, raw: Value) -> Result<Answer, RpcError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Revert {
            thread_id: String,
            before_turn_id: String,
        }
        let asked: Revert = params(raw)?;
        self.rewind(asked.thread_id, RewindTo::Turn(asked.before_turn_id))
            .await
    }

    /// `thread/rollback`, as hosts written for earlier Codex releases send it: the last
    /// `numTurns` turns dropped, on the same rewind as `thread/revert`.
    pub async fn rollback(&mut self, raw: Value) -> Result<Answer, RpcError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Rollback {
            thread_id: String,
            num_turns: usize,
        }
        let asked: Rollback = params(raw)?;
        if asked.num_turns == 0 {
            return Err(RpcError::invalid_request(
                "numTurns must be at least 1".to_string(),
            ));
        }
        self.rewind(asked.thread_id, RewindTo::Last(asked.num_turns))
            .await
    }

    async fn rewind(&mut self, thread_id: String, to: RewindTo) -> Result<Answer, RpcError> {
        let thread = self.thread(&thread_id)?;
        let (sender, answer) = tokio::sync::oneshot::channel();
        thread.between_turns()?.reverting = Some(sender);
        thread
            .ops
            .send(Op::Rewind(to))
            .map_err(|_| RpcError::internal("this thread's agent stopped"))?;
        let left = match tokio::time::timeout(REVERT_WAIT, answer).await {
            Ok(Ok(Ok(left))) => left,
            Ok(Ok(Err(why))) => {
                return Err(RpcError::invalid_request(format!(
                    "cannot revert {thread_id}: {why}"
                )));
            }
            _ => return Err(RpcError::internal("this thread's agent did not answer")),
        };
        let mut shown = thread.opened.thread.clone();
        shown.turns = wire::Turns::default();
        let cursor = (left > 0).then(|| "0".to_string());
        Ok(Answer::of(&ThreadRevertResponse {
            thread: shown,
            items_backwards_cursor: cursor.clone(),
            turns_backwards_cursor: cursor,
        })?
        .notify(wire::ThreadReverted { thread_id }))
    }

    /// `mcpServer/tool/call`: one of the thread's MCP tools called for the host, outside any
    /// turn; the answer waits for the tool (its server's own timeout bounds it).
    pub fn call_mcp_tool(
        &self,
        raw: Value,
    ) -> Result<impl std::future::Future<Output = Result<Answer, RpcError>> + use<>, RpcError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Call {
            thread_id: String,
            server: String,
            tool: String,
            #[serde(default)]
            arguments: Option<Value>,
        }
        let asked: Call = params(raw)?;
        let thread = self.thread(&asked.thread_id)?;
        let (sender, answer) = tokio::sync::oneshot::channel();
        let id = {
            let mut running = thread
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            running.next_mcp_call += 1;
            let id = running.next_mcp_call;
            running.mcp_calls.insert(id, sender);
            id
        };
        thread
            .ops
            .send(Op::CallMcpTool {
                id,
                server: asked.server,
                tool: asked.tool,
                arguments: asked.arguments,
            })
            .map_err(|_| RpcError::internal("this thread's agent stopped"))?;
        Ok(async move {
            match answer.await {
                Ok(Ok((text, success))) => Answer::of(&wire::ToolCalled {
                    content: vec![wire::TextContent::new(text)],
                    is_error: !success,
                }),
                Ok(Err(why)) => Err(RpcError::invalid_request(why)),
                Err(_) => Err(RpcError::internal("this thread's agent stopped")),
            }
        })
    }

    pub fn compact(&mut self, raw: Value) -> Result<Answer, RpcError> {
        let asked: ThreadCompactStartParams = params(raw)?;
        let thread = self.thread(&asked.thread_id)?;
        let ops = thread.ops.clone();
        let turn = begin_turn(thread)?;
        let turn_id = Some(turn.id.clone());
        Ok(turn_answer(&Empty {}, &asked.thread_id, turn)?
            .heard_by(thread.heard_by())
            .every_client(thread.everyone.clone())
            .after(move || {
                let _ = ops.send(Op::Compact {
                    focus: None,
                    turn_id,
                });
            }))
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        self.shut_down();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::Out;

    /// A thread held with no core behind it: its ops come to the receiver.
    fn held(threads: &mut Threads, id: &str) -> tokio::sync::mpsc::UnboundedReceiver<Op> {
        let (ops, received) = tokio::sync::mpsc::unbounded_channel();
        let cwd = std::path::PathBuf::from("/p");
        let thread = wire::Thread::new(id, &cwd, "", 0, 0);
        threads.threads.insert(
            id.to_string(),
            Thread {
                ops,
                cwd: cwd.clone(),
                running: Arc::default(),
                opened: ThreadOpened {
                    thread,
                    model: "m".into(),
                    model_provider: "openai".into(),
                    cwd: cwd.clone(),
                    approval_policy: "never".into(),
                    approvals_reviewer: "user".into(),
                    sandbox: SandboxPolicy::DangerFullAccess,
                    items_backwards_cursor: None,
                    turns_backwards_cursor: None,
                },
                audience: Audience::new(&threads.requests),
                unheard_since: None,
                everyone: threads.everyone.clone(),
                terminals: Default::default(),
            },
        );
        received
    }

    #[test]
    fn a_thread_no_client_hears_unloads_after_the_delay_and_every_client_is_told() {
        let dir = tempfile::tempdir().unwrap();
        let everyone = Audience::new(&Requests::default());
        let (watcher, mut told) = Out::client_of(everyone.requests(), 9, Dialect::Codex);
        everyone.join(&watcher);
        let config = Config::for_origin("http://127.0.0.1:9", dir.path());
        let mut threads = Threads::new(config, ExternalAuth::default(), &everyone);
        let mut unheard = held(&mut threads, "unheard");
        let _heard = held(&mut threads, "heard");
        let (client, _lines) = Out::client_of(&threads.requests, 1, Dialect::Codex);
        threads.threads["heard"].audience.join(&client);
        let mut busy = held(&mut threads, "busy");
        threads.threads["busy"].running.lock().unwrap().turn_id = Some("t".into());

        // Not yet: the delay starts when the thread is first found unheard.
        threads.sweep(std::time::Duration::from_secs(60));
        assert_eq!(threads.threads.len(), 3);
        threads.sweep(std::time::Duration::ZERO);
        assert!(!threads.threads.contains_key("unheard"));
        assert!(threads.threads.contains_key("heard") && threads.threads.contains_key("busy"));
        assert!(matches!(unheard.try_recv(), Ok(Op::Interrupt)));
        assert!(matches!(unheard.try_recv(), Ok(Op::Shutdown)));
        assert!(busy.try_recv().is_err(), "a running turn is never cut");
        let said: Vec<Value> = std::iter::from_fn(|| told.try_recv().ok())
            .map(|line| serde_json::from_str(&line).unwrap())
            .collect();
        assert_eq!(said.len(), 2, "{said:?}");
        assert_eq!(said[0]["method"], "thread/status/changed");
        assert_eq!(said[0]["params"]["status"]["type"], "notLoaded");
        assert_eq!(said[1]["method"], "thread/closed");
        assert_eq!(said[1]["params"]["threadId"], "unheard");

        // The client leaves: its thread is unheard now, and goes at the next sweep past the
        // delay; the busy one waits for its turn's end.
        threads.leave(1);
        threads.sweep(std::time::Duration::ZERO);
        assert!(!threads.threads.contains_key("heard"));
        threads.threads["busy"].running.lock().unwrap().turn_id = None;
        threads.sweep(std::time::Duration::ZERO);
        assert!(threads.threads.is_empty());
    }
}
