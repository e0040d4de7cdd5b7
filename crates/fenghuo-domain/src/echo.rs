//! Quoting a caller's input back in an error message, shortened: a 200 KB value echoed whole
//! became ~600 KB of `grpc-message` and `grpc-status-details-bin`, which standard clients
//! refuse (RESOURCE_EXHAUSTED) before they read the refusal.

use std::borrow::Cow;
use std::fmt;

/// The characters of an input value an error message quotes.
pub const ECHO_LIMIT: usize = 200;

/// `s` whole up to `limit` characters, else its first `limit` and how long it was:
/// `aaaa… (200000 characters)`.
pub fn shorten(s: &str, limit: usize) -> Cow<'_, str> {
    match s.char_indices().nth(limit) {
        None => Cow::Borrowed(s),
        Some((cut, _)) => Cow::Owned(format!("{}… ({} characters)", &s[..cut], s.chars().count())),
    }
}

/// An input value as an error message quotes it: `"value"` (Debug-quoted), shortened to
/// [`ECHO_LIMIT`] characters.
pub struct Echo<'a>(pub &'a str);

impl fmt::Display for Echo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(ECHO_LIMIT) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => write!(
                f,
                "{:?}… ({} characters)",
                &self.0[..cut],
                self.0.chars().count()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_value_is_quoted_by_its_first_200_characters_and_its_length() {
        let long = "中".repeat(70_000);
        let quoted = Echo(&long).to_string();
        assert_eq!(
            quoted,
            format!("{:?}… (70000 characters)", "中".repeat(200))
        );
        assert_eq!(Echo("8.8.8").to_string(), "\"8.8.8\"");
        assert_eq!(shorten("short", 200), "short");
        assert_eq!(shorten("abcdef", 3), "abc… (6 characters)");
    }
}
