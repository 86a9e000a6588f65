//! Streamed responses spliced from stored bytes.
//!
//! `ReadLog` and `Subscribe` send most of what the log holds, to many clients. Decoding every
//! record into domain values, converting those into messages and encoding them again, once per
//! subscriber, cost more than reading the log itself (issue 11: catch-up ran at an eighth of a
//! raw sled scan). Instead, a record of format 2 keeps its body as a valid encoding of the public
//! message of its kind (see `store::record`), so an `eventlog.v1.Entry` is that body with the
//! position and time put in front: protobuf messages are concatenations of fields, in any order.
//!
//! The responses of the two streaming methods are therefore not prost structs but frames of
//! bytes that implement `prost::Message` by writing themselves out: `build.rs` generates the
//! server with `ReadLogResponse` and `SubscribeResponse` mapped to [`ReadLogFrame`] and
//! [`SubscribeFrame`]. Clients, this crate's included, decode them as the messages the `.proto`
//! defines; the tests check that byte for byte.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use prost::Message;

use crate::domain::{Entry, EntryKind};
use crate::proto;
use crate::store::{entry_of, RecordView, StoreError};

use super::to_proto;

/// Length-delimited, the wire type of strings, bytes and embedded messages.
const LEN: u8 = 2;
/// Varint, the wire type of integers and enums.
const VARINT: u8 = 0;

/// Target size of one streamed message: gRPC clients refuse messages above a limit (4 MiB by
/// default in most languages), and one entry may be tens of kilobytes, so entries are cut into
/// messages by size, not by count. A single larger entry still goes alone.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// A verified record as the wire carries it inside a streamed response: an `eventlog.v1.Entry`
/// as field 1, length-delimited. That is at once a whole `SubscribeResponse` (its `entry`
/// field), one item of an `EntryBatch` (`repeated Entry entries = 1`) and one item of a
/// `ReadLogResponse` (`repeated Entry entries = 1`), so a frame made once serves every message
/// it goes into, and a group sent to many subscribers is never copied to build them.
///
/// The `Entry` is the record's body spliced behind its position and time (format 2), or, for
/// a record that keeps none (format 1), encoded from the entry decoded.
pub fn entry_frame(view: &RecordView<'_>, decoded: Option<&Entry>) -> Result<Bytes, StoreError> {
    let Some(body) = view.wire_body() else {
        let entry = match decoded {
            Some(entry) => entry.clone(),
            None => entry_of(view)?,
        };
        let encoded = to_proto::entry(entry).encode_to_vec();
        let mut frame = BytesMut::with_capacity(encoded.len() + 11);
        put_len_delimited(&mut frame, ENTRY_FIELD, &encoded);
        return Ok(frame.freeze());
    };
    let field = match view.kind() {
        EntryKind::Actor => 3,
        EntryKind::Event => 4,
        EntryKind::Claim => 5,
    };
    let time = proto::timestamp(view.recorded_at()).encode_to_vec();
    let position = view.position().0;
    let entry_len = key_len(1)
        + varint_len(position)
        + len_delimited_len(2, time.len())
        + len_delimited_len(field, body.len());
    let mut frame = BytesMut::with_capacity(len_delimited_len(ENTRY_FIELD, entry_len));
    put_key(&mut frame, ENTRY_FIELD, LEN);
    put_varint(&mut frame, entry_len as u64);
    put_key(&mut frame, 1, VARINT);
    put_varint(&mut frame, position);
    put_len_delimited(&mut frame, 2, &time);
    put_len_delimited(&mut frame, field, body);
    debug_assert_eq!(frame.len(), len_delimited_len(ENTRY_FIELD, entry_len));
    Ok(frame.freeze())
}

/// The field an entry frame is: `SubscribeResponse.entry`, `EntryBatch.entries` and
/// `ReadLogResponse.entries` are all field 1.
const ENTRY_FIELD: u32 = 1;
/// `SubscribeResponse.entries`, the `EntryBatch` of a run of more than one entry.
const SUBSCRIBE_ENTRIES_FIELD: u32 = 2;

/// An encoded message kept as the pieces it is the concatenation of: entry frames are shared
/// (a reference count each), so the only copy a subscriber costs is the transport's.
#[derive(Debug, Clone, Default, PartialEq)]
struct Pieces {
    parts: Vec<Bytes>,
    len: usize,
}

impl Pieces {
    fn with_capacity(parts: usize) -> Pieces {
        Pieces {
            parts: Vec::with_capacity(parts),
            len: 0,
        }
    }

    fn push(&mut self, part: Bytes) {
        self.len += part.len();
        self.parts.push(part);
    }

    fn write(&self, buf: &mut impl BufMut) {
        for part in &self.parts {
            buf.put_slice(part);
        }
    }
}

/// A `SubscribeResponse`, already encoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubscribeFrame(Pieces);

/// A `ReadLogResponse`, already encoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadLogFrame(Pieces);

impl SubscribeFrame {
    /// The messages that carry `entries` (frames of [`entry_frame`], in order): `entry` for a
    /// run of one, `entries` for longer runs, each under [`MAX_MESSAGE_BYTES`].
    pub fn entries(entries: &[Bytes]) -> Vec<SubscribeFrame> {
        runs(entries)
            .map(|run| {
                let mut message = Pieces::with_capacity(run.len() + 1);
                if let [one] = run {
                    message.push(one.clone());
                    return SubscribeFrame(message);
                }
                let batch: usize = run.iter().map(Bytes::len).sum();
                let mut header = BytesMut::with_capacity(
                    key_len(SUBSCRIBE_ENTRIES_FIELD) + varint_len(batch as u64),
                );
                put_key(&mut header, SUBSCRIBE_ENTRIES_FIELD, LEN);
                put_varint(&mut header, batch as u64);
                message.push(header.freeze());
                run.iter().for_each(|frame| message.push(frame.clone()));
                SubscribeFrame(message)
            })
            .collect()
    }

    /// Any other message of the stream, encoded as prost encodes it.
    pub fn message(message: &proto::SubscribeResponse) -> SubscribeFrame {
        let mut pieces = Pieces::with_capacity(1);
        pieces.push(message.encode_to_vec().into());
        SubscribeFrame(pieces)
    }
}

impl ReadLogFrame {
    /// The messages that carry `entries` (frames of [`entry_frame`]), each under
    /// [`MAX_MESSAGE_BYTES`].
    pub fn entries(entries: &[Bytes]) -> Vec<ReadLogFrame> {
        runs(entries)
            .map(|run| {
                let mut message = Pieces::with_capacity(run.len());
                run.iter().for_each(|frame| message.push(frame.clone()));
                ReadLogFrame(message)
            })
            .collect()
    }
}

/// Frames are written out as they are; the server never decodes them.
macro_rules! frame_message {
    ($frame:ty) => {
        impl Message for $frame {
            fn encode_raw(&self, buf: &mut impl BufMut) {
                self.0.write(buf);
            }

            fn merge_field(
                &mut self,
                tag: u32,
                wire_type: prost::encoding::WireType,
                buf: &mut impl Buf,
                ctx: prost::encoding::DecodeContext,
            ) -> Result<(), prost::DecodeError> {
                // Only a client decodes these, with the generated types; skipping keeps a
                // (never used) decode well-defined.
                prost::encoding::skip_field(wire_type, tag, buf, ctx)
            }

            fn encoded_len(&self) -> usize {
                self.0.len
            }

            fn clear(&mut self) {
                self.0 = Pieces::default();
            }
        }
    };
}

frame_message!(SubscribeFrame);
frame_message!(ReadLogFrame);

/// Consecutive runs of `entries` whose messages stay under [`MAX_MESSAGE_BYTES`].
fn runs(entries: &[Bytes]) -> impl Iterator<Item = &[Bytes]> {
    let mut rest = entries;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 16;
        let mut end = 0;
        for entry in rest {
            // A frame carries its own field key and length; the run's header is under 16 bytes.
            let size = entry.len();
            if end > 0 && bytes + size > MAX_MESSAGE_BYTES {
                break;
            }
            bytes += size;
            end += 1;
        }
        let (run, after) = rest.split_at(end);
        rest = after;
        Some(run)
    })
}

fn put_len_delimited(out: &mut BytesMut, field: u32, value: &[u8]) {
    put_key(out, field, LEN);
    put_varint(out, value.len() as u64);
    out.put_slice(value);
}

/// The encoded size of a length-delimited field of `len` bytes.
fn len_delimited_len(field: u32, len: usize) -> usize {
    key_len(field) + varint_len(len as u64) + len
}

fn key_len(field: u32) -> usize {
    varint_len(u64::from(field) << 3)
}

fn varint_len(value: u64) -> usize {
    // 7 bits a byte; 0 still takes one.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

fn put_key(out: &mut BytesMut, field: u32, wire_type: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire_type));
}

fn put_varint(out: &mut BytesMut, mut value: u64) {
    while value >= 0x80 {
        out.put_u8((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.put_u8(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(position: u64, summary: usize) -> proto::Entry {
        proto::Entry {
            position,
            recorded_at: Some(pbjson_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 5_000,
            }),
            body: Some(proto::entry::Body::Event(proto::Event {
                id: format!("e{position}"),
                summary: "x".repeat(summary),
                ..Default::default()
            })),
        }
    }

    #[test]
    fn varints_match_prost() {
        for value in [
            0_u64,
            1,
            127,
            128,
            300,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut ours = BytesMut::new();
            put_varint(&mut ours, value);
            let mut theirs = Vec::new();
            prost::encoding::encode_varint(value, &mut theirs);
            assert_eq!(&ours[..], &theirs[..], "{value}");
        }
    }

    /// What [`entry_frame`] makes of a record holding `entry`: the entry as field 1.
    fn frame(entry: &proto::Entry) -> Bytes {
        proto::SubscribeResponse {
            message: Some(proto::subscribe_response::Message::Entry(entry.clone())),
        }
        .encode_to_vec()
        .into()
    }

    #[test]
    fn sizes_match_prost() {
        for value in [0_u64, 1, 127, 128, 16_383, 16_384, u64::MAX] {
            assert_eq!(
                varint_len(value),
                prost::encoding::encoded_len_varint(value),
                "{value}"
            );
        }
        for (field, len) in [(1, 0), (2, 127), (5, 128), (16, 70_000)] {
            assert_eq!(
                len_delimited_len(field, len),
                prost::encoding::key_len(field)
                    + prost::encoding::encoded_len_varint(len as u64)
                    + len
            );
        }
    }

    #[test]
    fn entry_runs_decode_as_the_generated_messages() {
        let messages: Vec<proto::Entry> = (1..=40).map(|p| entry(p, 60_000)).collect();
        let frames: Vec<Bytes> = messages.iter().map(frame).collect();
        let responses = SubscribeFrame::entries(&frames);
        assert!(responses.len() > 1, "cut by size");
        let mut decoded = Vec::new();
        for response in &responses {
            assert!(response.encoded_len() <= MAX_MESSAGE_BYTES);
            let message = proto::SubscribeResponse::decode(&response.encode_to_vec()[..])
                .expect("decodes as SubscribeResponse");
            match message.message {
                Some(proto::subscribe_response::Message::Entries(run)) => {
                    decoded.extend(run.entries)
                }
                Some(proto::subscribe_response::Message::Entry(one)) => decoded.push(one),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(decoded, messages);
        let log: Vec<proto::Entry> = ReadLogFrame::entries(&frames)
            .iter()
            .flat_map(|f| {
                proto::ReadLogResponse::decode(&f.encode_to_vec()[..])
                    .expect("decodes as ReadLogResponse")
                    .entries
            })
            .collect();
        assert_eq!(log, messages);
    }

    #[test]
    fn messages_share_the_frames_they_carry() {
        // A live group goes to every subscriber: building its messages must not copy it.
        let frames: Vec<Bytes> = (1..=3).map(|p| frame(&entry(p, 100))).collect();
        let shared = |parts: &Pieces| {
            parts
                .parts
                .iter()
                .filter(|part| frames.iter().any(|f| f.as_ptr() == part.as_ptr()))
                .count()
        };
        let [run] = &SubscribeFrame::entries(&frames)[..] else {
            panic!("one run");
        };
        assert_eq!(shared(&run.0), 3);
        let [one] = &SubscribeFrame::entries(&frames[..1])[..] else {
            panic!("one run");
        };
        assert_eq!(shared(&one.0), 1);
        let [log] = &ReadLogFrame::entries(&frames)[..] else {
            panic!("one run");
        };
        assert_eq!(shared(&log.0), 3);
    }

    #[test]
    fn a_single_entry_goes_as_entry() {
        let one = entry(7, 10);
        let frames = SubscribeFrame::entries(&[frame(&one)]);
        let decoded =
            proto::SubscribeResponse::decode(&frames[0].encode_to_vec()[..]).expect("decodes");
        assert_eq!(
            decoded.message,
            Some(proto::subscribe_response::Message::Entry(one))
        );
        assert!(SubscribeFrame::entries(&[]).is_empty());
    }
}
