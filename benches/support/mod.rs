//! What the bench binaries share: the median of their samples, and picking rows by name.

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
