//! Randomness from the operating system: login secrets and retry jitter.
//!
//! Straight from `getrandom` (already in the tree through `uuid`): every use here is a few bytes
//! at a time, so no user-space generator is worth its code.

use std::io;
use std::time::Duration;

/// `N` bytes from the operating system's generator. It fails only on a kernel with no
/// randomness to give; a login must then stop rather than go on with a guessable secret.
pub fn bytes<const N: usize>() -> io::Result<[u8; N]> {
    let mut out = [0u8; N];
    fill(&mut out)?;
    Ok(out)
}

fn fill(out: &mut [u8]) -> io::Result<()> {
    getrandom::fill(out)
        .map_err(|e| io::Error::other(format!("the operating system gave no random bytes ({e})")))
}

/// `base × 2^(retry-1)`, spread ±10 % so that processes retrying together drift apart.
/// `retry` is 1-based; the doubling stops at 2^16.
pub fn backoff(base: Duration, retry: u32) -> Duration {
    let nominal = base.saturating_mul(1 << retry.saturating_sub(1).min(16));
    // Without randomness the retry still waits, unspread.
    let unit = getrandom::u32().map_or(0.5, |n| f64::from(n) / f64::from(u32::MAX));
    nominal.mul_f64(0.9 + 0.2 * unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_ten_percent() {
        let base = Duration::from_millis(200);
        for (retry, nominal) in [(1, 200.0), (2, 400.0), (3, 800.0), (5, 3200.0)] {
            for _ in 0..50 {
                let ms = backoff(base, retry).as_secs_f64() * 1000.0;
                assert!(
                    (nominal * 0.9 - 0.01..=nominal * 1.1 + 0.01).contains(&ms),
                    "{retry}: {ms}"
                );
            }
        }
    }

    #[test]
    fn backoff_stops_doubling_at_two_to_the_sixteenth() {
        let base = Duration::from_millis(1);
        let ms = backoff(base, 40).as_secs_f64() * 1000.0;
        assert!((65536.0 * 0.9..=65536.0 * 1.1).contains(&ms), "{ms}");
    }
}
