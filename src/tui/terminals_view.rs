//! `/ps` and `/stop`: the conversation's background terminals (commands the model left running
//! with `exec_command`), listed with what finds them (PID, ports, time, last line) and ended.
//! Every list the core sends keeps the status line's count true.

use std::time::Duration;

use super::app::App;
use crate::protocol::BackgroundTerminal;

/// What `/stop ARGUMENT` ends: one terminal by its id, or every one (`None`: no argument,
/// `all`); why not, for anything else.
pub(super) fn stop_target(argument: &str) -> Result<Option<i64>, String> {
    let argument = argument.trim();
    match argument {
        "" | "all" => Ok(None),
        number => number.parse::<i64>().map(Some).map_err(|_| {
            format!(
                "/stop takes a background terminal's number (/ps lists them) or all, not {argument:?}"
            )
        }),
    }
}

impl App {
    /// The core's list: counted on the status line, and shown when `/ps` or `/stop` asked.
    pub(super) fn on_terminals(&mut self, rows: Vec<BackgroundTerminal>) {
        self.status.background_terminals = rows.len();
        if std::mem::take(&mut self.session.awaiting_terminals) {
            self.notice(list_text(&rows));
        }
    }
}

/// The list as `/ps` shows it.
pub(super) fn list_text(rows: &[BackgroundTerminal]) -> String {
    if rows.is_empty() {
        return "No background terminals.".to_string();
    }
    let mut text = format!("Background terminals ({}):", rows.len());
    for row in rows {
        let mut facts = Vec::new();
        if let Some(pid) = row.pid {
            facts.push(format!("pid {pid}"));
        }
        match row.ports.as_slice() {
            [] => {}
            [port] => facts.push(format!("port {port}")),
            ports => {
                let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
                facts.push(format!("ports {}", ports.join(", ")));
            }
        }
        if let Some(kb) = row.rss_kb.filter(|kb| *kb > 0) {
            facts.push(crate::humanize::bytes(kb.saturating_mul(1024)));
        }
        match (row.ended, row.running_for) {
            (Some(Some(code)), _) => facts.push(format!("exited {code}")),
            (Some(None), _) => facts.push("ended".to_string()),
            (None, Some(running)) => facts.push(format!(
                "running {}",
                crate::humanize::wait(round_to_seconds(running))
            )),
            (None, None) => facts.push("running".to_string()),
        }
        text.push_str(&format!(
            "\n  {}  {}\n     {}",
            row.id,
            crate::tools::one_line(&row.command),
            facts.join(" · ")
        ));
        if !row.last_line.is_empty() {
            text.push_str(&format!("\n     {}", row.last_line));
        }
    }
    text.push_str("\n/stop N ends one, /stop all ends every one.");
    text
}

fn round_to_seconds(duration: Duration) -> Duration {
    Duration::from_secs(duration.as_secs())
}
