//! Entries as the log stores them, for the readers that send them on: the streaming RPCs splice
//! a record's bytes into their responses instead of decoding and re-encoding every entry for
//! every subscriber.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::domain::{Entry, Position};

use super::error::StoreError;
use super::record::RecordView;

/// An entry as stored: the record's bytes, decoded only when asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    position: Position,
    record: Bytes,
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

    /// The record as stored, unverified: for copies that carry it elsewhere whole (a backup),
    /// where it is verified when read back.
    pub fn record(&self) -> &Bytes {
        &self.record
    }

    /// The record, checksum verified: its kind, time and public wire bytes without decoding
    /// the body, and the body decoded on demand. One verification per use: a reader that both
    /// filters and sends an entry takes one view for both.
    pub fn view(&self) -> Result<RecordView<'_>, StoreError> {
        RecordView::parse(self.position, &self.record)
    }
}

/// The entry a verified record holds.
pub fn entry_of(view: &RecordView<'_>) -> Result<Entry, StoreError> {
    Ok(Entry {
        position: view.position(),
        recorded_at: view.recorded_at(),
        body: view.decode_body()?,
    })
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
        frame: impl Fn(&RecordView<'_>, &Entry) -> Result<Bytes, StoreError>,
    ) -> Result<&[Bytes], StoreError> {
        let made = self.frames.get_or_init(|| {
            self.stored
                .iter()
                .zip(&self.entries)
                .map(|(stored, entry)| frame(&stored.view()?, entry))
                .collect::<Result<Vec<_>, StoreError>>()
                .map_err(|e| e.to_string())
        });
        match made {
            Ok(frames) => Ok(frames),
            Err(reason) => Err(StoreError::Encode(reason.clone())),
        }
    }
}
