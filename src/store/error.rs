//! Errors of the storage layer.

use crate::domain::Position;

/// Why the store could not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A storage engine (sled for the log, fjall for the indexes) reported an error: I/O, or
    /// its own corruption checks. Kept as text so that no engine type leaks out of its module.
    #[error("storage engine error: {0}")]
    Engine(String),
    /// Another process holds the data directory.
    #[error("data directory {path} is in use by another process (is another eventlog running?)")]
    Locked {
        /// The directory.
        path: String,
    },
    /// Something on disk is damaged or cannot be decoded: a record (named by its log position,
    /// see [`StoreError::corrupt_record`]) or an index or metadata key. Reported, never
    /// answered around: a damaged record must not become a wrong answer.
    #[error("{key} is corrupt: {reason}")]
    Corrupt {
        /// Where, for an operator: `log position 42`, or `key "..."`.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// An entry could not be encoded (a defect, not an input error).
    #[error("cannot encode entry: {0}")]
    Encode(String),
    /// A thread or task doing storage work could not start or failed.
    #[error("a storage task failed: {0}")]
    Task(String),
    /// An earlier write failed to reach the disk, so later writes are refused until restart:
    /// after a failed flush the store can no longer tell what is durable.
    #[error("the store stopped accepting writes after a failed flush ({0}); restart the server")]
    Poisoned(String),
    /// The data directory's disk has less free space than the write plus the reserve
    /// (`--min-free-disk-mb`); nothing was written, and writes resume once there is room.
    #[error(
        "the server's disk is almost full: {} free, {} must stay free after this write; nothing \
         was written, and writes resume by themselves once an operator frees space",
        mib(*free),
        mib(*reserve)
    )]
    DiskFull {
        /// Bytes free now.
        free: u64,
        /// Bytes the write needed free (its size plus the reserve).
        needed: u64,
        /// The reserve.
        reserve: u64,
    },
    /// A local append on a cluster node's store: its log is the cluster's stream, applied in
    /// order, and nothing else may write it (see `crate::cluster`).
    #[error(
        "this data directory belongs to a cluster node (stream {stream}): appends go through \
         the stream; start the server with --nats-url"
    )]
    Replicated {
        /// The stream it replicates.
        stream: String,
    },
    /// A replicated batch that does not follow the last one applied: the stream's reader
    /// starts over from what the log holds.
    #[error(
        "replicated batch out of order: it follows stream sequence {after}, the log has applied \
         up to {applied}"
    )]
    OutOfOrder {
        /// What the log has applied.
        applied: u64,
        /// What the batch follows.
        after: u64,
    },
    /// The data directory and the mode the server was started in disagree.
    #[error("{0}")]
    WrongMode(String),
    /// The store is shutting down.
    #[error("the store is shutting down")]
    Closed,
}

/// `bytes` for a person: "3.2 MiB".
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

impl StoreError {
    /// The record at `position` failed its checksum or could not be decoded. Named by position
    /// so an operator can find it (and a client can read around it).
    pub fn corrupt_record(position: Position, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            key: format!("the record at log position {position}"),
            reason: reason.into(),
        }
    }
}
