//! `view_image`, as Codex's: the model looks at an image file on disk (a screenshot, a plot it
//! made). The file is opened as `read_file` opens one (beneath the project, elsewhere only once
//! approved), must start as a PNG, JPEG, GIF or WebP does, and goes to the model as the call's
//! output image, not as text.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::Deserialize;

use super::opener::{self, AccessError, Opener};
use crate::llm::images;
use crate::llm::types::Content;

/// The tool's name on the wire.
pub const NAME: &str = "view_image";

/// Arguments of a `view_image` call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ViewImageArgs {
    /// The image file, relative to the project directory or absolute.
    pub path: String,
}

/// The image at `file` (`shown` as the model wrote it) as the `data:` URL it is sent as; or
/// why it cannot be shown, in Codex's words.
pub fn view(opener: &Opener, file: &Path, shown: &str) -> Result<String, String> {
    let (handle, meta) = opener.open(file).map_err(|e| match e {
        AccessError::Io { source, .. } => {
            format!("unable to locate image at `{shown}`: {source}")
        }
        refused => refused.to_string(),
    })?;
    if !meta.is_file() {
        return Err(format!(
            "image path `{shown}` is not a file ({})",
            opener::kind_of(&meta)
        ));
    }
    if meta.nlink() > 1 && !opener.is_approved(file) {
        return Err(format!(
            "{shown} has other hard links, which may lie outside the project, and viewing it was not approved"
        ));
    }
    match images::from_open_file(handle, meta.len()) {
        Ok(Content::InputImage { image_url, .. }) => Ok(image_url),
        Ok(_) => Err(format!("unable to read image at `{shown}`")),
        Err(why) => Err(format!("unable to read image at `{shown}`: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG is sent whole as a data URL; a text file named `.png`, a folder and a missing file
    /// are each refused in words.
    #[test]
    fn an_image_file_is_sent_and_anything_else_refused() {
        let dir = tempfile::tempdir().unwrap();
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        std::fs::write(dir.path().join("plot.png"), png).unwrap();
        std::fs::write(dir.path().join("fake.png"), b"hello").unwrap();
        std::fs::create_dir(dir.path().join("shots")).unwrap();
        let opener = Opener::new(dir.path(), opener::Approved::Only(Vec::new())).unwrap();
        let at = |name: &str| dir.path().join(name);
        let url = view(&opener, &at("plot.png"), "plot.png").unwrap();
        assert!(url.starts_with("data:image/png;base64,"), "{url}");
        let fake = view(&opener, &at("fake.png"), "fake.png").unwrap_err();
        assert!(
            fake.starts_with("unable to read image at `fake.png`"),
            "{fake}"
        );
        let folder = view(&opener, &at("shots"), "shots").unwrap_err();
        assert!(
            folder.starts_with("image path `shots` is not a file"),
            "{folder}"
        );
        let gone = view(&opener, &at("gone.png"), "gone.png").unwrap_err();
        assert!(
            gone.starts_with("unable to locate image at `gone.png`"),
            "{gone}"
        );
    }
}
