//! agent layer.
pub mod protocol;
pub mod tools;
