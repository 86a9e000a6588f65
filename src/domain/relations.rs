//! The relation graph around an actor: which edges the evidence supports, and how strongly.
//!
//! An edge is "subject relation object". Events are evidence for initiator -> target edges, and
//! for a symmetric relation (clashes_with) for every pair of participants that are not merely
//! supporters; claims are evidence for subject -> object. The aggregation is pure: the store
//! feeds it the visible entries that may be evidence, in date order, and it decides.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use super::calendar::Day;
use super::edtf::DateSpan;
use super::ids::{ActorId, EntryId, Position, RelationKey};
use super::model::{Certainty, EntryBody, Event, Role};
use super::query::{claim_span, DateKey, DateRange, SymmetricRelations};
use super::same_as::ActorClass;

/// Evidence ids kept per edge.
pub const MAX_EVIDENCE_IDS: usize = 20;

/// Which edges of the actor are wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// The actor is the subject.
    Outgoing,
    /// The actor is the object.
    Incoming,
    /// Either.
    #[default]
    Both,
}

/// A resolved `ListRelations` request.
#[derive(Debug, Clone)]
pub struct RelationQuery {
    /// The actor at the centre.
    pub actor: ActorId,
    /// Only edges to or from one of these actors (the one named and those it is the same as).
    pub counterpart: Option<ActorClass>,
    /// Only these relations; empty = any.
    pub relations: Vec<RelationKey>,
    /// Only evidence whose date overlaps this range.
    pub dates: DateRange,
    /// Which edges.
    pub direction: Direction,
    /// Only evidence at least this certain.
    pub min_certainty: Option<Certainty>,
    /// The vocabulary's symmetric relations.
    pub symmetric: SymmetricRelations,
}

/// One edge with its evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationEdge {
    /// Subject actor.
    pub subject: ActorId,
    /// Relation key.
    pub relation: RelationKey,
    /// Object actor.
    pub object: ActorId,
    /// The span from the earliest to the latest dated evidence; `None` when nothing is dated.
    pub dated: Option<DateSpan>,
    /// Events that are evidence.
    pub event_count: u64,
    /// Claims (assertions and denials).
    pub claim_count: u64,
    /// Strongest certainty of the assertions, else of the denials.
    pub certainty: Certainty,
    /// True when a claim denies the edge.
    pub denied: bool,
    /// Ids of the evidence, earliest first, at most [`MAX_EVIDENCE_IDS`].
    pub evidence: Vec<EntryId>,
}

type EdgeKey = (ActorId, RelationKey, ActorId);

/// Collects evidence entry by entry and turns it into edges.
pub struct RelationGraph<'q> {
    query: &'q RelationQuery,
    edges: BTreeMap<EdgeKey, EdgeTally>,
}

impl<'q> RelationGraph<'q> {
    /// An empty graph for `query`.
    pub fn new(query: &'q RelationQuery) -> RelationGraph<'q> {
        RelationGraph {
            query,
            edges: BTreeMap::new(),
        }
    }

    /// Adds an entry as evidence, if it is evidence for an edge the query wants.
    pub fn add(&mut self, position: Position, body: &EntryBody) {
        let Some(evidence) = evidence_of(body, &self.query.symmetric) else {
            return;
        };
        if !self
            .query
            .admits(evidence.relation, evidence.span, evidence.certainty)
        {
            return;
        }
        let key = DateKey {
            earliest: evidence.span.earliest,
            position,
        };
        // Pairs are distinct and each names the actor on at most one side, so every edge
        // receives this entry once.
        for (subject, object) in &evidence.pairs {
            if let Some(edge) = self.wanted_edge(subject, evidence.relation, object) {
                let tally = self.edges.entry(edge).or_default();
                tally.count(evidence.kind, evidence.certainty, evidence.dated(), 1);
                tally.offer(key, evidence.id);
            }
        }
    }

    /// The edge `subject relation object` as the query reports it, if it wants it: oriented
    /// with the actor as subject when the relation is symmetric, filtered by direction and
    /// counterpart otherwise.
    fn wanted_edge(
        &self,
        subject: &ActorId,
        relation: &RelationKey,
        object: &ActorId,
    ) -> Option<EdgeKey> {
        let actor = &self.query.actor;
        let (subject, object) = if self.query.symmetric.contains(relation) {
            match (subject == actor, object == actor) {
                (true, _) => (subject, object),
                (_, true) => (object, subject),
                _ => return None,
            }
        } else {
            let wanted = match self.query.direction {
                Direction::Outgoing => subject == actor,
                Direction::Incoming => object == actor,
                Direction::Both => subject == actor || object == actor,
            };
            if !wanted {
                return None;
            }
            (subject, object)
        };
        let other = if subject == actor { object } else { subject };
        if self
            .query
            .counterpart
            .as_ref()
            .is_some_and(|c| !c.contains(other))
        {
            return None;
        }
        Some((subject.clone(), relation.clone(), object.clone()))
    }

    /// The edges, by earliest dated evidence (undated last), then subject, relation, object.
    pub fn into_edges(self) -> Vec<RelationEdge> {
        let mut edges: Vec<RelationEdge> = self
            .edges
            .into_iter()
            .filter_map(|((subject, relation, object), tally)| {
                tally.into_edge(subject, relation, object)
            })
            .collect();
        sort_edges(&mut edges);
        edges
    }
}

impl RelationQuery {
    /// True if evidence of `relation`, dated `span`, this `certainty`, passes the query's
    /// relation, date and certainty filters (the filters that do not depend on the edge).
    pub fn admits(&self, relation: &RelationKey, span: DateSpan, certainty: Certainty) -> bool {
        (self.relations.is_empty() || self.relations.contains(relation))
            && self.dates.accepts(span)
            && self.min_certainty.is_none_or(|min| certainty <= min)
    }
}

/// Orders edges as `ListRelations` answers: by earliest dated evidence (undated last), then
/// subject, relation, object.
pub fn sort_edges(edges: &mut [RelationEdge]) {
    edges.sort_by(|a, b| {
        let first = |e: &RelationEdge| e.dated.map_or(Day::OPEN_END, |s| s.earliest);
        (first(a), &a.subject, &a.relation, &a.object).cmp(&(
            first(b),
            &b.subject,
            &b.relation,
            &b.object,
        ))
    });
}

/// What one piece of evidence says about its edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EvidenceKind {
    /// An event: it happened (counted in `event_count`, an assertion for the certainty).
    Event,
    /// A claim that the edge holds.
    Assertion,
    /// A claim that denies the edge.
    Denial,
}

/// An entry read as evidence for edges, before any query looks at it: the one place that
/// decides which edges an event or claim supports, shared by [`RelationGraph`] and the store's
/// maintained graph so the two cannot disagree.
#[derive(Debug, Clone)]
pub struct Evidence<'a> {
    /// The entry's id.
    pub id: &'a EntryId,
    /// The relation of every edge it supports.
    pub relation: &'a RelationKey,
    /// Event, assertion or denial.
    pub kind: EvidenceKind,
    /// The days date filters compare: the event's date, the claim's `valid`, or any day for a
    /// claim that does not say.
    pub span: DateSpan,
    /// False for a claim without `valid`: it counts, but does not widen the edge's dates.
    pub is_dated: bool,
    /// The entry's certainty.
    pub certainty: Certainty,
    /// Subject -> object pairs, distinct and never an actor with itself. For a symmetric
    /// relation an event lists each unordered pair once.
    pub pairs: Vec<(&'a ActorId, &'a ActorId)>,
}

impl Evidence<'_> {
    /// The span that widens the edge's dates, if the evidence is dated.
    pub fn dated(&self) -> Option<DateSpan> {
        self.is_dated.then_some(self.span)
    }
}

/// The entry as evidence, or `None` when it supports no edge (actors, claims without subject,
/// relation or object, self-edges only). Events are evidence for initiator -> target; for a
/// `symmetric` relation for every pair of participants that are not merely supporters.
pub fn evidence_of<'a>(
    body: &'a EntryBody,
    symmetric: &BTreeSet<RelationKey>,
) -> Option<Evidence<'a>> {
    let evidence = match body {
        EntryBody::Actor(_) => return None,
        EntryBody::Event(event) => event_evidence(event, symmetric),
        EntryBody::Claim(claim) => {
            let (Some(subject), Some(relation), Some(object)) =
                (&claim.subject, &claim.relation, &claim.object)
            else {
                return None;
            };
            Evidence {
                id: &claim.id,
                relation,
                kind: if claim.negated {
                    EvidenceKind::Denial
                } else {
                    EvidenceKind::Assertion
                },
                span: claim_span(claim),
                is_dated: claim.valid.is_some(),
                certainty: claim.certainty,
                pairs: if subject == object {
                    Vec::new()
                } else {
                    vec![(subject, object)]
                },
            }
        }
    };
    (!evidence.pairs.is_empty()).then_some(evidence)
}

fn event_evidence<'a>(event: &'a Event, symmetric: &BTreeSet<RelationKey>) -> Evidence<'a> {
    let mut pairs: BTreeSet<(&ActorId, &ActorId)> = BTreeSet::new();
    if symmetric.contains(&event.relation) {
        let sides: BTreeSet<&ActorId> = event
            .participants
            .iter()
            .filter(|p| p.role != Role::Supporter)
            .map(|p| &p.actor_id)
            .collect();
        for a in &sides {
            for b in sides.range::<&ActorId, _>((Bound::Excluded(a), Bound::Unbounded)) {
                pairs.insert((a, b));
            }
        }
    } else {
        let with_role = |role| {
            event
                .participants
                .iter()
                .filter(move |p| p.role == role)
                .map(|p| &p.actor_id)
        };
        for initiator in with_role(Role::Initiator) {
            for target in with_role(Role::Target).filter(|t| *t != initiator) {
                pairs.insert((initiator, target));
            }
        }
    }
    Evidence {
        id: &event.id,
        relation: &event.relation,
        kind: EvidenceKind::Event,
        span: event.date.span(),
        is_dated: true,
        certainty: event.certainty,
        pairs: pairs.into_iter().collect(),
    }
}

/// What is known of one edge while evidence is added: counts, strongest certainties, the
/// span of the dated evidence and the earliest evidence ids. Evidence may come one piece at a
/// time ([`RelationGraph`]) or in counted groups (the store's aggregates), in any order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EdgeTally {
    dated: Option<DateSpan>,
    event_count: u64,
    claim_count: u64,
    asserted: Option<Certainty>,
    denied: Option<Certainty>,
    evidence: Vec<(DateKey, EntryId)>,
}

impl EdgeTally {
    /// Counts `n` pieces of evidence of one kind and certainty whose dated ones span `dated`.
    pub fn count(
        &mut self,
        kind: EvidenceKind,
        certainty: Certainty,
        dated: Option<DateSpan>,
        n: u64,
    ) {
        if n == 0 {
            return;
        }
        match kind {
            EvidenceKind::Event => self.event_count += n,
            EvidenceKind::Assertion | EvidenceKind::Denial => self.claim_count += n,
        }
        self.widen(dated);
        let strongest = match kind {
            EvidenceKind::Denial => &mut self.denied,
            EvidenceKind::Event | EvidenceKind::Assertion => &mut self.asserted,
        };
        *strongest = Some(strongest.map_or(certainty, |c| c.min(certainty)));
    }

    /// Widens the edge's dates to cover `dated`.
    pub fn widen(&mut self, dated: Option<DateSpan>) {
        self.dated = hull(self.dated, dated);
    }

    /// Offers an evidence id; the tally keeps the [`MAX_EVIDENCE_IDS`] earliest by `key`.
    pub fn offer(&mut self, key: DateKey, id: &EntryId) {
        if let Some(at) = self.slot(key) {
            self.evidence.insert(at, (key, id.clone()));
            self.evidence.truncate(MAX_EVIDENCE_IDS);
        }
    }

    /// [`EdgeTally::offer`] of an id the caller owns (no copy of it is made).
    pub fn offer_owned(&mut self, key: DateKey, id: EntryId) {
        if let Some(at) = self.slot(key) {
            self.evidence.insert(at, (key, id));
            self.evidence.truncate(MAX_EVIDENCE_IDS);
        }
    }

    /// Where evidence sorting at `key` would go, if among the earliest and not there yet.
    fn slot(&self, key: DateKey) -> Option<usize> {
        // Evidence arrives roughly in date order, so this rarely shifts.
        let at = self.evidence.partition_point(|(k, _)| *k < key);
        (at < MAX_EVIDENCE_IDS && self.evidence.get(at).is_none_or(|(k, _)| *k != key))
            .then_some(at)
    }

    /// True once the tally holds as many ids as an edge reports.
    pub fn has_all_ids(&self) -> bool {
        self.evidence.len() == MAX_EVIDENCE_IDS
    }

    /// The edge, or `None` when no evidence was counted.
    pub fn into_edge(
        self,
        subject: ActorId,
        relation: RelationKey,
        object: ActorId,
    ) -> Option<RelationEdge> {
        if self.event_count + self.claim_count == 0 {
            return None;
        }
        Some(RelationEdge {
            subject,
            relation,
            object,
            dated: self.dated,
            event_count: self.event_count,
            claim_count: self.claim_count,
            certainty: self.asserted.or(self.denied).unwrap_or(Certainty::Disputed),
            denied: self.denied.is_some(),
            evidence: self.evidence.into_iter().map(|(_, id)| id).collect(),
        })
    }
}

/// The smallest span covering both, either of which may be missing.
pub fn hull(a: Option<DateSpan>, b: Option<DateSpan>) -> Option<DateSpan> {
    match (a, b) {
        (Some(a), Some(b)) => Some(DateSpan {
            earliest: a.earliest.min(b.earliest),
            latest: a.latest.max(b.latest),
        }),
        (a, None) => a,
        (None, b) => b,
    }
}
