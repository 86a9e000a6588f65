//! Which index keys an actor revision owns: its folded names and their words.
//!
//! Kept apart from the engine code so the rule "every name, alias and the id of the latest
//! revision, nothing of older revisions" reads in one place.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::names::{fold, words, NameSource};
use crate::domain::Actor;

use super::keys;

/// The name-index and word-index keys of one actor revision.
pub struct ActorIndexKeys {
    /// Name-index key -> source byte (best source when two names fold alike).
    pub names: BTreeMap<Vec<u8>, u8>,
    /// Word-index keys.
    pub words: BTreeSet<Vec<u8>>,
}

/// Encodes a name source as the name index's value.
pub fn source_byte(source: NameSource) -> u8 {
    match source {
        NameSource::Name => 0,
        NameSource::Alias => 1,
        NameSource::Id => 2,
    }
}

/// Decodes a name-index value.
pub fn source_of_byte(byte: u8) -> NameSource {
    match byte {
        0 => NameSource::Name,
        1 => NameSource::Alias,
        _ => NameSource::Id,
    }
}

/// Computes the index keys of an actor revision.
pub fn actor_index_keys(actor: &Actor) -> ActorIndexKeys {
    let mut names = BTreeMap::new();
    let mut word_keys = BTreeSet::new();
    let sources = std::iter::once((NameSource::Name, actor.name.as_str()))
        .chain(
            actor
                .aliases
                .iter()
                .map(|a| (NameSource::Alias, a.as_str())),
        )
        .chain(std::iter::once((NameSource::Id, actor.id.as_str())));
    for (source, text) in sources {
        let folded = fold(text);
        if folded.is_empty() {
            continue;
        }
        for word in words(&folded) {
            word_keys.insert(keys::word_key(word, &actor.id));
        }
        let byte = source_byte(source);
        names
            .entry(keys::name_key(&folded, &actor.id))
            .and_modify(|b: &mut u8| *b = (*b).min(byte))
            .or_insert(byte);
    }
    ActorIndexKeys {
        names,
        words: word_keys,
    }
}
