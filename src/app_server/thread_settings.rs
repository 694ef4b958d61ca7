//! Collaboration modes and a thread's settings between turns, as codex-acp 2.6 and other
//! hosts drive them: `collaborationMode/list` (Codex's presets, plan among them) and
//! `thread/settings/update` (the mode, model, effort, approval and sandbox for the turns from
//! now on), with `thread/settings/updated` after it.

use std::sync::PoisonError;

use serde::Deserialize;
use serde_json::{Value, json};

use super::threads::{Threads, policy_of};
use super::turns::{approval_mode, mode_over, parsed, sandbox_choice};
use super::wire::{Answer, RpcError, params};
use crate::protocol::{Op, Settings};
use crate::wire::requests::ModeChoice;
use crate::wire::{Empty, ThreadSettings, ThreadSettingsUpdated};

/// `collaborationMode/list`: Codex's two presets, plan first, as Codex lists them.
pub fn presets() -> Result<Answer, RpcError> {
    Ok(Answer::new(json!({"data": [
        {"name": "Plan", "mode": "plan", "model": null, "reasoning_effort": "medium"},
        {"name": "Default", "mode": "default", "model": null, "reasoning_effort": null},
    ]})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Update {
    thread_id: String,
    #[serde(default)]
    collaboration_mode: Option<ModeChoice>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    effort: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    approval_policy: Option<Value>,
    #[serde(default)]
    approvals_reviewer: Option<String>,
    #[serde(default)]
    sandbox_policy: Option<Value>,
}

impl Threads {
    /// `thread/settings/update`: the settings for the thread's turns from now on (a running
    /// turn keeps its own); `thread/settings/updated` says them all.
    pub fn update_settings(&mut self, raw: Value) -> Result<Answer, RpcError> {
        let asked: Update = params(raw)?;
        let approval = match &asked.approval_policy {
            Some(policy) if !policy.is_null() => Some(approval_mode(
                Some(policy),
                crate::protocol::ApprovalMode::default(),
            )?),
            _ => None,
        };
        let mut settings = Settings {
            model: asked.model.filter(|model| !model.trim().is_empty()),
            approval,
            effort: parsed(asked.effort.as_deref(), "effort")?,
            summary: parsed(asked.summary.as_deref(), "summary")?,
            sandbox: asked
                .sandbox_policy
                .as_ref()
                .filter(|policy| !policy.is_null())
                .map(sandbox_choice)
                .transpose()?,
            mode: None,
            service_tier: None,
            reviewer: super::turns::reviewer(asked.approvals_reviewer.as_deref())?,
        };
        if let Some(choice) = asked.collaboration_mode {
            settings = mode_over(choice, settings)?;
        }
        let thread = self.thread_mut(&asked.thread_id)?;
        // What the thread's answers say from now on.
        if let Some(model) = &settings.model {
            thread.opened.model.clone_from(model);
        }
        if let Some(mode) = settings.approval {
            thread.opened.approval_policy = mode.codex_name().into();
        }
        if let Some(reviewer) = settings.reviewer {
            thread.opened.approvals_reviewer = reviewer.as_str().into();
        }
        if let Some((mode, network)) = settings.sandbox {
            thread.opened.sandbox = policy_of(mode, network, &thread.cwd);
        }
        let (mode, effort) = {
            let mut running = thread
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(mode) = settings.mode {
                running.mode = mode;
            }
            if let Some(effort) = settings.effort {
                running.effort = Some(effort);
            }
            (running.mode, running.effort)
        };
        let opened = &thread.opened;
        let said = ThreadSettingsUpdated {
            thread_id: asked.thread_id,
            thread_settings: ThreadSettings {
                approval_policy: opened.approval_policy.clone(),
                approvals_reviewer: opened.approvals_reviewer.clone(),
                collaboration_mode: json!({
                    "mode": mode.as_str(),
                    "settings": {
                        "model": opened.model,
                        "reasoning_effort": effort.map(|e| e.as_str()),
                        "developer_instructions": null,
                    },
                }),
                cwd: opened.cwd.clone(),
                model: opened.model.clone(),
                model_provider: opened.model_provider.clone(),
                sandbox_policy: opened.sandbox.clone(),
                effort: effort.map(|e| e.as_str().into()),
            },
        };
        let ops = thread.ops.clone();
        Ok(Answer::of(&Empty {})?.notify(said).after(move || {
            let _ = ops.send(Op::Override(settings));
        }))
    }
}
