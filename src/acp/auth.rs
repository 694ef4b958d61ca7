//! Signing in over ACP: the methods kelp offers a client, and `authenticate` and `logout` over
//! the one account service (`auth::accounts`), as `/connect` uses it.
//!
//! The device-code login reaches a person through URL elicitation: kelp asks the client to
//! show the verification URL with the code in the message, polls meanwhile, and answers the
//! `authenticate` request when the login ends — that answer is the completion.

use std::sync::Arc;

use agent_client_protocol_schema::v1::{
    AuthMethod, AuthMethodAgent, AuthMethodTerminal, AuthenticateRequest, AuthenticateResponse,
    CLIENT_METHOD_NAMES, ClientCapabilities, CompleteElicitationNotification,
    CreateElicitationRequest, CreateElicitationResponse, ElicitationAction, ElicitationId,
    ElicitationRequestScope, ElicitationUrlMode, Error, LogoutResponse, RequestId,
};
use serde_json::{Value, json};

use super::{Connection, Face, Reply, answer_later};
use crate::auth::{FirstStep, LoginOutcome, SaveKeyError, SignedIn};
use crate::protocol::LoginMethod;

/// ChatGPT in a browser on the agent's machine.
pub const CHATGPT: &str = "chatgpt";
/// ChatGPT by a code entered on another device (a phone, the person's own computer).
pub const DEVICE_CODE: &str = "chatgpt-device-code";
/// An OpenAI API key from `OPENAI_API_KEY`.
pub const API_KEY: &str = "openai-api-key";

/// What the client appends to `kelp acp` for the terminal sign-in.
pub const TERMINAL_LOGIN_ARG: &str = "--device-login";

/// The error code of every failed sign-in: the one ACP agents answer "Authentication required"
/// with, so a client offers the sign-in again.
const AUTH_ERROR: i32 = -32000;

/// What the agent's surroundings say about signing in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Environment {
    /// Over SSH or without a display: a browser here would be on the wrong machine.
    pub headless: bool,
    /// `NO_BROWSER` is set: the person asked for no browser.
    pub no_browser: bool,
}

/// The agent's environment, read now.
pub fn environment() -> Environment {
    Environment {
        // A `BROWSER` program opens the URL where the person is, over SSH too.
        headless: crate::auth::login::detect_method() == LoginMethod::Device
            && !crate::auth::browser::browser_program_set(),
        no_browser: crate::auth::browser::text_browser_set()
            || std::env::var_os("NO_BROWSER").is_some_and(|v| !v.is_empty()),
    }
}

/// The methods for `initialize`, in the order a person should see them.
pub struct Methods {
    /// The ones the crate's types describe.
    pub typed: Vec<AuthMethod>,
    /// `env_var` methods, as JSON: the crate's v1 types do not have that kind yet.
    pub env_var: Vec<Value>,
}

/// The ways to sign in that this client can use here: the device code only when the client
/// can show a URL (or, failing that, as a terminal command it runs), the browser only where
/// one would open in front of the person. Over SSH the device code comes first.
pub fn methods(client: &ClientCapabilities, env: &Environment) -> Methods {
    let device = if client.elicitation.as_ref().is_some_and(|e| e.url.is_some()) {
        Some(AuthMethod::Agent(
            AuthMethodAgent::new(DEVICE_CODE, "ChatGPT with a device code").description(
                "Shows a link and a code: open the link on any device (a phone works), sign in \
                 to ChatGPT and enter the code. For remote machines and SSH."
                    .to_string(),
            ),
        ))
    } else if client.auth.terminal {
        Some(AuthMethod::Terminal(
            AuthMethodTerminal::new(DEVICE_CODE, "ChatGPT with a device code")
                .description(
                    "Signs in in a terminal: it shows a link, a code and a QR code to finish the \
                     sign-in on any device."
                        .to_string(),
                )
                // Appended to the command the client runs kelp with (`kelp acp`).
                .args(vec![TERMINAL_LOGIN_ARG.into()]),
        ))
    } else {
        None
    };
    let browser = (!env.headless && !env.no_browser).then(|| {
        AuthMethod::Agent(
            AuthMethodAgent::new(CHATGPT, "ChatGPT in the browser").description(
                "Opens ChatGPT in your browser to sign in with your ChatGPT plan.".to_string(),
            ),
        )
    });
    let typed = if env.headless {
        device.into_iter().chain(browser).collect()
    } else {
        browser.into_iter().chain(device).collect()
    };
    Methods {
        typed,
        env_var: vec![env_var_method()],
    }
}

/// `openai-api-key`: the client asks for the key and sets `OPENAI_API_KEY` for the agent.
///
/// The `env_var` kind is in the ACP auth-methods design and the clients that follow it, but
/// not in the crate's v1 `AuthMethod` (agent or terminal only); it goes out as JSON beside the
/// typed methods until the crate carries it.
pub fn env_var_method() -> Value {
    json!({
        "type": "env_var",
        "id": API_KEY,
        "name": "OpenAI API key",
        "description": "Uses OPENAI_API_KEY from the agent's environment (pay per use on the \
                        OpenAI platform).",
        "vars": [{ "name": "OPENAI_API_KEY" }],
    })
}

/// A sign-in failure as the `authenticate` error: one line a person can act on.
fn failed(message: impl Into<String>) -> Error {
    Error::new(AUTH_ERROR, message.into())
}

/// The login an `authenticate` request started, once it has one: what its cancel stops.
type OwnLogin = std::sync::Mutex<Option<crate::auth::LoginId>>;

/// `authenticate`: runs the chosen sign-in in its own task (it may wait minutes for the person)
/// and answers when it ends.
pub fn authenticate(face: Arc<Face>, request: AuthenticateRequest, reply: Reply) {
    let method = request.method_id.0.to_string();
    let id = reply.id().clone();
    let request_id = serde_json::from_value::<RequestId>(id.clone()).unwrap_or(RequestId::Null);
    let cancellation = face.cancellation(&id);
    answer_later(reply, async move {
        let cx = face.cx.clone();
        let own = OwnLogin::default();
        tracing::info!(%method, "acp authenticate");
        let sign_in = async {
            match method.as_str() {
                API_KEY => api_key(&face).await,
                CHATGPT => chatgpt(&face, LoginMethod::Browser, None, &own).await,
                DEVICE_CODE => {
                    let client = face.client();
                    if client.elicitation.as_ref().is_some_and(|e| e.url.is_some()) {
                        let elicit = Some((request_id, &cx));
                        chatgpt(&face, LoginMethod::Device, elicit, &own).await
                    } else {
                        // As codex-acp answers it: this client cannot take this method.
                        Err(Error::new(
                            crate::jsonrpc::INVALID_REQUEST as i32,
                            "this editor cannot show a sign-in link: run `kelp login --device` in a \
                         terminal on the machine kelp runs on, then try again",
                        ))
                    }
                }
                _ => Err(Error::invalid_params().data("unsupported authentication method")),
            }
        };
        // The client may take the request back ($/cancel_request): the login stops with it.
        let result = tokio::select! {
            result = sign_in => result,
            () = cancellation.cancelled() => {
                // Its own login only: another request's may be running.
                let own = *own.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(id) = own {
                    face.accounts.stop_login(Some(id));
                }
                Err(Error::request_cancelled())
            }
        };
        face.settled(&id);
        if let Err(error) = &result {
            tracing::info!(%method, message = %error.message, "acp sign-in failed");
        }
        result.map(|()| AuthenticateResponse::new())
    });
}

/// The stored login's kind, if any: `Some(true)` for ChatGPT, `Some(false)` for an API key.
async fn stored_login(face: &Face) -> Result<Option<bool>, Error> {
    let who = face
        .accounts
        .signed_in()
        .await
        .map_err(|e| failed(e.to_string()))?;
    Ok(match who {
        Some(SignedIn::ChatGpt(_) | SignedIn::HostTokens(_)) => Some(true),
        Some(SignedIn::ApiKey {
            source: crate::auth::CredentialSource::AuthFile,
            ..
        }) => Some(false),
        Some(SignedIn::ApiKey { .. }) | None => None,
    })
}

/// `openai-api-key`: the key in `OPENAI_API_KEY` is saved as the login (as `/connect` saves a
/// pasted one); without it, a key saved before is used.
async fn api_key(face: &Face) -> Result<(), Error> {
    match std::env::var("OPENAI_API_KEY") {
        Ok(key) if !key.trim().is_empty() => match face.accounts.save_api_key(&key).await {
            Ok(_) => Ok(()),
            Err(SaveKeyError::Invalid(why)) => Err(failed(format!("OPENAI_API_KEY: {why}"))),
            Err(e) => Err(failed(e.to_string())),
        },
        _ if stored_login(face).await? == Some(false) => Ok(()),
        _ => Err(failed(
            "no OpenAI API key: set OPENAI_API_KEY in the agent's environment (in Zed, under \
             \"env\" in the agent server's settings), or run `kelp login --with-api-key` in a \
             terminal",
        )),
    }
}

/// A ChatGPT sign-in. For the device code, `elicit` is the `authenticate` request and the
/// connection to show the code through; `own` learns the login it starts.
async fn chatgpt(
    face: &Arc<Face>,
    method: LoginMethod,
    elicit: Option<(RequestId, &Connection)>,
    own: &OwnLogin,
) -> Result<(), Error> {
    if stored_login(face).await? == Some(true) {
        return Ok(());
    }
    let env = environment();
    // Where no browser would open in front of the person, the URL goes to them instead.
    let show_url = env.headless || env.no_browser;
    // The browser opens on the agent's machine, as asked; never for a device code.
    let (mut login, _replaced) = face.accounts.start_login(method, !show_url);
    *own.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(login.id);
    let ended = |outcome: LoginOutcome| match outcome {
        LoginOutcome::Done(_) => Ok(()),
        LoginOutcome::Failed(message) => Err(failed(message)),
        LoginOutcome::Cancelled => Err(failed(
            "the sign-in was cancelled (another one took its place, or kelp is stopping)",
        )),
    };
    let shown = match login.first_step().await {
        FirstStep::Browser { url, port } => (url, port.to_string()),
        FirstStep::DeviceCode { url, code } => (url, code),
        FirstStep::Ended(outcome) => return ended(outcome),
    };
    match elicit {
        None if show_url => {
            // No browser in front of the person; the login keeps waiting for its callback.
            let (url, port) = shown;
            Err(failed(format!(
                "no browser could open where kelp runs: open {url} yourself (from another \
                 machine, with port {port} forwarded: `ssh -L {port}:127.0.0.1:{port}`), then \
                 try again; or sign in with the device code"
            )))
        }
        None => ended(login.outcome().await),
        Some((request_id, cx)) => {
            let (url, code) = shown;
            let dialog = ElicitationId::new(uuid::Uuid::new_v4().to_string());
            // However this ends (the login done, failed, expired or replaced, the dialog
            // declined, or the request taken back), the editor is told the dialog is done, as
            // codex-acp tells it; a login still running stops with it.
            let _open = Dialog {
                cx: cx.clone(),
                id: Some(dialog.clone()),
                stop: Some(Box::new({
                    let face = Arc::clone(face);
                    let login = login.id;
                    move || {
                        face.accounts.stop_login(Some(login));
                    }
                })),
            };
            let elicitation = CreateElicitationRequest::new(
                ElicitationUrlMode::new(
                    ElicitationRequestScope::new(request_id),
                    dialog,
                    url.clone(),
                ),
                format!("Open {url} and enter the code {code} to sign in to ChatGPT."),
            );
            let answer = cx.request::<CreateElicitationResponse>(
                CLIENT_METHOD_NAMES.elicitation_create,
                elicitation,
            );
            tokio::pin!(answer);
            let mut accepted = false;
            loop {
                tokio::select! {
                    reply = &mut answer, if !accepted => {
                        let declined = match reply {
                            Ok(reply) => match reply.action {
                                ElicitationAction::Accept(_) => None,
                                ElicitationAction::Decline => Some("the sign-in was declined"),
                                _ => Some("the sign-in was cancelled"),
                            },
                            Err(e) => {
                                tracing::info!(error = %e.message, "the elicitation failed");
                                Some("the editor could not show the sign-in link")
                            }
                        };
                        if let Some(why) = declined {
                            return Err(failed(why));
                        }
                        accepted = true;
                    }
                    outcome = login.outcome() => return ended(outcome),
                }
            }
        }
    }
}

/// A device code's dialog in the editor, closed with `elicitation/complete` when dropped, its
/// login stopped if still running.
struct Dialog {
    cx: Connection,
    id: Option<ElicitationId>,
    stop: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for Dialog {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
        if let Some(id) = self.id.take() {
            self.cx.0.notify(
                CLIENT_METHOD_NAMES.elicitation_complete,
                CompleteElicitationNotification::new(id),
            );
        }
    }
}

/// `logout`: revokes a ChatGPT login (best effort) and removes kelp's entry; other entries
/// in the auth file stay.
pub fn logout(face: Arc<Face>, reply: Reply) {
    answer_later(reply, async move {
        match face.accounts.sign_out().await {
            Ok(_) => Ok(LogoutResponse::new()),
            Err(e) => Err(Error::internal_error().data(format!("could not sign out: {e}"))),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_client_protocol_schema::v1::{
        AuthCapabilities, ElicitationCapabilities, ElicitationUrlCapabilities,
    };

    fn ids(methods: &Methods) -> Vec<String> {
        methods
            .typed
            .iter()
            .map(|m| m.id().0.to_string())
            .chain(
                methods
                    .env_var
                    .iter()
                    .map(|m| m["id"].as_str().unwrap().to_string()),
            )
            .collect()
    }

    fn with_url() -> ClientCapabilities {
        ClientCapabilities::new()
            .elicitation(ElicitationCapabilities::new().url(ElicitationUrlCapabilities::new()))
    }

    #[test]
    fn the_device_code_needs_a_client_that_shows_urls_and_leads_over_ssh() {
        let desktop = Environment::default();
        let ssh = Environment {
            headless: true,
            no_browser: false,
        };
        assert_eq!(
            ids(&methods(&with_url(), &desktop)),
            [CHATGPT, DEVICE_CODE, API_KEY]
        );
        assert_eq!(ids(&methods(&with_url(), &ssh)), [DEVICE_CODE, API_KEY]);
        // No URL elicitation: no device code, unless the client runs a terminal command.
        assert_eq!(
            ids(&methods(&ClientCapabilities::new(), &desktop)),
            [CHATGPT, API_KEY]
        );
        let terminal = ClientCapabilities::new().auth(AuthCapabilities::new().terminal(true));
        let offered = methods(&terminal, &ssh);
        assert_eq!(ids(&offered), [DEVICE_CODE, API_KEY]);
        let AuthMethod::Terminal(method) = &offered.typed[0] else {
            panic!("a terminal method: {:?}", offered.typed[0]);
        };
        assert_eq!(method.args, [TERMINAL_LOGIN_ARG]);
    }

    #[test]
    fn no_browser_hides_the_browser_login() {
        let env = Environment {
            headless: false,
            no_browser: true,
        };
        assert_eq!(ids(&methods(&with_url(), &env)), [DEVICE_CODE, API_KEY]);
    }

    #[test]
    fn the_api_key_method_names_its_variable() {
        let method = env_var_method();
        assert_eq!(method["type"], "env_var");
        assert_eq!(method["vars"][0]["name"], "OPENAI_API_KEY");
    }
}
