//! Where the indexer's entries come from: the writer's live feed when it holds them, the log
//! otherwise.
//!
//! Why: the writer already has every committed entry as a domain value (it planned them, and
//! sends them to subscribers after the flush). Reading them back from the log costs the indexer
//! a sled scan and a decode per entry, about a third of its time: measured on 1M GDELT rows, the
//! indexer thread's CPU per entry. On two cores that time is taken from the write path.
//!
//! Why it stays right: the feed carries only flushed entries, the same values the log holds
//! (records round-trip to the bodies they were encoded from), and it is only a shortcut. The
//! indexer takes entries from it only when they continue exactly where the indexes end; after a
//! restart, a lag, or anything missing it reads the log, as it always did.
//!
//! Why it stays bounded: it holds at most `HOLD` entries (by whole groups) and drops the rest,
//! so a slow indexer never keeps the broadcast channel's groups alive; they are read from the
//! log when their turn comes.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::broadcast::{self, error::TryRecvError};

use crate::domain::{Entry, Position};

use super::engine::sled_log::SledLog;
use super::error::StoreError;
use super::writer::CommittedEntries;

/// Entries held from the feed at most: two of the indexer's chunks, because it lingers until a
/// chunk's worth is waiting and more arrive while it indexes one.
pub const HOLD: usize = 2 * super::indexer::CHUNK;

/// The writer's groups the indexer has received and not yet indexed past.
pub struct IndexFeed {
    live: broadcast::Receiver<CommittedEntries>,
    /// In position order, consecutive, each with entries after the indexes' watermark.
    held: VecDeque<CommittedEntries>,
    held_entries: usize,
}

/// Entries to index next, in position order and consecutive: borrowed from the feed's groups
/// or read from the log.
pub enum Chunk {
    /// From the feed: the entries of `groups` from `from` through `to`.
    Fed {
        groups: Vec<CommittedEntries>,
        from: Position,
        to: Position,
    },
    /// Read and decoded from the log.
    Read(Vec<Entry>),
}

impl Chunk {
    /// The entries, in position order.
    pub fn entries(&self) -> Vec<&Entry> {
        match self {
            Chunk::Fed { groups, from, to } => groups
                .iter()
                .flat_map(|group| group.entries.iter())
                .filter(|entry| entry.position >= *from && entry.position <= *to)
                .collect(),
            Chunk::Read(entries) => entries.iter().collect(),
        }
    }

    /// Counts `indexed` entries of it in `sources`.
    pub fn count(&self, indexed: usize, sources: &IndexSources) {
        let counter = match self {
            Chunk::Fed { .. } => &sources.feed,
            Chunk::Read(_) => &sources.log,
        };
        counter.fetch_add(indexed as u64, Ordering::Relaxed);
    }
}

/// How many entries the indexer took from the feed and from the log since the store opened:
/// an indexer that keeps up takes nearly all from the feed.
#[derive(Debug, Default)]
pub struct IndexSources {
    feed: AtomicU64,
    log: AtomicU64,
}

/// A reading of [`IndexSources`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexedFrom {
    /// Entries taken from the writer's feed.
    pub feed: u64,
    /// Entries read back from the log.
    pub log: u64,
}

impl IndexSources {
    /// The counts as of now.
    pub fn read(&self) -> IndexedFrom {
        IndexedFrom {
            feed: self.feed.load(Ordering::Relaxed),
            log: self.log.load(Ordering::Relaxed),
        }
    }
}

impl IndexFeed {
    /// Follows `live`, subscribed before the writer commits anything it should see.
    pub fn new(live: broadcast::Receiver<CommittedEntries>) -> IndexFeed {
        IndexFeed {
            live,
            held: VecDeque::new(),
            held_entries: 0,
        }
    }

    /// Up to `max` entries after `through`, none past `head`: from the feed if its groups
    /// continue exactly at `through`, else from the log (up to where the feed's groups begin).
    pub fn next_chunk(
        &mut self,
        log: &SledLog,
        through: Position,
        head: Position,
        max: usize,
    ) -> Result<Chunk, StoreError> {
        self.receive(through);
        let next = through.next();
        let starts_here = self
            .held
            .front()
            .and_then(|group| group.first())
            .is_some_and(|first| first <= next);
        if !starts_here {
            // Up to the first held entry, if any: from there the feed has them.
            let to = match self.held.front().and_then(|group| group.first()) {
                Some(first) => Position(first.0 - 1).min(head),
                None => head,
            };
            return log.scan(next, to, max).map(Chunk::Read);
        }
        let mut groups = Vec::new();
        let mut to = through;
        let mut taken = 0;
        while let Some(group) = self.held.front() {
            let Some(last) = group.entries.last().map(|e| e.position) else {
                self.pop();
                continue;
            };
            let fresh = group.entries.iter().filter(|e| e.position > to).count();
            if taken > 0 && taken + fresh > max {
                break;
            }
            let end = last.min(head);
            taken += fresh;
            to = end;
            groups.push(CommittedEntries::clone(group));
            if end < last {
                break;
            }
            self.pop();
        }
        Ok(Chunk::Fed {
            groups,
            from: next,
            to,
        })
    }

    /// Takes what the writer has sent since the last call. A group is held if it continues the
    /// held ones and fits; otherwise it is dropped, for the log to supply: the held groups still
    /// begin where the indexes end, and once they are indexed the feed begins again with a
    /// later group. Draining the channel every time is what keeps a slow indexer from keeping
    /// the broadcast's groups alive.
    fn receive(&mut self, through: Position) {
        while let Some(group) = self.held.front() {
            match group.entries.last() {
                Some(last) if last.position > through => break,
                _ => self.pop(),
            }
        }
        loop {
            let group = match self.live.try_recv() {
                Ok(group) => group,
                // Groups were lost: the next one does not continue the held ones, and is
                // dropped by the rule above.
                Err(TryRecvError::Lagged(_)) => continue,
                Err(TryRecvError::Empty | TryRecvError::Closed) => return,
            };
            let (Some(first), Some(last)) = (group.first(), group.entries.last()) else {
                continue;
            };
            if last.position <= through {
                continue;
            }
            let continues = match self.held.back().and_then(|g| g.entries.last()) {
                Some(held_last) => held_last.position.next() == first,
                None => true,
            };
            if continues && self.held_entries + group.entries.len() <= HOLD {
                self.held_entries += group.entries.len();
                self.held.push_back(group);
            }
        }
    }

    fn pop(&mut self) {
        if let Some(group) = self.held.pop_front() {
            self.held_entries -= group.entries.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::domain::{Actor, ActorKind, Checked, EntryBody, EntryId};
    use crate::store::stored::CommittedGroup;

    fn entry(position: u64) -> Entry {
        Entry {
            position: Position(position),
            recorded_at: UNIX_EPOCH,
            body: EntryBody::Actor(Checked::from_log(Actor {
                id: EntryId::parse(&format!("a{position}")).expect("valid"),
                name: format!("Actor {position}"),
                aliases: Vec::new(),
                kind: ActorKind::ArmedGroup,
                country: None,
                affiliations: Vec::new(),
                same_as: Vec::new(),
                description: String::new(),
            })),
        }
    }

    /// A group of the entries at `positions` (the records are not read here).
    fn group(positions: std::ops::RangeInclusive<u64>) -> CommittedEntries {
        CommittedGroup::new(positions.map(entry).collect(), Vec::new())
    }

    fn positions(chunk: &Chunk) -> Vec<u64> {
        chunk.entries().iter().map(|e| e.position.0).collect()
    }

    /// An empty log: whatever the feed does not supply is looked for there, and not found.
    fn empty_log() -> (tempfile::TempDir, SledLog) {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = SledLog::open(dir.path(), 1 << 20).expect("log");
        (dir, log)
    }

    #[test]
    fn consecutive_groups_are_handed_over_up_to_the_head_and_the_chunk_size() {
        let (_dir, log) = empty_log();
        let (tx, rx) = broadcast::channel(8);
        let mut feed = IndexFeed::new(rx);
        for range in [1..=3, 4..=6, 7..=9] {
            tx.send(group(range)).expect("sent");
        }
        // The head cuts a group short; the rest of it comes next time.
        let chunk = feed
            .next_chunk(&log, Position(0), Position(5), 100)
            .expect("chunk");
        assert!(matches!(chunk, Chunk::Fed { .. }));
        assert_eq!(positions(&chunk), vec![1, 2, 3, 4, 5]);
        // Whole groups up to the chunk size (at least one group).
        let chunk = feed
            .next_chunk(&log, Position(5), Position(9), 3)
            .expect("chunk");
        assert_eq!(positions(&chunk), vec![6]);
        let chunk = feed
            .next_chunk(&log, Position(6), Position(9), 3)
            .expect("chunk");
        assert_eq!(positions(&chunk), vec![7, 8, 9]);
        assert_eq!(feed.held_entries, 0);
    }

    #[test]
    fn a_gap_a_lag_or_a_feed_that_starts_later_sends_the_indexer_to_the_log() {
        let (_dir, log) = empty_log();
        let (tx, rx) = broadcast::channel(2);
        let mut feed = IndexFeed::new(rx);
        // Three groups into a channel of two: the first is lost to the receiver.
        for range in [1..=2, 3..=4, 5..=6] {
            tx.send(group(range)).expect("sent");
        }
        // Entries 1 and 2 are not in the feed: the log is asked for them (up to where the
        // feed begins), and this empty log has none.
        let chunk = feed
            .next_chunk(&log, Position(0), Position(6), 100)
            .expect("chunk");
        assert!(matches!(chunk, Chunk::Read(ref entries) if entries.is_empty()));
        // Once the indexes reach the feed, it supplies the rest.
        let chunk = feed
            .next_chunk(&log, Position(2), Position(6), 100)
            .expect("chunk");
        assert_eq!(positions(&chunk), vec![3, 4, 5, 6]);
        // A group that does not continue the held ones is dropped; once the held ones are
        // indexed, the log supplies what follows.
        tx.send(group(7..=7)).expect("sent");
        tx.send(group(9..=9)).expect("sent");
        let chunk = feed
            .next_chunk(&log, Position(6), Position(9), 100)
            .expect("chunk");
        assert_eq!(positions(&chunk), vec![7]);
        assert!(feed.held.is_empty(), "the group after the gap is not held");
        let chunk = feed
            .next_chunk(&log, Position(7), Position(9), 100)
            .expect("chunk");
        assert!(matches!(chunk, Chunk::Read(_)));
    }

    #[test]
    fn the_hold_is_bounded_and_what_overflows_it_is_left_to_the_log() {
        let (_dir, log) = empty_log();
        let (tx, rx) = broadcast::channel(8);
        let mut feed = IndexFeed::new(rx);
        let big = (HOLD as u64 / 2) + 1;
        tx.send(group(1..=big)).expect("sent");
        tx.send(group(big + 1..=2 * big)).expect("sent");
        let chunk = feed
            .next_chunk(&log, Position(0), Position(2 * big), HOLD)
            .expect("chunk");
        // The second group did not fit beside the first: it was dropped, and nothing of it
        // is kept alive here.
        assert_eq!(positions(&chunk).len() as u64, big);
        assert!(feed.held.is_empty());
        drop(chunk);
        assert_eq!(tx.len(), 0, "the channel holds no group for the indexer");
        let chunk = feed
            .next_chunk(&log, Position(big), Position(2 * big), HOLD)
            .expect("chunk");
        assert!(matches!(chunk, Chunk::Read(_)));
    }
}
