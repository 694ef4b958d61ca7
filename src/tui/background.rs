//! The terminal's background colour, asked with OSC 11 (`COLORFGBG` is not forwarded over SSH).
//! The query goes out with a device-attributes request (DA1) behind it, which every terminal
//! answers: a terminal that does not know OSC 11 is told apart by its DA1 answer arriving alone,
//! so only one that answers nothing at all costs the timeout.
//!
//! The first frame never waits for it: the UI draws with the last answer (kept in the state
//! folder) or the default, asks once the frame is up, and re-colours if the answer differs.
//! Keys typed while the answer is awaited are read with it and handed on ([`typed_keys`]).

use std::io::{self, IsTerminal};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

use super::highlight::Background;

/// OSC 11 asking for the background, then DA1.
pub const QUERY: &[u8] = b"\x1b]11;?\x1b\\\x1b[c";

/// The most read while waiting: the answers are a few dozen bytes, the rest is typing or a
/// paste, which is kept whole up to this.
const MAX_ANSWER: usize = 1024 * 1024;

/// The file in the state folder that keeps the terminal's last answer.
const REMEMBERED: &str = "terminal-background";

/// Whether the terminal can be asked: stdin and stdout are a terminal that is not `dumb`.
pub fn can_ask() -> bool {
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    !dumb && io::stdin().is_terminal() && io::stdout().is_terminal()
}

/// Reads stdin (raw mode on, [`QUERY`] sent) until the DA1 answer has come, or `timeout`.
pub fn read_answer(timeout: Duration) -> Vec<u8> {
    let stdin = io::stdin();
    let fd = stdin.as_raw_fd();
    let deadline = Instant::now() + timeout;
    let mut answer = Vec::new();
    while device_attributes_end(&answer).is_none() && answer.len() < MAX_ANSWER {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = libc::c_int::try_from(left.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd, for the duration of the call.
        let ready = unsafe { libc::poll(&mut poll, 1, millis) };
        if ready <= 0 {
            if ready < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        // Read from the descriptor itself: stdin's own buffer would keep what it read ahead
        // from crossterm's reader, which reads the descriptor too.
        let mut buf = [0u8; 4096];
        // SAFETY: `buf` is valid for writes of its length for the duration of the call.
        let read = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match usize::try_from(read) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(_) if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    answer
}

/// Where the first complete DA1 answer (`ESC [ ? digits;… c`) in `bytes` ends.
fn device_attributes_end(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = bytes[from..].windows(3).position(|w| w == b"\x1b[?") {
        let start = from + at + 3;
        let body = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit() || **b == b';')
            .count();
        if bytes.get(start + body) == Some(&b'c') {
            return Some(start + body + 1);
        }
        from = start;
    }
    None
}

/// What was read while waiting, apart: the background the terminal said, and the bytes left
/// around its answers, which the person typed meanwhile.
pub fn split(bytes: &[u8]) -> (Option<Background>, Vec<u8>) {
    let background = parse(bytes);
    let mut typed = bytes.to_vec();
    if let Some(start) = typed.windows(5).position(|w| w == b"\x1b]11;") {
        let end = typed[start..]
            .iter()
            .enumerate()
            .find_map(|(i, b)| match b {
                0x07 => Some(i + 1),
                b'\\' if i > 0 && typed[start + i - 1] == 0x1b => Some(i + 1),
                _ => None,
            })
            .map_or(typed.len(), |end| start + end);
        typed.drain(start..end);
    }
    if let Some(end) = device_attributes_end(&typed)
        && let Some(start) = typed[..end].windows(3).rposition(|w| w == b"\x1b[?")
    {
        typed.drain(start..end);
    }
    (background, typed)
}

/// Keys in bytes typed while the answer was awaited, as the input reader would have read them:
/// text, Enter, Tab, Backspace, Esc and Ctrl+letter (plain, or as the disambiguated `CSI … u`
/// keys the terminal sends once kelp asked for them), and a bracketed paste as one paste.
/// Other escape sequences (arrows, function keys) are dropped: they move nothing yet then.
pub fn typed_keys(bytes: &[u8]) -> Vec<Event> {
    const PASTE_START: &[u8] = b"\x1b[200~";
    const PASTE_END: &[u8] = b"\x1b[201~";
    let mut keys = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        // A paste, whole, between its markers (to the end when the end is not there yet).
        if let Some(at) = rest
            .windows(PASTE_START.len())
            .position(|w| w == PASTE_START)
        {
            keys.extend(keys_of(&rest[..at]));
            let pasted = &rest[at + PASTE_START.len()..];
            let end = pasted
                .windows(PASTE_END.len())
                .position(|w| w == PASTE_END)
                .unwrap_or(pasted.len());
            keys.push(Event::Paste(
                String::from_utf8_lossy(&pasted[..end]).into_owned(),
            ));
            rest = pasted.get(end + PASTE_END.len()..).unwrap_or_default();
        } else {
            keys.extend(keys_of(rest));
            rest = &[];
        }
    }
    keys
}

/// The keys in typed bytes that hold no paste.
fn keys_of(bytes: &[u8]) -> Vec<Event> {
    let text = String::from_utf8_lossy(bytes);
    let mut keys = Vec::new();
    let mut chars = text.chars().peekable();
    let key = |code, modifiers| Event::Key(KeyEvent::new(code, modifiers));
    while let Some(c) = chars.next() {
        match c {
            '\r' | '\n' => keys.push(key(KeyCode::Enter, KeyModifiers::NONE)),
            '\t' => keys.push(key(KeyCode::Tab, KeyModifiers::NONE)),
            '\x7f' | '\x08' => keys.push(key(KeyCode::Backspace, KeyModifiers::NONE)),
            '\x1b' => match chars.peek() {
                Some('[') => {
                    chars.next();
                    // Parameters and intermediates, then one final byte.
                    let mut params = String::new();
                    for c in chars.by_ref() {
                        if ('\x40'..='\x7e').contains(&c) {
                            match c {
                                'u' => keys.extend(disambiguated(&params)),
                                // Shift+Tab (plan mode's key) and the arrows, unmodified.
                                'Z' => keys.push(key(KeyCode::BackTab, KeyModifiers::SHIFT)),
                                'A' if params.is_empty() => {
                                    keys.push(key(KeyCode::Up, KeyModifiers::NONE));
                                }
                                'B' if params.is_empty() => {
                                    keys.push(key(KeyCode::Down, KeyModifiers::NONE));
                                }
                                _ => {}
                            }
                            break;
                        }
                        params.push(c);
                    }
                }
                Some('O') => {
                    chars.next();
                    chars.next();
                }
                _ => keys.push(key(KeyCode::Esc, KeyModifiers::NONE)),
            },
            '\x01'..='\x1a' => keys.push(key(
                KeyCode::Char(char::from(b'a' + (c as u8 - 1))),
                KeyModifiers::CONTROL,
            )),
            c if !c.is_control() => keys.push(key(KeyCode::Char(c), KeyModifiers::NONE)),
            _ => {}
        }
    }
    keys
}

/// A key sent as `CSI code[;modifiers] u` (the keyboard protocol's disambiguated keys).
fn disambiguated(params: &str) -> Option<Event> {
    let mut fields = params.split(';');
    let code: u32 = fields.next()?.split(':').next()?.parse().ok()?;
    let mask = fields
        .next()
        .and_then(|m| m.split(':').next()?.parse::<u8>().ok())
        .map_or(0, |m| m.saturating_sub(1));
    let mut modifiers = KeyModifiers::NONE;
    for (bit, modifier) in [
        (1, KeyModifiers::SHIFT),
        (2, KeyModifiers::ALT),
        (4, KeyModifiers::CONTROL),
    ] {
        if mask & bit != 0 {
            modifiers |= modifier;
        }
    }
    let code = match code {
        27 => KeyCode::Esc,
        13 => KeyCode::Enter,
        9 => KeyCode::Tab,
        127 => KeyCode::Backspace,
        other => KeyCode::Char(char::from_u32(other)?),
    };
    Some(Event::Key(KeyEvent::new(code, modifiers)))
}

/// Takes out of `events` an OSC 11 answer that came after the wait for it ended, which the input
/// reader decodes as Alt+`]`, the text of the colour, then Ctrl+G (BEL) or Alt+`\`: typed into
/// the composer it would be noise.
pub fn drop_late_answer(events: &mut Vec<Event>) {
    let key = |event: &Event| match event {
        Event::Key(key) => Some((key.code, key.modifiers)),
        _ => None,
    };
    let Some(start) = events.windows(4).position(|w| {
        let keys: Vec<_> = w.iter().map(key).collect();
        keys == [
            Some((KeyCode::Char(']'), KeyModifiers::ALT)),
            Some((KeyCode::Char('1'), KeyModifiers::NONE)),
            Some((KeyCode::Char('1'), KeyModifiers::NONE)),
            Some((KeyCode::Char(';'), KeyModifiers::NONE)),
        ]
    }) else {
        return;
    };
    let end = events[start..]
        .iter()
        .position(|event| {
            matches!(
                key(event),
                Some((KeyCode::Char('g'), KeyModifiers::CONTROL))
                    | Some((KeyCode::Char('\\'), KeyModifiers::ALT))
            )
        })
        .map_or(events.len(), |at| start + at + 1);
    events.drain(start..end);
}

/// The terminal's answer the last time kelp asked, kept in `state_dir`.
pub fn remembered(state_dir: &Path) -> Option<Background> {
    match std::fs::read_to_string(state_dir.join(REMEMBERED))
        .ok()?
        .trim()
    {
        "light" => Some(Background::Light),
        "dark" => Some(Background::Dark),
        _ => None,
    }
}

/// Keeps the terminal's answer for the next start; a failure only costs that start a re-colour.
pub fn remember(state_dir: &Path, background: Background) {
    if remembered(state_dir) == Some(background) {
        return;
    }
    let shade = match background {
        Background::Light => "light",
        Background::Dark => "dark",
    };
    if crate::private_file::create_private_dir(state_dir).is_ok() {
        let _ = crate::private_file::replace(&state_dir.join(REMEMBERED), shade.as_bytes());
    }
}

/// The background in a terminal's answer: `ESC ] 11 ; rgb:RRRR/GGGG/BBBB` ended by BEL or
/// `ESC \`, with one to four hex digits a channel. Anything else is `None`.
pub fn parse(answer: &[u8]) -> Option<Background> {
    const START: &[u8] = b"\x1b]11;rgb:";
    let at = answer.windows(START.len()).position(|w| w == START)? + START.len();
    let rest = &answer[at..];
    let end = rest.iter().position(|b| *b == 0x07 || *b == 0x1b)?;
    let text = std::str::from_utf8(&rest[..end]).ok()?;
    let mut channels = text.split('/').map(channel);
    let (r, g, b) = (channels.next()??, channels.next()??, channels.next()??);
    if channels.next().is_some() {
        return None;
    }
    Some(if is_light(r, g, b) {
        Background::Light
    } else {
        Background::Dark
    })
}

/// One channel, `0.0..=1.0` from its hex digits (`f`, `ff`, `fff` and `ffff` are all full).
fn channel(hex: &str) -> Option<f64> {
    if hex.is_empty() || hex.len() > 4 {
        return None;
    }
    let value = u16::from_str_radix(hex, 16).ok()?;
    let max = (1u32 << (4 * hex.len())) - 1;
    Some(f64::from(value) / f64::from(max))
}

/// Whether an sRGB colour looks light: its perceived lightness (CIE L*) above the middle, that
/// is a relative luminance above 0.184.
fn is_light(r: f64, g: f64, b: f64) -> bool {
    let linear = |c: f64| {
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    luminance > 0.184
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_of_real_terminals_read_right() {
        // xterm (ESC \), and one ending with BEL; two and four digits a channel.
        assert_eq!(
            parse(b"\x1b]11;rgb:ffff/ffff/ffff\x1b\\\x1b[?62;22c"),
            Some(Background::Light)
        );
        assert_eq!(parse(b"\x1b]11;rgb:1e/1e/2e\x07"), Some(Background::Dark));
        // Solarized light's base3; greys either side of the middle (L* 50 is about #777).
        assert_eq!(
            parse(b"\x1b]11;rgb:fdfd/f6f6/e3e3\x07"),
            Some(Background::Light)
        );
        assert_eq!(
            parse(b"\x1b]11;rgb:8888/8888/8888\x07"),
            Some(Background::Light)
        );
        assert_eq!(
            parse(b"\x1b]11;rgb:6666/6666/6666\x07"),
            Some(Background::Dark)
        );
    }

    #[test]
    fn anything_else_is_no_answer() {
        for answer in [
            &b"\x1b[?62;22c"[..],
            b"\x1b]11;rgb:ffff/ffff\x07",
            b"\x1b]11;rgb:ffff/ffff/ffff/ffff\x07",
            b"\x1b]11;rgb:fffff/0/0\x07",
            b"\x1b]11;rgb:gg/00/00\x07",
            b"\x1b]11;rgb:ff/ff/ff",
            b"",
        ] {
            assert_eq!(parse(answer), None, "{answer:?}");
        }
    }

    #[test]
    fn the_device_attributes_end_the_answer() {
        assert_eq!(
            device_attributes_end(b"\x1b]11;rgb:0/0/0\x07\x1b[?62;22c"),
            Some(24)
        );
        assert_eq!(device_attributes_end(b"\x1b[?1;2cab"), Some(7));
        assert_eq!(device_attributes_end(b"\x1b]11;rgb:0/0/0\x07"), None);
        assert_eq!(device_attributes_end(b"\x1b[?1;2"), None);
        assert_eq!(device_attributes_end(b"abc"), None);
    }

    #[test]
    fn keys_typed_around_the_answers_are_kept_as_keys() {
        let (background, typed) = split(b"hi\x1b]11;rgb:ffff/ffff/ffff\x1b\\\x1b[?62;22cthere\r");
        assert_eq!(background, Some(Background::Light));
        assert_eq!(typed, b"hithere\r");
        let (background, typed) = split(b"a\x1b[?62;22c\x7fb");
        assert_eq!(background, None);
        assert_eq!(typed, b"a\x7fb");

        let keys = typed_keys("é\x1b[A\x04\x7f\r\x1b[Z\x1b[1;5C\x1b".as_bytes());
        let codes: Vec<(KeyCode, KeyModifiers)> = keys
            .iter()
            .map(|event| match event {
                Event::Key(key) => (key.code, key.modifiers),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            codes,
            [
                (KeyCode::Char('é'), KeyModifiers::NONE),
                (KeyCode::Up, KeyModifiers::NONE),
                (KeyCode::Char('d'), KeyModifiers::CONTROL),
                (KeyCode::Backspace, KeyModifiers::NONE),
                (KeyCode::Enter, KeyModifiers::NONE),
                (KeyCode::BackTab, KeyModifiers::SHIFT),
                (KeyCode::Esc, KeyModifiers::NONE),
            ]
        );
    }

    #[test]
    fn a_paste_and_disambiguated_keys_typed_meanwhile_read_as_the_reader_reads_them() {
        let keys = typed_keys(b"a\x1b[200~two\nlines\x1b[201~\x1b[27u\x1b[99;5u");
        assert_eq!(
            keys,
            [
                Event::Key(KeyEvent::new(KeyCode::Char('a'), KeyModifiers::NONE)),
                Event::Paste("two\nlines".into()),
                Event::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
                Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            ]
        );
        // A paste whose end has not come yet is still one paste.
        assert_eq!(
            typed_keys(b"\x1b[200~cut sh"),
            [Event::Paste("cut sh".into())]
        );
    }

    #[test]
    fn an_answer_that_comes_late_is_not_typed() {
        use crossterm::event::KeyEventKind;
        // What the input reader makes of `ESC ] 11;rgb:ffff/ffff/ffff ESC \` between two keys.
        let mut events = typed_keys(b"a");
        events.push(Event::Key(KeyEvent::new(
            KeyCode::Char(']'),
            KeyModifiers::ALT,
        )));
        events.extend(typed_keys(b"11;rgb:ffff/ffff/ffff"));
        events.push(Event::Key(KeyEvent::new(
            KeyCode::Char('\\'),
            KeyModifiers::ALT,
        )));
        events.extend(typed_keys(b"b"));
        drop_late_answer(&mut events);
        let text: String = events
            .iter()
            .filter_map(|event| match event {
                Event::Key(key) if key.kind == KeyEventKind::Press => match key.code {
                    KeyCode::Char(c) => Some(c),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        assert_eq!(text, "ab");
        // Ended by BEL, which the reader reads as Ctrl+G.
        let mut events = vec![Event::Key(KeyEvent::new(
            KeyCode::Char(']'),
            KeyModifiers::ALT,
        ))];
        events.extend(typed_keys(b"11;rgb:0/0/0\x07x"));
        drop_late_answer(&mut events);
        assert_eq!(events, typed_keys(b"x"));
    }

    #[test]
    fn the_last_answer_is_kept_for_the_next_start() {
        let state = tempfile::tempdir().unwrap();
        assert_eq!(remembered(state.path()), None);
        remember(&state.path().join("kelp"), Background::Light);
        assert_eq!(
            remembered(&state.path().join("kelp")),
            Some(Background::Light)
        );
        remember(&state.path().join("kelp"), Background::Dark);
        assert_eq!(
            remembered(&state.path().join("kelp")),
            Some(Background::Dark)
        );
    }
}
