//! Blocks: consecutive records stored as one value, so that the log costs one sled key per
//! [`BLOCK_BYTES`] of a group commit (about four events of 500 bytes) instead of one per entry.
//!
//! Why: sled's cost is per key (about 8 µs each on this machine), not per byte. Measured with
//! `cargo bench --bench append`, the same 100 records and one flush cost 0.83 ms as 100 keys
//! and 0.42 ms as one; a catch-up reads a block's records with one lookup.
//!
//! | bytes | what |
//! |-------|------|
//! | 0     | block format, `1` |
//! | 1..5  | number of records, u32 LE |
//! | then, per record | its length, u32 LE, and the record as `record` encodes it (format 1 or 2) |
//!
//! A block is keyed by the position of its first record (see `keys::block_key`); the records
//! follow at consecutive positions. A block holds the records of one commit up to
//! [`BLOCK_BYTES`] (a record larger than that is a block of its own), so a point read copies
//! at most that much. Each record keeps its own checksum, which reads verify; the framing is
//! checked as it is walked (lengths inside the value, the count matching), so damage to it is an
//! error naming the block's first position, never a record cut in the wrong place.

use std::ops::Range;

use crate::domain::Position;
use crate::store::StoreError;

/// The block format this release writes.
const BLOCK_FORMAT: u8 = 1;
/// Format byte and record count.
const HEADER: usize = 5;
/// Bytes of records a block holds at most, unless one record alone is larger.
///
/// Why so small: sled keeps up to 17 keys in a leaf, and the bytes of a leaf decide two costs.
/// - sled writes a page larger than a quarter of its 512 KiB segment to a file of its own (a
///   "blob"), which its cache then counts as the ~20 bytes of the pointer to it, not as the page
///   it holds in memory. With 64 KiB blocks nearly every leaf became such a page: the server's
///   RSS after loading 1M events rose from 412 to 792 MiB with a 256 MiB cache, and would have
///   grown with the log, and rewriting those pages was 43 % of the writer thread's time.
/// - sled's cache hears of the leaves a read pages in only in batches (64 accesses for each of
///   its 256 shards), so reads all over a log larger than the cache hold up to thousands of
///   leaves beyond it, whatever its size (see `SledLog::block_at`). In the scale run at 1M
///   events, 50,000 reads at random positions peaked at 521 MiB with 6 KiB blocks and 457 MiB
///   with 2 KiB; raw sled with a 64 MiB cache, the same 1.4 GB of values read at random: 466
///   MiB peak as 6 KB values, 217 MiB as 2 KB.
///
/// Fewer bytes per block mean more keys per event, and sled's cost is per key; but at 2 KiB a
/// batch of 100 events of 500 bytes is 25 keys instead of 100, and in the same runs 2 KiB blocks
/// appended as fast as 6 KiB ones (append bench: 30.8k and 30.6k events/s batched; raw sled
/// writing those blocks: 160k/s either way), at 1.43 KB of disk per event instead of 1.38.
pub const BLOCK_BYTES: usize = 2 * 1024;

/// Splits consecutive records into the blocks they are written as: each range of indexes into
/// `lengths` is one block, in order.
pub fn split(lengths: impl IntoIterator<Item = usize>) -> Vec<Range<usize>> {
    let mut blocks = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    let mut end = 0;
    for (index, length) in lengths.into_iter().enumerate() {
        if index > start && bytes + length > BLOCK_BYTES {
            blocks.push(start..index);
            start = index;
            bytes = 0;
        }
        bytes += length;
        end = index + 1;
    }
    if end > start {
        blocks.push(start..end);
    }
    blocks
}

/// Encodes records as one block.
pub fn encode<'a>(records: impl IntoIterator<Item = &'a [u8]> + Clone) -> Vec<u8> {
    let (count, bytes) = records
        .clone()
        .into_iter()
        .fold((0_u32, 0_usize), |(n, b), r| (n + 1, b + 4 + r.len()));
    let mut block = Vec::with_capacity(HEADER + bytes);
    block.push(BLOCK_FORMAT);
    block.extend_from_slice(&count.to_le_bytes());
    for record in records {
        block.extend_from_slice(&(record.len() as u32).to_le_bytes());
        block.extend_from_slice(record);
    }
    block
}

/// The byte ranges of a block's records within it, in order. `first` is the block's first
/// position, named by the error if the framing is damaged.
pub fn record_ranges(first: Position, block: &[u8]) -> Result<Vec<Range<usize>>, StoreError> {
    let damaged = |reason: &str| StoreError::Corrupt {
        key: format!("the block of records from log position {first}"),
        reason: reason.to_string(),
    };
    let Some((&format, rest)) = block.split_first() else {
        return Err(damaged("it is empty"));
    };
    if format != BLOCK_FORMAT {
        return Err(damaged(&format!(
            "its format is {format}, which this release cannot read"
        )));
    }
    let count = rest
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| damaged("its header is cut short"))?;
    let mut ranges = Vec::with_capacity(count.min(4096) as usize);
    let mut at = HEADER;
    while at < block.len() {
        let length = block
            .get(at..at + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|b| u32::from_le_bytes(b) as usize)
            .ok_or_else(|| damaged("a record's length is cut short"))?;
        let start = at + 4;
        let end = start
            .checked_add(length)
            .filter(|end| *end <= block.len())
            .ok_or_else(|| damaged("a record's length runs past the block's end"))?;
        ranges.push(start..end);
        at = end;
    }
    if ranges.len() != count as usize {
        return Err(damaged(&format!(
            "it says it holds {count} records but holds {}",
            ranges.len()
        )));
    }
    if ranges.is_empty() {
        return Err(damaged("it holds no record"));
    }
    Ok(ranges)
}

/// The number of records in a block (its framing checked).
pub fn record_count(first: Position, block: &[u8]) -> Result<u64, StoreError> {
    Ok(record_ranges(first, block)?.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_a_block() {
        let records: Vec<Vec<u8>> = vec![b"one".to_vec(), Vec::new(), vec![7; 300]];
        let block = encode(records.iter().map(Vec::as_slice));
        let ranges = record_ranges(Position(5), &block).expect("decodes");
        let decoded: Vec<&[u8]> = ranges.into_iter().map(|r| &block[r]).collect();
        assert_eq!(
            decoded,
            records.iter().map(Vec::as_slice).collect::<Vec<_>>()
        );
        assert_eq!(record_count(Position(5), &block).expect("count"), 3);
    }

    #[test]
    fn a_commit_splits_into_blocks_of_at_most_the_block_size_unless_one_record_is_larger() {
        assert_eq!(split([100; 3]), vec![0..3]);
        assert!(split(std::iter::empty()).is_empty());
        let quarter = BLOCK_BYTES / 4;
        assert_eq!(split([quarter; 9]), vec![0..4, 4..8, 8..9]);
        assert_eq!(
            split([10, BLOCK_BYTES * 2, 10]),
            vec![0..1, 1..2, 2..3],
            "a large record is a block of its own"
        );
    }

    #[test]
    fn damaged_framing_is_an_error_naming_the_first_position() {
        let block = encode([&b"abc"[..], &b"defg"[..]]);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (Vec::new(), "empty"),
            (
                {
                    let mut b = block.clone();
                    b[0] = 9;
                    b
                },
                "format is 9",
            ),
            (
                {
                    let mut b = block.clone();
                    b[1] = 3;
                    b
                },
                "says it holds 3 records but holds 2",
            ),
            (
                {
                    let mut b = block.clone();
                    b[5] = 200;
                    b
                },
                "runs past the block's end",
            ),
            (
                block[..block.len() - 1].to_vec(),
                "runs past the block's end",
            ),
            (block[..3].to_vec(), "header is cut short"),
            (
                {
                    let mut b = block.clone();
                    b.extend_from_slice(&[1, 0]);
                    b
                },
                "length is cut short",
            ),
            (encode(std::iter::empty::<&[u8]>()), "holds no record"),
        ];
        for (damaged, expected) in cases {
            let error = record_ranges(Position(41), &damaged).expect_err(expected);
            let message = error.to_string();
            assert!(message.contains("from log position 41"), "{message}");
            assert!(message.contains(expected), "{expected}: {message}");
        }
    }
}
