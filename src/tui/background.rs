//! The terminal's background colour, asked with OSC 11 (`COLORFGBG` is not forwarded over SSH).
//! The query goes out with a device-attributes request (DA1) behind it, which every terminal
//! answers: a terminal that does not know OSC 11 is told apart by its DA1 answer arriving alone,
//! so only one that answers nothing at all costs the timeout.

use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::highlight::Background;

/// OSC 11 asking for the background, then DA1.
const QUERY: &[u8] = b"\x1b]11;?\x1b\\\x1b[c";

/// The most an answer is read: a colour and the device attributes are a few dozen bytes.
const MAX_ANSWER: usize = 256;

/// Asks the terminal on stdin/stdout, waiting at most `timeout`; `None` when it does not say
/// (not a terminal, `TERM=dumb`, no colour in the answer, no answer in time). Run before the UI
/// reads input: the answer comes in on stdin.
pub fn ask(timeout: Duration) -> Option<Background> {
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    if dumb || !io::stdin().is_terminal() || !io::stdout().is_terminal() {
        return None;
    }
    crossterm::terminal::enable_raw_mode().ok()?;
    let answer = exchange(timeout);
    let _ = crossterm::terminal::disable_raw_mode();
    parse(&answer?)
}

/// Sends the query and reads until the DA1 answer ends what came back, or `timeout`.
fn exchange(timeout: Duration) -> Option<Vec<u8>> {
    let mut out = io::stdout().lock();
    out.write_all(QUERY).ok()?;
    out.flush().ok()?;
    let stdin = io::stdin();
    let fd = stdin.as_raw_fd();
    let deadline = Instant::now() + timeout;
    let mut answer = Vec::new();
    while !ends_with_device_attributes(&answer) && answer.len() < MAX_ANSWER {
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
        let mut buf = [0u8; 64];
        match stdin.lock().read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    Some(answer)
}

/// Whether `bytes` end with a DA1 answer (`ESC [ ? … c`).
fn ends_with_device_attributes(bytes: &[u8]) -> bool {
    bytes.ends_with(b"c")
        && bytes
            .windows(3)
            .rposition(|w| w == b"\x1b[?")
            .is_some_and(|at| {
                bytes[at + 3..bytes.len() - 1]
                    .iter()
                    .all(|b| b.is_ascii_digit() || *b == b';')
            })
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
        assert!(ends_with_device_attributes(
            b"\x1b]11;rgb:0/0/0\x07\x1b[?62;22c"
        ));
        assert!(ends_with_device_attributes(b"\x1b[?1;2c"));
        assert!(!ends_with_device_attributes(b"\x1b]11;rgb:0/0/0\x07"));
        assert!(!ends_with_device_attributes(b"abc"));
    }
}
