//! The stream's message: one `Append`'s batch (`proto/eventlog/cluster/v1/batch.proto`) and the
//! headers that say who published it.

use prost::Message;

mod schema {
    #![allow(missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/eventlog.cluster.v1.rs"));
}

use crate::domain::Position;

/// Header naming the node that published a batch: only that node has a waiter for it.
pub const ORIGIN_HEADER: &str = "Eventlog-Origin";

/// A batch as it travels through the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The entries, each as the store's sealed record.
    pub records: Vec<Vec<u8>>,
    /// The request's `expected_head`.
    pub expected_head: Option<Position>,
}

impl Batch {
    /// The message's payload.
    pub fn encode(&self) -> Vec<u8> {
        schema::Batch {
            records: self.records.clone(),
            expected_head: self.expected_head.map(|p| p.0),
        }
        .encode_to_vec()
    }

    /// Reads a payload; `None` if it is not a batch this release can read.
    pub fn decode(payload: &[u8]) -> Option<Batch> {
        let batch = schema::Batch::decode(payload).ok()?;
        if batch.records.is_empty() {
            return None;
        }
        Some(Batch {
            records: batch.records,
            expected_head: batch.expected_head.map(Position),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_round_trips() {
        let batch = Batch {
            records: vec![vec![2, 1, 2, 3], vec![2, 9]],
            expected_head: Some(Position(41)),
        };
        assert_eq!(Batch::decode(&batch.encode()), Some(batch));
        let open = Batch {
            records: vec![vec![2]],
            expected_head: None,
        };
        assert_eq!(Batch::decode(&open.encode()), Some(open));
    }

    #[test]
    fn what_is_not_a_batch_is_not_read_as_one() {
        assert_eq!(Batch::decode(b"\xff\xff\xff"), None);
        assert_eq!(Batch::decode(&[]), None, "an empty batch carries nothing");
    }
}
