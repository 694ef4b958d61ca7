//! `session/*`: each ACP session is one agent core (the one the TUI drives), reached through
//! its `Op`/`Event` channels; the session id is the kelp session id, so `session/load` takes
//! what `kelp sessions` lists. A pump per session (`pump.rs`) turns the core's events into
//! `session/update` notifications, asks the client about approvals with
//! `session/request_permission`, and answers the prompt when its turn ends.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agent_client_protocol_schema::v1::{
    ConfigOptionUpdate, ContentBlock, CurrentModeUpdate, EmbeddedResourceResource, Error,
    ForkSessionRequest, ForkSessionResponse, LoadSessionRequest, LoadSessionResponse, McpServer,
    NewSessionRequest, NewSessionResponse, PromptRequest, ResumeSessionRequest,
    ResumeSessionResponse, SessionConfigOption, SessionConfigOptionValue, SessionInfoUpdate,
    SessionNotification, SessionUpdate, SetSessionConfigOptionRequest,
    SetSessionConfigOptionResponse, SetSessionModeRequest, SetSessionModeResponse,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::commands::Slash;
use super::options::Choices;
use super::pump::{Session, Turn};
use super::updates::Translator;
use super::{Connection, Face, Reply, answer_later};
use crate::agent::core::start::{CoreOptions, Opened, StartFacts, open};
use crate::config::{McpServerConfig, McpTransport};
use crate::protocol::Replayed;
use crate::protocol::{AuthSummary, ImageInput, Op, Submission};

/// How long the sessions get to stop their turns when the client goes away.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);

/// A session and the task that pumps its events.
type Running = (Arc<Session>, JoinHandle<()>);

/// Every session of the connection.
#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, Running>>,
}

impl Sessions {
    fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .map(|(session, _)| Arc::clone(session))
    }

    /// Starts the pump of a core that has opened its conversation, and keeps the session.
    fn add(&self, opened: Opened, cx: Connection, project_dir: PathBuf, choices: Choices) {
        let Opened {
            ops,
            events,
            id,
            restored,
            ..
        } = opened;
        // A loaded session with a prompt has its title in the list already.
        let titled = restored
            .iter()
            .flat_map(|replay| &replay.turns)
            .any(|turn| {
                turn.entries.iter().any(|entry| {
                    matches!(entry, Replayed::Prompt(prompt)
                    if crate::session::title_of(&prompt.text).is_some())
                })
            });
        let session = Arc::new(Session {
            ops,
            turn: Mutex::new(None),
            choices: Mutex::new(choices),
            titled: titled.into(),
            project_dir: project_dir.clone(),
            mcp: Mutex::default(),
            goal: Mutex::new(restored.as_ref().and_then(|replay| replay.goal.clone())),
        });
        // The slash commands the editor offers in its prompt box.
        cx.notify(SessionNotification::new(
            id.clone(),
            super::commands::offered(),
        ));
        let pump = crate::task::spawn(super::pump::pump(
            events,
            cx,
            id.clone(),
            Arc::clone(&session),
            Translator::new(project_dir),
        ));
        let replaced = self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, (session, pump));
        if let Some((old, _)) = replaced {
            let _ = old.ops.send(Op::Shutdown);
        }
    }

    /// Stops session `id` if it is open here (`session/close`, or a load of the same session),
    /// and waits (briefly) until its core has let go of the session file.
    pub async fn close(&self, id: &str) {
        let closed = self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
        if let Some((session, pump)) = closed {
            let _ = session.ops.send(Op::Interrupt);
            let _ = session.ops.send(Op::Shutdown);
            let _ = tokio::time::timeout(SHUTDOWN_WAIT, pump).await;
        }
    }

    /// `session/set_mode`: the session's approvals and sandbox from its next call on;
    /// `current_mode_update` and `config_option_update` say so.
    pub fn set_mode(
        &self,
        request: &SetSessionModeRequest,
        config: &crate::config::Config,
        cx: &Connection,
    ) -> Result<SetSessionModeResponse, Error> {
        self.choose(
            &request.session_id.0,
            "mode",
            &request.mode_id.0,
            config,
            cx,
        )?;
        Ok(SetSessionModeResponse::new())
    }

    /// `session/set_config_option`: the mode, model or effort from the next request on;
    /// `config_option_update` says so, and a mode's change `current_mode_update` too.
    pub fn set_option(
        &self,
        request: &SetSessionConfigOptionRequest,
        config: &crate::config::Config,
        cx: &Connection,
    ) -> Result<SetSessionConfigOptionResponse, Error> {
        let value = match &request.value {
            SessionConfigOptionValue::ValueId { value } => value.0.to_string(),
            other => {
                return Err(Error::invalid_params()
                    .data(format!("kelp's options take a value id, not {other:?}")));
            }
        };
        let options = self.choose(
            &request.session_id.0,
            &request.config_id.0,
            &value,
            config,
            cx,
        )?;
        Ok(SetSessionConfigOptionResponse::new(options))
    }

    /// Sets option `id` of session `session_id` and tells the editor; returns the options.
    fn choose(
        &self,
        session_id: &str,
        id: &str,
        value: &str,
        config: &crate::config::Config,
        cx: &Connection,
    ) -> Result<Vec<SessionConfigOption>, Error> {
        let session = self
            .get(session_id)
            .ok_or_else(|| Error::invalid_params().data(format!("no session {session_id}")))?;
        let (op, options, mode) = {
            let mut choices = session
                .choices
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let op = choices.choose(id, value, config)?;
            (op, choices.options(), choices.mode)
        };
        session
            .ops
            .send(op)
            .map_err(|_| session_error("this session's agent stopped"))?;
        let notify = |update| cx.notify(SessionNotification::new(session_id.to_string(), update));
        if id == "mode" {
            // Written before the answer (a small file, a rare request): an agent stopped right
            // after still finds the choice.
            super::modes::keep(&config.state_dir, session_id, mode);
            notify(SessionUpdate::CurrentModeUpdate(CurrentModeUpdate::new(
                mode,
            )));
        }
        notify(SessionUpdate::ConfigOptionUpdate(ConfigOptionUpdate::new(
            options.clone(),
        )));
        Ok(options)
    }

    /// A prompt that starts with a slash command: run by the core (`/compact`, `/init`,
    /// `/review`, `/diff`) or answered here (`/status`, `/mcp`, `/logout`).
    pub fn command(&self, face: &Arc<Face>, session_id: &str, slash: Slash, reply: Reply) {
        let Some(session) = self.get(session_id) else {
            return reply.fail(Error::invalid_params().data(format!("no session {session_id}")));
        };
        super::commands::run(face, &session, session_id, slash, reply);
    }

    /// `session/prompt`: sends the prompt to the session's core; the answer comes when the
    /// turn ends.
    pub fn prompt(&self, request: PromptRequest, reply: Reply) {
        let Some(session) = self.get(&request.session_id.0) else {
            return reply.fail(
                Error::invalid_params().data(format!("no session {}", request.session_id.0)),
            );
        };
        let (text, images) = match prompt_parts(request.prompt) {
            Ok(prompt) => prompt,
            Err(why) => return reply.fail(Error::invalid_params().data(why)),
        };
        let mut turn = session.turn.lock().unwrap_or_else(PoisonError::into_inner);
        if turn.is_some() {
            return reply
                .fail(Error::invalid_request().data(
                    "a prompt is already running in this session: wait for it or cancel it",
                ));
        }
        let title = crate::session::title_of(&text).filter(|_| {
            !session
                .titled
                .swap(true, std::sync::atomic::Ordering::SeqCst)
        });
        if let Some(title) = title {
            reply.cx.notify(SessionNotification::new(
                request.session_id.clone(),
                SessionUpdate::SessionInfoUpdate(SessionInfoUpdate::new().title(title)),
            ));
        }
        if session
            .ops
            .send(Op::Submit(Submission {
                text,
                images,
                ..Submission::default()
            }))
            .is_err()
        {
            return reply.fail(Error::internal_error().data("this session's agent stopped"));
        }
        *turn = Some(Turn {
            reply,
            cancelled: CancellationToken::new(),
            toward_goal: false,
        });
    }

    /// `session/cancel`: stops the stream, kills running commands and drops open approvals;
    /// the prompt then ends with `cancelled`.
    pub fn cancel(&self, id: &str) {
        let Some(session) = self.get(id) else {
            return;
        };
        if let Some(turn) = &*session.turn.lock().unwrap_or_else(PoisonError::into_inner) {
            turn.cancelled.cancel();
        }
        let _ = session.ops.send(Op::Interrupt);
    }

    /// Stops every session and waits (briefly) until their turns have let go.
    pub async fn shut_down(&self) {
        let sessions: Vec<_> = self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .collect();
        let mut pumps = Vec::new();
        for (_, (session, pump)) in sessions {
            let _ = session.ops.send(Op::Interrupt);
            let _ = session.ops.send(Op::Shutdown);
            pumps.push(pump);
        }
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, futures_util::future::join_all(pumps)).await;
    }
}

/// A prompt's blocks as the text the model gets: text as it is, an embedded file with its
/// name, a link as its URI. Images and audio are refused: the agent said it takes neither.
fn prompt_parts(blocks: Vec<ContentBlock>) -> Result<(String, Vec<ImageInput>), String> {
    let mut parts = Vec::new();
    let mut images = Vec::new();
    for block in blocks {
        match block {
            ContentBlock::Text(text) => parts.push(text.text),
            ContentBlock::ResourceLink(link) => parts.push(format!("@{}", link.uri)),
            ContentBlock::Resource(resource) => match resource.resource {
                EmbeddedResourceResource::TextResourceContents(file) => parts.push(format!(
                    "<context uri=\"{}\">\n{}\n</context>",
                    file.uri, file.text
                )),
                _ => return Err("kelp takes text resources only".to_string()),
            },
            ContentBlock::Image(image) => images.push(ImageInput::Data {
                mime_type: image.mime_type,
                base64: image.data,
            }),
            _ => return Err("kelp takes text, images and resources: no audio".to_string()),
        }
    }
    Ok((parts.join("\n"), images))
}

/// An error for a session request, as one line.
fn session_error(message: impl Into<String>) -> Error {
    Error::internal_error().data(message.into())
}

/// Refuses session requests until a login is stored (or `OPENAI_API_KEY` is set), as ACP
/// agents do: the client then offers the sign-in methods.
async fn signed_in(face: &Face) -> Result<AuthSummary, Error> {
    let config = face.config.clone();
    let facts = crate::task::spawn_blocking(move || {
        StartFacts::read(&config, std::env::var("OPENAI_API_KEY").ok())
    })
    .await
    .map_err(|e| session_error(e.to_string()))?;
    match (facts.auth, facts.warning) {
        (Some(auth), _) => Ok(auth),
        // An auth file that cannot be read says why, or the sign-in would seem to vanish.
        (None, Some(warning)) => Err(sign_in_needed("the auth file cannot be read", &warning)),
        // The words say how: without them a client tells the person to install the agent.
        (None, None) => Err(sign_in_needed(
            "not signed in",
            "Sign in with ChatGPT (in the browser or by device code) or an OpenAI API key, or \
             run `kelp login` in a terminal.",
        )),
    }
}

/// ACP's "Authentication required", its data an object as clients read it: a short `reason`
/// and the `details` that say what to do.
fn sign_in_needed(reason: &str, details: &str) -> Error {
    Error::auth_required().data(serde_json::json!({ "reason": reason, "details": details }))
}

/// A project directory from the client: absolute, existing, canonical.
fn project_dir(cwd: &std::path::Path) -> Result<PathBuf, Error> {
    if !cwd.is_absolute() {
        return Err(Error::invalid_params()
            .data(format!("cwd must be an absolute path: {}", cwd.display())));
    }
    match std::fs::canonicalize(cwd) {
        Ok(dir) if dir.is_dir() => Ok(dir),
        Ok(_) => {
            Err(Error::invalid_params().data(format!("cwd is not a directory: {}", cwd.display())))
        }
        Err(e) => Err(Error::invalid_params().data(format!("cwd: {}: {e}", cwd.display()))),
    }
}

/// Starts the core of a session, with the client's editor when it holds the files.
async fn open_core(
    face: &Face,
    cx: &Connection,
    mut options: CoreOptions,
) -> Result<Opened, Error> {
    let (editor, session_id) = super::editor::for_session(&face.client(), cx, &options.project_dir);
    options.editor = editor;
    // A trusted project's own settings lie beneath the agent's; ACP has no place for what
    // waits for the person's allowance, so the log keeps it (`kelp project` shows it).
    let (base, dir) = (face.config.clone(), options.project_dir.clone());
    let (config, warnings) = crate::task::spawn_blocking(move || base.in_project(&dir))
        .await
        .unwrap_or_else(|_| (face.config.clone(), Vec::new()));
    for warning in &warnings {
        tracing::warn!(%warning, "the project's settings");
    }
    let opened = open(config, options).await.map_err(session_error)?;
    let _ = session_id.set(opened.id.clone());
    Ok(opened)
}

/// The MCP servers the client hands over, for this session beside the config file's: stdio
/// and HTTP (SSE, which kelp does not advertise, is left out with a log line).
fn mcp_servers(servers: &[McpServer]) -> Vec<McpServerConfig> {
    servers
        .iter()
        .filter_map(|server| match server {
            McpServer::Stdio(stdio) => {
                let mut config = McpServerConfig::stdio(
                    stdio.name.clone(),
                    stdio.command.to_string_lossy(),
                    stdio.args.clone(),
                );
                if let McpTransport::Stdio { env, .. } = &mut config.transport {
                    env.extend(stdio.env.iter().map(|v| (v.name.clone(), v.value.clone())));
                }
                Some(config)
            }
            McpServer::Http(http) => {
                let mut config = McpServerConfig::http(http.name.clone(), http.url.clone());
                if let McpTransport::Http { headers, .. } = &mut config.transport {
                    headers.extend(
                        http.headers
                            .iter()
                            .map(|h| (h.name.clone(), h.value.clone())),
                    );
                }
                Some(config)
            }
            other => {
                tracing::info!(
                    ?other,
                    "an MCP server over a transport kelp does not speak is left out"
                );
                None
            }
        })
        .collect()
}

/// `session/new`: a new conversation in `cwd`, saved as a kelp session.
pub fn new(face: Arc<Face>, request: NewSessionRequest, reply: Reply) {
    answer_later(reply, async move {
        let cx = face.cx.clone();
        let auth = signed_in(&face).await?;
        let dir = project_dir(&request.cwd)?;
        let mut options = CoreOptions::new(&dir);
        options.mcp_servers = mcp_servers(&request.mcp_servers);
        let opened = open_core(&face, &cx, options).await?;
        let id = opened.id.clone();
        let choices = Choices::initial(&face.config, Some(&auth));
        let response = NewSessionResponse::new(id)
            .modes(super::modes::state(choices.mode))
            .config_options(choices.options());
        face.sessions.add(opened, cx, dir, choices);
        Ok(response)
    });
}

/// `session/load`: the saved conversation, replayed as `session/update`s before the answer,
/// then continued.
pub fn load(face: Arc<Face>, request: LoadSessionRequest, reply: Reply) {
    answer_later(reply, async move {
        let (id, cwd, servers) = (request.session_id, request.cwd, request.mcp_servers);
        let choices = reopen(&face, &id.0, &cwd, &servers, true).await?;
        Ok(LoadSessionResponse::new()
            .modes(super::modes::state(choices.mode))
            .config_options(choices.options()))
    });
}

/// `session/resume`: the saved conversation continued, without its replay (the editor shows
/// it already).
pub fn resume(face: Arc<Face>, request: ResumeSessionRequest, reply: Reply) {
    answer_later(reply, async move {
        let (id, cwd, servers) = (request.session_id, request.cwd, request.mcp_servers);
        let choices = reopen(&face, &id.0, &cwd, &servers, false).await?;
        Ok(ResumeSessionResponse::new()
            .modes(super::modes::state(choices.mode))
            .config_options(choices.options()))
    });
}

/// `session/fork`: a copy of the saved session under a new id, opened as a session of its own;
/// the original stays as it was (open or not). With `_meta: {"side": true}` the copy is a side
/// conversation of it, listed under it as `/side`'s are.
pub fn fork(face: Arc<Face>, request: ForkSessionRequest, reply: Reply) {
    answer_later(reply, async move {
        let beside = request
            .meta
            .as_ref()
            .and_then(|meta| meta.get("side"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        let (id, cwd, servers) = (request.session_id, request.cwd, request.mcp_servers);
        let state_dir = face.config.state_dir.clone();
        let wanted = id.0.to_string();
        let dir = project_dir(&cwd)?;
        let copy = crate::task::spawn_blocking(move || {
            let source = crate::session::find_whole(&state_dir, &wanted)?;
            if source.project_dir != dir {
                return Err(crate::session::SessionError::NoMatch(format!(
                    "{wanted} in {}",
                    dir.display()
                )));
            }
            let path = match beside {
                true => crate::session::shelf::fork_beside(&state_dir, &source)?,
                false => crate::session::shelf::fork(&state_dir, &source, None)?,
            };
            crate::protocol::SessionSummary::read(&path)
        })
        .await
        .map_err(|e| session_error(e.to_string()))?
        .map_err(|e| Error::invalid_params().data(format!("cannot fork session {}: {e}", id.0)))?;
        let copy_id = copy.id.to_string();
        let choices = reopen(&face, &copy_id, &cwd, &servers, false).await?;
        Ok(ForkSessionResponse::new(copy_id)
            .modes(super::modes::state(choices.mode))
            .config_options(choices.options()))
    });
}

/// Opens saved session `wanted` of project `cwd` again (closing it first if open here), its
/// history replayed when `replay`; returns the mode it is in.
async fn reopen(
    face: &Arc<Face>,
    wanted: &str,
    cwd: &std::path::Path,
    servers: &[McpServer],
    replay: bool,
) -> Result<Choices, Error> {
    {
        let cx = face.cx.clone();
        let auth = signed_in(face).await?;
        let wanted = wanted.to_string();
        let state_dir = face.config.state_dir.clone();
        let lookup = wanted.clone();
        let summary =
            crate::task::spawn_blocking(move || crate::session::find_whole(&state_dir, &lookup))
                .await
                .map_err(|e| session_error(e.to_string()))?
                .ok()
                .ok_or_else(|| Error::invalid_params().data(format!("no session {wanted}")))?;
        let cwd = project_dir(cwd)?;
        if cwd != summary.project_dir {
            return Err(Error::invalid_params().data(format!(
                "session {wanted} belongs to {}, not {}",
                summary.project_dir.display(),
                cwd.display()
            )));
        }
        // Loaded again while open: one core at a time on a session file.
        face.sessions.close(&wanted).await;
        let mut options = CoreOptions::new(&summary.project_dir);
        options.mcp_servers = mcp_servers(servers);
        options.resume = Some(summary.path.clone());
        options.new_if_resume_fails = false;
        let opened = open_core(face, &cx, options).await.map_err(|e| {
            let reason = e
                .data
                .as_ref()
                .and_then(|d| d.as_str())
                .unwrap_or(&e.message);
            session_error(format!("cannot load session {wanted}: {reason}"))
        })?;
        if replay {
            let shown = opened
                .restored
                .as_deref()
                .map(|replay| super::updates::replay(replay, &summary.project_dir));
            for update in shown.into_iter().flatten() {
                cx.notify(SessionNotification::new(opened.id.clone(), update));
            }
        }
        let mut choices = Choices::initial(&face.config, Some(&auth));
        // The mode chosen for it before, in this agent or an earlier one, is its mode again.
        let state_dir = face.config.state_dir.clone();
        let kept = crate::task::spawn_blocking(move || super::modes::kept(&state_dir, &wanted))
            .await
            .ok()
            .flatten();
        if let Some(mode) = kept.filter(|mode| *mode != choices.mode) {
            let op = choices.choose("mode", mode, &face.config)?;
            let _ = opened.ops.send(op);
        }
        face.sessions
            .add(opened, cx, summary.project_dir, choices.clone());
        Ok(choices)
    }
}
