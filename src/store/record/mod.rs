//! The record format: how an entry is laid out as bytes in the log. It owns the storage schema
//! (`proto/eventlog/storage/v1/record.proto`) and the conversions between it and the domain, so
//! the domain's Rust shape can change without changing what stored history means. It never
//! touches sled and makes no decisions about what may be appended.
//!
//! # Format 2 (written today)
//!
//! | bytes          | what                                                                 |
//! |----------------|----------------------------------------------------------------------|
//! | 0              | format, `2`                                                          |
//! | 1..5           | CRC-32 (IEEE, `crc32fast`) of every byte from 5 to the end, u32 BE    |
//! | 5..13          | recorded at, microseconds since the Unix epoch, i64 BE                |
//! | 13             | kind: 1 actor, 2 event, 3 claim                                       |
//! | 14..18         | `wire_len`, the length of the body's public part, u32 BE              |
//! | 18..18+wire_len| the public part: fields of `eventlog.storage.v1.{Actor,Event,Claim}` numbered below 100, which are byte for byte an encoding of `eventlog.v1.{Actor,Event,Claim}` |
//! | 18+wire_len..  | the storage part: fields numbered 100 and up (the day spans of every date) |
//!
//! Bytes 18 to the end are one protobuf message of the storage schema (protobuf concatenation
//! is a merge), so decoding reads the body in one pass. The public part comes first and is
//! delimited, so a stream can splice it into a response without decoding it
//! ([`RecordView::wire_body`]); only position and recording time are added. The storage part
//! lets reads rebuild every date with its span without parsing it again.
//!
//! The checksum is checked on every read, before any length in the record is believed: a
//! damaged byte anywhere is [`StoreError::Corrupt`] naming the position, never a wrong answer.
//! Big-endian throughout, like format 1's time, so a hex dump reads left to right.
//!
//! # Format 1 (read in place)
//!
//! Format byte `1`, recording time as above at 1..9, then the body as JSON of the domain's serde
//! shape, without a checksum. Data directories written before format 2 hold only these; they
//! stay readable in place (see `json_v1`).

pub mod block;
mod from_stored;
pub(crate) mod header;
mod json_v1;
mod schema;
mod to_stored;
mod view;

#[cfg(test)]
mod tests;

use std::time::SystemTime;

use prost::Message;

use crate::domain::{EntryBody, Position};
use crate::store::StoreError;

pub use view::RecordView;

/// Encodes an entry body as a format-2 record whose recording time and checksum are still
/// unset: the time is only known at commit, while encoding is better done before, off the
/// writer thread. [`set_recorded_at`] completes it.
pub fn encode_record(body: &EntryBody) -> Result<Vec<u8>, StoreError> {
    let mut record = header::unsealed(body.kind());
    let wire_len = match body {
        EntryBody::Actor(actor) => {
            let mut message = schema::Actor::from(&**actor);
            let storage = schema::Actor {
                spans: std::mem::take(&mut message.spans),
                ..Default::default()
            };
            append_parts(&mut record, &message, &storage)?
        }
        EntryBody::Event(event) => {
            let mut message = schema::Event::from(&**event);
            let storage = schema::Event {
                spans: std::mem::take(&mut message.spans),
                ..Default::default()
            };
            append_parts(&mut record, &message, &storage)?
        }
        EntryBody::Claim(claim) => {
            let mut message = schema::Claim::from(&**claim);
            let storage = schema::Claim {
                spans: std::mem::take(&mut message.spans),
                ..Default::default()
            };
            append_parts(&mut record, &message, &storage)?
        }
    };
    header::set_wire_len(&mut record, wire_len);
    Ok(record)
}

/// Appends the public part (`public`, storage-only fields empty) and then the storage part
/// (`storage`, nothing but storage-only fields); returns the public part's length. Encoding
/// the two separately makes the split exact whatever order an encoder writes fields in (prost
/// writes them in tag order, so the bytes equal one encoding of the whole message anyway).
fn append_parts<M: Message>(
    record: &mut Vec<u8>,
    public: &M,
    storage: &M,
) -> Result<u32, StoreError> {
    let public_len = public.encoded_len();
    let wire_len = u32::try_from(public_len)
        .map_err(|_| StoreError::Encode("an entry of 4 GiB or more".into()))?;
    // `encode` would walk each message once more to check the room it needs; a `Vec` grows,
    // and the room is reserved here, so `encode_raw` writes straight away.
    record.reserve(public_len + storage.encoded_len());
    public.encode_raw(record);
    storage.encode_raw(record);
    Ok(wire_len)
}

/// Sets the recording time of a record made by [`encode_record`] and refreshes its checksum,
/// which covers the time. Also accepts a format-1 record (which has no checksum), so code that
/// rewrites old records keeps working.
pub fn set_recorded_at(record: &mut [u8], recorded_at: SystemTime) {
    match record.first() {
        Some(&header::FORMAT_JSON) => header::set_json_recorded_at(record, recorded_at),
        _ => header::seal(record, recorded_at),
    }
}

/// Verifies and decodes the record stored at `position` (format 2 or 1). Any damage is
/// [`StoreError::Corrupt`] naming `position`.
pub fn decode_record(
    position: Position,
    record: &[u8],
) -> Result<(SystemTime, EntryBody), StoreError> {
    RecordView::parse(position, record)?.into_parts()
}
