//! `/help`: the commands and the keys.

/// The text `/help` shows.
pub const HELP: &str = "Commands
  /connect    sign in (ChatGPT or an API key)
  /model      choose the model
  /approval   choose what may run without asking
  /new        start a new conversation
  /resume     continue a saved conversation of this project
  /status     login, model, tokens, limits and AGENTS.md files
  /copy       copy the last answer as Markdown (/copy code: its last code block)
  /logout     remove the login
  /quit       leave kelp
Keys
  enter                send; while an answer streams, queue it (sent when it ends)
  ctrl+j, alt+enter    new line (shift+enter too, where the terminal tells it apart)
  ↑ ↓                  earlier prompts; ↑ takes a queued prompt back to edit
  ctrl+a/e/w/u/k       line start, end, delete word, to start, to end
  alt+b/f              word back, forward
  esc, ctrl+c          stop the answer (queued prompts come back to the composer)
  ctrl+c ctrl+c, ctrl+d  quit
  ctrl+z               suspend to the shell (fg comes back)
  ctrl+o               show or hide details (reasoning, tool output)
  pgup/pgdn, home/end, mouse wheel   scroll
  the mouse selects text as usual (mouse = true in config.toml captures it instead)";
