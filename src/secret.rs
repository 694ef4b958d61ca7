//! A string that never shows in `Debug` output, for keys the user types or sends.

use std::fmt;
use std::ops::{Deref, DerefMut};

/// Text that must not reach a log: its `Debug` is `<redacted>`. Reads and edits like a `String`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The text itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Self(text.to_string())
    }
}

impl Deref for Secret {
    type Target = String;

    fn deref(&self) -> &String {
        &self.0
    }
}

impl DerefMut for Secret {
    fn deref_mut(&mut self) -> &mut String {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_text() {
        let secret = Secret::from("sk-proj-SECRET0123456789");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(secret.expose(), "sk-proj-SECRET0123456789");
        let op = crate::protocol::Op::SaveApiKey {
            key: secret,
            unchecked: false,
        };
        assert!(!format!("{op:?}").contains("SECRET"));
    }
}
