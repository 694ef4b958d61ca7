//! `/resume`'s and Ctrl+R's search of what the conversations said: from three characters
//! typed, the query goes to the core, which reads the said files of this project's
//! conversations. `/resume` offers those that say it with the line that says it, those older
//! than the list joining it; Ctrl+R adds the lines themselves below the earlier prompts, each
//! taken into the composer as a prompt is.

use super::app::App;
use super::bottom_pane::PickerKind;
use super::bottom_pane::picker::PickerItem;
use super::resume::{session_items, session_previews};
use super::wrap::cut;
use crate::protocol::SessionSummary;

/// The shortest query `/resume` searches the conversations' words for: shorter ones match too
/// much to help.
const SAID_QUERY_CHARS: usize = 3;

/// The most of a conversation's title Ctrl+R's row names it by.
const SAID_IN_COLUMNS: usize = 24;

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

    /// Ctrl+R's query changed: what the conversations said is searched for it too.
    pub(super) fn search_said_for_history(&mut self, query: &str) {
        let query = query.trim();
        if query.chars().count() < SAID_QUERY_CHARS || self.session.searched == query {
            return;
        }
        self.session.searched = query.to_string();
        self.send(crate::protocol::Op::SearchSessions(query.to_string()));
    }

    /// Ctrl+R's list gets the lines that say `term`, below the prompts, while `term` is what
    /// the composer holds; a line that is one of the prompts listed is not listed twice.
    fn said_into_history(&mut self, term: &str, found: &[(SessionSummary, String)]) {
        let typed = self.pane.composer().text().trim().to_string();
        if !typed.eq_ignore_ascii_case(term) {
            return;
        }
        let mut added = Vec::new();
        for (summary, line) in found {
            let line = crate::terminal_text::printable(line).into_owned();
            if self.history_hits.contains(&line) {
                continue;
            }
            let title = summary.title().unwrap_or("a conversation").trim();
            added.push(PickerItem {
                label: line.clone(),
                detail: format!("said in “{}”", cut(title, SAID_IN_COLUMNS)),
                current: false,
            });
            self.history_hits.push(line);
        }
        if let Some(picker) = self.pane.picker_mut(PickerKind::History)
            && !added.is_empty()
        {
            picker.add_items(added);
        }
    }

    /// The conversations that say `term`: each one listed shows the line that says it, one
    /// not listed (older) joins the list, and all of them are shown while `term` is the query.
    pub(super) fn sessions_saying(&mut self, term: &str, found: Vec<(SessionSummary, String)>) {
        if self.pane.picker_mut(PickerKind::History).is_some() {
            self.said_into_history(term, &found);
            return;
        }
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
