//! `/resume`'s search of what the conversations said: from three characters typed, the query
//! goes to the core, which reads the said files of this project's conversations; those that
//! say it are offered with the line that says it, those older than the list joining it.

use super::app::App;
use super::bottom_pane::PickerKind;
use super::resume::{session_items, session_previews};
use crate::protocol::SessionSummary;

/// The shortest query `/resume` searches the conversations' words for: shorter ones match too
/// much to help.
const SAID_QUERY_CHARS: usize = 3;

impl App {
    /// A key reached `/resume`'s picker: a query that changed is searched for in what the
    /// conversations said too, not only in their titles.
    pub(super) fn search_resume_list(&mut self) {
        let Some(query) = self
            .pane
            .picker_mut(PickerKind::Resume)
            .and_then(|picker| picker.query().map(str::to_string))
        else {
            return;
        };
        let query = query.trim().to_string();
        if query.chars().count() < SAID_QUERY_CHARS || self.session.searched == query {
            return;
        }
        self.session.searched = query.clone();
        self.send(crate::protocol::Op::SearchSessions(query));
    }

    /// The conversations that say `term`: each one listed shows the line that says it, one
    /// not listed (older) joins the list, and all of them are shown while `term` is the query.
    pub(super) fn sessions_saying(&mut self, term: &str, found: Vec<(SessionSummary, String)>) {
        // Searches overtake each other: only the answer for the query typed now is shown.
        let typed = self
            .pane
            .picker_mut(PickerKind::Resume)
            .and_then(|picker| picker.query().map(|query| query.trim().to_string()));
        if typed.is_none_or(|typed| !typed.eq_ignore_ascii_case(term)) {
            return;
        }
        let mut rows = Vec::new();
        let mut said = Vec::new();
        for (summary, line) in found {
            let at = match self.session.listed.iter().position(|s| s.id == summary.id) {
                Some(at) => at,
                None => {
                    self.session.listed.push(summary);
                    self.session.listed.len() - 1
                }
            };
            rows.push(at);
            said.push((at, line));
        }
        let items = session_items(&self.session.listed, self.now());
        let mut previews = session_previews(&self.session.listed);
        for (at, line) in said {
            let line = crate::terminal_text::printable(&line).into_owned();
            previews[at].insert(0, format!("said:       {line}"));
        }
        if let Some(picker) = self.pane.picker_mut(PickerKind::Resume) {
            picker.set_items(items);
            picker.set_previews(previews);
            picker.set_found(term, rows);
        }
    }
}
