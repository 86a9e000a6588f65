//! The server-wide shutdown signal that long-lived streams listen to.
//!
//! A `watch` channel rather than a broadcast: a stream that starts after shutdown began still
//! sees it, and a listener never misses it by lagging.

use tokio::sync::watch;

/// Held by the server; `trigger` tells every listener to wind down.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// Held by each long-lived task.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A new trigger and its first listener.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    /// Signals shutdown to every listener, present and future.
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// True once shutdown has been triggered.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once shutdown is triggered (at once if it already was). Also resolves if the
    /// trigger is dropped, which only happens when the server is gone.
    pub async fn triggered(&mut self) {
        let _ = self.0.wait_for(|triggered| *triggered).await;
    }
}
