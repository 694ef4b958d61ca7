//! The terminal's answer to the background query (OSC 11), and the keys typed around it: any
//! bytes, no panic; a well-formed colour always reads as light or dark.
#![no_main]

use kelp::tui::background;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<u8>, [u16; 3])| {
    let (noise, [r, g, b]) = input;
    let _ = background::parse(&noise);
    let (_, typed) = background::split(&noise);
    let mut keys = background::typed_keys(&typed);
    background::drop_late_answer(&mut keys);
    // After noise that holds no answer of its own, a colour is always read.
    let clean = !noise.windows(10).any(|w| w == b"\x1b]11;rgb:");
    let mut answer = noise;
    answer.extend_from_slice(format!("\x1b]11;rgb:{r:x}/{g:x}/{b:x}\x07").as_bytes());
    if clean {
        assert!(background::parse(&answer).is_some());
    }
});
