//! The ACLED reader: any bytes as a CSV file, and any bytes as the rows under the header of the
//! test fixture (so that mutations reach the rows without first having to rebuild a header). It
//! never panics, and every entry it yields (and every actor revision it offers at the end) is one
//! `Append` accepts, referring only to actors it yielded before.
#![no_main]

use std::collections::HashSet;
use std::io::Read;

use eventlog::import::AcledReader;
use eventlog_fuzz::{check_imported, grown, vocabulary};
use libfuzzer_sys::fuzz_target;

/// The fixture export, whose first line is the current ACLED column set.
const FIXTURE: &str = include_str!("../../tests/fixtures/acled/sample.csv");

fuzz_target!(|data: &[u8]| {
    read(data);
    let header = FIXTURE.split_inclusive('\n').next().unwrap_or_default();
    read(header.as_bytes().chain(data));
});

fn read(input: impl Read) {
    let vocabulary = vocabulary();
    let Ok(mut reader) = AcledReader::new(input) else {
        return;
    };
    let mut known = HashSet::new();
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
}
