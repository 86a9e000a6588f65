//! Model-based test of the queries: random actors, events and claims appended to a store, random
//! queries paged through it, and every answer compared with a plain filter over the whole list.
//!
//! The model restates the query rules directly (it does not call the domain's predicates), so
//! a mistake in either the rules or the index walk shows up as a difference.

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::domain::query::claim_span;
use crate::domain::same_as::{class_of, ActorClass};
use crate::domain::Checked;
use crate::domain::{
    ActorId, ActorKind, Certainty, Claim, ClaimQuery, DateKey, DateMatch, DateRange, Direction,
    Edtf, Event, EventQuery, Location, Participant, QueryOrder, RelationGraph, RelationKey,
    RelationQuery, Role, Snapshot, SymmetricRelations, Vocabulary,
};

const ACTORS: u8 = 5;
const RELATIONS: [&str; 4] = ["clashes_with", "backs", "attacks", "trains"];
const DATES: [&str; 13] = [
    "2021",
    "2022",
    "2022-09",
    "2022-09-24",
    "2022-21",
    "2021/2023",
    "2022/..",
    "../2021",
    "2022-03~",
    "2023-01-15",
    "2019?",
    "2022-12-31",
    "2015/2030",
];
const CERTAINTIES: [Certainty; 5] = [
    Certainty::Confirmed,
    Certainty::Reported,
    Certainty::Alleged,
    Certainty::Speculated,
    Certainty::Disputed,
];
const ROLES: [Role; 4] = [
    Role::Initiator,
    Role::Target,
    Role::Participant,
    Role::Supporter,
];
const COUNTRIES: [&str; 2] = ["SYR", "IRQ"];

fn actor_id(n: u8) -> ActorId {
    EntryId::parse(&format!("a{n}")).expect("valid")
}

/// The class a query names actor `n` by: odd actors are the same as the next one, so queries
/// also walk the lists of two actors and merge them (an entry of both is in both lists).
fn class(n: u8) -> ActorClass {
    let partner = |a: &ActorId| -> Result<Vec<ActorId>, std::convert::Infallible> {
        Ok(if *a == actor_id(n) && n % 2 == 1 {
            vec![actor_id((n + 1) % ACTORS)]
        } else {
            vec![]
        })
    };
    match class_of(actor_id(n), partner) {
        Ok(class) => class,
        Err(never) => match never {},
    }
}

fn relation(n: usize) -> RelationKey {
    Vocabulary::builtin()
        .relation(RELATIONS[n % RELATIONS.len()])
        .expect("known")
}

fn date(n: usize) -> Edtf {
    Edtf::parse(DATES[n % DATES.len()]).expect("valid")
}

/// An event or claim, with references as indexes into what exists when it is appended.
#[derive(Debug, Clone)]
enum Spec {
    Event {
        relation: usize,
        participants: Vec<(u8, usize)>,
        date: usize,
        certainty: usize,
        country: Option<usize>,
        supersedes: Option<usize>,
    },
    Claim {
        subject: Option<u8>,
        relation: Option<usize>,
        object: Option<u8>,
        claimant: Option<u8>,
        valid: Option<usize>,
        certainty: usize,
        negated: bool,
        event: Option<usize>,
        supersedes: Option<usize>,
    },
}

fn spec() -> impl Strategy<Value = Spec> {
    let event = (
        0..RELATIONS.len(),
        prop::collection::vec((0..ACTORS, 0..ROLES.len()), 1..4),
        0..DATES.len(),
        0..CERTAINTIES.len(),
        prop::option::of(0..COUNTRIES.len()),
        prop::option::weighted(0.2, any::<usize>()),
    )
        .prop_map(
            |(relation, participants, date, certainty, country, supersedes)| Spec::Event {
                relation,
                participants,
                date,
                certainty,
                country,
                supersedes,
            },
        );
    let claim = (
        prop::option::weighted(0.9, 0..ACTORS),
        prop::option::weighted(0.9, 0..RELATIONS.len()),
        prop::option::of(0..ACTORS),
        prop::option::of(0..ACTORS),
        prop::option::of(0..DATES.len()),
        0..CERTAINTIES.len(),
        any::<bool>(),
        prop::option::weighted(0.2, any::<usize>()),
        prop::option::weighted(0.2, any::<usize>()),
    )
        .prop_map(
            |(
                subject,
                relation,
                object,
                claimant,
                valid,
                certainty,
                negated,
                event,
                supersedes,
            )| {
                Spec::Claim {
                    subject,
                    relation,
                    object,
                    claimant,
                    valid,
                    certainty,
                    negated,
                    event,
                    supersedes,
                }
            },
        );
    prop_oneof![event, claim]
}

/// Builds the entry of `spec` given the ids of the events and claims already made.
fn build(n: usize, spec: &Spec, events: &[EntryId], claims: &[EntryId]) -> EntryBody {
    let pick = |ids: &[EntryId], k: Option<usize>| match k {
        Some(k) if !ids.is_empty() => Some(ids[k % ids.len()].clone()),
        _ => None,
    };
    match spec {
        Spec::Event {
            relation: r,
            participants,
            date: d,
            certainty,
            country,
            supersedes,
        } => EntryBody::Event(Checked::from_log(Event {
            id: EntryId::parse(&format!("e{n}")).expect("valid"),
            relation: relation(*r),
            participants: participants
                .iter()
                .map(|(a, role)| Participant {
                    actor_id: actor_id(*a),
                    role: ROLES[*role],
                })
                .collect(),
            date: date(*d),
            location: country.map(|c| Location {
                country: Some(CountryCode::parse(COUNTRIES[c]).expect("valid")),
                ..Location::default()
            }),
            summary: String::new(),
            sources: vec![],
            certainty: CERTAINTIES[*certainty],
            attributes: Default::default(),
            supersedes: pick(events, *supersedes).into_iter().collect(),
        })),
        Spec::Claim {
            subject,
            relation: r,
            object,
            claimant,
            valid,
            certainty,
            negated,
            event,
            supersedes,
        } => {
            let event_id = pick(events, *event);
            // A claim says something: a relation of a subject, or something about an event.
            let (subject, r) = if event_id.is_none() {
                (subject.or(Some(0)), r.or(Some(0)))
            } else {
                (*subject, *r)
            };
            EntryBody::Claim(Checked::from_log(Claim {
                id: EntryId::parse(&format!("c{n}")).expect("valid"),
                subject: subject.map(actor_id),
                relation: r.map(relation),
                object: object.map(actor_id),
                event_id,
                valid: valid.map(date),
                claimant: claimant.map(actor_id),
                sources: vec![],
                certainty: CERTAINTIES[*certainty],
                negated: *negated,
                statement: String::new(),
                supersedes: pick(claims, *supersedes).into_iter().collect(),
            }))
        }
    }
}

/// A random query over the generated vocabulary of actors, relations and dates.
#[derive(Debug, Clone)]
struct QuerySpec {
    actors: [Option<u8>; 4],
    role: Option<usize>,
    relations: Vec<usize>,
    from: Option<usize>,
    to: Option<usize>,
    within: bool,
    country: Option<usize>,
    min_certainty: Option<usize>,
    max_certainty: Option<usize>,
    negated: Option<bool>,
    event: Option<usize>,
    as_of_percent: u8,
    include_superseded: bool,
    order: usize,
    page: usize,
}

fn query_spec() -> impl Strategy<Value = QuerySpec> {
    (
        (
            prop::array::uniform4(prop::option::weighted(0.3, 0..ACTORS)),
            prop::option::weighted(0.3, 0..ROLES.len()),
            prop::collection::vec(0..RELATIONS.len(), 0..3),
            prop::option::of(0..DATES.len()),
            prop::option::of(0..DATES.len()),
            any::<bool>(),
            prop::option::weighted(0.2, 0..COUNTRIES.len()),
        ),
        (
            prop::option::weighted(0.3, 0..CERTAINTIES.len()),
            prop::option::weighted(0.3, 0..CERTAINTIES.len()),
            prop::option::weighted(0.3, any::<bool>()),
            prop::option::weighted(0.1, any::<usize>()),
            0_u8..=100,
            any::<bool>(),
            0_usize..3,
            1_usize..7,
        ),
    )
        .prop_map(
            |(
                (actors, role, relations, from, to, within, country),
                (min_certainty, max_certainty, negated, event, as_of, include, order, page),
            )| QuerySpec {
                actors,
                role,
                relations,
                from,
                to,
                within,
                country,
                min_certainty,
                max_certainty,
                negated,
                event,
                as_of_percent: as_of,
                include_superseded: include,
                order,
                page,
            },
        )
}

impl QuerySpec {
    fn dates(&self) -> DateRange {
        let mode = if self.within {
            DateMatch::Within
        } else {
            DateMatch::Overlaps
        };
        let from = self.from.map(date);
        let to = self.to.map(date);
        DateRange::between(from.as_ref(), to.as_ref(), mode).unwrap_or(DateRange {
            mode,
            ..DateRange::ANY
        })
    }

    fn relations(&self) -> Vec<RelationKey> {
        let mut keys: Vec<RelationKey> = self.relations.iter().map(|r| relation(*r)).collect();
        keys.sort();
        keys.dedup();
        keys
    }

    fn order(&self) -> QueryOrder {
        [
            QueryOrder::DateAscending,
            QueryOrder::DateDescending,
            QueryOrder::Position,
        ][self.order]
    }

    fn events(&self, symmetric: &SymmetricRelations) -> EventQuery {
        EventQuery {
            actor: self.actors[0].map(class),
            role: self.actors[0].and(self.role.map(|r| ROLES[r])),
            counterpart: self.actors[1].map(class),
            relations: self.relations(),
            dates: self.dates(),
            country: self
                .country
                .map(|c| CountryCode::parse(COUNTRIES[c]).expect("valid")),
            min_certainty: self.min_certainty.map(|c| CERTAINTIES[c]),
            symmetric: Arc::clone(symmetric),
        }
    }

    fn claims(&self, symmetric: &SymmetricRelations, events: &[EntryId]) -> ClaimQuery {
        ClaimQuery {
            subject: self.actors[0].map(class),
            object: self.actors[1].map(class),
            claimant: self.actors[2].map(class),
            actor: self.actors[3].map(class),
            relations: self.relations(),
            event_id: match self.event {
                Some(k) if !events.is_empty() => Some(events[k % events.len()].clone()),
                _ => None,
            },
            dates: self.dates(),
            min_certainty: self.min_certainty.map(|c| CERTAINTIES[c]),
            max_certainty: self.max_certainty.map(|c| CERTAINTIES[c]),
            negated: self.negated,
            symmetric: Arc::clone(symmetric),
        }
    }
}

/// The query rules, restated over one entry.
fn model_event(q: &EventQuery, e: &Event) -> bool {
    let symmetric = q.symmetric.contains(&e.relation);
    let directed = |r: Role| r == Role::Initiator || r == Role::Target;
    let has = |a: &ActorClass, role: Option<Role>| {
        e.participants.iter().any(|p| {
            a.contains(&p.actor_id)
                && match role {
                    None => true,
                    Some(r) => p.role == r || (symmetric && directed(r) && directed(p.role)),
                }
        })
    };
    let span = e.date.span();
    let dates_ok = match q.dates.mode {
        DateMatch::Overlaps => span.latest >= q.dates.from && span.earliest <= q.dates.to,
        DateMatch::Within => span.earliest >= q.dates.from && span.latest <= q.dates.to,
    };
    q.actor.as_ref().is_none_or(|a| has(a, q.role))
        && q.counterpart.as_ref().is_none_or(|c| has(c, None))
        && (q.relations.is_empty() || q.relations.contains(&e.relation))
        && dates_ok
        && q.country
            .as_ref()
            .is_none_or(|c| e.location.as_ref().and_then(|l| l.country.as_ref()) == Some(c))
        && q.min_certainty.is_none_or(|m| e.certainty <= m)
}

fn model_claim(q: &ClaimQuery, c: &Claim) -> bool {
    let symmetric = c.relation.as_ref().is_some_and(|r| q.symmetric.contains(r));
    let is = |class: &Option<ActorClass>, actor: &Option<ActorId>| match class {
        None => true,
        Some(class) => actor.as_ref().is_some_and(|a| class.contains(a)),
    };
    let fits = |s: &Option<ActorId>, o: &Option<ActorId>| is(&q.subject, s) && is(&q.object, o);
    let span = claim_span(c);
    let dates_ok = match q.dates.mode {
        DateMatch::Overlaps => span.latest >= q.dates.from && span.earliest <= q.dates.to,
        DateMatch::Within => span.earliest >= q.dates.from && span.latest <= q.dates.to,
    };
    (fits(&c.subject, &c.object) || (symmetric && fits(&c.object, &c.subject)))
        && is(&q.claimant, &c.claimant)
        && q.actor.as_ref().is_none_or(|a| {
            [&c.subject, &c.object, &c.claimant]
                .into_iter()
                .flatten()
                .any(|x| a.contains(x))
        })
        && (q.relations.is_empty() || c.relation.as_ref().is_some_and(|r| q.relations.contains(r)))
        && (q.event_id.is_none() || q.event_id == c.event_id)
        && dates_ok
        && q.min_certainty.is_none_or(|m| c.certainty <= m)
        && q.max_certainty.is_none_or(|m| c.certainty >= m)
        && q.negated.is_none_or(|n| c.negated == n)
}

/// Positions of the entries the model answers with, in the query's order.
fn model_answer(
    log: &[EntryBody],
    snapshot: Snapshot,
    order: QueryOrder,
    matches: impl Fn(&EntryBody) -> bool,
) -> Vec<u64> {
    let as_of = snapshot.as_of.0 as usize;
    let visible = &log[..as_of.min(log.len())];
    let superseded = |id: &EntryId| {
        visible.iter().any(|b| match b {
            EntryBody::Event(e) => e.supersedes.contains(id),
            EntryBody::Claim(c) => c.supersedes.contains(id),
            EntryBody::Actor(_) => false,
        })
    };
    let mut found: Vec<DateKey> = visible
        .iter()
        .enumerate()
        .filter(|(_, b)| matches(b))
        .filter(|(_, b)| snapshot.include_superseded || !superseded(b.id()))
        .map(|(i, b)| DateKey {
            earliest: crate::domain::query::entry_span(b)
                .expect("events and claims")
                .earliest,
            position: Position(i as u64 + 1),
        })
        .collect();
    match order {
        QueryOrder::DateAscending => found.sort(),
        QueryOrder::DateDescending => found.sort_by(|a, b| b.cmp(a)),
        QueryOrder::Position => found.sort_by_key(|k| k.position),
    }
    found.iter().map(|k| k.position.0).collect()
}

/// Pages through a query until the store says it is complete; returns the positions.
fn paged(
    limit: usize,
    mut page: impl FnMut(Option<DateKey>) -> QueryPage,
) -> Result<Vec<u64>, TestCaseError> {
    let mut positions = Vec::new();
    let mut after = None;
    for _ in 0..1_000 {
        let result = page(after);
        prop_assert!(result.entries.len() <= limit, "page over its size");
        positions.extend(result.entries.iter().map(|e| e.position.0));
        match result.resume {
            None => return Ok(positions),
            Some(resume) => after = Some(resume),
        }
    }
    Err(TestCaseError::fail("paging did not end"))
}

fn config(dir: &std::path::Path) -> StoreConfig {
    StoreConfig {
        path: dir.to_path_buf(),
        cache_capacity_bytes: 8 * 1024 * 1024,
        symmetric: Arc::new(crate::domain::Vocabulary::builtin().symmetric_keys()),
        min_free_disk_bytes: 0,
        cluster_stream: None,
    }
}

/// Opens the store and waits until its indexes cover the log, as a query through the service
/// would.
fn open(dir: &std::path::Path) -> Store {
    let store = Store::open(&config(dir)).expect("store opens");
    assert!(store.wait_indexed_blocking(store.head(), std::time::Duration::from_secs(30)));
    store
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn queries_answer_as_a_plain_filter_over_the_log(
        specs in prop::collection::vec(spec(), 1..60),
        batch_sizes in prop::collection::vec(1_usize..8, 1..20),
        queries in prop::collection::vec(query_spec(), 1..16),
        rebuild in prop::option::of(any::<bool>()),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = open(dir.path());
        let mut log: Vec<EntryBody> = (0..ACTORS)
            .map(|n| EntryBody::Actor(Checked::from_log(Actor {
                id: actor_id(n),
                name: format!("Actor {n}"),
                aliases: vec![],
                kind: ActorKind::ArmedGroup,
                country: None,
                affiliations: vec![],
                same_as: Vec::new(),
                description: String::new(),
            })))
            .collect();
        runtime.block_on(store.append(log.clone(), None)).expect("actors append");
        let (mut events, mut claims) = (Vec::new(), Vec::new());
        let mut specs = specs.iter().enumerate().peekable();
        for size in batch_sizes.iter().cycle() {
            if specs.peek().is_none() {
                break;
            }
            let mut batch = Vec::new();
            for (n, spec) in specs.by_ref().take(*size) {
                let body = build(n, spec, &events, &claims);
                match &body {
                    EntryBody::Event(e) => events.push(e.id.clone()),
                    EntryBody::Claim(c) => claims.push(c.id.clone()),
                    EntryBody::Actor(_) => {}
                }
                batch.push(body);
            }
            log.extend(batch.iter().cloned());
            runtime.block_on(store.append(batch, None)).expect("batch appends");
        }
        if let Some(drop_all) = rebuild {
            // An index that is missing, or behind the log, is rebuilt when the store opens.
            let behind = if drop_all { None } else { Some(Position(log.len() as u64 / 2)) };
            drop(store);
            indexer::rebuild_only_through(&config(dir.path()), behind).expect("reset index");
            store = open(dir.path());
        }
        let symmetric: SymmetricRelations = Arc::new(Vocabulary::builtin().symmetric_keys());
        let head = store.head();
        prop_assert!(store.wait_indexed_blocking(head, std::time::Duration::from_secs(30)));
        prop_assert_eq!(head.0, log.len() as u64);
        for q in &queries {
            let snapshot = Snapshot {
                as_of: Position(head.0 * u64::from(q.as_of_percent) / 100),
                include_superseded: q.include_superseded,
            };
            let order = q.order();
            let event_query = q.events(&symmetric);
            let want = model_answer(&log, snapshot, order, |b| {
                matches!(b, EntryBody::Event(e) if model_event(&event_query, e))
            });
            let got = paged(q.page, |after| {
                store.query_events(&event_query, snapshot, order, after, q.page).expect("query")
            })?;
            prop_assert_eq!(want, got, "events {:?}", event_query);

            let claim_query = q.claims(&symmetric, &events);
            let want = model_answer(&log, snapshot, order, |b| {
                matches!(b, EntryBody::Claim(c) if model_claim(&claim_query, c))
            });
            let got = paged(q.page, |after| {
                store.query_claims(&claim_query, snapshot, order, after, q.page).expect("query")
            })?;
            prop_assert_eq!(want, got, "claims {:?}", claim_query);

            if let Some(actor) = q.actors[0] {
                let relation_query = RelationQuery {
                    actor: actor_id(actor),
                    counterpart: q.actors[1].map(class),
                    relations: q.relations(),
                    dates: DateRange { mode: DateMatch::Overlaps, ..q.dates() },
                    direction: [Direction::Outgoing, Direction::Incoming, Direction::Both][q.order],
                    min_certainty: q.min_certainty.map(|c| CERTAINTIES[c]),
                    symmetric: Arc::clone(&symmetric),
                };
                // The model: every visible, unsuperseded entry offered to the graph, in date order.
                let everything = Snapshot { as_of: snapshot.as_of, include_superseded: false };
                let order_of_evidence = model_answer(&log, everything, QueryOrder::DateAscending, |b| {
                    !matches!(b, EntryBody::Actor(_))
                });
                let mut graph = RelationGraph::new(&relation_query);
                for position in order_of_evidence {
                    graph.add(Position(position), &log[position as usize - 1]);
                }
                let got = store.relations(&relation_query, snapshot.as_of).expect("relations");
                prop_assert!(!got.truncated);
                prop_assert_eq!(graph.into_edges(), got.edges, "relations {:?}", relation_query);
            }
        }
    }
}

#[test]
fn an_unknown_actor_or_empty_store_answers_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let query = EventQuery {
        actor: Some(actor_id(9).into()),
        symmetric: Arc::new(BTreeSet::new()),
        ..EventQuery::default()
    };
    let snapshot = Snapshot {
        as_of: store.head(),
        include_superseded: false,
    };
    let page = store
        .query_events(&query, snapshot, QueryOrder::DateAscending, None, 10)
        .expect("query");
    assert!(page.entries.is_empty());
    assert!(page.resume.is_none());
}

#[test]
fn a_page_stops_at_its_scan_budget_and_resumes_where_it_stopped() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let actor = EntryBody::Actor(Checked::from_log(Actor {
        id: actor_id(0),
        name: "Actor 0".into(),
        aliases: vec![],
        kind: ActorKind::ArmedGroup,
        country: None,
        affiliations: vec![],
        same_as: Vec::new(),
        description: String::new(),
    }));
    runtime
        .block_on(store.append(vec![actor], None))
        .expect("actor appends");
    // Many disputed events, then one confirmed: a query for confirmed events examines every one.
    let total = SCAN_BUDGET + 500;
    for chunk in 0..total.div_ceil(1_000) {
        let batch = (chunk * 1_000..((chunk + 1) * 1_000).min(total))
            .map(|n| {
                let certainty = if n + 1 == total { 0 } else { 4 };
                let spec = Spec::Event {
                    relation: 2,
                    participants: vec![(0, 0)],
                    date: 3,
                    certainty,
                    country: None,
                    supersedes: None,
                };
                build(n, &spec, &[], &[])
            })
            .collect();
        runtime
            .block_on(store.append(batch, None))
            .expect("batch appends");
    }
    assert!(store.wait_indexed_blocking(store.head(), std::time::Duration::from_secs(30)));
    let query = EventQuery {
        actor: Some(actor_id(0).into()),
        min_certainty: Some(Certainty::Confirmed),
        symmetric: Arc::new(BTreeSet::new()),
        ..EventQuery::default()
    };
    let snapshot = Snapshot {
        as_of: store.head(),
        include_superseded: false,
    };
    let first = store
        .query_events(&query, snapshot, QueryOrder::DateAscending, None, 50)
        .expect("first page");
    assert!(first.entries.is_empty(), "the budget ends the first page");
    let resume = first.resume.expect("a token to continue");
    let second = store
        .query_events(
            &query,
            snapshot,
            QueryOrder::DateAscending,
            Some(resume),
            50,
        )
        .expect("second page");
    assert_eq!(second.entries.len(), 1);
    assert_eq!(second.entries[0].position, store.head());
    assert!(second.resume.is_none());
}
