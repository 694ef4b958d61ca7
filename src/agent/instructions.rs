//! Project instructions: the `AGENTS.md` files a person keeps for the model, gathered into the
//! user-role message that follows the system prompt.
//!
//! Read, in this order: the personal file in the config dir (`~/.config/kelp/AGENTS.md`), then
//! the project's files from the git root (the nearest folder holding `.git`, file or folder)
//! down to the project directory; with no git root, only the project directory's own file.
//! Each is wrapped with its folder so the model knows which tree it governs, as Codex CLI does.
//! Everything together is capped at [`MAX_BYTES`]; what is cut is said in the text.
//!
//! Blocking file reads, bounded by the cap: run off the UI task.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::llm::types::{Content, Item, Role};
use crate::tools::opener::{Approved, Opener};

/// The instruction files' name.
pub const FILE_NAME: &str = "AGENTS.md";
/// The most instruction text sent, over all files (what Codex CLI allows).
pub const MAX_BYTES: usize = 32 * 1024;
/// How every instruction part begins; marks the message as instructions, not a prompt.
use crate::llm::types::INSTRUCTIONS_HEADING as HEADING;
use crate::protocol::InstructionFile;

impl InstructionFile {
    /// Whether the cap left part of it out.
    pub fn is_cut(&self) -> bool {
        self.included < self.bytes
    }
}

/// The instructions for a new conversation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectInstructions {
    /// The user-role message to place after the system prompt; `None` when there are no files.
    pub message: Option<Item>,
    /// The files found, in the order they appear in the message.
    pub files: Vec<InstructionFile>,
    /// Files that exist but could not be read, one line each.
    pub warnings: Vec<String>,
}

/// Gathers the instructions for a conversation in `project_dir`, with the personal file from
/// `config_dir`, capped at [`MAX_BYTES`].
pub fn load(config_dir: &Path, project_dir: &Path) -> ProjectInstructions {
    load_capped(config_dir, project_dir, MAX_BYTES)
}

/// [`load`] with another cap.
pub fn load_capped(config_dir: &Path, project_dir: &Path, cap: usize) -> ProjectInstructions {
    let mut result = ProjectInstructions::default();
    let mut parts = Vec::new();
    let mut left_out = Vec::new();
    let mut used = 0usize;
    let own = config_dir.join(FILE_NAME);
    for path in candidates(config_dir, project_dir) {
        let remaining = cap.saturating_sub(used);
        // The person's own file may be a link to wherever they keep it; a project's files may
        // not lead out of their folder (a cloned repository's `AGENTS.md -> /proc/self/environ`
        // would send kelp's environment to the model).
        let contained = path != own;
        let (text, bytes) = match read_prefix(&path, remaining, contained) {
            Ok(Some(read)) => read,
            Ok(None) => continue,
            Err(e) => {
                result
                    .warnings
                    .push(format!("cannot read {}: {e}", path.display()));
                continue;
            }
        };
        used += text.len();
        let file = InstructionFile {
            path: path.clone(),
            bytes,
            included: text.len() as u64,
        };
        if file.is_cut() {
            left_out.push(path.clone());
        }
        if !text.trim().is_empty() {
            let dir = crate::private_file::parent_dir(&path);
            parts.push(format!(
                "{HEADING}{}\n\n<INSTRUCTIONS>\n{}\n</INSTRUCTIONS>",
                dir.display(),
                text.trim_end()
            ));
        }
        result.files.push(file);
    }
    if !left_out.is_empty() {
        let names: Vec<_> = left_out.iter().map(|p| p.display().to_string()).collect();
        let limit = if cap.is_multiple_of(1024) {
            format!("{} KiB", cap / 1024)
        } else {
            format!("{cap} bytes")
        };
        let note = format!(
            "[Project instructions are limited to {limit}; the rest was left out: {}]",
            names.join(", ")
        );
        match parts.last_mut() {
            Some(last) => {
                last.push_str("\n\n");
                last.push_str(&note);
            }
            None => parts.push(format!("{HEADING}(none sent)\n\n{note}")),
        }
    }
    if !parts.is_empty() {
        result.message = Some(Item::Message {
            role: Role::User,
            content: parts
                .into_iter()
                .map(|text| Content::InputText { text })
                .collect(),
        });
    }
    result
}

/// The instruction files that exist, in message order, each once.
fn candidates(config_dir: &Path, project_dir: &Path) -> Vec<PathBuf> {
    let project_dirs: Vec<&Path> = match project_dir
        .ancestors()
        .position(|dir| dir.join(".git").symlink_metadata().is_ok())
    {
        Some(root) => project_dir.ancestors().take(root + 1).collect(),
        None => vec![project_dir],
    };
    let mut seen = HashSet::new();
    std::iter::once(config_dir)
        .chain(project_dirs.into_iter().rev())
        .map(|dir| dir.join(FILE_NAME))
        .filter(|path| path.is_file())
        .filter(|path| seen.insert(std::fs::canonicalize(path).unwrap_or_else(|_| path.clone())))
        .collect()
}

/// Up to `limit` bytes of the file (cut at a character boundary) and its full size; `None`
/// when it vanished or is no longer a regular file. Opened without waiting, so a FIFO swapped
/// in after the look at it cannot hang the turn; when `contained`, through the tools' opener
/// held on the file's own folder, so a link out of that folder, or a file with other hard
/// links, is refused.
fn read_prefix(
    path: &Path,
    limit: usize,
    contained: bool,
) -> std::io::Result<Option<(String, u64)>> {
    use std::os::unix::fs::MetadataExt;
    let opened = if contained {
        let folder = crate::private_file::parent_dir(path);
        let opener = Opener::new(folder, Approved::Only(Vec::new()))?;
        match opener.open(path) {
            Ok(opened) => Ok(opened),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => Err(std::io::Error::other(e.to_string())),
        }
    } else {
        crate::private_file::open_without_waiting(path)
    };
    let (file, meta) = match opened {
        Ok(opened) => opened,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !meta.is_file() {
        return Ok(None);
    }
    if contained && meta.nlink() > 1 {
        return Err(std::io::Error::other(
            "it has other hard links, which may lie outside the project",
        ));
    }
    let size = meta.len();
    let mut bytes = Vec::new();
    file.take(limit as u64).read_to_end(&mut bytes)?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            // A cut through a multi-byte character ends the text before it; other bad bytes
            // are replaced.
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            if std::str::from_utf8(&bytes[valid..]).is_err() && bytes.len() - valid < 4 {
                String::from_utf8_lossy(&bytes[..valid]).into_owned()
            } else {
                String::from_utf8_lossy(&bytes).into_owned()
            }
        }
    };
    Ok(Some((text, size)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_messages_that_start_with_the_heading_are_instructions() {
        assert!(Item::is_instructions_message(&Item::user_text(format!(
            "{HEADING}/p\n\n<INSTRUCTIONS>\nx\n</INSTRUCTIONS>"
        ))));
        assert!(!Item::is_instructions_message(&Item::user_text("hello")));
        assert!(!Item::is_instructions_message(&Item::assistant_text(
            HEADING
        )));
    }

    #[test]
    fn a_cut_through_a_character_ends_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "aé").unwrap();
        let (text, size) = read_prefix(&path, 2, true).unwrap().unwrap();
        assert_eq!((text.as_str(), size), ("a", 3));
    }

    #[test]
    fn a_projects_instructions_may_not_lead_out_of_their_folder() {
        let config = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("env"), "OPENAI_API_KEY=sk-secret\n").unwrap();
        std::os::unix::fs::symlink(outside.path().join("env"), project.path().join(FILE_NAME))
            .unwrap();
        let loaded = load(config.path(), project.path());
        assert!(loaded.message.is_none(), "{:?}", loaded.message);
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(
            loaded.warnings[0].contains("leads outside"),
            "{:?}",
            loaded.warnings
        );
        // The person's own file may be a link to where they keep it.
        std::fs::remove_file(project.path().join(FILE_NAME)).unwrap();
        std::fs::write(outside.path().join("mine.md"), "be brief\n").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("mine.md"),
            config.path().join(FILE_NAME),
        )
        .unwrap();
        let loaded = load(config.path(), project.path());
        assert!(loaded.message.unwrap().text().contains("be brief"));
    }

    #[test]
    fn a_fifo_swapped_in_is_skipped_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let fifo = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        // With no writer, a blocking open would never return.
        assert!(read_prefix(&path, 100, true).unwrap().is_none());
        assert!(read_prefix(&path, 100, false).unwrap().is_none());
    }
}
