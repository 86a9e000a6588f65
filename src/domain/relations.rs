//! The relation graph around an actor: which edges the evidence supports, and how strongly.
//!
//! An edge is "subject relation object". Events are evidence for initiator -> target edges, and
//! for a symmetric relation (clashes_with) for every pair of participants that are not merely
//! supporters; claims are evidence for subject -> object. The aggregation is pure: the store
//! feeds it the visible entries that may be evidence, in date order, and it decides.

use std::collections::{BTreeMap, BTreeSet};

use super::calendar::Day;
use super::edtf::DateSpan;
use super::ids::{ActorId, EntryId, Position, RelationKey};
use super::model::{Certainty, Claim, EntryBody, Event, Role};
use super::query::{claim_span, DateKey, DateRange, SymmetricRelations};

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
    /// Only edges to or from this actor.
    pub counterpart: Option<ActorId>,
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

#[derive(Debug, Default)]
struct EdgeEvidence {
    dated: Option<DateSpan>,
    event_count: u64,
    claim_count: u64,
    asserted: Option<Certainty>,
    denied: Option<Certainty>,
    evidence: Vec<(DateKey, EntryId)>,
}

type EdgeKey = (ActorId, RelationKey, ActorId);

/// Collects evidence entry by entry and turns it into edges.
pub struct RelationGraph<'q> {
    query: &'q RelationQuery,
    edges: BTreeMap<EdgeKey, EdgeEvidence>,
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
        match body {
            EntryBody::Actor(_) => {}
            EntryBody::Event(event) => self.add_event(position, event),
            EntryBody::Claim(claim) => self.add_claim(position, claim),
        }
    }

    fn add_event(&mut self, position: Position, event: &Event) {
        let span = event.date.span();
        if !self.is_evidence(&event.relation, span, event.certainty) {
            return;
        }
        let mut pairs: BTreeSet<(&ActorId, &ActorId)> = BTreeSet::new();
        if self.query.symmetric.contains(&event.relation) {
            let sides: Vec<&ActorId> = event
                .participants
                .iter()
                .filter(|p| p.role != Role::Supporter)
                .map(|p| &p.actor_id)
                .collect();
            for a in &sides {
                for b in &sides {
                    pairs.insert((a, b));
                }
            }
        } else {
            for initiator in event
                .participants
                .iter()
                .filter(|p| p.role == Role::Initiator)
            {
                for target in event.participants.iter().filter(|p| p.role == Role::Target) {
                    pairs.insert((&initiator.actor_id, &target.actor_id));
                }
            }
        }
        let key = DateKey {
            earliest: span.earliest,
            position,
        };
        let mut seen = BTreeSet::new();
        for (subject, object) in pairs {
            if let Some(edge) = self.wanted_edge(subject, &event.relation, object) {
                if seen.insert(edge.clone()) {
                    let evidence = self.edges.entry(edge).or_default();
                    evidence.event_count += 1;
                    evidence.record(key, &event.id, Some(span), event.certainty, false);
                }
            }
        }
    }

    fn add_claim(&mut self, position: Position, claim: &Claim) {
        let (Some(subject), Some(relation), Some(object)) =
            (&claim.subject, &claim.relation, &claim.object)
        else {
            return;
        };
        let span = claim_span(claim);
        if !self.is_evidence(relation, span, claim.certainty) {
            return;
        }
        if let Some(edge) = self.wanted_edge(subject, relation, object) {
            let evidence = self.edges.entry(edge).or_default();
            evidence.claim_count += 1;
            let dated = claim.valid.as_ref().map(|_| span);
            let key = DateKey {
                earliest: span.earliest,
                position,
            };
            evidence.record(key, &claim.id, dated, claim.certainty, claim.negated);
        }
    }

    fn is_evidence(&self, relation: &RelationKey, span: DateSpan, certainty: Certainty) -> bool {
        (self.query.relations.is_empty() || self.query.relations.contains(relation))
            && self.query.dates.accepts(span)
            && self.query.min_certainty.is_none_or(|min| certainty <= min)
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
        if subject == object {
            return None;
        }
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
        if self.query.counterpart.as_ref().is_some_and(|c| c != other) {
            return None;
        }
        Some((subject.clone(), relation.clone(), object.clone()))
    }

    /// The edges, by earliest dated evidence (undated last), then subject, relation, object.
    pub fn into_edges(self) -> Vec<RelationEdge> {
        let mut edges: Vec<RelationEdge> = self
            .edges
            .into_iter()
            .map(|((subject, relation, object), evidence)| RelationEdge {
                subject,
                relation,
                object,
                dated: evidence.dated,
                event_count: evidence.event_count,
                claim_count: evidence.claim_count,
                certainty: evidence
                    .asserted
                    .or(evidence.denied)
                    .unwrap_or(Certainty::Disputed),
                denied: evidence.denied.is_some(),
                evidence: evidence.evidence.into_iter().map(|(_, id)| id).collect(),
            })
            .collect();
        edges.sort_by(|a, b| {
            let first = |e: &RelationEdge| e.dated.map_or(Day::OPEN_END, |s| s.earliest);
            (first(a), &a.subject, &a.relation, &a.object).cmp(&(
                first(b),
                &b.subject,
                &b.relation,
                &b.object,
            ))
        });
        edges
    }
}

impl EdgeEvidence {
    fn record(
        &mut self,
        key: DateKey,
        id: &EntryId,
        dated: Option<DateSpan>,
        certainty: Certainty,
        negated: bool,
    ) {
        if let Some(span) = dated {
            self.dated = Some(match self.dated {
                None => span,
                Some(known) => DateSpan {
                    earliest: known.earliest.min(span.earliest),
                    latest: known.latest.max(span.latest),
                },
            });
        }
        let strongest = if negated {
            &mut self.denied
        } else {
            &mut self.asserted
        };
        *strongest = Some(strongest.map_or(certainty, |c| c.min(certainty)));
        // Keep the earliest few; evidence arrives roughly in date order, so this rarely shifts.
        let at = self.evidence.partition_point(|(k, _)| *k < key);
        if at < MAX_EVIDENCE_IDS {
            self.evidence.insert(at, (key, id.clone()));
            self.evidence.truncate(MAX_EVIDENCE_IDS);
        }
    }
}
