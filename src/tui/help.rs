//! `/help`: the commands and the keys, each on one row of an 80-column window.

/// The text `/help` shows.
pub const HELP: &str = "Commands
  /connect    sign in (ChatGPT or an API key)
  /model      choose the model
  /approval   choose what may run without asking
  /new        start a new conversation
  /resume     continue a saved conversation of this project
  /status     login, model, tokens, limits and AGENTS.md files
  /diff       what changed: git diff HEAD, or this conversation's patches
  /init       have the model write an AGENTS.md for this project
  /compact    free the context window with a summary (/compact FOCUS)
  /copy       copy the last answer (/copy code: its last code block)
  /logout     remove the login
  /quit       leave kelp
Keys
  enter             send; while an answer streams, queue it for after
  ctrl+j, alt+enter new line (shift+enter where the terminal tells it)
  ↑ ↓               earlier prompts; ↑ takes a queued prompt back
  ctrl+r            search earlier prompts, past sessions here too
  ctrl+a/e/w/u/k    line start, end, delete word, to start, to end
  alt+b/f           word back, forward
  esc, ctrl+c       stop the answer (queued prompts come back)
  ctrl+c twice, ctrl+d   quit
  ctrl+z            suspend to the shell (fg comes back)
  ctrl+o            show or hide details (reasoning, tool output)
  pgup/pgdn, home/end, wheel   scroll
  The mouse selects text; mouse = true in config.toml captures it instead.";

#[cfg(test)]
mod tests {
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn every_row_fits_an_80_column_window() {
        for line in super::HELP.lines() {
            assert!(line.width() <= 74, "{line:?} is {} wide", line.width());
        }
    }
}
