//! The SSE framing and event parser: arbitrary bytes, split at a point the input chooses.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut) * rest.len() / 256;
    let chunks = [
        Bytes::copy_from_slice(&rest[..cut]),
        Bytes::copy_from_slice(&rest[cut..]),
    ];
    let events = kelp::llm::sse::decode_all(chunks);
    assert!(events.len() <= rest.len() / 7 + 1);
});
