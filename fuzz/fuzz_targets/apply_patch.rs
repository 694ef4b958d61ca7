//! The apply_patch grammar: any text parses or is refused, and a parse stays bounded.
#![no_main]

use kelp::tools::ApplyPatchCall;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: String| {
    let lines = text.lines().count();
    if let Ok(call) = ApplyPatchCall::parse(text, None) {
        assert!(call.patch.ops.len() <= lines);
    }
});
