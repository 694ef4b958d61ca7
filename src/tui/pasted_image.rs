//! Images attached from the composer: a pasted path to an image file (what a terminal pastes
//! when a file is dragged onto it, quoted or with its blanks escaped, or as a `file://` URL)
//! becomes an image sent with the next prompt instead of text; so does Ctrl+V where the
//! clipboard is this machine's (`wl-paste` or `xclip` on it), saved under kelp's state folder.
//! Over SSH the clipboard is the far machine's, which no program here can read: Ctrl+V says how
//! to attach instead.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::app::App;
use super::call_lines::display_path;
use crate::agent::images;

impl App {
    /// Tells what waits to go with the next prompt.
    pub(super) fn say_pending_images(&mut self) {
        if self.pending_images.is_empty() {
            return;
        }
        let names: Vec<String> = self
            .pending_images
            .iter()
            .map(|p| display_path(p))
            .collect();
        self.notice(format!("With your next prompt: {}", names.join(", ")));
    }

    /// A paste that is the path of one image file: attached, and `true`; anything else is
    /// left to be pasted as text.
    pub(super) fn attach_pasted_image(&mut self, text: &str) -> bool {
        let Some(path) = image_path(text, &self.status.project_dir) else {
            return false;
        };
        self.pending_images.push(path);
        self.say_pending_images();
        true
    }

    /// Ctrl+V: the image on this machine's clipboard, attached; or why there is none.
    pub(super) fn paste_clipboard_image(&mut self) {
        let over_ssh = ["SSH_CONNECTION", "SSH_TTY"]
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
        let saved = if over_ssh {
            Err("over SSH the clipboard is your own machine's".to_string())
        } else {
            clipboard_image(&self.status.state_dir)
        };
        match saved {
            Ok(path) => {
                self.pending_images.push(path);
                self.say_pending_images();
            }
            Err(why) => self.notice(format!(
                "No image pasted: {why}. Drag the image file onto the terminal (its path \
                 attaches it), or mention it with @."
            )),
        }
    }
}

/// The image file a paste names, when it names one that exists (as a path of this machine,
/// absolute, `~/`, or beneath `project_dir`) and starts as an image does.
fn image_path(text: &str, project_dir: &Path) -> Option<PathBuf> {
    let text = text.trim();
    if text.is_empty() || text.contains('\n') || text.len() > 4096 {
        return None;
    }
    let unquoted = match text.as_bytes() {
        [b'\'', .., b'\''] | [b'"', .., b'"'] => text[1..text.len() - 1].to_string(),
        _ => text.replace("\\ ", " "),
    };
    let named = unquoted.strip_prefix("file://").unwrap_or(&unquoted);
    if !images::has_image_name(named) {
        return None;
    }
    let path = match named.strip_prefix("~/") {
        Some(rest) => PathBuf::from(std::env::var_os("HOME")?).join(rest),
        None => project_dir.join(named),
    };
    let mut head = [0u8; 16];
    let read = std::fs::File::open(&path).and_then(|mut file| file.read(&mut head));
    images::sniff(&head[..read.ok()?]).map(|_| path)
}

/// The clipboard's image, saved as a PNG in kelp's state folder.
fn clipboard_image(state_dir: &Path) -> Result<PathBuf, String> {
    let tools: [(&str, &[&str]); 2] = [
        ("wl-paste", &["--no-newline", "--type", "image/png"]),
        (
            "xclip",
            &["-selection", "clipboard", "-t", "image/png", "-o"],
        ),
    ];
    let mut tried = Vec::new();
    for (tool, args) in tools {
        let Ok(out) = std::process::Command::new(tool)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
        else {
            tried.push(tool);
            continue;
        };
        if !out.status.success() || images::sniff(&out.stdout) != Some("image/png") {
            return Err("the clipboard holds no image".to_string());
        }
        return save_pasted(state_dir, &out.stdout)
            .map_err(|e| format!("cannot save it under {}: {e}", state_dir.display()));
    }
    Err(format!("neither {} is here", tried.join(" nor ")))
}

/// `png` kept as a new private file under `state_dir/pasted/`.
fn save_pasted(state_dir: &Path, png: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write;
    let dir = state_dir.join("pasted");
    crate::private_file::create_private_dir(&dir)?;
    let id: [u8; 8] = crate::random::bytes()?;
    let name: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("{name}.png"));
    let mut file = crate::private_file::private_open_options()
        .write(true)
        .create_new(true)
        .open(&path)?;
    file.write_all(png)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The forms terminals paste a dragged file in; what is no image file stays text.
    #[test]
    fn a_pasted_path_names_an_image_only_when_it_is_one() {
        let dir = tempfile::tempdir().unwrap();
        let png = b"\x89PNG\r\n\x1a\n0000";
        std::fs::write(dir.path().join("my shot.png"), png).unwrap();
        std::fs::write(dir.path().join("fake.png"), b"not an image").unwrap();
        std::fs::write(dir.path().join("notes.txt"), png).unwrap();
        let full = dir.path().join("my shot.png");
        let wanted = Some(full.clone());
        let root = Path::new("/");
        assert_eq!(image_path(&format!("'{}'", full.display()), root), wanted);
        assert_eq!(image_path(&format!("\"{}\"", full.display()), root), wanted);
        let escaped = full.display().to_string().replace(' ', "\\ ");
        assert_eq!(image_path(&escaped, root), wanted);
        assert_eq!(image_path(&format!("file://{escaped} "), root), wanted);
        assert_eq!(image_path("my\\ shot.png", dir.path()), wanted);
        assert_eq!(
            image_path("fake.png", dir.path()),
            None,
            "not an image inside"
        );
        assert_eq!(
            image_path("notes.txt", dir.path()),
            None,
            "not an image's name"
        );
        assert_eq!(image_path("gone.png", dir.path()), None);
        assert_eq!(image_path("look at my shot.png\nplease", dir.path()), None);
    }
}
