//! Copying text: OSC 52 through the terminal (works over SSH), plus the system clipboard tool
//! when one is installed and there is a display to talk to.

use std::io::{self, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine;

/// The OSC 52 sequence that asks the terminal to put `text` on the clipboard.
pub fn osc52(text: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    format!("\x1b]52;c;{encoded}\x07")
}

/// Copies `text` with OSC 52 through `out`, and with the system tool in the background.
pub fn copy(out: &mut impl Write, text: &str) -> io::Result<()> {
    out.write_all(osc52(text).as_bytes())?;
    out.flush()?;
    if let Some((program, args)) = system_tool() {
        let text = text.to_string();
        // The tool may wait on its display; it must never hold up the UI.
        let _ = std::thread::Builder::new()
            .name("kelp-clipboard".into())
            .spawn(move || {
                let child = Command::new(program)
                    .args(args)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn();
                if let Ok(mut child) = child {
                    if let Some(mut stdin) = child.stdin.take() {
                        let _ = stdin.write_all(text.as_bytes());
                    }
                    let _ = child.wait();
                }
            });
    }
    Ok(())
}

/// The clipboard tool of this machine's display, with its arguments, if there is one. Looked
/// up once: it scans `PATH`, and both the copy and its message need it.
pub fn system_tool() -> Option<(&'static str, &'static [&'static str])> {
    static TOOL: std::sync::OnceLock<Option<(&'static str, &'static [&'static str])>> =
        std::sync::OnceLock::new();
    *TOOL.get_or_init(find_system_tool)
}

fn find_system_tool() -> Option<(&'static str, &'static [&'static str])> {
    let has_env = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if cfg!(target_os = "macos") && on_path("pbcopy") {
        return Some(("pbcopy", &[]));
    }
    if has_env("WAYLAND_DISPLAY") && on_path("wl-copy") {
        return Some(("wl-copy", &[]));
    }
    if has_env("DISPLAY") && on_path("xclip") {
        return Some(("xclip", &["-selection", "clipboard"]));
    }
    None
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| Path::new(&dir).join(program).is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_carries_the_text_in_base64() {
        assert_eq!(osc52("ABCD-EFGH"), "\x1b]52;c;QUJDRC1FRkdI\x07");
    }
}
