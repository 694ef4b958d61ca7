//! Which settings both kelp and Codex have that a config file decides, under that file's
//! names: what `/config` and `config/read`'s layers say each file sets.

use super::file::{Dialect, FileSettings};

impl FileSettings {
    /// The settings both kelp and Codex have that this file decides, under the names it uses
    /// (`dialect`'s): those it sets, less the single values `above` (a file laid over it) sets
    /// too. Tables (servers, providers, projects) are joined, so both files decide them.
    pub fn shared_keys(&self, dialect: Dialect, above: Option<&Self>) -> Vec<&'static str> {
        let codex = dialect == Dialect::Codex;
        let set = |settings: &Self| {
            [
                (settings.model.is_some(), "model", "model"),
                (
                    settings.reasoning_effort.is_some(),
                    "reasoning_effort",
                    "model_reasoning_effort",
                ),
                (settings.approval.is_some(), "approval", "approval_policy"),
                (
                    settings.approvals_reviewer.is_some(),
                    "approvals_reviewer",
                    "approvals_reviewer",
                ),
                (
                    settings.review_model.is_some(),
                    "review_model",
                    "review_model",
                ),
                (settings.sandbox.is_some(), "sandbox", "sandbox_mode"),
                (
                    settings.network.is_some(),
                    "network",
                    "sandbox_workspace_write.network_access",
                ),
                (
                    settings.model_provider.is_some(),
                    "model_provider",
                    "model_provider",
                ),
                (settings.web_search.is_some(), "web_search", "web_search"),
            ]
        };
        let tables = [
            (!self.mcp_servers.is_empty(), "mcp_servers", "mcp_servers"),
            (
                !self.model_providers.is_empty(),
                "model_providers",
                "model_providers",
            ),
            (!self.projects.is_empty(), "projects", "projects"),
        ];
        let overridden = above.map(|above| set(above).map(|(set, _, _)| set));
        set(self)
            .into_iter()
            .enumerate()
            .map(|(i, (here, kelp, codex_name))| {
                let above_too = overridden.is_some_and(|above| above[i]);
                (here && !above_too, kelp, codex_name)
            })
            .chain(tables)
            .filter(|(set, _, _)| *set)
            .map(|(_, kelp, codex_name)| if codex { codex_name } else { kelp })
            .collect()
    }
}
