//! The store: the durable log and its indexes, behind a narrow interface.
//!
//! [`Store`] is all the rest of the server sees of storage: append (through the group-commit
//! writer), read by position or id, resolve and list actors, answer queries from the query
//! indexes (`postings`, `query`), describe the log. Only the `sled_log` module touches sled, so
//! a second backend replaces that module and keeps the writer's semantics. Readers never see past the durable head: an entry becomes visible only
//! once the flush that contains it has returned, so nothing a client read can vanish in a crash.

mod actor_index;
mod error;
pub mod keys;
mod postings;
mod query;
pub mod record;
mod sled_log;
mod writer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{broadcast, watch};

use crate::domain::names::{fold, words, MatchQuality};
use crate::domain::{
    Actor, ActorKind, CountryCode, Entry, EntryBody, EntryId, Position, SubscriptionName,
    SubscriptionRejection, SubscriptionState,
};

pub use error::StoreError;
#[cfg(test)]
use query::SCAN_BUDGET;
pub use query::{QueryPage, RelationAnswer};
pub use sled_log::Counts;
pub use writer::{AppendError, AppendReceipt, AppendedEntry, CommittedEntries, LIVE_FEED_GROUPS};

use sled_log::SledLog;
use writer::Writer;

/// How many index keys one name lookup examines at most, so a very common word cannot make
/// `ResolveActor` scan without bound.
const RESOLVE_SCAN_CAP: usize = 2_000;

/// Where and how to open the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The data directory (created if missing).
    pub path: PathBuf,
    /// Upper bound of sled's page cache in bytes.
    pub cache_capacity_bytes: u64,
}

/// A description of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogStats {
    /// The durable head.
    pub head: Position,
    /// Counters per kind.
    pub counts: Counts,
    /// Bytes on disk.
    pub size_on_disk: u64,
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

/// The durable log with its indexes.
pub struct Store {
    log: Arc<SledLog>,
    writer: Writer,
    /// The durable head; subscriptions and readers watch it.
    head: watch::Receiver<Position>,
    /// Every group commit's entries, right after the head moved past them.
    live: broadcast::Sender<CommittedEntries>,
    /// See `lock_subscriptions`.
    subscriptions_lock: std::sync::Mutex<()>,
}

impl Store {
    /// Opens the store, recovering head and counters from disk.
    pub fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        let log = Arc::new(SledLog::open(&config.path, config.cache_capacity_bytes)?);
        log.ensure_query_index()?;
        let head = log.last_position()?;
        let counts = log.counts()?;
        let (head_tx, head_rx) = watch::channel(head);
        let (live, _) = broadcast::channel(LIVE_FEED_GROUPS);
        let writer = Writer::start(Arc::clone(&log), head, counts, head_tx, live.clone())?;
        Ok(Store {
            log,
            writer,
            head: head_rx,
            live,
            subscriptions_lock: std::sync::Mutex::new(()),
        })
    }

    /// Appends a batch atomically; returns once it is durable.
    pub async fn append(
        &self,
        entries: Vec<EntryBody>,
        expected_head: Option<Position>,
    ) -> Result<AppendReceipt, AppendError> {
        self.writer.append(entries, expected_head).await
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

    /// The entry with this id (an actor's latest revision), if it is durable.
    pub fn entry_by_id(&self, id: &EntryId) -> Result<Option<Entry>, StoreError> {
        match self.log.lookup(id)? {
            Some((position, _)) => self.entry_at(position),
            None => Ok(None),
        }
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
            EntryBody::Actor(actor) => Some((actor.clone(), entry)),
            _ => None,
        }))
    }

    /// Actors matching `name`, best first (see `MatchQuality`), at most `limit`.
    pub fn resolve_actor(&self, name: &str, limit: usize) -> Result<Vec<Actor>, StoreError> {
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
        for (id, source) in self.log.exact_names(&folded)? {
            offer(id, source.exact_quality());
        }
        for id in self.log.names_with_prefix(&folded, RESOLVE_SCAN_CAP)? {
            offer(id, MatchQuality::Prefix);
        }
        let query_words = words(&folded);
        // Walk the longest word (likely the rarest) and check the others per candidate.
        if let Some(anchor) = query_words.iter().max_by_key(|w| w.len()) {
            for id in self.log.actors_with_word(anchor, RESOLVE_SCAN_CAP)? {
                let Ok(actor_id) = EntryId::parse(&id) else {
                    continue;
                };
                let mut all = true;
                for word in query_words.iter().filter(|w| *w != anchor) {
                    if !self.log.actor_has_word(word, &actor_id)? {
                        all = false;
                        break;
                    }
                }
                if all {
                    offer(id, MatchQuality::AllWords);
                }
            }
        }
        let mut ranked: Vec<(MatchQuality, String)> =
            best.into_iter().map(|(id, q)| (q, id)).collect();
        ranked.sort();
        let mut actors = Vec::with_capacity(limit.min(ranked.len()));
        for (_, id) in ranked.into_iter().take(limit) {
            let Ok(id) = EntryId::parse(&id) else {
                continue;
            };
            if let Some((actor, _)) = self.actor(&id)? {
                actors.push(actor);
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
        let positions = self.log.actors_after(after, budget)?;
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
                actors.push(actor);
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
            counts: self.log.counts()?,
            size_on_disk: self.log.size_on_disk()?,
        })
    }

    /// The named subscription `name`, created with `create()` if it does not exist yet.
    /// Returns its state and whether it was created.
    pub fn open_subscription(
        &self,
        name: &SubscriptionName,
        create: impl FnOnce() -> SubscriptionState,
    ) -> Result<(SubscriptionState, bool), StoreError> {
        let _guard = self.lock_subscriptions();
        if let Some(state) = self.log.subscription(name.as_str())? {
            return Ok((state, false));
        }
        let state = create();
        self.log.put_subscription(name.as_str(), &state)?;
        Ok((state, true))
    }

    /// Stores `position` as the checkpoint of `name`, durably.
    pub fn commit_checkpoint(
        &self,
        name: &SubscriptionName,
        position: Position,
    ) -> Result<Result<SubscriptionState, SubscriptionRejection>, StoreError> {
        let _guard = self.lock_subscriptions();
        let Some(mut state) = self.log.subscription(name.as_str())? else {
            return Ok(Err(SubscriptionRejection::Unknown(name.to_string())));
        };
        let head = self.head();
        if position > head {
            return Ok(Err(SubscriptionRejection::BeyondHead { position, head }));
        }
        state.checkpoint = position;
        state.updated_at = SystemTime::now();
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

#[cfg(test)]
mod query_tests;
#[cfg(test)]
mod tests;
