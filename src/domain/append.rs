//! The rules of appending: idempotency, actor revisions, references and optimistic concurrency.
//!
//! `plan_append` decides, for a batch of valid entries, which are new, which are duplicates and
//! which break a rule, against a read-only view of the log. It is pure: the store's writer calls
//! it with a view that includes batches accepted earlier in the same group commit, then writes
//! exactly what the plan says. Keeping the decision here means a second storage backend gets the
//! same semantics for free.

use std::borrow::Cow;
use std::collections::HashMap;

use super::error::AppendRejection;
use super::ids::{EntryId, Position};
use super::model::{EntryBody, EntryKind};

/// What the log already holds, as the planner needs to see it.
pub trait LogView {
    /// The error of the underlying store.
    type Error;
    /// The current head (0 for an empty log).
    fn head(&self) -> Position;
    /// The latest entry with this id (for an actor: its latest revision), with its position.
    fn latest(&self, id: &EntryId) -> Result<Option<(Position, EntryBody)>, Self::Error>;
    /// The kind of the entry with this id. Separate from `latest` because checking a reference
    /// needs only the kind, and reading it must not cost decoding the whole entry.
    fn kind_of(&self, id: &EntryId) -> Result<Option<EntryKind>, Self::Error>;
}

/// What happens to one entry of the batch.
// Plans live for one group commit and are mostly `New`: boxing the large variant would cost an
// allocation per appended entry to save stack space nobody needs.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum PlannedEntry {
    /// Identical to what the log holds at this position: nothing is written.
    Duplicate {
        /// Where the identical entry is.
        position: Position,
        /// Its id.
        id: EntryId,
    },
    /// Written at this position. `replaces` is the actor revision it supersedes, so the store
    /// can drop that revision's names from its index.
    New {
        /// Where it goes.
        position: Position,
        /// What it says.
        body: EntryBody,
        /// The previous revision of the same actor, if this is an actor revision.
        replaces: Option<EntryBody>,
    },
}

impl PlannedEntry {
    /// The entry's position, new or original.
    pub fn position(&self) -> Position {
        match self {
            PlannedEntry::Duplicate { position, .. } | PlannedEntry::New { position, .. } => {
                *position
            }
        }
    }

    /// The entry's id.
    pub fn id(&self) -> &EntryId {
        match self {
            PlannedEntry::Duplicate { id, .. } => id,
            PlannedEntry::New { body, .. } => body.id(),
        }
    }
}

/// The decision for a whole batch.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendPlan {
    /// One decision per entry, in request order.
    pub entries: Vec<PlannedEntry>,
    /// The head once the batch is written.
    pub head: Position,
}

/// Why planning failed: a rule of the log, or the view could not be read.
#[derive(Debug)]
pub enum PlanError<E> {
    /// The batch breaks a rule; nothing may be written.
    Rejected(AppendRejection),
    /// The store failed while reading.
    View(E),
}

/// Decides what appending `entries` to the log seen through `view` does.
pub fn plan_append<V: LogView>(
    view: &V,
    entries: Vec<EntryBody>,
    expected_head: Option<Position>,
) -> Result<AppendPlan, PlanError<V::Error>> {
    let mut head = view.head();
    if let Some(expected) = expected_head {
        if expected != head {
            return Err(PlanError::Rejected(AppendRejection::HeadMismatch {
                expected,
                actual: head,
            }));
        }
    }
    let mut planned: Vec<PlannedEntry> = Vec::with_capacity(entries.len());
    // Entries accepted earlier in this batch shadow the view, so a batch may create an actor
    // and refer to it, or carry two revisions of one actor. The map points into `planned`
    // rather than copying bodies: a hit is rare, a copy per entry is not.
    let mut in_batch: HashMap<EntryId, usize> = HashMap::new();
    for (index, body) in entries.into_iter().enumerate() {
        // `planned` has one entry per entry of the batch before this one, so `at` is also the
        // earlier entry's index in the batch.
        let earlier_in_batch = in_batch.get(body.id()).copied();
        let existing = match earlier_in_batch {
            Some(at) => match &planned[at] {
                PlannedEntry::New { position, body, .. } => Some((*position, Cow::Borrowed(body))),
                PlannedEntry::Duplicate { .. } => None,
            },
            None => view
                .latest(body.id())
                .map_err(PlanError::View)?
                .map(|(position, body)| (position, Cow::Owned(body))),
        };
        let replaces = match existing {
            Some((position, old)) if *old == body => {
                planned.push(PlannedEntry::Duplicate {
                    position,
                    id: body.id().clone(),
                });
                continue;
            }
            Some((_, old)) if old.kind() == EntryKind::Actor && body.kind() == EntryKind::Actor => {
                Some(old.into_owned())
            }
            Some((position, old)) => {
                let id = body.id().clone();
                let kind = old.kind().as_str();
                return Err(PlanError::Rejected(match earlier_in_batch {
                    // Not written yet: the position is only the one it would have had.
                    Some(earlier) => AppendRejection::IdTwiceInBatch {
                        index,
                        earlier,
                        id,
                        earlier_kind: kind,
                    },
                    None => AppendRejection::IdTaken {
                        index,
                        id,
                        existing_kind: kind,
                        position,
                    },
                }));
            }
            None => None,
        };
        let kind_of = |id: &EntryId| match in_batch.get(id) {
            Some(&at) => match &planned[at] {
                PlannedEntry::New { body, .. } => Ok(Some(body.kind())),
                PlannedEntry::Duplicate { .. } => view.kind_of(id).map_err(PlanError::View),
            },
            None => view.kind_of(id).map_err(PlanError::View),
        };
        for (field, id) in body.actor_references() {
            let found = kind_of(id)?;
            if found != Some(EntryKind::Actor) {
                return Err(PlanError::Rejected(AppendRejection::missing(
                    index,
                    field,
                    id,
                    EntryKind::Actor,
                    found,
                )));
            }
        }
        for (field, id, kind) in body.entry_references() {
            let found = kind_of(id)?;
            if found != Some(kind) {
                return Err(PlanError::Rejected(AppendRejection::missing(
                    index, field, id, kind, found,
                )));
            }
        }
        head = head.next();
        in_batch.insert(body.id().clone(), planned.len());
        planned.push(PlannedEntry::New {
            position: head,
            body,
            replaces,
        });
    }
    Ok(AppendPlan {
        entries: planned,
        head,
    })
}

#[cfg(test)]
mod tests;
