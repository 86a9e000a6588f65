//! The storage engines, each the only user of its crate: sled for the log of record, fjall for
//! the derived indexes. Replacing an engine means replacing its module.

pub mod fjall_index;
pub mod sled_log;
