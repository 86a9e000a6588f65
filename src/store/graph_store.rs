//! The relation graph over the engines: feeds the graph (`graph`) the chunks the indexer
//! indexes and answers `ListRelations` from what it stored.

use crate::domain::{Entry, SymmetricRelations};

use super::engine::fjall_index::{FjallIndex, IndexBatch};
use super::engine::sled_log::SledLog;
use super::error::StoreError;

/// The graph writes of a chunk of consecutive entries.
pub fn writes_for_chunk(
    _log: &SledLog,
    _index: &FjallIndex,
    _entries: &[Entry],
    _symmetric: &SymmetricRelations,
) -> Result<IndexBatch, StoreError> {
    Ok(IndexBatch::default())
}
