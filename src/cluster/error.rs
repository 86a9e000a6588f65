//! What can go wrong in cluster mode, in words an operator or client can act on.

use crate::store::{AppendError, StoreError};

/// Why a cluster node could not start, or an append through it did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The settings cannot work (a bad URL, an unreadable credentials file).
    #[error("cluster settings: {0}")]
    Settings(String),
    /// NATS could not be reached at start.
    #[error(
        "cannot connect to NATS at {urls}: {reason}. Is nats-server running there with JetStream \
         enabled (-js)? Check --nats-url, and --nats-creds / --nats-tls-ca if the servers need them"
    )]
    Connect {
        /// The URLs tried.
        urls: String,
        /// Why it failed.
        reason: String,
    },
    /// JetStream refused to create or describe the stream.
    #[error("JetStream stream {stream:?}: {reason}")]
    Stream {
        /// The stream.
        stream: String,
        /// Why.
        reason: String,
    },
    /// The batch did not reach the stream: NATS is unreachable, has no quorum, or did not
    /// acknowledge in time. It may still have been stored; appends are idempotent by id, so
    /// retrying the same batch is safe.
    #[error(
        "the cluster's stream did not take the batch ({0}); it may or may not be in the log: \
         retry it unchanged (entries are idempotent by id)"
    )]
    Unavailable(String),
    /// The key-value bucket of named subscriptions could not be read or written.
    #[error("the cluster's named subscriptions are out of reach ({0}); retry")]
    Bucket(String),
    /// The batch is in the stream, but this node did not apply it in time.
    #[error(
        "the batch is in the cluster's stream at sequence {sequence}, but this node has applied \
         only up to {applied} and did not reach it in time; it will be applied: read it back by \
         id, or retry it unchanged (a retry finds it as a duplicate)"
    )]
    NotYetApplied {
        /// Its stream sequence.
        sequence: u64,
        /// Where this node is.
        applied: u64,
    },
    /// The batch is larger than the NATS servers take in one message.
    #[error(
        "take {size} bytes as a stream message; this cluster's NATS servers take at most {max} \
         (max_payload): split the batch, or raise max_payload on every server"
    )]
    TooLarge {
        /// The message's size.
        size: usize,
        /// The servers' limit.
        max: usize,
    },
    /// As many appends wait on this node as it lets wait.
    #[error("{0} appends are already waiting for the cluster on this node; retry later")]
    Overloaded(usize),
    /// The node is stopping.
    #[error("the node is stopping")]
    Stopping,
    /// Applying the batch decided it (a rule of the log refused it), or the store failed.
    #[error(transparent)]
    Append(#[from] AppendError),
}

impl From<StoreError> for ClusterError {
    fn from(error: StoreError) -> ClusterError {
        ClusterError::Append(AppendError::Store(error))
    }
}
