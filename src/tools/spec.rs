//! The tool definitions sent to the model: names, descriptions and argument schemas.
//!
//! Names and argument shapes follow the Codex tools the models are trained on; the descriptions
//! are what the model knows about each tool, so they state limits and formats exactly.

use serde_json::{Value, json};

use super::{
    apply_patch, grep_files, list_dir, read_file, shell, terminals, update_plan, view_image,
};

const READ_FILE: &str = "Reads a text file and returns its lines numbered as `L<n>: <text>`. \
`offset` is the 1-based first line (default 1) and `limit` the number of lines (default 2000). \
Lines longer than 2000 characters are cut with a marker. Output is capped at 256 KiB; when the \
file goes on, a final note gives the offset to read from next. Binary files are refused.";

const LIST_DIR: &str = "Lists a directory as an indented tree sorted by name: directories end \
in `/`, symlinks in `@`. Hidden files are shown; entries excluded by .gitignore and the .git \
directory are not. `depth` is how many levels to descend (default 2, 1 = direct entries only). \
At most 1000 entries are shown.";

const GREP_FILES: &str = "Searches file contents for a regular expression (Rust regex syntax, \
as in ripgrep) and returns matching lines as `path:line: text`, paths relative to the project. \
Respects .gitignore and skips binary files. `path` is a file or directory to search (default: \
the project root); `include` is a glob on file names such as `*.rs` or `*.{ts,tsx}`; `limit` is \
the maximum number of matching lines (default 100, at most 2000). A note says when the limit cut \
the results. Use `(?i)` for a case-insensitive search.";

const SHELL: &str = "Runs a command and returns its exit code and output (stdout and stderr \
interleaved). `command` is either a string, run by the user's POSIX shell with `-c` (pipes, \
redirects and && work), or an array of a program and its arguments, run directly without a \
shell, e.g. [\"cargo\", \"test\"]. It runs in the project root unless `workdir` is given; prefer \
`workdir` to `cd`. stdin is closed, so interactive programs fail: pass flags such as `--yes` or \
`--no-pager`. After `timeout_ms` (default 120000) the command and everything it started are \
killed. Background processes still holding the output open when the command exits are killed; \
redirect their output (`cmd > log 2>&1 &`) to keep them running. Long output keeps its first \
and last 10 KiB. Edit files with apply_patch, not the \
shell; explore with read_file, list_dir and grep_files.";

const APPLY_PATCH: &str = r#"Creates, edits, moves and deletes files. `input` is a patch in this format (hunks are found by their content, not by line numbers):

*** Begin Patch
*** Add File: docs/notes.md
+first line of the new file
+second line
*** Update File: src/app.py
*** Move to: src/main.py
@@ def greet():
-    print("Hi")
+    print("Hello")
     return None
*** Delete File: obsolete.txt
*** End Patch

Rules:
- Paths are relative to the project root (absolute paths work too).
- Add File: every line of the new file starts with `+`.
- Update File: optionally followed by `*** Move to: <new path>` to rename. Each hunk starts with `@@`, optionally followed by a line that appears above the change (a function or class header) to anchor it. Hunk lines start with ` ` (unchanged context), `-` (removed) or `+` (added). Give about 3 lines of context above and below each change, enough to be unique. Several hunks in one file go in file order. `*** End of File` after a hunk anchors it at the end of the file.
- The whole patch is checked before anything is written: if any hunk does not match, no file changes and the error quotes the hunk."#;

const UPDATE_PLAN: &str = "Updates the task plan, shown to the user as a checklist. Send the \
whole plan every time: each step with its status (pending, in_progress or completed), with at \
most one step in_progress. Optionally explain what changed. Use it for multi-step work; skip \
it for simple tasks.";

const SHELL_PARAMETERS: &str = r#"{
    "type": "object",
    "properties": {
        "command": {
            "anyOf": [
                {
                    "type": "string"
                },
                {
                    "type": "array",
                    "items": {
                        "type": "string"
                    }
                }
            ],
            "description": "A shell script string, or a program and its arguments."
        },
        "workdir": {
            "type": "string",
            "description": "Directory to run in, relative to the project root. Default: the project root."
        },
        "timeout_ms": {
            "type": "integer",
            "minimum": 1,
            "description": "Milliseconds before the command is killed. Default: 120000."
        },
        "sandbox_permissions": {
            "type": "string",
            "enum": [
                "use_default",
                "require_escalated"
            ],
            "description": "`require_escalated` to ask the user to run this command outside the sandbox (it needs the network, or to write outside the project); say why in `justification`. Default: use_default."
        },
        "justification": {
            "type": "string",
            "description": "With require_escalated: a short question for the user, such as \"Download the crate index to build the project?\""
        }
    },
    "required": [
        "command"
    ],
    "additionalProperties": false
}"#;

const APPLY_PATCH_PARAMETERS: &str = r#"{
    "type": "object",
    "properties": {
        "input": {
            "type": "string",
            "description": "The whole patch, from `*** Begin Patch` to `*** End Patch`."
        }
    },
    "required": [
        "input"
    ],
    "additionalProperties": false
}"#;

/// Codex's words for its `view_image`.
const VIEW_IMAGE: &str = "View a local image file from the filesystem when visual inspection is \
needed. Use this for images already available on disk.";

const VIEW_IMAGE_PARAMETERS: &str = r#"{
    "type": "object",
    "properties": {
        "path": {
            "type": "string",
            "description": "Local filesystem path to an image file."
        }
    },
    "required": ["path"],
    "additionalProperties": false
}"#;

const READ_FILE_PARAMETERS: &str = r#"{
    "type": "object",
    "properties": {
        "path": {
            "type": "string",
            "description": "File to read, relative to the project root or absolute."
        },
        "offset": {
            "type": "integer",
            "minimum": 1,
            "description": "1-based number of the first line to return. Default: 1."
        },
        "limit": {
            "type": "integer",
            "minimum": 1,
            "description": "Number of lines to return. Default: 2000."
        }
    },
    "required": [
        "path"
    ],
    "additionalProperties": false
}"#;

const LIST_DIR_PARAMETERS: &str = r#"{
    "type": "object",
    "properties": {
        "path": {
            "type": "string",
            "description": "Directory to list, relative to the project root or absolute. Use \".\" for the root."
        },
        "depth": {
            "type": "integer",
            "minimum": 1,
            "description": "Levels to descend. Default: 2."
        }
    },
    "required": [
        "path"
    ],
    "additionalProperties": false
}"#;

const GREP_FILES_PARAMETERS: &str = r#"{
    "type": "object",
    "properties": {
        "pattern": {
            "type": "string",
            "description": "Regular expression to search for."
        },
        "path": {
            "type": "string",
            "description": "File or directory to search, relative to the project root. Default: the project root."
        },
        "include": {
            "type": "string",
            "description": "Glob that file names must match, e.g. \"*.rs\"."
        },
        "limit": {
            "type": "integer",
            "minimum": 1,
            "description": "Maximum number of matching lines. Default: 100."
        }
    },
    "required": [
        "pattern"
    ],
    "additionalProperties": false
}"#;

const EXEC_COMMAND: &str = "Runs a command in a PTY, returning output or a session ID for \
ongoing interaction. `cmd` is run by the user's POSIX shell with `-c`, in the project root \
unless `workdir` is given. If it is still running after `yield_time_ms`, it goes on in the \
background and the answer carries its session ID: poll it or type into it with write_stdin. \
stdin is only open with `tty: true`. Output kept between calls is its first and last 10 KiB. \
Edit files with apply_patch, not the shell.";

const EXEC_COMMAND_PARAMETERS: &str = r#"{
    "type": "object",
    "properties": {
        "cmd": {
            "type": "string",
            "description": "Shell command to execute."
        },
        "workdir": {
            "type": "string",
            "description": "Working directory for the command. Defaults to the turn cwd."
        },
        "shell": {
            "type": "string",
            "description": "Shell binary to launch. Defaults to the user's default shell."
        },
        "tty": {
            "type": "boolean",
            "description": "True allocates a PTY for the command; false or omitted uses plain pipes."
        },
        "yield_time_ms": {
            "type": "number",
            "description": "Wait before yielding output. Defaults to 10000 ms; effective range is 250-30000 ms."
        },
        "max_output_tokens": {
            "type": "number",
            "description": "Output token budget. Defaults to 10000 tokens; larger requests may be capped by policy."
        },
        "sandbox_permissions": {
            "type": "string",
            "enum": [
                "use_default",
                "require_escalated"
            ],
            "description": "Per-command sandbox override. Defaults to `use_default`; use `require_escalated` for unsandboxed execution."
        },
        "justification": {
            "type": "string",
            "description": "User-facing approval question for `require_escalated`; omit otherwise."
        }
    },
    "required": [
        "cmd"
    ],
    "additionalProperties": false
}"#;

const WRITE_STDIN: &str =
    "Writes characters to an existing unified exec session and returns recent output.";

const WRITE_STDIN_PARAMETERS: &str = r#"{
    "type": "object",
    "properties": {
        "session_id": {
            "type": "number",
            "description": "Identifier of the running unified exec session."
        },
        "chars": {
            "type": "string",
            "description": "Bytes to write to stdin. Defaults to empty, which polls without writing."
        },
        "yield_time_ms": {
            "type": "number",
            "description": "Wait before yielding output. Non-empty writes default to 250 ms and cap at 30000 ms; empty polls wait 5000-300000 ms by default."
        },
        "max_output_tokens": {
            "type": "number",
            "description": "Output token budget. Defaults to 10000 tokens; larger requests may be capped by policy."
        }
    },
    "required": [
        "session_id"
    ],
    "additionalProperties": false
}"#;

const UPDATE_PLAN_PARAMETERS: &str = r#"{
    "type": "object",
    "properties": {
        "explanation": {
            "type": "string",
            "description": "Why the plan changed (optional)."
        },
        "plan": {
            "type": "array",
            "description": "All steps, in order.",
            "items": {
                "type": "object",
                "properties": {
                    "step": {
                        "type": "string"
                    },
                    "status": {
                        "type": "string",
                        "enum": [
                            "pending",
                            "in_progress",
                            "completed"
                        ]
                    }
                },
                "required": [
                    "step",
                    "status"
                ],
                "additionalProperties": false
            }
        }
    },
    "required": [
        "plan"
    ],
    "additionalProperties": false
}"#;

/// The Responses API `tools` array: one `{"type":"function", …}` entry per tool. Commands run
/// through `exec_command` and `write_stdin` (background terminals, as Codex 0.171's), or, with
/// `unified_exec` off, through `shell`.
pub fn tool_specs(unified_exec: bool) -> Value {
    let commands = if unified_exec {
        vec![
            function(
                terminals::EXEC_COMMAND,
                EXEC_COMMAND,
                parameters(EXEC_COMMAND_PARAMETERS),
            ),
            function(
                terminals::WRITE_STDIN,
                WRITE_STDIN,
                parameters(WRITE_STDIN_PARAMETERS),
            ),
        ]
    } else {
        vec![function(shell::NAME, SHELL, parameters(SHELL_PARAMETERS))]
    };
    let others = vec![
        function(
            apply_patch::NAME,
            APPLY_PATCH,
            parameters(APPLY_PATCH_PARAMETERS),
        ),
        function(read_file::NAME, READ_FILE, parameters(READ_FILE_PARAMETERS)),
        function(
            view_image::NAME,
            VIEW_IMAGE,
            parameters(VIEW_IMAGE_PARAMETERS),
        ),
        function(list_dir::NAME, LIST_DIR, parameters(LIST_DIR_PARAMETERS)),
        function(
            grep_files::NAME,
            GREP_FILES,
            parameters(GREP_FILES_PARAMETERS),
        ),
        function(
            update_plan::NAME,
            UPDATE_PLAN,
            parameters(UPDATE_PLAN_PARAMETERS),
        ),
    ];
    Value::Array(commands.into_iter().chain(others).collect())
}

/// A tool's argument schema, written as JSON text: read at run time, it weighs its bytes in
/// the binary, where `json!` built it with code twenty times that size. The texts are
/// constants, checked by the tests below.
fn parameters(schema: &str) -> Value {
    serde_json::from_str(schema).unwrap_or(Value::Null)
}

/// The `tools` entries of MCP servers' tools, in the shape of kelp's own.
pub fn mcp_specs(tools: &[crate::mcp::McpTool]) -> impl Iterator<Item = Value> + '_ {
    tools
        .iter()
        .map(|tool| function(&tool.exposed, &tool.description, tool.parameters.clone()))
}

fn function(name: &str, description: &str, parameters: Value) -> Value {
    json!({
        "type": "function",
        "name": name,
        "description": description,
        "strict": false,
        "parameters": parameters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_a_function_entry() {
        let specs = tool_specs(true);
        let names: Vec<&str> = specs
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                assert_eq!(s["type"], "function");
                assert_eq!(s["strict"], false);
                assert_eq!(s["parameters"]["type"], "object");
                assert!(!s["description"].as_str().unwrap().is_empty());
                s["name"].as_str().unwrap()
            })
            .collect();
        assert_eq!(
            names,
            [
                "exec_command",
                "write_stdin",
                "apply_patch",
                "read_file",
                "view_image",
                "list_dir",
                "grep_files",
                "update_plan"
            ]
        );
    }
}
