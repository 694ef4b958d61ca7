//! A conversation's index: any bytes read as one or are refused, and one read places no more
//! lines than its bytes could hold.
#![no_main]

use kelp::session::index::lines_placed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(lines) = lines_placed(data) {
        assert!(lines * 13 <= data.len());
    }
});
