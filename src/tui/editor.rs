//! Ctrl+G: the draft edited in the person's own editor (`$VISUAL`, else `$EDITOR`, else `vi`),
//! the terminal handed over while it runs; what they save comes back as the draft.

use std::io::Write;
use std::path::PathBuf;

use super::app::App;
use super::history_cell::CellKind;
use super::terminal::{self, Tui};

/// The largest draft read back: a prompt, not a file to attach.
const MAX_DRAFT_BYTES: u64 = 1 << 20;

impl App {
    /// The draft to edit, when Ctrl+G asked for it (once).
    pub fn take_edit_request(&mut self) -> Option<String> {
        std::mem::take(&mut self.edit_requested).then(|| self.pane.composer().text().to_string())
    }

    /// Back from the editor: its text becomes the draft, or the draft stays and the reason
    /// is said.
    pub fn edited(&mut self, result: Result<String, String>) {
        match result {
            Ok(text) => self.pane.set_text(&text),
            Err(why) => {
                self.push(CellKind::Error(why));
            }
        }
        self.request_redraw();
    }
}

/// The editor command: `$VISUAL`, else `$EDITOR`, else `vi`.
fn editor() -> String {
    ["VISUAL", "EDITOR"]
        .into_iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.trim().is_empty())
        .unwrap_or_else(|| "vi".to_string())
}

/// Runs the editor on `draft` with the terminal handed over; its saved text, or why not.
pub fn edit(tui: &mut Tui, mouse: bool, draft: &str) -> Result<String, String> {
    let path =
        draft_file(draft).map_err(|e| format!("cannot write the draft for the editor: {e}"))?;
    let editor = editor();
    // Through the shell, so an editor named with its flags (`code --wait`) runs as typed.
    let ran = terminal::hand_over(tui, mouse, || {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{editor} \"$1\""))
            .arg("sh")
            .arg(&path)
            .status()
    });
    let result = match ran {
        Err(e) => Err(format!(
            "the terminal did not come back from the editor: {e}"
        )),
        Ok(Err(e)) => Err(format!("cannot start the editor `{editor}`: {e}")),
        Ok(Ok(status)) if !status.success() => Err(format!(
            "the editor `{editor}` ended with {status}: the draft is as it was"
        )),
        Ok(Ok(_)) => crate::private_file::read_regular(&path, MAX_DRAFT_BYTES)
            .map_err(|e| format!("cannot read the edited draft: {e}"))
            .map(|bytes| {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                // Editors end a file with a newline the prompt did not have.
                text.strip_suffix('\n').unwrap_or(&text).to_string()
            }),
    };
    let _ = std::fs::remove_file(&path);
    result
}

/// A new private file in the temp dir holding `draft`.
fn draft_file(draft: &str) -> std::io::Result<PathBuf> {
    let tag: String = crate::random::bytes::<6>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = std::env::temp_dir().join(format!("kelp-draft-{tag}.md"));
    let mut file = crate::private_file::private_open_options()
        .write(true)
        .create_new(true)
        .open(&path)?;
    file.write_all(draft.as_bytes())?;
    Ok(path)
}
