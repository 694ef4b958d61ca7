//! SSE parse + event apply on a 4 MiB stream of 16-byte text deltas held in memory, next to a
//! plain byte scan (counting `\n`) of the same buffer. `cargo bench --bench sse`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use kelp::llm::sse::{SseDecoder, SseEvent, SseFramer};

const STREAM_BYTES: usize = 4 * 1024 * 1024;
/// What a socket read typically hands over.
const CHUNK: usize = 16 * 1024;
const ITERATIONS: usize = 31;

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

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    // Only `cargo bench` runs this; test runners that list or run every target get nothing.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let (buf, events) = stream();
    let mb = buf.len() as f64 / 1e6;

    let mut scan_times = Vec::new();
    let mut parse_times = Vec::new();
    let mut whole_times = Vec::new();
    let mut frame_times = Vec::new();
    for _ in 0..ITERATIONS {
        let start = Instant::now();
        let lines = black_box(&buf).iter().filter(|&&b| b == b'\n').count();
        scan_times.push(start.elapsed());
        assert_eq!(lines, events * 3);

        let start = Instant::now();
        let mut framer = SseFramer::new();
        let mut payloads = 0;
        for piece in black_box(&buf).chunks(CHUNK) {
            framer.feed(piece, |data| payloads += data.len().min(1));
        }
        frame_times.push(start.elapsed());
        assert_eq!(payloads, events);

        for (chunk, times) in [(CHUNK, &mut parse_times), (buf.len(), &mut whole_times)] {
            let start = Instant::now();
            let mut decoder = SseDecoder::new();
            let mut text = String::new();
            let mut seen = 0;
            for piece in black_box(&buf).chunks(chunk) {
                decoder.feed(piece, |event| {
                    if let SseEvent::TextDelta(delta) = event {
                        text.push_str(&delta);
                        seen += 1;
                    }
                });
            }
            times.push(start.elapsed());
            assert_eq!(seen, events);
            assert_eq!(text.len(), events * 16);
            black_box(text);
        }
    }

    let report = |name: &str, t: Duration| {
        let secs = t.as_secs_f64();
        println!(
            "{name:<32} {:>8.2} ms  {:>10.0} events/s  {:>8.0} MB/s",
            secs * 1e3,
            events as f64 / secs,
            mb / secs
        );
    };
    println!(
        "{} bytes, {events} delta events, median of {ITERATIONS} runs",
        buf.len()
    );
    let scan = median(scan_times);
    let parse = median(parse_times);
    let whole = median(whole_times);
    report("plain scan (count \\n)", scan);
    report("SSE framing only, 16 KiB reads", median(frame_times));
    report("SSE parse + apply, 16 KiB reads", parse);
    report("SSE parse + apply, one buffer", whole);
    println!(
        "parse + apply runs at {:.0} % of the plain scan's speed (16 KiB reads)",
        100.0 * scan.as_secs_f64() / parse.as_secs_f64()
    );
}
