//! # eventlog
//!
//! An append-only, durable log of structured events and claims about actors (states, armed
//! groups, private military companies, parties, people), served over gRPC.
//!
//! The data path runs one way:
//!
//! - [`proto`]: the generated `eventlog.v1` API (the contract polyglot clients build against).
//! - [`service`]: thin tonic handlers: convert and validate requests, call the store, map errors.
//! - [`domain`]: actors, events, claims, EDTF dates, the relation vocabulary and the rules of
//!   appending; no protobuf, no sled.
//! - [`store`]: the only code that touches sled: the log, its indexes, group commit and flushes.
//!
//! Beside them: [`subscription`] (following the log: catch-up, then live), [`groups`] (consumer
//! groups: one task per group shares the log among members, with acks, redelivery and
//! parking, by the rules of `domain::group`), [`server`] and
//! [`shutdown`] (start, serve, stop), [`config`] (flags, environment and config file) and
//! [`ops`] (what operators need: logs, metrics, health, access control, limits, TLS).
//!
//! [`http`] serves the JSON API, server-sent events and the analyst's console, as a gateway
//! into the same gRPC service and middleware.
//!
//! [`backup`] frames the `Backup` RPC's chunks in a file, verifies one, and restores a data
//! directory from it offline.
//!
//! [`import`] turns rows of public datasets (GDELT, ACLED) into entries for `Append`; it only
//! produces `proto` values, like any other client. [`client`] is the command-line client
//! (`import`, `export`, `query`, `tail`, `actors`, `info`, `groups`), which talks gRPC to a
//! server.

#![warn(missing_docs)]

pub mod backup;
pub mod client;
pub mod cluster;
pub mod config;
pub mod domain;
pub mod groups;
pub mod http;
pub mod import;
pub mod ops;
pub mod proto;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod store;
pub mod subscription;

/// The private parsers the fuzz targets of `fuzz/` drive, and nothing else. They read wire input
/// but live inside [`service`], whose API is the gRPC one; re-exporting them here lets the
/// targets reach them without making the service's modules public. Not an API: it follows
/// whatever the fuzz targets need.
#[doc(hidden)]
pub mod fuzzing {
    /// `ListActors` page tokens.
    pub mod page_token {
        pub use crate::service::page_token::{decode, encode};
    }
    /// Page tokens of the query RPCs.
    pub mod query_token {
        pub use crate::service::query_token::{decode, encode, QueryToken, TokenKind};
    }
    pub use crate::service::to_domain::entry_body;
}
