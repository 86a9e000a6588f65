//! Reads of the derived `index` keyspace: names and words of actors, the actor listing,
//! corrections and query postings. Only key layout is known here (from `keys`); fjall itself
//! stays behind `engine::fjall_index`.

use std::ops::Bound;

use crate::domain::names::NameSource;
use crate::domain::{EntryId, Position};

use super::actor_index::source_of_byte;
use super::engine::fjall_index::{FjallIndex, KeyRange, ReadIndex, Space};
use super::error::StoreError;
use super::keys;

/// Actors with a name, alias or id that folds to exactly `folded`.
pub fn exact_names(
    index: &FjallIndex,
    folded: &str,
) -> Result<Vec<(String, NameSource)>, StoreError> {
    let mut found = Vec::new();
    for item in index.scan(
        Space::Index,
        prefix_range(keys::exact_name_prefix(folded)),
        false,
    ) {
        let (key, value) = item?;
        if let Some((_, id)) = keys::split_text_and_id(&key) {
            let source = source_of_byte(value.first().copied().unwrap_or(u8::MAX));
            found.push((id.to_string(), source));
        }
    }
    Ok(found)
}

/// Up to `cap` actors with a folded name that starts with `folded`.
pub fn names_with_prefix(
    index: &FjallIndex,
    folded: &str,
    cap: usize,
) -> Result<Vec<String>, StoreError> {
    ids_under(index, keys::name_prefix(folded), cap)
}

/// Up to `cap` (folded name, actor) pairs whose folded name starts with `stem`.
pub fn names_from_stem(
    index: &FjallIndex,
    stem: &str,
    cap: usize,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut found = Vec::new();
    for item in index
        .scan(Space::Index, prefix_range(keys::name_prefix(stem)), false)
        .take(cap)
    {
        let (key, _) = item?;
        if let Some((name, id)) = keys::split_text_and_id(&key) {
            found.push((name.to_string(), id.to_string()));
        }
    }
    Ok(found)
}

/// Up to `cap` actors with `word` in one of their names.
pub fn actors_with_word(
    index: &FjallIndex,
    word: &str,
    cap: usize,
) -> Result<Vec<String>, StoreError> {
    ids_under(index, keys::word_prefix(word), cap)
}

/// True if the actor has `word` in one of their names.
pub fn actor_has_word(index: &FjallIndex, word: &str, actor: &EntryId) -> Result<bool, StoreError> {
    Ok(index
        .get(Space::Index, &keys::word_key(word, actor))?
        .is_some())
}

/// Up to `cap` actors in id order after `after`, with their latest positions.
pub fn actors_after(
    index: &FjallIndex,
    after: Option<&EntryId>,
    cap: usize,
) -> Result<Vec<Position>, StoreError> {
    let start = match after {
        Some(id) => keys::actor_key_after(id),
        None => vec![keys::ACTOR],
    };
    let range = (
        Bound::Included(start),
        Bound::Excluded(vec![keys::ACTOR + 1]),
    );
    let mut found = Vec::new();
    for item in index.scan(Space::Index, range, false).take(cap) {
        let (key, value) = item?;
        found.push(keys::decode_position(&value).ok_or_else(|| corrupt(&key, "bad actor value"))?);
    }
    Ok(found)
}

/// The position of the first entry that supersedes `id`, if any.
pub fn first_supersession(
    index: &FjallIndex,
    id: &EntryId,
) -> Result<Option<Position>, StoreError> {
    let mut keys_found = index.scan(
        Space::Index,
        prefix_range(keys::superseded_prefix(id)),
        false,
    );
    match keys_found.next() {
        None => Ok(None),
        Some(item) => {
            let (key, _) = item?;
            Ok(keys::position_of_posting_key(&key))
        }
    }
}

/// Walks index keys in `range`, forwards or backwards, decoding each with `decode` (keys it
/// refuses are reported as corrupt).
pub fn walk<T: 'static>(
    index: &FjallIndex,
    range: KeyRange,
    reverse: bool,
    decode: fn(&[u8], &[u8]) -> Option<T>,
) -> Box<dyn Iterator<Item = Result<T, StoreError>> + Send> {
    Box::new(index.scan(Space::Index, range, reverse).map(move |item| {
        let (key, value) = item?;
        decode(&key, &value).ok_or_else(|| corrupt(&key, "bad index posting"))
    }))
}

/// The range of every key that starts with `prefix`.
pub fn prefix_range(prefix: Vec<u8>) -> KeyRange {
    match prefix_end(&prefix) {
        Some(end) => (Bound::Included(prefix), Bound::Excluded(end)),
        None => (Bound::Included(prefix), Bound::Unbounded),
    }
}

/// The smallest key greater than every key starting with `prefix`, if there is one.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn ids_under(index: &FjallIndex, prefix: Vec<u8>, cap: usize) -> Result<Vec<String>, StoreError> {
    let mut found = Vec::new();
    for item in index
        .scan(Space::Index, prefix_range(prefix), false)
        .take(cap)
    {
        let (key, _) = item?;
        if let Some((_, id)) = keys::split_text_and_id(&key) {
            found.push(id.to_string());
        }
    }
    Ok(found)
}

fn corrupt(key: &[u8], reason: &str) -> StoreError {
    StoreError::Corrupt {
        key: format!("index/{}", String::from_utf8_lossy(key).escape_debug()),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ranges_cover_exactly_the_prefix() {
        let (lower, upper) = prefix_range(b"N\x61b".to_vec());
        assert_eq!(lower, Bound::Included(b"Nab".to_vec()));
        assert_eq!(upper, Bound::Excluded(b"Nac".to_vec()));
        let (_, upper) = prefix_range(vec![b'N', 0xff]);
        assert_eq!(upper, Bound::Excluded(b"O".to_vec()));
        let (_, upper) = prefix_range(vec![0xff, 0xff]);
        assert_eq!(upper, Bound::Unbounded);
    }
}
