//! `/keymap`: every action the keys can be bound to, with its keys, in a searchable picker;
//! Enter on one offers to replace its keys, add one, unbind it or give it its defaults back,
//! and the key pressed next is taken (the leader and a key, for a leader sequence). What is
//! chosen is in force at once and saved in kelp's config file as Codex keeps it
//! (`[tui.keymap.CONTEXT] ACTION`). `/keymap debug` names each key pressed and what it does,
//! for a terminal that sends something unexpected.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::App;
use super::bottom_pane::picker::{Picker, PickerItem};
use super::bottom_pane::slash::SlashCommand;
use super::bottom_pane::{Command, PickerKind};
use super::keymap::{self, Capture, Keymap, Translated};
use crate::config::Setting;
use crate::config::keymap::{ACTIONS, Action};

/// What the action menu offers, in its order; the last two only where they mean something.
const EDIT_CHOICES: [(&str, &str); 5] = [
    ("Replace the keys", "press the new key next"),
    ("Add a key", "keep its keys, and press one more"),
    ("Unbind it", "no key starts it"),
    ("Restore the default", "the keys kelp gives it"),
    ("Back", "to the list of actions"),
];

impl App {
    /// A key as the client's handlers read it, after the person's keymap (`None`: it was
    /// taken here: captured for `/keymap`, an action done, the leader, a key bound to nothing).
    pub(super) fn through_keymap(&mut self, key: KeyEvent) -> Option<KeyEvent> {
        if self.keys.capture.is_some() {
            // Only while it is on top: an approval over it takes the keys, and one closed
            // under it ends the capture.
            if self.pane.on_top(PickerKind::KeymapKey) {
                self.capture_key(key);
                return None;
            }
            if self.pane.picker_mut(PickerKind::KeymapKey).is_none() {
                self.keys.capture = None;
                self.keys.leader_seen = false;
            }
        }
        let contexts = match &self.overlay {
            Some(_) => keymap::TYPING,
            None => self.pane.key_contexts(),
        };
        if self.keys.map.leader_pressed() {
            self.status.hint = None;
        }
        match self.keys.map.translate(key, contexts) {
            Translated::Key(key) => Some(key),
            Translated::Act(action) => {
                self.act(action);
                None
            }
            Translated::Leader => {
                self.status.hint = Some("leader: press the key of the action".into());
                None
            }
            Translated::Nothing => None,
        }
    }

    /// An action with no key of its own, carried out as its slash command is.
    fn act(&mut self, action: &Action) {
        let command = match action.name {
            "copy" => SlashCommand::Copy,
            "toggle_vim_mode" => SlashCommand::Vim,
            "toggle_fast_mode" => SlashCommand::Fast,
            "toggle_raw_output" => SlashCommand::Tui,
            _ => return,
        };
        self.perform(Command::Slash(command, String::new()));
    }

    /// `/keymap` (`debug`: the key inspector).
    pub(super) fn open_keymap(&mut self, argument: &str) {
        if argument.trim() == "debug" {
            self.keys.capture = Some(Capture::Inspect);
            let title = "Keypress inspector: press a key to see what kelp receives";
            let picker =
                Picker::new(title, Vec::new(), "waiting for a key…").with_keys_hint("ctrl+c close");
            return self.pane.open_picker(PickerKind::KeymapKey, picker);
        }
        let bound = self.keys.map.bound();
        let items = ACTIONS
            .iter()
            .map(|action| {
                let keys = bound.keys_of(action);
                let shown = if keys.is_empty() {
                    "unbound".to_string()
                } else {
                    keys.join(", ")
                };
                let yours = if bound.custom(action).is_some() {
                    " *"
                } else {
                    ""
                };
                PickerItem {
                    label: format!("{:<9}{}", action.context, action.title),
                    detail: format!("{shown}{yours}"),
                    current: false,
                }
            })
            .collect();
        // The actions the person bound are marked `*`; the title keeps to one row of 80.
        let title = match &bound.leader {
            Some(key) => format!("Keymap · leader {key}"),
            None => "Keymap".to_string(),
        };
        let picker = Picker::new(&title, items, "").searchable();
        self.pane.open_picker(PickerKind::Keymap, picker);
    }

    /// A row of `/keymap`'s pickers chosen.
    pub(super) fn keymap_picked(&mut self, kind: PickerKind, index: usize) {
        match kind {
            PickerKind::Keymap => self.offer_changes(index),
            PickerKind::KeymapEdit => self.change_chosen(index),
            _ => {}
        }
    }

    fn offer_changes(&mut self, index: usize) {
        let Some(action) = ACTIONS.get(index) else {
            return;
        };
        self.keys.editing = Some(index);
        let custom = self.keys.map.bound().custom(action).is_some();
        let items = EDIT_CHOICES
            .iter()
            .enumerate()
            .filter(|(at, _)| *at != 3 || custom)
            .map(|(_, (label, detail))| PickerItem {
                label: label.to_string(),
                detail: detail.to_string(),
                current: false,
            })
            .collect();
        let keys = self.keys.map.bound().keys_of(action).join(", ");
        let title = format!(
            "{}: {}",
            action.title,
            if keys.is_empty() { "unbound" } else { &keys }
        );
        self.pane
            .open_picker(PickerKind::KeymapEdit, Picker::new(&title, items, ""));
    }

    fn change_chosen(&mut self, index: usize) {
        let Some(action) = self.keys.editing.and_then(|at| ACTIONS.get(at)) else {
            return;
        };
        let custom = self.keys.map.bound().custom(action).is_some();
        // Without a key of the person's, "Restore the default" is not offered.
        let choice = if index >= 3 && !custom {
            index + 1
        } else {
            index
        };
        match choice {
            0 | 1 => {
                self.keys.capture = Some(if choice == 0 {
                    Capture::Replace
                } else {
                    Capture::Add
                });
                let title = format!("{}: press the new key now", action.title);
                let picker = Picker::new(&title, Vec::new(), "waiting for a key…")
                    .with_keys_hint("esc cancel");
                self.pane.open_picker(PickerKind::KeymapKey, picker);
            }
            2 => self.bind(action, Some(Vec::new())),
            3 => self.bind(action, None),
            _ => self.open_keymap(""),
        }
    }

    /// The key pressed while `/keymap` waits for one.
    fn capture_key(&mut self, key: KeyEvent) {
        let Some(capture) = self.keys.capture else {
            return;
        };
        let spec = keymap::spec_of(key);
        if capture == Capture::Inspect {
            if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
                self.keys.capture = None;
                self.pane.close_picker(PickerKind::KeymapKey);
                return;
            }
            return self.inspect(key, spec);
        }
        if key.code == KeyCode::Esc && !self.keys.leader_seen {
            self.keys.capture = None;
            self.pane.close_picker(PickerKind::KeymapKey);
            return self.notice("The keymap is unchanged.");
        }
        let Some(spec) = spec else {
            return self.notice("kelp cannot name that key: press another");
        };
        if spec == "ctrl-c" {
            return self.notice("ctrl-c stays kelp's (it stops a turn and quits): press another");
        }
        if !self.keys.leader_seen && self.keys.map.bound().leader.as_deref() == Some(&spec) {
            self.keys.leader_seen = true;
            if let Some(picker) = self.pane.picker_mut(PickerKind::KeymapKey) {
                picker.set_title("leader: now the key that follows it");
            }
            return;
        }
        let spec = match std::mem::take(&mut self.keys.leader_seen) {
            true => format!("leader {spec}"),
            false => spec,
        };
        self.keys.capture = None;
        self.pane.close_picker(PickerKind::KeymapKey);
        let Some(action) = self.keys.editing.and_then(|at| ACTIONS.get(at)) else {
            return;
        };
        let mut keys = match capture {
            Capture::Add => self.keys.map.bound().keys_of(action),
            _ => Vec::new(),
        };
        if !keys.contains(&spec) {
            keys.push(spec);
        }
        self.bind(action, Some(keys));
    }

    /// `/keymap debug`: the key pressed, named, and what it does here.
    fn inspect(&mut self, key: KeyEvent, spec: Option<String>) {
        let Some(spec) = spec else {
            return self.notice(format!("Key: {:?} (kelp cannot bind it)", key.code));
        };
        let leader = self.keys.map.bound().leader.as_deref() == Some(spec.as_str());
        let does = match self.keys.map.action_of(&spec, keymap::COMPOSING) {
            _ if leader => "the leader key".to_string(),
            Some(action) => format!("{} ({}.{})", action.title, action.context, action.name),
            None => "nothing bound here".to_string(),
        };
        if let Some(picker) = self.pane.picker_mut(PickerKind::KeymapKey) {
            picker.set_title(&format!("Keypress inspector: {spec} → {does}"));
        }
    }

    /// `action` takes `keys` (`None`: its defaults) in force and in the config file.
    fn save_binding(&mut self, action: &Action, keys: Option<Vec<String>>) {
        self.keys.map.rebind(action, keys.clone());
        if let Some(dir) = self.status.config_file.parent().map(|d| d.to_path_buf()) {
            let setting = Setting::KeyBinding {
                context: action.context.to_string(),
                action: action.name.to_string(),
                keys,
            };
            self.status.chosen.save(&dir, setting);
        }
    }

    /// `action` takes `keys` (`None`: its defaults) from now on, and the config keeps it.
    fn bind(&mut self, action: &Action, keys: Option<Vec<String>>) {
        let defaults: Vec<String> = action.defaults.iter().map(|k| k.to_string()).collect();
        let keys = keys.filter(|keys| *keys != defaults);
        let shown = match keys.as_deref() {
            None => format!("its defaults ({})", defaults.join(", ")),
            Some([]) => "unbound".to_string(),
            Some(keys) => keys.join(", "),
        };
        // Another action where this one's keys go that had one of them loses it to this one:
        // taken out of its own keys when the person gave them, else beneath this binding.
        let bound = self.keys.map.bound().clone();
        let others: Vec<&Action> = ACTIONS
            .iter()
            .filter(|other| *other != action && overlap(action.context, other.context))
            .filter(|other| {
                let theirs = bound.keys_of(other);
                keys.iter().flatten().any(|key| theirs.contains(key))
            })
            .collect();
        for other in &others {
            if let Some(theirs) = bound.custom(other) {
                let left: Vec<String> = theirs
                    .iter()
                    .filter(|key| !keys.iter().flatten().any(|taken| taken == *key))
                    .cloned()
                    .collect();
                self.save_binding(other, Some(left));
            }
        }
        let taken: Vec<&str> = others.iter().map(|other| other.title).collect();
        self.save_binding(action, keys);
        let mut said = format!(
            "{} ({}.{}): {shown}.",
            action.title, action.context, action.name
        );
        if !taken.is_empty() {
            said.push_str(&format!(" It is no longer {}'s.", taken.join("'s or ")));
        }
        self.notice(said);
    }
}

/// Whether keys that go to context `a` can go to `b` too: the global actions' go everywhere,
/// and the composer's contexts take keys together.
fn overlap(a: &str, b: &str) -> bool {
    a == b
        || a == "global"
        || b == "global"
        || (keymap::COMPOSING.contains(&a) && keymap::COMPOSING.contains(&b))
}

impl App {
    /// `/help`: the commands and keys, then the keys the person bound.
    pub(super) fn help_text(&self) -> String {
        super::help::text() + &bound_lines(&self.keys.map)
    }
}

/// `/help`'s lines for the keys the person bound: none when the keymap is kelp's own.
fn bound_lines(keymap: &Keymap) -> String {
    let bound = keymap.bound();
    let mut out = String::new();
    if bound.bindings.is_empty() && bound.leader.is_none() {
        return out;
    }
    out.push_str("\nYour keymap (/keymap changes it)\n");
    if let Some(leader) = &bound.leader {
        out.push_str(&format!("  leader            {leader}\n"));
    }
    for action in ACTIONS {
        if let Some(keys) = bound.custom(action) {
            let keys = if keys.is_empty() {
                "unbound".to_string()
            } else {
                keys.join(", ")
            };
            out.push_str(&format!("  {:<17} {}\n", keys, action.title));
        }
    }
    out
}
