//! The single writer: group commit of appends.
//!
//! Every append goes through one bounded queue to one thread. The thread takes whatever
//! requests are waiting (up to a bound), plans each against the log plus the requests before it
//! in the same group, writes all accepted entries in one atomic batch, flushes once, and only then
//! answers. Concurrent appends therefore share one fsync, positions are assigned without locks,
//! and each request stays all-or-nothing: a rejected request contributes nothing to the batch.
//!
//! A plain thread (not a tokio task) because sled's writes and `flush` block.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::SystemTime;

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::domain::{
    plan_append, AppendPlan, AppendRejection, Entry, EntryBody, EntryId, EntryKind, LogView,
    PlanError, PlannedEntry, Position,
};

use super::record::{encode_record, set_recorded_at};

use super::error::StoreError;
use super::sled_log::{CommitRecord, Counts, SledLog};

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
pub type CommittedEntries = Arc<[Entry]>;

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

struct Job {
    entries: Vec<EntryBody>,
    /// Each entry's record, encoded by the caller so the writer thread does not spend its time
    /// on serialisation; the recording time is filled in at commit.
    records: Vec<Vec<u8>>,
    expected_head: Option<Position>,
    /// Plan only: answer what appending would do, write nothing.
    validate_only: bool,
    reply: oneshot::Sender<Result<AppendReceipt, AppendError>>,
}

/// The handle through which appends reach the writer thread.
pub struct Writer {
    /// `None` once shutting down; dropping the sender is what tells the thread to stop.
    jobs: Option<mpsc::Sender<Job>>,
    /// Joined on drop so that the last group is flushed before the store closes.
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread. `head_tx` is told every new durable head, and then
    /// `live_tx` gets the entries that made it.
    pub fn start(
        log: Arc<SledLog>,
        head: Position,
        counts: Counts,
        head_tx: watch::Sender<Position>,
        live_tx: broadcast::Sender<CommittedEntries>,
    ) -> Result<Writer, StoreError> {
        let (jobs, rx) = mpsc::channel(QUEUE_CAPACITY);
        let mut state = WriterState {
            log,
            head,
            counts,
            head_tx,
            live_tx,
            poisoned: None,
            kinds: RefCell::new(HashMap::new()),
        };
        let thread = std::thread::Builder::new()
            .name("eventlog-writer".into())
            .spawn(move || state.run(rx))
            .map_err(|e| StoreError::Task(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer {
            jobs: Some(jobs),
            thread: Some(thread),
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
        self.submit(entries, records, expected_head, false).await
    }

    /// Plans a batch against the log as the writer sees it now (including appends queued before
    /// it) and answers what appending it would do, writing nothing. Planned on the writer
    /// thread, so the answer is consistent with the appends around it.
    pub async fn validate(
        &self,
        entries: Vec<EntryBody>,
        expected_head: Option<Position>,
    ) -> Result<AppendReceipt, AppendError> {
        self.submit(entries, Vec::new(), expected_head, true).await
    }

    async fn submit(
        &self,
        entries: Vec<EntryBody>,
        records: Vec<Vec<u8>>,
        expected_head: Option<Position>,
        validate_only: bool,
    ) -> Result<AppendReceipt, AppendError> {
        let jobs = self.jobs.as_ref().ok_or(StoreError::Closed)?;
        let (reply, receipt) = oneshot::channel();
        jobs.send(Job {
            entries,
            records,
            expected_head,
            validate_only,
            reply,
        })
        .await
        .map_err(|_| StoreError::Closed)?;
        receipt.await.map_err(|_| StoreError::Closed)?
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
    /// The durable head: what is on disk.
    head: Position,
    counts: Counts,
    head_tx: watch::Sender<Position>,
    /// Published after `head_tx`, so that a subscriber that subscribes to the feed and then reads
    /// the head either finds a group below that head or receives it from the feed.
    live_tx: broadcast::Sender<CommittedEntries>,
    /// Set after a failed commit: from then on nothing is known to be durable.
    poisoned: Option<String>,
    /// The kinds of ids looked up lately: references mostly name the same few actors, and
    /// checking each against sled was a fifth of the writer's time. A `RefCell` because the
    /// planner's view is shared (`&`) and this thread is the only user.
    kinds: RefCell<HashMap<EntryId, EntryKind>>,
}

/// A request accepted into the current group, waiting for the commit.
struct Accepted {
    reply: oneshot::Sender<Result<AppendReceipt, AppendError>>,
    plan: AppendPlan,
    records: Vec<Vec<u8>>,
}

/// What the planner sees: the log on disk plus the entries accepted earlier in this group.
struct GroupView<'a> {
    log: &'a SledLog,
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
        let Some((position, _)) = self.log.lookup(id)? else {
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
        let found = self.log.lookup(id)?.map(|(_, kind)| kind);
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
            self.commit_group(group);
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
        for job in group {
            let view = GroupView {
                log: &self.log,
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
                    accepted.push(Accepted {
                        reply: job.reply,
                        plan,
                        records: job.records,
                    });
                }
                Err(PlanError::Rejected(rejection)) => {
                    let _ = job.reply.send(Err(rejection.into()));
                }
                Err(PlanError::View(error)) => {
                    let _ = job.reply.send(Err(error.into()));
                }
            }
        }
        let recorded_at = SystemTime::now();
        if head != self.head {
            let mut records = Vec::new();
            for accepted in &mut accepted {
                for (planned, record) in accepted.plan.entries.iter().zip(&mut accepted.records) {
                    if let PlannedEntry::New {
                        position,
                        body,
                        replaces,
                    } = planned
                    {
                        set_recorded_at(record, recorded_at);
                        records.push(CommitRecord {
                            position: *position,
                            record: std::mem::take(record),
                            body,
                            replaces: replaces.as_ref(),
                        });
                    }
                }
            }
            if let Err(error) = self.log.commit(records, &counts) {
                tracing::error!(%error, "group commit failed; refusing further appends");
                self.poisoned = Some(error.to_string());
                for accepted in accepted {
                    let _ = accepted
                        .reply
                        .send(Err(StoreError::Poisoned(error.to_string()).into()));
                }
                return;
            }
            self.head = head;
            self.counts = counts;
            self.head_tx.send_replace(head);
        }
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
                            recorded_at,
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
            let _ = self.live_tx.send(committed.into());
        }
    }
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
