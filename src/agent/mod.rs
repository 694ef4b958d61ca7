//! agent layer.
pub mod tools;
