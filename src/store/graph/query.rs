//! The query side: `ListRelations` answered from the aggregates, exactly, with work that
//! grows with the edges answered rather than with the evidence behind them.

use std::collections::{BTreeMap, BTreeSet};

use super::keys::{
    centre_prefix, corrupt, decode_total_key, decode_year_key, month_key, months_from,
    relation_prefix, row_prefix, view_key, Month, MonthBucket, Side, View, Year, CERTAINTIES,
    FIRST, HIDDEN, ROW, TOTAL, YEAR,
};
use crate::domain::relations::{
    sort_edges, EdgeTally, RelationEdge, RelationQuery, MAX_EVIDENCE_IDS,
};
use crate::domain::{DateRange, DateSpan, Day, Direction, Position};
use crate::store::{RelationAnswer, StoreError};

use super::aggregate::Aggregate;
use super::first_ids::FirstIds;
use super::row::{superseded_by, Row};
use super::update::{months_of_year, Updater};
use super::{prefix_scan, GraphLog, GraphStore, KeyValues};

/// How many log entries past `as_of` a query undoes from the aggregates (about 100 ms of
/// reading the log); an older `as_of` walks the centre's rows instead.
pub const SUFFIX_BUDGET: u64 = 100_000;

/// How many rows the walk for an old `as_of` examines before it answers `truncated`.
pub const WALK_BUDGET: usize = 200_000;

/// The relation graph around `query.actor` as of `as_of`, without superseded evidence; the
/// same edges [`crate::domain::RelationGraph`] makes of the entries visible at `as_of`.
///
/// `store` must be one consistent snapshot of the graph, covering the log through
/// `indexed_through`; an `as_of` beyond it is answered as of `indexed_through` (callers wait
/// for the indexer first). An `as_of` at most [`SUFFIX_BUDGET`] entries back is answered by
/// undoing those entries over an overlay, exactly; an older one by walking every evidence row
/// of the centre actor, visible and hidden, which is exact too unless there are more than
/// [`WALK_BUDGET`] of them: the one case that answers `truncated`.
pub fn list_relations(
    store: &impl GraphStore,
    log: &impl GraphLog,
    query: &RelationQuery,
    indexed_through: Position,
    as_of: Position,
) -> Result<RelationAnswer, StoreError> {
    let budgets = Budgets {
        suffix: SUFFIX_BUDGET,
        walk: WALK_BUDGET,
    };
    list_relations_within(store, log, query, indexed_through, as_of, budgets)
}

/// The limits of [`list_relations`] (the tests shrink them to reach every path).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budgets {
    /// Entries after `as_of` undone at most.
    pub(crate) suffix: u64,
    /// Rows walked at most.
    pub(crate) walk: usize,
}

/// [`list_relations`] with explicit budgets.
pub(crate) fn list_relations_within(
    store: &impl GraphStore,
    log: &impl GraphLog,
    query: &RelationQuery,
    indexed_through: Position,
    as_of: Position,
    budgets: Budgets,
) -> Result<RelationAnswer, StoreError> {
    let as_of = as_of.min(indexed_through);
    if as_of == indexed_through {
        return complete(answer(store, query)?);
    }
    if indexed_through.0 - as_of.0 > budgets.suffix {
        return walk(store, query, as_of, budgets.walk);
    }
    let mut past = Updater::new(store, &query.symmetric, Some(&query.actor));
    for item in log.entries_between(as_of, indexed_through) {
        let (position, body) = item?;
        past.forget(position, &body)?;
        for id in superseded_by(&body) {
            if let Some((at, target)) = log.entry_by_id(id)? {
                if at <= as_of {
                    past.unhide(at, &target, as_of)?;
                }
            }
        }
    }
    let (past, _) = past.finish()?;
    complete(answer(&past, query)?)
}

fn complete(edges: Vec<RelationEdge>) -> Result<RelationAnswer, StoreError> {
    Ok(RelationAnswer {
        edges,
        truncated: false,
    })
}

/// The answer from the aggregates of `store` as they stand.
fn answer(
    store: &(impl GraphStore + ?Sized),
    query: &RelationQuery,
) -> Result<Vec<RelationEdge>, StoreError> {
    let mut edges = Vec::new();
    // Without dates the ids come from the views' id lists, read in the same order as the
    // totals: one more scan per answer instead of one per edge.
    let mut firsts = open_dates(query).then(|| FirstIdsCursor::new(store, query));
    for prefix in view_prefixes(TOTAL, query) {
        for item in prefix_scan(store, prefix) {
            let (key, value) = item?;
            let view = decode_total_key(&key)?;
            if !wanted(query, &view) {
                continue;
            }
            let mut tally = EdgeTally::default();
            count(
                store,
                query,
                &view,
                &Aggregate::decode(&key, &value)?,
                &mut tally,
            )?;
            match firsts.as_mut() {
                Some(firsts) => firsts
                    .of(&view)?
                    .offer_into(&mut tally, query.min_certainty),
                None => collect_ids(store, query, &view, &mut tally)?,
            }
            edges.extend(into_edge(view, tally));
        }
    }
    sort_edges(&mut edges);
    Ok(edges)
}

/// The id lists of the views a query may want, read in key order beside their totals.
struct FirstIdsCursor<'s> {
    lists: KeyValues<'s>,
}

impl<'s> FirstIdsCursor<'s> {
    fn new<S: GraphStore + ?Sized>(store: &'s S, query: &RelationQuery) -> FirstIdsCursor<'s> {
        let scans = view_prefixes(FIRST, query)
            .into_iter()
            .flat_map(move |prefix| prefix_scan(store, prefix));
        FirstIdsCursor {
            lists: Box::new(scans),
        }
    }

    /// The list of `view`; views must be asked in key order (the order of their keys' bytes,
    /// which is not `View`'s `Ord`). Every view with evidence has one, so a missing list is
    /// corruption.
    fn of(&mut self, view: &View) -> Result<FirstIds, StoreError> {
        let wanted = view_key(FIRST, view);
        for item in self.lists.by_ref() {
            let (key, value) = item?;
            match key.cmp(&wanted) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => return FirstIds::decode(&key, &value),
                std::cmp::Ordering::Greater => break,
            }
        }
        Err(corrupt(&wanted, "a view with evidence has no id list"))
    }
}

/// Old `as_of`: every row of the centre, visible or hidden, checked one by one.
fn walk(
    store: &impl GraphStore,
    query: &RelationQuery,
    as_of: Position,
    budget: usize,
) -> Result<RelationAnswer, StoreError> {
    let mut tallies: BTreeMap<View, EdgeTally> = BTreeMap::new();
    let mut examined = 0;
    for tag in [ROW, HIDDEN] {
        for prefix in view_prefixes(tag, query) {
            for item in prefix_scan(store, prefix) {
                if examined == budget {
                    let edges = tallies.into_iter().filter_map(|(v, t)| into_edge(v, t));
                    let mut edges: Vec<RelationEdge> = edges.collect();
                    sort_edges(&mut edges);
                    return Ok(RelationAnswer {
                        edges,
                        truncated: true,
                    });
                }
                examined += 1;
                let (key, value) = item?;
                let row = Row::decode(tag, &key, &value)?;
                let visible =
                    row.key.position <= as_of && row.hidden_at.is_none_or(|at| at > as_of);
                if visible
                    && wanted(query, &row.key.view)
                    && query.admits(&row.key.view.relation, row.span(), row.key.certainty)
                {
                    let tally = tallies.entry(row.key.view.clone()).or_default();
                    tally.count(row.kind, row.key.certainty, row.dated(), 1);
                    tally.offer(row.date_key(), &row.id);
                }
            }
        }
    }
    let mut edges: Vec<RelationEdge> = tallies
        .into_iter()
        .filter_map(|(view, tally)| into_edge(view, tally))
        .collect();
    sort_edges(&mut edges);
    complete(edges)
}

/// The key prefixes of `tag` that hold the views a query may want: the centre's, narrowed to
/// the asked relations when there are some.
fn view_prefixes(tag: u8, query: &RelationQuery) -> Vec<Vec<u8>> {
    if query.relations.is_empty() {
        return vec![centre_prefix(tag, &query.actor)];
    }
    let relations: BTreeSet<_> = query.relations.iter().collect();
    relations
        .into_iter()
        .map(|relation| relation_prefix(tag, &query.actor, relation))
        .collect()
}

/// True if the query wants the edge this view stands for (direction and counterpart; the
/// prefix already chose centre and relation).
fn wanted(query: &RelationQuery, view: &View) -> bool {
    let direction_ok = match view.side {
        Side::Symmetric => true,
        Side::Out => query.direction != Direction::Incoming,
        Side::In => query.direction != Direction::Outgoing,
    };
    direction_ok
        && query
            .counterpart
            .as_ref()
            .is_none_or(|c| c.contains(&view.other))
}

fn into_edge(view: View, tally: EdgeTally) -> Option<RelationEdge> {
    let (subject, object) = match view.side {
        Side::Out | Side::Symmetric => (view.centre, view.other),
        Side::In => (view.other, view.centre),
    };
    tally.into_edge(subject, view.relation, object)
}

/// How a date range meets every piece of evidence in a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fit {
    /// Every piece matches: the aggregate answers.
    All,
    /// None matches.
    None,
    /// Some may: the parts must be looked at.
    Some,
}

/// How `dates` meets evidence whose earliest day lies in `earliest` and latest in `latest`
/// (both first and last day). The range's own predicate decides, applied to the least and the
/// most favourable span the bucket can hold, so the rule is stated once, in the domain.
fn fit(dates: &DateRange, earliest: (Day, Day), latest: (Day, Day)) -> Fit {
    let widest = DateSpan {
        earliest: earliest.0,
        latest: latest.1,
    };
    let narrowest = DateSpan {
        earliest: earliest.1,
        latest: latest.0,
    };
    let (worst, best) = match dates.mode {
        crate::domain::DateMatch::Overlaps => (narrowest, widest),
        crate::domain::DateMatch::Within => (widest, narrowest),
    };
    if dates.accepts(worst) {
        Fit::All
    } else if dates.accepts(best) {
        Fit::Some
    } else {
        Fit::None
    }
}

fn month_fit(dates: &DateRange, bucket: MonthBucket) -> Fit {
    fit(dates, bucket.earliest.days(), bucket.latest.days())
}

fn year_fit(dates: &DateRange, earliest: Year, latest: Year) -> Fit {
    fit(dates, earliest.days(), latest.days())
}

/// Counts the view's matching evidence into `tally`: the total when any date is wanted;
/// otherwise year buckets that fit whole, month buckets of the years that straddle an end of
/// the range, and rows of the months that straddle it.
fn count(
    store: &(impl GraphStore + ?Sized),
    query: &RelationQuery,
    view: &View,
    total: &Aggregate,
    tally: &mut EdgeTally,
) -> Result<(), StoreError> {
    let (dates, min) = (&query.dates, query.min_certainty);
    if open_dates(query) {
        total.tally_into(tally, min);
        return Ok(());
    }
    for item in prefix_scan(store, view_key(YEAR, view)) {
        let (key, value) = item?;
        let (_, year) = decode_year_key(&key)?;
        let aggregate = Aggregate::decode(&key, &value)?;
        if aggregate.count(min) == 0 {
            continue;
        }
        match year_fit(dates, year.earliest, year.latest) {
            Fit::None => {}
            Fit::All => aggregate.tally_into(tally, min),
            Fit::Some => {
                for (month, aggregate) in months_of_year(store, view, year)? {
                    match month_fit(dates, month) {
                        Fit::None => {}
                        Fit::All => aggregate.tally_into(tally, min),
                        Fit::Some => {
                            rows(store, query, view, month, &aggregate, usize::MAX, |row| {
                                tally.count(row.kind, row.key.certainty, row.dated(), 1);
                            })?;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// True when the query bounds no date: every row matches but for its certainty.
fn open_dates(query: &RelationQuery) -> bool {
    query.dates.from == Day::OPEN_START && query.dates.to == Day::OPEN_END
}

/// Offers the view's earliest matching evidence ids to `tally`. Months and rows sort by the
/// month of the earliest day, so it reads the months of the first years with matching
/// evidence, a month's rows at most [`MAX_EVIDENCE_IDS`] per certainty (they sort by day
/// within one), and stops after the month in which the tally is full.
fn collect_ids(
    store: &(impl GraphStore + ?Sized),
    query: &RelationQuery,
    view: &View,
    tally: &mut EdgeTally,
) -> Result<(), StoreError> {
    let (dates, min) = (&query.dates, query.min_certainty);
    let mut done: Option<Year> = None;
    for item in prefix_scan(store, view_key(YEAR, view)) {
        let (key, value) = item?;
        let (_, year) = decode_year_key(&key)?;
        if done == Some(year.earliest)
            || Aggregate::decode(&key, &value)?.count(min) == 0
            || year_fit(dates, year.earliest, year.latest) == Fit::None
        {
            continue;
        }
        done = Some(year.earliest);
        let last = MonthBucket {
            earliest: year.earliest.last_month(),
            latest: Month(i32::MAX),
        };
        let months = store.scan(
            std::ops::Bound::Included(months_from(view, year.earliest.first_month())),
            std::ops::Bound::Included(month_key(view, last)),
        );
        let mut current: Option<Month> = None;
        for item in months {
            let (key, value) = item?;
            let (_, month) = super::keys::decode_month_key(&key)?;
            if current != Some(month.earliest) {
                if tally.has_all_ids() {
                    return Ok(());
                }
                current = Some(month.earliest);
            }
            if month_fit(dates, month) == Fit::None {
                continue;
            }
            let aggregate = Aggregate::decode(&key, &value)?;
            rows(
                store,
                query,
                view,
                month,
                &aggregate,
                MAX_EVIDENCE_IDS,
                |row| {
                    tally.offer(row.date_key(), &row.id);
                },
            )?;
        }
        if tally.has_all_ids() {
            return Ok(());
        }
    }
    Ok(())
}

/// Calls `f` with the rows of one month bucket that match the query's date and certainty
/// filters, at most `per_level` of each certainty, earliest first; certainties the aggregate
/// says are empty are not read.
fn rows(
    store: &(impl GraphStore + ?Sized),
    query: &RelationQuery,
    view: &View,
    month: MonthBucket,
    aggregate: &Aggregate,
    per_level: usize,
    mut f: impl FnMut(&Row),
) -> Result<(), StoreError> {
    let whole = month_fit(&query.dates, month) == Fit::All;
    for certainty in CERTAINTIES {
        if query.min_certainty.is_some_and(|min| certainty > min) {
            break;
        }
        if aggregate.count_of(certainty) == 0 {
            continue;
        }
        let mut taken = 0;
        for item in prefix_scan(store, row_prefix(ROW, view, month, certainty)) {
            let (key, value) = item?;
            let row = Row::decode(ROW, &key, &value)?;
            if whole || query.dates.accepts(row.span()) {
                f(&row);
                taken += 1;
                if taken == per_level {
                    break;
                }
            }
        }
    }
    Ok(())
}
