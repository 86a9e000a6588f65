//! Errors of the storage layer.

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
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
    /// A record on disk could not be decoded.
    #[error("record at key {key} is corrupt: {reason}")]
    Corrupt {
        /// The key, printed for an operator.
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
    /// The store is shutting down.
    #[error("the store is shutting down")]
    Closed,
}
