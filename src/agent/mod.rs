//! agent layer.
pub mod instructions;
pub mod protocol;
pub mod tools;
