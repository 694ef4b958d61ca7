//! Calling the person back: the terminal title (what `title.rs` makes it: by default the
//! project and what kelp is doing) is written when it changes, and when a turn ends or an approval waits while they look
//! elsewhere, the bell rings or a desktop notification goes out (OSC 9 or OSC 777, wrapped for
//! tmux to pass on), as configured (`notifications`).
//!
//! "Elsewhere" is what the terminal's focus reports say (`focus-events on` in tmux); a terminal
//! that sends none is taken as unwatched for an approval and for a turn that worked long
//! enough to walk away from, so a waiting approval in another tmux window is never unseen.

use std::time::{Duration, Instant};

use super::terminal::{TITLE_POP, TITLE_PUSH};
use crate::config::modes::Notify;

/// A turn that worked this long is one the person may have left.
const LONG_TURN: Duration = Duration::from_secs(10);

/// What kelp is doing, as the title and a notification say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Idle,
    Working,
    Waiting,
}

/// What was said, and whether the person is looking.
#[derive(Debug)]
pub struct Attention {
    notify: Notify,
    project: String,
    /// Inside tmux: a desktop notification is wrapped for it to pass on.
    tmux: bool,
    /// The last focus report: `None` until the terminal sends one.
    focused: Option<bool>,
    shown: Option<Activity>,
    /// The title last written; `Some(None)`: the title is left alone.
    titled: Option<Option<String>>,
    /// Since when the turn works.
    working_since: Option<Instant>,
}

impl Attention {
    /// Nothing said yet, for the project shown as `project`; a `Desktop` notification is sent
    /// in the form the terminal speaks.
    pub fn new(notify: Notify, project: String, tmux: bool) -> Self {
        Self {
            notify: notify.for_terminal(|name| std::env::var(name).ok()),
            project,
            tmux,
            focused: None,
            shown: None,
            titled: None,
            working_since: None,
        }
    }

    /// A focus report from the terminal.
    pub fn focus(&mut self, focused: bool) {
        self.focused = Some(focused);
    }

    /// The bytes to write for `activity` at `now`: the window title (`title`, when it
    /// changed; `None`: left alone), and a call back when the person should come.
    pub fn update(
        &mut self,
        activity: Activity,
        title: Option<String>,
        now: Instant,
    ) -> Option<String> {
        let mut out = String::new();
        if self.titled.as_ref() != Some(&title) {
            match &title {
                Some(title) => {
                    let clean: String = title.chars().filter(|c| !c.is_control()).collect();
                    out = format!("\x1b]2;{clean}\x07");
                }
                // Left alone after kelp wrote one: the title saved at the start comes back,
                // and is saved again for the end.
                None if matches!(self.titled, Some(Some(_))) => {
                    out = format!("{TITLE_POP}{TITLE_PUSH}");
                }
                None => {}
            }
            self.titled = Some(title);
        }
        if self.shown != Some(activity) {
            self.called(activity, now, &mut out);
        }
        (!out.is_empty()).then_some(out)
    }

    /// `activity` is new: a call back added to `out` when the person should come.
    fn called(&mut self, activity: Activity, now: Instant, out: &mut String) {
        let before = self.shown.replace(activity);
        let worked = self.working_since.map(|since| now.duration_since(since));
        match activity {
            Activity::Working if before != Some(Activity::Waiting) => {
                self.working_since = Some(now)
            }
            Activity::Idle => self.working_since = None,
            _ => {}
        }
        let unwatched = match self.focused {
            Some(focused) => !focused,
            None => activity == Activity::Waiting || worked.is_some_and(|w| w >= LONG_TURN),
        };
        let call = match (before, activity) {
            (Some(Activity::Working), Activity::Idle) => Some("kelp: the answer is ready"),
            (_, Activity::Waiting) => Some("kelp: waiting for your approval"),
            _ => None,
        };
        if let Some(message) = call.filter(|_| unwatched) {
            out.push_str(&self.call_back(&format!("{message} in {}", self.project)));
        }
    }

    fn call_back(&self, message: &str) -> String {
        match self.notify {
            Notify::Off => String::new(),
            Notify::Bell => "\x07".to_string(),
            Notify::Desktop | Notify::Osc9 | Notify::Osc777 => {
                // `;` would end OSC 777's fields early.
                let clean: String = message
                    .chars()
                    .filter(|c| !c.is_control())
                    .map(|c| if c == ';' { ',' } else { c })
                    .collect();
                let osc = match self.notify {
                    Notify::Osc777 => format!("\x1b]777;notify;kelp;{clean}\x07"),
                    _ => format!("\x1b]9;{clean}\x07"),
                };
                if self.tmux {
                    // tmux passes a sequence on when wrapped so, its escapes doubled.
                    format!("\x1bPtmux;{}\x1b\\", osc.replace('\x1b', "\x1b\x1b"))
                } else {
                    osc
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::title::own_title;

    /// What `attention` writes with kelp's own title.
    fn said(attention: &mut Attention, activity: Activity, at: Instant) -> Option<String> {
        let title = own_title(&attention.project.clone(), activity);
        attention.update(activity, Some(title), at)
    }

    /// A title of the person's is written when its text changes, whatever kelp does; with
    /// none, the title is left alone (the terminal's own put back if kelp wrote one) and the
    /// call back still comes.
    #[test]
    fn a_picked_title_is_written_when_it_changes_and_none_leaves_it_alone() {
        let start = Instant::now();
        let mut picked = Attention::new(Notify::Bell, "~/p".into(), false);
        picked.focus(false);
        let first = picked.update(Activity::Working, Some("⠋ p".into()), start);
        assert_eq!(first.as_deref(), Some("\x1b]2;⠋ p\x07"));
        let spun = picked.update(Activity::Working, Some("⠙ p".into()), start);
        assert_eq!(spun.as_deref(), Some("\x1b]2;⠙ p\x07"));
        assert_eq!(
            picked.update(Activity::Working, Some("⠙ p".into()), start),
            None
        );
        // Every item unticked: the terminal's own title, saved at the start, comes back.
        let restored = picked.update(Activity::Working, None, start);
        assert_eq!(restored.as_deref(), Some("\x1b[23;0t\x1b[22;0t"));
        assert_eq!(picked.update(Activity::Working, None, start), None);
        let mut none = Attention::new(Notify::Bell, "~/p".into(), false);
        none.focus(false);
        assert_eq!(none.update(Activity::Working, None, start), None);
        let asked = none.update(Activity::Waiting, None, start);
        assert_eq!(asked.as_deref(), Some("\x07"), "the bell, no title");
    }

    #[test]
    fn the_title_follows_the_work_and_the_person_is_called_only_when_away() {
        let start = Instant::now();
        let mut watched = Attention::new(Notify::Bell, "~/p".into(), false);
        watched.focus(true);
        assert_eq!(
            said(&mut watched, Activity::Idle, start).unwrap(),
            "\x1b]2;kelp · ~/p\x07"
        );
        assert_eq!(said(&mut watched, Activity::Idle, start), None, "said once");
        let working = said(&mut watched, Activity::Working, start).unwrap();
        assert_eq!(working, "\x1b]2;working · kelp · ~/p\x07");
        let done = said(&mut watched, Activity::Idle, start + LONG_TURN).unwrap();
        assert_eq!(done, "\x1b]2;kelp · ~/p\x07", "no bell while watched");

        let mut away = Attention::new(Notify::Bell, "~/p".into(), false);
        away.focus(false);
        said(&mut away, Activity::Working, start);
        let asking = said(&mut away, Activity::Waiting, start).unwrap();
        assert!(
            asking.ends_with("\x07\x07"),
            "title, then the bell: {asking:?}"
        );

        // No focus reports: a short turn is watched, a long one or an approval is not.
        let mut unknown = Attention::new(Notify::Osc9, "~/p".into(), true);
        said(&mut unknown, Activity::Working, start);
        let quick = said(&mut unknown, Activity::Idle, start + Duration::from_secs(2)).unwrap();
        assert!(!quick.contains("]9;"), "{quick:?}");
        said(&mut unknown, Activity::Working, start);
        let long = said(&mut unknown, Activity::Idle, start + LONG_TURN).unwrap();
        assert!(
            long.ends_with("\x1bPtmux;\x1b\x1b]9;kelp: the answer is ready in ~/p\x07\x1b\\"),
            "{long:?}"
        );

        let mut foot = Attention::new(Notify::Osc777, "~/a;b".into(), false);
        foot.focus(false);
        said(&mut foot, Activity::Working, start);
        assert!(
            said(&mut foot, Activity::Waiting, start)
                .unwrap()
                .ends_with("\x1b]777;notify;kelp;kelp: waiting for your approval in ~/a,b\x07")
        );

        let mut off = Attention::new(Notify::Off, "~/p".into(), false);
        off.focus(false);
        said(&mut off, Activity::Working, start);
        assert_eq!(
            said(&mut off, Activity::Waiting, start).unwrap(),
            "\x1b]2;waiting for you · kelp · ~/p\x07"
        );
    }

    #[test]
    fn a_desktop_notification_takes_the_form_the_terminal_speaks() {
        let terminal = |term: &'static str, vte: Option<&'static str>| {
            move |name: &str| match name {
                "TERM" => Some(term.to_string()),
                "VTE_VERSION" => vte.map(str::to_string),
                _ => None,
            }
        };
        let desktop = Notify::Desktop;
        assert_eq!(desktop.for_terminal(terminal("foot", None)), Notify::Osc777);
        assert_eq!(
            desktop.for_terminal(terminal("rxvt-unicode-256color", None)),
            Notify::Osc777
        );
        assert_eq!(
            desktop.for_terminal(terminal("xterm-256color", Some("7600"))),
            Notify::Osc777
        );
        assert_eq!(
            desktop.for_terminal(terminal("xterm-ghostty", None)),
            Notify::Osc9
        );
        assert_eq!(
            Notify::Osc9.for_terminal(terminal("foot", None)),
            Notify::Osc9
        );
        assert_eq!(
            Notify::Bell.for_terminal(terminal("foot", None)),
            Notify::Bell
        );
    }
}
