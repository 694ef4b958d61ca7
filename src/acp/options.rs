//! A session's settings as ACP config options: its mode, model and reasoning effort, which an
//! editor shows as pickers. The model and effort are saved to the config file as `/model`
//! saves them; the mode holds for the session.

use agent_client_protocol_schema::v1::{
    Error, SessionConfigOption, SessionConfigOptionCategory, SessionConfigSelectOption,
};

use super::modes;
use crate::config::Config;
use crate::protocol::ReasoningEffort;
use crate::protocol::{AuthSummary, Op};

/// What a session has chosen, and the models it may choose from.
#[derive(Debug, Clone)]
pub struct Choices {
    pub mode: &'static str,
    pub model: String,
    pub effort: ReasoningEffort,
    models: Vec<String>,
}

impl Choices {
    /// A session's start: the config file's choices, the login's models.
    pub fn initial(config: &Config, auth: Option<&AuthSummary>) -> Self {
        let login = match auth {
            Some(AuthSummary::ApiKey { .. }) => crate::llm::LoginKind::ApiKey,
            _ => crate::llm::LoginKind::ChatGpt,
        };
        let model = config.model_in_use();
        let mut models = crate::llm::models::builtin_models(login);
        if !models.contains(&model) {
            models.insert(0, model.clone());
        }
        Self {
            mode: modes::initial(config),
            model,
            effort: config
                .reasoning_effort
                .as_deref()
                .and_then(|word| word.parse().ok())
                .unwrap_or_default(),
            models,
        }
    }

    /// The pickers an editor shows, each on its current value.
    pub fn options(&self) -> Vec<SessionConfigOption> {
        let select = |id: &str, name: &str, current: &str, values: Vec<(String, String)>| {
            let values: Vec<SessionConfigSelectOption> = values
                .into_iter()
                .map(|(value, name)| SessionConfigSelectOption::new(value, name))
                .collect();
            SessionConfigOption::select(id.to_string(), name, current.to_string(), values)
        };
        vec![
            select("mode", "Mode", self.mode, modes::choices())
                .category(SessionConfigOptionCategory::Mode),
            select(
                "model",
                "Model",
                &self.model,
                self.models.iter().map(|m| (m.clone(), m.clone())).collect(),
            )
            .category(SessionConfigOptionCategory::Model),
            select(
                "reasoning_effort",
                "Reasoning effort",
                self.effort.as_str(),
                ReasoningEffort::ALL
                    .iter()
                    .map(|e| (e.as_str().to_string(), e.as_str().to_string()))
                    .collect(),
            )
            .category(SessionConfigOptionCategory::ThoughtLevel),
        ]
    }

    /// Sets option `id` to `value`: the op that makes it so in the core.
    pub fn choose(&mut self, id: &str, value: &str, config: &Config) -> Result<Op, Error> {
        let unknown = |what: String| Error::invalid_params().data(what);
        match id {
            "mode" => {
                let settings = modes::settings(value, config).ok_or_else(|| {
                    unknown(format!("no mode {value}: kelp has {}", modes::ids()))
                })?;
                self.mode = modes::id_of(value).unwrap_or(self.mode);
                Ok(Op::Override(settings))
            }
            "model" => {
                if !self.models.iter().any(|m| m == value) {
                    return Err(unknown(format!(
                        "no model {value}: this login has {}",
                        self.models.join(", ")
                    )));
                }
                self.model = value.to_string();
                Ok(Op::SetModel(value.to_string()))
            }
            "reasoning_effort" => {
                self.effort = value.parse().map_err(unknown)?;
                Ok(Op::SetEffort(self.effort))
            }
            other => Err(unknown(format!(
                "no option {other}: kelp has mode, model and reasoning_effort"
            ))),
        }
    }
}
