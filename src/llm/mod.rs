//! One request → a stream of typed events. Runs no tools and draws nothing.
//!
//! - `client.rs`: the request, retries of a cut or failed stream (each said as `Retrying`), a
//!   refresh and one more try after a 401.
//! - `request.rs`: body, headers, the instructions from `assets/instructions.md`.
//! - `sse.rs`: SSE → events: `eventsource-stream` fed whole lines (without the `event:` lines kelp
//!   does not read) by a re-slicing adapter, then kelp's own typed parsing.
//! - `error.rs`: failures classified into plain one-line messages; a network or certificate
//!   failure in words.
//! - `models.rs`: model lists and their cache, the default model, context windows, the API key
//!   check. `limits.rs`: the plan's usage windows asked for outside a response. `types.rs`:
//!   history items, events, usage, rate limits. `images.rs`: images (a host's file or URL, an
//!   editor's data, `@shot.png`, what `view_image` shows the model) as image input.

pub mod client;
pub mod error;
pub mod images;
pub mod limits;
pub mod models;
pub mod request;
pub mod sse;
pub mod types;

pub use client::{LlmClient, ResponseStream, StreamSettings};
pub use error::{LlmError, LoginKind};
pub use request::Prompt;
pub use types::ResponseEvent;
