//! `account/*`: who is signed in, logins as they start and end, and the plan's limits.

use serde::{Deserialize, Serialize};

use super::{Notification, Text, lenient};

/// The account `account/read` shows: an API key, or a ChatGPT login with its plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Account {
    ApiKey,
    Chatgpt {
        #[serde(default)]
        email: Option<String>,
        #[serde(default, deserialize_with = "lenient")]
        plan_type: Text,
    },
    /// An account of a kind a newer server has; never written.
    #[serde(other, skip_serializing)]
    Unknown,
}

/// `account/read`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountRead {
    #[serde(default)]
    pub account: Option<Account>,
    #[serde(default)]
    pub requires_openai_auth: bool,
}

/// `account/login/start`'s answer: done at once, or the step the person takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum LoginStarted {
    ApiKey,
    /// The host opens `auth_url` in a browser.
    Chatgpt {
        login_id: String,
        auth_url: String,
    },
    /// The person types `user_code` at `verification_url`, on any device.
    ChatgptDeviceCode {
        login_id: String,
        verification_url: String,
        user_code: String,
    },
    /// Tokens the host owns, kept in memory.
    ChatgptAuthTokens,
    /// A way in a newer server has; never written.
    #[serde(other, skip_serializing)]
    Unknown,
}

/// `account/login/cancel`'s answer: `canceled` or `notFound`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LoginCanceled {
    pub status: &'static str,
}

/// `account/rateLimits/read`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitsRead {
    pub rate_limits: RateLimitSnapshot,
}

notification!(
    /// A login ended: signed in, failed, or cancelled.
    LoginCompleted = "account/login/completed" {
        #[serde(default)]
        login_id: Option<String>,
        success: bool,
        #[serde(default)]
        error: Option<String>,
    }
);

notification!(
    /// An MCP server's OAuth sign-in ended (`mcpServer/oauth/login`).
    McpLoginCompleted = "mcpServer/oauthLogin/completed" {
        name: String,
        login_id: Option<String>,
        success: bool,
        error: Option<String>,
    }
);

notification!(
    /// The login changed: how kelp is signed in now (nothing after a logout).
    AccountUpdated = "account/updated" {
        #[serde(default, deserialize_with = "lenient")]
        auth_mode: Option<Text>,
        #[serde(default, deserialize_with = "lenient")]
        plan_type: Option<Text>,
    }
);

/// `accountSession/list`'s params.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSessionsListParams {
    /// Ask ChatGPT for the workspaces' names again: kelp knows only what the tokens say.
    #[serde(default)]
    pub refresh_workspace_metadata: Option<bool>,
}

/// `accountSession/switch`'s params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSessionsSwitchParams {
    /// The login, as `accountSession/list` named it.
    pub session_id: String,
    /// The workspace within that login.
    pub account_id: String,
    #[serde(default)]
    pub allow_browser_login: Option<bool>,
}

/// The logins kept, as `accountSession/list` and `accountSession/switch` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSessions {
    pub active_session_id: Option<String>,
    pub sessions: Vec<AccountSession>,
}

/// One login kept: a ChatGPT user with the workspace its tokens are for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSession {
    pub session_id: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub image_url: Option<String>,
    pub is_active: bool,
    pub last_used_at: i64,
    pub selected_workspace_account_id: Option<String>,
    pub user_id: Option<String>,
    pub workspaces: Vec<AccountSessionWorkspace>,
}

/// A workspace a login may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSessionWorkspace {
    pub account_id: String,
    pub image_url: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
}

/// The plan's rate-limit windows, those kelp knows (`RateLimitSnapshot`, sparse).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RateLimitSnapshot {
    #[serde(default, deserialize_with = "lenient")]
    pub primary: Option<RateLimitWindow>,
    #[serde(default, deserialize_with = "lenient")]
    pub secondary: Option<RateLimitWindow>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitWindow {
    pub used_percent: i64,
    pub window_duration_mins: Option<u64>,
    pub resets_at: Option<i64>,
}

impl From<&crate::protocol::RateLimits> for RateLimitSnapshot {
    fn from(limits: &crate::protocol::RateLimits) -> Self {
        let window = |w: &crate::protocol::RateLimitWindow| RateLimitWindow {
            used_percent: w.used_percent.round() as i64,
            window_duration_mins: w.window_minutes,
            resets_at: w.resets_at,
        };
        Self {
            primary: limits.primary.as_ref().map(window),
            secondary: limits.secondary.as_ref().map(window),
        }
    }
}

impl From<RateLimitSnapshot> for crate::protocol::RateLimits {
    fn from(limits: RateLimitSnapshot) -> Self {
        let window = |w: RateLimitWindow| crate::protocol::RateLimitWindow {
            used_percent: w.used_percent as f64,
            window_minutes: w.window_duration_mins,
            resets_at: w.resets_at,
        };
        Self {
            primary: limits.primary.map(window),
            secondary: limits.secondary.map(window),
        }
    }
}

notification!(
    /// The plan's rate-limit windows as they stand.
    RateLimitsUpdated = "account/rateLimits/updated" {
        rate_limits: RateLimitSnapshot,
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{answer_fits, fits, read_answer_fits};

    #[test]
    fn every_account_shape_fits_the_schema() {
        for account in [
            None,
            Some(Account::ApiKey),
            Some(Account::Chatgpt {
                email: Some("a@b.c".into()),
                plan_type: "plus".into(),
            }),
        ] {
            read_answer_fits(
                "v2/GetAccountResponse.json",
                &AccountRead {
                    account,
                    requires_openai_auth: true,
                },
            );
        }
        for started in [
            LoginStarted::ApiKey,
            LoginStarted::Chatgpt {
                login_id: "l".into(),
                auth_url: "http://127.0.0.1:1455/x".into(),
            },
            LoginStarted::ChatgptDeviceCode {
                login_id: "l".into(),
                verification_url: "http://127.0.0.1/device".into(),
                user_code: "ABCD-1234".into(),
            },
            LoginStarted::ChatgptAuthTokens,
        ] {
            read_answer_fits("v2/LoginAccountResponse.json", &started);
        }
        for status in ["canceled", "notFound"] {
            answer_fits(
                "v2/CancelLoginAccountResponse.json",
                &LoginCanceled { status },
            );
        }
        answer_fits(
            "v2/GetAccountRateLimitsResponse.json",
            &RateLimitsRead {
                rate_limits: RateLimitSnapshot::default(),
            },
        );
        fits(
            LoginCompleted {
                login_id: None,
                success: false,
                error: Some("cancelled".into()),
            }
            .into_message(),
        );
        fits(
            AccountUpdated {
                auth_mode: Some("chatgpt".into()),
                plan_type: Some("pro".into()),
            }
            .into_message(),
        );
        fits(
            AccountUpdated {
                auth_mode: None,
                plan_type: None,
            }
            .into_message(),
        );
    }
}
