//! A light `Subscribe` reader: of each entry it decodes only the position and `recorded_at`
//! and skips the body. It is the gRPC counterpart of the raw sled scan, which reads each
//! record's bytes and decodes none, and it lets a hundred fan-out subscribers share one
//! client process without that process, rather than the server, being what is measured. It
//! sends a real `Subscribe` through tonic and reads real frames; `workload::catch_up` measures
//! a client that decodes every entry into Rust structs too.

use std::time::{Duration, Instant};

use bytes::Buf;
use eventlog::proto::{self, subscribe_request::Start};
use prost::encoding::{decode_key, decode_varint, skip_field, DecodeContext};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::Status;

/// An entry as the light reader sees it: where it is and when it was recorded.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    /// Its position.
    pub position: u64,
    /// Its `recorded_at`, in microseconds since the Unix epoch.
    pub recorded_us: i64,
}

/// What one `SubscribeResponse` said, as far as counting and latency need.
#[derive(Debug, Default)]
pub struct Frame {
    /// The entries it carries (`entry` or `entries`).
    pub entries: Vec<Stamp>,
    /// It is the `caught_up` message.
    pub caught_up: bool,
}

/// Encodes requests with prost; decodes responses into [`Frame`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingCodec;

impl Codec for CountingCodec {
    type Encode = proto::SubscribeRequest;
    type Decode = Frame;
    type Encoder = RequestEncoder;
    type Decoder = FrameCounter;

    fn encoder(&mut self) -> RequestEncoder {
        RequestEncoder
    }

    fn decoder(&mut self) -> FrameCounter {
        FrameCounter
    }
}

#[derive(Debug)]
pub struct RequestEncoder;

impl Encoder for RequestEncoder {
    type Item = proto::SubscribeRequest;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        prost::Message::encode(&item, dst).map_err(|e| Status::internal(e.to_string()))
    }
}

#[derive(Debug)]
pub struct FrameCounter;

impl Decoder for FrameCounter {
    type Item = Frame;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Frame>, Status> {
        let mut frame = Frame::default();
        while src.has_remaining() {
            let (tag, wire_type) = decode_key(src).map_err(bad)?;
            match tag {
                1 => frame.entries.push(stamp(&mut delimited(src)?)?),
                2 => {
                    // `Entries`: field 1, repeated.
                    let mut entries = delimited(src)?;
                    while entries.has_remaining() {
                        let (_, _) = decode_key(&mut entries).map_err(bad)?;
                        frame.entries.push(stamp(&mut delimited(&mut entries)?)?);
                    }
                }
                4 => {
                    frame.caught_up = true;
                    skip_field(wire_type, tag, src, DecodeContext::default()).map_err(bad)?;
                }
                _ => skip_field(wire_type, tag, src, DecodeContext::default()).map_err(bad)?,
            }
        }
        Ok(Some(frame))
    }
}

fn bad(error: prost::DecodeError) -> Status {
    Status::internal(error.to_string())
}

/// The next length-delimited field's bytes, taken off `src`.
fn delimited(src: &mut impl Buf) -> Result<bytes::Bytes, Status> {
    let len = decode_varint(src).map_err(bad)? as usize;
    if len > src.remaining() {
        return Err(Status::internal("a field runs past its message"));
    }
    Ok(src.copy_to_bytes(len))
}

/// Position (field 1) and `recorded_at` (field 2: seconds 1, nanos 2) of an encoded `Entry`;
/// the body is skipped.
fn stamp(entry: &mut bytes::Bytes) -> Result<Stamp, Status> {
    let mut stamp = Stamp {
        position: 0,
        recorded_us: 0,
    };
    while entry.has_remaining() {
        let (tag, wire_type) = decode_key(entry).map_err(bad)?;
        match tag {
            1 => stamp.position = decode_varint(entry).map_err(bad)?,
            2 => {
                let mut time = delimited(entry)?;
                let (mut seconds, mut nanos) = (0_i64, 0_i64);
                while time.has_remaining() {
                    let (tag, wire_type) = decode_key(&mut time).map_err(bad)?;
                    match tag {
                        1 => seconds = decode_varint(&mut time).map_err(bad)? as i64,
                        2 => nanos = decode_varint(&mut time).map_err(bad)? as i64,
                        _ => skip_field(wire_type, tag, &mut time, DecodeContext::default())
                            .map_err(bad)?,
                    }
                }
                stamp.recorded_us = seconds * 1_000_000 + nanos / 1_000;
            }
            _ => skip_field(wire_type, tag, entry, DecodeContext::default()).map_err(bad)?,
        }
    }
    Ok(stamp)
}

/// A `Subscribe` call read with [`CountingCodec`].
pub async fn subscribe(
    channel: Channel,
    request: proto::SubscribeRequest,
) -> tonic::Streaming<Frame> {
    let mut grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(64 * 1024 * 1024);
    grpc.ready()
        .await
        .unwrap_or_else(|e| panic!("the channel is not ready: {e}"));
    let path = http::uri::PathAndQuery::from_static("/eventlog.v1.EventLog/Subscribe");
    grpc.server_streaming(tonic::Request::new(request), path, CountingCodec)
        .await
        .unwrap_or_else(|status| panic!("Subscribe refused: {status}"))
        .into_inner()
}

/// Subscribes from position 1 and counts entries until `caught_up`; returns the count and the
/// time from the call to `caught_up`.
pub async fn catch_up_counting(channel: Channel) -> (u64, Duration) {
    let started = Instant::now();
    let request = proto::SubscribeRequest {
        start: Some(Start::FromPosition(1)),
        ..Default::default()
    };
    let mut stream = subscribe(channel, request).await;
    let mut received = 0;
    while let Some(frame) = stream
        .message()
        .await
        .unwrap_or_else(|status| panic!("catch-up stream failed: {status}"))
    {
        received += frame.entries.len() as u64;
        if frame.caught_up {
            break;
        }
    }
    (received, started.elapsed())
}
