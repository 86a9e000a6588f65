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

/// An encoded `eventlog.v1.Entry` of a verified record: its body spliced from the record
/// (format 2), or, for a record that keeps none (format 1), encoded from the entry decoded.
pub fn entry_frame(view: &RecordView<'_>, decoded: Option<&Entry>) -> Result<Bytes, StoreError> {
    let Some(body) = view.wire_body() else {
        let entry = match decoded {
            Some(entry) => entry.clone(),
            None => entry_of(view)?,
        };
        return Ok(to_proto::entry(entry).encode_to_vec().into());
    };
    let field = match view.kind() {
        EntryKind::Actor => 3,
        EntryKind::Event => 4,
        EntryKind::Claim => 5,
    };
    let time = proto::timestamp(view.recorded_at()).encode_to_vec();
    let mut frame = BytesMut::with_capacity(body.len() + time.len() + 24);
    put_key(&mut frame, 1, VARINT);
    put_varint(&mut frame, view.position().0);
    put_len_delimited(&mut frame, 2, &time);
    put_len_delimited(&mut frame, field, body);
    Ok(frame.freeze())
}

/// A `SubscribeResponse`, already encoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubscribeFrame(Bytes);

/// A `ReadLogResponse`, already encoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadLogFrame(Bytes);

impl SubscribeFrame {
    /// The messages that carry `entries` (encoded `Entry` frames, in order): `entry` for a run
    /// of one, `entries` for longer runs, each under [`MAX_MESSAGE_BYTES`].
    pub fn entries(entries: &[Bytes]) -> Vec<SubscribeFrame> {
        runs(entries)
            .map(|run| match run {
                [one] => SubscribeFrame(len_delimited(1, one)),
                many => SubscribeFrame(len_delimited(2, &repeated(1, many))),
            })
            .collect()
    }

    /// Any other message of the stream, encoded as prost encodes it.
    pub fn message(message: &proto::SubscribeResponse) -> SubscribeFrame {
        SubscribeFrame(message.encode_to_vec().into())
    }
}

impl ReadLogFrame {
    /// The messages that carry `entries`, each under [`MAX_MESSAGE_BYTES`].
    pub fn entries(entries: &[Bytes]) -> Vec<ReadLogFrame> {
        runs(entries)
            .map(|run| ReadLogFrame(repeated(1, run).freeze()))
            .collect()
    }
}

/// Frames are written out as they are; the server never decodes them.
macro_rules! frame_message {
    ($frame:ty) => {
        impl Message for $frame {
            fn encode_raw(&self, buf: &mut impl BufMut) {
                buf.put_slice(&self.0);
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
                self.0.len()
            }

            fn clear(&mut self) {
                self.0 = Bytes::new();
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
        let mut bytes = 0;
        let mut end = 0;
        for entry in rest {
            // Field key and length prefix of a repeated message field: at most 1 + 10 bytes.
            let size = entry.len() + 11;
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

fn repeated(field: u32, items: &[Bytes]) -> BytesMut {
    let mut out = BytesMut::with_capacity(items.iter().map(|i| i.len() + 6).sum());
    for item in items {
        put_len_delimited(&mut out, field, item);
    }
    out
}

fn len_delimited(field: u32, value: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(value.len() + 11);
    put_len_delimited(&mut out, field, value);
    out.freeze()
}

fn put_len_delimited(out: &mut BytesMut, field: u32, value: &[u8]) {
    put_key(out, field, LEN);
    put_varint(out, value.len() as u64);
    out.put_slice(value);
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

    #[test]
    fn entry_runs_decode_as_the_generated_messages() {
        let messages: Vec<proto::Entry> = (1..=40).map(|p| entry(p, 60_000)).collect();
        let frames: Vec<Bytes> = messages.iter().map(|m| m.encode_to_vec().into()).collect();
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
    fn a_single_entry_goes_as_entry() {
        let one = entry(7, 10);
        let frames = SubscribeFrame::entries(&[one.encode_to_vec().into()]);
        let decoded =
            proto::SubscribeResponse::decode(&frames[0].encode_to_vec()[..]).expect("decodes");
        assert_eq!(
            decoded.message,
            Some(proto::subscribe_response::Message::Entry(one))
        );
        assert!(SubscribeFrame::entries(&[]).is_empty());
    }
}
