//! `/goal`: what the person types (an objective with an optional budget, or `pause`,
//! `resume`, `clear`), and how a goal is said when it is shown or stops.

use crate::agent::protocol::Op;
use crate::humanize;
use crate::session::goal::{Goal, GoalChange, GoalStatus};

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
    let argument = argument.trim();
    let status = |status| {
        Op::SetGoal(GoalChange {
            status: Some(status),
            ..GoalChange::default()
        })
    };
    match (argument, current) {
        ("", None) => GoalAsk::Say(format!("No goal yet. {USAGE}.")),
        ("", Some(goal)) => GoalAsk::Say(report(goal)),
        ("pause" | "resume" | "clear", None) => {
            GoalAsk::Refuse(format!("there is no goal to {argument}"))
        }
        ("pause", Some(_)) => GoalAsk::Send {
            op: status(GoalStatus::Paused),
            echo: None,
        },
        ("resume", Some(_)) => GoalAsk::Send {
            op: status(GoalStatus::Active),
            echo: Some("/goal resume".to_string()),
        },
        ("clear", Some(_)) => GoalAsk::Send {
            op: Op::ClearGoal,
            echo: None,
        },
        (text, _) => {
            let (objective, budget) = split_budget(text);
            GoalAsk::Send {
                op: Op::SetGoal(GoalChange {
                    objective: Some(objective.to_string()),
                    token_budget: Some(budget),
                    status: Some(GoalStatus::Active),
                }),
                echo: Some(format!("/goal {text}")),
            }
        }
    }
}

/// The objective and the budget its last word gives (`50k`, `1.5m`, `20000t`), if any: a
/// bare number stays in the objective (`fix issue 42`).
fn split_budget(text: &str) -> (&str, Option<u64>) {
    let Some((objective, last)) = text.rsplit_once(char::is_whitespace) else {
        return (text, None);
    };
    let lower = last.to_ascii_lowercase();
    let (number, scale) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1_000.0),
        Some('m') => (&lower[..lower.len() - 1], 1_000_000.0),
        Some('t') => (&lower[..lower.len() - 1], 1.0),
        _ => return (text, None),
    };
    match number.parse::<f64>() {
        Ok(n) if n > 0.0 && n.is_finite() && !objective.trim().is_empty() => {
            (objective.trim_end(), Some((n * scale).round() as u64))
        }
        _ => (text, None),
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
    fn a_budget_is_a_last_word_with_a_unit_and_a_bare_number_stays_in_the_objective() {
        assert_eq!(
            split_budget("make ci green 50k"),
            ("make ci green", Some(50_000))
        );
        assert_eq!(split_budget("port it 1.5M"), ("port it", Some(1_500_000)));
        assert_eq!(split_budget("tidy 20000t"), ("tidy", Some(20_000)));
        assert_eq!(split_budget("fix issue 42"), ("fix issue 42", None));
        assert_eq!(split_budget("50k"), ("50k", None));
        assert_eq!(split_budget("write a talk"), ("write a talk", None));
    }

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
