//! Server-sent events of the Responses API: bytes in, typed events out, as the bytes arrive.
//!
//! Framing is `eventsource-stream`'s. It copies the rest of its buffer after every line it
//! reads, so one large network chunk would cost time quadratic in its size, and it scans an
//! unfinished line again with every chunk. [`Reslice`] hands it whole lines, about [`PIECE`]
//! bytes at a time (zero-copy slices of the chunk, but for a line the network cut), which
//! bounds both to a small constant per byte. The same adapter keeps every piece valid UTF-8,
//! replacing bad bytes, because the crate would otherwise hold everything after an invalid
//! byte forever and the stream would stall, and it leaves out the `event:` lines, which kelp
//! does not read and the framer pays for line by line. [`parse_event`] turns each payload into an
//! [`SseEvent`], borrowing the delta text from the payload so it is copied once, into the event.

use std::borrow::Cow;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use eventsource_stream::{EventStream, EventStreamError};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::Value;

use super::error::ServerError;
use super::types::{Item, ResponseEvent};
use crate::protocol::TokenUsage;

/// About how much of a network chunk is handed to the framer at once. The framer copies the
/// rest of the piece after every line, so the copying grows with the piece and the per-piece
/// costs shrink with it: on the SSE bench (16 KiB reads) 4 KiB pieces ran at 263–277 MB/s,
/// 2 KiB at 313–317, 1 KiB at 351–355 and 512 bytes at 268–346.
pub const PIECE: usize = 1024;

/// One event of a response stream, as far as kelp cares: the core's own [`ResponseEvent`], or
/// how the response failed.
#[derive(Debug, Clone, PartialEq)]
pub enum SseEvent {
    /// An event the core takes as it is: created, a delta, an output item, completed.
    Response(ResponseEvent),
    /// `response.failed`
    Failed(ServerError),
    /// `response.incomplete`
    Incomplete { reason: Option<String> },
    /// A top-level `error` event.
    Error(ServerError),
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    delta: Option<Cow<'a, str>>,
    #[serde(default)]
    item: Option<Value>,
    #[serde(default)]
    response: Option<WireResponse>,
    #[serde(default)]
    error: Option<ServerError>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    summary_index: Option<u32>,
}

#[derive(Deserialize)]
struct WireResponse {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<ServerError>,
    #[serde(default)]
    incomplete_details: Option<WireIncomplete>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    input_tokens_details: Option<WireInputDetails>,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    output_tokens_details: Option<WireOutputDetails>,
    #[serde(default)]
    total_tokens: u64,
}

#[derive(Deserialize)]
struct WireInputDetails {
    #[serde(default)]
    cached_tokens: u64,
}

#[derive(Deserialize)]
struct WireOutputDetails {
    #[serde(default)]
    reasoning_tokens: u64,
}

#[derive(Deserialize)]
struct WireIncomplete {
    #[serde(default)]
    reason: Option<String>,
}

/// Why a payload was skipped; carries no content of the payload, so it is safe to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// What kind of problem it was (`syntax`, `data`, `eof`).
    pub category: &'static str,
    /// Where in the payload it was found.
    pub line: usize,
    pub column: usize,
}

impl From<serde_json::Error> for Skipped {
    fn from(e: serde_json::Error) -> Self {
        let category = match e.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "data",
            serde_json::error::Category::Eof => "eof",
        };
        Self {
            category,
            line: e.line(),
            column: e.column(),
        }
    }
}

/// Turns one event payload into an event; `Ok(None)` for event types kelp does not use.
pub fn parse_event(data: &[u8]) -> Result<Option<SseEvent>, Skipped> {
    if let Some(event) = fast_delta(data) {
        return Ok(Some(event));
    }
    let wire: Wire<'_> = serde_json::from_slice(data)?;
    Ok(match wire.kind.as_ref() {
        "response.output_text.delta" => wire
            .delta
            .map(|d| SseEvent::Response(ResponseEvent::TextDelta(d.into_owned()))),
        "response.reasoning_summary_text.delta" => wire
            .delta
            .map(|d| SseEvent::Response(ResponseEvent::ReasoningSummaryDelta(d.into_owned()))),
        "response.reasoning_summary_part.added" => Some(SseEvent::Response(
            ResponseEvent::ReasoningSummaryPartAdded(wire.summary_index.unwrap_or(0)),
        )),
        "response.created" => Some(SseEvent::Response(ResponseEvent::Created)),
        "response.output_item.added" => wire
            .item
            .and_then(item)
            .map(|i| SseEvent::Response(ResponseEvent::OutputItemAdded(i))),
        "response.output_item.done" => wire
            .item
            .and_then(item)
            .map(|i| SseEvent::Response(ResponseEvent::OutputItemDone(i))),
        "response.completed" => {
            let response = wire.response;
            Some(SseEvent::Response(ResponseEvent::Completed {
                response_id: response
                    .as_ref()
                    .and_then(|r| r.id.clone())
                    .unwrap_or_default(),
                usage: response.and_then(|r| r.usage).map(usage),
            }))
        }
        "response.failed" => Some(SseEvent::Failed(
            wire.response.and_then(|r| r.error).unwrap_or_default(),
        )),
        "response.incomplete" => Some(SseEvent::Incomplete {
            reason: wire
                .response
                .and_then(|r| r.incomplete_details)
                .and_then(|d| d.reason),
        }),
        "error" => Some(SseEvent::Error(wire.error.unwrap_or(ServerError {
            code: wire.code,
            message: wire.message,
            ..ServerError::default()
        }))),
        _ => None,
    })
}

/// The hot path: a text or summary delta in the shape servers send it (`type` first, no
/// whitespace, flat scalar fields), read without building a deserializer. Anything it is not
/// sure about — another shape, nesting, escapes in keys, a duplicate field — returns `None` and
/// goes the general way, so it accepts nothing `serde_json` would reject.
fn fast_delta(data: &[u8]) -> Option<SseEvent> {
    const TEXT: &[u8] = b"{\"type\":\"response.output_text.delta\"";
    const SUMMARY: &[u8] = b"{\"type\":\"response.reasoning_summary_text.delta\"";
    let (text, mut at) = if data.starts_with(TEXT) {
        (true, TEXT.len())
    } else if data.starts_with(SUMMARY) {
        (false, SUMMARY.len())
    } else {
        return None;
    };
    let mut delta = None;
    loop {
        match data.get(at)? {
            b'}' if at + 1 == data.len() => break,
            b',' => at += 1,
            _ => return None,
        }
        // A key without escapes, then its value.
        let key_start = at.checked_add(1).filter(|_| data.get(at) == Some(&b'"'))?;
        let key_end = key_start + memchr::memchr2(b'"', b'\\', &data[key_start..])?;
        if data[key_end] != b'"' || data.get(key_end + 1) != Some(&b':') {
            return None;
        }
        let key = &data[key_start..key_end];
        at = key_end + 2;
        match (key, data.get(at)?) {
            (b"type", _) => return None,
            (b"delta", b'"') => {
                if delta.is_some() {
                    return None;
                }
                let end = string_end(data, at)?;
                delta = Some((at, end));
                at = end;
            }
            (b"delta", _) => return None,
            (_, b'"') => at = string_end(data, at)?,
            (_, b'[') if data.get(at + 1) == Some(&b']') => at += 2,
            (_, b'-' | b'0'..=b'9') => {
                let digits = data[at + 1..]
                    .iter()
                    .position(|b| !b.is_ascii_digit())
                    .unwrap_or(data.len() - at - 1);
                let number = &data[at..at + 1 + digits];
                let unsigned = number.strip_prefix(b"-").unwrap_or(number);
                // `-` alone and leading zeros are not JSON numbers.
                if unsigned.is_empty() || (unsigned[0] == b'0' && unsigned.len() > 1) {
                    return None;
                }
                at += number.len();
            }
            (_, b'n') if data[at..].starts_with(b"null") => at += 4,
            (_, b't') if data[at..].starts_with(b"true") => at += 4,
            (_, b'f') if data[at..].starts_with(b"false") => at += 5,
            _ => return None,
        }
    }
    let (start, end) = delta?;
    let raw = &data[start + 1..end - 1];
    let delta = if raw.iter().any(|&b| b == b'\\' || b < 0x20) {
        serde_json::from_slice::<String>(&data[start..end]).ok()?
    } else {
        std::str::from_utf8(raw).ok()?.to_owned()
    };
    Some(if text {
        SseEvent::Response(ResponseEvent::TextDelta(delta))
    } else {
        SseEvent::Response(ResponseEvent::ReasoningSummaryDelta(delta))
    })
}

/// Where the JSON string opening at `data[start]` ends (one past its closing quote).
fn string_end(data: &[u8], start: usize) -> Option<usize> {
    let mut at = start + 1;
    loop {
        at += memchr::memchr2(b'"', b'\\', &data[at..])?;
        if data[at] == b'"' {
            return Some(at + 1);
        }
        at += 2;
        if at > data.len() {
            return None;
        }
    }
}

/// An output item as history keeps it, without its server `id`; `None` for item types kelp
/// does not replay (web searches and the like).
fn item(value: Value) -> Option<Item> {
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    match serde_json::from_value::<Item>(value) {
        Ok(item) => Some(item),
        Err(_) => {
            tracing::debug!(item_type = %kind, "skipped an output item kelp does not keep");
            None
        }
    }
}

fn usage(wire: WireUsage) -> TokenUsage {
    TokenUsage {
        input_tokens: wire.input_tokens,
        cached_input_tokens: wire.input_tokens_details.map_or(0, |d| d.cached_tokens),
        output_tokens: wire.output_tokens,
        reasoning_output_tokens: wire.output_tokens_details.map_or(0, |d| d.reasoning_tokens),
        total_tokens: wire.total_tokens,
    }
}

/// A byte stream re-sliced into pieces of whole lines, each valid UTF-8 (invalid bytes become
/// U+FFFD), without `event:` lines. The framer never sees half a line, so it scans each line
/// once, however long the line and however the network cut it.
pub struct Reslice<S> {
    inner: S,
    /// What is left of the current chunk.
    pending: Bytes,
    /// A line the chunks so far have not finished, in the parts they brought: copied once,
    /// when the line ends, however many chunks it spans.
    unfinished: Vec<Bytes>,
    /// Where an unfinished line is put together; its room is reused from line to line.
    joined: BytesMut,
    /// A piece went out: byte order marks are only stripped before the first.
    started: bool,
    /// The last piece ended in a dropped line's `\r`: a `\n` starting the next one is its end.
    dropped_cr: bool,
    done: bool,
}

impl<S> Reslice<S> {
    /// Re-slices `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            pending: Bytes::new(),
            unfinished: Vec::new(),
            joined: BytesMut::new(),
            started: false,
            dropped_cr: false,
            done: false,
        }
    }

    /// `piece` ready to go out, or `None` when nothing is left of it. The stream's byte order
    /// marks are dropped from the first piece that goes out, after its `event:` lines, so from
    /// whatever the framer reads first: `eventsource-stream` strips one by slicing off one byte
    /// of a three-byte character, which panics.
    fn ship(&mut self, piece: Bytes) -> Option<Bytes> {
        let mut piece = self.without_event_lines(valid_utf8(piece));
        if !self.started {
            while piece.starts_with("\u{FEFF}".as_bytes()) {
                piece = piece.slice(3..);
            }
            self.started = !piece.is_empty();
        }
        (!piece.is_empty()).then_some(piece)
    }

    /// `piece` without its `event:` lines. kelp takes an event's type from its data, as the
    /// Responses API means it to, and an `event:` line costs the framer a scan, an allocation
    /// and a copy of the rest of the piece: a sixth of the bytes of a delta event. Only lines
    /// ending in the first two [`PIECE`]s are looked at (a piece is a cut line and a [`PIECE`]
    /// of lines after it, or one long line), so a long line is not scanned again; an `event:`
    /// line left in is read by the framer as usual. The piece is copied only when a line is
    /// dropped.
    fn without_event_lines(&mut self, mut piece: Bytes) -> Bytes {
        if std::mem::take(&mut self.dropped_cr) && piece.first() == Some(&b'\n') {
            piece = piece.slice(1..);
        }
        let limit = piece.len().min(2 * PIECE);
        // Made at the first line dropped, with room for the whole piece.
        let mut kept: Option<BytesMut> = None;
        let mut at = 0;
        // Everything before `copied` is in `kept`, or dropped.
        let mut copied = 0;
        while let Some(end) = line_end(&piece, at, limit) {
            if piece[at..].starts_with(b"event:") {
                kept.get_or_insert_with(|| BytesMut::with_capacity(piece.len()))
                    .extend_from_slice(&piece[copied..at]);
                copied = end;
                self.dropped_cr = end == piece.len() && piece[end - 1] == b'\r';
            }
            at = end;
        }
        match kept {
            None => piece,
            Some(mut kept) => {
                kept.extend_from_slice(&piece[copied..]);
                kept.freeze()
            }
        }
    }

    /// The next piece of `pending`: the lines in its first [`PIECE`] bytes, or one longer line.
    /// An unfinished line at the end is kept in `unfinished`.
    fn next_piece(&mut self) -> Option<Bytes> {
        if self.pending.is_empty() {
            return None;
        }
        match piece_end(&self.pending) {
            Some(end) => Some(self.pending.split_to(end)),
            None => {
                self.unfinished.push(std::mem::take(&mut self.pending));
                None
            }
        }
    }

    /// Takes in a chunk. An unfinished line goes out with the whole lines after it in the
    /// chunk's first [`PIECE`] bytes, as one piece: small network reads cut most lines, and
    /// each piece costs the framer a copy and an allocation.
    fn take_chunk(&mut self, chunk: Bytes) -> Option<Bytes> {
        if self.unfinished.is_empty() {
            self.pending = chunk;
            return None;
        }
        match piece_end(&chunk) {
            Some(end) => {
                self.pending = chunk.slice(end..);
                Some(self.finish_line(&chunk[..end]))
            }
            None => {
                self.unfinished.push(chunk);
                None
            }
        }
    }

    /// The unfinished line and `rest` as one piece.
    fn finish_line(&mut self, rest: &[u8]) -> Bytes {
        let parts: usize = self.unfinished.iter().map(Bytes::len).sum();
        self.joined.reserve(parts + rest.len());
        for part in self.unfinished.drain(..) {
            self.joined.extend_from_slice(&part);
        }
        self.joined.extend_from_slice(rest);
        self.joined.split().freeze()
    }
}

/// Where a piece of `bytes` ends: after the last line end in its first [`PIECE`] bytes, or
/// after the first one beyond them; `None` when no line ends in `bytes`. `\r` ends a line too:
/// a piece may end between `\r` and `\n`, and the framer waits for the `\n`.
fn piece_end(bytes: &[u8]) -> Option<usize> {
    let window = bytes.len().min(PIECE);
    memchr::memrchr2(b'\n', b'\r', &bytes[..window])
        .map(|at| at + 1)
        .or_else(|| memchr::memchr2(b'\n', b'\r', &bytes[window..]).map(|at| window + at + 1))
}

/// Where the line starting at `bytes[start]` ends, after its `\n`, `\r\n` or `\r`, if that
/// line end is before `limit`.
fn line_end(bytes: &[u8], start: usize, limit: usize) -> Option<usize> {
    let at = start + memchr::memchr2(b'\n', b'\r', bytes.get(start..limit)?)?;
    Some(if bytes[at] == b'\r' && bytes.get(at + 1) == Some(&b'\n') {
        at + 2
    } else {
        at + 1
    })
}

/// `piece` as valid UTF-8, copied only when it has invalid bytes.
fn valid_utf8(piece: Bytes) -> Bytes {
    match std::str::from_utf8(&piece) {
        Ok(_) => piece,
        Err(_) => Bytes::from(String::from_utf8_lossy(&piece).into_owned()),
    }
}

impl<S, E> Stream for Reslice<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(piece) = this.next_piece().and_then(|p| this.ship(p)) {
                return Poll::Ready(Some(Ok(piece)));
            }
            if this.pending.is_empty() && this.done {
                return Poll::Ready(None);
            }
            if !this.pending.is_empty() {
                continue;
            }
            match this.inner.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Some(line) = this.take_chunk(chunk).and_then(|l| this.ship(l)) {
                        return Poll::Ready(Some(Ok(line)));
                    }
                }
                Poll::Ready(None) => {
                    this.done = true;
                    let rest = this.finish_line(&[]);
                    if let Some(rest) = this.ship(rest) {
                        return Poll::Ready(Some(Ok(rest)));
                    }
                }
            }
        }
    }
}

/// Why an event stream ended before its last event.
#[derive(Debug)]
pub enum StreamError<E> {
    /// The connection failed.
    Transport(E),
    /// The bytes are not an event stream.
    Malformed,
}

/// The typed events of an SSE byte stream, as the bytes arrive. Malformed payloads are
/// skipped and logged without their content; they never end the stream.
pub fn events<S, E>(bytes: S) -> impl Stream<Item = Result<SseEvent, StreamError<E>>>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    EventStream::new(Reslice::new(bytes)).filter_map(|event| {
        std::future::ready(match event {
            Ok(event) => decode_payload(event.data.as_bytes()).map(Ok),
            Err(EventStreamError::Transport(e)) => Some(Err(StreamError::Transport(e))),
            Err(EventStreamError::Utf8(_) | EventStreamError::Parser(_)) => {
                Some(Err(StreamError::Malformed))
            }
        })
    })
}

/// One payload to an event, or `None` (logged) when kelp has no use for it.
fn decode_payload(data: &[u8]) -> Option<SseEvent> {
    match parse_event(data) {
        Ok(event) => event,
        // Chat Completions' end marker; some proxies add it.
        Err(_) if data == b"[DONE]" => None,
        Err(why) => {
            tracing::warn!(
                category = why.category,
                line = why.line,
                column = why.column,
                bytes = data.len(),
                "skipped an SSE event whose data is not valid JSON"
            );
            None
        }
    }
}

/// Every event of a stream held in memory, fed in `chunks`; for tests, fuzzing and benches.
/// Stops at the first framing error.
pub fn decode_all(chunks: impl IntoIterator<Item = Bytes>) -> Vec<SseEvent> {
    use futures_util::FutureExt;
    let source =
        futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::convert::Infallible>));
    let mut stream = std::pin::pin!(events(source));
    let mut out = Vec::new();
    // The source is always ready, so every poll completes at once.
    while let Some(Some(Ok(event))) = stream.next().now_or_never() {
        out.push(event);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::WebSearchAction;

    fn deltas(chunks: &[&[u8]]) -> Vec<SseEvent> {
        decode_all(chunks.iter().map(|c| Bytes::copy_from_slice(c)))
    }

    fn delta(text: &str) -> SseEvent {
        SseEvent::Response(ResponseEvent::TextDelta(text.into()))
    }

    #[test]
    fn events_split_anywhere_come_out_the_same() {
        let stream = "event: a\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"é1\"}\n\n: comment\ndata: {\"type\":\"response.output_text.delta\",\r\ndata: \"delta\":\"two\"}\r\n\r\ndata\n\nid: 3\n\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"3\"}\r\r\n".as_bytes();
        same_however_cut(stream, deltas, vec![delta("é1"), delta("two"), delta("3")]);
    }

    /// `decode` gives `want` for `stream` whole, cut anywhere in two, and a byte at a time.
    fn same_however_cut<T: PartialEq + std::fmt::Debug>(
        stream: &[u8],
        decode: impl Fn(&[&[u8]]) -> T,
        want: T,
    ) {
        assert_eq!(decode(&[stream]), want);
        for cut in 0..stream.len() {
            assert_eq!(
                decode(&[&stream[..cut], &stream[cut..]]),
                want,
                "cut at {cut}"
            );
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(decode(&bytes), want);
    }

    #[test]
    fn an_unfinished_event_is_not_emitted_and_a_bom_is_dropped() {
        let d = b"data: {\"type\":\"response.output_text.delta\",\"delta\":\"a\"}\n\n";
        let mut with_bom = b"\xEF\xBB\xBF".to_vec();
        with_bom.extend_from_slice(d);
        with_bom.extend_from_slice(
            b"data: {\"type\":\"response.output_text.delta\",\"delta\":\"b\"}\n",
        );
        assert_eq!(deltas(&[&with_bom]), vec![delta("a")]);
        // The crate panics on a leading BOM; two of them, or one cut in half, reach it never.
        let mut two = b"\xEF\xBB\xBF".to_vec();
        two.extend_from_slice(&with_bom);
        assert_eq!(
            deltas(&[&two[..1], &two[1..5], &two[5..]]),
            vec![delta("a")]
        );
        assert!(deltas(&[b"\xEF\xBB"]).is_empty());
        // Nor when the framer's first line would be one after a dropped `event:` line.
        let behind_event = b"event: a\n\xEF\xBB\xBFdata: {\"type\":\"response.output_text.delta\",\"delta\":\"c\"}\n\n";
        assert_eq!(deltas(&[behind_event]), vec![delta("c")]);
        assert_eq!(
            deltas(&[&behind_event[..9], &behind_event[9..]]),
            vec![delta("c")]
        );
        assert!(deltas(&[b"datax: {}\n\n"]).is_empty());
    }

    #[test]
    fn pieces_are_whole_lines_and_invalid_bytes_do_not_stall_the_stream() {
        let mut stream =
            b"data: {\"type\":\"response.output_text.delta\",\"delta\":\"a\xFF\xC3".to_vec();
        stream.extend_from_slice(
            b"\xA9\"}\n\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"ok\"}\n\n",
        );
        for cut in 0..stream.len() {
            let events = deltas(&[&stream[..cut], &stream[cut..]]);
            assert_eq!(
                events,
                vec![delta("a\u{FFFD}é"), delta("ok")],
                "cut at {cut}"
            );
        }
        assert_eq!(pieces(&[b"ab\ncd", b"ef\ngh"]), ["ab\n", "cdef\n", "gh"]);
        // A line over many chunks goes out whole, with the lines after it.
        assert_eq!(pieces(&[b"a", b"b", b"c", b"d\ne\nf"]), ["abcd\ne\n", "f"]);
    }

    /// `chunks` as a network stream, re-sliced.
    fn resliced(
        chunks: &[&[u8]],
    ) -> Reslice<impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Unpin> {
        let chunks: Vec<_> = chunks
            .iter()
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Reslice::new(futures_util::stream::iter(chunks))
    }

    fn pieces(chunks: &[&[u8]]) -> Vec<Bytes> {
        let pieces = resliced(chunks).map(Result::unwrap).collect::<Vec<_>>();
        futures_util::FutureExt::now_or_never(pieces).unwrap()
    }

    /// The data of each event the framer reads from `chunks`, re-sliced.
    fn payloads_of(chunks: &[&[u8]]) -> Vec<String> {
        let payloads = EventStream::new(resliced(chunks))
            .map(|event| event.unwrap().data)
            .collect::<Vec<_>>();
        futures_util::FutureExt::now_or_never(payloads).unwrap()
    }

    #[test]
    fn a_cut_line_goes_out_with_the_whole_lines_after_it_up_to_a_piece() {
        assert_eq!(
            pieces(&[b"ab\ncd", b"ef\ngh\nij\nkl", b"\n"]),
            ["ab\n", "cdef\ngh\nij\n", "kl\n"]
        );
        // Past the first PIECE bytes of the chunk the lines go out as pieces of their own.
        let long = format!("y\n{}\nz\n", "w".repeat(PIECE));
        let got = pieces(&[b"x", long.as_bytes()]);
        assert_eq!(got[0], "xy\n");
        assert_eq!(got[1..].concat(), long.as_bytes()[2..]);
        assert!(got.iter().all(|p| p.ends_with(b"\n")));
    }

    #[test]
    fn event_lines_are_dropped_before_the_framer_whatever_their_line_ends() {
        assert_eq!(
            pieces(&[b"event: a\ndata: x\n\nevent: b\r\ndata: y\r\n"]),
            ["data: x\n\ndata: y\r\n"]
        );
        // A dropped line's `\r` ends one piece; the `\n` that starts the next is its end too,
        // not a blank line that would end the event early.
        assert_eq!(
            pieces(&[b"data: 1\nevent: a\r", b"\ndata: 2\n\n"]),
            ["data: 1\n", "data: 2\n\n"]
        );
        // Other fields, and `event` without its colon, are the framer's to read.
        assert_eq!(
            pieces(&[b"id: 1\n: hi\nevent\nevents: 2\n"]),
            ["id: 1\n: hi\nevent\nevents: 2\n"]
        );
        let stream: &[u8] = b"event: a\ndata: 1\n\nevent: b\r\ndata: 2\r\ndata: 3\r\n\r\nevent: c\rdata: 4\r\revent: d\n\n";
        same_however_cut(
            stream,
            payloads_of,
            ["1", "2\n3", "4"].map(String::from).to_vec(),
        );
    }

    #[test]
    fn an_event_line_past_the_first_two_pieces_is_left_to_the_framer() {
        // A long line the network cut goes out with the lines after it, in one piece.
        let long = format!("data: {}", "w".repeat(2 * PIECE));
        let rest = b"\nevent: late\ndata: z\n\n";
        let got = pieces(&[long.as_bytes(), rest]);
        assert_eq!(got, [[long.as_bytes(), rest].concat()]);
        assert_eq!(
            payloads_of(&[long.as_bytes(), rest]),
            [format!("{}\nz", "w".repeat(2 * PIECE))]
        );
    }

    #[test]
    fn payloads_become_typed_events() {
        let ev = |s: &str| parse_event(s.as_bytes()).unwrap();
        assert_eq!(
            ev(r#"{"type":"response.output_text.delta","item_id":"m","delta":"hé\"llo"}"#),
            Some(SseEvent::Response(ResponseEvent::TextDelta(
                "hé\"llo".into()
            )))
        );
        assert_eq!(
            ev(r#"{"delta":"why","type":"response.reasoning_summary_text.delta"}"#),
            Some(SseEvent::Response(ResponseEvent::ReasoningSummaryDelta(
                "why".into()
            )))
        );
        assert_eq!(
            ev(
                r#"{"type":"response.output_item.done","item":{"id":"msg_1","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"hi","annotations":[]}]}}"#
            ),
            Some(SseEvent::Response(ResponseEvent::OutputItemDone(
                Item::assistant_text("hi")
            )))
        );
        assert_eq!(
            ev(
                r#"{"type":"response.output_item.done","item":{"id":"fc_1","type":"function_call","name":"shell","arguments":"{}","call_id":"c1"}}"#
            ),
            Some(SseEvent::Response(ResponseEvent::OutputItemDone(
                Item::FunctionCall {
                    name: "shell".into(),
                    arguments: "{}".into(),
                    call_id: "c1".into(),
                    namespace: None,
                }
            )))
        );
        // A web search is kept, its action as the server said it (sources left out).
        assert_eq!(
            ev(
                r#"{"type":"response.output_item.done","item":{"id":"ws_1","type":"web_search_call","status":"completed","action":{"type":"search","query":"rust","sources":[{"type":"url","url":"https://x"}]}}}"#
            ),
            Some(SseEvent::Response(ResponseEvent::OutputItemDone(
                Item::WebSearchCall {
                    status: Some("completed".into()),
                    action: Some(WebSearchAction::Search {
                        query: Some("rust".into()),
                        queries: None
                    })
                }
            )))
        );
        assert_eq!(
            ev(r#"{"type":"response.output_item.done","item":{"type":"image_generation_call"}}"#),
            None
        );
        assert_eq!(
            ev(
                r#"{"type":"response.completed","response":{"id":"resp_1","output":[],"usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":4},"output_tokens":5,"output_tokens_details":{"reasoning_tokens":2},"total_tokens":15}}}"#
            ),
            Some(SseEvent::Response(ResponseEvent::Completed {
                response_id: "resp_1".into(),
                usage: Some(TokenUsage {
                    input_tokens: 10,
                    cached_input_tokens: 4,
                    output_tokens: 5,
                    reasoning_output_tokens: 2,
                    total_tokens: 15
                })
            }))
        );
        assert_eq!(ev(r#"{"type":"response.in_progress"}"#), None);
        let SseEvent::Failed(err) = ev(
            r#"{"type":"response.failed","response":{"error":{"code":"server_error","message":"boom"}}}"#,
        )
        .unwrap() else {
            panic!("failed expected")
        };
        assert_eq!(err.code.as_deref(), Some("server_error"));
        let SseEvent::Error(err) =
            ev(r#"{"type":"error","code":"rate_limit_exceeded","message":"slow"}"#).unwrap()
        else {
            panic!("error expected")
        };
        assert_eq!(err.message.as_deref(), Some("slow"));
        assert_eq!(
            ev(
                r#"{"type":"response.incomplete","response":{"incomplete_details":{"reason":"max_output_tokens"}}}"#
            ),
            Some(SseEvent::Incomplete {
                reason: Some("max_output_tokens".into())
            })
        );
    }

    #[test]
    fn the_fast_delta_path_agrees_with_the_general_one() {
        let general = |data: &str| -> Option<SseEvent> {
            let wire: Wire<'_> = serde_json::from_str(data).ok()?;
            let delta = wire.delta?.into_owned();
            Some(match wire.kind.as_ref() {
                "response.output_text.delta" => SseEvent::Response(ResponseEvent::TextDelta(delta)),
                "response.reasoning_summary_text.delta" => {
                    SseEvent::Response(ResponseEvent::ReasoningSummaryDelta(delta))
                }
                _ => return None,
            })
        };
        let cases = [
            r#"{"type":"response.output_text.delta","sequence_number":5,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"0123456789abcdef","logprobs":[]}"#,
            r#"{"type":"response.output_text.delta","delta":"line\nnext \"q\" \u00e9\\"}"#,
            r#"{"type":"response.output_text.delta","delta":"é ✓ 🎉","obfuscation":"x\"y"}"#,
            r#"{"type":"response.reasoning_summary_text.delta","summary_index":0,"delta":"why"}"#,
            r#"{"type":"response.output_text.delta","delta":""}"#,
            r#"{"type":"response.output_text.delta","n":-12,"ok":true,"no":false,"z":null,"delta":"x"}"#,
            // Shapes the fast path leaves to the general one:
            r#"{"type":"response.output_text.delta","delta":"a","delta":"b"}"#,
            r#"{"type":"response.output_text.delta","delta":"a","type":"other"}"#,
            r#"{"type":"response.output_text.delta", "delta":"spaced"}"#,
            r#"{"type":"response.output_text.delta","x":{"delta":"nested"},"delta":"top"}"#,
            r#"{"type":"response.output_text.delta","x":1.5,"delta":"float"}"#,
            r#"{"type":"response.output_text.delta","delta":"a"}x"#,
            r#"{"type":"response.output_text.delta","delta":"a""#,
            r#"{"type":"response.output_text.delta","delta":"a\"}"#,
            r#"{"type":"response.output_text.delta","n":-,"delta":"a"}"#,
            r#"{"type":"response.output_text.delta","n":007,"delta":"a"}"#,
            r#"{"type":"response.output_text.delta","delta":7}"#,
            r#"{"type":"response.output_text.delta","d\u0065lta":"esc"}"#,
            "{\"type\":\"response.output_text.delta\",\"delta\":\"raw\ttab\"}",
            r#"{"type":"response.output_text.deltas","delta":"no"}"#,
        ];
        for case in cases {
            let fast = fast_delta(case.as_bytes());
            if fast.is_some() {
                assert_eq!(fast, general(case), "{case}");
            }
            assert_eq!(
                parse_event(case.as_bytes()).ok().flatten(),
                general(case).or_else(|| parse_event(case.as_bytes()).ok().flatten()),
                "{case}"
            );
        }
        assert!(fast_delta(cases[0].as_bytes()).is_some());
        assert!(fast_delta(cases[1].as_bytes()).is_some());
        assert!(fast_delta(cases[5].as_bytes()).is_some());
        for rejected in &cases[6..] {
            assert_eq!(fast_delta(rejected.as_bytes()), None, "{rejected}");
        }
        // Every strict prefix of a good payload is malformed, and never accepted.
        for cut in 0..cases[0].len() {
            assert_eq!(fast_delta(&cases[0].as_bytes()[..cut]), None);
        }
    }

    #[test]
    fn malformed_payloads_are_skipped_without_ending_the_stream() {
        let events = deltas(&[
            b"data: {\"type\":\"response.output_text.delta\",\"delta\":\"a\"}\n\ndata: {not json\n\ndata: [DONE]\n\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"b\"}\n\n",
        ]);
        assert_eq!(events, vec![delta("a"), delta("b")]);
        let why = parse_event(b"{\"type\":\"secret-ish").unwrap_err();
        assert_eq!(why.category, "eof");
    }
}
