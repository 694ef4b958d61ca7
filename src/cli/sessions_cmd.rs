//! `kelp sessions`, and turning `--resume`/`--continue` into a session file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{SecondsFormat, Utc};
use kelp::config::Config;
use kelp::protocol::SessionSummary;
use kelp::session;

use super::common::{exit, fail};

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

/// How `kelp sessions` lists: every folder's and the archived ones too, as JSON, how many.
pub struct Listing {
    pub all: bool,
    pub json: bool,
    pub limit: Option<usize>,
}

/// `kelp sessions`.
pub fn list(config: &Config, project_dir: &Path, listing: &Listing) -> ExitCode {
    let Listing { all, json, limit } = *listing;
    let filter = (!all).then_some(project_dir);
    let sessions =
        session::list_sessions(&config.state_dir, filter).take(limit.unwrap_or(usize::MAX));
    let mut sessions = session::shelf::named(&config.state_dir, sessions);
    // Every session: the archived ones too, after the others and marked.
    let archived_from = sessions.len();
    if all {
        let archived = session::list_under(&session::shelf::archived_dir(&config.state_dir), None)
            .take(limit.unwrap_or(usize::MAX).saturating_sub(archived_from));
        sessions.extend(session::shelf::named(&config.state_dir, archived));
    }
    let mut out = std::io::stdout().lock();
    if json {
        for (at, summary) in sessions.iter().enumerate() {
            let mut object = to_json(summary);
            object["archived"] = serde_json::json!(at >= archived_from);
            let line = kelp::terminal_text::json_without_c1(object.to_string());
            if writeln!(out, "{line}").is_err() {
                break; // the reader went away (`| head`)
            }
        }
        return ExitCode::SUCCESS;
    }
    if sessions.is_empty() {
        super::common::say_err(&none_here(project_dir, all));
        return ExitCode::SUCCESS;
    }
    // The agents a team spawned, each under the conversation that spawned it.
    let archived = sessions.split_off(archived_from);
    let mut rows = session::under_parents(sessions);
    rows.extend(archived.into_iter().map(|row| (row, 0)));
    let table = table(&rows, archived_from, home().as_deref());
    let _ = out.write_all(kelp::terminal_text::printable_lines(&table).as_bytes());
    ExitCode::SUCCESS
}

/// `kelp sessions --grep TEXT`: the conversations where `text` was said, newest first (with
/// `--all`, of every folder, then the archived ones), each with the first line that holds it.
pub fn grep(config: &Config, project_dir: &Path, listing: &Listing, text: &str) -> ExitCode {
    if text.trim().is_empty() {
        return fail(exit::USAGE, "--grep needs text to look for");
    }
    let filter = (!listing.all).then_some(project_dir);
    let wanted = listing.limit.unwrap_or(usize::MAX);
    let mut hits = Vec::new();
    let mut shelves = vec![(session::sessions_dir(&config.state_dir), false)];
    if listing.all {
        shelves.push((session::shelf::archived_dir(&config.state_dir), true));
    }
    for (shelf, archived) in shelves {
        if hits.len() >= wanted {
            break;
        }
        session::said::search(&shelf, filter, text, |summary, found| {
            hits.push((summary, found, archived));
            hits.len() < wanted
        });
    }
    let mut out = std::io::stdout().lock();
    if hits.is_empty() {
        let said = format!(
            "No conversation here says {text:?}{}",
            none_here_hint(listing.all)
        );
        super::common::say_err(&kelp::terminal_text::printable(&said));
        return ExitCode::SUCCESS;
    }
    let names: Vec<SessionSummary> = session::shelf::named(
        &config.state_dir,
        hits.iter().map(|(summary, _, _)| summary.clone()),
    );
    if listing.json {
        for ((_, found, archived), summary) in hits.iter().zip(&names) {
            let mut object = to_json(summary);
            object["archived"] = serde_json::json!(archived);
            object["match"] = serde_json::json!({
                "kind": format!("{:?}", found.kind).to_lowercase(),
                "line": found.line,
            });
            let line = kelp::terminal_text::json_without_c1(object.to_string());
            if writeln!(out, "{line}").is_err() {
                break;
            }
        }
        return ExitCode::SUCCESS;
    }
    let archived_from = hits.iter().position(|(_, _, a)| *a).unwrap_or(hits.len());
    let rows: Vec<(SessionSummary, usize)> = names.into_iter().map(|s| (s, 0)).collect();
    let table = table(&rows, archived_from, home().as_deref());
    let mut lines = table.lines();
    let mut shown = format!("{}\n", lines.next().unwrap_or_default());
    for (row, (_, found, _)) in lines.zip(&hits) {
        let said: String = found.line.chars().take(PROMPT_CHARS * 2).collect();
        shown.push_str(&format!(
            "{row}\n  {:<8} {said}\n",
            format!("{:?}:", found.kind).to_lowercase()
        ));
    }
    let _ = out.write_all(kelp::terminal_text::printable_lines(&shown).as_bytes());
    ExitCode::SUCCESS
}

/// What `--grep` adds when nothing here was found: where else to look.
fn none_here_hint(all: bool) -> &'static str {
    if all {
        "."
    } else {
        " (--all looks in every folder's and the archived ones)."
    }
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

/// Where a session a person names is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shelf {
    Saved,
    Archived,
}

/// The session `wanted` names (an id, a prefix of one, or a name) on `shelf`, or the exit
/// code after saying why not.
fn named_session(config: &Config, wanted: &str, shelf: Shelf) -> Result<SessionSummary, ExitCode> {
    looked_up(config, wanted, shelf).map_err(|e| fail(exit::FAILURE, &not_found(&e, shelf)))
}

/// The session `wanted` on `shelf`, or why none is.
fn looked_up(
    config: &Config,
    wanted: &str,
    shelf: Shelf,
) -> Result<SessionSummary, session::SessionError> {
    let root = match shelf {
        Shelf::Saved => session::sessions_dir(&config.state_dir),
        Shelf::Archived => session::shelf::archived_dir(&config.state_dir),
    };
    session::shelf::find_by_id_or_name(&config.state_dir, &root, wanted)
}

/// Why no session was found on `shelf`, with where to look, in one line.
fn not_found(e: &session::SessionError, shelf: Shelf) -> String {
    let hint = match shelf {
        Shelf::Saved => "`kelp sessions --all` lists them",
        Shelf::Archived => "`kelp sessions --all` lists them, the archived ones marked",
    };
    format!("{e} ({hint})")
}

/// `session` with the name it was given, if any.
fn with_name(config: &Config, mut session: SessionSummary) -> SessionSummary {
    session.name = session::shelf::names(&config.state_dir)
        .remove(&session.id)
        .or(session.name);
    session
}

/// A session as a person recognises it: its name or first prompt, and its short id.
fn called(session: &SessionSummary) -> String {
    let short = &session.id.to_string()[..8];
    match session.title() {
        Some(title) => {
            let title: String = title.chars().take(60).collect();
            format!(
                "“{}” ({short})",
                kelp::terminal_text::printable_lines(&title).trim_end()
            )
        }
        None => short.to_string(),
    }
}

/// `kelp fork ID|NAME` or `kelp fork --last`: copies the conversation into a new one and
/// returns the copy's file, for the client to open.
pub fn fork(
    config: &Config,
    project_dir: &Path,
    wanted: Option<&str>,
) -> Result<PathBuf, ExitCode> {
    let source = match wanted {
        Some(wanted) => named_session(config, wanted, Shelf::Saved)?,
        None => session::latest_for(&config.state_dir, project_dir)
            .ok_or_else(|| fail(exit::FAILURE, &none_here(project_dir, false)))?,
    };
    let source = with_name(config, source);
    let copy = session::shelf::fork(&config.state_dir, &source, None)
        .map_err(|e| fail(exit::FAILURE, &e.to_string()))?;
    super::common::say_err(&format!(
        "kelp: forked {} into a new conversation",
        called(&source)
    ));
    Ok(copy)
}

/// `kelp archive ID|NAME`.
pub fn archive(config: &Config, wanted: &str) -> ExitCode {
    let found = match named_session(config, wanted, Shelf::Saved) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let found = with_name(config, found);
    match session::shelf::archive(&config.state_dir, &found) {
        Ok(_) => {
            println!(
                "Archived {}: it leaves the lists until `kelp unarchive {}`.",
                called(&found),
                &found.id.to_string()[..8]
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(exit::FAILURE, &e.to_string()),
    }
}

/// `kelp unarchive ID|NAME`.
pub fn unarchive(config: &Config, wanted: &str) -> ExitCode {
    let found = match named_session(config, wanted, Shelf::Archived) {
        Ok(found) => found,
        Err(code) => return code,
    };
    match session::shelf::unarchive(&config.state_dir, &found.id.to_string()) {
        Ok(back) => {
            let back = with_name(config, back);
            println!("Unarchived {}: it is back in the lists.", called(&back));
            ExitCode::SUCCESS
        }
        Err(e) => fail(exit::FAILURE, &e.to_string()),
    }
}

/// `kelp delete ID|NAME [--yes]`: asks on a terminal unless `yes`; refuses to go unasked
/// anywhere else.
pub fn delete(config: &Config, wanted: &str, yes: bool) -> ExitCode {
    use std::io::IsTerminal;
    // Saved or archived: a miss on the first shelf is said only when the second misses too;
    // any other trouble with the first (two sessions by that name) is said as it is.
    let found = match looked_up(config, wanted, Shelf::Saved) {
        Err(session::SessionError::NoMatch(_)) => {
            looked_up(config, wanted, Shelf::Archived).map_err(|e| not_found(&e, Shelf::Archived))
        }
        other => other.map_err(|e| not_found(&e, Shelf::Saved)),
    };
    let found = match found {
        Ok(found) => found,
        Err(why) => return fail(exit::FAILURE, &why),
    };
    let found = with_name(config, found);
    if !yes {
        if !std::io::stdin().is_terminal() {
            return fail(
                exit::USAGE,
                &format!(
                    "kelp delete asks before it deletes {}: answer on a terminal, or give --yes",
                    called(&found)
                ),
            );
        }
        eprint!(
            "Delete {} for good? Its history cannot come back. [y/N] ",
            called(&found)
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        if std::io::stdin().read_line(&mut answer).is_err()
            || !matches!(answer.trim(), "y" | "Y" | "yes" | "Yes")
        {
            eprintln!("Nothing deleted.");
            return ExitCode::from(exit::FAILURE);
        }
    }
    match session::shelf::delete(&config.state_dir, &found.id.to_string()) {
        Ok(_) => {
            println!("Deleted {}.", called(&found));
            ExitCode::SUCCESS
        }
        Err(e) => fail(exit::FAILURE, &e.to_string()),
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
        "agent": s.agent,
        "side_of": s.side_of,
    })
}

/// A plain table, columns padded to their widest cell; the prompt last, cut to fit a line.
/// The rows from `archived_from` on are archived sessions, marked so.
fn table(rows: &[(SessionSummary, usize)], archived_from: usize, home: Option<&Path>) -> String {
    let now = Utc::now();
    let cells: Vec<[String; 5]> = rows
        .iter()
        .enumerate()
        .map(|(at, (s, depth))| {
            let prompt = s.title().unwrap_or("");
            let mut cut: String = prompt.chars().take(PROMPT_CHARS).collect();
            if cut.len() < prompt.len() {
                cut.push('…');
            }
            if *depth > 0 {
                cut.insert_str(0, &format!("{}└ ", "  ".repeat(depth - 1)));
            }
            if at >= archived_from {
                cut.insert_str(0, "(archived) ");
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
