//! The person's hooks as the core starts: read once from the config folders (kelp's, then
//! `CODEX_HOME`'s), what cannot be used said, and those that wait for the person's trust named
//! with the way to trust them; `SessionStart` fires with the first turn.

use super::Core;
use crate::protocol::Event;

impl Core {
    /// Reads the hooks, and says what the person should know of them.
    pub(super) fn load_hooks(&mut self) {
        let (hooks, warnings) = crate::hooks::load(
            &self.config.config_dir,
            self.config.hooks.codex_home.as_deref(),
            &self.config.state_dir,
            self.config.hooks.bypass_trust,
        );
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
}
