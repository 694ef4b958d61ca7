//! Images attached from the composer: a pasted path to an image file (what a terminal pastes
//! when a file is dragged onto it, quoted or with its blanks escaped, or as a `file://` URL)
//! becomes an image sent with the next prompt instead of text; so does Ctrl+V where the
//! clipboard is this machine's (`wl-paste` or `xclip` on it), saved under kelp's state folder.
//! Over SSH the clipboard is the far machine's, which no program here can read: Ctrl+V says how
//! to attach instead.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::app::App;
use super::call_lines::display_path;
use crate::llm::images;

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
            clipboard_image(&self.status.state_dir, &CLIPBOARD_TOOLS)
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
    // A URL's escapes (`%20` for a blank) decoded; a URL of another host names no file here.
    let named = match unquoted.starts_with("file://") {
        true => url::Url::parse(&unquoted).ok()?.to_file_path().ok()?,
        false => PathBuf::from(unquoted),
    };
    let named = named.to_str()?;
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

/// How long a clipboard tool may take: the UI waits for it (Ctrl+V is asked for).
const CLIPBOARD_WAIT: Duration = Duration::from_secs(2);

/// The programs that read this machine's clipboard as a PNG: `wl-paste`, then `xclip` (a
/// session with both may own its clipboard through either).
const CLIPBOARD_TOOLS: [(&str, &[&str]); 2] = [
    ("wl-paste", &["--no-newline", "--type", "image/png"]),
    (
        "xclip",
        &["-selection", "clipboard", "-t", "image/png", "-o"],
    ),
];

/// The clipboard's image as the first of `tools` that has one gives it, saved as a PNG in
/// kelp's state folder.
fn clipboard_image(state_dir: &Path, tools: &[(&str, &[&str])]) -> Result<PathBuf, String> {
    let mut missing = Vec::new();
    let mut why = None;
    for &(tool, args) in tools {
        match read_clipboard(tool, args) {
            Err(ClipboardTool::Missing) => missing.push(tool),
            Err(ClipboardTool::TooSlow) => {
                why.get_or_insert(format!("{tool} gave no answer in 2 s"));
            }
            Ok(png) if images::sniff(&png) == Some("image/png") => {
                return save_pasted(state_dir, &png)
                    .map_err(|e| format!("cannot save it under {}: {e}", state_dir.display()));
            }
            Ok(_) => {
                why.get_or_insert("the clipboard holds no image".to_string());
            }
        }
    }
    Err(why.unwrap_or_else(|| format!("neither {} is here", missing.join(" nor "))))
}

/// Why a clipboard tool gave nothing.
enum ClipboardTool {
    Missing,
    TooSlow,
}

/// What `tool` printed when it succeeded (empty when it failed), read for at most
/// `CLIPBOARD_WAIT` and `MAX_IMAGE_BYTES`; a tool still running then is killed.
fn read_clipboard(tool: &str, args: &[&str]) -> Result<Vec<u8>, ClipboardTool> {
    use std::process::Stdio;
    let mut child = std::process::Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|_| ClipboardTool::Missing)?;
    let stdout = child.stdout.take().ok_or(ClipboardTool::Missing)?;
    let (sender, read) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.take(images::MAX_IMAGE_BYTES).read_to_end(&mut bytes);
        let _ = sender.send(bytes);
    });
    let Ok(bytes) = read.recv_timeout(CLIPBOARD_WAIT) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(ClipboardTool::TooSlow);
    };
    // Its output closed: it is ending, or lingers holding nothing more for us.
    let status = child.try_wait().ok().flatten();
    if status.is_none() {
        let _ = child.kill();
    }
    let _ = child.wait();
    Ok(if status.is_none_or(|s| s.success()) {
        bytes
    } else {
        Vec::new()
    })
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
        let url = format!("file://{} ", full.display().to_string().replace(' ', "%20"));
        assert_eq!(image_path(&url, root), wanted);
        let elsewhere = format!("file://laptop{}", full.display());
        assert_eq!(image_path(&elsewhere, root), None, "another machine's file");
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

    /// A tool that fails gives way to the next; one that hangs is cut off; none there is said.
    #[test]
    fn ctrl_v_tries_each_clipboard_tool_and_waits_for_none_for_long() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = |name: &str, body: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            path.display().to_string()
        };
        let failing = script("wl-paste", "exit 1");
        let png = script("xclip", r"printf '\211PNG\r\n\032\n0000'");
        let hanging = script("slow", "exec sleep 30");
        let state = dir.path().join("state");
        let saved = clipboard_image(&state, &[(&failing, &[]), (&png, &[])]).unwrap();
        assert_eq!(&std::fs::read(&saved).unwrap()[..4], b"\x89PNG");
        assert!(saved.starts_with(state.join("pasted")));

        let started = std::time::Instant::now();
        let slow = clipboard_image(&state, &[(&hanging, &[]), (&failing, &[])]);
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(
            slow.unwrap_err(),
            format!("{hanging} gave no answer in 2 s")
        );
        let empty = clipboard_image(&state, &[(&failing, &[])]);
        assert_eq!(empty.unwrap_err(), "the clipboard holds no image");
        let none = clipboard_image(
            &state,
            &[("/nowhere/wl-paste", &[]), ("/nowhere/xclip", &[])],
        );
        assert_eq!(
            none.unwrap_err(),
            "neither /nowhere/wl-paste nor /nowhere/xclip is here"
        );
    }
}
