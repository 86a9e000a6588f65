//! The relation graph, maintained as the log grows: what `ListRelations` reads instead of the
//! evidence, so an answer is complete at any size and costs about what it returns.
//!
//! This module owns the graph's keyspace and the pure code that writes and reads it. It never
//! touches a storage engine: the store hands it a sorted key-value keyspace ([`GraphStore`],
//! fjall in production, a `BTreeMap` in the tests) and the log ([`GraphLog`]), applies the
//! [`GraphWrites`] it returns, and asks [`list_relations`]. The graph is derived state: all of
//! it follows from the log and the vocabulary's symmetric relations, so a graph that is lost,
//! corrupt, or built with another vocabulary is deleted and rebuilt from the log.
//!
//! **What is stored.** Every event or claim that is evidence for an edge (as the domain's
//! `evidence_of` decides, the same function `RelationGraph` uses) is stored once per *view*:
//! the edge seen from one of its ends (centre actor, relation, other actor, and whether the
//! centre is subject, object, or an end of a symmetric relation). A view is exactly one edge of
//! a `ListRelations` answer about its centre. Per view the keyspace holds (layout in
//! `keys/graph.rs`):
//! - *rows*, one per piece of evidence: certainty, earliest and latest day, kind, whether
//!   dated, entry id, and once superseded the position that hid it (hidden rows move from `R`
//!   to `H`, so reading visible evidence never skips hidden evidence);
//! - *aggregates*, per certainty level: counts of events, assertions and denials and the span
//!   of the dated ones, for the whole view (`T`), per year bucket (`Y`, the years of the earliest
//!   and of the latest day) and per month bucket (`M`, the same in months);
//! - an *id list* (`F`): per certainty level the ids of the twenty earliest visible rows, what
//!   an answer without a date bound reports (see `first_ids.rs` for why it is kept).
//!
//! **Why buckets by (earliest, latest).** A date filter compares a range with each piece's
//! span. Everything in a bucket has its earliest day in one month (year) and its latest in
//! another, so for most buckets the range's own predicate, applied to the bucket's least and
//! most favourable span, says "all match" or "none does" (OVERLAPS and WITHIN alike); only
//! the buckets holding the range's ends need their parts: year -> its months -> their rows.
//!
//! **Costs** (reads, one per key a scan returns or a `get`; seeks, one per scan or `get`,
//! which in an LSM is a look into every table). Without a date filter an edge costs its `T`
//! key and its `F` key, each read by one scan for the whole answer. Measured in
//! `tests::a_busy_actor_reads_keys_per_edge_not_per_evidence` (160 edges, 10 events per edge
//! per year, one per month): 320 reads and 2 seeks over 13 years and 20 800 events, and the
//! same after 13 more years (41 600 events), where walking evidence reads 130, then 260,
//! postings and entries per edge. A date filter (OVERLAPS 2015-03-10..2019-07-20, at least
//! ALLEGED) reads the edge's `Y` keys, the `M` keys of the first years with matching evidence
//! and of the years straddling the range's ends, and the rows of the months straddling them
//! and of the first months (for the ids): 15 674 reads, 17 754 after doubling (the 13 new
//! year keys per edge). Writing a piece of evidence costs two rows and six aggregates (three
//! per view), and the views' id lists when it sorts among their first twenty, each read and
//! written once per batch however many of the batch's entries touch it. Superseding costs
//! the same again; a span cannot be subtracted, so when hiding evidence that sat on an
//! aggregate's span edge the aggregate is recomputed from its parts (month from its rows,
//! year from its months, total from its years), and an id list that loses an id while full
//! is refilled from the view's rows, once per batch. Aggregate values are a few bytes per
//! certainty level present (see `aggregate.rs`).
//!
//! **`as_of` in the past.** An answer as of an earlier position undoes the entries after it
//! (at most [`SUFFIX_BUDGET`], read from the log) over an in-memory overlay, with the same code
//! that indexes them, restricted to the centre's views, then answers as above: exact. Older
//! snapshots walk the centre's rows, which carry their position and the position that hid
//! them: exact too, unless the centre has more than [`WALK_BUDGET`] rows; that, and only
//! that, answers `truncated`.

pub(crate) use crate::store::keys::graph as keys;

mod aggregate;
mod first_ids;
mod overlay;
mod query;
mod row;
mod update;

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::domain::{EntryBody, EntryId, Position};

use super::StoreError;

pub use first_ids::FullLists;
pub use query::list_relations;
#[allow(unused_imports)] // named by the docs above
pub use query::{SUFFIX_BUDGET, WALK_BUDGET};
pub use update::graph_writes;

/// Keys and values in key order, as a scan returns them.
pub type KeyValues<'a> = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + 'a>;

/// A sorted key-value keyspace the graph owns (fjall in production, a `BTreeMap` in tests).
/// A query must see one consistent snapshot of it (a fjall snapshot), because it reads an
/// aggregate and then the parts below it.
pub trait GraphStore {
    /// The value of `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// The keys between the bounds, ascending.
    fn scan(&self, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> KeyValues<'_>;
}

/// What the graph asks of the log: superseded entries by id (to hide their evidence) and,
/// for `as_of` answers, the entries after a position.
pub trait GraphLog {
    /// The event or claim with this id and its position, if the log holds it.
    fn entry_by_id(&self, id: &EntryId) -> Result<Option<(Position, EntryBody)>, StoreError>;
    /// The entries in (`after`, `through`], in position order.
    fn entries_between(
        &self,
        after: Position,
        through: Position,
    ) -> Box<dyn Iterator<Item = Result<(Position, EntryBody), StoreError>> + '_>;
}

/// The changes indexing a batch makes to the graph's keyspace, each key once; apply them in
/// the same atomic batch as the indexed-through watermark they cover.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphWrites {
    changes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Where the full levels of the id lists the batch read or wrote end: for
    /// [`FullLists::learn`] once the changes are applied.
    lists: first_ids::LearnedLists,
}

impl GraphWrites {
    /// Every change in key order: `Some(value)` to put, `None` to delete.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
        self.changes
            .iter()
            .map(|(key, value)| (key.as_slice(), value.as_deref()))
    }

    /// Hands what the batch learned of the id lists to `full_lists`: call it only once the
    /// changes are applied.
    pub fn applied(self, full_lists: &mut FullLists) {
        full_lists.learn(self.lists);
    }
}

/// Every key of `store` that starts with `prefix`.
fn prefix_scan<S: GraphStore + ?Sized>(store: &S, prefix: Vec<u8>) -> KeyValues<'_> {
    let upper = match successor(&prefix) {
        Some(next) => Bound::Excluded(next),
        None => Bound::Unbounded,
    };
    store.scan(Bound::Included(prefix), upper)
}

/// The smallest key greater than every key starting with `prefix`, if there is one.
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut next = prefix.to_vec();
    while let Some(last) = next.pop() {
        if last < u8::MAX {
            next.push(last + 1);
            return Some(next);
        }
    }
    None
}

#[cfg(test)]
mod tests;
