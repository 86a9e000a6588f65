//! The relation graph (`graph`, pure) over the engines: its keyspace is fjall's `graph`, its log
//! is sled read through the id index. The indexer calls [`writes_for_chunk`] for every chunk it
//! indexes; `ListRelations` reads one fjall snapshot, so the aggregates and the rows below them
//! are of one moment, and the watermark read from that same snapshot says which.

use std::ops::Bound;

use crate::domain::relations::RelationQuery;
use crate::domain::{Entry, EntryBody, EntryId, Position, SymmetricRelations};

use super::engine::fjall_index::{FjallIndex, IndexBatch, ReadIndex, Space};
use super::engine::sled_log::SledLog;
use super::error::StoreError;
use super::graph::{self, FullLists, GraphLog, GraphStore, GraphWrites, KeyValues};
use super::indexer::IndexState;
use super::RelationAnswer;

/// Entries read from the log per step of an `as_of` correction.
const LOG_CHUNK: usize = 1_024;

/// The graph as fjall holds it now (what the indexer builds on: it is the only writer), or as
/// one snapshot holds it (what `ListRelations` reads).
struct Graph<'a, R>(&'a R);

/// The log, with entries found by id through the id index.
struct Log<'a> {
    log: &'a SledLog,
    index: &'a FjallIndex,
}

impl<R: ReadIndex> GraphStore for Graph<'_, R> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(Space::Graph, key)
    }

    fn scan(&self, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> KeyValues<'_> {
        self.0.scan(Space::Graph, (lower, upper), false)
    }
}

impl GraphLog for Log<'_> {
    fn entry_by_id(&self, id: &EntryId) -> Result<Option<(Position, EntryBody)>, StoreError> {
        let Some((position, _)) = self.index.lookup(id)? else {
            return Ok(None);
        };
        Ok(self.log.read_at(position)?.map(|e| (position, e.body)))
    }

    fn entries_between(
        &self,
        after: Position,
        through: Position,
    ) -> Box<dyn Iterator<Item = Result<(Position, EntryBody), StoreError>> + '_> {
        // Read in chunks, so a long suffix is never held in memory at once.
        let mut next = after.next();
        let mut chunk: std::vec::IntoIter<Entry> = Vec::new().into_iter();
        Box::new(std::iter::from_fn(move || loop {
            if let Some(entry) = chunk.next() {
                return Some(Ok((entry.position, entry.body)));
            }
            if next > through {
                return None;
            }
            match self.log.scan(next, through, LOG_CHUNK) {
                Ok(entries) if entries.is_empty() => return None,
                Ok(entries) => {
                    next = entries.last().map_or(through, |e| e.position).next();
                    chunk = entries.into_iter();
                }
                Err(error) => {
                    next = through.next();
                    return Some(Err(error));
                }
            }
        }))
    }
}

/// The graph writes of a chunk of consecutive entries, as index writes.
/// The writes are returned too: [`graph::GraphWrites::applied`] once the batch is stored.
pub fn writes_for_chunk(
    log: &SledLog,
    index: &FjallIndex,
    entries: &[&Entry],
    symmetric: &SymmetricRelations,
    full_lists: &FullLists,
) -> Result<(IndexBatch, GraphWrites), StoreError> {
    let bodies: Vec<(Position, &EntryBody)> =
        entries.iter().map(|e| (e.position, &e.body)).collect();
    let log = Log { log, index };
    let writes = graph::graph_writes(&Graph(index), &log, &bodies, symmetric, full_lists)?;
    let mut batch = IndexBatch::default();
    for (key, value) in writes.iter() {
        match value {
            Some(value) => batch.put(Space::Graph, key.to_vec(), value.to_vec()),
            None => batch.delete(Space::Graph, key.to_vec()),
        }
    }
    Ok((batch, writes))
}

/// `ListRelations` as of `as_of`, from one snapshot of the graph.
pub fn relations(
    log: &SledLog,
    index: &FjallIndex,
    query: &RelationQuery,
    as_of: Position,
) -> Result<RelationAnswer, StoreError> {
    let snapshot = index.snapshot();
    let indexed_through = IndexState::load(&snapshot)?.map_or(Position::ZERO, |s| s.through);
    graph::list_relations(
        &Graph(&snapshot),
        &Log { log, index },
        query,
        indexed_through,
        as_of,
    )
}
