//! Background terminals as an editor sees them: the tool call of a command that went on past
//! its call (`exec_command`) stays open, in progress, until a poll of its terminal
//! (`write_stdin`) sees the command end, which closes it with the command's status, or the
//! session's agent stops, which ends every terminal and so closes every call still open.

use std::collections::HashMap;

use agent_client_protocol_schema::v1::{
    SessionUpdate, ToolCallStatus, ToolCallUpdate, ToolCallUpdateFields,
};

/// The terminal a call of `tool` polls or types into (`write_stdin`), from its summary.
pub(super) fn polled(tool: &str, summary: &str) -> Option<i64> {
    (tool == crate::tools::terminals::WRITE_STDIN)
        .then(|| crate::tools::terminals::polled(summary))
        .flatten()
}

/// The open calls, by the terminal their command runs in.
#[derive(Debug, Default)]
pub(super) struct OpenTerminals(HashMap<i64, String>);

impl OpenTerminals {
    /// The status a finished call shows: in progress for one whose command went on in
    /// `left_running` (kept open from now on), else as it ended.
    pub(super) fn status(
        &mut self,
        call_id: &str,
        left_running: Option<i64>,
        success: bool,
    ) -> ToolCallStatus {
        match (left_running, success) {
            (Some(terminal), true) => {
                self.0.insert(terminal, call_id.to_string());
                ToolCallStatus::InProgress
            }
            (_, true) => ToolCallStatus::Completed,
            (_, false) => ToolCallStatus::Failed,
        }
    }

    /// The updates that close every call still open: their terminals ended with the session.
    pub(super) fn all_ended(&mut self) -> Vec<SessionUpdate> {
        let mut open: Vec<(i64, String)> = self.0.drain().collect();
        open.sort();
        open.into_iter()
            .map(|(_, call)| {
                SessionUpdate::ToolCallUpdate(ToolCallUpdate::new(
                    call,
                    ToolCallUpdateFields::new().status(ToolCallStatus::Failed),
                ))
            })
            .collect()
    }

    /// The update that closes the call of the terminal a poll saw end (`exit_code` set).
    pub(super) fn closed_by(
        &mut self,
        polls: Option<i64>,
        exit_code: Option<i32>,
    ) -> Option<SessionUpdate> {
        exit_code?;
        let opened = self.0.remove(&polls?)?;
        let status = if exit_code == Some(0) {
            ToolCallStatus::Completed
        } else {
            ToolCallStatus::Failed
        };
        Some(SessionUpdate::ToolCallUpdate(ToolCallUpdate::new(
            opened,
            ToolCallUpdateFields::new().status(status),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The session's agent stops: every call still open is closed, as failed, once.
    #[test]
    fn every_open_call_closes_when_the_terminals_end_with_the_session() {
        let mut open = OpenTerminals::default();
        assert_eq!(open.status("e1", Some(3), true), ToolCallStatus::InProgress);
        assert_eq!(open.status("e2", Some(4), true), ToolCallStatus::InProgress);
        assert_eq!(open.status("e3", None, true), ToolCallStatus::Completed);
        let closed: Vec<_> = open
            .all_ended()
            .into_iter()
            .map(|update| match update {
                SessionUpdate::ToolCallUpdate(update) => {
                    (update.tool_call_id.to_string(), update.fields.status)
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            closed,
            [
                ("e1".to_string(), Some(ToolCallStatus::Failed)),
                ("e2".to_string(), Some(ToolCallStatus::Failed)),
            ]
        );
        assert!(open.all_ended().is_empty());
    }
}
