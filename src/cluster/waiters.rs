//! The appends of this node waiting for the stream to bring their batch back.
//!
//! An `Append` on a cluster node publishes its batch and then waits until this node has
//! applied it, because only the apply decides positions, duplicates and `expected_head`. The
//! waiter is registered under the message's request id *before* publishing, so the applier can
//! never apply the batch before someone waits for it. A waiter that gives up (its deadline, its
//! client gone) takes its entry with it, and the number of entries is capped: memory does not
//! grow with what clients do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::store::{AppendError, AppendReceipt};

/// What the applier tells a waiter: what applying the batch decided.
pub type Outcome = Result<AppendReceipt, AppendError>;

/// The registry of waiting appends, shared by the append path and the applier.
#[derive(Clone)]
pub struct Waiters {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` once closed: the node is stopping and nothing will settle a waiter again.
    waiting: Mutex<Option<HashMap<String, oneshot::Sender<Outcome>>>>,
    /// One permit per waiting append.
    room: Arc<Semaphore>,
}

/// A registered waiter; dropping it unregisters it.
pub struct Waiting {
    request: String,
    inner: Arc<Inner>,
    outcome: Option<oneshot::Receiver<Outcome>>,
    _permit: OwnedSemaphorePermit,
}

impl Waiters {
    /// A registry holding at most `capacity` waiting appends.
    pub fn new(capacity: usize) -> Waiters {
        Waiters {
            inner: Arc::new(Inner {
                waiting: Mutex::new(Some(HashMap::new())),
                room: Arc::new(Semaphore::new(capacity)),
            }),
        }
    }

    /// Registers a waiter for `request`; `None` when the registry is full or closed.
    pub fn register(&self, request: String) -> Option<Waiting> {
        let permit = Arc::clone(&self.inner.room).try_acquire_owned().ok()?;
        let (tx, rx) = oneshot::channel();
        self.inner.lock().as_mut()?.insert(request.clone(), tx);
        Some(Waiting {
            request,
            inner: Arc::clone(&self.inner),
            outcome: Some(rx),
            _permit: permit,
        })
    }

    /// Hands `outcome` to the waiter of `request`, if it still waits. A batch another node
    /// published, or one whose waiter gave up, has none.
    pub fn settle(&self, request: &str, outcome: Outcome) {
        let waiter = self.inner.lock().as_mut().and_then(|w| w.remove(request));
        if let Some(tx) = waiter {
            let _ = tx.send(outcome);
        }
    }

    /// Stops the registry: every waiter is told at once that no outcome will come, and no new
    /// one is taken. For a node that stops applying the stream.
    pub fn close(&self) {
        self.inner.lock().take();
    }

    /// Whether [`Waiters::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.lock().is_none()
    }

    /// How many appends wait now.
    pub fn len(&self) -> usize {
        self.inner.lock().as_ref().map_or(0, HashMap::len)
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<HashMap<String, oneshot::Sender<Outcome>>>> {
        // A panic while holding the lock cannot leave the map half-updated.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Waiting {
    /// Waits for the outcome; `None` if the registry went away first (the node is stopping).
    pub async fn outcome(&mut self) -> Option<Outcome> {
        self.outcome.as_mut()?.await.ok()
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(waiting) = self.inner.lock().as_mut() {
            waiting.remove(&self.request);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Position;

    fn receipt() -> Outcome {
        Ok(AppendReceipt {
            entries: Vec::new(),
            head: Position(7),
        })
    }

    #[tokio::test]
    async fn a_settled_waiter_gets_its_outcome_and_leaves_the_registry() {
        let waiters = Waiters::new(2);
        let mut waiting = waiters.register("a".into()).expect("room");
        waiters.settle("a", receipt());
        let outcome = waiting.outcome().await.expect("settled");
        assert_eq!(outcome.expect("receipt").head, Position(7));
        assert_eq!(waiters.len(), 0);
    }

    #[test]
    fn the_registry_is_bounded_and_a_dropped_waiter_gives_its_room_back() {
        let waiters = Waiters::new(1);
        let first = waiters.register("a".into()).expect("room");
        assert!(waiters.register("b".into()).is_none(), "full");
        drop(first);
        assert_eq!(waiters.len(), 0);
        assert!(waiters.register("b".into()).is_some());
    }

    #[tokio::test]
    async fn closing_tells_every_waiter_at_once_and_takes_no_new_one() {
        let waiters = Waiters::new(2);
        let mut waiting = waiters.register("a".into()).expect("room");
        waiters.close();
        assert!(waiting.outcome().await.is_none(), "no outcome will come");
        assert!(waiters.is_closed());
        assert!(waiters.register("b".into()).is_none());
    }

    #[test]
    fn settling_an_unknown_request_does_nothing() {
        let waiters = Waiters::new(1);
        waiters.settle("nobody", receipt());
        assert_eq!(waiters.len(), 0);
    }
}
