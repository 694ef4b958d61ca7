//! A small core for the interactive client until the full one (turns, tools) is integrated: it
//! runs logins (browser, device code, API key) and logout, lists the built-in models, and says
//! plainly that prompts cannot be sent yet.

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::protocol::{AuthSummary, Event, Op};
use crate::auth::login::{LoginHandle, start_login};
use crate::auth::{AuthManager, AuthStore, OpenAiEntry, mask_key, validate_api_key};
use crate::config::{Config, DEFAULT_MODEL};

/// Models offered when the server's list is not known (PROTOCOL.md §9).
const BUILT_IN_MODELS: [&str; 4] = ["gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "gpt-5.3-codex-spark"];

/// Starts the core on the current tokio runtime; returns where to send `Op`s and where its
/// `Event`s arrive.
pub fn spawn(config: Config) -> (UnboundedSender<Op>, UnboundedReceiver<Event>) {
    let (op_tx, mut op_rx) = unbounded_channel::<Op>();
    let (event_tx, event_rx) = unbounded_channel::<Event>();
    tokio::spawn(async move {
        let store = AuthStore::new(&config.auth_file);
        let mut model = config
            .model
            .clone()
            .unwrap_or_else(|| DEFAULT_MODEL.to_string());
        // Built on first use: TLS set-up has no place before the first frame.
        let mut http: Option<reqwest::Client> = None;
        let mut login: Option<LoginHandle> = None;
        while let Some(op) = op_rx.recv().await {
            let event = match op {
                Op::Shutdown => break,
                Op::SaveApiKey(raw) => Some(save_api_key(&store, raw).await),
                Op::Logout => {
                    let client = http.get_or_insert_with(reqwest::Client::new).clone();
                    let manager = AuthManager::new(&config, client, None);
                    Some(match manager.logout().await {
                        Ok(_) => Event::AuthChanged(None),
                        Err(e) => Event::Error(format!("could not log out: {e}")),
                    })
                }
                Op::StartLogin(method) => {
                    let client = http.get_or_insert_with(reqwest::Client::new).clone();
                    let (tx, mut rx) = unbounded_channel();
                    // A new login replaces the old one; dropping a handle cancels its flow.
                    login = Some(start_login(method, &config, client, tx));
                    let events = event_tx.clone();
                    tokio::spawn(async move {
                        while let Some(step) = rx.recv().await {
                            if events.send(Event::Login(step)).is_err() {
                                break;
                            }
                        }
                    });
                    None
                }
                Op::PasteLoginRedirect(text) => match &login {
                    Some(handle) => handle
                        .paste(&text)
                        .err()
                        .map(|e| Event::Error(e.to_string())),
                    None => Some(Event::Error("no browser login is waiting".into())),
                },
                Op::CancelLogin => {
                    if let Some(handle) = login.take() {
                        handle.cancel();
                    }
                    None
                }
                Op::Submit { .. } => Some(Event::Error(
                    "kelp is not connected yet to a model in this build: prompts cannot be sent"
                        .to_string(),
                )),
                Op::RefreshModels => Some(Event::Models {
                    available: BUILT_IN_MODELS.iter().map(|m| m.to_string()).collect(),
                    current: model.clone(),
                }),
                Op::SetModel(name) => {
                    model = name;
                    None
                }
                Op::Resume(_) | Op::ListSessions => Some(Event::Error(
                    "resuming conversations is not available in this build yet".to_string(),
                )),
                Op::Interrupt
                | Op::Approve { .. }
                | Op::NewConversation
                | Op::SetApprovalMode(_) => None,
            };
            if let Some(event) = event
                && event_tx.send(event).is_err()
            {
                break;
            }
        }
    });
    (op_tx, event_rx)
}

async fn save_api_key(store: &AuthStore, raw: String) -> Event {
    let key = match validate_api_key(&raw) {
        Ok(key) => key,
        Err(why) => return Event::Error(why.to_string()),
    };
    let store = store.clone();
    let masked = mask_key(&key);
    let saved = tokio::task::spawn_blocking(move || {
        store.update(|file| file.set_openai(&OpenAiEntry::Api { key }))
    })
    .await;
    match saved {
        Ok(Ok(())) => Event::AuthChanged(Some(AuthSummary::ApiKey { masked })),
        Ok(Err(e)) => Event::Error(format!("could not save the API key: {e}")),
        Err(_) => Event::Error("could not save the API key: the save was interrupted".into()),
    }
}
