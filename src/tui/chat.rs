//! The conversation as it streams: the transcript and the bookkeeping of the turn in flight —
//! which cell the answer, the reasoning and each tool call go to, the cells of each item the
//! core names (a retry voids some), and the approval cell waiting for its answer.

use std::collections::HashMap;
use std::time::Duration;

use super::call_lines::{ShownChange, ToolCall, ToolEnd};
use super::history_cell::{CellKind, HistoryCell};
use super::streaming::StreamingMarkdown;
use super::transcript::Transcript;
use crate::humanize;
use crate::protocol::{ApprovalDecision, ApprovalSubject, Event, ItemId, PlanStep};

/// How far back a review's cell is looked for as it ends: its call's cells come after it.
const REVIEW_LOOKBACK: usize = 64;
/// Tool output kept per call; older output is dropped from the front.
const MAX_TOOL_OUTPUT: usize = 256 * 1024;

/// The transcript and the turn streaming into it.
#[derive(Debug, Default)]
pub struct Chat {
    /// Every cell, with scrolling.
    pub transcript: Transcript,
    assistant_cell: Option<usize>,
    reasoning_cell: Option<usize>,
    /// Cells from here on were streamed by the response in flight.
    response_start: usize,
    /// The person stopped the turn: a call that ends without success now was interrupted.
    pub interrupting: bool,
    /// The cell of each answer and reasoning item of the response in flight.
    item_cells: HashMap<ItemId, usize>,
    tool_cells: HashMap<String, usize>,
    /// The approval cell still waiting for its answer.
    approval_cell: Option<usize>,
    /// A retry is under way: what the failed attempt streamed stays on screen until the next
    /// attempt streams its own, or the turn ends and it is all there is.
    retry_pending: bool,
    /// The items the pending retry voids.
    voided: Vec<ItemId>,
    /// Calls refused before they ran, whose end is still to come (a saved conversation's).
    declined: std::collections::HashSet<String>,
    /// The errors shown in this run, for `/warnings` (F2), whatever the transcript forgets.
    pub(super) warnings: Warnings,
}

/// The most text the transcript keeps of one long run; what is older leaves the screen (the
/// session file keeps it).
const KEPT_BYTES: usize = 4 << 20;

/// The first line once older turns left the transcript.
const EARLIER_NOT_SHOWN: &str =
    "Earlier turns are not shown here: the saved conversation keeps them.";

impl Chat {
    /// Adds a cell at the end; returns its index.
    pub fn push(&mut self, kind: CellKind) -> usize {
        if let CellKind::Error(text) = &kind {
            self.warnings.keep(text);
        }
        self.transcript.push(HistoryCell::new(kind))
    }

    /// Forgets the transcript and everything that points into it; the run's warnings stay.
    pub fn clear(&mut self) {
        let warnings = std::mem::take(&mut self.warnings);
        *self = Self {
            warnings,
            ..Self::default()
        };
    }

    /// Between turns, when nothing points into the transcript: drops the oldest cells past
    /// [`KEPT_BYTES`] of text, so one long run holds a bounded transcript; a first line says
    /// that the saved conversation keeps what is gone.
    pub fn forget_oldest(&mut self) {
        let open = self.assistant_cell.is_some()
            || self.reasoning_cell.is_some()
            || self.approval_cell.is_some()
            || !self.tool_cells.is_empty()
            || self.retry_pending;
        if open {
            return;
        }
        if self.transcript.drop_oldest(KEPT_BYTES) == 0 {
            return;
        }
        let said = self.transcript.get_mut(0).is_some_and(
            |cell| matches!(cell.kind(), CellKind::Notice(text) if text == EARLIER_NOT_SHOWN),
        );
        if !said {
            self.transcript
                .push_front(HistoryCell::new(CellKind::Notice(EARLIER_NOT_SHOWN.into())));
        }
        self.response_start = self.transcript.len();
        self.item_cells.clear();
    }

    /// What streams from now on belongs to a new response (a turn began, a history was
    /// restored).
    pub fn start_response(&mut self) {
        self.interrupting = false;
        self.assistant_cell = None;
        self.reasoning_cell = None;
        self.response_start = self.transcript.len();
        self.item_cells.clear();
    }

    /// A piece of the answer `item`.
    pub fn text_delta(&mut self, item: &ItemId, delta: &str) {
        self.attempt_streams();
        let index = match self.assistant_cell {
            Some(i) => i,
            None => {
                let i = self.push_item(item, CellKind::Assistant(StreamingMarkdown::new()));
                self.assistant_cell = Some(i);
                i
            }
        };
        if let Some(cell) = self.transcript.get_mut(index)
            && let CellKind::Assistant(md) = cell.kind_mut()
        {
            md.push(delta);
        }
    }

    /// A piece of the reasoning summary `item`.
    pub fn reasoning_delta(&mut self, item: &ItemId, delta: &str) {
        self.attempt_streams();
        let index = match self.reasoning_cell {
            Some(i) => i,
            None => {
                let i = self.push_item(item, CellKind::Reasoning(String::new()));
                self.reasoning_cell = Some(i);
                i
            }
        };
        if let Some(cell) = self.transcript.get_mut(index)
            && let CellKind::Reasoning(text) = cell.kind_mut()
        {
            text.push_str(delta);
        }
    }

    /// The answer `item` is complete; `true` when it has code drawn plain until the
    /// highlighter loads.
    pub fn message_done(&mut self, item: &ItemId, text: &str) -> bool {
        self.attempt_streams();
        self.reasoning_cell = None;
        let index = match self.assistant_cell.take() {
            Some(i) => i,
            // Never streamed (a reopened conversation's answers, mostly): parsed when first
            // drawn, so a long conversation opens without parsing what is never seen.
            None => {
                self.push_item(item, CellKind::Assistant(StreamingMarkdown::finished(text)));
                let fenced = text.contains("```") || text.contains("~~~");
                return fenced && !super::highlight::is_loaded();
            }
        };
        if let Some(cell) = self.transcript.get_mut(index)
            && let CellKind::Assistant(md) = cell.kind_mut()
        {
            md.finish(text);
            return md.has_plain_code();
        }
        false
    }

    /// A tool call began.
    pub fn tool_started(&mut self, call_id: String, tool: String, summary: String) {
        self.attempt_streams();
        self.assistant_cell = None;
        self.reasoning_cell = None;
        let index = self.push(CellKind::Tool(ToolCall {
            call_id: call_id.clone(),
            tool,
            summary,
            output: String::new(),
            finished: None,
            changes: Vec::new(),
        }));
        self.tool_cells.insert(call_id, index);
    }

    /// A web search of the model's: started (`None`), then what it looked for.
    pub fn web_search(&mut self, item: &ItemId, query: Option<String>) {
        if let Some(&index) = self.tool_cells.get(&**item)
            && let Some(cell) = self.transcript.get_mut(index)
            && let CellKind::WebSearch(shown) = cell.kind_mut()
        {
            *shown = query;
            self.tool_cells.remove(&**item);
            return;
        }
        self.attempt_streams();
        self.assistant_cell = None;
        self.reasoning_cell = None;
        let running = query.is_none();
        let index = self.push(CellKind::WebSearch(query));
        if running {
            self.tool_cells.insert(item.to_string(), index);
        }
    }

    /// The files a running patch changed, shown with its diff once it ends.
    pub fn files_changed(
        &mut self,
        call_id: &str,
        changes: &[crate::tools::apply_patch::FileChange],
    ) {
        if let Some(&index) = self.tool_cells.get(call_id)
            && let Some(cell) = self.transcript.get_mut(index)
            && let CellKind::Tool(call) = cell.kind_mut()
        {
            call.changes = changes.iter().map(ShownChange::of).collect();
        }
    }

    /// Output of a running tool; the oldest goes past [`MAX_TOOL_OUTPUT`].
    pub fn tool_output(&mut self, call_id: &str, chunk: &str) {
        if let Some(&index) = self.tool_cells.get(call_id)
            && let Some(cell) = self.transcript.get_mut(index)
            && let CellKind::Tool(call) = cell.kind_mut()
        {
            call.output.push_str(chunk);
            humanize::keep_tail(&mut call.output, MAX_TOOL_OUTPUT, MAX_TOOL_OUTPUT);
        }
    }

    /// A tool call ended.
    /// Marks the call ended; returns its tool's name.
    pub fn tool_finished(
        &mut self,
        call_id: &str,
        success: bool,
        exit_code: Option<i32>,
        duration: Duration,
    ) -> Option<String> {
        let mut tool = None;
        if let Some(index) = self.tool_cells.remove(call_id)
            && let Some(cell) = self.transcript.get_mut(index)
            && let CellKind::Tool(call) = cell.kind_mut()
        {
            tool = Some(call.tool.clone());
            call.finished = Some(ToolEnd {
                success,
                exit_code,
                declined: self.declined.remove(call_id),
                interrupted: self.interrupting && !success,
                // Under a millisecond says nothing (and a saved call keeps milliseconds); zero
                // is not known (a call saved before durations were) or never ran.
                duration: (duration >= Duration::from_millis(1)).then_some(duration),
            });
        }
        // Tools run between responses: what streams next belongs to a new one.
        self.response_start = self.transcript.len();
        tool
    }

    /// The call `call_id` was refused: its end reads so.
    pub fn call_declined(&mut self, call_id: String) {
        self.declined.insert(call_id);
    }

    /// An approval request, shown until it is answered.
    pub fn approval_requested(&mut self, subject: ApprovalSubject) {
        let cell = self.push(CellKind::Approval {
            subject,
            decision: None,
        });
        self.approval_cell = Some(cell);
        self.transcript.scroll_to_bottom();
    }

    /// Writes the answer into the waiting approval's cell.
    pub fn approval_decided(&mut self, decision: ApprovalDecision) {
        if let Some(index) = self.approval_cell.take()
            && let Some(cell) = self.transcript.get_mut(index)
            && let CellKind::Approval { decision: d, .. } = cell.kind_mut()
        {
            *d = Some(decision);
        }
    }

    /// An auto-review: a cell as it starts, the same cell saying what it decided as it ends
    /// (or a new one, for a review whose start is not shown).
    pub fn review(&mut self, review: crate::protocol::AutoReview) {
        let shown = self
            .transcript
            .cells_mut()
            .rev()
            .take(REVIEW_LOOKBACK)
            .find(|cell| matches!(cell.kind(), CellKind::Review(shown) if shown.id == review.id));
        match shown {
            Some(cell) => *cell.kind_mut() = CellKind::Review(review),
            None => {
                self.push(CellKind::Review(review));
            }
        }
    }

    /// The waiting approval was withdrawn unanswered: its cell keeps no decision.
    pub fn approval_withdrawn(&mut self) {
        self.approval_cell = None;
    }

    /// The plan, replacing the one just above if that is the last cell.
    pub fn plan(&mut self, explanation: Option<String>, steps: Vec<PlanStep>) {
        self.replace_last_or_push(CellKind::Plan { explanation, steps }, |kind| {
            matches!(kind, CellKind::Plan { .. })
        });
    }

    /// A retry: one retry cell says so, below what the failed attempt streamed, which stays
    /// until the next attempt streams (it sends the answer again from its start).
    pub fn retrying(&mut self, retry: CellKind, voided: Vec<ItemId>) {
        self.assistant_cell = None;
        self.reasoning_cell = None;
        self.retry_pending = true;
        self.voided.extend(voided);
        // One line per response says how its retries went: the latest replaces the others.
        self.remove_from_response(|_, kind| matches!(kind, CellKind::Retry { .. }));
        self.push(retry);
    }

    /// The attempt in flight streams: what an earlier attempt left goes, and the retry line
    /// becomes a note of what happened.
    fn attempt_streams(&mut self) {
        if self.settle_retry() {
            self.discard_partial_response();
        }
    }

    /// Turns the retry line of a pending retry into a note of what happened; whether one was
    /// pending.
    fn settle_retry(&mut self) -> bool {
        if !std::mem::take(&mut self.retry_pending) {
            return false;
        }
        if let Some(cell) = self.transcript.last_mut()
            && let CellKind::Retry { settled, .. } = cell.kind_mut()
        {
            *settled = true;
        }
        true
    }

    /// Draws an event that changes only the transcript (a piece of text, a tool call, the
    /// plan); the live path and the view of another agent's saved turns both come here.
    pub fn show(&mut self, event: &Event) {
        match event {
            Event::TextDelta { item, delta } => self.text_delta(item, delta),
            Event::ReasoningDelta { item, delta } => self.reasoning_delta(item, delta),
            // A later part of the summary is a new paragraph.
            Event::ReasoningPartAdded { item, index } if *index > 0 => {
                self.reasoning_delta(item, "\n\n");
            }
            Event::ToolStarted {
                call_id,
                tool,
                summary,
                ..
            } => self.tool_started(call_id.clone(), tool.clone(), summary.clone()),
            Event::ToolOutput { call_id, chunk } => self.tool_output(call_id, chunk),
            Event::WebSearchStarted { item } => self.web_search(item, None),
            Event::WebSearchDone { item, action } => self.web_search(item, Some(action.detail())),
            Event::PlanUpdated {
                explanation, steps, ..
            } => self.plan(explanation.clone(), steps.clone()),
            _ => {}
        }
    }

    /// A saved prompt as the composer sent it: its words, then the files that went with it.
    pub fn push_prompt(&mut self, prompt: crate::protocol::SavedPrompt) {
        self.push(CellKind::User(prompt.text));
        if !prompt.attached.is_empty() {
            self.push(CellKind::Attached(
                prompt
                    .attached
                    .into_iter()
                    .map(|path| crate::protocol::Attachment {
                        path,
                        attached: true,
                        detail: String::new(),
                    })
                    .collect(),
            ));
        }
    }

    /// Draws a saved turn's event: what [`Chat::show`] draws, and the answers, the calls' ends
    /// and their files, the notes (the view of another agent's conversation).
    pub fn replay(&mut self, event: &Event) {
        match event {
            Event::MessageDone { item, text } => {
                self.message_done(item, text);
            }
            Event::ToolFinished {
                call_id,
                success,
                exit_code,
                duration,
            } => {
                self.tool_finished(call_id, *success, *exit_code, *duration);
            }
            Event::FilesChanged { call_id, changes } => self.files_changed(call_id, changes),
            Event::CallDeclined { call_id } => self.call_declined(call_id.clone()),
            Event::Notice(text) => {
                self.push(CellKind::Notice(text.clone()));
            }
            Event::Error(text) | Event::RunsLater(text) => {
                self.push(CellKind::Error(text.clone()));
            }
            other => self.show(other),
        }
    }

    /// The turn ended: an approval nobody answered counts as refused. Returns whether an
    /// answer was left unfinished (streaming, or kept from an attempt that failed).
    pub fn turn_finished(&mut self) -> bool {
        self.voided.clear();
        let kept_from_retry = self.settle_retry()
            && (self.response_start..self.transcript.len()).any(|i| {
                self.transcript
                    .get_mut(i)
                    .is_some_and(|cell| matches!(cell.kind(), CellKind::Assistant(_)))
            });
        let partial = kept_from_retry | self.assistant_cell.take().is_some();
        self.reasoning_cell = None;
        if self.approval_cell.is_some() {
            self.approval_decided(ApprovalDecision::No { reason: None });
        }
        partial
    }

    fn replace_last_or_push(&mut self, kind: CellKind, same: impl Fn(&CellKind) -> bool) {
        let last_is_same = self.transcript.last_mut().is_some_and(|c| same(c.kind()));
        if last_is_same && let Some(cell) = self.transcript.last_mut() {
            *cell.kind_mut() = kind;
        } else {
            self.push(kind);
        }
    }

    /// Drops the answer and reasoning the response in flight streamed so far: a retry streams
    /// them again from the start.
    fn discard_partial_response(&mut self) {
        self.assistant_cell = None;
        self.reasoning_cell = None;
        let voided: std::collections::HashSet<usize> = std::mem::take(&mut self.voided)
            .iter()
            .filter_map(|item| self.item_cells.remove(item))
            .collect();
        self.remove_from_response(|index, _| voided.contains(&index));
    }

    /// Adds the first cell of `item`.
    fn push_item(&mut self, item: &ItemId, kind: CellKind) -> usize {
        let index = self.push(kind);
        self.item_cells.insert(item.clone(), index);
        index
    }

    /// Removes the cells of the response in flight that `drop` picks (by index and kind),
    /// highest index first, moving every index into the transcript along.
    fn remove_from_response(&mut self, drop: impl Fn(usize, &CellKind) -> bool) {
        let mut index = self.transcript.len();
        while index > self.response_start {
            index -= 1;
            let picked = self
                .transcript
                .get_mut(index)
                .is_some_and(|cell| drop(index, cell.kind()));
            if !picked || self.transcript.remove(index).is_none() {
                continue;
            }
            for cell in self
                .tool_cells
                .values_mut()
                .chain(self.item_cells.values_mut())
                .chain(self.approval_cell.as_mut())
            {
                if *cell > index {
                    *cell -= 1;
                }
            }
        }
    }
}

/// How many warnings `/warnings` keeps: the newest.
const KEPT_WARNINGS: usize = 100;

/// The warnings and errors of this run, newest last, kept whatever the transcript forgets.
#[derive(Debug, Default)]
pub(super) struct Warnings(std::collections::VecDeque<String>);

impl Warnings {
    pub(super) fn keep(&mut self, text: &str) {
        if self.0.len() == KEPT_WARNINGS {
            self.0.pop_front();
        }
        self.0.push_back(text.to_string());
    }

    /// `/warnings`' text.
    pub(super) fn report(&self) -> String {
        if self.0.is_empty() {
            return "No warnings or errors in this run.".to_string();
        }
        let mut text = format!("Warnings and errors of this run ({}):", self.0.len());
        for (number, warning) in self.0.iter().enumerate() {
            text.push_str(&format!("\n{:>3}. {warning}", number + 1));
        }
        text
    }
}
