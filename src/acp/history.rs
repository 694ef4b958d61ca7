//! `session/list` and `session/delete`: the saved sessions as an editor's history, newest
//! first, each titled by its name or first prompt.

use std::sync::Arc;

use agent_client_protocol_schema::v1::{
    DeleteSessionRequest, DeleteSessionResponse, Error, ListSessionsRequest, ListSessionsResponse,
    SessionInfo,
};

use super::{Face, Reply, answer_later};

/// Sessions one `session/list` page holds.
const PAGE: usize = 50;

/// `session/list`: the saved sessions (of the `cwd` project when named), newest first, in pages
/// whose cursor is how many came before.
pub fn list(face: Arc<Face>, request: ListSessionsRequest, reply: Reply) {
    answer_later(reply, async move {
        let skip = match request.cursor.as_deref() {
            None => 0,
            Some(cursor) => cursor
                .parse::<usize>()
                .map_err(|_| Error::invalid_params().data(format!("invalid cursor: {cursor}")))?,
        };
        let project = request
            .cwd
            .map(|cwd| std::fs::canonicalize(&cwd).unwrap_or(cwd));
        let state_dir = face.config.state_dir.clone();
        let (found, names) = crate::task::spawn_blocking(move || {
            let found: Vec<_> = crate::session::list_sessions(&state_dir, project.as_deref())
                .filter(|summary| summary.agent.is_none())
                .skip(skip)
                .take(PAGE + 1)
                .collect();
            (found, crate::session::shelf::names(&state_dir))
        })
        .await
        .map_err(Error::into_internal_error)?;
        let next = (found.len() > PAGE).then(|| (skip + PAGE).to_string());
        let sessions = found
            .into_iter()
            .take(PAGE)
            .map(|session| {
                let title = names
                    .get(&session.id)
                    .cloned()
                    .or(session.first_prompt.clone());
                let updated = session
                    .modified
                    .map(chrono::DateTime::<chrono::Utc>::from)
                    .unwrap_or(session.started_at);
                SessionInfo::new(session.id.to_string(), session.project_dir)
                    .title(title)
                    .updated_at(updated.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            })
            .collect();
        Ok(ListSessionsResponse::new(sessions).next_cursor(next))
    });
}

/// `session/delete`: the saved session is closed if open here and its file removed; it is gone
/// from the list and cannot be loaded again.
pub fn delete(face: Arc<Face>, request: DeleteSessionRequest, reply: Reply) {
    answer_later(reply, async move {
        let wanted = request.session_id.0.to_string();
        face.sessions.close(&wanted).await;
        let state_dir = face.config.state_dir.clone();
        let id = wanted.clone();
        crate::task::spawn_blocking(move || {
            let session = crate::session::find_whole(&state_dir, &id)
                .ok()
                .ok_or_else(|| Error::invalid_params().data(format!("no session {id}")))?;
            std::fs::remove_file(&session.path).map_err(|e| {
                Error::internal_error().data(format!("could not delete session {id}: {e}"))
            })
        })
        .await
        .map_err(Error::into_internal_error)??;
        Ok(DeleteSessionResponse::new())
    });
}
