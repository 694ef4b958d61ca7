//! The items of one response attempt as the core reports them to every face: an id when an
//! answer or a reasoning summary starts, each piece as it grows, its end, and, when the
//! attempt fails and is retried, the ids the retry voids. The faces translate these; none
//! makes up ids or decides what a retry keeps.

use uuid::Uuid;

use super::turn_context::TurnContext;
use crate::llm::types::{Item, Role};
use crate::protocol::WebSearchAction;
use crate::protocol::{Event, ItemId, ItemKind};

/// The items the attempt in flight has started.
#[derive(Debug, Default)]
pub(crate) struct AttemptItems {
    /// The answer streaming now.
    message: Option<ItemId>,
    /// The reasoning summary streaming now, and its text so far.
    reasoning: Option<(ItemId, String)>,
    /// The web search running now.
    web_search: Option<ItemId>,
    /// Every item this attempt started, in order: what a retry voids.
    started: Vec<ItemId>,
}

impl AttemptItems {
    /// A piece of the answer.
    pub fn text(&mut self, ctx: &TurnContext, delta: String) {
        self.end_reasoning(ctx);
        let item = self.message(ctx);
        ctx.emit(Event::TextDelta { item, delta });
    }

    /// The reasoning summary begins part `index`.
    pub fn reasoning_part(&mut self, ctx: &TurnContext, index: u32) {
        let item = self.open_reasoning(ctx);
        ctx.emit(Event::ReasoningPartAdded { item, index });
    }

    /// The reasoning item in flight, started if none is.
    fn open_reasoning(&mut self, ctx: &TurnContext) -> ItemId {
        if let Some((item, _)) = &self.reasoning {
            return item.clone();
        }
        let item = self.start(ctx, "rs", Some(ItemKind::Reasoning));
        self.reasoning = Some((item.clone(), String::new()));
        item
    }

    /// A piece of a reasoning summary.
    pub fn reasoning(&mut self, ctx: &TurnContext, delta: String) {
        self.open_reasoning(ctx);
        if let Some((item, text)) = &mut self.reasoning {
            text.push_str(&delta);
            ctx.emit(Event::ReasoningDelta {
                item: item.clone(),
                delta,
            });
        }
    }

    /// An output item begins: a web search starts (answers and summaries start with their
    /// first piece).
    pub fn added(&mut self, ctx: &TurnContext, item: &Item) {
        if let Item::WebSearchCall { .. } = item {
            self.end_reasoning(ctx);
            let id = self.start(ctx, "ws", None);
            ctx.emit(Event::WebSearchStarted { item: id.clone() });
            self.web_search = Some(id);
        }
    }

    /// An output item is complete: an answer, a reasoning summary or a web search ends (one
    /// that never streamed starts and ends here).
    pub fn done(&mut self, ctx: &TurnContext, item: &Item) {
        match item {
            Item::WebSearchCall { action, .. } => {
                let id = match self.web_search.take() {
                    Some(id) => id,
                    None => {
                        self.end_reasoning(ctx);
                        let id = self.start(ctx, "ws", None);
                        ctx.emit(Event::WebSearchStarted { item: id.clone() });
                        id
                    }
                };
                ctx.emit(Event::WebSearchDone {
                    item: id,
                    action: action.clone().unwrap_or(WebSearchAction::Other),
                });
            }
            Item::Message {
                role: Role::Assistant,
                ..
            } => {
                self.end_reasoning(ctx);
                let id = self.message(ctx);
                self.message = None;
                ctx.emit(Event::MessageDone {
                    item: id,
                    text: item.text(),
                });
            }
            Item::Reasoning { summary, .. } => {
                let whole = summary
                    .iter()
                    .map(|part| part.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n\n");
                if whole.is_empty() {
                    self.end_reasoning(ctx);
                    return;
                }
                // The whole summary, its parts apart, is what the item ends with.
                match &mut self.reasoning {
                    Some((_, text)) => *text = whole,
                    None => {
                        let id = self.start(ctx, "rs", Some(ItemKind::Reasoning));
                        self.reasoning = Some((id, whole));
                    }
                }
                self.end_reasoning(ctx);
            }
            _ => {}
        }
    }

    /// The response is complete: a reasoning summary still open ends.
    pub fn completed(&mut self, ctx: &TurnContext) {
        self.end_reasoning(ctx);
    }

    /// The attempt failed and is retried: every item it started is void, and the next attempt
    /// starts afresh. Returns the voided ids.
    pub fn void(&mut self) -> Vec<ItemId> {
        let voided = std::mem::take(&mut self.started);
        *self = Self::default();
        voided
    }

    fn message(&mut self, ctx: &TurnContext) -> ItemId {
        if let Some(item) = &self.message {
            return item.clone();
        }
        let item = self.start(ctx, "msg", Some(ItemKind::AgentMessage));
        self.message = Some(item.clone());
        item
    }

    fn end_reasoning(&mut self, ctx: &TurnContext) {
        if let Some((item, text)) = self.reasoning.take() {
            ctx.emit(Event::ReasoningDone { item, text });
        }
    }

    /// A new item of this attempt; one that streams text (`kind`) is said to have started.
    fn start(&mut self, ctx: &TurnContext, prefix: &str, kind: Option<ItemKind>) -> ItemId {
        let item: ItemId = format!("{prefix}_{}", Uuid::new_v4().simple()).into();
        self.started.push(item.clone());
        if let Some(kind) = kind {
            ctx.emit(Event::ItemStarted {
                item: item.clone(),
                kind,
            });
        }
        item
    }
}
