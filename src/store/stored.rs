//! Entries as the log stores them, for the readers that send them on: the streaming RPCs splice
//! a record's bytes into their responses instead of decoding and re-encoding every entry for
//! every subscriber.

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use bytes::Bytes;

use crate::domain::{Entry, EntryKind, Position};

use super::error::StoreError;
use super::record::RecordView;

/// An entry as stored: the record's bytes, decoded only when asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    position: Position,
    record: Bytes,
}

/// What a response is built from without decoding the body.
#[derive(Debug, Clone)]
pub struct WireParts {
    /// The kind of body.
    pub kind: EntryKind,
    /// When the entry was recorded.
    pub recorded_at: SystemTime,
    /// The body as a valid encoding of the public `eventlog.v1` message of its kind, when the
    /// record's format keeps one (format 2 does; format 1 records are JSON and must be decoded).
    /// A slice of the record, not a copy.
    pub body: Option<Bytes>,
}

impl StoredEntry {
    /// Wraps a record read from the log at `position`.
    pub fn new(position: Position, record: Bytes) -> StoredEntry {
        StoredEntry { position, record }
    }

    /// Its position.
    pub fn position(&self) -> Position {
        self.position
    }

    /// The record's size in bytes.
    pub fn len(&self) -> usize {
        self.record.len()
    }

    /// True for an empty record (never stored; for clippy's sake).
    pub fn is_empty(&self) -> bool {
        self.record.is_empty()
    }

    /// The entry, decoded (checksum verified).
    pub fn decode(&self) -> Result<Entry, StoreError> {
        let view = RecordView::parse(self.position, &self.record)?;
        Ok(Entry {
            position: self.position,
            recorded_at: view.recorded_at(),
            body: view.decode_body()?,
        })
    }

    /// The parts a response splices together (checksum verified).
    pub fn wire(&self) -> Result<WireParts, StoreError> {
        let view = RecordView::parse(self.position, &self.record)?;
        let body = view.wire_body().map(|body| self.share(body));
        Ok(WireParts {
            kind: view.kind(),
            recorded_at: view.recorded_at(),
            body,
        })
    }

    /// `part` as a slice of the record when it lies inside it (no copy), else a copy.
    fn share(&self, part: &[u8]) -> Bytes {
        let start = (part.as_ptr() as usize).checked_sub(self.record.as_ptr() as usize);
        match start {
            Some(start) if start + part.len() <= self.record.len() => {
                self.record.slice(start..start + part.len())
            }
            _ => Bytes::copy_from_slice(part),
        }
    }
}

/// The entries of one group commit, as the live feed carries them to every follower: decoded
/// (the writer has them; filters test them), as stored, and framed for the wire once, by the
/// first follower that needs it, for all.
#[derive(Debug)]
pub struct CommittedGroup {
    /// The entries, in position order.
    pub entries: Vec<Entry>,
    /// The same entries as stored.
    pub stored: Vec<StoredEntry>,
    /// Whatever the serving layer makes of each entry for the wire, made once. Opaque here:
    /// the store knows nothing of gRPC.
    frames: OnceLock<Result<Vec<Bytes>, String>>,
}

impl CommittedGroup {
    /// A group of entries and their records, in the same order.
    pub fn new(entries: Vec<Entry>, stored: Vec<StoredEntry>) -> Arc<CommittedGroup> {
        Arc::new(CommittedGroup {
            entries,
            stored,
            frames: OnceLock::new(),
        })
    }

    /// The first position in the group.
    pub fn first(&self) -> Option<Position> {
        self.entries.first().map(|e| e.position)
    }

    /// Each entry framed by `frame`, computed on the first call and shared by every later one
    /// (whatever `frame` they pass: there is one framing per server).
    pub fn frames(
        &self,
        frame: impl Fn(&StoredEntry, &Entry) -> Result<Bytes, StoreError>,
    ) -> Result<&[Bytes], StoreError> {
        let made = self.frames.get_or_init(|| {
            self.stored
                .iter()
                .zip(&self.entries)
                .map(|(stored, entry)| frame(stored, entry).map_err(|e| e.to_string()))
                .collect()
        });
        match made {
            Ok(frames) => Ok(frames),
            Err(reason) => Err(StoreError::Encode(reason.clone())),
        }
    }
}
