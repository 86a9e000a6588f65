//! Compiles `proto/` into Rust with the pure-Rust `protox` compiler, so that a fresh machine
//! needs no system `protoc`. The encoded descriptor set is also written to `OUT_DIR` so the
//! server can serve gRPC reflection from exactly the schema it was built with. `pbjson-build`
//! adds serde implementations that follow the proto3 JSON mapping (lowerCamelCase field names,
//! enum names as strings), the format of `eventlog export` and `eventlog import --format ndjson`.
//!
//! The storage schema (`proto/eventlog/storage/`, the bodies of log records) is compiled apart,
//! with plain `prost-build`: it is never served, so it stays out of the descriptor set that
//! reflection publishes and gets no gRPC or JSON code. So is the cluster's stream message
//! (`proto/eventlog/cluster/`).

use std::path::PathBuf;

use prost::Message;

const PROTO_ROOT: &str = "proto";
const PROTO_FILES: &[&str] = &[
    "proto/eventlog/v1/eventlog.proto",
    "proto/eventlog/v1/groups.proto",
];
const STORAGE_PROTO_FILES: &[&str] = &[
    "proto/eventlog/storage/v1/record.proto",
    "proto/eventlog/cluster/v1/batch.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for file in PROTO_FILES.iter().chain(STORAGE_PROTO_FILES) {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(PROTO_FILES, [PROTO_ROOT])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("eventlog_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    // The well-known types come from `pbjson-types`: the same messages as `prost-types`, plus
    // the proto3 JSON mapping, which the NDJSON export and import speak.
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .compile_well_known_types(true)
        // Ordered maps, so an entry's attributes export in the same order every time.
        .btree_map(".")
        // Backup records travel as the store's own buffers, without a copy each.
        .bytes(".eventlog.v1.BackupRecords.records")
        .extern_path(".google.protobuf", "::pbjson_types")
        .compile_fds(descriptors.clone())?;
    // The server is generated apart, over the same messages, except that the two streamed
    // responses are frames of bytes spliced from stored records (see `service::wire`).
    let server_out = out_dir.join("server");
    std::fs::create_dir_all(&server_out)?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .out_dir(&server_out)
        .compile_well_known_types(true)
        .extern_path(".google.protobuf", "::pbjson_types")
        .extern_path(
            ".eventlog.v1.SubscribeResponse",
            "crate::service::wire::SubscribeFrame",
        )
        .extern_path(
            ".eventlog.v1.ReadLogResponse",
            "crate::service::wire::ReadLogFrame",
        )
        .extern_path(".eventlog.v1", "crate::proto")
        .compile_fds(descriptors.clone())?;
    pbjson_build::Builder::new()
        .register_descriptors(&descriptors.encode_to_vec())?
        .btree_map(["."])
        .build(&[".eventlog"])?;
    let storage = protox::compile(STORAGE_PROTO_FILES, [PROTO_ROOT])?;
    prost_build::Config::new()
        // Ordered maps, as in the public types, so the public part of a record is byte for
        // byte what the service would encode.
        .btree_map(["."])
        .compile_fds(storage)?;
    Ok(())
}
