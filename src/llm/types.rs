//! The data the Responses API speaks, shared by the agent and the UI.

use crate::protocol::{RateLimits, TokenUsage, WebSearchAction};
use serde::{Deserialize, Serialize};

/// One item of conversation history, replayed statelessly as the request's `input`
/// (PROTOCOL.md §6). Server `id` fields are dropped on purpose: with `store:false` they refer
/// to nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item {
    /// A user, assistant or developer message.
    Message { role: Role, content: Vec<Content> },
    /// Reasoning the model did; `encrypted_content` must be replayed or multi-turn reasoning breaks.
    Reasoning {
        #[serde(default)]
        summary: Vec<ReasoningSummary>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        encrypted_content: Option<String>,
    },
    /// The model asks for a tool to run; `arguments` is a JSON string.
    FunctionCall {
        name: String,
        arguments: String,
        call_id: String,
        /// The namespace of a tool offered in one (Codex's `collaboration`), sent back as it came.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
    },
    /// What a tool call produced, matched by `call_id`.
    FunctionCallOutput { call_id: String, output: CallOutput },
    /// A web search the model ran with the Responses API's own tool: nothing runs here; the
    /// item is kept so the model sees its search again, as Codex keeps it.
    WebSearchCall {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        action: Option<WebSearchAction>,
    },
}

impl WebSearchAction {
    /// The search in a few words, as Codex says it: the query (the first of several, then
    /// ` ...`), the page opened, or `'pattern' in page`; empty for another action.
    pub fn detail(&self) -> String {
        match self {
            Self::Search {
                query: Some(query), ..
            } if !query.is_empty() => query.clone(),
            Self::Search {
                queries: Some(queries),
                ..
            } => match queries.as_slice() {
                [] => String::new(),
                [one] => one.clone(),
                [first, ..] => format!("{first} ..."),
            },
            Self::Search { .. } | Self::Other => String::new(),
            Self::OpenPage { url } => url.clone().unwrap_or_default(),
            Self::FindInPage { url, pattern } => match (pattern, url) {
                (Some(pattern), Some(url)) => format!("'{pattern}' in {url}"),
                (Some(pattern), None) => format!("'{pattern}'"),
                (None, url) => url.clone().unwrap_or_default(),
            },
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Assistant,
    Developer,
    System,
}

/// A part of a message's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    /// Text the user (or kelp, as a developer message) sends.
    InputText { text: String },
    /// Text the model wrote.
    OutputText { text: String },
    /// An image the user sends: an `https:` URL or a `data:` URL with base64 bytes.
    InputImage {
        image_url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

/// What a tool call gives the model: its text, sent as a string, and the images a tool showed
/// it (`view_image`), which make the output Codex's content items (the text, then each image).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallOutput {
    pub text: String,
    /// `data:` URLs.
    pub images: Vec<String>,
}

impl From<String> for CallOutput {
    fn from(text: String) -> Self {
        Self {
            text,
            images: Vec::new(),
        }
    }
}

impl From<&str> for CallOutput {
    fn from(text: &str) -> Self {
        Self::from(text.to_string())
    }
}

impl std::ops::Deref for CallOutput {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl Serialize for CallOutput {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.images.is_empty() {
            return serializer.serialize_str(&self.text);
        }
        let text = (!self.text.is_empty()).then(|| Content::InputText {
            text: self.text.clone(),
        });
        let images = self.images.iter().map(|url| Content::InputImage {
            image_url: url.clone(),
            detail: Some("high".to_string()),
        });
        let parts: Vec<Content> = text.into_iter().chain(images).collect();
        parts.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for CallOutput {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Said {
            Text(String),
            Parts(Vec<Content>),
        }
        Ok(match Said::deserialize(deserializer)? {
            Said::Text(text) => Self::from(text),
            Said::Parts(parts) => {
                let mut output = Self::default();
                for part in parts {
                    match part {
                        Content::InputText { text } | Content::OutputText { text } => {
                            output.text.push_str(&text)
                        }
                        Content::InputImage { image_url, .. } => output.images.push(image_url),
                    }
                }
                output
            }
        })
    }
}

/// One part of a reasoning summary (`{"type":"summary_text","text":…}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasoningSummary {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: String,
}

/// How the message that carries the project's instruction files (AGENTS.md) starts: it is built
/// by the agent, saved in sessions and replayed, but never shown as something the person typed.
pub const INSTRUCTIONS_HEADING: &str = "# AGENTS.md instructions for ";

/// How the part of the instructions message that lists the skills starts (the message's only
/// part where there are skills and no `AGENTS.md`).
pub const SKILLS_HEADING: &str = "# Skills";

/// How a part of a user message that carries a file the person mentioned (`@path`) starts,
/// followed by the path: the part is sent and saved, but shown as "attached", not as typed text.
pub const ATTACHMENT_HEADING: &str = "# Attached file (mentioned with @): ";

/// The line before an image of a user message, followed by its path or how it came: the
/// image's name for the model, shown as "attached" when a session is resumed.
pub const IMAGE_HEADING: &str = "# Attached image: ";

/// How a compaction's summary is introduced to the model in the requests that follow.
pub const SUMMARY_HEADING: &str =
    "This conversation was compacted to fit the context window. A summary of it so far:";

impl Item {
    /// Whether this is the instructions message (not something the person typed).
    pub fn is_instructions_message(&self) -> bool {
        match self {
            Item::Message {
                role: Role::User,
                content,
            } => matches!(
                content.first(),
                Some(Content::InputText { text })
                    if text.starts_with(INSTRUCTIONS_HEADING) || text.starts_with(SKILLS_HEADING)
            ),
            _ => false,
        }
    }

    /// Whether this is something the person said: a user message other than the
    /// instructions. Each one starts a turn.
    pub fn is_prompt(&self) -> bool {
        matches!(
            self,
            Item::Message {
                role: Role::User,
                ..
            }
        ) && !self.is_instructions_message()
    }

    /// A user message with one text part.
    pub fn user_text(text: impl Into<String>) -> Self {
        Self::Message {
            role: Role::User,
            content: vec![Content::InputText { text: text.into() }],
        }
    }

    /// A developer message with one text part: kelp's words to the model, not the person's.
    pub fn developer_text(text: impl Into<String>) -> Self {
        Self::Message {
            role: Role::Developer,
            content: vec![Content::InputText { text: text.into() }],
        }
    }

    /// An assistant message with one text part.
    pub fn assistant_text(text: impl Into<String>) -> Self {
        Self::Message {
            role: Role::Assistant,
            content: vec![Content::OutputText { text: text.into() }],
        }
    }

    /// What the person typed in a user message: its text without the attached files.
    pub fn typed_text(&self) -> String {
        match self {
            Self::Message { content, .. } => content
                .iter()
                .filter_map(|c| match c {
                    Content::InputText { text }
                        if text.starts_with(ATTACHMENT_HEADING)
                            || text.starts_with(IMAGE_HEADING) =>
                    {
                        None
                    }
                    Content::InputText { text } | Content::OutputText { text } => {
                        Some(text.as_str())
                    }
                    Content::InputImage { .. } => None,
                })
                .collect(),
            _ => String::new(),
        }
    }

    /// The paths of the files attached to a user message, in order.
    pub fn attached_paths(&self) -> Vec<&str> {
        match self {
            Self::Message { content, .. } => content
                .iter()
                .filter_map(|c| match c {
                    Content::InputText { text } => text
                        .strip_prefix(ATTACHMENT_HEADING)
                        .or_else(|| text.strip_prefix(IMAGE_HEADING))
                        .and_then(|rest| rest.lines().next()),
                    Content::OutputText { .. } | Content::InputImage { .. } => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The concatenated text of a message; empty for other items.
    pub fn text(&self) -> String {
        match self {
            Self::Message { content, .. } => content
                .iter()
                .map(|c| match c {
                    Content::InputText { text } | Content::OutputText { text } => text.as_str(),
                    Content::InputImage { .. } => "",
                })
                .collect(),
            _ => String::new(),
        }
    }
}

impl TokenUsage {
    /// What this running total grew by since `earlier` (zero where it did not).
    pub fn minus(&self, earlier: &TokenUsage) -> TokenUsage {
        TokenUsage {
            input_tokens: self.input_tokens.saturating_sub(earlier.input_tokens),
            cached_input_tokens: self
                .cached_input_tokens
                .saturating_sub(earlier.cached_input_tokens),
            output_tokens: self.output_tokens.saturating_sub(earlier.output_tokens),
            reasoning_output_tokens: self
                .reasoning_output_tokens
                .saturating_sub(earlier.reasoning_output_tokens),
            total_tokens: self.total_tokens.saturating_sub(earlier.total_tokens),
        }
    }

    /// Adds another response's usage to this running total.
    pub fn add(&mut self, other: &TokenUsage) {
        self.input_tokens += other.input_tokens;
        self.cached_input_tokens += other.cached_input_tokens;
        self.output_tokens += other.output_tokens;
        self.reasoning_output_tokens += other.reasoning_output_tokens;
        self.total_tokens += other.total_tokens;
    }
}

/// What a streaming response reports to its caller, in order.
///
/// A response may be retried after some of its events were delivered (a cut stream, a 5xx).
/// The caller then receives [`ResponseEvent::Retrying`], and every event it received since the
/// start of the response (or the previous `Retrying`) is void: discard the partial text and
/// items, the next attempt streams the whole answer again from its beginning.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseEvent {
    /// The server accepted the request and started the response.
    Created,
    /// A piece of the assistant's answer text.
    TextDelta(String),
    /// A piece of a reasoning summary.
    ReasoningSummaryDelta(String),
    /// A reasoning summary begins a new part (its index): what follows is another section.
    ReasoningSummaryPartAdded(u32),
    /// An output item started (a message with no text yet, a function call without arguments).
    OutputItemAdded(Item),
    /// An output item is complete: the authoritative version, to be kept in history.
    OutputItemDone(Item),
    /// Rate-limit windows the backend reported with the response's headers.
    RateLimits(RateLimits),
    /// The attempt failed transiently and is retried after `delay`; see the type's docs.
    Retrying {
        attempt: u32,
        max: u32,
        delay: std::time::Duration,
        reason: String,
    },
    /// The response is complete; nothing follows.
    Completed {
        response_id: String,
        usage: Option<TokenUsage>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call's output is a string, or with images Codex's content items, and reads back as it
    /// was written (a saved conversation sends its images again).
    #[test]
    fn a_call_output_with_an_image_is_content_items_and_reads_back() {
        let plain = CallOutput::from("done");
        assert_eq!(
            serde_json::to_value(&plain).unwrap(),
            serde_json::json!("done")
        );
        let shown = CallOutput {
            text: String::new(),
            images: vec!["data:image/png;base64,AA==".into()],
        };
        let written = serde_json::to_value(&shown).unwrap();
        assert_eq!(
            written,
            serde_json::json!([{"type": "input_image", "image_url": "data:image/png;base64,AA==", "detail": "high"}])
        );
        let back: CallOutput = serde_json::from_value(written).unwrap();
        assert_eq!(back, shown);
        let read: CallOutput = serde_json::from_value(serde_json::json!("done")).unwrap();
        assert_eq!(read, plain);
    }
}
