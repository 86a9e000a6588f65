//! How far the derived indexes may trail the log before appends wait for them.
//!
//! Why: the indexer runs behind the head and at a lower priority (`priority`), so a burst of
//! appends is absorbed by letting the indexes fall behind. Under *sustained* load faster than
//! indexing (a ten-million-row import on two cores), that lag would grow without bound:
//! queries would wait for it past their patience (measured: 4M entries behind after a 10M
//! GDELT import, every query `UNAVAILABLE`), and a restart would have all of it to index again.
//! So the writer holds a group back while the lag is over the limit: the log then grows at the
//! pace the indexes keep, and the lag, the staleness a query may wait for, stays bounded.
//!
//! The limit is [`MAX_INDEX_LAG`], or, when the store opened further behind than that (a
//! rebuild after an upgrade, or the catch-up after a crash), the smallest lag seen since: appends
//! go on during a rebuild as long as they do not push the indexes further behind than they have
//! already caught up to, and the limit tightens as the indexer catches up.

use std::time::Duration;

use crate::domain::Position;

/// Entries the indexes may trail the head by in steady state: a few seconds of indexing here.
pub const MAX_INDEX_LAG: u64 = 65_536;
/// How long the writer holds one group back at most. Longer means the indexer is not
/// progressing at all (failing and retrying, say); appends then go on, and the failure is
/// logged, rather than every append timing out.
pub const PATIENCE: Duration = Duration::from_secs(5);
/// How often a held-back writer looks at the indexes again.
pub const POLL: Duration = Duration::from_millis(2);

/// The lag limit as the store has seen the indexes so far.
#[derive(Debug, Clone, Copy)]
pub struct LagLimit {
    /// The smallest lag seen since the store opened, never below `MAX_INDEX_LAG`.
    limit: u64,
}

impl LagLimit {
    /// The limit for a store that opened with the log at `head` and the indexes at `indexed`.
    pub fn new(head: Position, indexed: Position) -> LagLimit {
        LagLimit {
            limit: lag(head, indexed).max(MAX_INDEX_LAG),
        }
    }

    /// True if a group may be committed with the log at `head` and the indexes at `indexed`;
    /// tightens the limit to the lag seen.
    pub fn admits(&mut self, head: Position, indexed: Position) -> bool {
        let lag = lag(head, indexed);
        self.limit = self.limit.min(lag.max(MAX_INDEX_LAG));
        lag <= self.limit
    }
}

fn lag(head: Position, indexed: Position) -> u64 {
    head.0.saturating_sub(indexed.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_wait_only_past_the_limit() {
        let mut limit = LagLimit::new(Position(10), Position(10));
        assert!(limit.admits(Position(MAX_INDEX_LAG), Position(0)));
        assert!(!limit.admits(Position(MAX_INDEX_LAG + 1), Position(0)));
        assert!(limit.admits(Position(MAX_INDEX_LAG + 1), Position(1)));
    }

    #[test]
    fn a_store_opened_far_behind_may_not_fall_further_behind_than_it_caught_up() {
        // Opened 1M behind (a rebuild): appends go on at that lag...
        let mut limit = LagLimit::new(Position(1_000_000), Position(0));
        assert!(limit.admits(Position(1_000_000), Position(0)));
        assert!(!limit.admits(Position(1_000_001), Position(0)));
        // ...and as the indexer catches up, the limit follows it down, never back up...
        assert!(limit.admits(Position(1_000_100), Position(500_000)));
        assert!(!limit.admits(Position(1_000_200), Position(500_000)));
        // ...to the steady-state limit.
        assert!(limit.admits(Position(1_000_300), Position(1_000_300)));
        assert!(!limit.admits(Position(2_000_000), Position(1_000_300)));
        assert!(limit.admits(Position(1_000_300 + MAX_INDEX_LAG), Position(1_000_300)));
    }
}
