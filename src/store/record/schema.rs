//! The generated code of `proto/eventlog/storage/v1/record.proto`: the storage-only messages
//! of record format 2. Only the `record` module uses them; nothing here is served.

#![allow(missing_docs)]
#![allow(clippy::all)]

include!(concat!(env!("OUT_DIR"), "/eventlog.storage.v1.rs"));
