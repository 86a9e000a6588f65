//! The indexer: a thread that follows the durable head and brings the derived indexes (names,
//! the actor listing, query postings, corrections, the relation graph) up to it.
//!
//! Why behind the log rather than in the group commit: the log's write path is then one sled
//! key per entry, as fast as sled can be, and the dozen index keys an event causes go to an LSM
//! engine in large batches where they cost a microsecond each. The price is that the indexes may
//! trail the head; queries wait for them (`Store::wait_indexed`), so a client never sees an
//! answer that misses an entry acknowledged before it asked.
//!
//! Why it never goes wrong: it reads only durable entries, from the log itself, in position
//! order; each fjall batch carries the watermark of the entries it covers, so whatever prefix
//! of batches fjall recovers after a crash, the watermark says exactly where to resume.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::domain::{Actor, Entry, EntryBody, EntryId, Position, SymmetricRelations};

use super::disk_space::DiskSpace;
use super::engine::fjall_index::{FjallIndex, IndexBatch, ReadIndex, Space};
use super::engine::sled_log::SledLog;
use super::error::StoreError;
use super::graph::FullLists;
use super::graph_store;
use super::index_feed::{IndexFeed, IndexSources};
use super::keys;
use super::postings::BlockBuilder;
use super::priority;
use super::writes::index_writes;

/// Entries indexed per fjall batch at most. Large enough that the graph merges many updates of
/// one aggregate into one write; small enough that a query waiting for the latest entry waits
/// for one such batch, not for a backlog.
pub const CHUNK: usize = 4_096;
/// How long the indexer sleeps without news of the head before it looks again anyway.
const IDLE_WAIT: Duration = Duration::from_millis(200);
/// How long new entries may wait to be indexed while fewer than `CHUNK` are waiting and no
/// reader needs them. Why wait at all: postings are stored in blocks, one key per list per
/// batch (see `postings`), so a batch of a hundred entries costs nearly a key per posting and
/// one of thousands a fraction of one. A reader that waits for the indexes (`hurry`) ends the
/// wait at once, so this delays no answer.
const LINGER: Duration = Duration::from_millis(100);
/// How long it waits after a failed batch before trying again.
const RETRY_WAIT: Duration = Duration::from_secs(1);
/// Metadata key of the indexes' state.
const STATE_KEY: &str = "through";
/// Bump when the encoding of any derived key changes: older indexes are then rebuilt.
/// 2: postings in blocks (see `postings`). 3: the graph's id lists (`F` keys).
pub const INDEX_FORMAT: u8 = 3;

/// What the indexes' metadata says: their format, what they cover, and a fingerprint of the
/// symmetric relations the graph was built with (a changed vocabulary means a rebuild).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexState {
    /// `INDEX_FORMAT` of the release that wrote it.
    pub format: u8,
    /// The last position indexed.
    pub through: Position,
    /// See `fingerprint`.
    pub vocabulary: u64,
}

impl IndexState {
    fn encode(&self) -> Vec<u8> {
        let mut value = vec![self.format];
        value.extend_from_slice(&keys::encode_position(self.through));
        value.extend_from_slice(&self.vocabulary.to_be_bytes());
        value
    }

    fn decode(value: &[u8]) -> Option<IndexState> {
        let (&format, rest) = value.split_first()?;
        Some(IndexState {
            format,
            through: keys::decode_position(rest)?,
            vocabulary: u64::from_be_bytes(rest.get(8..16)?.try_into().ok()?),
        })
    }

    /// The stored state of the indexes (now, or in a snapshot of them), if any.
    pub fn load(index: &impl ReadIndex) -> Result<Option<IndexState>, StoreError> {
        let key = keys::index_meta_key(STATE_KEY);
        Ok(index
            .get(Space::Index, &key)?
            .and_then(|value| IndexState::decode(&value)))
    }
}

/// A stable fingerprint of the symmetric relations (FNV-1a over their keys in order).
pub fn fingerprint(symmetric: &SymmetricRelations) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for key in symmetric.iter() {
        for byte in key.as_str().bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// The running indexer; stopped and joined on drop.
pub struct Indexer {
    stop: Arc<AtomicBool>,
    /// Readers waiting for the indexes to reach some position: while any wait, the indexer
    /// indexes what there is at once rather than lingering for a fuller batch.
    waiting: Arc<AtomicUsize>,
    wake: std::sync::mpsc::SyncSender<()>,
    thread: Option<JoinHandle<()>>,
}

/// A reader's claim on the indexer's haste; released on drop (also when the waiting call is
/// cancelled).
pub struct Hurry {
    waiting: Arc<AtomicUsize>,
}

impl Drop for Hurry {
    fn drop(&mut self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What the indexer thread works with.
pub struct IndexerParts {
    /// The log it reads.
    pub log: Arc<SledLog>,
    /// The indexes it writes.
    pub index: Arc<FjallIndex>,
    /// The durable head it follows.
    pub head: watch::Receiver<Position>,
    /// Told every new watermark.
    pub indexed: watch::Sender<Position>,
    /// Where it starts: the stored watermark.
    pub through: Position,
    /// The writer's committed groups, which spare it reading them back from the log.
    pub feed: IndexFeed,
    /// Told how many entries came from the feed and how many from the log.
    pub sources: Arc<IndexSources>,
    /// The vocabulary's symmetric relations (the graph depends on them).
    pub symmetric: SymmetricRelations,
    /// Asked before each chunk: the indexer pauses when the disk is nearly full.
    pub disk: Arc<DiskSpace>,
}

impl Indexer {
    /// Starts the thread. `wake` is what the writer signals after each group commit; `wake_tx`
    /// is kept to wake the thread on drop.
    pub fn start(
        parts: IndexerParts,
        wake_tx: std::sync::mpsc::SyncSender<()>,
        wake: Receiver<()>,
    ) -> Result<Indexer, StoreError> {
        let stop = Arc::new(AtomicBool::new(false));
        let waiting = Arc::new(AtomicUsize::new(0));
        let signals = Signals {
            wake,
            stop: Arc::clone(&stop),
            waiting: Arc::clone(&waiting),
        };
        let thread = std::thread::Builder::new()
            .name("eventlog-indexer".into())
            .spawn(move || run(parts, &signals))
            .map_err(|e| StoreError::Task(format!("cannot start the indexer thread: {e}")))?;
        Ok(Indexer {
            stop,
            waiting,
            wake: wake_tx,
            thread: Some(thread),
        })
    }

    /// Tells the indexer a reader is waiting for it, until the returned guard is dropped.
    pub fn hurry(&self) -> Hurry {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        // A full channel means the thread is already awake.
        let _ = self.wake.try_send(());
        Hurry {
            waiting: Arc::clone(&self.waiting),
        }
    }
}

/// What tells the indexer thread to work, hurry or stop.
struct Signals {
    wake: Receiver<()>,
    stop: Arc<AtomicBool>,
    waiting: Arc<AtomicUsize>,
}

impl Drop for Indexer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.wake.try_send(());
        if let Some(thread) = self.thread.take() {
            // A panic there has already been reported by the panic hook.
            let _ = thread.join();
        }
    }
}

fn run(mut parts: IndexerParts, signals: &Signals) {
    priority::yield_to_the_write_path();
    let mut through = parts.through;
    let mut catching_up: Option<Instant> = None;
    // When the indexer first saw entries it has not indexed yet.
    let mut behind_since: Option<Instant> = None;
    let mut full_lists = FullLists::default();
    while !signals.stop.load(Ordering::Acquire) {
        let head = *parts.head.borrow();
        if head <= through {
            behind_since = None;
            if let Some(started) = catching_up.take() {
                tracing::info!(
                    through = through.0,
                    seconds = started.elapsed().as_secs_f64(),
                    "indexes caught up with the log"
                );
            }
            match signals.wake.recv_timeout(IDLE_WAIT) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let since = *behind_since.get_or_insert_with(Instant::now);
        let lingered = since.elapsed();
        if head.0 - through.0 < CHUNK as u64
            && lingered < LINGER
            && signals.waiting.load(Ordering::Acquire) == 0
        {
            match signals.wake.recv_timeout(LINGER - lingered) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        if head.0 - through.0 > CHUNK as u64 * 8 && catching_up.is_none() {
            tracing::info!(from = through.0 + 1, head = head.0, "indexing the log");
            catching_up = Some(Instant::now());
        }
        if parts.disk.check_background(0).is_err() {
            // Said once by the guard; indexing resumes when space does.
            std::thread::sleep(RETRY_WAIT);
            continue;
        }
        let indexed = parts
            .feed
            .next_chunk(&parts.log, through, head, CHUNK)
            .and_then(|chunk| {
                let entries = chunk.entries();
                let last = index_entries(
                    &parts.index,
                    &parts.log,
                    &parts.symmetric,
                    &mut full_lists,
                    &entries,
                )?;
                chunk.count(entries.len(), &parts.sources);
                Ok(last.unwrap_or(through))
            });
        match indexed {
            Ok(last) => {
                through = last;
                behind_since = None;
                parts.indexed.send_replace(last);
                if catching_up.is_some() && last.0 % (CHUNK as u64 * 64) < CHUNK as u64 {
                    tracing::info!(through = last.0, head = head.0, "indexing the log");
                }
            }
            Err(error) => {
                tracing::error!(%error, through = through.0, "indexing failed; retrying");
                std::thread::sleep(RETRY_WAIT);
            }
        }
    }
}

/// Indexes the entries after `through` (at most `CHUNK`, never past `head`), read from the log,
/// in one batch and returns the last position it covered.
#[cfg(test)]
fn index_chunk(
    log: &SledLog,
    index: &FjallIndex,
    symmetric: &SymmetricRelations,
    full_lists: &mut FullLists,
    through: Position,
    head: Position,
) -> Result<Position, StoreError> {
    let entries = log.scan(through.next(), head, CHUNK)?;
    let entries: Vec<&Entry> = entries.iter().collect();
    Ok(index_entries(index, log, symmetric, full_lists, &entries)?.unwrap_or(through))
}

/// Indexes `entries` (consecutive, the first right after the indexes' watermark) in one batch
/// and returns the last position covered (`None` for no entries). `full_lists` must describe
/// the graph as stored (the same value, from one call to the next, or a new one).
fn index_entries(
    index: &FjallIndex,
    log: &SledLog,
    symmetric: &SymmetricRelations,
    full_lists: &mut FullLists,
    entries: &[&Entry],
) -> Result<Option<Position>, StoreError> {
    let Some(last) = entries.last().map(|e| e.position) else {
        return Ok(None);
    };
    let mut batch = plan_chunk(log, index, entries)?;
    let (graph_batch, graph_writes) =
        graph_store::writes_for_chunk(log, index, entries, symmetric, full_lists)?;
    batch.extend(graph_batch);
    let state = IndexState {
        format: INDEX_FORMAT,
        through: last,
        vocabulary: fingerprint(symmetric),
    };
    batch.put(
        Space::Index,
        keys::index_meta_key(STATE_KEY),
        state.encode(),
    );
    if let Err(error) = index.apply(batch) {
        // Whether any of it was stored is unknown: what was known of the lists is forgotten.
        full_lists.forget();
        return Err(error);
    }
    graph_writes.applied(full_lists);
    Ok(Some(last))
}

/// Rebuilds the derived indexes of a closed data directory so that they cover the log only up
/// to `through` (none at all for `None`), exactly as an indexer stopped there would have left
/// them: for tests of the catch-up on open.
#[cfg(test)]
pub fn rebuild_only_through(
    config: &super::StoreConfig,
    through: Option<Position>,
) -> Result<(), StoreError> {
    let log = SledLog::open(&config.path, config.cache_capacity_bytes)?;
    let index = FjallIndex::open(&config.path, config.cache_capacity_bytes)?;
    index.clear_derived()?;
    let Some(target) = through else {
        return Ok(());
    };
    let mut at = Position::ZERO;
    let mut full_lists = FullLists::default();
    while at < target {
        let next = index_chunk(&log, &index, &config.symmetric, &mut full_lists, at, target)?;
        if next == at {
            break;
        }
        at = next;
    }
    Ok(())
}

/// The `index` keyspace writes of a chunk of consecutive entries, postings gathered into one
/// block per list. An actor revised twice in one chunk is diffed against its revision earlier
/// in the chunk, which the index does not hold yet.
fn plan_chunk(
    log: &SledLog,
    index: &FjallIndex,
    entries: &[&Entry],
) -> Result<IndexBatch, StoreError> {
    let mut batch = IndexBatch::default();
    let mut blocks = BlockBuilder::default();
    let mut revised: HashMap<EntryId, Actor> = HashMap::new();
    for entry in entries {
        let previous = match &entry.body {
            EntryBody::Actor(actor) => match revised.get(&actor.id) {
                Some(earlier) => Some(earlier.clone()),
                None => indexed_revision(log, index, &actor.id)?,
            },
            _ => None,
        };
        // Removals first: a key the entry both drops and writes (never, today) ends up written.
        let writes = index_writes(entry.position, &entry.body, previous.as_ref());
        for key in writes.deletes {
            batch.delete(Space::Index, key);
        }
        for (key, value) in writes.puts {
            batch.put(Space::Index, key, value);
        }
        for posting in writes.postings {
            blocks.add(posting).map_err(StoreError::Encode)?;
        }
        if let EntryBody::Actor(actor) = &entry.body {
            revised.insert(actor.id.clone(), Actor::clone(actor));
        }
    }
    for (key, value) in blocks.into_writes() {
        batch.put(Space::Index, key, value);
    }
    Ok(batch)
}

/// The revision of an actor the index currently lists, read from the log.
fn indexed_revision(
    log: &SledLog,
    index: &FjallIndex,
    id: &EntryId,
) -> Result<Option<Actor>, StoreError> {
    let Some(value) = index.get(Space::Index, &keys::actor_key(id))? else {
        return Ok(None);
    };
    let position = keys::decode_position(&value).ok_or_else(|| StoreError::Corrupt {
        key: format!("index/actor {}", id.as_str()),
        reason: "bad actor listing value".into(),
    })?;
    Ok(match log.read_at(position)? {
        Some(Entry {
            body: EntryBody::Actor(actor),
            ..
        }) => Some(actor.into_inner()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_round_trips_and_refuses_short_values() {
        let state = IndexState {
            format: INDEX_FORMAT,
            through: Position(1_234_567),
            vocabulary: 0xdead_beef_0042,
        };
        assert_eq!(IndexState::decode(&state.encode()), Some(state));
        assert_eq!(IndexState::decode(&state.encode()[..10]), None);
        assert_eq!(IndexState::decode(&[]), None);
    }

    #[test]
    fn the_fingerprint_changes_with_the_symmetric_relations() {
        let vocabulary = crate::domain::Vocabulary::builtin();
        let all: SymmetricRelations = Arc::new(vocabulary.symmetric_keys());
        let mut fewer = (*all).clone();
        let first = fewer.iter().next().cloned().expect("a symmetric relation");
        fewer.remove(&first);
        assert_ne!(fingerprint(&all), fingerprint(&Arc::new(fewer)));
        assert_eq!(fingerprint(&all), fingerprint(&all.clone()));
    }
}
