//! Quoting a caller's value inside an error message.
//!
//! Errors name the bad value so a person sees what to fix, but the value came from the wire: it
//! may be a megabyte long or full of control characters. gRPC carries the message in a header,
//! and stock clients refuse headers over 16 KB (they report `RESOURCE_EXHAUSTED "received metadata
//! size exceeds hard limit"` instead of our answer), so an echo of unbounded input hides the real
//! error. Every message that repeats input therefore quotes it through [`quoted`]: escaped like a
//! Rust string literal and cut to a short prefix that still identifies the value.

use std::fmt;

/// Characters of a value quoted in full; longer values are cut to this many and say how long
/// they were.
pub const QUOTED_CHARS: usize = 48;

/// `text` as it appears in an error message: `"…"` with quotes, backslashes and control
/// characters escaped, at most [`QUOTED_CHARS`] characters of it, then `… (N bytes)` if cut.
pub fn quoted(text: &str) -> Quoted<'_> {
    Quoted(text)
}

/// See [`quoted`].
#[derive(Clone, Copy)]
pub struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0;
        let cut = text
            .char_indices()
            .nth(QUOTED_CHARS)
            .map_or(text.len(), |(at, _)| at);
        write!(f, "{:?}", &text[..cut])?;
        if cut < text.len() {
            write!(f, "… ({} bytes)", text.len())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole_and_escaped() {
        assert_eq!(quoted("Hezbollah").to_string(), "\"Hezbollah\"");
        assert_eq!(quoted("a\"b\n\u{7}").to_string(), "\"a\\\"b\\n\\u{7}\"");
        assert_eq!(quoted("☃ nächstes").to_string(), "\"☃ nächstes\"");
    }

    #[test]
    fn long_values_are_cut_to_a_prefix_that_says_how_long_they_were() {
        let long = "ä".repeat(20_000);
        let shown = quoted(&long).to_string();
        assert!(shown.starts_with(&format!("\"{}\"", "ä".repeat(QUOTED_CHARS))));
        assert!(shown.ends_with("… (40000 bytes)"), "{shown}");
        assert!(shown.len() < 200, "{shown}");
        let exact = "x".repeat(QUOTED_CHARS);
        assert_eq!(quoted(&exact).to_string(), format!("\"{exact}\""));
    }

    #[test]
    fn escapes_cannot_make_a_message_grow_without_bound() {
        let controls = "\u{1}".repeat(10_000);
        assert!(quoted(&controls).to_string().len() < 400);
    }
}
