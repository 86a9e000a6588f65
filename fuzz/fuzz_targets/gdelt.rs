//! The GDELT 2.0 reader: any bytes, as tab-separated rows. It never panics, and every entry it
//! yields (and every actor revision it offers at the end) is one `Append` accepts, referring only
//! to actors it yielded before.
#![no_main]

use std::collections::HashSet;

use eventlog::import::GdeltReader;
use eventlog_fuzz::{check_imported, grown, vocabulary};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let vocabulary = vocabulary();
    let mut known = HashSet::new();
    let mut reader = GdeltReader::new(data);
    for row in reader.by_ref() {
        if let Ok(entries) = row {
            check_imported(&entries, &mut known, vocabulary);
        }
    }
    check_imported(
        &grown(reader.into_book().grown_actors()),
        &mut known,
        vocabulary,
    );
});
