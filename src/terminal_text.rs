//! Text from the model, a command or a server, made safe to write to a terminal: a control
//! character would be acted on (an escape sequence can move the cursor, erase a line, set the
//! title or the clipboard through OSC 52; a lone carriage return overwrites what was shown), so
//! every one becomes U+FFFD. The TUI draws through this, and so do `kelp run` and the login
//! commands, so a command shows as what runs.

use std::borrow::Cow;

/// `text` for one cell of the screen: a tab becomes four spaces, and any other control
/// character (C0, DEL and C1) becomes U+FFFD.
pub fn printable(text: &str) -> Cow<'_, str> {
    replace_controls(text, false)
}

/// `text` as a stream of lines: newlines and tabs stay, any other control character becomes
/// U+FFFD (a carriage return too, which would let a line hide what came before it).
pub fn printable_lines(text: &str) -> Cow<'_, str> {
    replace_controls(text, true)
}

/// `text` with its control characters replaced; `lines` keeps newlines and tabs as they are.
fn replace_controls(text: &str, lines: bool) -> Cow<'_, str> {
    let kept = |c: char| lines && matches!(c, '\n' | '\t');
    if !text.chars().any(|c| c.is_control() && !kept(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if kept(c) || !c.is_control() => out.push(c),
            '\t' => out.push_str("    "),
            _ => out.push('\u{FFFD}'),
        }
    }
    Cow::Owned(out)
}

/// A JSON text with every C1 control character (U+0080–U+009F) written as a `\u` escape:
/// JSON leaves them raw, and a terminal that shows the line takes U+009B as an escape sequence's
/// start. JSON's structure is ASCII, so such a character can only stand inside a string, where
/// the escape means the same character.
pub fn json_without_c1(json: String) -> String {
    if !json.chars().any(is_c1) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_c1(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

fn is_c1(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_replacement_characters() {
        assert_eq!(printable("a\tb"), "a    b");
        assert_eq!(
            printable("echo hello\r\x1b[2Ktouch pwned"),
            "echo hello\u{FFFD}\u{FFFD}[2Ktouch pwned"
        );
        assert_eq!(printable("\u{9b}31m"), "\u{FFFD}31m");
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
        assert_eq!(
            printable_lines("one\n\ttwo\r\x1b]52;c;aGk=\x07"),
            "one\n\ttwo\u{FFFD}\u{FFFD}]52;c;aGk=\u{FFFD}"
        );
    }

    #[test]
    fn c1_is_escaped_in_json_and_means_the_same() {
        let value = serde_json::json!({"text": "a\u{9b}31mb\u{85}"});
        let line = json_without_c1(value.to_string());
        assert_eq!(line, r#"{"text":"a\u009b31mb\u0085"}"#);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&line).unwrap(),
            value
        );
    }
}
