//! Running consumer groups: one task per group in use ([`runtime`]), started when a member
//! joins or someone asks about it, and the handles members hold.
//!
//! Beside the layers, like `subscription`: it drives the domain's delivery rules
//! (`domain::group::dispatch`) over the store's log and the store's group state, and knows
//! nothing of gRPC; the service turns [`MemberEvent`]s into messages.

pub mod runtime;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::domain::group::{
    pin_key, DeliveryId, Dispatcher, GroupConfig, GroupName, GroupRejection, GroupSettings,
    MemberId, Source,
};
use crate::domain::{Entry, Position};
use crate::ops::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::store::{Store, StoreError};

use runtime::{blocking, Command, Restored, Runtime, COMMAND_BUFFER};

/// What a member is sent.
#[derive(Debug)]
pub enum MemberEvent {
    /// An entry to process.
    Delivery {
        /// The id to ack it with.
        delivery: DeliveryId,
        /// 1 for the first delivery.
        attempt: u32,
        /// The entry.
        entry: Arc<Entry>,
    },
    /// Acks stored durably (`acked`) and acks that changed nothing (`late`).
    Acked {
        /// Delivery ids.
        acked: Vec<u64>,
        /// Delivery ids.
        late: Vec<u64>,
    },
    /// The member's stream ends, and why.
    End(GroupEnd),
}

/// Why the server ended a member's stream.
#[derive(Debug, Clone)]
pub enum GroupEnd {
    /// The member broke a rule (an unknown delivery id, a second join).
    Rejected(GroupRejection),
    /// The group was deleted.
    Deleted(String),
    /// The server is stopping.
    ShuttingDown,
    /// The store failed.
    Store(String),
}

/// Why a request about a running group failed.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// Refused by the rules.
    #[error(transparent)]
    Rejected(#[from] GroupRejection),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The group's task is gone (the server is stopping).
    #[error("the consumer group stopped; the server is shutting down")]
    Stopped,
}

/// What a running group reports about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeStatus {
    /// The next log position it reads.
    pub next_position: Position,
    /// Every matching entry at or below this is acked or parked.
    pub acked_through: Position,
    /// Deliveries at members.
    pub in_flight: usize,
    /// Entries waiting for a member.
    pub waiting: usize,
    /// Replayed entries in the window.
    pub replaying_in_window: usize,
    /// Each member: id, in flight, most in flight.
    pub members: Vec<(MemberId, usize, usize)>,
}

/// A member's side of its membership: acks and nacks go through it, and dropping it leaves
/// the group (the stream ended), which gives its unacked entries to the others at once.
pub struct Member {
    /// Its id.
    pub id: MemberId,
    /// The group's configuration when it joined.
    pub config: GroupConfig,
    /// What it is sent.
    pub events: mpsc::Receiver<MemberEvent>,
    /// Its commands to the group.
    pub handle: MemberHandle,
}

/// Sends a member's acks and nacks; leaves the group when dropped.
pub struct MemberHandle {
    id: MemberId,
    commands: mpsc::Sender<Command>,
}

impl MemberHandle {
    /// Acks deliveries (waits while the group's command buffer is full).
    pub async fn ack(&self, deliveries: Vec<DeliveryId>) {
        let _ = self.commands.send(Command::Ack(self.id, deliveries)).await;
    }

    /// Nacks a delivery.
    pub async fn nack(&self, delivery: DeliveryId, delay: Duration) {
        let _ = self
            .commands
            .send(Command::Nack(self.id, delivery, delay))
            .await;
    }

    /// Ends this member's stream with `why`.
    pub async fn reject(&self, why: GroupRejection) {
        let _ = self
            .commands
            .send(Command::Kick(self.id, GroupEnd::Rejected(why)))
            .await;
    }
}

impl Drop for MemberHandle {
    fn drop(&mut self) {
        let leave = Command::Leave(self.id);
        if let Err(mpsc::error::TrySendError::Full(leave)) = self.commands.try_send(leave) {
            // The buffer is full of other members' acks: leave as soon as there is room.
            let commands = self.commands.clone();
            tokio::spawn(async move {
                let _ = commands.send(leave).await;
            });
        }
    }
}

/// The running groups of a server.
pub struct Groups {
    store: Arc<Store>,
    shutdown: Shutdown,
    /// Each group's lag, in flight, waiting, members and counts.
    metrics: Metrics,
    /// A tokio mutex: starting a group reads its state from the store while holding it, so
    /// that one group never gets two tasks, and deleting one stops its task and removes its
    /// state with no start in between.
    running: tokio::sync::Mutex<HashMap<GroupName, mpsc::Sender<Command>>>,
}

impl Groups {
    /// No group running yet; their tasks end when `shutdown` triggers.
    pub fn new(store: Arc<Store>, shutdown: Shutdown, metrics: Metrics) -> Groups {
        Groups {
            store,
            shutdown,
            metrics,
            running: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Joins `name` as a member holding at most `max_in_flight` deliveries.
    pub async fn join(&self, name: &GroupName, max_in_flight: usize) -> Result<Member, GroupError> {
        let (commands, config) = self.running(name).await?;
        let (reply, joined) = oneshot::channel();
        commands
            .send(Command::Join {
                max_in_flight,
                reply,
            })
            .await
            .map_err(|_| GroupError::Stopped)?;
        let (id, events) = joined.await.map_err(|_| GroupError::Stopped)?;
        Ok(Member {
            id,
            config,
            events,
            handle: MemberHandle { id, commands },
        })
    }

    /// What `name` is doing, if its task runs (a group nobody joined since the server started
    /// has no task: its state is what the store holds).
    pub async fn status(&self, name: &GroupName) -> Option<RuntimeStatus> {
        let commands = self.running.lock().await.get(name).cloned()?;
        let (reply, status) = oneshot::channel();
        commands.send(Command::Status(reply)).await.ok()?;
        status.await.ok()
    }

    /// Stores new settings for `name` and applies them to its task, if it runs.
    pub async fn update(
        &self,
        name: &GroupName,
        settings: GroupSettings,
    ) -> Result<GroupConfig, GroupError> {
        let running = self.running.lock().await;
        let store = Arc::clone(&self.store);
        let (stored_name, stored) = (name.clone(), settings.clone());
        let config = blocking(move || store.update_group(&stored_name, stored)).await??;
        if let Some(commands) = running.get(name) {
            let _ = commands.send(Command::Reconfigure(settings)).await;
        }
        Ok(config)
    }

    /// Tells the task of `name`, if it runs, that parked entries were replayed.
    pub async fn replayed(&self, name: &GroupName) {
        if let Some(commands) = self.running.lock().await.get(name).cloned() {
            let _ = commands.send(Command::Replayed).await;
        }
    }

    /// Stops the task of `name` (its members' streams end) and deletes its state; false if
    /// there was no such group.
    pub async fn delete(&self, name: &GroupName) -> Result<bool, GroupError> {
        let mut running = self.running.lock().await;
        if let Some(commands) = running.remove(name) {
            let (reply, stopped) = oneshot::channel();
            if commands.send(Command::Stop(reply)).await.is_ok() {
                let _ = stopped.await;
            }
        }
        self.metrics.groups().removed(name.as_str());
        let store = Arc::clone(&self.store);
        let name = name.clone();
        Ok(blocking(move || store.delete_group(&name)).await?)
    }

    /// The command channel of `name`'s task, started if need be, and its configuration.
    async fn running(
        &self,
        name: &GroupName,
    ) -> Result<(mpsc::Sender<Command>, GroupConfig), GroupError> {
        let mut running = self.running.lock().await;
        let store = Arc::clone(&self.store);
        let loaded = name.clone();
        let (config, progress) = blocking(move || {
            let Some(config) = store.group(&loaded)? else {
                return Ok(None);
            };
            let progress = store.group_progress(&loaded)?.unwrap_or_default();
            Ok(Some((config, progress)))
        })
        .await?
        .ok_or_else(|| GroupRejection::Unknown(name.to_string()))?;
        if let Some(commands) = running.get(name).filter(|c| !c.is_closed()) {
            return Ok((commands.clone(), config));
        }
        // Restore the window: the outstanding entries, deliverable at once, their attempts
        // counted on.
        let store = Arc::clone(&self.store);
        let outstanding = progress.outstanding.clone();
        let restored = blocking(move || {
            let mut entries = Vec::with_capacity(outstanding.len());
            for (position, attempts) in outstanding {
                if let Some(entry) = store.entry_at(position)? {
                    entries.push((entry, attempts));
                }
            }
            Ok(entries)
        })
        .await?;
        let mut dispatcher =
            Dispatcher::new(config.settings.clone(), progress.cursor.max(config.start));
        let mut window = HashMap::with_capacity(restored.len());
        let now = Instant::now();
        for (entry, attempts) in restored {
            dispatcher.admit(
                entry.position,
                pin_key(&entry.body),
                Source::Log,
                attempts,
                now,
            );
            window.insert(entry.position, Arc::new(entry));
        }
        let (commands, receiver) = mpsc::channel(COMMAND_BUFFER);
        let restored = Restored {
            config: config.clone(),
            dispatcher,
            entries: window,
        };
        let runtime = Runtime::new(
            name.clone(),
            Arc::clone(&self.store),
            restored,
            receiver,
            self.shutdown.clone(),
            self.metrics.clone(),
        );
        tracing::info!(group = %name, cursor = progress.cursor.0, outstanding = progress.outstanding.len(), "consumer group started");
        tokio::spawn(runtime.run());
        running.insert(name.clone(), commands.clone());
        Ok((commands, config))
    }
}
