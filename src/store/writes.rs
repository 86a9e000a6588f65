//! The index writes an entry causes, as pure code: which keys of the `index` keyspace appear and
//! disappear when an entry is indexed. The indexer applies them; nothing here reads or writes an
//! engine, so the rules ("an actor's names are those of its latest revision", "each correction
//! is one key", "each change of a same_as link is a key under each end") read in one place and
//! are tested without a database. The id index and the relation graph have their own writers
//! (`writer`, `graph`).

use crate::domain::{Actor, EntryBody, Position};

use super::actor_index::actor_index_keys;
use super::keys;
use super::postings::{postings, supersession_keys, ListPosting};
use super::same_as_index::link_writes;

/// Keys to set and remove in the `index` keyspace.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct IndexWrites {
    /// Keys to set, with their values.
    pub puts: Vec<(Vec<u8>, Vec<u8>)>,
    /// Keys to remove.
    pub deletes: Vec<Vec<u8>>,
    /// Postings, which the indexer gathers into blocks (see `postings`) rather than writing
    /// one key each.
    pub postings: Vec<ListPosting>,
}

/// The writes of indexing the entry at `position`. `previous` is the actor revision it
/// replaces, if it is an actor revision: its names that the new revision drops must go.
pub fn index_writes(position: Position, body: &EntryBody, previous: Option<&Actor>) -> IndexWrites {
    let mut writes = IndexWrites::default();
    match body {
        EntryBody::Actor(actor) => {
            writes.puts.push((
                keys::actor_key(&actor.id),
                keys::encode_position(position).to_vec(),
            ));
            let new_keys = actor_index_keys(actor);
            if let Some(old) = previous {
                let old_keys = actor_index_keys(old);
                writes.deletes.extend(
                    old_keys
                        .names
                        .into_keys()
                        .filter(|k| !new_keys.names.contains_key(k)),
                );
                writes
                    .deletes
                    .extend(old_keys.words.difference(&new_keys.words).cloned());
            }
            writes.puts.extend(
                new_keys
                    .names
                    .into_iter()
                    .map(|(key, source)| (key, vec![source])),
            );
            writes
                .puts
                .extend(new_keys.words.into_iter().map(|key| (key, Vec::new())));
            writes.puts.extend(link_writes(position, actor, previous));
        }
        EntryBody::Event(_) | EntryBody::Claim(_) => {
            writes.postings = postings(position, body);
            writes.puts = supersession_keys(position, body)
                .into_iter()
                .map(|key| (key, Vec::new()))
                .collect();
        }
    }
    writes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Checked;
    use crate::domain::{
        ActorKind, Certainty, Edtf, EntryId, Event, Participant, Role, Vocabulary,
    };

    fn actor(name: &str, aliases: &[&str]) -> Actor {
        Actor {
            id: EntryId::parse("liwa-al-quds").expect("valid"),
            name: name.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            kind: ActorKind::ArmedGroup,
            country: None,
            affiliations: vec![],
            same_as: Vec::new(),
            description: String::new(),
        }
    }

    #[test]
    fn a_revision_removes_only_the_names_it_drops() {
        let old = actor("Liwa al-Quds", &["Jerusalem Brigade"]);
        let new = actor("Liwa al-Quds", &["Quds Brigade"]);
        let writes = index_writes(
            Position(9),
            &EntryBody::Actor(Checked::from_log(new)),
            Some(&old),
        );
        let dropped = keys::name_key("jerusalem brigade", &old.id);
        assert!(writes.deletes.contains(&dropped));
        assert!(writes
            .deletes
            .contains(&keys::word_key("jerusalem", &old.id)));
        // "brigade" is in both revisions: kept, and not deleted.
        assert!(!writes.deletes.contains(&keys::word_key("brigade", &old.id)));
        assert!(writes
            .puts
            .iter()
            .any(|(k, v)| *k == keys::actor_key(&old.id) && v == &9_u64.to_be_bytes()));
        assert!(writes
            .puts
            .iter()
            .any(|(k, _)| *k == keys::name_key("quds brigade", &old.id)));
    }

    #[test]
    fn an_event_writes_its_postings_and_corrections() {
        let id = |s: &str| EntryId::parse(s).expect("valid");
        let event = Event {
            id: id("e2"),
            relation: Vocabulary::builtin().relation("attacks").expect("known"),
            participants: vec![
                Participant {
                    actor_id: id("a"),
                    role: Role::Initiator,
                },
                Participant {
                    actor_id: id("b"),
                    role: Role::Target,
                },
            ],
            date: Edtf::parse("2022-09").expect("valid"),
            location: None,
            summary: String::new(),
            sources: vec![],
            certainty: Certainty::Reported,
            attributes: Default::default(),
            supersedes: vec![id("e1")],
        };
        let body = EntryBody::Event(Checked::from_log(event));
        let writes = index_writes(Position(5), &body, None);
        assert!(writes.deletes.is_empty());
        assert_eq!(writes.postings, postings(Position(5), &body));
        // Events, relation, two actors, two actor+relation lists and the pair by date; the
        // first four by position too.
        assert_eq!(writes.postings.len(), 7 + 4);
        assert_eq!(writes.puts.len(), 1, "one correction");
        assert!(writes
            .puts
            .iter()
            .any(|(k, _)| *k == keys::superseded_key(&id("e1"), Position(5))));
    }
}
