//! Why the domain refuses a request. Mapped to gRPC statuses in one place,
//! `service::status`; each message says what to fix.

use super::ids::{EntryId, Position};
use super::model::{EntryKind, ReferenceField};
use super::quote::quoted;

/// A field of a request breaks a rule (bad syntax, unknown relation, too long, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
pub struct InvalidField {
    /// Path of the field, e.g. `entries[3].event.date`.
    pub field: String,
    /// What is wrong, e.g. `month 13 does not exist (use 01-12)`.
    pub reason: String,
    /// Which rule it breaks, for programs: the text is for people.
    pub problem: FieldProblem,
}

/// The kinds of rule a field can break. Programs branch on these (each has a stable name in the
/// error details a client receives); people read the reason's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldProblem {
    /// Required and absent, or blank.
    Missing,
    /// Set by the server; a client may not set it.
    ServerAssigned,
    /// Not an EDTF date this log understands.
    InvalidDate,
    /// Not a valid id.
    InvalidId,
    /// A relation the vocabulary does not have.
    UnknownRelation,
    /// Longer or more numerous than the limit.
    TooLarge,
    /// A page token this server did not issue for this request.
    InvalidPageToken,
    /// Any other broken rule: out of range, contradictory, an unknown enum value, ...
    Invalid,
}

impl InvalidField {
    /// A field error of the general kind ([`FieldProblem::Invalid`]).
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> InvalidField {
        InvalidField::of(FieldProblem::Invalid, field, reason)
    }

    /// A field error of a given kind.
    pub fn of(
        problem: FieldProblem,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> InvalidField {
        InvalidField {
            field: field.into(),
            reason: reason.into(),
            problem,
        }
    }

    /// A required field that is absent or blank.
    pub fn missing(field: impl Into<String>, reason: impl Into<String>) -> InvalidField {
        InvalidField::of(FieldProblem::Missing, field, reason)
    }

    /// The same error, for the field nested under `prefix` (e.g. `entries[2]`). A field left
    /// empty stands for the prefix itself.
    pub fn under(self, prefix: &str) -> InvalidField {
        let field = if self.field.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}.{}", self.field)
        };
        InvalidField { field, ..self }
    }

    /// The same error, for the field `field` (used when a value is checked before its path is
    /// known, so that paths are only spelled out on the error path).
    pub fn at(self, field: String) -> InvalidField {
        InvalidField { field, ..self }
    }
}

/// Why a batch that is well-formed still cannot be appended to the log as it stands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendRejection {
    /// `expected_head` did not match.
    #[error(
        "expected the log's head to be {expected} but it is {actual}; read the log again and retry"
    )]
    HeadMismatch {
        /// What the client expected.
        expected: Position,
        /// The actual head.
        actual: Position,
    },
    /// An event or claim id is taken by different content.
    #[error("entries[{index}]: id \"{id}\" is already used by a different {existing_kind} at position {position}; ids are idempotency keys: to correct an entry, append a new one that lists the old id in `supersedes`")]
    IdTaken {
        /// Index of the entry in the batch.
        index: usize,
        /// The id.
        id: EntryId,
        /// What holds the id.
        existing_kind: &'static str,
        /// Where.
        position: Position,
    },
    /// Two event or claim entries of one batch share an id but not their content: the batch
    /// contradicts itself, whatever the log holds.
    #[error("entries[{index}]: id \"{id}\" is also the id of entries[{earlier}] (a {earlier_kind}) in this batch, with different content; give each entry its own id, or send a correction as a new entry that lists the old id in `supersedes`")]
    IdTwiceInBatch {
        /// Index of the later entry in the batch.
        index: usize,
        /// Index of the earlier entry with the same id.
        earlier: usize,
        /// The id.
        id: EntryId,
        /// What the earlier entry is.
        earlier_kind: &'static str,
    },
    /// A referenced actor or entry is not in the log (or is of the wrong kind).
    #[error("entries[{index}].{field}: \"{id}\" {}", problem(*wanted, *found))]
    MissingReference {
        /// Index of the entry in the batch.
        index: usize,
        /// The referring field.
        field: String,
        /// The referenced id.
        id: EntryId,
        /// What the field must refer to.
        wanted: EntryKind,
        /// What the id is in the log, if anything.
        found: Option<EntryKind>,
    },
}

impl AppendRejection {
    /// The missing-reference rejection for `id`, found as `found` (or not at all) where `wanted`
    /// was needed.
    pub fn missing(
        index: usize,
        field: ReferenceField,
        id: &EntryId,
        wanted: EntryKind,
        found: Option<EntryKind>,
    ) -> AppendRejection {
        AppendRejection::MissingReference {
            index,
            field: field.to_string(),
            id: id.clone(),
            wanted,
            found,
        }
    }

    /// The index in the batch of the entry refused, if the refusal is about one entry.
    pub fn entry_index(&self) -> Option<usize> {
        match self {
            AppendRejection::HeadMismatch { .. } => None,
            AppendRejection::IdTaken { index, .. }
            | AppendRejection::IdTwiceInBatch { index, .. }
            | AppendRejection::MissingReference { index, .. } => Some(*index),
        }
    }
}

fn problem(wanted: EntryKind, found: Option<EntryKind>) -> String {
    match found {
        None => format!(
            "is not in the log; append the {} first (earlier in this batch or in an earlier one)",
            wanted.as_str()
        ),
        Some(kind) => format!("is {}, not {}", with_article(kind), with_article(wanted)),
    }
}

fn with_article(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Actor => "an actor",
        EntryKind::Event => "an event",
        EntryKind::Claim => "a claim",
    }
}

/// Why a named-subscription request cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionRejection {
    /// No subscription has this name.
    #[error("no subscription is named \"{0}\"; Subscribe with this name creates it")]
    Unknown(String),
    /// The subscription belongs to another token.
    #[error("the subscription {name:?} belongs to the token {owner:?}; only that token or an admin may resume it or commit its checkpoint (choose another name)")]
    NotOwner {
        /// The subscription.
        name: String,
        /// The token that owns it.
        owner: String,
    },
    /// The caller owns as many named subscriptions as it may.
    #[error("{owner} already owns {max} named subscriptions, the limit (--max-subscriptions-per-caller); delete unused ones (DeleteSubscription, admin) or reuse a name")]
    TooMany {
        /// Who owns them.
        owner: String,
        /// The limit.
        max: usize,
    },
    /// A new named subscription would start past the end of the log.
    #[error("from_position {start} is beyond the head of the log ({head}) plus one; a named subscription starts at most at the next position (from_end)")]
    StartBeyondHead {
        /// The position asked for.
        start: Position,
        /// The head.
        head: Position,
    },
    /// A checkpoint past the end of the log.
    #[error("position {position} is beyond the head of the log ({head}); commit a position you have received")]
    BeyondHead {
        /// The position asked for.
        position: Position,
        /// The head.
        head: Position,
    },
    /// Subscribe named an existing subscription with a different filter.
    #[error("subscription \"{0}\" exists with a different filter; omit the filter to resume it, or delete it first")]
    FilterMismatch(String),
}

/// Why a well-formed query cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryRejection {
    /// `as_of_position` lies in the future of the log.
    #[error("as_of_position {as_of} is beyond the head of the log ({head}); ask for at most the head, or 0 for the head")]
    AsOfBeyondHead {
        /// The position asked for.
        as_of: Position,
        /// The head.
        head: Position,
    },
    /// A page token names a snapshot beyond the head: no server issued it for this log.
    #[error("page_token: its snapshot (position {snapshot}) is beyond the head of the log ({head}); this log did not issue it (or was restored from an older backup): start again from the first page")]
    TokenBeyondHead {
        /// The snapshot the token names.
        snapshot: Position,
        /// The head.
        head: Position,
    },
}

/// Why a name given where one actor is meant (a query's actor, a filter's actors) cannot be
/// taken: it names several, or none. Never answered with a guess: an analyst who gets the
/// events of the wrong one of two actors draws a wrong conclusion without knowing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameRejection {
    /// Several actors have this name or alias.
    #[error(
        "{field}: {} names {}{} actors: {}; give one of their ids",
        quoted(name),
        if *more { "at least " } else { "" },
        candidates.len(),
        listed(candidates)
    )]
    Ambiguous {
        /// The request field.
        field: String,
        /// The name as given.
        name: String,
        /// `(id, name)` of the actors it names (the first few, if `more`).
        candidates: Vec<(EntryId, String)>,
        /// True if it may name more actors than `candidates` lists.
        more: bool,
    },
    /// No actor has this id, name or alias.
    #[error("{field}: no actor is called {}{}", quoted(name), suggest(suggestions))]
    Unknown {
        /// The request field.
        field: String,
        /// The name as given.
        name: String,
        /// `(id, name)` of actors whose names come close (a prefix, every word), best first.
        suggestions: Vec<(EntryId, String)>,
    },
}

fn listed(actors: &[(EntryId, String)]) -> String {
    actors
        .iter()
        .map(|(id, name)| format!("{id} ({})", quoted(name)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn suggest(suggestions: &[(EntryId, String)]) -> String {
    if suggestions.is_empty() {
        "; ResolveActor and ListActors show the actors".to_string()
    } else {
        format!(
            "; did you mean {}? Give an id, or a name or alias as it is written",
            listed(suggestions)
        )
    }
}
