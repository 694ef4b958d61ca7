//! The core's side of logins: saving a key, signing in and out through the accounts service,
//! and the model list each new login refreshes.

use tokio::sync::mpsc::UnboundedSender;

use super::Core;
use crate::auth::SaveKeyError;
use crate::llm::LlmClient;
use crate::protocol::LoginMethod;
use crate::protocol::{AuthSummary, Event, Reply};

impl Core {
    /// Lists the login's models in the background; the answer arrives as `Event::Reply(Reply::Models)`.
    pub(super) fn refresh_models(&self) {
        crate::task::spawn(self.model_refresh().run());
    }

    pub(super) fn save_api_key(&self, raw: &str, unchecked: bool) {
        let raw = raw.to_string();
        let accounts = self.accounts.clone();
        let events = self.events.clone();
        let refresh = self.model_refresh();
        let client = self.client.clone();
        crate::task::spawn(async move {
            // A key a person typed is checked first, unless they chose to save it unchecked.
            let saved = if unchecked {
                accounts.save_api_key(&raw).await
            } else {
                let check = |key: String| async move { client.check_api_key(&key).await };
                accounts.check_and_save_api_key(&raw, check).await
            };
            let event = match saved {
                Ok(masked) => {
                    Event::Reply(Reply::AuthChanged(Some(AuthSummary::ApiKey { masked })))
                }
                Err(SaveKeyError::Unchecked(why)) => Event::Reply(Reply::ApiKeyUnchecked(why)),
                Err(e) => Event::Error(e.to_string()),
            };
            let saved = matches!(event, Event::Reply(Reply::AuthChanged(_)));
            if events.send(event).is_ok() && saved {
                refresh.run().await;
            }
        });
    }

    pub(super) fn model_refresh(&self) -> ModelRefresh {
        ModelRefresh {
            client: self.client.clone(),
            events: self.events.clone(),
            current: self.model.clone(),
        }
    }

    /// Revokes a ChatGPT login (best effort) and removes the entry.
    pub(super) fn logout(&self) {
        let accounts = self.accounts.clone();
        let events = self.events.clone();
        crate::task::spawn(async move {
            let event = match accounts.sign_out().await {
                Ok(_) => Event::Reply(Reply::AuthChanged(None)),
                Err(e) => Event::Error(format!("could not log out: {e}")),
            };
            let _ = events.send(event);
        });
    }

    /// Starts a ChatGPT login; its steps arrive as `Event::Reply(Reply::Login)`, and the model list is
    /// refreshed once it is saved. A new login replaces (and so cancels) a running one.
    pub(super) fn start_login(&mut self, method: LoginMethod, name: Option<String>) {
        let (mut login, _replaced) = self.accounts.start_named_login(method, true, name);
        let events = self.events.clone();
        let refresh = self.model_refresh();
        crate::task::spawn(async move {
            while let Some(step) = login.steps.recv().await {
                let done = matches!(step, crate::protocol::LoginEvent::Done(_));
                if events.send(Event::Reply(Reply::Login(step))).is_err() {
                    return;
                }
                if done {
                    refresh.run().await;
                    return;
                }
            }
        });
    }
}

impl Core {
    /// The logins kept, answered as `Reply::Logins`.
    pub(super) fn list_logins(&self) {
        let accounts = self.accounts.clone();
        let events = self.events.clone();
        crate::task::spawn(async move {
            let event = match accounts.logins().await {
                Ok(logins) => Event::Reply(Reply::Logins(logins)),
                Err(e) => Event::Error(format!("cannot list the logins: {e}")),
            };
            let _ = events.send(event);
        });
    }

    /// Puts the login kept as `name` in use; the next request carries it. Says the new
    /// login, then its models.
    pub(super) fn switch_login(&self, name: String) {
        let accounts = self.accounts.clone();
        let events = self.events.clone();
        let refresh = self.model_refresh();
        crate::task::spawn(async move {
            match accounts.switch_login(&name).await {
                Ok(login) => {
                    let _ = events.send(Event::Reply(Reply::AuthChanged(Some(login.who))));
                    refresh.run().await;
                }
                Err(e) => {
                    let _ = events.send(Event::Error(e.to_string()));
                }
            }
        });
    }
}

/// What a model list refresh needs, detached from the core.
pub(super) struct ModelRefresh {
    client: LlmClient,
    events: UnboundedSender<Event>,
    current: String,
}

impl ModelRefresh {
    async fn run(self) {
        let event = match self.client.models().await {
            Ok(list) => Event::Reply(Reply::Models {
                available: list.models,
                current: self.current,
            }),
            Err(e) => Event::Error(e.to_string()),
        };
        let _ = self.events.send(event);
    }
}
