//! Every request method of the Codex app-server protocol (the stable methods of Codex 0.169's
//! schema) and how kelp serves it: the one table the dispatcher reads, method → handler
//! (`docs/app-server.md` says the same in words). A method kelp does runs its handler, now, in
//! order, or on a task of its own; one whose feature kelp does not have gets the answer Codex
//! gives when there is nothing of the kind (an empty list), or a refusal in words; none gets
//! `unknown variant`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use super::server::{self, Server, Work};
use super::wire::{Answer, RpcError};
use super::{config, exec, fs, queue, search, spawned, terminals, thread_settings, turns};

/// A handler's work that borrows the connection, awaited before the next request is read.
pub type Pending<'a> = Pin<Box<dyn Future<Output = Result<Answer, RpcError>> + Send + 'a>>;

/// How kelp serves one method.
#[derive(Debug, Clone, Copy)]
pub enum Serve {
    /// kelp does it at once, in order with the connection's other requests.
    Now(fn(&mut Server, Value) -> Result<Answer, RpcError>),
    /// kelp does it in order, awaited before the next request (a thread's core starting).
    InOrder(for<'a> fn(&'a mut Server, Value) -> Pending<'a>),
    /// kelp does it on a task of its own: it may wait on the network, a person or a file, and
    /// the connection's other requests are answered meanwhile.
    Apart(fn(&Server, Value) -> Work),
    /// kelp has nothing of the kind: the answer when there is nothing (JSON).
    Nothing(&'static str),
    /// kelp cannot: refused with this reason.
    Refused(&'static str),
    /// The connection's handshake (`initialize`): answered by the connection, which keeps
    /// whether it was and what the client asked for.
    Handshake,
}

use Serve::{Apart, Handshake, InOrder, Nothing, Now, Refused};

/// `fs/*`'s operation `op`, on a blocking task beneath the connection's threads' folders.
macro_rules! file_op {
    ($op:ident) => {
        Apart(|s, p| Box::pin(fs::blocking(s.file_roots(), p, fs::$op)))
    };
}

/// `thread/queue/*`'s operation `op`, on a loaded thread, for a client of the experimental API.
macro_rules! queue_op {
    ($op:ident) => {
        Now(|s, p| queue::$op(p, s.caller.experimental, |id| s.threads.thread(id)))
    };
}

/// A saved thread read by `Saved::$read`, on a task of its own: a long file holds up nothing.
macro_rules! saved_read {
    ($read:ident) => {
        Apart(|s, p| {
            let saved = s.threads.saved();
            Box::pin(async move { saved.$read(p).await })
        })
    };
}

const NO_PLUGINS: &str = "kelp has no plugins, marketplaces or apps";
const NO_THREAD_EXTRAS: &str = "kelp keeps no attachments, sections or metadata on a thread: \
                                its name (thread/name/set) and goal (thread/goal/set) are all";
const NO_CHATGPT_EXTRAS: &str = "kelp does not use this part of a ChatGPT account";
const NO_IMPORT: &str = "kelp imports no other agent's configuration";

pub const METHODS: &[(&str, Serve)] = &[
    ("initialize", Handshake),
    (
        "thread/start",
        InOrder(|s, p| Box::pin(s.threads.start(s.caller.clone(), p))),
    ),
    (
        "thread/resume",
        InOrder(|s, p| Box::pin(s.threads.resume(s.caller.clone(), p))),
    ),
    (
        "thread/fork",
        InOrder(|s, p| Box::pin(s.threads.fork(s.caller.clone(), p))),
    ),
    (
        "thread/archive",
        InOrder(|s, p| Box::pin(s.threads.archive(p))),
    ),
    (
        "thread/delete",
        InOrder(|s, p| Box::pin(s.threads.delete(p))),
    ),
    (
        "thread/unsubscribe",
        Now(|s, p| s.threads.unsubscribe(&s.caller, p)),
    ),
    (
        "thread/name/set",
        InOrder(|s, p| Box::pin(s.threads.set_name(p))),
    ),
    ("thread/goal/set", Now(|s, p| s.threads.set_goal(p))),
    (
        "thread/goal/get",
        InOrder(|s, p| Box::pin(s.threads.get_goal(p))),
    ),
    ("thread/goal/clear", Now(|s, p| s.threads.clear_goal(p))),
    ("thread/metadata/update", Refused(NO_THREAD_EXTRAS)),
    ("thread/attachment/add", Refused(NO_THREAD_EXTRAS)),
    (
        "thread/attachment/list",
        Nothing(r#"{"data":[],"nextCursor":null}"#),
    ),
    (
        "thread/attachmentOwner/list",
        Nothing(r#"{"data":[],"nextCursor":null}"#),
    ),
    ("thread/attachment/remove", Refused(NO_THREAD_EXTRAS)),
    ("thread/section/move", Refused(NO_THREAD_EXTRAS)),
    (
        "thread/unarchive",
        InOrder(|s, p| Box::pin(s.threads.unarchive(p))),
    ),
    ("thread/compact/start", Now(|s, p| s.threads.compact(p))),
    (
        "thread/shellCommand",
        Refused("kelp runs a host's commands with command/exec"),
    ),
    (
        "thread/approveGuardianDeniedAction",
        Now(|s, p| turns::approve_denied(p, |id| s.threads.thread(id))),
    ),
    (
        "thread/revert",
        InOrder(|s, p| Box::pin(s.threads.revert(p))),
    ),
    (
        "thread/list",
        Apart(|s, p| {
            let (saved, live) = (s.threads.saved(), s.threads.live());
            Box::pin(async move { saved.list(p, live).await })
        }),
    ),
    (
        "thread/search",
        Apart(|s, p| {
            let (state_dir, live) = (
                s.threads.saved().state_dir().to_path_buf(),
                s.threads.live(),
            );
            Box::pin(search::search(state_dir, p, live, None))
        }),
    ),
    (
        "thread/search/stream",
        Apart(|s, p| {
            let (state_dir, live) = (
                s.threads.saved().state_dir().to_path_buf(),
                s.threads.live(),
            );
            let partials = search::Partials {
                out: s.caller.out.clone(),
                request: s.caller.request.clone(),
            };
            Box::pin(search::search(state_dir, p, live, Some(partials)))
        }),
    ),
    (
        "thread/searchOccurrences",
        Apart(|s, p| Box::pin(search::occurrences(s.threads.saved(), p))),
    ),
    // Each search answers in the time a cancel would take to arrive: acknowledged.
    ("thread/search/cancel", Nothing("{}")),
    ("thread/search/stream/cancel", Nothing("{}")),
    (
        "threadSection/list",
        Nothing(r#"{"data":[],"nextCursor":null}"#),
    ),
    ("threadSection/create", Refused(NO_THREAD_EXTRAS)),
    ("threadSection/update", Refused(NO_THREAD_EXTRAS)),
    ("threadSection/delete", Refused(NO_THREAD_EXTRAS)),
    ("thread/loaded/list", Now(|s, p| s.threads.loaded(p))),
    (
        "thread/backgroundTerminals/list",
        Apart(|s, p| {
            boxed(terminals::list(p, |id| s.threads.thread(id)).map(terminals::Listing::answer))
        }),
    ),
    (
        "thread/backgroundTerminals/terminate",
        Now(|s, p| terminals::terminate(p, |id| s.threads.thread(id))),
    ),
    (
        "thread/backgroundTerminals/clean",
        Now(|s, p| terminals::clean(p, |id| s.threads.thread(id))),
    ),
    ("thread/queue/add", queue_op!(add)),
    ("thread/queue/list", queue_op!(list)),
    ("thread/queue/update", queue_op!(update)),
    ("thread/queue/delete", queue_op!(delete)),
    ("thread/queue/reorder", queue_op!(reorder)),
    ("thread/queue/start", queue_op!(start)),
    (
        "thread/read",
        Apart(|s, p| {
            let (saved, loaded) = (s.threads.saved(), s.threads.opened(&p));
            let live = p["threadId"]
                .as_str()
                .and_then(|id| s.threads.live().remove(id));
            Box::pin(async move { saved.read(p, loaded, live).await })
        }),
    ),
    ("thread/turns/list", saved_read!(turns)),
    ("thread/items/list", saved_read!(items)),
    (
        "thread/inject_items",
        Refused("kelp's history holds only what its turns did"),
    ),
    ("skills/list", Now(|s, p| config::skills(p, &s.config))),
    ("skills/extraRoots/set", Now(|s, p| s.set_skill_roots(p))),
    ("hooks/list", Now(|s, p| server::hooks_list(&s.config, p))),
    ("marketplace/add", Refused(NO_PLUGINS)),
    ("marketplace/remove", Refused(NO_PLUGINS)),
    ("marketplace/upgrade", Refused(NO_PLUGINS)),
    ("plugin/list", Nothing(r#"{"marketplaces":[]}"#)),
    ("plugin/installed", Nothing(r#"{"marketplaces":[]}"#)),
    (
        "plugin/reconcile",
        Nothing(
            r#"{"changedPlugins":[],"failedMaterializationRemotePluginIds":[],"failedRemotePluginIds":[]}"#,
        ),
    ),
    ("plugin/read", Refused(NO_PLUGINS)),
    ("plugin/skill/read", Refused(NO_PLUGINS)),
    ("plugin/share/save", Refused(NO_PLUGINS)),
    ("plugin/share/updateTargets", Refused(NO_PLUGINS)),
    ("plugin/share/list", Nothing(r#"{"data":[]}"#)),
    ("plugin/share/checkout", Refused(NO_PLUGINS)),
    ("plugin/share/delete", Refused(NO_PLUGINS)),
    ("app/read", Now(|_, p| server::app_read(p))),
    ("app/list", Nothing(r#"{"data":[],"nextCursor":null}"#)),
    ("app/installed", Nothing(r#"{"apps":[]}"#)),
    ("fs/readFile", file_op!(read_file)),
    ("fs/writeFile", file_op!(write_file)),
    ("fs/createDirectory", file_op!(create_directory)),
    ("fs/getMetadata", file_op!(metadata)),
    ("fs/readDirectory", file_op!(read_directory)),
    ("fs/remove", file_op!(remove)),
    ("fs/copy", file_op!(copy)),
    ("fs/watch", Refused("kelp does not watch files for a host")),
    (
        "fs/unwatch",
        Refused("kelp does not watch files for a host"),
    ),
    ("skills/config/write", Now(|s, p| s.write_skill_config(p))),
    ("plugin/install", Refused(NO_PLUGINS)),
    ("plugin/uninstall", Refused(NO_PLUGINS)),
    (
        "turn/start",
        Now(|s, p| match s.threads.start_on_agent(&p) {
            Some(answer) => answer,
            None => turns::start(p, |id| s.threads.thread(id)),
        }),
    ),
    (
        "turn/steer",
        Now(|s, p| turns::steer(p, |id| s.threads.thread(id))),
    ),
    (
        "turn/interrupt",
        Now(|s, p| match s.threads.interrupt_agent(&p) {
            Some(answer) => answer,
            None => turns::interrupt(p, |id| s.threads.thread(id)),
        }),
    ),
    (
        "review/start",
        Now(|s, p| turns::review(p, |id| s.threads.thread(id))),
    ),
    (
        "model/list",
        Apart(|s, p| Box::pin(server::models(s.llm.clone(), s.default_model(), p))),
    ),
    ("account/gatewayOAuth/read", Refused(NO_CHATGPT_EXTRAS)),
    ("account/gatewayOAuth/login", Refused(NO_CHATGPT_EXTRAS)),
    ("account/gatewayOAuth/cancel", Refused(NO_CHATGPT_EXTRAS)),
    (
        "modelProvider/list",
        Now(|s, _| server::model_providers(&s.config)),
    ),
    (
        "modelProvider/default/set",
        Now(|s, p| {
            let written = config::set_default_provider(&s.config, p);
            s.reload();
            written
        }),
    ),
    (
        "modelProvider/config/write",
        Refused("kelp's model providers are set in its config.toml ([model_providers.NAME])"),
    ),
    (
        "modelProvider/capabilities/read",
        Now(|_, _| server::provider_capabilities()),
    ),
    (
        "experimentalFeature/list",
        Nothing(r#"{"data":[],"nextCursor":null}"#),
    ),
    (
        "experimentalFeature/enablement/set",
        Refused("kelp has no experimental features to turn on"),
    ),
    (
        "mcpServer/oauth/login",
        Apart(|s, p| Box::pin(server::mcp_login(s.config.clone(), s.caller.out.clone(), p))),
    ),
    (
        "config/mcpServer/reload",
        Now(|s, _| {
            s.reload();
            Ok(Answer::new(serde_json::json!({})))
        }),
    ),
    (
        "mcpServerStatus/list",
        Now(|s, _| config::mcp_servers(&s.config, &s.threads.mcp_servers())),
    ),
    (
        "mcpServer/resource/read",
        Refused("kelp reads no MCP resources; their tools work"),
    ),
    (
        "mcpServer/tool/call",
        Apart(|s, p| boxed(s.threads.call_mcp_tool(p))),
    ),
    (
        "windowsSandbox/setupStart",
        Refused("kelp's sandbox is Linux's (namespaces, Landlock, seccomp)"),
    ),
    (
        "windowsSandbox/readiness",
        Refused("kelp's sandbox is Linux's (namespaces, Landlock, seccomp)"),
    ),
    (
        "account/login/start",
        Apart(|s, p| {
            let (accounts, experimental) = (Arc::clone(&s.accounts), s.caller.experimental);
            Box::pin(async move { accounts.start(p, experimental).await })
        }),
    ),
    ("account/login/cancel", Now(|s, p| s.accounts.cancel(p))),
    (
        "account/logout",
        Apart(|s, _| {
            let accounts = Arc::clone(&s.accounts);
            Box::pin(async move { accounts.logout().await })
        }),
    ),
    ("account/securitySetup/read", Nothing(r#"{"notice":null}"#)),
    (
        "accountSession/list",
        Apart(|s, p| {
            let (accounts, experimental) = (Arc::clone(&s.accounts), s.caller.experimental);
            Box::pin(async move { accounts.sessions(p, experimental).await })
        }),
    ),
    (
        "accountSession/switch",
        Apart(|s, p| {
            let (accounts, experimental) = (Arc::clone(&s.accounts), s.caller.experimental);
            Box::pin(async move { accounts.switch(p, experimental).await })
        }),
    ),
    (
        "account/rateLimits/read",
        Apart(|s, _| Box::pin(server::rate_limits(s.llm.clone(), s.threads.last_limits()))),
    ),
    (
        "account/rateLimitResetCredit/consume",
        Refused(NO_CHATGPT_EXTRAS),
    ),
    ("account/usage/read", Refused(NO_CHATGPT_EXTRAS)),
    (
        "account/workspaceMessages/read",
        Nothing(r#"{"featureEnabled":false,"messages":[]}"#),
    ),
    (
        "account/sendAddCreditsNudgeEmail",
        Refused(NO_CHATGPT_EXTRAS),
    ),
    (
        "feedback/upload",
        Refused("kelp sends no feedback anywhere: its log is kelp.log in its state folder"),
    ),
    (
        "feedback/save",
        Refused("kelp packs no feedback: its log is kelp.log in its state folder"),
    ),
    (
        "command/exec",
        Apart(|s, p| {
            boxed(exec::exec(
                s.config.clone(),
                s.caller.out.clone(),
                s.processes.clone(),
                p,
            ))
        }),
    ),
    (
        "command/exec/write",
        Now(|s, p| exec::write(&s.processes, p)),
    ),
    (
        "command/exec/terminate",
        Now(|s, p| exec::terminate(&s.processes, p)),
    ),
    (
        "command/exec/resize",
        Now(|s, p| exec::resize(&s.processes, p)),
    ),
    (
        "process/spawn",
        Now(|s, p| spawned::spawn(&s.spawned, &s.caller.out, p)),
    ),
    ("process/writeStdin", Now(|s, p| exec::write(&s.spawned, p))),
    ("process/resizePty", Now(|s, p| exec::resize(&s.spawned, p))),
    ("process/kill", Now(|s, p| exec::terminate(&s.spawned, p))),
    ("config/read", Now(|s, p| config::read(&s.config, p))),
    ("externalAgentConfig/detect", Nothing(r#"{"items":[]}"#)),
    ("externalAgentConfig/import", Refused(NO_IMPORT)),
    (
        "externalAgentConfig/import/recordHistory",
        Refused(NO_IMPORT),
    ),
    (
        "externalAgentConfig/import/readHistories",
        Nothing(r#"{"connectors":[],"data":[]}"#),
    ),
    (
        "config/value/write",
        Now(|s, p| {
            let written = config::write_value(&s.config, p);
            s.reload();
            written
        }),
    ),
    (
        "config/batchWrite",
        Now(|s, p| {
            let written = config::batch_write(&s.config, p);
            s.reload();
            written
        }),
    ),
    (
        "configRequirements/read",
        Nothing(r#"{"requirements":null}"#),
    ),
    (
        "account/read",
        Apart(|s, _| {
            let accounts = Arc::clone(&s.accounts);
            // The provider in use now: a config written since may have changed it.
            let requires_openai_auth = s.config.model_provider.requires_openai_auth;
            Box::pin(async move { accounts.read(requires_openai_auth).await })
        }),
    ),
    (
        "fuzzyFileSearch",
        Apart(|_, p| Box::pin(server::fuzzy_file_search(p))),
    ),
    // Not in the schema's stable list, but sent by hosts: thread/rollback by those written for
    // earlier Codex releases (the last `numTurns` turns dropped, as thread/revert does), and
    // the server's permission profiles.
    (
        "thread/rollback",
        InOrder(|s, p| Box::pin(s.threads.rollback(p))),
    ),
    (
        "permissionProfile/list",
        Now(|_, _| config::permission_profiles()),
    ),
    // Codex's experimental API, which codex-acp 2.6, Codex's own client and other hosts call.
    (
        "account/bedrock/checkGovCloudRequirements",
        Nothing(r#"{"isGovCloud":false,"shouldWarn":false}"#),
    ),
    (
        "collaborationMode/list",
        Now(|_, _| thread_settings::presets()),
    ),
    (
        "thread/settings/update",
        Now(|s, p| s.threads.update_settings(p)),
    ),
    (
        "turn/settings/update",
        Refused(
            "kelp changes settings between turns, not within one: thread/settings/update sets them for the next turn",
        ),
    ),
    (
        "thread/sample",
        Refused("kelp samples no thread: thread/read gives the whole of it"),
    ),
];

/// How kelp serves `method`, if the protocol has it.
pub fn serve(method: &str) -> Option<Serve> {
    METHODS
        .iter()
        .find(|(name, _)| *name == method)
        .map(|(_, serve)| *serve)
}

/// How many methods kelp does, and how many it recognises.
pub fn counts() -> (usize, usize) {
    let done = METHODS
        .iter()
        .filter(|(_, serve)| matches!(serve, Now(_) | InOrder(_) | Apart(_) | Handshake))
        .count();
    (done, METHODS.len())
}

/// The answer when kelp has nothing of the kind (the table's JSON).
pub fn nothing(answer: &str) -> Result<Answer, RpcError> {
    serde_json::from_str::<Value>(answer)
        .map(Answer::from)
        .map_err(|e| RpcError::internal(e.to_string()))
}

/// `method` refused, in words.
pub fn refused(method: &str, why: &str) -> RpcError {
    RpcError::invalid_request(format!("{method} is not available: {why}"))
}

/// A method the protocol does not have: the error that lists those it has, as Codex's.
pub fn unknown(method: &str) -> RpcError {
    RpcError::invalid_request(format!(
        "Invalid request: unknown variant `{method}`, expected one of {}",
        METHODS
            .iter()
            .map(|(name, _)| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Work that may be refused before it starts, as one piece of work.
fn boxed<F>(work: Result<F, RpcError>) -> Work
where
    F: Future<Output = Result<Answer, RpcError>> + Send + 'static,
{
    match work {
        Ok(work) => Box::pin(work),
        Err(error) => Box::pin(std::future::ready(Err(error))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_method_is_listed_once_and_each_nothing_is_json() {
        let mut names: Vec<&str> = METHODS.iter().map(|(name, _)| *name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a method listed twice");
        for (name, serve) in METHODS {
            if let Nothing(answer) = serve {
                let value: serde_json::Value = serde_json::from_str(answer)
                    .unwrap_or_else(|e| panic!("{name}: {answer}: {e}"));
                assert!(value.is_object(), "{name}");
            }
        }
    }

    /// A host told to use another method must find that one served.
    #[test]
    fn no_refusal_points_to_a_method_that_is_refused_too() {
        for (name, serve) in METHODS {
            let Refused(why) = serve else { continue };
            for (other, other_serve) in METHODS {
                if matches!(other_serve, Refused(_)) {
                    assert!(!why.contains(other), "{name} points to {other}: {why}");
                }
            }
        }
    }
}
