//! The store's side of backup and restore: its records and subscriptions as they are kept, out
//! and back in, byte for byte.
//!
//! A backup carries records exactly as stored (each verified by its checksum on the way out
//! and again on the way in) and subscriptions in the store's encoding, so a restored log is the
//! original up to the backup's position, not a re-encoding of it. Only the log of record is
//! written back: the id index, the query indexes and the relation graph are derived, and the
//! first `Store::open` of the restored directory rebuilds them from the log, as after any crash.

use std::collections::HashSet;
use std::path::Path;

use crate::domain::{EntryBody, EntryKind, Position, SubscriptionState};

use super::engine::sled_log::{CommitRecord, Counts, SledLog};
use super::error::StoreError;
use super::record::RecordView;

/// A subscription's state in the store's encoding, for a backup.
pub fn encode_subscription(state: &SubscriptionState) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(state).map_err(|e| StoreError::Encode(e.to_string()))
}

/// Writes a backup's content into a new data directory: records in position order from 1, then
/// subscriptions (whose checkpoints must lie within the records). Nothing it writes is trusted: each record must pass its checksum and follow
/// the one before.
pub struct LogRestorer {
    log: SledLog,
    next: Position,
    counts: Counts,
    /// Ids of the actors seen, to count distinct actors (a revision has a seen id). Held only
    /// while restoring, offline.
    actors: HashSet<String>,
}

impl LogRestorer {
    /// Opens a new store in `dir`, which must not hold a log already.
    pub fn create(dir: &Path, cache_capacity: u64) -> Result<LogRestorer, StoreError> {
        let log = SledLog::open(dir, cache_capacity)?;
        if log.last_position()? != Position::ZERO || !log.subscriptions()?.is_empty() {
            return Err(StoreError::Corrupt {
                key: dir.display().to_string(),
                reason: "the directory already holds a log; restore into a new directory".into(),
            });
        }
        log.record_current_format()?;
        Ok(LogRestorer {
            log,
            next: Position(1),
            counts: Counts::default(),
            actors: HashSet::new(),
        })
    }

    /// The position the next record must have.
    pub fn next_position(&self) -> Position {
        self.next
    }

    /// The counts of what was restored so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Appends `records`, the first at `first`, durably.
    pub fn append(
        &mut self,
        first: Position,
        records: Vec<bytes::Bytes>,
    ) -> Result<(), StoreError> {
        if first != self.next {
            return Err(StoreError::corrupt_record(
                first,
                format!("records resume at {first} where {} was expected", self.next),
            ));
        }
        let mut batch = Vec::with_capacity(records.len());
        for (i, record) in records.into_iter().enumerate() {
            let position = Position(first.0 + i as u64);
            let view = RecordView::parse(position, &record)?;
            match view.kind() {
                EntryKind::Actor => {
                    self.counts.actor_entries += 1;
                    if let EntryBody::Actor(actor) = view.decode_body()? {
                        if self.actors.insert(actor.id.as_str().to_string()) {
                            self.counts.actors += 1;
                        }
                    }
                }
                EntryKind::Event => self.counts.event_entries += 1,
                EntryKind::Claim => self.counts.claim_entries += 1,
            }
            batch.push(CommitRecord { position, record });
        }
        self.next = Position(first.0 + batch.len() as u64);
        self.log.commit(batch, &self.counts, None)
    }

    /// Stores a subscription given in the store's encoding, checked against the records: its
    /// checkpoint is never past the last one.
    pub fn put_subscription(&mut self, name: &str, state: &[u8]) -> Result<(), StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            key: format!("subscription {name}"),
            reason,
        };
        let state: SubscriptionState =
            serde_json::from_slice(state).map_err(|e| corrupt(e.to_string()))?;
        let last = Position(self.next.0 - 1);
        if state.checkpoint > last {
            return Err(corrupt(format!(
                "its checkpoint {} is past the last record restored ({last})",
                state.checkpoint
            )));
        }
        self.log.put_subscription(name, &state)
    }

    /// Flushes and closes the new store.
    pub fn finish(self) -> Result<Counts, StoreError> {
        self.log.flush()?;
        Ok(self.counts)
    }
}
