//! agent layer.
pub mod core;
pub mod protocol;
pub mod tools;
