//! Size limits on what one request may carry.
//!
//! Limits keep one client from making the server allocate without bound and keep entries small
//! enough to index and stream. Each limit has a name a person can find in an error message.

/// Entries in one `Append`.
pub const MAX_ENTRIES_PER_BATCH: usize = 1_000;
/// Encoded bytes of one `Append` request (the gRPC message limit is set a little above).
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Characters of a name, alias, place name, source name or attribute key.
pub const MAX_SHORT_TEXT: usize = 256;
/// Characters of a URL or attribute value.
pub const MAX_MEDIUM_TEXT: usize = 2_048;
/// Characters of a description, summary or statement.
pub const MAX_LONG_TEXT: usize = 16_384;
/// Aliases of one actor.
pub const MAX_ALIASES: usize = 64;
/// Affiliations of one actor.
pub const MAX_AFFILIATIONS: usize = 64;
/// Actors one actor revision declares it is the same as. Classes chain these links, and are
/// bounded on their own (`same_as::MAX_CLASS`).
pub const MAX_SAME_AS: usize = 16;
/// Participants of one event. Every pair of them is indexed for counterpart queries, so this
/// bounds an event's pair postings at 496.
pub const MAX_PARTICIPANTS: usize = 32;
/// Sources of one event or claim.
pub const MAX_SOURCES: usize = 32;
/// Attributes of one event.
pub const MAX_ATTRIBUTES: usize = 64;
/// Superseded ids listed by one entry.
pub const MAX_SUPERSEDES: usize = 32;
/// Entries in one page of `ListActors` or matches of `ResolveActor`.
pub const MAX_PAGE_SIZE: usize = 1_000;
/// Matches `ResolveActor` returns at most.
pub const MAX_RESOLVE_MATCHES: usize = 100;

/// Checks a text field's length in characters.
pub fn check_text(text: &str, max: usize) -> Result<(), String> {
    // A text has at most as many characters as bytes, so a short one needs no count. Every
    // field of every appended entry passes here.
    if text.len() > max {
        let chars = text.chars().count();
        if chars > max {
            return Err(format!("is {chars} characters long; the limit is {max}"));
        }
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        Err("contains control characters".into())
    } else {
        Ok(())
    }
}

/// Checks the length of a list.
pub fn check_count(len: usize, max: usize, what: &str) -> Result<(), String> {
    if len > max {
        Err(format!("has {len} {what}; the limit is {max}"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::check_text;

    #[test]
    fn text_length_counts_characters_not_bytes() {
        assert_eq!(check_text("abc", 3), Ok(()));
        assert_eq!(
            check_text("abcd", 3),
            Err("is 4 characters long; the limit is 3".into())
        );
        // Six bytes, three characters: within a limit of 3.
        assert_eq!(check_text("ДЖИ", 3), Ok(()));
        assert_eq!(
            check_text("ДЖИД", 3),
            Err("is 4 characters long; the limit is 3".into())
        );
    }

    #[test]
    fn control_characters_are_refused_except_newline_and_tab() {
        assert_eq!(check_text("line\nnext\tcell", 100), Ok(()));
        for text in ["bell\u{7}", "del\u{7f}", "nul\0", "c1 \u{85} in Кириллица"] {
            assert_eq!(
                check_text(text, 100),
                Err("contains control characters".into()),
                "{text:?}"
            );
        }
        // Too long is said first, even when the text also has control characters.
        assert_eq!(
            check_text("\u{7}\u{7}\u{7}\u{7}", 3),
            Err("is 4 characters long; the limit is 3".into())
        );
    }
}
