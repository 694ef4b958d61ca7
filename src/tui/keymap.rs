//! The keys the person bound (`[tui.keymap]`, `/keymap`), read before the client's own
//! handling: a key bound to an action reaches the handlers as that action's first default key,
//! so every handler keeps its one reading of the keys. A default key its action was moved off
//! does nothing any more, unless other parts of the client read it too (Enter, Esc, the
//! arrows: those keep their other meanings). An action with no default key (Copy, Vim mode)
//! is carried out as its slash command is. With nothing bound, keys pass untouched.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::config::keymap::{ACTIONS, Action, Keymap as Bound};

/// Keys other parts of the client read besides the action they are a default of.
const SHARED: [&str; 12] = [
    "enter",
    "esc",
    "tab",
    "up",
    "down",
    "left",
    "right",
    "backspace",
    "home",
    "end",
    "page-up",
    "page-down",
];

/// Where the keys go now, as the contexts whose actions they may start, most particular last.
pub const COMPOSING: &[&str] = &["global", "chat", "composer", "editor", "pager"];
pub const IN_LIST: &[&str] = &["global", "list"];
pub const APPROVING: &[&str] = &["global", "approval"];
pub const TYPING: &[&str] = &["global"];

/// What a key press becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Translated {
    /// Handled as this key (the one pressed, or the default key of the action it is bound to).
    Key(KeyEvent),
    /// The action, which has no default key, is carried out.
    Act(&'static Action),
    /// The leader key: the next key completes the binding.
    Leader,
    /// Nothing: a default key moved elsewhere, or a leader sequence bound to nothing.
    Nothing,
}

/// The keymap in force, and where `/keymap` is in changing it.
#[derive(Debug, Default)]
pub struct Keys {
    pub(super) map: Keymap,
    /// The action `/keymap` is changing, by its index in [`ACTIONS`].
    pub(super) editing: Option<usize>,
    /// What the next key press is taken for.
    pub(super) capture: Option<Capture>,
    /// While capturing: the leader was pressed, the next key completes the sequence.
    pub(super) leader_seen: bool,
}

impl Keys {
    pub(super) fn new(map: Keymap) -> Self {
        Self {
            map,
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// The key replaces the action's keys.
    Replace,
    /// The key is added to them.
    Add,
    /// `/keymap debug`: each key is named, until Ctrl+C.
    Inspect,
}

/// The person's keymap in force.
#[derive(Debug, Default)]
pub struct Keymap {
    bound: Bound,
    leader_pressed: bool,
}

impl Keymap {
    pub fn new(bound: Bound) -> Self {
        Self {
            bound,
            leader_pressed: false,
        }
    }

    /// The bindings in force, the file's and those `/keymap` made since.
    pub fn bound(&self) -> &Bound {
        &self.bound
    }

    /// `action` takes `keys` from now on (`None`: its defaults again).
    pub fn rebind(&mut self, action: &Action, keys: Option<Vec<String>>) {
        let at = (action.context.to_string(), action.name.to_string());
        match keys {
            Some(keys) => self.bound.bindings.insert(at, keys),
            None => self.bound.bindings.remove(&at),
        };
    }

    /// The action `spec` starts where keys go to `contexts`: one the person bound it to
    /// first, else the one it is a default of.
    pub fn action_of(&self, spec: &str, contexts: &[&str]) -> Option<&'static Action> {
        let here = || ACTIONS.iter().filter(|a| contexts.contains(&a.context));
        here()
            .find(|a| self.bound.custom(a).is_some_and(|keys| has(keys, spec)))
            .or_else(|| {
                here().find(|a| self.bound.custom(a).is_none() && a.defaults.contains(&spec))
            })
    }

    /// `key`, pressed where keys go to `contexts`, as the client's handlers are to read it.
    pub fn translate(&mut self, key: KeyEvent, contexts: &[&str]) -> Translated {
        if self.bound.bindings.is_empty() && self.bound.leader.is_none() {
            return Translated::Key(key);
        }
        let Some(spec) = spec_of(key) else {
            return Translated::Key(key);
        };
        // Ctrl+C stays kelp's: it stops a turn and quits, whatever a file binds.
        if spec == "ctrl-c" {
            self.leader_pressed = false;
            return Translated::Key(key);
        }
        if std::mem::take(&mut self.leader_pressed) {
            let sequence = format!("leader {spec}");
            return match self.action_of(&sequence, contexts) {
                Some(action) => target(action, key),
                None => Translated::Nothing,
            };
        }
        if self.bound.leader.as_deref() == Some(spec.as_str()) {
            self.leader_pressed = true;
            return Translated::Leader;
        }
        if let Some(action) = self.action_of(&spec, contexts) {
            return target(action, key);
        }
        let moved_off = ACTIONS.iter().any(|a| {
            contexts.contains(&a.context)
                && a.defaults.contains(&spec.as_str())
                && self.bound.custom(a).is_some()
        });
        if moved_off && !SHARED.contains(&spec.as_str()) {
            return Translated::Nothing;
        }
        Translated::Key(key)
    }

    /// Whether the leader was pressed and the next key completes it.
    pub fn leader_pressed(&self) -> bool {
        self.leader_pressed
    }
}

fn has(keys: &[String], spec: &str) -> bool {
    keys.iter().any(|key| key == spec)
}

/// What `action` does for `pressed`: its first default key, or the action itself.
fn target(action: &'static Action, pressed: KeyEvent) -> Translated {
    match action.defaults.first().and_then(|spec| parse(spec)) {
        Some(key) if spec_of(key) == spec_of(pressed) => Translated::Key(pressed),
        Some(key) => Translated::Key(key),
        None => Translated::Act(action),
    }
}

/// A key press as the keymap writes it (`ctrl-alt-shift-KEY`); `None` for one it cannot name.
pub fn spec_of(key: KeyEvent) -> Option<String> {
    let mut shift = key.modifiers.contains(KeyModifiers::SHIFT);
    let name = match key.code {
        KeyCode::Char(' ') => "space".to_string(),
        KeyCode::Char('-') => "minus".to_string(),
        KeyCode::Char(c) if c.is_ascii_uppercase() => {
            shift = true;
            c.to_ascii_lowercase().to_string()
        }
        KeyCode::Char(c) if c.is_ascii_graphic() => {
            // A shifted symbol is its own character (`?`, not `shift-/`).
            shift &= c.is_ascii_alphabetic();
            c.to_string()
        }
        KeyCode::BackTab => {
            shift = true;
            "tab".to_string()
        }
        KeyCode::F(n) => format!("f{n}"),
        code => named(code)?.to_string(),
    };
    let mut spec = String::new();
    for (on, prefix) in [
        (key.modifiers.contains(KeyModifiers::CONTROL), "ctrl-"),
        (key.modifiers.contains(KeyModifiers::ALT), "alt-"),
        (shift, "shift-"),
    ] {
        if on {
            spec.push_str(prefix);
        }
    }
    spec.push_str(&name);
    Some(spec)
}

/// The key event a canonical spec names (the leader's second key for `leader KEY`).
pub fn parse(spec: &str) -> Option<KeyEvent> {
    let spec = spec.strip_prefix("leader ").unwrap_or(spec);
    let mut modifiers = KeyModifiers::NONE;
    let mut rest = spec;
    for (prefix, modifier) in [
        ("ctrl-", KeyModifiers::CONTROL),
        ("alt-", KeyModifiers::ALT),
        ("shift-", KeyModifiers::SHIFT),
    ] {
        if let Some(after) = rest.strip_prefix(prefix).filter(|after| !after.is_empty()) {
            modifiers |= modifier;
            rest = after;
        }
    }
    let code = match rest {
        "space" => KeyCode::Char(' '),
        "minus" => KeyCode::Char('-'),
        "tab" if modifiers.contains(KeyModifiers::SHIFT) => {
            modifiers.remove(KeyModifiers::SHIFT);
            KeyCode::BackTab
        }
        f if f.len() > 1 && f.starts_with('f') => KeyCode::F(f[1..].parse().ok()?),
        one if one.chars().count() == 1 => {
            let c = one.chars().next()?;
            if modifiers.contains(KeyModifiers::SHIFT) && c.is_ascii_alphabetic() {
                KeyCode::Char(c.to_ascii_uppercase())
            } else {
                KeyCode::Char(c)
            }
        }
        name => NAMED.iter().find(|(_, n)| *n == name)?.0,
    };
    Some(KeyEvent::new(code, modifiers))
}

const NAMED: [(KeyCode, &str); 14] = [
    (KeyCode::Enter, "enter"),
    (KeyCode::Tab, "tab"),
    (KeyCode::Backspace, "backspace"),
    (KeyCode::Esc, "esc"),
    (KeyCode::Delete, "delete"),
    (KeyCode::Insert, "insert"),
    (KeyCode::Up, "up"),
    (KeyCode::Down, "down"),
    (KeyCode::Left, "left"),
    (KeyCode::Right, "right"),
    (KeyCode::Home, "home"),
    (KeyCode::End, "end"),
    (KeyCode::PageUp, "page-up"),
    (KeyCode::PageDown, "page-down"),
];

fn named(code: KeyCode) -> Option<&'static str> {
    NAMED
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    fn bound(text: &str) -> Keymap {
        let doc: toml_edit::DocumentMut = text.parse().unwrap();
        let mut said = Vec::new();
        let bound = Bound::read(&doc["keymap"], &mut |why| said.push(why.to_string()));
        assert!(said.is_empty(), "{said:?}");
        Keymap::new(bound)
    }

    #[test]
    fn every_default_key_reads_back_as_itself() {
        for action in ACTIONS {
            for spec in action.defaults {
                let event = parse(spec).unwrap_or_else(|| panic!("{spec}"));
                assert_eq!(spec_of(event).as_deref(), Some(*spec));
            }
        }
        let typed = key(KeyCode::Char('A'), KeyModifiers::SHIFT);
        assert_eq!(spec_of(typed).as_deref(), Some("shift-a"));
        let question = key(KeyCode::Char('?'), KeyModifiers::SHIFT);
        assert_eq!(spec_of(question).as_deref(), Some("?"));
    }

    #[test]
    fn a_bound_key_becomes_the_action_and_the_default_it_left_does_nothing() {
        let mut keymap = bound("[keymap.global]\nopen_external_editor = \"ctrl-e\"\n");
        let ctrl = |c| key(KeyCode::Char(c), KeyModifiers::CONTROL);
        assert_eq!(
            keymap.translate(ctrl('e'), COMPOSING),
            Translated::Key(ctrl('g'))
        );
        assert_eq!(keymap.translate(ctrl('g'), COMPOSING), Translated::Nothing);
        // Elsewhere ctrl-e is still the line's end, where the editor's keys do not go.
        assert_eq!(
            keymap.translate(ctrl('a'), COMPOSING),
            Translated::Key(ctrl('a'))
        );
    }

    #[test]
    fn swapped_keys_each_do_the_other() {
        let mut keymap = bound(
            "[keymap.composer]\nsubmit = \"ctrl-j\"\n[keymap.editor]\ninsert_newline = \"enter\"\n",
        );
        let enter = key(KeyCode::Enter, KeyModifiers::NONE);
        let ctrl_j = key(KeyCode::Char('j'), KeyModifiers::CONTROL);
        assert_eq!(keymap.translate(enter, COMPOSING), Translated::Key(ctrl_j));
        assert_eq!(keymap.translate(ctrl_j, COMPOSING), Translated::Key(enter));
        // In a list Enter still chooses.
        assert_eq!(keymap.translate(enter, IN_LIST), Translated::Key(enter));
    }

    #[test]
    fn the_leader_then_a_key_starts_its_action_and_an_unbound_one_nothing() {
        let mut keymap = bound(
            "[keymap]\nleader = \"ctrl-x\"\n[keymap.global]\ntoggle_vim_mode = \"leader v\"\n",
        );
        let ctrl_x = key(KeyCode::Char('x'), KeyModifiers::CONTROL);
        let v = key(KeyCode::Char('v'), KeyModifiers::NONE);
        assert_eq!(
            keymap.translate(v, COMPOSING),
            Translated::Key(v),
            "v alone types v"
        );
        assert_eq!(keymap.translate(ctrl_x, COMPOSING), Translated::Leader);
        match keymap.translate(v, COMPOSING) {
            Translated::Act(action) => assert_eq!(action.name, "toggle_vim_mode"),
            other => panic!("{other:?}"),
        }
        assert_eq!(keymap.translate(ctrl_x, COMPOSING), Translated::Leader);
        let w = key(KeyCode::Char('w'), KeyModifiers::NONE);
        assert_eq!(keymap.translate(w, COMPOSING), Translated::Nothing);
        assert_eq!(keymap.translate(w, COMPOSING), Translated::Key(w));
    }

    #[test]
    fn a_shared_key_moved_off_its_action_keeps_its_other_meanings() {
        let mut keymap = bound("[keymap.chat]\ninterrupt_turn = \"ctrl-q\"\n");
        let esc = key(KeyCode::Esc, KeyModifiers::NONE);
        assert_eq!(keymap.translate(esc, COMPOSING), Translated::Key(esc));
        let ctrl_q = key(KeyCode::Char('q'), KeyModifiers::CONTROL);
        assert_eq!(keymap.translate(ctrl_q, COMPOSING), Translated::Key(esc));
    }
}
