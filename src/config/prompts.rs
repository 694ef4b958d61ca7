//! Custom prompts, in Codex's format: each a Markdown file in a prompts folder (kelp's
//! `prompts/` beside `config.toml`, then Codex's `$CODEX_HOME/prompts`, else
//! `~/.codex/prompts`), offered in the client as `/NAME` (or Codex's `/prompts:NAME`).
//!
//! A file may start with front matter (`description:` and `argument-hint:` between `---`
//! lines). Its body is the prompt, with what follows the command filled in: `$1`…`$9` for the
//! words (quotes group them), `$ARGUMENTS` for all of them, `$NAME` for a `NAME=value` given,
//! and `$$` for a dollar sign.

use crate::protocol::CustomPrompt;
use std::path::{Path, PathBuf};

/// The largest prompt file read.
const MAX_PROMPT_BYTES: u64 = 64 * 1024;
/// How many prompts are offered at most.
const MAX_PROMPTS: usize = 200;

/// The prompts folders: kelp's in `config_dir`, then Codex's.
pub fn folders(
    config_dir: &Path,
    lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Vec<PathBuf> {
    let codex_home = lookup("CODEX_HOME")
        .filter(|home| !home.is_empty())
        .map(PathBuf::from)
        .or_else(|| lookup("HOME").map(|home| PathBuf::from(home).join(".codex")));
    std::iter::once(config_dir.join("prompts"))
        .chain(codex_home.map(|home| home.join("prompts")))
        .collect()
}

/// The prompts in `folders`, by name; a name found twice is the first folder's. Files that are
/// not regular, too large or not UTF-8 are passed over (and logged).
pub fn discover(folders: &[PathBuf]) -> Vec<CustomPrompt> {
    let mut prompts: Vec<CustomPrompt> = Vec::new();
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
        files.sort();
        for path in files {
            let Some(name) = path
                .file_name()
                .and_then(|name| name.to_str())
                .and_then(|name| name.strip_suffix(".md"))
                .filter(|name| is_command_name(name))
            else {
                continue;
            };
            if prompts.len() >= MAX_PROMPTS || prompts.iter().any(|p| p.name == name) {
                continue;
            }
            let text = crate::private_file::read_regular(&path, MAX_PROMPT_BYTES)
                .and_then(|bytes| String::from_utf8(bytes).map_err(std::io::Error::other));
            match text {
                Ok(text) => prompts.push(parse(name, &text)),
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "a custom prompt is unread");
                }
            }
        }
    }
    prompts.sort_by(|a, b| a.name.cmp(&b.name));
    prompts
}

/// A name a command can have: letters, digits, `-` and `_`.
fn is_command_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A Markdown file's front matter (the lines between a first `---` line and the next), and
/// the text after it; no front matter, the whole text. Prompts and skills both start so.
pub fn front_matter(text: &str) -> (Option<&str>, &str) {
    match text
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---"))
    {
        Some((front, rest)) => {
            let body = rest.split_once('\n').map_or("", |(_, body)| body);
            (Some(front), body)
        }
        None => (None, text),
    }
}

/// The value of `key: value` in front matter, quotes taken off; `None` when absent or empty.
pub fn front_field(front: &str, key: &str) -> Option<String> {
    front.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        let v = v.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        (k.trim() == key && !v.is_empty()).then(|| v.to_string())
    })
}

/// The prompt `name` from its file's `text`.
fn parse(name: &str, text: &str) -> CustomPrompt {
    let (front, body) = front_matter(text);
    let field = |key: &str| front.and_then(|front| front_field(front, key));
    let description = field("description")
        .or_else(|| {
            body.lines()
                .map(str::trim)
                .find(|line| !line.is_empty())
                .map(|line| line.trim_start_matches('#').trim().to_string())
        })
        .unwrap_or_default();
    CustomPrompt {
        name: name.to_string(),
        description,
        argument_hint: field("argument-hint"),
        body: body.to_string(),
    }
}

impl CustomPrompt {
    /// The prompt with `arguments` (what followed the command) filled in.
    pub fn expand(&self, arguments: &str) -> String {
        let words = split_words(arguments);
        let named: Vec<(&str, &str)> = words
            .iter()
            .filter_map(|word| word.split_once('='))
            .filter(|(key, _)| is_placeholder_name(key))
            .collect();
        let mut out = String::with_capacity(self.body.len() + arguments.len());
        let mut rest = self.body.as_str();
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let name_len = after
                .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(after.len());
            let name = &after[..name_len];
            let (filled, used) = if after.starts_with('$') {
                ("$".to_string(), 1)
            } else if let Some(n) = after
                .chars()
                .next()
                .and_then(|c| c.to_digit(10))
                .filter(|n| *n >= 1)
            {
                let word = words.get(n as usize - 1).cloned().unwrap_or_default();
                (word, 1)
            } else if name == "ARGUMENTS" {
                (arguments.trim().to_string(), name_len)
            } else if let Some((_, value)) = named.iter().find(|(key, _)| *key == name) {
                (value.to_string(), name_len)
            } else {
                // Not a placeholder: the dollar stays as written.
                ("$".to_string(), 0)
            };
            out.push_str(&filled);
            rest = &after[used..];
        }
        out.push_str(rest);
        out
    }

    /// Whether the prompt has anything to fill in (an argument hint, or a placeholder).
    pub fn takes_arguments(&self) -> bool {
        self.argument_hint.is_some()
            || self.body.match_indices('$').any(|(at, _)| {
                let next = self.body[at + 1..].chars().next();
                next.is_some_and(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            })
    }

    /// What the popup shows beside `/NAME`.
    pub fn detail(&self) -> String {
        match &self.argument_hint {
            Some(hint) => format!("{} {hint}", self.description),
            None => self.description.clone(),
        }
    }
}

/// A named placeholder: capitals, digits and `_`, starting with a capital.
fn is_placeholder_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The words of `text`, as a shell groups them with quotes (no other shell syntax).
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_file_reads_as_codex_writes_it() {
        let prompt = parse(
            "review-file",
            "---\ndescription: \"Review one file\"\nargument-hint: FILE [FOCUS]\n---\nReview $1 for $2.\n",
        );
        assert_eq!(prompt.description, "Review one file");
        assert_eq!(prompt.argument_hint.as_deref(), Some("FILE [FOCUS]"));
        assert_eq!(prompt.body, "Review $1 for $2.\n");
        let plain = parse("tidy", "# Tidy the imports\n\nSort them.\n");
        assert_eq!(plain.description, "Tidy the imports");
        assert_eq!(plain.argument_hint, None);
    }

    #[test]
    fn arguments_fill_positions_names_and_the_whole() {
        let prompt = parse(
            "p",
            "Look at $1 then $2 ($3). All: $ARGUMENTS. Tone $TONE. Cost $$5, $HOME stays, $x too.",
        );
        assert_eq!(
            prompt.expand(r#"src/main.rs "the parser" TONE=dry"#),
            "Look at src/main.rs then the parser (TONE=dry). All: src/main.rs \"the parser\" \
             TONE=dry. Tone dry. Cost $5, $HOME stays, $x too."
        );
        assert_eq!(
            parse("p", "Nothing to fill.").expand("extra"),
            "Nothing to fill."
        );
    }

    #[test]
    fn prompts_are_found_in_kelps_folder_first_then_codexs() {
        let dir = tempfile::tempdir().unwrap();
        let (kelp, codex) = (dir.path().join("kelp"), dir.path().join("codex"));
        std::fs::create_dir_all(&kelp).unwrap();
        std::fs::create_dir_all(&codex).unwrap();
        std::fs::write(kelp.join("fix.md"), "Fix it (kelp's).").unwrap();
        std::fs::write(codex.join("fix.md"), "Fix it (Codex's).").unwrap();
        std::fs::write(codex.join("explain.md"), "Explain $1.").unwrap();
        std::fs::write(codex.join("notes.txt"), "not a prompt").unwrap();
        std::fs::write(codex.join("bad name.md"), "no spaces in commands").unwrap();
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            codex.join("pipe.md"),
            rustix::fs::Mode::from(0o600),
        )
        .unwrap();
        let prompts = discover(&[kelp, codex]);
        let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["explain", "fix"]);
        assert_eq!(prompts[1].body, "Fix it (kelp's).");
    }
}
