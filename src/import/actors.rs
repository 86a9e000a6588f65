//! Which actors an import has emitted, so each is appended once.
//!
//! Appending an actor again with other content records a new revision, so an importer that
//! re-emitted an actor on every row with that row's name would churn revisions. The book emits
//! an actor the first time it is seen, remembers names seen after that, and can hand back the
//! grown actors as one revision each at the end. Datasets hold thousands of actors, not millions,
//! so a map in memory is enough.

use std::collections::{BTreeSet, HashMap};

use crate::domain::limits::MAX_ALIASES;
use crate::proto;

/// The actors one import has emitted or been told the log already holds.
#[derive(Debug, Default)]
pub struct ActorBook {
    /// Every actor id seen, with what the import emitted for it (`None` for actors the caller
    /// said the log already holds: those are never emitted, and their names are not tracked,
    /// since the importer does not know the log's revision).
    seen: HashMap<String, Option<Emitted>>,
}

#[derive(Debug)]
struct Emitted {
    /// The actor as emitted.
    actor: proto::Actor,
    /// Names seen after the actor was emitted that it does not already carry, in order.
    later_names: BTreeSet<String>,
}

impl ActorBook {
    /// An empty book: every actor will be emitted at its first mention.
    pub fn new() -> ActorBook {
        ActorBook::default()
    }

    /// Records that the log already holds this actor, so the import refers to it but never
    /// emits it (which would be a new revision).
    pub fn mark_known(&mut self, id: impl Into<String>) {
        self.seen.entry(id.into()).or_insert(None);
    }

    /// True when the actor was emitted or marked known.
    pub fn contains(&self, id: &str) -> bool {
        self.seen.contains_key(id)
    }

    /// Records a mention of an actor. Returns the actor to emit when it is new to the book;
    /// otherwise remembers the name (if new) and returns `None`. `build` is only called for new
    /// actors.
    pub fn mention(
        &mut self,
        id: &str,
        name: &str,
        build: impl FnOnce() -> proto::Actor,
    ) -> Option<proto::Actor> {
        match self.seen.get_mut(id) {
            Some(Some(emitted)) => {
                let a = &emitted.actor;
                if !name.is_empty() && a.name != name && !a.aliases.iter().any(|x| x == name) {
                    emitted.later_names.insert(name.to_string());
                }
                None
            }
            Some(None) => None,
            None => {
                let actor = build();
                self.seen.insert(
                    id.to_string(),
                    Some(Emitted {
                        actor: actor.clone(),
                        later_names: BTreeSet::new(),
                    }),
                );
                Some(actor)
            }
        }
    }

    /// Actors that were seen under names they were not emitted with, each with those names
    /// added to its aliases (up to the log's alias limit), in id order. Appending them makes one
    /// new revision per actor.
    pub fn grown_actors(&self) -> Vec<proto::Actor> {
        let mut grown: Vec<proto::Actor> = self
            .seen
            .values()
            .flatten()
            .filter(|e| !e.later_names.is_empty())
            .map(|e| {
                let mut actor = e.actor.clone();
                for name in &e.later_names {
                    if actor.aliases.len() >= MAX_ALIASES {
                        break;
                    }
                    actor.aliases.push(name.clone());
                }
                actor
            })
            .collect();
        grown.sort_by(|a, b| a.id.cmp(&b.id));
        grown
    }
}

/// The revision to append when an import brings `incoming` for an actor the log already holds
/// as `existing`, or `None` when the log's revision already carries every name of it.
///
/// The log's revision wins for everything but names: an analyst may have corrected the kind,
/// country or affiliations of an imported actor, and re-importing the source must not undo
/// that. Names the import saw are added as aliases (up to the alias limit), so re-running an
/// import appends nothing and a new file can still teach the log a new spelling.
pub fn grow_names(existing: &proto::Actor, incoming: &proto::Actor) -> Option<proto::Actor> {
    let known = |name: &str| existing.name == name || existing.aliases.iter().any(|a| a == name);
    let mut grown = existing.clone();
    let mut changed = false;
    let names = std::iter::once(&incoming.name).chain(&incoming.aliases);
    for name in names {
        if name.is_empty() || known(name) || grown.aliases.iter().any(|a| a == name) {
            continue;
        }
        if grown.aliases.len() >= MAX_ALIASES {
            break;
        }
        grown.aliases.push(name.clone());
        changed = true;
    }
    changed.then_some(grown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growing_keeps_the_logs_revision_and_adds_only_new_names() {
        let mut existing = actor("cameo-rus", "RUSSIA");
        existing.kind = proto::ActorKind::State as i32;
        existing.aliases = vec!["RUS".into()];
        let mut incoming = actor("cameo-rus", "RUSSIA");
        incoming.aliases = vec!["RUS".into()];
        assert_eq!(grow_names(&existing, &incoming), None, "nothing new");
        incoming.name = "MOSCOW".into();
        incoming.kind = proto::ActorKind::Organization as i32;
        let grown = grow_names(&existing, &incoming).expect("a new name");
        assert_eq!(grown.name, "RUSSIA");
        assert_eq!(
            grown.kind,
            proto::ActorKind::State as i32,
            "the log's kind wins"
        );
        assert_eq!(grown.aliases, vec!["RUS".to_string(), "MOSCOW".to_string()]);
        existing.aliases = (0..MAX_ALIASES).map(|i| format!("n{i}")).collect();
        assert_eq!(grow_names(&existing, &incoming), None, "no room left");
    }

    fn actor(id: &str, name: &str) -> proto::Actor {
        proto::Actor {
            id: id.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn emits_once_and_collects_later_names() {
        let mut book = ActorBook::new();
        assert!(book.mention("x", "X", || actor("x", "X")).is_some());
        assert!(book.mention("x", "X", || actor("x", "X")).is_none());
        assert!(book.mention("x", "Ex", || actor("x", "Ex")).is_none());
        let grown = book.grown_actors();
        assert_eq!(grown.len(), 1);
        assert_eq!(grown[0].name, "X");
        assert_eq!(grown[0].aliases, vec!["Ex".to_string()]);
    }

    #[test]
    fn known_actors_are_never_emitted() {
        let mut book = ActorBook::new();
        book.mark_known("x");
        assert!(book.mention("x", "Other", || actor("x", "Other")).is_none());
        assert!(book.grown_actors().is_empty());
        assert!(book.contains("x"));
    }
}
