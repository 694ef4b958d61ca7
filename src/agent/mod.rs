//! agent layer.
pub mod core;
pub mod instructions;
pub mod protocol;
pub mod tools;
