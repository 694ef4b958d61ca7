//! `lsp`: the language servers whose diagnostics go back to the model after an edit, in
//! opencode's shape. `lsp = false` turns them off; a table names the longest a check may take
//! and the servers beyond (or instead of) those kelp finds on `PATH`:
//!
//! ```toml
//! [lsp]
//! timeout_ms = 5000
//!
//! [lsp.pyright]
//! disabled = true
//!
//! [lsp.ruff]
//! command = ["ruff", "server"]
//! extensions = [".py"]
//! ```

use std::time::Duration;

/// How long a check after an edit may take unless `timeout_ms` says otherwise (the server's
/// start included).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// One `[lsp.NAME]` table: a server of the person's, or (`disabled`) one kelp would find.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerEntry {
    pub name: String,
    pub command: Vec<String>,
    /// The files it checks, by extension (`.py`).
    pub extensions: Vec<String>,
    pub disabled: bool,
}

/// What a config file says of `lsp`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LspFile {
    pub enabled: Option<bool>,
    pub timeout_ms: Option<u64>,
    pub servers: Vec<ServerEntry>,
}

impl LspFile {
    /// Reads the key's value: `false`, or the table.
    pub fn read(&mut self, item: &toml_edit::Item, bad: &mut dyn FnMut(&str)) {
        if let Some(on) = item.as_bool() {
            self.enabled = Some(on);
            return;
        }
        let Some(table) = item.as_table_like() else {
            return bad("must be false, or a table such as [lsp.NAME] command = […]");
        };
        for (key, value) in table.iter() {
            match (key, value.as_table_like()) {
                ("timeout_ms", _) => match value.as_integer().and_then(|ms| u64::try_from(ms).ok())
                {
                    Some(ms) if ms > 0 => self.timeout_ms = Some(ms),
                    _ => bad("timeout_ms must be a number of milliseconds"),
                },
                ("enabled", _) => match value.as_bool() {
                    Some(on) => self.enabled = Some(on),
                    None => bad("enabled must be true or false"),
                },
                (name, Some(server)) => match server_entry(name, server) {
                    Ok(entry) => self.servers.push(entry),
                    Err(why) => bad(&format!("[lsp.{name}] {why}")),
                },
                (name, None) => bad(&format!("{name} must be a table: [lsp.{name}]")),
            }
        }
    }

    /// This file's values over those of a file read below it; the servers joined by name.
    pub fn over(self, lower: Self) -> Self {
        let mut servers = self.servers;
        for server in lower.servers {
            if !servers.iter().any(|known| known.name == server.name) {
                servers.push(server);
            }
        }
        Self {
            enabled: self.enabled.or(lower.enabled),
            timeout_ms: self.timeout_ms.or(lower.timeout_ms),
            servers,
        }
    }

    /// The settings in force.
    pub fn settle(self) -> LspSettings {
        LspSettings {
            enabled: self.enabled.unwrap_or(true),
            timeout: self
                .timeout_ms
                .map_or(DEFAULT_TIMEOUT, Duration::from_millis),
            servers: self.servers,
        }
    }
}

fn server_entry(name: &str, table: &dyn toml_edit::TableLike) -> Result<ServerEntry, String> {
    let words = |key: &str| -> Result<Vec<String>, String> {
        match table.get(key) {
            None => Ok(Vec::new()),
            Some(item) => item
                .as_array()
                .and_then(|list| {
                    list.iter()
                        .map(|word| word.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| format!("{key} must be a list of strings")),
        }
    };
    let disabled = table
        .get("disabled")
        .map(|item| item.as_bool().ok_or("disabled must be true or false"))
        .transpose()?
        .unwrap_or(false);
    let entry = ServerEntry {
        name: name.to_string(),
        command: words("command")?,
        extensions: words("extensions")?
            .into_iter()
            .map(|ext| ext.trim_start_matches('.').to_string())
            .collect(),
        disabled,
    };
    if !entry.disabled && (entry.command.is_empty() || entry.extensions.is_empty()) {
        return Err("needs command = [\"program\", …] and extensions = [\".ext\"]".to_string());
    }
    Ok(entry)
}

/// The language servers' settings in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LspSettings {
    /// `lsp = false` turns the diagnostics off.
    pub enabled: bool,
    /// The longest a check after an edit may take.
    pub timeout: Duration,
    /// The config's servers, and those it turns off.
    pub servers: Vec<ServerEntry>,
}

impl Default for LspSettings {
    fn default() -> Self {
        LspFile::default().settle()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (LspFile, Vec<String>) {
        let doc: toml_edit::DocumentMut = text.parse().unwrap();
        let mut file = LspFile::default();
        let mut bad = Vec::new();
        file.read(&doc["lsp"], &mut |why| bad.push(why.to_string()));
        (file, bad)
    }

    #[test]
    fn off_a_timeout_and_servers_of_ones_own_are_read() {
        assert!(!read("lsp = false").0.settle().enabled);
        let (file, bad) = read(
            "[lsp]\ntimeout_ms = 2500\n[lsp.pyright]\ndisabled = true\n\
             [lsp.ruff]\ncommand = [\"ruff\", \"server\"]\nextensions = [\".py\"]\n\
             [lsp.broken]\ncommand = [\"x\"]\n",
        );
        assert_eq!(bad.len(), 1, "{bad:?}");
        let settings = file.settle();
        assert!(settings.enabled);
        assert_eq!(settings.timeout, Duration::from_millis(2500));
        assert_eq!(settings.servers.len(), 2);
        assert!(settings.servers[0].disabled);
        assert_eq!(settings.servers[1].extensions, ["py"]);
    }
}
