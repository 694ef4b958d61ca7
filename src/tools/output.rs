//! What a command prints, on its way to the model and the person: the first and last bytes of
//! each stream kept and the rest counted, whole lines streamed to a face as they come (a long
//! one in pieces, a cut character never split), and the sink a face hands the tool.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::mpsc;

/// Bytes kept from the start of the output.
pub const HEAD_BYTES: usize = 10 * 1024;
/// Bytes kept from the end of the output.
pub const TAIL_BYTES: usize = 10 * 1024;
/// A streamed line longer than this is passed on in pieces, so memory stays bounded.
pub(super) const MAX_STREAM_LINE: usize = 4 * 1024;
/// Which pipe a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OutputStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line (or one piece of a very long line) of live output, without its newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    /// Which pipe it came from.
    pub stream: OutputStream,
    /// The text, decoded lossily.
    pub text: String,
}

/// Where live output goes while a command runs; cheap to clone.
///
/// The callback runs on the task reading the pipes, so it must not block: send on an
/// unbounded channel or similar.
#[derive(Clone, Default)]
pub struct OutputSink(Option<Receiver>);

/// Takes a command's bytes as they come, by stream.
type TakesBytes = dyn Fn(OutputStream, &[u8]) + Send + Sync;

/// What an [`OutputSink`] passes the output to.
#[derive(Clone)]
enum Receiver {
    /// Line by line, bounded per call (see [`Live`]).
    Lines(Arc<dyn Fn(OutputLine) + Send + Sync>),
    /// Every byte as it is read, unbounded and unchanged: the receiver holds its own cap.
    Bytes(Arc<TakesBytes>),
}

impl OutputSink {
    /// A sink that drops everything.
    pub fn none() -> Self {
        Self(None)
    }

    /// A sink that calls `f` for every line.
    pub fn new(f: impl Fn(OutputLine) + Send + Sync + 'static) -> Self {
        Self(Some(Receiver::Lines(Arc::new(f))))
    }

    /// A sink that calls `f` with every chunk of bytes as the command writes it, nothing cut,
    /// split or added (a host's `command/exec`, which asks for its own cap).
    pub fn bytes(f: impl Fn(OutputStream, &[u8]) + Send + Sync + 'static) -> Self {
        Self(Some(Receiver::Bytes(Arc::new(f))))
    }

    /// A sink that forwards every line to a channel; lines are dropped once the receiver is gone.
    pub fn channel(tx: mpsc::UnboundedSender<OutputLine>) -> Self {
        Self::new(move |line| {
            let _ = tx.send(line);
        })
    }

    pub(super) fn emit(&self, stream: OutputStream, bytes: &[u8]) {
        if let Some(Receiver::Lines(f)) = &self.0 {
            let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
            f(OutputLine {
                stream,
                text: String::from_utf8_lossy(bytes).into_owned(),
            });
        }
    }

    /// Passes `bytes` on whole when the receiver takes bytes; `false` when it takes lines.
    pub(super) fn emit_bytes(&self, stream: OutputStream, bytes: &[u8]) -> bool {
        match &self.0 {
            Some(Receiver::Bytes(f)) => {
                f(stream, bytes);
                true
            }
            _ => false,
        }
    }
}

impl std::fmt::Debug for OutputSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "OutputSink(callback)"
        } else {
            "OutputSink(none)"
        })
    }
}

/// Keeps the first `HEAD_BYTES` and last `TAIL_BYTES` of a stream, counting the rest.
#[derive(Default)]
pub(super) struct Capture {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    pub(super) total: u64,
}

impl Capture {
    pub(super) fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = HEAD_BYTES.saturating_sub(self.head.len());
        let (to_head, rest) = bytes.split_at(room.min(bytes.len()));
        self.head.extend_from_slice(to_head);
        bytes = rest;
        if bytes.len() >= TAIL_BYTES {
            self.tail.clear();
            bytes = &bytes[bytes.len() - TAIL_BYTES..];
        }
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(TAIL_BYTES);
        self.tail.drain(..overflow);
        self.tail.extend(bytes);
    }

    /// The kept text, with `[… N bytes cut …]` where the middle was dropped.
    pub(super) fn render(&self) -> String {
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        let kept = (self.head.len() + tail.len()) as u64;
        if kept == self.total {
            let mut all = self.head.clone();
            all.extend_from_slice(&tail);
            return String::from_utf8_lossy(&all).into_owned();
        }
        let head = trim_partial_char_end(&self.head);
        let tail = trim_partial_char_start(&tail);
        let cut = self.total - (head.len() + tail.len()) as u64;
        let mut text = String::from_utf8_lossy(head).into_owned();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("[… {cut} bytes cut …]\n"));
        text.push_str(&String::from_utf8_lossy(tail));
        text
    }
}

/// Drops an incomplete UTF-8 sequence at the end, left by a byte-count cut.
fn trim_partial_char_end(bytes: &[u8]) -> &[u8] {
    match std::str::from_utf8(bytes) {
        Err(e) if e.error_len().is_none() => &bytes[..e.valid_up_to()],
        _ => bytes,
    }
}

/// Drops UTF-8 continuation bytes at the start, left by a byte-count cut.
fn trim_partial_char_start(bytes: &[u8]) -> &[u8] {
    let skip = bytes
        .iter()
        .take(3)
        .take_while(|&&b| b & 0b1100_0000 == 0b1000_0000)
        .count();
    &bytes[skip..]
}

/// Splits a byte stream into lines for the live sink.
pub(super) struct LineSplitter {
    stream: OutputStream,
    partial: Vec<u8>,
}

impl LineSplitter {
    pub(super) fn new(stream: OutputStream) -> Self {
        Self {
            stream,
            partial: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, bytes: &[u8], live: &mut Live<'_>) {
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            if let Some(line) = piece.strip_suffix(b"\n") {
                self.partial.extend_from_slice(line);
                live.line(self.stream, &self.partial);
                self.partial.clear();
            } else {
                self.partial.extend_from_slice(piece);
                while self.partial.len() >= MAX_STREAM_LINE {
                    let rest = self.partial.split_off(MAX_STREAM_LINE);
                    live.line(self.stream, &self.partial);
                    self.partial = rest;
                }
            }
        }
    }

    pub(super) fn flush(&mut self, live: &mut Live<'_>) {
        if !self.partial.is_empty() {
            live.line(self.stream, &self.partial);
            self.partial.clear();
        }
    }
}

/// The live output of one call, bounded whatever the command prints: the first
/// [`LIVE_HEAD_BYTES`] go to the sink as they come, the last [`LIVE_TAIL_BYTES`] are held and
/// sent when the command ends, after a line saying how many were not shown. Every face shows
/// the stream through the sink, so none holds more than this of one call (a command printing
/// a gigabyte of short lines once grew kelp by seventeen times that).
pub(super) struct Live<'a> {
    sink: &'a OutputSink,
    shown: usize,
    tail: VecDeque<(OutputStream, Vec<u8>)>,
    tail_bytes: usize,
    hidden: u64,
}

/// The live output passed on as it comes, per call.
const LIVE_HEAD_BYTES: usize = 64 * 1024;
/// The live output held back and passed on at the end, per call.
const LIVE_TAIL_BYTES: usize = 16 * 1024;

impl<'a> Live<'a> {
    pub(super) fn new(sink: &'a OutputSink) -> Self {
        Self {
            sink,
            shown: 0,
            tail: VecDeque::new(),
            tail_bytes: 0,
            hidden: 0,
        }
    }

    pub(super) fn line(&mut self, stream: OutputStream, bytes: &[u8]) {
        if self.shown < LIVE_HEAD_BYTES {
            self.shown += bytes.len() + 1;
            self.sink.emit(stream, bytes);
            return;
        }
        self.tail.push_back((stream, bytes.to_vec()));
        self.tail_bytes += bytes.len() + 1;
        while self.tail_bytes > LIVE_TAIL_BYTES {
            let Some((_, dropped)) = self.tail.pop_front() else {
                break;
            };
            self.tail_bytes -= dropped.len() + 1;
            self.hidden += 1;
        }
    }

    /// Passes on what was held back, once the command has ended.
    pub(super) fn finish(&mut self) {
        if self.hidden > 0 {
            let note = format!("… {} lines not shown …", self.hidden);
            self.sink.emit(OutputStream::Stderr, note.as_bytes());
        }
        for (stream, bytes) in self.tail.drain(..) {
            self.sink.emit(stream, &bytes);
        }
        self.tail_bytes = 0;
        self.hidden = 0;
    }
}

/// Everything done with a running command's output: kept for the model in a [`Capture`], and
/// shown as it comes, as raw bytes where the sink takes them and as bounded lines otherwise.
pub(super) struct Received<'a> {
    sink: &'a OutputSink,
    capture: Capture,
    out_lines: LineSplitter,
    err_lines: LineSplitter,
    live: Live<'a>,
}

impl<'a> Received<'a> {
    pub(super) fn new(sink: &'a OutputSink) -> Self {
        Self {
            sink,
            capture: Capture::default(),
            out_lines: LineSplitter::new(OutputStream::Stdout),
            err_lines: LineSplitter::new(OutputStream::Stderr),
            live: Live::new(sink),
        }
    }

    /// `bytes` read from `stream`.
    pub(super) fn took(&mut self, stream: OutputStream, bytes: &[u8]) {
        self.capture.push(bytes);
        if !self.sink.emit_bytes(stream, bytes) {
            let lines = match stream {
                OutputStream::Stdout => &mut self.out_lines,
                OutputStream::Stderr => &mut self.err_lines,
            };
            lines.push(bytes, &mut self.live);
        }
    }

    /// Shows the last unfinished lines and what was left out; what was kept.
    pub(super) fn finish(mut self) -> Capture {
        self.out_lines.flush(&mut self.live);
        self.err_lines.flush(&mut self.live);
        self.live.finish();
        self.capture
    }
}
