//! The tools the model calls to read, search and edit the project.

pub mod apply_patch;
pub mod grep_files;
pub mod list_dir;
pub mod paths;
pub mod read_file;
pub mod shell;
pub mod spec;
pub mod update_plan;

pub use paths::is_inside;
pub use spec::tool_specs;
