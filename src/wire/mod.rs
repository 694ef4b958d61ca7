//! Codex's app-server protocol as plain values: the shapes the app-server writes and a client
//! on a server reads, as Rust types named as Codex 0.169's schema names them
//! (`tests/fixtures/codex-app-server-schema/0.169.0/`), each notification and request knowing
//! its method, free of any server's state. Each file's tests check its shapes against that schema, so a field renamed here
//! fails before a host sees it.
//!
//! - `thread.rs`: threads, turns, items, and the notifications that carry them.
//! - `account.rs`: `account/*`'s answers and notifications.
//! - `host_asks.rs`: what the server asks the host (approvals, the model's questions) and its
//!   answers.
//! - `host.rs`: what a host asks outside a thread: `fs/*`, `command/exec`, searches, lists.
//! - `requests.rs`: the requests a client sends, one params type per method, serde both ways.
//! - `settings.rs`: `config/*` and the lists a settings screen shows (models, permission
//!   profiles, skills, MCP servers).

use serde::Serialize;
use serde_json::Value;

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

/// Declares a notification: its params' struct (camelCase fields) and its method.
macro_rules! notification {
    ($(#[$doc:meta])* $name:ident = $method:literal { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $(pub $field: $ty),*
        }

        impl Notification for $name {
            const METHOD: &'static str = $method;
        }
    };
}

mod account;
mod host;
mod host_asks;
pub mod requests;
mod settings;
mod thread;

pub use account::*;
pub use host::*;
pub use host_asks::*;
pub use settings::*;
pub use thread::*;

/// Declares [`ServerNotification`] over the notifications' params types.
macro_rules! server_notifications {
    ($($name:ident),* $(,)?) => {
        /// A notification kelp's server sends, its params typed: what the app-server writes
        /// and `kelp exec` makes its lines of, never read back by method name.
        #[derive(Debug, Clone, PartialEq)]
        pub enum ServerNotification {
            $($name(Box<$name>),)*
        }

        impl ServerNotification {
            /// Its method and params as JSON.
            pub fn into_message(self) -> (&'static str, Value) {
                match self {
                    $(Self::$name(params) => (*params).into_message(),)*
                }
            }
        }

        $(impl From<$name> for ServerNotification {
            fn from(params: $name) -> Self {
                Self::$name(Box::new(params))
            }
        })*
    };
}

server_notifications! {
    LoginCompleted,
    McpLoginCompleted,
    AccountUpdated,
    CommandExecOutputDelta,
    ThreadSettingsUpdated,
    ItemStarted,
    ItemCompleted,
    ReasoningSummaryPartAdded,
    ReasoningSummaryTextDelta,
    CommandExecutionOutputDelta,
    TurnDiffUpdated,
    TurnPlanUpdated,
    ThreadCompacted,
    ThreadTokenUsageUpdated,
    TurnErrorNotification,
    Warning,
    ThreadArchived,
    ThreadUnarchived,
    ThreadDeleted,
    ThreadClosed,
    ThreadReverted,
    ThreadNameUpdated,
    ThreadGoalUpdated,
    ThreadGoalClearedNotification,
    ServerRequestResolved,
    ThreadStarted,
    TurnStarted,
    TurnCompleted,
    ThreadStatusChanged,
    RateLimitsUpdated,
}

/// Checks `(method, params)` against the schema's `ServerNotification`.
#[cfg(test)]
pub(crate) fn fits(message: (&'static str, Value)) {
    fits_schema("ServerNotification.json", message, None);
}

/// Checks a message against the vendored schema file `file` (with `id` for a request).
#[cfg(test)]
pub(crate) fn fits_schema(file: &str, message: (&'static str, Value), id: Option<i64>) {
    let path = format!(
        "{}/tests/fixtures/codex-app-server-schema/0.169.0/{file}",
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

/// Checks an answer to `schema_file` (under `v2/` or the top) against its response schema.
#[cfg(test)]
pub(crate) fn answer_fits(schema_file: &str, answer: &impl Serialize) {
    let path = format!(
        "{}/tests/fixtures/codex-app-server-schema/0.169.0/{schema_file}",
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
