//! `update_plan`: the model's checklist for the task, validated here and drawn by the UI.

use serde::{Deserialize, Serialize};

/// The tool's name on the wire.
pub const NAME: &str = "update_plan";
/// What the model is told after a plan update.
pub const OUTPUT: &str = "Plan updated";

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Not started.
    Pending,
    /// Being worked on.
    InProgress,
    /// Done.
    Completed,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanItem {
    /// What the step is, in a few words.
    pub step: String,
    /// Where it stands.
    pub status: StepStatus,
}

/// The whole plan as the model last sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawPlan")]
pub struct PlanUpdate {
    /// Why the plan changed, when the model says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// The steps in order.
    pub plan: Vec<PlanItem>,
}

/// The arguments before validation.
#[derive(Deserialize)]
struct RawPlan {
    #[serde(default)]
    explanation: Option<String>,
    plan: Vec<PlanItem>,
}

impl TryFrom<RawPlan> for PlanUpdate {
    type Error = String;

    fn try_from(raw: RawPlan) -> Result<Self, Self::Error> {
        if let Some(index) = raw.plan.iter().position(|item| item.step.trim().is_empty()) {
            return Err(format!("plan step {} has an empty description", index + 1));
        }
        let in_progress = raw
            .plan
            .iter()
            .filter(|item| item.status == StepStatus::InProgress)
            .count();
        if in_progress > 1 {
            return Err(format!(
                "at most one step can be in_progress, but {in_progress} are"
            ));
        }
        Ok(Self {
            explanation: raw.explanation.filter(|e| !e.trim().is_empty()),
            plan: raw.plan,
        })
    }
}

impl crate::protocol::PlanStep {
    /// The steps of an `update_plan` call.
    pub fn all_of(update: &PlanUpdate) -> Vec<Self> {
        update
            .plan
            .iter()
            .map(|item| crate::protocol::PlanStep {
                step: item.step.clone(),
                status: match item.status {
                    StepStatus::Pending => crate::protocol::PlanStatus::Pending,
                    StepStatus::InProgress => crate::protocol::PlanStatus::InProgress,
                    StepStatus::Completed => crate::protocol::PlanStatus::Completed,
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_plan() {
        let plan: PlanUpdate = serde_json::from_str(
            r#"{"explanation":"start","plan":[
                {"step":"read code","status":"completed"},
                {"step":"fix bug","status":"in_progress"},
                {"step":"run tests","status":"pending"}]}"#,
        )
        .unwrap();
        assert_eq!(plan.explanation.as_deref(), Some("start"));
        assert_eq!(plan.plan.len(), 3);
        assert_eq!(plan.plan[1].status, StepStatus::InProgress);
    }

    #[test]
    fn rejects_bad_plans() {
        let two_active =
            r#"{"plan":[{"step":"a","status":"in_progress"},{"step":"b","status":"in_progress"}]}"#;
        let err = serde_json::from_str::<PlanUpdate>(two_active).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("at most one step can be in_progress, but 2 are")
        );
        let bad_status = r#"{"plan":[{"step":"a","status":"done"}]}"#;
        assert!(serde_json::from_str::<PlanUpdate>(bad_status).is_err());
        let empty_step = r#"{"plan":[{"step":" ","status":"pending"}]}"#;
        assert!(serde_json::from_str::<PlanUpdate>(empty_step).is_err());
    }
}
