//! The `/connect` dialog: pick a login method, then follow it. ChatGPT in the browser, ChatGPT by
//! device code (the code as text and as a QR code, for SSH and headless machines), or an API
//! key. The dialog only sends `Op`s and follows `LoginEvent`s; the core runs the flows.

use std::time::SystemTime;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Widget};
use unicode_width::UnicodeWidthStr;

use super::qr_view::QrView;
use super::wrap::{RichLine, wrap_into};
use crate::agent::protocol::Op;
use crate::auth::login::{LoginEvent, LoginMethod};
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
}

impl ConnectDialog {
    /// The method list; on a headless machine the device code is preselected.
    pub fn new(headless: bool) -> Self {
        Self {
            screen: Screen::Methods,
            selected: usize::from(headless),
            headless,
            failure: None,
        }
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
        match method {
            Method::Browser => {
                self.screen = Screen::Browser {
                    url: None,
                    paste: None,
                    sent_redirect: false,
                    paste_error: None,
                    exchanging: false,
                };
                DialogAction::Op(Op::StartLogin(LoginMethod::Browser))
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
                DialogAction::Op(Op::StartLogin(LoginMethod::Device))
            }
            Method::ApiKey => {
                self.screen = Screen::ApiKey {
                    key: Secret::default(),
                    error: None,
                    saving: false,
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
            (LoginEvent::BrowserWaiting { authorize_url, .. }, Screen::Browser { url, .. }) => {
                *url = Some(authorize_url);
            }
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

    /// Text pasted while the dialog is open.
    pub fn on_paste(&mut self, text: &str) -> DialogAction {
        match &mut self.screen {
            Screen::ApiKey {
                key, error, saving, ..
            } if !*saving => {
                key.push_str(text.trim());
                *error = None;
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
            Screen::Browser {
                url,
                paste,
                sent_redirect,
                paste_error,
                exchanging,
            } => {
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
            Screen::Device {
                url,
                code,
                qr,
                qr_full,
                ..
            } => match key.code {
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
            },
            Screen::ApiKey {
                key: typed,
                error,
                saving,
            } => {
                if *saving {
                    return DialogAction::None;
                }
                match key.code {
                    KeyCode::Esc => {
                        self.back_to_methods();
                        DialogAction::None
                    }
                    KeyCode::Enter => match crate::auth::validate_api_key(typed) {
                        Ok(valid) => {
                            *saving = true;
                            *error = None;
                            DialogAction::Op(Op::SaveApiKey(valid.into()))
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
    }

    /// Draws the dialog over `area`; `now` drives the countdown.
    pub fn render(&self, area: Rect, buf: &mut Buffer, now: SystemTime) {
        // A still mark, not a spinner: a waiting login must not wake the UI ten times a second.
        let spinner = WAITING_MARK;
        Clear.render(area, buf);
        if let Screen::Device {
            qr: Some(qr),
            qr_full: true,
            code,
            ..
        } = &self.screen
        {
            render_full_qr(area, buf, qr, code.as_deref());
            return;
        }
        let title = match self.screen {
            Screen::Methods => " Connect kelp to OpenAI ",
            Screen::Browser { .. } => " Connect · ChatGPT in the browser ",
            Screen::Device { .. } => " Connect · ChatGPT with a device code ",
            Screen::ApiKey { .. } => " Connect · API key ",
        };
        let block = Block::new()
            .borders(Borders::TOP | Borders::BOTTOM)
            .border_style(Style::new().fg(Color::Cyan))
            .title(Span::styled(title, Style::new().bold()));
        let inner = block.inner(area);
        block.render(area, buf);
        let inner = Rect {
            x: inner.x + 2,
            width: inner.width.saturating_sub(4),
            y: inner.y + 1,
            height: inner.height.saturating_sub(1),
        };
        if inner.width < 10 || inner.height < 3 {
            return;
        }
        match &self.screen {
            Screen::Methods => self.render_methods(inner, buf),
            Screen::Browser {
                url,
                paste,
                sent_redirect,
                paste_error,
                exchanging,
            } => render_browser(
                inner,
                buf,
                BrowserView {
                    url: url.as_deref(),
                    paste: paste.as_deref(),
                    paste_error: paste_error.as_deref(),
                    sent_redirect: *sent_redirect,
                    exchanging: *exchanging,
                    spinner,
                },
            ),
            Screen::Device {
                url,
                code,
                expires_at,
                qr,
                exchanging,
                ..
            } => render_device(
                inner,
                buf,
                DeviceView {
                    url: url.as_deref(),
                    code: code.as_deref(),
                    expires_at: *expires_at,
                    qr: qr.as_ref(),
                    exchanging: *exchanging,
                    now,
                    spinner,
                },
            ),
            Screen::ApiKey { key, error, saving } => {
                render_api_key(inner, buf, key.chars().count(), error.as_deref(), *saving)
            }
        }
    }

    fn render_methods(&self, area: Rect, buf: &mut Buffer) {
        let mut lines: Vec<RichLine> = Vec::new();
        if let Some(failure) = &self.failure {
            lines.push(hang(
                vec![
                    Span::styled("✗ ", red()),
                    Span::styled(failure.message.clone(), red()),
                ],
                2,
            ));
            lines.push(hang(vec![Span::raw("  "), Span::raw(failure.next_step)], 2));
            lines.push(RichLine::default());
        } else {
            lines.push(RichLine::plain(Line::raw("How do you want to sign in?")));
            lines.push(RichLine::default());
        }
        for (i, method) in METHODS.iter().enumerate() {
            let selected = i == self.selected;
            let style = if selected {
                Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            };
            let mut spans = vec![
                Span::styled(if selected { "› " } else { "  " }, style),
                Span::styled(format!("{}. {}", i + 1, method.title()), style),
            ];
            if self.headless && *method == Method::Device {
                spans.push(Span::styled(
                    "  ★ recommended here",
                    Style::new().fg(Color::Green),
                ));
            }
            lines.push(hang(spans, 5));
            lines.push(hang(
                vec![Span::raw("     "), Span::styled(method.detail(), dim())],
                5,
            ));
        }
        if self.headless {
            lines.push(RichLine::default());
            lines.push(hang(
                vec![Span::styled(
                    "This looks like an SSH session or a machine without a display.",
                    dim(),
                )],
                0,
            ));
        }
        lines.push(RichLine::default());
        lines.push(keys_line(&[
            ("↑↓/1-3", "choose"),
            ("enter", "start"),
            ("esc", "close"),
        ]));
        draw(area, buf, &lines);
    }
}

/// The Device screen's inputs, bundled to keep the draw call readable.
struct DeviceView<'a> {
    url: Option<&'a str>,
    code: Option<&'a str>,
    expires_at: Option<SystemTime>,
    qr: Option<&'a QrView>,
    exchanging: bool,
    now: SystemTime,
    spinner: &'a str,
}

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

fn red() -> Style {
    Style::new().fg(Color::Red)
}

fn hang(spans: Vec<Span<'static>>, indent: usize) -> RichLine {
    RichLine {
        line: Line::from(spans),
        hang: vec![Span::raw(" ".repeat(indent))],
    }
}

fn keys_line(keys: &[(&str, &str)]) -> RichLine {
    let mut spans = Vec::new();
    for (i, (key, what)) in keys.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", dim()));
        }
        spans.push(Span::styled(key.to_string(), Style::new().bold()));
        spans.push(Span::styled(format!(" {what}"), dim()));
    }
    RichLine::plain(Line::from(spans))
}

/// Wraps and draws `lines` from the top of `area`; returns the rows used.
fn draw(area: Rect, buf: &mut Buffer, lines: &[RichLine]) -> u16 {
    let mut wrapped = Vec::new();
    for line in lines {
        wrap_into(line, usize::from(area.width), &mut wrapped);
    }
    let mut y = area.y;
    for line in wrapped.iter().take(usize::from(area.height)) {
        buf.set_line(area.x, y, line, area.width);
        y += 1;
    }
    y - area.y
}

/// The Browser screen's inputs.
struct BrowserView<'a> {
    url: Option<&'a str>,
    paste: Option<&'a str>,
    paste_error: Option<&'a str>,
    sent_redirect: bool,
    exchanging: bool,
    spinner: &'a str,
}

fn render_browser(area: Rect, buf: &mut Buffer, view: BrowserView<'_>) {
    let BrowserView {
        url,
        paste,
        paste_error,
        sent_redirect,
        exchanging,
        spinner,
    } = view;
    let mut lines = Vec::new();
    let Some(url) = url else {
        lines.push(RichLine::plain(Line::from(vec![
            Span::styled(format!("{spinner} "), Style::new().fg(Color::Cyan)),
            Span::raw("Starting the sign-in…"),
        ])));
        lines.push(RichLine::default());
        lines.push(keys_line(&[("esc", "cancel")]));
        draw(area, buf, &lines);
        return;
    };
    lines.push(RichLine::plain(Line::raw(
        "Your browser should open to sign in. If it did not, open this URL:",
    )));
    lines.push(RichLine::default());
    // The URL is drawn alone on its rows, unstyled, so it can be selected with the mouse.
    lines.push(RichLine::plain(Line::styled(
        url.to_string(),
        Style::new().fg(Color::Cyan),
    )));
    lines.push(RichLine::default());
    let status = if exchanging {
        "Signing in…"
    } else if sent_redirect {
        "Checking the pasted address…"
    } else {
        "Waiting for the browser…"
    };
    lines.push(RichLine::plain(Line::from(vec![
        Span::styled(format!("{spinner} "), Style::new().fg(Color::Cyan)),
        Span::raw(status),
    ])));
    lines.push(RichLine::default());
    if !exchanging {
        lines.push(hang(
            vec![Span::styled(
                "Browser on another machine? Sign in there, then paste the address it ends on (http://localhost:…/auth/callback?code=…) here:",
                dim(),
            )],
            0,
        ));
        let field = match paste {
            Some(text) => Line::from(vec![
                Span::styled("› ", Style::new().fg(Color::Cyan).bold()),
                Span::raw(tail_fit(text, usize::from(area.width).saturating_sub(3))),
                Span::styled("▏", Style::new().fg(Color::Cyan)),
            ]),
            None => Line::from(vec![
                Span::styled("› ", dim()),
                Span::styled("press p or paste", dim()),
            ]),
        };
        lines.push(RichLine::plain(field));
        if let Some(error) = paste_error {
            lines.push(hang(
                vec![
                    Span::styled("✗ ", red()),
                    Span::styled(error.to_string(), red()),
                ],
                2,
            ));
        }
        lines.push(RichLine::default());
    }
    let keys: &[(&str, &str)] = if paste.is_some() {
        &[("enter", "send"), ("esc", "leave the field")]
    } else {
        &[("c", "copy URL"), ("p", "paste address"), ("esc", "cancel")]
    };
    lines.push(keys_line(keys));
    draw(area, buf, &lines);
}

/// The end of `text` that fits `width` columns, so the cursor end stays visible.
fn tail_fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out: Vec<char> = Vec::new();
    let mut used = 1;
    for c in text.chars().rev() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > width {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out.into_iter().rev().collect()
}

/// `14:32` until `expires_at`, or `None` once it passed.
fn countdown(now: SystemTime, expires_at: SystemTime) -> Option<String> {
    let left = expires_at.duration_since(now).ok()?.as_secs();
    Some(format!("{}:{:02}", left / 60, left % 60))
}

/// Columns between the QR code and the text beside it.
const QR_GAP: u16 = 2;

/// Where the QR code goes on the device screen, chosen by the room there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QrPlace {
    /// Left of the text column.
    Beside,
    /// Under the text.
    Below,
    /// Not on this screen: `q` shows it alone, filling the window.
    OnRequest,
}

/// The device screen's text: the URL on a line of its own, the code as plain contiguous text
/// (so a mouse selection or a screen reader gets `ABCD-12345`, not box-drawing characters),
/// the countdown, the phishing warning and the keys.
fn device_lines(view: &DeviceView<'_>, url: &str, code: &str, place: QrPlace) -> Vec<RichLine> {
    let step = Style::new().fg(Color::Cyan).bold();
    let open = match place {
        QrPlace::Beside => "Scan the QR code, or open this page on any device:",
        QrPlace::Below => "Scan the QR code below, or open this page on any device:",
        QrPlace::OnRequest => "Open this page on your phone or any computer:",
    };
    let mut lines = vec![
        hang(vec![Span::styled("1. ", step), Span::raw(open)], 3),
        hang(
            vec![
                Span::raw("   "),
                Span::styled(
                    url.to_string(),
                    Style::new()
                        .fg(Color::Cyan)
                        .add_modifier(Modifier::UNDERLINED),
                ),
            ],
            3,
        ),
        RichLine::default(),
        hang(
            vec![Span::styled("2. ", step), Span::raw("Enter this code:")],
            3,
        ),
        RichLine::plain(Line::from(vec![
            Span::raw("   "),
            Span::styled(
                code.to_string(),
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ),
        ])),
        RichLine::default(),
    ];
    let status = if view.exchanging {
        "Signing in…".to_string()
    } else {
        match view.expires_at.and_then(|at| countdown(view.now, at)) {
            Some(left) => format!("Waiting for you to sign in · code expires in {left}"),
            None => "The code expired: press esc and start again.".to_string(),
        }
    };
    lines.push(hang(
        vec![
            Span::styled(format!("{} ", view.spinner), Style::new().fg(Color::Cyan)),
            Span::raw(status),
        ],
        2,
    ));
    lines.push(RichLine::default());
    lines.push(hang(
        vec![
            Span::styled("⚠ ", Style::new().fg(Color::Yellow)),
            Span::styled(
                "Continue only if you started this login. If a website or another person gave you this code, cancel.",
                Style::new().fg(Color::Yellow),
            ),
        ],
        2,
    ));
    lines.push(RichLine::default());
    let mut keys = vec![("c", "copy code"), ("u", "copy link")];
    if place == QrPlace::OnRequest && view.qr.is_some() {
        keys.push(("q", "show QR code"));
    }
    keys.push(("esc", "cancel"));
    lines.push(keys_line(&keys));
    lines
}

/// Rows `lines` take when wrapped to `width`.
fn wrapped_height(lines: &[RichLine], width: u16) -> u16 {
    let mut wrapped = Vec::new();
    for line in lines {
        wrap_into(line, usize::from(width), &mut wrapped);
    }
    u16::try_from(wrapped.len()).unwrap_or(u16::MAX)
}

fn render_device(area: Rect, buf: &mut Buffer, view: DeviceView<'_>) {
    let (Some(url), Some(code)) = (view.url, view.code) else {
        let lines = [
            RichLine::plain(Line::from(vec![
                Span::styled(format!("{} ", view.spinner), Style::new().fg(Color::Cyan)),
                Span::raw("Asking for a code…"),
            ])),
            RichLine::default(),
            keys_line(&[("esc", "cancel")]),
        ];
        draw(area, buf, &lines);
        return;
    };
    let Some(qr) = view.qr else {
        draw(
            area,
            buf,
            &device_lines(&view, url, code, QrPlace::OnRequest),
        );
        return;
    };
    let (qr_w, qr_h) = (qr.width(), qr.height());

    // Beside: the text column keeps the indented URL on one line and wraps the rest.
    let text_w = area.width.saturating_sub(qr_w + QR_GAP);
    let url_w = u16::try_from(url.width() + 3).unwrap_or(u16::MAX);
    if area.height >= qr_h && text_w >= url_w.min(area.width) && text_w >= 24 {
        let lines = device_lines(&view, url, code, QrPlace::Beside);
        if wrapped_height(&lines, text_w) <= area.height {
            qr.render(Rect::new(area.x, area.y, qr_w, qr_h), buf);
            let text_area = Rect {
                x: area.x + qr_w + QR_GAP,
                width: text_w,
                ..area
            };
            draw(text_area, buf, &lines);
            return;
        }
    }

    // Below: the text at full width, the QR code under it.
    let lines = device_lines(&view, url, code, QrPlace::Below);
    let used = wrapped_height(&lines, area.width);
    if area.width >= qr_w && area.height >= used.saturating_add(1 + qr_h) {
        draw(area, buf, &lines);
        qr.render(Rect::new(area.x, area.y + used + 1, qr_w, qr_h), buf);
        return;
    }

    draw(
        area,
        buf,
        &device_lines(&view, url, code, QrPlace::OnRequest),
    );
}

/// The QR code alone, centred in the whole window, with the code and the way back under it.
fn render_full_qr(area: Rect, buf: &mut Buffer, qr: &QrView, code: Option<&str>) {
    let (qr_w, qr_h) = (qr.width(), qr.height());
    let footer = Line::from(vec![
        Span::styled(
            code.unwrap_or_default().to_string(),
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ),
        Span::styled("  ·  ", dim()),
        Span::styled("q", Style::new().bold()),
        Span::styled(" back", dim()),
    ]);
    let footer_w = u16::try_from(footer.width()).unwrap_or(u16::MAX);
    if area.width < qr_w || area.height < qr_h {
        let lines = [
            RichLine::plain(Line::raw(
                "The window is too small for the QR code: make it larger, or open the link by hand.",
            )),
            RichLine::default(),
            RichLine::plain(footer),
        ];
        draw(area, buf, &lines);
        return;
    }
    let footer_rows = u16::from(area.height > qr_h);
    let top = area.y + (area.height - qr_h - footer_rows) / 2;
    qr.render(
        Rect::new(area.x + (area.width - qr_w) / 2, top, qr_w, qr_h),
        buf,
    );
    if footer_rows == 1 {
        let x = area.x + area.width.saturating_sub(footer_w) / 2;
        buf.set_line(x, top + qr_h, &footer, area.width);
    }
}

fn render_api_key(area: Rect, buf: &mut Buffer, key_len: usize, error: Option<&str>, saving: bool) {
    let mut lines = vec![
        hang(
            vec![Span::raw(
                "Paste an OpenAI API key (create one at https://platform.openai.com/api-keys). Requests are billed to its project.",
            )],
            0,
        ),
        RichLine::default(),
    ];
    // Never the key itself: one dot per character, capped so the row stays one row.
    let room = usize::from(area.width).saturating_sub(24).max(4);
    let dots = "•".repeat(key_len.min(room));
    let more = if key_len > room { "…" } else { "" };
    let mut field = vec![
        Span::styled("Key › ", Style::new().fg(Color::Cyan).bold()),
        Span::raw(format!("{dots}{more}")),
    ];
    if key_len == 0 {
        field.push(Span::styled("paste or type the key", dim()));
    } else {
        field.push(Span::styled("▏", Style::new().fg(Color::Cyan)));
        field.push(Span::styled(format!("  {key_len} characters"), dim()));
    }
    lines.push(RichLine::plain(Line::from(field)));
    lines.push(RichLine::default());
    if let Some(error) = error {
        lines.push(hang(
            vec![
                Span::styled("✗ ", red()),
                Span::styled(error.to_string(), red()),
            ],
            2,
        ));
        lines.push(RichLine::default());
    }
    if saving {
        lines.push(RichLine::plain(Line::raw("Saving…")));
    } else {
        lines.push(keys_line(&[
            ("enter", "save"),
            ("ctrl+u", "clear"),
            ("esc", "back"),
        ]));
    }
    draw(area, buf, &lines);
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
            DialogAction::Op(Op::StartLogin(LoginMethod::Device))
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
            DialogAction::Op(Op::StartLogin(LoginMethod::Device))
        );
    }

    #[test]
    fn api_keys_are_checked_before_they_are_sent() {
        let mut d = ConnectDialog::new(false);
        d.handle_key(key(KeyCode::Char('3')));
        assert_eq!(d.handle_key(key(KeyCode::Enter)), DialogAction::None);
        assert!(matches!(&d.screen, Screen::ApiKey { error: Some(e), .. } if e.contains("empty")));
        d.on_paste("  sk-test-key-1234\n");
        assert_eq!(
            d.handle_key(key(KeyCode::Enter)),
            DialogAction::Op(Op::SaveApiKey("sk-test-key-1234".into()))
        );
        assert!(d.is_saving_key());
        assert!(!format!("{d:?}").contains("sk-test-key-1234"));
        let sent = DialogAction::Op(Op::SaveApiKey("sk-test-key-1234".into()));
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
