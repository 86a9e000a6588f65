//! The NDJSON reader (`eventlog import --format ndjson`): any bytes, line by line. It never
//! panics; an entry it reads writes back as one line that reads back to the same entry; and an
//! entry the server accepts survives storing, serving and exporting unchanged.
#![no_main]

use eventlog::fuzzing::entry_body;
use eventlog::import::{ndjson, NdjsonReader};
use eventlog_fuzz::{check_accepted, vocabulary};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let vocabulary = vocabulary();
    for row in NdjsonReader::new(data) {
        let Ok(entries) = row else { continue };
        for mut entry in entries {
            // Only an enum number this build cannot name has no JSON form, and JSON input
            // cannot hold one.
            let line = ndjson::entry_line(&entry).expect("an entry read from JSON has a JSON form");
            assert!(!line.contains('\n'), "an NDJSON line is one line: {line:?}");
            let again = ndjson::parse_entry(&line).expect("a written line reads back");
            assert_eq!(
                ndjson::entry_line(&again).as_deref(),
                Ok(line.as_str()),
                "a written line reads back to the same entry"
            );
            // The importer clears the exported position before appending.
            entry.position = 0;
            if let Ok(body) = entry_body(entry, vocabulary) {
                check_accepted(&body, vocabulary);
            }
        }
    }
});
