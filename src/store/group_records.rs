//! The values the store writes for consumer groups, each with a codec byte in front so the
//! domain's types can change without changing what stored state means.
//!
//! - configuration: codec 1, then JSON of [`StoredConfig`] (the store's own shape: durations
//!   in milliseconds, dispatch by name); written rarely, read at start;
//! - progress: codec 1, cursor (u64 BE), count (u32 BE), then per outstanding entry its
//!   position (u64 BE) and attempts (u32 BE); written on every batch of acks, so binary and
//!   bounded by `max_ack_pending`;
//! - parked: codec 1, attempts (u32 BE), parked at (ms since the epoch, u64 BE);
//! - replay: codec 1, nothing else.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::domain::group::{Dispatch, GroupConfig, GroupSettings, Progress};
use crate::domain::{EntryFilter, Position};
use crate::store::error::StoreError;

const CODEC_V1: u8 = 1;

/// A parked entry as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParkedRecord {
    /// Its position.
    pub position: Position,
    /// Deliveries it had.
    pub attempts: u32,
    /// When it was parked (to the millisecond).
    pub parked_at: SystemTime,
}

/// The configuration's stored shape.
#[derive(Debug, Serialize, Deserialize)]
struct StoredConfig {
    filter: EntryFilter,
    start: u64,
    dispatch: String,
    ack_wait_ms: u64,
    max_deliver: u32,
    backoff_ms: Vec<u64>,
    max_ack_pending: u32,
    created_at_ms: u64,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn epoch_millis(at: SystemTime) -> u64 {
    millis(at.duration_since(UNIX_EPOCH).unwrap_or_default())
}

fn corrupt(what: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        key: what.to_string(),
        reason: reason.into(),
    }
}

/// Encodes a group's configuration.
pub fn encode_config(config: &GroupConfig) -> Result<Vec<u8>, StoreError> {
    let s = &config.settings;
    let stored = StoredConfig {
        filter: config.filter.clone(),
        start: config.start.0,
        dispatch: match s.dispatch {
            Dispatch::RoundRobin => "round_robin",
            Dispatch::PinnedByActor => "pinned_by_actor",
        }
        .to_string(),
        ack_wait_ms: millis(s.ack_wait),
        max_deliver: s.max_deliver,
        backoff_ms: s.backoff.iter().copied().map(millis).collect(),
        max_ack_pending: s.max_ack_pending,
        created_at_ms: epoch_millis(config.created_at),
    };
    let mut bytes = vec![CODEC_V1];
    serde_json::to_writer(&mut bytes, &stored).map_err(|e| StoreError::Encode(e.to_string()))?;
    Ok(bytes)
}

/// Decodes a group's configuration; `what` names it in errors.
pub fn decode_config(what: &str, bytes: &[u8]) -> Result<GroupConfig, StoreError> {
    let json = match bytes {
        [CODEC_V1, rest @ ..] => rest,
        _ => return Err(corrupt(what, "unknown codec of a group configuration")),
    };
    let stored: StoredConfig =
        serde_json::from_slice(json).map_err(|e| corrupt(what, e.to_string()))?;
    let dispatch = match stored.dispatch.as_str() {
        "round_robin" => Dispatch::RoundRobin,
        "pinned_by_actor" => Dispatch::PinnedByActor,
        other => return Err(corrupt(what, format!("unknown dispatch {other:?}"))),
    };
    Ok(GroupConfig {
        filter: stored.filter,
        start: Position(stored.start),
        settings: GroupSettings {
            dispatch,
            ack_wait: Duration::from_millis(stored.ack_wait_ms),
            max_deliver: stored.max_deliver,
            backoff: stored
                .backoff_ms
                .into_iter()
                .map(Duration::from_millis)
                .collect(),
            max_ack_pending: stored.max_ack_pending,
        },
        created_at: UNIX_EPOCH + Duration::from_millis(stored.created_at_ms),
    })
}

/// Encodes a group's progress.
pub fn encode_progress(progress: &Progress) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(13 + 12 * progress.outstanding.len());
    bytes.push(CODEC_V1);
    bytes.extend_from_slice(&progress.cursor.0.to_be_bytes());
    let count = u32::try_from(progress.outstanding.len()).unwrap_or(u32::MAX);
    bytes.extend_from_slice(&count.to_be_bytes());
    for (position, attempts) in progress.outstanding.iter().take(count as usize) {
        bytes.extend_from_slice(&position.0.to_be_bytes());
        bytes.extend_from_slice(&attempts.to_be_bytes());
    }
    bytes
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// Decodes a group's progress.
pub fn decode_progress(what: &str, bytes: &[u8]) -> Result<Progress, StoreError> {
    let bad = || corrupt(what, "truncated or unknown group progress");
    if bytes.first() != Some(&CODEC_V1) {
        return Err(bad());
    }
    let cursor = u64_at(bytes, 1).ok_or_else(bad)?;
    let count = u32_at(bytes, 9).ok_or_else(bad)? as usize;
    if bytes.len() != 13 + 12 * count {
        return Err(bad());
    }
    let outstanding = (0..count)
        .map(|i| {
            let at = 13 + 12 * i;
            Some((Position(u64_at(bytes, at)?), u32_at(bytes, at + 8)?))
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    Ok(Progress {
        cursor: Position(cursor),
        outstanding,
    })
}

/// Encodes a parked entry's value (its position is in the key).
pub fn encode_parked(record: &ParkedRecord) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(13);
    bytes.push(CODEC_V1);
    bytes.extend_from_slice(&record.attempts.to_be_bytes());
    bytes.extend_from_slice(&epoch_millis(record.parked_at).to_be_bytes());
    bytes
}

/// Decodes a parked entry at `position`.
pub fn decode_parked(
    what: &str,
    position: Position,
    bytes: &[u8],
) -> Result<ParkedRecord, StoreError> {
    let bad = || corrupt(what, "truncated or unknown parked entry");
    if bytes.first() != Some(&CODEC_V1) || bytes.len() != 13 {
        return Err(bad());
    }
    Ok(ParkedRecord {
        position,
        attempts: u32_at(bytes, 1).ok_or_else(bad)?,
        parked_at: UNIX_EPOCH + Duration::from_millis(u64_at(bytes, 5).ok_or_else(bad)?),
    })
}

/// The value of a replayed entry's key.
pub fn encode_replay() -> Vec<u8> {
    vec![CODEC_V1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_round_trips_and_its_golden_bytes_still_decode() {
        let config = GroupConfig {
            filter: EntryFilter::default(),
            start: Position(7),
            settings: GroupSettings {
                dispatch: Dispatch::PinnedByActor,
                ack_wait: Duration::from_millis(300),
                max_deliver: 4,
                backoff: vec![Duration::from_millis(10), Duration::from_secs(2)],
                max_ack_pending: 50,
            },
            created_at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        };
        let bytes = encode_config(&config).expect("encode");
        assert_eq!(decode_config("g", &bytes).expect("decode"), config);
        let golden = b"\x01{\"filter\":{\"kinds\":[],\"actors\":[],\"relations\":[]},\"start\":1,\
            \"dispatch\":\"round_robin\",\"ack_wait_ms\":30000,\"max_deliver\":5,\
            \"backoff_ms\":[],\"max_ack_pending\":1000,\"created_at_ms\":0}";
        let old = decode_config("g", golden).expect("golden");
        assert_eq!(old.settings, GroupSettings::default());
        assert!(decode_config("g", b"\x02{}").is_err());
    }

    #[test]
    fn progress_round_trips_and_refuses_truncation() {
        let progress = Progress {
            cursor: Position(1_000),
            outstanding: vec![(Position(3), 1), (Position(999), 5)],
        };
        let bytes = encode_progress(&progress);
        assert_eq!(decode_progress("g", &bytes).expect("decode"), progress);
        assert_eq!(
            &bytes[..13],
            &[1, 0, 0, 0, 0, 0, 0, 3, 232, 0, 0, 0, 2],
            "codec, cursor, count"
        );
        assert!(decode_progress("g", &bytes[..bytes.len() - 1]).is_err());
        assert!(decode_progress("g", &[]).is_err());
    }

    #[test]
    fn a_parked_entry_round_trips() {
        let record = ParkedRecord {
            position: Position(9),
            attempts: 3,
            parked_at: UNIX_EPOCH + Duration::from_millis(42),
        };
        let bytes = encode_parked(&record);
        assert_eq!(
            decode_parked("g", Position(9), &bytes).expect("decode"),
            record
        );
        assert!(decode_parked("g", Position(9), &bytes[..5]).is_err());
    }
}
