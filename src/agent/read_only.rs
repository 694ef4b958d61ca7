//! Commands that only read, which run without asking in every mode (`ls`, `cat`, `rg`, `git
//! status`…). Judged on the parsed command, never on its text: a script qualifies only when it
//! is one plain command with no shell syntax at all (no `;`, `&&`, `|`, redirection,
//! substitution, variables, globs' neighbours, quotes that hide any of these), its program is on
//! the list, and none of its options is one that writes or runs something (`find -exec`, `rg
//! --pre`, `git diff --output`, `git -c`). Anything else asks as before.

use super::tools::ShellCommand;

/// Programs that read and print, whatever plain arguments they get.
const READERS: &[&str] = &[
    "ls", "pwd", "cat", "head", "tail", "wc", "file", "stat", "which", "tree", "du", "df", "grep",
    "egrep", "fgrep", "rg", "nl", "basename", "dirname", "realpath", "readlink",
];

/// Options of the readers that write a file or run a program.
const UNSAFE_OPTIONS: &[&str] = &[
    // rg runs a preprocessor for each file, and can search with one.
    "--pre",
    "--pre-glob",
    "--search-zip",
    "-z",
];

/// `git` subcommands that only read.
const GIT_READERS: &[&str] = &[
    "status", "diff", "log", "show", "blame", "branch", "ls-files",
];

/// git options that write a file or run a program (`diff --output`, an external diff or
/// text conversion).
const GIT_UNSAFE: &[&str] = &["--output", "--ext-diff", "--textconv", "-o"];

/// `find` actions that write or run.
const FIND_UNSAFE: &[&str] = &[
    "-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls",
];

/// The words of `command` when it is one plain command (a script the shell reads as nothing
/// but words, or an argv); `None` for anything more.
pub fn command_words(command: &ShellCommand) -> Option<Vec<String>> {
    match command.script() {
        Some(script) => plain_words(script),
        None => match command {
            ShellCommand::Argv(argv) => Some(argv.clone()),
            ShellCommand::Script(_) => None,
        },
    }
}

/// Whether `command` only reads: one program of the list, plain arguments.
pub fn only_reads(command: &ShellCommand) -> bool {
    let Some(words) = command_words(command) else {
        return false;
    };
    let Some((program, args)) = words.split_first() else {
        return false;
    };
    // A program named by a path may be anything; only the bare names are known.
    if program.contains('/') {
        return false;
    }
    // Outside the project is asked about in every mode: no absolute path, no `..`.
    let leaves = |arg: &String| arg.starts_with('/') || arg.split('/').any(|part| part == "..");
    if args.iter().any(leaves) {
        return false;
    }
    match program.as_str() {
        "git" => git_reads(args),
        "find" => !args.iter().any(|arg| FIND_UNSAFE.contains(&arg.as_str())),
        name if READERS.contains(&name) => !args.iter().any(|arg| {
            UNSAFE_OPTIONS
                .iter()
                .any(|bad| arg == bad || arg.starts_with(&format!("{bad}=")))
        }),
        _ => false,
    }
}

/// `git SUBCOMMAND ARGS` that reads: no global option before the subcommand (`-c`, `-C`,
/// `--exec-path`…), a reading subcommand, and none of the options that write or run.
fn git_reads(args: &[String]) -> bool {
    let Some((subcommand, rest)) = args.split_first() else {
        return false;
    };
    if !GIT_READERS.contains(&subcommand.as_str()) {
        return false;
    }
    // `git branch NAME` makes one; `git branch` alone, or with listing options, reads.
    if subcommand == "branch" && rest.iter().any(|arg| !arg.starts_with('-')) {
        return false;
    }
    if subcommand == "branch"
        && rest.iter().any(|arg| {
            matches!(
                arg.as_str(),
                "-d" | "-D"
                    | "-m"
                    | "-M"
                    | "-c"
                    | "-C"
                    | "--delete"
                    | "--move"
                    | "--copy"
                    | "--set-upstream-to"
                    | "-u"
                    | "--edit-description"
            )
        })
    {
        return false;
    }
    !rest.iter().any(|arg| {
        GIT_UNSAFE
            .iter()
            .any(|bad| arg == bad || arg.starts_with(&format!("{bad}=")))
    })
}

/// The words of `script` when it is one plain command: unquoted, only letters, digits and
/// the few marks that mean nothing to the shell (no `;&|<>$`*?(){}[]!#"\\` and no newline, a
/// `~` only after a letter or digit);
/// single quotes around anything, as the shell itself reads them. `None` for anything the
/// shell would read as more than words.
fn plain_words(script: &str) -> Option<Vec<String>> {
    let plain = |c: char| {
        c.is_alphanumeric()
            || matches!(c, '-' | '_' | '.' | '/' | ',' | ':' | '=' | '+' | '@' | '%')
    };
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = script.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => words.extend(word.take()),
            '\'' => {
                let quoted = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\'' => break,
                        inside => quoted.push(inside),
                    }
                }
            }
            // zsh reads a word that starts with `=` as a program's path.
            '=' if word.is_none() => return None,
            // A tilde expands at a word's start (and after `:` or `=`), not after a letter or
            // digit: `HEAD~1` is plain.
            '~' if word
                .as_ref()
                .and_then(|w| w.chars().last())
                .is_some_and(char::is_alphanumeric) =>
            {
                word.get_or_insert_with(String::new).push(c)
            }
            c if plain(c) => word.get_or_insert_with(String::new).push(c),
            _ => return None,
        }
    }
    words.extend(word);
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(text: &str) -> bool {
        only_reads(&ShellCommand::Script(text.to_string()))
    }

    #[test]
    fn plain_reading_commands_pass() {
        for ok in [
            "ls",
            "ls -la src",
            "cat src/main.rs",
            "rg -n 'fn main' src",
            "grep -rn TODO src",
            "git status",
            "git diff HEAD~1 -- src/lib.rs",
            "git log --oneline -20",
            "git branch",
            "find src -name '*.rs'",
            "wc -l src/main.rs",
            // Quoted, `;` is part of a file's name, as the shell reads it.
            "ls 'a;b'c",
        ] {
            assert!(script(ok), "{ok}");
        }
        assert!(
            only_reads(&ShellCommand::Argv(vec!["ls".into(), ";".into()])),
            "argv: `;` is a name"
        );
        assert!(only_reads(&ShellCommand::Argv(vec![
            "bash".into(),
            "-lc".into(),
            "git status".into()
        ])));
    }

    /// Each form an attacker would try: chaining, substitution, redirection, variables,
    /// `env`, `xargs`, quoting tricks, a program by path, options that write or run.
    #[test]
    fn anything_that_could_do_more_asks() {
        for asks in [
            "ls; rm -rf x",
            "ls && rm -rf x",
            "ls || rm -rf x",
            "ls | xargs rm",
            "ls & rm x",
            "cat $(rm -rf x)",
            "cat `rm -rf x`",
            "cat <(rm x)",
            "ls > out.txt",
            "cat < /etc/passwd > copy",
            "ls >> out",
            "echo $HOME",
            "cat ${HOME}/.ssh/id_rsa",
            "ls\nrm -rf x",
            "env rm -rf x",
            "xargs rm",
            "sudo ls",
            "ls 'a'\"b\"",
            "cat \"$(rm x)\"",
            "./ls",
            "/tmp/cat x",
            "ls ~",
            "cat ~/.ssh/id_rsa",
            "cat x:~/.ssh/id_rsa",
            "cat /etc/passwd",
            "ls ../other-project",
            "cat src/../../secret",
            "ls ..",
            "rg key --files /home",
            "find . -exec rm {} +",
            "find . -delete",
            "find . -fprint /tmp/x",
            "rg --pre ./evil x",
            "rg --pre=./evil x",
            "git -c core.pager=evil log",
            "git -C /elsewhere status",
            "git diff --output=/tmp/x",
            "git diff --ext-diff",
            "git log --textconv",
            "git branch evil",
            "git branch -D main",
            "git checkout .",
            "git push",
            "rm -rf x",
            "sed -i s/a/b/ x",
            "ls {a,b}",
            "ls *; rm x",
            "ls #comment",
            "cat x\\;rm",
        ] {
            assert!(!script(asks), "{asks:?} passed as read-only");
        }
    }
}
