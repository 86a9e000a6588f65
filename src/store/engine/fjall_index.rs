//! The fjall engine: the only code that opens, reads or writes fjall, which holds the derived
//! indexes.
//!
//! Why a second engine: an LSM tree appends writes to a journal and sorts them in memory, so a
//! small random key costs about a microsecond where sled costs 10-15 (measured for issue 11: at a
//! dozen index keys per event, fjall 23k events/s and ≈1.3 KB per event against sled's 5.3k and
//! 4.2 KB). And why that is safe: nothing here is the record. Every key can be recomputed from
//! the log, so no write here is ever fsynced on the append path; each batch carries the
//! watermark of what it covers, fjall recovers a prefix of its batches after a crash, and the
//! store catches up from the recovered watermark. An index this release cannot read, or one
//! fjall refuses to open, is deleted and rebuilt from the log.
//!
//! Three keyspaces (see `keys`): `ids` (written synchronously by the writer, right after each
//! durable group commit, in a database of its own), `index` and `graph` (written by the indexer
//! thread behind the head).

use std::ops::Bound;
use std::path::{Path, PathBuf};

use fjall::{Database, Keyspace, KeyspaceCreateOptions, Readable};

use crate::domain::{EntryId, EntryKind, Position};
use crate::store::error::StoreError;
use crate::store::keys;
use crate::store::priority;

/// The directory of the index database inside the data directory. The name carries the index
/// format: a release that changes it uses a new name, and the old directory is deleted.
pub const INDEX_DIR: &str = "index-v4";
/// The two databases inside `INDEX_DIR`: the derived indexes, and the id index (see
/// [`FjallIndex`] for why apart).
const DERIVED_DIR: &str = "derived";
const IDS_DIR: &str = "ids";
/// Bytes of journal each index database keeps at most (fjall's minimum).
const MAX_JOURNALS: u64 = 64 * 1024 * 1024;
/// Index directories of earlier formats, removed on open (the store rebuilds what they held from
/// the log). `index-v2` held all keyspaces in one database (development builds only; no release
/// wrote it); `index-v3` had whole-table bloom filters below level 0 (see [`filter_partitions`]),
/// and fjall keeps a keyspace's table options for good.
const OLD_INDEX_DIRS: &[&str] = &["index-v2", "index-v3"];

/// Which keyspace of derived state a read or write is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Space {
    /// Names, words, the actor listing, query postings, corrections, the indexes' metadata.
    Index,
    /// The relation graph.
    Graph,
}

/// A key range, either end included, excluded or open.
pub type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// A stream of key-value pairs read from the index.
pub type KeyValues = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + Send>;

/// Writes to derived state that must land together, in the order they were made: a later
/// write of a key replaces an earlier one (an actor renamed twice in one batch keeps its last
/// names), so the batch holds one operation per key.
#[derive(Debug, Default)]
pub struct IndexBatch {
    /// Key -> its new value, or `None` to remove it.
    writes: std::collections::BTreeMap<(Space, Vec<u8>), Option<Vec<u8>>>,
}

impl IndexBatch {
    /// Sets `key` to `value`.
    pub fn put(&mut self, space: Space, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert((space, key), Some(value));
    }

    /// Removes `key`.
    pub fn delete(&mut self, space: Space, key: Vec<u8>) {
        self.writes.insert((space, key), None);
    }

    /// Adds the writes of `later`, made after these.
    pub fn extend(&mut self, later: IndexBatch) {
        self.writes.extend(later.writes);
    }
}

/// The index databases and their keyspaces.
///
/// Why the id index is a database of its own: fjall serialises the batches of one database
/// through its journal, and the indexer's batches (thousands of entries' index keys) held the
/// writer's id batch (a hundred keys, on the path of every acknowledgement) behind them.
/// Measured at 300k events: the writer's id write took 570 µs per group beside the indexer and
/// 140 µs without it, a seventh of an acknowledgement's time.
pub struct FjallIndex {
    db: Database,
    ids_db: Database,
    ids: Keyspace,
    index: Keyspace,
    graph: Keyspace,
}

/// A consistent view of the derived state at one moment.
pub struct IndexSnapshot {
    snapshot: fjall::Snapshot,
    index: Keyspace,
    graph: Keyspace,
}

impl FjallIndex {
    /// Opens (or creates) the index database under `data_dir`, with its block cache capped at
    /// `cache_bytes`. An index fjall cannot open is deleted and created empty: the store then
    /// rebuilds it from the log.
    pub fn open(data_dir: &Path, cache_bytes: u64) -> Result<FjallIndex, StoreError> {
        for old in OLD_INDEX_DIRS {
            let old = data_dir.join(old);
            if old.exists() {
                tracing::info!(path = %old.display(), "removing an index of an older format");
                std::fs::remove_dir_all(&old).map_err(|e| io("remove old index", &old, e))?;
            }
        }
        let path = data_dir.join(INDEX_DIR);
        match Self::try_open(&path, cache_bytes) {
            Ok(index) => Ok(index),
            Err(error) if path.exists() => {
                tracing::warn!(%error, path = %path.display(),
                    "the index cannot be opened; deleting it to rebuild it from the log");
                std::fs::remove_dir_all(&path).map_err(|e| io("remove damaged index", &path, e))?;
                Self::try_open(&path, cache_bytes)
            }
            Err(error) => Err(error),
        }
    }

    fn try_open(path: &Path, cache_bytes: u64) -> Result<FjallIndex, StoreError> {
        // The id index gets an eighth of the cache: its reads are point lookups of new ids,
        // which the bloom filters answer without reading a block.
        let ids_cache = cache_bytes / 8;
        // One flush-and-compaction worker per database, not two: with two, fjall's first worker
        // hands every compaction on to the second and, while the second is busy, takes the same
        // message back at once, spinning. Measured on 1M GDELT rows (two runs each): the derived
        // database's workers used 5.8–5.9 s of CPU with one worker against 8.5–9.5 s with two,
        // and the import took 26.9–27.7 s against 27.1–29.4 s.
        let db = open_database(path.join(DERIVED_DIR), cache_bytes - ids_cache, 1)?;
        let ids_db = open_database(path.join(IDS_DIR), ids_cache, 1)?;
        // Memtables are bounded per keyspace, so the index's memory is the cache plus these.
        let options = |memtable: u64| {
            move || {
                KeyspaceCreateOptions::default()
                    .max_memtable_size(memtable)
                    .filter_block_partitioning_policy(filter_partitions())
            }
        };
        let ids = ids_db.keyspace("ids", options(8 << 20)).map_err(engine)?;
        let index = db.keyspace("index", options(24 << 20)).map_err(engine)?;
        let graph = db.keyspace("graph", options(8 << 20)).map_err(engine)?;
        Ok(FjallIndex {
            db,
            ids_db,
            ids,
            index,
            graph,
        })
    }

    /// How far the id index covers the log.
    pub fn ids_through(&self) -> Result<Position, StoreError> {
        let value = self.ids.get(keys::IDS_THROUGH).map_err(engine)?;
        Ok(value
            .as_deref()
            .and_then(keys::decode_position)
            .unwrap_or(Position::ZERO))
    }

    /// The position and kind of the entry with this id (for an actor, its latest revision).
    pub fn lookup(&self, id: &EntryId) -> Result<Option<(Position, EntryKind)>, StoreError> {
        match self.ids.get(keys::id_key(id)).map_err(engine)? {
            None => Ok(None),
            Some(value) => keys::decode_id_value(&value)
                .map(Some)
                .ok_or_else(|| corrupt("ids", id.as_str().as_bytes())),
        }
    }

    /// Records where entries' ids are, and that the id index now covers `through`. Not synced:
    /// after a crash the store re-derives what fjall lost from the log.
    pub fn put_ids<'a>(
        &self,
        ids: impl IntoIterator<Item = (&'a EntryId, Position, EntryKind)>,
        through: Position,
    ) -> Result<(), StoreError> {
        let mut batch = self.ids_db.batch();
        for (id, position, kind) in ids {
            batch.insert(
                &self.ids,
                keys::id_key(id),
                keys::encode_id_value(position, kind).to_vec(),
            );
        }
        batch.insert(
            &self.ids,
            keys::IDS_THROUGH,
            keys::encode_position(through).to_vec(),
        );
        batch.commit().map_err(engine)
    }

    /// Applies writes to derived state and the metadata that says what they cover, atomically.
    pub fn apply(&self, batch: IndexBatch) -> Result<(), StoreError> {
        let mut write = self.db.batch();
        for ((space, key), value) in batch.writes {
            match value {
                Some(value) => write.insert(self.keyspace(space), key, value),
                None => write.remove(self.keyspace(space), key),
            }
        }
        write.commit().map_err(engine)
    }

    /// A consistent view of the derived state as of now.
    pub fn snapshot(&self) -> IndexSnapshot {
        IndexSnapshot {
            snapshot: self.db.snapshot(),
            index: self.index.clone(),
            graph: self.graph.clone(),
        }
    }

    /// Removes all derived state (not the ids), for a rebuild from the log.
    pub fn clear_derived(&self) -> Result<(), StoreError> {
        self.index.clear().map_err(engine)?;
        self.graph.clear().map_err(engine)
    }

    /// Removes the id index too, for a rebuild from the log.
    pub fn clear_ids(&self) -> Result<(), StoreError> {
        self.ids.clear().map_err(engine)
    }

    /// Bytes the index takes on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.disk_space().map_err(engine)? + self.ids_db.disk_space().map_err(engine)?)
    }

    fn keyspace(&self, space: Space) -> &Keyspace {
        match space {
            Space::Index => &self.index,
            Space::Graph => &self.graph,
        }
    }
}

/// Reads of derived state: from the index as fjall holds it now, or from a snapshot of it.
/// One trait, so code that reads (the graph, the indexes' state) is written once for both.
pub trait ReadIndex {
    /// The value of `key` in `space`.
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// The key-value pairs of `space` in `range`, forwards or backwards.
    fn scan(&self, space: Space, range: KeyRange, reverse: bool) -> KeyValues;
}

impl ReadIndex for FjallIndex {
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .keyspace(space)
            .get(key)
            .map_err(engine)?
            .map(|v| v.to_vec()))
    }

    fn scan(&self, space: Space, range: KeyRange, reverse: bool) -> KeyValues {
        pairs(self.keyspace(space).range(range), reverse)
    }
}

impl ReadIndex for IndexSnapshot {
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .snapshot
            .get(self.keyspace(space), key)
            .map_err(engine)?
            .map(|v| v.to_vec()))
    }

    fn scan(&self, space: Space, range: KeyRange, reverse: bool) -> KeyValues {
        pairs(self.snapshot.range(self.keyspace(space), range), reverse)
    }
}

impl IndexSnapshot {
    fn keyspace(&self, space: Space) -> &Keyspace {
        match space {
            Space::Index => &self.index,
            Space::Graph => &self.graph,
        }
    }
}

/// Bloom filters in 4 KiB partitions below level 0 (level 0's are pinned in memory whole).
///
/// Why: fjall's block cache is sharded (four shards per core) and never keeps a block heavier
/// than 80 % of a shard: with the default 256 MiB cache, whose eighth is the id index's, 3.2 MiB
/// on two cores. A table's whole filter is about 1.25 bytes per key, so the filter of a large
/// table (a few million ids; 650k with the benches' 64 MiB cache) was read from disk and
/// checksummed again on every lookup: measured with `cargo bench --bench append`, 41 % of the
/// writer thread's time went to loading filter blocks while it checked that new ids were new. Partitions are small enough to stay
/// cached, and their top-level index, which fjall pins, is about 12 bytes per 3,000 keys.
fn filter_partitions() -> fjall::config::PartitioningPolicy {
    fjall::config::PinningPolicy::new([false, true])
}

/// Opens one fjall database on a background-priority thread, so the flush and compaction
/// workers it starts inherit that priority (see `store::priority`).
fn open_database(path: PathBuf, cache_bytes: u64, workers: usize) -> Result<Database, StoreError> {
    let builder = Database::builder(path)
        .cache_size(cache_bytes.max(1024 * 1024))
        // fjall replays its journals into memtables on open, and by default keeps up to 512 MiB
        // of them; the least it allows bounds the replay (and so a restart) to a fraction of that.
        .max_journaling_size(MAX_JOURNALS)
        .worker_threads(workers);
    priority::spawn_background("eventlog-index-open", move || builder.open())
        .map_err(|e| StoreError::Task(format!("cannot open the index: {e}")))?
        .map_err(engine)
}

fn pairs(iter: fjall::Iter, reverse: bool) -> KeyValues {
    let iter: Box<dyn Iterator<Item = fjall::Guard> + Send> = if reverse {
        Box::new(iter.rev())
    } else {
        Box::new(iter)
    };
    Box::new(iter.map(|guard| {
        let (key, value) = guard.into_inner().map_err(engine)?;
        Ok((key.to_vec(), value.to_vec()))
    }))
}

fn engine(error: fjall::Error) -> StoreError {
    StoreError::Engine(format!("index: {error}"))
}

fn corrupt(space: &str, key: &[u8]) -> StoreError {
    StoreError::Corrupt {
        key: format!("{space}/{}", String::from_utf8_lossy(key).escape_debug()),
        reason: "bad index value".into(),
    }
}

fn io(what: &str, path: &Path, error: std::io::Error) -> StoreError {
    StoreError::Engine(format!("{what} {}: {error}", path.display()))
}
