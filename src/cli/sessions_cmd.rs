//! `kelp sessions`, and turning `--resume`/`--continue` into a session file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{SecondsFormat, Utc};
use kelp::config::Config;
use kelp::session::{self, SessionSummary};

use super::{exit, fail};

/// How many characters of the first prompt the table shows.
const PROMPT_CHARS: usize = 72;

/// What `--resume`/`--continue` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumeRequest {
    /// `--continue`: the newest conversation of the project directory.
    Latest,
    /// `--resume ID`: the conversation with this id or id prefix.
    Id(String),
}

/// `kelp sessions`.
pub fn list(
    config: &Config,
    project_dir: &Path,
    all: bool,
    json: bool,
    limit: Option<usize>,
) -> ExitCode {
    let filter = (!all).then_some(project_dir);
    let sessions =
        session::list_sessions(&config.state_dir, filter).take(limit.unwrap_or(usize::MAX));
    let sessions = session::shelf::named(&config.state_dir, sessions);
    let mut out = std::io::stdout().lock();
    if json {
        for summary in sessions {
            let line = kelp::terminal_text::json_without_c1(to_json(&summary).to_string());
            if writeln!(out, "{line}").is_err() {
                break; // the reader went away (`| head`)
            }
        }
        return ExitCode::SUCCESS;
    }
    let rows = sessions;
    if rows.is_empty() {
        super::say_err(&none_here(project_dir, all));
        return ExitCode::SUCCESS;
    }
    let table = table(&rows, home().as_deref());
    let _ = out.write_all(kelp::terminal_text::printable_lines(&table).as_bytes());
    ExitCode::SUCCESS
}

/// Resolves `request` to a session file, or prints why not and returns the exit code.
pub fn resolve(
    config: &Config,
    project_dir: &Path,
    request: &ResumeRequest,
) -> Result<PathBuf, ExitCode> {
    match request {
        ResumeRequest::Latest => session::latest_for(&config.state_dir, project_dir)
            .map(|s| s.path)
            .ok_or_else(|| fail(exit::FAILURE, &none_here(project_dir, false))),
        ResumeRequest::Id(id) => session::find(&config.state_dir, id)
            .map(|s| s.path)
            .map_err(|e| fail(exit::FAILURE, &e.to_string())),
    }
}

fn none_here(project_dir: &Path, all: bool) -> String {
    if all {
        "no saved session".to_string()
    } else {
        format!(
            "no saved session for this directory ({})",
            project_dir.display()
        )
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

fn to_json(s: &SessionSummary) -> serde_json::Value {
    serde_json::json!({
        "id": s.id,
        "path": s.path,
        "project_dir": s.project_dir,
        "model": s.model,
        "started_at": s.started_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "first_prompt": s.first_prompt,
        "name": s.name,
        "size": s.size,
    })
}

/// A plain table, columns padded to their widest cell; the prompt last, cut to fit a line.
fn table(rows: &[SessionSummary], home: Option<&Path>) -> String {
    let now = Utc::now();
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|s| {
            let prompt = s.title().unwrap_or("");
            let mut cut: String = prompt.chars().take(PROMPT_CHARS).collect();
            if cut.len() < prompt.len() {
                cut.push('…');
            }
            [
                s.id.to_string()[..8].to_string(),
                age((now - s.started_at).num_seconds()),
                size(s.size),
                tilde(&s.project_dir, home),
                cut,
            ]
        })
        .collect();
    let header = ["ID", "AGE", "SIZE", "DIRECTORY", "TITLE"].map(String::from);
    let mut widths = [0usize; 5];
    for row in std::iter::once(&header).chain(&cells) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in std::iter::once(&header).chain(&cells) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                // Numbers read best right-aligned.
                if i == 1 || i == 2 {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                }
                line.push_str("  ");
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

fn tilde(dir: &Path, home: Option<&Path>) -> String {
    match home.and_then(|home| dir.strip_prefix(home).ok()) {
        Some(rest) if rest.as_os_str().is_empty() => "~".to_string(),
        Some(rest) => format!("~/{}", rest.display()),
        None => dir.display().to_string(),
    }
}

fn age(seconds: i64) -> String {
    let seconds = seconds.max(0);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86_400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86_400),
    }
}

fn size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{:.1} MiB", b / KIB / KIB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_sizes_read_short() {
        assert_eq!(age(-3), "0s");
        assert_eq!(age(59), "59s");
        assert_eq!(age(3599), "59m");
        assert_eq!(age(7200), "2h");
        assert_eq!(age(86_400 * 3), "3d");
        assert_eq!(size(999), "999 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(tilde(Path::new("/h/a/p"), Some(Path::new("/h/a"))), "~/p");
        assert_eq!(tilde(Path::new("/x"), Some(Path::new("/h"))), "/x");
    }
}
