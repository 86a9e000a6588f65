//! How an entry is laid out as bytes on disk.
//!
//! A record is a format byte, the recording time (microseconds since the Unix epoch, i64 BE)
//! and the body as JSON. JSON because the log must outlive its code: fields added later
//! deserialize from old records with their defaults, and an operator can read a record with
//! any tool. The format byte lets a later release change the layout without guessing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::domain::EntryBody;

use super::error::StoreError;

const FORMAT_JSON_V1: u8 = 1;
const HEADER_LEN: usize = 9;

/// Encodes an entry body as a record whose recording time is still unset: the time is only
/// known at commit, while encoding is better done before, off the writer thread.
pub fn encode_record(body: &EntryBody) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::with_capacity(768);
    bytes.push(FORMAT_JSON_V1);
    bytes.extend_from_slice(&[0; 8]);
    serde_json::to_writer(&mut bytes, body).map_err(|e| StoreError::Encode(e.to_string()))?;
    Ok(bytes)
}

/// Sets the recording time of a record made by [`encode_record`].
pub fn set_recorded_at(record: &mut [u8], recorded_at: SystemTime) {
    let micros = match recorded_at.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    };
    if let Some(header) = record.get_mut(1..HEADER_LEN) {
        header.copy_from_slice(&micros.to_be_bytes());
    }
}

/// Decodes a record written by [`encode_record`].
pub fn decode_record(bytes: &[u8]) -> Result<(SystemTime, EntryBody), String> {
    if bytes.len() < HEADER_LEN {
        return Err(format!(
            "record of {} bytes is shorter than its header",
            bytes.len()
        ));
    }
    if bytes[0] != FORMAT_JSON_V1 {
        return Err(format!(
            "record format {} is unknown to this version of eventlog",
            bytes[0]
        ));
    }
    let mut micros = [0_u8; 8];
    micros.copy_from_slice(&bytes[1..HEADER_LEN]);
    let micros = i64::from_be_bytes(micros);
    let recorded_at = if micros >= 0 {
        UNIX_EPOCH + Duration::from_micros(micros as u64)
    } else {
        UNIX_EPOCH - Duration::from_micros(micros.unsigned_abs())
    };
    let body = serde_json::from_slice(&bytes[HEADER_LEN..]).map_err(|e| e.to_string())?;
    Ok((recorded_at, body))
}
