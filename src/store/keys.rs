//! Key encodings of the sled tree. Every key the store writes is built here.
//!
//! All data lives in one sled tree so that an entry and all of its index updates go into one
//! atomic `Batch`: sled batches are atomic per tree, also across a crash. Keys start with a
//! one-byte prefix naming the keyspace; numbers are big-endian so byte order is numeric order;
//! variable text is followed by a 0x00 separator (ids and folded names never contain it) so that
//! `text\0` prefixes never match a longer text.

use crate::domain::{EntryId, Position};

/// `L` + position (u64 BE) -> the encoded entry.
pub const LOG: u8 = b'L';
/// `I` + id -> position (u64 BE) + kind byte of the entry with that id (latest revision).
pub const ID: u8 = b'I';
/// `A` + actor id -> position (u64 BE) of the actor's latest revision.
pub const ACTOR: u8 = b'A';
/// `N` + folded name + 0x00 + actor id -> which of the actor's names it came from.
pub const NAME: u8 = b'N';
/// `T` + word of a folded name + 0x00 + actor id -> nothing.
pub const WORD: u8 = b'T';
/// `M` + name -> metadata (counters, format version).
pub const META: u8 = b'M';
/// `S` + subscription name -> the named subscription's state.
pub const SUBSCRIPTION: u8 = b'S';
/// `Q` + family + scope + order key -> facts: the query indexes (see `postings`).
pub const QUERY: u8 = b'Q';
/// `X` + superseded id + 0x00 + position of the entry that supersedes it -> nothing.
pub const SUPERSEDED: u8 = b'X';

/// Separates variable-length text from what follows it.
const SEPARATOR: u8 = 0;

/// The key of the entry at `position`.
pub fn log_key(position: Position) -> [u8; 9] {
    let mut key = [LOG; 9];
    key[1..].copy_from_slice(&position.0.to_be_bytes());
    key
}

/// The position a log key stands for, if it is one.
pub fn position_of_log_key(key: &[u8]) -> Option<Position> {
    match key {
        [LOG, rest @ ..] => rest
            .try_into()
            .ok()
            .map(|b| Position(u64::from_be_bytes(b))),
        _ => None,
    }
}

/// The key of the id index for `id`.
pub fn id_key(id: &EntryId) -> Vec<u8> {
    prefixed(ID, id.as_str().as_bytes())
}

/// The key of the actor listing for `id`.
pub fn actor_key(id: &EntryId) -> Vec<u8> {
    prefixed(ACTOR, id.as_str().as_bytes())
}

/// The key of a name of an actor in the name index.
pub fn name_key(folded: &str, actor: &EntryId) -> Vec<u8> {
    text_then_id(NAME, folded, actor)
}

/// The prefix of every name-index key for exactly this folded name.
pub fn exact_name_prefix(folded: &str) -> Vec<u8> {
    let mut key = prefixed(NAME, folded.as_bytes());
    key.push(SEPARATOR);
    key
}

/// The prefix of every name-index key whose folded name starts with `folded`.
pub fn name_prefix(folded: &str) -> Vec<u8> {
    prefixed(NAME, folded.as_bytes())
}

/// The key of a word of an actor's names in the word index.
pub fn word_key(word: &str, actor: &EntryId) -> Vec<u8> {
    text_then_id(WORD, word, actor)
}

/// The prefix of every word-index key for exactly this word.
pub fn word_prefix(word: &str) -> Vec<u8> {
    let mut key = prefixed(WORD, word.as_bytes());
    key.push(SEPARATOR);
    key
}

/// Splits a name- or word-index key into its text and actor id.
pub fn split_text_and_id(key: &[u8]) -> Option<(&str, &str)> {
    let body = key.get(1..)?;
    let at = body.iter().position(|b| *b == SEPARATOR)?;
    let text = std::str::from_utf8(&body[..at]).ok()?;
    let id = std::str::from_utf8(&body[at + 1..]).ok()?;
    Some((text, id))
}

/// The key of a metadata item.
pub fn meta_key(name: &str) -> Vec<u8> {
    prefixed(META, name.as_bytes())
}

/// The key of a named subscription.
pub fn subscription_key(name: &str) -> Vec<u8> {
    prefixed(SUBSCRIPTION, name.as_bytes())
}

/// Encodes a position as an index value.
pub fn encode_position(position: Position) -> [u8; 8] {
    position.0.to_be_bytes()
}

/// Decodes a position from the start of an index value.
pub fn decode_position(value: &[u8]) -> Option<Position> {
    value
        .get(..8)?
        .try_into()
        .ok()
        .map(|b| Position(u64::from_be_bytes(b)))
}

fn prefixed(prefix: u8, rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + rest.len());
    key.push(prefix);
    key.extend_from_slice(rest);
    key
}

fn text_then_id(prefix: u8, text: &str, id: &EntryId) -> Vec<u8> {
    let mut key = prefixed(prefix, text.as_bytes());
    key.push(SEPARATOR);
    key.extend_from_slice(id.as_str().as_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keys_sort_by_position() {
        let positions = [1_u64, 2, 255, 256, 65_536, u64::MAX];
        let keys: Vec<_> = positions.iter().map(|p| log_key(Position(*p))).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(position_of_log_key(&keys[3]), Some(Position(256)));
    }

    #[test]
    fn exact_name_prefixes_do_not_match_longer_names() {
        let id = EntryId::parse("x").expect("valid");
        let short = name_key("al quds", &id);
        let long = name_key("al qudsi", &id);
        assert!(short.starts_with(&exact_name_prefix("al quds")));
        assert!(!long.starts_with(&exact_name_prefix("al quds")));
        assert!(long.starts_with(&name_prefix("al quds")));
        assert_eq!(split_text_and_id(&long), Some(("al qudsi", "x")));
    }

    #[test]
    fn keyspaces_do_not_overlap() {
        let id = EntryId::parse("L").expect("valid");
        assert_ne!(id_key(&id)[0], log_key(Position(1))[0]);
        assert_ne!(actor_key(&id)[0], id_key(&id)[0]);
    }
}
