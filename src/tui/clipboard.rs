//! Copying text: through tmux when kelp runs inside it (tmux ignores an application's OSC 52
//! in its default setup), else OSC 52 through the terminal (works over SSH); plus the system
//! clipboard tool when one is installed and there is a display to talk to.

use std::io::{self, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine;

/// The OSC 52 sequence that asks the terminal to put `text` on the clipboard.
pub fn osc52(text: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    format!("\x1b]52;c;{encoded}\x07")
}

/// How a copy went, so that what kelp says claims no more than what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copied {
    /// The display's clipboard tool took it.
    Tool(&'static str),
    /// tmux's paste buffer took it; `forwarded` when tmux was also told to pass it on to the
    /// terminal's clipboard (`load-buffer -w`, tmux 3.2 and later).
    Tmux { forwarded: bool },
    /// The terminal was asked with OSC 52; whether it obliged cannot be known.
    Asked,
}

impl Copied {
    /// The status line's words for copying what `label` names.
    pub fn message(self, label: &str) -> String {
        match self {
            Self::Tool(tool) => format!("copied the {label} (with {tool})"),
            Self::Tmux { forwarded: true } => {
                format!("copied the {label} into tmux's buffer, passed on to the terminal")
            }
            Self::Tmux { forwarded: false } => format!(
                "copied the {label} into tmux's buffer; for the clipboard too: \
                 tmux set -g set-clipboard on"
            ),
            Self::Asked => format!("sent the {label} to the terminal's clipboard (OSC 52)"),
        }
    }
}

/// Copies `text`: into tmux's buffer inside tmux, else (or when tmux is too old to pass it on)
/// with OSC 52 through `out`; and with the system tool in the background.
pub fn copy(out: &mut impl Write, text: &str) -> io::Result<Copied> {
    let tmux = std::env::var_os("TMUX")
        .filter(|v| !v.is_empty())
        .and_then(|_| through_tmux(text));
    if tmux != Some(Copied::Tmux { forwarded: true }) {
        out.write_all(osc52(text).as_bytes())?;
        out.flush()?;
    }
    let tool = system_tool();
    if let Some((program, args)) = tool {
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
    Ok(match (tool, tmux) {
        (Some((tool, _)), _) => Copied::Tool(tool),
        (None, Some(tmux)) => tmux,
        (None, None) => Copied::Asked,
    })
}

/// Loads `text` into tmux's buffer, asking tmux to pass it on to the terminal (`-w`) where
/// this tmux can; `None` when tmux would not take it at all.
fn through_tmux(text: &str) -> Option<Copied> {
    let load = |args: &[&str]| {
        let mut child = Command::new("tmux")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut stdin = child.stdin.take()?;
        let written = stdin.write_all(text.as_bytes());
        drop(stdin);
        let status = child.wait().ok()?;
        (written.is_ok() && status.success()).then_some(())
    };
    if load(&["load-buffer", "-w", "-"]).is_some() {
        return Some(Copied::Tmux { forwarded: true });
    }
    load(&["load-buffer", "-"]).map(|()| Copied::Tmux { forwarded: false })
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
