//! The tools the model calls to read, search and edit the project.

pub mod paths;

pub use paths::is_inside;
