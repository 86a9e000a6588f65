//! The integration tests: black-box checks through the real interfaces (gRPC, raw HTTP/2, the
//! binary and its CLI), each module one concern.
//!
//! They form one test binary rather than one per file because every binary links the whole
//! crate and its dependencies: on the two-core CI machine seventeen links cost more than the
//! tests they ran. Run one concern with `cargo test --test it queries::`.

mod common;

mod append;
mod auth;
mod backup;
mod cli;
mod cli_client;
mod cluster;
mod durability;
mod error_details;
mod groups;
mod groups_ops;
mod groups_settings;
mod hostile;
mod http_api;
mod limits;
mod logs;
mod metrics;
mod nats_harness;
mod queries;
mod reads;
mod same_as;
mod shutdown;
mod slow_subscriber;
mod storage_format;
mod subscribe;
mod tls;
