//! What can go wrong in a client subcommand, each with a message that says what to do.

use std::path::PathBuf;

/// Why a client subcommand failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The flags do not make a usable request (checked before any call).
    #[error("{0}")]
    Usage(String),
    /// The server could not be reached.
    #[error("cannot connect to {addr}: {reason}; is `eventlog serve` running there? (see --addr)")]
    Connect {
        /// The address tried.
        addr: String,
        /// Why it failed.
        reason: String,
    },
    /// A file the command needs could not be read or written.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Writing the output failed (a closed pipe, a full disk).
    #[error("cannot write the output: {0}")]
    Output(#[source] std::io::Error),
    /// The server refused or failed a call.
    #[error("{rpc} failed: {}: {}", code_name(.status.code()), .status.message())]
    Rpc {
        /// The RPC.
        rpc: &'static str,
        /// The server's answer.
        status: tonic::Status,
    },
    /// A message from the server could not be written as JSON (a value this client does not
    /// know, from a newer server).
    #[error("{0}; upgrade this client to match the server")]
    Encode(String),
    /// An import or export stopped before the end; the message says where, why, and what was
    /// already done.
    #[error("{0}")]
    Stopped(String),
}

impl ClientError {
    /// A failed call of `rpc`.
    pub fn rpc(rpc: &'static str) -> impl FnOnce(tonic::Status) -> ClientError {
        move |status| ClientError::Rpc { rpc, status }
    }
}

/// The gRPC code as its canonical upper-case name, the spelling the docs and other clients use.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}
