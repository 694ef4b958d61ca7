//! `get_goal` and `update_goal`: the model reads the conversation's goal and marks it complete
//! or blocked (Codex's goal tools). They are offered only while a goal is active; pausing,
//! resuming and budgets are the person's.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::session::{goal, goal::GoalCell};

use crate::protocol::GoalStatus;

pub const GET: &str = "get_goal";
pub const UPDATE: &str = "update_goal";

const GET_DESCRIPTION: &str = "Gets the goal of this conversation: its objective, status, token \
budget, the tokens and time used so far, and the tokens left.";

const UPDATE_DESCRIPTION: &str = "Marks the goal of this conversation `complete` when its \
objective is fully achieved and verified, or `blocked` when you cannot go on without the \
person (say what you need in your answer). Pausing, resuming and budgets are the person's, not \
yours. When marking a goal with a budget complete, report the tokens it used.";

const UPDATE_PARAMETERS: &str = r#"{
    "type": "object",
    "properties": {
        "status": {
            "type": "string",
            "enum": ["complete", "blocked"],
            "description": "complete: the objective is achieved; blocked: the person is needed."
        }
    },
    "required": ["status"],
    "additionalProperties": false
}"#;

/// A call of one of the goal tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoalCall {
    Get,
    Update(GoalStatus),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateArgs {
    status: Marked,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Marked {
    Complete,
    Blocked,
}

impl GoalCall {
    /// The call named `name` with `arguments`, when it is one of the goal tools.
    pub fn parse(name: &str, arguments: &str) -> Option<Result<Self, serde_json::Error>> {
        match name {
            GET => Some(Ok(Self::Get)),
            UPDATE => Some(serde_json::from_str::<UpdateArgs>(arguments).map(|args| {
                Self::Update(match args.status {
                    Marked::Complete => GoalStatus::Complete,
                    Marked::Blocked => GoalStatus::Blocked,
                })
            })),
            _ => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Get => GET,
            Self::Update(_) => UPDATE,
        }
    }

    /// The status it sets, for a one-line summary.
    pub fn summary(&self) -> String {
        match self {
            Self::Get => String::new(),
            Self::Update(status) => status.as_str().to_string(),
        }
    }

    /// Runs the call on the conversation's goal: its text for the model, and whether it did.
    pub fn run(&self, cell: Option<&GoalCell>) -> (String, bool) {
        let Some(cell) = cell else {
            return ("there is no goal in this conversation".to_string(), false);
        };
        let mut held = cell.lock();
        let Some(current) = held.as_mut() else {
            return ("there is no goal in this conversation".to_string(), false);
        };
        if let Self::Update(status) = self {
            if current.status != GoalStatus::Active {
                return (
                    format!(
                        "the goal is {}, not active: only the person changes it now",
                        current.status.as_str()
                    ),
                    false,
                );
            }
            current.status = *status;
            current.updated_at = goal::now();
        }
        let report = json!({
            "goal": current,
            "remainingTokens": current.remaining(),
        });
        (report.to_string(), true)
    }
}

/// The tools' entries for a request while a goal is active.
pub fn specs() -> [Value; 2] {
    let function = |name: &str, description: &str, parameters: Value| {
        json!({"type": "function", "name": name, "description": description,
               "strict": false, "parameters": parameters})
    };
    [
        function(
            GET,
            GET_DESCRIPTION,
            json!({"type": "object", "properties": {}, "additionalProperties": false}),
        ),
        function(
            UPDATE,
            UPDATE_DESCRIPTION,
            serde_json::from_str(UPDATE_PARAMETERS).unwrap_or(Value::Null),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Goal, GoalChange};

    fn active() -> GoalCell {
        let change = GoalChange {
            objective: Some("ship".to_string()),
            token_budget: Some(Some(100)),
            ..GoalChange::default()
        };
        GoalCell::new(Some(Goal::changed(None, change, 0).unwrap()))
    }

    #[test]
    fn the_model_marks_an_active_goal_and_nothing_else() {
        let cell = active();
        let call = GoalCall::parse(UPDATE, r#"{"status":"complete"}"#)
            .unwrap()
            .unwrap();
        let (text, done) = call.run(Some(&cell));
        assert!(done, "{text}");
        assert!(text.contains(r#""status":"complete""#), "{text}");
        assert_eq!(cell.get().unwrap().status, GoalStatus::Complete);
        // Once complete, the model cannot reopen or re-mark it.
        let (text, done) = GoalCall::Update(GoalStatus::Blocked).run(Some(&cell));
        assert!(!done && text.contains("not active"), "{text}");
        assert!(
            GoalCall::parse(UPDATE, r#"{"status":"paused"}"#)
                .unwrap()
                .is_err()
        );
        assert!(
            GoalCall::parse(UPDATE, r#"{"status":"complete","x":1}"#)
                .unwrap()
                .is_err()
        );
        assert!(GoalCall::parse("shell", "{}").is_none());
    }

    #[test]
    fn get_goal_reports_the_budget_left() {
        let (text, done) = GoalCall::Get.run(Some(&active()));
        let value: Value = serde_json::from_str(&text).unwrap();
        assert!(done);
        assert_eq!(value["remainingTokens"], 100);
        assert_eq!(value["goal"]["objective"], "ship");
        let (text, done) = GoalCall::Get.run(None);
        assert!(!done && text.contains("no goal"), "{text}");
    }

    #[test]
    fn the_specs_parse() {
        for spec in specs() {
            assert!(spec["parameters"].is_object(), "{spec}");
        }
    }
}
