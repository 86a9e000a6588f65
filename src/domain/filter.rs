//! Which entries a subscription wants: kinds, actors, relations, a date range and a certainty.
//!
//! The filter is resolved before it is used (actor names are already ids, dates already spans),
//! so matching an entry is a few comparisons and never touches the store. Each condition left
//! empty matches everything; the conditions combine with AND.

use serde::{Deserialize, Serialize};

use super::edtf::{DateSpan, Edtf};
use super::ids::{ActorId, RelationKey};
use super::model::{Certainty, EntryBody, EntryKind};

/// A resolved subscription filter. Stored with named subscriptions, so it is serializable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntryFilter {
    /// Only these kinds; empty = all.
    #[serde(default)]
    pub kinds: Vec<EntryKind>,
    /// Only entries that involve one of these actors (an event's participants, a claim's subject,
    /// object or claimant, an actor entry's own id); empty = all.
    #[serde(default)]
    pub actors: Vec<ActorId>,
    /// Only entries with one of these relations (an event's or claim's relation, or one of an
    /// actor's affiliations); empty = all.
    #[serde(default)]
    pub relations: Vec<RelationKey>,
    /// Only entries whose date may fall on or after this date's earliest day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_from: Option<Edtf>,
    /// Only entries whose date may fall on or before this date's latest day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_to: Option<Edtf>,
    /// Only events and claims at least this certain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_certainty: Option<Certainty>,
}

impl EntryFilter {
    /// True when the filter lets everything through.
    pub fn is_empty(&self) -> bool {
        self == &EntryFilter::default()
    }

    /// True if `body` passes every condition.
    ///
    /// Entries without a date (actors, claims without `valid`) are not excluded by a date
    /// range, and actors are not excluded by a certainty: a condition that cannot apply to an
    /// entry does not hide it.
    pub fn matches(&self, body: &EntryBody) -> bool {
        self.kind_matches(body.kind())
            && self.actor_matches(body)
            && self.relation_matches(body)
            && self.date_matches(body)
            && self.certainty_matches(body)
    }

    fn kind_matches(&self, kind: EntryKind) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    fn actor_matches(&self, body: &EntryBody) -> bool {
        if self.actors.is_empty() {
            return true;
        }
        let wanted = |id: &ActorId| self.actors.contains(id);
        match body {
            EntryBody::Actor(a) => wanted(&a.id),
            EntryBody::Event(e) => e.participants.iter().any(|p| wanted(&p.actor_id)),
            EntryBody::Claim(c) => [&c.subject, &c.object, &c.claimant]
                .into_iter()
                .flatten()
                .any(wanted),
        }
    }

    fn relation_matches(&self, body: &EntryBody) -> bool {
        if self.relations.is_empty() {
            return true;
        }
        match body {
            EntryBody::Actor(a) => a
                .affiliations
                .iter()
                .any(|af| self.relations.contains(&af.relation)),
            EntryBody::Event(e) => self.relations.contains(&e.relation),
            EntryBody::Claim(c) => c
                .relation
                .as_ref()
                .is_some_and(|r| self.relations.contains(r)),
        }
    }

    fn date_matches(&self, body: &EntryBody) -> bool {
        if self.date_from.is_none() && self.date_to.is_none() {
            return true;
        }
        let span = match body {
            EntryBody::Actor(_) => return true,
            EntryBody::Event(e) => e.date.span(),
            EntryBody::Claim(c) => c.valid.as_ref().map_or(DateSpan::UNBOUNDED, Edtf::span),
        };
        let after_from = self
            .date_from
            .as_ref()
            .is_none_or(|from| span.latest >= from.span().earliest);
        let before_to = self
            .date_to
            .as_ref()
            .is_none_or(|to| span.earliest <= to.span().latest);
        after_from && before_to
    }

    fn certainty_matches(&self, body: &EntryBody) -> bool {
        let Some(min) = self.min_certainty else {
            return true;
        };
        match body {
            EntryBody::Actor(_) => true,
            EntryBody::Event(e) => e.certainty <= min,
            EntryBody::Claim(c) => c.certainty <= min,
        }
    }
}
