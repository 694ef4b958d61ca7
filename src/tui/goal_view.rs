//! `/goal`: what the person types (an objective with an optional budget, or `pause`,
//! `resume`, `clear`), and how a goal is said when it is shown or stops.

use crate::humanize;
use crate::protocol::Op;
use crate::protocol::{Goal, GoalStatus};
use crate::session::goal::GoalWords;

/// How `/goal` is used, said when it is used wrongly.
pub const USAGE: &str = "/goal OBJECTIVE [BUDGET] sets a goal (a budget such as 50k or 1.5m \
tokens); /goal pause, /goal resume, /goal clear; /goal alone shows it";

/// What `/goal` asks for.
#[derive(Debug)]
pub(super) enum GoalAsk {
    /// A line to show.
    Say(String),
    /// A line saying why not.
    Refuse(String),
    /// An operation for the core; `echo` is the person's command shown in the transcript,
    /// when it starts work (the conversation is then saved).
    Send { op: Op, echo: Option<String> },
}

/// What `/goal ARGUMENT` asks for, given the goal now.
pub(super) fn command(current: Option<&Goal>, argument: &str) -> GoalAsk {
    let words = GoalWords::parse(argument);
    match (&words, current) {
        (GoalWords::Show, None) => GoalAsk::Say(format!("No goal yet. {USAGE}.")),
        (GoalWords::Show, Some(goal)) => GoalAsk::Say(report(goal)),
        (GoalWords::Pause | GoalWords::Resume | GoalWords::Clear, None) => {
            GoalAsk::Refuse(format!("there is no goal to {}", argument.trim()))
        }
        (GoalWords::Clear, Some(_)) => GoalAsk::Send {
            op: Op::ClearGoal,
            echo: None,
        },
        (GoalWords::Pause, Some(_)) => GoalAsk::Send {
            op: Op::SetGoal(words.change().unwrap_or_default()),
            echo: None,
        },
        (GoalWords::Resume | GoalWords::Set { .. }, _) => GoalAsk::Send {
            op: Op::SetGoal(words.change().unwrap_or_default()),
            echo: Some(format!("/goal {}", argument.trim())),
        },
    }
}

/// The goal as bare `/goal` shows it.
fn report(goal: &Goal) -> String {
    let budget = match goal.token_budget {
        Some(budget) => format!(" of {}", humanize::count(budget)),
        None => " (no budget)".to_string(),
    };
    let next = match goal.status {
        GoalStatus::Active => "/goal pause sets it aside",
        GoalStatus::Complete => "/goal OBJECTIVE sets a new one",
        _ => "/goal resume goes on",
    };
    format!(
        "Goal: {}\nStatus: {} · {}{budget} · {next}, /goal clear drops it",
        goal.objective,
        goal.status.as_str(),
        spent(goal),
    )
}

/// What the goal spent: `435 tokens`, `12.5k tokens in 3m 20s`.
fn spent(goal: &Goal) -> String {
    let tokens = format!("{} tokens", humanize::count(goal.tokens_used));
    match goal.time_used_seconds {
        0 => tokens,
        seconds => format!(
            "{tokens} in {}",
            humanize::elapsed(std::time::Duration::from_secs(seconds))
        ),
    }
}

/// What the person reads when the goal stops being worked on.
pub(super) fn stopped(goal: &Goal) -> String {
    let spent = spent(goal);
    match goal.status {
        GoalStatus::Complete => format!("Goal achieved ({spent})."),
        GoalStatus::BudgetLimited => format!(
            "Goal stopped: its budget of {} tokens is spent ({spent}); /goal with the same \
             objective and a larger budget goes on.",
            humanize::count(goal.token_budget.unwrap_or_default())
        ),
        GoalStatus::Paused => format!("Goal paused ({spent}): /goal resume goes on."),
        GoalStatus::Blocked => format!(
            "Goal blocked ({spent}): the model needs you, or a turn failed. /goal resume goes on."
        ),
        GoalStatus::UsageLimited => {
            format!("Goal stopped at the account's usage limit ({spent}): /goal resume later.")
        }
        GoalStatus::Active => format!("Pursuing the goal ({spent})."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subcommands_need_a_goal_and_an_objective_sets_one_active() {
        assert!(matches!(command(None, "pause"), GoalAsk::Refuse(_)));
        let asked = command(None, "ship the release 10k");
        let GoalAsk::Send {
            op: Op::SetGoal(change),
            echo: Some(_),
        } = asked
        else {
            panic!("{asked:?}");
        };
        assert_eq!(change.objective.as_deref(), Some("ship the release"));
        assert_eq!(change.token_budget, Some(Some(10_000)));
        assert_eq!(change.status, Some(GoalStatus::Active));
    }
}
