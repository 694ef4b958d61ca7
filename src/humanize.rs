//! Numbers as a person reads them: durations, counts and sizes, and the tail of a long text
//! kept for showing. One home for every front end and layer, so the same quantity reads the
//! same everywhere.

use std::time::Duration;

/// A whole duration in words, for messages: `10 minutes`, `1 minute`, `90 seconds`.
pub fn duration_words(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs >= 60 && secs.is_multiple_of(60) {
        let minutes = secs / 60;
        format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
    } else {
        format!("{secs} second{}", if secs == 1 { "" } else { "s" })
    }
}

/// A wait, rounded up to a unit that suits its size: `45 s`, `4 min`, `3 h`.
pub fn wait(duration: Duration) -> String {
    let secs = duration.as_secs_f64().ceil() as u64;
    match secs {
        0..=90 => format!("{secs} s"),
        91..=5400 => format!("{} min", secs.div_ceil(60)),
        _ => format!("{} h", secs.div_ceil(3600)),
    }
}

/// How long something took: `850ms`, `4.2s`, `3m 05s`.
pub fn elapsed(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        format!("{}m {:02}s", s / 60, s % 60)
    }
}

/// `950`, `12.3k`, `4.5M`.
pub fn count(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=999_999 => format!("{:.1}k", n as f64 / 1_000.0),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

/// `1,234,567`: a count whole, its thousands set apart (Codex's "tokens used").
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (at, digit) in digits.chars().enumerate() {
        if at > 0 && (digits.len() - at).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// ` (12k tokens)`, or nothing when the count is not known (zero): for after a noun.
pub fn tokens_aside(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({} tokens)", count(n))
    }
}

/// `812 B`, `40.0 KB`, `1.5 MB`, `1.5 GB`.
pub fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KB", n as f64 / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MB", n as f64 / 1_048_576.0),
        _ => format!("{:.1} GB", n as f64 / 1_073_741_824.0),
    }
}

/// The last `max` bytes of `text` at most, starting on a character: what is kept of a long
/// output to show.
pub fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Cuts `text` to at most its first `max` bytes, ending on a character; `true` when it cut.
pub fn keep_head(text: &mut String, max: usize) -> bool {
    if text.len() <= max {
        return false;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    true
}

/// Keeps at most the last `max` bytes of `text` once it grows past `limit`, so a growing
/// output is cut now and then, not on every push.
pub fn keep_tail(text: &mut String, max: usize, limit: usize) {
    if text.len() > limit {
        let cut = text.len() - tail(text, max).len();
        text.replace_range(..cut, "");
    }
}

/// A path as messages show it: the home folder as `~`, as the rest of kelp writes it.
pub fn home_path(path: &std::path::Path) -> String {
    let home = std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(std::path::PathBuf::from);
    match home.as_deref().and_then(|h| path.strip_prefix(h).ok()) {
        Some(rest) if rest.as_os_str().is_empty() => "~".to_string(),
        Some(rest) => format!("~/{}", rest.display()),
        None => path.display().to_string(),
    }
}

/// An I/O error as a person reads it: its words, without the errno the system adds.
pub fn io_error(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_io_error_is_said_without_its_number() {
        let missing = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(io_error(&missing), "No such file or directory");
        assert_eq!(io_error(&std::io::Error::other("cut")), "cut");
    }

    #[test]
    fn a_tail_starts_on_a_character_and_keeps_at_most_max_bytes() {
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("ab", 10), "ab");
        // "é" is two bytes: a cut inside it moves to the next character.
        assert_eq!(tail("aéb", 2), "b");
        let mut text = "x".repeat(10);
        keep_tail(&mut text, 4, 20);
        assert_eq!(text.len(), 10, "under the limit nothing is cut");
        text.push_str(&"y".repeat(15));
        keep_tail(&mut text, 4, 20);
        assert_eq!(text, "yyyy");
    }

    #[test]
    fn thousands_are_set_apart_from_the_right() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(358), "358");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(12_345_678), "12,345,678");
    }

    #[test]
    fn each_quantity_reads_as_a_person_would_say_it() {
        assert_eq!(duration_words(Duration::from_secs(600)), "10 minutes");
        assert_eq!(duration_words(Duration::from_secs(60)), "1 minute");
        assert_eq!(duration_words(Duration::from_secs(90)), "90 seconds");
        assert_eq!(wait(Duration::from_millis(44_100)), "45 s");
        assert_eq!(wait(Duration::from_secs(200)), "4 min");
        assert_eq!(wait(Duration::from_secs(3 * 3600)), "3 h");
        assert_eq!(elapsed(Duration::from_millis(850)), "850ms");
        assert_eq!(elapsed(Duration::from_millis(4_240)), "4.2s");
        assert_eq!(elapsed(Duration::from_secs(185)), "3m 05s");
        assert_eq!(count(950), "950");
        assert_eq!(count(12_340), "12.3k");
        assert_eq!(count(4_500_000), "4.5M");
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(40 * 1024), "40.0 KB");
        assert_eq!(bytes(1_572_864), "1.5 MB");
    }
}
