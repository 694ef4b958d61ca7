//! The person's hooks as the core starts: read once from the config folders (kelp's, then
//! `CODEX_HOME`'s), what cannot be used said, and those that wait for the person's trust named
//! with the way to trust them; `SessionStart` fires with the first turn.

use super::Core;
use crate::protocol::{Event, HookRow, Reply};

impl Core {
    /// Reads the hooks, and says what the person should know of them.
    pub(super) fn load_hooks(&mut self) {
        if !self.options.hooks {
            return;
        }
        let (hooks, warnings) = crate::hooks::load_for(&self.config);
        for warning in warnings {
            self.emit(Event::Notice(format!("hooks: {warning}")));
        }
        let waiting = hooks.untrusted().len();
        // A team's child says nothing of them: its parent did.
        if waiting > 0
            && self
                .seat
                .as_ref()
                .is_none_or(|seat| seat.origin().is_none())
        {
            let (count, verb) = match waiting {
                1 => ("1 hook".to_string(), "waits"),
                n => (format!("{n} hooks"), "wait"),
            };
            self.emit(Event::Notice(format!(
                "{count} {verb} for your trust and will not run until then: hooks run with your \
                 full rights, outside the sandbox. `kelp hooks` lists them, `kelp hooks trust` \
                 trusts them."
            )));
            self.emit(Event::Reply(Reply::Hooks(rows(&hooks))));
        }
        if self.config.hooks.bypass_trust && !hooks.all().is_empty() {
            self.emit(Event::Notice(
                "--dangerously-bypass-hook-trust: every hook runs, trusted or not.".to_string(),
            ));
        }
        self.session_start = Some(match self.options.resume {
            Some(_) => "resume",
            None => "startup",
        });
        self.hooks = hooks;
    }

    /// The person's `notify` program told that the prompt `asked` (its turn's id, and the
    /// person's words: the prompt and what steered it) was answered: the first agent's conversation only, as a team's children work for it.
    pub(super) fn notify_turn_complete(&self, (turn_id, input_messages): (String, Vec<String>)) {
        let Some(argv) = &self.config.notify else {
            return;
        };
        let child = self
            .seat
            .as_ref()
            .and_then(|seat| seat.as_child())
            .is_some();
        let Some(conversation) = self.conversation.as_ref().filter(|_| !child) else {
            return;
        };
        let cwd = conversation.project_dir();
        let done = crate::hooks::notify::Notification::AgentTurnComplete {
            thread_id: conversation.id().to_string(),
            turn_id,
            cwd: cwd.display().to_string(),
            input_messages,
            last_assistant_message: conversation.last_answer(),
        };
        crate::hooks::notify::send(argv, cwd, &done);
    }

    /// `SessionEnd`, as the core ends: the first agent's conversation only (a team's child
    /// ends with `SubagentStop`), its file saved first.
    pub(super) async fn session_end(&mut self) {
        let child = self
            .seat
            .as_ref()
            .and_then(|seat| seat.as_child())
            .is_some();
        let event = crate::hooks::HookEvent::SessionEnd;
        if child || !self.hooks.any_for(event, &[]) {
            return;
        }
        let Some(conversation) = &self.conversation else {
            return;
        };
        let payload = serde_json::json!({
            "session_id": conversation.id().to_string(),
            "transcript_path": conversation.session_path(),
            "cwd": conversation.project_dir(),
            "hook_event_name": event.name(),
            "reason": "other",
        });
        let cwd = conversation.project_dir().to_path_buf();
        let verdict = self.hooks.fire(event, &[], &cwd, &payload).await;
        for message in verdict.messages {
            self.emit(Event::Notice(format!("SessionEnd hook: {message}")));
        }
    }

    /// `Op::ListHooks`.
    pub(super) fn list_hooks(&self) {
        self.emit(Event::Reply(Reply::Hooks(rows(&self.hooks))));
    }

    /// `Op::TrustHooks`: kept, and in force from the next turn.
    pub(super) fn trust_hooks(&mut self, hashes: &[String]) {
        if let Err(e) = crate::hooks::trust(&self.config.state_dir, hashes) {
            self.emit(Event::Error(format!("cannot keep the hooks' trust: {e}")));
        }
        self.reload_hooks();
    }

    /// `Op::EnableHooks`: kept, and in force from the next turn.
    pub(super) fn enable_hooks(&mut self, hashes: &[String], enabled: bool) {
        if let Err(e) = crate::hooks::set_enabled(&self.config.state_dir, hashes, enabled) {
            self.emit(Event::Error(format!("cannot keep the hooks' state: {e}")));
        }
        self.reload_hooks();
    }

    /// The hooks read again after the person changed their state, what each did so far kept.
    fn reload_hooks(&mut self) {
        let (hooks, _) = crate::hooks::load_for(&self.config);
        self.hooks = hooks.keeping_results_of(&self.hooks);
        self.list_hooks();
    }
}

/// The hooks as `/hooks` shows them.
fn rows(hooks: &crate::hooks::Hooks) -> Vec<HookRow> {
    hooks
        .all()
        .iter()
        .map(|hook| HookRow {
            hash: hook.hash(),
            event: hook.event.name().to_string(),
            matcher: hook.matcher.clone(),
            command: hook.command.clone(),
            source: hook.source.clone(),
            trusted: hook.trusted,
            enabled: hook.enabled,
            last: hooks.last_result(&hook.hash()),
        })
        .collect()
}
