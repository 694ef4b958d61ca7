//! `account/*`: the one account service (`auth::accounts`) in the app-server's words. One
//! login runs at a time; a new one stops the one pending, which completes with
//! `success: false` before the new one is answered.

use serde_json::{Value, json};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::wire::{Answer, Out, RpcError, experimental_only, notify, params};
use crate::auth::accounts::{self, FirstStep, SignedIn, SignedOut, Stopped};
use crate::auth::external::TokensFuture;
use crate::auth::{ExternalAuth, ExternalTokens, LoginOutcome, SaveKeyError, TokenSource};
use crate::config::Config;
use crate::protocol::{AuthSummary, LoginMethod};
use crate::wire::requests::{AuthTokens, LoginCancelParams, LoginStartParams};
use crate::wire::{
    Account, AccountRead, AccountSession, AccountSessionWorkspace, AccountSessions,
    AccountSessionsListParams, AccountSessionsSwitchParams, AccountUpdated, Empty, LoginCanceled,
    LoginCompleted, LoginStarted,
};

/// The plan names the protocol knows; anything else is `unknown`.
const PLAN_TYPES: &[&str] = &[
    "free",
    "go",
    "plus",
    "pro",
    "prolite",
    "promax",
    "team",
    "self_serve_business_prolite",
    "self_serve_business_usage_based",
    "business",
    "ent26",
    "enterprise_cbp_automation",
    "enterprise_cbp_usage_based",
    "enterprise",
    "edu",
    "edu_plus",
    "edu_pro",
    "sci",
    "sci_plus",
    "unknown",
];

/// A plan claim as the protocol's `PlanType`.
fn plan_type(plan: Option<&str>) -> &'static str {
    let plan = plan.unwrap_or("unknown").to_ascii_lowercase();
    PLAN_TYPES
        .iter()
        .find(|known| **known == plan)
        .copied()
        .unwrap_or("unknown")
}

/// A login the service stopped, as `account/login/completed` saying it ended with `error` (its
/// own report was stopped first, so it cannot race this one).
fn stopped(stopped: Stopped<JoinHandle<()>>, error: &str) -> LoginCompleted {
    LoginCompleted {
        login_id: Some(stopped.id.to_string()),
        success: false,
        error: Some(error.to_string()),
    }
}

/// The answer to a login that is done at once (no `loginId`): its type, then
/// `account/login/completed` and `account/updated` with `auth_mode` and `plan`.
fn signed_in(
    started: &LoginStarted,
    auth_mode: &'static str,
    plan: Option<&'static str>,
) -> Result<Answer, RpcError> {
    Ok(Answer::of(started)?
        .notify(LoginCompleted {
            login_id: None,
            success: true,
            error: None,
        })
        .notify(AccountUpdated {
            auth_mode: Some(auth_mode.into()),
            plan_type: plan.map(Into::into),
        }))
}

/// The error a login ends with when another one replaces it, or a logout ends it.
const REPLACED: &str = "Login server error: Login cancelled";

/// The account side of the server: the account service, with each running login's report
/// task kept beside it.
pub struct Accounts {
    service: accounts::Accounts<JoinHandle<()>>,
    out: Out,
    /// Tokens the host handed in, shared with every thread's core.
    external: ExternalAuth,
}

/// Asks the host for new tokens after a 401, with the protocol's server request.
pub struct HostTokens(pub Out);

impl TokenSource for HostTokens {
    fn refresh(&self, previous_account_id: Option<String>) -> TokensFuture {
        let answer = self.0.request(
            "account/chatgptAuthTokens/refresh",
            json!({ "reason": "unauthorized", "previousAccountId": previous_account_id }),
        );
        Box::pin(async move {
            match answer.await {
                Ok(Ok(result)) => serde_json::from_value::<AuthTokens>(result)
                    .map(external_tokens)
                    .map_err(|e| format!("the host app's new ChatGPT tokens are unusable: {e}")),
                Ok(Err(error)) => Err(format!(
                    "the host app did not refresh the ChatGPT tokens: {}",
                    serde_json::from_value::<crate::jsonrpc::RpcError>(error)
                        .map_or_else(|_| "it answered with an error".into(), |e| e.message)
                )),
                Err(_) => Err("the host app went away before refreshing the ChatGPT tokens".into()),
            }
        })
    }
}

/// ChatGPT tokens as the protocol carries them, as the auth service takes them.
fn external_tokens(tokens: AuthTokens) -> ExternalTokens {
    ExternalTokens {
        access_token: tokens.access_token.expose().to_string(),
        account_id: tokens.chatgpt_account_id,
        plan: tokens.chatgpt_plan_type,
    }
}

/// What the real server answers a browser or device login while external tokens are in use.
const EXTERNAL_ACTIVE: &str = "External auth is active. Use account/login/start (chatgptAuthTokens) to update it or account/logout to clear it.";

impl Accounts {
    /// Accounts for `config`, over the process's one HTTP client, with the connection's
    /// external tokens.
    pub fn new(config: Config, http: reqwest::Client, out: Out, external: ExternalAuth) -> Self {
        let env_api_key = std::env::var("OPENAI_API_KEY").ok();
        let host = Some(external.clone());
        Self {
            service: accounts::Accounts::from_config(&config, http, env_api_key, host),
            out,
            external,
        }
    }

    /// The credentials behind the connection (host tokens first), for requests made outside a
    /// thread (`model/list`).
    pub fn manager(&self) -> &crate::auth::AuthManager {
        self.service.manager()
    }

    /// `account/read`: the stored login (or `OPENAI_API_KEY`), never a secret; none, and no
    /// sign-in asked for, while the provider in use has a key of its own (without
    /// `requires_openai_auth`), as Codex answers.
    pub async fn read(&self, requires_openai_auth: bool) -> Result<Answer, RpcError> {
        if !requires_openai_auth {
            return Answer::of(&AccountRead {
                account: None,
                requires_openai_auth: false,
            });
        }
        let who = self
            .service
            .signed_in()
            .await
            .map_err(|e| RpcError::internal(e.to_string()))?;
        let account = match who {
            Some(SignedIn::ApiKey { .. }) => Some(Account::ApiKey),
            Some(SignedIn::ChatGpt(login)) => Some(chatgpt_account(&login.account)),
            Some(SignedIn::HostTokens(account)) => Some(chatgpt_account(&account)),
            None => None,
        };
        Answer::of(&AccountRead {
            account,
            requires_openai_auth: true,
        })
    }

    /// `account/login/start`.
    pub async fn start(&self, raw: Value, experimental: bool) -> Result<Answer, RpcError> {
        let login: LoginStartParams = params(raw)?;
        match login {
            LoginStartParams::ApiKey { api_key } => {
                self.cancel_pending();
                self.save_api_key(api_key.expose().to_string()).await
            }
            LoginStartParams::Chatgpt {} | LoginStartParams::ChatgptDeviceCode {}
                if self.external.is_active() =>
            {
                Err(RpcError::invalid_request(EXTERNAL_ACTIVE))
            }
            LoginStartParams::Chatgpt {} => {
                Answer::of(&self.start_chatgpt(LoginMethod::Browser).await?)
            }
            LoginStartParams::ChatgptDeviceCode {} => {
                Answer::of(&self.start_chatgpt(LoginMethod::Device).await?)
            }
            LoginStartParams::ChatgptAuthTokens(_) if !experimental => {
                Err(RpcError::invalid_request(
                    "account/login/start.chatgptAuthTokens requires experimentalApi capability",
                ))
            }
            LoginStartParams::ChatgptAuthTokens(params) => {
                let tokens = external_tokens(params).checked().map_err(|why| {
                    RpcError::invalid_params(format!("failed to set external auth: {why}"))
                })?;
                self.cancel_pending();
                let plan = plan_type(tokens.account().plan.as_deref());
                // In memory only: auth.json is never written in this mode.
                self.external.set(tokens);
                signed_in(
                    &LoginStarted::ChatgptAuthTokens,
                    "chatgptAuthTokens",
                    Some(plan),
                )
            }
            LoginStartParams::AmazonBedrock {} | LoginStartParams::AmazonBedrockAccessKeys {} => {
                Err(RpcError::invalid_request(
                    "kelp signs in to OpenAI only: Amazon Bedrock is not supported",
                ))
            }
        }
    }

    async fn save_api_key(&self, raw: String) -> Result<Answer, RpcError> {
        // Saved as given, as Codex does: the host checks a key when it wants to.
        self.service.save_api_key(&raw).await.map_err(|e| match e {
            SaveKeyError::Invalid(why) => {
                RpcError::invalid_params(format!("Invalid params: apiKey: {why}"))
            }
            other => RpcError::internal(other.to_string()),
        })?;
        signed_in(&LoginStarted::ApiKey, "apikey", None)
    }

    /// Starts a ChatGPT login and answers once the host has something to show: the sign-in
    /// URL, or the device code. A failure before that is this request's error.
    async fn start_chatgpt(&self, method: LoginMethod) -> Result<LoginStarted, RpcError> {
        // The host opens the URL: a browser must not pop up on the machine kelp runs on.
        let (mut login, replaced) = self.service.start_login(method, false);
        if let Some(replaced) = replaced {
            notify(&self.out, stopped(replaced, REPLACED));
        }
        let id = login.id;
        let answer = match login.first_step().await {
            FirstStep::Browser { url, .. } => LoginStarted::Chatgpt {
                login_id: id.to_string(),
                auth_url: url.to_string(),
            },
            FirstStep::DeviceCode { url, code } => LoginStarted::ChatgptDeviceCode {
                login_id: id.to_string(),
                verification_url: url.to_string(),
                user_code: code.to_string(),
            },
            FirstStep::Ended(LoginOutcome::Failed(message)) if method == LoginMethod::Device => {
                return Err(RpcError::internal(format!(
                    "failed to request device code: {message}"
                )));
            }
            FirstStep::Ended(LoginOutcome::Failed(message)) => {
                return Err(RpcError::internal(message));
            }
            FirstStep::Ended(_) => {
                return Err(RpcError::internal("the login ended before it started"));
            }
        };
        let out = self.out.clone();
        let report = crate::task::spawn(async move {
            let (success, error, account) = match login.outcome().await {
                LoginOutcome::Done(account) => (true, None, Some(account)),
                LoginOutcome::Failed(message) => (false, Some(message), None),
                LoginOutcome::Cancelled => (
                    false,
                    Some("Login server error: Login was not completed".into()),
                    None,
                ),
            };
            notify(
                &out,
                LoginCompleted {
                    login_id: Some(id.to_string()),
                    success,
                    error,
                },
            );
            if let Some(account) = account {
                notify(
                    &out,
                    AccountUpdated {
                        auth_mode: Some("chatgpt".into()),
                        plan_type: Some(plan_type(account.plan.as_deref()).into()),
                    },
                );
            }
        });
        self.service.keep(id, report);
        Ok(answer)
    }

    /// Stops the pending login, if any, without a word: the connection is closing.
    pub fn stop(&self) {
        self.service.stop_login(None);
    }

    /// Stops the pending login, if any, saying it ended because another took its place.
    fn cancel_pending(&self) {
        if let Some(pending) = self.service.stop_login(None) {
            self.out
                .notify("account/login/completed", stopped(pending, REPLACED));
        }
    }

    /// `account/login/cancel`: answered first, then the login's completion, as the real server
    /// orders them.
    pub fn cancel(&self, raw: Value) -> Result<Answer, RpcError> {
        let LoginCancelParams { login_id } = params(raw)?;
        let id = Uuid::parse_str(&login_id)
            .map_err(|_| RpcError::invalid_request(format!("invalid login id: {login_id}")))?;
        let Some(pending) = self.service.stop_login(Some(id)) else {
            return Answer::of(&LoginCanceled { status: "notFound" });
        };
        Ok(
            Answer::of(&LoginCanceled { status: "canceled" })?.notify(stopped(
                pending,
                "Login server error: Login was not completed",
            )),
        )
    }

    /// `account/logout`: revokes a ChatGPT login (best effort) and removes kelp's entry.
    pub async fn logout(&self) -> Result<Answer, RpcError> {
        self.cancel_pending();
        let signed_out = self
            .service
            .sign_out()
            .await
            .map_err(|e| RpcError::internal(format!("could not log out: {e}")))?;
        if let SignedOut::Stored(report) = &signed_out
            && let Some(Err(why)) = &report.revoked
        {
            tracing::info!(%why, "the ChatGPT login could not be revoked; removed anyway");
        }
        // Said after every logout, as Codex does, even when nothing was stored: the host
        // learns the state, whatever it thought it was. (External tokens are the host's:
        // leaving the mode forgets them, nothing is revoked.)
        Ok(Answer::of(&Empty {})?.notify(AccountUpdated {
            auth_mode: None,
            plan_type: None,
        }))
    }
}

impl Accounts {
    /// `accountSession/list` (experimental): the ChatGPT logins kept, the one in use marked,
    /// each with the one workspace its tokens are for. API keys are not sessions.
    pub async fn sessions(&self, raw: Value, experimental: bool) -> Result<Answer, RpcError> {
        experimental_only("accountSession/list", experimental)?;
        let _: AccountSessionsListParams = params(raw)?;
        Answer::of(&self.kept_sessions().await?)
    }

    /// `accountSession/switch` (experimental): puts the kept login `sessionId` in use (the
    /// next request of every thread carries it), then says `account/updated`. Nothing is
    /// revoked; the login in use before stays kept.
    pub async fn switch(&self, raw: Value, experimental: bool) -> Result<Answer, RpcError> {
        experimental_only("accountSession/switch", experimental)?;
        let wanted: AccountSessionsSwitchParams = params(raw)?;
        if self.external.is_active() {
            return Err(RpcError::invalid_request(
                "Workspace switching requires a managed ChatGPT login",
            ));
        }
        let sessions = self.kept_sessions().await?;
        let Some(session) = sessions
            .sessions
            .iter()
            .find(|session| session.session_id == wanted.session_id)
        else {
            return Err(RpcError::invalid_request(format!(
                "no ChatGPT login is kept as {:?}",
                wanted.session_id
            )));
        };
        if !session
            .workspaces
            .iter()
            .any(|workspace| workspace.account_id == wanted.account_id)
        {
            return Err(RpcError::invalid_request(format!(
                "the login {:?} is not for workspace {:?}: sign in to it again to choose it",
                wanted.session_id, wanted.account_id
            )));
        }
        let now = self
            .service
            .switch_login(&wanted.session_id)
            .await
            .map_err(|e| RpcError::internal(e.to_string()))?;
        let plan = match &now.who {
            AuthSummary::ChatGpt(account) => account.plan.clone(),
            AuthSummary::ApiKey { .. } => None,
        };
        Ok(
            Answer::of(&self.kept_sessions().await?)?.notify(AccountUpdated {
                auth_mode: Some("chatgpt".into()),
                plan_type: Some(plan_type(plan.as_deref()).into()),
            }),
        )
    }

    async fn kept_sessions(&self) -> Result<AccountSessions, RpcError> {
        let logins = self
            .service
            .logins()
            .await
            .map_err(|e| RpcError::internal(e.to_string()))?;
        let sessions: Vec<AccountSession> = logins.iter().filter_map(account_session).collect();
        Ok(AccountSessions {
            active_session_id: sessions
                .iter()
                .find(|session| session.is_active)
                .map(|session| session.session_id.clone()),
            sessions,
        })
    }
}

/// A kept ChatGPT login as a session: named by what the person calls it.
fn account_session(login: &crate::protocol::LoginRow) -> Option<AccountSession> {
    let AuthSummary::ChatGpt(account) = &login.who else {
        return None;
    };
    Some(AccountSession {
        session_id: login.name.clone(),
        display_name: Some(login.name.clone()),
        email: account.email.clone(),
        image_url: None,
        is_active: login.active,
        last_used_at: login.last_used_secs,
        selected_workspace_account_id: account.account_id.clone(),
        user_id: None,
        workspaces: account
            .account_id
            .iter()
            .map(|id| AccountSessionWorkspace {
                account_id: id.clone(),
                image_url: None,
                kind: None,
                name: None,
            })
            .collect(),
    })
}

/// A ChatGPT account as `account/read` shows it.
fn chatgpt_account(account: &crate::protocol::Account) -> Account {
    Account::Chatgpt {
        email: account.email.clone(),
        plan_type: plan_type(account.plan.as_deref()).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_map_onto_the_protocol_names() {
        assert_eq!(plan_type(Some("plus")), "plus");
        assert_eq!(plan_type(Some("Pro")), "pro");
        assert_eq!(plan_type(Some("galactic")), "unknown");
        assert_eq!(plan_type(None), "unknown");
    }
}
