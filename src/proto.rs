//! The generated protobuf and gRPC code of `proto/eventlog/v1/eventlog.proto` and
//! `proto/eventlog/v1/groups.proto` (the consumer groups, one package).
//!
//! Nothing but the service layer should use these types; the rest of the crate works with the
//! domain types.

#![allow(missing_docs)]
#![allow(clippy::all)]

tonic::include_proto!("eventlog.v1");

/// The gRPC server of the API. Generated apart from the messages because its two streamed
/// responses are pre-encoded frames (`service::wire`), not the structs above.
pub mod server {
    #![allow(missing_docs)]
    #![allow(clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/server/eventlog.v1.rs"));
}
pub use server::consumer_groups_server;
pub use server::event_log_server;
include!(concat!(env!("OUT_DIR"), "/eventlog.v1.serde.rs"));

/// A protobuf `Timestamp` of a moment; moments before 1970 are clamped to the epoch, which the
/// log never records.
pub fn timestamp(at: std::time::SystemTime) -> pbjson_types::Timestamp {
    let since_epoch = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    pbjson_types::Timestamp {
        seconds: i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX),
        nanos: since_epoch.subsec_nanos() as i32,
    }
}

/// The encoded `FileDescriptorSet` of the API, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/eventlog_descriptor.bin"));
