//! The language servers of a conversation: after the model's patch or command changes files,
//! the project's language server (found on `PATH` for the files' language, or named in `[lsp]`)
//! is asked for those files' diagnostics, and the ones the change introduced (new errors and
//! warnings; those there before left out) go back to the model with the call's output.
//!
//! A server is code of the project's (rust-analyzer runs `build.rs`; a type checker reads the
//! project's plugins), so it runs in the command sandbox, the project read-only and the network
//! off, its caches in the sandbox's private `/tmp`. It starts on the first change to a file of
//! its language, stays for the conversation, and is killed with it. A check takes at most the
//! config's `timeout_ms` (5 s unless set), its start included; a server that does not answer in
//! time or dies costs that and is said once (one still starting is waited for again at the next
//! change).
//!
//! - `client.rs`: one running server and the protocol's framing.
//! - `servers.rs`: which server checks which file.
//! - `snapshot.rs`: which of those files a command changed.
//!
//! A patch says what each file held before, so the diagnostics there before are left out; a
//! command does not, so for a file no check had seen, the errors it holds now are all said,
//! marked so.

pub mod client;
pub mod servers;
pub mod snapshot;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::lsp::LspSettings;
use crate::protocol::SandboxMode;
use crate::tools::SandboxPolicy;
use client::Client;

/// How long a server that does not say which version its diagnostics are for must stay quiet
/// after publishing a file's before they count as all of them (typescript's come in parts: the
/// syntax's at once, the types' once it has read the project, which takes longer the first
/// time).
const SETTLE: Duration = Duration::from_millis(300);
const SETTLE_FIRST: Duration = Duration::from_millis(800);
/// The most diagnostics one change sends the model.
const MOST_SENT: usize = 20;
/// The most characters of one diagnostic's message.
const MOST_CHARS: usize = 300;
/// The most characters of a diagnostic's code.
const MOST_CODE_CHARS: usize = 60;
/// The largest file a command changed that is read to check it.
const MOST_TEXT_BYTES: u64 = 1 << 20;

/// One diagnostic, as the model and `/diagnostics` read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    /// 1-based.
    pub line: u64,
    pub column: u64,
    /// The protocol's: 1 error, 2 warning, 3 information, 4 hint.
    pub severity: u8,
    pub message: String,
    pub code: Option<String>,
    /// The server that said it.
    pub server: String,
}

impl Diagnostic {
    fn of(path: &Path, server: &str, value: &Value) -> Option<Self> {
        let start = &value["range"]["start"];
        let code = match &value["code"] {
            Value::String(code) => Some(code.clone()),
            Value::Number(code) => Some(code.to_string()),
            _ => None,
        }
        .map(|code| {
            crate::terminal_text::printable(&code)
                .chars()
                .take(MOST_CODE_CHARS)
                .collect()
        });
        let message: String = value["message"]
            .as_str()?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let message: String = crate::terminal_text::printable(&message)
            .chars()
            .take(MOST_CHARS)
            .collect();
        Some(Self {
            path: path.to_path_buf(),
            line: start["line"].as_u64().unwrap_or(0) + 1,
            column: start["character"].as_u64().unwrap_or(0) + 1,
            severity: value["severity"]
                .as_u64()
                .and_then(|s| u8::try_from(s).ok())
                .unwrap_or(1),
            message,
            code,
            server: server.to_string(),
        })
    }

    /// `src/a.py:3:7: error: the message [code]`, the path as seen from `project_dir`.
    pub fn line(&self, project_dir: &Path) -> String {
        let path = self.path.strip_prefix(project_dir).unwrap_or(&self.path);
        let severity = match self.severity {
            1 => "error",
            2 => "warning",
            3 => "info",
            _ => "hint",
        };
        let code = self
            .code
            .as_ref()
            .map(|code| format!(" [{code}]"))
            .unwrap_or_default();
        format!(
            "{}:{}:{}: {severity}: {}{code}",
            path.display(),
            self.line,
            self.column,
            self.message
        )
    }

    /// What tells two diagnostics apart across an edit: not where they are (the lines move).
    fn identity(&self) -> (u8, &str, Option<&str>) {
        (self.severity, &self.message, self.code.as_deref())
    }
}

/// The diagnostics in `after` that `before` did not have (as many times), errors and warnings
/// only.
pub fn introduced(before: &[Diagnostic], after: &[Diagnostic]) -> Vec<Diagnostic> {
    let mut left: HashMap<(u8, &str, Option<&str>), usize> = HashMap::new();
    for diagnostic in before {
        *left.entry(diagnostic.identity()).or_default() += 1;
    }
    after
        .iter()
        .filter(|diagnostic| diagnostic.severity <= 2)
        .filter(|diagnostic| match left.get_mut(&diagnostic.identity()) {
            Some(count) if *count > 0 => {
                *count -= 1;
                false
            }
            _ => true,
        })
        .cloned()
        .collect()
}

/// A change to check: the file, its text before (`None`: new, or unknown) and after (`None`:
/// deleted).
pub struct Change {
    pub path: PathBuf,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// What a check came to: the text for the model (`None`: nothing new), and what the person is
/// told once (a server that cannot start, is slow, or died).
#[derive(Debug, Default)]
pub struct Checked {
    pub report: Option<String>,
    pub notes: Vec<String>,
}

/// A conversation's language servers; cheap to clone, shared by its clones.
#[derive(Clone, Default)]
pub struct LanguageServers(Arc<tokio::sync::Mutex<Inner>>);

/// Two are equal when they are the same servers.
impl PartialEq for LanguageServers {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for LanguageServers {}

impl std::fmt::Debug for LanguageServers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LanguageServers")
    }
}

#[derive(Default)]
struct Inner {
    settings: Option<LspSettings>,
    running: HashMap<String, Running>,
    /// The servers that could not start or died: said once, never tried again.
    said: HashMap<String, String>,
    /// The servers that were slow once (said so; they stay, and each change waits its time).
    slow: std::collections::HashSet<String>,
    /// Each file's diagnostics as last checked.
    current: BTreeMap<PathBuf, Vec<Diagnostic>>,
    /// The extensions some server checks here, once looked for.
    extensions: Option<Vec<String>>,
}

struct Running {
    client: Client,
    /// The files it has open, with their versions.
    open: HashMap<PathBuf, i64>,
    /// It has answered a check already (it has read the project).
    checked: bool,
    /// Its `initialize`, while unanswered, and when it was sent: a server slow to start is
    /// waited for again at the next change, up to [`MOST_START`].
    starting: Option<(client::Pending, Instant)>,
}

/// The longest a server may take to answer `initialize`, over the changes it is waited for at.
const MOST_START: Duration = Duration::from_secs(60);

impl Running {
    /// Whether the server has answered `initialize` (told `initialized` then), waiting for it
    /// until `until`; an error when it failed to, or has taken longer than [`MOST_START`].
    async fn ready(&mut self, until: Instant) -> Result<bool, String> {
        let Some((pending, sent)) = &mut self.starting else {
            return Ok(true);
        };
        let wait = until.saturating_duration_since(Instant::now());
        match self.client.answer(pending, wait).await {
            None if sent.elapsed() < MOST_START => Ok(false),
            None => Err(format!("did not start in {} s", MOST_START.as_secs())),
            Some(Err(why)) => Err(format!("did not start ({why})")),
            Some(Ok(_)) => {
                self.starting = None;
                self.client.notify("initialized", json!({}));
                Ok(true)
            }
        }
    }

    /// Shows the server `text` as the file `path` (in `language`) now holds: opened the first
    /// time, changed after. The version it is.
    fn show(&mut self, uri: &str, (path, language): (&Path, &str), text: &str) -> i64 {
        match self.open.get_mut(path) {
            Some(version) => {
                *version += 1;
                self.client.notify(
                    "textDocument/didChange",
                    json!({"textDocument": {"uri": uri, "version": *version}, "contentChanges": [{"text": text}]}),
                );
                *version
            }
            None => {
                self.client.notify(
                    "textDocument/didOpen",
                    json!({"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}}),
                );
                self.open.insert(path.to_path_buf(), 1);
                1
            }
        }
    }

    /// Waits for the diagnostics of `version` (its publications after the `seen`th): whether
    /// they came before `until`. Quiet is waited for the longer until it has answered once.
    async fn wait(&mut self, uri: &str, (seen, version): (u64, i64), until: Instant) -> bool {
        let settle = if self.checked { SETTLE } else { SETTLE_FIRST };
        let came = self
            .client
            .publication_after(uri, (seen, version), settle, until)
            .await;
        self.checked |= came;
        came
    }
}

impl LanguageServers {
    /// Servers under `settings` (`None`, or `enabled = false`: none).
    pub fn new(settings: &LspSettings) -> Self {
        let inner = Inner {
            settings: settings.enabled.then(|| settings.clone()),
            ..Inner::default()
        };
        Self(Arc::new(tokio::sync::Mutex::new(inner)))
    }

    /// Each file's diagnostics as last checked (`/diagnostics`).
    pub async fn current(&self) -> Vec<Diagnostic> {
        let inner = self.0.lock().await;
        inner.current.values().flatten().cloned().collect()
    }

    /// What `/diagnostics` shows.
    pub async fn report(&self, project_dir: &Path) -> crate::protocol::DiagnosticsReport {
        let inner = self.0.lock().await;
        let off = match &inner.settings {
            None => Some("they are off (lsp = false in config.toml)".to_string()),
            Some(_) if inner.running.is_empty() && inner.said.is_empty() => Some(
                "no language server has checked a file yet: one starts at the first change to a \
                 file of its language"
                    .to_string(),
            ),
            Some(_) => None,
        };
        let mut servers: Vec<String> = inner.running.keys().cloned().collect();
        servers.extend(
            inner
                .said
                .iter()
                .map(|(name, why)| format!("{name} (not running: {why})")),
        );
        servers.sort();
        crate::protocol::DiagnosticsReport {
            lines: inner
                .current
                .values()
                .flatten()
                .map(|diagnostic| diagnostic.line(project_dir))
                .collect(),
            servers,
            off,
        }
    }

    /// The process ids of the servers running, by name.
    pub async fn running(&self) -> Vec<(String, u32)> {
        let inner = self.0.lock().await;
        inner
            .running
            .iter()
            .filter_map(|(name, running)| running.client.pid().map(|pid| (name.clone(), pid)))
            .collect()
    }

    /// Before a command: the files some server checks, to tell what it changed (`None`: no
    /// server checks anything here, or diagnostics are off).
    pub async fn before_command(&self, project_dir: &Path) -> Option<snapshot::Snapshot> {
        let extensions = {
            let mut inner = self.0.lock().await;
            let settings = inner.settings.clone()?;
            inner
                .extensions
                .get_or_insert_with(|| {
                    let path_var = std::env::var("PATH").ok();
                    servers::extensions(&settings.servers, path_var.as_deref())
                })
                .clone()
        };
        if extensions.is_empty() {
            return None;
        }
        let dir = project_dir.to_path_buf();
        tokio::task::spawn_blocking(move || snapshot::Snapshot::take(&dir, &extensions))
            .await
            .ok()
    }

    /// After a command: the files it changed among those of `before`, checked.
    pub async fn after_command(
        &self,
        before: &snapshot::Snapshot,
        project_dir: &Path,
        sandbox: &SandboxPolicy,
    ) -> Checked {
        let Some(after) = self.before_command(project_dir).await else {
            return Checked::default();
        };
        let changes: Vec<Change> = before
            .changed(&after)
            .into_iter()
            .take(MOST_SENT)
            // A file that cannot be read whole (too large, not text, a link out) is not checked.
            .filter_map(|(path, there)| {
                let after = match there {
                    true => Some(read_beneath(project_dir, &path)?),
                    false => None,
                };
                Some(Change {
                    after,
                    before: None,
                    path,
                })
            })
            .collect();
        let mut checked = self.after_change(&changes, project_dir, sandbox).await;
        checked.report = checked.report.map(|report| {
            report.replacen(
                "reports what this change introduced:",
                "reports what the command's changes introduced (in a file no check had seen \
                 before, all it reports):",
                1,
            )
        });
        checked
    }

    /// Checks `changes` in the project at `project_dir`, whose commands run under `sandbox`.
    pub async fn after_change(
        &self,
        changes: &[Change],
        project_dir: &Path,
        sandbox: &SandboxPolicy,
    ) -> Checked {
        let mut inner = self.0.lock().await;
        let Some(settings) = inner.settings.clone() else {
            return Checked::default();
        };
        let until = Instant::now() + settings.timeout;
        let path_var = std::env::var("PATH").ok();
        let mut checked = Checked::default();
        let mut found = Vec::new();
        for change in changes {
            let Some(server) =
                servers::for_file(&change.path, &settings.servers, path_var.as_deref())
            else {
                continue;
            };
            if inner.said.contains_key(&server.name) {
                continue;
            }
            match inner
                .check(&server, change, (project_dir, sandbox), until)
                .await
            {
                Ok(Some(new)) => found.extend(new),
                Ok(None) => {
                    if inner.slow.insert(server.name.clone()) {
                        checked.notes.push(format!(
                            "the language server {} did not answer in {} s: the diagnostics of this change are left out (timeout_ms in [lsp] gives it longer)",
                            server.name,
                            settings.timeout.as_secs_f32()
                        ));
                    }
                }
                Err(why) => {
                    inner.running.remove(&server.name);
                    let note = format!(
                        "the language server {} {why}: its diagnostics are left out for the rest of this conversation",
                        server.name
                    );
                    inner.said.insert(server.name.clone(), why);
                    checked.notes.push(note);
                }
            }
        }
        checked.report = report(&found, project_dir);
        checked
    }
}

/// The text of `path`, opened beneath `project_dir` as the tools open files (a link a command
/// left that leads out of the project is not followed); `None` past [`MOST_TEXT_BYTES`].
fn read_beneath(project_dir: &Path, path: &Path) -> Option<String> {
    use std::io::Read;
    let opener = crate::tools::opener::Opener::new(
        project_dir,
        crate::tools::opener::Approved::Only(Vec::new()),
    )
    .ok()?;
    let (file, meta) = opener.open_regular(path).ok()?;
    if meta.len() > MOST_TEXT_BYTES {
        return None;
    }
    let mut text = String::new();
    file.take(MOST_TEXT_BYTES).read_to_string(&mut text).ok()?;
    Some(text)
}

/// The model's text for what a change introduced.
fn report(found: &[Diagnostic], project_dir: &Path) -> Option<String> {
    let first = found.first()?;
    let mut text = format!(
        "The language server ({}) reports what this change introduced:",
        first.server
    );
    for diagnostic in found.iter().take(MOST_SENT) {
        text.push('\n');
        text.push_str(&diagnostic.line(project_dir));
    }
    if found.len() > MOST_SENT {
        text.push_str(&format!("\n…and {} more", found.len() - MOST_SENT));
    }
    Some(text)
}

impl Inner {
    /// What the change to one file introduced, per `server` (`None`: it did not answer in
    /// time); an error ends the server.
    async fn check(
        &mut self,
        server: &servers::Chosen,
        change: &Change,
        (project_dir, sandbox): (&Path, &SandboxPolicy),
        until: Instant,
    ) -> Result<Option<Vec<Diagnostic>>, String> {
        if !self.running.contains_key(&server.name) {
            let running = start(server, project_dir, sandbox, until).await?;
            self.running.insert(server.name.clone(), running);
        }
        let Some(running) = self.running.get_mut(&server.name) else {
            return Ok(Some(Vec::new()));
        };
        if !running.ready(until).await? {
            return Ok(None);
        }
        let uri = url::Url::from_file_path(&change.path)
            .map_err(|()| "cannot name a file".to_string())?
            .to_string();
        let Some(after) = &change.after else {
            if running.open.remove(&change.path).is_some() {
                running.client.notify(
                    "textDocument/didClose",
                    json!({"textDocument": {"uri": uri}}),
                );
            }
            self.current.remove(&change.path);
            return Ok(Some(Vec::new()));
        };
        let before = match (running.open.contains_key(&change.path), &change.before) {
            (true, _) => self.current.get(&change.path).cloned().unwrap_or_default(),
            (false, Some(before)) => {
                let seen = running.client.published(&uri).count;
                let version = running.show(&uri, (&change.path, &server.language), before);
                if !running.wait(&uri, (seen, version), until).await {
                    return timed_out(running);
                }
                diagnostics(&change.path, &server.name, &running.client.published(&uri))
            }
            (false, None) => Vec::new(),
        };
        let seen = running.client.published(&uri).count;
        let version = running.show(&uri, (&change.path, &server.language), after);
        if !running.wait(&uri, (seen, version), until).await {
            return timed_out(running);
        }
        let now = diagnostics(&change.path, &server.name, &running.client.published(&uri));
        let new = introduced(&before, &now);
        self.current.insert(change.path.clone(), now);
        Ok(Some(new))
    }
}

/// A check that ran out of time: the server died, or it is slow (then it stays for the next
/// change, which waits its own time).
fn timed_out(running: &Running) -> Result<Option<Vec<Diagnostic>>, String> {
    match running.client.ended() {
        Some(why) => Err(format!("stopped ({why})")),
        None => Ok(None),
    }
}

fn diagnostics(path: &Path, server: &str, published: &client::Published) -> Vec<Diagnostic> {
    published
        .diagnostics
        .iter()
        .filter_map(|value| Diagnostic::of(path, server, value))
        .collect()
}

/// Starts `server` for the project, read-only and offline in the sandbox of its commands, and
/// says hello: it is ready, or still starting when `until` came first.
async fn start(
    server: &servers::Chosen,
    project_dir: &Path,
    sandbox: &SandboxPolicy,
    until: Instant,
) -> Result<Running, String> {
    let confined = match sandbox.mode {
        // The person turned the sandbox off: the server runs as their commands do.
        SandboxMode::Off => sandbox.clone(),
        _ => {
            let mut confined = SandboxPolicy {
                domains: None,
                private_tmp_in_read_only: true,
                ..sandbox.clone().with_mode(SandboxMode::ReadOnly, false)
            };
            // The ssh agent the person lends commands is not a language server's.
            confined.secrets.ssh_agent = None;
            confined
        }
    };
    let mut client = Client::start(&server.command, project_dir, &confined)
        .map_err(|why| format!("could not start ({why})"))?;
    let root = url::Url::from_directory_path(project_dir)
        .map_err(|()| "could not start (the project has no URI)".to_string())?;
    let params = json!({
        // In its own namespace kelp's id names no process: a server that watches its client
        // would take kelp for gone and stop.
        "processId": null,
        "rootUri": root.as_str(),
        "workspaceFolders": [{"uri": root.as_str(), "name": "project"}],
        "capabilities": {
            "textDocument": {
                "synchronization": {"didSave": false},
                "publishDiagnostics": {"versionSupport": true},
            },
            "workspace": {"configuration": true, "workspaceFolders": true},
        },
    });
    let initialize = client.send("initialize", params);
    let mut running = Running {
        client,
        open: HashMap::new(),
        checked: false,
        starting: Some((initialize, Instant::now())),
    };
    // Answered in time or not, it is ready or still starting; only a failure ends it.
    running.ready(until).await?;
    Ok(running)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(line: u64, message: &str, severity: u8) -> Diagnostic {
        Diagnostic {
            path: "/p/a.py".into(),
            line,
            column: 1,
            severity,
            message: message.into(),
            code: None,
            server: "pyright".into(),
        }
    }

    /// A diagnostic there before counts as unchanged wherever its line moved; a second of the
    /// same kind is new; hints never go.
    #[test]
    fn only_what_the_change_introduced_is_new() {
        let before = [said(3, "x is unknown", 1), said(9, "unused", 4)];
        let after = [
            said(5, "x is unknown", 1),
            said(6, "x is unknown", 1),
            said(7, "str is not int", 1),
            said(8, "unused", 4),
        ];
        let new = introduced(&before, &after);
        assert_eq!(
            new,
            [said(6, "x is unknown", 1), said(7, "str is not int", 1)]
        );
        let text = report(&new, Path::new("/p")).unwrap();
        assert_eq!(
            text,
            "The language server (pyright) reports what this change introduced:\n\
             a.py:6:1: error: x is unknown\na.py:7:1: error: str is not int"
        );
        assert_eq!(report(&[], Path::new("/p")), None);
    }
}
