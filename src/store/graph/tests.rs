//! The graph against its model: random batches of events and claims indexed into a
//! `BTreeMap`, random `ListRelations` queries (every filter, old `as_of` included), and every
//! answer compared with the domain's `RelationGraph` fed the entries visible at `as_of`.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use proptest::prelude::*;

use super::keys::CERTAINTIES;
use super::query::{list_relations_within, Budgets};
use super::*;
use crate::domain::Checked;
use crate::domain::{
    ActorId, Certainty, Claim, DateMatch, DateRange, Direction, Edtf, Event, Participant,
    RelationGraph, RelationKey, RelationQuery, Role, SymmetricRelations, Vocabulary,
};
use crate::store::RelationAnswer;

/// A graph keyspace in memory that counts what it is asked.
#[derive(Default)]
struct MemStore {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Keys read: one per `get`, one per item a scan yields.
    reads: Cell<usize>,
    /// Seeks: one per `get` or scan started (in an LSM, a look into every table).
    seeks: Cell<usize>,
    /// What the indexer would know of the stored id lists, kept as the indexer keeps it.
    full: FullLists,
}

impl MemStore {
    fn apply(&mut self, writes: &GraphWrites) {
        for (key, value) in writes.iter() {
            match value {
                Some(value) => self.map.insert(key.to_vec(), value.to_vec()),
                None => self.map.remove(key),
            };
        }
    }
}

impl GraphStore for MemStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.reads.set(self.reads.get() + 1);
        self.seeks.set(self.seeks.get() + 1);
        Ok(self.map.get(key).cloned())
    }

    fn scan(&self, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> KeyValues<'_> {
        self.seeks.set(self.seeks.get() + 1);
        Box::new(self.map.range((lower, upper)).map(|(k, v)| {
            self.reads.set(self.reads.get() + 1);
            Ok((k.clone(), v.clone()))
        }))
    }
}

/// The log: entry `n` is at position `n + 1`.
#[derive(Default)]
struct MemLog {
    entries: Vec<EntryBody>,
    ids: HashMap<EntryId, Position>,
}

impl MemLog {
    fn push(&mut self, body: EntryBody) -> Position {
        self.entries.push(body);
        let position = Position(self.entries.len() as u64);
        self.ids
            .insert(self.entries[self.entries.len() - 1].id().clone(), position);
        position
    }

    fn head(&self) -> Position {
        Position(self.entries.len() as u64)
    }
}

impl GraphLog for MemLog {
    fn entry_by_id(&self, id: &EntryId) -> Result<Option<(Position, EntryBody)>, StoreError> {
        Ok(self
            .ids
            .get(id)
            .map(|p| (*p, self.entries[p.0 as usize - 1].clone())))
    }

    fn entries_between(
        &self,
        after: Position,
        through: Position,
    ) -> Box<dyn Iterator<Item = Result<(Position, EntryBody), StoreError>> + '_> {
        let (from, to) = (
            after.0 as usize,
            (through.0 as usize).min(self.entries.len()),
        );
        Box::new(
            self.entries[from.min(to)..to]
                .iter()
                .enumerate()
                .map(move |(i, body)| Ok((Position((from + i + 1) as u64), body.clone()))),
        )
    }
}

/// Indexes `batch` as the indexer would: appended to the log, then its graph writes applied.
fn index(store: &mut MemStore, log: &mut MemLog, batch: Vec<EntryBody>, symmetric: &Symmetric) {
    let positions: Vec<Position> = batch.into_iter().map(|b| log.push(b)).collect();
    let entries: Vec<(Position, &EntryBody)> = positions
        .iter()
        .map(|p| (*p, &log.entries[p.0 as usize - 1]))
        .collect();
    let writes =
        graph_writes(&*store, &*log, &entries, symmetric, &store.full).expect("graph writes");
    store.apply(&writes);
    writes.applied(&mut store.full);
}

type Symmetric = BTreeSet<RelationKey>;

/// The model: `RelationGraph` fed every entry visible at `as_of`.
fn model(log: &MemLog, query: &RelationQuery, as_of: Position) -> Vec<RelationEdge> {
    let visible = &log.entries[..(as_of.0 as usize).min(log.entries.len())];
    let hidden: BTreeSet<&EntryId> = visible
        .iter()
        .flat_map(|b| super::row::superseded_by(b).iter())
        .collect();
    let mut graph = RelationGraph::new(query);
    for (i, body) in visible.iter().enumerate() {
        if !hidden.contains(body.id()) {
            graph.add(Position(i as u64 + 1), body);
        }
    }
    graph.into_edges()
}

use crate::domain::relations::RelationEdge;

const ACTORS: u8 = 6;
const RELATIONS: [&str; 5] = ["clashes_with", "backs", "attacks", "meets_with", "trains"];
const DATES: [&str; 16] = [
    "2021",
    "2022",
    "2022-09",
    "2022-09-24",
    "2022-09-30",
    "2022-10-01",
    "2022-21",
    "2021/2023",
    "2022/..",
    "../2021",
    "2022-03~",
    "2023-01-15",
    "2019?",
    "2022-12-31",
    "2015/2030",
    "2022-09-15/2022-10-15",
];
const ROLES: [Role; 4] = [
    Role::Initiator,
    Role::Target,
    Role::Participant,
    Role::Supporter,
];

fn actor(n: u8) -> ActorId {
    EntryId::parse(&format!("a{n}")).expect("valid")
}

fn relation(n: usize) -> RelationKey {
    Vocabulary::builtin()
        .relation(RELATIONS[n % RELATIONS.len()])
        .expect("known")
}

fn date(n: usize) -> Edtf {
    Edtf::parse(DATES[n % DATES.len()]).expect("valid")
}

/// An event or claim; `supersedes` picks among the entries made so far, counted back from the
/// newest so that chains (superseding what superseded) are common.
#[derive(Debug, Clone)]
enum Spec {
    Event {
        relation: usize,
        participants: Vec<(u8, usize)>,
        date: usize,
        certainty: usize,
        supersedes: Vec<usize>,
    },
    Claim {
        subject: u8,
        relation: Option<usize>,
        object: Option<u8>,
        valid: Option<usize>,
        certainty: usize,
        negated: bool,
        supersedes: Vec<usize>,
    },
}

fn spec() -> impl Strategy<Value = Spec> {
    let supersedes = prop::collection::vec(0_usize..4, 0..3).prop_map(|mut v| {
        // Most entries supersede nothing.
        v.retain(|n| *n < 2);
        v
    });
    let event = (
        0..RELATIONS.len(),
        prop::collection::vec((0..ACTORS, 0..ROLES.len()), 1..5),
        0..DATES.len(),
        0..CERTAINTIES.len(),
        supersedes.clone(),
    )
        .prop_map(
            |(relation, participants, date, certainty, supersedes)| Spec::Event {
                relation,
                participants,
                date,
                certainty,
                supersedes,
            },
        );
    let claim = (
        0..ACTORS,
        prop::option::weighted(0.9, 0..RELATIONS.len()),
        prop::option::weighted(0.9, 0..ACTORS),
        prop::option::of(0..DATES.len()),
        0..CERTAINTIES.len(),
        any::<bool>(),
        supersedes,
    )
        .prop_map(
            |(subject, relation, object, valid, certainty, negated, supersedes)| Spec::Claim {
                subject,
                relation,
                object,
                valid,
                certainty,
                negated,
                supersedes,
            },
        );
    prop_oneof![event, claim]
}

fn build(n: usize, spec: &Spec, made: &[EntryId]) -> EntryBody {
    let pick = |back: &[usize]| -> Vec<EntryId> {
        back.iter()
            .filter_map(|b| made.len().checked_sub(b + 1).map(|i| made[i].clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    match spec {
        Spec::Event {
            relation: r,
            participants,
            date: d,
            certainty,
            supersedes,
        } => EntryBody::Event(Checked::from_log(Event {
            id: EntryId::parse(&format!("e{n}")).expect("valid"),
            relation: relation(*r),
            participants: participants
                .iter()
                .map(|(a, role)| Participant {
                    actor_id: actor(*a),
                    role: ROLES[*role],
                })
                .collect(),
            date: date(*d),
            location: None,
            summary: String::new(),
            sources: vec![],
            certainty: CERTAINTIES[*certainty],
            attributes: Default::default(),
            supersedes: pick(supersedes),
        })),
        Spec::Claim {
            subject,
            relation: r,
            object,
            valid,
            certainty,
            negated,
            supersedes,
        } => EntryBody::Claim(Checked::from_log(Claim {
            id: EntryId::parse(&format!("c{n}")).expect("valid"),
            subject: Some(actor(*subject)),
            relation: r.map(relation),
            object: object.map(actor),
            event_id: None,
            valid: valid.map(date),
            claimant: None,
            sources: vec![],
            certainty: CERTAINTIES[*certainty],
            negated: *negated,
            statement: String::new(),
            supersedes: pick(supersedes),
        })),
    }
}

#[derive(Debug, Clone)]
struct QuerySpec {
    actor: u8,
    counterpart: Option<u8>,
    relations: Vec<usize>,
    from: Option<usize>,
    to: Option<usize>,
    within: bool,
    direction: usize,
    min_certainty: Option<usize>,
    as_of_percent: u8,
    suffix_budget: u64,
}

fn query_spec() -> impl Strategy<Value = QuerySpec> {
    (
        0..ACTORS,
        prop::option::weighted(0.3, 0..ACTORS),
        prop::collection::vec(0..RELATIONS.len(), 0..3),
        prop::option::of(0..DATES.len()),
        prop::option::of(0..DATES.len()),
        any::<bool>(),
        0_usize..3,
        prop::option::weighted(0.4, 0..CERTAINTIES.len()),
        prop_oneof![Just(100_u8), 0_u8..=100],
        prop_oneof![Just(u64::MAX), 0_u64..8],
    )
        .prop_map(
            |(
                actor,
                counterpart,
                relations,
                from,
                to,
                within,
                direction,
                min_certainty,
                as_of_percent,
                suffix_budget,
            )| QuerySpec {
                actor,
                counterpart,
                relations,
                from,
                to,
                within,
                direction,
                min_certainty,
                as_of_percent,
                suffix_budget,
            },
        )
}

impl QuerySpec {
    fn query(&self, symmetric: &SymmetricRelations) -> RelationQuery {
        let mode = if self.within {
            DateMatch::Within
        } else {
            DateMatch::Overlaps
        };
        let (from, to) = (self.from.map(date), self.to.map(date));
        RelationQuery {
            actor: actor(self.actor),
            counterpart: self.counterpart.map(|c| actor(c).into()),
            relations: self.relations.iter().map(|r| relation(*r)).collect(),
            dates: DateRange::between(from.as_ref(), to.as_ref(), mode).unwrap_or(DateRange {
                mode,
                ..DateRange::ANY
            }),
            direction: [Direction::Outgoing, Direction::Incoming, Direction::Both][self.direction],
            min_certainty: self.min_certainty.map(|c| CERTAINTIES[c]),
            symmetric: Arc::clone(symmetric),
        }
    }
}

fn symmetric() -> SymmetricRelations {
    Arc::new(Vocabulary::builtin().symmetric_keys())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn answers_equal_the_relation_graph_over_the_visible_entries(
        specs in prop::collection::vec(spec(), 1..80),
        batch_sizes in prop::collection::vec(1_usize..12, 1..12),
        queries in prop::collection::vec(query_spec(), 1..6),
    ) {
        let symmetric = symmetric();
        let (mut store, mut log) = (MemStore::default(), MemLog::default());
        let mut made = Vec::new();
        let mut specs = specs.iter().enumerate().peekable();
        for size in batch_sizes.iter().cycle() {
            if specs.peek().is_none() {
                break;
            }
            let batch: Vec<EntryBody> = specs
                .by_ref()
                .take(*size)
                .map(|(n, spec)| {
                    let body = build(n, spec, &made);
                    made.push(body.id().clone());
                    body
                })
                .collect();
            index(&mut store, &mut log, batch, &symmetric);
            let head = log.head();
            for q in &queries {
                let query = q.query(&symmetric);
                let as_of = Position(head.0 * u64::from(q.as_of_percent) / 100);
                let budgets = Budgets { suffix: q.suffix_budget, walk: usize::MAX };
                let got = list_relations_within(&store, &log, &query, head, as_of, budgets)
                    .expect("answer");
                prop_assert!(!got.truncated);
                prop_assert_eq!(got.edges, model(&log, &query, as_of), "{:?} as of {:?}", query, as_of);
            }
        }
        // Rebuilt from the log in one batch, the graph is the same keyspace.
        prop_assert!(rebuilt(&log, &symmetric).map == store.map, "incremental and rebuilt graphs differ");
    }
}

fn event(
    n: usize,
    relation: &str,
    from: u8,
    to: u8,
    when: &str,
    certainty: Certainty,
) -> EntryBody {
    EntryBody::Event(Checked::from_log(Event {
        id: EntryId::parse(&format!("e{n}")).expect("valid"),
        relation: Vocabulary::builtin().relation(relation).expect("known"),
        participants: vec![
            Participant {
                actor_id: actor(from),
                role: Role::Initiator,
            },
            Participant {
                actor_id: actor(to),
                role: Role::Target,
            },
        ],
        date: Edtf::parse(when).expect("valid"),
        location: None,
        summary: String::new(),
        sources: vec![],
        certainty,
        attributes: Default::default(),
        supersedes: vec![],
    }))
}

/// An event of actor 1 attacking actor 2, reported, that supersedes the events numbered `hidden`.
fn correction(n: usize, when: &str, hidden: &[usize]) -> EntryBody {
    let mut correction = event(n, "attacks", 1, 2, when, Certainty::Reported);
    if let EntryBody::Event(e) = &mut correction {
        let mut edited = Event::clone(e);
        edited.supersedes = hidden
            .iter()
            .map(|h| EntryId::parse(&format!("e{h}")).expect("valid"))
            .collect();
        *e = Checked::from_log(edited);
    }
    correction
}

/// The graph of the whole log built in one batch, as a rebuild makes it.
fn rebuilt(log: &MemLog, symmetric: &Symmetric) -> MemStore {
    let mut rebuilt = MemStore::default();
    let all: Vec<(Position, &EntryBody)> = log
        .entries
        .iter()
        .enumerate()
        .map(|(i, b)| (Position(i as u64 + 1), b))
        .collect();
    let writes = graph_writes(&rebuilt, log, &all, symmetric, &FullLists::default());
    rebuilt.apply(&writes.expect("rebuild"));
    rebuilt
}

fn everything(actor_n: u8) -> RelationQuery {
    RelationQuery {
        actor: actor(actor_n),
        counterpart: None,
        relations: vec![],
        dates: DateRange::ANY,
        direction: Direction::Both,
        min_certainty: None,
        symmetric: symmetric(),
    }
}

fn range(from: &str, to: &str, mode: DateMatch) -> DateRange {
    let (from, to) = (
        Edtf::parse(from).expect("valid"),
        Edtf::parse(to).expect("valid"),
    );
    DateRange::between(Some(&from), Some(&to), mode).expect("ordered")
}

#[test]
fn evidence_at_the_ends_of_months_is_cut_exactly() {
    let symmetric = symmetric();
    let (mut store, mut log) = (MemStore::default(), MemLog::default());
    let dates = [
        "2022-08-31",
        "2022-09-01",
        "2022-09-30",
        "2022-10-01",
        "2022-08-31/2022-09-01",
        "2022-09-30/2022-10-01",
        "2022",
        "2022-09/..",
        "../2022-09",
    ];
    let batch = dates
        .iter()
        .enumerate()
        .map(|(n, d)| event(n, "backs", 0, 1, d, Certainty::Reported))
        .collect();
    index(&mut store, &mut log, batch, &symmetric);
    for mode in [DateMatch::Overlaps, DateMatch::Within] {
        for (from, to) in [
            ("2022-09", "2022-09"),
            ("2022-09-01", "2022-09-30"),
            ("2022-08-31", "2022-10-01"),
            ("2022-09-02", "2022-09-29"),
            ("2022", "2022"),
            ("2021", "2023"),
        ] {
            let query = RelationQuery {
                dates: range(from, to, mode),
                ..everything(0)
            };
            let got = list_relations(&store, &log, &query, log.head(), log.head()).expect("answer");
            assert_eq!(
                got.edges,
                model(&log, &query, log.head()),
                "{from}..{to} {mode:?}"
            );
        }
    }
}

#[test]
fn hiding_the_evidence_on_a_span_edge_narrows_the_span() {
    let symmetric = symmetric();
    let (mut store, mut log) = (MemStore::default(), MemLog::default());
    let batch = vec![
        event(0, "backs", 0, 1, "2012-01-05", Certainty::Confirmed),
        event(1, "backs", 0, 1, "2012-01-20", Certainty::Confirmed),
        event(2, "backs", 0, 1, "2018-06-01", Certainty::Confirmed),
    ];
    index(&mut store, &mut log, batch, &symmetric);
    let mut correction = event(3, "backs", 0, 1, "2012-01-10", Certainty::Confirmed);
    if let EntryBody::Event(e) = &mut correction {
        let mut edited = Event::clone(e);
        edited.supersedes = vec![
            EntryId::parse("e0").expect("valid"),
            EntryId::parse("e2").expect("valid"),
        ];
        *e = Checked::from_log(edited);
    }
    index(&mut store, &mut log, vec![correction], &symmetric);
    let got = list_relations(&store, &log, &everything(0), log.head(), log.head()).expect("answer");
    let span = got.edges[0].dated.expect("dated");
    assert_eq!(span.earliest.to_string(), "2012-01-10");
    assert_eq!(span.latest.to_string(), "2012-01-20");
    assert_eq!(got.edges, model(&log, &everything(0), log.head()));
    // As of before the correction, the hidden evidence is back.
    let before =
        list_relations(&store, &log, &everything(0), log.head(), Position(3)).expect("answer");
    assert_eq!(before.edges, model(&log, &everything(0), Position(3)));
    assert_eq!(before.edges[0].event_count, 3);
}

#[test]
fn an_old_snapshot_past_the_walk_budget_says_truncated() {
    let symmetric = symmetric();
    let (mut store, mut log) = (MemStore::default(), MemLog::default());
    let batch = (0..50)
        .map(|n| event(n, "backs", 0, 1 + (n % 3) as u8, "2020", Certainty::Alleged))
        .collect();
    index(&mut store, &mut log, batch, &symmetric);
    let query = everything(0);
    let walked = Budgets {
        suffix: 0,
        walk: usize::MAX,
    };
    let exact = list_relations_within(&store, &log, &query, log.head(), Position(10), walked)
        .expect("answer");
    assert!(!exact.truncated);
    assert_eq!(exact.edges, model(&log, &query, Position(10)));
    let cut = Budgets {
        suffix: 0,
        walk: 20,
    };
    let short =
        list_relations_within(&store, &log, &query, log.head(), Position(10), cut).expect("answer");
    assert!(short.truncated);
}

#[test]
fn corrupt_graph_bytes_are_errors() {
    let symmetric = symmetric();
    let (mut store, mut log) = (MemStore::default(), MemLog::default());
    let batch = vec![event(0, "backs", 0, 1, "2020", Certainty::Alleged)];
    index(&mut store, &mut log, batch, &symmetric);
    for value in store.map.values_mut() {
        value.push(0xff);
    }
    let answer: Result<RelationAnswer, StoreError> =
        list_relations(&store, &log, &everything(0), log.head(), log.head());
    assert!(
        matches!(answer, Err(StoreError::Corrupt { .. })),
        "{answer:?}"
    );
}

/// A busy actor: 160 edges (16 counterparts, 10 relations), 10 events per edge per year, over
/// 13 years and then over 13 more. The unfiltered answer reads a few dozen keys per edge, and
/// the same number once the evidence has doubled; a date filter adds a key per year bucket and
/// the parts at the range's ends.
#[test]
fn a_busy_actor_reads_keys_per_edge_not_per_evidence() {
    let symmetric = symmetric();
    let relations = [
        "backs",
        "attacks",
        "trains",
        "arms",
        "funds",
        "protects",
        "praises",
        "requests",
        "announces",
        "investigates",
    ];
    let (mut store, mut log) = (MemStore::default(), MemLog::default());
    let mut n = 0;
    let mut measure = |store: &mut MemStore, log: &mut MemLog, years: std::ops::Range<i32>| {
        for year in years {
            let mut batch = Vec::new();
            for k in 0..10 {
                for (r, relation) in relations.iter().enumerate() {
                    for other in 1..=16_u8 {
                        let (month, day) =
                            (1 + (k + r) % 12, 1 + (usize::from(other) * 3 + k) % 28);
                        let certainty = CERTAINTIES[(k + usize::from(other)) % 5];
                        let when = format!("{year}-{month:02}-{day:02}");
                        batch.push(event(n, relation, 0, other, &when, certainty));
                        n += 1;
                    }
                }
            }
            index(store, log, batch, &symmetric);
        }
        let head = log.head();
        let reads = |query: &RelationQuery| {
            store.reads.set(0);
            store.seeks.set(0);
            let got = list_relations(&*store, &*log, query, head, head).expect("answer");
            assert_eq!(got.edges, model(log, query, head));
            assert_eq!(got.edges.len(), 160);
            (store.reads.get(), store.seeks.get())
        };
        let dated = RelationQuery {
            dates: range("2015-03-10", "2019-07-20", DateMatch::Overlaps),
            min_certainty: Some(Certainty::Alleged),
            ..everything(0)
        };
        (n, reads(&everything(0)), reads(&dated))
    };
    let (evidence, unfiltered, filtered) = measure(&mut store, &mut log, 2012..2025);
    let (more, unfiltered_after, filtered_after) = measure(&mut store, &mut log, 2025..2038);
    println!(
        "160 edges; {evidence} events: {unfiltered:?} (reads, seeks) unfiltered, {filtered:?} \
         filtered; {more} events: {unfiltered_after:?} and {filtered_after:?}"
    );
    // Without dates: each edge's total and id list, read by two scans for the whole answer.
    assert_eq!(unfiltered, (160 * 2, 2), "(reads, seeks) unfiltered");
    assert_eq!(
        unfiltered, unfiltered_after,
        "unfiltered reads grew with the evidence"
    );
    assert!(
        filtered_after.0 <= filtered.0 + 160 * 2 * 13,
        "{filtered:?} -> {filtered_after:?}"
    );
}

#[test]
fn an_edge_with_more_evidence_than_it_reports_names_its_earliest_without_dates_too() {
    // Sixty events between two actors, in months and certainties out of order: without a date
    // bound the ids come from the view's id lists, with one from the month buckets; both must
    // name the earliest twenty the model names, with and without a certainty floor.
    let symmetric = symmetric();
    let (mut store, mut log) = (MemStore::default(), MemLog::default());
    let certainties = [
        Certainty::Alleged,
        Certainty::Confirmed,
        Certainty::Reported,
        Certainty::Speculated,
    ];
    let batch: Vec<EntryBody> = (0..60)
        .map(|n| {
            let month = 12 - (n % 12);
            let day = 1 + (n * 7) % 27;
            let when = match n % 5 {
                0 => format!("20{:02}", 10 + n % 9),
                1 => format!("2016-{month:02}~"),
                _ => format!("2016-{month:02}-{day:02}"),
            };
            event(n, "attacks", 1, 2, &when, certainties[n % 4])
        })
        .collect();
    index(&mut store, &mut log, batch, &symmetric);
    let head = log.head();
    let floors = [None, Some(Certainty::Reported), Some(Certainty::Confirmed)];
    for min_certainty in floors {
        for dates in [DateRange::ANY, range("2010", "2030", DateMatch::Overlaps)] {
            let query = RelationQuery {
                min_certainty,
                dates,
                ..everything(1)
            };
            let got = list_relations(&store, &log, &query, head, head).expect("answer");
            let wanted = model(&log, &query, head);
            assert_eq!(got.edges, wanted, "{min_certainty:?} {dates:?}");
            assert_eq!(got.edges.len(), 1);
            assert!(got.edges[0].evidence.len() <= 20);
        }
    }
}

#[test]
fn evidence_crowded_into_one_month_and_certainty_is_cut_to_the_earliest_without_dates() {
    // Fifty events of one certainty in one month, ten of other certainties beside them, and a
    // later month: more than one bucket and certainty can report. The id lists must name the
    // earliest twenty the model names, and still do after their listed evidence is superseded
    // (a list that loses an id while full is refilled from the rows, seeking past the rest).
    let symmetric = symmetric();
    let (mut store, mut log) = (MemStore::default(), MemLog::default());
    let batch: Vec<EntryBody> = (0..70)
        .map(|n| {
            let (when, certainty) = match n {
                0..=49 => (format!("2019-05-{:02}", 28 - n % 28), Certainty::Reported),
                50..=59 => (format!("2019-05-{:02}", 1 + n % 9), Certainty::Alleged),
                _ => (format!("2019-07-{:02}", 1 + n % 9), Certainty::Confirmed),
            };
            event(n, "attacks", 1, 2, &when, certainty)
        })
        .collect();
    index(&mut store, &mut log, batch, &symmetric);
    let head = log.head();
    for min_certainty in [None, Some(Certainty::Reported), Some(Certainty::Confirmed)] {
        let query = RelationQuery {
            min_certainty,
            ..everything(1)
        };
        let got = list_relations(&store, &log, &query, head, head).expect("answer");
        assert_eq!(got.edges, model(&log, &query, head), "{min_certainty:?}");
    }
    // Supersede listed evidence: one at a time, then several in one batch, then a batch that
    // also adds earlier evidence beside what it hides.
    let corrections: [&[usize]; 4] = [&[27], &[26, 25, 24, 55, 56], &[0, 1, 2, 3, 4, 5], &[23]];
    let mut n = 70;
    for hidden in corrections {
        let correction = correction(n, "2019-05-15", hidden);
        let early = event(n + 1, "attacks", 1, 2, "2019-04-30", Certainty::Reported);
        index(&mut store, &mut log, vec![correction, early], &symmetric);
        n += 2;
        let head = log.head();
        for min_certainty in [None, Some(Certainty::Reported), Some(Certainty::Alleged)] {
            let query = RelationQuery {
                min_certainty,
                ..everything(1)
            };
            let got = list_relations(&store, &log, &query, head, head).expect("answer");
            assert_eq!(
                got.edges,
                model(&log, &query, head),
                "{hidden:?} {min_certainty:?}"
            );
            // As of before the correction: undone over an overlay, the same lists again.
            let before = Position(head.0 - 2);
            let got = list_relations(&store, &log, &query, head, before).expect("answer");
            assert_eq!(got.edges, model(&log, &query, before), "{hidden:?} before");
        }
    }
    assert!(
        rebuilt(&log, &symmetric).map == store.map,
        "incremental and rebuilt graphs differ"
    );
}

#[test]
fn a_full_id_list_loses_and_regains_its_last_id_in_later_batches() {
    // The indexer knows where a full list ends and passes over later rows without reading it;
    // a row at exactly that end is in the list, and hiding it must refill the list.
    let symmetric = symmetric();
    let (mut store, mut log) = (MemStore::default(), MemLog::default());
    let day = |d: usize| format!("2019-05-{d:02}");
    let batch: Vec<EntryBody> = (1..=25)
        .map(|d| event(d, "attacks", 1, 2, &day(d), Certainty::Reported))
        .collect();
    index(&mut store, &mut log, batch, &symmetric);
    let batches = [
        // The twentieth earliest (the list's last) is hidden; the correction sorts after all.
        vec![correction(100, "2019-06-30", &[20])],
        // Evidence on the new last day, later in the log: after the last id, not in the list.
        vec![event(101, "attacks", 1, 2, &day(21), Certainty::Reported)],
        // Hidden again at the list's end, and an earlier row in the same batch.
        vec![
            correction(102, "2019-07-01", &[21]),
            event(103, "attacks", 1, 2, &day(2), Certainty::Reported),
        ],
    ];
    for batch in batches {
        index(&mut store, &mut log, batch, &symmetric);
        let head = log.head();
        let got = list_relations(&store, &log, &everything(1), head, head).expect("answer");
        assert_eq!(got.edges, model(&log, &everything(1), head));
        assert_eq!(got.edges[0].evidence.len(), 20);
    }
    assert!(
        rebuilt(&log, &symmetric).map == store.map,
        "incremental and rebuilt graphs differ"
    );
}
