//! The single writer: group commit of appends.
//!
//! Every append goes through one bounded queue to one thread. The thread takes whatever
//! requests are waiting (up to a bound), plans each against the log plus the requests before it
//! in the same group, writes all accepted entries in one atomic batch, flushes once, and only then
//! answers. Concurrent appends therefore share one fsync, positions are assigned without locks,
//! and each request stays all-or-nothing: a rejected request contributes nothing to the batch.
//!
//! After the flush, and before the head moves, the ids of the new entries go to the id index
//! (fjall): planning needs them for the next group, and a reader that sees the new head finds
//! the entries by id. The other indexes follow behind the head (`indexer`), which the writer
//! wakes after each commit.
//!
//! On a cluster node the writer takes only replicated batches (`StreamOrigin`): messages of the
//! cluster's stream, in stream order, each following the one applied before it. Everything it
//! decides about them is a function of the log and the message: positions, duplicates,
//! rejections and the recording time (the stream's own timestamp), so every node decides the
//! same. The stream sequence of the last applied message is committed in the same batch as its
//! entries. A message that follows anything but the last one applied (a reader restarted after
//! a failure, with older messages still queued) is refused unread, so a failure can never let
//! a later message be applied without an earlier one.
//!
//! A plain thread (not a tokio task) because sled's writes and `flush` block.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime};

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::domain::{
    plan_append, AppendPlan, AppendRejection, Entry, EntryBody, EntryId, EntryKind, LogView,
    PlanError, PlannedEntry, Position,
};

use super::engine::fjall_index::FjallIndex;
use super::engine::sled_log::{CommitRecord, Counts, SledLog};
use super::record::{encode_record, set_recorded_at};
use super::stored::{CommittedGroup, StoredEntry};
use bytes::Bytes;

use super::backpressure::{self, LagLimit};
use super::disk_space::DiskSpace;
use super::error::StoreError;

/// Requests waiting for the writer at most; callers wait for room beyond that, which is the
/// back-pressure that keeps memory bounded under any load.
pub const QUEUE_CAPACITY: usize = 1024;
/// Entries taken into one group commit at most (a single request may exceed it by itself).
/// Bounds one batch and one live-feed message, and so the live feed's memory.
const MAX_GROUP_ENTRIES: usize = 1_000;
/// Group commits the live feed keeps for subscribers that have not read them yet. A subscriber
/// further behind than this reads from the store instead, so the feed's memory is bounded by
/// `LIVE_FEED_GROUPS * MAX_GROUP_ENTRIES` entries however slow subscribers are.
pub const LIVE_FEED_GROUPS: usize = 64;

/// The entries of one group commit, in position order, as the live feed carries them.
pub type CommittedEntries = Arc<CommittedGroup>;

/// What the log did with one entry of an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedEntry {
    /// Its position (the original one for a duplicate).
    pub position: Position,
    /// Its id.
    pub id: EntryId,
    /// True if an identical entry was already there.
    pub duplicate: bool,
}

/// The outcome of a successful append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendReceipt {
    /// One result per entry, in request order.
    pub entries: Vec<AppendedEntry>,
    /// The head after the append.
    pub head: Position,
}

/// Why an append failed; in every case nothing of it was written.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The batch breaks a rule of the log.
    #[error(transparent)]
    Rejected(#[from] AppendRejection),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a replicated batch comes from: its message in the cluster's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOrigin {
    /// Its stream sequence.
    pub sequence: u64,
    /// The sequence of the message delivered before it, which must be the last one applied (0
    /// before the first).
    pub after: u64,
    /// When the stream stored it: its entries' recording time, the same on every node.
    pub published: SystemTime,
}

struct Job {
    entries: Vec<EntryBody>,
    /// Each entry's record, encoded by the caller so the writer thread does not spend its time
    /// on serialisation; the recording time is filled in at commit.
    records: Vec<Vec<u8>>,
    expected_head: Option<Position>,
    /// Plan only: answer what appending would do, write nothing.
    validate_only: bool,
    /// Set for a cluster's replicated batch.
    origin: Option<StreamOrigin>,
    reply: oneshot::Sender<Result<AppendReceipt, AppendError>>,
}

/// What the writer thread works with.
pub struct WriterParts {
    /// The log it appends to.
    pub log: Arc<SledLog>,
    /// The id index it keeps up to date with every commit.
    pub index: Arc<FjallIndex>,
    /// The durable head at start.
    pub head: Position,
    /// When the entry at the head was recorded (the epoch for an empty log).
    pub head_recorded_at: SystemTime,
    /// The counters at start.
    pub counts: Counts,
    /// Told every new durable head.
    pub head_tx: watch::Sender<Position>,
    /// Gets the entries of each commit, after `head_tx`.
    pub live_tx: broadcast::Sender<CommittedEntries>,
    /// How far the derived indexes cover the log (see `backpressure`).
    pub indexed: watch::Receiver<Position>,
    /// Signalled after each commit, so the indexer follows at once.
    pub indexer: std::sync::mpsc::SyncSender<()>,
    /// Asked before each commit whether the disk has room for it.
    pub disk: Arc<DiskSpace>,
    /// The stream a cluster node's log replicates: local appends are then refused.
    pub replicates: Option<String>,
    /// The stream sequence of the last message applied (0 on an embedded node).
    pub applied: u64,
}

/// The handle through which appends reach the writer thread.
pub struct Writer {
    /// `None` once shutting down; dropping the sender is what tells the thread to stop.
    jobs: Option<mpsc::Sender<Job>>,
    /// Joined on drop so that the last group is flushed before the store closes.
    thread: Option<JoinHandle<()>>,
    /// The stream sequence of the last replicated message applied (decided, and durable if it
    /// wrote anything).
    applied: Arc<AtomicU64>,
}

impl Writer {
    /// Starts the writer thread. `head_tx` is told every new durable head, and then
    /// `live_tx` gets the entries that made it.
    pub fn start(parts: WriterParts) -> Result<Writer, StoreError> {
        let WriterParts {
            log,
            index,
            head,
            head_recorded_at,
            counts,
            head_tx,
            live_tx,
            indexer,
            indexed,
            disk,
            replicates,
            applied,
        } = parts;
        let (jobs, rx) = mpsc::channel(QUEUE_CAPACITY);
        let shared_applied = Arc::new(AtomicU64::new(applied));
        let lag_limit = LagLimit::new(head, *indexed.borrow());
        let mut state = WriterState {
            log,
            index,
            indexer,
            head,
            last_recorded_at: head_recorded_at,
            counts,
            head_tx,
            live_tx,
            lag_limit,
            indexed,
            poisoned: None,
            kinds: RefCell::new(HashMap::new()),
            disk,
            replicates,
            applied,
            shared_applied: Arc::clone(&shared_applied),
        };
        let thread = std::thread::Builder::new()
            .name("eventlog-writer".into())
            .spawn(move || state.run(rx))
            .map_err(|e| StoreError::Task(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer {
            jobs: Some(jobs),
            thread: Some(thread),
            applied: shared_applied,
        })
    }

    /// Appends a batch; resolves once it is durable (or refused).
    pub async fn append(
        &self,
        entries: Vec<EntryBody>,
        expected_head: Option<Position>,
    ) -> Result<AppendReceipt, AppendError> {
        let records = entries
            .iter()
            .map(encode_record)
            .collect::<Result<Vec<_>, _>>()?;
        self.submit(entries, records, expected_head, false, None)
            .await
    }

    /// Queues a cluster's replicated batch (`records` are its entries as the store encodes
    /// them, `entries` their bodies) and returns what resolves once it is applied or refused.
    /// Queued here, in the caller's order: the stream's order is the order of these calls.
    pub async fn enqueue_replicated(
        &self,
        entries: Vec<EntryBody>,
        records: Vec<Vec<u8>>,
        expected_head: Option<Position>,
        origin: StreamOrigin,
    ) -> Result<PendingApply, AppendError> {
        let receipt = self
            .enqueue(entries, records, expected_head, false, Some(origin))
            .await?;
        Ok(PendingApply { receipt })
    }

    /// The stream sequence of the last replicated message applied.
    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Plans a batch against the log as the writer sees it now (including appends queued before
    /// it) and answers what appending it would do, writing nothing. Planned on the writer
    /// thread, so the answer is consistent with the appends around it.
    pub async fn validate(
        &self,
        entries: Vec<EntryBody>,
        expected_head: Option<Position>,
    ) -> Result<AppendReceipt, AppendError> {
        self.submit(entries, Vec::new(), expected_head, true, None)
            .await
    }

    async fn submit(
        &self,
        entries: Vec<EntryBody>,
        records: Vec<Vec<u8>>,
        expected_head: Option<Position>,
        validate_only: bool,
        origin: Option<StreamOrigin>,
    ) -> Result<AppendReceipt, AppendError> {
        let receipt = self
            .enqueue(entries, records, expected_head, validate_only, origin)
            .await?;
        receipt.await.map_err(|_| StoreError::Closed)?
    }

    async fn enqueue(
        &self,
        entries: Vec<EntryBody>,
        records: Vec<Vec<u8>>,
        expected_head: Option<Position>,
        validate_only: bool,
        origin: Option<StreamOrigin>,
    ) -> Result<oneshot::Receiver<Result<AppendReceipt, AppendError>>, AppendError> {
        let jobs = self.jobs.as_ref().ok_or(StoreError::Closed)?;
        let (reply, receipt) = oneshot::channel();
        jobs.send(Job {
            entries,
            records,
            expected_head,
            validate_only,
            origin,
            reply,
        })
        .await
        .map_err(|_| StoreError::Closed)?;
        Ok(receipt)
    }
}

/// A replicated batch in the writer's queue; resolves to what applying it decided.
pub struct PendingApply {
    receipt: oneshot::Receiver<Result<AppendReceipt, AppendError>>,
}

impl PendingApply {
    /// Waits for the decision.
    pub async fn decided(self) -> Result<AppendReceipt, AppendError> {
        self.receipt.await.map_err(|_| StoreError::Closed)?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            // The thread answers every queued job before it exits; a panic there has already
            // been reported by the panic hook, so there is nothing more to say.
            let _ = thread.join();
        }
    }
}

/// Ids whose kind the writer remembers at most. Ids never change kind (a different kind under
/// a taken id is refused), so the cache needs no invalidation; it is cleared when full.
const KIND_CACHE_CAPACITY: usize = 100_000;

struct WriterState {
    log: Arc<SledLog>,
    /// The id index, written right after each flush.
    index: Arc<FjallIndex>,
    /// Woken after each commit; a full channel means it is already awake.
    indexer: std::sync::mpsc::SyncSender<()>,
    /// The durable head: what is on disk.
    head: Position,
    /// When the last group was recorded: the next is never recorded earlier (see
    /// [`recorded_time`]).
    last_recorded_at: SystemTime,
    counts: Counts,
    head_tx: watch::Sender<Position>,
    /// Published after `head_tx`, so that a subscriber that subscribes to the feed and then reads
    /// the head either finds a group below that head or receives it from the feed.
    live_tx: broadcast::Sender<CommittedEntries>,
    /// How far the derived indexes cover the log, and how far they may trail it.
    indexed: watch::Receiver<Position>,
    lag_limit: LagLimit,
    /// Set after a failed commit: from then on nothing is known to be durable.
    poisoned: Option<String>,
    /// The kinds of ids looked up lately: references mostly name the same few actors, and
    /// checking each against sled was a fifth of the writer's time. A `RefCell` because the
    /// planner's view is shared (`&`) and this thread is the only user.
    kinds: RefCell<HashMap<EntryId, EntryKind>>,
    /// Refuses a commit the disk has no room for, before anything is written: a full disk
    /// must never reach sled (see `disk_space`).
    disk: Arc<DiskSpace>,
    /// See [`WriterParts::replicates`].
    replicates: Option<String>,
    /// The stream sequence of the last replicated message applied.
    applied: u64,
    /// `applied`, for readers outside this thread ([`Writer::applied`]).
    shared_applied: Arc<AtomicU64>,
}

/// A request accepted into the current group, waiting for the commit.
struct Accepted {
    reply: oneshot::Sender<Result<AppendReceipt, AppendError>>,
    plan: AppendPlan,
    records: Vec<Vec<u8>>,
    /// The clock's reading for a local append, the stream's timestamp for a replicated one
    /// (never earlier than the request before: see [`recorded_time`]).
    recorded_at: SystemTime,
}

/// What the planner sees: the log on disk plus the entries accepted earlier in this group.
struct GroupView<'a> {
    log: &'a SledLog,
    index: &'a FjallIndex,
    /// Requests accepted earlier in this group.
    accepted: &'a [Accepted],
    /// Id -> (request, entry) in `accepted`, for the entries this group will write.
    overlay: &'a HashMap<EntryId, (usize, usize)>,
    kinds: &'a RefCell<HashMap<EntryId, EntryKind>>,
    head: Position,
}

impl GroupView<'_> {
    fn in_group(&self, id: &EntryId) -> Option<(Position, &EntryBody)> {
        let &(request, entry) = self.overlay.get(id)?;
        match &self.accepted[request].plan.entries[entry] {
            PlannedEntry::New { position, body, .. } => Some((*position, body)),
            PlannedEntry::Duplicate { .. } => None,
        }
    }
}

impl LogView for GroupView<'_> {
    type Error = StoreError;

    fn head(&self) -> Position {
        self.head
    }

    fn latest(&self, id: &EntryId) -> Result<Option<(Position, EntryBody)>, StoreError> {
        if let Some((position, body)) = self.in_group(id) {
            return Ok(Some((position, body.clone())));
        }
        let Some((position, _)) = self.index.lookup(id)? else {
            return Ok(None);
        };
        Ok(self.log.read_at(position)?.map(|e| (position, e.body)))
    }

    fn kind_of(&self, id: &EntryId) -> Result<Option<EntryKind>, StoreError> {
        if let Some((_, body)) = self.in_group(id) {
            return Ok(Some(body.kind()));
        }
        if let Some(kind) = self.kinds.borrow().get(id) {
            return Ok(Some(*kind));
        }
        let found = self.index.lookup(id)?.map(|(_, kind)| kind);
        if let Some(kind) = found {
            let mut kinds = self.kinds.borrow_mut();
            if kinds.len() >= KIND_CACHE_CAPACITY {
                kinds.clear();
            }
            kinds.insert(id.clone(), kind);
        }
        Ok(found)
    }
}

impl WriterState {
    fn run(&mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(first) = rx.blocking_recv() {
            let mut group = vec![first];
            let mut entries = group[0].entries.len();
            while entries < MAX_GROUP_ENTRIES {
                match rx.try_recv() {
                    Ok(job) => {
                        entries += job.entries.len();
                        group.push(job);
                    }
                    Err(_) => break,
                }
            }
            self.wait_for_the_indexes();
            self.commit_group(group);
        }
    }

    /// Holds the next group back while the indexes trail the head by more than the limit
    /// (see `backpressure`), for at most `backpressure::PATIENCE`.
    fn wait_for_the_indexes(&mut self) {
        let mut held = None;
        while !self.lag_limit.admits(self.head, *self.indexed.borrow()) {
            let since = *held.get_or_insert_with(Instant::now);
            if since.elapsed() >= backpressure::PATIENCE {
                tracing::warn!(
                    head = self.head.0,
                    indexed = self.indexed.borrow().0,
                    "the indexes are not catching up; appending anyway"
                );
                return;
            }
            std::thread::sleep(backpressure::POLL);
        }
        if let Some(since) = held {
            tracing::debug!(
                waited_ms = since.elapsed().as_millis() as u64,
                "appends waited for the indexes"
            );
        }
    }

    fn commit_group(&mut self, group: Vec<Job>) {
        if let Some(reason) = &self.poisoned {
            for job in group {
                let _ = job
                    .reply
                    .send(Err(StoreError::Poisoned(reason.clone()).into()));
            }
            return;
        }
        let mut overlay: HashMap<EntryId, (usize, usize)> = HashMap::new();
        let mut accepted: Vec<Accepted> = Vec::with_capacity(group.len());
        let mut head = self.head;
        let mut counts = self.counts;
        let mut applied = self.applied;
        let mut recorded_at = self.last_recorded_at;
        let now = SystemTime::now();
        // Replicated batches decided without writing (refusals, passed over) are answered after
        // `applied` has moved past them, so that whoever reads `applied` on hearing the answer
        // sees it there.
        let mut decided: Vec<(Reply, Result<AppendReceipt, AppendError>)> = Vec::new();
        for job in group {
            if let Err(refusal) = self.admit(&job, applied) {
                let _ = job.reply.send(Err(refusal.into()));
                continue;
            }
            if let Some(origin) = job.origin.filter(|_| job.entries.is_empty()) {
                // A message of the stream that carries no batch (one this release cannot read):
                // every node passes over it alike.
                applied = origin.sequence;
                decided.push((
                    job.reply,
                    Ok(AppendReceipt {
                        entries: Vec::new(),
                        head,
                    }),
                ));
                continue;
            }
            let view = GroupView {
                log: &self.log,
                index: &self.index,
                accepted: &accepted,
                overlay: &overlay,
                kinds: &self.kinds,
                head,
            };
            match plan_append(&view, job.entries, job.expected_head) {
                Ok(plan) if job.validate_only => {
                    let _ = job.reply.send(Ok(dry_run_receipt(plan)));
                }
                Ok(plan) => {
                    let request = accepted.len();
                    for (entry, planned) in plan.entries.iter().enumerate() {
                        if let PlannedEntry::New { body, replaces, .. } = planned {
                            count(&mut counts, body.kind(), replaces.is_some());
                            overlay.insert(body.id().clone(), (request, entry));
                        }
                    }
                    head = plan.head;
                    if let Some(origin) = job.origin {
                        applied = origin.sequence;
                    }
                    recorded_at =
                        recorded_time(job.origin.map_or(now, |o| o.published), recorded_at);
                    accepted.push(Accepted {
                        reply: job.reply,
                        plan,
                        records: job.records,
                        recorded_at,
                    });
                }
                Err(PlanError::Rejected(rejection)) => {
                    // A rule of the log refused it: every node refuses it alike, so the stream
                    // moves past it.
                    match job.origin {
                        Some(origin) => {
                            applied = origin.sequence;
                            decided.push((job.reply, Err(rejection.into())));
                        }
                        None => {
                            let _ = job.reply.send(Err(rejection.into()));
                        }
                    }
                }
                Err(PlanError::View(error)) => {
                    let _ = job.reply.send(Err(error.into()));
                }
            }
        }
        let mut stored = Vec::new();
        if head != self.head {
            // The whole group or nothing: a later request may build on an earlier one's
            // entries (refer to them, or repeat them as duplicates).
            let bytes: usize = accepted
                .iter()
                .flat_map(|a| a.records.iter().map(Vec::len))
                .sum();
            if let Err(full) = self.disk.check(bytes as u64) {
                for accepted in accepted {
                    let _ = accepted.reply.send(Err(full.clone().into()));
                }
                answer(decided);
                return;
            }
            let mut records = Vec::new();
            let mut ids = Vec::new();
            for accepted in &mut accepted {
                for (planned, record) in accepted.plan.entries.iter().zip(&mut accepted.records) {
                    if let PlannedEntry::New { position, body, .. } = planned {
                        set_recorded_at(record, accepted.recorded_at);
                        let record = Bytes::from(std::mem::take(record));
                        stored.push(StoredEntry::new(*position, record.clone()));
                        records.push(CommitRecord {
                            position: *position,
                            record,
                        });
                        ids.push((body.id(), *position, body.kind()));
                    }
                }
            }
            let committed = self
                .log
                .commit(records, &counts, self.replicates.as_ref().map(|_| applied))
                .and_then(|()| self.index.put_ids(ids, head));
            // A failed id-index write poisons too: the next group would be planned without
            // these ids and could take a duplicate for a new entry. A restart re-derives them.
            if let Err(error) = committed {
                tracing::error!(%error, "group commit failed; refusing further appends");
                self.poisoned = Some(error.to_string());
                for accepted in accepted {
                    let _ = accepted
                        .reply
                        .send(Err(StoreError::Poisoned(error.to_string()).into()));
                }
                answer(decided);
                return;
            }
            self.head = head;
            self.last_recorded_at = recorded_at;
            self.counts = counts;
            self.head_tx.send_replace(head);
        }
        if applied != self.applied {
            // Also when nothing was written (refusals, duplicates): replaying those messages
            // after a restart decides them the same way against the same log.
            self.applied = applied;
            self.shared_applied.store(applied, Ordering::Release);
        }
        answer(decided);
        let mut committed = Vec::new();
        for accepted in accepted {
            let mut results = Vec::with_capacity(accepted.plan.entries.len());
            for planned in accepted.plan.entries {
                match planned {
                    PlannedEntry::Duplicate { position, id } => results.push(AppendedEntry {
                        position,
                        id,
                        duplicate: true,
                    }),
                    PlannedEntry::New { position, body, .. } => {
                        results.push(AppendedEntry {
                            position,
                            id: body.id().clone(),
                            duplicate: false,
                        });
                        committed.push(Entry {
                            position,
                            recorded_at: accepted.recorded_at,
                            body,
                        });
                    }
                }
            }
            let _ = accepted.reply.send(Ok(AppendReceipt {
                entries: results,
                head: self.head,
            }));
        }
        if !committed.is_empty() {
            // No receiver is fine: nobody is subscribed.
            let _ = self.live_tx.send(CommittedGroup::new(committed, stored));
            // After the feed has the group, so that the indexer finds it there (`index_feed`).
            let _ = self.indexer.try_send(());
        }
    }
}

impl WriterState {
    /// Whether a request may be planned at all: a cluster node's log takes only replicated
    /// batches, each following the last one applied (`applied`, this group's included).
    fn admit(&self, job: &Job, applied: u64) -> Result<(), StoreError> {
        match (&self.replicates, job.origin) {
            (Some(_), Some(origin)) if origin.after != applied => Err(StoreError::OutOfOrder {
                applied,
                after: origin.after,
            }),
            (Some(stream), None) if !job.validate_only => Err(StoreError::Replicated {
                stream: stream.clone(),
            }),
            (None, Some(_)) => Err(StoreError::WrongMode(
                "a replicated batch reached an embedded node's log".into(),
            )),
            _ => Ok(()),
        }
    }
}

/// Where a request's answer goes.
type Reply = oneshot::Sender<Result<AppendReceipt, AppendError>>;

/// Sends answers decided earlier in a group.
fn answer(decided: Vec<(Reply, Result<AppendReceipt, AppendError>)>) {
    for (reply, outcome) in decided {
        let _ = reply.send(outcome);
    }
}

/// The recording time of a request: the clock, but never earlier than the one before. Times
/// then rise with positions (ties allowed), even when the wall clock is stepped back, so that
/// "the first entry recorded at or after T" is a binary search over positions.
fn recorded_time(now: SystemTime, last: SystemTime) -> SystemTime {
    now.max(last)
}

/// What a validated batch would do: its entries' positions and duplicates, and the head after it.
fn dry_run_receipt(plan: AppendPlan) -> AppendReceipt {
    let entries = plan
        .entries
        .into_iter()
        .map(|planned| match planned {
            PlannedEntry::Duplicate { position, id } => AppendedEntry {
                position,
                id,
                duplicate: true,
            },
            PlannedEntry::New { position, body, .. } => AppendedEntry {
                position,
                id: body.id().clone(),
                duplicate: false,
            },
        })
        .collect();
    AppendReceipt {
        entries,
        head: plan.head,
    }
}

fn count(counts: &mut Counts, kind: EntryKind, is_revision: bool) {
    match kind {
        EntryKind::Actor => {
            counts.actor_entries += 1;
            if !is_revision {
                counts.actors += 1;
            }
        }
        EntryKind::Event => counts.event_entries += 1,
        EntryKind::Claim => counts.claim_entries += 1,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::recorded_time;

    #[test]
    fn a_clock_stepped_back_does_not_record_a_group_earlier_than_the_last() {
        let last = UNIX_EPOCH + Duration::from_secs(1_000);
        let earlier = UNIX_EPOCH + Duration::from_secs(990);
        let later = UNIX_EPOCH + Duration::from_secs(1_010);
        assert_eq!(recorded_time(earlier, last), last);
        assert_eq!(recorded_time(later, last), later);
    }
}
