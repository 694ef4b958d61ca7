//! What the bench binaries share: the median of their samples, picking rows by name, and a
//! process's memory figures.

// Each bench binary compiles this module and uses part of it.
#![allow(dead_code)]

/// The middle sample (the upper one of an even count).
pub fn median<T: Copy + PartialOrd>(mut samples: Vec<T>) -> T {
    samples.sort_by(|a, b| a.partial_cmp(b).expect("comparable samples"));
    samples[samples.len() / 2]
}

/// Whether a row runs: every row, or, given a word after `--bench` (`cargo bench --bench sse
/// 1KiB`), the rows whose names hold it once their spaces are left out.
pub fn row_filter() -> impl Fn(&str) -> bool {
    let only = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    move |name| {
        only.as_deref()
            .is_none_or(|word| name.replace(' ', "").contains(word))
    }
}

/// A memory figure of `/proc/<process>/status` in kB (`VmRSS`, resident now; `VmHWM`, the
/// peak); `process` is a pid, or `self`. 0 where it cannot be read.
pub fn status_kb(process: impl std::fmt::Display, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{process}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|kb| kb.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
