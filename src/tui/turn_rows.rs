//! The rows between the transcript and the composer while a turn runs: the activity line
//! (working, or waiting for you, with the time) and the prompts queued behind the answer; and
//! what kelp is doing, for the window title.

use std::time::{Duration, Instant};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::app::{App, SPINNER, SPINNER_INTERVAL};
use super::theme;
use super::wrap::draw_line;

impl App {
    /// What kelp is doing, for the title and for calling the person back.
    pub fn activity(&self) -> super::attention::Activity {
        use super::attention::Activity;
        match self.turn.clock {
            None => Activity::Idle,
            Some(clock) if clock.is_paused() => Activity::Waiting,
            Some(_) => Activity::Working,
        }
    }

    /// The prompts waiting for the answer to end, newest last, with how to take one back.
    pub(super) fn render_queue(&self, area: Rect, buf: &mut Buffer) {
        let shown = usize::from(area.height);
        // The server's go first: they wait there already.
        let waiting: Vec<(&str, &str)> = self
            .turn
            .server_queue
            .iter()
            .map(|(_, text)| (" ↳ queued on the server ", text.as_str()))
            .chain(
                self.turn
                    .queued
                    .iter()
                    .map(|text| (" ↳ queued ", text.as_str())),
            )
            .collect();
        let hidden = waiting.len().saturating_sub(shown);
        for (row, (label, text)) in waiting.into_iter().skip(hidden).enumerate() {
            let first_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            let hint = match (row + 1 == shown, hidden) {
                (false, _) => String::new(),
                (true, 0) => " · sent when the answer ends · ↑ edits".to_string(),
                (true, n) => format!(" (+{n} more) · sent when the answer ends · ↑ edits"),
            };
            let room = usize::from(area.width).saturating_sub(label.width() + hint.width());
            let spans = vec![
                Span::styled(label, theme::accent()),
                Span::raw(super::wrap::cut(first_line, room.max(8))),
                Span::styled(hint, theme::dim()),
            ];
            let y = area.y + u16::try_from(row).unwrap_or(0);
            draw_line(buf, area.x, y, &Line::from(spans), area.width);
        }
    }

    pub(super) fn render_activity(&self, area: Rect, buf: &mut Buffer) {
        let now = Instant::now();
        let (elapsed, waited) = match (self.turn.clock, self.frozen_time) {
            (Some(clock), None) => (clock.elapsed(now), clock.waited(now)),
            _ => (Duration::ZERO, Duration::ZERO),
        };
        let line = if self.turn.clock.is_some_and(|c| c.is_paused()) {
            // How long it has waited for the person, counting up.
            Line::from(vec![
                Span::styled(" ◇ ", theme::warn()),
                Span::styled("Waiting for you", Style::new().bold()),
                Span::styled(format!(" · {}s", waited.as_secs()), theme::dim()),
            ])
        } else {
            let frame =
                (elapsed.as_millis() / SPINNER_INTERVAL.as_millis()) as usize % SPINNER.len();
            Line::from(vec![
                Span::styled(format!(" {} ", SPINNER[frame]), theme::accent()),
                Span::styled("Working", Style::new().bold()),
                Span::styled(
                    format!(
                        " · {}s · esc to interrupt · enter adds to it · tab queues",
                        elapsed.as_secs()
                    ),
                    theme::dim(),
                ),
            ])
        };
        draw_line(buf, area.x, area.y, &line, area.width);
    }

    /// Rows the queued prompts take: one each, three at most.
    pub(super) fn queue_rows(queued: usize) -> u16 {
        u16::try_from(queued.min(3)).unwrap_or(3)
    }
}
