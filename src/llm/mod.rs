//! One request → a stream of typed events: request body, headers, SSE parsing, retries, error
//! classification, models. Runs no tools and draws nothing.

pub mod types;
