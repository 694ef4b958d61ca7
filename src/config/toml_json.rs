//! `config.toml` as JSON and back, for a host that reads and writes settings as JSON (the
//! app-server's `config/*`): the file read as it is now (its tables as JSON objects, dates as
//! their text) with its version, and a JSON value as the TOML written for it.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::file;

/// The config file as JSON: where it is, its version, and its tables.
#[derive(Debug, Clone, PartialEq)]
pub struct FileAsJson {
    pub path: PathBuf,
    pub version: String,
    pub table: Map<String, Value>,
    /// The file's text, for a reader that parses it further (empty when there is none).
    pub text: String,
}

/// Reads `config_dir`'s `config.toml` as JSON. A missing, unreadable or broken file reads as
/// empty: the settings in use come from the defaults then, as at start.
pub fn read(config_dir: &Path) -> FileAsJson {
    read_with(config_dir, file::read)
}

/// [`read`] for Codex's folder, its file left as it is.
pub fn read_codex(codex_dir: &Path) -> FileAsJson {
    read_with(codex_dir, file::read_codex)
}

fn read_with(
    config_dir: &Path,
    read: fn(&Path) -> Result<Option<String>, super::ConfigWarning>,
) -> FileAsJson {
    let path = config_dir.join(file::FILE_NAME);
    let text = read(&path).ok().flatten().unwrap_or_default();
    let table = text
        .parse::<toml_edit::DocumentMut>()
        .map(|doc| table_json(doc.as_table()))
        .unwrap_or_default();
    FileAsJson {
        path: std::path::absolute(&path).unwrap_or(path),
        version: super::edit::version(&text),
        table,
        text,
    }
}

fn table_json(table: &dyn toml_edit::TableLike) -> Map<String, Value> {
    table
        .iter()
        .filter_map(|(key, item)| Some((key.to_string(), item_json(item)?)))
        .collect()
}

pub(super) fn item_json(item: &toml_edit::Item) -> Option<Value> {
    match item {
        toml_edit::Item::None => None,
        toml_edit::Item::Value(value) => Some(value_json(value)),
        toml_edit::Item::Table(table) => Some(Value::Object(table_json(table))),
        toml_edit::Item::ArrayOfTables(tables) => Some(Value::Array(
            tables
                .iter()
                .map(|t| Value::Object(table_json(t)))
                .collect(),
        )),
    }
}

fn value_json(value: &toml_edit::Value) -> Value {
    match value {
        toml_edit::Value::String(s) => Value::from(s.value().as_str()),
        toml_edit::Value::Integer(i) => Value::from(*i.value()),
        toml_edit::Value::Float(f) => Value::from(*f.value()),
        toml_edit::Value::Boolean(b) => Value::from(*b.value()),
        toml_edit::Value::Datetime(d) => Value::from(d.value().to_string()),
        toml_edit::Value::Array(items) => Value::Array(items.iter().map(value_json).collect()),
        toml_edit::Value::InlineTable(table) => Value::Object(table_json(table)),
    }
}

/// A JSON value as TOML: objects as tables, `null` as no value (the key is removed).
pub fn toml_item(value: &Value) -> Option<toml_edit::Item> {
    match value {
        Value::Null => None,
        Value::Object(map) => {
            let mut table = toml_edit::Table::new();
            for (key, value) in map {
                if let Some(item) = toml_item(value) {
                    table.insert(key, item);
                }
            }
            Some(toml_edit::Item::Table(table))
        }
        other => toml_value(other).map(toml_edit::Item::Value),
    }
}

fn toml_value(value: &Value) -> Option<toml_edit::Value> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64()?.into(),
        },
        Value::String(s) => s.as_str().into(),
        Value::Array(items) => {
            let mut array = toml_edit::Array::new();
            for item in items.iter().filter_map(toml_value) {
                array.push(item);
            }
            array.into()
        }
        Value::Object(map) => {
            let mut table = toml_edit::InlineTable::new();
            for (key, value) in map {
                if let Some(value) = toml_value(value) {
                    table.insert(key, value);
                }
            }
            table.into()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_file_read_as_json_and_written_back_keeps_its_values() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(file::FILE_NAME),
            "model = \"gpt-5.5\"\nnetwork = true\nlimit = 3\nratio = 0.5\nat = 1979-05-27\n\n[mcp_servers.docs]\ncommand = \"docs\"\nargs = [\"--stdio\"]\nenv = { A = \"b\" }\n",
        )
        .unwrap();
        let found = read(dir.path());
        let expected = json!({
            "model": "gpt-5.5",
            "network": true,
            "limit": 3,
            "ratio": 0.5,
            "at": "1979-05-27",
            "mcp_servers": { "docs": { "command": "docs", "args": ["--stdio"], "env": { "A": "b" } } },
        });
        assert_eq!(Value::Object(found.table.clone()), expected);
        assert!(found.version.starts_with("kelp:"));
        let servers = toml_item(&expected["mcp_servers"]).unwrap();
        let mut doc = toml_edit::DocumentMut::new();
        doc.insert("mcp_servers", servers);
        let again: toml_edit::DocumentMut = doc.to_string().parse().unwrap();
        assert_eq!(
            Value::Object(table_json(again.as_table())),
            json!({ "mcp_servers": expected["mcp_servers"] })
        );
        assert!(toml_item(&Value::Null).is_none(), "null removes the key");
        assert_eq!(read(&dir.path().join("none")).table, Map::new());
    }
}
