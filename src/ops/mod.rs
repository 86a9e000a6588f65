//! Running the service in production: what operators see and what keeps the wrong clients out.
//!
//! Everything here wraps the gRPC service from the outside, as tower layers assembled in one
//! place (`server::start`), so the handlers stay unaware of it (they only report flush latency
//! and subscriber lag into [`metrics`]). It must never look inside requests: a rule that needs
//! a request's content belongs in the service. From the outside in:
//!
//! - [`request_log`]: a `tracing` span per RPC with its request id, and the RPC metrics;
//! - [`auth`]: bearer tokens and roles, per [`methods::METHODS`];
//! - [`limits`]: concurrent requests, subscribers, timeouts, message size, and each caller's
//!   [`shares`] of the pools;
//! - [`request_errors`]: requests tonic cannot decode, restated as `INVALID_ARGUMENT` (or
//!   `RESOURCE_EXHAUSTED` when too large);
//! - [`end_streams`]: ends health watches and reflection streams at shutdown.
//!
//! Before them all, [`connections`] admits connections (a cap, a handshake deadline, an accept
//! loop that backs off). Beside them: [`methods`] (the one table of methods, roles and kinds),
//! [`health`] (`grpc.health.v1.Health`), [`metrics`] (the Prometheus endpoint), [`tls`] (rustls
//! from PEM files), [`logging`] (pretty or JSON output), [`grpc`] (status helpers the layers
//! share) and [`reason`] (the stable reasons refusals carry for programs).

pub mod auth;
pub mod connections;
pub mod end_streams;
pub mod grpc;
pub mod health;
pub mod limits;
pub mod logging;
pub mod methods;
pub mod metrics;
pub mod reason;
pub mod request_errors;
pub mod request_log;
pub mod shares;
pub mod tls;
