//! The editor's buffers as kelp's [`EditorFiles`]: when the client can read and write text
//! files (`fs` capabilities), `read_file` and `apply_patch` go through `fs/read_text_file` and
//! `fs/write_text_file`, so the model sees and edits the files as the person has them open,
//! unsaved changes included.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use agent_client_protocol::v1::schema::{
    ClientCapabilities, ReadTextFileRequest, WriteTextFileRequest,
};
use futures_util::future::BoxFuture;

use super::Connection;
use crate::agent::tools::{Editor, EditorFiles};

/// The client's file system, for one session.
struct ClientFiles {
    cx: Connection,
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
        Box::pin(async move {
            let request = ReadTextFileRequest::new(session?, path);
            match cx.send_request(request).block_task().await {
                Ok(response) => Ok(response.content),
                Err(e) => Err(e
                    .data
                    .map_or(e.message.clone(), |d| format!("{}: {d}", e.message))),
            }
        })
    }

    fn write(&self, path: PathBuf, text: String) -> BoxFuture<'static, Result<(), String>> {
        let cx = self.cx.clone();
        let session = self.session();
        Box::pin(async move {
            let request = WriteTextFileRequest::new(session?, path, text);
            match cx.send_request(request).block_task().await {
                Ok(_) => Ok(()),
                Err(e) => Err(e
                    .data
                    .map_or(e.message.clone(), |d| format!("{}: {d}", e.message))),
            }
        })
    }
}

/// The editor for a new session, when the client can both read and write text files (with
/// only one of the two, the model would read one version and write over another); and the
/// slot its session id goes into once known.
pub fn for_session(
    client: &ClientCapabilities,
    cx: &Connection,
) -> (Option<Editor>, Arc<OnceLock<String>>) {
    let session_id = Arc::new(OnceLock::new());
    let editor = (client.fs.read_text_file && client.fs.write_text_file).then(|| {
        Editor(Arc::new(ClientFiles {
            cx: cx.clone(),
            session_id: Arc::clone(&session_id),
        }))
    });
    (editor, session_id)
}
