//! Numbers as a person reads them: durations, counts and sizes. One home for every front end
//! and layer, so the same quantity reads the same everywhere.

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

/// `812 B`, `40.0 KB`, `1.5 MB`.
pub fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KB", n as f64 / 1024.0),
        _ => format!("{:.1} MB", n as f64 / 1_048_576.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
