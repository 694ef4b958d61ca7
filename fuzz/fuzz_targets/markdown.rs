//! The Markdown renderer with wrapping, fed as a stream: no panic, and every line fits.
#![no_main]

use kelp::tui::streaming::StreamingMarkdown;
use libfuzzer_sys::fuzz_target;
use unicode_width::UnicodeWidthStr;

fuzz_target!(|input: (u8, String)| {
    let (width, text) = input;
    let width = usize::from(width % 120) + 8;
    let mut md = StreamingMarkdown::new();
    let mut start = 0;
    for (i, _) in text.char_indices().step_by(7) {
        md.push(&text[start..i]);
        let _ = md.lines(width);
        start = i;
    }
    md.push(&text[start..]);
    let _ = md.lines(width);
    md.finish(&text);
    for line in md.lines(width) {
        let shown: usize = line.spans.iter().map(|s| s.content.width()).sum();
        assert!(shown <= width);
    }
});
