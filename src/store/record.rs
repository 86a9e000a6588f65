//! Temporary shim over `codec` until the record format v2 lands (replaced by `record/`).

use std::time::SystemTime;

use crate::domain::{EntryBody, Position};

use super::error::StoreError;

pub use super::codec::{encode_record, set_recorded_at};

/// Decodes a record, naming its position when it is corrupt.
pub fn decode_record(
    position: Position,
    bytes: &[u8],
) -> Result<(SystemTime, EntryBody), StoreError> {
    super::codec::decode_record(bytes).map_err(|reason| StoreError::Corrupt {
        key: format!("log position {}", position.0),
        reason,
    })
}

/// A stored record, checked and ready to be read.
pub struct RecordView {
    recorded_at: SystemTime,
    body: EntryBody,
}

impl RecordView {
    /// Checks a stored record.
    pub fn parse(position: Position, bytes: &[u8]) -> Result<RecordView, StoreError> {
        let (recorded_at, body) = decode_record(position, bytes)?;
        Ok(RecordView { recorded_at, body })
    }

    /// The kind of entry.
    pub fn kind(&self) -> crate::domain::EntryKind {
        self.body.kind()
    }

    /// When it was recorded.
    pub fn recorded_at(&self) -> SystemTime {
        self.recorded_at
    }

    /// The body.
    pub fn decode_body(&self) -> Result<EntryBody, StoreError> {
        Ok(self.body.clone())
    }
}

impl RecordView {
    /// The body's public wire encoding: format 1 records have none.
    pub fn wire_body(&self) -> Option<&[u8]> {
        None
    }
}
