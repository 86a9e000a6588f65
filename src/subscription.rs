//! Following the log: catch-up from the store, then the live feed, with no gap and no duplicate.
//!
//! A follower owns a cursor, `next`: the next position to examine. Every entry it delivers or
//! skips moves the cursor forward by exactly one position, whichever source the entry came from,
//! so gaps and duplicates are impossible by construction: the sources only differ in cost.
//!
//! - **History** is read from the store in chunks up to the durable head.
//! - **Live**: once at the head, the follower takes group commits from the store's live feed
//!   (entries decoded once and framed for the wire once, shared by every follower). It re-subscribes to the feed *before*
//!   re-reading the head; the writer moves the head *before* publishing, so every group is
//!   either below the head it read or arrives on the feed. A group that starts past the cursor
//!   (one missed in between) sends the follower back to the store, never skips it.
//! - **Slow subscribers** are not dropped. What a follower has handed over and its client has
//!   not yet taken is bounded in bytes ([`Pace::buffer_bytes`], and at most
//!   [`DELIVERY_BUFFER`] deliveries); while the client is slow the follower waits for room, the
//!   feed moves on, and when the follower finds it lagged it reads from the store again (the
//!   log is its buffer), telling the client with `FellBehind`. Memory per follower is one chunk
//!   (itself at most [`CHUNK_BYTES`] of frames) and that budget, whatever the lag or the size of
//!   the entries.
//! - **Stalled subscribers** are cut off: a client that takes nothing for
//!   [`Pace::stall_timeout`] while entries wait for it ends with [`StreamEnd::Stalled`] (it
//!   may resume from the position given). An idle live stream with nothing to send is not
//!   stalled: it may wait for new entries forever.
//!
//! - **No per-subscriber encoding**: entries are delivered as the bytes the client is sent,
//!   made by a [`Framer`] the serving layer supplies: from history, spliced from the stored
//!   record (decoded only when a filter must look at it); live, framed once per group.
//!
//! This module knows nothing of gRPC: it produces [`Delivery`] values and the service layer
//! turns them into messages.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::domain::{Entry, EntryFilter, Position};
use crate::shutdown::Shutdown;
use crate::store::{entry_of, RecordView, Store, StoreError, StoredEntry};

/// Entries read from the store per step of a catch-up.
const CHUNK: usize = 512;
/// Stored bytes per step of a catch-up: a chunk of large entries ends early, so that what a
/// follower holds does not grow with the size of entries.
pub const CHUNK_BYTES: usize = 256 * 1024;
/// Deliveries buffered per follower. Small on purpose: the log, not memory, is the buffer.
pub const DELIVERY_BUFFER: usize = 8;
/// The bytes a control message (checkpoint, caught up, fell behind) counts against the budget.
const CONTROL_BYTES: usize = 64;
/// A filtered stream reports progress after examining this many entries without a match...
const CHECKPOINT_EVERY_ENTRIES: u64 = 2_000;
/// ...or after this long, whichever comes first.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// How long a follower tries to tell a client why its stream ends.
const END_TIMEOUT: Duration = Duration::from_secs(1);

/// Makes what the client is sent of an entry, from its verified record and, when at hand, the
/// entry decoded (the live feed has it; a filtered catch-up decoded it to test it).
pub type Framer = fn(&RecordView<'_>, Option<&Entry>) -> Result<Bytes, StoreError>;

/// One entry, ready for the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Framed {
    /// Its position.
    pub position: Position,
    /// What the framer made of it.
    pub bytes: Bytes,
}

/// What a follower sends its client.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Matching entries, consecutive in log order (not necessarily in position).
    Entries(Vec<Framed>),
    /// Every entry up to this position was examined (filtered streams only).
    Checkpoint(Position),
    /// History is done; the stream is live. Sent once.
    CaughtUp(Position),
    /// The live feed left this follower behind; it reads from the store again from `next`.
    FellBehind {
        /// The next position to examine.
        next: Position,
        /// The head at that moment.
        head: Position,
    },
}

/// How much a follower may hand over ahead of its client, and how long it waits for one that
/// takes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Bytes of framed entries delivered and not yet taken by the client. A single delivery
    /// larger than this (one large group commit) still goes, alone.
    pub buffer_bytes: usize,
    /// How long a follower waits for room before it ends the stream as stalled.
    pub stall_timeout: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            buffer_bytes: 256 * 1024,
            stall_timeout: Duration::from_secs(60),
        }
    }
}

/// A delivery's share of its follower's byte budget, given back when dropped: hold it until
/// what was made of the delivery has left.
#[derive(Debug)]
pub struct Budget(#[allow(dead_code)] OwnedSemaphorePermit);

impl Delivery {
    /// The bytes of the entries it carries.
    pub fn bytes(&self) -> usize {
        match self {
            Delivery::Entries(entries) => entries.iter().map(|e| e.bytes.len()).sum(),
            _ => 0,
        }
    }
}

/// Why a stream ended.
#[derive(Debug)]
pub enum StreamEnd {
    /// The server is shutting down; resume from `next`.
    ShuttingDown {
        /// The next position the stream would have examined.
        next: Position,
    },
    /// The client took nothing for the stall timeout while entries were waiting; resume from
    /// `next`.
    Stalled {
        /// The next position the stream would have delivered.
        next: Position,
        /// How long the follower waited.
        waited: Duration,
    },
    /// The store failed.
    Store(StoreError),
}

/// A follower's messages, in order: deliveries with their share of the budget, and at most
/// one end.
pub type FollowerReceiver = mpsc::Receiver<Result<(Delivery, Budget), StreamEnd>>;

/// Starts following the log from `start` (inclusive) with `filter`, at `pace`.
pub fn follow(
    store: Arc<Store>,
    start: Position,
    filter: EntryFilter,
    shutdown: Shutdown,
    framer: Framer,
    pace: Pace,
) -> FollowerReceiver {
    let (tx, rx) = mpsc::channel(DELIVERY_BUFFER);
    let budget_bytes = pace.buffer_bytes.clamp(CONTROL_BYTES, u32::MAX as usize);
    let follower = Follower {
        store,
        filter: Arc::new(filter),
        framer,
        next: start.max(Position(1)),
        tx,
        budget: Arc::new(Semaphore::new(budget_bytes)),
        budget_bytes,
        stall_timeout: pace.stall_timeout,
        shutdown,
        caught_up: false,
        unreported: 0,
        last_report: Instant::now(),
    };
    // In the caller's span (the RPC's), so the follower's logs carry its request id.
    tokio::spawn(tracing::Instrument::in_current_span(follower.run()));
    rx
}

struct Follower {
    store: Arc<Store>,
    /// Shared with the blocking reads that apply it.
    filter: Arc<EntryFilter>,
    framer: Framer,
    /// The next position to examine.
    next: Position,
    tx: mpsc::Sender<Result<(Delivery, Budget), StreamEnd>>,
    /// Bytes the client may have outstanding: one permit per byte.
    budget: Arc<Semaphore>,
    /// The budget's size (a delivery takes at most this many permits).
    budget_bytes: usize,
    stall_timeout: Duration,
    shutdown: Shutdown,
    /// True once `CaughtUp` was sent.
    caught_up: bool,
    /// Entries examined since the last delivery or checkpoint.
    unreported: u64,
    /// When the last delivery or checkpoint was sent.
    last_report: Instant,
}

/// Why the follower's loop stopped early.
enum Stop {
    /// The client went away: nothing more to send.
    ClientGone,
    /// Tell the client why, then stop.
    End(StreamEnd),
}

impl Follower {
    async fn run(mut self) {
        match self.follow().await {
            Stop::End(end) => {
                // A client that stopped reading must not hold up shutdown: give up after a moment.
                let _ = tokio::time::timeout(END_TIMEOUT, self.tx.send(Err(end))).await;
            }
            Stop::ClientGone => {
                tracing::info!(
                    next = self.next.0,
                    "subscription ended: the client went away"
                );
            }
        }
    }

    async fn follow(&mut self) -> Stop {
        let mut live = self.store.live();
        loop {
            if self.shutdown.is_triggered() {
                return Stop::End(StreamEnd::ShuttingDown { next: self.next });
            }
            // History, or back from falling behind: read the store up to its head.
            if self.next <= self.store.head() {
                if let Err(stop) = self.read_chunk_from_store().await {
                    return stop;
                }
                continue;
            }
            // At the head. Re-subscribe first, then check the head once more (see module docs).
            live = live.resubscribe();
            let head = self.store.head();
            if self.next <= head {
                continue;
            }
            if !self.caught_up {
                self.caught_up = true;
                if let Err(stop) = self.send(Delivery::CaughtUp(head)).await {
                    return stop;
                }
            }
            // Live until the feed leaves us behind or a group does not join up.
            loop {
                let received = tokio::select! {
                    received = live.recv() => received,
                    _ = self.shutdown.triggered() => {
                        return Stop::End(StreamEnd::ShuttingDown { next: self.next });
                    }
                    _ = self.tx.closed() => return Stop::ClientGone,
                };
                match received {
                    Ok(group) => {
                        let Some(first) = group.first() else {
                            continue;
                        };
                        if first > self.next {
                            break; // A group we never saw: the store has it.
                        }
                        let framer = self.framer;
                        let frames = match group.frames(|view, entry| framer(view, Some(entry))) {
                            Ok(frames) => frames,
                            Err(error) => return Stop::End(StreamEnd::Store(error)),
                        };
                        let mut examined = None;
                        let mut matching = Vec::new();
                        for (entry, bytes) in group.entries.iter().zip(frames) {
                            if entry.position < self.next {
                                continue;
                            }
                            examined =
                                Some((examined.map_or(entry.position, |(f, _)| f), entry.position));
                            if self.filter.is_empty() || self.filter.matches(&entry.body) {
                                matching.push(Framed {
                                    position: entry.position,
                                    bytes: bytes.clone(),
                                });
                            }
                        }
                        if let Some((_, last)) = examined {
                            if let Err(stop) = self.deliver(last, matching).await {
                                return stop;
                            }
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        let head = self.store.head();
                        let next = self.next;
                        if let Err(stop) = self.send(Delivery::FellBehind { next, head }).await {
                            return stop;
                        }
                        break;
                    }
                    Err(RecvError::Closed) => {
                        return Stop::End(StreamEnd::ShuttingDown { next: self.next });
                    }
                }
            }
        }
    }

    /// Reads and delivers one chunk of history: records as stored, decoded only if the filter
    /// must look at them, framed off the async threads.
    async fn read_chunk_from_store(&mut self) -> Result<(), Stop> {
        let store = Arc::clone(&self.store);
        let filter = Arc::clone(&self.filter);
        let framer = self.framer;
        let from = self.next;
        let read = tokio::task::spawn_blocking(move || {
            let stored = store.read_stored(from, Position(u64::MAX), CHUNK, CHUNK_BYTES)?;
            let last = stored.last().map(StoredEntry::position);
            let mut matching = Vec::new();
            for record in &stored {
                let view = record.view()?;
                let bytes = if filter.is_empty() {
                    framer(&view, None)?
                } else {
                    let entry = entry_of(&view)?;
                    if !filter.matches(&entry.body) {
                        continue;
                    }
                    framer(&view, Some(&entry))?
                };
                matching.push(Framed {
                    position: record.position(),
                    bytes,
                });
            }
            Ok::<_, StoreError>((last, matching))
        })
        .await
        .map_err(|e| Stop::End(StreamEnd::Store(StoreError::Task(e.to_string()))))?;
        let (last, matching) = read.map_err(|e| Stop::End(StreamEnd::Store(e)))?;
        // Only called below the head, where `read_stored` reports a hole rather than nothing.
        let Some(last) = last else {
            return Ok(());
        };
        self.deliver(last, matching).await
    }

    /// Takes the entries from the cursor through `last` as examined, sends the `matching` ones,
    /// and reports progress on filtered streams.
    async fn deliver(&mut self, last: Position, matching: Vec<Framed>) -> Result<(), Stop> {
        let examined = last.0 + 1 - self.next.0;
        if !matching.is_empty() {
            self.unreported = 0;
            self.last_report = Instant::now();
            // The cursor moves only once the entries are handed over: a stream that ends while
            // waiting (shutdown, a stalled client) tells the client to resume at the first of
            // them, not after them.
            self.send(Delivery::Entries(matching)).await?;
            self.next = last.next();
            return Ok(());
        }
        self.next = last.next();
        self.unreported += examined;
        if self.unreported >= CHECKPOINT_EVERY_ENTRIES
            || self.last_report.elapsed() >= CHECKPOINT_EVERY
        {
            self.unreported = 0;
            self.last_report = Instant::now();
            return self.send(Delivery::Checkpoint(last)).await;
        }
        Ok(())
    }

    /// Sends one delivery, waiting for room in the budget and the channel (the client's pace),
    /// unless shutdown comes first or the client takes nothing for the stall timeout.
    async fn send(&mut self, delivery: Delivery) -> Result<(), Stop> {
        let cost = delivery.bytes().clamp(CONTROL_BYTES, self.budget_bytes);
        // At most the budget (checked above), which fits a permit count.
        let permits = u32::try_from(cost).unwrap_or(u32::MAX);
        let budget = Arc::clone(&self.budget);
        let tx = self.tx.clone();
        let handover = async move {
            let permit = budget
                .acquire_many_owned(permits)
                .await
                .map_err(|_| Stop::ClientGone)?;
            tx.send(Ok((delivery, Budget(permit))))
                .await
                .map_err(|_| Stop::ClientGone)
        };
        tokio::select! {
            sent = tokio::time::timeout(self.stall_timeout, handover) => match sent {
                Ok(sent) => sent,
                Err(_) => Err(Stop::End(StreamEnd::Stalled {
                    next: self.next,
                    waited: self.stall_timeout,
                })),
            },
            _ = self.tx.closed() => Err(Stop::ClientGone),
            _ = self.shutdown.triggered() => Err(Stop::End(StreamEnd::ShuttingDown { next: self.next })),
        }
    }
}
