//! Identifiers that carry meaning: entry ids, positions, relation keys and country codes.
//!
//! Each is parsed once at the edge and trusted inside, so the store and the query code never
//! re-check a bare `String` or `u64`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::quote::quoted;

/// The longest id the log accepts, in bytes (all ids are ASCII).
pub const MAX_ID_LEN: usize = 128;

/// The id of an entry: its idempotency key, forever. Actors, events and claims share one
/// namespace, so an id names exactly one thing in the log.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EntryId(String);

/// An actor's id. Actors are entries, so their ids live in the entries' namespace.
pub type ActorId = EntryId;

impl EntryId {
    /// Checks the id's syntax: 1 to 128 characters of ASCII letters, digits and `-_.:`.
    pub fn parse(text: &str) -> Result<EntryId, String> {
        if text.is_empty() {
            return Err("is empty; ids are 1 to 128 characters".into());
        }
        if text.len() > MAX_ID_LEN {
            return Err(format!(
                "is {} characters long; ids are at most {MAX_ID_LEN}",
                text.len()
            ));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
        {
            return Err(format!(
                "{} contains {bad:?}; ids use only ASCII letters, digits and -_.:",
                quoted(text)
            ));
        }
        Ok(EntryId(text.to_string()))
    }

    /// An id the store validated when it was appended, read back without checking it again:
    /// reads must not pay for validation once per entry and per read. Only for values the
    /// store validated on append; never for wire input, which goes through [`EntryId::parse`].
    pub fn from_stored(text: String) -> EntryId {
        EntryId(text)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EntryId {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        EntryId::parse(&value)
    }
}

impl From<EntryId> for String {
    fn from(value: EntryId) -> Self {
        value.0
    }
}

/// A position in the log: 1 for the first entry, contiguous, never reused. Position 0 means
/// "before the first entry" (the head of an empty log).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Position(pub u64);

impl Position {
    /// The head of an empty log.
    pub const ZERO: Position = Position(0);

    /// The position right after this one.
    pub fn next(self) -> Position {
        Position(self.0 + 1)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An ISO 3166-1 alpha-3 country code such as `SYR`. Only the shape is checked (three
/// uppercase ASCII letters): ISO reserves user-assigned codes that datasets do use.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode(String);

impl CountryCode {
    /// Checks the code's shape.
    pub fn parse(text: &str) -> Result<CountryCode, String> {
        if text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(CountryCode(text.to_string()))
        } else {
            Err(format!(
                "{} is not an ISO 3166-1 alpha-3 code (three uppercase letters, e.g. SYR)",
                quoted(text)
            ))
        }
    }

    /// A code the store validated when it was appended, read back without checking it again.
    /// Only for values the store validated on append; never for wire input, which goes
    /// through [`CountryCode::parse`].
    pub fn from_stored(text: String) -> CountryCode {
        CountryCode(text)
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CountryCode {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        CountryCode::parse(&value)
    }
}

impl From<CountryCode> for String {
    fn from(value: CountryCode) -> Self {
        value.0
    }
}

/// A key of the relation vocabulary, e.g. `backs`. Only [`super::Vocabulary::relation`] makes
/// one, so holding a `RelationKey` means the relation is known.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RelationKey(pub(crate) String);

impl RelationKey {
    /// A key the vocabulary accepted when the entry was appended, read back from the store.
    /// Stored history keeps its relations even if a later vocabulary drops one, so this does
    /// not consult the vocabulary. Only for values the store validated on append; never for
    /// wire input, which goes through [`super::Vocabulary::relation`].
    pub fn from_stored(text: String) -> RelationKey {
        RelationKey(text)
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RelationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_documented_alphabet() {
        assert!(EntryId::parse("acled:SYR123_a-b.c").is_ok());
        assert!(EntryId::parse(&"a".repeat(128)).is_ok());
        assert!(EntryId::parse(&"a".repeat(129)).is_err());
        assert!(EntryId::parse("").is_err());
        assert!(EntryId::parse("has space").is_err());
        assert!(EntryId::parse("liwa’").is_err());
    }

    #[test]
    fn country_codes_are_three_uppercase_letters() {
        assert!(CountryCode::parse("SYR").is_ok());
        assert!(CountryCode::parse("syr").is_err());
        assert!(CountryCode::parse("SY").is_err());
    }
}
