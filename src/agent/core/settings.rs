//! The core's settings: those a host or the person changes while it runs (model, approval,
//! sandbox), the folder's trust, and their saving in the config file, one at a time.

use std::path::PathBuf;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::Core;
use crate::config::{self, Config, Setting};
use crate::protocol::{Event, Settings};

impl Core {
    /// The person's answer about the project's trust: kept in the config file, and the modes
    /// it sets in force from now on.
    pub(super) fn trust_project(&mut self, trusted: bool) {
        let root = config::trust_root(&self.options.project_dir);
        self.remember(Setting::Trust { root, trusted });
        let (approval, sandbox) = Config::modes_of_trust(trusted);
        self.override_settings(Settings {
            approval: Some(approval),
            sandbox: sandbox.map(|mode| (mode, self.config.network)),
            ..Settings::default()
        });
    }

    /// `Op::Override`: a host's settings for the turns from now on, not saved.
    pub(super) fn override_settings(&mut self, settings: Settings) {
        let Settings {
            model,
            approval,
            effort,
            summary,
            sandbox,
            mode,
            service_tier,
            reviewer,
        } = settings;
        if let Some(model) = model {
            self.use_model(model);
        }
        if let Some(mode) = approval {
            self.approvals.set_mode(mode);
        }
        if let Some(reviewer) = reviewer {
            self.approvals.desk(|desk| desk.reviewer = reviewer);
        }
        self.chosen = Settings {
            model: None,
            approval: None,
            effort: effort.or(self.chosen.effort),
            summary: summary.or(self.chosen.summary),
            sandbox: sandbox.or(self.chosen.sandbox),
            mode: mode.or(self.chosen.mode),
            service_tier: service_tier.or(self.chosen.service_tier),
            reviewer: None,
        };
        if let Some(conversation) = &mut self.conversation {
            conversation.apply(&self.chosen);
        }
        // Back to work: a goal set while planning starts now.
        if mode == Some(crate::protocol::CollaborationMode::Default) {
            self.continue_goal();
        }
    }

    pub(super) fn use_model(&mut self, model: String) {
        if let Some(conversation) = &mut self.conversation {
            conversation.set_model(model.clone());
        }
        // A conversation resumed from now on uses it too, as the picker says.
        self.config.model = Some(model.clone());
        self.model = model;
    }

    /// Saves a choice made in the front end to the config file, keeping the rest of it.
    pub(super) fn remember(&mut self, setting: Setting) {
        let settings = self.settings.get_or_insert_with(|| {
            let (tx, rx) = unbounded_channel();
            crate::task::spawn(save_settings(
                self.config.config_dir.clone(),
                rx,
                self.events.clone(),
            ));
            tx
        });
        let _ = settings.send(setting);
    }
}

/// Saves settings one at a time in the order they were chosen.
async fn save_settings(
    config_dir: PathBuf,
    mut settings: UnboundedReceiver<Setting>,
    events: UnboundedSender<Event>,
) {
    while let Some(setting) = settings.recv().await {
        let dir = config_dir.clone();
        let saved = crate::task::spawn_blocking(move || config::save_setting(&dir, &setting)).await;
        if let Ok(Err(e)) = saved {
            let _ = events.send(Event::Notice(format!("could not save the setting: {e}")));
        }
    }
}
