//! `/resume`'s search of what was said, on a server: `thread/search` asked with the term typed,
//! its answer kept to this folder's conversations as a local search is.

use serde_json::Value;

use super::{Asked, Remote, decode};
use crate::protocol::{Event, Reply};
use crate::remote::items;
use crate::wire;

impl Remote {
    /// `/resume`'s search of what was said, asked of the server (`thread/search`): its answer
    /// keeps to this folder's conversations, as a local search does.
    pub(super) fn search_sessions(&mut self, term: String) {
        let params = crate::wire::ThreadSearchParams {
            search_term: term.clone(),
            limit: Some(100),
            ..crate::wire::ThreadSearchParams::default()
        };
        self.request(&params, Asked::SessionsSaying(term));
    }

    /// The server's conversations of this folder that say `term`, each with the line that
    /// says it.
    pub(super) fn sessions_saying(&mut self, term: String, result: Value) {
        let Some(page) = decode::<wire::ListPage<wire::ThreadSearchResult>>(result) else {
            return;
        };
        let found = page
            .data
            .into_iter()
            .filter(|found| found.thread.cwd == self.wanted.project_dir)
            .filter_map(|found| {
                let summary = items::session_summary(found.thread)?;
                self.listed
                    .insert(summary.path.clone(), summary.id.to_string());
                Some((summary, found.snippet))
            })
            .collect();
        self.emit(Event::Reply(Reply::SessionsSaying { term, found }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Op;
    use crate::remote::client::Wanted;
    use serde_json::json;
    use std::path::PathBuf;

    #[test]
    fn resume_searches_the_servers_conversations_of_this_folder() {
        let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
        let wanted = Wanted {
            project_dir: PathBuf::from("/work/proj"),
            ..Wanted::default()
        };
        let mut remote = Remote::new(wanted, events);
        remote.on_op(Op::SearchSessions("zebra".into()));
        let sent = remote.take_outgoing();
        assert_eq!(sent[0]["method"], "thread/search");
        assert_eq!(sent[0]["params"]["searchTerm"], "zebra");
        let thread = |id: &str, cwd: &str| {
            json!({"id": id, "preview": "about zebras", "cwd": cwd, "turns": [],
                   "createdAt": 1_790_000_000, "updatedAt": 1_790_000_100})
        };
        let here = "0199a213-81c0-7800-8aa1-bbab2a035a53";
        let elsewhere = "0199a213-81c0-7800-8aa1-bbab2a035a54";
        let answer = json!({"id": sent[0]["id"], "result": {"data": [
            {"thread": thread(here, "/work/proj"), "snippet": "the zebra test"},
            {"thread": thread(elsewhere, "/work/other"), "snippet": "zebra too"},
        ], "nextCursor": null}});
        remote.on_message(&answer.to_string());
        let Ok(Event::Reply(Reply::SessionsSaying { term, found })) = received.try_recv() else {
            panic!("the conversations that say it");
        };
        assert_eq!(term, "zebra");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0.id.to_string(), here);
        assert_eq!(found[0].1, "the zebra test");
    }
}
