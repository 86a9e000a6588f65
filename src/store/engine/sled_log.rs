//! The sled engine: the only code that opens, reads or writes sled, which holds the log of record.
//!
//! It holds exactly four things: the records, in blocks keyed by their first position (see
//! `record::block`: a key per few KiB of a group commit, not per entry), the log's metadata (counters,
//! format), the named subscriptions and the consumer groups' state (`groups`). Every index is derived and lives in fjall
//! (`fjall_index`), because sled costs 10-15 µs per small random key and an event used to cost
//! a dozen of them. Writes are one atomic `Batch` followed by a flush, so a crash leaves either
//! the whole group commit or none of it; it stores what the writer decided and makes no
//! decisions about what may be appended.

pub mod groups;

use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::domain::{Entry, Position, SubscriptionState};

use crate::store::error::StoreError;
use crate::store::keys;
use crate::store::record::block;
use crate::store::record::decode_record;

/// Entry counters kept beside the log, updated in the same batch as the entries they count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Actor entries, revisions included.
    pub actor_entries: u64,
    /// Event entries.
    pub event_entries: u64,
    /// Claim entries.
    pub claim_entries: u64,
    /// Distinct actors.
    pub actors: u64,
}

/// One new record to write, as the writer planned it.
pub struct CommitRecord {
    /// Where it goes.
    pub position: Position,
    /// The encoded record (see `record`).
    pub record: bytes::Bytes,
}

/// The sled database and the one tree that holds the log.
pub struct SledLog {
    /// Kept for `flush` and `size_on_disk`, which are database-wide.
    db: sled::Db,
    /// Records, metadata and subscriptions (see `keys`), so one batch covers a group commit.
    tree: sled::Tree,
}

const TREE_NAME: &str = "eventlog";
/// How long `open` waits for a data directory another handle is releasing.
const LOCK_RETRY: Duration = Duration::from_secs(2);
const COUNTS_KEY: &str = "counts";
/// Metadata key of the layout of the tree. Absent in release 1's data directories, which kept
/// their indexes in this tree too.
const FORMAT_KEY: &str = "format";
/// The layout this release writes: records, metadata and subscriptions only.
const FORMAT_V2: u8 = 2;
/// Metadata key of the last stream sequence a cluster node applied (see `crate::cluster`),
/// written in the batch of the entries that message added.
const APPLIED_KEY: &str = "cluster_applied";
/// Metadata key of the JetStream stream a cluster node's log replicates; absent in an embedded
/// node's data directory.
const CLUSTER_STREAM_KEY: &str = "cluster_stream";
/// Keys removed per batch while dropping release 1's index keys.
const DROP_CHUNK: usize = 10_000;
/// Records moved per batch from one key each into blocks, when opening a log written before
/// blocks.
const MOVE_CHUNK: usize = 4_096;

impl SledLog {
    /// Opens (or creates) the database in `path`, with sled's page cache capped at
    /// `cache_capacity` bytes so memory does not grow with the log.
    ///
    /// A directory still locked is retried for a moment before giving up: when a store is
    /// closed and reopened in one process, sled's background threads may hold the lock for a
    /// few milliseconds after the last handle is dropped.
    ///
    /// A log written before blocks (one key per record) has its records moved into blocks
    /// here, before anything reads it.
    pub fn open(path: &Path, cache_capacity: u64) -> Result<SledLog, StoreError> {
        let deadline = Instant::now() + LOCK_RETRY;
        let log = loop {
            match Self::try_open(path, cache_capacity) {
                Err(StoreError::Locked { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                result => break result?,
            }
        };
        log.move_records_into_blocks()?;
        Ok(log)
    }

    /// sled's default segment size (512 KiB) is kept on purpose. sled writes a page larger than a
    /// quarter of a segment to a file of its own, which is why blocks are small (see
    /// `block::BLOCK_BYTES`). The other way out, tried with 64 KiB blocks: 8 MiB segments keep
    /// every leaf inline (raw sled writing one 50 KB block per flush: 101k -> 156k records/s),
    /// but in the scale run at 300k events they left batched appends where they were (40.3k vs
    /// 39.9k/s) and took 1.55 KB of disk per event instead of 1.20; and sled refuses to reopen a
    /// database with another size, so every existing data directory would keep the problem.
    fn try_open(path: &Path, cache_capacity: u64) -> Result<SledLog, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_capacity)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.to_string().contains("lock") =>
                {
                    StoreError::Locked {
                        path: path.display().to_string(),
                    }
                }
                other => StoreError::Engine(other.to_string()),
            })?;
        let tree = db.open_tree(TREE_NAME).map_err(engine)?;
        Ok(SledLog { db, tree })
    }

    /// The position of the last entry on disk.
    pub fn last_position(&self) -> Result<Position, StoreError> {
        match self.tree.scan_prefix([keys::BLOCK]).next_back() {
            None => Ok(Position::ZERO),
            Some(item) => {
                let (key, value) = item.map_err(engine)?;
                let first = first_position(&key)?;
                Ok(Position(first.0 + block::record_count(first, &value)? - 1))
            }
        }
    }

    /// The block that holds `position` if any does: the last one starting at or before it.
    fn block_at_or_before(
        &self,
        position: Position,
    ) -> Result<Option<(Position, sled::IVec)>, StoreError> {
        let blocks = keys::block_key(Position::ZERO)..=keys::block_key(position);
        match self.tree.range(blocks).next_back() {
            None => Ok(None),
            Some(item) => {
                let (key, value) = item.map_err(engine)?;
                Ok(Some((first_position(&key)?, value)))
            }
        }
    }

    /// The counters as last committed.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        let key = keys::meta_key(COUNTS_KEY);
        match self.tree.get(&key).map_err(engine)? {
            None => Ok(Counts::default()),
            Some(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| corrupt(&key, &e.to_string()))
            }
        }
    }

    /// The entry at `position`, if there is one.
    pub fn read_at(&self, position: Position) -> Result<Option<Entry>, StoreError> {
        let Some((first, value)) = self.block_at_or_before(position)? else {
            return Ok(None);
        };
        let ranges = block::record_ranges(first, &value)?;
        match ranges.get((position.0 - first.0) as usize) {
            None => Ok(None),
            Some(range) => decode_entry(position, &value[range.clone()]).map(Some),
        }
    }

    /// Up to `max` consecutive entries from `from` up to and including `to`.
    pub fn scan(&self, from: Position, to: Position, max: usize) -> Result<Vec<Entry>, StoreError> {
        let mut entries = Vec::with_capacity(max.min(1024));
        self.scan_raw(from, to, max, |position, bytes| {
            entries.push(decode_entry(position, bytes)?);
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(entries)
    }

    /// Hands up to `max` consecutive stored records from `from` through `to` to `each`, as
    /// stored (the streaming RPCs send them on without decoding), until `each` says to stop.
    /// A gap between `from` and the last record found is an error.
    pub fn scan_raw(
        &self,
        from: Position,
        to: Position,
        max: usize,
        mut each: impl FnMut(Position, &[u8]) -> Result<ControlFlow<()>, StoreError>,
    ) -> Result<(), StoreError> {
        if from > to || max == 0 {
            return Ok(());
        }
        // Positions are assigned without gaps, so a record after a missing one means the
        // missing one was written and lost (a damaged file): an error naming it, never a
        // chunk that silently skips it.
        let mut block = self.block_at_or_before(from)?;
        let mut expected = from;
        let mut handed = 0;
        loop {
            let Some((first, value)) = block else {
                return self.nothing_between(expected, to);
            };
            let ranges = block::record_ranges(first, &value)?;
            for (index, range) in ranges.iter().enumerate() {
                let position = Position(first.0 + index as u64);
                if position < from {
                    continue;
                }
                if position > to || handed == max {
                    return Ok(());
                }
                expected = position.next();
                handed += 1;
                if each(position, &value[range.clone()])?.is_break() {
                    return Ok(());
                }
            }
            let next = Position(first.0 + ranges.len() as u64);
            if next > to {
                return Ok(());
            }
            block = self.block_at(next)?;
        }
    }

    /// The block that starts at `first`, looked up by its key.
    ///
    /// A scan looks each block up by key rather than walking a sled iterator, to keep memory
    /// bounded. sled's cache hears of a page only when it is accessed, and it handles accesses
    /// in batches of 64 for each of its 256 shards; an iterator accesses each leaf once (it
    /// keeps the leaf it is in), so a scan through cold pages pages in up to 256 x 64 leaves
    /// before the cache evicts any. With blocks of 6 KiB a leaf was about 50 KiB, so that was up
    /// to ~800 MiB whatever the cache size (raw sled, 230k blocks, 64 MiB cache: 832 MiB peak;
    /// looked up by key: 206 MiB, and no slower). A lookup accesses the leaf once per block, so
    /// the cache hears of it about ten times as often. (Point reads at random positions access
    /// each leaf once too; that is what bounds a block's size, see `block::BLOCK_BYTES`.)
    fn block_at(&self, first: Position) -> Result<Option<(Position, sled::IVec)>, StoreError> {
        let value = self.tree.get(keys::block_key(first)).map_err(engine)?;
        Ok(value.map(|value| (first, value)))
    }

    /// Ok if no block starts from `from` through `to`: the log ends before `from`. A block
    /// there means the record at `from` is missing from a log that goes on after it.
    fn nothing_between(&self, from: Position, to: Position) -> Result<(), StoreError> {
        let later = keys::block_key(from)..=keys::block_key(to);
        match self.tree.range(later).next() {
            None => Ok(()),
            Some(item) => {
                let (key, _) = item.map_err(engine)?;
                let position = first_position(&key)?;
                Err(StoreError::corrupt_record(
                    from,
                    format!("it is missing, although the log holds position {position} after it"),
                ))
            }
        }
    }

    /// Writes the records and counters in one atomic batch, then flushes to disk. A cluster
    /// node passes the stream sequence of the last message the batch applies, so that what the
    /// log holds and how far it has read the stream can never disagree after a crash.
    pub fn commit(
        &self,
        records: Vec<CommitRecord>,
        counts: &Counts,
        applied: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        let records: Vec<(Position, &[u8])> = records
            .iter()
            .map(|r| (r.position, &r.record[..]))
            .collect();
        let blocks = blocks_of(&records);
        let writes = blocks.len() + 1;
        for (first, block) in blocks {
            batch.insert(&keys::block_key(first), block);
        }
        let counts = serde_json::to_vec(counts).map_err(|e| StoreError::Encode(e.to_string()))?;
        batch.insert(keys::meta_key(COUNTS_KEY), counts);
        if let Some(sequence) = applied {
            batch.insert(keys::meta_key(APPLIED_KEY), &sequence.to_be_bytes());
        }
        self.tree.apply_batch(batch).map_err(engine)?;
        reclaim_replaced_nodes(writes);
        self.db.flush().map_err(engine)?;
        Ok(())
    }

    /// The stream sequence of the last message that wrote entries (0 if none did).
    pub fn applied_sequence(&self) -> Result<u64, StoreError> {
        let key = keys::meta_key(APPLIED_KEY);
        match self.tree.get(&key).map_err(engine)? {
            None => Ok(0),
            Some(bytes) => <[u8; 8]>::try_from(&bytes[..])
                .map(u64::from_be_bytes)
                .map_err(|_| corrupt(&key, "not a u64")),
        }
    }

    /// The stream this log replicates, if it belongs to a cluster node.
    pub fn cluster_stream(&self) -> Result<Option<String>, StoreError> {
        let key = keys::meta_key(CLUSTER_STREAM_KEY);
        match self.tree.get(&key).map_err(engine)? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes.to_vec())
                .map(Some)
                .map_err(|_| corrupt(&key, "not UTF-8")),
        }
    }

    /// Records, durably, that this log replicates `stream`.
    pub fn set_cluster_stream(&self, stream: &str) -> Result<(), StoreError> {
        self.tree
            .insert(keys::meta_key(CLUSTER_STREAM_KEY), stream.as_bytes())
            .map_err(engine)?;
        self.db.flush().map_err(engine)?;
        Ok(())
    }

    /// Forgets that this log replicates a stream (only for a log that holds nothing).
    pub fn clear_cluster_stream(&self) -> Result<(), StoreError> {
        self.tree
            .remove(keys::meta_key(CLUSTER_STREAM_KEY))
            .map_err(engine)?;
        self.db.flush().map_err(engine)?;
        Ok(())
    }

    /// Records that the tree has this release's layout (a new tree, or one whose release 1
    /// index keys are gone), durably.
    pub fn record_current_format(&self) -> Result<(), StoreError> {
        self.tree
            .insert(keys::meta_key(FORMAT_KEY), &[FORMAT_V2])
            .map_err(engine)?;
        self.db.flush().map_err(engine)?;
        Ok(())
    }

    /// True if the tree still holds release 1's index keys (or may: no format is recorded).
    pub fn has_legacy_indexes(&self) -> Result<bool, StoreError> {
        let format = self.tree.get(keys::meta_key(FORMAT_KEY)).map_err(engine)?;
        Ok(format.as_deref() != Some(&[FORMAT_V2]))
    }

    /// Removes release 1's index keys, in chunks with progress logged, then records the v2
    /// layout. Safe to interrupt: it starts over where it stopped, and the format is written
    /// only once the tree holds nothing else.
    pub fn drop_legacy_indexes(&self) -> Result<(), StoreError> {
        let started = Instant::now();
        let mut removed_total = 0_u64;
        for prefix in keys::LEGACY_INDEX_PREFIXES {
            loop {
                let mut batch = sled::Batch::default();
                let mut removed = 0;
                for key in self.tree.scan_prefix([prefix]).keys().take(DROP_CHUNK) {
                    batch.remove(key.map_err(engine)?);
                    removed += 1;
                }
                if removed == 0 {
                    break;
                }
                self.tree.apply_batch(batch).map_err(engine)?;
                reclaim_replaced_nodes(removed);
                removed_total += removed as u64;
                if removed_total.is_multiple_of(DROP_CHUNK as u64 * 50) {
                    tracing::info!(removed = removed_total, "removing release 1 index keys");
                }
            }
        }
        self.tree
            .remove(keys::meta_key("query_index"))
            .map_err(engine)?;
        self.record_current_format()?;
        if removed_total > 0 {
            tracing::info!(
                removed = removed_total,
                seconds = started.elapsed().as_secs_f64(),
                "release 1 index keys removed from the log's tree"
            );
        }
        Ok(())
    }

    /// Moves records stored one per key (the layout before blocks) into blocks, in chunks with
    /// progress logged, lowest positions first. Safe to interrupt: each chunk's blocks are
    /// written and its old keys removed in one atomic batch, so a restart goes on where it
    /// stopped and no record is ever in both places or in neither.
    fn move_records_into_blocks(&self) -> Result<(), StoreError> {
        let started = Instant::now();
        let mut moved = 0_u64;
        loop {
            let mut records = Vec::with_capacity(MOVE_CHUNK);
            for item in self.tree.scan_prefix([keys::LOG]).take(MOVE_CHUNK) {
                let (key, value) = item.map_err(engine)?;
                let position =
                    keys::position_of_log_key(&key).ok_or_else(|| corrupt(&key, "bad log key"))?;
                records.push((position, value));
            }
            if records.is_empty() {
                break;
            }
            let borrowed: Vec<(Position, &[u8])> =
                records.iter().map(|(p, value)| (*p, &value[..])).collect();
            let blocks = blocks_of(&borrowed);
            let mut batch = sled::Batch::default();
            for (first, block) in &blocks {
                batch.insert(&keys::block_key(*first), block.as_slice());
            }
            for (position, _) in &records {
                batch.remove(&keys::log_key(*position));
            }
            self.tree.apply_batch(batch).map_err(engine)?;
            reclaim_replaced_nodes(records.len() + blocks.len());
            self.db.flush().map_err(engine)?;
            moved += records.len() as u64;
            if moved.is_multiple_of(MOVE_CHUNK as u64 * 25) {
                tracing::info!(moved, "moving the log's records into blocks");
            }
        }
        if moved > 0 {
            tracing::info!(
                moved,
                seconds = started.elapsed().as_secs_f64(),
                "the log's records are in blocks"
            );
        }
        Ok(())
    }

    /// A named subscription's state.
    pub fn subscription(&self, name: &str) -> Result<Option<SubscriptionState>, StoreError> {
        let key = keys::subscription_key(name);
        match self.tree.get(&key).map_err(engine)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| corrupt(&key, &e.to_string())),
        }
    }

    /// Every named subscription, in name order.
    pub fn subscriptions(&self) -> Result<Vec<(String, SubscriptionState)>, StoreError> {
        let mut found = Vec::new();
        for item in self.tree.scan_prefix([keys::SUBSCRIPTION]) {
            let (key, bytes) = item.map_err(engine)?;
            let name = String::from_utf8_lossy(&key[1..]).to_string();
            let state =
                serde_json::from_slice(&bytes).map_err(|e| corrupt(&key, &e.to_string()))?;
            found.push((name, state));
        }
        Ok(found)
    }

    /// Stores a named subscription's state durably (insert, then flush).
    pub fn put_subscription(
        &self,
        name: &str,
        state: &SubscriptionState,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(state).map_err(|e| StoreError::Encode(e.to_string()))?;
        self.tree
            .insert(keys::subscription_key(name), bytes)
            .map_err(engine)?;
        self.db.flush().map_err(engine)?;
        Ok(())
    }

    /// Removes a named subscription durably; false if there was none.
    pub fn delete_subscription(&self, name: &str) -> Result<bool, StoreError> {
        let existed = self
            .tree
            .remove(keys::subscription_key(name))
            .map_err(engine)?
            .is_some();
        self.db.flush().map_err(engine)?;
        Ok(existed)
    }

    /// Bytes the database takes on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(engine)
    }

    /// Writes everything to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(engine)?;
        Ok(())
    }
}

/// Frees the tree nodes that a batch of `writes` inserts replaced.
///
/// sled hands replaced nodes to crossbeam-epoch, which frees at most 8 bags of 64 objects per
/// collection and collects once every 128 pins of a thread. A group commit pins once and may
/// replace thousands of nodes, so left alone the garbage outgrows collection and memory grows
/// with every write (seen in release 1: 3.7 GiB after 400k entries with a 64 MiB cache; with
/// this, under 400 MiB). Pinning and flushing after each batch runs enough collections to keep
/// up. It relies on sled and this crate sharing crossbeam-epoch's global collector, which they
/// do while both use crossbeam-epoch 0.9.
fn reclaim_replaced_nodes(writes: usize) {
    for _ in 0..writes / 64 + 16 {
        crossbeam_epoch::pin().flush();
    }
}

/// Records at their positions as the blocks they are stored in, each with its first position:
/// a run of consecutive positions is cut into blocks of at most `block::BLOCK_BYTES`, and a gap
/// between positions (only a damaged log has one) ends a block.
fn blocks_of(records: &[(Position, &[u8])]) -> Vec<(Position, Vec<u8>)> {
    let mut blocks = Vec::new();
    let mut run_start = 0;
    for end in 1..=records.len() {
        if end < records.len() && records[end].0 == records[end - 1].0.next() {
            continue;
        }
        let run = &records[run_start..end];
        for part in block::split(run.iter().map(|(_, record)| record.len())) {
            let part = &run[part];
            blocks.push((part[0].0, block::encode(part.iter().map(|(_, r)| *r))));
        }
        run_start = end;
    }
    blocks
}

fn first_position(key: &[u8]) -> Result<Position, StoreError> {
    keys::position_of_block_key(key).ok_or_else(|| corrupt(key, "bad block key"))
}

fn decode_entry(position: Position, bytes: &[u8]) -> Result<Entry, StoreError> {
    let (recorded_at, body) = decode_record(position, bytes)?;
    Ok(Entry {
        position,
        recorded_at,
        body,
    })
}

fn engine(error: sled::Error) -> StoreError {
    StoreError::Engine(error.to_string())
}

fn corrupt(key: &[u8], reason: &str) -> StoreError {
    StoreError::Corrupt {
        key: format!("key \"{}\"", String::from_utf8_lossy(key).escape_debug()),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(positions: std::ops::RangeInclusive<u64>, size: usize) -> Vec<CommitRecord> {
        positions
            .map(|p| CommitRecord {
                position: Position(p),
                record: bytes::Bytes::from(vec![p as u8; size]),
            })
            .collect()
    }

    fn scanned(log: &SledLog, from: u64, to: u64, max: usize) -> Vec<(u64, Vec<u8>)> {
        let mut seen = Vec::new();
        log.scan_raw(Position(from), Position(to), max, |position, bytes| {
            seen.push((position.0, bytes.to_vec()));
            Ok(ControlFlow::Continue(()))
        })
        .expect("scan");
        seen
    }

    fn block_firsts(log: &SledLog) -> Vec<u64> {
        log.tree
            .scan_prefix([keys::BLOCK])
            .keys()
            .map(|k| {
                keys::position_of_block_key(&k.expect("key"))
                    .expect("block key")
                    .0
            })
            .collect()
    }

    #[test]
    fn a_record_missing_inside_the_log_is_an_error_naming_it_not_a_skipped_position() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = SledLog::open(dir.path(), 1 << 20).expect("open");
        for p in 1..=3 {
            log.commit(records(p..=p, 8), &Counts::default(), None)
                .expect("commit");
        }
        log.tree
            .remove(keys::block_key(Position(2)))
            .expect("lose position 2");
        let mut seen = Vec::new();
        let error = log
            .scan_raw(Position(1), Position(3), 10, |position, _| {
                seen.push(position.0);
                Ok(ControlFlow::Continue(()))
            })
            .expect_err("a hole");
        assert_eq!(seen, [1], "nothing past the hole is handed out");
        let message = error.to_string();
        assert!(message.contains("log position 2"), "{message}");
        assert!(message.contains("position 3 after it"), "{message}");
        assert_eq!(
            scanned(&log, 3, 3, 10).len(),
            1,
            "what follows the hole is served"
        );
        assert!(log.read_at(Position(2)).expect("read").is_none());
        let from_the_hole = log
            .scan_raw(Position(2), Position(3), 10, |_, _| {
                Ok(ControlFlow::Continue(()))
            })
            .expect_err("a scan from the hole");
        assert!(from_the_hole.to_string().contains("log position 2"));
        log.tree
            .remove(keys::block_key(Position(1)))
            .expect("lose position 1 too");
        let from_the_start = log
            .scan_raw(Position(1), Position(3), 10, |_, _| {
                Ok(ControlFlow::Continue(()))
            })
            .expect_err("a scan of a log without its first record");
        assert!(from_the_start.to_string().contains("log position 1"));
    }

    #[test]
    fn a_commit_is_stored_in_blocks_that_reads_and_scans_see_as_positions() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = SledLog::open(dir.path(), 1 << 20).expect("open");
        // 300 records of a quarter block each: 75 blocks of 4 records, then one for the next commit.
        let size = block::BLOCK_BYTES / 4;
        log.commit(records(1..=300, size), &Counts::default(), None)
            .expect("commit");
        log.commit(records(301..=302, 10), &Counts::default(), None)
            .expect("commit");
        let expected: Vec<u64> = (1..=300).step_by(4).chain([301]).collect();
        assert_eq!(block_firsts(&log), expected);
        assert_eq!(log.last_position().expect("last"), Position(302));
        let all = scanned(&log, 1, 302, 1000);
        assert_eq!(all.len(), 302);
        assert!(all
            .iter()
            .enumerate()
            .all(|(i, (p, bytes))| *p == i as u64 + 1
                && bytes.len() == if *p <= 300 { size } else { 10 }
                && bytes[0] == *p as u8));
        // From inside a block, across blocks, bounded by `to` and by `max`.
        let part: Vec<u64> = scanned(&log, 60, 70, 1000).iter().map(|r| r.0).collect();
        assert_eq!(part, (60..=70).collect::<Vec<_>>());
        let part: Vec<u64> = scanned(&log, 250, 1000, 3).iter().map(|r| r.0).collect();
        assert_eq!(part, [250, 251, 252]);
        assert!(
            scanned(&log, 303, 400, 10).is_empty(),
            "nothing past the head"
        );
    }

    #[test]
    fn a_log_of_one_key_per_record_is_moved_into_blocks_on_open_and_reads_the_same() {
        let dir = tempfile::tempdir().expect("temp dir");
        let written: Vec<(u64, Vec<u8>)> = (1..=MOVE_CHUNK as u64 + 10)
            .map(|p| (p, format!("record {p}").into_bytes()))
            .collect();
        {
            let log = SledLog::open(dir.path(), 1 << 20).expect("open");
            for (p, record) in &written {
                log.tree
                    .insert(keys::log_key(Position(*p)), record.as_slice())
                    .expect("write the old layout");
            }
            log.flush().expect("flush");
        }
        let log = SledLog::open(dir.path(), 1 << 20).expect("reopen moves the records");
        assert_eq!(
            log.tree.scan_prefix([keys::LOG]).count(),
            0,
            "no old key is left"
        );
        assert!(block_firsts(&log).len() >= 2, "one chunk and the rest");
        assert_eq!(log.last_position().expect("last").0, written.len() as u64);
        assert_eq!(scanned(&log, 1, u64::MAX, usize::MAX), written);
    }

    #[test]
    fn full_leaves_of_blocks_stay_inside_sleds_segments_where_its_cache_counts_them() {
        // sled writes a page over a quarter of a segment to a file in `blobs/` and then counts
        // it as a pointer's size in its cache (see `block::BLOCK_BYTES`); a log in blocks must
        // never make one. Commits of 100 records of 500 bytes, the shape of a batched import,
        // and of records that fill their blocks to the byte, through many leaf splits.
        let dir = tempfile::tempdir().expect("temp dir");
        let log = SledLog::open(dir.path(), 1 << 20).expect("open");
        let mut next = 1;
        for size in [500, block::BLOCK_BYTES / 2, block::BLOCK_BYTES] {
            for _ in 0..40 {
                log.commit(records(next..=next + 99, size), &Counts::default(), None)
                    .expect("commit");
                next += 100;
            }
        }
        log.flush().expect("flush");
        let blobs: Vec<_> = std::fs::read_dir(dir.path().join("blobs"))
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(
            blobs.is_empty(),
            "sled wrote {} pages as blobs, e.g. {:?}",
            blobs.len(),
            blobs.first()
        );
    }
}
