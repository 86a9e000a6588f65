//! The fixed-size front of a record: format byte, checksum, recording time, kind and the length
//! of the public part of the body. Owns the byte offsets and the checksum rule; knows nothing of
//! what a body says.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::domain::EntryKind;

/// Format 1: recording time, then the body as JSON of the domain's serde shape (no checksum).
pub(super) const FORMAT_JSON: u8 = 1;
/// Format 2: the header below, then a protobuf body of `eventlog.storage.v1`.
pub(super) const FORMAT_PROTO: u8 = 2;

/// Format-1 header: format byte and recording time.
pub(super) const JSON_HEADER_LEN: usize = 9;

const CHECKSUM: std::ops::Range<usize> = 1..5;
const RECORDED_AT: std::ops::Range<usize> = 5..13;
const KIND: usize = 13;
const WIRE_LEN: std::ops::Range<usize> = 14..18;
/// Format-2 header length: the body starts here.
pub(super) const HEADER_LEN: usize = 18;
/// The checksum covers every byte from here to the end of the record.
const CHECKED_FROM: usize = CHECKSUM.end;

/// What a verified format-2 header says.
pub(super) struct Header {
    /// When the entry was committed.
    pub recorded_at: SystemTime,
    /// Which message the body is.
    pub kind: EntryKind,
    /// How many leading bytes of the body are the public message.
    pub wire_len: usize,
}

/// A format-2 header with the recording time and checksum still unset (see [`seal`]).
pub(super) fn unsealed(kind: EntryKind) -> Vec<u8> {
    let mut record = vec![0; HEADER_LEN];
    record[0] = FORMAT_PROTO;
    record[KIND] = kind_byte(kind);
    record
}

/// Stores the length of the public part of the body; the caller checked it fits in a u32.
pub(super) fn set_wire_len(record: &mut [u8], wire_len: u32) {
    record[WIRE_LEN].copy_from_slice(&wire_len.to_be_bytes());
}

/// Sets the recording time and the checksum over everything after it, so that the checksum
/// always covers the record as written.
pub(super) fn seal(record: &mut [u8], recorded_at: SystemTime) {
    if record.len() < HEADER_LEN {
        // Only `encode_record` makes format-2 records, and they are never this short.
        debug_assert!(false, "a format-2 record shorter than its header");
        return;
    }
    record[RECORDED_AT].copy_from_slice(&micros_of(recorded_at).to_be_bytes());
    let checksum = crc32fast::hash(&record[CHECKED_FROM..]);
    record[CHECKSUM].copy_from_slice(&checksum.to_be_bytes());
}

/// Sets the recording time of a format-1 record (which has no checksum).
pub(super) fn set_json_recorded_at(record: &mut [u8], recorded_at: SystemTime) {
    if let Some(time) = record.get_mut(1..JSON_HEADER_LEN) {
        time.copy_from_slice(&micros_of(recorded_at).to_be_bytes());
    }
}

/// Verifies a format-2 record and reads its header; returns the header and the body. The
/// checksum is checked before anything else is believed, so a damaged byte anywhere (length
/// fields included) is reported as a mismatch rather than misread.
pub(super) fn verify(record: &[u8]) -> Result<(Header, &[u8]), String> {
    if record.len() < HEADER_LEN {
        return Err(format!(
            "record of {} bytes is shorter than its {HEADER_LEN}-byte header",
            record.len()
        ));
    }
    let stored = u32::from_be_bytes(fixed(&record[CHECKSUM]));
    let computed = crc32fast::hash(&record[CHECKED_FROM..]);
    if stored != computed {
        return Err(format!(
            "checksum mismatch (stored {stored:08x}, computed {computed:08x} over {} bytes)",
            record.len() - CHECKED_FROM
        ));
    }
    let kind =
        kind_of_byte(record[KIND]).ok_or_else(|| format!("unknown entry kind {}", record[KIND]))?;
    let body = &record[HEADER_LEN..];
    let wire_len = u32::from_be_bytes(fixed(&record[WIRE_LEN])) as usize;
    if wire_len > body.len() {
        return Err(format!(
            "public part of {wire_len} bytes is longer than the {}-byte body",
            body.len()
        ));
    }
    let header = Header {
        recorded_at: time_of(i64::from_be_bytes(fixed(&record[RECORDED_AT])))?,
        kind,
        wire_len,
    };
    Ok((header, body))
}

/// The recording time of a format-1 record and its JSON body.
pub(super) fn split_json(record: &[u8]) -> Result<(SystemTime, &[u8]), String> {
    if record.len() < JSON_HEADER_LEN {
        return Err(format!(
            "record of {} bytes is shorter than its {JSON_HEADER_LEN}-byte header",
            record.len()
        ));
    }
    let micros = i64::from_be_bytes(fixed(&record[1..JSON_HEADER_LEN]));
    Ok((time_of(micros)?, &record[JSON_HEADER_LEN..]))
}

/// The byte that stands for a kind, in record headers and id-index values.
pub(crate) fn kind_byte(kind: EntryKind) -> u8 {
    match kind {
        EntryKind::Actor => 1,
        EntryKind::Event => 2,
        EntryKind::Claim => 3,
    }
}

/// The kind a byte stands for, if any.
pub(crate) fn kind_of_byte(byte: u8) -> Option<EntryKind> {
    match byte {
        1 => Some(EntryKind::Actor),
        2 => Some(EntryKind::Event),
        3 => Some(EntryKind::Claim),
        _ => None,
    }
}

/// Microseconds since the Unix epoch, negative before it, saturating at the i64 range.
fn micros_of(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_micros()).map_or(i64::MIN, |micros| -micros),
    }
}

/// The moment `micros` after the epoch, if this platform's clock can represent it.
fn time_of(micros: i64) -> Result<SystemTime, String> {
    let moment = if micros >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_micros(micros as u64))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_micros(micros.unsigned_abs()))
    };
    moment.ok_or_else(|| format!("recording time {micros} µs is out of range"))
}

/// A fixed-size array from a slice whose length the caller's range already fixes.
fn fixed<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut array = [0; N];
    array.copy_from_slice(bytes);
    array
}
