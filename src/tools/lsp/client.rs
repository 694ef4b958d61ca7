//! One language server, run confined as the model's commands are and spoken to over its stdin
//! and stdout in the Language Server Protocol's framing (`Content-Length` headers, JSON-RPC):
//! the requests kelp makes and their answers, the server's own requests answered as a client
//! with no features answers them, and the diagnostics it publishes, kept per file.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc::{Sender, channel};
use tokio::sync::{Notify, oneshot};

use crate::tools::SandboxPolicy;

/// The largest message read from a server; a larger one ends it (a server is code of the
/// project's, and may misbehave).
const MAX_MESSAGE_BYTES: usize = 16 << 20;
/// The longest header line.
const MAX_HEADER_BYTES: u64 = 1024;
/// The most files whose diagnostics are kept (those a server publishes unasked included).
const MAX_FILES: usize = 2_000;
/// The most messages waiting to be written to a server that does not read them: past it,
/// what kelp would send is dropped (the check then runs out of time, and says so).
const MAX_UNSENT: usize = 256;

/// The diagnostics a server published for one file: how many publications it made for it so
/// far (kelp waits for the next), and the last one.
#[derive(Debug, Clone, Default)]
pub struct Published {
    pub count: u64,
    pub diagnostics: Vec<Value>,
    /// The file's version they are for, when the server says (pyright does; typescript's
    /// does not).
    pub version: Option<i64>,
}

#[derive(Default)]
struct Shared {
    /// By the file's URI.
    published: HashMap<String, Published>,
    waiting: HashMap<i64, oneshot::Sender<Value>>,
    /// Why the server is gone, once it is.
    ended: Option<String>,
}

/// A running server; dropped, it is killed with everything it started.
pub struct Client {
    child: Child,
    out: Sender<Value>,
    shared: Arc<Mutex<Shared>>,
    changed: Arc<Notify>,
    next_id: i64,
}

impl Client {
    /// Starts `argv` in `project_dir` under `sandbox`, its caches in the sandbox's `/tmp`.
    pub fn start(
        argv: &[String],
        project_dir: &Path,
        sandbox: &SandboxPolicy,
    ) -> Result<Self, String> {
        let (program, args) = argv.split_first().ok_or("no command to start")?;
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(project_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        // Its caches in the sandbox's own `/tmp` (never a shared one: without the sandbox they
        // go where the person's own go).
        if sandbox.is_active() {
            command.env("XDG_CACHE_HOME", "/tmp/kelp-language-server-cache");
        }
        crate::tools::shell::confine(&mut command, sandbox, project_dir, project_dir, &[])
            .map_err(|e| e.to_string())?;
        let mut child = command.spawn().map_err(|e| format!("{program}: {e}"))?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("its pipes could not be opened".to_string());
        };
        let shared = Arc::new(Mutex::new(Shared::default()));
        let changed = Arc::new(Notify::new());
        let (out, mut to_send) = channel::<Value>(MAX_UNSENT);
        crate::task::spawn(async move {
            while let Some(message) = to_send.recv().await {
                if stdin.write_all(&framed(&message)).await.is_err() {
                    break;
                }
            }
        });
        let reader = Reader {
            shared: Arc::clone(&shared),
            changed: Arc::clone(&changed),
            out: out.clone(),
        };
        crate::task::spawn(reader.run(BufReader::new(stdout)));
        Ok(Self {
            child,
            out,
            shared,
            changed,
            next_id: 0,
        })
    }

    fn shared(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Why the server is gone, once it is.
    pub fn ended(&self) -> Option<String> {
        self.shared().ended.clone()
    }

    /// Sends a notification.
    pub fn notify(&self, method: &str, params: Value) {
        let _ = self
            .out
            .try_send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends the request `method`; its answer is waited for with [`Client::answer`].
    pub fn send(&mut self, method: &str, params: Value) -> Pending {
        self.next_id += 1;
        let id = self.next_id;
        let (tx, rx) = oneshot::channel();
        self.shared().waiting.insert(id, tx);
        let _ = self
            .out
            .try_send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        Pending {
            method: method.to_string(),
            answer: rx,
        }
    }

    /// The answer to `pending` (its result, or why there is none), or `None` when it did not
    /// come within `wait`: it may still come, waited for again.
    pub async fn answer(
        &self,
        pending: &mut Pending,
        wait: Duration,
    ) -> Option<Result<Value, String>> {
        let answer = match tokio::time::timeout(wait, &mut pending.answer).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => {
                return Some(Err(self
                    .ended()
                    .unwrap_or_else(|| "it stopped".to_string())));
            }
            Err(_) => return None,
        };
        Some(match answer.get("error") {
            Some(error) => Err(format!(
                "{}: {}",
                pending.method,
                error["message"].as_str().unwrap_or("refused")
            )),
            None => Ok(answer.get("result").cloned().unwrap_or(Value::Null)),
        })
    }

    /// What the server last published for `uri` (as [`file_key`] names it).
    pub fn published(&self, uri: &str) -> Published {
        self.published_as(&file_key(uri))
    }

    fn published_as(&self, key: &str) -> Published {
        self.shared()
            .published
            .get(key)
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until the server published for `uri` more than `seen` times, for `version` or
    /// later: a publication that names its version is the whole of it; one that does not may
    /// come in parts (typescript's: syntax, then types), so kelp waits until the server stayed
    /// quiet for `settle`. At most until `until`; whether it published at all.
    pub async fn publication_after(
        &self,
        uri: &str,
        (seen, version): (u64, i64),
        settle: Duration,
        until: tokio::time::Instant,
    ) -> bool {
        // Named once: each wake looks it up, without asking the disk again.
        let key = file_key(uri);
        loop {
            let notified = self.changed.notified();
            let published = self.published_as(&key);
            match published.version {
                _ if published.count <= seen => {}
                Some(said) if said >= version => return true,
                Some(_) => {}
                None => break,
            }
            if self.ended().is_some() || tokio::time::timeout_at(until, notified).await.is_err() {
                return false;
            }
        }
        loop {
            let notified = self.changed.notified();
            let deadline = (tokio::time::Instant::now() + settle).min(until);
            let quiet = tokio::time::timeout_at(deadline, notified).await.is_err();
            if quiet || tokio::time::Instant::now() >= until || self.ended().is_some() {
                return true;
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Its own process group (it was started detached): what it started goes with it.
        if let Some(pid) = self.child.id().and_then(|pid| i32::try_from(pid).ok()) {
            // SAFETY: signalling a process group by id; no memory is involved.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

/// A message in the protocol's framing.
fn framed(message: &Value) -> Vec<u8> {
    let body = message.to_string();
    let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// Reads the next message: `None` at the end of the stream or on a frame that breaks the rules.
pub async fn read_message(reader: &mut (impl AsyncBufRead + Unpin)) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        let read = (&mut *reader)
            .take(MAX_HEADER_BYTES)
            .read_line(&mut line)
            .await
            .ok()?;
        if read == 0 || !line.ends_with('\n') {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let length = length.filter(|length| *length <= MAX_MESSAGE_BYTES)?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.ok()?;
    serde_json::from_slice(&body).ok()
}

/// What reads the server's messages.
struct Reader {
    shared: Arc<Mutex<Shared>>,
    changed: Arc<Notify>,
    out: Sender<Value>,
}

impl Reader {
    async fn run(self, mut stdout: impl AsyncBufRead + Unpin) {
        while let Some(message) = read_message(&mut stdout).await {
            self.take(message);
        }
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        shared.ended = Some("it stopped".to_string());
        shared.waiting.clear();
        drop(shared);
        self.changed.notify_waiters();
    }

    fn take(&self, message: Value) {
        let method = message.get("method").and_then(Value::as_str);
        match (method, message.get("id")) {
            // An answer to one of kelp's requests.
            (None, Some(id)) => {
                let waiting = id.as_i64().and_then(|id| {
                    let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
                    shared.waiting.remove(&id)
                });
                if let Some(waiting) = waiting {
                    let _ = waiting.send(message);
                }
            }
            // The server asks: a client with no settings and no features answers so.
            (Some(method), Some(id)) => {
                let result = match method {
                    "workspace/configuration" => {
                        let items = message["params"]["items"].as_array().map_or(0, Vec::len);
                        Value::Array(vec![Value::Null; items])
                    }
                    "workspace/workspaceFolders" => Value::Null,
                    _ => Value::Null,
                };
                let _ = self
                    .out
                    .try_send(json!({"jsonrpc": "2.0", "id": id, "result": result}));
            }
            (Some("textDocument/publishDiagnostics"), None) => {
                let params = &message["params"];
                let Some(uri) = params["uri"].as_str() else {
                    return;
                };
                let diagnostics = params["diagnostics"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let version = params["version"].as_i64();
                let key = file_key(uri);
                let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
                if shared.published.len() >= MAX_FILES && !shared.published.contains_key(&key) {
                    return;
                }
                let published = shared.published.entry(key).or_default();
                published.count += 1;
                published.diagnostics = diagnostics;
                published.version = version;
                drop(shared);
                self.changed.notify_waiters();
            }
            _ => {}
        }
    }
}

/// A request sent whose answer is still to come.
#[derive(Debug)]
pub struct Pending {
    method: String,
    answer: oneshot::Receiver<Value>,
}

/// A file's URI as kelp and its servers both name it: the file's path beneath its real folder.
/// A server may answer with another spelling than kelp sent (a symlinked project's real path,
/// other percent-encoding); any other URI is its own name.
pub fn file_key(uri: &str) -> String {
    let Some(path) = url::Url::parse(uri)
        .ok()
        .and_then(|url| url.to_file_path().ok())
    else {
        return uri.to_string();
    };
    let real = match (path.parent(), path.file_name()) {
        (Some(folder), Some(name)) => std::fs::canonicalize(folder).map(|real| real.join(name)),
        _ => Ok(path.clone()),
    };
    real.unwrap_or(path).to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[tokio::test]
    async fn a_framed_message_reads_back_and_a_broken_frame_ends_the_stream() {
        let message = json!({"jsonrpc": "2.0", "method": "x", "params": {"é": 1}});
        let mut bytes = framed(&message);
        bytes.extend_from_slice(&framed(&json!({"id": 2})));
        let mut reader = BufReader::new(bytes.as_slice());
        assert_eq!(read_message(&mut reader).await, Some(message));
        assert_eq!(read_message(&mut reader).await, Some(json!({"id": 2})));
        assert_eq!(read_message(&mut reader).await, None);
        let huge = format!("Content-Length: {}\r\n\r\n", MAX_MESSAGE_BYTES + 1);
        let mut reader = BufReader::new(huge.as_bytes());
        assert_eq!(read_message(&mut reader).await, None);
    }

    proptest! {
        /// Whatever bytes a server writes are read as messages or end the stream; never a
        /// panic, never a read past what it said.
        #[test]
        fn any_bytes_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            runtime.block_on(async {
                let mut reader = BufReader::new(bytes.as_slice());
                let mut read = 0;
                while read_message(&mut reader).await.is_some() {
                    read += 1;
                }
                assert!(read <= bytes.len());
            });
        }
    }

    /// A symlinked project's files are one file whichever path a server names them by.
    #[test]
    fn a_file_is_one_key_by_any_path_or_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real project");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        let uri = |path: &Path| url::Url::from_file_path(path).unwrap().to_string();
        let sent = uri(&dir.path().join("link/main.py"));
        let answered = uri(&real.join("main.py"));
        assert_ne!(sent, answered);
        assert_eq!(file_key(&sent), file_key(&answered));
        let spelled = answered.replace("main.py", "m%61in.py");
        assert_ne!(spelled, answered);
        assert_eq!(file_key(&spelled), file_key(&sent));
        let other = uri(&real.join("other.py"));
        assert_ne!(file_key(&other), file_key(&sent));
        assert_eq!(file_key("untitled:1"), "untitled:1");
    }
}
