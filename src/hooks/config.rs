//! The hooks the files name: `hooks.json` (Claude Code's and Codex's shape,
//! `{"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command":
//! "…", "timeout": 30}]}]}}`) and `config.toml`'s `[hooks]` tables of the same shape, in kelp's
//! config folder and then in `CODEX_HOME`. What cannot be used is a one-line warning, and
//! the rest still loads.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::{DEFAULT_TIMEOUT, Hook, HookEvent, Hooks};

/// [`load`] of the folders and the trust `config` names, with a trusted project's hooks
/// (read with its settings) after the person's.
pub fn load_for(config: &crate::config::Config) -> (Hooks, Vec<String>) {
    load_with(
        &config.config_dir,
        config.hooks.codex_home.as_deref(),
        &config.project.hooks,
        &config.state_dir,
        config.hooks.bypass_trust,
    )
}

/// The most a hooks file is read of.
const MAX_BYTES: u64 = 1024 * 1024;

/// Every hook of kelp's config folder and of Codex's (`codex_dir`, when there is one), each
/// marked trusted when the person trusted it as it is (kept in `state_dir`); `bypass_trust`
/// runs them all. Returns what could not be used, one line each.
pub fn load(
    config_dir: &Path,
    codex_dir: Option<&Path>,
    state_dir: &Path,
    bypass_trust: bool,
) -> (Hooks, Vec<String>) {
    load_with(config_dir, codex_dir, &[], state_dir, bypass_trust)
}

fn load_with(
    config_dir: &Path,
    codex_dir: Option<&Path>,
    project: &[crate::config::project::ProjectHooks],
    state_dir: &Path,
    bypass_trust: bool,
) -> (Hooks, Vec<String>) {
    let mut hooks = Vec::new();
    let mut warnings = Vec::new();
    let dirs = std::iter::once((config_dir, true)).chain(codex_dir.map(|dir| (dir, false)));
    for (dir, kelps) in dirs {
        let json = dir.join("hooks.json");
        if let Some(text) = read(&json, &mut warnings) {
            match serde_json::from_str::<Value>(&text) {
                Ok(value) => entries(&value, &json, &mut hooks, &mut warnings),
                Err(e) => warnings.push(format!("{}: not JSON: {e}", json.display())),
            }
        }
        // Its other keys are the config's, read and warned about where the config is.
        let toml = match kelps {
            true => crate::config::toml_json::read(dir),
            false => crate::config::toml_json::read_codex(dir),
        };
        if let Some(events) = toml.table.get("hooks") {
            let value = serde_json::json!({ "hooks": events });
            entries(&value, &toml.path, &mut hooks, &mut warnings);
        }
    }
    for file in project {
        match serde_json::from_str::<Value>(&file.json) {
            Ok(value) => entries(&value, &file.path, &mut hooks, &mut warnings),
            Err(e) => warnings.push(format!("{}: not JSON: {e}", file.path.display())),
        }
    }
    let trusted = super::trusted_hashes(state_dir);
    let disabled = super::trust::disabled_hashes(state_dir);
    for hook in &mut hooks {
        hook.trusted = trusted.contains(&hook.hash());
        hook.enabled = !disabled.contains(&hook.hash());
    }
    (Hooks::new(hooks, bypass_trust), warnings)
}

/// The file's text; `None` when it is not there (said when it cannot be read).
fn read(path: &Path, warnings: &mut Vec<String>) -> Option<String> {
    match crate::private_file::read_regular(path, MAX_BYTES) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            warnings.push(format!("{}: cannot be read: {e}", path.display()));
            None
        }
    }
}

/// The hooks of one file's `{"hooks": {EVENT: [{matcher, hooks: [...]}]}}`.
fn entries(value: &Value, source: &Path, hooks: &mut Vec<Hook>, warnings: &mut Vec<String>) {
    let at = |what: &str| format!("{}: {what}", source.display());
    let Some(events) = value.get("hooks").and_then(Value::as_object) else {
        warnings.push(at("no \"hooks\" object of events"));
        return;
    };
    for (name, groups) in events {
        // Codex's own record of its hooks' trust, by its keys: not a hook.
        if name == "state" {
            continue;
        }
        let Some(event) = HookEvent::named(name) else {
            warnings.push(at(&format!("{name} is no event a hook runs at")));
            continue;
        };
        for group in groups.as_array().into_iter().flatten() {
            let matcher = group
                .get("matcher")
                .and_then(Value::as_str)
                .map(String::from);
            for handler in group
                .get("hooks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                match handler_hook(event, matcher.clone(), handler, source) {
                    Ok(hook) => hooks.push(hook),
                    Err(why) => warnings.push(at(&format!("a {name} hook {why}"))),
                }
            }
        }
    }
}

/// One `{"type": "command", "command": "…", "timeout": SECONDS}`.
fn handler_hook(
    event: HookEvent,
    matcher: Option<String>,
    handler: &Value,
    source: &Path,
) -> Result<Hook, String> {
    match handler.get("type").and_then(Value::as_str) {
        Some("command") | None => {}
        Some(other) => return Err(format!("of type {other:?} is not run: kelp runs commands")),
    }
    let command = handler
        .get("command")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|command| !command.is_empty())
        .ok_or("names no command")?;
    let timeout = match handler.get("timeout") {
        None | Some(Value::Null) => DEFAULT_TIMEOUT,
        Some(seconds) => seconds
            .as_f64()
            .filter(|seconds| *seconds > 0.0 && *seconds <= 86_400.0)
            .map(Duration::from_secs_f64)
            .ok_or("has a timeout that is not a number of seconds")?,
    };
    Ok(Hook {
        event,
        matcher,
        command: command.to_string(),
        timeout,
        source: PathBuf::from(source),
        trusted: false,
        enabled: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both files of both folders are read, kelp's first; what cannot be used is said and the
    /// rest loads; trust comes from the state folder.
    #[test]
    fn hooks_load_from_json_and_toml_of_both_folders() {
        let kelp = tempfile::tempdir().unwrap();
        let codex = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        std::fs::write(
            kelp.path().join("hooks.json"),
            r#"{"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [
                {"type": "command", "command": "./guard.sh", "timeout": 5},
                {"type": "prompt", "prompt": "x"}]}],
              "Later": [], "Stop": [{"hooks": [{"type": "command"}]}]}}"#,
        )
        .unwrap();
        std::fs::write(
            kelp.path().join("config.toml"),
            "model = \"m\"\n[[hooks.Stop]]\nhooks = [{ type = \"command\", command = \"./stop.sh\" }]\n",
        )
        .unwrap();
        std::fs::write(
            codex.path().join("hooks.json"),
            r#"{"hooks": {"UserPromptSubmit": [{"hooks": [{"type": "command", "command": "./ctx.sh"}]}]}}"#,
        )
        .unwrap();
        let (hooks, warnings) = load(kelp.path(), Some(codex.path()), state.path(), false);
        let named: Vec<_> = hooks
            .all()
            .iter()
            .map(|hook| (hook.event, hook.command.as_str(), hook.trusted))
            .collect();
        assert_eq!(
            named,
            [
                (HookEvent::PreToolUse, "./guard.sh", false),
                (HookEvent::Stop, "./stop.sh", false),
                (HookEvent::UserPromptSubmit, "./ctx.sh", false),
            ]
        );
        assert_eq!(hooks.all()[0].timeout, Duration::from_secs(5));
        assert_eq!(warnings.len(), 3, "{warnings:#?}");
        assert!(warnings.iter().any(|w| w.contains("\"prompt\" is not run")));
        assert!(warnings.iter().any(|w| w.contains("Later is no event")));
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("a Stop hook names no command"))
        );

        super::super::trust(state.path(), &[hooks.all()[1].hash()]).unwrap();
        let (hooks, _) = load(kelp.path(), Some(codex.path()), state.path(), false);
        assert_eq!(hooks.untrusted().len(), 2);
        assert!(hooks.all()[1].trusted);
    }
}
