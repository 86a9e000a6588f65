//! The history of `same_as` links, so that a query at any position finds the links as they
//! stood then.
//!
//! A link is declared by one actor's revision and counts both ways (see `domain::same_as`).
//! Each change of a link, a revision that adds an id to `same_as` or drops one, writes two keys
//! at the revision's position, one under each end, so the links of an actor in either direction
//! are one prefix scan. The keys are never removed: an old position must still see the link.
//! Like every derived index they are rebuilt from the log (the indexer diffs each revision
//! against the one it replaces, as it does for names).
//!
//! Reading the links of an actor costs one key per change of one of its links, which grows only
//! with revisions that change them.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::{Actor, ActorId, EntryId, Position};

use super::engine::fjall_index::{FjallIndex, ReadIndex, Space};
use super::error::StoreError;
use super::index_reads::prefix_range;
use super::keys;

/// The value's first byte: the actor the key is under declares the other.
const DECLARES: u8 = 0;
/// The value's first byte: the other actor declares the one the key is under.
const DECLARED_BY: u8 = 1;
/// The value's second byte: the link holds from this position on.
const LINKED: u8 = 1;
/// The value's second byte: the link is dropped from this position on.
const UNLINKED: u8 = 0;

/// The link-change keys of indexing `actor`'s revision at `position`, which replaces
/// `previous` (none for a first revision): only the ids it adds or drops.
pub fn link_writes(
    position: Position,
    actor: &Actor,
    previous: Option<&Actor>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let new: BTreeSet<&EntryId> = actor.same_as.iter().collect();
    let old: BTreeSet<&EntryId> = previous
        .map(|p| p.same_as.iter().collect())
        .unwrap_or_default();
    let changes = new
        .difference(&old)
        .map(|other| (*other, LINKED))
        .chain(old.difference(&new).map(|other| (*other, UNLINKED)));
    let mut writes = Vec::new();
    for (other, state) in changes {
        writes.push((
            keys::same_as_key(&actor.id, other, position),
            vec![DECLARES, state],
        ));
        writes.push((
            keys::same_as_key(other, &actor.id, position),
            vec![DECLARED_BY, state],
        ));
    }
    writes
}

/// The actors `actor` is linked to as of `as_of`, in either direction: for each other actor
/// and direction, the last change at or before `as_of` decides.
pub fn linked_at(
    index: &FjallIndex,
    actor: &ActorId,
    as_of: Position,
) -> Result<Vec<ActorId>, StoreError> {
    let prefix = keys::same_as_prefix(actor);
    // Per other actor: the state of each direction, from the latest change seen so far (keys
    // of one pair sort by position).
    let mut states: BTreeMap<String, [bool; 2]> = BTreeMap::new();
    for item in index.scan(Space::Index, prefix_range(prefix.clone()), false) {
        let (key, value) = item?;
        let corrupt = || StoreError::Corrupt {
            key: format!("index/same_as {}", String::from_utf8_lossy(&key)),
            reason: "bad same_as link change".into(),
        };
        let (other, position) = keys::split_same_as_key(&key, &prefix).ok_or_else(corrupt)?;
        if position > as_of {
            continue;
        }
        let (direction, state) = match &value[..] {
            [DECLARES, state] => (0, *state),
            [DECLARED_BY, state] => (1, *state),
            _ => return Err(corrupt()),
        };
        states.entry(other.to_string()).or_default()[direction] = state == LINKED;
    }
    let mut linked = Vec::new();
    for (other, [declares, declared_by]) in states {
        if declares || declared_by {
            linked.push(
                EntryId::parse(&other).map_err(|reason| StoreError::Corrupt {
                    key: format!("index/same_as {}", actor.as_str()),
                    reason: format!("bad actor id {other:?}: {reason}"),
                })?,
            );
        }
    }
    Ok(linked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ActorKind;

    fn id(s: &str) -> EntryId {
        EntryId::parse(s).expect("valid")
    }

    fn actor(same_as: &[&str]) -> Actor {
        Actor {
            id: id("cameo-lbnreb"),
            name: "Hezbollah".into(),
            aliases: vec![],
            kind: ActorKind::ArmedGroup,
            country: None,
            affiliations: vec![],
            same_as: same_as.iter().map(|s| id(s)).collect(),
            description: String::new(),
        }
    }

    #[test]
    fn a_revision_writes_only_the_links_it_changes_under_both_ends() {
        let first = link_writes(Position(5), &actor(&["hezbollah"]), None);
        assert_eq!(
            first,
            vec![
                (
                    keys::same_as_key(&id("cameo-lbnreb"), &id("hezbollah"), Position(5)),
                    vec![DECLARES, LINKED]
                ),
                (
                    keys::same_as_key(&id("hezbollah"), &id("cameo-lbnreb"), Position(5)),
                    vec![DECLARED_BY, LINKED]
                ),
            ]
        );
        let same = link_writes(
            Position(6),
            &actor(&["hezbollah"]),
            Some(&actor(&["hezbollah"])),
        );
        assert!(same.is_empty(), "an unchanged link writes nothing");
        let undone = link_writes(Position(7), &actor(&[]), Some(&actor(&["hezbollah"])));
        assert!(undone.iter().all(|(_, v)| v[1] == UNLINKED));
        assert_eq!(undone.len(), 2);
        assert!(link_writes(Position(8), &actor(&[]), None).is_empty());
    }
}
