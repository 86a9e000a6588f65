//! The sled engine: the only code that opens, reads or writes sled.
//!
//! It stores what the writer decided and answers point and range reads; it makes no decisions
//! about what may be appended. Writes are one atomic `Batch` followed by a flush, so a crash
//! leaves either the whole group commit or none of it.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::domain::names::NameSource;
use crate::domain::{Entry, EntryBody, EntryId, EntryKind, Position, SubscriptionState};

use super::actor_index::{actor_index_keys, source_of_byte};
use super::error::StoreError;
use super::keys;
use super::postings::{postings, superseded_prefix, supersession_keys};
use super::record::{decode_id_value, decode_record, encode_id_value};

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

/// A range of keys, either end included, excluded or open.
pub type KeyRange = (std::ops::Bound<Vec<u8>>, std::ops::Bound<Vec<u8>>);

/// One new entry to write, as the writer planned it.
pub struct CommitRecord<'a> {
    /// Where it goes.
    pub position: Position,
    /// The encoded record (see `record`).
    pub record: Vec<u8>,
    /// What it says, for the indexes.
    pub body: &'a EntryBody,
    /// The actor revision it replaces, whose index keys must go.
    pub replaces: Option<&'a EntryBody>,
}

/// The sled database and the one tree that holds the log and its indexes.
pub struct SledLog {
    /// Kept for `flush` and `size_on_disk`, which are database-wide.
    db: sled::Db,
    /// All keyspaces (see `keys`), so one batch covers an entry and its indexes.
    tree: sled::Tree,
}

const TREE_NAME: &str = "eventlog";
/// How long `open` waits for a data directory another handle is releasing.
const LOCK_RETRY: Duration = Duration::from_secs(2);
const COUNTS_KEY: &str = "counts";
/// Metadata key of the query indexes' state: format version and the last position indexed.
const QUERY_INDEX_KEY: &str = "query_index";
/// Bump when the postings' encoding changes: older indexes are then dropped and rebuilt.
const QUERY_INDEX_VERSION: u8 = 1;
/// Entries indexed per batch while (re)building the query indexes.
const REBUILD_CHUNK: usize = 2_000;
/// Keys removed per batch while dropping an outdated index.
const DROP_CHUNK: usize = 10_000;

impl SledLog {
    /// Opens (or creates) the database in `path`, with sled's page cache capped at
    /// `cache_capacity` bytes so memory does not grow with the log.
    ///
    /// A directory still locked is retried for a moment before giving up: when a store is
    /// closed and reopened in one process, sled's background threads may hold the lock for a
    /// few milliseconds after the last handle is dropped.
    pub fn open(path: &Path, cache_capacity: u64) -> Result<SledLog, StoreError> {
        let deadline = Instant::now() + LOCK_RETRY;
        loop {
            match Self::try_open(path, cache_capacity) {
                Err(StoreError::Locked { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                result => return result,
            }
        }
    }

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
                other => StoreError::Engine(other),
            })?;
        let tree = db.open_tree(TREE_NAME)?;
        Ok(SledLog { db, tree })
    }

    /// The position of the last entry on disk.
    pub fn last_position(&self) -> Result<Position, StoreError> {
        match self.tree.scan_prefix([keys::LOG]).next_back() {
            None => Ok(Position::ZERO),
            Some(item) => {
                let (key, _) = item?;
                keys::position_of_log_key(&key).ok_or_else(|| corrupt(&key, "bad log key"))
            }
        }
    }

    /// The counters as last committed.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        let key = keys::meta_key(COUNTS_KEY);
        match self.tree.get(&key)? {
            None => Ok(Counts::default()),
            Some(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| corrupt(&key, &e.to_string()))
            }
        }
    }

    /// The entry at `position`, if there is one.
    pub fn read_at(&self, position: Position) -> Result<Option<Entry>, StoreError> {
        let key = keys::log_key(position);
        match self.tree.get(key)? {
            None => Ok(None),
            Some(bytes) => decode_entry(position, &bytes).map(Some),
        }
    }

    /// Up to `max` consecutive entries from `from` up to and including `to`.
    pub fn scan(&self, from: Position, to: Position, max: usize) -> Result<Vec<Entry>, StoreError> {
        if from > to || max == 0 {
            return Ok(Vec::new());
        }
        let mut entries = Vec::with_capacity(max.min(1024));
        for item in self
            .tree
            .range(keys::log_key(from)..=keys::log_key(to))
            .take(max)
        {
            let (key, bytes) = item?;
            let position =
                keys::position_of_log_key(&key).ok_or_else(|| corrupt(&key, "bad log key"))?;
            entries.push(decode_entry(position, &bytes)?);
        }
        Ok(entries)
    }

    /// The position and kind of the entry with this id (for an actor, its latest revision).
    pub fn lookup(&self, id: &EntryId) -> Result<Option<(Position, EntryKind)>, StoreError> {
        let key = keys::id_key(id);
        match self.tree.get(&key)? {
            None => Ok(None),
            Some(value) => decode_id_value(&value)
                .map(Some)
                .ok_or_else(|| corrupt(&key, "bad id index value")),
        }
    }

    /// Actors with a name, alias or id that folds to exactly `folded`.
    pub fn exact_names(&self, folded: &str) -> Result<Vec<(String, NameSource)>, StoreError> {
        let mut found = Vec::new();
        for item in self.tree.scan_prefix(keys::exact_name_prefix(folded)) {
            let (key, value) = item?;
            if let Some((_, id)) = keys::split_text_and_id(&key) {
                let source = source_of_byte(value.first().copied().unwrap_or(u8::MAX));
                found.push((id.to_string(), source));
            }
        }
        Ok(found)
    }

    /// Up to `cap` actors with a folded name that starts with `folded`.
    pub fn names_with_prefix(&self, folded: &str, cap: usize) -> Result<Vec<String>, StoreError> {
        let mut found = Vec::new();
        for item in self.tree.scan_prefix(keys::name_prefix(folded)).take(cap) {
            let (key, _) = item?;
            if let Some((_, id)) = keys::split_text_and_id(&key) {
                found.push(id.to_string());
            }
        }
        Ok(found)
    }

    /// Up to `cap` actors with `word` in one of their names.
    pub fn actors_with_word(&self, word: &str, cap: usize) -> Result<Vec<String>, StoreError> {
        let mut found = Vec::new();
        for item in self.tree.scan_prefix(keys::word_prefix(word)).take(cap) {
            let (key, _) = item?;
            if let Some((_, id)) = keys::split_text_and_id(&key) {
                found.push(id.to_string());
            }
        }
        Ok(found)
    }

    /// True if the actor has `word` in one of its names.
    pub fn actor_has_word(&self, word: &str, actor: &EntryId) -> Result<bool, StoreError> {
        Ok(self.tree.contains_key(keys::word_key(word, actor))?)
    }

    /// Up to `cap` actors in id order after `after`, with their latest positions.
    pub fn actors_after(
        &self,
        after: Option<&EntryId>,
        cap: usize,
    ) -> Result<Vec<Position>, StoreError> {
        let start = match after {
            // The smallest key greater than the actor key of `after`.
            Some(id) => {
                let mut key = keys::actor_key(id);
                key.push(0);
                key
            }
            None => vec![keys::ACTOR],
        };
        let mut found = Vec::new();
        for item in self.tree.range(start..[keys::ACTOR + 1].to_vec()).take(cap) {
            let (key, value) = item?;
            found.push(
                keys::decode_position(&value).ok_or_else(|| corrupt(&key, "bad actor value"))?,
            );
        }
        Ok(found)
    }

    /// Writes the records and counters in one atomic batch, then flushes to disk.
    pub fn commit(
        &self,
        records: Vec<CommitRecord<'_>>,
        counts: &Counts,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        let mut indexed_through = None;
        let mut writes = 0;
        for record in records {
            let id = record.body.id();
            indexed_through = indexed_through.max(Some(record.position));
            writes += 2 + add_query_postings(&mut batch, record.position, record.body);
            batch.insert(&keys::log_key(record.position), record.record);
            batch.insert(
                keys::id_key(id),
                &encode_id_value(record.position, record.body.kind()),
            );
            if let EntryBody::Actor(actor) = record.body {
                batch.insert(keys::actor_key(id), &keys::encode_position(record.position));
                let new_keys = actor_index_keys(actor);
                if let Some(EntryBody::Actor(old)) = record.replaces {
                    let old_keys = actor_index_keys(old);
                    for key in old_keys
                        .names
                        .keys()
                        .filter(|k| !new_keys.names.contains_key(*k))
                    {
                        batch.remove(key.as_slice());
                    }
                    for key in old_keys.words.difference(&new_keys.words) {
                        batch.remove(key.as_slice());
                    }
                }
                for (key, source) in new_keys.names {
                    batch.insert(key, &[source]);
                }
                for key in new_keys.words {
                    batch.insert(key, &[]);
                }
            }
        }
        let counts = serde_json::to_vec(counts).map_err(|e| StoreError::Encode(e.to_string()))?;
        batch.insert(keys::meta_key(COUNTS_KEY), counts);
        if let Some(position) = indexed_through {
            batch.insert(
                keys::meta_key(QUERY_INDEX_KEY),
                &query_index_state(position),
            );
        }
        self.tree.apply_batch(batch)?;
        reclaim_replaced_nodes(writes);
        self.db.flush()?;
        Ok(())
    }

    /// Makes the query indexes cover the whole log: they are written with the entries, so this
    /// only has work after an upgrade (no index, or one of an older format, which is dropped)
    /// or if the stored state is behind the log for any other reason.
    pub fn ensure_query_index(&self) -> Result<(), StoreError> {
        let head = self.last_position()?;
        let key = keys::meta_key(QUERY_INDEX_KEY);
        let state = self.tree.get(&key)?;
        let indexed = match state.as_deref() {
            Some([QUERY_INDEX_VERSION, position @ ..]) => keys::decode_position(position),
            _ => None,
        };
        let from = match indexed {
            Some(through) if through >= head => return Ok(()),
            Some(through) => through.next(),
            None => {
                self.drop_query_index()?;
                Position(1)
            }
        };
        tracing::info!(from = from.0, head = head.0, "building query indexes");
        let started = Instant::now();
        let mut next = from;
        while next <= head {
            let entries = self.scan(next, head, REBUILD_CHUNK)?;
            let Some(last) = entries.last().map(|e| e.position) else {
                break;
            };
            let mut batch = sled::Batch::default();
            let mut writes = 1;
            for entry in &entries {
                writes += add_query_postings(&mut batch, entry.position, &entry.body);
            }
            batch.insert(key.clone(), &query_index_state(last));
            self.tree.apply_batch(batch)?;
            reclaim_replaced_nodes(writes);
            next = last.next();
        }
        self.tree.insert(&key, &query_index_state(head))?;
        self.db.flush()?;
        tracing::info!(
            entries = head.0.saturating_sub(from.0 - 1),
            seconds = started.elapsed().as_secs_f64(),
            "query indexes built"
        );
        Ok(())
    }

    /// Makes the query indexes look missing (`None`) or indexed only up to a position, as an
    /// older version or an interrupted build would leave them.
    #[cfg(test)]
    pub fn reset_query_index(&self, indexed_through: Option<Position>) -> Result<(), StoreError> {
        let key = keys::meta_key(QUERY_INDEX_KEY);
        match indexed_through {
            None => {
                self.drop_query_index()?;
                self.tree.remove(key)?;
            }
            Some(position) => {
                self.tree.insert(key, &query_index_state(position))?;
            }
        }
        self.db.flush()?;
        Ok(())
    }

    fn drop_query_index(&self) -> Result<(), StoreError> {
        for prefix in [keys::QUERY, keys::SUPERSEDED] {
            loop {
                let mut batch = sled::Batch::default();
                let mut removed = 0;
                for item in self.tree.scan_prefix([prefix]).keys().take(DROP_CHUNK) {
                    batch.remove(item?);
                    removed += 1;
                }
                if removed == 0 {
                    break;
                }
                self.tree.apply_batch(batch)?;
            }
        }
        Ok(())
    }

    /// Walks index keys in `range`, forwards or backwards, decoding each with `decode` (keys
    /// it refuses are reported as corrupt).
    pub fn walk_index<T: 'static>(
        &self,
        range: KeyRange,
        reverse: bool,
        decode: fn(&[u8], &[u8]) -> Option<T>,
    ) -> Box<dyn Iterator<Item = Result<T, StoreError>> + Send> {
        let items = self.tree.range(range);
        let items: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>> + Send> =
            if reverse {
                Box::new(items.rev())
            } else {
                Box::new(items)
            };
        Box::new(items.map(move |item| {
            let (key, value) = item?;
            decode(&key, &value).ok_or_else(|| corrupt(&key, "bad index posting"))
        }))
    }

    /// The position of the first entry that supersedes `id`, if any.
    pub fn first_supersession(&self, id: &EntryId) -> Result<Option<Position>, StoreError> {
        match self.tree.scan_prefix(superseded_prefix(id)).keys().next() {
            None => Ok(None),
            Some(key) => {
                let key = key?;
                let at = key.len().saturating_sub(8);
                Ok(keys::decode_position(&key[at..]))
            }
        }
    }

    /// A named subscription's state.
    pub fn subscription(&self, name: &str) -> Result<Option<SubscriptionState>, StoreError> {
        let key = keys::subscription_key(name);
        match self.tree.get(&key)? {
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
            let (key, bytes) = item?;
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
        self.tree.insert(keys::subscription_key(name), bytes)?;
        self.db.flush()?;
        Ok(())
    }

    /// Removes a named subscription durably; false if there was none.
    pub fn delete_subscription(&self, name: &str) -> Result<bool, StoreError> {
        let existed = self.tree.remove(keys::subscription_key(name))?.is_some();
        self.db.flush()?;
        Ok(existed)
    }

    /// Bytes the database takes on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }
}

/// Frees the tree nodes that a batch of `writes` inserts replaced.
///
/// sled hands replaced nodes to crossbeam-epoch, which frees at most 8 bags of 64 objects per
/// collection and collects once every 128 pins of a thread. A group commit pins once and may
/// replace tens of thousands of nodes (each entry writes a dozen index keys), so left alone the
/// garbage outgrows collection and memory grows with every write (seen: 3.7 GiB after 400k
/// entries with a 64 MiB cache; with this, under 400 MiB). Pinning and flushing after each
/// batch runs enough collections to keep up. It relies on sled and this crate sharing
/// crossbeam-epoch's global collector, which they do while both use crossbeam-epoch 0.9.
fn reclaim_replaced_nodes(writes: usize) {
    for _ in 0..writes / 64 + 16 {
        crossbeam_epoch::pin().flush();
    }
}

/// Adds an entry's query postings and corrections to `batch`; returns how many keys it added.
fn add_query_postings(batch: &mut sled::Batch, position: Position, body: &EntryBody) -> usize {
    let postings = postings(position, body);
    let corrections = supersession_keys(position, body);
    let added = postings.len() + corrections.len();
    for (key, value) in postings {
        batch.insert(key, value);
    }
    for key in corrections {
        batch.insert(key, &[]);
    }
    added
}

fn query_index_state(indexed_through: Position) -> [u8; 9] {
    let mut state = [QUERY_INDEX_VERSION; 9];
    state[1..].copy_from_slice(&keys::encode_position(indexed_through));
    state
}

fn decode_entry(position: Position, bytes: &[u8]) -> Result<Entry, StoreError> {
    let (recorded_at, body) = decode_record(position, bytes)?;
    Ok(Entry {
        position,
        recorded_at,
        body,
    })
}

fn corrupt(key: &[u8], reason: &str) -> StoreError {
    StoreError::Corrupt {
        key: format!("key \"{}\"", String::from_utf8_lossy(key).escape_debug()),
        reason: reason.to_string(),
    }
}
