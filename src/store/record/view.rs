//! A verified record, read without decoding its body: what streaming needs (kind, time and the
//! public bytes to splice into a response) costs a checksum and a header read.

use std::time::SystemTime;

use prost::Message;

use crate::domain::{Checked, EntryBody, EntryKind, Position};
use crate::store::StoreError;

use super::header::{self, FORMAT_JSON, FORMAT_PROTO};
use super::{json_v1, schema};

/// A record whose checksum has been verified, borrowed from the bytes it was read from.
#[derive(Debug)]
pub struct RecordView<'a> {
    /// Named in every error, so an operator knows which record is damaged.
    position: Position,
    recorded_at: SystemTime,
    kind: EntryKind,
    layout: Layout<'a>,
}

#[derive(Debug)]
enum Layout<'a> {
    /// Format 2: the protobuf body, of which the first `wire_len` bytes are the public message.
    Proto { body: &'a [u8], wire_len: usize },
    /// Format 1: the kind is only known once the JSON is parsed, so the body is decoded up
    /// front. Boxed: views of current records should not pay for its size.
    Json(Box<EntryBody>),
}

impl<'a> RecordView<'a> {
    /// Verifies the record stored at `position` and reads its header. A record that fails its
    /// checksum, is cut short, or has a format this version does not know is
    /// [`StoreError::Corrupt`] naming `position`.
    pub fn parse(position: Position, record: &'a [u8]) -> Result<RecordView<'a>, StoreError> {
        let corrupt = |reason: String| StoreError::corrupt_record(position, reason);
        match record.first() {
            Some(&FORMAT_PROTO) => {
                let (header, body) = header::verify(record).map_err(corrupt)?;
                Ok(RecordView {
                    position,
                    recorded_at: header.recorded_at,
                    kind: header.kind,
                    layout: Layout::Proto {
                        body,
                        wire_len: header.wire_len,
                    },
                })
            }
            Some(&FORMAT_JSON) => {
                let (recorded_at, body) = json_v1::decode(record).map_err(corrupt)?;
                Ok(RecordView {
                    position,
                    recorded_at,
                    kind: body.kind(),
                    layout: Layout::Json(Box::new(body)),
                })
            }
            Some(format) => Err(corrupt(format!(
                "record format {format} is unknown to this version of eventlog"
            ))),
            None => Err(corrupt("the record is empty".into())),
        }
    }

    /// The position the record was read from.
    pub fn position(&self) -> Position {
        self.position
    }

    /// Which kind of entry it is.
    pub fn kind(&self) -> EntryKind {
        self.kind
    }

    /// When it was committed.
    pub fn recorded_at(&self) -> SystemTime {
        self.recorded_at
    }

    /// The body's public part: an encoding of `eventlog.v1.Actor`, `Event` or `Claim` (by
    /// [`RecordView::kind`]), exactly as clients see it, ready to be sent without decoding.
    /// `None` for a format-1 record, whose body must be decoded and re-encoded.
    pub fn wire_body(&self) -> Option<&'a [u8]> {
        match self.layout {
            Layout::Proto { body, wire_len } => body.get(..wire_len),
            Layout::Json(_) => None,
        }
    }

    /// Decodes the body into domain values, without validating again what was validated on
    /// append.
    pub fn decode_body(&self) -> Result<EntryBody, StoreError> {
        match &self.layout {
            Layout::Proto { body, .. } => self.decode_proto(body),
            Layout::Json(body) => Ok(body.as_ref().clone()),
        }
    }

    /// The recording time and the body, consuming the view (no copy of a format-1 body).
    pub(super) fn into_parts(self) -> Result<(SystemTime, EntryBody), StoreError> {
        let body = match self.layout {
            Layout::Proto { body, .. } => self.decode_proto(body)?,
            Layout::Json(body) => *body,
        };
        Ok((self.recorded_at, body))
    }

    fn decode_proto(&self, body: &[u8]) -> Result<EntryBody, StoreError> {
        let decoded = match self.kind {
            EntryKind::Actor => {
                decode_as::<schema::Actor, _>(body, |a| EntryBody::Actor(Checked::from_log(a)))
            }
            EntryKind::Event => {
                decode_as::<schema::Event, _>(body, |e| EntryBody::Event(Checked::from_log(e)))
            }
            EntryKind::Claim => {
                decode_as::<schema::Claim, _>(body, |c| EntryBody::Claim(Checked::from_log(c)))
            }
        };
        decoded.map_err(|reason| StoreError::corrupt_record(self.position, reason))
    }
}

/// Decodes a body as storage message `M` and converts it to the domain value `T`.
fn decode_as<M, T>(body: &[u8], wrap: fn(T) -> EntryBody) -> Result<EntryBody, String>
where
    M: Message + Default,
    T: TryFrom<M, Error = String>,
{
    let stored = M::decode(body).map_err(|e| format!("bad protobuf body: {e}"))?;
    T::try_from(stored).map(wrap)
}
