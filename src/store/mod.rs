//! The store: the durable log and its indexes, behind a narrow interface.
//!
//! [`Store`] is all the rest of the server sees of storage: append (through the group-commit
//! writer), read by position or id, resolve and list actors, answer queries from the query
//! indexes (`postings`, `query`), describe the log.
//!
//! Two engines, each behind one module: sled holds the log of record (`engine::sled_log`, one
//! key per entry), fjall the derived indexes (`engine::fjall_index`). The writer appends to the
//! log, flushes, records the new ids, and only then moves the head: readers never see past the
//! durable head, so nothing a client read can vanish in a crash. The indexer (`indexer`) brings
//! the other indexes up to the head behind it; queries wait for it (`wait_indexed`). The writes
//! an entry causes are pure code (`writes`, `postings`, `actor_index`), and every key is built
//! in `keys`. Consumer groups keep their durable state beside the log (`groups`).

mod actor_index;
mod backpressure;
mod disk_space;
mod engine;
mod error;
mod graph;
mod graph_store;
mod group_records;
pub mod groups;
mod index_feed;
mod index_reads;
mod indexer;
pub mod keys;
mod postings;
mod priority;
mod query;
pub mod record;
pub mod restore;
mod same_as_index;
mod stored;
mod writer;
mod writes;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, watch};

use crate::domain::names::{fold, near_spelling, words, Candidate, MatchQuality, NEAR_STEM_CHARS};
use crate::domain::{
    Actor, ActorKind, CountryCode, Entry, EntryBody, EntryId, Position, SubscriptionName,
    SubscriptionRejection, SubscriptionState, SymmetricRelations,
};

pub use disk_space::DiskReport;
pub use engine::sled_log::Counts;
pub use error::StoreError;
#[cfg(test)]
use query::SCAN_BUDGET;
pub use query::{QueryPage, RelationAnswer};
pub use record::RecordView;
pub use stored::{entry_of, CommittedGroup, StoredEntry};
pub use writer::{
    AppendError, AppendReceipt, AppendedEntry, CommittedEntries, PendingApply, StreamOrigin,
    LIVE_FEED_GROUPS,
};

use disk_space::DiskSpace;
use engine::fjall_index::FjallIndex;
use engine::sled_log::SledLog;
pub use index_feed::IndexedFrom;
use index_feed::{IndexFeed, IndexSources};
use indexer::{IndexState, Indexer, IndexerParts, INDEX_FORMAT};
use writer::{Writer, WriterParts};

/// How many index keys one name lookup examines at most, so a very common word cannot make
/// `ResolveActor` scan without bound.
const RESOLVE_SCAN_CAP: usize = 2_000;

/// Where and how to open the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The data directory (created if missing).
    pub path: PathBuf,
    /// Upper bound of the engines' caches in bytes: three quarters for sled's page cache (the
    /// log), one quarter for fjall's block cache (the indexes). Why not half each: the log is
    /// most of the data and every catch-up and every query result reads it, while index reads
    /// are short scans of compressed blocks; measured at 300k events with 256 MiB, a catch-up
    /// spent a fifth of the server's time paging log nodes back into sled at an even split.
    pub cache_capacity_bytes: u64,
    /// The vocabulary's symmetric relations: the relation graph is built with them, and
    /// rebuilt when they change.
    pub symmetric: SymmetricRelations,
    /// Bytes that must stay free on the data directory's filesystem: a write that would leave
    /// less is refused (see `disk_space`). 0 turns the check off.
    pub min_free_disk_bytes: u64,
    /// On a cluster node, the JetStream stream its log replicates (see `crate::cluster`): the
    /// log then takes only that stream's batches, in order. A data directory is one or the
    /// other for good, and opening it the other way is refused.
    pub cluster_stream: Option<String>,
}

/// A description of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogStats {
    /// The durable head.
    pub head: Position,
    /// How far the derived indexes cover the log.
    pub indexed: Position,
    /// Counters per kind.
    pub counts: Counts,
    /// Where the indexer took the entries it indexed since the store opened.
    pub indexed_from: IndexedFrom,
    /// Bytes on disk.
    pub size_on_disk: u64,
    /// Free space on the data directory's filesystem, and writes refused for want of it.
    pub disk: DiskReport,
}

/// Which actors `list_actors` returns.
#[derive(Debug, Clone, Default)]
pub struct ActorFilter {
    /// Only this kind.
    pub kind: Option<ActorKind>,
    /// Only this country.
    pub country: Option<CountryCode>,
}

/// A page of actors.
#[derive(Debug, Clone)]
pub struct ActorPage {
    /// Latest revisions, in id order.
    pub actors: Vec<Actor>,
    /// Where the next page starts, if there may be one.
    pub resume_after: Option<EntryId>,
}

/// Why a read that needs the indexes could not be served in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the indexes cover the log up to position {indexed}, short of the {wanted} this request \
     needs, and did not catch up within {waited_ms} ms; retry later"
)]
pub struct IndexLag {
    /// Where the indexes are.
    pub indexed: u64,
    /// What the request needed.
    pub wanted: u64,
    /// How long it waited.
    pub waited_ms: u64,
}

/// The durable log with its indexes.
pub struct Store {
    // Field order is drop order: the writer stops (answering every queued append) before the
    // indexer, and both before the engines close.
    writer: Writer,
    /// Held for its `Drop`, which stops and joins the thread.
    indexer: Indexer,
    log: Arc<SledLog>,
    index: Arc<FjallIndex>,
    /// The durable head; subscriptions and readers watch it.
    head: watch::Receiver<Position>,
    /// How far the derived indexes cover the log; queries wait on it.
    indexed: watch::Receiver<Position>,
    /// Every group commit's entries, right after the head moved past them.
    live: broadcast::Sender<CommittedEntries>,
    /// See `lock_subscriptions` (also taken by consumer groups' read-modify-writes).
    subscriptions_lock: std::sync::Mutex<()>,
    /// Checked before every write.
    disk: Arc<DiskSpace>,
    /// Where the indexer's entries came from (see `index_feed`).
    index_sources: Arc<IndexSources>,
}

impl Store {
    /// Opens the store: recovers head and counters from the log, brings the id index up to
    /// the head (re-deriving what a crash lost), upgrades a release 1 data directory, and
    /// starts the writer and the indexer. The other indexes catch up in the background.
    pub fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        let index_cache = config.cache_capacity_bytes / 4;
        let log_cache = config.cache_capacity_bytes - index_cache;
        let log = Arc::new(SledLog::open(&config.path, log_cache)?);
        let index = Arc::new(FjallIndex::open(&config.path, index_cache)?);
        let head = log.last_position()?;
        check_mode(&log, head, config.cluster_stream.as_deref())?;
        let applied = log.applied_sequence()?;
        let counts = log.counts()?;
        let through = prepare_indexes(&index, head, &config.symmetric)?;
        catch_up_ids(&log, &index, head)?;
        if log.has_legacy_indexes()? {
            log.drop_legacy_indexes()?;
        }
        let (head_tx, head_rx) = watch::channel(head);
        let (indexed_tx, indexed_rx) = watch::channel(through);
        let (live, _) = broadcast::channel(LIVE_FEED_GROUPS);
        let (wake_tx, wake_rx) = std::sync::mpsc::sync_channel(1);
        let disk = Arc::new(DiskSpace::new(&config.path, config.min_free_disk_bytes));
        let index_sources = Arc::new(IndexSources::default());
        let indexer = Indexer::start(
            IndexerParts {
                log: Arc::clone(&log),
                index: Arc::clone(&index),
                head: head_rx.clone(),
                indexed: indexed_tx,
                through,
                feed: IndexFeed::new(live.subscribe()),
                sources: Arc::clone(&index_sources),
                symmetric: Arc::clone(&config.symmetric),
                disk: Arc::clone(&disk),
            },
            wake_tx.clone(),
            wake_rx,
        )?;
        let head_recorded_at = match head {
            Position::ZERO => UNIX_EPOCH,
            head => log
                .read_at(head)?
                .map_or(UNIX_EPOCH, |entry| entry.recorded_at),
        };
        let writer = Writer::start(WriterParts {
            log: Arc::clone(&log),
            index: Arc::clone(&index),
            head,
            head_recorded_at,
            counts,
            head_tx,
            live_tx: live.clone(),
            indexer: wake_tx,
            indexed: indexed_rx.clone(),
            disk: Arc::clone(&disk),
            replicates: config.cluster_stream.clone(),
            applied,
        })?;
        Ok(Store {
            writer,
            indexer,
            log,
            index,
            head: head_rx,
            indexed: indexed_rx,
            live,
            subscriptions_lock: std::sync::Mutex::new(()),
            disk,
            index_sources,
        })
    }

    /// How far the derived indexes cover the log.
    pub fn indexed(&self) -> Position {
        *self.indexed.borrow()
    }

    /// Waits until the derived indexes cover `position` (and so the log reaches it), for at
    /// most `patience`. Queries call it with the head they arrived at (or the client's
    /// `min_position`), so an answer never misses an entry acknowledged before it was asked.
    pub async fn wait_indexed(
        &self,
        position: Position,
        patience: Duration,
    ) -> Result<Position, IndexLag> {
        if self.indexed() >= position {
            return Ok(self.indexed());
        }
        let _hurry = self.indexer.hurry();
        let mut indexed = self.indexed.clone();
        let started = Instant::now();
        let reached = tokio::time::timeout(patience, indexed.wait_for(|p| *p >= position)).await;
        match reached {
            Ok(Ok(at)) => Ok(*at),
            // Timed out, or the indexer is gone (shutting down): say where the indexes are.
            _ => Err(IndexLag {
                indexed: self.indexed().0,
                wanted: position.0,
                waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }

    /// Blocks the calling thread until the indexes cover `position`: for tests that use the
    /// store without a runtime.
    #[cfg(test)]
    pub fn wait_indexed_blocking(&self, position: Position, patience: Duration) -> bool {
        let deadline = Instant::now() + patience;
        let _hurry = self.indexer.hurry();
        while self.indexed() < position {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// Appends a batch atomically; returns once it is durable.
    pub async fn append(
        &self,
        entries: Vec<EntryBody>,
        expected_head: Option<Position>,
    ) -> Result<AppendReceipt, AppendError> {
        self.writer.append(entries, expected_head).await
    }

    /// Queues a batch of a cluster's stream for applying (see `crate::cluster`): `records` as
    /// [`Store::seal_for_replication`] made them on the node that published it, `entries` as
    /// [`Store::open_replicated`] read them back. Batches are applied in the order of these
    /// calls; the returned value resolves once this one is decided.
    pub async fn enqueue_replicated(
        &self,
        entries: Vec<EntryBody>,
        records: Vec<Vec<u8>>,
        expected_head: Option<Position>,
        origin: StreamOrigin,
    ) -> Result<PendingApply, AppendError> {
        self.writer
            .enqueue_replicated(entries, records, expected_head, origin)
            .await
    }

    /// Queues passing over a message of the stream that carries nothing this release can apply
    /// (every node of the release passes over it alike).
    pub async fn enqueue_pass_over(
        &self,
        origin: StreamOrigin,
    ) -> Result<PendingApply, AppendError> {
        self.writer
            .enqueue_replicated(Vec::new(), Vec::new(), None, origin)
            .await
    }

    /// The entries of a replicated batch's records; a damaged record (its checksum) is an
    /// error, never an entry.
    pub fn open_replicated(records: &[Vec<u8>]) -> Result<Vec<EntryBody>, StoreError> {
        records
            .iter()
            .map(|bytes| record::RecordView::parse(Position::ZERO, bytes)?.decode_body())
            .collect()
    }

    /// A batch as a cluster node publishes it: each entry in the record format, checksummed,
    /// so that every node decodes exactly what this one validated (no vocabulary or parsing
    /// of its own that could differ) and a damaged message is detected.
    pub fn seal_for_replication(entries: &[EntryBody]) -> Result<Vec<Vec<u8>>, StoreError> {
        entries
            .iter()
            .map(|body| {
                let mut bytes = record::encode_record(body)?;
                record::set_recorded_at(&mut bytes, UNIX_EPOCH);
                Ok(bytes)
            })
            .collect()
    }

    /// The stream sequence of the last replicated message applied (0 on an embedded node).
    pub fn applied_sequence(&self) -> u64 {
        self.writer.applied()
    }

    /// Checks a batch as [`Store::append`] would and answers what it would do, writing nothing.
    pub async fn validate(
        &self,
        entries: Vec<EntryBody>,
        expected_head: Option<Position>,
    ) -> Result<AppendReceipt, AppendError> {
        self.writer.validate(entries, expected_head).await
    }

    /// The position of the last durable entry.
    pub fn head(&self) -> Position {
        *self.head.borrow()
    }

    /// The live feed: the entries of every group commit from now on, published right after
    /// the head moved past them. A receiver that falls more than `LIVE_FEED_GROUPS` groups
    /// behind gets `Lagged` and must read the rest from the store.
    pub fn live(&self) -> broadcast::Receiver<CommittedEntries> {
        self.live.subscribe()
    }

    /// The entry at `position`, if it is durable.
    pub fn entry_at(&self, position: Position) -> Result<Option<Entry>, StoreError> {
        if position == Position::ZERO || position > self.head() {
            return Ok(None);
        }
        self.log.read_at(position)
    }

    /// The first position recorded at or after `time`, or the head + 1 if none is (a stream
    /// starting there waits for the next entry). Recording times never fall as positions rise
    /// (the writer sees to it), so this is a binary search: about 24 reads at 10M entries.
    pub fn first_recorded_at_or_after(&self, time: SystemTime) -> Result<Position, StoreError> {
        let (mut low, mut high) = (1, self.head().0 + 1);
        while low < high {
            let middle = low + (high - low) / 2;
            let recorded = self
                .log
                .read_at(Position(middle))?
                .ok_or_else(|| {
                    StoreError::corrupt_record(Position(middle), "missing below the head")
                })?
                .recorded_at;
            if recorded < time {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        Ok(Position(low))
    }

    /// The entry with this id (an actor's latest revision), if it is durable.
    pub fn entry_by_id(&self, id: &EntryId) -> Result<Option<Entry>, StoreError> {
        match self.index.lookup(id)? {
            Some((position, _)) => self.entry_at(position),
            None => Ok(None),
        }
    }

    /// Up to `max` consecutive durable entries starting at `from`, never past `until`, as
    /// stored: for readers that send them on without decoding. The read stops after the entry
    /// that brings it to `max_bytes` (at least one entry is read), so that a chunk of large
    /// entries costs what a chunk of small ones does. Positions are contiguous, so a read within
    /// the head that does not start at `from` has found a hole in the log: that is an error,
    /// never an empty or shifted chunk a reader would skip over (or spin on).
    pub fn read_stored(
        &self,
        from: Position,
        until: Position,
        max: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let from = from.max(Position(1));
        let until = until.min(self.head());
        let mut stored = Vec::with_capacity(max.min(1024));
        let mut bytes_read = 0;
        self.log.scan_raw(from, until, max, |position, bytes| {
            stored.push(StoredEntry::new(
                position,
                bytes::Bytes::copy_from_slice(bytes),
            ));
            bytes_read += bytes.len();
            Ok(if bytes_read >= max_bytes {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })?;
        if from <= until && max > 0 && stored.first().map(StoredEntry::position) != Some(from) {
            return Err(StoreError::Corrupt {
                key: format!("log position {from}"),
                reason: "the entry is missing although the head is past it".into(),
            });
        }
        Ok(stored)
    }

    /// Up to `max` consecutive durable entries starting at `from`, never past `until`.
    pub fn read(
        &self,
        from: Position,
        until: Position,
        max: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let from = from.max(Position(1));
        let until = until.min(self.head());
        self.log.scan(from, until, max)
    }

    /// The latest revision of an actor.
    pub fn actor(&self, id: &EntryId) -> Result<Option<(Actor, Entry)>, StoreError> {
        Ok(self.entry_by_id(id)?.and_then(|entry| match &entry.body {
            EntryBody::Actor(actor) => Some((Actor::clone(actor), entry)),
            _ => None,
        }))
    }

    /// Actors matching `name`, best first (see `MatchQuality`), at most `limit`.
    pub fn resolve_actor(&self, name: &str, limit: usize) -> Result<Vec<Actor>, StoreError> {
        Ok(self
            .resolve_ranked(name, limit)?
            .into_iter()
            .map(|(_, actor)| actor)
            .collect())
    }

    /// The actors `name` may mean, best first, with how each matched: at most `limit`, for
    /// `domain::names::pick_actor`.
    pub fn name_candidates(&self, name: &str, limit: usize) -> Result<Vec<Candidate>, StoreError> {
        Ok(self
            .resolve_ranked(name, limit)?
            .into_iter()
            .map(|(quality, actor)| Candidate {
                id: actor.id,
                name: actor.name,
                quality,
            })
            .collect())
    }

    /// Actors matching `name` with how each matched, best first, at most `limit`: what
    /// `ResolveActor` reports (see `domain::names::explain_match`).
    pub fn resolve_ranked(
        &self,
        name: &str,
        limit: usize,
    ) -> Result<Vec<(MatchQuality, Actor)>, StoreError> {
        let folded = fold(name);
        if folded.is_empty() {
            return Ok(Vec::new());
        }
        let mut best: HashMap<String, MatchQuality> = HashMap::new();
        let mut offer = |id: String, quality: MatchQuality| {
            best.entry(id)
                .and_modify(|q| *q = (*q).min(quality))
                .or_insert(quality);
        };
        for (id, source) in index_reads::exact_names(&self.index, &folded)? {
            offer(id, source.exact_quality());
        }
        for id in index_reads::names_with_prefix(&self.index, &folded, RESOLVE_SCAN_CAP)? {
            offer(id, MatchQuality::Prefix);
        }
        let query_words = words(&folded);
        // Walk the longest word (likely the rarest) and check the others per candidate.
        if let Some(anchor) = query_words.iter().max_by_key(|w| w.len()) {
            for id in index_reads::actors_with_word(&self.index, anchor, RESOLVE_SCAN_CAP)? {
                let Ok(actor_id) = EntryId::parse(&id) else {
                    continue;
                };
                let mut all = true;
                for word in query_words.iter().filter(|w| *w != anchor) {
                    if !index_reads::actor_has_word(&self.index, word, &actor_id)? {
                        all = false;
                        break;
                    }
                }
                if all {
                    offer(id, MatchQuality::AllWords);
                }
            }
        }
        // Near spellings only when nothing matched exactly and there is room for them: they
        // are suggestions for a name written another way, and the scan is the costliest part
        // of a resolution. Closest first.
        let mut closeness: HashMap<String, usize> = HashMap::new();
        if best.len() < limit && !best.values().any(|q| q.is_exact()) {
            let stem: String = folded.chars().take(NEAR_STEM_CHARS).collect();
            let mut near: Vec<(f64, String)> = Vec::new();
            for (name, id) in index_reads::names_from_stem(&self.index, &stem, RESOLVE_SCAN_CAP)? {
                if let Some(score) = near_spelling(&folded, &name) {
                    near.push((score, id));
                }
            }
            near.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            for (_, id) in near {
                if closeness.len() >= limit {
                    break;
                }
                if let std::collections::hash_map::Entry::Vacant(slot) = best.entry(id.clone()) {
                    slot.insert(MatchQuality::Near);
                    closeness.insert(id, closeness.len());
                }
            }
        }
        let mut ranked: Vec<(MatchQuality, usize, String)> = best
            .into_iter()
            .map(|(id, q)| (q, closeness.get(&id).copied().unwrap_or(0), id))
            .collect();
        ranked.sort();
        let mut actors = Vec::with_capacity(limit.min(ranked.len()));
        for (quality, _, id) in ranked.into_iter().take(limit) {
            let Ok(id) = EntryId::parse(&id) else {
                continue;
            };
            if let Some((actor, _)) = self.actor(&id)? {
                actors.push((quality, actor));
            }
        }
        Ok(actors)
    }

    /// A page of actors in id order after `after`, at most `limit`, matching `filter`.
    ///
    /// At most `limit * 20` actors are examined per call, so a filter that matches rarely
    /// returns a short (even empty) page with `resume_after` set rather than scanning on.
    /// `resume_after` is `None` once the listing is known to be complete.
    pub fn list_actors(
        &self,
        after: Option<&EntryId>,
        limit: usize,
        filter: &ActorFilter,
    ) -> Result<ActorPage, StoreError> {
        let budget = limit.saturating_mul(20).max(limit + 1);
        let positions = index_reads::actors_after(&self.index, after, budget)?;
        let examined = positions.len();
        let mut actors = Vec::new();
        let mut last_examined = None;
        for position in positions {
            let Some(entry) = self.entry_at(position)? else {
                continue;
            };
            let EntryBody::Actor(actor) = entry.body else {
                continue;
            };
            last_examined = Some(actor.id.clone());
            let kind_ok = filter.kind.is_none_or(|k| k == actor.kind);
            let country_ok = filter
                .country
                .as_ref()
                .is_none_or(|c| actor.country.as_ref() == Some(c));
            if kind_ok && country_ok {
                // One more than the page, to know whether another page follows.
                actors.push(actor.into_inner());
                if actors.len() > limit {
                    break;
                }
            }
        }
        let more_follow = actors.len() > limit;
        actors.truncate(limit);
        let resume_after = if more_follow {
            actors.last().map(|a| a.id.clone())
        } else if examined == budget {
            last_examined
        } else {
            None
        };
        Ok(ActorPage {
            actors,
            resume_after,
        })
    }

    /// Head, counters and size.
    pub fn stats(&self) -> Result<LogStats, StoreError> {
        Ok(LogStats {
            head: self.head(),
            indexed: self.indexed(),
            indexed_from: self.index_sources.read(),
            counts: self.log.counts()?,
            size_on_disk: self.log.size_on_disk()? + self.index.size_on_disk()?,
            disk: self.disk.report(),
        })
    }

    /// The named subscription `name`, created with `create(every existing subscription)` if
    /// it does not exist yet (which may refuse). Returns its state and whether it was created.
    pub fn open_subscription(
        &self,
        name: &SubscriptionName,
        create: impl FnOnce(&[SubscriptionState]) -> Result<SubscriptionState, SubscriptionRejection>,
    ) -> Result<Result<(SubscriptionState, bool), SubscriptionRejection>, StoreError> {
        let _guard = self.lock_subscriptions();
        if let Some(state) = self.log.subscription(name.as_str())? {
            return Ok(Ok((state, false)));
        }
        // Under the lock, so that two creations cannot both pass a cap `create` applies.
        let existing: Vec<SubscriptionState> = self
            .log
            .subscriptions()?
            .into_iter()
            .map(|(_, state)| state)
            .collect();
        let state = match create(&existing) {
            Ok(state) => state,
            Err(rejection) => return Ok(Err(rejection)),
        };
        self.disk.check(0)?;
        self.log.put_subscription(name.as_str(), &state)?;
        Ok(Ok((state, true)))
    }

    /// Stores `position` as the checkpoint of `name`, durably, if `may_commit` allows it for
    /// the subscription's state.
    pub fn commit_checkpoint(
        &self,
        name: &SubscriptionName,
        position: Position,
        may_commit: impl FnOnce(&SubscriptionState) -> Result<(), SubscriptionRejection>,
    ) -> Result<Result<SubscriptionState, SubscriptionRejection>, StoreError> {
        let _guard = self.lock_subscriptions();
        let Some(mut state) = self.log.subscription(name.as_str())? else {
            return Ok(Err(SubscriptionRejection::Unknown(name.to_string())));
        };
        if let Err(rejection) = may_commit(&state) {
            return Ok(Err(rejection));
        }
        let head = self.head();
        if position > head {
            return Ok(Err(SubscriptionRejection::BeyondHead { position, head }));
        }
        state.checkpoint = position;
        state.updated_at = SystemTime::now();
        self.disk.check(0)?;
        self.log.put_subscription(name.as_str(), &state)?;
        Ok(Ok(state))
    }

    /// Every named subscription, in name order.
    pub fn subscriptions(&self) -> Result<Vec<(String, SubscriptionState)>, StoreError> {
        self.log.subscriptions()
    }

    /// Deletes a named subscription; false if there was none.
    pub fn delete_subscription(&self, name: &SubscriptionName) -> Result<bool, StoreError> {
        let _guard = self.lock_subscriptions();
        self.disk.check(0)?;
        self.log.delete_subscription(name.as_str())
    }

    /// Serialises read-modify-write of named subscriptions. A std mutex: it is held only
    /// around blocking sled calls, never across an `.await`.
    fn lock_subscriptions(&self) -> std::sync::MutexGuard<'_, ()> {
        // A panic while holding this lock cannot leave the unit value inconsistent.
        self.subscriptions_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A data directory is an embedded node's or a cluster node's for good: a cluster node applies
/// its stream from the first message, so it starts from an empty log (or its own), and an
/// embedded server must not append to a log that other nodes hold copies of.
fn check_mode(log: &SledLog, head: Position, cluster: Option<&str>) -> Result<(), StoreError> {
    match (log.cluster_stream()?, cluster) {
        (None, None) => Ok(()),
        (Some(ours), Some(wanted)) if ours == wanted => Ok(()),
        // Nothing applied yet (a node that never reached NATS, say): the directory is still
        // anyone's.
        (Some(_), Some(wanted)) if head == Position::ZERO && log.applied_sequence()? == 0 => {
            log.set_cluster_stream(wanted)
        }
        (Some(_), None) if head == Position::ZERO && log.applied_sequence()? == 0 => {
            log.clear_cluster_stream()
        }
        (Some(ours), Some(wanted)) => Err(StoreError::WrongMode(format!(
            "this data directory replicates the stream {ours:?}, not {wanted:?} (--nats-stream): \
             use the data directory of a node of that stream, or an empty one"
        ))),
        (Some(ours), None) => Err(StoreError::WrongMode(format!(
            "this data directory belongs to a cluster node (stream {ours:?}): start it with \
             --nats-url, or restore a backup of it into another directory to serve it alone"
        ))),
        (None, Some(wanted)) if head == Position::ZERO => log.set_cluster_stream(wanted),
        (None, Some(_)) => Err(StoreError::WrongMode(format!(
            "this data directory holds an embedded node's log ({} entries): a cluster node \
             starts from an empty data directory and fills it from the stream",
            head.0
        ))),
    }
}

/// Checks the stored state of the derived indexes against this release and this log, and
/// returns the position they cover. Indexes of another format, built with other symmetric
/// relations, or claiming more than the log holds (an older log restored under a newer index)
/// are cleared, to be rebuilt from the log.
fn prepare_indexes(
    index: &FjallIndex,
    head: Position,
    symmetric: &SymmetricRelations,
) -> Result<Position, StoreError> {
    let ids_through = index.ids_through()?;
    if ids_through > head {
        report_lost_tail(head, ids_through);
        index.clear_ids()?;
    }
    match IndexState::load(index)? {
        Some(state)
            if state.format == INDEX_FORMAT
                && state.vocabulary == indexer::fingerprint(symmetric)
                && state.through <= head =>
        {
            Ok(state.through)
        }
        None if head == Position::ZERO => Ok(Position::ZERO),
        found => {
            if let Some(state) = found.as_ref().filter(|s| s.through > head) {
                report_lost_tail(head, state.through);
            }
            tracing::info!(
                stored = ?found.map(|s| (s.format, s.through.0)),
                head = head.0,
                "the indexes do not match this release, vocabulary or log; rebuilding them from the log"
            );
            index.clear_derived()?;
            Ok(Position::ZERO)
        }
    }
}

/// Says loudly that the log ends before what its indexes had indexed. The indexes are written
/// after the log, so they can only be ahead if the log lost entries it had flushed (sled drops
/// the tail of its file from a damaged segment on), or if the log is an older copy put under
/// newer indexes. The log is served as it is, never the indexes' idea of it.
fn report_lost_tail(head: Position, indexed: Position) {
    tracing::error!(
        head = head.0,
        indexed = indexed.0,
        "the log ends at position {} but its indexes had reached {}: the log lost entries it had \
         acknowledged (a damaged or truncated data file), or it is an older copy under newer \
         indexes. Serving the log as it is and rebuilding the indexes from it; restore from a \
         backup (eventlog restore) to get the missing entries back",
        head.0,
        indexed.0
    );
}

/// Brings the id index up to `head`: after a crash fjall may have lost its last batches (they
/// are never synced), and a release 1 data directory has none. Synchronous, because the writer
/// plans against it.
fn catch_up_ids(log: &SledLog, index: &FjallIndex, head: Position) -> Result<(), StoreError> {
    const CHUNK: usize = 10_000;
    let mut through = index.ids_through()?;
    if through >= head {
        return Ok(());
    }
    let started = Instant::now();
    let mut chunks = 0_u64;
    tracing::info!(
        from = through.0 + 1,
        head = head.0,
        "recording entry ids from the log"
    );
    while through < head {
        let mut ids = Vec::with_capacity(CHUNK);
        let mut last = through;
        log.scan_raw(through.next(), head, CHUNK, |position, bytes| {
            let view = record::RecordView::parse(position, bytes)?;
            ids.push((view.decode_body()?.id().clone(), position, view.kind()));
            last = position;
            Ok(ControlFlow::Continue(()))
        })?;
        if last == through {
            break;
        }
        index.put_ids(ids.iter().map(|(id, p, k)| (id, *p, *k)), last)?;
        through = last;
        chunks += 1;
        if chunks.is_multiple_of(20) {
            tracing::info!(through = through.0, head = head.0, "recording entry ids");
        }
    }
    tracing::info!(
        head = head.0,
        seconds = started.elapsed().as_secs_f64(),
        "entry ids recorded"
    );
    Ok(())
}

#[cfg(test)]
mod group_tests;
#[cfg(test)]
mod query_tests;
#[cfg(test)]
mod replicated_tests;
#[cfg(test)]
mod same_as_tests;
#[cfg(test)]
mod tests;
