//! Text from datasets made to fit the log: slugs for ids, and names and notes cleaned to the
//! log's limits.
//!
//! Datasets are not written for the log's rules (ids of `[A-Za-z0-9-_.:]`, no control characters,
//! length limits), so values are adapted here rather than refused: a row is only an error when
//! its meaning is unclear, never because a note is long.

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::domain::ids::MAX_ID_LEN;

/// Makes an id from a prefix and a free-text name: diacritics dropped, lowercase ASCII letters
/// and digits kept, every other run of characters one `-`. Ids must be stable across imports,
/// so a name too long for the id limit is cut and suffixed with a hash of the whole name (SHA-256,
/// stable across Rust releases, unlike `DefaultHasher`). `None` when the name has no ASCII letter
/// or digit at all.
pub fn slug_id(prefix: &str, name: &str) -> Option<String> {
    let mut slug = String::new();
    for c in name.nfkd() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if unicode_normalization::char::is_combining_mark(c) || c == '\'' || c == '’' {
            // Accents and apostrophes vanish: "Liwā’" is "liwa", not "liwa-".
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() {
        return None;
    }
    let room = MAX_ID_LEN.saturating_sub(prefix.len());
    if slug.len() > room {
        let digest = Sha256::digest(name.as_bytes());
        let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        slug.truncate(room.saturating_sub(hash.len() + 1));
        while slug.ends_with('-') {
            slug.pop();
        }
        slug.push('-');
        slug.push_str(&hash);
    }
    Some(format!("{prefix}{slug}"))
}

/// Trims a value, turns CRLF line breaks into newlines and other control characters the log
/// refuses (all but newline and tab) into spaces, and cuts it to `max` characters.
pub fn clean(text: &str, max: usize) -> String {
    let spaced: String = text
        .replace("\r\n", "\n")
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                ' '
            } else {
                c
            }
        })
        .collect();
    // Trimmed after the control characters became spaces, so that a field of nothing else
    // comes out empty rather than as blanks the log refuses.
    spaced.trim().chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_fold_accents_and_punctuation() {
        assert_eq!(
            slug_id("a-", "Military Forces of Syria (2000-)").as_deref(),
            Some("a-military-forces-of-syria-2000")
        );
        assert_eq!(
            slug_id("a-", "Liwā’ al-Quds").as_deref(),
            Some("a-liwa-al-quds")
        );
        assert_eq!(slug_id("a-", "  ;; "), None);
        assert_eq!(slug_id("a-", "حزب الله"), None);
    }

    #[test]
    fn long_slugs_keep_the_limit_and_stay_distinct() {
        let a = "word ".repeat(40) + "one";
        let b = "word ".repeat(40) + "two";
        let (sa, sb) = (slug_id("p-", &a).unwrap(), slug_id("p-", &b).unwrap());
        assert!(sa.len() <= MAX_ID_LEN && sb.len() <= MAX_ID_LEN);
        assert_ne!(sa, sb);
        assert!(crate::domain::EntryId::parse(&sa).is_ok());
    }

    #[test]
    fn clean_removes_control_characters_and_cuts() {
        assert_eq!(clean(" a\rb\u{0}c\nd ", 100), "a b c\nd");
        assert_eq!(
            clean("one\r\ntwo\r", 100),
            "one\ntwo",
            "a CRLF is one line break"
        );
        assert_eq!(clean("äöü", 2), "äö");
        // Found by fuzzing: control characters become spaces, which must then be trimmed too,
        // or a field of control characters would be a blank name the log refuses.
        assert_eq!(clean("\u{1} \u{2}\u{7f}", 100), "");
        assert_eq!(clean("\u{1}a\u{2}", 100), "a");
    }
}
