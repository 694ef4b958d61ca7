//! What the model sees of MCP tools, and what it gets back: names the Responses API accepts,
//! argument schemas it takes, and a call's result as the text of a `function_call_output`.

use std::collections::HashSet;

use rmcp::model::{CallToolResult, ContentBlock, JsonObject, ResourceContents};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The longest function name the Responses API takes.
const MAX_NAME: usize = 64;

/// The most of one result the model gets; the rest is cut with a note.
pub const MAX_RESULT_BYTES: usize = 256 * 1024;

/// `server__tool` for each `(server, tool)`, in order: characters outside `[A-Za-z0-9_-]`
/// become `_`, a name longer than 64 keeps a hash of the whole, and a name already given gets
/// `_2`, `_3`… So every tool has a distinct, valid name, and the same servers give the same
/// names every time.
pub fn exposed_names<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    let mut taken = HashSet::new();
    let mut names = Vec::new();
    for (server, tool) in pairs {
        let base = fit(format!("{}__{}", sanitize(server), sanitize(tool)), "");
        let mut name = base.clone();
        let mut n = 2;
        while taken.contains(&name) {
            name = fit(base.clone(), &format!("_{n}"));
            n += 1;
        }
        taken.insert(name.clone());
        names.push(name);
    }
    names
}

fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `name` with `suffix`, at most 64 characters: a long name keeps its start and a short hash
/// of itself, so two long names that share a start stay apart.
fn fit(name: String, suffix: &str) -> String {
    if name.len() + suffix.len() <= MAX_NAME {
        return name + suffix;
    }
    let hash = Sha256::digest(name.as_bytes());
    let tag: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
    // Only ASCII is left after `sanitize`, so any byte index is a character boundary.
    let keep = MAX_NAME - suffix.len() - tag.len() - 1;
    format!("{}_{tag}{suffix}", &name[..keep])
}

/// A tool's input schema as the Responses API takes a function's `parameters`: an object
/// schema. A schema without a `type` is taken as an object; `$schema` is dropped. `Err` says
/// why a schema cannot be offered (the tool is then skipped with a warning).
pub fn function_parameters(schema: &JsonObject) -> Result<Value, String> {
    let mut schema = schema.clone();
    schema.remove("$schema");
    match schema.get("type") {
        None => {
            schema.insert("type".into(), json!("object"));
        }
        Some(Value::String(kind)) if kind == "object" => {}
        Some(other) => {
            return Err(format!(
                "its input schema is of type {other}, not an object"
            ));
        }
    }
    for key in ["anyOf", "oneOf", "allOf", "not", "enum"] {
        if schema.contains_key(key) {
            return Err(format!(
                "its input schema has `{key}` at the top, which the Responses API refuses"
            ));
        }
    }
    match schema.get("properties") {
        None => {
            schema.insert("properties".into(), json!({}));
        }
        Some(Value::Object(_)) => {}
        Some(_) => return Err("its input schema's `properties` is not an object".to_string()),
    }
    Ok(Value::Object(schema))
}

/// A call's result as the model reads it: the text parts in order, other parts noted (an image
/// is named, not sent), then the structured content as JSON when the text does not already
/// hold it. Cut at [`MAX_RESULT_BYTES`].
pub fn result_text(result: &CallToolResult) -> String {
    let mut parts: Vec<String> = result.content.iter().map(content_text).collect();
    if let Some(structured) = &result.structured_content {
        let json = structured.to_string();
        let already = parts.iter().any(|part| {
            serde_json::from_str::<Value>(part).is_ok_and(|value| &value == structured)
        });
        if !already {
            parts.push(if parts.is_empty() {
                json
            } else {
                format!("structured content: {json}")
            });
        }
    }
    let mut text = parts.join("\n");
    if text.is_empty() {
        text = "(the tool returned nothing)".to_string();
    }
    cut(text)
}

fn content_text(content: &ContentBlock) -> String {
    match content {
        ContentBlock::Text(text) => text.text.clone(),
        ContentBlock::Image(image) => format!(
            "[an image ({}, {}) was returned; images from MCP tools are not shown to the model]",
            image.mime_type,
            size_of_base64(&image.data)
        ),
        ContentBlock::Audio(audio) => format!(
            "[audio ({}, {}) was returned; it is not passed on]",
            audio.mime_type,
            size_of_base64(&audio.data)
        ),
        ContentBlock::Resource(embedded) => match &embedded.resource {
            ResourceContents::TextResourceContents { uri, text, .. } => {
                format!("[resource {uri}]\n{text}")
            }
            ResourceContents::BlobResourceContents {
                uri,
                mime_type,
                blob,
                ..
            } => format!(
                "[resource {uri} ({}, {}); binary, not passed on]",
                mime_type.as_deref().unwrap_or("no type"),
                size_of_base64(blob)
            ),
            other => format!(
                "[resource: {}]",
                serde_json::to_string(other).unwrap_or_default()
            ),
        },
        ContentBlock::ResourceLink(link) => format!("[link: {} ({})]", link.uri, link.name),
        other => format!(
            "[content: {}]",
            serde_json::to_string(other).unwrap_or_default()
        ),
    }
}

/// The decoded size of base64 `data`, for a person: `12 KB`.
fn size_of_base64(data: &str) -> String {
    crate::humanize::bytes((data.len() as u64) * 3 / 4)
}

fn cut(mut text: String) -> String {
    let total = text.len();
    if crate::humanize::keep_head(&mut text, MAX_RESULT_BYTES) {
        text.push_str(&format!(
            "\n[cut: the result was {total} bytes; the first {} are shown]",
            text.len()
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_distinct_and_stable() {
        let long = "a".repeat(80);
        let names = exposed_names([
            ("docs", "search"),
            ("my server", "get.page"),
            ("docs", "search"),
            ("x", long.as_str()),
            ("x", &format!("{long}b")),
        ]);
        assert_eq!(names[0], "docs__search");
        assert_eq!(names[1], "my_server__get_page");
        assert_eq!(names[2], "docs__search_2");
        for name in &names {
            assert!(name.len() <= 64, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                "{name}"
            );
        }
        assert_ne!(
            names[3], names[4],
            "long names that share a start stay apart"
        );
        assert_eq!(
            names,
            exposed_names([
                ("docs", "search"),
                ("my server", "get.page"),
                ("docs", "search"),
                ("x", long.as_str()),
                ("x", &format!("{long}b")),
            ])
        );
    }

    fn object(value: Value) -> JsonObject {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn schemas_are_made_objects_or_refused() {
        let made = function_parameters(&object(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "properties": {"q": {"type": "string"}}
        })))
        .unwrap();
        assert_eq!(
            made,
            json!({"type": "object", "properties": {"q": {"type": "string"}}})
        );
        assert_eq!(
            function_parameters(&object(json!({"type": "object"}))).unwrap(),
            json!({"type": "object", "properties": {}})
        );
        let refused = function_parameters(&object(json!({"type": "string"}))).unwrap_err();
        assert!(refused.contains("not an object"), "{refused}");
        let refused = function_parameters(&object(json!({
            "type": "object",
            "anyOf": [{"required": ["a"]}, {"required": ["b"]}]
        })))
        .unwrap_err();
        assert!(refused.contains("`anyOf`"), "{refused}");
    }

    #[test]
    fn results_keep_text_and_note_the_rest() {
        let result = CallToolResult::success(vec![
            ContentBlock::text("found 2"),
            ContentBlock::image("aGVsbG8gd29ybGQh", "image/png"),
        ]);
        let text = result_text(&result);
        assert!(
            text.starts_with("found 2\n[an image (image/png, 12 B)"),
            "{text}"
        );

        let mut structured = CallToolResult::success(vec![ContentBlock::text("ok")]);
        structured.structured_content = Some(json!({"count": 2}));
        assert_eq!(
            result_text(&structured),
            "ok\nstructured content: {\"count\":2}"
        );
        let mut only = CallToolResult::success(vec![ContentBlock::text("{\"count\":2}")]);
        only.structured_content = Some(json!({"count": 2}));
        assert_eq!(result_text(&only), "{\"count\":2}", "not said twice");

        let big = CallToolResult::success(vec![ContentBlock::text("é".repeat(MAX_RESULT_BYTES))]);
        let text = result_text(&big);
        assert!(text.len() < MAX_RESULT_BYTES + 100);
        assert!(text.ends_with("are shown]"), "{}", &text[text.len() - 80..]);
    }
}
