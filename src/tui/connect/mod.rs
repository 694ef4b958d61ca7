//! The `/connect` dialog: pick a login method, then follow it. ChatGPT in the browser, ChatGPT by
//! device code (the code as text and as a QR code, for SSH and headless machines), or an API
//! key. The dialog only sends `Op`s and follows `LoginEvent`s; the core runs the flows. This file
//! is the screen state machine and its keys; [`view`] draws it, with [`lines`]' paragraphs and
//! rows of keys; [`naming`] asks what to keep a ChatGPT login as when another is kept already.

mod lines;
mod naming;
mod view;

use std::time::SystemTime;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::qr_view::QrView;
use crate::protocol::Op;
use crate::protocol::{LoginEvent, LoginMethod};
use crate::secret::Secret;

/// The three ways to connect, in the order the dialog lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Browser,
    Device,
    ApiKey,
}

/// Shown beside states that wait on someone else.
const WAITING_MARK: &str = "◷";

const METHODS: [Method; 3] = [Method::Browser, Method::Device, Method::ApiKey];

impl Method {
    fn title(self) -> &'static str {
        match self {
            Self::Browser => "ChatGPT Plus/Pro — browser",
            Self::Device => "ChatGPT Plus/Pro — headless (device code)",
            Self::ApiKey => "API key",
        }
    }

    fn detail(self) -> &'static str {
        match self {
            Self::Browser => "Sign in with the browser on this machine.",
            Self::Device => "Sign in on your phone or another computer with a code or QR code.",
            Self::ApiKey => "Pay per use with a key from platform.openai.com.",
        }
    }

    /// What to suggest when this method failed.
    fn next_step(self) -> &'static str {
        match self {
            Self::Browser => {
                "Pick a method to try again. Without a browser here, the device code (2) works from any phone."
            }
            Self::Device => {
                "Pick a method to try again: the browser (1) needs no device code setting, and an API key (3) always works."
            }
            Self::ApiKey => "Check the key and try again, or pick another method.",
        }
    }
}

/// Something the dialog wants done.
#[derive(Debug, Clone, PartialEq)]
pub enum DialogAction {
    /// Nothing beyond a redraw.
    None,
    /// Send this to the core.
    Op(Op),
    /// Put this text on the clipboard; the label says what it is.
    Copy { text: String, label: &'static str },
    /// Close the dialog.
    Close,
    /// What a key of the command center asks.
    Center(crate::tui::agents_center::CenterAction),
}

impl DialogAction {
    /// Copies `text` when it is known yet; nothing otherwise.
    fn copy(text: &Option<String>, label: &'static str) -> Self {
        match text {
            Some(text) => Self::Copy {
                text: text.clone(),
                label,
            },
            None => Self::None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Screen {
    Methods,
    Browser {
        url: Option<String>,
        /// A browser is opening here (false over SSH, without a display, or when it failed).
        opening: bool,
        /// The redirect field, focused when `Some`.
        paste: Option<String>,
        sent_redirect: bool,
        paste_error: Option<String>,
        exchanging: bool,
    },
    Device {
        url: Option<String>,
        code: Option<String>,
        expires_at: Option<SystemTime>,
        qr: Option<QrView>,
        /// The QR code fills the screen (for windows too small to show it beside the text).
        qr_full: bool,
        exchanging: bool,
    },
    ApiKey {
        key: Secret,
        error: Option<String>,
        saving: bool,
        /// Why the check could not run; Enter then saves the key unchecked.
        unchecked: Option<String>,
    },
    /// What to keep a ChatGPT login as, asked before it starts when another login exists.
    Name {
        method: Method,
        name: String,
        error: Option<String>,
    },
}

/// A failure shown above the method list.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    message: String,
    next_step: &'static str,
}

/// The dialog's state.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectDialog {
    screen: Screen,
    selected: usize,
    headless: bool,
    failure: Option<Failure>,
    /// Another login exists: a ChatGPT login is named before it starts.
    ask_name: bool,
}

impl ConnectDialog {
    /// The method list; on a headless machine the device code is preselected.
    pub fn new(headless: bool) -> Self {
        Self {
            screen: Screen::Methods,
            selected: usize::from(headless),
            headless,
            failure: None,
            ask_name: false,
        }
    }

    /// The method list with a problem from start-up said above it (an auth file that cannot
    /// be read), where the person looks first, not behind the dialog.
    pub fn with_problem(mut self, message: &str) -> Self {
        self.failure = Some(Failure {
            message: message.to_string(),
            next_step: "Signing in writes to that file: fix or move it first (Esc closes this).",
        });
        self
    }

    /// Whether a login is running (Esc would cancel it).
    pub fn is_waiting(&self) -> bool {
        matches!(self.screen, Screen::Browser { .. } | Screen::Device { .. })
    }

    /// Whether an API key is being saved.
    pub fn is_saving_key(&self) -> bool {
        matches!(self.screen, Screen::ApiKey { saving: true, .. })
    }

    /// Whether the screen shows a countdown that needs a tick every second.
    pub fn shows_countdown(&self) -> bool {
        matches!(
            self.screen,
            Screen::Device {
                expires_at: Some(_),
                exchanging: false,
                ..
            }
        )
    }

    fn start(&mut self, method: Method) -> DialogAction {
        self.failure = None;
        self.selected = METHODS.iter().position(|m| *m == method).unwrap_or(0);
        if self.ask_name && method != Method::ApiKey {
            self.screen = Screen::Name {
                method,
                name: String::new(),
                error: None,
            };
            return DialogAction::None;
        }
        self.begin(method, None)
    }

    /// Starts `method`'s login, kept as `name` beside the others.
    fn begin(&mut self, method: Method, name: Option<String>) -> DialogAction {
        match method {
            Method::Browser => {
                self.screen = Screen::Browser {
                    url: None,
                    opening: true,
                    paste: None,
                    sent_redirect: false,
                    paste_error: None,
                    exchanging: false,
                };
                DialogAction::Op(Op::StartLogin {
                    method: LoginMethod::Browser,
                    name,
                })
            }
            Method::Device => {
                self.screen = Screen::Device {
                    url: None,
                    code: None,
                    expires_at: None,
                    qr: None,
                    qr_full: false,
                    exchanging: false,
                };
                DialogAction::Op(Op::StartLogin {
                    method: LoginMethod::Device,
                    name,
                })
            }
            Method::ApiKey => {
                self.screen = Screen::ApiKey {
                    key: Secret::default(),
                    error: None,
                    saving: false,
                    unchecked: None,
                };
                DialogAction::None
            }
        }
    }

    fn back_to_methods(&mut self) {
        self.screen = Screen::Methods;
    }

    fn method_of_screen(&self) -> Method {
        match self.screen {
            Screen::Browser { .. } => Method::Browser,
            Screen::Device { .. } => Method::Device,
            _ => Method::ApiKey,
        }
    }

    /// Follows a step of the running login.
    pub fn on_login_event(&mut self, event: LoginEvent) {
        match (event, &mut self.screen) {
            (
                LoginEvent::BrowserWaiting {
                    authorize_url,
                    opening: will_open,
                    ..
                },
                Screen::Browser { url, opening, .. },
            ) => {
                *url = Some(authorize_url);
                *opening = will_open;
            }
            (LoginEvent::BrowserNotOpened, Screen::Browser { opening, .. }) => *opening = false,
            (
                LoginEvent::DeviceCode {
                    verification_url,
                    user_code,
                    expires_at: at,
                },
                Screen::Device {
                    url,
                    code,
                    expires_at,
                    qr,
                    ..
                },
            ) => {
                *qr = QrView::new(&verification_url);
                *url = Some(verification_url);
                *code = Some(user_code);
                *expires_at = Some(at);
            }
            (
                LoginEvent::Exchanging,
                Screen::Browser { exchanging, .. } | Screen::Device { exchanging, .. },
            ) => *exchanging = true,
            (LoginEvent::Failed(message), _) => {
                let method = self.method_of_screen();
                self.failure = Some(Failure {
                    message,
                    next_step: method.next_step(),
                });
                self.back_to_methods();
            }
            (LoginEvent::Cancelled, Screen::Browser { .. } | Screen::Device { .. }) => {
                self.back_to_methods();
            }
            _ => {}
        }
    }

    /// An error from the core while the dialog shows: a key that could not be saved, or a
    /// pasted address that was not accepted. Returns whether the dialog showed it.
    pub fn on_error(&mut self, message: String) -> bool {
        match &mut self.screen {
            Screen::ApiKey { error, saving, .. } if *saving => {
                *error = Some(message);
                *saving = false;
                true
            }
            Screen::Browser {
                paste_error,
                sent_redirect,
                ..
            } if *sent_redirect => {
                *paste_error = Some(message);
                *sent_redirect = false;
                true
            }
            _ => false,
        }
    }

    /// The new key could not be checked: ask whether to save it anyway.
    pub fn on_key_unchecked(&mut self, why: String) -> bool {
        match &mut self.screen {
            Screen::ApiKey {
                saving, unchecked, ..
            } if *saving => {
                *saving = false;
                *unchecked = Some(why);
                true
            }
            _ => false,
        }
    }

    /// Text pasted while the dialog is open.
    pub fn on_paste(&mut self, text: &str) -> DialogAction {
        match &mut self.screen {
            Screen::ApiKey {
                key,
                error,
                saving,
                unchecked,
            } if !*saving => {
                key.push_str(text.trim());
                *error = None;
                *unchecked = None;
            }
            Screen::Browser {
                paste: field,
                exchanging: false,
                ..
            } => {
                field.get_or_insert_with(String::new).push_str(text.trim());
            }
            _ => {}
        }
        DialogAction::None
    }

    /// Handles a key.
    pub fn handle_key(&mut self, key: KeyEvent) -> DialogAction {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match &mut self.screen {
            Screen::Methods => match key.code {
                KeyCode::Up => {
                    self.selected = (self.selected + METHODS.len() - 1) % METHODS.len();
                    DialogAction::None
                }
                KeyCode::Down | KeyCode::Tab => {
                    self.selected = (self.selected + 1) % METHODS.len();
                    DialogAction::None
                }
                KeyCode::Char(c @ '1'..='3') => {
                    let index = usize::from(c as u8 - b'1');
                    self.start(METHODS[index])
                }
                KeyCode::Enter => self.start(METHODS[self.selected.min(METHODS.len() - 1)]),
                KeyCode::Esc => DialogAction::Close,
                _ => DialogAction::None,
            },
            Screen::Browser { .. } => self.browser_key(key, ctrl),
            Screen::Device { .. } => self.device_key(key),
            Screen::ApiKey { .. } => self.api_key_key(key, ctrl),
            Screen::Name { .. } => self.name_key(key, ctrl),
        }
    }

    /// A key on the browser sign-in screen: copy the link, or paste the redirect by hand.
    fn browser_key(&mut self, key: KeyEvent, ctrl: bool) -> DialogAction {
        let Screen::Browser {
            url,
            paste,
            sent_redirect,
            paste_error,
            exchanging,
            ..
        } = &mut self.screen
        else {
            return DialogAction::None;
        };
        if let Some(field) = paste {
            *paste_error = None;
            match key.code {
                KeyCode::Enter if !field.trim().is_empty() => {
                    *sent_redirect = true;
                    let text = field.trim().to_string();
                    *paste = None;
                    return DialogAction::Op(Op::PasteLoginRedirect(text.into()));
                }
                KeyCode::Esc => *paste = None,
                KeyCode::Backspace => {
                    field.pop();
                }
                KeyCode::Char('u') if ctrl => field.clear(),
                KeyCode::Char(c) if !ctrl => field.push(c),
                _ => {}
            }
            return DialogAction::None;
        }
        match key.code {
            KeyCode::Esc => {
                self.back_to_methods();
                DialogAction::Op(Op::CancelLogin)
            }
            KeyCode::Char('c') => DialogAction::copy(url, "sign-in URL"),
            KeyCode::Char('p') | KeyCode::Tab if !*exchanging => {
                *paste = Some(String::new());
                DialogAction::None
            }
            _ => DialogAction::None,
        }
    }

    /// A key on the device-code screen: copy the code or link, or show the QR code full size.
    fn device_key(&mut self, key: KeyEvent) -> DialogAction {
        let Screen::Device {
            url,
            code,
            qr,
            qr_full,
            ..
        } = &mut self.screen
        else {
            return DialogAction::None;
        };
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') if *qr_full => {
                *qr_full = false;
                DialogAction::None
            }
            KeyCode::Esc => {
                self.back_to_methods();
                DialogAction::Op(Op::CancelLogin)
            }
            KeyCode::Char('q') if qr.is_some() => {
                *qr_full = true;
                DialogAction::None
            }
            KeyCode::Char('c') => DialogAction::copy(code, "code"),
            KeyCode::Char('u') => DialogAction::copy(url, "link"),
            _ => DialogAction::None,
        }
    }

    /// A key on the API key screen: the masked field, its check, and saving a key kept unchecked.
    fn api_key_key(&mut self, key: KeyEvent, ctrl: bool) -> DialogAction {
        let Screen::ApiKey {
            key: typed,
            error,
            saving,
            unchecked,
        } = &mut self.screen
        else {
            return DialogAction::None;
        };
        if *saving {
            return DialogAction::None;
        }
        if unchecked.is_some() {
            return match key.code {
                KeyCode::Enter => {
                    *unchecked = None;
                    *saving = true;
                    let key = Secret::from(typed.trim());
                    DialogAction::Op(Op::SaveApiKey {
                        key,
                        unchecked: true,
                    })
                }
                KeyCode::Esc => {
                    *unchecked = None;
                    DialogAction::None
                }
                _ => DialogAction::None,
            };
        }
        match key.code {
            KeyCode::Esc => {
                self.back_to_methods();
                DialogAction::None
            }
            // Nothing typed yet: an Enter that confirmed the choice of this screen
            // (after `3`) is not a key to refuse.
            KeyCode::Enter if typed.trim().is_empty() => DialogAction::None,
            KeyCode::Enter => match crate::auth::validate_api_key(typed) {
                Ok(valid) => {
                    *saving = true;
                    *error = None;
                    DialogAction::Op(Op::SaveApiKey {
                        key: valid.into(),
                        unchecked: false,
                    })
                }
                Err(why) => {
                    *error = Some(why.to_string());
                    DialogAction::None
                }
            },
            KeyCode::Backspace => {
                typed.pop();
                DialogAction::None
            }
            KeyCode::Char('u') if ctrl => {
                typed.clear();
                DialogAction::None
            }
            KeyCode::Char(c) if !ctrl => {
                typed.push(c);
                *error = None;
                DialogAction::None
            }
            _ => DialogAction::None,
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn digits_start_methods_and_esc_cancels_a_waiting_login() {
        let mut d = ConnectDialog::new(false);
        assert_eq!(
            d.handle_key(key(KeyCode::Char('2'))),
            DialogAction::Op(Op::StartLogin {
                method: LoginMethod::Device,
                name: None
            })
        );
        assert!(d.is_waiting());
        assert_eq!(
            d.handle_key(key(KeyCode::Esc)),
            DialogAction::Op(Op::CancelLogin)
        );
        assert!(!d.is_waiting());
        assert_eq!(d.handle_key(key(KeyCode::Esc)), DialogAction::Close);
    }

    #[test]
    fn headless_machines_preselect_the_device_code() {
        let mut d = ConnectDialog::new(true);
        assert_eq!(
            d.handle_key(key(KeyCode::Enter)),
            DialogAction::Op(Op::StartLogin {
                method: LoginMethod::Device,
                name: None
            })
        );
    }

    #[test]
    fn api_keys_are_checked_before_they_are_sent() {
        let mut d = ConnectDialog::new(false);
        d.handle_key(key(KeyCode::Char('3')));
        // An Enter before anything is typed (confirming the choice) waits, with no error.
        assert_eq!(d.handle_key(key(KeyCode::Enter)), DialogAction::None);
        assert!(matches!(&d.screen, Screen::ApiKey { error: None, .. }));
        d.on_paste("  sk-test-key-1234\n");
        assert_eq!(
            d.handle_key(key(KeyCode::Enter)),
            DialogAction::Op(Op::SaveApiKey {
                key: "sk-test-key-1234".into(),
                unchecked: false
            })
        );
        assert!(d.is_saving_key());
        assert!(!format!("{d:?}").contains("sk-test-key-1234"));
        let sent = DialogAction::Op(Op::SaveApiKey {
            key: "sk-test-key-1234".into(),
            unchecked: false,
        });
        assert!(!format!("{sent:?}").contains("sk-test-key-1234"));
        assert!(d.on_error("disk full".into()));
        assert!(!d.is_saving_key());
    }

    #[test]
    fn failures_return_to_the_list_with_a_next_step() {
        let mut d = ConnectDialog::new(false);
        d.handle_key(key(KeyCode::Char('2')));
        d.on_login_event(LoginEvent::Failed(
            "device code login is not enabled".into(),
        ));
        assert_eq!(d.screen, Screen::Methods);
        assert!(
            d.failure
                .as_ref()
                .unwrap()
                .next_step
                .contains("browser (1)")
        );
    }
}
