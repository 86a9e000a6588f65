//! How actor names are compared: the rules behind `ResolveActor`.
//!
//! Analysts write the same name many ways: "Liwa' al-Quds", "LIWA AL-QUDS", "liwa al quds",
//! "Liwā’ al-Quds". Names are folded to a key that ignores case, diacritics, apostrophes and
//! punctuation, so all of these meet at `liwa al quds`. Apostrophes vanish (rather than split a
//! word) because transliterations use them inside words (`Ansar Allah'`, `Liwa'`).

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Apostrophes and transliteration marks that are dropped without splitting the word.
const APOSTROPHES: &[char] = &['\'', '’', '‘', 'ʼ', 'ʻ', 'ʿ', 'ʾ', '`', '´'];

/// Folds a name to its comparison key: lowercase, no diacritics, no apostrophes, words
/// separated by single spaces.
pub fn fold(name: &str) -> String {
    let mut folded = String::with_capacity(name.len());
    let mut pending_space = false;
    for c in name.nfkd() {
        if is_combining_mark(c) || APOSTROPHES.contains(&c) {
            continue;
        }
        if c.is_alphanumeric() {
            if pending_space && !folded.is_empty() {
                folded.push(' ');
            }
            pending_space = false;
            folded.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
    folded
}

/// The distinct words of a folded name.
pub fn words(folded: &str) -> Vec<&str> {
    let mut words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
    words.sort_unstable();
    words.dedup();
    words
}

/// How well a name matched a query; smaller is better, and the derived order ranks results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchQuality {
    /// The query is the actor's name.
    ExactName,
    /// The query is one of the actor's aliases.
    ExactAlias,
    /// The query is the actor's id.
    ExactId,
    /// A name or alias starts with the query.
    Prefix,
    /// A name or alias contains every word of the query.
    AllWords,
}

/// Which of an actor's names a folded key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NameSource {
    /// The actor's `name`.
    Name,
    /// One of its `aliases`.
    Alias,
    /// Its `id`.
    Id,
}

impl NameSource {
    /// The quality of an exact match on a name from this source.
    pub fn exact_quality(self) -> MatchQuality {
        match self {
            NameSource::Name => MatchQuality::ExactName,
            NameSource::Alias => MatchQuality::ExactAlias,
            NameSource::Id => MatchQuality::ExactId,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_name_meet() {
        for spelling in [
            "Liwa' al-Quds",
            "LIWA' AL-QUDS",
            "liwa al quds",
            "Liwā’ al-Quds",
            "liwa-al-quds",
        ] {
            assert_eq!(fold(spelling), "liwa al quds", "{spelling}");
        }
        assert_eq!(fold("  The Jerusalem   Brigade! "), "the jerusalem brigade");
        assert_eq!(fold("Ḥizb Allāh"), "hizb allah");
        assert_eq!(fold("'''"), "");
    }

    #[test]
    fn words_are_distinct_and_sorted() {
        assert_eq!(words("al quds al"), vec!["al", "quds"]);
    }
}
