//! One running consumer group: a task that owns the group's [`Dispatcher`], feeds it from the
//! log (and the replay set), carries out its assignments and stores what it decided.
//!
//! Everything about the group goes through the task's command channel, so its state has one
//! owner and needs no lock. Each turn of its loop takes every command waiting, then expires,
//! dispatches, and stores the turn's acks, parkings and progress in one flushed batch; only
//! then are the acks confirmed to the members (`Acked`). A burst of acks from many members
//! thus costs one flush, the way group commit does for appends.
//!
//! Memory is bounded by the settings, not by the log or the members: the window holds at most
//! `max_ack_pending` entries (kept decoded, so a redelivery reads nothing), the command channel
//! is bounded, and each member's channel holds at most what the member may have in flight plus
//! as many confirmations.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, oneshot};

use crate::domain::group::{
    pin_key, AckOutcome, Assignment, DeliveryId, Dispatcher, GroupConfig, GroupName,
    GroupRejection, GroupSettings, MemberId, NackOutcome, Parked, Source,
};
use crate::domain::{Entry, Position};
use crate::ops::metrics::groups::GroupGauges;
use crate::ops::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::store::groups::GroupWrite;
use crate::store::{Store, StoreError};

use super::{GroupEnd, MemberEvent, RuntimeStatus};

/// Commands buffered per group; senders wait beyond that (members' acks slow down rather than
/// queue without bound).
pub const COMMAND_BUFFER: usize = 1024;
/// Log entries read per step.
const READ_CHUNK: usize = 512;

/// What the task is told.
pub enum Command {
    /// A member joins; the reply carries its id and its channel.
    Join {
        /// At most this many in flight (0 = max_ack_pending).
        max_in_flight: usize,
        /// Where the membership goes.
        reply: oneshot::Sender<(MemberId, mpsc::Receiver<MemberEvent>)>,
    },
    /// A member left (its stream ended).
    Leave(MemberId),
    /// A member acked these deliveries.
    Ack(MemberId, Vec<DeliveryId>),
    /// A member nacked a delivery, with a delay.
    Nack(MemberId, DeliveryId, Duration),
    /// A member broke the protocol: end its stream with this.
    Kick(MemberId, GroupEnd),
    /// What the group is doing.
    Status(oneshot::Sender<RuntimeStatus>),
    /// New settings.
    Reconfigure(GroupSettings),
    /// The replay set grew: look at it again.
    Replayed,
    /// The group is being deleted: end every member's stream, write nothing more, reply.
    Stop(oneshot::Sender<()>),
}

/// What a group's task starts from: its configuration and its window as the store had them.
pub struct Restored {
    /// The configuration.
    pub config: GroupConfig,
    /// The dispatcher with the outstanding entries admitted.
    pub dispatcher: Dispatcher,
    /// Those entries.
    pub entries: HashMap<Position, Arc<Entry>>,
}

/// The task's state.
pub struct Runtime {
    pub(super) name: GroupName,
    pub(super) store: Arc<Store>,
    pub(super) config: GroupConfig,
    pub(super) dispatcher: Dispatcher,
    /// The window's entries, decoded once.
    pub(super) entries: HashMap<Position, Arc<Entry>>,
    pub(super) commands: mpsc::Receiver<Command>,
    pub(super) shutdown: Shutdown,
    pub(super) metrics: Metrics,
    /// Acks, redeliveries and parkings of this turn, for the metrics.
    counts: (u64, u64, u64),
    /// Each member's channel.
    members: HashMap<MemberId, mpsc::Sender<MemberEvent>>,
    /// What this turn must store.
    write: GroupWrite,
    progress_dirty: bool,
    /// Acks that take effect once this turn is stored: (acked, late) per member.
    confirm: HashMap<MemberId, (Vec<u64>, Vec<u64>)>,
    /// Where to look in the replay set next; `None` once it was read to its end.
    replay_from: Option<Position>,
}

/// Why the loop stopped.
enum Exit {
    Stopped(oneshot::Sender<()>),
    ShuttingDown,
    Store(StoreError),
}

impl Runtime {
    /// A runtime over a restored dispatcher.
    pub(super) fn new(
        name: GroupName,
        store: Arc<Store>,
        restored: Restored,
        commands: mpsc::Receiver<Command>,
        shutdown: Shutdown,
        metrics: Metrics,
    ) -> Runtime {
        let Restored {
            config,
            dispatcher,
            entries,
        } = restored;
        Runtime {
            name,
            store,
            config,
            dispatcher,
            entries,
            commands,
            shutdown,
            metrics,
            counts: (0, 0, 0),
            members: HashMap::new(),
            write: GroupWrite::default(),
            progress_dirty: false,
            confirm: HashMap::new(),
            replay_from: Some(Position::ZERO),
        }
    }

    /// Runs until the group is deleted, the server stops or the store fails.
    pub async fn run(mut self) {
        let mut live = self.store.live();
        let exit = loop {
            match self.turn(&mut live).await {
                Ok(()) => {}
                Err(exit) => break exit,
            }
        };
        let end = match &exit {
            Exit::Stopped(_) => GroupEnd::Deleted(self.name.to_string()),
            Exit::ShuttingDown => GroupEnd::ShuttingDown,
            Exit::Store(error) => {
                tracing::error!(group = %self.name, %error, "consumer group stopped: store failure");
                GroupEnd::Store(error.to_string())
            }
        };
        if !matches!(exit, Exit::Stopped(_)) {
            // What was acked must not be lost to a shutdown; a failed store takes no write.
            if !matches!(exit, Exit::Store(_)) {
                let _ = self.store_turn().await;
            }
        }
        for (_, tx) in self.members.drain() {
            let _ = tx.try_send(MemberEvent::End(end.clone()));
        }
        if let Exit::Stopped(reply) = exit {
            let _ = reply.send(());
        }
        tracing::info!(group = %self.name, "consumer group stopped");
    }

    async fn turn(
        &mut self,
        live: &mut broadcast::Receiver<crate::store::CommittedEntries>,
    ) -> Result<(), Exit> {
        let read_more = self.fill().await.map_err(Exit::Store)?;
        let now = Instant::now();
        let (requeued, parked) = self.dispatcher.expire(now);
        self.counts.1 += requeued as u64;
        self.park(parked);
        let assignments = self.dispatcher.dispatch(now);
        self.send(assignments, now);
        self.store_turn().await.map_err(Exit::Store)?;
        self.observe();
        if read_more {
            // More of the log waits and there is room: take commands waiting, then read on.
            while let Ok(command) = self.commands.try_recv() {
                self.handle(command)?;
            }
            return Ok(());
        }
        let due = self.dispatcher.next_due(Instant::now());
        let wants_entries = !self.members.is_empty() && self.dispatcher.room() > 0;
        tokio::select! {
            command = self.commands.recv() => match command {
                Some(command) => {
                    self.handle(command)?;
                    for _ in 0..COMMAND_BUFFER {
                        match self.commands.try_recv() {
                            Ok(command) => self.handle(command)?,
                            Err(_) => break,
                        }
                    }
                }
                // Every sender is gone: the registry dropped the group.
                None => return Err(Exit::ShuttingDown),
            },
            _ = live.recv(), if wants_entries => {}
            _ = sleep_until(due), if due.is_some() => {}
            _ = self.shutdown.triggered() => return Err(Exit::ShuttingDown),
        }
        Ok(())
    }

    fn handle(&mut self, command: Command) -> Result<(), Exit> {
        let now = Instant::now();
        match command {
            Command::Join {
                max_in_flight,
                reply,
            } => {
                let member = self.dispatcher.join(max_in_flight);
                let room = self
                    .dispatcher
                    .members()
                    .into_iter()
                    .find(|(id, _, _)| *id == member)
                    .map_or(1, |(_, _, max)| max);
                // Deliveries and as many confirmations, plus the end.
                let (tx, rx) = mpsc::channel(2 * room + 1);
                if reply.send((member, rx)).is_ok() {
                    self.members.insert(member, tx);
                    tracing::info!(group = %self.name, member = member.0, "member joined");
                } else {
                    self.dispatcher.leave(member, now);
                }
            }
            Command::Leave(member) => self.leave(member, now),
            Command::Ack(member, deliveries) => {
                for delivery in deliveries {
                    match self.dispatcher.ack(member, delivery) {
                        AckOutcome::Acked { position, source } => {
                            self.entries.remove(&position);
                            match source {
                                Source::Log => self.progress_dirty = true,
                                Source::Replay => self.write.replays_acked.push(position),
                            }
                            self.confirm.entry(member).or_default().0.push(delivery.0);
                            self.counts.0 += 1;
                        }
                        AckOutcome::Late => {
                            self.confirm.entry(member).or_default().1.push(delivery.0)
                        }
                        AckOutcome::Unknown => {
                            self.kick(
                                member,
                                GroupEnd::Rejected(GroupRejection::UnknownDelivery(delivery.0)),
                                now,
                            );
                            break;
                        }
                    }
                }
            }
            Command::Nack(member, delivery, delay) => {
                match self.dispatcher.nack(member, delivery, delay, now) {
                    NackOutcome::Requeued(_) => {
                        self.progress_dirty = true;
                        self.counts.1 += 1;
                    }
                    NackOutcome::Parked(parked) => self.park(vec![parked]),
                    NackOutcome::Late => {}
                    NackOutcome::Unknown => self.kick(
                        member,
                        GroupEnd::Rejected(GroupRejection::UnknownDelivery(delivery.0)),
                        now,
                    ),
                }
            }
            Command::Kick(member, end) => self.kick(member, end, now),
            Command::Status(reply) => {
                let (log, replay) = self.dispatcher.outstanding();
                let in_flight = self.dispatcher.in_flight();
                let _ = reply.send(RuntimeStatus {
                    next_position: self.dispatcher.cursor(),
                    acked_through: self.dispatcher.acked_through(),
                    in_flight,
                    waiting: (log + replay).saturating_sub(in_flight),
                    replaying_in_window: replay,
                    members: self.dispatcher.members(),
                });
            }
            Command::Reconfigure(settings) => {
                self.config.settings = settings.clone();
                self.dispatcher.set_settings(settings);
            }
            Command::Replayed => self.replay_from = Some(Position::ZERO),
            Command::Stop(reply) => return Err(Exit::Stopped(reply)),
        }
        Ok(())
    }

    fn leave(&mut self, member: MemberId, now: Instant) {
        if self.members.remove(&member).is_some() {
            tracing::info!(group = %self.name, member = member.0, "member left");
        }
        self.confirm.remove(&member);
        let held = self
            .dispatcher
            .members()
            .into_iter()
            .find(|(id, _, _)| *id == member)
            .map_or(0, |(_, in_flight, _)| in_flight);
        let parked = self.dispatcher.leave(member, now);
        self.counts.1 += held.saturating_sub(parked.len()) as u64;
        self.park(parked);
    }

    fn kick(&mut self, member: MemberId, end: GroupEnd, now: Instant) {
        if let Some(tx) = self.members.get(&member) {
            let _ = tx.try_send(MemberEvent::End(end));
        }
        self.leave(member, now);
    }

    fn park(&mut self, parked: Vec<Parked>) {
        for p in parked {
            tracing::warn!(group = %self.name, position = p.position.0, attempts = p.attempts, "entry parked");
            self.entries.remove(&p.position);
            self.write.parked.push((p.position, p.attempts, p.source));
            self.counts.2 += 1;
            self.progress_dirty = true;
        }
    }

    /// Reports the turn to the metrics.
    fn observe(&mut self) {
        let (log, replay) = self.dispatcher.outstanding();
        let in_flight = self.dispatcher.in_flight();
        let gauges = GroupGauges {
            lag: self
                .store
                .head()
                .0
                .saturating_sub(self.dispatcher.acked_through().0),
            in_flight,
            waiting: (log + replay).saturating_sub(in_flight),
            members: self.members.len(),
        };
        let name = self.name.as_str();
        self.metrics.groups().observed(name, gauges);
        let (acked, redelivered, parked) = std::mem::take(&mut self.counts);
        self.metrics
            .groups()
            .counted(name, acked, redelivered, parked);
    }

    /// Hands assignments to their members; one that cannot take it (gone, or its channel full
    /// of deliveries that expired meanwhile) gives it back.
    fn send(&mut self, assignments: Vec<Assignment>, now: Instant) {
        for assignment in assignments {
            let event = self
                .entries
                .get(&assignment.position)
                .map(|entry| MemberEvent::Delivery {
                    delivery: assignment.delivery,
                    attempt: assignment.attempt,
                    entry: Arc::clone(entry),
                });
            let sent = match (event, self.members.get(&assignment.member)) {
                (Some(event), Some(tx)) => tx.try_send(event).is_ok(),
                _ => false,
            };
            if !sent {
                self.dispatcher.unassign(&assignment, now);
            }
        }
    }

    /// Stores this turn's decisions, then confirms its acks.
    async fn store_turn(&mut self) -> Result<(), StoreError> {
        if self.progress_dirty {
            self.write.progress = Some(self.dispatcher.progress());
        }
        let write = std::mem::take(&mut self.write);
        self.progress_dirty = false;
        if !write.is_empty() {
            let store = Arc::clone(&self.store);
            let name = self.name.clone();
            tokio::task::spawn_blocking(move || store.write_group(&name, write))
                .await
                .map_err(|e| StoreError::Task(e.to_string()))??;
        }
        for (member, (acked, late)) in self.confirm.drain() {
            if let Some(tx) = self.members.get(&member) {
                let _ = tx.try_send(MemberEvent::Acked { acked, late });
            }
        }
        Ok(())
    }

    /// Takes entries into the window while it has room and members to give them to: first the
    /// replay set, then the log. True if the log has more to read at once.
    async fn fill(&mut self) -> Result<bool, StoreError> {
        if self.members.is_empty() || self.dispatcher.room() == 0 {
            return Ok(false);
        }
        if let Some(from) = self.replay_from {
            let limit = self.dispatcher.room();
            let store = Arc::clone(&self.store);
            let name = self.name.clone();
            let found = blocking(move || {
                let positions = store.replays(&name, from, limit)?;
                let mut entries = Vec::with_capacity(positions.len());
                for position in &positions {
                    entries.extend(store.entry_at(*position)?);
                }
                Ok((positions, entries))
            })
            .await?;
            let (positions, entries) = found;
            self.replay_from = match positions.last() {
                Some(last) if positions.len() == limit => Some(last.next()),
                _ => None,
            };
            let now = Instant::now();
            for entry in entries {
                if !self.dispatcher.holds(entry.position) {
                    self.admit(entry, Source::Replay, now);
                }
            }
        }
        let head = self.store.head();
        let from = self.dispatcher.cursor();
        let room = self.dispatcher.room();
        if room == 0 || from > head {
            return Ok(false);
        }
        let store = Arc::clone(&self.store);
        let max = room.min(READ_CHUNK);
        let read = blocking(move || store.read(from, head, max)).await?;
        let Some(last) = read.last().map(|e| e.position) else {
            return Ok(false);
        };
        let now = Instant::now();
        for entry in read {
            if self.config.filter.is_empty() || self.config.filter.matches(&entry.body) {
                self.admit(entry, Source::Log, now);
            }
        }
        self.dispatcher.advance(last.next());
        Ok(last < head && self.dispatcher.room() > 0)
    }

    fn admit(&mut self, entry: Entry, source: Source, now: Instant) {
        let position = entry.position;
        self.dispatcher
            .admit(position, pin_key(&entry.body), source, 0, now);
        self.entries.insert(position, Arc::new(entry));
    }
}

/// Store work off the async threads.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due.into()).await,
        None => std::future::pending().await,
    }
}
