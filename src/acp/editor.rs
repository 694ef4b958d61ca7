//! The editor's buffers as kelp's [`EditorFiles`]: when the client can read and write text
//! files (`fs` capabilities), `read_file` and `apply_patch` go through `fs/read_text_file` and
//! `fs/write_text_file`, so the model sees and edits the files as the person has them open,
//! unsaved changes included.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use agent_client_protocol_schema::v1::{
    CLIENT_METHOD_NAMES, ClientCapabilities, Error, ReadTextFileRequest, ReadTextFileResponse,
    WriteTextFileRequest, WriteTextFileResponse,
};
use futures_util::future::BoxFuture;

use super::Connection;
use crate::tools::{Editor, EditorFiles};

/// How long the editor may take to read or write a file before kelp gives up on it (a read
/// then falls back to the disk).
const EDITOR_WAIT: Duration = Duration::from_secs(10);

/// The client's file system, for one session.
struct ClientFiles {
    cx: Connection,
    /// Only files inside the project are read through the editor: asking it for others would
    /// open them there before anyone approved reading them.
    project_dir: PathBuf,
    /// Known once the session has started; no tool runs before that.
    session_id: Arc<OnceLock<String>>,
}

impl ClientFiles {
    fn session(&self) -> Result<String, String> {
        self.session_id
            .get()
            .cloned()
            .ok_or_else(|| "the session has not started".to_string())
    }
}

impl EditorFiles for ClientFiles {
    fn read(&self, path: PathBuf) -> BoxFuture<'static, Result<String, String>> {
        let cx = self.cx.clone();
        let session = self.session();
        let outside = crate::sandbox::paths::outside(&self.project_dir, &path).is_some();
        Box::pin(async move {
            if outside {
                return Err("outside the project: read from the disk".to_string());
            }
            let request = ReadTextFileRequest::new(session?, path);
            answered(
                cx.request::<ReadTextFileResponse>(CLIENT_METHOD_NAMES.fs_read_text_file, request),
            )
            .await
            .map(|response| response.content)
        })
    }

    fn write(&self, path: PathBuf, text: String) -> BoxFuture<'static, Result<(), String>> {
        let cx = self.cx.clone();
        let session = self.session();
        Box::pin(async move {
            let request = WriteTextFileRequest::new(session?, path, text);
            answered(
                cx.request::<WriteTextFileResponse>(
                    CLIENT_METHOD_NAMES.fs_write_text_file,
                    request,
                ),
            )
            .await
            .map(drop)
        })
    }
}

/// The editor's answer within [`EDITOR_WAIT`], its error as one line.
async fn answered<T>(
    request: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(EDITOR_WAIT, request).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(e
            .data
            .map_or(e.message.clone(), |d| format!("{}: {d}", e.message))),
        Err(_) => Err(format!(
            "the editor did not answer in {} s",
            EDITOR_WAIT.as_secs()
        )),
    }
}

/// The editor for a new session, when the client can both read and write text files (with
/// only one of the two, the model would read one version and write over another); and the
/// slot its session id goes into once known.
pub fn for_session(
    client: &ClientCapabilities,
    cx: &Connection,
    project_dir: &std::path::Path,
) -> (Option<Editor>, Arc<OnceLock<String>>) {
    let session_id = Arc::new(OnceLock::new());
    let editor = (client.fs.read_text_file && client.fs.write_text_file).then(|| {
        Editor(Arc::new(ClientFiles {
            cx: cx.clone(),
            project_dir: project_dir.to_path_buf(),
            session_id: Arc::clone(&session_id),
        }))
    });
    (editor, session_id)
}
