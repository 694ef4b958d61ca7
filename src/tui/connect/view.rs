//! Drawing the `/connect` dialog: the list of methods and each method's screen, the device code
//! with its QR code placed by the room there is.

use std::time::SystemTime;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Widget};
use unicode_width::UnicodeWidthStr;

use super::lines::{draw, failed, hang, keys_line};
use super::{ConnectDialog, METHODS, Method, Screen, WAITING_MARK};
use crate::tui::qr_view::QrView;
use crate::tui::theme;
use crate::tui::wrap::{RichLine, cut_front, draw_line, wrap_into};

impl ConnectDialog {
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
            Screen::Name { .. } => " Connect · name this login ",
        };
        let block = Block::new()
            .borders(Borders::TOP | Borders::BOTTOM)
            .border_style(theme::accent())
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
                opening,
                paste,
                sent_redirect,
                paste_error,
                exchanging,
            } => render_browser(
                inner,
                buf,
                BrowserView {
                    url: url.as_deref(),
                    opening: *opening,
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
            Screen::ApiKey {
                key,
                error,
                saving,
                unchecked,
            } => render_api_key(
                inner,
                buf,
                key.chars().count(),
                error.as_deref(),
                *saving,
                unchecked.as_deref(),
            ),
            Screen::Name { name, error, .. } => {
                super::naming::render_name(inner, buf, name, error.as_deref());
            }
        }
    }

    fn render_methods(&self, area: Rect, buf: &mut Buffer) {
        let mut lines: Vec<RichLine> = Vec::new();
        if let Some(failure) = &self.failure {
            lines.push(failed(&failure.message));
            lines.push(hang(vec![Span::raw("  "), Span::raw(failure.next_step)], 2));
            lines.push(RichLine::default());
        } else {
            lines.push(RichLine::plain(Line::raw("How do you want to sign in?")));
            lines.push(RichLine::default());
        }
        for (i, method) in METHODS.iter().enumerate() {
            let selected = i == self.selected;
            let style = if selected {
                theme::accent().bold()
            } else {
                Style::new()
            };
            let mut spans = vec![
                Span::styled(if selected { "› " } else { "  " }, style),
                Span::styled(format!("{}. {}", i + 1, method.title()), style),
            ];
            if self.headless && *method == Method::Device {
                spans.push(Span::styled("  ★ recommended here", theme::good()));
            }
            lines.push(hang(spans, 5));
            lines.push(hang(
                vec![
                    Span::raw("     "),
                    Span::styled(method.detail(), theme::dim()),
                ],
                5,
            ));
        }
        if self.headless {
            lines.push(RichLine::default());
            lines.push(hang(
                vec![Span::styled(
                    "This looks like an SSH session or a machine without a display.",
                    theme::dim(),
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

/// The Browser screen's inputs.
struct BrowserView<'a> {
    url: Option<&'a str>,
    opening: bool,
    paste: Option<&'a str>,
    paste_error: Option<&'a str>,
    sent_redirect: bool,
    exchanging: bool,
    spinner: &'a str,
}

fn render_browser(area: Rect, buf: &mut Buffer, view: BrowserView<'_>) {
    let BrowserView {
        url,
        opening,
        paste,
        paste_error,
        sent_redirect,
        exchanging,
        spinner,
    } = view;
    let mut lines = Vec::new();
    let Some(url) = url else {
        lines.push(RichLine::plain(Line::from(vec![
            Span::styled(format!("{spinner} "), theme::accent()),
            Span::raw("Starting the sign-in…"),
        ])));
        lines.push(RichLine::default());
        lines.push(keys_line(&[("esc", "cancel")]));
        draw(area, buf, &lines);
        return;
    };
    lines.push(RichLine::plain(Line::raw(if opening {
        "Your browser should open to sign in. If it did not, open this URL:"
    } else {
        "No browser can open here. Open this URL in a browser on any machine and sign in:"
    })));
    lines.push(RichLine::default());
    let top = draw(area, buf, &lines);
    let below = draw_edge_to_edge(buf, area.y + top, area.bottom(), url) + 1;
    let area = Rect {
        y: (area.y + top + below).min(area.bottom()),
        height: area.height.saturating_sub(top + below),
        ..area
    };
    let mut lines = Vec::new();
    let status = if exchanging {
        "Signing in…"
    } else if sent_redirect {
        "Checking the pasted address…"
    } else {
        "Waiting for the browser…"
    };
    lines.push(RichLine::plain(Line::from(vec![
        Span::styled(format!("{spinner} "), theme::accent()),
        Span::raw(status),
    ])));
    lines.push(RichLine::default());
    if !exchanging {
        lines.push(hang(
            vec![Span::styled(
                "Browser on another machine? Sign in there, then paste the address it ends on (http://localhost:…/auth/callback?code=…) here:",
                theme::dim(),
            )],
            0,
        ));
        let field = match paste {
            Some(text) => Line::from(vec![
                Span::styled("› ", theme::accent().bold()),
                Span::raw(cut_front(text, usize::from(area.width).saturating_sub(3))),
                Span::styled("▏", theme::accent()),
            ]),
            None => Line::from(vec![
                Span::styled("› ", theme::dim()),
                Span::styled("press p or paste", theme::dim()),
            ]),
        };
        lines.push(RichLine::plain(field));
        if let Some(error) = paste_error {
            lines.push(failed(error));
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

/// Draws `text` alone on its rows from row `y` (and above `bottom`), from the screen's first
/// column to its last, so the terminal wraps it as one line and a selection copies it whole
/// (see `hyperlink`); returns the rows used.
fn draw_edge_to_edge(buf: &mut Buffer, y: u16, bottom: u16, text: &str) -> u16 {
    let (left, width) = (buf.area.x, usize::from(buf.area.width.max(1)));
    let chars: Vec<char> = text.chars().collect();
    let mut row = y;
    for chunk in chars.chunks(width) {
        if row >= bottom {
            break;
        }
        let piece: String = chunk.iter().collect();
        buf.set_string(left, row, piece, theme::accent());
        row += 1;
    }
    row - y
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
    let step = theme::accent().bold();
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
                    theme::accent().add_modifier(Modifier::UNDERLINED),
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
            Span::styled(code.to_string(), theme::warn().bold()),
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
            Span::styled(format!("{} ", view.spinner), theme::accent()),
            Span::raw(status),
        ],
        2,
    ));
    lines.push(RichLine::default());
    lines.push(hang(
        vec![
            Span::styled("⚠ ", theme::warn()),
            Span::styled(
                "Continue only if you started this login. If a website or another person gave you this code, cancel.",
                theme::warn(),
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
                Span::styled(format!("{} ", view.spinner), theme::accent()),
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
        Span::styled(code.unwrap_or_default().to_string(), theme::warn().bold()),
        Span::styled("  ·  ", theme::dim()),
        Span::styled("q", Style::new().bold()),
        Span::styled(" back", theme::dim()),
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
        draw_line(buf, x, top + qr_h, &footer, area.width);
    }
}

fn render_api_key(
    area: Rect,
    buf: &mut Buffer,
    key_len: usize,
    error: Option<&str>,
    saving: bool,
    unchecked: Option<&str>,
) {
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
        Span::styled("Key › ", theme::accent().bold()),
        Span::raw(format!("{dots}{more}")),
    ];
    if key_len == 0 {
        field.push(Span::styled("paste or type the key", theme::dim()));
    } else {
        field.push(Span::styled("▏", theme::accent()));
        field.push(Span::styled(
            format!("  {key_len} characters"),
            theme::dim(),
        ));
    }
    lines.push(RichLine::plain(Line::from(field)));
    lines.push(RichLine::default());
    if let Some(error) = error {
        lines.push(failed(error));
        lines.push(RichLine::default());
    }
    if let Some(why) = unchecked {
        lines.push(hang(
            vec![
                Span::styled("? ", theme::warn()),
                Span::styled(
                    format!("The key could not be checked: {why}. It is not saved yet."),
                    theme::warn(),
                ),
            ],
            2,
        ));
        lines.push(RichLine::default());
        lines.push(keys_line(&[
            ("enter", "save it unchecked"),
            ("esc", "change it"),
        ]));
    } else if saving {
        lines.push(RichLine::plain(Line::raw("Checking the key with OpenAI…")));
    } else {
        lines.push(keys_line(&[
            ("enter", "check and save"),
            ("ctrl+u", "clear"),
            ("esc", "back"),
        ]));
    }
    draw(area, buf, &lines);
}
