//! Splitting streamed entries into messages of bounded size.
//!
//! gRPC clients refuse messages above a limit (4 MiB by default in most languages), and one
//! entry may be tens of kilobytes, so a chunk of entries is cut by encoded size, not by count.

use prost::Message;

use crate::proto;

/// Target size of one streamed message. A single larger entry still goes alone.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Splits `entries` (in order) into runs whose encoded size stays under [`MAX_MESSAGE_BYTES`].
pub fn by_size(entries: Vec<proto::Entry>) -> Vec<Vec<proto::Entry>> {
    let mut runs = Vec::new();
    let mut run = Vec::new();
    let mut run_bytes = 0;
    for entry in entries {
        // Field tag and length prefix of a repeated message field: at most 1 + 10 bytes.
        let size = entry.encoded_len() + 11;
        if !run.is_empty() && run_bytes + size > MAX_MESSAGE_BYTES {
            runs.push(std::mem::take(&mut run));
            run_bytes = 0;
        }
        run_bytes += size;
        run.push(entry);
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(summary_bytes: usize) -> proto::Entry {
        proto::Entry {
            body: Some(proto::entry::Body::Event(proto::Event {
                summary: "x".repeat(summary_bytes),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[test]
    fn runs_stay_under_the_limit_and_keep_order() {
        let entries: Vec<_> = (0..100).map(|i| entry(30_000 + i)).collect();
        let runs = by_size(entries.clone());
        assert!(runs.len() >= 3);
        for run in &runs {
            let bytes: usize = run.iter().map(|e| e.encoded_len() + 11).sum();
            assert!(bytes <= MAX_MESSAGE_BYTES);
        }
        assert_eq!(runs.concat(), entries);
    }

    #[test]
    fn an_oversized_entry_goes_alone() {
        let runs = by_size(vec![entry(10), entry(2 * MAX_MESSAGE_BYTES), entry(10)]);
        assert_eq!(runs.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 1, 1]);
        assert!(by_size(Vec::new()).is_empty());
    }
}
