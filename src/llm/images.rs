//! Images in a prompt, sent to the model as image input: a host's URL or file
//! (`localImage`), an editor's inline data (ACP), or a project file mentioned with `@`. Each is
//! checked for what it is before it goes (PNG, JPEG, GIF or WebP by its first bytes) and bounded,
//! so a wrong path becomes a line the person reads, not a request the API refuses.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::llm::types::Content;
use crate::protocol::ImageInput;

/// The largest image kelp sends: the Responses API takes at most 50 MB of images in one
/// request, and a screenshot is far below this.
pub const MAX_IMAGE_BYTES: u64 = 20 * 1024 * 1024;

impl ImageInput {
    /// How the image is named to the person: its path, its URL (data left out), or its type.
    pub fn label(&self) -> String {
        match self {
            Self::Url(url) if url.starts_with("data:") => "an inline image".to_string(),
            Self::Url(url) => url.clone(),
            Self::File(path) => path.display().to_string(),
            Self::Data { mime_type, .. } => format!("a pasted {mime_type} image"),
        }
    }
}

/// The image formats the model reads, by their first bytes.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Whether a file name says it is an image the model reads (for `@shot.png`).
pub fn has_image_name(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".png", ".jpg", ".jpeg", ".gif", ".webp"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// The image as a part of the user message, or why it cannot go. Reads a file: call it off
/// the async threads.
pub fn content(input: &ImageInput) -> Result<Content, String> {
    match input {
        ImageInput::Url(url) if url.starts_with("https://") || url.starts_with("http://") => {
            Ok(image_part(url.clone()))
        }
        ImageInput::Url(url) => match url.strip_prefix("data:").and_then(|d| d.split_once(',')) {
            Some((header, data)) => {
                let mime = header.strip_suffix(";base64").ok_or_else(|| {
                    "an inline image must be base64 (data:<type>;base64,…)".to_string()
                })?;
                from_base64(mime, data)
            }
            None => Err("an image URL must start with https://, http:// or data:".to_string()),
        },
        ImageInput::File(path) => from_path(path),
        ImageInput::Data { mime_type, base64 } => from_base64(mime_type, base64),
    }
}

/// An image file already opened (a project file through the tools' opener), `size` bytes long.
pub fn from_open_file(file: File, size: u64) -> Result<Content, String> {
    if size > MAX_IMAGE_BYTES {
        return Err(too_large(size));
    }
    let mut bytes = Vec::new();
    file.take(MAX_IMAGE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_IMAGE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    let mime = sniff(&bytes).ok_or_else(not_an_image)?;
    Ok(image_part(data_url(mime, &STANDARD.encode(&bytes))))
}

/// A file the host names: opened without waiting (a FIFO cannot hang the turn), regular files
/// only.
fn from_path(path: &Path) -> Result<Content, String> {
    let (file, meta) =
        crate::private_file::open_without_waiting(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        let kind = crate::private_file::kind_of(&meta);
        return Err(format!("{kind}, not an image file"));
    }
    from_open_file(file, meta.len())
}

/// Inline bytes: decoded to check what they are and how large, then sent as they came.
fn from_base64(mime: &str, data: &str) -> Result<Content, String> {
    let size = decoded_len(data);
    if size > MAX_IMAGE_BYTES {
        return Err(too_large(size));
    }
    let bytes = STANDARD
        .decode(data.trim())
        .map_err(|_| "the image's data is not base64".to_string())?;
    let found = sniff(&bytes).ok_or_else(not_an_image)?;
    if !mime.is_empty() && !mime.eq_ignore_ascii_case(found) {
        tracing::info!(said = mime, found, "an inline image's type corrected");
    }
    Ok(image_part(data_url(found, data.trim())))
}

/// How many bytes base64 `data` carries: three for every four characters, less the padding.
pub fn decoded_len(data: &str) -> u64 {
    let data = data.trim();
    let padding = data.bytes().rev().take_while(|&b| b == b'=').count() as u64;
    (data.len() as u64 / 4 * 3).saturating_sub(padding)
}

fn data_url(mime: &str, base64: &str) -> String {
    format!("data:{mime};base64,{base64}")
}

fn image_part(image_url: String) -> Content {
    Content::InputImage {
        image_url,
        detail: None,
    }
}

fn too_large(size: u64) -> String {
    format!(
        "{} is over the {} limit for one image",
        crate::humanize::bytes(size),
        crate::humanize::bytes(MAX_IMAGE_BYTES)
    )
}

fn not_an_image() -> String {
    "not a PNG, JPEG, GIF or WebP image".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn formats_are_known_by_their_first_bytes() {
        assert_eq!(sniff(PNG), Some("image/png"));
        assert_eq!(sniff(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a.."), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"%PDF-1.7"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn inline_data_goes_with_the_type_its_bytes_show() {
        let data = STANDARD.encode(PNG);
        let part = content(&ImageInput::Data {
            mime_type: "image/jpeg".into(),
            base64: data.clone(),
        })
        .unwrap();
        assert_eq!(
            part,
            Content::InputImage {
                image_url: format!("data:image/png;base64,{data}"),
                detail: None
            }
        );
    }

    #[test]
    fn what_is_not_an_image_is_refused_in_words() {
        let text = STANDARD.encode(b"hello, world");
        let refused = content(&ImageInput::Url(format!("data:image/png;base64,{text}")));
        assert_eq!(refused, Err(not_an_image()));
        let refused = content(&ImageInput::Url("file:///etc/passwd".into()));
        assert!(refused.unwrap_err().contains("https://"));
        let refused = content(&ImageInput::Data {
            mime_type: "image/png".into(),
            base64: "***".into(),
        });
        assert_eq!(refused, Err("the image's data is not base64".to_string()));
    }

    #[test]
    fn a_file_is_read_and_a_fifo_is_refused_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let shot = dir.path().join("shot.png");
        std::fs::write(&shot, PNG).unwrap();
        let part = content(&ImageInput::File(shot)).unwrap();
        assert!(
            matches!(part, Content::InputImage { image_url, .. } if image_url.starts_with("data:image/png;base64,"))
        );
        let fifo = dir.path().join("pipe.png");
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let refused = content(&ImageInput::File(fifo)).unwrap_err();
        assert!(refused.contains("FIFO"), "{refused}");
    }

    #[test]
    fn image_names_are_known_whatever_their_case() {
        assert!(has_image_name("docs/Shot.PNG"));
        assert!(has_image_name("a.webp"));
        assert!(!has_image_name("src/main.rs"));
    }
}
