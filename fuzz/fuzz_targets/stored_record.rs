//! Records as read from the disk: any bytes, as they are and with a valid checksum put in front
//! (a format-2 record whose checksum fails is refused before its body is looked at, so without
//! resealing the fuzzer would never reach the body decoder). Decoding never panics; a record that
//! decodes can be framed for a stream, and stored again it decodes to the same time and entry.
#![no_main]

use eventlog::domain::{Entry, Position};
use eventlog::service::wire::entry_frame;
use eventlog::store::record::{decode_record, encode_record, set_recorded_at, RecordView};
use libfuzzer_sys::fuzz_target;

/// Format 2's layout, restated from `store::record`: format byte 2, then the CRC-32 at bytes
/// 1..5 of every byte from 5 on, then the rest of the 18-byte header.
const FORMAT_PROTO: u8 = 2;
const CHECKED_FROM: usize = 5;
const HEADER_LEN: usize = 18;

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.first() == Some(&FORMAT_PROTO) && data.len() >= HEADER_LEN {
        let mut sealed = data.to_vec();
        let checksum = crc32fast::hash(&sealed[CHECKED_FROM..]);
        sealed[1..CHECKED_FROM].copy_from_slice(&checksum.to_be_bytes());
        check(&sealed);
    }
});

fn check(record: &[u8]) {
    let position = Position(7);
    let Ok(view) = RecordView::parse(position, record) else {
        assert!(
            decode_record(position, record).is_err(),
            "parse and decode disagree"
        );
        return;
    };
    let _ = entry_frame(&view, None);
    let Ok((recorded_at, body)) = decode_record(position, record) else {
        return;
    };
    assert_eq!(view.recorded_at(), recorded_at);
    assert_eq!(view.kind(), body.kind());
    let entry = Entry {
        position,
        recorded_at,
        body: body.clone(),
    };
    let _ = entry_frame(&view, Some(&entry));

    let mut again = encode_record(&body).expect("a decoded entry encodes");
    set_recorded_at(&mut again, recorded_at);
    let (at, back) = decode_record(position, &again).expect("a record written now decodes");
    assert_eq!(at, recorded_at, "the recording time survives storing again");
    assert_eq!(back, body, "a decoded entry stored again decodes the same");
}
