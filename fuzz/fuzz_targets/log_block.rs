//! Blocks of records as read from the disk: any bytes. Reading a block's framing never panics,
//! every record range it gives lies inside the block, in order and without overlap, and a block
//! encoded from those records frames them the same way again.
#![no_main]

use eventlog::domain::Position;
use eventlog::store::record::block::{encode, record_ranges};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(ranges) = record_ranges(Position(3), data) else {
        return;
    };
    let mut at = 0;
    for range in &ranges {
        assert!(range.start >= at && range.start <= range.end && range.end <= data.len());
        at = range.end;
    }
    let records: Vec<&[u8]> = ranges.iter().map(|r| &data[r.clone()]).collect();
    let again = encode(records.iter().copied());
    let reread = record_ranges(Position(3), &again).expect("an encoded block frames");
    let back: Vec<&[u8]> = reread.iter().map(|r| &again[r.clone()]).collect();
    assert_eq!(back, records);
});
