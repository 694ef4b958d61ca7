//! Every request method of the Codex app-server protocol (the stable methods of Codex 0.169's
//! schema) and how kelp serves it: the one table the dispatcher and the unknown-method error
//! read (`docs/app-server.md` says the same). A method kelp does is handled in `mod.rs`; one
//! whose feature kelp does not have gets the answer Codex gives when there is nothing of the
//! kind (an empty list), or a refusal in words; none gets `unknown variant`.

/// How kelp serves one method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serve {
    /// kelp does what Codex does, on its own core (`mod.rs` has the handler).
    Done,
    /// kelp has nothing of the kind: the answer when there is nothing (JSON).
    Nothing(&'static str),
    /// kelp cannot: refused with this reason.
    Refused(&'static str),
}

use Serve::{Done, Nothing, Refused};

const NO_PLUGINS: &str = "kelp has no plugins, marketplaces or apps";
const NO_THREAD_EXTRAS: &str = "kelp keeps no goals, attachments, sections or metadata on a \
                                thread: its name (thread/name/set) is all";
const NO_CHATGPT_EXTRAS: &str = "kelp does not use this part of a ChatGPT account";
const NO_IMPORT: &str = "kelp imports no other agent's configuration";

/// The methods, in the schema's order.
pub const METHODS: &[(&str, Serve)] = &[
    ("initialize", Done),
    ("thread/start", Done),
    ("thread/resume", Done),
    ("thread/fork", Done),
    ("thread/archive", Done),
    ("thread/delete", Done),
    ("thread/unsubscribe", Done),
    ("thread/name/set", Done),
    ("thread/goal/set", Refused(NO_THREAD_EXTRAS)),
    ("thread/goal/get", Nothing(r#"{"goal":null}"#)),
    ("thread/goal/clear", Nothing(r#"{"cleared":false}"#)),
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
    ("thread/unarchive", Done),
    ("thread/compact/start", Done),
    (
        "thread/shellCommand",
        Refused("kelp runs a host's commands with command/exec"),
    ),
    (
        "thread/approveGuardianDeniedAction",
        Refused("kelp has no guardian reviewer: every approval is the person's"),
    ),
    ("thread/revert", Done),
    ("thread/list", Done),
    (
        "threadSection/list",
        Nothing(r#"{"data":[],"nextCursor":null}"#),
    ),
    ("threadSection/create", Refused(NO_THREAD_EXTRAS)),
    ("threadSection/update", Refused(NO_THREAD_EXTRAS)),
    ("threadSection/delete", Refused(NO_THREAD_EXTRAS)),
    ("thread/loaded/list", Done),
    ("thread/read", Done),
    ("thread/turns/list", Done),
    ("thread/items/list", Done),
    (
        "thread/inject_items",
        Refused("kelp's history holds only what its turns did"),
    ),
    ("skills/list", Done),
    ("skills/extraRoots/set", Refused("kelp has no skills")),
    ("hooks/list", Nothing(r#"{"data":[]}"#)),
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
    ("app/read", Done),
    ("app/list", Nothing(r#"{"data":[],"nextCursor":null}"#)),
    ("app/installed", Nothing(r#"{"apps":[]}"#)),
    ("fs/readFile", Done),
    ("fs/writeFile", Done),
    ("fs/createDirectory", Done),
    ("fs/getMetadata", Done),
    ("fs/readDirectory", Done),
    ("fs/remove", Done),
    ("fs/copy", Done),
    ("fs/watch", Refused("kelp does not watch files for a host")),
    (
        "fs/unwatch",
        Refused("kelp does not watch files for a host"),
    ),
    ("skills/config/write", Refused("kelp has no skills")),
    ("plugin/install", Refused(NO_PLUGINS)),
    ("plugin/uninstall", Refused(NO_PLUGINS)),
    ("turn/start", Done),
    ("turn/steer", Done),
    ("turn/interrupt", Done),
    ("review/start", Done),
    ("model/list", Done),
    ("account/gatewayOAuth/read", Refused(NO_CHATGPT_EXTRAS)),
    ("account/gatewayOAuth/login", Refused(NO_CHATGPT_EXTRAS)),
    ("account/gatewayOAuth/cancel", Refused(NO_CHATGPT_EXTRAS)),
    ("modelProvider/list", Done),
    (
        "modelProvider/config/write",
        Refused("kelp talks to OpenAI only; its endpoints are set in config.toml"),
    ),
    (
        "modelProvider/capabilities/read",
        Nothing(r#"{"imageGeneration":false,"webSearch":false}"#),
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
        Refused(
            "kelp's MCP servers sign in with the headers or environment config.toml gives them",
        ),
    ),
    ("config/mcpServer/reload", Done),
    ("mcpServerStatus/list", Done),
    (
        "mcpServer/resource/read",
        Refused("kelp reads no MCP resources; their tools work"),
    ),
    ("mcpServer/tool/call", Done),
    (
        "windowsSandbox/setupStart",
        Refused("kelp's sandbox is Linux's (namespaces, Landlock, seccomp)"),
    ),
    (
        "windowsSandbox/readiness",
        Refused("kelp's sandbox is Linux's (namespaces, Landlock, seccomp)"),
    ),
    ("account/login/start", Done),
    ("account/login/cancel", Done),
    ("account/logout", Done),
    ("account/securitySetup/read", Nothing(r#"{"notice":null}"#)),
    ("account/rateLimits/read", Done),
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
        Refused("kelp sends no feedback anywhere: feedback/save writes it here"),
    ),
    (
        "feedback/save",
        Refused("kelp packs no feedback: its log is kelp.log in its state folder"),
    ),
    ("command/exec", Done),
    ("command/exec/write", Done),
    ("command/exec/terminate", Done),
    (
        "command/exec/resize",
        Refused("kelp's command/exec runs no terminal to resize"),
    ),
    ("config/read", Done),
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
    ("config/value/write", Done),
    ("config/batchWrite", Done),
    (
        "configRequirements/read",
        Nothing(r#"{"requirements":null}"#),
    ),
    ("account/read", Done),
    ("fuzzyFileSearch", Done),
    // Not in the schema's stable list, but sent by hosts: thread/rollback by those written for
    // earlier Codex releases (the last `numTurns` turns dropped, as thread/revert does), and
    // the server's permission profiles; kelp lists no background terminals.
    ("thread/rollback", Done),
    ("permissionProfile/list", Done),
    (
        "thread/backgroundTerminals/list",
        Nothing(r#"{"data":[],"nextCursor":null}"#),
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
    let done = METHODS.iter().filter(|(_, serve)| *serve == Done).count();
    (done, METHODS.len())
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
}
