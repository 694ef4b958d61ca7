//! A language server's output: any bytes read as framed messages or end the stream, never a
//! panic, never more messages than their headers could frame; and the reviewer's answer read or
//! refused, an allow only ever from an `outcome` of `allow`.
#![no_main]

use kelp::agent::auto_review::prompt::read_answer;
use kelp::tools::lsp::client::read_message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut reader = tokio::io::BufReader::new(data);
        let mut read = 0;
        while read_message(&mut reader).await.is_some() {
            read += 1;
        }
        // The shortest frame: `content-length:1`, a newline, a blank line, one byte of JSON.
        assert!(read * 19 <= data.len());
    });
    if let Ok(answer) = read_answer(&String::from_utf8_lossy(data)) {
        assert!(!answer.allow || String::from_utf8_lossy(data).contains("allow"));
    }
});
