//! The generated protobuf and gRPC code of `proto/eventlog/v1/eventlog.proto`.
//!
//! Nothing but the service layer should use these types; the rest of the crate works with the
//! domain types.

#![allow(missing_docs)]
#![allow(clippy::all)]

tonic::include_proto!("eventlog.v1");

/// The encoded `FileDescriptorSet` of the API, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/eventlog_descriptor.bin"));
