//! One request → a stream of typed events: request body, headers, SSE parsing, retries, error
//! classification, models. Runs no tools and draws nothing.

pub mod client;
pub mod error;
pub mod models;
pub mod request;
pub mod sse;
pub mod types;

pub use client::{LlmClient, ResponseStream, StreamSettings};
pub use error::{ErrorCategory, LlmError, LoginKind};
pub use request::{Prompt, ReasoningEffort};
pub use types::ResponseEvent;
