//! The tools' opener: the bytes build a tree of folders, files and links (relative, absolute,
//! loops, `..`) beside an outside folder, and every path they name is opened every way the tools
//! open one; nothing outside the project may be opened or created.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../tests/support/opener_tree.rs"]
mod opener_tree;

fuzz_target!(|bytes: &[u8]| {
    // Trees past a few hundred operations add nothing but time.
    if bytes.len() <= 256 {
        opener_tree::check(&opener_tree::build(bytes));
    }
});
