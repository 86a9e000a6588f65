//! What `Append` receives: any bytes as an `AppendRequest` (and as a bare `Entry`), decoded by
//! prost and converted by the service's `to_domain`. It never panics, and an entry it accepts
//! survives storing, serving and exporting unchanged.
#![no_main]

use eventlog::fuzzing::entry_body;
use eventlog::proto;
use eventlog_fuzz::{check_accepted, vocabulary};
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let vocabulary = vocabulary();
    let mut entries = Vec::new();
    if let Ok(request) = proto::AppendRequest::decode(data) {
        entries.extend(request.entries);
    }
    if let Ok(entry) = proto::Entry::decode(data) {
        entries.push(entry);
    }
    for entry in entries {
        if let Ok(body) = entry_body(entry, vocabulary) {
            check_accepted(&body, vocabulary);
        }
    }
});
