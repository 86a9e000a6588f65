//! Format 1, the records of the first releases: format byte, recording time (µs since the
//! epoch, i64 BE), then the body as JSON of the domain's serde shape. Read only, in place:
//! nothing writes format 1 any more, but every data directory written before format 2 is made
//! of it. It has no checksum, so damage that still parses as JSON cannot be detected.

use std::time::SystemTime;

use crate::domain::EntryBody;

use super::header::split_json;

/// The recording time and body of a format-1 record.
pub(super) fn decode(record: &[u8]) -> Result<(SystemTime, EntryBody), String> {
    let (recorded_at, json) = split_json(record)?;
    let body = serde_json::from_slice(json).map_err(|e| format!("bad JSON body: {e}"))?;
    Ok((recorded_at, body))
}
