//! Session files: any bytes load or are refused, and a load stays bounded by the lines.
#![no_main]

use kelp::session::SessionLog;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(log) = SessionLog::parse(std::path::Path::new("/fuzz/s.jsonl"), data) {
        assert!(log.items.len() + log.skipped_lines < data.split(|b| *b == b'\n').count());
    }
});
