//! The requests a client sends, one type per method, serde both ways: the app-server reads
//! them, `kelp --remote` writes them. A field a client may leave out is optional here and left
//! out when empty, so what kelp writes is what Codex's clients write.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    AccountSessionsListParams, AccountSessionsSwitchParams, ApproveDeniedParams, ThreadSearchParams,
};
use crate::secret::Secret;

/// A request's params and the method they go with.
pub trait Request: Serialize {
    const METHOD: &'static str;
}

/// Declares the method of each params type.
macro_rules! methods {
    ($($name:ident = $method:literal),* $(,)?) => {
        $(impl Request for $name {
            const METHOD: &'static str = $method;
        })*
    };
}

methods! {
    InitializeParams = "initialize",
    ThreadStartParams = "thread/start",
    ThreadResumeParams = "thread/resume",
    ThreadForkParams = "thread/fork",
    ThreadListParams = "thread/list",
    ThreadSearchParams = "thread/search",
    ThreadSetNameParams = "thread/name/set",
    ThreadCompactStartParams = "thread/compact/start",
    TurnStartParams = "turn/start",
    TurnSteerParams = "turn/steer",
    TurnInterruptParams = "turn/interrupt",
    ReviewStartParams = "review/start",
    ApproveDeniedParams = "thread/approveGuardianDeniedAction",
    LoginStartParams = "account/login/start",
    LoginCancelParams = "account/login/cancel",
    AccountReadParams = "account/read",
    LogoutParams = "account/logout",
    AccountSessionsListParams = "accountSession/list",
    AccountSessionsSwitchParams = "accountSession/switch",
    ModelListParams = "model/list",
    ThreadLoadedListParams = "thread/loaded/list",
    ThreadReadParams = "thread/read",
    ThreadQueueAddParams = "thread/queue/add",
    ThreadQueueListParams = "thread/queue/list",
    ThreadQueueUpdateParams = "thread/queue/update",
    ThreadQueueDeleteParams = "thread/queue/delete",
    ThreadQueueReorderParams = "thread/queue/reorder",
    ThreadQueueStartParams = "thread/queue/start",
}

/// `initialize`: who the client is and what it can take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeParams {
    pub client_info: ClientInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    #[serde(default)]
    pub experimental_api: bool,
}

/// `thread/start`: a new conversation in `cwd`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadStartParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Codex's name of the approval policy (a string, or an object for a granular one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_policy: Option<Value>,
    /// Who approvals go to first: `user` or `auto_review` (Codex's `approvalsReviewer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvals_reviewer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// Not saved: never listed, never resumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<bool>,
    /// `fast` or `flex` for the thread's requests (Codex's words), `default` for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
}

/// `thread/resume`: a saved or held conversation, by id.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadResumeParams {
    pub thread_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_policy: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Who approvals go to first: `user` or `auto_review` (Codex's `approvalsReviewer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvals_reviewer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// The answer's thread without its turns (the host pages them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclude_turns: bool,
    /// `thread/fork`: the last turn to keep, as `thread/read` names it (`turn-2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_turn_id: Option<String>,
    /// `thread/fork`: a side conversation of the thread (Codex 0.171's attached thread).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attach_to_source: bool,
}

/// `thread/fork`: a copy of a thread, as `thread/resume` opens one.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ThreadForkParams(pub ThreadResumeParams);

/// `thread/list`: the saved threads, newest first, a page at a time.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The folder (or folders) whose threads are listed; none: every folder's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<CwdFilter>,
    /// The archived threads instead of the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
    /// `created_at` or `updated_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_key: Option<String>,
    /// Where the threads came from (`appServer`, `subAgentThreadSpawn`, …); none: the person's
    /// own, not the agents their threads spawned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kinds: Option<Vec<String>>,
    /// Only the agents this thread spawned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_thread_id: Option<String>,
    /// Only the agents spawned below this thread, at any depth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ancestor_thread_id: Option<String>,
    /// Only the threads whose title (name, else first prompt) holds this, any case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_term: Option<String>,
}

/// One folder or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CwdFilter {
    One(PathBuf),
    Many(Vec<PathBuf>),
}

/// `thread/name/set`: names a thread; an empty name clears it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadSetNameParams {
    pub thread_id: String,
    pub name: String,
}

/// `thread/compact/start`: compacts a thread's history now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadCompactStartParams {
    pub thread_id: String,
}

/// One piece of a turn's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserInput {
    Text {
        text: String,
        /// Where the text's mentions lie; kelp writes none.
        #[serde(default)]
        text_elements: Vec<Value>,
    },
    /// By URL; an uploaded file's id is the service's, which kelp does not use.
    Image {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    LocalImage {
        path: PathBuf,
    },
    /// A file (`@path`), or an app or plugin (its name is in the text).
    Mention {
        path: String,
    },
    /// A skill: the text names it.
    Skill {},
    /// Anything else (audio): what kelp cannot take.
    #[serde(other)]
    Other,
}

impl UserInput {
    /// The words of an input, its texts joined by a blank line (images and mentions left out).
    pub fn words(input: &[Self]) -> String {
        input
            .iter()
            .filter_map(|part| match part {
                Self::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    /// A prompt as a client sends it: its text, then its images from this machine.
    pub fn prompt(text: &str, images: &[PathBuf]) -> Vec<Self> {
        let text = Self::Text {
            text: text.to_string(),
            text_elements: Vec::new(),
        };
        std::iter::once(text)
            .chain(
                images
                    .iter()
                    .map(|path| Self::LocalImage { path: path.clone() }),
            )
            .collect()
    }
}

/// Codex's `CollaborationMode`: the mode, and the model and effort that go with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeChoice {
    pub mode: String,
    #[serde(default)]
    pub settings: ModeSettings,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModeSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
}

/// `turn/start`: a prompt, and the settings for this turn and the thread's next ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnStartParams {
    pub thread_id: String,
    pub input: Vec<UserInput>,
    /// Where the turn works; a client sends its folder (the server keeps the thread's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_policy: Option<Value>,
    /// Who approvals go to first: `user` or `auto_review` (Codex's `approvalsReviewer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvals_reviewer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<Value>,
    /// For this turn only: the final answer as JSON that follows this schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// Plan or work, for this turn and the thread's next ones (with its model and effort).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collaboration_mode: Option<ModeChoice>,
    /// `fast`, `flex` or `default`, for this turn and the thread's next ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
}

/// `turn/steer`: input added to the running turn `expected_turn_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnSteerParams {
    pub thread_id: String,
    pub expected_turn_id: String,
    pub input: Vec<UserInput>,
}

/// `turn/interrupt`: stops the running turn `turn_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnInterruptParams {
    pub thread_id: String,
    pub turn_id: String,
}

/// What a review is of, as `review/start` names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ReviewTargetParams {
    UncommittedChanges,
    BaseBranch {
        branch: String,
    },
    Commit {
        sha: String,
        #[serde(default)]
        title: Option<String>,
    },
    Custom {
        instructions: String,
    },
}

impl From<&crate::protocol::ReviewTarget> for ReviewTargetParams {
    fn from(target: &crate::protocol::ReviewTarget) -> Self {
        use crate::protocol::ReviewTarget;
        match target {
            ReviewTarget::Uncommitted => Self::UncommittedChanges,
            ReviewTarget::BaseBranch(branch) => Self::BaseBranch {
                branch: branch.clone(),
            },
            ReviewTarget::Commit { sha, title } => Self::Commit {
                sha: sha.clone(),
                title: title.clone(),
            },
            ReviewTarget::Custom(instructions) => Self::Custom {
                instructions: instructions.clone(),
            },
        }
    }
}

/// `review/start`: a review turn on a thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewStartParams {
    pub thread_id: String,
    pub target: ReviewTargetParams,
    /// `inline` (the thread's own turn) is all kelp does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
}

/// External ChatGPT tokens a host hands over (`chatgptAuthTokens`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthTokens {
    #[serde(with = "secret_text")]
    pub access_token: Secret,
    pub chatgpt_account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chatgpt_plan_type: Option<String>,
}

/// `account/login/start`: how to sign in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum LoginStartParams {
    #[serde(rename_all = "camelCase")]
    ApiKey {
        #[serde(with = "secret_text")]
        api_key: Secret,
    },
    Chatgpt {},
    ChatgptDeviceCode {},
    ChatgptAuthTokens(AuthTokens),
    AmazonBedrock {},
    AmazonBedrockAccessKeys {},
}

/// `account/login/cancel`: stops the sign-in `login_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginCancelParams {
    pub login_id: String,
}

/// `account/read`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountReadParams {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refresh_token: bool,
}

/// `account/logout`: takes no params at all.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LogoutParams;

/// `model/list`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// A key or token as the JSON string it travels as; in memory, a [`Secret`] that no `Debug`
/// or log shows.
mod secret_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::secret::Secret;

    pub fn serialize<S: Serializer>(secret: &Secret, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(secret.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        String::deserialize(deserializer).map(Secret::from)
    }
}

/// `thread/loaded/list`: the threads the server holds open, a page at a time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadLoadedListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `thread/read`: one thread, with its turns or without.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadReadParams {
    pub thread_id: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub include_turns: bool,
}

/// `thread/queue/add`: a message for the thread, sent when its turn ends (at once when idle).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadQueueAddParams {
    pub thread_id: String,
    pub input: Vec<UserInput>,
    pub client_user_message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responsesapi_client_metadata: Option<BTreeMap<String, String>>,
}

/// `thread/queue/list`: the messages waiting, a page at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadQueueListParams {
    pub thread_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `thread/queue/update`: a waiting message's input replaced (its metadata too, when given
/// and not empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadQueueUpdateParams {
    pub thread_id: String,
    pub queued_submission_id: String,
    pub input: Vec<UserInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responsesapi_client_metadata: Option<BTreeMap<String, String>>,
}

/// `thread/queue/delete`: a waiting message dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadQueueDeleteParams {
    pub thread_id: String,
    pub queued_submission_id: String,
}

/// `thread/queue/reorder`: the waiting messages in a new order, every one named once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadQueueReorderParams {
    pub thread_id: String,
    pub queued_submission_ids: Vec<String>,
}

/// `thread/queue/start`: a waiting message (the first, when none is named) sent now, on an
/// idle thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadQueueStartParams {
    pub thread_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_submission_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;

    use super::*;
    use crate::wire::fits_schema;

    /// `params` as a client writes it fits Codex's schema of its method, and reads back as
    /// itself.
    fn sent_and_read<R: Request + DeserializeOwned + PartialEq + std::fmt::Debug>(params: R) {
        let value = serde_json::to_value(&params).unwrap();
        fits_schema("ClientRequest.json", (R::METHOD, value.clone()), Some(1));
        let read: R = serde_json::from_value(value).unwrap();
        assert_eq!(read, params, "{} reads back as it was written", R::METHOD);
    }

    #[test]
    fn every_request_kelp_writes_fits_codexs_schema_and_reads_back() {
        let thread_id = "th-1".to_string();
        sent_and_read(InitializeParams {
            client_info: ClientInfo {
                name: "kelp".into(),
                title: Some("kelp".into()),
                version: "1.0.0".into(),
            },
            capabilities: Some(Capabilities {
                experimental_api: true,
            }),
        });
        sent_and_read(ThreadStartParams {
            cwd: Some("/p".into()),
            model: Some("gpt-5.5".into()),
            approval_policy: Some("on-request".into()),
            approvals_reviewer: Some("auto_review".into()),
            sandbox: Some("workspace-write".into()),
            ephemeral: None,
            service_tier: Some("fast".into()),
        });
        let resume = ThreadResumeParams {
            thread_id: thread_id.clone(),
            cwd: Some("/p".into()),
            exclude_turns: true,
            ..ThreadResumeParams::default()
        };
        sent_and_read(resume.clone());
        sent_and_read(ThreadForkParams(resume));
        sent_and_read(ThreadListParams {
            cwd: Some(CwdFilter::One("/p".into())),
            limit: Some(100),
            sort_key: Some("updated_at".into()),
            ..ThreadListParams::default()
        });
        sent_and_read(ThreadListParams {
            cwd: Some(CwdFilter::Many(vec!["/p".into(), "/q".into()])),
            archived: Some(true),
            cursor: Some("25".into()),
            ..ThreadListParams::default()
        });
        sent_and_read(ThreadSetNameParams {
            thread_id: thread_id.clone(),
            name: "the parser".into(),
        });
        sent_and_read(ThreadCompactStartParams {
            thread_id: thread_id.clone(),
        });
        sent_and_read(ApproveDeniedParams {
            thread_id: thread_id.clone(),
            event: serde_json::json!({"id": "r1", "status": "denied"}),
        });
        sent_and_read(TurnStartParams {
            thread_id: thread_id.clone(),
            input: UserInput::prompt("fix it", &["/p/shot.png".into()]),
            cwd: Some("/p".into()),
            model: None,
            approval_policy: Some("never".into()),
            approvals_reviewer: Some("user".into()),
            effort: Some("high".into()),
            summary: None,
            sandbox_policy: None,
            output_schema: Some(serde_json::json!({"type": "object"})),
            collaboration_mode: Some(ModeChoice {
                mode: "plan".into(),
                settings: ModeSettings::default(),
            }),
            service_tier: Some("fast".into()),
        });
        sent_and_read(TurnSteerParams {
            thread_id: thread_id.clone(),
            expected_turn_id: "t1".into(),
            input: UserInput::prompt("and the tests", &[]),
        });
        sent_and_read(TurnInterruptParams {
            thread_id: thread_id.clone(),
            turn_id: "t1".into(),
        });
        for target in [
            ReviewTargetParams::UncommittedChanges,
            ReviewTargetParams::BaseBranch {
                branch: "main".into(),
            },
            ReviewTargetParams::Commit {
                sha: "abc1234".into(),
                title: Some("fix".into()),
            },
            ReviewTargetParams::Custom {
                instructions: "the locking".into(),
            },
        ] {
            sent_and_read(ReviewStartParams {
                thread_id: thread_id.clone(),
                target,
                delivery: None,
            });
        }
        for login in [
            LoginStartParams::ApiKey {
                api_key: Secret::from("sk-test"),
            },
            LoginStartParams::Chatgpt {},
            LoginStartParams::ChatgptDeviceCode {},
        ] {
            sent_and_read(login);
        }
        sent_and_read(LoginCancelParams {
            login_id: uuid::Uuid::nil().to_string(),
        });
        sent_and_read(AccountReadParams::default());
        sent_and_read(ModelListParams::default());
        sent_and_read(ThreadLoadedListParams {
            cursor: Some("2".into()),
            limit: Some(50),
        });
        sent_and_read(ThreadReadParams {
            thread_id: thread_id.clone(),
            include_turns: false,
        });
        let logout = serde_json::to_value(LogoutParams).unwrap();
        assert!(logout.is_null(), "account/logout takes no params: {logout}");
    }

    #[test]
    fn a_hosts_input_kelp_cannot_take_is_read_as_other_not_refused_whole() {
        let input: Vec<UserInput> = serde_json::from_value(serde_json::json!([
            {"type": "text", "text": "hi"},
            {"type": "audio", "url": "x"},
        ]))
        .unwrap();
        assert_eq!(
            input,
            [
                UserInput::Text {
                    text: "hi".into(),
                    text_elements: Vec::new(),
                },
                UserInput::Other,
            ]
        );
    }

    #[test]
    fn a_key_is_written_on_the_wire_and_never_in_debug() {
        let login = LoginStartParams::ApiKey {
            api_key: Secret::from("sk-test-secret"),
        };
        let written = serde_json::to_string(&login).unwrap();
        assert!(written.contains("sk-test-secret"), "{written}");
        assert!(!format!("{login:?}").contains("sk-test-secret"));
    }
}
