//! Codex's `[tui.keymap]`: the client's actions bound to keys by context, read the same in
//! kelp's file and in Codex's. Each action takes one key (`"ctrl-x"`), several
//! (`["ctrl-x", "f5"]`) or none (`[]`: unbound); keys are written as Codex writes them
//! (`ctrl-alt-shift-KEY`, KEY a character, `f1`…`f24`, `enter`, `tab`, `backspace`, `esc`,
//! `delete`, the arrows, `home`, `end`, `page-up`, `page-down`, `space`, `minus`), and
//! spellings Codex accepts (`escape`, `control-`, `pgup`) are read as it reads them.
//!
//! kelp adds a leader key (`[tui.keymap] leader = "ctrl-x"`): a binding `"leader t"` is the
//! leader, then `t`. Codex's actions kelp has no counterpart for (its transcript overlay, its
//! Vim remapping) are read and left alone; a name neither knows is said.

use std::collections::BTreeMap;

use toml_edit::Item;

/// One action a key can be bound to: its context and name as the file spells them, what
/// `/keymap` calls it, and its keys when the file binds none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    pub context: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    pub defaults: &'static [&'static str],
}

const fn action(
    context: &'static str,
    name: &'static str,
    title: &'static str,
    defaults: &'static [&'static str],
) -> Action {
    Action {
        context,
        name,
        title,
        defaults,
    }
}

/// Every action kelp binds, by context, in the order `/keymap` lists them. Codex's names
/// where Codex has the action; kelp's own are marked in [`KELP_ONLY`].
pub const ACTIONS: &[Action] = &[
    action(
        "global",
        "open_external_editor",
        "Open External Editor",
        &["ctrl-g"],
    ),
    action("global", "copy", "Copy the Last Answer", &[]),
    action("global", "toggle_vim_mode", "Toggle Vim Mode", &[]),
    action("global", "toggle_fast_mode", "Toggle Fast Mode", &[]),
    action("global", "toggle_raw_output", "Toggle Scrollback Mode", &[]),
    action(
        "global",
        "toggle_details",
        "Show or Hide Details",
        &["ctrl-o"],
    ),
    action(
        "global",
        "open_agents",
        "Open the Command Center",
        &["alt-a"],
    ),
    action("global", "show_warnings", "Show Warnings", &["f2"]),
    action("global", "suspend", "Suspend to the Shell", &["ctrl-z"]),
    action("global", "quit", "Quit", &["ctrl-d"]),
    action("chat", "interrupt_turn", "Interrupt Turn", &["esc"]),
    action(
        "chat",
        "decrease_reasoning_effort",
        "Less Reasoning",
        &["alt-,"],
    ),
    action(
        "chat",
        "increase_reasoning_effort",
        "More Reasoning",
        &["alt-."],
    ),
    action("chat", "cycle_mode", "Plan Mode and Back", &["shift-tab"]),
    action("chat", "paste_image", "Paste an Image", &["ctrl-v"]),
    action("composer", "submit", "Submit", &["enter"]),
    action("composer", "queue", "Queue While a Turn Runs", &["tab"]),
    action(
        "composer",
        "history_search_previous",
        "Search Earlier Prompts",
        &["ctrl-r"],
    ),
    action(
        "editor",
        "insert_newline",
        "Insert Newline",
        &["ctrl-j", "shift-enter", "alt-enter"],
    ),
    action("editor", "move_left", "Move Left", &["left", "ctrl-b"]),
    action("editor", "move_right", "Move Right", &["right", "ctrl-f"]),
    action("editor", "move_up", "Move Up or Earlier Prompt", &["up"]),
    action(
        "editor",
        "move_down",
        "Move Down or Later Prompt",
        &["down"],
    ),
    action(
        "editor",
        "move_word_left",
        "Move Word Left",
        &["alt-b", "ctrl-left", "alt-left"],
    ),
    action(
        "editor",
        "move_word_right",
        "Move Word Right",
        &["alt-f", "ctrl-right", "alt-right"],
    ),
    action(
        "editor",
        "move_line_start",
        "Move to Line Start",
        &["ctrl-a"],
    ),
    action("editor", "move_line_end", "Move to Line End", &["ctrl-e"]),
    action(
        "editor",
        "delete_backward",
        "Delete Backward",
        &["backspace", "ctrl-h"],
    ),
    action("editor", "delete_forward", "Delete Forward", &["delete"]),
    action(
        "editor",
        "delete_backward_word",
        "Delete Word Backward",
        &["ctrl-w", "alt-backspace", "ctrl-backspace"],
    ),
    action(
        "editor",
        "delete_forward_word",
        "Delete Word Forward",
        &["alt-d"],
    ),
    action(
        "editor",
        "kill_line_start",
        "Delete to Line Start",
        &["ctrl-u"],
    ),
    action("editor", "kill_line_end", "Delete to Line End", &["ctrl-k"]),
    action("pager", "page_up", "Scroll Up a Page", &["page-up"]),
    action("pager", "page_down", "Scroll Down a Page", &["page-down"]),
    action("pager", "jump_top", "Scroll to the Top", &["home"]),
    action("pager", "jump_bottom", "Scroll to the Bottom", &["end"]),
    action("list", "move_up", "Move Up", &["up"]),
    action("list", "move_down", "Move Down", &["down"]),
    action("list", "accept", "Choose", &["enter"]),
    action("list", "cancel", "Close", &["esc"]),
    action("approval", "approve", "Approve", &["y"]),
    action(
        "approval",
        "approve_for_session",
        "Approve for the Session",
        &["a"],
    ),
    action(
        "approval",
        "approve_for_prefix",
        "Approve the Command's Prefix",
        &["p"],
    ),
    action("approval", "deny", "Deny", &["esc"]),
    action("approval", "decline", "Decline and Say Why", &["n"]),
];

/// kelp's actions Codex's keymap does not have: a file Codex also reads should keep them in
/// kelp's own config.
pub const KELP_ONLY: [&str; 7] = [
    "toggle_details",
    "open_agents",
    "show_warnings",
    "suspend",
    "quit",
    "cycle_mode",
    "paste_image",
];

/// Codex 0.171's actions kelp has none of, by context: read quietly.
const CODEX_ELSEWHERE: &[(&str, &[&str])] = &[
    (
        "global",
        &[
            "open_transcript",
            "clear_terminal",
            "submit",
            "queue",
            "toggle_shortcuts",
            "toggle_side_conversation",
        ],
    ),
    ("chat", &["edit_queued_message"]),
    ("composer", &["toggle_shortcuts", "history_search_next"]),
    ("editor", &["kill_whole_line", "yank"]),
    (
        "pager",
        &[
            "scroll_up",
            "scroll_down",
            "half_page_up",
            "half_page_down",
            "close",
            "close_transcript",
        ],
    ),
    (
        "list",
        &[
            "move_left",
            "move_right",
            "page_up",
            "page_down",
            "jump_top",
            "jump_bottom",
        ],
    ),
    ("approval", &["open_fullscreen", "open_thread", "cancel"]),
    ("vim_normal", &[]),
    ("vim_operator", &[]),
    ("vim_text_object", &[]),
];

/// The keymap a file sets: the leader key, and each action it binds (by context and name) to
/// its keys, normalized; an empty list unbinds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keymap {
    pub leader: Option<String>,
    pub bindings: BTreeMap<(String, String), Vec<String>>,
}

impl Keymap {
    /// This file's keymap over one read below: each action it binds wins, as the leader does.
    pub fn over(mut self, lower: Self) -> Self {
        for (action, keys) in lower.bindings {
            self.bindings.entry(action).or_insert(keys);
        }
        Self {
            leader: self.leader.or(lower.leader),
            bindings: self.bindings,
        }
    }

    /// The keys `action` has: the file's, else its defaults.
    pub fn keys_of(&self, action: &Action) -> Vec<String> {
        match self.custom(action) {
            Some(keys) => keys.to_vec(),
            None => action.defaults.iter().map(|key| key.to_string()).collect(),
        }
    }

    /// The keys the file gives `action`, when it gives any (an empty list included).
    pub fn custom(&self, action: &Action) -> Option<&[String]> {
        self.bindings
            .get(&(action.context.to_string(), action.name.to_string()))
            .map(Vec::as_slice)
    }

    /// Reads `[tui.keymap]`; what is not usable is said in `bad`, and the rest kept.
    pub fn read(item: &Item, bad: &mut dyn FnMut(&str)) -> Self {
        let mut keymap = Self::default();
        let Some(table) = item.as_table_like() else {
            bad("[tui.keymap] must be a table of contexts: [tui.keymap.global]");
            return keymap;
        };
        for (context, actions) in table.iter() {
            if context == "leader" {
                match actions.as_str().map(normalize) {
                    Some(Ok(key)) if key == "ctrl-c" => bad(CTRL_C),
                    Some(Ok(key)) if !key.starts_with("leader") => keymap.leader = Some(key),
                    Some(Err(why)) => bad(&format!("[tui.keymap] leader: {why}")),
                    _ => bad("[tui.keymap] leader must be one key in quotes: \"ctrl-x\""),
                }
                continue;
            }
            let Some(actions) = actions.as_table_like() else {
                bad(&format!(
                    "[tui.keymap] {context} must be a table of actions"
                ));
                continue;
            };
            for (name, keys) in actions.iter() {
                match binding(context, name, keys) {
                    Ok(Some(keys)) => {
                        keymap
                            .bindings
                            .insert((context.to_string(), name.to_string()), keys);
                    }
                    Ok(None) => {}
                    Err(why) => bad(&format!("[tui.keymap.{context}] {name}: {why}")),
                }
            }
        }
        keymap
    }
}

/// The keys `context.name` is bound to; `None` for one of Codex's kelp has no counterpart for.
fn binding(context: &str, name: &str, keys: &Item) -> Result<Option<Vec<String>>, String> {
    let known = ACTIONS
        .iter()
        .any(|action| action.context == context && action.name == name);
    if !known {
        return match CODEX_ELSEWHERE.iter().find(|(c, _)| *c == context) {
            Some((c, names)) if c.starts_with("vim_") || names.contains(&name) => Ok(None),
            Some(_) => Err("no such action (/keymap lists them)".into()),
            None => Err(
                "no such context: global, chat, composer, editor, pager, list or approval".into(),
            ),
        };
    }
    let specs: Vec<&str> = match (keys.as_str(), keys.as_array()) {
        (Some(one), _) => vec![one],
        (_, Some(many)) => many
            .iter()
            .map(|key| key.as_str().ok_or("each key must be in quotes"))
            .collect::<Result<_, _>>()?,
        _ => return Err("must be a key in quotes or a list of them".into()),
    };
    let keys: Vec<String> = specs.into_iter().map(normalize).collect::<Result<_, _>>()?;
    if keys
        .iter()
        .any(|key| key == "ctrl-c" || key == "leader ctrl-c")
    {
        return Err(CTRL_C.into());
    }
    Ok(Some(keys))
}

/// Why a binding of Ctrl+C is refused.
const CTRL_C: &str = "ctrl-c stays kelp's (it stops a turn and quits): bind another key";

/// The key written in `raw` as Codex writes it (`ctrl-alt-shift-KEY`), or kelp's leader
/// sequence (`leader KEY`).
pub fn normalize(raw: &str) -> Result<String, String> {
    let lower = raw.trim().to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("leader ") {
        return Ok(format!("leader {}", one_key(rest.trim(), raw)?));
    }
    one_key(&lower, raw)
}

/// One key press, canonical.
fn one_key(lower: &str, raw: &str) -> Result<String, String> {
    if lower.is_empty() {
        return Err("a key cannot be empty: write one such as \"ctrl-a\"".into());
    }
    // A lone `-` is the minus key; otherwise `-` joins the modifiers to the key.
    let segments: Vec<&str> = if lower == "-" {
        vec!["minus"]
    } else {
        lower.split('-').filter(|s| !s.is_empty()).collect()
    };
    let mut modifiers = [false; 3];
    let mut at = 0;
    while at + 1 < segments.len() {
        let slot = match segments[at] {
            "ctrl" | "control" => 0,
            "alt" | "option" => 1,
            "shift" => 2,
            _ => break,
        };
        if std::mem::replace(&mut modifiers[slot], true) {
            return Err(format!("`{raw}` names a modifier twice"));
        }
        at += 1;
    }
    let key = key_name(&segments[at..].join("-"), raw)?;
    let mut canonical: Vec<&str> = ["ctrl", "alt", "shift"]
        .into_iter()
        .zip(modifiers)
        .filter_map(|(name, on)| on.then_some(name))
        .collect();
    canonical.push(&key);
    Ok(canonical.join("-"))
}

fn key_name(key: &str, raw: &str) -> Result<String, String> {
    let key = match key {
        "escape" => "esc",
        "return" => "enter",
        "spacebar" => "space",
        "pgup" | "pageup" => "page-up",
        "pgdn" | "pagedown" => "page-down",
        "del" => "delete",
        other => other,
    };
    let mut chars = key.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && c.is_ascii_graphic()
    {
        return Ok(key.to_string());
    }
    let named = [
        "enter",
        "tab",
        "backspace",
        "esc",
        "delete",
        "up",
        "down",
        "left",
        "right",
        "home",
        "end",
        "page-up",
        "page-down",
        "space",
        "minus",
        "insert",
    ];
    let function = key
        .strip_prefix('f')
        .and_then(|n| n.parse::<u8>().ok())
        .is_some_and(|n| (1..=24).contains(&n));
    if named.contains(&key) || function {
        return Ok(key.to_string());
    }
    Err(format!(
        "unknown key in `{raw}`: write a character, f1…f24, or one of enter, tab, backspace, \
         esc, delete, up, down, left, right, home, end, page-up, page-down, space, minus"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Keymap, Vec<String>) {
        let doc: toml_edit::DocumentMut = text.parse().unwrap();
        let mut said = Vec::new();
        let keymap = Keymap::read(&doc["keymap"], &mut |why| said.push(why.to_string()));
        (keymap, said)
    }

    #[test]
    fn keys_are_read_as_codex_spells_them() {
        assert_eq!(normalize("Control-Shift-A").unwrap(), "ctrl-shift-a");
        assert_eq!(normalize("shift-alt-ctrl-x").unwrap(), "ctrl-alt-shift-x");
        assert_eq!(normalize("escape").unwrap(), "esc");
        assert_eq!(normalize("PageUp").unwrap(), "page-up");
        assert_eq!(normalize("alt-,").unwrap(), "alt-,");
        assert_eq!(normalize("-").unwrap(), "minus");
        assert_eq!(normalize("f12").unwrap(), "f12");
        assert_eq!(normalize("leader  T").unwrap(), "leader t");
        assert!(normalize("f25").is_err());
        assert!(normalize("ctrl-ctrl-a").is_err());
        assert!(normalize("ctrl-").is_err());
        assert!(normalize("hyper-a").unwrap_err().contains("unknown key"));
    }

    #[test]
    fn a_file_binds_unbinds_and_leaves_codex_own_actions_alone() {
        let (keymap, said) = read(
            "[keymap]\nleader = \"ctrl-x\"\n[keymap.global]\nopen_external_editor = \
             [\"ctrl-e\", \"leader e\"]\nopen_transcript = \"ctrl-t\"\n[keymap.chat]\n\
             interrupt_turn = []\n[keymap.vim_normal]\nmove_left = \"h\"\n\
             [keymap.editor]\nmove_lfet = \"ctrl-b\"\n[keymap.nowhere]\nx = \"a\"\n",
        );
        assert_eq!(keymap.leader.as_deref(), Some("ctrl-x"));
        let editor = ACTIONS[0];
        assert_eq!(keymap.keys_of(&editor), ["ctrl-e", "leader e"]);
        let interrupt = ACTIONS.iter().find(|a| a.name == "interrupt_turn").unwrap();
        assert!(keymap.keys_of(interrupt).is_empty(), "unbound");
        assert_eq!(keymap.bindings.len(), 2, "Codex's own actions are not kept");
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(said[0].contains("move_lfet"), "{said:?}");
        assert!(said[1].contains("no such context"), "{said:?}");
    }

    #[test]
    fn the_upper_file_wins_action_by_action() {
        let (upper, _) = read("[keymap.global]\ncopy = \"ctrl-y\"\n");
        let (lower, _) = read(
            "[keymap]\nleader = \"ctrl-x\"\n[keymap.global]\ncopy = \"f5\"\nquit = \"ctrl-q\"\n",
        );
        let both = upper.over(lower);
        let copy = ACTIONS.iter().find(|a| a.name == "copy").unwrap();
        let quit = ACTIONS.iter().find(|a| a.name == "quit").unwrap();
        assert_eq!(both.keys_of(copy), ["ctrl-y"]);
        assert_eq!(both.keys_of(quit), ["ctrl-q"]);
        assert_eq!(both.leader.as_deref(), Some("ctrl-x"));
    }

    #[test]
    fn every_action_is_named_once_and_its_defaults_are_canonical() {
        for (at, action) in ACTIONS.iter().enumerate() {
            let twice = ACTIONS[at + 1..]
                .iter()
                .any(|other| other.context == action.context && other.name == action.name);
            assert!(!twice, "{}.{}", action.context, action.name);
            for key in action.defaults {
                assert_eq!(normalize(key).as_deref(), Ok(*key));
            }
        }
    }
}
