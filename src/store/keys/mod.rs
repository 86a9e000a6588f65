//! Every key the store writes, in every keyspace of both engines, is built and parsed here.
//!
//! **sled** (the log of record, one tree so a group commit is one atomic batch):
//! `B` + position of its first record (u64 BE) -> a block of consecutive records (see
//! `record::block`); `M` + name -> metadata; `S` + name -> named subscription;
//! `G` + group name + 0x00 + tag -> a consumer group's state (see `groups`).
//! Data directories written before blocks hold `L` + position -> one record; opening one moves
//! those records into blocks. Release 1 also kept its indexes in that tree (`LEGACY_INDEX_PREFIXES`); opening such a data
//! directory rebuilds them in fjall and removes them from sled.
//!
//! **fjall** (derived indexes, rebuilt from the log whenever in doubt):
//! - `ids`: entry id -> position (u64 BE) + kind byte of the entry with that id (for an actor,
//!   its latest revision), and one metadata key (`IDS_THROUGH`) starting with 0x00, which no id
//!   contains;
//! - `index`: the asynchronously maintained indexes, one prefix byte per family:
//!   `A` + actor id -> position of its latest revision (the actor listing),
//!   `N` + folded name + 0x00 + actor id -> which of the actor's names it came from,
//!   `T` + word + 0x00 + actor id -> nothing,
//!   `Q` + family + scope + order key -> facts (the query postings, see `postings`),
//!   `X` + superseded id + 0x00 + position of the entry that supersedes it -> nothing,
//!   `K` + actor id + 0x00 + other actor id + 0x00 + position -> a change of a `same_as` link
//!   between the two at that position (see `same_as_index`),
//!   `M` + name -> the indexes' own metadata (how far they cover the log, their format);
//! - `graph`: the relation graph's aggregates and evidence rows (see `graph`).
//!
//! Numbers are big-endian so byte order is numeric order; variable text is followed by 0x00
//! (ids, folded names and relation keys never contain it) so that `text\0` prefixes never match
//! a longer text.

pub mod graph;
pub mod groups;

use crate::domain::{Day, EntryId, EntryKind, Position};
use crate::store::record::header::{kind_byte, kind_of_byte};

/// sled: `B` + position -> the block of records that starts at that position.
pub const BLOCK: u8 = b'B';
/// sled: `L` + position -> the record of the entry at that position: the layout before blocks,
/// only read to move it into blocks on open.
pub const LOG: u8 = b'L';
/// sled: `M` + name -> metadata of the log (counters, format).
pub const META: u8 = b'M';
/// sled: `S` + subscription name -> the named subscription's state.
pub const SUBSCRIPTION: u8 = b'S';
/// sled prefixes that only release 1 wrote (its id, actor, name, word, posting and correction
/// keys); release 2 keeps those indexes in fjall and removes these on open.
pub const LEGACY_INDEX_PREFIXES: [u8; 6] = [b'I', b'A', b'N', b'T', b'Q', b'X'];

/// index: `A` + actor id -> position of the actor's latest revision.
pub const ACTOR: u8 = b'A';
/// index: `N` + folded name + 0x00 + actor id -> which of the actor's names it came from.
pub const NAME: u8 = b'N';
/// index: `T` + word of a folded name + 0x00 + actor id -> nothing.
pub const WORD: u8 = b'T';
/// index: `Q` + family + scope + order key -> facts: the query postings.
pub const QUERY: u8 = b'Q';
/// index: `X` + superseded id + 0x00 + position of the entry that supersedes it -> nothing.
pub const SUPERSEDED: u8 = b'X';
/// index: `K` + actor + 0x00 + other actor + 0x00 + position -> a `same_as` link change.
pub const SAME_AS: u8 = b'K';
/// index: `M` + name -> the indexes' metadata.
pub const INDEX_META: u8 = b'M';

/// ids: the key under which the `ids` keyspace says how far it covers the log.
pub const IDS_THROUGH: &[u8] = b"\0through";

/// Separates variable-length text from what follows it.
const SEPARATOR: u8 = 0;

/// The key of the block whose first record is at `position`.
pub fn block_key(position: Position) -> [u8; 9] {
    positioned_key(BLOCK, position)
}

/// The first position of a block key, if it is one.
pub fn position_of_block_key(key: &[u8]) -> Option<Position> {
    position_of_positioned_key(BLOCK, key)
}

/// The key of the entry at `position` in the layout before blocks.
pub fn log_key(position: Position) -> [u8; 9] {
    positioned_key(LOG, position)
}

/// The position a log key stands for, if it is one.
pub fn position_of_log_key(key: &[u8]) -> Option<Position> {
    position_of_positioned_key(LOG, key)
}

/// `prefix` + the position, big-endian so that keys sort in log order.
fn positioned_key(prefix: u8, position: Position) -> [u8; 9] {
    let mut key = [prefix; 9];
    key[1..].copy_from_slice(&position.0.to_be_bytes());
    key
}

fn position_of_positioned_key(prefix: u8, key: &[u8]) -> Option<Position> {
    match key {
        [first, rest @ ..] if *first == prefix => rest
            .try_into()
            .ok()
            .map(|b| Position(u64::from_be_bytes(b))),
        _ => None,
    }
}

/// The key of a metadata item of the log (sled).
pub fn meta_key(name: &str) -> Vec<u8> {
    prefixed(META, name.as_bytes())
}

/// The key of a named subscription (sled).
pub fn subscription_key(name: &str) -> Vec<u8> {
    prefixed(SUBSCRIPTION, name.as_bytes())
}

/// The key of the id index for `id` (fjall `ids`): the id's bytes, nothing else.
pub fn id_key(id: &EntryId) -> &[u8] {
    id.as_str().as_bytes()
}

/// Encodes an id-index value: position and kind.
pub fn encode_id_value(position: Position, kind: EntryKind) -> [u8; 9] {
    let mut value = [0_u8; 9];
    value[..8].copy_from_slice(&position.0.to_be_bytes());
    value[8] = kind_byte(kind);
    value
}

/// Decodes an id-index value.
pub fn decode_id_value(value: &[u8]) -> Option<(Position, EntryKind)> {
    let position = decode_position(value)?;
    let kind = kind_of_byte(*value.get(8)?)?;
    Some((position, kind))
}

/// The key of the actor listing for `id` (fjall `index`).
pub fn actor_key(id: &EntryId) -> Vec<u8> {
    prefixed(ACTOR, id.as_str().as_bytes())
}

/// The actor id an actor-listing key names.
pub fn actor_of_key(key: &[u8]) -> Option<&str> {
    match key {
        [ACTOR, rest @ ..] => std::str::from_utf8(rest).ok(),
        _ => None,
    }
}

/// The smallest actor-listing key after every key of `id`: where a page after `id` starts.
pub fn actor_key_after(id: &EntryId) -> Vec<u8> {
    let mut key = actor_key(id);
    key.push(0);
    key
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

/// The byte that names a posting family (see `postings::Family`) in posting keys.
pub const DATE_FAMILY: u8 = b'd';
/// See [`DATE_FAMILY`].
pub const POSITION_FAMILY: u8 = b'p';

/// The key prefix of one posting list: family, scope tag, and the scope's text parts, each
/// ended by 0x00 so that no scope's prefix is another's.
pub fn scope_prefix(family: u8, tag: u8, parts: [&str; 2]) -> Vec<u8> {
    let mut key = vec![QUERY, family, tag];
    for part in parts {
        key.extend_from_slice(part.as_bytes());
        key.push(SEPARATOR);
    }
    key
}

/// A date posting list: the scope prefix, span class and earliest day. Its blocks' keys add
/// the last position of each block (see `postings`).
pub fn date_list(prefix: &[u8], class: u8, earliest: Day) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + 13);
    key.extend_from_slice(prefix);
    key.push(class);
    key.extend_from_slice(&day_bytes(earliest));
    key
}

/// A date posting block key: the list (scope prefix, span class, earliest day) and the block's
/// last position. Also the bound of a walk that starts or stops at that day and position.
pub fn date_key(prefix: &[u8], class: u8, earliest: Day, position: Position) -> Vec<u8> {
    let mut key = date_list(prefix, class, earliest);
    key.extend_from_slice(&position.0.to_be_bytes());
    key
}

/// A position posting block key: the scope prefix and the block's last position.
pub fn position_key(prefix: &[u8], position: Position) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + 8);
    key.extend_from_slice(prefix);
    key.extend_from_slice(&position.0.to_be_bytes());
    key
}

/// The position at the end of a posting key.
pub fn position_of_posting_key(key: &[u8]) -> Option<Position> {
    let at = key.len().checked_sub(8)?;
    decode_position(&key[at..])
}

/// `X` + superseded id + 0x00 + superseding position: one key per correction.
pub fn superseded_key(id: &EntryId, by: Position) -> Vec<u8> {
    let mut key = superseded_prefix(id);
    key.extend_from_slice(&by.0.to_be_bytes());
    key
}

/// The prefix of every correction of `id`; the first key found is the earliest correction.
pub fn superseded_prefix(id: &EntryId) -> Vec<u8> {
    let mut key = Vec::with_capacity(id.as_str().len() + 10);
    key.push(SUPERSEDED);
    key.extend_from_slice(id.as_str().as_bytes());
    key.push(SEPARATOR);
    key
}

/// `K` + actor + 0x00 + other + 0x00 + position: one key per change of the link between the
/// two, under `actor`; the changes of one pair sort by position.
pub fn same_as_key(actor: &EntryId, other: &EntryId, position: Position) -> Vec<u8> {
    let mut key = same_as_prefix(actor);
    key.extend_from_slice(other.as_str().as_bytes());
    key.push(SEPARATOR);
    key.extend_from_slice(&position.0.to_be_bytes());
    key
}

/// The prefix of every link change under `actor`.
pub fn same_as_prefix(actor: &EntryId) -> Vec<u8> {
    let mut key = Vec::with_capacity(actor.as_str().len() + 2);
    key.push(SAME_AS);
    key.extend_from_slice(actor.as_str().as_bytes());
    key.push(SEPARATOR);
    key
}

/// The other actor and the position of a link-change key found under `prefix`.
pub fn split_same_as_key<'k>(key: &'k [u8], prefix: &[u8]) -> Option<(&'k str, Position)> {
    let rest = key.strip_prefix(prefix)?;
    let at = rest.len().checked_sub(9)?;
    let (other, tail) = rest.split_at(at);
    if tail.first() != Some(&SEPARATOR) {
        return None;
    }
    Some((
        std::str::from_utf8(other).ok()?,
        decode_position(&tail[1..])?,
    ))
}

/// The key of an item of the indexes' metadata (fjall `index`).
pub fn index_meta_key(name: &str) -> Vec<u8> {
    prefixed(INDEX_META, name.as_bytes())
}

/// Encodes a position as a value.
pub fn encode_position(position: Position) -> [u8; 8] {
    position.0.to_be_bytes()
}

/// Decodes a position from the start of a value.
pub fn decode_position(value: &[u8]) -> Option<Position> {
    value
        .get(..8)?
        .try_into()
        .ok()
        .map(|b| Position(u64::from_be_bytes(b)))
}

/// Big-endian with the sign bit flipped, so byte order is numeric order for negative days too.
pub fn day_bytes(day: Day) -> [u8; 4] {
    ((day.0 as u32) ^ 0x8000_0000).to_be_bytes()
}

/// The day [`day_bytes`] encoded.
pub fn day_of(bytes: [u8; 4]) -> Day {
    Day((u32::from_be_bytes(bytes) ^ 0x8000_0000) as i32)
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

    fn id(text: &str) -> EntryId {
        EntryId::parse(text).expect("valid")
    }

    #[test]
    fn block_keys_sort_by_position_and_round_trip() {
        let positions = [1_u64, 2, 255, 256, 65_536, u64::MAX];
        let keys: Vec<_> = positions.iter().map(|p| block_key(Position(*p))).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        for (key, p) in keys.iter().zip(positions) {
            assert_eq!(position_of_block_key(key), Some(Position(p)));
            assert_eq!(position_of_log_key(key), None);
        }
        assert_eq!(position_of_block_key(&log_key(Position(3))), None);
    }

    #[test]
    fn log_keys_sort_by_position_and_round_trip() {
        let positions = [1_u64, 2, 255, 256, 65_536, u64::MAX];
        let keys: Vec<_> = positions.iter().map(|p| log_key(Position(*p))).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        for (key, p) in keys.iter().zip(positions) {
            assert_eq!(position_of_log_key(key), Some(Position(p)));
        }
        assert_eq!(position_of_log_key(&meta_key("counts")), None);
    }

    #[test]
    fn exact_name_prefixes_do_not_match_longer_names() {
        let x = id("x");
        let short = name_key("al quds", &x);
        let long = name_key("al qudsi", &x);
        assert!(short.starts_with(&exact_name_prefix("al quds")));
        assert!(!long.starts_with(&exact_name_prefix("al quds")));
        assert!(long.starts_with(&name_prefix("al quds")));
        assert_eq!(split_text_and_id(&long), Some(("al qudsi", "x")));
        assert_eq!(
            split_text_and_id(&word_key("quds", &x)),
            Some(("quds", "x"))
        );
        assert!(word_key("quds", &x).starts_with(&word_prefix("quds")));
        assert!(!word_key("qudsi", &x).starts_with(&word_prefix("quds")));
    }

    #[test]
    fn id_values_and_actor_keys_round_trip() {
        for kind in [EntryKind::Actor, EntryKind::Event, EntryKind::Claim] {
            let value = encode_id_value(Position(77), kind);
            assert_eq!(decode_id_value(&value), Some((Position(77), kind)));
        }
        assert_eq!(decode_id_value(&[0; 8]), None);
        assert_eq!(decode_id_value(&[0, 0, 0, 0, 0, 0, 0, 1, 9]), None);
        let hezbollah = id("hezbollah");
        assert_eq!(actor_of_key(&actor_key(&hezbollah)), Some("hezbollah"));
        // A page after `hezbollah` starts after it and before any longer id.
        assert!(actor_key_after(&hezbollah) > actor_key(&hezbollah));
        assert!(actor_key_after(&hezbollah) < actor_key(&id("hezbollah-lb")));
    }

    #[test]
    fn the_ids_metadata_key_is_no_id() {
        assert!(EntryId::parse(std::str::from_utf8(IDS_THROUGH).expect("ascii")).is_err());
    }

    #[test]
    fn posting_keys_sort_by_class_day_then_position() {
        let prefix = scope_prefix(DATE_FAMILY, b'a', ["iran", ""]);
        let keys = [
            date_key(&prefix, 0, Day(-5), Position(9)),
            date_key(&prefix, 0, Day(3), Position(1)),
            date_key(&prefix, 0, Day(3), Position(2)),
            date_key(&prefix, 1, Day(-100), Position(1)),
        ];
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(position_of_posting_key(&keys[2]), Some(Position(2)));
        assert!(keys[2].starts_with(&date_list(&prefix, 0, Day(3))));
        let shorter = scope_prefix(DATE_FAMILY, b'a', ["ira", ""]);
        assert!(!prefix.starts_with(&shorter));
        let by_position = position_key(&prefix, Position(300));
        assert_eq!(position_of_posting_key(&by_position), Some(Position(300)));
    }

    #[test]
    fn same_as_keys_sort_by_other_actor_then_position_and_round_trip() {
        let id = |s: &str| EntryId::parse(s).expect("valid");
        let (a, b, bc) = (id("a"), id("b"), id("b.c"));
        let prefix = same_as_prefix(&a);
        let keys = [
            same_as_key(&a, &b, Position(3)),
            same_as_key(&a, &b, Position(256)),
            same_as_key(&a, &bc, Position(1)),
        ];
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            split_same_as_key(&keys[1], &prefix),
            Some(("b", Position(256)))
        );
        assert!(!same_as_key(&id("ab"), &b, Position(1)).starts_with(&prefix));
        assert_eq!(split_same_as_key(&keys[0], &same_as_prefix(&b)), None);
    }

    #[test]
    fn day_bytes_sort_numerically() {
        let days = [i32::MIN, -500, -1, 0, 1, 19_000, i32::MAX];
        let encoded: Vec<_> = days.iter().map(|d| day_bytes(Day(*d))).collect();
        assert!(encoded.windows(2).all(|w| w[0] < w[1]));
        assert!(days.iter().all(|d| day_of(day_bytes(Day(*d))) == Day(*d)));
    }

    #[test]
    fn corrections_of_one_id_sort_by_position_and_do_not_nest() {
        let e = id("e1");
        let early = superseded_key(&e, Position(5));
        let late = superseded_key(&e, Position(500));
        assert!(early < late && early.starts_with(&superseded_prefix(&e)));
        assert!(!superseded_key(&id("e10"), Position(1)).starts_with(&superseded_prefix(&e)));
    }

    #[test]
    fn keyspaces_do_not_overlap() {
        let sled_prefixes = [LOG, META, SUBSCRIPTION];
        assert!(sled_prefixes
            .iter()
            .all(|p| !LEGACY_INDEX_PREFIXES.contains(p)));
        let index_prefixes = [ACTOR, NAME, WORD, QUERY, SUPERSEDED, INDEX_META];
        let mut sorted = index_prefixes.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), index_prefixes.len());
    }
}
