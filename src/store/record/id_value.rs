//! The value of an id-index entry: where the entry with that id is, and its kind. Kept beside
//! the record format because both spell a kind with the same byte.

use crate::domain::{EntryKind, Position};

use super::header::{kind_byte, kind_of_byte};

/// Encodes an id-index value: position (u64 BE) and kind byte.
pub fn encode_id_value(position: Position, kind: EntryKind) -> [u8; 9] {
    let mut value = [0_u8; 9];
    value[..8].copy_from_slice(&position.0.to_be_bytes());
    value[8] = kind_byte(kind);
    value
}

/// Decodes an id-index value; `None` if it is not one.
pub fn decode_id_value(value: &[u8]) -> Option<(Position, EntryKind)> {
    let position = Position(u64::from_be_bytes(value.get(..8)?.try_into().ok()?));
    let kind = kind_of_byte(*value.get(8)?)?;
    (value.len() == 9).then_some((position, kind))
}
