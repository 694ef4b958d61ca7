//! `/help`: the commands and the keys, each on one row of an 80-column window.

/// The text `/help` shows: the slash commands as the `/` popup lists them, then the keys.
pub fn text() -> String {
    let mut out = String::from("Commands\n");
    for command in crate::tui::bottom_pane::slash::ALL {
        out.push_str(&format!(
            "  /{:<10} {}\n",
            command.name(),
            command.description()
        ));
    }
    out.push_str("Codex's, not in kelp\n");
    for (name, why) in crate::tui::bottom_pane::slash::NOT_SERVED {
        out.push_str(&format!("  /{name}: {why}\n"));
    }
    out.push_str(KEYS);
    out
}

/// The keys part of `/help`.
const KEYS: &str = "Keys
  enter             send; while an answer runs, add it to its turn
  tab               while an answer runs, queue it for after
  shift+tab         plan mode and back (the model plans, changes nothing)
  ctrl+j, alt+enter new line (shift+enter where the terminal tells it)
  ↑ ↓               earlier prompts; ↑ takes a queued prompt back
  ctrl+r            search earlier prompts and what was said here
  ctrl+a/e/w/u/k    line start, end, delete word, to start, to end
  alt+b/f           word back, forward
  esc, ctrl+c       stop the answer (queued prompts come back)
  ctrl+c            clear the draft (↑ brings it back)
  ctrl+c twice, ctrl+d   quit
  ctrl+z            suspend to the shell (fg comes back)
  ctrl+g            edit the draft in $VISUAL or $EDITOR
  !command          run a command yourself, in the sandbox (esc stops it)
  ctrl+o            details (reasoning, tool output); a long paste whole
  alt+, alt+.       less or more reasoning effort
  f2                warnings and errors of this run (/warnings)
  alt+a             the command center, even while an approval waits
  alt+1..9, alt+0   this conversation, its agents; the one that asks
  pgup/pgdn, home/end, wheel   scroll
  The mouse selects text; mouse = true in config.toml captures it instead.";

#[cfg(test)]
mod tests {
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn every_row_fits_an_80_column_window() {
        let text = super::text();
        assert!(text.contains("/mcp "), "{text}");
        assert!(text.contains("/voice: "), "{text}");
        for line in text.lines() {
            assert!(line.width() <= 74, "{line:?} is {} wide", line.width());
        }
    }
}
