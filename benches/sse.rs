//! SSE parse + event apply on a 4 MiB stream of 16-byte text deltas held in memory, fed in
//! network chunks of 1 KiB, 16 KiB, 256 KiB and 4 MiB, next to a plain byte scan (counting
//! `\n`) of the same buffer; then one 1 MiB data line (a large tool call). `cargo bench --bench
//! sse`; a word after it runs only the rows whose names hold it (`cargo bench --bench sse 1KiB`).

// Test, bench and fixture code: a failed unwrap is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kelp::llm::sse::{self, SseEvent};
use kelp::llm::types::ResponseEvent;
use support::{median, row_filter};

const STREAM_BYTES: usize = 4 * 1024 * 1024;
const CHUNKS: [(usize, &str); 4] = [
    (1024, "1 KiB"),
    (16 * 1024, "16 KiB"),
    (256 * 1024, "256 KiB"),
    (4 * 1024 * 1024, "4 MiB"),
];
const ITERATIONS: usize = 15;
const LONG_LINE: &str = "one 1 MiB data line, 16 KiB reads";

/// Delta events shaped as the Responses API sends them, until the buffer holds 4 MiB.
fn stream() -> (Vec<u8>, usize) {
    let mut buf = Vec::with_capacity(STREAM_BYTES + 512);
    let mut events = 0;
    while buf.len() < STREAM_BYTES {
        let delta = format!("{:016x}", events as u64 * 0x9e37_79b9);
        buf.extend_from_slice(
            format!(
                "event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"sequence_number\":{events},\"item_id\":\"msg_0123456789abcdef\",\"output_index\":0,\"content_index\":0,\"delta\":\"{delta}\",\"logprobs\":[]}}\n\n"
            )
            .as_bytes(),
        );
        events += 1;
    }
    (buf, events)
}

/// Decodes `buf` in `chunk`-byte reads and applies every delta; checks all arrived.
fn apply(events: impl IntoIterator<Item = SseEvent>, expected: usize) {
    let mut text = String::new();
    let mut seen = 0;
    for event in events {
        if let SseEvent::Response(ResponseEvent::TextDelta(delta)) = event {
            text.push_str(&delta);
            seen += 1;
        }
    }
    assert_eq!(seen, expected);
    assert_eq!(text.len(), expected * 16);
    black_box(text);
}

/// `buf` as network reads of `chunk` bytes (zero-copy slices).
fn reads(buf: &Bytes, chunk: usize) -> impl Iterator<Item = Bytes> + '_ {
    (0..buf.len())
        .step_by(chunk)
        .map(move |at| buf.slice(at..(at + chunk).min(buf.len())))
}

/// One `output_item.done` whose data line is 1 MiB (a large tool call), in `chunk` reads.
fn long_line(chunk: usize) {
    let arguments = "x".repeat(1 << 20);
    let body = format!(
        "data: {{\"type\":\"response.output_item.done\",\"item\":{{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"shell\",\"arguments\":\"{arguments}\"}}}}\n\n"
    );
    let shared = Bytes::from(body);
    let time = median(
        (0..ITERATIONS)
            .map(|_| {
                let start = Instant::now();
                let events = sse::decode_all(reads(&shared, chunk));
                assert_eq!(events.len(), 1);
                start.elapsed()
            })
            .collect(),
    );
    println!(
        "{:<44} {:>8.2} ms  {:>8.0} MB/s",
        LONG_LINE,
        time.as_secs_f64() * 1e3,
        shared.len() as f64 / 1e6 / time.as_secs_f64()
    );
}

fn main() {
    // Only `cargo bench` runs this; test runners that list or run every target get nothing.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let run = row_filter();
    let (buf, events) = stream();
    let mb = buf.len() as f64 / 1e6;
    let shared = Bytes::from(buf.clone());
    println!(
        "{} bytes, {events} delta events, median of {ITERATIONS} runs",
        buf.len()
    );
    let report = |name: &str, t: Duration| {
        let secs = t.as_secs_f64();
        println!(
            "{name:<44} {:>8.2} ms  {:>10.0} events/s  {:>8.0} MB/s",
            secs * 1e3,
            events as f64 / secs,
            mb / secs
        );
    };

    if run("plain scan") {
        let scan = median(
            (0..ITERATIONS)
                .map(|_| {
                    let start = Instant::now();
                    let lines = black_box(&buf).iter().filter(|&&b| b == b'\n').count();
                    assert_eq!(lines, events * 3);
                    start.elapsed()
                })
                .collect(),
        );
        report("plain scan (count \\n)", scan);
    }

    for (chunk, label) in CHUNKS {
        let name = format!("SSE parse + apply, {label} reads");
        if run(&name) {
            let crate_path = median(
                (0..ITERATIONS)
                    .map(|_| {
                        let start = Instant::now();
                        apply(sse::decode_all(reads(&shared, chunk)), events);
                        start.elapsed()
                    })
                    .collect(),
            );
            report(&name, crate_path);
        }
        if chunk == 16 * 1024 && run(LONG_LINE) {
            long_line(chunk);
        }
    }
}
