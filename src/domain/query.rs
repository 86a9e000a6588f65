//! What the query RPCs ask and what an answer must contain, independent of how it is found.
//!
//! The store walks indexes to find candidates quickly; whether a candidate belongs in the answer
//! is decided here, by plain predicates over the entry. Keeping the semantics in one pure place
//! means the index code can only ever make a query faster or slower, never change its answer,
//! and the property tests compare the store against a model of these rules.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::calendar::Day;
use super::edtf::{DateSpan, Edtf};
use super::ids::{ActorId, CountryCode, EntryId, Position, RelationKey};
use super::model::{Certainty, Claim, EntryBody, Event, Role};
use super::same_as::ActorClass;

/// How a date range is compared with an entry's fuzzy date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateMatch {
    /// Some day of the entry's span falls in the range: it may have happened then.
    #[default]
    Overlaps,
    /// Every day of the entry's span falls in the range: it certainly happened then.
    Within,
}

/// A range of days with a way of matching fuzzy dates against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    /// First day of the range, or [`Day::OPEN_START`].
    pub from: Day,
    /// Last day of the range, or [`Day::OPEN_END`].
    pub to: Day,
    /// Overlap or containment.
    pub mode: DateMatch,
}

impl Default for DateRange {
    fn default() -> DateRange {
        DateRange::ANY
    }
}

impl DateRange {
    /// The range that accepts every date (with OVERLAPS).
    pub const ANY: DateRange = DateRange {
        from: Day::OPEN_START,
        to: Day::OPEN_END,
        mode: DateMatch::Overlaps,
    };

    /// The range from the earliest day of `from` to the latest day of `to`, either open.
    /// Refused when it ends before it starts.
    pub fn between(
        from: Option<&Edtf>,
        to: Option<&Edtf>,
        mode: DateMatch,
    ) -> Result<DateRange, String> {
        let range = DateRange {
            from: from.map_or(Day::OPEN_START, |d| d.span().earliest),
            to: to.map_or(Day::OPEN_END, |d| d.span().latest),
            mode,
        };
        if range.from > range.to {
            return Err(format!(
                "ends before it starts: date_from {} is after date_to {}",
                from.map(Edtf::as_str).unwrap_or(".."),
                to.map(Edtf::as_str).unwrap_or("..")
            ));
        }
        Ok(range)
    }

    /// True when the range leaves every date through.
    pub fn is_any(&self) -> bool {
        self.from == Day::OPEN_START && self.to == Day::OPEN_END && self.mode == DateMatch::Overlaps
    }

    /// True if a date covering `span` matches the range.
    pub fn accepts(&self, span: DateSpan) -> bool {
        match self.mode {
            DateMatch::Overlaps => span.latest >= self.from && span.earliest <= self.to,
            DateMatch::Within => span.earliest >= self.from && span.latest <= self.to,
        }
    }
}

/// The order of a query's results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryOrder {
    /// By earliest day, then position.
    #[default]
    DateAscending,
    /// The exact reverse of `DateAscending`.
    DateDescending,
    /// By position.
    Position,
}

/// Where an entry sorts in date order: its earliest day (open start for undated claims), then
/// its position, which makes the key unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateKey {
    /// Earliest day the entry's date may fall on.
    pub earliest: Day,
    /// The entry's position.
    pub position: Position,
}

/// The keys of the relation vocabulary that are symmetric ("A clashes_with B" is also "B
/// clashes_with A"). Shared, because every query needs it and it never changes while serving.
pub type SymmetricRelations = Arc<BTreeSet<RelationKey>>;

/// Which log state a query reads and how it treats corrections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Entries after this position are ignored.
    pub as_of: Position,
    /// Keep entries that a later entry (up to `as_of`) supersedes.
    pub include_superseded: bool,
}

/// A resolved `QueryEvents` request: names are ids, dates are days.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only events one of these actors (the one named and those it is the same as) takes
    /// part in.
    pub actor: Option<ActorClass>,
    /// With `actor`: only in this role.
    pub role: Option<Role>,
    /// Only events that also involve one of these actors.
    pub counterpart: Option<ActorClass>,
    /// Only these relations; empty = any.
    pub relations: Vec<RelationKey>,
    /// The date range.
    pub dates: DateRange,
    /// Only events located in this country.
    pub country: Option<CountryCode>,
    /// Only events at least this certain.
    pub min_certainty: Option<Certainty>,
    /// The vocabulary's symmetric relations.
    pub symmetric: SymmetricRelations,
}

impl EventQuery {
    /// True if `event` answers the query (visibility aside, see [`Snapshot`]).
    pub fn matches(&self, event: &Event) -> bool {
        let symmetric = self.symmetric.contains(&event.relation);
        let actor_ok = self.actor.as_ref().is_none_or(|actor| {
            event.participants.iter().any(|p| {
                actor.contains(&p.actor_id)
                    && self
                        .role
                        .is_none_or(|role| role_matches(role, p.role, symmetric))
            })
        });
        let counterpart_ok = self
            .counterpart
            .as_ref()
            .is_none_or(|c| event.participants.iter().any(|p| c.contains(&p.actor_id)));
        actor_ok
            && counterpart_ok
            && (self.relations.is_empty() || self.relations.contains(&event.relation))
            && self.dates.accepts(event.date.span())
            && self.country.as_ref().is_none_or(|country| {
                event
                    .location
                    .as_ref()
                    .and_then(|l| l.country.as_ref())
                    .is_some_and(|c| c == country)
            })
            && self.min_certainty.is_none_or(|min| event.certainty <= min)
    }
}

/// A role asked for matches the role held; for a symmetric relation the two directed roles are
/// one ("A clashes with B" is "B clashes with A").
fn role_matches(asked: Role, held: Role, symmetric: bool) -> bool {
    let directed = |r: Role| matches!(r, Role::Initiator | Role::Target);
    asked == held || (symmetric && directed(asked) && directed(held))
}

/// A resolved `QueryClaims` request.
#[derive(Debug, Clone, Default)]
pub struct ClaimQuery {
    /// Only claims about one of these actors (the one named and those it is the same as).
    pub subject: Option<ActorClass>,
    /// Only claims whose object is one of these actors.
    pub object: Option<ActorClass>,
    /// Only claims made by one of these actors.
    pub claimant: Option<ActorClass>,
    /// Only claims where one of these actors is subject, object or claimant.
    pub actor: Option<ActorClass>,
    /// Only these relations; empty = any.
    pub relations: Vec<RelationKey>,
    /// Only claims about this event.
    pub event_id: Option<EntryId>,
    /// The range compared with `valid` (unbounded when a claim has none).
    pub dates: DateRange,
    /// Only claims at least this certain.
    pub min_certainty: Option<Certainty>,
    /// Only claims at most this certain.
    pub max_certainty: Option<Certainty>,
    /// Only denials (true) or only assertions (false).
    pub negated: Option<bool>,
    /// The vocabulary's symmetric relations.
    pub symmetric: SymmetricRelations,
}

impl ClaimQuery {
    /// True if `claim` answers the query (visibility aside).
    pub fn matches(&self, claim: &Claim) -> bool {
        let symmetric = claim
            .relation
            .as_ref()
            .is_some_and(|r| self.symmetric.contains(r));
        let oriented = |subject: &Option<ActorId>, object: &Option<ActorId>| {
            self.subject
                .as_ref()
                .is_none_or(|s| subject.as_ref().is_some_and(|a| s.contains(a)))
                && self
                    .object
                    .as_ref()
                    .is_none_or(|o| object.as_ref().is_some_and(|a| o.contains(a)))
        };
        let ends_ok = oriented(&claim.subject, &claim.object)
            || (symmetric && oriented(&claim.object, &claim.subject));
        let involves = |class: &ActorClass| {
            [&claim.subject, &claim.object, &claim.claimant]
                .into_iter()
                .flatten()
                .any(|a| class.contains(a))
        };
        ends_ok
            && self
                .claimant
                .as_ref()
                .is_none_or(|c| claim.claimant.as_ref().is_some_and(|a| c.contains(a)))
            && self.actor.as_ref().is_none_or(involves)
            && (self.relations.is_empty()
                || claim
                    .relation
                    .as_ref()
                    .is_some_and(|r| self.relations.contains(r)))
            && self
                .event_id
                .as_ref()
                .is_none_or(|e| claim.event_id.as_ref() == Some(e))
            && self.dates.accepts(claim_span(claim))
            && self.min_certainty.is_none_or(|min| claim.certainty <= min)
            && self.max_certainty.is_none_or(|max| claim.certainty >= max)
            && self.negated.is_none_or(|n| claim.negated == n)
    }
}

/// The days a claim holds over: its `valid` span, or any day when it does not say.
pub fn claim_span(claim: &Claim) -> DateSpan {
    claim.valid.as_ref().map_or(DateSpan::UNBOUNDED, Edtf::span)
}

/// The date span that orders an event or claim; `None` for actors, which queries never return.
pub fn entry_span(body: &EntryBody) -> Option<DateSpan> {
    match body {
        EntryBody::Actor(_) => None,
        EntryBody::Event(e) => Some(e.date.span()),
        EntryBody::Claim(c) => Some(claim_span(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edtf(text: &str) -> Edtf {
        Edtf::parse(text).expect("valid EDTF")
    }

    fn range(from: &str, to: &str, mode: DateMatch) -> DateRange {
        let from = (!from.is_empty()).then(|| edtf(from));
        let to = (!to.is_empty()).then(|| edtf(to));
        DateRange::between(from.as_ref(), to.as_ref(), mode).expect("ordered")
    }

    #[test]
    fn a_year_overlaps_a_month_but_is_not_within_it() {
        let september = |mode| range("2022-09", "2022-09", mode);
        let year = edtf("2022").span();
        let day = edtf("2022-09-24").span();
        assert!(september(DateMatch::Overlaps).accepts(year));
        assert!(!september(DateMatch::Within).accepts(year));
        assert!(september(DateMatch::Within).accepts(day));
        assert!(!september(DateMatch::Overlaps).accepts(edtf("2022-10-01").span()));
    }

    #[test]
    fn open_ranges_and_open_spans() {
        let since_2020 = range("2020", "", DateMatch::Within);
        assert!(since_2020.accepts(edtf("2020/..").span()));
        assert!(!since_2020.accepts(edtf("2019-12-31").span()));
        assert!(!range("2020", "2030", DateMatch::Within).accepts(edtf("2020/..").span()));
        assert!(range("2020", "2030", DateMatch::Overlaps).accepts(DateSpan::UNBOUNDED));
        assert!(!range("2020", "2030", DateMatch::Within).accepts(DateSpan::UNBOUNDED));
        assert!(DateRange::ANY.accepts(DateSpan::UNBOUNDED));
    }

    #[test]
    fn a_range_that_ends_before_it_starts_is_refused() {
        let error = DateRange::between(
            Some(&edtf("2023")),
            Some(&edtf("2022")),
            DateMatch::Overlaps,
        )
        .expect_err("reversed");
        assert!(error.contains("2023") && error.contains("2022"), "{error}");
    }

    #[test]
    fn directed_roles_are_one_for_symmetric_relations() {
        assert!(role_matches(Role::Initiator, Role::Target, true));
        assert!(!role_matches(Role::Initiator, Role::Target, false));
        assert!(!role_matches(Role::Supporter, Role::Target, true));
        assert!(role_matches(Role::Supporter, Role::Supporter, false));
    }
}
