//! What to keep a ChatGPT login as, asked before it starts when another login is kept: the
//! login in use stays kept under its own name, this one beside it (`/account` switches).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::lines::{draw, failed, hang, keys_line};
use super::{ConnectDialog, DialogAction, Screen};
use crate::tui::theme;
use crate::tui::wrap::RichLine;

impl ConnectDialog {
    /// The dialog for a person with a login already: a ChatGPT login is named before it
    /// starts, so the one in use is kept, not replaced.
    pub fn asking_a_name(mut self, asked: bool) -> Self {
        self.ask_name = asked;
        self
    }

    /// A key on the name screen: typing, Enter to start the login, Esc back to the methods.
    pub(super) fn name_key(&mut self, key: KeyEvent, ctrl: bool) -> DialogAction {
        let Screen::Name {
            method,
            name,
            error,
        } = &mut self.screen
        else {
            return DialogAction::None;
        };
        match key.code {
            KeyCode::Esc => {
                self.screen = Screen::Methods;
                DialogAction::None
            }
            KeyCode::Enter => {
                let typed = name.trim().to_string();
                if typed.is_empty() {
                    let method = *method;
                    return self.begin(method, None);
                }
                match crate::auth::logins::check_name(&typed) {
                    Ok(()) => {
                        let method = *method;
                        self.begin(method, Some(typed))
                    }
                    Err(why) => {
                        *error = Some(why.to_string());
                        DialogAction::None
                    }
                }
            }
            KeyCode::Backspace => {
                name.pop();
                *error = None;
                DialogAction::None
            }
            KeyCode::Char('u') if ctrl => {
                name.clear();
                DialogAction::None
            }
            KeyCode::Char(c) if !ctrl && name.chars().count() < 64 => {
                name.push(c);
                *error = None;
                DialogAction::None
            }
            _ => DialogAction::None,
        }
    }
}

/// Draws the name screen: why it is asked, the field, what Enter does.
pub(super) fn render_name(area: Rect, buf: &mut Buffer, name: &str, error: Option<&str>) {
    let mut lines = vec![
        hang(
            vec![Span::raw(
                "You are signed in already: that login stays kept, and this one goes beside \
                 it under the name you give (`work`, `home`; empty: its email). /account \
                 switches between them.",
            )],
            0,
        ),
        RichLine::default(),
    ];
    let mut field = vec![
        Span::styled("Name › ", theme::accent().bold()),
        Span::raw(crate::terminal_text::printable(name).into_owned()),
    ];
    if name.is_empty() {
        field.push(Span::styled("its email", theme::dim()));
    } else {
        field.push(Span::styled("▏", theme::accent()));
    }
    lines.push(RichLine::plain(Line::from(field)));
    lines.push(RichLine::default());
    if let Some(error) = error {
        lines.push(failed(error));
        lines.push(RichLine::default());
    }
    lines.push(keys_line(&[
        ("enter", "sign in"),
        ("ctrl+u", "clear"),
        ("esc", "back"),
    ]));
    draw(area, buf, &lines);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{LoginMethod, Op};
    use crossterm::event::KeyModifiers;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn with_a_login_kept_the_chatgpt_methods_ask_a_name_first() {
        let mut d = ConnectDialog::new(false).asking_a_name(true);
        assert_eq!(d.handle_key(key(KeyCode::Char('2'))), DialogAction::None);
        assert!(!d.is_waiting(), "nothing starts before the name");
        for c in "a b".chars() {
            d.handle_key(key(KeyCode::Char(c)));
        }
        assert_eq!(d.handle_key(key(KeyCode::Enter)), DialogAction::None);
        assert!(matches!(&d.screen, Screen::Name { error: Some(_), .. }));
        d.handle_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        for c in "work".chars() {
            d.handle_key(key(KeyCode::Char(c)));
        }
        assert_eq!(
            d.handle_key(key(KeyCode::Enter)),
            DialogAction::Op(Op::StartLogin {
                method: LoginMethod::Device,
                name: Some("work".into())
            })
        );
        assert!(d.is_waiting());
    }

    #[test]
    fn an_empty_name_keeps_the_email_and_an_api_key_is_never_asked_one() {
        let mut d = ConnectDialog::new(false).asking_a_name(true);
        d.handle_key(key(KeyCode::Char('1')));
        assert_eq!(
            d.handle_key(key(KeyCode::Enter)),
            DialogAction::Op(Op::StartLogin {
                method: LoginMethod::Browser,
                name: None
            })
        );
        let mut d = ConnectDialog::new(false).asking_a_name(true);
        d.handle_key(key(KeyCode::Char('3')));
        assert!(matches!(&d.screen, Screen::ApiKey { .. }));
    }
}
