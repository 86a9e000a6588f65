//! Per-caller shares of the concurrency pools.
//!
//! Why: the pools of [`super::limits`] are global, so without shares one caller with enough
//! slow calls in flight (heavy queries, streams it reads slowly) would take every slot and
//! deny everyone else. Each caller may hold at most a share of each pool (half by default):
//! one caller alone still gets most of the server, and two cannot be shut out by a third.
//!
//! A caller is its access token when it presented one, otherwise its connection: without
//! tokens every client looks alike, and a connection is what one client controls (its calls
//! are also capped by HTTP/2 `MAX_CONCURRENT_STREAMS`).
//!
//! Bounded: the table holds only callers with a call in flight, so never more entries than
//! the pool has slots.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Who a slot is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CallerKey {
    /// A caller that presented this token (its configured name).
    Token(Arc<str>),
    /// A caller without a token, on the connection from this address.
    Connection(SocketAddr),
}

impl CallerKey {
    /// How a refusal names the caller.
    fn describe(&self) -> String {
        match self {
            CallerKey::Token(name) => format!("the token {name:?}"),
            CallerKey::Connection(_) => "this connection".to_string(),
        }
    }
}

/// The shares of one pool.
#[derive(Debug)]
pub struct Shares {
    /// Slots one caller may hold.
    cap: usize,
    held: Mutex<HashMap<CallerKey, usize>>,
}

impl Shares {
    /// Shares of a pool of `pool` slots: `percent` of it per caller, at least one slot.
    pub fn new(pool: usize, percent: u8) -> Arc<Shares> {
        let cap = (pool.saturating_mul(usize::from(percent.min(100))) / 100).max(1);
        Arc::new(Shares {
            cap,
            held: Mutex::new(HashMap::new()),
        })
    }

    /// Slots one caller may hold.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Counts one more slot against `key`, or says who already holds its whole share.
    pub fn take(self: &Arc<Self>, key: CallerKey) -> Result<Share, String> {
        let mut held = self.lock();
        let count = held.entry(key.clone()).or_insert(0);
        if *count >= self.cap {
            return Err(key.describe());
        }
        *count += 1;
        Ok(Share {
            shares: Arc::clone(self),
            key,
        })
    }

    /// Callers with a slot now (for tests of the bound).
    #[cfg(test)]
    fn callers(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CallerKey, usize>> {
        // Counts are only ever changed by whole steps under the lock; a panic elsewhere
        // cannot leave them half-updated.
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One slot counted against a caller; given back when dropped.
#[derive(Debug)]
pub struct Share {
    shares: Arc<Shares>,
    key: CallerKey,
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut held = self.shares.lock();
        if let Some(count) = held.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_holds_at_most_its_share_and_gives_it_back() {
        let shares = Shares::new(4, 50);
        let alice = || CallerKey::Token("alice".into());
        let first = shares.take(alice()).expect("1 of 2");
        let second = shares.take(alice()).expect("2 of 2");
        assert_eq!(
            shares.take(alice()).expect_err("over the share"),
            "the token \"alice\""
        );
        let bob = shares
            .take(CallerKey::Token("bob".into()))
            .expect("another caller has its own share");
        drop(first);
        let third = shares.take(alice()).expect("a slot came back");
        drop((second, third, bob));
        assert_eq!(shares.callers(), 0, "no entry outlives its calls");
    }

    #[test]
    fn every_caller_gets_at_least_one_slot() {
        assert_eq!(Shares::new(1, 50).cap(), 1);
        assert_eq!(Shares::new(256, 50).cap(), 128);
        assert_eq!(Shares::new(256, 100).cap(), 256);
    }
}
