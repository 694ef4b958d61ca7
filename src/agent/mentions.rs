//! `@path` in a prompt. A file the person mentions goes with the message, shown as `read_file`
//! shows it and within the same bounds, so the model starts the turn with it instead of asking
//! for it. Only files inside the project go, judged on where the path really leads. And the
//! project's file list, which the composer's finder searches.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::llm::images;

use crate::llm::types::{ATTACHMENT_HEADING, Content, IMAGE_HEADING, Item, Role};
use crate::protocol::Attachment;
use crate::protocol::ImageInput;
use crate::tools::opener::{AccessError, Approved, Opener};
use crate::tools::{paths, read_file, walk};

/// The files of one prompt together carry at most this much text: one `read_file` call's worth.
pub const MAX_ATTACHED_BYTES: usize = read_file::MAX_OUTPUT_BYTES;
/// Files one prompt attaches at most.
pub const MAX_ATTACHED_FILES: usize = 16;
/// Files the finder lists at most: enough for very large repositories, and a bound on memory.
pub const MAX_LISTED_FILES: usize = 500_000;

/// Characters that end a sentence rather than a path: `see @src/main.rs.` mentions `src/main.rs`
/// unless a file is really named with the dot.
const TRAILING_PUNCTUATION: &[char] = &['.', ',', ';', ':', '!', '?', ')', ']', '}', '\'', '"'];

/// The words of `text` that mention something: `@path` at the start or after white space, or
/// `@"a path"` for one with spaces; each once, in order.
pub fn mentions(text: &str) -> Vec<&str> {
    let mut found: Vec<&str> = Vec::new();
    let mut previous = None;
    for (at, c) in text.char_indices() {
        let starts_word = previous.is_none_or(char::is_whitespace);
        previous = Some(c);
        if c != '@' || !starts_word {
            continue;
        }
        let rest = &text[at + 1..];
        let word = match rest.strip_prefix('"') {
            Some(quoted) => match quoted.find(['"', '\n']) {
                Some(end) if quoted[end..].starts_with('"') => &quoted[..end],
                _ => continue,
            },
            None => &rest[..rest.find(char::is_whitespace).unwrap_or(rest.len())],
        };
        if !word.is_empty() && !found.contains(&word) {
            found.push(word);
        }
    }
    found
}

/// How `path` is mentioned in a prompt: `@path`, or `@"a path"` when it has spaces.
pub fn mention_of(path: &str) -> String {
    if path.contains(char::is_whitespace) {
        format!("@\"{path}\"")
    } else {
        format!("@{path}")
    }
}

/// The user message for `text`, with the files it mentions attached and `images` after them,
/// and a report of each mentioned file and image. Words that name nothing (`@someone`) stay
/// plain text and are not reported, unless they look like a path (`@src/nothing.rs`). A
/// mentioned image file (`@shot.png`) goes as an image. This reads files: call it off the async
/// threads.
pub fn user_message(
    text: String,
    images: &[ImageInput],
    project_dir: &Path,
) -> (Item, Vec<Attachment>) {
    let mut content = Vec::new();
    let mut report = Vec::new();
    let mut files = 0;
    let mut budget = MAX_ATTACHED_BYTES;
    let mut seen: Vec<PathBuf> = Vec::new();
    // The project held open once for the prompt, when it mentions anything.
    let opener = std::cell::OnceCell::new();
    for word in mentions(&text) {
        let Some(path) = existing(project_dir, word) else {
            let word = word.trim_end_matches(TRAILING_PUNCTUATION);
            if looks_like_path(word) {
                report.push(left_out(word, "no such file in the project".to_string()));
            }
            continue;
        };
        let full = paths::resolve(project_dir, Path::new(path));
        if full.is_dir() || seen.contains(&full) {
            // A folder is for the model to list; a file mentioned twice goes once.
            continue;
        }
        seen.push(full.clone());
        if files >= MAX_ATTACHED_FILES {
            let why = format!("a prompt attaches at most {MAX_ATTACHED_FILES} files");
            report.push(left_out(path, why));
            continue;
        }
        files += 1;
        let opener = opener.get_or_init(|| {
            Opener::new(project_dir, Approved::Only(Vec::new())).map_err(|e| e.to_string())
        });
        let (file, size) = match opener
            .as_ref()
            .map_err(String::clone)
            .and_then(|opener| open_inside(opener, &full))
        {
            Ok(opened) => opened,
            Err(why) => {
                report.push(left_out(path, why));
                continue;
            }
        };
        if images::has_image_name(path) {
            attach_image(
                path,
                images::from_open_file(file, size),
                &mut content,
                &mut report,
            );
            continue;
        }
        match read_file::read_open(file, size, path, None, None) {
            Ok(shown) if shown.len() <= budget => {
                budget -= shown.len();
                report.push(Attachment {
                    path: path.to_string(),
                    attached: true,
                    detail: size_of(&shown),
                });
                content.push(Content::InputText {
                    text: format!("{ATTACHMENT_HEADING}{path}\n{shown}"),
                });
            }
            Ok(_) => {
                let why = format!(
                    "the files of one prompt may carry {} KiB in all; ask the model to read it",
                    MAX_ATTACHED_BYTES / 1024
                );
                report.push(left_out(path, why));
            }
            Err(read_file::ReadFileError::Binary { size, .. }) => {
                report.push(left_out(path, format!("a binary file ({size} bytes)")));
            }
            Err(e) => report.push(left_out(path, e.to_string())),
        }
    }
    for image in images {
        attach_image(
            &image.label(),
            images::content(image),
            &mut content,
            &mut report,
        );
    }
    content.insert(0, Content::InputText { text });
    let item = Item::Message {
        role: Role::User,
        content,
    };
    (item, report)
}

/// Whether a word that names nothing was meant as a path (`src/nothing.rs`, `NOTES.md`), not a
/// name (`@someone`): it has a folder, or a dot inside it as a file's extension does.
fn looks_like_path(word: &str) -> bool {
    word.contains('/')
        || word
            .char_indices()
            .any(|(at, c)| c == '.' && at > 0 && at + 1 < word.len())
}

/// Opens the file at `full` for reading, if it is a regular file inside the project with no
/// other names: through the tools' opener, beneath the project root and without waiting (a
/// FIFO cannot hang the turn), so a link swapped in on the way is refused, not followed.
fn open_inside(opener: &Opener, full: &Path) -> Result<(File, u64), String> {
    let (file, meta) = opener.open_regular(full).map_err(|e| match e {
        AccessError::Outside { real, .. } => {
            format!("leads outside the project (to {})", real.display())
        }
        AccessError::NotRegular { kind, .. } => format!("{kind}, not a regular file"),
        AccessError::Changed { .. } => "changed while it was being opened".to_string(),
        AccessError::Io { source, .. } => source.to_string(),
    })?;
    if meta.nlink() > 1 {
        return Err("has other names (hard links) that may lie outside the project".to_string());
    }
    Ok((file, meta.len()))
}

/// The path `word` names, if it names something: as written, or without the punctuation that
/// ends a sentence.
fn existing<'a>(project_dir: &Path, word: &'a str) -> Option<&'a str> {
    let mut candidate = word;
    loop {
        if !candidate.is_empty() && paths::resolve(project_dir, Path::new(candidate)).exists() {
            return Some(candidate);
        }
        candidate = candidate.strip_suffix(TRAILING_PUNCTUATION)?;
    }
}

/// An image goes after a line naming it, so the model (and a resumed transcript) knows which
/// it is; one that cannot go is reported.
fn attach_image(
    label: &str,
    image: Result<Content, String>,
    content: &mut Vec<Content>,
    report: &mut Vec<Attachment>,
) {
    match image {
        Ok(part) => {
            let size = match &part {
                Content::InputImage { image_url, .. } if image_url.starts_with("data:") => {
                    let encoded = image_url.split_once(',').map_or("", |(_, data)| data);
                    let size = images::decoded_len(encoded);
                    format!("an image, {}", crate::humanize::bytes(size))
                }
                _ => "an image".to_string(),
            };
            content.push(Content::InputText {
                text: format!("{IMAGE_HEADING}{label}"),
            });
            content.push(part);
            report.push(Attachment {
                path: label.to_string(),
                attached: true,
                detail: size,
            });
        }
        Err(why) => report.push(left_out(label, why)),
    }
}

fn left_out(path: &str, why: String) -> Attachment {
    Attachment {
        path: path.to_string(),
        attached: false,
        detail: why,
    }
}

/// "52 lines", or "the first 2000 lines" when `read_file` stopped before the end.
fn size_of(shown: &str) -> String {
    let lines = shown.lines().filter(|line| line.starts_with('L')).count();
    let plural = if lines == 1 { "" } else { "s" };
    if shown.trim_end().ends_with("to read on]") {
        format!("the first {lines} line{plural}")
    } else if lines == 0 {
        "empty".to_string()
    } else {
        format!("{lines} line{plural}")
    }
}

/// A file a search found: its path under the root, how well it matched, and which characters
/// of the path matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    pub path: String,
    pub score: u32,
    pub indices: Vec<u32>,
}

/// The files under `root` that match `query` as the `@` finder matches them (fuzzy, on paths,
/// smart case), best first, at most `limit`; ties fall to the shallower path, then the name.
/// Lists the whole project: call it off the async threads.
pub fn search_files(root: &Path, query: &str, limit: usize) -> Vec<FoundFile> {
    use nucleo::pattern::{CaseMatching, Normalization, Pattern};
    let listed = std::sync::Mutex::new(Vec::new());
    list_project_files(root, &|path| {
        listed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(path);
    });
    let mut paths = listed
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    paths.sort_by(|a, b| (a.matches('/').count(), a).cmp(&(b.matches('/').count(), b)));
    let mut matcher = nucleo::Matcher::new(nucleo::Config::DEFAULT.match_paths());
    let pattern = Pattern::parse(query, CaseMatching::Smart, Normalization::Smart);
    let mut found: Vec<FoundFile> = pattern
        .match_list(paths, &mut matcher)
        .into_iter()
        .take(limit)
        .map(|(path, score)| FoundFile {
            path,
            score,
            indices: Vec::new(),
        })
        .collect();
    let mut buffer = Vec::new();
    for file in &mut found {
        let haystack = nucleo::Utf32Str::new(&file.path, &mut buffer);
        pattern.indices(haystack, &mut matcher, &mut file.indices);
        file.indices.sort_unstable();
        file.indices.dedup();
    }
    found
}

/// Lists the project's files for the finder, as `/`-separated paths relative to `root`, calling
/// `found` for each as the walk finds it (on several threads), by the tools' rules
/// ([`walk::project_walker`]). Stops after
/// [`MAX_LISTED_FILES`]; returns how many were found.
pub fn list_project_files(root: &Path, found: &(dyn Fn(String) + Sync)) -> usize {
    let count = AtomicUsize::new(0);
    walk::project_walker(root, root).build_parallel().run(|| {
        Box::new(|entry| {
            let Ok(entry) = entry else {
                return ignore::WalkState::Continue;
            };
            if !entry
                .file_type()
                .is_some_and(|t| t.is_file() || t.is_symlink())
            {
                return ignore::WalkState::Continue;
            }
            let Ok(relative) = entry.path().strip_prefix(root) else {
                return ignore::WalkState::Continue;
            };
            if count.fetch_add(1, Ordering::Relaxed) >= MAX_LISTED_FILES {
                return ignore::WalkState::Quit;
            }
            found(relative.to_string_lossy().replace('\\', "/"));
            ignore::WalkState::Continue
        })
    });
    count.into_inner().min(MAX_LISTED_FILES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_words_that_start_with_an_at() {
        assert_eq!(
            mentions("see @src/main.rs and @\"my notes.md\", not me@example.com\n@a @a"),
            vec!["src/main.rs", "my notes.md", "a"]
        );
        assert_eq!(mentions("@ alone, @\"unclosed"), Vec::<&str>::new());
    }

    #[test]
    fn mentioned_files_inside_the_project_are_attached() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/lib.rs"), "fn one() {}\nfn two() {}\n").unwrap();
        std::fs::write(dir.path().join("blob.bin"), [0u8, 1, 2]).unwrap();
        let (item, report) = user_message(
            "look at @src/lib.rs. and @blob.bin, @someone, @src/gone.rs and @NOTES.md.".to_string(),
            &[],
            dir.path(),
        );
        assert_eq!(
            item.typed_text(),
            "look at @src/lib.rs. and @blob.bin, @someone, @src/gone.rs and @NOTES.md."
        );
        assert_eq!(item.attached_paths(), vec!["src/lib.rs"]);
        assert!(item.text().contains("L2: fn two() {}"), "{}", item.text());
        let shown: Vec<(&str, bool, &str)> = report
            .iter()
            .map(|a| (a.path.as_str(), a.attached, a.detail.as_str()))
            .collect();
        assert_eq!(
            shown,
            vec![
                ("src/lib.rs", true, "2 lines"),
                ("blob.bin", false, "a binary file (3 bytes)"),
                ("src/gone.rs", false, "no such file in the project"),
                ("NOTES.md", false, "no such file in the project"),
            ]
        );
    }

    #[test]
    fn a_link_out_of_the_project_is_not_followed() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "key\n").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        let (item, report) = user_message("@link".to_string(), &[], dir.path());
        assert!(item.attached_paths().is_empty());
        assert!(!item.text().contains("key"));
        assert!(!report[0].attached);
        assert!(
            report[0].detail.starts_with("leads outside the project"),
            "{report:?}"
        );
    }

    #[test]
    fn nothing_outside_the_project_and_nothing_but_regular_files_is_attached() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "TOP SECRET\n").unwrap();
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("project");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(parent.path().join("beside"), "TOP SECRET\n").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.join("linkdir")).unwrap();
        std::fs::hard_link(outside.path().join("secret"), dir.join("hard")).unwrap();
        let fifo = std::ffi::CString::new(dir.join("pipe").to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let absolute = outside.path().join("secret");
        let prompt = format!(
            "@../beside @{} @linkdir/secret @hard @pipe",
            absolute.display()
        );
        let (item, report) = user_message(prompt, &[], &dir);
        assert!(item.attached_paths().is_empty(), "{report:?}");
        assert!(!item.text().contains("TOP SECRET"));
        let why: Vec<&str> = report.iter().map(|a| a.detail.as_str()).collect();
        assert_eq!(why.len(), 5, "{report:?}");
        for outside in &why[..3] {
            assert!(
                outside.starts_with("leads outside the project"),
                "{report:?}"
            );
        }
        assert!(why[3].starts_with("has other names"), "{report:?}");
        assert_eq!(
            why[4], "a FIFO (named pipe), not a regular file",
            "a FIFO is refused, not waited on"
        );
    }

    #[test]
    fn the_listing_keeps_the_ignore_rules() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::create_dir_all(root.join("target/debug")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join(".gitignore"), "target/\n").unwrap();
        std::fs::write(root.join("src/main.rs"), "").unwrap();
        std::fs::write(root.join("target/debug/kelp"), "").unwrap();
        std::fs::write(root.join(".git/HEAD"), "").unwrap();
        let found = std::sync::Mutex::new(Vec::new());
        let count = list_project_files(root, &|path| found.lock().unwrap().push(path));
        let mut found = found.into_inner().unwrap();
        found.sort();
        assert_eq!(found, vec![".gitignore", "src/main.rs"]);
        assert_eq!(count, 2);
    }

    #[test]
    fn a_mentioned_image_goes_as_an_image_named_by_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        std::fs::write(dir.path().join("shot.png"), png).unwrap();
        std::fs::write(dir.path().join("fake.png"), "text").unwrap();
        let (item, report) = user_message("see @shot.png and @fake.png".into(), &[], dir.path());
        let Item::Message { content, .. } = &item else {
            panic!("{item:?}")
        };
        assert_eq!(content.len(), 3, "{content:?}");
        assert_eq!(
            content[1],
            Content::InputText {
                text: format!("{IMAGE_HEADING}shot.png")
            }
        );
        assert!(
            matches!(&content[2], Content::InputImage { image_url, .. } if image_url.starts_with("data:image/png;base64,"))
        );
        assert_eq!(item.typed_text(), "see @shot.png and @fake.png");
        assert_eq!(item.attached_paths(), ["shot.png"]);
        assert_eq!(report[0].detail, "an image, 16 B");
        assert!(!report[1].attached);
        assert_eq!(report[1].detail, "not a PNG, JPEG, GIF or WebP image");
    }

    #[test]
    fn a_search_finds_files_best_first_with_the_matched_characters() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src/parser")).unwrap();
        for file in ["src/parser/mod.rs", "src/main.rs", "README.md"] {
            std::fs::write(dir.path().join(file), "x").unwrap();
        }
        let found = search_files(dir.path(), "main", 10);
        assert_eq!(found[0].path, "src/main.rs");
        assert_eq!(found[0].indices, [4, 5, 6, 7]);
        assert!(found.iter().all(|f| f.path != "README.md"));
        assert_eq!(
            search_files(dir.path(), "", 2).len(),
            2,
            "at most the limit"
        );
    }
}
