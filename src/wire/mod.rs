//! Codex's app-server protocol as plain values: the shapes the app-server writes and a client
//! on a server reads, as Rust types named as Codex 0.169's schema names them
//! (`tests/fixtures/codex-app-server-schema/0.169.0/`), each notification and request knowing
//! its method, free of any server's state. Each file's tests check its shapes against that schema, so a field renamed here
//! fails before a host sees it.
//!
//! - `thread.rs`: threads and turns, and the notifications that carry them.
//! - `items.rs`: the items of a turn (a message, reasoning, a command, a patch, a search).
//! - `account.rs`: `account/*`'s answers and notifications.
//! - `host_asks.rs`: what the server asks the host (approvals, the model's questions) and its
//!   answers.
//! - `host.rs`: what a host asks outside a thread: `fs/*`, `command/exec`, searches, lists.
//! - `processes.rs`: `process/*`, what a process a host spawned says as it runs and ends.
//! - `queue.rs`: `thread/queue/*`, messages that wait for a thread's turn to end.
//! - `terminals.rs`: `thread/backgroundTerminals/*`, the commands a thread left running.
//! - `requests.rs`: the requests a client sends, one params type per method, serde both ways.
//! - `search.rs`: `thread/search`, its stream and `thread/searchOccurrences` (Codex 0.171's).
//! - `review.rs`: auto-review's notifications and `thread/approveGuardianDeniedAction`
//!   (Codex 0.171's guardian).
//! - `settings.rs`: `config/*` and the lists a settings screen shows (models, permission
//!   profiles, skills, MCP servers).
//!
//! What a client reads from a server (`kelp --remote`) is these same types, read back: every
//! notification, the server's requests, and the answers a client acts on. They read leniently
//! where a newer server may say more: a field a client does not act on never fails its message
//! ([`lenient`]), and an item, a status or an account of a kind kelp does not know is `Unknown`.

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// A word of the protocol kelp writes from its own constants and a client reads back owned.
pub type Text = Cow<'static, str>;

/// A notification's params, which know the method they go with.
pub trait Notification: Serialize {
    const METHOD: &'static str;

    /// The method and its params as JSON.
    fn into_message(self) -> (&'static str, Value)
    where
        Self: Sized,
    {
        message(Self::METHOD, &self)
    }
}

/// A request kelp makes of the host, whose params know their method.
pub trait ServerRequest: Serialize {
    const METHOD: &'static str;

    /// The method and its params as JSON.
    fn into_message(self) -> (&'static str, Value)
    where
        Self: Sized,
    {
        message(Self::METHOD, &self)
    }
}

/// `method` with `params` as JSON. Every shape here serializes (no maps with non-string keys):
/// a failure is kelp's mistake, logged, and the params go as `null`.
fn message(method: &'static str, params: &impl Serialize) -> (&'static str, Value) {
    let params = serde_json::to_value(params).unwrap_or_else(|e| {
        tracing::error!(error = %e, method, "a message to the host did not serialize");
        Value::Null
    });
    (method, params)
}

/// The notifications Codex sends to every initialized client, not only to those that hear the
/// thread they are about: a thread starting, changing status, and closing.
pub fn to_every_client(method: &str) -> bool {
    [
        ThreadStarted::METHOD,
        ThreadStatusChanged::METHOD,
        ThreadClosed::METHOD,
    ]
    .contains(&method)
}

/// A field a client does not act on, read as its default when it is missing or has a shape a
/// newer server gives it, so the message around it still reads.
pub(crate) fn lenient<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    let value = Value::deserialize(deserializer)?;
    Ok(T::deserialize(value).unwrap_or_default())
}

/// A field written only when known (`Some`), whose `null` means "known to be none": read back
/// as `Some(None)`, not as unknown.
pub(crate) fn known<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Why a message from a server is not one of [`ServerNotification`] or [`ServerAsk`].
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A method this kelp does not know: a newer server's, passed over.
    #[error("{0} is not a method kelp knows")]
    UnknownMethod(String),
    /// A known method whose params do not have its shape.
    #[error("{method}'s params were not understood: {source}")]
    Malformed {
        method: String,
        source: serde_json::Error,
    },
}

/// `params` read as `T`, the params of `method`.
fn read_params<T: DeserializeOwned>(method: &str, params: Value) -> Result<T, ReadError> {
    serde_json::from_value(params).map_err(|source| ReadError::Malformed {
        method: method.to_string(),
        source,
    })
}

/// Declares a notification: its params' struct (camelCase fields) and its method.
macro_rules! notification {
    ($(#[$doc:meta])* $name:ident = $method:literal {
        $($(#[$field_attr:meta])* $field:ident: $ty:ty),* $(,)?
    }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $($(#[$field_attr])* pub $field: $ty),*
        }

        impl Notification for $name {
            const METHOD: &'static str = $method;
        }
    };
}

mod account;
mod host;
mod host_asks;
mod items;
mod processes;
mod queue;
pub mod requests;
mod review;
mod search;
mod settings;
mod terminals;
mod thread;

pub use account::*;
pub use host::*;
pub use host_asks::*;
pub use items::*;
pub use processes::*;
pub use queue::*;
pub use review::*;
pub use search::*;
pub use settings::*;
pub use terminals::*;
pub use thread::*;

/// Declares [`ServerNotification`] over the notifications' params types, in groups by what a
/// client does with them, so a face that shows none of a group passes it over in one arm.
macro_rules! server_notifications {
    ($($(#[$doc:meta])* $group:ident($group_ty:ident) { $($name:ident),* $(,)? })*) => {
        /// A notification a server sends, its params typed: what the app-server writes,
        /// `kelp exec` makes its lines of, and `kelp --remote` reads.
        #[derive(Debug, Clone, PartialEq)]
        pub enum ServerNotification {
            $($(#[$doc])* $group($group_ty),)*
        }

        $(
            $(#[$doc])*
            #[derive(Debug, Clone, PartialEq)]
            pub enum $group_ty {
                $($name(Box<$name>),)*
            }

            $(impl From<$name> for ServerNotification {
                fn from(params: $name) -> Self {
                    Self::$group($group_ty::$name(Box::new(params)))
                }
            })*
        )*

        impl ServerNotification {
            /// Its method and params as JSON.
            pub fn into_message(self) -> (&'static str, Value) {
                match self {
                    $($(Self::$group($group_ty::$name(params)) => (*params).into_message(),)*)*
                }
            }

            /// The notification `method` with `params`, typed.
            pub fn read(method: &str, params: Value) -> Result<Self, ReadError> {
                $($(if method == <$name as Notification>::METHOD {
                    return read_params::<$name>(method, params).map(Self::from);
                })*)*
                Err(ReadError::UnknownMethod(method.to_string()))
            }
        }
    };
}

server_notifications! {
    /// A turn's stream: its start and end, its items and their pieces, its plan, diff, usage
    /// and failure.
    Turn(TurnNote) {
        TurnStarted,
        TurnCompleted,
        ItemStarted,
        ItemCompleted,
        AgentMessageDelta,
        ReasoningSummaryPartAdded,
        ReasoningSummaryTextDelta,
        CommandExecutionOutputDelta,
        TerminalInteraction,
        TurnDiffUpdated,
        TurnPlanUpdated,
        ThreadCompacted,
        ThreadTokenUsageUpdated,
        TurnErrorNotification,
        AutoApprovalReviewStarted,
        AutoApprovalReviewCompleted,
    }
    /// The threads a server keeps: opened, named, archived, their settings, goals and status.
    Thread(ThreadNote) {
        ThreadStarted,
        ThreadStatusChanged,
        ThreadArchived,
        ThreadUnarchived,
        ThreadDeleted,
        ThreadClosed,
        ThreadReverted,
        ThreadNameUpdated,
        ThreadGoalUpdated,
        ThreadGoalClearedNotification,
        ThreadSettingsUpdated,
        ServerRequestResolved,
        ThreadQueueChanged,
    }
    /// The login and the plan's limits.
    Account(AccountNote) {
        LoginCompleted,
        McpLoginCompleted,
        AccountUpdated,
        RateLimitsUpdated,
    }
    /// Words for the person that end nothing.
    Said(SaidNote) {
        Warning,
        GuardianWarning,
        ConfigWarning,
        DeprecationNotice,
    }
    /// A standalone command or process of the host's (`command/exec`, `process/spawn`).
    Host(HostNote) {
        CommandExecOutputDelta,
        ProcessOutputDelta,
        ProcessExited,
    }
}

impl TurnNote {
    /// The thread whose turn it is about.
    pub fn thread_id(&self) -> &str {
        match self {
            Self::TurnStarted(note) => &note.thread_id,
            Self::TurnCompleted(note) => &note.thread_id,
            Self::ItemStarted(note) => &note.thread_id,
            Self::ItemCompleted(note) => &note.thread_id,
            Self::AgentMessageDelta(note) => &note.thread_id,
            Self::ReasoningSummaryPartAdded(note) => &note.thread_id,
            Self::ReasoningSummaryTextDelta(note) => &note.thread_id,
            Self::CommandExecutionOutputDelta(note) => &note.thread_id,
            Self::TerminalInteraction(note) => &note.thread_id,
            Self::TurnDiffUpdated(note) => &note.thread_id,
            Self::TurnPlanUpdated(note) => &note.thread_id,
            Self::ThreadCompacted(note) => &note.thread_id,
            Self::ThreadTokenUsageUpdated(note) => &note.thread_id,
            Self::TurnErrorNotification(note) => &note.thread_id,
            Self::AutoApprovalReviewStarted(note) => &note.thread_id,
            Self::AutoApprovalReviewCompleted(note) => &note.thread_id,
        }
    }
}

impl SaidNote {
    /// What the person reads.
    pub fn words(&self) -> &str {
        match self {
            Self::Warning(warning) => &warning.message,
            Self::GuardianWarning(warning) => &warning.message,
            Self::ConfigWarning(warning) => &warning.summary,
            Self::DeprecationNotice(notice) => &notice.summary,
        }
    }

    /// The thread it is about, if it names one.
    pub fn thread_id(&self) -> Option<&str> {
        match self {
            Self::Warning(warning) => warning.thread_id.as_deref(),
            Self::GuardianWarning(warning) => Some(&warning.thread_id),
            Self::ConfigWarning(_) | Self::DeprecationNotice(_) => None,
        }
    }
}

/// Declares [`ServerAsk`] over the server's requests' params types.
macro_rules! server_asks {
    ($($name:ident),* $(,)?) => {
        /// A request a server makes of its client, its params typed.
        #[derive(Debug, Clone, PartialEq)]
        pub enum ServerAsk {
            $($name(Box<$name>),)*
        }

        impl ServerAsk {
            /// The request `method` with `params`, typed.
            pub fn read(method: &str, params: Value) -> Result<Self, ReadError> {
                $(if method == <$name as ServerRequest>::METHOD {
                    return read_params::<$name>(method, params)
                        .map(|params| Self::$name(Box::new(params)));
                })*
                Err(ReadError::UnknownMethod(method.to_string()))
            }
        }

        $(impl From<$name> for ServerAsk {
            fn from(params: $name) -> Self {
                Self::$name(Box::new(params))
            }
        })*
    };
}

server_asks! {
    CommandExecutionRequestApproval,
    FileChangeRequestApproval,
    ToolRequestUserInput,
}

/// Checks `(method, params)` against the schema's `ServerNotification`, and that it reads back
/// as the same notification and writes as the same JSON.
#[cfg(test)]
pub(crate) fn fits(message: (&'static str, Value)) {
    let (method, params) = message.clone();
    let read = ServerNotification::read(method, params.clone())
        .unwrap_or_else(|e| panic!("{method} does not read back: {e}"));
    assert_eq!(read.clone().into_message(), (method, params), "{read:?}");
    fits_schema("ServerNotification.json", message, None);
}

/// Checks a server request against the schema's `ServerRequest`, and that it reads back.
#[cfg(test)]
pub(crate) fn ask_fits<R: ServerRequest + PartialEq + std::fmt::Debug + Clone>(ask: R)
where
    ServerAsk: From<R>,
{
    let (method, params) = ask.clone().into_message();
    let read = ServerAsk::read(method, params.clone())
        .unwrap_or_else(|e| panic!("{method} does not read back: {e}"));
    assert_eq!(read, ServerAsk::from(ask), "{method}");
    fits_schema("ServerRequest.json", (method, params), Some(1));
}

/// Checks that an answer a client reads comes back from its JSON as it was.
#[cfg(test)]
fn round_trips<T>(answer: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_value(answer).unwrap();
    let read: T = serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(&read, answer, "{json}");
}

/// Checks a message against the vendored schema file `file` (with `id` for a request).
#[cfg(test)]
pub(crate) fn fits_schema(file: &str, message: (&'static str, Value), id: Option<i64>) {
    let path = format!(
        "{}/../tests/fixtures/codex-app-server-schema/0.169.0/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let (method, params) = message;
    let mut instance = serde_json::json!({ "method": method, "params": params });
    if let Some(id) = id {
        instance["id"] = id.into();
    }
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{method}: {errors:?}\n{instance}");
}

/// Checks an answer a client reads against its schema, and that it reads back as it was.
#[cfg(test)]
pub(crate) fn read_answer_fits<T>(schema_file: &str, answer: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    answer_fits(schema_file, answer);
    round_trips(answer);
}

/// Checks an answer to `schema_file` (under `v2/` or the top) against its response schema.
#[cfg(test)]
pub(crate) fn answer_fits(schema_file: &str, answer: &impl Serialize) {
    answer_fits_in("0.169.0", schema_file, answer);
}

/// [`read_answer_fits`] against the schema `schema_file` of the folder `version` (`0.171.0/v2`).
#[cfg(test)]
pub(crate) fn read_answer_fits_in<T>(version: &str, schema_file: &str, answer: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    answer_fits_in(version, schema_file, answer);
    round_trips(answer);
}

/// [`answer_fits`] against the schema `schema_file` of the folder `version` (`0.171.0/v2`).
#[cfg(test)]
pub(crate) fn answer_fits_in(version: &str, schema_file: &str, answer: &impl Serialize) {
    let path = format!(
        "{}/../tests/fixtures/codex-app-server-schema/{version}/{schema_file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let instance = serde_json::to_value(answer).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{schema_file}: {errors:?}\n{instance}");
}
