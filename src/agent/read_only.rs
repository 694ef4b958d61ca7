//! Commands that only read, which run without asking in every mode (`ls`, `cat`, `rg`, `git
//! status`…). Judged on the parsed command, never on its text: a script qualifies only when it
//! is one plain command with no shell syntax at all (no `;`, `&&`, `|`, redirection,
//! substitution, variables, globs' neighbours, quotes that hide any of these), its program is on
//! the list, and none of its options is one that writes or runs something (`find -exec`, `rg
//! --pre`, `git diff --output`, `git -c`). Anything else asks as before.

use std::path::Path;

use crate::tools::{ShellCommand, paths};

/// What an option takes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Takes {
    Nothing,
    /// A value, attached (`-n5`, `--lines=5`) or the next word.
    Value,
    /// A path, attached or the next word: it must lead inside the project as well.
    Path,
    /// A value only when attached (`-M50%`, `--color=never`), never the next word.
    Attached,
}

/// What a program's words after its options are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operands {
    /// Files and folders, each of which must lead inside the project.
    Paths,
    /// A pattern, then paths (the pattern is given by an option instead with `-e` or `-f`).
    PatternThenPaths,
    /// Words that name no file (`which ls`, `basename a/b`).
    Words,
    /// None at all.
    Nothing,
}

/// A program that only reads and prints: the options it may have, each with what it takes,
/// in one line (`-n=` takes a value, `-f@` a path, `--color?` an attached value only), and
/// what its other words are. An option not listed asks, so a program is trusted only as far
/// as its manual was read: none of these writes a file or runs a program.
struct Reader {
    name: &'static str,
    options: &'static str,
    operands: Operands,
    /// `head -5`: a count written as an option.
    counts: bool,
}

const READERS: &[Reader] = &[
    Reader {
        name: "ls",
        // Not -L or --dereference: a link in the project would be followed out of it.
        options: "-a -A -b -B -c -C -d -D -f -F -g -G -h -H -i -k -l -m -n -N -o -p -q -Q -r -R -s -S -t -u -U -v -x -X -Z -1 -w= -I= -T= --all --almost-all --escape --ignore-backups --directory --classify? --file-type --group-directories-first --no-group --human-readable --si --inode --kibibytes --numeric-uid-gid --literal --hide-control-chars --show-control-chars --quote-name --reverse --recursive --size --context --color? --format= --hide= --ignore= --indicator-style= --quoting-style= --sort= --time= --time-style= --tabsize= --width= --block-size= --author --full-time --zero",
        operands: Operands::Paths,
        counts: false,
    },
    Reader {
        name: "pwd",
        options: "-L -P",
        operands: Operands::Nothing,
        counts: false,
    },
    Reader {
        name: "cat",
        options: "-A -b -e -E -n -s -t -T -u -v --show-all --number-nonblank --show-ends --number --squeeze-blank --show-tabs --show-nonprinting",
        operands: Operands::Paths,
        counts: false,
    },
    Reader {
        name: "head",
        options: "-n= -c= -q -v -z --lines= --bytes= --quiet --silent --verbose --zero-terminated",
        operands: Operands::Paths,
        counts: true,
    },
    Reader {
        // Not -f or -F: following a file never ends.
        name: "tail",
        options: "-n= -c= -q -v -z --lines= --bytes= --quiet --silent --verbose --zero-terminated",
        operands: Operands::Paths,
        counts: true,
    },
    Reader {
        // Not --files0-from: a list of paths read from a file.
        name: "wc",
        options: "-c -m -l -L -w --bytes --chars --lines --max-line-length --words --total=",
        operands: Operands::Paths,
        counts: false,
    },
    Reader {
        // Not -C (writes a compiled magic file), -m and -f (read another file), -z and -Z
        // (decompress with other programs), -S (turns off file's own sandbox).
        name: "file",
        options: "-b -i -k -L -h -N -0 -E --brief --mime --mime-type --mime-encoding --keep-going --dereference --no-dereference --no-pad --print0 --raw",
        operands: Operands::Paths,
        counts: false,
    },
    Reader {
        name: "stat",
        options: "-L -f -t -c= --printf= --format= --dereference --file-system --terse --cached=",
        operands: Operands::Paths,
        counts: false,
    },
    Reader {
        name: "which",
        options: "-a",
        operands: Operands::Words,
        counts: false,
    },
    Reader {
        // Not -o (writes its listing), -R (writes an HTML file in each folder), -l (follows
        // links out of the project), --fromfile.
        name: "tree",
        options: "-a -d -f -i -q -N -Q -p -u -g -s -h -D -F -v -t -c -U -r -x -n -C -A -S -J -X --inodes --device --du --si --noreport --dirsfirst --filesfirst --gitignore --prune --matchdirs --ignore-case --charset= -L= -P= -I= --filelimit= --sort= --timefmt=",
        operands: Operands::Paths,
        counts: false,
    },
    Reader {
        // Not -L (follows links out), --files0-from.
        name: "du",
        options: "-a -b -c -h -k -m -s -S -x -l -0 --all --apparent-size --bytes --total --human-readable --si --summarize --separate-dirs --one-file-system --count-links --null -d= --max-depth= --block-size= -B= --exclude= -X@ --exclude-from@ --time? --threshold= -t=",
        operands: Operands::Paths,
        counts: false,
    },
    Reader {
        name: "df",
        options: "-a -h -H -i -k -l -P -T --all --human-readable --si --inodes --local --portability --print-type --total -B= --block-size= --output? -t= --type= -x= --exclude-type=",
        operands: Operands::Paths,
        counts: false,
    },
    Reader {
        name: "grep",
        options: GREP,
        operands: Operands::PatternThenPaths,
        counts: true,
    },
    Reader {
        name: "egrep",
        options: GREP,
        operands: Operands::PatternThenPaths,
        counts: true,
    },
    Reader {
        name: "fgrep",
        options: GREP,
        operands: Operands::PatternThenPaths,
        counts: true,
    },
    Reader {
        // Not --pre, --pre-glob, -z/--search-zip (run other programs on each file),
        // --hostname-bin (runs a program), --hyperlink-format, -L/--follow.
        name: "rg",
        options: "-i -s -S -v -w -x -n -N -c -l -H -I -o -F -P -U -a -b -q -0 -p -. -u --files --files-with-matches --files-without-match --count --count-matches --ignore-case --case-sensitive --smart-case --invert-match --word-regexp --line-regexp --line-number --no-line-number --with-filename --no-filename --only-matching --fixed-strings --pcre2 --no-pcre2 --multiline --multiline-dotall --text --byte-offset --quiet --null --pretty --hidden --no-hidden --no-ignore --no-ignore-vcs --no-ignore-parent --no-ignore-dot --no-ignore-global --no-ignore-exclude --no-ignore-files --no-require-git --no-messages --no-config --json --vimgrep --heading --no-heading --column --no-column --trim --passthru --stats --type-list --one-file-system --crlf --binary --no-binary --sort-files --unrestricted --line-buffered --block-buffered --max-columns-preview --color= --colors= -e= -f@ -g= -t= -T= -A= -B= -C= -m= -M= -j= -r= -E= -d= --regexp= --file@ --glob= --iglob= --type= --type-not= --type-add= --type-clear= --after-context= --before-context= --context= --max-count= --max-columns= --max-depth= --maxdepth= --max-filesize= --threads= --replace= --encoding= --sort= --sortr= --engine= --path-separator= --context-separator= --field-match-separator= --field-context-separator= --ignore-file@",
        operands: Operands::PatternThenPaths,
        counts: false,
    },
    Reader {
        name: "nl",
        options: "-p -b= -d= -f= -h= -i= -l= -n= -s= -v= -w= --body-numbering= --section-delimiter= --footer-numbering= --header-numbering= --line-increment= --join-blank-lines= --number-format= --no-renumber --number-separator= --starting-line-number= --number-width=",
        operands: Operands::Paths,
        counts: false,
    },
    Reader {
        name: "basename",
        options: "-a -z -s= --multiple --zero --suffix=",
        operands: Operands::Words,
        counts: false,
    },
    Reader {
        name: "dirname",
        options: "-z --zero",
        operands: Operands::Words,
        counts: false,
    },
    Reader {
        name: "realpath",
        options: "-e -m -L -P -q -s -z --canonicalize-existing --canonicalize-missing --logical --physical --quiet --strip --no-symlinks --zero --relative-to@ --relative-base@",
        operands: Operands::Paths,
        counts: false,
    },
    Reader {
        name: "readlink",
        options: "-f -e -m -n -q -s -v -z --canonicalize --canonicalize-existing --canonicalize-missing --no-newline --quiet --silent --verbose --zero",
        operands: Operands::Paths,
        counts: false,
    },
];

/// grep's options. Not -R (follows every link, out of the project too).
const GREP: &str = "-E -F -G -P -i -y -v -w -x -c -l -L -o -q -s -b -n -H -h -a -I -r -z -Z -T -U --extended-regexp --fixed-strings --basic-regexp --perl-regexp --ignore-case --no-ignore-case --invert-match --word-regexp --line-regexp --count --files-with-matches --files-without-match --only-matching --quiet --silent --no-messages --byte-offset --line-number --no-line-number --with-filename --no-filename --text --recursive --null-data --null --initial-tab --binary --line-buffered --color? --colour? -e= -f@ -m= -A= -B= -C= --regexp= --file@ --max-count= --after-context= --before-context= --context= --label= --include= --exclude= --exclude-dir= --exclude-from@ --binary-files= -d= --directories= -D= --devices=";

/// Options of `git diff`, `log` and `show` that print. Not --output (writes), --ext-diff and
/// --textconv (run programs), -O (reads a file), --no-index (compares files anywhere).
const GIT_DIFF: &str = "-p -u -s --patch --no-patch --raw --stat? --numstat --shortstat --dirstat? --summary --name-only --name-status --submodule? --color? --no-color --color-moved? --no-color-moved --word-diff? --word-diff-regex= --color-words? --no-renames --check --full-index --binary --abbrev? -B? -M? -C? --find-renames? --find-copies? --find-copies-harder --irreversible-delete -D -l= --diff-filter= -S= -G= --pickaxe-all --pickaxe-regex -R --relative? --no-relative -a --text --ignore-cr-at-eol --ignore-space-at-eol -b --ignore-space-change -w --ignore-all-space --ignore-blank-lines -I= --ignore-matching-lines= --inter-hunk-context= -W --function-context --exit-code --quiet --no-ext-diff --no-textconv --ignore-submodules? --src-prefix= --dst-prefix= --no-prefix --default-prefix --line-prefix= -z -U? --unified= --minimal --patience --histogram --diff-algorithm= --anchored= --indent-heuristic --no-indent-heuristic --stat-width= --stat-name-width= --stat-count= --compact-summary --output-indicator-new= --output-indicator-old= --output-indicator-context= --cached --staged";

/// Options of `git log` and `show` beyond the diff's. Not --show-signature (runs gpg).
const GIT_LOG: &str = "--oneline --graph --decorate? --no-decorate --all --branches? --tags? --remotes? --format= --pretty? --abbrev-commit --no-abbrev-commit -n= --max-count= --skip= --since= --after= --until= --before= --author= --committer= --grep= --all-match --invert-grep -i --regexp-ignore-case -E --extended-regexp -F --fixed-strings --merges --no-merges --first-parent --reverse --topo-order --date-order --author-date-order --date= --relative-date --follow --left-right --cherry-pick --cherry-mark --cherry --boundary --ancestry-path --simplify-by-decoration --full-history --no-walk? --walk-reflogs -g --source --use-mailmap --mailmap --notes? --no-notes --parents --children --min-parents= --max-parents= -m --cc --dd --diff-merges= --remerge-diff --no-diff-merges -L=";

/// `git` subcommands that only read, with their options (the diff's and log's are added to
/// `diff`, `log` and `show`). `branch` reads only without a name (see [`git_reads`]).
const GIT_READERS: &[(&str, &str)] = &[
    (
        "status",
        "-s --short -b --branch --show-stash --porcelain? --long -v --verbose -u? --untracked-files? --ignored? --ignore-submodules? -z --column? --no-column --ahead-behind --no-ahead-behind --renames --no-renames --find-renames?",
    ),
    ("diff", ""),
    ("log", ""),
    ("show", ""),
    // Not --contents (reads any file), -S (a list of revisions from a file).
    (
        "blame",
        "-b --root --show-stats -l -t -s -e -p -w -n -f -c --porcelain --line-porcelain --incremental --show-email --show-name --show-number --abbrev? --date= -L= -M? -C? --color-lines --color-by-age --minimal --first-parent --ignore-rev= --ignore-revs-file@ --encoding=",
    ),
    (
        "branch",
        "-a -r -l --list -v --verbose --all --remotes --show-current --sort= --format= --color? --no-color --column? --no-column --abbrev= --no-abbrev -i --ignore-case --omit-empty --points-at= --merged? --no-merged? --contains? --no-contains?",
    ),
    (
        "ls-files",
        "-c -d -m -o -i -s -u -k -z -t -v -f --cached --deleted --modified --others --ignored --stage --unmerged --killed --directory --no-empty-directory --eol --deduplicate --exclude-standard --full-name --recurse-submodules --error-unmatch --abbrev? --debug --sparse --format= -x= --exclude= -X@ --exclude-from@ --exclude-per-directory= --with-tree=",
    ),
];

/// `find`'s tests and actions that only read or print, with how many words each takes. Not
/// -exec, -execdir, -ok, -okdir, -delete, -fprint* and -fls (run or write), -L or -follow
/// (follow links out of the project), -files0-from.
const FIND_EXPRESSION: &str = "-print -print0 -ls -prune -quit -empty -true -false -readable -writable -executable -nouser -nogroup -depth -d -mount -xdev -noleaf -daystart -not -a -and -o -or ! ( ) , -ignore_readdir_race -name= -iname= -path= -ipath= -wholename= -iwholename= -regex= -iregex= -regextype= -type= -xtype= -size= -perm= -user= -group= -uid= -gid= -links= -inum= -mtime= -mmin= -atime= -amin= -ctime= -cmin= -maxdepth= -mindepth= -printf= -lname= -ilname= -used= -fstype= -samefile@ -newer@ -anewer@ -cnewer@";

/// The options of a spec line, each with what it takes.
fn options(spec: &'static str) -> impl Iterator<Item = (&'static str, Takes)> + Clone {
    spec.split_whitespace().map(|option| {
        if let Some(name) = option.strip_suffix('=').filter(|name| name.len() > 1) {
            (name, Takes::Value)
        } else if let Some(name) = option.strip_suffix('@') {
            (name, Takes::Path)
        } else if let Some(name) = option.strip_suffix('?').filter(|name| name.len() > 1) {
            (name, Takes::Attached)
        } else {
            (option, Takes::Nothing)
        }
    })
}

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

/// Whether `command`, run in `workdir` of the project at `project_dir`, only reads the
/// project: one program of the list, options its list allows, and every path it names (in
/// its arguments and in its options' values) leading inside the project once links are
/// followed.
pub fn only_reads(command: &ShellCommand, project_dir: &Path, workdir: &Path) -> bool {
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
    let inside = |word: &str| {
        paths::outside(project_dir, &paths::resolve(workdir, Path::new(word))).is_none()
    };
    match program.as_str() {
        "git" => git_reads(args, project_dir, workdir),
        "find" => find_reads(args, &inside),
        name => READERS
            .iter()
            .find(|reader| reader.name == name)
            .is_some_and(|reader| {
                let parsed = parse(args, &[reader.options], reader.counts, &inside);
                parsed.is_some_and(
                    |Parsed {
                         operands,
                         pattern_given,
                     }| {
                        let paths = match reader.operands {
                            Operands::Paths => &operands[..],
                            Operands::PatternThenPaths if pattern_given => &operands[..],
                            Operands::PatternThenPaths => operands.get(1..).unwrap_or(&[]),
                            Operands::Words => &[],
                            Operands::Nothing if operands.is_empty() => &[],
                            Operands::Nothing => return false,
                        };
                        paths.iter().all(|path| inside(path))
                    },
                )
            }),
    }
}

/// A command's words once its options are read.
struct Parsed<'a> {
    operands: Vec<&'a str>,
    /// Whether an option gave the pattern (`grep -e x`, `rg -f list`, `rg --files`), so every
    /// operand is a path.
    pattern_given: bool,
}

/// Reads `args` against the options of the `allowed` spec lines: `None` when one is not allowed or a path an
/// option names leads out of the project (`inside` says).
fn parse<'a>(
    args: &'a [String],
    allowed: &[&'static str],
    counts: bool,
    inside: &dyn Fn(&str) -> bool,
) -> Option<Parsed<'a>> {
    let lookup = |name: &str| {
        allowed
            .iter()
            .flat_map(|spec| options(spec))
            .find(|(option, _)| *option == name)
            .map(|(_, takes)| takes)
    };
    let mut operands = Vec::new();
    let mut pattern_given = false;
    let mut words = args.iter();
    let mut value_ok = |name: &str, takes: Takes, value: &str| {
        if matches!(
            name,
            "-e" | "--regexp" | "-f" | "--file" | "--files" | "--type-list"
        ) {
            pattern_given = true;
        }
        takes != Takes::Path || inside(value)
    };
    while let Some(word) = words.next() {
        if word == "--" {
            operands.extend(words.by_ref().map(String::as_str));
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, value)) => (&word[..name.len() + 2], Some(value)),
                None => (word.as_str(), None),
            };
            let takes = lookup(name)?;
            let value = match (takes, value) {
                (Takes::Nothing, Some(_)) => return None,
                (Takes::Nothing | Takes::Attached, None) => None,
                (_, Some(value)) => Some(value),
                (_, None) => Some(words.next()?.as_str()),
            };
            if !value_ok(name, takes, value.unwrap_or("")) {
                return None;
            }
        } else if word.len() > 1 && word.starts_with('-') {
            if counts && word[1..].chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            // A cluster of letters: `-la`, `-n5`, `-C3`.
            let letters = &word[1..];
            for (at, letter) in letters.char_indices() {
                let name = format!("-{letter}");
                let takes = lookup(&name)?;
                let rest = &letters[at + letter.len_utf8()..];
                let value = match takes {
                    Takes::Nothing => continue,
                    Takes::Attached => rest,
                    _ if !rest.is_empty() => rest,
                    _ => words.next()?.as_str(),
                };
                if !value_ok(&name, takes, value) {
                    return None;
                }
                break;
            }
        } else {
            operands.push(word.as_str());
        }
    }
    Some(Parsed {
        operands,
        pattern_given,
    })
}

/// `find PATHS EXPRESSION` that only reads: its starting points inside the project, and only
/// tests and actions that print.
fn find_reads(args: &[String], inside: &dyn Fn(&str) -> bool) -> bool {
    let mut words = args.iter().peekable();
    // `-P` (never follow links) and `-H` (only those named, which are judged below).
    while words
        .next_if(|word| matches!(word.as_str(), "-P" | "-H"))
        .is_some()
    {}
    let is_expression = |word: &str| word.starts_with('-') || matches!(word, "!" | "(" | ")" | ",");
    while let Some(start) = words.next_if(|word| !is_expression(word)) {
        if !inside(start) {
            return false;
        }
    }
    while let Some(word) = words.next() {
        let Some((_, takes)) = options(FIND_EXPRESSION).find(|(name, _)| name == word) else {
            return false;
        };
        match takes {
            Takes::Nothing | Takes::Attached => {}
            Takes::Value => {
                if words.next().is_none() {
                    return false;
                }
            }
            Takes::Path => match words.next() {
                Some(path) if inside(path) => {}
                _ => return false,
            },
        }
    }
    true
}

/// `git SUBCOMMAND ARGS` that reads: no global option before the subcommand (`-c`, `-C`,
/// `--exec-path`…), a reading subcommand with only its listed options, and the repository git
/// finds from `workdir` the project's own (or one above it). A folder in the project that git
/// would take for a repository of its own (a nested `.git`, or a bare repository's `HEAD`,
/// `objects` and `refs` a patch or command could have written) may have a config that runs a
/// program: git there asks.
fn git_reads(args: &[String], project_dir: &Path, workdir: &Path) -> bool {
    let Some((subcommand, rest)) = args.split_first() else {
        return false;
    };
    let Some((_, own)) = GIT_READERS.iter().find(|(name, _)| name == subcommand) else {
        return false;
    };
    let (diff, log) = match subcommand.as_str() {
        "diff" => (GIT_DIFF, ""),
        "log" | "show" => (GIT_DIFF, GIT_LOG),
        _ => ("", ""),
    };
    // Revisions and paths in the repository: git itself refuses a path outside it, and
    // nothing here reads a file by an option.
    let Some(parsed) = parse(rest, &[own, diff, log], true, &|_| true) else {
        return false;
    };
    let leaves = |arg: &&str| arg.starts_with('/') || arg.split('/').any(|part| part == "..");
    if parsed.operands.iter().any(leaves) {
        return false;
    }
    // `git branch NAME` makes one; `git branch` alone, or with listing options, reads.
    if subcommand == "branch" && !parsed.operands.is_empty() {
        return false;
    }
    in_own_repository(project_dir, workdir)
}

/// Whether the repository git finds from `workdir` is the project's own `.git`, or lies above
/// the project (outside, where commands cannot write): no folder from `workdir` up to the
/// project is a repository of its own.
fn in_own_repository(project_dir: &Path, workdir: &Path) -> bool {
    let root = paths::real_path(project_dir).unwrap_or_else(|_| project_dir.to_path_buf());
    let Ok(mut folder) = paths::real_path(workdir) else {
        return false;
    };
    if !folder.starts_with(&root) {
        return false;
    }
    loop {
        let has = |name: &str| folder.join(name).symlink_metadata().is_ok();
        if has(".git") {
            return folder == root;
        }
        if has("HEAD") && has("objects") && has("refs") {
            return false;
        }
        if folder == root || !folder.pop() {
            return true;
        }
    }
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
        let project = tempfile::tempdir().unwrap();
        reads_in(project.path(), text)
    }

    fn reads_in(project: &Path, text: &str) -> bool {
        only_reads(&ShellCommand::Script(text.to_string()), project, project)
    }

    fn argv(words: &[&str]) -> bool {
        let project = tempfile::tempdir().unwrap();
        let words = words.iter().map(|word| word.to_string()).collect();
        only_reads(&ShellCommand::Argv(words), project.path(), project.path())
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
        assert!(argv(&["ls", ";"]), "argv: `;` is a name");
        assert!(argv(&["bash", "-lc", "git status"]));
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

    /// The second review's attacks: an option that runs a program, a path that leads out,
    /// an option that writes or reads elsewhere.
    #[test]
    fn options_are_allowed_per_program_and_paths_must_stay_inside() {
        for asks in [
            "rg --hostname-bin=./tool --hyperlink-format=default --color=always x",
            "rg -z x",
            "rg --search-zip x",
            "rg -L x",
            "grep -R x .",
            "sort --compress-program=./tool x",
            "git blame --contents=/etc/passwd x",
            "git blame --contents x y",
            "git log --show-signature",
            "git diff --no-index a b",
            "git diff -Oorder",
            "file --files-from=/etc/list",
            "file -f list",
            "file -C -m magic",
            "tree -o out.txt",
            "tree -R",
            "tail -f log",
            "ls -L",
            "du -L",
            "find -L .",
            "find . -newer /etc/passwd",
            "find /etc -name x",
            "wc --files0-from=list",
            "grep -f /etc/shadow x",
            "rg --ignore-file=/etc/x y",
            "head --unknown x",
            "cat -Z x",
        ] {
            assert!(!script(asks), "{asks:?} passed as read-only");
        }
        for ok in [
            "rg -n --color=never -g '*.rs' -C2 needle src",
            "rg -uuu --files",
            "grep -rn -e TODO -- src",
            "head -n5 README.md",
            "head -5 README.md",
            "git log -5 --stat --format=%H",
            "git show HEAD~1:src/lib.rs",
            "git diff -M50% --cached",
            "find . -name '*.rs' -type f -maxdepth 2",
            "tree -L 2 -a",
            "ls -la --color=auto",
        ] {
            assert!(script(ok), "{ok:?} asked");
        }
    }

    /// `cat LINK` where the link leads out asks; an absolute path inside the project does not.
    #[test]
    fn a_path_is_judged_where_its_links_lead() {
        let project = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), project.path().join("link"))
            .unwrap();
        std::fs::write(project.path().join("mine"), "m").unwrap();
        assert!(!reads_in(project.path(), "cat link"));
        assert!(!reads_in(project.path(), "rg x link"));
        assert!(!reads_in(project.path(), "grep -f link x"));
        let mine = project.path().join("mine");
        assert!(reads_in(project.path(), &format!("cat {}", mine.display())));
    }

    /// git runs unasked only where the repository it finds is the project's own: a folder
    /// that looks like a bare repository, or a nested one, may have a config that runs a
    /// program.
    #[test]
    fn git_reads_only_in_the_projects_own_repository() {
        let project = tempfile::tempdir().unwrap();
        let root = project.path();
        std::fs::create_dir(root.join(".git")).unwrap();
        for folder in ["bare/objects", "bare/refs", "nested/.git", "plain/deeper"] {
            std::fs::create_dir_all(root.join(folder)).unwrap();
        }
        std::fs::write(root.join("bare/HEAD"), "ref: refs/heads/main\n").unwrap();
        let git_in = |dir: &str| {
            let command = ShellCommand::Script("git status".to_string());
            only_reads(&command, root, &root.join(dir))
        };
        assert!(git_in("."));
        assert!(git_in("plain/deeper"));
        assert!(
            !git_in("bare"),
            "a bare repository's config is the model's to write"
        );
        assert!(!git_in("nested"));
    }
}
