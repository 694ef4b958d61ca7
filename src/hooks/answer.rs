//! What the hooks of one event said, as one verdict: exit code 2 blocks with stderr as the
//! reason; exit code 0 may print Claude Code's JSON (`continue`/`stopReason`, `decision`/
//! `reason`, `systemMessage`, `hookSpecificOutput` with `permissionDecision`, `updatedInput`,
//! `additionalContext`), or, for a prompt or a session's start, plain text that is context for
//! the model; any other end is a failure the person is told of, which blocks nothing.

use serde_json::Value;

use super::HookEvent;
use super::run::Ran;

/// What a `PreToolUse` hook decided of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    /// Runs without asking.
    Allow,
    /// Asks the person even where it would not.
    Ask,
    /// Does not run.
    Deny,
}

/// What an event's hooks decided together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    /// Blocked, and why (the model is told; for a prompt, the person).
    pub block: Option<String>,
    /// A tool call's permission, the strictest said (deny, then ask, then allow).
    pub permission: Option<Permission>,
    /// The tool call's input as a hook rewrote it.
    pub updated_input: Option<Value>,
    /// What the model is told besides.
    pub context: Vec<String>,
    /// `continue: false`: the turn stops here, with this for the person.
    pub stop: Option<String>,
    /// For the person: a hook's `systemMessage`, a hook that failed; printable.
    pub messages: Vec<String>,
}

impl Verdict {
    fn blocked(&mut self, reason: &str) {
        let reason = reason.trim();
        let reason = if reason.is_empty() {
            "a hook blocked it"
        } else {
            reason
        };
        self.block = Some(match self.block.take() {
            Some(earlier) => format!("{earlier}; {reason}"),
            None => reason.to_string(),
        });
    }

    fn say(&mut self, message: String) {
        self.messages
            .push(crate::terminal_text::printable(message.trim()).into_owned());
    }
}

/// The verdict of `ran`, hooks of `event`.
pub(super) fn verdict(event: HookEvent, ran: &[Ran]) -> Verdict {
    let mut verdict = Verdict::default();
    for hook in ran {
        if let Some(failure) = &hook.failure {
            verdict.say(format!("hook `{}` {failure}", hook.command));
            continue;
        }
        match hook.exit {
            Some(2) => verdict.blocked(&hook.stderr),
            Some(0) => answered(event, &hook.stdout, &mut verdict),
            code => {
                let why = hook.stderr.lines().next().unwrap_or("").trim();
                let code = code.map_or("?".to_string(), |code| code.to_string());
                verdict.say(format!(
                    "hook `{}` failed (exit {code}): {why}",
                    hook.command
                ));
            }
        }
    }
    verdict
}

/// How one hook ran, in a few words for `/hooks`: `ok`, `blocked: REASON`, `failed …`.
pub(super) fn outcome(ran: &Ran) -> String {
    let first_line = |text: &str| {
        let line = text.lines().next().unwrap_or("").trim();
        crate::terminal_text::printable(line)
            .chars()
            .take(80)
            .collect::<String>()
    };
    match (&ran.failure, ran.exit) {
        (Some(failure), _) => first_line(failure),
        (None, Some(0)) => "ok".to_string(),
        (None, Some(2)) => format!("blocked: {}", first_line(&ran.stderr)),
        (None, code) => {
            let code = code.map_or("?".to_string(), |code| code.to_string());
            format!("failed (exit {code})")
        }
    }
}

/// A hook's stdout after exit code 0: JSON, or plain text.
fn answered(event: HookEvent, stdout: &str, verdict: &mut Verdict) {
    let text = stdout.trim();
    let json = text
        .starts_with('{')
        .then(|| serde_json::from_str::<Value>(text).ok())
        .flatten();
    let Some(json) = json else {
        // Plain text is context where Claude Code takes it so: a prompt, a session's start.
        if !text.is_empty()
            && matches!(
                event,
                HookEvent::UserPromptSubmit | HookEvent::SessionStart | HookEvent::SubagentStart
            )
        {
            verdict.context.push(text.to_string());
        }
        return;
    };
    let words = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_string);
    if json.get("continue").and_then(Value::as_bool) == Some(false) {
        verdict.stop =
            Some(words("stopReason").unwrap_or_else(|| "a hook stopped the turn".into()));
    }
    match json.get("decision").and_then(Value::as_str) {
        Some("block") => verdict.blocked(&words("reason").unwrap_or_default()),
        Some("approve") => permit(verdict, Permission::Allow),
        _ => {}
    }
    if let Some(message) = words("systemMessage") {
        verdict.say(message);
    }
    let Some(specific) = json.get("hookSpecificOutput") else {
        return;
    };
    match specific.get("permissionDecision").and_then(Value::as_str) {
        Some("allow") => permit(verdict, Permission::Allow),
        Some("ask") => permit(verdict, Permission::Ask),
        Some("deny") => {
            permit(verdict, Permission::Deny);
            let reason = specific
                .get("permissionDecisionReason")
                .and_then(Value::as_str)
                .unwrap_or_default();
            verdict.blocked(reason);
        }
        _ => {}
    }
    if let Some(decision) = specific.get("decision").filter(|d| d.is_object()) {
        permission_request(decision, verdict);
    }
    if let Some(input) = specific
        .get("updatedInput")
        .filter(|input| input.is_object())
    {
        verdict.updated_input = Some(input.clone());
    }
    if let Some(context) = specific
        .get("additionalContext")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|context| !context.is_empty())
    {
        verdict.context.push(context.to_string());
    }
}

/// A `PermissionRequest` hook's `decision`: `behavior` allow or deny (with its `message`). What
/// Codex keeps for later (`interrupt`, `updatedInput`, `updatedPermissions`) fails closed, as
/// Codex's: no decision, and the person is told.
fn permission_request(decision: &Value, verdict: &mut Verdict) {
    let reserved = ["updatedInput", "updatedPermissions"]
        .iter()
        .any(|key| decision.get(key).is_some_and(|v| !v.is_null()))
        || decision.get("interrupt").and_then(Value::as_bool) == Some(true);
    if reserved {
        verdict.say(
            "a PermissionRequest hook asked for what is not supported yet (interrupt, \
             updatedInput, updatedPermissions): its decision is not used"
                .to_string(),
        );
        return;
    }
    match decision.get("behavior").and_then(Value::as_str) {
        Some("allow") => permit(verdict, Permission::Allow),
        Some("deny") => {
            permit(verdict, Permission::Deny);
            let message = decision.get("message").and_then(Value::as_str);
            verdict.blocked(message.unwrap_or_default());
        }
        _ => verdict.say("a PermissionRequest hook's decision has no behavior".to_string()),
    }
}

/// Keeps the strictest permission said.
fn permit(verdict: &mut Verdict, permission: Permission) {
    verdict.permission = verdict.permission.max(Some(permission));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran(exit: Option<i32>, stdout: &str, stderr: &str) -> Ran {
        Ran {
            command: "./h.sh".into(),
            exit,
            stdout: stdout.into(),
            stderr: stderr.into(),
            failure: None,
        }
    }

    /// A `PermissionRequest` hook decides with `decision.behavior`; any deny wins over an
    /// allow, and what Codex reserves fails closed.
    #[test]
    fn permission_request_decisions_read_as_codexs() {
        let said = |behavior: &str| {
            format!(
                r#"{{"hookSpecificOutput":{{"hookEventName":"PermissionRequest","decision":{behavior}}}}}"#
            )
        };
        let allow = said(r#"{"behavior":"allow"}"#);
        let deny = said(r#"{"behavior":"deny","message":"not on main"}"#);
        let event = HookEvent::PermissionRequest;
        let v = verdict(event, &[ran(Some(0), &allow, "")]);
        assert_eq!((v.permission, v.block), (Some(Permission::Allow), None));
        let v = verdict(event, &[ran(Some(0), &allow, ""), ran(Some(0), &deny, "")]);
        assert_eq!(v.permission, Some(Permission::Deny));
        assert_eq!(v.block.as_deref(), Some("not on main"));
        let reserved = said(r#"{"behavior":"allow","updatedInput":{"command":"ls"}}"#);
        let v = verdict(event, &[ran(Some(0), &reserved, "")]);
        assert_eq!(v.permission, None);
        assert_eq!(v.messages.len(), 1, "{v:?}");
        let v = verdict(event, &[ran(Some(2), "", "never here\n")]);
        assert_eq!(v.block.as_deref(), Some("never here"));
    }

    #[test]
    fn exit_two_blocks_with_stderr_and_other_failures_block_nothing() {
        let v = verdict(
            HookEvent::PreToolUse,
            &[ran(Some(2), "", "no rm -rf here\n")],
        );
        assert_eq!(v.block.as_deref(), Some("no rm -rf here"));
        let v = verdict(
            HookEvent::PreToolUse,
            &[ran(Some(1), "", "broken\x1b[2J\n")],
        );
        assert_eq!(v.block, None);
        assert_eq!(v.messages.len(), 1);
        assert!(v.messages[0].starts_with("hook `./h.sh` failed (exit 1): broken"));
        assert!(
            !v.messages[0].contains('\x1b'),
            "no escape reaches the screen"
        );
        let mut slow = ran(None, "", "");
        slow.failure = Some("did not finish within 1 s, and was stopped".into());
        let v = verdict(HookEvent::Stop, &[slow]);
        assert_eq!(v.block, None);
        assert_eq!(v.messages.len(), 1);
    }

    #[test]
    fn json_answers_are_honoured_and_the_strictest_permission_wins() {
        let allow = r#"{"hookSpecificOutput": {"hookEventName": "PreToolUse",
            "permissionDecision": "allow", "updatedInput": {"command": "ls -la"}}}"#;
        let deny = r#"{"hookSpecificOutput": {"permissionDecision": "deny",
            "permissionDecisionReason": "not on main"}, "systemMessage": "denied a call"}"#;
        let v = verdict(
            HookEvent::PreToolUse,
            &[ran(Some(0), allow, ""), ran(Some(0), deny, "")],
        );
        assert_eq!(v.permission, Some(Permission::Deny));
        assert_eq!(v.block.as_deref(), Some("not on main"));
        assert_eq!(
            v.updated_input,
            Some(serde_json::json!({"command": "ls -la"}))
        );
        assert_eq!(v.messages, ["denied a call"]);

        let stop = r#"{"continue": false, "stopReason": "enough"}"#;
        let block = r#"{"decision": "block", "reason": "run the tests first"}"#;
        let v = verdict(
            HookEvent::Stop,
            &[ran(Some(0), stop, ""), ran(Some(0), block, "")],
        );
        assert_eq!(v.stop.as_deref(), Some("enough"));
        assert_eq!(v.block.as_deref(), Some("run the tests first"));
    }

    #[test]
    fn context_comes_from_json_or_from_a_prompts_plain_text() {
        let json = r#"{"hookSpecificOutput": {"additionalContext": "branch: main"}}"#;
        let v = verdict(
            HookEvent::UserPromptSubmit,
            &[
                ran(Some(0), json, ""),
                ran(Some(0), "today is Friday\n", ""),
            ],
        );
        assert_eq!(v.context, ["branch: main", "today is Friday"]);
        let v = verdict(
            HookEvent::PostToolUse,
            &[ran(Some(0), "just logging\n", "")],
        );
        assert!(v.context.is_empty());
    }
}
