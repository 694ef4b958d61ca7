//! `request_user_input`: the model asks the person one to three short questions, each with a
//! few choices (Codex's tool, offered in plan mode). The turn waits for the answers; an
//! interrupt ends the wait.

pub use crate::protocol::{Answers, Choice, Question};
use serde::Deserialize;
use serde_json::{Value, json};

pub const NAME: &str = "request_user_input";

/// The most questions one call asks.
const MAX_QUESTIONS: usize = 3;

pub const DESCRIPTION: &str = "Asks the person one to three short questions and waits for the \
answers. Use it in plan mode for decisions only the person can make. Each question has 2 or 3 \
mutually exclusive options; put the recommended one first with \"(Recommended)\" after its \
label. The person may answer in their own words instead.";

const PARAMETERS: &str = r#"{
    "type": "object",
    "properties": {
        "questions": {
            "type": "array",
            "description": "Questions to show the person. Prefer 1 and do not exceed 3.",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "description": "Stable identifier for mapping answers (snake_case)."},
                    "header": {"type": "string", "description": "Short header label shown in the UI (12 or fewer chars)."},
                    "question": {"type": "string", "description": "Single-sentence prompt shown to the person."},
                    "options": {
                        "type": "array",
                        "description": "2 or 3 mutually exclusive choices, the recommended one first.",
                        "items": {
                            "type": "object",
                            "properties": {
                                "label": {"type": "string", "description": "User-facing label (1-5 words)."},
                                "description": {"type": "string", "description": "One short sentence on what choosing it means."}
                            },
                            "required": ["label", "description"],
                            "additionalProperties": false
                        }
                    }
                },
                "required": ["id", "header", "question", "options"],
                "additionalProperties": false
            }
        }
    },
    "required": ["questions"],
    "additionalProperties": false
}"#;

#[derive(Deserialize)]
struct Args {
    questions: Vec<Question>,
}

/// The questions of a call, or why it cannot be asked.
pub fn parse(arguments: &str) -> Result<Vec<Question>, String> {
    let args: Args = serde_json::from_str(arguments).map_err(|e| e.to_string())?;
    if args.questions.is_empty() || args.questions.len() > MAX_QUESTIONS {
        return Err(format!("ask 1 to {MAX_QUESTIONS} questions"));
    }
    if let Some(q) = args.questions.iter().find(|q| q.options.is_empty()) {
        return Err(format!("question `{}` has no options", q.id));
    }
    Ok(args.questions)
}

/// What the model reads back: Codex's `{answers: {ID: {answers: [...]}}}`.
pub fn output(answers: &Answers) -> String {
    let answers: serde_json::Map<String, Value> = answers
        .iter()
        .map(|(id, given)| (id.clone(), json!({ "answers": given })))
        .collect();
    json!({ "answers": answers }).to_string()
}

/// The tool's entry for a request.
pub fn spec() -> Value {
    json!({
        "type": "function",
        "name": NAME,
        "description": DESCRIPTION,
        "strict": false,
        "parameters": serde_json::from_str::<Value>(PARAMETERS).unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_read_and_bounded_and_answers_go_back_in_codexs_shape() {
        let one = r#"{"questions":[{"id":"db","header":"Database","question":"Which database?",
            "options":[{"label":"Postgres (Recommended)","description":"what prod runs"},
                       {"label":"SQLite","description":"simpler"}]}]}"#;
        let questions = parse(one).unwrap();
        assert_eq!(questions[0].options[1].label, "SQLite");
        assert!(parse(r#"{"questions":[]}"#).is_err());
        let no_options = r#"{"questions":[{"id":"a","header":"h","question":"q","options":[]}]}"#;
        assert!(parse(no_options).unwrap_err().contains("no options"));
        let said = output(&vec![("db".into(), vec!["SQLite".into()])]);
        assert_eq!(said, r#"{"answers":{"db":{"answers":["SQLite"]}}}"#);
        assert!(spec()["parameters"].is_object());
    }
}
